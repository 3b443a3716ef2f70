/** Conformance: IGT `syncobj_basic`, through the binary ioctl path. */

import { DRM_SYNCOBJ_CREATE_SIGNALED, OpaqueFile } from '@gspkit/drm-frontend';
import { describe, expect, it } from 'vitest';
import { errnoOf, setup } from './client.ts';

describe('syncobj_basic', () => {
	it('bad-destroy', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjDestroy(0xdeadbeef))).toBe('EINVAL');
	});

	it('bad-create-flags', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjCreate(0xdeadbeef))).toBe('EINVAL');
		expect(errnoOf(await client.syncobjCreate(2))).toBe('EINVAL');
	});

	it('bad-handle-to-fd', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjToFd(0xdeadbeef))).toBe('EINVAL');
	});

	it('bad-fd-to-handle', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjFromFd(-1))).toBe('EINVAL');
		expect(errnoOf(await client.syncobjFromFd(77))).toBe('EINVAL');
	});

	it('illegal-fd-to-handle (the DRM fd itself, or an unrelated file)', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjFromFd(client.file.fd))).toBe('EINVAL');
		const pipe = client.process.install(new OpaqueFile('pipe'));
		expect(pipe.ok).toBe(true);
		if (pipe.ok) expect(errnoOf(await client.syncobjFromFd(pipe.value))).toBe('EINVAL');
	});

	it('bad-flags-fd-to-handle', async () => {
		const { client } = setup();
		expect(errnoOf(await client.syncobjFromFd(-1, 0xdeadbeef))).toBe('EINVAL');
	});

	it('bad-flags-handle-to-fd', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate();
		expect(h.ok).toBe(true);
		if (h.ok) expect(errnoOf(await client.syncobjToFd(h.value, 0xdeadbeef))).toBe('EINVAL');
	});

	it('bad-pad-handle-to-fd', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate();
		if (!h.ok) throw new Error(h.error);
		expect(errnoOf(await client.syncobjToFd(h.value, 0, 0n, 1))).toBe('EINVAL');
	});

	it('bad-pad-fd-to-handle', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate();
		if (!h.ok) throw new Error(h.error);
		const fd = await client.syncobjToFd(h.value);
		if (!fd.ok) throw new Error(fd.error);
		expect(errnoOf(await client.syncobjFromFd(fd.value, 0, 0, 0n, 1))).toBe('EINVAL');
	});

	it('bad-destroy-pad', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate();
		if (!h.ok) throw new Error(h.error);
		expect(errnoOf(await client.syncobjDestroy(h.value, 1))).toBe('EINVAL');
		expect(errnoOf(await client.syncobjDestroy(h.value))).toBe(0);
	});

	it('bad-point-opaque (a point without the TIMELINE flag is ignored; with it, opaque export is EINVAL)', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate();
		if (!h.ok) throw new Error(h.error);
		expect(errnoOf(await client.syncobjToFd(h.value, 0, 5n))).toBe(0);
		expect(errnoOf(await client.syncobjToFd(h.value, 2, 5n))).toBe('EINVAL');
	});

	it('create-signaled', async () => {
		const { client } = setup();
		const h = await client.syncobjCreate(DRM_SYNCOBJ_CREATE_SIGNALED);
		if (!h.ok) throw new Error(h.error);
		expect(await client.syncobjWait([h.value], 0n)).toEqual({ ok: true, value: 0 });
	});

	it('test-valid-cycle: handles start at 1, each import is a new handle to the same syncobj', async () => {
		const { client } = setup();
		const a = await client.syncobjCreate();
		expect(a).toEqual({ ok: true, value: 1 });
		const fd = await client.syncobjToFd(1);
		if (!fd.ok) throw new Error(fd.error);
		const b = await client.syncobjFromFd(fd.value);
		const c = await client.syncobjFromFd(fd.value);
		expect([b, c]).toEqual([
			{ ok: true, value: 2 },
			{ ok: true, value: 3 },
		]);
		expect(client.file.syncobjs.get(2)).toBe(client.file.syncobjs.get(1));
		// Signalling through one handle is visible through the others.
		expect(errnoOf(await client.syncobjSignal([3]))).toBe(0);
		expect((await client.syncobjWait([1], 0n)).ok).toBe(true);
		expect(errnoOf(await client.syncobjDestroy(1))).toBe(0);
		expect(errnoOf(await client.syncobjDestroy(2))).toBe(0);
		expect(errnoOf(await client.syncobjDestroy(3))).toBe(0);
		expect(errnoOf(client.process.close(fd.value))).toBe(0);
		// idr reuse: the lowest free handle again.
		expect(await client.syncobjCreate()).toEqual({ ok: true, value: 1 });
	});

	it('sharing across processes: the fd is passed on, the other file gets its own handle', async () => {
		const { fe, client } = setup();
		const { Client } = await import('./client.ts');
		const other = new Client(fe);
		const h = await client.syncobjCreate();
		if (!h.ok) throw new Error(h.error);
		const fd = await client.syncobjToFd(h.value);
		if (!fd.ok) throw new Error(fd.error);
		const passed = client.process.transfer(fd.value, other.process);
		if (!passed.ok) throw new Error(passed.error);
		expect(errnoOf(await other.syncobjFromFd(fd.value + 100))).toBe('EINVAL');
		const oh = await other.syncobjFromFd(passed.value);
		expect(oh).toEqual({ ok: true, value: 1 });
		expect(errnoOf(await other.syncobjSignal([1]))).toBe(0);
		expect((await client.syncobjWait([h.value], 0n)).ok).toBe(true);
	});
});
