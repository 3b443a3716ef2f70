/**
 * The simulator's transcription of NVIDIA's formats (src/mmu/fields.ts) against the hand-written table in the
 * test kit, and — when `gspkit-fetch nvidia-open` (or debian-fetch) has put NVIDIA's headers in the cache —
 * both against dev_mmu.h / dev_fault.h themselves.
 */

import { describe, expect, it } from 'vitest';
import {
	type BitField,
	FAULT_TYPE,
	PDE_APERTURE,
	PTE_APERTURE,
	PTE_KIND_INVALID,
	V2_DUAL_PDE,
	V2_PDE,
	V2_PTE,
	V3_DUAL_PDE,
	V3_PDE,
	V3_PTE,
	V3_PTE_PCF_INVALID,
	V3_PTE_PCF_VALID_BITS,
} from '../src/mmu/index.ts';
import { evalExpr, HAND_FAULT_TYPES, HAND_MMU, HEADERS, parseHeader } from './mmu-testkit.ts';

function expectField(actual: BitField | number, macro: string) {
	const want = HAND_MMU[macro];
	expect(want, `hand table lacks ${macro}`).toBeDefined();
	if (typeof actual === 'number') expect(actual, macro).toBe(want);
	else expect({ hi: actual.hi, lo: actual.lo }, macro).toEqual(want);
}

/** Every field of a src table must match the macro `${prefix}${key}` of the hand table. */
function expectTable(table: Readonly<Record<string, BitField | number>>, prefix: string) {
	for (const [key, value] of Object.entries(table)) {
		const macro = key === 'SIZE' ? `${prefix}_SIZE` : `${prefix}${key}`;
		expectField(value, macro);
	}
}

describe('header parsing helpers', () => {
	it('evaluates the expressions dev_mmu.h uses', () => {
		expect(evalExpr('(35-3)')).toBe(32);
		expect(evalExpr('(1*32+11)')).toBe(43);
		expect(evalExpr('0x0000000c')).toBe(12);
		expect(evalExpr('(20+35)')).toBe(55);
		expect(() => evalExpr('1 ? 2 : 3')).toThrow();
	});

	it('parses ranges and values, ignoring comments', () => {
		const m = parseHeader(
			[
				'#define NV_MMU_VER2_PTE_ADDRESS_VID_PEER       35:(36-3) /* RWXVF */',
				'#define NV_MMU_VER2_PTE_APERTURE_PEER_MEMORY                      0x00000001 /* RW--V */',
				'#define NV_MMU_VER2_PTE                                                      /* ----G */',
				'#define NV_MMU_PDE_APERTURE_BIG                       (0*32+1):(0*32+0) /* RWXVF */',
			].join('\n'),
		);
		expect(m.get('NV_MMU_VER2_PTE_ADDRESS_VID_PEER')).toEqual({ hi: 35, lo: 33 });
		expect(m.get('NV_MMU_VER2_PTE_APERTURE_PEER_MEMORY')).toBe(1);
		expect(m.has('NV_MMU_VER2_PTE')).toBe(false);
		expect(m.get('NV_MMU_PDE_APERTURE_BIG')).toEqual({ hi: 1, lo: 0 });
	});
});

