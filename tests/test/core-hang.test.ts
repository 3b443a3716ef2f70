/**
 * The timeout path end to end: the simulated host engine stops making progress on one channel (an injected
 * hang), the scheduler's job timeout (virtual time) fails that job and kills only its channel; later
 * submissions to it fail with ENODEV while another channel keeps running. The kill reaches the GPU too: RM
 * deschedules the channel, so when the hang ends the failed job still never executes.
 */

import { describe, expect, it } from 'vitest';
import { BRANCHES, firstDiff, openSynthetic } from './core-kit.ts';

const MS = 1_000_000n;

describe.each(BRANCHES)('engine hang with GSP-RM $version', ({ branch }) => {
	it('times out the guilty channel only', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch, { jobTimeoutNs: 50n * MS });
		try {
			const vas = await device.createVaSpace();
			const hung = await device.createChannel(vas, { engine: 'copy', ceInstance: 0 });
			const other = await device.createChannel(vas, { engine: 'copy', ceInstance: 1 });
			const mem = device.allocMemory({ size: 3 * 4096, placement: 'sysmem' });
			mem.write(
				0,
				new Uint8Array(4096).map((_, i) => ((i * 7) & 0xff) | 1), // no zero byte: an unwritten copy differs at 0
			);
			const m = vas.map(mem);

			const { chid, runlistId } = hung.hardware;
			const injection = gpu.host.inject({ kind: 'hang', engine: 'host', chid, runlistId });
			const job = hung.copy({ src: m.va, dst: m.va + 4096n, length: 4096 });
			const err = await job.finished.result().then(
				() => undefined,
				(e: unknown) => e,
			);
			expect(err, 'the hung job fails instead of hanging').toMatchObject({ errno: 'ETIMEDOUT' });
			expect(hung.killed).toBe(true);
			expect(() => hung.copy({ src: m.va, dst: m.va + 8192n, length: 16 })).toThrow(
				expect.objectContaining({ errno: 'ENODEV' }),
			);
			// The copy never ran on the hung channel.
			expect(firstDiff(mem.read(4096, 4096), mem.read(0, 4096))).toBe(0);

			// The kill also deschedules the channel in RM (GPFIFO_SCHEDULE off); core does not wait for it.
			const disabling = hung.rmChannel.disabling;
			expect(disabling, 'the kill asked RM to deschedule the channel').toBeDefined();
			await disabling;
			expect(hung.rmChannel.scheduled).toBe(false);
			const inRm = gpu.gspRm.inspect().channels.find((c) => c.hObject === hung.hardware.hChannel);
			expect(inRm?.info).toMatchObject({ chid, runlist: runlistId, bound: true, scheduled: false });
			expect(gpu.host.channel(chid, runlistId)).toMatchObject({ enabled: false });

			// The hang ends, the GPU catches up: the descheduled channel's queued copy still never runs.
			injection.clear();
			const run = gpu.host.runUntilIdle();
			expect(run.idle).toBe(true);
			expect(gpu.host.channel(chid, runlistId)?.stats.gpEntries).toBe(0);
			expect(firstDiff(mem.read(4096, 4096), mem.read(0, 4096))).toBe(0);

			const ok = other.copy({ src: m.va, dst: m.va + 8192n, length: 4096 });
			await ok.finished.result();
			expect(firstDiff(mem.read(8192, 4096), mem.read(0, 4096))).toBe(-1);
			expect(
				gpu.gspRm.inspect().channels.find((c) => c.hObject === other.hardware.hChannel)?.info,
			).toMatchObject({ scheduled: true });
			expect(other.killed).toBe(false);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});
