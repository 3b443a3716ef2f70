/**
 * Property test of the whole job path (issue #7, audit gap 3): a random DAG of copy and fill jobs over two or
 * three copy channels on different copy engines, sharing one VA space of `@gspkit/core` on gpu-sim, GSP-RM
 * booted from either firmware branch. Each channel has a few entities at random priorities, so jobs of one
 * channel can reach the ring out of submission order, and some channels are held by the simulated host engine
 * (an injected hang, released once everything is submitted) while the others run ahead: a dependency is the
 * only thing that orders two jobs.
 *
 * Every job owns a 1 KiB region (in VRAM or in system memory) that nothing else writes. A fill job fills its
 * region with its own 32-bit signature; a copy job fills the region's 256-byte header with its signature and
 * copies, for each dependency, a 256-byte chunk of that dependency's region (at a random offset, so chunks
 * travel transitively) into the region. Regions start out poisoned, so a job that ran before a dependency
 * finished copies stale bytes, and the final memory differs from the reference model computed here in job
 * order. Besides the bytes: every scheduled and finished fence signals exactly once, without error; a job
 * starts only after all its dependencies finished; finished fences signal in submission order per entity
 * (the fence context) and in ring order per channel; after teardown VRAM, system memory, DMA allocations and
 * RM's channels are back at the baseline.
 *
 * The seed is the suite's (configs/vitest.setup.ts): fixed by default, `GSPKIT_FC_SEED=random` explores;
 * `GSPKIT_FUZZ_SCALE` multiplies the runs.
 */

import type { Device, DeviceChannel } from '@gspkit/core';
import type { SimulatedGpu } from '@gspkit/gpu-sim';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BRANCHES, firstDiff, openSynthetic, patternBytes } from './core-kit.ts';

/** Runs per firmware branch. */
const RUNS = 25 * Math.max(1, Number(process.env.GSPKIT_FUZZ_SCALE ?? 1));
const REGION = 1024;
const CHUNK = 256;
/** A copy job's region: the signature header, then one chunk per dependency (at most three). */
const MAX_DEPS = 3;
/** Bytes of GPU memory each job may use for a pushbuffer segment. */
const SEGMENT_BYTES = 1024;
const PRIORITY_NAMES = ['low', 'normal', 'high', 'kernel'] as const;

type Placement = 'vram' | 'sysmem';

interface JobSpec {
	readonly channel: number;
	/** Index into the channel's entities; -1 is the channel's default (kernel-priority) entity. */
	readonly entity: number;
	readonly kind: 'fill' | 'copy';
	readonly placement: Placement;
	/** Earlier jobs this one depends on (distinct, each < its own index). */
	readonly deps: readonly number[];
	/** Per dependency: which chunk of the dependency's region a copy job reads. */
	readonly srcChunks: readonly number[];
	/** Copy jobs: push the commands from a pushbuffer segment in GPU memory instead of kernel pushes. */
	readonly segment: boolean;
	/** Let the event loop turn before submitting this job (the GPU may run what is queued so far). */
	readonly yieldBefore: boolean;
}

interface DagSpec {
	/**
	 * Per channel: copy engine instance, the priorities of its extra entities, and whether the simulated host
	 * engine holds the channel (an injected hang) until every job has been submitted.
	 */
	readonly channels: readonly {
		readonly ce: number;
		readonly entities: readonly number[];
		readonly stalled: boolean;
	}[];
	readonly jobs: readonly JobSpec[];
	/** Mixed into the signatures and the poison, so runs differ in their bytes too. */
	readonly salt: number;
}

