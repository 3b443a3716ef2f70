import { describe, expect, it } from 'vitest';
import { createSharedWasmMemory, WASM_PAGE_SIZE } from '../src/index.ts';

describe('createSharedWasmMemory', () => {
	it('returns a zeroed shared memory rounded up to whole 64 KiB pages', () => {
		const m = createSharedWasmMemory(WASM_PAGE_SIZE + 1);
		expect(m).toBeDefined();
		expect(m?.buffer).toBeInstanceOf(SharedArrayBuffer);
		expect(m?.buffer.byteLength).toBe(2 * WASM_PAGE_SIZE);
		expect(new Uint8Array(m!.buffer).every((b) => b === 0)).toBe(true);
	});

	it('refuses sizes it cannot back (zero, fractional, above 4 GiB)', () => {
		for (const bytes of [0, -1, 1.5, Number.NaN, 2 ** 32 + 1])
			expect(createSharedWasmMemory(bytes)).toBeUndefined();
	});
});
