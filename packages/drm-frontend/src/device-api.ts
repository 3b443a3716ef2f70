/**
 * `DrmDevice`: the narrow device API the DRM frontend needs — the slice of `@gspkit/core`'s API it uses, adapted
 * by apps/drm-driver (the frontend itself imports no core code, so it runs on a fake device in its tests).
 *
 * The frontend implements everything DRM-specific (files, handles, GEM refcounts, PRIME, syncobjs, the
 * VM_BIND region/mapping model, job ordering); the device provides memory, page tables, channels and
 * fences. The contract follows habit 4 of the style anchors — *validate, then commit or unwind*:
 *
 * - Calls returning a {@link DeviceResult} may fail; a failure changes nothing.
 * - {@link PreparedVaUpdate.commit} runs in the fence-signalling path: it may neither fail nor allocate.
 * - {@link DeviceChannel.submit} returns the job's completion fence at once (the drm_sched `finished`
 *   fence); once it returned `ok` the job will complete (possibly with an error) in bounded time.
 *
 * Nothing here names a firmware-ABI type. `@gspkit/channel-sched`'s `Fence` satisfies {@link DeviceFence}
 * structurally, so core can hand its fences through unchanged.
 *
 * @module
 */

import type { Clock, Errno } from '@gspkit/hal';

/** A successful device call. */
export interface DeviceOk<T> {
	/** Always `true`. */
	readonly ok: true;
	/** What the call produced. */
	readonly value: T;
}

/** A failed device call; nothing was changed. */
export interface DeviceErr {
	/** Always `false`. */
	readonly ok: false;
	/** The errno the ioctl reports. */
	readonly error: Errno;
}

/** The outcome of a device call (the same shape as hal's `Result<T, Errno>`). */
export type DeviceResult<T> = DeviceOk<T> | DeviceErr;

/**
 * A device call that may have to wait (e.g. for GSP-RM to allocate an object): the result, or a promise of
 * it. The promise never rejects; a failure is a {@link DeviceErr}.
 */
export type MaybeAsync<T> = DeviceResult<T> | Promise<DeviceResult<T>>;

/**
 * A dma_fence as the frontend sees it: signals once, never un-signals, an error (if any) is set before it
 * signals.
 */
export interface DeviceFence {
	/** Whether the fence has signalled. */
	readonly signalled: boolean;
	/** The error it signalled with (`undefined` while pending or on success). */
	readonly error: Error | undefined;
	/**
	 * Call `fn` once when the fence signals — synchronously, right away, if it already has. The return
	 * value is ignored.
	 */
	onSignal(fn: (fence: DeviceFence) => void): unknown;
}

/** Where a buffer object lives. */
export type BufferPlacement = 'vram' | 'sysmem';

/** Engines a channel can be created on (nouveau's `NOUVEAU_FIFO_ENGINE_*` selectors). */
export type ChannelEngine = 'gr' | 'ce' | 'nvdec' | 'nvenc' | 'nvjpg';

/** What the device reports about itself (GETPARAM, VERSION and limits come from here). */
export interface DrmDeviceInfo {
	/** PCI vendor id (0x10de). */
	readonly pciVendorId: number;
	/** PCI device id. */
	readonly pciDeviceId: number;
	/** nouveau's chipset number (e.g. 0x172 for GA102). */
	readonly chipset: number;
	/** How the GPU is attached (nouveau's BUS_TYPE). */
	readonly busType: 'agp' | 'pci' | 'pcie' | 'soc';
	/** Usable VRAM in bytes (after what the firmware reserved). */
	readonly vramSize: bigint;
	/** GPU-visible system memory in bytes (GART). */
	readonly gartSize: bigint;
	/** Size of the VRAM BAR (BAR1) in bytes. */
	readonly vramBarSize: bigint;
	/** Graphics units, reported as nouveau's GRAPH_UNITS (`gpcs | tpcs << 8 | rops << 32`). */
	readonly graphUnits: {
		/** Graphics processing clusters. */
		readonly gpcs: number;
		/** Texture processing clusters, over all GPCs. */
		readonly tpcs: number;
		/** Raster operation units. */
		readonly rops: number;
	};
	/** GPFIFO entries per channel ring; EXEC_PUSH_MAX is `floor((entries - 1) / 2) - 1`. */
	readonly gpfifoEntries: number;
	/** Bits of GPU virtual address the VA spaces cover (nouveau's VM_BIND uses 47). */
	readonly vaBits: number;
	/** Engines channels can be created on. */
	readonly engines: readonly ChannelEngine[];
}

