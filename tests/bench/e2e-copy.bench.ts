/**
 * `npm run bench` for @gspkit/tests: end-to-end copy jobs through `@gspkit/core` on the simulated GPU — submit
 * through the channel's scheduler → GPFIFO ring → simulated host engine → copy engine → semaphore fence
 * signalled — beside baselines measured in the same run.
 *
 * Scenarios, for small (4 KiB) and larger (256 KiB) copies, N jobs each, median of several repetitions:
 * - baseline: `for (i < N) await undefined` — the event loop everything runs on (issue 7's baseline);
 * - memcpy: `Uint8Array.prototype.set` of the same bytes between plain arrays with the same slot layout — what
 *   moving the bytes costs on the CPU at all, for context;
 * - e2e-stream: N copy jobs (sysmem → VRAM) submitted back to back through one entity, then the last fence
 *   awaited (ring back-pressure through the scheduler's credits);
 * - e2e-serial: one job at a time, each fence awaited before the next submit — the round trip of one job.
 *
 * Every repetition poisons the destination first and afterwards checks byte for byte the last copy into every
 * destination slot (job i copies source chunk i mod (K+1) to slot i mod K, so each slot's final content names
 * the job that wrote it): a no-op, stale or misrouted copy fails the run with exit code 1.
 *
 * Options: `--quick` (short run), `--jobs N` (jobs per small-copy run; large runs use N/8), `--abi 535|570`
 * (force a firmware branch), `--real-time` (real clock, GSP-RM in a worker thread; default virtual time, as
 * `npm start`).
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type FirmwareAbi, isAbiError } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import {
	type Device,
	type DeviceChannel,
	type DeviceMemory,
	type DeviceVaSpace,
	type FirmwareFiles,
	type OpenDeviceOptions,
	openDevice,
} from '@gspkit/core';
import { createSimulatedGpu, SYNTHETIC_FIRMWARE_VERSIONS, syntheticFirmware } from '@gspkit/gpu-sim';
import { RealClock } from '@gspkit/hal';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const realTime = args.includes('--real-time');
const argValue = (name: string): string | undefined => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
};
const jobsArg = argValue('--jobs');
const abiArg = argValue('--abi');
const N_SMALL = jobsArg !== undefined ? Number(jobsArg) : quick ? 2_000 : 20_000;
if (!Number.isSafeInteger(N_SMALL) || N_SMALL < 1) throw new Error(`--jobs: expected a positive integer`);
const N_LARGE = Math.max(1, Math.floor(N_SMALL / 8));
const REPS = quick ? 3 : 5;
const CHIP = 'ga102';

const ABIS: readonly FirmwareAbi[] = [r570, r535];

// ───────────────────────────── device ─────────────────────────────

/** gpu-sim's synthetic firmware for `chip`, every version, named as the ABIs list the files. */
function syntheticFirmwareFiles(chip: string): FirmwareFiles {
	const files = new Map<string, Uint8Array>();
	for (const version of SYNTHETIC_FIRMWARE_VERSIONS) {
		for (const [rel, bytes] of syntheticFirmware(chip, version).files)
			files.set(`nvidia/${chip}/${rel}`, bytes);
	}
	return files;
}

/** The published firmware when a complete set is found, else gpu-sim's synthetic files (as apps/drm-driver). */
async function open(gpu: ReturnType<typeof createSimulatedGpu>): Promise<Device> {
	let lastStage = '';
	const common: OpenDeviceOptions = {
		abis: ABIS,
		...(abiArg === undefined ? {} : { abiOverride: abiArg }),
		onProgress: (p) => {
			if (p.stage === lastStage) return;
			lastStage = p.stage;
			progress(`boot: ${p.stage}`);
		},
	};
	try {
		return await openDevice(gpu, { ...common, firmware: {} });
	} catch (e) {
		if (!isAbiError(e, 'ABI_NOT_FOUND')) throw e; // selection errors are abi's AbiError
		progress('boot: no published firmware found, using gpu-sim synthetic files');
		lastStage = '';
		return openDevice(gpu, {
			...common,
			firmware: { files: syntheticFirmwareFiles(CHIP), label: 'synthetic (gpu-sim)' },
		});
	}
}

// ───────────────────────────── helpers ─────────────────────────────

function progress(line: string): void {
	console.log(`  … ${line}`);
}

function median(xs: readonly number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)] as number;
}

