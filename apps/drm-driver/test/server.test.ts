import { existsSync } from 'node:fs';
import { DrmConnection, DrmError, encodeRequest, FrameKind, openDrm, u32Array } from '@gspkit/drm-client';
import {
	DRM_IOCTL,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_PCI_VENDOR,
} from '@gspkit/drm-frontend';
import { afterEach, describe, expect, it } from 'vitest';
import { RawSocket, startServer } from './server-kit.ts';

type Kit = Awaited<ReturnType<typeof startServer>>;
let kit: Kit | undefined;
afterEach(async () => {
	await kit?.dispose();
	kit = undefined;
});

function pl(r: { payload: Uint8Array } | undefined): Uint8Array {
	if (r === undefined) throw new Error('no reply');
	return r.payload;
}

function le32(n: number): Uint8Array {
	const b = new Uint8Array(4);
	new DataView(b.buffer).setUint32(0, n >>> 0, true);
	return b;
}

async function openRaw(k: Kit): Promise<{ raw: RawSocket; fd: number }> {
	const raw = await RawSocket.open(k.socketPath);
	raw.send(encodeRequest(FrameKind.OPEN, 1, 0, 0, new Uint8Array(0)));
	const r = await raw.reply();
	if (r === undefined || r.result < 0) throw new Error('open failed');
	return { raw, fd: r.result };
}

