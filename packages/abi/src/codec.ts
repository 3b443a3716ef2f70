/**
 * Encode and decode C layouts straight on a `DataView`/`Uint8Array` at a byte offset (little-endian).
 *
 * Round trips are byte-identical, including padding, reserved fields and bytes a value type cannot
 * express (a `bool` byte of `0x02`, a NaN payload, bytes after a string's NUL):
 * - {@link decode} keeps a private snapshot of the bytes it read (one copy of the layout's bytes, not of
 *   the buffer). When such a value (or any struct/union inside it) is encoded again, the snapshot is
 *   written first, then the declared fields;
 * - {@link encode} never touches padding, and never rewrites a `bool`, float or string field whose current
 *   bytes already decode to the given value;
 * - fields named `reserved*`/`pad*`/`spare*` are ordinary fields: decoded (as numbers or byte arrays) and
 *   written back verbatim, and optional in the input.
 *
 * On error the destination may be partially written; errors carry the field path
 * (`GspSystemInfo.acpiMethodData.dodMethodData.acpiIdList[3]`).
 *
 * @module
 */

import { AbiError } from './errors.ts';
import {
	type ArrayLayout,
	type CStringLayout,
	type Field,
	type FixedLayout,
	type FlexLayout,
	fieldOf,
	type Input,
	isBigPrim,
	isLayout,
	isSignedPrim,
	type Layout,
	type PartialInput,
	type PathStep,
	type PrimLayout,
	type PrimName,
	type StructLayout,
	type UnionLayout,
	type Value,
} from './layout.ts';

// ───────────────────────────── byte sources ─────────────────────────────

/** Anything a layout can be read from or written to. Views are never copied. */
export type ByteSource = DataView | ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** A byte source normalised to a `DataView` and a `Uint8Array` over the same bytes. */
export interface Bytes {
	readonly dv: DataView;
	readonly u8: Uint8Array;
}

/** Wrap a byte source as {@link Bytes} without copying. */
export function toBytes(src: ByteSource): Bytes {
	if (src instanceof DataView) {
		return { dv: src, u8: new Uint8Array(src.buffer, src.byteOffset, src.byteLength) };
	}
	if (ArrayBuffer.isView(src)) {
		const u8 = src instanceof Uint8Array ? src : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
		return { dv: new DataView(src.buffer, src.byteOffset, src.byteLength), u8 };
	}
	if (
		src instanceof ArrayBuffer ||
		(typeof SharedArrayBuffer !== 'undefined' && src instanceof SharedArrayBuffer)
	) {
		return { dv: new DataView(src), u8: new Uint8Array(src) };
	}
	throw new AbiError('ABI_BAD_ARGUMENT', 'expected a DataView, a typed array or an ArrayBuffer', {
		got: Object.prototype.toString.call(src),
	});
}

// ───────────────────────────── errors ─────────────────────────────

/** Human label of a layout for messages: `struct GspFwWprMeta`, `u32[4]`. */
export function layoutLabel(l: Layout): string {
	switch (l.kind) {
		case 'struct':
		case 'union':
			return `${l.kind} ${l.name || '(anonymous)'}`;
		case 'prim':
			return l.prim;
		case 'cstring':
			return `char[${l.length}]`;
		case 'array':
			return `${layoutLabel(l.element)}[${l.length}]`;
		case 'flex':
			return `${layoutLabel(l.element)}[]`;
	}
}

function rootName(l: Layout): string {
	return l.kind === 'struct' || l.kind === 'union' ? l.name || `(anonymous ${l.kind})` : layoutLabel(l);
}

/** @internal Build the `ABI_SHORT_BUFFER` error. */
export function shortBuffer(l: Layout, needed: number, available: number, offset: number): AbiError {
	const avail = Math.max(0, available);
	return new AbiError(
		'ABI_SHORT_BUFFER',
		`${layoutLabel(l)} needs ${needed} bytes at offset ${offset}, but only ${avail} are available`,
		{ type: rootName(l), needed, available: avail, offset },
	);
}

function describe(v: unknown): string {
	if (typeof v === 'bigint') return `${v}n`;
	if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
	if (v === null || v === undefined || typeof v !== 'object') return String(v);
	if (Array.isArray(v)) return `array(${v.length})`;
	return Object.prototype.toString.call(v).slice(8, -1);
}

const PRIM_RANGE: Readonly<Record<PrimName, string>> = {
	u8: '0..255',
	u16: '0..65535',
	u32: '0..4294967295',
	u64: '0..2^64-1',
	i8: '-128..127',
	i16: '-32768..32767',
	i32: '-2147483648..2147483647',
	i64: '-2^63..2^63-1',
	bool: 'true/false',
	f32: 'float',
	f64: 'double',
};

const PRIM_TS: Readonly<Record<PrimName, string>> = {
	u8: 'number',
	u16: 'number',
	u32: 'number',
	i8: 'number',
	i16: 'number',
	i32: 'number',
	f32: 'number',
	f64: 'number',
	u64: 'bigint or safe-integer number',
	i64: 'bigint or safe-integer number',
	bool: 'boolean',
};

/** Result of the allocation-free primitive writers: 0 = written, 1 = wrong JS type, 2 = out of range. */
export type WriteResult = 0 | 1 | 2;

