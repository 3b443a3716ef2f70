import { UnsupportedChipError, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { isDeadRegisterValue, ProbeError, probe } from '../src/index.ts';
import { fakePlatform } from './fake-platform.ts';

/** Chipset codes of reference A.0, written down independently of hal's table. */
const REFERENCE_CHIPSETS: Record<string, number> = {
	TU102: 0x162,
	TU104: 0x164,
	TU106: 0x166,
	TU117: 0x167,
	TU116: 0x168,
	GA100: 0x170,
	GA102: 0x172,
	GA103: 0x173,
	GA104: 0x174,
	GA106: 0x176,
	GA107: 0x177,
	GH100: 0x180,
	AD102: 0x192,
	AD103: 0x193,
	AD104: 0x194,
	AD106: 0x196,
	AD107: 0x197,
	GB100: 0x1a0,
	GB102: 0x1a2,
	GB202: 0x1b2,
	GB203: 0x1b3,
	GB205: 0x1b5,
	GB206: 0x1b6,
	GB207: 0x1b7,
};

/** BOOT_0 / BOOT_42 laid out per reference A.0 for a given chipset and revision. */
function bootRegs(chipset: number, major = 0xa, minor = 1): { boot0: number; boot42: number } {
	const arch = chipset >> 4;
	const impl = chipset & 0xf;
	return {
		boot0: (((arch & 0x1f) << 24) | (impl << 20) | (((arch >> 5) & 1) << 8) | (major << 4) | minor) >>> 0,
		boot42: ((arch << 24) | (impl << 20) | (major << 16) | (minor << 12)) >>> 0,
	};
}

describe('probe', () => {
	it('describes a GA102-like function: chip, PCI identity, BARs, VRAM, link, GFW status', async () => {
		const p = fakePlatform({ ...bootRegs(0x172), fbMiB: 24576, totalVFs: 32 }, new VirtualClock());
		const d = await probe(p);
		expect(d.chip.name).toBe('GA102');
		expect(d.chip.chipset).toBe(0x172);
		expect(d.chip.architecture).toBe('ampere');
		expect(d.chip.revision).toEqual({ major: 0xa, minor: 1 });
		expect(d.boot0).toBe(0x172000a1);
		expect(d.boot42).toBe(0x172a1000);
		expect(d.pci).toEqual({
			vendorId: 0x10de,
			deviceId: 0x2204,
			subsystemVendorId: 0x10de,
			subsystemId: 0x1234,
			revision: 0xa1,
			classCode: 0x030000,
			address: '0000:42:00.0',
		});
		expect(d.bars.map((b) => [b.index, b.size, b.is64, b.prefetchable, b.io])).toEqual([
			[0, 16n << 20n, false, false, false],
			[1, 256n << 20n, true, true, false],
			[3, 32n << 20n, true, true, false],
		]);
		expect(d.vramSize).toBe(24n << 30n);
		expect(d.gfwBootComplete).toBe(true);
		expect(d.pcie).toEqual({ maxGen: 4, maxWidth: 16, gen: 3, width: 8 });
		expect(d.sriov).toMatchObject({
			offset: 0x140,
			totalVFs: 32,
			initialVFs: 32,
			numVFs: 3,
			enabled: false,
			firstVfOffset: 4,
			vfStride: 1,
			vfDeviceId: 0x2235,
			supportedPageSizes: 0x553,
		});
		expect(d.sriov?.vfBars.map((b) => [b.index, b.size, b.is64])).toEqual([
			[0, 16n << 20n, false],
			[1, 64n << 20n, true],
		]);
		expect(d.platform).toBe('fake platform');
		expect(d.firmware).toBeUndefined();
	});

	for (const [name, chipset] of Object.entries(REFERENCE_CHIPSETS)) {
		it(`identifies ${name} from BOOT_0/BOOT_42 and reads its VRAM size`, async () => {
			const fbMiB = 1024 + chipset; // a distinct size per chip
			const d = await probe(fakePlatform({ ...bootRegs(chipset, 0xb, 2), fbMiB }, new VirtualClock()));
			expect(d.chip.name).toBe(name);
			expect(d.chip.chipset).toBe(chipset);
			expect(d.chip.revision).toEqual({ major: 0xb, minor: 2 });
			expect(d.vramSize).toBe(BigInt(fbMiB) * 1024n * 1024n);
			expect(d.sriov).toBeUndefined();
		});
	}

	it('takes identity from BOOT_42 when it disagrees with BOOT_0', async () => {
		const boot0 = bootRegs(0x172, 0xa, 1).boot0;
		const boot42 = bootRegs(0x174, 0xb, 2).boot42;
		const d = await probe(fakePlatform({ boot0, boot42 }, new VirtualClock()));
		expect(d.chip.name).toBe('GA104');
		expect(d.chip.revision).toEqual({ major: 0xb, minor: 2 });
	});

	it('restores BARs and COMMAND after sizing, and enables memory decoding when it was off', async () => {
		const p = fakePlatform({ ...bootRegs(0x162), decodeOff: true }, new VirtualClock());
		p.cfg.write32(0x10, 0xfb000000);
		p.cfg.write32(0x14, 0x40000000);
		p.cfg.write32(0x18, 0x60);
		const d = await probe(p);
		expect(d.chip.name).toBe('TU102');
		expect(p.cfg.read32(0x10)).toBe(0xfb000000);
		expect(p.cfg.read32(0x14)).toBe(0x4000000c);
		expect(p.cfg.read32(0x18)).toBe(0x60);
		expect(d.bars[0]?.address).toBe(0xfb000000n);
		expect(d.bars[1]?.address).toBe(0x60_4000_0000n);
		expect(p.cfg.read16(0x04) & 2).toBe(2);
	});

	it('rejects a function that is not NVIDIA', async () => {
		const p = fakePlatform({ ...bootRegs(0x172), vendorId: 0x1002, deviceId: 0x73bf }, new VirtualClock());
		const err = await probe(p).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(ProbeError);
		expect(err).toMatchObject({ code: 'CORE_NOT_NVIDIA', errno: 'ENODEV', details: { vendorId: '0x1002' } });
		expect(p.cfg.writes).toBe(0); // nothing touched on a foreign device
	});

	it('rejects a platform whose identity disagrees with config space', async () => {
		const p = fakePlatform({ ...bootRegs(0x172), platformVendorId: 0x8086 }, new VirtualClock());
		await expect(probe(p)).rejects.toMatchObject({ code: 'CORE_PCI_MISMATCH' });
	});

	it('rejects garbage BOOT_0 values with hal’s typed chip error', async () => {
		for (const boot0 of [0x0000_0050, 0x04a000a2, 0x2d0000a1]) {
			const err = await probe(fakePlatform({ boot0, boot42: 0 }, new VirtualClock())).catch(
				(e: unknown) => e,
			);
			expect(err).toBeInstanceOf(UnsupportedChipError);
			expect(err).toMatchObject({ code: 'HAL_UNSUPPORTED_CHIP', errno: 'ENODEV' });
		}
		// A known architecture with an unknown implementation.
		const odd = bootRegs(0x17f);
		await expect(probe(fakePlatform(odd, new VirtualClock()))).rejects.toMatchObject({
			code: 'HAL_UNSUPPORTED_CHIP',
			reason: 'unknown-chipset',
		});
	});

	it('reports a GPU that does not answer on BAR0', async () => {
		for (const boot0 of [0xffffffff, 0xbadf5040]) {
			await expect(probe(fakePlatform({ boot0, boot42: boot0 }, new VirtualClock()))).rejects.toMatchObject({
				code: 'CORE_DEVICE_NOT_RESPONDING',
				errno: 'EIO',
			});
		}
		const noFb = fakePlatform({ ...bootRegs(0x172) }, new VirtualClock());
		noFb.regs.delete(0x1183a4);
		await expect(probe(noFb)).rejects.toMatchObject({ code: 'CORE_DEVICE_NOT_RESPONDING' });
		expect(isDeadRegisterValue(0xbad00100)).toBe(true);
		expect(isDeadRegisterValue(0x172000a1)).toBe(false);
	});

	it('refuses a capability list that loops', async () => {
		const p = fakePlatform({ ...bootRegs(0x172) }, new VirtualClock());
		p.cfg.set(0x81, 1, 0x80); // PCIe capability points at itself
		await expect(probe(p)).rejects.toMatchObject({ code: 'CORE_BAD_CONFIG_SPACE' });
	});
});
