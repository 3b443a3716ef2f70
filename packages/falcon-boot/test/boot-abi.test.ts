import {
	defineFirmwareAbi,
	manifestConstants,
	struct,
	toManifest,
	u8,
	u16,
	u32,
	u64,
	union,
} from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import {
	type BootAbi,
	bootAbiFromManifest,
	bootAbiOf,
	isBootAbi,
	rmArgsWriterFromLayout,
	type WprMetaFields,
	wprMetaCodecFromLayout,
} from '../src/boot-abi.ts';
import { BootAbiError } from '../src/errors.ts';
import { allocLibos, libosId8, writeRmArgs } from '../src/libos.ts';
import {
	TestArgsCached570,
	TestDma,
	TestSrInit,
	TestWprMeta,
	testAbi,
	u32At,
	u64At,
} from './boot-helpers.ts';

const fields: WprMetaFields = {
	sysmemAddrOfRadix3Elf: 0x1_0000_1000n,
	sizeOfRadix3Elf: 63541248n,
	sysmemAddrOfBootloader: 0x1_0010_0000n,
	sizeOfBootloader: 0x5000n,
	bootloaderCodeOffset: 0x100n,
	bootloaderDataOffset: 0x2000n,
	bootloaderManifestOffset: 0x4000n,
	sysmemAddrOfSignature: 0x1_0020_0000n,
	sizeOfSignature: 4096n,
	gspFwRsvdStart: 0x5_f3e0_0000n,
	nonWprHeapOffset: 0x5_f3e0_0000n,
	nonWprHeapSize: 0x10_0000n,
	gspFwWprStart: 0x5_f3f0_0000n,
	gspFwHeapOffset: 0x5_f400_0000n,
	gspFwHeapSize: 0x810_0000n,
	gspFwOffset: 0x5_fc16_0000n,
	bootBinOffset: 0x5_ffdf_b000n,
	frtsOffset: 0x5_ffe0_0000n,
	frtsSize: 0x10_0000n,
	gspFwWprEnd: 0x5_fff0_0000n,
	fbSize: 0x6_0000_0000n,
	vgaWorkspaceOffset: 0x5_fff0_0000n,
	vgaWorkspaceSize: 0x10_0000n,
	bootCount: 0n,
	gspFwHeapVfPartitionCount: 3,
	pmuReservedSize: 0x1234,
	flags: 1,
};

