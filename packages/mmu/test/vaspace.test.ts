import { describe, expect, it } from 'vitest';
import { isMmuError, MMU_V2, MMU_V3, type MmuFormatSpec, readEntry, VaSpace } from '../src/index.ts';
import { POISON } from './helpers/dma.ts';
import { allZero, chunked, contig, dumpTables, GiB, KiB, MiB, physOf, rig, TiB } from './helpers/setup.ts';

const FORMATS = ['v2', 'v3'] as const;
const fmtOf = (f: 'v2' | 'v3'): MmuFormatSpec => (f === 'v2' ? MMU_V2 : MMU_V3);
const err = (code: string, errno: string) => expect.objectContaining({ code, errno });

describe.each(FORMATS)('VaSpace %s: map, translate, unmap', (f) => {
	it('maps with the largest page the alignment allows, translates every page size, unmaps to an empty root', () => {
		const r = rig(f);
		const base = 0x20_0000_0000n;
		const obj = contig(1, 0x8000_0000n, 8n * MiB);
		r.apply([
			{ op: 'map', va: base, size: 4n * MiB, object: obj }, // 2 MiB pages
			{ op: 'map', va: base + 8n * MiB, size: 256n * KiB, object: obj, offset: 64n * KiB }, // 64 KiB
			{ op: 'map', va: base + 16n * MiB + 4n * KiB, size: 12n * KiB, object: obj, offset: 4n * KiB }, // 4 KiB
		]);
		expect(r.vas.mappings().map((m) => m.pageSize)).toEqual([2 * 2 ** 20, 64 * 1024, 4096]);
		const t = (va: bigint) => r.vas.translate(va);
		expect(t(base + 3n * MiB + 0x123n)).toMatchObject({
			valid: true,
			pageSize: 2 ** 21,
			level: 'PDE0',
			address: 0x8000_0000n + 3n * MiB + 0x123n,
		});
		expect(t(base + 8n * MiB + 65n * KiB)).toMatchObject({
			valid: true,
			pageSize: 65536,
			level: 'LPT',
			address: 0x8000_0000n + 129n * KiB,
		});
		expect(t(base + 16n * MiB + 8n * KiB + 5n)).toMatchObject({
			valid: true,
			pageSize: 4096,
			level: 'SPT',
			address: 0x8000_0000n + 8n * KiB + 5n,
		});
		expect(t(base + 16n * MiB)).toMatchObject({ valid: false, reason: 'invalid' });
		expect(t(base + 4n * MiB)).toMatchObject({ valid: false, reason: 'invalid', level: 'PDE0' });
		expect(t(base + 8n * MiB + 256n * KiB)).toMatchObject({ valid: false, level: 'LPT' });
		expect(r.invalidations.length).toBe(1);
		r.apply([{ op: 'unmap', va: 0n, size: 1n << 40n }]);
		expect(r.vas.mappings()).toEqual([]);
		expect(r.vas.pageTables.tables).toBe(1);
		expect(allZero(r.vas.snapshotTables())).toBe(true);
		expect(r.alloc.live).toBe(1);
		expect(r.dma.liveAllocations).toBe(1);
	});

	it('attributes reach the PTE: read-only, privileged, volatile (default for coherent sysmem), atomics, kind, peer', () => {
		const r = rig(f);
		const sys = contig(1, 0x1234_5000n, 64n * KiB, 'sysCoherent');
		const peer = {
			handle: 2,
			aperture: 'peer' as const,
			peerId: 5,
			extents: [{ address: 0x10_0000n, size: 4096n }],
		};
		const ncoh = contig(3, 0x9000_0000n, 4096n, 'sysNonCoherent', 6);
		r.apply([
			{
				op: 'map',
				va: 0x100_0000n,
				size: 64n * KiB,
				object: sys,
				readOnly: true,
				privileged: true,
				atomicDisable: true,
				pageSize: 4096,
			},
			{ op: 'map', va: 0x200_0000n, size: 4096n, object: peer },
			{ op: 'map', va: 0x300_0000n, size: 4096n, object: ncoh },
			{ op: 'map', va: 0x400_0000n, size: 4096n, object: ncoh, volatile: true, kind: 0 },
		]);
		expect(r.vas.translate(0x100_1000n)).toMatchObject({
			valid: true,
			aperture: 'sysCoherent',
			readOnly: true,
			privileged: true,
			atomicDisable: true,
			volatile: true,
			kind: 0,
			address: 0x1234_6000n,
		});
		expect(r.vas.translate(0x200_0000n)).toMatchObject({
			valid: true,
			aperture: 'peer',
			peerId: 5,
			address: 0x10_0000n,
		});
		expect(r.vas.translate(0x300_0000n)).toMatchObject({
			valid: true,
			aperture: 'sysNonCoherent',
			volatile: false,
			kind: 6,
			readOnly: false,
		});
		expect(r.vas.translate(0x400_0000n)).toMatchObject({ volatile: true, kind: 0 });
	});

	it('page size: contiguity limits it, explicit sizes must fit (MMU_PAGE_SIZE), smaller explicit sizes work', () => {
		const r = rig(f);
		const chunks64k = chunked(1, 0x4000_0000n, 64n * KiB, 64); // 4 MiB in 64 KiB pieces
		r.apply([{ op: 'map', va: 0x1000_0000n, size: 4n * MiB, object: chunks64k }]);
		expect(r.vas.mappings()[0]?.pageSize).toBe(65536);
		for (let i = 0n; i < 64n; i++) {
			const va = 0x1000_0000n + i * 64n * KiB + 0x777n;
			expect(r.vas.translate(va)).toMatchObject({
				valid: true,
				address: physOf(chunks64k, i * 64n * KiB + 0x777n),
			});
		}
		const c = contig(2, 0x8000_0000n, 4n * MiB);
		expect(() =>
			r.vas.prepare([{ op: 'map', va: 0x2000_1000n, size: 2n * MiB, object: c, pageSize: 65536 }]),
		).toThrow(err('MMU_PAGE_SIZE', 'EINVAL'));
		expect(() =>
			r.vas.prepare([
				{ op: 'map', va: 0x2000_0000n, size: 2n * MiB, object: c, offset: 4096n, pageSize: 2097152 },
			]),
		).toThrow(err('MMU_PAGE_SIZE', 'EINVAL'));
		expect(() =>
			r.vas.prepare([{ op: 'map', va: 0x2000_0000n, size: 2n * MiB, object: c, pageSize: 8192 as 4096 }]),
		).toThrow(err('MMU_PAGE_SIZE', 'EINVAL'));
		r.apply([{ op: 'map', va: 0x2000_0000n, size: 2n * MiB, object: c, pageSize: 4096 }]);
		expect(r.vas.translate(0x2010_0000n)).toMatchObject({
			valid: true,
			pageSize: 4096,
			address: 0x8010_0000n,
		});
		expect(r.vas.pageTables.byLevel.SPT).toBe(1);
	});

	it('a 64 KiB mapping and 4 KiB mappings share a dual PDE0: LPT markers and SPT entries', () => {
		const r = rig(f);
		const fm = fmtOf(f);
		const obj = contig(1, 0x4000_0000n, 2n * MiB);
		const base = 0x40_0000_0000n;
		r.apply([
			{ op: 'map', va: base + 64n * KiB, size: 64n * KiB, object: obj }, // LPT entry 1
			{ op: 'map', va: base + 128n * KiB + 8n * KiB, size: 4n * KiB, object: obj, offset: 8n * KiB }, // SPT in sub-block 2
		]);
		expect(r.vas.pageTables.byLevel).toMatchObject({ LPT: 1, SPT: 1 });
		expect(r.vas.translate(base + 64n * KiB + 5n)).toMatchObject({
			valid: true,
			pageSize: 65536,
			address: 0x4000_0005n,
		});
		expect(r.vas.translate(base + 136n * KiB)).toMatchObject({
			valid: true,
			pageSize: 4096,
			address: 0x4000_2000n,
		});
		expect(r.vas.translate(base + 132n * KiB)).toMatchObject({
			valid: false,
			level: 'SPT',
			reason: 'invalid',
		});
		expect(r.vas.translate(base)).toMatchObject({ valid: false, level: 'LPT', reason: 'invalid' });
		// Raw LPT: sub-block 0 blocks the SPT, 1 is a PTE, 2 defers to the SPT (all zero).
		const tables = [...r.vas.snapshotTables().entries()];
		const lptBytes = tables.find(([, b]) => b.length === 256)?.[1] as Uint8Array;
		const lpt = new Uint32Array(lptBytes.buffer);
		const w = (i: number) => readEntry(lpt, i * 2, 8);
		const marker = BigInt(fm.lptIgnoreSmall.lo) | (BigInt(fm.lptIgnoreSmall.hi) << 32n);
		expect(w(0)).toBe(marker);
		expect(fm.decodePte(w(1))).toMatchObject({ valid: true, address: 0x4000_0000n });
		expect(w(2)).toBe(0n);
		expect(w(31)).toBe(marker);
		// Unmapping the small page drops the SPT; the LPT entry 2 becomes the marker again.
		r.apply([{ op: 'unmap', va: base + 136n * KiB, size: 4n * KiB }]);
		expect(r.vas.pageTables.byLevel.SPT ?? 0).toBe(0);
		expect(r.vas.translate(base + 136n * KiB)).toMatchObject({
			valid: false,
			level: 'LPT',
			reason: 'invalid',
		});
	});

	it('unmap splits a mapping (remainders keep their PTEs when the page size still fits)', () => {
		const r = rig(f);
		const obj = contig(1, 0x4000_0000n, 8n * MiB);
		r.apply([{ op: 'map', va: 0x1_0000_0000n, size: 8n * MiB, object: obj }]);
		const p = r.vas.prepare([{ op: 'unmap', va: 0x1_0020_0000n, size: 2n * MiB }]);
		expect(p.ops).toEqual([
			{
				op: 'remap',
				unmap: { va: 0x1_0000_0000n, size: 8n * MiB, keep: false },
				prev: { va: 0x1_0000_0000n, size: 2n * MiB, offset: 0n, pageSize: 2 ** 21 },
				next: { va: 0x1_0040_0000n, size: 4n * MiB, offset: 4n * MiB, pageSize: 2 ** 21 },
			},
		]);
		const res = r.commit(p);
		expect(res.entriesWritten).toBe(1); // only the middle 2 MiB slot was rewritten
		expect(r.vas.translate(0x1_0020_0000n)).toMatchObject({ valid: false });
		expect(r.vas.translate(0x1_0040_0000n)).toMatchObject({
			valid: true,
			address: 0x4040_0000n,
			pageSize: 2 ** 21,
		});
		// A 4 KiB hole forces smaller pages on the remainder that contains it.
		r.apply([{ op: 'unmap', va: 0x1_0050_0000n, size: 4096n }]);
		expect(r.vas.mappings().map((m) => [m.va, m.size, m.pageSize])).toEqual([
			[0x1_0000_0000n, 2n * MiB, 2 ** 21],
			[0x1_0040_0000n, 1n * MiB, 65536],
			[0x1_0050_1000n, 3n * MiB - 4096n, 4096],
		]);
		expect(r.vas.translate(0x1_0050_1000n)).toMatchObject({ valid: true, address: 0x4050_1000n });
		expect(r.vas.translate(0x1_004f_f000n)).toMatchObject({
			valid: true,
			address: 0x404f_f000n,
			pageSize: 65536,
		});
	});

	it('map over an existing mapping replaces it (drm_gpuvm case 11) and reports the plan', () => {
		const r = rig(f);
		const a = contig(1, 0x4000_0000n, 1n * MiB);
		const b = contig(2, 0x5000_0000n, 1n * MiB);
		r.apply([{ op: 'map', va: 0x10_0000n, size: 12n * KiB, object: a, pageSize: 4096 }]);
		const p = r.vas.prepare([{ op: 'map', va: 0x10_1000n, size: 4n * KiB, object: b }]);
		expect(p.ops.map((o) => o.op)).toEqual(['remap', 'map']);
		r.commit(p);
		expect(r.vas.translate(0x10_0000n)).toMatchObject({ address: 0x4000_0000n });
		expect(r.vas.translate(0x10_1000n)).toMatchObject({ address: 0x5000_0000n });
		expect(r.vas.translate(0x10_2000n)).toMatchObject({ address: 0x4000_2000n });
	});

	it('rejects bad arguments with typed errors and leaves the space unchanged', () => {
		const r = rig(f);
		const o = contig(1, 0x4000_0000n, 1n * MiB);
		const cases: [Parameters<VaSpace['prepare']>[0], string, string][] = [
			[[{ op: 'map', va: 0x1001n, size: 4096n, object: o }], 'MMU_INVALID_ARGUMENT', 'EINVAL'],
			[[{ op: 'map', va: 0x1000n, size: 0n, object: o }], 'MMU_INVALID_ARGUMENT', 'EINVAL'],
			[[{ op: 'map', va: 0x1000n, size: 2n * MiB, object: o }], 'MMU_INVALID_ARGUMENT', 'EINVAL'],
			[
				[{ op: 'map', va: 0x1000n, size: 4096n, object: o, offset: 0x800n }],
				'MMU_INVALID_ARGUMENT',
				'EINVAL',
			],
			[[{ op: 'map', va: r.vas.vaLimit - 4096n, size: 8192n, object: o }], 'MMU_RANGE_INVALID', 'EINVAL'],
			[[{ op: 'map', va: 0x1000n, size: 4096n, object: o, kind: 7 }], 'MMU_INVALID_ARGUMENT', 'EINVAL'],
			[
				[{ op: 'bogus' } as unknown as Parameters<VaSpace['prepare']>[0][0]],
				'MMU_INVALID_ARGUMENT',
				'EINVAL',
			],
		];
		for (const [ops, code, errno] of cases) {
			const before = r.vas.snapshotTables();
			expect(() => r.vas.prepare(ops)).toThrow(err(code, errno));
			expect(r.vas.snapshotTables()).toEqual(before);
			expect(r.vas.pendingCount).toBe(0);
		}
		// An error in the 3rd op undoes the first two.
		expect(() =>
			r.vas.prepare([
				{ op: 'map', va: 0x1000n, size: 4096n, object: o },
				{ op: 'map-sparse', va: 0x10_0000n, size: 1n * MiB },
				{ op: 'map', va: 0xf_f000n, size: 8192n, object: o },
			]),
		).toThrow(err('MMU_SPARSE_STRADDLE', 'ENOSPC'));
		r.apply([{ op: 'map-sparse', va: 0x10_0000n, size: 1n * MiB }]);
		expect(r.vas.sparseRegions()).toEqual([{ va: 0x10_0000n, size: 1n * MiB }]);
		expect(r.vas.mappings()).toEqual([]);
	});
});

