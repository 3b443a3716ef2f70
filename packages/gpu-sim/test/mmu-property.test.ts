/**
 * Property: random sets of mappings (4 KiB, 64 KiB, 2 MiB, 512 MiB; every aperture and permission; some
 * sparse), encoded by the test kit's tiny encoder, translate exactly as specified through the walker, with and
 * without the TLB, and every other address faults.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GpuMmu, type TranslateResult } from '../src/mmu/index.ts';
import {
	FakeMemory,
	type PageSpec,
	type PageTarget,
	set,
	TestPageTables,
	v2SparsePde,
	v2SparsePte,
	v3InvalidPte,
	v3SparsePde,
} from './mmu-testkit.ts';

type Format = 'v2' | 'v3';

interface Mapping {
	readonly shift: 12 | 16 | 21 | 29;
	readonly va: bigint;
	readonly sparse: boolean;
	readonly page: PageSpec;
}

const WINDOW = 16n << 20n; // 16 MiB windows: 4 KiB and 64 KiB pages share PDE0s often
const WINDOWS: Record<Format, readonly bigint[]> = {
	v2: [0n, 0x7f_c000_0000n, (1n << 47n) | (3n << 38n), (1n << 49n) - WINDOW],
	v3: [0n, (1n << 56n) | (0x1ffn << 47n), (1n << 47n) + (5n << 29n), (1n << 57n) - WINDOW],
};
/** 512 MiB pages live in their own 2 GiB window. */
const HUGE_WINDOW: Record<Format, bigint> = { v2: 5n << 33n, v3: (1n << 56n) + (7n << 33n) };

/** Largest physical address (exclusive) each field can hold. */
function paLimit(format: Format, aperture: PageTarget): bigint {
	if (aperture === 'video') return format === 'v2' ? 1n << 37n : 1n << 40n;
	if (aperture === 'peer') return format === 'v2' ? 1n << 37n : 1n << 52n;
	return format === 'v2' ? 1n << 58n : 1n << 52n;
}

function mappingArb(format: Format): fc.Arbitrary<Mapping> {
	return fc
		.record({
			shift: fc.constantFrom<12 | 16 | 21 | 29>(12, 12, 16, 16, 21, 29),
			window: fc.constantFrom(...WINDOWS[format]),
			index: fc.nat(),
			sparse: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
			aperture: fc.constantFrom<PageTarget>('video', 'peer', 'sys-coherent', 'sys-noncoherent'),
			paFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
			readOnly: fc.boolean(),
			privileged: fc.boolean(),
			atomicDisabled: fc.boolean(),
			volatile: fc.boolean(),
			peerId: fc.integer({ min: 0, max: 7 }),
			kind: fc.constantFrom(0, 6),
		})
		.map((r) => {
			const size = 1n << BigInt(r.shift);
			const va =
				r.shift === 29
					? HUGE_WINDOW[format] + BigInt(r.index % 4) * size
					: r.window + BigInt(r.index % Number(WINDOW / size)) * size;
			const pages = paLimit(format, r.aperture) / size;
			const pa = BigInt(Math.floor(r.paFraction * Number(pages))) * size;
			return {
				shift: r.shift,
				va,
				sparse: r.sparse,
				page: {
					aperture: r.aperture,
					pa: pa < pages * size ? pa : (pages - 1n) * size,
					readOnly: r.readOnly,
					privileged: r.privileged,
					atomicDisabled: r.atomicDisabled,
					volatile: r.volatile,
					peerId: r.peerId,
					kind: r.kind,
				},
			};
		});
}

/** Keep the mappings that do not overlap an earlier one. */
function disjoint(ms: readonly Mapping[]): Mapping[] {
	const kept: Mapping[] = [];
	for (const m of ms) {
		const end = m.va + (1n << BigInt(m.shift));
		if (kept.every((k) => end <= k.va || m.va >= k.va + (1n << BigInt(k.shift)))) kept.push(m);
	}
	return kept;
}

