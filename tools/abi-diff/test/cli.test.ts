/**
 * `abi-diff` as a program: in-process through `main()` (exit codes, JSON, tables, --check) and once as a
 * real process through the bin shim.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringifyManifest } from '@gspkit/abi';
import { manifest as m535 } from '@gspkit/abi-r535';
import { manifest as m570 } from '@gspkit/abi-r570';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, main } from '../src/index.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	let out = '';
	let err = '';
	const code = await main(argv, {
		stdout: { write: (s: string) => (out += s) },
		stderr: { write: (s: string) => (err += s) },
		color: false,
	});
	return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'abi-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file535 = join(dir, 'r535.json');
const file570 = join(dir, 'r570.json');
writeFileSync(file535, stringifyManifest(m535));
writeFileSync(file570, stringifyManifest(m570));

describe('abi-diff (in-process)', () => {
	it('prints renumbered messages first, then types, constants, sub-interfaces and a summary', async () => {
		const { code, out } = await run('@gspkit/abi-r535', '@gspkit/abi-r570');
		expect(code).toBe(EXIT.ok);
		const order = [
			'Renumbered messages',
			'Numbers that changed meaning',
			'Size changes',
			'Field offset shifts',
			'Renamed fields',
			'Constant changes',
			'Sub-interfaces',
			'Summary',
		].map((h) => out.indexOf(h));
		expect(order.every((i) => i >= 0)).toBe(true);
		expect([...order].sort((x, y) => x - y)).toEqual(order);
		expect(out).toMatch(/GSP_LOCKDOWN_NOTICE\s+│ 0x101d\s+│ 0x101c\s+│ −1/);
		expect(out).toContain('+24 (24 appended)');
		expect(out).toContain('4 of 16 (gsp, wpr, fifo, gr)');
		expect(out).not.toContain('\u001b['); // no colour codes with color: false
	});

	it('--json emits the whole diff', async () => {
		const { code, out } = await run('@gspkit/abi-r535', '@gspkit/abi-r570', '--json');
		expect(code).toBe(EXIT.ok);
		const j = JSON.parse(out);
		expect(j.summary.events).toMatchObject({ added: 5, removed: 1, renumbered: 3 });
		expect(j.summary.functions).toMatchObject({ added: 24, appended: 24, removed: 0, renumbered: 0 });
		expect(j.types.changed.find((t: { name: string }) => t.name === 'GspSystemInfo')).toMatchObject({
			sizeA: 664,
			sizeB: 928,
		});
	});

	it('--check exits 1 when the used closure changed incompatibly, 0 when it did not', async () => {
		const bad = await run('@gspkit/abi-r535', '@gspkit/abi-r570', '--check');
		expect(bad.code).toBe(EXIT.incompatible);
		expect(bad.out).toContain('check failed');
		expect(bad.out).toContain('event GSP_LOCKDOWN_NOTICE: renumbered 0x101d → 0x101c');
		const good = await run('@gspkit/abi-r570', file570, '--check');
		expect(good.code).toBe(EXIT.ok);
		expect(good.out).toContain('check passed');
	});

	it('accepts manifest files and then uses gspkit’s default roots', async () => {
		const { code, out } = await run(file535, file570, '--json');
		expect(code).toBe(EXIT.ok);
		const j = JSON.parse(out);
		expect(j.used.source).toBe('default');
		expect(j.used.types).toContain('GspStaticConfigInfo');
		// The default roots are what the driver uses of the installed packages: the same closure as by name.
		expect(j.summary.used.types).toBe(75);
		expect(j.used.members).toHaveLength(52);
		expect(j.subInterfaces).toBeUndefined();
		expect(j.summary.events.renumbered).toBe(3);
	});

	it('--all lists types outside the used closure', async () => {
		const { out } = await run('@gspkit/abi-r535', '@gspkit/abi-r570', '--all', '--limit', '500');
		expect(out).toContain('NV0073_CTRL_CMD_DP_GET_CAPS_PARAMS');
		const narrow = await run('@gspkit/abi-r535', '@gspkit/abi-r570');
		expect(narrow.out).not.toContain('NV0073_CTRL_CMD_DP_GET_CAPS_PARAMS');
	});

	it('usage and input errors exit 2', async () => {
		expect((await run()).code).toBe(EXIT.usage);
		expect((await run('@gspkit/abi-r535')).code).toBe(EXIT.usage);
		const missing = await run('@gspkit/abi-r535', join(dir, 'nope.json'));
		expect(missing.code).toBe(EXIT.usage);
		expect(missing.err).toContain('no such manifest file');
		const notPkg = await run('@gspkit/abi-r535', '@gspkit/no-such-abi');
		expect(notPkg.code).toBe(EXIT.usage);
		const notAbi = await run('@gspkit/abi-r535', '@gspkit/abi');
		expect(notAbi.code).toBe(EXIT.usage);
		expect(notAbi.err).toContain('does not export a FirmwareAbi');
		writeFileSync(join(dir, 'bad.json'), '{"format":"nope"}');
		const bad = await run(join(dir, 'bad.json'), file570);
		expect(bad.code).toBe(EXIT.usage);
		expect(bad.err).toContain('not a layout manifest');
		expect((await run('a', 'b', '--limit', '0')).code).toBe(EXIT.usage);
	});

	it('tables and prose fit --width, the terminal width, or 120 when not a terminal', async () => {
		const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));
		const narrow = await run('@gspkit/abi-r535', '@gspkit/abi-r570', '--width', '90');
		expect(widest(narrow.out)).toBeLessThanOrEqual(90);
		expect(widest(narrow.out)).toBeGreaterThan(80); // it uses the room it has
		// A wrapped cell keeps every character: the long identifiers are split, not cut.
		expect(narrow.out.replace(/[\s│]/g, '')).toContain('NV2080_CTRL_BIOS_GET_SKU_INFO_PARAMS');
		const tty = async (columns: number, isTTY: boolean) => {
			let out = '';
			await main(['@gspkit/abi-r535', '@gspkit/abi-r570'], {
				stdout: { write: (s: string) => (out += s), columns, isTTY },
				stderr: { write: () => undefined },
				color: false,
			});
			return out;
		};
		expect(widest(await tty(100, true))).toBeLessThanOrEqual(100);
		const piped = widest(await tty(60, false));
		expect(piped).toBeLessThanOrEqual(120);
		expect(piped).toBeGreaterThan(100);
		expect((await run('@gspkit/abi-r535', '@gspkit/abi-r570', '--width', '20')).code).toBe(EXIT.usage);
	});

	it('--help exits 0', async () => {
		const { code, out } = await run('--help');
		expect(code).toBe(EXIT.ok);
		expect(out).toContain('abi-diff');
	});
});

describe('abi-diff (process)', () => {
	it('runs through the bin shim and returns the --check exit code', () => {
		const bin = fileURLToPath(new URL('../bin/abi-diff.js', import.meta.url));
		const r = spawnSync(
			process.execPath,
			[bin, '@gspkit/abi-r535', '@gspkit/abi-r570', '--check', '--no-color'],
			{
				encoding: 'utf8',
				cwd: fileURLToPath(new URL('../../..', import.meta.url)),
			},
		);
		expect(r.status).toBe(1);
		expect(r.stdout).toContain('Renumbered messages');
	});
});
