/**
 * Builds VBIOS ROM images in memory for tests, written from the reference (A.4/A.5) byte by byte with a
 * plain DataView — deliberately independent of src/vbios.ts, so a wrong offset on either side shows.
 */

export interface FwsecUcodeSpec {
	/** Descriptor version. */
	readonly version: 2 | 3;
	/** v2 only: write nouveau's 60-byte form (with dmem_phys_base) instead of the reference's 56 bytes. */
	readonly v2Extended?: boolean;
	readonly imem: Uint8Array;
	readonly dmem: Uint8Array;
	readonly interfaceOffset: number;
	readonly imemPhysBase?: number;
	readonly imemVirtBase?: number;
	readonly dmemPhysBase?: number;
	readonly pkcDataOffset?: number;
	readonly engineIdMask?: number;
	readonly ucodeId?: number;
	readonly signatureVersions?: number;
	readonly signatures?: readonly Uint8Array[];
	/** v2: imem_sec_base / imem_sec_size. */
	readonly imemSecBase?: number;
	readonly imemSecSize?: number;
	/** Override the header's size field. */
	readonly headerSize?: number;
	/** Set header bit 0 (default true). */
	readonly versionFlag?: boolean;
}

export interface RomSpec {
	readonly fwsec: FwsecUcodeSpec;
	/** Put an EFI image between PCI-AT and the FWSEC images (as real ROMs do). Default true. */
	readonly efi?: boolean;
	/** Size of the EFI image in 512-byte units (default 3). */
	readonly efiUnits?: number;
	/** Which FWSEC image holds the table and descriptor: 1 or 2 (default 2, with two FWSEC images). */
	readonly tableIn?: 1 | 2;
	/** Number of FWSEC images (1 or 2, default 2). */
	readonly fwsecImages?: 1 | 2;
	/** Signature of images after the first (default 0xAA55). */
	readonly altSignature?: number;
	/** Use "NPDS" instead of "PCIR" in the FWSEC images. */
	readonly npds?: boolean;
	/** Give each image an NPDE whose sub-image length is authoritative (PCIR length set to garbage). Default true. */
	readonly npde?: boolean;
	/** Add a trailing NBSI image (code type 0x70) without last flags. */
	readonly nbsiLast?: boolean;
	/** Extra lookup table entries before FWSEC_PROD. */
	readonly extraApps?: readonly number[];
	/** App ID of the FWSEC entry (default 0x85). */
	readonly fwsecAppId?: number;
	/** BIT tokens before the falcon token. */
	readonly extraTokens?: number;
}

export interface BuiltRom {
	readonly rom: Uint8Array;
	/** ROM offsets of interesting things. */
	readonly at: {
		readonly images: readonly { offset: number; length: number; codeType: number }[];
		readonly bit: number;
		readonly falconToken: number;
		readonly falconData: number;
		readonly table: number;
		readonly desc: number;
		readonly signatures: number;
		readonly ucode: number;
		readonly tablePointer: number;
		readonly descPointer: number;
	};
}

const UNIT = 512;

class Img {
	readonly bytes: Uint8Array;
	readonly dv: DataView;
	constructor(size: number) {
		this.bytes = new Uint8Array(size);
		this.dv = new DataView(this.bytes.buffer);
	}
	u8(o: number, v: number) {
		this.dv.setUint8(o, v);
	}
	u16(o: number, v: number) {
		this.dv.setUint16(o, v, true);
	}
	u32(o: number, v: number) {
		this.dv.setUint32(o, v >>> 0, true);
	}
	fill(v: number): this {
		this.bytes.fill(v);
		return this;
	}
	str(o: number, s: string) {
		for (let i = 0; i < s.length; i++) this.bytes[o + i] = s.charCodeAt(i);
	}
}

/** Write the expansion ROM header, PCIR (at 0x20) and optional NPDE (at 0x40) of an image. */
function header(
	img: Img,
	sig: number,
	codeType: number,
	units: number,
	last: boolean,
	o: { npde: boolean; npds?: boolean },
) {
	img.u16(0, sig);
	img.u16(0x18, 0x20);
	const p = 0x20;
	img.str(p, o.npds === true ? 'NPDS' : 'PCIR');
	img.u16(p + 4, 0x10de);
	img.u16(p + 6, 0x2204);
	img.u16(p + 0x0a, 0x18);
	img.u8(p + 0x0c, 3);
	img.u8(p + 0x0d, 0x00);
	img.u8(p + 0x0e, 0x00);
	img.u8(p + 0x0f, 0x03);
	// With an NPDE, the PCIR length is deliberately wrong: the NPDE sub-image length must win.
	img.u16(p + 0x10, o.npde ? 0x7fff : units);
	img.u8(p + 0x14, codeType);
	img.u8(p + 0x15, !o.npde && last ? 0x80 : 0);
	if (o.npde) {
		const n = 0x40; // align16(0x20 + 0x18) = 0x40
		img.str(n, 'NPDE');
		img.u16(n + 4, 0x101);
		img.u16(n + 6, 0x10);
		img.u16(n + 8, units);
		img.u8(n + 0x0a, last ? 0x80 : 0);
	}
}

