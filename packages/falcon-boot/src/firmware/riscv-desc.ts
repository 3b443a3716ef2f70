/**
 * `RM_RISCV_UCODE_DESC`: the descriptor of the GSP RISC-V bootloader (`bootloader-<ver>.bin`)
 * (reference A.6; nova `firmware/riscv.rs`; the full field list is in nouveau's r535 `nvrm/gsp.h`).
 *
 * The descriptor grew over versions: nova reads the first 14 u32; version 4 files (TU10x/GA100) hold 19,
 * version 5 files (GA10x and later) 21. How many are present follows from the space between
 * `header_offset` and `data_offset`. Every offset in it is relative to the payload.
 *
 * @module
 */

import { type BinHeader, readBinHeader } from './bin-hdr.ts';
import { ByteReader, fmt } from './reader.ts';

/** The 14 u32 every `RM_RISCV_UCODE_DESC` version has (the ones nova reads). */
export const RISCV_UCODE_DESC_BASE_FIELDS = [
	'version',
	'bootloaderOffset',
	'bootloaderSize',
	'bootloaderParamOffset',
	'bootloaderParamSize',
	'riscvElfOffset',
	'riscvElfSize',
	'appVersion',
	'manifestOffset',
	'manifestSize',
	'monitorDataOffset',
	'monitorDataSize',
	'monitorCodeOffset',
	'monitorCodeSize',
] as const;

/** The optional u32 that follow, in order (present when the header region is long enough). */
export const RISCV_UCODE_DESC_EXTRA_FIELDS = [
	'isMonitorEnabled',
	'swbromCodeOffset',
	'swbromCodeSize',
	'swbromDataOffset',
	'swbromDataSize',
	'fbReservedSize',
	'signedAsCode',
] as const;

/** A parsed `RM_RISCV_UCODE_DESC`. Offsets are relative to the payload. */
export interface RiscvUcodeDesc {
	/** Structure version (4 on TU10x/GA100, 5 from GA10x). */
	readonly version: number;
	/** RISC-V bootloader code: offset and size. */
	readonly bootloaderOffset: number;
	/** Size of `bootloaderOffset`'s region. */
	readonly bootloaderSize: number;
	/** Bootloader parameters: offset and size. */
	readonly bootloaderParamOffset: number;
	/** Size of `bootloaderParamOffset`'s region. */
	readonly bootloaderParamSize: number;
	/** An embedded RISC-V ELF (0 in the published files): offset and size. */
	readonly riscvElfOffset: number;
	/** Size of `riscvElfOffset`'s region. */
	readonly riscvElfSize: number;
	/** Changelist number of the image; written to the GSP falcon's OS register after booter runs. */
	readonly appVersion: number;
	/** The manifest is the boot ROM's input describing the monitor. */
	readonly manifestOffset: number;
	/** Size of `manifestOffset`'s region. */
	readonly manifestSize: number;
	/** Monitor data (DMEM image): offset and size. */
	readonly monitorDataOffset: number;
	/** Size of `monitorDataOffset`'s region. */
	readonly monitorDataSize: number;
	/** Monitor code (IMEM image): offset and size; nova loads the monitor from here. */
	readonly monitorCodeOffset: number;
	/** Size of `monitorCodeOffset`'s region. */
	readonly monitorCodeSize: number;
	/** `bIsMonitorEnabled` (version ≥ 4 files). */
	readonly isMonitorEnabled?: number;
	/** Software boot ROM code: offset and size (0 in the published files). */
	readonly swbromCodeOffset?: number;
	/** Size of `swbromCodeOffset`'s region. */
	readonly swbromCodeSize?: number;
	/** Software boot ROM data: offset and size. */
	readonly swbromDataOffset?: number;
	/** Size of `swbromDataOffset`'s region. */
	readonly swbromDataSize?: number;
	/** Total size of the FB carve-out, image plus reserved space (version 5). */
	readonly fbReservedSize?: number;
	/** `bSignedAsCode`: whether the whole image is signed as code (version 5; Hopper and later). */
	readonly signedAsCode?: number;
}

