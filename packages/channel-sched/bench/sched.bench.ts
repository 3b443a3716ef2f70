/**
 * `npm run bench` for @gspkit/channel-sched: scheduler throughput for empty jobs and the per-job scheduler
 * overhead, each beside a baseline measured in the same run (an empty async loop of the same length).
 *
 * Scenarios (N jobs each, median of several repetitions):
 * - baseline: `for (i < N) await undefined` — the cost of the event loop the scheduler runs on;
 * - sched-1: one entity, jobs submitted back to back, a backend whose hardware fence completes at once;
 * - sched-window: the same, submitting in windows of 256 and awaiting each window's last finished fence;
 * - sched-4rr: four entities of one priority, round-robin, with a credit limit of 16;
 * - sched-deps: two schedulers, every job depending on the previous job of the other scheduler;
 * - channel: the GPFIFO channel backend on shared memory (GP entries, a kernel command chunk, the kernel-push
 *   fence, GP_PUT, doorbell) with a minimal instant host — the CPU cost of the ring path.
 *
 * End-to-end copy jobs per second (scheduler → ring → simulated host and copy engine → fence, through
 * `@gspkit/core` on `gpu-sim`) need packages this one may not import; they are measured by
 * `npm run bench -w @gspkit/tests` (tests/bench/e2e-copy.bench.ts), beside the same baseline.
 *
 * Targets (issue 7): ≥ 200 000 empty jobs/s through the scheduler, ≤ 5 µs scheduler overhead per job.
 * Options: `--quick`, `--jobs N`.
 */
import { performance } from 'node:perf_hooks';
import { RealClock } from '@gspkit/hal';
import {
	bytesRegion,
	type ChannelJob,
	createChannelScheduler,
	Fence,
	FenceContext,
	GpFifoChannel,
	type Job,
	PushBuffer,
	Scheduler,
	type SchedulerBackend,
} from '../src/index.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jobsArg = args.indexOf('--jobs');
const N = jobsArg >= 0 ? Number(args[jobsArg + 1]) : quick ? 50_000 : 200_000;
const REPS = quick ? 3 : 7;
const clock = new RealClock();

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)] as number;
}

/** A backend whose hardware completes each job as soon as it is run. */
class InstantRing implements SchedulerBackend<null> {
	readonly context = new FenceContext('instant.hw');
	prepareJob(job: Job<null>): void {
		job.backendData = new Fence();
	}
	runJob(job: Job<null>): Fence {
		const f = job.backendData as Fence;
		f.arm(this.context);
		f.signal();
		return f;
	}
	kill(): void {}
}

async function baseline(n: number): Promise<number> {
	const t0 = performance.now();
	for (let i = 0; i < n; i++) await undefined;
	return performance.now() - t0;
}

async function schedOne(n: number): Promise<number> {
	const sched = new Scheduler<null>(new InstantRing(), { name: 'b', creditLimit: 1023, clock });
	const e = sched.createEntity('e');
	const t0 = performance.now();
	let last: Job<null> | undefined;
	for (let i = 0; i < n; i++) last = e.submit(null);
	await last?.finished.wait();
	return performance.now() - t0;
}

async function schedWindow(n: number): Promise<number> {
	const sched = new Scheduler<null>(new InstantRing(), { name: 'b', creditLimit: 1023, clock });
	const e = sched.createEntity('e');
	const t0 = performance.now();
	for (let i = 0; i < n; ) {
		let last: Job<null> | undefined;
		for (let k = 0; k < 256 && i < n; k++, i++) last = e.submit(null);
		await last?.finished.wait();
	}
	return performance.now() - t0;
}

async function schedRoundRobin(n: number): Promise<number> {
	const sched = new Scheduler<null>(new InstantRing(), { name: 'b', creditLimit: 16, clock });
	const es = [0, 1, 2, 3].map((i) => sched.createEntity(`e${i}`));
	const t0 = performance.now();
	const last: Job<null>[] = [];
	for (let i = 0; i < n; i++) last[i & 3] = (es[i & 3] as (typeof es)[number]).submit(null);
	await Promise.all(last.map((j) => j.finished.wait()));
	return performance.now() - t0;
}

async function schedDeps(n: number): Promise<number> {
	const a = new Scheduler<null>(new InstantRing(), { name: 'a', creditLimit: 1023, clock }).createEntity('a');
	const b = new Scheduler<null>(new InstantRing(), { name: 'b', creditLimit: 1023, clock }).createEntity('b');
	const t0 = performance.now();
	let prev: Job<null> | undefined;
	for (let i = 0; i < n; i++) {
		const e = i & 1 ? a : b;
		prev = e.submit(null, prev === undefined ? {} : { dependencies: [prev.finished] });
	}
	await prev?.finished.wait();
	return performance.now() - t0;
}

/**
 * A lean stand-in for the host: on each doorbell it consumes every new GP entry (GP_GET := GP_PUT) and executes
 * the semaphore release of fence segments (a SEM_ADDR_LO INC of 5 words: payload at word 3). Kept minimal so
 * the measurement is the driver's ring path, not the fake device.
 */
