import { MS, SEC, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import {
	CancelledError,
	DeviceLostError,
	Fence,
	FenceContext,
	isChannelSchedError,
	type Job,
	JobTimeoutError,
	Scheduler,
	SignallingSectionError,
} from '../src/index.ts';
import { type FakeJob, FakeRing, flush, runUntil } from './helpers/fake-ring.ts';

function setup(
	options: { creditLimit?: number; timeoutNs?: bigint; name?: string; clock?: VirtualClock } = {},
) {
	const clock = options.clock ?? new VirtualClock();
	const ring = new FakeRing(options.name ?? 'ring', clock);
	const fatal: unknown[] = [];
	const sched = new Scheduler<FakeJob>(ring, {
		name: options.name ?? 'ring',
		creditLimit: options.creditLimit ?? 8,
		clock,
		...(options.timeoutNs === undefined ? {} : { timeoutNs: options.timeoutNs }),
		onFatal: (e) => fatal.push(e),
	});
	return { clock, ring, sched, fatal };
}

const done =
	(...jobs: Job<FakeJob>[]) =>
	() =>
		jobs.every((j) => j.finished.signalled);

describe('job lifecycle', () => {
	it('init → armed → queued → running → done → freed, with scheduled and finished fences', async () => {
		const { clock, ring, sched } = setup();
		const e = sched.createEntity('client');
		const job = e.createJob({ name: 'j', delayNs: 2n * MS });
		expect(job.state).toBe('init');
		expect(job.scheduled.armed).toBe(false);
		job.arm();
		expect(job.state).toBe('armed');
		expect([job.scheduled.seqno, job.finished.seqno]).toEqual([1, 1]);
		expect(job.finished.context?.name).toBe('client.finished');
		job.push();
		expect(job.state).toBe('queued');
		await flush();
		expect(job.state).toBe('running');
		expect(job.scheduled.signalled).toBe(true);
		expect(job.finished.signalled).toBe(false);
		expect(job.hardwareFence?.context).toBe(ring.context);
		expect(sched.creditsInUse).toBe(1);
		await runUntil(clock, done(job));
		expect(job.finished.signalled).toBe(true);
		expect(job.finished.error).toBeUndefined();
		expect(clock.now()).toBeGreaterThanOrEqual(2n * MS);
		await flush();
		expect(job.state).toBe('freed');
		expect(ring.freed).toEqual(['j']);
		expect(sched.creditsInUse).toBe(0);
		expect(sched.stats).toMatchObject({ submitted: 1, dispatched: 1, completed: 1, timeouts: 0 });
	});
	it('arm and push are ordered; misuse is rejected', () => {
		const { sched } = setup();
		const e = sched.createEntity('c');
		const job = e.createJob({ name: 'x' });
		expect(() => job.push()).toThrow(/push before arm/);
		job.arm();
		expect(() => job.arm()).toThrow(/armed twice/);
		expect(() => job.addDependency(Fence.signalled())).toThrow(/before the job is armed/);
		expect(() => e.createJob({ name: 'y' }, { credits: 9 })).toThrow(/credits/);
		expect(() => e.createJob({ name: 'y' }, { credits: 0 })).toThrow(/credits/);
		job.push();
	});
});

describe('priorities and fairness', () => {
	it('strict priority: kernel > high > normal > low, whatever the submission order', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 1 });
		const jobs: Job<FakeJob>[] = [];
		for (const p of ['low', 'normal', 'high', 'kernel'] as const) {
			const e = sched.createEntity(p, p);
			for (let i = 0; i < 3; i++) jobs.push(e.submit({ name: `${p}${i}` }));
		}
		await runUntil(clock, done(...jobs));
		expect(ring.order).toEqual([
			'kernel0',
			'kernel1',
			'kernel2',
			'high0',
			'high1',
			'high2',
			'normal0',
			'normal1',
			'normal2',
			'low0',
			'low1',
			'low2',
		]);
	});
	it('under load, newly submitted higher-priority work overtakes queued lower-priority work', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 1 });
		const low = sched.createEntity('low', 'low');
		const kern = sched.createEntity('kern', 'kernel');
		const jobs = Array.from({ length: 6 }, (_, i) => low.submit({ name: `l${i}` }));
		await runUntil(clock, () => ring.ran.length >= 2, 100_000n);
		const k = kern.submit({ name: 'k' });
		await runUntil(clock, done(...jobs, k));
		expect(ring.order.indexOf('k')).toBe(2); // right after the job that was running when it arrived
		expect(ring.order.filter((n) => n.startsWith('l'))).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5']);
	});
	it('round-robin between entities of one priority', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 1 });
		const es = ['a', 'b', 'c'].map((n) => sched.createEntity(n));
		const jobs: Job<FakeJob>[] = [];
		for (const e of es) for (let i = 0; i < 3; i++) jobs.push(e.submit({ name: `${e.name}${i}` }));
		const d = sched.createEntity('d');
		jobs.push(d.submit({ name: 'd0' }));
		await runUntil(clock, done(...jobs));
		expect(ring.order).toEqual(['a0', 'b0', 'c0', 'd0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
	});
});

