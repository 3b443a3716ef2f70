/**
 * The generator proper: compile a branch's headers, merge what it inherits from the older branch, group
 * the constants and build the manifest and the generated files.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayoutManifest, ManifestConstant, ManifestType } from '@gspkit/abi';
import {
	type AbiBranch,
	findBranch,
	type HeaderSet,
	headerFiles,
	headerSet,
	type Inherited,
} from './branches.ts';
import { enumeratorGroup, enumIdentity, macroGroup } from './classify.ts';
import { compileLayouts } from './compile.ts';
import { emitConstantsTs, emitInheritedJson, emitManifestJson } from './emit.ts';
import { AbiGenError } from './errors.ts';
import { scratch } from './gcc.ts';
import type { Enumerator } from './layout.ts';
import { type BitRange, evaluateMacros, type MacroValue } from './macros.ts';

/** The manifest format this generator writes (checked against `@gspkit/abi`'s type). */
export const MANIFEST_FORMAT: LayoutManifest['format'] = 'gspkit-abi-manifest/1';

/** `@gspkit/abi-gen <version>`, stamped into every output. Bump the version when the output changes. */
export const GENERATOR = (() => {
	const pkg = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
	const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
	return `@gspkit/abi-gen ${version}`;
})();

/** What one compiled header set yields. */
export interface BranchData {
	readonly set: HeaderSet;
	readonly types: readonly ManifestType[];
	readonly enumerators: readonly Enumerator[];
	readonly macros: readonly MacroValue[];
	readonly ranges: readonly BitRange[];
	readonly alignCorrections: readonly {
		readonly name: string;
		readonly computed: number;
		readonly gcc: number;
	}[];
}

/** Compiles one branch's own header set (no inheritance); `cflags` are extra gcc flags (e.g. `-gdwarf-4`). */
export function readBranch(branch: AbiBranch, root: string, cflags: readonly string[] = []): BranchData {
	const set = headerSet(branch, root);
	const s = scratch();
	try {
		const layouts = compileLayouts(set, root, s, cflags);
		const macros = evaluateMacros(set, root, s);
		return {
			set,
			types: layouts.types,
			enumerators: layouts.enumerators,
			macros: macros.values,
			ranges: macros.ranges,
			alignCorrections: layouts.alignCorrections,
		};
	} finally {
		s.dispose();
	}
}

/** A generated branch: the manifest, the extra tables and the file texts. */
export interface GeneratedAbi {
	readonly branch: AbiBranch;
	readonly manifest: LayoutManifest;
	readonly ranges: readonly BitRange[];
	readonly inherited: Inherited | undefined;
	readonly alignCorrections: BranchData['alignCorrections'];
	/** File name → contents, for the branch's output directory. */
	readonly files: ReadonlyMap<string, string>;
}

/** The record names a manifest type string refers to (`struct X[4]` → `X`). */
function referencedRecord(type: string): string | undefined {
	const m = /^(?:struct|union) (.+?)(?:\[\d*\])*$/.exec(type);
	return m?.[1];
}

function merge(own: BranchData, parent: BranchData, branch: AbiBranch, from: AbiBranch) {
	const rules = branch.inherits?.exclude ?? [];
	const excludedBy = (name: string) => rules.find((r) => r.pattern.test(name));
	const excluded: { name: string; reason: string }[] = [];
	const ownTypes = new Map(own.types.map((t) => [t.name, t]));
	const parentTypes = new Map(parent.types.map((t) => [t.name, t]));
	const types = new Map(ownTypes);
	const inheritedTypes: string[] = [];
	for (const t of parent.types) {
		if (ownTypes.has(t.name)) continue;
		// An anonymous nested type belongs to its outermost type: if this branch redefines that, the old
		// nested type is gone with it.
		const outer = t.name.split('.')[0]!;
		if (outer !== t.name && ownTypes.has(outer)) {
			excluded.push({ name: t.name, reason: `nested in ${outer}, which ${branch.key} redefines` });
			continue;
		}
		const rule = excludedBy(t.name);
		if (rule) {
			excluded.push({ name: t.name, reason: rule.reason });
			continue;
		}
		types.set(t.name, t);
		inheritedTypes.push(t.name);
	}
	// An inherited type must not embed a type this branch redefined differently.
	for (const name of inheritedTypes) {
		for (const f of types.get(name)!.fields) {
			const ref = referencedRecord(f.type);
			if (!ref || !ownTypes.has(ref)) continue;
			if (JSON.stringify(ownTypes.get(ref)) !== JSON.stringify(parentTypes.get(ref))) {
				throw new AbiGenError(
					'E_HEADERS',
					`${branch.key} would inherit ${name} from ${from.key}, but its field ${f.name} embeds ${ref}, which ${branch.key} redefines with another layout; add ${name} to the exclusions of ${branch.key}`,
				);
			}
		}
	}

	// Enumerations are inherited whole: a branch that defines an enum (or an ID table) replaces all of it.
	const idOf = (e: Enumerator) => enumIdentity(e.enumName, e.name);
	const ownEnumIds = new Set(own.enumerators.map(idOf));
	const ownNames = new Set([...own.enumerators.map((e) => e.name), ...own.macros.map((m) => m.name)]);
	const enumerators = [...own.enumerators];
	const macros = [...own.macros];
	const inheritedConstants: string[] = [];
	for (const e of parent.enumerators) {
		if (ownNames.has(e.name) || ownEnumIds.has(idOf(e))) continue;
		const rule = excludedBy(e.name) ?? (e.enumName ? excludedBy(e.enumName) : undefined);
		if (rule) {
			excluded.push({ name: e.name, reason: rule.reason });
			continue;
		}
		enumerators.push(e);
		inheritedConstants.push(e.name);
	}
	for (const m of parent.macros) {
		if (ownNames.has(m.name)) continue;
		const rule = excludedBy(m.name);
		if (rule) {
			excluded.push({ name: m.name, reason: rule.reason });
			continue;
		}
		macros.push(m);
		inheritedConstants.push(m.name);
	}
	const ownRanges = new Set(own.ranges.map((r) => r.name));
	const ranges = [
		...own.ranges,
		...parent.ranges.filter((r) => !ownRanges.has(r.name) && !excludedBy(r.name)),
	];
	const inherited: Inherited = {
		from,
		types: inheritedTypes.sort(),
		constants: inheritedConstants.sort(),
		excluded: excluded.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
	};
	return { types: [...types.values()], enumerators, macros, ranges, inherited };
}

