/**
 * A GPFIFO channel's CPU side: the ring of GP entries, USERD `GP_PUT`/`GP_GET`, the doorbell, a kernel
 * pushbuffer area, and the channel's semaphore fence timeline.
 *
 * Submission follows hardware reference C.4: write the GP entries, store `GP_PUT` in USERD (a sequentially
 * consistent store, which is the memory barrier), then write the work-submit token to the doorbell. The host
 * advances `GP_GET` as it fetches entries; one slot always stays empty so that `GP_PUT == GP_GET` means "empty".
 *
 * The kernel pushbuffer area has one fixed-size slot per GP ring slot, used by the entry written at that ring
 * index. A slot is rewritten only when its ring index comes round again, and the scheduler's credits (one per
 * GP entry, at most `entries - 1` outstanding until their fences signal) guarantee the previous user of the slot
 * has completed by then. So the fence sequence and kernel-built commands are written at `run()` time into memory
 * reserved when the channel was created: no allocation, no failure.
 *
 * @module
 */

import { type Clock, pollUntil } from '@gspkit/hal';
import { type HostClassInfo, hostClassInfo } from './classes.ts';
import { ChannelArgumentError, DeviceLostError, FenceContractError, RingFullError } from './errors.ts';
import type { Fence } from './fence.ts';
import {
	type Doorbell,
	encodeGpEntry,
	GP_ENTRY_SIZE,
	type GpSegment,
	PB_VA_BITS,
	USERD,
	USERD_SIZE,
} from './gpfifo.ts';
import type { MemoryRegion } from './memory.ts';
import { PushBuffer } from './pushbuf.ts';
import { SemaphoreTimeline } from './semaphore-fence.ts';

/** A CPU view plus the GPU VA of the same memory. */
export interface GpuMapped {
	/** CPU view. */
	readonly cpu: MemoryRegion;
	/** GPU virtual address of the first byte (in the channel's VA space). */
	readonly va: bigint;
}

/** Everything a {@link GpFifoChannel} needs; the memory is allocated and mapped by the caller (or RM backend). */
export interface GpFifoChannelOptions {
	/** Name for diagnostics (e.g. `'ch3'`). */
	readonly name: string;
	/** Host class (object or ID, e.g. `0xc56f`). */
	readonly host: HostClassInfo | number;
	/** The GPFIFO ring: `entries × 8` bytes. Its GPU VA went to RM as `gpFifoOffset`. */
	readonly ring: MemoryRegion;
	/** Number of ring entries: a power of two ≥ 2 (`LIMIT2` in RAMFC is log2 of it). */
	readonly entries: number;
	/** This channel's 512-byte USERD. */
	readonly userd: MemoryRegion;
	/** Doorbell (usermode region); {@link bar0Doorbell} for BAR0. */
	readonly doorbell: Doorbell;
	/** Work-submit token (from RM's `GPFIFO_GET_WORK_SUBMIT_TOKEN`). */
	readonly workSubmitToken: number;
	/** Kernel pushbuffer area: `entries × slotWords × 4` bytes, GPU-visible. */
	readonly kernelPush: GpuMapped;
	/** Words per kernel-push slot; default 64. Must hold the fence sequence (13 words). */
	readonly slotWords?: number;
	/** The channel's semaphore (≥ 4 bytes, 4-byte aligned VA below the host class's semaphore VA limit). */
	readonly semaphore: GpuMapped;
}

/** The fence sequence for a channel, with the index of the payload word patched at emission. */
interface FenceTemplate {
	readonly words: Uint32Array;
	readonly payloadIndex: number;
}

function buildFenceTemplate(host: HostClassInfo, va: bigint): FenceTemplate {
	const a = new PushBuffer(host, 16).fence(va, 0).words().slice();
	const b = new PushBuffer(host, 16).fence(va, 0xffffffff).words();
	const diff: number[] = [];
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
	if (diff.length !== 1 || diff[0] === undefined) {
		throw new FenceContractError('fence template: expected exactly one payload word', { diff });
	}
	return { words: a, payloadIndex: diff[0] };
}

/** The CPU side of one GPFIFO channel. */
export class GpFifoChannel {
	/** Name for diagnostics. */
	readonly name: string;
	/** The host class the channel was created with. */
	readonly host: HostClassInfo;
	/** Ring entries (a power of two). */
	readonly entries: number;
	/** Most entries that can be outstanding at once (`entries - 1`). */
	readonly capacity: number;
	/** Words per kernel-push slot. */
	readonly slotWords: number;
	/** Hardware fences of this channel. */
	readonly timeline: SemaphoreTimeline;
	/** The work-submit token written to the doorbell. */
	readonly workSubmitToken: number;
	readonly #mask: number;
	readonly #ring: MemoryRegion;
	readonly #userd: MemoryRegion;
	readonly #doorbell: Doorbell;
	readonly #kpush: GpuMapped;
	readonly #fenceTemplate: FenceTemplate;
	/** Per ring slot: GP entry word 0 and word 1 (without LENGTH) of its kernel-push slot, precomputed. */
	readonly #slotW0: Uint32Array;
	readonly #slotW1: Uint32Array;
	#put = 0;
	#dead: Error | undefined = undefined;
	/** Number of times the put index wrapped to 0 (diagnostics). */
	wraps = 0;
	/** Number of doorbell writes (diagnostics). */
	kicks = 0;