const dagSpec: fc.Arbitrary<DagSpec> = fc
	.record({
		ces: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 3 }),
		jobCount: fc.integer({ min: 2, max: 28 }),
		salt: fc.integer({ min: 1, max: 0x7fff_ffff }),
	})
	.chain(({ ces, jobCount, salt }) =>
		fc.record({
			channels: fc.tuple(
				...ces.map((ce) =>
					fc.record({
						ce: fc.constant(ce),
						entities: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
						stalled: fc.boolean(),
					}),
				),
			),
			jobs: fc.array(
				fc.record({
					channel: fc.nat({ max: ces.length - 1 }),
					entityPick: fc.nat(),
					kind: fc.constantFrom('fill' as const, 'copy' as const, 'copy' as const),
					placement: fc.constantFrom<Placement>('vram', 'sysmem'),
					depPicks: fc.array(fc.nat(), { maxLength: MAX_DEPS }),
					srcChunks: fc.array(fc.nat({ max: REGION / CHUNK - 1 }), {
						minLength: MAX_DEPS,
						maxLength: MAX_DEPS,
					}),
					segment: fc.boolean(),
					yieldBefore: fc.nat({ max: 5 }).map((x) => x === 0),
				}),
				{ minLength: jobCount, maxLength: jobCount },
			),
			salt: fc.constant(salt),
		}),
	)
	.map(({ channels, jobs, salt }) => ({
		channels,
		salt,
		// Dependencies only on earlier jobs: acyclic by construction.
		jobs: jobs.map((j, i): JobSpec => {
			const deps = i === 0 ? [] : [...new Set(j.depPicks.map((d) => d % i))];
			const entities = (channels[j.channel] as { entities: readonly number[] }).entities.length;
			return {
				channel: j.channel,
				entity: (j.entityPick % (entities + 1)) - 1,
				kind: j.kind,
				placement: j.placement,
				deps,
				srcChunks: j.srcChunks.slice(0, deps.length),
				segment: j.segment,
				yieldBefore: j.yieldBefore,
			};
		}),
	}));

/** Job `i`'s signature: distinct per job and per run, never zero. */
function signature(salt: number, i: number): number {
	return (Math.imul(i + 1, 0x9e37_79b1) ^ salt ^ 0x5a00_0000) >>> 0 || 1;
}

function fillWord(buf: Uint8Array, offset: number, length: number, value: number): void {
	const dv = new DataView(buf.buffer, buf.byteOffset + offset, length);
	for (let o = 0; o < length; o += 4) dv.setUint32(o, value, true);
}

/** What memory must hold afterwards: every job applied in index order (a topological order of the DAG). */
function referenceModel(
	spec: DagSpec,
	initial: Record<Placement, Uint8Array>,
): Record<Placement, Uint8Array> {
	const mem = { vram: initial.vram.slice(), sysmem: initial.sysmem.slice() };
	spec.jobs.forEach((j, i) => {
		const dst = mem[j.placement];
		const base = i * REGION;
		const sig = signature(spec.salt, i);
		if (j.kind === 'fill') {
			fillWord(dst, base, REGION, sig);
			return;
		}
		fillWord(dst, base, CHUNK, sig);
		j.deps.forEach((d, k) => {
			const dep = spec.jobs[d] as JobSpec;
			const from = d * REGION + (j.srcChunks[k] as number) * CHUNK;
			dst.set(mem[dep.placement].subarray(from, from + CHUNK), base + CHUNK * (k + 1));
		});
	});
	return mem;
}

/** When each job's fences signalled (steps of one counter) and how often. */
interface Trace {
	scheduledAt: number[];
	finishedAt: number[];
	scheduledCount: number[];
	finishedCount: number[];
}

