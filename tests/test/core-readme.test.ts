/**
 * The example in `@gspkit/core`'s README runs as written and prints what its comments say.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES: Readonly<Record<string, string>> = {
	'@gspkit/core': 'packages/core/src/index.ts',
	'@gspkit/gpu-sim': 'packages/gpu-sim/src/index.ts',
	'@gspkit/abi-r535': 'packages/abi-r535/src/index.ts',
	'@gspkit/abi-r570': 'packages/abi-r570/src/index.ts',
};

describe('@gspkit/core README', () => {
	let dir: string | undefined;
	afterEach(() => {
		if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
		vi.restoreAllMocks();
	});

	it('runs the example and prints what its comments say', async () => {
		const readme = readFileSync(join(root, 'packages/core/README.md'), 'utf8');
		const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
		expect(code).toBeDefined();
		let source = code!;
		for (const [pkg, path] of Object.entries(SOURCES)) {
			source = source.replaceAll(`from '${pkg}'`, `from ${JSON.stringify(join(root, path))}`);
		}
		dir = mkdtempSync(join(tmpdir(), 'core-readme-'));
		const file = join(dir, 'example.ts');
		writeFileSync(file, source);
		const lines: string[] = [];
		vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
			lines.push(format(...args));
		});
		await import(/* @vite-ignore */ file);
		const expected = [...code!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
		expect(lines).toEqual(expected);
	});
});
