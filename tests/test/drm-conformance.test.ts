/**
 * DRM uAPI conformance through the socket: IGT-named cases (drm-uapi.md §1.9) that the frontend supports,
 * run by @gspkit/drm-client against the gspkit-drm server. The device is the frontend's fake for now; the
 * lead plugs in the core device.
 */

import { type DrmClient, openDrm } from '@gspkit/drm-client';
import {
	DRM_NOUVEAU_SYNC_TYPE_MASK,
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	DRM_NOUVEAU_VM_BIND_RUN_ASYNC,
	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_EXEC_PUSH_MAX,
	NOUVEAU_GETPARAM_PCI_DEVICE,
} from '@gspkit/drm-frontend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from './drm-kit.ts';

type Kit = Awaited<ReturnType<typeof startServer>>;
let kit: Kit;
let c: DrmClient;

beforeEach(async () => {
	kit = await startServer();
	c = await openDrm(kit.socketPath);
});
afterEach(async () => {
	await c.close();
	await kit.dispose();
});

/** The errno a promise rejects with (0 when it resolves). */
async function errno(p: Promise<unknown>): Promise<string | 0> {
	try {
		await p;
		return 0;
	} catch (e) {
		return (e as { errno?: string }).errno ?? 'not-an-errno';
	}
}

async function settle(): Promise<void> {
	for (let i = 0; i < 50 && kit.server.stats.connections > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

const MiB = 1n << 20n;
const VA = 1n << 32n;

async function vmClient(): Promise<void> {
	await c.vmInit(0n, VA);
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
});

describe('xe_prime_self_import', () => {
	it('basic-with_one_bo', async () => {
		const bo = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		const fd1 = await c.primeHandleToFd(bo.handle);
		const fd2 = await c.primeHandleToFd(bo.handle);
		expect(await c.primeFdToHandle(fd1)).toBe(bo.handle);
		expect(await c.primeFdToHandle(fd2)).toBe(bo.handle);
		await c.closeFd(fd1);
		await c.closeFd(fd2);
		await c.gemClose(bo.handle);
		expect(kit.device.buffers.size).toBe(0);
	});
	it('basic-with_two_bos', async () => {
		const a = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		const b = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		const fa = await c.primeHandleToFd(a.handle);
		const fb = await c.primeHandleToFd(b.handle);
		expect([await c.primeFdToHandle(fa), await c.primeFdToHandle(fb)]).toEqual([a.handle, b.handle]);
	});
	it('NO_SHARE objects are not exported (EPERM)', async () => {
		await vmClient();
		const bo = await c.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_NO_SHARE });
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
	async function channelWithPush(): Promise<{ channel: number; va: bigint }> {
		await vmClient();
		const bo = await c.gemNew({ size: 64n * 1024n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		await c.vmBind({
			ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: VA, range: 64n * 1024n }],
		});
		const ch = await c.channelAlloc();
		return { channel: ch.channel, va: VA };
	}

	it('once-basic: exec signals its syncobj when the job completes', async () => {
		const { channel, va } = await channelWithPush();
		const so = await c.syncobjCreate();
		await c.exec({ channel, pushes: [{ va, length: 64 }], sig: [{ handle: so }] });
		expect(await errno(c.syncobjWait([so]))).toBe('ETIME');
		kit.device.drain();
		expect(await c.syncobjWait([so])).toBe(0);
	});
	it('many-basic with a syncobj chain: each job waits for the previous one', async () => {
		const { channel, va } = await channelWithPush();
		const tl = await c.syncobjCreate();
		for (let i = 1n; i <= 8n; i++) {
			await c.exec({
				channel,
				pushes: [{ va, length: 64 }],
				wait: i === 1n ? [] : [{ handle: tl, point: i - 1n }],
				sig: [{ handle: tl, point: i }],
			});
		}
		expect(await c.syncobjQuery([tl], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED)).toEqual([8n]);
		kit.device.drain();
		expect(await c.syncobjQuery([tl])).toEqual([8n]);
	});
	it('no-exec: EXEC with no pushes still orders its fence', async () => {
		const { channel } = await channelWithPush();
		const so = await c.syncobjCreate();
		await c.exec({ channel, pushes: [], sig: [{ handle: so }] });
		kit.device.drain();
		expect(await c.syncobjWait([so])).toBe(0);
	});
	it('invalid: unknown channel ENOENT, too many pushes EINVAL', async () => {
		const { channel, va } = await channelWithPush();
		expect(await errno(c.exec({ channel: channel + 100, pushes: [] }))).toBe('ENOENT');
		const max = Number(await c.getParam(NOUVEAU_GETPARAM_EXEC_PUSH_MAX));
		const pushes = Array.from({ length: max + 1 }, () => ({ va, length: 4 }));
		expect(await errno(c.exec({ channel, pushes }))).toBe('EINVAL');
	});
	it('cat-error: a killed channel answers ENODEV', async () => {
		const { channel, va } = await channelWithPush();
		kit.device.channels.get(channel)?.kill();
		expect(await errno(c.exec({ channel, pushes: [{ va, length: 4 }] }))).toBe('ENODEV');
	});
	it('close-fd: a client disconnecting with jobs in flight releases everything', async () => {
		const { channel, va } = await channelWithPush();
		const so = await c.syncobjCreate();
		await c.exec({ channel, pushes: [{ va, length: 64 }], sig: [{ handle: so }] });
		expect(kit.device.pendingJobs).toBe(1);
		await c.close();
		await settle();
		kit.device.drain();
		expect(kit.server.frontend.stats.files).toBe(0);
		expect(kit.device.pendingJobs).toBe(0);
		expect(kit.device.buffers.size).toBe(0);
		expect(kit.device.channels.size).toBe(0);
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
		await settle();
		expect((await c.gemInfo(bo.handle)).size).toBe(4096n);
		expect(await c.syncobjWait([so])).toBe(0);
	});
});
