/**
 * The page-table, fault and invalidate formats, transcribed from NVIDIA's own headers:
 * `nvidia-uvm/hwref/turing/tu102/dev_mmu.h` (`NV_MMU_VER2_*`, also used by Ampere and Ada),
 * `hwref/hopper/gh100/dev_mmu.h` (`NV_MMU_VER3_*`), `hwref/<arch>/<chip>/dev_fault.h` (`NV_PFAULT_*`) and the GA100
 * `dev_vm.h` (`NV_VIRTUAL_FUNCTION_PRIV_MMU_INVALIDATE*`). Bits are written `hi:lo` as in the headers; fields of
 * the 16-byte dual PDE use bit numbers 64..127 for the high quad-word, exactly as the headers do.
 *
 * This file is the simulator's own reading of the hardware format and is deliberately not shared with the
 * driver-side page-table builder: if the two disagree, translations fail and tests notice.
 *
 * @module
 */

/** A bit field `hi:lo` (inclusive), as NVIDIA's headers write it. */
export interface BitField {
	readonly hi: number;
	readonly lo: number;
}

function bits(hi: number, lo: number): BitField {
	return Object.freeze({ hi, lo });
}

/** Extract `field` from a 64-bit entry (bits 63..0). */
export function getField64(value: bigint, field: BitField): bigint {
	const width = BigInt(field.hi - field.lo + 1);
	return (value >> BigInt(field.lo)) & ((1n << width) - 1n);
}

/** Extract `field` from a 128-bit entry given as two little-endian quad-words. */
export function getField128(lo: bigint, hi: bigint, field: BitField): bigint {
	if (field.lo >= 64) return getField64(hi, bits(field.hi - 64, field.lo - 64));
	if (field.hi < 64) return getField64(lo, field);
	throw new RangeError(`field ${field.hi}:${field.lo} straddles the two quad-words`);
}

/** `NV_MMU_VER2_PDE_*`: an 8-byte page-directory entry (PDE3, PDE2, PDE1). */
export const V2_PDE = Object.freeze({
	IS_PTE: bits(0, 0),
	APERTURE: bits(2, 1),
	VOL: bits(3, 3),
	NO_ATS: bits(5, 5),
	ADDRESS_SYS: bits(53, 8),
	ADDRESS_VID: bits(32, 8),
	ADDRESS_VID_PEER: bits(35, 33),
	ADDRESS_SHIFT: 12,
	SIZE: 8,
});

/** `NV_MMU_VER2_DUAL_PDE_*`: the 16-byte PDE0 (big-page table low, small-page table high). */
export const V2_DUAL_PDE = Object.freeze({
	IS_PTE: bits(0, 0),
	APERTURE_BIG: bits(2, 1),
	VOL_BIG: bits(3, 3),
	NO_ATS: bits(5, 5),
	ADDRESS_BIG_SYS: bits(53, 4),
	ADDRESS_BIG_VID: bits(32, 4),
	APERTURE_SMALL: bits(66, 65),
	VOL_SMALL: bits(67, 67),
	ADDRESS_SMALL_SYS: bits(117, 72),
	ADDRESS_SMALL_VID: bits(96, 72),
	ADDRESS_SHIFT: 12,
	ADDRESS_BIG_SHIFT: 8,
	SIZE: 16,
});

/** `NV_MMU_VER2_PTE_*`: an 8-byte page-table entry (also a 2 MiB PTE in PDE0, a 512 MiB PTE in PDE1). */
export const V2_PTE = Object.freeze({
	VALID: bits(0, 0),
	APERTURE: bits(2, 1),
	VOL: bits(3, 3),
	ENCRYPTED: bits(4, 4),
	PRIVILEGE: bits(5, 5),
	READ_ONLY: bits(6, 6),
	ATOMIC_DISABLE: bits(7, 7),
	ADDRESS_SYS: bits(53, 8),
	ADDRESS_VID: bits(32, 8),
	ADDRESS_VID_PEER: bits(35, 33),
	COMPTAGLINE: bits(55, 36),
	KIND: bits(63, 56),
	ADDRESS_SHIFT: 12,
	SIZE: 8,
});

