/**
 * The scheduler backend for a GPFIFO channel: a job is a list of pushes (pushbuffer segments already in GPU
 * memory, or small kernel-built command streams), followed by the channel's fence (nouveau EXEC `run_job`,
 * hardware reference C.7).
 *
 * At init (`prepareJob`) every push is validated and encoded, kernel commands are copied, and the hardware
 * fence is allocated. At run (`runJob`) the pre-encoded entries are written at `GP_PUT`, the kernel commands
 * into the kernel-push slots, then the fence sequence, `GP_PUT` and the doorbell: nothing allocates or fails.
 * A job needs one credit per push plus one for the fence; the scheduler's credit limit is the ring capacity, so
 * the ring can never overflow.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import type { GpFifoChannel } from './channel.ts';
import { ChannelArgumentError } from './errors.ts';
import { Fence } from './fence.ts';
import { encodeGpEntry, type GpSegment } from './gpfifo.ts';
import { type Job, Scheduler, type SchedulerBackend, type TimeoutVerdict } from './scheduler.ts';
import { noteAllocation } from './signalling.ts';

/** One push of a channel job: a pushbuffer segment in GPU memory, or kernel commands (≤ `slotWords` words). */
export type ChannelPush = GpSegment | Uint32Array;

/** The payload of a channel job. */
export interface ChannelJob {
	/** Pushes in execution order (may be empty: the job is then only a fence). */
	readonly pushes: readonly ChannelPush[];
}

/** What `prepareJob` precomputes (kept in `job.backendData`). */
interface PreparedChannelJob {
	/**
	 * The pushes in order: a segment is its two encoded GP entry words (two numbers), kernel commands are a
	 * private copy of the words (a `Uint32Array`).
	 */
	readonly ops: (number | Uint32Array)[];
	/** The hardware fence, armed on the channel's timeline at run. */
	readonly hw: Fence;
}

/** Options of {@link ChannelJobBackend}. */
export interface ChannelJobBackendOptions {
	/** Timeout verdict hook (e.g. check whether the channel made progress). Default: always kill. */
	readonly timedOut?: (job: Job<ChannelJob>) => TimeoutVerdict;
	/** Called when the scheduler kills the channel (RM-backed channels disable/free it here). */
	readonly onKill?: (error: Error) => void;
}

/** Runs {@link ChannelJob}s on one {@link GpFifoChannel}. */
export class ChannelJobBackend implements SchedulerBackend<ChannelJob> {
	/** The channel jobs run on. */
	readonly channel: GpFifoChannel;
	readonly #options: ChannelJobBackendOptions;

	/** Run jobs on `channel`. */
	constructor(channel: GpFifoChannel, options: ChannelJobBackendOptions = {}) {
		this.channel = channel;
		this.#options = options;
	}

	/** One credit per push plus one for the fence. */
	credits(payload: ChannelJob): number {
		return payload.pushes.length + 1;
	}

	/** Validate and encode every push, copy kernel commands, allocate the hardware fence. */
	prepareJob(job: Job<ChannelJob>): void {
		const pushes = job.payload.pushes;
		if (job.credits !== pushes.length + 1) {
			throw new ChannelArgumentError(
				`a channel job with ${pushes.length} pushes needs ${pushes.length + 1} credits`,
				{
					credits: job.credits,
				},
			);
		}
		noteAllocation('ChannelJob');
		const ops: (number | Uint32Array)[] = [];
		for (let i = 0; i < pushes.length; i++) {
			const p = pushes[i] as ChannelPush;
			if (p instanceof Uint32Array) {
				if (p.length === 0 || p.length > this.channel.slotWords) {
					throw new ChannelArgumentError(`kernel commands must be 1..${this.channel.slotWords} words`, {
						index: i,
						words: p.length,
					});
				}
				ops.push(p.slice());
			} else {
				const [w0, w1] = encodeGpEntry(p);
				ops.push(w0, w1);
			}
		}
		const prepared: PreparedChannelJob = { ops, hw: new Fence() };
		job.backendData = prepared;
	}

	/** Write the job and its fence to the ring and kick. No allocation, no failure. */
	runJob(job: Job<ChannelJob>): Fence {
		const p = job.backendData as PreparedChannelJob;
		const ch = this.channel;
		const ops = p.ops;
		for (let i = 0; i < ops.length; i++) {
			const op = ops[i] as number | Uint32Array;
			if (typeof op === 'number') ch.writeEntry(op, ops[++i] as number);
			else ch.writeKernelChunk(op);
		}
		ch.writeFence(p.hw);
		ch.kick();
		return p.hw;
	}

	/** The configured verdict hook, else `'kill'`. */
	timedOut(job: Job<ChannelJob>): TimeoutVerdict {
		return this.#options.timedOut?.(job) ?? 'kill';
	}

	/** Kill the channel: its pending hardware fences fail with `error`. */
	kill(error: Error): void {
		this.channel.kill(error);
		this.#options.onKill?.(error);
	}

	/** Drop the prepared data (the hardware fence stays with the job). */
	freeJob(job: Job<ChannelJob>): void {
		job.backendData = undefined;
	}
}

/** Create a scheduler for `channel` (credit limit = ring capacity). */
export function createChannelScheduler(
	channel: GpFifoChannel,
	options: {
		readonly clock: Clock;
		readonly timeoutNs?: bigint;
		readonly name?: string;
		readonly backend?: ChannelJobBackendOptions;
		readonly onFatal?: (error: unknown) => void;
	},
): Scheduler<ChannelJob> {
	return new Scheduler<ChannelJob>(new ChannelJobBackend(channel, options.backend), {
		name: options.name ?? channel.name,
		creditLimit: channel.capacity,
		clock: options.clock,
		...(options.timeoutNs === undefined ? {} : { timeoutNs: options.timeoutNs }),
		...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
	});
}
