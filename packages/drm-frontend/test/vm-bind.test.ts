/** VM_INIT / VM_BIND: argument checks, split/merge, sparse rules, sync vs async, all-or-nothing. */

import {
	DrmFence,
	DRM_NOUVEAU_VM_BIND_OP_MAP as MAP,
	type NouveauVmBindOp,
	DRM_NOUVEAU_VM_BIND_SPARSE as SPARSE,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP as UNMAP,
} from '@gspkit/drm-frontend';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Client, errnoOf, setup } from './client.ts';
import type { FakeBuffer, FakeDrmDevice, FakeVaSpace } from './fake-device.ts';
import { sync } from './helpers/gpu.ts';

const P = 4096n;
const BASE = 1n << 40n;

async function vmReady(opts: Parameters<typeof setup>[0] = {}) {
	const s = setup(opts);
	const r = await s.client.vmInit(0n, 1n << 32n);
	if (!r.ok) throw new Error(r.error);
	return s;
}

async function bo(c: Client, pages = 4n): Promise<number> {
	const r = await c.gemNew(pages * P);
	if (!r.ok) throw new Error(r.error);
	return r.value;
}

async function syncobj(c: Client): Promise<number> {
	const r = await c.syncobjCreate();
	if (!r.ok) throw new Error(r.error);
	return r.value;
}

function serialOf(c: Client, h: number): number {
	const obj = c.file.lookupGem(h);
	if (obj === undefined) throw new Error(`no object ${h}`);
	return (obj.buffer as FakeBuffer).serial;
}

function va(device: FakeDrmDevice): FakeVaSpace {
	const v = [...device.vaSpaces][0];
	if (v === undefined) throw new Error('no VA space');
	return v;
}

/** Page-by-page description of the fake page tables in [from, from + pages·P). */
function ptes(device: FakeDrmDevice, from: bigint, pages: number): string[] {
	const v = va(device);
	const out: string[] = [];
	for (let i = 0; i < pages; i++) {
		const pte = v.pte(from + BigInt(i) * P);
		out.push(
			pte === undefined
				? '-'
				: pte === 'sparse'
					? 'S'
					: `${(pte.buffer as FakeBuffer).serial}@${pte.offset / P}`,
		);
	}
	return out;
}

const map = (
	handle: number,
	addr: bigint,
	range: bigint,
	bo_offset = 0n,
	flags = 0,
): Partial<NouveauVmBindOp> => ({
	op: MAP,
	handle,
	addr,
	range,
	bo_offset,
	flags,
});
const unmap = (addr: bigint, range: bigint, flags = 0): Partial<NouveauVmBindOp> => ({
	op: UNMAP,
	addr,
	range,
	flags,
});

describe('VM_INIT', () => {
	it('ENOSYS for VM_BIND/EXEC before it; EINVAL for overflowing or too large kernel ranges', async () => {
		const { client } = setup();
		expect(errnoOf(await client.vmBind([]))).toBe('ENOSYS');
		expect(errnoOf(await client.exec(0, []))).toBe('ENOSYS');
		expect(errnoOf(await client.vmInit(1n << 63n, 1n << 63n))).toBe('EINVAL');
		expect(errnoOf(await client.vmInit((1n << 47n) - P, 2n * P))).toBe('EINVAL');
		expect(errnoOf(await client.vmInit((1n << 47n) - P, P))).toBe(0);
		expect(errnoOf(await client.vmInit())).toBe('EEXIST');
	});

	it('a channel allocated first makes VM_INIT ENOSYS', async () => {
		const { client } = setup();
		expect((await client.channelAlloc()).ok).toBe(true);
		expect(errnoOf(await client.vmInit())).toBe('ENOSYS');
	});
});

