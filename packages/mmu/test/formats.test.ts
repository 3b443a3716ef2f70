/**
 * The real check of the encoders: every field of every layout, and every bit the encoders write, against
 * NVIDIA's dev_mmu.h (tu102 for MMU v2, gh100 for MMU v3), parsed from the gspkit cache.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	type EntryLayout,
	MMU_V2,
	MMU_V3,
	type MmuFormatSpec,
	mmuFormat,
	PTE_KIND,
	type PteAperture,
	type PteAttributes,
	type TableAperture,
	V3_PCF_BITS,
	v3PtePcf,
	v3PtePcfName,
} from '../src/index.ts';
import { type Header, loadHeaders } from './helpers/dev-mmu.ts';

const headers = loadHeaders();
const missing = 'missing' in headers ? headers.missing : null;
if (missing !== null) console.warn(`[mmu] skipping dev_mmu.h checks: ${missing}`);
const H = (v: 'v2' | 'v3'): Header => {
	if ('missing' in headers) throw new Error(headers.missing);
	return headers[v];
};

const PTE_AP_NAME: Record<PteAperture, string> = {
	video: 'VIDEO_MEMORY',
	peer: 'PEER_MEMORY',
	sysCoherent: 'SYSTEM_COHERENT_MEMORY',
	sysNonCoherent: 'SYSTEM_NON_COHERENT_MEMORY',
};
const PDE_AP_NAME: Record<TableAperture, string> = {
	video: 'VIDEO_MEMORY',
	sysCoherent: 'SYSTEM_COHERENT_MEMORY',
	sysNonCoherent: 'SYSTEM_NON_COHERENT_MEMORY',
};

const layoutsOf = (f: MmuFormatSpec): EntryLayout[] => [f.pte, f.pde, f.dualPde];
const words = (lo: number, hi: number): bigint => BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
const fast = (f: MmuFormatSpec, pa: bigint, a: PteAttributes): bigint => {
	const fl = f.pteFlags(a);
	return words(fl.lo, fl.hi) + ((pa >> 12n) << BigInt(f.ppnBit));
};

const attrsArb = (f: MmuFormatSpec) =>
	fc.record({
		aperture: fc.constantFrom<PteAperture>('video', 'peer', 'sysCoherent', 'sysNonCoherent'),
		peer: fc.integer({ min: 0, max: 7 }),
		volatile: fc.boolean(),
		privileged: fc.boolean(),
		readOnly: fc.boolean(),
		atomicDisable: fc.boolean(),
		accessCounting: fc.boolean(),
		kind: fc.integer({ min: 0, max: f.name === 'v2' ? 0xff : 0xf }).filter((k) => k !== PTE_KIND.INVALID),
		addrBits: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
	});

describe.skipIf(missing !== null)('field tables match dev_mmu.h', () => {
	for (const f of [MMU_V2, MMU_V3]) {
		for (const layout of layoutsOf(f)) {
			it(`${layout.header}: every field at the header's bit range, every value equal`, () => {
				const h = H(f.name);
				expect(h.value(`${layout.header}__SIZE`)).toBe(layout.size);
				for (const [name, field] of Object.entries(layout.fields)) {
					const r = h.range(field.header);
					expect({ name, hi: r.hi, lo: r.lo }).toEqual({ name, hi: field.bits[0], lo: field.bits[1] });
					for (const [vn, v] of Object.entries(field.values ?? {})) {
						expect({ vn, value: h.value(`${field.header}_${v.header}`) }).toEqual({ vn, value: v.value });
					}
				}
			});
		}
	}

	it('address shifts are the header ADDRESS_SHIFT / ADDRESS_BIG_SHIFT', () => {
		const v2 = H('v2');
		const v3 = H('v3');
		expect(v2.value('NV_MMU_VER2_PTE_ADDRESS_SHIFT')).toBe(MMU_V2.pte.fields.addressSys?.shift);
		expect(v2.value('NV_MMU_VER2_PDE_ADDRESS_SHIFT')).toBe(MMU_V2.pde.fields.addressSys?.shift);
		expect(v2.value('NV_MMU_VER2_DUAL_PDE_ADDRESS_SHIFT')).toBe(MMU_V2.dualPde.fields.addressSmallSys?.shift);
		expect(v2.value('NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_SHIFT')).toBe(
			MMU_V2.dualPde.fields.addressBigSys?.shift,
		);
		expect(v3.value('NV_MMU_VER3_PTE_ADDRESS_SHIFT')).toBe(MMU_V3.pte.fields.address?.shift);
		expect(v3.value('NV_MMU_VER3_PDE_ADDRESS_SHIFT')).toBe(MMU_V3.pde.fields.address?.shift);
		expect(v3.value('NV_MMU_VER3_DUAL_PDE_ADDRESS_SHIFT')).toBe(MMU_V3.dualPde.fields.addressSmall?.shift);
		expect(v3.value('NV_MMU_VER3_DUAL_PDE_ADDRESS_BIG_SHIFT')).toBe(MMU_V3.dualPde.fields.addressBig?.shift);
	});

	it('PDE and PTE aperture enums differ as the header says (v2 and v3)', () => {
		for (const [h, v] of [
			[H('v2'), 'VER2'],
			[H('v3'), 'VER3'],
		] as const) {
			expect(h.value(`NV_MMU_${v}_PTE_APERTURE_VIDEO_MEMORY`)).toBe(0);
			expect(h.value(`NV_MMU_${v}_PDE_APERTURE_VIDEO_MEMORY`)).toBe(1);
			expect(h.value(`NV_MMU_${v}_PDE_APERTURE_INVALID`)).toBe(0);
		}
	});

	it('kind constants equal NV_MMU_PTE_KIND_* in both headers', () => {
		for (const h of [H('v2'), H('v3')]) {
			expect(h.value('NV_MMU_PTE_KIND_PITCH')).toBe(PTE_KIND.PITCH);
			expect(h.value('NV_MMU_PTE_KIND_GENERIC_MEMORY')).toBe(PTE_KIND.GENERIC_MEMORY);
			expect(h.value('NV_MMU_PTE_KIND_INVALID')).toBe(PTE_KIND.INVALID);
		}
	});

	it('v3 PCF: all 32 valid-PTE encodings equal the header names built from the attribute bits', () => {
		const h = H('v3');
		for (let pcf = 0; pcf < 32; pcf++) {
			expect(h.value(`NV_MMU_VER3_PTE_PCF_${v3PtePcfName(pcf)}`)).toBe(pcf);
			const a = {
				volatile: (pcf & V3_PCF_BITS.uncached) !== 0,
				privileged: (pcf & V3_PCF_BITS.privileged) !== 0,
				readOnly: (pcf & V3_PCF_BITS.readOnly) !== 0,
				atomicDisable: (pcf & V3_PCF_BITS.noAtomic) !== 0,
				accessCounting: (pcf & V3_PCF_BITS.accessCountingDisabled) === 0,
			};
			expect(v3PtePcf(a)).toBe(pcf);
		}
		for (const n of ['INVALID', 'SPARSE', 'MAPPING_NOWHERE', 'NO_VALID_4KB_PAGE']) {
			expect(h.value(`NV_MMU_VER3_PTE_PCF_${n}`)).toBe(
				MMU_V3.pte.fields.pcf?.values?.[
					{
						INVALID: 'invalid',
						SPARSE: 'sparse',
						MAPPING_NOWHERE: 'mappingNowhere',
						NO_VALID_4KB_PAGE: 'noValid4kbPage',
					}[n] as string
				]?.value,
			);
		}
	});
});

/** Expected PTE built only from header definitions. */
function expectedV2Pte(h: Header, pa: bigint, a: PteAttributes): bigint {
	const vid = a.aperture === 'video' || a.aperture === 'peer';
	const shift = BigInt(h.value('NV_MMU_VER2_PTE_ADDRESS_SHIFT'));
	return (
		h.place('NV_MMU_VER2_PTE_VALID', h.value('NV_MMU_VER2_PTE_VALID_TRUE')) |
		h.placeEnum('NV_MMU_VER2_PTE_APERTURE', PTE_AP_NAME[a.aperture]) |
		h.place('NV_MMU_VER2_PTE_VOL', a.volatile ? 1 : 0) |
		h.place('NV_MMU_VER2_PTE_PRIVILEGE', a.privileged ? 1 : 0) |
		h.place('NV_MMU_VER2_PTE_READ_ONLY', a.readOnly ? 1 : 0) |
		h.place('NV_MMU_VER2_PTE_ATOMIC_DISABLE', a.atomicDisable ? 1 : 0) |
		h.place('NV_MMU_VER2_PTE_KIND', a.kind ?? 0) |
		h.place(vid ? 'NV_MMU_VER2_PTE_ADDRESS_VID' : 'NV_MMU_VER2_PTE_ADDRESS_SYS', pa >> shift) |
		(vid ? h.place('NV_MMU_VER2_PTE_ADDRESS_VID_PEER', a.peerId ?? 0) : 0n)
	);
}

