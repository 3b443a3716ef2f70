/**
 * The files `firmwareFiles(chip)` names are the ones the published firmware set holds for 570.144.
 * Runs against the real files when `gspkit-fetch firmware` has put them in the cache; skips otherwise.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { abi } from '../src/index.ts';

const { firmwareCache } = (await import(
	fileURLToPath(new URL('../../abi-r535/test/support/firmware-cache.ts', import.meta.url))
)) as { firmwareCache(): string | undefined };
const root = firmwareCache();

describe.skipIf(root === undefined)('r570 firmware files on disk', () => {
	it('every required file of every served chip exists', () => {
		for (const chip of abi.chips) {
			for (const f of abi.firmwareFiles(chip)) expect(existsSync(join(root!, f)), f).toBe(true);
		}
	});

	it('lists every 570.144 file of the chip directory except the optional Ada scrubber', () => {
		for (const chip of abi.chips) {
			const onDisk = readdirSync(join(root!, 'nvidia', chip, 'gsp')).filter(
				(f) => f.endsWith('-570.144.bin') && !f.startsWith('scrubber-'),
			);
			const listed = abi.firmwareFiles(chip).map((f) => f.split('/').pop());
			expect(listed.sort(), chip).toEqual(onDisk.sort());
		}
	});
});
