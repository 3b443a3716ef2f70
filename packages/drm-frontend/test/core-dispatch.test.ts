/** Dispatch, permissions, VERSION, GET_CAP, SET_CLIENT_CAP, master, GETPARAM (core_getversion / core_auth style). */

import {
	DRM_CAP_DUMB_BUFFER,
	DRM_CAP_PRIME,
	DRM_CAP_SYNCOBJ,
	DRM_CAP_SYNCOBJ_TIMELINE,
	DRM_CAP_TIMESTAMP_MONOTONIC,
	DRM_CLIENT_CAP_ATOMIC,
	DRM_IOCTL,
	drmIoctl,
	drmIow,
	drmIowr,
	FdTable,
	IOCTL_DEFS,
	type IoctlName,
	ioc,
	ioctlFlags,
	ioctlPermit,
	NOUVEAU_GETPARAM_AGP_SIZE,
	NOUVEAU_GETPARAM_BUS_TYPE,
	NOUVEAU_GETPARAM_CHIPSET_ID,
	NOUVEAU_GETPARAM_FB_SIZE,
	NOUVEAU_GETPARAM_GRAPH_UNITS,
	NOUVEAU_GETPARAM_HAS_BO_USAGE,
	NOUVEAU_GETPARAM_HAS_PAGEFLIP,
	NOUVEAU_GETPARAM_HAS_VMA_TILEMODE,
	NOUVEAU_GETPARAM_PCI_DEVICE,
	NOUVEAU_GETPARAM_PCI_VENDOR,
	NOUVEAU_GETPARAM_PTIMER_TIME,
	NOUVEAU_GETPARAM_VM_VRAM_BASE,
	NOUVEAU_GETPARAM_VRAM_BAR_SIZE,
	NOUVEAU_GETPARAM_VRAM_USED,
} from '@gspkit/drm-frontend';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Client, errnoOf, setup } from './client.ts';

describe('dispatch', () => {
	it('a request of another subsystem or an unknown DRM number is ENOTTY', async () => {
		const { client } = setup();
		expect(errnoOf(await client.file.ioctl(ioc(3, 'T'.charCodeAt(0), 0x01, 8), new Uint8Array(8)))).toBe(
			'ENOTTY',
		);
		expect(errnoOf(await client.file.ioctl(drmIowr(0x41, 16), new Uint8Array(16)))).toBe('ENOTTY'); // SETPARAM
		expect(errnoOf(await client.file.ioctl(drmIowr(0x0a, 8), new Uint8Array(8)))).toBe('ENOTTY'); // GEM_FLINK
		expect(errnoOf(await client.file.ioctl(drmIowr(0xd2, 8), new Uint8Array(8)))).toBe('ENOTTY');
	});

	it('an argument buffer shorter than _IOC_SIZE is EFAULT', async () => {
		const { client } = setup();
		expect(errnoOf(await client.file.ioctl(DRM_IOCTL.SYNCOBJ_CREATE, new Uint8Array(4)))).toBe('EFAULT');
	});

	it('a shorter (older) struct is zero-extended, a longer one truncated, as drm_ioctl does', async () => {
		const { client } = setup();
		// An 8-byte GET_CAP (just `capability`): accepted; nothing beyond 8 bytes is written.
		const short = new Uint8Array(8);
		new DataView(short.buffer).setBigUint64(0, DRM_CAP_SYNCOBJ, true);
		expect(errnoOf(await client.file.ioctl(drmIowr(0x0c, 8), short))).toBe(0);
		// A 24-byte GET_CAP: the extra 8 bytes are neither read nor written.
		const long = new Uint8Array(24).fill(0xee);
		new DataView(long.buffer).setBigUint64(0, DRM_CAP_PRIME, true);
		expect(errnoOf(await client.file.ioctl(drmIowr(0x0c, 24), long))).toBe(0);
		expect(new DataView(long.buffer).getBigUint64(8, true)).toBe(3n);
		expect([...long.subarray(16)]).toEqual(Array(8).fill(0xee));
		// A write-only request copies nothing back.
		const close = new Uint8Array(8);
		expect(errnoOf(await client.file.ioctl(drmIow(0x09, 8), close))).toBe('EINVAL');
	});
});

