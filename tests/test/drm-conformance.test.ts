/**
 * DRM uAPI conformance through the socket: IGT-named cases (drm-uapi.md §1.9) that the frontend supports,
 * run by @gspkit/drm-client against the gspkit-drm server on two devices: the frontend's in-memory fake
 * (a fresh one per case; jobs complete only when the test drains them) and the REAL core device (gpu-sim,
 * synthetic GSP-RM r570 firmware, virtual clock; booted once per block, a fresh client per case, and every
 * case must leave no VRAM, DMA memory, VA space or channel behind). Where a case needs a fake-only control
 * (holding jobs back, completing them out of order) the fake checks the intermediate states and core the
 * end state; timeouts run on the device's virtual clock (`advance`). EXEC cases push real copy-engine
 * methods so that they do real work on core. basic-with_fd_dup uses the protocol's DUP frame.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrmClient, openDrm } from '@gspkit/drm-client';
import { serveDevice } from '@gspkit/drm-driver';
import type { DrmServer, DrmServerEvent } from '@gspkit/drm-driver/server';
import {
	DRM_NOUVEAU_SYNC_TYPE_MASK,
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	DRM_NOUVEAU_VM_BIND_RUN_ASYNC,
	DRM_NOUVEAU_VM_BIND_SPARSE,
	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_EXEC_PUSH_MAX,
	NOUVEAU_GETPARAM_PCI_DEVICE,
} from '@gspkit/drm-frontend';
import { VirtualClock } from '@gspkit/hal';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSynthetic, patternBytes } from './core-kit.ts';
import { type FakeDrmDevice, startServer } from './drm-kit.ts';

/** A served device as the cases see it. */
interface Kit {
	readonly socketPath: string;
	readonly server: DrmServer;
	/** The fake device (undefined on core): its controls are fake-only. */
	readonly fake: FakeDrmDevice | undefined;
	/** Run submitted jobs: the fake completes them only when drained; core's GPU runs them by itself. */
	runJobs(): void;
	/** Move the device clock (virtual on both devices) forward by `ns`, running what falls due. */
	advance(ns: bigint): Promise<void>;
	/** After clients closed: wait until the server saw it (`clients` left) and the device-side teardown ran. */
	idle(clients?: number): Promise<void>;
	/** A measure of the buffer memory the device holds (fake: objects, core: VRAM bytes). */
	buffersHeld(): bigint;
	/** What the device still holds although no client is connected (empty when nothing leaked). */
	leaks(): string[];
	/** Server internal errors and device errors no ioctl could report, since the last call (which clears them). */
	problems(): string[];
	dispose(): Promise<void>;
}

async function waitForConnections(server: DrmServer, clients: number): Promise<void> {
	for (let i = 0; i < 200 && server.stats.connections > clients; i++)
		await new Promise((r) => setTimeout(r, 5));
}

function internalErrors(events: readonly DrmServerEvent[]): string[] {
	return events
		.filter((e) => e.type === 'internal-error')
		.map((e) => JSON.stringify(e, (_k, v) => String(v)));
}

async function startFakeKit(): Promise<Kit> {
	const k = await startServer();
	return {
		socketPath: k.socketPath,
		server: k.server,
		fake: k.device,
		runJobs: () => void k.device.drain(),
		async advance(ns) {
			k.device.clock.advance(ns);
			await new Promise((r) => setImmediate(r));
		},
		buffersHeld: () => BigInt(k.device.buffers.size),
		async idle(clients = 0) {
			await waitForConnections(k.server, clients);
			if (clients === 0) k.device.drain();
		},
		leaks() {
			const out: string[] = [];
			if (k.server.frontend.stats.files !== 0) out.push(`files ${k.server.frontend.stats.files}`);
			if (k.device.buffers.size !== 0) out.push(`buffers ${k.device.buffers.size}`);
			if (k.device.channels.size !== 0) out.push(`channels ${k.device.channels.size}`);
			if (k.device.pendingJobs !== 0) out.push(`jobs ${k.device.pendingJobs}`);
			return out;
		},
		problems: () => internalErrors(k.events.splice(0)),
		dispose: () => k.dispose(),
	};
}

