/**
 * Recognise a firmware file from its path and bytes, and parse it with the right parser.
 *
 * @module
 */

import { type BinHeader, NVFW_BIN_HDR_SIZE, NVFW_BIN_MAGIC, parseBinHeader } from './bin-hdr.ts';
import { FIRMWARE_KINDS, type FirmwareKind, firmwareChip } from './chips.ts';
import { type FmcFirmware, parseFmc } from './fmc.ts';
import { type GenBootloader, parseGenBootloader } from './gen-bootloader.ts';
import { type GspElf, parseGspElf } from './gsp-elf.ts';
import { type HsFirmware, parseHsFirmware } from './hs.ts';
import { ByteReader, isElf } from './reader.ts';
import { parseRiscvFirmware, type RiscvFirmware } from './riscv-desc.ts';

/** What a firmware path says about the file. */
export interface FirmwareName {
	/** Kind from the file name, or `null` if the name is not a firmware name. */
	readonly kind: FirmwareKind | null;
	/** Chip directory (`'ga102'`), or `null` when the path has no `<chip>/gsp/` (or `<chip>/acr/`) part. */
	readonly chip: string | null;
	/** Version from the file name (`'570.144'`), or `null`. */
	readonly version: string | null;
}

const NAME_RE = /^([a-z_]+)-(\d+(?:\.\d+)+)\.bin$/;

/**
 * Read kind, chip and version from a path of the form `…/nvidia/<chip>/gsp/<kind>-<version>.bin`
 * (also `…/<chip>/acr/bl.bin`, the generic bootloader nouveau's r535 path loads). Pure string work; works on
 * `/` and `\` separators.
 */
export function parseFirmwareName(path: string): FirmwareName {
	const parts = path.split(/[\\/]+/).filter((p) => p.length > 0);
	const base = parts[parts.length - 1] ?? '';
	const dir = parts[parts.length - 2];
	const chipDir = parts[parts.length - 3];
	if (base === 'bl.bin' && dir === 'acr') {
		return { kind: 'gen_bootloader', chip: chipDir ?? null, version: null };
	}
	const m = NAME_RE.exec(base);
	const kind =
		m !== null && (FIRMWARE_KINDS as readonly string[]).includes(m[1] as string)
			? (m[1] as FirmwareKind)
			: null;
	return {
		kind,
		chip: dir === 'gsp' && chipDir !== undefined ? chipDir : null,
		version: m?.[2] ?? null,
	};
}

/**
 * The kind of an identified file: a {@link FirmwareKind}, or `'hs'` for an HS ucode whose name does not say
 * whether it is booter_load, booter_unload or scrubber (the three share one format).
 */
export type IdentifiedKind = FirmwareKind | 'hs';

/** A parsed firmware file. `content` is the parser's result for that kind. */
export type ParsedFirmware =
	| { readonly kind: 'booter_load' | 'booter_unload' | 'scrubber' | 'hs'; readonly content: HsFirmware }
	| { readonly kind: 'bootloader'; readonly content: RiscvFirmware }
	| { readonly kind: 'gen_bootloader'; readonly content: GenBootloader }
	| { readonly kind: 'gsp'; readonly content: GspElf }
	| { readonly kind: 'fmc'; readonly content: FmcFirmware };

/** The result of {@link identifyFirmwareFile}. */
export type IdentifiedFirmware = ParsedFirmware & {
	/** The name the file was identified by. */
	readonly name: string;
	/** Chip directory from the path, or `null`. */
	readonly chip: string | null;
	/** Version from the path, or from `.fwversion` for a GSP file whose name has none; else `null`. */
	readonly version: string | null;
	/** File size in bytes. */
	readonly size: number;
	/** Whether the kind came from the file name or, for an unrecognised name, from the contents. */
	readonly kindSource: 'name' | 'content';
	/**
	 * Inconsistencies that do not stop parsing: a `.fwversion` that differs from the version in the name, a
	 * GSP file without the signature section of the chip in its path.
	 */
	readonly warnings: readonly string[];
};

