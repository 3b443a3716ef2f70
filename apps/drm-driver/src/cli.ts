/**
 * `gspkit-drm`: the DRM-style driver's command line. By default it boots the (simulated) GPU end to end through
 * `@gspkit/core` — probe, firmware and ABI selection, falcon boot, GSP-RM RPC init, the RM object tree — then
 * creates a VA space and a copy channel, runs a copy workload through the scheduler, verifies it byte for byte,
 * serves the DRM uAPI on a UNIX socket and runs a demo client through it, and prints what happened with timings.
 * `gspkit-drm serve` only serves; `gspkit-drm probe` only probes.
 *
 * @module
 */

import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Device, type DeviceProgress, probe, type StageTiming } from '@gspkit/core';
import { createSimulatedGpu, isSimChipName, SIM_CHIPS, type SimulatedGpu } from '@gspkit/gpu-sim';
import { isGspkitError, RealClock } from '@gspkit/hal';
import cliProgress from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { type DemoStep, runDrmDemo } from './demo.ts';
import { formatSummary, toJson } from './format.ts';
import { type DrmRunReport, formatRunReport, type RunReport, runReportJson } from './report.ts';
import { serveDevice } from './serve.ts';
import { openSimulatedDevice } from './sim.ts';
import { runCopyWorkload } from './workload.ts';

export {
	architectureOfChipset,
	DEMO_STEPS,
	type DemoOptions,
	type DemoResult,
	type DemoStep,
	runDrmDemo,
} from './demo.ts';
export { type CoreDrmDevice, createDrmDevice, type DrmDeviceOptions } from './drm-device.ts';
export { type Colors, formatSize, formatSummary, toJson } from './format.ts';
export { type DrmRunReport, formatRunReport, type RunReport, runReportJson } from './report.ts';
export { type CoreDrmService, type ServeOptions, serveDevice } from './serve.ts';
export { ABIS, openSimulatedDevice, SYNTHETIC_LABEL, syntheticFirmwareFiles } from './sim.ts';
export { runCopyWorkload, type WorkloadOptions, type WorkloadResult } from './workload.ts';

/** Exit codes: 0 success, 1 a step failed (or the copy did not verify), 2 bad usage. */
export const EXIT = Object.freeze({ OK: 0, FAILURE: 1, USAGE: 2 });

/** Where {@link main} writes, and whether it may use colour and a progress bar; tests pass their own. */
export interface CliIo {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	/** Colour the output; default: picocolors' terminal detection (NO_COLOR, FORCE_COLOR, TTY). */
	readonly color?: boolean;
	/** Draw a progress bar while the GSP image loads; default: only when stderr is a TTY. */
	readonly progress?: boolean;
	/** `serve` stops when this resolves (default: on SIGINT or SIGTERM). */
	readonly stop?: Promise<unknown>;
	/** `serve` calls this once it listens (tests connect then). */
	readonly onListening?: (socketPath: string) => void;
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

/** A typed gspkit error: hal's `GspkitError`, or `@gspkit/abi`'s `AbiError` (same shape; abi cannot import hal). */
function isTypedError(e: unknown): e is Error & { readonly code: string } {
	return isGspkitError(e) || (e instanceof Error && typeof (e as { code?: unknown }).code === 'string');
}

function parseChip(value: string): string {
	if (!isSimChipName(value)) {
		throw new InvalidArgumentError(`unknown chip; valid chips: ${SIM_CHIPS.map((c) => c.name).join(', ')}`);
	}
	return value.toLowerCase();
}

function parseAbi(value: string): string {
	if (!/^r?\d+(\.\d+)*$/i.test(value)) throw new InvalidArgumentError('expected a branch such as 535 or 570');
	return value;
}

function parseSize(value: string): number {
	const m = /^(\d+)\s*([kKmM]?)i?[bB]?$/.exec(value.trim());
	if (m === null) throw new InvalidArgumentError('expected a size such as 1M, 256K or 65536');
	const n = Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2] ?? '') ? 1024 : 1 << 20);
	if (n < 65536 || n % 65536 !== 0 || n > 64 << 20) {
		throw new InvalidArgumentError('the size must be a multiple of 64 KiB between 64 KiB and 64 MiB');
	}
	return n;
}

const chipOption = () =>
	new Option('-c, --chip <name>', `simulated chip (${SIM_CHIPS.map((c) => c.name).join(', ')})`)
		.default('ga102')
		.argParser(parseChip);

