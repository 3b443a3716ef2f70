/**
 * r570's sub-interfaces: the four new ones against hand-computed bytes, and the twelve reused ones shown to be
 * r535's code bound to r570's layouts.
 */
import { isAbiError } from '@gspkit/abi';
import * as r535 from '@gspkit/abi-r535';
import { describe, expect, it } from 'vitest';
import { abi, api, GB_PMU_RESERVED_SIZE, provenance } from '../src/index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u32 = (b: Uint8Array, o: number) => dv(b).getUint32(o, true);
const u64 = (b: Uint8Array, o: number) => dv(b).getBigUint64(o, true);

describe('provenance: 12 of 16 sub-interfaces reuse r535 code', () => {
	it('gsp, wpr, fifo and gr are new; everything else is r535 code bound to 570.144', () => {
		const fresh = provenance.filter((p) => p.implementedBy === '@gspkit/abi-r570').map((p) => p.name);
		expect(fresh.sort()).toEqual(['fifo', 'gr', 'gsp', 'wpr']);
		expect(provenance).toHaveLength(16);
		for (const p of provenance) expect(p.boundTo).toBe('570.144');
		for (const p of provenance.filter((x) => x.implementedBy === '@gspkit/abi-r535')) {
			expect(p.factory).toBe(r535.api[p.name as keyof typeof r535.api].provenance.factory);
		}
	});

	it('a reused sub-interface binds r570 layouts, not r535 ones', () => {
		expect(api.client.layout).not.toBe(r535.api.client.layout);
		expect(api.client.layout.size).toBe(120);
		const b = api.client.allocParams({ hClient: 0xc1d00001 });
		expect(b.length).toBe(120); // pOsPidInfo stays NULL
		expect(u32(b, 4)).toBe(0xffffffff);
		// the reused engine tables read r570's renumbered enums
		expect(api.ce.allocParams(12)).toEqual(Uint8Array.of(1, 0, 0, 0, 54, 0, 0, 0));
		expect(() => r535.api.ce.allocParams(12)).toThrow();
	});
});

