/**
 * GPFIFO channels allocated through GSP-RM (hardware reference C.8): the driver allocates and maps the ring,
 * the kernel pushbuffer area and the semaphore, provides the instance block, USERD and method buffer, and asks
 * RM to create the channel object (`NV_CHANNEL_ALLOC_PARAMS`, encoded by the firmware ABI handed in), bind it to
 * its engine (`NVA06F_CTRL_CMD_BIND`), schedule it (`NVA06F_CTRL_CMD_GPFIFO_SCHEDULE`) and tell the
 * work-submit token (`NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN`). RM owns runlists, TSGs and CHRAM.
 *
 * Creation validates, then commits or unwinds everything (style habit 4): a failure at any step frees what the
 * earlier steps made, in reverse order. {@link RmChannel.disable} deschedules a killed channel
 * (`GPFIFO_SCHEDULE` off) so the GPU stops fetching it; {@link RmChannel.destroy} frees the RM objects, the
 * mappings and the memory.
 *
 * This module never imports a concrete ABI package: it declares the narrow structural interfaces it needs
 * ({@link FifoAbi}, {@link CeAbi}) and checks at run time that the ABI handed in provides them.
 *
 * @module
 */

import type { FirmwareAbi } from '@gspkit/abi';
import type { ChipInfo, DmaBuffer, DmaMemory, Platform, VramWindow } from '@gspkit/hal';
import type { VaSpace } from '@gspkit/mmu';
import { GpFifoChannel } from './channel.ts';
import { type GenerationClasses, generationClasses } from './classes.ts';
import { ChannelArgumentError, UnsupportedError } from './errors.ts';
import { bar0Doorbell, PB_VA_BITS, USERD_SIZE } from './gpfifo.ts';
import { dmaRegion, type MemoryRegion, vramWindowRegion } from './memory.ts';
import { noteAllocation } from './signalling.ts';

// ---------------------------------------------------------------------------------------------------------------
// What this module needs from the RPC engine and the ABI (structural)

/** The RM calls a channel needs; `@gspkit/gsp-rpc`'s `RpcEngine` provides them. */
export interface RmCalls {
	/** GSP_RM_ALLOC: create `hObject` of class `hClass` under `hParent`; resolves with the reply params. */
	rmAlloc(
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params?: Uint8Array,
	): Promise<Uint8Array>;
	/** GSP_RM_CONTROL: run `cmd` on `hObject`; resolves with the reply params. */
	rmControl(hClient: number, hObject: number, cmd: number, params?: Uint8Array): Promise<Uint8Array>;
	/** FREE: free `hObject`. */
	rmFree(hClient: number, hParent: number, hObject: number): Promise<void>;
}

/** One RM control as an ABI sub-interface describes it. */
export interface ControlCallLike<R> {
	/** C name of the control. */
	readonly name: string;
	/** Command ID. */
	readonly cmd: number;
	/** Encoded params. */
	readonly params: Uint8Array;
	/** Decode the reply params. */
	decode(reply: Uint8Array): R;
}

/** A memory descriptor of `NV_CHANNEL_ALLOC_PARAMS`. */
export interface RmMemDesc {
	/** Address as RM sees it. */
	readonly base: bigint;
	/** Size in bytes. */
	readonly size: bigint;
	/** `NV_ADDRESS_SPACE`: 1 = system memory, 2 = video memory. */
	readonly addressSpace: number;
	/** 0 = uncached, 1 = cached. */
	readonly cacheAttrib: number;
}

