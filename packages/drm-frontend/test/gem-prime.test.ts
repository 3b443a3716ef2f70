/** GEM objects, PRIME (IGT xe_prime_self_import style), CPU access, CPU_PREP. */

import {
	DRM_CLOEXEC,
	DRM_FILE_PAGE_OFFSET_START,
	DRM_RDWR,
	NOUVEAU_GEM_CPU_PREP_NOWAIT,
	NOUVEAU_GEM_CPU_PREP_WRITE,
	NOUVEAU_GEM_DOMAIN_CPU,
	NOUVEAU_GEM_DOMAIN_GART,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GEM_TILE_NONCONTIG,
} from '@gspkit/drm-frontend';
import { MS, SEC } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { Client, errnoOf, setup } from './client.ts';
import { gpuReady, settle, submitJob } from './helpers/gpu.ts';

async function bo(c: Client, size = 4096n, domain = NOUVEAU_GEM_DOMAIN_VRAM): Promise<number> {
	const r = await c.gemNew(size, domain);
	if (!r.ok) throw new Error(r.error);
	return r.value;
}

describe('GEM_NEW / GEM_INFO / GEM_CLOSE', () => {
	it('creates page-rounded objects with handles from 1 and reports placement', async () => {
		const { client, device } = setup();
		const r = await client.gemNew(5000n);
		if (!r.ok) throw new Error(r.error);
		expect(r.value).toBe(1);
		expect(r.info).toMatchObject({ handle: 1, domain: NOUVEAU_GEM_DOMAIN_VRAM, size: 8192n, offset: 0n });
		expect(r.info.map_handle).toBeGreaterThanOrEqual(DRM_FILE_PAGE_OFFSET_START);
		expect(device.vramUsed()).toBe(8192n);
		const gart = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_GART);
		const cpu = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_CPU);
		const both = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART);
		expect([gart, cpu, both].map((x) => (x.ok ? [x.value, x.info.domain] : x.error))).toEqual([
			[2, NOUVEAU_GEM_DOMAIN_GART],
			[3, NOUVEAU_GEM_DOMAIN_GART],
			[4, NOUVEAU_GEM_DOMAIN_VRAM],
		]);
		const info = await client.call('NOUVEAU_GEM_INFO', { handle: 2 });
		expect(info.ok && info.value).toMatchObject({ handle: 2, size: 4096n, domain: NOUVEAU_GEM_DOMAIN_GART });
	});

	it('out of VRAM is ENOSPC, unless GART is allowed too', async () => {
		const { client } = setup({ vramSize: 1n << 20n });
		expect((await client.gemNew(1n << 20n)).ok).toBe(true);
		expect(errnoOf(await client.gemNew(4096n))).toBe('ENOSPC');
		const r = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART);
		// Two valid domains: GEM_NEW reports where the object landed.
		expect(r.ok && r.info.domain).toBe(NOUVEAU_GEM_DOMAIN_GART);
		const info = r.ok ? client.file.lookupGem(r.value) : undefined;
		expect(info?.buffer.placement).toBe('sysmem');
	});

	it('rejects size 0, a tile mode, a PTE kind or other tile flags, NO_SHARE before VM_INIT', async () => {
		const { client } = setup();
		expect(errnoOf(await client.gemNew(0n))).toBe('EINVAL');
		// HAS_VMA_TILEMODE is 0: the kind (tile_flags bits 8-15) goes in VM_BIND's op flags, never in GEM_NEW.
		for (const tile_flags of [0x100, 0x8000, 0x108, 0x1, 0x4, 0x10000, 0x8000_0000]) {
			expect({
				tile_flags,
				e: errnoOf(await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM, { tile_flags })),
			}).toEqual({ tile_flags, e: 'EINVAL' });
		}
		const mode = await client.call('NOUVEAU_GEM_NEW', {
			info: { handle: 0, domain: 2, size: 4096n, offset: 0n, map_handle: 0n, tile_mode: 1, tile_flags: 0 },
		});
		expect(errnoOf(mode)).toBe('EINVAL');
		expect(client.file.gem.size).toBe(0);
		expect(errnoOf(await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_NO_SHARE))).toBe(
			'EINVAL',
		);
	});

	it('NOUVEAU_GEM_TILE_NONCONTIG is accepted and reported back by GEM_NEW and GEM_INFO', async () => {
		const { client } = setup();
		const nc = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM, {
			tile_flags: NOUVEAU_GEM_TILE_NONCONTIG,
		});
		const plain = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM);
		if (!nc.ok || !plain.ok) throw new Error('gemNew');
		expect([nc.info.tile_flags, nc.info.tile_mode, plain.info.tile_flags]).toEqual([0x8, 0, 0]);
		const info = await client.call('NOUVEAU_GEM_INFO', { handle: nc.value });
		const other = await client.call('NOUVEAU_GEM_INFO', { handle: plain.value });
		expect([info.ok && info.value.tile_flags, other.ok && other.value.tile_flags]).toEqual([0x8, 0]);
	});

	it('a BO created before VM_INIT makes VM_INIT ENOSYS', async () => {
		const { client } = setup();
		await bo(client);
		expect(errnoOf(await client.vmInit())).toBe('ENOSYS');
	});

	it('GEM_CLOSE: unknown or 0 is EINVAL, pad must be 0, handles are reused lowest-first', async () => {
		const { client, device } = setup();
		const [a, b, c] = [await bo(client), await bo(client), await bo(client)];
		expect([a, b, c]).toEqual([1, 2, 3]);
		expect(errnoOf(await client.gemClose(0))).toBe('EINVAL');
		expect(errnoOf(await client.gemClose(4))).toBe('EINVAL');
		expect(errnoOf(await client.gemClose(2, 1))).toBe('EINVAL');
		expect(errnoOf(await client.gemClose(2))).toBe(0);
		expect(errnoOf(await client.gemClose(2))).toBe('EINVAL');
		expect(errnoOf(await client.call('NOUVEAU_GEM_INFO', { handle: 2 }))).toBe('ENOENT');
		expect(device.freed).toBe(1);
		expect(await bo(client)).toBe(2);
		expect(await bo(client)).toBe(4);
	});

	it('handles are per file: another file cannot name them', async () => {
		const { fe, client } = setup();
		const other = new Client(fe);
		await bo(client);
		await bo(client);
		expect(errnoOf(await other.call('NOUVEAU_GEM_INFO', { handle: 1 }))).toBe('ENOENT');
		expect(errnoOf(await other.gemClose(2))).toBe('EINVAL');
		expect(errnoOf(await other.primeExport(1))).toBe('ENOENT');
		expect(await bo(other)).toBe(1);
		expect(client.file.lookupGem(1)).not.toBe(other.file.lookupGem(1));
	});
});

