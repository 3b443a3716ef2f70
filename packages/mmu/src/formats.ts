/**
 * GPU page-table formats per hardware generation, as declarative field tables plus encoders and decoders.
 *
 * - **MMU v2** (Pascal…Ada; gspkit uses it for Turing, Ampere and Ada): 49-bit VA, PDE3 (4 entries) → PDE2 →
 *   PDE1 → dual PDE0 (16 bytes: 64 KiB-page table in the low qword, 4 KiB-page table in the high qword) → PT.
 *   4 KiB, 64 KiB and 2 MiB pages (a 2 MiB PTE sits in the low qword of a PDE0 slot).
 * - **MMU v3** (Hopper and later): 57-bit VA, PDE4 (2 entries) → PDE3 → PDE2 → PDE1 → dual PDE0 → PT, with
 *   "PCF" encodings for PTE and PDE attributes. Also 512 MiB video-memory pages (a PTE in a PDE1 slot).
 *
 * Facts: hardware reference B.1–B.4, NVIDIA's `dev_mmu.h` (tu102 for v2, gh100 for v3), nouveau `vmmgp100.c`
 * and `vmmgh100.c` for what the driver writes. Every field below names its `dev_mmu.h` macro; the tests parse
 * the header and check each one.
 *
 * @module
 */

import type { Chip, ChipInfo, MmuFormat as HalMmuFormat } from '@gspkit/hal';
import { MmuError } from './errors.ts';
import { type EntryLayout, encodeEntry, entryWords, extractField, type FieldDef } from './fields.ts';

/** Where a page (a PTE's target) lives. PTE and PDE encode these differently (see the layouts). */
export type PteAperture = 'video' | 'peer' | 'sysCoherent' | 'sysNonCoherent';

/** Where a page table lives: video memory or system memory (coherent or not). */
export type TableAperture = 'video' | 'sysCoherent' | 'sysNonCoherent';

/** Name of a page-table level. */
export type LevelName = 'PDE4' | 'PDE3' | 'PDE2' | 'PDE1' | 'PDE0' | 'LPT' | 'SPT';

/** Geometry of one page-table level. */
export interface LevelSpec {
	readonly name: LevelName;
	/** log2 of the VA range one entry covers (e.g. 21 for PDE0: 2 MiB per entry). */
	readonly shift: number;
	/** Number of VA bits that index this level. */
	readonly bits: number;
	/** Entries per table (`2 ** bits`). */
	readonly entries: number;
	/** Bytes per entry (16 for the dual PDE0). */
	readonly entrySize: 8 | 16;
	/** Table size in bytes (`entries * entrySize`). */
	readonly tableBytes: number;
	/** Required alignment of the table's physical address. */
	readonly align: number;
}

function level(name: LevelName, shift: number, bits: number, entrySize: 8 | 16, align: number): LevelSpec {
	const entries = 2 ** bits;
	return Object.freeze({ name, shift, bits, entries, entrySize, tableBytes: entries * entrySize, align });
}

/** Attributes of a valid PTE, independent of the format. */
export interface PteAttributes {
	readonly aperture: PteAperture;
	/** Peer index (0..7), for `aperture: 'peer'`. */
	readonly peerId?: number;
	/** Uncached access (v2 `VOL`, v3 the PCF `UNCACHED` variants). nouveau sets it for coherent system memory. */
	readonly volatile?: boolean;
	/** Only privileged clients may access the page. */
	readonly privileged?: boolean;
	readonly readOnly?: boolean;
	/** Disable atomics (v2 `ATOMIC_DISABLE`, v3 the PCF `NO_ATOMIC` variants). */
	readonly atomicDisable?: boolean;
	/** Memory kind (v2: 8 bits; v3: 4 bits). 0 = pitch, 6 = generic memory; 7 is invalid on Turing+. */
	readonly kind?: number;
	/** v3 only: enable access counting (the `_ACE` PCF variants). Default false (`_ACD`, as nouveau). */
	readonly accessCounting?: boolean;
}

/** A decoded PTE (for the software walker and tests). */
export interface DecodedPte {
	readonly valid: boolean;
	/** Invalid PTE that marks a sparse page (reads zero, writes dropped). */
	readonly sparse: boolean;
	/** An LPT entry that blocks the small-page table (v2 `VALID=0 PRIV=1`; v3 PCF `NO_VALID_4KB_PAGE`). */
	readonly ignoreSmall: boolean;
	readonly aperture: PteAperture;
	readonly address: bigint;
	readonly peerId: number;
	readonly volatile: boolean;
	readonly privileged: boolean;
	readonly readOnly: boolean;
	readonly atomicDisable: boolean;
	readonly kind: number;
}

