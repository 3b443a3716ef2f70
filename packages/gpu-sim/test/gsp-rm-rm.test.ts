import { sizeof } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import { simChipSpec } from '../src/chips.ts';
import { gspChipConfig, NV_STATUS, tpcCount } from '../src/gsp-rm/index.ts';
import { booted, cls, dec, enc, fn, L, type TestDriver, VERSIONS, type Version } from './gsp-rm-testkit.ts';

const S = NV_STATUS;

const CTRL = {
	GPC_INFO: 0x2080_0137,
	TPC_INFO: 0x2080_0138,
	INTR_TABLE: 0x2080_0a5c,
	DEVICE_INFO_TABLE: 0x2080_1112,
	CE_FAULT_METHOD_BUFFER: 0x2080_2a08,
	COPY_SERVER_RESERVED_PDES: 0x90f1_0106,
	GPFIFO_SCHEDULE: 0xa06f_0103,
	BIND: 0xa06f_0104,
	WORK_SUBMIT_TOKEN: 0xc36f_0108,
};

function popcount(v: number): number {
	let n = 0;
	for (let x = v >>> 0; x; x >>>= 1) n += x & 1;
	return n;
}

/** GPC/TPC layout the driver learns: static info in r535, GR controls in r570 (reference §3). */
async function gpcTpc(
	d: TestDriver,
	hClient: number,
	hSub: number,
	info: Record<string, unknown>,
): Promise<number[]> {
	if (d.version === '535.113.01') {
		const gpcMask = (info.gpcInfo as Record<string, number>).gpcMask!;
		const tpc = info.tpcInfo as Record<string, number>[];
		return Array.from({ length: popcount(gpcMask) }, (_, g) => popcount(tpc[g]!.tpcMask!));
	}
	expect(info).not.toHaveProperty('gpcInfo');
	const g = await d.rmControl(hClient, hSub, CTRL.GPC_INFO, new Uint8Array(4));
	expect(g.status).toBe(S.NV_OK);
	const gpcMask = new DataView(g.params.buffer).getUint32(0, true);
	const out: number[] = [];
	for (let gpc = 0; gpc < popcount(gpcMask); gpc++) {
		const p = enc(d.version, 'NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS', { gpcId: gpc });
		const t = await d.rmControl(hClient, hSub, CTRL.TPC_INFO, p);
		expect(t.status).toBe(S.NV_OK);
		out.push(
			popcount(dec(d.version, 'NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS', t.params).tpcMask as number),
		);
	}
	return out;
}

