/**
 * MMU v3 (Hopper): 57-bit VA, PDE4..PDE0, PCF encodings, built by hand from the NV_MMU_VER3_* layouts.
 */

import { describe, expect, it } from 'vitest';
import { FAULT_TYPE, GpuMmu, type TranslateResult } from '../src/mmu/index.ts';
import {
	type FakeMemory,
	HAND_MMU,
	HEADERS,
	set,
	space,
	V,
	v3Dual,
	v3InvalidPte,
	v3Pte,
	v3SparsePde,
} from './mmu-testkit.ts';

function mmuFor(mem: FakeMemory) {
	return new GpuMmu({ format: 'v3', memory: mem, tlb: { enabled: false } });
}

function expectOk(r: TranslateResult) {
	if (!r.ok) throw new Error(`expected a translation, got fault ${r.fault.reason} at ${r.fault.level}`);
	return r;
}

function expectFault(r: TranslateResult, reason: string, level: string, type: keyof typeof FAULT_TYPE) {
	if (r.ok) throw new Error(`expected fault ${reason}, got pa ${r.pa.toString(16)}`);
	expect([r.fault.reason, r.fault.level, r.fault.faultTypeName]).toEqual([reason, level, type]);
	expect(r.fault.faultType).toBe(FAULT_TYPE[type]);
	return r.fault;
}

/** The 32 valid PTE PCF names: from gh100 dev_mmu.h when present, else the reference's description. */
const PCF_NAMES: [string, number][] = (
	HEADERS
		? [...HEADERS.gh100Mmu.entries()]
				.filter(([k]) => /^NV_MMU_VER3_PTE_PCF_(REGULAR|PRIVILEGE)_/.test(k))
				.map(([k, v]) => [k.slice('NV_MMU_VER3_PTE_PCF_'.length), v])
		: Object.entries(HAND_MMU)
				.filter(([k]) => /^VER3_PTE_PCF_(REGULAR|PRIVILEGE)_/.test(k))
				.map(([k, v]) => [k.slice('VER3_PTE_PCF_'.length), v])
) as [string, number][];

