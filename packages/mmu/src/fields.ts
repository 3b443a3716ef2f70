/**
 * Declarative bit-field tables for page-table entries, and the generic encoder/decoder over them.
 *
 * An entry is 8 or 16 bytes, little-endian; bit `n` of a 16-byte entry is bit `n - 64` of its second qword,
 * exactly as NVIDIA's `dev_mmu.h` numbers them (`NV_MMU_VER2_DUAL_PDE_APERTURE_SMALL 66:65`). Every field
 * names the `dev_mmu.h` macro it comes from, so tests can check each one against the header.
 *
 * The generic functions work on `bigint` and are meant for decoding, tests and the cold paths (PDEs);
 * the hot path (PTE runs) uses precomputed u32 words derived from the same tables.
 *
 * @module
 */

import { MmuError } from './errors.ts';

/** A named value of an enumerated field, and the suffix of its `dev_mmu.h` macro. */
export interface FieldValue {
	readonly value: number;
	/** Suffix after the field macro, e.g. `'VIDEO_MEMORY'` for `NV_MMU_VER2_PTE_APERTURE_VIDEO_MEMORY`. */
	readonly header: string;
}

/** One bit field of an entry. */
export interface FieldDef {
	/** `[hi, lo]`, inclusive bit positions within the entry. */
	readonly bits: readonly [number, number];
	/** The field's macro in NVIDIA's `dev_mmu.h`, e.g. `'NV_MMU_VER2_PTE_APERTURE'`. */
	readonly header: string;
	/** For address fields: the field holds `physicalAddress >> shift`. */
	readonly shift?: number;
	/** Named values, for enumerated fields. */
	readonly values?: Readonly<Record<string, FieldValue>>;
}

/** The layout of one kind of entry (PTE, PDE, dual PDE) of one MMU format. */
export interface EntryLayout {
	/** e.g. `'NV_MMU_VER2_PTE'` (also the prefix of the macros). */
	readonly header: string;
	/** Entry size in bytes (`__SIZE` in the header). */
	readonly size: 8 | 16;
	readonly fields: Readonly<Record<string, FieldDef>>;
}

/** Width of a field in bits. */
export function fieldWidth(f: FieldDef): number {
	return f.bits[0] - f.bits[1] + 1;
}

/** The mask of a field, already shifted to its position. */
export function fieldMask(f: FieldDef): bigint {
	return ((1n << BigInt(fieldWidth(f))) - 1n) << BigInt(f.bits[1]);
}

/** Place `value` into field `f` (throws if it does not fit: a silent truncation would be a wrong PTE). */
export function placeField(f: FieldDef, value: bigint | number | boolean): bigint {
	const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
	const max = (1n << BigInt(fieldWidth(f))) - 1n;
	if (v < 0n || v > max) {
		throw new MmuError(
			'MMU_INVALID_ARGUMENT',
			`value ${v} does not fit ${f.header} (${f.bits[0]}:${f.bits[1]})`,
			{
				field: f.header,
				value: v.toString(),
			},
		);
	}
	return v << BigInt(f.bits[1]);
}

/** Extract field `f` from a raw entry. */
export function extractField(f: FieldDef, raw: bigint): bigint {
	return (raw & fieldMask(f)) >> BigInt(f.bits[1]);
}

/** Field values for {@link encodeEntry}: numbers, bigints, booleans, or the name of an enumerated value. */
export type FieldInput = bigint | number | boolean | string;

/** Resolve an enumerated value name (or pass a number through). */
export function enumValue(f: FieldDef, v: FieldInput): bigint | number | boolean {
	if (typeof v !== 'string') return v;
	const e = f.values?.[v];
	if (e === undefined) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `${f.header} has no value ${JSON.stringify(v)}`, {
			field: f.header,
			known: Object.keys(f.values ?? {}),
		});
	}
	return e.value;
}

/**
 * Encode an entry from field values. Unnamed fields are zero. Fields that alias the same bits (e.g. the
 * `ADDRESS_SYS` and `ADDRESS_VID` views of one address) must not both be given.
 */
export function encodeEntry(
	layout: EntryLayout,
	values: Readonly<Record<string, FieldInput | undefined>>,
): bigint {
	let raw = 0n;
	for (const [name, v] of Object.entries(values)) {
		if (v === undefined) continue;
		const f = layout.fields[name];
		if (f === undefined) {
			throw new MmuError('MMU_INVALID_ARGUMENT', `${layout.header} has no field ${name}`, {
				layout: layout.header,
			});
		}
		raw |= placeField(f, enumValue(f, v));
	}
	return raw;
}

/** Decode every field of a raw entry (aliased fields each show their own view of the bits). */
export function decodeEntry(layout: EntryLayout, raw: bigint): Record<string, bigint> {
	const out: Record<string, bigint> = {};
	for (const [name, f] of Object.entries(layout.fields)) out[name] = extractField(f, raw);
	return out;
}

/** The name of an enumerated field's value, or `undefined` when the value has no name. */
export function enumName(f: FieldDef, value: bigint | number): string | undefined {
	const n = Number(value);
	for (const [name, e] of Object.entries(f.values ?? {})) if (e.value === n) return name;
	return undefined;
}

/** Read an entry of `size` bytes at word index `w` of a little-endian u32 view. */
export function readEntry(words: Uint32Array, w: number, size: 8 | 16): bigint {
	let raw = BigInt(words[w] ?? 0) | (BigInt(words[w + 1] ?? 0) << 32n);
	if (size === 16) raw |= (BigInt(words[w + 2] ?? 0) << 64n) | (BigInt(words[w + 3] ?? 0) << 96n);
	return raw;
}

/** Split an entry into u32 words (2 or 4), least significant first. */
export function entryWords(raw: bigint, size: 8 | 16): number[] {
	const out: number[] = [];
	for (let i = 0; i < size / 4; i++) out.push(Number((raw >> BigInt(32 * i)) & 0xffffffffn));
	return out;
}