describe('credits', () => {
	it('never exceed the credit limit', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 4 });
		const e = sched.createEntity('e');
		const f = sched.createEntity('f');
		const jobs = Array.from({ length: 10 }, (_, i) =>
			(i % 2 ? e : f).submit({ name: `j${i}`, delayNs: BigInt(1 + (i % 3)) * MS }, { credits: 1 + (i % 3) }),
		);
		await runUntil(clock, done(...jobs));
		expect(ring.maxCreditsInFlight).toBe(4);
		expect(sched.creditsInUse).toBe(0);
	});
	it('a job that does not fit blocks lower priorities from overtaking it', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 4 });
		const n1 = sched.createEntity('n1', 'normal');
		const kern = sched.createEntity('k', 'kernel');
		const n2 = sched.createEntity('n2', 'normal');
		const a = n1.submit({ name: 'n1', delayNs: 5n * MS }, { credits: 3 });
		await flush();
		const b = kern.submit({ name: 'k' }, { credits: 3 });
		const c = n2.submit({ name: 'n2' }, { credits: 1 });
		await flush();
		expect(ring.order).toEqual(['n1']); // n2 would fit (3+1) but must not pass the kernel job
		await runUntil(clock, done(a, b, c));
		expect(ring.order).toEqual(['n1', 'k', 'n2']);
	});
});

describe('dependencies', () => {
	it('wait for fences from other schedulers; other entities are not blocked', async () => {
		const clock = new VirtualClock();
		const A = setup({ clock, name: 'A' });
		const B = setup({ clock, name: 'B' });
		const ea = A.sched.createEntity('ea');
		const eb = B.sched.createEntity('eb');
		const ec = B.sched.createEntity('ec');
		const a1 = ea.submit({ name: 'a1', delayNs: 5n * MS });
		const b1 = eb.submit({ name: 'b1' }, { dependencies: [a1.finished] });
		const b2 = eb.submit({ name: 'b2' });
		const c1 = ec.submit({ name: 'c1' });
		await runUntil(clock, done(a1, b1, b2, c1));
		const at = (name: string) => B.ring.ran.find((r) => r.name === name)?.at ?? -1n;
		expect(at('c1')).toBe(0n);
		expect(at('b1')).toBeGreaterThanOrEqual(5n * MS);
		expect(B.ring.order).toEqual(['c1', 'b1', 'b2']);
	});
	it('a failed dependency skips the job and its finished fence carries the error', async () => {
		const clock = new VirtualClock();
		const A = setup({ clock, name: 'A' });
		const B = setup({ clock, name: 'B' });
		const boom = new Error('a1 failed');
		const a1 = A.sched.createEntity('ea').submit({ name: 'a1', fail: boom });
		const eb = B.sched.createEntity('eb');
		const b1 = eb.submit({ name: 'b1' }, { dependencies: [a1.finished] });
		const b2 = eb.submit({ name: 'b2' });
		await runUntil(clock, done(a1, b1, b2));
		expect(a1.finished.error).toBe(boom);
		expect(b1.finished.error).toBe(boom);
		expect(b1.scheduled.signalled).toBe(true);
		expect(b2.finished.error).toBeUndefined();
		expect(B.ring.order).toEqual(['b2']);
	});
	it('an already-signalled dependency without error is dropped', () => {
		const { sched } = setup();
		const job = sched.createEntity('e').createJob({ name: 'x' });
		job.addDependency(Fence.signalled());
		expect(job.dependencies).toHaveLength(0);
		job.addDependency(Fence.signalled(new Error('x')));
		expect(job.dependencies).toHaveLength(1);
	});
});

