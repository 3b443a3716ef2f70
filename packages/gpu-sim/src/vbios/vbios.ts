/**
 * VBIOS synthesis: a ROM image in the real format (reference A.4), deterministic per chip.
 *
 * The ROM is a PCI expansion-ROM chain of four images, each 512-byte aligned and starting with 0xAA55:
 *
 * 1. **PCI-AT** (code type 0x00): x86 legacy image holding the BIT table (`FF B8 'B' 'I' 'T' 00` at 0x1b0)
 *    whose falcon-data token 0x70 (version 2) points at the falcon ucode lookup table;
 * 2. **EFI** (code type 0x03): its PCIR says *last image* (the PCI-visible chain ends here) while its NPDE
 *    does not — the NVIDIA extension images that follow are found only through the NPDE;
 * 3. **FWSEC #1** and 4. **FWSEC #2** (code type 0xE0, "NPDS" data structures): #2 holds the lookup table
 *    (SEC_LIC 0x05, FWSEC_DBG 0x45, FWSEC_PROD 0x85) and the descriptors, signatures and ucode.
 *
 * The falcon-data pointer and the table's descriptor pointers reproduce the relocation quirk of real ROMs:
 * they are offsets into a *virtual* layout in which the PCI-AT image is immediately followed by the FWSEC
 * images (the EFI image is not counted), so a reader subtracts the PCI-AT length and indexes the
 * concatenated FWSEC images.
 *
 * @module
 */

import type { SimChipSpec } from '../chips.ts';
import type { BootProfile } from '../falcon/profile.ts';
import { ENGINE_ID_MASK } from '../falcon/registers.ts';
import { ByteWriter, DeterministicRandom, seedOf } from './bytes.ts';

/** PCIR code types (reference A.4). */
export const ROM_CODE_TYPE = Object.freeze({ PCI_AT: 0x00, EFI: 0x03, NBSI: 0x70, FWSEC: 0xe0 });

/** Falcon ucode lookup-table application IDs. */
export const FALCON_APP_ID = Object.freeze({ SEC_LIC: 0x05, FWSEC_DBG: 0x45, FWSEC_PROD: 0x85 });

/** BIT token ID of the falcon data (`'p'`). */
export const BIT_TOKEN_FALCON_DATA = 0x70;

/** DMEMMAPPER application-interface ID. */
export const APPIF_ID_DMEMMAPPER = 4;

/** "DMAP", the DMEM mapper v3 signature. */
export const DMEM_MAPPER_SIGNATURE = 0x50414d44;

/** Offset of the BIT header in the PCI-AT image (tinygrad reads it there). */
export const BIT_OFFSET = 0x1b0;

/** Size of one RSA-3K FWSEC signature. */
export const FWSEC_SIGNATURE_SIZE = 384;

/** One image of the ROM chain. */
export interface VbiosImageInfo {
	readonly offset: number;
	readonly length: number;
	readonly codeType: number;
	/** PCIR "last image" flag (bit 7). */
	readonly pcirLast: boolean;
	/** NPDE "last image" flag (bit 7). */
	readonly npdeLast: boolean;
}

/** The FWSEC ucode the VBIOS carries, with the layout facts the FWSEC model and tests need. */
export interface FwsecUcode {
	readonly descriptorVersion: 2 | 3;
	/** ROM offset of the descriptor. */
	readonly romOffset: number;
	/** Descriptor size from its header (v3: 44 + signatures; v2: 60). */
	readonly descriptorSize: number;
	/** The IMEM image (secure code), `imemLoadSize` bytes. */
	readonly imem: Uint8Array;
	/** The DMEM image as stored (before the driver patches it), `dmemLoadSize` bytes. */
	readonly dmem: Uint8Array;
	readonly interfaceOffset: number;
	/** DMEM offset of the DMEM mapper (from the app-interface table entry with ID 4). */
	readonly dmemMapperOffset: number;
	readonly cmdInBufferOffset: number;
	readonly cmdInBufferSize: number;
	/** DMEM offset of the signature (v3); 0 on v2 (no signatures). */
	readonly pkcDataOffset: number;
	readonly signatures: readonly Uint8Array[];
	readonly signatureVersions: number;
	readonly ucodeId: number;
	readonly engineIdMask: number;
}