describe('gsp', () => {
	const mq = {
		sharedMemPhysAddr: 0x8000_0000n,
		pageTableEntryCount: 129,
		cmdQueueOffset: 0x1000n,
		statQueueOffset: 0x41000n,
	};

	it('RMARGS: 72 bytes, SR args at 32, bDmemStack = 1 at 48', () => {
		const b = api.gsp.encodeRmArgs(mq);
		expect(b.length).toBe(72);
		expect([u64(b, 0), u32(b, 8), u64(b, 16), u64(b, 24)]).toEqual([0x8000_0000n, 129, 0x1000n, 0x41000n]);
		expect([u32(b, 32), u32(b, 36), b[40], b[48]]).toEqual([0, 0, 0, 1]);
	});

	it('a resume sets level 3 with PRESERVING | PM_TRANSITION (nouveau r570)', () => {
		const b = api.gsp.encodeRmArgs({ ...mq, resume: true });
		expect([u32(b, 32), u32(b, 36), b[40]]).toEqual([3, 0x1 | 0x4, 1]);
	});

	it('system info: PCI IDs packed device<<16|vendor at 88, hostPageSize at 920', () => {
		const b = api.gsp.encodeSystemInfo({
			gpuPhysAddr: 0xf000_0000n,
			gpuPhysFbAddr: 0xe000_0000n,
			gpuPhysInstAddr: 0xd000_0000n,
			pciBdf: 0x0100,
			maxUserVa: 1n << 46n,
			pciConfigMirrorBase: 0x88000,
			pciConfigMirrorSize: 0x1000,
			pciVendorId: 0x10de,
			pciDeviceId: 0x2204,
			pciSubsystemVendorId: 0x1458,
			pciSubsystemId: 0x403b,
			pciRevisionId: 0xa1,
			isPrimary: true,
			hostPageSize: 4096,
		});
		expect(b.length).toBe(928);
		expect([u64(b, 32), u64(b, 72), u32(b, 80), u32(b, 84)]).toEqual([0x100n, 1n << 46n, 0x88000, 0x1000]);
		expect([u32(b, 88), u32(b, 92), u32(b, 96)]).toEqual([0x220410de, 0x403b1458, 0xa1]);
		expect(b[896]).toBe(1); // bIsPrimary
		expect(u64(b, 920)).toBe(4096n);
		expect(
			u64(
				api.gsp.encodeSystemInfo({
					...{
						gpuPhysAddr: 0n,
						gpuPhysFbAddr: 0n,
						gpuPhysInstAddr: 0n,
						pciBdf: 0,
						maxUserVa: 0n,
						pciConfigMirrorBase: 0,
						pciConfigMirrorSize: 0,
						pciVendorId: 0,
						pciDeviceId: 0,
					},
				}),
				920,
			),
		).toBe(0n);
	});

	it('static info: r570 offsets and the ACR-chosen WPR layout', () => {
		const b = new Uint8Array(1656);
		const d = dv(b);
		d.setUint32(1600, 0xc1e00004, true);
		d.setUint32(1608, 0x5d1d0000, true);
		d.setBigUint64(1536, 0x10_0000_0000n, true);
		d.setUint32(344, 1, true);
		d.setBigUint64(352 + 8, 0xfff_ffffn, true);
		d.setBigUint64(1640, 0x7f_e000_0000n, true);
		d.setBigUint64(1648, 0x7f_f000_0000n, true);
		const s = api.gsp.decodeStaticInfo(b);
		expect(s).toMatchObject({
			hInternalClient: 0xc1e00004,
			hInternalSubdevice: 0x5d1d0000,
			bar1PdeBase: 0x10_0000_0000n,
		});
		expect(s.fbRegions).toEqual([expect.objectContaining({ base: 0n, limit: 0xfff_ffffn })]);
		expect(s.fwWprLayoutOffset).toEqual({ nonWprHeapOffset: 0x7f_e000_0000n, frtsOffset: 0x7f_f000_0000n });
		try {
			api.gsp.decodeStaticInfo(b.subarray(0, 1655));
			expect.unreachable();
		} catch (e) {
			expect(isAbiError(e, 'ABI_SHORT_BUFFER')).toBe(true);
		}
	});

	it('ignores NOCAT records and lockdown notices (renumbered 0x101c), not SEND_USER_SHARED_DATA', () => {
		expect([...api.gsp.ignoredEvents].sort()).toEqual([0x100c, 0x100f, 0x101c, 0x1020]);
	});

	it('suspend/resume data size is FRTS end − non-WPR heap end', () => {
		const meta = api.wpr.decodeMeta(
			api.wpr.encodeMeta({
				sysmemAddrOfRadix3Elf: 0n,
				sizeOfRadix3Elf: 0n,
				sysmemAddrOfBootloader: 0n,
				sizeOfBootloader: 0n,
				sysmemAddrOfSignature: 0n,
				sizeOfSignature: 0n,
				nonWprHeapOffset: 0x100000n,
				nonWprHeapSize: 0x100000n,
				frtsOffset: 0x4000000n,
				frtsSize: 0x100000n,
			}),
		);
		expect(api.gsp.suspendResumeDataSize(meta)).toBe(0x4100000n - 0x200000n);
	});
});

describe('boot (reused r535 code, r570 layouts)', () => {
	it('writes bDmemStack = 1 by default and no lockless offsets in the 72-byte RMARGS', () => {
		const b = new Uint8Array(72).fill(0xff);
		api.boot.rmArgs.encode(
			{
				messageQueue: {
					sharedMemPhysAddr: 0x8000_0000n,
					pageTableEntryCount: 129,
					cmdQueueOffset: 0x1000n,
					statQueueOffset: 0x41000n,
					locklessCmdQueueOffset: 0x81000n,
				},
				srInit: { oldLevel: 0, flags: 0, inPmTransition: false },
				gpuInstance: 0,
				profiler: { pa: 0n, size: 0n },
			},
			b,
		);
		expect([u64(b, 0), u64(b, 24), u32(b, 32), b[48]]).toEqual([0x8000_0000n, 0x41000n, 0, 1]);
		expect(b.subarray(49, 56).every((x) => x === 0)).toBe(true);
		expect(api.boot.provenance.implementedBy).toBe('@gspkit/abi-r535');
	});

	it('writes pmuReservedSize at 244 (r535 has no such field)', () => {
		const m = new Uint8Array(256);
		const base = api.wpr.decodeMeta(new Uint8Array(256));
		api.boot.wprMeta.encode({ ...base, pmuReservedSize: 0x1820000, flags: 1 }, m);
		expect([m[241], u32(m, 244)]).toEqual([1, 0x1820000]);
		expect(api.boot.wprMeta.decode(m)).toMatchObject({ pmuReservedSize: 0x1820000, flags: 1 });
	});
});

