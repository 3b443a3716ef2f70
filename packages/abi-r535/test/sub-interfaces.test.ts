/**
 * r535's sub-interfaces against hand-computed byte images (gsp-rpc.md facts; nouveau's r535 code paths).
 */
import { AbiError, isAbiError, offsetof, patch } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import { abi, api, SUB_INTERFACE_NAMES } from '../src/index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u32 = (b: Uint8Array, o: number) => dv(b).getUint32(o, true);
const u64 = (b: Uint8Array, o: number) => dv(b).getBigUint64(o, true);

/** XOR-fold of little-endian u64 words — written independently of the package's implementation. */
function xorFold(bytes: Uint8Array): number {
	const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
	padded.set(bytes);
	let acc = 0n;
	for (let i = 0; i < padded.length; i += 8) acc ^= dv(padded).getBigUint64(i, true);
	return Number((acc >> 32n) ^ (acc & 0xffffffffn));
}

describe('rpc', () => {
	it('encodes a queue element byte for byte', () => {
		const el = api.rpc.encodeElement({
			function: 76,
			payload: Uint8Array.of(1, 2, 3, 4),
			seqNum: 7,
			sequence: 5,
		});
		expect(el.length).toBe(0x1000);
		const expected = [
			'00'.repeat(32), // auth tag, AAD
			'xxxxxxxx', // checksum
			'07000000', // seqNum
			'01000000', // elemCount
			'00000000', // pad
			'00000003', // header_version 0x03000000
			'56525043', // "VRPC"
			'24000000', // length 32 + 4
			'4c000000', // function 76
			'ffffffff',
			'ffffffff',
			'05000000', // sequence
			'00000000', // spare
			'01020304',
		].join('');
		const got = hex(el.subarray(0, 84));
		expect(got.slice(0, 64) + got.slice(72)).toBe(expected.slice(0, 64) + expected.slice(72));
		expect(u32(el, 32)).toBe(
			xorFold(Uint8Array.from([...el.subarray(0, 32), 0, 0, 0, 0, ...el.subarray(36, 84)])),
		);
		expect(xorFold(el.subarray(0, 84))).toBe(0); // the whole element XORs to zero
		expect(el.subarray(84).every((b) => b === 0)).toBe(true);
	});

	it('spans as many pages as header + payload need', () => {
		expect(api.rpc.encodeElement({ function: 1, payload: new Uint8Array(4096 - 80), seqNum: 0 }).length).toBe(
			4096,
		);
		expect(api.rpc.encodeElement({ function: 1, payload: new Uint8Array(4096 - 79), seqNum: 0 }).length).toBe(
			8192,
		);
		expect(api.rpc.protocol.maxPayloadSize).toBe(65456);
		expect(() => api.rpc.encodeElement({ function: 1, payload: new Uint8Array(65457), seqNum: 0 })).toThrow(
			AbiError,
		);
	});

	it('decodes an element and refuses one whose rpc.length runs past the buffer', () => {
		const el = api.rpc.encodeElement({ function: 0x1002, payload: Uint8Array.of(9, 8), seqNum: 3 });
		const d = api.rpc.decodeElement(el);
		expect(d).toMatchObject({ function: 0x1002, seqNum: 3, elemCount: 1, length: 34, signature: 0x43505256 });
		expect([...d.payload]).toEqual([9, 8]);
		try {
			api.rpc.decodeElement(el.subarray(0, 81));
			expect.unreachable();
		} catch (e) {
			expect(isAbiError(e, 'ABI_SHORT_BUFFER')).toBe(true);
		}
		expect(() => api.rpc.decodeElement(el.subarray(0, 40))).toThrow(/needs 80 bytes/);
	});
});

