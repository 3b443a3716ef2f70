/**
 * dma_fence semantics (drm-uapi 1.5).
 *
 * - A {@link Fence} belongs to a {@link FenceContext} and has a sequence number; seqnos increase within a context.
 * - It signals exactly once and never un-signals; an error may be set only *before* it signals.
 * - Within a context fences signal in seqno order.
 * - Waiters may wait with a timeout (measured on the platform clock); callbacks run when it signals.
 *
 * The rules are checked on every call (they are cheap): a double signal, an out-of-order signal, or an error set
 * after signalling throws {@link FenceContractError}. Fences and callback nodes can be created ahead of time
 * and armed later ({@link Fence.arm}), so the signalling path itself never allocates.
 *
 * @module
 */

import { type Clock, TimeoutError } from '@gspkit/hal';
import { FenceContractError } from './errors.ts';
import { noteAllocation } from './signalling.ts';
import { timerSource } from './timers.ts';

let nextContextId = 1;

/** Options of a {@link FenceContext}. */
export interface FenceContextOptions {
	/**
	 * Enforce in-order signalling (default true). Only "private" one-off contexts (stub fences, user fences
	 * with unrelated seqnos) turn this off; every timeline gspkit creates keeps it on.
	 */
	readonly ordered?: boolean;
	/** The first seqno handed out; default 1. (Tests use values near 2^32 to exercise payload wrap-around.) */
	readonly firstSeqno?: number;
}

/** A fence timeline: allocates increasing seqnos and checks that its fences signal in order. */
export class FenceContext {
	/** Unique id (like `dma_fence_context_alloc`). */
	readonly id: number;
	/** A name for diagnostics, e.g. `'ch3.hw'` or `'entity7.finished'`. */
	readonly name: string;
	/** Whether in-order signalling is enforced. */
	readonly ordered: boolean;
	#next = 1;
	#lastSignalled = 0;

	/** A new timeline named `name`. */
	constructor(name: string, options: FenceContextOptions = {}) {
		this.id = nextContextId++;
		this.name = name;
		this.ordered = options.ordered !== false;
		const first = options.firstSeqno ?? 1;
		if (!Number.isSafeInteger(first) || first < 1) {
			throw new FenceContractError('firstSeqno must be a positive safe integer', { firstSeqno: first });
		}
		this.#next = first;
		this.#lastSignalled = first - 1;
	}

	/** The next seqno {@link FenceContext.allocSeqno} will hand out. */
	get nextSeqno(): number {
		return this.#next;
	}

	/** The highest seqno signalled so far (0 if none). */
	get lastSignalled(): number {
		return this.#lastSignalled;
	}

	/** Allocate the next seqno. */
	allocSeqno(): number {
		return this.#next++;
	}

	/** Create (allocate) an armed fence with the next seqno. */
	createFence(): Fence {
		const f = new Fence();
		f.arm(this);
		return f;
	}

	/** @internal called by Fence.signal: enforce the ordering rule, then record the signal. */
	_signalled(fence: Fence): void {
		if (this.ordered) {
			if (fence.seqno !== this.#lastSignalled + 1) {
				throw new FenceContractError(
					`fence ${this.name}#${fence.seqno} signalled out of order (last signalled #${this.#lastSignalled})`,
					{ context: this.name, seqno: fence.seqno, lastSignalled: this.#lastSignalled },
				);
			}
			this.#lastSignalled = fence.seqno;
		} else if (fence.seqno > this.#lastSignalled) {
			this.#lastSignalled = fence.seqno;
		}
	}
}

/**
 * A callback node, allocated ahead of time so that adding it to a fence does not allocate. `fn` receives the
 * fence and the node, so one shared function can serve many nodes through {@link FenceCallback.data}.
 */
export class FenceCallback<D = unknown> {
	/** Called once, with the fence and this node, when the fence signals. */
	fn: (fence: Fence, cb: FenceCallback<D>) => void;
	/** Owner data for `fn` (e.g. the job waiting on the fence). */
	data: D;
	/** @internal intrusive list link */
	_next: FenceCallback<unknown> | null = null;
	/** @internal the fence this node is queued on */
	_fence: Fence | null = null;

	/** A node calling `fn` with `data` available as `cb.data`. */
	constructor(fn: (fence: Fence, cb: FenceCallback<D>) => void, data?: D) {
		this.fn = fn;
		this.data = data as D;
	}

