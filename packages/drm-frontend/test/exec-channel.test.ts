/** CHANNEL_ALLOC/FREE and EXEC (xe_exec_basic / xe_exec_reset style). */

import {
	DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH,
	execPushMax,
	NOUVEAU_FIFO_ENGINE_BSP,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_FIFO_ENGINE_GR,
	NOUVEAU_GEM_DOMAIN_GART,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_EXEC_PUSH_MAX,
	NV50_DMA_PUSH_MAX_LENGTH,
} from '@gspkit/drm-frontend';
import { describe, expect, it } from 'vitest';
import { Client, errnoOf, setup } from './client.ts';
import { gpuReady, sync } from './helpers/gpu.ts';

describe('CHANNEL_ALLOC / CHANNEL_FREE', () => {
	it('returns the channel id, VRAM|GART push domains and a notifier GEM handle', async () => {
		const { client, device } = setup();
		const r = await client.channelAlloc();
		if (!r.ok) throw new Error(r.error);
		expect(r.arg).toMatchObject({
			channel: 0,
			pushbuf_domains: NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART,
			notifier_handle: 1,
			nr_subchan: 0,
		});
		const info = await client.call('NOUVEAU_GEM_INFO', { handle: 1 });
		expect(info.ok && info.value).toMatchObject({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_GART });
		expect(device.channels.get(0)?.engine).toBe('gr');
	});

	it('engine selection: GR and CE via fb_ctxdma_handle = ~0; missing engines EINVAL; unknown selectors ENOSYS', async () => {
		const { client, device } = setup({ engines: ['gr', 'ce'] });
		const ce = await client.channelAlloc(NOUVEAU_FIFO_ENGINE_CE);
		expect(ce.ok && ce.arg).toMatchObject({ fb_ctxdma_handle: 0, tt_ctxdma_handle: 0 });
		if (ce.ok) expect(device.channels.get(ce.value)?.engine).toBe('ce');
		expect((await client.channelAlloc(NOUVEAU_FIFO_ENGINE_GR)).ok).toBe(true);
		expect(errnoOf(await client.channelAlloc(NOUVEAU_FIFO_ENGINE_BSP))).toBe('EINVAL');
		expect(errnoOf(await client.channelAlloc(0x99))).toBe('ENOSYS');
		expect(errnoOf(await client.call('NOUVEAU_CHANNEL_ALLOC', { tt_ctxdma_handle: 0xffffffff }))).toBe(
			'EINVAL',
		);
		const grOnly = setup({ engines: ['gr'] });
		expect(errnoOf(await grOnly.client.channelAlloc(NOUVEAU_FIFO_ENGINE_CE))).toBe('EINVAL');
	});

	it('CHANNEL_FREE: own channels only; a second free is ENOENT; the notifier handle stays valid', async () => {
		const { fe, client, device } = setup();
		const other = new Client(fe);
		const r = await client.channelAlloc();
		if (!r.ok) throw new Error(r.error);
		expect(errnoOf(await other.call('NOUVEAU_CHANNEL_FREE', { channel: r.value }))).toBe('ENOENT');
		expect(errnoOf(await client.call('NOUVEAU_CHANNEL_FREE', { channel: r.value }))).toBe(0);
		expect(device.channels.size).toBe(0);
		expect(errnoOf(await client.call('NOUVEAU_CHANNEL_FREE', { channel: r.value }))).toBe('ENOENT');
		expect(errnoOf(await client.call('NOUVEAU_GEM_INFO', { handle: r.arg.notifier_handle }))).toBe(0);
		expect(device.freed).toBe(0);
		await client.gemClose(r.arg.notifier_handle);
		expect(device.freed).toBe(1);
	});
});