/** A synthesized VBIOS. */
export interface VbiosImage {
	readonly rom: Uint8Array;
	readonly images: readonly VbiosImageInfo[];
	/** ROM offset of the BIT header. */
	readonly bitOffset: number;
	/** The raw value of the falcon-data pointer (in the relocated layout). */
	readonly falconDataPointer: number;
	/** Real ROM offset of the falcon ucode lookup table. */
	readonly lookupTableOffset: number;
	readonly fwsec: FwsecUcode;
}

interface UcodeBuild {
	readonly imem: Uint8Array;
	readonly dmem: Uint8Array;
	readonly interfaceOffset: number;
	readonly dmemMapperOffset: number;
	readonly cmdInBufferOffset: number;
	readonly cmdInBufferSize: number;
	readonly pkcDataOffset: number;
}

/** Build the IMEM and DMEM images of a FWSEC-like ucode with its app-interface table and DMEM mapper. */
function buildUcode(
	rng: DeterministicRandom,
	imemSize: number,
	dmemSize: number,
	withPkc: boolean,
): UcodeBuild {
	const imem = rng.bytes(imemSize);
	const dmem = rng.bytes(dmemSize);
	const dv = new DataView(dmem.buffer, dmem.byteOffset, dmem.byteLength);
	const pkcDataOffset = withPkc ? 0x400 : 0;
	if (withPkc) dmem.fill(0, pkcDataOffset, pkcDataOffset + FWSEC_SIGNATURE_SIZE);
	const interfaceOffset = 0xa00;
	const dmemMapperOffset = 0xb40;
	const cmdInBufferOffset = 0xc00;
	const cmdInBufferSize = 0x100;
	const cmdOut = 0xd00;
	// App-interface table v1: the DMEM mapper is the second of three entries.
	dmem.set([1, 4, 8, 3], interfaceOffset);
	const entries: [number, number][] = [
		[0x1, 0xe00],
		[APPIF_ID_DMEMMAPPER, dmemMapperOffset],
		[0x7, 0xe40],
	];
	entries.forEach(([id, base], i) => {
		dv.setUint32(interfaceOffset + 4 + 8 * i, id, true);
		dv.setUint32(interfaceOffset + 8 + 8 * i, base, true);
	});
	// DMEM mapper v3 (64 bytes, packed).
	const m = dmemMapperOffset;
	dmem.fill(0, m, m + 64);
	dv.setUint32(m + 0, DMEM_MAPPER_SIGNATURE, true);
	dv.setUint16(m + 4, 3, true);
	dv.setUint16(m + 6, 64, true);
	dv.setUint32(m + 8, cmdInBufferOffset, true);
	dv.setUint32(m + 12, cmdInBufferSize, true);
	dv.setUint32(m + 16, cmdOut, true);
	dv.setUint32(m + 20, 0x100, true);
	dv.setUint32(m + 36, rng.u32(), true); // ucode_build_time_stamp
	dv.setUint32(m + 40, rng.u32(), true); // ucode_signature
	dv.setUint32(m + 44, 0, true); // init_cmd: patched by the driver
	dv.setUint32(m + 52, (1 << 0x15) | (1 << 0x19), true); // ucode_cmd_mask0: FRTS and SB
	dmem.fill(0, cmdInBufferOffset, cmdOut + 0x100);
	return { imem, dmem, interfaceOffset, dmemMapperOffset, cmdInBufferOffset, cmdInBufferSize, pkcDataOffset };
}

function descriptorV3(
	u: UcodeBuild,
	engineIdMask: number,
	ucodeId: number,
	signatures: readonly Uint8Array[],
	signatureVersions: number,
): Uint8Array {
	const size = 44 + signatures.length * FWSEC_SIGNATURE_SIZE;
	const w = new ByteWriter(size + u.imem.length + u.dmem.length);
	w.u32((size << 16) | (3 << 8) | 1)
		.u32(u.imem.length + u.dmem.length) // stored_size
		.u32(u.pkcDataOffset)
		.u32(u.interfaceOffset)
		.u32(0) // imem_phys_base
		.u32(u.imem.length)
		.u32(0) // imem_virt_base
		.u32(0) // dmem_phys_base
		.u32(u.dmem.length)
		.u16(engineIdMask)
		.u8(ucodeId)
		.u8(signatures.length)
		.u16(signatureVersions)
		.u16(0);
	for (const s of signatures) w.bytes(s);
	return w.bytes(u.imem).bytes(u.dmem).finish();
}

