/**
 * Readers for the firmware file headers the models register by digest (reference A.6), written
 * independently of the driver's parsers: `nvfw_bin_hdr`, the HS header v2 with its metadata and load
 * header (booter), `RM_RISCV_UCODE_DESC` (RISC-V bootloader) and the generic-bootloader descriptor.
 *
 * @module
 */

import { SimFirmwareFormatError } from '../falcon/errors.ts';
import { rdU32, slice } from '../vbios/bytes.ts';

/** `nvfw_bin_hdr.bin_magic`. */
export const BIN_MAGIC = 0x10de;

/** `nvfw_bin_hdr` (6 × u32). */
export interface BinHeader {
	readonly binMagic: number;
	readonly binVersion: number;
	readonly binSize: number;
	readonly headerOffset: number;
	readonly dataOffset: number;
	readonly dataSize: number;
}

/** Read and check the `nvfw_bin_hdr` at the start of a file. */
export function readBinHeader(file: Uint8Array): BinHeader {
	const h = {
		binMagic: rdU32(file, 0, 'bin_magic'),
		binVersion: rdU32(file, 4, 'bin_ver'),
		binSize: rdU32(file, 8, 'bin_size'),
		headerOffset: rdU32(file, 12, 'header_offset'),
		dataOffset: rdU32(file, 16, 'data_offset'),
		dataSize: rdU32(file, 20, 'data_size'),
	};
	if (h.binMagic !== BIN_MAGIC) {
		throw new SimFirmwareFormatError(`bin_magic 0x${h.binMagic.toString(16)} is not 0x10de`, {
			field: 'bin_magic',
			offset: 0,
		});
	}
	slice(file, h.dataOffset, h.dataSize, 'payload (data_offset, data_size)');
	return h;
}

/** The payload of a file with a `nvfw_bin_hdr`. */
export function binPayload(file: Uint8Array, h: BinHeader = readBinHeader(file)): Uint8Array {
	return slice(file, h.dataOffset, h.dataSize, 'payload');
}

/** What the models need from an HS (booter) firmware file. */
export interface HsImage {
	readonly payload: Uint8Array;
	readonly fuseVersion: number;
	readonly engineIdMask: number;
	readonly ucodeId: number;
	/** Payload offset the signature is patched at. */
	readonly patchLocation: number;
	readonly signatures: readonly Uint8Array[];
	readonly osCodeOffset: number;
	readonly osCodeSize: number;
	readonly osDataOffset: number;
	readonly osDataSize: number;
	/** Applications (offset, length) of the load header; app 0 is the secure code. */
	readonly apps: readonly { readonly offset: number; readonly length: number }[];
}

/** Read an HS firmware file (`booter_load`, `booter_unload`, `scrubber`). */
export function readHsImage(file: Uint8Array): HsImage {
	const bin = readBinHeader(file);
	const h = bin.headerOffset;
	const sigProdOffset = rdU32(file, h, 'sig_prod_offset');
	const sigProdSize = rdU32(file, h + 4, 'sig_prod_size');
	const patchLocOffset = rdU32(file, h + 8, 'patch_loc_offset');
	const patchSigOffset = rdU32(file, h + 12, 'patch_sig_offset');
	const metaOffset = rdU32(file, h + 16, 'meta_data_offset');
	const numSigOffset = rdU32(file, h + 24, 'num_sig_offset');
	const loadOffset = rdU32(file, h + 28, 'header_offset');
	const loadSize = rdU32(file, h + 32, 'header_size');
	const numSig = rdU32(file, numSigOffset, 'num_sig');
	const patchSig = rdU32(file, patchSigOffset, 'patch_sig');
	const sigSize = numSig === 0 ? 0 : sigProdSize / numSig;
	if (!Number.isInteger(sigSize)) {
		throw new SimFirmwareFormatError(`sig_prod_size ${sigProdSize} is not a multiple of num_sig ${numSig}`, {
			field: 'sig_prod_size',
			offset: h + 4,
		});
	}
	const sigs = slice(file, sigProdOffset + patchSig, sigProdSize, 'signatures');
	const signatures = Array.from({ length: numSig }, (_, i) => sigs.slice(i * sigSize, (i + 1) * sigSize));
	const numApps = rdU32(file, loadOffset + 16, 'num_apps');
	const stride = numApps === 0 ? 8 : (loadSize - 20) / numApps;
	if (stride !== 8 && stride !== 16) {
		throw new SimFirmwareFormatError(`load header size ${loadSize} does not fit ${numApps} applications`, {
			field: 'header_size',
			offset: h + 32,
		});
	}
	return {
		payload: binPayload(file, bin),
		fuseVersion: rdU32(file, metaOffset, 'fuse_ver'),
		engineIdMask: rdU32(file, metaOffset + 4, 'engine_id_mask'),
		ucodeId: rdU32(file, metaOffset + 8, 'ucode_id'),
		patchLocation: rdU32(file, patchLocOffset, 'patch_loc'),
		signatures,
		osCodeOffset: rdU32(file, loadOffset, 'os_code_offset'),
		osCodeSize: rdU32(file, loadOffset + 4, 'os_code_size'),
		osDataOffset: rdU32(file, loadOffset + 8, 'os_data_offset'),
		osDataSize: rdU32(file, loadOffset + 12, 'os_data_size'),
		apps: Array.from({ length: numApps }, (_, i) => ({
			offset: rdU32(file, loadOffset + 20 + stride * i, 'app.offset'),
			length: rdU32(file, loadOffset + 24 + stride * i, 'app.len'),
		})),
	};
}

/** What the booter model checks about a RISC-V bootloader (`bootloader-*.bin`). */
export interface RiscvBootloaderImage {
	readonly payload: Uint8Array;
	readonly descVersion: number;
	readonly appVersion: number;
	readonly manifestOffset: number;
	readonly monitorDataOffset: number;
	readonly monitorCodeOffset: number;
}

/** Read an `RM_RISCV_UCODE_DESC` firmware file. */
export function readRiscvBootloader(file: Uint8Array): RiscvBootloaderImage {
	const bin = readBinHeader(file);
	const d = bin.headerOffset;
	return {
		payload: binPayload(file, bin),
		descVersion: rdU32(file, d, 'version'),
		appVersion: rdU32(file, d + 28, 'app_version'),
		manifestOffset: rdU32(file, d + 32, 'manifest_offset'),
		monitorDataOffset: rdU32(file, d + 40, 'monitor_data_offset'),
		monitorCodeOffset: rdU32(file, d + 48, 'monitor_code_offset'),
	};
}

/** What the models need from a generic bootloader (`gen_bootloader-*.bin`, `acr/bl.bin`). */
export interface GenBootloaderImage {
	readonly startTag: number;
	readonly code: Uint8Array;
}

/** Read a generic bootloader file (`nvfw_bin_hdr` + BootloaderDesc). */
export function readGenBootloader(file: Uint8Array): GenBootloaderImage {
	const bin = readBinHeader(file);
	const d = bin.headerOffset;
	const startTag = rdU32(file, d, 'start_tag');
	const codeOff = rdU32(file, d + 8, 'code_off');
	const codeSize = rdU32(file, d + 12, 'code_size');
	return { startTag, code: slice(file, bin.dataOffset + codeOff, codeSize, 'code') };
}