/** `NV_MMU_VER3_PDE_*`: an 8-byte Hopper page-directory entry (PDE4..PDE1). */
export const V3_PDE = Object.freeze({
	IS_PTE: bits(0, 0),
	APERTURE: bits(2, 1),
	PCF: bits(5, 3),
	ADDRESS: bits(51, 12),
	ADDRESS_SHIFT: 12,
	SIZE: 8,
});

/** `NV_MMU_VER3_DUAL_PDE_*`: the 16-byte Hopper PDE0. */
export const V3_DUAL_PDE = Object.freeze({
	IS_PTE: bits(0, 0),
	APERTURE_BIG: bits(2, 1),
	PCF_BIG: bits(5, 3),
	ADDRESS_BIG: bits(51, 8),
	APERTURE_SMALL: bits(66, 65),
	PCF_SMALL: bits(69, 67),
	ADDRESS_SMALL: bits(115, 76),
	ADDRESS_SHIFT: 12,
	ADDRESS_BIG_SHIFT: 8,
	SIZE: 16,
});

/** `NV_MMU_VER3_PTE_*`: an 8-byte Hopper page-table entry. */
export const V3_PTE = Object.freeze({
	VALID: bits(0, 0),
	APERTURE: bits(2, 1),
	PCF: bits(7, 3),
	KIND: bits(11, 8),
	ADDRESS: bits(51, 12),
	ADDRESS_VID: bits(39, 12),
	PEER_ID: bits(63, 61),
	ADDRESS_SHIFT: 12,
	SIZE: 8,
});

/** `NV_MMU_VER{2,3}_PDE_APERTURE_*` (also `_DUAL_PDE_APERTURE_BIG/SMALL_*`): where a table lives. */
export const PDE_APERTURE = Object.freeze({
	INVALID: 0,
	VIDEO_MEMORY: 1,
	SYSTEM_COHERENT_MEMORY: 2,
	SYSTEM_NON_COHERENT_MEMORY: 3,
});

/** `NV_MMU_VER{2,3}_PTE_APERTURE_*`: where a page lives. Note the enum differs from the PDE's. */
export const PTE_APERTURE = Object.freeze({
	VIDEO_MEMORY: 0,
	PEER_MEMORY: 1,
	SYSTEM_COHERENT_MEMORY: 2,
	SYSTEM_NON_COHERENT_MEMORY: 3,
});

/** `NV_MMU_VER3_PTE_PCF_*` values that only apply while VALID = 0. */
export const V3_PTE_PCF_INVALID = Object.freeze({
	INVALID: 0,
	SPARSE: 1,
	MAPPING_NOWHERE: 2,
	NO_VALID_4KB_PAGE: 3,
});

/**
 * Meaning of each bit of `NV_MMU_VER3_PTE_PCF` while VALID = 1, read off the 32 named values
 * (`REGULAR_RW_ATOMIC_CACHED_ACE` = 0 … `PRIVILEGE_RO_NO_ATOMIC_UNCACHED_ACD` = 0x1f).
 */
export const V3_PTE_PCF_VALID_BITS = Object.freeze({
	UNCACHED: 0x01,
	PRIVILEGE: 0x02,
	READ_ONLY: 0x04,
	NO_ATOMIC: 0x08,
	ACCESS_COUNTING_DISABLED: 0x10,
});

/** `NV_MMU_VER3_PDE_PCF` bit 0 while APERTURE = INVALID: `SPARSE_ATS_*` rather than `INVALID_ATS_*`. */
export const V3_PDE_PCF_SPARSE_BIT = 0x1;

/** `NV_MMU_PTE_KIND_INVALID` on Turing and later (tu102 and gh100 headers). */
export const PTE_KIND_INVALID = 0x07;

/** `NV_PFAULT_FAULT_TYPE_*` (dev_fault.h; identical on TU102, GA100 and GH100). */
export const FAULT_TYPE = Object.freeze({
	PDE: 0x0,
	PDE_SIZE: 0x1,
	PTE: 0x2,
	VA_LIMIT_VIOLATION: 0x3,
	UNBOUND_INST_BLOCK: 0x4,
	PRIV_VIOLATION: 0x5,
	RO_VIOLATION: 0x6,
	WO_VIOLATION: 0x7,
	PITCH_MASK_VIOLATION: 0x8,
	WORK_CREATION: 0x9,
	UNSUPPORTED_APERTURE: 0xa,
	COMPRESSION_FAILURE: 0xb,
	UNSUPPORTED_KIND: 0xc,
	REGION_VIOLATION: 0xd,
	POISONED: 0xe,
	ATOMIC_VIOLATION: 0xf,
});