/** A decoded PDE (one half of a dual PDE, or a plain PDE). */
export interface DecodedPde {
	/** The slot holds a PTE (bit 0 set), not a PDE. */
	readonly isPte: boolean;
	/** `null` when the aperture is INVALID (no table). */
	readonly aperture: TableAperture | null;
	/** Table address (bytes). */
	readonly address: bigint;
	/** Invalid entry that marks the whole range sparse. */
	readonly sparse: boolean;
	readonly volatile: boolean;
}

/** A decoded dual PDE0. */
export interface DecodedDualPde {
	readonly isPte: boolean;
	readonly big: DecodedPde;
	readonly small: DecodedPde;
	/** The whole 2 MiB range is sparse (VALID=0 with VOL_BIG / PCF_BIG sparse, and no tables). */
	readonly sparse: boolean;
}

const PTE_APERTURES = {
	video: { value: 0, header: 'VIDEO_MEMORY' },
	peer: { value: 1, header: 'PEER_MEMORY' },
	sysCoherent: { value: 2, header: 'SYSTEM_COHERENT_MEMORY' },
	sysNonCoherent: { value: 3, header: 'SYSTEM_NON_COHERENT_MEMORY' },
} as const;

const PDE_APERTURES = {
	invalid: { value: 0, header: 'INVALID' },
	video: { value: 1, header: 'VIDEO_MEMORY' },
	sysCoherent: { value: 2, header: 'SYSTEM_COHERENT_MEMORY' },
	sysNonCoherent: { value: 3, header: 'SYSTEM_NON_COHERENT_MEMORY' },
} as const;

const f = (
	header: string,
	hi: number,
	lo: number,
	extra: Partial<Pick<FieldDef, 'shift' | 'values'>> = {},
): FieldDef => Object.freeze({ header, bits: [hi, lo] as const, ...extra });

/** MMU v2 PTE (`NV_MMU_VER2_PTE`, 8 bytes). */
export const V2_PTE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER2_PTE',
	size: 8,
	fields: Object.freeze({
		valid: f('NV_MMU_VER2_PTE_VALID', 0, 0),
		aperture: f('NV_MMU_VER2_PTE_APERTURE', 2, 1, { values: PTE_APERTURES }),
		vol: f('NV_MMU_VER2_PTE_VOL', 3, 3),
		encrypted: f('NV_MMU_VER2_PTE_ENCRYPTED', 4, 4),
		privilege: f('NV_MMU_VER2_PTE_PRIVILEGE', 5, 5),
		readOnly: f('NV_MMU_VER2_PTE_READ_ONLY', 6, 6),
		atomicDisable: f('NV_MMU_VER2_PTE_ATOMIC_DISABLE', 7, 7),
		addressSys: f('NV_MMU_VER2_PTE_ADDRESS_SYS', 53, 8, { shift: 12 }),
		addressVid: f('NV_MMU_VER2_PTE_ADDRESS_VID', 32, 8, { shift: 12 }),
		peer: f('NV_MMU_VER2_PTE_ADDRESS_VID_PEER', 35, 33),
		compTagLine: f('NV_MMU_VER2_PTE_COMPTAGLINE', 55, 36),
		kind: f('NV_MMU_VER2_PTE_KIND', 63, 56),
	}),
});

/** MMU v2 PDE for PDE3/PDE2/PDE1 (`NV_MMU_VER2_PDE`, 8 bytes). Its aperture enum differs from the PTE's. */
export const V2_PDE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER2_PDE',
	size: 8,
	fields: Object.freeze({
		isPte: f('NV_MMU_VER2_PDE_IS_PTE', 0, 0),
		aperture: f('NV_MMU_VER2_PDE_APERTURE', 2, 1, { values: PDE_APERTURES }),
		vol: f('NV_MMU_VER2_PDE_VOL', 3, 3),
		noAts: f('NV_MMU_VER2_PDE_NO_ATS', 5, 5),
		addressSys: f('NV_MMU_VER2_PDE_ADDRESS_SYS', 53, 8, { shift: 12 }),
		addressVid: f('NV_MMU_VER2_PDE_ADDRESS_VID', 32, 8, { shift: 12 }),
		peer: f('NV_MMU_VER2_PDE_ADDRESS_VID_PEER', 35, 33),
	}),
});

/** MMU v2 dual PDE0 (`NV_MMU_VER2_DUAL_PDE`, 16 bytes): big-page table low, small-page table high. */
export const V2_DUAL_PDE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER2_DUAL_PDE',
	size: 16,
	fields: Object.freeze({
		isPte: f('NV_MMU_VER2_DUAL_PDE_IS_PTE', 0, 0),
		apertureBig: f('NV_MMU_VER2_DUAL_PDE_APERTURE_BIG', 2, 1, { values: PDE_APERTURES }),
		volBig: f('NV_MMU_VER2_DUAL_PDE_VOL_BIG', 3, 3),
		noAts: f('NV_MMU_VER2_DUAL_PDE_NO_ATS', 5, 5),
		addressBigSys: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_SYS', 53, 4, { shift: 8 }),
		addressBigVid: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_VID', 32, 4, { shift: 8 }),
		peerBig: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_VID_PEER', 35, 33),
		apertureSmall: f('NV_MMU_VER2_DUAL_PDE_APERTURE_SMALL', 66, 65, { values: PDE_APERTURES }),
		volSmall: f('NV_MMU_VER2_DUAL_PDE_VOL_SMALL', 67, 67),
		addressSmallSys: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_SMALL_SYS', 117, 72, { shift: 12 }),
		addressSmallVid: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_SMALL_VID', 96, 72, { shift: 12 }),
		peerSmall: f('NV_MMU_VER2_DUAL_PDE_ADDRESS_SMALL_VID_PEER', 99, 97),
	}),
});

