import { describe, expect, it } from 'vitest';
import {
	createSimulatedGpu,
	isSimChipName,
	MmioAccessError,
	type MmioDevice,
	NO_DEVICE_READ_VALUE,
	SIM_CHIPS,
	simChipSpec,
} from '../src/index.ts';

/** Bits hi:lo of v, as the reference writes them. */
const bits = (v: number, hi: number, lo: number) => (v >>> lo) & (2 ** (hi - lo + 1) - 1);

/** Chipset codes and device IDs straight from hardware reference A.0 (not from the simulator's table). */
const REFERENCE: Record<string, { chipset: number; deviceId?: number }> = {
	tu102: { chipset: 0x162, deviceId: 0x1e04 },
	tu104: { chipset: 0x164 },
	tu106: { chipset: 0x166 },
	tu117: { chipset: 0x167 },
	tu116: { chipset: 0x168 },
	ga100: { chipset: 0x170, deviceId: 0x20b0 },
	ga102: { chipset: 0x172, deviceId: 0x2204 },
	ga104: { chipset: 0x174 },
	ga106: { chipset: 0x176 },
	ga107: { chipset: 0x177 },
	gh100: { chipset: 0x180, deviceId: 0x2330 },
	ad102: { chipset: 0x192, deviceId: 0x2684 },
	ad103: { chipset: 0x193 },
	ad104: { chipset: 0x194 },
	ad106: { chipset: 0x196 },
	ad107: { chipset: 0x197 },
};

describe('chip identity registers', () => {
	it('models exactly the chips of the reference table it claims', () => {
		expect(SIM_CHIPS.map((c) => c.name).sort()).toEqual(Object.keys(REFERENCE).sort());
	});

	for (const chip of SIM_CHIPS) {
		it(`${chip.name}: NV_PMC_BOOT_0 and NV_PMC_BOOT_42 fields match reference A.0`, async () => {
			const gpu = createSimulatedGpu({ chip: chip.name, dmaPoolSize: 4096 });
			const ref = REFERENCE[chip.name]!;
			const arch = ref.chipset >> 4;
			const impl = ref.chipset & 0xf;
			const boot0 = gpu.bar0.read32(0x000000);
			const boot42 = gpu.bar0.read32(0x000a00);
			// BOOT_0: architecture_0 28:24, implementation 23:20, architecture_1 8:8, major 7:4, minor 3:0.
			expect(bits(boot0, 28, 24) | (bits(boot0, 8, 8) << 5)).toBe(arch);
			expect(bits(boot0, 28, 24)).toBe(arch & 0x1f);
			expect(bits(boot0, 8, 8)).toBe(0);
			expect(bits(boot0, 23, 20)).toBe(impl);
			expect(bits(boot0, 7, 4)).toBe(0xa);
			expect(bits(boot0, 3, 0)).toBe(0x1);
			expect(bits(boot0, 31, 29)).toBe(0);
			expect(bits(boot0, 19, 9)).toBe(0);
			// BOOT_42: architecture 29:24, implementation 23:20, major 19:16, minor 15:12.
			expect(bits(boot42, 29, 24)).toBe(arch);
			expect(bits(boot42, 23, 20)).toBe(impl);
			expect(bits(boot42, 19, 16)).toBe(0xa);
			expect(bits(boot42, 15, 12)).toBe(0x1);
			expect(bits(boot42, 31, 30)).toBe(0);
			expect(bits(boot42, 11, 0)).toBe(0);
			// Chipset code = (architecture << 4) | implementation.
			expect((bits(boot42, 29, 24) << 4) | bits(boot42, 23, 20)).toBe(ref.chipset);
			if (ref.deviceId !== undefined) expect(gpu.pci.deviceId).toBe(ref.deviceId);
			await gpu.close();
		});
	}

	it('presents the well-known GA102 A1 values', async () => {
		const gpu = createSimulatedGpu();
		expect(gpu.bar0.read32(0)).toBe(0x172000a1);
		expect(gpu.bar0.read32(0xa00)).toBe(0x172a1000);
		await gpu.close();
	});

	it('reports the usable FB size in MiB and a completed GFW boot', async () => {
		const gpu = createSimulatedGpu({ chip: 'ad102' });
		expect(gpu.bar0.read32(0x1183a4)).toBe(24 * 1024);
		expect(bits(gpu.bar0.read32(0x118234), 7, 0)).toBe(0xff);
		expect(bits(gpu.bar0.read32(0x118128), 0, 0)).toBe(1);
		await gpu.close();
		const small = createSimulatedGpu({ chip: 'tu102', vramSize: 3n << 30n });
		expect(small.bar0.read32(0x1183a4)).toBe(3072);
		await small.close();
	});

	it('keeps identity registers read-only', async () => {
		const gpu = createSimulatedGpu();
		for (const offset of [0, 0xa00, 0x1183a4, 0x118234]) {
			const before = gpu.bar0.read32(offset);
			gpu.bar0.write32(offset, ~before >>> 0);
			expect(gpu.bar0.read32(offset)).toBe(before);
		}
		await gpu.close();
	});

	it('accepts chip names in any case and rejects unknown ones with the list of choices', () => {
		expect(isSimChipName('GA102')).toBe(true);
		expect(isSimChipName('gb202')).toBe(false);
		expect(simChipSpec('AD102').deviceId).toBe(0x2684);
		try {
			createSimulatedGpu({ chip: 'nv50' });
			expect.unreachable();
		} catch (e) {
			expect(e).toMatchObject({ code: 'HAL_INVALID_ARGUMENT', errno: 'EINVAL' });
			expect((e as Error).message).toContain('tu102');
			expect((e as { details: { known: string[] } }).details.known).toContain('gh100');
		}
	});
});

