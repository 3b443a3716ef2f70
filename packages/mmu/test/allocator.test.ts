import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	dmaPageTableAllocator,
	hostPageTableAllocator,
	MMU_V2,
	MMU_V3,
	type TableAperture,
} from '../src/index.ts';
import { TestDma } from './helpers/dma.ts';

describe('dmaPageTableAllocator', () => {
	it('aligns every class, zeroes reused blocks, returns slabs to DMA memory when empty', () => {
		const dma = new TestDma();
		const a = dmaPageTableAllocator(dma, { slabBytes: 8192, spareSlabs: 0 });
		const t1 = a.alloc(256, 256);
		const t2 = a.alloc(256, 256);
		const t3 = a.alloc(4096, 4096);
		const root = a.alloc(32, 4096);
		expect(t1.address % 256n).toBe(0n);
		expect(t2.address - t1.address).toBe(256n);
		expect(t3.address % 4096n).toBe(0n);
		expect(root.address % 4096n).toBe(0n);
		expect(t1.words).toBe(t2.words); // one view per slab
		expect(t2.wordOffset - t1.wordOffset).toBe(64);
		t1.words.fill(0xdeadbeef, t1.wordOffset, t1.wordOffset + 64);
		a.free(t1);
		const t4 = a.alloc(256, 256);
		expect(t4.address).toBe(t1.address);
		expect([...t4.words.subarray(t4.wordOffset, t4.wordOffset + 64)].every((w) => w === 0)).toBe(true);
		expect(() => a.free(t1)).toThrow(/twice/);
		expect(a.stats).toEqual({ tables: 4, tableBytes: 256 * 2 + 4096 + 32, dmaBytes: 2 * 8192 }); // the root shares the 4 KiB class
		for (const t of [t2, t3, t4, root]) a.free(t);
		expect(a.stats).toEqual({ tables: 0, tableBytes: 0, dmaBytes: 0 });
		expect(dma.liveAllocations).toBe(0);
		expect(() =>
			a.free({ address: 0n, aperture: 'video', size: 4, words: new Uint32Array(1), wordOffset: 0 }),
		).toThrow(/did not allocate/);
	});

	it('by default one empty slab per class is kept (no DMA churn on map/unmap cycles) until trim()', () => {
		const dma = new TestDma();
		const a = dmaPageTableAllocator(dma);
		const t = a.alloc(4096, 4096);
		a.free(t);
		expect(a.stats).toEqual({ tables: 0, tableBytes: 0, dmaBytes: 65536 });
		a.trim();
		expect(a.stats.dmaBytes).toBe(0);
		expect(dma.liveAllocations).toBe(0);
	});

	it('spareSlabs keeps empty slabs until trim(); slabBytes 0 allocates per table', () => {
		const dma = new TestDma();
		const a = dmaPageTableAllocator(dma, { slabBytes: 16384, spareSlabs: 1 });
		const ts = [a.alloc(4096, 4096), a.alloc(4096, 4096)];
		for (const t of ts) a.free(t);
		expect(dma.liveAllocations).toBe(1);
		const again = a.alloc(4096, 4096);
		expect(dma.allocations).toBe(1);
		a.free(again);
		a.trim();
		expect(dma.liveAllocations).toBe(0);
		const b = dmaPageTableAllocator(dma, { slabBytes: 0, aperture: 'sysNonCoherent' });
		const t = b.alloc(4096, 4096);
		expect(t.aperture).toBe('sysNonCoherent');
		expect(dma.liveAllocations).toBe(1);
		b.free(t);
		expect(dma.liveAllocations).toBe(0);
		expect(() => dmaPageTableAllocator(dma, { slabBytes: 3000 })).toThrow(/slabBytes/);
		expect(() => b.alloc(100, 3)).toThrow(/bad page-table allocation/);
	});

	it('hostPageTableAllocator hands out increasing synthetic addresses', () => {
		const h = hostPageTableAllocator({ baseAddress: 0x7_0000_0000n, slabBytes: 0 });
		const x = h.alloc(4096, 4096);
		const y = h.alloc(256, 256);
		expect(x.address).toBe(0x7_0000_0000n);
		expect(y.address).toBeGreaterThan(x.address);
		h.free(x);
		h.free(y);
		expect(h.stats.dmaBytes).toBe(0);
	});
});

describe('tablePointer (fast, no bigint) equals the bigint encoders', () => {
	for (const f of [MMU_V2, MMU_V3]) {
		it(f.name, () => {
			fc.assert(
				fc.property(
					fc.bigInt({ min: 0n, max: (1n << 37n) - 1n }),
					fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
					(x, aperture) => {
						const address = x & ~0xfffn;
						const w = (v: bigint) => ({ lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) });
						expect(f.tablePointer('pde', { address, aperture })).toEqual(
							w(f.encodePde({ address, aperture })),
						);
						const big = x & ~0xffn;
						expect(f.tablePointer('big', { address: big, aperture })).toEqual(
							w(f.encodeDualPde({ address: big, aperture }, null)),
						);
						expect(f.tablePointer('small', { address, aperture })).toEqual(
							w(f.encodeDualPde(null, { address, aperture }) >> 64n),
						);
					},
				),
				{ numRuns: 300 },
			);
			expect(() => f.tablePointer('pde', { address: 0x800n, aperture: 'video' })).toThrow(/not encodable/);
			expect(() => f.tablePointer('big', { address: 0x80n, aperture: 'video' })).toThrow(/not encodable/);
		});
	}
});
