/**
 * `registry`: the `PACKED_REGISTRY_TABLE` payload of SET_REGISTRY — header, `numEntries` entries, then
 * each key's NUL-terminated name (and, for strings and blobs, its value) in entry order; `nameOffset`
 * and blob `data` are offsets from the table start, `size` is the total (nouveau `build_registry`).
 *
 * @module
 */

import { AbiError, type ByteSource, decode, encode, readCString, toBytes } from '@gspkit/abi';
import type { RegistryApi, RegistryEntry } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { REGISTRY_ENTRY, REGISTRY_TABLE } from '../specs.ts';
import { R535_PACKAGE } from '../util.ts';

/** Entry type codes (`enum registry_type` in nouveau's r535 `gsp.c`; not in the header set). */
export const REGISTRY_TYPES = Object.freeze({ DWORD: 1, BINARY: 2, STRING: 3 });

/** Longest key nouveau accepts (`REGISTRY_MAX_KEY_LENGTH`). */
const MAX_KEY = 64;

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Build the `registry` sub-interface on `ctx`'s layouts. */
export function createRegistryApi(ctx: AbiContext): RegistryApi {
	return ctx.build('registry', R535_PACKAGE, 'createRegistryApi', () => {
		const tableLayout = ctx.bind(REGISTRY_TABLE);
		const entryLayout = ctx.bind(REGISTRY_ENTRY);
		const header = tableLayout.tail!.offset;
		const check = (e: RegistryEntry): void => {
			if (e.name.length === 0 || e.name.length > MAX_KEY || !/^[\x21-\x7e]+$/.test(e.name)) {
				throw new AbiError(
					'ABI_VALUE_RANGE',
					`registry key ${JSON.stringify(e.name)} must be 1–${MAX_KEY} printable ASCII characters`,
					{
						name: e.name,
					},
				);
			}
			if ('value' in e && (!Number.isInteger(e.value) || e.value < 0 || e.value > 0xffffffff)) {
				throw new AbiError('ABI_VALUE_RANGE', `registry ${e.name} = ${e.value} is not a u32`, {
					name: e.name,
					value: e.value,
				});
			}
			if ('string' in e && [...e.string].some((c) => c === '\0' || c.charCodeAt(0) > 0xff)) {
				throw new AbiError('ABI_VALUE_RANGE', `registry ${e.name}: string values are NUL-free Latin-1`, {
					name: e.name,
				});
			}
		};
		return {
			tableLayout,
			entryLayout,
			types: REGISTRY_TYPES,
			defaults: Object.freeze([
				{ name: 'RMSecBusResetEnable', value: 1 },
				{ name: 'RMForcePcieConfigSave', value: 1 },
				{ name: 'RMDevidCheckIgnore', value: 1 },
			]),
			encode(entries: readonly RegistryEntry[]): Uint8Array {
				for (const e of entries) check(e);
				const values = entries.map((e) =>
					'value' in e ? undefined : 'string' in e ? Uint8Array.of(...latin1(e.string), 0) : e.binary,
				);
				let size = header + entries.length * entryLayout.size;
				entries.forEach((e, i) => {
					size += e.name.length + 1 + (values[i]?.length ?? 0);
				});
				const out = new Uint8Array(size);
				let str = header + entries.length * entryLayout.size;
				const rows = entries.map((e, i) => {
					const nameOffset = str;
					out.set(latin1(e.name), str);
					str += e.name.length + 1;
					const v = values[i];
					if (v === undefined)
						return {
							nameOffset,
							type: REGISTRY_TYPES.DWORD,
							data: (e as { value: number }).value,
							length: 4,
						};
					const data = str;
					out.set(v, str);
					str += v.length;
					return {
						nameOffset,
						type: 'string' in e ? REGISTRY_TYPES.STRING : REGISTRY_TYPES.BINARY,
						data,
						length: v.length,
					};
				});
				encode(tableLayout, { size, numEntries: entries.length, entries: rows }, out);
				return out;
			},
			decode(src: ByteSource): RegistryEntry[] {
				const u8 = toBytes(src).u8;
				const t = decode(tableLayout, u8, 0, { snapshot: false });
				if (t.size > u8.length) decode(tableLayout, u8, 0, { length: t.size });
				const bad = (what: string, i: number) =>
					new AbiError(
						'ABI_VALUE_RANGE',
						`registry entry ${i}: ${what} points outside the ${t.size}-byte table`,
						{ entry: i },
					);
				return t.entries.map((e, i) => {
					if (e.nameOffset >= t.size) throw bad('nameOffset', i);
					const name = readCString(u8, e.nameOffset, t.size - e.nameOffset);
					if (e.type === REGISTRY_TYPES.DWORD) return { name, value: e.data };
					if (e.data + e.length > t.size) throw bad('data', i);
					const v = u8.slice(e.data, e.data + e.length);
					if (e.type === REGISTRY_TYPES.STRING) return { name, string: readCString(v, 0, v.length) };
					if (e.type === REGISTRY_TYPES.BINARY) return { name, binary: v };
					throw new AbiError('ABI_VALUE_RANGE', `registry entry ${i} (${name}) has unknown type ${e.type}`, {
						entry: i,
						type: e.type,
					});
				});
			},
		};
	});
}
