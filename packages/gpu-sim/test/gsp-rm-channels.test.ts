/**
 * GSP-RM ↔ host engine: a channel RM allocates runs on the simulated host engine with the token RM hands out,
 * engine errors come back as RC_TRIGGERED, and a freed channel's doorbell is ignored. The driver side is the
 * spec-written test driver (gsp-rm-testkit.ts); page tables come from mmu-testkit.ts; pushbuffer encoders from
 * engine-kit.ts. Runs with the GSP in the driver's thread ('clock') and in a worker thread ('worker').
 */

import type { DmaBuffer, VirtualClock } from '@gspkit/hal';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedGpu, PCI, type SimulatedGpu, type TableAperture } from '../src/index.ts';
import { ceCopy, gpEntry, sem, semOp, u32 } from './engine-kit.ts';
import {
	cls,
	dec,
	enc,
	ev,
	fn,
	type Msg,
	type Rig,
	TestDriver,
	VERSIONS,
	type Version,
} from './gsp-rm-testkit.ts';
import { FakeMemory, TestPageTables } from './mmu-testkit.ts';

const CTRL = {
	COPY_SERVER_RESERVED_PDES: 0x90f1_0106,
	GPFIFO_SCHEDULE: 0xa06f_0103,
	BIND: 0xa06f_0104,
	WORK_SUBMIT_TOKEN: 0xc36f_0108,
};
/** NV2080_ENGINE_TYPE_COPY2 (both branches). */
const COPY2 = 11;
/** Ampere usermode doorbell: NV_VIRTUAL_FUNCTION 0xB80000 + 0x30090 (reference C.4). */
const DOORBELL = 0xbb_0090;
const H = { vaspace: 0x90f1_0000, channel: 0xf1f0_0005, copy: 0xc7b5_0005 };

/** Page tables written into the simulated GPU's VRAM. */
class VramTables extends FakeMemory {
	constructor(readonly gpu: SimulatedGpu) {
		super();
	}
	override write64(aperture: TableAperture, pa: bigint, value: bigint): void {
		if (aperture !== 'video') throw new Error('tables live in VRAM here');
		const b = new Uint8Array(8);
		new DataView(b.buffer).setBigUint64(0, value, true);
		this.gpu.fb.write(pa, b);
	}
}

interface World {
	readonly gpu: SimulatedGpu;
	readonly d: TestDriver;
	readonly pt: TestPageTables;
	readonly hClient: number;
	readonly hDevice: number;
	/** Let the host engine run what was submitted. */
	settle(): void;
	/** A page-aligned DMA buffer mapped at a fresh VA. */
	sysMapped(size: number): { buf: DmaBuffer; va: bigint };
	/** VRAM mapped at a fresh VA. */
	vramMapped(size: number): { pa: bigint; va: bigint };
}

const open: SimulatedGpu[] = [];
afterEach(async () => {
	for (const g of open.splice(0)) await g.close();
});