describe('BAR0 register file', () => {
	it('reads unclaimed offsets as the PRI error pattern and drops writes to them', async () => {
		const gpu = createSimulatedGpu();
		expect(NO_DEVICE_READ_VALUE >>> 20).toBe(0xbad);
		expect(gpu.bar0.read32(0x123450)).toBe(NO_DEVICE_READ_VALUE);
		gpu.bar0.write32(0x123450, 0x1234);
		expect(gpu.bar0.read32(0x123450)).toBe(NO_DEVICE_READ_VALUE);
		expect(gpu.registers.unclaimed).toMatchObject({ reads: 2, writes: 1 });
		expect(gpu.registers.unclaimed.last).toEqual({
			access: 'read',
			offset: 0x123450,
			value: NO_DEVICE_READ_VALUE,
		});
		await gpu.close();
	});

	it('rejects unaligned and out-of-window accesses with typed errors', async () => {
		const gpu = createSimulatedGpu();
		expect(gpu.bar0.size).toBe(16 * 1024 * 1024);
		for (const offset of [1, 2, 3, 0xa02]) {
			expect(() => gpu.bar0.read32(offset)).toThrow(MmioAccessError);
			expect(() => gpu.bar0.write32(offset, 0)).toThrow(
				expect.objectContaining({ code: 'SIM_MMIO_UNALIGNED' }),
			);
		}
		for (const offset of [-4, 0x1000000, 0xfffffe, 2 ** 40, Number.NaN]) {
			expect(() => gpu.bar0.read32(offset)).toThrow(
				expect.objectContaining({ code: 'SIM_MMIO_OUT_OF_RANGE' }),
			);
		}
		expect(gpu.bar0.read32(0xfffffc)).toBe(NO_DEVICE_READ_VALUE);
		await gpu.close();
	});

	it('dispatches device ranges with relative offsets, refuses overlaps and can detach', async () => {
		const gpu = createSimulatedGpu();
		const log: string[] = [];
		const scratch = new Map<number, number>();
		const falconLike = (name: string, start: number): MmioDevice => ({
			name,
			range: { start, end: start + 0x1000 },
			read32: (o) => scratch.get(start + o) ?? 0xf000_0000 + o,
			write32: (o, v) => {
				log.push(`${name}+${o.toString(16)}=${v.toString(16)}`);
				scratch.set(start + o, v);
			},
		});
		const detach = gpu.registers.attach(falconLike('fake-gsp', 0x710000));
		gpu.registers.attach(falconLike('fake-sec2', 0x740000));
		expect(gpu.bar0.read32(0x710040)).toBe(0xf000_0040);
		expect(gpu.bar0.read32(0x740ffc)).toBe(0xf000_0ffc);
		gpu.bar0.write32(0x740040, 0xdeadbeef);
		gpu.bar0.write32(0x710044, -1);
		expect(log).toEqual(['fake-sec2+40=deadbeef', 'fake-gsp+44=ffffffff']);
		expect(gpu.bar0.read32(0x711000)).toBe(NO_DEVICE_READ_VALUE);
		expect(() => gpu.registers.attach(falconLike('overlap', 0x710800))).toThrow(
			expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
		);
		expect(() =>
			gpu.registers.attach({
				name: 'boot',
				range: { start: 0, end: 0x100 },
				read32: () => 0,
				write32: () => {},
			}),
		).toThrow(/NV_PMC_BOOT_0/);
		// The simulator mounts its own devices (falcons, MMU, PROM); look only at the two attached here.
		expect(gpu.registers.devices.map((d) => d.name).filter((n) => n.startsWith('fake-'))).toEqual([
			'fake-gsp',
			'fake-sec2',
		]);
		detach();
		expect(gpu.bar0.read32(0x710040)).toBe(NO_DEVICE_READ_VALUE);
		await gpu.close();
	});

	it('returns all-ones and drops writes while PCI memory decoding is off', async () => {
		const gpu = createSimulatedGpu();
		const attachWrites: number[] = [];
		gpu.registers.attach({
			name: 'probe',
			range: { start: 0x200000, end: 0x200004 },
			read32: () => 0x1234,
			write32: (_o, v) => attachWrites.push(v),
		});
		gpu.config.write16(0x04, 0);
		expect(gpu.bar0.read32(0)).toBe(0xffffffff);
		gpu.bar0.write32(0x200000, 7);
		expect(attachWrites).toEqual([]);
		gpu.config.write16(0x04, 0x0002);
		expect(gpu.bar0.read32(0)).toBe(0x172000a1);
		gpu.bar0.write32(0x200000, 7);
		expect(attachWrites).toEqual([7]);
		await gpu.close();
	});
});
