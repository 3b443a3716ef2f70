/**
 * `FakeDrmDevice`: a small in-memory {@link DrmDevice} for the frontend's tests.
 *
 * Memory is byte arrays with capacity accounting (VRAM exhaustion → ENOSPC, system memory → ENOMEM);
 * double frees throw. VA spaces keep a page → PTE map that commits apply, and check that every op they are
 * asked to prepare is page-aligned, non-empty and outside the kernel-managed range. Channels queue jobs;
 * jobs complete only when the test says so ({@link FakeDrmDevice.drain}, {@link FakeChannel.completeNext})
 * and only after their dependencies signalled, so every GPU-timing question in a test is explicit. Its
 * fences are its own minimal class, so the frontend is exercised purely through the {@link DeviceFence}
 * interface.
 */

import { type Errno, VirtualClock } from '@gspkit/hal';
import type {
	BufferPlacement,
	BufferRequest,
	ChannelEngine,
	ChannelRequest,
	DeviceBuffer,
	DeviceChannel,
	DeviceFence,
	DeviceResult,
	DeviceVaSpace,
	DrmDevice,
	DrmDeviceInfo,
	PreparedVaUpdate,
	PushEntry,
	SubmitRequest,
	VaOp,
	VaSpaceRequest,
} from '../device-api.ts';

const ok = <T>(value: T): DeviceResult<T> => ({ ok: true, value });
const err = <T>(error: Errno): DeviceResult<T> => ({ ok: false, error });

/** A fence of the fake device. */
export class FakeFence implements DeviceFence {
	#signalled = false;
	#error: Error | undefined;
	#cbs: ((f: DeviceFence) => void)[] = [];
	/** Diagnostics label. */
	readonly label: string;
	constructor(label: string) {
		this.label = label;
	}
	get signalled(): boolean {
		return this.#signalled;
	}
	get error(): Error | undefined {
		return this.#error;
	}
	signal(error?: Error): void {
		if (this.#signalled) throw new Error(`fake fence ${this.label} signalled twice`);
		this.#error = error;
		this.#signalled = true;
		const cbs = this.#cbs;
		this.#cbs = [];
		for (const cb of cbs) cb(this);
	}
	onSignal(fn: (f: DeviceFence) => void): void {
		if (this.#signalled) fn(this);
		else this.#cbs.push(fn);
	}
}

/** A buffer of the fake device. */
export class FakeBuffer implements DeviceBuffer {
	readonly size: bigint;
	readonly placement: BufferPlacement;
	readonly bytes: Uint8Array;
	/** Allocation serial (diagnostics). */
	readonly serial: number;
	constructor(size: bigint, placement: BufferPlacement, serial: number) {
		this.size = size;
		this.placement = placement;
		this.bytes = new Uint8Array(Number(size));
		this.serial = serial;
	}
	read(offset: bigint, length: number): Uint8Array {
		const o = Number(offset);
		if (o < 0 || o + length > this.bytes.length) throw new Error('FakeBuffer.read out of range');
		return this.bytes.slice(o, o + length);
	}
	write(offset: bigint, data: Uint8Array): void {
		const o = Number(offset);
		if (o < 0 || o + data.length > this.bytes.length) throw new Error('FakeBuffer.write out of range');
		this.bytes.set(data, o);
	}
}

/** What one page of a fake VA space holds. */
export type FakePte =
	| { readonly buffer: FakeBuffer; readonly offset: bigint; readonly kind: number }
	| 'sparse';

const PAGE = 4096n;

/** A VA space of the fake device: a page map updated by commits. */
export class FakeVaSpace implements DeviceVaSpace {
	readonly kernelAddr: bigint;
	readonly kernelSize: bigint;
	/** page address → PTE (absent = invalid). */
	readonly ptes = new Map<bigint, FakePte>();
	/** Set to make the next prepare fail with this errno. */
	failNextPrepare: Errno | undefined;
	prepared = 0;
	committed = 0;
	aborted = 0;
	destroyed = false;
	constructor(req: VaSpaceRequest) {
		this.kernelAddr = req.kernelManagedAddr;
		this.kernelSize = req.kernelManagedSize;
	}

	#check(op: VaOp): void {
		if (op.addr % PAGE !== 0n || op.range % PAGE !== 0n || op.range <= 0n) {
			throw new Error(`fake VA: unaligned or empty ${op.op} ${op.addr}+${op.range}`);
		}
		const end = op.addr + op.range;
		const kEnd = this.kernelAddr + this.kernelSize;
		if (this.kernelSize > 0n && op.addr < kEnd && this.kernelAddr < end) {
			throw new Error(`fake VA: ${op.op} inside the kernel-managed range`);
		}
		if (op.op === 'map' && (op.bufferOffset % PAGE !== 0n || op.bufferOffset + op.range > op.buffer.size)) {
			throw new Error('fake VA: map beyond its buffer');
		}
	}

	prepare(ops: readonly VaOp[]): DeviceResult<PreparedVaUpdate> {
		if (this.destroyed) throw new Error('fake VA: prepare on a destroyed VA space');
		for (const op of ops) this.#check(op);
		if (this.failNextPrepare !== undefined) {
			const e = this.failNextPrepare;
			this.failNextPrepare = undefined;
			return err(e);
		}
		this.prepared++;
		let state: 'prepared' | 'committed' | 'aborted' = 'prepared';
		const snapshot = ops.slice();
		return ok({
			commit: () => {
				if (state !== 'prepared') throw new Error(`fake VA: commit after ${state}`);
				state = 'committed';
				this.committed++;
				for (const op of snapshot) this.#apply(op);
			},
			abort: () => {
				if (state !== 'prepared') throw new Error(`fake VA: abort after ${state}`);
				state = 'aborted';
				this.aborted++;
			},
		});
	}

	#apply(op: VaOp): void {
		for (let a = op.addr; a < op.addr + op.range; a += PAGE) {
			switch (op.op) {
				case 'map':
					this.ptes.set(a, {
						buffer: op.buffer as FakeBuffer,
						offset: op.bufferOffset + (a - op.addr),
						kind: op.kind,
					});
					break;
				case 'unmap':
					if (op.toSparse) this.ptes.set(a, 'sparse');
					else this.ptes.delete(a);
					break;
				case 'sparse':
					if (op.enable) this.ptes.set(a, 'sparse');
					else this.ptes.delete(a);
					break;
			}
		}
	}