/** v3 PTE PCF values with `VALID=0` (header names). */
export const V3_PTE_PCF_INVALID = {
	invalid: { value: 0, header: 'INVALID' },
	sparse: { value: 1, header: 'SPARSE' },
	mappingNowhere: { value: 2, header: 'MAPPING_NOWHERE' },
	noValid4kbPage: { value: 3, header: 'NO_VALID_4KB_PAGE' },
} as const;

/** v3 PDE PCF values (header names; valid and invalid readings share numbers). */
export const V3_PDE_PCF = {
	validCachedAtsAllowed: { value: 0, header: 'VALID_CACHED_ATS_ALLOWED' },
	validUncachedAtsAllowed: { value: 1, header: 'VALID_UNCACHED_ATS_ALLOWED' },
	validCachedAtsNotAllowed: { value: 2, header: 'VALID_CACHED_ATS_NOT_ALLOWED' },
	validUncachedAtsNotAllowed: { value: 3, header: 'VALID_UNCACHED_ATS_NOT_ALLOWED' },
	invalidAtsAllowed: { value: 0, header: 'INVALID_ATS_ALLOWED' },
	sparseAtsAllowed: { value: 1, header: 'SPARSE_ATS_ALLOWED' },
	invalidAtsNotAllowed: { value: 2, header: 'INVALID_ATS_NOT_ALLOWED' },
	sparseAtsNotAllowed: { value: 3, header: 'SPARSE_ATS_NOT_ALLOWED' },
} as const;

/** MMU v3 PTE (`NV_MMU_VER3_PTE`, 8 bytes). The physical address sits in place (no shift into the field). */
export const V3_PTE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER3_PTE',
	size: 8,
	fields: Object.freeze({
		valid: f('NV_MMU_VER3_PTE_VALID', 0, 0),
		aperture: f('NV_MMU_VER3_PTE_APERTURE', 2, 1, { values: PTE_APERTURES }),
		pcf: f('NV_MMU_VER3_PTE_PCF', 7, 3, { values: V3_PTE_PCF_INVALID }),
		kind: f('NV_MMU_VER3_PTE_KIND', 11, 8),
		address: f('NV_MMU_VER3_PTE_ADDRESS', 51, 12, { shift: 12 }),
		addressVid: f('NV_MMU_VER3_PTE_ADDRESS_VID', 39, 12, { shift: 12 }),
		peerId: f('NV_MMU_VER3_PTE_PEER_ID', 63, 61),
	}),
});

/** MMU v3 PDE (`NV_MMU_VER3_PDE`, 8 bytes). */
export const V3_PDE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER3_PDE',
	size: 8,
	fields: Object.freeze({
		isPte: f('NV_MMU_VER3_PDE_IS_PTE', 0, 0),
		aperture: f('NV_MMU_VER3_PDE_APERTURE', 2, 1, { values: PDE_APERTURES }),
		pcf: f('NV_MMU_VER3_PDE_PCF', 5, 3, { values: V3_PDE_PCF }),
		address: f('NV_MMU_VER3_PDE_ADDRESS', 51, 12, { shift: 12 }),
	}),
});

/** MMU v3 dual PDE0 (`NV_MMU_VER3_DUAL_PDE`, 16 bytes). */
export const V3_DUAL_PDE: EntryLayout = Object.freeze({
	header: 'NV_MMU_VER3_DUAL_PDE',
	size: 16,
	fields: Object.freeze({
		isPte: f('NV_MMU_VER3_DUAL_PDE_IS_PTE', 0, 0),
		apertureBig: f('NV_MMU_VER3_DUAL_PDE_APERTURE_BIG', 2, 1, { values: PDE_APERTURES }),
		pcfBig: f('NV_MMU_VER3_DUAL_PDE_PCF_BIG', 5, 3, { values: V3_PDE_PCF }),
		addressBig: f('NV_MMU_VER3_DUAL_PDE_ADDRESS_BIG', 51, 8, { shift: 8 }),
		apertureSmall: f('NV_MMU_VER3_DUAL_PDE_APERTURE_SMALL', 66, 65, { values: PDE_APERTURES }),
		pcfSmall: f('NV_MMU_VER3_DUAL_PDE_PCF_SMALL', 69, 67, { values: V3_PDE_PCF }),
		addressSmall: f('NV_MMU_VER3_DUAL_PDE_ADDRESS_SMALL', 115, 76, { shift: 12 }),
	}),
});

