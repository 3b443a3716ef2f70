/**
 * The extraction steps on synthetic, already-"downloaded" Debian packages in a temp cache: with the
 * package's `.complete` stamp present, bin/debian-fetch.sh returns at once, so nothing touches the network.
 */

import { execFileSync } from 'node:child_process';
import {
	existsSync,
	lstatSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	readlinkSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
	ensureFirmware,
	ensureHeaders,
	FetchError,
	firmwareDir,
	headersDir,
	LINUX_REQUIRED,
	readSourceInfo,
} from '../src/index.ts';

let cache = '';
beforeEach(() => {
	cache = mkdtempSync(join(tmpdir(), 'gspkit-fetch-x-'));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

function file(p: string, text = ''): void {
	mkdirSync(dirname(p), { recursive: true });
	writeFileSync(p, text);
}

function link(target: string, p: string): void {
	mkdirSync(dirname(p), { recursive: true });
	symlinkSync(target, p);
}

/** A package as debian-fetch.sh leaves it: unpacked, with `.deb-name` and `.complete`. */
function fakePackage(pkg: string, deb: string): string {
	const d = join(cache, 'debian', pkg);
	mkdirSync(d, { recursive: true });
	writeFileSync(join(d, '.deb-name'), `${deb}\n`);
	writeFileSync(join(d, '.complete'), '');
	return d;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
	try {
		await p;
		return 'ok';
	} catch (e) {
		if (e instanceof FetchError) return e.code;
		throw e;
	}
}

describe('ensureFirmware()', () => {
	function firmwarePackage(extra?: (nv: string) => void): void {
		const nv = join(
			fakePackage('firmware-nvidia-graphics', 'firmware-nvidia-graphics_20260916-1_all.deb'),
			'usr/lib/firmware/nvidia',
		);
		file(join(nv, 'tu102/gsp/gsp-570.144.bin'), 'TU102 GSP');
		file(join(nv, 'tu102/gsp/bootloader-535.113.01.bin'), 'BL');
		file(join(nv, 'tu102/sec2/sig.bin'), 'not gsp');
		link('../tu102/gsp', join(nv, 'tu104/gsp'));
		file(join(nv, 'ga100/gsp/booter_load-570.144.bin'), 'GA100 BOOTER');
		link('../../tu102/gsp/gsp-570.144.bin', join(nv, 'ga100/gsp/gsp-570.144.bin'));
		file(join(nv, 'ad102/gsp/gsp-570.144.bin'), 'AD102 GSP');
		link('ad102', join(nv, 'ad103'));
		file(join(nv, 'gp100/acr/bl.bin'), 'no gsp here');
		link('gp100', join(nv, 'gp10x'));
		file(join(nv, 'README'), 'x');
		extra?.(nv);
	}

	it('keeps nvidia/<chip>/gsp/ only, with every symbolic link preserved as a link', async () => {
		firmwarePackage();
		const lines: string[] = [];
		const root = await ensureFirmware({ env: { GSPKIT_CACHE: cache }, log: (l) => lines.push(l) });
		expect(root).toBe(join(cache, 'firmware'));
		expect(firmwareDir({ GSPKIT_CACHE: cache })).toBe(root);
		const nv = join(root, 'nvidia');
		expect(readFileSync(join(nv, 'tu102/gsp/gsp-570.144.bin'), 'utf8')).toBe('TU102 GSP');
		expect(readlinkSync(join(nv, 'tu104/gsp'))).toBe('../tu102/gsp');
		expect(readlinkSync(join(nv, 'ga100/gsp/gsp-570.144.bin'))).toBe('../../tu102/gsp/gsp-570.144.bin');
		expect(readFileSync(join(nv, 'ga100/gsp/gsp-570.144.bin'), 'utf8')).toBe('TU102 GSP');
		expect(lstatSync(join(nv, 'ad103')).isSymbolicLink()).toBe(true);
		expect(readFileSync(join(nv, 'ad103/gsp/gsp-570.144.bin'), 'utf8')).toBe('AD102 GSP');
		expect(existsSync(join(nv, 'tu102/sec2'))).toBe(false);
		expect(existsSync(join(nv, 'gp100'))).toBe(false);
		expect(existsSync(join(nv, 'gp10x'))).toBe(false);
		expect(existsSync(join(nv, 'README'))).toBe(false);
		expect(readSourceInfo(root)).toEqual({
			package: 'firmware-nvidia-graphics',
			version: '20260916-1',
			deb: 'firmware-nvidia-graphics_20260916-1_all.deb',
		});
		expect(lines.at(-1)).toBe(`firmware ready in ${root}: 5 chips, versions 535.113.01, 570.144`);
	});

	it('is idempotent, and --force rebuilds', async () => {
		firmwarePackage();
		const env = { GSPKIT_CACHE: cache };
		await ensureFirmware({ env });
		writeFileSync(join(cache, 'firmware/marker'), '');
		await ensureFirmware({ env });
		expect(existsSync(join(cache, 'firmware/marker'))).toBe(true);
		await ensureFirmware({ env, force: true });
		expect(existsSync(join(cache, 'firmware/marker'))).toBe(false);
		expect(existsSync(join(cache, 'firmware/nvidia/tu102/gsp/gsp-570.144.bin'))).toBe(true);
	});

	it('refuses links that point outside the kept files', async () => {
		firmwarePackage((nv) => link('../../gp100/acr/bl.bin', join(nv, 'tu102/gsp/acr-570.144.bin')));
		expect(await codeOf(ensureFirmware({ env: { GSPKIT_CACHE: cache } }))).toBe('E_EXTRACT');
		expect(firmwareDir({ GSPKIT_CACHE: cache })).toBeUndefined();
	});
});

describe('ensureHeaders()', () => {
	function linuxSource(pkg: string, omit: string[] = []): void {
		const d = fakePackage(pkg, `${pkg}_${pkg.slice('linux-source-'.length)}.1-1_all.deb`);
		const build = join(cache, 'build');
		const top = join(build, pkg);
		for (const p of LINUX_REQUIRED) if (!omit.includes(p)) file(join(top, p), `/* ${p} */\n`);
		file(join(top, 'include/uapi/linux/vfio_zdev.h'));
		file(join(top, 'include/uapi/linux/kvm.h'));
		file(join(top, 'drivers/vfio/pci/vfio_pci.c'));
		file(join(top, 'drivers/net/ethernet/x.c'));
		mkdirSync(join(d, 'usr/src'), { recursive: true });
		execFileSync('tar', ['-cJf', join(d, 'usr/src', `${pkg}.tar.xz`), '-C', build, pkg]);
		rmSync(build, { recursive: true, force: true });
	}

	it('extracts only the listed paths into <cache>/src/<package> with a stamp', async () => {
		linuxSource('linux-source-7.9');
		const env = { GSPKIT_CACHE: cache };
		const root = await ensureHeaders({ env, package: 'linux-source-7.9' });
		expect(root).toBe(join(cache, 'src/linux-source-7.9'));
		expect(headersDir(env)).toBe(root);
		for (const p of LINUX_REQUIRED) expect(existsSync(join(root, p)), p).toBe(true);
		expect(existsSync(join(root, 'include/uapi/linux/vfio_zdev.h'))).toBe(true);
		expect(existsSync(join(root, 'drivers/vfio/pci/vfio_pci.c'))).toBe(true);
		expect(existsSync(join(root, 'include/uapi/linux/kvm.h'))).toBe(false);
		expect(existsSync(join(root, 'drivers/net'))).toBe(false);
		expect(readSourceInfo(root)).toMatchObject({ package: 'linux-source-7.9', version: '7.9.1-1' });
		// A second call finds the stamp and does not extract again.
		writeFileSync(join(root, 'marker'), '');
		await ensureHeaders({ env, package: 'linux-source-7.9' });
		expect(existsSync(join(root, 'marker'))).toBe(true);
	});

	it('names every missing required file', async () => {
		const missing = LINUX_REQUIRED.filter((p) => p.includes('nova-core') || p.includes('r570/nvrm/gsp.h'));
		linuxSource('linux-source-7.8', missing);
		try {
			await ensureHeaders({ env: { GSPKIT_CACHE: cache }, package: 'linux-source-7.8' });
			expect.unreachable();
		} catch (e) {
			expect((e as FetchError).code).toBe('E_EXTRACT');
			for (const m of missing) expect((e as Error).message).toContain(m);
		}
		expect(existsSync(join(cache, 'src/linux-source-7.8'))).toBe(false);
	});

	it('rejects a package that is not linux-source-7.N before fetching anything', async () => {
		expect(await codeOf(ensureHeaders({ env: { GSPKIT_CACHE: cache }, package: 'linux-source-6.12' }))).toBe(
			'E_USAGE',
		);
		expect(existsSync(join(cache, 'debian'))).toBe(false);
	});

	it('$GSPKIT_HEADERS short-circuits fetching', async () => {
		const tree = join(cache, 'mytree');
		mkdirSync(tree);
		expect(await ensureHeaders({ env: { GSPKIT_CACHE: cache, GSPKIT_HEADERS: tree } })).toBe(tree);
		expect(
			await codeOf(ensureHeaders({ env: { GSPKIT_CACHE: cache, GSPKIT_HEADERS: join(cache, 'none') } })),
		).toBe('E_NOT_FOUND');
	});
});
