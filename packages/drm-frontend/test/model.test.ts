/**
 * Random sequences of uAPI calls from three files in two processes, against a small reference model
 * written independently of the implementation (page-granular VA, list-based timelines, plain maps of
 * handles and descriptors). Every reply — errno or value — must match the model, handles are picked from
 * every file (so files constantly try to name each other's handles), and the fake page tables must show
 * exactly the mappings the model predicts.
 */

import {
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL as ALL,
	DRM_SYNCOBJ_CREATE_SIGNALED,
	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
	FdTable,
	FIRST_SIGNALED_NONE,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT as FOR_SUBMIT,
	type IoctlResult,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	type NouveauVmBindOp,
	DRM_NOUVEAU_VM_BIND_SPARSE as SPARSE,
} from '@gspkit/drm-frontend';
import type { Errno } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Client, setup } from './client.ts';
import type { FakeBuffer, FakeDrmDevice, FakeVaSpace } from './fake-device.ts';
import { sync } from './helpers/gpu.ts';

const P = 4096n;
const BASE = 1n << 40n;
const WINDOW = 12;
/** Ops start inside the window but may run up to 6 pages past it; the model tracks that much. */
const TRACKED = WINDOW + 8;

// ───────────────────────────── the reference model ─────────────────────────────

class MFence {
	signaled = false;
}

interface MObj {
	readonly id: number;
	readonly pages: number;
	readonly noShare: boolean;
	buffer?: FakeBuffer;
}

interface MSyncobj {
	base: MFence | null;
	points: { p: bigint; f: MFence }[];
}

interface MFile {
	readonly proc: number;
	readonly gem: Map<number, MObj>;
	readonly syncobjs: Map<number, MSyncobj>;
	vm: 'none' | 'disabled' | 'init';
	readonly channels: Set<number>;
	/** page index in the window → [object, page in object] */
	readonly pages: ([MObj, number] | undefined)[];
	regions: { start: number; n: number }[];
}

type MFd = { kind: 'drm' } | { kind: 'dmabuf'; obj: MObj } | { kind: 'syncobj'; so: MSyncobj };

class Model {
	readonly files: MFile[] = [0, 0, 1].map((proc) => ({
		proc,
		gem: new Map(),
		syncobjs: new Map(),
		vm: 'none' as const,
		channels: new Set<number>(),
		pages: Array(TRACKED).fill(undefined),
		regions: [],
	}));
	readonly procs: Map<number, MFd>[] = [
		new Map<number, MFd>([
			[3, { kind: 'drm' }],
			[4, { kind: 'drm' }],
		]),
		new Map<number, MFd>([[3, { kind: 'drm' }]]),
	];
	readonly channels = new Map<number, { file: number; jobs: MFence[]; killed: boolean }>();
	#ids = 0;

