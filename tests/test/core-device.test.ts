/**
 * `@gspkit/core` end to end on the simulated GPU: the same driver code reaches GSP_INIT_DONE and builds the RM
 * object tree on GSP-RM booted with either firmware branch (synthetic firmware), and reports the GPC/TPC
 * topology correctly for both (static info in r535, GR controls in r570).
 */

import { CORE_STAGES, type DeviceProgress, openDevice } from '@gspkit/core';
import { BOOT_STAGES } from '@gspkit/falcon-boot';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { describe, expect, it } from 'vitest';
import { ABIS, BRANCHES, openSynthetic, syntheticFiles } from './core-kit.ts';

/** Published SM/GPC counts of the boards (TPC = 2 SMs): RTX 3090 82 SMs / 7 GPCs, RTX 2080 Ti 68 / 6. */
const PUBLISHED = { ga102: { gpcs: 7, tpcs: 41 }, tu102: { gpcs: 6, tpcs: 34 } } as const;

describe.each(BRANCHES)('core on GA102 with GSP-RM $version', ({ branch, version }) => {
	it('boots to INIT_DONE, builds the object tree, and reports the device', async () => {
		const progress: DeviceProgress[] = [];
		const { gpu, device } = await openSynthetic('ga102', branch, { onProgress: (p) => progress.push(p) });
		try {
			expect(device.state).toBe('ready');
			const info = device.info;
			expect(info.firmware).toMatchObject({ version, source: 'memory', forced: true, label: 'synthetic' });
			expect(info.firmware.branch).toBe(`r${branch}`);

			// The GSP side saw the whole init: SET_SYSTEM_INFO with our PCI identity, the registry, running.
			const snap = gpu.gspRm.inspect();
			expect(snap.phase).toBe('running');
			expect(snap.firmwareVersion).toBe(version);
			// r535's GspSystemInfo has no PCI ID fields (664 bytes; r570's is 928).
			if (branch === '570') expect(snap.systemInfo?.PCIDeviceID).toBe(((0x2204 << 16) | 0x10de) >>> 0);
			expect(snap.systemInfo?.nvDomainBusDeviceFunc).toBe(0x100n);
			expect(snap.systemInfo?.gpuPhysAddr).toBe(gpu.bars.find((b) => b.index === 0)?.address);
			expect(snap.registry.get('RMSecBusResetEnable')).toBe(1);

			// The object tree: client (its own parent) → device → subdevice, with nouveau's handles.
			const ours = snap.objects.filter((o) => o.hClient === 0xc1d00000);
			expect(ours.map((o) => [o.hObject >>> 0, o.hParent >>> 0, o.classId])).toEqual([
				[0xc1d00000, 0xc1d00000, 0x0000],
				[0xde1d0000, 0xc1d00000, 0x0080],
				[0x5d1d0000, 0xde1d0000, 0x2080],
			]);

			// GPC/TPC: the board's published numbers, whichever way the branch obtains them.
			expect(info.gr.gpcCount).toBe(PUBLISHED.ga102.gpcs);
			expect(info.gr.tpcCount).toBe(PUBLISHED.ga102.tpcs);
			expect(info.gr.tpcMasks).toHaveLength(7);
			expect(info.gr.tpcMasks.reduce((s, m) => s + popcount(m), 0)).toBe(41);
			expect(info.gr.source).toBe(branch === '535' ? 'static-info' : 'controls');

			// VRAM: what static info says RM left to the driver (region 0), which is less than the board has.
			expect(info.vram.total).toBe(gpu.vramSize);
			const r0 = info.vram.regions[0]!;
			expect(r0).toMatchObject({ base: 0n, reserved: 0n, protected: false });
			expect(info.vram.usable).toBe(r0.limit + 1n);
			expect(info.vram.usable + info.vram.reserved).toBe(gpu.vramSize);
			expect(info.vram.regions.slice(1).every((r) => r.reserved > 0n)).toBe(true);
			expect(info.gpuName).toContain('3090');

			expect(info.engines.map((e) => e.name)).toEqual([
				'GR0',
				'CE0',
				'CE1',
				'CE2',
				'CE3',
				'CE4',
				'NVDEC0',
				'NVENC0',
			]);
			expect(info.engines.find((e) => e.name === 'CE0')).toMatchObject({ kind: 'ce', instance: 0 });
			expect(info.interrupts?.some((r) => r.engine === 'ce0' && r.vectorNonStall !== undefined)).toBe(true);
			expect(info.mmu).toEqual({ format: 'v2', vaBits: 49 });

			// Every stage was timed, in order: core's, then falcon-boot's, then core's again.
			const stages = device.timings.map((t) => t.stage);
			const expected = [
				'probe',
				'firmware-select',
				...BOOT_STAGES.filter((s) => s !== 'done'),
				...CORE_STAGES.filter((s) => !['probe', 'firmware-select', 'vaspace-restore'].includes(s)),
			];
			expect(stages).toEqual(expected);
			expect(device.timings.every((t) => t.durationNs >= 0n)).toBe(true);

			// Progress: the GSP image copy reported growing byte counts up to its size.
			const copy = progress.filter((p) => p.stage === 'gsp-image' && p.bytesTotal !== undefined);
			expect(copy.length).toBeGreaterThan(0);
			const done = copy.map((p) => p.bytesDone ?? 0);
			expect(done).toEqual([...done].sort((a, b) => a - b));
			expect(done.at(-1)).toBe(copy.at(-1)?.bytesTotal);
			expect(progress.every((p) => p.phase === 'open')).toBe(true);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('core topology on TU102', () => {
	it.each(BRANCHES)('r$branch: 6 GPCs, 34 TPCs', async ({ branch }) => {
		const { gpu, device } = await openSynthetic('tu102', branch);
		try {
			expect([device.info.gr.gpcCount, device.info.gr.tpcCount]).toEqual([
				PUBLISHED.tu102.gpcs,
				PUBLISHED.tu102.tpcs,
			]);
			expect(device.info.gr.tpcMasks.reduce((s, m) => s + popcount(m), 0)).toBe(34);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('core teardown', () => {
	it('close() frees everything and leaves a GPU that boots again', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const files = syntheticFiles('ga102');
		const open = () => openDevice(gpu, { abis: ABIS, firmware: { files } });
		const first = await open();
		expect(first.info.firmware.version).toBe('570.144'); // newest branch with a complete set
		const log: string[] = [];
		first.on('log', (l) => log.push(l.message));
		await first.close();
		expect(first.state).toBe('closed');
		expect(log).toContain('GSP-RM unloaded');
		expect(log.some((l) => l.includes('WPR2 torn down'))).toBe(true);
		expect(gpu.dma.liveAllocations).toBe(0);
		await expect(first.createVaSpace()).rejects.toMatchObject({ code: 'CORE_CLOSED' });

		const second = await open();
		expect(second.state).toBe('ready');
		expect(gpu.gspRm.inspect().phase).toBe('running');
		await second.close();
		await gpu.close();
	});
});

function popcount(v: number): number {
	let n = 0;
	for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
	return n;
}
