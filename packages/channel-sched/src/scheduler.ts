/**
 * A job scheduler with drm_sched semantics (drm-uapi 1.6, hardware reference C.7).
 *
 * - One {@link Scheduler} per hardware ring (a GPFIFO channel). It has `credit_limit` credits — for a channel,
 *   the ring capacity — and dispatches a job only when its credits fit.
 * - {@link Entity}s (one per client context) queue jobs in push order. Run queues by priority:
 *   `kernel` > `high` > `normal` > `low`; strict priority between them, round-robin between the ready entities of
 *   one priority (one job per turn). If the best ready job does not fit the free credits, nothing of lower
 *   priority overtakes it.
 * - Job lifecycle: init ({@link Entity.createJob}) → dependencies ({@link Job.addDependency}, fences from any
 *   scheduler/channel) → arm ({@link Job.arm}: creates the *scheduled* and *finished* fences) → push
 *   ({@link Job.push}) → run (the backend writes it to the hardware and returns the hardware fence) → finished
 *   mirrors the hardware fence → free ({@link SchedulerBackend.freeJob}).
 * - A job waits until its dependencies have *signalled* (`DRM_SCHED_FENCE_DONT_PIPELINE`). If one signalled
 *   with an error, the job is not run and its finished fence carries that error.
 * - Per-job timeout (default 10 s on the platform clock, measured from when the job started or the previous job
 *   finished, whichever is later). On expiry the backend may say "no hang"; otherwise the channel is killed: the
 *   guilty job fails with `CHSCHED_JOB_TIMEOUT` (ETIMEDOUT), every other unfinished job with
 *   `CHSCHED_DEVICE_LOST` (ENODEV), and later submissions throw `DeviceLostError`. Other schedulers (channels)
 *   are unaffected.
 * - Teardown ({@link Scheduler.destroy}, {@link Entity.destroy}) cancels unfinished jobs: their fences signal with
 *   `CHSCHED_CANCELLED` (ECANCELED).
 * - Nothing allocates or can fail after {@link Job.arm}: everything is allocated at init, queues are intrusive
 *   lists, and arm/push/run/completion run inside the signalling-section guard (see `signalling.ts`).
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import {
	CancelledError,
	ChannelArgumentError,
	DeviceLostError,
	FenceContractError,
	JobTimeoutError,
} from './errors.ts';
import { Fence, FenceCallback, FenceContext } from './fence.ts';
import { enterSignallingSection, leaveSignallingSection, noteAllocation } from './signalling.ts';
import { type TimerHandle, type TimerSource, timerSource } from './timers.ts';

/** Run-queue priorities, highest first. */
export const PRIORITIES = ['kernel', 'high', 'normal', 'low'] as const;
/** A run-queue priority. */
export type Priority = (typeof PRIORITIES)[number];

const PRIORITY_INDEX: Readonly<Record<Priority, number>> = { kernel: 0, high: 1, normal: 2, low: 3 };

/** The default job timeout: 10 s (nouveau). */
export const DEFAULT_JOB_TIMEOUT_NS = 10_000_000_000n;

/** What a backend says about a job that exceeded the timeout (drm_sched `timedout_job`). */
export type TimeoutVerdict = 'kill' | 'no-hang';

