/**
 * How the engines reach memory: a physical port ({@link EngineMemory}) for USERD and the instance block, and a
 * per-channel view that translates every GPU virtual address through the simulated MMU, page by page.
 *
 * @module
 */

import { GspkitError, hex } from '@gspkit/hal';
import {
	denial,
	type GpuMmu,
	type LeafEntry,
	type MmuAccess,
	type PageAperture,
	type PageDirectoryBase,
	type TableAperture,
} from '../mmu/index.ts';
import { stop } from './stop.ts';
import type { EngineClient, EngineMemory, EngineName } from './types.ts';

/** The parts of a `SimulatedGpu` {@link simulatedGpuMemory} needs (structural, so tests can pass fakes). */
export interface SimulatedGpuMemorySource {
	readonly fb: { read(offset: bigint, dst: Uint8Array): void; write(offset: bigint, src: Uint8Array): void };
	readonly dma: {
		findAllocation(busAddress: bigint): { readonly busAddress: bigint; readonly size: number } | undefined;
	};
	dmaRead(busAddress: bigint, length: number): Uint8Array;
	dmaWrite(busAddress: bigint, bytes: Uint8Array): void;
}

/**
 * The engines' physical memory over a simulated GPU: VRAM by offset, system memory by bus address through
 * device DMA (so bus mastering must be on, and unbacked addresses fault like an IOMMU would). An access that
 * spans two DMA allocations that happen to be adjacent is split at the allocation boundary, because the IOMMU
 * maps pages, not allocations.
 */
export function simulatedGpuMemory(gpu: SimulatedGpuMemorySource): EngineMemory {
	/** Bytes from `at` that stay inside one DMA allocation (all of them when none: the access faults itself). */
	const room = (at: bigint, left: number): number => {
		const alloc = gpu.dma.findAllocation(at);
		const r = alloc === undefined ? left : Number(alloc.busAddress + BigInt(alloc.size) - at);
		return Math.max(1, Math.min(left, r));
	};
	return {
		read(aperture, pa, dst) {
			if (aperture === 'video') {
				gpu.fb.read(pa, dst);
				return;
			}
			for (let pos = 0; pos < dst.length; ) {
				const at = pa + BigInt(pos);
				const len = room(at, dst.length - pos);
				dst.set(gpu.dmaRead(at, len), pos);
				pos += len;
			}
		},
		write(aperture, pa, src) {
			if (aperture === 'video') {
				gpu.fb.write(pa, src);
				return;
			}
			for (let pos = 0; pos < src.length; ) {
				const at = pa + BigInt(pos);
				const len = room(at, src.length - pos);
				gpu.dmaWrite(at, len === src.length ? src : src.subarray(pos, pos + len));
				pos += len;
			}
		},
	};
}

/**
 * Run a physical access, turning a platform error into a `'memory'` channel error described by `what()` (built
 * only on failure: this is on every access path).
 */
export function physical<T>(engine: EngineName, what: () => string, fn: () => T): T {
	try {
		return fn();
	} catch (e) {
		if (e instanceof GspkitError) {
			return stop({ kind: 'memory', engine, detail: `${what()}: ${e.message}` });
		}
		throw e;
	}
}

/**
 * {@link physical} for one read or write without closures (the engines' hot paths): the same `'memory'`
 * channel error, described as `<prefix> at <aperture> <pa>`.
 */
export function physicalAccess(
	memory: EngineMemory,
	engine: EngineName,
	prefix: string,
	dir: 'read' | 'write',
	aperture: TableAperture,
	pa: bigint,
	bytes: Uint8Array,
): void {
	try {
		if (dir === 'read') memory.read(aperture, pa, bytes);
		else memory.write(aperture, pa, bytes);
	} catch (e) {
		if (e instanceof GspkitError) {
			stop({ kind: 'memory', engine, detail: `${prefix} at ${aperture} ${hex(pa, 10)}: ${e.message}` });
		}
		throw e;
	}
}

/** Options of a {@link ChannelAddressSpace}. */
export interface AddressSpaceOptions {
	readonly mmu: GpuMmu;
	readonly memory: EngineMemory;
	readonly pdb: PageDirectoryBase;
	/** The channel is privileged (may touch PTEs with PRIVILEGE set). */
	readonly privileged: boolean;
	/** What a write to a sparse page does: fault (default) or vanish. Reads of sparse pages return zeros. */
	readonly sparseWrites: 'fault' | 'drop';
}

/**
 * One channel's GPU virtual address space. Every access is translated through the MMU (its TLB included); a
 * fault stops the channel with a `'mmu-fault'` error naming the engine and client.
 */