	/** Validate the memory and geometry, build the fence template, reset the semaphore. */
	constructor(options: GpFifoChannelOptions) {
		const entries = options.entries;
		if (!Number.isInteger(entries) || entries < 2 || entries > 1 << 20 || (entries & (entries - 1)) !== 0) {
			throw new ChannelArgumentError('GPFIFO entries must be a power of two in 2..2^20', { entries });
		}
		if (options.ring.size < entries * GP_ENTRY_SIZE) {
			throw new ChannelArgumentError('GPFIFO ring memory is too small', { size: options.ring.size, entries });
		}
		if (options.userd.size < USERD_SIZE) {
			throw new ChannelArgumentError('USERD must be 512 bytes', { size: options.userd.size });
		}
		const slotWords = options.slotWords ?? 64;
		if (!Number.isInteger(slotWords) || slotWords < 16) {
			throw new ChannelArgumentError('kernel push slots must hold at least 16 words', { slotWords });
		}
		if (options.kernelPush.cpu.size < entries * slotWords * 4) {
			throw new ChannelArgumentError('kernel push area is too small', {
				size: options.kernelPush.cpu.size,
				needed: entries * slotWords * 4,
			});
		}
		const kpEnd = options.kernelPush.va + BigInt(entries * slotWords * 4);
		if (
			(options.kernelPush.va & 3n) !== 0n ||
			options.kernelPush.va < 0n ||
			kpEnd > 1n << BigInt(PB_VA_BITS)
		) {
			throw new ChannelArgumentError(
				'kernel push area must be 4-byte aligned and below the 40-bit PB VA limit',
				{
					va: String(options.kernelPush.va),
				},
			);
		}
		this.name = options.name;
		this.host = typeof options.host === 'number' ? hostClassInfo(options.host) : options.host;
		this.entries = entries;
		this.capacity = entries - 1;
		this.slotWords = slotWords;
		this.workSubmitToken = options.workSubmitToken >>> 0;
		this.#mask = entries - 1;
		this.#ring = options.ring;
		this.#userd = options.userd;
		this.#doorbell = options.doorbell;
		this.#kpush = options.kernelPush;
		this.#slotW0 = new Uint32Array(entries);
		this.#slotW1 = new Uint32Array(entries);
		for (let i = 0; i < entries; i++) {
			const va = options.kernelPush.va + BigInt(i * slotWords * 4);
			this.#slotW0[i] = Number(va & 0xfffffffcn);
			this.#slotW1[i] = Number(va >> 32n); // GET_HI 7:0 (below 2^40, checked above)
		}
		const sem = options.semaphore;
		this.#fenceTemplate = buildFenceTemplate(this.host, sem.va);
		if (this.#fenceTemplate.words.length > slotWords) {
			throw new ChannelArgumentError('kernel push slot too small for the fence sequence', { slotWords });
		}
		// The timeline starts at seqno 1, so the semaphore must start at 0 (a stale value would signal early).
		sem.cpu.store32(0, 0);
		this.timeline = new SemaphoreTimeline(`${options.name}.hw`, sem.va, { read: () => sem.cpu.load32(0) });
		// Start from wherever the hardware is (a fresh channel has GP_GET = GP_PUT = 0).
		this.#put = this.#userd.load32(USERD.GP_GET) & this.#mask;
	}

	/** Our `GP_PUT` (the index the next entry goes to). */
	get put(): number {
		return this.#put;
	}

	/** `GP_GET` as the host last wrote it to USERD (an acquire load). */
	get get(): number {
		return this.#userd.load32(USERD.GP_GET) & this.#mask;
	}

	/** Entries written and not yet fetched by the host. */
	get inFlight(): number {
		return (this.#put - this.get) & this.#mask;
	}

	/** Entries that can be written now without overrunning the host. */
	get space(): number {
		return this.capacity - this.inFlight;
	}

	/** Whether the channel was killed; {@link GpFifoChannel.deathCause} says why. */
	get killed(): boolean {
		return this.#dead !== undefined;
	}

	/** Why the channel was killed (`undefined` while alive). */
	get deathCause(): Error | undefined {
		return this.#dead;
	}

	/** GPU VA of the kernel-push slot used by the entry at ring index `index`. */
	slotVa(index: number): bigint {
		return this.#kpush.va + BigInt((index & this.#mask) * this.slotWords * 4);
	}

	#checkAlive(): void {
		if (this.#dead !== undefined) {
			throw new DeviceLostError(
				`channel ${this.name} is dead: ${this.#dead.message}`,
				{ channel: this.name },
				this.#dead,
			);
		}
	}

