/**
 * The TLB model: cached translations stay until the driver invalidates them through 0xB830A0/A4/B0, so a
 * missing or too narrow invalidate is observable.
 */

import { describe, expect, it } from 'vitest';
import { RegisterFile } from '../src/index.ts';
import { GpuMmu, type PageDirectoryBase, type TranslateResult } from '../src/mmu/index.ts';
import { type FakeMemory, space, TestPageTables, v2Dual, v2Pde, v2Pte, v2SparsePte } from './mmu-testkit.ts';

function pa(r: TranslateResult): bigint {
	if (!r.ok) throw new Error(`fault ${r.fault.reason}`);
	return r.pa;
}

/** nouveau's tu102_vmm_flush as a driver would issue it through BAR0. */
function flush(bar0: RegisterFile, pdb: PageDirectoryBase, type: number) {
	const sys = pdb.aperture === 'video' ? 0 : 2;
	bar0.write32(0xb830a0, (Number((pdb.address >> 12n) & 0xfff_ffffn) << 4) | sys);
	bar0.write32(0xb830a4, Number(pdb.address >> 40n));
	bar0.write32(0x100e68, 0);
	bar0.write32(0xb830b0, (0x8000_0000 | type) >>> 0);
	let polls = 0;
	while (bar0.read32(0xb830b0) & 0x8000_0000) {
		if (++polls > 100) throw new Error('invalidate never completed');
	}
	return polls;
}

function setup(mem?: FakeMemory) {
	const s = space('v2');
	const mmu = new GpuMmu({ format: 'v2', memory: mem ?? s.mem });
	const bar0 = new RegisterFile();
	for (const d of mmu.registers.devices) bar0.attach(d);
	return { ...s, mmu, bar0 };
}

describe('TLB staleness', () => {
	it('keeps the old translation until the driver invalidates', () => {
		const { mem, pt, pdb, mmu, bar0 } = setup();
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0xa000n });
		const first = mmu.translate(pdb, 0x1000n);
		expect([pa(first), first.tlbHit]).toEqual([0xa000n, false]);
		const readsAfterFill = mem.reads;

		pt.map(0x1000n, 12, { aperture: 'video', pa: 0xb000n }); // remap, no invalidate yet
		const stale = mmu.translate(pdb, 0x1004n);
		expect([pa(stale), stale.tlbHit]).toEqual([0xa004n, true]);
		expect(mem.reads).toBe(readsAfterFill); // a hit reads no table

		flush(bar0, pdb, 0x1); // ALL_VA
		const fresh = mmu.translate(pdb, 0x1004n);
		expect([pa(fresh), fresh.tlbHit]).toEqual([0xb004n, false]);
		expect(mmu.tlb.log.at(-1)).toMatchObject({ source: 'mmio', raw: 0x8000_0001, leavesDropped: 1 });
	});

	it('an unmapped page keeps translating until invalidated', () => {
		const { pt, pdb, mmu, bar0 } = setup();
		pt.map(0x2000n, 12, { aperture: 'sys-coherent', pa: 0x5000n });
		expect(pa(mmu.translate(pdb, 0x2000n))).toBe(0x5000n);
		pt.writePte(0x2000n, 'small', 0n);
		expect(mmu.translate(pdb, 0x2000n).ok).toBe(true);
		flush(bar0, pdb, 0x1);
		const r = mmu.translate(pdb, 0x2000n);
		expect(r.ok ? 'mapped' : r.fault.reason).toBe('invalid-pte');
	});

	it('caches sparse entries too, but never faults', () => {
		const { pt, pdb, mmu } = setup();
		pt.writePte(0x3000n, 'small', v2SparsePte());
		const sparse = mmu.translate(pdb, 0x3000n);
		expect(sparse.ok ? 'ok' : sparse.fault.reason).toBe('sparse');
		pt.map(0x3000n, 12, { aperture: 'video', pa: 0xc000n });
		const still = mmu.translate(pdb, 0x3000n);
		expect([still.ok ? 'ok' : still.fault.reason, still.tlbHit]).toEqual(['sparse', true]);

		// An invalid entry is not cached: mapping it takes effect without an invalidate.
		const miss = mmu.translate(pdb, 0x4000n);
		expect(miss.ok).toBe(false);
		pt.map(0x4000n, 12, { aperture: 'video', pa: 0xd000n });
		expect(pa(mmu.translate(pdb, 0x4000n))).toBe(0xd000n);
	});

	it('checks permissions on every access, cached or not', () => {
		const { pt, pdb, mmu } = setup();
		pt.map(0x5000n, 12, { aperture: 'video', pa: 0xe000n, readOnly: true });
		expect(mmu.translate(pdb, 0x5000n, 'read').ok).toBe(true);
		const w = mmu.translate(pdb, 0x5000n, 'write');
		expect([w.ok ? 'ok' : w.fault.reason, w.tlbHit]).toEqual(['read-only', true]);
	});

	it('one huge-page entry covers the whole page', () => {
		const { pt, pdb, mmu } = setup();
		pt.map(0x20_0000n, 21, { aperture: 'video', pa: 0x60_0000n });
		expect(mmu.translate(pdb, 0x20_0000n).tlbHit).toBe(false);
		const r = mmu.translate(pdb, 0x3f_f000n);
		expect([pa(r), r.tlbHit]).toEqual([0x7f_f000n, true]);
		expect(mmu.tlb.cachedLeaves()).toBe(1);
	});

	it('with the TLB disabled every change is visible at once', () => {
		const s = space('v2');
		const mmu = new GpuMmu({ format: 'v2', memory: s.mem, tlb: { enabled: false } });
		s.pt.map(0x1000n, 12, { aperture: 'video', pa: 0xa000n });
		expect(pa(mmu.translate(s.pdb, 0x1000n))).toBe(0xa000n);
		s.pt.map(0x1000n, 12, { aperture: 'video', pa: 0xb000n });
		expect(pa(mmu.translate(s.pdb, 0x1000n))).toBe(0xb000n);
		expect(mmu.tlb.cachedLeaves()).toBe(0);
	});
});

