/**
 * What GSP-RM tells the host engine about channels, and what it tells the driver when a channel fails.
 *
 * RM owns runlists and CHRAM (reference C.8), so the emulator's RM is what puts a channel on the simulated
 * host engine: RM_ALLOC of a channel class registers it, BIND + GPFIFO_SCHEDULE enable it, the copy object
 * allocated on it binds the copy class to its engine subchannels, FREE removes it. These are plain-data
 * {@link GspChannelEvent}s so they can cross from the GSP worker thread to the thread that owns the engine.
 *
 * Engine errors come back as RC_TRIGGERED (and MMU_FAULT_QUEUED first for MMU faults) in the booted branch's
 * `rpc_rc_triggered_v17_02` layout (20 bytes in r535, 48 in r570).
 *
 * @module
 */

import type { ChannelErrorReport, ChannelRegistration } from '../engines/types.ts';
import type { PageDirectoryBase, TableAperture } from '../mmu/types.ts';
import type { GspRmAbi } from './abi.ts';
import type { GspChipConfig } from './chip-config.ts';
import type { MemoryDesc, RmChannelInfo } from './rm-channel-info.ts';

/** The marker RM puts in a registration's `tag`, so error reports can be traced back to the RM objects. */
export interface GspChannelTag {
	readonly gspRm: true;
	readonly hClient: number;
	readonly hChannel: number;
}

/** Whether an error report's tag says RM registered the channel. */
export function isGspChannelTag(tag: unknown): tag is GspChannelTag {
	return typeof tag === 'object' && tag !== null && (tag as { gspRm?: unknown }).gspRm === true;
}

/** One change RM makes to the host engine's channel set (plain data: it may be posted between threads). */
export type GspChannelEvent =
	| { readonly type: 'register'; readonly registration: ChannelRegistration }
	| { readonly type: 'unregister'; readonly chid: number; readonly runlistId: number }
	| { readonly type: 'enable'; readonly chid: number; readonly runlistId: number; readonly enabled: boolean }
	| {
			readonly type: 'engine-class';
			readonly chid: number;
			readonly runlistId: number;
			readonly classId: number | undefined;
	  }
	/** GSP-RM was reset or unloaded: every channel it registered is gone. */
	| { readonly type: 'reset' };

/** Receives {@link GspChannelEvent}s in order (the simulated GPU applies them to its host engine). */
export type GspChannelSink = (event: GspChannelEvent) => void;

/** `NV_ADDRESS_SPACE`: `ADDR_SYSMEM` 1, `ADDR_FBMEM` 2 (nvos.h). */
export const ADDR_SYSMEM = 1;
export const ADDR_FBMEM = 2;
/** `NV_MEMORY_CACHED` (nvos.h): cached system memory is snooped, i.e. coherent. */
const NV_MEMORY_CACHED = 1;

/**
 * Where a `NV_MEMORY_DESC_PARAMS` points: FB → `'video'`; system memory → `'sys-coherent'` when cached, else
 * `'sys-noncoherent'` (the host reaches both through the same bus addresses). `undefined` for other spaces.
 */
export function memoryDescAperture(d: MemoryDesc): TableAperture | undefined {
	if (d.addressSpace === ADDR_FBMEM) return 'video';
	if (d.addressSpace === ADDR_SYSMEM)
		return d.cacheAttrib === NV_MEMORY_CACHED ? 'sys-coherent' : 'sys-noncoherent';
	return undefined;
}

/** RM's `GMMU_APERTURE` (gmmu_fmt.h): INVALID 0, VIDEO 1, PEER 2, SYS_NONCOH 3, SYS_COH 4. */
export function gmmuAperture(value: number): TableAperture | undefined {
	switch (value) {
		case 1:
			return 'video';
		case 3:
			return 'sys-noncoherent';
		case 4:
			return 'sys-coherent';
		default:
			return undefined;
	}
}

/** What RM recorded about a VA space (FERMI_VASPACE_A object data). */
export interface VaSpaceRecord {
	readonly bigPageSize: number;
	/** `vaBase` / `vaSize` of the alloc parameters (size 0: the whole VA the format covers). */
	readonly vaBase: bigint;
	readonly vaSize: bigint;
	/**
	 * `NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED`: the page tables belong to the client (UVM, nouveau's user
	 * VMMs). RM allocates no tables and no VA in it, keeps no server-managed range (the flag implies
	 * DISABLE_SPLIT_VAS) and learns the root only through `NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY`.
	 */
	readonly externallyOwned: boolean;
	readonly serverReservedPdes:
		| {
				readonly levels: readonly {
					readonly physAddress: bigint;
					readonly aperture: number;
					readonly pageShift: number;
				}[];
		  }
		| undefined;
	/** The root an externally owned VA space was given by SET_PAGE_DIRECTORY (cleared by UNSET). */
	readonly externalPdb:
		| { readonly physAddress: bigint; readonly aperture: TableAperture; readonly numEntries: number }
		| undefined;
}

/** VA bits one entry of the root page directory covers: PDE3 on MMU v2 (2^47), PDE4 on v3 / Hopper (2^56). */
export function rootPageShift(chip: GspChipConfig): number {
	return chip.family === 'hopper' ? 56 : 47;
}

/** Entries of the root page directory: 4 (PDE3, VA 48:47) on MMU v2, 2 (PDE4, VA 56) on v3 / Hopper. */
export function rootEntries(chip: GspChipConfig): number {
	return chip.family === 'hopper' ? 2 : 4;
}

