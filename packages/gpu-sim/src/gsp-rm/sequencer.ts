/**
 * The boot-time GSP_RUN_CPU_SEQUENCER program (reference §5): GSP-RM asks the CPU to run register operations
 * it cannot do itself. The emulator's program works on the GSP queue registers 1 and 2 (plain storage both
 * sides see, unused by drivers, which only use queue 0) and uses every register opcode: REG_WRITE, REG_STORE,
 * REG_MODIFY (masked), REG_POLL (until `(value & mask) == val`, timeout 0 = the driver's default), DELAY_US,
 * another REG_STORE, and a final REG_WRITE the GSP waits for.
 *
 * The GSP checks the CPU's work on the bus, not only the end state: while it waits, the queue register block
 * records every CPU access to these registers in order with the platform clock's time (`armBusMonitor`), and the
 * polled register reads "busy" until the CPU has read it {@link SEQ_POLL_READS} times over at least
 * {@link SEQ_POLL_SETTLE_NS}. {@link verifySequencerTrace} then walks the program against that record, so a
 * skipped, reordered or wrongly executed command — a write for a modify, a poll that did not wait, a delay not
 * slept, a store that did not read — fails the boot with a message naming the command.
 *
 * REG_STORE saves the register into `regSaveArea[index]`, the CPU's copy of the message payload (nouveau keeps
 * it there; nova-core only reads); it is not sent back to the GSP. What the GSP can check is the read itself, in
 * its place in the program; the value the CPU got (what lands in its `regSaveArea`) is in the check's result.
 *
 * The four CORE_* opcodes (falcon reset/start/halt/resume) are not in the program: they act on the GSP falcon's
 * own registers (outside this block) and restart GSP-RM through SEC2, which the emulator can neither observe
 * nor survive from the queue register block.
 *
 * @module
 */

import type { GspRmAbi } from './abi.ts';
import { GSP_QUEUE_REGS } from './constants.ts';
import type { BusAccess, MonitorGate } from './shared-block.ts';

/** A command of the program, addresses as byte offsets in the queue register block (BAR0 0x110c00 + offset). */
export type SequencerStep =
	| { readonly op: 'REG_WRITE'; readonly offset: number; readonly value: number }
	| { readonly op: 'REG_MODIFY'; readonly offset: number; readonly mask: number; readonly value: number }
	| {
			readonly op: 'REG_POLL';
			readonly offset: number;
			readonly mask: number;
			readonly value: number;
			readonly timeoutUs: number;
			readonly error: number;
	  }
	| { readonly op: 'DELAY_US'; readonly us: number }
	| { readonly op: 'REG_STORE'; readonly offset: number; readonly index: number };

/** A register the GSP sets before sending the program. */
export interface SequencerPreset {
	/** Offset in the queue register block (relative to BAR0 0x110c00). */
	readonly offset: number;
	readonly value: number;
}

/** Everything the GSP needs to send the program and to check it ran. */
export interface SequencerPlan {
	/** `rpc_run_cpu_sequencer_v17_00` payload. */
	readonly payload: Uint8Array;
	/** The command buffer, in dwords (opcode, operands…). */
	readonly commands: Uint32Array;
	/** The same program, decoded. */
	readonly steps: readonly SequencerStep[];
	readonly presets: readonly SequencerPreset[];
	/** Registers the bus monitor records. */
	readonly watch: readonly number[];
	/** The polled register's settling rule. */
	readonly gate: MonitorGate;
	/** The last REG_WRITE: the GSP checks the program once this register holds this value. */
	readonly done: { readonly offset: number; readonly value: number };
}

/** The outcome of {@link verifySequencerTrace}. */
export type SequencerVerdict =
	| {
			readonly ok: true;
			/** What each REG_STORE read, by `regSaveArea` index: what the CPU saved. */
			readonly stored: ReadonlyMap<number, number>;
			/** Reads the REG_POLL took. */
			readonly pollReads: number;
			/** Nanoseconds between the accesses around DELAY_US. */
			readonly delayNs: bigint;
	  }
	| {
			readonly ok: false;
			/** Which command went wrong and how. */
			readonly reason: string;
	  };

/** Reads of the polled register before it settles (the settling read included). */
export const SEQ_POLL_READS = 3;
/** Time between the first read of the polled register and the settling read, at least. */
export const SEQ_POLL_SETTLE_NS = 2_000;
/** The program's DELAY_US. */
export const SEQ_DELAY_US = 20;

const BAR0 = GSP_QUEUE_REGS.BAR0_BASE;
const HEAD1 = GSP_QUEUE_REGS.queueHead(1);
const TAIL1 = GSP_QUEUE_REGS.queueTail(1);
const HEAD2 = GSP_QUEUE_REGS.queueHead(2);
const TAIL2 = GSP_QUEUE_REGS.queueTail(2);

