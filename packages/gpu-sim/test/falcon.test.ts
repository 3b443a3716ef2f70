import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOOTER_ERROR, BROM_ERROR, bootCodeName, FWSEC_ERROR, GENBL_ERROR } from '../src/falcon/codes.ts';
import {
	boot,
	dmaBuffer,
	dmaLoad,
	dmaSetup,
	GSP,
	makeRig,
	pioDmem,
	pioImem,
	resetFalcon,
	SEC2,
	u32,
	waitFor,
} from './falcon-testkit.ts';

describe('falcon registers, reset and scrubbing', () => {
	it('reports its memories in HWCFG and RISC-V / RESET_READY in HWCFG2 per generation', () => {
		const ga = makeRig('ga102');
		expect(ga.rd(GSP + 0x108)).toBe(0x100 | (0x100 << 9));
		expect(ga.rd(GSP + 0xf4) & (1 << 10)).not.toBe(0);
		expect(ga.rd(SEC2 + 0xf4) & (1 << 10)).not.toBe(0);
		expect(ga.rd(GSP + 0xf4) >>> 31).toBe(1);
		const tu = makeRig('tu102');
		expect(tu.rd(GSP + 0xf4) & (1 << 10)).not.toBe(0);
		expect(tu.rd(SEC2 + 0xf4) & (1 << 10)).toBe(0);
		expect(tu.rd(GSP + 0xf4) >>> 31).toBe(0);
		expect(tu.rd(GSP + 0x12c) & 0xf).toBe(6);
		expect((tu.rd(GSP + 0x12c) >> 4) & 3).toBe(3);
	});

	it('scrubs after ENGINE reset for some simulated time, in HWCFG2 and DMACTL, and drops writes meanwhile', () => {
		const rig = makeRig('ga102');
		rig.wr(GSP + 0x040, 0x1234);
		rig.wr(GSP + 0x3c0, 1);
		expect(rig.rd(GSP + 0x3c0)).toBe(1);
		expect(rig.rd(GSP + 0x040)).toBe(0); // registers reset
		rig.wr(GSP + 0x040, 0x55); // dropped while in reset
		expect(rig.rd(GSP + 0x040)).toBe(0);
		rig.wr(GSP + 0x3c0, 0);
		expect(rig.rd(GSP + 0xf4) & (1 << 12)).not.toBe(0);
		expect(rig.rd(GSP + 0x10c) & 0x6).toBe(0x6);
		rig.wr(GSP + 0x1c0, 1 << 24);
		rig.wr(GSP + 0x1c4, 0xdeadbeef); // lost to scrubbing
		rig.clock.advance(19_000n);
		expect(rig.rd(GSP + 0xf4) & (1 << 12)).not.toBe(0);
		rig.clock.advance(2_000n);
		expect(rig.rd(GSP + 0xf4) & (1 << 12)).toBe(0);
		expect(rig.rd(GSP + 0x10c) & 0x6).toBe(0);
		rig.wr(GSP + 0x1c0, 0);
		expect(rig.rd(GSP + 0x1c4)).toBe(0);
		expect(rig.hw.gsp.diagnostics.lostWrites).toBeGreaterThanOrEqual(2);
		// After reset REQUIRE_CTX is set and physical DMA is not allowed yet.
		expect(rig.rd(GSP + 0x10c) & 1).toBe(1);
		expect(rig.rd(GSP + 0x624) & 0x80).toBe(0);
		expect(rig.rd(GSP + 0x100) & (1 << 4)).not.toBe(0); // halted
	});

	it('selects the falcon core through BCR_CTRL, with VALID after a delay; GSP comes out of reset on RISC-V (GA102+)', () => {
		const rig = makeRig('ga102');
		rig.wr(GSP + 0x3c0, 1);
		rig.wr(GSP + 0x3c0, 0);
		expect(rig.rd(GSP + 0x1668) & (1 << 4)).not.toBe(0);
		expect(rig.rd(SEC2 + 0x1668) & (1 << 4)).toBe(0);
		rig.wr(GSP + 0x1668, 0);
		expect(rig.rd(GSP + 0x1668) & 1).toBe(0);
		rig.clock.advance(2_000n);
		expect(rig.rd(GSP + 0x1668) & 1).toBe(1);
		expect(makeRig('tu102').rd(GSP + 0x1668) & (1 << 4)).toBe(0);
	});

	it('ignores STARTCPU while the RISC-V core is selected, and runs CPUCTL_ALIAS only when ALIAS_EN is set', () => {
		const rig = makeRig('ga102');
		rig.wr(GSP + 0x3c0, 1);
		rig.wr(GSP + 0x3c0, 0);
		rig.clock.advance(30_000n);
		rig.wr(GSP + 0x100, 2);
		expect(rig.hw.gsp.lastRun?.outcome).toBe('ignored');
		expect(rig.hw.gsp.lastRun?.summary).toMatch(/RISC-V/);
		resetFalcon(rig, SEC2);
		const before = rig.hw.sec2.runLog.length;
		rig.wr(SEC2 + 0x130, 2); // alias without ALIAS_EN: ignored
		expect(rig.hw.sec2.runLog.length).toBe(before);
		rig.hw.sec2.setAliasEnable(true);
		expect(rig.rd(SEC2 + 0x100) & (1 << 6)).not.toBe(0);
		rig.wr(SEC2 + 0x100, 2); // CPUCTL locked
		expect(rig.hw.sec2.runLog.length).toBe(before);
		rig.wr(SEC2 + 0x130, 2);
		expect(rig.hw.sec2.runLog.length).toBe(before + 1);
	});

	it('halts an empty (scrubbed) falcon without touching the mailboxes, and raises IRQSTAT.HALT', () => {
		const rig = makeRig('ga102');
		let irqs = 0;
		const r2 = makeRig('ga102', { onInterrupt: { gsp: () => irqs++ } });
		for (const r of [rig, r2]) {
			resetFalcon(r, GSP);
			r.wr(GSP + 0x010, 1 << 4); // IRQMSET HALT
			const [m0, m1] = boot(r, GSP, 0x12345000, 0x1);
			expect([m0, m1]).toEqual([0x12345000, 0x1]);
			expect(r.hw.gsp.lastRun?.outcome).toBe('halt');
			expect(r.rd(GSP + 0x008) & (1 << 4)).not.toBe(0);
			r.wr(GSP + 0x004, 1 << 4);
			expect(r.rd(GSP + 0x008) & (1 << 4)).toBe(0);
		}
		expect(irqs).toBe(1);
	});

	it('names every status code it can leave in a mailbox, and no two share a value', () => {
		const all = [...Object.values(BROM_ERROR), ...Object.values(BOOTER_ERROR), ...Object.values(GENBL_ERROR)];
		expect(new Set(all).size).toBe(all.length);
		for (const c of all) expect(bootCodeName(c)).toMatch(/^(BROM|BOOTER|GENBL)_ERROR\./);
		expect(bootCodeName(FWSEC_ERROR.WPR2_ALREADY_UP)).toBe('FWSEC_ERROR.WPR2_ALREADY_UP');
		expect(bootCodeName(0)).toBeUndefined();
	});

	it('reads 0xbadf5040 at offsets it does not model and counts them', () => {
		const rig = makeRig('ga102');
		expect(rig.rd(GSP + 0x0f0)).toBe(0xbadf5040);
		expect(rig.hw.gsp.diagnostics.unhandledReads).toBe(1);
	});

	it('keeps the queue registers (0xc00..) as storage and reports host writes to watchers', () => {
		const rig = makeRig('ga102');
		const seen: number[] = [];
		rig.hw.gsp.onWrite(0xc00, (v) => seen.push(v));
		rig.wr(GSP + 0xc00, 0);
		rig.wr(GSP + 0xc00, 7);
		expect(seen).toEqual([0, 7]);
		rig.hw.gsp.setQueueRegister(0xc80, 3);
		expect(rig.rd(GSP + 0xc80)).toBe(3);
	});
});