describe('VM_BIND argument checks', () => {
	it('MAP: unknown handle ENOENT; alignment, size, range and kernel-region errors EINVAL', async () => {
		const { client } = await vmReady();
		const h = await bo(client);
		const cases: [Partial<NouveauVmBindOp>, string][] = [
			[map(9, BASE, P), 'ENOENT'],
			[map(h, BASE + 1n, P), 'EINVAL'],
			[map(h, BASE, P + 1n), 'EINVAL'],
			[map(h, BASE, 0n), 'EINVAL'],
			[map(h, BASE, P, 1n), 'EINVAL'],
			[map(h, BASE, P, 4n * P), 'EINVAL'],
			[map(h, BASE, 4n * P, P), 'EINVAL'],
			[map(h, 0n, P), 'EINVAL'], // kernel-managed [0, 4 GiB)
			[map(h, (1n << 32n) - P, 2n * P), 'EINVAL'],
			[map(h, (1n << 47n) - P, 2n * P), 'EINVAL'],
			[map(h, (1n << 64n) - P, P), 'EINVAL'],
			[{ ...map(h, BASE, P), op: 7 }, 'EINVAL'],
			[{ ...map(h, BASE, P), pad: 1 }, 'EINVAL'],
		];
		for (const [op, errno] of cases)
			expect({ op, e: errnoOf(await client.vmBind([op])) }).toEqual({ op, e: errno });
		expect(errnoOf(await client.vmBind([map(h, BASE, 4n * P)]))).toBe(0);
	});

	it('the first failing op decides the errno (ops are checked in order)', async () => {
		const { client } = await vmReady();
		const h = await bo(client);
		expect(errnoOf(await client.vmBind([map(h, BASE + 1n, P), map(9, BASE, P)]))).toBe('EINVAL');
		expect(errnoOf(await client.vmBind([map(9, BASE, P), map(h, BASE + 1n, P)]))).toBe('ENOENT');
	});

	it('syncs need RUN_ASYNC; in-sync type EOPNOTSUPP, out-sync type EINVAL, unknown syncobjs ENOENT', async () => {
		const { client } = await vmReady();
		const s = await client.syncobjCreate(1);
		const e = await client.syncobjCreate();
		if (!s.ok || !e.ok) throw new Error('syncobj');
		expect(errnoOf(await client.vmBind([], { wait: [sync(s.value)] }))).toBe('EINVAL');
		expect(errnoOf(await client.vmBind([], { sig: [sync(s.value)] }))).toBe('EINVAL');
		expect(errnoOf(await client.vmBind([], { async: true, wait: [{ flags: 2, handle: s.value }] }))).toBe(
			'EOPNOTSUPP',
		);
		expect(errnoOf(await client.vmBind([], { async: true, sig: [{ flags: 2, handle: s.value }] }))).toBe(
			'EINVAL',
		);
		expect(errnoOf(await client.vmBind([], { async: true, wait: [sync(99)] }))).toBe('ENOENT');
		expect(errnoOf(await client.vmBind([], { async: true, sig: [sync(99)] }))).toBe('ENOENT');
		expect(errnoOf(await client.vmBind([], { async: true, wait: [sync(e.value)] }))).toBe('EINVAL');
		expect(errnoOf(await client.vmBind([], { async: true, wait: [sync(s.value, 3n)] }))).toBe('EINVAL');
		// Zero ops: only the syncs are processed.
		expect(
			errnoOf(await client.vmBind([], { async: true, wait: [sync(s.value)], sig: [sync(e.value)] })),
		).toBe(0);
		expect(errnoOf(await client.syncobjWait([e.value], 0n))).toBe(0);
	});
});

