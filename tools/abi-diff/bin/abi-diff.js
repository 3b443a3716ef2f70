#!/usr/bin/env node
// Runs the built CLI (dist/cli.js) when present, else the TypeScript sources through tsx
// (the repository's dev setup: `tsx --conditions=@gspkit/source`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
if (existsSync(fileURLToPath(dist))) {
	await import(dist.href);
} else {
	const src = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
	const r = spawnSync(
		process.execPath,
		['--import', 'tsx', '--conditions=@gspkit/source', src, ...process.argv.slice(2)],
		{
			stdio: 'inherit',
		},
	);
	process.exit(r.status ?? 1);
}