export function buildVbiosRom(spec: RomSpec): BuiltRom {
	const efi = spec.efi ?? true;
	const nFwsec = spec.fwsecImages ?? 2;
	const tableIn = spec.tableIn ?? (nFwsec === 2 ? 2 : 1);
	const npde = spec.npde ?? true;
	const alt = spec.altSignature ?? 0xaa55;
	const f = spec.fwsec;
	const sigs = f.signatures ?? [];

	// PCI-AT: 2 units, BIT at 0x1b0, falcon data at 0x300.
	const pciUnits = 4;
	const pci = new Img(pciUnits * UNIT);
	header(pci, 0xaa55, 0x00, pciUnits, false, { npde });
	const bit = 0x1b0;
	pci.u16(bit, 0xb8ff);
	pci.str(bit + 2, 'BIT\0');
	pci.u16(bit + 6, 0x0100);
	pci.u8(bit + 8, 12);
	pci.u8(bit + 9, 6);
	const extraTokens = spec.extraTokens ?? 2;
	pci.u8(bit + 10, extraTokens + 1);
	for (let i = 0; i < extraTokens; i++) {
		const t = bit + 12 + i * 6;
		pci.u8(t, 0x42 + i);
		pci.u8(t + 1, 1);
		pci.u16(t + 2, 4);
		pci.u16(t + 4, 0x380 + 4 * i);
	}
	const falconToken = bit + 12 + extraTokens * 6;
	const falconData = 0x300;
	pci.u8(falconToken, 0x70);
	pci.u8(falconToken + 1, 2);
	pci.u16(falconToken + 2, 4);
	pci.u16(falconToken + 4, falconData);

	const images: { img: Img; codeType: number; units: number }[] = [
		{ img: pci, codeType: 0, units: pciUnits },
	];
	if (efi) {
		const units = spec.efiUnits ?? 3;
		const e = new Img(units * UNIT).fill(0xef);
		header(e, alt, 0x03, units, false, { npde });
		images.push({ img: e, codeType: 0x03, units });
	}

	// The FWSEC image holding the table: table at 0x100, descriptor at 0x200, then signatures, then ucode.
	const descSize =
		f.headerSize ?? (f.version === 3 ? 44 + sigs.length * 384 : f.v2Extended === true ? 60 : 56);
	const tableOff = 0x100;
	const descOff = 0x200;
	const ucodeOff = descOff + descSize;
	const dmemOffInUcode = f.version === 3 ? f.imem.length : roundUp(f.imem.length, 256);
	const ucodeLen = dmemOffInUcode + f.dmem.length;
	const holderUnits = Math.ceil((ucodeOff + ucodeLen + 64) / UNIT);
	const other = new Img(2 * UNIT);
	const holder = new Img(holderUnits * UNIT);
	const fwsecList = nFwsec === 2 ? (tableIn === 2 ? [other, holder] : [holder, other]) : [holder];
	for (const [i, img] of fwsecList.entries()) {
		const units = img === holder ? holderUnits : 2;
		images.push({ img, codeType: 0xe0, units });
		void i;
	}
	if (spec.nbsiLast === true) {
		const nb = new Img(UNIT);
		images.push({ img: nb, codeType: 0x70, units: 1 });
	}
	images.forEach(({ img, codeType, units }, i) => {
		if (i === 0) return;
		const last = spec.nbsiLast === true ? false : i === images.length - 1;
		header(img, alt, codeType, units, last, {
			npde,
			...(codeType === 0xe0 && spec.npds === true ? { npds: true } : {}),
		});
	});

	// Pointers: relative to a ROM where PCI-AT is directly followed by the FWSEC images.
	const pciLen = pciUnits * UNIT;
	const before = tableIn === 2 && nFwsec === 2 ? 2 * UNIT : 0;
	const tablePointer = pciLen + before + tableOff;
	const descPointer = pciLen + before + descOff;
	pci.u32(falconData, tablePointer);

	// Lookup table: header 4 bytes, entries 6 bytes.
	const apps = [...(spec.extraApps ?? [0x05]), spec.fwsecAppId ?? 0x85];
	holder.u8(tableOff, 1);
	holder.u8(tableOff + 1, 4);
	holder.u8(tableOff + 2, 6);
	holder.u8(tableOff + 3, apps.length);
	apps.forEach((app, i) => {
		const e = tableOff + 4 + i * 6;
		holder.u8(e, app);
		holder.u8(e + 1, 0);
		holder.u32(e + 2, app === (spec.fwsecAppId ?? 0x85) ? descPointer : 0x12345);
	});

	// Descriptor.
	const hdr = ((descSize & 0xffff) << 16) | (f.version << 8) | (f.versionFlag === false ? 0 : 1);
	holder.u32(descOff, hdr);
	if (f.version === 3) {
		const w = (i: number, v: number) => holder.u32(descOff + 4 * i, v);
		w(1, ucodeLen);
		w(2, f.pkcDataOffset ?? 0);
		w(3, f.interfaceOffset);
		w(4, f.imemPhysBase ?? 0);
		w(5, f.imem.length);
		w(6, f.imemVirtBase ?? 0);
		w(7, f.dmemPhysBase ?? 0);
		w(8, f.dmem.length);
		holder.u16(descOff + 36, f.engineIdMask ?? 0x400);
		holder.u8(descOff + 38, f.ucodeId ?? 9);
		holder.u8(descOff + 39, sigs.length);
		holder.u16(descOff + 40, f.signatureVersions ?? 0);
		for (const [i, s] of sigs.entries()) holder.bytes.set(s, descOff + 44 + i * 384);
	} else {
		const words = [
			0, // hdr placeholder
			ucodeLen,
			ucodeLen,
			0,
			f.interfaceOffset,
			f.imemPhysBase ?? 0,
			f.imem.length,
			f.imemVirtBase ?? 0,
			f.imemSecBase ?? 0,
			f.imemSecSize ?? 0,
			dmemOffInUcode,
			...(f.v2Extended === true ? [f.dmemPhysBase ?? 0] : []),
			f.dmem.length,
			0,
			0,
		];
		words.forEach((v, i) => {
			if (i > 0) holder.u32(descOff + 4 * i, v);
		});
	}
	holder.bytes.set(f.imem, ucodeOff);
	holder.bytes.set(f.dmem, ucodeOff + dmemOffInUcode);

	// Concatenate.
	const total = images.reduce((n, i) => n + i.units * UNIT, 0);
	const rom = new Uint8Array(total);
	const placed: { offset: number; length: number; codeType: number }[] = [];
	let pos = 0;
	for (const { img, codeType, units } of images) {
		rom.set(img.bytes, pos);
		placed.push({ offset: pos, length: units * UNIT, codeType });
		pos += units * UNIT;
	}
	const holderRom = placed[images.findIndex((i) => i.img === holder)]?.offset ?? -1;
	return {
		rom,
		at: {
			images: placed,
			bit,
			falconToken,
			falconData,
			table: holderRom + tableOff,
			desc: holderRom + descOff,
			signatures: holderRom + descOff + 44,
			ucode: holderRom + ucodeOff,
			tablePointer,
			descPointer,
		},
	};
}