describe('GspFwWprMeta through the ABI', () => {
	it('the test ABI (A.7 offsets) writes every field where the reference says', () => {
		const abi = bootAbiOf(testAbi());
		const b = new Uint8Array(256).fill(0xee);
		abi.wprMeta.encode(fields, b);
		const at = (o: number) => u64At(b, o);
		expect(at(0x00)).toBe(0xdc3aae21371a60b3n);
		expect(at(0x08)).toBe(1n);
		expect(at(0x10)).toBe(0x1_0000_1000n);
		expect(at(0x18)).toBe(63541248n);
		expect(at(0x20)).toBe(0x1_0010_0000n);
		expect(at(0x28)).toBe(0x5000n);
		expect([at(0x30), at(0x38), at(0x40)]).toEqual([0x100n, 0x2000n, 0x4000n]);
		expect([at(0x48), at(0x50)]).toEqual([0x1_0020_0000n, 4096n]);
		expect([at(0x58), at(0x60), at(0x68)]).toEqual([0x5_f3e0_0000n, 0x5_f3e0_0000n, 0x10_0000n]);
		expect([at(0x70), at(0x78), at(0x80), at(0x88), at(0x90)]).toEqual([
			0x5_f3f0_0000n,
			0x5_f400_0000n,
			0x810_0000n,
			0x5_fc16_0000n,
			0x5_ffdf_b000n,
		]);
		expect([at(0x98), at(0xa0), at(0xa8), at(0xb0), at(0xb8), at(0xc0), at(0xc8)]).toEqual([
			0x5_ffe0_0000n,
			0x10_0000n,
			0x5_fff0_0000n,
			0x6_0000_0000n,
			0x5_fff0_0000n,
			0x10_0000n,
			0n,
		]);
		expect(b[0xf0]).toBe(3);
		expect(at(0xf8)).toBe(0n);
		// Bytes no field covers are zeroed (no stale 0xee left).
		expect(b.subarray(0xd0, 0xf0).every((x) => x === 0)).toBe(true);
		expect(b.subarray(0xf1, 0xf8).every((x) => x === 0)).toBe(true);
		const back = abi.wprMeta.decode(b);
		const { pmuReservedSize: _p, flags: _f, ...common } = fields;
		expect(back).toMatchObject({ ...common, magic: 0xdc3aae21371a60b3n, revision: 1n, verified: 0n });
		expect(back.pmuReservedSize).toBeUndefined(); // r535-like layout: no such field
	});

	it('an r570-style layout with anonymous unions and pmuReservedSize/flags is found by C name', () => {
		const BootInfo = struct('', [
			['sysmemAddrOfSignature', u64],
			['sizeOfSignature', u64],
		]);
		const ResumeInfo = struct('', [
			['gspFwHeapFreeListWprOffset', u32],
			['unused0', u32],
			['unused1', u64],
		]);
		const Meta = struct('GspFwWprMeta', [
			['magic', u64],
			['revision', u64],
			['sysmemAddrOfRadix3Elf', u64],
			['sizeOfRadix3Elf', u64],
			['sysmemAddrOfBootloader', u64],
			['sizeOfBootloader', u64],
			['bootloaderCodeOffset', u64],
			['bootloaderDataOffset', u64],
			['bootloaderManifestOffset', u64],
			[
				'@anon0',
				union('', [
					['@anon0', BootInfo],
					['@anon1', ResumeInfo],
				]),
			],
			['gspFwRsvdStart', u64],
			['nonWprHeapOffset', u64],
			['nonWprHeapSize', u64],
			['gspFwWprStart', u64],
			['gspFwHeapOffset', u64],
			['gspFwHeapSize', u64],
			['gspFwOffset', u64],
			['bootBinOffset', u64],
			['frtsOffset', u64],
			['frtsSize', u64],
			['gspFwWprEnd', u64],
			['fbSize', u64],
			['vgaWorkspaceOffset', u64],
			['vgaWorkspaceSize', u64],
			['bootCount', u64],
			[
				'partition',
				struct('', [
					['x', u64],
					['y', u64],
					['z', u64],
					['w', u64],
				]),
			],
			['gspFwHeapVfPartitionCount', u8],
			['flags', u8],
			['padding', u16],
			['pmuReservedSize', u32],
			['verified', u64],
		]);
		expect(Meta.size).toBe(256);
		const codec = wprMetaCodecFromLayout(Meta);
		const b = new Uint8Array(256);
		codec.encode(fields, b);
		expect(u64At(b, 0x48)).toBe(0x1_0020_0000n);
		expect(u64At(b, 0x50)).toBe(4096n);
		expect(b[241]).toBe(1);
		expect(u32At(b, 244)).toBe(0x1234);
		expect(codec.decode(b)).toMatchObject({ pmuReservedSize: 0x1234, flags: 1, sizeOfSignature: 4096n });
	});

	it('a layout lacking fields is a BootAbiError listing them', () => {
		const Short = struct('GspFwWprMeta', [
			['magic', u64],
			['revision', u64],
		]);
		const e = (() => {
			try {
				wprMetaCodecFromLayout(Short);
			} catch (x) {
				return x as BootAbiError;
			}
		})();
		expect(e).toBeInstanceOf(BootAbiError);
		expect(e?.details.missing).toContain('sysmemAddrOfRadix3Elf');
		expect(e?.details.missing).toContain('verified');
	});

	it("takes the magic from the manifest's GSP_FW_WPR_META_MAGIC", () => {
		const abi = bootAbiOf(testAbi('570.144', { magic: 0x1122334455667788n }));
		expect(abi.wprMeta.magic).toBe(0x1122334455667788n);
		const b = new Uint8Array(256);
		abi.wprMeta.encode(fields, b);
		expect(u64At(b, 0)).toBe(0x1122334455667788n);
	});

	it('a value too wide for its field is a BootAbiError', () => {
		const abi = bootAbiOf(testAbi());
		expect(() =>
			abi.wprMeta.encode({ ...fields, gspFwHeapVfPartitionCount: 256 }, new Uint8Array(256)),
		).toThrow(BootAbiError);
	});
});

describe('bootAbiOf', () => {
	it('prefers a BootAbi, then subInterfaces.boot, then the manifest', () => {
		const derived = bootAbiFromManifest(testAbi().manifest, '570.144');
		expect(isBootAbi(derived)).toBe(true);
		expect(bootAbiOf(derived)).toBe(derived);
		const custom: BootAbi = { ...derived, version: '570.144' };
		const base = testAbi();
		const withSub = defineFirmwareAbi({
			version: base.version,
			branch: base.branch,
			chips: base.chips,
			firmwareFiles: (c) => base.firmwareFiles(c),
			functions: base.functions,
			events: base.events,
			layouts: base.layouts,
			manifest: base.manifest,
			subInterfaces: { boot: custom },
		});
		expect(bootAbiOf(withSub)).toBe(custom);
		expect(isBootAbi(base)).toBe(false);
	});

	it('a manifest without GSP_ARGUMENTS_CACHED is a BootAbiError', () => {
		const m = toManifest([TestWprMeta], { abi: '1.0', constants: manifestConstants('define', { X: 1 }) });
		expect(() => bootAbiFromManifest(m, '1.0')).toThrow(/no struct GSP_ARGUMENTS_CACHED/);
	});
});

