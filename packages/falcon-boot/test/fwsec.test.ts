import { test } from '@fast-check/vitest';
import { joinDmaBase, VirtualClock } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FwsecError, FwsecSignatureError, UcodeFormatError, Wpr2AlreadyUpError } from '../src/errors.ts';
import type { FalconVariant } from '../src/falcon.ts';
import { parseGenBootloader } from '../src/firmware/gen-bootloader.ts';
import { readFuseVersion } from '../src/fuse.ts';
import { buildFwsecImage, fwsecSignatureIndex, patchFwsecCommand, runFwsecFrts } from '../src/fwsec.ts';
import { parseVbios } from '../src/vbios.ts';
import { RecordingBar0, TestDma, u32At, u64At } from './boot-helpers.ts';
import { buildVbiosRom, fakeSignature, fwsecDmem } from './vbios-builder.ts';

const MiB = 1n << 20n;
const frts = { base: 0x5ffe00000n, size: MiB };

describe('patchFwsecCommand', () => {
	it('sets init_cmd = 0x15 and writes ReadVbios + FrtsRegion at cmd_in_buffer_offset', () => {
		const d = fwsecDmem({ size: 0x400, interfaceOffset: 0x20, mapperOffset: 0x80, cmdOffset: 0x200 });
		const p = patchFwsecCommand(d, 0x300, 0x20, frts);
		expect(p).toEqual({
			appInterfaceOffset: 0x320,
			dmemMapperOffset: 0x380,
			initCmdOffset: 0x380 + 44,
			commandOffset: 0x500,
			command: 0x15,
		});
		expect(u32At(d, 0x80 + 44)).toBe(0x15);
		// ReadVbios {ver 1, hdr 24, addr 0 (u64), size 0, flags 2}
		expect([u32At(d, 0x200), u32At(d, 0x204), u64At(d, 0x208), u32At(d, 0x210), u32At(d, 0x214)]).toEqual([
			1,
			24,
			0n,
			0,
			2,
		]);
		// FrtsRegion {ver 1, hdr 20, addr = base >> 12, size = 1 MiB >> 12 = 0x100, type 2}
		expect([u32At(d, 0x218), u32At(d, 0x21c), u32At(d, 0x220), u32At(d, 0x224), u32At(d, 0x228)]).toEqual([
			1, 20, 0x5ffe00, 0x100, 2,
		]);
		// Nothing else changed: the byte after the command is still the fill pattern.
		expect(d[0x22c]).toBe(0xcc);
		// The mapper's other fields are untouched.
		expect(u32At(d, 0x80)).toBe(0x50414d44);
		expect(u32At(d, 0x88)).toBe(0x200);
	});

	it('SB (0x19) writes only ReadVbios', () => {
		const d = fwsecDmem({ size: 0x400, interfaceOffset: 0x20, mapperOffset: 0x80, cmdOffset: 0x200 });
		patchFwsecCommand(d, 0, 0x20, frts, 0x19);
		expect(u32At(d, 0x80 + 44)).toBe(0x19);
		expect(d[0x218]).toBe(0xcc);
	});

	it('names the table and its ucode offset on malformed input', () => {
		const mk = () => fwsecDmem({ size: 0x400, interfaceOffset: 0x20, mapperOffset: 0x80, cmdOffset: 0x200 });
		const err = (d: Uint8Array) => {
			try {
				patchFwsecCommand(d, 0x300, 0x20, frts);
			} catch (e) {
				expect(e).toBeInstanceOf(UcodeFormatError);
				return e as UcodeFormatError;
			}
			throw new Error('no error');
		};
		const v = mk();
		v[0x20] = 2;
		expect([err(v).field, err(v).offset]).toEqual(['app interface table.version', 0x320]);
		const noMapper = mk();
		noMapper[0x20 + 12] = 5;
		expect(err(noMapper).field).toBe('app interface table');
		const farMapper = mk();
		new DataView(farMapper.buffer).setUint32(0x20 + 16, 0x3f0, true);
		expect(err(farMapper).field).toMatch(/DMEM mapper/);
		const farCmd = mk();
		new DataView(farCmd.buffer).setUint32(0x80 + 8, 0x3e0, true);
		const e = err(farCmd);
		expect(e.field).toMatch(/FWSEC command/);
		expect(e.offset).toBe(0x300 + 0x88);
	});
});

