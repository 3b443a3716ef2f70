/**
 * C struct layouts for x86-64 (System V, as gcc lays them out), little-endian.
 *
 * A layout is an immutable description of where every field of a C type lives. Layouts are either
 * **computed** with the C rules (natural alignment, padding, tail padding, `packed`, `aligned(N)`,
 * `#pragma pack(N)`, bit-fields) or given with **explicit** offsets, as a generator emits them; explicit
 * layouts are checked (no overlap outside unions, nothing past the end). The codec ({@link decode},
 * {@link encode}, {@link view}) interprets the same objects, and the TypeScript value types are inferred from
 * the definition:
 *
 * ```ts
 * const Hdr = struct('msgqRxHeader', [['readPtr', u32]]);
 * type HdrValue = Value<typeof Hdr>; // { readPtr: number }
 * ```
 *
 * @module
 */

import { AbiError } from './errors.ts';

// ───────────────────────────── primitive types ─────────────────────────────

/** The primitive C types, by the names the manifest uses. `bool` is one byte (C `_Bool`). */
export type PrimName = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64' | 'bool' | 'f32' | 'f64';

/** Every {@link PrimName}, in a stable order. */
export const PRIM_NAMES: readonly PrimName[] = [
	'u8',
	'u16',
	'u32',
	'u64',
	'i8',
	'i16',
	'i32',
	'i64',
	'bool',
	'f32',
	'f64',
];

const PRIM_SIZE: Readonly<Record<PrimName, number>> = {
	u8: 1,
	i8: 1,
	bool: 1,
	u16: 2,
	i16: 2,
	u32: 4,
	i32: 4,
	f32: 4,
	u64: 8,
	i64: 8,
	f64: 8,
};

/** Whether `name` is a {@link PrimName}. */
export function isPrimName(name: string): name is PrimName {
	return Object.hasOwn(PRIM_SIZE, name);
}

/** Whether the primitive is an integer type (bit-fields and flex counts need one; `bool` is not). */
export function isIntegerPrim(p: PrimName): boolean {
	return p !== 'bool' && p !== 'f32' && p !== 'f64';
}

/** Whether the primitive decodes to a `bigint` (the 64-bit integers). */
export function isBigPrim(p: PrimName): p is 'u64' | 'i64' {
	return p === 'u64' || p === 'i64';
}

/** Whether the primitive is signed. */
export function isSignedPrim(p: PrimName): boolean {
	return p === 'i8' || p === 'i16' || p === 'i32' || p === 'i64';
}

// ───────────────────────────── layout types ─────────────────────────────

/** Brand carried (non-enumerably) by every layout object, so {@link isLayout} can check foreign values. */
const BRAND = Symbol.for('@gspkit/abi/layout');
/** Internal data of struct/union layouts (definitions, name index). */
const INTERNAL = Symbol.for('@gspkit/abi/layout-internal');
declare const FIELDS: unique symbol;

/** Properties every layout has. */
interface LayoutCommon {
	/** `sizeof` in bytes. For a struct ending in a flexible array this is C's `sizeof` (the fixed part). */
	readonly size: number;
	/** `_Alignof` in bytes. */
	readonly align: number;
}

/** A primitive: `u8`…`u64`, `i8`…`i64`, `bool`, `f32`, `f64`. */
export interface PrimLayout<N extends PrimName = PrimName> extends LayoutCommon {
	readonly kind: 'prim';
	readonly prim: N;
}

/** A fixed-length array `T x[N]`. Arrays of integer/float primitives decode to typed arrays. */
export interface ArrayLayout<E extends FixedLayout = FixedLayout> extends LayoutCommon {
	readonly kind: 'array';
	readonly element: E;
	readonly length: number;
}

/** A `char x[N]` read as a NUL-terminated string (one byte per character, NUL-padded on encode). */
export interface CStringLayout extends LayoutCommon {
	readonly kind: 'cstring';
	readonly length: number;
}

/**
 * How many elements a flexible array member has: the name of an integer field of the same struct, a
 * function of the struct's other fields, or `undefined` for "as many as the buffer holds".
 */
export type FlexCount = string | ((fields: Readonly<Record<string, unknown>>) => number);

/** A trailing flexible array member `T x[]`. Only valid as the last field of a struct. */
export interface FlexLayout<E extends FixedLayout = FixedLayout> extends LayoutCommon {
	readonly kind: 'flex';
	readonly element: E;
	readonly count: FlexCount | undefined;
}

/** A struct. `F` is the field definition tuple, kept only for type inference. */
export interface StructLayout<F extends readonly FieldDef[] = readonly FieldDef[]> extends LayoutCommon {
	readonly kind: 'struct';
	/** The C type name (`''` for an anonymous struct). */
	readonly name: string;
	/** Whether the struct is `__attribute__((packed))`. */
	readonly packed: boolean;
	/** The resolved fields, in declaration order. */
	readonly fields: readonly Field[];
	/** Where the variable-length tail starts, if the struct ends in a flexible array (directly or nested). */
	readonly tail: Tail | undefined;
	readonly [FIELDS]?: F;
}

