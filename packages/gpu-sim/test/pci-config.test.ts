import { describe, expect, it } from 'vitest';
import { createSimulatedGpu, PciConfigAccessError, SIM_CHIPS, type SimulatedGpu } from '../src/index.ts';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

/** Size a memory BAR the way an OS does: save, write all ones, read the mask, restore. */
function sizeBar(gpu: SimulatedGpu, offset: number): { size: bigint; is64: boolean; prefetchable: boolean } {
	const cfg = gpu.config;
	const low = cfg.read32(offset);
	expect(low & 1).toBe(0); // memory BAR
	const type = (low >>> 1) & 3;
	const is64 = type === 2;
	const high = is64 ? cfg.read32(offset + 4) : 0;
	cfg.write32(offset, 0xffffffff);
	if (is64) cfg.write32(offset + 4, 0xffffffff);
	const maskLow = cfg.read32(offset) & 0xfffffff0;
	const maskHigh = is64 ? cfg.read32(offset + 4) : 0xffffffff;
	// The type bits must survive the all-ones write.
	expect(cfg.read32(offset) & 0xf).toBe(low & 0xf);
	cfg.write32(offset, low);
	if (is64) cfg.write32(offset + 4, high);
	expect(cfg.read32(offset)).toBe(low);
	if (is64) expect(cfg.read32(offset + 4)).toBe(high);
	const mask = (BigInt(maskHigh) << 32n) | BigInt(maskLow);
	const size = ((~mask & 0xffff_ffff_ffff_ffffn) + 1n) & (is64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn);
	return { size, is64, prefetchable: (low & 0b1000) !== 0 };
}

/** Walk the legacy capability list from 0x34. */
function standardCaps(gpu: SimulatedGpu): { id: number; offset: number }[] {
	const out: { id: number; offset: number }[] = [];
	expect(gpu.config.read16(0x06) & (1 << 4)).not.toBe(0);
	let at = gpu.config.read8(0x34) & 0xfc;
	while (at !== 0) {
		expect(at).toBeGreaterThanOrEqual(0x40);
		expect(out.length).toBeLessThan(48);
		out.push({ id: gpu.config.read8(at), offset: at });
		at = gpu.config.read8(at + 1) & 0xfc;
	}
	return out;
}

/** Walk the extended capability list from 0x100. */
function extendedCaps(gpu: SimulatedGpu): { id: number; version: number; offset: number }[] {
	const out: { id: number; version: number; offset: number }[] = [];
	let at = 0x100;
	while (at !== 0) {
		const header = gpu.config.read32(at);
		if (header === 0) break;
		expect(out.length).toBeLessThan(64);
		out.push({ id: header & 0xffff, version: (header >>> 16) & 0xf, offset: at });
		const next = header >>> 20;
		if (next !== 0) expect(next).toBeGreaterThan(at);
		at = next;
	}
	return out;
}

const EXPECTED: Record<string, { device: number; cls: number; bar1: bigint; totalVFs: number | null }> = {
	tu102: { device: 0x1e04, cls: 0x030000, bar1: 256n * MiB, totalVFs: null },
	ga100: { device: 0x20b0, cls: 0x030200, bar1: 64n * GiB, totalVFs: 20 },
	ga102: { device: 0x2204, cls: 0x030000, bar1: 256n * MiB, totalVFs: 32 },
	ad102: { device: 0x2684, cls: 0x030000, bar1: 256n * MiB, totalVFs: 32 },
	gh100: { device: 0x2330, cls: 0x030200, bar1: 128n * GiB, totalVFs: 32 },
};