/** xorshift32 over the whole buffer: different in every 4-byte word, so chunks are distinguishable. */
function pattern(bytes: Uint8Array, seed: number): void {
	let x = seed >>> 0 || 1;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	for (let i = 0; i + 4 <= bytes.length; i += 4) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		dv.setUint32(i, x >>> 0, true);
	}
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
	if (
		Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
			Buffer.from(b.buffer, b.byteOffset, b.byteLength),
		)
	)
		return -1;
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
	return n;
}

/** Slot layout of one copy size: K destination slots, K + 1 source chunks (so job i is identifiable). */
interface Layout {
	readonly size: number;
	readonly slots: number;
}

const srcChunk = (l: Layout, i: number) => i % (l.slots + 1);
const dstSlot = (l: Layout, i: number) => i % l.slots;

// ───────────────────────────── scenarios ─────────────────────────────

async function baseline(n: number): Promise<number> {
	const t0 = performance.now();
	for (let i = 0; i < n; i++) await undefined;
	return performance.now() - t0;
}

/** The same bytes moved by `Uint8Array.set` between plain arrays, same slot pattern. */
function memcpy(l: Layout, src: Uint8Array, dst: Uint8Array, n: number): number {
	const t0 = performance.now();
	for (let i = 0; i < n; i++) {
		const s = srcChunk(l, i) * l.size;
		dst.set(src.subarray(s, s + l.size), dstSlot(l, i) * l.size);
	}
	return performance.now() - t0;
}

interface Rig {
	readonly device: Device;
	readonly channel: DeviceChannel;
	readonly vas: DeviceVaSpace;
}

/** Device buffers of one layout: `src` in system memory (pattern), `dst` in VRAM. */
interface Buffers {
	readonly layout: Layout;
	readonly src: DeviceMemory;
	readonly dst: DeviceMemory;
	readonly srcVa: bigint;
	readonly dstVa: bigint;
	readonly expected: Uint8Array;
	readonly poison: Uint8Array;
}

function buffers(rig: Rig, layout: Layout, seed: number): Buffers {
	const { device, vas } = rig;
	const src = device.allocMemory({
		size: (layout.slots + 1) * layout.size,
		placement: 'sysmem',
		label: 'src',
	});
	const dst = device.allocMemory({ size: layout.slots * layout.size, placement: 'vram', label: 'dst' });
	const expected = new Uint8Array((layout.slots + 1) * layout.size);
	pattern(expected, seed);
	src.write(0, expected);
	return {
		layout,
		src,
		dst,
		srcVa: vas.map(src).va,
		dstVa: vas.map(dst).va,
		expected,
		poison: new Uint8Array(layout.slots * layout.size).fill(0xdb),
	};
}

/**
 * Check the last copy into every slot touched by `n` jobs, byte for byte.
 * @throws on the first wrong byte (naming job, slot, offset).
 */
function verify(b: Buffers, n: number, what: string): number {
	const { layout } = b;
	let checked = 0;
	for (let i = Math.max(0, n - layout.slots); i < n; i++) {
		const slot = dstSlot(layout, i);
		const chunk = srcChunk(layout, i);
		const got = b.dst.read(slot * layout.size, layout.size);
		const want = b.expected.subarray(chunk * layout.size, (chunk + 1) * layout.size);
		const d = firstDiff(got, want);
		if (d >= 0) {
			throw new Error(
				`${what}: job ${i} (chunk ${chunk} → slot ${slot}) differs at byte ${d}: ` +
					`0x${(got[d] ?? 0).toString(16)} instead of 0x${(want[d] ?? 0).toString(16)}`,
			);
		}
		checked++;
	}
	return checked;
}

/** N jobs submitted back to back, the last fence awaited; every fence must have signalled without error. */
async function e2eStream(rig: Rig, b: Buffers, n: number): Promise<number> {
	const { channel } = rig;
	const entity = channel.createEntity('bench-stream', 'normal');
	const { layout } = b;
	const jobs = new Array<ReturnType<DeviceChannel['copy']>>(n);
	const t0 = performance.now();
	for (let i = 0; i < n; i++) {
		jobs[i] = channel.copy(
			{
				src: b.srcVa + BigInt(srcChunk(layout, i) * layout.size),
				dst: b.dstVa + BigInt(dstSlot(layout, i) * layout.size),
				length: layout.size,
			},
			{ entity },
		);
	}
	await jobs[n - 1]?.finished.result();
	const ms = performance.now() - t0;
	for (const j of jobs) await j.finished.result(); // all signalled already (in order); throws on an error
	return ms;
}

