/**
 * The 15 worked cases of drm_gpuvm's DOC "Split and Merge", plus unmap splitting, on the pure planner.
 * Case numbering and diagrams follow drivers/gpu/drm/drm_gpuvm.c; n and m are BO offsets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPlan, type GpuvaLike, type GpuvaOp, IntervalList, planMap, planUnmap } from '../src/index.ts';

interface Va extends GpuvaLike {
	readonly name: string;
}

const a = { bo: 'a' };
const b = { bo: 'b' };
const n = 100;
const m = 500;

function view(...vas: Va[]) {
	const l = new IntervalList<Va>();
	for (const v of vas) l.insert(v);
	return l;
}
const va = (start: number, end: number, object: object | null, offset: number, name = 'old'): Va => ({
	start,
	end,
	object,
	offset,
	name,
});

/** A compact, comparable rendering of a plan. */
function render(ops: GpuvaOp<Va>[]): unknown[] {
	return ops.map((op) => {
		if (op.kind === 'unmap') return ['unmap', op.va.name, op.keep];
		if (op.kind === 'remap') {
			const p = (x: typeof op.prev) =>
				x === null ? null : [x.start, x.end, x.object === a ? 'a' : 'b', x.offset];
			return ['remap', op.unmap.va.name, op.unmap.keep, p(op.prev), p(op.next)];
		}
		const r = op.request;
		return ['map', r.start, r.end, r.object === a ? 'a' : 'b', r.offset];
	});
}