function build(format: Format, mappings: readonly Mapping[], tables: 'video' | 'sys-coherent') {
	const mem = new FakeMemory();
	const pt = new TestPageTables(format, mem, tables);
	const depth = pt.levels.length;
	for (const m of mappings) {
		if (!m.sparse) {
			pt.map(m.va, m.shift, m.page);
			continue;
		}
		if (m.shift === 12 || m.shift === 16) {
			pt.writePte(
				m.va,
				m.shift === 12 ? 'small' : 'big',
				format === 'v2' ? v2SparsePte() : v3InvalidPte('SPARSE'),
			);
		} else if (m.shift === 21) {
			const dual =
				format === 'v2' ? set(0n, 'VER2_DUAL_PDE_VOL_BIG', 1) : set(0n, 'VER3_DUAL_PDE_PCF_BIG', 1); // SPARSE_ATS_ALLOWED
			pt.writeDirEntry(m.va, depth - 1, dual);
		} else {
			pt.writeDirEntry(m.va, depth - 2, format === 'v2' ? v2SparsePde() : v3SparsePde());
		}
	}
	return { mem, pdb: { aperture: pt.root.aperture, address: pt.root.address } };
}

function check(m: Mapping, off: bigint, r: TranslateResult) {
	if (m.sparse) {
		expect(r.ok ? 'mapped' : r.fault.reason).toBe('sparse');
		return;
	}
	if (!r.ok)
		throw new Error(`mapping at ${m.va.toString(16)}+${off.toString(16)} faulted: ${r.fault.reason}`);
	expect(r.aperture).toBe(m.page.aperture);
	expect(r.pa).toBe(m.page.pa + off);
	expect(r.pageSize).toBe(2 ** m.shift);
	expect(r.readOnly).toBe(m.page.readOnly);
	expect(r.privileged).toBe(m.page.privileged);
	expect(r.atomicDisabled).toBe(m.page.atomicDisabled);
	expect(r.volatile).toBe(m.page.volatile);
	expect(r.kind).toBe(m.page.kind);
	expect(r.peerId).toBe(m.page.aperture === 'peer' ? m.page.peerId : undefined);
}

describe.each(['v2', 'v3'] as const)('MMU %s: random mappings translate exactly', (format) => {
	it('every mapped byte translates, every other address faults, with and without the TLB', () => {
		fc.assert(
			fc.property(
				fc.array(mappingArb(format), { minLength: 1, maxLength: 40 }).map(disjoint),
				fc.array(
					fc.tuple(
						fc.constantFrom(...WINDOWS[format], HUGE_WINDOW[format]),
						fc.bigInt({ min: 0n, max: (1n << 31n) - 1n }),
					),
					{
						maxLength: 40,
					},
				),
				fc.array(fc.bigInt({ min: 0n, max: (1n << (format === 'v2' ? 49n : 57n)) - 1n }), { maxLength: 10 }),
				fc.constantFrom('video' as const, 'sys-coherent' as const),
				(mappings, nearProbes, farProbes, tables) => {
					const { mem, pdb } = build(format, mappings, tables);
					const cached = new GpuMmu({ format, memory: mem, hugePages512M: true });
					const uncached = new GpuMmu({ format, memory: mem, hugePages512M: true, tlb: { enabled: false } });
					for (const m of mappings) {
						const size = 1n << BigInt(m.shift);
						for (const off of [0n, size - 1n, (size * 5n) / 7n]) {
							for (const mmu of [uncached, cached, cached]) {
								check(m, off, mmu.translate(pdb, m.va + off, 'read', { privileged: true }));
							}
							if (m.sparse) continue;
							const user = cached.translate(pdb, m.va + off, 'write');
							const want = m.page.privileged ? 'privilege' : m.page.readOnly ? 'read-only' : 'ok';
							expect(user.ok ? 'ok' : user.fault.reason).toBe(want);
							const atomic = cached.translate(pdb, m.va + off, 'atomic', { privileged: true });
							const wantAtomic = m.page.readOnly ? 'read-only' : m.page.atomicDisabled ? 'atomic' : 'ok';
							expect(atomic.ok ? 'ok' : atomic.fault.reason).toBe(wantAtomic);
						}
					}
					const probes = [
						...nearProbes.map(([w, o]) => w + (w === HUGE_WINDOW[format] ? o : o % WINDOW)),
						...farProbes,
					];
					for (const va of probes) {
						const hit = mappings.find((m) => va >= m.va && va < m.va + (1n << BigInt(m.shift)));
						for (const mmu of [uncached, cached]) {
							const r = mmu.translate(pdb, va, 'read', { privileged: true });
							if (hit) check(hit, va - hit.va, r);
							else
								expect(r.ok ? 'mapped' : r.fault.reason, `va ${va.toString(16)}`).toMatch(
									/^invalid-(pde|pte)$/,
								);
						}
					}
				},
			),
			{ numRuns: 150 },
		);
	});
});
