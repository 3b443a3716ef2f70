import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FirmwareAbi } from '@gspkit/abi';
import { VirtualClock } from '@gspkit/hal';
import { afterAll, describe, expect, it } from 'vitest';
import {
	branchesFor,
	type DeviceProgress,
	isCoreError,
	openDevice,
	resolveAbiOverride,
	resolveFirmware,
} from '../src/index.ts';
import { fakePlatform } from './fake-platform.ts';

/** A stand-in ABI: selection only needs version, branch, chips and the file list. */
function fakeAbi(version: string, chips: string[]): FirmwareAbi {
	return {
		version,
		branch: `r${version.split('.')[0]}`,
		chips,
		firmwareFiles: (chip: string) => {
			const files = ['booter_load', 'booter_unload', 'bootloader', 'gsp'].map(
				(k) => `nvidia/${chip}/gsp/${k}-${version}.bin`,
			);
			return chip.startsWith('tu') ? [...files, `nvidia/${chip}/acr/bl.bin`] : files;
		},
	} as unknown as FirmwareAbi;
}

const R535 = fakeAbi('535.113.01', ['tu102', 'ga102']);
const R570 = fakeAbi('570.144', ['tu102', 'ga102', 'gh100']);
const bytes = (tag: number) => new Uint8Array([tag, tag, tag]);

function memoryFiles(
	chip: string,
	version: string,
	extra: Record<string, Uint8Array> = {},
	base = 0,
): Map<string, Uint8Array> {
	const m = new Map<string, Uint8Array>();
	let i = 1 + base;
	const abi = version.startsWith('535') ? R535 : R570;
	for (const f of abi.firmwareFiles(chip))
		m.set(f.replace(`-${abi.version}.bin`, `-${version}.bin`), bytes(i++));
	for (const [k, v] of Object.entries(extra)) m.set(k, v);
	return m;
}

describe('ABI overrides and branch order', () => {
	it('expands a branch number, an r-branch or a version to the ABI that serves the chip', () => {
		expect(resolveAbiOverride('535', [R570, R535], 'ga102')).toBe('535.113.01');
		expect(resolveAbiOverride('r570', [R570, R535], 'ga102')).toBe('570.144');
		expect(resolveAbiOverride('570.144', [R570, R535], 'ga102')).toBe('570.144');
	});

	it('rejects an override no given ABI matches, naming the ABIs', () => {
		let err: unknown;
		try {
			resolveAbiOverride('550', [R570, R535], 'ga102');
		} catch (e) {
			err = e;
		}
		expect(isCoreError(err, 'CORE_BAD_ARGUMENT')).toBe(true);
		expect((err as Error).message).toContain('570.144, 535.113.01');
		// 535 exists but does not serve gh100.
		expect(() => resolveAbiOverride('535', [R570, R535], 'gh100')).toThrow(/matches none/);
	});

	it('lists the branches serving a chip, newest first', () => {
		expect(branchesFor([R535, R570], 'ga102')).toEqual(['570.144', '535.113.01']);
		expect(branchesFor([R535, R570], 'gh100')).toEqual(['570.144']);
		expect(branchesFor([R535, R570], 'ad102')).toEqual([]);
	});
});

