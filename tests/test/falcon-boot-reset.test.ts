/**
 * The boot path's guards and reset path against the simulated GPU: a booter from the wrong chip is refused
 * before SEC2 is touched, a GSP that refuses the app_version handoff ends the boot at once, and
 * `resetPciFunction` (PCIe FLR through configuration space) makes a booted GPU bootable again.
 */

// A library's tests may not import gpu-sim, so this one lives here and boots with the real r570 ABI.
import { abi as r570 } from '@gspkit/abi-r570';
import {
	BootFirmwareError,
	type BootFirmwareFiles,
	bootGsp,
	checkBooterForHal,
	GA10X_BOOT_HAL,
	GA100_BOOT_HAL,
	GspStartError,
	PCI_RESET_TIMEOUTS,
	PciResetError,
	parseHsFirmware,
	resetPciFunction,
	runSec2Booter,
	TU10X_BOOT_HAL,
	Wpr2AlreadyUpError,
	WrongChipBooterError,
} from '@gspkit/falcon-boot';
import { createSimulatedGpu, GSP_HANDOFF_ERROR, PciConfigModel, syntheticFirmware } from '@gspkit/gpu-sim';
import { MS, type Platform, readWpr2, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';

const V = '570.144';

function files(chip: string): BootFirmwareFiles {
	const f = syntheticFirmware(chip, V).files;
	const get = (k: string) => {
		const b = f.get(k);
		if (b === undefined) throw new Error(`synthetic ${chip} lacks ${k}`);
		return b;
	};
	const gen = f.get(`gsp/gen_bootloader-${V}.bin`);
	return {
		gsp: get(`gsp/gsp-${V}.bin`),
		bootloader: get(`gsp/bootloader-${V}.bin`),
		booterLoad: get(`gsp/booter_load-${V}.bin`),
		...(gen === undefined ? {} : { genBootloader: gen }),
		version: V,
	};
}

async function failure(p: Promise<unknown>): Promise<Error> {
	try {
		await p;
	} catch (e) {
		return e as Error;
	}
	throw new Error('expected a failure');
}

describe('a booter from the wrong chip', () => {
	const ga = parseHsFirmware(files('ga102').booterLoad, 'ga102/booter_load');
	const tu = parseHsFirmware(files('tu102').booterLoad, 'tu102/booter_load');

	it('checkBooterForHal: RSA-3K booters fit GA10x and GA100, AES booters fit TU10x; the others are refused by name', () => {
		expect([ga.signatureSize, tu.signatureSize]).toEqual([384, 16]);
		expect(() => checkBooterForHal(ga, GA10X_BOOT_HAL, 'ga')).not.toThrow();
		expect(() => checkBooterForHal(ga, GA100_BOOT_HAL, 'ga')).not.toThrow();
		expect(() => checkBooterForHal(tu, TU10X_BOOT_HAL, 'tu')).not.toThrow();
		let e: unknown;
		try {
			checkBooterForHal(tu, GA10X_BOOT_HAL, 'nvidia/tu102/gsp/booter_load-570.144.bin', 'firmware');
		} catch (x) {
			e = x;
		}
		expect(e).toBeInstanceOf(WrongChipBooterError);
		expect(e).toBeInstanceOf(BootFirmwareError);
		const w = e as WrongChipBooterError;
		expect([w.code, w.errno, w.stage]).toEqual(['BOOT_FIRMWARE', 'EINVAL', 'firmware']);
		expect([w.file, w.expected, w.found]).toEqual([
			'nvidia/tu102/gsp/booter_load-570.144.bin',
			'RSA-3K (384-byte)',
			'AES-128 (16-byte)',
		]);
		expect(w.message).toMatch(
			/booter_load-570\.144\.bin is a booter from the wrong chip: the ga10x boot HAL's SEC2 checks RSA-3K \(384-byte\) signatures, the file has AES-128 \(16-byte\) signatures \(a TU10x booter\)/,
		);
		expect(() => checkBooterForHal(ga, TU10X_BOOT_HAL, 'ga')).toThrow(
			/ga is a booter from the wrong chip: the tu10x .* AES-128 \(16-byte\) .* RSA-3K \(384-byte\) signatures \(a GA100\/GA10x\/AD10x booter\)/,
		);
		// Unsigned images carry no kind to judge: the boot ROM decides.
		expect(() =>
			checkBooterForHal({ ...tu, numSignatures: 0, signatureSize: 0 }, GA10X_BOOT_HAL, 'x'),
		).not.toThrow();
	});

	it('runSec2Booter refuses it before SEC2 is reset or any DMA is allocated', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		gpu.config.write16(0x04, 0x6);
		gpu.boot.sec2.setMailbox(0, 0x1234);
		const inUse = gpu.dma.bytesInUse;
		const e = await failure(
			runSec2Booter(gpu, GA10X_BOOT_HAL, tu, { name: 'booter_unload', mailbox0: 0xff, mailbox1: 0xff }),
		);
		expect(e).toBeInstanceOf(WrongChipBooterError);
		expect((e as WrongChipBooterError).stage).toBe('booter');
		expect((e as WrongChipBooterError).file).toBe('booter_unload');
		expect(gpu.dma.bytesInUse).toBe(inUse);
		expect(gpu.boot.sec2.runLog).toHaveLength(0);
		expect(gpu.boot.sec2.mailboxes[0]).toBe(0x1234); // never reset
		await gpu.close();
	});

	it.each([
		['ga102', 'tu102'],
		['tu102', 'ga102'],
	])('bootGsp on a %s with the %s booter_load fails at the firmware stage', async (chip, other) => {
		const gpu = createSimulatedGpu({ chip });
		const e = await failure(
			bootGsp(gpu, { firmware: { ...files(chip), booterLoad: files(other).booterLoad }, abi: r570 }),
		);
		expect(e).toBeInstanceOf(WrongChipBooterError);
		expect((e as WrongChipBooterError).stage).toBe('firmware');
		expect((e as WrongChipBooterError).file).toBe('<booter_load>');
		expect(gpu.boot.sec2.runLog).toHaveLength(0);
		expect(readWpr2(gpu.bar0)).toBeUndefined(); // FWSEC never ran
		await gpu.close();
	});
});

