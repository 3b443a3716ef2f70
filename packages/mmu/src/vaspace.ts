/**
 * A GPU virtual address space: the logical view (mappings of backing objects, sparse regions, the
 * kernel/client split) and the page tables that implement it, updated in two phases.
 *
 * - {@link VaSpace.prepare} validates a list of operations against the view left by earlier prepares (as
 *   drm_gpuvm is updated at submit time), plans them with drm_gpuvm's split/merge rules, allocates every
 *   page-table page the result needs, and may fail — leaving everything unchanged.
 * - {@link VaSpace.commit} writes the entries, issues one TLB invalidate and frees tables that emptied. It
 *   neither fails (for lack of resources) nor allocates page-table memory: it runs on the fence-signalling path.
 *
 * Page tables are kept in a canonical form: every entry is a pure function of the mappings, sparse regions and
 * RM-reserved ranges — invalid, sparse, a PTE, a pointer to a table that is needed because the entry's range is
 * mixed, or (inside an RM-reserved range) untouched. So unmapping everything returns page-table memory to just
 * the root directory, all zero.
 *
 * @module
 */

import type { Platform } from '@gspkit/hal';
import {
	assertLittleEndianHost,
	dmaPageTableAllocator,
	type PageTableAllocator,
	type PageTableMemory,
} from './allocator.ts';
import { type Backing, type BackingObject, extentIndex, resolveBacking, windowAlignment } from './backing.ts';
import { MmuError } from './errors.ts';
import {
	type LevelSpec,
	type MmuFormatSpec,
	mmuFormat,
	type PteAperture,
	type TableRef,
	type Words2,
} from './formats.ts';
import { IntervalList } from './interval-list.ts';
import { type GpuvaOp, planMap, planUnmap } from './planner.ts';
import { bar0TlbInvalidator, type TlbInvalidator } from './tlb.ts';
import { type TableReader, type Translation, translate } from './walker.ts';

/** Page sizes in bytes. 512 MiB pages exist on v3 for video memory only. */
export type PageSize = 4096 | 65536 | 2097152 | 536870912;

/** Mapping attributes a map operation may set (defaults in brackets). */
export interface MapAttributes {
	/** [false] */
	readonly readOnly?: boolean;
	/** [false] */
	readonly privileged?: boolean;
	/** Uncached access. [true for coherent system memory, as nouveau does; false otherwise] */
	readonly volatile?: boolean;
	/** [false] */
	readonly atomicDisable?: boolean;
	/** Memory kind. [the object's `kind`, else 0 = pitch] */
	readonly kind?: number;
	/** v3 only: access counting enabled (`_ACE` PCFs). [false] */
	readonly accessCounting?: boolean;
}

/** Map `size` bytes of `object` (from `offset`) at `va`. Replaces whatever was mapped there (drm_gpuvm rules). */
export interface MapOp extends MapAttributes {
	readonly op: 'map';
	readonly va: bigint;
	readonly size: bigint;
	readonly object: BackingObject;
	/** Byte offset into the object. [0] */
	readonly offset?: bigint;
	/** Page size to use; by default the largest that VA alignment and backing contiguity allow. */
	readonly pageSize?: PageSize;
}

/** Unmap whatever is mapped in `[va, va + size)`; partially covered mappings are split. */
export interface UnmapOp {
	readonly op: 'unmap';
	readonly va: bigint;
	readonly size: bigint;
}

/** Create a sparse region (reads return zero, writes are dropped, no fault) over `[va, va + size)`. */
export interface SparseMapOp {
	readonly op: 'map-sparse';
	readonly va: bigint;
	readonly size: bigint;
}

/** Remove the sparse region that is exactly `[va, va + size)`, unmapping everything inside it. */
export interface SparseUnmapOp {
	readonly op: 'unmap-sparse';
	readonly va: bigint;
	readonly size: bigint;
}

/** One VA-space operation. */
export type VaOp = MapOp | UnmapOp | SparseMapOp | SparseUnmapOp;

/** Who issues operations: the kernel (driver) or a client through the uAPI (checked against the split). */
export type Owner = 'kernel' | 'client';

/** A planned step, as drm_gpuvm would report it (addresses and offsets in bytes). */
export type PlannedOp =
	| {
			readonly op: 'map';
			readonly va: bigint;
			readonly size: bigint;
			readonly object: BackingObject;
			readonly offset: bigint;
			readonly pageSize: number;
	  }
	| { readonly op: 'unmap'; readonly va: bigint; readonly size: bigint; readonly keep: boolean }
	| {
			readonly op: 'remap';
			readonly unmap: { readonly va: bigint; readonly size: bigint; readonly keep: boolean };
			readonly prev: {
				readonly va: bigint;
				readonly size: bigint;
				readonly offset: bigint;
				readonly pageSize: number;
			} | null;
			readonly next: {
				readonly va: bigint;
				readonly size: bigint;
				readonly offset: bigint;
				readonly pageSize: number;
			} | null;
	  }
	| { readonly op: 'sparse'; readonly va: bigint; readonly size: bigint }
	| { readonly op: 'unsparse'; readonly va: bigint; readonly size: bigint };

/** A validated, fully allocated set of operations, waiting for {@link VaSpace.commit} or {@link VaSpace.release}. */
export interface PreparedOps {
	/** Sequence number; commits happen in this order. */
	readonly seq: number;
	/** The planned steps. */
	readonly ops: readonly PlannedOp[];
	/** Page-table pages this set allocated. */
	readonly tablesAllocated: number;
	readonly status: 'pending' | 'committed' | 'released';
}

/** What a commit did. */
export interface CommitResult {
	/** Page-table entries written, at any level (PTEs, PDEs, sparse and invalid entries). */
	readonly entriesWritten: number;
	/** Page-table pages freed (after the invalidate). */
	readonly tablesFreed: number;
	/** Whether a TLB invalidate was issued. */
	readonly tlbInvalidated: boolean;
	/** The invalidate did not complete in time. */
	readonly tlbTimedOut: boolean;
}

/** Options of {@link VaSpace}. */
export interface VaSpaceOptions {
	/** The page-table format, or a chip to take it from. */
	readonly format: Parameters<typeof mmuFormat>[0];
	/** Where page tables come from. Default: DMA memory of `platform`. */
	readonly allocator?: PageTableAllocator;
	/** Platform for the default allocator and TLB invalidation through BAR0. */
	readonly platform?: Platform;
	/** TLB invalidation; default BAR0 of `platform`; `null` = none (tables not yet used by a GPU). */
	readonly invalidate?: TlbInvalidator | null;
	/** End of the usable VA (bytes). Default `2 ** format.vaBits`. */
	readonly vaLimit?: bigint;
	/** The kernel-managed range (nouveau VM_INIT), if known at creation. */
	readonly kernelManaged?: { readonly va: bigint; readonly size: bigint };
}

/** A mapping in the logical view. */
export interface MappingInfo {
	readonly va: bigint;
	readonly size: bigint;
	readonly object: BackingObject;
	readonly offset: bigint;
	readonly pageSize: number;
	readonly attributes: Required<Omit<MapAttributes, 'kind'>> & { readonly kind: number };
}

/** Page-table memory in use. */
export interface PageTableStats {
	readonly tables: number;
	/** Sum of table sizes in bytes. */
	readonly bytes: number;
	/** Tables per level name. */
	readonly byLevel: Readonly<Record<string, number>>;
}

// ------------------------------------------------------------------------------------------ internals

const PAGE = 4096n;

interface Attrs {
	readonly readOnly: boolean;
	readonly privileged: boolean;
	readonly volatile: boolean;
	readonly atomicDisable: boolean;
	readonly kind: number;
	readonly accessCounting: boolean;
}

/** A mapping (drm_gpuva) in page units. Immutable; shared by the committed and pending views. */
interface Mapping {
	readonly start: number;
	readonly end: number;
	readonly object: BackingObject;
	readonly offset: number;
	readonly backing: Backing;
	readonly attrs: Attrs;
	readonly pageShift: number;
	readonly flagsLo: number;
	readonly flagsHi: number;
}

interface Region {
	readonly start: number;
	readonly end: number;
}

interface Reserved {
	readonly start: number;
	readonly end: number;
	/** Entries covering at most this many pages inside the range belong to RM. */
	readonly granule: number;
}

class State {
	readonly maps = new IntervalList<Mapping>();
	readonly regions = new IntervalList<Region>();
}

type Change =
	| { readonly t: 'insM'; readonly m: Mapping }
	| { readonly t: 'delM'; readonly m: Mapping }
	| { readonly t: 'insR'; readonly r: Region }
	| { readonly t: 'delR'; readonly r: Region };

