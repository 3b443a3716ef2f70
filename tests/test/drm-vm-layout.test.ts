/**
 * The client's VA layout on the REAL core device (gpu-sim, synthetic firmware), through the socket server and
 * `@gspkit/drm-client`:
 *
 * - VA spaces are promoted to GSP-RM as *externally owned*, as nouveau's `r535_mmu_promote_vmm` does: RM gets
 *   the root through SET_PAGE_DIRECTORY and reserves nothing, so NVK's layout — VM_INIT `{1 << 39, 1 << 39}`,
 *   heap below 256 GiB — works unchanged, core's channel rings and pushbuffers land inside the client's kernel
 *   range, and every address outside it (RM's old [4 GiB, 4.5 GiB) included) can be bound;
 * - edge cases of VM_INIT answer what nouveau answers (`{0, 0}` is accepted and leaves no room for channels:
 *   ENOSPC; an unaligned range is accepted; a legacy channel needs no VM_INIT);
 * - a VM_BIND pipelined behind a CHANNEL_ALLOC waits for the channel's kernel mappings and proceeds — never
 *   EBUSY — with later EXECs and binds of the same VM kept behind it, all-or-nothing intact.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirmwareAbi } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import { type DeviceVaSpace as CoreVaSpace, externalVaSpaceAbi, isCoreError } from '@gspkit/core';
import { type DrmClient, isDrmError, openDrm } from '@gspkit/drm-client';
import { createDrmDevice } from '@gspkit/drm-driver';
import { createDrmServer } from '@gspkit/drm-driver/server';
import {
	type DeviceVaSpace,
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_GEM_DOMAIN_GART,
	NOUVEAU_GEM_DOMAIN_VRAM,
} from '@gspkit/drm-frontend';
import { describe, expect, it } from 'vitest';
import { BRANCHES, copyRoundTrip, openSynthetic, patternBytes } from './core-kit.ts';

const GiB = 1n << 30n;
/** NVK's VM_INIT (mesa nvk_device.c): the kernel gets the upper half of the 40-bit range. */
const NVK_KERNEL = { addr: 1n << 39n, size: 1n << 39n } as const;
const SIZE = 64 << 10;

async function expectErrno(p: Promise<unknown>, errno: string): Promise<void> {
	try {
		await p;
	} catch (e) {
		expect(isDrmError(e, errno as never), String(e)).toBe(true);
		return;
	}
	throw new Error(`expected ${errno}, the call succeeded`);
}

/**
 * A copy-engine pushbuffer (subchannel 4, which RM binds to the copy class when core allocates the copy object):
 * OFFSET_IN/OUT (0x400..0x40c), LINE_LENGTH_IN (0x418), LAUNCH_DMA (0x300) = NON_PIPELINED | SRC/DST PITCH
 * (open-gpu-doc clc7b5.h; method header SEC_OP INC 31:29, COUNT 28:16, SUBCH 15:13, ADDRESS 11:0 = offset >> 2).
 */
function ceCopyWords(src: bigint, dst: bigint, length: number): Uint8Array {
	const inc = (method: number, ...data: number[]) => [
		((1 << 29) | (data.length << 16) | (4 << 13) | (method >>> 2)) >>> 0,
		...data,
	];
	const hi = (v: bigint) => Number(v >> 32n);
	const lo = (v: bigint) => Number(v & 0xffff_ffffn) >>> 0;
	const words = [
		...inc(0x400, hi(src), lo(src), hi(dst), lo(dst)),
		...inc(0x418, length),
		...inc(0x300, 2 | (1 << 7) | (1 << 8)),
	];
	const out = new Uint8Array(words.length * 4);
	const dv = new DataView(out.buffer);
	for (const [i, w] of words.entries()) dv.setUint32(i * 4, w >>> 0, true);
	return out;
}

type IdleAware = DeviceVaSpace & { whenKernelIdle(): Promise<void> | undefined };