describe('resolveFirmware with in-memory files', () => {
	it('picks the newest complete branch and maps every file to its kind', async () => {
		const files = new Map([...memoryFiles('ga102', '535.113.01'), ...memoryFiles('ga102', '570.144')]);
		const r = await resolveFirmware('ga102', [R535, R570], { files, label: 'test' });
		expect(r.abi).toBe(R570);
		expect(r.choice).toMatchObject({
			version: '570.144',
			branch: 'r570',
			source: 'memory',
			label: 'test',
			forced: false,
		});
		const boot = r.boot as {
			gsp: Uint8Array;
			bootloader: Uint8Array;
			booterLoad: Uint8Array;
			genBootloader?: Uint8Array;
		};
		expect(boot.booterLoad).toBe(files.get('nvidia/ga102/gsp/booter_load-570.144.bin'));
		expect(boot.bootloader).toBe(files.get('nvidia/ga102/gsp/bootloader-570.144.bin'));
		expect(boot.gsp).toBe(files.get('nvidia/ga102/gsp/gsp-570.144.bin'));
		expect(boot.genBootloader).toBeUndefined();
		expect(await r.booterUnload()).toBe(files.get('nvidia/ga102/gsp/booter_unload-570.144.bin'));
	});

	it('falls back to the older branch when the newer set is incomplete, and maps acr/bl.bin to gen_bootloader', async () => {
		const files = new Map([...memoryFiles('tu102', '535.113.01'), ...memoryFiles('tu102', '570.144')]);
		files.delete('nvidia/tu102/gsp/gsp-570.144.bin');
		const r = await resolveFirmware('tu102', [R535, R570], { files });
		expect(r.choice.version).toBe('535.113.01');
		expect(r.choice.attempts.map((a) => [a.version, a.outcome, a.missing])).toEqual([
			['570.144', 'files-missing', ['nvidia/tu102/gsp/gsp-570.144.bin']],
			['535.113.01', 'selected', []],
		]);
		expect((r.boot as { genBootloader?: Uint8Array }).genBootloader).toBe(
			files.get('nvidia/tu102/acr/bl.bin'),
		);
	});

	it('an override forces a branch and never falls back', async () => {
		const files = memoryFiles('ga102', '570.144');
		const r = await resolveFirmware('ga102', [R535, R570], { files }, '570');
		expect(r.choice).toMatchObject({ version: '570.144', forced: true });
		await expect(resolveFirmware('ga102', [R535, R570], { files }, '535')).rejects.toMatchObject({
			code: 'ABI_NOT_FOUND',
		});
	});

	it('says which chip no ABI serves', async () => {
		await expect(resolveFirmware('ad102', [R535, R570], { files: new Map() })).rejects.toMatchObject({
			code: 'CORE_ABI_UNSUPPORTED',
		});
	});
});

describe('resolveFirmware with a compat map (point releases → a known ABI)', () => {
	const compat = { '570.144.02': '570.144' };

	it('boots a point release with the ABI it maps to, loading the point release’s files', async () => {
		const files = memoryFiles('ga102', '570.144.02');
		expect([...files.keys()]).toContain('nvidia/ga102/gsp/gsp-570.144.02.bin');
		const r = await resolveFirmware('ga102', [R535, R570], { files }, undefined, undefined, compat);
		expect(r.abi).toBe(R570);
		expect(r.choice).toMatchObject({
			version: '570.144.02',
			abiVersion: '570.144',
			branch: 'r570',
			forced: false,
		});
		expect(r.choice.files).toContain('nvidia/ga102/gsp/gsp-570.144.02.bin');
		expect((r.boot as { gsp: Uint8Array }).gsp).toBe(files.get('nvidia/ga102/gsp/gsp-570.144.02.bin'));
		expect((r.boot as { version: string }).version).toBe('570.144.02');
		// Without the map the same files are not recognised.
		await expect(resolveFirmware('ga102', [R535, R570], { files })).rejects.toMatchObject({
			code: 'ABI_NOT_FOUND',
		});
	});

	it('tries the alias before its ABI’s own release, and falls back to it', async () => {
		const both = new Map([...memoryFiles('ga102', '570.144'), ...memoryFiles('ga102', '570.144.02', {}, 10)]);
		const r = await resolveFirmware('ga102', [R535, R570], { files: both }, undefined, undefined, compat);
		expect(r.choice.version).toBe('570.144.02');
		both.delete('nvidia/ga102/gsp/gsp-570.144.02.bin');
		const f = await resolveFirmware('ga102', [R535, R570], { files: both }, undefined, undefined, compat);
		expect(f.choice.version).toBe('570.144');
		expect(f.choice.attempts.map((a) => [a.version, a.outcome])).toEqual([
			['570.144.02', 'files-missing'],
			['570.144', 'selected'],
		]);
	});

	it('an override may name the alias; without the map it matches nothing', async () => {
		const files = new Map([
			...memoryFiles('ga102', '570.144'),
			...memoryFiles('ga102', '570.144.02', {}, 10),
		]);
		const r = await resolveFirmware('ga102', [R535, R570], { files }, '570.144.02', undefined, compat);
		expect(r.choice).toMatchObject({ version: '570.144.02', abiVersion: '570.144', forced: true });
		// A branch override still picks the ABI's own release first in its candidates.
		const b = await resolveFirmware('ga102', [R535, R570], { files }, '570', undefined, compat);
		expect(b.choice).toMatchObject({ version: '570.144', forced: true });
		await expect(resolveFirmware('ga102', [R535, R570], { files }, '570.144.02')).rejects.toMatchObject({
			code: 'CORE_BAD_ARGUMENT',
		});
	});

	it('an alias of a branch the chip does not list is never a candidate', async () => {
		const err = await resolveFirmware('ga102', [R535, R570], { files: new Map() }, undefined, undefined, {
			'550.90.07': '550.90',
		}).catch((e: unknown) => e);
		expect((err as { code: string }).code).toBe('ABI_NOT_FOUND');
		expect(
			(err as { attempts: { firmwareVersion: string }[] }).attempts.map((a) => a.firmwareVersion),
		).toEqual(['570.144', '535.113.01']);
	});

	it('rejects a map that is not version → version', async () => {
		for (const bad of [{ '570.144.02': 570 }, { latest: '570.144' }, { '570.144.02': 'r570' }]) {
			const err = await resolveFirmware(
				'ga102',
				[R535, R570],
				{ files: new Map() },
				undefined,
				undefined,
				bad as unknown as Record<string, string>,
			).catch((e: unknown) => e);
			expect(isCoreError(err, 'CORE_BAD_ARGUMENT'), JSON.stringify(bad)).toBe(true);
		}
	});

	it('openDevice passes abiCompat through to the selection', async () => {
		const progress: DeviceProgress[] = [];
		// GA102 identity (BOOT_0/BOOT_42 as probe.test.ts builds them).
		const platform = fakePlatform({ boot0: 0x172000a1, boot42: 0x172a1000, fbMiB: 1024 }, new VirtualClock());
		const open = (abiCompat?: Record<string, string>) =>
			openDevice(platform, {
				abis: [R535, R570],
				firmware: { files: memoryFiles('ga102', '570.144.02'), label: 'point release' },
				onProgress: (p) => progress.push(p),
				...(abiCompat === undefined ? {} : { abiCompat }),
			}).catch((e: unknown) => e);
		// The stand-in ABI cannot boot anything; what matters is which firmware was chosen before that.
		await open(compat);
		expect(progress.map((p) => p.detail)).toContain('GSP-RM 570.144.02 (r570) from point release');
		progress.length = 0;
		expect(((await open()) as { code: string }).code).toBe('ABI_NOT_FOUND');
		expect(progress.some((p) => p.detail.startsWith('GSP-RM'))).toBe(false);
	});
});