describe('GET_GSP_STATIC_INFO and the GPC/TPC layout', () => {
	for (const version of VERSIONS) {
		it(`${version}: static info in the booted layout, with handles that exist and regions matching VRAM`, async () => {
			const d = await booted(version);
			const { raw, info } = await d.staticInfo();
			expect(raw.length).toBe(version === '535.113.01' ? 2168 : 1656);
			expect(info.gpuNameString).toBeDefined();
			const name = new TextDecoder().decode((info.gpuShortNameString as Uint8Array).subarray(0, 5));
			expect(name).toBe('GA102');
			// The internal objects exist: nouveau's first control goes to the internal subdevice.
			const intr = await d.rmControl(
				info.hInternalClient as number,
				info.hInternalSubdevice as number,
				CTRL.INTR_TABLE,
				enc(version, 'NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS'),
			);
			expect(intr.status).toBe(S.NV_OK);
			const t = dec(version, 'NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS', intr.params);
			const idx = (t.table as Record<string, number>[])
				.slice(0, t.tableLen as number)
				.map((e) => e.engineIdx);
			// MC_ENGINE_IDX numbering changed in r570 (GSP 49 -> 50, GR0 82 -> 84).
			expect(idx).toContain(version === '535.113.01' ? 49 : 50);
			expect(idx).toContain(version === '535.113.01' ? 82 : 84);
			// FB regions tile the simulated VRAM; only the first is the driver's.
			const fb = info.fbRegionInfoParams as {
				numFBRegions: number;
				fbRegion: Record<string, bigint | number>[];
			};
			const regions = fb.fbRegion.slice(0, fb.numFBRegions);
			expect(regions[0]!.base).toBe(0n);
			expect(regions[0]!.reserved).toBe(0n);
			for (let i = 1; i < regions.length; i++) {
				expect(regions[i]!.base).toBe((regions[i - 1]!.limit as bigint) + 1n);
				expect(regions[i]!.reserved).not.toBe(0n);
			}
			expect(regions.at(-1)!.limit).toBe(d.rig.vramSize - 1n);
			expect(info.fb_length).toBe(d.rig.vramSize);
			// BAR page directories sit in RM's private VRAM, above the driver's region.
			for (const pde of [info.bar1PdeBase, info.bar2PdeBase] as bigint[]) {
				expect(pde).toBeGreaterThan(regions[0]!.limit as bigint);
				expect(pde).toBeLessThan(d.rig.vramSize);
			}
		});
	}

	const chips: [string, number, number][] = [
		['ga102', 7, 41],
		['tu102', 6, 34],
		['ga100', 7, 54],
		['ad102', 11, 64],
		['gh100', 8, 66],
	];
	for (const [chip, gpcs, tpcs] of chips) {
		it(`${chip}: both firmware branches report ${gpcs} GPCs and ${tpcs} TPCs`, async () => {
			const seen: number[][] = [];
			for (const version of VERSIONS) {
				const d = await booted(version, { chip });
				const { hClient, hSubdevice } = await d.basicTree();
				const { info } = await d.staticInfo();
				seen.push(await gpcTpc(d, hClient, hSubdevice, info));
			}
			expect(seen[0]).toEqual(seen[1]);
			expect(seen[0]!.length).toBe(gpcs);
			expect(seen[0]!.reduce((a, b) => a + b, 0)).toBe(tpcs);
			expect(tpcCount(gspChipConfig(simChipSpec(chip)))).toBe(tpcs);
		});
	}
});

