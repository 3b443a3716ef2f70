import { describe, expect, it } from 'vitest';
import { createSimulatedGpu, SparseVram, VRAM_PAGE_SIZE, VramFaultError } from '../src/index.ts';

const GiB = 1n << 30n;

describe('sparse VRAM', () => {
	it('a 24 GiB board costs nothing until written', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 4096 });
		expect(gpu.vramSize).toBe(24n * GiB);
		expect(gpu.fb.residentBytes).toBe(0);
		const top = gpu.vramSize - 16n;
		gpu.fb.write(
			top,
			Uint8Array.from({ length: 16 }, (_, i) => i + 1),
		);
		expect(gpu.fb.residentPages).toBe(1);
		const back = new Uint8Array(16);
		gpu.fb.read(top, back);
		expect([...back]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
		await gpu.close();
	});

	it('reads zero from untouched pages and keeps writes that span pages', () => {
		const vram = new SparseVram(1n << 24n);
		const data = Uint8Array.from({ length: 3 * VRAM_PAGE_SIZE }, (_, i) => (i * 7) & 0xff);
		const at = BigInt(VRAM_PAGE_SIZE - 5);
		vram.write(at, data);
		expect(vram.residentPages).toBe(4);
		const out = new Uint8Array(data.length + 10);
		out.fill(0xee);
		vram.read(at - 5n, out);
		expect([...out.subarray(0, 5)]).toEqual([0, 0, 0, 0, 0]);
		expect(Buffer.from(out.subarray(5, 5 + data.length)).equals(Buffer.from(data))).toBe(true);
		expect([...out.subarray(5 + data.length)]).toEqual([0, 0, 0, 0, 0]);
		const far = new Uint8Array(8).fill(1);
		vram.read((1n << 24n) - 8n, far);
		expect([...far]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
		expect(vram.residentPages).toBe(4);
	});

	it('faults past the end of VRAM and rejects bad sizes', () => {
		const vram = new SparseVram(1n << 20n);
		expect(() => vram.read((1n << 20n) - 3n, new Uint8Array(4))).toThrow(VramFaultError);
		expect(() => vram.write(-1n, new Uint8Array(1))).toThrow(
			expect.objectContaining({ code: 'SIM_VRAM_FAULT' }),
		);
		expect(() => new SparseVram(1000n)).toThrow(expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }));
	});
});

describe('BAR windows', () => {
	it('BAR1 and BAR2 map window offsets onto VRAM (identity for now)', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		gpu.vram.bar1.write(0x12340n, Uint8Array.of(0xaa, 0xbb));
		const direct = new Uint8Array(2);
		gpu.fb.read(0x12340n, direct);
		expect([...direct]).toEqual([0xaa, 0xbb]);
		const viaBar2 = new Uint8Array(2);
		gpu.vram.bar2.read(0x12340n, viaBar2);
		expect([...viaBar2]).toEqual([0xaa, 0xbb]);
		await gpu.close();
	});

	it('faults outside the window, and beyond VRAM when the window is larger', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		const end = gpu.vram.bar2.size;
		expect(() => gpu.vram.bar2.write(end - 1n, new Uint8Array(2))).toThrow(VramFaultError);
		gpu.vram.bar2.write(end - 2n, new Uint8Array(2));
		await gpu.close();
		// GA100: 64 GiB BAR1 in front of 40 GiB of VRAM.
		const a100 = createSimulatedGpu({ chip: 'ga100', dmaPoolSize: 4096 });
		expect(a100.vram.bar1.size).toBe(64n * GiB);
		expect(() => a100.vram.bar1.read(41n * GiB, new Uint8Array(1))).toThrow(
			expect.objectContaining({ code: 'SIM_VRAM_FAULT' }),
		);
		await a100.close();
	});

	it('reads all-ones and drops writes while memory decoding is off', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		gpu.config.write16(0x04, 0);
		gpu.vram.bar1.write(0n, Uint8Array.of(1));
		const out = new Uint8Array(2);
		gpu.vram.bar1.read(0n, out);
		expect([...out]).toEqual([0xff, 0xff]);
		expect(gpu.fb.residentPages).toBe(0);
		await gpu.close();
	});
});
