/**
 * Declarative, typed MMIO registers in the spirit of nova-core's `register!` macro.
 *
 * A register is declared once as data — name, offset, width, doc, and `hi:lo` fields — and every accessor is
 * derived from it: there are no hand-written masks anywhere else. Field names are inferred, so a typo in a
 * field name is a compile error.
 *
 * ```ts
 * const BOOT_42 = defineRegister({
 *   name: 'NV_PMC_BOOT_42', offset: 0xa00, doc: 'Chip identification (Fermi+).',
 *   fields: {
 *     architecture: { bits: [29, 24], tryAs: ArchitectureCodec }, // fallible (`?=>`): get() returns a Result
 *     implementation: { bits: [23, 20] },                          // plain number
 *   },
 * });
 * const v = BOOT_42.read(bar);          // immutable RegisterValue
 * v.get('implementation');              // number
 * BOOT_42.update(bar, (r) => r.with('implementation', 2)); // read-modify-write, other bits preserved
 * ```
 *
 * Field kinds:
 * - `{ bits: [hi, lo] }` — unsigned integer (`number` in 32-bit registers, `bigint` in 64-bit registers);
 * - `{ bit: n }` — a flag (`boolean`);
 * - `{ bits, as: codec }` — total typed decode (nova `=> Type`), e.g. an enum covering every raw value;
 * - `{ bits, tryAs: codec }` — fallible typed decode (nova `?=> Type`): `get` returns a {@link Result}.
 *
 * Locations: {@link defineRegister} (absolute), {@link defineRegisterArray} (`NAME[n] @ offset`, with a stride),
 * {@link defineAlias} (another view of an existing register, `=> NAME[i]`), and {@link defineRelativeRegister} /
 * {@link defineRelativeRegisterArray} (offsets relative to a {@link RegisterBase}, so one falcon register set
 * serves GSP and SEC2). {@link instantiate} binds a whole relative set to concrete bases.
 *
 * @module
 */

import { hex, InvalidArgumentError, RegisterDecodeError } from './errors.ts';
import type { Bar0 } from './platform.ts';

// ---------------------------------------------------------------------------------------------------------------
// Results and codecs

/** The outcome of a fallible decode: a value, or the typed error explaining why the raw bits are invalid. */
export type Result<T, E = RegisterDecodeError> =
	| { readonly ok: true; readonly value: T }
	| { readonly ok: false; readonly error: E };

/** Build a successful {@link Result}. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
	return { ok: true, value };
}

/** Build a failed {@link Result}. */
export function err<E>(error: E): { readonly ok: false; readonly error: E } {
	return { ok: false, error };
}

/** Return the value of a {@link Result} or throw its error. */
export function unwrap<T, E>(result: Result<T, E>): T {
	if (result.ok) return result.value;
	throw result.error;
}

/** A total mapping between a field's raw bits and a typed value (nova `=> Type`). */
export interface FieldCodec<T> {
	/** Decode raw field bits; must accept every value that fits the field. */
	decode(raw: number): T;
	/** Encode a typed value to raw field bits. */
	encode(value: T): number;
}

/** A partial mapping between raw bits and a typed value (nova `?=> Type`). */
export interface FallibleFieldCodec<T> {
	/** Decode raw field bits, or `undefined` when the bits name no valid value. */
	tryDecode(raw: number): T | undefined;
	/** Encode a typed value to raw field bits. */
	encode(value: T): number;
}

/** A named set of raw values, usable as a total ({@link FieldCodec}) or fallible ({@link FallibleFieldCodec}) codec. */
export interface EnumCodec<N extends string> extends FieldCodec<N>, FallibleFieldCodec<N> {
	/** Name used in error messages, e.g. `'FalconSecurityModel'`. */
	readonly enumName: string;
	/** Name → raw value. */
	readonly values: Readonly<Record<N, number>>;
	/** All names, in declaration order. */
	readonly names: readonly N[];
	/** Whether `raw` names a value. */
	has(raw: number): boolean;
	/** Decode raw bits; throws {@link InvalidArgumentError} for an unnamed value (use `tryDecode` to avoid it). */
	decode(raw: number): N;
}

/** The member names of an {@link EnumCodec}: `EnumName<typeof FbifTarget>`. */
export type EnumName<E> = E extends EnumCodec<infer N> ? N : never;

/**
 * Define an enum codec: `defineEnum('SecurityModel', { NONE: 0, LIGHT: 2, HEAVY: 3 })`.
 * Names are the typed values (`'NONE' | 'LIGHT' | 'HEAVY'`); raw values must be distinct non-negative integers.
 */
export function defineEnum<const V extends Readonly<Record<string, number>>>(
	enumName: string,
	values: V,
): EnumCodec<keyof V & string> {
	type N = keyof V & string;
	const names = Object.keys(values) as N[];
	const byRaw = new Map<number, N>();
	for (const n of names) {
		const raw = values[n] as number;
		if (!Number.isSafeInteger(raw) || raw < 0) {
			throw new InvalidArgumentError(`enum ${enumName}: ${n} has invalid raw value ${raw}`, {
				enumName,
				name: n,
			});
		}
		if (byRaw.has(raw)) {
			throw new InvalidArgumentError(`enum ${enumName}: ${n} and ${byRaw.get(raw)} share raw value ${raw}`, {
				enumName,
			});
		}
		byRaw.set(raw, n);
	}
	const codec: EnumCodec<N> = {
		enumName,
		values: Object.freeze({ ...values }) as Readonly<Record<N, number>>,
		names: Object.freeze(names),
		has: (raw) => byRaw.has(raw),
		tryDecode: (raw) => byRaw.get(raw),
		decode(raw) {
			const n = byRaw.get(raw);
			if (n === undefined) {
				throw new InvalidArgumentError(`enum ${enumName} has no value ${hex(raw, 1)}`, { enumName, raw });
			}
			return n;
		},
		encode(value) {
			const raw = (values as Readonly<Record<string, number>>)[value];
			if (raw === undefined || !Object.hasOwn(values, value)) {
				throw new InvalidArgumentError(`enum ${enumName} has no member ${JSON.stringify(value)}`, {
					enumName,
					value,
				});
			}
			return raw;
		},
	};
	return Object.freeze(codec);
}

