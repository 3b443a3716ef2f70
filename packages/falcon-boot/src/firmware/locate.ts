/**
 * Finding firmware files the way a kernel driver does.
 *
 * Search roots, in order (each holds `nvidia/<chip>/gsp/…`):
 * 1. the explicit `path` option (one directory or a list);
 * 2. `GSPKIT_FIRMWARE_PATH`, a colon-separated list of directories;
 * 3. `/lib/firmware`;
 * 4. the project cache, `${GSPKIT_CACHE:-${XDG_CACHE_HOME:-~/.cache}/gspkit}/firmware` (where
 *    `gspkit-fetch firmware` puts the files), then the raw Debian unpack directory
 *    `<cache>/debian/firmware-nvidia-graphics/usr/lib/firmware` as a fallback.
 *
 * Each file is looked up in every root in turn (like `request_firmware`), so one set may mix roots.
 * Symbolic links are followed and the resolved path is reported. A root whose last component is `nvidia`
 * is accepted too (the `nvidia/` prefix is then dropped).
 *
 * @module
 */

import { lstat, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError } from '@gspkit/hal';
import {
	FIRMWARE_CHIPS,
	type FirmwareFileSpec,
	type FirmwareKind,
	firmwareSetSpec,
	KNOWN_FIRMWARE_VERSIONS,
} from './chips.ts';
import { FirmwareNotFoundError, type MissingFirmware } from './errors.ts';
import { toFirmwareError } from './load.ts';

/** Where a search root came from. */
export type FirmwareRootSource = 'option' | 'env' | 'system' | 'cache' | 'debian-cache';

/** One search root. */
export interface FirmwareSearchRoot {
	/** Absolute directory. */
	readonly dir: string;
	/** Which rule added it. */
	readonly source: FirmwareRootSource;
}

/** Options of the locator. */
export interface LocateOptions {
	/** Explicit firmware directories, searched first. */
	readonly path?: string | readonly string[];
	/** Environment to read `GSPKIT_FIRMWARE_PATH`, `GSPKIT_CACHE`, `XDG_CACHE_HOME` from (default `process.env`). */
	readonly env?: Readonly<Record<string, string | undefined>>;
	/** System firmware directories (default `['/lib/firmware']`). */
	readonly systemDirs?: readonly string[];
	/** Home directory for the default cache (default `os.homedir()`). */
	readonly homeDir?: string;
	/** Search only the explicit `path` (no environment, system or cache roots). Default `false`. */
	readonly onlyPath?: boolean;
}

/** The default system firmware directories. */
export const SYSTEM_FIRMWARE_DIRS: readonly string[] = Object.freeze(['/lib/firmware']);

/** Relative location of the firmware inside an unpacked `firmware-nvidia-graphics` Debian package. */
export const DEBIAN_FIRMWARE_SUBDIR = 'debian/firmware-nvidia-graphics/usr/lib/firmware';

/** The project cache directory: `GSPKIT_CACHE`, else `$XDG_CACHE_HOME/gspkit`, else `~/.cache/gspkit`. */
export function gspkitCacheDir(
	env: Readonly<Record<string, string | undefined>> = process.env,
	home = homedir(),
): string {
	const explicit = env.GSPKIT_CACHE;
	if (explicit !== undefined && explicit !== '') return resolve(explicit);
	const xdg = env.XDG_CACHE_HOME;
	if (xdg !== undefined && xdg !== '') return resolve(xdg, 'gspkit');
	return resolve(home, '.cache', 'gspkit');
}

/** The search roots for `options`, in search order, without duplicates. */
export function firmwareSearchRoots(options: LocateOptions = {}): FirmwareSearchRoot[] {
	const roots: FirmwareSearchRoot[] = [];
	const add = (dir: string, source: FirmwareRootSource) => {
		if (dir === '') return;
		const abs = resolve(dir);
		if (!roots.some((r) => r.dir === abs)) roots.push({ dir: abs, source });
	};
	const explicit =
		options.path === undefined ? [] : typeof options.path === 'string' ? [options.path] : options.path;
	for (const p of explicit) add(p, 'option');
	if (options.onlyPath === true) return roots;
	const env = options.env ?? process.env;
	for (const p of (env.GSPKIT_FIRMWARE_PATH ?? '').split(':')) add(p, 'env');
	for (const p of options.systemDirs ?? SYSTEM_FIRMWARE_DIRS) add(p, 'system');
	const cache = gspkitCacheDir(env, options.homeDir ?? homedir());
	add(join(cache, 'firmware'), 'cache');
	add(join(cache, DEBIAN_FIRMWARE_SUBDIR), 'debian-cache');
	return roots;
}