/** Core device + the DRM adapter (with probes) + the socket server; `dispose()` checks everything is freed. */
async function rig(branch: string) {
	const { gpu, device } = await openSynthetic('ga102', branch);
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-layout-'));
	const socketPath = join(dir, 'drm.sock');
	const vramBase = device.vramUsed();
	const dmaBase = gpu.dma.bytesInUse;
	const errors: string[] = [];
	const drm = createDrmDevice(device, { onError: (w, e) => errors.push(`${w}: ${String(e)}`) });
	// Probe: how often VM_BIND found the VA space busy with kernel mappings (and so had to wait).
	const probe = { kernelWaits: 0 };
	const createVaSpace = drm.createVaSpace.bind(drm);
	drm.createVaSpace = async (request) => {
		const r = await createVaSpace(request);
		if (r.ok) {
			const va = r.value as IdleAware;
			const idle = va.whenKernelIdle.bind(va);
			va.whenKernelIdle = () => {
				const w = idle();
				if (w !== undefined) probe.kernelWaits++;
				return w;
			};
		}
		return r;
	};
	// Gate: core's channel creation can be held (the adapter has entered its kernel work by then).
	let hold: Promise<void> | undefined;
	const createChannel = device.createChannel.bind(device);
	device.createChannel = async (vas, request) => {
		if (hold !== undefined) await hold;
		return createChannel(vas, request);
	};
	const server = await createDrmServer({ socketPath, device: drm });
	const clients: DrmClient[] = [];
	return {
		gpu,
		device,
		drm,
		probe,
		errors,
		open: async () => {
			const c = await openDrm(socketPath);
			clients.push(c);
			return c;
		},
		/** Hold core's createChannel until the returned function is called. */
		holdChannels(): () => void {
			let release = (): void => {};
			hold = new Promise<void>((resolve) => {
				release = resolve;
			});
			return () => {
				hold = undefined;
				release();
			};
		},
		/** The core VA space the device created last (one per client here). */
		lastVaSpace(): CoreVaSpace {
			const v = device.vaSpaces.at(-1);
			if (v === undefined) throw new Error('no VA space');
			return v;
		},
		async dispose(check = true): Promise<void> {
			try {
				for (const c of clients) await c.close();
				for (let i = 0; i < 400 && server.stats.connections > 0; i++)
					await new Promise((r) => setTimeout(r, 5));
				await drm.settled();
				if (check) {
					expect(server.stats.connections).toBe(0);
					expect(device.stats.vaSpaces).toBe(0);
					expect(device.stats.channels).toBe(0);
					expect(device.vramUsed()).toBe(vramBase);
					expect(gpu.dma.bytesInUse).toBe(dmaBase);
					expect(errors).toEqual([]);
				}
			} finally {
				await server.close();
				rmSync(dir, { recursive: true, force: true });
				await device.close();
				await gpu.close();
			}
		},
	};
}

/** RM's page directory base for a core VA space (its tables are coherent system memory). */
function pdbOf(vas: CoreVaSpace) {
	return {
		aperture: 'sys-coherent',
		address: vas.pdb.address,
		bigPageSize: 65536,
		useVer2PtFormat: true,
	} as const;
}

async function waitSignalled(c: DrmClient, handle: number): Promise<void> {
	const deadline = (await c.now()) + 60_000_000_000n;
	await c.syncobjWait([handle], { timeoutNs: deadline });
}

function kernelMappingsInside(vas: CoreVaSpace, lo: bigint, hi: bigint): void {
	const kernel = vas.mappings.filter((m) => m.owner === 'kernel');
	expect(kernel.length).toBeGreaterThan(0);
	for (const m of kernel) {
		expect(m.va >= lo && m.va + m.size <= hi, `kernel mapping at 0x${m.va.toString(16)}`).toBe(true);
	}
}