	newObj(pages: number, noShare: boolean): MObj {
		return { id: ++this.#ids, pages, noShare };
	}

	static lowest(used: Iterable<number>, from: number): number {
		const s = new Set(used);
		let i = from;
		while (s.has(i)) i++;
		return i;
	}

	/** The model of drm_syncobj_find_fence: undefined = missing / unsubmitted, else signalled or not. */
	static find(so: MSyncobj, point: bigint): boolean | undefined {
		const chainDone = (upto: number) =>
			(so.base === null || so.base.signaled) && so.points.slice(0, upto + 1).every((x) => x.f.signaled);
		if (point === 0n) {
			if (so.points.length > 0) return chainDone(so.points.length - 1);
			return so.base === null ? undefined : so.base.signaled;
		}
		const last = so.points.at(-1);
		if (last === undefined || last.p < point) return undefined;
		return chainDone(so.points.findIndex((x) => x.p >= point));
	}

	static query(so: MSyncobj, lastSubmitted: boolean): bigint {
		if (so.points.length === 0) return 0n;
		if (lastSubmitted) return (so.points.at(-1) as { p: bigint }).p;
		let q = 0n;
		const baseOk = so.base === null || so.base.signaled;
		for (let i = 0; i < so.points.length; i++) {
			if (baseOk && so.points.slice(0, i + 1).every((x) => x.f.signaled))
				q = (so.points[i] as { p: bigint }).p;
		}
		return q;
	}

	static replace(so: MSyncobj, f: MFence | null): void {
		so.base = f;
		so.points = [];
	}

	drain(): void {
		for (const ch of this.channels.values()) for (const f of ch.jobs.splice(0)) f.signaled = true;
	}
}

// ───────────────────────────── commands ─────────────────────────────

type Cmd =
	| { t: 'gemNew'; f: number; pages: number; noShare: boolean; tile: boolean }
	| { t: 'gemInfo'; f: number; h: number }
	| { t: 'gemClose'; f: number; h: number }
	| { t: 'export'; f: number; h: number }
	| { t: 'import'; f: number; fd: number }
	| { t: 'closeFd'; p: number; fd: number }
	| { t: 'soCreate'; f: number; signaled: boolean; bad: boolean }
	| { t: 'soDestroy'; f: number; h: number; pad: boolean }
	| { t: 'soSignal'; f: number; hs: number[]; reset: boolean }
	| { t: 'soWait'; f: number; hs: number[]; all: boolean; forSubmit: boolean }
	| { t: 'soToFd'; f: number; h: number }
	| { t: 'soFromFd'; f: number; fd: number }
	| { t: 'tlSignal'; f: number; h: number; step: number }
	| { t: 'query'; f: number; h: number; last: boolean }
	| { t: 'vmInit'; f: number }
	| { t: 'chAlloc'; f: number }
	| { t: 'chFree'; f: number; ch: number }
	| { t: 'bind'; f: number; ops: BindCmd[] }
	| { t: 'exec'; f: number; ch: number; wait: SyncCmd[]; sig: SyncCmd[] }
	| { t: 'drain' }
	| { t: 'kill'; ch: number };

interface BindCmd {
	readonly kind: 'map' | 'unmap' | 'mapSparse' | 'unmapSparse' | 'badAlign' | 'badOp';
	readonly h: number;
	readonly page: number;
	readonly n: number;
	readonly boPage: number;
}

interface SyncCmd {
	readonly type: number;
	readonly h: number;
	readonly step: number;
}

const fileA = fc.integer({ min: 0, max: 2 });
/** `true` one time in four. */
const rarely = fc.integer({ min: 0, max: 3 }).map((x) => x === 0);
const pick = fc.nat(40);
const syncArb: fc.Arbitrary<SyncCmd> = fc.record({
	type: fc.constantFrom(0, 0, 1, 1, 3),
	h: pick,
	step: fc.integer({ min: 0, max: 3 }),
});
const bindArb: fc.Arbitrary<BindCmd> = fc
	.record({
		kind: fc.oneof(
			{ weight: 8, arbitrary: fc.constant('map' as const) },
			{ weight: 4, arbitrary: fc.constant('unmap' as const) },
			{ weight: 2, arbitrary: fc.constant('mapSparse' as const) },
			{ weight: 2, arbitrary: fc.constant('unmapSparse' as const) },
			{ weight: 1, arbitrary: fc.constantFrom('badAlign' as const, 'badOp' as const) },
		),
		h: pick,
		page: fc.nat(WINDOW - 1),
		n: fc.integer({ min: 1, max: 6 }),
		boPage: fc.nat(1),
	})
	.map((b) => (b.kind === 'map' ? { ...b, n: 1 + (b.n % 3) } : b));
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
	{
		weight: 5,
		arbitrary: fc.record({
			t: fc.constant('gemNew'),
			f: fileA,
			pages: fc.integer({ min: 1, max: 4 }),
			noShare: rarely,
			tile: rarely,
		}),
	},
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('gemInfo'), f: fileA, h: pick }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('gemClose'), f: fileA, h: pick }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('export'), f: fileA, h: pick }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('import'), f: fileA, fd: pick }) },
	{
		weight: 1,
		arbitrary: fc.record({ t: fc.constant('closeFd'), p: fc.integer({ min: 0, max: 1 }), fd: pick }),
	},
	{
		weight: 4,
		arbitrary: fc.record({ t: fc.constant('soCreate'), f: fileA, signaled: fc.boolean(), bad: rarely }),
	},
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('soDestroy'), f: fileA, h: pick, pad: rarely }) },
	{
		weight: 2,
		arbitrary: fc.record({
			t: fc.constant('soSignal'),
			f: fileA,
			hs: fc.array(pick, { maxLength: 3 }),
			reset: fc.boolean(),
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({
			t: fc.constant('soWait'),
			f: fileA,
			hs: fc.array(pick, { maxLength: 3 }),
			all: fc.boolean(),
			forSubmit: fc.boolean(),
		}),
	},
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('soToFd'), f: fileA, h: pick }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('soFromFd'), f: fileA, fd: pick }) },
	{
		weight: 2,
		arbitrary: fc.record({
			t: fc.constant('tlSignal'),
			f: fileA,
			h: pick,
			step: fc.integer({ min: 1, max: 3 }),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('query'), f: fileA, h: pick, last: fc.boolean() }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('vmInit'), f: fileA }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('chAlloc'), f: fileA }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('chFree'), f: fileA, ch: fc.nat(6) }) },
	{
		weight: 5,
		arbitrary: fc.record({
			t: fc.constant('bind'),
			f: fileA,
			ops: fc.array(bindArb, { minLength: 1, maxLength: 3 }),
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({
			t: fc.constant('exec'),
			f: fileA,
			ch: fc.nat(6),
			wait: fc.array(syncArb, { maxLength: 2 }),
			sig: fc.array(syncArb, { maxLength: 2 }),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ t: fc.constant('drain') }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant('kill'), ch: fc.nat(6) }) },
);

