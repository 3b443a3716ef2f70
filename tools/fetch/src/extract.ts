/**
 * Shared steps of the fetchers: locating a package's unpack directory, extracting from its tarball into a
 * temporary directory, and swapping the result into place with a `.complete` stamp.
 *
 * @module
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FetchError } from './errors.ts';
import { type SourceInfo, STAMP } from './paths.ts';
import { debianFetch, type FetchOptions, run } from './run.ts';

/** Splits a `.deb` file name (`pkg_1.2-3_all.deb`) into package and version. */
export function parseDebName(deb: string): { readonly package: string; readonly version: string } {
	const m = /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(basename(deb));
	if (!m) throw new FetchError('E_EXTRACT', `not a Debian package file name: ${deb}`, { deb });
	// Debian encodes an epoch's ':' as '%3a' in file names.
	return { package: m[1]!, version: decodeURIComponent(m[2]!) };
}

/** A fetched (unpacked) Debian package. */
export interface FetchedPackage extends SourceInfo {
	/** Directory the package was unpacked into. */
	readonly dir: string;
}

/** Fetches one Debian package through bin/debian-fetch.sh (a no-op when it is already unpacked). */
export async function fetchPackage(pkg: string, suites: string, opts: FetchOptions): Promise<FetchedPackage> {
	opts.log?.(`fetching Debian package ${pkg} (${suites})`);
	const { stdout } = await debianFetch([pkg, suites], opts);
	const dir = stdout.trim().split('\n').pop() ?? '';
	if (!dir || !existsSync(dir)) {
		throw new FetchError('E_COMMAND_FAILED', `debian-fetch.sh printed no directory for ${pkg}`, { pkg });
	}
	const debFile = join(dir, '.deb-name');
	const deb = existsSync(debFile) ? readFileSync(debFile, 'utf8').trim() : `${pkg}_unknown_all.deb`;
	const parsed = parseDebName(deb);
	return { dir, deb, package: parsed.package, version: parsed.version };
}

/** The single `*.tar.xz` below `<dir>/usr/src`, which is how Debian ships source packages. */
export function findTarball(dir: string, pkg: string): string {
	const src = join(dir, 'usr', 'src');
	const tars = existsSync(src) ? readdirSync(src).filter((f) => /\.tar\.(xz|bz2|gz)$/.test(f)) : [];
	if (tars.length !== 1) {
		throw new FetchError(
			'E_EXTRACT',
			`expected one source tarball in ${src} (package ${pkg}), found ${tars.length}`,
			{
				dir: src,
				found: tars,
			},
		);
	}
	return join(src, tars[0]!);
}

/**
 * Runs `tar -x` of the given wildcard members into `into`. Members the archive lacks are not an error
 * here (tar still extracts the rest): the caller checks for the files it needs and names what is missing.
 */
export async function tarExtract(
	tarball: string,
	into: string,
	members: readonly string[],
	opts: FetchOptions & { readonly stripComponents?: number },
): Promise<void> {
	mkdirSync(into, { recursive: true });
	const args = ['-xf', tarball, '-C', into, '--wildcards', '--no-same-owner'];
	if (opts.stripComponents) args.push(`--strip-components=${opts.stripComponents}`);
	try {
		await run('tar', [...args, ...members], opts.verbose ? { verbose: true } : {});
	} catch (e) {
		const onlyMissing =
			e instanceof FetchError &&
			e.details?.status === 2 &&
			e.message
				.split('\n')
				.slice(1)
				.every((l) => /Not found in archive|Exiting with failure status/.test(l));
		if (!onlyMissing) throw e;
		opts.log?.(
			`some paths are not in ${basename(tarball)}: ${e.message.split('\n').slice(1, -1).join('; ')}`,
		);
	}
}

/** A fresh temporary directory next to `dest` (same file system, so the final rename is atomic). */
export function tempDirFor(dest: string): string {
	const tmp = `${dest}.tmp-${process.pid}`;
	rmSync(tmp, { recursive: true, force: true });
	mkdirSync(tmp, { recursive: true });
	return tmp;
}

/** Writes the stamp into `ready` and moves it to `dest`, replacing whatever was there. */
export function commit(ready: string, dest: string, info: SourceInfo): void {
	writeFileSync(join(ready, STAMP), `${JSON.stringify(info, null, 2)}\n`);
	mkdirSync(dirname(dest), { recursive: true });
	const old = `${dest}.old-${process.pid}`;
	if (existsSync(dest)) renameSync(dest, old);
	renameSync(ready, dest);
	rmSync(old, { recursive: true, force: true });
}

/** Throws `E_EXTRACT` naming every required path that is missing below `root`. */
export function requirePaths(root: string, required: readonly string[], what: string): void {
	const missing = required.filter((p) => !existsSync(join(root, p)));
	if (missing.length > 0) {
		throw new FetchError(
			'E_EXTRACT',
			`${what} lacks ${missing.length} required file(s):\n  ${missing.join('\n  ')}`,
			{
				root,
				missing,
			},
		);
	}
}