describe('ctrl and alloc', () => {
	it('GSP_RM_CONTROL payload: 24-byte header then params', () => {
		const b = api.ctrl.encode({
			hClient: 0xc1d00001,
			hObject: 0x5d1d0000,
			cmd: 0x20800a5c,
			params: Uint8Array.of(0xaa, 0xbb),
		});
		expect(hex(b)).toBe('0100d0c100001d5d5c0a80200000000002000000000000' + '00' + 'aabb');
		const d = api.ctrl.decode(b);
		expect(d).toMatchObject({ cmd: 0x20800a5c, paramsSize: 2, status: 0 });
		expect([...d.params]).toEqual([0xaa, 0xbb]);
		expect(() => api.ctrl.decode(b.subarray(0, 25))).toThrow(AbiError);
	});

	it('GSP_RM_ALLOC and FREE payloads', () => {
		const b = api.alloc.encode({
			hClient: 1,
			hParent: 1,
			hObject: 2,
			hClass: api.alloc.classes.NV01_DEVICE_0,
			params: new Uint8Array(56),
		});
		expect(b.length).toBe(32 + 56);
		expect([u32(b, 12), u32(b, 20)]).toEqual([0x80, 56]);
		const f = api.alloc.encodeFree({ hRoot: 0xc1d00001, hObjectParent: 0, hObjectOld: 0xde1d0000 });
		expect(hex(f)).toBe('0100d0c1' + '00000000' + '00001dde' + '00000000');
		expect(api.alloc.decodeFree(f)).toEqual({
			hRoot: 0xc1d00001,
			hObjectParent: 0,
			hObjectOld: 0xde1d0000,
			status: 0,
		});
		expect(api.alloc.classes).toMatchObject({
			NV01_ROOT: 0,
			NV20_SUBDEVICE_0: 0x2080,
			FERMI_VASPACE_A: 0x90f1,
			TURING_CHANNEL_GPFIFO_A: 0xc46f,
			AMPERE_CHANNEL_GPFIFO_A: 0xc56f,
			HOPPER_CHANNEL_GPFIFO_A: 0xc86f,
			BLACKWELL_CHANNEL_GPFIFO_A: 0xc96f,
			BLACKWELL_CHANNEL_GPFIFO_B: 0xca6f,
		});
		expect(() => api.alloc.classId('NO_SUCH_CLASS')).toThrow(/no class/);
	});

	it('client params: processID ~0 like nouveau, 108 bytes', () => {
		const b = api.client.allocParams({ hClient: 0xc1d00002, processName: 'gspkit' });
		expect(b.length).toBe(108);
		expect([u32(b, 0), u32(b, 4)]).toEqual([0xc1d00002, 0xffffffff]);
		expect(Buffer.from(b.subarray(8, 15)).toString('latin1')).toBe('gspkit\0');
	});
});

describe('gsp boot payloads', () => {
	const mq = {
		sharedMemPhysAddr: 0x1_2345_0000n,
		pageTableEntryCount: 129,
		cmdQueueOffset: 0x1000n,
		statQueueOffset: 0x41000n,
	};

	it('RMARGS: message queue at 0, lockless offsets zero, SR args at 48', () => {
		const b = api.gsp.encodeRmArgs(mq);
		expect(b.length).toBe(80);
		expect([u64(b, 0), u32(b, 8), u64(b, 16), u64(b, 24), u64(b, 32), u64(b, 40)]).toEqual([
			0x1_2345_0000n,
			129,
			0x1000n,
			0x41000n,
			0n,
			0n,
		]);
		expect([u32(b, 48), u32(b, 52), b[56]]).toEqual([0, 0, 0]);
		const r = api.gsp.encodeRmArgs({ ...mq, resume: true });
		expect([u32(r, 48), u32(r, 52), r[56]]).toEqual([3, 0, 1]); // r535 resumes with flags 0
	});

	it('system info: 664 bytes, BDF at 24, config mirror at 64', () => {
		const b = api.gsp.encodeSystemInfo({
			gpuPhysAddr: 0xf000_0000n,
			gpuPhysFbAddr: 0xe000_0000n,
			gpuPhysInstAddr: 0xd000_0000n,
			pciBdf: 0x0100,
			maxUserVa: (1n << 47n) - 4096n,
			pciConfigMirrorBase: 0x88000,
			pciConfigMirrorSize: 0x1000,
			pciVendorId: 0x10de,
			pciDeviceId: 0x2204,
			hostPageSize: 4096,
		});
		expect(b.length).toBe(664);
		expect([u64(b, 0), u64(b, 8), u64(b, 16), u64(b, 24), u64(b, 56)]).toEqual([
			0xf000_0000n,
			0xe000_0000n,
			0xd000_0000n,
			0x100n,
			(1n << 47n) - 4096n,
		]);
		expect([u32(b, 64), u32(b, 68)]).toEqual([0x88000, 0x1000]);
		expect(b.subarray(72).every((x) => x === 0)).toBe(true); // no PCI IDs, no page size in r535
	});

	it('static info: handles, BAR PDEs, FB regions, name', () => {
		const b = new Uint8Array(2168);
		const d = dv(b);
		d.setUint32(2152, 0xc1e00004, true);
		d.setUint32(2156, 0xde1d0000, true);
		d.setUint32(2160, 0x5d1d0000, true);
		d.setBigUint64(2088, 0x10_0000_0000n, true);
		d.setBigUint64(2096, 0x20_0000_0000n, true);
		d.setUint32(840, 2, true); // numFBRegions
		d.setBigUint64(848, 0x0n, true);
		d.setBigUint64(856, 0x2_ffff_ffffn, true);
		b[848 + 28] = 1; // supportCompressed
		d.setBigUint64(848 + 48, 0x3_0000_0000n, true);
		b.set(Buffer.from('NVIDIA GeForce RTX 3090\0', 'latin1'), 1820);
		const s = api.gsp.decodeStaticInfo(b);
		expect(s).toMatchObject({
			hInternalClient: 0xc1e00004,
			hInternalDevice: 0xde1d0000,
			hInternalSubdevice: 0x5d1d0000,
			bar1PdeBase: 0x10_0000_0000n,
			bar2PdeBase: 0x20_0000_0000n,
			gpuName: 'NVIDIA GeForce RTX 3090',
		});
		expect(s.fwWprLayoutOffset).toBeUndefined();
		expect(s.fbRegions).toHaveLength(2);
		expect(s.fbRegions[0]).toMatchObject({
			limit: 0x2_ffff_ffffn,
			supportCompressed: true,
			supportISO: false,
		});
		expect(s.fbRegions[1]!.base).toBe(0x3_0000_0000n);
		expect(() => api.gsp.decodeStaticInfo(b.subarray(0, 2000))).toThrow(/needs 2168 bytes/);
	});

	it('unload and suspend messages', () => {
		expect(hex(api.gsp.encodeUnload())).toBe('0000000000000000');
		expect(hex(api.gsp.encodeUnload({ suspend: true }))).toBe('0100000003000000');
	});

	it('ignores the events nouveau drops in r535', () => {
		expect([...api.gsp.ignoredEvents].sort()).toEqual([0x100c, 0x100f, 0x101b]);
	});
});

