/**
 * MMU v2 (Turing, Ampere, Ada): page tables built by hand from the NV_MMU_VER2_* bit layouts, translated by
 * the simulator's walker.
 */

import { describe, expect, it } from 'vitest';
import { FAULT_TYPE, GpuMmu, mmuOptionsForArchitecture, type TranslateResult } from '../src/mmu/index.ts';
import {
	FakeMemory,
	SHIFT,
	set,
	space,
	TestPageTables,
	UnbackedError,
	V,
	v2Dual,
	v2Pte,
	v2SparsePde,
	v2SparsePte,
	v2UnmappedBigPte,
} from './mmu-testkit.ts';

const GiB = 1n << 30n;

function mmuFor(mem: FakeMemory, extra: { hugePages512M?: boolean; tlb?: boolean } = {}) {
	return new GpuMmu({
		format: 'v2',
		memory: mem,
		...(extra.hugePages512M === undefined ? {} : { hugePages512M: extra.hugePages512M }),
		tlb: { enabled: extra.tlb ?? false },
	});
}

function expectOk(r: TranslateResult) {
	if (!r.ok) throw new Error(`expected a translation, got fault ${r.fault.reason} at ${r.fault.level}`);
	return r;
}

function expectFault(r: TranslateResult, reason: string, level: string, type: keyof typeof FAULT_TYPE) {
	if (r.ok) throw new Error(`expected fault ${reason}, got pa ${r.pa.toString(16)}`);
	expect(r.fault.reason).toBe(reason);
	expect(r.fault.level).toBe(level);
	expect(r.fault.faultTypeName).toBe(type);
	expect(r.fault.faultType).toBe(FAULT_TYPE[type]);
	return r.fault;
}

