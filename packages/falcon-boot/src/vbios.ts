/**
 * VBIOS parsing (hardware reference A.4, after nova-core `vbios.rs`): the PCI expansion ROM chain, the BIT
 * table, the falcon ucode lookup table and the FWSEC descriptor with its signatures.
 *
 * The ROM is read through BAR0 at {@link VBIOS_ROM_BASE} with 32-bit reads, lazily: only as far as the
 * image chain reaches, never past {@link VBIOS_MAX_SIZE}. Parsing is a pure function of the bytes
 * ({@link parseVbios}), so tests feed it ROM images built in memory.
 *
 * Every read is bounds-checked and every loop bounded (image count, token count, table entries); a
 * malformed ROM gives a {@link VbiosFormatError} naming the field and its ROM offset.
 *
 * @module
 */

import { type Bar0, hex } from '@gspkit/hal';
import { VbiosFormatError } from './errors.ts';

/** BAR0 offset of the VBIOS ROM window (`NV_PROM`). */
export const VBIOS_ROM_BASE = 0x300000;
/** At most this many ROM bytes are read (the PROM window is 1 MiB). */
export const VBIOS_MAX_SIZE = 0x100000;
/** Image lengths are counted in 512-byte units. */
export const ROM_IMAGE_UNIT = 512;
/** At most this many images are followed in the chain. */
export const VBIOS_MAX_IMAGES = 32;

/** Accepted expansion ROM signatures: the PCI one and two NVIDIA variants. */
export const ROM_SIGNATURES: readonly number[] = Object.freeze([0xaa55, 0xbb77, 0x4e56]);

/** PCIR `code_type` values that matter. */
export const ROM_CODE_TYPE = Object.freeze({ PCI_AT: 0x00, EFI: 0x03, NBSI: 0x70, FWSEC: 0xe0 });

/** The BIT header's first six bytes: id 0xB8FF (LE) then `"BIT\0"`. */
export const BIT_HEADER_PATTERN: readonly number[] = Object.freeze([0xff, 0xb8, 0x42, 0x49, 0x54, 0x00]);

/** BIT token IDs used here. */
export const BIT_TOKEN = Object.freeze({ FALCON_DATA: 0x70 });

/** Falcon ucode application IDs in the lookup table. */
export const FALCON_UCODE_APP_ID = Object.freeze({ FWSEC_PROD: 0x85, FWSEC_DBG: 0x45, SEC_LIC: 0x05 });

/** Size of one RSA-3K FWSEC signature. */
export const FWSEC_SIGNATURE_SIZE = 384;
/** Size of `FalconUCodeDescV3` without its signatures. */
export const FALCON_UCODE_DESC_V3_SIZE = 44;
/** Size of `FalconUCodeDescV2` as the reference lists it (14 × u32). */
export const FALCON_UCODE_DESC_V2_SIZE = 56;
/** Size of `FalconUCodeDescV2` as nouveau declares it (15 × u32, with `DMEMPhysBase`). */
export const FALCON_UCODE_DESC_V2_EXT_SIZE = 60;

/** The PCI data structure (`"PCIR"`, or NVIDIA's `"NPDS"`). */
export interface PciDataStructure {
	/** ROM offset of the structure. */
	readonly offset: number;
	readonly signature: 'PCIR' | 'NPDS';
	readonly vendorId: number;
	readonly deviceId: number;
	readonly deviceListPointer: number;
	/** Length of the structure in bytes. */
	readonly length: number;
	readonly revision: number;
	/** Class code, 24 bits. */
	readonly classCode: number;
	/** Image length in 512-byte units. */
	readonly imageLength: number;
	readonly romRevision: number;
	/** 0x00 PCI-AT, 0x03 EFI, 0x70 NBSI, 0xE0 FWSEC. */
	readonly codeType: number;
	/** Raw last-image byte; bit 7 marks the last image. */
	readonly lastImage: number;
	readonly maxRuntimeLength: number;
}

/** NVIDIA's PCI data extension (`"NPDE"`). */
export interface NpdeStructure {
	/** ROM offset of the structure. */
	readonly offset: number;
	readonly version: number;
	readonly length: number;
	/** Sub-image length in 512-byte units (preferred over the PCIR length when non-zero). */
	readonly subimageLength: number;
	/** Raw last byte; bit 7 marks the last image. */
	readonly last: number;
}

