/**
 * The tables a VA space writes (through the hot path), read back with nothing but dev_mmu.h: a third,
 * header-only walk that checks every PDE and PTE field at the header's bit positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackingObject, PteAperture, TableReader, VaSpace } from '../src/index.ts';
import { type Header, loadHeaders } from './helpers/dev-mmu.ts';
import { chunked, contig, KiB, MiB, physOf, rig } from './helpers/setup.ts';

const headers = loadHeaders();
const missing = 'missing' in headers ? headers.missing : null;
if (missing !== null) console.warn(`[mmu] skipping header-based table checks: ${missing}`);

/** Reference B.1 geometry, restated here so the walk does not use the package's level tables. */
const GEOMETRY = {
	v2: { dirs: [47, 38, 29], pde0: 21, vaBits: 49 },
	v3: { dirs: [56, 47, 38, 29], pde0: 21, vaBits: 57 },
} as const;

const AP = {
	video: 'VIDEO_MEMORY',
	peer: 'PEER_MEMORY',
	sysCoherent: 'SYSTEM_COHERENT_MEMORY',
	sysNonCoherent: 'SYSTEM_NON_COHERENT_MEMORY',
};

type Walk = { kind: 'pte'; raw: bigint; shift: number } | { kind: 'none'; raw: bigint; where: string };

/** Walk with header fields only. Also checks that every PDE points at coherent system memory as the rig allocates. */
function headerWalk(h: Header, v: 'v2' | 'v3', read: TableReader, root: bigint, va: bigint): Walk {
	const V = v === 'v2' ? 'NV_MMU_VER2' : 'NV_MMU_VER3';
	const g = GEOMETRY[v];
	const get = (name: string, raw: bigint) => h.get(`${V}_${name}`, raw);
	const val = (name: string) => BigInt(h.value(`${V}_${name}`));
	const tbl = (a: bigint) => {
		const w = read(a, 'sysCoherent');
		if (w === undefined) throw new Error(`no table at 0x${a.toString(16)}`);
		return w;
	};
	const q = (w: Uint32Array, i: number) => BigInt(w[i] as number) | (BigInt(w[i + 1] as number) << 32n);
	let table = tbl(root);
	for (const shift of g.dirs) {
		const idx =
			Number((va >> BigInt(shift)) & 511n) & (shift === 56 ? 1 : shift === 47 && v === 'v2' ? 3 : 511);
		const raw = q(table, idx * 2);
		if (get('PDE_IS_PTE', raw) === val('PDE_IS_PTE_TRUE')) return { kind: 'pte', raw, shift };
		if (get('PDE_APERTURE', raw) === val('PDE_APERTURE_INVALID'))
			return { kind: 'none', raw, where: `dir${shift}` };
		expect(get('PDE_APERTURE', raw)).toBe(val('PDE_APERTURE_SYSTEM_COHERENT_MEMORY'));
		if (v === 'v2') expect(get('PDE_VOL', raw)).toBe(val('PDE_VOL_TRUE'));
		else expect(get('PDE_PCF', raw)).toBe(val('PDE_PCF_VALID_UNCACHED_ATS_ALLOWED'));
		const addr = get(v === 'v2' ? 'PDE_ADDRESS_SYS' : 'PDE_ADDRESS', raw) << val('PDE_ADDRESS_SHIFT');
		table = tbl(addr);
	}
	const i0 = Number((va >> 21n) & 255n);
	const raw = q(table, i0 * 4) | (q(table, i0 * 4 + 2) << 64n);
	if (get('DUAL_PDE_IS_PTE', raw) === val('DUAL_PDE_IS_PTE_TRUE'))
		return { kind: 'pte', raw: raw & ((1n << 64n) - 1n), shift: 21 };
	const bigAp = get('DUAL_PDE_APERTURE_BIG', raw);
	const smallAp = get('DUAL_PDE_APERTURE_SMALL', raw);
	const inv = val('DUAL_PDE_APERTURE_BIG_INVALID');
	if (bigAp !== inv) {
		expect(bigAp).toBe(val('DUAL_PDE_APERTURE_BIG_SYSTEM_COHERENT_MEMORY'));
		if (v === 'v2') expect(get('DUAL_PDE_VOL_BIG', raw)).toBe(1n);
		else expect(get('DUAL_PDE_PCF_BIG', raw)).toBe(val('DUAL_PDE_PCF_BIG_VALID_UNCACHED_ATS_ALLOWED'));
		const a =
			get(v === 'v2' ? 'DUAL_PDE_ADDRESS_BIG_SYS' : 'DUAL_PDE_ADDRESS_BIG', raw) <<
			val('DUAL_PDE_ADDRESS_BIG_SHIFT');
		const lpte = q(tbl(a), Number((va >> 16n) & 31n) * 2);
		if (get('PTE_VALID', lpte) === 1n) return { kind: 'pte', raw: lpte, shift: 16 };
		if (lpte !== 0n) return { kind: 'none', raw: lpte, where: 'LPT' };
	}
	if (smallAp === inv) return { kind: 'none', raw, where: 'PDE0' };
	expect(smallAp).toBe(val('DUAL_PDE_APERTURE_SMALL_SYSTEM_COHERENT_MEMORY'));
	if (v === 'v2') expect(get('DUAL_PDE_VOL_SMALL', raw)).toBe(1n);
	else expect(get('DUAL_PDE_PCF_SMALL', raw)).toBe(val('DUAL_PDE_PCF_SMALL_VALID_UNCACHED_ATS_ALLOWED'));
	const a =
		get(v === 'v2' ? 'DUAL_PDE_ADDRESS_SMALL_SYS' : 'DUAL_PDE_ADDRESS_SMALL', raw) <<
		val('DUAL_PDE_ADDRESS_SHIFT');
	const spte = q(tbl(a), Number((va >> 12n) & 511n) * 2);
	if (get('PTE_VALID', spte) === 1n) return { kind: 'pte', raw: spte, shift: 12 };
	return { kind: 'none', raw: spte, where: 'SPT' };
}

