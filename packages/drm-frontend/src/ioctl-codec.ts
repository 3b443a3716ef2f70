/**
 * Precompiled codecs for the ioctl argument structs: the hot path of every ioctl (copy-in decode,
 * copy-out encode, the arrays of VM_BIND/EXEC) without the generic codec's per-call setup.
 *
 * A struct made only of plain primitives (no bit-fields, unions, nested structs, arrays or flexible tail)
 * — most uAPI structs — gets a compiled field table of `@gspkit/abi` accessors: decoding reads each field
 * at its offset, encoding writes it through the accessor's checked setter, so the type and range checks
 * (and their `AbiError`s) are the generic codec's. Any other struct falls back to `decode`/`encode`, so the result is
 * always exactly what the generic codec gives (a plain object, no snapshot).
 *
 * @module
 */

import { type Accessor, accessor, decode, encode, type Layout, zero } from '@gspkit/abi';

/** A compiled codec of one struct layout. */
export interface StructCodec<T = Record<string, unknown>> {
	/** The layout's size in bytes. */
	readonly size: number;
	/** Whether the fast field table is used (else the generic codec). */
	readonly compiled: boolean;
	/** `decode(layout, bytes, offset, { snapshot: false })`. */
	decode(bytes: Uint8Array, offset?: number): T;
	/** `encode(layout, value, bytes, offset)` (every non-reserved field must be present). */
	encode(value: T, bytes: Uint8Array, offset?: number): void;
	/**
	 * Write only the fields `value` has into `bytes` (which the caller zeroed): the same bytes as
	 * `encode(layout, deepMerge(zero(layout), value), bytes, offset)` (nested records merge too).
	 */
	encodeFields(value: Readonly<Record<string, unknown>>, bytes: Uint8Array, offset?: number): void;
}

interface FlatField {
	readonly name: string;
	readonly reserved: boolean;
	/** Reads and checked writes of the field (`@gspkit/abi`'s precompiled, allocation-free accessor). */
	readonly access: Accessor<unknown>;
}

function flatFields(layout: Layout): FlatField[] | undefined {
	if (layout.kind !== 'struct' || layout.tail !== undefined) return undefined;
	const out: FlatField[] = [];
	for (const f of layout.fields) {
		if (f.bits !== undefined || f.layout.kind !== 'prim') return undefined;
		out.push({ name: f.name, reserved: f.reserved, access: accessor<unknown>(layout, f.name) });
	}
	return out;
}

function dataView(bytes: Uint8Array): DataView {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** `over` laid over `base`, recursively through nested records (undefined keeps the base). */
function deepMerge(base: unknown, over: unknown): unknown {
	if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
	const out: Record<string, unknown> = { ...base };
	for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
	return out;
}

const cache = new WeakMap<Layout, StructCodec>();

/** The (cached) compiled codec of `layout`. */
export function structCodec<T = Record<string, unknown>>(layout: Layout): StructCodec<T> {
	let c = cache.get(layout);
	if (c === undefined) {
		c = compile(layout);
		cache.set(layout, c);
	}
	return c as unknown as StructCodec<T>;
}

function compile(layout: Layout): StructCodec {
	const fields = flatFields(layout);
	const size = layout.size;
	const generic: StructCodec = {
		size,
		compiled: false,
		decode: (bytes, offset = 0) =>
			decode(layout as never, bytes, offset, { snapshot: false }) as Record<string, unknown>,
		encode: (value, bytes, offset = 0) => {
			encode(layout as never, value as never, bytes, offset);
		},
		encodeFields: (value, bytes, offset = 0) => {
			encode(layout as never, deepMerge(zero(layout as never), value) as never, bytes, offset);
		},
	};
	if (fields === undefined) return generic;
	const n = fields.length;
	return {
		size,
		compiled: true,
		decode(bytes, offset = 0) {
			if (offset < 0 || offset + size > bytes.length) return generic.decode(bytes, offset);
			const dv = dataView(bytes);
			const obj: Record<string, unknown> = {};
			for (let i = 0; i < n; i++) {
				const f = fields[i] as FlatField;
				obj[f.name] = f.access.get(dv, offset);
			}
			return obj;
		},
		encode(value, bytes, offset = 0) {
			if (
				offset < 0 ||
				offset + size > bytes.length ||
				typeof value !== 'object' ||
				value === null ||
				Array.isArray(value) ||
				ArrayBuffer.isView(value)
			) {
				generic.encode(value, bytes, offset);
				return;
			}
			const dv = dataView(bytes);
			for (let i = 0; i < n; i++) {
				const f = fields[i] as FlatField;
				const v = value[f.name];
				if (v === undefined) {
					if (f.reserved) continue;
					// Let the generic codec raise its "missing field" error.
					generic.encode(value, bytes, offset);
					return;
				}
				f.access.set(dv, v, offset);
			}
		},
		encodeFields(value, bytes, offset = 0) {
			if (offset < 0 || offset + size > bytes.length) {
				generic.encodeFields(value, bytes, offset);
				return;
			}
			const dv = dataView(bytes);
			for (let i = 0; i < n; i++) {
				const f = fields[i] as FlatField;
				const v = value[f.name];
				if (v === undefined) continue;
				f.access.set(dv, v, offset);
			}
		},
	};
}
