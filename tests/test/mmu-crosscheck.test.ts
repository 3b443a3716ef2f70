/**
 * Ground truth for the page-table builder: `@gspkit/mmu` writes page tables into the simulated GPU's DMA
 * memory and invalidates through BAR0; `@gspkit/gpu-sim`'s MMU — written independently from NVIDIA's
 * headers — walks them (through its TLB, which stays stale unless the driver invalidates). After every
 * commit, every probed VA must translate to what a 4 KiB-granular oracle says, unmapped pages must fault,
 * and sparse pages must report sparse.
 */

import { createSimulatedGpu, PCI, type SimulatedGpu } from '@gspkit/gpu-sim';
import { chipByName } from '@gspkit/hal';
import { type BackingObject, isMmuError, type PteAperture, type VaOp, VaSpace } from '@gspkit/mmu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const PAGE = 0x1000n;
const BASE = 0x1_0000_0000n; // 4 GiB: clear of RM's reserved range and of VA 0
const WINDOW_PAGES = 16_384; // 64 MiB of VA
const SPARSE_START = BASE + 32n * 0x10_0000n;
const SPARSE_SIZE = 8n * 0x10_0000n;

/** Two backing objects, each physically contiguous and 2 MiB aligned so every page size is possible. */
const objects: BackingObject[] = [
	{ handle: 'vram', aperture: 'video', extents: [{ address: 0x2_0000_0000n, size: 0x800_0000n }] },
	{ handle: 'sys', aperture: 'sysCoherent', extents: [{ address: 0x40_0000_0000n, size: 0x800_0000n }] },
];

const SIM_APERTURE: Record<PteAperture, string> = {
	video: 'video',
	peer: 'peer',
	sysCoherent: 'sys-coherent',
	sysNonCoherent: 'sys-noncoherent',
};

interface OracleEntry {
	readonly aperture: PteAperture;
	readonly pa: bigint;
}

/** What each 4 KiB page should translate to. */
class Oracle {
	readonly pages = new Map<bigint, OracleEntry>();
	readonly sparse: { start: bigint; end: bigint }[] = [];

	isSparse(va: bigint): boolean {
		return this.sparse.some((r) => va >= r.start && va < r.end);
	}

	apply(op: VaOp): void {
		if (op.op === 'map') {
			const extent = op.object.extents[0]!;
			for (let off = 0n; off < op.size; off += PAGE) {
				this.pages.set(op.va + off, {
					aperture: op.object.aperture,
					pa: extent.address + (op.offset ?? 0n) + off,
				});
			}
		} else if (op.op === 'unmap') {
			for (let off = 0n; off < op.size; off += PAGE) this.pages.delete(op.va + off);
		} else if (op.op === 'map-sparse') {
			this.sparse.push({ start: op.va, end: op.va + op.size });
		}
	}
}

function setup(chip: 'ga102' | 'gh100' | 'tu102'): { gpu: SimulatedGpu; vas: VaSpace } {
	const gpu = createSimulatedGpu({ chip, dmaPoolSize: 256 << 20 });
	gpu.config.write16(
		PCI.COMMAND,
		gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER | PCI.COMMAND_MEMORY,
	);
	// Tables in the GPU's DMA memory; TLB invalidation through BAR0 into the simulated MMU's registers.
	const vas = new VaSpace({ format: chipByName(chip), platform: gpu });
	return { gpu, vas };
}

function expectTranslation(gpu: SimulatedGpu, vas: VaSpace, oracle: Oracle, va: bigint): void {
	const pdb = vas.pdb;
	const result = gpu.mmu.translate(
		{ aperture: SIM_APERTURE[pdb.aperture as PteAperture] as 'video', address: pdb.address },
		va + 0x123n,
		'read',
	);
	const want = oracle.pages.get(va);
	if (want) {
		stats.mappedProbes++;
		expect(result, `VA 0x${va.toString(16)}`).toMatchObject({
			ok: true,
			aperture: SIM_APERTURE[want.aperture],
			pa: want.pa + 0x123n,
		});
	} else if (!result.ok) {
		// An unmapped page faults at whatever level has no table below it; a sparse one says so.
		const reasons = oracle.isSparse(va) ? ['sparse'] : ['invalid-pte', 'invalid-pde'];
		expect(reasons, `VA 0x${va.toString(16)}: ${result.fault.reason}`).toContain(result.fault.reason);
	} else {
		expect.fail(`VA 0x${va.toString(16)} translated to 0x${result.pa.toString(16)} but is unmapped`);
	}
}