/** A queue register's name, for messages (`QUEUE_HEAD(1) (0x110c08)`). */
export function queueRegisterName(offset: number): string {
	const i = (offset & 0x7f) >> 3;
	const name = `${offset >= 0x80 ? 'MSGQ' : 'QUEUE'}_${offset & 4 ? 'TAIL' : 'HEAD'}(${i})`;
	return `${name} (0x${(BAR0 + offset).toString(16)})`;
}

/**
 * Build the program for one boot. `nonce` varies the values per boot so a stale register from an earlier
 * boot cannot pass the check.
 */
export function buildSequencerPlan(abi: GspRmAbi, nonce: number): SequencerPlan {
	const op = (name: string): number => {
		const v = abi.seqOpcodes[name];
		if (v === undefined) throw new Error(`sequencer opcode ${name} missing from firmware ${abi.version}`);
		return v;
	};
	const n = nonce & 0xffff;
	const written = (0x5e0c_0000 | n) >>> 0;
	// Bits 15:8 are the complement of the value: a modify that does not clear the mask first sets them to 0xff.
	const modifyBase = (0xa5a5_c3a5 ^ (n << 16)) >>> 0;
	const pollBusy = (0xb5b5_0000 | n) >>> 0;
	const pollValue = (0xc0de_0000 | n) >>> 0;
	const done = ((~written >>> 0) ^ 0x0d0e) >>> 0;
	const steps: SequencerStep[] = [
		{ op: 'REG_WRITE', offset: HEAD1, value: written },
		// Stores TAIL(1) before the modify: the preset, not the modified value.
		{ op: 'REG_STORE', offset: TAIL1, index: 0 },
		{ op: 'REG_MODIFY', offset: TAIL1, mask: 0x0000_ff00, value: 0x0000_3c00 },
		{
			op: 'REG_POLL',
			offset: HEAD2,
			mask: 0xffff_0000,
			value: 0xc0de_0000,
			timeoutUs: 0,
			error: 0xbad0_0001,
		},
		{ op: 'DELAY_US', us: SEQ_DELAY_US },
		// Stores the settled poll value.
		{ op: 'REG_STORE', offset: HEAD2, index: 1 },
		{ op: 'REG_WRITE', offset: TAIL2, value: done },
	];
	const cmds: number[] = [];
	for (const s of steps) {
		switch (s.op) {
			case 'REG_WRITE':
				cmds.push(op(s.op), BAR0 + s.offset, s.value);
				break;
			case 'REG_MODIFY':
				cmds.push(op(s.op), BAR0 + s.offset, s.mask, s.value);
				break;
			case 'REG_POLL':
				cmds.push(op(s.op), BAR0 + s.offset, s.mask, s.value, s.timeoutUs, s.error);
				break;
			case 'DELAY_US':
				cmds.push(op(s.op), s.us);
				break;
			case 'REG_STORE':
				cmds.push(op(s.op), BAR0 + s.offset, s.index);
				break;
		}
	}
	const commands = Uint32Array.from(cmds, (v) => v >>> 0);
	const fixed = abi.sizeOf('rpc_run_cpu_sequencer_v17_00');
	const payload = new Uint8Array(fixed + commands.length * 4);
	const img = abi.image('rpc_run_cpu_sequencer_v17_00', payload.subarray(0, fixed));
	img.set('bufferSizeDWord', commands.length).set('cmdIndex', commands.length);
	const dv = new DataView(payload.buffer);
	commands.forEach((v, i) => {
		dv.setUint32(fixed + 4 * i, v, true);
	});
	return {
		payload,
		commands,
		steps,
		presets: [
			{ offset: HEAD1, value: 0 },
			{ offset: TAIL1, value: modifyBase },
			{ offset: HEAD2, value: pollBusy },
			{ offset: TAIL2, value: 0 },
		],
		watch: [HEAD1, TAIL1, HEAD2, TAIL2],
		gate: { offset: HEAD2, value: pollValue, reads: SEQ_POLL_READS, ns: SEQ_POLL_SETTLE_NS },
		done: { offset: TAIL2, value: done },
	};
}

function describeAccess(a: BusAccess | undefined): string {
	if (a === undefined) return 'no further access';
	// ASCII only: the reason also goes out in OS_ERROR_LOG's char[] errString.
	const what = `${a.kind} of ${queueRegisterName(a.offset)} ${a.kind === 'write' ? '=' : 'gave'} 0x${a.value.toString(16)}`;
	return a.count > 1 ? `${what} (×${a.count})` : what;
}

function describeStep(s: SequencerStep, i: number): string {
	const where = `command ${i + 1} (${s.op}`;
	switch (s.op) {
		case 'DELAY_US':
			return `${where} ${s.us} µs)`;
		default:
			return `${where} of ${queueRegisterName(s.offset)})`;
	}
}