/** The fields of `NV_CHANNEL_ALLOC_PARAMS` this module sets. */
export interface RmChannelAllocInput {
	/** The VA space the channel runs in. */
	readonly hVASpace: number;
	/** GPU VA of the GPFIFO ring. */
	readonly gpFifoOffset: bigint;
	/** Ring entries. */
	readonly gpFifoEntries: number;
	/** NVOS04 flags ({@link FifoAbi.channelFlags}). */
	readonly flags: number;
	/** `NV2080_ENGINE_TYPE_*` of the engine. */
	readonly engineType: number;
	/** The 4 KiB instance block. */
	readonly instanceMem: RmMemDesc;
	/** The channel's USERD. */
	readonly userdMem: RmMemDesc;
	/** RAMFC: the first 512 bytes of the instance block. */
	readonly ramfcMem: RmMemDesc;
	/** The CE fault method buffer. */
	readonly mthdbufMem: RmMemDesc;
	/** `NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS` ({@link FifoAbi.internalFlags}). */
	readonly internalFlags: number;
}

/** The `fifo` sub-interface members this module uses (every gspkit ABI package provides them). */
export interface FifoAbi {
	/** `NV_CHANNEL_ALLOC_PARAMS` bytes in this branch's layout. */
	encodeChannelAlloc(p: RmChannelAllocInput): Uint8Array;
	/** NVOS04 flags for a physical channel. */
	channelFlags(p: {
		readonly runqueue: number;
		readonly privileged: boolean;
		readonly userdIndex: number;
		readonly userdIndexPage: number;
	}): number;
	/** Privilege and no error notifiers. */
	internalFlags(p: { readonly privilege: 'user' | 'admin' | 'kernel' }): number;
	/** `NVA06F_CTRL_CMD_BIND`. */
	bind(engineType: number): ControlCallLike<void>;
	/** `NVA06F_CTRL_CMD_GPFIFO_SCHEDULE`. */
	schedule(enable: boolean): ControlCallLike<void>;
	/** Engine → `NV2080_ENGINE_TYPE_*`. */
	nv2080EngineType(engine: { readonly kind: 'ce'; readonly instance: number }): number;
	/** Optional until the ABI packages carry it; {@link workSubmitTokenControl} is the fallback. */
	workSubmitToken?(): ControlCallLike<number>;
}

/** The `ce` sub-interface members this module uses. */
export interface CeAbi {
	/** `NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE` (on the subdevice). */
	faultMethodBufferSize(): ControlCallLike<number>;
	/** `NVC0B5_ALLOCATION_PARAMETERS` for CE `instance`. */
	allocParams(instance: number): Uint8Array;
}

function hasFunctions(o: unknown, names: readonly string[]): boolean {
	return (
		typeof o === 'object' &&
		o !== null &&
		names.every((n) => typeof (o as Record<string, unknown>)[n] === 'function')
	);
}

/** The ABI's `fifo` sub-interface, checked. Throws `CHSCHED_UNSUPPORTED` if it lacks what channels need. */
export function fifoAbiOf(abi: FirmwareAbi): FifoAbi {
	const fifo = abi.subInterfaces.fifo;
	const need = [
		'encodeChannelAlloc',
		'channelFlags',
		'internalFlags',
		'bind',
		'schedule',
		'nv2080EngineType',
	];
	if (!hasFunctions(fifo, need)) {
		throw new UnsupportedError(`firmware ABI ${abi.version} has no usable fifo sub-interface`, { need });
	}
	return fifo as FifoAbi;
}

/** The ABI's `ce` sub-interface, checked. */
export function ceAbiOf(abi: FirmwareAbi): CeAbi {
	const ce = abi.subInterfaces.ce;
	if (!hasFunctions(ce, ['faultMethodBufferSize', 'allocParams'])) {
		throw new UnsupportedError(`firmware ABI ${abi.version} has no usable ce sub-interface`);
	}
	return ce as CeAbi;
}

/** `NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN` (class control of VOLTA_CHANNEL_GPFIFO_A and later). */
export const NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN = 0xc36f0108;

/**
 * The work-submit-token control, for ABIs that do not describe it yet. Its params are one `NvU32
 * workSubmitToken` (out), the same in every branch (`NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS`);
 * it is sent as 0xffffffff so a reply that did not fill it is caught.
 */