describe.each(BRANCHES)('the client VA layout on core with GSP-RM $version', ({ branch }) => {
	it("NVK's VM_INIT {1<<39, 1<<39}: binds at 8 GiB, 256 GiB and 4 GiB; CHANNEL_ALLOC + EXEC copy through them", async () => {
		const r = await rig(branch);
		try {
			const a = await r.open();
			await a.vmInit(NVK_KERNEL.addr, NVK_KERNEL.size);
			const vas = r.lastVaSpace();
			// Externally owned: nothing reserved for RM, the kernel window is the client's kernel range.
			expect(vas.externallyOwned).toBe(true);
			expect(vas.kernelRange).toEqual({ va: NVK_KERNEL.addr, size: NVK_KERNEL.size });
			expect(vas.kernelWindow).toEqual({ va: 1n << 39n, size: 1n << 39n });
			let reserved: unknown;
			try {
				void vas.serverReserved;
			} catch (e) {
				reserved = e;
			}
			expect(isCoreError(reserved, 'CORE_BAD_ARGUMENT')).toBe(true);
			// RM holds the object under the device.
			const rmObjects = r.gpu.gspRm.inspect().objects;
			expect(rmObjects.find((o) => o.hObject >>> 0 === vas.handle >>> 0)).toMatchObject({ classId: 0x90f1 });

			const src = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_GART });
			const dst = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const pb = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_GART });
			const VA = { src: 8n * GiB, dst: 256n * GiB, pb: 4n * GiB };
			const sent = patternBytes(SIZE, 7);
			await a.pwrite(src.handle, 0n, sent);
			await a.pwrite(dst.handle, 0n, new Uint8Array(SIZE));
			const words = ceCopyWords(VA.src, VA.dst, SIZE);
			await a.pwrite(pb.handle, 0n, words);

			const bound = await a.syncobjCreate();
			await a.vmBind({
				ops: [
					{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: src.handle, addr: VA.src, range: BigInt(SIZE) },
					{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: dst.handle, addr: VA.dst, range: BigInt(SIZE) },
					// RM's SPLIT_VAS range of an RM-managed VA space: the client's here.
					{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: pb.handle, addr: VA.pb, range: BigInt(SIZE) },
				],
				sig: [{ handle: bound }],
			});
			const { channel } = await a.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE });
			// core's rings, pushbuffers and semaphores are all inside the client's kernel range (below 2^40).
			kernelMappingsInside(vas, 1n << 39n, 1n << 40n);

			const done = await a.syncobjCreate();
			await a.exec({
				channel,
				pushes: [{ va: VA.pb, length: words.length }],
				wait: [{ handle: bound }],
				sig: [{ handle: done }],
			});
			await waitSignalled(a, done);
			expect(Buffer.from(await a.pread(dst.handle, 0n, SIZE)).equals(Buffer.from(sent))).toBe(true);

			// The GPU's own MMU walks the root RM was given: 256 GiB is VRAM, 8 GiB and 4 GiB system memory.
			const t = r.gpu.mmu.translate(pdbOf(vas), VA.dst + 0x1234n, 'read');
			expect(t).toMatchObject({ ok: true, aperture: 'video' });
			expect(r.gpu.mmu.translate(pdbOf(vas), VA.pb, 'read')).toMatchObject({
				ok: true,
				aperture: 'sys-coherent',
			});

			// The kernel range is refused to binds (drm_gpuvm_range_valid); right above it and up to 2^47 is fine.
			const map = (addr: bigint, range = 0x1_0000n) =>
				a.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: src.handle, addr, range }] });
			await expectErrno(map(1n << 39n), 'EINVAL');
			await expectErrno(map((1n << 39n) - 0x1_0000n, 0x2_0000n), 'EINVAL');
			await expectErrno(map((1n << 40n) - 0x1_0000n), 'EINVAL');
			await map(1n << 40n);
			await map((1n << 47n) - 0x1_0000n);
			await expectErrno(map(1n << 47n), 'EINVAL');
			expect(r.probe.kernelWaits).toBe(0);
		} finally {
			await r.dispose();
		}
	}, 60_000);
});

