import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VbiosFormatError } from '../src/errors.ts';
import {
	type FalconUcodeDescV2,
	type FalconUcodeDescV3,
	parseVbios,
	readVbios,
	VBIOS_ROM_BASE,
} from '../src/vbios.ts';
import { buildVbiosRom, fakeSignature, fwsecDmem, type RomSpec } from './vbios-builder.ts';

const imem = Uint8Array.from({ length: 0x300 }, (_, i) => (i * 7) & 0xff);
const dmem = fwsecDmem({ size: 0x400, interfaceOffset: 0x20, mapperOffset: 0x80, cmdOffset: 0x200 });
const sigs = [fakeSignature(1), fakeSignature(2), fakeSignature(3)];

const v3: RomSpec = {
	fwsec: {
		version: 3,
		imem,
		dmem,
		interfaceOffset: 0x20,
		imemPhysBase: 0x100,
		dmemPhysBase: 0,
		pkcDataOffset: 0x280,
		engineIdMask: 0x400,
		ucodeId: 9,
		signatureVersions: 0b1011,
		signatures: sigs,
	},
};

function vbiosError(fn: () => unknown): VbiosFormatError {
	try {
		fn();
	} catch (e) {
		expect(e).toBeInstanceOf(VbiosFormatError);
		return e as VbiosFormatError;
	}
	throw new Error('expected a VbiosFormatError');
}

describe('parseVbios: image chain', () => {
	it('walks PCI-AT, EFI and two FWSEC images, using the NPDE sub-image length over the PCIR length', () => {
		const b = buildVbiosRom(v3);
		const v = parseVbios(b.rom);
		expect(v.images.map((i) => [i.offset, i.length, i.codeType])).toEqual(
			b.at.images.map((i) => [i.offset, i.length, i.codeType]),
		);
		expect(v.images.map((i) => i.last)).toEqual([false, false, false, true]);
		expect(v.pciAt.offset).toBe(0);
		expect(v.fwsecImages.map((i) => i.index)).toEqual([2, 3]);
		expect(v.images[1]?.npde?.subimageLength).toBe(3);
		expect(v.images[1]?.pcir.imageLength).toBe(0x7fff);
		expect(v.rom.length).toBe(b.rom.length);
	});

	it('uses the PCIR length and last-image flag without NPDE, and accepts 0xBB77/0x4E56 and NPDS', () => {
		for (const alt of [0xbb77, 0x4e56]) {
			const b = buildVbiosRom({ ...v3, npde: false, altSignature: alt, npds: true });
			const v = parseVbios(b.rom);
			expect(v.images.map((i) => i.signature)).toEqual([0xaa55, alt, alt, alt]);
			expect(v.fwsecImages[0]?.pcir.signature).toBe('NPDS');
			expect(v.images.every((i) => i.npde === null)).toBe(true);
			expect(v.images.map((i) => i.last)).toEqual([false, false, false, true]);
		}
	});

	it('treats an NBSI image as the last one', () => {
		const b = buildVbiosRom({ ...v3, nbsiLast: true });
		const v = parseVbios(b.rom);
		expect(v.images.at(-1)?.codeType).toBe(0x70);
		expect(v.images.at(-1)?.last).toBe(true);
		expect(v.images.slice(0, -1).every((i) => !i.last)).toBe(true);
	});
});

describe('parseVbios: BIT, falcon data, ucode table and FWSEC v3', () => {
	it('finds the BIT, token 0x70, the relocated table in FWSEC image #2 and the FWSEC_PROD descriptor', () => {
		const b = buildVbiosRom(v3);
		const v = parseVbios(b.rom);
		expect(v.bit.offset).toBe(b.at.bit);
		expect(v.bit).toMatchObject({ headerSize: 12, tokenSize: 6, tokenEntries: 3, bcdVersion: 0x100 });
		expect(v.falconDataToken).toMatchObject({
			offset: b.at.falconToken,
			id: 0x70,
			dataVersion: 2,
			dataOffset: 0x300,
		});
		expect(v.ucodeTable.location.romOffset).toBe(b.at.table);
		expect(v.ucodeTable.location.image.index).toBe(3);
		expect(v.ucodeTable.location.pointer).toBe(b.at.tablePointer);
		expect(v.ucodeTable.entries.map((e) => e.appId)).toEqual([0x05, 0x85]);
		expect(v.fwsec.location.romOffset).toBe(b.at.desc);
		const d = v.fwsec.desc as FalconUcodeDescV3;
		expect(d).toMatchObject({
			version: 3,
			size: 44 + 3 * 384,
			versionAvailable: true,
			pkcDataOffset: 0x280,
			interfaceOffset: 0x20,
			imemPhysBase: 0x100,
			imemLoadSize: 0x300,
			dmemLoadSize: 0x400,
			engineIdMask: 0x400,
			ucodeId: 9,
			signatureCount: 3,
			signatureVersions: 0b1011,
		});
		expect(
			v.fwsec.signatures.map((s) =>
				Buffer.from(s).equals(Buffer.from(sigs[v.fwsec.signatures.indexOf(s)] as Uint8Array)),
			),
		).toEqual([true, true, true]);
		expect(v.fwsec.ucodeRomOffset).toBe(b.at.ucode);
		expect(Buffer.from(v.fwsec.ucode.subarray(0, 0x300)).equals(Buffer.from(imem))).toBe(true);
		expect(Buffer.from(v.fwsec.ucode.subarray(0x300)).equals(Buffer.from(dmem))).toBe(true);
		expect(v.fwsec.dmemImageOffset).toBe(0x300);
	});

	it('relocates into FWSEC image #1 and works without the EFI image in between', () => {
		for (const spec of [
			{ ...v3, tableIn: 1 as const },
			{ ...v3, efi: false },
			{ ...v3, fwsecImages: 1 as const },
		]) {
			const b = buildVbiosRom(spec);
			const v = parseVbios(b.rom);
			expect(v.fwsec.location.romOffset).toBe(b.at.desc);
			expect(Buffer.from(v.fwsec.ucode.subarray(0, 16)).equals(Buffer.from(imem.subarray(0, 16)))).toBe(true);
		}
	});

	it('selects another app ID on request', () => {
		const b = buildVbiosRom({ ...v3, fwsecAppId: 0x45, extraApps: [0x85] });
		// 0x85 exists but points at garbage (0x12345, beyond the images): the default lookup fails there…
		expect(vbiosError(() => parseVbios(b.rom)).field).toBe('ucode table entry.desc_ptr');
		// …while the DBG entry resolves.
		expect(parseVbios(b.rom, { fwsecAppId: 0x45 }).fwsec.entry.appId).toBe(0x45);
	});
});

