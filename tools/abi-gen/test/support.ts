/** Shared helpers of the abi-gen tests: the committed generated files and the header/gcc availability. */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LayoutManifest, ManifestConstant, ManifestField, ManifestType } from '@gspkit/abi';
import { headersDir } from '@gspkit/fetch';
import { type AbiBranch, BRANCHES, findBranch, REPO_ROOT } from '../src/index.ts';

/** The committed manifest of a branch (`r535`, `r570`). */
export function committedManifest(key: string): LayoutManifest {
	const b = findBranch(key);
	return JSON.parse(readFileSync(join(REPO_ROOT, b.outDir, 'manifest.json'), 'utf8')) as LayoutManifest;
}

/** The committed generated constants module of a branch, imported as code. */
export async function committedConstants(key: string): Promise<Record<string, unknown>> {
	const b = findBranch(key);
	return (await import(pathToFileURL(join(REPO_ROOT, b.outDir, 'constants.ts')).href)) as Record<
		string,
		unknown
	>;
}

/** The committed inherited.json of a branch, if it has one. */
export function committedInherited(key: string): { types: string[]; constants: string[] } | undefined {
	const p = join(REPO_ROOT, findBranch(key).outDir, 'inherited.json');
	return existsSync(p)
		? (JSON.parse(readFileSync(p, 'utf8')) as { types: string[]; constants: string[] })
		: undefined;
}

/** A type by name; throws when absent so a test fails loudly. */
export function type(m: LayoutManifest, name: string): ManifestType {
	const t = m.types.find((x) => x.name === name);
	if (!t) throw new Error(`${name} is not in the ${m.abi} manifest`);
	return t;
}

/** A field by name. */
export function field(t: ManifestType, name: string): ManifestField {
	const f = t.fields.find((x) => x.name === name);
	if (!f) throw new Error(`${t.name}.${name} does not exist`);
	return f;
}

/** A constant's value as a bigint, or `undefined`. */
export function constant(m: LayoutManifest, name: string): bigint | undefined {
	const c = m.constants.find((x) => x.name === name);
	return c === undefined ? undefined : BigInt(c.value);
}

/** Constants of one group. */
export function group(m: LayoutManifest, g: string): ManifestConstant[] {
	return m.constants.filter((c) => c.group === g);
}

/** Whether gcc runs here. */
export const HAVE_GCC = spawnSync(process.env.GSPKIT_CC || 'gcc', ['--version']).status === 0;

/** The fetched Linux tree, or undefined (tests that need it skip). */
export const HEADERS = headersDir();

/** Why header-dependent tests skip, for the skip message. */
export const SKIP_REASON = !HAVE_GCC
	? 'gcc is not installed'
	: !HEADERS
		? 'the headers are not fetched — run `npx tsx tools/fetch/src/cli.ts headers` (or set GSPKIT_HEADERS)'
		: '';

export const ALL_BRANCHES: readonly AbiBranch[] = BRANCHES;
