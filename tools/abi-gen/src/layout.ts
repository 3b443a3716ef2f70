/**
 * Turns DWARF type information into manifest layouts: every struct and union with its size, alignment
 * and fields (offset, size, normalised type, bit-fields), every typedef alias of one, and every enumerator.
 *
 * Naming: a struct or union is named by its tag, else by the first typedef that names it. Anonymous types
 * are named after where they are used: `Outer.field` for the type of a named field and `Outer.@anonN` for
 * an anonymous member (which itself is listed as field `@anonN`).
 *
 * @module
 */

import type { ManifestField, ManifestType } from '@gspkit/abi';
import { AT, ATE, type AttrValue, type Die, DieRef, type DwarfInfo, FORM_SDATA, TAG } from './dwarf.ts';
import { AbiGenError } from './errors.ts';

/** An enumerator read from DWARF. */
export interface Enumerator {
	readonly name: string;
	readonly value: bigint;
	/** The enum's tag or typedef name; `undefined` for an anonymous, untypedef'd enum. */
	readonly enumName: string | undefined;
}

/** Everything the layout pass found. */
export interface LayoutResult {
	/** Structs and unions (including typedef aliases), sorted by name. */
	readonly types: readonly ManifestType[];
	/** Enumerators in declaration order. */
	readonly enumerators: readonly Enumerator[];
	/**
	 * The C spelling that names each type in a translation unit (`struct X`, `X`, `union Y`), for the
	 * gcc `_Alignof`/`sizeof` probes; anonymous types (no C spelling) are absent.
	 */
	readonly spellings: ReadonlyMap<string, string>;
	/** Alignment computed from the members, per type name (before gcc probes override it). */
	readonly computedAlign: ReadonlyMap<string, number>;
	/** Typedef aliases listed as types of their own: alias → canonical name. */
	readonly aliasOf: ReadonlyMap<string, string>;
}

function num(v: AttrValue | undefined, what: string): number {
	if (typeof v === 'number') return v;
	if (typeof v === 'bigint') return Number(v);
	if (typeof v === 'boolean') return v ? 1 : 0;
	if (v instanceof Uint8Array && v[0] === 0x23) {
		// DW_OP_plus_uconst <uleb>: DWARF 2-style member location.
		let r = 0;
		let shift = 0;
		for (let i = 1; i < v.length; i++) {
			const b = v[i]!;
			r += (b & 0x7f) * 2 ** shift;
			shift += 7;
			if ((b & 0x80) === 0) break;
		}
		return r;
	}
	throw new AbiGenError('E_DWARF', `expected a constant for ${what}, got ${String(v)}`);
}

function name(die: Die): string | undefined {
	const n = die.attrs.get(AT.name);
	return typeof n === 'string' ? n : undefined;
}