/** v3 PTE PCF bits when `VALID=1` (hardware reference B.4): compose with {@link v3PtePcf}. */
export const V3_PCF_BITS = Object.freeze({
	uncached: 1,
	privileged: 2,
	readOnly: 4,
	noAtomic: 8,
	accessCountingDisabled: 16,
});

/** The v3 PCF value of a valid PTE with the given attributes. */
export function v3PtePcf(a: {
	volatile?: boolean;
	privileged?: boolean;
	readOnly?: boolean;
	atomicDisable?: boolean;
	accessCounting?: boolean;
}): number {
	return (
		(a.volatile ? V3_PCF_BITS.uncached : 0) |
		(a.privileged ? V3_PCF_BITS.privileged : 0) |
		(a.readOnly ? V3_PCF_BITS.readOnly : 0) |
		(a.atomicDisable ? V3_PCF_BITS.noAtomic : 0) |
		(a.accessCounting ? 0 : V3_PCF_BITS.accessCountingDisabled)
	);
}

/** The `dev_mmu.h` name of a valid-PTE PCF value, e.g. `0x10` → `'REGULAR_RW_ATOMIC_CACHED_ACD'`. */
export function v3PtePcfName(pcf: number): string {
	const b = V3_PCF_BITS;
	return [
		pcf & b.privileged ? 'PRIVILEGE' : 'REGULAR',
		pcf & b.readOnly ? 'RO' : 'RW',
		pcf & b.noAtomic ? 'NO_ATOMIC' : 'ATOMIC',
		pcf & b.uncached ? 'UNCACHED' : 'CACHED',
		pcf & b.accessCountingDisabled ? 'ACD' : 'ACE',
	].join('_');
}

/** Memory kinds named in `dev_mmu.h` (Turing+/Hopper) that gspkit refers to. */
export const PTE_KIND = Object.freeze({ PITCH: 0x00, GENERIC_MEMORY: 0x06, INVALID: 0x07 });

/** Two u32 words of an 8-byte entry, low first. */
export interface Words2 {
	readonly lo: number;
	readonly hi: number;
}

/** A table reference inside a PDE: its address and where it lives. */
export interface TableRef {
	readonly address: bigint;
	readonly aperture: TableAperture;
}

/**
 * One MMU page-table format: geometry, layouts, encoders and decoders. Get one with {@link mmuFormat}.
 *
 * The "fast" members (`pteFlags`, `ppnBit`, the marker words) serve the hot path: a PTE is
 * `flags | (ppn << ppnBit)` written as two u32 words, where `ppn` is the page frame number (address / 4 KiB).
 */
export interface MmuFormatSpec {
	readonly name: HalMmuFormat;
	/** Virtual address width. */
	readonly vaBits: number;
	/** Directory levels, root first; the last one is the dual PDE0. */
	readonly dirs: readonly LevelSpec[];
	/** The 64 KiB-page table (big / LPT) and the 4 KiB-page table (small / SPT). */
	readonly lpt: LevelSpec;
	readonly spt: LevelSpec;
	/** log2 of the page sizes that can map memory, smallest first. */
	readonly pageShifts: readonly number[];
	/** Page sizes that can only map video memory (v3's 512 MiB). */
	readonly videoOnlyPageShifts: readonly number[];
	readonly pte: EntryLayout;
	readonly pde: EntryLayout;
	readonly dualPde: EntryLayout;
	/** Largest physical address + 1 a PTE can express for an aperture. */
	physLimit(aperture: PteAperture): bigint;
	/** Encode a complete PTE. */
	encodePte(address: bigint, attrs: PteAttributes): bigint;
	/** Decode a PTE. */
	decodePte(raw: bigint): DecodedPte;
	/** The PTE words without the address (the address is `ppn << ppnBit` on top). */
	pteFlags(attrs: PteAttributes): Words2;
	/** Bit at which the page frame number sits in a PTE. */
	readonly ppnBit: number;
	/** Sparse PTE (SPT and LPT entries, and sparse PDE1..PDEn slots). */
	readonly sparsePte: Words2;
	/** LPT entry that blocks the SPT ("ignore small PTEs"). */
	readonly lptIgnoreSmall: Words2;
	/** Sparse plain PDE. */
	readonly sparsePde: Words2;
	/** Sparse dual PDE (four words). */
	readonly sparseDualPde: readonly [number, number, number, number];
	/** Encode a plain PDE pointing at a table. */
	encodePde(table: TableRef): bigint;
	decodePde(raw: bigint): DecodedPde;
	/** Encode a dual PDE0 (either half may be absent). */
	encodeDualPde(big: TableRef | null, small: TableRef | null): bigint;
	/**
	 * The words of an entry pointing at a table, without bigint arithmetic: a plain PDE (`'pde'`), or the big
	 * (low qword) or small (high qword) half of a dual PDE0. Equal to {@link encodePde} / {@link encodeDualPde}.
	 */
	tablePointer(kind: 'pde' | 'big' | 'small', table: TableRef): Words2;
	decodeDualPde(raw: bigint): DecodedDualPde;
}

