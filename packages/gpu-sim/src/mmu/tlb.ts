/**
 * The TLB model and the register-based invalidate the driver uses.
 *
 * Per page directory (PDB) the model keeps a leaf cache (pages and sparse ranges, keyed by page size and
 * VA page number) and one PDE cache per directory level (table pointers, keyed by VA prefix). Nothing is
 * dropped on its own: an entry stays until an invalidate covers it, so a driver that rewrites a PTE and does
 * not invalidate keeps seeing the old translation, as it eventually would on hardware.
 *
 * Invalidate sequence (nouveau `tu102_vmm_flush`, RM `kgmmuCommitTlbInvalidate_TU102`): write
 * `0xB830A0` = PDB (ADDR 31:4 = pa >> 12, APERTURE bit 1), `0xB830A4` = upper PDB bits, then
 * `0xB830B0` = TRIGGER | scope, and poll `0xB830B0` until TRIGGER reads back 0.
 *
 * @module
 */

import { InvalidArgumentError } from '@gspkit/hal';
import type { MmioDevice } from '../mmio.ts';
import { CACHE_LEVEL, getField32, MMU_INVALIDATE } from './fields.ts';
import type { TableAperture } from './types.ts';
import type { DualPointer, LeafEntry, PdeCache, SparseEntry, TablePointer } from './walker.ts';

/** The aperture classes the invalidate register can name (bit 1: 0 = video, 1 = system). */
export type InvalidateAperture = 'video' | 'system';

/** Which cached translations an invalidate drops. */
export interface InvalidateScope {
	/** The page directory; omitted = every PDB (`ALL_PDB`). */
	readonly pdb?: { readonly aperture: InvalidateAperture; readonly address: bigint };
	/**
	 * `ALL_VA`. The register interface has no way to name a VA range, so `false` drops nothing (and is
	 * recorded), which makes a driver that forgets the bit visible. Default `true`.
	 */
	readonly allVa?: boolean;
	/** `CACHE_LEVEL`: 0 ALL, 1 PTE_ONLY, 2..7 UP_TO_PDE0..PDE5. Default 0. */
	readonly cacheLevel?: number;
	/** `HUBTLB_ONLY`. The simulator models one (hub) TLB, so this changes nothing; it is recorded. */
	readonly hubOnly?: boolean;
}

/** What one invalidate did, for tests and diagnostics. */
export interface InvalidateRecord {
	readonly scope: InvalidateScope;
	/** `'mmio'` for the register sequence, `'api'` for {@link TranslationCache.invalidate} callers. */
	readonly source: 'mmio' | 'api';
	/** Raw `INVALIDATE` register value, for MMIO invalidates. */
	readonly raw?: number;
	/** Cached pages/sparse ranges dropped. */
	readonly leavesDropped: number;
	/** Cached directory entries dropped. */
	readonly pdesDropped: number;
	/** Set when the invalidate could not drop anything because `ALL_VA` was clear. */
	readonly ignored?: 'targeted-va';
}

/** TLB options. */
export interface TlbOptions {
	/** Cache translations. `false` makes every translation walk the tables (no staleness). Default `true`. */
	readonly enabled?: boolean;
	/** Leaf entries kept per PDB before the oldest is evicted. Default 65536. */
	readonly capacity?: number;
}

/** TLB counters. */
export interface TlbStats {
	readonly hits: number;
	readonly misses: number;
	readonly invalidates: number;
}

type CachedLeaf = LeafEntry | SparseEntry;

interface SpaceCache {
	/** key = Number(va >> shift) * 64 + shift */
	readonly leaves: Map<number, CachedLeaf>;
	/** Page shifts present in `leaves`, to bound lookups. */
	readonly shifts: Set<number>;
	/** Indexed by PDE number (0 = PDE0); key = Number(va >> level lo). */
	readonly pdes: Map<number, TablePointer | DualPointer>[];
}

/** Key of a page directory in the TLB: the invalidate register only distinguishes video from system memory. */
export function pdbKey(aperture: TableAperture | InvalidateAperture, address: bigint): string {
	return `${aperture === 'video' ? 'v' : 's'}:${address.toString(16)}`;
}

/**
 * The translation caches. `GpuMmu` fills them; invalidates (register sequence or API) empty them.
 */
export class TranslationCache {
	readonly enabled: boolean;
	readonly capacity: number;
	readonly #spaces = new Map<string, SpaceCache>();
	readonly #log: InvalidateRecord[] = [];
	/** PDE numbers' VA shift, per level, set by the owner (depends on the format). */
	readonly #pdeShiftByNumber: readonly number[];
	#hits = 0;
	#misses = 0;
	#generation = 0;

	/** @param pdeShifts VA shift of each PDE level, indexed by PDE number (PDE0 first). */
	constructor(pdeShifts: readonly number[], options: TlbOptions = {}) {
		const capacity = options.capacity ?? 65536;
		if (!Number.isSafeInteger(capacity) || capacity < 1) {
			throw new InvalidArgumentError(`TLB capacity must be a positive integer, got ${capacity}`, {
				capacity,
			});
		}
		this.enabled = options.enabled ?? true;
		this.capacity = capacity;
		this.#pdeShiftByNumber = pdeShifts;
	}

