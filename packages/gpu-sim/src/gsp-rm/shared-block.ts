/**
 * The small shared memory block between the driver's thread and the GSP processor: a wake-up word the GSP
 * sleeps on (`Atomics.wait`), the doorbell counter, the GSP's published state, and the GSP queue register
 * block (`NV_PGSP_QUEUE_HEAD/TAIL(i)`, `MSGQ_HEAD/TAIL(i)`, BAR0 0x110c00–0x110cff). Writing
 * `QUEUE_HEAD(0)` is the doorbell; the other queue registers are plain storage both sides see, which the
 * boot-time CPU sequencer program uses as scratch registers.
 *
 * While the GSP waits for its sequencer program, the register block also runs a bus monitor the GSP arms: it
 * records, in order and with the platform clock's time, every CPU access to the registers the program uses
 * (so the GSP can check that each command ran, in order, with its semantics), and it can hold one register at
 * a "busy" value until the CPU has read it a number of times over some time (what REG_POLL is for).
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
	/** First word of the bus monitor ({@link MONITOR}). */
	MONITOR: 16 + GSP_QUEUE_REGS.SIZE / 4,
	/** Words in the block. */
	LENGTH: 16 + GSP_QUEUE_REGS.SIZE / 4 + 16 + 7 * 48,
});

/** Word indices of the bus monitor in the shared block (after the queue registers). */
export const MONITOR = Object.freeze({
	/** 1 while armed: accesses to watched registers are recorded. */
	ARMED: SHARED.MONITOR,
	/** Bitmap of watched register words (bit i = byte offset 4i), low and high half. */
	WATCH_LO: SHARED.MONITOR + 1,
	WATCH_HI: SHARED.MONITOR + 2,
	/** Entries recorded. */
	COUNT: SHARED.MONITOR + 3,
	/** 1 once an access found no free entry. */
	OVERFLOW: SHARED.MONITOR + 4,
	/** Gated register: word index + 1 (0 = none, or the gate has opened). */
	GATE_WORD: SHARED.MONITOR + 5,
	/** The value the gated register settles to. */
	GATE_VALUE: SHARED.MONITOR + 6,
	/** Reads of the gated register needed before it settles. */
	GATE_READS: SHARED.MONITOR + 7,
	/** Nanoseconds since the first of those reads needed before it settles. */
	GATE_NS: SHARED.MONITOR + 8,
	/** Reads of the gated register so far. */
	GATE_SEEN: SHARED.MONITOR + 9,
	/** Time of the first read (low, high 32 bits). */
	GATE_T0_LO: SHARED.MONITOR + 10,
	GATE_T0_HI: SHARED.MONITOR + 11,
	/** First entry: `[write flag (bit 31) | byte offset, value, count, first ns lo, hi, last ns lo, hi]`. */
	ENTRIES: SHARED.MONITOR + 16,
	ENTRY_WORDS: 7,
	CAPACITY: 48,
});

/** One recorded register access (consecutive identical accesses are folded into one entry with a count). */
export interface BusAccess {
	readonly kind: 'read' | 'write';
	/** Byte offset in the queue register block. */
	readonly offset: number;
	/** The value read or written. */
	readonly value: number;
	/** How many identical accesses in a row. */
	readonly count: number;
	/** Platform-clock time of the first and the last of them. */
	readonly firstNs: bigint;
	readonly lastNs: bigint;
}

/** A register that reads its preset "busy" value until the CPU polled it long enough. */
export interface MonitorGate {
	readonly offset: number;
	/** The value it settles to. */
	readonly value: number;
	/** Reads needed (the settling read included). */
	readonly reads: number;
	/** Nanoseconds between the first read and the settling read, at least (< 2^31). */
	readonly ns: number;
}

/**
 * GSP side: start recording CPU accesses to the registers at `watch` (byte offsets in the block), dropping any
 * earlier record, and gate one register if `gate` is given.
 */
export function armBusMonitor(block: Int32Array, watch: readonly number[], gate?: MonitorGate): void {
	Atomics.store(block, MONITOR.ARMED, 0);
	let lo = 0;
	let hi = 0;
	for (const offset of watch) {
		const bit = offset >> 2;
		if (bit < 32) lo |= 1 << bit;
		else hi |= 1 << (bit - 32);
	}
	Atomics.store(block, MONITOR.WATCH_LO, lo);
	Atomics.store(block, MONITOR.WATCH_HI, hi);
	Atomics.store(block, MONITOR.COUNT, 0);
	Atomics.store(block, MONITOR.OVERFLOW, 0);
	Atomics.store(block, MONITOR.GATE_SEEN, 0);
	if (gate !== undefined) {
		Atomics.store(block, MONITOR.GATE_VALUE, gate.value | 0);
		Atomics.store(block, MONITOR.GATE_READS, gate.reads);
		Atomics.store(block, MONITOR.GATE_NS, gate.ns);
	}
	Atomics.store(block, MONITOR.GATE_WORD, gate === undefined ? 0 : (gate.offset >> 2) + 1);
	Atomics.store(block, MONITOR.ARMED, 1);
}

/** GSP side: stop recording and open any gate. */
export function disarmBusMonitor(block: Int32Array): void {
	Atomics.store(block, MONITOR.ARMED, 0);
	Atomics.store(block, MONITOR.GATE_WORD, 0);
}