describe.each(FORMATS)('VaSpace %s: sparse regions', (f) => {
	it('sparse faults, mapping inside works, unmapping inside restores sparse entries', () => {
		const r = rig(f);
		const base = 0x100_0000_0000n;
		const obj = contig(1, 0x4000_0000n, 4n * MiB);
		r.apply([{ op: 'map-sparse', va: base, size: 64n * MiB }]);
		for (const va of [base, base + 5n * MiB + 0x1234n, base + 64n * MiB - 1n]) {
			expect(r.vas.translate(va)).toMatchObject({ valid: false, reason: 'sparse' });
		}
		expect(r.vas.translate(base + 64n * MiB)).toMatchObject({ valid: false, reason: 'invalid' });
		r.apply([
			{ op: 'map', va: base + 4n * KiB, size: 4n * KiB, object: obj },
			{ op: 'map', va: base + 2n * MiB + 64n * KiB, size: 64n * KiB, object: obj },
			{ op: 'map', va: base + 4n * MiB, size: 2n * MiB, object: obj },
		]);
		expect(r.vas.translate(base)).toMatchObject({ valid: false, reason: 'sparse', level: 'SPT' });
		expect(r.vas.translate(base + 4n * KiB)).toMatchObject({ valid: true, address: 0x4000_0000n });
		expect(r.vas.translate(base + 8n * KiB)).toMatchObject({ valid: false, reason: 'sparse' });
		expect(r.vas.translate(base + 2n * MiB)).toMatchObject({ valid: false, reason: 'sparse', level: 'LPT' });
		expect(r.vas.translate(base + 2n * MiB + 64n * KiB)).toMatchObject({ valid: true, pageSize: 65536 });
		expect(r.vas.translate(base + 4n * MiB + 3n)).toMatchObject({
			valid: true,
			pageSize: 2 ** 21,
			address: 0x4000_0003n,
		});
		r.apply([{ op: 'unmap', va: base, size: 8n * MiB }]);
		for (const va of [base + 4n * KiB, base + 2n * MiB + 64n * KiB, base + 4n * MiB]) {
			expect(r.vas.translate(va)).toMatchObject({ valid: false, reason: 'sparse' });
		}
		// Back to the minimum: sparse entries at the highest level that fits, no leaf tables.
		expect(r.vas.pageTables.byLevel.SPT ?? 0).toBe(0);
		expect(r.vas.pageTables.byLevel.LPT ?? 0).toBe(0);
	});

	it('sparse rules: straddling is ENOSPC, overlapping regions EEXIST, inexact unmap-sparse ENOENT, map after unbind EINVAL', () => {
		const r = rig(f);
		const obj = contig(1, 0x4000_0000n, 4n * MiB);
		r.apply([{ op: 'map-sparse', va: 0x100_0000n, size: 16n * MiB }]);
		expect(() => r.vas.prepare([{ op: 'map', va: 0xff_f000n, size: 8192n, object: obj }])).toThrow(
			err('MMU_SPARSE_STRADDLE', 'ENOSPC'),
		);
		expect(() => r.vas.prepare([{ op: 'map', va: 0x1ff_f000n, size: 8192n, object: obj }])).toThrow(
			err('MMU_SPARSE_STRADDLE', 'ENOSPC'),
		);
		expect(() => r.vas.prepare([{ op: 'map-sparse', va: 0x1ff_0000n, size: 1n * MiB }])).toThrow(
			err('MMU_SPARSE_OVERLAP', 'EEXIST'),
		);
		expect(() => r.vas.prepare([{ op: 'unmap-sparse', va: 0x100_0000n, size: 8n * MiB }])).toThrow(
			err('MMU_NO_SUCH_REGION', 'ENOENT'),
		);
		expect(() => r.vas.prepare([{ op: 'unmap-sparse', va: 0x300_0000n, size: 16n * MiB }])).toThrow(
			err('MMU_NO_SUCH_REGION', 'ENOENT'),
		);
		expect(() =>
			r.vas.prepare([
				{ op: 'unmap-sparse', va: 0x100_0000n, size: 16n * MiB },
				{ op: 'map', va: 0x100_0000n, size: 4096n, object: obj },
			]),
		).toThrow(err('MMU_REGION_BUSY', 'EINVAL'));
		// Unbinding twice in one set: the second finds no region (ENOENT).
		expect(() =>
			r.vas.prepare([
				{ op: 'unmap-sparse', va: 0x100_0000n, size: 16n * MiB },
				{ op: 'unmap-sparse', va: 0x100_0000n, size: 16n * MiB },
			]),
		).toThrow(err('MMU_NO_SUCH_REGION', 'ENOENT'));
		// A mapping that straddles the border of a new region.
		r.apply([{ op: 'map', va: 0x400_0000n, size: 8192n, object: obj }]);
		expect(() => r.vas.prepare([{ op: 'map-sparse', va: 0x400_1000n, size: 1n * MiB }])).toThrow(
			err('MMU_SPARSE_STRADDLE', 'ENOSPC'),
		);
		// A region may be created around existing mappings; unmap-sparse removes them too.
		r.apply([{ op: 'map-sparse', va: 0x400_0000n, size: 2n * MiB }]);
		expect(r.vas.translate(0x400_0000n)).toMatchObject({ valid: true });
		expect(r.vas.translate(0x400_2000n)).toMatchObject({ valid: false, reason: 'sparse' });
		const p = r.vas.prepare([{ op: 'unmap-sparse', va: 0x400_0000n, size: 2n * MiB }]);
		expect(p.ops.map((o) => o.op)).toEqual(['unmap', 'unsparse']);
		r.commit(p);
		expect(r.vas.translate(0x400_0000n)).toMatchObject({ valid: false, reason: 'invalid' });
	});

	it('canonical form: under an LPT, SPT entries of sub-blocks that are no longer small are cleared', () => {
		const r = rig(f);
		const X = 0x7_0000_0000n;
		const obj = contig(1, 0x4000_0000n, 2n * MiB);
		r.apply([
			{ op: 'map-sparse', va: X, size: 2n * MiB },
			{ op: 'map', va: X, size: 64n * KiB, object: obj },
			{ op: 'map', va: X + 68n * KiB, size: 4n * KiB, object: obj },
			{ op: 'map', va: X + 128n * KiB, size: 4n * KiB, object: obj },
		]);
		r.apply([{ op: 'unmap', va: X + 68n * KiB, size: 4n * KiB }]);
		expect(r.vas.translate(X + 72n * KiB)).toMatchObject({ valid: false, reason: 'sparse', level: 'LPT' });
		const fresh = rig(f);
		fresh.apply([
			{ op: 'map-sparse', va: X, size: 2n * MiB },
			{ op: 'map', va: X, size: 64n * KiB, object: obj },
			{ op: 'map', va: X + 128n * KiB, size: 4n * KiB, object: obj },
		]);
		expect(dumpTables(r.vas)).toBe(dumpTables(fresh.vas));
	});

	it('1 TiB of sparse VA costs a handful of directory pages', () => {
		const r = rig(f);
		r.apply([{ op: 'map-sparse', va: 1n * TiB, size: 1n * TiB }]);
		expect(r.vas.pageTables.bytes).toBeLessThanOrEqual(4 * 4096 + 32);
		expect(r.vas.translate(1n * TiB + 12345n * 4096n)).toMatchObject({
			valid: false,
			reason: 'sparse',
			level: 'PDE2',
		});
		r.apply([{ op: 'unmap-sparse', va: 1n * TiB, size: 1n * TiB }]);
		expect(r.vas.pageTables.tables).toBe(1);
		expect(allZero(r.vas.snapshotTables())).toBe(true);
	});
});