interface RunOptions {
	chip: string;
	firmware?: string;
	abi?: string;
	synthetic?: boolean;
	realTime?: boolean;
	size: number;
	json?: boolean;
	color: boolean;
	progress: boolean;
}

/** A progress bar over the bring-up: stages advance it, bytes fill it within the image stages. */
class BootProgressBar {
	readonly #bar: cliProgress.SingleBar;
	#started = false;
	#stages = 0;
	#stage = '';
	/** Stages of a bring-up: core's 10, falcon-boot's 16 (without `done`), `ready`. */
	readonly #total = 27;
	constructor(stream: NodeJS.WritableStream) {
		this.#bar = new cliProgress.SingleBar(
			{
				format: ' booting {bar} {percentage}% | {stage} {detail}',
				stream,
				barsize: 28,
				hideCursor: true,
				clearOnComplete: true,
				fps: 20,
			},
			cliProgress.Presets.shades_classic,
		);
	}
	update(p: DeviceProgress): void {
		if (!this.#started) {
			this.#bar.start(this.#total * 100, 0, { stage: '', detail: '' });
			this.#started = true;
		}
		if (p.stage !== this.#stage) {
			this.#stage = p.stage;
			this.#stages++;
		}
		const within =
			p.bytesTotal !== undefined && p.bytesTotal > 0
				? Math.floor((100 * (p.bytesDone ?? 0)) / p.bytesTotal)
				: 0;
		const detail =
			p.bytesTotal !== undefined
				? `${((p.bytesDone ?? 0) / 2 ** 20).toFixed(1)}/${(p.bytesTotal / 2 ** 20).toFixed(1)} MiB`
				: p.detail.slice(0, 60);
		this.#bar.update(Math.min(this.#total * 100, (Math.min(this.#stages, this.#total) - 1) * 100 + within), {
			stage: p.stage,
			detail,
		});
	}
	stop(): void {
		if (this.#started) this.#bar.stop();
		this.#started = false;
	}
}

/** A progress bar over the demo client's steps. */
class DemoProgressBar {
	readonly #bar: cliProgress.SingleBar;
	#started = false;
	constructor(stream: NodeJS.WritableStream) {
		this.#bar = new cliProgress.SingleBar(
			{
				format: ' drm demo {bar} {value}/{total} | {step}',
				stream,
				barsize: 28,
				hideCursor: true,
				clearOnComplete: true,
				fps: 20,
			},
			cliProgress.Presets.shades_classic,
		);
	}
	update(step: DemoStep, index: number, total: number): void {
		if (!this.#started) {
			this.#bar.start(total, 0, { step: '' });
			this.#started = true;
		}
		this.#bar.update(index, { step });
	}
	stop(): void {
		if (this.#started) this.#bar.stop();
		this.#started = false;
	}
}

/** Serve the device on a temporary socket, run the demo client through it, stop serving. */
async function runDrmPart(
	device: Device,
	size: number,
	now: () => bigint,
	bar: DemoProgressBar | undefined,
): Promise<DrmRunReport> {
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-'));
	const socketPath = join(dir, 'drm.sock');
	const vramBefore = device.vramUsed();
	const t0 = now();
	const service = await serveDevice(device, { socketPath });
	try {
		const demo = await runDrmDemo(socketPath, {
			size,
			now,
			...(bar === undefined ? {} : { onStep: (s: DemoStep, i: number, n: number) => bar.update(s, i, n) }),
		});
		bar?.stop();
		const t1 = now();
		await service.close();
		const t2 = now();
		return {
			socketPath,
			demo,
			totalNs: t1 - t0,
			shutdownNs: t2 - t1,
			vramBefore,
			vramAfter: device.vramUsed(),
		};
	} finally {
		bar?.stop();
		await service.close().catch(() => undefined);
		rmSync(dir, { recursive: true, force: true });
	}
}

