import { RealClock, SEC } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { NV_STATUS } from '../src/gsp-rm/index.ts';
import { dec, makeRig, TestDriver } from './gsp-rm-testkit.ts';

describe('GSP-RM in a worker thread', () => {
	it('boots, serves RM calls and raises events from another thread, sharing only DMA, registers and the IRQ', async () => {
		const rig = makeRig({ mode: 'worker', clock: new RealClock() });
		expect(rig.gsp.mode).toBe('worker');
		expect(() => rig.gsp.step()).toThrow(expect.objectContaining({ code: 'SIM_GSP_RM_STATE' }));
		const d = new TestDriver(rig, '570.144');
		try {
			await d.boot();
			expect(rig.gsp.phase).toBe('running');
			// The interrupt crossed threads as a message and raised the 'gsp' line.
			await expect(rig.irq.wait(5n * SEC)).resolves.toBe(true);
			const { hClient, hSubdevice } = await d.basicTree();
			const { raw, info } = await d.staticInfo();
			expect(raw.length).toBe(1656);
			const gpc = await d.rmControl(hClient, hSubdevice, 0x2080_0137, new Uint8Array(4));
			expect(gpc.status).toBe(NV_STATUS.NV_OK);
			expect(new DataView(gpc.params.buffer).getUint32(0, true)).toBe(0x7f);
			expect(info.hInternalClient).toBeGreaterThan(0);

			rig.gsp.faults.dropDoorbells(1);
			const seq = await d.send(0, Uint8Array.of(5));
			d.rig.regs.write32(0x110c00, 0);
			const r = await d.waitFor((m) => m.function === 0 && m.sequence === seq);
			expect(r.payload).toEqual(Uint8Array.of(5));

			rig.gsp.raiseEvent('RC_TRIGGERED', { chid: 9 });
			const ev = await d.waitFor((m) => m.function === 0x1004);
			expect(dec('570.144', 'rpc_rc_triggered_v17_02', ev.payload).chid).toBe(9);

			const snap = await rig.gsp.snapshot();
			expect(snap.phase).toBe('running');
			expect(snap.counters.droppedDoorbells).toBe(1);
			expect(snap.objects.some((o) => o.hObject === hSubdevice && o.kind === 'subdevice')).toBe(true);
			expect([...snap.registry.keys()]).toContain('RMDevidCheckIgnore');
		} finally {
			await rig.gsp.close();
		}
	});
});
