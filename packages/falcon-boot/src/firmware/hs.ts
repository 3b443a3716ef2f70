/**
 * Heavy-secure (HS) ucode with an HS header v2: `booter_load`, `booter_unload` and `scrubber`
 * (reference A.6; nouveau `nvfw/hs.h` and `gsp/ga102.c`, nova `firmware/booter.rs`).
 *
 * Layout: `nvfw_bin_hdr` → (at `header_offset`) HS header v2, 9 × u32 →
 * - `meta_data_offset`: {fuse_ver, engine_id_mask, ucode_id};
 * - `patch_loc_offset` / `patch_sig_offset` / `num_sig_offset`: each points at one u32 in the file;
 * - `sig_prod_offset`/`sig_prod_size`: `num_sig` equal-sized production signatures;
 * - `header_offset`/`header_size`: the load header {os_code_offset/size, os_data_offset/size, num_apps, apps[]}.
 *
 * Offsets inside the load header and the patch location are relative to the payload (`data_offset`).
 *
 * @module
 */

import { type BinHeader, readBinHeader } from './bin-hdr.ts';
import { FirmwareFormatError, FirmwareSignatureError } from './errors.ts';
import { ByteReader, fmt } from './reader.ts';

/** Size in bytes of the HS header v2 (9 × u32). */
export const HS_HEADER_V2_SIZE = 36;
/** Size in bytes of the fixed part of the load header v2 (5 × u32). */
export const HS_LOAD_HEADER_V2_FIXED_SIZE = 20;

/** `nvfw_hs_header_v2`. Every offset is from the start of the file. */
export interface HsHeaderV2 {
	/** Where the production signatures start. */
	readonly sigProdOffset: number;
	/** Total size of all production signatures. */
	readonly sigProdSize: number;
	/** Where the u32 holding the patch location is. */
	readonly patchLocOffset: number;
	/** Where the u32 holding the patch signature index is. */
	readonly patchSigOffset: number;
	/** Where the signature metadata starts. */
	readonly metaDataOffset: number;
	/** Size of the signature metadata (12 in every published file). */
	readonly metaDataSize: number;
	/** Where the u32 holding the number of signatures is. */
	readonly numSigOffset: number;
	/** Where the load header starts. */
	readonly headerOffset: number;
	/** Size of the load header. */
	readonly headerSize: number;
}

/** Signature metadata: what the boot ROM needs to pick and check a signature. */
export interface HsSignatureMeta {
	/** Fuse version the signatures were made for (a bit index, see {@link selectBooterSignature}). */
	readonly fuseVer: number;
	/** Engines this ucode may run on (bit 0 SEC2, bit 2 NVDEC, bit 10 GSP). */
	readonly engineIdMask: number;
	/** Ucode ID; selects the fuse register holding the minimum version. */
	readonly ucodeId: number;
}

/** One application in the load header. Offsets are from the payload start. */
export interface HsApp {
	/** Code offset of the application. */
	readonly offset: number;
	/** Code size of the application. */
	readonly size: number;
	/** Data offset (only in the 16-byte app entries, which every published file uses). */
	readonly dataOffset: number | null;
	/** Data size (only in the 16-byte app entries). */
	readonly dataSize: number | null;
}

/** `nvfw_hs_load_header_v2`. Offsets are from the payload start. */
export interface HsLoadHeaderV2 {
	/** Non-secure OS code offset. */
	readonly osCodeOffset: number;
	/** Non-secure OS code size. */
	readonly osCodeSize: number;
	/** OS data (DMEM image) offset. */
	readonly osDataOffset: number;
	/** OS data size. */
	readonly osDataSize: number;
	/** Number of applications. */
	readonly numApps: number;
	/**
	 * Bytes per app entry, derived from `header_size`: 16 ({offset, size, data_offset, data_size}, as nouveau
	 * declares it and every published file has) or 8 ({offset, size}, as nova reads it).
	 */
	readonly appEntrySize: 8 | 16;
	/** The applications; app 0 is the one the falcon boots. */
	readonly apps: readonly HsApp[];
}

