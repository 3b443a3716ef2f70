import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	dmaPageTableAllocator,
	hostPageTableAllocator,
	MMU_V2,
	MMU_V3,
	type PageTableMemory,
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

	it('zero: false skips zeroing; slabs come from DMA unzeroed; an emptied slab refills in address order', () => {
		const dma = new TestDma();
		const zeroOpts: (boolean | undefined)[] = [];
		const spy = {
			alloc: (size: number, o: { align?: number; zero?: boolean; label?: string } = {}) => {
				zeroOpts.push(o.zero);
				return dma.alloc(size, o);
			},
			free: (b: Parameters<TestDma['free']>[0]) => dma.free(b),
			get bytesInUse() {
				return dma.bytesInUse;
			},
			get liveAllocations() {
				return dma.liveAllocations;
			},
		};
		const a = dmaPageTableAllocator(spy, { slabBytes: 16384, spareSlabs: 1 });
		const ts = [a.alloc(4096, 4096, false), a.alloc(4096, 4096, false), a.alloc(4096, 4096, false)];
		expect(zeroOpts).toEqual([false]); // one slab, taken unzeroed
		const [t0, t1, t2] = ts as [PageTableMemory, PageTableMemory, PageTableMemory];
		expect([t1.address - t0.address, t2.address - t1.address]).toEqual([4096n, 4096n]);
		t1.words.fill(0x1234_5678, t1.wordOffset, t1.wordOffset + 1024);
		a.free(t1);
		// A reused block: as it was when asked not to zero, zeroed otherwise.
		const stale = a.alloc(4096, 4096, false);
		expect(stale.address).toBe(t1.address);
		expect(stale.words[stale.wordOffset + 1023]).toBe(0x1234_5678);
		a.free(stale);
		const clean = a.alloc(4096, 4096);
		expect(clean.address).toBe(t1.address);
		expect([...clean.words.subarray(clean.wordOffset, clean.wordOffset + 1024)].every((w) => w === 0)).toBe(
			true,
		);
		// Freed out of order, then refilled: the blocks come back lowest address first.
		for (const t of [t2, clean, t0]) a.free(t);
		expect(dma.liveAllocations).toBe(1); // kept as the spare slab
		const again = [a.alloc(4096, 4096, false), a.alloc(4096, 4096, false), a.alloc(4096, 4096, false)];
		expect(again.map((t) => t.address)).toEqual([t0.address, t1.address, t2.address]);
		expect(zeroOpts).toEqual([false]);
		expect(a.stats.tables).toBe(3);
	});

	it('hostPageTableAllocator reuses freed host memory (zeroed unless asked not to) until trim()', () => {
		const h = hostPageTableAllocator({ slabBytes: 0 });
		const x = h.alloc(4096, 4096);
		x.words.fill(0xdeadbeef, x.wordOffset, x.wordOffset + 1024);
		h.free(x);
		const y = h.alloc(4096, 4096);
		expect(y.address).toBe(x.address);
		expect([...y.words.subarray(y.wordOffset, y.wordOffset + 1024)].every((w) => w === 0)).toBe(true);
		expect(() => h.free(x)).toThrow(/twice/);
		y.words[y.wordOffset] = 7;
		h.free(y);
		const z = h.alloc(4096, 4096, false);
		expect(z.address).toBe(x.address);
		expect(z.words[z.wordOffset]).toBe(7);
		h.free(z);
		expect(h.stats.dmaBytes).toBe(0);
		h.trim();
		const w = h.alloc(4096, 4096);
		expect(w.address).toBeGreaterThan(x.address); // the kept memory was released
		h.free(w);
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