describe('timeouts', () => {
	it('kill the guilty channel only: ETIMEDOUT for the guilty job, ENODEV for the rest and for new submissions', async () => {
		const clock = new VirtualClock();
		const A = setup({ clock, name: 'A', creditLimit: 2 });
		const B = setup({ clock, name: 'B' });
		A.ring.hang = true;
		const ea = A.sched.createEntity('ea');
		const eb = B.sched.createEntity('eb');
		const a = [0, 1, 2].map((i) => ea.submit({ name: `a${i}` }));
		const b1 = eb.submit({ name: 'b1' });
		await runUntil(clock, () => clock.now() >= 9n * SEC + 900n * MS, 100n * MS);
		expect(a.some((j) => j.finished.signalled)).toBe(false);
		expect(b1.finished.signalled).toBe(true);
		await runUntil(clock, done(...a), 10n * MS);
		expect(clock.now()).toBe(10n * SEC);

		const guilty = a[0]?.finished.error;
		expect(guilty).toBeInstanceOf(JobTimeoutError);
		expect((guilty as JobTimeoutError).errno).toBe('ETIMEDOUT');
		for (const j of [a[1], a[2]] as Job<FakeJob>[]) {
			expect(j.finished.error).toBeInstanceOf(DeviceLostError);
			expect((j.finished.error as DeviceLostError).errno).toBe('ENODEV');
		}
		expect(A.ring.killedWith).toBeInstanceOf(DeviceLostError);
		expect(A.sched.stats.timeouts).toBe(1);
		let err: unknown;
		try {
			ea.submit({ name: 'late' });
		} catch (e) {
			err = e;
		}
		expect(isChannelSchedError(err, 'CHSCHED_DEVICE_LOST')).toBe(true);
		expect((err as DeviceLostError).errnoNumber).toBe(19);
		expect(() => A.sched.createEntity('new')).toThrow(DeviceLostError);

		// The other channel keeps running.
		const b2 = eb.submit({ name: 'b2' });
		await runUntil(clock, done(b2));
		expect(b2.finished.error).toBeUndefined();
		expect(B.sched.dead).toBe(false);
	});
	it('counts from the later of job start and previous completion; configurable', async () => {
		const clock = new VirtualClock();
		const { ring, sched } = setup({ clock, timeoutNs: 10n * SEC, creditLimit: 4 });
		const e = sched.createEntity('e');
		const j1 = e.submit({ name: 'j1', delayNs: 8n * SEC });
		const j2 = e.submit({ name: 'j2', delayNs: 15n * SEC }); // done 7 s after j1: fine
		await runUntil(clock, done(j1, j2), 100n * MS);
		expect(j2.finished.error).toBeUndefined();
		const j3 = e.submit({ name: 'j3', delayNs: 8n * SEC });
		const j4 = e.submit({ name: 'j4', delayNs: 19n * SEC }); // 11 s after j3: times out
		const t0 = clock.now();
		await runUntil(clock, done(j3, j4), 100n * MS);
		expect(j3.finished.error).toBeUndefined();
		expect(j4.finished.error).toBeInstanceOf(JobTimeoutError);
		expect(clock.now() - t0).toBe(18n * SEC);
		expect(ring.killedWith).toBeDefined();

		const short = setup({ clock, timeoutNs: 500n * MS });
		const s = short.sched.createEntity('s').submit({ name: 's', delayNs: SEC });
		await runUntil(clock, done(s), 10n * MS);
		expect(s.finished.error).toBeInstanceOf(JobTimeoutError);
	});
	it("a 'no-hang' verdict restarts the timeout", async () => {
		const { clock, ring, sched } = setup();
		ring.hang = true;
		ring.timedOutVerdicts = ['no-hang'];
		const t0 = clock.now();
		const j = sched.createEntity('e').submit({ name: 'j' });
		await runUntil(clock, done(j), 100n * MS);
		expect(clock.now() - t0).toBe(20n * SEC);
		expect(j.finished.error).toBeInstanceOf(JobTimeoutError);
	});
});