/** A region named by the descriptor, checked to lie inside the payload. */
export interface RiscvRegion {
	/** Region name, e.g. `'monitorCode'`. */
	readonly name: string;
	/** Offset in the payload. */
	readonly offset: number;
	/** Size in bytes. */
	readonly size: number;
}

/** A parsed GSP RISC-V bootloader file. */
export interface RiscvFirmware {
	/** The file's `nvfw_bin_hdr`. */
	readonly bin: BinHeader;
	/** The descriptor. */
	readonly desc: RiscvUcodeDesc;
	/** Number of u32 fields present in the descriptor (14..21). */
	readonly descWords: number;
	/** The non-empty regions (bootloader, param, riscvElf, manifest, monitorData, monitorCode, swbrom*). */
	readonly regions: readonly RiscvRegion[];
	/** The payload, a zero-copy view. */
	readonly payload: Uint8Array;
}

const REGIONS = [
	['bootloader', 'bootloaderOffset', 'bootloaderSize'],
	['bootloaderParam', 'bootloaderParamOffset', 'bootloaderParamSize'],
	['riscvElf', 'riscvElfOffset', 'riscvElfSize'],
	['manifest', 'manifestOffset', 'manifestSize'],
	['monitorData', 'monitorDataOffset', 'monitorDataSize'],
	['monitorCode', 'monitorCodeOffset', 'monitorCodeSize'],
	['swbromCode', 'swbromCodeOffset', 'swbromCodeSize'],
	['swbromData', 'swbromDataOffset', 'swbromDataSize'],
] as const;

const ALL_FIELDS = [...RISCV_UCODE_DESC_BASE_FIELDS, ...RISCV_UCODE_DESC_EXTRA_FIELDS];

/**
 * Parse a GSP RISC-V bootloader file (`bootloader-<ver>.bin`).
 *
 * The descriptor must hold at least the 14 base fields; each non-empty region it names must lie inside the
 * payload.
 * @throws FirmwareFormatError
 */
export function parseRiscvFirmware(data: Uint8Array, file = '<memory>'): RiscvFirmware {
	const r: ByteReader = new ByteReader(data, file);
	const bin = readBinHeader(r);
	const h0 = bin.headerOffset;
	// The descriptor runs from header_offset up to data_offset (or the end of the file).
	const regionEnd = bin.dataOffset > h0 ? bin.dataOffset : r.length;
	const descWords = Math.min(ALL_FIELDS.length, Math.floor((regionEnd - h0) / 4));
	if (descWords < RISCV_UCODE_DESC_BASE_FIELDS.length) {
		r.fail(
			'RM_RISCV_UCODE_DESC',
			h0,
			`>= ${RISCV_UCODE_DESC_BASE_FIELDS.length * 4} bytes between header_offset and data_offset`,
			`${fmt(regionEnd - h0)} bytes`,
		);
	}
	const desc: Record<string, number> = {};
	for (let i = 0; i < descWords; i++) {
		const name = ALL_FIELDS[i] as string;
		desc[name] = r.u32(h0 + 4 * i, `RM_RISCV_UCODE_DESC.${name}`);
	}
	const regions: RiscvRegion[] = [];
	for (const [name, offField, sizeField] of REGIONS) {
		const offset = desc[offField];
		const size = desc[sizeField];
		if (offset === undefined || size === undefined || size === 0) continue;
		if (offset + size > bin.dataSize) {
			r.fail(
				`RM_RISCV_UCODE_DESC.${offField}+${sizeField}`,
				h0 + 4 * ALL_FIELDS.indexOf(offField),
				`a range within the ${fmt(bin.dataSize)}-byte payload`,
				`${fmt(offset)}..+${fmt(size)}`,
			);
		}
		regions.push({ name, offset, size });
	}
	return {
		bin,
		desc: desc as unknown as RiscvUcodeDesc,
		descWords,
		regions,
		payload: data.subarray(bin.dataOffset, bin.dataOffset + bin.dataSize),
	};
}