describe('VM_INIT edge cases answer what nouveau answers', () => {
	it('{0,0}, {0,4 GiB}, a range above 2^40, an unaligned range, no VM_INIT at all', async () => {
		const r = await rig('570');
		try {
			const bind = async (c: DrmClient, addr: bigint) => {
				const g = await c.gemNew({ size: 0x1_0000n, domain: NOUVEAU_GEM_DOMAIN_GART });
				await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: g.handle, addr, range: 0x1000n }] });
			};

			// {0, 0}: no kernel-managed area. Binds anywhere (drm_gpuvm ignores an empty kernel node); a channel has no
			// room for its ring: nvkm_vmm_get finds no free block, ENOSPC.
			const z = await r.open();
			await z.vmInit(0n, 0n);
			expect(r.lastVaSpace().kernelWindow.size).toBe(0n);
			await bind(z, 0x10_0000n);
			await bind(z, 4n * GiB);
			await bind(z, 0n);
			await expectErrno(z.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE }), 'ENOSPC');

			// {0, 4 GiB}: binds from 4 GiB up, including RM's old [4 GiB, 4.5 GiB); the channel lives below 4 GiB.
			const low = await r.open();
			await low.vmInit(0n, 4n * GiB);
			const lowVas = r.lastVaSpace();
			await bind(low, 4n * GiB + 0x2000_0000n - 0x1000n);
			await bind(low, 4n * GiB);
			await expectErrno(bind(low, 4n * GiB - 0x1000n), 'EINVAL');
			await low.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE });
			kernelMappingsInside(lowVas, 0x1_0000n, 4n * GiB);

			// A kernel range entirely above the 40-bit pushbuffer limit: VM_INIT is fine, a channel is not.
			const high = await r.open();
			await high.vmInit(1n << 41n, 1n << 41n);
			await bind(high, 1n << 40n);
			await expectErrno(high.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE }), 'ENOSPC');

			// Unaligned (nouveau checks no alignment): binds stay off every byte of [0x1800, 0x11800).
			const odd = await r.open();
			await odd.vmInit(0x1800n, 0x1_0000n);
			await bind(odd, 0n);
			await expectErrno(bind(odd, 0x1000n), 'EINVAL');
			await expectErrno(bind(odd, 0x1_1000n), 'EINVAL');
			await bind(odd, 0x1_2000n);

			// Past the 47-bit VA, or wrapping: EINVAL.
			const bad = await r.open();
			await expectErrno(bad.vmInit(1n << 46n, (1n << 46n) + 0x1000n), 'EINVAL');
			await expectErrno(bad.vmInit((1n << 64n) - 0x1000n, 0x2000n), 'EINVAL');

			// No VM_INIT: a legacy channel (the whole VA is the kernel's); VM_INIT is ENOSYS afterwards.
			const legacy = await r.open();
			const ch = await legacy.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE });
			expect(ch.channel).toBeGreaterThanOrEqual(0);
			const legacyVas = r.lastVaSpace();
			expect(legacyVas.externallyOwned).toBe(true);
			kernelMappingsInside(legacyVas, 0x1_0000n, 1n << 40n);
			await expectErrno(legacy.vmInit(0n, 4n * GiB), 'ENOSYS');
		} finally {
			await r.dispose();
		}
	}, 60_000);
});