function descriptorV2(u: UcodeBuild): Uint8Array {
	const size = 60;
	const stored = u.imem.length + u.dmem.length;
	const w = new ByteWriter(size + stored);
	w.u32((size << 16) | (2 << 8) | 1)
		.u32(stored) // stored_size
		.u32(stored) // uncompressed_size
		.u32(0) // virtual_entry
		.u32(u.interfaceOffset)
		.u32(0) // imem_phys_base
		.u32(u.imem.length) // imem_load_size (all secure)
		.u32(0) // imem_virt_base
		.u32(0) // imem_sec_base
		.u32(u.imem.length) // imem_sec_size
		.u32(u.imem.length) // dmem_offset (DMEM follows IMEM in the stored image)
		.u32(0) // dmem_phys_base
		.u32(u.dmem.length)
		.u32(0) // alt_imem_load_size
		.u32(0); // alt_dmem_load_size
	return w.bytes(u.imem).bytes(u.dmem).finish();
}

/** Write PCIR (or NPDS) at `pcir` and the NPDE after it, in an image of `len` bytes. */
function writePcirNpde(
	w: ByteWriter,
	imageStart: number,
	pcirRel: number,
	sig: 'PCIR' | 'NPDS',
	chip: SimChipSpec,
	len: number,
	codeType: number,
	pcirLast: boolean,
	npdeLast: boolean,
): void {
	const pcir = new ByteWriter(24);
	pcir
		.ascii(sig)
		.u16(0x10de)
		.u16(chip.deviceId)
		.u16(0) // device list pointer
		.u16(0x18) // PCI data structure length
		.u8(3) // revision
		.u8(chip.classCode & 0xff)
		.u8((chip.classCode >> 8) & 0xff)
		.u8((chip.classCode >> 16) & 0xff)
		.u16(len / 512)
		.u16(0x0001) // vendor ROM revision
		.u8(codeType)
		.u8(pcirLast ? 0x80 : 0)
		.u16(0); // max runtime image length
	w.setBytes(imageStart + pcirRel, pcir.finish());
	const npdeRel = (pcirRel + 0x18 + 0xf) & ~0xf;
	const npde = new ByteWriter(12);
	npde
		.ascii('NPDE')
		.u16(0x0101)
		.u16(0x10)
		.u16(len / 512)
		.u8(npdeLast ? 0x80 : 0)
		.u8(0);
	w.setBytes(imageStart + npdeRel, npde.finish());
}

/** Make the bytes of `[start, start+len)` sum to zero (x86 option-ROM checksum) via the last byte. */
function checksumImage(w: ByteWriter, start: number, len: number): void {
	const v = w.view();
	let sum = 0;
	for (let i = start; i < start + len - 1; i++) sum = (sum + v[i]!) & 0xff;
	w.setU8(start + len - 1, (0x100 - sum) & 0xff);
}

/**
 * Build the VBIOS ROM of a board. Deterministic: the same chip always gives the same bytes; image sizes,
 * ucode sizes and contents vary between chips so drivers cannot hard-code them.
 */