	/** The fence this node is queued on (`null` when not queued). */
	get queuedOn(): Fence | null {
		return this._fence;
	}
}

type AnyCallback = FenceCallback<unknown>;

const STATE_UNARMED = 0;
const STATE_PENDING = 1;
const STATE_SIGNALLED = 2;

type Waiter = () => void;

/** A dma_fence: signals exactly once, optionally with an error set before signalling. */
export class Fence {
	#context: FenceContext | null = null;
	#seqno = 0;
	#state = STATE_UNARMED;
	#error: Error | undefined = undefined;
	#cbHead: AnyCallback | null = null;
	#cbTail: AnyCallback | null = null;
	#waiters: Waiter[] | null = null;
	/** Intrusive link for owners that keep fences in pending lists (e.g. a channel's semaphore timeline). */
	_next: Fence | null = null;

	/** A new, unarmed fence. Call {@link Fence.arm} before signalling it. */
	constructor() {
		noteAllocation('Fence');
	}

	/** An already-signalled fence in a private context (like `dma_fence_get_stub`). */
	static signalled(error?: Error): Fence {
		const f = new FenceContext('stub', { ordered: false }).createFence();
		if (error !== undefined) f.setError(error);
		f.signal();
		return f;
	}

	/** Give the fence its context and the context's next seqno. Does not allocate. */
	arm(context: FenceContext): this {
		if (this.#state !== STATE_UNARMED) {
			throw new FenceContractError(`fence ${this.describe()} armed twice`, { fence: this.describe() });
		}
		this.#context = context;
		this.#seqno = context.allocSeqno();
		this.#state = STATE_PENDING;
		return this;
	}

	/** The fence's context (`null` until armed). */
	get context(): FenceContext | null {
		return this.#context;
	}

	/** Sequence number within the context (0 until armed). */
	get seqno(): number {
		return this.#seqno;
	}

	/** Whether {@link Fence.arm} was called. */
	get armed(): boolean {
		return this.#state !== STATE_UNARMED;
	}

	/** Whether the fence has signalled. */
	get signalled(): boolean {
		return this.#state === STATE_SIGNALLED;
	}

	/** The error set before signalling (`undefined` for success or while pending). */
	get error(): Error | undefined {
		return this.#error;
	}

	/** `context#seqno`, for messages. */
	describe(): string {
		return this.#context === null ? 'unarmed' : `${this.#context.name}#${this.#seqno}`;
	}

	/**
	 * Record an error; the fence will signal with it. Must happen before {@link Fence.signal}; a second error
	 * replaces the first only while still pending (the last one wins, as `dma_fence_set_error`).
	 */
	setError(error: Error): this {
		if (this.#state === STATE_SIGNALLED) {
			throw new FenceContractError(`error set on fence ${this.describe()} after it signalled`, {
				fence: this.describe(),
				error: error.message,
			});
		}
		this.#error = error;
		return this;
	}