/**
 * Check the recorded CPU accesses against the program: each command's accesses, in program order, with its
 * semantics — REG_WRITE writes the value; REG_MODIFY reads, then writes `(read & ~mask) | val`; REG_POLL reads
 * until `(read & mask) == val` and the CPU goes on right after that read; DELAY_US leaves at least that long
 * between the accesses around it; REG_STORE reads the register. Accesses after the last command are not looked
 * at.
 */
export function verifySequencerTrace(
	plan: SequencerPlan,
	trace: { readonly accesses: readonly BusAccess[]; readonly overflow: boolean },
): SequencerVerdict {
	if (trace.overflow) {
		return { ok: false, reason: 'the CPU made more register accesses than the program has commands for' };
	}
	// A cursor over the accesses, with identical consecutive accesses folded into one entry.
	const list = trace.accesses;
	let entry = 0;
	let used = 0;
	let lastNs: bigint | undefined;
	const peek = (): BusAccess | undefined => {
		const a = list[entry];
		return a === undefined ? undefined : { ...a, count: a.count - used };
	};
	// Time of the access at `index` in an entry: known for the first and the last of a folded run.
	const timeOf = (a: BusAccess, index: number): bigint | undefined =>
		index === 0 ? a.firstNs : index === a.count - 1 ? a.lastNs : undefined;
	const nextNs = (): bigint | undefined => {
		const a = list[entry];
		return a === undefined ? undefined : timeOf(a, used);
	};
	const take = (): BusAccess | undefined => {
		const a = list[entry];
		if (a === undefined) return undefined;
		lastNs = timeOf(a, used);
		used++;
		if (used >= a.count) {
			entry++;
			used = 0;
		}
		return a;
	};
	const stored = new Map<number, number>();
	let pollReads = 0;
	let delayNs = -1n;
	const fail = (s: SequencerStep, i: number, what: string): SequencerVerdict => ({
		ok: false,
		reason: `${describeStep(s, i)}: ${what}`,
	});
	for (const [i, s] of plan.steps.entries()) {
		switch (s.op) {
			case 'REG_WRITE': {
				const a = peek();
				if (a?.kind !== 'write' || a.offset !== s.offset || a.value !== s.value >>> 0)
					return fail(
						s,
						i,
						`expected a write of 0x${(s.value >>> 0).toString(16)}, saw ${describeAccess(a)}`,
					);
				take();
				break;
			}
			case 'REG_MODIFY': {
				const r = peek();
				if (r?.kind !== 'read' || r.offset !== s.offset)
					return fail(s, i, `expected a read first (a masked write), saw ${describeAccess(r)}`);
				take();
				const want = ((r.value & ~s.mask) | s.value) >>> 0;
				const w = peek();
				if (w?.kind !== 'write' || w.offset !== s.offset || w.value !== want) {
					return fail(
						s,
						i,
						`read 0x${r.value.toString(16)}, so expected a write of 0x${want.toString(16)} (mask 0x${(s.mask >>> 0).toString(16)}, value 0x${(s.value >>> 0).toString(16)}), saw ${describeAccess(w)}`,
					);
				}
				take();
				break;
			}
			case 'REG_POLL': {
				const match = (v: number) => (v & s.mask) >>> 0 === s.value >>> 0;
				let a = peek();
				while (a?.kind === 'read' && a.offset === s.offset && !match(a.value)) {
					take();
					pollReads++;
					a = peek();
				}
				if (a?.kind !== 'read' || a.offset !== s.offset) {
					return fail(
						s,
						i,
						`the CPU went on after ${pollReads} read(s) without seeing (value & 0x${(s.mask >>> 0).toString(16)}) == 0x${(s.value >>> 0).toString(16)}: next was ${describeAccess(a)}`,
					);
				}
				// The settling read ends the poll.
				take();
				pollReads++;
				break;
			}
			case 'DELAY_US': {
				const before = lastNs;
				const after = nextNs();
				if (before === undefined || after === undefined)
					return fail(s, i, `cannot time it: the accesses around it are ${describeAccess(peek())}`);
				delayNs = after - before;
				if (delayNs < BigInt(s.us) * 1000n) {
					return fail(
						s,
						i,
						`the next access came ${delayNs} ns after the previous one, less than ${s.us} µs`,
					);
				}
				break;
			}
			case 'REG_STORE': {
				const a = peek();
				if (a?.kind !== 'read' || a.offset !== s.offset)
					return fail(s, i, `expected a read (into regSaveArea[${s.index}]), saw ${describeAccess(a)}`);
				take();
				stored.set(s.index, a.value);
				break;
			}
		}
	}
	return { ok: true, stored, pollReads, delayNs };
}