// ───────────────────────────── running one sequence ─────────────────────────────

type Reply = { e: Errno } | { v: unknown };

const reply = <T>(r: IoctlResult<T>, value: (v: T) => unknown = () => 0): Reply =>
	r.ok ? { v: value(r.value) } : { e: r.error };

class Harness {
	readonly m = new Model();
	readonly device: FakeDrmDevice;
	readonly clients: Client[];
	readonly syncObjs = new Map<MSyncobj, object>();

	constructor() {
		const s = setup();
		this.device = s.device;
		// setup() opened one client in a fresh process; build the three files ourselves.
		s.client.process.closeAll();
		const procs = [new FdTable(), new FdTable()];
		this.clients = [0, 0, 1].map((p) => new Client(s.fe, procs[p]));
	}

	/**
	 * A handle number for file `f` to use: mostly one of its own handles (of `kind`), else one of any
	 * file's handles or a small/odd integer — so files keep naming each other's handles.
	 */
	handle(f: number, i: number, kind: 'gem' | 'syncobj'): number {
		const own = [
			...((kind === 'gem' ? this.m.files[f]?.gem : this.m.files[f]?.syncobjs) ?? new Map()).keys(),
		];
		if (i % 5 < 3 && own.length > 0) return own[i % own.length] as number;
		const all = [0, 1, 2, 3, 0x7fffffff];
		for (const mf of this.m.files) all.push(...(kind === 'gem' ? mf.gem.keys() : mf.syncobjs.keys()));
		return all[i % all.length] as number;
	}

	/** A descriptor for process `proc`: mostly one of the wanted kind, else anything (or a closed one). */
	fd(i: number, proc: number, kind: MFd['kind']): number {
		const fds = this.m.procs[proc] as Map<number, MFd>;
		const good = [...fds.entries()].filter(([, e]) => e.kind === kind).map(([fd]) => fd);
		if (i % 4 < 3 && good.length > 0) return good[i % good.length] as number;
		const all = [-1, 0, 9, ...fds.keys()];
		return all[i % all.length] as number;
	}

	channel(f: number, i: number): number {
		const own = [...(this.m.files[f]?.channels ?? [])];
		if (i % 4 < 3 && own.length > 0) return own[i % own.length] as number;
		const all = [...this.m.channels.keys(), 60];
		return all[i % all.length] as number;
	}

