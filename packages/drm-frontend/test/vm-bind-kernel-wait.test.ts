/**
 * VM_BIND while the device VA space changes its kernel-managed mappings (a channel being created or destroyed in
 * it): the VA space offers `whenKernelIdle()`, VM_BIND waits for it after its argument checks — never EBUSY —
 * then validates and submits in one step; later VM_BINDs and EXECs of the same VM wait behind it.
 */

import { DRM_NOUVEAU_VM_BIND_OP_MAP as MAP } from '@gspkit/drm-frontend';
import { describe, expect, it } from 'vitest';
import { errnoOf, setup } from './client.ts';
import type { FakeDrmDevice, FakeVaSpace } from './fake-device.ts';
import { settle, sync } from './helpers/gpu.ts';

const P = 4096n;
const BASE = 1n << 40n;

/** A switch for the fake VA space's kernel work: while `busy`, whenKernelIdle() hands out a promise. */
function kernelSwitch(v: FakeVaSpace) {
	let waiters: (() => void)[] = [];
	const s = {
		busy: false,
		asked: 0,
		waited: 0,
		idle(): void {
			s.busy = false;
			const w = waiters;
			waiters = [];
			for (const f of w) f();
		},
	};
	(v as FakeVaSpace & { whenKernelIdle?: () => Promise<void> | undefined }).whenKernelIdle = () => {
		s.asked++;
		if (!s.busy) return undefined;
		s.waited++;
		return new Promise<void>((resolve) => waiters.push(resolve));
	};
	return s;
}

function va(device: FakeDrmDevice): FakeVaSpace {
	const v = [...device.vaSpaces][0];
	if (v === undefined) throw new Error('no VA space');
	return v;
}

async function ready() {
	const s = setup();
	expect(errnoOf(await s.client.vmInit(0n, 1n << 32n))).toBe(0);
	const ch = await s.client.channelAlloc();
	if (!ch.ok) throw new Error(ch.error);
	const bo = await s.client.gemNew(4n * P);
	if (!bo.ok) throw new Error(bo.error);
	return { ...s, channel: ch.value, bo: bo.value, v: va(s.device) };
}

describe('VM_BIND waits while the VA space changes its kernel mappings', () => {
	it('waits instead of EBUSY, then binds; EXEC and a later bind stay behind it, in arrival order', async () => {
		const { client, device, channel, bo, v } = await ready();
		const k = kernelSwitch(v);
		const bound = await client.syncobjCreate();
		const done = await client.syncobjCreate();
		if (!bound.ok || !done.ok) throw new Error('syncobj');
		const order: string[] = [];
		const prepare = v.prepare.bind(v);
		v.prepare = (ops) => {
			order.push(`prepare ${ops.map((o) => o.addr.toString(16)).join(',')}`);
			return prepare(ops);
		};
		const ch = device.channels.get(channel);
		if (ch === undefined) throw new Error('channel');
		const submit = ch.submit.bind(ch);
		ch.submit = (req) => {
			order.push('exec');
			return submit(req);
		};

		k.busy = true;
		const results: string[] = [];
		const note = (name: string) => (r: { ok: boolean; error?: string }) => {
			results.push(`${name}:${r.ok ? 0 : r.error}`);
			return r;
		};
		const b1 = client
			.vmBind([{ op: MAP, handle: bo, addr: BASE, range: P }], { async: true, sig: [sync(bound.value)] })
			.then(note('bind1'));
		// EXEC waits on the bind's fence: run before the bind was submitted it would be EINVAL (no fence yet).
		const ex = client
			.exec(channel, [], { wait: [sync(bound.value)], sig: [sync(done.value)] })
			.then(note('exec'));
		const b2 = client.vmBind([{ op: MAP, handle: bo, addr: BASE + P, range: P }]).then(note('bind2'));
		// Argument errors are answered at once, busy or not.
		expect(
			errnoOf(await client.vmBind([{ op: MAP, handle: bo, addr: BASE, range: P, pad: 1 } as never])),
		).toBe('EINVAL');
		await settle();
		expect(results).toEqual([]);
		expect(order).toEqual([]);
		expect(k.waited).toBeGreaterThan(0);

		// Idle, but a new channel starts before the bind got its turn: it waits again.
		k.idle();
		k.busy = true;
		await settle();
		expect(order).toEqual([]);
		k.idle();
		await Promise.all([b1, ex, b2]);
		expect(results.sort()).toEqual(['bind1:0', 'bind2:0', 'exec:0']);
		expect(order).toEqual([`prepare ${BASE.toString(16)}`, 'exec', `prepare ${(BASE + P).toString(16)}`]);
		expect(v.pte(BASE)).toBeDefined();
		expect(v.pte(BASE + P)).toBeDefined();
	});

	it('a bind that fails after waiting changes nothing (all-or-nothing), and the VM is usable afterwards', async () => {
		const { client, bo, v } = await ready();
		const k = kernelSwitch(v);
		k.busy = true;
		const failing = client.vmBind([
			{ op: MAP, handle: bo, addr: BASE, range: P },
			// Inside the kernel-managed range [0, 4 GiB): EINVAL, decided after the wait.
			{ op: MAP, handle: bo, addr: 0x1000n, range: P },
		]);
		await settle();
		k.idle();
		expect(errnoOf(await failing)).toBe('EINVAL');
		expect(v.prepared).toBe(0);
		expect(v.pte(BASE)).toBeUndefined();
		expect(errnoOf(await client.vmBind([{ op: MAP, handle: bo, addr: BASE, range: P }]))).toBe(0);
		expect(v.pte(BASE)).toBeDefined();
		// Idle VA spaces are asked but never waited for.
		expect(k.waited).toBe(1);
		expect(k.asked).toBeGreaterThanOrEqual(2);
	});

	it('VA spaces without whenKernelIdle bind at once (the interface member is optional)', async () => {
		const { client, bo, v } = await ready();
		expect('whenKernelIdle' in v).toBe(false);
		expect(errnoOf(await client.vmBind([{ op: MAP, handle: bo, addr: BASE, range: P }]))).toBe(0);
		expect(v.committed).toBe(1);
	});
});