// ---------------------------------------------------------------------------------------------------------------
// Field and register specifications

/** A field's bit range, `[hi, lo]`, both inclusive (`[28, 24]` is nova's `28:24`). */
export type BitRange = readonly [hi: number, lo: number];

/** An unsigned integer field. */
export interface UintFieldSpec {
	readonly bits: BitRange;
	readonly doc?: string;
	readonly as?: never;
	readonly tryAs?: never;
}
/** A one-bit flag, read and written as `boolean`. */
export interface BoolFieldSpec {
	readonly bit: number;
	readonly doc?: string;
}
/** A field with a total typed decode (nova `=> Type`). */
export interface MappedFieldSpec<T> {
	readonly bits: BitRange;
	readonly as: FieldCodec<T>;
	readonly doc?: string;
}
/** A field with a fallible typed decode (nova `?=> Type`); reading it gives a {@link Result}. */
export interface FallibleFieldSpec<T> {
	readonly bits: BitRange;
	readonly tryAs: FallibleFieldCodec<T>;
	readonly doc?: string;
}
/** Any field specification. */
export type FieldSpec = UintFieldSpec | BoolFieldSpec | MappedFieldSpec<unknown> | FallibleFieldSpec<unknown>;
/** A register's fields by name. */
export type FieldsSpec = Readonly<Record<string, FieldSpec>>;

/** Register width in bits. 64-bit registers are accessed as two 32-bit words (low word first). */
export type RegisterWidth = 32 | 64;
/** The raw value type of a register of width `W`: `number` (unsigned 32-bit) or `bigint` (unsigned 64-bit). */
export type RawValue<W extends RegisterWidth> = W extends 64 ? bigint : number;

/** The decoded (typed) value of field spec `S`, before `tryAs` fields are wrapped in a {@link Result}. */
export type Decoded<S, W extends RegisterWidth> = S extends { readonly tryAs: FallibleFieldCodec<infer T> }
	? T
	: S extends { readonly as: FieldCodec<infer T> }
		? T
		: S extends { readonly bit: number }
			? boolean
			: RawValue<W>;

/** What `value.get(field)` returns for field spec `S`: the decoded value, or a {@link Result} for `tryAs` fields. */
export type FieldValue<S, W extends RegisterWidth> = S extends { readonly tryAs: FallibleFieldCodec<unknown> }
	? Result<Decoded<S, W>>
	: Decoded<S, W>;

/** What `value.with(field, v)` accepts for field spec `S` (64-bit integer fields accept `number` too). */
export type FieldInput<S, W extends RegisterWidth> = S extends
	| { readonly tryAs: unknown }
	| { readonly as: unknown }
	| { readonly bit: number }
	? Decoded<S, W>
	: W extends 64
		? bigint | number
		: number;

/** Several field inputs at once, for `with({...})` and `Register.build({...})`. */
export type FieldInputs<F extends FieldsSpec, W extends RegisterWidth> = {
	readonly [K in keyof F]?: FieldInput<F[K], W>;
};

/** Every field decoded, as returned by `RegisterValue.toObject()`. */
export type DecodedFields<F extends FieldsSpec, W extends RegisterWidth> = {
	readonly [K in keyof F]: FieldValue<F[K], W>;
};

/**
 * Meaning-methods attached to a register's values (nova's `usable_fb_size()` etc.). Each receives the value as
 * its first argument; on the value it is called without it: `methods.sizeMiB(v)` becomes `v.sizeMiB()`.
 */
export type MethodsSpec<F extends FieldsSpec, W extends RegisterWidth> = Readonly<
	Record<string, (value: RegisterValue<F, W, {}>, ...args: never[]) => unknown>
>;

/** The methods of `M` as they appear on a value (first parameter bound). */
export type BoundMethods<M> = {
	readonly [K in keyof M]: M[K] extends (value: never, ...args: infer A) => infer R
		? (...args: A) => R
		: never;
};

/** A register value with its meaning-methods. */
export type Value<F extends FieldsSpec, W extends RegisterWidth, M> = RegisterValue<F, W, M> &
	BoundMethods<M>;

/** The value type produced by a register, register array, relative register or relative array. */
export type ValueOf<R> = R extends
	| Register<infer F, infer W, infer M>
	| RegisterArray<infer F, infer W, infer M>
	| RelativeRegister<infer F, infer W, infer M, string>
	| RelativeRegisterArray<infer F, infer W, infer M, string>
	? Value<F, W, M>
	: never;

/** Field names of a register (or array / relative register). */
export type FieldNames<R> = R extends
	| Register<infer F, RegisterWidth, unknown>
	| RegisterArray<infer F, RegisterWidth, unknown>
	| RelativeRegister<infer F, RegisterWidth, unknown, string>
	| RelativeRegisterArray<infer F, RegisterWidth, unknown, string>
	? keyof F & string
	: never;

/** Introspection data for one field (for dumps, traces and simulators' debug views). */
export interface FieldInfo {
	readonly name: string;
	readonly hi: number;
	readonly lo: number;
	/** Width in bits. */
	readonly width: number;
	readonly kind: 'uint' | 'bool' | 'mapped' | 'fallible';
	readonly doc: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Layout: the width, fields and value class shared by every instance of one definition

interface FieldImpl extends FieldInfo {
	readonly codec: FieldCodec<unknown> | FallibleFieldCodec<unknown> | undefined;
	/** 2**lo, for number arithmetic. */
	readonly scale: number;
	/** 2**width, for number arithmetic (fields of 32-bit registers). */
	readonly modulus: number;
	/** In-place mask for 32-bit registers (unsigned number). */
	readonly mask32: number;
	/** Largest field value, as bigint. */
	readonly max: bigint;
	/** In-place mask for 64-bit registers. */
	readonly mask64: bigint;
}

const RESERVED_VALUE_KEYS = new Set([
	'register',
	'raw',
	'get',
	'getRaw',
	'getOrThrow',
	'with',
	'withRaw',
	'write',
	'equals',
	'toObject',
	'toString',
	'toJSON',
	'constructor',
]);

type AnyCodec = FieldCodec<unknown> | FallibleFieldCodec<unknown>;

/** Shared, immutable description of one register definition. @internal */
class Layout {
	readonly fieldList: readonly FieldImpl[];
	readonly fieldMap: ReadonlyMap<string, FieldImpl>;
	readonly valueClass: new (
		register: Register<FieldsSpec, RegisterWidth, unknown>,
		raw: number | bigint,
	) => RegisterValue<FieldsSpec, RegisterWidth, unknown>;

