/**
 * Inspecting a firmware directory: which chips have a complete set for which branch, and whether every
 * file parses.
 *
 * @module
 */

import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
	type FirmwareFileData,
	firmwareChip,
	identifyFirmwareFile,
	isFirmwareError,
	KNOWN_FIRMWARE_VERSIONS,
	type LoadProgress,
	parseFirmwareName,
	probeFirmwareSet,
	readFirmwareFile,
} from '@gspkit/falcon-boot';
import { briefFirmware, type Json } from './summary.ts';

/** Where the chips are, for a directory given on the command line. */
export interface DirectoryLayout {
	/** The directory to give the locator as its only root. */
	readonly root: string;
	/** The `nvidia/` directory (holding `<chip>/gsp/`). */
	readonly nvidia: string;
	/** The chip directories to report. */
	readonly chips: readonly string[];
}

/** Thrown for a directory that holds no firmware layout gspkit recognises. */
export class NotAFirmwareDirectory extends Error {}

/**
 * Recognise a firmware root (holding `nvidia/`), an `nvidia/` directory, a chip directory
 * (`nvidia/ga102`) or a chip's `gsp/` directory.
 * @throws NotAFirmwareDirectory
 */
export function directoryLayout(dir: string): DirectoryLayout {
	const abs = resolve(dir);
	const chipsIn = (nvidia: string) =>
		readdirSync(nvidia)
			.filter((c) => existsSync(join(nvidia, c, 'gsp')))
			.sort();
	if (existsSync(join(abs, 'nvidia')))
		return { root: abs, nvidia: join(abs, 'nvidia'), chips: chipsIn(join(abs, 'nvidia')) };
	if (basename(abs) === 'nvidia') return { root: abs, nvidia: abs, chips: chipsIn(abs) };
	const chipDir = basename(abs) === 'gsp' ? dirname(abs) : abs;
	if (existsSync(join(chipDir, 'gsp'))) {
		const nvidia = dirname(chipDir);
		if (basename(nvidia) !== 'nvidia') {
			throw new NotAFirmwareDirectory(
				`${dir}: a chip directory must sit in an nvidia/ directory (found ${nvidia})`,
			);
		}
		return { root: nvidia, nvidia, chips: [basename(chipDir)] };
	}
	throw new NotAFirmwareDirectory(`${dir}: no nvidia/<chip>/gsp/ layout found`);
}

/** One cell of the chip × version matrix. */
export interface MatrixCell {
	/** Whether every required file was found. */
	readonly complete: boolean;
	/** Required kinds not found. */
	readonly missing: readonly string[];
	/** Kinds found, with the path and resolved path. */
	readonly files: Readonly<Record<string, { path: string; realPath: string; isSymlink: boolean }>>;
}

/** The result of {@link inspectDirectory}. */
export interface DirectoryReport {
	/** The directory the locator searched. */
	readonly root: string;
	/** Chip directories found (with a gsp/ folder). */
	readonly chips: readonly string[];
	/** Versions reported: the known branches plus every version in a file name, sorted. */
	readonly versions: readonly string[];
	/** chip → version → cell; chips without GSP firmware knowledge are left out (see `unknownChips`). */
	readonly matrix: Readonly<Record<string, Readonly<Record<string, MatrixCell>>>>;
	/** Chip directories with a gsp/ folder that gspkit has no firmware table for. */
	readonly unknownChips: readonly string[];
	/** Every file under the chips' gsp/ directories, parsed. */
	readonly files: readonly { [k: string]: Json }[];
	/** Files that failed to parse, with the typed error. */
	readonly errors: readonly { path: string; error: { [k: string]: Json } }[];
}

/** Options of {@link inspectDirectory}. */
export interface InspectDirectoryOptions {
	/** Progress of each file read (bytes), e.g. for a progress bar. */
	readonly onProgress?: (p: LoadProgress) => void;
	/** Skip parsing (matrix only). */
	readonly parse?: boolean;
}