/** A union: every member at offset 0, size = largest member rounded up to the alignment. */
export interface UnionLayout<F extends readonly FieldDef[] = readonly FieldDef[]> extends LayoutCommon {
	readonly kind: 'union';
	readonly name: string;
	readonly packed: boolean;
	readonly fields: readonly Field[];
	readonly tail: undefined;
	readonly [FIELDS]?: F;
}

/** Any layout that has a fixed size (everything but a bare flexible array). */
export type FixedLayout = PrimLayout | ArrayLayout | CStringLayout | StructLayout | UnionLayout;

/** Any layout. */
export type Layout = FixedLayout | FlexLayout;

/** A struct or a union: the layouts that have named fields. */
export type RecordLayout = StructLayout | UnionLayout;

/** Options of one field (the third element of a {@link FieldDef}). */
export interface FieldOptions {
	/** Explicit byte offset (as a generator emits it). Checked, not trusted: overlaps are errors in structs. */
	readonly offset?: number;
	/** `__attribute__((aligned(N)))` on the member: raises its alignment to `N` (a power of two). */
	readonly align?: number;
	/** `__attribute__((packed))` on the member: alignment 1. */
	readonly packed?: boolean;
	/** Bit-field width (`u32 flags : 3` is `['flags', u32, { bits: 3 }]`). */
	readonly bits?: number;
	/** Explicit bit offset relative to `offset * 8` (explicit bit-fields only). */
	readonly bitOffset?: number;
	/** Treat as reserved even if the name does not say so (optional on encode, kept verbatim). */
	readonly reserved?: boolean;
	/**
	 * The manifest type string to record for this field when the layout alone would lose it (`enum NAME`,
	 * `ptr`, …). Set by {@link layoutFromManifest} so a manifest survives a round trip unchanged.
	 */
	readonly ctype?: string;
}

/** A field definition: `[name, layout]` or `[name, layout, options]`. */
export type FieldDef = readonly [name: string, layout: Layout, options?: FieldOptions];

/** A resolved field of a struct or union. */
export interface Field {
	readonly name: string;
	readonly layout: Layout;
	/**
	 * Byte offset from the start of the enclosing type. For bit-fields, the offset of the storage unit
	 * the field sits in (see {@link Field.bits}).
	 */
	readonly offset: number;
	/** Size in bytes (the storage unit for bit-fields, 0 for a flexible array). */
	readonly size: number;
	/** For bit-fields: bit offset relative to `offset * 8`, and width in bits. */
	readonly bits: { readonly offset: number; readonly size: number } | undefined;
	/** Reserved/padding field: optional on encode, decoded and re-encoded verbatim. */
	readonly reserved: boolean;
	/** Whether the offset was given explicitly. */
	readonly explicit: boolean;
	/** The manifest type spelling given in {@link FieldOptions.ctype}, if any. */
	readonly ctype: string | undefined;
}

/** Where a struct's flexible tail is and how to count it. */
export interface Tail {
	/** Byte offset (from this struct's start) of the flexible array. */
	readonly offset: number;
	/** The element layout. */
	readonly element: FixedLayout;
	/** How the element count is found (relative to {@link Tail.owner}). */
	readonly count: FlexCount | undefined;
	/** The struct that declares the flexible array (this struct or the last field, recursively). */
	readonly owner: StructLayout;
	/** Byte offset of {@link Tail.owner} from this struct's start. */
	readonly ownerOffset: number;
	/** Field names from this struct to the flexible array, e.g. `['rpc', 'data']`. */
	readonly path: readonly string[];
}

/** Options of {@link struct} and {@link union}. */
export interface StructOptions {
	/** `__attribute__((packed))`: every member gets alignment 1 (unless it has its own `align`). */
	readonly packed?: boolean;
	/** `__attribute__((aligned(N)))` on the type: raises the type's alignment to `N`. */
	readonly align?: number;
	/** `#pragma pack(N)`: caps every member's alignment (including `aligned` attributes) at `N`. */
	readonly pack?: number;
	/** Explicit `sizeof` (as a generator emits it); must be ≥ the end of the last field and a multiple of the alignment. */
	readonly size?: number;
}

interface RecordInternal {
	readonly defs: readonly FieldDef[];
	readonly options: StructOptions;
	readonly byName: ReadonlyMap<string, Field>;
}

// ───────────────────────────── inferred value types ─────────────────────────────

interface PrimValueMap {
	u8: number;
	u16: number;
	u32: number;
	i8: number;
	i16: number;
	i32: number;
	f32: number;
	f64: number;
	u64: bigint;
	i64: bigint;
	bool: boolean;
}

interface PrimInputMap extends Omit<PrimValueMap, 'u64' | 'i64'> {
	u64: bigint | number;
	i64: bigint | number;
}

