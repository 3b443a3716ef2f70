/**
 * Public types of the simulated MMU: apertures, the physical-memory port it reads tables through, page
 * directory bases, translations and fault records.
 *
 * @module
 */

import type { FaultTypeName } from './fields.ts';

/** Memory a page table can live in (`NV_MMU_VER2_PDE_APERTURE_*` without INVALID). */
export type TableAperture = 'video' | 'sys-coherent' | 'sys-noncoherent';

/** Memory a page can map (`NV_MMU_VER2_PTE_APERTURE_*`): a table aperture or a peer GPU's memory. */
export type PageAperture = TableAperture | 'peer';

/**
 * The physical memory the MMU reads page tables from. `gpu-sim` implements it over its VRAM (`'video'`, byte
 * offsets into the framebuffer) and its DMA pool (`'sys-*'`, bus addresses).
 */
export interface PhysicalMemory {
	/**
	 * Read the little-endian 64-bit word at `pa` (8-byte aligned) in `aperture`, as an unsigned bigint.
	 * Throw a `GspkitError` (e.g. gpu-sim's `DmaFaultError`) for memory that is not backed: the walker turns
	 * it into an `'unreadable-table'` fault instead of inventing data.
	 */
	readU64(aperture: TableAperture, pa: bigint): bigint;
}

/**
 * The root of a GPU virtual address space: where PDE3 (v2) or PDE4 (v3) lives. The optional fields come from
 * the instance block and are checked when present.
 */
export interface PageDirectoryBase {
	/** `'invalid'` is what `NV_RAMIN_PAGE_DIR_BASE_TARGET_INVALID` decodes to; translations then fault. */
	readonly aperture: TableAperture | 'invalid';
	/** Physical address of the root table; 4 KiB aligned. */
	readonly address: bigint;
	/** `NV_RAMIN_BIG_PAGE_SIZE`: only 64 KiB is supported since Volta. */
	readonly bigPageSize?: 65536 | 131072;
	/** `NV_RAMIN_USE_VER2_PT_FORMAT`: must be set for both v2 and v3 tables. */
	readonly useVer2PtFormat?: boolean;
}

/** The kind of memory access being translated. */
export type MmuAccess = 'read' | 'write' | 'atomic';

/** Options of a translation. */
export interface TranslateOptions {
	/** The access comes from a privileged client (may use PTEs with PRIVILEGE set). Default `false`. */
	readonly privileged?: boolean;
}

/** Page-table levels, root first; `'PDB'` names faults raised before the first table is read. */
export type MmuLevel = 'PDB' | 'PDE4' | 'PDE3' | 'PDE2' | 'PDE1' | 'PDE0' | 'PTE';

/** Why a translation did not produce an accessible page. */
export type FaultReason =
	/** A directory entry with APERTURE = INVALID (and not sparse). */
	| 'invalid-pde'
	/** A page-table entry with VALID = 0 (and not sparse), or a big PTE that blocks the small PTEs. */
	| 'invalid-pte'
	/** A sparse entry: reads return zero and writes are dropped; the engine decides what to do. */
	| 'sparse'
	/** A write or atomic to a read-only page. */
	| 'read-only'
	/** A PTE with PRIVILEGE set, accessed by a non-privileged client. */
	| 'privilege'
	/** An atomic to a page with atomics disabled. */
	| 'atomic'
	/** The VA does not fit the format (49 bits for v2, 57 for v3). */
	| 'va-out-of-range'
	/** The page directory base names the INVALID aperture. */
	| 'bad-aperture'
	/** The page directory base is not 4 KiB aligned. */
	| 'unaligned-table'
	/** A PTE whose address is not aligned to its page size (stricter than hardware, to catch builders). */
	| 'unaligned-page'
	/** A PTE at a level that cannot hold one on this chip (e.g. IS_PTE in PDE3), or a 128 KiB big page. */
	| 'unsupported-page-size'
	/** A valid PTE with `NV_MMU_PTE_KIND_INVALID`. */
	| 'unsupported-kind'
	/** The instance block does not select the v2/v3 page-table format. */
	| 'unsupported-format'
	/** {@link PhysicalMemory.readU64} refused to read a table entry (unbacked memory). */
	| 'unreadable-table';

