/**
 * Parsers and helpers on synthetic files built here byte by byte (so these run without the real firmware),
 * with exact expectations for values, fields and offsets.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
	crc32,
	elfSectionData,
	FirmwareFormatError,
	firmwareSetSpec,
	fuseVersionFromRegister,
	fuseVersionRegister,
	type HsFirmware,
	identifyFirmwareFile,
	parseBinHeader,
	parseElf,
	parseElfSymbols,
	parseFirmwareName,
	parseFmc,
	parseGenBootloader,
	parseGspElf,
	parseHsFirmware,
	parseRiscvFirmware,
	pkcDataOffsetOf,
	selectBooterSignature,
} from '../src/firmware/index.ts';
import { ascii, buildElf, readelfSections } from './firmware-fixtures.ts';

/** Expect `fn` to throw a FirmwareFormatError for `field` at `offset`. */
function expectFormatError(fn: () => unknown, field: string | RegExp, offset: number): FirmwareFormatError {
	try {
		fn();
	} catch (e) {
		expect(e).toBeInstanceOf(FirmwareFormatError);
		const fe = e as FirmwareFormatError;
		if (typeof field === 'string') expect(fe.field).toBe(field);
		else expect(fe.field).toMatch(field);
		expect(fe.offset).toBe(offset);
		expect(fe.code).toBe('FW_FORMAT');
		expect(fe.errno).toBe('EINVAL');
		return fe;
	}
	throw new Error('expected a FirmwareFormatError');
}

class Writer {
	readonly buf: Uint8Array;
	readonly dv: DataView;
	constructor(size: number) {
		this.buf = new Uint8Array(size);
		this.dv = new DataView(this.buf.buffer);
	}
	u32(off: number, ...values: number[]): this {
		values.forEach((v, i) => {
			this.dv.setUint32(off + 4 * i, v >>> 0, true);
		});
		return this;
	}
}

interface HsSpec {
	numSig: number;
	sigSize: number;
	fuseVer: number;
	appEntry: 8 | 16;
	numApps: number;
	osDataOffset: number;
	osDataSize: number;
	patchLoc: number;
	payloadSize: number;
}

/** Offsets of the pieces {@link buildHs} lays out. */
const HS = { h0: 0x18, sig: 0x3c } as const;

/** An HS ucode file: bin hdr, HS header v2, signatures, the four pointed-at u32s + metadata, load header, payload. */
function buildHs(spec: Partial<HsSpec> = {}): { bytes: Uint8Array; at: Record<string, number> } {
	const s: HsSpec = {
		numSig: 2,
		sigSize: 384,
		fuseVer: 1,
		appEntry: 16,
		numApps: 1,
		osDataOffset: 0x100,
		osDataSize: 0x100,
		patchLoc: 0x110,
		payloadSize: 0x300,
		...spec,
	};
	const sigEnd = HS.sig + s.numSig * s.sigSize;
	const at = {
		patchLoc: sigEnd,
		patchSig: sigEnd + 4,
		meta: sigEnd + 8,
		numSig: sigEnd + 20,
		load: sigEnd + 24,
	};
	const loadSize = 20 + s.appEntry * s.numApps;
	const dataOffset = Math.ceil((at.load + loadSize) / 0x100) * 0x100;
	const w = new Writer(dataOffset + s.payloadSize);
	w.u32(0, 0x10de, 1, Math.ceil(w.buf.length / 256) * 256, HS.h0, dataOffset, s.payloadSize);
	w.u32(
		HS.h0,
		HS.sig,
		s.numSig * s.sigSize,
		at.patchLoc,
		at.patchSig,
		at.meta,
		12,
		at.numSig,
		at.load,
		loadSize,
	);
	for (let i = 0; i < s.numSig * s.sigSize; i++) w.buf[HS.sig + i] = (i / s.sigSize) | 0; // signature i is filled with i
	w.u32(at.patchLoc, s.patchLoc).u32(at.patchSig, 0).u32(at.meta, s.fuseVer, 1, 3).u32(at.numSig, s.numSig);
	w.u32(at.load, 0, 0x100, s.osDataOffset, s.osDataSize, s.numApps);
	for (let i = 0; i < s.numApps; i++) {
		const a = at.load + 20 + i * s.appEntry;
		w.u32(a, 0x100 * i, 0x80);
		if (s.appEntry === 16) w.u32(a + 8, 0x100, 0);
	}
	return { bytes: w.buf, at: { ...at, dataOffset } };
}