describe('wpr', () => {
	const base = {
		sysmemAddrOfRadix3Elf: 0x1000n,
		sizeOfRadix3Elf: 0x2000n,
		sysmemAddrOfBootloader: 0x3000n,
		sizeOfBootloader: 0x400n,
		sysmemAddrOfSignature: 0x5000n,
		sizeOfSignature: 0x1000n,
	};

	it('writes flags at 241 and pmuReservedSize at 244; the rest as in r535', () => {
		const b = api.wpr.encodeMeta({ ...base, flags: 1, pmuReservedSize: GB_PMU_RESERVED_SIZE });
		expect(hex(b.subarray(240, 256))).toBe(`0001000000008201${'00'.repeat(8)}`);
		expect(GB_PMU_RESERVED_SIZE).toBe(0x1820000);
		const r535Bytes = r535.api.wpr.encodeMeta(base);
		expect(hex(b.subarray(0, 240))).toBe(hex(r535Bytes.subarray(0, 240)));
		expect(api.wpr.decodeMeta(b)).toMatchObject({
			flags: 1,
			pmuReservedSize: 0x1820000,
			sizeOfSignature: 0x1000n,
		});
	});

	it('heap parameters of the five r570 families', () => {
		expect(api.wpr.heapParams('tu117')).toMatchObject({
			libos: 2,
			osCarveoutSize: 0,
			heapSizeMin: 64n << 20n,
		});
		expect(api.wpr.heapParams('ga104')).toMatchObject({
			libos: 3,
			osCarveoutSize: 22 << 20,
			baseRmSize: 8 << 20,
			offsetSetByAcr: false,
		});
		expect(api.wpr.heapParams('gh100')).toMatchObject({
			baseRmSize: 14 << 20,
			nonWprHeapSize: 0x200000,
			pmuReservedSize: 0,
			offsetSetByAcr: true,
		});
		expect(api.wpr.heapParams('gb102')).toMatchObject({
			nonWprHeapSize: 0x200000,
			pmuReservedSize: 0x1820000,
		});
		expect(api.wpr.heapParams('gb205')).toMatchObject({
			nonWprHeapSize: 0x220000,
			pmuReservedSize: 0x1820000,
		});
		expect(api.wpr.heapParams('ga102').heapSizeMin).toBe(170n << 20n);
		expect(() => api.wpr.heapParams('nv50')).toThrow(/no WPR parameters/);
	});

	it('copies ACR-chosen offsets into the meta only where ACR places the WPR', () => {
		const info = api.gsp.decodeStaticInfo(new Uint8Array(1656));
		const withOff = {
			...info,
			fwWprLayoutOffset: { nonWprHeapOffset: 0x11_0000_0000n, frtsOffset: 0x12_0000_0000n },
		};
		const meta = api.wpr.encodeMeta(base);
		expect(api.wpr.applyStaticInfo('ga102', meta, withOff)).toBe(false);
		expect(u64(meta, 96)).toBe(0n);
		expect(api.wpr.applyStaticInfo('gh100', meta, withOff)).toBe(true);
		expect([u64(meta, 96), u64(meta, 152)]).toEqual([0x11_0000_0000n, 0x12_0000_0000n]);
		expect(u64(meta, 0)).toBe(0xdc3aae21371a60b3n); // nothing else touched
	});
});