/** @internal Build the error for a failed {@link writePrim}/{@link writeBits}. */
export function primError(r: WriteResult, p: PrimName, v: unknown, path: string, width?: number): AbiError {
	const type = width === undefined ? p : `${p}:${width}`;
	if (r === 1) {
		return new AbiError(
			'ABI_VALUE_TYPE',
			`${path}: expected a ${PRIM_TS[p]} for ${type}, got ${describe(v)}`,
			{
				path,
				type,
				value: describe(v),
			},
		);
	}
	const range =
		width === undefined
			? PRIM_RANGE[p]
			: p === 'bool'
				? 'true/false'
				: isSignedPrim(p)
					? `-2^${width - 1}..2^${width - 1}-1`
					: `0..2^${width}-1`;
	return new AbiError('ABI_VALUE_RANGE', `${path}: ${describe(v)} does not fit ${type} (${range})`, {
		path,
		type,
		value: describe(v),
		range,
	});
}

function formatPath(root: string, steps: readonly PathStep[]): string {
	let s = root;
	for (const st of steps) s += typeof st === 'number' ? `[${st}]` : `.${st}`;
	return s;
}

// ───────────────────────────── primitives ─────────────────────────────

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Read one primitive (little-endian). */
export function readPrim(dv: DataView, off: number, p: PrimName): number | bigint | boolean {
	switch (p) {
		case 'u8':
			return dv.getUint8(off);
		case 'i8':
			return dv.getInt8(off);
		case 'bool':
			return dv.getUint8(off) !== 0;
		case 'u16':
			return dv.getUint16(off, true);
		case 'i16':
			return dv.getInt16(off, true);
		case 'u32':
			return dv.getUint32(off, true);
		case 'i32':
			return dv.getInt32(off, true);
		case 'u64':
			return dv.getBigUint64(off, true);
		case 'i64':
			return dv.getBigInt64(off, true);
		case 'f32':
			return dv.getFloat32(off, true);
		case 'f64':
			return dv.getFloat64(off, true);
	}
}

function toBig(v: unknown): bigint | 1 | 2 {
	if (typeof v === 'bigint') return v;
	if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : 2;
	return 1;
}

/**
 * Write one primitive (little-endian) after checking its type and range. Allocation-free; returns a
 * {@link WriteResult} instead of throwing so hot paths need no closures. A `bool` or float whose current
 * bytes already decode to `v` is left untouched (so unusual encodings survive a round trip).
 */
export function writePrim(dv: DataView, off: number, p: PrimName, v: unknown): WriteResult {
	switch (p) {
		case 'u8':
		case 'u16':
		case 'u32':
		case 'i8':
		case 'i16':
		case 'i32': {
			if (typeof v !== 'number') return 1;
			if (!Number.isInteger(v)) return 2;
			switch (p) {
				case 'u8':
					if (v < 0 || v > 0xff) return 2;
					dv.setUint8(off, v);
					return 0;
				case 'u16':
					if (v < 0 || v > 0xffff) return 2;
					dv.setUint16(off, v, true);
					return 0;
				case 'u32':
					if (v < 0 || v > 0xffffffff) return 2;
					dv.setUint32(off, v, true);
					return 0;
				case 'i8':
					if (v < -0x80 || v > 0x7f) return 2;
					dv.setInt8(off, v);
					return 0;
				case 'i16':
					if (v < -0x8000 || v > 0x7fff) return 2;
					dv.setInt16(off, v, true);
					return 0;
				default:
					if (v < -0x80000000 || v > 0x7fffffff) return 2;
					dv.setInt32(off, v, true);
					return 0;
			}
		}
		case 'u64': {
			const b = toBig(v);
			if (typeof b !== 'bigint') return b;
			if (b < 0n || b > U64_MAX) return 2;
			dv.setBigUint64(off, b, true);
			return 0;
		}
		case 'i64': {
			const b = toBig(v);
			if (typeof b !== 'bigint') return b;
			if (b < I64_MIN || b > I64_MAX) return 2;
			dv.setBigInt64(off, b, true);
			return 0;
		}
		case 'bool':
			if (typeof v !== 'boolean') return 1;
			if ((dv.getUint8(off) !== 0) !== v) dv.setUint8(off, v ? 1 : 0);
			return 0;
		case 'f32': {
			if (typeof v !== 'number') return 1;
			const f = Math.fround(v);
			if (!Number.isFinite(f) && Number.isFinite(v)) return 2;
			if (!Object.is(dv.getFloat32(off, true), f)) dv.setFloat32(off, f, true);
			return 0;
		}
		case 'f64':
			if (typeof v !== 'number') return 1;
			if (!Object.is(dv.getFloat64(off, true), v)) dv.setFloat64(off, v, true);
			return 0;
	}
}

/**
 * Read a bit-field: `width` bits starting `bitOff` bits after byte `byteOff`, little-endian bit order (as
 * gcc on x86-64). Signed types are sign-extended; 64-bit types give a `bigint`, `bool` a `boolean`.
 */
