import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCoreError, usableVramRanges, VramAllocator } from '../src/index.ts';

const MiB = 1n << 20n;

describe('usableVramRanges', () => {
	it('keeps only regions RM left free, clipped to whole pages', () => {
		// The carve-up GSP-RM reports: driver region, RM heap (reserved), firmware top (protected).
		const ranges = usableVramRanges([
			{ base: 0n, limit: 1000n * MiB - 1n, reserved: 0n, protected: false },
			{ base: 1000n * MiB, limit: 1256n * MiB - 1n, reserved: 256n * MiB, protected: false },
			{ base: 1256n * MiB, limit: 1400n * MiB - 1n, reserved: 144n * MiB, protected: true },
			{ base: 2000n * MiB + 100n, limit: 2001n * MiB + 10n, reserved: 0n, protected: false },
		]);
		expect(ranges).toEqual([
			{ start: 0n, end: 1000n * MiB },
			// base rounded up and limit+1 rounded down to 4 KiB.
			{ start: 2000n * MiB + 4096n, end: 2001n * MiB },
		]);
	});

	it('drops a protected region even when nothing in it is marked reserved', () => {
		expect(usableVramRanges([{ base: 0n, limit: MiB - 1n, reserved: 0n, protected: true }])).toEqual([]);
	});

	it('keeps a bottom guard out', () => {
		expect(
			usableVramRanges([{ base: 0n, limit: 4n * MiB - 1n, reserved: 0n, protected: false }], 0x1800n),
		).toEqual([{ start: 0x2000n, end: 4n * MiB }]);
	});
});

describe('VramAllocator', () => {
	it('allocates first fit with alignment, accounts, and reuses freed space', () => {
		const a = new VramAllocator([{ start: 0x1000n, end: 16n * MiB }]);
		expect(a.total).toBe(16n * MiB - 0x1000n);
		const x = a.alloc(5000n, 0x10000n, 'x');
		expect(x).toEqual({ offset: 0x10000n, size: 0x2000n, label: 'x' });
		const y = a.alloc(0x1000n, 0x1000n, 'y');
		// The hole below x is used first.
		expect(y.offset).toBe(0x1000n);
		expect(a.used).toBe(0x3000n);
		expect(a.stats).toMatchObject({ used: 0x3000n, free: a.total - 0x3000n, allocations: 2 });
		a.free(x);
		a.free(y.offset);
		expect(a.used).toBe(0n);
		expect(a.stats.largestFree).toBe(a.total);
		expect(a.allocations()).toEqual([]);
	});

	it('reports ENOSPC with the free space when nothing fits', () => {
		const a = new VramAllocator([{ start: 0n, end: MiB }]);
		a.alloc(MiB / 2n, 0x1000n);
		let err: unknown;
		try {
			a.alloc(MiB, 0x1000n);
		} catch (e) {
			err = e;
		}
		expect(isCoreError(err, 'CORE_VRAM_EXHAUSTED')).toBe(true);
		expect((err as { errno: string }).errno).toBe('ENOSPC');
		expect((err as { details: Record<string, unknown> }).details.free).toBe(String(MiB / 2n));
	});

	it('rejects double frees, zero sizes and bad alignments', () => {
		const a = new VramAllocator([{ start: 0n, end: MiB }]);
		const x = a.alloc(4096n, 4096n);
		a.free(x);
		expect(() => a.free(x)).toThrow(/not allocated/);
		expect(() => a.alloc(0n)).toThrow(/positive/);
		expect(() => a.alloc(4096n, 3000n)).toThrow(/power of two/);
	});

	it('never merges holes across separate ranges', () => {
		const a = new VramAllocator([
			{ start: 0n, end: 0x2000n },
			{ start: 0x2000n + 0x1000n, end: 0x5000n },
		]);
		const x = a.alloc(0x2000n, 0x1000n);
		const y = a.alloc(0x2000n, 0x1000n);
		expect([x.offset, y.offset]).toEqual([0n, 0x3000n]);
		a.free(x);
		a.free(y);
		// Had the two holes been merged, a 0x4000 allocation would now (wrongly) fit.
		expect(() => a.alloc(0x4000n, 0x1000n)).toThrow(/no .*VRAM hole/);
	});

	it('property: live allocations are aligned, disjoint, inside the ranges, and accounted exactly', () => {
		const ranges = [
			{ start: 0x10000n, end: 0x90000n },
			{ start: 0xa0000n, end: 0x120000n },
		];
		fc.assert(
			fc.property(
				fc.array(
					fc.oneof(
						fc.record({
							op: fc.constant('alloc' as const),
							pages: fc.integer({ min: 1, max: 40 }),
							alignShift: fc.integer({ min: 12, max: 17 }),
						}),
						fc.record({ op: fc.constant('free' as const), pick: fc.nat() }),
					),
					{ maxLength: 60 },
				),
				(ops) => {
					const a = new VramAllocator(ranges);
					const live: { offset: bigint; size: bigint }[] = [];
					for (const o of ops) {
						if (o.op === 'alloc') {
							const align = 1n << BigInt(o.alignShift);
							try {
								const x = a.alloc(BigInt(o.pages) * 4096n, align);
								expect(x.offset % align).toBe(0n);
								live.push(x);
							} catch (e) {
								expect(isCoreError(e, 'CORE_VRAM_EXHAUSTED')).toBe(true);
							}
						} else if (live.length > 0) {
							const [x] = live.splice(o.pick % live.length, 1);
							a.free(x!.offset);
						}
						const sorted = [...live].sort((p, q) => (p.offset < q.offset ? -1 : 1));
						for (let i = 1; i < sorted.length; i++) {
							expect(sorted[i - 1]!.offset + sorted[i - 1]!.size <= sorted[i]!.offset).toBe(true);
						}
						for (const x of live) {
							expect(ranges.some((r) => x.offset >= r.start && x.offset + x.size <= r.end)).toBe(true);
						}
						expect(a.used).toBe(live.reduce((s, x) => s + x.size, 0n));
					}
					for (const x of live) a.free(x.offset);
					expect(a.stats.free).toBe(a.total);
				},
			),
			{ numRuns: 150 },
		);
	});
});
