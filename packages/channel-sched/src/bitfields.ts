/**
 * Declarative 32-bit word layouts (method headers, method data, GP entry words).
 *
 * A layout is declared once as `hi:lo` data, exactly as the NVIDIA class headers write it; shifts and masks are
 * derived here and nowhere else (style habit 1). Packing checks that every value fits its field, so a wrong
 * width is an error rather than a silently corrupted neighbour.
 *
 * @module
 */

import { ChannelArgumentError } from './errors.ts';

/** A field as `[hi, lo]` bit positions, inclusive, within a 32-bit word. */
export type Bits = readonly [hi: number, lo: number];

/** Field name → bit range. */
export type WordFields = Readonly<Record<string, Bits>>;

/** Derived accessors of one word layout. */
export interface WordLayout<F extends WordFields> {
	/** Layout name, for error messages (e.g. `NVC56F_DMA_INCR`). */
	readonly name: string;
	/** The declared fields. */
	readonly fields: F;
	/** Pack fields into an unsigned 32-bit word; unspecified fields are 0. Throws if a value does not fit. */
	pack(values: Partial<Record<keyof F, number>>): number;
	/** Extract every field of `word`. */
	unpack(word: number): Record<keyof F, number>;
	/** Extract one field. */
	get(word: number, field: keyof F): number;
	/** Return `word` with `field` replaced by `value` (checked). */
	set(word: number, field: keyof F, value: number): number;
	/** The field's mask in place (e.g. `0xe0000000` for 31:29). */
	mask(field: keyof F): number;
	/** The field's shift (its `lo`). */
	shift(field: keyof F): number;
	/** The largest value the field holds. */
	max(field: keyof F): number;
}

interface Derived {
	readonly shift: number;
	readonly width: number;
	readonly max: number;
	readonly mask: number;
}

function derive(name: string, field: string, [hi, lo]: Bits): Derived {
	if (!Number.isInteger(hi) || !Number.isInteger(lo) || lo < 0 || hi > 31 || hi < lo) {
		throw new ChannelArgumentError(`${name}.${field}: bad bit range ${hi}:${lo}`);
	}
	const width = hi - lo + 1;
	const max = width === 32 ? 0xffffffff : 2 ** width - 1;
	return { shift: lo, width, max, mask: (max * 2 ** lo) >>> 0 };
}

/** Declare a 32-bit word layout from `hi:lo` field ranges. */
export function defineWord<const F extends WordFields>(name: string, fields: F): WordLayout<F> {
	const derived = new Map<keyof F, Derived>();
	for (const [k, bits] of Object.entries(fields)) derived.set(k as keyof F, derive(name, k, bits));
	const d = (field: keyof F): Derived => {
		const x = derived.get(field);
		if (x === undefined) throw new ChannelArgumentError(`${name}: no field ${String(field)}`);
		return x;
	};
	const check = (field: keyof F, value: number): Derived => {
		const x = d(field);
		if (!Number.isInteger(value) || value < 0 || value > x.max) {
			throw new ChannelArgumentError(`${name}.${String(field)} = ${value} does not fit in ${x.width} bits`, {
				field: String(field),
				value,
				max: x.max,
			});
		}
		return x;
	};
	const layout: WordLayout<F> = {
		name,
		fields,
		pack(values) {
			let w = 0;
			for (const k in values) {
				const v = values[k];
				if (v === undefined) continue;
				const x = check(k, v);
				w = (w | (v * 2 ** x.shift)) >>> 0;
			}
			return w >>> 0;
		},
		unpack(word) {
			const out = {} as Record<keyof F, number>;
			for (const [k, x] of derived) out[k] = Math.floor((word >>> 0) / 2 ** x.shift) & x.max;
			// `& x.max` is a signed op; fix 32-bit fields.
			for (const [k, x] of derived) if (x.width === 32) out[k] = word >>> 0;
			return out;
		},
		get(word, field) {
			const x = d(field);
			if (x.width === 32) return word >>> 0;
			return (Math.floor((word >>> 0) / 2 ** x.shift) & x.max) >>> 0;
		},
		set(word, field, value) {
			const x = check(field, value);
			return ((((word >>> 0) & ~x.mask) >>> 0) | (value * 2 ** x.shift)) >>> 0;
		},
		mask: (field) => d(field).mask,
		shift: (field) => d(field).shift,
		max: (field) => d(field).max,
	};
	return Object.freeze(layout);
}
