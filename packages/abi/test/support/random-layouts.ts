/**
 * Random C record definitions for property tests: fast-check arbitraries for a batch of structs/unions
 * (which may nest earlier ones), the C source gcc compiles for them, the @gspkit/abi layouts built from
 * the same description, and random values for any layout.
 */
import fc from 'fast-check';
import {
	array,
	cstring,
	type FieldDef,
	type FieldOptions,
	type FixedLayout,
	flex,
	type Layout,
	PRIM_NAMES,
	type PrimName,
	primLayout,
	type RecordLayout,
	struct,
	union,
} from '../../src/index.ts';

export type TypeSpec =
	| { readonly k: 'prim'; readonly p: PrimName }
	| { readonly k: 'ref'; readonly r: number }
	| { readonly k: 'str'; readonly n: number };

export interface FieldSpec {
	readonly base: TypeSpec;
	readonly dims: readonly number[];
	readonly bits: number | undefined;
	readonly align: number | undefined;
	readonly packed: boolean;
}

export interface RecSpec {
	readonly kind: 'struct' | 'union';
	readonly fields: readonly FieldSpec[];
	readonly packed: boolean;
	readonly align: number | undefined;
	readonly pack: number | undefined;
	/** A trailing flexible array (structs only); count from field 0 if it is an integer, else "remaining". */
	readonly flex: PrimName | undefined;
}

export interface RandomOptions {
	/** Allow bool/float/char-string fields (lossy value types). Default true. */
	readonly lossy?: boolean;
	/** Allow bit-fields. Default true. */
	readonly bits?: boolean;
	/** Allow flexible arrays. Default true. */
	readonly flex?: boolean;
	/** Allow unions. Default true. */
	readonly unions?: boolean;
}

const INT_PRIMS: readonly PrimName[] = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64'];
const pow2 = fc.constantFrom(1, 2, 4, 8, 16, 32);

function primArb(o: RandomOptions): fc.Arbitrary<PrimName> {
	return fc.constantFrom(...(o.lossy === false ? INT_PRIMS : PRIM_NAMES));
}

function fieldArb(o: RandomOptions): fc.Arbitrary<FieldSpec> {
	const base: fc.Arbitrary<TypeSpec> = fc.oneof(
		{ arbitrary: primArb(o).map((p) => ({ k: 'prim', p }) as const), weight: 6 },
		{ arbitrary: fc.nat(1000).map((r) => ({ k: 'ref', r }) as const), weight: 2 },
		...(o.lossy === false
			? []
			: [{ arbitrary: fc.integer({ min: 1, max: 9 }).map((n) => ({ k: 'str', n }) as const), weight: 1 }]),
	);
	const dims = fc.oneof(
		{ arbitrary: fc.constant<number[]>([]), weight: 5 },
		{
			arbitrary: fc.array(
				fc.oneof(
					{ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 8 },
					{ arbitrary: fc.constant(0), weight: 1 },
				),
				{ minLength: 1, maxLength: 2 },
			),
			weight: 2,
		},
	);
	return fc
		.record({
			base,
			dims,
			bitsRaw:
				o.bits === false
					? fc.constant(undefined)
					: fc.option(fc.integer({ min: 1, max: 64 }), { freq: 3, nil: undefined }),
			align: fc.option(pow2, { freq: 8 }),
			packed: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))), // ~25 %
		})
		.map(({ base: b, dims: d, bitsRaw, align, packed }) => {
			// Bit-fields only on integer/bool scalars, without attributes.
			if (bitsRaw !== undefined && b.k === 'prim' && b.p !== 'f32' && b.p !== 'f64' && d.length === 0) {
				const max = b.p === 'bool' ? 1 : primLayout(b.p).size * 8;
				return { base: b, dims: d, bits: ((bitsRaw - 1) % max) + 1, align: undefined, packed: false };
			}
			return { base: b, dims: d, bits: undefined, align: align ?? undefined, packed };
		});
}

