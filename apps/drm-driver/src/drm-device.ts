/**
 * `createDrmDevice(device)`: `@gspkit/core`'s {@link Device} as the DRM frontend's {@link DrmDevice}.
 *
 * It lives in the app because core sits below the frontends (core may not even import the interface's
 * types); the app imports both. The mapping:
 *
 * - **info**: PCI ids, chipset, usable VRAM, BAR1 size, GPCs/TPCs and the engines from core's device info;
 *   channels exist on copy engines only (what core supports), so `engines` is `['ce']`.
 * - **buffers**: core memory (`allocMemory`, VRAM from core's allocator or coherent system memory) with CPU
 *   read/write; VRAM exhausted is ENOSPC, system memory ENOMEM.
 * - **VA spaces**: core VA spaces (page tables promoted to GSP-RM). VM_BIND operations are mmu `prepare`d as
 *   client operations and `commit`ted by the bind job. Core's kernel range must contain RM's reserved
 *   [4 GiB, 4.5 GiB) plus a window for its own channel mappings, so the range the client asks for is widened
 *   to `[min(addr, 4 GiB), max(addr + size, 5 GiB))`; a bind into the widened part is EINVAL.
 * - **channels**: core copy channels; EXEC pushes become GPFIFO segments, in-fences that are not core fences
 *   are bridged, the job's `finished` fence is returned.
 *
 * Core's channels map their rings through the same page tables, whose prepared sets must be committed in
 * order: creating and destroying a channel therefore waits until no VM_BIND set is pending, and VM_BIND is
 * EBUSY while a channel of its VA space is being created. (A VM_BIND that stays pending across a
 * CHANNEL_FREE's RM round trip can still make the ring unmap fail; it is reported through `onError`, and the
 * VA space's destruction frees those page tables anyway.) Destruction is asynchronous (RM calls);
 * {@link CoreDrmDevice.settled} resolves when every teardown has finished.
 *
 * @module
 */

import { totalmem } from 'node:os';
import { FenceContext, Fence as SchedFence } from '@gspkit/channel-sched';
import type {
	DeviceChannel as CoreChannel,
	DeviceVaSpace as CoreVaSpace,
	Device,
	DeviceMemory,
} from '@gspkit/core';
import type {
	BufferRequest,
	ChannelRequest,
	DeviceBuffer,
	DeviceChannel,
	DeviceFence,
	DeviceResult,
	DeviceVaSpace,
	DrmDevice,
	DrmDeviceInfo,
	PreparedVaUpdate,
	SubmitRequest,
	VaOp,
	VaSpaceRequest,
} from '@gspkit/drm-frontend';
import { type Errno, isGspkitError } from '@gspkit/hal';

/** Options of {@link createDrmDevice}. */
export interface DrmDeviceOptions {
	/** GPFIFO entries per channel (power of two; default 512, core's default). */
	readonly gpfifoEntries?: number;
	/** GART size to report (default: the host's memory, which coherent system memory comes from). */
	readonly gartSize?: bigint;
	/** Something went wrong where no errno can be returned (a commit or a teardown failed). */
	readonly onError?: (what: string, error: unknown) => void;
}

/** The adapter: a {@link DrmDevice} plus what the app and tests need to observe it. */
export interface CoreDrmDevice extends DrmDevice {
	/** The core device underneath. */
	readonly core: Device;
	/** Resolves once every asynchronous teardown (channels, VA spaces) started so far has finished. */
	settled(): Promise<void>;
}

/** Start of RM's reserved range and the end of the smallest kernel range core accepts (with its window). */
const RM_START = 4n << 30n;
const KERNEL_MIN_END = 5n << 30n;
/** nouveau's VM_BIND VA space size. */
const NOUVEAU_VA_BITS = 47;

function errnoOf(e: unknown, fallback: Errno): Errno {
	if (isGspkitError(e)) {
		if (e.errno !== undefined) return e.errno as Errno;
		if (e.code === 'CORE_VRAM_EXHAUSTED') return 'ENOSPC';
		if (e.code === 'CORE_DEVICE_LOST' || e.code === 'CORE_CLOSED' || e.code === 'CORE_CHANNEL_KILLED')
			return 'ENODEV';
		if (e.code === 'CORE_BAD_ARGUMENT' || e.code.endsWith('INVALID_ARGUMENT') || e.code.endsWith('_INVALID'))
			return 'EINVAL';
		if (e.code === 'MMU_RANGE_RESERVED' || e.code === 'MMU_NOT_INITIALIZED') return 'EINVAL';
	}
	return fallback;
}

/** Per VA space: the core object, pending prepared sets, channel work in progress. */
class VaSpaceAdapter implements DeviceVaSpace {
	readonly core: CoreVaSpace;
	readonly #buffers: WeakMap<DeviceBuffer, DeviceMemory>;
	readonly #onError: (what: string, error: unknown) => void;
	/** Prepared sets not yet committed or aborted. */
	pending = 0;
	/** Channel creations/destructions touching the kernel mappings right now. */
	kernelBusy = 0;
	/** Channel destructions in flight (the VA space is destroyed after them). */
	readonly teardowns = new Set<Promise<void>>();
	#idleWaiters: (() => void)[] = [];

