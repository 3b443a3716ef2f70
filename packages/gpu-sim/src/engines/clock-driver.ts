/**
 * How the engines get time to run: timers at a deadline and a tick while time moves. On a hal `VirtualClock`
 * both are the clock's own hooks (`at`, `onAdvance`), so simulated time alone drives the engines and tests
 * stay deterministic; on a real clock they are Node timers (unref'd, so a simulator never keeps a process
 * alive).
 *
 * @internal
 * @module
 */

import type { Clock } from '@gspkit/hal';

interface VirtualHooks {
	at(atNs: bigint, fn: () => void): { cancel(): void };
	onAdvance(hook: (to: bigint, from: bigint) => void): () => void;
}

function virtualHooks(clock: Clock): VirtualHooks | undefined {
	const c = clock as Partial<VirtualHooks> & Clock;
	return clock.kind === 'virtual' && typeof c.at === 'function' && typeof c.onAdvance === 'function'
		? (c as VirtualHooks)
		: undefined;
}

/** Engine time source. */
export class ClockDriver {
	readonly clock: Clock;
	readonly #virtual: VirtualHooks | undefined;
	readonly #tickNs: bigint;
	#tick: (() => void) | undefined;
	#ticking = false;
	#removeHook: (() => void) | undefined;
	#interval: ReturnType<typeof setInterval> | undefined;
	#closed = false;

	/** `tickNs`: the re-evaluation period on a real clock (a virtual clock ticks on every advance). */
	constructor(clock: Clock, tickNs: bigint) {
		this.clock = clock;
		this.#virtual = virtualHooks(clock);
		this.#tickNs = tickNs;
	}

	now(): bigint {
		return this.clock.now();
	}

	/** Run `fn` once at `atNs` (immediately on the next tick of a real clock if it is already past). */
	at(atNs: bigint, fn: () => void): { cancel(): void } {
		if (this.#closed) return { cancel() {} };
		if (this.#virtual !== undefined) return this.#virtual.at(atNs, fn);
		const delay = atNs - this.clock.now();
		const ms = delay <= 0n ? 0 : Number((delay + 999_999n) / 1_000_000n);
		const t = ms === 0 ? setImmediate(fn) : setTimeout(fn, ms);
		if (typeof t === 'object' && t !== null && 'unref' in t) t.unref();
		return {
			cancel: () => {
				if (ms === 0) clearImmediate(t as ReturnType<typeof setImmediate>);
				else clearTimeout(t as ReturnType<typeof setTimeout>);
			},
		};
	}

	/** Set the function called while ticking. */
	onTick(fn: () => void): void {
		this.#tick = fn;
	}

	/** Start or stop ticking (only needed while something waits on memory or on time). */
	setTicking(on: boolean): void {
		if (this.#closed || on === this.#ticking) return;
		this.#ticking = on;
		if (this.#virtual !== undefined) {
			if (on) this.#removeHook = this.#virtual.onAdvance(() => this.#tick?.());
			else {
				this.#removeHook?.();
				this.#removeHook = undefined;
			}
			return;
		}
		if (on) {
			const ms = Math.max(1, Number(this.#tickNs / 1_000_000n));
			this.#interval = setInterval(() => this.#tick?.(), ms);
			this.#interval.unref();
		} else {
			clearInterval(this.#interval);
			this.#interval = undefined;
		}
	}

	/** Stop everything. */
	close(): void {
		this.setTicking(false);
		this.#closed = true;
	}
}
