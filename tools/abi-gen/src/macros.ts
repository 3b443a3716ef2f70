/**
 * Object-like `#define`s of a header set and their integer values, as gcc computes them.
 *
 * `gcc -E -dD` lists every definition with line markers, so each macro is attributed to the header that
 * defined it. Each candidate then goes through a generated C program: a `_Static_assert` rejects anything
 * that is not an integer constant expression (strings, floats, DRF bit ranges like `1:0`, names of things
 * that do not exist), failing candidates are dropped by the line gcc reports and the rest are printed by
 * running the program.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { HeaderSet } from './branches.ts';
import { includeFlags, writeTranslationUnit } from './compile.ts';
import { AbiGenError } from './errors.ts';
import { BASE_FLAGS, errorLines, mustCompile, runCompiler, runProgram, type Scratch } from './gcc.ts';

/** One object-like macro as defined in a header. */
export interface MacroDef {
	readonly name: string;
	/** Replacement text, whitespace-normalised. */
	readonly body: string;
	/** Header that defined it, relative to the tree root. */
	readonly file: string;
}

/** A macro whose value gcc evaluated to an integer. */
export interface MacroValue extends MacroDef {
	readonly value: bigint;
}

/** A DRF-style bit range macro (`#define X_FIELD 5:4`), which is not a C expression. */
export interface BitRange extends MacroDef {
	readonly hi: number;
	readonly lo: number;
}

/** Everything {@link evaluateMacros} found. */
export interface MacroResult {
	readonly values: readonly MacroValue[];
	readonly ranges: readonly BitRange[];
	/** Object-like macros that are not integer constants (strings, expressions of unknown names, …). */
	readonly skipped: readonly MacroDef[];
}

/** Parses `gcc -E -dD` output into the object-like macros defined in files below `root`. */
export function parseDefines(preprocessed: string, root: string, scratchDir: string): MacroDef[] {
	const defs = new Map<string, MacroDef>();
	let file = '';
	for (const line of preprocessed.split('\n')) {
		const marker = /^# \d+ "([^"]*)"/.exec(line);
		if (marker) {
			file = marker[1]!;
			continue;
		}
		const m = /^#define ([A-Za-z_]\w*)(\(?)(.*)$/.exec(line);
		if (!m) {
			const u = /^#undef ([A-Za-z_]\w*)/.exec(line);
			if (u) defs.delete(u[1]!);
			continue;
		}
		if (m[2] === '(') continue; // function-like
		const abs = file.startsWith('/') ? file : join(scratchDir, file);
		const rel = relative(root, abs);
		if (rel.startsWith('..') || rel.startsWith('/')) continue; // prelude, built-ins, command line
		const body = m[3]!.trim().replace(/\s+/g, ' ');
		if (body === '') continue; // include guards and flags
		defs.set(m[1]!, { name: m[1]!, body, file: rel });
	}
	return [...defs.values()];
}

const RANGE = /^\(?\s*(\d+)\s*:\s*(\d+)\s*\)?$/;

/** Evaluates the integer-valued object-like macros of a header set with gcc. */
export function evaluateMacros(set: HeaderSet, root: string, s: Scratch): MacroResult {
	const tu = writeTranslationUnit(set, s, '', 'defs.c');
	const pre = mustCompile(
		[...BASE_FLAGS, '-E', '-dD', tu, ...includeFlags(root, s.dir)],
		s.dir,
		'preprocess the headers',
	);
	const defs = parseDefines(pre.stdout, root, s.dir);
	const ranges: BitRange[] = [];
	let candidates: MacroDef[] = [];
	for (const d of defs) {
		const r = RANGE.exec(d.body);
		if (r) ranges.push({ ...d, hi: Number(r[1]), lo: Number(r[2]) });
		else candidates.push(d);
	}
	const skipped: MacroDef[] = [];
	for (let attempt = 0; ; attempt++) {
		const head = [
			'#include <stdio.h>',
			'#define GSPKIT_IS_INT(e) (__builtin_classify_type(e) >= 1 && __builtin_classify_type(e) <= 4)',
			'',
		].join('\n');
		const asserts: string[] = [];
		const rows: string[] = [];
		for (const c of candidates) {
			asserts.push(`_Static_assert(GSPKIT_IS_INT(${c.name}), "${c.name}");`);
			rows.push(`\t{ "${c.name}", (unsigned long long)(${c.name}), (${c.name}) < 0 },`);
		}
		const tail = [
			'struct gspkit_const { const char *name; unsigned long long value; int negative; };',
			'static const struct gspkit_const gspkit_consts[] = {',
			...rows,
			'\t{ 0, 0, 0 }',
			'};',
			'int main(void) {',
			'\tfor (const struct gspkit_const *c = gspkit_consts; c->name; c++)',
			'\t\tprintf("%s %d %llu\\n", c->name, c->negative, c->value);',
			'\treturn 0;',
			'}',
		];
		const name = writeTranslationUnit(
			set,
			s,
			`${asserts.join('\n')}\n${tail.join('\n')}\n`,
			'consts.c',
			`${head}\n`,
		);
		const full = readFileSync(join(s.dir, name), 'utf8');
		const lines = full.split('\n');
		const firstAssert = lines.findIndex((l) => l.startsWith('_Static_assert(')) + 1;
		const firstRow = lines.findIndex((l) => l.startsWith('\t{ "')) + 1;
		const r = runCompiler([...BASE_FLAGS, name, '-o', 'consts', ...includeFlags(root, s.dir)], s.dir);
		if (r.status === 0) break;
		const bad = errorLines(r.stderr, name);
		const drop = new Set<number>();
		for (const line of bad) {
			if (firstAssert > 0 && line >= firstAssert && line < firstAssert + candidates.length)
				drop.add(line - firstAssert);
			else if (firstRow > 0 && line >= firstRow && line < firstRow + candidates.length)
				drop.add(line - firstRow);
		}
		if (drop.size === 0 || attempt > 8) {
			throw new AbiGenError(
				'E_COMPILER',
				`the constant probe does not compile:\n${r.stderr.slice(0, 4000)}`,
				{
					stderr: r.stderr,
				},
			);
		}
		skipped.push(...candidates.filter((_, i) => drop.has(i)));
		candidates = candidates.filter((_, i) => !drop.has(i));
	}
	const out = runProgram(join(s.dir, 'consts'), s.dir);
	const byName = new Map(candidates.map((c) => [c.name, c]));
	const values: MacroValue[] = [];
	for (const line of out.split('\n')) {
		const m = /^(\S+) (0|1) (\d+)$/.exec(line);
		if (!m) continue;
		const def = byName.get(m[1]!);
		if (!def) continue;
		const raw = BigInt(m[3]!);
		values.push({ ...def, value: m[2] === '1' ? BigInt.asIntN(64, raw) : raw });
	}
	return { values, ranges, skipped: skipped.sort((a, b) => (a.name < b.name ? -1 : 1)) };
}
