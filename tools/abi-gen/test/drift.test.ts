/**
 * The committed generated files must be exactly what the generator produces from the fetched headers.
 * Skips (with the command to fetch them) when the headers or gcc are not available.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BRANCHES, checkGenerated, generate, REPO_ROOT, writeGenerated } from '../src/index.ts';
import { HEADERS, SKIP_REASON } from './support.ts';

describe.skipIf(SKIP_REASON !== '')(
	`drift against the headers${SKIP_REASON ? ` (skipped: ${SKIP_REASON})` : ''}`,
	() => {
		for (const branch of BRANCHES) {
			it(`${branch.key}: regenerating into a temp dir gives the committed files byte for byte`, () => {
				const tmp = mkdtempSync(join(tmpdir(), 'gspkit-drift-'));
				try {
					const g = generate(branch, HEADERS!);
					writeGenerated(g, tmp);
					for (const name of g.files.keys()) {
						const fresh = readFileSync(join(tmp, name), 'utf8');
						const committed = readFileSync(join(REPO_ROOT, branch.outDir, name), 'utf8');
						// Compare line by line first so a failure names the first differing line.
						const a = fresh.split('\n');
						const b = committed.split('\n');
						const first = a.findIndex((l, i) => l !== b[i]);
						expect(
							first === -1 ? null : { file: name, line: first + 1, fresh: a[first], committed: b[first] },
						).toBeNull();
						expect(fresh === committed).toBe(true);
					}
					expect(checkGenerated(g, join(REPO_ROOT, branch.outDir))).toEqual([]);
				} finally {
					rmSync(tmp, { recursive: true, force: true });
				}
			});
		}

		it('is deterministic: two runs give identical files', () => {
			const a = generate(BRANCHES[1]!, HEADERS!);
			const b = generate(BRANCHES[1]!, HEADERS!);
			expect([...a.files.entries()]).toEqual([...b.files.entries()]);
		});

		it('reports drift for a changed, missing or extra file', () => {
			const tmp = mkdtempSync(join(tmpdir(), 'gspkit-drift-'));
			try {
				const g = generate(BRANCHES[0]!, HEADERS!);
				writeGenerated(g, tmp);
				expect(checkGenerated(g, tmp)).toEqual([]);
				const p = join(tmp, 'constants.ts');
				const text = readFileSync(p, 'utf8').replace('GSP_RM_ALLOC: 103', 'GSP_RM_ALLOC: 104');
				writeGenerated({ ...g, files: new Map([...g.files, ['constants.ts', text]]) }, tmp);
				const drift = checkGenerated(g, tmp);
				expect(drift).toHaveLength(1);
				expect(drift[0]).toMatchObject({ reason: 'stale' });
				expect(readFileSync(p, 'utf8').split('\n')[(drift[0]!.line ?? 0) - 1]).toContain('GSP_RM_ALLOC: 104');
				rmSync(join(tmp, 'manifest.json'));
				expect(
					checkGenerated(g, tmp)
						.map((d) => d.reason)
						.sort(),
				).toEqual(['missing', 'stale']);
			} finally {
				rmSync(tmp, { recursive: true, force: true });
			}
		});
	},
);