	constructor(
		readonly name: string,
		readonly width: RegisterWidth,
		readonly doc: string,
		fields: FieldsSpec,
		methods: AnyMethods | undefined,
	) {
		if (width !== 32 && width !== 64) {
			throw new InvalidArgumentError(`register ${name}: width must be 32 or 64, got ${String(width)}`, {
				name,
			});
		}
		const list: FieldImpl[] = [];
		let used = 0n;
		for (const [fieldName, spec] of Object.entries(fields)) {
			const f = normaliseField(name, width, fieldName, spec);
			const bits = f.max << BigInt(f.lo);
			if ((used & bits) !== 0n) {
				const other = list.find((o) => (o.max << BigInt(o.lo)) & bits);
				throw new InvalidArgumentError(
					`register ${name}: field ${fieldName} [${f.hi}:${f.lo}] overlaps ${other?.name ?? '?'}`,
					{ register: name, field: fieldName },
				);
			}
			used |= bits;
			list.push(f);
		}
		this.fieldList = Object.freeze(list);
		this.fieldMap = new Map(list.map((f) => [f.name, f]));

		const cls = class extends RegisterValue<FieldsSpec, RegisterWidth, unknown> {};
		Object.defineProperty(cls, 'name', { value: `${name}Value` });
		for (const [methodName, fn] of Object.entries(methods ?? {})) {
			if (RESERVED_VALUE_KEYS.has(methodName)) {
				throw new InvalidArgumentError(`register ${name}: method name ${methodName} is reserved`, {
					register: name,
					method: methodName,
				});
			}
			if (typeof fn !== 'function') {
				throw new InvalidArgumentError(`register ${name}: method ${methodName} is not a function`, {
					register: name,
				});
			}
			const call = fn as (value: unknown, ...args: unknown[]) => unknown;
			Object.defineProperty(cls.prototype, methodName, {
				value: function (this: unknown, ...args: unknown[]) {
					return call(this, ...args);
				},
				writable: false,
				enumerable: false,
				configurable: false,
			});
		}
		this.valueClass = cls;
	}

