/**
 * The firmware locator and the file loader on temporary directory trees (with symbolic links).
 */

import {
	mkdirSync,
	mkdtempSync,
	readFileSync,
	realpathSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	availableBranches,
	FirmwareIoError,
	FirmwareNotFoundError,
	firmwareSearchRoots,
	gspkitCacheDir,
	type LoadProgress,
	type LocateOptions,
	locateFirmwareFile,
	locateFirmwareSet,
	probeFirmwareSet,
	readFirmwareFile,
} from '../src/firmware/index.ts';

let tmp = '';
const p = (...parts: string[]) => join(tmp, ...parts);

/** Create a file (with its directories) holding `content`. */
function put(path: string, content: string | Uint8Array = path): void {
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path, content);
}

/** Put a full GA102 set for `version` under `root` (as `nvidia/ga102/gsp/...`). */
function ga102Set(root: string, version: string): void {
	for (const k of ['booter_load', 'booter_unload', 'bootloader', 'gsp'])
		put(join(root, `nvidia/ga102/gsp/${k}-${version}.bin`));
}

beforeAll(() => {
	tmp = realpathSync(mkdtempSync(join(tmpdir(), 'gspkit-locate-')));
});
afterAll(() => {
	rmSync(tmp, { recursive: true, force: true });
});

/** Options that isolate the search from the machine: no real env, system dir or home. */
function isolated(extra: Partial<LocateOptions> & { env?: Record<string, string> } = {}): LocateOptions {
	return {
		env: { GSPKIT_CACHE: p('cache'), ...extra.env },
		systemDirs: [p('system')],
		homeDir: p('home'),
		...(extra.path === undefined ? {} : { path: extra.path }),
	};
}

describe('search roots', () => {
	it('orders option, GSPKIT_FIRMWARE_PATH (colon list), system, cache, Debian unpack; no duplicates', () => {
		const roots = firmwareSearchRoots({
			path: ['/opt/a', '/opt/b'],
			env: { GSPKIT_FIRMWARE_PATH: '/env/1::/env/2:/opt/a', GSPKIT_CACHE: '/c' },
			systemDirs: ['/lib/firmware'],
			homeDir: '/home/u',
		});
		expect(roots).toEqual([
			{ dir: '/opt/a', source: 'option' },
			{ dir: '/opt/b', source: 'option' },
			{ dir: '/env/1', source: 'env' },
			{ dir: '/env/2', source: 'env' },
			{ dir: '/lib/firmware', source: 'system' },
			{ dir: '/c/firmware', source: 'cache' },
			{ dir: '/c/debian/firmware-nvidia-graphics/usr/lib/firmware', source: 'debian-cache' },
		]);
		expect(firmwareSearchRoots({ path: '/only', onlyPath: true })).toEqual([
			{ dir: '/only', source: 'option' },
		]);
		expect(firmwareSearchRoots({ env: {}, homeDir: '/h' }).map((r) => r.dir)).toEqual([
			'/lib/firmware',
			'/h/.cache/gspkit/firmware',
			'/h/.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware',
		]);
	});

	it('cache dir: GSPKIT_CACHE, else $XDG_CACHE_HOME/gspkit, else ~/.cache/gspkit', () => {
		expect(gspkitCacheDir({ GSPKIT_CACHE: '/x', XDG_CACHE_HOME: '/y' }, '/h')).toBe('/x');
		expect(gspkitCacheDir({ XDG_CACHE_HOME: '/y' }, '/h')).toBe('/y/gspkit');
		expect(gspkitCacheDir({ GSPKIT_CACHE: '', XDG_CACHE_HOME: '' }, '/h')).toBe('/h/.cache/gspkit');
	});
});

