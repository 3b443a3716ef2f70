/**
 * Radix3 tables over the GSP `.fwimage` (hardware reference A.6): 4 KiB pages of 512 little-endian u64 DMA
 * addresses. L0 is one page whose entries point to the L1 pages; L1 entries point to the L2 pages; L2
 * entries point to the 4 KiB pages of the image. `GspFwWprMeta.sysmemAddrOfRadix3Elf` is the L0 address and
 * `sizeOfRadix3Elf` the image size; booter walks the tables to find the image.
 *
 * {@link loadRadix3Image} copies the image into DMA memory exactly once (in chunks of whole pages, so the
 * image need not be physically contiguous) and builds the tables in a separate DMA buffer; the builder
 * ({@link buildRadix3Tables}) and the walker ({@link walkRadix3}) are pure.
 *
 * @module
 */

import { type DmaBuffer, type DmaMemory, hex } from '@gspkit/hal';
import { Radix3Error } from './errors.ts';

/** Page size of the radix3 tables and of the image pages. */
export const RADIX3_PAGE_SIZE = 4096;
/** u64 entries per table page. */
export const RADIX3_ENTRIES_PER_PAGE = RADIX3_PAGE_SIZE / 8;
/** Default size of each DMA chunk the image is copied into. */
export const RADIX3_DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

/** How many pages each level needs for an image. */
export interface Radix3Geometry {
	/** Image size in bytes. */
	readonly imageSize: number;
	/** 4 KiB pages of the image. */
	readonly imagePages: number;
	/** L2 table pages (one entry per image page). */
	readonly l2Pages: number;
	/** L1 table pages (one entry per L2 page). */
	readonly l1Pages: number;
	/** L0 table pages (always 1). */
	readonly l0Pages: 1;
	/** Table pages in total: L0, then L1, then L2, in that order in the table buffer. */
	readonly tablePages: number;
}

/** The number of pages of each level for an image of `imageSize` bytes. @throws Radix3Error if it needs more than one L0 page. */
export function radix3Geometry(imageSize: number): Radix3Geometry {
	if (!Number.isSafeInteger(imageSize) || imageSize <= 0) {
		throw new Radix3Error(`image size ${imageSize} must be a positive integer`, { imageSize });
	}
	const imagePages = Math.ceil(imageSize / RADIX3_PAGE_SIZE);
	const l2Pages = Math.ceil(imagePages / RADIX3_ENTRIES_PER_PAGE);
	const l1Pages = Math.ceil(l2Pages / RADIX3_ENTRIES_PER_PAGE);
	if (l1Pages > RADIX3_ENTRIES_PER_PAGE) {
		throw new Radix3Error(`an image of ${imageSize} bytes needs more than one L0 page`, {
			imageSize,
			l1Pages,
		});
	}
	return { imageSize, imagePages, l2Pages, l1Pages, l0Pages: 1, tablePages: 1 + l1Pages + l2Pages };
}

/**
 * Write the three levels into `table` (at least `geometry.tablePages` pages; zero it first for clean unused
 * entries), which the device sees at `tableBase`. `pageAddress(i)` is the DMA address of image page `i`.
 * Layout: L0 at page 0, L1 at pages 1…, L2 after L1.
 */
export function buildRadix3Tables(
	table: Uint8Array,
	tableBase: bigint,
	geometry: Radix3Geometry,
	pageAddress: (page: number) => bigint,
): void {
	const need = geometry.tablePages * RADIX3_PAGE_SIZE;
	if (table.length < need) {
		throw new Radix3Error(`radix3 table buffer holds ${table.length} bytes, needs ${need}`, {
			size: table.length,
			need,
		});
	}
	if (tableBase % BigInt(RADIX3_PAGE_SIZE) !== 0n) {
		throw new Radix3Error(`radix3 table base ${hex(tableBase, 1)} is not 4 KiB aligned`, {
			tableBase: hex(tableBase, 1),
		});
	}
	const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
	const page = (p: number) => tableBase + BigInt(p * RADIX3_PAGE_SIZE);
	const l1First = 1;
	const l2First = 1 + geometry.l1Pages;
	for (let i = 0; i < geometry.l1Pages; i++) view.setBigUint64(i * 8, page(l1First + i), true);
	for (let i = 0; i < geometry.l2Pages; i++)
		view.setBigUint64(l1First * RADIX3_PAGE_SIZE + i * 8, page(l2First + i), true);
	for (let i = 0; i < geometry.imagePages; i++) {
		const a = pageAddress(i);
		view.setBigUint64(l2First * RADIX3_PAGE_SIZE + i * 8, a, true);
	}
}