/** The driver side of a scheduler (drm_sched `backend_ops`). */
export interface SchedulerBackend<P> {
	/** Credits a payload needs when the submitter does not say (e.g. GP entries for a channel). Default 1. */
	credits?(payload: P): number;
	/**
	 * Validate and prepare a job at init time (encode commands, preallocate the hardware fence). May throw; the
	 * job is then not created.
	 */
	prepareJob?(job: Job<P>): void;
	/**
	 * Write the job to the hardware and return its hardware fence. Runs in the fence-signalling section: it must
	 * not allocate and must not fail.
	 */
	runJob(job: Job<P>): Fence;
	/** A running job exceeded the timeout. Default `'kill'`. `'no-hang'` restarts the timeout. */
	timedOut?(job: Job<P>): TimeoutVerdict;
	/**
	 * Stop the hardware (kill the channel) and fail its outstanding hardware fences with `error`. Called once, on
	 * timeout (`DeviceLostError`) or teardown (`CancelledError`).
	 */
	kill(error: Error): void;
	/** Release a job's resources after its finished fence signalled (outside the signalling section). */
	freeJob?(job: Job<P>): void;
}

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
	/** Name for diagnostics and fence contexts. */
	readonly name: string;
	/** Credits available (drm_sched `credit_limit`); for a channel, its ring capacity. */
	readonly creditLimit: number;
	/** The platform clock; timeouts are measured on it (virtual time in simulations). */
	readonly clock: Clock;
	/** Job timeout in ns; default 10 s. */
	readonly timeoutNs?: bigint;
	/**
	 * Called if the backend broke the run contract (threw from `runJob`, e.g. a signalling-section violation).
	 * The scheduler kills itself with that error either way. Default: rethrow asynchronously.
	 */
	readonly onFatal?: (error: unknown) => void;
}

/** Job states. */
export type JobState = 'init' | 'armed' | 'queued' | 'running' | 'done' | 'freed';

/** Options of {@link Entity.createJob}. */
export interface JobOptions {
	/** Credits the job uses while running (1..creditLimit); default 1. */
	readonly credits?: number;
}

/** Options of {@link Entity.submit}. */
export interface SubmitOptions extends JobOptions {
	/** Fences the job waits for (any scheduler or channel). */
	readonly dependencies?: Iterable<Fence>;
}

/** Scheduler counters. */
export interface SchedulerStats {
	/** Jobs pushed. */
	submitted: number;
	/** Jobs handed to the backend (or skipped). */
	dispatched: number;
	/** Jobs whose finished fence signalled. */
	completed: number;
	/** Job timeouts that killed the channel. */
	timeouts: number;
}

function onDependencySignalled<P>(_fence: Fence, cb: FenceCallback<Job<P>>): void {
	cb.data.entity._depSignalled(cb.data);
}

function onHardwareSignalled<P>(_fence: Fence, cb: FenceCallback<Job<P>>): void {
	cb.data.entity.scheduler._hwDone(cb.data);
}

/** A job: created by an entity, armed, pushed, run by the backend, freed. */
export class Job<P = unknown> {
	/** The entity the job belongs to. */
	readonly entity: Entity<P>;
	/** The backend's payload (what to write to the hardware). */
	readonly payload: P;
	/** Credits used while running. */
	readonly credits: number;
	/** Signals when the job is handed to the hardware (or skipped/cancelled). */
	readonly scheduled: Fence;
	/** Signals when the job is done; carries its error, if any. */
	readonly finished: Fence;
	/** Backend scratch space (e.g. a preallocated hardware fence), set in `prepareJob`. */
	backendData: unknown = undefined;
	#state: JobState = 'init';
	/** @internal */ _deps: Fence[] | null = null;
	/** @internal */ _depIndex = 0;
	/** @internal allocated with the first dependency (before arm) */ _depCb: FenceCallback<Job<P>> | null =
		null;
	/** @internal */ readonly _hwCb: FenceCallback<Job<P>>;
	/** @internal */ _hw: Fence | null = null;
	/** @internal */ _error: Error | undefined = undefined;
	/** @internal */ _hwDone = false;
	/** @internal entity queue / in-flight list / free list link */ _next: Job<P> | null = null;
	/** @internal scheduler pending list */ _pPrev: Job<P> | null = null;
	/** @internal */ _pNext: Job<P> | null = null;
	/** @internal */ _pending = false;

	/** @internal use {@link Entity.createJob}. */
	constructor(entity: Entity<P>, payload: P, credits: number) {
		noteAllocation('Job');
		this.entity = entity;
		this.payload = payload;
		this.credits = credits;
		this.scheduled = new Fence();
		this.finished = new Fence();
		this._hwCb = new FenceCallback<Job<P>>(onHardwareSignalled, this);
	}

	/** Current lifecycle state. */
	get state(): JobState {
		return this.#state;
	}