/** A buffer object's backing memory. */
export interface DeviceBuffer {
	/** Size in bytes (what was asked, rounded up by the device as it needs). */
	readonly size: bigint;
	/** Where the memory is. */
	readonly placement: BufferPlacement;
	/** Copy `length` bytes at `offset` out of the buffer (CPU read). The range is within `size`. */
	read(offset: bigint, length: number): Uint8Array;
	/** Copy `data` into the buffer at `offset` (CPU write). The range is within `size`. */
	write(offset: bigint, data: Uint8Array): void;
}

/** What {@link DrmDevice.allocBuffer} is asked for. */
export interface BufferRequest {
	/** Size in bytes (a whole number of pages). */
	readonly size: bigint;
	/** Where to place it. */
	readonly placement: BufferPlacement;
	/** Alignment in bytes (a whole number of pages). */
	readonly align: bigint;
}

/** A page-table operation, as the VM_BIND model computed it. Ranges are page-aligned and non-empty. */
export type VaOp =
	| {
			/** Map `range` bytes of `buffer` from `bufferOffset` at `addr` with PTE `kind` (overwrites). */
			readonly op: 'map';
			/** First GPU virtual address. */
			readonly addr: bigint;
			/** Bytes to map. */
			readonly range: bigint;
			/** The backing memory. */
			readonly buffer: DeviceBuffer;
			/** Offset into `buffer` of the first mapped byte. */
			readonly bufferOffset: bigint;
			/** PTE kind (0 = generic memory). */
			readonly kind: number;
	  }
	| {
			/** Remove the mapping of `[addr, addr + range)`; `toSparse` leaves sparse PTEs instead of invalid. */
			readonly op: 'unmap';
			/** First GPU virtual address. */
			readonly addr: bigint;
			/** Bytes to unmap. */
			readonly range: bigint;
			/** The range lies in a sparse region: leave sparse PTEs (reads zero, writes dropped). */
			readonly toSparse: boolean;
	  }
	| {
			/** Make `[addr, addr + range)` sparse (`enable`) or remove the sparse PTEs again (`!enable`). */
			readonly op: 'sparse';
			/** First GPU virtual address of the region. */
			readonly addr: bigint;
			/** Region size. */
			readonly range: bigint;
			/** Create (`true`) or remove (`false`) the sparse PTEs. */
			readonly enable: boolean;
	  };

/** A set of page-table operations whose resources (page tables) are already allocated. */
export interface PreparedVaUpdate {
	/**
	 * Apply the operations, in order. Runs in the fence-signalling path: must not fail, allocate or wait.
	 * Called at most once.
	 */
	commit(): void;
	/** Release what `prepare` allocated without applying anything (the bind job was abandoned). */
	abort(): void;
}

/** A GPU virtual address space. */
export interface DeviceVaSpace {
	/**
	 * Allocate what `ops` need and return them ready to {@link PreparedVaUpdate.commit}. Page tables are
	 * not changed until then. Out of memory is `ENOMEM` (or `ENOSPC` for VRAM-backed page tables).
	 */
	prepare(ops: readonly VaOp[]): DeviceResult<PreparedVaUpdate>;
	/**
	 * When the device is changing this VA space's kernel mappings (a channel being created or destroyed), a
	 * promise that settles once it is done; `undefined` when idle. VM_BIND waits for it instead of failing
	 * (nouveau never returns EBUSY). Optional: devices without such work omit it.
	 */
	whenKernelIdle?(): Promise<void> | undefined;
}