export function readBits(
	dv: DataView,
	byteOff: number,
	bitOff: number,
	width: number,
	p: PrimName,
): number | bigint | boolean {
	const first = byteOff + (bitOff >> 3);
	const shift = bitOff & 7;
	const nbytes = (shift + width + 7) >> 3;
	if (isBigPrim(p)) {
		let acc = 0n;
		for (let i = nbytes - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(dv.getUint8(first + i));
		let v = (acc >> BigInt(shift)) & ((1n << BigInt(width)) - 1n);
		if (p === 'i64' && v >= 1n << BigInt(width - 1)) v -= 1n << BigInt(width);
		return v;
	}
	let acc = 0;
	for (let i = nbytes - 1; i >= 0; i--) acc = acc * 256 + dv.getUint8(first + i);
	let v = Math.floor(acc / 2 ** shift) % 2 ** width;
	if (p === 'bool') return v !== 0;
	if (isSignedPrim(p) && v >= 2 ** (width - 1)) v -= 2 ** width;
	return v;
}

/** Write a bit-field (read-modify-write; neighbouring bits are preserved). See {@link readBits}. */
export function writeBits(
	dv: DataView,
	byteOff: number,
	bitOff: number,
	width: number,
	p: PrimName,
	v: unknown,
): WriteResult {
	const first = byteOff + (bitOff >> 3);
	const shift = bitOff & 7;
	const nbytes = (shift + width + 7) >> 3;
	if (isBigPrim(p)) {
		const b = toBig(v);
		if (typeof b !== 'bigint') return b;
		const w = BigInt(width);
		const lo = p === 'i64' ? -(1n << (w - 1n)) : 0n;
		const hi = p === 'i64' ? (1n << (w - 1n)) - 1n : (1n << w) - 1n;
		if (b < lo || b > hi) return 2;
		const raw = b < 0n ? b + (1n << w) : b;
		let acc = 0n;
		for (let i = nbytes - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(dv.getUint8(first + i));
		const mask = ((1n << w) - 1n) << BigInt(shift);
		acc = (acc & ~mask) | (raw << BigInt(shift));
		for (let i = 0; i < nbytes; i++) {
			dv.setUint8(first + i, Number(acc & 0xffn));
			acc >>= 8n;
		}
		return 0;
	}
	let raw: number;
	if (p === 'bool') {
		if (typeof v !== 'boolean') return 1;
		raw = v ? 1 : 0;
	} else {
		if (typeof v !== 'number') return 1;
		if (!Number.isInteger(v)) return 2;
		const signed = isSignedPrim(p);
		const lo = signed ? -(2 ** (width - 1)) : 0;
		const hi = signed ? 2 ** (width - 1) - 1 : 2 ** width - 1;
		if (v < lo || v > hi) return 2;
		raw = v < 0 ? v + 2 ** width : v;
	}
	let acc = 0;
	for (let i = nbytes - 1; i >= 0; i--) acc = acc * 256 + dv.getUint8(first + i);
	const old = Math.floor(acc / 2 ** shift) % 2 ** width;
	acc += (raw - old) * 2 ** shift;
	for (let i = 0; i < nbytes; i++) {
		dv.setUint8(first + i, acc % 256);
		acc = Math.floor(acc / 256);
	}
	return 0;
}

// ───────────────────────────── C strings ─────────────────────────────

/**
 * Decode a NUL-terminated string from at most `maxLength` bytes at `off`. Each byte becomes one
 * character (Latin-1), so any byte sequence survives a decode/encode round trip; firmware strings are
 * ASCII in practice.
 */
export function readCString(bytes: Uint8Array, off = 0, maxLength = bytes.length - off): string {
	let s = '';
	const limit = Math.min(off + maxLength, bytes.length);
	for (let i = off; i < limit; i++) {
		const c = bytes[i]!;
		if (c === 0) break;
		s += String.fromCharCode(c);
	}
	return s;
}

/**
 * Encode `s` (characters U+0001..U+00FF, one byte each) into exactly `length` bytes, NUL-padded.
 * `ABI_VALUE_RANGE` if it is longer than `length`, has a NUL, or a character above U+00FF.
 */
export function cstringBytes(s: string, length: number, path = 'string'): Uint8Array {
	if (s.length > length) {
		throw new AbiError(
			'ABI_VALUE_RANGE',
			`${path}: string of ${s.length} characters does not fit char[${length}]`,
			{
				path,
				length,
				chars: s.length,
			},
		);
	}
	const out = new Uint8Array(length);
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c === 0 || c > 0xff) {
			throw new AbiError(
				'ABI_VALUE_RANGE',
				`${path}: character U+${c.toString(16).padStart(4, '0')} at index ${i} cannot be stored in a C string (U+0001..U+00FF)`,
				{ path, index: i, char: c },
			);
		}
		out[i] = c;
	}
	return out;
}

function writeCString(u8: Uint8Array, off: number, l: CStringLayout, v: unknown, path: () => string): void {
	if (typeof v !== 'string') {
		throw new AbiError(
			'ABI_VALUE_TYPE',
			`${path()}: expected a string for char[${l.length}], got ${describe(v)}`,
			{
				path: path(),
			},
		);
	}
	if (readCString(u8, off, l.length) === v) return;
	u8.set(cstringBytes(v, l.length, path()), off);
}

// ───────────────────────────── snapshots ─────────────────────────────

const SNAPSHOT = Symbol('@gspkit/abi/snapshot');

interface Holder {
	bytes: Uint8Array;
}

interface SnapRef {
	readonly holder: Holder;
	/** Offset of this value's bytes inside `holder.bytes`. */
	readonly base: number;
	/** How many bytes the value covered when decoded. */
	readonly length: number;
	readonly layout: Layout;
}