	/** The PTE of the page containing `addr`. */
	pte(addr: bigint): FakePte | undefined {
		return this.ptes.get(addr - (addr % PAGE));
	}
}

/** A queued job of a fake channel. */
export interface FakeJob {
	readonly pushes: readonly PushEntry[];
	readonly dependencies: readonly DeviceFence[];
	readonly fence: FakeFence;
}

/** A channel of the fake device. */
export class FakeChannel implements DeviceChannel {
	readonly id: number;
	readonly engine: ChannelEngine;
	readonly vaSpace: FakeVaSpace;
	killed = false;
	destroyed = false;
	/** Jobs not completed yet, in order. */
	readonly queue: FakeJob[] = [];
	/** Every job ever submitted. */
	readonly submitted: FakeJob[] = [];
	#seq = 0;
	constructor(id: number, engine: ChannelEngine, vaSpace: FakeVaSpace) {
		this.id = id;
		this.engine = engine;
		this.vaSpace = vaSpace;
	}
	submit(req: SubmitRequest): DeviceResult<DeviceFence> {
		if (this.destroyed) throw new Error('fake channel: submit after destroy');
		if (this.killed) return err('ENODEV');
		const job: FakeJob = {
			pushes: req.pushes.slice(),
			dependencies: req.dependencies.slice(),
			fence: new FakeFence(`ch${this.id}#${++this.#seq}`),
		};
		this.queue.push(job);
		this.submitted.push(job);
		return ok(job.fence);
	}
	/** Complete the oldest job if its dependencies signalled; returns whether one completed. */
	completeNext(): boolean {
		const job = this.queue[0];
		if (job === undefined || !job.dependencies.every((d) => d.signalled)) return false;
		this.queue.shift();
		job.fence.signal();
		return true;
	}
	/** Kill the channel (an RC error): pending jobs fail, later submissions get ENODEV. */
	kill(): void {
		this.killed = true;
		this.#cancelAll(new Error('channel killed'));
	}
	/** @internal */
	cancelAll(): void {
		this.#cancelAll(new Error('channel destroyed'));
	}
	#cancelAll(e: Error): void {
		for (const job of this.queue.splice(0)) job.fence.signal(e);
	}
}

/** Options of {@link FakeDrmDevice}. */
export interface FakeDeviceOptions {
	readonly vramSize?: bigint;
	readonly sysmemSize?: bigint;
	readonly gpfifoEntries?: number;
	readonly maxChannels?: number;
	readonly engines?: readonly ChannelEngine[];
	readonly clock?: VirtualClock;
}

