import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Tests run against package sources (the `@gspkit/source` export condition), never against dist/.
const conditions = ['@gspkit/source', 'node', 'import', 'module', 'default'];

/** Every workspace with a `test/` folder is one vitest project named after its package. */
function workspaceProjects(): TestProjectInlineConfiguration[] {
	// Relative to this file, so `npm test -w <package>` (cwd = the package) finds the same projects.
	const repo = import.meta.dirname;
	const dirs = ['packages', 'apps', 'tools']
		.flatMap((group) => {
			const path = join(repo, group);
			return existsSync(path) ? readdirSync(path).map((d) => join(path, d)) : [];
		})
		.concat([join(repo, 'tests')]);
	return dirs
		.filter((dir) => existsSync(join(dir, 'test')) && existsSync(join(dir, 'package.json')))
		.map((dir) => ({
			extends: true,
			test: {
				name: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name as string,
				root: dir,
				include: ['test/**/*.test.ts'],
				setupFiles: [join(repo, 'configs/vitest.setup.ts')],
			},
		}));
}

export default defineConfig({
	resolve: { conditions },
	ssr: { resolve: { conditions, externalConditions: conditions } },
	test: {
		projects: workspaceProjects(),
		environment: 'node',
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
	},
});
