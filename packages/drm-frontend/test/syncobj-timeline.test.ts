/** Conformance: IGT `syncobj_timeline`, plus properties of the dma_fence_chain model. */

import {
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL as ALL,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE as AVAILABLE,
	DrmFence,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT as FOR_SUBMIT,
	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED as LAST_SUBMITTED,
	Syncobj,
} from '@gspkit/drm-frontend';
import { MS } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Client, errnoOf, setup } from './client.ts';
import { gpuReady, settle, submitJob } from './helpers/gpu.ts';

async function create(c: Client, flags = 0): Promise<number> {
	const r = await c.syncobjCreate(flags);
	if (!r.ok) throw new Error(r.error);
	return r.value;
}

async function ctx() {
	const s = setup();
	const channel = await gpuReady(s.client);
	return { ...s, channel, deadline: (ms: bigint) => s.clock.now() + ms * MS };
}

describe('syncobj_timeline: invalid arguments', () => {
	it('invalid-wait-bad-flags', async () => {
		const { client } = setup();
		const h = await create(client);
		expect(errnoOf(await client.timelineWait([h], [1n], 0n, 0x100))).toBe('EINVAL');
	});

	it('invalid-wait-zero-handles returns 0', async () => {
		const { client } = setup();
		expect(errnoOf(await client.timelineWait([], [], 0n))).toBe(0);
	});

	it('invalid-wait-illegal-handle', async () => {
		const { client } = setup();
		expect(errnoOf(await client.timelineWait([5], [1n], 0n))).toBe('ENOENT');
	});

	it('invalid-wait-bad-points-pointer is EFAULT (after the handle lookup)', async () => {
		const { client } = setup();
		const h = await create(client);
		const r = await client.call('SYNCOBJ_TIMELINE_WAIT', {
			handles: client.u32s([h]),
			points: 0x40n,
			count_handles: 1,
		});
		expect(errnoOf(r)).toBe('EFAULT');
	});

	it('invalid-query-zero-handles / -illegal-handle / -bad-flags', async () => {
		const { client } = setup();
		expect(errnoOf(await client.query([]))).toBe('EINVAL');
		expect(errnoOf(await client.query([3]))).toBe('ENOENT');
		const h = await create(client);
		expect(errnoOf(await client.query([h], 2))).toBe('EINVAL');
	});

	it('invalid-signal-zero-handles / -illegal-handle / -bad-flags', async () => {
		const { client } = setup();
		expect(errnoOf(await client.timelineSignal([], []))).toBe('EINVAL');
		expect(errnoOf(await client.timelineSignal([9], [1n]))).toBe('ENOENT');
		const h = await create(client);
		expect(errnoOf(await client.timelineSignal([h], [1n], 1))).toBe('EINVAL');
	});

	it('invalid-transfer-illegal-handle / -bad-pad / -bad-flags / -non-existent-point', async () => {
		const { client } = setup();
		const a = await create(client);
		const b = await create(client);
		expect(errnoOf(await client.transfer(99, 1n, a, 0n))).toBe('ENOENT');
		expect(errnoOf(await client.transfer(b, 1n, 99, 0n))).toBe('ENOENT');
		expect(errnoOf(await client.transfer(b, 1n, a, 0n, 0, 1))).toBe('EINVAL');
		expect(errnoOf(await client.transfer(b, 1n, a, 0n, 0x10))).toBe('EINVAL');
		expect(errnoOf(await client.transfer(b, 1n, a, 1n))).toBe('EINVAL');
	});
});

