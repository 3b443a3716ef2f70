import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FbLayoutError } from '../src/errors.ts';
import {
	computeFbLayout,
	type FbLayout,
	R570_LIBOS2_HEAP,
	R570_LIBOS3_HEAP,
	vgaWorkspaceStart,
	wprHeapSize,
} from '../src/fb-layout.ts';
import { wprMetaFields } from '../src/wpr-meta.ts';

const KiB = 1024n;
const MiB = 1024n * KiB;
const GiB = 1024n * MiB;

describe('wprHeapSize (r570 constants, nova LibosParams::wpr_heap_size)', () => {
	it('GA102 with 24 GiB, LIBOS3: 22 + 8 + 96 MiB + 96 KiB × 24 = 2304 KiB → 3 MiB = 129 MiB', () => {
		expect(wprHeapSize(24n * GiB, R570_LIBOS3_HEAP)).toBe(129n * MiB);
	});
	it('TU102 with 11 GiB, LIBOS2: 0 + 8 + 96 MiB + 1056 KiB → 2 MiB = 106 MiB', () => {
		expect(wprHeapSize(11n * GiB, R570_LIBOS2_HEAP)).toBe(106n * MiB);
	});
	it('rounds a partial GiB up: 16 GiB + 1 MiB counts as 17 GiB (1632 KiB → 2 MiB)', () => {
		expect(wprHeapSize(16n * GiB + MiB, R570_LIBOS3_HEAP)).toBe(128n * MiB);
	});
	it('clamps to the LIBOS3 maximum (280 MiB) for a 2 TiB FB and to a raised minimum', () => {
		expect(wprHeapSize(2048n * GiB, R570_LIBOS3_HEAP)).toBe(280n * MiB);
		expect(wprHeapSize(GiB, { ...R570_LIBOS2_HEAP, min: 200n * MiB })).toBe(200n * MiB);
	});
});

describe('vgaWorkspaceStart', () => {
	const fb = 24n * GiB;
	it('without a valid register: the top 1 MiB', () => {
		expect(vgaWorkspaceStart(fb, undefined)).toBe(fb - MiB);
	});
	it('a register at or above fb − 1 MiB is used as is', () => {
		expect(vgaWorkspaceStart(fb, fb - 0x80000n)).toBe(fb - 0x80000n);
	});
	it('a register below fb − 1 MiB moves the workspace to fb − 128 KiB', () => {
		expect(vgaWorkspaceStart(fb, 0x1000000n)).toBe(fb - 128n * KiB);
	});
});