export function workSubmitTokenControl(): ControlCallLike<number> {
	const params = new Uint8Array(4);
	new DataView(params.buffer).setUint32(0, 0xffffffff, true);
	return {
		name: 'NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN',
		cmd: NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN,
		params,
		decode(reply) {
			if (reply.length < 4) {
				throw new ChannelArgumentError('short GET_WORK_SUBMIT_TOKEN reply', { bytes: reply.length });
			}
			return new DataView(reply.buffer, reply.byteOffset, reply.length).getUint32(0, true);
		},
	};
}

// ---------------------------------------------------------------------------------------------------------------
// Memory the channel needs

/** A block of channel memory as RM sees it. */
export interface ChannelMemoryBlock {
	/** Address as RM sees it: bus address for system memory, FB offset for video memory. */
	readonly address: bigint;
	/** Size in bytes. */
	readonly size: number;
	/** `NV_ADDRESS_SPACE`: 1 = system memory, 2 = video memory. */
	readonly addressSpace: 1 | 2;
	/** 0 = uncached, 1 = cached. */
	readonly cacheAttrib: 0 | 1;
	/** CPU view (required for USERD). */
	readonly cpu: MemoryRegion;
	/** Give the memory back. */
	free(): void;
}

/** What a channel's instance block, USERD and method buffer are allocated from. */
export interface ChannelMemoryProvider {
	/** Allocate `size` bytes aligned to `align` for `purpose`. */
	alloc(purpose: 'instance' | 'userd' | 'mthdbuf', size: number, align: number): ChannelMemoryBlock;
}

/**
 * Channel memory in coherent system memory (`NV_ADDRESS_SPACE` 1), for a driver without a VRAM heap. The
 * reference (C.8) places the instance block and USERD in video memory: {@link vramChannelMemory}.
 */
export function dmaChannelMemory(dma: DmaMemory): ChannelMemoryProvider {
	return {
		alloc(purpose, size, align) {
			noteAllocation(`channel ${purpose}`);
			const buf = dma.alloc(size, { align: Math.max(align, 4096), label: `channel ${purpose}` });
			return {
				address: buf.busAddress,
				size,
				addressSpace: 1,
				cacheAttrib: purpose === 'mthdbuf' ? 0 : 1,
				cpu: dmaRegion(buf, 0, size),
				free: () => dma.free(buf),
			};
		},
	};
}

/** The FB heap {@link vramChannelMemory} takes blocks from (core's VRAM allocator). */
export interface VramBlockAllocator {
	/** Allocate `size` bytes of VRAM aligned to `align` (a power of two ≥ 4 KiB); returns the FB offset. */
	alloc(size: number, align: number, label: string): bigint;
	/** Give back a block {@link VramBlockAllocator.alloc} returned. */
	free(offset: bigint): void;
}

/** Options of {@link vramChannelMemory}. */
export interface VramChannelMemoryOptions {
	/** Where the instance block and USERD come from. */
	readonly vram: VramBlockAllocator;
	/**
	 * CPU access to VRAM (USERD carries GP_PUT/GP_GET): a BAR window that maps FB offsets one to one, as
	 * `gpu-sim`'s BAR1 does. A block beyond the window's end goes to system memory instead.
	 */
	readonly window: VramWindow;
	/** System memory for the method buffer (and for blocks the window cannot reach). */
	readonly dma: DmaMemory;
}

/**
 * Channel memory placed as the reference (C.8) and nouveau's r535 path place it: the instance block (with
 * RAMFC) and USERD in video memory (`NV_ADDRESS_SPACE` 2, cached), zeroed through the BAR window; the CE fault
 * method buffer in system memory (address space 1, uncached). A VRAM block the window cannot reach falls back
 * to system memory (RM accepts either; the descriptor says which).
 */
