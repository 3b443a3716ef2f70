/**
 * The copy engine: pitch copies byte for byte across pages and apertures, multi-line copies, remapped fills
 * and swizzles, launch semaphores and interrupts, physical mode.
 */

import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
	CEM,
	ceCopy,
	ceFill,
	launch,
	M,
	pattern,
	pb,
	Rig,
	type RigOptions,
	remapComponents,
	type TestChannel,
	u32,
	u64,
} from './engine-kit.ts';

const rigs: Rig[] = [];
function rig(o: RigOptions = {}): Rig {
	const r = new Rig(o);
	rigs.push(r);
	return r;
}
afterEach(async () => {
	for (const r of rigs.splice(0)) await r.close();
});

/** A buffer visible at a GPU VA, backed by VRAM or system memory. */
interface Region {
	readonly va: bigint;
	read(offset: number, length: number): Uint8Array;
	write(offset: number, bytes: Uint8Array): void;
}

function region(r: Rig, where: 'vram' | 'sys', size: number): Region {
	if (where === 'vram') {
		const m = r.vramMapped(size);
		return {
			va: m.va,
			read: (o, n) => r.readVram(m.pa + BigInt(o), n),
			write: (o, b) => r.writeVram(m.pa + BigInt(o), b),
		};
	}
	const m = r.sysMapped(size);
	return {
		va: m.va,
		read: (o, n) => m.buf.bytes.slice(o, o + n),
		write: (o, b) => m.buf.bytes.set(b, o),
	};
}

