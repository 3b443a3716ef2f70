import { describe, expect, it } from 'vitest';
import { simChipSpec } from '../src/chips.ts';
import { bootProfile } from '../src/falcon/profile.ts';
import { buildVbios } from '../src/vbios/vbios.ts';
import { makeRig, parseVbios, readRom, sha, u16, u32 } from './falcon-testkit.ts';

// The walk below uses the test kit's own reader (parseVbios: 0xAA55 -> PCIR -> NPDE -> BIT -> token 0x70 ->
// lookup table -> descriptor), which shares no code with src/vbios.

const cases = [
	{ chip: 'tu102', version: 2 },
	{ chip: 'ga102', version: 3 },
	{ chip: 'ad102', version: 3 },
] as const;

describe('synthesized VBIOS', () => {
	for (const { chip, version } of cases) {
		it(`${chip}: walks from 0xAA55 to the FWSEC_PROD descriptor v${version} through the PROM window`, () => {
			const rig = makeRig(chip);
			const rom = readRom(rig);
			const v = parseVbios(rom);
			// Chain: PCI-AT, EFI, FWSEC, FWSEC; 512-byte units; only the NPDE of the last one says "last".
			expect(v.images.map((i) => i.codeType)).toEqual([0x00, 0x03, 0xe0, 0xe0]);
			expect(v.images.every((i) => i.length % 512 === 0 && i.offset % 512 === 0)).toBe(true);
			expect(v.images.map((i) => i.last)).toEqual([false, false, false, true]);
			const efi = v.images[1]!;
			const efiPcir = efi.offset + u16(rom, efi.offset + 0x18);
			expect(rom[efiPcir + 0x15]! & 0x80).toBe(0x80); // the PCI-visible chain ends at EFI
			expect(u16(rom, efiPcir + 4)).toBe(0x10de);
			expect(u16(rom, efiPcir + 6)).toBe(simChipSpec(chip).deviceId);
			for (const img of v.images) {
				const pcir = img.offset + u16(rom, img.offset + 0x18);
				expect(u16(rom, pcir + 0x10) * 512).toBe(img.length); // PCIR length agrees with the NPDE
			}
			expect(v.desc.version).toBe(version);
			expect(v.desc.imemPhysBase).toBe(0);
			expect(v.desc.dmemPhysBase).toBe(0);
			expect(v.ucode.length).toBe(v.desc.imemLoadSize + v.desc.dmemLoadSize);
			// The descriptor agrees with what the model put there.
			const f = rig.hw.vbios.fwsec;
			expect(v.descOffset).toBe(f.romOffset);
			expect(sha(v.ucode.subarray(0, v.desc.imemLoadSize))).toBe(sha(f.imem));
			expect(sha(v.ucode.subarray(v.desc.imemLoadSize))).toBe(sha(f.dmem));
			expect(v.desc.interfaceOffset).toBe(f.interfaceOffset);
			if (version === 3) {
				expect(v.desc.size).toBe(44 + 384 * v.desc.signatureCount);
				expect(v.desc.engineIdMask).toBe(0x400);
				expect(v.desc.signatureCount).toBeGreaterThan(1);
				expect(v.signatures.map(sha)).toEqual(f.signatures.map(sha));
				expect(v.desc.pkcDataOffset).toBe(f.pkcDataOffset);
			} else {
				expect(v.desc.size).toBe(60);
				expect(v.desc.imemSecSize).toBe(v.desc.imemLoadSize);
				expect(v.desc.dmemOffset).toBe(v.desc.imemLoadSize);
			}
			// The app-interface table has the DMEM mapper (id 4) with a v3 "DMAP" header.
			const t = v.desc.imemLoadSize + v.desc.interfaceOffset;
			expect(v.ucode[t]).toBe(1);
			const ids = Array.from({ length: v.ucode[t + 3]! }, (_, e) =>
				u32(v.ucode, t + v.ucode[t + 1]! + e * v.ucode[t + 2]!),
			);
			expect(ids).toContain(4);
			const mapper = v.desc.imemLoadSize + f.dmemMapperOffset;
			expect(u32(v.ucode, mapper)).toBe(0x50414d44);
			expect(u16(v.ucode, mapper + 4)).toBe(3);
		});
	}

	it('reproduces the falcon-data pointer quirk: PCI-AT length + offset in the FWSEC images, not a ROM offset', () => {
		const rig = makeRig('ga102');
		const rom = readRom(rig);
		const vb = rig.hw.vbios;
		const [pciAt, efi, fw1] = vb.images;
		// The token's pointer, read independently.
		const bit = vb.bitOffset;
		expect([...rom.subarray(bit, bit + 6)]).toEqual([0xff, 0xb8, 0x42, 0x49, 0x54, 0x00]);
		expect(bit).toBe(0x1b0);
		let sum = 0;
		for (let i = 0; i < rom[bit + 8]!; i++) sum = (sum + rom[bit + i]!) & 0xff;
		expect(sum).toBe(0); // header checksum
		let token = -1;
		for (let i = 0; i < rom[bit + 10]!; i++) if (rom[bit + 12 + 6 * i] === 0x70) token = bit + 12 + 6 * i;
		expect(token).toBeGreaterThan(bit + 12); // not the first token
		expect(rom[token + 1]).toBe(2);
		expect(u16(rom, token + 2)).toBeGreaterThanOrEqual(4);
		const ptr = u32(rom, u16(rom, token + 4));
		expect(ptr).toBe(vb.falconDataPointer);
		// Read as a ROM offset it lands inside the EFI image, not on the table: the pointer counts the PCI-AT
		// image and then the FWSEC images as if they were contiguous.
		const romOf = (p: number) => fw1!.offset + (p - pciAt!.length);
		expect(ptr).toBeGreaterThanOrEqual(efi!.offset);
		expect(ptr).toBeLessThan(efi!.offset + efi!.length);
		expect(romOf(ptr)).toBe(vb.lookupTableOffset);
		// The table: SEC_LIC, FWSEC_DBG, then FWSEC_PROD.
		const t = vb.lookupTableOffset;
		expect([rom[t], rom[t + 1], rom[t + 2], rom[t + 3]]).toEqual([1, 4, 6, 3]);
		expect([rom[t + 4], rom[t + 10], rom[t + 16]]).toEqual([0x05, 0x45, 0x85]);
		expect(romOf(u32(rom, t + 18))).toBe(vb.fwsec.romOffset);
		// DBG is a different ucode.
		const dbg = romOf(u32(rom, t + 12));
		expect(dbg).not.toBe(vb.fwsec.romOffset);
	});

	it('is deterministic per chip and differs between chips', () => {
		const a1 = buildVbios(simChipSpec('ga102'), bootProfile('ga102'));
		const a2 = buildVbios(simChipSpec('ga102'), bootProfile('ga102'));
		const b = buildVbios(simChipSpec('ga104'), bootProfile('ga104'));
		expect(sha(a1.rom)).toBe(sha(a2.rom));
		expect(sha(a1.rom)).not.toBe(sha(b.rom));
		expect(a1.rom.length).toBeLessThanOrEqual(0x100000);
		expect(a1.images.map((i) => i.length)).not.toEqual(b.images.map((i) => i.length));
	});

	it('checksums the x86 and EFI images to zero', () => {
		const vb = buildVbios(simChipSpec('ad102'), bootProfile('ad102'));
		for (const img of vb.images.slice(0, 2)) {
			let sum = 0;
			for (let i = img.offset; i < img.offset + img.length; i++) sum = (sum + vb.rom[i]!) & 0xff;
			expect(sum).toBe(0);
		}
	});

	it('serves the ROM little-endian through 32-bit PROM reads, erased flash past its end, and ignores writes', () => {
		const rig = makeRig('tu102');
		const rom = rig.hw.vbios.rom;
		expect(rig.rd(0x300000)).toBe(u32(rom, 0));
		expect(rig.rd(0x300000) & 0xffff).toBe(0xaa55);
		expect(rig.rd(0x300000 + 0x1b0)).toBe(0x4942b8ff);
		expect(rig.rd(0x300000 + ((rom.length + 3) & ~3))).toBe(0xffffffff);
		expect(rig.rd(0x3ffffc)).toBe(0xffffffff);
		rig.wr(0x300000, 0);
		expect(rig.rd(0x300000)).toBe(u32(rom, 0));
	});
});