describe('the app_version handoff', () => {
	/** The bootloader file with its RM_RISCV_UCODE_DESC.app_version (u32 at header_offset + 28) changed. */
	function withAppVersion(bootloader: Uint8Array, value: number): Uint8Array {
		const b = bootloader.slice();
		const dv = new DataView(b.buffer);
		dv.setUint32(dv.getUint32(12, true) + 28, value, true);
		return b;
	}

	it('the right value: the GSP takes over (result.appVersion is what the OS register holds)', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const r = await bootGsp(gpu, { firmware: files('ga102'), abi: r570 });
		expect(r.appVersion).toBe(0x5701_4400);
		expect(gpu.bar0.read32(0x110080)).toBe(0x5701_4400);
		expect(gpu.boot.handoffFailure).toBeUndefined();
		expect(gpu.gspRm.phase).not.toBe('off');
		r.release();
		await gpu.close();
	});

	it('a bootloader whose app_version was edited: GspStartError (EIO) at once, naming the GSP mailbox', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const f = files('ga102');
		const inUse = gpu.dma.bytesInUse;
		const clock = gpu.clock as VirtualClock;
		const e = await failure(
			bootGsp(gpu, {
				firmware: { ...f, bootloader: withAppVersion(f.bootloader, 0x5701_4401) },
				abi: r570,
			}),
		);
		expect(e).toBeInstanceOf(GspStartError);
		const g = e as GspStartError;
		expect([g.stage, g.errno]).toEqual(['gsp-start', 'EIO']);
		expect(g.message).toMatch(
			/app_version 0x57014401 was written to its OS register: GSP MAILBOX0 = 0xbad40001/,
		);
		expect(g.details.gspMailbox0).toBe('0xbad40001');
		expect(GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH).toBe(0xbad4_0001);
		// Failed on the first poll, not after the 5 s timeout (virtual time).
		expect(clock.now()).toBeLessThan(1000n * MS);
		expect(gpu.gspRm.phase).toBe('off');
		expect(gpu.dma.bytesInUse).toBe(inUse);
		await gpu.close();
	});
});

