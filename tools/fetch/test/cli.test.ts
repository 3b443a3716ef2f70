/** The gspkit-fetch command line, driven with fake fetchers: argument handling only, no network. */

import { describe, expect, it } from 'vitest';
import {
	type CachePaths,
	type FetchDeps,
	FetchError,
	type FetchOptions,
	type HeadersOptions,
	main,
} from '../src/index.ts';

interface Call {
	readonly what: string;
	readonly opts: FetchOptions & { package?: string };
}

function fake(overrides: Partial<FetchDeps> = {}) {
	const calls: Call[] = [];
	const out: string[] = [];
	const err: string[] = [];
	const paths: CachePaths = {
		cache: '/c',
		headers: '/c/src/linux-source-7.2',
		headersSource: { package: 'linux-source-7.2', version: '7.2.13-1', deb: 'x.deb' },
		firmware: null,
		firmwareSource: null,
		nvidiaOpen: null,
		nvidiaOpenSource: null,
	};
	const deps: FetchDeps = {
		ensureHeaders: async (opts: HeadersOptions) => {
			calls.push({ what: 'headers', opts });
			opts.log?.('working');
			return '/c/src/linux-source-7.2';
		},
		ensureFirmware: async (opts) => {
			calls.push({ what: 'firmware', opts });
			return '/c/firmware';
		},
		ensureNvidiaOpen: async (opts) => {
			calls.push({ what: 'nvidia-open', opts });
			return '/c/src/nvidia-open-550.163.01';
		},
		cachePaths: (env) => ({ ...paths, cache: env.GSPKIT_CACHE ?? paths.cache }),
		out: (t) => out.push(t),
		err: (t) => err.push(t),
		env: { HOME: '/home/x' },
		...overrides,
	};
	return { deps, calls, out, err };
}

describe('gspkit-fetch CLI', () => {
	it('headers prints the tree root and logs progress on stderr', async () => {
		const f = fake();
		expect(await main(['headers'], f.deps)).toBe(0);
		expect(f.out.join('')).toBe('/c/src/linux-source-7.2\n');
		expect(f.err.join('')).toBe('gspkit-fetch: working\n');
		expect(f.calls).toHaveLength(1);
		expect(f.calls[0]!.opts.package).toBeUndefined();
		expect(f.calls[0]!.opts.force).toBeUndefined();
	});

	it('passes --package, --force, --verbose and --cache through', async () => {
		const f = fake();
		const code = await main(
			['--cache', '/tmp/k', '--force', '-v', 'headers', '--package', 'linux-source-7.3'],
			f.deps,
		);
		expect(code).toBe(0);
		const o = f.calls[0]!.opts;
		expect(o.package).toBe('linux-source-7.3');
		expect(o.force).toBe(true);
		expect(o.verbose).toBe(true);
		expect(o.env?.GSPKIT_CACHE).toBe('/tmp/k');
		expect(o.env?.HOME).toBe('/home/x');
	});

	it('--quiet drops progress lines', async () => {
		const f = fake();
		expect(await main(['-q', 'headers'], f.deps)).toBe(0);
		expect(f.err).toEqual([]);
		expect(f.calls[0]!.opts.log).toBeUndefined();
	});

	it('all runs headers, firmware and nvidia-open in order and prints the paths as JSON', async () => {
		const f = fake();
		expect(await main(['all'], f.deps)).toBe(0);
		expect(f.calls.map((c) => c.what)).toEqual(['headers', 'firmware', 'nvidia-open']);
		const json = JSON.parse(f.out.join('')) as CachePaths;
		expect(json.headers).toBe('/c/src/linux-source-7.2');
		expect(json.firmware).toBeNull();
	});

	it('where prints JSON and fetches nothing', async () => {
		const f = fake();
		expect(await main(['--cache', '/elsewhere', 'where'], f.deps)).toBe(0);
		expect(f.calls).toEqual([]);
		expect((JSON.parse(f.out.join('')) as CachePaths).cache).toBe('/elsewhere');
	});

	it('usage errors exit 2: no command, unknown command, unknown option, missing option value', async () => {
		for (const argv of [[], ['bogus'], ['headers', '--nope'], ['headers', '--package'], ['--cache']]) {
			const f = fake();
			expect(await main(argv, f.deps), argv.join(' ')).toBe(2);
			expect(f.calls).toEqual([]);
		}
	});

	it('--help exits 0', async () => {
		const f = fake();
		expect(await main(['--help'], f.deps)).toBe(0);
		expect(f.out.join('')).toContain('nvidia-open');
	});

	it('maps typed errors to their exit codes and prints the code', async () => {
		const cases: [FetchError, number][] = [
			[new FetchError('E_NOT_FOUND', 'no linux-source-7.*'), 3],
			[new FetchError('E_TOOL_MISSING', 'tar is not installed'), 4],
			[new FetchError('E_NO_ARCHIVE', 'no URI'), 5],
			[new FetchError('E_EXTRACT', 'missing files'), 1],
			[new FetchError('E_USAGE', 'bad package'), 2],
		];
		for (const [e, code] of cases) {
			const f = fake({
				ensureFirmware: async () => {
					throw e;
				},
			});
			expect(await main(['firmware'], f.deps)).toBe(code);
			expect(f.err.join('')).toContain(`error ${e.code}: ${e.message}`);
		}
		const f = fake({
			ensureNvidiaOpen: async () => {
				throw new Error('boom');
			},
		});
		expect(await main(['nvidia-open'], f.deps)).toBe(1);
		expect(f.err.join('')).toContain('boom');
	});
});