async function startCoreKit(): Promise<Kit> {
	const { gpu, device } = await openSynthetic('ga102', '570');
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-conf-'));
	const events: DrmServerEvent[] = [];
	const errors: string[] = [];
	const service = await serveDevice(device, {
		socketPath: join(dir, 'drm.sock'),
		onEvent: (e) => events.push(e),
		onError: (what, e) => errors.push(`${what}: ${String(e)}`),
	});
	const vramBase = device.vramUsed();
	const dmaBase = gpu.dma.liveAllocations;
	return {
		socketPath: service.socketPath,
		server: service.server,
		fake: undefined,
		runJobs() {},
		async advance(ns) {
			if (!(gpu.clock instanceof VirtualClock))
				throw new Error('the conformance core device runs on a virtual clock');
			gpu.clock.advance(ns);
			await new Promise((r) => setImmediate(r));
		},
		buffersHeld: () => device.vramUsed(),
		async idle(clients = 0) {
			await waitForConnections(service.server, clients);
			await service.drmDevice.settled();
		},
		leaks() {
			const out: string[] = [];
			if (service.server.frontend.stats.files !== 0) out.push(`files ${service.server.frontend.stats.files}`);
			if (device.vramUsed() !== vramBase) out.push(`vram ${device.vramUsed() - vramBase}`);
			if (gpu.dma.liveAllocations !== dmaBase) out.push(`dma ${gpu.dma.liveAllocations - dmaBase}`);
			if (device.stats.vaSpaces !== 0) out.push(`vaSpaces ${device.stats.vaSpaces}`);
			if (device.stats.channels !== 0) out.push(`channels ${device.stats.channels}`);
			return out;
		},
		problems: () => [...internalErrors(events.splice(0)), ...errors.splice(0)],
		async dispose() {
			try {
				await service.close();
			} finally {
				rmSync(dir, { recursive: true, force: true });
				await device.close();
				await gpu.close();
			}
		},
	};
}

const DEVICES = [
	{ name: 'fake', shared: false, start: startFakeKit },
	{ name: 'core r570', shared: true, start: startCoreKit },
] as const;

/** The errno a promise rejects with (0 when it resolves). */
async function errno(p: Promise<unknown>): Promise<string | 0> {
	try {
		await p;
		return 0;
	} catch (e) {
		return (e as { errno?: string }).errno ?? 'not-an-errno';
	}
}

const MiB = 1n << 20n;
/** VM_INIT's kernel-managed range is [0, 4 GiB); clients bind at 8 GiB (core widens its range to 5 GiB). */
const KERNEL_SIZE = 4n << 30n;
const VA = 8n << 30n;
/** Far in the future on any device clock. */
const LONG = 10n ** 12n;
const MS = 1_000_000n;

/** `SEC_OP` INC method header (Volta+ push format): count 28:16, subchannel 15:13, dword address 11:0. */
function inc(subchannel: number, method: number, ...data: number[]): number[] {
	return [((1 << 29) | (data.length << 16) | (subchannel << 13) | (method >> 2)) >>> 0, ...data];
}

/**
 * A linear virtual copy on AMPERE_DMA_COPY_B (clc7b5.h: SET_OBJECT, OFFSET_IN/OUT, LINE_LENGTH_IN/COUNT,
 * LAUNCH_DMA = NON_PIPELINED | FLUSH | pitch layouts | virtual src/dst), as little-endian push bytes.
 */
function copyPush(src: bigint, dst: bigint, length: number): Uint8Array {
	const hi = (v: bigint) => Number(v >> 32n);
	const lo = (v: bigint) => Number(v & 0xffffffffn);
	const words = [
		...inc(4, 0x000, 0xc7b5),
		...inc(4, 0x400, hi(src), lo(src), hi(dst), lo(dst)),
		...inc(4, 0x418, length, 1),
		...inc(4, 0x300, 2 | (1 << 2) | (1 << 7) | (1 << 8)),
	];
	const out = new Uint8Array(words.length * 4);
	const view = new DataView(out.buffer);
	for (const [i, w] of words.entries()) view.setUint32(i * 4, w, true);
	return out;
}