function recArb(o: RandomOptions): fc.Arbitrary<RecSpec> {
	return fc.record({
		kind:
			o.unions === false
				? fc.constant('struct' as const)
				: fc.constantFrom('struct', 'struct', 'struct', 'union'),
		fields: fc.array(fieldArb(o), { minLength: 1, maxLength: 7 }),
		packed: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
		align: fc.option(pow2, { freq: 6, nil: undefined }),
		pack: fc.option(fc.constantFrom(1, 2, 4, 8), { freq: 8, nil: undefined }),
		flex:
			o.flex === false
				? fc.constant(undefined)
				: fc.option(fc.constantFrom(...INT_PRIMS, 'u8'), { freq: 5, nil: undefined }),
	});
}

/**
 * A batch of records; field references point only at earlier records without a flexible tail (resolved
 * here, so the batch is self-consistent), and unions never get a flexible array.
 */
export function batchArb(size: number, o: RandomOptions = {}): fc.Arbitrary<RecSpec[]> {
	return fc.array(recArb(o), { minLength: size, maxLength: size }).map((recs) => {
		const out: RecSpec[] = [];
		recs.forEach((r) => {
			const usable = out.map((x, j) => (x.flex === undefined ? j : -1)).filter((j) => j >= 0);
			const fields = r.fields.map((f): FieldSpec => {
				if (f.base.k !== 'ref') return f;
				if (usable.length === 0) return { ...f, base: { k: 'prim', p: 'u32' } };
				return { ...f, base: { k: 'ref', r: usable[f.base.r % usable.length]! } };
			});
			out.push({ ...r, fields, flex: r.kind === 'union' ? undefined : r.flex });
		});
		return out;
	});
}

const C_PRIM: Readonly<Record<PrimName, string>> = {
	u8: 'uint8_t',
	u16: 'uint16_t',
	u32: 'uint32_t',
	u64: 'uint64_t',
	i8: 'int8_t',
	i16: 'int16_t',
	i32: 'int32_t',
	i64: 'int64_t',
	bool: '_Bool',
	f32: 'float',
	f64: 'double',
};

export const recName = (i: number): string => `R${i}`;

/** Indices of record `i` and every record it nests, transitively (ascending). */
export function dependencies(batch: readonly RecSpec[], i: number): Set<number> {
	const out = new Set<number>();
	const visit = (j: number): void => {
		if (out.has(j)) return;
		out.add(j);
		for (const f of batch[j]!.fields) if (f.base.k === 'ref') visit(f.base.r);
	};
	visit(i);
	return new Set([...out].sort((a, b) => a - b));
}

/** C source defining the batch (or only the records in `only`). */
export function batchToC(batch: readonly RecSpec[], only?: ReadonlySet<number>): string {
	const lines: string[] = [];
	batch.forEach((r, i) => {
		if (only !== undefined && !only.has(i)) return;
		const attrs = [r.packed ? 'packed' : '', r.align !== undefined ? `aligned(${r.align})` : ''].filter(
			Boolean,
		);
		if (r.pack !== undefined) lines.push(`#pragma pack(push, ${r.pack})`);
		const body = r.fields.map((f, j) => {
			let t: string;
			let dims = f.dims.map((d) => `[${d}]`).join('');
			if (f.base.k === 'prim') t = C_PRIM[f.base.p];
			else if (f.base.k === 'str') {
				t = 'char';
				dims += `[${f.base.n}]`;
			} else t = `${batch[f.base.r]!.kind} ${recName(f.base.r)}`;
			const fa = [f.packed ? 'packed' : '', f.align !== undefined ? `aligned(${f.align})` : ''].filter(
				Boolean,
			);
			const bits = f.bits !== undefined ? ` : ${f.bits}` : '';
			return `  ${t} f${j}${dims}${bits}${fa.length > 0 ? ` __attribute__((${fa.join(', ')}))` : ''};`;
		});
		if (r.flex !== undefined) body.push(`  ${C_PRIM[r.flex]} fx[];`);
		lines.push(
			`${r.kind} ${attrs.length > 0 ? `__attribute__((${attrs.join(', ')})) ` : ''}${recName(i)} {`,
			...body,
			'};',
		);
		if (r.pack !== undefined) lines.push('#pragma pack(pop)');
	});
	return lines.join('\n');
}