	async step(cmd: Cmd): Promise<{ got: Reply; want: Reply }> {
		const m = this.m;
		switch (cmd.t) {
			case 'gemNew': {
				const mf = m.files[cmd.f] as MFile;
				const c = this.clients[cmd.f] as Client;
				let want: Reply;
				if (mf.vm === 'none') mf.vm = 'disabled';
				if (cmd.noShare && mf.vm !== 'init') want = { e: 'EINVAL' };
				else if (cmd.tile) want = { e: 'EINVAL' };
				else {
					const h = Model.lowest(mf.gem.keys(), 1);
					mf.gem.set(h, m.newObj(cmd.pages, cmd.noShare));
					want = { v: [h, BigInt(cmd.pages) * P] };
				}
				const domain = NOUVEAU_GEM_DOMAIN_VRAM | (cmd.noShare ? NOUVEAU_GEM_DOMAIN_NO_SHARE : 0);
				const r = await c.gemNew(BigInt(cmd.pages) * P - 100n, domain, { tile_flags: cmd.tile ? 0x200 : 0 });
				const got: Reply = r.ok ? { v: [r.value, r.info.size] } : { e: r.error };
				if (r.ok) {
					const obj = mf.gem.get(r.value);
					if (obj !== undefined) obj.buffer = c.file.lookupGem(r.value)?.buffer as FakeBuffer;
				}
				return { got, want };
			}
			case 'gemInfo': {
				const h = this.handle(cmd.f, cmd.h, 'gem');
				const obj = m.files[cmd.f]?.gem.get(h);
				const r = await (this.clients[cmd.f] as Client).call('NOUVEAU_GEM_INFO', { handle: h });
				const got = reply(r, (v) => [
					v.size,
					(this.clients[cmd.f] as Client).file.lookupGem(h)?.buffer === obj?.buffer,
				]);
				return { got, want: obj === undefined ? { e: 'ENOENT' } : { v: [BigInt(obj.pages) * P, true] } };
			}
			case 'gemClose': {
				const h = this.handle(cmd.f, cmd.h, 'gem');
				const mf = m.files[cmd.f] as MFile;
				const want: Reply = mf.gem.delete(h) ? { v: 0 } : { e: 'EINVAL' };
				return { got: reply(await (this.clients[cmd.f] as Client).gemClose(h)), want };
			}
			case 'export': {
				const h = this.handle(cmd.f, cmd.h, 'gem');
				const mf = m.files[cmd.f] as MFile;
				const obj = mf.gem.get(h);
				const procFds = m.procs[mf.proc] as Map<number, MFd>;
				let want: Reply;
				if (obj === undefined) want = { e: 'ENOENT' };
				else if (obj.noShare) want = { e: 'EPERM' };
				else {
					const fd = Model.lowest(procFds.keys(), 3);
					procFds.set(fd, { kind: 'dmabuf', obj });
					want = { v: fd };
				}
				return { got: reply(await (this.clients[cmd.f] as Client).primeExport(h), (v) => v), want };
			}
			case 'import': {
				const mf = m.files[cmd.f] as MFile;
				const fd = this.fd(cmd.fd, mf.proc, 'dmabuf');
				const e = (m.procs[mf.proc] as Map<number, MFd>).get(fd);
				let want: Reply;
				if (e === undefined) want = { e: 'EBADF' };
				else if (e.kind !== 'dmabuf') want = { e: 'EINVAL' };
				else {
					const have = [...mf.gem.entries()].find(([, o]) => o === e.obj);
					if (have !== undefined) want = { v: have[0] };
					else {
						const h = Model.lowest(mf.gem.keys(), 1);
						mf.gem.set(h, e.obj);
						want = { v: h };
					}
				}
				return { got: reply(await (this.clients[cmd.f] as Client).primeImport(fd), (v) => v), want };
			}
			case 'closeFd': {
				const procFds = m.procs[cmd.p] as Map<number, MFd>;
				const fd = this.fd(cmd.fd, cmd.p, cmd.fd % 2 === 0 ? 'dmabuf' : 'syncobj');
				const e = procFds.get(fd);
				if (e?.kind === 'drm') return { got: { v: 'skip' }, want: { v: 'skip' } };
				const want: Reply = e === undefined ? { e: 'EBADF' } : { v: 0 };
				procFds.delete(fd);
				const proc = (this.clients[cmd.p === 0 ? 0 : 2] as Client).process;
				return { got: reply(proc.close(fd)), want };
			}
			case 'soCreate': {
				const mf = m.files[cmd.f] as MFile;
				let want: Reply;
				if (cmd.bad) want = { e: 'EINVAL' };
				else {
					const h = Model.lowest(mf.syncobjs.keys(), 1);
					const so: MSyncobj = { base: null, points: [] };
					if (cmd.signaled) {
						const f = new MFence();
						f.signaled = true;
						so.base = f;
					}
					mf.syncobjs.set(h, so);
					want = { v: h };
				}
				const flags = (cmd.signaled ? DRM_SYNCOBJ_CREATE_SIGNALED : 0) | (cmd.bad ? 4 : 0);
				return { got: reply(await (this.clients[cmd.f] as Client).syncobjCreate(flags), (v) => v), want };
			}
			case 'soDestroy': {
				const h = this.handle(cmd.f, cmd.h, 'syncobj');
				const mf = m.files[cmd.f] as MFile;
				const want: Reply = cmd.pad || !mf.syncobjs.has(h) ? { e: 'EINVAL' } : { v: 0 };
				if (!cmd.pad) mf.syncobjs.delete(h);
				return { got: reply(await (this.clients[cmd.f] as Client).syncobjDestroy(h, cmd.pad ? 1 : 0)), want };
			}
			case 'soSignal': {
				const hs = cmd.hs.map((i) => this.handle(cmd.f, i, 'syncobj'));
				const mf = m.files[cmd.f] as MFile;
				const objs = hs.map((h) => mf.syncobjs.get(h));
				let want: Reply;
				if (hs.length === 0) want = { e: 'EINVAL' };
				else if (objs.some((o) => o === undefined)) want = { e: 'ENOENT' };
				else {
					for (const o of objs as MSyncobj[]) {
						const f = cmd.reset ? null : new MFence();
						if (f !== null) f.signaled = true;
						Model.replace(o, f);
					}
					want = { v: 0 };
				}
				const c = this.clients[cmd.f] as Client;
				return { got: reply(cmd.reset ? await c.syncobjReset(hs) : await c.syncobjSignal(hs)), want };
			}
			case 'soWait': {
				const hs = cmd.hs.map((i) => this.handle(cmd.f, i, 'syncobj'));
				const mf = m.files[cmd.f] as MFile;
				const objs = hs.map((h) => mf.syncobjs.get(h));
				let want: Reply;
				if (hs.length === 0) want = { v: 0 };
				else if (objs.some((o) => o === undefined)) want = { e: 'ENOENT' };
				else {
					const st = (objs as MSyncobj[]).map((o) => Model.find(o, 0n));
					if (!cmd.forSubmit && st.some((s) => s === undefined)) want = { e: 'EINVAL' };
					else {
						const first = st.indexOf(true);
						const done = cmd.all ? st.every((s) => s === true) : first >= 0;
						want = done
							? { v: cmd.all ? (first >= 0 ? first : FIRST_SIGNALED_NONE) : first }
							: { e: 'ETIME' };
					}
				}
				const flags = (cmd.all ? ALL : 0) | (cmd.forSubmit ? FOR_SUBMIT : 0);
				const r = await (this.clients[cmd.f] as Client).syncobjWait(hs, 0n, flags);
				return { got: hs.length === 0 && r.ok ? { v: 0 } : reply(r, (v) => v), want };
			}
			case 'soToFd': {
				const h = this.handle(cmd.f, cmd.h, 'syncobj');
				const mf = m.files[cmd.f] as MFile;
				const so = mf.syncobjs.get(h);
				const procFds = m.procs[mf.proc] as Map<number, MFd>;
				let want: Reply;
				if (so === undefined) want = { e: 'EINVAL' };
				else {
					const fd = Model.lowest(procFds.keys(), 3);
					procFds.set(fd, { kind: 'syncobj', so });
					want = { v: fd };
				}
				return { got: reply(await (this.clients[cmd.f] as Client).syncobjToFd(h), (v) => v), want };
			}
			case 'soFromFd': {
				const mf = m.files[cmd.f] as MFile;
				const fd = this.fd(cmd.fd, mf.proc, 'syncobj');
				const e = (m.procs[mf.proc] as Map<number, MFd>).get(fd);
				let want: Reply;
				if (e?.kind !== 'syncobj') want = { e: 'EINVAL' };
				else {
					const h = Model.lowest(mf.syncobjs.keys(), 1);
					mf.syncobjs.set(h, e.so);
					want = { v: h };
				}
				return { got: reply(await (this.clients[cmd.f] as Client).syncobjFromFd(fd), (v) => v), want };
			}
			case 'tlSignal': {
				const h = this.handle(cmd.f, cmd.h, 'syncobj');
				const so = m.files[cmd.f]?.syncobjs.get(h);
				const point = (so?.points.at(-1)?.p ?? 0n) + BigInt(cmd.step);
				let want: Reply = { e: 'ENOENT' };
				if (so !== undefined) {
					const f = new MFence();
					f.signaled = true;
					so.points.push({ p: point, f });
					want = { v: 0 };
				}
				return { got: reply(await (this.clients[cmd.f] as Client).timelineSignal([h], [point])), want };
			}
			case 'query': {
				const h = this.handle(cmd.f, cmd.h, 'syncobj');
				const so = m.files[cmd.f]?.syncobjs.get(h);
				const want: Reply = so === undefined ? { e: 'ENOENT' } : { v: [Model.query(so, cmd.last)] };
				const flags = cmd.last ? DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED : 0;
				return { got: reply(await (this.clients[cmd.f] as Client).query([h], flags), (v) => v), want };
			}
			case 'vmInit': {
				const mf = m.files[cmd.f] as MFile;
				const want: Reply =
					mf.vm === 'disabled' ? { e: 'ENOSYS' } : mf.vm === 'init' ? { e: 'EEXIST' } : { v: 0 };
				if (mf.vm === 'none') mf.vm = 'init';
				return { got: reply(await (this.clients[cmd.f] as Client).vmInit(0n, 1n << 32n)), want };
			}
			case 'chAlloc': {
				const mf = m.files[cmd.f] as MFile;
				if (mf.vm === 'none') mf.vm = 'disabled';
				const id = Model.lowest(m.channels.keys(), 0);
				const ntfy = Model.lowest(mf.gem.keys(), 1);
				mf.gem.set(ntfy, m.newObj(1, false));
				m.channels.set(id, { file: cmd.f, jobs: [], killed: false });
				mf.channels.add(id);
				const r = await (this.clients[cmd.f] as Client).channelAlloc();
				if (r.ok) {
					const o = mf.gem.get(ntfy);
					if (o !== undefined)
						o.buffer = (this.clients[cmd.f] as Client).file.lookupGem(ntfy)?.buffer as FakeBuffer;
				}
				return {
					got: r.ok ? { v: [r.value, r.arg.notifier_handle] } : { e: r.error },
					want: { v: [id, ntfy] },
				};
			}
			case 'chFree': {
				const ch = this.channel(cmd.f, cmd.ch);
				const mf = m.files[cmd.f] as MFile;
				let want: Reply = { e: 'ENOENT' };
				if (mf.channels.has(ch)) {
					mf.channels.delete(ch);
					for (const f of m.channels.get(ch)?.jobs ?? []) f.signaled = true;
					m.channels.delete(ch);
					want = { v: 0 };
				}
				return {
					got: reply(await (this.clients[cmd.f] as Client).call('NOUVEAU_CHANNEL_FREE', { channel: ch })),
					want,
				};
			}
			case 'kill': {
				const ch = this.channel(cmd.ch % 3, cmd.ch);
				const mc = m.channels.get(ch);
				if (mc !== undefined) {
					mc.killed = true;
					for (const f of mc.jobs.splice(0)) f.signaled = true;
				}
				this.device.channels.get(ch)?.kill();
				return { got: { v: 0 }, want: { v: 0 } };
			}
			case 'drain': {
				m.drain();
				this.device.drain();
				return { got: { v: 0 }, want: { v: 0 } };
			}
			case 'bind':
				return this.bind(cmd.f, cmd.ops);
			case 'exec':
				return this.exec(cmd);
		}
	}

