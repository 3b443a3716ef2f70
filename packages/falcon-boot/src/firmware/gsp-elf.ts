/**
 * The GSP-RM firmware container `gsp-<ver>.bin`: an ELF64 little-endian RISC-V relocatable file whose
 * sections carry the image and its metadata (reference A.6; nova `firmware/gsp.rs`):
 * - `.fwimage`: the image booter loads (through the radix3 tables). In TU10x builds it is itself an ELF64
 *   RISC-V executable, in GA10x builds a raw image;
 * - `.fwversion`: the firmware version as a NUL-terminated ASCII string (`"570.144\0"`, `"535.113.01\0"`);
 * - `.fwsignature_<family>`: one 4 KiB signature block per chip family (`cc_` prefix: confidential compute);
 * - `.note.gnu.build-id` (570 builds), `.symtab`, `.strtab`, `.shstrtab`.
 *
 * Parsing reads only the headers: the image and signatures are zero-copy views into the file's bytes.
 *
 * @module
 */

import {
	type ElfFile,
	type ElfHeader,
	type ElfSection,
	type ElfSymbol,
	EM_RISCV,
	ET_REL,
	elfSectionData,
	findElfSection,
	parseElf,
	parseElfNotes,
	parseElfSymbols,
	SHT,
} from './elf.ts';
import { FirmwareFormatError } from './errors.ts';
import { ByteReader, fmt, isElf } from './reader.ts';

/** Section-name prefix of the per-family signature sections. */
export const GSP_SIGNATURE_PREFIX = '.fwsignature_';

/** The `.fwimage` section. */
export interface GspImage {
	/** File offset of the image. */
	readonly offset: number;
	/** Image size in bytes (`sizeOfRadix3Elf` in `GspFwWprMeta`). */
	readonly size: number;
	/** The image, a zero-copy view of the file. */
	readonly data: Uint8Array;
	/** `'elf'` when the image itself starts with an ELF header (TU10x builds), else `'raw'`. */
	readonly format: 'elf' | 'raw';
	/** The inner ELF's header and section count, when `format` is `'elf'` and it parses. */
	readonly inner: { readonly header: ElfHeader; readonly sectionCount: number } | null;
}

/** The `.fwversion` section. */
export interface GspFwVersion {
	/** File offset. */
	readonly offset: number;
	/** Section size (8 for "570.144\0", 11 for "535.113.01\0"). */
	readonly size: number;
	/** The version string without its NUL terminator. */
	readonly text: string;
	/** The raw bytes (zero-copy view). */
	readonly raw: Uint8Array;
}

/** One `.fwsignature_<family>` section. */
export interface GspSignature {
	/** Full section name, e.g. `'.fwsignature_cc_gh100'`. */
	readonly section: string;
	/** Name suffix, e.g. `'ga10x'` or `'cc_gh100'`. */
	readonly family: string;
	/** The chip family without the `cc_` prefix, e.g. `'gh100'`. */
	readonly chipFamily: string;
	/** Whether this is a confidential-compute (`cc_`) signature. */
	readonly confidentialCompute: boolean;
	/** File offset. */
	readonly offset: number;
	/** Size in bytes (4096 in every published file). */
	readonly size: number;
	/** Bytes up to the last non-zero byte (the rest of the 4 KiB block is zero padding). */
	readonly usedBytes: number;
	/** The signature block (zero-copy view). */
	readonly data: Uint8Array;
}

/** Symbol tables of the container. */
export interface GspSymbols {
	/** Whether a `.symtab` section exists. */
	readonly symtab: boolean;
	/** Whether a `.strtab` section exists. */
	readonly strtab: boolean;
	/** Number of `.symtab` entries. */
	readonly count: number;
	/** The entries (at most 4096). */
	readonly symbols: readonly ElfSymbol[];
}

/** A parsed GSP firmware container. */
export interface GspElf {
	/** The ELF structure (header, every section). */
	readonly elf: ElfFile;
	/** `.fwimage`. */
	readonly image: GspImage;
	/** `.fwversion`, or `null` if the file has none. */
	readonly fwVersion: GspFwVersion | null;
	/** Every `.fwsignature_*` section, in file order. */
	readonly signatures: readonly GspSignature[];
	/** Symbol tables. */
	readonly symbols: GspSymbols;
	/** Value of the `_binary_*_size` symbol (the image size the build recorded), if present. */
	readonly imageSizeSymbol: bigint | null;
	/** GNU build ID as hex, from `.note.gnu.build-id`, if present. */
	readonly buildId: string | null;
}

/**
 * Parse a GSP firmware container. Requires ELF64 little-endian, `e_machine` RISC-V (0xF3), `e_type` REL,
 * a non-empty `.fwimage` and at least one `.fwsignature_*` section; `.fwversion`, when present, must be
 * printable ASCII terminated by NUL.
 * @throws FirmwareFormatError
 */
