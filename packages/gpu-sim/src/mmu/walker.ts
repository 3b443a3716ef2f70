/**
 * The uncached page-table walk for MMU v2 (Turing, Ampere, Ada) and v3 (Hopper): geometry, entry decoding and
 * the big/small page-table rules. The TLB in `tlb.ts` sits in front of it.
 *
 * How PDE0's two tables combine (NVIDIA's rule, from `nvidia-uvm`'s `unmapped_pte_*` and the big-page
 * split/merge comments in `uvm_va_block.c`): the MMU reads the big (64 KiB) PTE first.
 * - VALID: the 64 KiB page is used and the 4 KiB PTEs below it are not read.
 * - not VALID and sparse (v2 VOL, v3 PCF SPARSE): the range is sparse.
 * - not VALID and "unmapped" (v2 PRIVILEGE, v3 PCF NO_VALID_4KB_PAGE): the walk stops with a PTE fault; the
 *   4 KiB PTEs are not read.
 * - otherwise (all zero, v3 PCF INVALID): the MMU reads the 4 KiB PTE, if PDE0 has a small table.
 *
 * @module
 */

import type { MmuFormat } from '@gspkit/hal';
import { isGspkitError } from '@gspkit/hal';
import {
	type BitField,
	getField64,
	getField128,
	PDE_APERTURE,
	PTE_APERTURE,
	PTE_KIND_INVALID,
	V2_DUAL_PDE,
	V2_PDE,
	V2_PTE,
	V3_DUAL_PDE,
	V3_PDE,
	V3_PDE_PCF_SPARSE_BIT,
	V3_PTE,
	V3_PTE_PCF_INVALID,
	V3_PTE_PCF_VALID_BITS,
} from './fields.ts';
import type {
	EntryLocation,
	FaultReason,
	MmuLevel,
	PageAperture,
	PhysicalMemory,
	TableAperture,
} from './types.ts';

/** One directory level of a format: which VA bits index it and how big its entries are. */
export interface LevelGeometry {
	readonly name: MmuLevel;
	/** Lowest VA bit of the index (the level's entries each cover `2^lo` bytes). */
	readonly lo: number;
	/** Number of index bits. */
	readonly bits: number;
	/** 8, or 16 for the dual PDE0. */
	readonly entrySize: 8 | 16;
	/** `n` of PDEn, as `CACHE_LEVEL_UP_TO_PDEn` counts. */
	readonly pdeNumber: number;
}

/** The shape of one page-table format. */
export interface FormatGeometry {
	readonly format: MmuFormat;
	/** Width of a GPU virtual address. */
	readonly vaBits: number;
	/** Directory levels, root first; the last is the dual PDE0. */
	readonly levels: readonly LevelGeometry[];
	/** Big-page (64 KiB) table index: VA bits 20:16. */
	readonly bigPageShift: 16;
	readonly bigTableBits: 5;
	/** Small-page (4 KiB) table index: VA bits 20:12. */
	readonly smallPageShift: 12;
	readonly smallTableBits: 9;
}

function level(
	name: MmuLevel,
	lo: number,
	bits: number,
	entrySize: 8 | 16,
	pdeNumber: number,
): LevelGeometry {
	return Object.freeze({ name, lo, bits, entrySize, pdeNumber });
}

/** MMU v2: 49-bit VA, PDE3 (48:47) → PDE2 (46:38) → PDE1 (37:29) → dual PDE0 (28:21) → PTE. */
export const V2_GEOMETRY: FormatGeometry = Object.freeze({
	format: 'v2',
	vaBits: 49,
	levels: Object.freeze([
		level('PDE3', 47, 2, 8, 3),
		level('PDE2', 38, 9, 8, 2),
		level('PDE1', 29, 9, 8, 1),
		level('PDE0', 21, 8, 16, 0),
	]),
	bigPageShift: 16,
	bigTableBits: 5,
	smallPageShift: 12,
	smallTableBits: 9,
});