describe('fwsecSignatureIndex (reference A.5)', () => {
	it('counts the versions below the fuse version', () => {
		// versions 0, 1 and 3 present
		expect(fwsecSignatureIndex(0b1011, 3, 0)).toBe(0);
		expect(fwsecSignatureIndex(0b1011, 3, 1)).toBe(1);
		expect(fwsecSignatureIndex(0b1011, 3, 3)).toBe(2);
	});

	it('rejects a fuse version without a signature, and an index past the signatures', () => {
		expect(() => fwsecSignatureIndex(0b1011, 3, 2)).toThrow(FwsecSignatureError);
		expect(() => fwsecSignatureIndex(0b1011, 3, 2)).toThrow(/lacks bit 0x4/);
		expect(() => fwsecSignatureIndex(0b1011, 2, 3)).toThrow(/beyond the 2 signature/);
		expect(() => fwsecSignatureIndex(0xffff, 16, 16)).toThrow(FwsecSignatureError);
	});

	test.prop([fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0, max: 15 })])(
		'the chosen index is the rank of the fuse version among the present versions',
		(versions, fv) => {
			const present = [...Array(16).keys()].filter((v) => (versions >> v) & 1);
			if (!present.includes(fv)) {
				expect(() => fwsecSignatureIndex(versions, present.length, fv)).toThrow(FwsecSignatureError);
			} else {
				expect(fwsecSignatureIndex(versions, present.length, fv)).toBe(present.indexOf(fv));
			}
		},
	);
});

const imem = Uint8Array.from({ length: 0x300 }, (_, i) => (i * 13) & 0xff);
const dmem = fwsecDmem({ size: 0x3c0, interfaceOffset: 0x20, mapperOffset: 0x80, cmdOffset: 0x200 });
const sigs = [fakeSignature(10), fakeSignature(11), fakeSignature(12)];
const romV3 = buildVbiosRom({
	fwsec: {
		version: 3,
		imem,
		dmem,
		interfaceOffset: 0x20,
		imemPhysBase: 0x100,
		dmemPhysBase: 0,
		pkcDataOffset: 0x230,
		engineIdMask: 0x400,
		ucodeId: 9,
		signatureVersions: 0b1011,
		signatures: sigs,
	},
});

describe('buildFwsecImage', () => {
	it('v3: IMEM at 0, DMEM at the next 256-byte boundary, command and chosen signature patched; ROM untouched', () => {
		const v = parseVbios(romV3.rom);
		const before = Buffer.from(romV3.rom);
		const img = buildFwsecImage(v.fwsec, { frts, fuseVersion: 3 });
		expect(img.imemLength).toBe(0x300);
		expect(img.dmemOffset).toBe(0x300);
		expect(img.bytes.length).toBe(0x300 + 0x400);
		expect(Buffer.from(img.bytes.subarray(0, 0x300)).equals(Buffer.from(imem))).toBe(true);
		expect(img.signature).toEqual({ index: 2, fuseVersion: 3, dmemOffset: 0x230 });
		expect(
			Buffer.from(img.bytes.subarray(0x300 + 0x230, 0x300 + 0x230 + 384)).equals(
				Buffer.from(sigs[2] as Uint8Array),
			),
		).toBe(true);
		expect(u32At(img.bytes, 0x300 + 0x80 + 44)).toBe(0x15);
		expect(u32At(img.bytes, 0x300 + 0x200 + 24 + 8)).toBe(0x5ffe00);
		expect(Buffer.from(romV3.rom).equals(before)).toBe(true);
	});

	it('v3: a pkc_data_offset that leaves no room for the signature is a UcodeFormatError', () => {
		const rom = buildVbiosRom({
			fwsec: {
				version: 3,
				imem,
				dmem,
				interfaceOffset: 0x20,
				pkcDataOffset: 0x300,
				signatureVersions: 1,
				signatures: [sigs[0] as Uint8Array],
			},
		});
		expect(() => buildFwsecImage(parseVbios(rom.rom).fwsec, { frts, fuseVersion: 0 })).toThrow(
			/pkc_data_offset/,
		);
	});
});

// ---------------------------------------------------------------------------------------------------------
// runFwsecFrts against a scripted GSP falcon (register-level): checks what the driver writes and how it
// judges what "FWSEC" reports.