describe('nvfw_bin_hdr', () => {
	it('reads the six fields and checks the magic and the payload range', () => {
		const w = new Writer(64).u32(0, 0x10de, 1, 0x100, 0x18, 0x20, 0x20);
		expect(parseBinHeader(w.buf)).toEqual({
			magic: 0x10de,
			version: 1,
			binSize: 0x100,
			headerOffset: 0x18,
			dataOffset: 0x20,
			dataSize: 0x20,
			fileSize: 64,
		});
		expectFormatError(() => parseBinHeader(new Writer(64).u32(0, 0x10df).buf), 'nvfw_bin_hdr.bin_magic', 0);
		expectFormatError(
			() => parseBinHeader(new Writer(64).u32(0, 0x10de, 1, 0, 0x18, 0x20, 0x21).buf),
			'nvfw_bin_hdr.data_offset+data_size',
			16,
		);
		expectFormatError(
			() => parseBinHeader(new Writer(64).u32(0, 0x10de, 1, 0, 0x40, 0x20, 0).buf),
			'nvfw_bin_hdr.header_offset',
			12,
		);
		expectFormatError(() => parseBinHeader(new Uint8Array(23)), 'nvfw_bin_hdr', 0);
	});
});

describe('HS header v2 (booter_load, booter_unload, scrubber)', () => {
	it('parses metadata, load header, apps, signatures and derives pkc_data_offset', () => {
		const { bytes, at } = buildHs({ numApps: 2 });
		const hs = parseHsFirmware(bytes, 'booter');
		expect(hs.meta).toEqual({ fuseVer: 1, engineIdMask: 1, ucodeId: 3 });
		expect(hs.header.sigProdOffset).toBe(HS.sig);
		expect(hs.numSignatures).toBe(2);
		expect(hs.signatureSize).toBe(384);
		expect(hs.signatures.map((s) => [s.length, s[0], s[383]])).toEqual([
			[384, 0, 0],
			[384, 1, 1],
		]);
		expect(hs.signatures[1]?.buffer).toBe(bytes.buffer);
		expect(hs.load).toMatchObject({
			osCodeOffset: 0,
			osCodeSize: 0x100,
			osDataOffset: 0x100,
			osDataSize: 0x100,
			numApps: 2,
			appEntrySize: 16,
		});
		expect(hs.load.apps).toEqual([
			{ offset: 0, size: 0x80, dataOffset: 0x100, dataSize: 0 },
			{ offset: 0x100, size: 0x80, dataOffset: 0x100, dataSize: 0 },
		]);
		expect(hs.patchLocation).toBe(0x110);
		expect(hs.brom).toEqual({ pkcDataOffset: 0x10, engineIdMask: 1, ucodeId: 3 });
		expect(hs.payload.byteOffset).toBe(at.dataOffset);
	});

	it("accepts nova's 8-byte app entries, derived from header_size", () => {
		const hs = parseHsFirmware(buildHs({ appEntry: 8, numApps: 3 }).bytes);
		expect(hs.load.appEntrySize).toBe(8);
		expect(hs.load.apps.map((a) => [a.offset, a.size, a.dataOffset])).toEqual([
			[0, 0x80, null],
			[0x100, 0x80, null],
			[0x200, 0x80, null],
		]);
	});

	it('an unsigned file has no signatures', () => {
		const hs = parseHsFirmware(buildHs({ numSig: 0 }).bytes);
		expect(hs.signatures).toEqual([]);
		expect(selectBooterSignature(hs, 1)).toBeNull();
	});

	it('names the field and offset of each inconsistency', () => {
		const h0 = HS.h0;
		// sig_prod_size not a multiple of num_sig.
		const a = buildHs();
		new DataView(a.bytes.buffer).setUint32(a.at.numSig as number, 5, true);
		expectFormatError(() => parseHsFirmware(a.bytes), 'nvfw_hs_header_v2.sig_prod_size', h0 + 4);
		// patch location before the DMEM image: pkc_data_offset would be negative.
		expectFormatError(
			() => parseHsFirmware(buildHs({ patchLoc: 0x80 }).bytes),
			'hs patch_loc',
			buildHs().at.patchLoc as number,
		);
		// patch location + signature beyond the payload.
		expectFormatError(
			() => parseHsFirmware(buildHs({ patchLoc: 0x300 - 383 }).bytes),
			'hs patch_loc',
			buildHs().at.patchLoc as number,
		);
		// os data beyond the payload.
		const b = buildHs({ osDataSize: 0x201 });
		expectFormatError(
			() => parseHsFirmware(b.bytes),
			'nvfw_hs_load_header_v2.os_data_offset+os_data_size',
			(b.at.load as number) + 8,
		);
		// num_apps that does not match header_size (36 = 20 + 16 × 1, or 20 + 8 × 2; 3 fits neither).
		const c = buildHs();
		new DataView(c.bytes.buffer).setUint32((c.at.load as number) + 16, 3, true);
		expectFormatError(
			() => parseHsFirmware(c.bytes),
			'nvfw_hs_load_header_v2.num_apps',
			(c.at.load as number) + 16,
		);
		// A pointer field that leads outside the file is reported at the pointer.
		const d = buildHs();
		new DataView(d.bytes.buffer).setUint32(h0 + 24, 0xfffffff0, true);
		expectFormatError(() => parseHsFirmware(d.bytes), /num_sig/, h0 + 24);
		// ucode_id must fit the 8-bit BROM register.
		const e = buildHs();
		new DataView(e.bytes.buffer).setUint32((e.at.meta as number) + 8, 0x100, true);
		expectFormatError(() => parseHsFirmware(e.bytes), 'hs metadata.ucode_id', (e.at.meta as number) + 8);
	});
});

