/**
 * GEM lifetime properties: an object's memory is freed exactly once, exactly when the last reference —
 * handle in any file, dma-buf descriptor in any process, VA mapping, in-flight job, mmap — is gone.
 */

import type { GemMapping } from '@gspkit/drm-frontend';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Client, errnoOf, setup } from './client.ts';
import type { FakeBuffer } from './fake-device.ts';
import { gpuReady, settle } from './helpers/gpu.ts';

const P = 4096n;
const BASE = 1n << 40n;
const PAGES = 16;

type Op =
	| { t: 'new'; f: number; pages: number }
	| { t: 'close'; f: number; i: number }
	| { t: 'export'; f: number; i: number }
	| { t: 'import'; f: number; j: number }
	| { t: 'closefd'; f: number; j: number }
	| { t: 'pass'; f: number; j: number }
	| { t: 'map'; f: number; i: number; page: number; n: number }
	| { t: 'unmap'; f: number; page: number; n: number }
	| { t: 'exec'; f: number }
	| { t: 'drain' }
	| { t: 'mmap'; f: number; i: number }
	| { t: 'munmap'; k: number }
	| { t: 'closefile'; f: number };

const file = fc.integer({ min: 0, max: 1 });
const idx = fc.nat(20);
const opArb: fc.Arbitrary<Op> = fc.oneof(
	{
		weight: 4,
		arbitrary: fc.record({ t: fc.constant('new'), f: file, pages: fc.integer({ min: 1, max: 3 }) }),
	},
	{ weight: 3, arbitrary: fc.record({ t: fc.constant('close'), f: file, i: idx }) },
	{ weight: 3, arbitrary: fc.record({ t: fc.constant('export'), f: file, i: idx }) },
	{ weight: 3, arbitrary: fc.record({ t: fc.constant('import'), f: file, j: idx }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('closefd'), f: file, j: idx }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('pass'), f: file, j: idx }) },
	{
		weight: 3,
		arbitrary: fc.record({
			t: fc.constant('map'),
			f: file,
			i: idx,
			page: fc.nat(PAGES - 1),
			n: fc.integer({ min: 1, max: 3 }),
		}),
	},
	{
		weight: 2,
		arbitrary: fc.record({
			t: fc.constant('unmap'),
			f: file,
			page: fc.nat(PAGES - 1),
			n: fc.integer({ min: 1, max: 6 }),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('exec'), f: file }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('drain') }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('mmap'), f: file, i: idx }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('munmap'), k: idx }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('closefile'), f: file }) },
);

/** The independent bookkeeping: which references each buffer has, from the test's point of view. */
class Model {
	readonly handles = [new Map<number, FakeBuffer>(), new Map<number, FakeBuffer>()];
	readonly fds = [new Map<number, FakeBuffer>(), new Map<number, FakeBuffer>()];
	readonly pages: (FakeBuffer | undefined)[][] = [Array(PAGES).fill(undefined), Array(PAGES).fill(undefined)];
	readonly jobs: Set<FakeBuffer>[] = [];
	readonly mmaps: { m: GemMapping; b: FakeBuffer }[] = [];
	/** Notifier buffers held by each file's channel. */
	readonly channelRefs: (FakeBuffer | undefined)[] = [undefined, undefined];
	readonly everything = new Set<FakeBuffer>();
	readonly open = [true, true];

	alive(b: FakeBuffer): boolean {
		return (
			this.handles.some((h) => [...h.values()].includes(b)) ||
			this.fds.some((f) => [...f.values()].includes(b)) ||
			this.pages.some((p) => p.includes(b)) ||
			this.jobs.some((j) => j.has(b)) ||
			this.mmaps.some((m) => m.b === b) ||
			this.channelRefs.includes(b)
		);
	}
}

