/**
 * A small, strict ELF reader for firmware containers: little-endian ELF32 and ELF64, section headers,
 * section names, symbol tables and notes. It never copies section contents (they are `subarray` views) and
 * checks every header and section range against the file size, so a 63 MB image costs only the reads of
 * its headers.
 *
 * Written for the GSP (`gsp-*.bin`, ELF64 RISC-V relocatable) and FMC (`fmc-*.bin`, ELF32) containers; not a
 * general-purpose ELF library (no program-header walking, relocations or big-endian files).
 *
 * @module
 */

import { ByteReader, fmt } from './reader.ts';

/** `e_ident[EI_CLASS]`: 32- or 64-bit. */
export type ElfClass = 32 | 64;

/** Section types (`sh_type`) used by the firmware files, by their ELF names. */
export const SHT = Object.freeze({
	NULL: 0,
	PROGBITS: 1,
	SYMTAB: 2,
	STRTAB: 3,
	RELA: 4,
	NOTE: 7,
	NOBITS: 8,
	REL: 9,
	DYNSYM: 11,
});

/** `e_machine` of RISC-V. */
export const EM_RISCV = 0xf3;
/** `e_type` of a relocatable object. */
export const ET_REL = 1;
/** `e_type` of an executable. */
export const ET_EXEC = 2;

/** The ELF file header. */
export interface ElfHeader {
	/** 32 or 64 (`e_ident[EI_CLASS]`). */
	readonly class: ElfClass;
	/** `e_ident[EI_OSABI]`. */
	readonly osAbi: number;
	/** `e_type` (0 none, 1 REL, 2 EXEC, 3 DYN). */
	readonly type: number;
	/** `e_machine` (0xF3 RISC-V). */
	readonly machine: number;
	/** `e_version`. */
	readonly version: number;
	/** `e_entry`. */
	readonly entry: bigint;
	/** `e_phoff`. */
	readonly phoff: number;
	/** `e_shoff`. */
	readonly shoff: number;
	/** `e_flags`. */
	readonly flags: number;
	/** `e_ehsize`. */
	readonly ehsize: number;
	/** `e_phentsize`. */
	readonly phentsize: number;
	/** `e_phnum`. */
	readonly phnum: number;
	/** `e_shentsize`. */
	readonly shentsize: number;
	/** Number of section headers (`e_shnum`, or section 0's `sh_size` under extended numbering). */
	readonly shnum: number;
	/** Index of the section-name string table (resolved through section 0 under extended numbering). */
	readonly shstrndx: number;
}

/** One section header. `offset`/`size` are checked to lie inside the file (except for NOBITS). */
export interface ElfSection {
	/** Index in the section header table. */
	readonly index: number;
	/** Name from the section-name string table (`''` when the file has none). */
	readonly name: string;
	/** `sh_name`: offset of the name in the string table. */
	readonly nameOffset: number;
	/** `sh_type`. */
	readonly type: number;
	/** `sh_flags`. */
	readonly flags: bigint;
	/** `sh_addr`. */
	readonly addr: bigint;
	/** `sh_offset`: file offset of the contents. */
	readonly offset: number;
	/** `sh_size`: size of the contents. */
	readonly size: number;
	/** `sh_link`. */
	readonly link: number;
	/** `sh_info`. */
	readonly info: number;
	/** `sh_addralign`. */
	readonly addralign: bigint;
	/** `sh_entsize`. */
	readonly entsize: bigint;
	/** File offset of this section header (for error messages). */
	readonly headerOffset: number;
}

/** A parsed ELF file: header, sections and the bytes they index into. */
export interface ElfFile {
	/** The file header (extended numbering resolved). */
	readonly header: ElfHeader;
	/** Every section header, with names. */
	readonly sections: readonly ElfSection[];
	/** The file's bytes (not copied). */
	readonly bytes: Uint8Array;
	/** File name used in errors. */
	readonly file: string;
}

/** Section-header table entry sizes by class. */
const SHENTSIZE: Record<ElfClass, number> = { 32: 40, 64: 64 };
const EHSIZE: Record<ElfClass, number> = { 32: 52, 64: 64 };
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;

/**
 * Parse the ELF header and section header table of `data`.
 * @throws FirmwareFormatError for a bad magic, class or byte order, a header or section outside the file,
 * or a bad section name.
 */
