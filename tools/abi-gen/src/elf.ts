/**
 * A minimal ELF64 little-endian reader: section headers by name, plus applying the `RELA` relocations of
 * a relocatable object (`gcc -c` output) to a debug section, so `DW_FORM_strp` and friends hold real
 * offsets. Only what the DWARF reader needs.
 *
 * @module
 */

import { AbiGenError } from './errors.ts';

const SHT_SYMTAB = 2;
const SHT_RELA = 4;

/** ELF machine numbers whose absolute data relocations are understood. */
const ABS_RELOCS: Readonly<Record<number, Readonly<Record<number, 4 | 8>>>> = {
	// EM_X86_64: R_X86_64_64, R_X86_64_32, R_X86_64_32S
	62: { 1: 8, 10: 4, 11: 4 },
	// EM_AARCH64: R_AARCH64_ABS64, R_AARCH64_ABS32
	183: { 257: 8, 258: 4 },
	// EM_RISCV: R_RISCV_32, R_RISCV_64
	243: { 1: 4, 2: 8 },
};

/** One section header. */
export interface ElfSection {
	readonly index: number;
	readonly name: string;
	readonly type: number;
	readonly offset: number;
	readonly size: number;
	readonly link: number;
	readonly info: number;
}

/** A parsed ELF64 little-endian file. */
export class ElfFile {
	readonly bytes: Uint8Array;
	readonly machine: number;
	readonly type: number;
	readonly sections: readonly ElfSection[];
	private readonly view: DataView;

	constructor(bytes: Uint8Array) {
		this.bytes = bytes;
		this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		if (
			bytes.length < 64 ||
			bytes[0] !== 0x7f ||
			bytes[1] !== 0x45 ||
			bytes[2] !== 0x4c ||
			bytes[3] !== 0x46
		) {
			throw new AbiGenError('E_DWARF', 'not an ELF file');
		}
		if (bytes[4] !== 2 || bytes[5] !== 1) {
			throw new AbiGenError(
				'E_DWARF',
				'gcc produced a 32-bit or big-endian object; abi-gen needs an LP64 little-endian gcc (x86-64, aarch64, riscv64)',
			);
		}
		this.type = this.view.getUint16(16, true);
		this.machine = this.view.getUint16(18, true);
		const shoff = Number(this.view.getBigUint64(40, true));
		const shentsize = this.view.getUint16(58, true);
		const shnum = this.view.getUint16(60, true);
		const shstrndx = this.view.getUint16(62, true);
		const raw: Omit<ElfSection, 'name'>[] = [];
		const nameOffsets: number[] = [];
		for (let i = 0; i < shnum; i++) {
			const o = shoff + i * shentsize;
			nameOffsets.push(this.view.getUint32(o, true));
			raw.push({
				index: i,
				type: this.view.getUint32(o + 4, true),
				offset: Number(this.view.getBigUint64(o + 24, true)),
				size: Number(this.view.getBigUint64(o + 32, true)),
				link: this.view.getUint32(o + 40, true),
				info: this.view.getUint32(o + 44, true),
			});
		}
		const strtab = raw[shstrndx];
		this.sections = raw.map((s, i) => ({
			...s,
			name: strtab ? this.cString(strtab.offset + nameOffsets[i]!) : '',
		}));
	}

	/** A NUL-terminated string at an absolute file offset. */
	cString(offset: number): string {
		let end = offset;
		while (end < this.bytes.length && this.bytes[end] !== 0) end++;
		return Buffer.from(this.bytes.subarray(offset, end)).toString('utf8');
	}

	/** The section called `name`, or `undefined`. */
	section(name: string): ElfSection | undefined {
		return this.sections.find((s) => s.name === name);
	}

	/**
	 * The contents of section `name` with its `RELA` relocations applied (a copy). Relocatable objects
	 * store `S + A` only in the relocation entry, so without this every string offset would read 0.
	 */
	relocatedSection(name: string): Uint8Array {
		const sec = this.section(name);
		if (!sec)
			throw new AbiGenError('E_DWARF', `the object has no ${name} section (was it compiled with -g?)`);
		const out = this.bytes.slice(sec.offset, sec.offset + sec.size);
		const rela = this.sections.filter((s) => s.type === SHT_RELA && s.info === sec.index);
		if (rela.length === 0) return out;
		const kinds = ABS_RELOCS[this.machine];
		if (!kinds)
			throw new AbiGenError('E_DWARF', `relocations for ELF machine ${this.machine} are not supported`);
		const outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
		for (const r of rela) {
			const symtab = this.sections[r.link];
			if (!symtab || symtab.type !== SHT_SYMTAB)
				throw new AbiGenError('E_DWARF', `${r.name} has no symbol table`);
			for (let o = r.offset; o < r.offset + r.size; o += 24) {
				const where = Number(this.view.getBigUint64(o, true));
				const info = this.view.getBigUint64(o + 8, true);
				const addend = this.view.getBigInt64(o + 16, true);
				const sym = Number(info >> 32n);
				const kind = Number(info & 0xffffffffn);
				const width = kinds[kind];
				if (width === undefined) {
					throw new AbiGenError('E_DWARF', `unsupported relocation type ${kind} in ${r.name}`);
				}
				const symValue = this.view.getBigUint64(symtab.offset + sym * 24 + 8, true);
				const value = BigInt.asUintN(64, symValue + addend);
				if (width === 8) outView.setBigUint64(where, value, true);
				else outView.setUint32(where, Number(value & 0xffffffffn), true);
			}
		}
		return out;
	}

	/** Section contents, or an empty array when the section is absent. */
	sectionBytes(name: string): Uint8Array {
		const sec = this.section(name);
		return sec ? this.bytes.subarray(sec.offset, sec.offset + sec.size) : new Uint8Array(0);
	}
}