	/** @internal */
	_setState(s: JobState): void {
		this.#state = s;
	}

	/** The hardware fence returned by `runJob` (`null` before running, or if the job was skipped). */
	get hardwareFence(): Fence | null {
		return this._hw;
	}

	/** The fences this job waits for. */
	get dependencies(): readonly Fence[] {
		return this._deps ?? [];
	}

	/** Add a dependency (before {@link Job.arm}). Already-signalled fences are kept only if they carry an error. */
	addDependency(fence: Fence): this {
		if (this.#state !== 'init') {
			throw new ChannelArgumentError('dependencies must be added before the job is armed', {
				state: this.#state,
			});
		}
		if (!fence.armed) throw new ChannelArgumentError('a dependency must be an armed fence');
		noteAllocation('Job.addDependency');
		if (!fence.signalled || fence.error !== undefined) {
			if (this._deps === null) {
				this._deps = [];
				this._depCb = new FenceCallback<Job<P>>(onDependencySignalled, this);
			}
			this._deps.push(fence);
		}
		return this;
	}

	/**
	 * Arm the job: give its scheduled and finished fences their seqnos. From here on nothing may fail: the
	 * caller must push it. Throws if the entity or scheduler is already dead (then nothing was armed).
	 */
	arm(): this {
		if (this.#state !== 'init') throw new FenceContractError('job armed twice', { state: this.#state });
		this.entity._checkAlive();
		this.scheduled.arm(this.entity.scheduledContext);
		this.finished.arm(this.entity.finishedContext);
		this.#state = 'armed';
		return this;
	}

	/** Queue the armed job on its entity. Never fails (a dead entity completes it with its error). */
	push(): this {
		if (this.#state !== 'armed') throw new FenceContractError('push before arm', { state: this.#state });
		enterSignallingSection('push');
		try {
			this.entity.scheduler.stats.submitted++;
			this.entity._push(this);
		} finally {
			leaveSignallingSection();
		}
		return this;
	}
}

/** A client context's queue of jobs on one scheduler. */
export class Entity<P = unknown> {
	/** The scheduler the entity feeds. */
	readonly scheduler: Scheduler<P>;
	/** Name for diagnostics and fence contexts. */
	readonly name: string;
	/** Run-queue priority. */
	readonly priority: Priority;
	/** Timeline of this entity's scheduled fences. */
	readonly scheduledContext: FenceContext;
	/** Timeline of this entity's finished fences. */
	readonly finishedContext: FenceContext;
	/** @internal */ _qHead: Job<P> | null = null;
	/** @internal */ _qTail: Job<P> | null = null;
	/** @internal */ _fHead: Job<P> | null = null;
	/** @internal */ _fTail: Job<P> | null = null;
	/** @internal */ _ready = false;
	/** @internal */ _waiting = false;
	/** @internal */ _rqPrev: Entity<P> | null = null;
	/** @internal */ _rqNext: Entity<P> | null = null;
	/** @internal */ _queued = 0;
	#lost: Error | undefined = undefined;

	/** @internal use {@link Scheduler.createEntity}. */
	constructor(scheduler: Scheduler<P>, name: string, priority: Priority) {
		this.scheduler = scheduler;
		this.name = name;
		this.priority = priority;
		this.scheduledContext = new FenceContext(`${name}.scheduled`);
		this.finishedContext = new FenceContext(`${name}.finished`);
	}

	/** Why the entity is unusable (`undefined` while alive). */
	get lostReason(): Error | undefined {
		return this.#lost ?? this.scheduler.deathCause;
	}

	/** Jobs pushed and not yet dispatched. */
	get queued(): number {
		return this._queued;
	}

	/** @internal throw the typed error if the entity cannot take work. */
	_checkAlive(): void {
		const lost = this.lostReason;
		if (lost !== undefined) {
			throw new DeviceLostError(`entity ${this.name} is lost: ${lost.message}`, { entity: this.name }, lost);
		}
	}

	/**
	 * Init a job (drm_sched `job_init`): checks the credits and that the entity is alive, lets the backend
	 * prepare it. Allocates; may throw.
	 */
	createJob(payload: P, options: JobOptions = {}): Job<P> {
		this._checkAlive();
		const credits = options.credits ?? this.scheduler._backend.credits?.(payload) ?? 1;
		if (!Number.isInteger(credits) || credits < 1 || credits > this.scheduler.creditLimit) {
			throw new ChannelArgumentError(`job credits must be 1..${this.scheduler.creditLimit}`, { credits });
		}
		const job = new Job<P>(this, payload, credits);
		this.scheduler._backend.prepareJob?.(job);
		return job;
	}

	/**
	 * Init, add dependencies, arm and push in one step (validate, then commit). Throws only before arming, with
	 * nothing queued.
	 */
	submit(payload: P, options: SubmitOptions = {}): Job<P> {
		const job = this.createJob(payload, options);
		if (options.dependencies !== undefined) for (const d of options.dependencies) job.addDependency(d);
		job.arm();
		job.push();
		return job;
	}

	/**
	 * Tear the entity down: its queued (not yet running) jobs complete with `CHSCHED_CANCELLED`, in order after
	 * its running jobs; later submissions throw `DeviceLostError`. Running jobs finish normally.
	 */
	destroy(): void {
		if (this.#lost !== undefined) return;
		const error = new CancelledError(`entity ${this.name} destroyed`, { entity: this.name });
		this.#lost = error;
		this.scheduler._entities.delete(this);
		this._abortQueued(error);
	}

	/** @internal fail every queued job with `error`, keeping finished fences in order. */
	_abortQueued(error: Error): void {
		enterSignallingSection('entity abort');
		try {
			this.scheduler._rqRemove(this);
			let job = this._qHead;
			this._qHead = null;
			this._qTail = null;
			this._queued = 0;
			this._waiting = false;
			while (job !== null) {
				const next = job._next;
				job._next = null;
				const cb = job._depCb;
				if (cb !== null) cb._fence?.removeCallback(cb);
				if (job._error === undefined) job._error = error;
				job._hwDone = true;
				job._setState('running');
				job.scheduled.signalWith(job._error);
				this._appendInFlight(job);
				job = next;
			}
			this._drain();
		} finally {
			leaveSignallingSection();
		}
	}

	/** @internal append a pushed job (inside the signalling section). */
	_push(job: Job<P>): void {
		job._setState('queued');
		const lost = this.lostReason;
		if (lost !== undefined) {
			// Armed against a dying entity: complete it with the loss, in order.
			job._error = lost;
			job._hwDone = true;
			job._setState('running');
			job.scheduled.signalWith(lost);
			this._appendInFlight(job);
			this._drain();
			return;
		}
		job._next = null;
		if (this._qTail === null) this._qHead = job;
		else this._qTail._next = job;
		this._qTail = job;
		this._queued++;
		if (this._qHead === job) this._refresh();
	}

	/**
	 * @internal the head job changed: decide ready (dependencies resolved → run queue), waiting (callback on the
	 * first unsignalled dependency) or idle.
	 */
	_refresh(): void {
		const job = this._qHead;
		if (job === null || this._ready || this._waiting) return;
		const deps = job._deps;
		while (deps !== null && job._depIndex < deps.length) {
			const dep = deps[job._depIndex] as Fence;
			if (!dep.signalled) {
				if (dep.addCallback(job._depCb as FenceCallback<Job<P>>)) {
					this._waiting = true;
					return;
				}
			}
			if (dep.error !== undefined && job._error === undefined) job._error = dep.error;
			job._depIndex++;
		}
		this.scheduler._rqAppend(this);
	}

	/** @internal the dependency the head job waited on signalled. */
	_depSignalled(job: Job<P>): void {
		if (this._qHead !== job) return;
		this._waiting = false;
		this._refresh();
	}

	/** @internal */
	_appendInFlight(job: Job<P>): void {
		job._next = null;
		if (this._fTail === null) this._fHead = job;
		else this._fTail._next = job;
		this._fTail = job;
	}

	/** @internal signal finished fences, in order, of the in-flight jobs whose hardware part is done. */
	_drain(): void {
		let job = this._fHead;
		while (job?._hwDone) {
			const next = job._next;
			this._fHead = next;
			if (next === null) this._fTail = null;
			job._next = null;
			job._setState('done');
			this.scheduler.stats.completed++;
			job.finished.signalWith(job._error);
			this.scheduler._toFree(job);
			job = next;
		}
	}
}

/** A drm_sched-style scheduler for one hardware ring. */
export class Scheduler<P = unknown> {
	/** Name for diagnostics and fence contexts. */
	readonly name: string;
	/** Credits available to running jobs. */
	readonly creditLimit: number;
	/** Job timeout in ns. */
	readonly timeoutNs: bigint;
	/** The clock timeouts are measured on. */
	readonly clock: Clock;
	/** Counters. */
	readonly stats: SchedulerStats = { submitted: 0, dispatched: 0, completed: 0, timeouts: 0 };
	/** @internal */ readonly _backend: SchedulerBackend<P>;
	/** @internal */ readonly _entities = new Set<Entity<P>>();
	readonly #rqHead: (Entity<P> | null)[] = [null, null, null, null];
	readonly #rqTail: (Entity<P> | null)[] = [null, null, null, null];
	#credits = 0;
	#pHead: Job<P> | null = null;
	#pTail: Job<P> | null = null;
	#freeHead: Job<P> | null = null;
	#freeTail: Job<P> | null = null;
	#pumpScheduled = false;
	readonly #pumpFn: () => void;
	readonly #timers: TimerSource;
	#timer: TimerHandle | null = null;
	readonly #onTimerFn: () => void;
	#lastProgress = 0n;
	#dead: Error | undefined = undefined;
	readonly #onFatal: (error: unknown) => void;

	/** A scheduler running jobs through `backend`. */
	constructor(backend: SchedulerBackend<P>, options: SchedulerOptions) {
		if (!Number.isInteger(options.creditLimit) || options.creditLimit < 1) {
			throw new ChannelArgumentError('creditLimit must be a positive integer', {
				creditLimit: options.creditLimit,
			});
		}
		const timeoutNs = options.timeoutNs ?? DEFAULT_JOB_TIMEOUT_NS;
		if (typeof timeoutNs !== 'bigint' || timeoutNs <= 0n) {
			throw new ChannelArgumentError('timeoutNs must be a positive bigint', { timeoutNs: String(timeoutNs) });
		}
		this._backend = backend;
		this.name = options.name;
		this.creditLimit = options.creditLimit;
		this.timeoutNs = timeoutNs;
		this.clock = options.clock;
		this.#timers = timerSource(options.clock);
		this.#pumpFn = () => this.#pump();
		this.#onTimerFn = () => this.#onTimer();
		this.#onFatal =
			options.onFatal ??
			((e) =>
				queueMicrotask(() => {
					throw e;
				}));
	}

	/** Credits held by running jobs. */
	get creditsInUse(): number {
		return this.#credits;
	}

	/** Why the scheduler is dead (`undefined` while alive). */
	get deathCause(): Error | undefined {
		return this.#dead;
	}

	/** Whether the scheduler was killed (timeout) or destroyed. */
	get dead(): boolean {
		return this.#dead !== undefined;
	}

	/** Jobs handed to the hardware whose hardware fence has not signalled. */
	get running(): number {
		let n = 0;
		for (let j = this.#pHead; j !== null; j = j._pNext) n++;
		return n;
	}

	/** Create an entity (a client context) at `priority` (default `normal`). */
	createEntity(name: string, priority: Priority = 'normal'): Entity<P> {
		if (this.#dead !== undefined) {
			throw new DeviceLostError(`scheduler ${this.name} is dead: ${this.#dead.message}`, {}, this.#dead);
		}
		if (!Object.hasOwn(PRIORITY_INDEX, priority)) {
			throw new ChannelArgumentError(`unknown priority ${String(priority)}`);
		}
		noteAllocation('Entity');
		const e = new Entity<P>(this, name, priority);
		this._entities.add(e);
		return e;
	}

	/**
	 * Kill the scheduler because its channel failed (e.g. an engine fault reported by RM): like a timeout without
	 * a guilty job. Unfinished jobs fail with `error`; later submissions throw `DeviceLostError`. Idempotent.
	 */
	kill(error: Error): void {
		this.#kill(error);
	}

	/**
	 * Tear down: stop dispatching, cancel the hardware (the backend fails its fences with `CHSCHED_CANCELLED`)
	 * and cancel every queued job. Later submissions throw `DeviceLostError`. Idempotent.
	 */
	destroy(): void {
		this.#kill(new CancelledError(`scheduler ${this.name} destroyed`, { scheduler: this.name }));
	}

	// ---- run queues ------------------------------------------------------------------------------------------------

	/** @internal append an entity whose head job is ready. */
	_rqAppend(e: Entity<P>): void {
		if (e._ready) return;
		const p = PRIORITY_INDEX[e.priority];
		e._ready = true;
		e._rqNext = null;
		e._rqPrev = this.#rqTail[p] ?? null;
		if (e._rqPrev === null) this.#rqHead[p] = e;
		else e._rqPrev._rqNext = e;
		this.#rqTail[p] = e;
		this.#schedulePump();
	}

	/** @internal */
	_rqRemove(e: Entity<P>): void {
		if (!e._ready) return;
		const p = PRIORITY_INDEX[e.priority];
		if (e._rqPrev === null) this.#rqHead[p] = e._rqNext;
		else e._rqPrev._rqNext = e._rqNext;
		if (e._rqNext === null) this.#rqTail[p] = e._rqPrev;
		else e._rqNext._rqPrev = e._rqPrev;
		e._rqPrev = null;
		e._rqNext = null;
		e._ready = false;
	}

	#schedulePump(): void {
		if (this.#pumpScheduled) return;
		this.#pumpScheduled = true;
		queueMicrotask(this.#pumpFn);
	}

	/** @internal queue a finished job for `freeJob` (outside the signalling section). */
	_toFree(job: Job<P>): void {
		job._next = null;
		if (this.#freeTail === null) this.#freeHead = job;
		else this.#freeTail._next = job;
		this.#freeTail = job;
		this.#schedulePump();
	}

	/** Free what finished, then dispatch what can run now. Runs from a microtask. */
	#pump(): void {
		this.#pumpScheduled = false;
		let f = this.#freeHead;
		this.#freeHead = null;
		this.#freeTail = null;
		while (f !== null) {
			const next = f._next;
			f._next = null;
			this._backend.freeJob?.(f);
			f._setState('freed');
			f = next;
		}
		if (this.#dead !== undefined) return;
		for (;;) {
			let e: Entity<P> | null = null;
			for (let p = 0; p < 4; p++) {
				e = this.#rqHead[p] ?? null;
				if (e !== null) break;
			}
			if (e === null) return;
			const job = e._qHead as Job<P>;
			if (job._error === undefined && this.#credits + job.credits > this.creditLimit) return;
			this.#dispatch(e, job);
			if (this.#dead !== undefined) return;
		}
	}

	#dispatch(e: Entity<P>, job: Job<P>): void {
		enterSignallingSection('run');
		try {
			this._rqRemove(e);
			e._qHead = job._next;
			if (e._qHead === null) e._qTail = null;
			e._queued--;
			e._appendInFlight(job);
			job._setState('running');
			this.stats.dispatched++;
			job.scheduled.signal();
			if (job._error !== undefined) {
				// A dependency failed: skip the hardware, complete in order with that error.
				job._hwDone = true;
				e._drain();
			} else {
				this.#credits += job.credits;
				// The timeout of the oldest running job counts from the later of its start and the previous
				// completion; a job that becomes the oldest at a completion started before it, so the start only
				// matters when nothing else is running.
				if (this.#pHead === null) this.#lastProgress = this.clock.now();
				job._pending = true;
				job._pNext = null;
				job._pPrev = this.#pTail;
				if (this.#pTail === null) this.#pHead = job;
				else this.#pTail._pNext = job;
				this.#pTail = job;
				let hw: Fence;
				try {
					hw = this._backend.runJob(job);
				} catch (err) {
					this.#fatal(err, job);
					return;
				}
				job._hw = hw;
				if (!hw.addCallback(job._hwCb)) this._hwDone(job);
				if (this.#timer === null && this.#pHead !== null) {
					this.#timer = this.#timers.after(this.timeoutNs, this.#onTimerFn, false);
				}
			}
			e._refresh();
		} finally {
			leaveSignallingSection();
		}
	}

	/** @internal a job's hardware fence signalled (or the job was force-completed). */
	_hwDone(job: Job<P>): void {
		if (!job._pending) return;
		enterSignallingSection('job completion');
		try {
			this.#complete(job);
		} finally {
			leaveSignallingSection();
		}
	}

	#complete(job: Job<P>): void {
		job._pending = false;
		if (job._pPrev === null) this.#pHead = job._pNext;
		else job._pPrev._pNext = job._pNext;
		if (job._pNext === null) this.#pTail = job._pPrev;
		else job._pNext._pPrev = job._pPrev;
		job._pPrev = null;
		job._pNext = null;
		this.#credits -= job.credits;
		if (this.#pHead !== null) this.#lastProgress = this.clock.now();
		const hwError = job._hw?.error;
		if (job._error === undefined && hwError !== undefined) job._error = hwError;
		job._hwDone = true;
		job.entity._drain();
		this.#schedulePump();
	}

	// ---- timeout / kill ----------------------------------------------------------------------------------------------

	#onTimer(): void {
		this.#timer = null;
		const head = this.#pHead;
		if (this.#dead !== undefined || head === null) return;
		const now = this.clock.now();
		const deadline = this.#lastProgress + this.timeoutNs;
		if (now < deadline) {
			this.#timer = this.#timers.after(deadline - now, this.#onTimerFn, false);
			return;
		}
		const verdict = this._backend.timedOut?.(head) ?? 'kill';
		if (verdict === 'no-hang') {
			this.#lastProgress = now;
			this.#timer = this.#timers.after(this.timeoutNs, this.#onTimerFn, false);
			return;
		}
		this.stats.timeouts++;
		head._error = new JobTimeoutError(
			`job on ${head.entity.name} (${this.name}) did not finish within ${this.timeoutNs} ns`,
			{ scheduler: this.name, entity: head.entity.name, finished: head.finished.describe() },
		);
		this.#kill(
			new DeviceLostError(`channel ${this.name} killed after a job timeout`, {
				scheduler: this.name,
				guilty: head.finished.describe(),
			}),
		);
	}

	#fatal(err: unknown, job: Job<P>): void {
		const error = err instanceof Error ? err : new Error(String(err));
		if (job._error === undefined) job._error = error;
		this.#kill(
			new DeviceLostError(`scheduler ${this.name}: backend failed in run: ${error.message}`, {}, error),
		);
		this.#onFatal(err);
	}

	/** Kill: stop the hardware, fail everything outstanding with `error` (in order), refuse new work. */
	#kill(error: Error): void {
		if (this.#dead !== undefined) return;
		this.#dead = error;
		this.#timer?.cancel();
		this.#timer = null;
		enterSignallingSection('kill');
		try {
			try {
				this._backend.kill(error);
			} catch (e) {
				this.#onFatal(e);
			}
			// Whatever the backend did not fail: force-complete in dispatch order.
			for (let j = this.#pHead; j !== null; j = this.#pHead) {
				if (j._hw !== null) j._hw.removeCallback(j._hwCb);
				if (j._error === undefined) j._error = error;
				this._hwDone(j);
			}
			for (const e of this._entities) e._abortQueued(error);
		} finally {
			leaveSignallingSection();
		}
		this.#schedulePump();
	}
}
