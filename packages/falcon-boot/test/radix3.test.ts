import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Radix3Error } from '../src/errors.ts';
import {
	buildRadix3Tables,
	loadRadix3Image,
	radix3Geometry,
	verifyRadix3,
	walkRadix3,
} from '../src/radix3.ts';
import { TestDma, u64At } from './boot-helpers.ts';

describe('radix3Geometry', () => {
	it('the 570.144 GA102 .fwimage (63541248 bytes): 15513 pages, 31 L2 pages, 1 L1 page, 33 table pages', () => {
		expect(radix3Geometry(63541248)).toEqual({
			imageSize: 63541248,
			imagePages: 15513,
			l2Pages: 31,
			l1Pages: 1,
			l0Pages: 1,
			tablePages: 33,
		});
	});
	it('rounds partial pages up and needs more L1 pages past 1 GiB', () => {
		expect(radix3Geometry(1).imagePages).toBe(1);
		expect(radix3Geometry(512 * 4096 + 1)).toMatchObject({ imagePages: 513, l2Pages: 2, l1Pages: 1 });
		expect(radix3Geometry(512 * 512 * 4096 + 1)).toMatchObject({ l2Pages: 513, l1Pages: 2, tablePages: 516 });
	});
	it('refuses an image needing more than one L0 page', () => {
		expect(() => radix3Geometry(512 * 512 * 512 * 4096 + 1)).toThrow(Radix3Error);
		expect(() => radix3Geometry(0)).toThrow(Radix3Error);
	});
});

describe('buildRadix3Tables', () => {
	it('L0[0] → L1 page, L1[i] → L2 page i, L2[k] → image page k; unused entries stay 0', () => {
		const g = radix3Geometry(600 * 4096);
		const table = new Uint8Array(g.tablePages * 4096);
		const base = 0x7_0000_0000n;
		buildRadix3Tables(table, base, g, (p) => 0x9_0000_0000n + BigInt(p) * 0x2000n);
		expect(u64At(table, 0)).toBe(base + 0x1000n);
		expect(u64At(table, 8)).toBe(0n);
		expect(u64At(table, 0x1000)).toBe(base + 0x2000n);
		expect(u64At(table, 0x1008)).toBe(base + 0x3000n);
		expect(u64At(table, 0x1010)).toBe(0n);
		expect(u64At(table, 0x2000)).toBe(0x9_0000_0000n);
		expect(u64At(table, 0x2000 + 8 * 511)).toBe(0x9_0000_0000n + 511n * 0x2000n);
		expect(u64At(table, 0x3000)).toBe(0x9_0000_0000n + 512n * 0x2000n);
		expect(u64At(table, 0x3000 + 8 * 87)).toBe(0x9_0000_0000n + 599n * 0x2000n);
		expect(u64At(table, 0x3000 + 8 * 88)).toBe(0n);
	});
});

describe('loadRadix3Image / walkRadix3 / verifyRadix3', () => {
	const image = Uint8Array.from({ length: 10 * 4096 + 123 }, (_, i) => (i * 31 + (i >> 12)) & 0xff);

	it('copies the image once into page-aligned chunks and builds tables a walker follows back to the bytes', async () => {
		const dma = new TestDma();
		const progress: number[] = [];
		const r = await loadRadix3Image(dma, image, {
			chunkSize: 3 * 4096,
			progressStep: 4096,
			onProgress: (d) => void progress.push(d),
		});
		expect(r.chunks.map((c) => c.size)).toEqual([12288, 12288, 12288, 8192]);
		expect(r.geometry.imagePages).toBe(11);
		expect(r.l0Address).toBe(r.table.busAddress);
		// chunks are not contiguous (the test pool leaves gaps), so page addresses jump between chunks
		expect(r.pageAddress(3) - r.pageAddress(2)).not.toBe(4096n);
		const pages = walkRadix3((a, n) => dma.read(a, n), r.l0Address, image.length);
		expect(pages).toEqual([...Array(11).keys()].map((p) => r.pageAddress(p)));
		verifyRadix3([r.table, ...r.chunks], r.l0Address, image);
		// the tail of the last page is zeroed (the chunk was allocated unzeroed)
		expect(r.chunks[3]?.bytes[8192 - 1]).toBe(0);
		expect(progress[0]).toBe(0);
		expect(progress.at(-1)).toBe(image.length);
		expect(progress).toEqual([...progress].sort((a, b) => a - b));
		expect(dma.allocations).toBe(5);
	});

	it('a corrupted L2 entry is found: walk names the level and index; verify names the page whose bytes differ', async () => {
		const dma = new TestDma();
		const r = await loadRadix3Image(dma, image, { chunkSize: 4 * 4096 });
		const l2 = 2 * 4096; // L0, L1, then L2
		r.table.view.setBigUint64(l2 + 8 * 5, r.pageAddress(5) + 8n, true); // misaligned
		expect(() => walkRadix3((a, n) => dma.read(a, n), r.l0Address, image.length)).toThrow(
			/L2\[0\] entry 5 .*not a 4 KiB-aligned/,
		);
		r.table.view.setBigUint64(l2 + 8 * 5, r.pageAddress(6), true); // points at the wrong page
		const e = (() => {
			try {
				verifyRadix3([r.table, ...r.chunks], r.l0Address, image);
			} catch (x) {
				return x as Radix3Error;
			}
		})();
		expect(e).toBeInstanceOf(Radix3Error);
		expect(e?.details.page).toBe(5);
		r.table.view.setBigUint64(8 * 0, 0n, true); // L0 entry zeroed
		expect(() => verifyRadix3([r.table, ...r.chunks], r.l0Address, image)).toThrow(/L0 entry 0/);
	});

	it('frees everything when an allocation fails half-way', async () => {
		const dma = new TestDma();
		let n = 0;
		const failing = Object.assign(Object.create(dma) as TestDma, {
			alloc: (size: number, o?: object) => {
				if (++n === 3) throw new Error('out of DMA memory');
				return dma.alloc(size, o);
			},
			free: (b: Parameters<TestDma['free']>[0]) => dma.free(b),
		});
		await expect(loadRadix3Image(failing, image, { chunkSize: 4096 })).rejects.toThrow('out of DMA memory');
		expect(dma.liveAllocations).toBe(0);
	});

	test.prop([fc.integer({ min: 1, max: 64 * 4096 }), fc.integer({ min: 1, max: 8 })], { numRuns: 30 })(
		'any size and chunking round-trips through the tables',
		async (size, pagesPerChunk) => {
			const dma = new TestDma();
			const img = Uint8Array.from({ length: size }, (_, i) => (i ^ (i >> 8)) & 0xff);
			const r = await loadRadix3Image(dma, img, { chunkSize: pagesPerChunk * 4096 });
			verifyRadix3([r.table, ...r.chunks], r.l0Address, img);
		},
	);
});