function snapOf(v: object): SnapRef | undefined {
	return (v as Record<symbol, SnapRef | undefined>)[SNAPSHOT];
}

/**
 * The bytes a decoded struct/union value was read from (a private copy taken at decode time), or
 * `undefined` for values that did not come from {@link decode}. Useful for hex dumps and diagnostics.
 */
export function rawBytesOf(value: unknown): Uint8Array | undefined {
	if (typeof value !== 'object' || value === null) return undefined;
	const s = snapOf(value);
	return s === undefined ? undefined : s.holder.bytes.subarray(s.base, s.base + s.length);
}

// ───────────────────────────── decode ─────────────────────────────

/** Options of {@link decode}. */
export interface DecodeOptions {
	/**
	 * How many bytes from `offset` belong to the value (e.g. an RPC's `length`). Bounds a flexible array
	 * without a count; a buffer shorter than this is `ABI_SHORT_BUFFER`. Default: to the end of the buffer.
	 */
	readonly length?: number;
	/** Keep a snapshot of the bytes for byte-identical re-encoding (default `true`). */
	readonly snapshot?: boolean;
}

interface DecodeCtx {
	readonly b: Bytes;
	readonly start: number;
	readonly end: number;
	readonly holder: Holder | undefined;
	readonly root: Layout;
	extentEnd: number;
}

function checkOffset(offset: number): void {
	if (!Number.isSafeInteger(offset) || offset < 0) {
		throw new AbiError('ABI_BAD_ARGUMENT', `offset must be a non-negative integer, got ${String(offset)}`, {
			offset,
		});
	}
}

function assertCodecLayout(layout: unknown): asserts layout is FixedLayout {
	if (!isLayout(layout)) throw new AbiError('ABI_BAD_ARGUMENT', 'not a layout', { value: String(layout) });
	if (layout.kind === 'flex') {
		throw new AbiError('ABI_BAD_ARGUMENT', 'a flexible array is encoded and decoded through its struct');
	}
}

/** The bytes every value of `layout` needs before any flexible tail. */
function fixedPart(l: FixedLayout): number {
	return l.kind === 'struct' && l.tail !== undefined ? l.tail.offset : l.size;
}

function resolveEnd(b: Bytes, layout: FixedLayout, offset: number, length: number | undefined): number {
	checkOffset(offset);
	if (length === undefined) return b.u8.length;
	if (!Number.isSafeInteger(length) || length < 0) {
		throw new AbiError('ABI_BAD_ARGUMENT', `length must be a non-negative integer, got ${String(length)}`, {
			length,
		});
	}
	if (offset + length > b.u8.length) throw shortBuffer(layout, length, b.u8.length - offset, offset);
	return offset + length;
}

/**
 * Decode a value of `layout` from `src` at `offset`. Nothing but the layout's own bytes is read or
 * copied. A buffer shorter than the layout (or than its flexible tail) is `ABI_SHORT_BUFFER`, naming the
 * type, the bytes needed and the bytes available.
 */
export function decode<L extends Layout>(
	layout: L,
	src: ByteSource,
	offset = 0,
	options: DecodeOptions = {},
): Value<L> {
	assertCodecLayout(layout);
	const b = toBytes(src);
	const end = resolveEnd(b, layout, offset, options.length);
	const fixed = fixedPart(layout);
	if (offset + fixed > end) throw shortBuffer(layout, fixed, end - offset, offset);
	const ctx: DecodeCtx = {
		b,
		start: offset,
		end,
		holder: options.snapshot === false ? undefined : { bytes: new Uint8Array(0) },
		root: layout,
		extentEnd: offset + fixed,
	};
	const v = decodeAny(layout, ctx, offset);
	if (ctx.holder !== undefined) {
		const stop = layout.kind === 'struct' && layout.tail !== undefined ? ctx.extentEnd : offset + layout.size;
		ctx.holder.bytes = b.u8.slice(offset, stop);
	}
	return v as Value<L>;
}

function decodeAny(l: FixedLayout, ctx: DecodeCtx, off: number): unknown {
	switch (l.kind) {
		case 'prim':
			return readPrim(ctx.b.dv, off, l.prim);
		case 'cstring':
			return readCString(ctx.b.u8, off, l.length);
		case 'array':
			return decodeArray(l.element, l.length, ctx.b, off, ctx);
		case 'struct':
			return decodeStruct(l, ctx, off, true);
		case 'union':
			return decodeUnion(l, ctx, off);
	}
}

function decodeArray(e: FixedLayout, n: number, b: Bytes, off: number, ctx: DecodeCtx): unknown {
	if (e.kind === 'prim') return decodePrimArray(e.prim, b, off, n);
	const out = new Array<unknown>(n);
	for (let i = 0; i < n; i++) out[i] = decodeAny(e, ctx, off + i * e.size);
	return out;
}