/** A firmware file that was found. */
export interface LocatedFirmwareFile {
	/** The kind it was looked up as. */
	readonly kind: FirmwareKind;
	/** The relative name that matched, e.g. `'nvidia/ad102/gsp/gsp-570.144.bin'`. */
	readonly name: string;
	/** The absolute path found. */
	readonly path: string;
	/** The path with every symbolic link resolved. */
	readonly realPath: string;
	/** Whether `path` itself is a symbolic link. */
	readonly isSymlink: boolean;
	/** File size in bytes. */
	readonly size: number;
	/** The root it was found in. */
	readonly root: FirmwareSearchRoot;
}

/** Candidate absolute paths of relative `name` under `root` (two when the root is itself an `nvidia` dir). */
function candidates(root: FirmwareSearchRoot, name: string): string[] {
	const out = [join(root.dir, name)];
	if (basename(root.dir) === 'nvidia' && name.startsWith('nvidia/'))
		out.push(join(root.dir, name.slice('nvidia/'.length)));
	return out;
}

type Probe = { found: LocatedFirmwareFile } | { found: null; brokenLink: boolean };

async function probe(
	path: string,
	kind: FirmwareKind,
	name: string,
	root: FirmwareSearchRoot,
): Promise<Probe> {
	let isSymlink = false;
	try {
		isSymlink = (await lstat(path)).isSymbolicLink();
	} catch (e) {
		if (isMissing(e)) return { found: null, brokenLink: false };
		throw toFirmwareError(path, e);
	}
	try {
		const st = await stat(path);
		if (!st.isFile()) return { found: null, brokenLink: false };
		return { found: { kind, name, path, realPath: await realpath(path), isSymlink, size: st.size, root } };
	} catch (e) {
		// lstat saw an entry but stat cannot follow it: a dangling (or looping) symbolic link.
		if (isMissing(e) || code(e) === 'ELOOP') return { found: null, brokenLink: true };
		throw toFirmwareError(path, e);
	}
}

function code(e: unknown): string {
	return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
}

function isMissing(e: unknown): boolean {
	const c = code(e);
	return c === 'ENOENT' || c === 'ENOTDIR';
}

/** Bookkeeping of one search: every path tried, dangling links and compressed copies met. */
interface SearchLog {
	readonly searched: string[];
	readonly brokenLinks: string[];
	readonly compressed: string[];
}

/** Suffixes of compressed firmware (as distributions ship it); the kernel decompresses these, gspkit does not. */
export const COMPRESSED_FIRMWARE_SUFFIXES: readonly string[] = Object.freeze(['.zst', '.xz']);

async function noteCompressed(path: string, log: SearchLog): Promise<void> {
	for (const suffix of COMPRESSED_FIRMWARE_SUFFIXES) {
		try {
			await stat(path + suffix);
			log.compressed.push(path + suffix);
		} catch {
			// Not there (or unreadable): nothing to report.
		}
	}
}

async function findOne(
	roots: readonly FirmwareSearchRoot[],
	kind: FirmwareKind,
	names: readonly string[],
	log: SearchLog,
): Promise<LocatedFirmwareFile | null> {
	// Alternative names are fallbacks: the preferred name is looked for in every root before the next name.
	for (const name of names) {
		for (const root of roots) {
			for (const path of candidates(root, name)) {
				log.searched.push(path);
				const p = await probe(path, kind, name, root);
				if (p.found !== null) return p.found;
				if (p.brokenLink) log.brokenLinks.push(path);
				else await noteCompressed(path, log);
			}
		}
	}
	return null;
}

/**
 * Find one firmware file by relative name (`'nvidia/ga102/gsp/gsp-570.144.bin'`).
 * @throws FirmwareNotFoundError listing every path tried.
 */
export async function locateFirmwareFile(
	name: string,
	kind: FirmwareKind,
	options: LocateOptions = {},
): Promise<LocatedFirmwareFile> {
	const roots = firmwareSearchRoots(options);
	const log: SearchLog = { searched: [], brokenLinks: [], compressed: [] };
	const found = await findOne(roots, kind, [name], log);
	if (found === null) {
		throw new FirmwareNotFoundError(name, log.searched, [{ kind, names: [name] }], {
			roots: roots.map((r) => r.dir),
			brokenLinks: log.brokenLinks,
			compressed: log.compressed,
		});
	}
	return found;
}