export class ChannelAddressSpace {
	readonly #o: AddressSpaceOptions;
	/**
	 * Pages this space used lately, per 4 KiB (a few, replaced in turn): a copy of the TLB's entry, valid
	 * while the TLB's generation is the one recorded. Every page size is a multiple of 4 KiB, so while the TLB
	 * is unchanged a lookup anywhere in the 4 KiB page returns this entry: using the copy is the same
	 * translation, counted as the same TLB hit. Anything else (a miss, a fault, a sparse page, an access
	 * crossing 4 KiB) takes the full translation.
	 */
	readonly #pages: RecentPage[] = [];
	/** The slot the next remembered page replaces, once all are used. */
	#next = 0;

	constructor(options: AddressSpaceOptions) {
		this.#o = options;
	}

	/** The page directory this space translates through. */
	get pdb(): PageDirectoryBase {
		return this.#o.pdb;
	}

	/** Whether this space is the one `options` describe (same tables, privilege and sparse-write rule). */
	sameAs(options: AddressSpaceOptions): boolean {
		const a = this.#o;
		const p = options.pdb;
		return (
			a.mmu === options.mmu &&
			a.memory === options.memory &&
			a.privileged === options.privileged &&
			a.sparseWrites === options.sparseWrites &&
			a.pdb.aperture === p.aperture &&
			a.pdb.address === p.address &&
			a.pdb.bigPageSize === p.bigPageSize &&
			a.pdb.useVer2PtFormat === p.useVer2PtFormat
		);
	}

	/** Read `dst.length` bytes at `va`. Sparse pages read as zeros. */
	read(va: bigint, dst: Uint8Array, engine: EngineName, client: EngineClient): void {
		const page = this.#recent(va, dst.length, 'read');
		if (page !== undefined) {
			this.#phys(engine, client, 'read', page.aperture, page.base + (va & page.mask), dst);
			return;
		}
		const segments = this.#translate(va, dst.length, 'read', engine, client);
		let pos = 0;
		for (const s of segments) {
			const part = s.length === dst.length ? dst : dst.subarray(pos, pos + s.length);
			if (s.sparse) part.fill(0);
			else this.#phys(engine, client, 'read', s.aperture, s.pa, part);
			pos += s.length;
		}
		this.#remember(va, dst.length);
	}

	/** Write `src` at `va` (`access` `'atomic'` for reductions, so ATOMIC_DISABLE pages fault). */
	write(
		va: bigint,
		src: Uint8Array,
		engine: EngineName,
		client: EngineClient,
		access: MmuAccess = 'write',
	): void {
		const page = this.#recent(va, src.length, access);
		if (page !== undefined) {
			this.#phys(engine, client, 'write', page.aperture, page.base + (va & page.mask), src);
			return;
		}
		const segments = this.#translate(va, src.length, access, engine, client);
		let pos = 0;
		for (const s of segments) {
			if (!s.sparse) {
				const part = s.length === src.length ? src : src.subarray(pos, pos + s.length);
				this.#phys(engine, client, 'write', s.aperture, s.pa, part);
			}
			pos += s.length;
		}
		this.#remember(va, src.length);
	}

	/** Read-modify-write of `length` bytes at `va` as one atomic access (translated once for `'atomic'`). */
	atomic(
		va: bigint,
		length: number,
		engine: EngineName,
		client: EngineClient,
		update: (old: Uint8Array) => Uint8Array,
	): void {
		const page = this.#recent(va, length, 'atomic');
		if (page !== undefined) {
			const pa = page.base + (va & page.mask);
			const old = new Uint8Array(length);
			this.#phys(engine, client, 'read', page.aperture, pa, old);
			this.#phys(engine, client, 'write', page.aperture, pa, update(old));
			return;
		}
		const segments = this.#translate(va, length, 'atomic', engine, client);
		const old = new Uint8Array(length);
		let pos = 0;
		for (const s of segments) {
			if (!s.sparse) this.#phys(engine, client, 'read', s.aperture, s.pa, old.subarray(pos, pos + s.length));
			pos += s.length;
		}
		const next = update(old);
		pos = 0;
		for (const s of segments) {
			if (!s.sparse)
				this.#phys(engine, client, 'write', s.aperture, s.pa, next.subarray(pos, pos + s.length));
			pos += s.length;
		}
		this.#remember(va, length);
	}