describe('MMU v2: 4 KiB pages and every aperture', () => {
	it('translates a 4 KiB video page with the offset kept', () => {
		const { mem, pt, pdb } = space('v2');
		const va = 0x1_2345_6000n;
		pt.map(va, SHIFT['4K'], { aperture: 'video', pa: 0x7_1234_5000n });
		const mmu = mmuFor(mem);
		for (const off of [0n, 1n, 0x7ffn, 0xfffn]) {
			const r = expectOk(mmu.translate(pdb, va + off));
			expect(r.pa).toBe(0x7_1234_5000n + off);
			expect(r.pageBase).toBe(0x7_1234_5000n);
			expect(r.pageSize).toBe(4096);
			expect(r.aperture).toBe('video');
			expect(r.level).toBe('PTE');
			expect(r.table).toBe('small');
			expect(r.kind).toBe(V('PTE_KIND_GENERIC_MEMORY'));
			expect([r.readOnly, r.volatile, r.privileged, r.atomicDisabled]).toEqual([false, false, false, false]);
			expect(r.peerId).toBeUndefined();
		}
		// The neighbouring pages are not mapped.
		expectFault(mmu.translate(pdb, va + 0x1000n), 'invalid-pte', 'PTE', 'PTE');
		expectFault(mmu.translate(pdb, va - 1n), 'invalid-pte', 'PTE', 'PTE');
	});

	it('maps system memory (coherent and not) with addresses above the video field', () => {
		const { mem, pt, pdb } = space('v2');
		const big = (1n << 52n) + 0xabc_d000n; // needs ADDRESS_SYS up to bit 53
		pt.map(0x4000_0000n, 12, { aperture: 'sys-coherent', pa: big });
		pt.map(0x4000_1000n, 12, { aperture: 'sys-noncoherent', pa: 0x1_0000_0000n, volatile: true });
		const mmu = mmuFor(mem);
		const a = expectOk(mmu.translate(pdb, 0x4000_0123n));
		expect([a.aperture, a.pa]).toEqual(['sys-coherent', big + 0x123n]);
		const b = expectOk(mmu.translate(pdb, 0x4000_1fffn));
		expect([b.aperture, b.pa, b.volatile]).toEqual(['sys-noncoherent', 0x1_0000_0fffn, true]);
	});

	it('maps peer memory with the peer id from ADDRESS_VID_PEER', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x8000_0000n, 12, { aperture: 'peer', pa: 0x1f_ffff_f000n, peerId: 5 });
		const r = expectOk(mmuFor(mem).translate(pdb, 0x8000_0008n));
		expect([r.aperture, r.peerId, r.pa]).toEqual(['peer', 5, 0x1f_ffff_f008n]);
	});

	it('reads only ADDRESS_VID (32:8) for a video page: higher bits are not address bits', () => {
		const { mem, pt, pdb } = space('v2');
		// Write the sys-width address field with a video aperture: bit 33 (a peer bit) set, VID field = 1.
		let pte = v2Pte({ aperture: 'video', pa: 0n });
		pte = set(pte, 'VER2_PTE_ADDRESS_SYS', ((1n << 37n) + 0x1000n) >> 12n);
		pt.writePte(0x10_0000n, 'small', pte);
		const r = expectOk(mmuFor(mem).translate(pdb, 0x10_0000n));
		expect(r.pa).toBe(0x1000n);
	});

	it('page tables themselves may live in each aperture', () => {
		for (const where of ['video', 'sys-coherent', 'sys-noncoherent'] as const) {
			const { mem, pt, pdb } = space('v2', where);
			pt.map(0x20_0000n, 12, { aperture: 'video', pa: 0x3000n });
			pt.map(0x40_0000n, 16, { aperture: 'video', pa: 0x30000n });
			const mmu = mmuFor(mem);
			expect(expectOk(mmu.translate(pdb, 0x20_0004n)).pa, where).toBe(0x3004n);
			expect(expectOk(mmu.translate(pdb, 0x40_fffcn)).pa, where).toBe(0x3fffcn);
			// The walk read the tables from that aperture and nowhere else.
			const steps = mmu.walk(pdb, 0x20_0004n).steps;
			expect(steps.map((s) => s.aperture)).toEqual([where, where, where, where, where]);
		}
	});

	it('indexes every level with the right VA bits', () => {
		const { mem, pt, pdb } = space('v2');
		// PDE3 idx 3 (48:47), PDE2 0x155 (46:38), PDE1 0xaa (37:29), PDE0 0x5a (28:21), SPT 0x1f3 (20:12).
		const va = (3n << 47n) | (0x155n << 38n) | (0xaan << 29n) | (0x5an << 21n) | (0x1f3n << 12n) | 0x9n;
		pt.map(va, 12, { aperture: 'video', pa: 0x4444_0000n });
		const mmu = mmuFor(mem);
		expect(expectOk(mmu.translate(pdb, va)).pa).toBe(0x4444_0009n);
		const { steps } = mmu.walk(pdb, va);
		expect(steps.map((s) => s.level)).toEqual(['PDE3', 'PDE2', 'PDE1', 'PDE0', 'PTE']);
		expect(steps[0]?.address).toBe(pt.root.address + 3n * 8n);
		expect(steps[1]?.address).toBe(pt.entryAddress(va, 1).address);
		expect((steps[1]?.address ?? 0n) % 4096n).toBe(0x155n * 8n);
		expect((steps[2]?.address ?? 0n) % 4096n).toBe(0xaan * 8n);
		expect((steps[3]?.address ?? 0n) % 4096n).toBe(0x5an * 16n);
		expect((steps[4]?.address ?? 0n) % 4096n).toBe(0x1f3n * 8n);
		// Flipping any one index bit lands on an unmapped entry.
		for (const bit of [47n, 48n, 38n, 46n, 29n, 37n, 21n, 28n, 12n, 20n]) {
			expect(mmu.translate(pdb, va ^ (1n << bit)).ok, `bit ${bit}`).toBe(false);
		}
	});
});