describe('wpr', () => {
	const meta = {
		sysmemAddrOfRadix3Elf: 0x1000n,
		sizeOfRadix3Elf: 0x2000n,
		sysmemAddrOfBootloader: 0x3000n,
		sizeOfBootloader: 0x400n,
		sysmemAddrOfSignature: 0x5000n,
		sizeOfSignature: 0x1000n,
		gspFwWprStart: 0x3f_8000_0000n,
		gspFwWprEnd: 0x3f_c000_0000n,
	};

	it('writes magic, revision and the union members where booter reads them', () => {
		const b = api.wpr.encodeMeta(meta);
		expect(b.length).toBe(256);
		expect(u64(b, 0)).toBe(0xdc3aae21371a60b3n);
		expect(u64(b, 8)).toBe(1n);
		expect([u64(b, 16), u64(b, 72), u64(b, 80), u64(b, 112), u64(b, 168)]).toEqual([
			0x1000n,
			0x5000n,
			0x1000n,
			0x3f_8000_0000n,
			0x3f_c000_0000n,
		]);
		expect(api.wpr.decodeMeta(b)).toMatchObject({ ...meta, flags: 0, pmuReservedSize: 0, verified: 0n });
		expect(api.gsp.suspendResumeDataSize(api.wpr.decodeMeta(b))).toBe(0x4000_0000n);
	});

	it('has no flags or pmuReservedSize in r535', () => {
		expect(api.wpr.supports).toEqual({ flags: false, pmuReservedSize: false });
		expect(() => api.wpr.encodeMeta({ ...meta, pmuReservedSize: 0x1000 })).toThrow(/does not exist in 535/);
		expect(api.wpr.encodeMeta({ ...meta, pmuReservedSize: 0, flags: 0 }).length).toBe(256);
	});

	it('heap parameters: LIBOS2 on Turing/GA100, LIBOS3 on GA10x/Ada', () => {
		expect(api.wpr.heapParams('tu102')).toMatchObject({
			libos: 2,
			osCarveoutSize: 0,
			baseRmSize: 8 << 20,
			heapSizeMin: 64n << 20n,
		});
		expect(api.wpr.heapParams('ga100').libos).toBe(2);
		expect(api.wpr.heapParams('ad102')).toMatchObject({
			libos: 3,
			osCarveoutSize: 20 << 20,
			heapSizeMin: 84n << 20n,
			offsetSetByAcr: false,
		});
		expect(() => api.wpr.heapParams('gh100')).toThrow(/no WPR parameters/);
		expect(
			api.wpr.applyStaticInfo('ga102', new Uint8Array(256), api.gsp.decodeStaticInfo(new Uint8Array(2168))),
		).toBe(false);
	});
});

