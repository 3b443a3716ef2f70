/**
 * The SET_REGISTRY payload: `PACKED_REGISTRY_TABLE { size, numEntries, entries[] { nameOffset, type, data,
 * length } }` followed by the NUL-terminated key names (reference §5). `nameOffset` counts from the table
 * start and `size` is the total byte count. As in nouveau's `build_registry`, each name is followed directly
 * by the value of a string or binary entry, whose `data` is then that value's offset.
 *
 * @module
 */

import { RpcError } from './errors.ts';
import type { RpcWire } from './rpc-abi.ts';

/** `PACKED_REGISTRY_ENTRY.type` values. */
export const REGISTRY_TYPE = { DWORD: 1, BINARY: 2, STRING: 3 } as const;

/** A registry value: a number is a DWORD, a string a NUL-terminated STRING, bytes a BINARY blob. */
export type RegistryValue = number | string | Uint8Array;

/**
 * The keys the open drivers always set: nouveau's RMSecBusResetEnable=1 and RMForcePcieConfigSave=1, and
 * nova-core's RMDevidCheckIgnore=1. User keys are merged over these.
 */
export const DEFAULT_REGISTRY: Readonly<Record<string, number>> = Object.freeze({
	RMSecBusResetEnable: 1,
	RMForcePcieConfigSave: 1,
	RMDevidCheckIgnore: 1,
});

/** One decoded entry (see {@link parseRegistryTable}). */
export interface RegistryEntry {
	readonly name: string;
	readonly value: RegistryValue;
}

function encError(message: string, details: Readonly<Record<string, unknown>>): RpcError {
	return new RpcError('RPC_ENCODE', message, { errno: 'EINVAL', details });
}

function ascii(s: string, what: string): Uint8Array {
	const out = new Uint8Array(s.length + 1);
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c === 0 || c > 0x7e)
			throw encError(`registry ${what} ${JSON.stringify(s)} must be printable ASCII`, { [what]: s });
		out[i] = c;
	}
	return out;
}

/**
 * Build a PACKED_REGISTRY_TABLE with the ABI's layouts. Entries keep insertion order; a later key replaces an
 * earlier one of the same name (so `{ ...DEFAULT_REGISTRY, ...user }` lets users override defaults).
 *
 * @throws RpcError `RPC_ENCODE` for an empty or non-ASCII name, a DWORD outside u32, or a non-ASCII string.
 */
export function buildRegistryTable(
	wire: RpcWire,
	entries: Readonly<Record<string, RegistryValue>> | Iterable<readonly [string, RegistryValue]>,
): Uint8Array {
	const map = new Map<string, RegistryValue>(
		Symbol.iterator in entries
			? (entries as Iterable<readonly [string, RegistryValue]>)
			: Object.entries(entries),
	);
	const r = wire.registry;
	const items: { name: Uint8Array; type: number; dword: number; blob: Uint8Array | undefined }[] = [];
	for (const [name, value] of map) {
		if (name === '') throw encError('registry key names must not be empty', {});
		const n = ascii(name, 'key');
		if (typeof value === 'number') {
			if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
				throw encError(`registry ${name}=${value} is not a u32`, { key: name, value });
			}
			items.push({ name: n, type: REGISTRY_TYPE.DWORD, dword: value, blob: undefined });
		} else if (typeof value === 'string') {
			items.push({ name: n, type: REGISTRY_TYPE.STRING, dword: 0, blob: ascii(value, 'value') });
		} else {
			items.push({ name: n, type: REGISTRY_TYPE.BINARY, dword: 0, blob: value });
		}
	}
	let size = r.tableSize + items.length * r.entrySize;
	for (const it of items) size += it.name.length + (it.blob?.length ?? 0);
	const out = new Uint8Array(size);
	const dv = new DataView(out.buffer);
	dv.setUint32(r.size, size, true);
	dv.setUint32(r.numEntries, items.length, true);
	let str = r.tableSize + items.length * r.entrySize;
	items.forEach((it, i) => {
		const e = r.tableSize + i * r.entrySize;
		dv.setUint32(e + r.nameOffset, str, true);
		dv.setUint8(e + r.type, it.type);
		out.set(it.name, str);
		str += it.name.length;
		if (it.blob === undefined) {
			dv.setUint32(e + r.data, it.dword, true);
			dv.setUint32(e + r.length, 4, true);
		} else {
			out.set(it.blob, str);
			dv.setUint32(e + r.data, str, true);
			dv.setUint32(e + r.length, it.blob.length, true);
			str += it.blob.length;
		}
	});
	return out;
}

