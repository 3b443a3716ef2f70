/**
 * A tiny ELF64 little-endian section reader and writer — enough for the GSP firmware files
 * (`gsp-*.bin`: ELF64, RISC-V, relocatable, sections `.fwimage`, `.fwversion`, `.fwsignature_*`). It is the
 * simulator's own, independent of the driver's parser.
 *
 * @module
 */

import { SimFirmwareFormatError } from '../falcon/errors.ts';
import { ByteWriter, rdU16, rdU32, rdU64 } from '../vbios/bytes.ts';

/** `e_machine` of RISC-V. */
export const EM_RISCV = 243;

/** One section header. */
export interface ElfSection {
	readonly name: string;
	readonly type: number;
	readonly flags: bigint;
	readonly offset: number;
	readonly size: number;
	readonly align: number;
}

/** What {@link readElfSections} found. */
export interface ElfInfo {
	readonly machine: number;
	readonly type: number;
	readonly sections: readonly ElfSection[];
}

const SHT_NOBITS = 8;

/**
 * Read the section headers of an ELF64 LE file.
 * @throws SimFirmwareFormatError for a non-ELF64-LE file or headers/sections outside the file.
 */
export function readElfSections(file: Uint8Array): ElfInfo {
	if (file.length < 64 || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
		throw new SimFirmwareFormatError('not an ELF file (bad e_ident magic)', { field: 'e_ident', offset: 0 });
	}
	if (file[4] !== 2 || file[5] !== 1) {
		throw new SimFirmwareFormatError('only ELF64 little-endian files are supported', {
			field: 'e_ident',
			offset: 4,
			class: file[4],
			data: file[5],
		});
	}
	const type = rdU16(file, 0x10, 'e_type');
	const machine = rdU16(file, 0x12, 'e_machine');
	const shoff = Number(rdU64(file, 0x28, 'e_shoff'));
	const shentsize = rdU16(file, 0x3a, 'e_shentsize');
	const shnum = rdU16(file, 0x3c, 'e_shnum');
	const shstrndx = rdU16(file, 0x3e, 'e_shstrndx');
	if (shentsize !== 64) {
		throw new SimFirmwareFormatError(`e_shentsize ${shentsize} is not 64`, {
			field: 'e_shentsize',
			offset: 0x3a,
		});
	}
	if (!Number.isSafeInteger(shoff) || shoff + shnum * 64 > file.length) {
		throw new SimFirmwareFormatError('section header table runs past the end of the file', {
			field: 'e_shoff',
			offset: 0x28,
			shoff,
			shnum,
		});
	}
	if (shstrndx >= shnum) {
		throw new SimFirmwareFormatError(`e_shstrndx ${shstrndx} >= e_shnum ${shnum}`, {
			field: 'e_shstrndx',
			offset: 0x3e,
		});
	}
	const raw = Array.from({ length: shnum }, (_, i) => {
		const at = shoff + 64 * i;
		const sh = {
			nameOff: rdU32(file, at, 'sh_name'),
			type: rdU32(file, at + 4, 'sh_type'),
			flags: rdU64(file, at + 8, 'sh_flags'),
			offset: Number(rdU64(file, at + 0x18, 'sh_offset')),
			size: Number(rdU64(file, at + 0x20, 'sh_size')),
			align: Number(rdU64(file, at + 0x30, 'sh_addralign')),
		};
		if (
			sh.type !== SHT_NOBITS &&
			sh.type !== 0 &&
			(!Number.isSafeInteger(sh.offset + sh.size) || sh.offset + sh.size > file.length)
		) {
			throw new SimFirmwareFormatError(
				`section ${i} [${sh.offset}, +${sh.size}) runs past the end of the file`,
				{
					field: 'sh_offset',
					offset: at + 0x18,
					section: i,
				},
			);
		}
		return sh;
	});
	const strtab = raw[shstrndx]!;
	const name = (off: number): string => {
		let end = strtab.offset + off;
		const limit = strtab.offset + strtab.size;
		if (off >= strtab.size) {
			throw new SimFirmwareFormatError(`section name offset ${off} outside .shstrtab`, {
				field: 'sh_name',
				offset: off,
			});
		}
		while (end < limit && file[end] !== 0) end++;
		return new TextDecoder().decode(file.subarray(strtab.offset + off, end));
	};
	return {
		machine,
		type,
		sections: raw.map((s) => ({
			name: name(s.nameOff),
			type: s.type,
			flags: s.flags,
			offset: s.offset,
			size: s.size,
			align: s.align,
		})),
	};
}

