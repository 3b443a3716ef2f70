/**
 * The page-directory part of a channel's 4 KiB instance block (RAMIN), including subcontexts.
 *
 * Facts (hardware reference B.5; nouveau `gf100_vmm_join_`, `gp100_vmm_join`, `gv100_vmm_join`, which GH100
 * reuses):
 * - `0x200`: TARGET 1:0 (0 video, 1 invalid, 2 system coherent, 3 system non-coherent), VOL 2,
 *   FAULT_REPLAY_TEX 4, FAULT_REPLAY_GCC 5, USE_VER2_PT_FORMAT 10, BIG_PAGE_SIZE 11 (1 = 64 KiB),
 *   PAGE_DIR_BASE_LO 31:12; `0x204`: PAGE_DIR_BASE_HI (address bits 63:32).
 * - `0x208`/`0x20c`: the VA limit − 1 (deprecated since GV100, still written by nouveau).
 * - Subcontexts: SC_PDB_VALID mask at `0x298`/`0x29c`; SC_PAGE_DIR_BASE(i) at `0x2a0 + 0x10·i` /
 *   `0x2a4 + 0x10·i` with the `0x200`/`0x204` layout, for 64 subcontexts. nouveau copies the PDB into the
 *   valid ones, writes 1 (TARGET INVALID) into both words of the others, clears `0x2a8 + 0x10·i` and `0x21c`.
 *
 * @module
 */

import { MmuError } from './errors.ts';
import { type MmuFormatSpec, mmuFormat, type TableAperture, type TableRef } from './formats.ts';

/** Byte offsets within the instance block. */
export const RAMIN = Object.freeze({
	PAGE_DIR_BASE_LO: 0x200,
	PAGE_DIR_BASE_HI: 0x204,
	ADR_LIMIT_LO: 0x208,
	ADR_LIMIT_HI: 0x20c,
	/** Cleared when subcontexts are set up (nouveau `gv100_vmm_join`). */
	CLEARED_21C: 0x21c,
	SC_PDB_VALID_LO: 0x298,
	SC_PDB_VALID_HI: 0x29c,
	SC_PAGE_DIR_BASE_LO: (i: number): number => 0x2a0 + 0x10 * i,
	SC_PAGE_DIR_BASE_HI: (i: number): number => 0x2a4 + 0x10 * i,
	/** The third word of each subcontext slot, cleared by nouveau. */
	SC_CLEARED: (i: number): number => 0x2a8 + 0x10 * i,
	SUBCONTEXTS: 64,
	SIZE: 0x1000,
});

/** Fields of the `PAGE_DIR_BASE_LO` word (`[hi, lo]`). */
export const PAGE_DIR_BASE_FIELDS = Object.freeze({
	TARGET: [1, 0],
	VOL: [2, 2],
	FAULT_REPLAY_TEX: [4, 4],
	FAULT_REPLAY_GCC: [5, 5],
	USE_VER2_PT_FORMAT: [10, 10],
	BIG_PAGE_SIZE: [11, 11],
	PAGE_DIR_BASE_LO: [31, 12],
} as const);

/** `TARGET` values of the instance block (a third aperture encoding, unlike PTE and PDE). */
export const RAMIN_TARGET = Object.freeze({
	VID_MEM: 0,
	INVALID: 1,
	SYS_MEM_COHERENT: 2,
	SYS_MEM_NONCOHERENT: 3,
});

/** How an instance block points at a VA space's page directory. */
export interface PageDirectoryConfig {
	/** The root directory (e.g. `vaSpace.pdb`). */
	readonly pdb: TableRef;
	/** Default: true for coherent system memory (nouveau). */
	readonly volatile?: boolean;
	/** Only 64 KiB big pages are supported (Volta+ rejects 128 KiB). */
	readonly bigPageSize?: 65536;
	readonly faultReplayTex?: boolean;
	readonly faultReplayGcc?: boolean;
}