export function vramChannelMemory(options: VramChannelMemoryOptions): ChannelMemoryProvider {
	const sysmem = dmaChannelMemory(options.dma);
	const { vram, window } = options;
	return {
		alloc(purpose, size, align) {
			if (purpose === 'mthdbuf') return sysmem.alloc(purpose, size, align);
			noteAllocation(`channel ${purpose}`);
			const bytes = roundPage(size);
			const offset = vram.alloc(bytes, Math.max(align, 4096), `channel ${purpose}`);
			if (offset + BigInt(bytes) > window.size) {
				vram.free(offset);
				return sysmem.alloc(purpose, size, align);
			}
			try {
				window.write(offset, new Uint8Array(bytes));
				return {
					address: offset,
					size,
					addressSpace: 2,
					cacheAttrib: 1,
					cpu: vramWindowRegion(window, offset, size),
					free: () => vram.free(offset),
				};
			} catch (e) {
				vram.free(offset);
				throw e;
			}
		},
	};
}

/** The kernel part of a GPU VA space, as the channel needs it. */
export interface GpuVaSpace {
	/** RM handle of the VA space object (`hVASpace`). */
	readonly rmHandle: number;
	/** Map all of `buffer` (coherent system memory) somewhere in the kernel range; returns its GPU VA. */
	mapKernel(buffer: DmaBuffer): bigint;
	/** Undo {@link GpuVaSpace.mapKernel}. */
	unmapKernel(va: bigint, size: number): void;
}

/**
 * A {@link GpuVaSpace} over an `@gspkit/mmu` VA space: first-fit placement in `range` (4 KiB granules), mapped
 * and unmapped with `apply` as kernel operations.
 */
export function mmuKernelVaSpace(
	vas: Pick<VaSpace, 'apply'>,
	options: { readonly rmHandle: number; readonly range: { readonly va: bigint; readonly size: bigint } },
): GpuVaSpace {
	const { va: base, size: total } = options.range;
	if (base % 4096n !== 0n || total % 4096n !== 0n || total <= 0n) {
		throw new ChannelArgumentError('kernel VA range must be 4 KiB aligned and non-empty');
	}
	const used: { va: bigint; size: bigint }[] = [];
	return {
		rmHandle: options.rmHandle,
		mapKernel(buffer) {
			const size = BigInt(buffer.size + ((4096 - (buffer.size % 4096)) % 4096));
			let va = base;
			for (const u of [...used].sort((a, b) => (a.va < b.va ? -1 : 1))) {
				if (va + size <= u.va) break;
				if (u.va + u.size > va) va = u.va + u.size;
			}
			if (va + size > base + total) {
				throw new ChannelArgumentError('kernel VA range is full', { size: String(size) });
			}
			vas.apply(
				[
					{
						op: 'map',
						va,
						size,
						object: {
							handle: buffer.label,
							aperture: 'sysCoherent',
							extents: [{ address: buffer.busAddress, size }],
						},
					},
				],
				{ owner: 'kernel' },
			);
			used.push({ va, size });
			return va;
		},
		unmapKernel(va, size) {
			const i = used.findIndex((u) => u.va === va);
			if (i < 0) throw new ChannelArgumentError(`0x${va.toString(16)} is not a kernel mapping`);
			const bytes = BigInt(size + ((4096 - (size % 4096)) % 4096));
			vas.apply([{ op: 'unmap', va, size: bytes }], { owner: 'kernel' });
			used.splice(i, 1);
		},
	};
}

// ---------------------------------------------------------------------------------------------------------------
// The RM-backed channel

