/**
 * An independent check of the DWARF reader: for every struct and union in the committed manifests, a C
 * program compiled from the same headers prints `sizeof`, `_Alignof` and the `offsetof`/`sizeof` of every
 * field (through anonymous members, nested anonymous types and element [0] of arrays of anonymous types),
 * finds each bit-field's bits by setting it in a zeroed object, and prints every constant. All must equal the
 * manifest.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayoutManifest, ManifestType } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import {
	BASE_FLAGS,
	findBranch,
	headerSet,
	includeFlags,
	runCompiler,
	scratch,
	writeTranslationUnit,
} from '../src/index.ts';
import { committedInherited, committedManifest, HEADERS, SKIP_REASON } from './support.ts';

interface Probe {
	readonly lines: string[];
	readonly expected: Map<string, string>;
}

/** How C spells a manifest type in these headers: `struct TAG` when a tag exists, else the typedef name. */
function spelling(name: string, headerText: string): string {
	const m = new RegExp(`\\b(struct|union)\\s+${name}\\s*\\{`).exec(headerText);
	return m ? `${m[1]} ${name}` : name;
}

function addType(p: Probe, m: LayoutManifest, t: ManifestType, spelled: string): void {
	const types = new Map(m.types.map((x) => [x.name, x]));
	const key = (k: string) => `${t.name}${k}`;
	const check = (k: string, expr: string, value: number) => {
		p.lines.push(`\tprintf("%s %llu\\n", "${key(k)}", (unsigned long long)(${expr}));`);
		p.expected.set(key(k), String(value));
	};
	check(':size', `sizeof(${spelled})`, t.size);
	check(':align', `_Alignof(${spelled})`, t.align);
	const walk = (rec: ManifestType, prefix: string, base: number) => {
		for (const f of rec.fields) {
			// `struct X.levels[6]` → the record `X.levels` and its array dimensions (`[6]`, or `[]` when flexible).
			const rm = /^(?:struct|union) ([^[\]]+)((?:\[\d*\])*)$/.exec(f.type);
			const inner = rm?.[1];
			const dims = rm?.[2]?.match(/\[\d*\]/g)?.length ?? 0;
			if (f.name.startsWith('@anon')) {
				// Members of an anonymous member are reached directly from the outer type.
				walk(types.get(inner!)!, prefix, base + f.offset);
				continue;
			}
			const path = `${prefix}${f.name}`;
			if (f.bitSize !== undefined) {
				// Set the bit-field in a zeroed object and report its lowest set bit and how many are set.
				p.lines.push(
					`\t{ ${spelled} x; memset(&x, 0, sizeof x); x.${path} = ~0ULL; unsigned char *b = (unsigned char *)&x;`,
					`\t  int lo = -1, n = 0; for (unsigned i = 0; i < sizeof x * 8; i++) if (b[i / 8] >> (i % 8) & 1) { if (lo < 0) lo = i; n++; }`,
					`\t  printf("%s %d/%d\\n", "${key(`.${path}:bits`)}", lo, n); }`,
				);
				p.expected.set(key(`.${path}:bits`), `${(base + f.offset) * 8 + f.bitOffset!}/${f.bitSize}`);
				continue;
			}
			check(`.${path}:offset`, `__builtin_offsetof(${spelled}, ${path})`, base + f.offset);
			if (!f.type.endsWith('[]')) check(`.${path}:size`, `sizeof(((${spelled} *)0)->${path})`, f.size);
			// An anonymous record type is checked only through its parent — as the member itself, or, for an array
			// of them, through element [0] (its fields' offsets within the element equal those within [0]).
			if (inner?.includes('.')) walk(types.get(inner)!, `${path}${'[0]'.repeat(dims)}.`, base + f.offset);
		}
	};
	walk(t, '', 0);
}

