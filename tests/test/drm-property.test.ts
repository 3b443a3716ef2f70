/**
 * Property test of the gspkit-drm server on the REAL core device (gpu-sim, r570 synthetic firmware): random
 * sequences of uAPI calls from 2–3 socket clients — GEM, syncobjs, PRIME self-export/import, VM_INIT and
 * synchronous VM_BIND — each reply (value or errno) checked against a small reference model written here
 * from drm-uapi.md and the frontend README's errno table; clients also guess each other's handle and fd
 * numbers and must never reach a foreign object. After every run all clients disconnect and VRAM, DMA
 * bytes and live DMA allocations (page tables included) must be back at the baseline.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Device } from '@gspkit/core';
import { type DrmClient, openDrm } from '@gspkit/drm-client';
import { serveDevice } from '@gspkit/drm-driver';
import {
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
} from '@gspkit/drm-frontend';
import type { SimulatedGpu } from '@gspkit/gpu-sim';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSynthetic } from './core-kit.ts';

// ───────────────────────────── calls ─────────────────────────────

/** How a call names a handle or fd: one of the caller's own, one of another client's, or a raw number. */
type Pick = { readonly from: 'own' | 'other' | 'raw'; readonly i: number };

type Call =
	| {
			readonly k: 'gemNew';
			readonly c: number;
			readonly pages: number;
			readonly noShare: boolean;
			readonly zero: boolean;
	  }
	| { readonly k: 'gemClose' | 'gemInfo' | 'export' | 'syncDestroy'; readonly c: number; readonly h: Pick }
	| { readonly k: 'syncCreate'; readonly c: number; readonly signaled: boolean }
	| { readonly k: 'syncSignal' | 'syncReset' | 'syncQuery'; readonly c: number; readonly hs: readonly Pick[] }
	| { readonly k: 'syncWait'; readonly c: number; readonly hs: readonly Pick[]; readonly all: boolean }
	| { readonly k: 'import' | 'closeFd'; readonly c: number; readonly fd: Pick }
	| { readonly k: 'vmInit'; readonly c: number }
	| {
			readonly k: 'map';
			readonly c: number;
			readonly h: Pick;
			readonly slot: number;
			readonly n: number;
			readonly boPage: number;
	  }
	| { readonly k: 'unmap'; readonly c: number; readonly slot: number; readonly n: number };