/** GSP side: what the monitor recorded so far, in order. */
export function readBusTrace(block: Int32Array): { accesses: BusAccess[]; overflow: boolean } {
	const n = Math.min(Atomics.load(block, MONITOR.COUNT), MONITOR.CAPACITY);
	const accesses: BusAccess[] = [];
	for (let i = 0; i < n; i++) {
		const at = MONITOR.ENTRIES + i * MONITOR.ENTRY_WORDS;
		const w = (k: number) => Atomics.load(block, at + k);
		const head = w(0);
		accesses.push({
			kind: head < 0 ? 'write' : 'read',
			offset: head & 0xffff,
			value: w(1) >>> 0,
			count: w(2),
			firstNs: joinNs(w(3), w(4)),
			lastNs: joinNs(w(5), w(6)),
		});
	}
	return { accesses, overflow: Atomics.load(block, MONITOR.OVERFLOW) !== 0 };
}

function joinNs(lo: number, hi: number): bigint {
	return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function watched(block: Int32Array, offset: number): boolean {
	const bit = offset >> 2;
	const word = Atomics.load(block, bit < 32 ? MONITOR.WATCH_LO : MONITOR.WATCH_HI);
	return ((word >>> (bit & 31)) & 1) !== 0;
}

/** Device side: append an access (or fold it into the previous identical one). */
function record(block: Int32Array, write: boolean, offset: number, value: number, now: bigint): void {
	const lo = Number(now & 0xffff_ffffn) | 0;
	const hi = Number((now >> 32n) & 0xffff_ffffn) | 0;
	const head = (write ? 0x8000_0000 : 0) | offset;
	const n = Atomics.load(block, MONITOR.COUNT);
	if (n > 0) {
		const last = MONITOR.ENTRIES + (n - 1) * MONITOR.ENTRY_WORDS;
		if (Atomics.load(block, last) === (head | 0) && Atomics.load(block, last + 1) === (value | 0)) {
			Atomics.store(block, last + 5, lo);
			Atomics.store(block, last + 6, hi);
			Atomics.add(block, last + 2, 1);
			return;
		}
	}
	if (n >= MONITOR.CAPACITY) {
		Atomics.store(block, MONITOR.OVERFLOW, 1);
		return;
	}
	const at = MONITOR.ENTRIES + n * MONITOR.ENTRY_WORDS;
	const words = [head | 0, value | 0, 1, lo, hi, lo, hi];
	for (let k = 0; k < words.length; k++) Atomics.store(block, at + k, words[k]!);
	Atomics.store(block, MONITOR.COUNT, n + 1);
}

/** Device side: a read of a gated register counts towards settling it (the register takes its value then). */
function gateRead(block: Int32Array, offset: number, now: bigint): void {
	const seen = Atomics.add(block, MONITOR.GATE_SEEN, 1) + 1;
	if (seen === 1) {
		Atomics.store(block, MONITOR.GATE_T0_LO, Number(now & 0xffff_ffffn) | 0);
		Atomics.store(block, MONITOR.GATE_T0_HI, Number((now >> 32n) & 0xffff_ffffn) | 0);
	}
	const t0 = joinNs(Atomics.load(block, MONITOR.GATE_T0_LO), Atomics.load(block, MONITOR.GATE_T0_HI));
	if (seen < Atomics.load(block, MONITOR.GATE_READS)) return;
	if (now - t0 < BigInt(Atomics.load(block, MONITOR.GATE_NS))) return;
	writeQueueRegister(block, offset, Atomics.load(block, MONITOR.GATE_VALUE));
	Atomics.store(block, MONITOR.GATE_WORD, 0);
}

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
 * write wakes the GSP (the CPU sequencer's completion is a register write). While the GSP has the bus
 * monitor armed, accesses to the registers it watches are recorded and a gated register settles only after
 * enough reads over enough time.
 */
export class GspQueueRegisters implements MmioDevice {
	readonly name = 'gsp-queue-registers';
	readonly range: MmioRange = Object.freeze({
		start: GSP_QUEUE_REGS.BAR0_BASE,
		end: GSP_QUEUE_REGS.BAR0_BASE + GSP_QUEUE_REGS.SIZE,
	});
	readonly #block: Int32Array;
	readonly #onWake: () => void;
	readonly #now: () => bigint;

	/**
	 * @param onWake called after every write (in-thread modes schedule a GSP step from it).
	 * @param now the platform clock (ns) the bus monitor stamps accesses with: the clock the driver sleeps on.
	 */
	constructor(
		block: Int32Array,
		onWake: () => void = () => {},
		now: () => bigint = () => process.hrtime.bigint(),
	) {
		this.#block = block;
		this.#onWake = onWake;
		this.#now = now;
	}

	read32(offset: number): number {
		const block = this.#block;
		if (Atomics.load(block, MONITOR.ARMED) === 0 || !watched(block, offset)) {
			return readQueueRegister(block, offset);
		}
		const now = this.#now();
		if (Atomics.load(block, MONITOR.GATE_WORD) === (offset >> 2) + 1) gateRead(block, offset, now);
		const value = readQueueRegister(block, offset);
		record(block, false, offset, value, now);
		return value;
	}

	write32(offset: number, value: number): void {
		const block = this.#block;
		// Recorded before the register changes: a GSP that sees the value also sees the record.
		if (Atomics.load(block, MONITOR.ARMED) !== 0 && watched(block, offset))
			record(block, true, offset, value >>> 0, this.#now());
		writeQueueRegister(this.#block, offset, value);
		if (offset === GSP_QUEUE_REGS.queueHead(0)) Atomics.add(this.#block, SHARED.DOORBELLS, 1);
		wakeGsp(this.#block);
		this.#onWake();
	}
}