describe('VaSpace: kernel/client split (nouveau VM_INIT)', () => {
	it('client ops need the split; they must avoid the kernel range and kernel ops must stay in it', () => {
		const r = rig('v2');
		const o = contig(1, 0x4000_0000n, 1n * MiB);
		expect(() =>
			r.vas.prepare([{ op: 'map', va: 0x1000n, size: 4096n, object: o }], { owner: 'client' }),
		).toThrow(err('MMU_NOT_INITIALIZED', 'ENOSYS'));
		expect(() => r.vas.initClientSplit({ va: 1n << 48n, size: 1n << 49n })).toThrow(
			err('MMU_RANGE_INVALID', 'EINVAL'),
		);
		r.vas.initClientSplit({ va: 0n, size: 1n << 40n });
		expect(() => r.vas.initClientSplit({ va: 0n, size: 1n << 40n })).toThrow(
			err('MMU_ALREADY_INITIALIZED', 'EEXIST'),
		);
		expect(r.vas.kernelManaged).toEqual({ va: 0n, size: 1n << 40n });
		expect(() =>
			r.vas.prepare([{ op: 'map', va: 0x1000n, size: 4096n, object: o }], { owner: 'client' }),
		).toThrow(err('MMU_RANGE_INVALID', 'EINVAL'));
		expect(() =>
			r.vas.prepare([{ op: 'unmap', va: (1n << 40n) - 4096n, size: 8192n }], { owner: 'client' }),
		).toThrow(err('MMU_RANGE_INVALID', 'EINVAL'));
		expect(() => r.vas.prepare([{ op: 'map', va: 1n << 40n, size: 4096n, object: o }])).toThrow(
			err('MMU_RANGE_INVALID', 'EINVAL'),
		);
		r.apply([{ op: 'map', va: 1n << 40n, size: 4096n, object: o }], { owner: 'client' });
		r.apply([{ op: 'map', va: 0x1000n, size: 4096n, object: o }]);
		expect(r.vas.mappings().length).toBe(2);
	});

	it('the split comes too late once kernel mappings exist outside the kernel range', () => {
		const r = rig('v3', { vas: { vaLimit: 1n << 47n } });
		const o = contig(1, 0x4000_0000n, 1n * MiB);
		r.apply([{ op: 'map', va: 1n << 42n, size: 4096n, object: o }]);
		expect(() => r.vas.initClientSplit({ va: 0n, size: 1n << 40n })).toThrow(
			err('MMU_INIT_TOO_LATE', 'ENOSYS'),
		);
		expect(() => r.vas.prepare([{ op: 'map', va: 1n << 47n, size: 4096n, object: o }])).toThrow(
			err('MMU_RANGE_INVALID', 'EINVAL'),
		);
		r.vas.initClientSplit({ va: 0n, size: 1n << 43n });
	});
});