describe('computeFbLayout: hand-computed examples', () => {
	it('GA102, 24 GiB, no VGA register, bootloader 0x5000, ELF 63541248 bytes, heap 129 MiB', () => {
		const l = computeFbLayout({
			fbSize: 24n * GiB,
			vgaWorkspaceAddress: undefined,
			bootloaderSize: 0x5000n,
			elfSize: 63541248n,
			heap: R570_LIBOS3_HEAP,
		});
		// fb end 0x6_0000_0000; VGA = end − 1 MiB; FRTS = 1 MiB right below (already 128 KiB aligned).
		expect(l.vgaWorkspace).toEqual({ start: 0x5_fff0_0000n, end: 0x6_0000_0000n });
		expect(l.wprEnd).toBe(0x5_fff0_0000n);
		expect(l.frts).toEqual({ start: 0x5_ffe0_0000n, end: 0x5_fff0_0000n });
		// bootloader: 0x5_ffe0_0000 − 0x5000 = 0x5_ffdf_b000 (4 KiB aligned already)
		expect(l.bootloader).toEqual({ start: 0x5_ffdf_b000n, end: 0x5_ffe0_0000n });
		// ELF: 0x5_ffdf_b000 − 0x3c9_9000 = 0x5_fc16_2000 → 64 KiB down: 0x5_fc16_0000
		expect(l.elf).toEqual({ start: 0x5_fc16_0000n, end: 0x5_fc16_0000n + 63541248n });
		// heap: 0x5_fc16_0000 − 0x810_0000 = 0x5_f406_0000 → 1 MiB down: 0x5_f400_0000; end 0x5_fc10_0000
		expect(l.wprHeap).toEqual({ start: 0x5_f400_0000n, end: 0x5_fc10_0000n });
		expect(l.heapSizeRequested).toBe(129n * MiB);
		// WPR2: heap start − 256 → 1 MiB down = 0x5_f3f0_0000 … FRTS end
		expect(l.wpr2).toEqual({ start: 0x5_f3f0_0000n, end: 0x5_fff0_0000n });
		expect(l.nonWprHeap).toEqual({ start: 0x5_f3e0_0000n, end: 0x5_f3f0_0000n });
	});

	it('TU102, 11 GiB, VGA register at fb − 0x50000 (not 128 KiB aligned), heap 106 MiB', () => {
		const fb = 11n * GiB; // 0x2_c000_0000
		const l = computeFbLayout({
			fbSize: fb,
			vgaWorkspaceAddress: fb - 0x50000n, // 0x2_bffb_0000
			bootloaderSize: 0x1064n,
			elfSize: 0x16a_d000n,
			heap: R570_LIBOS2_HEAP,
		});
		expect(l.vgaWorkspace.start).toBe(0x2_bffb_0000n);
		// 0x2_bffb_0000 aligned down to 128 KiB (0x2_0000) = 0x2_bffa_0000
		expect(l.wprEnd).toBe(0x2_bffa_0000n);
		expect(l.frts).toEqual({ start: 0x2_bfea_0000n, end: 0x2_bffa_0000n });
		// 0x2_bfea_0000 − 0x1064 = 0x2_bfe9_ef9c → 4 KiB down 0x2_bfe9_e000
		expect(l.bootloader).toEqual({ start: 0x2_bfe9_e000n, end: 0x2_bfe9_f064n });
		// 0x2_bfe9_e000 − 0x16a_d000 = 0x2_be7f_1000 → 64 KiB down 0x2_be7f_0000
		expect(l.elf.start).toBe(0x2_be7f_0000n);
		// 0x2_be7f_0000 − 106 MiB (0x6a0_0000) = 0x2_b7df_0000 → 0x2_b7d0_0000; end 0x2_be70_0000
		expect(l.wprHeap).toEqual({ start: 0x2_b7d0_0000n, end: 0x2_be70_0000n });
		// 0x2_b7d0_0000 − 0x100 → 1 MiB down 0x2_b7c0_0000
		expect(l.wpr2).toEqual({ start: 0x2_b7c0_0000n, end: 0x2_bffa_0000n });
		expect(l.nonWprHeap).toEqual({ start: 0x2_b7b0_0000n, end: 0x2_b7c0_0000n });
	});

	it('an explicit heap size and VF partitions are honoured', () => {
		const l = computeFbLayout({
			fbSize: 8n * GiB,
			vgaWorkspaceAddress: undefined,
			bootloaderSize: 4096n,
			elfSize: MiB,
			heap: { size: 64n * MiB },
			vfPartitionCount: 4,
		});
		expect(l.heapSizeRequested).toBe(64n * MiB);
		expect(l.vfPartitionCount).toBe(4);
	});

	it('an FB too small for the layout is an FbLayoutError (ENOSPC)', () => {
		const e = (() => {
			try {
				computeFbLayout({
					fbSize: 128n * MiB,
					vgaWorkspaceAddress: undefined,
					bootloaderSize: 4096n,
					elfSize: 60n * MiB,
					heap: R570_LIBOS3_HEAP,
				});
			} catch (x) {
				return x;
			}
		})() as FbLayoutError;
		expect(e).toBeInstanceOf(FbLayoutError);
		expect(e.errno).toBe('ENOSPC');
		expect(e.stage).toBe('fb-layout');
	});

	it('rejects an FB size that is not whole MiB', () => {
		expect(() =>
			computeFbLayout({
				fbSize: GiB + 1n,
				vgaWorkspaceAddress: undefined,
				bootloaderSize: 1n,
				elfSize: 1n,
				heap: R570_LIBOS3_HEAP,
			}),
		).toThrow(FbLayoutError);
	});

	test.prop([
		fc.integer({ min: 1, max: 96 }),
		fc.integer({ min: 1, max: 0x40000 }),
		fc.integer({ min: 1, max: 200 << 20 }),
		fc.option(fc.integer({ min: 0, max: 0xfff }), { nil: undefined }),
	])('invariants: ordered, aligned, disjoint, WPR2 covers heap..FRTS', (gib, bl, elf, vgaOff) => {
		const fbSize = BigInt(gib) * GiB;
		const vga = vgaOff === undefined ? undefined : fbSize - BigInt(vgaOff) * 0x1000n;
		const l: FbLayout = computeFbLayout({
			fbSize,
			vgaWorkspaceAddress: vga,
			bootloaderSize: BigInt(bl),
			elfSize: BigInt(elf),
			heap: R570_LIBOS3_HEAP,
		});
		expect(l.frts.end - l.frts.start).toBe(MiB);
		expect(l.frts.end % (128n * KiB)).toBe(0n);
		expect(l.bootloader.start % 4096n).toBe(0n);
		expect(l.elf.start % (64n * KiB)).toBe(0n);
		expect(l.wprHeap.start % MiB).toBe(0n);
		expect(l.wpr2.start % MiB).toBe(0n);
		expect(l.bootloader.end).toBeLessThanOrEqual(l.frts.start);
		expect(l.elf.end).toBeLessThanOrEqual(l.bootloader.start);
		expect(l.wprHeap.end).toBeLessThanOrEqual(l.elf.start);
		expect(l.wpr2.start + 256n).toBeLessThanOrEqual(l.wprHeap.start);
		expect(l.wpr2.end).toBe(l.frts.end);
		expect(l.nonWprHeap.end).toBe(l.wpr2.start);
		expect(l.vgaWorkspace.end).toBe(fbSize);
		expect(l.frts.end).toBeLessThanOrEqual(l.vgaWorkspace.start);
	});
});