/** MMU v3: 57-bit VA, PDE4 (56) → PDE3 (55:47) → PDE2 → PDE1 → dual PDE0 → PTE. */
export const V3_GEOMETRY: FormatGeometry = Object.freeze({
	format: 'v3',
	vaBits: 57,
	levels: Object.freeze([
		level('PDE4', 56, 1, 8, 4),
		level('PDE3', 47, 9, 8, 3),
		level('PDE2', 38, 9, 8, 2),
		level('PDE1', 29, 9, 8, 1),
		level('PDE0', 21, 8, 16, 0),
	]),
	bigPageShift: 16,
	bigTableBits: 5,
	smallPageShift: 12,
	smallTableBits: 9,
});

/** The geometry of `format`. */
export function geometryOf(format: MmuFormat): FormatGeometry {
	return format === 'v2' ? V2_GEOMETRY : V3_GEOMETRY;
}

/** Where a table lives. */
export interface TablePointer {
	readonly aperture: TableAperture;
	readonly address: bigint;
}

/** What a dual PDE0 points at: either table may be absent. */
export interface DualPointer {
	readonly big: TablePointer | undefined;
	readonly small: TablePointer | undefined;
}

/** A page the walk found. */
export interface LeafEntry {
	readonly kind: 'page';
	readonly level: MmuLevel;
	readonly table?: 'big' | 'small';
	/** log2 of the page size. */
	readonly pageShift: number;
	readonly aperture: PageAperture;
	/** Physical address of the page's first byte. */
	readonly base: bigint;
	readonly peerId?: number;
	/** The PTE's KIND field. */
	readonly memoryKind: number;
	readonly readOnly: boolean;
	readonly volatile: boolean;
	readonly privileged: boolean;
	readonly atomicDisabled: boolean;
	readonly pcf?: number;
	readonly encrypted?: boolean;
	readonly entry: EntryLocation;
}

/** A sparse range the walk found (at a PTE, or at a directory level for a whole PDE's span). */
export interface SparseEntry {
	readonly kind: 'sparse';
	readonly level: MmuLevel;
	readonly table?: 'big' | 'small';
	readonly pageShift: number;
	readonly entry: EntryLocation;
}

/** A walk that ended without a page. */
export interface WalkFault {
	readonly kind: 'fault';
	readonly level: MmuLevel;
	readonly reason: FaultReason;
	readonly table?: 'big' | 'small';
	readonly entry?: EntryLocation;
	readonly cause?: unknown;
}

/** The result of an uncached walk. */
export type WalkOutcome = LeafEntry | SparseEntry | WalkFault;

/** One entry read during a walk (for diagnostics). */
export interface WalkStep {
	readonly level: MmuLevel;
	readonly table?: 'big' | 'small';
	readonly aperture: TableAperture;
	readonly address: bigint;
	/** Raw entry (128 bits for PDE0); 0 when the PDE came from the cache. */
	readonly value: bigint;
	/** Whether the PDE came from the walk cache instead of memory. */
	readonly cached: boolean;
}

/** Directory-entry cache consulted by the walk (the TLB's PDE caches). Keys are the VA and PDE number. */
export interface PdeCache {
	get(pdeNumber: number, va: bigint): TablePointer | DualPointer | undefined;
	set(pdeNumber: number, va: bigint, value: TablePointer | DualPointer): void;
}

/** How a PTE with VALID = 0 (or VALID = 1) is to be treated. */
type PteClass = 'valid' | 'sparse' | 'blocked' | 'empty';

type PdeDecode =
	| { readonly type: 'pointer'; readonly pointer: TablePointer }
	| { readonly type: 'sparse' }
	| { readonly type: 'invalid' }
	| { readonly type: 'pte' };

type DualDecode =
	| { readonly type: 'pointers'; readonly pointers: DualPointer }
	| { readonly type: 'sparse' }
	| { readonly type: 'invalid' }
	| { readonly type: 'pte' };

interface LeafFields {
	readonly aperture: PageAperture;
	readonly base: bigint;
	readonly peerId?: number;
	readonly memoryKind: number;
	readonly readOnly: boolean;
	readonly volatile: boolean;
	readonly privileged: boolean;
	readonly atomicDisabled: boolean;
	readonly pcf?: number;
	readonly encrypted?: boolean;
}

