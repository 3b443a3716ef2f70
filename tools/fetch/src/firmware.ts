/**
 * `gspkit-fetch firmware`: NVIDIA's GSP firmware files from Debian's `firmware-nvidia-graphics`.
 *
 * Only `nvidia/<chip>/gsp/` is kept. The package links many chips to another chip's copy (whole chip
 * directories, `gsp/` directories and single files); those symbolic links are preserved as links, so the
 * cache has the same shape as `/lib/firmware`.
 *
 * @module
 */

import {
	copyFileSync,
	existsSync,
	linkSync,
	lstatSync,
	mkdirSync,
	readdirSync,
	readlinkSync,
	rmSync,
	statSync,
	symlinkSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { FetchError } from './errors.ts';
import { commit, fetchPackage, tempDirFor } from './extract.ts';
import { cacheDir, isComplete } from './paths.ts';
import type { FetchOptions } from './run.ts';

/** The Debian package holding the `linux-firmware` NVIDIA files. */
export const FIRMWARE_PACKAGE = 'firmware-nvidia-graphics';

/** Suites searched, newest first (trixie's copy holds only 535.113.01). */
export const FIRMWARE_SUITES = 'sid trixie';

/** Copies `src` to `dst` keeping symbolic links verbatim; regular files are hard-linked when possible. */
function copyTree(src: string, dst: string): void {
	const st = lstatSync(src);
	if (st.isSymbolicLink()) {
		symlinkSync(readlinkSync(src), dst);
	} else if (st.isDirectory()) {
		mkdirSync(dst, { recursive: true });
		for (const e of readdirSync(src).sort()) copyTree(join(src, e), join(dst, e));
	} else {
		try {
			linkSync(src, dst);
		} catch {
			copyFileSync(src, dst);
		}
	}
}

/** Every path below `root` (recursively, not following links). */
function walk(root: string, out: string[] = []): string[] {
	for (const e of readdirSync(root)) {
		const p = join(root, e);
		out.push(p);
		if (lstatSync(p).isDirectory()) walk(p, out);
	}
	return out;
}

/** What a firmware root holds: chips with a `gsp/` directory and the firmware versions seen. */
export interface FirmwareSummary {
	readonly chips: readonly string[];
	readonly versions: readonly string[];
}

/** Lists the chips and GSP firmware versions found under `<root>/nvidia/`. */
export function summarizeFirmware(root: string): FirmwareSummary {
	const nv = join(root, 'nvidia');
	const chips: string[] = [];
	const versions = new Set<string>();
	for (const chip of existsSync(nv) ? readdirSync(nv).sort() : []) {
		const gsp = join(nv, chip, 'gsp');
		if (!existsSync(gsp)) continue;
		chips.push(chip);
		for (const f of readdirSync(gsp)) {
			const m = /-(\d+\.\d+(?:\.\d+)?)\.bin$/.exec(f);
			if (m) versions.add(m[1]!);
		}
	}
	return { chips, versions: [...versions].sort() };
}

/**
 * Makes sure the GSP firmware files are in `<cache>/firmware/nvidia/<chip>/gsp/` and returns the firmware
 * root `<cache>/firmware`. Idempotent through the `.complete` stamp.
 */
export async function ensureFirmware(opts: FetchOptions = {}): Promise<string> {
	const env = opts.env ?? process.env;
	const dest = join(cacheDir(env), 'firmware');
	if (!opts.force && isComplete(dest)) {
		opts.log?.(`firmware already in ${dest}`);
		return dest;
	}
	const fetched = await fetchPackage(FIRMWARE_PACKAGE, FIRMWARE_SUITES, opts);
	const src = [join(fetched.dir, 'usr/lib/firmware/nvidia'), join(fetched.dir, 'lib/firmware/nvidia')].find(
		(d) => existsSync(d),
	);
	if (!src) {
		throw new FetchError(
			'E_EXTRACT',
			`${FIRMWARE_PACKAGE} ${fetched.version} has no lib/firmware/nvidia directory`,
		);
	}
	const tmp = tempDirFor(dest);
	try {
		const out = join(tmp, 'nvidia');
		mkdirSync(out);
		for (const chip of readdirSync(src).sort()) {
			const from = join(src, chip);
			// A chip that is itself a link counts when what it points to has gsp/ (statSync follows the link).
			if (!existsSync(join(from, 'gsp')) || !statSync(join(from, 'gsp')).isDirectory()) continue;
			if (lstatSync(from).isSymbolicLink()) {
				symlinkSync(readlinkSync(from), join(out, chip));
			} else {
				mkdirSync(join(out, chip));
				copyTree(join(from, 'gsp'), join(out, chip, 'gsp'));
				// 535.113.01 has no gen_bootloader: Turing and GA100 load the generic bootloader from
				// acr/bl.bin (a link to another chip's copy), so keep that file, resolved.
				const bl = join(from, 'acr', 'bl.bin');
				if (existsSync(bl)) {
					mkdirSync(join(out, chip, 'acr'));
					copyFileSync(bl, join(out, chip, 'acr', 'bl.bin'));
				}
			}
		}
		const dangling = walk(out).filter((p) => !existsSync(p));
		if (dangling.length > 0) {
			throw new FetchError(
				'E_EXTRACT',
				`these links point outside nvidia/*/gsp: ${dangling.map((p) => relative(tmp, p)).join(', ')}`,
				{ dangling },
			);
		}
		const summary = summarizeFirmware(tmp);
		if (summary.chips.length === 0) {
			throw new FetchError(
				'E_EXTRACT',
				`${FIRMWARE_PACKAGE} ${fetched.version} holds no nvidia/<chip>/gsp/ files`,
			);
		}
		commit(tmp, dest, { package: fetched.package, version: fetched.version, deb: fetched.deb });
		opts.log?.(
			`firmware ready in ${dest}: ${summary.chips.length} chips, versions ${summary.versions.join(', ')}`,
		);
		return dest;
	} finally {
		rmSync(tmp, { recursive: true, force: true });
	}
}
