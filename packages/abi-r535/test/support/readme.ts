/**
 * Runs a package README's `ts` example and returns what it printed next to what its comments promise.
 * Shared with `@gspkit/abi-r570`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `{ expected, actual }` lines of the README example in `pkgDir` (run through tsx from the package itself). */
export function runReadmeExample(pkgDir: string): { expected: string[]; actual: string[] } {
	const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
	const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
	if (code === undefined) throw new Error(`${pkgDir}/README.md has no ts example`);
	// A console.log statement (possibly spread over several lines by the formatter) ending in `); // expected`.
	const expected = [...code.matchAll(/^console\.log\((?:[^;]|;(?!\s*\/\/))*?\); \/\/ (.*)$/gm)].map((m) =>
		m[1]!.trim(),
	);
	// Inside the package, so `@gspkit/*` imports resolve through the workspace like a user's would.
	const file = join(pkgDir, `.readme-example-${process.pid}.tmp.ts`);
	writeFileSync(file, code);
	try {
		const tsx = join(pkgDir, '..', '..', 'node_modules', '.bin', 'tsx');
		const out = execFileSync(tsx, ['--conditions=@gspkit/source', file], { encoding: 'utf8', cwd: pkgDir });
		return { expected, actual: out.trimEnd().split('\n') };
	} finally {
		rmSync(file, { force: true });
	}
}
