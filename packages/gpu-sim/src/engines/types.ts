/**
 * Public types of the simulated engines: the physical-memory port, channel registration, error reports and
 * fault records.
 *
 * @module
 */

import type {
	FaultReason,
	FaultTypeName,
	MmuAccess,
	MmuLevel,
	PageDirectoryBase,
	TableAperture,
} from '../mmu/index.ts';

/** A physical location: VRAM offset (`'video'`) or bus address (`'sys-*'`). */
export interface PhysicalLocation {
	readonly aperture: TableAperture;
	readonly address: bigint;
}

/**
 * Physical memory as the engines see it. Implementations throw a `GspkitError` for memory that is not backed
 * (gpu-sim's `DmaFaultError`, `VramFaultError`); the engine turns that into a channel error of kind `'memory'`.
 * {@link simulatedGpuMemory} builds one over a `SimulatedGpu`.
 */
export interface EngineMemory {
	/** Fill `dst` from `pa` in `aperture`. */
	read(aperture: TableAperture, pa: bigint, dst: Uint8Array): void;
	/** Store `src` at `pa` in `aperture`. */
	write(aperture: TableAperture, pa: bigint, src: Uint8Array): void;
}

/** The interrupt lines an engine raises. */
export interface EngineInterrupts {
	raise(line: 'nonstall' | 'stall'): void;
}

/** Which engine noticed a problem. */
export type EngineName = 'host' | 'copy';

/** What the engine was doing when a fault happened. */
export type EngineClient =
	| 'gpfifo'
	| 'pushbuffer'
	| 'semaphore'
	| 'copy-read'
	| 'copy-write'
	| 'copy-semaphore'
	| 'userd'
	| 'instance-block';

/**
 * Kinds of channel errors, after the PBDMA/CE interrupt that real hardware raises:
 * - `'mmu-fault'`: a translation failed (invalid PDE/PTE, read-only, privilege, atomic, VA limit, a write to a
 *   sparse page) — `fault` holds the record;
 * - `'illegal-method'` (`INTR_0_METHOD`/`DEVICE`, `HCE_ILLEGAL_MTHD`/`CLASS`): an undefined host method,
 *   `ILLEGAL`, `CLEAR_FAULTED`, a privileged operation from a non-privileged channel, a software-method
 *   subchannel, an unsupported class or copy-engine method;
 * - `'gpentry'` (`INTR_0_GPENTRY`): an ILLEGAL/undefined control entry or a segment crossing 2^40;
 * - `'gpptr'` (`INTR_0_GPPTR`): GP_PUT outside the ring;
 * - `'gpfifo'` (`INTR_0_GPFIFO`): a ring from RAMFC that crosses the top of the VA space;
 * - `'pbentry'` (`INTR_0_PBENTRY`): a pushbuffer entry that is not a valid instruction;
 * - `'semaphore'` (`INTR_0_SEMAPHORE`): a misaligned semaphore or an unsupported operation/reduction;
 * - `'ce-launch'`: a copy-engine launch the model cannot or must not perform (block-linear layouts, physical
 *   access from a non-privileged channel, unsupported options);
 * - `'memory'`: a physical access hit unbacked memory (USERD, instance block, a page mapped to nothing).
 */
export type ChannelErrorKind =
	| 'mmu-fault'
	| 'illegal-method'
	| 'gpentry'
	| 'gpptr'
	| 'gpfifo'
	| 'pbentry'
	| 'semaphore'
	| 'ce-launch'
	| 'memory';

/** One MMU fault as the simulated fault buffer records it (`NV_PFAULT_*` type and access). */
export interface EngineFaultRecord {
	readonly chid: number;
	readonly runlistId: number;
	readonly engine: EngineName;
	readonly client: EngineClient;
	readonly va: bigint;
	readonly access: MmuAccess;
	/** `NV_PFAULT_FAULT_TYPE_*` value and name, from the MMU. */
	readonly faultType: number;
	readonly faultTypeName: FaultTypeName;
	/** `NV_PFAULT_ACCESS_TYPE_VIRT_*`. */
	readonly accessType: number;
	readonly reason: FaultReason;
	readonly level: MmuLevel;
	/** Platform-clock time of the fault. */
	readonly timeNs: bigint;
}

/** The method being executed when a channel failed. */
export interface FailedMethod {
	readonly subchannel: number;
	/** Method byte address (dword address << 2). */
	readonly address: number;
	readonly data: number;
	/** The class the subchannel was bound to, for engine methods. */
	readonly classId?: number;
}

/**
 * What the engines report when a channel enters the error state (it stops fetching). Plain data, so it can be
 * posted to a worker thread; the simulated GSP-RM turns it into RC_TRIGGERED / MMU_FAULT_QUEUED events.
 */
export interface ChannelErrorReport {
	readonly chid: number;
	readonly runlistId: number;
	readonly kind: ChannelErrorKind;
	readonly engine: EngineName;
	/** A one-line description for logs. */
	readonly detail: string;
	readonly timeNs: bigint;
	readonly fault?: EngineFaultRecord;
	readonly method?: FailedMethod;
	/** The GP entry being processed (its ring index and raw words). */
	readonly gpEntry?: { readonly index: number; readonly entry0: number; readonly entry1: number };
	/** The raw pushbuffer entry, for `'pbentry'`. */
	readonly pbEntry?: number;
	/** The `tag` given at registration (e.g. RM handles). */
	readonly tag?: unknown;
}

/**
 * A channel as the simulated GSP-RM registers it with the host engine when it allocates a channel class.
 * The host reads USERD and the instance block by physical address, the GPFIFO and pushbuffers through the MMU
 * in the address space the instance block names.
 */
export interface ChannelRegistration {
	/** Channel ID (CHID 11:0 of the work-submit token). */
	readonly chid: number;
	/** Runlist ID (RUNLIST_ID 22:16 of the token). */
	readonly runlistId: number;
	/** Channel (host) class, e.g. `0xc56f` AMPERE_CHANNEL_GPFIFO_A. */
	readonly class: number;
	/** The 4 KiB instance block (RAMFC + PAGE_DIR_BASE at 0x200/0x204). */
	readonly instanceBlock: PhysicalLocation;
	/** The 512-byte USERD (GP_GET 0x88, GP_PUT 0x8c). */
	readonly userd: PhysicalLocation;
	/**
	 * GPFIFO ring: GPU VA and entry count (a power of two). Omitted: read from RAMFC GP_BASE/GP_BASE_HI
	 * (0x48/0x4c, LIMIT2 = log2 entries) each time the channel is loaded.
	 */
	readonly gpfifo?: { readonly va: bigint; readonly entries: number };
	/** Page directory to use instead of decoding the instance block's 0x200/0x204 words. */
	readonly pdb?: PageDirectoryBase;
	/** `NV_RAMFC_CONFIG.AUTH_LEVEL` PRIVILEGED: may run MMU_TLB_INVALIDATE, physical CE copies, privileged PTEs. */
	readonly privileged?: boolean;
	/**
	 * Class used for engine methods on a subchannel that never saw SET_OBJECT (hardware needs no SetObject: the
	 * subchannel→engine mapping is fixed per runlist). Typically the copy class RM allocated on the channel.
	 */
	readonly engineClass?: number;
	/** Whether the scheduler may run the channel (RM's GPFIFO_SCHEDULE). Default `true`. */
	readonly enabled?: boolean;
	/** Opaque value copied into error reports (e.g. `{ hClient, hChannel }`). */
	readonly tag?: unknown;
}