/** One job at a time: submit, await its fence, next. */
async function e2eSerial(rig: Rig, b: Buffers, n: number): Promise<number> {
	const { channel } = rig;
	const entity = channel.createEntity('bench-serial', 'normal');
	const { layout } = b;
	const t0 = performance.now();
	for (let i = 0; i < n; i++) {
		const job = channel.copy(
			{
				src: b.srcVa + BigInt(srcChunk(layout, i) * layout.size),
				dst: b.dstVa + BigInt(dstSlot(layout, i) * layout.size),
				length: layout.size,
			},
			{ entity },
		);
		await job.finished.result();
	}
	return performance.now() - t0;
}

// ───────────────────────────── measurement ─────────────────────────────

interface Row {
	readonly group: string;
	readonly name: string;
	readonly jobs: number;
	readonly bytesPerJob: number;
	readonly ms: number;
	/** Copies verified byte for byte over all repetitions (e2e rows). */
	readonly verified?: number;
}

async function measure(
	group: string,
	name: string,
	n: number,
	bytesPerJob: number,
	fn: () => Promise<number> | number,
	reps = REPS,
	after?: () => number,
): Promise<Row> {
	const times: number[] = [];
	let verified = 0;
	for (let r = 0; r < reps; r++) {
		const ms = await fn();
		times.push(ms);
		if (after !== undefined) verified += after();
		progress(
			`${group} ${name}: rep ${r + 1}/${reps} ${ms.toFixed(1)} ms (${((n / ms) * 1e3).toFixed(0)} jobs/s)`,
		);
	}
	return {
		group,
		name,
		jobs: n,
		bytesPerJob,
		ms: median(times),
		...(after === undefined ? {} : { verified }),
	};
}

async function sizeGroup(rig: Rig, label: string, layout: Layout, n: number, seed: number): Promise<Row[]> {
	const b = buffers(rig, layout, seed);
	try {
		const plainSrc = b.expected.slice();
		const plainDst = new Uint8Array(layout.slots * layout.size);
		const nSerial = Math.max(1, Math.floor(n / 4));
		const run = (fn: (rig: Rig, b: Buffers, n: number) => Promise<number>, jobs: number) => () => {
			b.dst.write(0, b.poison); // outside the timed part; a copy that never happened cannot pass
			return fn(rig, b, jobs);
		};
		// Warm up every path once (JIT, first-touch of pages, the service loop).
		progress(`${label}: warm-up`);
		await baseline(n);
		memcpy(layout, plainSrc, plainDst, n);
		await run(e2eStream, Math.min(n, 2 * layout.slots + 1))();
		verify(b, Math.min(n, 2 * layout.slots + 1), `${label} warm-up`);

		const rows: Row[] = [];
		rows.push(await measure(label, 'baseline (empty async loop)', n, 0, () => baseline(n)));
		rows.push(
			await measure(label, 'memcpy (Uint8Array.set)', n, layout.size, () =>
				memcpy(layout, plainSrc, plainDst, n),
			),
		);
		rows.push(
			await measure(label, 'e2e-stream (back to back)', n, layout.size, run(e2eStream, n), REPS, () =>
				verify(b, n, `${label} e2e-stream`),
			),
		);
		rows.push(await measure(label, 'baseline (empty async loop)', nSerial, 0, () => baseline(nSerial)));
		rows.push(
			await measure(
				label,
				'e2e-serial (await each)',
				nSerial,
				layout.size,
				run(e2eSerial, nSerial),
				REPS,
				() => verify(b, nSerial, `${label} e2e-serial`),
			),
		);
		// The memcpy result must be right too (the context row moves the same bytes).
		for (let i = Math.max(0, n - layout.slots); i < n; i++) {
			const c = srcChunk(layout, i);
			const s = dstSlot(layout, i);
			const d = firstDiff(
				plainDst.subarray(s * layout.size, (s + 1) * layout.size),
				plainSrc.subarray(c * layout.size, (c + 1) * layout.size),
			);
			if (d >= 0) throw new Error(`${label} memcpy: slot ${s} differs at byte ${d}`);
		}
		return rows;
	} finally {
		for (const m of [...rig.vas.mappings]) if (m.memory === b.src || m.memory === b.dst) rig.vas.unmap(m);
		b.src.free();
		b.dst.free();
	}
}

// ───────────────────────────── report ─────────────────────────────