interface Expect {
	pa: bigint;
	aperture: PteAperture;
	peerId: number;
	ro: boolean;
	priv: boolean;
	vol: boolean;
	noAtomic: boolean;
	kind: number;
}

function checkPte(h: Header, v: 'v2' | 'v3', w: Walk, va: bigint, e: Expect): void {
	expect(w.kind).toBe('pte');
	if (w.kind !== 'pte') return;
	const raw = w.raw;
	const V = v === 'v2' ? 'NV_MMU_VER2_PTE' : 'NV_MMU_VER3_PTE';
	const get = (n: string) => h.get(`${V}_${n}`, raw);
	const mask = (1n << BigInt(w.shift)) - 1n;
	expect(get('VALID')).toBe(BigInt(h.value(`${V}_VALID_TRUE`)));
	expect(get('APERTURE')).toBe(BigInt(h.value(`${V}_APERTURE_${AP[e.aperture]}`)));
	const vid = e.aperture === 'video' || (v === 'v2' && e.aperture === 'peer');
	const addrField = v === 'v2' ? (vid ? 'ADDRESS_VID' : 'ADDRESS_SYS') : vid ? 'ADDRESS_VID' : 'ADDRESS_SYS';
	const page = get(addrField) << BigInt(h.value(`${V}_ADDRESS_SHIFT`));
	expect((page & ~mask) + (va & mask)).toBe(e.pa);
	expect(page & mask).toBe(0n);
	expect(get('KIND')).toBe(BigInt(e.kind));
	if (v === 'v2') {
		expect(get('VOL')).toBe(e.vol ? 1n : 0n);
		expect(get('PRIVILEGE')).toBe(e.priv ? 1n : 0n);
		expect(get('READ_ONLY')).toBe(e.ro ? 1n : 0n);
		expect(get('ATOMIC_DISABLE')).toBe(e.noAtomic ? 1n : 0n);
		// ADDRESS_VID_PEER and COMPTAGLINE share bits with ADDRESS_SYS: they only exist for video/peer pages.
		if (vid) {
			expect(get('ADDRESS_VID_PEER')).toBe(BigInt(e.aperture === 'peer' ? e.peerId : 0));
			expect(get('COMPTAGLINE')).toBe(0n);
		} else expect((raw >> 54n) & 3n).toBe(0n);
		expect(get('ENCRYPTED')).toBe(0n);
	} else {
		const name = [
			e.priv ? 'PRIVILEGE' : 'REGULAR',
			e.ro ? 'RO' : 'RW',
			e.noAtomic ? 'NO_ATOMIC' : 'ATOMIC',
			e.vol ? 'UNCACHED' : 'CACHED',
			'ACD',
		].join('_');
		expect(get('PCF')).toBe(BigInt(h.value(`${V}_PCF_${name}`)));
		expect(get('PEER_ID')).toBe(BigInt(e.peerId));
	}
}