describe('libos and registry', () => {
	it('packs region names big-endian into id8 and lays out one page', () => {
		expect(api.libos.id8('LOGRM')).toBe(0x4c4f47524dn);
		expect(api.libos.id8('RMARGS')).toBe(0x524d41524753n);
		const page = api.libos.encodeRegions([
			{ name: 'LOGINIT', pa: 0x10000n, size: 0x10000n },
			{ name: 'RMARGS', pa: 0x20000n, size: 0x1000n, kind: 'radix3', loc: 'fb' },
		]);
		expect(page.length).toBe(4096);
		expect(hex(page.subarray(0, 32))).toBe(
			`54494e49474f4c00000001000000000000000100000000000101${'00'.repeat(6)}`,
		);
		expect([page[56], page[57]]).toEqual([2, 2]);
		expect(api.libos.decodeRegions(page)).toEqual([
			{ name: 'LOGINIT', pa: 0x10000n, size: 0x10000n, kind: 'contiguous', loc: 'sysmem' },
			{ name: 'RMARGS', pa: 0x20000n, size: 0x1000n, kind: 'radix3', loc: 'fb' },
		]);
		expect(() => api.libos.id8('TOOLONGNAME')).toThrow(AbiError);
		// A page that ends before its terminating entry is cut short, not an empty list.
		for (const n of [0, 10, 32, 64]) {
			expect(() => api.libos.decodeRegions(page.subarray(0, n)), `${n} bytes`).toThrow(
				expect.objectContaining({ code: 'ABI_SHORT_BUFFER' }),
			);
		}
		expect(api.libos.decodeRegions(page.subarray(0, 96))).toHaveLength(2);
	});

	it('builds the registry table with names after the entries (hand-computed image)', () => {
		const b = api.registry.encode([
			{ name: 'RMSecBusResetEnable', value: 1 },
			{ name: 'RMForcePcieConfigSave', value: 1 },
			{ name: 'Str', string: 'ab' },
		]);
		const names = Buffer.from('RMSecBusResetEnable\0RMForcePcieConfigSave\0Str\0ab\0', 'latin1').toString(
			'hex',
		);
		const entry = (nameOff: number, type: number, data: number, len: number) =>
			[nameOff, type, data, len]
				.map((v, i) =>
					i === 1
						? `${v.toString(16).padStart(2, '0')}000000`
						: Buffer.from(Uint32Array.of(v).buffer).toString('hex'),
				)
				.join('');
		// header 8 + 3×16 entries = 56 (0x38); names at 0x38, 0x4c, 0x62; string value at 0x66.
		expect(hex(b)).toBe(
			`6900000003000000${entry(0x38, 1, 1, 4)}${entry(0x4c, 1, 1, 4)}${entry(0x62, 3, 0x66, 3)}${names}`,
		);
		expect(b.length).toBe(0x69);
		expect(api.registry.decode(b)).toEqual([
			{ name: 'RMSecBusResetEnable', value: 1 },
			{ name: 'RMForcePcieConfigSave', value: 1 },
			{ name: 'Str', string: 'ab' },
		]);
	});

	it('round-trips binary values and rejects bad keys', () => {
		const entries = [...api.registry.defaults, { name: 'Blob', binary: Uint8Array.of(0, 1, 2) }];
		expect(api.registry.decode(api.registry.encode(entries))).toEqual(entries);
		expect(() => api.registry.encode([{ name: 'bad key', value: 1 }])).toThrow(AbiError);
		expect(() => api.registry.encode([{ name: 'Big', value: 2 ** 32 }])).toThrow(AbiError);
		const b = api.registry.encode([{ name: 'X', value: 1 }]);
		dv(b).setUint32(8, 0x1000, true); // nameOffset past the end
		expect(() => api.registry.decode(b)).toThrow(/outside/);
	});
});

