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
	 * Allocate table memory of `size` bytes whose address is a multiple of `align`, zero-filled unless
	 * `zero` is `false`: then the bytes may be stale (e.g. a reused block), because the caller writes every
	 * word before the table becomes reachable — the VA space does so for every table it creates in
	 * `prepare`, and skipping the zeroing halves the memory traffic of a large map. Allocators may ignore
	 * the flag and always zero. Throws when exhausted (any error becomes `MMU_OUT_OF_MEMORY` with the
	 * original as `cause`).
	 */
	alloc(size: number, align: number, zero?: boolean): PageTableMemory;
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
	/** Freed blocks below `next` while others are still in use; handed out first. */
	readonly free: number[] = [];
	/**
	 * Bump pointer: blocks at or above it are neither in use nor in `free`. Reset to 0 when the slab empties,
	 * so a refilled slab hands out blocks in address order again (the VA space then writes neighbouring
	 * tables as one run).
	 */
	next = 0;
	used = 0;
	readonly words: Uint32Array;
	readonly blocks: number;
	/** `buffer.busAddress` as a number (exact: bus addresses are below 2^53). */
	readonly base: number;
	constructor(
		readonly buffer: DmaBuffer,
		readonly blockSize: number,
		readonly cls: SlabClass,
	) {
		this.words = u32View(buffer, 0, buffer.size);
		this.blocks = buffer.size / blockSize;
		this.base = Number(buffer.busAddress);
		if (!Number.isSafeInteger(this.base + buffer.size)) {
			throw new MmuError('MMU_INVALID_ARGUMENT', 'DMA bus address beyond 2^53');
		}
	}
	get full(): boolean {
		return this.free.length === 0 && this.next === this.blocks;
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

	const alloc = (size: number, align: number, zero = true): PageTableMemory => {
		if (!isPow2(align) || size <= 0 || size % 4 !== 0) {
			throw new MmuError('MMU_INVALID_ARGUMENT', `bad page-table allocation ${size} bytes / align ${align}`);
		}
		const blockSize = size <= align ? align : 2 ** (32 - Math.clz32(size - 1));
		if (slabBytes === 0 || blockSize > slabBytes / 2) {
			const buf = dma.alloc(size, { align, zero, label });
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
			const buf = dma.alloc(slabBytes, { align: Math.max(blockSize, 4096), zero: false, label });
			try {
				slab = new Slab(buf, blockSize, cls);
			} catch (e) {
				dma.free(buf);
				throw e;
			}
			dmaBytes += buf.size;
			cls.partial.add(slab);
		} else if (slab.used === 0) cls.spares--;
		cls.current = slab;
		const reused = slab.free.pop();
		const index = reused ?? slab.next++;
		// Slabs come from DMA memory unzeroed (most tables need no zeroing): clear just the blocks asked for.
		if (zero) slab.words.fill(0, (index * blockSize) / 4, (index * blockSize + size) / 4);
		slab.used++;
		if (slab.full) cls.partial.delete(slab);
		const wordOffset = (index * blockSize) / 4;
		tables++;
		tableBytes += size;
		return new TableBlock(
			BigInt(slab.base + index * blockSize),
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
		slab.used--;
		if (slab.used === 0) {
			slab.free.length = 0;
			slab.next = 0;
		} else slab.free.push(memory.index);
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
 * Host memory that looks like DMA memory, with synthetic bus addresses handed out upwards from `base`.
 * Nothing here is visible to a GPU: it is for building tables offline, tools, tests and examples.
 *
 * Like a DMA pool (and like a malloc heap), freed buffers are kept and handed out again — zeroed unless the
 * caller says it does not need it — for later allocations of the same size, under the same bus address:
 * a fresh `SharedArrayBuffer` per allocation would cost page faults on first touch and would only be
 * returned to the system by a later garbage collection. {@link HostMemory.release} drops the kept ones.
 */
class HostMemory implements DmaMemory {
	#next: bigint;
	readonly #live = new Set<DmaBuffer>();
	/** Freed buffers by size (most recently freed last). */
	readonly #kept = new Map<number, DmaBuffer[]>();
	#bytes = 0;
	constructor(base: bigint) {
		this.#next = base;
	}
	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		const align = options.align ?? 4096;
		const label = options.label ?? '';
		const kept = this.#kept.get(size);
		if (kept !== undefined) {
			for (let i = kept.length - 1; i >= 0; i--) {
				const old = kept[i] as DmaBuffer;
				if (old.busAddress % BigInt(align) !== 0n) continue;
				kept.splice(i, 1);
				if (options.zero ?? true) old.bytes.fill(0);
				// A new object: the freed one stays freed (a second free of it is still caught).
				return this.#add({ busAddress: old.busAddress, size, bytes: old.bytes, view: old.view, label });
			}
		}
		const a = BigInt(align);
		const busAddress = ((this.#next + a - 1n) / a) * a;
		this.#next = busAddress + BigInt(size);
		const sab = new SharedArrayBuffer(size);
		return this.#add({ busAddress, size, bytes: new Uint8Array(sab), view: new DataView(sab), label });
	}
	#add(buf: DmaBuffer): DmaBuffer {
		this.#live.add(buf);
		this.#bytes += buf.size;
		return buf;
	}
	free(buffer: DmaBuffer): void {
		if (!this.#live.delete(buffer))
			throw new MmuError('MMU_INVALID_ARGUMENT', 'freeing host memory twice or not ours');
		this.#bytes -= buffer.size;
		let kept = this.#kept.get(buffer.size);
		if (kept === undefined) {
			kept = [];
			this.#kept.set(buffer.size, kept);
		}
		kept.push(buffer);
	}
	/** Drop the kept freed buffers (their memory goes back to the system at the next garbage collection). */
	release(): void {
		this.#kept.clear();
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
 * and inspect tables without a device, in tools and examples. Host memory freed by the allocator is kept for
 * reuse, as a heap keeps freed memory; `trim()` releases it along with the spare slabs.
 */
export function hostPageTableAllocator(
	options: DmaPageTableAllocatorOptions & { readonly baseAddress?: bigint } = {},
): DmaPageTableAllocator {
	const host = new HostMemory(options.baseAddress ?? 0x1_0000_0000n);
	const inner = dmaPageTableAllocator(host, options);
	return {
		alloc: inner.alloc,
		free: inner.free,
		trim(): void {
			inner.trim();
			host.release();
		},
		get stats(): PageTableAllocatorStats {
			return inner.stats;
		},
	};
}