interface Codec {
	decodePde(value: bigint): PdeDecode;
	decodeDual(lo: bigint, hi: bigint): DualDecode;
	classifyPte(value: bigint): PteClass;
	decodeLeaf(value: bigint): LeafFields;
}

const TABLE_APERTURES: readonly (TableAperture | undefined)[] = [
	undefined,
	'video',
	'sys-coherent',
	'sys-noncoherent',
];
const PAGE_APERTURES: readonly PageAperture[] = ['video', 'peer', 'sys-coherent', 'sys-noncoherent'];

function tableAperture(code: bigint): TableAperture | undefined {
	return TABLE_APERTURES[Number(code)];
}

function flag(value: bigint, field: BitField): boolean {
	return getField64(value, field) !== 0n;
}

const V2_CODEC: Codec = {
	decodePde(value) {
		if (flag(value, V2_PDE.IS_PTE)) return { type: 'pte' };
		const code = getField64(value, V2_PDE.APERTURE);
		const aperture = tableAperture(code);
		if (aperture === undefined) return flag(value, V2_PDE.VOL) ? { type: 'sparse' } : { type: 'invalid' };
		const field = Number(code) === PDE_APERTURE.VIDEO_MEMORY ? V2_PDE.ADDRESS_VID : V2_PDE.ADDRESS_SYS;
		const address = getField64(value, field) << BigInt(V2_PDE.ADDRESS_SHIFT);
		return { type: 'pointer', pointer: { aperture, address } };
	},
	decodeDual(lo, hi) {
		if (flag(lo, V2_DUAL_PDE.IS_PTE)) return { type: 'pte' };
		const bigCode = getField128(lo, hi, V2_DUAL_PDE.APERTURE_BIG);
		const smallCode = getField128(lo, hi, V2_DUAL_PDE.APERTURE_SMALL);
		const bigAperture = tableAperture(bigCode);
		const smallAperture = tableAperture(smallCode);
		if (bigAperture === undefined && smallAperture === undefined) {
			return getField128(lo, hi, V2_DUAL_PDE.VOL_BIG) !== 0n ? { type: 'sparse' } : { type: 'invalid' };
		}
		const video = PDE_APERTURE.VIDEO_MEMORY;
		const big =
			bigAperture === undefined
				? undefined
				: {
						aperture: bigAperture,
						address:
							getField128(
								lo,
								hi,
								Number(bigCode) === video ? V2_DUAL_PDE.ADDRESS_BIG_VID : V2_DUAL_PDE.ADDRESS_BIG_SYS,
							) << BigInt(V2_DUAL_PDE.ADDRESS_BIG_SHIFT),
					};
		const small =
			smallAperture === undefined
				? undefined
				: {
						aperture: smallAperture,
						address:
							getField128(
								lo,
								hi,
								Number(smallCode) === video ? V2_DUAL_PDE.ADDRESS_SMALL_VID : V2_DUAL_PDE.ADDRESS_SMALL_SYS,
							) << BigInt(V2_DUAL_PDE.ADDRESS_SHIFT),
					};
		return { type: 'pointers', pointers: { big, small } };
	},
	classifyPte(value) {
		if (flag(value, V2_PTE.VALID)) return 'valid';
		// With VALID = 0 the MMU still reads VOL (sparse) and PRIVILEGE (big PTE: "unmapped", stop here).
		if (flag(value, V2_PTE.VOL)) return 'sparse';
		if (flag(value, V2_PTE.PRIVILEGE)) return 'blocked';
		return 'empty';
	},
	decodeLeaf(value) {
		const code = Number(getField64(value, V2_PTE.APERTURE));
		const aperture = PAGE_APERTURES[code] as PageAperture;
		const vidLike = code === PTE_APERTURE.VIDEO_MEMORY || code === PTE_APERTURE.PEER_MEMORY;
		const base =
			getField64(value, vidLike ? V2_PTE.ADDRESS_VID : V2_PTE.ADDRESS_SYS) << BigInt(V2_PTE.ADDRESS_SHIFT);
		const fields: LeafFields = {
			aperture,
			base,
			memoryKind: Number(getField64(value, V2_PTE.KIND)),
			readOnly: flag(value, V2_PTE.READ_ONLY),
			volatile: flag(value, V2_PTE.VOL),
			privileged: flag(value, V2_PTE.PRIVILEGE),
			atomicDisabled: flag(value, V2_PTE.ATOMIC_DISABLE),
			encrypted: flag(value, V2_PTE.ENCRYPTED),
		};
		return code === PTE_APERTURE.PEER_MEMORY
			? { ...fields, peerId: Number(getField64(value, V2_PTE.ADDRESS_VID_PEER)) }
			: fields;
	},
};

