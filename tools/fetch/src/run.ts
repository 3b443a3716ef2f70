/**
 * Subprocess and logging helpers shared by the fetchers.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FetchError } from './errors.ts';

/** Receives progress lines (the CLI prints them on stderr). */
export type Logger = (line: string) => void;

/** Options shared by every `ensure*` function. */
export interface FetchOptions {
	/** Environment used to resolve the cache (default `process.env`). */
	readonly env?: Readonly<Record<string, string | undefined>>;
	/** Redo the extraction even when a `.complete` stamp exists. */
	readonly force?: boolean;
	/** Progress sink; default: nothing. */
	readonly log?: Logger;
	/** Show subprocess (apt-get, tar) output on stderr. */
	readonly verbose?: boolean;
}

/** Path of bin/debian-fetch.sh inside this package. */
export const DEBIAN_FETCH = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'debian-fetch.sh');

/** Result of {@link run}. */
export interface RunResult {
	readonly stdout: string;
	readonly stderr: string;
}

/**
 * Runs a command without a shell and returns its output; a missing tool or a non-zero exit becomes a
 * {@link FetchError}. `codes` maps specific exit statuses to error codes (debian-fetch.sh's 3 and 4).
 */
export function run(
	cmd: string,
	args: readonly string[],
	opts: {
		readonly env?: Readonly<Record<string, string | undefined>>;
		readonly cwd?: string;
		readonly verbose?: boolean;
		readonly codes?: Readonly<Record<number, 'E_NOT_FOUND' | 'E_NO_ARCHIVE' | 'E_USAGE'>>;
	} = {},
): Promise<RunResult> {
	return new Promise((resolvePromise, reject) => {
		const child = spawn(cmd, args, {
			cwd: opts.cwd,
			env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const out: Buffer[] = [];
		const err: Buffer[] = [];
		child.stdout.on('data', (b: Buffer) => out.push(b));
		child.stderr.on('data', (b: Buffer) => {
			err.push(b);
			if (opts.verbose) process.stderr.write(b);
		});
		child.on('error', (e: NodeJS.ErrnoException) => {
			if (e.code === 'ENOENT') {
				reject(new FetchError('E_TOOL_MISSING', `${cmd} is not installed (needed to fetch data)`, { cmd }));
			} else {
				reject(new FetchError('E_COMMAND_FAILED', `${cmd} could not be started: ${e.message}`, { cmd }));
			}
		});
		child.on('close', (status, signal) => {
			const stdout = Buffer.concat(out).toString('utf8');
			const stderr = Buffer.concat(err).toString('utf8');
			if (status === 0) {
				resolvePromise({ stdout, stderr });
				return;
			}
			const tail = stderr.trim().split('\n').slice(-5).join('\n');
			const mapped = status === null ? undefined : opts.codes?.[status];
			const what = signal ? `was killed by ${signal}` : `exited with status ${status}`;
			reject(
				new FetchError(mapped ?? 'E_COMMAND_FAILED', `${cmd} ${what}${tail ? `:\n${tail}` : ''}`, {
					cmd,
					args,
					status,
					signal,
				}),
			);
		});
	});
}

/** Runs bin/debian-fetch.sh; its exit statuses 3 and 4 become `E_NO_ARCHIVE` and `E_NOT_FOUND`. */
export function debianFetch(args: readonly string[], opts: FetchOptions): Promise<RunResult> {
	return run('bash', [DEBIAN_FETCH, ...args], {
		...(opts.env ? { env: opts.env } : {}),
		...(opts.verbose ? { verbose: true } : {}),
		codes: { 2: 'E_USAGE', 3: 'E_NO_ARCHIVE', 4: 'E_NOT_FOUND' },
	});
}
