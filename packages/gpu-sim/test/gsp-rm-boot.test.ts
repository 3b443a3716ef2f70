import { VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import {
	booted,
	dec,
	enc,
	ev,
	fn,
	logText,
	makeRig,
	TestDriver,
	VERSIONS,
	type Version,
} from './gsp-rm-testkit.ts';

/** Boot with `tamper` applied before the GSP starts; return the driver after the GSP gave up. */
async function failedBoot(version: Version, tamper: (d: TestDriver) => void): Promise<TestDriver> {
	const d = new TestDriver(makeRig(), version);
	d.setupQueues();
	d.setupLibos();
	await d.send(fn(version, 'GSP_SET_SYSTEM_INFO'), d.systemInfoPayload(), { sequence: 0 });
	await d.send(fn(version, 'SET_REGISTRY'), d.registryPayload({ RMSecBusResetEnable: 1 }), { sequence: 0 });
	tamper(d);
	d.rig.gsp.start({ libosArgs: d.libos.busAddress, firmwareVersion: version });
	d.rig.gsp.runUntilIdle();
	return d;
}

describe('GSP-RM boot handoff', () => {
	for (const version of VERSIONS) {
		it(`boots ${version} to INIT_DONE, keeping the registry keys`, async () => {
			const d = await booted(version);
			const s = d.rig.gsp.inspect();
			expect(s.phase).toBe('running');
			expect(s.firmwareVersion).toBe(version);
			expect([...s.registry]).toEqual([
				['RMSecBusResetEnable', 1],
				['RMForcePcieConfigSave', 1],
				['RMDevidCheckIgnore', 1],
			]);
			expect(s.systemInfo?.gpuPhysAddr).toBe(0xfb00_0000n);
			expect(logText(d.logs.get('LOGINIT')!)).toMatch(
				/booting[\s\S]*registry: RMSecBusResetEnable[\s\S]*init complete/,
			);
			// The GSP wrote the status queue header (it owns it), with swap-RX and 63 slots.
			const h = [0, 4, 8, 12, 20, 24, 28].map((o) => d.dv.getUint32(0x41000 + o, true));
			expect(h).toEqual([0, 0x40000, 0x1000, 63, 1, 0x20, 0x1000]);
			// It consumed both pre-queued elements (its read pointer lives in the status queue's RX header).
			expect(d.gspReadPtr).toBe(2);
			expect(d.rig.irq.pending()).toBe(true);
		});
	}

	it('sends a sequencer program with every non-core opcode whose effects the driver must produce', async () => {
		const d = new TestDriver(makeRig(), '570.144');
		await d.boot({ stopAtSequencer: true });
		const seq = d.events.at(-1)!;
		expect(seq.function).toBe(0x1002);
		const s = dec('570.144', 'rpc_run_cpu_sequencer_v17_00', seq.payload);
		const words = new Uint32Array(seq.payload.slice(40).buffer);
		expect(s.cmdIndex).toBe(words.length);
		const opcodes: number[] = [];
		const sizes: Record<number, number> = { 0: 2, 1: 3, 2: 5, 3: 1, 4: 2 };
		for (let i = 0; i < words.length; i += 1 + sizes[words[i]!]!) opcodes.push(words[i]!);
		expect(new Set(opcodes)).toEqual(new Set([0, 1, 2, 3, 4]));
		expect(opcodes.at(-1)).toBe(0); // the last write is what the GSP waits for
		// Not executed: no INIT_DONE however long the GSP runs.
		const later = await d.drain(20);
		expect(later.map((m) => m.function)).not.toContain(ev('570.144', 'GSP_INIT_DONE'));
		expect(d.rig.gsp.phase).toBe('sequencer');
		// Executed: INIT_DONE. REG_STORE saved QUEUE_TAIL(1) before REG_MODIFY changed bits 15:8 to 0x3c, and the
		// polled QUEUE_HEAD(2) once it had settled to 0xc0de in its top half.
		await d.runSequencer(seq.payload);
		await d.waitFor((m) => m.function === 0x1001);
		const tail1 = d.rig.regs.read32(0x110c0c);
		expect(tail1 & 0xff00).toBe(0x3c00);
		expect(d.regSaveArea[0]).not.toBe(tail1);
		expect(((d.regSaveArea[0]! & ~0xff00) | 0x3c00) >>> 0).toBe(tail1);
		expect(d.regSaveArea[1]).toBe(d.rig.regs.read32(0x110c10));
		expect(d.regSaveArea[1]! >>> 16).toBe(0xc0de);
		expect(logText(d.logs.get('LOGINIT')!)).toContain(
			`regSaveArea[0] = 0x${d.regSaveArea[0]!.toString(16)}, regSaveArea[1] = 0x${d.regSaveArea[1]!.toString(16)}`,
		);
		expect(d.rig.gsp.phase).toBe('running');
	});

	it('refuses INIT_DONE when REG_MODIFY was executed as a plain write', async () => {
		const d = new TestDriver(makeRig(), '535.113.01');
		await d.boot({ stopAtSequencer: true });
		await d.runSequencer(d.events.at(-1)!.payload, { modifyAsWrite: true });
		const after = await d.drain(5);
		expect(after.map((m) => m.function)).toEqual([ev('535.113.01', 'OS_ERROR_LOG')]);
		const log = dec('535.113.01', 'rpc_os_error_log_v17_00', after[0]!.payload);
		expect(log.errString).toMatch(
			/command 3 \(REG_MODIFY of QUEUE_TAIL\(1\) \(0x110c0c\)\): expected a read first \(a masked write\), saw write of QUEUE_TAIL\(1\) \(0x110c0c\) = 0x3c00/,
		);
		expect(d.rig.gsp.phase).toBe('failed');
		expect(logText(d.logs.get('LOGINIT')!)).toContain('sequencer program not executed correctly');
	});

	it('runs in clock mode: nothing happens until virtual time passes', async () => {
		const clock = new VirtualClock();
		const rig = makeRig({ mode: 'clock', clock });
		const d = new TestDriver(rig, '570.144');
		d.setupQueues();
		d.setupLibos();
		await d.send(fn('570.144', 'GSP_SET_SYSTEM_INFO'), d.systemInfoPayload(), { sequence: 0 });
		await d.send(fn('570.144', 'SET_REGISTRY'), d.registryPayload({ A: 1 }), { sequence: 0 });
		rig.gsp.start({ libosArgs: d.libos.busAddress, firmwareVersion: '570.144' });
		expect(d.statqLinked()).toBe(false);
		clock.advance(1_000n);
		expect(d.statqLinked()).toBe(true);
		const seq = await d.waitFor((m) => m.function === 0x1002);
		await d.runSequencer(seq.payload);
		await d.waitFor((m) => m.function === 0x1001);
		const t0 = clock.now();
		const sequence = await d.send(fn('570.144', 'NOP'), new Uint8Array(8));
		expect(d.readMessage()).toBeUndefined();
		const r = await d.waitFor((m) => m.sequence === sequence);
		expect(r.function).toBe(0);
		expect(clock.now()).toBeGreaterThan(t0);
		await rig.gsp.close();
	});

	it('takes SET_SYSTEM_INFO and SET_REGISTRY queued after the GSP started (with a doorbell)', async () => {
		const d = new TestDriver(makeRig(), '535.113.01');
		d.setupQueues();
		d.setupLibos();
		d.rig.gsp.start({ libosArgs: d.libos.busAddress, firmwareVersion: '535.113.01' });
		d.rig.gsp.runUntilIdle();
		expect(d.statqLinked()).toBe(true);
		expect(d.rig.gsp.phase).toBe('await-system-info');
		await d.send(fn('535.113.01', 'GSP_SET_SYSTEM_INFO'), d.systemInfoPayload(), { sequence: 0 });
		await d.send(fn('535.113.01', 'SET_REGISTRY'), d.registryPayload({ RMDevidCheckIgnore: 1 }), {
			sequence: 0,
		});
		const seq = await d.waitFor((m) => m.function === 0x1002);
		await d.runSequencer(seq.payload);
		await d.waitFor((m) => m.function === 0x1001);
	});

	describe('link-time checks of the command queue header', () => {
		const cases: [string, number, number, RegExp][] = [
			['version', 0x00, 1, /\(-9\): version 1/],
			['size', 0x04, 0x80000, /\(-7\): size 0x80000/],
			['msgSize', 0x08, 0x2000, /\(-8\): msgSize 0x2000/],
			['msgCount', 0x0c, 64, /\(-11\): msgCount 64/],
			['writePtr', 0x10, 63, /\(-14\): writePtr 63/],
			['flags', 0x14, 0, /\(-13\): flags 0x0 lack SWAP_RX/],
			['rxHdrOff', 0x18, 0x10, /\(-10\): rxHdrOff 0x10/],
			['entryOff', 0x1c, 0x800, /\(-10\)|\(-12\)/],
		];
		for (const [field, off, value, why] of cases) {
			it(`rejects a wrong ${field} and never links the status queue`, async () => {
				const d = await failedBoot('570.144', (d) => d.dv.setUint32(0x1000 + off, value, true));
				expect(d.rig.gsp.phase).toBe('failed');
				expect(d.statqLinked()).toBe(false);
				expect(d.rig.gsp.inspect().failure).toMatch(why);
				expect(logText(d.logs.get('LOGINIT')!)).toMatch(/command queue link failed/);
			});
		}
	});

	it('fails when a PTE of the shared region is wrong', async () => {
		const d = await failedBoot('535.113.01', (d) => d.dv.setBigUint64(8 * 70, 0xdead_0000n, true));
		expect(d.rig.gsp.phase).toBe('failed');
		expect(d.statqLinked()).toBe(false);
		expect(d.rig.gsp.inspect().failure).toMatch(/PTE\[70\] = 0xdead0000, expected 0x[0-9a-f]+46000/);
	});

	it('fails when RMARGS is missing or a LIBOS region is not contiguous sysmem', async () => {
		const noArgs = await failedBoot('570.144', (d) => d.libos.bytes.fill(0, 3 * 32, 4 * 32));
		expect(noArgs.rig.gsp.inspect().failure).toMatch(/no RMARGS/);
		const radix = await failedBoot('570.144', (d) => {
			d.libos.bytes[32 + 24] = 2;
		});
		expect(radix.rig.gsp.inspect().failure).toMatch(/LOGINTR: kind 2/);
	});

	it('checks GspSystemInfo against the booted layout (664 B r535, 928 B r570)', async () => {
		expect(enc('535.113.01', 'GspSystemInfo').length).toBe(664);
		expect(enc('570.144', 'GspSystemInfo').length).toBe(928);
		const d = new TestDriver(makeRig(), '570.144');
		d.setupQueues();
		d.setupLibos();
		await d.send(fn('570.144', 'GSP_SET_SYSTEM_INFO'), enc('535.113.01', 'GspSystemInfo'), { sequence: 0 });
		d.rig.gsp.start({ libosArgs: d.libos.busAddress, firmwareVersion: '570.144' });
		const msgs = await d.drain(3);
		expect(d.rig.gsp.phase).toBe('failed');
		expect(d.rig.gsp.inspect().failure).toMatch(
			/carries 664 bytes; GspSystemInfo of firmware 570.144 is 928/,
		);
		expect(msgs.map((m) => m.function)).toEqual([ev('570.144', 'OS_ERROR_LOG')]);
	});

	it('wants GSP_SET_SYSTEM_INFO first and a well-formed registry table', async () => {
		const d = new TestDriver(makeRig(), '535.113.01');
		d.setupQueues();
		d.setupLibos();
		await d.send(fn('535.113.01', 'SET_REGISTRY'), d.registryPayload({ A: 1 }), { sequence: 0 });
		d.rig.gsp.start({ libosArgs: d.libos.busAddress, firmwareVersion: '535.113.01' });
		d.rig.gsp.runUntilIdle();
		expect(d.rig.gsp.inspect().failure).toMatch(
			/expected GSP_SET_SYSTEM_INFO \(72\) before init, got function 73/,
		);

		const bad = await failedBoot('535.113.01', (d) => {
			// Corrupt SET_REGISTRY's nameOffset in the queued element and fix up its checksum.
			const slot = 0x2000 + 0x1000; // cmdq slot 1
			const dv = d.dv;
			dv.setUint32(slot + 80 + 8, 0xffff, true);
			dv.setUint32(slot + 32, 0, true);
			const len = dv.getUint32(slot + 56, true);
			let lo = 0;
			let hi = 0;
			for (let i = 0; i < 48 + len; i += 8) {
				lo ^= dv.getUint32(slot + i, true);
				hi ^= dv.getUint32(slot + i + 4, true);
			}
			dv.setUint32(slot + 32, (lo ^ hi) >>> 0, true);
		});
		expect(bad.rig.gsp.inspect().failure).toMatch(/registry entry 0: name at 65535/);
	});
});