/** The result of {@link probeFirmwareSet}: what was found and what is missing, without throwing. */
export interface FirmwareSetProbe {
	/** Lower-case chip name. */
	readonly chip: string;
	/** Firmware version. */
	readonly version: string;
	/** Whether every required file was found. */
	readonly complete: boolean;
	/** The files found, required and optional. */
	readonly files: readonly LocatedFirmwareFile[];
	/** Required files not found. */
	readonly missing: readonly MissingFirmware[];
	/** Every path tried, in order. */
	readonly searched: readonly string[];
	/** Paths that were dangling symbolic links. */
	readonly brokenLinks: readonly string[];
	/** Compressed copies (`.zst`, `.xz`) found where a file was missing; gspkit cannot read these. */
	readonly compressed: readonly string[];
	/** The roots searched. */
	readonly roots: readonly FirmwareSearchRoot[];
}

/** A complete firmware set for one chip and version. */
export interface FirmwareSet {
	/** Lower-case chip name. */
	readonly chip: string;
	/** Firmware version. */
	readonly version: string;
	/** Every file found (required ones and optional ones that exist). */
	readonly files: readonly LocatedFirmwareFile[];
	/** The files by kind. */
	readonly byKind: Readonly<Partial<Record<FirmwareKind, LocatedFirmwareFile>>>;
	/** Every path tried, in order. */
	readonly searched: readonly string[];
}

function specFor(chip: string, version: string): FirmwareFileSpec[] {
	const spec = firmwareSetSpec(chip, version);
	if (spec === undefined) {
		throw new InvalidArgumentError(`no GSP firmware is published for chip ${JSON.stringify(chip)}`, {
			chip,
			known: FIRMWARE_CHIPS.map((c) => c.chip),
		});
	}
	return spec;
}

/**
 * Look for every file `chip` needs for `version` (see {@link firmwareSetSpec}) and report what was found,
 * without throwing when files are missing.
 * @throws InvalidArgumentError (`HAL_INVALID_ARGUMENT`) for a chip without GSP firmware; FirmwareIoError
 * when a directory cannot be read.
 */
export async function probeFirmwareSet(
	chip: string,
	version: string,
	options: LocateOptions = {},
): Promise<FirmwareSetProbe> {
	const spec = specFor(chip, version);
	const roots = firmwareSearchRoots(options);
	const log: SearchLog = { searched: [], brokenLinks: [], compressed: [] };
	const files: LocatedFirmwareFile[] = [];
	const missing: MissingFirmware[] = [];
	for (const s of spec) {
		const f = await findOne(roots, s.kind, s.names, log);
		if (f !== null) files.push(f);
		else if (!s.optional) missing.push({ kind: s.kind, names: s.names });
	}
	return {
		chip: chip.toLowerCase(),
		version,
		complete: missing.length === 0,
		files,
		missing,
		searched: log.searched,
		brokenLinks: log.brokenLinks,
		compressed: log.compressed,
		roots,
	};
}

/**
 * Find the full firmware set `chip` needs for `version`.
 * @throws FirmwareNotFoundError naming every missing file and listing every path looked at
 * (`details.searched`, `details.missing`, `details.roots`, `details.brokenLinks`).
 */
export async function locateFirmwareSet(
	chip: string,
	version: string,
	options: LocateOptions = {},
): Promise<FirmwareSet> {
	const p = await probeFirmwareSet(chip, version, options);
	if (!p.complete) {
		throw new FirmwareNotFoundError(`firmware ${version} for ${p.chip}`, p.searched, p.missing, {
			chip: p.chip,
			version,
			roots: p.roots.map((r) => r.dir),
			brokenLinks: [...p.brokenLinks],
			compressed: [...p.compressed],
		});
	}
	const byKind: Partial<Record<FirmwareKind, LocatedFirmwareFile>> = {};
	for (const f of p.files) byKind[f.kind] = f;
	return { chip: p.chip, version, files: p.files, byKind, searched: p.searched };
}

/**
 * The firmware versions (of `versions`, default {@link KNOWN_FIRMWARE_VERSIONS}) for which a complete set
 * for `chip` is found, in the order given.
 */
export async function availableBranches(
	chip: string,
	versions: readonly string[] = KNOWN_FIRMWARE_VERSIONS,
	options: LocateOptions = {},
): Promise<string[]> {
	const out: string[] = [];
	for (const v of versions) if ((await probeFirmwareSet(chip, v, options)).complete) out.push(v);
	return out;
}