describe('PIO ports', () => {
	it('writes IMEM with auto-increment, per-block tags and the secure bit, and reads it back', () => {
		const rig = makeRig('ga102');
		resetFalcon(rig, GSP);
		const data = new Uint8Array(600).map((_, i) => (i * 37 + 11) & 0xff);
		pioImem(rig, GSP, 0x1200, data, 0x40, true);
		expect(rig.hw.gsp.imem.bytes.subarray(0x1200, 0x1200 + 600)).toEqual(data);
		const blocks = rig.hw.gsp.imem.validBlocks();
		expect(blocks).toEqual([
			{ index: 0x12, tag: 0x40, secure: true },
			{ index: 0x13, tag: 0x41, secure: true },
			{ index: 0x14, tag: 0x42, secure: true },
		]);
		rig.wr(GSP + 0x190, 0x1300 | (1 << 25)); // port 1, AINCR
		expect(rig.rd(GSP + 0x194)).toBe(u32(data, 0x100));
		expect(rig.rd(GSP + 0x194)).toBe(u32(data, 0x104));
		expect(rig.rd(GSP + 0x198)).toBe(0x41);
	});

	it('writes DMEM through any of its 8 ports', () => {
		const rig = makeRig('ga102');
		resetFalcon(rig, SEC2);
		rig.wr(SEC2 + 0x1c0 + 8 * 5, 0x40 | (1 << 24));
		rig.wr(SEC2 + 0x1c4 + 8 * 5, 0x11223344);
		rig.wr(SEC2 + 0x1c4 + 8 * 5, 0x55667788);
		expect(rig.hw.sec2.dmem.subarray(0x40, 0x48)).toEqual(
			new Uint8Array([0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55]),
		);
		pioDmem(rig, SEC2, 0x100, new Uint8Array([1, 2, 3, 4]));
		rig.wr(SEC2 + 0x1c0, 0x100);
		expect(rig.rd(SEC2 + 0x1c4)).toBe(0x04030201);
	});
});