describe('syncobj_timeline: waits', () => {
	it('single-wait-unsubmitted (no flags) is EINVAL', async () => {
		const { client } = setup();
		const h = await create(client);
		expect(errnoOf(await client.timelineSignal([h], [1n]))).toBe(0);
		expect(errnoOf(await client.timelineWait([h], [2n], 0n))).toBe('EINVAL');
		expect(errnoOf(await client.timelineWait([h], [1n], 0n))).toBe(0);
	});

	it('etime-single-wait-available-unsubmitted', async () => {
		const { client, clock, deadline } = await ctx();
		const h = await create(client);
		const p = client.timelineWait([h], [1n], deadline(5n), AVAILABLE);
		await settle();
		clock.advance(5n * MS);
		expect(errnoOf(await p)).toBe('ETIME');
	});

	it('etime-multi-wait-all-available-unsubmitted', async () => {
		const { client, clock, deadline } = await ctx();
		const a = await create(client);
		const b = await create(client);
		expect(errnoOf(await client.timelineSignal([a], [1n]))).toBe(0);
		const p = client.timelineWait([a, b], [1n, 1n], deadline(5n), AVAILABLE | ALL);
		await settle();
		clock.advance(5n * MS);
		expect(errnoOf(await p)).toBe('ETIME');
	});

	it('single-wait-available-submitted: an unsignalled point counts as available', async () => {
		const { client, device, channel } = await ctx();
		const h = await create(client);
		await submitJob(client, device, channel, [{ handle: h, point: 1n }]);
		expect(errnoOf(await client.timelineWait([h], [1n], 0n))).toBe('ETIME');
		expect(await client.timelineWait([h], [1n], 0n, AVAILABLE)).toEqual({ ok: true, value: 0 });
	});

	it('wait-for-submit-delayed-submit on a timeline point', async () => {
		const { client, device, channel, deadline } = await ctx();
		const h = await create(client);
		const p = client.timelineWait([h], [3n], deadline(100n), FOR_SUBMIT);
		await settle();
		const j1 = await submitJob(client, device, channel, [{ handle: h, point: 1n }]);
		await settle();
		const j3 = await submitJob(client, device, channel, [{ handle: h, point: 3n }]);
		await settle();
		j3.fence.signal();
		await settle();
		let done = false;
		void p.then(() => {
			done = true;
		});
		await settle();
		expect(done).toBe(false); // point 3 also needs point 1
		j1.fence.signal();
		expect(await p).toEqual({ ok: true, value: 0 });
	});

	it('a point below the last signalled one is satisfied (the chain walk finds it signalled)', async () => {
		const { client } = setup();
		const h = await create(client);
		expect(errnoOf(await client.timelineSignal([h], [10n]))).toBe(0);
		expect(errnoOf(await client.timelineWait([h], [4n], 0n))).toBe(0);
	});
});

describe('syncobj_timeline: query, signal, transfer', () => {
	it('host-signal-points and query', async () => {
		const { client } = setup();
		const h = await create(client);
		expect(await client.query([h])).toEqual({ ok: true, value: [0n] });
		expect(errnoOf(await client.timelineSignal([h], [1n]))).toBe(0);
		expect(errnoOf(await client.timelineSignal([h], [5n]))).toBe(0);
		expect(await client.query([h])).toEqual({ ok: true, value: [5n] });
		expect(await client.query([h], LAST_SUBMITTED)).toEqual({ ok: true, value: [5n] });
	});

	it('device-signal-unordered: query reports the highest point below which everything signalled', async () => {
		const { client, device, channel } = await ctx();
		const h = await create(client);
		const jobs = [];
		for (const p of [1n, 2n, 3n, 4n])
			jobs.push(await submitJob(client, device, channel, [{ handle: h, point: p }]));
		expect(await client.query([h])).toEqual({ ok: true, value: [0n] });
		expect(await client.query([h], LAST_SUBMITTED)).toEqual({ ok: true, value: [4n] });
		jobs[2]?.fence.signal();
		jobs[1]?.fence.signal();
		expect(await client.query([h])).toEqual({ ok: true, value: [0n] });
		jobs[0]?.fence.signal();
		expect(await client.query([h])).toEqual({ ok: true, value: [3n] });
		jobs[3]?.fence.signal();
		expect(await client.query([h])).toEqual({ ok: true, value: [4n] });
	});

	it('device-submit-unordered: a lower point after a higher one starts a new chain at the higher point', async () => {
		const { client, device, channel } = await ctx();
		const h = await create(client);
		const j3 = await submitJob(client, device, channel, [{ handle: h, point: 3n }]);
		const j1 = await submitJob(client, device, channel, [{ handle: h, point: 1n }]);
		expect(await client.query([h], LAST_SUBMITTED)).toEqual({ ok: true, value: [3n] });
		j1.fence.signal();
		expect(await client.query([h])).toEqual({ ok: true, value: [0n] });
		j3.fence.signal();
		expect(await client.query([h])).toEqual({ ok: true, value: [3n] });
	});

	it('32bits-limit: points beyond 2^32 are 64-bit everywhere', async () => {
		const { client } = setup();
		const h = await create(client);
		const points = [(1n << 32n) - 1n, 1n << 32n, (1n << 33n) + 7n, (1n << 63n) + 1n];
		for (const p of points) expect(errnoOf(await client.timelineSignal([h], [p]))).toBe(0);
		expect(await client.query([h])).toEqual({ ok: true, value: [(1n << 63n) + 1n] });
		expect(errnoOf(await client.timelineWait([h], [1n << 33n], 0n))).toBe(0);
	});

	it('transfer-timeline-point: binary → timeline point → binary', async () => {
		const { client, device, channel } = await ctx();
		const bin = await create(client);
		const tl = await create(client);
		const out = await create(client);
		const job = await submitJob(client, device, channel, [{ handle: bin }]);
		expect(errnoOf(await client.transfer(tl, 7n, bin, 0n))).toBe(0);
		expect(await client.query([tl], LAST_SUBMITTED)).toEqual({ ok: true, value: [7n] });
		expect(errnoOf(await client.transfer(out, 0n, tl, 7n))).toBe(0);
		expect(errnoOf(await client.syncobjWait([out], 0n))).toBe('ETIME');
		job.fence.signal();
		expect(errnoOf(await client.syncobjWait([out], 0n))).toBe(0);
		expect(await client.query([tl])).toEqual({ ok: true, value: [7n] });
	});

	it('transfer with WAIT_FOR_SUBMIT waits for the source point (ETIME after 5 s of device time)', async () => {
		const { client, clock } = await ctx();
		const src = await create(client);
		const dst = await create(client);
		const p = client.transfer(dst, 1n, src, 2n, FOR_SUBMIT);
		await settle();
		clock.advance(4_999n * MS);
		await settle();
		expect(errnoOf(await client.timelineSignal([src], [2n]))).toBe(0);
		expect(errnoOf(await p)).toBe(0);
		const q = client.transfer(dst, 2n, src, 3n, FOR_SUBMIT);
		await settle();
		clock.advance(5_000n * MS);
		expect(errnoOf(await q)).toBe('ETIME');
	});

	it('sync_file export snapshots the fence; import puts it into an existing syncobj', async () => {
		const { client, device, channel } = await ctx();
		const a = await create(client);
		const b = await create(client);
		const job = await submitJob(client, device, channel, [{ handle: a }]);
		const fd = await client.syncobjToFd(a, 1);
		if (!fd.ok) throw new Error(fd.error);
		expect(errnoOf(await client.syncobjReset([a]))).toBe(0);
		expect(errnoOf(await client.syncobjFromFd(fd.value, 1, b))).toBe(0);
		expect(errnoOf(await client.syncobjWait([b], 0n))).toBe('ETIME');
		job.fence.signal();
		expect(errnoOf(await client.syncobjWait([b], 0n))).toBe(0);
		expect(errnoOf(await client.syncobjFromFd(fd.value, 1, 99))).toBe('ENOENT');
		expect(errnoOf(await client.syncobjToFd(a, 1))).toBe('EINVAL');
	});
});

