/**
 * `gspkit-fw`: inspect NVIDIA GSP firmware files and directories.
 *
 * `main(argv, io)` is the whole program, so tests run it in-process; `cli.ts` only wires it to the process.
 * Exit codes: 0 ok, 1 a file is corrupt (the typed error is printed), 2 usage error.
 *
 * @module
 */

import { statSync } from 'node:fs';
import { type LoadedFirmware, type LoadProgress, loadFirmwareFile } from '@gspkit/falcon-boot';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { type DirectoryReport, errorJson, inspectDirectory, NotAFirmwareDirectory } from './directory.ts';
import { hex, type Json, summarizeFirmware } from './summary.ts';

export { compareVersions, directoryLayout, inspectDirectory } from './directory.ts';
export { briefFirmware, summarizeFirmware } from './summary.ts';

/** Where the program writes. */
export interface CliIo {
	/** Tables and JSON. */
	readonly stdout: { write(s: string): unknown };
	/** Errors and the progress bar (drawn only when `isTTY`). */
	readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
	/** Colour output (default: picocolors' detection, i.e. TTY and no NO_COLOR). */
	readonly color?: boolean;
}

/** Files at least this large get a progress bar while loading (when stderr is a TTY). */
export const PROGRESS_THRESHOLD = 8 * 1024 * 1024;

/** Exit codes. */
export const EXIT = Object.freeze({ ok: 0, corrupt: 1, usage: 2 });

interface InspectOptions {
	json?: boolean;
	files?: boolean;
	color?: boolean;
}

/** Run `gspkit-fw` with `argv` (without the node and script names); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
	let exit: number = EXIT.ok;
	const program = new Command('gspkit-fw')
		.description('Inspect NVIDIA GSP firmware files (nvidia/<chip>/gsp/*.bin) and directories')
		.exitOverride()
		.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
	program
		.command('inspect')
		.description(
			'print what a firmware file holds (kind, version, sizes, headers, sections/apps, signatures), or for a directory which chips have a complete set for which branch',
		)
		.argument(
			'<path>',
			'a firmware file, or a directory: a firmware root, nvidia/, nvidia/<chip> or its gsp/',
		)
		.option('--json', 'machine-readable output on stdout')
		.option('--files', 'for a directory, also list every file')
		.option('--no-color', 'disable colours')
		.action(async (path: string, opts: InspectOptions) => {
			exit = await inspect(path, opts, io);
		});
	try {
		await program.parseAsync([...argv], { from: 'user' });
	} catch (e) {
		if (e instanceof CommanderError) {
			return e.code === 'commander.helpDisplayed' ||
				e.code === 'commander.version' ||
				e.code === 'commander.help'
				? e.exitCode === 0
					? EXIT.ok
					: EXIT.usage
				: EXIT.usage;
		}
		throw e;
	}
	return exit;
}

async function inspect(path: string, opts: InspectOptions, io: CliIo): Promise<number> {
	const c = pc.createColors(opts.color !== false && (io.color ?? pc.isColorSupported));
	let st: ReturnType<typeof statSync>;
	try {
		st = statSync(path);
	} catch {
		io.stderr.write(`${c.red('error:')} ${path}: no such file or directory\n`);
		return EXIT.usage;
	}
	const bar = progressBar(io);
	try {
		if (st.isDirectory()) {
			let report: DirectoryReport;
			try {
				report = await inspectDirectory(path, { onProgress: bar.update });
			} catch (e) {
				if (e instanceof NotAFirmwareDirectory) {
					io.stderr.write(`${c.red('error:')} ${e.message}\n`);
					return EXIT.usage;
				}
				throw e;
			}
			bar.stop();
			if (opts.json === true) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
			else io.stdout.write(renderDirectory(report, c, opts.files === true || report.chips.length === 1));
			for (const { path: p, error } of report.errors)
				if (opts.json !== true) io.stderr.write(`${c.red('error:')} ${p}: ${error.message}\n`);
			return report.errors.length > 0 ? EXIT.corrupt : EXIT.ok;
		}
		let loaded: LoadedFirmware;
		try {
			loaded = await loadFirmwareFile(path, { onProgress: bar.update });
		} catch (e) {
			bar.stop();
			const err = errorJson(e);
			if (opts.json === true) io.stdout.write(`${JSON.stringify({ path, error: err }, null, 2)}\n`);
			io.stderr.write(`${c.red(`error [${String(err.code)}]:`)} ${String(err.message)}\n`);
			return EXIT.corrupt;
		}
		bar.stop();
		const summary = summarizeFirmware(loaded);
		if (opts.json === true) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
		else io.stdout.write(renderFile(summary, c));
		return EXIT.ok;
	} finally {
		bar.stop();
	}
}

type Colors = ReturnType<typeof pc.createColors>;

/** A cli-progress bar on stderr for large files, or a no-op when stderr is not a TTY. */
function progressBar(io: CliIo): { update: (p: LoadProgress) => void; stop: () => void } {
	if (io.stderr.isTTY !== true) return { update: () => {}, stop: () => {} };
	let bar: cliProgress.SingleBar | null = null;
	return {
		update: (p) => {
			if (p.totalBytes < PROGRESS_THRESHOLD) return;
			if (bar === null) {
				bar = new cliProgress.SingleBar(
					{
						stream: process.stderr,
						format: 'loading {file} [{bar}] {percentage}% | {mb} / {totalMb} MB',
						hideCursor: true,
						clearOnComplete: true,
					},
					cliProgress.Presets.shades_classic,
				);
				bar.start(p.totalBytes, 0, {
					file: p.path.split('/').pop(),
					mb: '0.0',
					totalMb: (p.totalBytes / 1e6).toFixed(1),
				});
			}
			bar.update(p.bytesRead, { mb: (p.bytesRead / 1e6).toFixed(1) });
			if (p.bytesRead >= p.totalBytes) {
				bar.stop();
				bar = null;
			}
		},
		stop: () => {
			if (bar !== null) bar.stop();
			bar = null;
		},
	};
}