describe('sequencer', () => {
	it('decodes a dword program and re-encodes it identically', () => {
		const words = [0, 0x110040, 5, 2, 0x1180f8, 0x4000000, 0x4000000, 0, 0x55, 5, 3, 10, 4, 0x110c00, 1, 8];
		const b = new Uint8Array(40 + words.length * 4);
		dv(b).setUint32(0, 0x400, true);
		dv(b).setUint32(4, words.length, true);
		dv(b).setUint32(8 + 4, 0xabcd, true); // regSaveArea[1]
		for (const [i, w] of words.entries()) dv(b).setUint32(40 + i * 4, w, true);
		const p = api.sequencer.decode(b);
		expect(p.commands).toEqual([
			{ op: 'REG_WRITE', addr: 0x110040, val: 5 },
			{ op: 'REG_POLL', addr: 0x1180f8, mask: 0x4000000, val: 0x4000000, timeout: 0, error: 0x55 },
			{ op: 'CORE_RESET' },
			{ op: 'DELAY_US', val: 10 },
			{ op: 'REG_STORE', addr: 0x110c00, index: 1 },
			{ op: 'CORE_RESUME' },
		]);
		expect(p.regSaveArea[1]).toBe(0xabcd);
		expect(hex(api.sequencer.encode(p))).toBe(hex(b));
	});

	it('rejects unknown opcodes, cut commands and a cmdIndex past the data', () => {
		const prog = (words: number[], cmdIndex = words.length) => {
			const b = new Uint8Array(40 + words.length * 4);
			dv(b).setUint32(4, cmdIndex, true);
			for (const [i, w] of words.entries()) dv(b).setUint32(40 + i * 4, w, true);
			return b;
		};
		expect(() => api.sequencer.decode(prog([9]))).toThrow(/unknown opcode 9/);
		expect(() => api.sequencer.decode(prog([2, 1, 2]))).toThrow(/REG_POLL needs 5/);
		try {
			api.sequencer.decode(prog([5], 4));
			expect.unreachable();
		} catch (e) {
			expect(isAbiError(e, 'ABI_SHORT_BUFFER')).toBe(true);
		}
	});
});