async function world(version: Version, mode: 'clock' | 'worker'): Promise<World> {
	const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 64 << 20, gspRmMode: mode });
	open.push(gpu);
	gpu.config.write16(
		PCI.COMMAND,
		gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_MEMORY | PCI.COMMAND_BUS_MASTER,
	);
	const rig: Rig = {
		chip: gpu.chip,
		pool: gpu.dma,
		regs: gpu.registers,
		irq: gpu.interrupt('gsp'),
		clock: gpu.clock,
		gsp: gpu.gspRm,
		unloads: { count: 0 },
		vramSize: gpu.vramSize,
	};
	const d = new TestDriver(rig, version);
	await d.boot();
	const { hClient, hDevice } = await d.basicTree();
	const pt = new TestPageTables(gpu.mmu.format, new VramTables(gpu), 'video', 0x10_0000n);
	let vaNext = 0x40_0000_0000n;
	let vramNext = 0x1000_0000n;
	const freshVa = (size: number) => {
		const va = vaNext;
		vaNext += ((BigInt(size) + 0xfffn) & ~0xfffn) + 0x1000n;
		return va;
	};
	return {
		gpu,
		d,
		pt,
		hClient,
		hDevice,
		settle: () => {
			(gpu.clock as VirtualClock).advance(0n);
			gpu.host.runUntilIdle();
		},
		sysMapped: (size) => {
			const buf = gpu.dma.alloc(Math.ceil(size / 4096) * 4096, { align: 4096, label: 'test' });
			const va = freshVa(buf.size);
			for (let off = 0n; off < BigInt(buf.size); off += 0x1000n)
				pt.map(va + off, 12, { aperture: 'sys-coherent', pa: buf.busAddress + off });
			return { buf, va };
		},
		vramMapped: (size) => {
			const pa = vramNext;
			vramNext += BigInt(Math.ceil(size / 4096) * 4096);
			const va = freshVa(size);
			for (let off = 0n; off < BigInt(size); off += 0x1000n)
				pt.map(va + off, 12, { aperture: 'video', pa: pa + off });
			return { pa, va };
		},
	};
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Send an RPC and wait for its reply WITHOUT yielding to the event loop (the thread sleeps in Atomics.wait):
 * with the GSP in a worker, anything the worker posted to this thread meanwhile is still undelivered when this
 * returns — exactly the window in which a driver could ring a doorbell for a channel it was just told about.
 */
async function callSync(d: TestDriver, fnId: number, payload: Uint8Array): Promise<Msg> {
	const sequence = await d.send(fnId, payload); // resolves through microtasks only
	for (let i = 0; i < 200_000; i++) {
		const m = d.readMessage();
		if (m !== undefined) {
			if (m.function === fnId && m.sequence === sequence) return m;
			d.events.push(m);
			continue;
		}
		Atomics.wait(sleeper, 0, 0, 0.05);
	}
	throw new Error('no reply');
}

/** RM_CONTROL / RM_ALLOC / FREE through {@link callSync} (payload layouts as in gsp-rm-testkit). */
const sync = {
	async control(d: TestDriver, hClient: number, hObject: number, cmd: number, params: Uint8Array) {
		const p = new Uint8Array(24 + params.length);
		const dv = new DataView(p.buffer);
		for (const [i, v] of [hClient, hObject, cmd, 0xffff_ffff, params.length, 0].entries())
			dv.setUint32(4 * i, v, true);
		p.set(params, 24);
		const r = await callSync(d, fn(d.version, 'GSP_RM_CONTROL'), p);
		return { status: u32(r.payload, 12), params: r.payload.slice(24) };
	},
	async alloc(
		d: TestDriver,
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params: Uint8Array,
	) {
		const p = new Uint8Array(32 + params.length);
		const dv = new DataView(p.buffer);
		for (const [i, v] of [hClient, hParent, hObject, hClass, 0xffff_ffff, params.length, 0].entries())
			dv.setUint32(4 * i, v, true);
		p.set(params, 32);
		const r = await callSync(d, fn(d.version, 'GSP_RM_ALLOC'), p);
		return { status: u32(r.payload, 16) };
	},
	async free(d: TestDriver, hClient: number, hParent: number, hObject: number) {
		const p = enc(d.version, 'rpc_free_v03_00', {
			params: { hRoot: hClient, hObjectParent: hParent, hObjectOld: hObject, status: 0xffff_ffff },
		});
		const r = await callSync(d, fn(d.version, 'FREE'), p);
		return (dec(d.version, 'rpc_free_v03_00', r.payload).params as Record<string, number>).status!;
	},
};