/** Extracts layouts and enumerators from decoded DWARF. */
export function extractLayouts(dwarf: DwarfInfo): LayoutResult {
	const get = (ref: AttrValue | undefined): Die | undefined =>
		ref instanceof DieRef ? dwarf.byOffset.get(ref.offset) : undefined;
	const typeOf = (die: Die): Die | undefined => get(die.attrs.get(AT.type));

	const all: Die[] = [];
	const visit = (d: Die): void => {
		all.push(d);
		for (const ch of d.children) visit(ch);
	};
	for (const u of dwarf.units) visit(u);

	const isRecord = (d: Die): boolean => d.tag === TAG.structure_type || d.tag === TAG.union_type;
	const isComplete = (d: Die): boolean => !d.attrs.get(AT.declaration);

	// Canonical names: tag, else first typedef; typedef aliases are remembered separately.
	const names = new Map<Die, string>();
	const spellings = new Map<string, string>();
	const aliases: { alias: string; target: Die }[] = [];
	for (const d of all) {
		if ((isRecord(d) || d.tag === TAG.enumeration_type) && name(d)) {
			names.set(d, name(d)!);
			const kw = d.tag === TAG.structure_type ? 'struct' : d.tag === TAG.union_type ? 'union' : 'enum';
			spellings.set(`${kw} ${name(d)}`, `${kw} ${name(d)}`);
		}
	}
	for (const d of all) {
		if (d.tag !== TAG.typedef || !name(d)) continue;
		let t = typeOf(d);
		// Only direct typedefs of records/enums (possibly through another typedef) name them.
		while (t && t.tag === TAG.typedef) t = typeOf(t);
		if (!t || !(isRecord(t) || t.tag === TAG.enumeration_type)) continue;
		if (!names.has(t)) {
			names.set(t, name(d)!);
			spellings.set(`typedef ${name(d)}`, name(d)!);
		} else if (names.get(t) !== name(d) && isRecord(t)) {
			aliases.push({ alias: name(d)!, target: t });
		}
	}

	const kindOf = (d: Die): 'struct' | 'union' => (d.tag === TAG.union_type ? 'union' : 'struct');

	/** Size in bytes of a type DIE (through typedefs and qualifiers; arrays multiply). */
	const sizeOf = (d: Die | undefined): number => {
		if (!d) return 0; // void
		switch (d.tag) {
			case TAG.typedef:
			case TAG.const_type:
			case TAG.volatile_type:
			case TAG.restrict_type:
			case TAG.atomic_type:
				return sizeOf(typeOf(d));
			case TAG.array_type: {
				let n = 1;
				for (const dim of dims(d)) n *= dim ?? 0;
				return n * sizeOf(typeOf(d));
			}
			case TAG.pointer_type:
				return d.attrs.has(AT.byte_size) ? num(d.attrs.get(AT.byte_size), 'pointer size') : 8;
			default:
				return d.attrs.has(AT.byte_size) ? num(d.attrs.get(AT.byte_size), 'byte_size') : 0;
		}
	};

	/** Array dimensions; `undefined` for a flexible (unbounded) dimension. */
	const dims = (arr: Die): (number | undefined)[] =>
		arr.children
			.filter((c) => c.tag === TAG.subrange_type)
			.map((sr) => {
				if (sr.attrs.has(AT.count)) return num(sr.attrs.get(AT.count), 'count');
				if (sr.attrs.has(AT.upper_bound)) {
					const ub = sr.attrs.get(AT.upper_bound);
					// gcc encodes `[0]` as upper bound -1 (all ones in an unsigned form).
					if (ub === -1 || ub === 0xffffffff || ub === 0xffffffffffffffffn) return 0;
					return num(ub, 'upper_bound') + 1;
				}
				return undefined;
			});

	const computedAlign = new Map<string, number>();
	const alignCache = new Map<Die, number>();
	/** Natural alignment of a type DIE under the LP64 C rules. */
	const alignOf = (d: Die | undefined): number => {
		if (!d) return 1;
		const cached = alignCache.get(d);
		if (cached !== undefined) return cached;
		let a: number;
		switch (d.tag) {
			case TAG.typedef:
			case TAG.const_type:
			case TAG.volatile_type:
			case TAG.restrict_type:
			case TAG.atomic_type:
				a = d.attrs.has(AT.alignment) ? num(d.attrs.get(AT.alignment), 'alignment') : alignOf(typeOf(d));
				break;
			case TAG.array_type:
				a = alignOf(typeOf(d));
				break;
			case TAG.structure_type:
			case TAG.union_type:
				a = recordAlign(d);
				break;
			case TAG.enumeration_type: {
				const under = typeOf(d);
				a = under ? alignOf(under) : Math.max(1, sizeOf(d));
				break;
			}
			default:
				a = Math.max(1, Math.min(16, sizeOf(d)));
		}
		alignCache.set(d, a);
		return a;
	};
	const recordAlign = (d: Die): number => {
		if (d.attrs.has(AT.alignment)) return num(d.attrs.get(AT.alignment), 'alignment');
		let a = 1;
		let packed = false;
		for (const m of d.children) {
			if (m.tag !== TAG.member) continue;
			const ma = m.attrs.has(AT.alignment) ? num(m.attrs.get(AT.alignment), 'alignment') : alignOf(typeOf(m));
			if (!m.attrs.has(AT.bit_size)) {
				const off = m.attrs.has(AT.data_member_location)
					? num(m.attrs.get(AT.data_member_location), 'offset')
					: 0;
				if (off % ma !== 0) packed = true;
			}
			a = Math.max(a, ma);
		}
		const size = sizeOf(d);
		// A member off its natural boundary, or a size that is not a multiple, only happens when packed.
		if (packed || size % a !== 0) return 1;
		return a;
	};

	const prim = (d: Die): string => {
		const enc = num(d.attrs.get(AT.encoding), 'encoding');
		// Plain `char` (neither signed nor unsigned) marks text: the manifest reads char[N] as a C string.
		if (name(d) === 'char') return 'char';
		const size = sizeOf(d);
		switch (enc) {
			case ATE.boolean:
				return size === 1 ? 'bool' : `u${size * 8}`;
			case ATE.float:
				return `f${size * 8}`;
			case ATE.signed:
			case ATE.signed_char:
				return `i${size * 8}`;
			case ATE.unsigned:
			case ATE.unsigned_char:
			case ATE.UTF:
				return `u${size * 8}`;
			default:
				throw new AbiGenError('E_DWARF', `base type ${name(d) ?? '?'} has unsupported encoding ${enc}`);
		}
	};

	/** The manifest type string of a type DIE; names anonymous records after `context`. */
	const typeString = (d: Die | undefined, context: string): string => {
		if (!d) return 'void';
		switch (d.tag) {
			case TAG.typedef:
			case TAG.const_type:
			case TAG.volatile_type:
			case TAG.restrict_type:
			case TAG.atomic_type:
				return typeString(typeOf(d), context);
			case TAG.base_type:
				return prim(d);
			case TAG.pointer_type:
			case TAG.subroutine_type:
				return 'ptr';
			case TAG.array_type: {
				const suffix = dims(d)
					.map((n) => (n === undefined ? '[]' : `[${n}]`))
					.join('');
				return `${typeString(typeOf(d), context)}${suffix}`;
			}
			case TAG.enumeration_type:
				return `enum ${names.get(d) ?? '@anon'}`;
			case TAG.structure_type:
			case TAG.union_type: {
				if (!names.has(d)) names.set(d, context);
				return `${kindOf(d)} ${names.get(d)}`;
			}
			default:
				throw new AbiGenError('E_DWARF', `unsupported type tag 0x${d.tag.toString(16)} in ${context}`);
		}
	};

	const built = new Map<Die, ManifestType>();
	const pending: Die[] = [];
	const build = (d: Die): ManifestType => {
		const done = built.get(d);
		if (done) return done;
		const typeName = names.get(d)!;
		const fields: ManifestField[] = [];
		let anon = 0;
		for (const m of d.children) {
			if (m.tag !== TAG.member) continue;
			const mt = typeOf(m);
			let fieldName = name(m);
			if (fieldName === undefined) fieldName = `@anon${anon++}`;
			const type = typeString(mt, `${typeName}.${fieldName}`);
			const tsize = sizeOf(mt);
			if (m.attrs.has(AT.bit_size)) {
				const bitSize = num(m.attrs.get(AT.bit_size), 'bit_size');
				let bit: number;
				if (m.attrs.has(AT.data_bit_offset)) {
					bit = num(m.attrs.get(AT.data_bit_offset), 'data_bit_offset');
				} else {
					// DWARF ≤ 4: DW_AT_bit_offset counts from the most significant bit of the storage unit.
					const unitOff = num(m.attrs.get(AT.data_member_location), 'offset');
					const unitSize = m.attrs.has(AT.byte_size) ? num(m.attrs.get(AT.byte_size), 'byte_size') : tsize;
					bit = unitOff * 8 + unitSize * 8 - num(m.attrs.get(AT.bit_offset), 'bit_offset') - bitSize;
				}
				const unitBits = tsize * 8;
				let offset = Math.floor(bit / unitBits) * tsize;
				let size = tsize;
				let bitOffset = bit - offset * 8;
				if (bitOffset + bitSize > unitBits) {
					// Straddles its natural storage unit (packed): describe the bytes it touches.
					offset = Math.floor(bit / 8);
					bitOffset = bit % 8;
					size = Math.ceil((bitOffset + bitSize) / 8);
				}
				fields.push({ name: fieldName, offset, size, type, bitOffset, bitSize });
			} else {
				const offset = m.attrs.has(AT.data_member_location)
					? num(m.attrs.get(AT.data_member_location), 'offset')
					: 0;
				fields.push({ name: fieldName, offset, size: tsize, type });
			}
			let inner = mt;
			while (inner && inner.tag !== TAG.structure_type && inner.tag !== TAG.union_type && typeOf(inner)) {
				inner = typeOf(inner);
			}
			if (inner && isRecord(inner) && isComplete(inner)) pending.push(inner);
		}
		const t: ManifestType = { name: typeName, kind: kindOf(d), size: sizeOf(d), align: alignOf(d), fields };
		computedAlign.set(typeName, t.align);
		built.set(d, t);
		return t;
	};

	for (const d of all) {
		if (isRecord(d) && isComplete(d) && names.has(d)) build(d);
	}
	while (pending.length > 0) {
		const d = pending.pop()!;
		if (!built.has(d)) build(d);
	}

	const types = new Map<string, ManifestType>();
	for (const t of built.values()) {
		if (types.has(t.name)) throw new AbiGenError('E_DWARF', `two different types are named ${t.name}`);
		types.set(t.name, t);
	}
	const aliasOf = new Map<string, string>();
	for (const { alias, target } of aliases) {
		const t = built.get(target);
		if (!t || types.has(alias)) continue;
		types.set(alias, { ...t, name: alias });
		aliasOf.set(alias, t.name);
		spellings.set(`typedef ${alias}`, alias);
	}

	const enumerators: Enumerator[] = [];
	for (const d of all) {
		if (d.tag !== TAG.enumeration_type) continue;
		const under = typeOf(d);
		let base = under;
		while (base && base.tag === TAG.typedef) base = typeOf(base);
		const signed =
			base?.tag === TAG.base_type &&
			(num(base.attrs.get(AT.encoding), 'encoding') === ATE.signed ||
				num(base.attrs.get(AT.encoding), 'encoding') === ATE.signed_char);
		const bits = BigInt(sizeOf(d) * 8 || 32);
		for (const e of d.children) {
			if (e.tag !== TAG.enumerator) continue;
			const raw = e.attrs.get(AT.const_value);
			let v = typeof raw === 'bigint' ? raw : BigInt(num(raw, 'enumerator'));
			// Fixed-size forms hold the bit pattern; sdata is already signed.
			if (e.constForm !== FORM_SDATA && signed) v = BigInt.asIntN(Number(bits), v);
			enumerators.push({ name: name(e)!, value: v, enumName: names.get(d) });
		}
	}

	// Spellings keyed by manifest name (drop the lookup prefixes used above).
	const byName = new Map<string, string>();
	for (const [key, spelling] of spellings) {
		const n = key.replace(/^(struct|union|enum|typedef) /, '');
		if (types.has(n) && !byName.has(n)) byName.set(n, spelling);
	}

	return {
		types: [...types.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
		enumerators,
		spellings: byName,
		computedAlign,
		aliasOf,
	};
}