describe('pitch copies', () => {
	it('copies bytes exactly and touches nothing around the destination', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = region(r, 'vram', 3 * 4096);
		const dst = region(r, 'sys', 3 * 4096);
		src.write(0, pattern(3 * 4096, 1));
		dst.write(0, new Uint8Array(3 * 4096).fill(0xee));
		ch.submit(ceCopy(src.va + 1000n, dst.va + 3000n, 5000));
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.read(3000, 5000)).toEqual(src.read(1000, 5000));
		expect(dst.read(0, 3000).every((b) => b === 0xee)).toBe(true);
		expect(dst.read(8000, 3 * 4096 - 8000).every((b) => b === 0xee)).toBe(true);
		expect(r.host.copyEngine.stats.bytesWritten).toBe(5000);
	});

	describe('property: random sizes and offsets across pages, VRAM and system memory', () => {
		const r = new Rig();
		const ch = r.channel({ engineClass: 0xc7b5, entries: 1024 });
		afterAll(async () => {
			await r.close();
		});
		it('matches byte for byte', () => {
			fc.assert(
				fc.property(
					fc.integer({ min: 1, max: 20_000 }),
					fc.integer({ min: 0, max: 4095 }),
					fc.integer({ min: 0, max: 4095 }),
					fc.constantFrom('vram' as const, 'sys' as const),
					fc.constantFrom('vram' as const, 'sys' as const),
					fc.integer({ min: 1, max: 0xffff }),
					(length, srcOff, dstOff, srcKind, dstKind, seed) => {
						const size = Math.max(srcOff, dstOff) + length + 64;
						const src = region(r, srcKind, size);
						const dst = region(r, dstKind, size);
						const data = pattern(length, seed);
						src.write(srcOff, data);
						dst.write(0, new Uint8Array(size).fill(0x5a));
						ch.submit(ceCopy(src.va + BigInt(srcOff), dst.va + BigInt(dstOff), length));
						r.settle();
						expect(r.errors).toEqual([]);
						expect(dst.read(dstOff, length)).toEqual(data);
						expect(dst.read(0, dstOff).every((b) => b === 0x5a)).toBe(true);
						expect(dst.read(dstOff + length, size - dstOff - length).every((b) => b === 0x5a)).toBe(true);
					},
				),
				{ numRuns: 60 },
			);
		});
	});

	it('copies several lines with different input and output pitches', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = region(r, 'sys', 8192);
		const dst = region(r, 'vram', 8192);
		src.write(0, pattern(8192, 7));
		dst.write(0, new Uint8Array(8192));
		ch.submit([
			...pb.inc(4, CEM.OFFSET_IN_UPPER, Number(src.va >> 32n), Number(src.va & 0xffff_ffffn) >>> 0),
			...pb.inc(4, CEM.OFFSET_OUT_UPPER, Number(dst.va >> 32n), Number(dst.va & 0xffff_ffffn) >>> 0),
			...pb.inc(4, CEM.PITCH_IN, 1000, 300, 200, 7),
			...pb.inc(
				4,
				CEM.LAUNCH_DMA,
				launch.NON_PIPELINED | launch.SRC_PITCH | launch.DST_PITCH | launch.MULTI_LINE,
			),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		for (let line = 0; line < 7; line++) {
			expect(dst.read(line * 300, 200)).toEqual(src.read(line * 1000, 200));
			expect(dst.read(line * 300 + 200, 100).every((b) => b === 0)).toBe(true);
		}
	});

	it('uses all 49 address bits (OFFSET_*_UPPER 16:0, SET_SEMAPHORE_A 16:0)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = r.sys(4096);
		const dst = r.sys(4096);
		const s = r.sys(4096);
		const high = 0x1_8765_4321_0000n; // bit 48 set
		r.mapSys(high, src);
		r.mapSys(high + 0x10_0000n, dst);
		r.mapSys(high + 0x20_0000n, s);
		src.bytes.set(pattern(256, 4));
		ch.submit([
			...pb.inc(
				4,
				CEM.SET_SEMAPHORE_A,
				Number((high + 0x20_0000n) >> 32n),
				Number((high + 0x20_0000n) & 0xffff_ffffn),
				77,
			),
			...ceCopy(high, high + 0x10_0000n, 256, launch.SEM_ONE_WORD),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.bytes.slice(0, 256)).toEqual(src.bytes.slice(0, 256));
		expect(u32(s.bytes)).toBe(77);
	});

	it('copies out of a 64 KiB page into 4 KiB pages', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const pa = r.vram(0x10000, 0x10000n);
		const va = r.va(0x10000, 0x10000n);
		r.pt.map(va, 16, { aperture: 'video', pa });
		r.writeVram(pa, pattern(0x10000, 9));
		const dst = region(r, 'sys', 0x10000);
		ch.submit(ceCopy(va + 0x123n, dst.va, 0xf000));
		r.settle();
		expect(dst.read(0, 0xf000)).toEqual(r.readVram(pa + 0x123n, 0xf000));
	});

	it('binds the copy class with SET_OBJECT (no engineClass) and works on Turing (C5B5)', () => {
		const r = rig({ chip: 'tu102' });
		const ch = r.channel();
		const src = region(r, 'sys', 4096);
		const dst = region(r, 'sys', 4096);
		src.write(0, pattern(4096, 3));
		ch.submit([...pb.inc(4, M.SET_OBJECT, 0xc5b5), ...ceCopy(src.va, dst.va, 4096)]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.read(0, 4096)).toEqual(src.read(0, 4096));
		expect(r.host.channel(ch.chid)?.subchannels[4]).toBe(0xc5b5);
	});
});