/** Decode `n` primitives into a fresh typed array (`boolean[]` for `bool`). */
export function decodePrimArray(p: PrimName, b: Bytes, off: number, n: number): unknown {
	const dv = b.dv;
	switch (p) {
		case 'u8':
			return b.u8.slice(off, off + n);
		case 'i8':
			return new Int8Array(b.u8.slice(off, off + n).buffer);
		case 'bool': {
			const a = new Array<boolean>(n);
			for (let i = 0; i < n; i++) a[i] = dv.getUint8(off + i) !== 0;
			return a;
		}
		case 'u16': {
			const a = new Uint16Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getUint16(off + 2 * i, true);
			return a;
		}
		case 'i16': {
			const a = new Int16Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getInt16(off + 2 * i, true);
			return a;
		}
		case 'u32': {
			const a = new Uint32Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getUint32(off + 4 * i, true);
			return a;
		}
		case 'i32': {
			const a = new Int32Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getInt32(off + 4 * i, true);
			return a;
		}
		case 'u64': {
			const a = new BigUint64Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getBigUint64(off + 8 * i, true);
			return a;
		}
		case 'i64': {
			const a = new BigInt64Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getBigInt64(off + 8 * i, true);
			return a;
		}
		case 'f32': {
			const a = new Float32Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getFloat32(off + 4 * i, true);
			return a;
		}
		case 'f64': {
			const a = new Float64Array(n);
			for (let i = 0; i < n; i++) a[i] = dv.getFloat64(off + 8 * i, true);
			return a;
		}
	}
}

function attachSnapshot(obj: object, ref: SnapRef): void {
	Object.defineProperty(obj, SNAPSHOT, { value: ref, enumerable: false });
}

/** @internal Read one field of a record at `off` (the record's start). */
export function readField(f: Field, b: Bytes, off: number): unknown {
	if (f.bits !== undefined)
		return readBits(b.dv, off + f.offset, f.bits.offset, f.bits.size, (f.layout as PrimLayout).prim);
	const l = f.layout as FixedLayout;
	if (l.kind === 'prim') return readPrim(b.dv, off + f.offset, l.prim);
	return decode(l, b.dv, off + f.offset, { snapshot: false });
}

/**
 * @internal The element count of a flexible array, or throw. `fields` holds the owner's decoded fixed
 * fields (or any object exposing them, such as a view); `room` is the bytes available for elements.
 */
export function flexCount(
	owner: StructLayout,
	fl: FlexLayout,
	fields: Readonly<Record<string, unknown>>,
	room: number,
): number {
	const c = fl.count;
	if (c === undefined) return fl.element.size === 0 ? 0 : Math.max(0, Math.floor(room / fl.element.size));
	const raw = typeof c === 'string' ? fields[c] : c(fields);
	const n =
		typeof raw === 'bigint' ? (raw >= 0n && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : raw) : raw;
	if (typeof n === 'bigint' && n > 0n) return Number.MAX_SAFE_INTEGER; // can never fit: reported as short
	if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
		const src = typeof c === 'string' ? `field '${c}'` : 'count function';
		throw new AbiError(
			'ABI_VALUE_RANGE',
			`${owner.name || '(anonymous struct)'}: flexible array count from ${src} is ${describe(raw)}, not an element count`,
			{ type: owner.name, count: describe(raw) },
		);
	}
	return n;
}

function decodeStruct(
	l: StructLayout,
	ctx: DecodeCtx,
	off: number,
	withTail: boolean,
): Record<string, unknown> {
	const obj: Record<string, unknown> = {};
	let flexField: Field | undefined;
	const b = ctx.b;
	for (const f of l.fields) {
		const fl = f.layout;
		if (fl.kind === 'flex') {
			flexField = f;
			continue;
		}
		if (f.bits !== undefined) {
			obj[f.name] = readBits(b.dv, off + f.offset, f.bits.offset, f.bits.size, (fl as PrimLayout).prim);
		} else if (fl.kind === 'struct' && !withTail) {
			obj[f.name] = decodeStruct(fl, ctx, off + f.offset, false);
		} else {
			obj[f.name] = decodeAny(fl, ctx, off + f.offset);
		}
	}
	if (flexField !== undefined && withTail) {
		const fl = flexField.layout as FlexLayout;
		const at = off + flexField.offset;
		const n = flexCount(l, fl, obj, ctx.end - at);
		const need = at + n * fl.element.size;
		if (need > ctx.end) {
			throw shortBuffer(ctx.root, need - ctx.start, ctx.end - ctx.start, ctx.start);
		}
		obj[flexField.name] = decodeArray(fl.element, n, b, at, ctx);
		ctx.extentEnd = need;
	}
	if (ctx.holder !== undefined) {
		const length = l.tail !== undefined ? ctx.extentEnd - off : l.size;
		attachSnapshot(obj, { holder: ctx.holder, base: off - ctx.start, length, layout: l });
	}
	return obj;
}

function decodeUnion(l: UnionLayout, ctx: DecodeCtx, off: number): Record<string, unknown> {
	const obj: Record<string, unknown> = {};
	for (const f of l.fields) {
		obj[f.name] =
			f.bits !== undefined
				? readBits(ctx.b.dv, off + f.offset, f.bits.offset, f.bits.size, (f.layout as PrimLayout).prim)
				: decodeAny(f.layout as FixedLayout, ctx, off + f.offset);
	}
	if (ctx.holder !== undefined) {
		attachSnapshot(obj, { holder: ctx.holder, base: off - ctx.start, length: l.size, layout: l });
	}
	return obj;
}

/**
 * How many bytes the value of `layout` at `offset` occupies: `sizeof` for fixed layouts, the fixed part
 * plus the flexible array for structs with a tail (its count read from the buffer). Checks the buffer
 * holds them (`ABI_SHORT_BUFFER`).
 */
