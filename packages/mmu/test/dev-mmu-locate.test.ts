/**
 * The header tests must find NVIDIA's dev_mmu.h where `npm run fetch -- nvidia-open` puts it
 * (`<cache>/src/nvidia-open-<version>/nvidia-uvm/hwref/…`), not only in a hand-extracted tree; otherwise they
 * silently skip.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findDevMmu, loadHeaders } from './helpers/dev-mmu.ts';

const saved = { cache: process.env.GSPKIT_CACHE, hwref: process.env.GSPKIT_HWREF };
let dir: string | undefined;

function fakeCache(layout: Record<string, string>): string {
	dir = mkdtempSync(join(tmpdir(), 'mmu-devmmu-'));
	for (const [rel, text] of Object.entries(layout)) {
		const p = join(dir, rel);
		mkdirSync(join(p, '..'), { recursive: true });
		writeFileSync(p, text);
	}
	process.env.GSPKIT_CACHE = dir;
	delete process.env.GSPKIT_HWREF;
	return dir;
}

afterEach(() => {
	if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
	dir = undefined;
	for (const [k, v] of [
		['GSPKIT_CACHE', saved.cache],
		['GSPKIT_HWREF', saved.hwref],
	] as const) {
		if (v === undefined) delete process.env[k];
		else process.env[k] = v;
	}
});

const HDR = '#define NV_MMU_VER2_PTE_VALID 0:0\n';

describe('findDevMmu', () => {
	it('finds the fetch tool layout, newest version first', () => {
		const root = fakeCache({
			'src/nvidia-open-535.9.1/nvidia-uvm/hwref/turing/tu102/dev_mmu.h': HDR,
			'src/nvidia-open-550.163.01/nvidia-uvm/hwref/turing/tu102/dev_mmu.h': HDR,
			'src/nvidia-open-550.54.14/nvidia-uvm/hwref/turing/tu102/dev_mmu.h': HDR,
		});
		expect(findDevMmu('turing/tu102')).toBe(
			join(root, 'src/nvidia-open-550.163.01/nvidia-uvm/hwref/turing/tu102/dev_mmu.h'),
		);
		expect(findDevMmu('hopper/gh100')).toBeUndefined();
	});

	it('still finds a hand-extracted tarball under src/nvidia-open/', () => {
		const root = fakeCache({
			'src/nvidia-open/kernel-open/nvidia-uvm/hwref/hopper/gh100/dev_mmu.h': HDR,
		});
		expect(findDevMmu('hopper/gh100')).toBe(
			join(root, 'src/nvidia-open/kernel-open/nvidia-uvm/hwref/hopper/gh100/dev_mmu.h'),
		);
	});

	it('honours GSPKIT_HWREF and names the fetch command when nothing is there', () => {
		const root = fakeCache({ 'elsewhere/turing/tu102/dev_mmu.h': HDR });
		const none = loadHeaders();
		expect('missing' in none && none.missing).toContain('npm run fetch -- nvidia-open');
		process.env.GSPKIT_HWREF = join(root, 'elsewhere');
		expect(findDevMmu('turing/tu102')).toBe(join(root, 'elsewhere/turing/tu102/dev_mmu.h'));
	});
});