/** A firmware error as JSON. */
export function errorJson(e: unknown): { [k: string]: Json } {
	if (isFirmwareError(e) || (e instanceof Error && 'code' in e && 'details' in e)) {
		const g = e as Error & { code: string; errno?: string; details?: unknown };
		return {
			name: g.name,
			code: g.code,
			errno: g.errno ?? null,
			message: g.message,
			details: JSON.parse(JSON.stringify(g.details ?? {})) as Json,
		};
	}
	return {
		name: e instanceof Error ? e.name : 'Error',
		code: null,
		message: e instanceof Error ? e.message : String(e),
	};
}

/**
 * Build the chip × version matrix (with the locator restricted to this directory) and parse every file.
 * Files that share an inode (symbolic or hard links) are read once.
 */
export async function inspectDirectory(
	dir: string,
	options: InspectDirectoryOptions = {},
): Promise<DirectoryReport> {
	const layout = directoryLayout(dir);
	const paths: string[] = [];
	const versions = new Set<string>(KNOWN_FIRMWARE_VERSIONS);
	for (const chip of layout.chips) {
		const gsp = join(layout.nvidia, chip, 'gsp');
		for (const name of readdirSync(gsp).sort()) {
			paths.push(join(gsp, name));
			const v = parseFirmwareName(name).version;
			if (v !== null) versions.add(v);
		}
	}
	const versionList = [...versions].sort(compareVersions);

	const matrix: Record<string, Record<string, MatrixCell>> = {};
	const unknownChips: string[] = [];
	for (const chip of layout.chips) {
		if (firmwareChip(chip) === undefined) {
			unknownChips.push(chip);
			continue;
		}
		const row: Record<string, MatrixCell> = {};
		for (const v of versionList) {
			const p = await probeFirmwareSet(chip, v, { path: layout.root, onlyPath: true });
			row[v] = {
				complete: p.complete,
				missing: p.missing.map((m) => m.kind),
				files: Object.fromEntries(
					p.files.map((f) => [f.kind, { path: f.path, realPath: f.realPath, isSymlink: f.isSymlink }]),
				),
			};
		}
		matrix[chip] = row;
	}

	const files: { [k: string]: Json }[] = [];
	const errors: { path: string; error: { [k: string]: Json } }[] = [];
	if (options.parse !== false) {
		// Group paths by inode so each distinct file is read once; identify each path (the path names the chip).
		const groups = new Map<string, string[]>();
		for (const p of paths) {
			let key = p;
			try {
				const st = statSync(p);
				key = `${st.dev}:${st.ino}`;
			} catch {
				// Dangling link: its own group, reported by the read below.
			}
			groups.set(key, [...(groups.get(key) ?? []), p]);
		}
		for (const group of groups.values()) {
			let data: FirmwareFileData | undefined;
			try {
				data = await readFirmwareFile(
					group[0] as string,
					options.onProgress === undefined ? {} : { onProgress: options.onProgress },
				);
			} catch (e) {
				for (const p of group) errors.push({ path: p, error: errorJson(e) });
				continue;
			}
			for (const p of group) {
				try {
					const id = identifyFirmwareFile(p, data.bytes);
					const file: FirmwareFileData = {
						path: p,
						realPath: realpathSync(p),
						linkTarget: lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null,
						bytes: data.bytes,
					};
					files.push(briefFirmware({ ...id, file }));
				} catch (e) {
					errors.push({ path: p, error: errorJson(e) });
				}
			}
		}
		files.sort((a, b) => String(a.path).localeCompare(String(b.path)));
		errors.sort((a, b) => a.path.localeCompare(b.path));
	}
	return {
		root: layout.root,
		chips: layout.chips,
		versions: versionList,
		matrix,
		unknownChips,
		files,
		errors,
	};
}

/** Compare dotted version strings numerically (`535.113.01` < `570.144`). */
export function compareVersions(a: string, b: string): number {
	const pa = a.split('.').map(Number);
	const pb = b.split('.').map(Number);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const d = (pa[i] ?? 0) - (pb[i] ?? 0);
		if (d !== 0) return d;
	}
	return 0;
}