describe('fifo, gr, vmm, ce, intr', () => {
	it('NVOS04 channel flags and internal flags from the DRF ranges', () => {
		// runqueue bit 4, privileged bit 5, USERD index 10:8, page 20:12, page-fixed bit 21.
		expect(api.fifo.channelFlags({ runqueue: 1, privileged: true, userdIndex: 2, userdIndexPage: 3 })).toBe(
			0x203230,
		);
		expect(api.fifo.channelFlags({ runqueue: 0, privileged: false, userdIndex: 0, userdIndexPage: 0 })).toBe(
			0x200000,
		);
		expect(() =>
			api.fifo.channelFlags({ runqueue: 2, privileged: false, userdIndex: 0, userdIndexPage: 0 }),
		).toThrow(AbiError);
		// PRIVILEGE 1:0, ERROR_NOTIFIER_TYPE 3:2 = NONE(1), ECC 5:4 = NONE(1).
		expect(api.fifo.internalFlags({ privilege: 'user' })).toBe(0x14);
		expect(api.fifo.internalFlags({ privilege: 'admin' })).toBe(0x15);
		expect(api.fifo.reservedChids).toBe(0);
	});

	it('channel allocation params leave unnamed fields zero', () => {
		const md = { base: 0x1000n, size: 0x200n, addressSpace: 2, cacheAttrib: 1 };
		const b = api.fifo.encodeChannelAlloc({
			hVASpace: 0x90f10000,
			gpFifoOffset: 0x10_0000n,
			gpFifoEntries: 512,
			flags: 0x200000,
			engineType: 1,
			instanceMem: md,
			userdMem: md,
			ramfcMem: md,
			mthdbufMem: { ...md, addressSpace: 1, cacheAttrib: 0 },
			internalFlags: 0x14,
		});
		expect(b.length).toBe(360);
		expect([u64(b, 8), u32(b, 16), u32(b, 20), u32(b, 28), u32(b, 128), u32(b, 244)]).toEqual([
			0x10_0000n,
			512,
			0x200000,
			0x90f10000,
			1,
			0x14,
		]);
		expect([u64(b, 144), u32(b, 160), u32(b, 216 + 16)]).toEqual([0x1000n, 2, 1]);
	});

	it('translates RM engine types from r535 numbering', () => {
		expect(api.fifo.engineFromRmType(1)).toEqual({ kind: 'gr', instance: 0, nv2080Type: 1 });
		expect(api.fifo.engineFromRmType(18)).toEqual({ kind: 'ce', instance: 9, nv2080Type: 18 });
		expect(api.fifo.engineFromRmType(0x13)).toBeUndefined(); // COPY10 only exists from r570
		expect(api.fifo.engineFromRmType(37)).toEqual({ kind: 'nvenc', instance: 0, nv2080Type: 27 });
		expect(api.fifo.engineFromRmType(61)).toEqual({ kind: 'ofa', instance: 0, nv2080Type: 51 });
		expect(api.fifo.nv2080EngineType({ kind: 'ce', instance: 2 })).toBe(11);
		expect(() => api.fifo.nv2080EngineType({ kind: 'ce', instance: 12 })).toThrow(AbiError);
	});

	it('device-info table: one control, decoded entries', () => {
		const call = api.fifo.getDeviceInfoTable(0);
		expect(call.cmd).toBe(0x20801112); // r535 fifo.h
		expect(call.params.length).toBe(3212);
		const reply = new Uint8Array(3212);
		dv(reply).setUint32(4, 1, true);
		reply[8] = 0;
		const e = 12;
		dv(reply).setUint32(e + 2 * 4, 9, true); // engineData[RM_ENGINE_TYPE] = COPY0
		dv(reply).setUint32(e + 3 * 4, 4, true); // engineData[RUNLIST]
		dv(reply).setUint32(e + 64, 7, true); // pbdmaIds[0]
		dv(reply).setUint32(e + 80, 1, true); // numPbdmas
		reply.set(Buffer.from('CE0\0'), e + 84);
		const t = call.decode(reply);
		expect(t.more).toBe(false);
		expect(t.entries).toHaveLength(1);
		expect(t.entries[0]).toMatchObject({
			engineName: 'CE0',
			engine: { kind: 'ce', instance: 0, nv2080Type: 9 },
			pbdmaIds: [7],
		});
		expect(t.entries[0]!.data.RUNLIST).toBe(4);
	});

	it('channel controls: BIND and GPFIFO_SCHEDULE', () => {
		const bind = api.fifo.bind(9);
		expect([bind.cmd, hex(bind.params)]).toEqual([0xa06f0104, '09000000']);
		const sched = api.fifo.schedule(true);
		expect([sched.cmd, hex(sched.params)]).toEqual([0xa06f0103, '0100']);
		expect(api.fifo.constructedFalcons().cmd).toBe(0x20800a42);
	});

	it('work-submit token: NVC36F control 0xc36f0108, one u32 sent as 0xffffffff, read back little-endian', () => {
		const t = api.fifo.workSubmitToken();
		expect(t.name).toBe('NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN');
		// NVXXXX_CTRL_CMD(class, category, index) = class << 16 | category << 8 | index, as the manifest's own
		// NVA06F_CTRL_CMD_GPFIFO_SCHEDULE (class 0xa06f, GPFIFO category 0x01, index 3) shows.
		expect(abi.manifest.constants.find((c) => c.name === 'NVA06F_CTRL_CMD_GPFIFO_SCHEDULE')!.value).toBe(
			String(((0xa06f << 16) | (0x01 << 8) | 0x03) >>> 0),
		);
		expect(t.cmd).toBe(((0xc36f << 16) | (0x01 << 8) | 0x08) >>> 0);
		expect(hex(t.params)).toBe('ffffffff');
		expect(t.decode(new Uint8Array([0x07, 0x00, 0x02, 0x00]))).toBe(0x20007);
		expect(() => t.decode(new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'ABI_SHORT_BUFFER' }));
		// GSP-RM serves it: its RPC number is in the branch's rpcfn.h.
		expect((abi.functions as Readonly<Record<string, number>>).CTRL_GPFIFO_GET_WORK_SUBMIT_TOKEN).toBe(186);
		// Each call is a fresh params buffer (a caller may patch it).
		expect(api.fifo.workSubmitToken().params).not.toBe(t.params);
	});

	it('gr topology comes from static info in r535, without any control', async () => {
		const b = new Uint8Array(2168);
		dv(b).setUint32(292, 0b1011, true); // gpcInfo.gpcMask
		for (const [g, m] of [
			[0, 0xf],
			[1, 0x7],
			[3, 0x3],
		] as const)
			dv(b).setUint32(296 + g * 8 + 4, m, true);
		dv(b).setUint32(296 + 2 * 8 + 4, 0xff, true); // absent GPC: ignored
		let calls = 0;
		const t = await api.gr.queryTopology({
			staticInfo: b,
			rmControl: async () => {
				calls++;
				return new Uint8Array(8);
			},
		});
		expect(t).toMatchObject({ gpcMask: 0b1011, gpcCount: 3, tpcCount: 9, source: 'static-info' });
		expect(t.tpcMasks.slice(0, 4)).toEqual([0xf, 0x7, 0, 0x3]);
		expect(calls).toBe(0);
		expect(api.gr.topologySource).toBe('static-info');
		expect(api.gr.topologyControls).toEqual([]);
	});

	it('vmm: VA space params and COPY_SERVER_RESERVED_PDES', () => {
		expect(api.vmm.maxLevels).toBe(6);
		const va = api.vmm.vaspaceAllocParams({ flags: 8, vaBase: 0x1000n });
		expect([va.length, u32(va, 4), u64(va, 40)]).toEqual([48, 8, 0x1000n]);
		const c = api.vmm.copyServerReservedPdes({
			pageSize: 0x20000000n,
			virtAddrLo: 0n,
			virtAddrHi: 0x1fffffffn,
			levels: [{ physAddress: 0xabc000n, size: 0x1000n, aperture: 1, pageShift: 47 }],
		});
		expect(c.cmd).toBe(0x90f10106);
		expect([u32(c.params, 32), u64(c.params, 40), c.params[40 + 20]]).toEqual([1, 0xabc000n, 47]);
		expect(() =>
			api.vmm.copyServerReservedPdes({
				pageSize: 0n,
				virtAddrLo: 0n,
				virtAddrHi: 0n,
				levels: Array(7).fill({ physAddress: 0n, size: 0n, aperture: 0, pageShift: 0 }),
			}),
		).toThrow(AbiError);
	});

	it('ce: allocation params and the fault-method buffer control', () => {
		expect(hex(api.ce.allocParams(3))).toBe('01000000' + '0c000000');
		const c = api.ce.faultMethodBufferSize();
		expect(c.cmd).toBe(0x20802a08);
		expect(c.decode(Uint8Array.of(0, 0x10, 0, 0))).toBe(0x1000);
	});

	it('intr: kernel table entries translated from r535 MC_ENGINE_IDX', () => {
		const c = api.intr.getKernelTable();
		expect(c.cmd).toBe(0x20800a5c);
		const reply = new Uint8Array(2068);
		dv(reply).setUint32(0, 2, true);
		dv(reply).setUint16(4, 49, true);
		dv(reply).setUint32(4 + 12, 0x80, true);
		dv(reply).setUint16(20, 15, true);
		const t = c.decode(reply);
		expect(t.entries).toEqual([
			{
				engineIdx: 49,
				engine: { kind: 'gsp', instance: 0 },
				pmcIntrMask: 0,
				vectorStall: 0,
				vectorNonStall: 0x80,
			},
			{
				engineIdx: 15,
				engine: { kind: 'ce', instance: 0 },
				pmcIntrMask: 0,
				vectorStall: 0,
				vectorNonStall: 0,
			},
		]);
		expect(t.subtrees).toHaveLength(7);
	});

	it('device: event notification control', () => {
		const c = api.device.setNotification({ event: 6, action: 2 });
		expect([c.cmd, hex(c.params)]).toEqual([
			0x20800301,
			'06000000' + '02000000' + '00000000' + '00000000' + '00000000',
		]);
		expect(api.device.subdeviceAllocParams({ subDeviceId: 1 })).toEqual(Uint8Array.of(1, 0, 0, 0));
		const dev = api.device.deviceAllocParams({ hClientShare: 0xc1d00001, vaMode: 2 });
		expect([u32(dev, 4), u32(dev, 48)]).toEqual([0xc1d00001, 2]);
	});
});