describe.each(BRANCHES)('VM_BIND pipelined behind CHANNEL_ALLOC, GSP-RM $version', ({ branch }) => {
	it('waits for the kernel mappings and proceeds; EXEC and later binds keep their order; all-or-nothing', async () => {
		const r = await rig(branch);
		try {
			const a = await r.open();
			await a.vmInit(NVK_KERNEL.addr, NVK_KERNEL.size);
			const vas = r.lastVaSpace();
			const src = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_VRAM });
			const dst = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_GART });
			const pb = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_GART });
			const extra = await a.gemNew({ size: BigInt(SIZE), domain: NOUVEAU_GEM_DOMAIN_GART });
			const VA = { src: 8n * GiB, dst: 256n * GiB, pb: 16n * GiB, extra: 32n * GiB };
			const sent = patternBytes(SIZE, 11);
			await a.pwrite(src.handle, 0n, sent);
			const words = ceCopyWords(VA.src, VA.dst, SIZE);
			await a.pwrite(pb.handle, 0n, words);
			await a.vmBind({
				ops: [
					{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: dst.handle, addr: VA.dst, range: BigInt(SIZE) },
					{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: pb.handle, addr: VA.pb, range: BigInt(SIZE) },
				],
			});
			const first = await a.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE });
			const bound = await a.syncobjCreate();
			const done = await a.syncobjCreate();

			// CHANNEL_ALLOC is held inside its kernel work; everything after it is sent without waiting for replies.
			const release = r.holdChannels();
			const settled: string[] = [];
			const track = <T>(name: string, p: Promise<T>) =>
				p.then(
					(v) => {
						settled.push(name);
						return v;
					},
					(e: unknown) => {
						settled.push(name);
						throw e;
					},
				);
			const second = track('channel', a.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE }));
			const bind = track(
				'bind',
				a.vmBind({
					ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: src.handle, addr: VA.src, range: BigInt(SIZE) }],
					sig: [{ handle: bound }],
				}),
			);
			// On the first channel, reading what the waiting bind maps (it must see that bind, and its fence).
			const exec = track(
				'exec',
				a.exec({
					channel: first.channel,
					pushes: [{ va: VA.pb, length: words.length }],
					wait: [{ handle: bound }],
					sig: [{ handle: done }],
				}),
			);
			// Fails as a whole: its first op must not be left behind.
			const failing = track(
				'failing',
				a.vmBind({
					ops: [
						{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: extra.handle, addr: VA.extra, range: BigInt(SIZE) },
						{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: extra.handle, addr: 1n << 39n, range: BigInt(SIZE) },
					],
				}),
			);
			// (A failure below must not leave these rejected and unobserved.)
			for (const p of [second, bind, exec, failing]) p.catch(() => undefined);
			for (let i = 0; i < 400 && r.probe.kernelWaits === 0; i++)
				await new Promise((res) => setTimeout(res, 2));
			// The bind found the VA space busy and waits; nothing behind it has been answered either.
			expect(r.probe.kernelWaits).toBeGreaterThan(0);
			expect(settled).toEqual([]);
			release();

			const ch2 = await second;
			await bind;
			await exec;
			await expectErrno(failing, 'EINVAL');
			expect(ch2.channel).not.toBe(first.channel);
			// EXEC ran after the bind was submitted: waiting on `bound` before that would have been EINVAL (no fence),
			// and its copy reads through the new mapping.

			await waitSignalled(a, done);
			expect(Buffer.from(await a.pread(dst.handle, 0n, SIZE)).equals(Buffer.from(sent))).toBe(true);
			// All-or-nothing: the failed bind left no mapping at VA.extra.
			expect(vas.translate(VA.extra).valid).toBe(false);
			expect(vas.translate(VA.src)).toMatchObject({ valid: true, aperture: 'video' });
			kernelMappingsInside(vas, 1n << 39n, 1n << 40n);
		} finally {
			await r.dispose();
		}
	}, 60_000);
});

describe.each(BRANCHES)('core: externally owned VA spaces, GSP-RM $version', ({ branch }) => {
	it('kernel window in the client range; client maps anywhere else; re-promoted by a reset; freed by destroy', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		try {
			const dmaBase = gpu.dma.bytesInUse;
			const rmBase = gpu.gspRm.inspect().objects.length;
			const vas = await device.createVaSpace({
				externallyOwned: true,
				kernelRange: { va: NVK_KERNEL.addr, size: NVK_KERNEL.size },
				name: 'nvk',
			});
			expect(vas.kernelWindow).toEqual({ va: 1n << 39n, size: 1n << 39n });
			// Only the VA space object is new in RM (no memory or reservation of its own).
			expect(gpu.gspRm.inspect().objects.length).toBe(rmBase + 1);
			const sys = device.allocMemory({ size: 2 * 4096, placement: 'sysmem', label: 'sys' });
			const vram = device.allocMemory({ size: 64 << 10, placement: 'vram', label: 'vram' });
			const k = vas.map(sys);
			expect(k.owner).toBe('kernel');
			expect(k.va >= 1n << 39n && k.va < 1n << 40n).toBe(true);
			// RM's SPLIT_VAS range is a client address like any other here.
			const c = vas.map(vram, { va: 4n * GiB });
			expect(c.owner).toBe('client');
			expect(() => vas.map(vram, { va: 1n << 39n })).toThrow(
				expect.objectContaining({ code: 'MMU_RANGE_INVALID' }),
			);
			expect(gpu.mmu.translate(pdbOf(vas), 4n * GiB + 0x10n, 'read')).toMatchObject({
				ok: true,
				aperture: 'video',
			});

			// A reset forgets RM's objects: the same page tables are promoted again (flag + SET_PAGE_DIRECTORY), so a
			// channel (which RM refuses in an external VA space without a root) runs in it and copies.
			await device.reset('test');
			const { sent, back } = await copyRoundTrip(device, vas, 16 * 1024, 3);
			expect(Buffer.from(back).equals(Buffer.from(sent))).toBe(true);

			vas.unmap(k);
			vas.unmap(c);
			sys.free();
			vram.free();
			await vas.destroy();
			expect(device.stats.vaSpaces).toBe(0);
			expect(gpu.gspRm.inspect().objects.length).toBe(rmBase);
			expect(gpu.dma.bytesInUse).toBe(dmaBase);

			// A kernel range past the VA end is refused before anything is allocated.
			const err = await device
				.createVaSpace({ externallyOwned: true, kernelRange: { va: 1n << 49n, size: 0x1000n } })
				.catch((e: unknown) => e);
			expect(isCoreError(err, 'CORE_BAD_ARGUMENT')).toBe(true);
			expect(gpu.dma.bytesInUse).toBe(dmaBase);
			// An empty window: core has no room for its own mappings.
			const empty = await device.createVaSpace({ externallyOwned: true, kernelRange: { va: 0n, size: 0n } });
			expect(empty.kernelWindow.size).toBe(0n);
			const m = device.allocMemory({ size: 4096, placement: 'sysmem' });
			let full: unknown;
			try {
				empty.map(m);
			} catch (e) {
				full = e;
			}
			expect(isCoreError(full, 'CORE_VA_EXHAUSTED')).toBe(true);
			m.free();
			await empty.destroy();
		} finally {
			await device.close();
			await gpu.close();
		}
	}, 60_000);
});