	field(register: string, name: string): FieldImpl {
		const f = this.fieldMap.get(name);
		if (f === undefined) {
			throw new InvalidArgumentError(`register ${register} has no field ${JSON.stringify(name)}`, {
				register,
				field: name,
				fields: [...this.fieldMap.keys()],
			});
		}
		return f;
	}
}

function normaliseField(register: string, width: RegisterWidth, name: string, spec: FieldSpec): FieldImpl {
	const bad = (why: string): never => {
		throw new InvalidArgumentError(`register ${register}: field ${name}: ${why}`, { register, field: name });
	};
	let hi: number;
	let lo: number;
	let kind: FieldInfo['kind'];
	let codec: AnyCodec | undefined;
	if ('bit' in spec) {
		hi = spec.bit;
		lo = spec.bit;
		kind = 'bool';
	} else if ('bits' in spec && Array.isArray(spec.bits) && spec.bits.length === 2) {
		[hi, lo] = spec.bits as BitRange;
		if ('tryAs' in spec && spec.tryAs !== undefined) {
			kind = 'fallible';
			codec = spec.tryAs;
		} else if ('as' in spec && spec.as !== undefined) {
			kind = 'mapped';
			codec = spec.as;
		} else {
			kind = 'uint';
		}
	} else {
		return bad('needs `bits: [hi, lo]` or `bit: n`');
	}
	if (!Number.isInteger(hi) || !Number.isInteger(lo) || lo < 0 || hi < lo || hi >= width) {
		bad(`bad bit range [${hi}:${lo}] for a ${width}-bit register`);
	}
	const w = hi - lo + 1;
	if (codec !== undefined && w > 32) bad('typed fields may be at most 32 bits wide');
	if (kind === 'mapped' && isEnumCodec(codec)) {
		// A total decode must accept every raw value; an enum that leaves gaps belongs in `tryAs`.
		for (let raw = 0; raw < 2 ** w; raw++) {
			if (!codec.has(raw))
				bad(`enum ${codec.enumName} has no value for ${raw}; use tryAs for a fallible decode`);
		}
	}
	const max = (1n << BigInt(w)) - 1n;
	return Object.freeze({
		name,
		hi,
		lo,
		width: w,
		kind,
		doc: spec.doc ?? '',
		codec,
		scale: 2 ** lo,
		modulus: 2 ** w,
		mask32: width === 32 ? (2 ** w - 1) * 2 ** lo : 0,
		max,
		mask64: max << BigInt(lo),
	});
}

function isEnumCodec(c: AnyCodec | undefined): c is EnumCodec<string> {
	return c !== undefined && 'has' in c && typeof c.has === 'function' && 'enumName' in c;
}

function normaliseRaw(name: string, width: RegisterWidth, raw: number | bigint): number | bigint {
	if (width === 32) {
		const n = typeof raw === 'bigint' ? Number(raw) : raw;
		if (
			!Number.isInteger(n) ||
			n < -0x8000_0000 ||
			n > 0xffff_ffff ||
			(typeof raw === 'bigint' && raw < 0n)
		) {
			throw new InvalidArgumentError(`register ${name}: ${String(raw)} is not a 32-bit value`, {
				register: name,
				raw: String(raw),
			});
		}
		return n >>> 0; // accept int32 results of bit operations
	}
	if (typeof raw === 'number' && !Number.isSafeInteger(raw)) {
		throw new InvalidArgumentError(`register ${name}: ${raw} is not an integer`, { register: name });
	}
	const b = BigInt(raw);
	if (b < 0n || b > 0xffff_ffff_ffff_ffffn) {
		throw new InvalidArgumentError(`register ${name}: ${hex(b, 1)} is not a 64-bit value`, {
			register: name,
		});
	}
	return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Values

/**
 * An immutable register value: the raw bits plus the register it belongs to. `with` returns a new value;
 * `write(bar)` stores it at its register's offset.
 */
export class RegisterValue<F extends FieldsSpec, W extends RegisterWidth, M = {}> {
	/** The register this value belongs to (name, offset). */
	readonly register: Register<F, W, M>;
	/** All bits of the register, including bits no field covers. */
	readonly raw: RawValue<W>;

	/** @internal Values are made by registers (`read`, `from`, `build`), not constructed directly. */
	constructor(register: Register<F, W, M>, raw: RawValue<W>) {
		this.register = register;
		this.raw = raw;
		Object.freeze(this);
	}

	/** The field's raw bits (before any typed decode). */
	getRaw<K extends keyof F & string>(field: K): RawValue<W> {
		const f = layoutOf(this.register).field(this.register.name, field);
		return extract(this.register.width, this.raw, f) as RawValue<W>;
	}

	/** The field's value: a number/bigint, boolean, typed value, or a {@link Result} for `tryAs` fields. */
	get<K extends keyof F & string>(field: K): FieldValue<F[K], W> {
		const f = layoutOf(this.register).field(this.register.name, field);
		return decodeField(this.register, f, extract(this.register.width, this.raw, f)) as FieldValue<F[K], W>;
	}

	/** The field's decoded value; for `tryAs` fields, throws the {@link RegisterDecodeError} instead of returning it. */
	getOrThrow<K extends keyof F & string>(field: K): Decoded<F[K], W> {
		const f = layoutOf(this.register).field(this.register.name, field);
		const v = decodeField(this.register, f, extract(this.register.width, this.raw, f));
		if (f.kind === 'fallible') return unwrap(v as Result<unknown>) as Decoded<F[K], W>;
		return v as Decoded<F[K], W>;
	}

	/**
	 * A copy with one field (or several, given an object) set. Other bits are unchanged.
	 * @throws InvalidArgumentError if a value does not fit its field or is of the wrong type.
	 */
	with<K extends keyof F & string>(field: K, value: FieldInput<F[K], W>): Value<F, W, M>;
	with(values: FieldInputs<F, W>): Value<F, W, M>;
	with(fieldOrValues: string | Readonly<Record<string, unknown>>, value?: unknown): Value<F, W, M> {
		const layout = layoutOf(this.register);
		let raw: number | bigint = this.raw;
		const entries: [string, unknown][] =
			typeof fieldOrValues === 'string' ? [[fieldOrValues, value]] : Object.entries(fieldOrValues);
		for (const [name, v] of entries) {
			if (v === undefined && typeof fieldOrValues !== 'string') continue;
			const f = layout.field(this.register.name, name);
			raw = insert(this.register.width, raw, f, encodeField(this.register.name, f, v));
		}
		return makeValue(this.register, raw);
	}

	/** A copy with the field's raw bits set. @throws InvalidArgumentError if `raw` does not fit. */
	withRaw<K extends keyof F & string>(field: K, raw: number | bigint): Value<F, W, M> {
		const f = layoutOf(this.register).field(this.register.name, field);
		return makeValue(
			this.register,
			insert(this.register.width, this.raw, f, checkFits(this.register.name, f, raw)),
		);
	}

	/** Write this value to its register. */
	write(bar: Bar0): void {
		this.register.write(bar, this as unknown as Value<F, W, M>);
	}

	/** Whether `other` has the same raw bits (and belongs to a register with the same offset). */
	equals(other: RegisterValue<F, W, M>): boolean {
		return this.raw === other.raw && this.register.offset === other.register.offset;
	}

	/** Every field decoded (fallible fields as {@link Result}s). */
	toObject(): DecodedFields<F, W> {
		const out: Record<string, unknown> = {};
		for (const f of layoutOf(this.register).fieldList) {
			out[f.name] = decodeField(this.register, f, extract(this.register.width, this.raw, f));
		}
		return out as DecodedFields<F, W>;
	}

	/** JSON form for logs and traces: register name, offset, raw value and the raw value of each field. */
	toJSON(): { register: string; offset: string; raw: string; fields: Record<string, string> } {
		const fields: Record<string, string> = {};
		for (const f of layoutOf(this.register).fieldList) {
			fields[f.name] = hex(extract(this.register.width, this.raw, f), 1);
		}
		return {
			register: this.register.name,
			offset: hex(this.register.offset, 6),
			raw: hex(this.raw, this.register.width / 4),
			fields,
		};
	}

	/** E.g. `NV_PMC_BOOT_42@0x000a00 = 0x17200000 { architecture: ampere, implementation: 0x2 }`. */
	toString(): string {
		const parts = layoutOf(this.register).fieldList.map((f) => {
			const raw = extract(this.register.width, this.raw, f);
			const v = decodeField(this.register, f, raw);
			const shown =
				f.kind === 'fallible'
					? (v as Result<unknown>).ok
						? String((v as { value: unknown }).value)
						: `invalid(${hex(raw, 1)})`
					: typeof v === 'number' || typeof v === 'bigint'
						? hex(v, 1)
						: String(v);
			return `${f.name}: ${shown}`;
		});
		return `${this.register.name}@${hex(this.register.offset, 6)} = ${hex(this.raw, this.register.width / 4)} { ${parts.join(', ')} }`;
	}
}

const LAYOUTS = new WeakMap<object, Layout>();

function layoutOf(register: object): Layout {
	const l = LAYOUTS.get(register);
	if (l === undefined) throw new Error('internal: register without layout');
	return l;
}

function makeValue<F extends FieldsSpec, W extends RegisterWidth, M>(
	register: Register<F, W, M>,
	raw: number | bigint,
): Value<F, W, M> {
	const Cls = layoutOf(register).valueClass;
	return new Cls(
		register as unknown as Register<FieldsSpec, RegisterWidth, unknown>,
		raw,
	) as unknown as Value<F, W, M>;
}

function extract(width: RegisterWidth, raw: number | bigint, f: FieldImpl): number | bigint {
	if (width === 32) return ((raw as number) >>> f.lo) % f.modulus;
	const v = ((raw as bigint) >> BigInt(f.lo)) & f.max;
	return v;
}

function insert(
	width: RegisterWidth,
	raw: number | bigint,
	f: FieldImpl,
	value: number | bigint,
): number | bigint {
	if (width === 32) return (((raw as number) & ~f.mask32) >>> 0) + Number(value) * f.scale;
	return ((raw as bigint) & ~f.mask64) | (BigInt(value) << BigInt(f.lo));
}

function decodeField(register: { readonly name: string }, f: FieldImpl, raw: number | bigint): unknown {
	switch (f.kind) {
		case 'uint':
			return raw;
		case 'bool':
			return raw !== 0 && raw !== 0n;
		case 'mapped':
			return (f.codec as FieldCodec<unknown>).decode(Number(raw));
		case 'fallible': {
			const v = (f.codec as FallibleFieldCodec<unknown>).tryDecode(Number(raw));
			if (v === undefined) {
				const why = isEnumCodec(f.codec) ? `not a valid ${f.codec.enumName}` : 'invalid value';
				return err(new RegisterDecodeError(register.name, f.name, raw, why));
			}
			return ok(v);
		}
	}
}

/** Check that a raw field value fits; returns it as number (32-bit registers) or bigint (64-bit). */
function checkFits(register: string, f: FieldImpl, value: number | bigint): number | bigint {
	const fail = (): never => {
		throw new InvalidArgumentError(
			`${String(value)} does not fit ${register}.${f.name} [${f.hi}:${f.lo}] (0..${hex(f.max, 1)})`,
			{ register, field: f.name, value: String(value), max: hex(f.max, 1) },
		);
	};
	if (typeof value === 'number') {
		if (!Number.isSafeInteger(value) || value < 0) return fail();
	} else if (typeof value !== 'bigint') {
		return fail();
	}
	const b = BigInt(value);
	if (b < 0n || b > f.max) return fail();
	return f.hi < 32 && f.width <= 32 ? Number(b) : b;
}

function encodeField(register: string, f: FieldImpl, value: unknown): number | bigint {
	switch (f.kind) {
		case 'uint':
			if (typeof value !== 'number' && typeof value !== 'bigint') {
				throw new InvalidArgumentError(`${register}.${f.name} takes an integer, got ${typeof value}`, {
					register,
					field: f.name,
				});
			}
			return checkFits(register, f, value);
		case 'bool':
			if (typeof value !== 'boolean') {
				throw new InvalidArgumentError(`${register}.${f.name} takes a boolean, got ${typeof value}`, {
					register,
					field: f.name,
				});
			}
			return value ? 1 : 0;
		case 'mapped':
		case 'fallible':
			return checkFits(register, f, (f.codec as FieldCodec<unknown>).encode(value));
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Registers

/** A register at an absolute BAR0 offset. Produced by {@link defineRegister}, arrays, aliases and bases. */
export class Register<F extends FieldsSpec, W extends RegisterWidth, M = {}> {
	/** Full name, e.g. `NV_PMC_BOOT_0`, `NV_PBUS_SW_SCRATCH[14]` or `GSP.NV_PFALCON_FALCON_MAILBOX1`. */
	readonly name: string;
	/** Absolute BAR0 byte offset. */
	readonly offset: number;
	/** Width in bits. */
	readonly width: W;
	/** What the register is for. */
	readonly doc: string;
	/** The field specifications as declared. */
	readonly fieldSpecs: F;
	/** For an alias: the name of the register it views. */
	readonly aliasOf: string | undefined;

	/** @internal Use the `define*` functions. */
	constructor(layout: Layout, name: string, offset: number, fieldSpecs: F, aliasOf?: string) {
		if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
			throw new InvalidArgumentError(
				`register ${name}: offset ${offset} is not a 4-byte aligned BAR0 offset`,
				{
					register: name,
					offset,
				},
			);
		}
		LAYOUTS.set(this, layout);
		this.name = name;
		this.offset = offset;
		this.width = layout.width as W;
		this.doc = layout.doc;
		this.fieldSpecs = fieldSpecs;
		this.aliasOf = aliasOf;
		Object.freeze(this);
	}

	/** Introspection: every field with its bit range and kind. */
	get fields(): readonly FieldInfo[] {
		return layoutOf(this).fieldList.map(({ name, hi, lo, width, kind, doc }) => ({
			name,
			hi,
			lo,
			width,
			kind,
			doc,
		}));
	}

	/** A value from raw bits (`number`, or `bigint` for 64-bit registers; int32 results of bit ops are accepted). */
	from(raw: number | bigint): Value<F, W, M> {
		return makeValue(this, normaliseRaw(this.name, this.width, raw));
	}

	/** The all-zero value. */
	zero(): Value<F, W, M> {
		return makeValue(this, this.width === 32 ? 0 : 0n);
	}

	/** A value with the given fields set and every other bit zero. */
	build(values: FieldInputs<F, W>): Value<F, W, M> {
		return this.zero().with(values);
	}

	/** Read the register (64-bit registers: low word, then high word). */
	read(bar: Bar0): Value<F, W, M> {
		if (this.width === 32) return this.from(bar.read32(this.offset));
		const lo = BigInt(bar.read32(this.offset) >>> 0);
		const hi = BigInt(bar.read32(this.offset + 4) >>> 0);
		return this.from((hi << 32n) | lo);
	}

	/**
	 * Write a value (or raw bits) to the register (64-bit registers: low word, then high word).
	 * @throws InvalidArgumentError if the value belongs to a register at another offset.
	 */
	write(bar: Bar0, value: RegisterValue<F, W, M> | number | bigint): void {
		let raw: number | bigint;
		if (typeof value === 'number' || typeof value === 'bigint') {
			raw = normaliseRaw(this.name, this.width, value);
		} else {
			if (value.register.offset !== this.offset || value.register.width !== this.width) {
				throw new InvalidArgumentError(`a ${value.register.name} value cannot be written to ${this.name}`, {
					register: this.name,
					valueOf: value.register.name,
				});
			}
			raw = value.raw;
		}
		if (this.width === 32) {
			bar.write32(this.offset, raw as number);
		} else {
			const b = raw as bigint;
			bar.write32(this.offset, Number(b & 0xffff_ffffn));
			bar.write32(this.offset + 4, Number(b >> 32n));
		}
	}

	/** Read-modify-write: read, apply `fn`, write the result and return it. Bits `fn` leaves alone are preserved. */
	update(bar: Bar0, fn: (value: Value<F, W, M>) => RegisterValue<F, W, M>): Value<F, W, M> {
		const next = fn(this.read(bar));
		this.write(bar, next);
		return next as Value<F, W, M>;
	}

	/** E.g. `NV_PMC_BOOT_0@0x000000`. */
	toString(): string {
		return `${this.name}@${hex(this.offset, 6)}`;
	}
}

/** An indexed family of registers, `NAME[length] @ offset` with a byte stride (nova `NAME(u32)[n] @ off`). */
export class RegisterArray<F extends FieldsSpec, W extends RegisterWidth, M = {}> {
	readonly name: string;
	/** Offset of element 0. */
	readonly offset: number;
	/** Bytes between elements. */
	readonly stride: number;
	/** Number of elements. */
	readonly length: number;
	readonly width: W;
	readonly doc: string;
	readonly fieldSpecs: F;
	readonly #layout: Layout;
	readonly #elements: (Register<F, W, M> | undefined)[];

	/** @internal Use {@link defineRegisterArray}. */
	constructor(layout: Layout, name: string, offset: number, stride: number, length: number, fieldSpecs: F) {
		if (!Number.isSafeInteger(length) || length < 1) {
			throw new InvalidArgumentError(`register array ${name}: bad length ${length}`, { register: name });
		}
		const minStride = layout.width / 8;
		if (!Number.isSafeInteger(stride) || stride < minStride || stride % 4 !== 0) {
			throw new InvalidArgumentError(`register array ${name}: bad stride ${stride}`, { register: name });
		}
		this.#layout = layout;
		this.name = name;
		this.offset = offset;
		this.stride = stride;
		this.length = length;
		this.width = layout.width as W;
		this.doc = layout.doc;
		this.fieldSpecs = fieldSpecs;
		this.#elements = new Array(length).fill(undefined);
		// Validate the offset once, through element 0.
		this.at(0);
	}

	/** Absolute offset of element `index`. */
	offsetOf(index: number): number {
		return this.at(index).offset;
	}

	/** Element `index` as a register. @throws InvalidArgumentError if out of range. */
	at(index: number): Register<F, W, M> {
		if (!Number.isInteger(index) || index < 0 || index >= this.length) {
			throw new InvalidArgumentError(`${this.name}: index ${index} out of range 0..${this.length - 1}`, {
				register: this.name,
				index,
				length: this.length,
			});
		}
		let r = this.#elements[index];
		if (r === undefined) {
			r = new Register<F, W, M>(
				this.#layout,
				`${this.name}[${index}]`,
				this.offset + index * this.stride,
				this.fieldSpecs,
			);
			this.#elements[index] = r;
		}
		return r;
	}

	/** Read element `index`. */
	read(bar: Bar0, index: number): Value<F, W, M> {
		return this.at(index).read(bar);
	}

	/** Write element `index`. */
	write(bar: Bar0, index: number, value: RegisterValue<F, W, M> | number | bigint): void {
		this.at(index).write(bar, value);
	}

	/** Read-modify-write element `index`. */
	update(bar: Bar0, index: number, fn: (value: Value<F, W, M>) => RegisterValue<F, W, M>): Value<F, W, M> {
		return this.at(index).update(bar, fn);
	}

	/** Every element, in index order. */
	elements(): Register<F, W, M>[] {
		return Array.from({ length: this.length }, (_, i) => this.at(i));
	}
}

/** A named base address a relative register set can be instantiated at; `kind` says which sets fit it. */
export interface RegisterBase<K extends string> {
	/** Kind of block, e.g. `'PFALCON'` or `'PFALCON2'`. Relative registers only accept bases of their kind. */
	readonly kind: K;
	/** Instance name used as a prefix of resolved register names, e.g. `'GSP'`. */
	readonly name: string;
	/** Absolute BAR0 address of the block. */
	readonly address: number;
}

/** Define a base: `defineBase('PFALCON', 'GSP', 0x110000)`. */
export function defineBase<const K extends string>(kind: K, name: string, address: number): RegisterBase<K> {
	if (!Number.isSafeInteger(address) || address < 0 || address % 4 !== 0) {
		throw new InvalidArgumentError(`base ${name}: bad address ${address}`, { name, address });
	}
	return Object.freeze({ kind, name, address });
}

/** A register at an offset relative to a {@link RegisterBase} of kind `K` (nova `@ PFalconBase[0x100]`). */
export class RelativeRegister<F extends FieldsSpec, W extends RegisterWidth, M, K extends string> {
	readonly name: string;
	/** Offset from the base. */
	readonly offset: number;
	/** The kind of base this register is relative to. */
	readonly baseKind: K;
	readonly width: W;
	readonly doc: string;
	readonly fieldSpecs: F;
	readonly #layout: Layout;
	readonly #resolved = new Map<object, Register<F, W, M>>();

	/** @internal Use {@link defineRelativeRegister}. */
	constructor(layout: Layout, name: string, baseKind: K, offset: number, fieldSpecs: F) {
		if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
			throw new InvalidArgumentError(`register ${name}: bad relative offset ${offset}`, { register: name });
		}
		this.#layout = layout;
		this.name = name;
		this.offset = offset;
		this.baseKind = baseKind;
		this.width = layout.width as W;
		this.doc = layout.doc;
		this.fieldSpecs = fieldSpecs;
	}

	/** The register at `base` (named `<base.name>.<name>`). @throws InvalidArgumentError on a base of another kind. */
	of(base: RegisterBase<K>): Register<F, W, M> {
		let r = this.#resolved.get(base);
		if (r === undefined) {
			checkKind(this.name, this.baseKind, base);
			r = new Register<F, W, M>(
				this.#layout,
				`${base.name}.${this.name}`,
				base.address + this.offset,
				this.fieldSpecs,
			);
			this.#resolved.set(base, r);
		}
		return r;
	}

	/** Read the register at `base`. */
	read(bar: Bar0, base: RegisterBase<K>): Value<F, W, M> {
		return this.of(base).read(bar);
	}
}

/** A register array relative to a {@link RegisterBase} (e.g. falcon `IMEMC(i)` at base + 0x180 + 16·i). */
export class RelativeRegisterArray<F extends FieldsSpec, W extends RegisterWidth, M, K extends string> {
	readonly name: string;
	/** Offset of element 0 from the base. */
	readonly offset: number;
	readonly stride: number;
	readonly length: number;
	readonly baseKind: K;
	readonly width: W;
	readonly doc: string;
	readonly fieldSpecs: F;
	readonly #layout: Layout;
	readonly #resolved = new Map<object, RegisterArray<F, W, M>>();

	/** @internal Use {@link defineRelativeRegisterArray}. */
	constructor(
		layout: Layout,
		name: string,
		baseKind: K,
		offset: number,
		stride: number,
		length: number,
		fieldSpecs: F,
	) {
		if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
			throw new InvalidArgumentError(`register array ${name}: bad relative offset ${offset}`, {
				register: name,
			});
		}
		this.#layout = layout;
		this.name = name;
		this.offset = offset;
		this.stride = stride;
		this.length = length;
		this.baseKind = baseKind;
		this.width = layout.width as W;
		this.doc = layout.doc;
		this.fieldSpecs = fieldSpecs;
		// Validate stride and length eagerly.
		new RegisterArray<F, W, M>(layout, name, offset, stride, length, fieldSpecs);
	}

	/** The array at `base`. @throws InvalidArgumentError on a base of another kind. */
	of(base: RegisterBase<K>): RegisterArray<F, W, M> {
		let r = this.#resolved.get(base);
		if (r === undefined) {
			checkKind(this.name, this.baseKind, base);
			r = new RegisterArray<F, W, M>(
				this.#layout,
				`${base.name}.${this.name}`,
				base.address + this.offset,
				this.stride,
				this.length,
				this.fieldSpecs,
			);
			this.#resolved.set(base, r);
		}
		return r;
	}
}

function checkKind(name: string, kind: string, base: RegisterBase<string>): void {
	if (base.kind !== kind) {
		throw new InvalidArgumentError(`${name} is relative to a ${kind} base, not ${base.kind} (${base.name})`, {
			register: name,
			expected: kind,
			got: base.kind,
		});
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Definition functions

/** Common parts of every register definition. */
export interface RegisterDefinition<F extends FieldsSpec, W extends RegisterWidth> {
	/** Register name as in NVIDIA's manuals, e.g. `'NV_PMC_BOOT_0'`. */
	readonly name: string;
	/** Width in bits; default 32. */
	readonly width?: W;
	/** What the register is for (shown in typedoc and dumps). */
	readonly doc: string;
	/** Fields by name. */
	readonly fields: F;
}

/** Location part of {@link defineRegister}'s spec. */
export interface AbsoluteLocation {
	/** Absolute BAR0 byte offset (4-byte aligned). */
	readonly offset: number;
}
/** Location part of {@link defineRegisterArray}'s spec. */
export interface ArrayLocation extends AbsoluteLocation {
	/** Number of elements. */
	readonly length: number;
	/** Bytes between elements; default: the register width in bytes. */
	readonly stride?: number;
}
/** Location part of {@link defineRelativeRegister}'s spec. */
export interface RelativeLocation<K extends string> {
	/** Kind of base the offset is relative to, e.g. `'PFALCON'`. */
	readonly base: K;
	/** Offset from the base. */
	readonly offset: number;
}
/** Location part of {@link defineRelativeRegisterArray}'s spec. */
export interface RelativeArrayLocation<K extends string> extends RelativeLocation<K> {
	readonly length: number;
	readonly stride?: number;
}

/**
 * Define a register at an absolute BAR0 offset. `methods` (optional) become meaning-methods on its values:
 * `defineRegister({...}, { sizeMiB: (v) => v.get('value') })` gives `value.sizeMiB()`.
 */
export function defineRegister<const F extends FieldsSpec, W extends RegisterWidth = 32>(
	spec: RegisterDefinition<F, W> & AbsoluteLocation,
): Register<F, W, {}>;
export function defineRegister<
	const F extends FieldsSpec,
	M extends MethodsSpec<F, W>,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & AbsoluteLocation, methods: M): Register<F, W, M>;
export function defineRegister(
	spec: RegisterDefinition<FieldsSpec, RegisterWidth> & AbsoluteLocation,
	methods?: AnyMethods,
): Register<FieldsSpec, RegisterWidth, unknown> {
	const layout = new Layout(spec.name, spec.width ?? 32, spec.doc, spec.fields, methods);
	return new Register(layout, spec.name, spec.offset, spec.fields);
}

/** Define a register array: `length` elements from `offset`, `stride` bytes apart (default: the width in bytes). */
export function defineRegisterArray<const F extends FieldsSpec, W extends RegisterWidth = 32>(
	spec: RegisterDefinition<F, W> & ArrayLocation,
): RegisterArray<F, W, {}>;
export function defineRegisterArray<
	const F extends FieldsSpec,
	M extends MethodsSpec<F, W>,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & ArrayLocation, methods: M): RegisterArray<F, W, M>;
export function defineRegisterArray(
	spec: RegisterDefinition<FieldsSpec, RegisterWidth> & ArrayLocation,
	methods?: AnyMethods,
): RegisterArray<FieldsSpec, RegisterWidth, unknown> {
	const width = spec.width ?? 32;
	const layout = new Layout(spec.name, width, spec.doc, spec.fields, methods);
	return new RegisterArray(
		layout,
		spec.name,
		spec.offset,
		spec.stride ?? width / 8,
		spec.length,
		spec.fields,
	);
}

/** Spec of {@link defineAlias}. */
export interface AliasDefinition<F extends FieldsSpec, W extends RegisterWidth> {
	readonly name: string;
	/** The viewed register, e.g. `NV_PBUS_SW_SCRATCH.at(0xe)`. */
	readonly of: Register<FieldsSpec, W, unknown>;
	readonly doc: string;
	readonly fields: F;
}

/**
 * Define another view of an existing register (nova `NAME => OTHER[i]`): same offset and width, its own fields.
 */
export function defineAlias<const F extends FieldsSpec, W extends RegisterWidth>(
	spec: AliasDefinition<F, W>,
): Register<F, W, {}>;
export function defineAlias<const F extends FieldsSpec, M extends MethodsSpec<F, W>, W extends RegisterWidth>(
	spec: AliasDefinition<F, W>,
	methods: M,
): Register<F, W, M>;
export function defineAlias(
	spec: AliasDefinition<FieldsSpec, RegisterWidth>,
	methods?: AnyMethods,
): Register<FieldsSpec, RegisterWidth, unknown> {
	const layout = new Layout(spec.name, spec.of.width, spec.doc, spec.fields, methods);
	return new Register(layout, spec.name, spec.of.offset, spec.fields, spec.of.name);
}

/** Define a register relative to a base of kind `base` (e.g. `'PFALCON'`); resolve it with `.of(base)`. */
export function defineRelativeRegister<
	const K extends string,
	const F extends FieldsSpec,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & RelativeLocation<K>): RelativeRegister<F, W, {}, K>;