describe('resolveFirmware from the file system', () => {
	const root = mkdtempSync(join(tmpdir(), 'gspkit-core-fw-'));
	afterAll(() => rmSync(root, { recursive: true, force: true }));
	const put = (rel: string) => {
		const p = join(root, rel);
		mkdirSync(dirname(p), { recursive: true });
		writeFileSync(p, bytes(9));
	};

	it('finds a set under an explicit path only, and lists what it looked for when nothing is there', async () => {
		const env = {};
		const err = await resolveFirmware(
			'ga102',
			[R535, R570],
			{ path: root, onlyPath: true },
			undefined,
			env,
		).catch((e: unknown) => e);
		expect((err as { code: string }).code).toBe('ABI_NOT_FOUND');
		const msg = (err as Error).message;
		expect(msg).toContain('nvidia/ga102/gsp/gsp-570.144.bin');
		expect(msg).toContain(root);

		for (const k of ['booter_load', 'booter_unload', 'bootloader', 'gsp'])
			put(`nvidia/ga102/gsp/${k}-535.113.01.bin`);
		const r = await resolveFirmware('ga102', [R535, R570], { path: root, onlyPath: true }, undefined, env);
		expect(r.choice).toMatchObject({ version: '535.113.01', source: 'files' });
		expect(r.choice.files).toContain(join(root, 'nvidia/ga102/gsp/gsp-535.113.01.bin'));
		expect(await r.booterUnload()).toEqual(bytes(9));
	});

	it('finds a point release on disk through the compat map', async () => {
		const env = {};
		for (const k of ['booter_load', 'booter_unload', 'bootloader', 'gsp'])
			put(`nvidia/ga102/gsp/${k}-570.144.02.bin`);
		const r = await resolveFirmware('ga102', [R535, R570], { path: root, onlyPath: true }, undefined, env, {
			'570.144.02': '570.144',
		});
		expect(r.abi).toBe(R570);
		expect(r.choice).toMatchObject({ version: '570.144.02', abiVersion: '570.144', source: 'files' });
		expect(r.choice.files).toContain(join(root, 'nvidia/ga102/gsp/gsp-570.144.02.bin'));
	});
});
