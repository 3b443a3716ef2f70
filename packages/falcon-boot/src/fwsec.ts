/**
 * FWSEC-FRTS (hardware reference A.5, after nova `firmware/fwsec.rs` and nouveau `gsp/fwsec.c`): patch the
 * VBIOS FWSEC ucode so it carves the FRTS region and sets up WPR2, choose its signature from the fuse
 * version, load it on the GSP falcon, run it, and check what it reported.
 *
 * The patching and signature choice are pure functions of the ucode bytes ({@link buildFwsecImage}); the
 * hardware part is {@link runFwsecFrts}. GA10x+ (descriptor v3) DMA-loads FWSEC and programs the boot ROM;
 * TU10x/GA100 (descriptor v2) PIO-load the generic falcon bootloader, which DMA-loads FWSEC itself.
 *
 * @module
 */

import { array, encode, struct, u32, u64 } from '@gspkit/abi';
import {
	type Bar0,
	type Clock,
	type DmaMemory,
	GSP,
	hex,
	NV_PBUS_SW_SCRATCH_0E_FRTS_ERR,
	NV_PFB_PRI_MMU_WPR2_ADDR_HI,
	NV_PFB_PRI_MMU_WPR2_ADDR_LO,
	readWpr2,
} from '@gspkit/hal';
import { FwsecError, FwsecSignatureError, UcodeFormatError, Wpr2AlreadyUpError } from './errors.ts';
import { FALCON_BLOCK_SIZE, Falcon, type FalconVariant } from './falcon.ts';
import type { GenBootloader } from './firmware/gen-bootloader.ts';
import { readFuseVersion } from './fuse.ts';
import { type FalconUcode, FWSEC_SIGNATURE_SIZE } from './vbios.ts';

/** DMEM-mapper `init_cmd` values. */
export const FWSEC_COMMAND = Object.freeze({ FRTS: 0x15, SB: 0x19 });
/** App-interface ID of the DMEM mapper. */
export const APPIF_ID_DMEMMAPPER = 4;
/** `FrtsRegion.type` for a frame-buffer region. */
export const FRTS_REGION_TYPE_FB = 2;
/** Byte offset of `init_cmd` in the DMEM mapper v3. */
export const DMEMMAPPER_INIT_CMD_OFFSET = 44;
/** Size of the DMEM mapper v3 (packed). */
export const DMEMMAPPER_SIZE = 64;
/** Size of `ReadVbios` in the FRTS command. */
export const FRTS_READ_VBIOS_SIZE = 24;
/** Size of `FrtsRegion` in the FRTS command. */
export const FRTS_REGION_SIZE = 20;
/** Size of the whole FRTS command (`ReadVbios` + `FrtsRegion`). */
export const FRTS_COMMAND_SIZE = FRTS_READ_VBIOS_SIZE + FRTS_REGION_SIZE;
/** IMEM size below whose top the generic bootloader is placed (reference A.5, Turing variant). */
export const GEN_BOOTLOADER_IMEM_TOP = 0x10000;
/** DMA context index the generic bootloader uses (`FALCON_DMAIDX_PHYS_SYS_NCOH`). */
export const GEN_BOOTLOADER_CTX_DMA = 4;

/** `BootloaderDmemDescV2` (packed, 84 bytes): what the generic bootloader reads from DMEM 0. */
export const BootloaderDmemDescV2 = struct(
	'BootloaderDmemDescV2',
	[
		['reserved', array(u32, 4)],
		['signature', array(u32, 4)],
		['ctx_dma', u32],
		['code_dma_base', u64],
		['non_sec_code_off', u32],
		['non_sec_code_size', u32],
		['sec_code_off', u32],
		['sec_code_size', u32],
		['code_entry_point', u32],
		['data_dma_base', u64],
		['data_size', u32],
		['argc', u32],
		['argv', u32],
	],
	{ packed: true },
);