function expectedV3Pte(h: Header, pa: bigint, a: PteAttributes): bigint {
	const pcfName = [
		a.privileged ? 'PRIVILEGE' : 'REGULAR',
		a.readOnly ? 'RO' : 'RW',
		a.atomicDisable ? 'NO_ATOMIC' : 'ATOMIC',
		a.volatile ? 'UNCACHED' : 'CACHED',
		a.accessCounting ? 'ACE' : 'ACD',
	].join('_');
	const shift = BigInt(h.value('NV_MMU_VER3_PTE_ADDRESS_SHIFT'));
	return (
		h.place('NV_MMU_VER3_PTE_VALID', h.value('NV_MMU_VER3_PTE_VALID_TRUE')) |
		h.placeEnum('NV_MMU_VER3_PTE_APERTURE', PTE_AP_NAME[a.aperture]) |
		h.placeEnum('NV_MMU_VER3_PTE_PCF', pcfName) |
		h.place('NV_MMU_VER3_PTE_KIND', a.kind ?? 0) |
		h.place(
			a.aperture === 'video' ? 'NV_MMU_VER3_PTE_ADDRESS_VID' : 'NV_MMU_VER3_PTE_ADDRESS_SYS',
			pa >> shift,
		) |
		h.place('NV_MMU_VER3_PTE_PEER_ID', a.peerId ?? 0)
	);
}

