/**
 * The `@gspkit/mmu` README's simulated-GPU example runs as written and prints what its comments say: it maps
 * through mmu, translates through gpu-sim's independent MMU (found via the instance block mmu wrote), and
 * unmaps until the simulated MMU faults.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES: Readonly<Record<string, string>> = {
	'@gspkit/mmu': 'packages/mmu/src/index.ts',
	'@gspkit/gpu-sim': 'packages/gpu-sim/src/index.ts',
	'@gspkit/hal': 'packages/hal/src/index.ts',
};

/** The ```ts block that uses the simulator as the hardware side. */
function simulatedGpuExample(): string {
	const readme = readFileSync(join(root, 'packages/mmu/README.md'), 'utf8');
	const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
	const hits = blocks.filter((b) => b.includes("from '@gspkit/gpu-sim'"));
	expect(hits).toHaveLength(1);
	return hits[0] as string;
}

describe('@gspkit/mmu README (simulated GPU example)', () => {
	let dir: string | undefined;
	afterEach(() => {
		if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
		dir = undefined;
		vi.restoreAllMocks();
	});

	it('maps, translates through the simulated walker, unmaps — and prints what its comments say', async () => {
		const code = simulatedGpuExample();
		// The example must really use the simulated MMU and really unmap, not just mmu's software walk.
		expect(code).toContain('gpu.mmu.translate(');
		expect(code).toContain("op: 'unmap'");
		expect(code).not.toContain('vas.translate(');
		let source = code;
		for (const [pkg, path] of Object.entries(SOURCES)) {
			source = source.replaceAll(`from '${pkg}'`, `from ${JSON.stringify(join(root, path))}`);
		}
		expect(source).not.toMatch(/from '@gspkit\//);
		dir = mkdtempSync(join(tmpdir(), 'mmu-readme-'));
		const file = join(dir, 'example.ts');
		writeFileSync(file, source);
		const lines: string[] = [];
		vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
			lines.push(format(...args));
		});
		await import(/* @vite-ignore */ file);
		const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1] as string);
		expect(expected.length).toBeGreaterThanOrEqual(5);
		expect(lines).toEqual(expected);
	});
});