describe('PRIME', () => {
	it('export: bad flags EINVAL, unknown handle ENOENT, NO_SHARE EPERM; CLOEXEC|RDWR accepted', async () => {
		const { client } = setup();
		const h = await bo(client);
		expect(errnoOf(await client.primeExport(h, 0x1))).toBe('EINVAL');
		expect(errnoOf(await client.primeExport(42))).toBe('ENOENT');
		expect((await client.primeExport(h, DRM_CLOEXEC | DRM_RDWR)).ok).toBe(true);
		const { client: c2 } = setup();
		await c2.vmInit();
		const ns = await c2.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_NO_SHARE);
		if (!ns.ok) throw new Error(ns.error);
		expect(errnoOf(await c2.primeExport(ns.value))).toBe('EPERM');
	});

	it('import: closed fd EBADF, not a dma-buf EINVAL', async () => {
		const { client } = setup();
		expect(errnoOf(await client.primeImport(-1))).toBe('EBADF');
		expect(errnoOf(await client.primeImport(123))).toBe('EBADF');
		expect(errnoOf(await client.primeImport(client.file.fd))).toBe('EINVAL');
		const s = await client.syncobjCreate();
		const sfd = s.ok ? await client.syncobjToFd(s.value) : s;
		if (!sfd.ok) throw new Error(sfd.error);
		expect(errnoOf(await client.primeImport(sfd.value))).toBe('EINVAL');
	});

	it('basic-with_one_bo: self-import returns the same handle; another file gets its own', async () => {
		const { fe, client, device } = setup();
		const second = new Client(fe, client.process);
		const h = await bo(client);
		const fd = await client.primeExport(h);
		if (!fd.ok) throw new Error(fd.error);
		expect(await client.primeImport(fd.value)).toEqual({ ok: true, value: h });
		const h2 = await second.primeImport(fd.value);
		expect(h2).toEqual({ ok: true, value: 1 });
		expect(await second.primeImport(fd.value)).toEqual({ ok: true, value: 1 });
		expect(second.file.lookupGem(1)).toBe(client.file.lookupGem(h));
		// Re-export from the second file gives the same dma-buf (a new fd).
		const fd2 = await second.primeExport(1);
		expect(fd2.ok && fd2.value !== fd.value).toBe(true);
		if (fd2.ok) expect(client.process.peek(fd2.value)).toBe(client.process.peek(fd.value));
		expect(errnoOf(await client.gemClose(h))).toBe(0);
		expect(errnoOf(await second.gemClose(1))).toBe(0);
		expect(device.freed).toBe(0); // fds still hold the dma-buf
		client.process.close(fd.value);
		expect(device.freed).toBe(0);
		if (fd2.ok) client.process.close(fd2.value);
		expect(device.freed).toBe(1);
	});

	it('basic-with_fd_dup and passing the fd to another process', async () => {
		const { fe, client, device } = setup();
		const h = await bo(client);
		const fd = await client.primeExport(h);
		if (!fd.ok) throw new Error(fd.error);
		const dup = client.process.dup(fd.value);
		if (!dup.ok) throw new Error(dup.error);
		client.process.close(fd.value);
		expect(await client.primeImport(dup.value)).toEqual({ ok: true, value: h });
		const other = new Client(fe);
		const passed = client.process.transfer(dup.value, other.process);
		if (!passed.ok) throw new Error(passed.error);
		client.process.close(dup.value);
		const oh = await other.primeImport(passed.value);
		expect(oh.ok).toBe(true);
		// The exporter goes away entirely; the importer keeps the object.
		client.file.close();
		expect(device.freed).toBe(0);
		const data = Uint8Array.of(1, 2, 3, 4);
		const src = other.mem.alloc(data);
		expect(errnoOf(await other.call('GSPKIT_GEM_PWRITE', { handle: 1, size: 4n, data_ptr: src }))).toBe(0);
		other.process.closeAll();
		expect(device.freed).toBe(1);
		expect(device.buffers.size).toBe(0);
	});

	it('basic-with_two_bos: closing one handle re-imports as a new handle', async () => {
		const { fe, client } = setup();
		const second = new Client(fe, client.process);
		const a = await bo(client);
		const b = await bo(client);
		const fa = await client.primeExport(a);
		const fb = await client.primeExport(b);
		if (!fa.ok || !fb.ok) throw new Error('export');
		expect(await second.primeImport(fb.value)).toEqual({ ok: true, value: 1 });
		expect(await second.primeImport(fa.value)).toEqual({ ok: true, value: 2 });
		expect(errnoOf(await second.gemClose(1))).toBe(0);
		expect(await second.primeImport(fa.value)).toEqual({ ok: true, value: 2 });
		expect(await second.primeImport(fb.value)).toEqual({ ok: true, value: 1 });
	});

	it('an object of another device cannot be imported', async () => {
		const a = setup();
		const b = setup();
		const h = await bo(a.client);
		const fd = await a.client.primeExport(h);
		if (!fd.ok) throw new Error(fd.error);
		const passed = a.client.process.transfer(fd.value, b.client.process);
		if (!passed.ok) throw new Error(passed.error);
		expect(errnoOf(await b.client.primeImport(passed.value))).toBe('EOPNOTSUPP');
	});
});

