/**
 * Page-table memory: the {@link PageTableAllocator} seam, and an allocator over the platform's DMA memory.
 *
 * Page tables live wherever the allocator puts them. The DMA allocator places them in system memory
 * (coherent by default); `core` can later provide an allocator that places them in VRAM (a CPU-side shadow
 * plus {@link PageTableAllocator.sync} to copy changed bytes through BAR2).
 *
 * @module
 */

import type { DmaAllocOptions, DmaBuffer, DmaMemory } from '@gspkit/hal';
import { MmuError } from './errors.ts';
import type { TableAperture } from './formats.ts';

/** One page table's memory. */
export interface PageTableMemory {
	/** Physical (bus) address the GPU uses for the table. */
	readonly address: bigint;
	readonly aperture: TableAperture;
	/** Size in bytes (at least the table size). */
	readonly size: number;
	/**
	 * Little-endian u32 words holding the table at `wordOffset` (`size / 4` words); the VA space writes entries
	 * here. Several tables may share one `words` array (slabs), so views are not created per table.
	 */
	readonly words: Uint32Array;
	/** Index in `words` of the table's first word. */
	readonly wordOffset: number;
}

/**
 * Where page tables come from. `alloc` runs only in `prepare` (and when a VA space is created), never in
 * `commit`; `free` runs at the end of `commit` or when prepared operations are released.
 */
export interface PageTableAllocator {
	/**
	 * Allocate zero-filled table memory of `size` bytes whose address is a multiple of `align`.
	 * Throws when exhausted (any error becomes `MMU_OUT_OF_MEMORY` with the original as `cause`).
	 */
	alloc(size: number, align: number): PageTableMemory;
	/** Return memory from {@link alloc}. */
	free(memory: PageTableMemory): void;
	/**
	 * Optional: make CPU writes to bytes `[byteOffset, byteEnd)` of `memory` visible to the GPU. Called by
	 * `commit` before the TLB invalidate; must neither fail nor allocate.
	 */
	sync?(memory: PageTableMemory, byteOffset: number, byteEnd: number): void;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x11223344]).buffer)[0] === 0x44;

/** Throw unless the host is little-endian (the u32 views assume the GPU's byte order). */
export function assertLittleEndianHost(): void {
	if (!LITTLE_ENDIAN) {
		throw new MmuError(
			'MMU_UNSUPPORTED_FORMAT',
			'page tables are written as u32 views; a big-endian host is not supported',
		);
	}
}

/** Options of {@link dmaPageTableAllocator}. */
export interface DmaPageTableAllocatorOptions {
	/** Aperture the GPU reaches the DMA memory through; default `'sysCoherent'`. */
	readonly aperture?: 'sysCoherent' | 'sysNonCoherent';
	/**
	 * Carve tables out of DMA blocks of this many bytes (a power of two ≥ 4096), as nvkm's page-table cache
	 * does, instead of one DMA allocation per table. A block goes back to DMA memory when its last table is
	 * freed. Default 65536; 0 = one allocation per table.
	 */
	readonly slabBytes?: number;
	/** Label for the DMA allocations. Default `'mmu-pt'`. */
	readonly label?: string;
	/**
	 * Completely empty slabs to keep per size class instead of returning them to DMA memory at once, so a
	 * map/unmap cycle does not reallocate DMA memory (nvkm keeps a page-table cache for the same reason).
	 * Default 1; 0 returns memory immediately; {@link DmaPageTableAllocator.trim} releases kept ones.
	 */
	readonly spareSlabs?: number;
}

/** Counters of a {@link DmaPageTableAllocator}. */
export interface PageTableAllocatorStats {
	/** Live tables. */
	readonly tables: number;
	/** Bytes of live tables (as requested). */
	readonly tableBytes: number;
	/** Bytes held from DMA memory (tables plus slab slack). */
	readonly dmaBytes: number;
}

/** A {@link PageTableAllocator} over {@link DmaMemory}, with counters. */
export interface DmaPageTableAllocator extends PageTableAllocator {
	readonly stats: PageTableAllocatorStats;
	/** Return kept empty slabs to DMA memory. */
	trim(): void;
}