/** A parsed HS ucode file (booter_load, booter_unload, scrubber). */
export interface HsFirmware {
	/** The file's `nvfw_bin_hdr`. */
	readonly bin: BinHeader;
	/** The HS header v2. */
	readonly header: HsHeaderV2;
	/** Signature metadata. */
	readonly meta: HsSignatureMeta;
	/** The load header. */
	readonly load: HsLoadHeaderV2;
	/** Where in the payload a signature must be copied (value of the u32 at `patch_loc_offset`). */
	readonly patchLocation: number;
	/**
	 * Value of the u32 at `patch_sig_offset`. nouveau and nova both add it, in bytes, to `sig_prod_offset`
	 * to find the first signature; 0 in every published file.
	 */
	readonly patchSignatureIndex: number;
	/** Number of production signatures (value of the u32 at `num_sig_offset`); 0 means unsigned. */
	readonly numSignatures: number;
	/** Size of one signature: `sig_prod_size / num_sig` (384 for RSA-3K, 16 on Turing). 0 when unsigned. */
	readonly signatureSize: number;
	/** The signatures, as zero-copy views of the file. */
	readonly signatures: readonly Uint8Array[];
	/** File offset of the first signature (`sig_prod_offset + patch_sig`). */
	readonly signaturesOffset: number;
	/** The payload (ucode image), a zero-copy view. */
	readonly payload: Uint8Array;
	/** Boot ROM parameters derived with {@link booterBromParams}. */
	readonly brom: BooterBromParams;
}

/** Parse an HS ucode file (booter_load, booter_unload, scrubber). @throws FirmwareFormatError */
export function parseHsFirmware(data: Uint8Array, file = '<memory>'): HsFirmware {
	const r: ByteReader = new ByteReader(data, file);
	const bin = readBinHeader(r);
	const h0 = bin.headerOffset;
	r.need(h0, HS_HEADER_V2_SIZE, 'nvfw_hs_header_v2', 12);
	const field = (i: number, name: string) => r.u32(h0 + 4 * i, `nvfw_hs_header_v2.${name}`);
	const header: HsHeaderV2 = {
		sigProdOffset: field(0, 'sig_prod_offset'),
		sigProdSize: field(1, 'sig_prod_size'),
		patchLocOffset: field(2, 'patch_loc_offset'),
		patchSigOffset: field(3, 'patch_sig_offset'),
		metaDataOffset: field(4, 'meta_data_offset'),
		metaDataSize: field(5, 'meta_data_size'),
		numSigOffset: field(6, 'num_sig_offset'),
		headerOffset: field(7, 'header_offset'),
		headerSize: field(8, 'header_size'),
	};

	// Metadata: three u32; nova requires exactly 12 bytes, we accept more (and report only the three).
	if (header.metaDataSize < 12)
		r.fail('nvfw_hs_header_v2.meta_data_size', h0 + 20, '>= 0xc', fmt(header.metaDataSize));
	r.need(header.metaDataOffset, header.metaDataSize, 'hs metadata', h0 + 16);
	const m0 = header.metaDataOffset;
	const meta: HsSignatureMeta = {
		fuseVer: r.u32(m0, 'hs metadata.fuse_ver'),
		engineIdMask: r.u32(m0 + 4, 'hs metadata.engine_id_mask'),
		ucodeId: r.u32(m0 + 8, 'hs metadata.ucode_id'),
	};

	const patchLocation = r.u32(
		header.patchLocOffset,
		'hs patch_loc (via nvfw_hs_header_v2.patch_loc_offset)',
		h0 + 8,
	);
	const patchSignatureIndex = r.u32(
		header.patchSigOffset,
		'hs patch_sig (via nvfw_hs_header_v2.patch_sig_offset)',
		h0 + 12,
	);
	const numSignatures = r.u32(
		header.numSigOffset,
		'hs num_sig (via nvfw_hs_header_v2.num_sig_offset)',
		h0 + 24,
	);

	// Signatures.
	let signatureSize = 0;
	const signatures: Uint8Array[] = [];
	const signaturesOffset = header.sigProdOffset + patchSignatureIndex;
	if (numSignatures > 0) {
		if (header.sigProdSize === 0 || header.sigProdSize % numSignatures !== 0) {
			r.fail(
				'nvfw_hs_header_v2.sig_prod_size',
				h0 + 4,
				`a non-zero multiple of num_sig (${numSignatures})`,
				fmt(header.sigProdSize),
			);
		}
		signatureSize = header.sigProdSize / numSignatures;
		r.need(
			signaturesOffset,
			header.sigProdSize,
			'hs signatures (sig_prod_offset + patch_sig .. + sig_prod_size)',
			h0,
		);
		// numSignatures <= sigProdSize <= file size, so this loop is bounded by the data size.
		for (let i = 0; i < numSignatures; i++) {
			signatures.push(
				data.subarray(signaturesOffset + i * signatureSize, signaturesOffset + (i + 1) * signatureSize),
			);
		}
	}

	const load = readLoadHeader(r, header, h0, bin);
	const payload = data.subarray(bin.dataOffset, bin.dataOffset + bin.dataSize);

	if (numSignatures > 0 && !fitsIn(patchLocation, signatureSize, bin.dataSize)) {
		r.fail(
			'hs patch_loc',
			header.patchLocOffset,
			`patch_loc + signature size (${fmt(signatureSize)}) within the ${fmt(bin.dataSize)}-byte payload`,
			fmt(patchLocation),
		);
	}

	const partial = { bin, header, meta, load, patchLocation };
	const brom = booterBromParams(partial, file);
	return {
		...partial,
		patchSignatureIndex,
		numSignatures,
		signatureSize,
		signatures,
		signaturesOffset,
		payload,
		brom,
	};
}