describe('VM_BIND mapping semantics (xe_vm munmap-style cases)', () => {
	it('bind-once, then unmap the middle (either-side-partial): remainders keep their offsets', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 4n);
		const serial = serialOf(client, h);
		expect(errnoOf(await client.vmBind([map(h, BASE, 4n * P)]))).toBe(0);
		expect(ptes(device, BASE, 4)).toEqual([0, 1, 2, 3].map((i) => `${serial}@${i}`));
		expect(errnoOf(await client.vmBind([unmap(BASE + P, 2n * P)]))).toBe(0);
		expect(ptes(device, BASE, 4)).toEqual([`${serial}@0`, '-', '-', `${serial}@3`]);
		expect(client.file.uvmm?.mappings.map((m) => [m.addr - BASE, m.range, m.offset])).toEqual([
			[0n, P, 0n],
			[3n * P, P, 3n * P],
		]);
	});

	it('munmap-style-unbind-front / -end / -all, and unmapping nothing is fine', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 4n);
		await client.vmBind([map(h, BASE, 4n * P)]);
		expect(errnoOf(await client.vmBind([unmap(BASE - P, 2n * P)]))).toBe(0);
		expect(errnoOf(await client.vmBind([unmap(BASE + 3n * P, 5n * P)]))).toBe(0);
		expect(ptes(device, BASE, 4).map((x) => x !== '-')).toEqual([false, true, true, false]);
		expect(errnoOf(await client.vmBind([unmap(BASE + 100n * P, P)]))).toBe(0);
		expect(errnoOf(await client.vmBind([unmap(BASE, 4n * P)]))).toBe(0);
		expect(client.file.uvmm?.mappings).toEqual([]);
	});

	it('mmap-style-bind: a map over existing mappings replaces the overlapped part', async () => {
		const { client, device } = await vmReady();
		const a = await bo(client, 4n);
		const b = await bo(client, 4n);
		const sa = serialOf(client, a);
		const sb = serialOf(client, b);
		await client.vmBind([map(a, BASE, 4n * P)]);
		expect(errnoOf(await client.vmBind([map(b, BASE + P, 2n * P, 2n * P)]))).toBe(0);
		expect(ptes(device, BASE, 4)).toEqual([`${sa}@0`, `${sb}@2`, `${sb}@3`, `${sa}@3`]);
	});

	it('the PTE kind comes from the low byte of the op flags', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 1n);
		await client.vmBind([map(h, BASE, P, 0n, 0xdb)]);
		const pte = va(device).pte(BASE);
		expect(pte !== undefined && pte !== 'sparse' && pte.kind).toBe(0xdb);
	});
});