class Slab {
	/** Freed blocks (need zeroing before reuse). */
	readonly free: number[] = [];
	/** Blocks at or above this index have never been handed out (still zero from the DMA allocation). */
	fresh = 0;
	used = 0;
	readonly words: Uint32Array;
	readonly blocks: number;
	constructor(
		readonly buffer: DmaBuffer,
		readonly blockSize: number,
		readonly cls: SlabClass,
	) {
		this.words = u32View(buffer, 0, buffer.size);
		this.blocks = buffer.size / blockSize;
	}
	get full(): boolean {
		return this.free.length === 0 && this.fresh === this.blocks;
	}
}

interface SlabClass {
	readonly blockSize: number;
	/** Slabs with at least one free block. */
	readonly partial: Set<Slab>;
	/** Completely empty slabs kept for reuse. */
	spares: number;
	/** The slab allocations are served from while it has room. */
	current: Slab | null;
}

class TableBlock implements PageTableMemory {
	freed = false;
	constructor(
		readonly address: bigint,
		readonly aperture: TableAperture,
		readonly size: number,
		readonly words: Uint32Array,
		readonly wordOffset: number,
		readonly owner: object,
		readonly slab: Slab | null,
		readonly index: number,
		readonly direct: DmaBuffer | null,
	) {}
}