/** What {@link DrmDevice.createVaSpace} is asked for. */
export interface VaSpaceRequest {
	/** Start of the kernel-managed range (the frontend never binds there). */
	readonly kernelManagedAddr: bigint;
	/** Size of the kernel-managed range. */
	readonly kernelManagedSize: bigint;
}

/** One GPFIFO entry of a submission. */
export interface PushEntry {
	/** GPU virtual address of the pushbuffer segment. */
	readonly va: bigint;
	/** Its length in bytes. */
	readonly length: number;
	/** Do not prefetch (nouveau's `NO_PREFETCH`). */
	readonly noPrefetch: boolean;
}

/** What {@link DeviceChannel.submit} is asked to run. */
export interface SubmitRequest {
	/** The GPFIFO entries, in order (may be empty: the job only orders its fence). */
	readonly pushes: readonly PushEntry[];
	/** Fences the job must wait for before its pushes reach the ring. */
	readonly dependencies: readonly DeviceFence[];
}

/** A GPU channel (a GPFIFO ring on one engine, in one VA space). */
export interface DeviceChannel {
	/** The hardware channel id (what nouveau returns as `channel`); unique on the device while alive. */
	readonly id: number;
	/** The channel was killed (timeout, RC error); further submissions are refused with ENODEV. */
	readonly killed: boolean;
	/**
	 * Queue a job and return its completion fence. Jobs on one channel complete in submission order.
	 * Fails (changing nothing) with `ENODEV` on a killed channel, `ENOMEM` when out of resources.
	 */
	submit(request: SubmitRequest): DeviceResult<DeviceFence>;
}

/** What {@link DrmDevice.createChannel} is asked for. */
export interface ChannelRequest {
	/** The VA space the channel runs in. */
	readonly vaSpace: DeviceVaSpace;
	/** The engine to run on (one of {@link DrmDeviceInfo.engines}). */
	readonly engine: ChannelEngine;
}

/** The device API the DRM frontend runs on (apps/drm-driver adapts `@gspkit/core` to it; a fake in the tests). */
export interface DrmDevice {
	/** Identity and limits. */
	readonly info: DrmDeviceInfo;
	/** The device clock: absolute syncobj timeouts and CPU_PREP waits are measured on it. */
	readonly clock: Clock;
	/** The GPU timer in nanoseconds (GETPARAM PTIMER_TIME). */
	ptimerNs(): bigint;
	/** VRAM bytes currently allocated (GETPARAM VRAM_USED). */
	vramUsed(): bigint;
	/** Allocate backing memory. `ENOSPC` when VRAM is exhausted, `ENOMEM` for system memory. */
	allocBuffer(request: BufferRequest): DeviceResult<DeviceBuffer>;
	/** Free backing memory. The frontend calls this exactly once per buffer, after its last reference. */
	freeBuffer(buffer: DeviceBuffer): void;
	/**
	 * Create a VA space. May answer asynchronously (a real device asks GSP-RM to promote it); VM_INIT then
	 * waits.
	 */
	createVaSpace(request: VaSpaceRequest): MaybeAsync<DeviceVaSpace>;
	/**
	 * Destroy a VA space. Its channels were destroyed and its mappings unmapped (committed) first; page
	 * tables may be freed once in-flight work using them has finished.
	 */
	destroyVaSpace(vaSpace: DeviceVaSpace): void;
	/**
	 * Create a channel. `EINVAL` for an engine the GPU does not have; `ENOSPC` when out of channel ids. May
	 * answer asynchronously (GSP-RM allocates the channel); CHANNEL_ALLOC then waits.
	 */
	createChannel(request: ChannelRequest): MaybeAsync<DeviceChannel>;
	/**
	 * Destroy a channel. Jobs still queued or running finish or are cancelled; either way their fences
	 * signal (a cancelled job's with an error).
	 */
	destroyChannel(channel: DeviceChannel): void;
}
