/**
 * A small DWARF (versions 2–5) `.debug_info` reader: it decodes every debugging information entry (DIE)
 * of every compilation unit into a tree with resolved attribute values. It knows the whole form table
 * but interprets only what layout extraction needs (names, sizes, offsets, references, constants).
 *
 * @module
 */

import type { ElfFile } from './elf.ts';
import { AbiGenError } from './errors.ts';

/** DWARF tags used by the layout extractor. */
export const TAG = {
	array_type: 0x01,
	enumeration_type: 0x04,
	member: 0x0d,
	pointer_type: 0x0f,
	compile_unit: 0x11,
	structure_type: 0x13,
	subroutine_type: 0x15,
	typedef: 0x16,
	union_type: 0x17,
	subrange_type: 0x21,
	base_type: 0x24,
	const_type: 0x26,
	enumerator: 0x28,
	variable: 0x34,
	volatile_type: 0x35,
	restrict_type: 0x37,
	atomic_type: 0x47,
} as const;

/** DWARF attributes used by the layout extractor. */
export const AT = {
	sibling: 0x01,
	byte_size: 0x0b,
	bit_offset: 0x0c,
	bit_size: 0x0d,
	name: 0x03,
	const_value: 0x1c,
	upper_bound: 0x2f,
	count: 0x37,
	data_member_location: 0x38,
	declaration: 0x3c,
	encoding: 0x3e,
	type: 0x49,
	data_bit_offset: 0x6b,
	alignment: 0x88,
} as const;

/** Base type encodings (`DW_ATE_*`). */
export const ATE = {
	boolean: 0x02,
	float: 0x04,
	signed: 0x05,
	signed_char: 0x06,
	unsigned: 0x07,
	unsigned_char: 0x08,
	UTF: 0x10,
} as const;

/** A decoded attribute value. References are absolute `.debug_info` offsets wrapped in {@link DieRef}. */
export type AttrValue = number | bigint | string | boolean | Uint8Array | DieRef;

/** A reference to another DIE by its absolute `.debug_info` offset. */
export class DieRef {
	constructor(readonly offset: number) {}
}

/** One debugging information entry. */
export interface Die {
	readonly offset: number;
	readonly tag: number;
	readonly attrs: ReadonlyMap<number, AttrValue>;
	readonly children: Die[];
	readonly parent: Die | undefined;
	/** How `DW_AT_const_value` was encoded: `sdata` values are already signed. */
	readonly constForm?: number;
}

interface AbbrevAttr {
	readonly at: number;
	readonly form: number;
	readonly implicit?: bigint;
}
interface Abbrev {
	readonly tag: number;
	readonly hasChildren: boolean;
	readonly attrs: readonly AbbrevAttr[];
}

const FORM = {
	addr: 0x01,
	block2: 0x03,
	block4: 0x04,
	data2: 0x05,
	data4: 0x06,
	data8: 0x07,
	string: 0x08,
	block: 0x09,
	block1: 0x0a,
	data1: 0x0b,
	flag: 0x0c,
	sdata: 0x0d,
	strp: 0x0e,
	udata: 0x0f,
	ref_addr: 0x10,
	ref1: 0x11,
	ref2: 0x12,
	ref4: 0x13,
	ref8: 0x14,
	ref_udata: 0x15,
	indirect: 0x16,
	sec_offset: 0x17,
	exprloc: 0x18,
	flag_present: 0x19,
	strx: 0x1a,
	addrx: 0x1b,
	ref_sup4: 0x1c,
	strp_sup: 0x1d,
	data16: 0x1e,
	line_strp: 0x1f,
	ref_sig8: 0x20,
	implicit_const: 0x21,
	loclistx: 0x22,
	rnglistx: 0x23,
	ref_sup8: 0x24,
	strx1: 0x25,
	strx2: 0x26,
	strx3: 0x27,
	strx4: 0x28,
	addrx1: 0x29,
	addrx2: 0x2a,
	addrx3: 0x2b,
	addrx4: 0x2c,
} as const;

/** The form with which `DW_FORM_sdata` is encoded (exported for signedness decisions). */
export const FORM_SDATA = FORM.sdata;