describe('DMATRF transfer engine', () => {
	it('loads random images exactly, in 256-byte chunks, tagging IMEM blocks with FBOFFS >> 8', () => {
		const rig = makeRig('ga102');
		fc.assert(
			fc.property(
				fc.uint8Array({ minLength: 1, maxLength: 6000 }),
				fc.integer({ min: 0, max: 150 }),
				fc.integer({ min: 0, max: 40 }),
				fc.integer({ min: 0, max: 20 }),
				fc.boolean(),
				(image, dstBlock, srcBlock, tagBase, secure) => {
					resetFalcon(rig, GSP);
					const padded = new Uint8Array(srcBlock * 256 + Math.ceil(image.length / 256) * 256);
					padded.set(image, srcBlock * 256);
					const buf = rig.pool.alloc(padded.length, { label: 'img' });
					buf.bytes.set(padded);
					dmaSetup(rig, GSP);
					// Base = buffer, FBOFFS = tag base + source offset: tags follow FBOFFS, data follows base+FBOFFS.
					const base = buf.busAddress + BigInt(srcBlock * 256) - BigInt(tagBase * 256);
					dmaLoad(rig, GSP, base, tagBase * 256, dstBlock * 256, image.length, 'imem', secure);
					const imem = rig.hw.gsp.imem;
					expect(imem.bytes.subarray(dstBlock * 256, dstBlock * 256 + image.length)).toEqual(image);
					const blocks = imem.validBlocks();
					expect(blocks.length).toBe(Math.ceil(image.length / 256));
					blocks.forEach((b, i) => {
						expect(b).toEqual({ index: dstBlock + i, tag: tagBase + i, secure });
					});
					// DMEM: same bytes, no tags.
					dmaLoad(rig, GSP, buf.busAddress + BigInt(srcBlock * 256), 0, dstBlock * 256, image.length, 'dmem');
					expect(rig.hw.gsp.dmem.subarray(dstBlock * 256, dstBlock * 256 + image.length)).toEqual(image);
					rig.pool.free(buf);
				},
			),
			{ numRuns: 40 },
		);
	});

	it('takes simulated time per transfer: IDLE clears while busy and FULL drops commands past the queue depth', () => {
		const rig = makeRig('ga102', { falcon: { dmaNsPer256: 1000n, dmaQueueDepth: 2 } });
		resetFalcon(rig, SEC2);
		const src = dmaBuffer(rig, new Uint8Array(1024).fill(0xab));
		dmaSetup(rig, SEC2);
		rig.wr(SEC2 + 0x110, Number(src >> 8n) >>> 0);
		rig.wr(SEC2 + 0x128, Number(src >> 40n));
		for (let i = 0; i < 3; i++) {
			rig.wr(SEC2 + 0x114, i * 256);
			rig.wr(SEC2 + 0x11c, i * 256);
			rig.wr(SEC2 + 0x118, 0x600);
		}
		expect(rig.rd(SEC2 + 0x118) & 3).toBe(1); // FULL, not IDLE
		expect(rig.hw.sec2.dmem[0]).toBe(0); // not landed yet
		rig.clock.advance(1000n);
		expect(rig.rd(SEC2 + 0x118) & 3).toBe(0);
		expect(rig.hw.sec2.dmem[0]).toBe(0xab);
		rig.clock.advance(1000n);
		expect(rig.rd(SEC2 + 0x118) & 3).toBe(2);
		expect(rig.hw.sec2.dmem[0x1ff]).toBe(0xab);
		expect(rig.hw.sec2.dmem[0x200]).toBe(0); // third command was dropped
	});

	const faults: [string, (rig: ReturnType<typeof makeRig>) => void, RegExp, number?][] = [
		['an unaligned source', () => {}, /aligned/, 0x80],
		['no ALLOW_PHYS_NO_CTX', (r) => r.wr(SEC2 + 0x624, 0), /ALLOW_PHYS_NO_CTX/],
		['REQUIRE_CTX still set', (r) => r.wr(SEC2 + 0x10c, 1), /REQUIRE_CTX/],
		['virtual addressing', (r) => r.wr(SEC2 + 0x600, 1), /virtual/],
		['local FB without a framebuffer', (r) => r.wr(SEC2 + 0x600, 4), /bus fault/],
	];
	for (const [what, setup, reason, fboffs] of faults) {
		it(`faults and hangs (IDLE stays 0 until reset) with ${what}`, () => {
			const rig = makeRig('ga102');
			resetFalcon(rig, SEC2);
			const src = dmaBuffer(rig, new Uint8Array(512).fill(0x5a));
			dmaSetup(rig, SEC2);
			setup(rig);
			rig.wr(SEC2 + 0x110, Number(src >> 8n) >>> 0);
			rig.wr(SEC2 + 0x128, Number(src >> 40n));
			rig.wr(SEC2 + 0x114, 0);
			rig.wr(SEC2 + 0x11c, fboffs ?? 0);
			rig.wr(SEC2 + 0x118, 0x600);
			rig.clock.advance(1_000_000n);
			expect(rig.rd(SEC2 + 0x118) & 2).toBe(0);
			expect(rig.hw.sec2.dmaFault?.reason).toMatch(reason);
			expect(rig.hw.sec2.dmem[0]).toBe(0);
			resetFalcon(rig, SEC2);
			expect(rig.rd(SEC2 + 0x118) & 2).toBe(2);
			expect(rig.hw.sec2.dmaFault).toBeUndefined();
		});
	}

	it('faults on a source address with no live DMA allocation (an IOMMU fault)', () => {
		const rig = makeRig('ga102');
		resetFalcon(rig, SEC2);
		dmaSetup(rig, SEC2);
		rig.wr(SEC2 + 0x110, 0x7777700);
		rig.wr(SEC2 + 0x118, 0x600);
		expect(rig.hw.sec2.dmaFault?.reason).toMatch(/no live DMA allocation/);
	});

	it('reads the 49-bit source from DMATRFBASE1:DMATRFBASE', () => {
		const rig = makeRig('ga102');
		resetFalcon(rig, SEC2);
		dmaSetup(rig, SEC2);
		rig.wr(SEC2 + 0x110, 0x01000000); // bits 39:8 -> 0x1_0000_0000 (pool base)
		rig.wr(SEC2 + 0x128, 0x1); // + 1 << 40: no allocation there
		rig.wr(SEC2 + 0x118, 0x600);
		expect(rig.hw.sec2.dmaFault?.address).toBe((1n << 40n) + 0x1_0000_0000n);
	});

	it('waits for the CPU: transfers still in flight at STARTCPU are not seen by the ucode', () => {
		const rig = makeRig('ga102', { falcon: { dmaNsPer256: 1_000_000n } });
		resetFalcon(rig, GSP);
		const src = dmaBuffer(rig, new Uint8Array(256).fill(1));
		dmaSetup(rig, GSP);
		rig.wr(GSP + 0x110, Number(src >> 8n) >>> 0);
		rig.wr(GSP + 0x114, 0);
		rig.wr(GSP + 0x11c, 0);
		rig.wr(GSP + 0x118, 0x614);
		rig.wr(GSP + 0x100, 2);
		expect(rig.hw.gsp.lastRun?.summary).toMatch(/IMEM miss/);
		waitFor(rig, () => (rig.rd(GSP + 0x118) & 2) !== 0);
		expect(rig.hw.gsp.imem.validBlocks()).toHaveLength(1);
	});
});
