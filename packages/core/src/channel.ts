/**
 * Channels: a GPFIFO channel allocated through GSP-RM with the generation's classes (channel-sched's
 * `createRmChannel`: ring, kernel-push area and semaphore mapped in the VA space's kernel window; instance block
 * and USERD in VRAM, method buffer in system memory; BIND, GPFIFO_SCHEDULE, the work-submit token; a copy object
 * on it) and a drm_sched-style `Scheduler` (channel-sched) that runs jobs on it. Hardware fences are processed by
 * the device's service loop; a robust-channel error GSP-RM reports for this channel, or a job timeout, kills it,
 * and the device then asks RM to deschedule it so the GPU runs none of its remaining work.
 *
 * @module
 */

import {
	type ChannelJob,
	type ChannelPush,
	type CopyEngineMethods,
	type Entity,
	type Fence,
	type GpuVaSpace,
	type Job,
	type Priority,
	PushBuffer,
	type RmChannel,
	type Scheduler,
} from '@gspkit/channel-sched';
import { ChannelKilledError, CoreError } from './errors.ts';
import { type DeviceMapping, type DeviceVaSpace, dmaMappable } from './vaspace.ts';

/** Engines a channel can run on (copy only, for now). */
export type ChannelEngineKind = 'copy';

/** Options of {@link Device.createChannel}. */
export interface ChannelRequest {
	/** The engine; only `'copy'` today. */
	readonly engine: ChannelEngineKind;
	/** Copy engine instance (default 0). */
	readonly ceInstance?: number;
	/** GPFIFO entries (power of two, default 512). */
	readonly entries?: number;
	/** Job timeout on the platform clock (default 10 s, drm_sched's). */
	readonly timeoutNs?: bigint;
	/** Name for diagnostics. */
	readonly name?: string;
}

/** Hardware facts of a channel (for diagnostics and device models). */
export interface ChannelHardwareInfo {
	/** Channel ID (CHID 11:0 of the work-submit token). */
	readonly chid: number;
	/** Runlist (RUNLIST_ID 22:16 of the token). */
	readonly runlistId: number;
	readonly workSubmitToken: number;
	/** Host (GPFIFO) class, e.g. 0xc56f. */
	readonly hostClass: number;
	/** Copy class, e.g. 0xc7b5. */
	readonly copyClass: number;
	/** Doorbell offset in BAR0. */
	readonly doorbellOffset: number;
	/** GPU VA of the GPFIFO ring and its entries. */
	readonly ringVa: bigint;
	readonly entries: number;
	/** RM handles. */
	readonly hChannel: number;
	readonly hCopy: number | undefined;
	/** `NV2080_ENGINE_TYPE_*` of the engine (as RM reports it in RC events), if the ABI says. */
	readonly engineType: number | undefined;
}

/** What {@link DeviceChannel.submit} runs. */
export interface SubmitOptions {
	/** Fences (from any channel) the job waits for. */
	readonly dependencies?: Iterable<Fence>;
	/** The entity (client context) to queue on; default the channel's own. */
	readonly entity?: Entity<ChannelJob>;
}

/** What the channel needs from the device. */
export interface ChannelHost {
	/** Note outstanding work so the service loop runs. */
	kick(): void;
	/** Forget the channel (destroy began: no more fence processing or RC lookups for it). */
	forget(channel: DeviceChannel): void;
	/** RM freed the channel (or was asked to): its RM handles may be reused now, not earlier. */
	released(channel: DeviceChannel): void;
}

/** A GPFIFO channel with its scheduler. */
export class DeviceChannel {
	readonly name: string;
	readonly engine: ChannelEngineKind;
	readonly vaSpace: DeviceVaSpace;
	readonly hardware: ChannelHardwareInfo;
	/** The scheduler (channel-sched): create entities, submit jobs, inspect stats. */
	readonly scheduler: Scheduler<ChannelJob>;
	/** The entity {@link DeviceChannel.submit} uses by default (priority `kernel`). */
	readonly defaultEntity: Entity<ChannelJob>;
	readonly #rm: RmChannel;
	readonly #host: ChannelHost;
	readonly #extra: (() => void)[] = [];
	#destroyed = false;
	#killed: Error | undefined;

	/** @internal use {@link Device.createChannel}. */
	constructor(
		name: string,
		engine: ChannelEngineKind,
		vaSpace: DeviceVaSpace,
		rm: RmChannel,
		scheduler: Scheduler<ChannelJob>,
		host: ChannelHost,
		hCopy: number | undefined,
		engineType: number | undefined,
	) {
		this.name = name;
		this.engine = engine;
		this.vaSpace = vaSpace;
		this.#rm = rm;
		this.scheduler = scheduler;
		this.#host = host;
		const token = rm.workSubmitToken;
		this.hardware = Object.freeze({
			chid: token & 0xfff,
			runlistId: (token >>> 16) & 0x7f,
			workSubmitToken: token,
			hostClass: rm.classes.host.id,
			copyClass: rm.classes.copy.id,
			doorbellOffset: rm.classes.doorbellOffset,
			ringVa: rm.vas.ring,
			entries: rm.channel.entries,
			hChannel: rm.hChannel,
			hCopy,
			engineType,
		});
		this.defaultEntity = scheduler.createEntity(`${name}.kernel`, 'kernel');
	}