describe('MMU v2: big and huge pages', () => {
	it('translates a 64 KiB page from the big-page table', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1_0001_0000n, 16, { aperture: 'video', pa: 0x5_0000n });
		const r = expectOk(mmuFor(mem).translate(pdb, 0x1_0001_fff8n));
		expect([r.pa, r.pageSize, r.table, r.level]).toEqual([0x5_fff8n, 65536, 'big', 'PTE']);
		// The big table index is VA 20:16: the next 64 KiB is another entry.
		expectFault(mmuFor(mem).translate(pdb, 0x1_0002_0000n), 'invalid-pte', 'PTE', 'PTE');
	});

	it('translates a 2 MiB page from a PTE in PDE0', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x60_0000n, 21, { aperture: 'sys-coherent', pa: 0x1_0020_0000n, readOnly: true });
		const r = expectOk(mmuFor(mem).translate(pdb, 0x7f_fff0n));
		expect([r.pa, r.pageSize, r.level, r.readOnly]).toEqual([0x1_003f_fff0n, 2 * 1024 * 1024, 'PDE0', true]);
		expect(r.table).toBeUndefined();
	});

	it('a PTE in PDE1 is a 512 MiB page on Ampere and later, a fault on Turing', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(GiB, 29, { aperture: 'video', pa: 2n * GiB });
		const ampere = new GpuMmu({
			...mmuOptionsForArchitecture('ampere'),
			memory: mem,
			tlb: { enabled: false },
		});
		const r = expectOk(ampere.translate(pdb, GiB + 0x1234_5678n));
		expect([r.pa, r.pageSize, r.level]).toEqual([2n * GiB + 0x1234_5678n, 512 * 1024 * 1024, 'PDE1']);
		const turing = new GpuMmu({ ...mmuOptionsForArchitecture('turing'), memory: mem });
		expectFault(turing.translate(pdb, GiB), 'unsupported-page-size', 'PDE1', 'PDE_SIZE');
	});

	it('IS_PTE in PDE3 or PDE2 is never a page', () => {
		const { mem, pt, pdb } = space('v2');
		pt.writeDirEntry(0n, 0, v2Pte({ aperture: 'video', pa: 0n }));
		pt.writeDirEntry(1n << 47n, 1, v2Pte({ aperture: 'video', pa: 0n }));
		const mmu = mmuFor(mem, { hugePages512M: true });
		expectFault(mmu.translate(pdb, 0x1000n), 'unsupported-page-size', 'PDE3', 'PDE_SIZE');
		expectFault(mmu.translate(pdb, (1n << 47n) + 0x1000n), 'unsupported-page-size', 'PDE2', 'PDE_SIZE');
	});

	it('a page address not aligned to the page size faults (simulator strictness)', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1_0000n, 16, { aperture: 'video', pa: 0x1_1000n });
		pt.map(0x40_0000n, 21, { aperture: 'video', pa: 0x10_0000n });
		const mmu = mmuFor(mem);
		const f = expectFault(mmu.translate(pdb, 0x1_0000n), 'unaligned-page', 'PTE', 'PTE');
		expect(f.table).toBe('big');
		expectFault(mmu.translate(pdb, 0x40_0000n), 'unaligned-page', 'PDE0', 'PTE');
	});
});