	constructor(
		core: CoreVaSpace,
		buffers: WeakMap<DeviceBuffer, DeviceMemory>,
		onError: (what: string, error: unknown) => void,
	) {
		this.core = core;
		this.#buffers = buffers;
		this.#onError = onError;
	}

	/** Resolves when no prepared set is pending (kernel mappings may then be changed). */
	whenIdle(): Promise<void> {
		if (this.pending === 0) return Promise.resolve();
		return new Promise((resolve) => this.#idleWaiters.push(resolve));
	}

	#settle(): void {
		this.pending--;
		if (this.pending === 0) {
			const w = this.#idleWaiters;
			this.#idleWaiters = [];
			for (const f of w) f();
		}
	}

	prepare(ops: readonly VaOp[]): DeviceResult<PreparedVaUpdate> {
		if (this.kernelBusy > 0) return { ok: false, error: 'EBUSY' };
		const mmuOps = [];
		for (const op of ops) {
			if (op.op === 'map') {
				const memory = this.#buffers.get(op.buffer);
				if (memory === undefined || memory.freed) return { ok: false, error: 'EINVAL' };
				mmuOps.push({
					op: 'map' as const,
					va: op.addr,
					size: op.range,
					object: memory.backing,
					offset: op.bufferOffset,
					kind: op.kind,
				});
			} else if (op.op === 'unmap') {
				// Inside a sparse region the mmu's canonical tables fall back to sparse entries by themselves.
				mmuOps.push({ op: 'unmap' as const, va: op.addr, size: op.range });
			} else {
				mmuOps.push({
					op: op.enable ? ('map-sparse' as const) : ('unmap-sparse' as const),
					va: op.addr,
					size: op.range,
				});
			}
		}
		const tables = this.core.pageTables;
		let prepared: ReturnType<typeof tables.prepare>;
		try {
			prepared = tables.prepare(mmuOps, { owner: 'client' });
		} catch (e) {
			return { ok: false, error: errnoOf(e, 'ENOMEM') };
		}
		this.pending++;
		let done = false;
		return {
			ok: true,
			value: {
				commit: () => {
					if (done) return;
					done = true;
					try {
						tables.commit(prepared);
					} catch (e) {
						this.#onError('VM_BIND commit', e);
					}
					this.#settle();
				},
				abort: () => {
					if (done) return;
					done = true;
					try {
						tables.release(prepared);
					} catch (e) {
						this.#onError('VM_BIND abort', e);
					}
					this.#settle();
				},
			},
		};
	}
}

/** A core copy channel as the frontend's channel. */
class ChannelAdapter implements DeviceChannel {
	readonly core: CoreChannel;
	readonly vaSpace: VaSpaceAdapter;
	readonly #bridges = new FenceContext('drm-in-fences', { ordered: false });

	constructor(core: CoreChannel, vaSpace: VaSpaceAdapter) {
		this.core = core;
		this.vaSpace = vaSpace;
	}

	get id(): number {
		return this.core.id;
	}

	get killed(): boolean {
		return this.core.killed;
	}