describe('remapped fills and swizzles', () => {
	function run(r: Rig, ch: TestChannel, words: number[]) {
		ch.submit(words);
		r.settle();
		expect(r.errors).toEqual([]);
	}

	it('fills with a 4-byte constant across pages (LINE_LENGTH_IN counts pixels)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const dst = region(r, 'sys', 3 * 4096);
		dst.write(0, new Uint8Array(3 * 4096).fill(0x11));
		run(r, ch, ceFill(dst.va + 8n, 2000, remapComponents({ dst: [4], componentSize: 4 }), 0xdead_beef));
		const out = dst.read(0, 3 * 4096);
		expect(out.subarray(0, 8).every((b) => b === 0x11)).toBe(true);
		for (let i = 0; i < 2000; i++) expect(u32(out, 8 + i * 4)).toBe(0xdead_beef);
		expect(out.subarray(8 + 8000).every((b) => b === 0x11)).toBe(true);
	});

	it('clears like nouveau (CONST_A, CONST_B, 4-byte components, 2 per pixel, length >> 3)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const dst = region(r, 'vram', 8192);
		dst.write(0, pattern(8192, 5));
		run(
			r,
			ch,
			ceFill(dst.va, 8192 >> 3, remapComponents({ dst: [4, 5], componentSize: 4 }), 0x0102_0304, 0x0506_0708),
		);
		const out = dst.read(0, 8192);
		for (let i = 0; i < 8192; i += 8) expect(u64(out, i)).toBe(0x0506_0708_0102_0304n);
	});

	it('fills single bytes with the low byte of CONST_A', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc6b5 });
		const dst = region(r, 'sys', 4096);
		run(r, ch, ceFill(dst.va + 1n, 4093, remapComponents({ dst: [4], componentSize: 1 }), 0x1234_56ab));
		const out = dst.read(0, 4096);
		expect(out[0]).toBe(0);
		expect(out.subarray(1, 4094).every((b) => b === 0xab)).toBe(true);
		expect(out[4094]).toBe(0);
	});

	it('swizzles source components and keeps NO_WRITE components of the destination', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = region(r, 'sys', 4096);
		const dst = region(r, 'sys', 4096);
		const pixels = 300;
		const input = pattern(pixels * 8, 11); // 4 components of 2 bytes each
		src.write(0, input);
		dst.write(0, new Uint8Array(4096).fill(0x77));
		// DST = (SRC_W, SRC_Z, NO_WRITE, CONST_B) with 2-byte components.
		const comps = remapComponents({ dst: [3, 2, 6, 5], componentSize: 2, numSrc: 4 });
		run(r, ch, [
			...pb.inc(4, CEM.SET_REMAP_CONST_A, 0, 0xbeef, comps),
			...ceCopy(src.va, dst.va, pixels, launch.REMAP),
		]);
		const out = dst.read(0, pixels * 8);
		for (let p = 0; p < pixels; p++) {
			const s = input.subarray(p * 8, p * 8 + 8);
			const d = out.subarray(p * 8, p * 8 + 8);
			expect([...d.subarray(0, 2)]).toEqual([...s.subarray(6, 8)]);
			expect([...d.subarray(2, 4)]).toEqual([...s.subarray(4, 6)]);
			expect([...d.subarray(4, 6)]).toEqual([0x77, 0x77]);
			expect([...d.subarray(6, 8)]).toEqual([0xef, 0xbe]);
		}
	});

	it('packs 3-component pixels from 4-component sources (different source and destination pixel sizes)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = region(r, 'vram', 4096);
		const dst = region(r, 'vram', 4096);
		const input = pattern(400, 13);
		src.write(0, input);
		const comps = remapComponents({ dst: [0, 1, 2], componentSize: 1, numSrc: 4 });
		run(r, ch, [...pb.inc(4, CEM.SET_REMAP_COMPONENTS, comps), ...ceCopy(src.va, dst.va, 100, launch.REMAP)]);
		const out = dst.read(0, 300);
		for (let p = 0; p < 100; p++)
			expect([...out.subarray(p * 3, p * 3 + 3)]).toEqual([...input.subarray(p * 4, p * 4 + 3)]);
	});
});