/** The bytes of section `name`, or `undefined` if the file has none (no copy). */
export function elfSection(
	file: Uint8Array,
	name: string,
	info: ElfInfo = readElfSections(file),
): Uint8Array | undefined {
	const s = info.sections.find((x) => x.name === name);
	return s === undefined ? undefined : file.subarray(s.offset, s.offset + s.size);
}

/** A section to write with {@link writeElf}. */
export interface ElfSectionInput {
	readonly name: string;
	/** `SHT_PROGBITS` (1) by default. */
	readonly type?: number;
	/** `SHF_WRITE|SHF_ALLOC` for `.fwimage` in the real files; 0 by default. */
	readonly flags?: bigint;
	readonly align?: number;
	readonly entrySize?: number;
	readonly link?: number;
	readonly info?: number;
	readonly data: Uint8Array;
}

/**
 * Write an ELF64 LE file with the given sections (after the mandatory null section), a `.shstrtab`, and
 * the section header table at the end. No program headers, like the GSP firmware files.
 */
export function writeElf(machine: number, type: number, sections: readonly ElfSectionInput[]): Uint8Array {
	const names = new ByteWriter(256);
	names.u8(0);
	const nameOffsets = sections.map((s) => {
		const at = names.length;
		names.ascii(s.name).u8(0);
		return at;
	});
	const shstrName = names.length;
	names.ascii('.shstrtab').u8(0);
	const strtab = names.finish();

	const total = sections.reduce(
		(a, s) => a + s.data.length + 8,
		64 + strtab.length + 64 * (sections.length + 2) + 8,
	);
	const w = new ByteWriter(total);
	w.fill(64);
	const placed = sections.map((s) => {
		w.align(Math.max(1, s.align ?? 1));
		const at = w.length;
		w.bytes(s.data);
		return at;
	});
	const strAt = w.length;
	w.bytes(strtab);
	w.align(8);
	const shoff = w.length;
	const shnum = sections.length + 2;
	w.fill(64); // null section
	sections.forEach((s, i) => {
		w.u32(nameOffsets[i]!)
			.u32(s.type ?? 1)
			.u64(s.flags ?? 0n)
			.u64(0n)
			.u64(BigInt(placed[i]!))
			.u64(BigInt(s.data.length))
			.u32(s.link ?? 0)
			.u32(s.info ?? 0)
			.u64(BigInt(s.align ?? 1))
			.u64(BigInt(s.entrySize ?? 0));
	});
	w.u32(shstrName)
		.u32(3)
		.u64(0n)
		.u64(0n)
		.u64(BigInt(strAt))
		.u64(BigInt(strtab.length))
		.u32(0)
		.u32(0)
		.u64(1n)
		.u64(0n);

	// ELF header.
	w.setBytes(0, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
	w.setU16(0x10, type);
	w.setU16(0x12, machine);
	w.setU32(0x14, 1); // e_version
	// e_entry, e_phoff = 0
	w.setU32(0x28, shoff >>> 0);
	w.setU32(0x2c, Math.floor(shoff / 2 ** 32));
	w.setU32(0x30, 0); // e_flags
	w.setU16(0x34, 64); // e_ehsize
	w.setU16(0x36, 0); // e_phentsize
	w.setU16(0x38, 0); // e_phnum
	w.setU16(0x3a, 64);
	w.setU16(0x3c, shnum);
	w.setU16(0x3e, shnum - 1);
	return w.finish();
}
