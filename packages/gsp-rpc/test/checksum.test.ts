import { createSharedWasmMemory } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	CHECKSUM_IMPLEMENTATION,
	checksum32,
	inPlaceXorKernel,
	xorBytes,
	xorRange,
	xorRangeWith,
} from '../src/index.ts';
import { checksumRotate, checksumU64, pattern } from './support/spec.ts';

describe('element checksum', () => {
	it('matches hand-computed vectors', () => {
		expect(checksum32(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]))).toBe(1);
		expect(checksum32(new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]))).toBe(1); // hi32 ^ lo32
		// Words 0x04030201 ^ 0x08070605 ^ 0x0c0b0a09 ^ 0x100f0e0d.
		expect(checksum32(Uint8Array.from({ length: 16 }, (_, i) => i + 1))).toBe(0x10000000);
		expect(checksum32(new Uint8Array([0xff, 0xff, 0xff]))).toBe(0x00ffffff); // zero padding
		expect(checksum32(new Uint8Array(0))).toBe(0);
	});

	it('equals the u64 fold (NVIDIA) and the byte-rotate form (nova-core) on random data, any length and alignment', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 20_000 }),
				fc.integer({ min: 0, max: 7 }),
				fc.integer(),
				(n, skew, seed) => {
					const backing = pattern(n + 8, seed);
					const bytes = backing.subarray(skew, skew + n);
					const a = checksumU64(bytes);
					expect(checksumRotate(bytes)).toBe(a);
					expect(checksum32(bytes)).toBe(a);
				},
			),
			{ numRuns: 60 },
		);
	});

	it('the large-range kernel (wasm SIMD here) agrees with the u64 fold across its chunk boundaries', () => {
		expect(CHECKSUM_IMPLEMENTATION).toBe('wasm-simd');
		const sab = new SharedArrayBuffer(300_000);
		const u8 = new Uint8Array(sab);
		u8.set(pattern(sab.byteLength, 42));
		const i32 = new Int32Array(sab);
		for (const [start, end] of [
			[0, 4],
			[4, 2048],
			[0, 2052],
			[8, 65536 + 8],
			[12, 65536 * 2 + 36],
			[4096, 299_996],
		] as const) {
			expect(xorRange(u8, i32, start, end) >>> 0, `${start}..${end}`).toBe(
				checksumU64(u8.subarray(start, end)) >>> 0,
			);
		}
	});

	it('xorBytes (a span of a private copy) agrees with the u64 fold for any offset, length and path', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 140_000 }),
				fc.integer({ min: 0, max: 13 }),
				fc.integer(),
				(n, off, seed) => {
					const b = pattern(n + off + 3, seed);
					expect(xorBytes(b, off, n) >>> 0).toBe(checksumU64(b.subarray(off, off + n)));
				},
			),
			{ numRuns: 80 },
		);
	});

	it('a zero residue means intact: the element with its checksum XORs to 0', () => {
		const el = pattern(4096, 9);
		el.fill(0, 32, 36);
		const sum = checksum32(el);
		new DataView(el.buffer).setUint32(32, sum, true);
		expect(checksum32(el)).toBe(0);
		expect(checksumU64(el)).toBe(0);
		el[1000]! ^= 4;
		expect(checksum32(el)).not.toBe(0);
	});
});

describe('in-place kernel on a shared wasm memory', () => {
	it('folds any word-aligned range where it lies, equal to the copying path and the u64 fold', () => {
		const memory = createSharedWasmMemory(4 * 0x10000);
		if (memory === undefined) throw new Error('no shared wasm memory on this host');
		const kernel = inPlaceXorKernel(memory);
		expect(kernel).toBeDefined();
		expect(inPlaceXorKernel(memory)).toBe(kernel); // one instance per memory
		const u8 = new Uint8Array(memory.buffer);
		u8.set(pattern(u8.length, 7));
		fc.assert(
			fc.property(fc.nat(0x3ffff), fc.nat(0x3ffff), (a, b) => {
				const [lo, hi] = a <= b ? [a & ~3, b & ~3] : [b & ~3, a & ~3];
				const view = u8.subarray(0x40, u8.length - 0x40); // a view that does not start at 0
				const i32 = new Int32Array(memory.buffer, 0x40, view.length >> 2);
				const end = Math.min(hi, view.length & ~3);
				const start = Math.min(lo, end);
				const got = xorRangeWith(kernel, view, i32, start, end);
				expect(got).toBe(xorRange(view, i32, start, end));
				expect(got >>> 0).toBe(checksumU64(view.subarray(start, end)));
			}),
			{ numRuns: 300 },
		);
	});

	it('is absent for memory that is not a wasm memory, and the copying path is used', () => {
		const sab = new SharedArrayBuffer(4096);
		const u8 = new Uint8Array(sab).map((_, i) => i);
		const i32 = new Int32Array(sab);
		expect(xorRangeWith(undefined, u8, i32, 0, 4096)).toBe(xorRange(u8, i32, 0, 4096));
	});
});