describe('PCI configuration space', () => {
	for (const [name, want] of Object.entries(EXPECTED)) {
		it(`${name}: identity, class, header and BAR sizes`, async () => {
			const gpu = createSimulatedGpu({ chip: name, dmaPoolSize: 4096 });
			const cfg = gpu.config;
			expect(cfg.read16(0x00)).toBe(0x10de);
			expect(cfg.read16(0x02)).toBe(want.device);
			expect(cfg.read32(0x00)).toBe(((want.device << 16) | 0x10de) >>> 0);
			expect(cfg.read32(0x08) >>> 8).toBe(want.cls);
			expect(cfg.read8(0x08)).toBe(0xa1);
			expect(cfg.read8(0x0e)).toBe(0x00);
			expect(cfg.read16(0x2c)).toBe(0x10de);
			expect(cfg.read16(0x2e)).toBe(gpu.pci.subsystemId);
			expect(gpu.pci).toMatchObject({ vendorId: 0x10de, deviceId: want.device, revision: 0xa1 });
			expect(sizeBar(gpu, 0x10)).toEqual({ size: 16n * MiB, is64: false, prefetchable: false });
			expect(sizeBar(gpu, 0x14)).toEqual({ size: want.bar1, is64: true, prefetchable: true });
			expect(sizeBar(gpu, 0x1c)).toEqual({ size: 32n * MiB, is64: true, prefetchable: true });
			expect(cfg.read32(0x24)).toBe(0); // BAR5 unimplemented
			cfg.write32(0x24, 0xffffffff);
			expect(cfg.read32(0x24)).toBe(0);
			expect(gpu.vram.bar1.size).toBe(want.bar1);
			expect(gpu.vram.bar2.size).toBe(32n * MiB);
			await gpu.close();
		});
	}

	it('programs BAR addresses only in the bits above the BAR size', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		gpu.config.write32(0x10, 0xdeadbeef);
		expect(gpu.config.read32(0x10)).toBe(0xde000000);
		gpu.config.write32(0x14, 0x12345678);
		gpu.config.write32(0x18, 0x9abcdef0);
		expect(gpu.config.read32(0x14)).toBe(0x1000000c);
		expect(gpu.config.read32(0x18)).toBe(0x9abcdef0);
		await gpu.close();
	});

	it('sizes the expansion ROM BAR', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		gpu.config.write32(0x30, 0xfffff800);
		expect(gpu.config.read32(0x30)).toBe(0xfff80000);
		gpu.config.write32(0x30, 0);
		expect(gpu.config.read32(0x30)).toBe(0);
		await gpu.close();
	});

	it('keeps read-only fields read-only and clears RW1C status bits', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		const cfg = gpu.config;
		const ro = [0x00, 0x08, 0x0c, 0x2c, 0x34];
		const before = ro.map((o) => cfg.read32(o));
		for (const o of ro) cfg.write32(o, 0xffffffff);
		// 0x0c: only the cache line size byte is writable.
		expect(cfg.read8(0x0c)).toBe(0xff);
		cfg.write8(0x0c, 0);
		expect(ro.map((o) => cfg.read32(o))).toEqual(before);
		cfg.write8(0x3d, 7);
		expect(cfg.read8(0x3d)).toBe(1);
		// COMMAND: writable bits only.
		cfg.write16(0x04, 0xffff);
		expect(cfg.read16(0x04)).toBe(0x0547);
		cfg.write16(0x04, 0x0002);
		// STATUS: the capability bit is read-only; writing ones does not set error bits.
		cfg.write16(0x06, 0xffff);
		expect(cfg.read16(0x06)).toBe(0x0010);
		await gpu.close();
	});

	it('is little-endian and enforces natural alignment', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		const cfg = gpu.config;
		expect(cfg.read8(0x00)).toBe(0xde);
		expect(cfg.read8(0x01)).toBe(0x10);
		expect(cfg.read8(0x02)).toBe(0x04);
		expect(cfg.read8(0x03)).toBe(0x22);
		expect(() => cfg.read16(0x01)).toThrow(PciConfigAccessError);
		expect(() => cfg.read32(0x02)).toThrow(
			expect.objectContaining({ code: 'SIM_PCI_CONFIG_ACCESS', errno: 'EINVAL' }),
		);
		expect(() => cfg.write32(0x1000, 0)).toThrow(PciConfigAccessError);
		expect(() => cfg.read8(-1)).toThrow(PciConfigAccessError);
		expect(cfg.read32(0xffc)).toBe(0);
		await gpu.close();
	});

	it('has the PM -> MSI -> PCIe capability list', async () => {
		const gpu = createSimulatedGpu({ chip: 'gh100', dmaPoolSize: 4096 });
		const caps = standardCaps(gpu);
		expect(caps.map((c) => c.id)).toEqual([0x01, 0x05, 0x10]);
		const pcie = caps[2]!.offset;
		expect(gpu.config.read16(pcie + 2) & 0xf).toBe(2); // capability version
		expect((gpu.config.read16(pcie + 2) >>> 4) & 0xf).toBe(0); // endpoint
		expect(gpu.config.read32(pcie + 4) & (1 << 28)).not.toBe(0); // FLR capable
		const linkCap = gpu.config.read32(pcie + 0x0c);
		expect(linkCap & 0xf).toBe(5); // gen5
		expect((linkCap >>> 4) & 0x3f).toBe(16);
		const msi = caps[1]!.offset;
		expect(gpu.config.read16(msi + 2) & (1 << 7)).not.toBe(0); // 64-bit
		gpu.config.write16(msi + 2, 0xffff);
		expect(gpu.config.read16(msi + 2)).toBe(0x00f1);
		await gpu.close();
	});

	for (const chip of SIM_CHIPS) {
		it(`${chip.name}: extended capabilities ${chip.sriov ? 'include' : 'omit'} SR-IOV`, async () => {
			const gpu = createSimulatedGpu({ chip: chip.name, dmaPoolSize: 4096 });
			const ext = extendedCaps(gpu);
			expect(ext[0]).toMatchObject({ id: 0x0018, offset: 0x100 });
			const sriov = ext.find((c) => c.id === 0x0010);
			const want = EXPECTED[chip.name]?.totalVFs;
			if (want !== undefined)
				expect(sriov === undefined ? null : gpu.config.read16(sriov.offset + 0x0e)).toBe(want);
			expect(sriov !== undefined).toBe(chip.sriov !== null);
			if (sriov !== undefined) {
				expect(ext.map((c) => c.id)).toEqual([0x0018, 0x000e, 0x0010]);
				expect(sriov.version).toBe(1);
			}
			await gpu.close();
		});
	}

	it('SR-IOV capability: counts, routing, VF device ID, NumVFs lock and VF BAR sizing', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 4096 });
		const cfg = gpu.config;
		const at = extendedCaps(gpu).find((c) => c.id === 0x0010)!.offset;
		expect(cfg.read16(at + 0x0c)).toBe(32); // InitialVFs
		expect(cfg.read16(at + 0x0e)).toBe(32); // TotalVFs
		expect(cfg.read16(at + 0x14)).toBe(4); // First VF Offset
		expect(cfg.read16(at + 0x16)).toBe(1); // VF Stride
		expect(cfg.read16(at + 0x1a)).toBe(0x2204); // VF Device ID
		expect(cfg.read32(at + 0x1c) & 1).toBe(1); // 4 KiB pages supported
		// Read-only fields.
		cfg.write16(at + 0x0e, 99);
		cfg.write16(at + 0x1a, 0);
		expect(cfg.read16(at + 0x0e)).toBe(32);
		expect(cfg.read16(at + 0x1a)).toBe(0x2204);
		// NumVFs is writable while VFs are disabled, then locked.
		cfg.write16(at + 0x10, 8);
		expect(cfg.read16(at + 0x10)).toBe(8);
		cfg.write16(at + 0x08, 0x0019); // VF Enable | VF MSE | ARI Capable Hierarchy
		expect(cfg.read16(at + 0x08)).toBe(0x0019);
		cfg.write16(at + 0x10, 16);
		expect(cfg.read16(at + 0x10)).toBe(8);
		cfg.write16(at + 0x08, 0);
		cfg.write16(at + 0x10, 16);
		expect(cfg.read16(at + 0x10)).toBe(16);
		// VF BARs follow the same sizing protocol as the PF's.
		expect(sizeBar(gpu, at + 0x24)).toEqual({ size: 16n * MiB, is64: false, prefetchable: false });
		expect(sizeBar(gpu, at + 0x28)).toEqual({ size: 128n * MiB, is64: true, prefetchable: true });
		expect(sizeBar(gpu, at + 0x30)).toEqual({ size: 32n * MiB, is64: true, prefetchable: true });
		expect(cfg.read32(at + 0x38)).toBe(0);
		await gpu.close();
	});
});