/** The FRTS region FWSEC is asked to carve. */
export interface FrtsRegion {
	/** FB offset (4 KiB aligned). */
	readonly base: bigint;
	/** Size in bytes (4 KiB multiple; 1 MiB in practice). */
	readonly size: bigint;
}

/** Where {@link patchFwsecCommand} wrote, as offsets in the ucode image. */
export interface FwsecPatch {
	/** The app-interface table header. */
	readonly appInterfaceOffset: number;
	/** The DMEM mapper. */
	readonly dmemMapperOffset: number;
	/** The patched `init_cmd` word. */
	readonly initCmdOffset: number;
	/** The FRTS command (`cmd_in_buffer_offset`). */
	readonly commandOffset: number;
	/** The command written to `init_cmd`. */
	readonly command: number;
}

const fmt = (n: number | bigint) => hex(n, 1);

/** Bounds-checked access to the DMEM image of a ucode; errors report offsets in the whole ucode image. */
class DmemImage {
	readonly bytes: Uint8Array;
	readonly view: DataView;
	/** Offset of the DMEM image in the ucode, for error messages. */
	readonly base: number;
	constructor(bytes: Uint8Array, base: number) {
		this.bytes = bytes;
		this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		this.base = base;
	}
	need(off: number, size: number, field: string, at = off): void {
		if (!Number.isSafeInteger(off) || off < 0 || off + size > this.bytes.length) {
			throw new UcodeFormatError('fwsec', 'FWSEC', {
				field,
				offset: this.base + Math.max(at, 0),
				expected: `a range inside the ${fmt(this.bytes.length)}-byte DMEM image`,
				actual: `DMEM ${fmt(off)}..+${fmt(size)}`,
			});
		}
	}
	u8(off: number, field: string): number {
		this.need(off, 1, field);
		return this.view.getUint8(off);
	}
	u32(off: number, field: string, at = off): number {
		this.need(off, 4, field, at);
		return this.view.getUint32(off, true);
	}
	setU32(off: number, v: number, field: string): void {
		this.need(off, 4, field);
		this.view.setUint32(off, v >>> 0, true);
	}
	setU64(off: number, v: bigint, field: string): void {
		this.need(off, 8, field);
		this.view.setBigUint64(off, v, true);
	}
}

/**
 * Patch FWSEC's DMEM image to run `command` (reference A.5 "Patching"): find the DMEMMAPPER (id 4) in the
 * app-interface table v1 at `interfaceOffset`, set its `init_cmd` (offset 44), and write the command at its
 * `cmd_in_buffer_offset`: `ReadVbios{ver 1, hdr 24, addr 0, size 0, flags 2}`, plus for FRTS
 * `FrtsRegion{ver 1, hdr 20, addr = base >> 12, size = size >> 12, type 2 (FB)}`.
 *
 * @param dmem the DMEM image (modified in place).
 * @param dmemImageOffset where the DMEM image starts in the ucode (only for error offsets).
 * @throws UcodeFormatError naming the table/field and its ucode offset.
 */
