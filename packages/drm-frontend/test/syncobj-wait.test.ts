/** Conformance: IGT `syncobj_wait`. "Submitted" fences are EXEC jobs on the fake device; time is virtual. */

import {
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL as ALL,
	DRM_SYNCOBJ_CREATE_SIGNALED,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
	FIRST_SIGNALED_NONE,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT as FOR_SUBMIT,
} from '@gspkit/drm-frontend';
import { MS as MS_NS } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { errnoOf, setup } from './client.ts';
import { gpuReady, settle, submitJob } from './helpers/gpu.ts';

async function ctx() {
	const s = setup();
	const channel = await gpuReady(s.client);
	const deadline = (ms: bigint) => s.clock.now() + ms * MS_NS;
	return { ...s, channel, deadline };
}

async function create(c: ReturnType<typeof setup>['client'], flags = 0): Promise<number> {
	const r = await c.syncobjCreate(flags);
	if (!r.ok) throw new Error(r.error);
	return r.value;
}

describe('syncobj_wait: invalid arguments', () => {
	it('invalid-wait-bad-flags (WAIT_AVAILABLE is only for TIMELINE_WAIT)', async () => {
		const { client } = setup();
		const h = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
		expect(errnoOf(await client.syncobjWait([h], 0n, 0xff))).toBe('EINVAL');
		expect(errnoOf(await client.syncobjWait([h], 0n, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE))).toBe('EINVAL');
	});

	it('invalid-wait-zero-handles returns 0 at once', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjWait([], 0n))).toBe(0);
		expect(errnoOf(await client.syncobjWait([], 0n, ALL))).toBe(0);
	});

	it('invalid-wait-illegal-handle', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjWait([0], 0n))).toBe('ENOENT');
		expect(errnoOf(await client.syncobjWait([7], 0n))).toBe('ENOENT');
	});

	it('invalid-wait-bad-pointer is EFAULT', async () => {
		const { client } = setup();
		await create(client);
		const r = await client.call('SYNCOBJ_WAIT', { handles: 0x1234n, count_handles: 1 });
		expect(errnoOf(r)).toBe('EFAULT');
	});

	for (const [name, flags] of [
		['invalid-single-wait-unsubmitted', 0],
		['invalid-single-wait-all-unsubmitted', ALL],
	] as const) {
		it(name, async () => {
			const { client } = setup();
			const h = await create(client);
			expect(errnoOf(await client.syncobjWait([h], 0n, flags))).toBe('EINVAL');
		});
	}

	for (const [name, flags] of [
		['invalid-multi-wait-unsubmitted-signaled', 0],
		['invalid-multi-wait-all-unsubmitted-signaled', ALL],
	] as const) {
		it(name, async () => {
			const { client } = setup();
			const signalled = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
			const empty = await create(client);
			expect(errnoOf(await client.syncobjWait([signalled, empty], 0n, flags))).toBe('EINVAL');
		});
	}

	for (const op of ['reset', 'signal'] as const) {
		const run = (c: ReturnType<typeof setup>['client'], hs: number[], pad = 0) =>
			op === 'reset' ? c.syncobjReset(hs, pad) : c.syncobjSignal(hs, pad);
		it(`invalid-${op}-zero-handles`, async () => {
			const { client } = setup();
			expect(errnoOf(await run(client, []))).toBe('EINVAL');
		});
		it(`invalid-${op}-illegal-handle`, async () => {
			const { client } = setup();
			expect(errnoOf(await run(client, [0]))).toBe('ENOENT');
		});
		it(`invalid-${op}-one-illegal-handle (nothing is changed)`, async () => {
			const { client } = setup();
			const signalled = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
			const empty = await create(client);
			expect(errnoOf(await run(client, [signalled, 99, empty]))).toBe('ENOENT');
			expect(errnoOf(await client.syncobjWait([signalled], 0n))).toBe(0);
			expect(errnoOf(await client.syncobjWait([empty], 0n))).toBe('EINVAL');
		});
		it(`invalid-${op}-bad-pad`, async () => {
			const { client } = setup();
			const h = await create(client);
			expect(errnoOf(await run(client, [h], 1))).toBe('EINVAL');
		});
	}
});

describe('syncobj_wait: reset and signal', () => {
	it('signal', async () => {
		const { client } = setup();
		const h = await create(client);
		expect(errnoOf(await client.syncobjSignal([h]))).toBe(0);
		expect(errnoOf(await client.syncobjWait([h], 0n))).toBe(0);
	});

	it('reset-signaled', async () => {
		const { client } = setup();
		const h = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
		expect(errnoOf(await client.syncobjReset([h]))).toBe(0);
		expect(errnoOf(await client.syncobjWait([h], 0n))).toBe('EINVAL');
	});

	it('reset-multiple-signaled', async () => {
		const { client } = setup();
		const hs = [await create(client, 1), await create(client, 1), await create(client, 1)];
		expect(errnoOf(await client.syncobjReset(hs))).toBe(0);
		for (const h of hs) expect(errnoOf(await client.syncobjWait([h], 0n))).toBe('EINVAL');
	});

	it('reset-during-wait-for-submit: a reset does not satisfy WAIT_FOR_SUBMIT; a later signal does', async () => {
		const { client, deadline, clock } = await ctx();
		const h = await create(client);
		const p = client.syncobjWait([h], deadline(100n), FOR_SUBMIT);
		expect(errnoOf(await client.syncobjReset([h]))).toBe(0);
		await settle();
		clock.advance(10n * MS_NS);
		expect(errnoOf(await client.syncobjSignal([h]))).toBe(0);
		expect(await p).toEqual({ ok: true, value: 0 });
	});
});