	async bind(f: number, cmds: readonly BindCmd[]): Promise<{ got: Reply; want: Reply }> {
		const mf = this.m.files[f] as MFile;
		const c = this.clients[f] as Client;
		const ops: Partial<NouveauVmBindOp>[] = cmds.map((b) => {
			const addr = BASE + BigInt(b.page) * P;
			const range = BigInt(b.n) * P;
			switch (b.kind) {
				case 'map':
					return { op: 0, handle: this.handle(f, b.h, 'gem'), addr, range, bo_offset: BigInt(b.boPage) * P };
				case 'unmap':
					return { op: 1, addr, range };
				case 'mapSparse':
					return { op: 0, flags: SPARSE, addr, range };
				case 'unmapSparse':
					return { op: 1, flags: SPARSE, addr, range };
				case 'badAlign':
					return { op: 1, addr: addr + 8n, range };
				default:
					return { op: 5, addr, range };
			}
		});
		const want = this.modelBind(mf, cmds, ops);
		const got = reply(await c.vmBind(ops));
		return { got, want };
	}

	modelBind(mf: MFile, cmds: readonly BindCmd[], ops: readonly Partial<NouveauVmBindOp>[]): Reply {
		if (mf.vm !== 'init') return { e: 'ENOSYS' };
		// 1. per-op checks
		for (const [i, b] of cmds.entries()) {
			if (b.kind === 'map') {
				const obj = mf.gem.get((ops[i] as NouveauVmBindOp).handle);
				if (obj === undefined) return { e: 'ENOENT' };
				if (b.boPage >= obj.pages || b.n > obj.pages - b.boPage) return { e: 'EINVAL' };
			}
			if (b.kind === 'badAlign') return { e: 'EINVAL' };
		}
		const end = (b: BindCmd) => b.page + b.n;
		const touches = (r: { start: number; n: number }, b: BindCmd) =>
			r.start < end(b) && b.page < r.start + r.n;
		// 2. region checks against the regions before the call
		for (const b of cmds) {
			if (b.kind !== 'map' && b.kind !== 'mapSparse') continue;
			const r = mf.regions.find((x) => touches(x, b));
			if (r === undefined) continue;
			if (b.kind === 'mapSparse') return { e: 'ENOSPC' };
			if (r.start > b.page || r.start + r.n < end(b)) return { e: 'ENOSPC' };
		}
		// 3. apply to copies
		const pages = mf.pages.slice();
		const regions = mf.regions.map((r) => ({ ...r, dirty: false }));
		for (const [i, b] of cmds.entries()) {
			const lo = b.page;
			const hi = end(b);
			switch (b.kind) {
				case 'mapSparse': {
					for (let p = lo; p < hi; p++) if (pages[p] !== undefined) return { e: 'ENOSPC' };
					if (regions.some((r) => touches(r, b))) return { e: 'EEXIST' };
					regions.push({ start: b.page, n: b.n, dirty: false });
					regions.sort((x, y) => x.start - y.start);
					break;
				}
				case 'unmapSparse': {
					const r = regions.find((x) => x.start === b.page && x.n === b.n);
					if (r === undefined || r.dirty) return { e: 'ENOENT' };
					for (let p = lo; p < hi; p++) pages[p] = undefined;
					r.dirty = true;
					break;
				}
				case 'map': {
					const r = regions.find((x) => touches(x, b));
					if (r !== undefined) {
						if (r.dirty) return { e: 'EINVAL' };
						if (r.start > b.page || r.start + r.n < end(b)) return { e: 'ENOSPC' };
					}
					const obj = mf.gem.get((ops[i] as NouveauVmBindOp).handle) as MObj;
					for (let p = lo; p < hi; p++) pages[p] = [obj, b.boPage + (p - lo)];
					break;
				}
				case 'unmap':
					for (let p = lo; p < hi; p++) pages[p] = undefined;
					break;
				default:
					return { e: 'EINVAL' };
			}
		}
		mf.pages.splice(0, TRACKED, ...pages);
		mf.regions = regions.filter((r) => !r.dirty).map(({ start, n }) => ({ start, n }));
		return { v: 0 };
	}

