/**
 * The small shared memory block between the driver's thread and the GSP processor: a wake-up word the GSP
 * sleeps on (`Atomics.wait`), the doorbell counter, the GSP's published state, and the GSP queue register
 * block (`NV_PGSP_QUEUE_HEAD/TAIL(i)`, `MSGQ_HEAD/TAIL(i)`, BAR0 0x110c00–0x110cff). Writing
 * `QUEUE_HEAD(0)` is the doorbell; the other queue registers are plain storage both sides see, which the
 * boot-time CPU sequencer program uses as scratch registers.
 *
 * @module
 */

import type { MmioDevice, MmioRange } from '../mmio.ts';
import { GSP_QUEUE_REGS } from './constants.ts';

/** Word indices in the shared block (an `Int32Array`). */
export const SHARED = Object.freeze({
	/** Incremented whenever the GSP has something to look at; it `Atomics.wait`s on this word. */
	WAKE: 0,
	/** Number of doorbell writes (`QUEUE_HEAD(0)`) so far. */
	DOORBELLS: 1,
	/** The GSP's phase ({@link GSP_RM_PHASE_CODES}), published by the GSP. */
	PHASE: 2,
	/** 1 while the GSP is hung by fault injection. */
	HUNG: 3,
	/** Host → GSP command counter (the worker drains its command port when it changes). */
	COMMANDS: 4,
	/** First word of the queue register block (64 words: byte offset / 4). */
	REGS: 16,
	/** Words in the block. */
	LENGTH: 16 + GSP_QUEUE_REGS.SIZE / 4,
});

/** Phases of the emulated GSP-RM, in boot order. */
export const GSP_RM_PHASES = [
	'off',
	'booting',
	'await-system-info',
	'sequencer',
	'running',
	'unloaded',
	'failed',
] as const;

/** One of {@link GSP_RM_PHASES}. */
export type GspRmPhase = (typeof GSP_RM_PHASES)[number];

/** The numeric code of a phase in the shared block. */
export function phaseCode(phase: GspRmPhase): number {
	return GSP_RM_PHASES.indexOf(phase);
}

/** The phase a code stands for. */
export function phaseOf(code: number): GspRmPhase {
	return GSP_RM_PHASES[code] ?? 'failed';
}

/** A fresh shared block (all zero: phase `off`, no doorbells). */
export function createSharedBlock(): Int32Array {
	return new Int32Array(new SharedArrayBuffer(SHARED.LENGTH * 4));
}

/** Wake the GSP processor (it may be sleeping in `Atomics.wait` on {@link SHARED.WAKE}). */
export function wakeGsp(block: Int32Array): void {
	Atomics.add(block, SHARED.WAKE, 1);
	Atomics.notify(block, SHARED.WAKE);
}

/** Read queue register `offset` (relative to 0x110c00) from the shared block. */
export function readQueueRegister(block: Int32Array, offset: number): number {
	return Atomics.load(block, SHARED.REGS + (offset >> 2)) >>> 0;
}

/** Write queue register `offset` in the shared block (GSP side: no doorbell, no wake). */
export function writeQueueRegister(block: Int32Array, offset: number, value: number): void {
	Atomics.store(block, SHARED.REGS + (offset >> 2), value | 0);
}

/**
 * The GSP queue registers as a BAR0 device (0x110c00–0x110cff). Mount it in the register file, or forward
 * the falcon model's accesses to that block to it. A write to `QUEUE_HEAD(0)` rings the doorbell; every
 * write wakes the GSP (the CPU sequencer's completion is a register write).
 */
export class GspQueueRegisters implements MmioDevice {
	readonly name = 'gsp-queue-registers';
	readonly range: MmioRange = Object.freeze({
		start: GSP_QUEUE_REGS.BAR0_BASE,
		end: GSP_QUEUE_REGS.BAR0_BASE + GSP_QUEUE_REGS.SIZE,
	});
	readonly #block: Int32Array;
	readonly #onWake: () => void;

	/** @param onWake called after every write (in-thread modes schedule a GSP step from it). */
	constructor(block: Int32Array, onWake: () => void = () => {}) {
		this.#block = block;
		this.#onWake = onWake;
	}

	read32(offset: number): number {
		return readQueueRegister(this.#block, offset);
	}

	write32(offset: number, value: number): void {
		writeQueueRegister(this.#block, offset, value);
		if (offset === GSP_QUEUE_REGS.queueHead(0)) Atomics.add(this.#block, SHARED.DOORBELLS, 1);
		wakeGsp(this.#block);
		this.#onWake();
	}
}
