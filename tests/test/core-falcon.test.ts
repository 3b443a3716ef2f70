/**
 * The falcon-core half of RUN_CPU_SEQUENCER (`gspFalconControl`, over falcon-boot's `Falcon`) against the
 * simulated GSP falcon: CORE_RESET leaves the core halted with physical DMA allowed (FBIF_CTL bit 7, DMACTL 0);
 * CORE_START then CORE_WAIT_FOR_HALT returns once the (empty) core halts; CORE_RESUME without a boot refuses.
 */

import { gspFalconControl } from '@gspkit/core';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { identifyChip, SEC } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';

const GSP_BASE = 0x110000;

describe('gspFalconControl on the simulated GSP falcon', () => {
	it('CORE_RESET, CORE_START and CORE_WAIT_FOR_HALT drive the falcon registers', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		try {
			const chip = identifyChip(gpu.bar0.read32(0), gpu.bar0.read32(0xa00));
			const falcon = gspFalconControl(gpu, chip, () => undefined);
			// Dirty the registers CORE_RESET must set up.
			gpu.bar0.write32(GSP_BASE + 0x10c, 0x7); // DMACTL
			await falcon.coreReset();
			expect(gpu.bar0.read32(GSP_BASE + 0x624) & 0x80).toBe(0x80); // FBIF_CTL.ALLOW_PHYS_NO_CTX
			expect(gpu.bar0.read32(GSP_BASE + 0x10c)).toBe(0); // DMACTL
			expect(gpu.bar0.read32(GSP_BASE + 0x100) & 0x10).toBe(0x10); // CPUCTL.HALTED after reset
			await falcon.coreStart();
			await falcon.coreWaitForHalt(SEC);
			expect(gpu.bar0.read32(GSP_BASE + 0x100) & 0x10).toBe(0x10);
			await expect(Promise.resolve().then(() => falcon.coreResume())).rejects.toMatchObject({
				code: 'CORE_NOT_READY',
			});
		} finally {
			await gpu.close();
		}
	});
});