describe('VM_BIND sparse rules', () => {
	it('sparse regions: backed maps inside override them, unmapping restores sparse PTEs', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 2n);
		const s = serialOf(client, h);
		expect(errnoOf(await client.vmBind([map(0, BASE, 8n * P, 0n, SPARSE)]))).toBe(0);
		expect(ptes(device, BASE, 8)).toEqual(Array(8).fill('S'));
		expect(errnoOf(await client.vmBind([map(h, BASE + 2n * P, 2n * P)]))).toBe(0);
		expect(ptes(device, BASE, 5)).toEqual(['S', 'S', `${s}@0`, `${s}@1`, 'S']);
		expect(errnoOf(await client.vmBind([unmap(BASE + 2n * P, P)]))).toBe(0);
		expect(ptes(device, BASE, 5)).toEqual(['S', 'S', 'S', `${s}@1`, 'S']);
	});

	it('straddling a region border is ENOSPC; sparse over a mapping or a region is ENOSPC', async () => {
		const { client } = await vmReady();
		const h = await bo(client, 4n);
		await client.vmBind([map(0, BASE + 2n * P, 4n * P, 0n, SPARSE)]);
		expect(errnoOf(await client.vmBind([map(h, BASE, 4n * P)]))).toBe('ENOSPC');
		expect(errnoOf(await client.vmBind([map(h, BASE + 4n * P, 4n * P)]))).toBe('ENOSPC');
		expect(errnoOf(await client.vmBind([map(0, BASE + 5n * P, 4n * P, 0n, SPARSE)]))).toBe('ENOSPC');
		await client.vmBind([map(h, BASE + 20n * P, P)]);
		expect(errnoOf(await client.vmBind([map(0, BASE + 20n * P, P, 0n, SPARSE)]))).toBe('ENOSPC');
		// Two overlapping sparse maps in one call: the second hits the first inside the call.
		expect(
			errnoOf(
				await client.vmBind([
					map(0, BASE + 40n * P, 2n * P, 0n, SPARSE),
					map(0, BASE + 41n * P, 2n * P, 0n, SPARSE),
				]),
			),
		).toBe('EEXIST');
	});

	it('UNMAP|SPARSE must match a region exactly (ENOENT) and unmaps what is inside', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 1n);
		await client.vmBind([map(0, BASE, 4n * P, 0n, SPARSE)]);
		await client.vmBind([map(h, BASE + P, P)]);
		expect(errnoOf(await client.vmBind([unmap(BASE, 2n * P, SPARSE)]))).toBe('ENOENT');
		expect(errnoOf(await client.vmBind([unmap(BASE + 8n * P, 4n * P, SPARSE)]))).toBe('ENOENT');
		expect(errnoOf(await client.vmBind([unmap(BASE, 4n * P, SPARSE)]))).toBe(0);
		expect(ptes(device, BASE, 4)).toEqual(['-', '-', '-', '-']);
		expect(client.file.uvmm?.mappings).toEqual([]);
		expect(errnoOf(await client.vmBind([unmap(BASE, 4n * P, SPARSE)]))).toBe('ENOENT');
		// The range is free again for a new region.
		expect(errnoOf(await client.vmBind([map(0, BASE, 4n * P, 0n, SPARSE)]))).toBe(0);
	});

	it('within one call: no map into, no second unmap of, and no new region over a region being unmapped', async () => {
		const { client } = await vmReady();
		const h = await bo(client, 1n);
		await client.vmBind([map(0, BASE, 4n * P, 0n, SPARSE)]);
		expect(errnoOf(await client.vmBind([unmap(BASE, 4n * P, SPARSE), map(h, BASE, P)]))).toBe('EINVAL');
		expect(errnoOf(await client.vmBind([unmap(BASE, 4n * P, SPARSE), unmap(BASE, 4n * P, SPARSE)]))).toBe(
			'ENOENT',
		);
		expect(
			errnoOf(await client.vmBind([unmap(BASE, 4n * P, SPARSE), map(0, BASE, 4n * P, 0n, SPARSE)])),
		).toBe('ENOSPC');
		expect(client.file.uvmm?.regions).toEqual([{ addr: BASE, range: 4n * P }]);
	});
});