	/** A core (channel-sched) fence for `f`: itself if it is one, else one that signals with it. */
	#fence(f: DeviceFence): SchedFence {
		if (f instanceof SchedFence && f.armed) return f;
		const bridge = this.#bridges.createFence();
		f.onSignal((s) => bridge.signalWith(s.error));
		return bridge;
	}

	submit(request: SubmitRequest): DeviceResult<DeviceFence> {
		if (this.core.killed) return { ok: false, error: 'ENODEV' };
		const pushes = [];
		for (const p of request.pushes) {
			if (p.length % 4 !== 0 || p.length === 0) return { ok: false, error: 'EINVAL' };
			pushes.push({ va: p.va, lengthWords: p.length / 4, sync: p.noPrefetch });
		}
		try {
			const job = this.core.submit(pushes, { dependencies: request.dependencies.map((d) => this.#fence(d)) });
			return { ok: true, value: job.finished };
		} catch (e) {
			if (this.core.killed) return { ok: false, error: 'ENODEV' };
			return { ok: false, error: errnoOf(e, 'ENOMEM') };
		}
	}
}

/**
 * Wrap a core {@link Device} as a {@link DrmDevice} for `@gspkit/drm-frontend` (and the socket server).
 * The core device stays the caller's: close it after the frontend's files are gone and {@link
 * CoreDrmDevice.settled} resolved.
 */
export function createDrmDevice(device: Device, options: DrmDeviceOptions = {}): CoreDrmDevice {
	const onError =
		options.onError ??
		((what: string, error: unknown) => console.error(`gspkit-drm: ${what} failed:`, error));
	const entries = options.gpfifoEntries ?? 512;
	const buffers = new WeakMap<DeviceBuffer, DeviceMemory>();
	const vaSpaces = new WeakMap<DeviceVaSpace, VaSpaceAdapter>();
	const teardowns = new Set<Promise<void>>();
	const track = (p: Promise<void>, set?: Set<Promise<void>>): Promise<void> => {
		const t = p.finally(() => {
			teardowns.delete(t);
			set?.delete(t);
		});
		teardowns.add(t);
		set?.add(t);
		return t;
	};

	const ci = device.info;
	const bar1 = ci.bars.find((b) => b.index === 1);
	const info: DrmDeviceInfo = Object.freeze({
		pciVendorId: ci.pci.vendorId,
		pciDeviceId: ci.pci.deviceId,
		chipset: ci.chip.chipset,
		busType: 'pcie',
		vramSize: ci.vram.usable,
		gartSize: options.gartSize ?? BigInt(totalmem()),
		vramBarSize: bar1?.size ?? 0n,
		// Core does not know the ROP count; 0 says so.
		graphUnits: Object.freeze({ gpcs: ci.gr.gpcCount, tpcs: ci.gr.tpcCount, rops: 0 }),
		gpfifoEntries: entries,
		vaBits: Math.min(NOUVEAU_VA_BITS, ci.mmu.vaBits),
		engines: Object.freeze(ci.engines.some((e) => e.kind === 'ce') ? (['ce'] as const) : ([] as const)),
	});

	const adapter: CoreDrmDevice = {
		core: device,
		info,
		get clock() {
			return device.clock;
		},
		ptimerNs: () => device.clock.now(),
		vramUsed: () => device.vramUsed(),
		settled: async () => {
			while (teardowns.size > 0) await Promise.allSettled([...teardowns]);
		},

		allocBuffer(request: BufferRequest): DeviceResult<DeviceBuffer> {
			let memory: DeviceMemory;
			try {
				memory = device.allocMemory({
					size: request.size,
					placement: request.placement,
					align: request.align,
					label: `gem-${request.placement}`,
				});
			} catch (e) {
				return { ok: false, error: errnoOf(e, request.placement === 'vram' ? 'ENOSPC' : 'ENOMEM') };
			}
			const buffer: DeviceBuffer = {
				size: request.size,
				placement: request.placement,
				read: (offset, length) => memory.read(offset, length),
				write: (offset, data) => memory.write(offset, data),
			};
			buffers.set(buffer, memory);
			return { ok: true, value: buffer };
		},

		freeBuffer(buffer: DeviceBuffer): void {
			buffers.get(buffer)?.free();
			buffers.delete(buffer);
		},

		async createVaSpace(request: VaSpaceRequest): Promise<DeviceResult<DeviceVaSpace>> {
			const start = request.kernelManagedAddr < RM_START ? request.kernelManagedAddr : RM_START;
			const end0 = request.kernelManagedAddr + request.kernelManagedSize;
			const end = end0 > KERNEL_MIN_END ? end0 : KERNEL_MIN_END;
			try {
				const core = await device.createVaSpace({
					kernelRange: { va: start, size: end - start },
					name: 'drm-vm',
				});
				const va = new VaSpaceAdapter(core, buffers, onError);
				vaSpaces.set(va, va);
				return { ok: true, value: va };
			} catch (e) {
				return { ok: false, error: errnoOf(e, 'ENOMEM') };
			}
		},

		destroyVaSpace(vaSpace: DeviceVaSpace): void {
			const va = vaSpaces.get(vaSpace);
			if (va === undefined) return;
			vaSpaces.delete(vaSpace);
			void track(
				(async () => {
					// Channels first (their destruction may still be running), then the page tables.
					while (va.teardowns.size > 0) await Promise.allSettled([...va.teardowns]);
					await va.whenIdle();
					await va.core.destroy();
				})().catch((e: unknown) => onError('VA space teardown', e)),
			);
		},

		async createChannel(request: ChannelRequest): Promise<DeviceResult<DeviceChannel>> {
			if (request.engine !== 'ce' || !info.engines.includes('ce')) return { ok: false, error: 'EINVAL' };
			const va = vaSpaces.get(request.vaSpace);
			if (va === undefined) return { ok: false, error: 'EINVAL' };
			va.kernelBusy++;
			try {
				await va.whenIdle();
				const core = await device.createChannel(va.core, { engine: 'copy', entries, name: 'drm' });
				return { ok: true, value: new ChannelAdapter(core, va) };
			} catch (e) {
				return { ok: false, error: errnoOf(e, 'ENOMEM') };
			} finally {
				va.kernelBusy--;
			}
		},

		destroyChannel(channel: DeviceChannel): void {
			if (!(channel instanceof ChannelAdapter)) return;
			const va = channel.vaSpace;
			void track(
				(async () => {
					// The file's own VM teardown (unmap + commit at once) may run meanwhile; it leaves nothing pending.
					while (va.pending > 0) await va.whenIdle();
					await channel.core.destroy();
				})().catch((e: unknown) => onError('channel teardown', e)),
				va.teardowns,
			);
		},
	};
	return adapter;
}
