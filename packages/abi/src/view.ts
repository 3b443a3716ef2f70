/**
 * Lazy, in-place accessors for hot paths (queue headers, ring pointers): a view reads or writes one field
 * straight in the buffer, with no decode of the rest and no allocation per access (apart from the
 * `bigint` a 64-bit read returns). Nested struct and array views are created once per parent view and
 * follow it when it moves.
 *
 * ```ts
 * const tx = view(MsgqTxHeader, sharedMemory, 0x1000);
 * tx.writePtr = (tx.writePtr + 1) % tx.msgCount;
 * ```
 *
 * @module
 */

import {
	type ByteSource,
	type Bytes,
	decode,
	decodePrimArray,
	encodeAt,
	flexCount,
	layoutLabel,
	measure,
	primError,
	readBits,
	readCString,
	readPrim,
	shortBuffer,
	toBytes,
	writeBits,
	writePrim,
} from './codec.ts';
import { AbiError } from './errors.ts';
import {
	type ArrayLayout,
	type CStringLayout,
	type Field,
	type FieldDef,
	type FixedLayout,
	type FlexLayout,
	type Input,
	type Layout,
	locate,
	type PartialInput,
	type PrimLayout,
	type PrimName,
	type RecordLayout,
	type StructLayout,
	type UnionLayout,
	type Value,
} from './layout.ts';

// ───────────────────────────── types ─────────────────────────────

type Scalar = PrimLayout | CStringLayout;

/** The view of a field that is not a scalar: nested records get views, arrays get {@link ArrayView}s. */
export type ChildView<L> = L extends StructLayout
	? View<L>
	: L extends UnionLayout
		? View<L>
		: L extends ArrayLayout<infer E>
			? ArrayView<E>
			: L extends FlexLayout<infer E>
				? ArrayView<E>
				: never;

type FieldsView<F extends readonly FieldDef[]> = {
	-readonly [D in F[number] as D[1] extends Scalar ? D[0] : never]: Value<D[1]>;
} & {
	readonly [D in F[number] as D[1] extends Scalar ? never : D[0]]: ChildView<D[1]>;
};

/** Methods every struct/union view has. `$`-prefixed so they never clash with C field names. */
export interface ViewMethods<L extends RecordLayout> {
	/** The layout this view reads. */
	readonly $layout: L;
	/** Current byte offset in the buffer. */
	readonly $offset: number;
	/** Point this view (and its cached child views) at another offset, e.g. the next queue slot. */
	$moveTo(offset: number): this;
	/** Decode the whole value (allocates). */
	$decode(): Value<L>;
	/** Encode a whole value in place; returns bytes written. */
	$encode(value: Input<L>): number;
	/** Write only the given fields in place; returns the value's span in bytes. */
	$patch(value: PartialInput<L>): number;
	/** The bytes under the view (a subarray, not a copy), including a flexible tail. */
	$bytes(): Uint8Array;
	/** Bytes the value spans (`sizeof`, or fixed part + flexible array). */
	$byteLength(): number;
}

/**
 * A live view of a struct or union: scalar fields are get/set properties, nested records are views,
 * arrays are {@link ArrayView}s.
 */
export type View<L> =
	L extends StructLayout<infer F>
		? FieldsView<F> & ViewMethods<L>
		: L extends UnionLayout<infer F>
			? FieldsView<F> & ViewMethods<L>
			: never;

/** A live view of a fixed or flexible array. */
export interface ArrayView<E> extends Iterable<Value<E>> {
	/** Element count (for a flexible array: read from its count field, or from the buffer, on every access). */
	readonly length: number;
	/** Read element `i` (decodes composite elements). */
	get(i: number): Value<E>;
	/** Write element `i`. */
	set(i: number, value: Input<E>): void;
	/** A view of composite element `i` (allocates one view). */
	at(i: number): ChildView<E>;
	/** Decode all elements (a typed array for numeric elements). */
	decode(): Value<E>[] | ArrayLike<Value<E>>;
	/** Write all elements; the count must equal {@link ArrayView.length}. */
	encode(values: ArrayLike<Input<E>>): void;
}

// ───────────────────────────── implementation ─────────────────────────────

interface ViewState {
	$dv: DataView;
	$u8: Uint8Array;
	$off: number;
	$kids: unknown[] | undefined;
}

type ViewCtor = new (b: Bytes, off: number) => ViewState;

const VIEW_CLASSES = new WeakMap<RecordLayout, ViewCtor>();

function fixedPart(l: FixedLayout): number {
	return l.kind === 'struct' && l.tail !== undefined ? l.tail.offset : l.size;
}

/** Prototype methods shared by every record view. */
abstract class RecordViewBase implements ViewState {
	$dv: DataView;
	$u8: Uint8Array;
	$off: number;
	$kids: unknown[] | undefined;
	abstract readonly $layout: RecordLayout;