describe('booter rule helpers', () => {
	const fake = (fuseVer: number, count: number) =>
		({
			meta: { fuseVer, engineIdMask: 1, ucodeId: 3 },
			signatures: Array.from({ length: count }, (_, i) => Uint8Array.of(i)),
			signaturesOffset: 0x3c,
			signatureSize: 1,
			patchLocation: 0x8a10,
		}) satisfies Pick<
			HsFirmware,
			'meta' | 'signatures' | 'signaturesOffset' | 'signatureSize' | 'patchLocation'
		>;

	it('picks the last signature for fuse version 0, else index fuse_ver − fuse', () => {
		expect(selectBooterSignature(fake(3, 3), 0)).toMatchObject({
			index: 2,
			fileOffset: 0x3e,
			patchLocation: 0x8a10,
		});
		expect(selectBooterSignature(fake(3, 3), 3)?.index).toBe(0);
		expect(selectBooterSignature(fake(3, 3), 1)?.index).toBe(2);
		expect(selectBooterSignature(fake(3, 3), 2)?.bytes[0]).toBe(1);
		for (const bad of [4, -1]) {
			expect(() => selectBooterSignature(fake(3, 3), bad)).toThrow(
				expect.objectContaining({ code: 'FW_SIGNATURE' }),
			);
		}
		// fuse_ver 3 with one signature: only a fuse of 3 (or 0) matches.
		expect(() => selectBooterSignature(fake(3, 1), 2)).toThrow(
			expect.objectContaining({ code: 'FW_SIGNATURE' }),
		);
	});

	it('fuse version = bit length of the low 16 bits', () => {
		expect([0, 1, 2, 3, 0x80, 0xffff, 0x8000, 0x10000, 0x10001].map(fuseVersionFromRegister)).toEqual([
			0, 1, 2, 2, 8, 16, 16, 0, 1,
		]);
	});

	it('fuse version registers: SEC2 0x824140, NVDEC 0x824100, GSP 0x8241c0, + 4 × (ucode_id − 1)', () => {
		expect(fuseVersionRegister(0x0001, 3)).toBe(0x824148);
		expect(fuseVersionRegister(0x0004, 1)).toBe(0x824100);
		expect(fuseVersionRegister(0x0400, 16)).toBe(0x8241c0 + 60);
		expect(() => fuseVersionRegister(0x0002, 1)).toThrow(expect.objectContaining({ code: 'FW_SIGNATURE' }));
		expect(() => fuseVersionRegister(0x0001, 0)).toThrow(expect.objectContaining({ code: 'FW_SIGNATURE' }));
		expect(() => fuseVersionRegister(0x0001, 17)).toThrow(expect.objectContaining({ code: 'FW_SIGNATURE' }));
	});

	it('pkc_data_offset = patch_loc − os_data_offset', () => {
		expect(pkcDataOffsetOf(0x8a10, 0x8a00)).toBe(0x10);
		expect(pkcDataOffsetOf(0x8a00, 0x8a10)).toBe(-0x10);
	});
});