describe('parseVbios: FWSEC descriptor v2', () => {
	const v2spec = (ext: boolean): RomSpec => ({
		fwsec: {
			version: 2,
			v2Extended: ext,
			imem,
			dmem,
			interfaceOffset: 0x20,
			imemPhysBase: 0,
			imemSecBase: 0x200,
			imemSecSize: 0x100,
			dmemPhysBase: 0x40,
		},
	});

	it('reads the 56-byte reference form', () => {
		const v = parseVbios(buildVbiosRom(v2spec(false)).rom);
		const d = v.fwsec.desc as FalconUcodeDescV2;
		expect(d).toMatchObject({
			version: 2,
			size: 56,
			interfaceOffset: 0x20,
			imemLoadSize: 0x300,
			imemSecBase: 0x200,
			imemSecSize: 0x100,
			dmemOffset: 0x300,
			dmemPhysBase: 0,
			dmemLoadSize: 0x400,
		});
		expect(v.fwsec.signatures).toHaveLength(0);
		expect(v.fwsec.dmemImageOffset).toBe(0x300);
	});

	it("reads nouveau's 60-byte form with dmem_phys_base", () => {
		const d = parseVbios(buildVbiosRom(v2spec(true)).rom).fwsec.desc as FalconUcodeDescV2;
		expect(d).toMatchObject({ size: 60, dmemOffset: 0x300, dmemPhysBase: 0x40, dmemLoadSize: 0x400 });
	});
});