const GA10X: FalconVariant = { scrubbing: 'hwcfg2', resetReady: true, riscvStatus: 'riscv-cpuctl' };
const TU10X: FalconVariant = { scrubbing: 'dmactl', resetReady: false, riscvStatus: 'core-switch' };
const R = {
	MAILBOX0: 0x110040,
	HWCFG2: 0x1100f4,
	CPUCTL: 0x110100,
	BOOTVEC: 0x110104,
	BASE: 0x110110,
	MOFFS: 0x110114,
	CMD: 0x110118,
	FBOFFS: 0x11011c,
	BASE1: 0x110128,
	TRANSCFG4: 0x110610,
	IMEMC0: 0x110180,
	IMEMT0: 0x110188,
	DMEMC0: 0x1101c0,
	DMEMD0: 0x1101c4,
	MOD_SEL: 0x111180,
	UCODE_ID: 0x111198,
	ENGIDMASK: 0x11119c,
	PARAADDR: 0x111210,
	BCR: 0x111668,
	SCRATCH_0E: 0x1438,
	WPR2_LO: 0x1fa824,
	WPR2_HI: 0x1fa828,
	GSP_FUSE_9: 0x8241c0 + 4 * 8,
};

interface Transfer {
	readonly cmd: number;
	readonly moffs: number;
	readonly fboffs: number;
	readonly data: Uint8Array;
}

function scriptedGsp(bar: RecordingBar0, dma: TestDma, effect: () => void) {
	const transfers: Transfer[] = [];
	bar.regs.set(R.HWCFG2, 0x80000000);
	bar.onWrite.set(R.BCR, (v) => bar.regs.set(R.BCR, v | 1));
	bar.onRead.set(R.CMD, () => 0x2);
	bar.onWrite.set(R.CMD, (cmd) => {
		const base = joinDmaBase(bar.regs.get(R.BASE) ?? 0, bar.regs.get(R.BASE1) ?? 0);
		const fboffs = bar.regs.get(R.FBOFFS) ?? 0;
		transfers.push({
			cmd,
			moffs: bar.regs.get(R.MOFFS) ?? 0,
			fboffs,
			data: dma.read(base + BigInt(fboffs), 256).slice(),
		});
	});
	let mailboxAtStart = -1;
	bar.onWrite.set(R.CPUCTL, (v) => {
		if (v & 2) {
			mailboxAtStart = bar.regs.get(R.MAILBOX0) ?? -1;
			bar.regs.set(R.CPUCTL, 0x10);
			effect();
		}
	});
	return { transfers, mailboxAtStart: () => mailboxAtStart };
}

const carve = (bar: RecordingBar0, lo = frts.base, hi = frts.base + 0x1000000n) => {
	bar.regs.set(R.WPR2_LO, Number(lo >> 12n) << 4);
	bar.regs.set(R.WPR2_HI, Number(hi >> 12n) << 4);
};

function runV3(bar: RecordingBar0, dma: TestDma) {
	return runFwsecFrts({
		bar0: bar,
		clock: new VirtualClock(),
		dma,
		variant: GA10X,
		ucode: parseVbios(romV3.rom).fwsec,
		frts,
		pciAddress: '0000:01:00.0',
	});
}