	constructor(b: Bytes, off: number) {
		this.$dv = b.dv;
		this.$u8 = b.u8;
		this.$off = off;
		this.$kids = undefined;
	}

	get $offset(): number {
		return this.$off;
	}

	$moveTo(offset: number): this {
		checkRoom(this.$layout, this.$u8, offset);
		this.$off = offset;
		return this;
	}

	$decode(): unknown {
		return decode(this.$layout, this.$dv, this.$off);
	}

	$encode(value: unknown): number {
		return encodeAt(
			this.$layout,
			value,
			{ dv: this.$dv, u8: this.$u8 },
			this.$off,
			nameOf(this.$layout),
			false,
		);
	}

	$patch(value: unknown): number {
		return encodeAt(
			this.$layout,
			value,
			{ dv: this.$dv, u8: this.$u8 },
			this.$off,
			nameOf(this.$layout),
			true,
		);
	}

	$byteLength(): number {
		return measure(this.$layout, this.$dv, this.$off);
	}

	$bytes(): Uint8Array {
		return this.$u8.subarray(this.$off, this.$off + this.$byteLength());
	}
}

function nameOf(l: RecordLayout): string {
	return l.name || `(anonymous ${l.kind})`;
}

function checkRoom(l: FixedLayout, u8: Uint8Array, offset: number): void {
	if (!Number.isSafeInteger(offset) || offset < 0) {
		throw new AbiError('ABI_BAD_ARGUMENT', `offset must be a non-negative integer, got ${String(offset)}`, {
			offset,
		});
	}
	const need = fixedPart(l);
	if (offset + need > u8.length) throw shortBuffer(l, need, u8.length - offset, offset);
}

const PRIM_GET: Readonly<Record<PrimName, (dv: DataView, o: number) => number | bigint | boolean>> = {
	u8: (dv, o) => dv.getUint8(o),
	i8: (dv, o) => dv.getInt8(o),
	bool: (dv, o) => dv.getUint8(o) !== 0,
	u16: (dv, o) => dv.getUint16(o, true),
	i16: (dv, o) => dv.getInt16(o, true),
	u32: (dv, o) => dv.getUint32(o, true),
	i32: (dv, o) => dv.getInt32(o, true),
	u64: (dv, o) => dv.getBigUint64(o, true),
	i64: (dv, o) => dv.getBigInt64(o, true),
	f32: (dv, o) => dv.getFloat32(o, true),
	f64: (dv, o) => dv.getFloat64(o, true),
};

function viewClass(l: RecordLayout): ViewCtor {
	const existing = VIEW_CLASSES.get(l);
	if (existing !== undefined) return existing;
	class RecordView extends RecordViewBase {
		get $layout(): RecordLayout {
			return l;
		}
	}
	const proto = RecordView.prototype;
	const owner = nameOf(l);
	l.fields.forEach((f, i) => {
		Object.defineProperty(proto, f.name, fieldDescriptor(l, f, i, `${owner}.${f.name}`));
	});
	VIEW_CLASSES.set(l, RecordView);
	return RecordView;
}

/** The cached child view `i` of `self`, created by `make` on first use and moved to `off` on every use. */
function kid<T extends ViewState>(
	self: ViewState,
	i: number,
	make: (self: ViewState, off: number) => T,
	off: number,
): T {
	if (self.$kids === undefined) self.$kids = [];
	const kids = self.$kids;
	let k = kids[i] as T | undefined;
	if (k === undefined) {
		k = make(self, off);
		kids[i] = k;
	}
	k.$off = off;
	return k;
}