/** Options of {@link createRmChannel}. */
export interface RmChannelOptions {
	/** The RPC engine (or anything with rmAlloc/rmControl/rmFree). */
	readonly rm: RmCalls;
	/** The firmware ABI of the booted GSP-RM. */
	readonly abi: FirmwareAbi;
	/** The chip (selects the host, copy and usermode classes and the doorbell). */
	readonly chip: Pick<ChipInfo, 'architecture' | 'chipset'>;
	/** BAR0 (doorbell) and DMA memory (ring, kernel pushbuffer, semaphore). */
	readonly platform: Pick<Platform, 'bar0' | 'dma'>;
	/** The RM client. */
	readonly hClient: number;
	/** Parent of the channel object (the device). */
	readonly hDevice: number;
	/** The subdevice (for the method-buffer size query). */
	readonly hSubdevice: number;
	/** RM handle for the channel object (nouveau: `0xf1f00000 | chid`). */
	readonly hChannel: number;
	/** RM handle for the copy-engine object on the channel; omit to allocate none. */
	readonly hCopy?: number;
	/** The VA space (its RM handle and kernel mappings). */
	readonly vaSpace: GpuVaSpace;
	/** Instance block / USERD / method buffer memory; default DMA (system) memory. */
	readonly memory?: ChannelMemoryProvider;
	/** Copy engine instance the channel runs on; default 0. */
	readonly ceInstance?: number;
	/** GPFIFO entries (power of two); default 512. */
	readonly entries?: number;
	/** Kernel-push slot size in words; default 64. */
	readonly slotWords?: number;
	/** Privileged (kernel) channel; default true. */
	readonly privileged?: boolean;
	/** Runqueue (`GROUP_CHANNEL_RUNQUEUE`); default 0. */
	readonly runqueue?: number;
	/** Method buffer size; default: ask RM (`CE_GET_FAULT_METHOD_BUFFER_SIZE`). */
	readonly methodBufferSize?: number;
	/** Name for diagnostics. */
	readonly name?: string;
}

type Undo = () => void | Promise<void>;

async function unwind(undo: Undo[]): Promise<unknown[]> {
	const errors: unknown[] = [];
	while (undo.length > 0) {
		const step = undo.pop() as Undo;
		try {
			await step();
		} catch (e) {
			errors.push(e);
		}
	}
	return errors;
}

/** A channel created through RM, with its CPU side ({@link RmChannel.channel}). */
export class RmChannel {
	/** The CPU side: ring, USERD, doorbell, kernel push, semaphore timeline. */
	readonly channel: GpFifoChannel;
	/** The classes used (host, copy, usermode) and the doorbell. */
	readonly classes: GenerationClasses;
	/** RM handle of the channel object. */
	readonly hChannel: number;
	/** RM handle of the copy object, if one was allocated. */
	readonly hCopy: number | undefined;
	/** The work-submit token RM returned. */
	readonly workSubmitToken: number;
	/** GPU VAs of the ring, kernel-push area and semaphore. */
	readonly vas: { readonly ring: bigint; readonly kernelPush: bigint; readonly semaphore: bigint };
	readonly #undo: Undo[];
	readonly #deschedule: () => Promise<void>;
	#destroyed = false;
	#scheduled = true;
	#disabling: Promise<void> | undefined;

	/** @internal use {@link createRmChannel}. */
	constructor(
		channel: GpFifoChannel,
		classes: GenerationClasses,
		handles: { hChannel: number; hCopy: number | undefined },
		workSubmitToken: number,
		vas: RmChannel['vas'],
		undo: Undo[],
		deschedule: () => Promise<void>,
	) {
		this.channel = channel;
		this.classes = classes;
		this.hChannel = handles.hChannel;
		this.hCopy = handles.hCopy;
		this.workSubmitToken = workSubmitToken;
		this.vas = vas;
		this.#undo = undo;
		this.#deschedule = deschedule;
	}

	/** Whether {@link RmChannel.destroy} ran. */
	get destroyed(): boolean {
		return this.#destroyed;
	}

	/**
	 * Whether RM may still schedule the channel: `true` from creation until RM acknowledged
	 * {@link RmChannel.disable} (or the channel was destroyed).
	 */
	get scheduled(): boolean {
		return this.#scheduled && !this.#destroyed;
	}

	/** The disable {@link RmChannel.disable} started (settled or in flight); `undefined` if none was asked for. */
	get disabling(): Promise<void> | undefined {
		return this.#disabling;
	}