describe('permissions', () => {
	it("the table is the kernel's: everything render-allowed except SET_CLIENT_CAP and SET/DROP_MASTER", () => {
		const primaryOnly = IOCTL_DEFS.filter((d) => !ioctlFlags(d.name).renderAllow).map((d) => d.name);
		expect(primaryOnly.sort()).toEqual(['DROP_MASTER', 'SET_CLIENT_CAP', 'SET_MASTER']);
	});

	it('drm_ioctl_permit: ROOT_ONLY, AUTH, MASTER and RENDER_ALLOW all refuse with EACCES', () => {
		fc.assert(
			fc.property(
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				(renderAllow, auth, master, rootOnly, isRender, isMaster, authenticated, privileged) => {
					const r = ioctlPermit(
						{ renderAllow, auth, master, rootOnly },
						{ isRender, isMaster, authenticated, privileged },
					);
					const allowed =
						(!rootOnly || privileged) &&
						(!auth || isRender || authenticated) &&
						(!master || isMaster) &&
						(renderAllow || !isRender);
					expect(r).toBe(allowed ? undefined : 'EACCES');
				},
			),
		);
	});

	it('a render node may not call a primary-only ioctl (EACCES) but may call everything else', async () => {
		const { client } = setup();
		expect(
			errnoOf(await client.call('SET_CLIENT_CAP', { capability: DRM_CLIENT_CAP_ATOMIC, value: 1n })),
		).toBe('EACCES');
		expect(errnoOf(await client.call('SET_MASTER'))).toBe('EACCES');
		expect(errnoOf(await client.call('DROP_MASTER'))).toBe('EACCES');
		const renderOk: IoctlName[] = ['VERSION', 'GET_CAP', 'NOUVEAU_GETPARAM'];
		for (const n of renderOk)
			expect(
				errnoOf(
					await client.call(
						n,
						n === 'NOUVEAU_GETPARAM' ? { param: 3n } : n === 'GET_CAP' ? { capability: 6n } : {},
					),
				),
			).toBe(0);
	});

	it('master: the first primary opener is master; others get EBUSY; drop and re-acquire; privilege rules', async () => {
		const { fe } = setup();
		const proc = new FdTable();
		const a = new Client(fe, proc, 'primary');
		const b = new Client(fe, proc, 'primary', true);
		const c = new Client(fe, proc, 'primary');
		expect(a.file.isMaster).toBe(true);
		expect(errnoOf(await a.call('SET_MASTER'))).toBe(0);
		expect(errnoOf(await b.call('SET_MASTER'))).toBe('EBUSY');
		expect(errnoOf(await c.call('SET_MASTER'))).toBe('EACCES');
		expect(errnoOf(await c.call('DROP_MASTER'))).toBe('EACCES');
		expect(errnoOf(await b.call('DROP_MASTER'))).toBe('EINVAL');
		expect(errnoOf(await a.call('DROP_MASTER'))).toBe(0);
		expect(errnoOf(await b.call('SET_MASTER'))).toBe(0);
		expect(errnoOf(await a.call('SET_MASTER'))).toBe('EBUSY');
		b.file.close();
		expect(fe.master).toBeNull();
		expect(errnoOf(await a.call('SET_MASTER'))).toBe(0); // a former master may come back unprivileged
		expect(errnoOf(await a.call('SET_CLIENT_CAP', { capability: DRM_CLIENT_CAP_ATOMIC, value: 1n }))).toBe(
			'EOPNOTSUPP',
		);
	});
});