describe('runFwsecFrts (descriptor v3, DMA + boot ROM)', () => {
	it('loads secure IMEM and DMEM in 256-byte chunks, programs BROM from the descriptor and runs with MAILBOX0 = 0', async () => {
		const bar = new RecordingBar0();
		const dma = new TestDma();
		bar.regs.set(R.GSP_FUSE_9, 0b111); // fuse version 3 -> signature index 2
		const s = scriptedGsp(bar, dma, () => carve(bar));
		const r = await runV3(bar, dma);
		expect(r).toMatchObject({
			mailbox0: 0,
			frtsErrorCode: 0,
			loader: 'dma',
			signature: { index: 2, fuseVersion: 3 },
		});
		expect(r.wpr2).toEqual({ start: frts.base, end: frts.base + 0x1000000n });
		const imemT = s.transfers.filter((t) => t.cmd === 0x614);
		const dmemT = s.transfers.filter((t) => t.cmd === 0x600);
		expect(imemT.map((t) => [t.moffs, t.fboffs])).toEqual([
			[0x100, 0],
			[0x200, 0x100],
			[0x300, 0x200],
		]);
		expect(dmemT.map((t) => [t.moffs, t.fboffs])).toEqual([
			[0, 0x300],
			[0x100, 0x400],
			[0x200, 0x500],
			[0x300, 0x600],
		]);
		// What the falcon received: the patched command and the chosen signature.
		const dmemSeen = new Uint8Array(0x400);
		for (const t of dmemT) dmemSeen.set(t.data, t.moffs);
		expect(u32At(dmemSeen, 0x80 + 44)).toBe(0x15);
		expect(u32At(dmemSeen, 0x200 + 24 + 8)).toBe(Number(frts.base >> 12n));
		expect(
			Buffer.from(dmemSeen.subarray(0x230, 0x230 + 384)).equals(Buffer.from(sigs[2] as Uint8Array)),
		).toBe(true);
		expect(Buffer.from(imemT[0]?.data ?? []).equals(Buffer.from(imem.subarray(0, 256)))).toBe(true);
		expect([
			bar.regs.get(R.PARAADDR),
			bar.regs.get(R.ENGIDMASK),
			bar.regs.get(R.UCODE_ID),
			bar.regs.get(R.MOD_SEL),
		]).toEqual([0x230, 0x400, 9, 1]);
		expect(bar.regs.get(R.BOOTVEC)).toBe(0);
		expect(s.mailboxAtStart()).toBe(0);
		expect(dma.liveAllocations).toBe(0);
	});

	it('fuse version without a signature: FwsecSignatureError before touching the falcon', async () => {
		const bar = new RecordingBar0();
		const dma = new TestDma();
		bar.regs.set(R.GSP_FUSE_9, 0b11); // version 2: not in 0b1011
		await expect(runV3(bar, dma)).rejects.toBeInstanceOf(FwsecSignatureError);
		expect(bar.writes()).toEqual([]);
	});

	it('WPR2 already up: Wpr2AlreadyUpError (EBUSY) with the reset path, nothing written', async () => {
		const bar = new RecordingBar0();
		carve(bar);
		const e = (await runV3(bar, new TestDma()).catch((x: unknown) => x)) as Wpr2AlreadyUpError;
		expect(e).toBeInstanceOf(Wpr2AlreadyUpError);
		expect(e.code).toBe('BOOT_WPR2_ALREADY_UP');
		expect(e.errno).toBe('EBUSY');
		expect(e.wpr2Start).toBe(frts.base);
		expect(e.message).toMatch(/\/sys\/bus\/pci\/devices\/0000:01:00\.0\/reset/);
		expect(e.message).toMatch(/resetPciFunction\(platform\)/);
		expect(e.message).toMatch(/booter_unload on SEC2/);
		expect(e.message).not.toMatch(/gspkit-drm/);
		expect(bar.writes()).toEqual([]);
	});

	it.each([
		[
			'mailbox',
			(b: RecordingBar0) => {
				carve(b);
				b.regs.set(R.MAILBOX0, 0xbad);
			},
			/MAILBOX0 = 0xbad /,
		],
		[
			'frts-error',
			(b: RecordingBar0) => {
				carve(b);
				b.regs.set(R.SCRATCH_0E, 0x00420000);
			},
			/FRTS error 0x42$/,
		],
		['wpr2-not-set', (_b: RecordingBar0) => {}, /WPR2_ADDR_HI is 0/],
		['wpr2-mismatch', (b: RecordingBar0) => carve(b, frts.base + 0x100000n), /not at the FRTS base/],
	] as const)('reports %s with what the hardware said', async (failure, effect, message) => {
		const bar = new RecordingBar0();
		const dma = new TestDma();
		scriptedGsp(bar, dma, () => effect(bar));
		const e = (await runV3(bar, dma).catch((x: unknown) => x)) as FwsecError;
		expect(e).toBeInstanceOf(FwsecError);
		expect(e.failure).toBe(failure);
		expect(e.message).toMatch(message);
		expect(e.details).toHaveProperty('wpr2Hi');
		expect(dma.liveAllocations).toBe(0);
	});
});

function genBootloaderFile(): Uint8Array {
	const f = new Uint8Array(48 + 0x300);
	const dv = new DataView(f.buffer);
	for (const [i, v] of [0x10de, 1, f.length, 24, 48, 0x300].entries()) dv.setUint32(4 * i, v, true);
	for (const [i, v] of [0xfd, 0, 0, 0x200, 0x200, 0x100].entries()) dv.setUint32(24 + 4 * i, v, true);
	for (let i = 0; i < 0x200; i++) f[48 + i] = (i * 3) & 0xff;
	return f;
}