/** One image of the expansion ROM chain. */
export interface RomImage {
	/** Position in the chain. */
	readonly index: number;
	/** ROM offset of the image. */
	readonly offset: number;
	/** Image length in bytes. */
	readonly length: number;
	/** The expansion ROM signature (0xAA55, 0xBB77 or 0x4E56). */
	readonly signature: number;
	readonly pcir: PciDataStructure;
	readonly npde: NpdeStructure | null;
	/** PCIR code type. */
	readonly codeType: number;
	/** Whether this image ends the chain (NPDE/PCIR last flag, or NBSI). */
	readonly last: boolean;
	/** The image's bytes (a view of the ROM). */
	readonly data: Uint8Array;
}

/** The BIT header. */
export interface BitHeader {
	/** ROM offset of the header. */
	readonly offset: number;
	readonly bcdVersion: number;
	readonly headerSize: number;
	readonly tokenSize: number;
	readonly tokenEntries: number;
	readonly checksum: number;
}

/** One BIT token. */
export interface BitToken {
	/** ROM offset of the token. */
	readonly offset: number;
	readonly id: number;
	readonly dataVersion: number;
	readonly dataSize: number;
	/** Offset of the token's data, from the start of the PCI-AT image. */
	readonly dataOffset: number;
}

/** Where a falcon-data pointer lands after relocation. */
export interface RelocatedPointer {
	/** The pointer as stored in the ROM. */
	readonly pointer: number;
	/** The image it lands in. */
	readonly image: RomImage;
	/** Offset within that image. */
	readonly imageOffset: number;
	/** ROM offset (`image.offset + imageOffset`). */
	readonly romOffset: number;
}

/** One entry of the falcon ucode lookup table. */
export interface UcodeTableEntry {
	/** ROM offset of the entry. */
	readonly offset: number;
	readonly appId: number;
	readonly targetId: number;
	/** The descriptor pointer as stored (relocate with {@link Vbios.relocate}). */
	readonly descPointer: number;
}

/** The falcon ucode lookup table (`PmuLookupTable`). */
export interface UcodeTable {
	/** Where it is. */
	readonly location: RelocatedPointer;
	readonly version: number;
	readonly headerLength: number;
	readonly entryLength: number;
	readonly entries: readonly UcodeTableEntry[];
}

/** `FalconUCodeDescV2` (TU10x, GA100): no signatures in the descriptor. */
export interface FalconUcodeDescV2 {
	readonly version: 2;
	/** The raw header word. */
	readonly hdr: number;
	/** Descriptor size from the header (bits 31:16); the ucode starts this far after the descriptor. */
	readonly size: number;
	/** Bit 0 of the header (set by real VBIOSes; reported, not required). */
	readonly versionAvailable: boolean;
	readonly storedSize: number;
	readonly uncompressedSize: number;
	readonly virtualEntry: number;
	readonly interfaceOffset: number;
	readonly imemPhysBase: number;
	readonly imemLoadSize: number;
	readonly imemVirtBase: number;
	readonly imemSecBase: number;
	readonly imemSecSize: number;
	/** Offset of the DMEM image in the ucode. */
	readonly dmemOffset: number;
	/** DMEM load address; only in the 60-byte (nouveau) form, else 0. */
	readonly dmemPhysBase: number;
	readonly dmemLoadSize: number;
	readonly altImemLoadSize: number;
	readonly altDmemLoadSize: number;
}

/** `FalconUCodeDescV3` (GA10x and later), followed by RSA-3K signatures. */
export interface FalconUcodeDescV3 {
	readonly version: 3;
	/** The raw header word. */
	readonly hdr: number;
	/** Descriptor size from the header (bits 31:16): the 44-byte descriptor plus the signatures. */
	readonly size: number;
	/** Bit 0 of the header (set by real VBIOSes; reported, not required). */
	readonly versionAvailable: boolean;
	readonly storedSize: number;
	/** DMEM offset where the chosen signature goes (`BROM_PARAADDR(0)`). */
	readonly pkcDataOffset: number;
	readonly interfaceOffset: number;
	readonly imemPhysBase: number;
	readonly imemLoadSize: number;
	readonly imemVirtBase: number;
	readonly dmemPhysBase: number;
	readonly dmemLoadSize: number;
	readonly engineIdMask: number;
	readonly ucodeId: number;
	readonly signatureCount: number;
	/** Bit `n` set: a signature for fuse version `n` is present. */
	readonly signatureVersions: number;
}

/** Either descriptor version. */
export type FalconUcodeDesc = FalconUcodeDescV2 | FalconUcodeDescV3;