function table(c: Colors, head?: string[]): Table.Table {
	return new Table({
		...(head === undefined ? {} : { head: head.map((h) => c.bold(h)) }),
		style: { head: [], border: [], compact: true },
	});
}

function kv(c: Colors, title: string, obj: { [k: string]: Json }, hexKeys = true): string {
	const t = table(c);
	for (const [k, v] of Object.entries(obj)) {
		if (v !== null && typeof v === 'object') continue;
		const cell = typeof v === 'number' && hexKeys ? `${hex(v)} (${v})` : String(v);
		t.push({ [k]: cell });
	}
	return `${c.bold(title)}\n${t.toString()}\n`;
}

/** Render one file's summary as tables. */
export function renderFile(s: { [k: string]: Json }, c: Colors): string {
	const out: string[] = [];
	const overview = table(c);
	overview.push(
		{ file: String(s.path) },
		{ kind: `${c.cyan(String(s.kind))}${s.kindSource === 'content' ? ' (from contents)' : ''}` },
		{ chip: String(s.chip ?? '-') },
		{ version: String(s.version ?? '-') },
		{ size: `${s.size} bytes` },
	);
	if (s.symlinkTarget !== null)
		overview.push({ 'symlink →': `${String(s.symlinkTarget)}  (${String(s.realPath)})` });
	for (const w of (s.warnings as string[]) ?? []) overview.push({ [c.yellow('warning')]: c.yellow(w) });
	out.push(`${overview.toString()}\n`);
	const obj = (k: string) => s[k] as { [k: string]: Json };
	switch (s.kind) {
		case 'booter_load':
		case 'booter_unload':
		case 'scrubber':
		case 'hs': {
			out.push(kv(c, 'nvfw_bin_hdr', obj('binHeader')));
			out.push(kv(c, 'HS header v2', obj('hsHeader')));
			out.push(kv(c, 'signature metadata', obj('meta')));
			out.push(kv(c, 'load header v2', obj('load')));
			const apps = table(c, ['app', 'offset', 'size', 'data offset', 'data size']);
			(s.apps as { [k: string]: Json }[]).forEach((a, i) => {
				apps.push([
					i,
					hex(Number(a.offset)),
					hex(Number(a.size)),
					fmtMaybe(a.dataOffset),
					fmtMaybe(a.dataSize),
				]);
			});
			out.push(`${c.bold('applications')}\n${apps.toString()}\n`);
			out.push(kv(c, 'signatures', obj('signatures')));
			out.push(kv(c, 'boot ROM parameters', obj('brom')));
			break;
		}
		case 'bootloader': {
			out.push(kv(c, 'nvfw_bin_hdr', obj('binHeader')));
			out.push(kv(c, `RM_RISCV_UCODE_DESC (${s.descWords} words)`, obj('desc')));
			const r = table(c, ['region', 'offset', 'size']);
			for (const x of s.regions as { [k: string]: Json }[])
				r.push([String(x.name), hex(Number(x.offset)), hex(Number(x.size))]);
			out.push(`${c.bold('regions (payload offsets)')}\n${r.toString()}\n`);
			break;
		}
		case 'gen_bootloader':
			out.push(kv(c, 'nvfw_bin_hdr', obj('binHeader')));
			out.push(kv(c, 'nvfw_bl_desc', { ...obj('desc'), imemAddress: s.imemAddress as number }));
			break;
		case 'gsp': {
			out.push(sections(c, obj('elf')));
			const img = obj('image');
			const inner = img.inner as { [k: string]: Json } | null;
			out.push(
				kv(c, '.fwimage', {
					offset: img.offset as number,
					size: img.size as number,
					format:
						inner === null
							? String(img.format)
							: `ELF (inner ${String(inner.class)}, machine ${String(inner.machine)}, entry ${String(inner.entry)}, ${String(inner.sectionCount)} sections)`,
				}),
			);
			const fv = s.fwVersion as { [k: string]: Json } | null;
			out.push(
				kv(
					c,
					'.fwversion',
					fv === null ? { present: false } : { text: String(fv.text), size: fv.size as number },
					false,
				),
			);
			const sig = table(c, ['section', 'family', 'offset', 'size', 'used bytes']);
			for (const x of s.signatures as { [k: string]: Json }[]) {
				sig.push([
					String(x.section),
					`${String(x.chipFamily)}${x.confidentialCompute === true ? ' (CC)' : ''}`,
					hex(Number(x.offset)),
					Number(x.size),
					Number(x.usedBytes),
				]);
			}
			out.push(`${c.bold(`signatures (${(s.signatures as Json[]).length})`)}\n${sig.toString()}\n`);
			const sym = obj('symbols');
			out.push(
				kv(
					c,
					'symbols',
					{
						'.symtab': String(sym.symtab),
						'.strtab': String(sym.strtab),
						entries: Number(sym.count),
						'image size symbol': s.imageSizeSymbol === null ? '-' : hex(Number(s.imageSizeSymbol)),
						'build id': String(s.buildId ?? '-'),
					},
					false,
				),
			);
			break;
		}
		case 'fmc': {
			out.push(sections(c, obj('elf')));
			const t = table(c, ['section', 'offset', 'size', 'CRC-32', 'sh_info']);
			for (const k of ['hash', 'signature', 'publicKey', 'image']) {
				const x = obj(k);
				const ok = x.crc32 === x.storedCrc32;
				t.push([
					k,
					hex(Number(x.offset)),
					Number(x.size),
					ok ? c.green(String(x.crc32)) : c.red(String(x.crc32)),
					String(x.storedCrc32),
				]);
			}
			out.push(`${c.bold('FMC sections')}\n${t.toString()}\n`);
			out.push(
				kv(
					c,
					'verification',
					{
						scheme: String(s.scheme),
						'CRCs match': String(s.crcOk),
						'hash = SHA-384(image)': String(s.hashOk),
					},
					false,
				),
			);
			break;
		}
	}
	return out.join('\n');
}