describe.each(DEVICES)('on the $name device', (target) => {
	let kit: Kit;
	let c: DrmClient;

	beforeAll(async () => {
		if (target.shared) kit = await target.start();
	}, 60_000);
	afterAll(async () => {
		if (target.shared) await kit.dispose();
	});
	beforeEach(async () => {
		if (!target.shared) kit = await target.start();
		c = await openDrm(kit.socketPath);
	});
	afterEach(async () => {
		await c.close();
		await kit.idle();
		try {
			expect(kit.leaks()).toEqual([]);
			expect(kit.problems()).toEqual([]);
		} finally {
			if (!target.shared) await kit.dispose();
		}
	});

	async function vmClient(): Promise<void> {
		await c.vmInit(0n, KERNEL_SIZE);
	}

	describe('core_getversion', () => {
		it('basic', async () => {
			const v = await c.version();
			expect(v.name).toBe('nouveau');
			expect([v.major, v.minor, v.patchlevel]).toEqual([1, 4, 2]);
			expect(await c.getParam(NOUVEAU_GETPARAM_PCI_DEVICE)).toBe(0x2204n);
		});
	});

	describe('syncobj_basic', () => {
		it('bad-destroy', async () => expect(await errno(c.syncobjDestroy(42))).toBe('EINVAL'));
		it('bad-create-flags', async () => expect(await errno(c.syncobjCreate({ flags: 0xff }))).toBe('EINVAL'));
		it('bad-handle-to-fd', async () => expect(await errno(c.syncobjHandleToFd(42))).toBe('EINVAL'));
		it('illegal-fd-to-handle', async () => expect(await errno(c.syncobjFdToHandle(77))).toBe('EINVAL'));
		it('bad-pad-destroy', async () => {
			const h = await c.syncobjCreate();
			expect((await c.tryCall('SYNCOBJ_DESTROY', { handle: h, pad: 1 })).errno).toBe(22);
		});
		it('create-signaled', async () => {
			const h = await c.syncobjCreate({ signaled: true });
			expect(await c.syncobjWait([h])).toBe(0);
		});
		it('test-valid-cycle', async () => {
			const h = await c.syncobjCreate();
			await c.syncobjDestroy(h);
			expect(await errno(c.syncobjDestroy(h))).toBe('EINVAL');
		});
		it('fd round trip (export/import makes a new handle)', async () => {
			const h = await c.syncobjCreate({ signaled: true });
			const fd = await c.syncobjHandleToFd(h);
			const h2 = await c.syncobjFdToHandle(fd);
			expect(h2).not.toBe(h);
			expect(await c.syncobjWait([h2])).toBe(0);
		});
	});

	describe('syncobj_wait', () => {
		it('invalid-wait-bad-flags', async () => {
			const h = await c.syncobjCreate({ signaled: true });
			expect(await errno(c.syncobjWait([h], { flags: 0xf0 }))).toBe('EINVAL');
		});
		it('invalid-wait-illegal-handle', async () => expect(await errno(c.syncobjWait([9]))).toBe('ENOENT'));
		it('invalid-wait-zero-handles (returns 0)', async () => expect(await c.syncobjWait([])).toBe(0));
		it('invalid-single-wait-unsubmitted', async () => {
			const h = await c.syncobjCreate();
			expect(await errno(c.syncobjWait([h]))).toBe('EINVAL');
		});
		it('invalid-multi-wait-all-unsubmitted-signaled', async () => {
			const a = await c.syncobjCreate({ signaled: true });
			const b = await c.syncobjCreate();
			expect(await errno(c.syncobjWait([a, b], { flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL }))).toBe('EINVAL');
		});
		it('single-wait-for-submit-unsubmitted times out (ETIME)', async () => {
			const h = await c.syncobjCreate();
			const now = await c.now();
			expect(
				await errno(c.syncobjWait([h], { timeoutNs: now, flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT })),
			).toBe('ETIME');
		});
		it('wait-any-for-submit-signaled-later', async () => {
			const a = await c.syncobjCreate();
			const b = await c.syncobjCreate();
			const now = await c.now();
			const w = c.syncobjWait([a, b], {
				timeoutNs: now + 10n ** 12n,
				flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
			});
			await c.syncobjSignal([b]);
			expect(await w).toBe(1);
		});
		it('invalid-reset-zero-handles', async () => expect(await errno(c.syncobjReset([]))).toBe('EINVAL'));
		it('invalid-reset-illegal-handle', async () => expect(await errno(c.syncobjReset([5]))).toBe('ENOENT'));
		it('invalid-signal-zero-handles', async () => expect(await errno(c.syncobjSignal([]))).toBe('EINVAL'));
		it('invalid-signal-illegal-handle', async () => expect(await errno(c.syncobjSignal([5]))).toBe('ENOENT'));
		it('reset then wait is unsubmitted again', async () => {
			const h = await c.syncobjCreate({ signaled: true });
			await c.syncobjReset([h]);
			expect(await errno(c.syncobjWait([h]))).toBe('EINVAL');
		});
	});

	describe('syncobj_timeline', () => {
		it('signal, query and wait on points', async () => {
			const h = await c.syncobjCreate();
			await c.syncobjTimelineSignal([h], [3n]);
			expect(await c.syncobjQuery([h])).toEqual([3n]);
			expect(await c.syncobjQuery([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([3n]);
			expect(await c.syncobjTimelineWait([h], [2n])).toBe(0);
			expect(await errno(c.syncobjTimelineWait([h], [5n]))).toBe('EINVAL');
		});
		it('32bits-limit', async () => {
			const h = await c.syncobjCreate();
			const p = (1n << 32n) + 5n;
			await c.syncobjTimelineSignal([h], [p]);
			expect(await c.syncobjQuery([h])).toEqual([p]);
		});
		it('transfer a point to a binary syncobj', async () => {
			const src = await c.syncobjCreate();
			const dst = await c.syncobjCreate();
			await c.syncobjTimelineSignal([src], [7n]);
			await c.syncobjTransfer({ srcHandle: src, srcPoint: 7n, dstHandle: dst });
			expect(await c.syncobjWait([dst])).toBe(0);
		});
		it('wait-available for a later submitted point', async () => {
			const h = await c.syncobjCreate();
			const now = await c.now();
			const w = c.syncobjTimelineWait([h], [4n], {
				timeoutNs: now + 10n ** 12n,
				flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
			});
			await c.syncobjTimelineSignal([h], [4n]);
			expect(await w).toBe(0);
		});
		it('etime-single-wait-available-unsubmitted', async () => {
			const h = await c.syncobjCreate();
			const w = errno(
				c.syncobjTimelineWait([h], [1n], {
					timeoutNs: (await c.now()) + 5n * MS,
					flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
				}),
			);
			await kit.advance(6n * MS);
			expect(await w).toBe('ETIME');
			// Without WAIT_AVAILABLE (or WAIT_FOR_SUBMIT) an unsubmitted point is EINVAL, not a wait.
			expect(await errno(c.syncobjTimelineWait([h], [1n], { timeoutNs: (await c.now()) + 5n * MS }))).toBe(
				'EINVAL',
			);
		});
		it('etime-multi-wait-all-available-unsubmitted (one point signalled, one never submitted)', async () => {
			const a = await c.syncobjCreate();
			const b = await c.syncobjCreate();
			await c.syncobjTimelineSignal([a], [1n]);
			const w = errno(
				c.syncobjTimelineWait([a, b], [1n, 1n], {
					timeoutNs: (await c.now()) + 5n * MS,
					flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
				}),
			);
			await kit.advance(6n * MS);
			expect(await w).toBe('ETIME');
			// Wait-any is satisfied by the signalled one.
			expect(
				await c.syncobjTimelineWait([b, a], [1n, 1n], {
					timeoutNs: (await c.now()) + 5n * MS,
					flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
				}),
			).toBe(1);
		});
		it('etime-single-wait-for-submit-unsubmitted on a point above the signalled ones', async () => {
			const h = await c.syncobjCreate();
			await c.syncobjTimelineSignal([h], [2n]);
			const w = errno(
				c.syncobjTimelineWait([h], [3n], {
					timeoutNs: (await c.now()) + 5n * MS,
					flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
				}),
			);
			await kit.advance(6n * MS);
			expect(await w).toBe('ETIME');
		});
		it('host-signal-unordered: a lower point after a higher one keeps the higher point', async () => {
			const h = await c.syncobjCreate();
			await c.syncobjTimelineSignal([h], [5n]);
			await c.syncobjTimelineSignal([h], [2n]);
			expect(await c.syncobjQuery([h])).toEqual([5n]);
			expect(await c.syncobjQuery([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([5n]);
			expect(await c.syncobjTimelineWait([h], [5n])).toBe(0);
		});
	});

	describe('xe_vm-style bind/unbind (nouveau VM_BIND)', () => {
		it('bind before VM_INIT is ENOSYS', async () => {
			expect(await errno(c.vmBind({ ops: [] }))).toBe('ENOSYS');
		});
		it('bind-once: map then unmap, synchronously', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: MiB }] });
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_UNMAP, addr: VA, range: MiB }] });
		});
		it('bind-one-bo-many-times and munmap-style-unbind-front', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: 64n * 1024n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const ops = [0n, 1n, 2n, 3n].map((i) => ({
				op: DRM_NOUVEAU_VM_BIND_OP_MAP,
				handle: bo.handle,
				addr: VA + i * MiB,
				range: 64n * 1024n,
			}));
			await c.vmBind({ ops });
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_UNMAP, addr: VA, range: 4096n }] });
			const vm = kit.server.frontend.files[0]?.uvmm;
			expect(vm?.mappings.length).toBe(4);
		});
		it('invalid-pad', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const op = { op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: MiB, pad: 1 };
			expect(await errno(c.vmBind({ ops: [op] }))).toBe('EINVAL');
		});
		it('misaligned bind is EINVAL; unknown handle is ENOENT', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const map = { op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA + 1n, range: MiB };
			expect(await errno(c.vmBind({ ops: [map] }))).toBe('EINVAL');
			expect(await errno(c.vmBind({ ops: [{ ...map, addr: VA, handle: 99 }] }))).toBe('ENOENT');
		});
		it('bind-array-conflict leaves the VM unchanged', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const good = { op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: MiB };
			expect(await errno(c.vmBind({ ops: [good, { ...good, handle: 77 }] }))).toBe('ENOENT');
			expect(kit.server.frontend.files[0]?.uvmm?.mappings.length).toBe(0);
		});
		it('syncs without RUN_ASYNC are EINVAL; async bind signals its out-syncobj', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const so = await c.syncobjCreate();
			const op = { op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: MiB };
			expect(await errno(c.vmBind({ ops: [op], sig: [{ handle: so }], flags: 0 }))).toBe('EINVAL');
			await c.vmBind({ ops: [op], sig: [{ handle: so }] });
			expect(await c.syncobjWait([so], { timeoutNs: (await c.now()) + 10n ** 12n })).toBe(0);
		});
		it('bad in-sync type is EOPNOTSUPP', async () => {
			await vmClient();
			const so = await c.syncobjCreate({ signaled: true });
			const r = await errno(
				c.vmBind({
					ops: [],
					wait: [{ handle: so, flags: DRM_NOUVEAU_SYNC_TYPE_MASK }],
					flags: DRM_NOUVEAU_VM_BIND_RUN_ASYNC,
				}),
			);
			expect(r).toBe('EOPNOTSUPP');
		});
		it('bad out-sync type is EINVAL; an unknown out-syncobj is ENOENT', async () => {
			await vmClient();
			const so = await c.syncobjCreate();
			const sig = (s: { handle: number; flags?: number }) =>
				errno(c.vmBind({ ops: [], sig: [s], flags: DRM_NOUVEAU_VM_BIND_RUN_ASYNC }));
			expect(await sig({ handle: so, flags: DRM_NOUVEAU_SYNC_TYPE_MASK })).toBe('EINVAL');
			expect(await sig({ handle: so + 40 })).toBe('ENOENT');
			expect(await errno(c.syncobjWait([so]))).toBe('EINVAL'); // nothing was attached
		});
		it('bind-array-flag-invalid: one op with an unknown op code fails the array, which changes nothing', async () => {
			await vmClient();
			const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const good = { op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: 64n * 1024n };
			const ops = [good, { ...good, addr: VA + MiB, op: 2 }, { ...good, addr: VA + 2n * MiB }];
			expect(await errno(c.vmBind({ ops }))).toBe('EINVAL');
			expect(await errno(c.vmBind({ ops, async: true }))).toBe('EINVAL');
			expect(kit.server.frontend.files[0]?.uvmm?.mappings.length).toBe(0);
			// The same array without the bad op goes through.
			await c.vmBind({ ops: [good, ops[2] as typeof good] });
			expect(kit.server.frontend.files[0]?.uvmm?.mappings.length).toBe(2);
		});

		describe('sparse regions', () => {
			const SPARSE = DRM_NOUVEAU_VM_BIND_SPARSE;
			const REGION = VA + 4n * MiB;
			const sparse = (addr: bigint, range: bigint) => ({
				op: DRM_NOUVEAU_VM_BIND_OP_MAP,
				flags: SPARSE,
				addr,
				range,
			});
			const unmapSparse = (addr: bigint, range: bigint) => ({
				op: DRM_NOUVEAU_VM_BIND_OP_UNMAP,
				flags: SPARSE,
				addr,
				range,
			});

			it('a backed map straddling a region border is ENOSPC; inside or outside it is fine', async () => {
				await vmClient();
				const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
				const map = (addr: bigint) => ({
					op: DRM_NOUVEAU_VM_BIND_OP_MAP,
					handle: bo.handle,
					addr,
					range: MiB,
				});
				await c.vmBind({ ops: [sparse(REGION, 2n * MiB)] });
				expect(await errno(c.vmBind({ ops: [map(REGION - MiB / 2n)] }))).toBe('ENOSPC'); // across the start
				expect(await errno(c.vmBind({ ops: [map(REGION + (3n * MiB) / 2n)] }))).toBe('ENOSPC'); // the end
				// A new region over the existing one, or over a backed mapping, is ENOSPC too.
				expect(await errno(c.vmBind({ ops: [sparse(REGION + MiB, 2n * MiB)] }))).toBe('ENOSPC');
				await c.vmBind({ ops: [map(REGION + MiB)] }); // fully inside
				await c.vmBind({ ops: [map(REGION + 4n * MiB)] }); // fully outside
				expect(await errno(c.vmBind({ ops: [sparse(REGION + 4n * MiB, MiB)] }))).toBe('ENOSPC');
				const vm = kit.server.frontend.files[0]?.uvmm;
				expect(vm?.regions).toEqual([{ addr: REGION, range: 2n * MiB }]);
				expect(vm?.mappings.map((m) => m.addr)).toEqual([REGION + MiB, REGION + 4n * MiB]);
				// A failed straddle inside an async bind is reported at submit as well.
				expect(await errno(c.vmBind({ ops: [map(REGION - MiB / 2n)], async: true }))).toBe('ENOSPC');
			});

			it('UNMAP|SPARSE must match a region exactly (ENOENT), and unmaps what lies inside it', async () => {
				await vmClient();
				const bo = await c.gemNew({ size: MiB, domain: NOUVEAU_GEM_DOMAIN_VRAM });
				await c.vmBind({ ops: [sparse(REGION, 2n * MiB)] });
				await c.vmBind({
					ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: REGION, range: MiB }],
				});
				for (const [addr, range] of [
					[REGION, MiB], // part of it
					[REGION - MiB, 3n * MiB], // more than it
					[REGION + MiB, 2n * MiB], // overlapping its end
					[REGION + 8n * MiB, 2n * MiB], // nothing there
				] as const) {
					expect({ addr, range, e: await errno(c.vmBind({ ops: [unmapSparse(addr, range)] })) }).toEqual({
						addr,
						range,
						e: 'ENOENT',
					});
				}
				// Within one call the region can be unmapped only once.
				expect(
					await errno(c.vmBind({ ops: [unmapSparse(REGION, 2n * MiB), unmapSparse(REGION, 2n * MiB)] })),
				).toBe('ENOENT');
				const vm = kit.server.frontend.files[0]?.uvmm;
				expect(vm?.regions.length).toBe(1);
				expect(vm?.mappings.length).toBe(1);
				await c.vmBind({ ops: [unmapSparse(REGION, 2n * MiB)] });
				expect([vm?.regions.length, vm?.mappings.length]).toEqual([0, 0]);
				expect(await errno(c.vmBind({ ops: [unmapSparse(REGION, 2n * MiB)] }))).toBe('ENOENT');
				// The range is free for a new region.
				await c.vmBind({ ops: [sparse(REGION, 2n * MiB)] });
			});
		});
	});

	describe('xe_prime_self_import', () => {
		it('basic-with_one_bo', async () => {
			const before = kit.buffersHeld();
			const bo = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const fd1 = await c.primeHandleToFd(bo.handle);
			const fd2 = await c.primeHandleToFd(bo.handle);
			expect(await c.primeFdToHandle(fd1)).toBe(bo.handle);
			expect(await c.primeFdToHandle(fd2)).toBe(bo.handle);
			await c.closeFd(fd1);
			expect(kit.buffersHeld()).toBeGreaterThan(before); // fd2 still holds the object
			await c.closeFd(fd2);
			await c.gemClose(bo.handle);
			expect(kit.buffersHeld()).toBe(before);
		});
		it('basic-with_two_bos', async () => {
			const a = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const b = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const fa = await c.primeHandleToFd(a.handle);
			const fb = await c.primeHandleToFd(b.handle);
			expect([await c.primeFdToHandle(fa), await c.primeFdToHandle(fb)]).toEqual([a.handle, b.handle]);
		});
		it('basic-with_fd_dup: the dma-buf outlives its first descriptor, the exporter handle and the exporter file', async () => {
			const before = kit.buffersHeld();
			const exporter = await DrmClient.open(c.connection);
			const importer = await DrmClient.open(c.connection); // the process's second DRM file
			const bo = await exporter.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const data = patternBytes(64, 0xd0d0);
			await exporter.pwrite(bo.handle, 512n, data);
			const fd1 = await exporter.primeHandleToFd(bo.handle);
			const fd2 = await c.connection.dupFd(fd1); // as IGT: dup() of the exported descriptor
			expect(fd2).not.toBe(fd1);
			// A second export of the same handle is the same dma-buf too (the kernel's prime cache).
			const fd3 = await exporter.primeHandleToFd(bo.handle);
			expect(await importer.primeFdToHandle(fd3)).toBe(await importer.primeFdToHandle(fd1));
			await c.closeFd(fd3);
			await exporter.gemClose(bo.handle);
			await c.closeFd(fd1);
			await exporter.close();
			expect(kit.buffersHeld()).toBeGreaterThan(before); // fd2 holds it
			const h = await importer.primeFdToHandle(fd2);
			expect(await importer.primeFdToHandle(fd2)).toBe(h);
			await c.closeFd(fd2);
			expect(await importer.pread(h, 512n, 64)).toEqual(data); // the handle holds it
			expect(await errno(c.closeFd(fd2))).toBe('EBADF');
			await importer.gemClose(h);
			await kit.idle(1);
			expect(kit.buffersHeld()).toBe(before);
			await importer.close();
		});
		it('NO_SHARE objects are not exported (EPERM)', async () => {
			await vmClient();
			const bo = await c.gemNew({
				size: 4096n,
				domain: NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_NO_SHARE,
			});
			expect(await errno(c.primeHandleToFd(bo.handle))).toBe('EPERM');
		});
		it('a dma-buf outlives GEM_CLOSE and is readable after re-import', async () => {
			const bo = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			await c.pwrite(bo.handle, 100n, Uint8Array.of(9, 8, 7));
			const fd = await c.primeHandleToFd(bo.handle);
			await c.gemClose(bo.handle);
			const h = await c.primeFdToHandle(fd);
			expect(await c.pread(h, 100n, 3)).toEqual(Uint8Array.of(9, 8, 7));
			const info = await c.gemInfo(h);
			expect(await c.mmapRead(info.map_handle + 100n, 3)).toEqual(Uint8Array.of(9, 8, 7));
		});
	});

	describe('xe_exec_basic / xe_exec_reset (nouveau EXEC)', () => {
		const SIZE = 64n * 1024n;
		/** Offsets in the object: the copy push at 0, the good source and its destination, a bad push. */
		const SRC = 0x8000n;
		const DST = 0xc000n;
		const BAD_PUSH = 0x1000n;
		const LEN = 256;
		/** Nothing is ever mapped there (core: the copy engine faults, GSP-RM raises RC_TRIGGERED). */
		const UNMAPPED = 0x40_0000_0000n;

		/** A VM_BIND client, one object at VA holding a copy push (SRC → DST) and the source pattern, a channel. */
		async function channelWithPush() {
			await vmClient();
			const bo = await c.gemNew({ size: SIZE, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: SIZE }] });
			const bytes = copyPush(VA + SRC, VA + DST, LEN);
			const pattern = patternBytes(LEN, 0x5eed);
			await c.pwrite(bo.handle, 0n, bytes);
			await c.pwrite(bo.handle, SRC, pattern);
			const ch = await c.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE }); // core has copy channels only
			return { channel: ch.channel, handle: bo.handle, push: { va: VA, length: bytes.length }, pattern };
		}

		/** Kill `channel`: by hand on the fake, by an MMU fault (a copy to an unmapped VA) on core. */
		async function killChannel(channel: number, handle: number): Promise<void> {
			if (kit.fake !== undefined) {
				kit.fake.channels.get(channel)?.kill();
				return;
			}
			const bytes = copyPush(VA + SRC, UNMAPPED, LEN);
			await c.pwrite(handle, BAD_PUSH, bytes);
			const so = await c.syncobjCreate();
			await c.exec({ channel, pushes: [{ va: VA + BAD_PUSH, length: bytes.length }], sig: [{ handle: so }] });
			// The faulting job's fence signals (with an error) once RM has reported the channel killed.
			await c.syncobjWait([so], { timeoutNs: (await c.now()) + LONG });
		}

		it('once-basic: exec signals its syncobj when the job completes', async () => {
			const { channel, handle, push, pattern } = await channelWithPush();
			expect(await c.pread(handle, DST, LEN)).not.toEqual(pattern);
			const so = await c.syncobjCreate();
			await c.exec({ channel, pushes: [push], sig: [{ handle: so }] });
			if (kit.fake !== undefined) expect(await errno(c.syncobjWait([so]))).toBe('ETIME'); // until drained
			kit.runJobs();
			expect(await c.syncobjWait([so], { timeoutNs: (await c.now()) + LONG })).toBe(0);
			// On core the copy engine really ran the push.
			if (kit.fake === undefined) expect(await c.pread(handle, DST, LEN)).toEqual(pattern);
		});
		it('many-basic with a syncobj chain: each job waits for the previous one', async () => {
			const { channel, push } = await channelWithPush();
			const tl = await c.syncobjCreate();
			for (let i = 1n; i <= 8n; i++) {
				await c.exec({
					channel,
					pushes: [push],
					wait: i === 1n ? [] : [{ handle: tl, point: i - 1n }],
					sig: [{ handle: tl, point: i }],
				});
			}
			expect(await c.syncobjQuery([tl], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([8n]);
			kit.runJobs();
			expect(await c.syncobjTimelineWait([tl], [8n], { timeoutNs: (await c.now()) + LONG })).toBe(0);
			expect(await c.syncobjQuery([tl])).toEqual([8n]);
		});
		it('device-submit-unordered: a lower point submitted after a higher one keeps the higher point', async () => {
			const { channel, push } = await channelWithPush();
			const tl = await c.syncobjCreate();
			await c.exec({ channel, pushes: [push], sig: [{ handle: tl, point: 3n }] });
			await c.exec({ channel, pushes: [push], sig: [{ handle: tl, point: 1n }] });
			expect(await c.syncobjQuery([tl], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([3n]);
			if (kit.fake !== undefined) expect(await c.syncobjQuery([tl])).toEqual([0n]); // nothing ran yet
			kit.runJobs();
			expect(await c.syncobjTimelineWait([tl], [3n], { timeoutNs: (await c.now()) + LONG })).toBe(0);
			expect(await c.syncobjQuery([tl])).toEqual([3n]);
			expect(await c.syncobjTimelineWait([tl], [1n])).toBe(0);
		});
		it('device-signal-unordered: points of two channels signalling out of order', async () => {
			const { channel: a, push } = await channelWithPush();
			const b = (await c.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE })).channel;
			const tl = await c.syncobjCreate();
			await c.exec({ channel: a, pushes: [push], sig: [{ handle: tl, point: 1n }] });
			await c.exec({ channel: b, pushes: [push], sig: [{ handle: tl, point: 2n }] });
			expect(await c.syncobjQuery([tl], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([2n]);
			if (kit.fake !== undefined) {
				// Point 2's job finishes first: nothing is signalled "up to" any point yet.
				expect(kit.fake.channels.get(b)?.completeNext()).toBe(true);
				expect(await c.syncobjQuery([tl])).toEqual([0n]);
				expect(await errno(c.syncobjTimelineWait([tl], [2n]))).toBe('ETIME');
				expect(kit.fake.channels.get(a)?.completeNext()).toBe(true);
			}
			expect(await c.syncobjTimelineWait([tl], [2n], { timeoutNs: (await c.now()) + LONG })).toBe(0);
			expect(await c.syncobjQuery([tl])).toEqual([2n]);
		});
		it('no-exec: EXEC with no pushes still orders its fence', async () => {
			const { channel } = await channelWithPush();
			const so = await c.syncobjCreate();
			await c.exec({ channel, pushes: [], sig: [{ handle: so }] });
			kit.runJobs();
			expect(await c.syncobjWait([so], { timeoutNs: (await c.now()) + LONG })).toBe(0);
		});
		it('invalid: unknown channel ENOENT, too many pushes EINVAL', async () => {
			const { channel, push } = await channelWithPush();
			expect(await errno(c.exec({ channel: channel + 100, pushes: [] }))).toBe('ENOENT');
			const max = Number(await c.getParam(NOUVEAU_GETPARAM_EXEC_PUSH_MAX));
			const pushes = Array.from({ length: max + 1 }, () => push);
			expect(await errno(c.exec({ channel, pushes }))).toBe('EINVAL');
		});
		it('cat-error: a killed channel answers ENODEV', async () => {
			const { channel, handle, push } = await channelWithPush();
			expect(await errno(c.exec({ channel, pushes: [push] }))).toBe(0);
			await killChannel(channel, handle);
			expect(await errno(c.exec({ channel, pushes: [push] }))).toBe('ENODEV');
		});
		it('close-fd: a client disconnecting with jobs in flight releases everything', async () => {
			const { channel, push } = await channelWithPush();
			const so = await c.syncobjCreate();
			await c.exec({ channel, pushes: [push], sig: [{ handle: so }] });
			if (kit.fake !== undefined) expect(kit.fake.pendingJobs).toBe(1);
			await c.close();
			await kit.idle();
			expect(kit.leaks()).toEqual([]);
			c = await openDrm(kit.socketPath); // for afterEach
		});
	});

	describe('isolation between clients', () => {
		it("two clients cannot reach each other's handles; one leaving does not affect the other", async () => {
			const other = await openDrm(kit.socketPath);
			const bo = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const so = await c.syncobjCreate({ signaled: true });
			const fd = await c.primeHandleToFd(bo.handle);
			expect(await errno(other.gemInfo(bo.handle))).toBe('ENOENT');
			expect(await errno(other.gemClose(bo.handle))).toBe('EINVAL');
			expect(await errno(other.syncobjWait([so]))).toBe('ENOENT');
			expect(await errno(other.primeFdToHandle(fd))).toBe('EBADF');
			await other.close();
			await kit.idle(1);
			expect(kit.server.stats.connections).toBe(1);
			expect((await c.gemInfo(bo.handle)).size).toBe(4096n);
			expect(await c.syncobjWait([so])).toBe(0);
		});
	});
});
