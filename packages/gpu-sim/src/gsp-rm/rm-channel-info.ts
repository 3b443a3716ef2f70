/**
 * What RM records about a channel, shared by the object tree (rm.ts) and the host-engine wiring
 * (channels.ts) without an import cycle between them.
 *
 * @module
 */

/** A channel as RM records it (what the host-engine model needs to find its state). */
export interface RmChannelInfo {
	readonly chid: number;
	readonly runlist: number;
	/** `NV2080_ENGINE_TYPE_*` value from the alloc parameters. */
	readonly engineType: number;
	readonly engineName: string;
	readonly hVASpace: number;
	readonly gpFifoOffset: bigint;
	readonly gpFifoEntries: number;
	readonly instanceMem: MemoryDesc;
	readonly userdMem: MemoryDesc;
	readonly ramfcMem: MemoryDesc;
	readonly mthdbufMem: MemoryDesc;
	readonly hUserdMemory: number;
	readonly userdOffset: bigint;
	bound: boolean;
	scheduled: boolean;
}

/** `NV_MEMORY_DESC_PARAMS`. */
export interface MemoryDesc {
	readonly base: bigint;
	readonly size: bigint;
	readonly addressSpace: number;
	readonly cacheAttrib: number;
}