/** A falcon ucode found through the lookup table: descriptor, signatures and image. */
export interface FalconUcode {
	/** The lookup-table entry it came from. */
	readonly entry: UcodeTableEntry;
	/** Where the descriptor is. */
	readonly location: RelocatedPointer;
	readonly desc: FalconUcodeDesc;
	/** RSA-3K signatures (v3 only), as views of the ROM. */
	readonly signatures: readonly Uint8Array[];
	/** The ucode (IMEM image, then DMEM image), a view of the ROM. */
	readonly ucode: Uint8Array;
	/** ROM offset of the ucode. */
	readonly ucodeRomOffset: number;
	/** Offset of the DMEM image inside {@link FalconUcode.ucode}. */
	readonly dmemImageOffset: number;
}

/** A parsed VBIOS. */
export interface Vbios {
	/**
	 * The ROM up to the end of the last image. From {@link readVbios}, only the 4 KiB pages the parser needed
	 * were read through BAR0 (the rest reads as zero) unless `readAll` was given.
	 */
	readonly rom: Uint8Array;
	/** Bytes read through BAR0 (`readVbios`), or the ROM length (`parseVbios`). */
	readonly bytesRead: number;
	/** Every image of the chain, in order. */
	readonly images: readonly RomImage[];
	/** The first PCI-AT image (holds the BIT). */
	readonly pciAt: RomImage;
	/** The FWSEC images (code type 0xE0), in order. */
	readonly fwsecImages: readonly RomImage[];
	readonly bit: BitHeader;
	readonly tokens: readonly BitToken[];
	/** The falcon-data token (0x70). */
	readonly falconDataToken: BitToken;
	/** The falcon ucode lookup table. */
	readonly ucodeTable: UcodeTable;
	/** FWSEC_PROD (app 0x85). */
	readonly fwsec: FalconUcode;
	/**
	 * Relocate a falcon-data pointer. Pointers assume the PCI-AT image is followed directly by the FWSEC
	 * images; in real ROMs other images (EFI) sit between, so the PCI-AT length is subtracted and the rest
	 * walks the FWSEC images in order (nova subtracts the first FWSEC image's length to reach the second).
	 */
	relocate(pointer: number, field: string, fieldOffset: number): RelocatedPointer;
}

/** Where ROM bytes come from: a complete image, or BAR0 read lazily page by page. */
interface RomSource {
	/** The ROM bytes (`limit` long); regions not yet made available may read as zero. */
	readonly bytes: Uint8Array;
	/** Make `[offset, offset + length)` available; false when it reaches past `limit`. */
	ensure(offset: number, length: number): boolean;
	/** The ROM size (or the most that can be read). */
	readonly limit: number;
}

function fixedSource(rom: Uint8Array): RomSource {
	return {
		bytes: rom,
		ensure: (offset, length) => offset >= 0 && offset + length <= rom.length,
		limit: rom.length,
	};
}

/** Page size of the lazy BAR0 reader. */
const ROM_PAGE = 4096;

/**
 * Reads BAR0's ROM window with 32-bit reads, one 4 KiB page at a time and only the pages the parser
 * touches (the EFI image, for one, is never read).
 */
class Bar0RomSource implements RomSource {
	limit: number;
	readonly bytes: Uint8Array;
	readonly #view: DataView;
	readonly #bar0: Bar0;
	readonly #loaded: Uint8Array;
	/** 32-bit reads done so far. */
	reads = 0;

	constructor(bar0: Bar0, limit: number) {
		this.#bar0 = bar0;
		this.limit = limit;
		this.bytes = new Uint8Array(limit);
		this.#view = new DataView(this.bytes.buffer);
		this.#loaded = new Uint8Array(Math.ceil(limit / ROM_PAGE));
	}

	ensure(offset: number, length: number): boolean {
		if (offset < 0 || length < 0 || offset + length > this.limit) return false;
		const last = Math.floor((offset + Math.max(length, 1) - 1) / ROM_PAGE);
		for (let p = Math.floor(offset / ROM_PAGE); p <= last; p++) {
			if (this.#loaded[p] === 1) continue;
			const end = Math.min(this.limit, (p + 1) * ROM_PAGE);
			for (let off = p * ROM_PAGE; off < end; off += 4) {
				this.#view.setUint32(off, this.#bar0.read32(VBIOS_ROM_BASE + off) >>> 0, true);
			}
			this.reads += (end - p * ROM_PAGE) / 4;
			this.#loaded[p] = 1;
		}
		return true;
	}

	/** Once the image chain is known, never read past its end. */
	restrict(end: number): void {
		if (end < this.limit) this.limit = end;
	}
}

const fmt = (n: number) => hex(n, 1);

function fail(field: string, offset: number, expected: string, actual: string): never {
	throw new VbiosFormatError({ field, offset, expected, actual });
}

/** Bounds-checked little-endian reads over a {@link RomSource}. */
class RomReader {
	readonly src: RomSource;
	constructor(src: RomSource) {
		this.src = src;
	}