function fieldDescriptor(l: RecordLayout, f: Field, i: number, path: string): PropertyDescriptor {
	const fo = f.offset;
	const fl = f.layout;
	if (f.bits !== undefined) {
		const p = (fl as PrimLayout).prim;
		const bo = f.bits.offset;
		const bw = f.bits.size;
		return {
			enumerable: true,
			get(this: ViewState) {
				return readBits(this.$dv, this.$off + fo, bo, bw, p);
			},
			set(this: ViewState, v: unknown) {
				const r = writeBits(this.$dv, this.$off + fo, bo, bw, p, v);
				if (r !== 0) throw primError(r, p, v, path, bw);
			},
		};
	}
	switch (fl.kind) {
		case 'prim': {
			const p = fl.prim;
			const get = PRIM_GET[p];
			return {
				enumerable: true,
				get(this: ViewState) {
					return get(this.$dv, this.$off + fo);
				},
				set(this: ViewState, v: unknown) {
					const r = writePrim(this.$dv, this.$off + fo, p, v);
					if (r !== 0) throw primError(r, p, v, path);
				},
			};
		}
		case 'cstring':
			return {
				enumerable: true,
				get(this: ViewState) {
					return readCString(this.$u8, this.$off + fo, fl.length);
				},
				set(this: ViewState, v: unknown) {
					encodeAt(fl, v, { dv: this.$dv, u8: this.$u8 }, this.$off + fo, path, false);
				},
			};
		case 'struct':
		case 'union': {
			const C = viewClass(fl);
			const make = (self: ViewState, off: number): ViewState => new C({ dv: self.$dv, u8: self.$u8 }, off);
			return {
				enumerable: true,
				get(this: ViewState) {
					return kid(this, i, make, this.$off + fo);
				},
				set(this: ViewState, v: unknown) {
					encodeAt(fl, v, { dv: this.$dv, u8: this.$u8 }, this.$off + fo, path, false);
				},
			};
		}
		case 'array': {
			const make = (self: ViewState, off: number): ArrayViewImpl =>
				new ArrayViewImpl({ dv: self.$dv, u8: self.$u8 }, off, fl.element, fl.length, path);
			return {
				enumerable: true,
				get(this: ViewState) {
					return kid(this, i, make, this.$off + fo);
				},
				set(this: ViewState, v: unknown) {
					encodeAt(fl, v, { dv: this.$dv, u8: this.$u8 }, this.$off + fo, path, false);
				},
			};
		}
		case 'flex': {
			const ownerLayout = l as StructLayout;
			const make = (self: ViewState, off: number): ArrayViewImpl =>
				new ArrayViewImpl({ dv: self.$dv, u8: self.$u8 }, off, fl.element, -1, path);
			return {
				enumerable: true,
				get(this: ViewState) {
					const a = kid(this, i, make, this.$off + fo);
					a.$owner = this;
					a.$ownerLayout = ownerLayout;
					a.$flex = fl;
					return a;
				},
			};
		}
	}
}

class ArrayViewImpl implements ViewState {
	$dv: DataView;
	$u8: Uint8Array;
	$off: number;
	$kids: unknown[] | undefined = undefined;
	readonly $e: FixedLayout;
	readonly $n: number;
	readonly $path: string;
	$owner: ViewState | undefined = undefined;
	$ownerLayout: StructLayout | undefined = undefined;
	$flex: FlexLayout | undefined = undefined;

	constructor(b: Bytes, off: number, e: FixedLayout, n: number, path: string) {
		this.$dv = b.dv;
		this.$u8 = b.u8;
		this.$off = off;
		this.$e = e;
		this.$n = n;
		this.$path = path;
	}

	get length(): number {
		if (this.$n >= 0) return this.$n;
		return flexCount(
			this.$ownerLayout!,
			this.$flex!,
			this.$owner as unknown as Readonly<Record<string, unknown>>,
			this.$u8.length - this.$off,
		);
	}

	private elem(i: number): number {
		const n = this.length;
		if (!Number.isSafeInteger(i) || i < 0 || i >= n) {
			throw new AbiError(
				'ABI_INDEX_RANGE',
				`${this.$path}[${String(i)}]: index outside the array (length ${n})`,
				{
					path: this.$path,
					index: i,
					length: n,
				},
			);
		}
		const o = this.$off + i * this.$e.size;
		if (o + this.$e.size > this.$u8.length) {
			throw shortBuffer(this.$e, this.$e.size, this.$u8.length - o, o);
		}
		return o;
	}

	get(i: number): unknown {
		const o = this.elem(i);
		const e = this.$e;
		if (e.kind === 'prim') return readPrim(this.$dv, o, e.prim);
		return decode(e, this.$dv, o);
	}

	set(i: number, v: unknown): void {
		const o = this.elem(i);
		const e = this.$e;
		if (e.kind === 'prim') {
			const r = writePrim(this.$dv, o, e.prim, v);
			if (r !== 0) throw primError(r, e.prim, v, `${this.$path}[${i}]`);
			return;
		}
		encodeAt(e, v, { dv: this.$dv, u8: this.$u8 }, o, `${this.$path}[${i}]`, false);
	}

	at(i: number): unknown {
		const o = this.elem(i);
		const e = this.$e;
		const b = { dv: this.$dv, u8: this.$u8 };
		switch (e.kind) {
			case 'struct':
			case 'union':
				return new (viewClass(e))(b, o);
			case 'array':
				return new ArrayViewImpl(b, o, e.element, e.length, `${this.$path}[${i}]`);
			default:
				throw new AbiError(
					'ABI_BAD_ARGUMENT',
					`${this.$path}: ${layoutLabel(e)} elements have no view; use get()/set()`,
				);
		}
	}