	async exec(cmd: Extract<Cmd, { t: 'exec' }>): Promise<{ got: Reply; want: Reply }> {
		const m = this.m;
		const mf = m.files[cmd.f] as MFile;
		const ch = this.channel(cmd.f, cmd.ch);
		// In-syncs pick an existing point (or just past the last one); out-syncs new, increasing points.
		const running = new Map<MSyncobj, bigint>();
		const toSync = (s: SyncCmd, out: boolean) => {
			const h = this.handle(cmd.f, s.h, 'syncobj');
			const so = mf.syncobjs.get(h);
			const last = so === undefined ? 0n : (running.get(so) ?? so.points.at(-1)?.p ?? 0n);
			let point = out ? last + BigInt(s.step + 1) : last === 0n ? BigInt(s.step) : last - BigInt(s.step) + 1n;
			if (point < 1n) point = 1n;
			if (out && so !== undefined && s.type === 1) running.set(so, point);
			if (out && so !== undefined && s.type === 0) running.set(so, 0n);
			return { type: s.type, h, so, point };
		};
		const waits = cmd.wait.map((s) => toSync(s, false));
		const sigs = cmd.sig.map((s) => toSync(s, true));
		let want: Reply | undefined;
		if (mf.vm !== 'init') want = { e: 'ENOSYS' };
		else if (!mf.channels.has(ch)) want = { e: 'ENOENT' };
		else if (m.channels.get(ch)?.killed) want = { e: 'ENODEV' };
		if (want === undefined) {
			for (const w of waits) {
				if (w.type !== 0 && w.type !== 1) want = { e: 'EOPNOTSUPP' };
				else if (w.so === undefined) want = { e: 'ENOENT' };
				else if (Model.find(w.so, w.type === 1 ? w.point : 0n) === undefined) want = { e: 'EINVAL' };
				if (want !== undefined) break;
			}
		}
		if (want === undefined) {
			for (const s of sigs) {
				if (s.type !== 0 && s.type !== 1) want = { e: 'EINVAL' };
				else if (s.so === undefined) want = { e: 'ENOENT' };
				if (want !== undefined) break;
			}
		}
		if (want === undefined) {
			const f = new MFence();
			m.channels.get(ch)?.jobs.push(f);
			for (const s of sigs) {
				if (s.type === 1) (s.so as MSyncobj).points.push({ p: s.point, f });
				else Model.replace(s.so as MSyncobj, f);
			}
			want = { v: 0 };
		}
		const enc = (x: { type: number; h: number; point: bigint }) => ({
			...sync(x.h, x.type === 1 ? x.point : undefined),
			flags: x.type,
		});
		const got = reply(
			await (this.clients[cmd.f] as Client).exec(ch, [], { wait: waits.map(enc), sig: sigs.map(enc) }),
		);
		return { got, want };
	}

