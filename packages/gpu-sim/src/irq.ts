/**
 * Interrupt lines of the simulated GPU. The device side raises a line; the driver side waits on it,
 * polls `pending()` and acknowledges it, per hal's {@link InterruptLine}.
 *
 * @module
 */

import { type Clock, type InterruptLine, pollUntil, TimeoutError } from '@gspkit/hal';
import { SimulatorClosedError } from './errors.ts';

/** Names of the interrupt lines every simulated board has. */
export const SIM_IRQ_NAMES = ['gsp', 'nonstall', 'stall'] as const;

/** One of {@link SIM_IRQ_NAMES}. */
export type SimIrqName = (typeof SIM_IRQ_NAMES)[number];

interface Waiter {
	settle(fired: boolean): void;
}

/**
 * A latched interrupt line: {@link SimInterruptLine.raise} sets it pending until the driver acknowledges
 * it. Waits time out on the platform clock, so on a virtual clock they end when virtual time passes the
 * deadline, never by wall-clock time.
 */
export class SimInterruptLine implements InterruptLine {
	readonly name: string;
	#clock: Clock;
	#pending = false;
	#waiters = new Set<Waiter>();
	#raised = 0;
	#closed = false;

	constructor(name: string, clock: Clock) {
		this.name = name;
		this.#clock = clock;
	}

	/** How many times the device raised the line (diagnostics, tests). */
	get raiseCount(): number {
		return this.#raised;
	}

	/** Device side: assert the interrupt. Wakes every waiter. */
	raise(): void {
		if (this.#closed) throw new SimulatorClosedError(`interrupt ${this.name} raise`);
		this.#raised++;
		this.#pending = true;
		for (const w of [...this.#waiters]) w.settle(true);
	}

	/**
	 * Resolve `true` as soon as the line is pending (immediately if it already is), or `false` once
	 * `timeoutNs` has passed on the platform clock. Waiting does not acknowledge the interrupt.
	 *
	 * On a virtual clock the wait drives time itself, in steps of 1/64 of the timeout (1 µs to 10 ms) via
	 * hal's `pollUntil`, so device models scheduled on the clock run and a wait nobody answers ends at its
	 * virtual deadline instead of hanging. On a real clock it is a timer that the interrupt cancels.
	 */
	async wait(timeoutNs: bigint): Promise<boolean> {
		if (this.#closed) throw new SimulatorClosedError(`interrupt ${this.name} wait`);
		if (this.#pending) return true;
		if (timeoutNs <= 0n) return false;
		if (this.#clock.kind === 'real') return this.#waitReal(timeoutNs);
		const raisedBefore = this.#raised;
		try {
			await pollUntil(this.#clock, () => this.#closed || this.#raised !== raisedBefore, Boolean, {
				timeoutNs,
				what: `interrupt ${this.name}`,
			});
		} catch (e) {
			if (e instanceof TimeoutError) return this.#pending;
			throw e;
		}
		return !this.#closed;
	}

	#waitReal(timeoutNs: bigint): Promise<boolean> {
		return new Promise<boolean>((resolve) => {
			let timer: ReturnType<typeof setTimeout> | undefined;
			const waiter: Waiter = {
				settle: (fired) => {
					if (!this.#waiters.delete(waiter)) return;
					clearTimeout(timer);
					resolve(fired);
				},
			};
			this.#waiters.add(waiter);
			timer = setTimeout(() => waiter.settle(this.#pending), Number((timeoutNs + 999_999n) / 1_000_000n));
		});
	}

	/** Whether the line fired and has not been acknowledged. */
	pending(): boolean {
		if (this.#closed) throw new SimulatorClosedError(`interrupt ${this.name} pending`);
		return this.#pending;
	}

	/** Clear the pending state. */
	acknowledge(): void {
		if (this.#closed) throw new SimulatorClosedError(`interrupt ${this.name} acknowledge`);
		this.#pending = false;
	}

	/** Detach: current waiters resolve `false`, later calls throw {@link SimulatorClosedError}. */
	close(): void {
		if (this.#closed) return;
		this.#pending = false;
		this.#closed = true;
		for (const w of [...this.#waiters]) w.settle(false);
	}
}