function apply(s: State, c: Change): void {
	if (c.t === 'insM') s.maps.insert(c.m);
	else if (c.t === 'delM') s.maps.remove(c.m);
	else if (c.t === 'insR') s.regions.insert(c.r);
	else s.regions.remove(c.r);
}

function revert(s: State, c: Change): void {
	if (c.t === 'insM') s.maps.remove(c.m);
	else if (c.t === 'delM') s.maps.insert(c.m);
	else if (c.t === 'insR') s.regions.remove(c.r);
	else s.regions.insert(c.r);
}

/** A page directory (any level above the leaf tables). */
class Node {
	linked = false;
	refs = 0;
	pins = 0;
	freed = false;
	/** Child directories (all levels but the last). */
	children: (Node | null)[] | null = null;
	/** The leaf tables under a last-level (dual PDE0) directory. */
	big: Leaves | null = null;
	small: Leaves | null = null;
	dLo = Number.POSITIVE_INFINITY;
	dHi = -1;
	readonly words: Uint32Array;
	/** Index of the table's first word in `words`. */
	readonly off: number;
	/** The PDE that points at this table. */
	readonly p0: number;
	readonly p1: number;
	constructor(
		/** Directory index in `format.dirs`. */
		readonly depth: number,
		readonly level: LevelSpec,
		/** First virtual page covered. */
		readonly base: number,
		readonly mem: PageTableMemory,
		readonly parent: Node | null,
		readonly index: number,
		pointer: Words2,
	) {
		this.words = mem.words;
		this.off = mem.wordOffset;
		this.p0 = pointer.lo;
		this.p1 = pointer.hi;
	}
}

/**
 * The big (LPT) or small (SPT) leaf tables of one dual-PDE0 directory, slot by slot, as parallel arrays
 * rather than an object per table: a 64 GiB map of 4 KiB pages has 32 Ki leaf tables, and objects that live
 * as long as the mapping cost more garbage-collection time than writing the tables does.
 */
class Leaves {
	/** The table of each slot, or null. */
	readonly mem: (PageTableMemory | null)[];
	/** 1 while the dual PDE0 slot points at the table. */
	readonly linked: Uint8Array;
	/** Number of pending prepared sets that need the table. */
	readonly refs: Int32Array;
	/** The dual-PDE0 half that points at the table: lo, hi per slot. */
	readonly ptr: Uint32Array;
	/** Words written since the last sync hook call, `[lo, hi)` per slot (hi = -1: none); made for a sync hook. */
	dirty: Int32Array | null = null;
	/** Tables present. */
	count = 0;
	constructor(
		readonly level: LevelSpec,
		/** Slots of the directory (its entry count). */
		n: number,
	) {
		this.mem = new Array<PageTableMemory | null>(n).fill(null);
		this.linked = new Uint8Array(n);
		this.refs = new Int32Array(n);
		this.ptr = new Uint32Array(n * 2);
	}
}

/** References to leaf tables: (leaf set, slot) pairs. */
class LeafList {
	readonly sets: Leaves[] = [];
	readonly slots: number[] = [];
	push(l: Leaves, slot: number): void {
		this.sets.push(l);
		this.slots.push(slot);
	}
}

// Entry classes.
const C_INVALID = 0;
const C_SPARSE = 1;
const C_PTE = 2;
const C_MIXED = 3;
const C_FOREIGN = 4;

// 64 KiB sub-block classes inside a mixed 2 MiB block.
const S_INVALID = 0;
const S_SPARSE = 1;
const S_SMALL = 2;
const S_BIG = 3;

const NEED_LPT = 1;
const NEED_SPT = 2;

class Prepared implements PreparedOps {
	status: 'pending' | 'committed' | 'released' = 'pending';
	constructor(
		readonly space: VaSpace,
		readonly seq: number,
		readonly ops: readonly PlannedOp[],
		readonly changes: readonly Change[],
		readonly dirty: readonly number[],
		/** Directories and leaf tables this set needs (referenced until it is committed or released). */
		public refs: Node[],
		public leafRefs: LeafList,
		readonly tablesAllocated: number,
	) {}
}

const u = (n: number): bigint => BigInt(n) * PAGE;

function pageCount(bytes: bigint, what: string): number {
	if (bytes % PAGE !== 0n || bytes < 0n) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `${what} 0x${bytes.toString(16)} is not 4 KiB aligned`, {
			[what]: `0x${bytes.toString(16)}`,
		});
	}
	return Number(bytes / PAGE);
}

/**
 * A GPU virtual address space with page tables in one of the MMU formats. See the module comment for the
 * two-phase contract.
 */
export class VaSpace {
	/** The page-table format. */
	readonly format: MmuFormatSpec;
	readonly #alloc: PageTableAllocator;
	readonly #invalidate: TlbInvalidator | null;
	readonly #limit: number;
	readonly #root: Node;
	readonly #committed = new State();
	readonly #pending = new State();
	readonly #queue: Prepared[] = [];
	/**
	 * Live tables by address, for readers ({@link VaSpace.readTable}): built from the tree when first needed
	 * after tables were added or freed, so the write paths do no bookkeeping for it.
	 */
	#tableIndex: Map<number, Uint32Array> | null = null;
	/** Views handed to readers, one per table (readers may keep and compare them). */
	readonly #views = new WeakMap<PageTableMemory, Uint32Array>();
	readonly #reserved: Reserved[] = [];
	#kernel: { start: number; end: number } | null = null;
	#seq = 0;
	// Per-sync scratch state (sync never nests across VA spaces).
	#detached: Node[] = [];
	#detachedLeaves = new LeafList();
	#touched: Node[] = [];
	#touchedLeaves = new LeafList();
	/** Leaf tables allocated by the running prepare. */
	#newLeaves = 0;
	#entries = 0;
	#writes = 0;
	#pteMapping: Mapping | null = null;
	/** Set by #analyze when one mapping covers the whole 2 MiB block (then every sub-block is alike). */
	#cover: Mapping | null = null;
	readonly #sub = new Uint8Array(32);
	readonly #subCnt = new Uint8Array(32);
	readonly #subMap: (Mapping | null)[] = new Array<Mapping | null>(32).fill(null);
	readonly #lowMod: number;
	readonly #mul: number;

	/**
	 * Create a VA space and allocate its root directory.
	 * @throws MmuError `MMU_OUT_OF_MEMORY` if the root cannot be allocated; `MMU_INVALID_ARGUMENT` for bad options.
	 */
	constructor(options: VaSpaceOptions) {
		assertLittleEndianHost();
		this.format = mmuFormat(options.format);
		const alloc =
			options.allocator ?? (options.platform ? dmaPageTableAllocator(options.platform.dma) : undefined);
		if (alloc === undefined) {
			throw new MmuError('MMU_INVALID_ARGUMENT', 'a VA space needs an allocator or a platform');
		}
		this.#alloc = alloc;
		this.#invalidate =
			options.invalidate !== undefined
				? options.invalidate
				: options.platform
					? bar0TlbInvalidator(options.platform.bar0, { clock: options.platform.clock })
					: null;
		const full = 1n << BigInt(this.format.vaBits);
		const limit = options.vaLimit ?? full;
		if (limit <= 0n || limit > full || limit % PAGE !== 0n) {
			throw new MmuError(
				'MMU_INVALID_ARGUMENT',
				`vaLimit 0x${limit.toString(16)} is outside the ${this.format.vaBits}-bit VA`,
			);
		}
		this.#limit = Number(limit / PAGE);
		this.#lowMod = 2 ** (32 - this.format.ppnBit);
		this.#mul = 2 ** this.format.ppnBit;
		const rootLevel = this.format.dirs[0] as LevelSpec;
		this.#root = this.#newNode(0, rootLevel, 0, null, 0, true);
		this.#root.linked = true;
		this.#root.pins = 1;
		if (options.kernelManaged !== undefined) this.initClientSplit(options.kernelManaged);
	}