const V3_CODEC: Codec = {
	decodePde(value) {
		if (flag(value, V3_PDE.IS_PTE)) return { type: 'pte' };
		const aperture = tableAperture(getField64(value, V3_PDE.APERTURE));
		if (aperture === undefined) {
			const pcf = Number(getField64(value, V3_PDE.PCF));
			return pcf & V3_PDE_PCF_SPARSE_BIT ? { type: 'sparse' } : { type: 'invalid' };
		}
		const address = getField64(value, V3_PDE.ADDRESS) << BigInt(V3_PDE.ADDRESS_SHIFT);
		return { type: 'pointer', pointer: { aperture, address } };
	},
	decodeDual(lo, hi) {
		if (flag(lo, V3_DUAL_PDE.IS_PTE)) return { type: 'pte' };
		const bigAperture = tableAperture(getField128(lo, hi, V3_DUAL_PDE.APERTURE_BIG));
		const smallAperture = tableAperture(getField128(lo, hi, V3_DUAL_PDE.APERTURE_SMALL));
		if (bigAperture === undefined && smallAperture === undefined) {
			const pcf = Number(getField128(lo, hi, V3_DUAL_PDE.PCF_BIG));
			return pcf & V3_PDE_PCF_SPARSE_BIT ? { type: 'sparse' } : { type: 'invalid' };
		}
		const big =
			bigAperture === undefined
				? undefined
				: {
						aperture: bigAperture,
						address: getField128(lo, hi, V3_DUAL_PDE.ADDRESS_BIG) << BigInt(V3_DUAL_PDE.ADDRESS_BIG_SHIFT),
					};
		const small =
			smallAperture === undefined
				? undefined
				: {
						aperture: smallAperture,
						address: getField128(lo, hi, V3_DUAL_PDE.ADDRESS_SMALL) << BigInt(V3_DUAL_PDE.ADDRESS_SHIFT),
					};
		return { type: 'pointers', pointers: { big, small } };
	},
	classifyPte(value) {
		if (flag(value, V3_PTE.VALID)) return 'valid';
		const pcf = Number(getField64(value, V3_PTE.PCF));
		if (pcf === V3_PTE_PCF_INVALID.SPARSE) return 'sparse';
		if (pcf === V3_PTE_PCF_INVALID.INVALID) return 'empty';
		// NO_VALID_4KB_PAGE stops the walk at a big PTE; MAPPING_NOWHERE and the reserved values are treated alike.
		return 'blocked';
	},
	decodeLeaf(value) {
		const code = Number(getField64(value, V3_PTE.APERTURE));
		const aperture = PAGE_APERTURES[code] as PageAperture;
		const pcf = Number(getField64(value, V3_PTE.PCF));
		const field = code === PTE_APERTURE.VIDEO_MEMORY ? V3_PTE.ADDRESS_VID : V3_PTE.ADDRESS;
		const fields: LeafFields = {
			aperture,
			base: getField64(value, field) << BigInt(V3_PTE.ADDRESS_SHIFT),
			memoryKind: Number(getField64(value, V3_PTE.KIND)),
			readOnly: (pcf & V3_PTE_PCF_VALID_BITS.READ_ONLY) !== 0,
			volatile: (pcf & V3_PTE_PCF_VALID_BITS.UNCACHED) !== 0,
			privileged: (pcf & V3_PTE_PCF_VALID_BITS.PRIVILEGE) !== 0,
			atomicDisabled: (pcf & V3_PTE_PCF_VALID_BITS.NO_ATOMIC) !== 0,
			pcf,
		};
		return code === PTE_APERTURE.PEER_MEMORY
			? { ...fields, peerId: Number(getField64(value, V3_PTE.PEER_ID)) }
			: fields;
	},
};