describe('invalidate scope', () => {
	it('a PDB-targeted invalidate leaves other address spaces stale; ALL_PDB reaches them', () => {
		const { mem, pt, pdb, mmu, bar0 } = setup();
		// A second address space in the same memory, tables elsewhere.
		const other = new TestPageTables('v2', mem, 'video', 0x80_0000n);
		const pdb2 = { aperture: other.root.aperture, address: other.root.address };
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1_0000n });
		other.map(0x1000n, 12, { aperture: 'video', pa: 0x2_0000n });
		expect(pa(mmu.translate(pdb, 0x1000n))).toBe(0x1_0000n);
		expect(pa(mmu.translate(pdb2, 0x1000n))).toBe(0x2_0000n);
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x3_0000n });
		other.map(0x1000n, 12, { aperture: 'video', pa: 0x4_0000n });

		flush(bar0, pdb, 0x1); // only pdb
		expect(pa(mmu.translate(pdb, 0x1000n))).toBe(0x3_0000n);
		expect(pa(mmu.translate(pdb2, 0x1000n))).toBe(0x2_0000n);

		flush(bar0, { aperture: 'video', address: 0x5000n }, 0x3); // ALL_PDB: the named PDB does not matter
		expect(pa(mmu.translate(pdb2, 0x1000n))).toBe(0x4_0000n);
	});

	it('ALL_VA clear drops nothing (there is no VA register) and is recorded', () => {
		const { pt, pdb, mmu, bar0 } = setup();
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1_0000n });
		mmu.translate(pdb, 0x1000n);
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x2_0000n });
		flush(bar0, pdb, 0x0);
		expect(pa(mmu.translate(pdb, 0x1000n))).toBe(0x1_0000n);
		expect(mmu.tlb.log.at(-1)).toMatchObject({ ignored: 'targeted-va', leavesDropped: 0 });
	});

	it('CACHE_LEVEL: PTE_ONLY keeps PDE caches, UP_TO_PDEn drops PDE0..PDEn', () => {
		const { mem, pt, pdb, mmu, bar0 } = setup();
		const va = 0x1000n;
		pt.map(va, 12, { aperture: 'video', pa: 0x1_0000n });
		expect(pa(mmu.translate(pdb, va))).toBe(0x1_0000n);

		// Build a second subtree below PDE1 (a new PDE0 table and page table) and repoint PDE1 at it.
		const pde0Table = 0x90_0000n;
		const spt = 0x91_0000n;
		mem.write128('video', pde0Table, v2Dual(undefined, { aperture: 'video', address: spt }));
		mem.write64('video', spt + 8n, v2Pte({ aperture: 'video', pa: 0x7_0000n }));
		const pd1Entry = pt.entryAddress(va, 2);
		mem.write64('video', pd1Entry.address, v2Pde({ aperture: 'video', address: pde0Table }));

		flush(bar0, pdb, 0x1 | (1 << 24)); // PTE_ONLY: the cached PDE1 still points at the old PDE0 table
		expect(pa(mmu.translate(pdb, va))).toBe(0x1_0000n);
		flush(bar0, pdb, 0x1 | (2 << 24)); // UP_TO_PDE0: PDE1's cache survives
		expect(pa(mmu.translate(pdb, va))).toBe(0x1_0000n);
		flush(bar0, pdb, 0x1 | (3 << 24)); // UP_TO_PDE1
		expect(pa(mmu.translate(pdb, va))).toBe(0x7_0000n);
		expect(mmu.tlb.log.map((l) => l.scope.cacheLevel)).toEqual([1, 2, 3]);
	});

	it('the API invalidate works like the register one and validates CACHE_LEVEL', () => {
		const { pt, pdb, mmu } = setup();
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1_0000n });
		mmu.translate(pdb, 0x1000n);
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x2_0000n });
		const rec = mmu.invalidate({ pdb: { aperture: 'video', address: pdb.address } });
		expect(rec).toMatchObject({ source: 'api', leavesDropped: 1 });
		expect(pa(mmu.translate(pdb, 0x1000n))).toBe(0x2_0000n);
		expect(() => mmu.invalidate({ cacheLevel: 8 })).toThrow(/CACHE_LEVEL/);
		expect(mmu.tlb.stats).toMatchObject({ invalidates: 1 });
	});

	it('a system-memory PDB is named with APERTURE=1 and matches both system apertures', () => {
		for (const aperture of ['sys-coherent', 'sys-noncoherent'] as const) {
			const s = space('v2', aperture);
			const mmu = new GpuMmu({ format: 'v2', memory: s.mem });
			const bar0 = new RegisterFile();
			for (const d of mmu.registers.devices) bar0.attach(d);
			s.pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1_0000n });
			mmu.translate(s.pdb, 0x1000n);
			s.pt.map(0x1000n, 12, { aperture: 'video', pa: 0x2_0000n });
			flush(bar0, { aperture: 'video', address: s.pdb.address }, 0x1); // wrong aperture: no effect
			expect(pa(mmu.translate(s.pdb, 0x1000n))).toBe(0x1_0000n);
			flush(bar0, s.pdb, 0x1);
			expect(pa(mmu.translate(s.pdb, 0x1000n))).toBe(0x2_0000n);
		}
	});
});

