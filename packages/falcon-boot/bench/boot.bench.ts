/**
 * Boot benchmark: time and peak memory of a full GSP boot (reset → GSP RISC-V running) on the simulated
 * GA102 with the published `nvidia/ga102/gsp/gsp-570.144.bin` (63 MB), beside a baseline measured in the
 * same run: reading that file and copying it once.
 *
 * Each measurement runs in a fresh child process, so `resourceUsage().maxRSS` (a high-water mark) gives that
 * run's own peak; the delta is taken from just before the measured work. Targets (issue #4): boot time within
 * 3× the baseline, peak memory below 3× the image size.
 *
 * Run: `npm run bench -w @gspkit/falcon-boot` (skips with a message when the firmware is not installed).
 */

import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { bootGsp, locateFirmwareSet } from '../src/index.ts';
import { testAbi } from '../test/boot-helpers.ts';

const CHIP = 'ga102';
const VERSION = '570.144';
const ROUNDS = Number(process.env.GSPKIT_BENCH_ROUNDS ?? 5);

interface Sample {
	readonly kind: 'baseline' | 'boot';
	readonly ns: number;
	/** maxRSS growth during the measured work, bytes. */
	readonly peakDelta: number;
	/** Boot only: per-stage durations in ns. */
	readonly stages?: Readonly<Record<string, number>>;
	/** Boot only: ns spent inside BAR0 accesses, where the simulated hardware and firmware models run. */
	readonly deviceNs?: number;
}

const held: unknown[] = [];

async function child(kind: Sample['kind']): Promise<void> {
	const set = await locateFirmwareSet(CHIP, VERSION);
	const gspPath = set.byKind.gsp?.path as string;
	const gpu = kind === 'boot' ? createSimulatedGpu({ chip: CHIP }) : undefined;
	const abi = testAbi(VERSION);
	let deviceNs = 0;
	const rss0 = process.resourceUsage().maxRSS * 1024;
	const t0 = process.hrtime.bigint();
	if (kind === 'baseline') {
		const file = await readFile(gspPath);
		const copy = new Uint8Array(new SharedArrayBuffer(file.length));
		copy.set(file);
		held.push(file, copy);
	} else {
		const sim = gpu as NonNullable<typeof gpu>;
		// The same platform, with BAR0 accesses timed: the simulated FWSEC and booter run inside the MMIO write
		// that starts a falcon, so this separates the device model's time from the driver's.
		const bar0 = {
			size: sim.bar0.size,
			read32: (o: number) => {
				const t = process.hrtime.bigint();
				const v = sim.bar0.read32(o);
				deviceNs += Number(process.hrtime.bigint() - t);
				return v;
			},
			write32: (o: number, v: number) => {
				const t = process.hrtime.bigint();
				sim.bar0.write32(o, v);
				deviceNs += Number(process.hrtime.bigint() - t);
			},
		};
		const platform = {
			description: sim.description,
			pci: sim.pci,
			bar0,
			config: sim.config,
			dma: sim.dma,
			vram: sim.vram,
			irq: (name: string) => sim.irq(name),
			clock: sim.clock,
			close: () => sim.close(),
		};
		const r = await bootGsp(platform, { firmware: set, abi, chip: CHIP });
		held.push(r);
	}
	const ns = Number(process.hrtime.bigint() - t0);
	const peakDelta = process.resourceUsage().maxRSS * 1024 - rss0;
	const result = held.at(-1) as { timings?: readonly { stage: string; durationNs: bigint }[] };
	const stages =
		kind === 'boot'
			? Object.fromEntries((result.timings ?? []).map((t) => [t.stage, Number(t.durationNs)]))
			: undefined;
	process.stdout.write(
		`${JSON.stringify({ kind, ns, peakDelta, ...(stages === undefined ? {} : { stages, deviceNs }) } satisfies Sample)}\n`,
	);
	await gpu?.close();
}

function run(kind: Sample['kind']): Sample {
	const self = fileURLToPath(import.meta.url);
	const out = execFileSync(process.execPath, [...process.execArgv, self, '--child', kind], {
		encoding: 'utf8',
		env: process.env,
	});
	const line = out.trim().split('\n').at(-1) ?? '';
	return JSON.parse(line) as Sample;
}

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)] as number;
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`;

async function main(): Promise<void> {
	let imageSize: number;
	try {
		const set = await locateFirmwareSet(CHIP, VERSION);
		imageSize = (await stat(set.byKind.gsp?.path as string)).size;
	} catch (e) {
		console.info(
			`boot bench skipped: no ${CHIP} ${VERSION} firmware found (${(e as Error).message.split('\n')[0]}).\n` +
				'Install it (`npm run fetch`, or set GSPKIT_FIRMWARE_PATH) to run the benchmark.',
		);
		return;
	}
	const samples: Sample[] = [];
	for (let i = 0; i < ROUNDS; i++) samples.push(run('baseline'), run('boot'));
	const of = (k: Sample['kind']) => samples.filter((s) => s.kind === k);
	const stats = (k: Sample['kind']) => ({
		ns: median(of(k).map((s) => s.ns)),
		best: Math.min(...of(k).map((s) => s.ns)),
		peak: median(of(k).map((s) => s.peakDelta)),
	});
	const base = stats('baseline');
	const boot = stats('boot');
	const timeRatio = boot.ns / base.ns;
	const memRatio = boot.peak / imageSize;
	const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
	console.info(
		`GSP boot benchmark: simulated ${CHIP.toUpperCase()}, gsp-${VERSION}.bin (${mib(imageSize)}), median of ${ROUNDS}`,
	);
	console.info(
		`  baseline (read + copy once): median ${ms(base.ns)} (best ${ms(base.best)}), peak +${mib(base.peak)} (${(base.peak / imageSize).toFixed(2)}× image)`,
	);
	console.info(
		`  boot (reset → GSP running):  median ${ms(boot.ns)} (best ${ms(boot.best)}), peak +${mib(boot.peak)} (${memRatio.toFixed(2)}× image)`,
	);
	console.info(
		`  time: ${timeRatio.toFixed(2)}× baseline (best/best ${(boot.best / base.best).toFixed(2)}×; target ≤ 3×: ${mark(timeRatio <= 3)})`,
	);
	console.info(`  peak memory: ${memRatio.toFixed(2)}× image size (target < 3×: ${mark(memRatio < 3)})`);
	const device = median(of('boot').map((x) => x.deviceNs ?? 0));
	console.info(
		`  of which in the simulated GPU (MMIO, incl. the FWSEC/booter models): ${ms(device)}; driver alone ${ms(boot.ns - device)} = ${((boot.ns - device) / base.ns).toFixed(2)}× baseline`,
	);
	const stageNames = Object.keys(of('boot')[0]?.stages ?? {});
	console.info(
		`  boot stages (median): ${stageNames
			.map((n) => `${n} ${ms(median(of('boot').map((x) => x.stages?.[n] ?? 0)))}`)
			.join(', ')}`,
	);
	console.info(`  samples: ${samples.map((s) => `${s.kind} ${ms(s.ns)} +${mib(s.peakDelta)}`).join('; ')}`);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Sample['kind']);
else await main();