	/**
	 * Signal the fence: exactly once, in seqno order within its context. Runs the callbacks in the order they were
	 * added, then wakes waiters. Throws {@link FenceContractError} on a double or out-of-order signal (before
	 * changing anything). If a callback throws, the remaining callbacks still run and the first error is rethrown.
	 */
	signal(): void {
		if (this.#state !== STATE_PENDING) {
			throw new FenceContractError(
				this.#state === STATE_SIGNALLED
					? `fence ${this.describe()} signalled twice`
					: 'an unarmed fence cannot be signalled',
				{ fence: this.describe() },
			);
		}
		(this.#context as FenceContext)._signalled(this);
		this.#state = STATE_SIGNALLED;
		let failure: unknown;
		let failed = false;
		let cb = this.#cbHead;
		this.#cbHead = null;
		this.#cbTail = null;
		while (cb !== null) {
			const next = cb._next;
			cb._next = null;
			cb._fence = null;
			try {
				cb.fn(this, cb);
			} catch (e) {
				if (!failed) {
					failed = true;
					failure = e;
				}
			}
			cb = next;
		}
		const waiters = this.#waiters;
		if (waiters !== null) {
			this.#waiters = null;
			for (const w of waiters) w();
		}
		if (failed) throw failure;
	}

	/** Set `error` (if given and still pending) and signal. */
	signalWith(error: Error | undefined): void {
		if (error !== undefined) this.setError(error);
		this.signal();
	}

	/**
	 * Queue a preallocated callback node. Returns false (and does not queue it) if the fence already signalled,
	 * like `dma_fence_add_callback` returning `-ENOENT`. A node can be queued on one fence at a time.
	 */
	addCallback<D>(node: FenceCallback<D>): boolean {
		if (this.#state === STATE_SIGNALLED) return false;
		const cb = node as AnyCallback;
		if (cb._fence !== null) {
			throw new FenceContractError('callback node is already queued on a fence', {
				fence: cb._fence.describe(),
			});
		}
		cb._fence = this;
		if (this.#cbTail === null) this.#cbHead = cb;
		else this.#cbTail._next = cb;
		this.#cbTail = cb;
		return true;
	}

	/** Remove a queued callback. Returns whether it was queued on this fence. */
	removeCallback<D>(node: FenceCallback<D>): boolean {
		const cb = node as AnyCallback;
		if (cb._fence !== this) return false;
		let prev: AnyCallback | null = null;
		let cur = this.#cbHead;
		while (cur !== null && cur !== cb) {
			prev = cur;
			cur = cur._next;
		}
		if (cur === null) return false;
		if (prev === null) this.#cbHead = cb._next;
		else prev._next = cb._next;
		if (this.#cbTail === cb) this.#cbTail = prev;
		cb._next = null;
		cb._fence = null;
		return true;
	}

	/**
	 * Convenience: call `fn` when the fence signals (immediately, synchronously, if it already has).
	 * Allocates a callback node, so it is for use outside the signalling path.
	 */
	onSignal(fn: (fence: Fence) => void): FenceCallback {
		const cb: FenceCallback = new FenceCallback(fn);
		noteAllocation('FenceCallback');
		if (!this.addCallback(cb)) fn(this);
		return cb;
	}

	/**
	 * Wait until the fence signals. Resolves (also when it signals with an error — check {@link Fence.error});
	 * with `timeoutNs`, rejects with hal's `TimeoutError` (`HAL_TIMEOUT`, ETIMEDOUT) if it has not signalled by
	 * then, measured on `clock` (virtual time in simulations).
	 */
	wait(options: { readonly timeoutNs?: bigint; readonly clock?: Clock } = {}): Promise<void> {
		if (this.#state === STATE_SIGNALLED) return Promise.resolve();
		const { timeoutNs, clock } = options;
		return new Promise<void>((resolve, reject) => {
			let timer: { cancel(): void } | undefined;
			const waiter = (): void => {
				timer?.cancel();
				resolve();
			};
			if (this.#waiters === null) this.#waiters = [];
			this.#waiters.push(waiter);
			if (timeoutNs !== undefined) {
				if (clock === undefined) throw new TypeError('Fence.wait: a timeout needs a clock');
				timer = timerSource(clock).after(timeoutNs, () => {
					const list = this.#waiters;
					if (list !== null) {
						const i = list.indexOf(waiter);
						if (i >= 0) list.splice(i, 1);
					}
					if (this.#state === STATE_SIGNALLED) resolve();
					else reject(new TimeoutError(`fence ${this.describe()}`, timeoutNs, 'unsignalled'));
				});
			}
		});
	}

	/** Like {@link Fence.wait}, but rejects with the fence's error if it signalled with one. */
	async result(options: { readonly timeoutNs?: bigint; readonly clock?: Clock } = {}): Promise<void> {
		await this.wait(options);
		if (this.#error !== undefined) throw this.#error;
	}
}

/** Whether every fence in `fences` has signalled. */
export function allSignalled(fences: Iterable<Fence>): boolean {
	for (const f of fences) if (!f.signalled) return false;
	return true;
}

/** Wait for all fences (with one overall timeout, if given). Resolves with the first error found, if any. */
export async function waitAll(
	fences: readonly Fence[],
	options: { readonly timeoutNs?: bigint; readonly clock?: Clock } = {},
): Promise<Error | undefined> {
	const { timeoutNs, clock } = options;
	if (timeoutNs === undefined) {
		await Promise.all(fences.map((f) => f.wait()));
	} else {
		if (clock === undefined) throw new TypeError('waitAll: a timeout needs a clock');
		const deadline = clock.now() + timeoutNs;
		for (const f of fences) {
			const left = deadline - clock.now();
			await f.wait({ timeoutNs: left < 0n ? 0n : left, clock });
		}
	}
	for (const f of fences) if (f.error !== undefined) return f.error;
	return undefined;
}