describe('drm_gpuvm split/merge: the 15 documented map cases', () => {
	it('1) identical request: replace, PTEs could be kept', () => {
		const ops = planMap(view(va(0, 1, a, n)), { start: 0, end: 1, object: a, offset: n });
		expect(render(ops)).toEqual([
			['unmap', 'old', true],
			['map', 0, 1, 'a', n],
		]);
	});
	it('2) identical except the BO offset: replace', () => {
		const ops = planMap(view(va(0, 1, a, n)), { start: 0, end: 1, object: a, offset: m });
		expect(render(ops)).toEqual([
			['unmap', 'old', false],
			['map', 0, 1, 'a', m],
		]);
	});
	it('3) identical except the BO: replace', () => {
		const ops = planMap(view(va(0, 1, a, n)), { start: 0, end: 1, object: b, offset: n });
		expect(render(ops)).toEqual([
			['unmap', 'old', false],
			['map', 0, 1, 'b', n],
		]);
	});
	it('4) existing is a left-aligned subset of the request: replace (keep only for same BO/offset)', () => {
		expect(render(planMap(view(va(0, 1, a, n)), { start: 0, end: 2, object: a, offset: n }))).toEqual([
			['unmap', 'old', true],
			['map', 0, 2, 'a', n],
		]);
		expect(render(planMap(view(va(0, 1, a, n)), { start: 0, end: 2, object: b, offset: n }))).toEqual([
			['unmap', 'old', false],
			['map', 0, 2, 'b', n],
		]);
		expect(render(planMap(view(va(0, 1, a, n)), { start: 0, end: 2, object: a, offset: n + 7 }))[0]).toEqual([
			'unmap',
			'old',
			false,
		]);
	});
	it('5) request is a left-aligned subset with another BO: map it, remap the rest at offset n+1', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 0, end: 1, object: b, offset: n });
		expect(render(ops)).toEqual([
			['remap', 'old', false, null, [1, 2, 'a', n + 1]],
			['map', 0, 1, 'b', n],
		]);
	});
	it('6) existing is a superset (same BO, left): split, PTEs could be kept', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 0, end: 1, object: a, offset: n });
		expect(render(ops)).toEqual([
			['remap', 'old', true, null, [1, 2, 'a', n + 1]],
			['map', 0, 1, 'a', n],
		]);
	});
	it('7) request is a right-aligned subset with another BO: prev keeps offset n', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 1, end: 2, object: b, offset: m });
		expect(render(ops)).toEqual([
			['remap', 'old', false, [0, 1, 'a', n], null],
			['map', 1, 2, 'b', m],
		]);
	});
	it('8) existing is a superset (same BO, right, offset n+1): split, keep', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 1, end: 2, object: a, offset: n + 1 });
		expect(render(ops)).toEqual([
			['remap', 'old', true, [0, 1, 'a', n], null],
			['map', 1, 2, 'a', n + 1],
		]);
	});
	it('9) existing overlapped at its end by another BO: prev [0,1) at n', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 1, end: 3, object: b, offset: m });
		expect(render(ops)).toEqual([
			['remap', 'old', false, [0, 1, 'a', n], null],
			['map', 1, 3, 'b', m],
		]);
	});
	it('10) overlapped at its end by the same BO, contiguous offset: keep', () => {
		const ops = planMap(view(va(0, 2, a, n)), { start: 1, end: 3, object: a, offset: n + 1 });
		expect(render(ops)).toEqual([
			['remap', 'old', true, [0, 1, 'a', n], null],
			['map', 1, 3, 'a', n + 1],
		]);
	});
	it('11) request centred in the existing one, another BO: prev at n, next at n+2', () => {
		const ops = planMap(view(va(0, 3, a, n)), { start: 1, end: 2, object: b, offset: m });
		expect(render(ops)).toEqual([
			['remap', 'old', false, [0, 1, 'a', n], [2, 3, 'a', n + 2]],
			['map', 1, 2, 'b', m],
		]);
	});
	it('12) request is a contiguous centred subset: keep, remainders at n and n+2', () => {
		const ops = planMap(view(va(0, 3, a, n)), { start: 1, end: 2, object: a, offset: n + 1 });
		expect(render(ops)).toEqual([
			['remap', 'old', true, [0, 1, 'a', n], [2, 3, 'a', n + 2]],
			['map', 1, 2, 'a', n + 1],
		]);
	});
	it('13) existing is a right-aligned subset of the request: replace (keep when contiguous)', () => {
		expect(render(planMap(view(va(1, 2, a, n + 1)), { start: 0, end: 2, object: a, offset: n }))).toEqual([
			['unmap', 'old', true],
			['map', 0, 2, 'a', n],
		]);
		expect(render(planMap(view(va(1, 2, a, n + 1)), { start: 0, end: 2, object: b, offset: n }))[0]).toEqual([
			'unmap',
			'old',
			false,
		]);
	});
	it('14) existing is a centred subset of the request: replace (keep when contiguous)', () => {
		expect(render(planMap(view(va(1, 2, a, n + 1)), { start: 0, end: 3, object: a, offset: n }))).toEqual([
			['unmap', 'old', true],
			['map', 0, 3, 'a', n],
		]);
		expect(
			render(planMap(view(va(1, 2, a, n + 1)), { start: 0, end: 3, object: a, offset: n + 5 }))[0],
		).toEqual(['unmap', 'old', false]);
	});
	it('15) existing overlapped at its beginning by another BO: next [2,3) at n+1 (the DOC says n+2; the code and the arithmetic give n+1)', () => {
		const ops = planMap(view(va(1, 3, a, n)), { start: 0, end: 2, object: b, offset: m });
		expect(render(ops)).toEqual([
			['remap', 'old', false, null, [2, 3, 'a', n + 1]],
			['map', 0, 2, 'b', m],
		]);
	});
});