describe('externalVaSpaceAbi: the SET/UNSET_PAGE_DIRECTORY encoding of each branch', () => {
	it.each([
		['r535', r535],
		['r570', r570],
	] as const)('%s', (_name, abi) => {
		const x = externalVaSpaceAbi(abi);
		expect(x.externallyOwnedFlag).toBe(1 << 3); // nvrm/vmm.h: BIT(3)
		const set = x.setPageDirectory({
			hVASpace: 0x90f1_0007,
			root: { address: 0x1_2345_6000n, aperture: 'sysCoherent' },
			numEntries: 4,
		});
		expect(set.cmd).toBe(0x801813);
		// NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS: physAddress @0, numEntries @8, flags @12 (APERTURE 1:0),
		// hVASpace @16, chId @20, subDeviceId @24, pasid @28.
		expect(set.params.length).toBe(32);
		const dv = new DataView(set.params.buffer, set.params.byteOffset, set.params.byteLength);
		expect(dv.getBigUint64(0, true)).toBe(0x1_2345_6000n);
		expect([8, 12, 16, 20, 24, 28].map((o) => dv.getUint32(o, true))).toEqual([4, 1, 0x90f1_0007, 0, 0, 0]);
		const flagsOf = (aperture: 'video' | 'sysCoherent' | 'sysNonCoherent') =>
			new DataView(
				x.setPageDirectory({ hVASpace: 1, root: { address: 0n, aperture }, numEntries: 4 }).params.buffer,
			).getUint32(12, true);
		expect([flagsOf('video'), flagsOf('sysCoherent'), flagsOf('sysNonCoherent')]).toEqual([0, 1, 2]);
		const unset = x.unsetPageDirectory({ hVASpace: 0x90f1_0007 });
		expect(unset.cmd).toBe(0x801814);
		expect([...new Uint32Array(unset.params.slice().buffer)]).toEqual([0x90f1_0007, 0]);
	});

	it('an ABI whose manifest lacks the calls is CORE_ABI_UNSUPPORTED', () => {
		const bare = {
			version: '999.1',
			manifest: { format: 'gspkit-abi-manifest/1', version: '999.1', types: [], constants: [] },
		} as unknown as FirmwareAbi;
		let err: unknown;
		try {
			externalVaSpaceAbi(bare);
		} catch (e) {
			err = e;
		}
		expect(isCoreError(err, 'CORE_ABI_UNSUPPORTED')).toBe(true);
		expect((err as { details: { missing: string[] } }).details.missing).toContain(
			'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS',
		);
	});
});