describe.each(FORMATS)('VaSpace %s: two phases', (f) => {
	it('prepare failure at every allocation index leaves tables, view and allocator unchanged', () => {
		const r = rig(f);
		const obj = contig(1, 0x4000_0000n, 64n * MiB);
		const setup = [
			{ op: 'map', va: 0x40_0000_0000n, size: 4n * MiB, object: obj, pageSize: 4096 },
			{ op: 'map-sparse', va: 0x80_0000_0000n, size: 64n * MiB },
		] as const;
		r.apply(setup);
		const ops = [
			{ op: 'map', va: 0x40_0010_0000n, size: 64n * KiB, object: obj }, // splits an existing mapping
			{ op: 'map', va: 0x80_0020_0000n, size: 2n * MiB + 64n * KiB, object: obj, pageSize: 65536 },
			{ op: 'map', va: 0x80_0100_1000n, size: 4096n, object: obj },
			{ op: 'map', va: 0xc0_0000_0000n + 512n * MiB - 4096n, size: 8192n, object: obj }, // crosses PDE1 entries
			{ op: 'map', va: 1n << 46n, size: 2n * MiB, object: obj },
		] as const;
		// How many tables does a clean prepare allocate?
		const probe = r.vas.prepare(ops);
		const needed = probe.tablesAllocated;
		r.vas.release(probe);
		expect(needed).toBeGreaterThanOrEqual(8);
		const tables = r.vas.snapshotTables();
		const mappings = r.vas.mappings();
		const live = r.alloc.live;
		const dmaBytes = r.dma.bytesInUse;
		for (let k = 0; k < needed; k++) {
			r.alloc.arm(k);
			let e: unknown;
			try {
				r.vas.prepare(ops);
			} catch (x) {
				e = x;
			}
			expect(isMmuError(e, 'MMU_OUT_OF_MEMORY')).toBe(true);
			expect((e as { errno: string }).errno).toBe('ENOMEM');
			expect((e as Error).cause).toMatchObject({ code: 'HAL_OUT_OF_MEMORY' });
			expect(r.vas.snapshotTables()).toEqual(tables);
			expect(r.vas.mappings()).toEqual(mappings);
			expect(r.alloc.live).toBe(live);
			expect(r.dma.bytesInUse).toBe(dmaBytes);
			expect(r.vas.pendingCount).toBe(0);
		}
		r.alloc.arm(null);
		// The pending view was restored too: the same ops plan identically and commit without allocating.
		const p = r.vas.prepare(ops);
		expect(p.tablesAllocated).toBe(needed);
		r.commit(p);
		expect(r.vas.translate(0x80_0100_1000n)).toMatchObject({ valid: true });
		expect(r.vas.translate(0x80_0100_2000n)).toMatchObject({ valid: false, reason: 'sparse' });
	});

	it('several prepared sets: later ones see earlier ones; commit in order; release only the newest', () => {
		const r = rig(f);
		const a = contig(1, 0x4000_0000n, 4n * MiB);
		const b = contig(2, 0x5000_0000n, 4n * MiB);
		const p1 = r.vas.prepare([{ op: 'map', va: 0x10_0000_0000n, size: 4n * MiB, object: a, pageSize: 4096 }]);
		const p2 = r.vas.prepare([{ op: 'map', va: 0x10_0010_0000n, size: 4096n, object: b }]);
		expect(p2.ops.map((o) => o.op)).toEqual(['remap', 'map']); // sees p1's mapping
		const p3 = r.vas.prepare([{ op: 'unmap', va: 0x10_0000_0000n, size: 4n * MiB }]);
		expect(() => r.vas.commit(p2)).toThrow(err('MMU_PREPARED_STATE', 'EINVAL'));
		expect(() => r.vas.release(p1)).toThrow(err('MMU_PREPARED_STATE', 'EINVAL'));
		r.vas.release(p3);
		expect(p3.status).toBe('released');
		expect(() => r.vas.commit(p3)).toThrow(err('MMU_PREPARED_STATE', 'EINVAL'));
		// Nothing is visible before commit.
		expect(r.vas.translate(0x10_0000_0000n)).toMatchObject({ valid: false });
		r.commit(p1);
		expect(r.vas.translate(0x10_0010_0000n)).toMatchObject({ valid: true, address: 0x4010_0000n });
		r.commit(p2);
		expect(r.vas.translate(0x10_0010_0000n)).toMatchObject({ valid: true, address: 0x5000_0000n });
		expect(p2.status).toBe('committed');
		expect(() => r.vas.commit(p2)).toThrow(err('MMU_PREPARED_STATE', 'EINVAL'));
		expect(r.invalidations.length).toBe(2);
		// A set that unmaps everything, prepared while a map is pending, frees all after both commit.
		const p4 = r.vas.prepare([{ op: 'map', va: 0x20_0000_0000n, size: 64n * KiB, object: b }]);
		const p5 = r.vas.prepare([{ op: 'unmap', va: 0n, size: 1n << 46n }]);
		r.commit(p4);
		r.commit(p5);
		expect(r.vas.pageTables.tables).toBe(1);
		expect(allZero(r.vas.snapshotTables())).toBe(true);
		expect(r.alloc.live).toBe(1);
	});

	it('unmap-then-remap across pending sets reuses unlinked tables and still frees everything', () => {
		const r = rig(f);
		const a = contig(1, 0x4000_0000n, 4n * MiB);
		r.apply([{ op: 'map', va: 0x10_0000_0000n, size: 8192n, object: a }]);
		const p1 = r.vas.prepare([{ op: 'unmap', va: 0x10_0000_0000n, size: 8192n }]);
		const p2 = r.vas.prepare([{ op: 'map', va: 0x10_0000_1000n, size: 4096n, object: a }]);
		expect(p2.tablesAllocated).toBe(0); // the tables p1 will unlink are kept for p2
		const c1 = r.commit(p1);
		expect(c1.tablesFreed).toBe(0);
		expect(r.vas.translate(0x10_0000_1000n)).toMatchObject({ valid: false });
		r.commit(p2);
		expect(r.vas.translate(0x10_0000_1000n)).toMatchObject({ valid: true, address: 0x4000_0000n });
		expect(r.vas.translate(0x10_0000_0000n)).toMatchObject({ valid: false, level: 'SPT' });
		r.apply([{ op: 'unmap', va: 0n, size: 1n << 45n }]);
		expect(r.vas.pageTables.tables).toBe(1);
	});

	it('tables are freed only after the TLB invalidate; the allocator sync hook sees every written range first', () => {
		const r = rig(f, { sync: true });
		const a = contig(1, 0x4000_0000n, 4n * MiB);
		r.apply([{ op: 'map', va: 0x10_0000_0000n, size: 4n * MiB, object: a, pageSize: 4096 }]);
		// Every table was written (new ones entirely), and synced before the invalidate.
		const synced = new Set(r.alloc.syncCalls.map((c) => c.address));
		for (const addr of r.vas.snapshotTables().keys()) expect(synced.has(addr)).toBe(true);
		const sizes = new Map([...r.vas.snapshotTables()].map(([k, v]) => [k, v.length]));
		for (const c of r.alloc.syncCalls) {
			expect(c.from).toBeGreaterThanOrEqual(0);
			expect(c.to).toBeLessThanOrEqual(sizes.get(c.address) as number);
			expect(c.to).toBeGreaterThan(c.from);
		}
		expect(
			r.alloc.syncCalls.filter((c) => sizes.get(c.address) === 4096 && c.to - c.from === 4096).length,
		).toBe(r.vas.pageTables.tables - 1);
		expect(r.invalidations[0]?.syncCalls).toBe(r.alloc.syncCalls.length);
		r.alloc.syncCalls.length = 0;
		const liveBefore = r.alloc.live;
		const res = r.apply([{ op: 'unmap', va: 0x10_0000_0000n, size: 4n * MiB }]);
		expect(res.tablesFreed).toBe(liveBefore - 1);
		// At invalidate time every table was still allocated, and every sync had happened.
		const inv = r.invalidations[r.invalidations.length - 1];
		expect(inv?.liveTables).toBe(liveBefore);
		expect(inv?.syncCalls).toBe(r.alloc.syncCalls.length);
		expect(r.alloc.syncCalls.length).toBeGreaterThan(0);
		expect(r.alloc.live).toBe(1);
	});

	it('no work, no invalidate; commit of an empty set is fine', () => {
		const r = rig(f);
		const res = r.apply([{ op: 'unmap', va: 0x1000n, size: 4096n }]);
		expect(res).toEqual({ entriesWritten: 0, tablesFreed: 0, tlbInvalidated: false, tlbTimedOut: false });
		expect(r.invalidations.length).toBe(0);
		expect(r.apply([])).toMatchObject({ tlbInvalidated: false });
	});

	it('tables prepare allocates are not zeroed (poisoned here); commit writes every entry before linking them', () => {
		const r = rig(f, { slabBytes: 65536 });
		const a = contig(1, 0x4000_0000n, 64n * MiB);
		const s = chunked(2, 0x8000_0000n, 4096n, 1024);
		const base = 0x10_0000_0000n;
		const scan = () => {
			for (const [addr, bytes] of r.vas.snapshotTables()) {
				const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
				expect(words.indexOf(POISON), `table 0x${addr.toString(16)}`).toBe(-1);
			}
		};
		// Whole SPTs in a run, LPTs, 2 MiB PTEs, a partial SPT, 64 KiB + 4 KiB in one block, sparse around maps.
		r.apply([
			{ op: 'map', va: base, size: 8n * MiB, object: a, pageSize: 4096 },
			{ op: 'map', va: base + 8n * MiB, size: 4n * MiB, object: a, offset: 8n * MiB, pageSize: 65536 },
			{ op: 'map', va: base + 12n * MiB, size: 4n * MiB, object: a, offset: 12n * MiB, pageSize: 2097152 },
			{ op: 'map', va: base + 16n * MiB + 8192n, size: 3n * 4096n, object: s },
			{ op: 'map', va: base + 18n * MiB, size: 64n * KiB, object: a, pageSize: 65536 },
			{ op: 'map', va: base + 18n * MiB + 128n * KiB, size: 4096n, object: s },
			{ op: 'map-sparse', va: base + 64n * MiB, size: 4n * MiB },
		]);
		r.apply([{ op: 'map', va: base + 65n * MiB + 4096n, size: 8192n, object: s }]);
		expect(r.alloc.poisoned).toBeGreaterThan(8);
		scan();
		// Unmap some, map others over them: freed blocks come back (poisoned again) into other roles.
		r.apply([
			{ op: 'unmap', va: base, size: 12n * MiB },
			{ op: 'unmap', va: base + 18n * MiB, size: 1n * MiB },
		]);
		const before = r.alloc.poisoned;
		r.apply([
			{ op: 'map', va: base + 2n * MiB + 4096n, size: 3n * MiB, object: s, pageSize: 4096 },
			{ op: 'map', va: base + 6n * MiB, size: 2n * MiB, object: a, pageSize: 65536 },
			{ op: 'map', va: base + 18n * MiB + 64n * KiB, size: 4096n, object: s },
			// Whole SPTs again, now from blocks freed out of address order (not one run in memory).
			{ op: 'map', va: base + 32n * MiB, size: 6n * MiB, object: a, pageSize: 4096 },
		]);
		expect(r.alloc.poisoned).toBeGreaterThan(before);
		scan();
		for (let off = 0n; off < 3n * MiB; off += 389n * 4096n) {
			expect(r.vas.translate(base + 2n * MiB + 4096n + off + 5n)).toMatchObject({
				valid: true,
				address: physOf(s, off + 5n),
			});
		}
		for (let off = 0n; off < 6n * MiB; off += 97n * 4096n) {
			expect(r.vas.translate(base + 32n * MiB + off)).toMatchObject({
				valid: true,
				address: 0x4000_0000n + off,
			});
		}
		r.apply([
			{ op: 'unmap', va: 0n, size: 1n << 45n },
			{ op: 'unmap-sparse', va: base + 64n * MiB, size: 4n * MiB },
		]);
		expect(r.vas.pageTables.tables).toBe(1);
		expect(allZero(r.vas.snapshotTables())).toBe(true);
	});

	it('slab allocation: same results, DMA memory returns to the root slab only', () => {
		const r = rig(f, { slabBytes: 65536 });
		const a = chunked(1, 0x4000_0000n, 4096n, 1024);
		r.apply([{ op: 'map', va: 0x10_0000_0000n, size: 4n * MiB, object: a }]);
		for (let i = 0n; i < 1024n; i += 97n) {
			expect(r.vas.translate(0x10_0000_0000n + i * 4096n + 9n)).toMatchObject({
				valid: true,
				address: physOf(a, i * 4096n + 9n),
			});
		}
		expect(r.dma.liveAllocations).toBeLessThan(r.vas.pageTables.tables);
		r.apply([{ op: 'unmap', va: 0x10_0000_0000n, size: 4n * MiB }]);
		expect(r.dma.liveAllocations).toBe(1);
		expect(r.dma.bytesInUse).toBe(65536);
	});
});

