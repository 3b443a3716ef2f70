/**
 * Recovery through `@gspkit/core`: an MMU fault in a job (the simulated copy engine faults, the simulated
 * GSP-RM raises MMU_FAULT_QUEUED and RC_TRIGGERED) fails that job's fence with a reason and kills only its
 * channel; a hung GSP makes every pending call fail with a typed error instead of hanging; `reset()` brings
 * the device back and rebuilds its objects.
 */

import { ChannelKilledError, type DeviceEvents, isCoreError, openDevice } from '@gspkit/core';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { isGspkitError } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { ABIS, BRANCHES, copyRoundTrip, firstDiff, openSynthetic, syntheticFiles } from './core-kit.ts';

describe.each(BRANCHES)('recovery with GSP-RM $version', ({ branch }) => {
	it('an MMU fault fails the job with a reason and kills only that channel', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		const killed: DeviceEvents['channel-killed'][] = [];
		device.on('channel-killed', (e) => killed.push(e));
		try {
			const vas = await device.createVaSpace();
			const bad = await device.createChannel(vas, { engine: 'copy', ceInstance: 0 });
			const good = await device.createChannel(vas, { engine: 'copy', ceInstance: 1 });
			const src = device.allocMemory({ size: 8192, placement: 'sysmem' });
			const ms = vas.map(src);
			const unmapped = 0x40_0000_0000n; // nothing is mapped there
			const job = bad.copy({ src: ms.va, dst: unmapped, length: 4096 });
			const after = bad.copy({ src: ms.va, dst: ms.va + 4096n, length: 16 });

			const err = await job.finished.result().then(
				() => undefined,
				(e: unknown) => e,
			);
			expect(err).toBeInstanceOf(ChannelKilledError);
			const k = err as ChannelKilledError;
			expect(k.reason).toBe('rc');
			expect(k.code).toBe('CORE_CHANNEL_KILLED');
			expect(k.errno).toBe('ENODEV');
			expect(k.details).toMatchObject({ exceptType: 31, chid: bad.id, mmuFaultQueued: true });
			expect(k.message).toContain('MMU fault');
			// r570's RC_TRIGGERED carries the faulting address; r535's struct has no such field.
			if (branch === '570') expect(k.details.faultAddress).toBe('0x4000000000');
			else expect(k.details.faultAddress).toBeUndefined();
			// The job queued behind it fails too; the channel takes no more work.
			await expect(after.finished.result()).rejects.toBeInstanceOf(ChannelKilledError);
			expect(bad.killed).toBe(true);
			expect(() => bad.copy({ src: ms.va, dst: ms.va, length: 4 })).toThrow(
				expect.objectContaining({ code: 'CHSCHED_DEVICE_LOST' }),
			);
			expect(killed.map((e) => e.channel)).toEqual([bad]);
			expect(device.stats).toMatchObject({ rcErrors: 1, mmuFaults: 1 });

			// The other channel in the same VA space goes on.
			const ok = good.copy({ src: ms.va, dst: ms.va + 4096n, length: 4096 });
			await ok.finished.result();
			expect(firstDiff(src.read(4096, 4096), src.read(0, 4096))).toBe(-1);
			expect(device.state).toBe('ready');
		} finally {
			await device.close();
			await gpu.close();
		}
	});

	it('a hung GSP fails pending calls with typed errors; reset brings the device back', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch, { callTimeoutNs: 500_000_000n });
		const resets: DeviceEvents['reset'][] = [];
		const log: string[] = [];
		device.on('reset', (e) => resets.push(e));
		device.on('log', (l) => log.push(l.message));
		try {
			const vas = await device.createVaSpace();
			const ch = await device.createChannel(vas, { engine: 'copy' });

			gpu.gspRm.faults.hang();
			// Two calls in flight at once: neither may hang.
			const results = await Promise.allSettled([
				device.createVaSpace(),
				device.createChannel(vas, { engine: 'copy' }),
			]);
			for (const r of results) {
				expect(r.status).toBe('rejected');
				const e = (r as PromiseRejectedResult).reason;
				expect(isGspkitError(e)).toBe(true);
				expect(['RPC_TIMEOUT', 'RPC_DEAD', 'CORE_DEVICE_LOST']).toContain(e.code);
			}
			expect(results.some((r) => (r as PromiseRejectedResult).reason.code === 'RPC_TIMEOUT')).toBe(true);
			expect(device.state).toBe('lost');
			// The existing channel was killed with the device.
			expect(ch.killed).toBe(true);
			expect((ch.deathCause as ChannelKilledError).reason).toBe('device-lost');
			const lostErr = await device.createVaSpace().catch((e: unknown) => e);
			expect(isCoreError(lostErr, 'CORE_DEVICE_LOST')).toBe(true);

			await device.reset('hung GSP');
			expect(device.state).toBe('ready');
			expect(resets.map((r) => r.phase)).toEqual(['begin', 'done']);
			expect(resets[1]).toMatchObject({ reason: 'hung GSP', channelsLost: 1, vaSpacesRestored: 1 });
			expect(log).toContain('GSP-RM is dead: skipping the unload RPC');
			expect(log.some((l) => /reset done .*object tree rebuilt/.test(l))).toBe(true);
			expect(device.timings.some((t) => t.stage === 'vaspace-restore')).toBe(true);

			// RM knows the object tree and the VA space again, and the old VA space works for new channels.
			const snap = gpu.gspRm.inspect();
			expect(snap.phase).toBe('running');
			expect(snap.objects.filter((o) => o.hClient === 0xc1d00000).map((o) => o.classId)).toEqual([
				0x0, 0x80, 0x2080, 0x90f1,
			]);
			const { sent, back } = await copyRoundTrip(device, vas, 64 * 1024, 3);
			expect(firstDiff(back, sent)).toBe(-1);
			expect(device.stats.resets).toBe(1);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('reset of a healthy device', () => {
	it('unloads GSP-RM first, then boots again', async () => {
		const phases: string[] = [];
		const { gpu, device } = await openSynthetic('ga102', '570', {
			onProgress: (p) => phases.push(`${p.phase}:${p.stage}`),
		});
		const log: string[] = [];
		device.on('log', (l) => log.push(l.message));
		try {
			const opened = phases.length;
			await device.reset();
			expect(log.slice(0, 3)).toEqual([
				'resetting GA102: requested',
				'GSP-RM unloaded',
				'booter_unload: WPR2 torn down',
			]);
			expect(device.state).toBe('ready');
			// The re-boot reported its stages as a reset.
			const again = phases.slice(opened);
			expect(again).toContain('reset:fwsec');
			expect(again).toContain('reset:gsp-init');
			expect(again.every((p) => p.startsWith('reset:'))).toBe(true);
			expect(device.timings[0]?.stage).toBe('unload');
			expect(device.timings.at(-1)?.stage).toBe('ready');
			const vas = await device.createVaSpace();
			const { sent, back } = await copyRoundTrip(device, vas, 16 * 1024);
			expect(firstDiff(back, sent)).toBe(-1);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('a GSP that never comes up', () => {
	it('openDevice fails with a typed error and leaves a GPU that boots again', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		try {
			gpu.gspRm.faults.hang();
			const files = syntheticFiles('ga102');
			const err = await openDevice(gpu, { abis: ABIS, firmware: { files } }).catch((e: unknown) => e);
			expect(isGspkitError(err)).toBe(true);
			expect((err as { code: string }).code).toBe('RPC_LINK');
			// Everything the attempt allocated was freed, and WPR2 was torn down again.
			expect(gpu.dma.liveAllocations).toBe(0);
			gpu.gspRm.faults.unhang();
			const device = await openDevice(gpu, { abis: ABIS, firmware: { files } });
			expect(device.state).toBe('ready');
			await device.close();
		} finally {
			await gpu.close();
		}
	});
});