async function runDriver(opts: RunOptions, io: CliIo): Promise<number> {
	const colors = pc.createColors(opts.color && (io.color ?? pc.isColorSupported));
	const useBar =
		opts.progress &&
		opts.json !== true &&
		(io.progress ?? (io === defaultIo && process.stderr.isTTY === true));
	const now = () => process.hrtime.bigint();
	const realTime = opts.realTime === true;
	const gpu: SimulatedGpu = createSimulatedGpu({
		chip: opts.chip,
		...(realTime ? { clock: new RealClock() } : {}),
	});
	const bar = useBar ? new BootProgressBar(process.stderr) : undefined;
	const log: string[] = [];
	let device: Device | undefined;
	const t0 = now();
	try {
		device = await openSimulatedDevice(
			gpu,
			opts.chip,
			{
				...(opts.firmware === undefined ? {} : { path: opts.firmware }),
				...(opts.synthetic === true ? { synthetic: true } : {}),
				...(opts.abi === undefined ? {} : { abi: opts.abi }),
			},
			{ now, ...(bar === undefined ? {} : { onProgress: (p: DeviceProgress) => bar.update(p) }) },
		);
		bar?.stop();
		const bootNs = now() - t0;
		const boot: readonly StageTiming[] = device.timings;
		device.on('log', (l) => {
			if (l.level !== 'debug') log.push(l.message);
		});
		const workload = await runCopyWorkload(device, { size: opts.size, now });
		const drm = await runDrmPart(
			device,
			opts.size,
			now,
			useBar ? new DemoProgressBar(process.stderr) : undefined,
		);
		const info = device.info;
		const tClose = now();
		const before = log.length;
		await device.close();
		const teardown = log.slice(before);
		device = undefined;
		const report: RunReport = {
			info,
			boot,
			bootNs,
			workload,
			drm,
			teardownNs: now() - tClose,
			teardown,
			totalNs: now() - t0,
			log: log.slice(0, before),
			mode: {
				clock: gpu.clock.kind,
				gsp: gpu.gspRm.mode === 'worker' ? 'in a worker thread' : 'stepped on the clock',
			},
		};
		if (opts.json === true) io.stdout(`${JSON.stringify(runReportJson(report), null, 2)}\n`);
		else {
			io.stdout(
				`${colors.bold(`gspkit-drm ${version()}`)} ${colors.dim('boot + DRM demo client')}\n${formatRunReport(report, colors)}\n`,
			);
		}
		const ok = workload.verified && drm.demo.verified && drm.vramAfter === drm.vramBefore;
		return ok ? EXIT.OK : EXIT.FAILURE;
	} catch (e) {
		bar?.stop();
		if (isTypedError(e)) {
			io.stderr(`${colors.red('error:')} ${e.message} ${colors.dim(`(${e.code})`)}\n`);
			return EXIT.FAILURE;
		}
		throw e;
	} finally {
		await device?.close().catch(() => undefined);
		await gpu.close();
	}
}