describe('RM object tree and NV_STATUS', () => {
	for (const version of VERSIONS) {
		it(`${version}: returns RM's status for bad handles, classes, parents and parameter sizes`, async () => {
			const d = await booted(version);
			const v = version;
			const { hClient, hDevice, hSubdevice } = await d.basicTree();
			const dev = enc(v, 'NV0080_ALLOC_PARAMETERS');
			const vas = enc(v, 'NV_VASPACE_ALLOCATION_PARAMETERS');
			const status = async (...a: Parameters<TestDriver['rmAlloc']>) => (await d.rmAlloc(...a)).status;
			expect(await status(0xc1d0_0999, 0xc1d0_0999, 0x1234, cls(v, 'NV01_DEVICE_0'), dev)).toBe(
				S.NV_ERR_INVALID_CLIENT,
			);
			expect(await status(hClient, hClient, 0x1234, 0xbeef, dev)).toBe(S.NV_ERR_INVALID_CLASS);
			expect(await status(hClient, 0x9999, 0x1234, cls(v, 'FERMI_VASPACE_A'), vas)).toBe(
				S.NV_ERR_OBJECT_NOT_FOUND,
			);
			expect(await status(hClient, hClient, 0x1234, cls(v, 'FERMI_VASPACE_A'), vas)).toBe(
				S.NV_ERR_INVALID_OBJECT_PARENT,
			);
			expect(
				await status(hClient, hClient, 0x1234, cls(v, 'NV20_SUBDEVICE_0'), enc(v, 'NV2080_ALLOC_PARAMETERS')),
			).toBe(S.NV_ERR_INVALID_OBJECT_PARENT);
			expect(await status(hClient, hClient, hSubdevice, cls(v, 'NV01_DEVICE_0'), dev)).toBe(
				S.NV_ERR_INSERT_DUPLICATE_NAME,
			);
			expect(await status(hClient, hDevice, hClient, cls(v, 'FERMI_VASPACE_A'), vas)).toBe(
				S.NV_ERR_INVALID_OBJECT_HANDLE,
			);
			expect(await status(hClient, hClient, 0x1234, cls(v, 'NV01_DEVICE_0'), dev.subarray(0, 40))).toBe(
				S.NV_ERR_INVALID_ARGUMENT,
			);
			expect(await status(hClient, hClient, 0x1234, cls(v, 'NV01_DEVICE_0'))).toBe(S.NV_ERR_INVALID_ARGUMENT);
			expect(
				await status(
					hClient,
					hClient,
					0x1234,
					cls(v, 'NV01_DEVICE_0'),
					enc(v, 'NV0080_ALLOC_PARAMETERS', { deviceId: 1 }),
				),
			).toBe(S.NV_ERR_INVALID_ARGUMENT);
			// A second subdevice 0 under the same device (no parameters = subDeviceId 0).
			expect(await status(hClient, hDevice, 0x1235, cls(v, 'NV20_SUBDEVICE_0'), new Uint8Array(0))).toBe(
				S.NV_ERR_STATE_IN_USE,
			);
			// A client in the other branch's NV0000_ALLOC_PARAMETERS size (108 vs 120 bytes) is refused.
			const other: Version = v === '535.113.01' ? '570.144' : '535.113.01';
			expect(await status(0xc1d0_0002, 0, 0xc1d0_0002, 0, enc(other, 'NV0000_ALLOC_PARAMETERS'))).toBe(
				S.NV_ERR_INVALID_ARGUMENT,
			);
			expect(await status(0xc1d0_0002, 0, 0xc1d0_0002, 0, enc(v, 'NV0000_ALLOC_PARAMETERS'))).toBe(S.NV_OK);
			expect(await status(0xc1d0_0002, 0, 0xc1d0_0002, 0, enc(v, 'NV0000_ALLOC_PARAMETERS'))).toBe(
				S.NV_ERR_INSERT_DUPLICATE_NAME,
			);

			// Controls.
			const ctl = async (c: number, o: number, cmd: number, p: Uint8Array) =>
				(await d.rmControl(c, o, cmd, p)).status;
			expect(await ctl(hClient, hSubdevice, 0x2080_0000, new Uint8Array(0))).toBe(S.NV_OK); // NULL command
			expect(await ctl(hClient, hSubdevice, 0x2080_7fff, new Uint8Array(4))).toBe(S.NV_ERR_NOT_SUPPORTED);
			expect(await ctl(hClient, hSubdevice, CTRL.CE_FAULT_METHOD_BUFFER, new Uint8Array(8))).toBe(
				S.NV_ERR_INVALID_ARGUMENT,
			);
			expect(await ctl(0xc1d0_0999, hSubdevice, CTRL.CE_FAULT_METHOD_BUFFER, new Uint8Array(4))).toBe(
				S.NV_ERR_INVALID_CLIENT,
			);
			expect(await ctl(hClient, 0x4242, CTRL.CE_FAULT_METHOD_BUFFER, new Uint8Array(4))).toBe(
				S.NV_ERR_OBJECT_NOT_FOUND,
			);
			expect(await ctl(hClient, hDevice, CTRL.CE_FAULT_METHOD_BUFFER, new Uint8Array(4))).toBe(
				S.NV_ERR_NOT_SUPPORTED,
			);
			const ce = await d.rmControl(hClient, hSubdevice, CTRL.CE_FAULT_METHOD_BUFFER, new Uint8Array(4));
			expect(new DataView(ce.params.buffer).getUint32(0, true)).toBe(0x5000);
			// Free: unknown client fails, unknown object is a no-op (RS_COMPATABILITY_MODE).
			expect(await d.rmFree(0xc1d0_0999, 0, 0x1)).toBe(S.NV_ERR_INVALID_CLIENT);
			expect(await d.rmFree(hClient, hDevice, 0x4242)).toBe(S.NV_OK);
		});
	}

	it('frees children with their parent, releasing heap memory and channel IDs', async () => {
		const v: Version = '570.144';
		const d = await booted(v);
		const { hClient, hDevice, hSubdevice } = await d.basicTree();
		const objectsBefore = d.rig.gsp.inspect().objects.length;
		const vas = await d.rmAlloc(
			hClient,
			hDevice,
			0x90f1_0000,
			cls(v, 'FERMI_VASPACE_A'),
			enc(v, 'NV_VASPACE_ALLOCATION_PARAMETERS', { bigPageSize: 0x10000 }),
		);
		expect(vas.status).toBe(S.NV_OK);
		const memParams = new Uint8Array(128);
		new DataView(memParams.buffer).setBigUint64(64, 0x20_0000n, true); // size
		const mem = await d.rmAlloc(hClient, hDevice, 0x40_0001, cls(v, 'NV01_MEMORY_LOCAL_USER'), memParams);
		expect(mem.status).toBe(S.NV_OK);
		const offset = new DataView(mem.params.buffer).getBigUint64(80, true);
		const limit = new DataView(mem.params.buffer).getBigUint64(88, true);
		expect(limit - offset + 1n).toBe(0x20_0000n);
		const { info } = await d.staticInfo();
		const fb = info.fbRegionInfoParams as { fbRegion: Record<string, bigint>[] };
		expect(offset).toBeGreaterThanOrEqual(fb.fbRegion[1]!.base!);
		expect(limit).toBeLessThanOrEqual(fb.fbRegion[1]!.limit!);
		const chan = await allocChannel(d, hClient, hDevice, 0xf1f0_0000, 0x90f1_0000, 0);
		expect(chan.status).toBe(S.NV_OK);
		const copy = await d.rmAlloc(
			hClient,
			0xf1f0_0000,
			0xce00_0000,
			cls(v, 'AMPERE_DMA_COPY_B'),
			enc(v, 'NVC0B5_ALLOCATION_PARAMETERS', { version: 1, engineType: 9 }),
		);
		expect(copy.status).toBe(S.NV_OK);
		expect(d.rig.gsp.inspect().objects.length).toBe(objectsBefore + 4);
		expect(await d.rmFree(hClient, hClient, hDevice)).toBe(S.NV_OK);
		const after = d.rig.gsp.inspect();
		expect(after.objects.filter((o) => o.hClient === hClient).map((o) => o.hObject)).toEqual([hClient]);
		expect(after.channels).toHaveLength(0);
		expect(d.rig.gsp.inspect().objects.some((o) => o.hObject === hSubdevice)).toBe(false);
		// The same handles, memory and channel ID are available again.
		const again = await d.basicTree().catch(() => undefined);
		expect(again).toBeUndefined(); // the client still exists
		const dev2 = await d.rmAlloc(
			hClient,
			hClient,
			hDevice,
			cls(v, 'NV01_DEVICE_0'),
			enc(v, 'NV0080_ALLOC_PARAMETERS'),
		);
		expect(dev2.status).toBe(S.NV_OK);
		await d.rmAlloc(
			hClient,
			hDevice,
			0x90f1_0000,
			cls(v, 'FERMI_VASPACE_A'),
			enc(v, 'NV_VASPACE_ALLOCATION_PARAMETERS'),
		);
		expect((await allocChannel(d, hClient, hDevice, 0xf1f0_0000, 0x90f1_0000, 0)).status).toBe(S.NV_OK);
		const mem2 = await d.rmAlloc(hClient, hDevice, 0x40_0001, cls(v, 'NV01_MEMORY_LOCAL_USER'), memParams);
		expect(new DataView(mem2.params.buffer).getBigUint64(80, true)).toBe(offset);
		// Freeing the client frees everything it owns.
		expect(await d.rmFree(hClient, 0, hClient)).toBe(S.NV_OK);
		expect(d.rig.gsp.inspect().objects.some((o) => o.hClient === hClient)).toBe(false);
	});

	it('refuses memory it cannot place', async () => {
		const d = await booted('535.113.01');
		const { hClient, hDevice } = await d.basicTree();
		const p = new Uint8Array(128);
		new DataView(p.buffer).setBigUint64(64, 1n << 40n, true);
		expect((await d.rmAlloc(hClient, hDevice, 0x40_0002, 0x40, p)).status).toBe(S.NV_ERR_NO_MEMORY);
		expect((await d.rmAlloc(hClient, hDevice, 0x40_0002, 0x40, new Uint8Array(128))).status).toBe(
			S.NV_ERR_INVALID_ARGUMENT,
		);
	});
});