	/**
	 * Changes whenever the cached leaves may have changed (an insert, an eviction, an invalidate). A copy of a
	 * lookup's result taken at one generation is what the same lookup returns while the generation is unchanged,
	 * so the engines keep such copies per 4 KiB page (every page size is a multiple of 4 KiB).
	 */
	get generation(): number {
		return this.#generation;
	}

	/** Count a hit served from a copy of this cache (see {@link TranslationCache.generation}). */
	recordHit(): void {
		this.#hits++;
	}

	/** {@link TranslationCache.lookup} without counting: what a lookup of `va` would return now. */
	peek(key: string, va: bigint): CachedLeaf | undefined {
		if (!this.enabled) return undefined;
		const space = this.#spaces.get(key);
		if (space === undefined) return undefined;
		for (const shift of space.shifts) {
			const hit = space.leaves.get(Number(va >> BigInt(shift)) * 64 + shift);
			if (hit !== undefined) return hit;
		}
		return undefined;
	}

	/** A cached page or sparse range covering `va` in the space `key`, if any. */
	lookup(key: string, va: bigint): CachedLeaf | undefined {
		if (!this.enabled) return undefined;
		const space = this.#spaces.get(key);
		if (space !== undefined) {
			for (const shift of space.shifts) {
				const hit = space.leaves.get(Number(va >> BigInt(shift)) * 64 + shift);
				if (hit !== undefined) {
					this.#hits++;
					return hit;
				}
			}
		}
		this.#misses++;
		return undefined;
	}

	/** Cache a walk result for the page containing `va`. */
	insert(key: string, va: bigint, leaf: CachedLeaf): void {
		if (!this.enabled) return;
		this.#generation++;
		const space = this.#space(key);
		if (space.leaves.size >= this.capacity) {
			const oldest = space.leaves.keys().next().value;
			if (oldest !== undefined) space.leaves.delete(oldest);
		}
		space.leaves.set(Number(va >> BigInt(leaf.pageShift)) * 64 + leaf.pageShift, leaf);
		space.shifts.add(leaf.pageShift);
	}

	/** The PDE cache of space `key` for the walker, or `undefined` when caching is off. */
	pdeCache(key: string): PdeCache | undefined {
		if (!this.enabled) return undefined;
		const shifts = this.#pdeShiftByNumber;
		return {
			get: (pdeNumber, va) => {
				const space = this.#spaces.get(key);
				const shift = shifts[pdeNumber];
				if (space === undefined || shift === undefined) return undefined;
				return space.pdes[pdeNumber]?.get(Number(va >> BigInt(shift)));
			},
			set: (pdeNumber, va, value) => {
				const shift = shifts[pdeNumber];
				if (shift === undefined) return;
				const space = this.#space(key);
				let map = space.pdes[pdeNumber];
				if (map === undefined) {
					map = new Map();
					space.pdes[pdeNumber] = map;
				}
				map.set(Number(va >> BigInt(shift)), value);
			},
		};
	}