describe('parseVbios: malformed ROMs give typed errors naming field and offset', () => {
	it('bad image signature', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		const o = b.at.images[1]?.offset ?? 0;
		rom[o] = 0x12;
		const e = vbiosError(() => parseVbios(rom));
		expect(e.field).toBe('image[1].signature');
		expect(e.offset).toBe(o);
		expect(e.code).toBe('BOOT_VBIOS_FORMAT');
		expect(e.stage).toBe('vbios');
	});

	it('bad PCIR signature', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		rom[0x20] = 0x51;
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset]).toEqual(['image[0].PCIR.signature', 0x20]);
	});

	it('zero image length (would loop forever)', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		new DataView(rom.buffer).setUint16(0x40 + 8, 0, true); // NPDE subimage_len
		new DataView(rom.buffer).setUint16(0x20 + 0x10, 0, true); // PCIR image_len
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset]).toEqual(['image[0].image_len', 0x30]);
	});

	it('a chain without a last-image flag that runs off the ROM', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		const last = b.at.images[3]?.offset ?? 0;
		rom[last + 0x40 + 0x0a] = 0;
		const e = vbiosError(() => parseVbios(rom));
		expect(e.field).toMatch(/^image\[3\]\.last_image|image\[4\]/);
	});

	it('no BIT header', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		rom[b.at.bit + 2] = 0x41;
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset]).toEqual(['BIT header', 0]);
	});

	it('no falcon-data token', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		rom[b.at.falconToken] = 0x71;
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset]).toEqual(['BIT token 0x70 (falcon data)', b.at.bit]);
	});

	it('a falcon-data pointer beyond every FWSEC image', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		new DataView(rom.buffer).setUint32(b.at.falconData, 0x100000, true);
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset]).toEqual(['falcon data.ucode_table_pointer', b.at.falconData]);
	});

	it('a pointer into the PCI-AT image', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		new DataView(rom.buffer).setUint32(b.at.falconData, 0x10, true);
		expect(vbiosError(() => parseVbios(rom)).details.expected).toMatch(/past the PCI-AT image/);
	});

	it('no FWSEC_PROD entry', () => {
		const b = buildVbiosRom({ ...v3, fwsecAppId: 0x45 });
		const e = vbiosError(() => parseVbios(b.rom));
		expect([e.field, e.offset]).toEqual(['ucode table app 0x85', b.at.table]);
	});

	it('a v3 header size too small for its signatures', () => {
		const b = buildVbiosRom({ ...v3, fwsec: { ...v3.fwsec, headerSize: 44 + 384 } });
		const e = vbiosError(() => parseVbios(b.rom));
		expect([e.field, e.offset]).toEqual(['FalconUCodeDescV3.hdr.size', b.at.desc]);
	});

	it('an unknown descriptor version', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		rom[b.at.desc + 1] = 4;
		const e = vbiosError(() => parseVbios(rom));
		expect([e.field, e.offset, e.details.actual]).toEqual(['falcon ucode desc.hdr.version', b.at.desc, '4']);
	});

	it('a ucode running past its image', () => {
		const b = buildVbiosRom(v3);
		const rom = b.rom.slice();
		new DataView(rom.buffer).setUint32(b.at.desc + 32, 0x10000, true); // dmem_load_size
		const e = vbiosError(() => parseVbios(rom));
		expect(e.field).toMatch(/ucode/);
		expect(e.offset).toBe(b.at.desc);
	});

	it('property: truncated or mutated ROMs parse or fail with VbiosFormatError, never another error', () => {
		const base = buildVbiosRom(v3).rom;
		fc.assert(
			fc.property(
				fc.nat({ max: base.length }),
				fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
					maxLength: 8,
				}),
				(cut, muts) => {
					const rom = base.slice(0, cut);
					for (const [at, v] of muts) if (at < rom.length) rom[at] = v;
					try {
						parseVbios(rom);
					} catch (e) {
						if (!(e instanceof VbiosFormatError)) throw e;
						expect(e.offset).toBeGreaterThanOrEqual(0);
						expect(e.offset).toBeLessThan(Math.max(1, 0x100000));
					}
				},
			),
			{ numRuns: 400 },
		);
	});
});

describe('readVbios through BAR0', () => {
	function serve(rom: Uint8Array) {
		// The ROM followed by a trailing area the driver must not read.
		const window = new Uint8Array(0x100000).fill(0xee);
		window.set(rom);
		const reads: number[] = [];
		const bar0 = {
			size: 16 << 20,
			read32(off: number) {
				reads.push(off);
				const r = off - VBIOS_ROM_BASE;
				if (r < 0 || r >= window.length || off % 4 !== 0) throw new Error(`bad read ${off.toString(16)}`);
				return new DataView(window.buffer).getUint32(r, true);
			},
			write32() {
				throw new Error('the VBIOS is read-only');
			},
		};
		return { bar0, reads };
	}

	it('reads 32-bit words from 0x300000, each once, only in the pages the parser needs (not the EFI image)', () => {
		const b = buildVbiosRom({ ...v3, efiUnits: 40 });
		const { bar0, reads } = serve(b.rom);
		const v = readVbios(bar0);
		expect(v.fwsec.location.romOffset).toBe(b.at.desc);
		expect(Buffer.from(v.fwsec.ucode.subarray(0, 0x300)).equals(Buffer.from(imem))).toBe(true);
		expect(new Set(reads).size).toBe(reads.length);
		// Image headers are read a page at a time, so at most the page holding the last header may reach past the ROM.
		const limit = VBIOS_ROM_BASE + Math.ceil(b.rom.length / 4096) * 4096;
		expect(reads.every((o) => o % 4 === 0 && o >= VBIOS_ROM_BASE && o < limit)).toBe(true);
		const efi = b.at.images[1] as { offset: number; length: number };
		const efiPagesInside = (o: number) => {
			const r = o - VBIOS_ROM_BASE;
			const firstFullPage = Math.ceil((efi.offset + 4096) / 4096) * 4096;
			return r >= firstFullPage && r < Math.floor((efi.offset + efi.length) / 4096) * 4096;
		};
		expect(reads.some(efiPagesInside)).toBe(false);
		expect(v.bytesRead).toBe(reads.length * 4);
		expect(v.bytesRead).toBeLessThan(b.rom.length);
	});

	it('readAll reads the whole chain', () => {
		const b = buildVbiosRom({ ...v3, efiUnits: 40 });
		const { bar0, reads } = serve(b.rom);
		const v = readVbios(bar0, { readAll: true });
		expect(Buffer.from(v.rom).equals(Buffer.from(b.rom))).toBe(true);
		expect(Math.max(...reads)).toBeLessThan(VBIOS_ROM_BASE + Math.ceil(b.rom.length / 4096) * 4096);
		expect(v.bytesRead).toBeGreaterThanOrEqual(b.rom.length);
	});
});
