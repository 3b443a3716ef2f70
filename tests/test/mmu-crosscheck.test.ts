/**
 * Ground truth for the page-table builder: `@gspkit/mmu` writes page tables into the simulated GPU's DMA
 * memory and invalidates through BAR0; `@gspkit/gpu-sim`'s MMU — written independently from NVIDIA's
 * headers — walks them (through its TLB, which stays stale unless the driver invalidates).
 *
 * Random batches of map / unmap / map-sparse / unmap-sparse run against a 4 KiB-granular oracle that also
 * predicts which batches `prepare` must refuse (and with which code). After every commit each probed VA must
 * translate to the oracle's aperture, address, peer and attributes (read-only, privileged, atomic-disable,
 * volatile), the simulated MMU must enforce those attributes (writes to read-only pages, unprivileged reads
 * of privileged pages and atomics to atomic-disabled pages fault), unmapped pages must fault and sparse ones
 * must report sparse. The 64 MiB window sits at 4 GiB, across a PDE2-entry boundary (256 GiB: two PDE1
 * tables) or across a PDE3-entry boundary (128 TiB: two PDE2 tables). At the end everything is unmapped and
 * the root table, read back through the simulated device, is all zero.
 */

import { createSimulatedGpu, type PageAperture, PCI, type SimulatedGpu } from '@gspkit/gpu-sim';
import { chipByName } from '@gspkit/hal';
import { type BackingObject, isMmuError, type PteAperture, type VaOp, VaSpace } from '@gspkit/mmu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const PAGE = 0x1000n;
const MiB = 0x10_0000n;
const WINDOW_PAGES = 16_384; // 64 MiB of VA
const HALF_WINDOW = BigInt(WINDOW_PAGES / 2) * PAGE;

/** Where the window starts (2 MiB aligned, so every page size is possible inside it). */
const WINDOWS = [
	{ name: '4 GiB', base: 0x1_0000_0000n },
	{ name: 'across 256 GiB (PDE2 entry / PDE1 table boundary)', base: (1n << 38n) - HALF_WINDOW },
	{ name: 'across 128 TiB (PDE3 entry / PDE2 table boundary)', base: (1n << 47n) - HALF_WINDOW },
] as const;

const OBJECT_SIZE = 0x800_0000n; // 128 MiB
/** 64 KiB pieces in descending physical order with gaps: no two neighbours are contiguous. */
const chunks = Array.from({ length: 512 }, (_, i) => ({
	address: 0x60_0000_0000n + BigInt(511 - i) * 0x2_0000n,
	size: 0x1_0000n,
}));

/**
 * One object per PTE aperture (each physically contiguous and 2 MiB aligned so large pages are possible), plus
 * a scattered one whose pieces force 4 KiB / 64 KiB pages.
 */
const objects: BackingObject[] = [
	{ handle: 'vram', aperture: 'video', extents: [{ address: 0x2_0000_0000n, size: OBJECT_SIZE }] },
	{ handle: 'sys', aperture: 'sysCoherent', extents: [{ address: 0x40_0000_0000n, size: OBJECT_SIZE }] },
	{ handle: 'sysnc', aperture: 'sysNonCoherent', extents: [{ address: 0x80_0000_0000n, size: OBJECT_SIZE }] },
	{ handle: 'peer', aperture: 'peer', peerId: 5, extents: [{ address: 0x3_0000_0000n, size: OBJECT_SIZE }] },
	{ handle: 'scattered', aperture: 'sysCoherent', extents: chunks },
];
const objectSize = (o: BackingObject): bigint => o.extents.reduce((s, e) => s + e.size, 0n);

const SIM_APERTURE: Record<PteAperture, PageAperture> = {
	video: 'video',
	peer: 'peer',
	sysCoherent: 'sys-coherent',
	sysNonCoherent: 'sys-noncoherent',
};

/** The physical address of byte `offset` of `object`. */
function physOf(object: BackingObject, offset: bigint): bigint {
	let at = 0n;
	for (const e of object.extents) {
		if (offset < at + e.size) return e.address + (offset - at);
		at += e.size;
	}
	throw new Error(`offset 0x${offset.toString(16)} is past the end of ${String(object.handle)}`);
}

// ------------------------------------------------------------------------------------------------ oracle