	/**
	 * Stop the GPU from running the channel: `NVA06F_CTRL_CMD_GPFIFO_SCHEDULE` with `bEnable` = 0, so the host
	 * fetches no more of its GPFIFO (a killed channel's queued work must never execute). Killing only the CPU
	 * side fails the fences but leaves the hardware free to run the jobs later.
	 *
	 * Safe from a kill path: the RM call starts on a later microtask (outside the fence-signalling section),
	 * and the promise only reports the outcome. Idempotent (every call returns the first call's promise). After
	 * {@link RmChannel.destroy} began it does nothing (freeing the channel in RM deschedules it), and
	 * `destroy` waits for a disable in flight before it frees the channel, so the control never reaches a
	 * freed (or reused) handle.
	 */
	disable(): Promise<void> {
		if (this.#disabling !== undefined) return this.#disabling;
		if (this.#destroyed) {
			this.#disabling = Promise.resolve();
			return this.#disabling;
		}
		this.#disabling = Promise.resolve().then(async () => {
			if (this.#destroyed) return;
			await this.#deschedule();
			this.#scheduled = false;
		});
		return this.#disabling;
	}

	/**
	 * Free everything: the copy object and the channel in RM, the mappings, the memory. Kills the CPU side first
	 * (pending fences fail with `error`) and lets a {@link RmChannel.disable} in flight finish. Idempotent.
	 * Rejects with the first failure after trying every step.
	 */
	async destroy(error: Error = new Error('channel destroyed')): Promise<void> {
		if (this.#destroyed) return;
		this.#destroyed = true;
		this.channel.kill(error);
		// Its outcome is the disabler's business; only the ordering matters here.
		await this.#disabling?.catch(() => undefined);
		const errors = await unwind(this.#undo);
		if (errors.length > 0) throw errors[0];
	}
}

function roundPage(n: number): number {
	return Math.ceil(n / 4096) * 4096;
}

/**
 * Create a channel through RM. Order: allocate and map the ring, kernel-push area and semaphore; allocate the
 * instance block, USERD and method buffer; RM_ALLOC the generation's channel class; BIND; GPFIFO_SCHEDULE;
 * GET_WORK_SUBMIT_TOKEN; RM_ALLOC the copy class on it (if `hCopy`). Any failure unwinds what was done.
 */
export async function createRmChannel(options: RmChannelOptions): Promise<RmChannel> {
	const classes = generationClasses(options.chip);
	const fifo = fifoAbiOf(options.abi);
	const ce = ceAbiOf(options.abi);
	const entries = options.entries ?? 512;
	const slotWords = options.slotWords ?? 64;
	if (!Number.isInteger(entries) || entries < 2 || (entries & (entries - 1)) !== 0) {
		throw new ChannelArgumentError('GPFIFO entries must be a power of two ≥ 2', { entries });
	}
	const { rm, hClient } = options;
	const dma = options.platform.dma;
	const memory = options.memory ?? dmaChannelMemory(dma);
	const ceInstance = options.ceInstance ?? 0;
	const privileged = options.privileged ?? true;
	const undo: Undo[] = [];
	try {
		const dmaAlloc = (size: number, label: string): DmaBuffer => {
			noteAllocation(label);
			const buf = dma.alloc(roundPage(size), { align: 4096, label });
			undo.push(() => dma.free(buf));
			return buf;
		};
		const mapped = (buf: DmaBuffer): bigint => {
			const va = options.vaSpace.mapKernel(buf);
			undo.push(() => options.vaSpace.unmapKernel(va, buf.size));
			if (va + BigInt(buf.size) > 1n << BigInt(PB_VA_BITS)) {
				throw new ChannelArgumentError('channel memory must be mapped below the 40-bit pushbuffer VA limit', {
					va: `0x${va.toString(16)}`,
				});
			}
			return va;
		};
		const ringBuf = dmaAlloc(entries * 8, 'gpfifo ring');
		const kpBuf = dmaAlloc(entries * slotWords * 4, 'kernel push');
		const semBuf = dmaAlloc(4096, 'channel semaphore');
		const ringVa = mapped(ringBuf);
		const kpVa = mapped(kpBuf);
		const semVa = mapped(semBuf);

		const block = (purpose: 'instance' | 'userd' | 'mthdbuf', size: number, align: number) => {
			const b = memory.alloc(purpose, size, align);
			undo.push(() => b.free());
			return b;
		};
		const inst = block('instance', 4096, 4096);
		const userd = block('userd', USERD_SIZE, USERD_SIZE);
		const mthdSize =
			options.methodBufferSize ??
			(await (async () => {
				const call = ce.faultMethodBufferSize();
				return call.decode(await rm.rmControl(hClient, options.hSubdevice, call.cmd, call.params));
			})());
		if (!Number.isInteger(mthdSize) || mthdSize <= 0) {
			throw new ChannelArgumentError('bad method buffer size', { mthdSize });
		}
		const mthd = block('mthdbuf', mthdSize, 4096);
		const desc = (b: ChannelMemoryBlock, size = b.size): RmMemDesc => ({
			base: b.address,
			size: BigInt(size),
			addressSpace: b.addressSpace,
			cacheAttrib: b.cacheAttrib,
		});
		const engineType = fifo.nv2080EngineType({ kind: 'ce', instance: ceInstance });
		const params = fifo.encodeChannelAlloc({
			hVASpace: options.vaSpace.rmHandle,
			gpFifoOffset: ringVa,
			gpFifoEntries: entries,
			flags: fifo.channelFlags({
				runqueue: options.runqueue ?? 0,
				privileged,
				userdIndex: 0,
				userdIndexPage: 0,
			}),
			engineType,
			instanceMem: desc(inst, 0x1000),
			userdMem: desc(userd, USERD_SIZE),
			ramfcMem: desc(inst, 0x200),
			mthdbufMem: desc(mthd),
			internalFlags: fifo.internalFlags({ privilege: privileged ? 'admin' : 'user' }),
		});
		await rm.rmAlloc(hClient, options.hDevice, options.hChannel, classes.host.id, params);
		undo.push(() => rm.rmFree(hClient, options.hDevice, options.hChannel));

		const control = async <R>(call: ControlCallLike<R>): Promise<R> =>
			call.decode(await rm.rmControl(hClient, options.hChannel, call.cmd, call.params));
		await control(fifo.bind(engineType));
		await control(fifo.schedule(true));
		const token = await control(fifo.workSubmitToken?.() ?? workSubmitTokenControl());
		if (token === 0xffffffff) throw new ChannelArgumentError('RM did not return a work-submit token');

		if (options.hCopy !== undefined) {
			await rm.rmAlloc(hClient, options.hChannel, options.hCopy, classes.copy.id, ce.allocParams(ceInstance));
			const hCopy = options.hCopy;
			undo.push(() => rm.rmFree(hClient, options.hChannel, hCopy));
		}

		const channel = new GpFifoChannel({
			name: options.name ?? `ch${(options.hChannel & 0xffff).toString()}`,
			host: classes.host,
			ring: dmaRegion(ringBuf, 0, entries * 8),
			entries,
			userd: userd.cpu,
			doorbell: bar0Doorbell(options.platform.bar0, classes.doorbellOffset),
			workSubmitToken: token,
			kernelPush: { cpu: dmaRegion(kpBuf, 0, entries * slotWords * 4), va: kpVa },
			slotWords,
			semaphore: { cpu: dmaRegion(semBuf, 0, 16), va: semVa },
		});
		return new RmChannel(
			channel,
			classes,
			{ hChannel: options.hChannel, hCopy: options.hCopy },
			token,
			{ ring: ringVa, kernelPush: kpVa, semaphore: semVa },
			undo,
			() => control(fifo.schedule(false)),
		);
	} catch (e) {
		await unwind(undo);
		throw e;
	}
}