function fmtMaybe(v: Json | undefined): string {
	return typeof v === 'number' ? hex(v) : '-';
}

function sections(c: Colors, elf: { [k: string]: Json }): string {
	const t = table(c, ['#', 'name', 'type', 'offset', 'size']);
	for (const x of elf.sections as { [k: string]: Json }[]) {
		t.push([Number(x.index), String(x.name), String(x.type), hex(Number(x.offset)), hex(Number(x.size))]);
	}
	return `${c.bold(`${String(elf.class)} sections (type ${String(elf.type)}, machine ${String(elf.machine)})`)}\n${t.toString()}\n`;
}

/** Render a directory report: the chip × branch matrix, then (optionally) every file. */
export function renderDirectory(r: DirectoryReport, c: Colors, withFiles: boolean): string {
	const out: string[] = [];
	const m = table(c, ['chip', ...r.versions]);
	for (const chip of r.chips) {
		const row = r.matrix[chip];
		if (row === undefined) {
			m.push([chip, ...r.versions.map(() => c.dim('unknown chip'))]);
			continue;
		}
		m.push([
			chip,
			...r.versions.map((v) => {
				const cell = row[v];
				if (cell === undefined) return '';
				if (cell.complete) return c.green('✓ complete');
				return Object.keys(cell.files).length === 0
					? c.dim('–')
					: c.red(`✗ missing ${cell.missing.join(', ')}`);
			}),
		]);
	}
	out.push(`${c.bold(`complete firmware sets in ${r.root}`)}\n${m.toString()}\n`);
	if (withFiles) {
		const f = table(c, ['file', 'kind', 'version', 'size', 'symlink →', 'contents']);
		for (const x of r.files) {
			f.push([
				String(x.path).slice(r.root.length + 1),
				String(x.kind),
				String(x.version ?? '-'),
				Number(x.size),
				String(x.symlinkTarget ?? ''),
				String(x.detail) +
					((x.warnings as string[]).length > 0 ? c.yellow(` (${(x.warnings as string[]).join('; ')})`) : ''),
			]);
		}
		out.push(`${c.bold('files')}\n${f.toString()}\n`);
	}
	const ok = r.files.length;
	out.push(
		`${ok} file(s) parsed${r.errors.length > 0 ? c.red(`, ${r.errors.length} corrupt`) : ''}${r.unknownChips.length > 0 ? `; no firmware table for ${r.unknownChips.join(', ')}` : ''}\n`,
	);
	return out.join('\n');
}