function leanChannel(entries: number) {
	const ringBytes = new Uint8Array(new SharedArrayBuffer(entries * 8));
	const userdBytes = new Uint8Array(new SharedArrayBuffer(512));
	const slotWords = 64;
	const kpBytes = new Uint8Array(new SharedArrayBuffer(entries * slotWords * 4));
	const semBytes = new Uint8Array(new SharedArrayBuffer(16));
	const ring = new Uint32Array(ringBytes.buffer);
	const userd = new Int32Array(userdBytes.buffer);
	const kp = new Uint32Array(kpBytes.buffer);
	const sem = new Int32Array(semBytes.buffer);
	const kpVa = 0x2_0000_0000n;
	const kpLo = Number(kpVa & 0xffffffffn);
	let get = 0;
	const channel = new GpFifoChannel({
		name: 'lean',
		host: 0xc56f,
		ring: bytesRegion(ringBytes),
		entries,
		userd: bytesRegion(userdBytes),
		workSubmitToken: 1,
		kernelPush: { cpu: bytesRegion(kpBytes), va: kpVa },
		slotWords,
		semaphore: { cpu: bytesRegion(semBytes), va: 0x10_0000_0000n },
		doorbell: {
			ring: () => {
				const put = Atomics.load(userd, 0x8c / 4);
				let released = false;
				while (get !== put) {
					const w0 = ring[get * 2] as number;
					const w1 = ring[get * 2 + 1] as number;
					const slot = ((w0 & ~3) - kpLo) / 4;
					if ((w1 & 0xff) === 2 && slot >= 0 && kp[slot] === 0x20050017) {
						Atomics.store(sem, 0, kp[slot + 3] as number);
						released = true;
					}
					get = (get + 1) & (entries - 1);
				}
				Atomics.store(userd, 0x88 / 4, get);
				if (released) onInterrupt();
			},
		},
	});
	let queued = false;
	const process = () => {
		queued = false;
		channel.timeline.process();
	};
	// Fences are processed in batches from a microtask, as the non-stall interrupt handler would.
	const onInterrupt = () => {
		if (queued) return;
		queued = true;
		queueMicrotask(process);
	};
	return channel;
}

async function channelPath(n: number): Promise<number> {
	const channel = leanChannel(1024);
	const sched = createChannelScheduler(channel, { clock });
	const e = sched.createEntity('e');
	const cmds = new PushBuffer().nop(0).words();
	const payload: ChannelJob = { pushes: [cmds] };
	const t0 = performance.now();
	let last: Job<ChannelJob> | undefined;
	for (let i = 0; i < n; i++) last = e.submit(payload);
	await last?.finished.wait();
	return performance.now() - t0;
}

interface Row {
	readonly name: string;
	readonly ms: number;
}

async function measure(name: string, fn: (n: number) => Promise<number>, n: number): Promise<Row> {
	await fn(Math.min(n, 20_000)); // warm up
	const times: number[] = [];
	for (let r = 0; r < REPS; r++) times.push(await fn(n));
	return { name, ms: median(times) };
}

async function main(): Promise<void> {
	console.log(`@gspkit/channel-sched bench: ${N} jobs per run, median of ${REPS} (node ${process.version})`);
	const base = await measure('baseline (empty async loop)', baseline, N);
	const rows = [
		await measure('sched-1 (1 entity, instant hw)', schedOne, N),
		await measure('sched-window (windows of 256)', schedWindow, N),
		await measure('sched-4rr (4 entities, 16 credits)', schedRoundRobin, N),
		await measure('sched-deps (cross-scheduler chain)', schedDeps, N),
		await measure('channel (GPFIFO path, fake host)', channelPath, Math.min(N, 100_000)),
	];
	const perJobBase = (base.ms * 1e3) / N;
	const fmt = (x: number, d = 0) =>
		x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
	console.log(
		`${'scenario'.padEnd(40)} ${'jobs/s'.padStart(12)} ${'µs/job'.padStart(8)} ${'overhead µs/job'.padStart(16)}`,
	);
	console.log(
		`${base.name.padEnd(40)} ${fmt((N / base.ms) * 1e3).padStart(12)} ${fmt(perJobBase, 3).padStart(8)}`,
	);
	for (const r of rows) {
		const n = r.name.startsWith('channel') ? Math.min(N, 100_000) : N;
		const perJob = (r.ms * 1e3) / n;
		console.log(
			`${r.name.padEnd(40)} ${fmt((n / r.ms) * 1e3).padStart(12)} ${fmt(perJob, 3).padStart(8)} ${fmt(perJob - perJobBase, 3).padStart(16)}`,
		);
	}
	const main1 = rows[0] as Row;
	const tput = (N / main1.ms) * 1e3;
	const overhead = (main1.ms * 1e3) / N - perJobBase;
	const ok = tput >= 200_000 && overhead <= 5;
	console.log(
		`targets (sched-1): ≥ 200 000 jobs/s → ${fmt(tput)}; ≤ 5 µs overhead → ${fmt(overhead, 3)} µs: ${ok ? 'met' : 'NOT met'}`,
	);
}

await main();