	/** The root page directory (what the instance block's PDB points at). */
	get pdb(): TableRef {
		return { address: this.#root.mem.address, aperture: this.#root.mem.aperture };
	}

	/** End of the usable VA in bytes. */
	get vaLimit(): bigint {
		return u(this.#limit);
	}

	/** The kernel-managed range, once the split is set. */
	get kernelManaged(): { readonly va: bigint; readonly size: bigint } | null {
		const k = this.#kernel;
		return k === null ? null : { va: u(k.start), size: u(k.end - k.start) };
	}

	/** Number of prepared sets awaiting commit. */
	get pendingCount(): number {
		return this.#queue.length;
	}

	/**
	 * Split the VA between kernel and client (nouveau `VM_INIT {kernel_managed_addr, kernel_managed_size}`).
	 * Client operations are refused until this is done; afterwards client operations must stay outside the
	 * kernel range and kernel operations inside it.
	 * @throws `MMU_ALREADY_INITIALIZED`, `MMU_RANGE_INVALID` (overflow, past the VA end), `MMU_INIT_TOO_LATE`.
	 */
	initClientSplit(kernel: { readonly va: bigint; readonly size: bigint }): void {
		if (this.#kernel !== null)
			throw new MmuError('MMU_ALREADY_INITIALIZED', 'the kernel/client split is already set');
		const start = pageCount(kernel.va, 'va');
		const size = pageCount(kernel.size, 'size');
		if (start + size > this.#limit) {
			throw new MmuError('MMU_RANGE_INVALID', 'kernel-managed range runs past the end of the VA space', {
				va: `0x${kernel.va.toString(16)}`,
				size: `0x${kernel.size.toString(16)}`,
			});
		}
		const end = start + size;
		for (const s of [this.#committed, this.#pending]) {
			for (const list of [s.maps.values(), s.regions.values()]) {
				for (const m of list) {
					if (m.start < start || m.end > end) {
						throw new MmuError(
							'MMU_INIT_TOO_LATE',
							'kernel mappings exist outside the proposed kernel range',
							{
								va: `0x${u(m.start).toString(16)}`,
							},
						);
					}
				}
			}
		}
		for (const r of this.#reserved) {
			if (r.start < start || r.end > end) {
				throw new MmuError(
					'MMU_INIT_TOO_LATE',
					'an RM-reserved range lies outside the proposed kernel range',
				);
			}
		}
		this.#kernel = { start, end };
	}

	// ------------------------------------------------------------------------------ prepare

	/**
	 * Validate and plan `ops` (in order, each seeing the effect of the previous ones and of every earlier
	 * prepared set) and allocate the page tables the result needs.
	 *
	 * @param owner `'client'` for uAPI-originated operations (checked against the kernel/client split);
	 *   default `'kernel'`.
	 * @throws MmuError — and then nothing has changed: `MMU_INVALID_ARGUMENT`, `MMU_RANGE_INVALID`,
	 *   `MMU_RANGE_RESERVED`, `MMU_NOT_INITIALIZED`, `MMU_SPARSE_STRADDLE` (ENOSPC), `MMU_SPARSE_OVERLAP`,
	 *   `MMU_NO_SUCH_REGION` (ENOENT), `MMU_REGION_BUSY`, `MMU_PAGE_SIZE`, `MMU_OUT_OF_MEMORY`.
	 */
	prepare(ops: readonly VaOp[], options: { readonly owner?: Owner } = {}): PreparedOps {
		const owner = options.owner ?? 'kernel';
		const changes: Change[] = [];
		const planned: PlannedOp[] = [];
		const dirty: number[] = [];
		const unbound: Region[] = [];
		const refs: Node[] = [];
		const leafRefs = new LeafList();
		const created: Node[] = [];
		this.#newLeaves = 0;
		try {
			for (const op of ops) this.#planOp(op, owner, changes, planned, dirty, unbound);
			const ranges = coalesce(dirty);
			for (let i = 0; i < ranges.length; i += 2) {
				this.#need(this.#root, ranges[i] as number, ranges[i + 1] as number, refs, leafRefs, created);
			}
			const p = new Prepared(
				this,
				this.#seq++,
				planned,
				changes,
				ranges,
				refs,
				leafRefs,
				created.length + this.#newLeaves,
			);
			this.#queue.push(p);
			return p;
		} catch (e) {
			this.#unref(refs, leafRefs, true);
			for (let i = changes.length - 1; i >= 0; i--) revert(this.#pending, changes[i] as Change);
			throw e;
		}
	}

	#checkRange(start: number, end: number, owner: Owner, va: bigint, size: bigint): void {
		const details = { va: `0x${va.toString(16)}`, size: `0x${size.toString(16)}` };
		if (end <= start) throw new MmuError('MMU_INVALID_ARGUMENT', 'empty range', details);
		if (end > this.#limit)
			throw new MmuError('MMU_RANGE_INVALID', 'range runs past the end of the VA space', details);
		const k = this.#kernel;
		if (owner === 'client') {
			if (k === null)
				throw new MmuError('MMU_NOT_INITIALIZED', 'client operation before the kernel/client split', details);
			if (start < k.end && end > k.start) {
				throw new MmuError(
					'MMU_RANGE_INVALID',
					'range overlaps the kernel-managed part of the VA space',
					details,
				);
			}
		} else if (k !== null && (start < k.start || end > k.end)) {
			throw new MmuError('MMU_RANGE_INVALID', 'kernel operation outside the kernel-managed range', details);
		}
		for (const r of this.#reserved) {
			if (start < r.end && end > r.start) {
				throw new MmuError('MMU_RANGE_RESERVED', 'range overlaps PDEs reserved for GSP-RM', details);
			}
		}
	}

	#planOp(
		op: VaOp,
		owner: Owner,
		changes: Change[],
		planned: PlannedOp[],
		dirty: number[],
		unbound: Region[],
	): void {
		const pend = this.#pending;
		const kind = (op as { op?: unknown }).op;
		if (kind !== 'map' && kind !== 'unmap' && kind !== 'map-sparse' && kind !== 'unmap-sparse') {
			throw new MmuError('MMU_INVALID_ARGUMENT', `unknown operation ${JSON.stringify(kind)}`);
		}
		if (typeof op.va !== 'bigint' || typeof op.size !== 'bigint') {
			throw new MmuError('MMU_INVALID_ARGUMENT', 'va and size must be bigints');
		}
		const start = pageCount(op.va, 'va');
		const pages = pageCount(op.size, 'size');
		const end = start + pages;
		this.#checkRange(start, end, owner, op.va, op.size);
		const details = { va: `0x${op.va.toString(16)}`, size: `0x${op.size.toString(16)}` };
		const push = (c: Change): void => {
			apply(pend, c);
			changes.push(c);
		};
		switch (op.op) {
			case 'map': {
				for (const r of unbound) {
					if (start < r.end && end > r.start) {
						throw new MmuError(
							'MMU_REGION_BUSY',
							'map into a sparse region this operation set unbinds',
							details,
						);
					}
				}
				const regs = pend.regions.overlapping(start, end);
				if (
					regs.length > 1 ||
					(regs.length === 1 && ((regs[0] as Region).start > start || (regs[0] as Region).end < end))
				) {
					throw new MmuError(
						'MMU_SPARSE_STRADDLE',
						'mapping straddles the border of a sparse region',
						details,
					);
				}
				const m = this.#newMapping(op, start, end);
				const plan = planMap(pend.maps, { start, end, object: op.object, offset: m.offset });
				this.#applyPlan(plan, m, changes, planned, dirty);
				break;
			}
			case 'unmap': {
				const plan = planUnmap(pend.maps, start, end);
				this.#applyPlan(plan, null, changes, planned, dirty);
				break;
			}
			case 'map-sparse': {
				for (const r of unbound) {
					if (start < r.end && end > r.start) {
						throw new MmuError(
							'MMU_REGION_BUSY',
							'sparse map over a region this operation set unbinds',
							details,
						);
					}
				}
				if (pend.regions.overlaps(start, end)) {
					throw new MmuError('MMU_SPARSE_OVERLAP', 'sparse region overlaps an existing one', details);
				}
				for (const m of pend.maps.overlapping(start, end)) {
					if (m.start < start || m.end > end) {
						throw new MmuError(
							'MMU_SPARSE_STRADDLE',
							'a mapping straddles the border of the new sparse region',
							details,
						);
					}
				}
				push({ t: 'insR', r: { start, end } });
				planned.push({ op: 'sparse', va: op.va, size: op.size });
				dirty.push(start, end);
				break;
			}
			case 'unmap-sparse': {
				const r = pend.regions.at(start);
				if (r === undefined || r.start !== start || r.end !== end) {
					throw new MmuError('MMU_NO_SUCH_REGION', 'no sparse region matches the range exactly', details);
				}
				this.#applyPlan(planUnmap(pend.maps, start, end), null, changes, planned, dirty);
				push({ t: 'delR', r });
				unbound.push(r);
				planned.push({ op: 'unsparse', va: op.va, size: op.size });
				dirty.push(start, end);
				break;
			}
			default: {
				const bad: never = op;
				throw new MmuError(
					'MMU_INVALID_ARGUMENT',
					`unknown operation ${JSON.stringify((bad as { op: unknown }).op)}`,
				);
			}
		}
	}

	#applyPlan(
		plan: GpuvaOp<Mapping>[],
		fresh: Mapping | null,
		changes: Change[],
		planned: PlannedOp[],
		dirty: number[],
	): void {
		const pend = this.#pending;
		const push = (c: Change): void => {
			apply(pend, c);
			changes.push(c);
		};
		for (const op of plan) {
			if (op.kind === 'unmap') {
				push({ t: 'delM', m: op.va });
				dirty.push(op.va.start, op.va.end);
				planned.push({ op: 'unmap', va: u(op.va.start), size: u(op.va.end - op.va.start), keep: op.keep });
			} else if (op.kind === 'remap') {
				const old = op.unmap.va;
				push({ t: 'delM', m: old });
				const prev =
					op.prev === null ? null : this.#remainder(old, op.prev.start, op.prev.end, op.prev.offset);
				const next =
					op.next === null ? null : this.#remainder(old, op.next.start, op.next.end, op.next.offset);
				// Remainders with the old page size keep their PTEs; only the rest of the old range is dirty.
				const lo = prev !== null && prev.pageShift === old.pageShift ? prev.end : old.start;
				const hi = next !== null && next.pageShift === old.pageShift ? next.start : old.end;
				if (hi > lo) dirty.push(lo, hi);
				if (prev !== null) {
					push({ t: 'insM', m: prev });
					if (prev.pageShift !== old.pageShift) dirty.push(prev.start, prev.end);
				}
				if (next !== null) {
					push({ t: 'insM', m: next });
					if (next.pageShift !== old.pageShift) dirty.push(next.start, next.end);
				}
				const piece = (m: Mapping | null) =>
					m === null
						? null
						: { va: u(m.start), size: u(m.end - m.start), offset: u(m.offset), pageSize: 2 ** m.pageShift };
				planned.push({
					op: 'remap',
					unmap: { va: u(old.start), size: u(old.end - old.start), keep: op.unmap.keep },
					prev: piece(prev),
					next: piece(next),
				});
			} else {
				const m = fresh as Mapping;
				push({ t: 'insM', m });
				dirty.push(m.start, m.end);
				planned.push({
					op: 'map',
					va: u(m.start),
					size: u(m.end - m.start),
					object: m.object,
					offset: u(m.offset),
					pageSize: 2 ** m.pageShift,
				});
			}
		}
	}

	#newMapping(op: MapOp, start: number, end: number): Mapping {
		const backing = resolveBacking(op.object);
		const offset = pageCount(op.offset ?? 0n, 'offset');
		const details = { handle: op.object.handle, va: `0x${op.va.toString(16)}` };
		if (offset + (end - start) > backing.pages) {
			throw new MmuError('MMU_INVALID_ARGUMENT', 'mapping runs past the end of the backing object', details);
		}
		const ap = op.object.aperture;
		if (backing.physEnd > this.format.physLimit(ap)) {
			throw new MmuError(
				'MMU_INVALID_ARGUMENT',
				`object pages lie beyond what a ${this.format.name} PTE can address`,
				details,
			);
		}
		const attrs: Attrs = {
			readOnly: op.readOnly ?? false,
			privileged: op.privileged ?? false,
			volatile: op.volatile ?? ap === 'sysCoherent',
			atomicDisable: op.atomicDisable ?? false,
			kind: op.kind ?? op.object.kind ?? 0,
			accessCounting: op.accessCounting ?? false,
		};
		const flags = this.format.pteFlags({
			aperture: ap,
			...(op.object.peerId === undefined ? {} : { peerId: op.object.peerId }),
			...attrs,
		});
		let pageShift: number;
		if (op.pageSize !== undefined) {
			pageShift = Math.log2(op.pageSize);
			if (!this.#pageShiftFits(pageShift, backing, ap, offset, end - start, start)) {
				throw new MmuError('MMU_PAGE_SIZE', `page size ${op.pageSize} does not fit this mapping`, {
					...details,
					pageSize: op.pageSize,
				});
			}
		} else pageShift = this.#bestPageShift(backing, ap, offset, end - start, start);
		return {
			start,
			end,
			object: op.object,
			offset,
			backing,
			attrs,
			pageShift,
			flagsLo: flags.lo,
			flagsHi: flags.hi,
		};
	}

	#remainder(old: Mapping, start: number, end: number, offset: number): Mapping {
		const ap = old.object.aperture;
		const pageShift = this.#pageShiftFits(old.pageShift, old.backing, ap, offset, end - start, start)
			? old.pageShift
			: this.#bestPageShift(old.backing, ap, offset, end - start, start);
		return { ...old, start, end, offset, pageShift };
	}

	#pageShiftFits(
		shift: number,
		b: Backing,
		ap: PteAperture,
		offset: number,
		pages: number,
		vpn: number,
	): boolean {
		const f = this.format;
		if (!f.pageShifts.includes(shift)) return false;
		if (f.videoOnlyPageShifts.includes(shift) && ap !== 'video') return false;
		const want = 2 ** (shift - 12);
		return windowAlignment(b, offset, pages, vpn, want) >= want;
	}

