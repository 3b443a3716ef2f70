import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('gspkit-drm probe', () => {
	it('probes the default GA102 board and prints a readable summary', async () => {
		const { code, out, err } = await run('probe');
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
		const { code, out } = await run('probe', '--chip', 'tu102', '--json');
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
		const { code, out } = await run('probe', '--chip', 'GH100', '--json');
		expect(code).toBe(EXIT.OK);
		const j = JSON.parse(out);
		expect(j.chip.name).toBe('GH100');
		expect(j.pci.classCode).toBe('0x030200');
		expect(j.sriov.totalVFs).toBe(32);
		expect(j.bars[1].size).toBe(128 * 2 ** 30);
	});

	it('rejects an unknown chip with exit code 2 and the list of valid chips', async () => {
		const { code, out, err } = await run('probe', '--chip', 'nope');
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
		const ok = spawnSync(tsx, ['--conditions=@gspkit/source', cli, 'probe', '--chip', 'tu102', '--json'], {
			cwd: ROOT,
			encoding: 'utf8',
			env: { ...process.env, NO_COLOR: '1' },
		});
		expect(ok.stderr).toBe('');
		expect(ok.status).toBe(0);
		expect(JSON.parse(ok.stdout).chip.name).toBe('TU102');
		const bad = spawnSync(tsx, ['--conditions=@gspkit/source', cli, 'probe', '--chip', 'nope'], {
			cwd: ROOT,
			encoding: 'utf8',
		});
		expect(bad.status).toBe(2);
		expect(bad.stderr).toContain('valid chips');
	});
});

describe('gspkit-drm (boot + copy workload)', () => {
	it.each(['535', '570'])('--abi %s --synthetic --json: boots, copies and verifies', async (abi) => {
		const { code, out, err } = await run('--abi', abi, '--synthetic', '--json', '--size', '256K');
		expect(err).toBe('');
		expect(code).toBe(EXIT.OK);
		const j = JSON.parse(out);
		const version = abi === '535' ? '535.113.01' : '570.144';
		expect(j.firmware).toMatchObject({
			version,
			branch: `r${abi}`,
			source: 'memory',
			label: 'synthetic (gpu-sim)',
			forced: true,
		});
		expect(j.chip).toMatchObject({ name: 'GA102', chipset: '0x172' });
		expect(j.gr).toMatchObject({
			gpcCount: 7,
			tpcCount: 41,
			source: abi === '535' ? 'static-info' : 'controls',
		});
		expect(j.workload).toMatchObject({ bytes: 256 * 1024, jobs: 10, verified: true, mismatch: null });
		expect(j.workload.channel).toMatchObject({ hostClass: '0xc56f', copyClass: '0xc7b5' });
		expect(j.workload.scheduler).toEqual({ submitted: 10, completed: 10 });
		expect(j.workload.vaSpace.rmRange).toEqual(['0x100000000', '0x11fffffff']);
		for (const stage of [
			'probe',
			'firmware-select',
			'fwsec',
			'gsp-image',
			'booter',
			'gsp-init',
			'static-info',
			'rm-objects',
		])
			expect(typeof j.stagesMs[stage]).toBe('number');
		expect(j.teardown).toContain('GSP-RM unloaded');
		expect(j.mode).toEqual({ clock: 'virtual', gsp: 'stepped on the clock' });
	});

	it('prints a readable report with the firmware source, stages and the verification', async () => {
		const { code, out } = await run('--synthetic', '--chip', 'tu102', '--size', '64K');
		expect(code).toBe(EXIT.OK);
		expect(out).toContain(`gspkit-drm ${version()}`);
		expect(out).toMatch(
			/firmware\s+GSP-RM 570\.144 \(r570\) from synthetic \(gpu-sim\) — no published firmware found/,
		);
		expect(out).toMatch(/boot stages\n\s+probe\s+[0-9.]+ ms/);
		expect(out).toMatch(/total\s+[0-9.]+ ms/);
		expect(out).toMatch(/gr\s+6 GPCs, 34 TPCs/);
		expect(out).toMatch(
			/channel\s+chid \d+ runlist \d+, TURING_CHANNEL_GPFIFO_A \(0xc46f\) \+ TURING_DMA_COPY_A \(0xc5b5\)/,
		);
		expect(out).toMatch(/verify\s+OK: 64 KiB byte for byte/);
		expect(out).not.toContain('\u001b[');
	});

	it('falls back to synthetic firmware when no published set is installed anywhere (a fresh machine)', () => {
		// A separate process, so the empty cache and firmware path apply to every lookup the CLI makes.
		const empty = mkdtempSync(join(tmpdir(), 'gspkit-nofw-'));
		try {
			const r = spawnSync(
				`${ROOT}node_modules/.bin/tsx`,
				['--conditions=@gspkit/source', 'apps/drm-driver/src/cli.ts', '--json', '--size', '64K'],
				{
					cwd: ROOT,
					encoding: 'utf8',
					env: { ...process.env, NO_COLOR: '1', GSPKIT_CACHE: empty, GSPKIT_FIRMWARE_PATH: '' },
				},
			);
			expect(r.stderr).toBe('');
			expect(r.status).toBe(0);
			const j = JSON.parse(r.stdout);
			if (!existsSync('/lib/firmware/nvidia/ga102/gsp')) {
				expect(j.firmware).toMatchObject({ version: '570.144', label: 'synthetic (gpu-sim)' });
			}
			expect(j.workload).toMatchObject({ verified: true });
		} finally {
			rmSync(empty, { recursive: true, force: true });
		}
	});

	it('does not fall back to synthetic firmware when an explicit --firmware directory has none', async () => {
		const { code, err } = await run('--firmware', '/nonexistent-gspkit-firmware', '--size', '64K');
		expect(code).toBe(EXIT.FAILURE);
		expect(err).toContain('no usable GSP firmware for ga102');
		expect(err).toContain('/nonexistent-gspkit-firmware');
		expect(err).toContain('(ABI_NOT_FOUND)');
	});

	it('reports a chip without a synthetic firmware set (GH100 boots through FSP) as a typed error', async () => {
		const { code, err } = await run('--chip', 'gh100', '--synthetic');
		expect(code).toBe(EXIT.FAILURE);
		expect(err).toContain('no usable GSP firmware for gh100');
		expect(err).toContain('nvidia/gh100/gsp/fmc-570.144.bin');
		expect(err).toContain('(ABI_NOT_FOUND)');
	});

	it('rejects bad --abi and --size values', async () => {
		expect((await run('--abi', 'latest')).code).toBe(EXIT.USAGE);
		expect((await run('--size', '1000')).code).toBe(EXIT.USAGE);
	});
});
