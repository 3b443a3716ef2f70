/**
 * Per-channel semaphore fences and the non-stall-interrupt-driven fence processing.
 *
 * Each channel owns a 32-bit semaphore in GPU-visible memory. Emitting a fence appends the nouveau (Volta+)
 * sequence to the channel's pushbuffer — `SEM_EXECUTE` RELEASE of the fence's seqno (with WFI), a `MEM_OP`
 * SYS_MEMBAR, `NON_STALL_INTERRUPT` (hardware reference C.2). When the interrupt fires (or on a poll), the CPU
 * reads the semaphore and signals, in order, every pending fence whose seqno it has reached. The payload is the
 * low 32 bits of the seqno and compared circularly, so the timeline survives wrap-around as long as fewer than
 * 2^31 fences are in flight.
 *
 * @module
 */

import { type Clock, type InterruptLine, pollUntil } from '@gspkit/hal';
import { type Fence, FenceContext } from './fence.ts';
import { enterSignallingSection, leaveSignallingSection } from './signalling.ts';

/** Reads the current 32-bit payload of a semaphore through its CPU mapping. */
export interface SemaphoreReader {
	/** The current payload (unsigned 32-bit). Must be an acquire load when the memory is shared with a device. */
	read(): number;
}

/** Whether 32-bit payload `value` has reached `target`, circularly (`(value - target) mod 2^32` < 2^31). */
export function semaphoreReached(value: number, target: number): boolean {
	return ((value - target) | 0) >= 0;
}

/** Anything the {@link FenceProcessor} can poll. */
export interface FenceSource {
	/** Signal whatever has completed; returns how many fences signalled. */
	process(): number;
}

/**
 * A channel's hardware-fence timeline: fences are armed in emission order and signalled when the semaphore
 * reaches their seqno. Arming and signalling never allocate: pending fences are kept in an intrusive list.
 */
export class SemaphoreTimeline implements FenceSource {
	/** The fence context (one per channel). */
	readonly context: FenceContext;
	/** GPU VA of the semaphore (the address the release method writes). */
	readonly va: bigint;
	readonly #reader: SemaphoreReader;
	#head: Fence | null = null;
	#tail: Fence | null = null;
	#pending = 0;

	/**
	 * @param va GPU VA of the semaphore.
	 * @param reader reads its payload; it must hold `firstSeqno - 1` (0 by default) before the first fence.
	 */
	constructor(
		name: string,
		va: bigint,
		reader: SemaphoreReader,
		options: { readonly firstSeqno?: number } = {},
	) {
		this.context = new FenceContext(
			name,
			options.firstSeqno === undefined ? {} : { firstSeqno: options.firstSeqno },
		);
		this.va = va;
		this.#reader = reader;
	}

	/** Fences emitted and not yet signalled. */
	get pending(): number {
		return this.#pending;
	}

	/**
	 * Arm a preallocated fence with the next seqno and track it. Returns the 32-bit payload the release must
	 * write. Call this exactly when the release is written to the pushbuffer.
	 */
	emit(fence: Fence): number {
		fence.arm(this.context);
		fence._next = null;
		if (this.#tail === null) this.#head = fence;
		else this.#tail._next = fence;
		this.#tail = fence;
		this.#pending++;
		return fence.seqno >>> 0;
	}

	/** The payload the semaphore holds now. */
	current(): number {
		return this.#reader.read() >>> 0;
	}

	/** Signal, in order, every pending fence the semaphore has reached. Returns how many signalled. */
	process(): number {
		if (this.#head === null) return 0;
		const value = this.current();
		let n = 0;
		enterSignallingSection('fence processing');
		try {
			let f: Fence | null = this.#head;
			while (f !== null && semaphoreReached(value, f.seqno >>> 0)) {
				const next: Fence | null = f._next;
				this.#head = next;
				if (next === null) this.#tail = null;
				f._next = null;
				this.#pending--;
				n++;
				f.signal();
				f = next;
			}
		} finally {
			leaveSignallingSection();
		}
		return n;
	}

	/**
	 * Signal every pending fence with `error`, in order (the channel died: its semaphore will never advance).
	 * Returns how many fences were failed.
	 */
	failAll(error: Error): number {
		let n = 0;
		enterSignallingSection('fence failure');
		try {
			let f = this.#head;
			this.#head = null;
			this.#tail = null;
			while (f !== null) {
				const next: Fence | null = f._next;
				f._next = null;
				this.#pending--;
				n++;
				f.signalWith(error);
				f = next;
			}
		} finally {
			leaveSignallingSection();
		}
		return n;
	}

	/**
	 * Poll for `fence` without interrupts (hal `pollUntil` on `clock`): processes the timeline until the fence
	 * signals or `timeoutNs` passes (then hal's `TimeoutError`).
	 */
	async pollFor(fence: Fence, clock: Clock, timeoutNs: bigint, intervalNs?: bigint): Promise<void> {
		await pollUntil(
			clock,
			() => {
				this.process();
				return fence.signalled;
			},
			(done) => done,
			{ timeoutNs, what: `fence ${fence.describe()}`, ...(intervalNs === undefined ? {} : { intervalNs }) },
		);
	}
}

/**
 * Drives fence processing for a set of timelines: from the non-stall interrupt ({@link FenceProcessor.runIrqLoop})
 * or by polling ({@link FenceProcessor.processAll}).
 */
export class FenceProcessor {
	readonly #sources = new Set<FenceSource>();
	#running = false;
	#stop = false;
	/** Number of interrupts seen by the loop (for diagnostics and tests). */
	interrupts = 0;

	/** Track a timeline (or any source). */
	add(source: FenceSource): void {
		this.#sources.add(source);
	}

	/** Stop tracking a source. */
	remove(source: FenceSource): void {
		this.#sources.delete(source);
	}

	/** Process every source once; returns the number of fences signalled. */
	processAll(): number {
		let n = 0;
		for (const s of this.#sources) n += s.process();
		return n;
	}

	/** Whether the interrupt loop is running. */
	get running(): boolean {
		return this.#running;
	}

	/**
	 * Wait on the non-stall interrupt line (`platform.irq('nonstall')`) and process all sources after every
	 * interrupt, and at least every `pollIntervalNs` (a missed interrupt then costs latency, not a hang).
	 * The interrupt is acknowledged *before* processing, so one that fires during processing is not lost.
	 * Resolves after {@link FenceProcessor.stop}.
	 */
	async runIrqLoop(line: InterruptLine, options: { readonly pollIntervalNs?: bigint } = {}): Promise<void> {
		if (this.#running) return;
		this.#running = true;
		this.#stop = false;
		const interval = options.pollIntervalNs ?? 10_000_000n;
		try {
			while (!this.#stop) {
				const fired = await line.wait(interval);
				if (fired) {
					this.interrupts++;
					line.acknowledge();
				}
				this.processAll();
			}
		} finally {
			this.#running = false;
		}
	}

	/** Ask the interrupt loop to exit (after its current wait returns). */
	stop(): void {
		this.#stop = true;
	}
}