const pick = fc.record({
	from: fc.constantFrom<'own' | 'other' | 'raw'>('own', 'own', 'own', 'own', 'own', 'other', 'other', 'raw'),
	i: fc.nat(7),
});
/** fd picks lean harder on the caller's own descriptors (few exist in a short sequence). */
const fdPick = fc.record({
	from: fc.constantFrom<'own' | 'other' | 'raw'>('own', 'own', 'own', 'own', 'own', 'own', 'other', 'raw'),
	i: fc.nat(7),
});
const client = fc.nat(2);
const callArb: fc.Arbitrary<Call> = fc.oneof(
	{
		weight: 9,
		arbitrary: fc.record({
			k: fc.constant('gemNew' as const),
			c: client,
			pages: fc.integer({ min: 1, max: 3 }),
			noShare: fc.nat(3).map((n) => n === 0),
			zero: fc.nat(9).map((n) => n === 0),
		}),
	},
	{
		weight: 8,
		arbitrary: fc.record({
			k: fc.constantFrom('gemClose' as const, 'gemInfo' as const, 'gemInfo' as const, 'syncDestroy' as const),
			c: client,
			h: pick,
		}),
	},
	{ weight: 6, arbitrary: fc.record({ k: fc.constant('export' as const), c: client, h: pick }) },
	{
		weight: 5,
		arbitrary: fc.record({ k: fc.constant('syncCreate' as const), c: client, signaled: fc.boolean() }),
	},
	{
		weight: 4,
		arbitrary: fc.record({
			k: fc.constantFrom('syncSignal' as const, 'syncReset' as const, 'syncQuery' as const),
			c: client,
			hs: fc.array(pick, { maxLength: 3 }),
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({
			k: fc.constant('syncWait' as const),
			c: client,
			hs: fc.array(pick, { minLength: 1, maxLength: 3 }),
			all: fc.boolean(),
		}),
	},
	{
		weight: 6,
		arbitrary: fc.record({
			k: fc.constantFrom('import' as const, 'closeFd' as const),
			c: client,
			fd: fdPick,
		}),
	},
	{ weight: 2, arbitrary: fc.record({ k: fc.constant('vmInit' as const), c: client }) },
	{
		weight: 4,
		arbitrary: fc.record({
			k: fc.constant('map' as const),
			c: client,
			h: pick,
			slot: fc.nat(5),
			n: fc.integer({ min: 1, max: 2 }),
			boPage: fc.nat(2),
		}),
	},
	{
		weight: 2,
		arbitrary: fc.record({
			k: fc.constant('unmap' as const),
			c: client,
			slot: fc.nat(5),
			n: fc.integer({ min: 1, max: 2 }),
		}),
	},
);

// ───────────────────────────── reference model ─────────────────────────────

/** Object granule and VA slot: 64 KiB, so VRAM large pages and 4 KiB pages both fit. */
const PAGE = 64n << 10n;
/** User VA for the mapping slots: above the kernel-managed [0, 4 GiB) (and core's widened window to 5 GiB). */
const VA_BASE = 8n << 30n;
const KERNEL_VA = 4n << 30n;
/** fd numbers no run ever opens (a raw fd guess lands here or on a live one). */
const NEVER_OPEN_FD = 900;

interface MObj {
	readonly size: bigint;
	readonly noShare: boolean;
	readonly owner: number;
	/** The device-wide fake mmap offset GEM_NEW reported: identifies the object in later GEM_INFO replies. */
	mapHandle: bigint;
}

interface MClient {
	readonly gem: Map<number, MObj>;
	/** Binary syncobjs: true when a (signalled stub) fence is installed. */
	readonly sync: Map<number, boolean>;
	/** dma-buf descriptors of this connection. */
	readonly fds: Map<number, MObj>;
	vm: 'none' | 'disabled' | 'on';
	/** Each VA slot's object (what a MAP installed) — for the final expectations only. */
	readonly slots: (MObj | undefined)[];
}

/** What a call must produce: a value or an errno. */
type Outcome = { readonly errno: string } | { readonly ok: true; readonly value?: unknown };

function newClient(): MClient {
	return { gem: new Map(), sync: new Map(), fds: new Map(), vm: 'none', slots: new Array(8).fill(undefined) };
}

/** idr policy: the lowest free handle ≥ 1. */
function lowestFree(m: Map<number, unknown>): number {
	let h = 1;
	while (m.has(h)) h++;
	return h;
}

/** The errno of a promise (0 when it resolves) and its value. */
async function run(p: Promise<unknown>): Promise<{ errno: string | 0; value?: unknown }> {
	try {
		return { errno: 0, value: await p };
	} catch (e) {
		return { errno: (e as { errno?: string }).errno ?? `not-an-errno: ${String(e)}` };
	}
}

/** The default fast-check seed (see the property's options). */
const SEED = 3;

// ───────────────────────────── the device ─────────────────────────────

let gpu: SimulatedGpu;
let device: Device;
let service: Awaited<ReturnType<typeof serveDevice>>;
let dir: string;
let socketPath: string;
const serverErrors: string[] = [];
let base: { vram: bigint; dmaBytes: number | bigint; dmaAllocs: number };

beforeAll(async () => {
	({ gpu, device } = await openSynthetic('ga102', '570'));
	dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-prop-'));
	socketPath = join(dir, 'drm.sock');
	base = { vram: device.vramUsed(), dmaBytes: gpu.dma.bytesInUse, dmaAllocs: gpu.dma.liveAllocations };
	service = await serveDevice(device, { socketPath, onError: (w, e) => serverErrors.push(`${w}: ${e}`) });
}, 60_000);

afterAll(async () => {
	await service?.close();
	if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
	await device?.close();
	await gpu?.close();
});

/** Totals over all runs, to show the property was not vacuous. */
const seen = new Map<string, number>();
function note(key: string): void {
	seen.set(key, (seen.get(key) ?? 0) + 1);
}

async function runSequence(nClients: number, calls: readonly Call[]): Promise<void> {
	const model = Array.from({ length: nClients }, newClient);
	const clients: DrmClient[] = [];
	try {
		for (let i = 0; i < nClients; i++) clients.push(await openDrm(socketPath));
		const drmFds = clients.map((c) => c.fd);

		/** Resolve a handle pick against the model now. */
		const handleOf = (c: number, p: Pick, table: (m: MClient) => Map<number, unknown>): number => {
			if (p.from === 'raw') return 1 + (p.i % 5);
			const pool =
				p.from === 'own'
					? [...table(model[c] as MClient).keys()]
					: model.flatMap((m, j) => (j === c ? [] : [...table(m).keys()]));
			return pool.length === 0 ? 1 + (p.i % 5) : (pool[p.i % pool.length] as number);
		};
		const fdOf = (c: number, p: Pick, forClose: boolean): number => {
			const own = [...(model[c] as MClient).fds.keys()];
			if (p.from === 'own' && own.length > 0) return own[p.i % own.length] as number;
			if (p.from === 'other') {
				const others = model.flatMap((m, j) => (j === c ? [] : [...m.fds.keys(), drmFds[j] as number]));
				const g = others.length === 0 ? NEVER_OPEN_FD : (others[p.i % others.length] as number);
				// Closing this client's own DRM file would end the client: close a never-open number instead.
				return forClose && g === drmFds[c] ? NEVER_OPEN_FD : g;
			}
			return forClose ? NEVER_OPEN_FD + p.i : p.i % 2 === 0 ? (drmFds[c] as number) : NEVER_OPEN_FD + p.i;
		};

		for (const [step, generated] of calls.entries()) {
			const call = { ...generated, c: generated.c % nClients };
			const m = model[call.c] as MClient;
			const cl = clients[call.c] as DrmClient;
			const where = `step ${step} client ${call.c} ${JSON.stringify(call)}`;
			let expected: Outcome;
			let got: { errno: string | 0; value?: unknown };
			/** A named handle/fd that is another client's and not the caller's: a guess that must fail. */
			let foreign = false;
			switch (call.k) {
				case 'gemNew': {
					const size = call.zero ? 0n : BigInt(call.pages) * PAGE;
					const domain = NOUVEAU_GEM_DOMAIN_VRAM | (call.noShare ? NOUVEAU_GEM_DOMAIN_NO_SHARE : 0);
					const vmBefore = m.vm;
					if (m.vm === 'none') m.vm = 'disabled'; // any GEM_NEW before VM_INIT rules VM_INIT out
					got = await run(cl.gemNew({ size, domain }));
					if (call.noShare && vmBefore !== 'on') expected = { errno: 'EINVAL' };
					else if (size === 0n) expected = { errno: 'EINVAL' };
					else {
						const h = lowestFree(m.gem);
						const obj: MObj = { size, noShare: call.noShare, owner: call.c, mapHandle: -1n };
						m.gem.set(h, obj);
						expected = { ok: true, value: h };
						const info = got.value as
							| { handle: number; size: bigint; map_handle: bigint; domain: number }
							| undefined;
						if (info !== undefined) {
							expect(info.size, where).toBe(size);
							expect(info.domain & NOUVEAU_GEM_DOMAIN_VRAM, where).not.toBe(0);
							// The fake offset is device-wide: no live handle of any client has it already.
							for (const mm of model)
								for (const o of mm.gem.values()) expect(o.mapHandle, where).not.toBe(info.map_handle);
							obj.mapHandle = info.map_handle;
							got = { errno: 0, value: info.handle };
						}
					}
					break;
				}
				case 'gemInfo':
				case 'gemClose': {
					const h = handleOf(call.c, call.h, (x) => x.gem);
					const obj = m.gem.get(h);
					foreign = obj === undefined && model.some((x) => x.gem.has(h));
					if (call.k === 'gemInfo') {
						got = await run(cl.gemInfo(h));
						expected =
							obj === undefined ? { errno: 'ENOENT' } : { ok: true, value: [obj.size, obj.mapHandle] };
						const info = got.value as { size: bigint; map_handle: bigint } | undefined;
						if (info !== undefined) got = { errno: 0, value: [info.size, info.map_handle] };
					} else {
						got = await run(cl.gemClose(h));
						expected = obj === undefined ? { errno: 'EINVAL' } : { ok: true };
						m.gem.delete(h);
					}
					break;
				}
				case 'export': {
					const h = handleOf(call.c, call.h, (x) => x.gem);
					const obj = m.gem.get(h);
					foreign = obj === undefined && model.some((x) => x.gem.has(h));
					got = await run(cl.primeHandleToFd(h));
					if (obj === undefined) expected = { errno: 'ENOENT' };
					else if (obj.noShare) expected = { errno: 'EPERM' };
					else {
						const fd = got.value as number | undefined;
						// A new descriptor of this connection, never one already open.
						if (fd !== undefined) {
							expect(m.fds.has(fd) || fd === drmFds[call.c], where).toBe(false);
							m.fds.set(fd, obj);
						}
						expected = { ok: true, value: fd };
					}
					break;
				}
				case 'import': {
					const fd = fdOf(call.c, call.fd, false);
					const obj = m.fds.get(fd);
					foreign = obj === undefined && model.some((x) => x.fds.has(fd));
					got = await run(cl.primeFdToHandle(fd));
					if (obj !== undefined) {
						// Self-import: the handle this file already has for the object, else the lowest free one.
						let h = [...m.gem.entries()].find(([, o]) => o === obj)?.[0];
						if (h === undefined) {
							h = lowestFree(m.gem);
							m.gem.set(h, obj);
						}
						expected = { ok: true, value: h };
					} else if (fd === drmFds[call.c])
						expected = { errno: 'EINVAL' }; // not a dma-buf
					else expected = { errno: 'EBADF' };
					break;
				}
				case 'closeFd': {
					const fd = fdOf(call.c, call.fd, true);
					foreign = !m.fds.has(fd) && model.some((x) => x.fds.has(fd));
					got = await run(cl.closeFd(fd));
					expected = m.fds.delete(fd) ? { ok: true } : { errno: 'EBADF' };
					break;
				}
				case 'syncCreate': {
					got = await run(cl.syncobjCreate({ signaled: call.signaled }));
					const h = lowestFree(m.sync);
					m.sync.set(h, call.signaled);
					expected = { ok: true, value: h };
					break;
				}
				case 'syncDestroy': {
					const h = handleOf(call.c, call.h, (x) => x.sync);
					foreign = !m.sync.has(h) && model.some((x) => x.sync.has(h));
					got = await run(cl.syncobjDestroy(h));
					expected = m.sync.delete(h) ? { ok: true } : { errno: 'EINVAL' };
					break;
				}
				case 'syncSignal':
				case 'syncReset':
				case 'syncQuery':
				case 'syncWait': {
					const hs = call.hs.map((p) => handleOf(call.c, p, (x) => x.sync));
					foreign = hs.some((h) => !m.sync.has(h) && model.some((x) => x.sync.has(h)));
					const unknown = hs.some((h) => !m.sync.has(h));
					if (call.k === 'syncWait') {
						const flags = call.all ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL : 0;
						got = await run(cl.syncobjWait(hs, { timeoutNs: 0n, flags }));
						// All fences here are signalled stubs: a wait with every fence present succeeds at index 0.
						if (unknown) expected = { errno: 'ENOENT' };
						else if (hs.some((h) => m.sync.get(h) !== true)) expected = { errno: 'EINVAL' };
						else expected = { ok: true, value: 0 };
						break;
					}
					const op = {
						syncSignal: 'syncobjSignal',
						syncReset: 'syncobjReset',
						syncQuery: 'syncobjQuery',
					} as const;
					got = await run(cl[op[call.k]](hs));
					if (hs.length === 0) expected = { errno: 'EINVAL' };
					else if (unknown) expected = { errno: 'ENOENT' };
					else {
						// Binary syncobjs: QUERY reports point 0 whether or not a fence is installed.
						expected = call.k === 'syncQuery' ? { ok: true, value: hs.map(() => 0n) } : { ok: true };
						if (call.k !== 'syncQuery') for (const h of hs) m.sync.set(h, call.k === 'syncSignal');
					}
					break;
				}
				case 'vmInit': {
					got = await run(cl.vmInit(0n, KERNEL_VA));
					if (m.vm === 'disabled') expected = { errno: 'ENOSYS' };
					else if (m.vm === 'on') expected = { errno: 'EEXIST' };
					else {
						m.vm = 'on';
						expected = { ok: true };
					}
					break;
				}
				case 'map': {
					const h = handleOf(call.c, call.h, (x) => x.gem);
					const obj = m.gem.get(h);
					foreign = obj === undefined && model.some((x) => x.gem.has(h));
					const boOffset = BigInt(call.boPage) * PAGE;
					const range = BigInt(call.n) * PAGE;
					const addr = VA_BASE + BigInt(call.slot) * PAGE;
					got = await run(
						cl.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: h, addr, boOffset, range }] }),
					);
					if (m.vm !== 'on') expected = { errno: 'ENOSYS' };
					else if (obj === undefined) expected = { errno: 'ENOENT' };
					else if (boOffset >= obj.size || range > obj.size - boOffset) expected = { errno: 'EINVAL' };
					else {
						for (let s = call.slot; s < call.slot + call.n; s++) m.slots[s] = obj;
						expected = { ok: true };
					}
					break;
				}
				case 'unmap': {
					const addr = VA_BASE + BigInt(call.slot) * PAGE;
					const range = BigInt(call.n) * PAGE;
					got = await run(cl.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_UNMAP, addr, range }] }));
					if (m.vm !== 'on') expected = { errno: 'ENOSYS' };
					else {
						// Unmapping a range with nothing (or only part of a mapping) in it is fine: it splits.
						for (let s = call.slot; s < call.slot + call.n; s++) m.slots[s] = undefined;
						expected = { ok: true };
					}
					break;
				}
			}
			const actual = got.errno === 0 ? { ok: true, value: got.value } : { errno: got.errno };
			const want = 'errno' in expected ? expected : { ok: true, value: expected.value };
			expect(actual, where).toEqual(want);
			// Isolation: naming another client's object never succeeds (the model says so; this states it).
			if (foreign) {
				note('foreign-guess');
				expect(got.errno, where).not.toBe(0);
			}
			note(`${call.k}:${got.errno === 0 ? 'ok' : got.errno}`);
		}
		// Everything still named by the model is still what it was (nothing was reached by another client).
		for (const [c, mm] of model.entries()) {
			for (const [h, obj] of mm.gem) {
				expect(obj.owner, `client ${c} handle ${h}`).toBe(c);
				const info = await (clients[c] as DrmClient).gemInfo(h);
				expect([info.size, info.map_handle]).toEqual([obj.size, obj.mapHandle]);
			}
		}
	} finally {
		for (const cl of clients) await cl.close();
	}
	for (let i = 0; i < 400 && service.server.stats.connections > 0; i++)
		await new Promise((r) => setTimeout(r, 5));
	expect(service.server.stats.connections).toBe(0);
	await service.drmDevice.settled();
	expect(service.server.frontend.stats.files).toBe(0);
	expect(device.stats.vaSpaces).toBe(0);
	expect(device.vramUsed()).toBe(base.vram);
	expect(gpu.dma.bytesInUse).toBe(base.dmaBytes);
	expect(gpu.dma.liveAllocations).toBe(base.dmaAllocs);
	expect(serverErrors).toEqual([]);
}