describe('resetPciFunction', () => {
	it('FLR through the PCIe capability at 0x78: WPR2 down, the header restored, 100 ms waited; then the GPU boots again', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const first = await bootGsp(gpu, { firmware: files('ga102'), abi: r570 });
		expect(readWpr2(gpu.bar0)).toBeDefined();
		const again = await failure(bootGsp(gpu, { firmware: files('ga102'), abi: r570 }));
		expect(again).toBeInstanceOf(Wpr2AlreadyUpError);
		gpu.config.write16(0x80, 0x2830); // a Device Control setting the reset must keep
		const command = gpu.config.read16(0x04);
		const bars = [0x10, 0x14, 0x18, 0x1c, 0x20].map((o) => gpu.config.read32(o));
		const t0 = gpu.clock.now();
		const r = await resetPciFunction(gpu);
		expect(r).toEqual({ method: 'flr', pcieCapability: 0x78, transactionsPending: false });
		expect(gpu.clock.now() - t0).toBeGreaterThanOrEqual(PCI_RESET_TIMEOUTS.flrNs);
		expect(gpu.config.read16(0x04)).toBe(command);
		expect(gpu.config.read16(0x80)).toBe(0x2830);
		expect([0x10, 0x14, 0x18, 0x1c, 0x20].map((o) => gpu.config.read32(o))).toEqual(bars);
		expect(readWpr2(gpu.bar0)).toBeUndefined();
		expect(gpu.boot.gsp.riscvActive).toBe(false);
		expect(gpu.gspRm.phase).toBe('off');
		first.release();
		const second = await bootGsp(gpu, { firmware: files('ga102'), abi: r570 });
		expect(second.wprMeta.verified).toBe(0xa0a0a0a0a0a0a0a0n);
		second.release();
		await gpu.close();
	});

	/** A bare configuration space on a virtual clock, for the cases the simulated GPU does not produce. */
	function fakePlatform(build: (cfg: PciConfigModel) => void): Platform {
		const config = new PciConfigModel();
		config.init(0x00, 2, 0x10de);
		config.init(0x04, 2, 0x6, { writable: 0x7 });
		config.init(0x06, 2, 0x10);
		config.init(0x34, 1, 0x40);
		build(config);
		return { config, clock: new VirtualClock(), pci: { address: '0000:02:00.0' } } as unknown as Platform;
	}

	it('a function without FLR, or without a PCIe capability, is EOPNOTSUPP', async () => {
		const noFlr = fakePlatform((c) => {
			c.init(0x40, 2, 0x10); // PCIe capability, last
			c.init(0x44, 4, 0x1);
		});
		const e1 = await failure(resetPciFunction(noFlr));
		expect(e1).toBeInstanceOf(PciResetError);
		expect([(e1 as PciResetError).code, (e1 as PciResetError).errno]).toEqual([
			'BOOT_PCI_RESET',
			'EOPNOTSUPP',
		]);
		expect(e1.message).toMatch(/0000:02:00\.0 is not FLR-capable/);
		const noPcie = fakePlatform((c) => c.init(0x40, 2, 0x05)); // MSI only
		const e2 = await failure(resetPciFunction(noPcie));
		expect((e2 as PciResetError).errno).toBe('EOPNOTSUPP');
		expect(e2.message).toMatch(/no PCI Express capability/);
	});

	it('a function that stops answering configuration reads after FLR is ETIMEDOUT', async () => {
		const p = fakePlatform((c) => {
			c.init(0x40, 2, 0x10);
			c.init(0x44, 4, 1 << 28);
			c.init(0x48, 2, 0, { writable: 0x7fff });
			c.onWrite(0x48, 0x4a, (_o, _w, v) => {
				if (v & 0x8000) c.hwWrite(0x00, 2, 0xffff); // gone for good
			});
		});
		const e = await failure(resetPciFunction(p));
		expect(e).toBeInstanceOf(PciResetError);
		expect((e as PciResetError).errno).toBe('ETIMEDOUT');
	});
});