function fitsIn(offset: number, size: number, limit: number): boolean {
	return offset + size <= limit;
}

function readLoadHeader(r: ByteReader, header: HsHeaderV2, h0: number, bin: BinHeader): HsLoadHeaderV2 {
	const l0 = header.headerOffset;
	const name = 'nvfw_hs_load_header_v2';
	if (header.headerSize < HS_LOAD_HEADER_V2_FIXED_SIZE) {
		r.fail(
			'nvfw_hs_header_v2.header_size',
			h0 + 32,
			`>= ${fmt(HS_LOAD_HEADER_V2_FIXED_SIZE)}`,
			fmt(header.headerSize),
		);
	}
	r.need(l0, header.headerSize, name, h0 + 28);
	const osCodeOffset = r.u32(l0, `${name}.os_code_offset`);
	const osCodeSize = r.u32(l0 + 4, `${name}.os_code_size`);
	const osDataOffset = r.u32(l0 + 8, `${name}.os_data_offset`);
	const osDataSize = r.u32(l0 + 12, `${name}.os_data_size`);
	const numApps = r.u32(l0 + 16, `${name}.num_apps`);
	const appBytes = header.headerSize - HS_LOAD_HEADER_V2_FIXED_SIZE;
	let appEntrySize: 8 | 16;
	if (numApps >= 1 && appBytes === 16 * numApps) appEntrySize = 16;
	else if (numApps >= 1 && appBytes === 8 * numApps) appEntrySize = 8;
	else {
		return r.fail(
			`${name}.num_apps`,
			l0 + 16,
			`>= 1 and header_size (${fmt(header.headerSize)}) = 0x14 + 16 (or 8) × num_apps`,
			fmt(numApps),
		);
	}
	const limit = bin.dataSize;
	const checkRange = (off: number, size: number, what: string, at: number) => {
		if (!fitsIn(off, size, limit)) {
			r.fail(
				`${name}.${what}`,
				at,
				`a range within the ${fmt(limit)}-byte payload`,
				`${fmt(off)}..+${fmt(size)}`,
			);
		}
	};
	checkRange(osCodeOffset, osCodeSize, 'os_code_offset+os_code_size', l0);
	checkRange(osDataOffset, osDataSize, 'os_data_offset+os_data_size', l0 + 8);
	// numApps * appEntrySize === appBytes <= file size, so this loop is bounded by the data size.
	const apps: HsApp[] = [];
	for (let i = 0; i < numApps; i++) {
		const a = l0 + HS_LOAD_HEADER_V2_FIXED_SIZE + i * appEntrySize;
		const offset = r.u32(a, `${name}.app[${i}].offset`);
		const size = r.u32(a + 4, `${name}.app[${i}].size`);
		checkRange(offset, size, `app[${i}].offset+size`, a);
		apps.push({
			offset,
			size,
			dataOffset: appEntrySize === 16 ? r.u32(a + 8, `${name}.app[${i}].data_offset`) : null,
			dataSize: appEntrySize === 16 ? r.u32(a + 12, `${name}.app[${i}].data_size`) : null,
		});
	}
	return { osCodeOffset, osCodeSize, osDataOffset, osDataSize, numApps, appEntrySize, apps };
}

