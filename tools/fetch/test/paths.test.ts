/** Cache look-ups and the small parsers; temp directories only, no network. */

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
	cacheDir,
	cachePaths,
	compareVersions,
	firmwareDir,
	headersDir,
	memberPrefix,
	nvidiaOpenDir,
	parseDebName,
	pickLinuxSource,
	readSourceInfo,
	STAMP,
	summarizeFirmware,
} from '../src/index.ts';

let tmp = '';
beforeEach(() => {
	tmp = mkdtempSync(join(tmpdir(), 'gspkit-fetch-paths-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function dir(rel: string, stamp?: string): string {
	const p = join(tmp, rel);
	mkdirSync(p, { recursive: true });
	if (stamp !== undefined) writeFileSync(join(p, STAMP), stamp);
	return p;
}

describe('cacheDir()', () => {
	it('prefers $GSPKIT_CACHE, then $XDG_CACHE_HOME/gspkit, then ~/.cache/gspkit', () => {
		expect(cacheDir({ GSPKIT_CACHE: '/a/b', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/a/b');
		expect(cacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/gspkit');
		expect(cacheDir({ HOME: '/h' })).toBe('/h/.cache/gspkit');
	});
});

describe('headersDir()', () => {
	it('is undefined until an extraction is stamped complete', () => {
		const env = { GSPKIT_CACHE: tmp };
		expect(headersDir(env)).toBeUndefined();
		dir('src/linux-source-7.2');
		expect(headersDir(env)).toBeUndefined();
		writeFileSync(join(tmp, 'src/linux-source-7.2', STAMP), '');
		expect(headersDir(env)).toBe(join(tmp, 'src/linux-source-7.2'));
	});

	it('picks the newest complete tree by version, not by string order', () => {
		dir('src/linux-source-7.2', '');
		dir('src/linux-source-7.10', '');
		dir('src/linux-source-7.11'); // incomplete
		expect(headersDir({ GSPKIT_CACHE: tmp })).toBe(join(tmp, 'src/linux-source-7.10'));
	});

	it('$GSPKIT_HEADERS overrides the cache (and must exist)', () => {
		dir('src/linux-source-7.2', '');
		const other = dir('kernel');
		expect(headersDir({ GSPKIT_CACHE: tmp, GSPKIT_HEADERS: other })).toBe(other);
		expect(headersDir({ GSPKIT_CACHE: tmp, GSPKIT_HEADERS: join(tmp, 'nope') })).toBeUndefined();
	});
});

describe('firmwareDir(), nvidiaOpenDir(), cachePaths()', () => {
	it('report stamped directories and their source metadata', () => {
		const env = { GSPKIT_CACHE: tmp };
		expect(firmwareDir(env)).toBeUndefined();
		const info = { package: 'firmware-nvidia-graphics', version: '20260916-1', deb: 'f.deb' };
		dir('firmware', JSON.stringify(info));
		dir('src/nvidia-open-535.261.03', '');
		dir('src/nvidia-open-550.163.01', '');
		expect(firmwareDir(env)).toBe(join(tmp, 'firmware'));
		expect(nvidiaOpenDir(env)).toBe(join(tmp, 'src/nvidia-open-550.163.01'));
		const p = cachePaths(env);
		expect(p).toMatchObject({
			cache: tmp,
			headers: null,
			firmware: join(tmp, 'firmware'),
			firmwareSource: info,
		});
		expect(firmwareDir({ ...env, GSPKIT_FIRMWARE: '/' })).toBe('/');
	});

	it('readSourceInfo tolerates empty and malformed stamps', () => {
		expect(readSourceInfo(dir('a', ''))).toBeUndefined();
		expect(readSourceInfo(dir('b', '{"package": 1}'))).toBeUndefined();
		expect(readSourceInfo(dir('c', 'not json'))).toBeUndefined();
		expect(readSourceInfo(dir('d', '{"package":"p","version":"1","deb":"p_1_all.deb"}'))).toEqual({
			package: 'p',
			version: '1',
			deb: 'p_1_all.deb',
		});
	});
});

describe('parsers', () => {
	it('compareVersions orders numerically', () => {
		expect(compareVersions('7.10', '7.2')).toBeGreaterThan(0);
		expect(compareVersions('550.163.01', '535.261.03')).toBeGreaterThan(0);
		expect(compareVersions('7.2', '7.2')).toBe(0);
		expect(compareVersions('7.2', '7.2.1')).toBeLessThan(0);
	});

	it('pickLinuxSource takes the newest linux-source-7.N with a candidate', () => {
		expect(
			pickLinuxSource('linux-source-7.2 7.2.13-1\nlinux-source-7.10 7.10.1-1\nlinux-source-7.11 none\n'),
		).toBe('linux-source-7.10');
		expect(pickLinuxSource('linux-source-6.12 6.12.1-1\nlinux-source 1\n')).toBeUndefined();
		expect(pickLinuxSource('')).toBeUndefined();
	});

	it('parseDebName splits package and version (epochs decoded)', () => {
		expect(parseDebName('/x/linux-source-7.2_7.2.13-1_all.deb')).toEqual({
			package: 'linux-source-7.2',
			version: '7.2.13-1',
		});
		expect(parseDebName('p_1%3a2.0-1_amd64.deb')).toEqual({ package: 'p', version: '1:2.0-1' });
		expect(() => parseDebName('notadeb.tar')).toThrow(/not a Debian package/);
	});

	it('memberPrefix finds the directory in front of nvidia-uvm/', () => {
		expect(
			memberPrefix('modules/\nmodules/nvidia-open-kernel/\nmodules/nvidia-open-kernel/nvidia-uvm/\n'),
		).toBe('modules/nvidia-open-kernel/');
		expect(memberPrefix('nvidia-uvm/hwref/\n')).toBe('');
		expect(memberPrefix('kernel/not-nvidia-uvm/x\n')).toBeUndefined();
	});

	it('summarizeFirmware lists chips with gsp/ (through links) and the versions seen', () => {
		dir('fw/nvidia/tu102/gsp');
		writeFileSync(join(tmp, 'fw/nvidia/tu102/gsp/gsp-535.113.01.bin'), '');
		writeFileSync(join(tmp, 'fw/nvidia/tu102/gsp/booter_load-570.144.bin'), '');
		symlinkSync('tu102', join(tmp, 'fw/nvidia/tu104'));
		dir('fw/nvidia/gp100/acr');
		expect(summarizeFirmware(join(tmp, 'fw'))).toEqual({
			chips: ['tu102', 'tu104'],
			versions: ['535.113.01', '570.144'],
		});
	});
});