	need(offset: number, size: number, field: string, at = offset): void {
		if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.src.limit) {
			fail(field, at, `a range within the ${fmt(this.src.limit)}-byte ROM`, `${fmt(offset)}..+${fmt(size)}`);
		}
		if (!this.src.ensure(offset, size)) {
			fail(field, at, 'a range within the ROM that could be read', `${fmt(offset)}..+${fmt(size)}`);
		}
	}
	u8(off: number, field: string, at = off): number {
		this.need(off, 1, field, at);
		return this.src.bytes[off] as number;
	}
	u16(off: number, field: string, at = off): number {
		this.need(off, 2, field, at);
		const b = this.src.bytes;
		return (b[off] as number) | ((b[off + 1] as number) << 8);
	}
	u32(off: number, field: string, at = off): number {
		this.need(off, 4, field, at);
		const b = this.src.bytes;
		return (
			((b[off] as number) |
				((b[off + 1] as number) << 8) |
				((b[off + 2] as number) << 16) |
				((b[off + 3] as number) << 24)) >>>
			0
		);
	}
	ascii(off: number, n: number, field: string): string {
		this.need(off, n, field);
		let s = '';
		for (let i = 0; i < n; i++) s += String.fromCharCode(this.src.bytes[off + i] as number);
		return s;
	}
}

/** Read one image header (expansion ROM header, PCIR, optional NPDE) at `offset`. */
function readImage(r: RomReader, offset: number, index: number): RomImage {
	const signature = r.u16(offset, `image[${index}].signature`);
	if (!ROM_SIGNATURES.includes(signature)) {
		fail(`image[${index}].signature`, offset, '0xaa55, 0xbb77 or 0x4e56', fmt(signature));
	}
	const pcirRel = r.u16(offset + 0x18, `image[${index}].pcir_offset`);
	const p = offset + pcirRel;
	const sig = r.ascii(p, 4, `image[${index}].PCIR.signature`);
	if (sig !== 'PCIR' && sig !== 'NPDS') {
		fail(`image[${index}].PCIR.signature`, p, '"PCIR" or "NPDS"', JSON.stringify(sig));
	}
	const classLo = r.u16(p + 0x0d, `image[${index}].PCIR.class_code`);
	const pcir: PciDataStructure = {
		offset: p,
		signature: sig,
		vendorId: r.u16(p + 4, `image[${index}].PCIR.vendor_id`),
		deviceId: r.u16(p + 6, `image[${index}].PCIR.device_id`),
		deviceListPointer: r.u16(p + 8, `image[${index}].PCIR.device_list_ptr`),
		length: r.u16(p + 0x0a, `image[${index}].PCIR.pci_data_struct_len`),
		revision: r.u8(p + 0x0c, `image[${index}].PCIR.pci_data_struct_rev`),
		classCode: classLo | (r.u8(p + 0x0f, `image[${index}].PCIR.class_code`) << 16),
		imageLength: r.u16(p + 0x10, `image[${index}].PCIR.image_len`),
		romRevision: r.u16(p + 0x12, `image[${index}].PCIR.vendor_rom_rev`),
		codeType: r.u8(p + 0x14, `image[${index}].PCIR.code_type`),
		lastImage: r.u8(p + 0x15, `image[${index}].PCIR.last_image`),
		maxRuntimeLength: r.u16(p + 0x16, `image[${index}].PCIR.max_runtime_image_len`),
	};
	if (pcir.length < 0x18) {
		fail(`image[${index}].PCIR.pci_data_struct_len`, p + 0x0a, '>= 0x18', fmt(pcir.length));
	}
	// NPDE: 16-byte aligned after the PCIR, optional.
	const n = Math.ceil((p + pcir.length) / 16) * 16;
	let npde: NpdeStructure | null = null;
	if (r.src.ensure(n, 0x0b) && r.ascii(n, 4, 'NPDE') === 'NPDE') {
		npde = {
			offset: n,
			version: r.u16(n + 4, `image[${index}].NPDE.version`),
			length: r.u16(n + 6, `image[${index}].NPDE.npci_data_ext_len`),
			subimageLength: r.u16(n + 8, `image[${index}].NPDE.subimage_len`),
			last: r.u8(n + 0x0a, `image[${index}].NPDE.last`),
		};
	}
	const units = npde !== null && npde.subimageLength !== 0 ? npde.subimageLength : pcir.imageLength;
	if (units === 0) {
		// A zero NPDE sub-image length falls back to the PCIR length, so the PCIR field is the one that is 0.
		fail(
			`image[${index}].image_len`,
			p + 0x10,
			'a non-zero PCIR image_len or NPDE subimage_len (512-byte units)',
			'0',
		);
	}
	const length = units * ROM_IMAGE_UNIT;
	const flag = npde !== null ? npde.last : pcir.lastImage;
	const last = (flag & 0x80) !== 0 || pcir.codeType === ROM_CODE_TYPE.NBSI;
	return {
		index,
		offset,
		length,
		signature,
		pcir,
		npde,
		codeType: pcir.codeType,
		last,
		data: new Uint8Array(0),
	};
}

