/**
 * `abi-diff`: quantify the churn between two GSP-RM firmware ABIs — renumbered message IDs first, then
 * types, fields and constants, for the whole ABI and for the closure reachable from what the driver uses.
 *
 * `main(argv, io)` is the whole program, so tests run it in-process; `cli.ts` only wires it to the process.
 * Exit codes: 0 ok, 1 `--check` found an incompatible change in the used closure, 2 usage or input error.
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { type AbiDiff, diffAbis } from './diff.ts';
import { AbiDiffInputError, defaultRoots, loadAbi } from './load.ts';
import { DEFAULT_REPORT_WIDTH, renderCheck, renderReport } from './report.ts';

export * from './diff.ts';
export * from './load.ts';
export * from './model.ts';
export * from './report.ts';

/** Where the program writes. */
export interface CliIo {
	/** Where the report goes; a terminal's `columns` (when `isTTY`) sets the width tables wrap to. */
	readonly stdout: { write(s: string): unknown; readonly columns?: number; readonly isTTY?: boolean };
	readonly stderr: { write(s: string): unknown };
	/** Colour output (default: picocolors' detection — a TTY and no NO_COLOR). */
	readonly color?: boolean;
}

/** Exit codes. */
export const EXIT = Object.freeze({ ok: 0, incompatible: 1, usage: 2 });

interface DiffCliOptions {
	json?: boolean;
	check?: boolean;
	all?: boolean;
	color?: boolean;
	limit?: number;
	width?: number;
}

/** The width to fit: `--width`, else the terminal's columns, else {@link DEFAULT_REPORT_WIDTH}. */
export function reportWidth(io: CliIo, option?: number): number {
	if (option !== undefined) return option;
	const cols = io.stdout.columns;
	return io.stdout.isTTY === true && typeof cols === 'number' && cols > 0 ? cols : DEFAULT_REPORT_WIDTH;
}

/** Load and compare two ABIs (package names or manifest files). */
export async function compare(a: string, b: string): Promise<AbiDiff> {
	const [ma, mb] = await Promise.all([loadAbi(a), loadAbi(b)]);
	return diffAbis(ma, mb, { defaultRoots: defaultRoots() });
}

/** Run `abi-diff` with `argv` (without the node and script names); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
	let exit: number = EXIT.ok;
	const program = new Command('abi-diff')
		.description(
			'Compare two GSP-RM firmware ABIs: renumbered messages, types added/removed, size changes, field offset shifts, renamed fields and constant changes — for the whole ABI and the closure the driver uses',
		)
		.argument('<abiA>', 'older ABI: a package name (@gspkit/abi-r535) or a layout manifest JSON file')
		.argument('<abiB>', 'newer ABI: a package name (@gspkit/abi-r570) or a layout manifest JSON file')
		.option('--json', 'machine-readable output on stdout')
		.option('--check', 'exit 1 when the used closure has an incompatible change')
		.option('--all', 'list changes of the whole ABI, not only the used closure')
		.option('--limit <n>', 'rows per table', (v) => {
			const n = Number(v);
			if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
			return n;
		})
		.option('--width <n>', 'wrap tables to this many columns (default: the terminal width, or 120)', (v) => {
			const n = Number(v);
			if (!Number.isInteger(n) || n < 40) throw new InvalidArgumentError('must be an integer of at least 40');
			return n;
		})
		.option('--no-color', 'disable colours')
		.exitOverride()
		.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
		.action(async (a: string, b: string, opts: DiffCliOptions) => {
			let d: AbiDiff;
			try {
				d = await compare(a, b);
			} catch (e) {
				if (e instanceof AbiDiffInputError) {
					io.stderr.write(`abi-diff: ${e.message}\n`);
					exit = EXIT.usage;
					return;
				}
				throw e;
			}
			const color = opts.color !== false && (io.color ?? pc.isColorSupported);
			if (opts.json === true) io.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
			else {
				io.stdout.write(
					renderReport(d, {
						color,
						all: opts.all === true,
						width: reportWidth(io, opts.width),
						...(opts.limit === undefined ? {} : { limit: opts.limit }),
					}),
				);
				if (opts.check === true) io.stdout.write(`\n${renderCheck(d, color)}`);
			}
			if (opts.check === true && d.incompatible.length > 0) exit = EXIT.incompatible;
		});
	try {
		await program.parseAsync([...argv], { from: 'user' });
	} catch (e) {
		if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
		throw e;
	}
	return exit;
}