describe('MMU v3: geometry and apertures', () => {
	it('walks PDE4 → PDE3 → PDE2 → PDE1 → PDE0 → PTE with a 57-bit VA', () => {
		const { mem, pt, pdb } = space('v3');
		const va =
			(1n << 56n) | (0x1abn << 47n) | (0x0cdn << 38n) | (0x1efn << 29n) | (0xa5n << 21n) | (0x123n << 12n);
		pt.map(va, 12, { aperture: 'video', pa: 0xff_ffff_f000n });
		const mmu = mmuFor(mem);
		const r = expectOk(mmu.translate(pdb, va + 0xabcn));
		expect([r.pa, r.pageSize, r.table]).toEqual([0xff_ffff_fabcn, 4096, 'small']);
		const { steps } = mmu.walk(pdb, va);
		expect(steps.map((s) => s.level)).toEqual(['PDE4', 'PDE3', 'PDE2', 'PDE1', 'PDE0', 'PTE']);
		expect(steps[0]?.address).toBe(pt.root.address + 8n);
		expect((steps[1]?.address ?? 0n) % 4096n).toBe(0x1abn * 8n);
		expect((steps[4]?.address ?? 0n) % 4096n).toBe(0xa5n * 16n);
		for (const bit of [56n, 47n, 55n, 38n, 46n, 29n, 37n, 21n, 28n, 12n, 20n]) {
			expect(mmu.translate(pdb, va ^ (1n << bit)).ok, `bit ${bit}`).toBe(false);
		}
		expectFault(mmu.translate(pdb, 1n << 57n), 'va-out-of-range', 'PDB', 'VA_LIMIT_VIOLATION');
	});

	it('uses ADDRESS_VID (39:12) for video pages and ADDRESS (51:12) for system and peer pages', () => {
		const { mem, pt, pdb } = space('v3');
		pt.map(0x1000n, 12, { aperture: 'sys-coherent', pa: (1n << 51n) + 0x5000n });
		pt.map(0x2000n, 12, { aperture: 'sys-noncoherent', pa: 0x8000_0000n });
		pt.map(0x3000n, 12, { aperture: 'peer', pa: (1n << 45n) + 0x7000n, peerId: 7 });
		// A video PTE with bit 40 set in the address: not part of ADDRESS_VID, so ignored.
		pt.writePte(
			0x4000n,
			'small',
			set(v3Pte({ aperture: 'video', pa: 0x9000n }), 'VER3_PTE_ADDRESS', (1n << 28n) | 9n),
		);
		const mmu = mmuFor(mem);
		expect(expectOk(mmu.translate(pdb, 0x1008n)).pa).toBe((1n << 51n) + 0x5008n);
		const nc = expectOk(mmu.translate(pdb, 0x2000n));
		expect([nc.aperture, nc.pa]).toEqual(['sys-noncoherent', 0x8000_0000n]);
		const peer = expectOk(mmu.translate(pdb, 0x3000n));
		expect([peer.aperture, peer.peerId, peer.pa]).toEqual(['peer', 7, (1n << 45n) + 0x7000n]);
		expect(expectOk(mmu.translate(pdb, 0x4000n)).pa).toBe(0x9000n);
	});

	it('tables in system memory', () => {
		for (const where of ['sys-coherent', 'sys-noncoherent'] as const) {
			const { mem, pt, pdb } = space('v3', where);
			pt.map(0x10_0000n, 16, { aperture: 'video', pa: 0x100_0000n });
			expect(expectOk(mmuFor(mem).translate(pdb, 0x10_1234n)).pa).toBe(0x100_1234n);
		}
	});

	it('64 KiB, 2 MiB and 512 MiB pages', () => {
		const { mem, pt, pdb } = space('v3');
		pt.map(0x1_0000n, 16, { aperture: 'video', pa: 0x50_0000n });
		pt.map(0x20_0000n, 21, { aperture: 'video', pa: 0x60_0000n });
		pt.map(1n << 30n, 29, { aperture: 'video', pa: 3n << 29n });
		const mmu = mmuFor(mem);
		const a = expectOk(mmu.translate(pdb, 0x1_ff00n));
		expect([a.pa, a.pageSize, a.table]).toEqual([0x50_ff00n, 65536, 'big']);
		const b = expectOk(mmu.translate(pdb, 0x3f_ffffn));
		expect([b.pa, b.pageSize, b.level]).toEqual([0x7f_ffffn, 2 << 20, 'PDE0']);
		const c = expectOk(mmu.translate(pdb, (1n << 30n) + 0x1fff_ffffn));
		expect([c.pa, c.pageSize, c.level]).toEqual([(3n << 29n) + 0x1fff_ffffn, 512 << 20, 'PDE1']);
	});

	it('IS_PTE in PDE4, PDE3 or PDE2 faults with PDE_SIZE', () => {
		const { mem, pt, pdb } = space('v3');
		const pte = v3Pte({ aperture: 'video', pa: 0n });
		pt.writeDirEntry(0n, 0, pte);
		pt.writeDirEntry(1n << 56n, 1, pte);
		pt.writeDirEntry((1n << 56n) + (1n << 47n), 2, pte);
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, 0n), 'unsupported-page-size', 'PDE4', 'PDE_SIZE');
		expectFault(mmu.translate(pdb, 1n << 56n), 'unsupported-page-size', 'PDE3', 'PDE_SIZE');
		expectFault(mmu.translate(pdb, (1n << 56n) + (1n << 47n)), 'unsupported-page-size', 'PDE2', 'PDE_SIZE');
	});

	it('KIND is 4 bits at 11:8; KIND_INVALID faults', () => {
		const { mem, pt, pdb } = space('v3');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0x1000n, kind: 0x8 });
		pt.map(0x2000n, 12, { aperture: 'video', pa: 0x1000n, kind: V('PTE_KIND_INVALID') });
		const mmu = mmuFor(mem);
		expect(expectOk(mmu.translate(pdb, 0x1000n)).kind).toBe(8);
		expectFault(mmu.translate(pdb, 0x2000n), 'unsupported-kind', 'PTE', 'UNSUPPORTED_KIND');
	});
});

