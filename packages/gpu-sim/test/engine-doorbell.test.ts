/**
 * The usermode region and the doorbell: register layout per chip, token validation (invalid tokens are
 * ignored and counted), latency, delayed and dropped doorbells, disabled channels, and a real clock.
 */

import { RealClock } from '@gspkit/hal';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EngineError, usermodeLayout } from '../src/engines/index.ts';
import { NO_DEVICE_READ_VALUE } from '../src/index.ts';
import { Rig, type RigOptions, sem, semOp, u32 } from './engine-kit.ts';

const rigs: Rig[] = [];
function rig(o: RigOptions = {}): Rig {
	const r = new Rig(o);
	rigs.push(r);
	return r;
}
afterEach(async () => {
	for (const r of rigs.splice(0)) await r.close();
});

describe('usermode region', () => {
	it('reports the usermode class in CFG0 at the chip-specific bases', () => {
		const t = rig({ chip: 'tu102' });
		expect(t.gpu.bar0.read32(0x810000)).toBe(0xc461);
		expect(t.gpu.bar0.read32(0xbb0000)).toBe(0xc461);
		const a = rig({ chip: 'ga102' });
		expect(a.gpu.bar0.read32(0xbb0000)).toBe(0xc561);
		expect(a.gpu.bar0.read32(0x810000)).toBe(NO_DEVICE_READ_VALUE);
		const ad = rig({ chip: 'ad102' });
		expect(ad.gpu.bar0.read32(0xbb0000)).toBe(0xc561);
		const h = rig({ chip: 'gh100' });
		expect(h.gpu.bar0.read32(0xbb0000)).toBe(0xc661);
		expect(() => usermodeLayout('blackwell')).toThrow(/not modelled/);
	});

	it('reads the platform clock through TIME_0/TIME_1 with 32 ns resolution; other registers read 0', () => {
		const r = rig();
		r.clock.advance(0x3_2345_6789n);
		expect(r.gpu.bar0.read32(0xbb0080)).toBe(0x2345_6780);
		expect(r.gpu.bar0.read32(0xbb0084)).toBe(3);
		expect(r.gpu.bar0.read32(0xbb0004)).toBe(0);
		r.gpu.bar0.write32(0xbb0004, 0xffff_ffff);
		expect(r.gpu.bar0.read32(0xbb0004)).toBe(0);
		expect(r.gpu.bar0.read32(0xbb0090)).toBe(0);
	});
});

describe('doorbell tokens', () => {
	it('ignores and counts tokens with reserved bits, unknown CHIDs or the wrong runlist', () => {
		const r = rig();
		const ch = r.channel({ chid: 5, runlistId: 3 });
		const s = r.sysMapped(4096);
		ch.push(semOp(s.va, 1n, sem.RELEASE));
		ch.publish();
		const tries: [number, string][] = [
			[(ch.token | (1 << 30)) >>> 0, 'reserved-bits'],
			[ch.token | (1 << 12), 'reserved-bits'],
			[(ch.token | (1 << 23)) >>> 0, 'reserved-bits'],
			[6 | (3 << 16), 'unknown-channel'],
			[5 | (2 << 16), 'runlist-mismatch'],
			[5 | (15 << 16), 'runlist-mismatch'], // RUNLIST_ID_ALL exists on Turing only
		];
		for (const [token, reason] of tries) {
			ch.ring(token);
			r.settle();
			expect(r.host.stats.lastIgnored).toMatchObject({ token, reason });
		}
		expect(r.host.stats).toMatchObject({ doorbells: 6, ignoredDoorbells: 6 });
		expect(u32(s.buf.bytes)).toBe(0);
		ch.ring();
		r.settle();
		expect(u32(s.buf.bytes)).toBe(1);
		expect(r.host.stats).toMatchObject({ doorbells: 7, ignoredDoorbells: 6 });
		expect(r.host.usermode[0]?.doorbellWrites).toBe(7);
	});

	it("accepts Turing's RUNLIST_ID_ALL", () => {
		const r = rig({ chip: 'tu102' });
		const ch = r.channel({ chid: 9, runlistId: 2 });
		const s = r.sysMapped(4096);
		ch.push(semOp(s.va, 1n, sem.RELEASE));
		ch.publish();
		ch.ring(9 | (15 << 16));
		r.settle();
		expect(u32(s.buf.bytes)).toBe(1);
	});

	it('starts work after the configured doorbell latency', () => {
		const r = rig({ timing: { doorbellLatencyNs: 1000n } });
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.submit(semOp(s.va, 1n, sem.RELEASE));
		r.clock.advance(999n);
		expect(r.host.runUntilIdle().waiting).toEqual([ch.chid]);
		expect(u32(s.buf.bytes)).toBe(0);
		r.clock.advance(1n);
		expect(u32(s.buf.bytes)).toBe(1);
	});

	it('delays the next doorbells by an injected amount, then stops delaying', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		const delay = r.host.inject({ kind: 'delay', ns: 5000n, count: 1 });
		ch.submit(semOp(s.va, 1n, sem.RELEASE));
		r.clock.advance(4999n);
		expect(u32(s.buf.bytes)).toBe(0);
		expect(delay.active).toBe(false);
		r.clock.advance(1n);
		expect(u32(s.buf.bytes)).toBe(1);
		ch.submit(semOp(s.va, 2n, sem.RELEASE));
		r.clock.advance(0n);
		expect(u32(s.buf.bytes)).toBe(2);
	});

	it('loses dropped doorbells; the next one runs everything queued', () => {
		const r = rig();
		const ch = r.channel({ chid: 3 });
		const other = r.channel({ chid: 4 });
		const s = r.sysMapped(4096);
		r.host.inject({ kind: 'drop-doorbell', chid: 3, count: 2 });
		ch.submit(semOp(s.va, 1n, sem.RELEASE));
		other.submit(semOp(s.va + 8n, 1n, sem.RELEASE));
		r.clock.advance(1_000_000n);
		ch.submit(semOp(s.va, 2n, sem.RELEASE));
		r.settle();
		expect([u32(s.buf.bytes), u32(s.buf.bytes, 8)]).toEqual([0, 1]);
		expect(r.host.stats.droppedDoorbells).toBe(2);
		ch.ring();
		r.settle();
		expect(u32(s.buf.bytes)).toBe(2);
		expect(ch.gpGet).toBe(2);
	});

	it('keeps a doorbell for a disabled channel until it is enabled', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		r.host.setChannelEnabled(ch.chid, false);
		ch.submit(semOp(s.va, 1n, sem.RELEASE));
		r.clock.advance(1_000_000n);
		r.host.runUntilIdle();
		expect(u32(s.buf.bytes)).toBe(0);
		expect(r.host.channel(ch.chid)).toMatchObject({ status: 'pending', enabled: false });
		r.host.setChannelEnabled(ch.chid, true);
		r.clock.advance(0n);
		expect(u32(s.buf.bytes)).toBe(1);
	});
});

