import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REAL_FIRMWARE_TABLE } from '../src/firmware-models/known-images.generated.ts';
import { BOOT_CHIPS, KnownImages } from '../src/firmware-models/known-images.ts';
import { WPR_META_OFFSETS } from '../src/firmware-models/wpr-meta.ts';
import { elfSectionOf, parseHs, sha, u16, u32, u64 } from './falcon-testkit.ts';

const REAL = join(homedir(), '.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware');
const haveReal = existsSync(join(REAL, 'nvidia/ga102/gsp'));
const read = (rel: string) => new Uint8Array(readFileSync(join(REAL, rel)));

/** Independent ELF section list (name, offset, size). */
function sections(file: Uint8Array): { name: string; offset: number; size: number }[] {
	const shoff = Number(u64(file, 0x28));
	const shnum = u16(file, 0x3c);
	const strOff = Number(u64(file, shoff + 64 * u16(file, 0x3e) + 0x18));
	return Array.from({ length: shnum }, (_, i) => {
		const at = shoff + 64 * i;
		const n = strOff + u32(file, at);
		let e = n;
		while (file[e] !== 0) e++;
		return {
			name: new TextDecoder().decode(file.subarray(n, e)),
			offset: Number(u64(file, at + 0x18)),
			size: Number(u64(file, at + 0x20)),
		};
	});
}

describe.skipIf(!haveReal)('the committed table of published firmware digests', () => {
	it('matches every GSP ELF: .fwimage size, each .fwsignature_* digest, .fwversion', () => {
		expect(REAL_FIRMWARE_TABLE.gsp).toHaveLength(4);
		for (const g of REAL_FIRMWARE_TABLE.gsp) {
			const file = read(g.files[0]!);
			const secs = sections(file);
			expect(secs.find((s) => s.name === '.fwimage')?.size).toBe(g.fwimageSize);
			const sigs = secs.filter((s) => s.name.startsWith('.fwsignature_'));
			expect(Object.keys(g.signatures).sort()).toEqual(sigs.map((s) => s.name).sort());
			for (const s of sigs)
				expect(g.signatures[s.name]).toBe(sha(file.subarray(s.offset, s.offset + s.size)));
			const ver = elfSectionOf(file, '.fwversion')!;
			expect(new TextDecoder().decode(ver).replace(/\0+$/, '')).toBe(g.version);
			for (const other of g.files.slice(1)) expect(statSync(join(REAL, other)).size).toBe(file.length);
		}
	});

	it('matches every booter file of every chip, read with an independent HS parser', () => {
		let checked = 0;
		for (const r of REAL_FIRMWARE_TABLE.booters) {
			for (const chip of r.chips) {
				const hs = parseHs(read(`nvidia/${chip}/gsp/${r.kind}-${r.version}.bin`));
				expect(sha(hs.payload.subarray(hs.app0.offset, hs.app0.offset + hs.app0.len))).toBe(r.app0.sha256);
				expect(sha(hs.payload.subarray(hs.osCodeOffset, hs.osCodeOffset + hs.osCodeSize))).toBe(
					r.osCode.sha256,
				);
				expect(hs.signatures.map(sha)).toEqual(r.signatures);
				expect(hs.patchLoc - hs.osDataOffset).toBe(r.pkcOffset);
				expect([hs.fuseVer, hs.engIdMask, hs.ucodeId]).toEqual([r.fuseVersion, r.engineIdMask, r.ucodeId]);
				checked++;
			}
		}
		expect(checked).toBeGreaterThanOrEqual(40);
	});

	it('covers booter_load, booter_unload and bootloader of every supported chip present in the tree', () => {
		for (const chip of BOOT_CHIPS) {
			for (const version of ['535.113.01', '570.144']) {
				for (const kind of ['booter_load', 'booter_unload'] as const) {
					if (!existsSync(join(REAL, `nvidia/${chip}/gsp/${kind}-${version}.bin`))) continue;
					expect(
						REAL_FIRMWARE_TABLE.booters.some(
							(r) => r.kind === kind && r.version === version && r.chips.includes(chip),
						),
						`${chip} ${kind} ${version}`,
					).toBe(true);
				}
				const bl = `nvidia/${chip}/gsp/bootloader-${version}.bin`;
				if (!existsSync(join(REAL, bl))) continue;
				const file = read(bl);
				const payload = file.subarray(u32(file, 16), u32(file, 16) + u32(file, 20));
				const rec = REAL_FIRMWARE_TABLE.bootloaders.find((b) => b.sha256 === sha(payload));
				expect(rec?.chips, bl).toContain(chip);
				const h = u32(file, 12);
				expect([rec?.codeOffset, rec?.dataOffset, rec?.manifestOffset]).toEqual([
					u32(file, h + 48),
					u32(file, h + 40),
					u32(file, h + 32),
				]);
			}
		}
	});

	it('knows the generic bootloader by its code, whichever file it came from', () => {
		const [g] = REAL_FIRMWARE_TABLE.genBootloaders;
		for (const rel of g!.files) {
			const f = read(rel);
			const hdr = u32(f, 12);
			const code = f.subarray(u32(f, 16) + u32(f, hdr + 8), u32(f, 16) + u32(f, hdr + 8) + u32(f, hdr + 12));
			expect(sha(code)).toBe(g!.codeSha256);
			expect(u32(f, hdr)).toBe(g!.startTag);
		}
	});
});

