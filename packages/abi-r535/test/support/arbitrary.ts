/**
 * Random values of any `@gspkit/abi` layout (fast-check), for codec round-trip properties. Shared with
 * `@gspkit/abi-r570`'s tests.
 */
import type { Field, FixedLayout, Layout, PrimName, RecordLayout } from '@gspkit/abi';
import fc from 'fast-check';

const INT_RANGE: Partial<Record<PrimName, readonly [number, number]>> = {
	u8: [0, 0xff],
	u16: [0, 0xffff],
	u32: [0, 0xffffffff],
	i8: [-0x80, 0x7f],
	i16: [-0x8000, 0x7fff],
	i32: [-0x80000000, 0x7fffffff],
};

function primArb(p: PrimName, bits?: number): fc.Arbitrary<unknown> {
	if (bits !== undefined) {
		if (p === 'u64' || p === 'i64') return fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
		return fc.integer({ min: 0, max: 2 ** bits - 1 });
	}
	const r = INT_RANGE[p];
	if (r !== undefined) return fc.integer({ min: r[0], max: r[1] });
	switch (p) {
		case 'u64':
			return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
		case 'i64':
			return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
		case 'bool':
			return fc.boolean();
		case 'f32':
			return fc
				.float({ noNaN: true, noDefaultInfinity: true })
				.map((x) => (Object.is(x, -0) ? 0 : Math.fround(x)));
		default:
			return fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
	}
}

const TYPED: Partial<Record<PrimName, (xs: unknown[]) => unknown>> = {
	u8: (xs) => Uint8Array.from(xs as number[]),
	u16: (xs) => Uint16Array.from(xs as number[]),
	u32: (xs) => Uint32Array.from(xs as number[]),
	i8: (xs) => Int8Array.from(xs as number[]),
	i16: (xs) => Int16Array.from(xs as number[]),
	i32: (xs) => Int32Array.from(xs as number[]),
	u64: (xs) => BigUint64Array.from(xs as bigint[]),
	i64: (xs) => BigInt64Array.from(xs as bigint[]),
	f32: (xs) => Float32Array.from(xs as number[]),
	f64: (xs) => Float64Array.from(xs as number[]),
};

function arrayArb(element: FixedLayout, min: number, max: number): fc.Arbitrary<unknown> {
	const items = fc.array(valueArb(element), { minLength: min, maxLength: max });
	if (element.kind === 'prim') {
		const mk = TYPED[element.prim];
		if (mk !== undefined) return items.map(mk);
	}
	return items;
}

function fieldArb(f: Field): fc.Arbitrary<unknown> {
	const l = f.layout;
	if (l.kind === 'prim') return primArb(l.prim, f.bits?.size);
	if (l.kind === 'flex') return l.element.size === 0 ? fc.constant([]) : arrayArb(l.element, 0, 3);
	return valueArb(l);
}

/** Whether a layout contains a union anywhere (decoded unions carry every member, so values differ). */
export function hasUnion(l: Layout): boolean {
	if (l.kind === 'union') return true;
	if (l.kind === 'struct') return l.fields.some((f) => hasUnion(f.layout));
	if (l.kind === 'array' || l.kind === 'flex') return hasUnion(l.element);
	return false;
}

/** A random value of `layout` (unions get one random member; flexible counts are kept consistent). */
export function valueArb(layout: Layout): fc.Arbitrary<unknown> {
	switch (layout.kind) {
		case 'prim':
			return primArb(layout.prim);
		case 'cstring':
			return fc.string({
				unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)),
				maxLength: Math.max(0, layout.length - 1),
			});
		case 'array':
			return arrayArb(layout.element, layout.length, layout.length);
		case 'flex':
			return arrayArb(layout.element, 0, 3);
		case 'union': {
			if (layout.fields.length === 0) return fc.constant({});
			return fc.constantFrom(...layout.fields).chain((f) => fieldArb(f).map((v) => ({ [f.name]: v })));
		}
		case 'struct': {
			const rec: Record<string, fc.Arbitrary<unknown>> = {};
			for (const f of layout.fields) rec[f.name] = fieldArb(f);
			return fc.record(rec).map((v) => fixCounts(layout, v));
		}
	}
}

function fixCounts(layout: RecordLayout, v: Record<string, unknown>): Record<string, unknown> {
	for (const f of layout.fields) {
		if (f.layout.kind === 'flex' && typeof f.layout.count === 'string') {
			const owner = layout.fields.find((g) => g.name === (f.layout as { count: string }).count)!;
			const n = (v[f.name] as ArrayLike<unknown>).length;
			v[owner.name] =
				owner.layout.kind === 'prim' && (owner.layout.prim === 'u64' || owner.layout.prim === 'i64')
					? BigInt(n)
					: n;
		}
	}
	return v;
}

/** Bytes of the fixed part (before a flexible tail). */
export function fixedSize(l: RecordLayout): number {
	return l.kind === 'struct' && l.tail !== undefined ? l.tail.offset : l.size;
}