describe('planner: multiple mappings, unmap, invariants', () => {
	it('a request over several mappings: at most 2 remaps, unmaps in between, 1 map last', () => {
		const v = view(va(0, 4, a, 0, 'x'), va(4, 6, b, 0, 'y'), va(6, 8, a, 10, 'z'), va(8, 12, b, 20, 'w'));
		const ops = planMap(v, { start: 2, end: 10, object: a, offset: 2 });
		expect(render(ops)).toEqual([
			['remap', 'x', true, [0, 2, 'a', 0], null],
			['unmap', 'y', false],
			['unmap', 'z', false],
			['remap', 'w', false, null, [10, 12, 'b', 22]],
			['map', 2, 10, 'a', 2],
		]);
	});
	it('null objects never merge', () => {
		const ops = planMap(view(va(0, 1, null, 0)), { start: 0, end: 1, object: null, offset: 0 });
		expect(render(ops)[0]).toEqual(['unmap', 'old', false]);
	});
	it('unmap: inner mappings unmapped, partial ones remapped with prev/next offsets, never keep', () => {
		const v = view(va(0, 4, a, 0, 'x'), va(4, 6, b, 0, 'y'), va(6, 12, a, 10, 'z'));
		expect(render(planUnmap(v, 2, 8))).toEqual([
			['remap', 'x', false, [0, 2, 'a', 0], null],
			['unmap', 'y', false],
			['remap', 'z', false, null, [8, 12, 'a', 12]],
		]);
		expect(render(planUnmap(view(va(0, 10, a, 5)), 3, 4))).toEqual([
			['remap', 'old', false, [0, 3, 'a', 5], [4, 10, 'a', 9]],
		]);
		expect(planUnmap(view(va(0, 10, a, 5)), 20, 30)).toEqual([]);
	});
	it('property: applying a map plan yields the oracle page map, with ≤ 2 remaps and exactly 1 map', () => {
		const objs = [a, b];
		const arbMap = fc.record({
			start: fc.integer({ min: 0, max: 60 }),
			len: fc.integer({ min: 1, max: 20 }),
			obj: fc.integer({ min: 0, max: 1 }),
			offset: fc.integer({ min: 0, max: 50 }),
		});
		fc.assert(
			fc.property(
				fc.array(arbMap, { maxLength: 12 }),
				fc.array(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 20 })), {
					maxLength: 4,
				}),
				(maps, unmaps) => {
					let list: Va[] = [];
					const oracle = new Map<number, [object, number]>();
					const make = (p: { start: number; end: number; object: object | null; offset: number }) =>
						va(p.start, p.end, p.object, p.offset, 'n');
					const check = () => {
						for (let pg = 0; pg < 100; pg++) {
							const hit = list.find((v) => v.start <= pg && pg < v.end);
							const o = oracle.get(pg);
							expect(hit === undefined ? undefined : [hit.object, hit.offset + (pg - hit.start)]).toEqual(o);
						}
						for (let i = 1; i < list.length; i++)
							expect((list[i] as Va).start).toBeGreaterThanOrEqual((list[i - 1] as Va).end);
					};
					for (const r of maps) {
						const req = {
							start: r.start,
							end: r.start + r.len,
							object: objs[r.obj] as object,
							offset: r.offset,
						};
						const ops = planMap({ overlapping: (s, e) => list.filter((v) => v.start < e && v.end > s) }, req);
						expect(ops.filter((o) => o.kind === 'remap').length).toBeLessThanOrEqual(2);
						expect(ops.filter((o) => o.kind === 'map').length).toBe(1);
						expect(ops[ops.length - 1]?.kind).toBe('map');
						list = applyPlan(list, ops, make);
						for (let pg = req.start; pg < req.end; pg++)
							oracle.set(pg, [req.object, req.offset + pg - req.start]);
						check();
					}
					for (const [s, len] of unmaps) {
						const ops = planUnmap(
							{ overlapping: (x, e) => list.filter((v) => v.start < e && v.end > x) },
							s,
							s + len,
						);
						expect(ops.every((o) => o.kind !== 'map' && (o.kind === 'unmap' ? !o.keep : !o.unmap.keep))).toBe(
							true,
						);
						list = applyPlan(list, ops, make);
						for (let pg = s; pg < s + len; pg++) oracle.delete(pg);
						check();
					}
				},
			),
			{ numRuns: 300 },
		);
	});
});