describe('runFwsecFrts (descriptor v2, generic bootloader)', () => {
	const romV2 = buildVbiosRom({
		fwsec: {
			version: 2,
			imem,
			dmem,
			interfaceOffset: 0x20,
			imemPhysBase: 0,
			imemSecBase: 0x100,
			imemSecSize: 0x200,
		},
	});

	it('PIO-loads the bootloader below 64 KiB of IMEM, writes BootloaderDmemDescV2 to DMEM 0, BOOTVEC = start_tag << 8', async () => {
		const bar = new RecordingBar0();
		const dma = new TestDma();
		bar.onRead.set(0x11010c, () => 0); // DMACTL: scrubbing done
		let image: Uint8Array | undefined;
		let desc: Uint8Array | undefined;
		bar.onWrite.set(R.CPUCTL, (v) => {
			if (!(v & 2)) return;
			bar.regs.set(R.CPUCTL, 0x10);
			// Reassemble the DMEM descriptor from the DMEMD writes, and read what it points at.
			const words = bar
				.writes()
				.filter(([o]) => o === R.DMEMD0)
				.map(([, w]) => w);
			desc = new Uint8Array(Uint32Array.from(words).buffer);
			image = dma.read(u64At(desc, 36), 0x300 + 0x400).slice();
			carve(bar);
		});
		const bl = parseGenBootloader(genBootloaderFile());
		const r = await runFwsecFrts({
			bar0: bar,
			clock: new VirtualClock(),
			dma,
			variant: TU10X,
			ucode: parseVbios(romV2.rom).fwsec,
			frts,
			genBootloader: bl,
		});
		expect(r.loader).toBe('gen-bootloader');
		expect(r.signature).toBeNull();
		const w = bar.writes();
		expect(w).toContainEqual([R.TRANSCFG4, 0x5]);
		expect(w).toContainEqual([R.IMEMC0, (((0x10000 - 0x200) / 256) << 8) | (1 << 24)]);
		expect(w.filter(([o]) => o === R.IMEMT0).map(([, t]) => t)).toEqual([0xfd, 0xfe]);
		expect(w).toContainEqual([R.DMEMC0, 1 << 24]);
		expect(bar.regs.get(R.BOOTVEC)).toBe(0xfd00);
		expect(w.some(([o]) => o === R.PARAADDR || o === R.MOD_SEL)).toBe(false);
		const d = desc as Uint8Array;
		expect(d.length).toBe(84);
		expect(u32At(d, 32)).toBe(4); // ctx_dma
		expect([u32At(d, 44), u32At(d, 48), u32At(d, 52), u32At(d, 56), u32At(d, 60)]).toEqual([
			0, 0x100, 0x100, 0x200, 0,
		]);
		expect(u64At(d, 64) - u64At(d, 36)).toBe(0x300n); // data_dma_base = code + DMEM offset
		expect(u32At(d, 72)).toBe(0x3c0); // data_size
		const img = image as Uint8Array;
		expect(Buffer.from(img.subarray(0, 0x300)).equals(Buffer.from(imem))).toBe(true);
		expect(u32At(img, 0x300 + 0x80 + 44)).toBe(0x15);
	});

	it('refuses a v2 FWSEC without a generic bootloader', async () => {
		await expect(
			runFwsecFrts({
				bar0: new RecordingBar0(),
				clock: new VirtualClock(),
				dma: new TestDma(),
				variant: TU10X,
				ucode: parseVbios(romV2.rom).fwsec,
				frts,
			}),
		).rejects.toThrow(/generic falcon bootloader/);
	});
});

describe('readFuseVersion', () => {
	it('reads the bit length of [ucode_id − 1] of the array the engine mask selects', () => {
		const bar = new RecordingBar0();
		bar.regs.set(0x8241c0 + 4 * 2, 0x0007); // GSP ucode 3
		bar.regs.set(0x824140 + 4 * 2, 0x0001); // SEC2 ucode 3
		bar.regs.set(0x824100 + 4 * 2, 0xffff0100); // NVDEC ucode 3: only the low 16 bits count
		expect(readFuseVersion(bar, 0x400, 3, 'fwsec', 'x')).toBe(3);
		expect(readFuseVersion(bar, 0x1, 3, 'fwsec', 'x')).toBe(1);
		expect(readFuseVersion(bar, 0x4, 3, 'fwsec', 'x')).toBe(9);
		expect(readFuseVersion(bar, 0x401, 3, 'fwsec', 'x')).toBe(1); // SEC2 wins, as in nova
		expect(() => readFuseVersion(bar, 0x2, 3, 'fwsec', 'x')).toThrow(UcodeFormatError);
		expect(() => readFuseVersion(bar, 0x400, 0, 'fwsec', 'x')).toThrow(/1\.\.16/);
	});
});