const fmt = (x: number, d = 0) =>
	x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function table(rows: readonly Row[]): void {
	const head = [
		'size',
		'scenario',
		'jobs',
		'jobs/s',
		'µs/job',
		'MiB/s',
		'overhead µs/job',
		'× baseline',
		'× memcpy',
		'verified',
	];
	const lines: string[][] = [];
	for (const r of rows) {
		const perJob = (r.ms * 1e3) / r.jobs;
		const base = rows.find((x) => x.group === r.group && x.name.startsWith('baseline') && x.jobs === r.jobs);
		const mem = rows.find((x) => x.group === r.group && x.name.startsWith('memcpy'));
		const basePerJob = base === undefined ? Number.NaN : (base.ms * 1e3) / base.jobs;
		const memPerJob = mem === undefined ? Number.NaN : (mem.ms * 1e3) / mem.jobs;
		const isBase = r.name.startsWith('baseline');
		const isE2e = r.name.startsWith('e2e');
		lines.push([
			r.group,
			r.name,
			fmt(r.jobs),
			fmt((r.jobs / r.ms) * 1e3),
			fmt(perJob, 3),
			r.bytesPerJob === 0 ? '' : fmt((r.jobs * r.bytesPerJob) / 2 ** 20 / (r.ms / 1e3)),
			isBase ? '' : fmt(perJob - basePerJob, 3),
			isBase ? '' : `${fmt(perJob / basePerJob, 1)}×`,
			isE2e ? `${fmt(perJob / memPerJob, 1)}×` : '',
			r.verified === undefined ? '' : `${fmt(r.verified)} ✓`,
		]);
	}
	const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] ?? '').length)));
	const render = (cells: readonly string[]) =>
		cells.map((s, c) => (c <= 1 ? s.padEnd(widths[c] ?? 0) : s.padStart(widths[c] ?? 0))).join('  ');
	console.log(render(head));
	console.log(widths.map((w) => '─'.repeat(w)).join('  '));
	for (const l of lines) console.log(render(l));
}

// ───────────────────────────── main ─────────────────────────────

async function main(): Promise<void> {
	console.log(
		`@gspkit/tests e2e copy bench: ${N_SMALL} × 4 KiB and ${N_LARGE} × 256 KiB jobs per run, median of ${REPS} ` +
			`(node ${process.version}, ${realTime ? 'real clock' : 'virtual clock'})`,
	);
	const gpu = createSimulatedGpu({ chip: CHIP, ...(realTime ? { clock: new RealClock() } : {}) });
	let device: Device | undefined;
	let vas: DeviceVaSpace | undefined;
	try {
		const tBoot = performance.now();
		device = await open(gpu);
		const bootMs = performance.now() - tBoot;
		const { chip, firmware } = device.info;
		const fwSource =
			firmware.source === 'files'
				? `published files in ${dirname(firmware.files[0] ?? '?')}`
				: (firmware.label ?? 'memory');
		vas = await device.createVaSpace({ name: 'bench' });
		const channel = await device.createChannel(vas, { engine: 'copy', name: 'bench-copy' });
		const hw = channel.hardware;
		console.log(
			`device: ${chip.name}, GSP-RM ${firmware.version} (${firmware.branch}) from ${fwSource}, ` +
				`booted in ${fmt(bootMs)} ms; channel chid ${hw.chid} host 0x${hw.hostClass.toString(16)} ` +
				`copy 0x${hw.copyClass.toString(16)}, ${hw.entries} GPFIFO entries`,
		);
		const rig: Rig = { device, channel, vas };
		const rows = [
			...(await sizeGroup(rig, '4 KiB', { size: 4096, slots: 256 }, N_SMALL, 0x9e3779b9)),
			...(await sizeGroup(rig, '256 KiB', { size: 256 * 1024, slots: 32 }, N_LARGE, 0x85ebca6b)),
		];
		const s = channel.scheduler.stats;
		console.log('');
		table(rows);
		console.log('');
		console.log(
			'overhead µs/job = µs/job − the same-length baseline µs/job; × memcpy = e2e time / Uint8Array.set of the ' +
				'same bytes; verified = copies checked byte for byte (last copy into every slot, every repetition).',
		);
		console.log(`scheduler: ${fmt(s.submitted)} jobs submitted, ${fmt(s.completed)} completed`);
		await channel.destroy();
	} finally {
		if (vas !== undefined) await vas.destroy();
		await device?.close();
		await gpu.close();
	}
}

try {
	await main();
} catch (e) {
	console.error(`e2e copy bench FAILED: ${(e as Error)?.stack ?? e}`);
	process.exitCode = 1;
}