/**
 * Walk radix3 tables the way booter does and return the DMA address of every image page. `read(address,
 * length)` reads device-visible memory. Each entry must be a non-zero, 4 KiB-aligned address.
 * @throws Radix3Error naming the level, index and value of the first bad entry.
 */
export function walkRadix3(
	read: (address: bigint, length: number) => Uint8Array,
	l0Address: bigint,
	imageSize: number,
): bigint[] {
	const g = radix3Geometry(imageSize);
	const entries = (address: bigint, count: number, level: string): bigint[] => {
		const bytes = read(address, count * 8);
		const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		const out: bigint[] = [];
		for (let i = 0; i < count; i++) {
			const e = v.getBigUint64(i * 8, true);
			if (e === 0n || e % BigInt(RADIX3_PAGE_SIZE) !== 0n) {
				throw new Radix3Error(
					`radix3 ${level} entry ${i} at ${hex(address + BigInt(i * 8), 1)} is ${hex(e, 1)}: not a 4 KiB-aligned page address`,
					{
						level,
						index: i,
						entryAddress: hex(address + BigInt(i * 8), 1),
						value: hex(e, 1),
					},
				);
			}
			out.push(e);
		}
		return out;
	};
	const l1 = entries(l0Address, g.l1Pages, 'L0');
	const l2: bigint[] = [];
	for (let i = 0; i < l1.length; i++) {
		const n = Math.min(RADIX3_ENTRIES_PER_PAGE, g.l2Pages - i * RADIX3_ENTRIES_PER_PAGE);
		l2.push(...entries(l1[i] as bigint, n, `L1[${i}]`));
	}
	const pages: bigint[] = [];
	for (let i = 0; i < l2.length; i++) {
		const n = Math.min(RADIX3_ENTRIES_PER_PAGE, g.imagePages - i * RADIX3_ENTRIES_PER_PAGE);
		for (const p of entries(l2[i] as bigint, n, `L2[${i}]`)) pages.push(p);
	}
	return pages;
}

/** An image in DMA memory with its radix3 tables. */
export interface Radix3Image {
	/** The table buffer: L0 at its start. */
	readonly table: DmaBuffer;
	/** The image, in page-aligned chunks (in order). */
	readonly chunks: readonly DmaBuffer[];
	/** DMA address of L0 (`sysmemAddrOfRadix3Elf`). */
	readonly l0Address: bigint;
	/** Image size in bytes (`sizeOfRadix3Elf`). */
	readonly size: number;
	readonly geometry: Radix3Geometry;
	/** DMA address of image page `i`. */
	pageAddress(page: number): bigint;
}

/** A source of image bytes that is not in memory (e.g. a file read straight into DMA memory). */
export interface Radix3ImageReader {
	/** Image size in bytes. */
	readonly size: number;
	/** Fill `into` with the image bytes starting at `offset`. */
	read(into: Uint8Array, offset: number): Promise<void>;
}

/** Options of {@link loadRadix3Image}. */
export interface Radix3LoadOptions {
	/** Bytes per DMA chunk (a multiple of 4 KiB; default {@link RADIX3_DEFAULT_CHUNK_SIZE}). */
	readonly chunkSize?: number;
	/** Progress while copying: bytes copied so far and the total. */
	readonly onProgress?: (bytesDone: number, bytesTotal: number) => void | Promise<void>;
	/** Bytes copied between progress reports (default 4 MiB). */
	readonly progressStep?: number;
	/** Label prefix of the DMA allocations. */
	readonly label?: string;
}

/**
 * Copy `image` into DMA memory once (page-aligned chunks) and build its radix3 tables in another DMA
 * buffer. A {@link Radix3ImageReader} is read straight into the DMA chunks (no intermediate copy). On
 * failure every allocation is freed.
 * @throws Radix3Error, the reader's errors, and the platform's out-of-memory error.
 */