describe('wprMetaFields (nova GspFwWprMeta::new)', () => {
	it('maps the layout and DMA addresses field by field', () => {
		const l = computeFbLayout({
			fbSize: 24n * GiB,
			vgaWorkspaceAddress: undefined,
			bootloaderSize: 0x5000n,
			elfSize: 63541248n,
			heap: R570_LIBOS3_HEAP,
		});
		const f = wprMetaFields(l, {
			radix3L0Address: 0x1_0000_1000n,
			imageSize: 63541248n,
			bootloaderAddress: 0x1_0010_0000n,
			bootloaderSize: 0x5000n,
			bootloaderCodeOffset: 0x100,
			bootloaderDataOffset: 0x2000,
			bootloaderManifestOffset: 0x4000,
			signatureAddress: 0x1_0020_0000n,
			signatureSize: 4096n,
		});
		expect(f).toEqual({
			sysmemAddrOfRadix3Elf: 0x1_0000_1000n,
			sizeOfRadix3Elf: 63541248n,
			sysmemAddrOfBootloader: 0x1_0010_0000n,
			sizeOfBootloader: 0x5000n,
			bootloaderCodeOffset: 0x100n,
			bootloaderDataOffset: 0x2000n,
			bootloaderManifestOffset: 0x4000n,
			sysmemAddrOfSignature: 0x1_0020_0000n,
			sizeOfSignature: 4096n,
			gspFwRsvdStart: 0x5_f3e0_0000n,
			nonWprHeapOffset: 0x5_f3e0_0000n,
			nonWprHeapSize: MiB,
			gspFwWprStart: 0x5_f3f0_0000n,
			gspFwHeapOffset: 0x5_f400_0000n,
			gspFwHeapSize: 0x5_fc10_0000n - 0x5_f400_0000n,
			gspFwOffset: 0x5_fc16_0000n,
			bootBinOffset: 0x5_ffdf_b000n,
			frtsOffset: 0x5_ffe0_0000n,
			frtsSize: MiB,
			gspFwWprEnd: 0x5_fff0_0000n,
			fbSize: 24n * GiB,
			vgaWorkspaceOffset: 0x5_fff0_0000n,
			vgaWorkspaceSize: MiB,
			bootCount: 0n,
			gspFwHeapVfPartitionCount: 0,
			pmuReservedSize: 0,
			flags: 0,
		});
	});
});