describe('locating files', () => {
	it('takes each file from the first root that has it, in search order', async () => {
		const v = '570.144';
		ga102Set(p('cache/firmware'), v);
		ga102Set(p('system'), v);
		put(p('env1/nvidia/ga102/gsp/gsp-570.144.bin'));
		put(p('opt/nvidia/ga102/gsp/booter_load-570.144.bin'));
		const opts = isolated({ path: p('opt'), env: { GSPKIT_FIRMWARE_PATH: `${p('env0')}:${p('env1')}` } });
		const set = await locateFirmwareSet('GA102', v, opts);
		expect(set.chip).toBe('ga102');
		expect(Object.fromEntries(set.files.map((f) => [f.kind, [f.root.source, f.path]]))).toEqual({
			booter_load: ['option', p('opt/nvidia/ga102/gsp/booter_load-570.144.bin')],
			booter_unload: ['system', p('system/nvidia/ga102/gsp/booter_unload-570.144.bin')],
			bootloader: ['system', p('system/nvidia/ga102/gsp/bootloader-570.144.bin')],
			gsp: ['env', p('env1/nvidia/ga102/gsp/gsp-570.144.bin')],
		});
		// Every root was tried, in order, for the file found last in the order.
		expect(set.searched.slice(-3)).toEqual([
			p('opt/nvidia/ga102/gsp/gsp-570.144.bin'),
			p('env0/nvidia/ga102/gsp/gsp-570.144.bin'),
			p('env1/nvidia/ga102/gsp/gsp-570.144.bin'),
		]);
		// Without the system root, the cache supplies those files.
		const viaCache = await locateFirmwareSet('ga102', v, { ...opts, systemDirs: [] });
		expect(viaCache.byKind.bootloader?.root.source).toBe('cache');
	});

	it('the raw Debian unpack directory is the last fallback', async () => {
		ga102Set(p('deb-cache/debian/firmware-nvidia-graphics/usr/lib/firmware'), '535.113.01');
		const set = await locateFirmwareSet('ga102', '535.113.01', {
			env: { GSPKIT_CACHE: p('deb-cache') },
			systemDirs: [],
			homeDir: p('home'),
		});
		expect(set.files.every((f) => f.root.source === 'debian-cache')).toBe(true);
	});

	it('follows symbolic links and reports the resolved path', async () => {
		put(p('links/nvidia/ga102/gsp/gsp-570.144.bin'), 'GA102 GSP');
		put(p('links/nvidia/ad102/gsp/booter_load-570.144.bin'));
		mkdirSync(p('links/nvidia/ad102/gsp'), { recursive: true });
		symlinkSync('../../ga102/gsp/gsp-570.144.bin', p('links/nvidia/ad102/gsp/gsp-570.144.bin'));
		const f = await locateFirmwareFile('nvidia/ad102/gsp/gsp-570.144.bin', 'gsp', {
			path: p('links'),
			onlyPath: true,
		});
		expect(f).toMatchObject({
			kind: 'gsp',
			path: p('links/nvidia/ad102/gsp/gsp-570.144.bin'),
			realPath: p('links/nvidia/ga102/gsp/gsp-570.144.bin'),
			isSymlink: true,
			size: 'GA102 GSP'.length,
		});
		// A whole chip directory may be a link too.
		symlinkSync('ga102', p('links/nvidia/ga103'));
		const g = await locateFirmwareFile('nvidia/ga103/gsp/gsp-570.144.bin', 'gsp', {
			path: p('links'),
			onlyPath: true,
		});
		expect([g.isSymlink, g.realPath]).toEqual([false, p('links/nvidia/ga102/gsp/gsp-570.144.bin')]);
		// The loader reports the link target and reads through it.
		const data = await readFirmwareFile(p('links/nvidia/ad102/gsp/gsp-570.144.bin'));
		expect(data.linkTarget).toBe('../../ga102/gsp/gsp-570.144.bin');
		expect(Buffer.from(data.bytes).toString()).toBe('GA102 GSP');
	});

	it('a dangling link counts as missing and is named; the next root is used', async () => {
		mkdirSync(p('dangle/nvidia/ga102/gsp'), { recursive: true });
		symlinkSync('nowhere.bin', p('dangle/nvidia/ga102/gsp/gsp-570.144.bin'));
		put(p('good/nvidia/ga102/gsp/gsp-570.144.bin'));
		const f = await locateFirmwareFile('nvidia/ga102/gsp/gsp-570.144.bin', 'gsp', {
			path: [p('dangle'), p('good')],
			onlyPath: true,
		});
		expect(f.path).toBe(p('good/nvidia/ga102/gsp/gsp-570.144.bin'));
		const e = await locateFirmwareFile('nvidia/ga102/gsp/gsp-570.144.bin', 'gsp', {
			path: p('dangle'),
			onlyPath: true,
		}).catch((x: unknown) => x);
		expect(e).toBeInstanceOf(FirmwareNotFoundError);
		expect((e as FirmwareNotFoundError).details.brokenLinks).toEqual([
			p('dangle/nvidia/ga102/gsp/gsp-570.144.bin'),
		]);
	});

	it('accepts a root that is itself an nvidia/ directory', async () => {
		put(p('flat/nvidia/tu102/gsp/gsp-570.144.bin'));
		const f = await locateFirmwareFile('nvidia/tu102/gsp/gsp-570.144.bin', 'gsp', {
			path: p('flat/nvidia'),
			onlyPath: true,
		});
		expect(f.path).toBe(p('flat/nvidia/tu102/gsp/gsp-570.144.bin'));
	});

	it('a missing set is a typed error listing every path looked at and every missing file', async () => {
		const root = p('partial');
		put(join(root, 'nvidia/tu102/gsp/booter_load-535.113.01.bin'));
		put(join(root, 'nvidia/tu102/gsp/gsp-535.113.01.bin'));
		put(p('partial2/nvidia/tu102/gsp/bootloader-535.113.01.bin.zst'));
		const opts = { path: [root, p('partial2')], onlyPath: true };
		const e = (await locateFirmwareSet('tu102', '535.113.01', opts).catch(
			(x: unknown) => x,
		)) as FirmwareNotFoundError;
		expect(e).toBeInstanceOf(FirmwareNotFoundError);
		expect([e.code, e.errno]).toEqual(['FW_NOT_FOUND', 'ENOENT']);
		expect(e.missing).toEqual([
			{ kind: 'booter_unload', names: ['nvidia/tu102/gsp/booter_unload-535.113.01.bin'] },
			{ kind: 'bootloader', names: ['nvidia/tu102/gsp/bootloader-535.113.01.bin'] },
			{
				kind: 'gen_bootloader',
				names: ['nvidia/tu102/gsp/gen_bootloader-535.113.01.bin', 'nvidia/tu102/acr/bl.bin'],
			},
		]);
		const tried = (rel: string) => [join(root, rel), p('partial2', rel)];
		expect(e.searched).toEqual([
			join(root, 'nvidia/tu102/gsp/booter_load-535.113.01.bin'),
			...tried('nvidia/tu102/gsp/booter_unload-535.113.01.bin'),
			...tried('nvidia/tu102/gsp/bootloader-535.113.01.bin'),
			join(root, 'nvidia/tu102/gsp/gsp-535.113.01.bin'),
			...tried('nvidia/tu102/gsp/gen_bootloader-535.113.01.bin'),
			...tried('nvidia/tu102/acr/bl.bin'),
		]);
		expect(e.details).toMatchObject({
			chip: 'tu102',
			version: '535.113.01',
			compressed: [p('partial2/nvidia/tu102/gsp/bootloader-535.113.01.bin.zst')],
		});
		for (const s of e.searched) expect(e.message).toContain(s);
		expect(e.message).toContain('decompress');
		// probeFirmwareSet reports the same without throwing.
		const probe = await probeFirmwareSet('tu102', '535.113.01', opts);
		expect([probe.complete, probe.files.map((f) => f.kind)]).toEqual([false, ['booter_load', 'gsp']]);
	});

	it('gen_bootloader falls back to acr/bl.bin only when no root has gen_bootloader-<ver>', async () => {
		const a = p('genbl-a');
		const b = p('genbl-b');
		for (const k of ['booter_load', 'booter_unload', 'bootloader', 'gsp'])
			put(join(a, `nvidia/tu104/gsp/${k}-570.144.bin`));
		put(join(a, 'nvidia/tu104/acr/bl.bin'));
		put(join(b, 'nvidia/tu104/gsp/gen_bootloader-570.144.bin'));
		const set = await locateFirmwareSet('tu104', '570.144', { path: [a, b], onlyPath: true });
		expect(set.byKind.gen_bootloader?.path).toBe(join(b, 'nvidia/tu104/gsp/gen_bootloader-570.144.bin'));
		const set2 = await locateFirmwareSet('tu104', '570.144', { path: [a], onlyPath: true });
		expect(set2.byKind.gen_bootloader?.path).toBe(join(a, 'nvidia/tu104/acr/bl.bin'));
	});

	it('availableBranches lists the versions with a complete set', async () => {
		const root = p('branches');
		ga102Set(root, '535.113.01');
		ga102Set(root, '570.144');
		rmSync(join(root, 'nvidia/ga102/gsp/booter_unload-570.144.bin'));
		ga102Set(root, '999.1');
		const opts = { path: root, onlyPath: true };
		expect(await availableBranches('ga102', ['535.113.01', '570.144', '999.1'], opts)).toEqual([
			'535.113.01',
			'999.1',
		]);
		expect(await availableBranches('ga102', undefined, opts)).toEqual(['535.113.01']);
		expect(await availableBranches('ga104', undefined, opts)).toEqual([]);
	});

	it('an unknown chip is an invalid argument', async () => {
		await expect(locateFirmwareSet('gv100', '570.144', { path: tmp, onlyPath: true })).rejects.toMatchObject({
			code: 'HAL_INVALID_ARGUMENT',
		});
	});
});

