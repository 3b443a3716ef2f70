/**
 * The files `firmwareFiles(chip)` names are the ones the published firmware set holds for 535.113.01.
 * Runs against the real files when `gspkit-fetch firmware` has put them in the cache; skips otherwise.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi } from '../src/index.ts';
import { firmwareCache } from './support/firmware-cache.ts';

const root = firmwareCache();

describe.skipIf(root === undefined)('r535 firmware files on disk', () => {
	it('every required file of every served chip exists', () => {
		for (const chip of abi.chips) {
			for (const f of abi.firmwareFiles(chip)) expect(existsSync(join(root!, f)), f).toBe(true);
		}
	});

	it('lists every 535.113.01 file of the chip directory (nothing required is left out)', () => {
		for (const chip of abi.chips) {
			const dir = join(root!, 'nvidia', chip, 'gsp');
			const onDisk = readdirSync(dir).filter((f) => f.endsWith('-535.113.01.bin'));
			const listed = abi
				.firmwareFiles(chip)
				.filter((f) => f.includes('/gsp/'))
				.map((f) => f.split('/').pop());
			expect(listed.sort(), chip).toEqual(onDisk.sort());
		}
	});

	it('has no 535.113.01 firmware for Hopper or Blackwell', () => {
		for (const chip of ['gh100', 'gb100', 'gb202']) {
			const dir = join(root!, 'nvidia', chip, 'gsp');
			if (existsSync(dir))
				expect(
					readdirSync(dir).some((f) => f.includes('535.113.01')),
					chip,
				).toBe(false);
		}
	});
});
