import { MS, SEC, VirtualClock } from '@gspkit/hal';
import { afterEach, describe, expect, it } from 'vitest';
import {
	type ChannelJob,
	COPY_CLASS,
	createChannelScheduler,
	DeviceLostError,
	type Job,
	JobTimeoutError,
	PushBuffer,
	setAllocationObserver,
} from '../src/index.ts';
import { FakeVaSpace, makeFakeChannel } from './helpers/fake-gpu.ts';
import { flush, runUntil } from './helpers/fake-ring.ts';

function channelWithScheduler(clock: VirtualClock, options: Parameters<typeof makeFakeChannel>[0] = {}) {
	const fake = makeFakeChannel(options);
	// The fake host raises the non-stall interrupt synchronously; process fences from a microtask, like an IRQ.
	fake.host.onNonStall = () => queueMicrotask(() => fake.channel.timeline.process());
	const fatal: unknown[] = [];
	const sched = createChannelScheduler(fake.channel, { clock, onFatal: (e) => fatal.push(e) });
	return { ...fake, sched, fatal };
}

const finished =
	(...jobs: Job<ChannelJob>[]) =>
	() =>
		jobs.every((j) => j.finished.signalled);

describe('channel jobs on a fake host', () => {
	afterEach(() => setAllocationObserver(undefined));

	it('fills and copies through the copy engine on two channels with a dependency, byte for byte', async () => {
		const clock = new VirtualClock();
		const vas = new FakeVaSpace();
		const a = channelWithScheduler(clock, { vas, base: 0n });
		const b = channelWithScheduler(clock, { vas, base: 0x1000_0000n });
		const X = 0x40_0000_0000n;
		const Y = 0x41_0000_0000n;
		const x = vas.map(X, 8192);
		const y = vas.map(Y, 8192);
		y.fill(0xee);
		// a's engine is busy for 5 ms: without the dependency, b would copy X before it was filled.
		a.host.paused = true;
		clock.after(5n * MS, () => {
			a.host.paused = false;
			a.host.step();
		});

		// Channel a: fill X[0..4096) with a 4-byte pattern and X[4096..8192) with bytes 0x3c.
		const fillCmds = new PushBuffer(0xc56f);
		const ceA = fillCmds.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B, 4).bind();
		ceA.fill({ dst: X, length: 4096, value: 0x5a5aa5a5 });
		const fillCmds2 = new PushBuffer(0xc56f);
		fillCmds2
			.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B, 4)
			.fill({ dst: X + 4096n, length: 4096, value: 0x3c, elementSize: 1 });
		const fill = a.sched.createEntity('a').submit({ pushes: [fillCmds.words(), fillCmds2.words()] });
		// Channel b: copy X[2048..6144) to Y+100 — only after the fill finished.
		const copyCmds = new PushBuffer(0xc56f);
		copyCmds
			.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B, 4)
			.bind()
			.copy({ src: X + 2048n, dst: Y + 100n, length: 4096 });
		const copy = b.sched
			.createEntity('b')
			.submit({ pushes: [copyCmds.words()] }, { dependencies: [fill.finished] });
		await runUntil(clock, finished(fill, copy));
		expect(fill.finished.error).toBeUndefined();
		expect(copy.finished.error).toBeUndefined();

		const expected = new Uint8Array(8192);
		const dv = new DataView(expected.buffer);
		for (let i = 0; i < 4096; i += 4) dv.setUint32(i, 0x5a5aa5a5, true);
		expected.fill(0x3c, 4096);
		expect(Buffer.from(x).equals(Buffer.from(expected))).toBe(true);
		expect(Buffer.from(y.subarray(100, 4196)).equals(Buffer.from(expected.subarray(2048, 6144)))).toBe(true);
		expect(y[99]).toBe(0xee);
		expect(y[4196]).toBe(0xee);
		expect(copy.hardwareFence?.signalled).toBe(true);
		expect(b.host.fetched.length).toBeGreaterThan(0);
	});

	it('writes user segments, kernel commands and the fence in order; each job costs pushes + 1 credits', async () => {
		const clock = new VirtualClock();
		const f = channelWithScheduler(clock, { entries: 8 });
		const userVa = 0x7_0000_0000n;
		const user = new PushBuffer().nop(0x1234);
		new Uint32Array(f.vas.map(userVa, 64).buffer).set(user.words());
		const e = f.sched.createEntity('e');
		const kernelCmds = new PushBuffer().nop(0x77).words();
		const job = e.submit({ pushes: [{ va: userVa, lengthWords: user.length }, kernelCmds] });
		expect(job.credits).toBe(3);
		await runUntil(clock, finished(job));
		expect(f.host.fetched.map((x) => x.va)).toEqual([userVa, f.channel.slotVa(1), f.channel.slotVa(2)]);
		const nops = f.host.executed.filter((m) => m.method === 0x8).map((m) => m.data);
		expect(nops).toEqual([0x1234, 0x77]);
		expect(f.host.nonStallInterrupts).toBe(1);
		expect(job.hardwareFence?.seqno).toBe(1);
		expect(f.semaphore.read32(0)).toBe(1);
	});

	it('never overruns a small ring: credits track the ring, jobs wrap around it many times', async () => {
		const clock = new VirtualClock();
		const f = channelWithScheduler(clock, { entries: 8 });
		// A slow host: it fetches at most 2 entries per 100 µs tick, not on doorbells.
		f.host.paused = true;
		f.host.maxPerStep = 2;
		const tick = () => {
			f.host.step();
			clock.after(100_000n, tick);
		};
		clock.after(100_000n, tick);
		const e = f.sched.createEntity('e');
		const cmds = new PushBuffer().nop(1).words();
		const jobs = Array.from({ length: 60 }, () => e.submit({ pushes: [cmds, cmds] }));
		let maxInFlight = 0;
		await runUntil(
			clock,
			() => {
				maxInFlight = Math.max(maxInFlight, f.channel.inFlight);
				return jobs.every((j) => j.finished.signalled);
			},
			50_000n,
		);
		expect(jobs.every((j) => j.finished.error === undefined)).toBe(true);
		expect(maxInFlight).toBeLessThanOrEqual(7);
		expect(f.host.fetched).toHaveLength(180);
		expect(f.channel.wraps).toBeGreaterThanOrEqual(22);
		expect(f.semaphore.read32(0)).toBe(60);
		expect(f.fatal).toEqual([]);
	});

	it('the run path allocates nothing (the guard would throw, the observer would see it)', async () => {
		const clock = new VirtualClock();
		const f = channelWithScheduler(clock);
		const inside: string[] = [];
		setAllocationObserver((what, inSection) => {
			if (inSection) inside.push(what);
		});
		const e = f.sched.createEntity('e');
		const jobs = Array.from({ length: 20 }, (_, i) =>
			e.submit({ pushes: [new PushBuffer().nop(i).words()] }),
		);
		await runUntil(clock, finished(...jobs));
		expect(inside).toEqual([]);
		expect(f.fatal).toEqual([]);
	});

	it('an engine hang times out: the channel is killed, later submissions fail with ENODEV', async () => {
		const clock = new VirtualClock();
		const f = channelWithScheduler(clock);
		const g = channelWithScheduler(clock);
		f.host.paused = true;
		const e = f.sched.createEntity('e');
		const j1 = e.submit({ pushes: [] });
		const j2 = e.submit({ pushes: [] });
		const ok = g.sched.createEntity('g').submit({ pushes: [] });
		await runUntil(clock, finished(j1, j2, ok), 100n * MS);
		expect(clock.now()).toBe(10n * SEC);
		expect(j1.finished.error).toBeInstanceOf(JobTimeoutError);
		expect(j2.finished.error).toBeInstanceOf(DeviceLostError);
		expect(ok.finished.error).toBeUndefined();
		expect(f.channel.killed).toBe(true);
		expect(() => e.submit({ pushes: [] })).toThrow(DeviceLostError);
		expect(() => f.channel.submit([])).toThrow(/dead/);
		const later = g.sched.createEntity('g2').submit({ pushes: [] });
		await runUntil(clock, finished(later));
		expect(later.finished.error).toBeUndefined();
	});

	it('rejects invalid pushes at submit, before anything is armed', async () => {
		const clock = new VirtualClock();
		const f = channelWithScheduler(clock, { slotWords: 16 });
		const e = f.sched.createEntity('e');
		expect(() => e.submit({ pushes: [new Uint32Array(17)] })).toThrow(/1\.\.16 words/);
		expect(() => e.submit({ pushes: [{ va: 0x1002n, lengthWords: 1 }] })).toThrow(/aligned/);
		expect(() => e.submit({ pushes: [] }, { credits: 2 })).toThrow(/needs 1 credits/);
		expect(e.finishedContext.nextSeqno).toBe(1); // nothing was armed
		await flush();
		expect(f.sched.stats.submitted).toBe(0);
	});
});