	// ---- direct submission (validated; may fail) -------------------------------------------------------------------

	/**
	 * Validate and submit `segments` (plus, with `fence`, the fence sequence): write the entries, publish
	 * `GP_PUT`, ring the doorbell. Throws `CHSCHED_RING_FULL` if the ring has no room (nothing is written), or
	 * `CHSCHED_DEVICE_LOST` on a killed channel.
	 */
	submit(segments: readonly GpSegment[], fence?: Fence): void {
		this.#checkAlive();
		const encoded = segments.map((s) => encodeGpEntry(s));
		const needed = encoded.length + (fence === undefined ? 0 : 1);
		if (needed === 0) return;
		if (needed > this.space) {
			throw new RingFullError(`channel ${this.name}: ${needed} GP entries needed, ${this.space} free`, {
				needed,
				space: this.space,
			});
		}
		for (const [w0, w1] of encoded) this.writeEntry(w0, w1);
		if (fence !== undefined) this.writeFence(fence);
		this.kick();
	}

	/**
	 * Like {@link GpFifoChannel.submit}, but when the ring is full wait (polling `GP_GET` on `clock`) until there
	 * is room — back-pressure. Rejects with hal's `TimeoutError` after `timeoutNs`.
	 */
	async submitWhenSpace(
		segments: readonly GpSegment[],
		options: { readonly clock: Clock; readonly timeoutNs: bigint; readonly fence?: Fence },
	): Promise<void> {
		const needed = segments.length + (options.fence === undefined ? 0 : 1);
		if (needed > this.capacity) {
			throw new ChannelArgumentError(`${needed} entries can never fit a ${this.entries}-entry ring`, {
				needed,
			});
		}
		if (this.space < needed) {
			await pollUntil(
				options.clock,
				() => {
					this.#checkAlive();
					return this.space;
				},
				(s) => s >= needed,
				{ timeoutNs: options.timeoutNs, what: `${needed} free GP entries on ${this.name}` },
			);
		}
		this.submit(segments, options.fence);
	}

	// ---- the run() path: no validation beyond asserts, no allocation ---------------------------------------------

	/** Write one pre-encoded entry at `GP_PUT` and advance (not yet published). */
	writeEntry(w0: number, w1: number): void {
		const off = this.#put * GP_ENTRY_SIZE;
		this.#ring.write32(off, w0);
		this.#ring.write32(off + 4, w1);
		this.#advance();
	}

	#advance(): void {
		this.#put = (this.#put + 1) & this.#mask;
		if (this.#put === 0) this.wraps++;
	}

	/** The entry that fetches `lengthWords` words from the kernel-push slot of ring index `index`. */
	#slotEntry(index: number, lengthWords: number): void {
		// LENGTH 30:10; lengthWords <= slotWords was checked by the caller.
		this.writeEntry(
			this.#slotW0[index] as number,
			((this.#slotW1[index] as number) | (lengthWords << 10)) >>> 0,
		);
	}

	/**
	 * Copy pre-built commands (≤ `slotWords` words, validated at submit) into the kernel-push slot of the current
	 * ring index and write the entry that fetches them.
	 */
	writeKernelChunk(words: Uint32Array): void {
		if (words.length === 0 || words.length > this.slotWords) {
			throw new FenceContractError('kernel chunk size was not validated at submit', { words: words.length });
		}
		const index = this.#put;
		this.#kpush.cpu.writeWords(index * this.slotWords * 4, words);
		this.#slotEntry(index, words.length);
	}

	/**
	 * Arm `fence` on this channel's timeline and write the fence sequence (release seqno, SYS_MEMBAR,
	 * NON_STALL_INTERRUPT) into the current slot, plus its entry.
	 */
	writeFence(fence: Fence): void {
		const payload = this.timeline.emit(fence);
		if (this.#dead !== undefined) {
			// The host will never release it: fail it now (in order, after everything failed at kill time).
			this.timeline.failAll(this.#dead);
			return;
		}
		const index = this.#put;
		const base = index * this.slotWords * 4;
		const t = this.#fenceTemplate;
		const cpu = this.#kpush.cpu;
		cpu.writeWords(base, t.words);
		cpu.write32(base + 4 * t.payloadIndex, payload);
		this.#slotEntry(index, t.words.length);
	}

	/** Publish `GP_PUT` (the barrier) and ring the doorbell with the work-submit token. */
	kick(): void {
		if (this.#dead !== undefined) return;
		this.#userd.store32(USERD.GP_PUT, this.#put);
		this.#doorbell.ring(this.workSubmitToken);
		this.kicks++;
	}

	/**
	 * Mark the channel dead and fail every pending hardware fence with `error` (in order). Later submissions throw
	 * `CHSCHED_DEVICE_LOST`. Idempotent.
	 */
	kill(error: Error): void {
		if (this.#dead !== undefined) return;
		this.#dead = error;
		this.timeline.failAll(error);
	}
}