/**
 * The page directory of a VA space as RM knows it: for an externally owned one the root SET_PAGE_DIRECTORY
 * named; otherwise the root level of COPY_SERVER_RESERVED_PDES (nouveau hands RM the directories from the root
 * down to PDE1). `undefined` when RM was not given the root — the host then decodes PAGE_DIR_BASE from the
 * instance block the driver wrote.
 */
export function vaSpacePdb(
	chip: GspChipConfig,
	vas: VaSpaceRecord | undefined,
): PageDirectoryBase | undefined {
	if (vas === undefined) return undefined;
	const bigPageSize = vas.bigPageSize === 0x2_0000 ? 131072 : 65536;
	if (vas.externallyOwned) {
		const ext = vas.externalPdb;
		if (ext === undefined) return undefined;
		return { aperture: ext.aperture, address: ext.physAddress, bigPageSize, useVer2PtFormat: true };
	}
	const root = vas.serverReservedPdes?.levels.find((l) => l.pageShift === rootPageShift(chip));
	if (root === undefined) return undefined;
	const aperture = gmmuAperture(root.aperture);
	if (aperture === undefined || (root.physAddress & 0xfffn) !== 0n) return undefined;
	return { aperture, address: root.physAddress, bigPageSize, useVer2PtFormat: true };
}

/** A channel's registration with the host engine, from RM's record of the alloc. */
export function channelRegistration(o: {
	readonly info: RmChannelInfo;
	readonly classId: number;
	readonly privileged: boolean;
	readonly pdb: PageDirectoryBase | undefined;
	readonly tag: GspChannelTag;
}): ChannelRegistration {
	const { info } = o;
	return {
		chid: info.chid,
		runlistId: info.runlist,
		class: o.classId,
		instanceBlock: { aperture: memoryDescAperture(info.instanceMem)!, address: info.instanceMem.base },
		userd: { aperture: memoryDescAperture(info.userdMem)!, address: info.userdMem.base },
		gpfifo: { va: info.gpFifoOffset, entries: info.gpFifoEntries },
		...(o.pdb === undefined ? {} : { pdb: o.pdb }),
		privileged: o.privileged,
		enabled: info.bound && info.scheduled,
		tag: o.tag,
	};
}

/** Robust-channel error numbers (Xids, OpenRM `nverror.h`) the simulated engines can cause. */
export const ROBUST_CHANNEL = Object.freeze({
	FIFO_ERROR_MMU_ERR_FLT: 31,
	PBDMA_ERROR: 32,
	CE0_ERROR: 39,
	CE3_ERROR: 70,
	CE6_ERROR: 75,
	CE9_ERROR: 85,
	/** `ROBUST_CHANNEL_ERROR_RECOVERY_LEVEL_FATAL`: the channel is dead. */
	RECOVERY_LEVEL_FATAL: 2,
});

/** `ROBUST_CHANNEL_CEn_ERROR(n)` (CE0–2 at 39, CE3–5 at 70, CE6–8 at 75, CE9 at 85). */
export function ceErrorXid(n: number): number {
	if (n < 3) return ROBUST_CHANNEL.CE0_ERROR + n;
	if (n < 6) return ROBUST_CHANNEL.CE3_ERROR + n - 3;
	if (n < 9) return ROBUST_CHANNEL.CE6_ERROR + n - 6;
	return ROBUST_CHANNEL.CE9_ERROR;
}

/**
 * The Xid RM reports for an engine error: 31 for MMU faults, the CE's own error for other copy-engine
 * failures, 32 (PBDMA error) for everything the host (PBDMA) detects.
 */
export function exceptTypeOf(report: ChannelErrorReport, ceInstance: number): number {
	if (report.kind === 'mmu-fault') return ROBUST_CHANNEL.FIFO_ERROR_MMU_ERR_FLT;
	if (report.engine === 'copy') return ceErrorXid(ceInstance);
	return ROBUST_CHANNEL.PBDMA_ERROR;
}

/**
 * The fields of `rpc_rc_triggered_v17_02` for an engine error, limited to the fields the booted branch has
 * (r535: engine type, chid, exceptType, scope, partition; r570 adds gfid, exceptLevel, the MMU fault address
 * and type, the callback flag and an empty RC journal).
 */
export function rcTriggeredFields(
	abi: GspRmAbi,
	report: ChannelErrorReport,
	channel: { readonly engineType: number; readonly chid: number },
	exceptType: number,
): Record<string, number> {
	const names = new Set(abi.layout('rpc_rc_triggered_v17_02').fields.map((f) => f.name));
	const va = report.fault?.va ?? 0n;
	const all: Record<string, number> = {
		nv2080EngineType: channel.engineType,
		chid: channel.chid,
		gfid: 0,
		exceptLevel: ROBUST_CHANNEL.RECOVERY_LEVEL_FATAL,
		exceptType,
		// RC scope 0: the channel (not its TSG or the whole engine) is what failed.
		scope: 0,
		partitionAttributionId: 0,
		mmuFaultAddrLo: Number(va & 0xffff_ffffn) >>> 0,
		mmuFaultAddrHi: Number((va >> 32n) & 0xffff_ffffn) >>> 0,
		mmuFaultType: report.fault?.faultType ?? 0,
		bCallbackNeeded: 0,
		rcJournalBufferSize: 0,
	};
	return Object.fromEntries(Object.entries(all).filter(([k]) => names.has(k)));
}