interface TypedArrayMap {
	u8: Uint8Array;
	u16: Uint16Array;
	u32: Uint32Array;
	i8: Int8Array;
	i16: Int16Array;
	i32: Int32Array;
	f32: Float32Array;
	f64: Float64Array;
	u64: BigUint64Array;
	i64: BigInt64Array;
	bool: boolean[];
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type Letter =
	| 'A'
	| 'B'
	| 'C'
	| 'D'
	| 'E'
	| 'F'
	| 'G'
	| 'H'
	| 'I'
	| 'J'
	| 'K'
	| 'L'
	| 'M'
	| 'N'
	| 'O'
	| 'P'
	| 'Q'
	| 'R'
	| 'S'
	| 'T'
	| 'U'
	| 'V'
	| 'W'
	| 'X'
	| 'Y'
	| 'Z';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type ReservedWord = 'reserved' | 'rsvd' | 'spare' | 'unused';
type ReservedStem<S extends string> = S extends `_${infer R}` ? ReservedStem<R> : S;
type PadStem = 'pad' | 'Pad' | 'padding' | 'Padding';
type IsReservedStem<S extends string> =
	Lowercase<S> extends `${ReservedWord}${string}`
		? true
		: S extends PadStem | `${PadStem}${Digit | '_' | Letter}${string}`
			? true
			: false;

/** `true` if a field name marks reserved/padding space (mirrors {@link isReservedName} at the type level). */
export type IsReservedName<S extends string> = IsReservedStem<ReservedStem<S>>;

type IsOptionalField<D extends FieldDef> = D[2] extends { readonly reserved: true }
	? true
	: D[0] extends string
		? IsReservedName<D[0]>
		: false;

type FieldsValue<F extends readonly FieldDef[]> = Simplify<{
	-readonly [D in F[number] as D[0]]: Value<D[1]>;
}>;

type FieldsInput<F extends readonly FieldDef[]> = Simplify<
	{ readonly [D in F[number] as IsOptionalField<D> extends true ? never : D[0]]: Input<D[1]> } & {
		readonly [D in F[number] as IsOptionalField<D> extends true ? D[0] : never]?: Input<D[1]>;
	}
>;

type FieldsPartial<F extends readonly FieldDef[]> = Simplify<{
	readonly [D in F[number] as D[0]]?: PartialInput<D[1]>;
}>;

type UnionInput<F extends readonly FieldDef[]> = Simplify<{
	readonly [D in F[number] as D[0]]?: Input<D[1]>;
}>;

type ArrayValue<E> = E extends PrimLayout<infer N> ? TypedArrayMap[N] : Value<E>[];
type ArrayInput<E> = E extends PrimLayout<infer N> ? ArrayLike<PrimInputMap[N]> : readonly Input<E>[];
type ArrayPartial<E> =
	E extends PrimLayout<infer N> ? ArrayLike<PrimInputMap[N]> : readonly (PartialInput<E> | undefined)[];

/**
 * The decoded value of a layout: `u64`/`i64` → `bigint`, other numbers → `number`, `bool` → `boolean`,
 * arrays of numeric primitives → typed arrays (`u8[16]` → `Uint8Array`), other arrays → arrays,
 * structs and unions → plain objects, C strings → `string`.
 */
export type Value<L> =
	L extends PrimLayout<infer N>
		? PrimValueMap[N]
		: L extends CStringLayout
			? string
			: L extends ArrayLayout<infer E>
				? ArrayValue<E>
				: L extends FlexLayout<infer E>
					? ArrayValue<E>
					: L extends StructLayout<infer F>
						? FieldsValue<F>
						: L extends UnionLayout<infer F>
							? FieldsValue<F>
							: unknown;

/**
 * What {@link encode} accepts for a layout: like {@link Value}, but 64-bit integers may also be safe-integer
 * numbers, numeric arrays may be any array-like, reserved fields may be omitted (their bytes are left
 * untouched) and a union takes (normally) one member.
 */
export type Input<L> =
	L extends PrimLayout<infer N>
		? PrimInputMap[N]
		: L extends CStringLayout
			? string
			: L extends ArrayLayout<infer E>
				? ArrayInput<E>
				: L extends FlexLayout<infer E>
					? ArrayInput<E>
					: L extends StructLayout<infer F>
						? FieldsInput<F>
						: L extends UnionLayout<infer F>
							? UnionInput<F>
							: unknown;

/** What {@link patch} accepts: every field optional, recursively (only the given fields are written). */
export type PartialInput<L> =
	L extends StructLayout<infer F>
		? FieldsPartial<F>
		: L extends UnionLayout<infer F>
			? FieldsPartial<F>
			: L extends ArrayLayout<infer E>
				? ArrayPartial<E>
				: L extends FlexLayout<infer E>
					? ArrayPartial<E>
					: Input<L>;

// ───────────────────────────── constructors ─────────────────────────────

function brand<T extends object>(obj: T, internal?: RecordInternal): T {
	Object.defineProperty(obj, BRAND, { value: true });
	if (internal !== undefined) Object.defineProperty(obj, INTERNAL, { value: internal });
	return Object.freeze(obj);
}

function prim<N extends PrimName>(p: N): PrimLayout<N> {
	return brand({ kind: 'prim', prim: p, size: PRIM_SIZE[p], align: PRIM_SIZE[p] });
}

/** `uint8_t` / `NvU8`. */
export const u8: PrimLayout<'u8'> = prim('u8');
/** `uint16_t` / `NvU16`. */
export const u16: PrimLayout<'u16'> = prim('u16');
/** `uint32_t` / `NvU32`. */
export const u32: PrimLayout<'u32'> = prim('u32');
/** `uint64_t` / `NvU64` (decoded as `bigint`). */
export const u64: PrimLayout<'u64'> = prim('u64');
/** `int8_t` / `char` on x86-64. */
export const i8: PrimLayout<'i8'> = prim('i8');
/** `int16_t`. */
export const i16: PrimLayout<'i16'> = prim('i16');
/** `int32_t`. */
export const i32: PrimLayout<'i32'> = prim('i32');
/** `int64_t` (decoded as `bigint`). */
export const i64: PrimLayout<'i64'> = prim('i64');
/** C `_Bool`: one byte, decoded as `boolean`. (NVIDIA's `NvBool` is a `u8` in the headers.) */
export const bool: PrimLayout<'bool'> = prim('bool');
/** `float`. */
export const f32: PrimLayout<'f32'> = prim('f32');
/** `double`. */
export const f64: PrimLayout<'f64'> = prim('f64');

/** The primitive layout object for a {@link PrimName}. */
export function primLayout<N extends PrimName>(p: N): PrimLayout<N> {
	const table: Record<PrimName, PrimLayout> = { u8, u16, u32, u64, i8, i16, i32, i64, bool, f32, f64 };
	return table[p] as PrimLayout<N>;
}

/** Whether `x` is a layout object created by this package. */
export function isLayout(x: unknown): x is Layout {
	return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
}

function checkCount(n: number, what: string): void {
	if (!Number.isSafeInteger(n) || n < 0) {
		throw new AbiError('ABI_LAYOUT', `${what} must be a non-negative integer, got ${String(n)}`, {
			value: n,
		});
	}
}

function checkPow2(n: number, what: string): void {
	if (!Number.isSafeInteger(n) || n < 1 || (n & (n - 1)) !== 0 || n > 2 ** 28) {
		throw new AbiError('ABI_LAYOUT', `${what} must be a power of two, got ${String(n)}`, { value: n });
	}
}

function assertLayoutArg(x: unknown, what: string): asserts x is Layout {
	if (!isLayout(x)) throw new AbiError('ABI_BAD_ARGUMENT', `${what} is not a layout`, { value: String(x) });
}

function assertFixed(l: Layout, what: string): asserts l is FixedLayout {
	if (l.kind === 'flex') {
		throw new AbiError(
			'ABI_LAYOUT',
			`${what} cannot be a flexible array (only the last field of a struct can)`,
		);
	}
	if (l.kind === 'struct' && l.tail !== undefined) {
		throw new AbiError(
			'ABI_LAYOUT',
			`${what} cannot be struct ${l.name || '(anonymous)'}, which ends in a flexible array (only the last field of a struct can)`,
		);
	}
}

/** A fixed array `T x[length]` (`array(array(u32, 2), 4)` is `u32 x[4][2]`). */
export function array<E extends FixedLayout>(element: E, length: number): ArrayLayout<E> {
	assertLayoutArg(element, 'array element');
	assertFixed(element, 'an array element');
	checkCount(length, 'array length');
	return brand({ kind: 'array', element, length, size: element.size * length, align: element.align });
}

/** A `char x[length]` field decoded as a NUL-terminated string (bytes as Latin-1 characters; lossless). */
export function cstring(length: number): CStringLayout {
	checkCount(length, 'string length');
	return brand({ kind: 'cstring', length, size: length, align: 1 });
}

/** Options of {@link flex}. */
export interface FlexOptions {
	/** How many elements: a sibling integer field's name, a function of the sibling fields, or omitted (fill the buffer). */
	readonly count?: FlexCount;
}

/**
 * A trailing flexible array member `T x[]`. Its element count comes from `options.count` (a sibling field
 * or a function); without one, a decode takes as many whole elements as the buffer holds (none, for a
 * zero-size element such as an empty GNU union).
 */
export function flex<E extends FixedLayout>(element: E, options: FlexOptions = {}): FlexLayout<E> {
	assertLayoutArg(element, 'flexible array element');
	assertFixed(element, 'a flexible array element');
	const count = options.count;
	if (count !== undefined && typeof count !== 'string' && typeof count !== 'function') {
		throw new AbiError('ABI_LAYOUT', 'flex count must be a field name or a function');
	}
	return brand({ kind: 'flex', element, count, size: 0, align: element.align });
}

/**
 * A struct. Fields are `[name, layout]` or `[name, layout, options]`; offsets are computed with the
 * x86-64 C rules unless a field gives `offset` (then it is checked for overlap and bounds).
 *
 * ```ts
 * const Meta = struct('GspFwWprMeta', [['magic', u64], ['revision', u64]]);
 * ```
 */
export function struct<const F extends readonly FieldDef[]>(
	name: string,
	fields: F,
	options: StructOptions = {},
): StructLayout<F> {
	return buildRecord('struct', name, fields, options) as StructLayout<F>;
}

/** A union: members at offset 0, size = largest member rounded up to the union's alignment. */
export function union<const F extends readonly FieldDef[]>(
	name: string,
	fields: F,
	options: StructOptions = {},
): UnionLayout<F> {
	return buildRecord('union', name, fields, options) as UnionLayout<F>;
}

/** The same struct or union with `__attribute__((packed))` (every member alignment 1, offsets recomputed). */
export function packed<L extends RecordLayout>(layout: L): L {
	return withOptions(layout, { packed: true });
}

/** The same struct or union with `__attribute__((aligned(n)))` on the type. */
export function aligned<L extends RecordLayout>(n: number, layout: L): L {
	assertLayoutArg(layout, 'layout');
	checkPow2(n, 'align');
	return withOptions(layout, { align: Math.max(n, layout.align) });
}

function withOptions<L extends RecordLayout>(layout: L, extra: StructOptions): L {
	assertLayoutArg(layout, 'layout');
	if (layout.kind !== 'struct' && layout.kind !== 'union') {
		throw new AbiError(
			'ABI_BAD_ARGUMENT',
			`only a struct or union can take attributes, not ${(layout as Layout).kind}`,
		);
	}
	const internal = internalOf(layout);
	return buildRecord(layout.kind, layout.name, internal.defs, { ...internal.options, ...extra }) as L;
}

function internalOf(layout: RecordLayout): RecordInternal {
	return (layout as unknown as Record<symbol, RecordInternal>)[INTERNAL]!;
}

/** The resolved field `name` of a struct or union, or `undefined`. */
export function fieldOf(layout: RecordLayout, name: string): Field | undefined {
	return internalOf(layout).byName.get(name);
}

/** The field definitions and options a struct/union was built from (generators re-emit them). */
export function definitionOf(layout: RecordLayout): {
	readonly fields: readonly FieldDef[];
	readonly options: StructOptions;
} {
	const i = internalOf(layout);
	return { fields: i.defs, options: i.options };
}

/**
 * Whether a field name marks reserved or padding space: `reserved*`, `rsvd*`, `spare*`, `unused*` (any
 * case), or `pad`/`padding` (or `Pad`/`Padding`) alone or followed by a digit, `_` or a capital (`pad0`,
 * `padding_1`, `padBytes` — but not `paddr`). Leading underscores are ignored. Such fields are optional on
 * encode and are kept verbatim on a round trip.
 */
export function isReservedName(name: string): boolean {
	const stem = name.replace(/^_+/, '');
	return /^(?:reserved|rsvd|spare|unused)/i.test(stem) || /^[pP]ad(?:ding)?(?:$|[0-9_A-Z])/.test(stem);
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

function layoutLabel(kind: string, name: string): string {
	return `${kind} ${name || '(anonymous)'}`;
}

function buildRecord(
	kind: 'struct' | 'union',
	name: string,
	defs: readonly FieldDef[],
	options: StructOptions,
): RecordLayout {
	if (typeof name !== 'string') throw new AbiError('ABI_BAD_ARGUMENT', `${kind} name must be a string`);
	if (!Array.isArray(defs))
		throw new AbiError('ABI_BAD_ARGUMENT', `${layoutLabel(kind, name)}: fields must be an array`);
	const label = layoutLabel(kind, name);
	const structPacked = options.packed === true;
	if (options.align !== undefined) checkPow2(options.align, `${label}: align`);
	if (options.pack !== undefined) checkPow2(options.pack, `${label}: pack`);

	const fields: Field[] = [];
	const byName = new Map<string, Field>();
	let cursorBits = 0; // end of the previous field, in bits (computed placement)
	let endBits = 0; // furthest end of any field, in bits
	let maxAlign = 1;
	let tail: Tail | undefined;

	for (let i = 0; i < defs.length; i++) {
		const def: unknown = defs[i];
		if (!Array.isArray(def) || def.length < 2 || def.length > 3) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}: field #${i} must be [name, layout] or [name, layout, options]`,
			);
		}
		const [fname, fl, fo = {}] = def as unknown as FieldDef;
		if (typeof fname !== 'string' || fname === '') {
			throw new AbiError('ABI_LAYOUT', `${label}: field #${i} needs a non-empty name`);
		}
		const where = `${label}.${fname}`;
		if (byName.has(fname))
			throw new AbiError('ABI_LAYOUT', `${label}: duplicate field '${fname}'`, { field: fname });
		assertLayoutArg(fl, `${where}: layout`);
		if (typeof fo !== 'object' || fo === null)
			throw new AbiError('ABI_LAYOUT', `${where}: options must be an object`);