/** Walk the image chain from offset 0 until the last image (bounded by size and count). */
function readChain(r: RomReader): RomImage[] {
	const images: RomImage[] = [];
	let offset = 0;
	for (let index = 0; ; index++) {
		if (index >= VBIOS_MAX_IMAGES) {
			fail('image chain', offset, `at most ${VBIOS_MAX_IMAGES} images`, 'more (no last-image flag)');
		}
		const img = readImage(r, offset, index);
		images.push(img);
		if (img.last) break;
		offset += img.length;
		if (offset >= r.src.limit) {
			fail(
				`image[${index}].last_image`,
				img.npde?.offset ?? img.pcir.offset + 0x15,
				'the last-image flag before the end of the ROM',
				`a chain running past ${fmt(r.src.limit)}`,
			);
		}
	}
	return images;
}

function findPattern(data: Uint8Array, pattern: readonly number[], from: number, to: number): number {
	const first = pattern[0] as number;
	for (
		let i = data.indexOf(first, from);
		i >= 0 && i + pattern.length <= to;
		i = data.indexOf(first, i + 1)
	) {
		let ok = true;
		for (let j = 1; j < pattern.length; j++) {
			if (data[i + j] !== pattern[j]) {
				ok = false;
				break;
			}
		}
		if (ok) return i;
	}
	return -1;
}

/** Search `[from, to)` page by page, making only the pages searched available. */
function findPatternLazy(src: RomSource, pattern: readonly number[], from: number, to: number): number {
	for (let pos = from; pos < to; pos += ROM_PAGE) {
		const hi = Math.min(to, pos + ROM_PAGE + pattern.length - 1);
		if (!src.ensure(pos, hi - pos)) return -1;
		const i = findPattern(src.bytes, pattern, pos, hi);
		if (i >= 0) return i;
	}
	return -1;
}

/** Options of {@link parseVbios} and {@link readVbios}. */
export interface VbiosOptions {
	/** Falcon ucode app ID to extract (default FWSEC_PROD 0x85). */
	readonly fwsecAppId?: number;
	/**
	 * {@link readVbios} only: read every byte of the image chain (for dumps). By default only the pages the
	 * parser needs are read through BAR0, and the rest of {@link Vbios.rom} reads as zero.
	 */
	readonly readAll?: boolean;
}