describe('src/mmu/fields.ts matches the hand table of the reference', () => {
	it('v2 PDE, dual PDE and PTE', () => {
		expectTable(V2_PDE, 'VER2_PDE_');
		expectTable(V2_DUAL_PDE, 'VER2_DUAL_PDE_');
		expectTable(V2_PTE, 'VER2_PTE_');
	});

	it('v3 PDE, dual PDE and PTE', () => {
		expectTable(V3_PDE, 'VER3_PDE_');
		expectTable(V3_DUAL_PDE, 'VER3_DUAL_PDE_');
		expectTable(V3_PTE, 'VER3_PTE_');
	});

	it('aperture enums, invalid-state PCFs and KIND_INVALID', () => {
		for (const [name, value] of Object.entries(PDE_APERTURE)) {
			expect(value).toBe(HAND_MMU[`VER2_PDE_APERTURE_${name}`]);
			expect(value).toBe(HAND_MMU[`VER3_PDE_APERTURE_${name}`]);
		}
		for (const [name, value] of Object.entries(PTE_APERTURE)) {
			expect(value).toBe(HAND_MMU[`VER2_PTE_APERTURE_${name}`]);
			expect(value).toBe(HAND_MMU[`VER3_PTE_APERTURE_${name}`]);
		}
		for (const [name, value] of Object.entries(V3_PTE_PCF_INVALID)) {
			expect(value).toBe(HAND_MMU[`VER3_PTE_PCF_${name}`]);
		}
		expect(PTE_KIND_INVALID).toBe(HAND_MMU.PTE_KIND_INVALID);
	});

	it('the v3 PCF bit meanings agree with the 32 PCF names', () => {
		const names = Object.entries(HAND_MMU).filter(([k]) => /^VER3_PTE_PCF_(REGULAR|PRIVILEGE)_/.test(k)) as [
			string,
			number,
		][];
		expect(names).toHaveLength(32);
		for (const [name, pcf] of names) {
			expect(!!(pcf & V3_PTE_PCF_VALID_BITS.PRIVILEGE), name).toBe(name.includes('_PRIVILEGE_'));
			expect(!!(pcf & V3_PTE_PCF_VALID_BITS.READ_ONLY), name).toBe(name.includes('_RO_'));
			expect(!!(pcf & V3_PTE_PCF_VALID_BITS.NO_ATOMIC), name).toBe(name.includes('_NO_ATOMIC_'));
			expect(!!(pcf & V3_PTE_PCF_VALID_BITS.UNCACHED), name).toBe(name.includes('_UNCACHED_'));
			expect(!!(pcf & V3_PTE_PCF_VALID_BITS.ACCESS_COUNTING_DISABLED), name).toBe(name.endsWith('_ACD'));
		}
	});

	it('fault types', () => {
		expect({ ...FAULT_TYPE }).toEqual(HAND_FAULT_TYPES);
	});
});

describe.skipIf(HEADERS === undefined)("NVIDIA's headers (nvidia-open-kernel-source)", () => {
	const h = HEADERS as NonNullable<typeof HEADERS>;

	it('every hand-table macro has the same definition in dev_mmu.h', () => {
		let checked = 0;
		for (const [name, want] of Object.entries(HAND_MMU)) {
			const table = name.startsWith('VER3_') ? h.gh100Mmu : h.tu102Mmu;
			const got = table.get(`NV_MMU_${name}`);
			expect(got, `NV_MMU_${name}`).toEqual(want);
			checked++;
		}
		expect(checked).toBeGreaterThan(120);
	});

	it('Hopper keeps the VER2 definitions unchanged (gh100 dev_mmu.h)', () => {
		for (const [name, want] of Object.entries(HAND_MMU)) {
			if (!name.startsWith('VER2_')) continue;
			expect(h.gh100Mmu.get(`NV_MMU_${name}`), name).toEqual(want);
		}
	});

	it('every PCF the header names is one of the 32 (+4 invalid-state) values the reference describes', () => {
		const pcfs = [...h.gh100Mmu.entries()].filter(([k]) => k.startsWith('NV_MMU_VER3_PTE_PCF_'));
		expect(pcfs.length).toBe(36);
		for (const [k, v] of pcfs) expect(HAND_MMU[k.slice('NV_MMU_'.length)], k).toBe(v);
	});

	it('dev_fault.h fault types are identical on every chip and match src', () => {
		expect(h.faults.size).toBeGreaterThanOrEqual(2);
		for (const [chip, defs] of h.faults) {
			for (const [name, value] of Object.entries(HAND_FAULT_TYPES)) {
				expect(defs.get(`NV_PFAULT_FAULT_TYPE_${name}`), `${chip} ${name}`).toBe(value);
			}
			expect(defs.get('NV_PFAULT_ACCESS_TYPE_VIRT_READ')).toBe(0);
			expect(defs.get('NV_PFAULT_ACCESS_TYPE_VIRT_WRITE')).toBe(1);
			expect(defs.get('NV_PFAULT_ACCESS_TYPE_VIRT_ATOMIC')).toBe(2);
		}
	});
});