/** FERMI_VASPACE_A; with `promote`, COPY_SERVER_RESERVED_PDES hands RM the root directory (nouveau's flow). */
async function vaSpace(w: World, promote: boolean): Promise<void> {
	const v = w.d.version;
	const a = await w.d.rmAlloc(
		w.hClient,
		w.hDevice,
		H.vaspace,
		cls(v, 'FERMI_VASPACE_A'),
		enc(v, 'NV_VASPACE_ALLOCATION_PARAMETERS'),
	);
	expect(a.status).toBe(0);
	if (!promote) return;
	const p = enc(v, 'NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS', {
		pageSize: 0x2000_0000n,
		virtAddrLo: 0x1_0000_0000n,
		virtAddrHi: 0x1_1fff_ffffn,
		numLevelsToCopy: 1,
		// PDE3 (root): 4 entries × 8 bytes, each covering 2^47; GMMU_APERTURE_VIDEO = 1.
		levels: [{ physAddress: w.pt.root.address, size: 0x20n, aperture: 1, pageShift: 47 }, {}, {}, {}, {}, {}],
	});
	expect((await w.d.rmControl(w.hClient, H.vaspace, CTRL.COPY_SERVER_RESERVED_PDES, p)).status).toBe(0);
}

interface Chan {
	readonly chid: number;
	readonly inst: bigint;
	readonly userd: DmaBuffer;
	readonly ring: { buf: DmaBuffer; va: bigint };
	readonly push: { buf: DmaBuffer; va: bigint };
	put: number;
	pushAt: number;
}

/** RM_ALLOC an AMPERE_CHANNEL_GPFIFO_A on COPY2 with CHID `chid` (nouveau's USERD_INDEX flags). */
async function allocChannel(w: World, chid: number): Promise<Chan & { status: number }> {
	const v = w.d.version;
	const inst = 0x0800_0000n + BigInt(chid) * 0x1000n;
	const userd = w.gpu.dma.alloc(4096, { align: 4096, label: 'userd' });
	const mthd = w.gpu.dma.alloc(0x5000, { align: 4096, label: 'mthdbuf' });
	const ring = w.sysMapped(64 * 8);
	const push = w.sysMapped(64 * 1024);
	// USERD_INDEX_FIXED (11) | USERD_INDEX_PAGE_FIXED (21) | index 10:8 | page 20:12; not privileged (bit 5).
	const flags = (1 << 11) | (1 << 21) | ((chid % 8) << 8) | (Math.floor(chid / 8) << 12);
	const p = enc(v, 'NV_CHANNEL_ALLOC_PARAMS', {
		gpFifoOffset: ring.va,
		gpFifoEntries: 64,
		flags,
		hVASpace: H.vaspace,
		engineType: COPY2,
		instanceMem: { base: inst, size: 0x1000n, addressSpace: 2, cacheAttrib: 0 },
		userdMem: { base: userd.busAddress, size: 0x200n, addressSpace: 1, cacheAttrib: 1 },
		ramfcMem: { base: inst, size: 0x200n, addressSpace: 2, cacheAttrib: 0 },
		mthdbufMem: { base: mthd.busAddress, size: 0x5000n, addressSpace: 1, cacheAttrib: 0 },
	});
	const r = await w.d.rmAlloc(w.hClient, w.hDevice, H.channel + chid, cls(v, 'AMPERE_CHANNEL_GPFIFO_A'), p);
	return { status: r.status, chid, inst, userd, ring, push, put: 0, pushAt: 0 };
}

/**
 * BIND + GPFIFO_SCHEDULE(1) + GET_WORK_SUBMIT_TOKEN + the copy object, as channel-sched does; with `inFlight`,
 * without yielding to the event loop (see {@link callSync}).
 */