describe('VERSION / GET_CAP / GETPARAM', () => {
	it('core_getversion: two-pass VERSION with truncation and full lengths', async () => {
		const { client, fe } = setup();
		const first = await client.call('VERSION', {});
		if (!first.ok) throw new Error(first.error);
		expect(first.value).toMatchObject({
			version_major: 1,
			version_minor: 4,
			version_patchlevel: 2,
			name_len: 7n,
		});
		const name = client.mem.alloc(7);
		const desc = client.mem.alloc(5);
		const second = await client.call('VERSION', { name_len: 7n, name, desc_len: 5n, desc });
		if (!second.ok) throw new Error(second.error);
		expect(new TextDecoder().decode(client.mem.bytesAt(name))).toBe('nouveau');
		expect(new TextDecoder().decode(client.mem.bytesAt(desc))).toBe(fe.driver.desc.slice(0, 5));
		expect(second.value.desc_len).toBe(BigInt(fe.driver.desc.length));
		expect(errnoOf(await client.call('VERSION', { name_len: 7n, name: 0x99n }))).toBe('EFAULT');
	});

	it('GET_CAP answers the render-only caps and EOPNOTSUPP for the KMS ones', async () => {
		const { client } = setup();
		const cap = async (c: bigint) => {
			const r = await client.call('GET_CAP', { capability: c });
			return r.ok ? r.value.value : r.error;
		};
		expect(await cap(DRM_CAP_PRIME)).toBe(3n);
		expect(await cap(DRM_CAP_SYNCOBJ)).toBe(1n);
		expect(await cap(DRM_CAP_SYNCOBJ_TIMELINE)).toBe(1n);
		expect(await cap(DRM_CAP_TIMESTAMP_MONOTONIC)).toBe(1n);
		expect(await cap(DRM_CAP_DUMB_BUFFER)).toBe('EOPNOTSUPP');
		expect(await cap(0x999n)).toBe('EOPNOTSUPP');
	});

	it('GETPARAM: the documented parameters from the device; anything else EINVAL', async () => {
		const { client, device, clock } = setup();
		await client.gemNew(1n << 20n);
		clock.advance(1234n);
		const gp = async (param: bigint) => {
			const r = await drmIoctl(client.file, 'NOUVEAU_GETPARAM', { param });
			return r.ok ? r.value.value : r.error;
		};
		expect(await gp(NOUVEAU_GETPARAM_PCI_VENDOR)).toBe(0x10den);
		expect(await gp(NOUVEAU_GETPARAM_PCI_DEVICE)).toBe(0x2204n);
		expect(await gp(NOUVEAU_GETPARAM_BUS_TYPE)).toBe(2n);
		expect(await gp(NOUVEAU_GETPARAM_FB_SIZE)).toBe(device.info.vramSize);
		expect(await gp(NOUVEAU_GETPARAM_AGP_SIZE)).toBe(device.info.gartSize);
		expect(await gp(NOUVEAU_GETPARAM_CHIPSET_ID)).toBe(0x172n);
		expect(await gp(NOUVEAU_GETPARAM_VM_VRAM_BASE)).toBe(0n);
		expect(await gp(NOUVEAU_GETPARAM_GRAPH_UNITS)).toBe(7n | (42n << 8n) | (112n << 32n));
		expect(await gp(NOUVEAU_GETPARAM_PTIMER_TIME)).toBe(clock.now());
		expect(await gp(NOUVEAU_GETPARAM_HAS_BO_USAGE)).toBe(1n);
		expect(await gp(NOUVEAU_GETPARAM_HAS_PAGEFLIP)).toBe(1n);
		expect(await gp(NOUVEAU_GETPARAM_HAS_VMA_TILEMODE)).toBe(0n); // GEM_NEW takes no tile mode / PTE kind
		expect(await gp(NOUVEAU_GETPARAM_VRAM_BAR_SIZE)).toBe(256n << 20n);
		expect(await gp(NOUVEAU_GETPARAM_VRAM_USED)).toBe(1n << 20n);
		for (const bad of [0n, 1n, 2n, 6n, 7n, 10n, 21n, 1n << 40n]) expect(await gp(bad)).toBe('EINVAL');
	});
});