describe('KnownImages', () => {
	it('registers the real table and looks images up by digest', () => {
		const k = new KnownImages();
		k.addRealTable(REAL_FIRMWARE_TABLE);
		const g = REAL_FIRMWARE_TABLE.gsp[0];
		if (g === undefined) return;
		expect(k.findGspImage(g.fwimageSha256)?.version).toBe(g.version);
		expect(k.findGspImage('0'.repeat(64))).toBeUndefined();
		expect(k.ucodes().filter((u) => u.kind === 'booter_load').length).toBe(
			REAL_FIRMWARE_TABLE.booters.filter((b) => b.kind === 'booter_load').length,
		);
	});

	it('lays booter out per generation: NS OS code at 0 + secure app (TU10x/GA100), secure app only (GA102+)', () => {
		const k = new KnownImages();
		k.addRealTable(REAL_FIRMWARE_TABLE);
		for (const u of k.ucodes().filter((x) => x.kind === 'booter_load')) {
			const legacy = u.chips.some((c) => c.startsWith('tu') || c === 'ga100');
			expect(u.segments.map((s) => s.secure)).toEqual(legacy ? [false, true] : [true]);
			expect(u.entry).toBe(legacy ? 0 : 0x100);
		}
	});

	it('runs providers once, on the first lookup', () => {
		const k = new KnownImages();
		let runs = 0;
		k.addProvider(() => runs++);
		expect(runs).toBe(0);
		k.ucodes();
		k.findBootloader('x');
		expect(runs).toBe(1);
	});
});

describe('GspFwWprMeta offsets', () => {
	const here = dirname(fileURLToPath(import.meta.url));
	for (const abi of ['abi-r535', 'abi-r570']) {
		const path = join(here, '../../', abi, 'src/generated/manifest.json');
		it.skipIf(!existsSync(path))(`agree with the generated ${abi} manifest`, () => {
			const m = JSON.parse(readFileSync(path, 'utf8')) as {
				types: { name: string; size: number; fields: { name: string; offset: number }[] }[];
			};
			const t = m.types.find((x) => x.name === 'GspFwWprMeta')!;
			const u = m.types.find((x) => x.name === 'GspFwWprMeta.@anon0.@anon0')!;
			const anon = t.fields.find((f) => f.name === '@anon0')!.offset;
			expect(t.size).toBe(256);
			for (const [name, off] of Object.entries(WPR_META_OFFSETS)) {
				const f = t.fields.find((x) => x.name === name) ?? u.fields.find((x) => x.name === name);
				expect(f, name).toBeDefined();
				const base = t.fields.includes(f!) ? 0 : anon;
				expect(base + f!.offset, name).toBe(off);
			}
		});
	}
});