describe('RM_RISCV_UCODE_DESC', () => {
	const build = (words: number, fields: Record<number, number>, payload = 0x1000) => {
		const dataOffset = 0x18 + words * 4;
		const w = new Writer(dataOffset + payload).u32(0, 0x10de, 1, 0, 0x18, dataOffset, payload);
		for (const [i, v] of Object.entries(fields)) w.u32(0x18 + 4 * Number(i), v);
		return w.buf;
	};

	it('reads as many words as the header region holds (14..21)', () => {
		const v4 = parseRiscvFirmware(build(19, { 0: 4, 1: 0, 2: 0x488, 3: 0x488, 4: 0x10, 7: 0x1234, 14: 1 }));
		expect(v4.descWords).toBe(19);
		expect(v4.desc).toMatchObject({
			version: 4,
			bootloaderSize: 0x488,
			bootloaderParamOffset: 0x488,
			appVersion: 0x1234,
			isMonitorEnabled: 1,
		});
		expect(v4.desc.fbReservedSize).toBeUndefined();
		expect(v4.regions.map((r) => r.name)).toEqual(['bootloader', 'bootloaderParam']);
		const v5 = parseRiscvFirmware(build(21, { 0: 5, 9: 0x800, 10: 0x800, 11: 0x400, 19: 0x5000, 20: 1 }));
		expect(v5.desc).toMatchObject({
			version: 5,
			manifestSize: 0x800,
			monitorDataOffset: 0x800,
			fbReservedSize: 0x5000,
			signedAsCode: 1,
		});
		expect(parseRiscvFirmware(build(14, { 0: 1 })).descWords).toBe(14);
	});

	it('rejects a short descriptor and regions outside the payload', () => {
		expectFormatError(() => parseRiscvFirmware(build(13, { 0: 1 })), 'RM_RISCV_UCODE_DESC', 0x18);
		expectFormatError(
			() => parseRiscvFirmware(build(14, { 0: 5, 12: 0xf00, 13: 0x101 })),
			'RM_RISCV_UCODE_DESC.monitorCodeOffset+monitorCodeSize',
			0x18 + 48,
		);
	});
});

describe('generic bootloader (nvfw_bl_desc)', () => {
	const build = (desc: number[], payload = 0x300) =>
		new Writer(0x30 + payload).u32(0, 0x10de, 1, 0x400, 0x18, 0x30, payload).u32(0x18, ...desc).buf;

	it('reads the descriptor and slices code and data', () => {
		const b = build([0xfd, 0, 0, 0x200, 0x200, 0x100]);
		b[0x30] = 0xaa;
		b[0x230] = 0xbb;
		const g = parseGenBootloader(b);
		expect(g.desc).toEqual({
			startTag: 0xfd,
			dmemLoadOff: 0,
			codeOff: 0,
			codeSize: 0x200,
			dataOff: 0x200,
			dataSize: 0x100,
		});
		expect(g.imemAddress).toBe(0xfd00);
		expect([g.code.length, g.code[0], g.data.length, g.data[0]]).toEqual([0x200, 0xaa, 0x100, 0xbb]);
	});

	it('rejects code or data outside the payload', () => {
		expectFormatError(
			() => parseGenBootloader(build([0xfd, 0, 0x200, 0x200, 0, 0])),
			'nvfw_bl_desc.code_off+code_size',
			0x18 + 8,
		);
		expectFormatError(
			() => parseGenBootloader(build([0xfd, 0, 0, 0x100, 0x280, 0x100])),
			'nvfw_bl_desc.data_off+data_size',
			0x18 + 16,
		);
	});
});

