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

/** The u64 entries of a table page. */
function entries(table: Uint8Array): DataView {
	return new DataView(table.buffer, table.byteOffset, table.byteLength);
}

/**
 * Walk the radix3 tables rooted at `l0Address` for an image of `size` bytes, hashing the image as it is
 * reassembled. Only the bytes the tables and the image need are read (a last partial page is read partially).
 *
 * Image pages that follow each other on the bus are read as one run (one `read` per contiguous run of an L2
 * table, not one per 4 KiB page); the bytes hashed are the same. When a run's read faults, it is split until
 * the faulting page is found, so a fault names the same page and reason, and faults are reported in the same
 * order, as a page-by-page walk.
 */
export function walkRadix3(read: BusRead, l0Address: bigint, size: number): Radix3Result {
	const pages = Math.ceil(size / RADIX3_PAGE);
	const l2Pages = Math.ceil(pages / RADIX3_ENTRIES);
	const l1Pages = Math.ceil(l2Pages / RADIX3_ENTRIES);
	const hash = sha256Stream();
	const misaligned = (address: bigint, level: 'L0' | 'L1' | 'L2' | 'page', index: number) => ({
		ok: false as const,
		level,
		index,
		reason: `${level} entry ${index}: address 0x${address.toString(16)} is not 4 KiB aligned`,
	});
	const fetch = (address: bigint, length: number, level: 'L0' | 'L1' | 'L2' | 'page', index: number) => {
		if ((address & 0xfffn) !== 0n) return misaligned(address, level, index);
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
	// The pending run of bus-contiguous image pages: [runAddress, runAddress + runLength), first page runPage.
	let runAddress = 0n;
	let runLength = 0;
	let runPage = 0;
	// Read and hash [address, address + length) (pages from `first`); if the read faults, halve it until the
	// faulting page is found, left half first, so the first faulting page in image order is the one reported
	// (a run that crosses from one DMA buffer into the next reads fine in parts).
	const readRun = (address: bigint, length: number, first: number): Radix3Result | undefined => {
		if (length <= RADIX3_PAGE) {
			const p = fetch(address, length, 'page', first);
			if (!p.ok) return p;
			hash.update(p.bytes);
			return undefined;
		}
		let bytes: Uint8Array | undefined;
		try {
			bytes = read(address, length);
		} catch {
			const half = Math.ceil(length / RADIX3_PAGE / 2);
			return (
				readRun(address, half * RADIX3_PAGE, first) ??
				readRun(address + BigInt(half * RADIX3_PAGE), length - half * RADIX3_PAGE, first + half)
			);
		}
		hash.update(bytes);
		return undefined;
	};
	const flush = () => {
		if (runLength === 0) return undefined;
		const length = runLength;
		runLength = 0;
		return readRun(runAddress, length, runPage);
	};
	const l0 = fetch(l0Address, 8 * l1Pages, 'L0', 0);
	if (!l0.ok) return l0;
	const l0Entries = entries(l0.bytes);
	let page = 0;
	for (let j = 0; j < l1Pages; j++) {
		const l1Entries = Math.min(RADIX3_ENTRIES, l2Pages - j * RADIX3_ENTRIES);
		const l1 = fetch(l0Entries.getBigUint64(8 * j, true), 8 * l1Entries, 'L1', j);
		if (!l1.ok) return l1;
		const l1View = entries(l1.bytes);
		for (let k = 0; k < l1Entries; k++) {
			const l2Index = j * RADIX3_ENTRIES + k;
			const l2Entries = Math.min(RADIX3_ENTRIES, pages - l2Index * RADIX3_ENTRIES);
			const l2 = fetch(l1View.getBigUint64(8 * k, true), 8 * l2Entries, 'L2', l2Index);
			if (!l2.ok) return l2;
			const l2View = entries(l2.bytes);
			for (let i = 0; i < l2Entries; i++, page++) {
				const address = l2View.getBigUint64(8 * i, true);
				const length = Math.min(RADIX3_PAGE, size - page * RADIX3_PAGE);
				if ((address & 0xfffn) !== 0n) return flush() ?? misaligned(address, 'page', page);
				if (runLength > 0 && address === runAddress + BigInt(runLength)) {
					runLength += length;
					continue;
				}
				const fault = flush();
				if (fault !== undefined) return fault;
				runAddress = address;
				runLength = length;
				runPage = page;
			}
			// Before the next table is read, so faults come in the page-by-page order.
			const fault = flush();
			if (fault !== undefined) return fault;
		}
	}
	return { ok: true, sha256: hash.digest(), pages };
}