describe('MMU v2: the dual PDE0 (big table low quad-word, small table high)', () => {
	function both() {
		const s = space('v2');
		const va = 0x3_0000n; // inside the big page 0x30000..0x3ffff
		s.pt.writePte(va, 'small', v2Pte({ aperture: 'video', pa: 0xa000n }));
		return { ...s, va };
	}

	it('a valid big PTE wins over valid small PTEs below it', () => {
		const { mem, pt, pdb, va } = both();
		pt.writePte(va, 'big', v2Pte({ aperture: 'video', pa: 0xb_0000n }));
		const r = expectOk(mmuFor(mem).translate(pdb, va + 0x10n));
		expect([r.pa, r.table, r.pageSize]).toEqual([0xb_0010n, 'big', 65536]);
	});

	it('an all-zero big PTE hands the lookup to the small PTE', () => {
		const { mem, pt, pdb, va } = both();
		pt.writePte(va, 'big', 0n);
		const r = expectOk(mmuFor(mem).translate(pdb, va + 0x10n));
		expect([r.pa, r.table, r.pageSize]).toEqual([0xa010n, 'small', 4096]);
	});

	it('VALID=0 + PRIVILEGE=1 in the big PTE blocks the small PTEs', () => {
		const { mem, pt, pdb, va } = both();
		const at = pt.writePte(va, 'big', v2UnmappedBigPte());
		const f = expectFault(mmuFor(mem).translate(pdb, va), 'invalid-pte', 'PTE', 'PTE');
		expect(f.table).toBe('big');
		expect(f.entry?.address).toBe(at.address);
		expect(f.entry?.value).toBe(v2UnmappedBigPte());
	});

	it('VALID=0 + VOL=1 in the big PTE is sparse, whatever the small PTEs say', () => {
		const { mem, pt, pdb, va } = both();
		pt.writePte(va, 'big', v2SparsePte());
		const f = expectFault(mmuFor(mem).translate(pdb, va, 'write'), 'sparse', 'PTE', 'PTE');
		expect(f.table).toBe('big');
		// VOL is checked before PRIVILEGE.
		pt.writePte(va, 'big', v2SparsePte() | v2UnmappedBigPte());
		expectFault(mmuFor(mem).translate(pdb, va), 'sparse', 'PTE', 'PTE');
	});

	it('small-only PDE0: invalid and sparse small PTEs', () => {
		const { mem, pt, pdb } = space('v2');
		pt.writePte(0x5000n, 'small', v2SparsePte());
		pt.writePte(0x6000n, 'small', v2UnmappedBigPte()); // PRIVILEGE without VALID means nothing in the small table
		const mmu = mmuFor(mem);
		expect(expectFault(mmu.translate(pdb, 0x5000n), 'sparse', 'PTE', 'PTE').table).toBe('small');
		expect(expectFault(mmu.translate(pdb, 0x6000n), 'invalid-pte', 'PTE', 'PTE').table).toBe('small');
		expect(expectFault(mmu.translate(pdb, 0x7000n), 'invalid-pte', 'PTE', 'PTE').table).toBe('small');
	});

	it('big-only PDE0 with an empty big PTE faults in the big table', () => {
		const { mem, pt, pdb } = space('v2');
		pt.writePte(0x10000n, 'big', v2Pte({ aperture: 'video', pa: 0x20000n }));
		const f = expectFault(mmuFor(mem).translate(pdb, 0x20000n), 'invalid-pte', 'PTE', 'PTE');
		expect(f.table).toBe('big');
	});

	it('PDE0 with both apertures INVALID: VOL_BIG makes 2 MiB sparse, otherwise invalid', () => {
		const { mem, pt, pdb } = space('v2');
		pt.writeDirEntry(0x20_0000n, 3, set(0n, 'VER2_DUAL_PDE_VOL_BIG', 1));
		pt.writeDirEntry(0x40_0000n, 3, v2Dual(undefined, undefined));
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, 0x3f_fff8n), 'sparse', 'PDE0', 'PDE');
		expectFault(mmu.translate(pdb, 0x40_0000n), 'invalid-pde', 'PDE0', 'PDE');
	});

	it('the small table address comes from the high quad-word (bits 117:72)', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0xc000n });
		const pde0 = mmuFor(mem).walk(pdb, 0x1000n).steps[3]?.value ?? 0n;
		expect(pde0 >> 64n).not.toBe(0n);
		expect(pde0 & ((1n << 64n) - 1n)).toBe(0n); // no big table
		// Moving the same pointer into the low quad-word (as if it were the big table) breaks the translation.
		pt.writeDirEntry(0x1000n, 3, pde0 >> 64n);
		expect(mmuFor(mem).translate(pdb, 0x1000n).ok).toBe(false);
	});
});

