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
 * - **VA spaces**: core VA spaces promoted as *externally owned*, as nouveau promotes every user VMM
 *   (`r535_mmu_promote_vmm`): RM is told only the root directory and reserves nothing, so the client's layout
 *   is used as it is — the kernel-managed range of VM_INIT (NVK: `{1 << 39, 1 << 39}`) is core's kernel window
 *   for channel rings and pushbuffers, and everything outside it can be bound. A range with no room below the
 *   40-bit pushbuffer limit (VM_INIT `{0, 0}`) leaves CHANNEL_ALLOC with ENOSPC, as nouveau's empty NVKM area
 *   does. VM_BIND operations are mmu `prepare`d as client operations and `commit`ted by the bind job.
 * - **channels**: core copy channels; EXEC pushes become GPFIFO segments, in-fences that are not core fences
 *   are bridged, the job's `finished` fence is returned.
 *
 * Core's channels map their rings through the same page tables, whose prepared sets must be committed in
 * order: creating and destroying a channel waits until no VM_BIND set is pending, and while it changes its
 * kernel mappings VM_BIND waits for it ({@link VaSpaceAdapter.whenKernelIdle}, which the frontend awaits
 * before it validates and prepares a bind) and then proceeds. Destruction is asynchronous (RM calls);
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
	/** Channel creations/destructions that will change (or are changing) the kernel mappings. */
	#kernelBusy = 0;
	/** Channel destructions in flight (the VA space is destroyed after them). */
	readonly teardowns = new Set<Promise<void>>();
	#idleWaiters: (() => void)[] = [];
	#kernelWaiters: (() => void)[] = [];

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

	/**
	 * `undefined` when {@link VaSpaceAdapter.prepare} may run now; otherwise a promise that resolves once no
	 * channel of this VA space is being created or destroyed (ask again then: another may have started). The
	 * frontend's VM_BIND awaits this before it validates and prepares, so a bind queued behind CHANNEL_ALLOC
	 * waits instead of failing.
	 */
	whenKernelIdle(): Promise<void> | undefined {
		if (this.#kernelBusy === 0) return undefined;
		return new Promise((resolve) => this.#kernelWaiters.push(resolve));
	}

	/** Run `work` (which changes kernel mappings) once no prepared set is pending; VM_BIND waits meanwhile. */
	async kernelWork<T>(work: () => Promise<T>): Promise<T> {
		this.#kernelBusy++;
		try {
			while (this.pending > 0) await this.whenIdle();
			return await work();
		} finally {
			this.#kernelBusy--;
			if (this.#kernelBusy === 0) {
				const w = this.#kernelWaiters;
				this.#kernelWaiters = [];
				for (const f of w) f();
			}
		}
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
		// While a channel changes kernel mappings no set may stay pending across its RM calls. VM_BIND waits for
		// whenKernelIdle() first; the only caller that does not — a closed file's VM teardown — commits at once.
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
			try {
				// The client's split as it is: RM reserves nothing in an externally owned VA space.
				const core = await device.createVaSpace({
					kernelRange: { va: request.kernelManagedAddr, size: request.kernelManagedSize },
					externallyOwned: true,
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
			try {
				const core = await va.kernelWork(() =>
					device.createChannel(va.core, { engine: 'copy', entries, name: 'drm' }),
				);
				return { ok: true, value: new ChannelAdapter(core, va) };
			} catch (e) {
				return { ok: false, error: errnoOf(e, 'ENOMEM') };
			}
		},

		destroyChannel(channel: DeviceChannel): void {
			if (!(channel instanceof ChannelAdapter)) return;
			const va = channel.vaSpace;
			void track(
				// The ring unmaps follow RM's free: VM_BIND waits until they are done, so no set is pending then.
				va.kernelWork(() => channel.core.destroy()).catch((e: unknown) => onError('channel teardown', e)),
				va.teardowns,
			);
		},
	};
	return adapter;
}
