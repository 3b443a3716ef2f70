/**
 * Clocks and the one polling helper.
 *
 * Drivers never read wall-clock time directly: they use the platform's {@link Clock}. On hardware that is a
 * {@link RealClock}; under simulation a {@link VirtualClock}, whose time moves only when someone sleeps or
 * advances it, so timeouts are deterministic and a 2-second hardware timeout costs no real time.
 *
 * @module
 */

import { InvalidArgumentError, TimeoutError } from './errors.ts';
import type { Clock } from './platform.ts';

/** Nanoseconds per microsecond, millisecond and second, for readable timeouts (`20n * MS`). */
export const US = 1_000n;
/** Nanoseconds per millisecond. */
export const MS = 1_000_000n;
/** Nanoseconds per second. */
export const SEC = 1_000_000_000n;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function checkNs(what: string, ns: bigint): void {
	if (typeof ns !== 'bigint' || ns < 0n) {
		throw new InvalidArgumentError(`${what} must be a non-negative bigint number of nanoseconds`, {
			[what]: String(ns),
		});
	}
}

/** The monotonic host clock (`process.hrtime.bigint()`); `sleep` uses timers and never blocks the event loop. */
export class RealClock implements Clock {
	readonly kind = 'real' as const;

	now(): bigint {
		return process.hrtime.bigint();
	}

	/**
	 * Sleep at least `ns`. Whole milliseconds go to `setTimeout`; the sub-millisecond rest is spent yielding
	 * with `setImmediate`, so short hardware delays (10 µs resets) stay short without spinning synchronously.
	 */
	async sleep(ns: bigint): Promise<void> {
		checkNs('ns', ns);
		const deadline = this.now() + ns;
		for (;;) {
			const remaining = deadline - this.now();
			if (remaining <= 0n) return;
			if (remaining >= 2n * MS) {
				await new Promise<void>((resolve) => setTimeout(resolve, Number((remaining - MS) / MS)));
			} else {
				await yieldToEventLoop();
			}
		}
	}
}

/** Called after virtual time moved from `from` to `to` (`to > from`). */
export type AdvanceHook = (to: bigint, from: bigint) => void;

interface Timer {
	readonly at: bigint;
	readonly seq: number;
	readonly fn: () => void;
	cancelled: boolean;
}

/** A handle to cancel a timer set with {@link VirtualClock.at}. */
export interface TimerHandle {
	/** Cancel the timer; does nothing if it already ran. */
	cancel(): void;
}

/**
 * Simulated time. `now()` changes only through {@link VirtualClock.advance} and {@link VirtualClock.sleep}.
 *
 * A device model hooks in two ways: {@link VirtualClock.at} runs a callback when time reaches a deadline (time
 * stops at each deadline, so the callback sees `now() === at`), and {@link VirtualClock.onAdvance} observes
 * every move. Concurrent sleepers each advance time by their own amount: virtual time is a single cursor,
 * not a scheduler.
 */
export class VirtualClock implements Clock {
	readonly kind = 'virtual' as const;
	#now: bigint;
	#seq = 0;
	#timers: Timer[] = [];
	readonly #hooks = new Set<AdvanceHook>();

	/** Start at `startNs` (default 0). */
	constructor(startNs = 0n) {
		checkNs('startNs', startNs);
		this.#now = startNs;
	}

	now(): bigint {
		return this.#now;
	}

	/**
	 * Move time forward by `ns`, stopping at every timer deadline on the way to run it, then call the
	 * advance hooks once with the overall move. Synchronous.
	 */
	advance(ns: bigint): void {
		checkNs('ns', ns);
		const from = this.#now;
		const target = from + ns;
		for (;;) {
			const next = this.#timers[0];
			if (next === undefined || next.at > target) break;
			this.#timers.shift();
			if (next.cancelled) continue;
			if (next.at > this.#now) this.#now = next.at;
			next.fn();
		}
		// A timer callback may itself advance time; never move backwards.
		if (this.#now < target) this.#now = target;
		const to = this.#now;
		if (to > from) for (const hook of [...this.#hooks]) hook(to, from);
	}

	/** Advance time by `ns`, then yield to the event loop (`setImmediate`) so other tasks and workers' replies run. */
	async sleep(ns: bigint): Promise<void> {
		this.advance(ns);
		await yieldToEventLoop();
	}

	/**
	 * Run `fn` when virtual time reaches `atNs` (immediately on the next advance if it is already past).
	 * Timers with the same deadline run in the order they were set.
	 */
	at(atNs: bigint, fn: () => void): TimerHandle {
		checkNs('atNs', atNs);
		const timer: Timer = { at: atNs, seq: this.#seq++, fn, cancelled: false };
		const i = this.#timers.findIndex((t) => t.at > atNs);
		if (i < 0) this.#timers.push(timer);
		else this.#timers.splice(i, 0, timer);
		return {
			cancel: () => {
				timer.cancelled = true;
			},
		};
	}

	/** Run `fn` `delayNs` from now. */
	after(delayNs: bigint, fn: () => void): TimerHandle {
		checkNs('delayNs', delayNs);
		return this.at(this.#now + delayNs, fn);
	}

	/** Number of timers not yet run or cancelled. */
	get pendingTimers(): number {
		return this.#timers.filter((t) => !t.cancelled).length;
	}

	/** Observe every move of time. Returns a function that removes the hook. */
	onAdvance(hook: AdvanceHook): () => void {
		this.#hooks.add(hook);
		return () => {
			this.#hooks.delete(hook);
		};
	}
}

/** Options for {@link pollUntil}. */
export interface PollOptions {
	/** Give up after this long (measured on the given clock). */
	readonly timeoutNs: bigint;
	/** Delay between reads; default `timeoutNs / 64`, clamped to 1 µs…10 ms. */
	readonly intervalNs?: bigint;
	/** What is awaited, for the error message, e.g. `'GSP HWCFG2.MEM_SCRUBBING == 0'`. */
	readonly what: string;
}

/**
 * Read until `done(value)` holds or `timeoutNs` passes on `clock`. The value is read once more at the deadline
 * before giving up, so a condition that became true during the last sleep is not reported as a timeout.
 * Errors thrown by `read` propagate unchanged.
 *
 * @returns the first value for which `done` is true.
 * @throws TimeoutError (`HAL_TIMEOUT`, errno ETIMEDOUT) naming `what`, the timeout and the last value read.
 */
export async function pollUntil<T>(
	clock: Clock,
	read: () => T | Promise<T>,
	done: (value: T) => boolean,
	opts: PollOptions,
): Promise<T> {
	checkNs('timeoutNs', opts.timeoutNs);
	let interval = opts.intervalNs ?? opts.timeoutNs / 64n;
	if (opts.intervalNs === undefined) {
		if (interval < US) interval = US;
		if (interval > 10n * MS) interval = 10n * MS;
	} else if (typeof interval !== 'bigint' || interval <= 0n) {
		throw new InvalidArgumentError(`pollUntil(${opts.what}): intervalNs must be a positive bigint`, {
			intervalNs: String(interval),
		});
	}
	const deadline = clock.now() + opts.timeoutNs;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		const now = clock.now();
		if (now >= deadline) throw new TimeoutError(opts.what, opts.timeoutNs, value);
		const remaining = deadline - now;
		await clock.sleep(remaining < interval ? remaining : interval);
	}
}