/** What the boot ROM registers get for an HS ucode (reference A.3 step 3). */
export interface BooterBromParams {
	/** DMEM offset of the signature: `patch_loc − os_data_offset` (`BROM_PARAADDR(0)`). */
	readonly pkcDataOffset: number;
	/** `BROM_ENGIDMASK` (must fit 16 bits). */
	readonly engineIdMask: number;
	/** `BROM_CURR_UCODE_ID` (must fit 8 bits). */
	readonly ucodeId: number;
}

/**
 * Boot ROM parameters of an HS ucode: `pkc_data_offset = patch_loc − os_data_offset` (the signature's
 * offset within DMEM, since DMEM is loaded from `os_data_offset`), `engine_id_mask` and `ucode_id`.
 * @throws FirmwareFormatError when the patch location lies before the DMEM image or a value does not fit
 * its register field.
 */
export function booterBromParams(
	fw: Pick<HsFirmware, 'header' | 'meta' | 'load' | 'patchLocation'>,
	file = '<memory>',
): BooterBromParams {
	const fail = (field: string, offset: number, expected: string, actual: string): never => {
		throw new FirmwareFormatError({ file, field, offset, expected, actual });
	};
	const pkcDataOffset = pkcDataOffsetOf(fw.patchLocation, fw.load.osDataOffset);
	if (pkcDataOffset < 0) {
		fail(
			'hs patch_loc',
			fw.header.patchLocOffset,
			`>= os_data_offset (${fmt(fw.load.osDataOffset)})`,
			fmt(fw.patchLocation),
		);
	}
	if (fw.meta.engineIdMask > 0xffff) {
		fail('hs metadata.engine_id_mask', fw.header.metaDataOffset + 4, '<= 0xffff', fmt(fw.meta.engineIdMask));
	}
	if (fw.meta.ucodeId > 0xff) {
		fail('hs metadata.ucode_id', fw.header.metaDataOffset + 8, '<= 0xff', fmt(fw.meta.ucodeId));
	}
	return { pkcDataOffset, engineIdMask: fw.meta.engineIdMask, ucodeId: fw.meta.ucodeId };
}

/** `pkc_data_offset = patch_loc − os_data_offset` (may be negative for a bad file; callers check). */
export function pkcDataOffsetOf(patchLocation: number, osDataOffset: number): number {
	return patchLocation - osDataOffset;
}

/**
 * The fuse version encoded in a fuse ucode-version register: the bit length of its low 16 bits
 * (16 − leading zeros), as nova and nouveau compute it. 0 means "no version fused".
 */