/** Options of a {@link PageWalker}. */
export interface PageWalkerOptions {
	readonly format: MmuFormat;
	readonly memory: PhysicalMemory;
	/** Whether a PTE in PDE1 maps a 512 MiB page (Ampere and later); otherwise it faults. */
	readonly hugePages512M: boolean;
}

/** The uncached walker: reads entries through {@link PhysicalMemory}, optionally through a {@link PdeCache}. */
export class PageWalker {
	readonly geometry: FormatGeometry;
	readonly #codec: Codec;
	readonly #memory: PhysicalMemory;
	readonly #hugePages512M: boolean;

	constructor(options: PageWalkerOptions) {
		this.geometry = geometryOf(options.format);
		this.#codec = options.format === 'v2' ? V2_CODEC : V3_CODEC;
		this.#memory = options.memory;
		this.#hugePages512M = options.hugePages512M;
	}

	/**
	 * Walk from the root table `root` for `va`. The caller has checked the VA range and the root's alignment.
	 * `steps`, when given, receives every entry used.
	 */
	walk(root: TablePointer, va: bigint, cache?: PdeCache, steps?: WalkStep[]): WalkOutcome {
		let table = root;
		const levels = this.geometry.levels;
		for (const lvl of levels) {
			const index = (va >> BigInt(lvl.lo)) & ((1n << BigInt(lvl.bits)) - 1n);
			const address = table.address + index * BigInt(lvl.entrySize);
			if (lvl.entrySize === 16) return this.#walkPde0(lvl, table, address, va, cache, steps);

			const cached = cache?.get(lvl.pdeNumber, va) as TablePointer | undefined;
			if (cached !== undefined) {
				steps?.push({ level: lvl.name, aperture: table.aperture, address, value: 0n, cached: true });
				table = cached;
				continue;
			}
			const value = this.#read(table.aperture, address);
			if (typeof value !== 'bigint')
				return { kind: 'fault', level: lvl.name, reason: 'unreadable-table', cause: value.error };
			steps?.push({ level: lvl.name, aperture: table.aperture, address, value, cached: false });
			const entry: EntryLocation = { aperture: table.aperture, address, value };
			const decoded = this.#codec.decodePde(value);
			switch (decoded.type) {
				case 'pointer':
					cache?.set(lvl.pdeNumber, va, decoded.pointer);
					table = decoded.pointer;
					break;
				case 'sparse':
					return { kind: 'sparse', level: lvl.name, pageShift: lvl.lo, entry };
				case 'invalid':
					return { kind: 'fault', level: lvl.name, reason: 'invalid-pde', entry };
				case 'pte':
					if (lvl.pdeNumber === 1 && this.#hugePages512M) return this.#leaf(value, lvl.name, lvl.lo, entry);
					return { kind: 'fault', level: lvl.name, reason: 'unsupported-page-size', entry };
			}
		}
		throw new Error('page-table geometry has no dual PDE0');
	}

	#walkPde0(
		lvl: LevelGeometry,
		table: TablePointer,
		address: bigint,
		va: bigint,
		cache: PdeCache | undefined,
		steps: WalkStep[] | undefined,
	): WalkOutcome {
		let pointers = cache?.get(lvl.pdeNumber, va) as DualPointer | undefined;
		if (pointers !== undefined) {
			steps?.push({ level: lvl.name, aperture: table.aperture, address, value: 0n, cached: true });
		} else {
			const lo = this.#read(table.aperture, address);
			if (typeof lo !== 'bigint')
				return { kind: 'fault', level: lvl.name, reason: 'unreadable-table', cause: lo.error };
			const hi = this.#read(table.aperture, address + 8n);
			if (typeof hi !== 'bigint')
				return { kind: 'fault', level: lvl.name, reason: 'unreadable-table', cause: hi.error };
			const value = (hi << 64n) | lo;
			steps?.push({ level: lvl.name, aperture: table.aperture, address, value, cached: false });
			const entry: EntryLocation = { aperture: table.aperture, address, value };
			const decoded = this.#codec.decodeDual(lo, hi);
			switch (decoded.type) {
				case 'pte':
					return this.#leaf(lo, lvl.name, lvl.lo, { ...entry, value: lo });
				case 'sparse':
					return { kind: 'sparse', level: lvl.name, pageShift: lvl.lo, entry };
				case 'invalid':
					return { kind: 'fault', level: lvl.name, reason: 'invalid-pde', entry };
				case 'pointers':
					pointers = decoded.pointers;
					cache?.set(lvl.pdeNumber, va, pointers);
			}
		}

		const g = this.geometry;
		let blockedBy: EntryLocation | undefined;
		if (pointers.big !== undefined) {
			const index = (va >> BigInt(g.bigPageShift)) & ((1n << BigInt(g.bigTableBits)) - 1n);
			const at = pointers.big.address + index * 8n;
			const value = this.#read(pointers.big.aperture, at);
			if (typeof value !== 'bigint') {
				return { kind: 'fault', level: 'PTE', table: 'big', reason: 'unreadable-table', cause: value.error };
			}
			steps?.push({
				level: 'PTE',
				table: 'big',
				aperture: pointers.big.aperture,
				address: at,
				value,
				cached: false,
			});
			const entry: EntryLocation = { aperture: pointers.big.aperture, address: at, value };
			switch (this.#codec.classifyPte(value)) {
				case 'valid':
					return this.#leaf(value, 'PTE', g.bigPageShift, entry, 'big');
				case 'sparse':
					return { kind: 'sparse', level: 'PTE', table: 'big', pageShift: g.bigPageShift, entry };
				case 'blocked':
					return { kind: 'fault', level: 'PTE', table: 'big', reason: 'invalid-pte', entry };
				case 'empty':
					blockedBy = entry;
			}
		}
		if (pointers.small === undefined) {
			return {
				kind: 'fault',
				level: 'PTE',
				table: 'big',
				reason: 'invalid-pte',
				...(blockedBy === undefined ? {} : { entry: blockedBy }),
			};
		}
		const index = (va >> BigInt(g.smallPageShift)) & ((1n << BigInt(g.smallTableBits)) - 1n);
		const at = pointers.small.address + index * 8n;
		const value = this.#read(pointers.small.aperture, at);
		if (typeof value !== 'bigint') {
			return { kind: 'fault', level: 'PTE', table: 'small', reason: 'unreadable-table', cause: value.error };
		}
		steps?.push({
			level: 'PTE',
			table: 'small',
			aperture: pointers.small.aperture,
			address: at,
			value,
			cached: false,
		});
		const entry: EntryLocation = { aperture: pointers.small.aperture, address: at, value };
		switch (this.#codec.classifyPte(value)) {
			case 'valid':
				return this.#leaf(value, 'PTE', g.smallPageShift, entry, 'small');
			case 'sparse':
				return { kind: 'sparse', level: 'PTE', table: 'small', pageShift: g.smallPageShift, entry };
			default:
				return { kind: 'fault', level: 'PTE', table: 'small', reason: 'invalid-pte', entry };
		}
	}

	#leaf(
		value: bigint,
		levelName: MmuLevel,
		pageShift: number,
		entry: EntryLocation,
		table?: 'big' | 'small',
	): LeafEntry | WalkFault {
		const tableProp = table === undefined ? {} : { table };
		const fields = this.#codec.decodeLeaf(value);
		if (fields.memoryKind === PTE_KIND_INVALID) {
			return { kind: 'fault', level: levelName, reason: 'unsupported-kind', entry, ...tableProp };
		}
		if ((fields.base & ((1n << BigInt(pageShift)) - 1n)) !== 0n) {
			return { kind: 'fault', level: levelName, reason: 'unaligned-page', entry, ...tableProp };
		}
		return { kind: 'page', level: levelName, pageShift, entry, ...tableProp, ...fields };
	}

	#read(aperture: TableAperture, address: bigint): bigint | { error: unknown } {
		try {
			return BigInt.asUintN(64, this.#memory.readU64(aperture, address));
		} catch (error) {
			// Only the simulator's own memory faults become MMU faults; anything else is a bug and propagates.
			if (isGspkitError(error)) return { error };
			throw error;
		}
	}
}