describe.skipIf(missing !== null)('encoders write exactly the header bits', () => {
	for (const f of [MMU_V2, MMU_V3]) {
		it(`${f.name} PTE: generic and fast encoders equal the header-built value (property)`, () => {
			const h = H(f.name);
			fc.assert(
				fc.property(attrsArb(f), (r) => {
					const a: PteAttributes = {
						aperture: r.aperture,
						peerId: r.aperture === 'peer' ? r.peer : 0,
						volatile: r.volatile,
						privileged: r.privileged,
						readOnly: r.readOnly,
						atomicDisable: r.atomicDisable,
						accessCounting: f.name === 'v3' ? r.accessCounting : false,
						kind: r.kind,
					};
					const limit = f.physLimit(a.aperture);
					const pa = (r.addrBits % limit) & ~0xfffn;
					const want = f.name === 'v2' ? expectedV2Pte(h, pa, a) : expectedV3Pte(h, pa, a);
					expect(f.encodePte(pa, a)).toBe(want);
					expect(fast(f, pa, a)).toBe(want);
					const d = f.decodePte(want);
					expect(d).toMatchObject({
						valid: true,
						sparse: false,
						aperture: a.aperture,
						address: pa,
						kind: a.kind,
					});
				}),
				{ numRuns: 400 },
			);
		});

		it(`${f.name} PTE: highest encodable address bit and rejection above it`, () => {
			const h = H(f.name);
			for (const ap of ['video', 'sysCoherent'] as const) {
				const limit = f.physLimit(ap);
				const top = limit - 4096n;
				const a: PteAttributes = { aperture: ap };
				const want = f.name === 'v2' ? expectedV2Pte(h, top, a) : expectedV3Pte(h, top, a);
				expect(f.encodePte(top, a)).toBe(want);
				expect(fast(f, top, a)).toBe(want);
				expect(() => f.encodePte(limit, a)).toThrow(/not encodable/);
			}
		});
	}

	it('v2 sparse/marker entries', () => {
		const h = H('v2');
		const w = (x: { lo: number; hi: number }) => words(x.lo, x.hi);
		// VALID=0 + VOL=1 is sparse; in the LPT VALID=0 + PRIV=1 blocks the small PTEs.
		expect(w(MMU_V2.sparsePte)).toBe(h.place('NV_MMU_VER2_PTE_VOL', 1));
		expect(w(MMU_V2.lptIgnoreSmall)).toBe(h.place('NV_MMU_VER2_PTE_PRIVILEGE', 1));
		expect(w(MMU_V2.sparsePde)).toBe(
			h.place('NV_MMU_VER2_PDE_VOL', 1) | h.placeEnum('NV_MMU_VER2_PDE_APERTURE', 'INVALID'),
		);
		const dual = MMU_V2.sparseDualPde.reduce((acc, x, i) => acc | (BigInt(x) << BigInt(32 * i)), 0n);
		expect(dual).toBe(h.place('NV_MMU_VER2_DUAL_PDE_VOL_BIG', 1));
		expect(MMU_V2.decodePte(w(MMU_V2.sparsePte))).toMatchObject({
			valid: false,
			sparse: true,
			ignoreSmall: false,
		});
		expect(MMU_V2.decodePte(w(MMU_V2.lptIgnoreSmall))).toMatchObject({
			valid: false,
			sparse: false,
			ignoreSmall: true,
		});
		expect(MMU_V2.decodeDualPde(dual).sparse).toBe(true);
		expect(MMU_V2.decodePde(w(MMU_V2.sparsePde)).sparse).toBe(true);
	});

	it('v3 sparse/marker entries use the PCF encodings', () => {
		const h = H('v3');
		const w = (x: { lo: number; hi: number }) => words(x.lo, x.hi);
		expect(w(MMU_V3.sparsePte)).toBe(h.placeEnum('NV_MMU_VER3_PTE_PCF', 'SPARSE'));
		expect(w(MMU_V3.lptIgnoreSmall)).toBe(h.placeEnum('NV_MMU_VER3_PTE_PCF', 'NO_VALID_4KB_PAGE'));
		expect(w(MMU_V3.sparsePde)).toBe(h.placeEnum('NV_MMU_VER3_PDE_PCF', 'SPARSE_ATS_ALLOWED'));
		const dual = MMU_V3.sparseDualPde.reduce((acc, x, i) => acc | (BigInt(x) << BigInt(32 * i)), 0n);
		expect(dual).toBe(h.placeEnum('NV_MMU_VER3_DUAL_PDE_PCF_BIG', 'SPARSE_ATS_ALLOWED'));
		expect(MMU_V3.decodePte(w(MMU_V3.sparsePte))).toMatchObject({ valid: false, sparse: true });
		expect(MMU_V3.decodePte(w(MMU_V3.lptIgnoreSmall))).toMatchObject({ valid: false, ignoreSmall: true });
		expect(MMU_V3.decodeDualPde(dual).sparse).toBe(true);
	});

	it('v2 PDE and dual PDE: aperture, VOL (coherent), address at the header position', () => {
		const h = H('v2');
		const sh = BigInt(h.value('NV_MMU_VER2_PDE_ADDRESS_SHIFT'));
		const bsh = BigInt(h.value('NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_SHIFT'));
		fc.assert(
			fc.property(
				fc.bigInt({ min: 0n, max: (1n << 37n) - 1n }),
				fc.bigInt({ min: 0n, max: (1n << 37n) - 1n }),
				fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
				fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
				(x, y, apA, apB) => {
					const pd = x & ~0xfffn;
					const lpt = y & ~0xffn;
					const field = (ap: TableAperture, sys: string, vid: string) => (ap === 'video' ? vid : sys);
					expect(MMU_V2.encodePde({ address: pd, aperture: apA })).toBe(
						h.placeEnum('NV_MMU_VER2_PDE_APERTURE', PDE_AP_NAME[apA]) |
							h.place('NV_MMU_VER2_PDE_VOL', apA === 'sysCoherent' ? 1 : 0) |
							h.place(field(apA, 'NV_MMU_VER2_PDE_ADDRESS_SYS', 'NV_MMU_VER2_PDE_ADDRESS_VID'), pd >> sh),
					);
					const want =
						h.placeEnum('NV_MMU_VER2_DUAL_PDE_APERTURE_BIG', PDE_AP_NAME[apB]) |
						h.place('NV_MMU_VER2_DUAL_PDE_VOL_BIG', apB === 'sysCoherent' ? 1 : 0) |
						h.place(
							field(apB, 'NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_SYS', 'NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_VID'),
							lpt >> bsh,
						) |
						h.placeEnum('NV_MMU_VER2_DUAL_PDE_APERTURE_SMALL', PDE_AP_NAME[apA]) |
						h.place('NV_MMU_VER2_DUAL_PDE_VOL_SMALL', apA === 'sysCoherent' ? 1 : 0) |
						h.place(
							field(apA, 'NV_MMU_VER2_DUAL_PDE_ADDRESS_SMALL_SYS', 'NV_MMU_VER2_DUAL_PDE_ADDRESS_SMALL_VID'),
							pd >> sh,
						);
					const raw = MMU_V2.encodeDualPde({ address: lpt, aperture: apB }, { address: pd, aperture: apA });
					expect(raw).toBe(want);
					const d = MMU_V2.decodeDualPde(raw);
					expect([d.big.address, d.big.aperture, d.small.address, d.small.aperture]).toEqual([
						lpt,
						apB,
						pd,
						apA,
					]);
				},
			),
			{ numRuns: 300 },
		);
	});

	it('v3 PDE and dual PDE: aperture, PCF as nouveau chooses, address in place', () => {
		const h = H('v3');
		const pcf = {
			video: 'VALID_CACHED_ATS_NOT_ALLOWED',
			sysCoherent: 'VALID_UNCACHED_ATS_ALLOWED',
			sysNonCoherent: 'VALID_CACHED_ATS_ALLOWED',
		};
		const sh = BigInt(h.value('NV_MMU_VER3_PDE_ADDRESS_SHIFT'));
		const bsh = BigInt(h.value('NV_MMU_VER3_DUAL_PDE_ADDRESS_BIG_SHIFT'));
		fc.assert(
			fc.property(
				fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
				fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
				fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
				fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
				(x, y, apA, apB) => {
					const pd = x & ~0xfffn;
					const lpt = y & ~0xffn;
					expect(MMU_V3.encodePde({ address: pd, aperture: apA })).toBe(
						h.placeEnum('NV_MMU_VER3_PDE_APERTURE', PDE_AP_NAME[apA]) |
							h.placeEnum('NV_MMU_VER3_PDE_PCF', pcf[apA]) |
							h.place('NV_MMU_VER3_PDE_ADDRESS', pd >> sh),
					);
					const raw = MMU_V3.encodeDualPde({ address: lpt, aperture: apB }, { address: pd, aperture: apA });
					expect(raw).toBe(
						h.placeEnum('NV_MMU_VER3_DUAL_PDE_APERTURE_BIG', PDE_AP_NAME[apB]) |
							h.placeEnum('NV_MMU_VER3_DUAL_PDE_PCF_BIG', pcf[apB]) |
							h.place('NV_MMU_VER3_DUAL_PDE_ADDRESS_BIG', lpt >> bsh) |
							h.placeEnum('NV_MMU_VER3_DUAL_PDE_APERTURE_SMALL', PDE_AP_NAME[apA]) |
							h.placeEnum('NV_MMU_VER3_DUAL_PDE_PCF_SMALL', pcf[apA]) |
							h.place('NV_MMU_VER3_DUAL_PDE_ADDRESS_SMALL', pd >> sh),
					);
					const d = MMU_V3.decodeDualPde(raw);
					expect([d.big.address, d.big.aperture, d.small.address, d.small.aperture]).toEqual([
						lpt,
						apB,
						pd,
						apA,
					]);
				},
			),
			{ numRuns: 300 },
		);
	});
});