async function startChannel(w: World, ch: Chan, inFlight = false): Promise<number> {
	const v = w.d.version;
	const h = H.channel + ch.chid;
	const ctl = async (cmd: number, params: Uint8Array) => {
		const r = inFlight
			? await sync.control(w.d, w.hClient, h, cmd, params)
			: await w.d.rmControl(w.hClient, h, cmd, params);
		expect(r.status).toBe(0);
		return r.params;
	};
	await ctl(CTRL.BIND, enc(v, 'NVA06F_CTRL_BIND_PARAMS', { engineType: COPY2 }));
	await ctl(CTRL.GPFIFO_SCHEDULE, enc(v, 'NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS', { bEnable: 1 }));
	const token = u32(await ctl(CTRL.WORK_SUBMIT_TOKEN, new Uint8Array(4)));
	const copyParams = enc(v, 'NVC0B5_ALLOCATION_PARAMETERS', { version: 1, engineType: COPY2 });
	const hCopyClass = cls(v, 'AMPERE_DMA_COPY_B');
	const c = inFlight
		? await sync.alloc(w.d, w.hClient, h, H.copy + ch.chid, hCopyClass, copyParams)
		: await w.d.rmAlloc(w.hClient, h, H.copy + ch.chid, hCopyClass, copyParams);
	expect(c.status).toBe(0);
	return token;
}

/** Write `words` as one pushbuffer segment, its GP entry, GP_PUT in USERD (0x8c), then ring `token`. */
function submit(w: World, ch: Chan, words: readonly number[], token: number): void {
	const at = ch.pushAt;
	for (const [i, x] of words.entries()) ch.push.buf.view.setUint32(at + 4 * i, x >>> 0, true);
	ch.pushAt += words.length * 4;
	const [e0, e1] = gpEntry(ch.push.va + BigInt(at), words.length);
	ch.ring.buf.view.setUint32(ch.put * 8, e0, true);
	ch.ring.buf.view.setUint32(ch.put * 8 + 4, e1, true);
	ch.put = (ch.put + 1) % 64;
	ch.userd.view.setUint32(0x8c, ch.put, true);
	w.gpu.bar0.write32(DOORBELL, token);
}

function pattern(n: number, seed: number): Uint8Array {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
	return b;
}

async function happyPath(version: Version, mode: 'clock' | 'worker'): Promise<void> {
	const w = await world(version, mode);
	await vaSpace(w, true);
	const ch = await allocChannel(w, 5);
	expect(ch.status).toBe(0);
	// The reply is visible: the registration is applied (in worker mode, syncChannels takes what is in flight).
	w.gpu.gspRm.syncChannels();
	const runlists = w.gpu.host.channels.filter((c) => c.chid === 5).map((c) => c.runlistId);
	expect(runlists).toHaveLength(1);
	const runlist = runlists[0]!;
	expect(w.gpu.host.channel(5, runlist)).toMatchObject({ class: 0xc56f, enabled: false, status: 'idle' });

	const inFlight = mode === 'worker';
	const token = await startChannel(w, ch, inFlight);
	if (inFlight) {
		// The worker's enable and copy-class changes have not been delivered to this thread yet …
		expect(w.gpu.host.channel(5, runlist)?.enabled).toBe(false);
	}
	// C.4: CHID 11:0 | RUNLIST_ID 22:16, and the runlist is the one RM registered the channel on.
	expect(token).toBe(((runlist << 16) | 5) >>> 0);
	expect(runlist).not.toBe(0); // a copy engine's runlist, not GR's

	const src = w.vramMapped(8192);
	const dst = w.sysMapped(8192);
	const semBuf = w.sysMapped(4096);
	const data = pattern(8192, 3);
	w.gpu.fb.write(src.pa, data);
	// No SET_OBJECT: subchannel 4 reaches the copy class RM bound when the copy object was allocated.
	submit(w, ch, [...ceCopy(src.va, dst.va, 8192), ...semOp(semBuf.va, 0x1234_5678n, sem.RELEASE)], token);
	// … but the doorbell applied them first (host engine → syncChannels), so the job runs.
	expect(w.gpu.host.channel(5, runlist)?.enabled).toBe(true);
	w.settle();
	expect(Buffer.from(dst.buf.bytes.subarray(0, 8192)).equals(Buffer.from(data))).toBe(true);
	expect(semBuf.buf.view.getUint32(0, true)).toBe(0x1234_5678);
	expect(ch.userd.view.getUint32(0x88, true)).toBe(1); // GP_GET
	expect(w.gpu.host.channel(5, runlist)?.status).not.toBe('error');

	// A token naming another runlist does not reach the channel.
	const before = w.gpu.host.stats.ignoredDoorbells;
	w.gpu.bar0.write32(DOORBELL, (((runlist + 1) << 16) | 5) >>> 0);
	expect(w.gpu.host.stats.ignoredDoorbells).toBe(before + 1);
}

