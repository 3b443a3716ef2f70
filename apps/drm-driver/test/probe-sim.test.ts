import { probe } from '@gspkit/core';
import { createSimulatedGpu, SIM_CHIPS } from '@gspkit/gpu-sim';
import { describe, expect, it } from 'vitest';

// core may not import gpu-sim (ARCHITECTURE.md), so the probe-against-the-simulator sweep lives in the app,
// which composes both.
describe('core.probe against every simulated board', () => {
	for (const spec of SIM_CHIPS) {
		it(`${spec.name}: chip, PCI identity, BARs, VRAM and SR-IOV`, async () => {
			const gpu = createSimulatedGpu({ chip: spec.name, dmaPoolSize: 4096 });
			const d = await probe(gpu);
			expect(d.chip.name).toBe(spec.name.toUpperCase());
			expect(d.chip.chipset).toBe((spec.architecture << 4) | spec.implementation);
			expect(d.chip.revision).toEqual({ major: 0xa, minor: 1 });
			expect(d.pci).toMatchObject({ vendorId: 0x10de, deviceId: spec.deviceId, classCode: spec.classCode });
			expect(d.vramSize).toBe(spec.vramSize);
			expect(
				d.bars.map((b) => ({ index: b.index, size: b.size, is64: b.is64, prefetchable: b.prefetchable })),
			).toEqual(
				gpu.bars.map((b) => ({ index: b.index, size: b.size, is64: b.is64, prefetchable: b.prefetchable })),
			);
			expect(d.bars.map((b) => b.address)).toEqual(gpu.bars.map((b) => b.address));
			expect(d.pcie).toEqual({ maxGen: spec.pcieGen, maxWidth: 16, gen: spec.pcieGen, width: 16 });
			expect(d.gfwBootComplete).toBe(true);
			if (spec.sriov === null) expect(d.sriov).toBeUndefined();
			else {
				expect(d.sriov).toMatchObject({
					totalVFs: spec.sriov.totalVFs,
					initialVFs: spec.sriov.initialVFs,
					numVFs: 0,
					enabled: false,
					firstVfOffset: spec.sriov.firstVfOffset,
					vfStride: spec.sriov.vfStride,
					vfDeviceId: spec.sriov.vfDeviceId,
				});
				expect(d.sriov?.vfBars.map((b) => b.size)).toEqual([
					BigInt(spec.sriov.vfBar0Size),
					spec.sriov.vfBar1Size,
					spec.sriov.vfBar3Size,
				]);
			}
			await gpu.close();
		});
	}

	it('honours a custom VRAM size and a disabled memory decode', async () => {
		const gpu = createSimulatedGpu({ chip: 'ad102', vramSize: 48n << 30n, dmaPoolSize: 4096 });
		gpu.config.write16(0x04, 0);
		const d = await probe(gpu);
		expect(d.vramSize).toBe(48n << 30n);
		expect(gpu.config.read16(0x04) & 0x2).toBe(0x2);
		await gpu.close();
	});
});
