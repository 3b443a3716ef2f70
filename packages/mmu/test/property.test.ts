/**
 * Random sequences of map / unmap / sparse operations (batched, sometimes with several prepared sets pending,
 * sometimes with an injected allocation failure) against a simple interval-map oracle. After each commit the
 * probed addresses translate (software walk of the written tables) to what the oracle says; at the end
 * everything is unmapped and page-table memory is back to an all-zero root.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BackingObject, isMmuError, type PreparedOps, type VaOp } from '../src/index.ts';
import { allZero, chunked, contig, dumpTables, MiB, physOf, rig } from './helpers/setup.ts';

const W = 4096; // window size in 4 KiB pages (16 MiB)

const OBJECTS: BackingObject[] = [
	contig(1, 0x4000_0000n, 16n * MiB, 'video'),
	chunked(2, 0x2_0000_0000n, 64n * 1024n, 256, 'sysCoherent'),
	chunked(3, 0x3_0000_0000n, 4096n, 1024, 'sysNonCoherent'),
	{ handle: 4, aperture: 'peer', peerId: 3, extents: [{ address: 0x8_0000_0000n, size: 4n * MiB }] },
];
const objPages = (o: BackingObject) => Number(o.extents.reduce((s, e) => s + e.size, 0n) / 4096n);

interface OMap {
	start: number;
	end: number;
	obj: number;
	objStart: number;
	ro: boolean;
	priv: boolean;
	noAtomic: boolean;
	kind: number;
}

/** The oracle: a list of mappings (page units, absolute) and sparse regions. Independent of the planner. */
class Oracle {
	maps: OMap[] = [];
	regions: { start: number; end: number }[] = [];

	clone(): Oracle {
		const o = new Oracle();
		o.maps = this.maps.map((m) => ({ ...m }));
		o.regions = this.regions.map((r) => ({ ...r }));
		return o;
	}