/** Decode a PACKED_REGISTRY_TABLE (the inverse of {@link buildRegistryTable}; for simulators and tests). */
export function parseRegistryTable(wire: RpcWire, bytes: Uint8Array): RegistryEntry[] {
	const r = wire.registry;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
	const bad = (m: string): RpcError => encError(`registry table: ${m}`, {});
	if (bytes.length < r.tableSize) throw bad('shorter than its header');
	const size = dv.getUint32(r.size, true);
	const n = dv.getUint32(r.numEntries, true);
	if (size !== bytes.length) throw bad(`size ${size} != ${bytes.length} bytes`);
	if (r.tableSize + n * r.entrySize > size) throw bad(`${n} entries do not fit`);
	const cstr = (off: number): string => {
		let s = '';
		for (let i = off; ; i++) {
			if (i >= bytes.length) throw bad(`string at ${off} is not NUL-terminated`);
			if (bytes[i] === 0) return s;
			s += String.fromCharCode(bytes[i]!);
		}
	};
	const out: RegistryEntry[] = [];
	for (let i = 0; i < n; i++) {
		const e = r.tableSize + i * r.entrySize;
		const name = cstr(dv.getUint32(e + r.nameOffset, true));
		const type = dv.getUint8(e + r.type);
		const data = dv.getUint32(e + r.data, true);
		const length = dv.getUint32(e + r.length, true);
		if (type === REGISTRY_TYPE.DWORD) {
			if (length !== 4) throw bad(`DWORD ${name} has length ${length}`);
			out.push({ name, value: data });
		} else if (type === REGISTRY_TYPE.STRING) {
			const s = cstr(data);
			if (s.length + 1 !== length) throw bad(`STRING ${name} length ${length} != ${s.length + 1}`);
			out.push({ name, value: s });
		} else if (type === REGISTRY_TYPE.BINARY) {
			if (data + length > size) throw bad(`BINARY ${name} runs past the table`);
			out.push({ name, value: bytes.slice(data, data + length) });
		} else throw bad(`entry ${name} has unknown type ${type}`);
	}
	return out;
}

/**
 * Parse user-settable keys in nouveau's `NVreg_RegistryDwords` style: `"Key=1;Other=0x10;Name=\"text\""`.
 * Numbers may be decimal or 0x-hex; quoted values are strings.
 */
export function parseRegistryString(spec: string): Record<string, RegistryValue> {
	const out: Record<string, RegistryValue> = {};
	for (const part of spec.split(';')) {
		const item = part.trim();
		if (item === '') continue;
		const eq = item.indexOf('=');
		if (eq <= 0) throw encError(`registry item ${JSON.stringify(item)} is not KEY=VALUE`, { item });
		const key = item.slice(0, eq).trim();
		const raw = item.slice(eq + 1).trim();
		if (/^".*"$/.test(raw)) out[key] = raw.slice(1, -1);
		else if (/^(0x[0-9a-f]+|\d+)$/i.test(raw)) {
			const v = Number(raw);
			if (v > 0xffffffff) throw encError(`registry ${key}=${raw} is not a u32`, { key, value: raw });
			out[key] = v;
		} else
			throw encError(`registry ${key}=${raw}: value must be a number or a quoted string`, {
				key,
				value: raw,
			});
	}
	return out;
}