describe('registration', () => {
	it('validates registrations and channel lookups', () => {
		const r = rig();
		const ch = r.channel({ chid: 7 });
		const reg = ch.registration;
		expect(() => r.host.registerChannel(reg)).toThrow(EngineError);
		expect(() => r.host.registerChannel(reg)).toThrow(
			expect.objectContaining({ code: 'SIM_ENGINE_CHANNEL_EXISTS' }),
		);
		const bad = [
			{ ...reg, chid: 4096 },
			{ ...reg, chid: 8, runlistId: 128 },
			{ ...reg, chid: 8, class: 0xc46f },
			{ ...reg, chid: 8, instanceBlock: { aperture: 'video' as const, address: 0x100n } },
			{ ...reg, chid: 8, userd: { aperture: 'video' as const, address: 0x100n } },
			{ ...reg, chid: 8, gpfifo: { va: 0x1000n, entries: 12 } },
			{ ...reg, chid: 8, gpfifo: { va: (1n << 40n) - 64n, entries: 16 } },
			{ ...reg, chid: 8, engineClass: 0xc5b5 },
		];
		for (const b of bad)
			expect(() => r.host.registerChannel(b)).toThrow(
				expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
			);
		expect(() => r.host.unregisterChannel(99)).toThrow(
			expect.objectContaining({ code: 'SIM_ENGINE_NO_CHANNEL' }),
		);
		r.host.unregisterChannel(7);
		expect(r.host.channel(7)).toBeUndefined();
		ch.ring();
		r.settle();
		expect(r.host.stats.lastIgnored?.reason).toBe('unknown-channel');
	});

	it('refuses to run from inside its own error listener', () => {
		const r = rig();
		const ch = r.channel();
		let thrown: unknown;
		r.host.addErrorListener(() => {
			try {
				r.host.runUntilIdle();
			} catch (e) {
				thrown = e;
			}
		});
		ch.submit([0xc000_0000]);
		r.settle();
		expect(thrown).toMatchObject({ code: 'SIM_ENGINE_REENTRANT' });
	});
});

describe('on a real clock', () => {
	it('runs doorbells and re-checks parked acquires without runUntilIdle', async () => {
		const r = rig({ clock: new RealClock(), timing: { retryIntervalNs: 1_000_000n } });
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.submit([...semOp(s.va, 5n, sem.ACQ_STRICT_GEQ), ...semOp(s.va + 8n, 0x99n, sem.RELEASE)]);
		await vi.waitFor(() => expect(r.host.channel(ch.chid)?.status).toBe('blocked'), {
			timeout: 5000,
			interval: 5,
		});
		s.buf.view.setUint32(0, 6, true);
		await vi.waitFor(() => expect(u32(s.buf.bytes, 8)).toBe(0x99), { timeout: 5000, interval: 5 });
		expect(ch.gpGet).toBe(1);
		expect(r.host.channel(ch.chid)?.status).toBe('idle');
	});
});