describe('MMU v2: permissions', () => {
	function mapped(p: { readOnly?: boolean; privileged?: boolean; atomicDisabled?: boolean }) {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x2000n, ...p });
		return { mmu: mmuFor(mem), pdb };
	}

	it('read-only pages fault writes and atomics with RO_VIOLATION', () => {
		const { mmu, pdb } = mapped({ readOnly: true });
		expect(expectOk(mmu.translate(pdb, 0x1000n, 'read')).readOnly).toBe(true);
		const w = expectFault(mmu.translate(pdb, 0x1000n, 'write'), 'read-only', 'PTE', 'RO_VIOLATION');
		expect([w.access, w.accessType, w.va]).toEqual(['write', 1, 0x1000n]);
		expectFault(mmu.translate(pdb, 0x1000n, 'atomic'), 'read-only', 'PTE', 'RO_VIOLATION');
	});

	it('privileged pages need a privileged client', () => {
		const { mmu, pdb } = mapped({ privileged: true });
		expectFault(mmu.translate(pdb, 0x1000n), 'privilege', 'PTE', 'PRIV_VIOLATION');
		expect(expectOk(mmu.translate(pdb, 0x1000n, 'write', { privileged: true })).privileged).toBe(true);
	});

	it('atomic-disabled pages fault atomics only', () => {
		const { mmu, pdb } = mapped({ atomicDisabled: true });
		expect(expectOk(mmu.translate(pdb, 0x1000n, 'write')).atomicDisabled).toBe(true);
		const f = expectFault(mmu.translate(pdb, 0x1000n, 'atomic'), 'atomic', 'PTE', 'ATOMIC_VIOLATION');
		expect(f.accessType).toBe(2);
	});

	it('reports KIND and ENCRYPTED, and faults KIND_INVALID', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x2000n, kind: V('PTE_KIND_PITCH') });
		pt.writePte(0x2000n, 'small', set(v2Pte({ aperture: 'video', pa: 0x3000n }), 'VER2_PTE_ENCRYPTED', 1));
		pt.map(0x3000n, 12, { aperture: 'video', pa: 0x4000n, kind: V('PTE_KIND_INVALID') });
		const mmu = mmuFor(mem);
		expect(expectOk(mmu.translate(pdb, 0x1000n)).kind).toBe(0);
		expect(expectOk(mmu.translate(pdb, 0x2000n)).encrypted).toBe(true);
		expectFault(mmu.translate(pdb, 0x3000n), 'unsupported-kind', 'PTE', 'UNSUPPORTED_KIND');
	});
});

