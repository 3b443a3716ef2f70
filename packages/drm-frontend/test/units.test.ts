/** Building blocks: handle tables, descriptor tables, the _IOC encoding, user memory, waits. */

import {
	ArenaMemory,
	DrmFence,
	FdTable,
	HandleTable,
	ioc,
	iocFields,
	MAX_HANDLE,
	OpaqueFile,
	readU32Array,
	waitUntil,
} from '@gspkit/drm-frontend';
import { RealClock, VirtualClock } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('HandleTable (idr policy)', () => {
	it('property: always hands out the lowest free handle ≥ 1, like a set-based reference', () => {
		fc.assert(
			fc.property(
				fc.array(fc.oneof(fc.constant<'alloc'>('alloc'), fc.nat(40)), { maxLength: 200 }),
				(ops) => {
					const t = new HandleTable<string>();
					const ref = new Set<number>();
					for (const op of ops) {
						if (op === 'alloc') {
							let want = 1;
							while (ref.has(want)) want++;
							expect(t.peek()).toBe(want);
							expect(t.alloc(`o${want}`)).toBe(want);
							ref.add(want);
						} else {
							expect(t.remove(op) !== undefined).toBe(ref.delete(op));
						}
						expect(t.size).toBe(ref.size);
					}
					expect(t.entries().map(([h]) => h)).toEqual([...ref].sort((a, b) => a - b));
					expect(t.get(0)).toBeUndefined();
				},
			),
		);
	});

	it('handle 0 is never valid and the range ends at INT_MAX', () => {
		const t = new HandleTable<number>();
		expect(t.alloc(1)).toBe(1);
		expect(t.get(0)).toBeUndefined();
		expect(t.remove(0)).toBeUndefined();
		expect(MAX_HANDLE).toBe(0x7fffffff);
	});
});

describe('FdTable', () => {
	it('lowest free descriptor from 3, dup, transfer, EBADF, release on the last close', () => {
		const a = new FdTable();
		const b = new FdTable({ firstFd: 0 });
		const f = new OpaqueFile();
		expect(a.install(f)).toEqual({ ok: true, value: 3 });
		expect(a.dup(3)).toEqual({ ok: true, value: 4 });
		expect(a.transfer(4, b)).toEqual({ ok: true, value: 0 });
		expect(f.refCount).toBe(3);
		expect(a.close(3)).toEqual({ ok: true, value: undefined });
		expect(a.close(3)).toEqual({ ok: false, error: 'EBADF' });
		expect(a.dup(9)).toEqual({ ok: false, error: 'EBADF' });
		expect(a.install(new OpaqueFile())).toEqual({ ok: true, value: 3 });
		a.closeAll();
		expect(f.released).toBe(false);
		b.closeAll();
		expect(f.released).toBe(true);
		const small = new FdTable({ firstFd: 0, maxFds: 1 });
		expect(small.install(new OpaqueFile()).ok).toBe(true);
		expect(small.install(new OpaqueFile())).toEqual({ ok: false, error: 'ENOSPC' });
	});
});

describe('_IOC encoding', () => {
	it('round-trips every field and rejects overflow', () => {
		fc.assert(
			fc.property(fc.nat(3), fc.nat(255), fc.nat(255), fc.nat(0x3fff), (dir, type, nr, size) => {
				const code = ioc(dir, type, nr, size);
				expect(code).toBeGreaterThanOrEqual(0);
				expect(code).toBeLessThan(2 ** 32);
				expect(iocFields(code)).toEqual({ dir, type, nr, size });
			}),
		);
		expect(() => ioc(0, 0x64, 0, 0x4000)).toThrow(RangeError);
		expect(() => ioc(4, 0x64, 0, 0)).toThrow(RangeError);
	});
});

describe('ArenaMemory', () => {
	it('faults outside regions, across guard gaps and for absurd lengths', () => {
		const m = new ArenaMemory();
		const a = m.alloc(Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0));
		const b = m.alloc(8);
		expect(readU32Array(m, a, 2)).toEqual(Uint32Array.of(1, 2));
		expect(m.read(a, 9)).toBeUndefined();
		expect(m.read(a - 1n, 1)).toBeUndefined();
		expect(m.read(b, 2 ** 40)).toBeUndefined();
		expect(m.write(b + 4n, Uint8Array.of(7, 7, 7, 7))).toBe(true);
		expect(m.write(b + 5n, Uint8Array.of(7, 7, 7, 7))).toBe(false);
		expect([...m.bytesAt(b)]).toEqual([0, 0, 0, 0, 7, 7, 7, 7]);
		expect(readU32Array(m, 0n, 0)).toEqual(new Uint32Array(0));
	});
});

describe('waitUntil', () => {
	it('virtual clock: wakes on a callback before the deadline, times out exactly at it', async () => {
		const clock = new VirtualClock(100n);
		const f = new DrmFence();
		const p = waitUntil(
			clock,
			200n,
			() => (f.signalled ? 'done' : undefined),
			(wake) => {
				f.onSignal(wake);
				return undefined;
			},
		);
		clock.advance(50n);
		f.signal();
		expect(await p).toBe('done');
		const q = waitUntil(
			clock,
			300n,
			() => undefined,
			() => undefined,
		);
		clock.advance(149n);
		let settled = false;
		void q.then(() => {
			settled = true;
		});
		await new Promise((r) => setImmediate(r));
		expect(settled).toBe(false);
		clock.advance(1n);
		expect(await q).toBeUndefined();
		expect(clock.pendingTimers).toBe(0);
	});

	it('real clock: a deadline in the past checks exactly once', async () => {
		let checks = 0;
		const r = await waitUntil(
			new RealClock(),
			0n,
			() => {
				checks++;
				return undefined;
			},
			() => undefined,
		);
		expect(r).toBeUndefined();
		expect(checks).toBe(1);
	});
});