/** Where an entry involved in a fault lives, and what it held. */
export interface EntryLocation {
	readonly aperture: TableAperture;
	readonly address: bigint;
	/** The raw entry: 64 bits, or 128 bits (high quad-word << 64 | low) for a dual PDE0. */
	readonly value: bigint;
}

/** A fault record: what the MMU would put in its fault buffer, plus diagnostics. */
export interface MmuFault {
	readonly va: bigint;
	readonly access: MmuAccess;
	readonly level: MmuLevel;
	readonly reason: FaultReason;
	/** `NV_PFAULT_FAULT_TYPE_*` value. */
	readonly faultType: number;
	/** `NV_PFAULT_FAULT_TYPE_*` name, e.g. `'PTE'` or `'RO_VIOLATION'`. */
	readonly faultTypeName: FaultTypeName;
	/** `NV_PFAULT_ACCESS_TYPE_VIRT_*` value of the access. */
	readonly accessType: number;
	/** For PTE-level faults under a dual PDE0: which table the deciding entry came from. */
	readonly table?: 'big' | 'small';
	/** The entry that decided the outcome, when one was read. */
	readonly entry?: EntryLocation;
	/** The error {@link PhysicalMemory.readU64} threw, for `'unreadable-table'`. */
	readonly cause?: unknown;
}

/** A successful translation. */
export interface MmuTranslation {
	readonly ok: true;
	readonly va: bigint;
	/** Where the byte at `va` lives. */
	readonly aperture: PageAperture;
	/** Physical address of the byte at `va` (VRAM offset, bus address, or the peer's address). */
	readonly pa: bigint;
	/** Physical address of the first byte of the page. */
	readonly pageBase: bigint;
	/** 4096, 65536, 2 MiB or 512 MiB. */
	readonly pageSize: number;
	/** The level whose entry mapped the page (`'PTE'`, or `'PDE0'`/`'PDE1'` for 2 MiB / 512 MiB pages). */
	readonly level: MmuLevel;
	/** For a PTE under a dual PDE0: the big (64 KiB) or small (4 KiB) table. */
	readonly table?: 'big' | 'small';
	/** The PTE's KIND (8 bits on v2, 4 bits on v3). */
	readonly kind: number;
	readonly readOnly: boolean;
	/** VOL (v2) or an UNCACHED PCF (v3): the GPU must not cache the page. */
	readonly volatile: boolean;
	readonly privileged: boolean;
	readonly atomicDisabled: boolean;
	/** Peer GPU index for the `'peer'` aperture. */
	readonly peerId?: number;
	/** v3 only: the raw PCF (permission control flags). */
	readonly pcf?: number;
	/** v2 only: the ENCRYPTED bit. */
	readonly encrypted?: boolean;
	/** The raw PTE. */
	readonly pte: bigint;
	/** Whether the TLB supplied the translation (no table was read). */
	readonly tlbHit: boolean;
}

/** A failed translation. */
export interface MmuTranslationFault {
	readonly ok: false;
	readonly fault: MmuFault;
	/** Whether the TLB supplied the (cached) entry that faulted, e.g. a cached sparse or read-only page. */
	readonly tlbHit: boolean;
}

/** What `GpuMmu.translate` returns. */
export type TranslateResult = MmuTranslation | MmuTranslationFault;

/** One contiguous piece of a translated VA range. */
export type RangeSegment =
	| {
			readonly sparse: false;
			readonly va: bigint;
			readonly length: number;
			readonly aperture: PageAperture;
			readonly pa: bigint;
			readonly peerId?: number;
	  }
	| { readonly sparse: true; readonly va: bigint; readonly length: number };

/** What `GpuMmu.translateRange` returns. */
export type RangeResult =
	| { readonly ok: true; readonly segments: readonly RangeSegment[] }
	| {
			readonly ok: false;
			readonly fault: MmuFault;
			/** Segments for the bytes before the fault. */
			readonly segments: readonly RangeSegment[];
	  };
