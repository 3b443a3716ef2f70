/**
 * `gspkit-fw inspect`: in-process through `main()` (exit codes, JSON and tables) and once as a real process
 * through the bin shim. Real-firmware cases skip when the firmware set is absent.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.ts';

/** Run main() with captured output. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	let out = '';
	let err = '';
	const code = await main(argv, {
		stdout: { write: (s: string) => (out += s) },
		stderr: { write: (s: string) => (err += s), isTTY: false },
		color: false,
	});
	return { code, out, err };
}

/** The real firmware root, found like the falcon-boot tests do. */
function realNvidia(): string | null {
	const cache = process.env.GSPKIT_CACHE || join(homedir(), '.cache', 'gspkit');
	for (const root of [
		...(process.env.GSPKIT_FIRMWARE_PATH ?? '').split(':').filter((p) => p !== ''),
		'/lib/firmware',
		join(cache, 'firmware'),
		join(homedir(), '.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware'),
	]) {
		if (existsSync(join(root, 'nvidia/ga102/gsp/gsp-570.144.bin'))) return join(root, 'nvidia');
	}
	return null;
}

const nvidia = realNvidia();
const tmp = mkdtempSync(join(tmpdir(), 'gspkit-fw-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A valid generic bootloader: nvfw_bin_hdr + nvfw_bl_desc {0xfd, 0, 0, 0x200, 0x200, 0x100} + payload. */
function genBootloader(): Uint8Array {
	const b = new Uint8Array(0x330);
	const dv = new DataView(b.buffer);
	[0x10de, 1, 0x400, 0x18, 0x30, 0x300, 0xfd, 0, 0, 0x200, 0x200, 0x100].forEach((v, i) => {
		dv.setUint32(4 * i, v, true);
	});
	return b;
}

function put(path: string, bytes: Uint8Array): string {
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path, bytes);
	return path;
}

describe('usage', () => {
	it('exit code 2 for usage errors, 0 for help', async () => {
		expect((await run()).code).toBe(2);
		expect((await run('inspect')).code).toBe(2);
		expect((await run('inspect', '--bogus', tmp)).code).toBe(2);
		expect((await run('frobnicate')).code).toBe(2);
		const missing = await run('inspect', join(tmp, 'does-not-exist.bin'));
		expect(missing.code).toBe(2);
		expect(missing.err).toContain('no such file');
		const notFw = mkdtempSync(join(tmp, 'empty-'));
		expect((await run('inspect', notFw)).code).toBe(2);
		const help = await run('--help');
		expect(help.code).toBe(0);
		expect(help.out).toContain('inspect');
	});
});

describe('synthetic files', () => {
	it('a valid file: JSON with the descriptor; table output names the fields', async () => {
		const p = put(join(tmp, 'ok/nvidia/tu102/gsp/gen_bootloader-570.144.bin'), genBootloader());
		const r = await run('inspect', p, '--json');
		expect(r.code).toBe(0);
		const j = JSON.parse(r.out);
		expect(j).toMatchObject({
			kind: 'gen_bootloader',
			chip: 'tu102',
			version: '570.144',
			size: 0x330,
			symlinkTarget: null,
			imemAddress: 0xfd00,
		});
		expect(j.desc).toEqual({
			startTag: 0xfd,
			dmemLoadOff: 0,
			codeOff: 0,
			codeSize: 0x200,
			dataOff: 0x200,
			dataSize: 0x100,
		});
		const t = await run('inspect', p);
		expect(t.code).toBe(0);
		expect(t.out).toContain('nvfw_bl_desc');
		expect(t.out).toMatch(/startTag\s+│ 0xfd \(253\)/);
	});

	it('a corrupt file: exit 1, the typed error on stderr and in the JSON', async () => {
		const bad = genBootloader();
		new DataView(bad.buffer).setUint32(0x18 + 12, 0x301, true); // code_size past the payload
		const p = put(join(tmp, 'bad/nvidia/tu102/gsp/gen_bootloader-570.144.bin'), bad);
		const r = await run('inspect', p, '--json');
		expect(r.code).toBe(1);
		const j = JSON.parse(r.out);
		expect(j.error).toMatchObject({
			name: 'FirmwareFormatError',
			code: 'FW_FORMAT',
			errno: 'EINVAL',
			details: { file: p, field: 'nvfw_bl_desc.code_off+code_size', offset: 0x20 },
		});
		expect(r.err).toContain('FW_FORMAT');
		expect(r.err).toContain('nvfw_bl_desc.code_off+code_size');
		// The same file in a directory: the matrix is still printed, and the run fails.
		const d = await run('inspect', join(tmp, 'bad/nvidia/tu102'), '--json');
		expect(d.code).toBe(1);
		const dj = JSON.parse(d.out);
		expect(dj.errors).toHaveLength(1);
		expect(dj.errors[0].error.details.field).toBe('nvfw_bl_desc.code_off+code_size');
		expect(dj.matrix.tu102['570.144']).toMatchObject({
			complete: false,
			missing: ['booter_load', 'booter_unload', 'bootloader', 'gsp'],
		});
	});

	it('as a real process through bin/gspkit-fw.js: exit codes 1 and 0', () => {
		const bin = fileURLToPath(new URL('../bin/gspkit-fw.js', import.meta.url));
		const bad = spawnSync(
			process.execPath,
			[bin, 'inspect', join(tmp, 'bad/nvidia/tu102/gsp/gen_bootloader-570.144.bin')],
			{ encoding: 'utf8' },
		);
		expect(bad.status).toBe(1);
		expect(bad.stderr).toContain('FW_FORMAT');
		const ok = spawnSync(
			process.execPath,
			[bin, 'inspect', '--json', join(tmp, 'ok/nvidia/tu102/gsp/gen_bootloader-570.144.bin')],
			{ encoding: 'utf8' },
		);
		expect(ok.status).toBe(0);
		expect(JSON.parse(ok.stdout).kind).toBe('gen_bootloader');
	});

	it('reports a symlink target', async () => {
		mkdirSync(join(tmp, 'ok/nvidia/tu104/gsp'), { recursive: true });
		symlinkSync(
			'../../tu102/gsp/gen_bootloader-570.144.bin',
			join(tmp, 'ok/nvidia/tu104/gsp/gen_bootloader-570.144.bin'),
		);
		const j = JSON.parse(
			(await run('inspect', '--json', join(tmp, 'ok/nvidia/tu104/gsp/gen_bootloader-570.144.bin'))).out,
		);
		expect(j).toMatchObject({ chip: 'tu104', symlinkTarget: '../../tu102/gsp/gen_bootloader-570.144.bin' });
		expect(j.realPath).toBe(join(tmp, 'ok/nvidia/tu102/gsp/gen_bootloader-570.144.bin'));
	});
});

describe.skipIf(nvidia === null)(
	`real firmware (${nvidia ?? 'not found: set GSPKIT_FIRMWARE_PATH; skipped'})`,
	() => {
		const nv = nvidia as string;

		it('inspect --json on the nvidia/ root: the chip × branch matrix and every file parsed', async () => {
			const r = await run('inspect', '--json', nv);
			expect(r.code).toBe(0);
			const j = JSON.parse(r.out);
			expect(j.versions).toEqual(['535.113.01', '570.144']);
			expect(j.errors).toEqual([]);
			expect(j.files.length).toBeGreaterThan(150);
			for (const chip of ['ga102', 'ad107', 'tu117']) expect(j.matrix[chip]['570.144'].complete).toBe(true);
			expect(j.matrix.ga102['535.113.01'].complete).toBe(true);
			expect(j.matrix.gh100['570.144']).toMatchObject({ complete: true, missing: [] });
			expect(Object.keys(j.matrix.gh100['570.144'].files).sort()).toEqual(['bootloader', 'fmc', 'gsp']);
			expect(j.matrix.gh100['535.113.01']).toMatchObject({
				complete: false,
				missing: ['bootloader', 'fmc', 'gsp'],
			});
			const ad = j.files.find((f: { path: string }) => f.path.endsWith('ad102/gsp/gsp-570.144.bin'));
			expect(ad).toMatchObject({
				kind: 'gsp',
				chip: 'ad102',
				version: '570.144',
				symlinkTarget: '../../ga102/gsp/gsp-570.144.bin',
			});
		});

		it('inspect on one chip directory prints the matrix row and the file table', async () => {
			const r = await run('inspect', join(nv, 'ga102'));
			expect(r.code).toBe(0);
			expect(r.out).toMatch(/ga102\s+│ ✓ complete\s+│ ✓ complete/);
			expect(r.out).toContain('gsp-570.144.bin');
			expect(r.out).toContain('8 file(s) parsed');
		});

		it('inspect --json on the 63 MB GSP ELF: sections, .fwversion and signatures agree with readelf', async () => {
			const p = join(nv, 'ga102/gsp/gsp-570.144.bin');
			const r = await run('inspect', '--json', p);
			expect(r.code).toBe(0);
			const j = JSON.parse(r.out);
			expect(j.fwVersion.text).toBe('570.144');
			expect(j.image).toMatchObject({ offset: 0x40, size: 0x3c99000, format: 'raw' });
			const readelf = execFileSync('readelf', ['-S', '-W', p], { encoding: 'utf8' });
			const names = [...readelf.matchAll(/\]\s+(\.fwsignature_\S+)/g)].map((m) => m[1]);
			expect(j.signatures.map((s: { section: string }) => s.section)).toEqual(names);
			expect(j.signatures.every((s: { size: number }) => s.size === 4096)).toBe(true);
			expect(j.elf.sections).toHaveLength(14);
		});

		it('a truncated copy of a real booter is corrupt (exit 1) with field and offset', async () => {
			const src = new Uint8Array(readFileSync(join(nv, 'ga102/gsp/booter_load-570.144.bin')));
			const p = put(join(tmp, 'trunc/booter_load-570.144.bin'), src.subarray(0, 0x340));
			const r = await run('inspect', '--json', p);
			expect(r.code).toBe(1);
			expect(JSON.parse(r.out).error.details).toMatchObject({
				field: 'nvfw_bin_hdr.data_offset+data_size',
				offset: 16,
			});
		});
	},
);