describe('CPU access: PREAD/PWRITE and mmap', () => {
	it('pwrite then pread round-trips; range, pad, handle and pointer errors', async () => {
		const { client } = setup();
		const h = await bo(client, 8192n);
		const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
		const src = client.mem.alloc(data);
		expect(
			errnoOf(
				await client.call('GSPKIT_GEM_PWRITE', { handle: h, offset: 4000n, size: 300n, data_ptr: src }),
			),
		).toBe(0);
		const dst = client.mem.alloc(300);
		expect(
			errnoOf(await client.call('GSPKIT_GEM_PREAD', { handle: h, offset: 4000n, size: 300n, data_ptr: dst })),
		).toBe(0);
		expect(client.mem.bytesAt(dst)).toEqual(data);
		expect(
			errnoOf(await client.call('GSPKIT_GEM_PREAD', { handle: h, offset: 8000n, size: 300n, data_ptr: dst })),
		).toBe('EINVAL');
		expect(
			errnoOf(
				await client.call('GSPKIT_GEM_PREAD', {
					handle: h,
					offset: 1n << 63n,
					size: 1n << 63n,
					data_ptr: dst,
				}),
			),
		).toBe('EINVAL');
		expect(
			errnoOf(await client.call('GSPKIT_GEM_PREAD', { handle: h, pad: 1, size: 1n, data_ptr: dst })),
		).toBe('EINVAL');
		expect(errnoOf(await client.call('GSPKIT_GEM_PREAD', { handle: 9, size: 1n, data_ptr: dst }))).toBe(
			'ENOENT',
		);
		expect(errnoOf(await client.call('GSPKIT_GEM_PREAD', { handle: h, size: 400n, data_ptr: dst }))).toBe(
			'EFAULT',
		);
		expect(errnoOf(await client.call('GSPKIT_GEM_PWRITE', { handle: h, size: 0n, data_ptr: 0n }))).toBe(0);
	});

	it('mmap through map_handle: only files holding a handle; the mapping keeps the object alive', async () => {
		const { fe, client, device } = setup();
		const other = new Client(fe);
		const r = await client.gemNew(8192n);
		if (!r.ok) throw new Error(r.error);
		const off = r.info.map_handle;
		expect(errnoOf(other.file.mmap(off, 4096n))).toBe('EACCES');
		expect(errnoOf(client.file.mmap(off + 8192n, 4096n))).toBe('EINVAL');
		expect(errnoOf(client.file.mmap(off + 4096n, 8192n))).toBe('EINVAL');
		const m = client.file.mmap(off + 4096n, 4096n);
		if (!m.ok) throw new Error(m.error);
		m.value.write(16n, Uint8Array.of(0xaa, 0xbb));
		const dst = client.mem.alloc(2);
		await client.call('GSPKIT_GEM_PREAD', { handle: r.value, offset: 4096n + 16n, size: 2n, data_ptr: dst });
		expect([...client.mem.bytesAt(dst)]).toEqual([0xaa, 0xbb]);
		expect(errnoOf(await client.gemClose(r.value))).toBe(0);
		expect(device.freed).toBe(0);
		expect([...m.value.read(16n, 2)]).toEqual([0xaa, 0xbb]);
		m.value.unmap();
		expect(device.freed).toBe(1);
	});
});