/** A little-endian byte cursor with LEB128 support. */
class Cursor {
	pos: number;
	private readonly view: DataView;
	constructor(
		readonly bytes: Uint8Array,
		pos = 0,
	) {
		this.pos = pos;
		this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	}
	u8(): number {
		return this.view.getUint8(this.pos++);
	}
	u16(): number {
		const v = this.view.getUint16(this.pos, true);
		this.pos += 2;
		return v;
	}
	u24(): number {
		const v = this.view.getUint16(this.pos, true) | (this.view.getUint8(this.pos + 2) << 16);
		this.pos += 3;
		return v;
	}
	u32(): number {
		const v = this.view.getUint32(this.pos, true);
		this.pos += 4;
		return v;
	}
	u64(): bigint {
		const v = this.view.getBigUint64(this.pos, true);
		this.pos += 8;
		return v;
	}
	uleb(): bigint {
		let result = 0n;
		let shift = 0n;
		for (;;) {
			const b = this.u8();
			result |= BigInt(b & 0x7f) << shift;
			shift += 7n;
			if ((b & 0x80) === 0) return result;
		}
	}
	sleb(): bigint {
		let result = 0n;
		let shift = 0n;
		let b: number;
		do {
			b = this.u8();
			result |= BigInt(b & 0x7f) << shift;
			shift += 7n;
		} while (b & 0x80);
		if (b & 0x40) result -= 1n << shift;
		return result;
	}
	bytesN(n: number): Uint8Array {
		const v = this.bytes.subarray(this.pos, this.pos + n);
		this.pos += n;
		return v;
	}
	cstr(): string {
		let end = this.pos;
		while (this.bytes[end] !== 0) end++;
		const s = Buffer.from(this.bytes.subarray(this.pos, end)).toString('utf8');
		this.pos = end + 1;
		return s;
	}
}

