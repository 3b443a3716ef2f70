/**
 * The boot-time RUN_CPU_SEQUENCER handshake, checked on the bus: the queue register block records the CPU's
 * accesses to the program's registers while the GSP waits, the polled register settles only after enough reads
 * over enough time, and the GSP walks the program against the record. A CPU side (written here from the
 * reference's opcode table, §5) runs the program correctly or with one thing wrong — a command skipped or two
 * swapped, a modify done as a write, a poll that does not wait, a delay not slept, a store of the wrong
 * register, a stray write — and only the correct run reaches GSP_INIT_DONE; every other names the command.
 */

import { sizeof } from '@gspkit/abi';
import { RealClock, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { gspRmAbi } from '../src/gsp-rm/abi.ts';
import {
	buildSequencerPlan,
	readBusTrace,
	SEQ_DELAY_US,
	SEQ_POLL_READS,
	SEQ_POLL_SETTLE_NS,
	verifySequencerTrace,
} from '../src/gsp-rm/index.ts';
import {
	armBusMonitor,
	createSharedBlock,
	disarmBusMonitor,
	GspQueueRegisters,
} from '../src/gsp-rm/shared-block.ts';
import { dec, ev, L, logText, makeRig, TestDriver, VERSIONS, type Version } from './gsp-rm-testkit.ts';

const BAR0 = 0x110c00;
/** Payload dwords per opcode (reference §5). */
const PAYLOAD_DWORDS: Readonly<Record<number, number>> = {
	0: 2,
	1: 3,
	2: 5,
	3: 1,
	4: 2,
	5: 0,
	6: 0,
	7: 0,
	8: 0,
};
const NAMES = ['REG_WRITE', 'REG_MODIFY', 'REG_POLL', 'DELAY_US', 'REG_STORE'] as const;

interface Command {
	readonly opcode: number;
	readonly args: readonly number[];
}

/** The program's commands, decoded from the payload by the reference's layout. */
function decodeProgram(version: Version, payload: Uint8Array): Command[] {
	const s = dec(version, 'rpc_run_cpu_sequencer_v17_00', payload);
	const fixed = sizeof(L(version, 'rpc_run_cpu_sequencer_v17_00'));
	const dv = new DataView(payload.buffer, payload.byteOffset + fixed);
	const out: Command[] = [];
	for (let i = 0; i < (s.cmdIndex as number); ) {
		const opcode = dv.getUint32(4 * i, true);
		const n = PAYLOAD_DWORDS[opcode];
		if (n === undefined) throw new Error(`unknown opcode ${opcode}`);
		out.push({ opcode, args: Array.from({ length: n }, (_, k) => dv.getUint32(4 * (i + 1 + k), true)) });
		i += 1 + n;
	}
	return out;
}

/** One thing the CPU side gets wrong. */
interface Mistake {
	/** Leave out command `skip` (0-based). */
	readonly skip?: number;
	/** Run commands `swap` and `swap + 1` the other way round. */
	readonly swap?: number;
	/** REG_MODIFY as a plain write of `val`, or as `read | val` (mask not cleared). */
	readonly modify?: 'write' | 'or';
	/** REG_POLL: one read, then go on whatever it returned. */
	readonly pollOnce?: boolean;
	/** REG_POLL: re-read without letting time pass (gives up after 1000 reads). */
	readonly pollSpin?: boolean;
	/** DELAY_US: sleep this many µs instead. */
	readonly delayUs?: number;
	/** REG_STORE: read this BAR0 register instead. */
	readonly storeFrom?: number;
	/** After command `strayAfter` (0-based), write 0 to QUEUE_TAIL(1). */
	readonly strayAfter?: number;
}

/** Run the program through BAR0 on the rig's clock, making `mistake`. Returns the regSaveArea values. */
async function execute(d: TestDriver, program: readonly Command[], mistake: Mistake = {}): Promise<number[]> {
	const regs = d.rig.regs;
	const clock = d.rig.clock;
	const order = program.map((c, i) => ({ c, i })).filter(({ i }) => i !== mistake.skip);
	if (mistake.swap !== undefined) {
		const k = order.findIndex(({ i }) => i === mistake.swap);
		[order[k], order[k + 1]] = [order[k + 1]!, order[k]!];
	}
	const saved: number[] = [];
	for (const { c, i } of order) {
		const [a0 = 0, a1 = 0, a2 = 0, a3 = 0] = c.args;
		switch (c.opcode) {
			case 0:
				regs.write32(a0, a1);
				break;
			case 1: {
				if (mistake.modify === 'write') regs.write32(a0, a2);
				else if (mistake.modify === 'or') regs.write32(a0, (regs.read32(a0) | a2) >>> 0);
				else regs.write32(a0, ((regs.read32(a0) & ~a1) | a2) >>> 0);
				break;
			}
			case 2: {
				const tries = mistake.pollOnce ? 1 : mistake.pollSpin ? 1000 : a3 === 0 ? 4_000_000 : a3;
				let ok = false;
				for (let k = 0; k < tries && !ok; k++) {
					ok = (regs.read32(a0) & a1) >>> 0 === a2;
					if (!ok && !mistake.pollSpin) await clock.sleep(1_000n);
				}
				if (!ok && !mistake.pollOnce) throw new Error(`REG_POLL of 0x${a0.toString(16)} timed out`);
				break;
			}
			case 3:
				await clock.sleep(BigInt(mistake.delayUs ?? a0) * 1000n);
				break;
			case 4:
				saved[a1] = regs.read32(mistake.storeFrom ?? a0);
				break;
			default:
				throw new Error(`opcode ${c.opcode} not expected`);
		}
		if (mistake.strayAfter === i) regs.write32(BAR0 + 0x0c, 0);
	}
	return saved;
}

/** Boot to the sequencer event; return the driver and the decoded program. */
async function atSequencer(
	version: Version,
	rig = makeRig(),
): Promise<{ d: TestDriver; program: Command[]; payload: Uint8Array }> {
	const d = new TestDriver(rig, version);
	await d.boot({ stopAtSequencer: true });
	const payload = d.events.at(-1)!.payload;
	return { d, program: decodeProgram(version, payload), payload };
}

/** What the GSP did after the program: INIT_DONE, or the OS_ERROR_LOG text it sent before failing. */
async function outcome(
	d: TestDriver,
): Promise<{ initDone: boolean; error: string | undefined; phase: string }> {
	const msgs = await d.drain(5);
	const err = msgs.find((m) => m.function === ev(d.version, 'OS_ERROR_LOG'));
	return {
		initDone: msgs.some((m) => m.function === ev(d.version, 'GSP_INIT_DONE')),
		error:
			err === undefined
				? undefined
				: (dec(d.version, 'rpc_os_error_log_v17_00', err.payload).errString as string),
		phase: d.rig.gsp.phase,
	};
}

describe('the sequencer program GSP-RM sends', () => {
	it.each(VERSIONS)(
		'%s: every register opcode, on scratch queue registers, the poll with timeout 0',
		async (version) => {
			const { program } = await atSequencer(version);
			expect(program.map((c) => NAMES[c.opcode])).toEqual([
				'REG_WRITE',
				'REG_STORE',
				'REG_MODIFY',
				'REG_POLL',
				'DELAY_US',
				'REG_STORE',
				'REG_WRITE',
			]);
			const [write, store0, modify, poll, delay, store1, done] = program as [Command, ...Command[]];
			expect(write.args[0]).toBe(0x110c08); // QUEUE_HEAD(1)
			expect(store0?.args).toEqual([0x110c0c, 0]); // QUEUE_TAIL(1) → regSaveArea[0]
			expect(modify?.args).toEqual([0x110c0c, 0xff00, 0x3c00]);
			expect(poll?.args.slice(0, 4)).toEqual([0x110c10, 0xffff_0000, 0xc0de_0000, 0]); // timeout 0: the default
			expect(delay?.args).toEqual([SEQ_DELAY_US]);
			expect(store1?.args).toEqual([0x110c10, 1]);
			expect(done?.args[0]).toBe(0x110c14); // QUEUE_TAIL(2), what the GSP waits for
		},
	);

	it('varies its values with every boot, so a register left from an earlier boot cannot pass', () => {
		const abi = gspRmAbi('570.144');
		const a = buildSequencerPlan(abi, 0x1345);
		const b = buildSequencerPlan(abi, 0x1456);
		expect(a.done.value).not.toBe(b.done.value);
		expect(a.gate.value).not.toBe(b.gate.value);
		expect(a.presets.find((p) => p.offset === 0x0c)?.value).not.toBe(
			b.presets.find((p) => p.offset === 0x0c)?.value,
		);
		// The polled register's preset never satisfies the poll; the value it settles to does.
		const busy = a.presets.find((p) => p.offset === 0x10)!.value;
		expect((busy & 0xffff_0000) >>> 0).not.toBe(0xc0de_0000);
		expect((a.gate.value & 0xffff_0000) >>> 0).toBe(0xc0de_0000);
	});
});

describe('the bus monitor of the queue register block', () => {
	function rig() {
		const block = createSharedBlock();
		const clock = new VirtualClock();
		const regs = new GspQueueRegisters(
			block,
			() => {},
			() => clock.now(),
		);
		return { block, clock, regs };
	}

	it('holds the gated register busy until it was read enough times over enough time', () => {
		const { block, clock, regs } = rig();
		regs.write32(0x10, 0xb5b5_0001); // the preset, before arming (not recorded)
		armBusMonitor(block, [0x10], {
			offset: 0x10,
			value: 0xc0de_0001,
			reads: SEQ_POLL_READS,
			ns: SEQ_POLL_SETTLE_NS,
		});
		// Reads without time passing: busy however many.
		for (let i = 0; i < 10; i++) expect(regs.read32(0x10)).toBe(0xb5b5_0001);
		clock.advance(BigInt(SEQ_POLL_SETTLE_NS) - 1n);
		expect(regs.read32(0x10)).toBe(0xb5b5_0001);
		clock.advance(1n);
		expect(regs.read32(0x10)).toBe(0xc0de_0001);
		expect(regs.read32(0x10)).toBe(0xc0de_0001); // stays settled
	});

	it('needs the reads too: time alone does not settle it', () => {
		const { block, clock, regs } = rig();
		regs.write32(0x10, 0xb5b5_0001);
		armBusMonitor(block, [0x10], { offset: 0x10, value: 0xc0de_0001, reads: 3, ns: 2_000 });
		expect(regs.read32(0x10)).toBe(0xb5b5_0001);
		clock.advance(1_000_000n);
		expect(regs.read32(0x10)).toBe(0xb5b5_0001); // 2nd read
		expect(regs.read32(0x10)).toBe(0xc0de_0001); // 3rd
	});

	it('records watched accesses in order with their time, folding repeats; nothing else, nothing once disarmed', () => {
		const { block, clock, regs } = rig();
		armBusMonitor(block, [0x08, 0x0c]);
		regs.write32(0x08, 0x1111);
		clock.advance(5n);
		regs.read32(0x0c);
		regs.read32(0x18); // not watched
		regs.write32(0x00, 0); // the doorbell: not watched
		clock.advance(7n);
		regs.read32(0x0c);
		regs.write32(0x0c, 0x2222);
		const { accesses, overflow } = readBusTrace(block);
		expect(overflow).toBe(false);
		expect(accesses).toEqual([
			{ kind: 'write', offset: 0x08, value: 0x1111, count: 1, firstNs: 0n, lastNs: 0n },
			{ kind: 'read', offset: 0x0c, value: 0, count: 2, firstNs: 5n, lastNs: 12n },
			{ kind: 'write', offset: 0x0c, value: 0x2222, count: 1, firstNs: 12n, lastNs: 12n },
		]);
		disarmBusMonitor(block);
		regs.write32(0x08, 0x3333);
		expect(readBusTrace(block).accesses).toHaveLength(3);
	});

	it('says so when the accesses do not fit, and the GSP refuses such a run', () => {
		const { block, regs } = rig();
		const plan = buildSequencerPlan(gspRmAbi('535.113.01'), 7);
		armBusMonitor(block, plan.watch);
		for (let i = 0; i < 100; i++) regs.write32(0x08, i); // all different: nothing folds
		const trace = readBusTrace(block);
		expect(trace.overflow).toBe(true);
		expect(verifySequencerTrace(plan, trace)).toEqual({
			ok: false,
			reason: 'the CPU made more register accesses than the program has commands for',
		});
	});
});

describe.each(VERSIONS)('GSP-RM %s checks the sequencer program on the bus', (version) => {
	it('reaches INIT_DONE when the CPU runs it as the reference says', async () => {
		const { d, program } = await atSequencer(version);
		const saved = await execute(d, program);
		const r = await outcome(d);
		expect(r).toEqual({ initDone: true, error: undefined, phase: 'running' });
		expect(logText(d.logs.get('LOGINIT')!)).toContain(
			`7 commands checked on the bus (REG_POLL settled after ${SEQ_POLL_READS} reads, DELAY_US took ${SEQ_DELAY_US * 1000} ns; regSaveArea[0] = 0x${saved[0]!.toString(16)}, regSaveArea[1] = 0x${saved[1]!.toString(16)})`,
		);
	});

	// Leaving out any command but the last is caught where the GSP expected something else; without the last write
	// the GSP never considers the program done. (Without the first REG_STORE, REG_MODIFY's read stands in for it,
	// so the mismatch shows at REG_MODIFY's write.)
	it.each([
		[
			0,
			/command 1 \(REG_WRITE of QUEUE_HEAD\(1\) \(0x110c08\)\): expected a write of 0x5e0c[0-9a-f]{4}, saw read of QUEUE_TAIL\(1\)/,
		],
		[
			1,
			/command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read first \(a masked write\), saw write of QUEUE_TAIL\(1\)/,
		],
		[
			2,
			/command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read first \(a masked write\), saw read of QUEUE_HEAD\(2\)/,
		],
		[3, /command 4 \(REG_POLL of QUEUE_HEAD\(2\) \(0x110c10\)\): the CPU went on after 1 read\(s\)/],
		[4, /command 5 \(DELAY_US 20 µs\): the next access came 0 ns after the previous one, less than 20 µs/],
		[
			5,
			/command 6 \(REG_STORE of QUEUE_HEAD\(2\) \(0x110c10\)\): expected a read \(into regSaveArea\[1\]\), saw write of QUEUE_TAIL\(2\)/,
		],
	])('refuses a run without command %i', async (skip, message) => {
		const { d, program } = await atSequencer(version);
		await execute(d, program, { skip });
		const r = await outcome(d);
		expect(r.initDone).toBe(false);
		expect(r.phase).toBe('failed');
		expect(r.error).toMatch(message);
	});

	it('waits on without the final write', async () => {
		const { d, program } = await atSequencer(version);
		await execute(d, program, { skip: 6 });
		const r = await outcome(d);
		expect(r).toEqual({ initDone: false, error: undefined, phase: 'sequencer' });
	});

	it.each([0, 1, 2, 3, 4, 5])('refuses a run with commands %i and the next swapped', async (swap) => {
		const { d, program } = await atSequencer(version);
		await execute(d, program, { swap });
		const r = await outcome(d);
		expect(r.initDone).toBe(false);
		expect(r.phase).toBe('failed');
		expect(r.error).toMatch(/CPU sequencer program not executed correctly: command [1-7] \(/);
	});

	it('refuses REG_MODIFY done as a plain write or without clearing the mask', async () => {
		for (const modify of ['write', 'or'] as const) {
			const { d, program } = await atSequencer(version);
			await execute(d, program, { modify });
			const r = await outcome(d);
			expect(r.phase).toBe('failed');
			expect(r.error).toMatch(
				modify === 'write'
					? /command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read first/
					: /command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): read 0x[0-9a-f]+, so expected a write of 0x[0-9a-f]+ \(mask 0xff00, value 0x3c00\)/,
			);
		}
	});

	it('refuses a REG_POLL that went on before the register settled', async () => {
		const { d, program } = await atSequencer(version);
		await execute(d, program, { pollOnce: true });
		const r = await outcome(d);
		expect(r.phase).toBe('failed');
		expect(r.error).toMatch(
			/command 4 \(REG_POLL of QUEUE_HEAD\(2\) \(0x110c10\)\): the CPU went on after [12] read\(s\) without seeing \(value & 0xffff0000\) == 0xc0de0000/,
		);
	});

	it('never settles the polled register for a CPU that re-reads without letting time pass', async () => {
		const { d, program } = await atSequencer(version);
		await expect(execute(d, program, { pollSpin: true })).rejects.toThrow(/REG_POLL of 0x110c10 timed out/);
		expect(d.rig.regs.read32(0x110c10) >>> 16).toBe(0xb5b5);
		expect((await outcome(d)).phase).toBe('sequencer');
	});

	it('refuses a DELAY_US slept too short', async () => {
		const { d, program } = await atSequencer(version);
		await execute(d, program, { delayUs: SEQ_DELAY_US - 1 });
		const r = await outcome(d);
		expect(r.phase).toBe('failed');
		expect(r.error).toMatch(
			new RegExp(
				`command 5 \\(DELAY_US ${SEQ_DELAY_US} µs\\): the next access came ${(SEQ_DELAY_US - 1) * 1000} ns after the previous one`,
			),
		);
	});

	it('refuses a REG_STORE of the wrong register, and a stray write between commands', async () => {
		const a = await atSequencer(version);
		await execute(a.d, a.program, { storeFrom: 0x110c08 });
		expect((await outcome(a.d)).error).toMatch(
			/command 2 \(REG_STORE of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read \(into regSaveArea\[0\]\), saw read of QUEUE_HEAD\(1\) \(0x110c08\) gave 0x5e0c/,
		);
		const b = await atSequencer(version);
		await execute(b.d, b.program, { strayAfter: 4 });
		expect((await outcome(b.d)).error).toMatch(
			/command 6 \(REG_STORE of QUEUE_HEAD\(2\) \(0x110c10\)\): expected a read \(into regSaveArea\[1\]\), saw write of QUEUE_TAIL\(1\) \(0x110c0c\) = 0x0/,
		);
	});
});

describe('the check with GSP-RM on its own thread', () => {
	it('catches a skipped REG_MODIFY from the worker, and passes the correct run', async () => {
		for (const skip of [2, undefined]) {
			const rig = makeRig({ mode: 'worker', clock: new RealClock() });
			try {
				const { d, program } = await atSequencer('570.144', rig);
				await execute(d, program, skip === undefined ? {} : { skip });
				const m = await d.waitFor(
					(x) => x.function === ev('570.144', skip === undefined ? 'GSP_INIT_DONE' : 'OS_ERROR_LOG'),
				);
				if (skip !== undefined) {
					expect(dec('570.144', 'rpc_os_error_log_v17_00', m.payload).errString).toMatch(
						/command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read first \(a masked write\), saw read of QUEUE_HEAD\(2\)/,
					);
				}
				// A snapshot is taken by the worker after the step that sent the message has finished.
				expect((await rig.gsp.snapshot()).phase).toBe(skip === undefined ? 'running' : 'failed');
			} finally {
				await rig.gsp.close();
			}
		}
	});
});