/**
 * Identify and parse a firmware file. The kind comes from the name when it is a firmware name
 * (`booter_load-570.144.bin`, `acr/bl.bin`); otherwise from the contents: an ELF64 is a GSP container, an
 * ELF32 an FMC image, a bin header with a 24-byte descriptor region a generic bootloader, one whose
 * descriptor starts with a small version number (1..15) and spans 56..84 bytes a RISC-V bootloader, and any
 * other bin header an HS ucode (kind `'hs'`).
 * @throws FirmwareFormatError when the contents do not parse as the kind (field `kind` when no kind fits).
 */
export function identifyFirmwareFile(name: string, bytes: Uint8Array): IdentifiedFirmware {
	const parsed = parseFirmwareName(name);
	const kind = parsed.kind ?? sniffKind(name, bytes);
	const content = parseAs(kind, bytes, name);
	const warnings: string[] = [];
	let version = parsed.version;
	if (content.kind === 'gsp') {
		const fv = content.content.fwVersion?.text ?? null;
		if (fv !== null && version !== null && fv !== version) {
			warnings.push(`.fwversion says ${fv} but the file name says ${version}`);
		}
		if (version === null) version = fv;
		const chip = parsed.chip === null ? undefined : firmwareChip(parsed.chip);
		if (chip !== undefined && !content.content.signatures.some((s) => s.family === chip.signatureFamily)) {
			warnings.push(
				`no .fwsignature_${chip.signatureFamily} section for ${chip.chip} (has ${content.content.signatures.map((s) => s.family).join(', ')})`,
			);
		}
	}
	return {
		...content,
		name,
		chip: parsed.chip,
		version,
		size: bytes.length,
		kindSource: parsed.kind === null ? 'content' : 'name',
		warnings,
	} as IdentifiedFirmware;
}

/** Parse `bytes` as a firmware file of `kind`. @throws FirmwareFormatError */
export function parseAs(kind: IdentifiedKind, bytes: Uint8Array, file = '<memory>'): ParsedFirmware {
	switch (kind) {
		case 'booter_load':
		case 'booter_unload':
		case 'scrubber':
		case 'hs':
			return { kind, content: parseHsFirmware(bytes, file) };
		case 'bootloader':
			return { kind, content: parseRiscvFirmware(bytes, file) };
		case 'gen_bootloader':
			return { kind, content: parseGenBootloader(bytes, file) };
		case 'gsp':
			return { kind, content: parseGspElf(bytes, file) };
		case 'fmc':
			return { kind, content: parseFmc(bytes, file) };
	}
}

/** Guess the kind of a file whose name says nothing (rules in {@link identifyFirmwareFile}). */
function sniffKind(name: string, bytes: Uint8Array): IdentifiedKind {
	const r: ByteReader = new ByteReader(bytes, name);
	if (isElf(bytes)) {
		const cls = r.u8(4, 'e_ident[EI_CLASS]');
		if (cls === 2) return 'gsp';
		if (cls === 1) return 'fmc';
		return r.fail('e_ident[EI_CLASS]', 4, '1 (ELF32: fmc) or 2 (ELF64: gsp)', String(cls));
	}
	if (bytes.length >= NVFW_BIN_HDR_SIZE && r.u32(0, 'nvfw_bin_hdr.bin_magic') === NVFW_BIN_MAGIC) {
		const hdr: BinHeader = parseBinHeader(bytes, name);
		const region = hdr.dataOffset - hdr.headerOffset;
		if (region === 24) return 'gen_bootloader';
		const first = r.u32(hdr.headerOffset, 'descriptor');
		if (first >= 1 && first <= 15 && region >= 56 && region <= 84) return 'bootloader';
		if (region >= 36) return 'hs';
	}
	return r.fail(
		'kind',
		0,
		'a firmware name (<kind>-<version>.bin) or recognisable contents (ELF or nvfw_bin_hdr)',
		`${name}: ${bytes.length} bytes starting ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`,
	);
}