	decode(): unknown {
		const n = this.length;
		const end = this.$off + n * this.$e.size;
		if (end > this.$u8.length)
			throw shortBuffer(this.$e, n * this.$e.size, this.$u8.length - this.$off, this.$off);
		const e = this.$e;
		if (e.kind === 'prim') return decodePrimArray(e.prim, toBytes(this.$dv), this.$off, n);
		return Array.from({ length: n }, (_, i) => decode(e, this.$dv, this.$off + i * e.size));
	}

	encode(values: ArrayLike<unknown>): void {
		const n = this.length;
		if (values.length !== n) {
			throw new AbiError(
				'ABI_VALUE_RANGE',
				`${this.$path}: needs exactly ${n} elements, got ${values.length}`,
				{
					path: this.$path,
					expected: n,
					got: values.length,
				},
			);
		}
		for (let i = 0; i < n; i++) this.set(i, values[i]);
	}

	*[Symbol.iterator](): Iterator<unknown> {
		const n = this.length;
		for (let i = 0; i < n; i++) yield this.get(i);
	}
}

/**
 * A live view of a struct or union at `offset` in `target`. Field reads and writes go straight to the
 * buffer; setters check types and ranges like {@link encode}. The fixed part must fit
 * (`ABI_SHORT_BUFFER`). Reuse one view across slots with `$moveTo`.
 */
export function view<L extends RecordLayout>(layout: L, target: ByteSource, offset = 0): View<L> {
	if (
		layout === null ||
		typeof layout !== 'object' ||
		(layout.kind !== 'struct' && layout.kind !== 'union')
	) {
		throw new AbiError('ABI_BAD_ARGUMENT', 'view() needs a struct or union layout');
	}
	const b = toBytes(target);
	checkRoom(layout, b.u8, offset);
	const C = viewClass(layout);
	return new C(b, offset) as unknown as View<L>;
}

/** A precompiled accessor for one scalar at a fixed path: the cheapest way to poke a field. */
export interface Accessor<T> {
	/** Byte offset of the field (of its storage unit, for a bit-field) from the layout start. */
	readonly offset: number;
	/** The normalised path. */
	readonly path: string;
	/** Read the field of the layout instance at `base` in `dv`. */
	get(dv: DataView, base?: number): T;
	/** Write the field (type- and range-checked). */
	set(dv: DataView, value: T, base?: number): void;
}

/**
 * Compile an {@link Accessor} for the scalar (primitive, bit-field or C string) at `path`
 * (`'rx.readPtr'`, `'regs[3]'`). No allocation per call except for 64-bit reads (`bigint`).
 */
export function accessor<T = number | bigint | boolean | string>(layout: Layout, path: string): Accessor<T> {
	const loc = locate(layout, path);
	const where = `${layout.kind === 'struct' || layout.kind === 'union' ? nameOf(layout) : layoutLabel(layout)}.${loc.path}`;
	const off = loc.offset;
	const l = loc.layout;
	const end = loc.bits !== undefined ? off + Math.ceil((loc.bits.offset + loc.bits.size) / 8) : off + l.size;
	const room = (dv: DataView, base: number): void => {
		if (base + end > dv.byteLength || base < 0) throw shortBuffer(l, end, dv.byteLength - base, base);
	};
	if (loc.bits !== undefined) {
		const p = (l as PrimLayout).prim;
		const { offset: bo, size: bw } = loc.bits;
		return {
			offset: off,
			path: loc.path,
			get(dv, base = 0) {
				room(dv, base);
				return readBits(dv, base + off, bo, bw, p) as T;
			},
			set(dv, v, base = 0) {
				room(dv, base);
				const r = writeBits(dv, base + off, bo, bw, p, v);
				if (r !== 0) throw primError(r, p, v, where, bw);
			},
		};
	}
	if (l.kind === 'prim') {
		const p = l.prim;
		const get = PRIM_GET[p];
		return {
			offset: off,
			path: loc.path,
			get(dv, base = 0) {
				room(dv, base);
				return get(dv, base + off) as T;
			},
			set(dv, v, base = 0) {
				room(dv, base);
				const r = writePrim(dv, base + off, p, v);
				if (r !== 0) throw primError(r, p, v, where);
			},
		};
	}
	if (l.kind === 'cstring') {
		return {
			offset: off,
			path: loc.path,
			get(dv, base = 0) {
				room(dv, base);
				return readCString(
					new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength),
					base + off,
					l.length,
				) as T;
			},
			set(dv, v, base = 0) {
				room(dv, base);
				encodeAt(l, v, toBytes(dv), base + off, where, false);
			},
		};
	}
	throw new AbiError(
		'ABI_BAD_ARGUMENT',
		`${where} is a ${layoutLabel(l)}, not a scalar; use view() or decode()`,
		{
			path: loc.path,
		},
	);
}
