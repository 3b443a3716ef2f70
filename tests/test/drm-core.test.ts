/**
 * The gspkit-drm socket server on the REAL core device (gpu-sim, synthetic firmware, virtual clock), through
 * `@gspkit/drm-client`: the demo client sequence end to end, isolation between clients, and that everything a
 * client allocated (VRAM, page-table pages) is free again after it disconnects.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDrmError, openDrm } from '@gspkit/drm-client';
import { runDrmDemo, serveDevice } from '@gspkit/drm-driver';
import { DRM_NOUVEAU_VM_BIND_OP_MAP, NOUVEAU_GEM_DOMAIN_VRAM } from '@gspkit/drm-frontend';
import { describe, expect, it } from 'vitest';
import { BRANCHES, openSynthetic } from './core-kit.ts';

async function expectErrno(p: Promise<unknown>, errno: string): Promise<void> {
	try {
		await p;
	} catch (e) {
		expect(isDrmError(e, errno as never), String(e)).toBe(true);
		return;
	}
	throw new Error(`expected ${errno}, the call succeeded`);
}

describe.each(BRANCHES)('gspkit-drm on core with GSP-RM $version', ({ branch }) => {
	it('serves the demo workload, keeps clients apart and frees everything after they disconnect', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-core-'));
		const socketPath = join(dir, 'drm.sock');
		const vramBase = device.vramUsed();
		const dmaBase = gpu.dma.bytesInUse;
		const dmaAllocsBase = gpu.dma.liveAllocations;
		const errors: string[] = [];
		const service = await serveDevice(device, { socketPath, onError: (w, e) => errors.push(`${w}: ${e}`) });
		try {
			const a = await openDrm(socketPath);
			const demo = await runDrmDemo(socketPath, { client: a, size: 256 << 10, chunks: 4 });
			expect(demo.verified).toBe(true);
			expect(demo.mismatch).toBeUndefined();
			expect(demo.timelinePoint).toBe(3n);
			expect(demo.chipset).toBe(0x172);
			// A's VRAM buffer and its VA space's page tables are really allocated while A is connected.
			expect(device.vramUsed() - vramBase).toBeGreaterThanOrEqual(256n << 10n);
			expect(gpu.dma.bytesInUse).toBeGreaterThan(dmaBase);
			const vramObj = demo.buffers.find((b) => b.label === 'vram');
			const dstObj = demo.buffers.find((b) => b.label === 'dst');
			if (vramObj === undefined || dstObj === undefined) throw new Error('demo buffers missing');
			// The VRAM object holds what was copied: the bytes the client reads there equal dst's.
			expect(await a.pread(vramObj.handle, 4096n, 64)).toEqual(await a.pread(dstObj.handle, 4096n, 64));

			// A second client: A's handles, channel and syncobjs are not its own.
			const b = await openDrm(socketPath);
			await expectErrno(b.gemInfo(vramObj.handle), 'ENOENT');
			await expectErrno(b.pread(dstObj.handle, 0n, 16), 'ENOENT');
			await expectErrno(b.syncobjWait([1]), 'ENOENT');
			await expectErrno(b.exec({ channel: demo.channel, pushes: [] }), 'ENOSYS'); // no VM_INIT on b
			await b.vmInit(0n, 4n << 30n);
			await expectErrno(b.exec({ channel: demo.channel, pushes: [] }), 'ENOENT');
			// b's own handle 1 is a different object than a's handle 1.
			const own = await b.gemNew({ size: 65536n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			expect(own.handle).toBe(demo.buffers[0]?.handle);
			// Client VA spaces are externally owned (as nouveau promotes user VMMs): RM reserves nothing, so the
			// first byte past b's kernel range — RM's [4 GiB, 4.5 GiB) in an RM-managed split — is b's to bind.
			expect(device.vaSpaces.map((v) => v.externallyOwned)).toEqual([true, true]);
			await b.vmBind({
				ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: own.handle, addr: 4n << 30n, range: 65536n }],
			});
			await b.pwrite(own.handle, 0n, Uint8Array.of(1, 2, 3, 4));
			expect(await b.pread(own.handle, 0n, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
			expect(await a.pread(demo.buffers[0]?.handle ?? 0, 0n, 4)).not.toEqual(Uint8Array.of(1, 2, 3, 4));
			expect(await a.pread(vramObj.handle, 4096n, 64)).toEqual(await a.pread(dstObj.handle, 4096n, 64));

			await a.close();
			await b.close();
			// Both disconnected: wait until the server saw it and the device-side teardown ran.
			for (let i = 0; i < 200 && service.server.stats.connections > 0; i++)
				await new Promise((r) => setTimeout(r, 5));
			expect(service.server.stats.connections).toBe(0);
			await service.drmDevice.settled();
			expect(device.vramUsed()).toBe(vramBase);
			expect(device.stats.vaSpaces).toBe(0);
			expect(device.stats.channels).toBe(0);
			expect(gpu.dma.bytesInUse).toBe(dmaBase);
			expect(gpu.dma.liveAllocations).toBe(dmaAllocsBase);
			expect(service.server.frontend.stats.files).toBe(0);
			expect(errors).toEqual([]);
		} finally {
			await service.close();
			rmSync(dir, { recursive: true, force: true });
			await device.close();
			await gpu.close();
		}
	}, 60_000);
});