const BIT = (n: number): bigint => 1n << BigInt(n);

function checkPhys(addr: bigint, limit: bigint, align: bigint, what: string): void {
	if (addr < 0n || addr >= limit || addr % align !== 0n) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `${what} address 0x${addr.toString(16)} is not encodable`, {
			address: `0x${addr.toString(16)}`,
			limit: `0x${limit.toString(16)}`,
			align: Number(align),
		});
	}
}

function words2(raw: bigint): Words2 {
	const [lo = 0, hi = 0] = entryWords(raw, 8);
	return Object.freeze({ lo, hi });
}

function checkKind(kind: number, max: number): void {
	if (!Number.isInteger(kind) || kind < 0 || kind > max || kind === PTE_KIND.INVALID) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `invalid PTE kind ${kind}`, { kind });
	}
}

function checkPeer(a: PteAttributes): number {
	const p = a.peerId ?? 0;
	if (!Number.isInteger(p) || p < 0 || p > 7 || (a.aperture !== 'peer' && p !== 0)) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `invalid peer id ${p} for aperture ${a.aperture}`, {
			peerId: p,
		});
	}
	return p;
}

const pdeApertureName = (v: bigint): TableAperture | null =>
	v === 1n ? 'video' : v === 2n ? 'sysCoherent' : v === 3n ? 'sysNonCoherent' : null;
const pteApertureName = (v: bigint): PteAperture =>
	v === 0n ? 'video' : v === 1n ? 'peer' : v === 2n ? 'sysCoherent' : 'sysNonCoherent';

function fld(layout: EntryLayout, name: string): FieldDef {
	const d = layout.fields[name];
	if (d === undefined) throw new Error(`internal: ${layout.header} has no field ${name}`);
	return d;
}

/**
 * Build `tablePointer` for a format from its encoders: the flags per (kind, aperture) come from the bigint
 * encoder with address 0; the address is placed with float arithmetic using the field's position and shift.
 */
function makeTablePointer(
	encodePde: (t: TableRef) => bigint,
	encodeDualPde: (big: TableRef | null, small: TableRef | null) => bigint,
	fields: Record<'pde' | 'big' | 'small', { sys: FieldDef; vid: FieldDef }>,
	align: Record<'pde' | 'big' | 'small', number>,
): (kind: 'pde' | 'big' | 'small', table: TableRef) => Words2 {
	const cache: ({ lo: number; hi: number; mult: number; limit: number } | undefined)[] = [];
	const KINDS = { pde: 0, big: 1, small: 2 } as const;
	const APS = { video: 0, sysCoherent: 1, sysNonCoherent: 2 } as const;
	return (kind, table) => {
		const key = KINDS[kind] * 3 + APS[table.aperture];
		let c = cache[key];
		if (c === undefined) {
			const zero = { address: 0n, aperture: table.aperture };
			const raw =
				kind === 'pde'
					? encodePde(zero)
					: kind === 'big'
						? encodeDualPde(zero, null)
						: encodeDualPde(null, zero) >> 64n;
			const fd = table.aperture === 'video' ? fields[kind].vid : fields[kind].sys;
			const shift = fd.shift ?? 0;
			const width = fd.bits[0] - fd.bits[1] + 1;
			c = {
				lo: Number(raw & 0xffffffffn),
				hi: Number((raw >> 32n) & 0xffffffffn),
				mult: 2 ** ((fd.bits[1] % 64) - shift),
				limit: Math.min(2 ** (width + shift), 2 ** 52),
			};
			cache[key] = c;
		}
		const a = Number(table.address);
		if (!(a >= 0 && a < c.limit && a % align[kind] === 0)) {
			throw new MmuError(
				'MMU_INVALID_ARGUMENT',
				`table address 0x${table.address.toString(16)} is not encodable`,
				{
					address: `0x${table.address.toString(16)}`,
					kind,
				},
			);
		}
		const v = a * c.mult;
		return { lo: c.lo + (v % 4294967296), hi: c.hi + Math.floor(v / 4294967296) };
	};
}

// ---------------------------------------------------------------------------------------------- v2