describe('boot (falcon-boot’s writers)', () => {
	const rm = {
		messageQueue: {
			sharedMemPhysAddr: 0x8000_0000n,
			pageTableEntryCount: 129,
			cmdQueueOffset: 0x1000n,
			statQueueOffset: 0x41000n,
			locklessCmdQueueOffset: 0x81000n,
			locklessStatQueueOffset: 0x82000n,
		},
		srInit: { oldLevel: 3, flags: 0, inPmTransition: true },
		gpuInstance: 2,
		profiler: { pa: 0x9000n, size: 0x1000n },
	};

	it('writes r535 RMARGS with the lockless offsets, zeroing the rest of its 80 bytes only', () => {
		const b = new Uint8Array(96).fill(0xff);
		api.boot.rmArgs.encode(rm, b, 8);
		expect(api.boot.rmArgs.size).toBe(80);
		expect([u64(b, 8), u32(b, 16), u64(b, 24), u64(b, 32), u64(b, 40), u64(b, 48)]).toEqual([
			0x8000_0000n,
			129,
			0x1000n,
			0x41000n,
			0x81000n,
			0x82000n,
		]);
		expect([u32(b, 56), u32(b, 60), b[64], u32(b, 68), u64(b, 72), u64(b, 80)]).toEqual([
			3,
			0,
			1,
			2,
			0x9000n,
			0x1000n,
		]);
		expect([b[7], b[88]]).toEqual([0xff, 0xff]); // outside the struct
		expect(b[12]).toBe(0); // padding inside it is zeroed
	});

	it('writes WPR meta and LIBOS entries, and refuses a buffer too small', () => {
		const m = new Uint8Array(256);
		api.boot.wprMeta.encode(
			{
				sysmemAddrOfRadix3Elf: 1n,
				sizeOfRadix3Elf: 2n,
				sysmemAddrOfBootloader: 3n,
				sizeOfBootloader: 4n,
				bootloaderCodeOffset: 0n,
				bootloaderDataOffset: 0n,
				bootloaderManifestOffset: 0n,
				sysmemAddrOfSignature: 5n,
				sizeOfSignature: 6n,
				gspFwRsvdStart: 0n,
				nonWprHeapOffset: 0n,
				nonWprHeapSize: 0n,
				gspFwWprStart: 0n,
				gspFwHeapOffset: 0n,
				gspFwHeapSize: 0n,
				gspFwOffset: 0n,
				bootBinOffset: 0n,
				frtsOffset: 0n,
				frtsSize: 0n,
				gspFwWprEnd: 0n,
				fbSize: 0n,
				vgaWorkspaceOffset: 0n,
				vgaWorkspaceSize: 0n,
				bootCount: 0n,
				gspFwHeapVfPartitionCount: 0,
			},
			m,
		);
		expect([u64(m, 0), u64(m, 72), u64(m, 80)]).toEqual([0xdc3aae21371a60b3n, 5n, 6n]);
		const l = new Uint8Array(32);
		api.boot.libosRegion.encode({ name: 'LOGRM', pa: 0x7000n, size: 0x10000n, kind: 1, loc: 1 }, l);
		expect(hex(l)).toBe(`4d52474f4c000000${'0070000000000000'}${'0000010000000000'}0101${'00'.repeat(6)}`);
		expect(() => api.boot.rmArgs.encode(rm, new Uint8Array(79))).toThrow(/needs 80 bytes/);
		expect(() => api.boot.libosRegion.encode({ pa: 0n, size: 0n, kind: 1, loc: 1 }, l)).toThrow(AbiError);
	});
});