	/**
	 * The remembered page for an access of `length` bytes at `va` inside one 4 KiB page, if the TLB has not
	 * changed since and the page allows `access`; it counts the TLB hit the full translation would count.
	 */
	#recent(va: bigint, length: number, access: MmuAccess): RecentPage | undefined {
		if (length <= 0 || Number(va & SMALL_PAGE_MASK) + length > SMALL_PAGE) return undefined;
		const number = va >> SMALL_PAGE_SHIFT;
		const pages = this.#pages;
		let page: RecentPage | undefined;
		for (let i = 0; i < pages.length; i++) {
			const p = pages[i] as RecentPage;
			if (p.number === number) {
				page = p;
				break;
			}
		}
		const tlb = this.#o.mmu.tlb;
		if (page === undefined || page.generation !== tlb.generation) return undefined;
		if (denial(page.leaf, access, this.#o.privileged) !== undefined) return undefined;
		tlb.recordHit();
		return page;
	}

	/** After a full translation of an access inside one 4 KiB page: remember the page the TLB now holds. */
	#remember(va: bigint, length: number): void {
		if (length <= 0 || Number(va & SMALL_PAGE_MASK) + length > SMALL_PAGE) return;
		const mmu = this.#o.mmu;
		const leaf = mmu.cachedPage(this.#o.pdb, va);
		if (leaf === undefined || leaf.aperture === 'peer') return;
		const number = va >> SMALL_PAGE_SHIFT;
		const page: RecentPage = {
			number,
			generation: mmu.tlb.generation,
			leaf,
			aperture: leaf.aperture,
			base: leaf.base,
			mask: (1n << BigInt(leaf.pageShift)) - 1n,
		};
		const pages = this.#pages;
		const same = pages.findIndex((p) => p.number === number);
		if (same >= 0) pages[same] = page;
		else if (pages.length < RECENT_PAGES) pages.push(page);
		else {
			pages[this.#next] = page;
			this.#next = (this.#next + 1) % RECENT_PAGES;
		}
	}

	#translate(
		va: bigint,
		length: number,
		access: MmuAccess,
		engine: EngineName,
		client: EngineClient,
	): readonly Segment[] {
		const r = this.#o.mmu.translateRange(this.#o.pdb, va, length, access, { privileged: this.#o.privileged });
		if (!r.ok) {
			return stop({
				kind: 'mmu-fault',
				engine,
				detail: `${engine} ${client} ${access} at ${hex(r.fault.va, 10)}: ${r.fault.reason} (${r.fault.faultTypeName})`,
				mmuFault: { fault: r.fault, client },
			});
		}
		if (access !== 'read' && this.#o.sparseWrites === 'fault') {
			for (const s of r.segments) {
				if (!s.sparse) continue;
				// Ask the MMU again for the page's own fault record (type, level, entry).
				const t = this.#o.mmu.translate(this.#o.pdb, s.va, access, { privileged: this.#o.privileged });
				if (!t.ok) {
					return stop({
						kind: 'mmu-fault',
						engine,
						detail: `${engine} ${client} ${access} to sparse page at ${hex(s.va, 10)}`,
						mmuFault: { fault: t.fault, client },
					});
				}
			}
		}
		return r.segments as readonly Segment[];
	}

	#phys(
		engine: EngineName,
		client: EngineClient,
		dir: 'read' | 'write',
		aperture: PageAperture,
		pa: bigint,
		bytes: Uint8Array,
	): void {
		if (aperture === 'peer') {
			stop({
				kind: 'memory',
				engine,
				detail: `${engine} ${client} ${dir} at peer address ${hex(pa, 10)}: peer memory is not modelled`,
			});
		}
		physicalAccess(this.#o.memory, engine, `${engine} ${client} ${dir}`, dir, aperture, pa, bytes);
	}
}

const SMALL_PAGE_SHIFT = 12n;
const SMALL_PAGE = 4096;
const SMALL_PAGE_MASK = 0xfffn;
/** Remembered pages per space: a job touches a handful (ring, pushbuffer, semaphores, copy source/destination). */
const RECENT_PAGES = 8;

/** A page of a {@link ChannelAddressSpace}, as the TLB held it at `generation`. */
interface RecentPage {
	/** VA >> 12. */
	readonly number: bigint;
	readonly generation: number;
	readonly leaf: LeafEntry;
	readonly aperture: TableAperture;
	readonly base: bigint;
	/** Offset mask of the (possibly larger) page. */
	readonly mask: bigint;
}

type Segment =
	| {
			readonly sparse: false;
			readonly va: bigint;
			readonly length: number;
			readonly aperture: PageAperture;
			readonly pa: bigint;
	  }
	| { readonly sparse: true; readonly va: bigint; readonly length: number };
