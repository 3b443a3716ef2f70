/**
 * A C program written against the kernel's own `drm.h`/`nouveau_drm.h` (tests/test/fixtures/drm-c-client.c)
 * talks to gspkit-drm on the real core device: the wire format really is the kernel structs plus inline arrays.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDevice } from '@gspkit/drm-driver';
import { headersDir } from '@gspkit/fetch';
import { afterAll, describe, expect, it } from 'vitest';
import { openSynthetic } from './core-kit.ts';

const drmHeaders = (() => {
	const tree = headersDir();
	const dir = tree === undefined ? undefined : join(tree, 'include', 'uapi', 'drm');
	return dir !== undefined && existsSync(join(dir, 'nouveau_drm.h')) ? dir : undefined;
})();
const hasGcc = (() => {
	try {
		execFileSync('gcc', ['--version'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
})();
const work = mkdtempSync(join(tmpdir(), 'gspkit-drm-c-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(drmHeaders === undefined || !hasGcc)(
	'a C client using the kernel uAPI headers (needs `npm run fetch -- headers` and gcc)',
	() => {
		it('opens, queries, creates syncobjs and GEM objects with the errnos the kernel would return', async () => {
			// drm_mode.h wants <linux/bits.h>, which the distribution's linux-libc-dev may lack.
			mkdirSync(join(work, 'shim', 'linux'), { recursive: true });
			writeFileSync(join(work, 'shim', 'linux', 'bits.h'), '#pragma once\n#include <linux/const.h>\n');
			const exe = join(work, 'client');
			execFileSync('gcc', [
				'-std=gnu11',
				'-Wall',
				'-Werror',
				'-D__user=',
				'-I',
				join(work, 'shim'),
				'-I',
				drmHeaders as string,
				join(import.meta.dirname, 'fixtures', 'drm-c-client.c'),
				'-o',
				exe,
			]);

			const { gpu, device } = await openSynthetic('ga102', '570');
			const socketPath = join(work, 'drm.sock');
			const service = await serveDevice(device, { socketPath });
			try {
				const out = await new Promise<string>((resolve, reject) => {
					// Async spawn: the server runs in this process and must keep answering.
					import('node:child_process').then(({ execFile }) =>
						execFile(exe, [socketPath], { timeout: 30_000 }, (error, stdout) =>
							error ? reject(error) : resolve(stdout),
						),
					);
				});
				const lines = Object.fromEntries(
					out
						.trim()
						.split('\n')
						.map((l) => {
							const [step, ...rest] = l.split(' ');
							return [step, rest];
						}),
				);
				expect(lines.open).toEqual(['3']);
				expect(lines.version?.[0]).toBe('0');
				expect(lines.version?.[1]).toBe('nouveau');
				expect(lines['getparam-vendor']).toEqual(['0', '10de']);
				expect(lines['getparam-unknown']).toEqual(['-22']); // EINVAL
				expect(lines['syncobj-create']).toEqual(['0', '1']);
				expect(lines['syncobj-wait']).toEqual(['0']);
				expect(lines['gem-new']).toEqual(['0', '1', '65536']);
				expect(lines['gem-close']).toEqual(['0']);
				expect(lines['gem-close-again']).toEqual(['-22']); // EINVAL, as the core GEM_CLOSE
			} finally {
				await service.close();
				await device.close();
				await gpu.close();
			}
		});
	},
);