export function defineRelativeRegister<
	const K extends string,
	const F extends FieldsSpec,
	M extends MethodsSpec<F, W>,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & RelativeLocation<K>, methods: M): RelativeRegister<F, W, M, K>;
export function defineRelativeRegister(
	spec: RegisterDefinition<FieldsSpec, RegisterWidth> & RelativeLocation<string>,
	methods?: AnyMethods,
): RelativeRegister<FieldsSpec, RegisterWidth, unknown, string> {
	const layout = new Layout(spec.name, spec.width ?? 32, spec.doc, spec.fields, methods);
	return new RelativeRegister(layout, spec.name, spec.base, spec.offset, spec.fields);
}

/** Define a register array relative to a base of kind `base`; resolve it with `.of(base)`. */
export function defineRelativeRegisterArray<
	const K extends string,
	const F extends FieldsSpec,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & RelativeArrayLocation<K>): RelativeRegisterArray<F, W, {}, K>;
export function defineRelativeRegisterArray<
	const K extends string,
	const F extends FieldsSpec,
	M extends MethodsSpec<F, W>,
	W extends RegisterWidth = 32,
>(spec: RegisterDefinition<F, W> & RelativeArrayLocation<K>, methods: M): RelativeRegisterArray<F, W, M, K>;
export function defineRelativeRegisterArray(
	spec: RegisterDefinition<FieldsSpec, RegisterWidth> & RelativeArrayLocation<string>,
	methods?: AnyMethods,
): RelativeRegisterArray<FieldsSpec, RegisterWidth, unknown, string> {
	const width = spec.width ?? 32;
	const layout = new Layout(spec.name, width, spec.doc, spec.fields, methods);
	return new RelativeRegisterArray(
		layout,
		spec.name,
		spec.base,
		spec.offset,
		spec.stride ?? width / 8,
		spec.length,
		spec.fields,
	);
}