function parseFrom(src: RomSource, options: VbiosOptions): Vbios {
	const r = new RomReader(src);
	const chain = readChain(r);
	const end = chain.reduce((m, i) => Math.max(m, i.offset + i.length), 0);
	if (end > src.limit) {
		const lastImg = chain[chain.length - 1] as RomImage;
		fail(
			`image[${lastImg.index}].image_len`,
			lastImg.npde?.offset ?? lastImg.pcir.offset + 0x10,
			`an image ending within the ${fmt(src.limit)}-byte ROM`,
			`end ${fmt(end)}`,
		);
	}
	if (src instanceof Bar0RomSource) src.restrict(end);
	if (options.readAll === true) src.ensure(0, end);
	const rom = src.bytes.subarray(0, end);
	const images = chain.map((i) => ({ ...i, data: rom.subarray(i.offset, i.offset + i.length) }));
	const pciAt = images.find((i) => i.codeType === ROM_CODE_TYPE.PCI_AT);
	if (pciAt === undefined) fail('image chain', 0, 'a PCI-AT image (code type 0x00)', 'none');
	const fwsecImages = images.filter((i) => i.codeType === ROM_CODE_TYPE.FWSEC);

	// BIT header: search the PCI-AT image.
	const bitOff = findPatternLazy(src, BIT_HEADER_PATTERN, pciAt.offset, pciAt.offset + pciAt.length);
	if (bitOff < 0) fail('BIT header', pciAt.offset, 'FF B8 "BIT" 00 in the PCI-AT image', 'not found');
	const bit: BitHeader = {
		offset: bitOff,
		bcdVersion: r.u16(bitOff + 6, 'BIT.bcd_version'),
		headerSize: r.u8(bitOff + 8, 'BIT.header_size'),
		tokenSize: r.u8(bitOff + 9, 'BIT.token_size'),
		tokenEntries: r.u8(bitOff + 10, 'BIT.token_entries'),
		checksum: r.u8(bitOff + 11, 'BIT.checksum'),
	};
	if (bit.headerSize < 12) fail('BIT.header_size', bitOff + 8, '>= 12', fmt(bit.headerSize));
	if (bit.tokenSize < 6) fail('BIT.token_size', bitOff + 9, '>= 6', fmt(bit.tokenSize));
	const tokens: BitToken[] = [];
	// token_entries is a u8: at most 255 iterations.
	for (let i = 0; i < bit.tokenEntries; i++) {
		const t = bitOff + bit.headerSize + i * bit.tokenSize;
		tokens.push({
			offset: t,
			id: r.u8(t, `BIT token[${i}].id`),
			dataVersion: r.u8(t + 1, `BIT token[${i}].data_version`),
			dataSize: r.u16(t + 2, `BIT token[${i}].data_size`),
			dataOffset: r.u16(t + 4, `BIT token[${i}].data_offset`),
		});
	}
	const falconDataToken = tokens.find((t) => t.id === BIT_TOKEN.FALCON_DATA);
	if (falconDataToken === undefined) {
		fail('BIT token 0x70 (falcon data)', bitOff, 'present', `absent among ${tokens.length} tokens`);
	}
	if (falconDataToken.dataSize < 4) {
		fail('BIT token 0x70.data_size', falconDataToken.offset + 2, '>= 4', fmt(falconDataToken.dataSize));
	}
	const fdOff = pciAt.offset + falconDataToken.dataOffset;
	const tablePointer = r.u32(fdOff, 'falcon data.ucode_table_pointer', falconDataToken.offset + 4);

	const relocate = (pointer: number, field: string, fieldOffset: number): RelocatedPointer => {
		if (fwsecImages.length === 0) {
			if (pointer >= pciAt.length)
				fail(field, fieldOffset, `a pointer within the PCI-AT image (< ${fmt(pciAt.length)})`, fmt(pointer));
			return { pointer, image: pciAt, imageOffset: pointer, romOffset: pciAt.offset + pointer };
		}
		if (pointer < pciAt.length) {
			fail(field, fieldOffset, `a pointer past the PCI-AT image (>= ${fmt(pciAt.length)})`, fmt(pointer));
		}
		let p = pointer - pciAt.length;
		for (const img of fwsecImages) {
			if (p < img.length) return { pointer, image: img, imageOffset: p, romOffset: img.offset + p };
			p -= img.length;
		}
		const total = fwsecImages.reduce((s, i) => s + i.length, pciAt.length);
		return fail(field, fieldOffset, `a pointer below ${fmt(total)} (PCI-AT + FWSEC images)`, fmt(pointer));
	};

	// Falcon ucode lookup table.
	const tloc = relocate(tablePointer, 'falcon data.ucode_table_pointer', fdOff);
	const inImage = (loc: RelocatedPointer, off: number, size: number, field: string, at: number) => {
		if (off < 0 || loc.imageOffset + off + size > loc.image.length) {
			fail(
				field,
				at,
				`a range inside image[${loc.image.index}]`,
				`${fmt(loc.romOffset + off)}..+${fmt(size)}`,
			);
		}
	};
	const t0 = tloc.romOffset;
	inImage(tloc, 0, 4, 'ucode table header', t0);
	const ucodeTable = {
		location: tloc,
		version: r.u8(t0, 'ucode table.version'),
		headerLength: r.u8(t0 + 1, 'ucode table.header_len'),
		entryLength: r.u8(t0 + 2, 'ucode table.entry_len'),
		entries: [] as UcodeTableEntry[],
	};
	const entryCount = r.u8(t0 + 3, 'ucode table.entry_count');
	if (ucodeTable.headerLength < 4)
		fail('ucode table.header_len', t0 + 1, '>= 4', fmt(ucodeTable.headerLength));
	if (ucodeTable.entryLength < 6) fail('ucode table.entry_len', t0 + 2, '>= 6', fmt(ucodeTable.entryLength));
	inImage(
		tloc,
		0,
		ucodeTable.headerLength + entryCount * ucodeTable.entryLength,
		'ucode table.entry_count',
		t0 + 3,
	);
	// entry_count is a u8: at most 255 iterations.
	for (let i = 0; i < entryCount; i++) {
		const e = t0 + ucodeTable.headerLength + i * ucodeTable.entryLength;
		ucodeTable.entries.push({
			offset: e,
			appId: r.u8(e, `ucode table entry[${i}].app_id`),
			targetId: r.u8(e + 1, `ucode table entry[${i}].target_id`),
			descPointer: r.u32(e + 2, `ucode table entry[${i}].desc_ptr`),
		});
	}
	const appId = options.fwsecAppId ?? FALCON_UCODE_APP_ID.FWSEC_PROD;
	const entry = ucodeTable.entries.find((e) => e.appId === appId);
	if (entry === undefined) {
		fail(
			`ucode table app ${fmt(appId)}`,
			t0,
			'an entry for the FWSEC ucode',
			`absent (apps ${ucodeTable.entries.map((e) => fmt(e.appId)).join(', ') || 'none'})`,
		);
	}
	const fwsec = readFalconUcode(
		r,
		entry,
		relocate(entry.descPointer, 'ucode table entry.desc_ptr', entry.offset + 2),
	);
	return {
		rom,
		bytesRead: src instanceof Bar0RomSource ? src.reads * 4 : rom.length,
		images,
		pciAt,
		fwsecImages,
		bit,
		tokens,
		falconDataToken,
		ucodeTable,
		fwsec,
		relocate,
	};
}