describe('MMU v2: directory faults', () => {
	it('an empty root faults at PDE3; missing lower tables fault at their level', () => {
		const { mem, pt, pdb } = space('v2');
		const mmu = mmuFor(mem);
		const f = expectFault(mmu.translate(pdb, 0x1234n), 'invalid-pde', 'PDE3', 'PDE');
		expect(f.entry).toEqual({ aperture: 'video', address: pt.root.address, value: 0n });
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0n });
		expectFault(mmu.translate(pdb, 1n << 38n), 'invalid-pde', 'PDE2', 'PDE');
		expectFault(mmu.translate(pdb, 1n << 29n), 'invalid-pde', 'PDE1', 'PDE');
		expectFault(mmu.translate(pdb, 1n << 21n), 'invalid-pde', 'PDE0', 'PDE');
	});

	it('sparse PDEs (APERTURE=INVALID, VOL=1) make a whole directory span sparse', () => {
		const { mem, pt, pdb } = space('v2');
		pt.writeDirEntry(1n << 47n, 0, v2SparsePde());
		pt.writeDirEntry(2n << 38n, 1, v2SparsePde());
		pt.writeDirEntry(3n << 29n, 2, v2SparsePde());
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, (1n << 47n) + 0x1234n), 'sparse', 'PDE3', 'PDE');
		expectFault(mmu.translate(pdb, (2n << 38n) + 0x1234n), 'sparse', 'PDE2', 'PDE');
		expectFault(mmu.translate(pdb, (3n << 29n) + 0x1234n, 'write'), 'sparse', 'PDE1', 'PDE');
	});

	it('checks the VA width, the PDB aperture, alignment, format and big page size', () => {
		const { mem, pdb } = space('v2');
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, 1n << 49n), 'va-out-of-range', 'PDB', 'VA_LIMIT_VIOLATION');
		expectFault(mmu.translate(pdb, -1n), 'va-out-of-range', 'PDB', 'VA_LIMIT_VIOLATION');
		expectFault(mmu.translate(pdb, (1n << 49n) - 1n), 'invalid-pde', 'PDE3', 'PDE');
		expectFault(
			mmu.translate({ aperture: 'invalid', address: 0n }, 0n),
			'bad-aperture',
			'PDB',
			'UNSUPPORTED_APERTURE',
		);
		expectFault(mmu.translate({ aperture: 'video', address: 0x1800n }, 0n), 'unaligned-table', 'PDB', 'PDE');
		expectFault(mmu.translate({ ...pdb, useVer2PtFormat: false }, 0n), 'unsupported-format', 'PDB', 'PDE');
		expectFault(
			mmu.translate({ ...pdb, bigPageSize: 131072 }, 0n),
			'unsupported-page-size',
			'PDB',
			'PDE_SIZE',
		);
	});

	it('turns a memory fault while reading a table into unreadable-table, and lets real bugs propagate', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0n });
		const pd1 = pt.entryAddress(0x1000n, 2);
		mem.unback('video', pd1.address - (pd1.address % 4096n), pd1.address + 4096n);
		const f = expectFault(mmuFor(mem).translate(pdb, 0x1000n), 'unreadable-table', 'PDE1', 'PDE');
		expect(f.cause).toBeInstanceOf(UnbackedError);

		const broken = new GpuMmu({
			format: 'v2',
			memory: {
				readU64() {
					throw new TypeError('bug');
				},
			},
		});
		expect(() => broken.translate(pdb, 0n)).toThrow(TypeError);
	});

	it('rejects arguments that are not addresses or accesses', () => {
		const { mem, pdb } = space('v2');
		const mmu = mmuFor(mem);
		expect(() => mmu.translate(pdb, 5 as unknown as bigint)).toThrow(/bigint/);
		expect(() => mmu.translate(pdb, 0n, 'exec' as never)).toThrow(/access/);
		expect(() => new GpuMmu({ format: 'v9' as never, memory: mem })).toThrow(/format/);
	});
});

describe('MMU v2: ranges', () => {
	it('splits a range at page boundaries and merges physically contiguous pages', () => {
		const { mem, pt, pdb } = space('v2');
		// 0x0000..0x2000: two 4 KiB pages, physically contiguous; 0x2000: elsewhere; 0x3000: sparse.
		pt.map(0x0000n, 12, { aperture: 'video', pa: 0x10_0000n });
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x10_1000n });
		pt.map(0x2000n, 12, { aperture: 'sys-coherent', pa: 0x9000n });
		pt.writePte(0x3000n, 'small', v2SparsePte());
		pt.writePte(0x4000n, 'small', v2SparsePte());
		const mmu = mmuFor(mem);
		const r = mmu.translateRange(pdb, 0x800n, 0x4000, 'read');
		expect(r.ok).toBe(true);
		expect(r.segments).toEqual([
			{ sparse: false, va: 0x800n, length: 0x1800, aperture: 'video', pa: 0x10_0800n },
			{ sparse: false, va: 0x2000n, length: 0x1000, aperture: 'sys-coherent', pa: 0x9000n },
			{ sparse: true, va: 0x3000n, length: 0x1800 },
		]);
		const bad = mmu.translateRange(pdb, 0x4800n, 0x1000, 'write');
		expect(bad.ok).toBe(false);
		if (!bad.ok) {
			expect(bad.fault.va).toBe(0x5000n);
			expect(bad.fault.reason).toBe('invalid-pte');
			expect(bad.segments).toEqual([{ sparse: true, va: 0x4800n, length: 0x800 }]);
		}
		expect(mmu.translateRange(pdb, 0n, 0).segments).toEqual([]);
		expect(() => mmu.translateRange(pdb, 0n, -1)).toThrow(/length/);
	});

	it('covers huge pages in one segment', () => {
		const { mem, pt, pdb } = space('v2');
		pt.map(0x20_0000n, 21, { aperture: 'video', pa: 0x40_0000n });
		const r = mmuFor(mem).translateRange(pdb, 0x20_1000n, 0x10_0000);
		expect(r.segments).toEqual([
			{ sparse: false, va: 0x20_1000n, length: 0x10_0000, aperture: 'video', pa: 0x40_1000n },
		]);
	});
});