type AnyMethods = Readonly<Record<string, (value: never, ...args: never[]) => unknown>>;

/** Any relative register or relative register array. */
export type RelativeDefinition =
	| RelativeRegister<FieldsSpec, RegisterWidth, unknown, string>
	| RelativeRegisterArray<FieldsSpec, RegisterWidth, unknown, string>;

/** The base kinds a set of relative definitions needs. */
export type BaseKindsOf<T> = {
	[P in keyof T]: T[P] extends RelativeRegister<FieldsSpec, RegisterWidth, unknown, infer K>
		? K
		: T[P] extends RelativeRegisterArray<FieldsSpec, RegisterWidth, unknown, infer K>
			? K
			: never;
}[keyof T];

/** Bases by kind, as {@link instantiate} needs them: `{ PFALCON: gspBase, PFALCON2: gsp2Base }`. */
export type BasesFor<T> = { readonly [K in BaseKindsOf<T> & string]: RegisterBase<K> };

/** A relative set with every member resolved to absolute registers / arrays. */
export type Instantiated<T> = {
	readonly [P in keyof T]: T[P] extends RelativeRegister<infer F, infer W, infer M, string>
		? Register<F, W, M>
		: T[P] extends RelativeRegisterArray<infer F, infer W, infer M, string>
			? RegisterArray<F, W, M>
			: never;
};