/** A mapping in window page units: `[start, end)` showing `object` from object page `objStart`. */
interface OMap {
	start: number;
	end: number;
	object: BackingObject;
	objStart: number;
	readOnly: boolean;
	privileged: boolean;
	atomicDisable: boolean;
	volatile: boolean;
}
interface Span {
	start: number;
	end: number;
}

/** Intervals of mappings and sparse regions, with drm_gpuvm's rules; independent of mmu's planner. */
class Oracle {
	maps: OMap[] = [];
	regions: Span[] = [];

	clone(): Oracle {
		const o = new Oracle();
		o.maps = this.maps.map((m) => ({ ...m }));
		o.regions = this.regions.map((r) => ({ ...r }));
		return o;
	}

	#cut(s: number, e: number): void {
		const out: OMap[] = [];
		for (const m of this.maps) {
			if (m.end <= s || m.start >= e) {
				out.push(m);
				continue;
			}
			if (m.start < s) out.push({ ...m, end: s });
			if (m.end > e) out.push({ ...m, start: e, objStart: m.objStart + (e - m.start) });
		}
		this.maps = out;
	}

	/** Apply one op (page units); returns the `MMU_*` code `prepare` must refuse it with, or null. */
	apply(op: VaOp, base: bigint, unbound: Span[]): string | null {
		const s = Number((op.va - base) / PAGE);
		const e = s + Number(op.size / PAGE);
		const overlaps = (a: Span) => a.start < e && a.end > s;
		switch (op.op) {
			case 'map': {
				if (unbound.some(overlaps)) return 'MMU_REGION_BUSY';
				const regs = this.regions.filter(overlaps);
				if (regs.length > 1 || (regs.length === 1 && (regs[0]!.start > s || regs[0]!.end < e))) {
					return 'MMU_SPARSE_STRADDLE';
				}
				this.#cut(s, e);
				this.maps.push({
					start: s,
					end: e,
					object: op.object,
					objStart: Number((op.offset ?? 0n) / PAGE),
					readOnly: op.readOnly ?? false,
					privileged: op.privileged ?? false,
					atomicDisable: op.atomicDisable ?? false,
					volatile: op.volatile ?? op.object.aperture === 'sysCoherent',
				});
				return null;
			}
			case 'unmap':
				this.#cut(s, e);
				return null;
			case 'map-sparse':
				if (unbound.some(overlaps)) return 'MMU_REGION_BUSY';
				if (this.regions.some(overlaps)) return 'MMU_SPARSE_OVERLAP';
				if (this.maps.some((m) => overlaps(m) && (m.start < s || m.end > e))) return 'MMU_SPARSE_STRADDLE';
				this.regions.push({ start: s, end: e });
				return null;
			case 'unmap-sparse': {
				const i = this.regions.findIndex((r) => r.start === s && r.end === e);
				if (i < 0) return 'MMU_NO_SUCH_REGION';
				this.#cut(s, e);
				this.regions.splice(i, 1);
				unbound.push({ start: s, end: e });
				return null;
			}
		}
	}

	at(page: number): OMap | 'sparse' | 'invalid' {
		const m = this.maps.find((x) => x.start <= page && page < x.end);
		if (m) return m;
		return this.regions.some((r) => r.start <= page && page < r.end) ? 'sparse' : 'invalid';
	}
}

// --------------------------------------------------------------------------------------------- the rig

function setup(chip: 'ga102' | 'gh100'): { gpu: SimulatedGpu; vas: VaSpace } {
	const gpu = createSimulatedGpu({ chip, dmaPoolSize: 256 << 20 });
	gpu.config.write16(
		PCI.COMMAND,
		gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER | PCI.COMMAND_MEMORY,
	);
	// Tables in the GPU's DMA memory; TLB invalidation through BAR0 into the simulated MMU's registers.
	const vas = new VaSpace({ format: chipByName(chip), platform: gpu });
	return { gpu, vas };
}

/** Counters that show the property really exercised each feature (checked at the end). */
const stats = {
	committed: 0,
	refused: 0,
	mapped: 0,
	sparse: 0,
	readOnlyFaults: 0,
	privilegeFaults: 0,
	atomicFaults: 0,
	byAperture: new Map<string, number>(),
	windows: new Set<string>(),
};

