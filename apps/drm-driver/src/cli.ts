/**
 * `gspkit-drm`: the DRM-style driver's command line. Today it probes a (simulated) GPU and prints what it
 * found; serving the DRM uAPI comes with the later stages.
 *
 * @module
 */

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { probe } from '@gspkit/core';
import { createSimulatedGpu, isSimChipName, SIM_CHIPS } from '@gspkit/gpu-sim';
import { isGspkitError } from '@gspkit/hal';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { formatSummary, toJson } from './format.ts';

export { type Colors, formatSize, formatSummary, toJson } from './format.ts';

/** Exit codes: 0 success, 1 the probe failed, 2 bad usage (unknown option, invalid chip name). */
export const EXIT = Object.freeze({ OK: 0, FAILURE: 1, USAGE: 2 });

/** Where {@link main} writes, and whether it may use colour; tests pass their own. */
export interface CliIo {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	/** Colour the summary; default: picocolors' terminal detection (NO_COLOR, FORCE_COLOR, TTY). */
	readonly color?: boolean;
}

const defaultIo: CliIo = {
	stdout: (text) => process.stdout.write(text),
	stderr: (text) => process.stderr.write(text),
};

/** The package version, read from package.json (one level above both `src/` and `dist/`). */
export function version(): string {
	const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
		version: string;
	};
	return pkg.version;
}

function parseChip(value: string): string {
	if (!isSimChipName(value)) {
		throw new InvalidArgumentError(`unknown chip; valid chips: ${SIM_CHIPS.map((c) => c.name).join(', ')}`);
	}
	return value.toLowerCase();
}

/**
 * Run the CLI with `argv` (arguments only, without `node` and the script). Resolves to the exit code
 * instead of exiting, so it can be tested and embedded.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
	const program = new Command()
		.name('gspkit-drm')
		.description(
			'Probe an NVIDIA GPU through gspkit and print what was found.\n' +
				'Runs against the embedded simulated GPU (gpu-sim); no hardware needed.',
		)
		.version(version(), '-V, --version')
		.addOption(
			new Option('-c, --chip <name>', `simulated chip (${SIM_CHIPS.map((c) => c.name).join(', ')})`)
				.default('ga102')
				.argParser(parseChip),
		)
		.option('--json', 'print the probe result as JSON')
		.option('--no-color', 'disable colours in the summary')
		.exitOverride()
		.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

	try {
		program.parse(argv, { from: 'user' });
	} catch (e) {
		if (e instanceof CommanderError) {
			return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0
				? EXIT.OK
				: EXIT.USAGE;
		}
		throw e;
	}
	const opts = program.opts<{ chip: string; json?: boolean; color: boolean }>();
	const colors = pc.createColors(opts.color && (io.color ?? pc.isColorSupported));

	const gpu = createSimulatedGpu({ chip: opts.chip });
	try {
		const description = await probe(gpu);
		if (opts.json) {
			io.stdout(`${JSON.stringify(toJson(description), null, 2)}\n`);
		} else {
			io.stdout(
				`${colors.bold(`gspkit-drm ${version()}`)} ${colors.dim('probe')}\n${formatSummary(description, colors)}\n`,
			);
		}
		return EXIT.OK;
	} catch (e) {
		if (isGspkitError(e)) {
			io.stderr(`${colors.red('error:')} ${e.message} ${colors.dim(`(${e.code})`)}\n`);
			return EXIT.FAILURE;
		}
		throw e;
	} finally {
		await gpu.close();
	}
}

/** Whether this module is the process entry point (also through an npm bin symlink). */
function isEntryPoint(): boolean {
	const script = process.argv[1];
	if (script === undefined) return false;
	try {
		return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
	} catch {
		return false;
	}
}

if (isEntryPoint()) {
	main(process.argv.slice(2)).then(
		(code) => {
			process.exitCode = code;
		},
		(e: unknown) => {
			console.error(e);
			process.exitCode = EXIT.FAILURE;
		},
	);
}