describe('MMU v3: every PCF of a valid PTE', () => {
	it('has the 32 names', () => {
		expect(PCF_NAMES).toHaveLength(32);
	});

	it.each(PCF_NAMES)('%s (0x%s)', (name, pcf) => {
		const ro = name.includes('_RO_');
		const priv = name.startsWith('PRIVILEGE_');
		const noAtomic = name.includes('_NO_ATOMIC_');
		const uncached = name.includes('_UNCACHED_');
		const { mem, pt, pdb } = space('v3');
		pt.writePte(0x1000n, 'small', set(v3Pte({ aperture: 'video', pa: 0x7000n }), 'VER3_PTE_PCF', pcf));
		const mmu = mmuFor(mem);
		const r = expectOk(mmu.translate(pdb, 0x1000n, 'read', { privileged: true }));
		expect([r.readOnly, r.privileged, r.atomicDisabled, r.volatile, r.pcf]).toEqual([
			ro,
			priv,
			noAtomic,
			uncached,
			pcf,
		]);

		const read = mmu.translate(pdb, 0x1000n, 'read');
		if (priv) expectFault(read, 'privilege', 'PTE', 'PRIV_VIOLATION');
		else expectOk(read);

		const write = mmu.translate(pdb, 0x1000n, 'write', { privileged: true });
		if (ro) expectFault(write, 'read-only', 'PTE', 'RO_VIOLATION');
		else expectOk(write);

		const atomic = mmu.translate(pdb, 0x1000n, 'atomic', { privileged: true });
		if (ro) expectFault(atomic, 'read-only', 'PTE', 'RO_VIOLATION');
		else if (noAtomic) expectFault(atomic, 'atomic', 'PTE', 'ATOMIC_VIOLATION');
		else expectOk(atomic);
	});
});