describe('invalidate registers', () => {
	it('decode a PDB above 2^44 from PDB (ADDR 31:4) and UPPER_PDB (19:0)', () => {
		const { mmu, bar0 } = setup();
		const address = 0x1_2345_6789_a000n;
		bar0.write32(0xb830a0, (Number((address >> 12n) & 0xfff_ffffn) << 4) | 2);
		bar0.write32(0xb830a4, Number(address >> 40n));
		expect(mmu.registers.pdb).toEqual({ aperture: 'system', address });
		expect(bar0.read32(0xb830a0)).toBe(((Number((address >> 12n) & 0xfff_ffffn) << 4) | 2) >>> 0);
		expect(bar0.read32(0xb830a4)).toBe(Number(address >> 40n));
	});

	it('TRIGGER reads back set for busyReads polls, then clears; the other bits read back', () => {
		const { mmu, bar0, pdb } = setup();
		mmu.registers.busyReads = 3;
		expect(flush(bar0, pdb, 0x43)).toBe(3);
		expect(bar0.read32(0xb830b0)).toBe(0x43);
		expect(mmu.registers.busy).toBe(false);
		mmu.registers.busyReads = Number.POSITIVE_INFINITY; // a hung invalidate
		expect(() => flush(bar0, pdb, 0x1)).toThrow(/never completed/);
		expect(mmu.registers.busy).toBe(true);
	});

	it('writing INVALIDATE without TRIGGER does nothing', () => {
		const { pt, pdb, mmu, bar0 } = setup();
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1_0000n });
		mmu.translate(pdb, 0x1000n);
		bar0.write32(0xb830b0, 0x1);
		expect(mmu.tlb.log).toHaveLength(0);
		expect(mmu.tlb.cachedLeaves()).toBe(1);
	});

	it('0x100E68 is a plain latch; HUBTLB_ONLY and the raw value are recorded', () => {
		const { mmu, bar0, pdb } = setup();
		bar0.write32(0x100e68, 0xdead_beef);
		expect(bar0.read32(0x100e68)).toBe(0xdead_beef);
		flush(bar0, pdb, 0x5);
		expect(mmu.tlb.log.at(-1)?.scope).toMatchObject({ allVa: true, hubOnly: true, cacheLevel: 0 });
		expect(mmu.registers.devices.map((d) => [d.name, d.range.start, d.range.end])).toEqual([
			['mmu-invalidate-pdb', 0xb830a0, 0xb830a8],
			['mmu-invalidate', 0xb830b0, 0xb830b4],
			['pfb-100e68', 0x100e68, 0x100e6c],
		]);
	});
});

describe('TLB capacity and counters', () => {
	it('evicts the oldest entry beyond capacity', () => {
		const s = space('v2');
		const mmu = new GpuMmu({ format: 'v2', memory: s.mem, tlb: { capacity: 2 } });
		for (const v of [0x1000n, 0x2000n, 0x3000n]) s.pt.map(v, 12, { aperture: 'video', pa: v * 16n });
		for (const v of [0x1000n, 0x2000n, 0x3000n]) mmu.translate(s.pdb, v);
		expect(mmu.tlb.cachedLeaves()).toBe(2);
		expect(mmu.translate(s.pdb, 0x1000n).tlbHit).toBe(false);
		expect(mmu.translate(s.pdb, 0x3000n).tlbHit).toBe(true);
		expect(mmu.tlb.stats).toEqual({ hits: 1, misses: 4, invalidates: 0 });
		expect(() => new GpuMmu({ format: 'v2', memory: s.mem, tlb: { capacity: 0 } })).toThrow(/capacity/);
	});
});