describe('RM channels on the host engine', () => {
	for (const version of VERSIONS) {
		it(`${version} clock: alloc → bind → schedule → token; copy + semaphore run with RM's PDB`, async () => {
			await happyPath(version, 'clock');
		});
	}
	for (const version of VERSIONS) {
		it(`${version} worker: the same with GSP-RM in a worker thread`, { timeout: 30_000 }, async () => {
			await happyPath(version, 'worker');
		});
	}

	it('without RM-known root directory the host decodes PAGE_DIR_BASE from the instance block', async () => {
		const w = await world('570.144', 'clock');
		await vaSpace(w, false);
		const ch = await allocChannel(w, 9);
		expect(ch.status).toBe(0);
		// Reference B.5: TARGET 1:0 = 0 (VID), USE_VER2_PT_FORMAT 10, BIG_PAGE_SIZE 11 (64 KiB), PDB 31:12; HI at 0x204.
		const word = new Uint8Array(8);
		const root = w.pt.root.address;
		new DataView(word.buffer).setUint32(0, (Number(root & 0xffff_f000n) | (1 << 10) | (1 << 11)) >>> 0, true);
		new DataView(word.buffer).setUint32(4, Number(root >> 32n), true);
		w.gpu.fb.write(ch.inst + 0x200n, word);
		const token = await startChannel(w, ch);
		const semBuf = w.sysMapped(4096);
		submit(w, ch, semOp(semBuf.va, 77n, sem.RELEASE), token);
		w.settle();
		expect(semBuf.buf.view.getUint32(0, true)).toBe(77);
	});

	it('refuses channel memory the host cannot use (misaligned instance block, unknown address space)', async () => {
		const w = await world('535.113.01', 'clock');
		await vaSpace(w, true);
		const v = w.d.version;
		const base = {
			gpFifoOffset: 0x40_0000_0000n,
			gpFifoEntries: 64,
			hVASpace: H.vaspace,
			engineType: COPY2,
			userdMem: { base: 0x2000n, size: 0x200n, addressSpace: 2, cacheAttrib: 0 },
			ramfcMem: { base: 0x1000n, size: 0x200n, addressSpace: 2, cacheAttrib: 0 },
			mthdbufMem: { base: 0x3000n, size: 0x1000n, addressSpace: 1, cacheAttrib: 0 },
		};
		const bad = [
			{ ...base, instanceMem: { base: 0x1200n, size: 0x1000n, addressSpace: 2, cacheAttrib: 0 } },
			{ ...base, instanceMem: { base: 0x1000n, size: 0x1000n, addressSpace: 3, cacheAttrib: 0 } },
			{
				...base,
				instanceMem: { base: 0x1000n, size: 0x1000n, addressSpace: 2, cacheAttrib: 0 },
				gpFifoOffset: (1n << 40n) - 256n,
			},
		];
		for (const [i, p] of bad.entries()) {
			const r = await w.d.rmAlloc(
				w.hClient,
				w.hDevice,
				0xf1f0_0100 + i,
				cls(v, 'AMPERE_CHANNEL_GPFIFO_A'),
				enc(v, 'NV_CHANNEL_ALLOC_PARAMS', p),
			);
			expect(r.status).toBe(0x1f); // NV_ERR_INVALID_ARGUMENT
		}
		expect(w.gpu.host.channels).toHaveLength(0);
	});
});