export function parseElf(data: Uint8Array, file = '<memory>'): ElfFile {
	const r: ByteReader = new ByteReader(data, file);
	r.need(0, 16, 'e_ident');
	if (!(data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46)) {
		r.fail('e_ident[EI_MAG]', 0, '7f 45 4c 46 ("\\x7fELF")', hexBytes(data.subarray(0, 4)));
	}
	const cls = data[4];
	if (cls !== 1 && cls !== 2) r.fail('e_ident[EI_CLASS]', 4, '1 (ELF32) or 2 (ELF64)', fmt(cls ?? 0));
	const elfClass: ElfClass = cls === 1 ? 32 : 64;
	if (data[5] !== 1) r.fail('e_ident[EI_DATA]', 5, '1 (little-endian)', fmt(data[5] ?? 0));
	r.need(0, EHSIZE[elfClass], `ELF${elfClass} header`);

	const is64 = elfClass === 64;
	const word = (off32: number, off64: number, name: string): number =>
		is64 ? r.u64n(off64, name) : r.u32(off32, name);
	const header0 = {
		class: elfClass,
		osAbi: data[7] as number,
		type: r.u16(0x10, 'e_type'),
		machine: r.u16(0x12, 'e_machine'),
		version: r.u32(0x14, 'e_version'),
		entry: is64 ? r.u64(0x18, 'e_entry') : BigInt(r.u32(0x18, 'e_entry')),
		phoff: word(0x1c, 0x20, 'e_phoff'),
		shoff: word(0x20, 0x28, 'e_shoff'),
		flags: r.u32(is64 ? 0x30 : 0x24, 'e_flags'),
		ehsize: r.u16(is64 ? 0x34 : 0x28, 'e_ehsize'),
		phentsize: r.u16(is64 ? 0x36 : 0x2a, 'e_phentsize'),
		phnum: r.u16(is64 ? 0x38 : 0x2c, 'e_phnum'),
		shentsize: r.u16(is64 ? 0x3a : 0x2e, 'e_shentsize'),
		shnum: r.u16(is64 ? 0x3c : 0x30, 'e_shnum'),
		shstrndx: r.u16(is64 ? 0x3e : 0x32, 'e_shstrndx'),
	};
	const shnumAt = is64 ? 0x3c : 0x30;
	if (header0.phnum > 0)
		r.need(header0.phoff, header0.phnum * header0.phentsize, 'program header table', is64 ? 0x20 : 0x1c);

	let shnum = header0.shnum;
	let shstrndx = header0.shstrndx;
	const sections: ElfSection[] = [];
	if (header0.shoff !== 0) {
		const entsize = SHENTSIZE[elfClass];
		if (header0.shentsize !== entsize) {
			r.fail('e_shentsize', is64 ? 0x3a : 0x2e, fmt(entsize), fmt(header0.shentsize));
		}
		// Extended numbering: the real counts live in section 0.
		if (shnum === 0 || shstrndx === SHN_XINDEX) {
			// Report an out-of-range e_shoff at e_shoff itself, not at the (outside) place it points to.
			r.need(header0.shoff, entsize, 'section[0] (extended e_shnum/e_shstrndx)', is64 ? 0x28 : 0x20);
			const s0 = readSectionHeader(r, is64, header0.shoff, 0);
			if (shnum === 0) {
				if (s0.size > Number.MAX_SAFE_INTEGER / entsize)
					r.fail('section[0].sh_size (e_shnum)', header0.shoff, 'a section count', fmt(s0.size));
				shnum = s0.size;
			}
			if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
		}
		// The whole table must fit in the file, which bounds the loop below by the data size.
		r.need(header0.shoff, shnum * entsize, 'section header table (e_shoff + e_shnum × e_shentsize)', shnumAt);
		for (let i = 0; i < shnum; i++) sections.push(readSectionHeader(r, is64, header0.shoff + i * entsize, i));
	} else if (shnum !== 0) {
		r.fail('e_shoff', is64 ? 0x28 : 0x20, `non-zero when e_shnum (${shnum}) is non-zero`, '0');
	}

	// Section contents must lie inside the file.
	for (const s of sections) {
		if (s.type === SHT.NULL || s.type === SHT.NOBITS) continue;
		r.need(s.offset, s.size, `section[${s.index}].sh_offset+sh_size`, s.headerOffset + (is64 ? 0x18 : 0x10));
	}

	// Names.
	let named: ElfSection[] = sections;
	if (shstrndx !== SHN_UNDEF && sections.length > 0) {
		const strtab = sections[shstrndx];
		if (strtab === undefined) {
			r.fail('e_shstrndx', is64 ? 0x3e : 0x32, `a section index below ${sections.length}`, String(shstrndx));
		}
		if (strtab.type !== SHT.STRTAB) {
			r.fail(
				`section[${shstrndx}].sh_type (e_shstrndx)`,
				strtab.headerOffset + 4,
				`${SHT.STRTAB} (STRTAB)`,
				String(strtab.type),
			);
		}
		const end = strtab.offset + strtab.size;
		named = sections.map((s) =>
			s.index === 0 && s.nameOffset === 0
				? s
				: {
						...s,
						name: r.cstring(strtab.offset + s.nameOffset, end, `section[${s.index}].sh_name`, s.headerOffset),
					},
		);
	}
	return { header: { ...header0, shnum, shstrndx }, sections: named, bytes: data, file };
}

