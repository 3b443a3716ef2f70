import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

describe('README', () => {
	let dir: string | undefined;
	afterEach(() => {
		if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
		vi.restoreAllMocks();
	});

	it('runs the example and prints what its comments say', async () => {
		const readme = readFileSync(resolve(here, '../README.md'), 'utf8');
		const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
		expect(code).toBeDefined();
		const source = code!.replace(
			"from '@gspkit/hal'",
			`from ${JSON.stringify(resolve(here, '../src/index.ts'))}`,
		);
		dir = mkdtempSync(join(tmpdir(), 'hal-readme-'));
		const file = join(dir, 'example.ts');
		writeFileSync(file, source);
		const lines: string[] = [];
		vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
			lines.push(format(...args));
		});
		await import(/* @vite-ignore */ file);
		// Each `console.log(...); // expected` comment in the example, in order.
		const expected = [...code!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
		expect(lines).toHaveLength(expected.length);
		lines.forEach((line, i) => {
			const parts = expected[i]!.replace(/\(.*\)$/, '')
				.split('...')
				.map((p) => p.trim())
				.filter(Boolean);
			for (const p of parts) expect(line).toContain(p);
		});
	});
});