	/** The fake page tables of each file's VM agree with the model's page map. */
	checkPageTables(): void {
		for (const [f, mf] of this.m.files.entries()) {
			if (mf.vm !== 'init') continue;
			const vs = (this.clients[f] as Client).file.uvmm?.vaSpace as FakeVaSpace;
			for (let p = 0; p < TRACKED; p++) {
				const pte = vs.pte(BASE + BigInt(p) * P);
				const want = mf.pages[p];
				const inRegion = mf.regions.some((r) => r.start <= p && p < r.start + r.n);
				const got =
					pte === undefined ? '-' : pte === 'sparse' ? 'S' : `${pte.buffer.serial}:${pte.offset / P}`;
				const exp = want === undefined ? (inRegion ? 'S' : '-') : `${want[0].buffer?.serial}:${want[1]}`;
				expect({ f, p, pte: got }).toEqual({ f, p, pte: exp });
			}
		}
	}
}

describe('random uAPI sequences against a reference model', () => {
	it("every reply matches; files never reach each other's handles; page tables match", async () => {
		const stats = new Map<string, number>();
		await fc.assert(
			fc.asyncProperty(fc.array(cmdArb, { minLength: 30, maxLength: 100 }), async (cmds) => {
				const h = new Harness();
				// Files 0 and 2 use VM_BIND with a channel; file 1 stays on the legacy path (ENOSYS for VM_BIND/EXEC).
				const prologue: Cmd[] = [
					{ t: 'vmInit', f: 0 },
					{ t: 'vmInit', f: 2 },
					{ t: 'chAlloc', f: 0 },
					{ t: 'chAlloc', f: 1 },
					{ t: 'chAlloc', f: 2 },
					{ t: 'gemNew', f: 0, pages: 4, noShare: false, tile: false },
					{ t: 'gemNew', f: 2, pages: 3, noShare: true, tile: false },
					{ t: 'soCreate', f: 0, signaled: false, bad: false },
					{ t: 'soCreate', f: 2, signaled: true, bad: false },
				];
				for (const [i, cmd] of [...prologue, ...cmds].entries()) {
					const { got, want } = await h.step(cmd);
					expect({ i, cmd: cmd.t, got }).toEqual({ i, cmd: cmd.t, got: want });
					const k = `${cmd.t}:${'e' in got ? got.e : 'ok'}`;
					stats.set(k, (stats.get(k) ?? 0) + 1);
				}
				h.checkPageTables();
				// After every file closes and the GPU drains, nothing is left.
				for (const c of h.clients) c.process.closeAll();
				h.device.drain();
				expect(h.device.buffers.size).toBe(0);
				expect(h.device.vaSpaces.size).toBe(0);
				expect(h.device.channels.size).toBe(0);
			}),
			{ numRuns: 250 },
		);
		// The run was not vacuous: every kind of call succeeded somewhere, and the interesting errors happened.
		for (const k of [
			'bind:ok',
			'exec:ok',
			'import:ok',
			'export:ok',
			'soFromFd:ok',
			'soWait:ok',
			'soWait:ETIME',
		]) {
			expect({ k, n: (stats.get(k) ?? 0) > 0 }).toEqual({ k, n: true });
		}
		for (const k of [
			'bind:ENOSPC',
			'bind:ENOENT',
			'exec:EOPNOTSUPP',
			'exec:ENODEV',
			'export:EPERM',
			'import:EBADF',
		]) {
			expect({ k, n: (stats.get(k) ?? 0) > 0 }).toEqual({ k, n: true });
		}
	});
});
