import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../..');

interface PackageJson {
	name: string;
	private?: boolean;
	engines?: { node?: string };
	exports?: Record<string, Record<string, string>>;
	dependencies?: Record<string, string>;
}

function workspaces(): { dir: string; pkg: PackageJson }[] {
	return ['packages', 'apps', 'tools']
		.flatMap((group) => readdirSync(join(repoRoot, group)).map((d) => join(group, d)))
		.filter((dir) => existsSync(join(repoRoot, dir, 'package.json')))
		.map((dir) => ({
			dir,
			pkg: JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as PackageJson,
		}));
}

describe('repository rules', () => {
	it('keeps every firmware ABI package on its own changeset version line', () => {
		const config = JSON.parse(readFileSync(join(repoRoot, '.changeset/config.json'), 'utf8')) as {
			fixed: string[][];
			linked: string[][];
		};
		const abiPackages = workspaces()
			.map((w) => w.pkg.name)
			.filter((name) => /^@gspkit\/abi-r\d+$/.test(name));
		expect(abiPackages.length).toBeGreaterThanOrEqual(2);
		for (const group of [...config.fixed, ...config.linked]) {
			for (const name of abiPackages) {
				// A glob like "@gspkit/*" would also capture the ABI packages.
				const captured = group.some((pattern) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`).test(name));
				expect(captured, `${name} must not share a version group`).toBe(false);
			}
		}
	});

	it('gives every publishable package a README, a source export condition and the Node engine floor', () => {
		for (const { dir, pkg } of workspaces()) {
			expect(existsSync(join(repoRoot, dir, 'README.md')), `${dir}/README.md`).toBe(true);
			expect(pkg.engines?.node, `${pkg.name} engines.node`).toBe('>=20.19');
			if (pkg.private) continue;
			expect(pkg.exports?.['.']?.['@gspkit/source'], `${pkg.name} source condition`).toMatch(
				/^\.\/src\/[\w-]+\.ts$/,
			);
			expect(Object.keys(pkg.exports?.['.'] ?? {})[0], `${pkg.name}: the source condition comes first`).toBe(
				'@gspkit/source',
			);
		}
	});

	it('declares internal dependencies that exist in the workspace', () => {
		const names = new Set(workspaces().map((w) => w.pkg.name));
		for (const { pkg } of workspaces()) {
			for (const dep of Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@gspkit/'))) {
				expect(names.has(dep), `${pkg.name} depends on unknown ${dep}`).toBe(true);
			}
		}
	});
});