/** A `NV_PFAULT_FAULT_TYPE_*` name. */
export type FaultTypeName = keyof typeof FAULT_TYPE;

/** `NV_PFAULT_ACCESS_TYPE_VIRT_*` (dev_fault.h) for the accesses the simulator's engines make. */
export const FAULT_ACCESS_TYPE = Object.freeze({
	read: 0x0,
	write: 0x1,
	atomic: 0x2,
});

/**
 * The instance-block words that bind a page directory (`NV_RAMIN_*`, reference B.5). Byte offsets into the
 * 4 KiB instance block.
 */
export const RAMIN = Object.freeze({
	PAGE_DIR_BASE_LO: 0x200,
	PAGE_DIR_BASE_HI: 0x204,
	ADR_LIMIT_LO: 0x208,
	ADR_LIMIT_HI: 0x20c,
	SC_PDB_VALID_LO: 0x298,
	SC_PDB_VALID_HI: 0x29c,
	SC_PAGE_DIR_BASE_LO0: 0x2a0,
	SC_PAGE_DIR_BASE_HI0: 0x2a4,
	SC_STRIDE: 0x10,
	SUBCONTEXTS: 64,
	/** Fields of PAGE_DIR_BASE_LO (and each SC_PAGE_DIR_BASE_LO). */
	TARGET: bits(1, 0),
	VOL: bits(2, 2),
	FAULT_REPLAY_TEX: bits(4, 4),
	FAULT_REPLAY_GCC: bits(5, 5),
	USE_VER2_PT_FORMAT: bits(10, 10),
	BIG_PAGE_SIZE: bits(11, 11),
	/** `PAGE_DIR_BASE_LO` 31:12: address bits 31:12 in place; PAGE_DIR_BASE_HI holds bits 63:32. */
	ADDRESS_LO: bits(31, 12),
});

/** `NV_RAMIN_PAGE_DIR_BASE_TARGET_*`: yet another aperture enum (INVALID is 1 here). */
export const RAMIN_TARGET = Object.freeze({
	VID_MEM: 0,
	INVALID: 1,
	SYS_MEM_COHERENT: 2,
	SYS_MEM_NONCOHERENT: 3,
});

/**
 * The register-based TLB invalidate (`NV_VIRTUAL_FUNCTION_PRIV_MMU_INVALIDATE*`) at BAR0 0xB80000 + VF offset,
 * and the NV_PFB word nouveau used to clear before triggering.
 */
export const MMU_INVALIDATE = Object.freeze({
	PDB: 0xb830a0,
	UPPER_PDB: 0xb830a4,
	INVALIDATE: 0xb830b0,
	/** Written 0 by nouveau before 2023 and by RM before 515; no documented meaning. */
	PFB_100E68: 0x100e68,
	PDB_APERTURE: bits(1, 1),
	PDB_ADDR: bits(31, 4),
	PDB_ADDR_ALIGNMENT: 12,
	UPPER_PDB_ADDR: bits(19, 0),
	ALL_VA: bits(0, 0),
	ALL_PDB: bits(1, 1),
	HUBTLB_ONLY: bits(2, 2),
	REPLAY: bits(5, 3),
	SYS_MEMBAR: bits(6, 6),
	ACK: bits(8, 7),
	CACHE_LEVEL: bits(26, 24),
	TRIGGER: bits(31, 31),
});

/** `NV_VIRTUAL_FUNCTION_PRIV_MMU_INVALIDATE_CACHE_LEVEL_*`. */
export const CACHE_LEVEL = Object.freeze({
	ALL: 0,
	PTE_ONLY: 1,
	UP_TO_PDE0: 2,
	UP_TO_PDE1: 3,
	UP_TO_PDE2: 4,
	UP_TO_PDE3: 5,
	UP_TO_PDE4: 6,
	UP_TO_PDE5: 7,
});

/** Field of a 32-bit register value. */
export function getField32(value: number, field: BitField): number {
	const width = field.hi - field.lo + 1;
	return width === 32 ? value >>> 0 : (value >>> field.lo) & ((1 << width) - 1);
}