function makeV2(): MmuFormatSpec {
	const P = V2_PTE;
	const vidLimit = BIT(fld(P, 'addressVid').bits[0] - fld(P, 'addressVid').bits[1] + 1 + 12);
	const sysLimit = BIT(fld(P, 'addressSys').bits[0] - fld(P, 'addressSys').bits[1] + 1 + 12);
	const physLimit = (ap: PteAperture): bigint => (ap === 'video' || ap === 'peer' ? vidLimit : sysLimit);

	const pteFields = (attrs: PteAttributes): Record<string, bigint | number | boolean | string> => {
		const kind = attrs.kind ?? 0;
		checkKind(kind, 0xff);
		return {
			valid: true,
			aperture: attrs.aperture,
			vol: attrs.volatile ?? false,
			privilege: attrs.privileged ?? false,
			readOnly: attrs.readOnly ?? false,
			atomicDisable: attrs.atomicDisable ?? false,
			peer: checkPeer(attrs),
			kind,
		};
	};
	const encodePte = (address: bigint, attrs: PteAttributes): bigint => {
		checkPhys(address, physLimit(attrs.aperture), 4096n, 'PTE');
		const addrField = attrs.aperture === 'video' || attrs.aperture === 'peer' ? 'addressVid' : 'addressSys';
		return encodeEntry(P, { ...pteFields(attrs), [addrField]: address >> 12n });
	};
	const decodePte = (raw: bigint): DecodedPte => {
		const g = (n: string): bigint => extractField(fld(P, n), raw);
		const aperture = pteApertureName(g('aperture'));
		const valid = g('valid') === 1n;
		const vid = aperture === 'video' || aperture === 'peer';
		return {
			valid,
			sparse: !valid && g('vol') === 1n,
			ignoreSmall: !valid && g('privilege') === 1n,
			aperture,
			address: (vid ? g('addressVid') : g('addressSys')) << 12n,
			peerId: vid ? Number(g('peer')) : 0,
			volatile: g('vol') === 1n,
			privileged: g('privilege') === 1n,
			readOnly: g('readOnly') === 1n,
			atomicDisable: g('atomicDisable') === 1n,
			kind: Number(g('kind')),
		};
	};

	const D = V2_PDE;
	const encodePde = (t: TableRef): bigint => {
		const vid = t.aperture === 'video';
		checkPhys(t.address, vid ? vidLimit : sysLimit, 4096n, 'PDE table');
		return encodeEntry(D, {
			aperture: t.aperture,
			vol: t.aperture === 'sysCoherent',
			[vid ? 'addressVid' : 'addressSys']: t.address >> 12n,
		});
	};
	const decodePdeHalf = (
		raw: bigint,
		L: EntryLayout,
		names: { ap: string; vol: string; sys: string; vid: string },
	): DecodedPde => {
		const ap = pdeApertureName(extractField(fld(L, names.ap), raw));
		const vol = extractField(fld(L, names.vol), raw) === 1n;
		const sys = fld(L, names.sys);
		const vid = fld(L, names.vid);
		const addr =
			ap === 'video'
				? extractField(vid, raw) << BigInt(vid.shift ?? 0)
				: extractField(sys, raw) << BigInt(sys.shift ?? 0);
		return {
			isPte: (raw & 1n) === 1n,
			aperture: ap,
			address: addr,
			sparse: ap === null && vol,
			volatile: vol,
		};
	};
	const decodePde = (raw: bigint): DecodedPde =>
		decodePdeHalf(raw, D, { ap: 'aperture', vol: 'vol', sys: 'addressSys', vid: 'addressVid' });

	const DD = V2_DUAL_PDE;
	const encodeDualPde = (big: TableRef | null, small: TableRef | null): bigint => {
		const v: Record<string, bigint | boolean | string> = {};
		if (big !== null) {
			const vid = big.aperture === 'video';
			checkPhys(big.address, vid ? vidLimit : sysLimit, 256n, 'big page table');
			v.apertureBig = big.aperture;
			v.volBig = big.aperture === 'sysCoherent';
			v[vid ? 'addressBigVid' : 'addressBigSys'] = big.address >> 8n;
		}
		if (small !== null) {
			const vid = small.aperture === 'video';
			checkPhys(small.address, vid ? vidLimit : sysLimit, 4096n, 'small page table');
			v.apertureSmall = small.aperture;
			v.volSmall = small.aperture === 'sysCoherent';
			v[vid ? 'addressSmallVid' : 'addressSmallSys'] = small.address >> 12n;
		}
		return encodeEntry(DD, v);
	};
	const decodeDualPde = (raw: bigint): DecodedDualPde => {
		const big = decodePdeHalf(raw, DD, {
			ap: 'apertureBig',
			vol: 'volBig',
			sys: 'addressBigSys',
			vid: 'addressBigVid',
		});
		const small = decodePdeHalf(raw, DD, {
			ap: 'apertureSmall',
			vol: 'volSmall',
			sys: 'addressSmallSys',
			vid: 'addressSmallVid',
		});
		return {
			isPte: (raw & 1n) === 1n,
			big,
			small,
			sparse: big.aperture === null && small.aperture === null && big.volatile,
		};
	};

	const addrField = fld(P, 'addressSys');
	const ppnBit = addrField.bits[1] + 12 - (addrField.shift ?? 0);
	const sparseRaw = encodeEntry(P, { valid: false, vol: true });
	return Object.freeze({
		name: 'v2',
		vaBits: 49,
		dirs: Object.freeze([
			level('PDE3', 47, 2, 8, 4096),
			level('PDE2', 38, 9, 8, 4096),
			level('PDE1', 29, 9, 8, 4096),
			level('PDE0', 21, 8, 16, 4096),
		]),
		lpt: level('LPT', 16, 5, 8, 256),
		spt: level('SPT', 12, 9, 8, 4096),
		pageShifts: Object.freeze([12, 16, 21]),
		videoOnlyPageShifts: Object.freeze([]),
		pte: P,
		pde: D,
		dualPde: DD,
		physLimit,
		encodePte,
		decodePte,
		pteFlags: (attrs: PteAttributes) => words2(encodeEntry(P, pteFields(attrs))),
		ppnBit,
		sparsePte: words2(sparseRaw),
		lptIgnoreSmall: words2(encodeEntry(P, { valid: false, privilege: true })),
		sparsePde: words2(encodeEntry(D, { isPte: false, aperture: 'invalid', vol: true })),
		sparseDualPde: entryWords(encodeEntry(DD, { apertureBig: 'invalid', volBig: true }), 16) as [
			number,
			number,
			number,
			number,
		],
		encodePde,
		decodePde,
		encodeDualPde,
		decodeDualPde,
		tablePointer: makeTablePointer(
			encodePde,
			encodeDualPde,
			{
				pde: { sys: fld(D, 'addressSys'), vid: fld(D, 'addressVid') },
				big: { sys: fld(DD, 'addressBigSys'), vid: fld(DD, 'addressBigVid') },
				small: { sys: fld(DD, 'addressSmallSys'), vid: fld(DD, 'addressSmallVid') },
			},
			{ pde: 4096, big: 256, small: 4096 },
		),
	});
}

