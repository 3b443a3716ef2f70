/**
 * Every published firmware file parses, and what the parsers report matches independent readings:
 * `readelf` for the ELF containers, raw DataView reads for the bin-header files.
 */

import {
	closeSync,
	existsSync,
	lstatSync,
	openSync,
	readFileSync,
	readlinkSync,
	readSync,
	realpathSync,
	statSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
	availableBranches,
	type FirmwareFileData,
	firmwareChip,
	identifyFirmwareFile,
	KNOWN_FIRMWARE_VERSIONS,
	type LoadedFirmware,
	loadFirmwareFile,
	locateFirmwareSet,
	parseHsFirmware,
	probeFirmwareSet,
	readFirmwareFile,
	selectBooterSignature,
} from '../src/firmware/index.ts';
import {
	findRealFirmware,
	NO_FIRMWARE_MESSAGE,
	rawU32,
	readelfHeader,
	readelfSections,
	readelfSymbolCount,
	realGspFiles,
} from './firmware-fixtures.ts';

const fw = findRealFirmware();
const files = fw === null ? [] : realGspFiles(fw.nvidia);

// Read each distinct file once (the set is full of symbolic and hard links), keyed by device and inode;
// every path is still identified on its own, since the path names the chip.
const bytesByInode = new Map<string, FirmwareFileData>();
const parsed = new Map<string, LoadedFirmware>();
async function load(path: string): Promise<LoadedFirmware> {
	const st = statSync(path);
	const key = `${st.dev}:${st.ino}`;
	let file = bytesByInode.get(key);
	if (file === undefined) {
		file = await readFirmwareFile(path);
		bytesByInode.set(key, file);
	}
	const lf: LoadedFirmware = {
		...identifyFirmwareFile(path, file.bytes),
		file: {
			...file,
			path,
			realPath: realpathSync(path),
			linkTarget: lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null,
		},
	};
	parsed.set(path, lf);
	return lf;
}

/** `size` bytes at `offset` of a file, read without loading the whole file. */
function readAt(path: string, offset: number, size: number): Buffer {
	const fd = openSync(path, 'r');
	try {
		const b = Buffer.alloc(size);
		readSync(fd, b, 0, size, offset);
		return b;
	} finally {
		closeSync(fd);
	}
}