describe('teardown', () => {
	it('scheduler.destroy cancels running and queued jobs with ECANCELED, in order', async () => {
		const clock = new VirtualClock();
		const { ring, sched } = setup({ clock, creditLimit: 1 });
		const other = { fence: new FenceContext('holder').createFence() };
		const e = sched.createEntity('e');
		const w = sched.createEntity('w');
		const jobs = [0, 1, 2].map((i) => e.submit({ name: `j${i}`, delayNs: SEC }));
		const waiting = w.submit({ name: 'w' }, { dependencies: [other.fence] });
		await flush();
		const order: string[] = [];
		for (const j of [...jobs, waiting]) j.finished.onSignal(() => order.push(j.payload.name));
		sched.destroy();
		expect(order).toEqual(['j0', 'j1', 'j2', 'w']);
		for (const j of [...jobs, waiting]) {
			expect(j.finished.error).toBeInstanceOf(CancelledError);
			expect((j.finished.error as CancelledError).errno).toBe('ECANCELED');
		}
		expect(ring.killedWith).toBeInstanceOf(CancelledError);
		expect(() => e.submit({ name: 'late' })).toThrow(DeviceLostError);
		other.fence.signal(); // the removed dependency callback must not fire into a dead scheduler
		await flush();
		expect(ring.order).toEqual(['j0']);
	});
	it('entity.destroy cancels queued jobs after its running one completes; other entities continue', async () => {
		const { clock, ring, sched } = setup({ creditLimit: 1 });
		const e = sched.createEntity('e');
		const f = sched.createEntity('f');
		const jobs = [0, 1, 2].map((i) => e.submit({ name: `e${i}`, delayNs: 5n * MS }));
		const g = f.submit({ name: 'f0' });
		await flush();
		e.destroy();
		expect(jobs[1]?.finished.signalled).toBe(false); // must wait for e0 (in-order finished fences)
		await runUntil(clock, done(...jobs, g));
		expect(jobs[0]?.finished.error).toBeUndefined();
		expect(jobs[1]?.finished.error).toBeInstanceOf(CancelledError);
		expect(jobs[2]?.finished.error).toBeInstanceOf(CancelledError);
		expect(g.finished.error).toBeUndefined();
		expect(ring.order).toEqual(['e0', 'f0']);
		expect(() => e.submit({ name: 'x' })).toThrow(DeviceLostError);
	});
});

describe('signalling section', () => {
	it('a backend that allocates in run trips the guard; the scheduler reports it and dies', async () => {
		const clock = new VirtualClock();
		const fatal: unknown[] = [];
		const sched = new Scheduler<FakeJob>(
			{
				runJob: () => new Fence(), // allocates inside run: forbidden
				kill: () => {},
			},
			{ name: 'bad', creditLimit: 4, clock, onFatal: (e) => fatal.push(e) },
		);
		const j = sched.createEntity('e').submit({ name: 'j' });
		await flush();
		expect(fatal).toHaveLength(1);
		expect(fatal[0]).toBeInstanceOf(SignallingSectionError);
		expect(j.finished.error).toBeInstanceOf(SignallingSectionError);
		expect(sched.dead).toBe(true);
	});
	it('submitting from a fence callback (inside the section) is refused', async () => {
		const { clock, sched } = setup();
		const e = sched.createEntity('e');
		const j = e.submit({ name: 'j' });
		let err: unknown;
		j.finished.onSignal(() => {
			try {
				e.submit({ name: 'nested' });
			} catch (x) {
				err = x;
			}
		});
		await runUntil(clock, done(j));
		expect(err).toBeInstanceOf(SignallingSectionError);
	});
});
