/**
 * Where the real kernel uAPI headers are. This mirrors `headersDir()` of `@gspkit/fetch` (packages may not
 * import tools): `$GSPKIT_HEADERS`, else the newest complete `<cache>/src/linux-source-*`, where `<cache>` is
 * `$GSPKIT_CACHE`, else `$XDG_CACHE_HOME/gspkit`, else `~/.cache/gspkit`.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

function cacheDir(): string {
	if (process.env.GSPKIT_CACHE) return resolve(process.env.GSPKIT_CACHE);
	return join(process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), '.cache'), 'gspkit');
}

function versionKey(v: string): number[] {
	return v.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
}

/** The Linux tree root holding `include/uapi/drm`, or `undefined`. */
export function linuxTree(): string | undefined {
	const env = process.env.GSPKIT_HEADERS;
	if (env) return existsSync(env) ? resolve(env) : undefined;
	const src = join(cacheDir(), 'src');
	if (!existsSync(src)) return undefined;
	const trees = readdirSync(src)
		.filter((d) => d.startsWith('linux-source-') && existsSync(join(src, d, '.complete')))
		.sort((a, b) => {
			const ka = versionKey(a.slice('linux-source-'.length));
			const kb = versionKey(b.slice('linux-source-'.length));
			for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
				const d = (kb[i] ?? 0) - (ka[i] ?? 0);
				if (d !== 0) return d;
			}
			return 0;
		});
	return trees[0] === undefined ? undefined : join(src, trees[0]);
}

/** `include/uapi/drm` when it holds drm.h and nouveau_drm.h, else `undefined`. */
export function drmHeadersDir(): string | undefined {
	const tree = linuxTree();
	if (tree === undefined) return undefined;
	const dir = join(tree, 'include', 'uapi', 'drm');
	return existsSync(join(dir, 'drm.h')) && existsSync(join(dir, 'nouveau_drm.h')) ? dir : undefined;
}

/** Whether a working `gcc` is on the PATH. */
export function hasGcc(): boolean {
	try {
		execFileSync('gcc', ['--version'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}