/** The @gspkit/abi layouts of the batch (computed offsets). */
export function batchToLayouts(batch: readonly RecSpec[]): RecordLayout[] {
	const out: RecordLayout[] = [];
	for (let i = 0; i < batch.length; i++) {
		const r = batch[i]!;
		const defs: FieldDef[] = r.fields.map((f, j) => {
			let l: FixedLayout;
			if (f.base.k === 'prim') l = primLayout(f.base.p);
			else if (f.base.k === 'str') l = cstring(f.base.n);
			else l = out[f.base.r]!;
			for (let d = f.dims.length - 1; d >= 0; d--) l = array(l, f.dims[d]!);
			const o: { -readonly [K in keyof FieldOptions]: FieldOptions[K] } = {};
			if (f.bits !== undefined) o.bits = f.bits;
			if (f.align !== undefined) o.align = f.align;
			if (f.packed) o.packed = true;
			return [`f${j}`, l, o] as const;
		});
		if (r.flex !== undefined) {
			const f0 = r.fields[0]!;
			const countable =
				f0.base.k === 'prim' &&
				f0.dims.length === 0 &&
				f0.bits === undefined &&
				['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64'].includes(f0.base.p);
			defs.push(['fx', flex(primLayout(r.flex), countable ? { count: 'f0' } : {})]);
		}
		const opts = {
			...(r.packed ? { packed: true } : {}),
			...(r.align !== undefined ? { align: r.align } : {}),
			...(r.pack !== undefined ? { pack: r.pack } : {}),
		};
		out.push(r.kind === 'struct' ? struct(recName(i), defs, opts) : union(recName(i), defs, opts));
	}
	return out;
}

/** One random layout (the last record of a small batch, so it may nest the others). */
export function layoutArb(o: RandomOptions = {}): fc.Arbitrary<RecordLayout> {
	return fc.integer({ min: 1, max: 4 }).chain((n) => batchArb(n, o).map((b) => batchToLayouts(b)[n - 1]!));
}

// ───────────────────────────── values ─────────────────────────────

function primValueArb(p: PrimName, bits?: number): fc.Arbitrary<unknown> {
	const w = bits ?? primLayout(p).size * 8;
	switch (p) {
		case 'bool':
			return fc.boolean();
		case 'f32':
			return fc.float();
		case 'f64':
			return fc.double();
		case 'u64':
			return fc.bigInt(0n, (1n << BigInt(w)) - 1n);
		case 'i64':
			return fc.bigInt(-(1n << BigInt(w - 1)), (1n << BigInt(w - 1)) - 1n);
		case 'i8':
		case 'i16':
		case 'i32':
			return fc.integer({ min: -(2 ** (w - 1)), max: 2 ** (w - 1) - 1 });
		default:
			return fc.integer({ min: 0, max: 2 ** w - 1 });
	}
}

function typedArrayOf(p: PrimName, values: unknown[]): unknown {
	switch (p) {
		case 'u8':
			return Uint8Array.from(values as number[]);
		case 'i8':
			return Int8Array.from(values as number[]);
		case 'u16':
			return Uint16Array.from(values as number[]);
		case 'i16':
			return Int16Array.from(values as number[]);
		case 'u32':
			return Uint32Array.from(values as number[]);
		case 'i32':
			return Int32Array.from(values as number[]);
		case 'u64':
			return BigUint64Array.from(values as bigint[]);
		case 'i64':
			return BigInt64Array.from(values as bigint[]);
		case 'f32':
			return Float32Array.from(values as number[]);
		case 'f64':
			return Float64Array.from(values as number[]);
		case 'bool':
			return values;
	}
}

