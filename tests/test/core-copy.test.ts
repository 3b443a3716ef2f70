/**
 * Copy jobs through `@gspkit/core`'s channels and scheduler on the simulated host and copy engines, verified
 * byte for byte, with GSP-RM booted from either firmware branch and on Turing and Ampere classes.
 */

import { openDevice } from '@gspkit/core';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { RealClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import {
	ABIS,
	BRANCHES,
	copyRoundTrip,
	firstDiff,
	openSynthetic,
	patternBytes,
	syntheticFiles,
} from './core-kit.ts';

describe.each(BRANCHES)('copy jobs with GSP-RM $version', ({ branch }) => {
	it('sysmem → VRAM → sysmem comes back byte for byte', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		try {
			const vas = await device.createVaSpace();
			const size = 256 * 1024 + 4096; // not a power of two: the tail page must be copied too
			const { sent, back, vram } = await copyRoundTrip(device, vas, size, 7);
			expect(firstDiff(back, sent)).toBe(-1);
			expect(firstDiff(vram, sent)).toBe(-1);
			await vas.destroy();
			expect(device.stats).toMatchObject({ channels: 0, vaSpaces: 0, sysmem: { objects: 0 } });
		} finally {
			await device.close();
			await gpu.close();
		}
	});

	it('places the instance block and USERD in VRAM, the method buffer in system memory; the host uses that USERD', async () => {
		const { gpu, device } = await openSynthetic('ga102', branch);
		try {
			const vas = await device.createVaSpace();
			const vramBefore = device.stats.vram.used;
			const ch = await device.createChannel(vas, { engine: 'copy', entries: 64 });
			const info = gpu.gspRm.inspect().channels.find((c) => c.hObject === ch.hardware.hChannel)?.info;
			// Reference C.8: instanceMem/ramfcMem/userdMem in FB (NV_ADDRESS_SPACE 2), mthdbufMem in sysmem (1).
			expect(info?.instanceMem).toMatchObject({ addressSpace: 2, cacheAttrib: 1, size: 0x1000n });
			expect(info?.ramfcMem).toMatchObject({ addressSpace: 2, base: info?.instanceMem.base, size: 0x200n });
			expect(info?.userdMem).toMatchObject({ addressSpace: 2, cacheAttrib: 1, size: 0x200n });
			expect(info?.mthdbufMem).toMatchObject({ addressSpace: 1, cacheAttrib: 0 });
			// Both blocks come from the driver's FB heap, one page each.
			expect(device.stats.vram.used - vramBefore).toBe(2n * 4096n);
			const userd = info?.userdMem.base as bigint;
			expect(userd % 4096n).toBe(0n);
			expect(userd).not.toBe(info?.instanceMem.base);

			const mem = device.allocMemory({ size: 8192, placement: 'sysmem' });
			const data = patternBytes(4096, 5);
			mem.write(0, data);
			const m = vas.map(mem);
			const jobs = [0, 1, 2].map(() => ch.copy({ src: m.va, dst: m.va + 4096n, length: 4096 }));
			for (const j of jobs) await j.finished.result();
			expect(firstDiff(mem.read(4096, 4096), data)).toBe(-1);
			// USERD as the GPU sees it in VRAM: our GP_PUT (0x8c) was read there, the host's GP_GET (0x88)
			// written there, and the CPU side reads the same value back through BAR1.
			const word = (off: bigint) => {
				const b = new Uint8Array(4);
				gpu.fb.read(userd + off, b);
				return new DataView(b.buffer).getUint32(0, true);
			};
			const put = ch.rmChannel.channel.put;
			expect(put).toBe(6); // three jobs: one copy push and one fence each
			expect(word(0x8cn)).toBe(put);
			expect(word(0x88n)).toBe(put);
			expect(ch.rmChannel.channel.get).toBe(put);

			vas.unmap(m);
			mem.free();
			await ch.destroy();
			expect(device.stats.vram.used).toBe(vramBefore);
			await vas.destroy();
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('channel details', () => {
	it('uses the generation classes, the RM token and a scheduler with fills, copies and dependencies', async () => {
		const { gpu, device } = await openSynthetic('tu102', '570');
		try {
			const vas = await device.createVaSpace();
			const ch = await device.createChannel(vas, { engine: 'copy', entries: 64 });
			// Turing: TURING_CHANNEL_GPFIFO_A + TURING_DMA_COPY_A, doorbell in the Turing usermode region.
			expect(ch.hardware).toMatchObject({
				hostClass: 0xc46f,
				copyClass: 0xc5b5,
				doorbellOffset: 0x810090,
				entries: 64,
			});
			// The token is what RM returned: CHID | RUNLIST_ID << 16, on CE0's runlist.
			const ce0 = device.info.engines.find((e) => e.name === 'CE0');
			expect(ch.hardware.workSubmitToken).toBe(((ch.hardware.runlistId << 16) | ch.hardware.chid) >>> 0);
			if (ce0?.runlist !== undefined) expect(ch.hardware.runlistId).toBe(ce0.runlist);

			const n = 64 * 1024;
			const a = device.allocMemory({ size: n, placement: 'sysmem', label: 'a' });
			const b = device.allocMemory({ size: n, placement: 'sysmem', label: 'b' });
			const ma = vas.map(a);
			const mb = vas.map(b);
			const data = patternBytes(n, 99);
			a.write(0, data);
			// Two entities: the fill of b must land before the copy into its first half (explicit dependency),
			// the second half keeps the fill value.
			const e1 = ch.createEntity('one', 'normal');
			const e2 = ch.createEntity('two', 'high');
			const fill = ch.fill({ dst: mb.va, length: n, value: 0xa5c3_0f1e }, { entity: e1 });
			const copy = ch.copy(
				{ src: ma.va, dst: mb.va, length: n / 2 },
				{ entity: e2, dependencies: [fill.finished] },
			);
			await copy.finished.result();
			expect(fill.finished.signalled).toBe(true);
			const got = b.read(0, n);
			expect(firstDiff(got.subarray(0, n / 2), data.subarray(0, n / 2))).toBe(-1);
			const dv = new DataView(got.buffer, got.byteOffset + n / 2, n / 2);
			for (let i = 0; i < n / 2; i += 4) expect(dv.getUint32(i, true)).toBe(0xa5c3_0f1e);

			// More jobs than ring entries: back-pressure through the scheduler's credits.
			const jobs = [];
			for (let i = 0; i < 80; i++)
				jobs.push(ch.copy({ src: ma.va + BigInt(i * 512), dst: mb.va + BigInt(i * 512), length: 512 }));
			for (const j of jobs) await j.finished.result();
			expect(firstDiff(b.read(0, 80 * 512), data.subarray(0, 80 * 512))).toBe(-1);
			expect(ch.scheduler.stats.completed).toBe(82);
			expect(ch.killed).toBe(false);

			await ch.destroy();
			// The channel is gone from RM (its handle was freed with it).
			expect(gpu.gspRm.inspect().channels).toHaveLength(0);
			vas.unmap(ma);
			vas.unmap(mb);
			a.free();
			b.free();
			await vas.destroy();
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});

describe('GSP-RM in a worker thread', () => {
	it('the same driver code runs against the emulator on its own thread (real clock)', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102', clock: new RealClock() });
		expect(gpu.gspRm.mode).toBe('worker');
		const device = await openDevice(gpu, {
			abis: ABIS,
			firmware: { files: syntheticFiles('ga102') },
			abiOverride: '535',
		});
		try {
			const vas = await device.createVaSpace();
			const { sent, back } = await copyRoundTrip(device, vas, 64 * 1024, 11);
			expect(firstDiff(back, sent)).toBe(-1);
			const snap = await gpu.gspRm.snapshot();
			expect(snap.objects.filter((o) => o.hClient === 0xc1d00000).map((o) => o.classId)).toEqual([
				0x0, 0x80, 0x2080, 0x90f1,
			]);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});