function readSectionHeader(r: ByteReader, is64: boolean, at: number, index: number): ElfSection {
	const f = (name: string) => `section[${index}].${name}`;
	if (is64) {
		return {
			index,
			name: '',
			nameOffset: r.u32(at, f('sh_name')),
			type: r.u32(at + 4, f('sh_type')),
			flags: r.u64(at + 8, f('sh_flags')),
			addr: r.u64(at + 0x10, f('sh_addr')),
			offset: r.u64n(at + 0x18, f('sh_offset')),
			size: r.u64n(at + 0x20, f('sh_size')),
			link: r.u32(at + 0x28, f('sh_link')),
			info: r.u32(at + 0x2c, f('sh_info')),
			addralign: r.u64(at + 0x30, f('sh_addralign')),
			entsize: r.u64(at + 0x38, f('sh_entsize')),
			headerOffset: at,
		};
	}
	return {
		index,
		name: '',
		nameOffset: r.u32(at, f('sh_name')),
		type: r.u32(at + 4, f('sh_type')),
		flags: BigInt(r.u32(at + 8, f('sh_flags'))),
		addr: BigInt(r.u32(at + 0xc, f('sh_addr'))),
		offset: r.u32(at + 0x10, f('sh_offset')),
		size: r.u32(at + 0x14, f('sh_size')),
		link: r.u32(at + 0x18, f('sh_link')),
		info: r.u32(at + 0x1c, f('sh_info')),
		addralign: BigInt(r.u32(at + 0x20, f('sh_addralign'))),
		entsize: BigInt(r.u32(at + 0x24, f('sh_entsize'))),
		headerOffset: at,
	};
}

/** The contents of `section` as a zero-copy view (empty for NOBITS/NULL sections). */
export function elfSectionData(elf: ElfFile, section: ElfSection): Uint8Array {
	if (section.type === SHT.NOBITS || section.type === SHT.NULL) return elf.bytes.subarray(0, 0);
	// parseElf checked the range already.
	return elf.bytes.subarray(section.offset, section.offset + section.size);
}

/** The first section called `name`, or `undefined`. */
export function findElfSection(elf: ElfFile, name: string): ElfSection | undefined {
	return elf.sections.find((s) => s.name === name);
}

/** One symbol table entry. */
export interface ElfSymbol {
	/** Index in the table. */
	readonly index: number;
	/** Name from the linked string table. */
	readonly name: string;
	/** `st_value`. */
	readonly value: bigint;
	/** `st_size`. */
	readonly size: bigint;
	/** `ELF_ST_TYPE(st_info)`: 0 NOTYPE, 1 OBJECT, 2 FUNC, 3 SECTION, 4 FILE. */
	readonly type: number;
	/** `ELF_ST_BIND(st_info)`: 0 LOCAL, 1 GLOBAL, 2 WEAK. */
	readonly bind: number;
	/** `st_shndx` (0xfff1 = ABS). */
	readonly shndx: number;
}

/** Result of {@link parseElfSymbols}. */
export interface ElfSymbolTable {
	/** Number of entries in the table. */
	readonly count: number;
	/** The entries read (at most `limit`). */
	readonly symbols: readonly ElfSymbol[];
	/** Whether entries were left out because of `limit`. */
	readonly truncated: boolean;
}