describe('engine errors become RC_TRIGGERED; FREE retires the token', () => {
	const cases: [Version, 'clock' | 'worker'][] = [
		['535.113.01', 'clock'],
		['570.144', 'clock'],
		['570.144', 'worker'],
	];
	for (const [version, mode] of cases) {
		it(`${version} ${mode}: an MMU fault in a job → MMU_FAULT_QUEUED + RC_TRIGGERED naming the channel`, {
			timeout: 30_000,
		}, async () => {
			const w = await world(version, mode);
			await vaSpace(w, true);
			const ch = await allocChannel(w, 6);
			const token = await startChannel(w, ch);
			const dst = w.sysMapped(4096);
			const unmapped = 0x7f_0000_0000n;
			submit(w, ch, ceCopy(unmapped + 0x40n, dst.va, 256), token);
			w.settle();
			const runlist = token >>> 16;
			expect(w.gpu.host.channel(6, runlist)?.status).toBe('error');

			const rc = await w.d.waitFor((m) => m.function === ev(version, 'RC_TRIGGERED'));
			expect(rc.payload.length).toBe(version === '535.113.01' ? 20 : 48);
			const f = dec(version, 'rpc_rc_triggered_v17_02', rc.payload);
			expect(f.chid).toBe(6);
			expect(f.nv2080EngineType).toBe(COPY2);
			expect(f.exceptType).toBe(31); // ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT
			if (version === '570.144') {
				expect(f.mmuFaultAddrHi).toBe(0x7f);
				expect(f.mmuFaultAddrLo).toBe(0x40);
				expect(f.exceptLevel).toBe(2);
			}
			// MMU_FAULT_QUEUED was sent first.
			const ids = w.d.events.map((m) => m.function);
			expect(ids).toContain(ev(version, 'MMU_FAULT_QUEUED'));

			// Free: right after the reply (without yielding: in worker mode the unregistration is still in
			// flight), the doorbell with the old token is ignored.
			const freed =
				mode === 'worker'
					? await sync.free(w.d, w.hClient, w.hDevice, H.channel + 6)
					: await w.d.rmFree(w.hClient, w.hDevice, H.channel + 6);
			expect(freed).toBe(0);
			if (mode === 'worker') expect(w.gpu.host.channel(6, runlist)).toBeDefined();
			const before = w.gpu.host.stats.ignoredDoorbells;
			w.gpu.bar0.write32(DOORBELL, token);
			expect(w.gpu.host.stats.ignoredDoorbells).toBe(before + 1);
			expect(w.gpu.host.stats.lastIgnored?.reason).toBe('unknown-channel');
			expect(w.gpu.host.channel(6, runlist)).toBeUndefined();
		});
	}

	it('a copy-engine launch error is the CE’s own Xid (CE2 → 41), a bad pushbuffer entry a PBDMA error (32)', async () => {
		const w = await world('535.113.01', 'clock');
		await vaSpace(w, true);
		const a = await allocChannel(w, 2);
		const ta = await startChannel(w, a);
		const b = await allocChannel(w, 3);
		const tb = await startChannel(w, b);
		const buf = w.sysMapped(4096);
		// LAUNCH_DMA with a block-linear source (SRC_MEMORY_LAYOUT 7 = 0): the model refuses it (ce-launch).
		submit(
			w,
			a,
			ceCopy(buf.va, buf.va + 0x800n, 64, 0).map((x, i, arr) => (i === arr.length - 1 ? x & ~(1 << 7) : x)),
			ta,
		);
		// SEC_OP 2 is not a valid pushbuffer instruction (pbentry).
		submit(w, b, [(2 << 29) >>> 0], tb);
		w.settle();
		const seen = new Map<number, number>();
		for (let i = 0; i < 2; i++) {
			const rc = await w.d.waitFor((m) => m.function === ev('535.113.01', 'RC_TRIGGERED'));
			const f = dec('535.113.01', 'rpc_rc_triggered_v17_02', rc.payload);
			seen.set(f.chid as number, f.exceptType as number);
		}
		expect(seen.get(2)).toBe(41);
		expect(seen.get(3)).toBe(32);
	});
});