describe('MMU v3: invalid-state PCFs and the dual PDE0', () => {
	it('small PTEs: INVALID, MAPPING_NOWHERE and NO_VALID_4KB_PAGE fault; SPARSE is sparse', () => {
		const { mem, pt, pdb } = space('v3');
		pt.writePte(0x1000n, 'small', v3InvalidPte('INVALID'));
		pt.writePte(0x2000n, 'small', v3InvalidPte('SPARSE'));
		pt.writePte(0x3000n, 'small', v3InvalidPte('MAPPING_NOWHERE'));
		pt.writePte(0x4000n, 'small', v3InvalidPte('NO_VALID_4KB_PAGE'));
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, 0x1000n), 'invalid-pte', 'PTE', 'PTE');
		expectFault(mmu.translate(pdb, 0x2000n, 'write'), 'sparse', 'PTE', 'PTE');
		expectFault(mmu.translate(pdb, 0x3000n), 'invalid-pte', 'PTE', 'PTE');
		expectFault(mmu.translate(pdb, 0x4000n), 'invalid-pte', 'PTE', 'PTE');
	});

	function both() {
		const s = space('v3');
		s.pt.writePte(0x3_1000n, 'small', v3Pte({ aperture: 'video', pa: 0xa000n }));
		return s;
	}

	it('big PTE valid: the 64 KiB page wins', () => {
		const { mem, pt, pdb } = both();
		pt.writePte(0x3_0000n, 'big', v3Pte({ aperture: 'video', pa: 0xb_0000n }));
		const r = expectOk(mmuFor(mem).translate(pdb, 0x3_1000n));
		expect([r.pa, r.table]).toEqual([0xb_1000n, 'big']);
	});

	it('big PTE PCF INVALID: the small PTE decides', () => {
		const { mem, pt, pdb } = both();
		pt.writePte(0x3_0000n, 'big', v3InvalidPte('INVALID'));
		const r = expectOk(mmuFor(mem).translate(pdb, 0x3_1000n));
		expect([r.pa, r.table]).toEqual([0xa000n, 'small']);
	});

	it('big PTE NO_VALID_4KB_PAGE blocks the small PTEs; SPARSE is sparse; MAPPING_NOWHERE blocks', () => {
		const { mem, pt, pdb } = both();
		const mmu = mmuFor(mem);
		pt.writePte(0x3_0000n, 'big', v3InvalidPte('NO_VALID_4KB_PAGE'));
		expect(expectFault(mmu.translate(pdb, 0x3_1000n), 'invalid-pte', 'PTE', 'PTE').table).toBe('big');
		pt.writePte(0x3_0000n, 'big', v3InvalidPte('SPARSE'));
		expect(expectFault(mmu.translate(pdb, 0x3_1000n), 'sparse', 'PTE', 'PTE').table).toBe('big');
		pt.writePte(0x3_0000n, 'big', v3InvalidPte('MAPPING_NOWHERE'));
		expect(expectFault(mmu.translate(pdb, 0x3_1000n), 'invalid-pte', 'PTE', 'PTE').table).toBe('big');
	});

	it('the big table address is in place at 51:8 (256-byte aligned tables)', () => {
		const { mem, pt, pdb } = space('v3');
		pt.map(0x1_0000n, 16, { aperture: 'video', pa: 0x2_0000n });
		pt.map(0x21_0000n, 16, { aperture: 'video', pa: 0x3_0000n });
		pt.map(0x41_0000n, 16, { aperture: 'video', pa: 0x4_0000n });
		const pde0 = mmuFor(mem).walk(pdb, 0x41_0000n).steps[4]?.value ?? 0n;
		// The third 256-byte big table follows the second one: 256-byte but not 4 KiB aligned.
		const bigTable = pde0 & ((1n << 52n) - 1n) & ~0xffn;
		expect(bigTable % 4096n).toBe(256n);
		expect(expectOk(mmuFor(mem).translate(pdb, 0x1_0000n)).pa).toBe(0x2_0000n);
		expect(expectOk(mmuFor(mem).translate(pdb, 0x41_0010n)).pa).toBe(0x4_0010n);
	});

	it('PDE0 with both apertures INVALID: PCF_BIG SPARSE makes 2 MiB sparse, else invalid', () => {
		const { mem, pt, pdb } = space('v3');
		pt.writeDirEntry(
			0x20_0000n,
			4,
			set(0n, 'VER3_DUAL_PDE_PCF_BIG', V('VER3_DUAL_PDE_PCF_BIG_SPARSE_ATS_ALLOWED')),
		);
		pt.writeDirEntry(
			0x40_0000n,
			4,
			set(
				v3Dual(undefined, undefined),
				'VER3_DUAL_PDE_PCF_BIG',
				V('VER3_DUAL_PDE_PCF_BIG_INVALID_ATS_NOT_ALLOWED'),
			),
		);
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, 0x2f_0000n), 'sparse', 'PDE0', 'PDE');
		expectFault(mmu.translate(pdb, 0x40_0000n), 'invalid-pde', 'PDE0', 'PDE');
	});

	it('sparse PDEs: PCF SPARSE_ATS_ALLOWED / SPARSE_ATS_NOT_ALLOWED with APERTURE INVALID', () => {
		const { mem, pt, pdb } = space('v3');
		pt.writeDirEntry(1n << 56n, 0, v3SparsePde());
		pt.writeDirEntry(1n << 47n, 1, set(0n, 'VER3_PDE_PCF', V('VER3_PDE_PCF_SPARSE_ATS_NOT_ALLOWED')));
		pt.writeDirEntry(1n << 38n, 2, set(0n, 'VER3_PDE_PCF', V('VER3_PDE_PCF_INVALID_ATS_NOT_ALLOWED')));
		pt.writeDirEntry(1n << 29n, 3, v3SparsePde());
		const mmu = mmuFor(mem);
		expectFault(mmu.translate(pdb, (1n << 56n) + 5n), 'sparse', 'PDE4', 'PDE');
		expectFault(mmu.translate(pdb, (1n << 47n) + 5n), 'sparse', 'PDE3', 'PDE');
		expectFault(mmu.translate(pdb, (1n << 38n) + 5n), 'invalid-pde', 'PDE2', 'PDE');
		expectFault(mmu.translate(pdb, (1n << 29n) + 5n), 'sparse', 'PDE1', 'PDE');
	});
});

describe('MMU v3: the walker is not fooled by a v2-style encoding', () => {
	it('a PTE with the v2 shift (pa >> 4 at bit 8) translates elsewhere or faults', () => {
		const { mem, pt, pdb } = space('v3');
		// v2 writes (pa >> 12) << 8. In v3, bits 11:8 are KIND and the address sits in place at 51:12.
		const pa = 0x1234_5000n;
		const v2style = (pa >> 4n) | 1n | (2n << 1n); // VALID, SYS_COH aperture
		pt.writePte(0x1000n, 'small', v2style);
		const r = mmuFor(mem).translate(pdb, 0x1000n);
		if (r.ok) expect(r.pa).not.toBe(pa);
		else expect(r.fault.reason).not.toBe('invalid-pde');
	});
});