describe('socket server: wire format', () => {
	it('answers GETPARAM with the kernel struct bytes, little-endian, and echoes the request id', async () => {
		kit = await startServer();
		const { raw, fd } = await openRaw(kit);
		expect(fd).toBe(3);
		const arg = new Uint8Array(16);
		new DataView(arg.buffer).setBigUint64(0, NOUVEAU_GETPARAM_PCI_VENDOR, true);
		raw.send(encodeRequest(FrameKind.IOCTL, 0xdeadbeef, fd, DRM_IOCTL.NOUVEAU_GETPARAM, arg));
		const r = await raw.reply();
		expect(r?.id).toBe(0xdeadbeef);
		expect(r?.result).toBe(0);
		expect(r?.payload.length).toBe(16);
		const dv = new DataView(pl(r).buffer, pl(r).byteOffset);
		expect(dv.getBigUint64(0, true)).toBe(NOUVEAU_GETPARAM_PCI_VENDOR);
		expect(dv.getBigUint64(8, true)).toBe(0x10den);
		// Byte order: low byte first.
		expect(r?.payload[8]).toBe(0xde);
		expect(r?.payload[9]).toBe(0x10);
		raw.close();
	});

	it('carries arrays inline, rewrites pointers for the frontend and restores the client values', async () => {
		kit = await startServer();
		const { raw, fd } = await openRaw(kit);
		// SYNCOBJ_CREATE(SIGNALED)
		const create = new Uint8Array(8);
		create.set(le32(1), 4);
		raw.send(encodeRequest(FrameKind.IOCTL, 2, fd, DRM_IOCTL.SYNCOBJ_CREATE, create));
		const c = await raw.reply();
		expect(c?.result).toBe(0);
		const handle = new DataView(pl(c).buffer, pl(c).byteOffset).getUint32(0, true);
		expect(handle).toBe(1);
		// SYNCOBJ_QUERY: handles (in) carried, points (out) come back after the struct.
		const q = new Uint8Array(24);
		const qdv = new DataView(q.buffer);
		qdv.setBigUint64(0, 0x7fff_0000_1000n, true); // handles: any non-NULL user pointer
		qdv.setBigUint64(8, 0x7fff_0000_2000n, true); // points
		qdv.setUint32(16, 1, true);
		raw.send(encodeRequest(FrameKind.IOCTL, 3, fd, DRM_IOCTL.SYNCOBJ_QUERY, q, [u32Array([handle])]));
		const qr = await raw.reply();
		expect(qr?.result).toBe(0);
		expect(qr?.payload.length).toBe(24 + 8);
		const pdv = new DataView(pl(qr).buffer, pl(qr).byteOffset);
		expect(pdv.getBigUint64(0, true)).toBe(0x7fff_0000_1000n);
		expect(pdv.getBigUint64(8, true)).toBe(0x7fff_0000_2000n);
		expect(pdv.getBigUint64(24, true)).toBe(0n); // binary syncobj: point 0
		raw.close();
	});

	it('answers malformed frames with an errno and keeps the connection', async () => {
		kit = await startServer();
		const { raw, fd } = await openRaw(kit);
		const cases: [Uint8Array, number][] = [
			[encodeRequest(99 as never, 10, fd, 0, new Uint8Array(0)), -38], // unknown kind: ENOSYS
			[encodeRequest(FrameKind.IOCTL, 11, fd, DRM_IOCTL.NOUVEAU_GETPARAM, new Uint8Array(8)), -22], // arg size
			[encodeRequest(FrameKind.IOCTL, 12, 77, DRM_IOCTL.NOUVEAU_GETPARAM, new Uint8Array(16)), -9], // EBADF
			[encodeRequest(FrameKind.IOCTL, 13, fd, 0x12345678, new Uint8Array(0x1234)), -25], // not 'd': ENOTTY
			[encodeRequest(FrameKind.OPEN, 14, 0, 7, new Uint8Array(0)), -22], // bad node
			[encodeRequest(FrameKind.CLOSE, 15, 55, 0, new Uint8Array(0)), -9],
			[encodeRequest(FrameKind.DUP, 19, 55, 0, new Uint8Array(0)), -9], // dup of a closed fd: EBADF
			[encodeRequest(FrameKind.DUP, 20, fd, 1, new Uint8Array(0)), -22], // code must be 0
			[encodeRequest(FrameKind.DUP, 21, fd, 0, new Uint8Array(4)), -22], // no argument
			[encodeRequest(FrameKind.MMAP_READ, 16, fd, 0, new Uint8Array(16)), -22], // no such offset
		];
		// SYNCOBJ_WAIT with count 3 but 1 handle carried: EFAULT.
		const w = new Uint8Array(40);
		const wdv = new DataView(w.buffer);
		wdv.setBigUint64(0, 0x1000n, true);
		wdv.setUint32(16, 3, true);
		cases.push([encodeRequest(FrameKind.IOCTL, 17, fd, DRM_IOCTL.SYNCOBJ_WAIT, w, [u32Array([1])]), -14]);
		// A huge PREAD: the reply could not be carried.
		const pr = new Uint8Array(32);
		const prdv = new DataView(pr.buffer);
		prdv.setBigUint64(16, 1n << 40n, true);
		prdv.setBigUint64(24, 0x1000n, true);
		cases.push([encodeRequest(FrameKind.IOCTL, 18, fd, DRM_IOCTL.GSPKIT_GEM_PREAD, pr), -7]);
		// argSize larger than the frame body.
		const lie = encodeRequest(FrameKind.IOCTL, 19, fd, DRM_IOCTL.NOUVEAU_GETPARAM, new Uint8Array(16));
		new DataView(lie.buffer).setUint32(20, 1000, true);
		cases.push([lie, -22]);
		for (const [frame, errno] of cases) {
			raw.send(frame);
			const r = await raw.reply();
			const id = new DataView(frame.buffer).getUint32(8, true);
			expect({ id: r?.id, result: r?.result }).toEqual({ id, result: errno });
		}
		expect(kit.internalErrors()).toEqual([]);
		raw.close();
	});

	it('drops a connection whose length prefix is out of bounds, and only that one', async () => {
		kit = await startServer({ maxFrameBytes: 1 << 16 });
		const good = await openDrm(kit.socketPath);
		const { raw } = await openRaw(kit);
		raw.send(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0)); // shorter than a header
		await raw.closedByServer();
		const big = await RawSocket.open(kit.socketPath);
		big.send(le32((1 << 16) + 1));
		await big.closedByServer();
		expect(kit.server.stats.violations).toBe(2);
		expect(await good.getParam(NOUVEAU_GETPARAM_PCI_VENDOR)).toBe(0x10den);
		await good.close();
	});

	it('a truncated frame followed by a disconnect leaks nothing', async () => {
		kit = await startServer();
		const { raw, fd } = await openRaw(kit);
		raw.send(
			encodeRequest(FrameKind.IOCTL, 1, fd, DRM_IOCTL.NOUVEAU_GETPARAM, new Uint8Array(16)).subarray(0, 30),
		);
		raw.close();
		for (let i = 0; i < 50 && kit.server.stats.connections > 0; i++)
			await new Promise((r) => setTimeout(r, 5));
		expect(kit.server.stats.connections).toBe(0);
		expect(kit.server.frontend.stats.files).toBe(0);
	});
});