export function patchFwsecCommand(
	dmem: Uint8Array,
	dmemImageOffset: number,
	interfaceOffset: number,
	frts: FrtsRegion,
	command: number = FWSEC_COMMAND.FRTS,
): FwsecPatch {
	const d = new DmemImage(dmem, dmemImageOffset);
	const h = interfaceOffset;
	d.need(h, 4, 'app interface table header (interface_offset)');
	const version = d.u8(h, 'app interface table.version');
	if (version !== 1) {
		throw new UcodeFormatError('fwsec', 'FWSEC', {
			field: 'app interface table.version',
			offset: dmemImageOffset + h,
			expected: '1',
			actual: String(version),
		});
	}
	const headerSize = d.u8(h + 1, 'app interface table.header_size');
	const entrySize = d.u8(h + 2, 'app interface table.entry_size');
	const count = d.u8(h + 3, 'app interface table.entry_count');
	if (entrySize < 8) {
		throw new UcodeFormatError('fwsec', 'FWSEC', {
			field: 'app interface table.entry_size',
			offset: dmemImageOffset + h + 2,
			expected: '>= 8',
			actual: fmt(entrySize),
		});
	}
	let mapper = -1;
	// entry_count is a u8: at most 255 entries.
	for (let i = 0; i < count; i++) {
		const e = h + headerSize + i * entrySize;
		if (d.u32(e, `app interface entry[${i}].id`) === APPIF_ID_DMEMMAPPER) {
			mapper = d.u32(e + 4, `app interface entry[${i}].dmem_base`);
			d.need(mapper, DMEMMAPPER_SIZE, 'DMEM mapper (app interface DMEMMAPPER.dmem_base)', e + 4);
			break;
		}
	}
	if (mapper < 0) {
		throw new UcodeFormatError('fwsec', 'FWSEC', {
			field: 'app interface table',
			offset: dmemImageOffset + h,
			expected: `an entry with id ${APPIF_ID_DMEMMAPPER} (DMEMMAPPER)`,
			actual: `none among ${count} entries`,
		});
	}
	const cmdIn = d.u32(mapper + 8, 'DMEM mapper.cmd_in_buffer_offset');
	d.setU32(mapper + DMEMMAPPER_INIT_CMD_OFFSET, command, 'DMEM mapper.init_cmd');
	const cmdSize = command === FWSEC_COMMAND.FRTS ? FRTS_COMMAND_SIZE : FRTS_READ_VBIOS_SIZE;
	d.need(cmdIn, cmdSize, 'FWSEC command (DMEM mapper.cmd_in_buffer_offset)', mapper + 8);
	// ReadVbios
	d.setU32(cmdIn, 1, 'ReadVbios.ver');
	d.setU32(cmdIn + 4, FRTS_READ_VBIOS_SIZE, 'ReadVbios.hdr');
	d.setU64(cmdIn + 8, 0n, 'ReadVbios.addr');
	d.setU32(cmdIn + 16, 0, 'ReadVbios.size');
	d.setU32(cmdIn + 20, 2, 'ReadVbios.flags');
	if (command === FWSEC_COMMAND.FRTS) {
		const addr = frts.base >> 12n;
		const size = frts.size >> 12n;
		if (
			frts.base % 4096n !== 0n ||
			frts.size % 4096n !== 0n ||
			addr > 0xffff_ffffn ||
			size > 0xffff_ffffn ||
			size === 0n
		) {
			throw new FwsecError(
				'frts-error',
				`FRTS region ${fmt(frts.base)}+${fmt(frts.size)} cannot be encoded (4 KiB units, 32 bits)`,
				{
					frtsBase: fmt(frts.base),
					frtsSize: fmt(frts.size),
				},
			);
		}
		const r = cmdIn + FRTS_READ_VBIOS_SIZE;
		d.setU32(r, 1, 'FrtsRegion.ver');
		d.setU32(r + 4, FRTS_REGION_SIZE, 'FrtsRegion.hdr');
		d.setU32(r + 8, Number(addr), 'FrtsRegion.addr');
		d.setU32(r + 12, Number(size), 'FrtsRegion.size');
		d.setU32(r + 16, FRTS_REGION_TYPE_FB, 'FrtsRegion.type');
	}
	return {
		appInterfaceOffset: dmemImageOffset + h,
		dmemMapperOffset: dmemImageOffset + mapper,
		initCmdOffset: dmemImageOffset + mapper + DMEMMAPPER_INIT_CMD_OFFSET,
		commandOffset: dmemImageOffset + cmdIn,
		command,
	};
}

/**
 * Choose the FWSEC signature for fuse version `fuseVersion` (reference A.5): `signatureVersions` must have
 * bit `1 << fuseVersion`; the index is the number of lower versions present,
 * `popcount(signatureVersions & ((1 << fuseVersion) − 1))`.
 * @throws FwsecSignatureError when the version is not covered or the index exceeds the signature count.
 */
