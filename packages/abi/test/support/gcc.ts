/**
 * Compile small C programs with gcc and read what they print: the ground truth for layout tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Layout, patch, type RecordLayout } from '../../src/index.ts';

/** Whether gcc is installed (tests that need it skip with a message otherwise). */
export const HAVE_GCC = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

/** Compile `source` (C11, x86-64) with the given include directories, run it, return its stdout. */
export function compileAndRun(source: string, includeDirs: readonly string[] = []): string {
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-abi-gcc-'));
	try {
		const c = join(dir, 'probe.c');
		const exe = join(dir, 'probe');
		writeFileSync(c, source);
		execFileSync('gcc', ['-std=c11', '-w', '-O0', ...includeDirs.map((d) => `-I${d}`), '-o', exe, c], {
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		return execFileSync(exe, { encoding: 'utf8', maxBuffer: 64 << 20 });
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** What gcc reports for one record: size, alignment, and per field `[offset, size]` or a bit-field mask. */
export interface CRecordLayout {
	readonly size: number;
	readonly align: number;
	readonly fields: Record<
		string,
		{ readonly off: number; readonly size: number } | { readonly mask: string }
	>;
	readonly paths: Record<string, number>;
}

/** One record to probe: its C spelling and the fields (bit-fields are probed by mask). */
export interface CProbe {
	readonly key: string;
	readonly ctype: string; // 'struct X' / 'union Y'
	readonly fields: readonly {
		readonly name: string;
		readonly bits: boolean;
		readonly flex: boolean;
		readonly bool: boolean;
	}[];
	readonly paths?: readonly string[];
}

/** The probe list for TS layouts (field names and kinds come from the layout; C does the rest). */
export function probesFor(
	layouts: readonly RecordLayout[],
	paths: Readonly<Record<string, readonly string[]>> = {},
): CProbe[] {
	return layouts.map((l) => ({
		key: l.name,
		ctype: `${l.kind} ${l.name}`,
		fields: l.fields.map((f) => ({
			name: f.name,
			bits: f.bits !== undefined,
			flex: f.layout.kind === 'flex',
			bool: f.layout.kind === 'prim' && f.layout.prim === 'bool',
		})),
		paths: paths[l.name] ?? [],
	}));
}

/** A C program that prints every probe's layout as one JSON object keyed by probe key. */
export function probeProgram(prelude: string, probes: readonly CProbe[]): string {
	const out: string[] = [
		'#include <stdio.h>',
		'#include <stddef.h>',
		'#include <string.h>',
		'#include <stdint.h>',
		'#include <stdbool.h>',
		prelude,
		'static void dump(const void *p, size_t n) { const unsigned char *b = p; for (size_t i = 0; i < n; i++) printf("%02x", b[i]); }',
		'int main(void) {',
		'  int first = 1;',
		'  printf("{");',
	];
	for (const p of probes) {
		const T = p.ctype;
		out.push('  {');
		out.push(`    static ${T} s;`);
		out.push('    if (!first) printf(","); first = 0;');
		out.push(
			`    printf("\\"${p.key}\\":{\\"size\\":%zu,\\"align\\":%zu,\\"fields\\":{", sizeof(${T}), _Alignof(${T}));`,
		);
		p.fields.forEach((f, i) => {
			const sep = i === 0 ? '' : ',';
			if (f.bits) {
				out.push(`    memset(&s, 0, sizeof s); s.${f.name} = ${f.bool ? '1' : '-1'};`);
				out.push(`    printf("${sep}\\"${f.name}\\":{\\"mask\\":\\""); dump(&s, sizeof s); printf("\\"}");`);
			} else if (f.flex) {
				out.push(
					`    printf("${sep}\\"${f.name}\\":{\\"off\\":%zu,\\"size\\":0}", offsetof(${T}, ${f.name}));`,
				);
			} else {
				out.push(
					`    printf("${sep}\\"${f.name}\\":{\\"off\\":%zu,\\"size\\":%zu}", offsetof(${T}, ${f.name}), sizeof(s.${f.name}));`,
				);
			}
		});
		out.push('    printf("},\\"paths\\":{");');
		(p.paths ?? []).forEach((path, i) => {
			out.push(`    printf("${i === 0 ? '' : ','}\\"${path}\\":%zu", offsetof(${T}, ${path}));`);
		});
		out.push('    printf("}}");');
		out.push('  }');
	}
	out.push('  printf("}\\n");', '  return 0;', '}');
	return out.join('\n');
}

/** Run the probes and parse gcc's answer. */
export function gccLayouts(
	prelude: string,
	probes: readonly CProbe[],
	includeDirs: readonly string[] = [],
): Record<string, CRecordLayout> {
	return JSON.parse(compileAndRun(probeProgram(prelude, probes), includeDirs)) as Record<
		string,
		CRecordLayout
	>;
}

function hex(b: Uint8Array): string {
	return Buffer.from(b).toString('hex');
}

/** The same description computed from our layout (bit-field masks by patching all-ones into zeroes). */
export function ourLayout(
	l: RecordLayout,
	paths: readonly string[] = [],
	offsetOf?: (l: Layout, p: string) => number,
): CRecordLayout {
	const fields: CRecordLayout['fields'] = {};
	for (const f of l.fields) {
		if (f.bits !== undefined) {
			const prim = (f.layout as { prim: string }).prim;
			const ones =
				prim === 'bool'
					? true
					: prim === 'u64'
						? (1n << BigInt(f.bits.size)) - 1n
						: prim === 'i64'
							? -1n
							: prim.startsWith('i')
								? -1
								: 2 ** f.bits.size - 1;
			const buf = new Uint8Array(l.size);
			patch(l, { [f.name]: ones } as never, buf);
			fields[f.name] = { mask: hex(buf) };
		} else {
			fields[f.name] = { off: f.offset, size: f.size };
		}
	}
	const p: Record<string, number> = {};
	for (const path of paths) p[path] = offsetOf!(l, path);
	return { size: l.size, align: l.align, fields, paths: p };
}
