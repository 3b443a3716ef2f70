/**
 * VA spaces through `@gspkit/core`: page tables built by `@gspkit/mmu` in DMA memory, promoted to GSP-RM
 * (FERMI_VASPACE_A + COPY_SERVER_RESERVED_PDES), and walked by the simulated GPU's independent MMU.
 */

import { isCoreError } from '@gspkit/core';
import { describe, expect, it } from 'vitest';
import { BRANCHES, openSynthetic } from './core-kit.ts';

describe.each(BRANCHES)('VA spaces with GSP-RM $version', ({ branch }) => {
	it('promotes the VA space to RM and the simulated MMU translates what core maps', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		try {
			const before = gpu.dma.bytesInUse;
			const vas = await device.createVaSpace({ name: 't' });

			// RM has the object under the device, and what it was told is mmu's reserved-PDE data.
			const objs = gpu.gspRm.inspect().objects.filter((o) => o.hClient === 0xc1d00000);
			expect(objs.find((o) => o.hObject >>> 0 === vas.handle >>> 0)).toMatchObject({
				classId: 0x90f1,
				hParent: 0xde1d0000,
			});
			const r = vas.serverReserved;
			expect([r.virtAddrLo, r.virtAddrHi]).toEqual([0x1_0000_0000n, 0x1_1fff_ffffn]);
			expect(r.levels.map((l) => [l.level, l.pageShift, l.size])).toEqual([
				['PDE3', 47, 0x20n],
				['PDE2', 38, 0x1000n],
				['PDE1', 29, 0x1000n],
			]);
			expect(r.levels[0]?.physAddress).toBe(vas.pdb.address);
			expect(vas.kernelRange).toEqual({ va: 0x1_0000_0000n, size: 60n << 30n });

			// Map system memory (kernel window) and VRAM (at an address we choose: a client mapping).
			const sys = device.allocMemory({ size: 3 * 4096, placement: 'sysmem', label: 'sys' });
			const vram = device.allocMemory({ size: 2 << 20, placement: 'vram', label: 'vram' });
			const ms = vas.map(sys);
			const mv = vas.map(vram, { va: 0x20_0000_0000n });
			expect(ms.owner).toBe('kernel');
			expect(ms.va >= 0x1_2000_0000n && ms.va < 0x10_0000_0000n).toBe(true);
			expect(mv).toMatchObject({ va: 0x20_0000_0000n, owner: 'client', size: 2n << 20n });

			const pdb = {
				aperture: 'sys-coherent',
				address: vas.pdb.address,
				bigPageSize: 65536,
				useVer2PtFormat: true,
			} as const;
			const t1 = gpu.mmu.translate(pdb, ms.va + 0x2abcn, 'write');
			expect(t1).toMatchObject({ ok: true, aperture: 'sys-coherent', pa: sys.address + 0x2abcn });
			const t2 = gpu.mmu.translate(pdb, mv.va + 0x1f_fff8n, 'read');
			expect(t2).toMatchObject({
				ok: true,
				aperture: 'video',
				pa: vram.address + 0x1f_fff8n,
				pageSize: 2 << 20,
			});
			// Past the end of a mapping, and inside RM's range (its PDE1 entries are RM's, still empty): faults.
			expect(gpu.mmu.translate(pdb, ms.va + 3n * 4096n, 'read').ok).toBe(false);
			expect(gpu.mmu.translate(pdb, 0x1_0000_0000n, 'read').ok).toBe(false);
			// core's own software walk agrees.
			expect(vas.translate(mv.va + 0x1234n)).toMatchObject({
				valid: true,
				address: vram.address + 0x1234n,
				aperture: 'video',
			});

			// A client mapping inside the kernel-managed range (which holds RM's range) is refused.
			expect(() => vas.map(sys, { va: 0x2_0000_0000n })).toThrow(
				expect.objectContaining({ code: 'MMU_RANGE_INVALID' }),
			);
			expect(() => vas.map(sys, { va: 0x1_0000_0000n })).toThrow(
				expect.objectContaining({ code: 'MMU_RANGE_INVALID' }),
			);
			expect(vas.mappings).toHaveLength(2);

			// Unmapping invalidates the simulated TLB through BAR0: the stale translation is gone.
			vas.unmap(ms);
			vas.unmap(mv);
			expect(gpu.mmu.translate(pdb, ms.va, 'read').ok).toBe(false);
			expect(gpu.mmu.translate(pdb, mv.va, 'read').ok).toBe(false);
			sys.free();
			vram.free();
			await vas.destroy();
			expect(gpu.gspRm.inspect().objects.some((o) => o.hObject >>> 0 === vas.handle >>> 0)).toBe(false);
			// Every page table (root and RM's directories included) went back.
			expect(gpu.dma.bytesInUse).toBe(before);
			expect(device.stats.vaSpaces).toBe(0);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('VRAM accounting', () => {
	it('allocates only from what RM left to the driver and reports ENOSPC beyond it', async () => {
		const { gpu, device } = await openSynthetic('ga102', '570');
		try {
			const usable = device.info.vram.usable;
			const a = device.allocMemory({ size: usable - (64n << 20n), placement: 'vram', label: 'big' });
			expect(device.vramUsed()).toBe(a.size);
			expect(a.address + a.size <= usable).toBe(true);
			let err: unknown;
			try {
				device.allocMemory({ size: 128n << 20n, placement: 'vram' });
			} catch (e) {
				err = e;
			}
			expect(isCoreError(err, 'CORE_VRAM_EXHAUSTED')).toBe(true);
			a.free();
			expect(device.vramUsed()).toBe(0n);
			expect(device.stats.vram).toMatchObject({ used: 0n, free: usable, allocations: 0 });
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});
