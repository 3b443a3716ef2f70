import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGspkitError } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { readElfSections, writeElf } from '../src/firmware-models/elf.ts';
import {
	SYNTHETIC_FIRMWARE_VERSIONS,
	syntheticFirmware,
	writeSyntheticFirmwareTree,
} from '../src/firmware-models/synthetic.ts';
import { elfSectionOf, parseHs, sha, u16, u32, u64 } from './falcon-testkit.ts';

describe('synthetic firmware files', () => {
	for (const [chip, version] of [
		['ga102', '570.144'],
		['tu102', '535.113.01'],
		['ad104', '535.113.01'],
		['ga100', '570.144'],
	] as const) {
		it(`${chip} ${version}: every file is in the published format`, () => {
			const set = syntheticFirmware(chip, version);
			const legacy = chip.startsWith('tu') || chip === 'ga100';
			for (const [rel, file] of set.files) {
				if (rel.endsWith(`gsp-${version}.bin`)) continue;
				expect(u32(file, 0), rel).toBe(0x10de);
				expect(u32(file, 8) % 256, rel).toBe(0); // bin_size rounded up to 256
				expect(u32(file, 8) >= file.length && u32(file, 8) - file.length < 256, rel).toBe(true);
				expect(u32(file, 16) + u32(file, 20), rel).toBe(file.length);
			}
			// Booter: HS header v2 chain.
			for (const kind of ['booter_load', 'booter_unload']) {
				const file = set.files.get(`gsp/${kind}-${version}.bin`)!;
				const hs = parseHs(file);
				expect(hs.engIdMask).toBe(1);
				expect(hs.signatures.length).toBe(legacy ? 1 : 2);
				expect(hs.signatures[0]!.length).toBe(chip.startsWith('tu') ? 16 : 384);
				expect(hs.fuseVer).toBe(legacy ? 0 : 1);
				expect(hs.osCodeOffset).toBe(0);
				expect(hs.app0.offset).toBe(hs.osCodeOffset + hs.osCodeSize);
				expect(hs.osDataOffset).toBe(hs.app0.offset + hs.app0.len);
				expect(hs.osDataOffset + hs.osDataSize).toBe(hs.payload.length);
				expect(hs.patchLoc - hs.osDataOffset).toBe(legacy ? 0x200 : 0x10);
				const hoff = u32(file, 12);
				expect(u32(file, hoff + 32)).toBe(20 + 16); // load header with one 16-byte application
			}
			// Bootloader: RM_RISCV_UCODE_DESC v4 (19 u32) or v5 (21 u32).
			const bl = set.files.get(`gsp/bootloader-${version}.bin`)!;
			expect(u32(bl, u32(bl, 12))).toBe(legacy ? 4 : 5);
			expect(u32(bl, 16) - u32(bl, 12)).toBe(legacy ? 76 : 84);
			// GSP ELF.
			const elf = set.files.get(`gsp/gsp-${version}.bin`)!;
			expect([...elf.subarray(0, 6)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
			expect(u16(elf, 0x10)).toBe(1); // REL
			expect(u16(elf, 0x12)).toBe(243); // RISC-V
			expect(u64(elf, 0x20)).toBe(0n); // no program headers
			const image = elfSectionOf(elf, '.fwimage')!;
			expect(image.length).toBeGreaterThan(1 << 20);
			expect(image.length).toBeLessThan(4 << 20);
			expect(image.length % 4096).not.toBe(0);
			expect(new TextDecoder().decode(elfSectionOf(elf, '.fwversion'))).toBe(`${version}\0`);
			const sigs = legacy ? ['ga100', 'tu11x', 'tu10x'] : ['gh100', 'ad10x', 'ga10x'];
			for (const s of sigs) expect(elfSectionOf(elf, `.fwsignature_${s}`)?.length).toBe(4096);
			expect(set.gsp.fwimageSha256).toBe(sha(image));
			// Generic bootloader on Turing/GA100 only, and gen_bootloader only for 570.144 (like the published tree).
			expect(set.files.has('acr/bl.bin')).toBe(legacy);
			expect(set.files.has('gsp/gen_bootloader-570.144.bin')).toBe(legacy && version === '570.144');
		});
	}

	it('is deterministic, differs between versions and families, and is cached', () => {
		const a = syntheticFirmware('ga102', '570.144');
		expect(syntheticFirmware('GA102', '570.144')).toBe(a);
		const b = syntheticFirmware('ga102', '535.113.01');
		const c = syntheticFirmware('ad102', '570.144');
		expect(sha(a.files.get('gsp/booter_load-570.144.bin')!)).not.toBe(
			sha(b.files.get('gsp/booter_load-535.113.01.bin')!),
		);
		expect(sha(a.files.get('gsp/booter_load-570.144.bin')!)).not.toBe(
			sha(c.files.get('gsp/booter_load-570.144.bin')!),
		);
		// GA10x and AD10x share the GSP image, as the published files do.
		expect(a.gsp.fwimageSha256).toBe(c.gsp.fwimageSha256);
		expect(a.booters[0]!.chips).toEqual(['ga102', 'ga103', 'ga104', 'ga106', 'ga107']);
	});

	it('writes a firmware tree a locator can search', () => {
		const root = mkdtempSync(join(tmpdir(), 'gspkit-synth-'));
		try {
			const paths = writeSyntheticFirmwareTree(root, ['tu102'], SYNTHETIC_FIRMWARE_VERSIONS);
			expect(paths.map((p) => p.slice(root.length))).toContain('/nvidia/tu102/gsp/gsp-570.144.bin');
			expect(paths.map((p) => p.slice(root.length))).toContain('/nvidia/tu102/acr/bl.bin');
			const disk = new Uint8Array(readFileSync(join(root, 'nvidia/tu102/gsp/booter_load-535.113.01.bin')));
			expect(sha(disk)).toBe(
				sha(syntheticFirmware('tu102', '535.113.01').files.get('gsp/booter_load-535.113.01.bin')!),
			);
		} finally {
			rmSync(root, { recursive: true, force: true });
		}
	});

	it('rejects an unsupported version or chip with SIM_BOOT_CONFIG', () => {
		for (const f of [
			() => syntheticFirmware('ga102', '550.40'),
			() => syntheticFirmware('gm200', '570.144'),
		]) {
			try {
				f();
				expect.unreachable();
			} catch (e) {
				expect(isGspkitError(e, 'SIM_BOOT_CONFIG')).toBe(true);
			}
		}
	});
});

describe('ELF reader and writer', () => {
	it('round-trips sections and rejects truncated or foreign files with SIM_FIRMWARE_FORMAT', () => {
		const data = new Uint8Array([1, 2, 3, 4, 5]);
		const elf = writeElf(243, 1, [
			{ name: '.a', data },
			{ name: '.bb', data: new Uint8Array(0), align: 8 },
		]);
		const info = readElfSections(elf);
		expect(info.machine).toBe(243);
		expect(info.sections.map((s) => s.name)).toEqual(['', '.a', '.bb', '.shstrtab']);
		const a = info.sections[1]!;
		expect([...elf.subarray(a.offset, a.offset + a.size)]).toEqual([...data]);
		for (const bad of [elf.subarray(0, 40), elf.subarray(0, elf.length - 10), new Uint8Array(64)]) {
			try {
				readElfSections(bad);
				expect.unreachable();
			} catch (e) {
				expect(isGspkitError(e, 'SIM_FIRMWARE_FORMAT')).toBe(true);
			}
		}
	});
});
