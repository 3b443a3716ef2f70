/**
 * `nvfw_bin_hdr`: the 24-byte header at the start of `booter_*`, `bootloader`, `gen_bootloader` and
 * `scrubber` files (reference A.6; nouveau `nvfw/fw.h`, nova `firmware.rs` `BinHdr`).
 *
 * @module
 */

import { ByteReader, fmt } from './reader.ts';

/** `bin_magic` of every NVIDIA firmware binary header. */
export const NVFW_BIN_MAGIC = 0x10de;

/** Size in bytes of `nvfw_bin_hdr` (6 × u32). */
export const NVFW_BIN_HDR_SIZE = 24;

/** A parsed `nvfw_bin_hdr`. All offsets are from the start of the file. */
export interface BinHeader {
	/** `bin_magic`, always {@link NVFW_BIN_MAGIC}. */
	readonly magic: number;
	/** `bin_ver`: header version (1 in every published file). */
	readonly version: number;
	/**
	 * `bin_size`. Not the file size: in every published file it is the file size rounded up to 256 bytes,
	 * and nova ignores it. Reported, not checked.
	 */
	readonly binSize: number;
	/** `header_offset`: where the application-specific header starts. */
	readonly headerOffset: number;
	/** `data_offset`: where the payload (the ucode image) starts. */
	readonly dataOffset: number;
	/** `data_size`: payload size in bytes. */
	readonly dataSize: number;
	/** Size of the file the header was read from. */
	readonly fileSize: number;
}

/**
 * Parse the `nvfw_bin_hdr` at the start of `data`.
 *
 * Checks the magic, that the application header offset lies inside the file and that the payload range
 * `data_offset .. data_offset + data_size` lies inside the file.
 * @throws FirmwareFormatError naming the field and offset.
 */
export function parseBinHeader(data: Uint8Array, file = '<memory>'): BinHeader {
	return readBinHeader(new ByteReader(data, file));
}

/** {@link parseBinHeader} on an existing reader (shared by the format parsers). */
export function readBinHeader(r: ByteReader): BinHeader {
	r.need(0, NVFW_BIN_HDR_SIZE, 'nvfw_bin_hdr');
	const magic = r.u32(0, 'nvfw_bin_hdr.bin_magic');
	if (magic !== NVFW_BIN_MAGIC) r.fail('nvfw_bin_hdr.bin_magic', 0, fmt(NVFW_BIN_MAGIC), fmt(magic));
	const hdr: BinHeader = {
		magic,
		version: r.u32(4, 'nvfw_bin_hdr.bin_ver'),
		binSize: r.u32(8, 'nvfw_bin_hdr.bin_size'),
		headerOffset: r.u32(12, 'nvfw_bin_hdr.header_offset'),
		dataOffset: r.u32(16, 'nvfw_bin_hdr.data_offset'),
		dataSize: r.u32(20, 'nvfw_bin_hdr.data_size'),
		fileSize: r.length,
	};
	if (hdr.headerOffset < NVFW_BIN_HDR_SIZE || hdr.headerOffset >= r.length) {
		r.fail(
			'nvfw_bin_hdr.header_offset',
			12,
			`${fmt(NVFW_BIN_HDR_SIZE)}..${fmt(r.length - 1)}`,
			fmt(hdr.headerOffset),
		);
	}
	r.need(hdr.dataOffset, hdr.dataSize, 'nvfw_bin_hdr.data_offset+data_size', 16);
	return hdr;
}

/** The payload (`data_offset .. +data_size`) as a zero-copy view of `data`. */
export function binPayload(data: Uint8Array, hdr: BinHeader, file = '<memory>'): Uint8Array {
	return new ByteReader(data, file).bytes(
		hdr.dataOffset,
		hdr.dataSize,
		'nvfw_bin_hdr.data_offset+data_size',
		16,
	);
}