		const isLast = i === defs.length - 1;
		const isFlex = fl.kind === 'flex';
		const hasTail = fl.kind === 'struct' && fl.tail !== undefined;
		if (isFlex || hasTail) {
			if (kind === 'union') {
				throw new AbiError('ABI_LAYOUT', `${where}: a union member cannot be or end in a flexible array`);
			}
			if (!isLast) throw new AbiError('ABI_LAYOUT', `${where}: a flexible array must be the last field`);
			if (fo.bits !== undefined)
				throw new AbiError('ABI_LAYOUT', `${where}: a flexible array cannot be a bit-field`);
		}

		let a = structPacked || fo.packed === true ? 1 : fl.align;
		if (fo.align !== undefined) {
			checkPow2(fo.align, `${where}: align`);
			a = Math.max(a, fo.align);
		}
		if (options.pack !== undefined) a = Math.min(a, options.pack);

		const reserved = fo.reserved === true || isReservedName(fname);
		const explicit = fo.offset !== undefined;
		if (explicit) checkCount(fo.offset!, `${where}: offset`);

		let field: Field;
		if (fo.bits !== undefined) {
			// ── bit-field ──
			if (fl.kind !== 'prim' || !(isIntegerPrim(fl.prim) || fl.prim === 'bool')) {
				throw new AbiError('ABI_LAYOUT', `${where}: a bit-field must have an integer or bool type`);
			}
			const width = fo.bits;
			const maxWidth = fl.prim === 'bool' ? 1 : fl.size * 8;
			if (!Number.isSafeInteger(width) || width < 1 || width > maxWidth) {
				throw new AbiError(
					'ABI_LAYOUT',
					`${where}: bit-field width must be 1..${maxWidth}, got ${String(width)}`,
				);
			}
			let start: number;
			if (explicit) {
				const bo = fo.bitOffset ?? 0;
				checkCount(bo, `${where}: bitOffset`);
				start = fo.offset! * 8 + bo;
				if (kind === 'union' && start !== 0) {
					throw new AbiError('ABI_LAYOUT', `${where}: union members must be at offset 0`, {
						offset: fo.offset,
					});
				}
			} else if (kind === 'union') {
				start = 0;
			} else {
				if (fo.bitOffset !== undefined) {
					throw new AbiError('ABI_LAYOUT', `${where}: bitOffset needs an explicit offset`);
				}
				start = cursorBits;
				if (!(structPacked || fo.packed === true || options.pack !== undefined)) {
					// A bit-field never straddles an aligned unit of its type, unless packed or under
					// #pragma pack (gcc then skips the check altogether).
					const unit = fl.align * 8;
					if (Math.floor(start / unit) !== Math.floor((start + width - 1) / unit))
						start = alignUp(start, unit);
				}
			}
			const unitBytes = fl.size;
			let off = Math.floor(start / (unitBytes * 8)) * unitBytes;
			if (explicit) off = fo.offset!;
			else if (start - off * 8 + width > unitBytes * 8) off = Math.floor(start / 8);
			field = {
				name: fname,
				layout: fl,
				offset: off,
				size: unitBytes,
				bits: { offset: start - off * 8, size: width },
				reserved,
				explicit,
				ctype: fo.ctype,
			};
			const end = start + width;
			if (kind === 'union') endBits = Math.max(endBits, Math.ceil(width / 8) * 8);
			else {
				cursorBits = end;
				endBits = Math.max(endBits, end);
			}
			// gcc: under #pragma pack(N) a bit-field contributes min(type align, N) even when packed.
			maxAlign = Math.max(maxAlign, options.pack !== undefined ? Math.min(fl.align, options.pack) : a);
		} else {
			if (fo.bitOffset !== undefined) throw new AbiError('ABI_LAYOUT', `${where}: bitOffset needs bits`);
			let off: number;
			if (explicit) {
				off = fo.offset!;
				if (kind === 'union' && off !== 0) {
					throw new AbiError('ABI_LAYOUT', `${where}: union members must be at offset 0`, { offset: off });
				}
			} else {
				off = kind === 'union' ? 0 : alignUp(Math.ceil(cursorBits / 8), a);
			}
			field = {
				name: fname,
				layout: fl,
				offset: off,
				size: fl.size,
				bits: undefined,
				reserved,
				explicit,
				ctype: fo.ctype,
			};
			if (kind === 'union') endBits = Math.max(endBits, fl.size * 8);
			else {
				cursorBits = (off + fl.size) * 8;
				if (!isFlex && !hasTail) endBits = Math.max(endBits, cursorBits);
			}
			maxAlign = Math.max(maxAlign, a);
			if (isFlex) {
				tail = {
					offset: off,
					element: fl.element,
					count: fl.count,
					owner: undefined as unknown as StructLayout, // patched below once the struct exists
					ownerOffset: 0,
					path: [fname],
				};
			} else if (hasTail) {
				const t = fl.tail!;
				tail = { ...t, offset: off + t.offset, ownerOffset: off + t.ownerOffset, path: [fname, ...t.path] };
				// C counts the member's complete sizeof (with its tail padding) towards the outer size.
				endBits = Math.max(endBits, (off + fl.size) * 8);
			}
		}
		fields.push(field);
		byName.set(fname, field);
	}

	const align = Math.max(maxAlign, options.align ?? 1);
	let endBytes = Math.ceil(endBits / 8);
	if (tail !== undefined) endBytes = Math.max(endBytes, tail.offset);
	let size = alignUp(endBytes, align);
	if (options.size !== undefined) {
		checkCount(options.size, `${label}: size`);
		if (options.size < endBytes) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}: size ${options.size} is smaller than the end of its fields (${endBytes})`,
				{ type: name, size: options.size, end: endBytes },
			);
		}
		if (options.size % align !== 0) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}: size ${options.size} is not a multiple of its alignment ${align}`,
				{
					type: name,
					size: options.size,
					align,
				},
			);
		}
		size = options.size;
	}

	if (kind === 'struct') checkNoOverlap(label, name, fields, size, tail);
	else checkUnionBounds(label, name, fields, size);

	const layout = {
		kind,
		name,
		size,
		align,
		packed: structPacked,
		fields: Object.freeze(fields),
		tail: undefined as Tail | undefined,
	};
	if (tail !== undefined) {
		const owner = tail.path.length === 1 ? (layout as unknown as StructLayout) : tail.owner;
		layout.tail = Object.freeze({ ...tail, owner });
	}
	for (const f of fields) Object.freeze(f);
	const built = brand(layout, {
		defs: Object.freeze([...defs]),
		options: Object.freeze({ ...options }),
		byName,
	});
	if (tail !== undefined && tail.path.length === 1) checkFlexCount(label, built as StructLayout, byName);
	return built as RecordLayout;
}