export function fuseVersionFromRegister(value: number): number {
	const v = value & 0xffff;
	return v === 0 ? 0 : 32 - Math.clz32(v);
}

/** Fuse ucode-version register arrays by engine-mask bit (16 u32 registers each, indexed by `ucode_id − 1`). */
export const FUSE_UCODE_VERSION_BASES: Readonly<
	Record<'sec2' | 'nvdec' | 'gsp', { bit: number; base: number }>
> = Object.freeze({
	sec2: { bit: 0x0001, base: 0x824140 },
	nvdec: { bit: 0x0004, base: 0x824100 },
	gsp: { bit: 0x0400, base: 0x8241c0 },
});

/**
 * BAR0 address of the fuse register holding the minimum ucode version for `engineIdMask`/`ucodeId`
 * (reference A.2: SEC2 0x824140, NVDEC 0x824100, GSP 0x8241c0, + 4 × (ucode_id − 1)).
 * @throws FirmwareSignatureError when the mask names none of those engines or `ucodeId` is not 1..16.
 */
export function fuseVersionRegister(engineIdMask: number, ucodeId: number): number {
	if (!Number.isInteger(ucodeId) || ucodeId < 1 || ucodeId > 16) {
		throw new FirmwareSignatureError(`ucode_id ${ucodeId} has no fuse version register (1..16)`, {
			engineIdMask,
			ucodeId,
		});
	}
	for (const e of [
		FUSE_UCODE_VERSION_BASES.sec2,
		FUSE_UCODE_VERSION_BASES.nvdec,
		FUSE_UCODE_VERSION_BASES.gsp,
	]) {
		if ((engineIdMask & e.bit) !== 0) return e.base + 4 * (ucodeId - 1);
	}
	throw new FirmwareSignatureError(
		`engine_id_mask ${fmt(engineIdMask)} names no engine with fuse version registers`,
		{
			engineIdMask,
			ucodeId,
		},
	);
}

/** The signature chosen for a chip's fuse version. */
export interface SelectedSignature {
	/** Index into {@link HsFirmware.signatures}. */
	readonly index: number;
	/** File offset of the signature. */
	readonly fileOffset: number;
	/** Payload offset it must be copied to (the patch location). */
	readonly patchLocation: number;
	/** The signature bytes (zero-copy view). */
	readonly bytes: Uint8Array;
}

/**
 * Choose the booter signature for the fuse version read from the chip (reference A.6 "Booter rules",
 * nova `BooterFirmware::new`): fuse version 0 → the last signature; otherwise index `fuse_ver − regFuseVersion`.
 * Returns `null` for an unsigned file (no signatures).
 * @param regFuseVersion the chip's fuse version, see {@link fuseVersionFromRegister}.
 * @throws FirmwareSignatureError when the index falls outside the signature table.
 */
export function selectBooterSignature(
	fw: Pick<HsFirmware, 'meta' | 'signatures' | 'signaturesOffset' | 'signatureSize' | 'patchLocation'>,
	regFuseVersion: number,
): SelectedSignature | null {
	const count = fw.signatures.length;
	if (count === 0) return null;
	const index = regFuseVersion === 0 ? count - 1 : fw.meta.fuseVer - regFuseVersion;
	const bytes = fw.signatures[index];
	if (!Number.isInteger(index) || index < 0 || bytes === undefined) {
		throw new FirmwareSignatureError(
			`no signature for fuse version ${regFuseVersion}: the file's fuse_ver is ${fw.meta.fuseVer} and it holds ${count} signature(s)`,
			{ regFuseVersion, fuseVer: fw.meta.fuseVer, numSignatures: count, index },
		);
	}
	return {
		index,
		fileOffset: fw.signaturesOffset + index * fw.signatureSize,
		patchLocation: fw.patchLocation,
		bytes,
	};
}
