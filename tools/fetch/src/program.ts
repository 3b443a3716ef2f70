/**
 * The `gspkit-fetch` command line, built so tests can drive it with fake fetchers (no network).
 *
 * @module
 */

import { Command, CommanderError } from 'commander';
import { EXIT_CODES, FetchError } from './errors.ts';
import { ensureFirmware } from './firmware.ts';
import { ensureHeaders, type HeadersOptions } from './headers.ts';
import { ensureNvidiaOpen } from './nvidia-open.ts';
import { type CachePaths, cachePaths, type Env } from './paths.ts';
import type { FetchOptions } from './run.ts';

/** What the CLI calls; tests replace these. */
export interface FetchDeps {
	readonly ensureHeaders: (opts: HeadersOptions) => Promise<string>;
	readonly ensureFirmware: (opts: FetchOptions) => Promise<string>;
	readonly ensureNvidiaOpen: (opts: FetchOptions) => Promise<string>;
	readonly cachePaths: (env: Env) => CachePaths;
	/** Result lines (paths, JSON). */
	readonly out: (text: string) => void;
	/** Progress and error lines. */
	readonly err: (text: string) => void;
	readonly env: Env;
}

/** The real fetchers, printing to the process's stdout/stderr. */
export const defaultDeps: FetchDeps = {
	ensureHeaders,
	ensureFirmware,
	ensureNvidiaOpen,
	cachePaths,
	out: (t) => process.stdout.write(t),
	err: (t) => process.stderr.write(t),
	env: process.env,
};

interface GlobalOpts {
	cache?: string;
	force?: boolean;
	verbose?: boolean;
	quiet?: boolean;
}

/** Builds the commander program. Errors surface as exceptions (`exitOverride`), never as `process.exit`. */
export function createProgram(deps: FetchDeps = defaultDeps): Command {
	const program = new Command('gspkit-fetch');
	program
		.description('Fetch GSP firmware and the published GSP-RM ABI headers from Debian packages into a cache')
		.option('--cache <dir>', 'cache root (default: $GSPKIT_CACHE, else ~/.cache/gspkit)')
		.option('-f, --force', 'extract again even if a .complete stamp exists')
		.option('-v, --verbose', 'show apt-get and tar output')
		.option('-q, --quiet', 'no progress lines')
		.exitOverride()
		.configureOutput({ writeOut: deps.out, writeErr: deps.err })
		.showHelpAfterError();

	const optsOf = (cmd: Command): FetchOptions & { env: Env } => {
		const g = cmd.optsWithGlobals<GlobalOpts>();
		const env: Env = g.cache ? { ...deps.env, GSPKIT_CACHE: g.cache } : deps.env;
		return {
			env,
			...(g.force ? { force: true } : {}),
			...(g.verbose ? { verbose: true } : {}),
			...(g.quiet ? {} : { log: (line: string) => deps.err(`gspkit-fetch: ${line}\n`) }),
		};
	};

	program
		.command('headers')
		.description('linux-source-7.N (newest in sid): nouveau rm/r535 + rm/r570, nova-core, DRM and VFIO uAPI')
		.option('--package <name>', 'use this linux-source-7.N package instead of the newest')
		.action(async (o: { package?: string }, cmd: Command) => {
			const dir = await deps.ensureHeaders({ ...optsOf(cmd), ...(o.package ? { package: o.package } : {}) });
			deps.out(`${dir}\n`);
		});
	program
		.command('firmware')
		.description('firmware-nvidia-graphics: keep nvidia/<chip>/gsp/ (symlinks preserved)')
		.action(async (_o: unknown, cmd: Command) => {
			deps.out(`${await deps.ensureFirmware(optsOf(cmd))}\n`);
		});
	program
		.command('nvidia-open')
		.description('nvidia-open-kernel-source (contrib): nvidia-uvm/hwref and class headers')
		.action(async (_o: unknown, cmd: Command) => {
			deps.out(`${await deps.ensureNvidiaOpen(optsOf(cmd))}\n`);
		});
	program
		.command('all')
		.description('headers, firmware and nvidia-open, then print the paths as JSON')
		.action(async (_o: unknown, cmd: Command) => {
			const opts = optsOf(cmd);
			await deps.ensureHeaders(opts);
			await deps.ensureFirmware(opts);
			await deps.ensureNvidiaOpen(opts);
			deps.out(`${JSON.stringify(deps.cachePaths(opts.env), null, 2)}\n`);
		});
	program
		.command('where')
		.description('print the cache paths as JSON (null when not fetched); never downloads')
		.action((_o: unknown, cmd: Command) => {
			deps.out(`${JSON.stringify(deps.cachePaths(optsOf(cmd).env), null, 2)}\n`);
		});
	return program;
}

/**
 * Runs the CLI on `argv` (without the node and script entries) and returns the exit code:
 * 0 success, 2 usage error, otherwise {@link EXIT_CODES} of the {@link FetchError}, 1 for anything else.
 */
export async function main(argv: readonly string[], deps: FetchDeps = defaultDeps): Promise<number> {
	const program = createProgram(deps);
	try {
		if (argv.length === 0) {
			program.outputHelp({ error: true });
			return EXIT_CODES.E_USAGE;
		}
		await program.parseAsync([...argv], { from: 'user' });
		return 0;
	} catch (e) {
		if (e instanceof CommanderError) {
			// --help and --version end through here too, with exit code 0.
			return e.exitCode === 0 ? 0 : EXIT_CODES.E_USAGE;
		}
		if (e instanceof FetchError) {
			deps.err(`gspkit-fetch: error ${e.code}: ${e.message}\n`);
			return EXIT_CODES[e.code];
		}
		deps.err(`gspkit-fetch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
		return 1;
	}
}