export async function loadRadix3Image(
	dma: DmaMemory,
	image: Uint8Array | Radix3ImageReader,
	options: Radix3LoadOptions = {},
): Promise<Radix3Image> {
	const imageSize = image instanceof Uint8Array ? image.length : image.size;
	const geometry = radix3Geometry(imageSize);
	const chunkSize = options.chunkSize ?? RADIX3_DEFAULT_CHUNK_SIZE;
	if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize % RADIX3_PAGE_SIZE !== 0) {
		throw new Radix3Error(`chunk size ${chunkSize} must be a positive multiple of 4096`, { chunkSize });
	}
	const label = options.label ?? 'gsp-fwimage';
	const step = Math.max(RADIX3_PAGE_SIZE, options.progressStep ?? 4 * 1024 * 1024);
	const chunks: DmaBuffer[] = [];
	let table: DmaBuffer | undefined;
	try {
		const padded = geometry.imagePages * RADIX3_PAGE_SIZE;
		for (let off = 0; off < padded; off += chunkSize) {
			const size = Math.min(chunkSize, padded - off);
			chunks.push(
				dma.alloc(size, { align: RADIX3_PAGE_SIZE, zero: false, label: `${label}[${chunks.length}]` }),
			);
		}
		await options.onProgress?.(0, imageSize);
		for (let c = 0; c < chunks.length; c++) {
			const buf = chunks[c] as DmaBuffer;
			const start = c * chunkSize;
			const end = Math.min(start + buf.size, imageSize);
			for (let pos = start; pos < end; pos += step) {
				const to = Math.min(pos + step, end);
				if (image instanceof Uint8Array) buf.bytes.set(image.subarray(pos, to), pos - start);
				else await image.read(buf.bytes.subarray(pos - start, to - start), pos);
				if (options.onProgress !== undefined && to < imageSize) await options.onProgress(to, imageSize);
			}
			// Zero the tail of the last page (allocated without zeroing).
			if (end - start < buf.size) buf.bytes.fill(0, end - start);
		}
		await options.onProgress?.(imageSize, imageSize);
		table = dma.alloc(geometry.tablePages * RADIX3_PAGE_SIZE, {
			align: RADIX3_PAGE_SIZE,
			zero: true,
			label: `${label}-radix3`,
		});
		const pagesPerChunk = chunkSize / RADIX3_PAGE_SIZE;
		const pageAddress = (page: number): bigint => {
			const chunk = chunks[Math.floor(page / pagesPerChunk)] as DmaBuffer;
			return chunk.busAddress + BigInt((page % pagesPerChunk) * RADIX3_PAGE_SIZE);
		};
		buildRadix3Tables(table.bytes, table.busAddress, geometry, pageAddress);
		return { table, chunks, l0Address: table.busAddress, size: imageSize, geometry, pageAddress };
	} catch (e) {
		for (const c of chunks) dma.free(c);
		if (table !== undefined) dma.free(table);
		throw e;
	}
}

/**
 * Read radix3 tables back from CPU-visible DMA buffers (`buffers`) and check they describe `image` page by
 * page. Used to verify a build, and by tests to catch a corrupted entry.
 * @throws Radix3Error naming the bad entry, or the first page whose contents differ.
 */
export function verifyRadix3(buffers: readonly DmaBuffer[], l0Address: bigint, image: Uint8Array): void {
	const read = (address: bigint, length: number): Uint8Array => {
		for (const b of buffers) {
			if (address >= b.busAddress && address + BigInt(length) <= b.busAddress + BigInt(b.size)) {
				const off = Number(address - b.busAddress);
				return b.bytes.subarray(off, off + length);
			}
		}
		throw new Radix3Error(`radix3 points at ${hex(address, 1)}, which no buffer of the image covers`, {
			address: hex(address, 1),
			length,
		});
	};
	const pages = walkRadix3(read, l0Address, image.length);
	for (let i = 0; i < pages.length; i++) {
		const n = Math.min(RADIX3_PAGE_SIZE, image.length - i * RADIX3_PAGE_SIZE);
		const got = read(pages[i] as bigint, n);
		const want = image.subarray(i * RADIX3_PAGE_SIZE, i * RADIX3_PAGE_SIZE + n);
		if (Buffer.compare(got, want) !== 0) {
			throw new Radix3Error(
				`image page ${i} at ${hex(pages[i] as bigint, 1)} does not hold the image's bytes`,
				{
					page: i,
					address: hex(pages[i] as bigint, 1),
				},
			);
		}
	}
}