	cut(s: number, e: number): void {
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

	/** Apply one op; returns the expected error code, or null. */
	apply(op: GenOp, base: number, unbound: { start: number; end: number }[]): string | null {
		const s = base + op.start;
		const e = s + op.len;
		const overlaps = (a: { start: number; end: number }) => a.start < e && a.end > s;
		if (op.kind === 'map') {
			if (unbound.some(overlaps)) return 'MMU_REGION_BUSY';
			const regs = this.regions.filter(overlaps);
			if (regs.length > 1 || (regs.length === 1 && ((regs[0]?.start ?? 0) > s || (regs[0]?.end ?? 0) < e)))
				return 'MMU_SPARSE_STRADDLE';
			this.cut(s, e);
			this.maps.push({
				start: s,
				end: e,
				obj: op.obj,
				objStart: op.offset,
				ro: op.ro,
				priv: op.priv,
				noAtomic: op.noAtomic,
				kind: op.kindv,
			});
			return null;
		}
		if (op.kind === 'unmap') {
			this.cut(s, e);
			return null;
		}
		if (op.kind === 'sparse') {
			if (unbound.some(overlaps)) return 'MMU_REGION_BUSY';
			if (this.regions.some(overlaps)) return 'MMU_SPARSE_OVERLAP';
			if (this.maps.some((m) => overlaps(m) && (m.start < s || m.end > e))) return 'MMU_SPARSE_STRADDLE';
			this.regions.push({ start: s, end: e });
			return null;
		}
		const i = this.regions.findIndex((r) => r.start === s && r.end === e);
		if (i < 0) return 'MMU_NO_SUCH_REGION';
		this.cut(s, e);
		this.regions.splice(i, 1);
		unbound.push({ start: s, end: e });
		return null;
	}

	expect(page: number): { kind: 'mapped'; m: OMap } | { kind: 'sparse' } | { kind: 'invalid' } {
		const m = this.maps.find((x) => x.start <= page && page < x.end);
		if (m) return { kind: 'mapped', m };
		if (this.regions.some((r) => r.start <= page && page < r.end)) return { kind: 'sparse' };
		return { kind: 'invalid' };
	}
}

interface GenOp {
	kind: 'map' | 'unmap' | 'sparse' | 'unsparse';
	start: number;
	len: number;
	obj: number;
	offset: number;
	ro: boolean;
	priv: boolean;
	noAtomic: boolean;
	kindv: number;
	small: boolean;
}

const genOp = fc
	.record({
		kind: fc.constantFrom<GenOp['kind']>('map', 'map', 'map', 'unmap', 'unmap', 'sparse', 'unsparse'),
		gran: fc.constantFrom(1, 16, 512, 16, 1),
		a: fc.nat(W - 1),
		n: fc.integer({ min: 1, max: 2048 }),
		obj: fc.nat(OBJECTS.length - 1),
		off: fc.nat(4095),
		ro: fc.boolean(),
		priv: fc.boolean(),
		noAtomic: fc.boolean(),
		kindv: fc.constantFrom(0, 6),
		small: fc.boolean(),
	})
	.map((r): GenOp => {
		const g = r.gran;
		const start = Math.floor(r.a / g) * g;
		const maxLen = W - start;
		let len = Math.max(g, Math.floor(Math.min(r.n, maxLen) / g) * g);
		if (len > maxLen) len = maxLen;
		const op = OBJECTS[r.obj] as BackingObject;
		const pages = objPages(op);
		if (len > pages) len = Math.floor(pages / g) * g;
		const offset = Math.floor((r.off % Math.max(1, pages - len + 1)) / g) * g;
		return {
			kind: r.kind,
			start,
			len,
			obj: r.obj,
			offset,
			ro: r.ro,
			priv: r.priv,
			noAtomic: r.noAtomic,
			kindv: r.kindv,
			small: r.small,
		};
	});

const genRun = fc.record({
	baseIdx: fc.nat(10),
	batches: fc.array(
		fc.record({
			ops: fc.array(genOp, { minLength: 1, maxLength: 3 }),
			defer: fc.boolean(),
			fail: fc.option(fc.nat(4), { freq: 4 }),
		}),
		{ minLength: 4, maxLength: 14 },
	),
	probes: fc.array(fc.nat(W - 1), { minLength: 24, maxLength: 24 }),
});

function toVaOp(op: GenOp, base: number): VaOp {
	const va = BigInt(base + op.start) * 4096n;
	const size = BigInt(op.len) * 4096n;
	if (op.kind === 'map') {
		return {
			op: 'map',
			va,
			size,
			object: OBJECTS[op.obj] as BackingObject,
			offset: BigInt(op.offset) * 4096n,
			readOnly: op.ro,
			privileged: op.priv,
			atomicDisable: op.noAtomic,
			kind: op.kindv,
			...(op.small ? { pageSize: 4096 as const } : {}),
		};
	}
	return {
		op: op.kind === 'unmap' ? 'unmap' : op.kind === 'sparse' ? 'map-sparse' : 'unmap-sparse',
		va,
		size,
	};
}

for (const f of ['v2', 'v3'] as const) {
	describe(`property: VA space ${f} against an interval-map oracle`, () => {
		const bounds = f === 'v2' ? [29, 38, 47] : [29, 38, 47, 56];
		const bases = [0, ...bounds.map((b) => 2 ** (b - 12) - W / 2), 2 ** ((f === 'v2' ? 49 : 57) - 12) - W];

		it('translations, errors and memory match the oracle', { timeout: 120_000 }, () => {
			fc.assert(
				fc.property(genRun, fc.constantFrom(0, 65536), ({ baseIdx, batches, probes }, slabBytes) => {
					const base = bases[baseIdx % bases.length] as number;
					const r = rig(f, { slabBytes });
					const dmaStart = r.dma.bytesInUse;
					let oracle = new Oracle(); // committed view
					let pendingOracle = new Oracle();
					const queue: { p: PreparedOps; after: Oracle }[] = [];

					const check = (pages: number[]) => {
						for (const pg of pages) {
							if (pg < 0 || pg >= W) continue;
							const abs = base + pg;
							const va = BigInt(abs) * 4096n + 0x123n;
							const t = r.vas.translate(va);
							const want = oracle.expect(abs);
							let exp: Record<string, unknown>;
							if (want.kind === 'mapped') {
								const m = want.m;
								const obj = OBJECTS[m.obj] as BackingObject;
								exp = {
									valid: true,
									address: physOf(obj, BigInt(m.objStart + (abs - m.start)) * 4096n + 0x123n),
									aperture: obj.aperture,
									readOnly: m.ro,
									privileged: m.priv,
									atomicDisable: m.noAtomic,
									kind: m.kind,
									volatile: obj.aperture === 'sysCoherent',
									peerId: obj.aperture === 'peer' ? 3 : 0,
								};
							} else exp = { valid: false, reason: want.kind };
							// Cheap comparison first; the matcher (slow) only to report a mismatch.
							const got = t as unknown as Record<string, unknown>;
							if (Object.keys(exp).some((k) => got[k] !== exp[k])) expect(t, `page ${pg}`).toMatchObject(exp);
						}
					};
					const commitOne = () => {
						const q = queue.shift();
						if (q === undefined) return;
						r.commit(q.p);
						oracle = q.after;
					};

					for (const batch of batches) {
						const next = pendingOracle.clone();
						const unbound: { start: number; end: number }[] = [];
						let expected: string | null = null;
						for (const op of batch.ops) {
							expected = next.apply(op, base, unbound);
							if (expected !== null) break;
						}
						const vaOps = batch.ops.map((o) => toVaOp(o, base));
						const before = r.vas.snapshotTables();
						const live = r.alloc.live;
						if (batch.fail !== null) r.alloc.arm(batch.fail);
						let p: PreparedOps | undefined;
						let error: unknown;
						try {
							p = r.vas.prepare(vaOps);
						} catch (e) {
							error = e;
						}
						r.alloc.arm(null);
						if (error !== undefined) {
							if (!isMmuError(error)) throw error;
							expect(r.vas.snapshotTables()).toEqual(before);
							expect(r.alloc.live).toBe(live);
							if (error.code === 'MMU_OUT_OF_MEMORY') {
								expect(batch.fail).not.toBeNull();
								if (expected === null) p = r.vas.prepare(vaOps);
								else expect(() => r.vas.prepare(vaOps)).toThrow(expect.objectContaining({ code: expected }));
							} else expect(error.code).toBe(expected);
						} else expect(expected).toBeNull();
						if (p === undefined) continue;
						pendingOracle = next;
						queue.push({ p, after: next.clone() });
						if (!batch.defer || queue.length > 2) {
							while (queue.length > 0) commitOne();
							const touched = batch.ops.flatMap((o) => [
								o.start - 1,
								o.start,
								o.start + o.len - 1,
								o.start + o.len,
							]);
							check(probes.concat(touched));
						}
					}
					while (queue.length > 0) commitOne();
					for (let pg = 0; pg < W; pg += 7) check([pg]);

					// Canonical form: the incrementally updated tables equal tables built in one step from the
					// final view (same page sizes), entry for entry.
					const fresh = rig(f);
					fresh.apply([
						...r.vas.sparseRegions().map((x) => ({ op: 'map-sparse' as const, ...x })),
						...r.vas.mappings().map((m) => ({
							op: 'map' as const,
							va: m.va,
							size: m.size,
							object: m.object,
							offset: m.offset,
							pageSize: m.pageSize as 4096,
							...m.attributes,
						})),
					]);
					expect(dumpTables(r.vas)).toBe(dumpTables(fresh.vas));

					// Everything unmapped: only the root remains, all zero; allocator back where it started.
					r.apply(
						oracle.regions.map((x) => ({
							op: 'unmap-sparse' as const,
							va: BigInt(x.start) * 4096n,
							size: BigInt(x.end - x.start) * 4096n,
						})),
					);
					r.apply([{ op: 'unmap', va: BigInt(base) * 4096n, size: BigInt(W) * 4096n }]);
					expect(r.vas.mappings()).toEqual([]);
					expect(r.vas.pageTables.tables).toBe(1);
					expect(allZero(r.vas.snapshotTables())).toBe(true);
					expect(r.alloc.live).toBe(1);
					expect(r.dma.bytesInUse).toBe(dmaStart);
				}),
				{ numRuns: Number(process.env.MMU_PROPERTY_RUNS ?? 50) },
			);
		});
	});
}