function readFalconUcode(r: RomReader, entry: UcodeTableEntry, loc: RelocatedPointer): FalconUcode {
	const d = loc.romOffset;
	const imageEnd = loc.image.offset + loc.image.length;
	const within = (off: number, size: number, field: string, at: number) => {
		if (off + size > imageEnd) {
			fail(
				field,
				at,
				`a range inside image[${loc.image.index}] (ends ${fmt(imageEnd)})`,
				`${fmt(off)}..+${fmt(size)}`,
			);
		}
	};
	const hdr = r.u32(d, 'falcon ucode desc.hdr');
	const version = (hdr >>> 8) & 0xff;
	const size = hdr >>> 16;
	const versionAvailable = (hdr & 1) !== 0;
	const w = (i: number, name: string) => r.u32(d + 4 * i, `FalconUCodeDescV${version}.${name}`);
	let desc: FalconUcodeDesc;
	const signatures: Uint8Array[] = [];
	let dmemImageOffset: number;
	let ucodeLength: number;
	if (version === 3) {
		if (size < FALCON_UCODE_DESC_V3_SIZE)
			fail('FalconUCodeDescV3.hdr.size', d, `>= ${FALCON_UCODE_DESC_V3_SIZE}`, fmt(size));
		within(d, FALCON_UCODE_DESC_V3_SIZE, 'FalconUCodeDescV3', d);
		desc = {
			version: 3,
			hdr,
			size,
			versionAvailable,
			storedSize: w(1, 'stored_size'),
			pkcDataOffset: w(2, 'pkc_data_offset'),
			interfaceOffset: w(3, 'interface_offset'),
			imemPhysBase: w(4, 'imem_phys_base'),
			imemLoadSize: w(5, 'imem_load_size'),
			imemVirtBase: w(6, 'imem_virt_base'),
			dmemPhysBase: w(7, 'dmem_phys_base'),
			dmemLoadSize: w(8, 'dmem_load_size'),
			engineIdMask: r.u16(d + 36, 'FalconUCodeDescV3.engine_id_mask'),
			ucodeId: r.u8(d + 38, 'FalconUCodeDescV3.ucode_id'),
			signatureCount: r.u8(d + 39, 'FalconUCodeDescV3.signature_count'),
			signatureVersions: r.u16(d + 40, 'FalconUCodeDescV3.signature_versions'),
		};
		const sigBytes = desc.signatureCount * FWSEC_SIGNATURE_SIZE;
		if (FALCON_UCODE_DESC_V3_SIZE + sigBytes > size) {
			fail(
				'FalconUCodeDescV3.hdr.size',
				d,
				`>= 44 + signature_count (${desc.signatureCount}) × 384 = ${fmt(FALCON_UCODE_DESC_V3_SIZE + sigBytes)}`,
				fmt(size),
			);
		}
		within(d + FALCON_UCODE_DESC_V3_SIZE, sigBytes, 'FWSEC signatures', d + 39);
		r.need(d + FALCON_UCODE_DESC_V3_SIZE, sigBytes, 'FWSEC signatures', d + 39);
		// signature_count is a u8: at most 255 signatures.
		for (let i = 0; i < desc.signatureCount; i++) {
			const s = d + FALCON_UCODE_DESC_V3_SIZE + i * FWSEC_SIGNATURE_SIZE;
			signatures.push(r.src.bytes.subarray(s, s + FWSEC_SIGNATURE_SIZE));
		}
		dmemImageOffset = desc.imemLoadSize;
		ucodeLength = desc.imemLoadSize + desc.dmemLoadSize;
	} else if (version === 2) {
		if (size < FALCON_UCODE_DESC_V2_SIZE)
			fail('FalconUCodeDescV2.hdr.size', d, `>= ${FALCON_UCODE_DESC_V2_SIZE}`, fmt(size));
		// The reference lists 14 words; nouveau's struct has 15 (DMEMPhysBase after DMEMOffset). The header's size
		// field tells which one this ROM carries.
		const ext = size >= FALCON_UCODE_DESC_V2_EXT_SIZE;
		within(d, ext ? FALCON_UCODE_DESC_V2_EXT_SIZE : FALCON_UCODE_DESC_V2_SIZE, 'FalconUCodeDescV2', d);
		const k = ext ? 1 : 0;
		desc = {
			version: 2,
			hdr,
			size,
			versionAvailable,
			storedSize: w(1, 'stored_size'),
			uncompressedSize: w(2, 'uncompressed_size'),
			virtualEntry: w(3, 'virtual_entry'),
			interfaceOffset: w(4, 'interface_offset'),
			imemPhysBase: w(5, 'imem_phys_base'),
			imemLoadSize: w(6, 'imem_load_size'),
			imemVirtBase: w(7, 'imem_virt_base'),
			imemSecBase: w(8, 'imem_sec_base'),
			imemSecSize: w(9, 'imem_sec_size'),
			dmemOffset: w(10, 'dmem_offset'),
			dmemPhysBase: ext ? w(11, 'dmem_phys_base') : 0,
			dmemLoadSize: w(11 + k, 'dmem_load_size'),
			altImemLoadSize: w(12 + k, 'alt_imem_load_size'),
			altDmemLoadSize: w(13 + k, 'alt_dmem_load_size'),
		};
		if (desc.imemSecSize > desc.imemLoadSize) {
			fail(
				'FalconUCodeDescV2.imem_sec_size',
				d + 36,
				`<= imem_load_size (${fmt(desc.imemLoadSize)})`,
				fmt(desc.imemSecSize),
			);
		}
		dmemImageOffset = desc.dmemOffset;
		ucodeLength = Math.max(desc.imemLoadSize, desc.dmemOffset + desc.dmemLoadSize);
	} else {
		return fail('falcon ucode desc.hdr.version', d, '2 or 3', String(version));
	}
	const u0 = d + size;
	within(u0, ucodeLength, `FalconUCodeDescV${version} ucode (imem_load_size + dmem)`, d);
	r.need(u0, ucodeLength, 'falcon ucode image', d);
	return {
		entry,
		location: loc,
		desc,
		signatures,
		ucode: r.src.bytes.subarray(u0, u0 + ucodeLength),
		ucodeRomOffset: u0,
		dmemImageOffset,
	};
}

/**
 * Parse a VBIOS ROM image (as read from BAR0 0x300000): the image chain, BIT, falcon data, ucode table and
 * the FWSEC ucode. Pure: no hardware access.
 * @throws VbiosFormatError naming the field and its ROM offset.
 */
export function parseVbios(rom: Uint8Array, options: VbiosOptions = {}): Vbios {
	return parseFrom(fixedSource(rom.subarray(0, Math.min(rom.length, VBIOS_MAX_SIZE))), options);
}

/**
 * Read and parse the VBIOS through BAR0 (32-bit reads from {@link VBIOS_ROM_BASE}). Only the bytes the
 * image chain covers are read, at most {@link VBIOS_MAX_SIZE}.
 * @throws VbiosFormatError naming the field and its ROM offset.
 */
export function readVbios(bar0: Bar0, options: VbiosOptions = {}): Vbios {
	return parseFrom(new Bar0RomSource(bar0, VBIOS_MAX_SIZE), options);
}