describe('gspkit-drm on core (GSP-RM 570.144): random multi-client uAPI sequences', () => {
	it('match the reference model, stay isolated and free every VRAM byte and page-table page', async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.integer({ min: 2, max: 3 }),
				// Most clients start with VM_INIT (any GEM_NEW first rules it out); the prefix counts toward ≤ 30.
				fc.array(fc.nat(3), { minLength: 3, maxLength: 3 }),
				fc.array(callArb, { minLength: 12, maxLength: 27 }),
				(n, vmFirst, calls) =>
					runSequence(n, [
						...vmFirst.flatMap((v, c) => (v === 0 ? [] : [{ k: 'vmInit' as const, c }])),
						...calls,
					]),
			),
			// A fixed seed keeps the coverage check below deterministic; GSPKIT_PROP_SEED explores other sequences.
			{ numRuns: 25, endOnFailure: true, seed: Number(process.env.GSPKIT_PROP_SEED ?? SEED) },
		);
		// Not vacuous: each kind of call succeeded somewhere, the main errnos and foreign guesses occurred.
		for (const key of [
			'gemNew:ok',
			'gemInfo:ok',
			'gemClose:ok',
			'export:ok',
			'import:ok',
			'closeFd:ok',
			'syncCreate:ok',
			'syncSignal:ok',
			'syncReset:ok',
			'syncQuery:ok',
			'syncWait:ok',
			'syncDestroy:ok',
			'vmInit:ok',
			'map:ok',
			'unmap:ok',
			'gemInfo:ENOENT',
			'gemClose:EINVAL',
			'export:EPERM',
			'import:EBADF',
			'syncWait:EINVAL',
			'vmInit:ENOSYS',
			'map:ENOSYS',
			'foreign-guess',
		])
			expect(seen.get(key) ?? 0, `${key} never happened: ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
	}, 120_000);
});