describe('syncobj_wait: waits and timeouts', () => {
	it('single-wait-signaled', async () => {
		const { client, deadline } = await ctx();
		const h = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
		expect(await client.syncobjWait([h], deadline(10n))).toEqual({ ok: true, value: 0 });
	});

	it('single-wait-submitted: ETIME once the absolute deadline passes on the device clock', async () => {
		const { client, device, channel, deadline, clock } = await ctx();
		const h = await create(client);
		await submitJob(client, device, channel, [{ handle: h }]);
		const p = client.syncobjWait([h], deadline(10n));
		await settle();
		clock.advance(9n * MS_NS);
		await settle();
		let done = false;
		void p.then(() => {
			done = true;
		});
		await settle();
		expect(done).toBe(false);
		clock.advance(1n * MS_NS);
		expect(errnoOf(await p)).toBe('ETIME');
	});

	it('single-wait-submitted-then-signaled wakes without time passing', async () => {
		const { client, device, channel, deadline } = await ctx();
		const h = await create(client);
		const job = await submitJob(client, device, channel, [{ handle: h }]);
		const p = client.syncobjWait([h], deadline(1000n));
		await settle();
		job.fence.signal();
		expect(await p).toEqual({ ok: true, value: 0 });
	});

	it('a timeout in the past (or 0) polls once', async () => {
		const { client, device, channel, clock } = await ctx();
		const h = await create(client);
		await submitJob(client, device, channel, [{ handle: h }]);
		expect(errnoOf(await client.syncobjWait([h], 0n))).toBe('ETIME');
		expect(errnoOf(await client.syncobjWait([h], clock.now() - 1n))).toBe('ETIME');
		expect(errnoOf(await client.syncobjWait([h], -5n))).toBe('ETIME');
	});

	it('single-wait-for-submit-unsubmitted times out with ETIME (not EINVAL)', async () => {
		const { client, deadline, clock } = await ctx();
		const h = await create(client);
		const p = client.syncobjWait([h], deadline(5n), FOR_SUBMIT);
		await settle();
		clock.advance(5n * MS_NS);
		expect(errnoOf(await p)).toBe('ETIME');
	});

	it('wait-for-submit-delayed-submit: the wait follows a fence installed after it started', async () => {
		const { client, device, channel, deadline } = await ctx();
		const h = await create(client);
		const p = client.syncobjWait([h], deadline(1000n), FOR_SUBMIT);
		await settle();
		const job = await submitJob(client, device, channel, [{ handle: h }]);
		await settle();
		job.fence.signal();
		expect(await p).toEqual({ ok: true, value: 0 });
	});

	it('wait-any-snapshot: first_signaled names a signalled syncobj', async () => {
		const { client, device, channel, deadline } = await ctx();
		const a = await create(client);
		const b = await create(client);
		const c = await create(client);
		const ja = await submitJob(client, device, channel, [{ handle: a }]);
		await submitJob(client, device, channel, [{ handle: b }]);
		const jc = await submitJob(client, device, channel, [{ handle: c }]);
		expect(errnoOf(await client.syncobjWait([a, b, c], 0n))).toBe('ETIME');
		jc.fence.signal();
		expect(await client.syncobjWait([a, b, c], deadline(10n))).toEqual({ ok: true, value: 2 });
		ja.fence.signal();
		expect(await client.syncobjWait([a, b, c], deadline(10n))).toEqual({ ok: true, value: 0 });
	});

	it('wait-all-complex: returns when the last one signals; first_signaled keeps the first index signalled at the start', async () => {
		const { client, device, channel, deadline } = await ctx();
		const s = await create(client, DRM_SYNCOBJ_CREATE_SIGNALED);
		const a = await create(client);
		const b = await create(client);
		const ja = await submitJob(client, device, channel, [{ handle: a }]);
		const jb = await submitJob(client, device, channel, [{ handle: b }]);
		const p = client.syncobjWait([a, s, b], deadline(100n), ALL);
		await settle();
		ja.fence.signal();
		await settle();
		let done = false;
		void p.then(() => {
			done = true;
		});
		await settle();
		expect(done).toBe(false);
		jb.fence.signal();
		expect(await p).toEqual({ ok: true, value: 1 });
		// Nothing signalled at the start: first_signaled stays ~0.
		const c = await create(client);
		const jc = await submitJob(client, device, channel, [{ handle: c }]);
		const q = client.syncobjWait([c], deadline(100n), ALL);
		await settle();
		jc.fence.signal();
		expect(await q).toEqual({ ok: true, value: FIRST_SIGNALED_NONE });
	});

	it('wait-any-complex: WAIT_FOR_SUBMIT with a mix of empty, pending and delayed syncobjs', async () => {
		const { client, device, channel, deadline } = await ctx();
		const empty = await create(client);
		const pending = await create(client);
		const late = await create(client);
		await submitJob(client, device, channel, [{ handle: pending }]);
		const p = client.syncobjWait([empty, pending, late], deadline(100n), FOR_SUBMIT);
		await settle();
		const j = await submitJob(client, device, channel, [{ handle: late }]);
		await settle();
		j.fence.signal(); // completes only if jobs before it did: the fake device does not enforce order here
		expect(await p).toEqual({ ok: true, value: 2 });
	});

	it('a fence that signals with an error still satisfies the wait (errors are not wait results)', async () => {
		const { client, device, channel, deadline } = await ctx();
		const h = await create(client);
		const job = await submitJob(client, device, channel, [{ handle: h }]);
		job.fence.signal(new Error('engine fault'));
		expect(await client.syncobjWait([h], deadline(1n))).toEqual({ ok: true, value: 0 });
	});
});
