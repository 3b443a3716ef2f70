/** The README example is real: run its code block with tsx and compare what it prints with its comments. */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkg, '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

describe('README', () => {
	it.skipIf(!existsSync(tsx))('the example runs and prints what its comments say', () => {
		const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
		const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
		expect(block).toBeDefined();
		const code = block as string;
		const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
		expect(expected.length).toBeGreaterThanOrEqual(6);
		const file = join(pkg, `.readme-example-${process.pid}.ts`);
		writeFileSync(file, code);
		try {
			const out = execFileSync(tsx, ['--conditions=@gspkit/source', file], { cwd: root, encoding: 'utf8' });
			expect(out.trim().split('\n')).toEqual(expected);
		} finally {
			rmSync(file, { force: true });
		}
	});
});