/** The fake device. */
export class FakeDrmDevice implements DrmDevice {
	readonly info: DrmDeviceInfo;
	readonly clock: VirtualClock;
	readonly buffers = new Set<FakeBuffer>();
	readonly vaSpaces = new Set<FakeVaSpace>();
	readonly channels = new Map<number, FakeChannel>();
	readonly #maxChannels: number;
	#vramUsed = 0n;
	#sysUsed = 0n;
	#serial = 0;
	allocated = 0;
	freed = 0;
	/** Set to make the next allocBuffer fail with this errno. */
	failNextAlloc: Errno | undefined;

	constructor(options: FakeDeviceOptions = {}) {
		this.clock = options.clock ?? new VirtualClock(1_000_000_000n);
		this.#maxChannels = options.maxChannels ?? 64;
		this.info = {
			pciVendorId: 0x10de,
			pciDeviceId: 0x2204,
			chipset: 0x172,
			busType: 'pcie',
			vramSize: options.vramSize ?? 64n << 20n,
			gartSize: options.sysmemSize ?? 64n << 20n,
			vramBarSize: 256n << 20n,
			graphUnits: { gpcs: 7, tpcs: 42, rops: 112 },
			gpfifoEntries: options.gpfifoEntries ?? 1024,
			vaBits: 47,
			engines: options.engines ?? ['gr', 'ce'],
		};
	}

	ptimerNs(): bigint {
		return this.clock.now();
	}

	vramUsed(): bigint {
		return this.#vramUsed;
	}

	allocBuffer(req: BufferRequest): DeviceResult<DeviceBuffer> {
		if (req.size <= 0n || req.size % PAGE !== 0n || req.align % PAGE !== 0n) {
			throw new Error(`fake device: bad buffer request ${req.size}/${req.align}`);
		}
		if (this.failNextAlloc !== undefined) {
			const e = this.failNextAlloc;
			this.failNextAlloc = undefined;
			return err(e);
		}
		if (req.placement === 'vram') {
			if (this.#vramUsed + req.size > this.info.vramSize) return err('ENOSPC');
			this.#vramUsed += req.size;
		} else {
			if (this.#sysUsed + req.size > this.info.gartSize) return err('ENOMEM');
			this.#sysUsed += req.size;
		}
		const b = new FakeBuffer(req.size, req.placement, ++this.#serial);
		this.buffers.add(b);
		this.allocated++;
		return ok(b);
	}

	freeBuffer(buffer: DeviceBuffer): void {
		const b = buffer as FakeBuffer;
		if (!this.buffers.has(b)) throw new Error(`fake device: buffer ${b.serial} freed twice`);
		this.buffers.delete(b);
		if (b.placement === 'vram') this.#vramUsed -= b.size;
		else this.#sysUsed -= b.size;
		this.freed++;
	}

	createVaSpace(req: VaSpaceRequest): DeviceResult<DeviceVaSpace> {
		const v = new FakeVaSpace(req);
		this.vaSpaces.add(v);
		return ok(v);
	}

	destroyVaSpace(vaSpace: DeviceVaSpace): void {
		const v = vaSpace as FakeVaSpace;
		if (!this.vaSpaces.has(v)) throw new Error('fake device: VA space destroyed twice');
		if ([...this.channels.values()].some((c) => c.vaSpace === v)) {
			throw new Error('fake device: VA space destroyed while a channel uses it');
		}
		v.destroyed = true;
		this.vaSpaces.delete(v);
	}

	createChannel(req: ChannelRequest): DeviceResult<DeviceChannel> {
		if (!this.info.engines.includes(req.engine)) return err('EINVAL');
		const v = req.vaSpace as FakeVaSpace;
		if (!this.vaSpaces.has(v)) throw new Error('fake device: channel in an unknown VA space');
		for (let id = 0; id < this.#maxChannels; id++) {
			if (!this.channels.has(id)) {
				const ch = new FakeChannel(id, req.engine, v);
				this.channels.set(id, ch);
				return ok(ch);
			}
		}
		return err('ENOSPC');
	}

	destroyChannel(channel: DeviceChannel): void {
		const ch = channel as FakeChannel;
		if (this.channels.get(ch.id) !== ch) throw new Error('fake device: channel destroyed twice');
		ch.cancelAll();
		ch.destroyed = true;
		this.channels.delete(ch.id);
	}

	/** Complete every job whose dependencies have signalled, repeatedly, until nothing moves. */
	drain(): number {
		let n = 0;
		for (let progress = true; progress; ) {
			progress = false;
			for (const ch of this.channels.values()) {
				while (ch.completeNext()) {
					n++;
					progress = true;
				}
			}
		}
		return n;
	}

	/** Jobs queued on all channels. */
	get pendingJobs(): number {
		let n = 0;
		for (const ch of this.channels.values()) n += ch.queue.length;
		return n;
	}
}
