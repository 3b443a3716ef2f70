/**
 * The README example must run against the current API and print what its comments say.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));

it('the README example runs and prints what its comments promise', () => {
	const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
	const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
	expect(code).toBeDefined();
	const expected = [...code!.matchAll(/^console\.log\(.*\); \/\/ (.*)$/gm)].map((m) =>
		m[1]!.split(' (')[0]!.trim(),
	);
	expect(expected.length).toBeGreaterThanOrEqual(5);
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-abi-readme-'));
	try {
		const file = join(dir, 'example.ts');
		writeFileSync(file, code!.replace("from '@gspkit/abi'", `from '${join(pkg, 'src', 'index.ts')}'`));
		const tsx = join(pkg, '..', '..', 'node_modules', '.bin', 'tsx');
		const out = execFileSync(tsx, [file], { encoding: 'utf8' }).trimEnd().split('\n');
		expect(out).toEqual(expected);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