const OBJS: BackingObject[] = [
	contig(1, 0x1_4000_0000n, 64n * MiB, 'video'),
	chunked(2, 0x20_0000_0000n, 64n * KiB, 512, 'sysCoherent'),
	chunked(3, 0x7ff_ffff_0000_0000n >> 8n, 4096n, 2048, 'sysNonCoherent'),
	{ handle: 4, aperture: 'peer', peerId: 6, extents: [{ address: 0x10_0000_0000n, size: 8n * MiB }] },
];

for (const v of ['v2', 'v3'] as const) {
	describe.skipIf(missing !== null)(`${v} tables written by the VA space, read with dev_mmu.h only`, () => {
		it('every mapped page: PDE chain and PTE fields at the header positions (property)', () => {
			const h = (headers as { v2: Header; v3: Header })[v];
			fc.assert(
				fc.property(
					fc.array(
						fc.record({
							slot: fc.nat(63),
							obj: fc.nat(OBJS.length - 1),
							gran: fc.constantFrom(1, 16, 512),
							len: fc.integer({ min: 1, max: 4 }),
							off: fc.nat(7),
							ro: fc.boolean(),
							priv: fc.boolean(),
							noAtomic: fc.boolean(),
							kind: fc.constantFrom(0, 6, 8),
							hi: fc.nat(2 ** 20),
						}),
						{ minLength: 1, maxLength: 6 },
					),
					(specs) => {
						const r = rig(v);
						const mapped: {
							va: bigint;
							size: bigint;
							obj: BackingObject;
							off: bigint;
							s: (typeof specs)[0];
						}[] = [];
						for (const s of specs) {
							// Each mapping in its own 16 MiB slot somewhere in the VA, so they never overlap.
							const slotVa =
								((BigInt(s.hi) << 30n) % (1n << BigInt(GEOMETRY[v].vaBits - 1))) + BigInt(s.slot) * 16n * MiB;
							const va = slotVa - (slotVa % (16n * MiB));
							if (mapped.some((m) => m.va === va)) continue;
							const g = BigInt(s.gran) * 4096n;
							const size = BigInt(s.len) * g;
							const obj = OBJS[s.obj] as BackingObject;
							const objSize = obj.extents.reduce((t, e) => t + e.size, 0n);
							const off = (((BigInt(s.off) * g) % (objSize - size + 1n)) / g) * g;
							r.apply([
								{
									op: 'map',
									va,
									size,
									object: obj,
									offset: off,
									readOnly: s.ro,
									privileged: s.priv,
									atomicDisable: s.noAtomic,
									kind: s.kind,
								},
							]);
							mapped.push({ va, size, obj, off, s });
						}
						for (const m of mapped) {
							for (const delta of [0n, m.size / 2n + 0x10n, m.size - 1n]) {
								const va = m.va + delta;
								const w = headerWalk(h, v, r.vas.readTable, r.vas.pdb.address, va);
								checkPte(h, v, w, va, {
									pa: physOf(m.obj, m.off + delta),
									aperture: m.obj.aperture,
									peerId: m.obj.aperture === 'peer' ? 6 : 0,
									ro: m.s.ro,
									priv: m.s.priv,
									vol: m.obj.aperture === 'sysCoherent',
									noAtomic: m.s.noAtomic,
									kind: m.s.kind,
								});
							}
							const after = headerWalk(h, v, r.vas.readTable, r.vas.pdb.address, m.va + m.size);
							expect(after.kind).toBe('none');
						}
					},
				),
				{ numRuns: 60 },
			);
		});

		it('sparse entries at each level and the LPT marker are exactly the header encodings', () => {
			const h = (headers as { v2: Header; v3: Header })[v];
			const V = v === 'v2' ? 'NV_MMU_VER2' : 'NV_MMU_VER3';
			const r = rig(v);
			const base = 0x40_0000_0000n;
			const obj = contig(1, 0x1_0000_0000n, 4n * MiB);
			r.apply([
				{ op: 'map-sparse', va: base, size: 1n << 38n },
				{ op: 'map', va: base + 64n * KiB, size: 64n * KiB, object: obj },
				{ op: 'map', va: base + 4n * KiB, size: 4n * KiB, object: obj },
			]);
			const sparsePte = v === 'v2' ? h.place(`${V}_PTE_VOL`, 1) : h.placeEnum(`${V}_PTE_PCF`, 'SPARSE');
			const marker =
				v === 'v2' ? h.place(`${V}_PTE_PRIVILEGE`, 1) : h.placeEnum(`${V}_PTE_PCF`, 'NO_VALID_4KB_PAGE');
			const sparsePde =
				v === 'v2' ? h.place(`${V}_PDE_VOL`, 1) : h.placeEnum(`${V}_PDE_PCF`, 'SPARSE_ATS_ALLOWED');
			const sparseDual =
				v === 'v2'
					? h.place(`${V}_DUAL_PDE_VOL_BIG`, 1)
					: h.placeEnum(`${V}_DUAL_PDE_PCF_BIG`, 'SPARSE_ATS_ALLOWED');
			const walk = (va: bigint) => headerWalk(h, v, r.vas.readTable, r.vas.pdb.address, va);
			// Sub-block 2 of the first 2 MiB: sparse LPTE (the LPT exists because of the 64 KiB page).
			expect(walk(base + 128n * KiB)).toEqual({ kind: 'none', raw: sparsePte, where: 'LPT' });
			// Sub-block 0 is small (4 KiB page inside): LPTE 0, SPTEs sparse around the mapping.
			expect(walk(base)).toEqual({ kind: 'none', raw: sparsePte, where: 'SPT' });
			// Second 2 MiB: a sparse dual PDE; second 512 MiB: a sparse PDE1 entry.
			expect(walk(base + 2n * MiB)).toEqual({ kind: 'none', raw: sparseDual, where: 'PDE0' });
			expect(walk(base + 512n * MiB)).toEqual({ kind: 'none', raw: sparsePde, where: 'dir29' });
			// The LPT marker: a 64 KiB page in a block without sparse.
			r.apply([
				{ op: 'map', va: 0x80_0000_0000n, size: 64n * KiB, object: obj },
				{ op: 'map', va: 0x80_0002_0000n, size: 4n * KiB, object: obj },
			]);
			expect(walk(0x80_0001_0000n)).toEqual({ kind: 'none', raw: marker, where: 'LPT' });
			expect(walk(0x80_0002_1000n)).toEqual({ kind: 'none', raw: 0n, where: 'SPT' });
		});
	});
}

export type { VaSpace };
