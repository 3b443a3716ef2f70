/**
 * The simulated GPU's MMU: an independent reading of NVIDIA's page-table formats (MMU v2 for Turing–Ada,
 * v3 for Hopper), a TLB that stays stale until the driver invalidates it, the invalidate registers, and the
 * instance-block page-directory decoder.
 *
 * @module
 */

export {
	type BitField,
	CACHE_LEVEL,
	FAULT_ACCESS_TYPE,
	FAULT_TYPE,
	type FaultTypeName,
	getField32,
	getField64,
	getField128,
	MMU_INVALIDATE,
	PDE_APERTURE,
	PTE_APERTURE,
	PTE_KIND_INVALID,
	RAMIN,
	RAMIN_TARGET,
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
export {
	decodeInstanceBlock,
	decodePageDirectoryWord,
	encodePageDirectoryWord,
	type InstanceBlockMmu,
	type PageDirectoryWord,
	type PdbTarget,
	pageDirectoryBase,
	type SubcontextEntry,
} from './instance-block.ts';
export { denial, GpuMmu, type GpuMmuOptions, mmuOptionsForArchitecture, type WalkTrace } from './mmu.ts';
export {
	type InvalidateAperture,
	type InvalidateRecord,
	type InvalidateRegisterOptions,
	type InvalidateScope,
	MmuInvalidateRegisters,
	pdbKey,
	type TlbOptions,
	type TlbStats,
	TranslationCache,
} from './tlb.ts';
export type {
	EntryLocation,
	FaultReason,
	MmuAccess,
	MmuFault,
	MmuLevel,
	MmuTranslation,
	MmuTranslationFault,
	PageAperture,
	PageDirectoryBase,
	PhysicalMemory,
	RangeResult,
	RangeSegment,
	TableAperture,
	TranslateOptions,
	TranslateResult,
} from './types.ts';
export {
	type DualPointer,
	type FormatGeometry,
	geometryOf,
	type LeafEntry,
	type LevelGeometry,
	PageWalker,
	type PageWalkerOptions,
	type PdeCache,
	type SparseEntry,
	type TablePointer,
	V2_GEOMETRY,
	V3_GEOMETRY,
	type WalkFault,
	type WalkOutcome,
	type WalkStep,
} from './walker.ts';
