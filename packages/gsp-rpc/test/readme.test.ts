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
		const source = code!
			.replace("from '@gspkit/gsp-rpc'", `from ${JSON.stringify(resolve(here, '../src/index.ts'))}`)
			.replace("from '@gspkit/abi'", `from ${JSON.stringify(resolve(here, '../../abi/src/index.ts'))}`)
			.replace("from '@gspkit/hal'", `from ${JSON.stringify(resolve(here, '../../hal/src/index.ts'))}`)
			.replace(
				"'packages/abi-r535/src/generated/manifest.json'",
				JSON.stringify(resolve(here, '../../abi-r535/src/generated/manifest.json')),
			);
		dir = mkdtempSync(join(tmpdir(), 'gsp-rpc-readme-'));
		const file = join(dir, 'example.ts');
		writeFileSync(file, source);
		const lines: string[] = [];
		vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
			lines.push(format(...args));
		});
		await import(/* @vite-ignore */ file);
		const expected = [...code!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
		expect(lines.map((l) => l.replace(/\s+/g, ' '))).toEqual(expected);
	});
});