interface ServeCliOptions {
	chip: string;
	firmware?: string;
	abi?: string;
	synthetic?: boolean;
	realTime?: boolean;
	socket: string;
	color: boolean;
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
function untilSignal(): Promise<string> {
	return new Promise((resolve) => {
		const on = (sig: string) => {
			process.off('SIGINT', on);
			process.off('SIGTERM', on);
			resolve(sig);
		};
		process.on('SIGINT', on);
		process.on('SIGTERM', on);
	});
}

async function runServe(opts: ServeCliOptions, io: CliIo): Promise<number> {
	const colors = pc.createColors(opts.color && (io.color ?? pc.isColorSupported));
	const realTime = opts.realTime === true;
	const gpu = createSimulatedGpu({ chip: opts.chip, ...(realTime ? { clock: new RealClock() } : {}) });
	let device: Device | undefined;
	const stop = io.stop ?? untilSignal();
	try {
		device = await openSimulatedDevice(gpu, opts.chip, {
			...(opts.firmware === undefined ? {} : { path: opts.firmware }),
			...(opts.synthetic === true ? { synthetic: true } : {}),
			...(opts.abi === undefined ? {} : { abi: opts.abi }),
		});
		const f = device.info.firmware;
		const service = await serveDevice(device, {
			socketPath: opts.socket,
			onEvent: (e) => {
				if (e.type === 'connect' || e.type === 'disconnect')
					io.stdout(`${colors.dim(`${e.type} #${e.connection}`)}\n`);
				else if (e.type === 'protocol-violation')
					io.stderr(`protocol violation on #${e.connection}: ${e.reason}\n`);
				else io.stderr(`internal error on #${e.connection}: ${String(e.error)}\n`);
			},
		});
		io.stdout(
			`${colors.bold(`gspkit-drm ${version()}`)} serving ${device.info.chip.name} (GSP-RM ${f.version}, ${f.branch}) on ${colors.bold(opts.socket)}\n`,
		);
		io.onListening?.(opts.socket);
		await stop;
		await service.close();
		io.stdout('stopped\n');
		return EXIT.OK;
	} catch (e) {
		if (isTypedError(e)) {
			io.stderr(`${colors.red('error:')} ${e.message} ${colors.dim(`(${e.code})`)}\n`);
			return EXIT.FAILURE;
		}
		throw e;
	} finally {
		await device?.close().catch(() => undefined);
		await gpu.close();
	}
}

async function runProbe(opts: { chip: string; json?: boolean; color: boolean }, io: CliIo): Promise<number> {
	const colors = pc.createColors(opts.color && (io.color ?? pc.isColorSupported));
	const gpu = createSimulatedGpu({ chip: opts.chip });
	try {
		const description = await probe(gpu);
		if (opts.json === true) {
			io.stdout(`${JSON.stringify(toJson(description), null, 2)}\n`);
		} else {
			io.stdout(
				`${colors.bold(`gspkit-drm ${version()}`)} ${colors.dim('probe')}\n${formatSummary(description, colors)}\n`,
			);
		}
		return EXIT.OK;
	} catch (e) {
		if (isTypedError(e)) {
			io.stderr(`${colors.red('error:')} ${e.message} ${colors.dim(`(${e.code})`)}\n`);
			return EXIT.FAILURE;
		}
		throw e;
	} finally {
		await gpu.close();
	}
}

/**
 * Run the CLI with `argv` (arguments only, without `node` and the script). Resolves to the exit code
 * instead of exiting, so it can be tested and embedded.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
	let result: Promise<number> | undefined;
	const program = new Command()
		.name('gspkit-drm')
		.description(
			'Boot an NVIDIA GPU through gspkit (probe, firmware and ABI selection, falcon boot, GSP-RM RPC, the RM ' +
				'object tree), run a copy workload through a VA space, a channel and its scheduler, then serve the DRM ' +
				'uAPI on a UNIX socket and run a demo client (GEM, VM_BIND, EXEC, syncobjs) through it. Runs on the ' +
				'embedded simulated GPU (gpu-sim). The published GSP firmware is used when found (--firmware, ' +
				"GSPKIT_FIRMWARE_PATH, /lib/firmware, the gspkit cache), else gpu-sim's synthetic firmware.",
		)
		.version(version(), '-V, --version')
		.enablePositionalOptions()
		.addOption(chipOption())
		.option('--firmware <path>', 'firmware directory to use (searched alone, no fallback)')
		.addOption(new Option('--abi <branch>', 'force a firmware branch: 535 or 570').argParser(parseAbi))
		.option('--synthetic', "use gpu-sim's synthetic firmware even if published files exist")
		.option('--real-time', 'run the GPU on the real clock, GSP-RM in a worker thread (default: virtual time)')
		.addOption(
			new Option('--size <bytes>', 'bytes the workload copies (64K…64M)')
				.default(1 << 20, '1M')
				.argParser(parseSize),
		)
		.option('--json', 'print the result as JSON')
		.option('--no-color', 'disable colours')
		.option('--no-progress', 'no progress bar')
		.exitOverride()
		.configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
		.action((opts: RunOptions) => {
			result = runDriver(opts, io);
		});
	program
		.command('serve')
		.description('boot the GPU and serve the DRM uAPI on a UNIX socket until SIGINT/SIGTERM')
		.addOption(chipOption())
		.option('--socket <path>', 'UNIX socket path', '/tmp/gspkit-drm.sock')
		.option('--firmware <path>', 'firmware directory to use (searched alone, no fallback)')
		.addOption(new Option('--abi <branch>', 'force a firmware branch: 535 or 570').argParser(parseAbi))
		.option('--synthetic', "use gpu-sim's synthetic firmware even if published files exist")
		.option('--real-time', 'run the GPU on the real clock, GSP-RM in a worker thread (default: virtual time)')
		.option('--no-color', 'disable colours')
		.exitOverride()
		.configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
		.action((opts: ServeCliOptions) => {
			result = runServe(opts, io);
		});
	program
		.command('probe')
		.description('only probe the GPU (PCI identity, chip, BARs, VRAM, SR-IOV) and print what was found')
		.addOption(chipOption())
		.option('--json', 'print the probe result as JSON')
		.option('--no-color', 'disable colours in the summary')
		.exitOverride()
		.configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
		.action((opts: { chip: string; json?: boolean; color: boolean }) => {
			result = runProbe(opts, io);
		});

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
	return (await result) ?? EXIT.OK;
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