// ---------------------------------------------------------------------------------------------- v3

function makeV3(): MmuFormatSpec {
	const P = V3_PTE;
	const vidLimit = BIT(fld(P, 'addressVid').bits[0] + 1);
	const sysLimit = BIT(fld(P, 'address').bits[0] + 1);
	const physLimit = (ap: PteAperture): bigint => (ap === 'video' ? vidLimit : sysLimit);
	const pteFields = (attrs: PteAttributes): Record<string, bigint | number | boolean | string> => {
		const kind = attrs.kind ?? 0;
		checkKind(kind, 0xf);
		return {
			valid: true,
			aperture: attrs.aperture,
			pcf: v3PtePcf(attrs),
			kind,
			peerId: checkPeer(attrs),
		};
	};
	const encodePte = (address: bigint, attrs: PteAttributes): bigint => {
		checkPhys(address, physLimit(attrs.aperture), 4096n, 'PTE');
		const af = attrs.aperture === 'video' ? 'addressVid' : 'address';
		return encodeEntry(P, { ...pteFields(attrs), [af]: address >> 12n });
	};
	const decodePte = (raw: bigint): DecodedPte => {
		const g = (n: string): bigint => extractField(fld(P, n), raw);
		const valid = g('valid') === 1n;
		const pcf = Number(g('pcf'));
		const aperture = pteApertureName(g('aperture'));
		const b = V3_PCF_BITS;
		return {
			valid,
			sparse: !valid && pcf === V3_PTE_PCF_INVALID.sparse.value,
			ignoreSmall: !valid && pcf === V3_PTE_PCF_INVALID.noValid4kbPage.value,
			aperture,
			address: (aperture === 'video' ? g('addressVid') : g('address')) << 12n,
			peerId: Number(g('peerId')),
			volatile: valid && (pcf & b.uncached) !== 0,
			privileged: valid && (pcf & b.privileged) !== 0,
			readOnly: valid && (pcf & b.readOnly) !== 0,
			atomicDisable: valid && (pcf & b.noAtomic) !== 0,
			kind: Number(g('kind')),
		};
	};
	// nouveau gh100_vmm_pde: vram -> PCF VALID_CACHED_ATS_NOT_ALLOWED; host -> VALID_UNCACHED_ATS_ALLOWED;
	// ncoh -> VALID_CACHED_ATS_ALLOWED.
	const pdePcf = (ap: TableAperture): string =>
		ap === 'video'
			? 'validCachedAtsNotAllowed'
			: ap === 'sysCoherent'
				? 'validUncachedAtsAllowed'
				: 'validCachedAtsAllowed';
	const D = V3_PDE;
	const encodePde = (t: TableRef): bigint => {
		checkPhys(t.address, sysLimit, 4096n, 'PDE table');
		return encodeEntry(D, { aperture: t.aperture, pcf: pdePcf(t.aperture), address: t.address >> 12n });
	};
	const decodeHalf = (raw: bigint, L: EntryLayout, ap: string, pcf: string, addr: string): DecodedPde => {
		const aperture = pdeApertureName(extractField(fld(L, ap), raw));
		const p = extractField(fld(L, pcf), raw);
		const a = fld(L, addr);
		return {
			isPte: (raw & 1n) === 1n,
			aperture,
			address: extractField(a, raw) << BigInt(a.shift ?? 0),
			sparse: aperture === null && (p === 1n || p === 3n),
			volatile: aperture !== null && (p === 1n || p === 3n),
		};
	};
	const decodePde = (raw: bigint): DecodedPde => decodeHalf(raw, D, 'aperture', 'pcf', 'address');
	const DD = V3_DUAL_PDE;
	const encodeDualPde = (big: TableRef | null, small: TableRef | null): bigint => {
		const v: Record<string, bigint | string> = {};
		if (big !== null) {
			checkPhys(big.address, sysLimit, 256n, 'big page table');
			v.apertureBig = big.aperture;
			v.pcfBig = pdePcf(big.aperture);
			v.addressBig = big.address >> 8n;
		}
		if (small !== null) {
			checkPhys(small.address, sysLimit, 4096n, 'small page table');
			v.apertureSmall = small.aperture;
			v.pcfSmall = pdePcf(small.aperture);
			v.addressSmall = small.address >> 12n;
		}
		return encodeEntry(DD, v);
	};
	const decodeDualPde = (raw: bigint): DecodedDualPde => {
		const big = decodeHalf(raw, DD, 'apertureBig', 'pcfBig', 'addressBig');
		const small = decodeHalf(raw, DD, 'apertureSmall', 'pcfSmall', 'addressSmall');
		return {
			isPte: (raw & 1n) === 1n,
			big,
			small,
			sparse: big.aperture === null && small.aperture === null && big.sparse,
		};
	};
	const addrField = fld(P, 'address');
	return Object.freeze({
		name: 'v3',
		vaBits: 57,
		dirs: Object.freeze([
			level('PDE4', 56, 1, 8, 4096),
			level('PDE3', 47, 9, 8, 4096),
			level('PDE2', 38, 9, 8, 4096),
			level('PDE1', 29, 9, 8, 4096),
			level('PDE0', 21, 8, 16, 4096),
		]),
		lpt: level('LPT', 16, 5, 8, 256),
		spt: level('SPT', 12, 9, 8, 4096),
		pageShifts: Object.freeze([12, 16, 21, 29]),
		videoOnlyPageShifts: Object.freeze([29]),
		pte: P,
		pde: D,
		dualPde: DD,
		physLimit,
		encodePte,
		decodePte,
		pteFlags: (attrs: PteAttributes) => words2(encodeEntry(P, pteFields(attrs))),
		ppnBit: addrField.bits[1] + 12 - (addrField.shift ?? 0),
		sparsePte: words2(encodeEntry(P, { valid: false, pcf: 'sparse' })),
		lptIgnoreSmall: words2(encodeEntry(P, { valid: false, pcf: 'noValid4kbPage' })),
		sparsePde: words2(encodeEntry(D, { isPte: false, aperture: 'invalid', pcf: 'sparseAtsAllowed' })),
		sparseDualPde: entryWords(
			encodeEntry(DD, { apertureBig: 'invalid', pcfBig: 'sparseAtsAllowed' }),
			16,
		) as [number, number, number, number],
		encodePde,
		decodePde,
		encodeDualPde,
		decodeDualPde,
		tablePointer: makeTablePointer(
			encodePde,
			encodeDualPde,
			{
				pde: { sys: fld(D, 'address'), vid: fld(D, 'address') },
				big: { sys: fld(DD, 'addressBig'), vid: fld(DD, 'addressBig') },
				small: { sys: fld(DD, 'addressSmall'), vid: fld(DD, 'addressSmall') },
			},
			{ pde: 4096, big: 256, small: 4096 },
		),
	});
}

/** MMU v2 (Turing, Ampere, Ada). */
export const MMU_V2: MmuFormatSpec = makeV2();
/** MMU v3 (Hopper, Blackwell). */
export const MMU_V3: MmuFormatSpec = makeV3();

/**
 * The page-table format for a chip (hal `Chip` or `ChipInfo`, using its `mmuFormat`) or a format name.
 * @throws MmuError `MMU_UNSUPPORTED_FORMAT` for anything else.
 */
export function mmuFormat(of: HalMmuFormat | ChipInfo | Chip | MmuFormatSpec): MmuFormatSpec {
	const name =
		typeof of === 'string'
			? of
			: 'pte' in of
				? of.name
				: 'info' in of
					? of.info.mmuFormat
					: (of as ChipInfo).mmuFormat;
	if (name === 'v2') return MMU_V2;
	if (name === 'v3') return MMU_V3;
	throw new MmuError('MMU_UNSUPPORTED_FORMAT', `no page-table format ${JSON.stringify(name)}`, {
		format: String(name),
	});
}
