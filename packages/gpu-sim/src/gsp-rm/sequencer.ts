/**
 * The boot-time GSP_RUN_CPU_SEQUENCER program (reference §5): GSP-RM asks the CPU to run register
 * operations it cannot do itself. The emulator's program uses the GSP queue registers 1 and 2 as scratch
 * (plain storage both sides see, unused by drivers, which only use queue 0) and checks their values
 * afterwards, so INIT_DONE is sent only if the driver really executed every operation with the right
 * semantics: REG_WRITE, REG_MODIFY (masked), REG_POLL (until `(value & mask) == val`), DELAY_US, REG_STORE
 * (into `regSaveArea`), and a final REG_WRITE the GSP waits for.
 *
 * @module
 */

import type { GspRmAbi } from './abi.ts';
import { GSP_QUEUE_REGS } from './constants.ts';

/** A register the GSP sets before sending the program. */
export interface SequencerPreset {
	/** Offset in the queue register block (relative to BAR0 0x110c00). */
	readonly offset: number;
	readonly value: number;
}

/** A value the GSP expects after the program ran. */
export interface SequencerExpectation {
	readonly offset: number;
	readonly value: number;
	readonly what: string;
}

/** Everything the GSP needs to send the program and to check it ran. */
export interface SequencerPlan {
	/** `rpc_run_cpu_sequencer_v17_00` payload. */
	readonly payload: Uint8Array;
	/** The command buffer, in dwords (opcode, operands…). */
	readonly commands: Uint32Array;
	readonly presets: readonly SequencerPreset[];
	readonly expectations: readonly SequencerExpectation[];
	/** The last REG_WRITE: the GSP waits for this register to hold this value. */
	readonly done: SequencerExpectation;
}

const BAR0 = GSP_QUEUE_REGS.BAR0_BASE;
const HEAD1 = GSP_QUEUE_REGS.queueHead(1);
const TAIL1 = GSP_QUEUE_REGS.queueTail(1);
const HEAD2 = GSP_QUEUE_REGS.queueHead(2);
const TAIL2 = GSP_QUEUE_REGS.queueTail(2);

/** BAR0 `NV_PMC_BOOT_42`, stored into `regSaveArea[1]` by the program. */
const NV_PMC_BOOT_42 = 0x000a00;

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
	const modifyBase = 0xa5a5_00a5;
	const modifyMask = 0x0000_ff00;
	const modifyVal = 0x0000_3c00;
	const modified = ((modifyBase & ~modifyMask) | modifyVal) >>> 0;
	const pollValue = (0xc0de_0000 | n) >>> 0;
	const done = (~written >>> 0) ^ 0x0d0e;
	const cmds = [
		op('REG_WRITE'),
		BAR0 + HEAD1,
		written,
		op('REG_MODIFY'),
		BAR0 + TAIL1,
		modifyMask,
		modifyVal,
		op('REG_POLL'),
		BAR0 + HEAD2,
		0xffff_0000,
		0xc0de_0000,
		0, // timeout: 0 = the driver's default
		0xbad0_0001, // error code to report if the poll times out
		op('DELAY_US'),
		2,
		op('REG_STORE'),
		BAR0 + HEAD1,
		0,
		op('REG_STORE'),
		NV_PMC_BOOT_42,
		1,
		op('REG_WRITE'),
		BAR0 + TAIL2,
		done >>> 0,
	];
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
		presets: [
			{ offset: HEAD1, value: 0 },
			{ offset: TAIL1, value: modifyBase },
			{ offset: HEAD2, value: pollValue },
			{ offset: TAIL2, value: 0 },
		],
		expectations: [
			{ offset: HEAD1, value: written, what: 'REG_WRITE of QUEUE_HEAD(1)' },
			{ offset: TAIL1, value: modified, what: 'REG_MODIFY of QUEUE_TAIL(1) (mask 0xff00, value 0x3c00)' },
			{ offset: HEAD2, value: pollValue, what: 'QUEUE_HEAD(2), which REG_POLL only reads' },
		],
		done: { offset: TAIL2, value: done >>> 0, what: 'final REG_WRITE of QUEUE_TAIL(2)' },
	};
}