describe('ELF reader', () => {
	const sym = (name: number, info: number, shndx: number, value: bigint) => {
		const b = new Uint8Array(24);
		const dv = new DataView(b.buffer);
		dv.setUint32(0, name, true);
		b[4] = info;
		dv.setUint16(6, shndx, true);
		dv.setBigUint64(8, value, true);
		return b;
	};
	const concat = (...parts: Uint8Array[]) => {
		const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
		let o = 0;
		for (const p of parts) {
			out.set(p, o);
			o += p.length;
		}
		return out;
	};
	const gspLike = (extended = false) =>
		buildElf(
			64,
			[
				{ name: '.fwimage', type: 1, data: new Uint8Array(0x100).fill(7) },
				{ name: '.fwversion', type: 1, data: ascii('570.144\0') },
				{ name: '.fwsignature_ga10x', type: 1, data: new Uint8Array(4096).fill(1, 0, 10) },
				{
					name: '.symtab',
					type: 2,
					data: concat(new Uint8Array(24), sym(1, 0x10, 1, 0n), sym(7, 0x10, 0xfff1, 0x100n)),
					link: 5,
					entsize: 24,
				},
				{ name: '.strtab', type: 3, data: ascii('\0start\0_binary_x_size\0') },
			],
			{ extended },
		);

	it('matches readelf on a synthetic ELF64, also with extended section numbering', () => {
		const dir = mkdtempSync(join(tmpdir(), 'gspkit-elf-'));
		try {
			for (const extended of [false, true]) {
				const bytes = gspLike(extended);
				const p = join(dir, `x${extended}.elf`);
				writeFileSync(p, bytes);
				const elf = parseElf(bytes, p);
				expect(elf.header.shnum).toBe(7);
				expect(elf.header.shstrndx).toBe(6);
				expect(elf.sections.map((s) => [s.index, s.name, s.offset, s.size])).toEqual(
					readelfSections(p).map((s) => [s.index, s.name, s.offset, s.size]),
				);
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('reads symbols and the GSP container fields of a synthetic file', () => {
		const elf = parseElf(gspLike());
		const symtab = elf.sections.find((s) => s.name === '.symtab');
		if (symtab === undefined) throw new Error('no symtab');
		const t = parseElfSymbols(elf, symtab);
		expect(t.count).toBe(3);
		expect(t.symbols.map((s) => [s.name, s.bind, s.shndx, s.value])).toEqual([
			['', 0, 0, 0n],
			['start', 1, 1, 0n],
			['_binary_x_size', 1, 0xfff1, 0x100n],
		]);
		const g = parseGspElf(gspLike());
		expect(g.fwVersion?.text).toBe('570.144');
		expect(g.imageSizeSymbol).toBe(0x100n);
		expect(g.signatures).toMatchObject([
			{ family: 'ga10x', chipFamily: 'ga10x', confidentialCompute: false, size: 4096, usedBytes: 10 },
		]);
		expect(g.image).toMatchObject({ size: 0x100, format: 'raw', inner: null });
		expect(elfSectionData(elf, symtab).length).toBe(72);
	});

	it('names the field and offset of structural errors', () => {
		const ok = gspLike();
		const dv = (b: Uint8Array) => new DataView(b.buffer);
		const shoff = Number(dv(ok).getBigUint64(0x28, true));
		let b = ok.slice();
		b[5] = 2;
		expectFormatError(() => parseElf(b), 'e_ident[EI_DATA]', 5);
		b = ok.slice();
		dv(b).setUint16(0x3a, 40, true);
		expectFormatError(() => parseElf(b), 'e_shentsize', 0x3a);
		b = ok.slice();
		dv(b).setUint16(0x3c, 200, true);
		expectFormatError(() => parseElf(b), 'section header table (e_shoff + e_shnum × e_shentsize)', 0x3c);
		// Section 1 (.fwimage) grows past the end of the file: reported at its sh_offset field.
		b = ok.slice();
		dv(b).setBigUint64(shoff + 64 + 0x20, BigInt(b.length), true);
		expectFormatError(() => parseElf(b), 'section[1].sh_offset+sh_size', shoff + 64 + 0x18);
		// A name offset past the string table.
		b = ok.slice();
		dv(b).setUint32(shoff + 2 * 64, 0x1000, true);
		expectFormatError(() => parseElf(b), 'section[2].sh_name', shoff + 2 * 64);
		// Extended numbering (e_shnum = 0) through an e_shoff past the end: reported at e_shoff, in the file
		// (found by the mutation property: the error used to name the out-of-file section-0 position).
		b = Uint8Array.from(gspLike(true));
		dv(b).setBigUint64(0x28, BigInt(b.length + 0x1000), true);
		expectFormatError(() => parseElf(b), 'section[0] (extended e_shnum/e_shstrndx)', 0x28);
		b = Uint8Array.from(gspLike(true));
		dv(b).setBigUint64(0x28, BigInt(b.length - 8), true);
		expectFormatError(() => parseElf(b), 'section[0] (extended e_shnum/e_shstrndx)', 0x28);
		// GSP-specific checks.
		b = ok.slice();
		dv(b).setUint16(0x12, 0x3e, true);
		expectFormatError(() => parseGspElf(b), 'e_machine', 0x12);
		const noVersionNul = buildElf(64, [
			{ name: '.fwimage', type: 1, data: new Uint8Array(16) },
			{ name: '.fwversion', type: 1, data: ascii('570.144') },
			{ name: '.fwsignature_ga10x', type: 1, data: new Uint8Array(16) },
		]);
		expectFormatError(() => parseGspElf(noVersionNul), 'section[2] .fwversion', 64 + 16);
		const noSig = buildElf(64, [{ name: '.fwimage', type: 1, data: new Uint8Array(16) }]);
		expectFormatError(() => parseGspElf(noSig), '.fwsignature_*', Number(dv(noSig).getBigUint64(0x28, true)));
	});
});

describe('FMC (ELF32 with hash, signature, publickey, image)', () => {
	const build = (sig = 96, key = 97, corrupt = false) => {
		const image = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
		const hash = new Uint8Array(createHash('sha384').update(image).digest());
		const signature = new Uint8Array(sig).fill(0x29);
		const publickey = new Uint8Array(key).fill(0x55);
		publickey[0] = 0x04;
		const sections = [
			{ name: 'hash', type: 1, data: hash, info: crc32(hash) },
			{ name: 'signature', type: 1, data: signature, info: crc32(signature) },
			{ name: 'publickey', type: 1, data: publickey, info: crc32(publickey) },
			{ name: 'image', type: 1, data: image, info: crc32(image) },
		];
		const bytes = buildElf(32, sections, { machine: 0, type: 0 });
		const at = 52 + 48 + 96 + 97 + 5; // a byte inside the image section
		if (corrupt) bytes[at] = (bytes[at] as number) ^ 1;
		return bytes;
	};

	it('crc32 is the zlib CRC-32', () => {
		expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
		expect(crc32(new Uint8Array(0))).toBe(0);
	});

	it('parses, verifies CRCs and the SHA-384, and infers the scheme', () => {
		const f = parseFmc(build());
		expect([f.hash.size, f.signature.size, f.publicKey.size, f.image.size]).toEqual([48, 96, 97, 1000]);
		expect([f.crcOk, f.hashOk, f.scheme]).toEqual([true, true, 'ecdsa-p384']);
		expect(parseFmc(build(384, 384)).scheme).toBe('rsa3072');
		expect(parseFmc(build(64, 64)).scheme).toBe('unknown');
	});

	it('a flipped image byte fails the CRC check (or is reported with verify off)', () => {
		const bad = build(96, 97, true);
		const shoff = new DataView(bad.buffer).getUint32(0x20, true);
		// image is section 4: its sh_info field is reported.
		const e = expectFormatError(
			() => parseFmc(bad),
			'section "image".sh_info (CRC-32 of the contents)',
			shoff + 4 * 40 + 0x1c,
		);
		expect(e.message).toContain('CRC-32');
		const f = parseFmc(bad, 'x', { verify: false });
		expect([f.crcOk, f.hashOk]).toEqual([false, false]);
	});

	it('requires the four sections and a 48-byte hash', () => {
		const noImage = buildElf(32, [{ name: 'hash', type: 1, data: new Uint8Array(48) }], {
			machine: 0,
			type: 0,
		});
		expectFormatError(
			() => parseFmc(noImage),
			/section "signature"/,
			new DataView(noImage.buffer).getUint32(0x20, true),
		);
	});
});

describe('firmware names and identification', () => {
	it('reads kind, chip and version from paths', () => {
		expect(parseFirmwareName('/lib/firmware/nvidia/ga102/gsp/booter_load-570.144.bin')).toEqual({
			kind: 'booter_load',
			chip: 'ga102',
			version: '570.144',
		});
		expect(parseFirmwareName('nvidia\\tu102\\gsp\\gen_bootloader-570.144.bin')).toEqual({
			kind: 'gen_bootloader',
			chip: 'tu102',
			version: '570.144',
		});
		expect(parseFirmwareName('x/nvidia/tu116/acr/bl.bin')).toEqual({
			kind: 'gen_bootloader',
			chip: 'tu116',
			version: null,
		});
		expect(parseFirmwareName('gsp-535.113.01.bin')).toEqual({
			kind: 'gsp',
			chip: null,
			version: '535.113.01',
		});
		expect(parseFirmwareName('/tmp/firmware.bin')).toEqual({ kind: null, chip: null, version: null });
		expect(parseFirmwareName('nvidia/ga102/gsp/unknown-570.144.bin').kind).toBeNull();
	});

	it('falls back to the contents when the name says nothing', () => {
		const hs = identifyFirmwareFile('blob', buildHs().bytes);
		expect([hs.kind, hs.kindSource, hs.chip, hs.version]).toEqual(['hs', 'content', null, null]);
		const gb = new Writer(0x330)
			.u32(0, 0x10de, 1, 0x400, 0x18, 0x30, 0x300)
			.u32(0x18, 0xfd, 0, 0, 0x200, 0x200, 0x100).buf;
		expect(identifyFirmwareFile('blob', gb).kind).toBe('gen_bootloader');
		expectFormatError(() => identifyFirmwareFile('blob', ascii('hello world')), 'kind', 0);
	});

	it('warns when .fwversion disagrees with the name or the chip has no signature section', () => {
		const elf = buildElf(64, [
			{ name: '.fwimage', type: 1, data: new Uint8Array(16) },
			{ name: '.fwversion', type: 1, data: ascii('535.113.01\0') },
			{ name: '.fwsignature_tu10x', type: 1, data: new Uint8Array(16) },
		]);
		const id = identifyFirmwareFile('nvidia/ga102/gsp/gsp-570.144.bin', elf);
		expect(id.warnings).toEqual([
			'.fwversion says 535.113.01 but the file name says 570.144',
			'no .fwsignature_ga10x section for ga102 (has tu10x)',
		]);
		expect(identifyFirmwareFile('gsp.elf', elf).version).toBe('535.113.01');
	});

	it('firmware sets per chip', () => {
		const kinds = (c: string, v = '570.144') =>
			firmwareSetSpec(c, v)?.map((s) => `${s.kind}${s.optional ? '?' : ''}`);
		expect(kinds('ga102')).toEqual(['booter_load', 'booter_unload', 'bootloader', 'gsp']);
		expect(kinds('TU117')).toEqual(['booter_load', 'booter_unload', 'bootloader', 'gsp', 'gen_bootloader']);
		expect(kinds('ga100')).toContain('gen_bootloader');
		expect(kinds('ad104')).toEqual(['booter_load', 'booter_unload', 'bootloader', 'gsp', 'scrubber?']);
		expect(kinds('gb205')).toEqual(['bootloader', 'fmc', 'gsp']);
		expect(firmwareSetSpec('gv100', '570.144')).toBeUndefined();
		expect(firmwareSetSpec('tu102', '535.113.01')?.find((s) => s.kind === 'gen_bootloader')?.names).toEqual([
			'nvidia/tu102/gsp/gen_bootloader-535.113.01.bin',
			'nvidia/tu102/acr/bl.bin',
		]);
	});
});

it('binutils is available for the independent readings', () => {
	expect(execFileSync('readelf', ['--version'], { encoding: 'utf8' })).toMatch(/readelf/);
});
