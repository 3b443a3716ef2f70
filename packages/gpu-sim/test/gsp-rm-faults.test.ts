import { VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { NV_STATUS } from '../src/gsp-rm/index.ts';
import { booted, fn, makeRig, StatusQueueError, TestDriver } from './gsp-rm-testkit.ts';

const NOP = 0;

describe('fault injection', () => {
	it('delays replies by N ns of the GSP clock', async () => {
		const d = await booted('570.144');
		const clock = d.rig.clock as VirtualClock;
		d.rig.gsp.faults.delayReplies(5_000_000n, 1);
		await d.send(NOP, Uint8Array.of(1));
		d.rig.gsp.runUntilIdle();
		expect(d.readMessage()).toBeUndefined();
		clock.advance(4_999_999n);
		d.rig.gsp.runUntilIdle();
		expect(d.readMessage()).toBeUndefined();
		clock.advance(1n);
		d.rig.gsp.runUntilIdle();
		expect(d.readMessage()?.payload).toEqual(Uint8Array.of(1));
		// Only one reply was delayed.
		await d.send(NOP, Uint8Array.of(2));
		d.rig.gsp.runUntilIdle();
		expect(d.readMessage()?.payload).toEqual(Uint8Array.of(2));
	});

	it('delays replies in clock mode until virtual time passes', async () => {
		const clock = new VirtualClock();
		const d = new TestDriver(makeRig({ mode: 'clock', clock }), '535.113.01');
		await d.boot();
		d.rig.gsp.faults.delayReplies(1_000_000n);
		const t0 = clock.now();
		const r = await d.call(fn('535.113.01', 'NOP'), Uint8Array.of(7));
		expect(r.payload).toEqual(Uint8Array.of(7));
		expect(clock.now() - t0).toBeGreaterThanOrEqual(1_000_000n);
		await d.rig.gsp.close();
	});

	it('drops the next doorbell: the command waits for the next one', async () => {
		const d = await booted('535.113.01');
		d.rig.gsp.faults.dropDoorbells(1);
		await d.send(NOP, Uint8Array.of(1));
		expect(await d.drain(5)).toEqual([]);
		expect(d.rig.gsp.inspect().counters.droppedDoorbells).toBe(1);
		d.rig.regs.write32(0x110c00, 0);
		const [r] = await d.drain(1);
		expect(r?.payload).toEqual(Uint8Array.of(1));
	});

	it('corrupts the checksum of the next reply only', async () => {
		const d = await booted('570.144');
		d.rig.gsp.faults.corruptNextReplyChecksum();
		await d.send(NOP, Uint8Array.of(1));
		d.rig.gsp.runUntilIdle();
		expect(() => d.readElement()).toThrow(new StatusQueueError('checksum'));
		d.skipElement();
		expect((await d.call(NOP, Uint8Array.of(2))).payload).toEqual(Uint8Array.of(2));
	});

	it('skips a seqNum before the next reply', async () => {
		const d = await booted('535.113.01');
		d.rig.gsp.faults.skipReplySeqNum();
		await d.send(NOP, Uint8Array.of(1));
		d.rig.gsp.runUntilIdle();
		const expected = d.rxSeq;
		expect(() => d.readElement()).toThrow(
			new StatusQueueError(`seqNum ${expected + 1}, expected ${expected}`),
		);
		d.rxSeq = expected + 1;
		expect(d.readElement()?.payload).toEqual(Uint8Array.of(1));
		expect((await d.call(NOP, Uint8Array.of(2))).seqNum).toBe(expected + 2);
	});

	it('sends the next reply as an oversized (17-page) element', async () => {
		const d = await booted('570.144');
		d.rig.gsp.faults.oversizeNextReply();
		await d.send(NOP, Uint8Array.of(1));
		d.rig.gsp.runUntilIdle();
		expect(() => d.readElement()).toThrow(new StatusQueueError('elemCount 17'));
		expect(d.skipElement()).toBe(17);
		expect((await d.call(NOP, Uint8Array.of(2))).payload).toEqual(Uint8Array.of(2));
	});

	it('hangs: nothing is answered until un-hung; a reset and a new boot recover', async () => {
		const d = await booted('570.144');
		d.rig.gsp.faults.hang();
		await d.send(NOP, Uint8Array.of(1));
		expect(() => d.rig.gsp.raiseEvent('MMU_FAULT_QUEUED')).not.toThrow();
		expect(await d.drain(10)).toEqual([]);
		expect(d.rig.gsp.inspect().hung).toBe(true);
		d.rig.gsp.faults.unhang();
		const got = await d.drain(1);
		expect(got.map((m) => m.function)).toEqual([0x1005, NOP]);

		d.rig.gsp.faults.hang();
		d.rig.gsp.reset();
		expect(d.rig.gsp.phase).toBe('off');
		const fresh = new TestDriver(d.rig, '570.144');
		await fresh.boot();
		expect(d.rig.gsp.inspect().hung).toBe(false);
		expect((await fresh.call(NOP, Uint8Array.of(3))).payload).toEqual(Uint8Array.of(3));
	});

	it('fails the next call of a given control, alloc class or function with a chosen status', async () => {
		const d = await booted('535.113.01');
		const { hClient, hSubdevice } = await d.basicTree();
		const ceSize = 0x2080_2a08;
		d.rig.gsp.faults.failNextCall({
			function: 'GSP_RM_CONTROL',
			cmd: ceSize,
			status: NV_STATUS.NV_ERR_TIMEOUT_RETRY,
		});
		const other = await d.rmControl(hClient, hSubdevice, 0x2080_0137, new Uint8Array(4));
		expect(other.status).toBe(NV_STATUS.NV_OK);
		expect((await d.rmControl(hClient, hSubdevice, ceSize, new Uint8Array(4))).status).toBe(
			NV_STATUS.NV_ERR_TIMEOUT_RETRY,
		);
		expect((await d.rmControl(hClient, hSubdevice, ceSize, new Uint8Array(4))).status).toBe(NV_STATUS.NV_OK);

		d.rig.gsp.faults.failNextCall({
			function: 'GSP_RM_ALLOC',
			hClass: 0x90f1,
			status: NV_STATUS.NV_ERR_NO_MEMORY,
			count: 2,
		});
		const vas = new Uint8Array(48);
		expect((await d.rmAlloc(hClient, 0xde1d0000, 0x90f1_0001, 0x90f1, vas)).status).toBe(
			NV_STATUS.NV_ERR_NO_MEMORY,
		);
		expect((await d.rmAlloc(hClient, 0xde1d0000, 0x90f1_0001, 0x90f1, vas)).status).toBe(
			NV_STATUS.NV_ERR_NO_MEMORY,
		);
		expect((await d.rmAlloc(hClient, 0xde1d0000, 0x90f1_0001, 0x90f1, vas)).status).toBe(NV_STATUS.NV_OK);

		d.rig.gsp.faults.failNextCall({
			function: fn('535.113.01', 'GET_GSP_STATIC_INFO'),
			status: NV_STATUS.NV_ERR_NOT_READY,
		});
		const r = await d.call(fn('535.113.01', 'GET_GSP_STATIC_INFO'), new Uint8Array(2168));
		expect(r.rpcResult).toBe(NV_STATUS.NV_ERR_NOT_READY);
		expect((await d.staticInfo()).raw.length).toBe(2168);
	});

	it('clears every armed fault', async () => {
		const d = await booted('570.144');
		d.rig.gsp.faults.corruptNextReplyChecksum(5);
		d.rig.gsp.faults.dropDoorbells(5);
		d.rig.gsp.faults.clear();
		expect((await d.call(NOP, Uint8Array.of(9))).payload).toEqual(Uint8Array.of(9));
	});
});