async function run(ops: readonly Op[]): Promise<void> {
	const { fe, device } = setup();
	const clients = [new Client(fe), new Client(fe)];
	const model = new Model();
	const channels: number[] = [];
	for (const [f, c] of clients.entries()) {
		channels.push(await gpuReady(c));
		// The channel notifier is a GEM object too.
		const ntfy = c.file.lookupGem(1);
		if (ntfy !== undefined) {
			model.handles[f]?.set(1, ntfy.buffer as FakeBuffer);
			model.channelRefs[f] = ntfy.buffer as FakeBuffer;
			model.everything.add(ntfy.buffer as FakeBuffer);
		}
	}
	const nth = <K, V>(m: Map<K, V>, i: number): [K, V] | undefined =>
		[...m.entries()][i % Math.max(1, m.size)];
	const buf = (c: Client, h: number) => c.file.lookupGem(h)?.buffer as FakeBuffer;

	for (const op of ops) {
		if ('f' in op && !model.open[op.f]) continue;
		const c = 'f' in op ? (clients[op.f] as Client) : undefined;
		const f = 'f' in op ? op.f : 0;
		const handles = model.handles[f] as Map<number, FakeBuffer>;
		const fds = model.fds[f] as Map<number, FakeBuffer>;
		switch (op.t) {
			case 'new': {
				const r = await c?.gemNew(BigInt(op.pages) * P);
				if (r?.ok) {
					handles.set(r.value, buf(c as Client, r.value));
					model.everything.add(buf(c as Client, r.value));
				}
				break;
			}
			case 'close': {
				const e = nth(handles, op.i);
				if (e === undefined) break;
				expect(errnoOf(await (c as Client).gemClose(e[0]))).toBe(0);
				handles.delete(e[0]);
				break;
			}
			case 'export': {
				const e = nth(handles, op.i);
				if (e === undefined) break;
				const r = await (c as Client).primeExport(e[0]);
				if (!r.ok) throw new Error(r.error);
				fds.set(r.value, e[1]);
				break;
			}
			case 'import': {
				const e = nth(fds, op.j);
				if (e === undefined) break;
				const r = await (c as Client).primeImport(e[0]);
				if (!r.ok) throw new Error(r.error);
				const existing = [...handles.entries()].find(([, b]) => b === e[1]);
				if (existing !== undefined) expect(r.value).toBe(existing[0]);
				handles.set(r.value, e[1]);
				break;
			}
			case 'closefd': {
				const e = nth(fds, op.j);
				if (e === undefined) break;
				expect(errnoOf((c as Client).process.close(e[0]))).toBe(0);
				fds.delete(e[0]);
				break;
			}
			case 'pass': {
				const e = nth(fds, op.j);
				const to = 1 - f;
				if (e === undefined || !model.open[to]) break;
				const r = (c as Client).process.transfer(e[0], (clients[to] as Client).process);
				if (!r.ok) throw new Error(r.error);
				model.fds[to]?.set(r.value, e[1]);
				break;
			}
			case 'map': {
				const e = nth(handles, op.i);
				if (e === undefined) break;
				const n = Math.min(op.n, Number(e[1].size / P), PAGES - op.page);
				const r = await (c as Client).vmBind([
					{ op: 0, handle: e[0], addr: BASE + BigInt(op.page) * P, range: BigInt(n) * P },
				]);
				expect(errnoOf(r)).toBe(0);
				for (let k = 0; k < n; k++) (model.pages[f] as (FakeBuffer | undefined)[])[op.page + k] = e[1];
				break;
			}
			case 'unmap': {
				const r = await (c as Client).vmBind([
					{ op: 1, addr: BASE + BigInt(op.page) * P, range: BigInt(op.n) * P },
				]);
				expect(errnoOf(r)).toBe(0);
				for (let k = op.page; k < Math.min(PAGES, op.page + op.n); k++)
					(model.pages[f] as (FakeBuffer | undefined)[])[k] = undefined;
				break;
			}
			case 'exec': {
				expect(errnoOf(await (c as Client).exec(channels[f] as number, []))).toBe(0);
				const refs = new Set<FakeBuffer>();
				for (const b of model.pages[f] as (FakeBuffer | undefined)[]) if (b !== undefined) refs.add(b);
				model.jobs.push(refs);
				break;
			}
			case 'drain':
				device.drain();
				model.jobs.length = 0;
				break;
			case 'mmap': {
				const e = nth(handles, op.i);
				if (e === undefined) break;
				const obj = (c as Client).file.lookupGem(e[0]);
				const m = (c as Client).file.mmap(obj?.mapOffset ?? 0n, P);
				if (!m.ok) throw new Error(m.error);
				model.mmaps.push({ m: m.value, b: e[1] });
				break;
			}
			case 'munmap': {
				const k = op.k % Math.max(1, model.mmaps.length);
				const e = model.mmaps[k];
				if (e === undefined) break;
				e.m.unmap();
				model.mmaps.splice(k, 1);
				break;
			}
			case 'closefile': {
				(c as Client).process.closeAll();
				model.open[f] = false;
				model.channelRefs[f] = undefined;
				handles.clear();
				fds.clear();
				(model.pages[f] as unknown[]).fill(undefined);
				// Its jobs were cancelled with the channel: they no longer hold references.
				model.jobs.length = 0;
				device.drain();
				break;
			}
		}
		await settle();
		for (const b of model.everything) {
			expect({ op: op.t, serial: b.serial, live: device.buffers.has(b) }).toEqual({
				op: op.t,
				serial: b.serial,
				live: model.alive(b),
			});
		}
	}
	// Tear everything down: every buffer freed exactly once (the fake device throws on a double free).
	for (const m of model.mmaps) m.m.unmap();
	for (const c of clients) c.process.closeAll();
	device.drain();
	await settle();
	expect(device.buffers.size).toBe(0);
	expect(device.freed).toBe(device.allocated);
	expect(fe.stats.gemFreed).toBe(fe.stats.gemCreated);
	expect(device.vaSpaces.size).toBe(0);
}

describe('GEM refcounting', () => {
	it('close before the job ends keeps the object alive until the fence signals', async () => {
		const { client, device } = setup();
		const ch = await gpuReady(client);
		const h = await client.gemNew(P);
		if (!h.ok) throw new Error(h.error);
		await client.vmBind([{ op: 0, handle: h.value, addr: BASE, range: P }]);
		await client.exec(ch, []);
		await client.vmBind([{ op: 1, addr: BASE, range: P }]);
		expect(errnoOf(await client.gemClose(h.value))).toBe(0);
		expect(device.freed).toBe(0);
		device.drain();
		expect(device.freed).toBe(1);
	});

	it('property: freed exactly once, exactly when the last reference goes', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
				await run(ops);
			}),
			{ numRuns: 150 },
		);
	});
});