const pageIndex = fc.integer({ min: 0, max: WINDOW_PAGES - 1 });
/** Sizes biased towards the three page sizes' alignments. */
const span = fc.oneof(
	fc.integer({ min: 1, max: 64 }).map((n) => BigInt(n) * PAGE),
	fc.integer({ min: 1, max: 8 }).map((n) => BigInt(n) * 0x1_0000n),
	fc.integer({ min: 1, max: 3 }).map((n) => BigInt(n) * 0x20_0000n),
);
const align = fc.constantFrom(PAGE, 0x1_0000n, 0x20_0000n);
const opArb = fc.oneof(
	{
		weight: 3,
		arbitrary: fc.record({
			kind: fc.constant('map' as const),
			page: pageIndex,
			span,
			align,
			obj: fc.integer({ min: 0, max: 1 }),
			objPage: fc.integer({ min: 0, max: 8191 }),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant('unmap' as const), page: pageIndex, span, align }) },
);

interface RawOp {
	readonly kind: 'map' | 'unmap';
	readonly page: number;
	readonly span: bigint;
	readonly align: bigint;
	readonly obj?: number;
	readonly objPage?: number;
}

/** A generated op inside the window, or `undefined` when it falls outside. */
function toVaOp(raw: RawOp): VaOp | undefined {
	const va = (BASE + BigInt(raw.page) * PAGE) & ~(raw.align - 1n);
	const size = raw.span;
	if (va < BASE || va + size > BASE + BigInt(WINDOW_PAGES) * PAGE) return undefined;
	if (raw.kind === 'unmap') return { op: 'unmap', va, size };
	const object = objects[raw.obj ?? 0]!;
	// Keep the object offset congruent with the VA modulo 2 MiB so large pages stay possible.
	const offset = ((BigInt(raw.objPage ?? 0) * PAGE) & ~0x1f_ffffn) + (va & 0x1f_ffffn);
	if (offset + size > object.extents[0]!.size) return undefined;
	return { op: 'map', va, size, object, offset };
}

/** Counters that show the property really exercised mappings (checked at the end). */
const stats = { committed: 0, mappedProbes: 0 };

describe('mmu page tables walked by the simulated MMU', () => {
	for (const chip of ['ga102', 'gh100'] as const) {
		it(`${chip}: random map/unmap sequences translate as the oracle says after every commit`, async () => {
			stats.committed = 0;
			stats.mappedProbes = 0;
			await fc.assert(
				fc.asyncProperty(
					fc.array(opArb, { minLength: 1, maxLength: 25 }),
					fc.array(pageIndex, { minLength: 16, maxLength: 16 }),
					async (raws, probes) => {
						const { gpu, vas } = setup(chip);
						const oracle = new Oracle();
						try {
							const sparse: VaOp = { op: 'map-sparse', va: SPARSE_START, size: SPARSE_SIZE };
							vas.apply([sparse]);
							oracle.apply(sparse);
							for (const raw of raws) {
								const op = toVaOp(raw);
								if (!op) continue;
								let prepared: ReturnType<VaSpace['prepare']>;
								try {
									prepared = vas.prepare([op]);
								} catch (error) {
									// Only the documented refusal: a backed map straddling the sparse border (ENOSPC).
									expect(isMmuError(error) && error.errno).toBe('ENOSPC');
									continue;
								}
								vas.commit(prepared);
								stats.committed++;
								oracle.apply(op);
								const touched = [op.va, op.va + op.size - PAGE, op.va - PAGE, op.va + op.size];
								for (const va of [...touched, ...probes.map((p) => BASE + BigInt(p) * PAGE)]) {
									expectTranslation(gpu, vas, oracle, va);
								}
							}
							// Everything unmapped: page-table memory returns to the bare root (plus the sparse region).
							vas.apply([{ op: 'unmap-sparse', va: SPARSE_START, size: SPARSE_SIZE }]);
							vas.apply([{ op: 'unmap', va: BASE, size: BigInt(WINDOW_PAGES) * PAGE }]);
							expect(vas.pageTables.tables).toBe(1);
						} finally {
							await gpu.close();
						}
					},
				),
				{ numRuns: 60 },
			);
			expect(stats.committed).toBeGreaterThan(200);
			expect(stats.mappedProbes).toBeGreaterThan(300);
		});
	}

	it('a commit that skipped the TLB invalidate would be caught: the simulated TLB keeps old translations', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 64 << 20 });
		gpu.config.write16(
			PCI.COMMAND,
			gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER | PCI.COMMAND_MEMORY,
		);
		const quiet = new VaSpace({ format: chipByName('ga102'), platform: gpu, invalidate: null });
		const obj = objects[0]!;
		quiet.apply([{ op: 'map', va: BASE, size: PAGE, object: obj, offset: 0n }]);
		const sim = {
			aperture: SIM_APERTURE[quiet.pdb.aperture as PteAperture] as 'video',
			address: quiet.pdb.address,
		};
		expect(gpu.mmu.translate(sim, BASE)).toMatchObject({ ok: true, pa: obj.extents[0]!.address });
		quiet.apply([{ op: 'map', va: BASE, size: PAGE, object: obj, offset: PAGE }]);
		// Without an invalidate the simulated MMU still uses the cached translation.
		expect(gpu.mmu.translate(sim, BASE)).toMatchObject({ ok: true, pa: obj.extents[0]!.address });
		await gpu.close();
	});
});
