/**
 * The radix3 walk booter performs over the GSP image (reference A.6): L0 is one 4 KiB page whose entry j
 * points to L1 page j; L1 entries point to L2 pages; L2 entries point to the 4 KiB pages of the image, in
 * order. Every entry is a little-endian u64 bus address of a 4 KiB-aligned page.
 *
 * @module
 */

import { sha256Stream } from '../vbios/bytes.ts';

/** Size of a radix3 page and of an image page. */
export const RADIX3_PAGE = 4096;
/** Entries per table page. */
export const RADIX3_ENTRIES = 512;

/** Reads bus memory; throws when the access faults. */
export type BusRead = (address: bigint, length: number) => Uint8Array;

/** Result of {@link walkRadix3}. */
export type Radix3Result =
	| { readonly ok: true; readonly sha256: string; readonly pages: number }
	| {
			readonly ok: false;
			readonly reason: string;
			readonly level: 'L0' | 'L1' | 'L2' | 'page';
			readonly index: number;
	  };

function entry(table: Uint8Array, i: number): bigint {
	const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
	return v.getBigUint64(8 * i, true);
}

/**
 * Walk the radix3 tables rooted at `l0Address` for an image of `size` bytes, hashing the image as it is
 * reassembled. Only the bytes the tables and the image need are read (a last partial page is read partially).
 */
export function walkRadix3(read: BusRead, l0Address: bigint, size: number): Radix3Result {
	const pages = Math.ceil(size / RADIX3_PAGE);
	const l2Pages = Math.ceil(pages / RADIX3_ENTRIES);
	const l1Pages = Math.ceil(l2Pages / RADIX3_ENTRIES);
	const hash = sha256Stream();
	const fetch = (address: bigint, length: number, level: 'L0' | 'L1' | 'L2' | 'page', index: number) => {
		if ((address & 0xfffn) !== 0n) {
			return {
				ok: false as const,
				level,
				index,
				reason: `${level} entry ${index}: address 0x${address.toString(16)} is not 4 KiB aligned`,
			};
		}
		try {
			return { ok: true as const, bytes: read(address, length) };
		} catch (e) {
			return {
				ok: false as const,
				level,
				index,
				reason: `${level} ${index} at 0x${address.toString(16)}: ${(e as Error).message}`,
			};
		}
	};
	const l0 = fetch(l0Address, 8 * l1Pages, 'L0', 0);
	if (!l0.ok) return l0;
	let page = 0;
	for (let j = 0; j < l1Pages; j++) {
		const l1Entries = Math.min(RADIX3_ENTRIES, l2Pages - j * RADIX3_ENTRIES);
		const l1 = fetch(entry(l0.bytes, j), 8 * l1Entries, 'L1', j);
		if (!l1.ok) return l1;
		for (let k = 0; k < l1Entries; k++) {
			const l2Index = j * RADIX3_ENTRIES + k;
			const l2Entries = Math.min(RADIX3_ENTRIES, pages - l2Index * RADIX3_ENTRIES);
			const l2 = fetch(entry(l1.bytes, k), 8 * l2Entries, 'L2', l2Index);
			if (!l2.ok) return l2;
			for (let i = 0; i < l2Entries; i++, page++) {
				const length = Math.min(RADIX3_PAGE, size - page * RADIX3_PAGE);
				const p = fetch(entry(l2.bytes, i), length, 'page', page);
				if (!p.ok) return p;
				hash.update(p.bytes);
			}
		}
	}
	return { ok: true, sha256: hash.digest(), pages };
}