describe('VaSpace: v3 specifics', () => {
	it('512 MiB pages for video memory (a PTE in a PDE1 slot), not for system memory', () => {
		const r = rig('v3');
		const vid = contig(1, 0x2000_0000n, 1n * GiB);
		const sys = contig(2, 0x2000_0000n, 1n * GiB, 'sysCoherent');
		r.apply([
			{ op: 'map', va: 0x100_0000_0000n, size: 1n * GiB, object: vid },
			{ op: 'map', va: 0x200_0000_0000n, size: 1n * GiB, object: sys },
		]);
		expect(r.vas.mappings().map((m) => m.pageSize)).toEqual([2 ** 29, 2 ** 21]);
		expect(r.vas.translate(0x100_2000_1234n)).toMatchObject({
			valid: true,
			level: 'PDE1',
			pageSize: 2 ** 29,
			address: 0x4000_1234n,
		});
		expect(r.vas.pageTables.byLevel.PDE0 ?? 0).toBe(2); // only for the system-memory GiB
		expect(() =>
			rig('v2').vas.prepare([{ op: 'map', va: 0n, size: 512n * MiB, object: vid, pageSize: 536870912 }]),
		).toThrow(err('MMU_PAGE_SIZE', 'EINVAL'));
	});

	it('covers the 57-bit VA (PDE4)', () => {
		const r = rig('v3');
		const o = contig(1, 0x4000_0000n, 64n * KiB);
		const va = (1n << 56n) + (3n << 47n) + 0x1234_5000n;
		r.apply([{ op: 'map', va, size: 64n * KiB, object: o }]);
		expect(r.vas.translate(va + 0x10n)).toMatchObject({ valid: true, address: 0x4000_0010n });
		expect(r.vas.translate(va - (1n << 56n))).toMatchObject({ valid: false });
		expect(r.vas.translate(1n << 57n)).toMatchObject({ valid: false, reason: 'out-of-range' });
	});
});

describe('VaSpace construction', () => {
	it('needs an allocator or platform, a valid limit; a root allocation failure is MMU_OUT_OF_MEMORY', () => {
		expect(() => new VaSpace({ format: 'v2' })).toThrow(err('MMU_INVALID_ARGUMENT', 'EINVAL'));
		const r = rig('v2');
		expect(() => new VaSpace({ format: 'v2', allocator: r.alloc, vaLimit: 1n << 50n })).toThrow(
			err('MMU_INVALID_ARGUMENT', 'EINVAL'),
		);
		r.alloc.arm(0);
		expect(() => new VaSpace({ format: 'v2', allocator: r.alloc })).toThrow(
			err('MMU_OUT_OF_MEMORY', 'ENOMEM'),
		);
		const v = new VaSpace({ format: 'v2', allocator: r.alloc, kernelManaged: { va: 0n, size: 1n << 32n } });
		expect(v.kernelManaged).toEqual({ va: 0n, size: 1n << 32n });
		expect(v.pdb.aperture).toBe('sysCoherent');
		expect(v.pdb.address % 4096n).toBe(0n);
	});
});