	#bestPageShift(b: Backing, ap: PteAperture, offset: number, pages: number, vpn: number): number {
		const f = this.format;
		const shifts = f.pageShifts.filter((s) => ap === 'video' || !f.videoOnlyPageShifts.includes(s));
		const cap = 2 ** ((shifts[shifts.length - 1] as number) - 12);
		const a = windowAlignment(b, offset, pages, vpn, cap);
		let best = 12;
		for (const s of shifts) if (2 ** (s - 12) <= a) best = s;
		return best;
	}

	// ------------------------------------------------------------- table needs (prepare side)

	/**
	 * Allocate table memory and compute the entry that will point at it. `zero` may be false for tables
	 * `prepare` creates: they are unreachable until commit links them, and linking a table writes every one of
	 * its entries (RM-owned entries only exist in the zeroed directories `reserveForServer` creates).
	 */
	#allocTable(
		level: LevelSpec,
		pointerKind: 'pde' | 'big' | 'small',
		zero: boolean,
	): [PageTableMemory, Words2] {
		let mem: PageTableMemory;
		try {
			mem = this.#alloc.alloc(level.tableBytes, level.align, zero);
		} catch (e) {
			throw new MmuError(
				'MMU_OUT_OF_MEMORY',
				`cannot allocate a ${level.name} page table (${level.tableBytes} bytes)`,
				{ level: level.name },
				e,
			);
		}
		let pointer: Words2;
		try {
			pointer = this.format.tablePointer(pointerKind, mem);
		} catch (e) {
			this.#alloc.free(mem);
			throw e;
		}
		this.#tableIndex = null;
		return [mem, pointer];
	}

	#newNode(
		depth: number,
		level: LevelSpec,
		base: number,
		parent: Node | null,
		index: number,
		zero: boolean,
	): Node {
		const [mem, pointer] = this.#allocTable(level, 'pde', zero);
		return new Node(depth, level, base, mem, parent, index, pointer);
	}

	#ref(n: Node, refs: Node[]): void {
		n.refs++;
		refs.push(n);
	}

	/** Reference (allocating where missing) every table the pending view needs inside `[a, b)` below `node`. */
	#need(node: Node, a: number, b: number, refs: Node[], leafRefs: LeafList, created: Node[]): void {
		const dirs = this.format.dirs;
		const L = node.level;
		const cov = 2 ** (L.shift - 12);
		const last = node.depth === dirs.length - 1;
		const i0 = Math.floor((Math.max(a, node.base) - node.base) / cov);
		const i1 = Math.ceil((Math.min(b, node.base + cov * L.entries) - node.base) / cov);
		for (let i = i0; i < i1; i++) {
			const bs = node.base + i * cov;
			if (this.#classify(this.#pending, bs, cov, L.shift) !== C_MIXED) continue;
			if (last) {
				const need = this.#analyze(this.#pending, bs);
				const cover = this.#cover;
				if (cover !== null) {
					// One mapping covers this block and, up to its end, the next ones: each needs the same one
					// leaf table, so they are taken in one go without classifying every slot.
					const k = Math.min(i1, Math.floor((cover.end - node.base) / 512));
					this.#leaves(node, i, k, need === NEED_LPT, leafRefs);
					i = k - 1;
					continue;
				}
				if (need & NEED_LPT) this.#leaves(node, i, i + 1, true, leafRefs);
				if (need & NEED_SPT) this.#leaves(node, i, i + 1, false, leafRefs);
				continue;
			}
			node.children ??= new Array<Node | null>(L.entries).fill(null);
			let child = node.children[i] ?? null;
			if (child === null) {
				child = this.#newNode(node.depth + 1, dirs[node.depth + 1] as LevelSpec, bs, node, i, false);
				node.children[i] = child;
				created.push(child);
			}
			this.#ref(child, refs);
			this.#need(child, Math.max(a, bs), Math.min(b, bs + cov), refs, leafRefs, created);
		}
	}

	/** Reference (allocating where missing) the big or small leaf table of PDE0 slots `[i, k)` of `node`. */
	#leaves(node: Node, i: number, k: number, big: boolean, leafRefs: LeafList): void {
		let set = big ? node.big : node.small;
		if (set === null) {
			set = new Leaves(big ? this.format.lpt : this.format.spt, node.level.entries);
			if (big) node.big = set;
			else node.small = set;
		}
		const kind = big ? 'big' : 'small';
		for (let j = i; j < k; j++) {
			if (set.mem[j] === null) {
				const [mem, pointer] = this.#allocTable(set.level, kind, false);
				set.mem[j] = mem;
				set.linked[j] = 0;
				set.ptr[j * 2] = pointer.lo;
				set.ptr[j * 2 + 1] = pointer.hi;
				set.count++;
				this.#newLeaves++;
			}
			set.refs[j] = (set.refs[j] as number) + 1;
			leafRefs.push(set, j);
		}
	}

	/** Drop references; free tables nobody needs any more (unlinked, unreferenced, unpinned). */
	#unref(refs: readonly Node[], leafRefs: LeafList, free: boolean): number {
		for (const n of refs) n.refs--;
		const { sets, slots } = leafRefs;
		for (let i = 0; i < slots.length; i++) {
			const set = sets[i] as Leaves;
			const j = slots[i] as number;
			set.refs[j] = (set.refs[j] as number) - 1;
		}
		return free ? this.#freeUnneeded([refs], [leafRefs]) : 0;
	}

	/** Free the candidates nobody needs any more: leaf tables first, then directories deepest first. */
	#freeUnneeded(dirLists: readonly (readonly Node[])[], leafLists: readonly LeafList[]): number {
		let freed = 0;
		for (const { sets, slots } of leafLists) {
			for (let i = 0; i < slots.length; i++) {
				const set = sets[i] as Leaves;
				const j = slots[i] as number;
				const mem = set.mem[j] ?? null;
				if (mem === null || set.linked[j] !== 0 || set.refs[j] !== 0) continue;
				set.mem[j] = null;
				set.count--;
				this.#alloc.free(mem);
				freed++;
			}
		}
		// Directories: deepest first (children before parents), by bucketing on depth.
		const buckets: Node[][] = [];
		for (let d = 0; d < this.format.dirs.length; d++) buckets.push([]);
		for (const list of dirLists)
			for (const n of list)
				if (!n.freed && !n.linked && n.refs === 0 && n.pins === 0) buckets[n.depth]?.push(n);
		for (let d = buckets.length - 1; d >= 0; d--) {
			for (const n of buckets[d] as Node[]) {
				if (n.freed || n.linked || n.refs !== 0 || n.pins !== 0) continue;
				if (hasLiveChild(n)) continue;
				n.freed = true;
				const p = n.parent;
				if (p?.children?.[n.index] === n) p.children[n.index] = null;
				this.#alloc.free(n.mem);
				freed++;
			}
		}
		if (freed > 0) this.#tableIndex = null;
		return freed;
	}

	// -------------------------------------------------------------------------- classification

	/** Classify the block `[bs, bs + cov)` of one entry whose VA coverage is `2 ** shift`. */
	#classify(s: State, bs: number, cov: number, shift: number): number {
		const be = bs + cov;
		for (const r of this.#reserved) {
			if (bs < r.end && be > r.start)
				return bs >= r.start && be <= r.end && cov <= r.granule ? C_FOREIGN : C_MIXED;
		}
		const m = s.maps.firstAfter(bs);
		if (m !== undefined && m.start < be) {
			if (m.start <= bs && m.end >= be && m.pageShift === shift) {
				this.#pteMapping = m;
				return C_PTE;
			}
			return C_MIXED;
		}
		const r = s.regions.firstAfter(bs);
		if (r !== undefined && r.start < be) return r.start <= bs && r.end >= be ? C_SPARSE : C_MIXED;
		return C_INVALID;
	}

	/** Classify the 64 KiB sub-blocks of the mixed 2 MiB block at `bs`; returns NEED_LPT | NEED_SPT. */
	#analyze(s: State, bs: number): number {
		const sub = this.#sub;
		const cnt = this.#subCnt;
		const subMap = this.#subMap;
		const be = bs + 512;
		// Fast path: one mapping covers the whole block (the common case for large mappings).
		const first = s.maps.firstAfter(bs);
		this.#cover = null;
		if (first !== undefined && first.start <= bs && first.end >= be) {
			if (first.pageShift === 12) {
				sub.fill(S_SMALL);
				this.#cover = first;
				return NEED_SPT;
			}
			if (first.pageShift === 16) {
				sub.fill(S_BIG);
				subMap.fill(first);
				this.#cover = first;
				return NEED_LPT;
			}
		}
		cnt.fill(0);
		subMap.fill(null);
		s.regions.forEachOverlapping(bs, be, (r) => {
			const a = Math.max(r.start, bs) - bs;
			const b = Math.min(r.end, be) - bs;
			for (let j = a >> 4; j <= (b - 1) >> 4; j++)
				cnt[j] = (cnt[j] as number) + Math.min(b, (j + 1) * 16) - Math.max(a, j * 16);
		});
		for (let j = 0; j < 32; j++) {
			const c = cnt[j] as number;
			sub[j] = c === 16 ? S_SPARSE : c === 0 ? S_INVALID : S_SMALL;
		}
		s.maps.forEachOverlapping(bs, be, (m) => {
			const a = Math.max(m.start, bs) - bs;
			const b = Math.min(m.end, be) - bs;
			if (m.pageShift === 16) {
				for (let j = a >> 4; j < b >> 4; j++) {
					sub[j] = S_BIG;
					subMap[j] = m;
				}
			} else {
				for (let j = a >> 4; j <= (b - 1) >> 4; j++) sub[j] = S_SMALL;
			}
		});
		let any = 0;
		for (let j = 0; j < 32; j++) any |= 1 << (sub[j] as number);
		const needLpt = (any & (1 << S_BIG)) !== 0;
		const needSpt = (any & (1 << S_SMALL)) !== 0 || (!needLpt && (any & (1 << S_SPARSE)) !== 0);
		return (needLpt ? NEED_LPT : 0) | (needSpt ? NEED_SPT : 0);
	}

	// ------------------------------------------------------------------------------- commit

	/**
	 * Write the page tables for a prepared set, issue one TLB invalidate, then free tables that emptied.
	 * Does not allocate page-table memory and does not fail for lack of resources. Prepared sets must be
	 * committed in the order they were prepared.
	 * @throws MmuError `MMU_PREPARED_STATE` when `prepared` is not the oldest pending set of this VA space.
	 */
	commit(prepared: PreparedOps): CommitResult {
		const p = this.#own(prepared);
		if (this.#queue[0] !== p) {
			throw new MmuError(
				'MMU_PREPARED_STATE',
				'prepared sets must be committed in the order they were prepared',
				{
					seq: p.seq,
				},
			);
		}
		for (const c of p.changes) apply(this.#committed, c);
		this.#startWrites();
		const ranges = p.dirty;
		for (let i = 0; i < ranges.length; i += 2)
			this.#sync(this.#root, ranges[i] as number, ranges[i + 1] as number, false);
		const result = this.#finishWrites();
		this.#unref(p.refs, p.leafRefs, false);
		const freed = this.#freeUnneeded([this.#detached, p.refs], [this.#detachedLeaves, p.leafRefs]);
		this.#dropRefs(p);
		this.#queue.shift();
		p.status = 'committed';
		return { ...result, tablesFreed: freed };
	}

	/**
	 * Abandon the most recently prepared set: undo its planning and free the tables it allocated.
	 * @throws MmuError `MMU_PREPARED_STATE` unless `prepared` is the newest pending set.
	 */
	release(prepared: PreparedOps): void {
		const p = this.#own(prepared);
		if (this.#queue[this.#queue.length - 1] !== p) {
			throw new MmuError('MMU_PREPARED_STATE', 'only the most recently prepared set can be released', {
				seq: p.seq,
			});
		}
		for (let i = p.changes.length - 1; i >= 0; i--) revert(this.#pending, p.changes[i] as Change);
		this.#unref(p.refs, p.leafRefs, true);
		this.#dropRefs(p);
		this.#queue.pop();
		p.status = 'released';
	}

	/** Prepare and commit in one step (for callers outside the fence-signalling path). */
	apply(ops: readonly VaOp[], options: { readonly owner?: Owner } = {}): CommitResult {
		return this.commit(this.prepare(ops, options));
	}

	#own(prepared: PreparedOps): Prepared {
		if (!(prepared instanceof Prepared) || prepared.space !== this || prepared.status !== 'pending') {
			throw new MmuError('MMU_PREPARED_STATE', 'not a pending prepared set of this VA space');
		}
		return prepared;
	}

	/** A finished set no longer holds its tables; its lists could be large, so let them go. */
	#dropRefs(p: Prepared): void {
		p.refs = [];
		p.leafRefs = new LeafList();
	}

	#startWrites(): void {
		this.#detached = [];
		this.#detachedLeaves = new LeafList();
		this.#touched = [];
		this.#touchedLeaves = new LeafList();
		this.#entries = 0;
		this.#writes = 0;
	}

	#finishWrites(): { entriesWritten: number; tlbInvalidated: boolean; tlbTimedOut: boolean } {
		const sync = this.#alloc.sync;
		if (sync !== undefined) {
			for (const n of this.#touched) {
				if (!n.freed && n.dHi >= 0) sync.call(this.#alloc, n.mem, n.dLo * 4, n.dHi * 4);
				n.dLo = Number.POSITIVE_INFINITY;
				n.dHi = -1;
			}
			const { sets, slots } = this.#touchedLeaves;
			for (let i = 0; i < slots.length; i++) {
				const set = sets[i] as Leaves;
				const j = slots[i] as number;
				const mem = set.mem[j] ?? null;
				const d = set.dirty as Int32Array;
				const hi = d[j * 2 + 1] as number;
				if (mem !== null && hi >= 0) sync.call(this.#alloc, mem, (d[j * 2] as number) * 4, hi * 4);
				d[j * 2] = -1;
				d[j * 2 + 1] = -1;
			}
		}
		let tlbInvalidated = false;
		let tlbTimedOut = false;
		if (this.#writes > 0 && this.#invalidate !== null) {
			tlbInvalidated = true;
			tlbTimedOut = this.#invalidate({ pdb: this.pdb }).timedOut;
		}
		return { entriesWritten: this.#entries, tlbInvalidated, tlbTimedOut };
	}

	#touch(n: Node, w0: number, w1: number): void {
		this.#writes++;
		if (this.#alloc.sync === undefined) return;
		if (n.dHi < 0) this.#touched.push(n);
		if (w0 < n.dLo) n.dLo = w0;
		if (w1 > n.dHi) n.dHi = w1;
	}

	/** {@link #touch} for leaf table `j` of `set` (words relative to the table). */
	#touchLeaf(set: Leaves, j: number, w0: number, w1: number): void {
		this.#writes++;
		if (this.#alloc.sync === undefined) return;
		set.dirty ??= new Int32Array(set.mem.length * 2).fill(-1);
		const d = set.dirty;
		const hi = d[j * 2 + 1] as number;
		if (hi < 0) {
			this.#touchedLeaves.push(set, j);
			d[j * 2] = w0;
			d[j * 2 + 1] = w1;
			return;
		}
		if (w0 < (d[j * 2] as number)) d[j * 2] = w0;
		if (w1 > hi) d[j * 2 + 1] = w1;
	}

	#unlink(n: Node | null | undefined): void {
		if (n === null || n === undefined || !n.linked) return;
		n.linked = false;
		this.#detached.push(n);
		if (n.children !== null) for (const c of n.children) if (c !== null) this.#unlink(c);
		for (const set of [n.big, n.small]) {
			if (set === null) continue;
			for (let j = 0; j < set.linked.length; j++) this.#unlinkLeaf(set, j);
		}
	}

	#unlinkLeaf(set: Leaves | null, j: number): void {
		if (set === null || set.linked[j] === 0) return;
		set.linked[j] = 0;
		this.#detachedLeaves.push(set, j);
	}

	#write2(n: Node, entry: number, lo: number, hi: number): void {
		const w = entry * 2;
		n.words[n.off + w] = lo;
		n.words[n.off + w + 1] = hi;
		this.#entries++;
		this.#touch(n, w, w + 2);
	}

	/** Bring the entries of directory `node` overlapping `[a, b)` in line with the committed view. */
	#sync(node: Node, a: number, b: number, full: boolean): void {
		const L = node.level;
		const cov = 2 ** (L.shift - 12);
		const last = node.depth === this.format.dirs.length - 1;
		const i0 = Math.floor((Math.max(a, node.base) - node.base) / cov);
		const i1 = Math.ceil((Math.min(b, node.base + cov * L.entries) - node.base) / cov);
		const s = this.#committed;
		for (let i = i0; i < i1; i++) {
			const bs = node.base + i * cov;
			if (last) {
				i += this.#syncDual(node, i, i1, bs, a, b, full) - 1;
				continue;
			}
			const cls = this.#classify(s, bs, cov, L.shift);
			if (cls === C_FOREIGN) continue;
			const child = node.children?.[i] ?? null;
			if (cls === C_MIXED) {
				if (child === null) throw new Error(`internal: ${L.name}[${i}] has no prepared table`);
				if (!child.linked || full) {
					this.#write2(node, i, child.p0, child.p1);
					child.linked = true;
					this.#sync(child, bs, bs + cov, true);
				} else this.#sync(child, Math.max(a, bs), Math.min(b, bs + cov), false);
				continue;
			}
			this.#unlink(child);
			if (cls === C_INVALID) this.#write2(node, i, 0, 0);
			else if (cls === C_SPARSE) this.#write2(node, i, this.format.sparsePde.lo, this.format.sparsePde.hi);
			else this.#writeRun(node, i * 2, 2, 1, this.#pteMapping as Mapping, bs, L.shift);
		}
	}

	/** Sync PDE0 slot `i` (and, for a run of 2 MiB PTEs of one mapping, the following slots before `i1`); returns the slots done. */
	#syncDual(node: Node, i: number, i1: number, bs: number, a: number, b: number, full: boolean): number {
		const s = this.#committed;
		const w = i * 4;
		const words = node.words;
		const o = node.off + w;
		const cls = this.#classify(s, bs, 512, 21);
		const bigs = node.big;
		const smalls = node.small;
		if (cls !== C_MIXED) {
			this.#unlinkLeaf(bigs, i);
			this.#unlinkLeaf(smalls, i);
			if (cls === C_PTE) {
				// The mapping covers this slot with 2 MiB pages; it does so for as many following slots as it spans.
				const m = this.#pteMapping as Mapping;
				const k = Math.min(i1 - i, Math.floor((m.end - bs) / 512));
				for (let j = i + 1; j < i + k; j++) {
					this.#unlinkLeaf(bigs, j);
					this.#unlinkLeaf(smalls, j);
				}
				this.#writeRun(node, w, 4, k, m, bs, 21);
				return k;
			}
			const sp = cls === C_SPARSE ? this.format.sparseDualPde : null;
			words[o] = sp === null ? 0 : sp[0];
			words[o + 1] = sp === null ? 0 : sp[1];
			words[o + 2] = sp === null ? 0 : sp[2];
			words[o + 3] = sp === null ? 0 : sp[3];
			this.#entries++;
			this.#touch(node, w, w + 4);
			return 1;
		}
		const need = this.#analyze(s, bs);
		const cover = this.#cover;
		if (cover !== null) {
			const k = Math.min(i1 - i, Math.floor((cover.end - bs) / 512));
			return this.#syncCovered(node, i, i + k, cover, need === NEED_LPT, a, b, full);
		}
		const needLpt = (need & NEED_LPT) !== 0;
		const needSpt = (need & NEED_SPT) !== 0;
		const hasLpt = bigs !== null && bigs.mem[i] !== null;
		const hasSpt = smalls !== null && smalls.mem[i] !== null;
		if (needLpt && !hasLpt) throw new Error('internal: missing prepared LPT');
		if (needSpt && !hasSpt) throw new Error('internal: missing prepared SPT');
		const hadLpt = hasLpt && bigs.linked[i] === 1;
		const hadSpt = hasSpt && smalls.linked[i] === 1;
		const fresh = full || needLpt !== hadLpt || needSpt !== hadSpt;
		if (!needLpt) this.#unlinkLeaf(bigs, i);
		if (!needSpt) this.#unlinkLeaf(smalls, i);
		if (fresh) {
			// The halves do not overlap, so the dual PDE is the two halves' words side by side.
			words[o] = needLpt ? ((bigs as Leaves).ptr[i * 2] as number) : 0;
			words[o + 1] = needLpt ? ((bigs as Leaves).ptr[i * 2 + 1] as number) : 0;
			words[o + 2] = needSpt ? ((smalls as Leaves).ptr[i * 2] as number) : 0;
			words[o + 3] = needSpt ? ((smalls as Leaves).ptr[i * 2 + 1] as number) : 0;
			this.#entries++;
			this.#touch(node, w, w + 4);
			if (needLpt) (bigs as Leaves).linked[i] = 1;
			if (needSpt) (smalls as Leaves).linked[i] = 1;
		}
		// Sub-block granularity: LPT entries and, with an LPT, the SPT entries under them.
		let r0 = fresh ? bs : Math.max(a, bs);
		let r1 = fresh ? bs + 512 : Math.min(b, bs + 512);
		r0 = bs + ((r0 - bs) & ~15);
		r1 = bs + (((r1 - bs + 15) >> 4) << 4);
		if (needLpt) this.#syncLpt(bigs as Leaves, i, bs, r0, r1);
		if (needSpt) this.#syncSpt(smalls as Leaves, i, bs, r0, r1, needLpt);
		return 1;
	}

	/**
	 * Sync PDE0 slots `[i, k)` of `node`, all inside mapping `m` of 4 KiB (`big` false) or 64 KiB pages: each
	 * slot points at its one leaf table, filled with a run of PTEs. Whole tables that lie back to back in
	 * one `words` array (as a slab hands them out) are written as a single run. Returns `k - i`.
	 */
	#syncCovered(
		node: Node,
		i: number,
		k: number,
		m: Mapping,
		big: boolean,
		a: number,
		b: number,
		full: boolean,
	): number {
		const words = node.words;
		const set = big ? node.big : node.small;
		const other = big ? node.small : node.big;
		if (set === null) throw new Error(`internal: missing prepared ${big ? 'LPTs' : 'SPTs'}`);
		const shift = big ? 16 : 12;
		const perTable = big ? 32 : 512;
		// The current run of whole tables: its words, first word, first page, entries so far, next word expected.
		let runWords: Uint32Array | null = null;
		let runStart = 0;
		let runVpn = 0;
		let runCount = 0;
		for (let j = i; j < k; j++) {
			const bs = node.base + j * 512;
			const t = set.mem[j] ?? null;
			if (t === null) throw new Error(`internal: missing prepared ${big ? 'LPT' : 'SPT'}`);
			const fresh = full || set.linked[j] === 0 || (other !== null && other.linked[j] === 1);
			this.#unlinkLeaf(other, j);
			if (fresh) {
				const o = node.off + j * 4;
				const p0 = set.ptr[j * 2] as number;
				const p1 = set.ptr[j * 2 + 1] as number;
				words[o] = big ? p0 : 0;
				words[o + 1] = big ? p1 : 0;
				words[o + 2] = big ? 0 : p0;
				words[o + 3] = big ? 0 : p1;
				this.#entries++;
				this.#touch(node, j * 4, j * 4 + 4);
				set.linked[j] = 1;
			}
			let r0 = fresh ? bs : Math.max(a, bs);
			let r1 = fresh ? bs + 512 : Math.min(b, bs + 512);
			r0 = bs + ((r0 - bs) & ~15);
			r1 = bs + (((r1 - bs + 15) >> 4) << 4);
			if (r0 === bs && r1 === bs + 512) {
				this.#touchLeaf(set, j, 0, perTable * 2);
				if (t.words === runWords && t.wordOffset === runStart + runCount * 2) {
					runCount += perTable;
					continue;
				}
				if (runWords !== null) this.#writeRunRaw(runWords, runStart, 2, runCount, m, runVpn, shift);
				runWords = t.words;
				runStart = t.wordOffset;
				runVpn = bs;
				runCount = perTable;
				continue;
			}
			const e0 = big ? (r0 - bs) >> 4 : r0 - bs;
			const n = big ? (r1 - r0) >> 4 : r1 - r0;
			this.#writeRunRaw(t.words, t.wordOffset + e0 * 2, 2, n, m, r0, shift);
			this.#touchLeaf(set, j, e0 * 2, (e0 + n) * 2);
		}
		if (runWords !== null) this.#writeRunRaw(runWords, runStart, 2, runCount, m, runVpn, shift);
		return k - i;
	}

	/** LPT `j` of `set` (under the block at `bs`), entries for pages `[r0, r1)`. */
	#syncLpt(set: Leaves, j: number, bs: number, r0: number, r1: number): void {
		const sub = this.#sub;
		const subMap = this.#subMap;
		const f = this.format;
		const mem = set.mem[j] as PageTableMemory;
		const words = mem.words;
		const o = mem.wordOffset;
		let e = (r0 - bs) >> 4;
		const eEnd = (r1 - bs) >> 4;
		const e0 = e;
		while (e < eEnd) {
			const c = sub[e] as number;
			if (c === S_BIG) {
				const m = subMap[e] as Mapping;
				let k = e + 1;
				while (k < eEnd && sub[k] === S_BIG && subMap[k] === m) k++;
				this.#writeRunRaw(words, o + e * 2, 2, k - e, m, bs + e * 16, 16);
				e = k;
				continue;
			}
			const v = c === S_SPARSE ? f.sparsePte : c === S_INVALID ? f.lptIgnoreSmall : null;
			words[o + e * 2] = v === null ? 0 : v.lo;
			words[o + e * 2 + 1] = v === null ? 0 : v.hi;
			this.#entries++;
			e++;
		}
		if (eEnd > e0) this.#touchLeaf(set, j, e0 * 2, eEnd * 2);
	}

	/** SPT `j` of `set` (under the block at `bs`), entries for pages `[r0, r1)`. */
	#syncSpt(set: Leaves, j: number, bs: number, r0: number, r1: number, hasLpt: boolean): void {
		const sub = this.#sub;
		const mem = set.mem[j] as PageTableMemory;
		const words = mem.words;
		const o = mem.wordOffset;
		let p = r0;
		while (p < r1) {
			const e = (p - bs) >> 4;
			const c = sub[e] as number;
			let q = bs + (e + 1) * 16;
			if (c === S_SMALL) {
				while (q < r1 && sub[(q - bs) >> 4] === S_SMALL) q += 16;
				q = Math.min(q, r1);
				this.#fillSmall(words, o, bs, p, q);
			} else {
				q = Math.min(q, r1);
				if (!hasLpt && c === S_SPARSE)
					this.#fill(words, o, p - bs, q - bs, this.format.sparsePte.lo, this.format.sparsePte.hi);
				else this.#fill(words, o, p - bs, q - bs, 0, 0);
			}
			p = q;
		}
		this.#touchLeaf(set, j, (r0 - bs) * 2, (r1 - bs) * 2);
	}

	/** SPT entries `[p, q)` (table at `words[o]`, block at `bs`) of small-page sub-blocks: PTEs of 4 KiB mappings, sparse or invalid gaps. */
	#fillSmall(words: Uint32Array, o: number, bs: number, p: number, q: number): void {
		const s = this.#committed;
		let cur = p;
		s.maps.forEachOverlapping(p, q, (m) => {
			const ms = Math.max(m.start, p);
			const me = Math.min(m.end, q);
			if (ms > cur) this.#fillGap(words, o, bs, cur, ms);
			this.#writeRunRaw(words, o + (ms - bs) * 2, 2, me - ms, m, ms, 12);
			cur = me;
		});
		if (cur < q) this.#fillGap(words, o, bs, cur, q);
	}

	#fillGap(words: Uint32Array, o: number, bs: number, p: number, q: number): void {
		let cur = p;
		const sp = this.format.sparsePte;
		this.#committed.regions.forEachOverlapping(p, q, (r) => {
			const rs = Math.max(r.start, p);
			const re = Math.min(r.end, q);
			if (rs > cur) this.#fill(words, o, cur - bs, rs - bs, 0, 0);
			this.#fill(words, o, rs - bs, re - bs, sp.lo, sp.hi);
			cur = re;
		});
		if (cur < q) this.#fill(words, o, cur - bs, q - bs, 0, 0);
	}

	/** Entries `[e0, e1)` of the table at `words[o]` set to `lo`/`hi`. */
	#fill(words: Uint32Array, o: number, e0: number, e1: number, lo: number, hi: number): void {
		for (let w = o + e0 * 2, end = o + e1 * 2; w < end; w += 2) {
			words[w] = lo;
			words[w + 1] = hi;
		}
		this.#entries += e1 - e0;
	}

	/** PTEs in directory `n` (2 MiB and larger pages), from its word `w`; see {@link #writeRunRaw}. */
	#writeRun(
		n: Node,
		w: number,
		stride: number,
		count: number,
		m: Mapping,
		vpn: number,
		pageShift: number,
	): void {
		this.#writeRunRaw(n.words, n.off + w, stride, count, m, vpn, pageShift);
		this.#touch(n, w, w + stride * count);
	}

	/**
	 * The hot path: `count` PTEs of `pageShift`-sized pages of mapping `m`, starting at virtual page `vpn`,
	 * written as u32 pairs every `stride` words from `words[w]` (stride 4 clears the high qword of a PDE0 slot).
	 */
	#writeRunRaw(
		words: Uint32Array,
		w0: number,
		stride: number,
		count: number,
		m: Mapping,
		vpn: number,
		pageShift: number,
	): void {
		let w = w0;
		const b = m.backing;
		const q = 2 ** (pageShift - 12);
		const lowMod = this.#lowMod;
		const mul = this.#mul;
		const inc = q * mul;
		let o = vpn - m.start + m.offset;
		let i = extentIndex(b, o);
		let left = count;
		this.#entries += count;
		while (left > 0) {
			const s = b.starts[i] as number;
			const avail = ((b.starts[i + 1] as number) - o) / q;
			const cnt = Math.min(avail, left);
			const ppn = (b.ppns[i] as number) + (o - s);
			let lo = (ppn % lowMod) * mul + m.flagsLo;
			let hi = Math.floor(ppn / lowMod) + m.flagsHi;
			let rem = cnt;
			while (rem > 0) {
				// Entries until the low word overflows; the inner loops then need no carry check.
				const room = Math.ceil((4294967296 - lo) / inc);
				const k = Math.min(room, rem);
				const end = w + k * stride;
				if (stride === 2) {
					for (; w < end; w += 2) {
						words[w] = lo;
						words[w + 1] = hi;
						lo += inc;
					}
				} else {
					for (; w < end; w += stride) {
						words[w] = lo;
						words[w + 1] = hi;
						words[w + 2] = 0;
						words[w + 3] = 0;
						lo += inc;
					}
				}
				rem -= k;
				if (lo >= 4294967296) {
					lo -= 4294967296;
					hi++;
				}
			}
			left -= cnt;
			o += cnt * q;
			i++;
		}
	}

	// ------------------------------------------------------------------ RM-reserved ranges

	/**
	 * Reserve `[va, va + size)` for GSP-RM: the directories down to the level whose entries cover `granule`
	 * bytes are allocated, linked and pinned, and those entries are left to RM. Used by
	 * {@link serverReservedPdes}. Requires no pending prepared sets and an empty range.
	 * @returns the pinned directories, root first.
	 * @internal
	 */
	reserveForServer(
		va: bigint,
		size: bigint,
		granuleShift: number,
	): readonly { mem: PageTableMemory; level: LevelSpec }[] {
		if (this.#queue.length !== 0) {
			throw new MmuError('MMU_PREPARED_STATE', 'cannot reserve RM PDEs while prepared sets are pending');
		}
		const start = pageCount(va, 'va');
		const end = start + pageCount(size, 'size');
		const dirs = this.format.dirs;
		const depth = dirs.findIndex((d) => d.shift === granuleShift);
		if (depth <= 0)
			throw new MmuError('MMU_INVALID_ARGUMENT', `no directory level with ${granuleShift}-bit entries`);
		const parentCov = 2 ** ((dirs[depth - 1] as LevelSpec).shift - 12);
		const gran = 2 ** (granuleShift - 12);
		const details = { va: `0x${va.toString(16)}`, size: `0x${size.toString(16)}` };
		const existing = this.#reserved.find((r) => r.start === start && r.end === end);
		if (existing === undefined) {
			if (
				end <= start ||
				start % gran !== 0 ||
				end % gran !== 0 ||
				Math.floor(start / parentCov) !== Math.floor((end - 1) / parentCov)
			) {
				throw new MmuError(
					'MMU_INVALID_ARGUMENT',
					'RM-reserved range must be granule-aligned and inside one directory',
					details,
				);
			}
			this.#checkRange(start, end, 'kernel', va, size);
			for (const s of [this.#committed, this.#pending]) {
				if (s.maps.overlaps(start, end) || s.regions.overlaps(start, end)) {
					throw new MmuError('MMU_RANGE_INVALID', 'RM-reserved range is not empty', details);
				}
			}
		}
		// Allocate the path (may fail: nothing changes then).
		const path: Node[] = [this.#root];
		const created: Node[] = [];
		try {
			let n = this.#root;
			for (let d = 1; d <= depth; d++) {
				const L = n.level;
				const cov = 2 ** (L.shift - 12);
				const i = Math.floor((start - n.base) / cov);
				n.children ??= new Array<Node | null>(L.entries).fill(null);
				let c = n.children[i] ?? null;
				if (c === null) {
					// Zeroed: the entries RM owns are never written by this VA space.
					c = this.#newNode(d, dirs[d] as LevelSpec, n.base + i * cov, n, i, true);
					n.children[i] = c;
					created.push(c);
				}
				path.push(c);
				n = c;
			}
		} catch (e) {
			this.#freeUnneeded([created], []);
			throw e;
		}
		if (existing === undefined) {
			for (const n of path) n.pins++;
			this.#reserved.push({ start, end, granule: gran });
			this.#startWrites();
			this.#sync(this.#root, start, end, false);
			this.#finishWrites();
		}
		return path.map((n) => ({ mem: n.mem, level: n.level }));
	}

	// ------------------------------------------------------------------------ inspection

	/** The committed mappings, in address order. */
	mappings(): MappingInfo[] {
		return this.#committed.maps.values().map((m) => ({
			va: u(m.start),
			size: u(m.end - m.start),
			object: m.object,
			offset: u(m.offset),
			pageSize: 2 ** m.pageShift,
			attributes: { ...m.attrs },
		}));
	}

	/** The committed sparse regions, in address order. */
	sparseRegions(): { va: bigint; size: bigint }[] {
		return this.#committed.regions.values().map((r) => ({ va: u(r.start), size: u(r.end - r.start) }));
	}

	/** A view of just one table's words (for readers; the write paths index `words` directly). */
	#view(mem: PageTableMemory, level: LevelSpec): Uint32Array {
		let v = this.#views.get(mem);
		if (v === undefined) {
			v = mem.words.subarray(mem.wordOffset, mem.wordOffset + level.tableBytes / 4);
			this.#views.set(mem, v);
		}
		return v;
	}

	/** Every live table, directories before the tables below them. */
	#forEachTable(fn: (mem: PageTableMemory, level: LevelSpec) => void): void {
		const walk = (n: Node): void => {
			fn(n.mem, n.level);
			if (n.children !== null) for (const c of n.children) if (c !== null) walk(c);
			for (const set of [n.big, n.small]) {
				if (set === null) continue;
				for (const mem of set.mem) if (mem !== null) fn(mem, set.level);
			}
		};
		walk(this.#root);
	}

	/** Page-table memory in use (all levels, including the root). */
	get pageTables(): PageTableStats {
		const byLevel: Record<string, number> = {};
		let bytes = 0;
		let tables = 0;
		this.#forEachTable((_, level) => {
			byLevel[level.name] = (byLevel[level.name] ?? 0) + 1;
			bytes += level.tableBytes;
			tables++;
		});
		return { tables, bytes, byLevel };
	}

	/** Reads this VA space's own tables by address (for {@link translate} and tests). */
	readonly readTable: TableReader = (address: bigint) => {
		if (this.#tableIndex === null) {
			const index = new Map<number, Uint32Array>();
			this.#forEachTable((mem, level) => {
				index.set(Number(mem.address), this.#view(mem, level));
			});
			this.#tableIndex = index;
		}
		return this.#tableIndex.get(Number(address));
	};

	/** Translate `va` by walking the committed page tables in memory (a software MMU walk). */
	translate(va: bigint): Translation {
		return translate(this.format, this.pdb, va, this.readTable);
	}

	/** Every table's bytes, keyed by address (a snapshot, for tests: compare before/after). */
	snapshotTables(): Map<bigint, Uint8Array> {
		const out = new Map<bigint, Uint8Array>();
		this.#forEachTable((mem, level) => {
			const v = this.#view(mem, level);
			out.set(mem.address, new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice());
		});
		return out;
	}
}

function hasLiveChild(n: Node): boolean {
	if ((n.big?.count ?? 0) > 0 || (n.small?.count ?? 0) > 0) return true;
	if (n.children !== null) for (const c of n.children) if (c !== null && !c.freed) return true;
	return false;
}

/** Sort and merge `[start, end)` pairs. */
function coalesce(pairs: readonly number[]): number[] {
	const n = pairs.length / 2;
	if (n === 0) return [];
	const idx = Array.from({ length: n }, (_, i) => i).sort(
		(x, y) => (pairs[x * 2] as number) - (pairs[y * 2] as number),
	);
	const out: number[] = [];
	for (const i of idx) {
		const s = pairs[i * 2] as number;
		const e = pairs[i * 2 + 1] as number;
		const last = out.length - 1;
		if (last > 0 && s <= (out[last] as number)) {
			if (e > (out[last] as number)) out[last] = e;
		} else out.push(s, e);
	}
	return out;
}