async function runDag(gpu: SimulatedGpu, device: Device, spec: DagSpec): Promise<void> {
	const base = {
		vram: device.stats.vram.used,
		sysmem: device.stats.sysmem.objects,
		dmaBytes: gpu.dma.bytesInUse,
		dmaAllocs: gpu.dma.liveAllocations,
	};
	const n = spec.jobs.length;
	const vas = await device.createVaSpace();
	const channels: DeviceChannel[] = [];
	const mems = {
		vram: device.allocMemory({ size: n * REGION, placement: 'vram', label: 'dag vram' }),
		sysmem: device.allocMemory({ size: n * REGION, placement: 'sysmem', label: 'dag sysmem' }),
		push: device.allocMemory({ size: n * SEGMENT_BYTES, placement: 'sysmem', label: 'dag pushbufs' }),
	};
	const maps = { vram: vas.map(mems.vram), sysmem: vas.map(mems.sysmem), push: vas.map(mems.push) };
	const stalls: { clear(): void }[] = [];
	try {
		for (const c of spec.channels)
			channels.push(await device.createChannel(vas, { engine: 'copy', ceInstance: c.ce, entries: 64 }));
		const entities = spec.channels.map((c, ci) =>
			c.entities.map((p, ei) =>
				(channels[ci] as DeviceChannel).createEntity(`c${ci}e${ei}`, PRIORITY_NAMES[p as 0 | 1 | 2 | 3]),
			),
		);
		const initial = {
			vram: patternBytes(n * REGION, spec.salt ^ 0x1111),
			sysmem: patternBytes(n * REGION, spec.salt ^ 0x2222),
		};
		mems.vram.write(0, initial.vram);
		mems.sysmem.write(0, initial.sysmem);
		const va = (p: Placement, off: number) => maps[p].va + BigInt(off);

		// Stalled channels run nothing until all jobs are queued, while the others may run ahead: a job
		// that is not held back by its dependencies then reads a region before the writer ran.
		channels.forEach((ch, ci) => {
			if (spec.channels[ci]?.stalled === true)
				stalls.push(
					gpu.host.inject({ kind: 'hang', engine: 'host', chid: ch.id, runlistId: ch.hardware.runlistId }),
				);
		});
		const trace: Trace = {
			scheduledAt: Array(n).fill(-1),
			finishedAt: Array(n).fill(-1),
			scheduledCount: Array(n).fill(0),
			finishedCount: Array(n).fill(0),
		};
		let step = 0;
		const jobs: ReturnType<DeviceChannel['submit']>[] = [];
		for (const [i, j] of spec.jobs.entries()) {
			if (j.yieldBefore) await new Promise((r) => setImmediate(r));
			const ch = channels[j.channel] as DeviceChannel;
			const entity = j.entity < 0 ? undefined : entities[j.channel]?.[j.entity];
			const options = {
				dependencies: j.deps.map((d) => (jobs[d] as (typeof jobs)[number]).finished),
				...(entity === undefined ? {} : { entity }),
			};
			const dst = va(j.placement, i * REGION);
			const sig = signature(spec.salt, i);
			let job: (typeof jobs)[number];
			if (j.kind === 'fill') {
				job = ch.fill({ dst, length: REGION, value: sig }, options);
			} else {
				const pb = ch.pushBuffer();
				const ce = ch.copyEngine(pb);
				ce.fill({ dst, length: CHUNK, value: sig, elementSize: 4 });
				j.deps.forEach((d, k) => {
					const dep = spec.jobs[d] as JobSpec;
					const src = va(dep.placement, d * REGION + (j.srcChunks[k] as number) * CHUNK);
					ce.copy({ src, dst: dst + BigInt(CHUNK * (k + 1)), length: CHUNK });
				});
				const words = pb.words();
				if (j.segment) {
					expect(words.byteLength).toBeLessThanOrEqual(SEGMENT_BYTES);
					const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
					mems.push.write(i * SEGMENT_BYTES, bytes);
					job = ch.submit(
						[{ va: maps.push.va + BigInt(i * SEGMENT_BYTES), lengthWords: words.length }],
						options,
					);
				} else {
					job = ch.submit([words.slice()], options);
				}
			}
			job.scheduled.onSignal(() => {
				trace.scheduledCount[i] = (trace.scheduledCount[i] as number) + 1;
				trace.scheduledAt[i] = step++;
			});
			job.finished.onSignal(() => {
				trace.finishedCount[i] = (trace.finishedCount[i] as number) + 1;
				trace.finishedAt[i] = step++;
			});
			jobs.push(job);
		}
		for (let t = 0; t < 3; t++) await new Promise((r) => setImmediate(r));
		for (const s of stalls) s.clear();
		await Promise.all(jobs.map((j) => j.finished.result()));

		// Every fence signalled exactly once, without an error.
		expect(trace.scheduledCount).toEqual(Array(n).fill(1));
		expect(trace.finishedCount).toEqual(Array(n).fill(1));
		for (const j of jobs) expect(j.finished.error).toBeUndefined();
		// A job reached the ring only after all its dependencies finished.
		spec.jobs.forEach((j, i) => {
			for (const d of j.deps)
				expect(trace.finishedAt[d], `job ${i} started before its dependency ${d} finished`).toBeLessThan(
					trace.scheduledAt[i] as number,
				);
		});
		// Per entity (one fence context each): finished fences in submission order, seqnos rising.
		const byEntity = new Map<string, number[]>();
		spec.jobs.forEach((j, i) => {
			const key = `${j.channel}/${j.entity}`;
			byEntity.set(key, [...(byEntity.get(key) ?? []), i]);
		});
		for (const [key, ids] of byEntity) {
			const order = [...ids].sort(
				(a, b) => (trace.finishedAt[a] as number) - (trace.finishedAt[b] as number),
			);
			expect(order, `entity ${key}`).toEqual(ids);
			const seqnos = ids.map((i) => (jobs[i] as (typeof jobs)[number]).finished.seqno);
			expect(seqnos, `entity ${key} seqnos`).toEqual([...seqnos].sort((a, b) => a - b));
			expect(new Set(seqnos).size).toBe(seqnos.length);
		}
		// Per channel: the ring completes in the order jobs were put on it.
		channels.forEach((ch, ci) => {
			const ids = spec.jobs.flatMap((j, i) => (j.channel === ci ? [i] : []));
			const ran = [...ids].sort(
				(a, b) => (trace.scheduledAt[a] as number) - (trace.scheduledAt[b] as number),
			);
			const done = [...ids].sort((a, b) => (trace.finishedAt[a] as number) - (trace.finishedAt[b] as number));
			expect(done, `channel ${ci} completion order`).toEqual(ran);
			expect(ch.scheduler.stats.completed).toBe(ids.length);
			expect(ch.killed).toBe(false);
		});
		// The bytes: what the GPU left equals the model.
		const want = referenceModel(spec, initial);
		for (const p of ['vram', 'sysmem'] as const) {
			const got = mems[p].read(0, n * REGION);
			const at = firstDiff(got, want[p]);
			expect(at, `${p} differs at byte ${at} (job ${Math.floor(at / REGION)})`).toBe(-1);
		}

		for (const m of Object.values(maps)) vas.unmap(m);
		for (const m of Object.values(mems)) m.free();
		for (const ch of channels) await ch.destroy();
		await vas.destroy();
		expect(device.stats).toMatchObject({
			channels: 0,
			vaSpaces: 0,
			vram: { used: base.vram },
			sysmem: { objects: base.sysmem },
		});
		expect(gpu.dma.bytesInUse).toBe(base.dmaBytes);
		expect(gpu.dma.liveAllocations).toBe(base.dmaAllocs);
		expect(gpu.gspRm.inspect().channels).toHaveLength(0);
	} finally {
		// On a failure: leave the device clean for the next run (all idempotent or guarded).
		for (const s of stalls) s.clear();
		for (const m of Object.values(maps)) if (vas.mappings.includes(m)) vas.unmap(m);
		for (const m of Object.values(mems)) if (device.memories.includes(m)) m.free();
		for (const ch of channels) await ch.destroy();
		if (!vas.destroyed) await vas.destroy();
	}
}

describe.each(BRANCHES)('random job DAG over copy channels with GSP-RM $version', ({ branch }) => {
	it('honours every dependency: fences once and in order, memory equals the model, nothing leaks', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		try {
			await fc.assert(
				fc.asyncProperty(dagSpec, (spec) => runDag(gpu, device, spec)),
				{ numRuns: RUNS },
			);
		} finally {
			await device.close();
			await gpu.close();
		}
	}, 60_000);
});
