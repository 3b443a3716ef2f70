/**
 * `gspkit-fetch headers`: the published GSP-RM ABI headers, from Debian's `linux-source-7.N`.
 *
 * @module
 */

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FetchError } from './errors.ts';
import { commit, fetchPackage, findTarball, requirePaths, tarExtract, tempDirFor } from './extract.ts';
import { cacheDir, compareVersions, headersDir, isComplete, LINUX_EXTRACT, LINUX_REQUIRED } from './paths.ts';
import { debianFetch, type FetchOptions } from './run.ts';

/** The Debian suite searched for linux-source packages (the ABI headers need Linux ≥ 7). */
export const LINUX_SOURCE_SUITE = 'sid';

/** Matches the package names that can hold the headers. */
export const LINUX_SOURCE_PATTERN = /^linux-source-(7\.\d+)$/;

/** Options of {@link ensureHeaders}. */
export interface HeadersOptions extends FetchOptions {
	/** Use this package (e.g. `linux-source-7.2`) instead of the newest `linux-source-7.*`. */
	readonly package?: string;
}

/** Picks the newest `linux-source-7.N` from `debian-fetch.sh --search` output ("name version" lines). */
export function pickLinuxSource(searchOutput: string): string | undefined {
	const names = searchOutput
		.split('\n')
		.map((l) => l.trim().split(/\s+/))
		.filter((f) => f[0] !== undefined && LINUX_SOURCE_PATTERN.test(f[0]) && f[1] !== 'none')
		.map((f) => f[0]!);
	names.sort((a, b) => compareVersions(b.replace('linux-source-', ''), a.replace('linux-source-', '')));
	return names[0];
}

async function chooseLinuxSource(opts: FetchOptions): Promise<string> {
	opts.log?.(`looking for linux-source-7.* in Debian ${LINUX_SOURCE_SUITE}`);
	let out = '';
	try {
		out = (await debianFetch(['--search', '^linux-source-7\\.[0-9]+$', LINUX_SOURCE_SUITE], opts)).stdout;
	} catch (e) {
		if (!(e instanceof FetchError) || e.code !== 'E_NOT_FOUND') throw e;
	}
	const pkg = pickLinuxSource(out);
	if (!pkg) {
		throw new FetchError(
			'E_NOT_FOUND',
			`no linux-source-7.* package is available in Debian ${LINUX_SOURCE_SUITE}. The GSP ABI headers ` +
				'(nouveau rm/r535 and rm/r570, nova-core r570_144 bindings) first ship with Linux 7. ' +
				'Pin a package with --package, or point $GSPKIT_HEADERS at a Linux ≥ 7 source tree.',
			{ suite: LINUX_SOURCE_SUITE },
		);
	}
	return pkg;
}

/**
 * Makes sure the Linux headers are extracted and returns the tree root (see `headersDir()`).
 * Idempotent: with a `.complete` stamp present (and no `force`), nothing is downloaded.
 */
export async function ensureHeaders(opts: HeadersOptions = {}): Promise<string> {
	const env = opts.env ?? process.env;
	if (env.GSPKIT_HEADERS && !opts.package) {
		const dir = headersDir(env);
		if (!dir) throw new FetchError('E_NOT_FOUND', `$GSPKIT_HEADERS=${env.GSPKIT_HEADERS} is not a directory`);
		return dir;
	}
	const srcRoot = join(cacheDir(env), 'src');
	if (!opts.force) {
		if (opts.package) {
			if (isComplete(join(srcRoot, opts.package))) return join(srcRoot, opts.package);
		} else {
			const have = headersDir({ ...env, GSPKIT_HEADERS: undefined });
			if (have) {
				opts.log?.(`headers already extracted in ${have}`);
				return have;
			}
		}
	}
	const pkg = opts.package ?? (await chooseLinuxSource(opts));
	if (!LINUX_SOURCE_PATTERN.test(pkg)) {
		throw new FetchError('E_USAGE', `--package must name a linux-source-7.N package, not ${pkg}`);
	}
	const fetched = await fetchPackage(pkg, LINUX_SOURCE_SUITE, opts);
	const tarball = findTarball(fetched.dir, pkg);
	const dest = join(srcRoot, pkg);
	const tmp = tempDirFor(dest);
	try {
		opts.log?.(`extracting ${LINUX_EXTRACT.length} paths from ${tarball} (about 10-20 s)`);
		await tarExtract(
			tarball,
			tmp,
			LINUX_EXTRACT.map((m) => `${pkg}/${m}`),
			opts,
		);
		const tree = join(tmp, pkg);
		if (!existsSync(tree)) {
			throw new FetchError('E_EXTRACT', `${tarball} has no top-level ${pkg}/ directory`, { tarball });
		}
		requirePaths(tree, LINUX_REQUIRED, `${pkg} ${fetched.version}`);
		commit(tree, dest, { package: fetched.package, version: fetched.version, deb: fetched.deb });
		opts.log?.(`headers ready in ${dest}`);
		return dest;
	} finally {
		rmSync(tmp, { recursive: true, force: true });
	}
}
