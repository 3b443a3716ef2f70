/**
 * The MMU as mounted in a SimulatedGpu: tables in DMA memory (read by device DMA, so bus mastering must be
 * on) and in VRAM, invalidation through the BAR0 registers the driver writes.
 */

import { describe, expect, it } from 'vitest';
import { createSimulatedGpu, PCI } from '../src/index.ts';
import { v2Dual, v2Pde, v2Pte } from './mmu-testkit.ts';

function writeU64(bytes: Uint8Array, index: number, value: bigint) {
	new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(index * 8, value, true);
}

describe('SimulatedGpu.mmu', () => {
	it('walks v2 tables placed in system memory and honours bus mastering', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 1 << 20 });
		const [pde3, pde2, pde1, pde0, pt] = ['pde3', 'pde2', 'pde1', 'pde0', 'pt'].map((label) =>
			gpu.dma.alloc(4096, { label }),
		);
		const sys = (b: typeof pde3) => ({ aperture: 'sys-coherent' as const, address: b!.busAddress });
		const va = 0x12_3456_7000n;
		const idx = (shift: bigint, bits: bigint) => Number((va >> shift) & ((1n << bits) - 1n));
		writeU64(pde3!.bytes, idx(47n, 2n), v2Pde(sys(pde2)));
		writeU64(pde2!.bytes, idx(38n, 9n), v2Pde(sys(pde1)));
		writeU64(pde1!.bytes, idx(29n, 9n), v2Pde(sys(pde0)));
		// Dual PDE0 is 16 bytes: the small-page table sits in the high qword.
		writeU64(pde0!.bytes, idx(21n, 8n) * 2, v2Dual(undefined, sys(pt)) & ((1n << 64n) - 1n));
		writeU64(pde0!.bytes, idx(21n, 8n) * 2 + 1, v2Dual(undefined, sys(pt)) >> 64n);
		writeU64(pt!.bytes, idx(12n, 9n), v2Pte({ aperture: 'video', pa: 0x4_0000_0000n }));

		const pdb = { aperture: 'sys-coherent' as const, address: pde3!.busAddress };
		// The walk is device DMA: with bus mastering off it cannot read the tables.
		expect(gpu.mmu.translate(pdb, va + 0x123n).ok).toBe(false);
		gpu.config.write16(PCI.COMMAND, gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER);
		const hit = gpu.mmu.translate(pdb, va + 0x123n);
		expect(hit).toMatchObject({ ok: true, aperture: 'video', pa: 0x4_0000_0123n, pageSize: 4096 });
		await gpu.close();
	});

	it('mounts the invalidate registers in BAR0', async () => {
		const gpu = createSimulatedGpu({ chip: 'tu102' });
		gpu.bar0.write32(0xb830a0, 0x10);
		gpu.bar0.write32(0xb830a4, 0);
		gpu.bar0.write32(0xb830b0, 0x8000_0001);
		let polls = 0;
		while (gpu.bar0.read32(0xb830b0) & 0x8000_0000) expect(++polls).toBeLessThan(100);
		expect(gpu.mmu.tlb.stats.invalidates).toBe(1);
		await gpu.close();
	});
});