	/** The channel ID. */
	get id(): number {
		return this.hardware.chid;
	}

	/** Whether the channel was killed (RC error, timeout, reset); later submissions throw. */
	get killed(): boolean {
		return this.#killed !== undefined || this.scheduler.dead;
	}

	/** Why it was killed. */
	get deathCause(): Error | undefined {
		return this.#killed ?? this.scheduler.deathCause;
	}

	/** The CPU side (ring, USERD, semaphore timeline) — for diagnostics and fence processing. */
	get rmChannel(): RmChannel {
		return this.#rm;
	}

	/** A client context at `priority` on this channel. */
	createEntity(name: string, priority: Priority = 'normal'): Entity<ChannelJob> {
		return this.scheduler.createEntity(name, priority);
	}

	/** A pushbuffer builder for this channel's host class. */
	pushBuffer(): PushBuffer {
		return new PushBuffer(this.#rm.classes.host);
	}

	/** Copy-engine methods on `push` (subchannel 4), bound with SET_OBJECT first. */
	copyEngine(push: PushBuffer): CopyEngineMethods {
		return push.copyEngine(this.#rm.classes.copy, 4).bind();
	}

	/**
	 * Queue a job: `pushes` are pushbuffer segments in GPU memory (`{ va, lengthWords }`) or small kernel-built
	 * command streams (at most the kernel-push slot size, 64 words). Returns the job; `job.finished` is its fence.
	 * @throws channel-sched's DeviceLostError on a killed channel; ChannelArgumentError for a bad push.
	 */
	submit(pushes: readonly ChannelPush[], options: SubmitOptions = {}): Job<ChannelJob> {
		if (this.#destroyed) throw new CoreError('CORE_BAD_ARGUMENT', `channel ${this.name} was destroyed`);
		const entity = options.entity ?? this.defaultEntity;
		const job = entity.submit(
			{ pushes },
			options.dependencies === undefined ? {} : { dependencies: options.dependencies },
		);
		this.#host.kick();
		return job;
	}

	/**
	 * A linear copy of `length` bytes from `src` to `dst` (GPU VAs) as one job.
	 */
	copy(
		op: { readonly src: bigint; readonly dst: bigint; readonly length: bigint | number },
		options: SubmitOptions = {},
	): Job<ChannelJob> {
		const pb = this.pushBuffer();
		this.copyEngine(pb).copy(op);
		return this.submit([pb.words()], options);
	}

	/** Fill `length` bytes at `dst` with a repeated 4-byte `value` as one job. */
	fill(
		op: { readonly dst: bigint; readonly length: bigint | number; readonly value: number },
		options: SubmitOptions = {},
	): Job<ChannelJob> {
		const pb = this.pushBuffer();
		this.copyEngine(pb).fill({ dst: op.dst, length: op.length, value: op.value, elementSize: 4 });
		return this.submit([pb.words()], options);
	}

	/** @internal process the channel's hardware fences; returns the number signalled. */
	_processFences(): number {
		return this.#rm.channel.timeline.process();
	}

	/** @internal jobs submitted and not yet finished. */
	_outstanding(): number {
		const s = this.scheduler.stats;
		return s.submitted - s.completed;
	}

	/** @internal keep `free` to run at destroy (e.g. a DMA buffer core allocated for this channel). */
	_own(free: () => void): void {
		this.#extra.push(free);
	}

	/** @internal kill: the scheduler fails everything pending with `error`; submissions throw afterwards. */
	_kill(error: Error): void {
		if (this.#killed !== undefined) return;
		this.#killed = error;
		this.scheduler.kill(error);
	}

	/**
	 * Tear down: cancel queued jobs (their fences fail with `CHSCHED_CANCELLED`), free the copy object and the
	 * channel in RM, the mappings and the memory. Idempotent. Every step is tried; the first failure is thrown
	 * afterwards (after a device reset RM no longer knows the objects, and freeing them there fails harmlessly).
	 */
	async destroy(): Promise<void> {
		if (this.#destroyed) return;
		this.#destroyed = true;
		this.#host.forget(this);
		this.scheduler.destroy();
		let first: unknown;
		try {
			await this.#rm.destroy(new ChannelKilledError('destroyed', `channel ${this.name} destroyed`));
		} catch (e) {
			first = e;
		}
		this.#host.released(this);
		for (const f of this.#extra.splice(0)) {
			try {
				f();
			} catch (e) {
				first ??= e;
			}
		}
		if (first !== undefined) throw first;
	}
}

/** A {@link GpuVaSpace} (channel-sched's view) over a {@link DeviceVaSpace}'s kernel window. */
export function kernelVaSpaceView(vas: DeviceVaSpace): GpuVaSpace {
	const live = new Map<bigint, DeviceMapping>();
	return {
		get rmHandle() {
			return vas.handle;
		},
		mapKernel(buffer) {
			const m = vas.map(dmaMappable(buffer));
			live.set(m.va, m);
			return m.va;
		},
		unmapKernel(va) {
			const m = live.get(va);
			if (m === undefined)
				throw new CoreError('CORE_BAD_ARGUMENT', `0x${va.toString(16)} is not a kernel mapping`);
			live.delete(va);
			vas.unmap(m);
		},
	};
}