describe('RMARGS (GSP_ARGUMENTS_CACHED)', () => {
	const rm = {
		messageQueue: {
			sharedMemPhysAddr: 0x1_2340_0000n,
			pageTableEntryCount: 129,
			cmdQueueOffset: 0x1000n,
			statQueueOffset: 0x41000n,
			locklessCmdQueueOffset: 0x7n,
			locklessStatQueueOffset: 0x9n,
		},
		srInit: { oldLevel: 3, flags: 5, inPmTransition: true },
		gpuInstance: 2,
		profiler: { pa: 0xabc000n, size: 0x1000n },
		dmemStack: true,
	};

	it('r570 layout (72 bytes): offsets from gsp-rpc.md §1.7', () => {
		const w = rmArgsWriterFromLayout(TestArgsCached570);
		expect(w.size).toBe(72);
		const b = new Uint8Array(72).fill(0xee);
		w.encode(rm, b);
		expect([u64At(b, 0), u32At(b, 8), u64At(b, 16), u64At(b, 24)]).toEqual([
			0x1_2340_0000n,
			129,
			0x1000n,
			0x41000n,
		]);
		expect([u32At(b, 32), u32At(b, 36), b[40], u32At(b, 44), b[48]]).toEqual([3, 5, 1, 2, 1]);
		expect([u64At(b, 56), u64At(b, 64)]).toEqual([0xabc000n, 0x1000n]);
		expect(b[12]).toBe(0); // padding zeroed
	});

	it('r535 layout (80 bytes) also writes the lockless queue offsets and has no bDmemStack', () => {
		const Mq535 = struct('MESSAGE_QUEUE_INIT_ARGUMENTS', [
			['sharedMemPhysAddr', u64],
			['pageTableEntryCount', u32],
			['cmdQueueOffset', u64],
			['statQueueOffset', u64],
			['locklessCmdQueueOffset', u64],
			['locklessStatQueueOffset', u64],
		]);
		const Args535 = struct('GSP_ARGUMENTS_CACHED', [
			['messageQueueInitArguments', Mq535],
			['srInitArguments', TestSrInit],
			['gpuInstance', u32],
			[
				'profilerArgs',
				struct('', [
					['pa', u64],
					['size', u64],
				]),
			],
		]);
		const w = rmArgsWriterFromLayout(Args535);
		expect(w.size).toBe(80);
		const b = new Uint8Array(80);
		w.encode(rm, b);
		expect([u64At(b, 32), u64At(b, 40)]).toEqual([7n, 9n]);
		expect([u32At(b, 48), u32At(b, 60), u64At(b, 64)]).toEqual([3, 2, 0xabc000n]);
	});
});

describe('LIBOS arguments', () => {
	it('id8 packs the name big-endian', () => {
		expect(libosId8('LOGINIT')).toBe(0x004c4f47494e4954n);
		expect(libosId8('RMARGS')).toBe(0x0000524d41524753n);
		expect(() => libosId8('TOOLONGNAME')).toThrow(BootAbiError);
	});

	it('writes LOGINIT, LOGINTR, LOGRM (64 KiB) and RMARGS (4 KiB), CONTIGUOUS/SYSMEM; logs carry their page tables', () => {
		const dma = new TestDma();
		const abi = bootAbiOf(testAbi());
		const l = allocLibos(dma, abi);
		const a = l.args.bytes;
		const regions = [l.logInit, l.logIntr, l.logRm, l.rmArgs];
		['LOGINIT', 'LOGINTR', 'LOGRM', 'RMARGS'].forEach((name, i) => {
			const o = i * 32;
			expect(u64At(a, o)).toBe(libosId8(name));
			expect(u64At(a, o + 8)).toBe(regions[i]?.busAddress);
			expect(u64At(a, o + 16)).toBe(BigInt(i < 3 ? 65536 : 4096));
			expect([a[o + 24], a[o + 25]]).toEqual([1, 1]);
		});
		expect(a.subarray(128).every((x) => x === 0)).toBe(true);
		for (const log of [l.logInit, l.logIntr, l.logRm]) {
			expect(u64At(log.bytes, 0)).toBe(0n);
			expect(u64At(log.bytes, 8)).toBe(log.busAddress);
			expect(u64At(log.bytes, 8 + 15 * 8)).toBe(log.busAddress + 15n * 4096n);
			expect(u64At(log.bytes, 8 + 16 * 8)).toBe(0n);
		}
		writeRmArgs(abi, l.rmArgs, {
			messageQueue: {
				sharedMemPhysAddr: 5n,
				pageTableEntryCount: 1,
				cmdQueueOffset: 0x1000n,
				statQueueOffset: 0x41000n,
			},
			srInit: { oldLevel: 0, flags: 0, inPmTransition: false },
			gpuInstance: 0,
			profiler: { pa: 0n, size: 0n },
		});
		expect(u64At(l.rmArgs.bytes, 0)).toBe(5n);
		expect(l.rmArgs.bytes[48]).toBe(1); // bDmemStack defaults to 1
	});
});