export function parseGspElf(data: Uint8Array, file = '<memory>'): GspElf {
	const elf = parseElf(data, file);
	const r: ByteReader = new ByteReader(data, file);
	const h = elf.header;
	if (h.class !== 64) r.fail('e_ident[EI_CLASS]', 4, '2 (ELF64)', String(h.class === 32 ? 1 : h.class));
	if (h.machine !== EM_RISCV) r.fail('e_machine', 0x12, `${fmt(EM_RISCV)} (RISC-V)`, fmt(h.machine));
	if (h.type !== ET_REL) r.fail('e_type', 0x10, `${ET_REL} (REL)`, String(h.type));

	const img = findElfSection(elf, '.fwimage');
	if (img === undefined || img.size === 0 || img.type === SHT.NOBITS) {
		r.fail(
			'.fwimage',
			h.shoff,
			'a non-empty .fwimage section',
			img === undefined ? 'none' : `size ${fmt(img.size)}`,
		);
	}
	const imageData = elfSectionData(elf, img);
	const format = isElf(imageData) ? 'elf' : 'raw';
	const image: GspImage = {
		offset: img.offset,
		size: img.size,
		data: imageData,
		format,
		inner: format === 'elf' ? innerElf(imageData, file) : null,
	};

	const ver = findElfSection(elf, '.fwversion');
	const fwVersion = ver === undefined ? null : readFwVersion(r, elf, ver);

	const signatures: GspSignature[] = [];
	for (const s of elf.sections) {
		if (!s.name.startsWith(GSP_SIGNATURE_PREFIX)) continue;
		const family = s.name.slice(GSP_SIGNATURE_PREFIX.length);
		const sig = elfSectionData(elf, s);
		let used = sig.length;
		while (used > 0 && sig[used - 1] === 0) used--;
		signatures.push({
			section: s.name,
			family,
			chipFamily: family.startsWith('cc_') ? family.slice(3) : family,
			confidentialCompute: family.startsWith('cc_'),
			offset: s.offset,
			size: s.size,
			usedBytes: used,
			data: sig,
		});
	}
	if (signatures.length === 0)
		r.fail('.fwsignature_*', h.shoff, 'at least one .fwsignature_<family> section', 'none');

	const symtab = elf.sections.find((s) => s.type === SHT.SYMTAB);
	const table = symtab === undefined ? undefined : parseElfSymbols(elf, symtab);
	const sizeSym = table?.symbols.find((s) => s.name.startsWith('_binary_') && s.name.endsWith('_size'));

	const note = findElfSection(elf, '.note.gnu.build-id');
	let buildId: string | null = null;
	if (note !== undefined && note.type === SHT.NOTE) {
		const gnu = parseElfNotes(elf, note).find((n) => n.name === 'GNU' && n.type === 3);
		if (gnu !== undefined) buildId = Array.from(gnu.desc, (b) => b.toString(16).padStart(2, '0')).join('');
	}

	return {
		elf,
		image,
		fwVersion,
		signatures,
		symbols: {
			symtab: symtab !== undefined,
			strtab: findElfSection(elf, '.strtab') !== undefined,
			count: table?.count ?? 0,
			symbols: table?.symbols ?? [],
		},
		imageSizeSymbol: sizeSym?.value ?? null,
		buildId,
	};
}

function readFwVersion(r: ByteReader, elf: ElfFile, s: ElfSection): GspFwVersion {
	const raw = elfSectionData(elf, s);
	const nul = raw.indexOf(0);
	const field = `section[${s.index}] .fwversion`;
	if (nul <= 0)
		r.fail(
			field,
			s.offset,
			'a non-empty NUL-terminated version string',
			nul === 0 ? 'empty string' : 'no NUL',
		);
	let text = '';
	for (let i = 0; i < nul; i++) {
		const c = raw[i] as number;
		if (c < 0x20 || c > 0x7e) r.fail(field, s.offset + i, 'printable ASCII', fmt(c));
		text += String.fromCharCode(c);
	}
	for (let i = nul; i < raw.length; i++) {
		if (raw[i] !== 0)
			r.fail(field, s.offset + i, 'NUL padding after the version string', fmt(raw[i] as number));
	}
	return { offset: s.offset, size: s.size, text, raw };
}

function innerElf(image: Uint8Array, file: string): GspImage['inner'] {
	try {
		const inner = parseElf(image, `${file}:.fwimage`);
		return { header: inner.header, sectionCount: inner.sections.length };
	} catch (e) {
		// The inner image is opaque to the driver (booter checks it); an unparsable one is reported as absent.
		if (e instanceof FirmwareFormatError) return null;
		throw e;
	}
}