describe('socket server: connections are processes', () => {
	it('a disconnecting client loses its files, objects, syncobjs and descriptors', async () => {
		kit = await startServer();
		const c = await openDrm(kit.socketPath);
		const bo = await c.gemNew({ size: 65536n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		await c.primeHandleToFd(bo.handle);
		await c.syncobjCreate();
		expect(kit.device.buffers.size).toBe(1);
		expect(kit.server.frontend.stats.files).toBe(1);
		await c.close();
		for (let i = 0; i < 50 && kit.server.stats.connections > 0; i++)
			await new Promise((r) => setTimeout(r, 5));
		expect(kit.server.frontend.stats.files).toBe(0);
		expect(kit.device.buffers.size).toBe(0);
		expect(kit.device.freed).toBe(1);
	});

	it("a client cannot name another client's handles or descriptors", async () => {
		kit = await startServer();
		const a = await openDrm(kit.socketPath);
		const b = await openDrm(kit.socketPath);
		const bo = await a.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		const fd = await a.primeHandleToFd(bo.handle);
		const so = await a.syncobjCreate({ signaled: true });
		await expect(b.gemInfo(bo.handle)).rejects.toMatchObject({ errno: 'ENOENT' });
		await expect(b.primeFdToHandle(fd)).rejects.toMatchObject({ errno: 'EBADF' });
		await expect(b.syncobjWait([so])).rejects.toMatchObject({ errno: 'ENOENT' });
		await expect(b.closeFd(fd)).rejects.toMatchObject({ errno: 'EBADF' });
		// The same handle numbers in b name b's own objects.
		const mine = await b.gemNew({ size: 8192n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		expect(mine.handle).toBe(bo.handle);
		expect((await b.gemInfo(mine.handle)).size).toBe(8192n);
		expect((await a.gemInfo(bo.handle)).size).toBe(4096n);
		// a's descriptor of a's DRM file is not b's either.
		const raw = await RawSocket.open(kit.socketPath);
		raw.send(encodeRequest(FrameKind.IOCTL, 1, a.fd, DRM_IOCTL.NOUVEAU_GETPARAM, new Uint8Array(16)));
		expect((await raw.reply())?.result).toBe(-9);
		raw.close();
		await a.close();
		await b.close();
	});

	it('files opened on one connection share its descriptors (one process)', async () => {
		kit = await startServer();
		const conn = await DrmConnection.connect(kit.socketPath);
		const { DrmClient } = await import('@gspkit/drm-client');
		const f1 = await DrmClient.open(conn);
		const f2 = await DrmClient.open(conn);
		expect([f1.fd, f2.fd]).toEqual([3, 4]);
		const bo = await f1.gemNew({ size: 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		await f1.pwrite(bo.handle, 0n, Uint8Array.of(1, 2, 3));
		const fd = await f1.primeHandleToFd(bo.handle);
		const h2 = await f2.primeFdToHandle(fd);
		expect(await f2.pread(h2, 0n, 3)).toEqual(Uint8Array.of(1, 2, 3));
		await f2.close();
		await expect(f2.getParam(NOUVEAU_GETPARAM_PCI_VENDOR)).rejects.toMatchObject({ errno: 'EBADF' });
		await conn.close();
	});

	it('serves requests of one connection concurrently: a blocking wait does not stall a signal', async () => {
		kit = await startServer();
		const c = await openDrm(kit.socketPath);
		const so = await c.syncobjCreate();
		const now = await c.now();
		const waiting = c.syncobjWait([so], {
			timeoutNs: now + 1_000_000_000_000n,
			flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
		});
		await c.syncobjSignal([so]);
		expect(await waiting).toBe(0);
		await c.close();
	});

	it('the primary node can be refused', async () => {
		kit = await startServer({ allowPrimary: false });
		await expect(openDrm(kit.socketPath, { node: 'primary' })).rejects.toMatchObject({ errno: 'EACCES' });
		const p = await openDrm(kit.socketPath);
		await p.close();
	});

	it('graceful shutdown drops clients (pending requests fail), removes the socket', async () => {
		kit = await startServer();
		const c = await openDrm(kit.socketPath);
		const so = await c.syncobjCreate();
		const pending = c.syncobjWait([so], {
			timeoutNs: (await c.now()) + 10n ** 15n,
			flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
		});
		await kit.server.close();
		await expect(pending).rejects.toMatchObject({ code: 'DRM_CLIENT_DISCONNECTED' });
		expect(kit.server.frontend.stats.files).toBe(0);
		expect(existsSync(kit.socketPath)).toBe(false);
		await expect(c.getParam(NOUVEAU_GETPARAM_PCI_VENDOR)).rejects.toBeInstanceOf(Error);
		expect(DrmError).toBeDefined();
	});
});