/** `dir/{a,b}.h` groups of a sorted file list, for the source stamp. */
function compactPaths(files: readonly string[]): string {
	const byDir = new Map<string, string[]>();
	for (const f of files) {
		const d = dirname(f);
		byDir.set(d, [...(byDir.get(d) ?? []), basename(f, '.h')]);
	}
	return [...byDir.entries()]
		.map(([d, names]) => (names.length === 1 ? `${d}/${names[0]}.h` : `${d}/{${names.join(',')}}.h`))
		.join(' ');
}

/** The label of a header tree: the Debian package recorded by `gspkit-fetch`, else the directory name. */
export function treeLabel(root: string): string {
	const stamp = join(root, '.complete');
	if (existsSync(stamp)) {
		try {
			const info = JSON.parse(readFileSync(stamp, 'utf8')) as { package?: unknown };
			if (typeof info.package === 'string') return info.package;
		} catch {
			// fall through to the directory name
		}
	}
	return basename(root);
}

/** Options of {@link generate}. */
export interface GenerateOptions {
	/** Overrides the tree label in the source stamp (default: {@link treeLabel}). */
	readonly sourceLabel?: string;
	/** The branch list used to resolve `inherits.from` (default: {@link BRANCHES}). */
	readonly branches?: readonly AbiBranch[];
	/** Extra gcc flags for the layout compile (e.g. `-gdwarf-4`); must not change the output. */
	readonly cflags?: readonly string[];
}

/** Generates one branch from the Linux tree at `root`. */
export function generate(branch: AbiBranch, root: string, opts: GenerateOptions = {}): GeneratedAbi {
	const cflags = opts.cflags ?? [];
	const own = readBranch(branch, root, cflags);
	let types: readonly ManifestType[] = own.types;
	let enumerators: readonly Enumerator[] = own.enumerators;
	let macros: readonly MacroValue[] = own.macros;
	let ranges: readonly BitRange[] = own.ranges;
	let inherited: Inherited | undefined;
	let files = headerFiles(own.set);
	let parentFiles: readonly string[] = [];
	const alignCorrections = [...own.alignCorrections];
	if (branch.inherits) {
		const from = findBranch(branch.inherits.from, opts.branches);
		const parent = readBranch(from, root, cflags);
		({ types, enumerators, macros, ranges, inherited } = merge(own, parent, branch, from));
		parentFiles = headerFiles(parent.set).filter((f) => !files.includes(f));
		alignCorrections.push(...parent.alignCorrections.filter((c) => inherited!.types.includes(c.name)));
	}
	files = [...files].sort();

	const hash = createHash('sha256');
	for (const f of [...files, ...parentFiles].sort()) {
		hash
			.update(f)
			.update('\0')
			.update(readFileSync(join(root, f)))
			.update('\0');
	}
	const label = opts.sourceLabel ?? treeLabel(root);
	const inheritText =
		parentFiles.length > 0 ? `; unchanged definitions from ${compactPaths(parentFiles)}` : '';
	const source = `${label}: ${compactPaths(files)}${inheritText}; sha256 ${hash.digest('hex')}; ${GENERATOR} (gcc DWARF)`;

	const constants: ManifestConstant[] = [];
	const seen = new Set<string>();
	const add = (c: ManifestConstant) => {
		if (seen.has(c.name)) throw new AbiGenError('E_HEADERS', `constant ${c.name} is defined twice`);
		seen.add(c.name);
		constants.push(c);
	};
	for (const e of enumerators)
		add({ name: e.name, value: e.value.toString(), group: enumeratorGroup(e.name, e.enumName) });
	for (const m of macros)
		add({ name: m.name, value: m.value.toString(), group: macroGroup(m.name, m.value, m.file) });
	const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
	constants.sort(byName);
	const sortedRanges = [...ranges].sort(byName);

	const manifest: LayoutManifest = {
		format: MANIFEST_FORMAT,
		abi: branch.version,
		source,
		types: [...types].sort(byName),
		constants,
	};
	const out = new Map<string, string>();
	out.set('manifest.json', emitManifestJson(manifest));
	out.set('constants.ts', emitConstantsTs(manifest, sortedRanges));
	if (inherited) out.set('inherited.json', emitInheritedJson(branch, inherited));
	return { branch, manifest, ranges: sortedRanges, inherited, alignCorrections, files: out };
}
