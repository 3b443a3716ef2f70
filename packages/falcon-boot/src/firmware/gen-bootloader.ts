/**
 * The Turing/GA100 generic falcon bootloader (`gen_bootloader-<ver>.bin`, or `acr/bl.bin` which nouveau's
 * r535 path uses): `nvfw_bin_hdr` + `nvfw_bl_desc` {start_tag, dmem_load_off, code_off, code_size,
 * data_off, data_size} (reference A.5 "Turing variant"; nouveau `nvfw/fw.h`, nova `fwsec/bootloader.rs`).
 *
 * It is loaded by PIO into the top of IMEM (tag `start_tag`, so IMEM address `start_tag << 8`) and then
 * DMA-loads FWSEC. `code_off`/`data_off` are relative to the payload.
 *
 * @module
 */

import { type BinHeader, readBinHeader } from './bin-hdr.ts';
import { ByteReader, fmt } from './reader.ts';

/** Size of `nvfw_bl_desc` (6 × u32). */
export const BOOTLOADER_DESC_SIZE = 24;

/** `nvfw_bl_desc`. */
export interface BootloaderDesc {
	/** IMEM tag (256-byte block index) where the code goes; `start_tag << 8` is also the boot vector. */
	readonly startTag: number;
	/** DMEM offset where the data goes. */
	readonly dmemLoadOff: number;
	/** Code offset in the payload. */
	readonly codeOff: number;
	/** Code size. */
	readonly codeSize: number;
	/** Data offset in the payload. */
	readonly dataOff: number;
	/** Data size. */
	readonly dataSize: number;
}

/** A parsed generic bootloader file. */
export interface GenBootloader {
	/** The file's `nvfw_bin_hdr`. */
	readonly bin: BinHeader;
	/** The descriptor. */
	readonly desc: BootloaderDesc;
	/** IMEM byte address of the code (`start_tag << 8`), also the boot vector. */
	readonly imemAddress: number;
	/** The code, a zero-copy view. */
	readonly code: Uint8Array;
	/** The data, a zero-copy view. */
	readonly data: Uint8Array;
	/** The payload, a zero-copy view. */
	readonly payload: Uint8Array;
}

/** Parse a generic bootloader file. Code and data ranges must lie inside the payload. @throws FirmwareFormatError */
export function parseGenBootloader(data: Uint8Array, file = '<memory>'): GenBootloader {
	const r: ByteReader = new ByteReader(data, file);
	const bin = readBinHeader(r);
	const h0 = bin.headerOffset;
	r.need(h0, BOOTLOADER_DESC_SIZE, 'nvfw_bl_desc', 12);
	const desc: BootloaderDesc = {
		startTag: r.u32(h0, 'nvfw_bl_desc.start_tag'),
		dmemLoadOff: r.u32(h0 + 4, 'nvfw_bl_desc.dmem_load_off'),
		codeOff: r.u32(h0 + 8, 'nvfw_bl_desc.code_off'),
		codeSize: r.u32(h0 + 12, 'nvfw_bl_desc.code_size'),
		dataOff: r.u32(h0 + 16, 'nvfw_bl_desc.data_off'),
		dataSize: r.u32(h0 + 20, 'nvfw_bl_desc.data_size'),
	};
	const check = (off: number, size: number, what: string, at: number) => {
		if (off + size > bin.dataSize) {
			r.fail(
				`nvfw_bl_desc.${what}`,
				at,
				`a range within the ${fmt(bin.dataSize)}-byte payload`,
				`${fmt(off)}..+${fmt(size)}`,
			);
		}
	};
	check(desc.codeOff, desc.codeSize, 'code_off+code_size', h0 + 8);
	check(desc.dataOff, desc.dataSize, 'data_off+data_size', h0 + 16);
	if (desc.codeSize === 0) r.fail('nvfw_bl_desc.code_size', h0 + 12, '> 0', '0');
	// The tag is a 256-byte block number in a 16-bit tag space (IMEMT TAG 15:0).
	if (desc.startTag > 0xffff) r.fail('nvfw_bl_desc.start_tag', h0, '<= 0xffff', fmt(desc.startTag));
	const p0 = bin.dataOffset;
	return {
		bin,
		desc,
		imemAddress: desc.startTag * 256,
		code: data.subarray(p0 + desc.codeOff, p0 + desc.codeOff + desc.codeSize),
		data: data.subarray(p0 + desc.dataOff, p0 + desc.dataOff + desc.dataSize),
		payload: data.subarray(p0, p0 + bin.dataSize),
	};
}