export function measure(
	layout: Layout,
	src: ByteSource,
	offset = 0,
	options: { readonly length?: number } = {},
): number {
	assertCodecLayout(layout);
	const b = toBytes(src);
	const end = resolveEnd(b, layout, offset, options.length);
	const fixed = fixedPart(layout);
	if (offset + fixed > end) throw shortBuffer(layout, fixed, end - offset, offset);
	if (layout.kind !== 'struct' || layout.tail === undefined) return layout.size;
	const t = layout.tail;
	const ownerOff = offset + t.ownerOffset;
	const flexField = t.owner.fields[t.owner.fields.length - 1]!;
	const fl = flexField.layout as FlexLayout;
	const at = ownerOff + flexField.offset;
	let fields: Record<string, unknown> = {};
	if (typeof fl.count === 'string') {
		fields = { [fl.count]: readField(t.owner.fields.find((f) => f.name === fl.count)!, b, ownerOff) };
	} else if (fl.count !== undefined) {
		const ctx: DecodeCtx = { b, start: offset, end, holder: undefined, root: layout, extentEnd: 0 };
		fields = decodeStruct(t.owner, ctx, ownerOff, false);
	}
	const n = flexCount(t.owner, fl, fields, end - at);
	const need = at + n * fl.element.size - offset;
	if (offset + need > end) throw shortBuffer(layout, need, end - offset, offset);
	return need;
}

// ───────────────────────────── encode ─────────────────────────────

interface EncState {
	readonly partial: boolean;
	readonly root: string;
	readonly path: PathStep[];
	/** The snapshot holder whose bytes were last restored, and `base - dstOffset` for it. */
	rHolder: Holder | undefined;
	rDelta: number;
}

function pathOf(st: EncState): string {
	return formatPath(st.root, st.path);
}