describe('format selection and validation (no header needed)', () => {
	it('picks v2 for Turing/Ampere/Ada chips and v3 for Hopper from hal chip info', async () => {
		const { chipByName } = await import('@gspkit/hal');
		expect(mmuFormat(chipByName('TU102'))).toBe(MMU_V2);
		expect(mmuFormat(chipByName('GA102'))).toBe(MMU_V2);
		expect(mmuFormat(chipByName('AD102'))).toBe(MMU_V2);
		expect(mmuFormat(chipByName('GH100'))).toBe(MMU_V3);
		expect(mmuFormat('v3')).toBe(MMU_V3);
		expect(() => mmuFormat('v1' as 'v2')).toThrow(
			expect.objectContaining({ code: 'MMU_UNSUPPORTED_FORMAT', errno: 'ENODEV' }),
		);
	});

	it('geometry: 49-bit v2 (2+9+9+8+9+12) and 57-bit v3, table sizes and alignments', () => {
		const sum = (f: MmuFormatSpec) => f.dirs.reduce((s, d) => s + d.bits, 0) + f.spt.bits + 12;
		expect(sum(MMU_V2)).toBe(49);
		expect(sum(MMU_V3)).toBe(57);
		expect(MMU_V2.dirs.map((d) => [d.name, d.shift, d.entries, d.tableBytes])).toEqual([
			['PDE3', 47, 4, 32],
			['PDE2', 38, 512, 4096],
			['PDE1', 29, 512, 4096],
			['PDE0', 21, 256, 4096],
		]);
		expect(MMU_V3.dirs.map((d) => [d.name, d.shift, d.entries])).toEqual([
			['PDE4', 56, 2],
			['PDE3', 47, 512],
			['PDE2', 38, 512],
			['PDE1', 29, 512],
			['PDE0', 21, 256],
		]);
		expect([MMU_V2.lpt.tableBytes, MMU_V2.lpt.align, MMU_V2.spt.tableBytes, MMU_V2.spt.align]).toEqual([
			256, 256, 4096, 4096,
		]);
	});

	it('rejects kinds that do not fit or are INVALID, bad peers', () => {
		expect(() => MMU_V2.pteFlags({ aperture: 'video', kind: 7 })).toThrow(/kind/);
		expect(() => MMU_V3.pteFlags({ aperture: 'video', kind: 16 })).toThrow(/kind/);
		expect(() => MMU_V2.pteFlags({ aperture: 'video', peerId: 1 })).toThrow(/peer/);
		expect(() => MMU_V2.pteFlags({ aperture: 'peer', peerId: 8 })).toThrow(/peer/);
		expect(MMU_V2.pteFlags({ aperture: 'video', kind: 0xfe }).hi >>> 24).toBe(0xfe);
	});
});