export function buildVbios(chip: SimChipSpec, profile: BootProfile): VbiosImage {
	const seed = seedOf(`vbios/${chip.name}`);
	const rng = new DeterministicRandom(seed);
	const pciAtLen = 0xe000 + 0x200 * (seed % 8);
	const efiLen = 0x9000 + 0x200 * ((seed >>> 3) % 8);
	const fwsec1Len = 0x1000 + 0x200 * ((seed >>> 6) % 4);

	// ---- FWSEC ucodes.
	const v3 = profile.fwsecDescriptorVersion === 3;
	const imemSize = 0x4000 + 0x100 * ((seed >>> 8) % 16);
	const dmemSize = 0x1c00 + 0x40 * ((seed >>> 12) % 8) + 0x24;
	const prod = buildUcode(new DeterministicRandom(`fwsec-prod/${chip.name}`), imemSize, dmemSize, v3);
	const versions = v3 ? profile.fwsec.signatureVersions : 0;
	const sigCount = popcount(versions);
	const sigRng = new DeterministicRandom(`fwsec-sig/${chip.name}`);
	const signatures = Array.from({ length: sigCount }, () => sigRng.bytes(FWSEC_SIGNATURE_SIZE));
	const prodDesc = v3
		? descriptorV3(prod, ENGINE_ID_MASK.GSP, profile.fwsec.ucodeId, signatures, versions)
		: descriptorV2(prod);
	const dbg = buildUcode(new DeterministicRandom(`fwsec-dbg/${chip.name}`), imemSize, dmemSize, v3);
	const dbgSigs = Array.from({ length: sigCount }, () => sigRng.bytes(FWSEC_SIGNATURE_SIZE));
	const dbgDesc = v3
		? descriptorV3(dbg, ENGINE_ID_MASK.GSP, profile.fwsec.ucodeId, dbgSigs, versions)
		: descriptorV2(dbg);
	const lic = buildUcode(new DeterministicRandom(`sec-lic/${chip.name}`), 0x400, 0x1000, false);
	const licDesc = v3 ? descriptorV3(lic, ENGINE_ID_MASK.SEC2, 1, [], 0) : descriptorV2(lic);

	// ---- FWSEC image #2 body: lookup table at 0x100, then descriptors (16-byte aligned).
	const tableRel = 0x100;
	const entries = [
		{ app: FALCON_APP_ID.SEC_LIC, target: 0x05, desc: licDesc },
		{ app: FALCON_APP_ID.FWSEC_DBG, target: 0x07, desc: dbgDesc },
		{ app: FALCON_APP_ID.FWSEC_PROD, target: 0x07, desc: prodDesc },
	];
	let cursor = tableRel + 4 + 6 * entries.length;
	const placed = entries.map((e) => {
		cursor = (cursor + 0xf) & ~0xf;
		const at = cursor;
		cursor += e.desc.length;
		return { ...e, at };
	});
	const fwsec2Len = Math.ceil((cursor + 1) / 512) * 512;

	// Relocated pointers: PCI-AT length + offset inside the concatenated FWSEC images.
	const reloc = (relInFwsec2: number): number => pciAtLen + fwsec1Len + relInFwsec2;

	const w = new ByteWriter(pciAtLen + efiLen + fwsec1Len + fwsec2Len);
	const images: VbiosImageInfo[] = [];

	// ---- Image 1: PCI-AT.
	const at0 = 0;
	w.bytes(rng.bytes(pciAtLen));
	w.setU16(at0, 0xaa55);
	w.setU8(at0 + 2, pciAtLen / 512);
	w.setU8(at0 + 3, 0xeb);
	w.setU8(at0 + 4, 0x4b);
	w.setU16(at0 + 0x18, 0x160);
	writePcirNpde(w, at0, 0x160, 'PCIR', chip, pciAtLen, ROM_CODE_TYPE.PCI_AT, false, false);
	// BIT header + tokens + token data.
	const tokens: { id: number; ver: number; data: Uint8Array }[] = [
		{ id: 0x32, ver: 1, data: rng.bytes(8) },
		{ id: 0x42, ver: 2, data: biosData(chip) },
		{ id: 0x43, ver: 2, data: rng.bytes(12) },
		{ id: 0x49, ver: 1, data: rng.bytes(16) },
		{ id: 0x4d, ver: 2, data: rng.bytes(8) },
		{ id: 0x50, ver: 2, data: rng.bytes(16) },
		{ id: 0x53, ver: 1, data: rng.bytes(8) },
		{ id: BIT_TOKEN_FALCON_DATA, ver: 2, data: u32le(reloc(tableRel)) },
		{ id: 0x75, ver: 1, data: rng.bytes(8) },
	];
	const header = new ByteWriter(12);
	header.u16(0xb8ff).ascii('BIT').u8(0).u16(0x0100).u8(12).u8(6).u8(tokens.length).u8(0);
	const hb = header.finish();
	hb[11] = (0x100 - hb.reduce((a, b) => (a + b) & 0xff, 0)) & 0xff;
	w.setBytes(at0 + BIT_OFFSET, hb);
	let dataAt = BIT_OFFSET + 12 + 6 * tokens.length + 0x10;
	tokens.forEach((t, i) => {
		const tok = new ByteWriter(6);
		tok.u8(t.id).u8(t.ver).u16(t.data.length).u16(dataAt);
		w.setBytes(at0 + BIT_OFFSET + 12 + 6 * i, tok.finish());
		w.setBytes(at0 + dataAt, t.data);
		dataAt += (t.data.length + 3) & ~3;
	});
	checksumImage(w, at0, pciAtLen);
	images.push({
		offset: at0,
		length: pciAtLen,
		codeType: ROM_CODE_TYPE.PCI_AT,
		pcirLast: false,
		npdeLast: false,
	});

	// ---- Image 2: EFI (PCI chain ends here; the NPDE continues).
	const at1 = w.length;
	w.bytes(rng.bytes(efiLen));
	w.setU16(at1, 0xaa55);
	w.setU16(at1 + 2, efiLen / 512);
	w.setU32(at1 + 4, 0x0ef1);
	w.setU16(at1 + 8, 0x0b); // EFI boot service driver
	w.setU16(at1 + 0xa, 0x8664); // x64
	w.setU16(at1 + 0xc, 0); // uncompressed
	w.setBytes(at1 + 0xe, new Uint8Array(8));
	w.setU16(at1 + 0x16, 0x60);
	w.setU16(at1 + 0x18, 0x1c);
	w.setBytes(at1 + 0x60, new Uint8Array([0x4d, 0x5a]));
	writePcirNpde(w, at1, 0x1c, 'PCIR', chip, efiLen, ROM_CODE_TYPE.EFI, true, false);
	checksumImage(w, at1, efiLen);
	images.push({ offset: at1, length: efiLen, codeType: ROM_CODE_TYPE.EFI, pcirLast: true, npdeLast: false });

	// ---- Image 3: FWSEC #1 (other NVIDIA data).
	const at2 = w.length;
	w.bytes(rng.bytes(fwsec1Len));
	w.setU16(at2, 0xaa55);
	w.setBytes(at2 + 2, new Uint8Array(0x16));
	w.setU16(at2 + 0x18, 0x20);
	writePcirNpde(w, at2, 0x20, 'NPDS', chip, fwsec1Len, ROM_CODE_TYPE.FWSEC, false, false);
	images.push({
		offset: at2,
		length: fwsec1Len,
		codeType: ROM_CODE_TYPE.FWSEC,
		pcirLast: false,
		npdeLast: false,
	});

	// ---- Image 4: FWSEC #2 (lookup table, descriptors, ucode), last image.
	const at3 = w.length;
	w.bytes(rng.bytes(fwsec2Len));
	w.setU16(at3, 0xaa55);
	w.setBytes(at3 + 2, new Uint8Array(0x16));
	w.setU16(at3 + 0x18, 0x20);
	writePcirNpde(w, at3, 0x20, 'NPDS', chip, fwsec2Len, ROM_CODE_TYPE.FWSEC, true, true);
	const table = new ByteWriter(4 + 6 * placed.length);
	table.u8(1).u8(4).u8(6).u8(placed.length);
	for (const p of placed) table.u8(p.app).u8(p.target).u32(reloc(p.at));
	w.setBytes(at3 + tableRel, table.finish());
	for (const p of placed) w.setBytes(at3 + p.at, p.desc);
	images.push({
		offset: at3,
		length: fwsec2Len,
		codeType: ROM_CODE_TYPE.FWSEC,
		pcirLast: true,
		npdeLast: true,
	});

	const prodPlaced = placed[2]!;
	return Object.freeze({
		rom: w.finish(),
		images,
		bitOffset: at0 + BIT_OFFSET,
		falconDataPointer: reloc(tableRel),
		lookupTableOffset: at3 + tableRel,
		fwsec: Object.freeze({
			descriptorVersion: profile.fwsecDescriptorVersion,
			romOffset: at3 + prodPlaced.at,
			descriptorSize: v3 ? 44 + sigCount * FWSEC_SIGNATURE_SIZE : 60,
			imem: prod.imem,
			dmem: prod.dmem,
			interfaceOffset: prod.interfaceOffset,
			dmemMapperOffset: prod.dmemMapperOffset,
			cmdInBufferOffset: prod.cmdInBufferOffset,
			cmdInBufferSize: prod.cmdInBufferSize,
			pkcDataOffset: prod.pkcDataOffset,
			signatures,
			signatureVersions: versions,
			ucodeId: v3 ? profile.fwsec.ucodeId : 0,
			engineIdMask: ENGINE_ID_MASK.GSP,
		}),
	});
}

/** BIT 'B' (BIOSDATA v2): BIOS version, OEM version, and padding. */
function biosData(chip: SimChipSpec): Uint8Array {
	const w = new ByteWriter(8);
	w.u32(0x94000000 | ((chip.architecture & 0xff) << 16) | ((chip.implementation & 0xff) << 8) | 0x01)
		.u8(0x01)
		.fill(3);
	return w.finish();
}

function u32le(v: number): Uint8Array {
	return new ByteWriter(4).u32(v).finish();
}

function popcount(v: number): number {
	let n = 0;
	for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
	return n;
}