function isArrayLikeValue(v: unknown): v is ArrayLike<unknown> {
	return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function isRecordValue(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * Bytes {@link encode} writes for `value`: `sizeof` for fixed layouts; for a struct with a flexible tail,
 * the fixed part plus the elements in `value`.
 */
export function byteLength<L extends Layout>(layout: L, value?: PartialInput<L>): number {
	assertCodecLayout(layout);
	return inputExtent(layout, value, {
		partial: value === undefined,
		root: rootName(layout),
		path: [],
		rHolder: undefined,
		rDelta: 0,
	});
}

function inputExtent(l: FixedLayout, value: unknown, st: EncState): number {
	if (l.kind !== 'struct' || l.tail === undefined) return l.size;
	let v: unknown = value;
	for (const name of l.tail.path) {
		if (v === undefined && st.partial) return l.tail.offset;
		if (!isRecordValue(v)) return l.tail.offset; // reported with a path by the encoder
		v = v[name];
	}
	// A missing or non-array tail is reported (with its path) by the encoder itself.
	if (!isArrayLikeValue(v)) return l.tail.offset;
	return l.tail.offset + v.length * l.tail.element.size;
}

function encodeTop(
	layout: unknown,
	value: unknown,
	dst: ByteSource,
	offset: number,
	partial: boolean,
): number {
	assertCodecLayout(layout);
	return encodeAt(layout, value, toBytes(dst), offset, rootName(layout), partial);
}

/** @internal Encode with an explicit root path for messages (used by views). */
export function encodeAt(
	layout: FixedLayout,
	value: unknown,
	b: Bytes,
	offset: number,
	root: string,
	partial: boolean,
): number {
	checkOffset(offset);
	const st: EncState = { partial, root, path: [], rHolder: undefined, rDelta: 0 };
	const need = inputExtent(layout, value, st);
	if (offset + need > b.u8.length) throw shortBuffer(layout, need, b.u8.length - offset, offset);
	encodeAny(layout, value, b, offset, st);
	return need;
}

/**
 * Encode a complete value of `layout` into `dst` at `offset`, writing only the layout's declared fields
 * (padding is never touched). Missing required fields are `ABI_VALUE_MISSING`, out-of-range values
 * `ABI_VALUE_RANGE`, wrong types `ABI_VALUE_TYPE`, unknown keys `ABI_UNKNOWN_FIELD` — each naming the field
 * path. Returns the number of bytes the value spans.
 */
export function encode<L extends Layout>(layout: L, value: Input<L>, dst: ByteSource, offset = 0): number {
	return encodeTop(layout, value, dst, offset, false);
}

/**
 * Write only the fields present in `value` (recursively), leaving every other byte as it is: a
 * read-modify-write without the read. Returns the number of bytes the value spans.
 */
export function patch<L extends Layout>(
	layout: L,
	value: PartialInput<L>,
	dst: ByteSource,
	offset = 0,
): number {
	return encodeTop(layout, value, dst, offset, true);
}

function encodeAny(l: FixedLayout, v: unknown, b: Bytes, off: number, st: EncState): void {
	switch (l.kind) {
		case 'prim': {
			const r = writePrim(b.dv, off, l.prim, v);
			if (r !== 0) throw primError(r, l.prim, v, pathOf(st));
			return;
		}
		case 'cstring':
			writeCString(b.u8, off, l, v, () => pathOf(st));
			return;
		case 'array':
			encodeArray(l, v, b, off, st);
			return;
		case 'struct':
			encodeStruct(l, v, b, off, st);
			return;
		case 'union':
			encodeUnion(l, v, b, off, st);
			return;
	}
}

function encodeElements(e: FixedLayout, v: ArrayLike<unknown>, b: Bytes, off: number, st: EncState): void {
	const n = v.length;
	if (e.kind === 'prim') {
		if (e.prim === 'u8' && v instanceof Uint8Array) {
			b.u8.set(v, off);
			return;
		}
		if (e.prim === 'i8' && v instanceof Int8Array) {
			b.u8.set(new Uint8Array(v.buffer, v.byteOffset, v.length), off);
			return;
		}
		const p = e.prim;
		const size = e.size;
		for (let i = 0; i < n; i++) {
			const r = writePrim(b.dv, off + i * size, p, v[i]);
			if (r !== 0) {
				st.path.push(i);
				throw primError(r, p, v[i], pathOf(st));
			}
		}
		return;
	}
	for (let i = 0; i < n; i++) {
		const ev = v[i];
		if (ev === undefined && st.partial) continue;
		st.path.push(i);
		encodeAny(e, ev, b, off + i * e.size, st);
		st.path.pop();
	}
}

function encodeArray(l: ArrayLayout, v: unknown, b: Bytes, off: number, st: EncState): void {
	if (!isArrayLikeValue(v)) {
		throw new AbiError(
			'ABI_VALUE_TYPE',
			`${pathOf(st)}: expected an array for ${layoutLabel(l)}, got ${describe(v)}`,
			{
				path: pathOf(st),
			},
		);
	}
	if (v.length !== l.length) {
		throw new AbiError(
			'ABI_VALUE_RANGE',
			`${pathOf(st)}: ${layoutLabel(l)} needs exactly ${l.length} elements, got ${v.length}`,
			{ path: pathOf(st), expected: l.length, got: v.length },
		);
	}
	encodeElements(l.element, v, b, off, st);
}

function checkKeys(l: StructLayout | UnionLayout, v: Record<string, unknown>, st: EncState): void {
	for (const k in v) {
		if (fieldOf(l, k) === undefined) {
			throw new AbiError('ABI_UNKNOWN_FIELD', `${pathOf(st)}: ${layoutLabel(l)} has no field '${k}'`, {
				path: pathOf(st),
				type: l.name,
				field: k,
			});
		}
	}
}

function expectRecord(l: StructLayout | UnionLayout, v: unknown, st: EncState): Record<string, unknown> {
	if (!isRecordValue(v)) {
		throw new AbiError(
			'ABI_VALUE_TYPE',
			`${pathOf(st)}: expected an object for ${layoutLabel(l)}, got ${describe(v)}`,
			{
				path: pathOf(st),
			},
		);
	}
	checkKeys(l, v, st);
	return v;
}

/** Write a decoded value's snapshot (unless the enclosing value already did). Returns whether bytes are restored. */
function restoreSnapshot(l: Layout, v: object, b: Bytes, off: number, st: EncState, maxLen: number): boolean {
	const s = snapOf(v);
	if (s === undefined || s.layout !== l) return false;
	if (s.holder === st.rHolder && s.base - off === st.rDelta) return true;
	const len = Math.min(s.length, maxLen);
	b.u8.set(s.holder.bytes.subarray(s.base, s.base + len), off);
	st.rHolder = s.holder;
	st.rDelta = s.base - off;
	return true;
}

function missing(st: EncState, what: string): AbiError {
	const p = pathOf(st);
	return new AbiError('ABI_VALUE_MISSING', `${p}: missing ${what}`, { path: p, field: what });
}

function encodeStruct(l: StructLayout, value: unknown, b: Bytes, off: number, st: EncState): void {
	const v = expectRecord(l, value, st);
	const savedHolder = st.rHolder;
	const savedDelta = st.rDelta;
	restoreSnapshot(l, v, b, off, st, inputExtent(l, v, st));
	for (const f of l.fields) {
		const fv = v[f.name];
		if (fv === undefined) {
			if (!st.partial && !f.reserved) throw missing(st, `field '${f.name}'`);
			continue;
		}
		st.path.push(f.name);
		if (f.bits !== undefined) {
			const p = (f.layout as PrimLayout).prim;
			const r = writeBits(b.dv, off + f.offset, f.bits.offset, f.bits.size, p, fv);
			if (r !== 0) throw primError(r, p, fv, pathOf(st), f.bits.size);
		} else if (f.layout.kind === 'flex') {
			encodeFlex(l, f, fv, v, b, off, st);
		} else {
			encodeAny(f.layout, fv, b, off + f.offset, st);
		}
		st.path.pop();
	}
	st.rHolder = savedHolder;
	st.rDelta = savedDelta;
}

function encodeFlex(
	l: StructLayout,
	f: Field,
	arr: unknown,
	v: Record<string, unknown>,
	b: Bytes,
	off: number,
	st: EncState,
): void {
	const fl = f.layout as FlexLayout;
	if (!isArrayLikeValue(arr)) {
		throw new AbiError(
			'ABI_VALUE_TYPE',
			`${pathOf(st)}: expected an array for ${layoutLabel(fl)}, got ${describe(arr)}`,
			{
				path: pathOf(st),
			},
		);
	}
	if (fl.count !== undefined) {
		let fields: Readonly<Record<string, unknown>> = v;
		if (st.partial && (typeof fl.count !== 'string' || v[fl.count] === undefined)) {
			// Patch mode: what the count says is what is in the buffer now (fixed fields already written).
			const ctx: DecodeCtx = { b, start: off, end: b.u8.length, holder: undefined, root: l, extentEnd: 0 };
			fields = decodeStruct(l, ctx, off, false);
		}
		const n = flexCount(l, fl, fields, Number.MAX_SAFE_INTEGER);
		if (n !== arr.length) {
			const src = typeof fl.count === 'string' ? `'${fl.count}'` : 'its count function';
			throw new AbiError(
				'ABI_VALUE_RANGE',
				`${pathOf(st)}: flexible array has ${arr.length} elements but ${src} says ${n}`,
				{ path: pathOf(st), elements: arr.length, count: n },
			);
		}
	}
	encodeElements(fl.element, arr, b, off + f.offset, st);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

function encodeMember(f: Field, fv: unknown, b: Bytes, off: number, st: EncState): void {
	st.path.push(f.name);
	if (f.bits !== undefined) {
		const p = (f.layout as PrimLayout).prim;
		const r = writeBits(b.dv, off + f.offset, f.bits.offset, f.bits.size, p, fv);
		if (r !== 0) throw primError(r, p, fv, pathOf(st), f.bits.size);
	} else {
		encodeAny(f.layout as FixedLayout, fv, b, off + f.offset, st);
	}
	st.path.pop();
}

function encodeUnion(l: UnionLayout, value: unknown, b: Bytes, off: number, st: EncState): void {
	const v = expectRecord(l, value, st);
	const savedHolder = st.rHolder;
	const savedDelta = st.rDelta;
	const restored = restoreSnapshot(l, v, b, off, st, l.size);
	const present = l.fields.filter((f) => v[f.name] !== undefined);
	if (present.length === 0) {
		if (!st.partial && !restored && l.fields.length > 0) throw missing(st, `a member of ${layoutLabel(l)}`);
	} else if (present.length === 1) {
		const f = present[0]!;
		encodeMember(f, v[f.name], b, off, st);
	} else {
		// Several members given (e.g. a decoded union). Members whose bytes are already in place are
		// ignored; the others are written in order and must then all still read back as given — i.e. they
		// describe one byte image. Otherwise the value is ambiguous.
		const base = b.u8.slice(off, off + l.size);
		const inner = (): EncState => ({ ...st, path: [...st.path], rHolder: undefined, rDelta: 0 });
		const changed: Field[] = [];
		for (const f of present) {
			const scratch = base.slice();
			encodeMember(f, v[f.name], toBytes(scratch), 0, inner());
			if (!sameBytes(scratch, base)) changed.push(f);
		}
		if (changed.length > 0) {
			const image = base.slice();
			const ib = toBytes(image);
			for (const f of changed) encodeMember(f, v[f.name], ib, 0, inner());
			const clash: string[] = [];
			for (const f of changed) {
				const check = image.slice();
				encodeMember(f, v[f.name], toBytes(check), 0, inner());
				if (!sameBytes(check, image)) clash.push(f.name);
			}
			if (clash.length > 0) {
				const names = changed.map((f) => f.name);
				throw new AbiError(
					'ABI_UNION_CONFLICT',
					`${pathOf(st)}: union members ${names.map((n) => `'${n}'`).join(', ')} describe different bytes; give one member`,
					{ path: pathOf(st), members: names },
				);
			}
			b.u8.set(image, off);
		}
	}
	st.rHolder = savedHolder;
	st.rDelta = savedDelta;
}

// ───────────────────────────── helpers ─────────────────────────────

/**
 * The all-zero value of a layout: numbers 0, `0n`, `false`, `''`, zeroed typed arrays, empty flexible
 * arrays; a union gets its (first) largest member. Handy as a base: `{ ...zero(L), field: 1 }`.
 */
export function zero<L extends Layout>(layout: L): Value<L> {
	assertCodecLayout(layout);
	return zeroOf(layout) as Value<L>;
}

function zeroOf(l: Layout): unknown {
	switch (l.kind) {
		case 'prim':
			return l.prim === 'bool' ? false : isBigPrim(l.prim) ? 0n : 0;
		case 'cstring':
			return '';
		case 'array':
			return zeroArray(l.element, l.length);
		case 'flex':
			return zeroArray(l.element, 0);
		case 'struct': {
			const o: Record<string, unknown> = {};
			for (const f of l.fields) o[f.name] = zeroOf(f.layout);
			return o;
		}
		case 'union': {
			let best: Field | undefined;
			for (const f of l.fields) if (best === undefined || f.size > best.size) best = f;
			return best === undefined ? {} : { [best.name]: zeroOf(best.layout) };
		}
	}
}

function zeroArray(e: FixedLayout, n: number): unknown {
	if (e.kind === 'prim') {
		switch (e.prim) {
			case 'u8':
				return new Uint8Array(n);
			case 'i8':
				return new Int8Array(n);
			case 'u16':
				return new Uint16Array(n);
			case 'i16':
				return new Int16Array(n);
			case 'u32':
				return new Uint32Array(n);
			case 'i32':
				return new Int32Array(n);
			case 'u64':
				return new BigUint64Array(n);
			case 'i64':
				return new BigInt64Array(n);
			case 'f32':
				return new Float32Array(n);
			case 'f64':
				return new Float64Array(n);
			case 'bool':
				return new Array<boolean>(n).fill(false);
		}
	}
	return Array.from({ length: n }, () => zeroOf(e));
}
