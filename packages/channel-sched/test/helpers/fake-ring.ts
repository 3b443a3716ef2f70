/**
 * A fake hardware ring for scheduler tests: runs jobs in order and completes them after a per-job virtual delay
 * (in order, like a channel's semaphore), can hang, and records what ran when.
 */

import type { VirtualClock } from '@gspkit/hal';
import {
	Fence,
	FenceContext,
	type Job,
	type SchedulerBackend,
	type TimeoutVerdict,
} from '../../src/index.ts';

/** Payload of a fake job. */
export interface FakeJob {
	readonly name: string;
	/** Virtual time from run to hardware completion; default 1 ms. */
	readonly delayNs?: bigint;
	/** Complete with this error. */
	readonly fail?: Error;
}

export interface RunRecord {
	readonly name: string;
	readonly at: bigint;
	readonly credits: number;
}

interface PendingHw {
	readonly fence: Fence;
	readonly credits: number;
	readonly fail: Error | undefined;
	readonly doneAt: bigint;
}

/** A ring that executes in order with virtual delays. */
export class FakeRing implements SchedulerBackend<FakeJob> {
	readonly name: string;
	readonly clock: VirtualClock;
	readonly context: FenceContext;
	/** Jobs never complete. */
	hang = false;
	readonly ran: RunRecord[] = [];
	readonly freed: string[] = [];
	killedWith: Error | undefined;
	maxCreditsInFlight = 0;
	timedOutVerdicts: TimeoutVerdict[] = [];
	#creditsInFlight = 0;
	readonly #pending: PendingHw[] = [];

	constructor(name: string, clock: VirtualClock) {
		this.name = name;
		this.clock = clock;
		this.context = new FenceContext(`${name}.hw`);
	}

	prepareJob(job: Job<FakeJob>): void {
		job.backendData = new Fence();
	}

	runJob(job: Job<FakeJob>): Fence {
		const fence = job.backendData as Fence;
		fence.arm(this.context);
		this.ran.push({ name: job.payload.name, at: this.clock.now(), credits: job.credits });
		this.#creditsInFlight += job.credits;
		this.maxCreditsInFlight = Math.max(this.maxCreditsInFlight, this.#creditsInFlight);
		const prev = this.#pending.at(-1)?.doneAt ?? 0n;
		let doneAt = this.clock.now() + (job.payload.delayNs ?? 1_000_000n);
		if (doneAt < prev) doneAt = prev; // in-order completion
		this.#pending.push({ fence, credits: job.credits, fail: job.payload.fail, doneAt });
		if (!this.hang) this.clock.at(doneAt, () => this.#complete());
		return fence;
	}

	#complete(): void {
		if (this.hang || this.killedWith !== undefined) return;
		const now = this.clock.now();
		while (this.#pending.length > 0 && (this.#pending[0]?.doneAt ?? 0n) <= now) {
			const p = this.#pending.shift() as PendingHw;
			this.#creditsInFlight -= p.credits;
			p.fence.signalWith(p.fail);
		}
	}

	timedOut(_job: Job<FakeJob>): TimeoutVerdict {
		return this.timedOutVerdicts.shift() ?? 'kill';
	}

	kill(error: Error): void {
		this.killedWith = error;
		for (const p of this.#pending.splice(0)) p.fence.signalWith(error);
		this.#creditsInFlight = 0;
	}

	freeJob(job: Job<FakeJob>): void {
		this.freed.push(job.payload.name);
	}

	/** Names in run order. */
	get order(): string[] {
		return this.ran.map((r) => r.name);
	}
}

/** Let microtasks and setImmediate callbacks run. */
export async function flush(): Promise<void> {
	for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** Advance virtual time in `step`s until `done()` or `limit` passes; flushes between steps. */
export async function runUntil(
	clock: VirtualClock,
	done: () => boolean,
	step = 100_000n,
	limit = 100_000_000_000n,
) {
	await flush();
	const end = clock.now() + limit;
	while (!done() && clock.now() < end) {
		clock.advance(step);
		await flush();
	}
}