function checkFlexCount(label: string, layout: StructLayout, byName: ReadonlyMap<string, Field>): void {
	const count = layout.tail!.count;
	if (typeof count !== 'string') return;
	const f = byName.get(count);
	if (f === undefined || f.layout.kind !== 'prim' || !isIntegerPrim(f.layout.prim)) {
		throw new AbiError(
			'ABI_LAYOUT',
			`${label}: flexible array count field '${count}' must be an integer field of the same struct`,
			{ count },
		);
	}
}

function bitRange(f: Field): [number, number] {
	if (f.layout.kind === 'flex') return [f.offset * 8, f.offset * 8];
	if (f.layout.kind === 'struct' && f.layout.tail !== undefined) {
		return [f.offset * 8, (f.offset + f.layout.tail.offset) * 8];
	}
	if (f.bits !== undefined) {
		const s = f.offset * 8 + f.bits.offset;
		return [s, s + f.bits.size];
	}
	return [f.offset * 8, (f.offset + f.size) * 8];
}

function checkNoOverlap(
	label: string,
	name: string,
	fields: readonly Field[],
	size: number,
	tail: Tail | undefined,
): void {
	const ranges = fields
		.map((f) => ({ f, r: bitRange(f) }))
		.filter((x) => x.r[1] > x.r[0])
		.sort((x, y) => x.r[0] - y.r[0] || x.r[1] - y.r[1]);
	for (let i = 0; i < ranges.length; i++) {
		const cur = ranges[i]!;
		if (cur.r[1] > size * 8) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}.${cur.f.name} (bytes ${cur.f.offset}..${Math.ceil(cur.r[1] / 8)}) extends past the end of the type (${size} bytes)`,
				{ type: name, field: cur.f.name, offset: cur.f.offset, size },
			);
		}
		const prev = ranges[i - 1];
		if (prev !== undefined && cur.r[0] < prev.r[1]) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}: fields '${prev.f.name}' and '${cur.f.name}' overlap (only union members may)`,
				{ type: name, fields: [prev.f.name, cur.f.name] },
			);
		}
	}
	if (tail !== undefined) {
		const last = ranges.reduce((m, x) => Math.max(m, x.r[1]), 0);
		if (last > tail.offset * 8) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${label}: a field overlaps the flexible array at offset ${tail.offset}`,
				{
					type: name,
					tailOffset: tail.offset,
				},
			);
		}
	}
}

function checkUnionBounds(label: string, name: string, fields: readonly Field[], size: number): void {
	for (const f of fields) {
		const [, end] = bitRange(f);
		if (end > size * 8) {
			throw new AbiError('ABI_LAYOUT', `${label}.${f.name} is larger than the union (${size} bytes)`, {
				type: name,
				field: f.name,
				size,
			});
		}
	}
}

// ───────────────────────────── queries ─────────────────────────────

/** C `sizeof`: for a struct ending in a flexible array, the fixed part including tail padding. */
export function sizeof(layout: Layout): number {
	assertLayoutArg(layout, 'layout');
	return layout.size;
}

/** C `_Alignof`. */
export function alignof(layout: Layout): number {
	assertLayoutArg(layout, 'layout');
	return layout.align;
}

/** The result of {@link locate}: where a path ends up and what lives there. */
export interface Location {
	/** Byte offset from the start of the root layout. */
	readonly offset: number;
	/** The layout found at the path. */
	readonly layout: Layout;
	/** For a bit-field: bit offset relative to `offset * 8`, and width. */
	readonly bits: { readonly offset: number; readonly size: number } | undefined;
	/** The path, normalised (`a.b[2].c`). */
	readonly path: string;
}

/** One step of a field path: a member name or an array index. */
export type PathStep = string | number;

/** Split `a.b[2].c` into `['a', 'b', 2, 'c']`. */
export function parsePath(path: string): PathStep[] {
	if (typeof path !== 'string' || path === '') {
		throw new AbiError('ABI_UNKNOWN_FIELD', `invalid field path ${JSON.stringify(path)}`, { path });
	}
	const steps: PathStep[] = [];
	const re = /(^|\.)([^.[\]]+)|\[(\d+)\]/y;
	let pos = 0;
	while (pos < path.length) {
		re.lastIndex = pos;
		const m = re.exec(path);
		if (m === null || (m[2] !== undefined && m[1] === '' && pos !== 0)) {
			throw new AbiError(
				'ABI_UNKNOWN_FIELD',
				`invalid field path ${JSON.stringify(path)} at character ${pos}`,
				{
					path,
				},
			);
		}
		steps.push(m[2] !== undefined ? m[2] : Number(m[3]));
		pos = re.lastIndex;
	}
	return steps;
}

function formatSteps(steps: readonly PathStep[]): string {
	let s = '';
	for (const st of steps) s += typeof st === 'number' ? `[${st}]` : s === '' ? st : `.${st}`;
	return s;
}

/**
 * Resolve a field path (`'a.b[2].c'`) to its byte offset and layout. Indices into a flexible array are
 * allowed (the offset is where that element would be). Unknown names give `ABI_UNKNOWN_FIELD`, indices
 * outside a fixed array `ABI_INDEX_RANGE`.
 */
export function locate(layout: Layout, path: string): Location {
	assertLayoutArg(layout, 'layout');
	const steps = parsePath(path);
	let cur: Layout = layout;
	let offset = 0;
	let bits: Location['bits'];
	for (let i = 0; i < steps.length; i++) {
		const st = steps[i]!;
		const here = formatSteps(steps.slice(0, i + 1));
		if (bits !== undefined) {
			throw new AbiError('ABI_UNKNOWN_FIELD', `${here}: a bit-field has no members`, { path });
		}
		if (typeof st === 'number') {
			if (cur.kind !== 'array' && cur.kind !== 'flex') {
				throw new AbiError('ABI_UNKNOWN_FIELD', `${here}: not an array`, { path });
			}
			if (cur.kind === 'array' && st >= cur.length) {
				throw new AbiError(
					'ABI_INDEX_RANGE',
					`${here}: index ${st} is outside the array (length ${cur.length})`,
					{
						path,
						index: st,
						length: cur.length,
					},
				);
			}
			offset += st * cur.element.size;
			cur = cur.element;
		} else {
			if (cur.kind !== 'struct' && cur.kind !== 'union') {
				throw new AbiError('ABI_UNKNOWN_FIELD', `${here}: ${cur.kind} has no member '${st}'`, { path });
			}
			const f = fieldOf(cur, st);
			if (f === undefined) {
				throw new AbiError(
					'ABI_UNKNOWN_FIELD',
					`${layoutLabel(cur.kind, cur.name)} has no field '${st}' (path ${path})`,
					{ path, type: cur.name, field: st },
				);
			}
			offset += f.offset;
			cur = f.layout;
			bits = f.bits;
		}
	}
	return { offset, layout: cur, bits, path: formatSteps(steps) };
}

/**
 * C `offsetof(type, a.b[2].c)`. Like C, a bit-field has no byte offset: asking for one is `ABI_UNKNOWN_FIELD`
 * (use {@link locate}).
 */
export function offsetof(layout: Layout, path: string): number {
	const loc = locate(layout, path);
	if (loc.bits !== undefined) {
		throw new AbiError('ABI_UNKNOWN_FIELD', `${path} is a bit-field; it has no byte offset (use locate())`, {
			path,
		});
	}
	return loc.offset;
}

/**
 * The normalised type string the manifest uses: `u32`, `char[16]`, `struct NAME`, `union NAME`,
 * `u32[4][2]`, `u8[]` (flexible array). Anonymous records are named by the caller via `nameOf`.
 */
export function typeString(layout: Layout, nameOf: (l: RecordLayout) => string = (l) => l.name): string {
	const dims: string[] = [];
	let cur: Layout = layout;
	if (cur.kind === 'flex') {
		dims.push('[]');
		cur = cur.element;
	}
	while (cur.kind === 'array') {
		dims.push(`[${cur.length}]`);
		cur = cur.element;
	}
	let base: string;
	switch (cur.kind) {
		case 'prim':
			base = cur.prim;
			break;
		case 'cstring':
			base = 'char';
			dims.push(`[${cur.length}]`);
			break;
		case 'struct':
		case 'union':
			base = `${cur.kind} ${nameOf(cur)}`;
			break;
		default:
			throw new AbiError('ABI_LAYOUT', 'nested flexible array');
	}
	return base + dims.join('');
}