function u32View(buf: DmaBuffer, byteOffset: number, size: number): Uint32Array {
	const b = buf.bytes;
	if ((b.byteOffset + byteOffset) % 4 !== 0) {
		throw new MmuError('MMU_INVALID_ARGUMENT', 'DMA buffer is not 4-byte aligned in host memory');
	}
	return new Uint32Array(b.buffer, b.byteOffset + byteOffset, size / 4);
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/**
 * Page tables in DMA (system) memory. With slabs (the default), each table of size/alignment class
 * `max(size, align)` is a block of a `slabBytes` DMA allocation.
 */
export function dmaPageTableAllocator(
	dma: DmaMemory,
	options: DmaPageTableAllocatorOptions = {},
): DmaPageTableAllocator {
	assertLittleEndianHost();
	const aperture = options.aperture ?? 'sysCoherent';
	const slabBytes = options.slabBytes ?? 65536;
	const label = options.label ?? 'mmu-pt';
	const spareSlabs = options.spareSlabs ?? 1;
	if (slabBytes !== 0 && (!isPow2(slabBytes) || slabBytes < 4096)) {
		throw new MmuError(
			'MMU_INVALID_ARGUMENT',
			`slabBytes must be 0 or a power of two >= 4096, not ${slabBytes}`,
		);
	}
	const owner = {};
	const classes = new Map<number, SlabClass>();
	let tables = 0;
	let tableBytes = 0;
	let dmaBytes = 0;

	const alloc = (size: number, align: number): PageTableMemory => {
		if (!isPow2(align) || size <= 0 || size % 4 !== 0) {
			throw new MmuError('MMU_INVALID_ARGUMENT', `bad page-table allocation ${size} bytes / align ${align}`);
		}
		const blockSize = size <= align ? align : 2 ** (32 - Math.clz32(size - 1));
		if (slabBytes === 0 || blockSize > slabBytes / 2) {
			const buf = dma.alloc(size, { align, zero: true, label });
			tables++;
			tableBytes += size;
			dmaBytes += buf.size;
			return new TableBlock(buf.busAddress, aperture, size, u32View(buf, 0, size), 0, owner, null, 0, buf);
		}
		let cls = classes.get(blockSize);
		if (cls === undefined) {
			cls = { blockSize, partial: new Set(), spares: 0, current: null };
			classes.set(blockSize, cls);
		}
		let slab: Slab | null = cls.current;
		if (slab === null || slab.full) {
			slab = null;
			for (const x of cls.partial) {
				slab = x;
				break;
			}
		}
		if (slab === null) {
			const buf = dma.alloc(slabBytes, { align: Math.max(blockSize, 4096), zero: true, label });
			dmaBytes += buf.size;
			slab = new Slab(buf, blockSize, cls);
			cls.partial.add(slab);
		} else if (slab.used === 0) cls.spares--;
		cls.current = slab;
		let index: number;
		const reused = slab.free.pop();
		if (reused !== undefined) {
			index = reused;
			slab.words.fill(0, (index * blockSize) / 4, (index * blockSize + size) / 4);
		} else index = slab.fresh++;
		slab.used++;
		if (slab.full) cls.partial.delete(slab);
		const wordOffset = (index * blockSize) / 4;
		tables++;
		tableBytes += size;
		return new TableBlock(
			slab.buffer.busAddress + BigInt(index * blockSize),
			aperture,
			size,
			slab.words,
			wordOffset,
			owner,
			slab,
			index,
			null,
		);
	};

	const free = (memory: PageTableMemory): void => {
		if (!(memory instanceof TableBlock) || memory.owner !== owner || memory.freed) {
			throw new MmuError(
				'MMU_INVALID_ARGUMENT',
				'freeing page-table memory this allocator did not allocate, or twice',
			);
		}
		memory.freed = true;
		tables--;
		tableBytes -= memory.size;
		if (memory.direct !== null) {
			dmaBytes -= memory.direct.size;
			dma.free(memory.direct);
			return;
		}
		const slab = memory.slab as Slab;
		slab.free.push(memory.index);
		slab.used--;
		if (slab.used === 0 && slab.cls.spares >= spareSlabs) {
			slab.cls.partial.delete(slab);
			if (slab.cls.current === slab) slab.cls.current = null;
			dmaBytes -= slab.buffer.size;
			dma.free(slab.buffer);
			return;
		}
		if (slab.used === 0) slab.cls.spares++;
		slab.cls.partial.add(slab);
	};

	const trim = (): void => {
		for (const cls of classes.values()) {
			for (const slab of [...cls.partial]) {
				if (slab.used !== 0) continue;
				cls.partial.delete(slab);
				if (cls.current === slab) cls.current = null;
				cls.spares--;
				dmaBytes -= slab.buffer.size;
				dma.free(slab.buffer);
			}
		}
	};

	return {
		alloc,
		free,
		trim,
		get stats(): PageTableAllocatorStats {
			return { tables, tableBytes, dmaBytes };
		},
	};
}

/**
 * Host memory that looks like DMA memory, with synthetic bus addresses handed out upwards from `base` and
 * never reused. Nothing here is visible to a GPU: it is for building tables offline, tools, tests and examples.
 */
class HostMemory implements DmaMemory {
	#next: bigint;
	readonly #live = new Set<DmaBuffer>();
	#bytes = 0;
	constructor(base: bigint) {
		this.#next = base;
	}
	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		const align = BigInt(options.align ?? 4096);
		const busAddress = ((this.#next + align - 1n) / align) * align;
		this.#next = busAddress + BigInt(size);
		const sab = new SharedArrayBuffer(size);
		const buf = {
			busAddress,
			size,
			bytes: new Uint8Array(sab),
			view: new DataView(sab),
			label: options.label ?? '',
		};
		this.#live.add(buf);
		this.#bytes += size;
		return buf;
	}
	free(buffer: DmaBuffer): void {
		if (!this.#live.delete(buffer))
			throw new MmuError('MMU_INVALID_ARGUMENT', 'freeing host memory twice or not ours');
		this.#bytes -= buffer.size;
	}
	get bytesInUse(): number {
		return this.#bytes;
	}
	get liveAllocations(): number {
		return this.#live.size;
	}
}

/**
 * Page tables in plain host memory with synthetic addresses from `baseAddress` (default 4 GiB), e.g. to build
 * and inspect tables without a device, in tools and examples.
 */
export function hostPageTableAllocator(
	options: DmaPageTableAllocatorOptions & { readonly baseAddress?: bigint } = {},
): DmaPageTableAllocator {
	return dmaPageTableAllocator(new HostMemory(options.baseAddress ?? 0x1_0000_0000n), options);
}