async function allocChannel(
	d: TestDriver,
	hClient: number,
	hDevice: number,
	handle: number,
	hVASpace: number,
	chid: number,
	engineType = 1,
) {
	// nouveau's flags: USERD_INDEX_FIXED | USERD_INDEX_PAGE_FIXED | index chid % 8 | page chid / 8.
	const flags = (1 << 11) | (1 << 21) | ((chid % 8) << 8) | (Math.floor(chid / 8) << 12);
	const desc = { base: 0x1000n, size: 0x1000n, addressSpace: 2, cacheAttrib: 0 };
	const p = enc(d.version, 'NV_CHANNEL_ALLOC_PARAMS', {
		gpFifoOffset: 0x10_0000n,
		gpFifoEntries: 512,
		flags,
		hVASpace,
		engineType,
		instanceMem: desc,
		userdMem: desc,
		ramfcMem: desc,
		mthdbufMem: { ...desc, addressSpace: 1 },
	});
	const classes: Record<Version, string> = {
		'535.113.01': 'AMPERE_CHANNEL_GPFIFO_A',
		'570.144': 'AMPERE_CHANNEL_GPFIFO_A',
	};
	return d.rmAlloc(hClient, hDevice, handle, cls(d.version, classes[d.version]), p);
}

describe('channel and VA-space controls', () => {
	for (const version of VERSIONS) {
		it(`${version}: VA space PDEs, channel alloc, bind, schedule and the work-submit token`, async () => {
			const v = version;
			const d = await booted(v);
			const { hClient, hDevice, hSubdevice } = await d.basicTree();
			expect(
				(
					await d.rmAlloc(
						hClient,
						hDevice,
						0x90f1_0000,
						cls(v, 'FERMI_VASPACE_A'),
						enc(v, 'NV_VASPACE_ALLOCATION_PARAMETERS'),
					)
				).status,
			).toBe(S.NV_OK);
			const pdes = enc(v, 'NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS', {
				hSubDevice: hSubdevice,
				pageSize: 0x20_0000n,
				virtAddrLo: 0x1_0000_0000n,
				virtAddrHi: 0x1_1fff_ffffn,
				numLevelsToCopy: 2,
				levels: [
					{ physAddress: 0x40_0000n, size: 0x1000n, aperture: 1, pageShift: 47 },
					{ physAddress: 0x40_1000n, size: 0x1000n, aperture: 1, pageShift: 38 },
					{},
					{},
					{},
					{},
				],
			});
			expect((await d.rmControl(hClient, 0x90f1_0000, CTRL.COPY_SERVER_RESERVED_PDES, pdes)).status).toBe(
				S.NV_OK,
			);
			const outside = enc(v, 'NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS', {
				numLevelsToCopy: 1,
				virtAddrLo: 0n,
				virtAddrHi: 0xfffn,
				levels: [{}, {}, {}, {}, {}, {}],
			});
			expect((await d.rmControl(hClient, 0x90f1_0000, CTRL.COPY_SERVER_RESERVED_PDES, outside)).status).toBe(
				S.NV_ERR_INVALID_ARGUMENT,
			);

			const a = await allocChannel(d, hClient, hDevice, 0xf1f0_0003, 0x90f1_0000, 3);
			expect(a.status).toBe(S.NV_OK);
			expect((await allocChannel(d, hClient, hDevice, 0xf1f0_0004, 0x90f1_0000, 3)).status).toBe(
				S.NV_ERR_IN_USE,
			);
			expect((await allocChannel(d, hClient, hDevice, 0xf1f0_0005, 0x4242, 5)).status).toBe(
				S.NV_ERR_INVALID_OBJECT_HANDLE,
			);
			expect((await allocChannel(d, hClient, hDevice, 0xf1f0_0006, 0x90f1_0000, 6, 0x77)).status).toBe(
				S.NV_ERR_INVALID_ARGUMENT,
			);
			const sched = enc(v, 'NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS', { bEnable: 1 });
			expect((await d.rmControl(hClient, 0xf1f0_0003, CTRL.GPFIFO_SCHEDULE, sched)).status).toBe(
				S.NV_ERR_INVALID_STATE,
			);
			expect(
				(
					await d.rmControl(
						hClient,
						0xf1f0_0003,
						CTRL.BIND,
						enc(v, 'NVA06F_CTRL_BIND_PARAMS', { engineType: 9 }),
					)
				).status,
			).toBe(S.NV_ERR_INVALID_ARGUMENT);
			expect(
				(
					await d.rmControl(
						hClient,
						0xf1f0_0003,
						CTRL.BIND,
						enc(v, 'NVA06F_CTRL_BIND_PARAMS', { engineType: 1 }),
					)
				).status,
			).toBe(S.NV_OK);
			expect((await d.rmControl(hClient, 0xf1f0_0003, CTRL.GPFIFO_SCHEDULE, sched)).status).toBe(S.NV_OK);
			const tok = await d.rmControl(hClient, 0xf1f0_0003, CTRL.WORK_SUBMIT_TOKEN, new Uint8Array(4));
			expect(tok.status).toBe(S.NV_OK);
			expect(new DataView(tok.params.buffer).getUint32(0, true)).toBe((0 << 16) | 3); // GR runlist 0, chid 3
			const ch = d.rig.gsp.inspect().channels[0]!;
			expect(ch.info).toMatchObject({
				chid: 3,
				runlist: 0,
				bound: true,
				scheduled: true,
				gpFifoEntries: 512,
			});
			// Copy-engine channels get the runlist of their CE.
			await allocChannel(d, hClient, hDevice, 0xf1f0_0010, 0x90f1_0000, 0, 10);
			const tok2 = await d.rmControl(hClient, 0xf1f0_0010, CTRL.WORK_SUBMIT_TOKEN, new Uint8Array(4));
			expect(new DataView(tok2.params.buffer).getUint32(0, true)).toBe((2 << 16) | 0); // COPY1 on runlist 2
		});
	}

	it('describes the engines in FIFO_GET_DEVICE_INFO_TABLE with the branch numbering', async () => {
		for (const version of VERSIONS) {
			const d = await booted(version);
			const { hClient, hSubdevice } = await d.basicTree();
			const r = await d.rmControl(
				hClient,
				hSubdevice,
				CTRL.DEVICE_INFO_TABLE,
				enc(version, 'NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS'),
			);
			expect(r.status).toBe(S.NV_OK);
			const t = dec(version, 'NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS', r.params);
			const entries = (t.entries as Record<string, unknown>[]).slice(0, t.numEntries as number);
			const names = entries.map((e) => e.engineName);
			expect(names).toEqual(['GR0', 'CE0', 'CE1', 'CE2', 'CE3', 'CE4', 'NVDEC0', 'NVENC0']);
			// engineData[2] = RM_ENGINE_TYPE, [3] = RUNLIST, [11] = RUNLIST_PRI_BASE.
			const rmType = entries.map((e) => (e.engineData as Uint32Array)[2]);
			expect(rmType).toEqual([1, 9, 10, 11, 12, 13, 29, 37]);
			expect(entries.map((e) => (e.engineData as Uint32Array)[3])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
			expect((entries[1]!.engineData as Uint32Array)[11]).toBe(0xa1_0000);
			expect(t.bMore).toBe(0);
		}
	});
});

describe('unload', () => {
	it('replies to UNLOADING_GUEST_DRIVER, sets MAILBOX0 bit 31 through the callback and stops', async () => {
		const d = await booted('570.144');
		const payload = enc('570.144', 'rpc_unloading_guest_driver_v1F_07', { newLevel: 0 });
		const r = await d.call(fn('570.144', 'UNLOADING_GUEST_DRIVER'), payload);
		expect(r.rpcResult).toBe(0);
		expect(d.rig.unloads.count).toBe(1);
		expect(d.rig.gsp.phase).toBe('unloaded');
		await d.send(fn('570.144', 'NOP'), new Uint8Array(4));
		expect(await d.drain(5)).toEqual([]);
		expect(sizeof(L('570.144', 'rpc_unloading_guest_driver_v1F_07'))).toBe(8);
	});
});