/**
 * Resolve every member of a relative register set against bases chosen by kind:
 * `instantiate(FALCON_REGISTERS, GSP)` gives the GSP falcon's registers with absolute offsets.
 */
export function instantiate<const T extends Readonly<Record<string, RelativeDefinition>>>(
	set: T,
	bases: BasesFor<T>,
): Instantiated<T> {
	const out: Record<string, unknown> = {};
	const byKind = bases as unknown as Readonly<Record<string, RegisterBase<string> | undefined>>;
	for (const [key, def] of Object.entries(set)) {
		const base = byKind[def.baseKind];
		if (base === undefined) {
			throw new InvalidArgumentError(`instantiate: no ${def.baseKind} base for ${def.name}`, {
				register: def.name,
				kind: def.baseKind,
			});
		}
		out[key] = (def as RelativeRegister<FieldsSpec, RegisterWidth, unknown, string>).of(base);
	}
	return Object.freeze(out) as Instantiated<T>;
}

// ---------------------------------------------------------------------------------------------------------------
// Register pairs

/**
 * Read a 64-bit value split across two 32-bit registers (`lo` holds bits 31:0, `hi` bits 63:32), low word first.
 * For pairs whose halves are shifted (e.g. `DMATRFBASE`/`DMATRFBASE1`) use the registers' meaning-methods instead.
 */
export function readPair(
	bar: Bar0,
	lo: Register<FieldsSpec, 32, unknown>,
	hi: Register<FieldsSpec, 32, unknown>,
): bigint {
	const l = BigInt(lo.read(bar).raw);
	const h = BigInt(hi.read(bar).raw);
	return (h << 32n) | l;
}

/** Write a 64-bit value to two 32-bit registers, low word first. @throws InvalidArgumentError if not 64-bit. */
export function writePair(
	bar: Bar0,
	lo: Register<FieldsSpec, 32, unknown>,
	hi: Register<FieldsSpec, 32, unknown>,
	value: bigint,
): void {
	if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
		throw new InvalidArgumentError(`${lo.name}/${hi.name}: ${value} is not a 64-bit value`, {
			lo: lo.name,
			hi: hi.name,
		});
	}
	lo.write(bar, Number(value & 0xffff_ffffn));
	hi.write(bar, Number(value >> 32n));
}