export function fwsecSignatureIndex(
	signatureVersions: number,
	signatureCount: number,
	fuseVersion: number,
): number {
	const details = { fuseVersion, signatureVersions: fmt(signatureVersions), signatureCount };
	if (!Number.isInteger(fuseVersion) || fuseVersion < 0 || fuseVersion > 15) {
		throw new FwsecSignatureError(`fuse version ${fuseVersion} is outside 0..15`, details);
	}
	const bit = 1 << fuseVersion;
	if ((signatureVersions & bit) === 0) {
		throw new FwsecSignatureError(
			`no FWSEC signature for fuse version ${fuseVersion}: signature_versions ${fmt(signatureVersions)} lacks bit ${fmt(bit)}`,
			details,
		);
	}
	let index = 0;
	for (let m = signatureVersions & (bit - 1); m !== 0; m &= m - 1) index++;
	if (index >= signatureCount) {
		throw new FwsecSignatureError(
			`FWSEC signature index ${index} (fuse version ${fuseVersion}) is beyond the ${signatureCount} signature(s) present`,
			{ ...details, index },
		);
	}
	return index;
}

/** A patched FWSEC ucode laid out for loading. */
export interface FwsecImage {
	/** Descriptor version (3: DMA + boot ROM; 2: generic bootloader). */
	readonly descVersion: 2 | 3;
	/** The image: IMEM part at 0, DMEM part at {@link FwsecImage.dmemOffset} (256-byte aligned). */
	readonly bytes: Uint8Array;
	/** Bytes of the IMEM part. */
	readonly imemLength: number;
	/** Offset of the DMEM part in {@link FwsecImage.bytes}. */
	readonly dmemOffset: number;
	/** Bytes of the DMEM part (`dmem_load_size`). */
	readonly dmemLength: number;
	/** What was patched. */
	readonly patch: FwsecPatch;
	/** The chosen signature (v3). */
	readonly signature: {
		readonly index: number;
		readonly fuseVersion: number;
		readonly dmemOffset: number;
	} | null;
}

