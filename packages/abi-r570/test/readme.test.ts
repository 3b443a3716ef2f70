/**
 * The README example runs against the current API and prints what its comments say.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const { runReadmeExample } = (await import(
	fileURLToPath(new URL('../../abi-r535/test/support/readme.ts', import.meta.url))
)) as { runReadmeExample(pkgDir: string): { expected: string[]; actual: string[] } };

it('the README example runs and prints what its comments promise', () => {
	const { expected, actual } = runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
	expect(expected.length).toBeGreaterThanOrEqual(5);
	expect(actual).toEqual(expected);
});