describe('dma_fence_chain model (properties)', () => {
	/** Reference: point p is reached when every fence added at a point ≤ p signalled. */
	it('increasing points: find/wait and QUERY agree with the "everything up to p" model', () => {
		fc.assert(
			fc.property(
				fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }),
				fc.array(fc.nat(), { maxLength: 20 }),
				(gaps, signalOrder) => {
					const s = new Syncobj();
					const points: bigint[] = [];
					const fences: DrmFence[] = [];
					let p = 0n;
					for (const g of gaps) {
						p += BigInt(g);
						const f = new DrmFence();
						s.addPoint(f, p);
						points.push(p);
						fences.push(f);
					}
					for (const i of signalOrder) {
						const f = fences[i % fences.length] as DrmFence;
						if (!f.signalled) f.signal();
					}
					const reached = (q: bigint) => fences.every((f, i) => (points[i] as bigint) > q || f.signalled);
					let expectQuery = 0n;
					for (const q of points) if (reached(q)) expectQuery = q;
					expect(s.queryPoint(false)).toBe(expectQuery);
					expect(s.queryPoint(true)).toBe(p);
					for (let q = 1n; q <= p + 2n; q++) {
						const f = s.findFence(q);
						// Waiting for q means waiting for the first point ≥ q (the timeline jumps to it).
						const node = points.find((x) => x >= q);
						if (node === undefined) expect(f).toBeUndefined();
						else expect(f?.signalled).toBe(reached(node));
					}
				},
			),
		);
	});

	it('any order of points: LAST_SUBMITTED is the running maximum', () => {
		fc.assert(
			fc.property(
				fc.array(fc.bigInt({ min: 1n, max: 1n << 40n }), { minLength: 1, maxLength: 10 }),
				(pts) => {
					const s = new Syncobj();
					let max = 0n;
					for (const q of pts) {
						s.addPoint(new DrmFence(), q);
						if (q > max) max = q;
						expect(s.queryPoint(true)).toBe(max);
					}
				},
			),
		);
	});
});
