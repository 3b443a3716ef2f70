/**
 * The `gspkit-abi-gen` command line.
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { headersDir } from '@gspkit/fetch';
import { Command, CommanderError } from 'commander';
import { crossCheck, formatCrossCheck } from './bindings.ts';
import { type AbiBranch, BRANCHES, findBranch } from './branches.ts';
import { AbiGenError, type AbiGenErrorCode } from './errors.ts';
import { generate } from './generate.ts';
import { checkGenerated, REPO_ROOT, writeGenerated } from './output.ts';

/** Exit code per error code (0 is success). */
export const EXIT_CODES: Readonly<Record<AbiGenErrorCode, number>> = {
	E_DRIFT: 1,
	E_CROSS_CHECK: 1,
	E_USAGE: 2,
	E_HEADERS: 3,
	E_COMPILER: 4,
	E_DWARF: 4,
};

/** Where the CLI writes; injectable for tests. */
export interface GenDeps {
	readonly out: (text: string) => void;
	readonly err: (text: string) => void;
	readonly env: Readonly<Record<string, string | undefined>>;
}

const defaultDeps: GenDeps = {
	out: (t) => process.stdout.write(t),
	err: (t) => process.stderr.write(t),
	env: process.env,
};

interface Opts {
	headers?: string;
	version?: string;
	out?: string;
	all?: boolean;
	check?: boolean;
	crossCheck: boolean;
	strict?: boolean;
	sourceLabel?: string;
	repo?: string;
	quiet?: boolean;
}

/** Builds the commander program (errors surface as exceptions, never `process.exit`). */
export function createProgram(deps: GenDeps = defaultDeps): Command {
	const program = new Command('gspkit-abi-gen');
	program
		.description(
			'Generate firmware ABI manifests and constant tables from the GSP-RM headers published with Linux, using gcc as ground truth',
		)
		.option(
			'--headers <dir>',
			'Linux tree holding the headers (default: $GSPKIT_HEADERS, else the gspkit-fetch cache)',
		)
		.option(
			'--version <version>',
			`firmware version to generate (${BRANCHES.map((b) => b.version).join(', ')})`,
		)
		.option('--out <dir>', 'output directory for --version (default: the package’s src/generated)')
		.option('--all', 'generate every branch into its package')
		.option('--check', 'compare with the files on disk instead of writing; exit 1 on drift')
		.option('--no-cross-check', 'skip the comparison with nova-core’s bindgen output')
		.option('--strict', 'exit 1 when nova-core’s bindings disagree with gcc')
		.option('--source-label <label>', 'tree label in the source stamp (default: the fetched package name)')
		.option('--repo <dir>', 'repository root for --all', REPO_ROOT)
		.option('-q, --quiet', 'print only errors')
		.exitOverride()
		.configureOutput({ writeOut: deps.out, writeErr: deps.err })
		.showHelpAfterError()
		.action((o: Opts) => run(o, deps));
	return program;
}

function run(o: Opts, deps: GenDeps): void {
	if (o.all && o.version) throw new AbiGenError('E_USAGE', 'use either --all or --version, not both');
	if (!o.all && !o.version)
		throw new AbiGenError('E_USAGE', 'nothing to do: pass --version <version> or --all');
	if (o.all && o.out) throw new AbiGenError('E_USAGE', '--out applies to --version only');
	const root = o.headers ? resolve(o.headers) : headersDir(deps.env);
	if (!root || !existsSync(root)) {
		throw new AbiGenError(
			'E_HEADERS',
			o.headers
				? `--headers ${o.headers} does not exist`
				: 'the headers are not fetched; run `npx tsx tools/fetch/src/cli.ts headers` (or pass --headers <linux tree>)',
		);
	}
	const repo = resolve(o.repo ?? REPO_ROOT);
	const branches: AbiBranch[] = o.all ? [...BRANCHES] : [findBranch(o.version!)];
	const log = (s: string) => {
		if (!o.quiet) deps.err(`${s}\n`);
	};
	let drifted = 0;
	let crossIssues = 0;
	for (const branch of branches) {
		const outDir = o.out ? resolve(o.out) : join(repo, branch.outDir);
		const g = generate(branch, root, o.sourceLabel ? { sourceLabel: o.sourceLabel } : {});
		const shown = isAbsolute(outDir) ? relative(process.cwd(), outDir) || '.' : outDir;
		log(
			`${branch.key} (${branch.version}): ${g.manifest.types.length} types, ${g.manifest.constants.length} constants` +
				(g.inherited
					? `, ${g.inherited.types.length} types and ${g.inherited.constants.length} constants inherited from ${g.inherited.from.key} (${g.inherited.excluded.length} excluded)`
					: ''),
		);
		for (const c of g.alignCorrections)
			log(`  note: gcc aligns ${c.name} to ${c.gcc} (members suggest ${c.computed})`);
		if (o.crossCheck && branch.novaBindings && existsSync(join(root, branch.novaBindings))) {
			const report = crossCheck(readFileSync(join(root, branch.novaBindings), 'utf8'), g.manifest);
			crossIssues += report.issues.length;
			log(formatCrossCheck(report).replace(/^/gm, '  '));
		}
		if (o.check) {
			const drift = checkGenerated(g, outDir);
			for (const d of drift) {
				deps.err(
					`drift: ${relative(process.cwd(), d.file)} is ${d.reason}${d.line ? ` (first difference at line ${d.line})` : ''}\n`,
				);
			}
			drifted += drift.length;
			if (drift.length === 0) log(`  ${shown}: up to date`);
		} else {
			const written = writeGenerated(g, outDir);
			log(
				`  ${shown}: ${written.length === 0 ? 'unchanged' : `wrote ${written.map((w) => relative(outDir, w)).join(', ')}`}`,
			);
		}
	}
	if (drifted > 0) {
		throw new AbiGenError(
			'E_DRIFT',
			`${drifted} generated file(s) differ; regenerate with: npx tsx tools/abi-gen/src/cli.ts --all`,
		);
	}
	if (o.strict && crossIssues > 0) {
		throw new AbiGenError(
			'E_CROSS_CHECK',
			`nova-core's bindings disagree with gcc in ${crossIssues} place(s)`,
		);
	}
}

/** Runs the CLI on `argv` (user arguments only) and returns the exit code. */
export async function main(argv: readonly string[], deps: GenDeps = defaultDeps): Promise<number> {
	const program = createProgram(deps);
	try {
		await program.parseAsync([...argv], { from: 'user' });
		return 0;
	} catch (e) {
		if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_CODES.E_USAGE;
		if (e instanceof AbiGenError) {
			deps.err(`gspkit-abi-gen: error ${e.code}: ${e.message}\n`);
			return EXIT_CODES[e.code];
		}
		deps.err(`gspkit-abi-gen: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
		return 1;
	}
}
