import type { DmaBuffer } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSimulatedGpu, DMA_POISON, DmaFaultError, DmaFreeError, DmaPool } from '../src/index.ts';

const BASE = 0x1_0000_0000n;

type Cmd = { kind: 'alloc'; size: number; alignLog2: number; zero: boolean } | { kind: 'free'; pick: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
	{
		arbitrary: fc.record({
			kind: fc.constant('alloc' as const),
			size: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 48 * 1024 })),
			alignLog2: fc.integer({ min: 0, max: 14 }),
			zero: fc.boolean(),
		}),
		weight: 3,
	},
	{ arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }), weight: 2 },
);

/** Whether any gap between the live ranges (sorted) could hold `size` bytes aligned to `align`. */
function someGapFits(live: { start: number; end: number }[], poolSize: number, size: number, align: number) {
	const sorted = [...live].sort((a, b) => a.start - b.start);
	let cursor = 0;
	for (const r of [...sorted, { start: poolSize, end: poolSize }]) {
		const aligned = Math.ceil(cursor / align) * align;
		if (aligned + size <= r.start) return true;
		cursor = Math.max(cursor, r.end);
	}
	return false;
}

describe('DMA pool allocator', () => {
	it('random alloc/free sequences: no overlap, alignment, zeroing, accounting, full recovery', () => {
		fc.assert(
			fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
				const poolSize = 256 * 1024;
				const pool = new DmaPool({ size: poolSize });
				const live: { buf: DmaBuffer; stamp: number; start: number; end: number }[] = [];
				let stamp = 1;
				for (const cmd of cmds) {
					if (cmd.kind === 'alloc') {
						const align = 2 ** cmd.alignLog2;
						let buf: DmaBuffer;
						try {
							buf = pool.alloc(cmd.size, { align, zero: cmd.zero, label: `b${stamp}` });
						} catch (e) {
							expect(e).toMatchObject({ code: 'HAL_OUT_OF_MEMORY', errno: 'ENOMEM' });
							// First fit must only fail when no gap can hold the request.
							expect(someGapFits(live, poolSize, cmd.size, align)).toBe(false);
							continue;
						}
						expect(buf.size).toBe(cmd.size);
						expect(buf.bytes.length).toBe(cmd.size);
						expect(buf.view.byteLength).toBe(cmd.size);
						expect(buf.busAddress % BigInt(align)).toBe(0n);
						expect(buf.busAddress).toBeGreaterThanOrEqual(BASE);
						const start = Number(buf.busAddress - BASE);
						const end = start + cmd.size;
						expect(end).toBeLessThanOrEqual(poolSize);
						for (const other of live) expect(start < other.end && other.start < end).toBe(false);
						if (cmd.zero) expect(buf.bytes.every((b) => b === 0)).toBe(true);
						// The buffer views the pool's one SharedArrayBuffer at its bus offset.
						expect(buf.bytes.buffer).toBe(pool.sharedBuffer);
						expect(buf.bytes.byteOffset).toBe(start);
						const s = stamp++ & 0xff || 1;
						buf.bytes.fill(s);
						live.push({ buf, stamp: s, start, end });
					} else if (live.length > 0) {
						const [victim] = live.splice(cmd.pick % live.length, 1);
						pool.free(victim!.buf);
						expect(victim!.buf.bytes.every((b) => b === DMA_POISON)).toBe(true);
					}
					// Nobody scribbled over anybody else.
					for (const l of live) expect(l.buf.bytes.every((b) => b === l.stamp)).toBe(true);
					expect(pool.liveAllocations).toBe(live.length);
					expect(pool.bytesInUse).toBe(live.reduce((n, l) => n + l.buf.size, 0));
				}
				for (const l of live) pool.free(l.buf);
				expect(pool.bytesInUse).toBe(0);
				expect(pool.liveAllocations).toBe(0);
				expect(pool.largestFreeBlock).toBe(poolSize);
				const all = pool.alloc(poolSize);
				expect(all.busAddress).toBe(BASE);
				expect(all.bytes.every((b) => b === 0)).toBe(true);
			}),
			{ numRuns: 150 },
		);
	});

	it('rejects double frees and foreign buffers with typed errors', () => {
		const a = new DmaPool({ size: 64 * 1024 });
		const b = new DmaPool({ size: 64 * 1024 });
		const buf = a.alloc(100, { label: 'ring' });
		expect(() => b.free(buf)).toThrow(
			expect.objectContaining({ code: 'SIM_DMA_FOREIGN_BUFFER', errno: 'EINVAL' }),
		);
		const fake: DmaBuffer = { ...buf };
		expect(() => a.free(fake)).toThrow(DmaFreeError);
		a.free(buf);
		expect(() => a.free(buf)).toThrow(expect.objectContaining({ code: 'SIM_DMA_DOUBLE_FREE' }));
		expect(a.bytesInUse).toBe(0);
	});

	it('validates sizes and alignments and reports exhaustion', () => {
		const pool = new DmaPool({ size: 64 * 1024 });
		expect(() => pool.alloc(0)).toThrow(expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }));
		expect(() => pool.alloc(1.5)).toThrow(expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }));
		expect(() => pool.alloc(16, { align: 3 })).toThrow(
			expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
		);
		expect(() => pool.alloc(16, { align: 0 })).toThrow(
			expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
		);
		expect(pool.alloc(16, { align: 2 ** 32 }).busAddress).toBe(BASE);
		expect(() => pool.alloc(64 * 1024)).toThrow(expect.objectContaining({ code: 'HAL_OUT_OF_MEMORY' }));
		expect(() => new DmaPool({ size: 1000 })).toThrow(
			expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
		);
	});

	it('places buses above 4 GiB so 32-bit truncation is caught', () => {
		const pool = new DmaPool({ size: 64 * 1024 });
		const buf = pool.alloc(4096);
		expect(buf.busAddress >> 32n).toBe(1n);
		expect(() => pool.deviceRead(buf.busAddress & 0xffff_ffffn, 4)).toThrow(DmaFaultError);
	});

	it('device accesses fault outside live allocations, like an IOMMU', () => {
		const pool = new DmaPool({ size: 64 * 1024 });
		const a = pool.alloc(256, { label: 'a' });
		const b = pool.alloc(256, { label: 'b' });
		pool.deviceWrite(a.busAddress + 8n, Uint8Array.of(1, 2, 3, 4));
		expect([...a.bytes.subarray(8, 12)]).toEqual([1, 2, 3, 4]);
		a.view.setUint32(16, 0xcafef00d, true);
		expect([...pool.deviceRead(a.busAddress + 16n, 4)]).toEqual([0x0d, 0xf0, 0xfe, 0xca]);
		expect(pool.findAllocation(b.busAddress + 255n)).toEqual({
			busAddress: b.busAddress,
			size: 256,
			label: 'b',
		});
		// Straddling the end of an allocation, the gap after it, below the pool, past the pool.
		expect(() => pool.deviceRead(a.busAddress + 250n, 8)).toThrow(
			expect.objectContaining({ code: 'SIM_DMA_FAULT' }),
		);
		expect(() => pool.deviceRead(a.busAddress + 256n, 1)).toThrow(DmaFaultError);
		expect(() => pool.deviceWrite(BASE - 4n, new Uint8Array(4))).toThrow(DmaFaultError);
		expect(() => pool.deviceRead(BASE + 64n * 1024n, 1)).toThrow(DmaFaultError);
		pool.free(a);
		expect(() => pool.deviceRead(a.busAddress, 4)).toThrow(DmaFaultError);
		expect(pool.findAllocation(a.busAddress)).toBeUndefined();
	});

	it('a simulated GPU only masters the bus once the driver enables it', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 1 << 20 });
		const buf = gpu.dma.alloc(64);
		expect(() => gpu.dmaRead(buf.busAddress, 4)).toThrow(/bus mastering/);
		gpu.config.write16(0x04, gpu.config.read16(0x04) | 0x4);
		gpu.dmaWrite(buf.busAddress, Uint8Array.of(9, 8, 7));
		expect([...gpu.dmaRead(buf.busAddress, 3)]).toEqual([9, 8, 7]);
		expect(buf.bytes[0]).toBe(9);
		await gpu.close();
	});
});

describe('DMA pool backing store', () => {
	it('is a shared WebAssembly.Memory by default, carried by every buffer, so kernels can work in place', () => {
		const pool = new DmaPool({ size: 0x20000 });
		expect(pool.wasmMemory).toBeDefined();
		expect(pool.wasmMemory?.buffer).toBe(pool.sharedBuffer);
		const b = pool.alloc(4096);
		expect(b.wasmMemory).toBe(pool.wasmMemory);
		expect(b.bytes.buffer).toBe(pool.wasmMemory?.buffer);
		pool.free(b);
	});

	it('is a plain SharedArrayBuffer on request, and buffers then carry no wasm memory', () => {
		const pool = new DmaPool({ size: 0x20000, plainMemory: true });
		expect(pool.wasmMemory).toBeUndefined();
		expect(pool.sharedBuffer).toBeInstanceOf(SharedArrayBuffer);
		const b = pool.alloc(4096);
		expect(b.wasmMemory).toBeUndefined();
		pool.free(b);
	});
});