/** Inputs of {@link buildFwsecImage}. */
export interface FwsecBuildParams {
	readonly frts: FrtsRegion;
	/** The GSP fuse version for the descriptor's ucode ID (v3 only; see `readFuseVersion`). */
	readonly fuseVersion?: number;
	/** DMEM-mapper command (default FRTS). */
	readonly command?: number;
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Copy the FWSEC ucode out of the VBIOS into a fresh buffer laid out for loading (IMEM image at 0, DMEM image
 * at a 256-byte boundary), patch the FRTS command, and (v3) patch the signature chosen for the fuse version
 * into DMEM at `pkc_data_offset`. Pure.
 * @throws UcodeFormatError, FwsecSignatureError
 */
export function buildFwsecImage(fw: FalconUcode, params: FwsecBuildParams): FwsecImage {
	const desc = fw.desc;
	const imemLength = desc.imemLoadSize;
	const dmemSrc = fw.dmemImageOffset;
	const dmemOffset = roundUp(Math.max(imemLength, desc.version === 2 ? dmemSrc : 0), FALCON_BLOCK_SIZE);
	const dmemLength = desc.dmemLoadSize;
	const bytes = new Uint8Array(dmemOffset + roundUp(dmemLength, FALCON_BLOCK_SIZE));
	bytes.set(fw.ucode.subarray(0, imemLength), 0);
	bytes.set(fw.ucode.subarray(dmemSrc, dmemSrc + dmemLength), dmemOffset);
	const dmem = bytes.subarray(dmemOffset, dmemOffset + dmemLength);
	const patch = patchFwsecCommand(dmem, dmemSrc, desc.interfaceOffset, params.frts, params.command);
	let signature: FwsecImage['signature'] = null;
	if (desc.version === 3) {
		const fuseVersion = params.fuseVersion ?? 0;
		const index = fwsecSignatureIndex(desc.signatureVersions, fw.signatures.length, fuseVersion);
		const sig = fw.signatures[index] as Uint8Array;
		new DmemImage(dmem, dmemSrc).need(
			desc.pkcDataOffset,
			FWSEC_SIGNATURE_SIZE,
			'FalconUCodeDescV3.pkc_data_offset',
		);
		dmem.set(sig, desc.pkcDataOffset);
		signature = { index, fuseVersion, dmemOffset: desc.pkcDataOffset };
	}
	return { descVersion: desc.version, bytes, imemLength, dmemOffset, dmemLength, patch, signature };
}

/** Inputs of {@link runFwsecFrts}. */
export interface FwsecRunOptions {
	readonly bar0: Bar0;
	readonly clock: Clock;
	readonly dma: DmaMemory;
	/** The GSP falcon's generation differences. */
	readonly variant: FalconVariant;
	/** The FWSEC ucode from the VBIOS. */
	readonly ucode: FalconUcode;
	/** The FRTS region (from the FB layout). */
	readonly frts: FrtsRegion;
	/** The generic falcon bootloader (required for descriptor v2: TU10x, GA100). */
	readonly genBootloader?: GenBootloader;
	/** PCI address, for the reset hint of {@link Wpr2AlreadyUpError}. */
	readonly pciAddress?: string;
}

/** What FWSEC-FRTS did. */
export interface FwsecResult {
	/** GSP MAILBOX0 after the run (0 = success). */
	readonly mailbox0: number;
	/** `NV_PBUS_SW_SCRATCH[0xe]` bits 31:16 (0 = success). */
	readonly frtsErrorCode: number;
	/** WPR2 as FWSEC set it. */
	readonly wpr2: { readonly start: bigint; readonly end: bigint };
	/** The loader path used. */
	readonly loader: 'dma' | 'gen-bootloader';
	/** The signature chosen (v3). */
	readonly signature: FwsecImage['signature'];
	/** The patch. */
	readonly patch: FwsecPatch;
}

/**
 * Run FWSEC-FRTS on the GSP falcon (reference A.5): refuse when WPR2 is already up, read the fuse version,
 * build the patched image, reset the GSP into its falcon core, load (DMA + boot ROM on v3, generic bootloader
 * on v2), run with MAILBOX0 = 0, then check MAILBOX0, `SW_SCRATCH[0xe]` 31:16 and WPR2 (HI ≠ 0, LO = FRTS base).
 * @throws Wpr2AlreadyUpError, FwsecError (with what the hardware reported), FwsecSignatureError,
 * UcodeFormatError, FalconError.
 */
export async function runFwsecFrts(o: FwsecRunOptions): Promise<FwsecResult> {
	const { bar0 } = o;
	const before = readWpr2(bar0);
	if (before !== undefined)
		throw new Wpr2AlreadyUpError(before.start, before.end, o.pciAddress ?? '<pci-address>');
	const desc = o.ucode.desc;
	const fuseVersion =
		desc.version === 3 ? readFuseVersion(bar0, desc.engineIdMask, desc.ucodeId, 'fwsec', 'FWSEC') : undefined;
	const image = buildFwsecImage(o.ucode, {
		frts: o.frts,
		...(fuseVersion === undefined ? {} : { fuseVersion }),
	});
	if (desc.version === 2 && o.genBootloader === undefined) {
		throw new UcodeFormatError('fwsec', 'FWSEC', {
			field: 'FalconUCodeDescV2',
			offset: o.ucode.location.romOffset,
			expected: 'a generic falcon bootloader (gen_bootloader / acr/bl.bin) to load a v2 FWSEC',
			actual: 'none given',
		});
	}
	const falcon = new Falcon({ bar0, clock: o.clock, engine: GSP, variant: o.variant, stage: 'fwsec' });
	const buf = o.dma.alloc(image.bytes.length, { align: 4096, zero: false, label: 'fwsec-frts' });
	let loader: FwsecResult['loader'];
	try {
		buf.bytes.set(image.bytes);
		await falcon.reset('falcon');
		if (desc.version === 3) {
			loader = 'dma';
			await falcon.dmaLoad(buf, [
				{ target: 'imem', secure: true, srcOffset: 0, dst: desc.imemPhysBase, length: image.imemLength },
				{
					target: 'dmem',
					secure: false,
					srcOffset: image.dmemOffset,
					dst: desc.dmemPhysBase,
					length: image.dmemLength,
				},
			]);
			falcon.programBrom({
				pkcDataOffset: desc.pkcDataOffset,
				engineIdMask: desc.engineIdMask,
				ucodeId: desc.ucodeId,
				algorithm: 'RSA3K',
			});
			falcon.setBootVector(0);
		} else {
			loader = 'gen-bootloader';
			const bl = o.genBootloader as GenBootloader;
			falcon.setupPhysicalDma(GEN_BOOTLOADER_CTX_DMA);
			const codeSize = roundUp(bl.code.length, FALCON_BLOCK_SIZE);
			falcon.pioWriteImem(GEN_BOOTLOADER_IMEM_TOP - codeSize, bl.code, { tag: bl.desc.startTag });
			const dmemDesc = new Uint8Array(BootloaderDmemDescV2.size);
			encode(
				BootloaderDmemDescV2,
				{
					reserved: [0, 0, 0, 0],
					signature: [0, 0, 0, 0],
					ctx_dma: GEN_BOOTLOADER_CTX_DMA,
					code_dma_base: buf.busAddress,
					non_sec_code_off: desc.imemPhysBase,
					non_sec_code_size: desc.imemLoadSize - desc.imemSecSize,
					sec_code_off: desc.imemSecBase,
					sec_code_size: desc.imemSecSize,
					code_entry_point: 0,
					data_dma_base: buf.busAddress + BigInt(image.dmemOffset),
					data_size: desc.dmemLoadSize,
					argc: 0,
					argv: 0,
				},
				dmemDesc,
			);
			falcon.pioWriteDmem(0, dmemDesc);
			falcon.setBootVector(bl.desc.startTag << 8);
		}
		const { mailbox0 } = await falcon.boot(0);
		return checkFrtsResult(bar0, o.frts, mailbox0, loader, image);
	} finally {
		o.dma.free(buf);
	}
}

function checkFrtsResult(
	bar0: Bar0,
	frts: FrtsRegion,
	mailbox0: number,
	loader: FwsecResult['loader'],
	image: FwsecImage,
): FwsecResult {
	const frtsErrorCode = NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.read(bar0).get('frts_err_code');
	const lo = NV_PFB_PRI_MMU_WPR2_ADDR_LO.read(bar0);
	const hi = NV_PFB_PRI_MMU_WPR2_ADDR_HI.read(bar0);
	const said = {
		mailbox0: fmt(mailbox0),
		frtsErrorCode: fmt(frtsErrorCode),
		wpr2Lo: fmt(lo.raw),
		wpr2Hi: fmt(hi.raw),
		frtsBase: fmt(frts.base),
		frtsSize: fmt(frts.size),
	};
	if (mailbox0 !== 0) {
		throw new FwsecError('mailbox', `GSP MAILBOX0 = ${fmt(mailbox0)} after FWSEC halted (0 = success)`, said);
	}
	if (frtsErrorCode !== 0) {
		throw new FwsecError(
			'frts-error',
			`NV_PBUS_SW_SCRATCH[0xe] reports FRTS error ${fmt(frtsErrorCode)}`,
			said,
		);
	}
	if (!hi.isSet()) {
		throw new FwsecError('wpr2-not-set', 'WPR2_ADDR_HI is 0 after FWSEC-FRTS: WPR2 was not set up', said);
	}
	if (lo.address() !== frts.base) {
		throw new FwsecError(
			'wpr2-mismatch',
			`WPR2 starts at ${fmt(lo.address())}, not at the FRTS base ${fmt(frts.base)}`,
			said,
		);
	}
	return {
		mailbox0,
		frtsErrorCode,
		wpr2: { start: lo.address(), end: hi.address() },
		loader,
		signature: image.signature,
		patch: image.patch,
	};
}
