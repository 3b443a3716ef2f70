import { SEC, US, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import {
	compileRpcAbi,
	encodeSequencerProgram,
	type FalconControl,
	runSequencer,
	type SequencerCommand,
} from '../src/index.ts';
import { manifestAbi } from './support/abi.ts';
import { TestBar0 } from './support/platform.ts';
import { boot, rejection, setup } from './support/setup.ts';

function fakeFalcon(log: string[]): FalconControl {
	return {
		coreReset: () => {
			log.push('reset');
		},
		coreStart: async () => {
			log.push('start');
		},
		coreWaitForHalt: (t) => {
			log.push(`halt:${t}`);
		},
		coreResume: () => {
			log.push('resume');
		},
	};
}

const ALL: SequencerCommand[] = [
	{ op: 'REG_WRITE', addr: 0x110040, val: 0x1234 },
	{ op: 'REG_MODIFY', addr: 0x118000, mask: 0xff00, val: 0x3400 },
	{ op: 'REG_POLL', addr: 0x110100, mask: 0x10, val: 0x10, timeoutUs: 1000, error: 0x65 },
	{ op: 'DELAY_US', val: 500 },
	{ op: 'REG_STORE', addr: 0x110044, index: 3 },
	{ op: 'CORE_RESET' },
	{ op: 'CORE_START' },
	{ op: 'CORE_WAIT_FOR_HALT' },
	{ op: 'CORE_RESUME' },
];

describe('RUN_CPU_SEQUENCER and INIT_DONE', () => {
	for (const branch of ['r535', 'r570'] as const) {
		it(`runs all nine opcodes through BAR0 and the falcon, then sees INIT_DONE (${branch})`, async () => {
			const log: string[] = [];
			const s = setup({ branch, engine: { falcon: fakeFalcon(log) } });
			const clock = s.t.clock as VirtualClock;
			s.t.bar0.regs.set(0x118000, 0xabcdef12);
			s.t.bar0.regs.set(0x110044, 0xfeedf00d);
			const start = clock.now();
			s.t.bar0.onRead(0x110100, () => (clock.now() - start >= 200n * US ? 0x10 : 0));
			await boot(s);
			s.gsp.sequencer(ALL);
			s.gsp.event('GSP_INIT_DONE');
			const before = clock.now();
			const done = await s.rpc.waitForInitDone();
			expect(done.initDone.name).toBe('GSP_INIT_DONE');
			expect(done.sequencerRuns).toHaveLength(1);
			const run = done.sequencerRuns[0]!;
			expect(run.steps.map((x) => x.opcode)).toEqual([
				'REG_WRITE',
				'REG_MODIFY',
				'REG_POLL',
				'DELAY_US',
				'REG_STORE',
				'CORE_RESET',
				'CORE_START',
				'CORE_WAIT_FOR_HALT',
				'CORE_RESUME',
			]);
			// Dword positions: opcode + 2, + 3, + 5, + 1, + 2, then four bare opcodes.
			expect(run.steps.map((x) => x.at)).toEqual([0, 3, 7, 13, 15, 18, 19, 20, 21]);
			expect(s.t.bar0.regs.get(0x110040)).toBe(0x1234);
			expect(s.t.bar0.regs.get(0x118000)).toBe(0xabcd3412);
			expect(run.regSaveArea[3]).toBe(0xfeedf00d);
			expect(log).toEqual(['reset', 'start', `halt:${2n * SEC}`, 'resume']);
			expect(clock.now() - before).toBeGreaterThanOrEqual(500n * US);
		});
	}

	it('REG_POLL with timeout 0 waits 4 s, then fails init with RPC_SEQUENCER carrying the error code', async () => {
		const s = setup({ engine: { falcon: fakeFalcon([]) } });
		const clock = s.t.clock as VirtualClock;
		await boot(s);
		s.gsp.sequencer([{ op: 'REG_POLL', addr: 0x1000, mask: 1, val: 1, timeoutUs: 0, error: 0x55 }]);
		const t0 = clock.now();
		const e = await rejection(s.rpc.waitForInitDone());
		expect(e).toMatchObject({ code: 'RPC_SEQUENCER', errno: 'ETIMEDOUT' });
		expect((e.details as { error: number }).error).toBe(0x55);
		expect(clock.now() - t0).toBeGreaterThanOrEqual(4n * SEC);
		expect(clock.now() - t0).toBeLessThan(5n * SEC);
	});

	it('a CORE_* opcode without a FalconControl fails with RPC_SEQUENCER', async () => {
		const s = setup();
		await boot(s);
		s.gsp.sequencer([{ op: 'CORE_RESET' }]);
		expect((await rejection(s.rpc.waitForInitDone({ timeoutNs: SEC }))).code).toBe('RPC_SEQUENCER');
	});

	it('a falcon operation that throws fails the program, with the cause', async () => {
		const wire = compileRpcAbi(manifestAbi('r570'));
		const boom = new Error('SEC2 mailbox0 != 0');
		const program = encodeSequencerProgram(wire, [{ op: 'CORE_RESUME' }]);
		const e = await rejection(
			runSequencer(wire, program, {
				bar0: new TestBar0(),
				clock: new VirtualClock(),
				falcon: { ...fakeFalcon([]), coreResume: () => Promise.reject(boom) },
			}),
		);
		expect(e.code).toBe('RPC_SEQUENCER');
		expect(e.cause).toBe(boom);
	});

	it('rejects malformed programs: unknown opcode, command past cmdIndex, cmdIndex past the buffer, bad REG_STORE index', async () => {
		const wire = compileRpcAbi(manifestAbi('r535'));
		const ctx = { bar0: new TestBar0(), clock: new VirtualClock() };
		const prog = (cmds: SequencerCommand[]) => encodeSequencerProgram(wire, cmds);
		const unknown = prog([{ op: 'DELAY_US', val: 1 }]);
		new DataView(unknown.buffer).setUint32(40, 9, true);
		const past = prog([{ op: 'REG_POLL', addr: 0, mask: 0, val: 0 }]);
		new DataView(past.buffer).setUint32(4, 3, true); // cmdIndex mid-command
		const beyond = prog([{ op: 'DELAY_US', val: 1 }]);
		new DataView(beyond.buffer).setUint32(4, 50, true);
		const store = prog([{ op: 'REG_STORE', addr: 0, index: 8 }]);
		for (const p of [unknown, past, beyond, store]) {
			expect((await rejection(runSequencer(wire, p, ctx))).code).toBe('RPC_SEQUENCER');
		}
	});

	it('encodes programs as rpc_run_cpu_sequencer_v17_00: header, regSaveArea[8], then opcode + payload dwords', () => {
		const wire = compileRpcAbi(manifestAbi('r535'));
		const p = encodeSequencerProgram(wire, [
			{ op: 'REG_POLL', addr: 0xa, mask: 0xb, val: 0xc, timeoutUs: 0xd, error: 0xe },
			{ op: 'CORE_START' },
		]);
		const dv = new DataView(p.buffer);
		const words = Array.from({ length: p.length / 4 }, (_, i) => dv.getUint32(i * 4, true));
		expect(words).toEqual([7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xa, 0xb, 0xc, 0xd, 0xe, 6]);
	});
});