describe.skipIf(fw === null)(`real firmware (${fw?.root ?? NO_FIRMWARE_MESSAGE})`, () => {
	it('has the published files of both versions', () => {
		expect(files.length).toBeGreaterThan(150);
		for (const v of KNOWN_FIRMWARE_VERSIONS) expect(files.some((f) => f.name === `gsp-${v}.bin`)).toBe(true);
	});

	it('parses every file in nvidia/*/gsp/ with the kind, chip and version its name gives', async () => {
		for (const f of files) {
			const lf = await load(f.path);
			if (!lf.file.bytes.length) throw new Error('empty');
			const [kind, version] = f.name.replace(/\.bin$/, '').split('-');
			expect(lf.kind, f.path).toBe(kind);
			expect(lf.chip).toBe(f.chip);
			expect(lf.version).toBe(version);
			expect(lf.kindSource).toBe('name');
			expect(lf.warnings, f.path).toEqual([]);
			expect(lf.size).toBe(statSync(f.path).size);
		}
		expect(parsed.size).toBe(files.length);
		// The loader itself reports symlinks and their resolved paths.
		const link = files.find((f) => f.chip === 'ad102' && f.name === 'gsp-570.144.bin') as { path: string };
		const direct = await loadFirmwareFile(link.path);
		expect(direct.file.linkTarget).toBe(readlinkSync(link.path));
		expect(direct.file.realPath).toBe(realpathSync(link.path));
		expect(direct.chip).toBe('ad102');
	});

	it('bin-header files: header fields equal raw reads; payload ends at the file end; bin_size is the size rounded up to 256', async () => {
		let checked = 0;
		for (const f of files) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind === 'gsp' || lf.kind === 'fmc') continue;
			const raw = new Uint8Array(readFileSync(f.path));
			const bin = lf.content.bin;
			expect(rawU32(raw, 0)).toBe(0x10de);
			expect([bin.magic, bin.version, bin.binSize, bin.headerOffset, bin.dataOffset, bin.dataSize]).toEqual(
				[0, 4, 8, 12, 16, 20].map((o) => rawU32(raw, o)),
			);
			const dataOffset = rawU32(raw, 16);
			const dataSize = rawU32(raw, 20);
			expect(dataOffset + dataSize).toBeLessThanOrEqual(raw.length);
			// In every published file the payload runs to the end of the file…
			expect(dataOffset + dataSize).toBe(raw.length);
			// …and bin_size is NOT the file size but the file size rounded up to 256 bytes.
			expect(rawU32(raw, 8)).toBe(Math.ceil(raw.length / 256) * 256);
			expect(lf.content.payload.length).toBe(dataSize);
			expect(lf.content.payload[0]).toBe(raw[dataOffset]);
			checked++;
		}
		expect(checked).toBeGreaterThan(100);
	});

	it('HS files: signature tables and boot ROM parameters per family, from raw reads', async () => {
		for (const f of files) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'booter_load' && lf.kind !== 'booter_unload' && lf.kind !== 'scrubber') continue;
			const raw = new Uint8Array(readFileSync(f.path));
			const h0 = rawU32(raw, 12);
			const hs = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => rawU32(raw, h0 + 4 * i)) as number[];
			const [sigProdOffset, sigProdSize, patchLocOff, patchSigOff, metaOff, , numSigOff, loadOff, loadSize] =
				hs as [number, number, number, number, number, number, number, number, number];
			const numSig = rawU32(raw, numSigOff);
			const patchLoc = rawU32(raw, patchLocOff);
			const c = lf.content;
			expect(c.numSignatures).toBe(numSig);
			expect(c.signatures.length).toBe(numSig);
			expect(c.signatureSize * numSig).toBe(sigProdSize);
			expect(c.patchLocation).toBe(patchLoc);
			expect(c.patchSignatureIndex).toBe(rawU32(raw, patchSigOff));
			expect(c.signaturesOffset).toBe(sigProdOffset + rawU32(raw, patchSigOff));
			expect(c.signatures[0]?.[0]).toBe(raw[sigProdOffset + rawU32(raw, patchSigOff)]);
			expect([c.meta.fuseVer, c.meta.engineIdMask, c.meta.ucodeId]).toEqual(
				[0, 4, 8].map((o) => rawU32(raw, metaOff + o)),
			);
			expect(c.load.numApps).toBe(rawU32(raw, loadOff + 16));
			// header_size = 20 + 16 × num_apps: four u32 per app, as nouveau declares it.
			expect(loadSize).toBe(20 + 16 * c.load.numApps);
			expect(c.load.appEntrySize).toBe(16);
			expect(c.load.apps[0]?.offset).toBe(rawU32(raw, loadOff + 20));
			expect(c.load.apps[0]?.size).toBe(rawU32(raw, loadOff + 24));
			expect(c.brom.pkcDataOffset).toBe(patchLoc - rawU32(raw, loadOff + 8));
			// Facts per family (nova/nouveau/tinygrad; tinygrad hard-codes pkc 0x10, engine 1, ucode 3 for GA102).
			const family = firmwareChip(f.chip)?.signatureFamily;
			if (family === 'tu10x' || family === 'tu11x') {
				expect([numSig, c.signatureSize]).toEqual([1, 16]);
			} else if (family === 'ga100') {
				expect([numSig, c.signatureSize, c.meta.ucodeId]).toEqual([1, 384, 3]);
			} else {
				expect([numSig, c.signatureSize, c.meta.fuseVer, c.meta.engineIdMask]).toEqual([2, 384, 1, 1]);
				expect(c.meta.ucodeId).toBe(lf.kind === 'scrubber' ? 0xd : 3);
				if (lf.kind !== 'scrubber') expect(c.brom.pkcDataOffset).toBe(0x10);
			}
		}
	});

	it('booter signature choice on GA102: fuse 0 → last, fuse 1 → first, fuse 2 → no signature', () => {
		const p = join((fw as { nvidia: string }).nvidia, 'ga102/gsp/booter_load-570.144.bin');
		const hs = parseHsFirmware(new Uint8Array(readFileSync(p)), p);
		expect(selectBooterSignature(hs, 0)?.index).toBe(1);
		expect(selectBooterSignature(hs, 1)?.index).toBe(0);
		expect(selectBooterSignature(hs, 1)?.fileOffset).toBe(hs.header.sigProdOffset);
		expect(() => selectBooterSignature(hs, 2)).toThrow(expect.objectContaining({ code: 'FW_SIGNATURE' }));
	});

	it('bootloader (RM_RISCV_UCODE_DESC): version 4 with 19 words on TU10x/GA100, version 5 with 21 elsewhere', async () => {
		for (const f of files.filter((x) => x.name.startsWith('bootloader-'))) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'bootloader') throw new Error('kind');
			const raw = new Uint8Array(readFileSync(f.path));
			const h0 = rawU32(raw, 12);
			const words = (rawU32(raw, 16) - h0) / 4;
			expect(lf.content.descWords).toBe(words);
			expect(lf.content.desc.version).toBe(rawU32(raw, h0));
			expect(lf.content.desc.appVersion).toBe(rawU32(raw, h0 + 28));
			expect(lf.content.desc.monitorCodeOffset).toBe(rawU32(raw, h0 + 48));
			expect(lf.content.desc.monitorCodeSize).toBe(rawU32(raw, h0 + 52));
			const old = ['tu', 'ga100'].some((p) => f.chip.startsWith(p));
			expect([lf.content.desc.version, words]).toEqual(old ? [4, 19] : [5, 21]);
			if (!old) expect(lf.content.desc.fbReservedSize).toBe(rawU32(raw, h0 + 76));
		}
	});

	it('gen_bootloader: nvfw_bl_desc from raw reads; code sits in the top 64 KiB tag block', async () => {
		for (const f of files.filter((x) => x.name.startsWith('gen_bootloader-'))) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'gen_bootloader') throw new Error('kind');
			const raw = new Uint8Array(readFileSync(f.path));
			const h0 = rawU32(raw, 12);
			const d = lf.content.desc;
			expect([d.startTag, d.dmemLoadOff, d.codeOff, d.codeSize, d.dataOff, d.dataSize]).toEqual(
				[0, 4, 8, 12, 16, 20].map((o) => rawU32(raw, h0 + o)),
			);
			expect(d.startTag).toBe(0xfd);
			expect(lf.content.imemAddress + d.codeSize).toBeLessThanOrEqual(0x10000);
			expect(lf.content.code.length).toBe(d.codeSize);
		}
	});

	it('GSP ELF containers: header, sections and symbol count equal readelf; .fwversion is the version string', async () => {
		const seen = new Set<string>();
		for (const f of files.filter((x) => x.name.startsWith('gsp-'))) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'gsp') throw new Error('kind');
			const real = realpathSync(f.path);
			const st = statSync(real);
			if (seen.has(`${st.dev}:${st.ino}`)) continue;
			seen.add(`${st.dev}:${st.ino}`);
			const h = readelfHeader(real);
			expect(h.Class).toBe('ELF64');
			expect(h.Machine).toBe('RISC-V');
			expect(h.Type).toMatch(/^REL/);
			expect(lf.content.elf.header.shoff).toBe(Number.parseInt(h['Start of section headers'] as string, 10));
			const sections = readelfSections(real);
			expect(lf.content.elf.sections.map((s) => [s.index, s.name, s.offset, s.size])).toEqual(
				sections.map((s) => [s.index, s.name, s.offset, s.size]),
			);
			const img = sections.find((s) => s.name === '.fwimage');
			expect([lf.content.image.offset, lf.content.image.size]).toEqual([img?.offset, img?.size]);
			expect(lf.content.imageSizeSymbol).toBe(BigInt(img?.size ?? -1));
			expect(lf.content.symbols.count).toBe(readelfSymbolCount(real));
			// .fwversion: decode the section's bytes found through readelf's offset, independently.
			const ver = sections.find((s) => s.name === '.fwversion');
			const raw = readAt(real, ver?.offset ?? 0, ver?.size ?? 0);
			const text = raw.toString('latin1').replace(/\0+$/, '');
			expect(lf.content.fwVersion?.text).toBe(text);
			expect(text).toBe(lf.version);
			expect(lf.content.fwVersion?.size).toBe(text.length + 1);
			// Every signature section is one 4 KiB block.
			const sigs = sections.filter((s) => s.name.startsWith('.fwsignature_'));
			expect(lf.content.signatures.map((s) => [s.section, s.offset, s.size])).toEqual(
				sigs.map((s) => [s.name, s.offset, 4096]),
			);
			// Views, not copies.
			expect(lf.content.image.data.buffer).toBe(lf.file.bytes.buffer);
		}
		expect(seen.size).toBeGreaterThanOrEqual(4);
	});

	it('GA102 gsp-570.144.bin: .fwimage is 0x3c99000 bytes at 0x40, raw (not ELF), with 7 signature families', async () => {
		const p = join((fw as { nvidia: string }).nvidia, 'ga102/gsp/gsp-570.144.bin');
		const lf = parsed.get(p) ?? (await load(p));
		if (lf.kind !== 'gsp') throw new Error('kind');
		expect(lf.size).toBe(63571696);
		expect(lf.content.image.size).toBe(0x3c99000);
		expect(lf.content.image.offset).toBe(0x40);
		expect(lf.content.image.format).toBe('raw');
		expect(lf.content.signatures.map((s) => s.family)).toEqual([
			'gb20x',
			'cc_gb10x',
			'gb10x',
			'cc_gh100',
			'gh100',
			'ad10x',
			'ga10x',
		]);
		expect(lf.content.buildId).toMatch(/^[0-9a-f]{40}$/);
	});

	it('TU10x GSP images hold an inner ELF64 RISC-V executable', async () => {
		const p = join((fw as { nvidia: string }).nvidia, 'tu102/gsp/gsp-570.144.bin');
		const lf = parsed.get(p) ?? (await load(p));
		if (lf.kind !== 'gsp') throw new Error('kind');
		expect(lf.content.image.format).toBe('elf');
		expect(lf.content.image.inner?.header.machine).toBe(0xf3);
		expect(lf.content.image.inner?.header.type).toBe(2);
	});

	it("each chip's gsp file (through its symlink) has the chip's signature family", async () => {
		for (const f of files.filter((x) => x.name.startsWith('gsp-'))) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'gsp') throw new Error('kind');
			const families = lf.content.signatures.map((s) => s.family);
			expect(families, f.path).toContain(firmwareChip(f.chip)?.signatureFamily);
		}
		// The reference's families: tu10x (TU10x and GA100), tu11x, ga10x, ad10x; GA100's own section exists too.
		const tu = parsed.get(join((fw as { nvidia: string }).nvidia, 'ga100/gsp/gsp-535.113.01.bin'));
		if (tu?.kind !== 'gsp') throw new Error('kind');
		expect(tu.content.signatures.map((s) => s.family)).toEqual(['ga100', 'tu11x', 'tu10x']);
	});

	it('FMC files: ELF32 sections equal readelf; hash is SHA-384 of image; CRCs in sh_info', async () => {
		for (const f of files.filter((x) => x.name.startsWith('fmc-'))) {
			const lf = parsed.get(f.path) ?? (await load(f.path));
			if (lf.kind !== 'fmc') throw new Error('kind');
			const sections = readelfSections(f.path);
			expect(readelfHeader(f.path).Class).toBe('ELF32');
			expect(lf.content.elf.sections.map((s) => [s.name, s.offset, s.size])).toEqual(
				sections.map((s) => [s.name, s.offset, s.size]),
			);
			expect(lf.content.hashOk).toBe(true);
			expect(lf.content.crcOk).toBe(true);
			expect(lf.content.hash.size).toBe(48);
			expect(lf.content.scheme).toBe(f.chip === 'gh100' ? 'rsa3072' : 'ecdsa-p384');
		}
	});

	it('locator on the real tree: complete sets per chip and branch', async () => {
		const { root, nvidia } = fw as { root: string; nvidia: string };
		const opts = { path: root, onlyPath: true };
		// The Debian tree has nvidia/<chip>/acr/bl.bin, which 535.113.01 Turing/GA100 need as gen_bootloader;
		// a cache that kept only nvidia/*/gsp/ does not.
		const hasAcrBl = existsSync(join(nvidia, 'tu102/acr/bl.bin'));
		const both = ['535.113.01', '570.144'];
		const expected: Record<string, string[]> = {};
		for (const c of ['tu102', 'tu104', 'tu106', 'tu116', 'tu117', 'ga100'])
			expected[c] = hasAcrBl ? both : ['570.144'];
		for (const c of [
			'ga102',
			'ga103',
			'ga104',
			'ga106',
			'ga107',
			'ad102',
			'ad103',
			'ad104',
			'ad106',
			'ad107',
		]) {
			expected[c] = both;
		}
		for (const c of ['gh100', 'gb100', 'gb102', 'gb202', 'gb203', 'gb205', 'gb206', 'gb207'])
			expected[c] = ['570.144'];
		for (const [chip, versions] of Object.entries(expected)) {
			expect(await availableBranches(chip, KNOWN_FIRMWARE_VERSIONS, opts), chip).toEqual(versions);
		}
		const tu = await probeFirmwareSet('tu116', '535.113.01', opts);
		if (hasAcrBl) {
			// No gen_bootloader-535 exists: the set falls back to acr/bl.bin, as nouveau's r535 path loads it.
			expect(tu.files.find((f) => f.kind === 'gen_bootloader')?.name).toBe('nvidia/tu116/acr/bl.bin');
		} else {
			expect(tu.missing).toEqual([
				{
					kind: 'gen_bootloader',
					names: ['nvidia/tu116/gsp/gen_bootloader-535.113.01.bin', 'nvidia/tu116/acr/bl.bin'],
				},
			]);
		}
		const tu570 = await locateFirmwareSet('tu116', '570.144', opts);
		expect(tu570.byKind.gen_bootloader?.name).toBe('nvidia/tu116/gsp/gen_bootloader-570.144.bin');
		expect(tu570.byKind.gsp?.isSymlink).toBe(true);
		expect(tu570.byKind.gsp?.realPath).toBe(realpathSync(join(nvidia, 'tu102/gsp/gsp-570.144.bin')));
		// Ada's scrubber is optional and only in 570.144.
		expect((await locateFirmwareSet('ad102', '570.144', opts)).byKind.scrubber).toBeDefined();
		expect((await locateFirmwareSet('ad102', '535.113.01', opts)).byKind.scrubber).toBeUndefined();
		const gh = await probeFirmwareSet('gh100', '535.113.01', opts);
		expect(gh.missing.map((m) => m.kind)).toEqual(['bootloader', 'fmc', 'gsp']);
	});
});
