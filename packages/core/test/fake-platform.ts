/**
 * A tiny hand-built Platform for core's unit tests: a config space with write masks (so BAR sizing works),
 * a BAR0 map of a few registers, and nothing else. Deliberately not gpu-sim, so probe is tested against
 * values written down here rather than against another package's model.
 */
import type {
	DmaMemory,
	InterruptLine,
	PciConfigSpace,
	Platform,
	VirtualClock,
	VramWindow,
} from '@gspkit/hal';

export class FakeConfig implements PciConfigSpace {
	readonly bytes = new Uint8Array(4096);
	readonly writable = new Uint8Array(4096);
	writes = 0;

	set(offset: number, width: 1 | 2 | 4, value: number, writable = 0): void {
		for (let i = 0; i < width; i++) {
			this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
			this.writable[offset + i] = (writable >>> (8 * i)) & 0xff;
		}
	}

	#read(offset: number, width: number): number {
		let v = 0;
		for (let i = width - 1; i >= 0; i--) v = (v << 8) | this.bytes[offset + i]!;
		return v >>> 0;
	}

	#write(offset: number, width: number, value: number): void {
		this.writes++;
		for (let i = 0; i < width; i++) {
			const w = this.writable[offset + i]!;
			this.bytes[offset + i] = (this.bytes[offset + i]! & ~w) | ((value >>> (8 * i)) & w);
		}
	}

	read8 = (o: number) => this.#read(o, 1);
	read16 = (o: number) => this.#read(o, 2);
	read32 = (o: number) => this.#read(o, 4);
	write8 = (o: number, v: number) => this.#write(o, 1, v);
	write16 = (o: number, v: number) => this.#write(o, 2, v);
	write32 = (o: number, v: number) => this.#write(o, 4, v);
}

export interface FakeOptions {
	vendorId?: number;
	deviceId?: number;
	platformVendorId?: number;
	boot0: number;
	boot42: number;
	fbMiB?: number;
	/** Start with memory decoding off (BAR0 then reads all ones). */
	decodeOff?: boolean;
	/** Add an SR-IOV capability at 0x140 with this TotalVFs. */
	totalVFs?: number;
}

/** Program a memory BAR whose writable bits are the address bits above `size`. */
export function fakeBar(
	cfg: FakeConfig,
	offset: number,
	size: bigint,
	is64: boolean,
	prefetch: boolean,
): void {
	const mask = ~(size - 1n) & 0xffff_ffff_ffff_ffffn;
	const low = Number(mask & 0xffff_fff0n);
	cfg.set(offset, 4, (is64 ? 4 : 0) | (prefetch ? 8 : 0), low);
	if (is64) cfg.set(offset + 4, 4, 0, Number(mask >> 32n));
}

export function fakePlatform(
	o: FakeOptions,
	clock: VirtualClock,
): Platform & { cfg: FakeConfig; regs: Map<number, number> } {
	const cfg = new FakeConfig();
	const vendorId = o.vendorId ?? 0x10de;
	const deviceId = o.deviceId ?? 0x2204;
	cfg.set(0x00, 2, vendorId);
	cfg.set(0x02, 2, deviceId);
	cfg.set(0x04, 2, o.decodeOff ? 0 : 2, 0x0547);
	cfg.set(0x06, 2, 0x10);
	cfg.set(0x08, 4, 0x030000a1);
	cfg.set(0x2c, 2, 0x10de);
	cfg.set(0x2e, 2, 0x1234);
	fakeBar(cfg, 0x10, 16n << 20n, false, false);
	fakeBar(cfg, 0x14, 256n << 20n, true, true);
	fakeBar(cfg, 0x1c, 32n << 20n, true, true);
	// Capabilities: PCIe at 0x80 (gen4 x16), nothing else.
	cfg.set(0x34, 1, 0x80);
	cfg.set(0x80, 2, 0x0010);
	cfg.set(0x80 + 0x0c, 4, 4 | (16 << 4));
	cfg.set(0x80 + 0x12, 2, 3 | (8 << 4));
	if (o.totalVFs !== undefined) {
		cfg.set(0x100, 4, 0x0018 | (1 << 16) | (0x140 << 20)); // LTR -> SR-IOV
		const s = 0x140;
		cfg.set(s, 4, 0x0010 | (1 << 16));
		cfg.set(s + 0x08, 2, 0, 0x1f);
		cfg.set(s + 0x0c, 2, o.totalVFs);
		cfg.set(s + 0x0e, 2, o.totalVFs);
		cfg.set(s + 0x10, 2, 3, 0xffff);
		cfg.set(s + 0x14, 2, 4);
		cfg.set(s + 0x16, 2, 1);
		cfg.set(s + 0x1a, 2, 0x2235);
		cfg.set(s + 0x1c, 4, 0x553);
		fakeBar(cfg, s + 0x24, 16n << 20n, false, false);
		fakeBar(cfg, s + 0x28, 64n << 20n, true, true);
	}
	const regs = new Map<number, number>([
		[0x000000, o.boot0],
		[0x000a00, o.boot42],
		[0x118128, 1],
		[0x118234, 0xff],
		[0x1183a4, o.fbMiB ?? 24576],
	]);
	const unused = (): never => {
		throw new Error('not used by probe');
	};
	return {
		cfg,
		regs,
		description: 'fake platform',
		pci: {
			vendorId: o.platformVendorId ?? vendorId,
			deviceId,
			subsystemVendorId: 0x10de,
			subsystemId: 0x1234,
			revision: 0xa1,
			address: '0000:42:00.0',
		},
		bar0: {
			size: 16 << 20,
			read32: (offset) => ((cfg.read16(4) & 2) === 0 ? 0xffffffff : (regs.get(offset) ?? 0xbadf1100)),
			write32: () => {},
		},
		config: cfg,
		dma: { alloc: unused, free: unused, bytesInUse: 0, liveAllocations: 0 } as DmaMemory,
		vram: { bar1: {} as VramWindow, bar2: {} as VramWindow },
		irq: (): InterruptLine => unused(),
		clock,
		close: async () => {},
	};
}