function runProbe(setKey: string, probe: Probe): Map<string, string> {
	const s = scratch('gspkit-gcc-check-');
	try {
		const set = headerSet(findBranch(setKey), HEADERS!);
		const body = `#include <stdio.h>\n#include <string.h>\nint main(void) {\n${probe.lines.join('\n')}\n\treturn 0;\n}\n`;
		const tu = writeTranslationUnit(set, s, body, 'check.c');
		const r = runCompiler([...BASE_FLAGS, tu, '-o', 'check', ...includeFlags(HEADERS!, s.dir)], s.dir);
		if (r.status !== 0) throw new Error(`check program does not compile:\n${r.stderr.slice(0, 3000)}`);
		const out = execFileSync(join(s.dir, 'check'), { encoding: 'utf8', maxBuffer: 64 << 20 });
		const got = new Map<string, string>();
		for (const line of out.split('\n')) {
			const i = line.lastIndexOf(' ');
			if (i > 0) got.set(line.slice(0, i), line.slice(i + 1));
		}
		return got;
	} finally {
		s.dispose();
	}
}

function headerText(setKey: string): string {
	const set = headerSet(findBranch(setKey), HEADERS!);
	return [...set.nvrm, ...set.common].map((f) => readFileSync(join(HEADERS!, f), 'utf8')).join('\n');
}

describe.skipIf(SKIP_REASON !== '')(
	`gcc agrees with the manifests${SKIP_REASON ? ` (skipped: ${SKIP_REASON})` : ''}`,
	() => {
		for (const key of ['r535', 'r570']) {
			it(`${key}: sizeof, _Alignof, offsetof and bit positions of every type and field`, () => {
				const m = committedManifest(key);
				const inherited = new Set(committedInherited(key)?.types ?? []);
				const parent = findBranch(key).inherits?.from;
				const checked = new Set<string>();
				// Types a branch inherits are checked against the older branch's headers, where they are defined.
				for (const setKey of parent ? [key, parent] : [key]) {
					const text = headerText(setKey);
					const probe: Probe = { lines: [], expected: new Map() };
					for (const t of m.types) {
						if (t.name.includes('.')) continue; // anonymous types: reached through their parents
						if ((setKey === key) === inherited.has(t.name)) continue;
						addType(probe, m, t, spelling(t.name, text));
					}
					const got = runProbe(setKey, probe);
					const mismatches = [...probe.expected]
						.filter(([k, v]) => got.get(k) !== v)
						.map(([k, v]) => `${k}: manifest ${v}, gcc ${got.get(k)}`);
					expect(mismatches).toEqual([]);
					expect(probe.expected.size).toBeGreaterThan(100);
					for (const k of probe.expected.keys()) checked.add(k);
				}
				// Fields of anonymous records inside arrays are reached through element [0] (fixed and flexible).
				for (const k of [
					'NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS.levels[0].pageShift:offset',
					'NV0073_CTRL_SPECIFIC_GET_CONNECTOR_DATA_PARAMS.data[0].index:offset',
				])
					expect(checked, k).toContain(k);
				expect([...checked].some((k) => k.startsWith('pte_desc.pte_pde[0].'))).toBe(true);
			});

			it(`${key}: every constant has the value gcc computes`, () => {
				const m = committedManifest(key);
				const inherited = new Set(committedInherited(key)?.constants ?? []);
				const parent = findBranch(key).inherits?.from;
				for (const setKey of parent ? [key, parent] : [key]) {
					const probe: Probe = { lines: [], expected: new Map() };
					for (const c of m.constants) {
						if ((setKey === key) === inherited.has(c.name)) continue;
						probe.lines.push(
							`\tif ((${c.name}) < 0) printf("%s %lld\\n", "${c.name}", (long long)(${c.name})); else printf("%s %llu\\n", "${c.name}", (unsigned long long)(${c.name}));`,
						);
						probe.expected.set(c.name, c.value);
					}
					const got = runProbe(setKey, probe);
					const mismatches = [...probe.expected]
						.filter(([k, v]) => got.get(k) !== v)
						.map(([k, v]) => `${k}: manifest ${v}, gcc ${got.get(k)}`);
					expect(mismatches).toEqual([]);
				}
			});
		}
	},
);