function roundUp(n: number, a: number): number {
	return Math.ceil(n / a) * a;
}

/**
 * A FWSEC DMEM image with an app-interface table at `interfaceOffset` (v1 header {1, 4, 8, n}), a decoy
 * entry, the DMEMMAPPER (id 4) pointing at `mapperOffset`, and `cmd_in_buffer_offset` = `cmdOffset`.
 */
export function fwsecDmem(opts: {
	size: number;
	interfaceOffset: number;
	mapperOffset: number;
	cmdOffset: number;
	fill?: number;
}): Uint8Array {
	const d = new Uint8Array(opts.size).fill(opts.fill ?? 0xcc);
	const dv = new DataView(d.buffer);
	const h = opts.interfaceOffset;
	dv.setUint8(h, 1);
	dv.setUint8(h + 1, 4);
	dv.setUint8(h + 2, 8);
	dv.setUint8(h + 3, 2);
	dv.setUint32(h + 4, 0x1, true); // decoy app
	dv.setUint32(h + 8, 0x40, true);
	dv.setUint32(h + 12, 4, true); // DMEMMAPPER
	dv.setUint32(h + 16, opts.mapperOffset, true);
	const m = opts.mapperOffset;
	d.fill(0, m, m + 64);
	dv.setUint32(m, 0x50414d44, true); // "DMAP"
	dv.setUint16(m + 4, 3, true);
	dv.setUint16(m + 6, 64, true);
	dv.setUint32(m + 8, opts.cmdOffset, true);
	dv.setUint32(m + 12, 0x100, true);
	return d;
}

/** A recognisable pseudo-random signature. */
export function fakeSignature(seed: number, size = 384): Uint8Array {
	const s = new Uint8Array(size);
	let x = seed * 2654435761;
	for (let i = 0; i < size; i++) {
		x = (x * 1103515245 + 12345) >>> 0;
		s[i] = x >>> 24;
	}
	return s;
}