function simPdb(vas: VaSpace): { aperture: 'sys-coherent' | 'sys-noncoherent' | 'video'; address: bigint } {
	return {
		aperture: SIM_APERTURE[vas.pdb.aperture as PteAperture] as 'sys-coherent',
		address: vas.pdb.address,
	};
}

/** Check one window page against the oracle through the simulated MMU. */
function expectPage(gpu: SimulatedGpu, vas: VaSpace, oracle: Oracle, base: bigint, page: number): void {
	if (page < 0 || page >= WINDOW_PAGES) return;
	const va = base + BigInt(page) * PAGE;
	const at = `VA 0x${va.toString(16)}`;
	const pdb = simPdb(vas);
	const want = oracle.at(page);
	const read = gpu.mmu.translate(pdb, va + 0x123n, 'read', { privileged: true });
	if (want === 'invalid' || want === 'sparse') {
		if (read.ok) expect.fail(`${at} translated to 0x${read.pa.toString(16)} but is ${want}`);
		// An unmapped page faults at whatever level has no table below it; a sparse one says so.
		const reasons = want === 'sparse' ? ['sparse'] : ['invalid-pte', 'invalid-pde'];
		expect(reasons, `${at}: ${read.fault.reason}`).toContain(read.fault.reason);
		if (want === 'sparse') stats.sparse++;
		return;
	}
	const expected = {
		ok: true,
		aperture: SIM_APERTURE[want.object.aperture],
		pa: physOf(want.object, BigInt(want.objStart + (page - want.start)) * PAGE) + 0x123n,
		readOnly: want.readOnly,
		privileged: want.privileged,
		atomicDisabled: want.atomicDisable,
		volatile: want.volatile,
		...(want.object.aperture === 'peer' ? { peerId: want.object.peerId } : {}),
	};
	const got = read as unknown as Record<string, unknown>;
	// Cheap comparison first; the (slow) matcher only to report a mismatch.
	if (Object.entries(expected).some(([k, v]) => got[k] !== v)) expect(read, at).toMatchObject(expected);
	stats.mapped++;
	stats.byAperture.set(want.object.aperture, (stats.byAperture.get(want.object.aperture) ?? 0) + 1);

	// The attributes as the hardware enforces them.
	const write = gpu.mmu.translate(pdb, va, 'write', { privileged: true });
	if (want.readOnly) {
		expect(write, `${at} write`).toMatchObject({
			ok: false,
			fault: { reason: 'read-only', faultTypeName: 'RO_VIOLATION' },
		});
		stats.readOnlyFaults++;
	} else expect(write.ok, `${at} write`).toBe(true);
	const user = gpu.mmu.translate(pdb, va, 'read');
	if (want.privileged) {
		expect(user, `${at} unprivileged read`).toMatchObject({ ok: false, fault: { reason: 'privilege' } });
		stats.privilegeFaults++;
	} else expect(user.ok, `${at} unprivileged read`).toBe(true);
	if (!want.readOnly) {
		const atomic = gpu.mmu.translate(pdb, va, 'atomic', { privileged: true });
		if (want.atomicDisable) {
			expect(atomic, `${at} atomic`).toMatchObject({ ok: false, fault: { reason: 'atomic' } });
			stats.atomicFaults++;
		} else expect(atomic.ok, `${at} atomic`).toBe(true);
	}
}

// ------------------------------------------------------------------------------------------ generators

const pageIndex = fc.integer({ min: 0, max: WINDOW_PAGES - 1 });
/** Sizes biased towards the three page sizes' alignments. */
const span = fc.oneof(
	fc.integer({ min: 1, max: 64 }).map((n) => BigInt(n) * PAGE),
	fc.integer({ min: 1, max: 8 }).map((n) => BigInt(n) * 0x1_0000n),
	fc.integer({ min: 1, max: 3 }).map((n) => BigInt(n) * 0x20_0000n),
);
const bigSpan = fc.oneof(
	span,
	fc.integer({ min: 1, max: 8 }).map((n) => BigInt(n) * 0x20_0000n),
);
const align = fc.constantFrom(PAGE, 0x1_0000n, 0x20_0000n);