describe('GEM_CPU_PREP / GEM_CPU_FINI', () => {
	it('idle objects are ready; busy ones are EBUSY with NOWAIT and wait otherwise', async () => {
		const { client, device, clock } = setup();
		const channel = await gpuReady(client);
		const h = await bo(client);
		expect(errnoOf(await client.vmBind([{ op: 0, handle: h, addr: 1n << 40n, range: 4096n }]))).toBe(0);
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: h }))).toBe(0);
		const s = await client.syncobjCreate();
		if (!s.ok) throw new Error(s.error);
		const job = await submitJob(client, device, channel, [{ handle: s.value }]);
		expect(
			errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: h, flags: NOUVEAU_GEM_CPU_PREP_NOWAIT })),
		).toBe('EBUSY');
		const p = client.call('NOUVEAU_GEM_CPU_PREP', { handle: h, flags: NOUVEAU_GEM_CPU_PREP_WRITE });
		await settle();
		clock.advance(10n * MS);
		job.fence.signal();
		expect(errnoOf(await p)).toBe(0);
		// A job that never finishes: EBUSY after 30 s of device time.
		await submitJob(client, device, channel, []);
		const q = client.call('NOUVEAU_GEM_CPU_PREP', { handle: h });
		await settle();
		clock.advance(30n * SEC);
		expect(errnoOf(await q)).toBe('EBUSY');
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: 77 }))).toBe('ENOENT');
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_FINI', { handle: h }))).toBe(0);
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_FINI', { handle: 77 }))).toBe('ENOENT');
	});

	it('NO_SHARE objects share the VM reservation: an EXEC makes them busy even when unmapped', async () => {
		const { client, device } = setup();
		const channel = await gpuReady(client);
		const r = await client.gemNew(4096n, NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_NO_SHARE);
		const plain = await bo(client);
		if (!r.ok) throw new Error(r.error);
		const job = await submitJob(client, device, channel, []);
		const nowait = { flags: NOUVEAU_GEM_CPU_PREP_NOWAIT };
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: r.value, ...nowait }))).toBe('EBUSY');
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: plain, ...nowait }))).toBe(0);
		job.fence.signal();
		expect(errnoOf(await client.call('NOUVEAU_GEM_CPU_PREP', { handle: r.value, ...nowait }))).toBe(0);
	});
});