describe('EXEC', () => {
	it('once-basic: pushes reach the channel with their flags and dependencies; out-syncs get the job fence', async () => {
		const { client, device } = setup();
		const ch = await gpuReady(client);
		const inS = await client.syncobjCreate(1);
		const outS = await client.syncobjCreate();
		if (!inS.ok || !outS.ok) throw new Error('syncobj');
		const r = await client.exec(
			ch,
			[
				{ va: 1n << 40n, len: 64 },
				{ va: (1n << 40n) + 64n, len: 32, flags: DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH },
			],
			{ wait: [sync(inS.value)], sig: [sync(outS.value), sync(outS.value, 9n)] },
		);
		expect(errnoOf(r)).toBe(0);
		const job = device.channels.get(ch)?.submitted[0];
		expect(job?.pushes).toEqual([
			{ va: 1n << 40n, length: 64, noPrefetch: false },
			{ va: (1n << 40n) + 64n, length: 32, noPrefetch: true },
		]);
		expect(job?.dependencies.length).toBe(1);
		expect(job?.dependencies[0]?.signalled).toBe(true);
		expect(errnoOf(await client.timelineWait([outS.value], [9n], 0n))).toBe('ETIME');
		device.drain();
		expect(errnoOf(await client.timelineWait([outS.value], [9n], 0n))).toBe(0);
	});

	it("unknown channel ENOENT (including another file's), too many pushes or too long a push EINVAL", async () => {
		const { fe, client, device } = setup({ gpfifoEntries: 16 });
		const ch = await gpuReady(client);
		const other = new Client(fe);
		await other.vmInit();
		expect(errnoOf(await other.exec(ch, []))).toBe('ENOENT');
		expect(errnoOf(await client.exec(ch + 1, []))).toBe('ENOENT');
		const max = execPushMax(device.info);
		expect(max).toBe(6);
		const gp = await client.call('NOUVEAU_GETPARAM', { param: NOUVEAU_GETPARAM_EXEC_PUSH_MAX });
		expect(gp.ok && gp.value.value).toBe(6n);
		const push = { va: 1n << 40n, len: 8 };
		expect(errnoOf(await client.exec(ch, Array(max).fill(push)))).toBe(0);
		expect(errnoOf(await client.exec(ch, Array(max + 1).fill(push)))).toBe('EINVAL');
		expect(errnoOf(await client.exec(ch, [{ va: 0n, len: NV50_DMA_PUSH_MAX_LENGTH }]))).toBe(0);
		expect(errnoOf(await client.exec(ch, [{ va: 0n, len: NV50_DMA_PUSH_MAX_LENGTH + 1 }]))).toBe('EINVAL');
		expect(errnoOf(await client.exec(ch, [], { count: 2 }))).toBe('EFAULT');
	});

	it('in-sync errors EOPNOTSUPP/ENOENT/EINVAL, out-sync errors EINVAL/ENOENT, and nothing is submitted', async () => {
		const { client, device } = setup();
		const ch = await gpuReady(client);
		const s = await client.syncobjCreate(1);
		const empty = await client.syncobjCreate();
		if (!s.ok || !empty.ok) throw new Error('syncobj');
		expect(errnoOf(await client.exec(ch, [], { wait: [{ flags: 5, handle: s.value }] }))).toBe('EOPNOTSUPP');
		expect(errnoOf(await client.exec(ch, [], { wait: [sync(42)] }))).toBe('ENOENT');
		expect(errnoOf(await client.exec(ch, [], { wait: [sync(empty.value)] }))).toBe('EINVAL');
		expect(errnoOf(await client.exec(ch, [], { sig: [{ flags: 5, handle: s.value }] }))).toBe('EINVAL');
		expect(errnoOf(await client.exec(ch, [], { sig: [sync(42)] }))).toBe('ENOENT');
		// In-syncs are checked before out-syncs.
		expect(
			errnoOf(await client.exec(ch, [], { wait: [sync(42)], sig: [{ flags: 5, handle: s.value }] })),
		).toBe('ENOENT');
		expect(device.channels.get(ch)?.submitted.length).toBe(0);
		expect(errnoOf(await client.syncobjWait([empty.value], 0n))).toBe('EINVAL');
	});

	it('xe_exec_reset cancel: a killed channel fails its pending jobs and answers ENODEV', async () => {
		const { client, device } = setup();
		const ch = await gpuReady(client);
		const out = await client.syncobjCreate();
		if (!out.ok) throw new Error('syncobj');
		expect(errnoOf(await client.exec(ch, [], { sig: [sync(out.value)] }))).toBe(0);
		device.channels.get(ch)?.kill();
		expect(errnoOf(await client.syncobjWait([out.value], 0n))).toBe(0);
		expect(client.file.syncobjs.get(out.value)?.fence?.error?.message).toBe('channel killed');
		expect(errnoOf(await client.exec(ch, []))).toBe('ENODEV');
	});

	it('xe_exec_reset close-fd: closing a file with jobs in flight cancels them and frees everything; others are unaffected', async () => {
		const { fe, client, device } = setup();
		const bystander = new Client(fe);
		const bch = await gpuReady(bystander);
		const bh = await bystander.gemNew(4096n);
		const ch = await gpuReady(client);
		const h = await client.gemNew(8192n);
		if (!h.ok || !bh.ok) throw new Error('gem');
		await client.vmBind([{ op: 0, handle: h.value, addr: 1n << 40n, range: 8192n }]);
		await client.exec(ch, []);
		await client.exec(ch, []);
		await bystander.exec(bch, []);
		client.file.close();
		expect(device.channels.has(ch)).toBe(false);
		// Client's BO + notifier freed; the bystander's BO, notifier and job are untouched.
		expect(device.freed).toBe(2);
		expect(device.channels.get(bch)?.queue.length).toBe(1);
		expect(device.vaSpaces.size).toBe(1);
		device.drain();
		expect(errnoOf(await bystander.call('NOUVEAU_GEM_INFO', { handle: bh.value }))).toBe(0);
		bystander.process.closeAll();
		expect(device.buffers.size).toBe(0);
		expect(device.vaSpaces.size).toBe(0);
		expect(fe.stats.files).toBe(0);
	});
});
