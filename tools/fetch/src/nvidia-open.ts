/**
 * `gspkit-fetch nvidia-open`: NVIDIA's own hardware reference headers (`nvidia-uvm/hwref/<arch>/<chip>/
 * dev_mmu.h`, `dev_fault.h`, `dev_runlist.h`, …) and host class headers (`clc56f.h`, …) from Debian's
 * `nvidia-open-kernel-source` (contrib).
 *
 * @module
 */

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FetchError } from './errors.ts';
import { commit, fetchPackage, findTarball, tarExtract, tempDirFor } from './extract.ts';
import { cacheDir, NVIDIA_OPEN_EXTRACT, nvidiaOpenDir } from './paths.ts';
import { type FetchOptions, run } from './run.ts';

/** The Debian package holding the open kernel modules' source. */
export const NVIDIA_OPEN_PACKAGE = 'nvidia-open-kernel-source';

/** Suites searched; the candidate is the newest version among them. */
export const NVIDIA_OPEN_SUITES = 'sid trixie';

/** The member prefix in front of `nvidia-uvm/` (e.g. `modules/nvidia-open-kernel/`), from a `tar -t` list. */
export function memberPrefix(listing: string): string | undefined {
	for (const line of listing.split('\n')) {
		const i = line.indexOf('nvidia-uvm/');
		if (i >= 0 && (i === 0 || line[i - 1] === '/')) return line.slice(0, i);
	}
	return undefined;
}

/**
 * Makes sure the nvidia-open headers are extracted into `<cache>/src/nvidia-open-<version>/` and returns
 * that directory. Idempotent through the `.complete` stamp.
 */
export async function ensureNvidiaOpen(opts: FetchOptions = {}): Promise<string> {
	const env = opts.env ?? process.env;
	const have = nvidiaOpenDir(env);
	if (have && !opts.force) {
		opts.log?.(`nvidia-open headers already in ${have}`);
		return have;
	}
	const fetched = await fetchPackage(NVIDIA_OPEN_PACKAGE, NVIDIA_OPEN_SUITES, opts);
	const tarball = findTarball(fetched.dir, NVIDIA_OPEN_PACKAGE);
	const upstream = fetched.version.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
	const dest = join(cacheDir(env), 'src', `nvidia-open-${upstream}`);
	opts.log?.(`listing ${tarball}`);
	const prefix = memberPrefix((await run('tar', ['-tf', tarball])).stdout);
	if (prefix === undefined) {
		throw new FetchError('E_EXTRACT', `${tarball} has no nvidia-uvm/ directory`, { tarball });
	}
	const tmp = tempDirFor(dest);
	try {
		opts.log?.(`extracting ${NVIDIA_OPEN_EXTRACT.join(', ')}`);
		await tarExtract(
			tarball,
			tmp,
			NVIDIA_OPEN_EXTRACT.map((m) => `${prefix}${m}`),
			{ ...opts, stripComponents: prefix.split('/').filter(Boolean).length },
		);
		const hwref = join(tmp, 'nvidia-uvm', 'hwref');
		const archs = existsSync(hwref) ? readdirSync(hwref) : [];
		const mmu = archs.flatMap((a) =>
			readdirSync(join(hwref, a)).filter((chip) => existsSync(join(hwref, a, chip, 'dev_mmu.h'))),
		);
		if (mmu.length === 0) {
			throw new FetchError(
				'E_EXTRACT',
				`${NVIDIA_OPEN_PACKAGE} ${fetched.version} has no nvidia-uvm/hwref/*/*/dev_mmu.h`,
			);
		}
		commit(tmp, dest, { package: fetched.package, version: fetched.version, deb: fetched.deb });
		opts.log?.(`nvidia-open headers ready in ${dest} (dev_mmu.h for ${mmu.sort().join(', ')})`);
		return dest;
	} finally {
		rmSync(tmp, { recursive: true, force: true });
	}
}