type RawOp =
	| {
			kind: 'map';
			page: number;
			span: bigint;
			align: bigint;
			obj: number;
			objPage: number;
			readOnly: boolean;
			privileged: boolean;
			atomicDisable: boolean;
			volatile: boolean | null;
	  }
	| { kind: 'unmap' | 'map-sparse'; page: number; span: bigint; align: bigint }
	| { kind: 'unmap-sparse'; pick: number; exact: boolean; page: number; span: bigint };

const rareTrue = fc.oneof(
	{ weight: 3, arbitrary: fc.constant(false) },
	{ weight: 1, arbitrary: fc.constant(true) },
);
const opArb: fc.Arbitrary<RawOp> = fc.oneof(
	{
		weight: 6,
		arbitrary: fc.record({
			kind: fc.constant('map' as const),
			page: pageIndex,
			span,
			align,
			obj: fc.integer({ min: 0, max: objects.length - 1 }),
			objPage: fc.integer({ min: 0, max: 32_767 }),
			readOnly: rareTrue,
			privileged: rareTrue,
			atomicDisable: rareTrue,
			volatile: fc.option(fc.boolean(), { freq: 2 }),
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({ kind: fc.constant('unmap' as const), page: pageIndex, span: bigSpan, align }),
	},
	{
		weight: 1,
		arbitrary: fc.record({ kind: fc.constant('map-sparse' as const), page: pageIndex, span: bigSpan, align }),
	},
	{
		weight: 1,
		arbitrary: fc.record({
			kind: fc.constant('unmap-sparse' as const),
			pick: fc.nat(),
			exact: fc.oneof(
				{ weight: 4, arbitrary: fc.constant(true) },
				{ weight: 1, arbitrary: fc.constant(false) },
			),
			page: pageIndex,
			span,
		}),
	},
);

/** A generated op inside the window, or `undefined` when it falls outside (or past its object's end). */
function toVaOp(raw: RawOp, base: bigint, oracle: Oracle): VaOp | undefined {
	const end = base + BigInt(WINDOW_PAGES) * PAGE;
	if (raw.kind === 'unmap-sparse') {
		const r = oracle.regions[raw.pick % Math.max(1, oracle.regions.length)];
		if (raw.exact && r !== undefined) {
			return { op: 'unmap-sparse', va: base + BigInt(r.start) * PAGE, size: BigInt(r.end - r.start) * PAGE };
		}
		const va = base + BigInt(raw.page) * PAGE;
		return va + raw.span > end ? undefined : { op: 'unmap-sparse', va, size: raw.span };
	}
	const va = (base + BigInt(raw.page) * PAGE) & ~(raw.align - 1n);
	const size = raw.span;
	if (va < base || va + size > end) return undefined;
	if (raw.kind !== 'map') return { op: raw.kind, va, size };
	const object = objects[raw.obj]!;
	// Keep the object offset congruent with the VA modulo 2 MiB (64 KiB for the scattered object, whose
	// pieces are 64 KiB) so large pages stay possible.
	const grain = object.extents.length > 1 ? 0xffffn : 0x1f_ffffn;
	const offset = ((BigInt(raw.objPage) * PAGE) & ~grain) + (va & grain);
	if (offset + size > objectSize(object)) return undefined;
	return {
		op: 'map',
		va,
		size,
		object,
		offset,
		readOnly: raw.readOnly,
		privileged: raw.privileged,
		atomicDisable: raw.atomicDisable,
		...(raw.volatile === null ? {} : { volatile: raw.volatile }),
	};
}

// ------------------------------------------------------------------------------------------------ tests

const RUNS = 40;

describe('mmu page tables walked by the simulated MMU', () => {
	for (const chip of ['ga102', 'gh100'] as const) {
		it(`${chip}: random map/unmap/sparse batches translate and fault as the oracle says after every commit`, async () => {
			stats.committed = 0;
			stats.refused = 0;
			stats.mapped = 0;
			stats.sparse = 0;
			stats.readOnlyFaults = 0;
			stats.privilegeFaults = 0;
			stats.atomicFaults = 0;
			stats.byAperture.clear();
			stats.windows.clear();
			const rootLevel = chip === 'gh100' ? 'PDE4' : 'PDE3';
			await fc.assert(
				fc.asyncProperty(
					fc.constantFrom(...WINDOWS),
					fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
					fc.array(pageIndex, { minLength: 12, maxLength: 12 }),
					async (window, batches, probes) => {
						const { base } = window;
						stats.windows.add(window.name);
						const { gpu, vas } = setup(chip);
						let oracle = new Oracle();
						try {
							// Start with one sparse region so maps inside regions are common from the first batch.
							const first: VaOp = { op: 'map-sparse', va: base + 32n * MiB, size: 8n * MiB };
							vas.apply([first]);
							oracle.apply(first, base, []);
							for (const batch of batches) {
								const next = oracle.clone();
								const unbound: Span[] = [];
								const ops: VaOp[] = [];
								let refusal: string | null = null;
								for (const raw of batch) {
									const op = toVaOp(raw, base, next);
									if (op === undefined) continue;
									ops.push(op);
									refusal = next.apply(op, base, unbound);
									if (refusal !== null) break;
								}
								if (ops.length === 0) continue;
								let prepared: ReturnType<VaSpace['prepare']>;
								try {
									prepared = vas.prepare(ops);
								} catch (error) {
									if (!isMmuError(error)) throw error;
									expect(error.code, `refused ${JSON.stringify(ops.map((o) => o.op))}`).toBe(refusal);
									stats.refused++;
									continue;
								}
								expect(refusal, 'prepare accepted a batch the oracle refuses').toBeNull();
								vas.commit(prepared);
								oracle = next;
								stats.committed++;
								const touched = ops.flatMap((o) => {
									const s = Number((o.va - base) / PAGE);
									const e = s + Number(o.size / PAGE);
									return [s - 1, s, e - 1, e];
								});
								for (const page of [...touched, ...probes]) expectPage(gpu, vas, oracle, base, page);
							}
							for (let page = 0; page < WINDOW_PAGES; page += 509) expectPage(gpu, vas, oracle, base, page);

							// Everything unmapped: the root is the only table left, all zero as the device reads it.
							vas.apply(
								oracle.regions.map((r) => ({
									op: 'unmap-sparse' as const,
									va: base + BigInt(r.start) * PAGE,
									size: BigInt(r.end - r.start) * PAGE,
								})),
							);
							vas.apply([{ op: 'unmap', va: base, size: BigInt(WINDOW_PAGES) * PAGE }]);
							expect(vas.pageTables.tables).toBe(1);
							expect(vas.pdb.aperture).not.toBe('video'); // tables in DMA memory: readable through dmaRead
							const root = gpu.dmaRead(vas.pdb.address, vas.pageTables.bytes);
							expect(root.length).toBeGreaterThan(0);
							expect(root.every((b) => b === 0)).toBe(true);
							for (const page of [0, WINDOW_PAGES / 2, WINDOW_PAGES - 1]) {
								const t = gpu.mmu.translate(simPdb(vas), base + BigInt(page) * PAGE);
								expect(t).toMatchObject({ ok: false, fault: { level: rootLevel, reason: 'invalid-pde' } });
							}
						} finally {
							await gpu.close();
						}
					},
				),
				{ numRuns: RUNS },
			);
			expect(stats.committed).toBeGreaterThan(100);
			expect(stats.refused).toBeGreaterThan(0);
			expect(stats.mapped).toBeGreaterThan(300);
			expect(stats.sparse).toBeGreaterThan(30);
			expect(stats.readOnlyFaults).toBeGreaterThan(20);
			expect(stats.privilegeFaults).toBeGreaterThan(20);
			expect(stats.atomicFaults).toBeGreaterThan(10);
			for (const ap of ['video', 'sysCoherent', 'sysNonCoherent', 'peer']) {
				expect(stats.byAperture.get(ap) ?? 0, ap).toBeGreaterThan(10);
			}
			expect(stats.windows.size).toBe(WINDOWS.length);
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
		const base = WINDOWS[0].base;
		quiet.apply([{ op: 'map', va: base, size: PAGE, object: obj, offset: 0n }]);
		const sim = simPdb(quiet);
		expect(gpu.mmu.translate(sim, base)).toMatchObject({ ok: true, pa: obj.extents[0]!.address });
		quiet.apply([{ op: 'map', va: base, size: PAGE, object: obj, offset: PAGE }]);
		// Without an invalidate the simulated MMU still uses the cached translation.
		expect(gpu.mmu.translate(sim, base)).toMatchObject({ ok: true, pa: obj.extents[0]!.address });
		await gpu.close();
	});
});