/**
 * Read a SYMTAB/DYNSYM section: entry size must be 16 (ELF32) or 24 (ELF64) and `sh_link` must name a
 * string table. At most `limit` entries are decoded, so the work stays bounded for any input.
 * @throws FirmwareFormatError
 */
export function parseElfSymbols(elf: ElfFile, section: ElfSection, limit = 4096): ElfSymbolTable {
	const r: ByteReader = new ByteReader(elf.bytes, elf.file);
	const is64 = elf.header.class === 64;
	const entsize = is64 ? 24 : 16;
	const where = `section[${section.index}] ${section.name}`;
	if (section.entsize !== BigInt(entsize)) {
		r.fail(
			`${where}.sh_entsize`,
			section.headerOffset + (is64 ? 0x38 : 0x24),
			fmt(entsize),
			fmt(section.entsize),
		);
	}
	const strtab = elf.sections[section.link];
	if (strtab === undefined || strtab.type !== SHT.STRTAB) {
		r.fail(
			`${where}.sh_link`,
			section.headerOffset + (is64 ? 0x28 : 0x18),
			'the index of a STRTAB section',
			String(section.link),
		);
	}
	const count = Math.floor(section.size / entsize);
	const n = Math.min(count, limit);
	const symbols: ElfSymbol[] = [];
	const strEnd = strtab.offset + strtab.size;
	for (let i = 0; i < n; i++) {
		const at = section.offset + i * entsize;
		const f = (x: string) => `${where}[${i}].${x}`;
		const nameOff = r.u32(at, f('st_name'));
		const info = r.u8(at + (is64 ? 4 : 12), f('st_info'));
		const sym: ElfSymbol = {
			index: i,
			name: nameOff === 0 ? '' : r.cstring(strtab.offset + nameOff, strEnd, f('st_name'), at),
			value: is64 ? r.u64(at + 8, f('st_value')) : BigInt(r.u32(at + 4, f('st_value'))),
			size: is64 ? r.u64(at + 16, f('st_size')) : BigInt(r.u32(at + 8, f('st_size'))),
			type: info & 0xf,
			bind: info >> 4,
			shndx: r.u16(at + (is64 ? 6 : 14), f('st_shndx')),
		};
		symbols.push(sym);
	}
	return { count, symbols, truncated: n < count };
}

/** One ELF note. */
export interface ElfNote {
	/** Owner name without the trailing NUL, e.g. `'GNU'`. */
	readonly name: string;
	/** `n_type` (3 = NT_GNU_BUILD_ID). */
	readonly type: number;
	/** Descriptor bytes (zero-copy view). */
	readonly desc: Uint8Array;
}

/**
 * Read the notes of a NOTE section (4-byte aligned name and descriptor). Each note consumes at least 12
 * bytes, so the loop is bounded by the section size.
 * @throws FirmwareFormatError
 */
export function parseElfNotes(elf: ElfFile, section: ElfSection): ElfNote[] {
	const r: ByteReader = new ByteReader(elf.bytes, elf.file);
	const notes: ElfNote[] = [];
	const end = section.offset + section.size;
	let at = section.offset;
	const where = `section[${section.index}] ${section.name}`;
	while (at < end) {
		const namesz = r.u32(at, `${where} note.n_namesz`);
		const descsz = r.u32(at + 4, `${where} note.n_descsz`);
		const type = r.u32(at + 8, `${where} note.n_type`);
		const nameAt = at + 12;
		const descAt = nameAt + align4(namesz);
		const next = descAt + align4(descsz);
		if (next > end)
			r.fail(
				`${where} note`,
				at,
				`a note ending within the section (by ${fmt(end)})`,
				`ends at ${fmt(next)}`,
			);
		const nameBytes = r.bytes(nameAt, namesz, `${where} note name`, at);
		let name = '';
		for (const b of nameBytes) {
			if (b === 0) break;
			name += String.fromCharCode(b);
		}
		notes.push({ name, type, desc: r.bytes(descAt, descsz, `${where} note desc`, at + 4) });
		at = next;
	}
	return notes;
}

function align4(n: number): number {
	return Math.ceil(n / 4) * 4;
}

function hexBytes(b: Uint8Array): string {
	return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