function arrayArb(e: FixedLayout, n: number): fc.Arbitrary<unknown> {
	const items = fc.array(valueArb(e), { minLength: n, maxLength: n });
	return e.kind === 'prim' ? items.map((v) => typedArrayOf(e.prim, v)) : items;
}

/**
 * A random value of `layout`, shaped exactly like {@link decode}'s output (typed arrays etc.), except
 * that unions get one member. Flexible arrays get 0..4 elements; a count field is set to match.
 */
export function valueArb(layout: Layout): fc.Arbitrary<unknown> {
	switch (layout.kind) {
		case 'prim':
			return primValueArb(layout.prim);
		case 'cstring':
			return fc.string({
				unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)),
				maxLength: layout.length,
			});
		case 'array':
			return arrayArb(layout.element, layout.length);
		case 'flex':
			return fc.integer({ min: 0, max: 4 }).chain((n) => arrayArb(layout.element, n));
		case 'union':
			return fc
				.constantFrom(...layout.fields)
				.chain((f) =>
					(f.bits !== undefined
						? primValueArb((f.layout as { prim: PrimName }).prim, f.bits.size)
						: valueArb(f.layout)
					).map((v) => ({ [f.name]: v })),
				);
		case 'struct': {
			const rec: Record<string, fc.Arbitrary<unknown>> = {};
			for (const f of layout.fields) {
				rec[f.name] =
					f.bits !== undefined
						? primValueArb((f.layout as { prim: PrimName }).prim, f.bits.size)
						: valueArb(f.layout);
			}
			const flexField = layout.fields.find((f) => f.layout.kind === 'flex');
			return fc.record(rec).map((v) => {
				if (
					flexField !== undefined &&
					flexField.layout.kind === 'flex' &&
					typeof flexField.layout.count === 'string'
				) {
					const n = (v[flexField.name] as ArrayLike<unknown>).length;
					const cf = layout.fields.find((f) => f.name === (flexField.layout as { count: string }).count)!;
					const prim = (cf.layout as { prim: PrimName }).prim;
					v[cf.name] = prim === 'u64' || prim === 'i64' ? BigInt(n) : n;
				}
				return v;
			});
		}
	}
}

/** Whether a layout contains a union anywhere (union values do not compare member-for-member). */
export function hasUnion(l: Layout): boolean {
	switch (l.kind) {
		case 'union':
			return true;
		case 'struct':
			return l.fields.some((f) => hasUnion(f.layout));
		case 'array':
		case 'flex':
			return hasUnion(l.element);
		default:
			return false;
	}
}

/**
 * Which bits of a layout's bytes belong to some declared field (1) or are padding (0), computed directly
 * from the field table (independently of the codec).
 */
export function declaredMask(l: Layout, size: number, flexCount = 0): Uint8Array {
	const mask = new Uint8Array(size);
	const mark = (bitStart: number, bitLen: number): void => {
		for (let b = bitStart; b < bitStart + bitLen; b++) mask[b >> 3]! |= 1 << (b & 7);
	};
	const walk = (x: Layout, off: number): void => {
		switch (x.kind) {
			case 'prim':
			case 'cstring':
				mark(off * 8, x.size * 8);
				return;
			case 'array':
				for (let i = 0; i < x.length; i++) walk(x.element, off + i * x.element.size);
				return;
			case 'flex':
				for (let i = 0; i < flexCount; i++) walk(x.element, off + i * x.element.size);
				return;
			case 'struct':
			case 'union':
				for (const f of x.fields) {
					if (f.bits !== undefined) mark(off * 8 + f.offset * 8 + f.bits.offset, f.bits.size);
					else walk(f.layout, off + f.offset);
				}
		}
	};
	walk(l, 0);
	return mask;
}