describe('launch semaphores and interrupts', () => {
	it('releases a one-word semaphore after the copy and a four-word one with a timestamp', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc6b5 });
		const src = region(r, 'sys', 4096);
		const dst = region(r, 'sys', 4096);
		const s = r.sysMapped(4096);
		s.buf.bytes.fill(0xff);
		src.write(0, pattern(100, 2));
		r.clock.advance(123_456n);
		const semA = (va: bigint) =>
			pb.inc(4, CEM.SET_SEMAPHORE_A, Number(va >> 32n), Number(va & 0xffff_ffffn) >>> 0);
		ch.submit([
			...semA(s.va),
			...pb.inc(4, CEM.SET_SEMAPHORE_PAYLOAD, 0x1111),
			...ceCopy(src.va, dst.va, 100, launch.SEM_ONE_WORD | launch.FLUSH),
			...semA(s.va + 16n),
			...pb.inc(4, CEM.SET_SEMAPHORE_PAYLOAD, 0x2222),
			...pb.inc(4, CEM.LAUNCH_DMA, launch.SEM_FOUR_WORD),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.read(0, 100)).toEqual(src.read(0, 100));
		expect(u32(s.buf.bytes, 0)).toBe(0x1111);
		expect(u32(s.buf.bytes, 4)).toBe(0xffff_ffff);
		expect(u32(s.buf.bytes, 16)).toBe(0x2222);
		expect(u32(s.buf.bytes, 20)).toBe(0);
		expect(u64(s.buf.bytes, 24)).toBe(123_456n);
		expect(r.host.copyEngine.stats.semaphoreReleases).toBe(2);
	});

	it('releases a 64-bit payload on AMPERE_DMA_COPY_B and reduces with IADD', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const s = r.sysMapped(4096);
		s.buf.view.setBigUint64(8, 0xffff_ffffn, true);
		ch.submit([
			...pb.inc(
				4,
				CEM.SET_SEMAPHORE_A,
				Number(s.va >> 32n),
				Number(s.va & 0xffff_ffffn) >>> 0,
				0x89ab_cdef,
				0x0123_4567,
			),
			...pb.inc(4, CEM.LAUNCH_DMA, launch.SEM_ONE_WORD | launch.PAYLOAD_TWO_WORD),
			...pb.inc(
				4,
				CEM.SET_SEMAPHORE_A,
				Number((s.va + 8n) >> 32n),
				Number((s.va + 8n) & 0xffff_ffffn) >>> 0,
				2,
				0,
			),
			...pb.inc(4, CEM.LAUNCH_DMA, launch.SEM_ONE_WORD | launch.PAYLOAD_TWO_WORD | launch.reduction(5, true)),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(u64(s.buf.bytes, 0)).toBe(0x0123_4567_89ab_cdefn);
		expect(u64(s.buf.bytes, 8)).toBe(0x1_0000_0001n);
	});

	it('raises the non-stall line for NON_BLOCKING and the stall line for BLOCKING', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		ch.submit([
			...pb.inc(4, CEM.LAUNCH_DMA, launch.INTR_NON_BLOCKING),
			...pb.inc(4, CEM.LAUNCH_DMA, launch.INTR_BLOCKING),
		]);
		r.settle();
		expect(r.gpu.interrupt('nonstall').raiseCount).toBe(1);
		expect(r.gpu.interrupt('stall').raiseCount).toBe(1);
		expect(r.host.copyEngine.stats.interrupts).toBe(2);
	});
});

describe('physical mode', () => {
	it('lets a privileged channel copy from physical VRAM and system memory', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5, privileged: true });
		const pa = r.vram(4096);
		r.writeVram(pa, pattern(4096, 21));
		const dst = r.sys(4096);
		ch.submit([
			...pb.inc(4, CEM.SET_SRC_PHYS_MODE, 0, 1),
			...ceCopy(pa + 16n, dst.busAddress, 1000, launch.SRC_PHYSICAL | launch.DST_PHYSICAL),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.bytes.slice(0, 1000)).toEqual(r.readVram(pa + 16n, 1000));
	});

	it('refuses physical access from a non-privileged channel', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const pa = r.vram(4096);
		const dst = region(r, 'sys', 4096);
		ch.submit(ceCopy(pa, dst.va, 16, launch.SRC_PHYSICAL));
		r.settle();
		expect(r.errors).toMatchObject([{ kind: 'ce-launch', engine: 'copy', chid: ch.chid }]);
	});
});