/**
 * Options of {@link writeInstanceBlockPageDirectory}. One of `limit` and `format` is required: a fixed
 * default would be right for one format only (v2's 49-bit VA is too small for a v3 space's 57 bits).
 */
export interface InstanceBlockPdbOptions {
	/** VA limit in bytes; `limit − 1` goes to `0x208`. Default: `2 ** vaBits` of `format` (e.g. `vaSpace.vaLimit`). */
	readonly limit?: bigint;
	/** The directory's page-table format (or a chip, or `vaSpace.format`); its VA size is the default limit. */
	readonly format?: Parameters<typeof mmuFormat>[0];
	/** Subcontexts that use this page directory (bit i = subcontext i). Default `1n` (subcontext 0). */
	readonly subcontexts?: bigint;
}

const targetOf = (ap: TableAperture): number =>
	ap === 'video'
		? RAMIN_TARGET.VID_MEM
		: ap === 'sysCoherent'
			? RAMIN_TARGET.SYS_MEM_COHERENT
			: RAMIN_TARGET.SYS_MEM_NONCOHERENT;

/** The `0x200`/`0x204` words for a page directory. */
export function encodePageDirectoryBase(cfg: PageDirectoryConfig): {
	readonly lo: number;
	readonly hi: number;
} {
	const a = cfg.pdb.address;
	if (a < 0n || a % 4096n !== 0n || a >= 1n << 64n) {
		throw new MmuError(
			'MMU_INVALID_ARGUMENT',
			`page directory address 0x${a.toString(16)} is not 4 KiB aligned`,
		);
	}
	if (cfg.bigPageSize !== undefined && cfg.bigPageSize !== 65536) {
		throw new MmuError('MMU_INVALID_ARGUMENT', 'only 64 KiB big pages are supported');
	}
	const vol = cfg.volatile ?? cfg.pdb.aperture === 'sysCoherent';
	const lo =
		(Number(a & 0xfffff000n) |
			targetOf(cfg.pdb.aperture) |
			(vol ? 1 << 2 : 0) |
			(cfg.faultReplayTex ? 1 << 4 : 0) |
			(cfg.faultReplayGcc ? 1 << 5 : 0) |
			(1 << 10) |
			(1 << 11)) >>>
		0;
	return { lo, hi: Number(a >> 32n) >>> 0 };
}

/** A decoded `0x200`/`0x204` pair. */
export interface DecodedPageDirectoryBase {
	/** `null` for TARGET INVALID. */
	readonly aperture: TableAperture | null;
	readonly address: bigint;
	readonly volatile: boolean;
	readonly faultReplayTex: boolean;
	readonly faultReplayGcc: boolean;
	readonly useVer2PtFormat: boolean;
	readonly bigPageSize: 65536 | 131072;
}

/** Decode a `0x200`/`0x204` pair. */
export function decodePageDirectoryBase(lo: number, hi: number): DecodedPageDirectoryBase {
	const t = lo & 3;
	return {
		aperture: t === 0 ? 'video' : t === 2 ? 'sysCoherent' : t === 3 ? 'sysNonCoherent' : null,
		address: (BigInt(hi >>> 0) << 32n) | BigInt((lo & 0xfffff000) >>> 0),
		volatile: (lo & 4) !== 0,
		faultReplayTex: (lo & 0x10) !== 0,
		faultReplayGcc: (lo & 0x20) !== 0,
		useVer2PtFormat: (lo & 0x400) !== 0,
		bigPageSize: lo & 0x800 ? 65536 : 131072,
	};
}

function viewOf(inst: DataView | Uint8Array): DataView {
	const v = inst instanceof DataView ? inst : new DataView(inst.buffer, inst.byteOffset, inst.byteLength);
	if (v.byteLength < RAMIN.SIZE) {
		throw new MmuError(
			'MMU_INVALID_ARGUMENT',
			`instance block is ${v.byteLength} bytes, needs ${RAMIN.SIZE}`,
		);
	}
	return v;
}