describe('VM_BIND: sync/async, ordering, atomicity', () => {
	it('async binds wait for their in-fences and run in order; out-syncs signal after the page tables changed', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 1n);
		const out1 = await syncobj(client);
		const out2 = await syncobj(client);
		const pending = await syncobj(client);
		const hostFence = new DrmFence();
		client.file.syncobjs.get(pending)?.replace(hostFence);
		expect(
			errnoOf(
				await client.vmBind([map(h, BASE, P)], { async: true, wait: [sync(pending)], sig: [sync(out1)] }),
			),
		).toBe(0);
		expect(errnoOf(await client.vmBind([unmap(BASE, P)], { async: true, sig: [sync(out2, 4n)] }))).toBe(0);
		// The model already reflects both binds (the view as of the last submit); the page tables do not.
		expect(client.file.uvmm?.mappings).toEqual([]);
		expect(va(device).committed).toBe(0);
		expect(errnoOf(await client.syncobjWait([out1], 0n))).toBe('ETIME');
		expect(errnoOf(await client.timelineWait([out2], [4n], 0n))).toBe('ETIME');
		// The object is kept alive by the pending unmap even once its handle is gone.
		expect(errnoOf(await client.gemClose(h))).toBe(0);
		expect(device.freed).toBe(0);
		hostFence.signal();
		expect(errnoOf(await client.syncobjWait([out1], 0n))).toBe(0);
		expect(errnoOf(await client.timelineWait([out2], [4n], 0n))).toBe(0);
		expect(va(device).committed).toBe(2);
		expect(ptes(device, BASE, 1)).toEqual(['-']);
		expect(device.freed).toBe(1);
	});

	it('a synchronous bind returns only after the previous async binds ran', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 1n);
		const pending = await syncobj(client);
		const hostFence = new DrmFence();
		client.file.syncobjs.get(pending)?.replace(hostFence);
		await client.vmBind([map(h, BASE, P)], { async: true, wait: [sync(pending)] });
		let done = false;
		const p = client.vmBind([map(h, BASE + P, P)]).then((r) => {
			done = true;
			return r;
		});
		await new Promise((r) => setImmediate(r));
		expect(done).toBe(false);
		hostFence.signal();
		expect(errnoOf(await p)).toBe(0);
		expect(ptes(device, BASE, 2).every((x) => x !== '-')).toBe(true);
	});

	it('a device prepare failure leaves the VM unchanged', async () => {
		const { client, device } = await vmReady();
		const h = await bo(client, 2n);
		await client.vmBind([map(h, BASE, 2n * P)]);
		const before = client.file.uvmm?.mappings;
		const refs = client.file.lookupGem(h)?.refCount;
		va(device).failNextPrepare = 'ENOMEM';
		expect(errnoOf(await client.vmBind([unmap(BASE, P), map(h, BASE + 8n * P, P)]))).toBe('ENOMEM');
		expect(client.file.uvmm?.mappings).toBe(before);
		expect(client.file.lookupGem(h)?.refCount).toBe(refs);
		expect(va(device).committed).toBe(1);
	});

	it('property: a call with a failing op changes nothing (model, page tables, refcounts)', async () => {
		const { client, device } = await vmReady();
		const handles = [await bo(client, 4n), await bo(client, 4n)];
		await client.vmBind([map(0, BASE + 16n * P, 8n * P, 0n, SPARSE)]);
		const page = fc.integer({ min: 0, max: 31 });
		const good = fc.oneof(
			fc.record({
				kind: fc.constant('map'),
				h: fc.constantFrom(...handles),
				at: page,
				n: fc.integer({ min: 1, max: 4 }),
			}),
			fc.record({ kind: fc.constant('unmap'), at: page, n: fc.integer({ min: 1, max: 8 }) }),
		);
		const bad = fc.constantFrom<Partial<NouveauVmBindOp>>(
			map(77, BASE, P),
			map(handles[0] as number, BASE + 1n, P),
			map(0, BASE + 17n * P, P, 0n, SPARSE),
			unmap(BASE, P, SPARSE),
			{ op: 9, addr: BASE, range: P },
		);
		await fc.assert(
			fc.asyncProperty(
				fc.array(good, { maxLength: 6 }),
				bad,
				fc.array(good, { maxLength: 3 }),
				async (pre, b, post) => {
					const toOp = (g: { kind: string; h?: number; at: number; n: number }): Partial<NouveauVmBindOp> =>
						g.kind === 'map'
							? map(g.h as number, BASE + BigInt(g.at) * P, BigInt(Math.min(g.n, 4)) * P)
							: unmap(BASE + BigInt(g.at) * P, BigInt(g.n) * P);
					const vm = client.file.uvmm;
					const before = { maps: vm?.mappings, regions: vm?.regions, ptes: ptes(device, BASE, 40) };
					const refs = handles.map((h) => client.file.lookupGem(h)?.refCount);
					const r = await client.vmBind([...pre.map(toOp), b, ...post.map(toOp)]);
					expect(r.ok).toBe(false);
					expect(vm?.mappings).toBe(before.maps);
					expect(vm?.regions).toBe(before.regions);
					expect(ptes(device, BASE, 40)).toEqual(before.ptes);
					expect(handles.map((h) => client.file.lookupGem(h)?.refCount)).toEqual(refs);
				},
			),
			{ numRuns: 60 },
		);
	});
});
