import { createHash } from 'node:crypto';
import type { DmaBuffer } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { DmaPool } from '../src/dma.ts';
import { REAL_FIRMWARE_TABLE } from '../src/firmware-models/known-images.generated.ts';
import { KnownImages } from '../src/firmware-models/known-images.ts';
import { RADIX3_PAGE, walkRadix3 } from '../src/firmware-models/radix3.ts';
import { registerSyntheticFirmwareLazily, syntheticFirmware } from '../src/firmware-models/synthetic.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An image of `size` bytes in `parts` bus-adjacent DMA buffers, with radix3 tables listing its pages in order. */
function layOut(size: number, parts: number) {
	const pool = new DmaPool({ size: 64 * 1024 * 1024 });
	const image = new Uint8Array(size);
	for (let i = 0; i < size; i++) image[i] = (i * 131 + (i >>> 12)) & 0xff;
	const pages = Math.ceil(size / RADIX3_PAGE);
	const l2Pages = Math.ceil(pages / 512);
	const l0 = pool.alloc(RADIX3_PAGE);
	const l1 = pool.alloc(RADIX3_PAGE);
	const l2 = pool.alloc(l2Pages * RADIX3_PAGE);
	const per = Math.ceil(pages / parts);
	const chunks: DmaBuffer[] = [];
	for (let p = 0; p < pages; p += per) {
		const n = Math.min(per, pages - p);
		const c = pool.alloc(n * RADIX3_PAGE);
		c.bytes.set(image.subarray(p * RADIX3_PAGE, Math.min(size, (p + n) * RADIX3_PAGE)));
		chunks.push(c);
	}
	for (let i = 1; i < chunks.length; i++) {
		expect(chunks[i]!.busAddress).toBe(chunks[i - 1]!.busAddress + BigInt(chunks[i - 1]!.size));
	}
	const put = (b: DmaBuffer, i: number, v: bigint) =>
		new DataView(b.bytes.buffer, b.bytes.byteOffset).setBigUint64(8 * i, v, true);
	for (let j = 0; j < l2Pages; j++) put(l1, j, l2.busAddress + BigInt(j * RADIX3_PAGE));
	put(l0, 0, l1.busAddress);
	const first = chunks[0]!.busAddress;
	for (let p = 0; p < pages; p++) put(l2, p, first + BigInt(p * RADIX3_PAGE));
	const reads: [bigint, number, boolean][] = [];
	const read = (a: bigint, l: number) => {
		try {
			const b = pool.deviceRead(a, l);
			reads.push([a, l, true]);
			return b;
		} catch (e) {
			reads.push([a, l, false]);
			throw e;
		}
	};
	return { pool, image, pages, l0, l2, chunks, reads, read, put };
}

describe('walkRadix3 over bus-contiguous pages', () => {
	it('hashes exactly the image (partial last page too) with one read per contiguous run of an L2 table', () => {
		const size = 700 * RADIX3_PAGE + 123;
		const t = layOut(size, 3);
		const r = walkRadix3(t.read, t.l0.busAddress, size);
		expect(r).toEqual({ ok: true, sha256: sha(t.image), pages: 701 });
		const imageReads = t.reads.filter(([a]) => a >= t.chunks[0]!.busAddress);
		// Successful reads cover the image once, in far fewer reads than its 701 pages (two L2 runs, each split
		// where it crosses into the next of the three buffers).
		const ok = imageReads.filter(([, , good]) => good);
		expect(ok.reduce((n, [, l]) => n + l, 0)).toBe(size);
		expect(ok.map(([a]) => a)).toEqual([...ok.map(([a]) => a)].sort((x, y) => (x < y ? -1 : 1)));
		expect(imageReads.length).toBeLessThan(40);
		const single = layOut(size, 1);
		walkRadix3(single.read, single.l0.busAddress, size);
		expect(single.reads.filter(([a]) => a >= single.chunks[0]!.busAddress).map(([, l]) => l)).toEqual([
			512 * RADIX3_PAGE,
			188 * RADIX3_PAGE + 123,
		]);
		// Zero-copy views give the same digest.
		expect(walkRadix3((a, l) => t.pool.deviceView(a, l), t.l0.busAddress, size)).toEqual(r);
	});

	it('names the first unmapped page of a run, as a page-by-page walk would', () => {
		const size = 300 * RADIX3_PAGE;
		const t = layOut(size, 3); // 100 pages per buffer
		t.pool.free(t.chunks[1]!);
		const r = walkRadix3(t.read, t.l0.busAddress, size);
		expect(r).toMatchObject({ ok: false, level: 'page', index: 100 });
		if (!r.ok) expect(r.reason).toMatch(/^page 100 at 0x/);
	});

	it('reports a fault in a run before a misaligned entry later in the same table', () => {
		const size = 300 * RADIX3_PAGE;
		const t = layOut(size, 3);
		t.pool.free(t.chunks[0]!);
		t.put(t.l2, 250, t.chunks[2]!.busAddress + 8n);
		expect(walkRadix3(t.read, t.l0.busAddress, size)).toMatchObject({ ok: false, level: 'page', index: 0 });
		const u = layOut(size, 3);
		u.put(u.l2, 250, u.chunks[2]!.busAddress + 8n);
		const r = walkRadix3(u.read, u.l0.busAddress, size);
		expect(r).toMatchObject({ ok: false, level: 'page', index: 250 });
		if (!r.ok) expect(r.reason).toMatch(/not 4 KiB aligned/);
	});

	it('detects one changed byte anywhere in a run', () => {
		const size = 64 * RADIX3_PAGE;
		const t = layOut(size, 1);
		const good = walkRadix3(t.read, t.l0.busAddress, size);
		t.chunks[0]!.bytes[37 * RADIX3_PAGE + 5]! ^= 0x10;
		const bad = walkRadix3(t.read, t.l0.busAddress, size);
		expect(bad.ok && good.ok && bad.sha256 !== good.sha256).toBe(true);
	});
});

describe('lazy synthetic registration', () => {
	it('answers a published digest without generating synthetic firmware, and a synthetic one on demand', () => {
		const k = new KnownImages();
		k.addRealTable(REAL_FIRMWARE_TABLE);
		registerSyntheticFirmwareLazily(k);
		const real = REAL_FIRMWARE_TABLE.gsp[0];
		if (real !== undefined) expect(k.findGspImage(real.fwimageSha256)?.source).toBe('real');
		expect(k.registeredUcodes().some((u) => u.source === 'synthetic')).toBe(false);
		const set = syntheticFirmware('ga102', '570.144');
		expect(k.findGspImage(set.gsp.fwimageSha256)?.source).toBe('synthetic');
		expect(k.findBootloader(set.bootloader.sha256)?.chips).toContain('ga102');
		const booters = k.ucodes().filter((u) => u.source === 'synthetic' && u.kind === 'booter_load');
		expect(booters.length).toBe(10); // 5 families × 2 versions
		expect(k.findGspImage('0'.repeat(64))).toBeUndefined();
	});

	it('runs a provider only for the kinds it provides', () => {
		const k = new KnownImages();
		const ran: string[] = [];
		k.addProvider(() => ran.push('gsp'), ['gspImages']);
		k.addProvider(() => ran.push('bl'), ['bootloaders']);
		k.ucodes();
		expect(ran).toEqual([]);
		k.findBootloader('x');
		expect(ran).toEqual(['bl']);
		k.gspImages();
		k.findGspImage('y');
		expect(ran).toEqual(['bl', 'gsp']);
	});
});