/**
 * Write the page directory, VA limit and subcontext PDBs into an instance block.
 * @throws MmuError `MMU_INVALID_ARGUMENT` for an unaligned directory, a bad limit or mask, or neither a
 * limit nor a format.
 */
export function writeInstanceBlockPageDirectory(
	inst: DataView | Uint8Array,
	cfg: PageDirectoryConfig,
	options: InstanceBlockPdbOptions = {},
): void {
	const v = viewOf(inst);
	const { lo, hi } = encodePageDirectoryBase(cfg);
	if (options.limit === undefined && options.format === undefined) {
		throw new MmuError('MMU_INVALID_ARGUMENT', 'instance block: give the VA limit or the page-table format');
	}
	const fmt: MmuFormatSpec | undefined = options.format === undefined ? undefined : mmuFormat(options.format);
	const limit = (options.limit ?? 1n << BigInt((fmt as MmuFormatSpec).vaBits)) - 1n;
	const mask = options.subcontexts ?? 1n;
	if (limit < 0n || limit >= 1n << 64n || mask < 0n || mask >= 1n << 64n)
		throw new MmuError('MMU_INVALID_ARGUMENT', 'bad limit or subcontext mask');
	v.setUint32(RAMIN.PAGE_DIR_BASE_LO, lo, true);
	v.setUint32(RAMIN.PAGE_DIR_BASE_HI, hi, true);
	v.setUint32(RAMIN.ADR_LIMIT_LO, Number(limit & 0xffffffffn), true);
	v.setUint32(RAMIN.ADR_LIMIT_HI, Number((limit >> 32n) & 0xffffffffn), true);
	v.setUint32(RAMIN.CLEARED_21C, 0, true);
	for (let i = 0; i < RAMIN.SUBCONTEXTS; i++) {
		const on = ((mask >> BigInt(i)) & 1n) === 1n;
		v.setUint32(RAMIN.SC_PAGE_DIR_BASE_HI(i), on ? hi : RAMIN_TARGET.INVALID, true);
		v.setUint32(RAMIN.SC_PAGE_DIR_BASE_LO(i), on ? lo : RAMIN_TARGET.INVALID, true);
		v.setUint32(RAMIN.SC_CLEARED(i), 0, true);
	}
	v.setUint32(RAMIN.SC_PDB_VALID_LO, Number(mask & 0xffffffffn), true);
	v.setUint32(RAMIN.SC_PDB_VALID_HI, Number(mask >> 32n), true);
}

/** Read back what {@link writeInstanceBlockPageDirectory} wrote. */
export function readInstanceBlockPageDirectory(inst: DataView | Uint8Array): {
	readonly pageDirectory: DecodedPageDirectoryBase;
	readonly limit: bigint;
	readonly subcontextMask: bigint;
	readonly subcontexts: readonly (DecodedPageDirectoryBase | null)[];
} {
	const v = viewOf(inst);
	const r = (o: number): number => v.getUint32(o, true);
	const mask = (BigInt(r(RAMIN.SC_PDB_VALID_HI)) << 32n) | BigInt(r(RAMIN.SC_PDB_VALID_LO));
	const subcontexts: (DecodedPageDirectoryBase | null)[] = [];
	for (let i = 0; i < RAMIN.SUBCONTEXTS; i++) {
		const d = decodePageDirectoryBase(r(RAMIN.SC_PAGE_DIR_BASE_LO(i)), r(RAMIN.SC_PAGE_DIR_BASE_HI(i)));
		subcontexts.push(((mask >> BigInt(i)) & 1n) === 1n ? d : null);
	}
	return {
		pageDirectory: decodePageDirectoryBase(r(RAMIN.PAGE_DIR_BASE_LO), r(RAMIN.PAGE_DIR_BASE_HI)),
		limit: ((BigInt(r(RAMIN.ADR_LIMIT_HI)) << 32n) | BigInt(r(RAMIN.ADR_LIMIT_LO))) + 1n,
		subcontextMask: mask,
		subcontexts,
	};
}
