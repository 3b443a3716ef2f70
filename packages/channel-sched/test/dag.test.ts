import { MS, VirtualClock } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Entity, type Job, PRIORITIES, Scheduler } from '../src/index.ts';
import { type FakeJob, FakeRing, runUntil } from './helpers/fake-ring.ts';

interface DagSpec {
	readonly schedulers: readonly { readonly creditLimit: number }[];
	readonly entities: readonly { readonly sched: number; readonly priority: number }[];
	readonly jobs: readonly {
		readonly entity: number;
		readonly deps: readonly number[];
		readonly delayUs: number;
		readonly credits: number;
	}[];
}

const dagSpec: fc.Arbitrary<DagSpec> = fc
	.record({
		schedulers: fc.array(fc.record({ creditLimit: fc.integer({ min: 1, max: 4 }) }), {
			minLength: 1,
			maxLength: 3,
		}),
		entityCount: fc.integer({ min: 1, max: 5 }),
		jobCount: fc.integer({ min: 1, max: 40 }),
		seed: fc.integer(),
	})
	.chain(({ schedulers, entityCount, jobCount }) =>
		fc.record({
			schedulers: fc.constant(schedulers),
			entities: fc.array(
				fc.record({
					sched: fc.integer({ min: 0, max: schedulers.length - 1 }),
					priority: fc.integer({ min: 0, max: 3 }),
				}),
				{ minLength: entityCount, maxLength: entityCount },
			),
			jobs: fc.array(
				fc.record({
					entity: fc.integer({ min: 0, max: entityCount - 1 }),
					depPicks: fc.array(fc.nat(), { maxLength: 3 }),
					delayUs: fc.integer({ min: 0, max: 5000 }),
					credits: fc.integer({ min: 1, max: 4 }),
				}),
				{ minLength: jobCount, maxLength: jobCount },
			),
		}),
	)
	.map(({ schedulers, entities, jobs }) => ({
		schedulers,
		entities,
		// Dependencies only on earlier jobs: the graph is acyclic by construction.
		jobs: jobs.map((j, i) => ({
			entity: j.entity,
			deps: i === 0 ? [] : [...new Set(j.depPicks.map((d) => d % i))],
			delayUs: j.delayUs,
			credits: j.credits,
		})),
	}));

describe('random DAG of jobs over several entities and channels', () => {
	it('completes in an order consistent with its dependencies; every fence signals exactly once', async () => {
		await fc.assert(
			fc.asyncProperty(dagSpec, async (spec) => {
				const clock = new VirtualClock();
				const rings = spec.schedulers.map((_, i) => new FakeRing(`r${i}`, clock));
				const scheds = spec.schedulers.map(
					(s, i) =>
						new Scheduler<FakeJob>(rings[i] as FakeRing, {
							name: `s${i}`,
							creditLimit: s.creditLimit,
							clock,
						}),
				);
				const entities: Entity<FakeJob>[] = spec.entities.map((e, i) =>
					(scheds[e.sched] as Scheduler<FakeJob>).createEntity(`e${i}`, PRIORITIES[e.priority]),
				);
				const jobs: Job<FakeJob>[] = [];
				const finishOrder: number[] = [];
				const scheduledCount: number[] = [];
				const finishedCount: number[] = [];
				const finishTime: bigint[] = [];
				spec.jobs.forEach((j, i) => {
					const entity = entities[j.entity] as Entity<FakeJob>;
					const credits = Math.min(j.credits, entity.scheduler.creditLimit);
					const job = entity.submit(
						{ name: `j${i}`, delayNs: BigInt(j.delayUs) * 1000n },
						{ credits, dependencies: j.deps.map((d) => (jobs[d] as Job<FakeJob>).finished) },
					);
					scheduledCount[i] = 0;
					finishedCount[i] = 0;
					job.scheduled.onSignal(() => {
						scheduledCount[i] = (scheduledCount[i] ?? 0) + 1;
					});
					job.finished.onSignal(() => {
						finishedCount[i] = (finishedCount[i] ?? 0) + 1;
						finishOrder.push(i);
						finishTime[i] = clock.now();
					});
					jobs.push(job);
				});
				await runUntil(clock, () => jobs.every((j) => j.finished.signalled), 250_000n, 10_000n * MS);

				expect(finishedCount).toEqual(spec.jobs.map(() => 1));
				expect(scheduledCount).toEqual(spec.jobs.map(() => 1));
				expect(jobs.every((j) => j.finished.error === undefined)).toBe(true);
				const pos = new Map(finishOrder.map((job, k) => [job, k]));
				const runAt = new Map<string, bigint>();
				for (const r of rings) for (const rec of r.ran) runAt.set(rec.name, rec.at);
				for (const [i, j] of spec.jobs.entries()) {
					for (const d of j.deps) {
						expect(pos.get(d) as number).toBeLessThan(pos.get(i) as number);
						// A dependent never runs before its dependency finished (DONT_PIPELINE semantics).
						expect(runAt.get(`j${i}`) as bigint).toBeGreaterThanOrEqual(finishTime[d] as bigint);
					}
				}
				// Per entity: finished in push order; per ring: credits never exceeded.
				for (const [ei] of spec.entities.entries()) {
					const mine = spec.jobs
						.map((j, i) => [j.entity, i] as const)
						.filter(([e]) => e === ei)
						.map(([, i]) => i);
					const order = mine.map((i) => pos.get(i) as number);
					expect(order).toEqual([...order].sort((a, b) => a - b));
				}
				for (const [i, r] of rings.entries()) {
					expect(r.maxCreditsInFlight).toBeLessThanOrEqual(spec.schedulers[i]?.creditLimit ?? 0);
				}
				for (const s of scheds) expect(s.creditsInUse).toBe(0);
			}),
			{ numRuns: 60 },
		);
	});
});
