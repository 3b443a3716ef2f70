/**
 * One-shot timers on the platform clock.
 *
 * `hal`'s {@link Clock} has only `now()` and `sleep()`. Timeouts that must fire while nobody sleeps (a job
 * watchdog, a fence wait) need a timer: on a `VirtualClock` that is its `after()` (fires when simulated time
 * passes the deadline, so tests never depend on wall time); on a real clock it is `setTimeout`.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';

/** A pending timer. */
export interface TimerHandle {
	/** Cancel the timer; does nothing if it already fired. */
	cancel(): void;
}

/** Something that runs a callback after a delay measured on a clock. */
export interface TimerSource {
	/** The clock the delays are measured on. */
	readonly clock: Clock;
	/**
	 * Run `fn` once `delayNs` has passed on the clock. `keepAlive: false` lets a Node process exit while the
	 * timer is pending (used for watchdogs); default true.
	 */
	after(delayNs: bigint, fn: () => void, keepAlive?: boolean): TimerHandle;
}

interface VirtualTimers {
	after(delayNs: bigint, fn: () => void): TimerHandle;
}

function hasAfter(clock: Clock): clock is Clock & VirtualTimers {
	return typeof (clock as Partial<VirtualTimers>).after === 'function';
}

const NS_PER_MS = 1_000_000n;

/** The timer source for `clock`: the clock's own timers when it has them (virtual time), else `setTimeout`. */
export function timerSource(clock: Clock): TimerSource {
	if (hasAfter(clock)) {
		return { clock, after: (delayNs, fn) => clock.after(delayNs < 0n ? 0n : delayNs, fn) };
	}
	return {
		clock,
		after(delayNs, fn, keepAlive = true) {
			// Round up: a timer must never fire before its deadline.
			const ms = delayNs <= 0n ? 0 : Number((delayNs + NS_PER_MS - 1n) / NS_PER_MS);
			const t = setTimeout(fn, Math.min(ms, 0x7fffffff));
			if (!keepAlive) t.unref();
			return { cancel: () => clearTimeout(t) };
		},
	};
}
