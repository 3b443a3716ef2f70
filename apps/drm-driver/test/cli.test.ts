import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT, formatSize, main, version } from '../src/cli.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	let out = '';
	let err = '';
	const code = await main(argv, {
		stdout: (t) => {
			out += t;
		},
		stderr: (t) => {
			err += t;
		},
		color: false,
	});
	return { code, out, err };
}

describe('gspkit-drm', () => {
	it('probes the default GA102 board and prints a readable summary', async () => {
		const { code, out, err } = await run();
		expect(code).toBe(EXIT.OK);
		expect(err).toBe('');
		expect(out).toContain(`gspkit-drm ${version()}`);
		expect(out).toMatch(/chip\s+GA102\s+ampere, chipset 0x172, revision a1/);
		expect(out).toContain('NV_PMC_BOOT_0 0x172000a1');
		expect(out).toContain('10de:2204');
		expect(out).toContain('BAR0 16 MiB 32-bit');
		expect(out).toContain('BAR1 256 MiB 64-bit prefetchable');
		expect(out).toContain('BAR3 32 MiB 64-bit prefetchable');
		expect(out).toMatch(/vram\s+24 GiB/);
		expect(out).toMatch(/sr-iov\s+32 VFs/);
		expect(out).toContain('gpu-sim ga102');
		expect(out).not.toContain('\u001b['); // colour was switched off
	});

	it('--chip tu102 --json prints the probe result as JSON', async () => {
		const { code, out } = await run('--chip', 'tu102', '--json');
		expect(code).toBe(EXIT.OK);
		const j = JSON.parse(out);
		expect(j.chip).toEqual({
			name: 'TU102',
			architecture: 'turing',
			archCode: '0x16',
			chipset: '0x162',
			implementation: 2,
			revision: 'a1',
		});
		expect(j.registers).toEqual({ NV_PMC_BOOT_0: '0x162000a1', NV_PMC_BOOT_42: '0x162a1000' });
		expect(j.pci).toMatchObject({
			vendorId: '0x10de',
			deviceId: '0x1e04',
			classCode: '0x030000',
			revision: '0xa1',
		});
		expect(j.bars.map((b: { index: number; size: number }) => [b.index, b.size])).toEqual([
			[0, 16 * 2 ** 20],
			[1, 256 * 2 ** 20],
			[3, 32 * 2 ** 20],
		]);
		expect(j.vramSize).toBe(11 * 2 ** 30);
		expect(j.sriov).toBeNull();
		expect(j.firmware).toBeNull();
	});

	it('accepts chip names in any case', async () => {
		const { code, out } = await run('--chip', 'GH100', '--json');
		expect(code).toBe(EXIT.OK);
		const j = JSON.parse(out);
		expect(j.chip.name).toBe('GH100');
		expect(j.pci.classCode).toBe('0x030200');
		expect(j.sriov.totalVFs).toBe(32);
		expect(j.bars[1].size).toBe(128 * 2 ** 30);
	});

	it('rejects an unknown chip with exit code 2 and the list of valid chips', async () => {
		const { code, out, err } = await run('--chip', 'nope');
		expect(code).toBe(EXIT.USAGE);
		expect(out).toBe('');
		expect(err).toContain("'nope' is invalid");
		for (const chip of ['tu102', 'ga100', 'ga102', 'ad102', 'gh100']) expect(err).toContain(chip);
	});

	it('rejects unknown options with exit code 2', async () => {
		expect((await run('--frobnicate')).code).toBe(EXIT.USAGE);
	});

	it('--help and --version exit 0', async () => {
		const help = await run('--help');
		expect(help.code).toBe(EXIT.OK);
		expect(help.out).toContain('Usage: gspkit-drm');
		expect(help.out).toContain('--chip <name>');
		const v = await run('--version');
		expect(v.code).toBe(EXIT.OK);
		expect(v.out.trim()).toBe(version());
		expect(version()).toMatch(/^\d+\.\d+\.\d+/);
	});

	it('formats sizes in exact binary units', () => {
		expect(formatSize(16n << 20n)).toBe('16 MiB');
		expect(formatSize(24n << 30n)).toBe('24 GiB');
		expect(formatSize(1536n << 20n)).toBe('1536 MiB');
		expect(formatSize(1000n)).toBe('1000 bytes');
	});

	it('runs as a process the way `npm start` does', () => {
		const tsx = `${ROOT}node_modules/.bin/tsx`;
		expect(existsSync(tsx)).toBe(true);
		const cli = 'apps/drm-driver/src/cli.ts';
		const ok = spawnSync(tsx, ['--conditions=@gspkit/source', cli, '--chip', 'tu102', '--json'], {
			cwd: ROOT,
			encoding: 'utf8',
			env: { ...process.env, NO_COLOR: '1' },
		});
		expect(ok.stderr).toBe('');
		expect(ok.status).toBe(0);
		expect(JSON.parse(ok.stdout).chip.name).toBe('TU102');
		const bad = spawnSync(tsx, ['--conditions=@gspkit/source', cli, '--chip', 'nope'], {
			cwd: ROOT,
			encoding: 'utf8',
		});
		expect(bad.status).toBe(2);
		expect(bad.stderr).toContain('valid chips');
	});
});
