/**
 * `libos`: the LIBOS argument page — an array of `LibosMemoryRegionInitArgument` whose bus address the
 * CPU writes to the GSP's MAILBOX0/1 (gsp-rpc.md §1.7).
 *
 * @module
 */

import { AbiError, type ByteSource, decode, encode, toBytes } from '@gspkit/abi';
import type { LibosApi, LibosRegion } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { LIBOS_REGION } from '../specs.ts';
import { R535_PACKAGE } from '../util.ts';

const PAGE = 0x1000;

/** `name` packed big-endian into a u64, first character most significant (nouveau `r535_gsp_libos_id8`). */
export function libosId8(name: string): bigint {
	if (name.length === 0 || name.length > 8 || !/^[\x20-\x7e]+$/.test(name)) {
		throw new AbiError(
			'ABI_VALUE_RANGE',
			`LIBOS region name ${JSON.stringify(name)} must be 1–8 printable ASCII characters`,
			{
				name,
			},
		);
	}
	let id = 0n;
	for (const ch of name) id = (id << 8n) | BigInt(ch.charCodeAt(0));
	return id;
}

function nameOf(id8: bigint): string {
	let s = '';
	for (let v = id8; v > 0n; v >>= 8n) s = String.fromCharCode(Number(v & 0xffn)) + s;
	return s;
}

/** Build the `libos` sub-interface on `ctx`'s layouts. */
export function createLibosApi(ctx: AbiContext): LibosApi {
	return ctx.build('libos', R535_PACKAGE, 'createLibosApi', () => {
		const layout = ctx.bind(LIBOS_REGION);
		const kind = {
			contiguous: ctx.constant('LIBOS_MEMORY_REGION_CONTIGUOUS'),
			radix3: ctx.constant('LIBOS_MEMORY_REGION_RADIX3'),
		};
		const loc = {
			sysmem: ctx.constant('LIBOS_MEMORY_REGION_LOC_SYSMEM'),
			fb: ctx.constant('LIBOS_MEMORY_REGION_LOC_FB'),
		};
		const kindName = new Map(Object.entries(kind).map(([k, v]) => [v, k as 'contiguous' | 'radix3']));
		const locName = new Map(Object.entries(loc).map(([k, v]) => [v, k as 'sysmem' | 'fb']));
		const max = Math.floor(PAGE / layout.size);
		return {
			layout,
			id8: libosId8,
			encodeRegions(regions: readonly LibosRegion[]): Uint8Array {
				if (regions.length > max) {
					throw new AbiError(
						'ABI_VALUE_RANGE',
						`${regions.length} LIBOS regions do not fit one page (max ${max})`,
						{
							count: regions.length,
							max,
						},
					);
				}
				const page = new Uint8Array(PAGE);
				regions.forEach((r, i) => {
					encode(
						layout,
						{
							id8: libosId8(r.name),
							pa: r.pa,
							size: r.size,
							kind: kind[r.kind ?? 'contiguous'],
							loc: loc[r.loc ?? 'sysmem'],
						},
						page,
						i * layout.size,
					);
				});
				return page;
			},
			decodeRegions(src: ByteSource): LibosRegion[] {
				const u8 = toBytes(src).u8;
				const out: LibosRegion[] = [];
				for (let off = 0; off < PAGE; off += layout.size) {
					// A page that stops before its terminating entry (or its end) is cut short: decode() says so.
					const r = decode(layout, u8, off, { snapshot: false });
					if (r.id8 === 0n) break;
					const k = kindName.get(r.kind);
					const l = locName.get(r.loc);
					if (k === undefined || l === undefined) {
						throw new AbiError(
							'ABI_VALUE_RANGE',
							`LIBOS region ${nameOf(r.id8)}: unknown kind ${r.kind} or location ${r.loc}`,
							{
								offset: off,
							},
						);
					}
					out.push({ name: nameOf(r.id8), pa: r.pa, size: r.size, kind: k, loc: l });
				}
				return out;
			},
		};
	});
}
