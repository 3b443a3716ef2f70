/**
 * Writing generated files and checking committed ones for drift.
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeneratedAbi } from './generate.ts';

/** Every file name abi-gen may write into an output directory (stale ones among these are removed). */
export const GENERATED_FILES: readonly string[] = ['manifest.json', 'constants.ts', 'inherited.json'];

/** The repository root (this file lives in `tools/abi-gen/src/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Writes a generated branch into `outDir`, removing generated files it no longer produces. */
export function writeGenerated(g: GeneratedAbi, outDir: string): string[] {
	mkdirSync(outDir, { recursive: true });
	const written: string[] = [];
	for (const [name, text] of g.files) {
		const p = join(outDir, name);
		if (!existsSync(p) || readFileSync(p, 'utf8') !== text) {
			writeFileSync(p, text);
			written.push(p);
		}
	}
	for (const name of GENERATED_FILES) {
		if (!g.files.has(name) && existsSync(join(outDir, name))) {
			rmSync(join(outDir, name));
			written.push(join(outDir, name));
		}
	}
	return written;
}

/** One file whose committed contents differ from what the generator produces now. */
export interface Drift {
	readonly file: string;
	readonly reason: 'missing' | 'stale' | 'extra';
	/** First differing line (1-based) for `stale`. */
	readonly line?: number;
}

/** Compares a generated branch with the files in `outDir`, byte for byte. */
export function checkGenerated(g: GeneratedAbi, outDir: string): Drift[] {
	const drift: Drift[] = [];
	for (const [name, text] of g.files) {
		const p = join(outDir, name);
		if (!existsSync(p)) {
			drift.push({ file: p, reason: 'missing' });
			continue;
		}
		const have = readFileSync(p, 'utf8');
		if (have !== text) {
			const a = have.split('\n');
			const b = text.split('\n');
			let i = 0;
			while (i < a.length && i < b.length && a[i] === b[i]) i++;
			drift.push({ file: p, reason: 'stale', line: i + 1 });
		}
	}
	for (const name of GENERATED_FILES) {
		if (!g.files.has(name) && existsSync(join(outDir, name)))
			drift.push({ file: join(outDir, name), reason: 'extra' });
	}
	return drift;
}