	/** Drop cached entries per `scope` (the pushbuffer `MMU_TLB_INVALIDATE` path can call this too). */
	invalidate(scope: InvalidateScope = {}, source: 'mmio' | 'api' = 'api', raw?: number): InvalidateRecord {
		this.#generation++;
		const base = { scope, source, ...(raw === undefined ? {} : { raw }) };
		if (scope.allVa === false) {
			const record: InvalidateRecord = { ...base, leavesDropped: 0, pdesDropped: 0, ignored: 'targeted-va' };
			this.#log.push(record);
			return record;
		}
		const level = scope.cacheLevel ?? CACHE_LEVEL.ALL;
		if (!Number.isInteger(level) || level < 0 || level > 7) {
			throw new InvalidArgumentError(`CACHE_LEVEL must be 0..7, got ${level}`, { cacheLevel: level });
		}
		// ALL drops every level; PTE_ONLY only leaves; UP_TO_PDEn leaves and PDE0..PDEn.
		const maxPde = level === CACHE_LEVEL.ALL ? Number.POSITIVE_INFINITY : level - CACHE_LEVEL.UP_TO_PDE0;
		let leavesDropped = 0;
		let pdesDropped = 0;
		const spaces =
			scope.pdb === undefined
				? [...this.#spaces.values()]
				: [this.#spaces.get(pdbKey(scope.pdb.aperture, scope.pdb.address))].filter(
						(s): s is SpaceCache => s !== undefined,
					);
		for (const space of spaces) {
			leavesDropped += space.leaves.size;
			space.leaves.clear();
			space.shifts.clear();
			space.pdes.forEach((map, n) => {
				if (n <= maxPde) {
					pdesDropped += map.size;
					map.clear();
				}
			});
		}
		const record: InvalidateRecord = { ...base, leavesDropped, pdesDropped };
		this.#log.push(record);
		return record;
	}

	/** Every invalidate so far, oldest first. */
	get log(): readonly InvalidateRecord[] {
		return this.#log;
	}

	/** Hit/miss/invalidate counters. */
	get stats(): TlbStats {
		return { hits: this.#hits, misses: this.#misses, invalidates: this.#log.length };
	}

	/** Number of cached pages and sparse ranges for the space `key` (all spaces when omitted). */
	cachedLeaves(key?: string): number {
		if (key !== undefined) return this.#spaces.get(key)?.leaves.size ?? 0;
		let n = 0;
		for (const s of this.#spaces.values()) n += s.leaves.size;
		return n;
	}

	#space(key: string): SpaceCache {
		let space = this.#spaces.get(key);
		if (space === undefined) {
			space = { leaves: new Map(), shifts: new Set(), pdes: [] };
			this.#spaces.set(key, space);
		}
		return space;
	}
}

/** Options of {@link MmuInvalidateRegisters}. */
export interface InvalidateRegisterOptions {
	/**
	 * Reads of `0xB830B0` that still show TRIGGER set after an invalidate is started. Default 0 (the first
	 * poll sees completion). `Infinity` models a hung invalidate.
	 */
	readonly busyReads?: number;
}

const TRIGGER = 0x8000_0000;

/**
 * The registers of the TLB invalidate, as gpu-sim MMIO devices: `0xB830A0..A8` (PDB, UPPER_PDB),
 * `0xB830B0` (INVALIDATE) and `0x100E68` (an NV_PFB word older drivers clear first; a plain latch).
 */
export class MmuInvalidateRegisters {
	/** The three devices to attach to BAR0. */
	readonly devices: readonly MmioDevice[];
	/** Fault injection: reads that keep TRIGGER set after the next invalidates (see the option). */
	busyReads: number;
	readonly #tlb: TranslationCache;
	#pdb = 0;
	#upperPdb = 0;
	#invalidate = 0;
	#pfb = 0;
	#pendingReads = 0;

	constructor(tlb: TranslationCache, options: InvalidateRegisterOptions = {}) {
		this.#tlb = tlb;
		this.busyReads = options.busyReads ?? 0;
		const pdbStart = MMU_INVALIDATE.PDB;
		this.devices = Object.freeze([
			{
				name: 'mmu-invalidate-pdb',
				range: { start: pdbStart, end: pdbStart + 8 },
				read32: (offset: number) => (offset === 0 ? this.#pdb : this.#upperPdb),
				write32: (offset: number, value: number) => {
					if (offset === 0) this.#pdb = value >>> 0;
					else this.#upperPdb = value >>> 0;
				},
			},
			{
				name: 'mmu-invalidate',
				range: { start: MMU_INVALIDATE.INVALIDATE, end: MMU_INVALIDATE.INVALIDATE + 4 },
				read32: () => this.#readInvalidate(),
				write32: (_offset: number, value: number) => this.#writeInvalidate(value >>> 0),
			},
			{
				name: 'pfb-100e68',
				range: { start: MMU_INVALIDATE.PFB_100E68, end: MMU_INVALIDATE.PFB_100E68 + 4 },
				read32: () => this.#pfb,
				write32: (_offset: number, value: number) => {
					this.#pfb = value >>> 0;
				},
			},
		]);
	}

	/** The PDB the registers currently name. */
	get pdb(): { readonly aperture: InvalidateAperture; readonly address: bigint } {
		const lo = BigInt(getField32(this.#pdb, MMU_INVALIDATE.PDB_ADDR));
		const hi = BigInt(getField32(this.#upperPdb, MMU_INVALIDATE.UPPER_PDB_ADDR));
		const width = BigInt(MMU_INVALIDATE.PDB_ADDR.hi - MMU_INVALIDATE.PDB_ADDR.lo + 1);
		return {
			aperture: getField32(this.#pdb, MMU_INVALIDATE.PDB_APERTURE) ? 'system' : 'video',
			address: ((hi << width) | lo) << BigInt(MMU_INVALIDATE.PDB_ADDR_ALIGNMENT),
		};
	}

	/** Whether an invalidate is still reported in progress (TRIGGER reads back 1). */
	get busy(): boolean {
		return this.#pendingReads > 0;
	}

	#readInvalidate(): number {
		if (this.#pendingReads > 0) {
			this.#pendingReads--;
			return (this.#invalidate | TRIGGER) >>> 0;
		}
		return (this.#invalidate & ~TRIGGER) >>> 0;
	}

	#writeInvalidate(value: number): void {
		this.#invalidate = value;
		if ((value & TRIGGER) === 0) return;
		const allPdb = getField32(value, MMU_INVALIDATE.ALL_PDB) !== 0;
		const scope: InvalidateScope = {
			...(allPdb ? {} : { pdb: this.pdb }),
			allVa: getField32(value, MMU_INVALIDATE.ALL_VA) !== 0,
			cacheLevel: getField32(value, MMU_INVALIDATE.CACHE_LEVEL),
			hubOnly: getField32(value, MMU_INVALIDATE.HUBTLB_ONLY) !== 0,
		};
		this.#tlb.invalidate(scope, 'mmio', value);
		this.#pendingReads = this.busyReads;
	}
}