describe('readFirmwareFile', () => {
	it('reads into one buffer with monotonic progress ending at the size', async () => {
		const data = new Uint8Array(100_003).map((_, i) => (i * 31) & 0xff);
		put(p('big.bin'), data);
		const seen: LoadProgress[] = [];
		const f = await readFirmwareFile(p('big.bin'), { onProgress: (x) => seen.push(x), chunkSize: 4096 });
		expect(Buffer.from(f.bytes).equals(readFileSync(p('big.bin')))).toBe(true);
		expect(seen[0]).toEqual({ path: p('big.bin'), bytesRead: 0, totalBytes: 100_003 });
		expect(seen.at(-1)).toEqual({ path: p('big.bin'), bytesRead: 100_003, totalBytes: 100_003 });
		expect(seen.length).toBe(1 + Math.ceil(100_003 / 4096));
		for (let i = 1; i < seen.length; i++)
			expect((seen[i] as LoadProgress).bytesRead).toBeGreaterThan((seen[i - 1] as LoadProgress).bytesRead);
		expect([f.linkTarget, f.realPath]).toEqual([null, p('big.bin')]);
	});

	it('typed errors: missing file, directory, oversized file', async () => {
		await expect(readFirmwareFile(p('nope.bin'))).rejects.toBeInstanceOf(FirmwareNotFoundError);
		await expect(readFirmwareFile(tmp)).rejects.toBeInstanceOf(FirmwareIoError);
		await expect(readFirmwareFile(p('big.bin'), { maxSize: 1000 })).rejects.toMatchObject({
			code: 'FW_FORMAT',
			field: 'file size',
		});
	});
});