/** A bigint narrowed to a number when it fits exactly. */
function small(v: bigint): number | bigint {
	return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function cstrAt(bytes: Uint8Array, offset: number, what: string): string {
	if (offset >= bytes.length) throw new AbiGenError('E_DWARF', `${what} offset ${offset} is out of range`);
	let end = offset;
	while (end < bytes.length && bytes[end] !== 0) end++;
	return Buffer.from(bytes.subarray(offset, end)).toString('utf8');
}

function parseAbbrevs(bytes: Uint8Array, offset: number): Map<number, Abbrev> {
	const c = new Cursor(bytes, offset);
	const table = new Map<number, Abbrev>();
	for (;;) {
		const code = Number(c.uleb());
		if (code === 0) return table;
		const tag = Number(c.uleb());
		const hasChildren = c.u8() !== 0;
		const attrs: AbbrevAttr[] = [];
		for (;;) {
			const at = Number(c.uleb());
			const form = Number(c.uleb());
			if (at === 0 && form === 0) break;
			attrs.push(form === FORM.implicit_const ? { at, form, implicit: c.sleb() } : { at, form });
		}
		table.set(code, { tag, hasChildren, attrs });
	}
}

/** Every compilation unit's root DIE and an index of all DIEs by offset. */
export interface DwarfInfo {
	readonly units: readonly Die[];
	readonly byOffset: ReadonlyMap<number, Die>;
}

/** Decodes `.debug_info` of an ELF object into DIE trees. */
export function readDwarf(elf: ElfFile): DwarfInfo {
	const info = elf.relocatedSection('.debug_info');
	const abbrevBytes = elf.sectionBytes('.debug_abbrev');
	const str = elf.section('.debug_str') ? elf.relocatedSection('.debug_str') : new Uint8Array(0);
	const lineStr = elf.sectionBytes('.debug_line_str');
	const byOffset = new Map<number, Die>();
	const units: Die[] = [];
	const c = new Cursor(info);
	while (c.pos < info.length) {
		const unitStart = c.pos;
		let length = c.u32();
		let offsetSize = 4;
		if (length === 0xffffffff) {
			length = Number(c.u64());
			offsetSize = 8;
		}
		const unitEnd = c.pos + length;
		const version = c.u16();
		let addressSize: number;
		let abbrevOffset: number;
		if (version >= 5) {
			const unitType = c.u8();
			addressSize = c.u8();
			abbrevOffset = offsetSize === 8 ? Number(c.u64()) : c.u32();
			// Skeleton/split and type units carry extra header fields; gcc -g emits plain DW_UT_compile.
			if (unitType !== 1 && unitType !== 3) {
				throw new AbiGenError('E_DWARF', `unsupported DWARF unit type ${unitType}`);
			}
		} else if (version >= 2) {
			abbrevOffset = offsetSize === 8 ? Number(c.u64()) : c.u32();
			addressSize = c.u8();
		} else {
			throw new AbiGenError('E_DWARF', `unsupported DWARF version ${version}`);
		}
		const abbrevs = parseAbbrevs(abbrevBytes, abbrevOffset);
		const readForm = (form: number, implicit: bigint | undefined): AttrValue => {
			switch (form) {
				case FORM.addr:
					return addressSize === 8 ? small(c.u64()) : c.u32();
				case FORM.block1:
					return c.bytesN(c.u8());
				case FORM.block2:
					return c.bytesN(c.u16());
				case FORM.block4:
					return c.bytesN(c.u32());
				case FORM.block:
				case FORM.exprloc:
					return c.bytesN(Number(c.uleb()));
				case FORM.data1:
				case FORM.ref1:
				case FORM.flag:
				case FORM.strx1:
				case FORM.addrx1:
					return form === FORM.ref1
						? new DieRef(unitStart + c.u8())
						: form === FORM.flag
							? c.u8() !== 0
							: c.u8();
				case FORM.data2:
				case FORM.ref2:
					return form === FORM.ref2 ? new DieRef(unitStart + c.u16()) : c.u16();
				case FORM.data4:
				case FORM.ref4:
					return form === FORM.ref4 ? new DieRef(unitStart + c.u32()) : c.u32();
				case FORM.data8:
				case FORM.ref8:
				case FORM.ref_sig8:
					return form === FORM.ref8 ? new DieRef(unitStart + Number(c.u64())) : small(c.u64());
				case FORM.data16:
					return c.bytesN(16);
				case FORM.sdata:
					return small(c.sleb());
				case FORM.udata:
					return small(c.uleb());
				case FORM.ref_udata:
					return new DieRef(unitStart + Number(c.uleb()));
				case FORM.string:
					return c.cstr();
				case FORM.strp:
					return cstrAt(str, offsetSize === 8 ? Number(c.u64()) : c.u32(), '.debug_str');
				case FORM.line_strp:
					return cstrAt(lineStr, offsetSize === 8 ? Number(c.u64()) : c.u32(), '.debug_line_str');
				case FORM.ref_addr:
					return new DieRef(
						version <= 2
							? addressSize === 8
								? Number(c.u64())
								: c.u32()
							: offsetSize === 8
								? Number(c.u64())
								: c.u32(),
					);
				case FORM.sec_offset:
				case FORM.strp_sup:
					return offsetSize === 8 ? small(c.u64()) : c.u32();
				case FORM.flag_present:
					return true;
				case FORM.implicit_const:
					return small(implicit ?? 0n);
				case FORM.indirect:
					return readForm(Number(c.uleb()), implicit);
				case FORM.strx:
				case FORM.addrx:
				case FORM.loclistx:
				case FORM.rnglistx:
					// Indexes into .debug_str_offsets/.debug_addr; only split DWARF needs them resolved.
					return small(c.uleb());
				case FORM.strx2:
				case FORM.addrx2:
					return c.u16();
				case FORM.strx3:
				case FORM.addrx3:
					return c.u24();
				case FORM.strx4:
				case FORM.addrx4:
				case FORM.ref_sup4:
					return c.u32();
				case FORM.ref_sup8:
					return small(c.u64());
				default:
					throw new AbiGenError(
						'E_DWARF',
						`unknown DWARF form 0x${form.toString(16)} at 0x${c.pos.toString(16)}`,
					);
			}
		};
		const stack: Die[] = [];
		let root: Die | undefined;
		while (c.pos < unitEnd) {
			const offset = c.pos;
			const code = Number(c.uleb());
			if (code === 0) {
				stack.pop();
				continue;
			}
			const ab = abbrevs.get(code);
			if (!ab) throw new AbiGenError('E_DWARF', `unknown abbreviation ${code} at 0x${offset.toString(16)}`);
			const attrs = new Map<number, AttrValue>();
			let constForm: number | undefined;
			for (const a of ab.attrs) {
				attrs.set(a.at, readForm(a.form, a.implicit));
				if (a.at === AT.const_value) constForm = a.form;
			}
			const parent = stack[stack.length - 1];
			const die: Die = {
				offset,
				tag: ab.tag,
				attrs,
				children: [],
				parent,
				...(constForm === undefined ? {} : { constForm }),
			};
			byOffset.set(offset, die);
			if (parent) parent.children.push(die);
			else root ??= die;
			if (ab.hasChildren) stack.push(die);
		}
		c.pos = unitEnd;
		if (root) units.push(root);
	}
	return { units, byOffset };
}
