/**
 * Blocking waits on the device clock.
 *
 * The kernel's waits sleep until something they registered on wakes them or a deadline passes. Here a
 * wait is a loop: check a condition; if it does not hold, sleep until a registered callback fires or a
 * timer at the (absolute) deadline does. On a `VirtualClock` the timer is the clock's own (`at`), so a
 * timeout happens exactly when simulated time passes the deadline and never depends on wall time; on a
 * real clock it is `setTimeout`.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';

/** A pending timer. */
export interface TimerHandle {
	/** Cancel the timer; nothing happens if it already fired. */
	cancel(): void;
}

interface AtClock {
	at(atNs: bigint, fn: () => void): TimerHandle;
}

function hasAt(clock: Clock): clock is Clock & AtClock {
	return typeof (clock as Partial<AtClock>).at === 'function';
}

const NS_PER_MS = 1_000_000n;
const MAX_TIMEOUT_MS = 0x7fffffff;

/** Run `fn` once the clock reads at least `atNs` (virtual clocks: their own timers; else `setTimeout`). */
export function timerAt(clock: Clock, atNs: bigint, fn: () => void): TimerHandle {
	if (hasAt(clock)) return clock.at(atNs < 0n ? 0n : atNs, fn);
	let cancelled = false;
	let timer: ReturnType<typeof setTimeout> | undefined;
	const arm = (): void => {
		const left = atNs - clock.now();
		if (left <= 0n) {
			fn();
			return;
		}
		const ms = Number((left + NS_PER_MS - 1n) / NS_PER_MS);
		timer = setTimeout(
			() => {
				if (!cancelled) arm();
			},
			Math.min(ms, MAX_TIMEOUT_MS),
		);
	};
	// Never call `fn` synchronously from here: callers register wake-ups after arming the timer.
	timer = setTimeout(() => {
		if (!cancelled) arm();
	}, 0);
	return {
		cancel: () => {
			cancelled = true;
			if (timer !== undefined) clearTimeout(timer);
		},
	};
}

/**
 * Wait until `check()` returns a value (returned) or the clock reaches `deadlineNs` (`undefined` is
 * returned). `arm(wake)` registers `wake` with whatever can make `check` succeed (fence callbacks,
 * syncobj changes); it is called again before each sleep and may return a function that unregisters it.
 * `deadlineNs === null` waits forever. The condition is checked once more after the deadline, so a poll
 * (deadline in the past) checks exactly once.
 */
export async function waitUntil<T>(
	clock: Clock,
	deadlineNs: bigint | null,
	check: () => T | undefined,
	arm: (wake: () => void) => (() => void) | undefined,
): Promise<T | undefined> {
	for (;;) {
		const r = check();
		if (r !== undefined) return r;
		if (deadlineNs !== null && clock.now() >= deadlineNs) return undefined;
		let cleanup: (() => void) | undefined;
		await new Promise<void>((resolve) => {
			let done = false;
			let timer: TimerHandle | undefined;
			const wake = (): void => {
				if (done) return;
				done = true;
				timer?.cancel();
				resolve();
			};
			if (deadlineNs !== null) timer = timerAt(clock, deadlineNs, wake);
			cleanup = arm(wake);
		});
		cleanup?.();
	}
}
