/**
 * `@gspkit/core` with NVIDIA's published firmware files, located the way the driver finds them
 * (GSPKIT_FIRMWARE_PATH, /lib/firmware, the project cache that `gspkit-fetch firmware` fills). Skipped when no
 * complete set for GA102 is installed. One boot per branch (each loads the 63 MB GSP image).
 */

import { openDevice } from '@gspkit/core';
import { availableBranches } from '@gspkit/falcon-boot';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { describe, expect, it } from 'vitest';
import { ABIS, copyRoundTrip, firstDiff } from './core-kit.ts';

const installed = await availableBranches('ga102');

describe.skipIf(installed.length === 0)('core with the published GA102 firmware', () => {
	it.each(installed)('GSP-RM %s: boots from the files, promotes a VA space and copies', async (version) => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const device = await openDevice(gpu, { abis: ABIS, abiOverride: version });
		try {
			const fw = device.info.firmware;
			expect(fw).toMatchObject({ version, source: 'files', forced: true });
			expect(fw.files.some((f) => f.endsWith(`nvidia/ga102/gsp/gsp-${version}.bin`))).toBe(true);
			expect(gpu.gspRm.inspect().firmwareVersion).toBe(version);
			expect([device.info.gr.gpcCount, device.info.gr.tpcCount]).toEqual([7, 41]);
			const vas = await device.createVaSpace();
			const { sent, back } = await copyRoundTrip(device, vas, 64 * 1024, 5);
			expect(firstDiff(back, sent)).toBe(-1);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});