describe('MMU v2: the walker is not fooled by a v3-style encoding', () => {
	it('a PTE with the address in place (v3 style) translates elsewhere', () => {
		const { mem, pt, pdb } = space('v2');
		const pa = 0x12_3456_7000n;
		// v3 keeps the address in place (51:12); v2 stores pa >> 4 (53:8). Writing pa in place is a builder bug.
		pt.writePte(
			0x1000n,
			'small',
			set(v2Pte({ aperture: 'sys-coherent', pa: 0n }), 'VER2_PTE_ADDRESS_SYS', pa >> 8n),
		);
		const r = expectOk(mmuFor(mem).translate(pdb, 0x1000n));
		expect(r.pa).not.toBe(pa);
		expect(r.pa).toBe(pa << 4n);
	});

	it('a table pointer with the PTE aperture enum lands in the wrong aperture', () => {
		const mem = new FakeMemory();
		const pt = new TestPageTables('v2', mem, 'sys-coherent');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x5000n });
		// Rewrite the root PDE with APERTURE = 0 (the PTE enum's VIDEO_MEMORY): for a PDE that is INVALID, and
		// with the VOL bit that host-memory PDEs carry, INVALID + VOL reads as a sparse PDE: silent zeros.
		const root = mem.read64('sys-coherent', pt.root.address);
		mem.write64('sys-coherent', pt.root.address, set(root, 'VER2_PDE_APERTURE', 0));
		const mmu = mmuFor(mem);
		const pdb = { aperture: 'sys-coherent', address: pt.root.address } as const;
		expectFault(mmu.translate(pdb, 0x1000n), 'sparse', 'PDE3', 'PDE');
		mem.write64('sys-coherent', pt.root.address, set(set(root, 'VER2_PDE_APERTURE', 0), 'VER2_PDE_VOL', 0));
		expectFault(mmu.translate(pdb, 0x1000n), 'invalid-pde', 'PDE3', 'PDE');
	});
});

describe('mmuOptionsForArchitecture', () => {
	it('picks the format and 512 MiB support per generation', () => {
		expect(mmuOptionsForArchitecture('turing')).toEqual({ format: 'v2', hugePages512M: false });
		expect(mmuOptionsForArchitecture('ampere')).toEqual({ format: 'v2', hugePages512M: true });
		expect(mmuOptionsForArchitecture('ada')).toEqual({ format: 'v2', hugePages512M: true });
		expect(mmuOptionsForArchitecture('hopper')).toEqual({ format: 'v3', hugePages512M: true });
		expect(mmuOptionsForArchitecture('blackwell')).toEqual({ format: 'v3', hugePages512M: true });
		expect(new GpuMmu({ format: 'v2', memory: new FakeMemory() }).hugePages512M).toBe(false);
		expect(new GpuMmu({ format: 'v3', memory: new FakeMemory() }).hugePages512M).toBe(true);
	});
});
