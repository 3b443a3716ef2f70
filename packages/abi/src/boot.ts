/**
 * The boot's view of a firmware ABI: the version-neutral writers falcon-boot needs (`GspFwWprMeta`, the
 * RMARGS page, LIBOS region entries). Each ABI package implements {@link BootAbi} (as its `boot`
 * sub-interface) with its own layouts; falcon-boot only ever sees these neutral shapes.
 *
 * @module
 */

/** The version-neutral fields of `GspFwWprMeta` the driver fills (all FB offsets/sizes in bytes). */
export interface WprMetaFields {
	readonly sysmemAddrOfRadix3Elf: bigint;
	readonly sizeOfRadix3Elf: bigint;
	readonly sysmemAddrOfBootloader: bigint;
	readonly sizeOfBootloader: bigint;
	readonly bootloaderCodeOffset: bigint;
	readonly bootloaderDataOffset: bigint;
	readonly bootloaderManifestOffset: bigint;
	readonly sysmemAddrOfSignature: bigint;
	readonly sizeOfSignature: bigint;
	readonly gspFwRsvdStart: bigint;
	readonly nonWprHeapOffset: bigint;
	readonly nonWprHeapSize: bigint;
	readonly gspFwWprStart: bigint;
	readonly gspFwHeapOffset: bigint;
	readonly gspFwHeapSize: bigint;
	readonly gspFwOffset: bigint;
	readonly bootBinOffset: bigint;
	readonly frtsOffset: bigint;
	readonly frtsSize: bigint;
	readonly gspFwWprEnd: bigint;
	readonly fbSize: bigint;
	readonly vgaWorkspaceOffset: bigint;
	readonly vgaWorkspaceSize: bigint;
	readonly bootCount: bigint;
	readonly gspFwHeapVfPartitionCount: number;
	/** r570+: PMU reserved size (0 outside GB10x). Ignored by ABIs without the field. */
	readonly pmuReservedSize?: number;
	/** r570+: flags. Ignored by ABIs without the field. */
	readonly flags?: number;
}

/** A decoded `GspFwWprMeta`: the neutral fields plus magic, revision and `verified`. */
export interface DecodedWprMeta extends WprMetaFields {
	readonly magic: bigint;
	readonly revision: bigint;
	readonly verified: bigint;
}

/** `GSP_ARGUMENTS_CACHED` (the RMARGS page), version-neutral. */
export interface RmArgsFields {
	/** `MESSAGE_QUEUE_INIT_ARGUMENTS`, placed by the RPC layer (gsp-rpc.md §1.1). */
	readonly messageQueue: {
		readonly sharedMemPhysAddr: bigint;
		readonly pageTableEntryCount: number;
		readonly cmdQueueOffset: bigint;
		readonly statQueueOffset: bigint;
		/** r535 only. */
		readonly locklessCmdQueueOffset?: bigint;
		/** r535 only. */
		readonly locklessStatQueueOffset?: bigint;
	};
	/** `srInitArguments`: `oldLevel` 0 on a cold boot (3 on resume), `bInPMTransition`. */
	readonly srInit: { readonly oldLevel: number; readonly flags: number; readonly inPmTransition: boolean };
	readonly gpuInstance: number;
	readonly profiler: { readonly pa: bigint; readonly size: bigint };
	/** r570+: `bDmemStack` (nouveau sets 1). Ignored by ABIs without the field. */
	readonly dmemStack?: boolean;
}

/** `LibosMemoryRegionInitArgument`. */
export interface LibosRegionFields {
	/** The region name packed big-endian into a u64 (see `libosId8`). */
	readonly id8: bigint;
	readonly pa: bigint;
	readonly size: bigint;
	/** 1 = CONTIGUOUS. */
	readonly kind: number;
	/** 1 = SYSMEM. */
	readonly loc: number;
}

/** A fixed-size struct writer. */
export interface StructWriter<T> {
	/** Bytes the struct occupies. */
	readonly size: number;
	/** Write the whole struct (unnamed bytes zeroed) at `offset` in `dst`. */
	encode(fields: T, dst: Uint8Array, offset?: number): void;
}

/** The `GspFwWprMeta` codec of one ABI. */
export interface WprMetaCodec extends StructWriter<WprMetaFields> {
	/** The magic `encode` writes (and booter checks). */
	readonly magic: bigint;
	/** The revision `encode` writes. */
	readonly revision: bigint;
	/** Read a `GspFwWprMeta` back. */
	decode(src: Uint8Array, offset?: number): DecodedWprMeta;
}

/** The boot's view of a firmware ABI. */
export interface BootAbi {
	/** Firmware version, e.g. `'570.144'`. */
	readonly version: string;
	readonly wprMeta: WprMetaCodec;
	readonly rmArgs: StructWriter<RmArgsFields>;
	readonly libosRegion: StructWriter<LibosRegionFields>;
}