describe('provenance', () => {
	it('every sub-interface is r535 code bound to r535 and records what it uses', () => {
		for (const name of SUB_INTERFACE_NAMES) {
			const p = abi.subInterfaces[name].provenance;
			expect(p).toMatchObject({ name, implementedBy: '@gspkit/abi-r535', boundTo: '535.113.01' });
			expect(p.types.length, name).toBeGreaterThan(0);
		}
		expect(api.gr.provenance.types).toContain('GspStaticConfigInfo');
		expect(api.fifo.provenance.constants).toContain('NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO');
	});

	it('records per member what it binds, so a tool can follow only the members a driver calls', () => {
		const fifo = api.fifo.provenance;
		expect(fifo.members.getDeviceInfoTable!.types).toEqual([
			'NV2080_CTRL_FIFO_DEVICE_ENTRY',
			'NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS',
		]);
		expect(fifo.members.constructedFalcons!.constants).toEqual([
			'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO',
		]);
		expect(fifo.members.bind!.types).toEqual(['NVA06F_CTRL_BIND_PARAMS']);
		expect(fifo.members.channelFlags!.constants).toContain('NVOS04_FLAGS_PRIVILEGED_CHANNEL');
		// The engine tables serve several members: shared, not pinned to one.
		expect(fifo.shared.tables).toEqual(['MC_ENGINE_IDX_*', 'NV2080_ENGINE_TYPE_*', 'enum:RM_ENGINE_TYPE']);
		expect(fifo.members.workSubmitToken).toEqual({ types: [], constants: [], tables: [] });
		// The members' records add up to the sub-interface's.
		for (const name of ['fifo', 'gr', 'gsp', 'device', 'alloc', 'vmm', 'ce', 'intr', 'client'] as const) {
			const p = api[name].provenance;
			const union = new Set([...p.shared.types, ...Object.values(p.members).flatMap((m) => m.types)]);
			expect([...union].sort(), name).toEqual([...p.types]);
			expect(Object.keys(p.members).length, name).toBeGreaterThan(1);
		}
		expect(api.gr.provenance.members.queryTopology!.types).toContain('GspStaticConfigInfo');
		expect(api.gr.provenance.members.contextBuffersInfo!.types).not.toContain('GspStaticConfigInfo');
	});

	it('patching a layout through the neutral type reaches the manifest offset', () => {
		const b = new Uint8Array(256);
		patch(abi.layouts.wprMeta, { frtsOffset: 7n }, b);
		expect(u64(b, offsetof(abi.layouts.wprMeta, 'frtsOffset'))).toBe(7n);
		expect(offsetof(abi.layouts.wprMeta, 'frtsOffset')).toBe(152);
	});
});