describe('fifo and gr', () => {
	it('the constructed-falcon control moved to NV2080_CTRL_CMD_GPU_… 0x208001b0', () => {
		const c = api.fifo.constructedFalcons();
		expect(c.name).toBe('NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO');
		expect(c.cmd).toBe(0x208001b0);
		const reply = new Uint8Array(1284);
		dv(reply).setUint32(0, 1, true);
		dv(reply).setUint32(4, 0x1234, true);
		dv(reply).setUint32(12, 0x8000, true);
		expect(c.decode(reply)).toEqual([{ engDesc: 0x1234, ctxBufferSize: 0x8000 }]);
		expect(api.fifo.reservedChids).toBe(1);
	});

	it('reuses r535’s work-submit-token control unchanged', () => {
		const t = api.fifo.workSubmitToken();
		const r = r535.api.fifo.workSubmitToken();
		expect([t.name, t.cmd, hex(t.params)]).toEqual([r.name, r.cmd, hex(r.params)]);
		expect(t.cmd).toBe(0xc36f0108);
		expect(t.decode(new Uint8Array([1, 0, 0, 0]))).toBe(1);
		expect((abi.functions as Readonly<Record<string, number>>).CTRL_GPFIFO_GET_WORK_SUBMIT_TOKEN).toBe(186);
	});

	it('per-member provenance: r570’s gr.queryTopology binds the GR controls, not static info', () => {
		const gr = api.gr.provenance;
		expect(gr.members.queryTopology!.types).toEqual([
			'NV2080_CTRL_GPU_GET_FERMI_GPC_INFO_PARAMS',
			'NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS',
		]);
		expect(gr.members.queryTopology!.constants).toEqual([
			'NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO',
			'NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO',
		]);
		expect(api.fifo.provenance.members.constructedFalcons!.types).toContain(
			'NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
		);
		expect(api.gsp.provenance.members.encodeSystemInfo!.types).toContain('GSP_PCIE_CONFIG_REG');
	});

	it('channel allocation params are 368 bytes with tpcConfigID left 0', () => {
		const md = { base: 0n, size: 0n, addressSpace: 2, cacheAttrib: 1 };
		const b = api.fifo.encodeChannelAlloc({
			hVASpace: 1,
			gpFifoOffset: 0n,
			gpFifoEntries: 8,
			flags: 0,
			engineType: 1,
			instanceMem: md,
			userdMem: md,
			ramfcMem: md,
			mthdbufMem: md,
			internalFlags: 0,
		});
		expect(b.length).toBe(368);
		expect(u32(b, 360)).toBe(0);
	});

	it('queries the GPC/TPC topology with GR controls through the injected rmControl', async () => {
		const calls: [number, string][] = [];
		const rmControl = async (cmd: number, params: Uint8Array): Promise<Uint8Array> => {
			calls.push([cmd, hex(params)]);
			if (cmd === 0x20800137) return Uint8Array.of(0b101, 0, 0, 0);
			const gpc = u32(params, 0);
			return Uint8Array.of(gpc, 0, 0, 0, gpc === 0 ? 0x3f : 0x1f, 0, 0, 0);
		};
		const t = await api.gr.queryTopology({ staticInfo: new Uint8Array(1656), rmControl });
		expect(t).toMatchObject({ gpcMask: 0b101, gpcCount: 2, tpcCount: 11, source: 'controls' });
		expect(t.tpcMasks.slice(0, 3)).toEqual([0x3f, 0, 0x1f]);
		expect(calls).toEqual([
			[0x20800137, '00000000'],
			[0x20800138, '0000000000000000'],
			[0x20800138, '0200000000000000'],
		]);
		expect(api.gr.topologySource).toBe('controls');
		expect(api.gr.topologyControls.map((c) => [c.name, c.cmd, c.params.size])).toEqual([
			['NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO', 0x20800137, 4],
			['NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO', 0x20800138, 8],
		]);
	});

	it('a failing control propagates', async () => {
		await expect(
			api.gr.queryTopology({
				staticInfo: new Uint8Array(0),
				rmControl: async () => Promise.reject(new Error('NV_ERR_NOT_SUPPORTED')),
			}),
		).rejects.toThrow('NV_ERR_NOT_SUPPORTED');
	});

	it('context buffers info has 26 kinds in r570 (25 in r535)', () => {
		const c = api.gr.contextBuffersInfo();
		expect(c.params.length).toBe(8 * 26 * 8);
		expect(c.decode(new Uint8Array(8 * 26 * 8))).toHaveLength(26);
		expect(r535.api.gr.contextBuffersInfo().decode(new Uint8Array(8 * 25 * 8))).toHaveLength(25);
	});
});

describe('the whole ABI', () => {
	it('is a frozen FirmwareAbi that also carries sequencer opcodes and NV_STATUS', () => {
		expect(Object.isFrozen(abi)).toBe(true);
		expect(abi.sequencerOpcodes.CORE_RESUME).toBe(8);
		expect(abi.nvStatus.NV_OK).toBe(0);
		expect(abi.subInterfaces).toBe(api);
	});
});
