/**
 * Test kit for the boot hardware: a rig (register file, DMA pool, boot hardware on a virtual clock) and a
 * minimal *independent* driver written from the hardware reference — VBIOS walk, falcon reset, DMA and PIO
 * loads, BROM programming, FWSEC patching, radix3 and GspFwWprMeta — so tests drive the models the way
 * falcon-boot will, without importing it or the models' own helpers.
 */

import { createHash } from 'node:crypto';
import { VirtualClock } from '@gspkit/hal';
import { simChipSpec } from '../src/chips.ts';
import { DmaPool } from '../src/dma.ts';
import { BootHardware, type BootHardwareOptions } from '../src/falcon/boot-hardware.ts';
import { defineIdentityRegisters } from '../src/identity.ts';
import { RegisterFile } from '../src/mmio.ts';

export const GSP = 0x110000;
export const SEC2 = 0x840000;
const SEC2_BASE = SEC2;

export interface Rig {
	readonly chip: string;
	readonly clock: VirtualClock;
	readonly regs: RegisterFile;
	readonly pool: DmaPool;
	readonly hw: BootHardware;
	rd(offset: number): number;
	wr(offset: number, value: number): void;
}

export function makeRig(chip: string, extra: Partial<BootHardwareOptions> = {}): Rig {
	const spec = simChipSpec(chip);
	const clock = new VirtualClock();
	const regs = new RegisterFile();
	defineIdentityRegisters(regs, spec, spec.vramSize);
	const pool = new DmaPool({ size: 256 * 1024 * 1024 });
	const hw = new BootHardware({
		chip: spec,
		clock,
		dmaRead: (a, l) => pool.deviceRead(a, l),
		dmaWrite: (a, b) => pool.deviceWrite(a, b),
		...extra,
	});
	hw.mount(regs);
	return {
		chip,
		clock,
		regs,
		pool,
		hw,
		rd: (o) => regs.read32(o),
		wr: (o, v) => regs.write32(o, v),
	};
}

/** Advance virtual time until `pred` holds (1 µs steps, at most `limitNs`). */
export function waitFor(rig: Rig, pred: () => boolean, limitNs = 2_000_000_000n, what = 'condition'): void {
	const end = rig.clock.now() + limitNs;
	let step = 1_000n;
	while (!pred()) {
		if (rig.clock.now() >= end) throw new Error(`timed out waiting for ${what}`);
		rig.clock.advance(step);
		if (step < 1_000_000n) step *= 2n;
	}
}

// ------------------------------------------------------------------ little-endian helpers

export function u16(b: Uint8Array, o: number): number {
	return b[o]! | (b[o + 1]! << 8);
}
export function u32(b: Uint8Array, o: number): number {
	return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
export function u64(b: Uint8Array, o: number): bigint {
	return (BigInt(u32(b, o + 4)) << 32n) | BigInt(u32(b, o));
}
export function put32(b: Uint8Array, o: number, v: number): void {
	new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v >>> 0, true);
}
export function put64(b: Uint8Array, o: number, v: bigint): void {
	new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(o, v, true);
}
export function sha(b: Uint8Array): string {
	return createHash('sha256').update(b).digest('hex');
}

// ------------------------------------------------------------------ VBIOS reader (independent of src/vbios)

export interface ParsedVbios {
	readonly images: { offset: number; length: number; codeType: number; last: boolean }[];
	readonly pciAtLength: number;
	readonly descOffset: number; // ROM offset of the FWSEC_PROD descriptor
	readonly desc: FwsecDesc;
	readonly signatures: Uint8Array[];
	readonly ucode: Uint8Array; // IMEM then DMEM
}

export interface FwsecDesc {
	readonly version: 2 | 3;
	readonly size: number;
	readonly imemLoadSize: number;
	readonly dmemLoadSize: number;
	readonly interfaceOffset: number;
	readonly pkcDataOffset: number;
	readonly engineIdMask: number;
	readonly ucodeId: number;
	readonly signatureCount: number;
	readonly signatureVersions: number;
	readonly imemPhysBase: number;
	readonly dmemPhysBase: number;
	readonly imemSecSize: number;
	readonly dmemOffset: number;
}

/** Read the ROM through the PROM window (32-bit reads), as drivers do. */
export function readRom(rig: Rig): Uint8Array {
	const out = new Uint8Array(0x100000);
	for (let o = 0; o < out.length; o += 4) put32(out, o, rig.rd(0x300000 + o));
	return out;
}

/** Walk the expansion ROM chain and find FWSEC_PROD, following reference A.4. */
export function parseVbios(rom: Uint8Array, appId = 0x85): ParsedVbios {
	const images: ParsedVbios['images'] = [];
	let off = 0;
	for (;;) {
		const sig = u16(rom, off);
		if (sig !== 0xaa55 && sig !== 0xbb77 && sig !== 0x4e56) throw new Error(`bad ROM signature at ${off}`);
		const pcir = off + u16(rom, off + 0x18);
		const s = String.fromCharCode(...rom.subarray(pcir, pcir + 4));
		if (s !== 'PCIR' && s !== 'NPDS') throw new Error(`bad PCIR at ${pcir}`);
		let length = u16(rom, pcir + 0x10) * 512;
		const codeType = rom[pcir + 0x14]!;
		let last = (rom[pcir + 0x15]! & 0x80) !== 0;
		const npde = off + ((u16(rom, off + 0x18) + u16(rom, pcir + 0x0a) + 0xf) & ~0xf);
		if (String.fromCharCode(...rom.subarray(npde, npde + 4)) === 'NPDE') {
			length = u16(rom, npde + 8) * 512;
			last = (rom[npde + 0x0a]! & 0x80) !== 0;
		}
		images.push({ offset: off, length, codeType, last });
		if (last) break;
		off += length;
	}
	const pciAt = images.find((i) => i.codeType === 0x00)!;
	const fwsec = images.filter((i) => i.codeType === 0xe0);
	const section = new Uint8Array(fwsec.reduce((a, i) => a + i.length, 0));
	let pos = 0;
	for (const i of fwsec) {
		section.set(rom.subarray(i.offset, i.offset + i.length), pos);
		pos += i.length;
	}
	const sectionOffsetToRom = (o: number): number => {
		let rem = o;
		for (const i of fwsec) {
			if (rem < i.length) return i.offset + rem;
			rem -= i.length;
		}
		throw new Error('offset outside FWSEC images');
	};
	// BIT header by pattern, then token 0x70.
	const pat = [0xff, 0xb8, 0x42, 0x49, 0x54, 0x00];
	let bit = -1;
	for (let i = pciAt.offset; i + 6 <= pciAt.offset + pciAt.length; i++) {
		if (pat.every((b, k) => rom[i + k] === b)) {
			bit = i;
			break;
		}
	}
	if (bit < 0) throw new Error('no BIT header');
	const hdrSize = rom[bit + 8]!;
	const tokSize = rom[bit + 9]!;
	const tokCount = rom[bit + 10]!;
	let ptr = -1;
	for (let t = 0; t < tokCount; t++) {
		const at = bit + hdrSize + t * tokSize;
		if (rom[at] === 0x70) ptr = u32(rom, pciAt.offset + u16(rom, at + 4));
	}
	if (ptr < 0) throw new Error('no falcon data token');
	const table = ptr - pciAt.length;
	const headerLen = section[table + 1]!;
	const entryLen = section[table + 2]!;
	const count = section[table + 3]!;
	let descPtr = -1;
	for (let e = 0; e < count; e++) {
		const at = table + headerLen + e * entryLen;
		if (section[at] === appId) descPtr = u32(section, at + 2);
	}
	if (descPtr < 0) throw new Error('no FWSEC_PROD entry');
	const d = descPtr - pciAt.length;
	const hdr = u32(section, d);
	const version = ((hdr >>> 8) & 0xff) as 2 | 3;
	const size = hdr >>> 16;
	let desc: FwsecDesc;
	if (version === 3) {
		desc = {
			version,
			size,
			pkcDataOffset: u32(section, d + 8),
			interfaceOffset: u32(section, d + 12),
			imemPhysBase: u32(section, d + 16),
			imemLoadSize: u32(section, d + 20),
			dmemPhysBase: u32(section, d + 28),
			dmemLoadSize: u32(section, d + 32),
			engineIdMask: u16(section, d + 36),
			ucodeId: section[d + 38]!,
			signatureCount: section[d + 39]!,
			signatureVersions: u16(section, d + 40),
			imemSecSize: u32(section, d + 20),
			dmemOffset: u32(section, d + 20),
		};
	} else {
		desc = {
			version,
			size,
			interfaceOffset: u32(section, d + 16),
			imemPhysBase: u32(section, d + 20),
			imemLoadSize: u32(section, d + 24),
			imemSecSize: u32(section, d + 36),
			dmemOffset: u32(section, d + 40),
			dmemPhysBase: u32(section, d + 44),
			dmemLoadSize: u32(section, d + 48),
			pkcDataOffset: 0,
			engineIdMask: 0,
			ucodeId: 0,
			signatureCount: 0,
			signatureVersions: 0,
		};
	}
	const signatures = Array.from({ length: desc.signatureCount }, (_, i) =>
		section.slice(d + 44 + 384 * i, d + 44 + 384 * (i + 1)),
	);
	const ucode = section.slice(d + size, d + size + desc.imemLoadSize + desc.dmemLoadSize);
	return { images, pciAtLength: pciAt.length, descOffset: sectionOffsetToRom(d), desc, signatures, ucode };
}

// ------------------------------------------------------------------ falcon driving

export function resetFalcon(rig: Rig, base: number, core: 'falcon' | 'riscv' = 'falcon'): void {
	rig.wr(base + 0x3c0, 1);
	rig.clock.advance(10_000n);
	rig.wr(base + 0x3c0, 0);
	waitFor(rig, () => (rig.rd(base + 0xf4) & (1 << 12)) === 0, 20_000_000n, 'scrubbing');
	if (core === 'riscv') {
		rig.wr(base + 0x1668, (1 << 4) | (1 << 8));
	} else if (rig.rd(base + 0x1668) & (1 << 4)) {
		rig.wr(base + 0x1668, 0);
		waitFor(rig, () => (rig.rd(base + 0x1668) & 1) === 1, 10_000_000n, 'BCR VALID');
	}
	rig.wr(base + 0x084, rig.rd(0));
}

export function dmaSetup(rig: Rig, base: number): void {
	rig.wr(base + 0x624, rig.rd(base + 0x624) | 0x80);
	rig.wr(base + 0x10c, 0);
	rig.wr(base + 0x600, 1 | 4);
}

/** DMA `len` bytes from bus address `src` (256-aligned) into IMEM/DMEM at `dst`, with FBOFFS starting at `fboffs`. */
export function dmaLoad(
	rig: Rig,
	base: number,
	src: bigint,
	fboffs: number,
	dst: number,
	len: number,
	mem: 'imem' | 'dmem',
	secure = mem === 'imem',
): void {
	rig.wr(base + 0x110, Number((src >> 8n) & 0xffffffffn));
	rig.wr(base + 0x128, Number(src >> 40n) & 0x1ff);
	const cmd = (6 << 8) | (mem === 'imem' ? 0x10 : 0) | (secure ? 0x4 : 0);
	for (let pos = 0; pos < len; pos += 256) {
		waitFor(rig, () => (rig.rd(base + 0x118) & 1) === 0, 2_000_000_000n, 'DMA FULL == 0');
		rig.wr(base + 0x114, dst + pos);
		rig.wr(base + 0x11c, fboffs + pos);
		rig.wr(base + 0x118, cmd);
		waitFor(rig, () => (rig.rd(base + 0x118) & 2) !== 0, 2_000_000_000n, 'DMA IDLE');
	}
}

export function pioImem(
	rig: Rig,
	base: number,
	dst: number,
	data: Uint8Array,
	startTag: number,
	secure: boolean,
): void {
	rig.wr(base + 0x180, (dst & 0xfffffc) | (1 << 24) | (secure ? 1 << 28 : 0));
	for (let blk = 0; blk * 256 < data.length; blk++) {
		rig.wr(base + 0x188, startTag + blk);
		for (let o = blk * 256; o < Math.min(data.length, (blk + 1) * 256); o += 4)
			rig.wr(base + 0x184, u32(data, o));
	}
}

export function pioDmem(rig: Rig, base: number, dst: number, data: Uint8Array): void {
	rig.wr(base + 0x1c0, (dst & 0xfffffc) | (1 << 24));
	for (let o = 0; o < data.length; o += 4) rig.wr(base + 0x1c4, u32(data, o));
}

export function brom(rig: Rig, base: number, pkc: number, engIdMask: number, ucodeId: number): void {
	rig.wr(base + 0x1210, pkc);
	rig.wr(base + 0x119c, engIdMask);
	rig.wr(base + 0x1198, ucodeId);
	rig.wr(base + 0x1180, 1);
}

export function boot(rig: Rig, base: number, mb0?: number, mb1?: number): [number, number] {
	if (mb0 !== undefined) rig.wr(base + 0x40, mb0);
	if (mb1 !== undefined) rig.wr(base + 0x44, mb1);
	if (rig.rd(base + 0x100) & (1 << 6)) rig.wr(base + 0x130, 2);
	else rig.wr(base + 0x100, 2);
	waitFor(rig, () => (rig.rd(base + 0x100) & (1 << 4)) !== 0, 2_000_000_000n, 'CPU halted');
	return [rig.rd(base + 0x40), rig.rd(base + 0x44)];
}

/** Copy bytes into a fresh DMA buffer (size rounded up to 256, zero padded). */
export function dmaBuffer(rig: Rig, bytes: Uint8Array, label = 'fw'): bigint {
	const buf = rig.pool.alloc(Math.max(256, Math.ceil(bytes.length / 256) * 256), { label, align: 4096 });
	buf.bytes.set(bytes);
	return buf.busAddress;
}

// ------------------------------------------------------------------ FWSEC

export interface FwsecOptions {
	readonly frtsAddr?: bigint;
	readonly frtsSize?: bigint;
	readonly initCmd?: number;
	/** Override the signature index (default: the A.5 fuse rule). */
	readonly signatureIndex?: number;
	/** Mutate the patched ucode before loading (IMEM then DMEM). */
	readonly mutate?: (ucode: Uint8Array, v: ParsedVbios) => void;
	/** Lookup-table application ID to run (default FWSEC_PROD 0x85). */
	readonly appId?: number;
	/** Called after loading and BROM programming, just before the CPU starts. */
	readonly beforeStart?: (rig: Rig) => void;
	/** Load IMEM as non-secure (v3 only). */
	readonly nonSecure?: boolean;
}

export function fuseVersion(rig: Rig, engIdMask: number, ucodeId: number): number {
	const arr = engIdMask & 1 ? 0x824140 : engIdMask & 4 ? 0x824100 : 0x8241c0;
	const v = rig.rd(arr + 4 * (ucodeId - 1)) & 0xffff;
	return v === 0 ? 0 : 32 - Math.clz32(v);
}

export function defaultFrts(rig: Rig): { addr: bigint; size: bigint } {
	const fb = BigInt(rig.rd(0x1183a4)) << 20n;
	return { addr: fb - (2n << 20n), size: 1n << 20n };
}

/** Patch FWSEC as reference A.5 says and run it on the GSP (direct DMA on v3, generic bootloader on v2). */
export function runFwsec(rig: Rig, opts: FwsecOptions = {}, genBootloader?: Uint8Array): [number, number] {
	const v = parseVbios(readRom(rig), opts.appId);
	const d = v.desc;
	const ucode = v.ucode.slice();
	const imem = d.imemLoadSize;
	const dflt = defaultFrts(rig);
	// App-interface table -> DMEM mapper.
	const t = imem + d.interfaceOffset;
	let mapper = -1;
	for (let e = 0; e < ucode[t + 3]!; e++) {
		const at = t + ucode[t + 1]! + e * ucode[t + 2]!;
		if (u32(ucode, at) === 4) mapper = imem + u32(ucode, at + 4);
	}
	put32(ucode, mapper + 44, opts.initCmd ?? 0x15);
	const cmd = imem + u32(ucode, mapper + 8);
	put32(ucode, cmd, 1);
	put32(ucode, cmd + 4, 24);
	put64(ucode, cmd + 8, 0n);
	put32(ucode, cmd + 16, 0);
	put32(ucode, cmd + 20, 2);
	put32(ucode, cmd + 24, 1);
	put32(ucode, cmd + 28, 20);
	put32(ucode, cmd + 32, Number((opts.frtsAddr ?? dflt.addr) >> 12n));
	put32(ucode, cmd + 36, Number((opts.frtsSize ?? dflt.size) >> 12n));
	put32(ucode, cmd + 40, 2);
	if (d.signatureCount > 0) {
		const fv = fuseVersion(rig, d.engineIdMask, d.ucodeId);
		const idx = opts.signatureIndex ?? popcount(d.signatureVersions & ((1 << fv) - 1));
		ucode.set(v.signatures[idx]!, imem + d.pkcDataOffset);
	}
	opts.mutate?.(ucode, v);
	resetFalcon(rig, GSP);
	const src = dmaBuffer(rig, ucode, 'fwsec');
	if (d.version === 3) {
		dmaSetup(rig, GSP);
		dmaLoad(rig, GSP, src, 0, d.imemPhysBase, d.imemLoadSize, 'imem', opts.nonSecure !== true);
		dmaLoad(rig, GSP, src + BigInt(imem), 0, d.dmemPhysBase, d.dmemLoadSize, 'dmem', false);
		brom(rig, GSP, d.pkcDataOffset, d.engineIdMask, d.ucodeId);
		rig.wr(GSP + 0x104, 0);
		opts.beforeStart?.(rig);
		return boot(rig, GSP, 0);
	}
	// v2: the generic bootloader (PIO below 64 KiB) loads FWSEC from `src`.
	if (genBootloader === undefined) throw new Error('v2 FWSEC needs a generic bootloader');
	const hdrOff = u32(genBootloader, 12);
	const dataOff = u32(genBootloader, 16);
	const startTag = u32(genBootloader, hdrOff);
	const codeOff = u32(genBootloader, hdrOff + 8);
	const codeSize = u32(genBootloader, hdrOff + 12);
	const code = new Uint8Array(Math.ceil(codeSize / 256) * 256);
	code.set(genBootloader.subarray(dataOff + codeOff, dataOff + codeOff + codeSize));
	rig.wr(GSP + 0x624, rig.rd(GSP + 0x624) | 0x80);
	rig.wr(GSP + 0x10c, 0);
	pioImem(rig, GSP, 0x10000 - code.length, code, startTag, false);
	const desc = new Uint8Array(84);
	put32(desc, 32, 4); // ctx_dma
	put64(desc, 36, src);
	put32(desc, 44, 0);
	put32(desc, 48, d.imemLoadSize - d.imemSecSize);
	put32(desc, 52, 0);
	put32(desc, 56, d.imemSecSize);
	put32(desc, 60, 0);
	put64(desc, 64, src + BigInt(d.dmemOffset));
	put32(desc, 72, d.dmemLoadSize);
	pioDmem(rig, GSP, 0, desc);
	rig.wr(GSP + 0x600 + 4 * 4, 1 | 4);
	rig.wr(GSP + 0x104, startTag << 8);
	opts.beforeStart?.(rig);
	return boot(rig, GSP, 0);
}

export function popcount(v: number): number {
	let n = 0;
	for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
	return n;
}

// ------------------------------------------------------------------ GSP image + booter

export interface HsFile {
	readonly payload: Uint8Array;
	readonly fuseVer: number;
	readonly engIdMask: number;
	readonly ucodeId: number;
	readonly patchLoc: number;
	readonly signatures: Uint8Array[];
	readonly osCodeOffset: number;
	readonly osCodeSize: number;
	readonly osDataOffset: number;
	readonly osDataSize: number;
	readonly app0: { offset: number; len: number };
}

export function parseHs(file: Uint8Array): HsFile {
	if (u32(file, 0) !== 0x10de) throw new Error('not a bin file');
	const hoff = u32(file, 12);
	const doff = u32(file, 16);
	const dsize = u32(file, 20);
	const [sigOff, sigSize, patchLocOff, patchSigOff, metaOff, , numSigOff, loadOff] = Array.from(
		{ length: 9 },
		(_, i) => u32(file, hoff + 4 * i),
	) as number[];
	const numSig = u32(file, numSigOff!);
	const each = sigSize! / numSig;
	const start = sigOff! + u32(file, patchSigOff!);
	return {
		payload: file.slice(doff, doff + dsize),
		fuseVer: u32(file, metaOff!),
		engIdMask: u32(file, metaOff! + 4),
		ucodeId: u32(file, metaOff! + 8),
		patchLoc: u32(file, patchLocOff!),
		signatures: Array.from({ length: numSig }, (_, i) =>
			file.slice(start + i * each, start + (i + 1) * each),
		),
		osCodeOffset: u32(file, loadOff!),
		osCodeSize: u32(file, loadOff! + 4),
		osDataOffset: u32(file, loadOff! + 8),
		osDataSize: u32(file, loadOff! + 12),
		app0: { offset: u32(file, loadOff! + 20), len: u32(file, loadOff! + 24) },
	};
}

/** ELF64 section by name (independent of src/firmware-models/elf.ts). */
export function elfSectionOf(file: Uint8Array, name: string): Uint8Array | undefined {
	const shoff = Number(u64(file, 0x28));
	const shnum = u16(file, 0x3c);
	const shstr = u16(file, 0x3e);
	const strOff = Number(u64(file, shoff + 64 * shstr + 0x18));
	for (let i = 0; i < shnum; i++) {
		const at = shoff + 64 * i;
		const n = strOff + u32(file, at);
		let e = n;
		while (file[e] !== 0) e++;
		if (new TextDecoder().decode(file.subarray(n, e)) === name) {
			const off = Number(u64(file, at + 0x18));
			return file.subarray(off, off + Number(u64(file, at + 0x20)));
		}
	}
	return undefined;
}

export interface GspLoad {
	readonly metaAddress: bigint;
	readonly meta: Uint8Array;
	readonly l0: bigint;
	readonly l1: bigint;
	readonly l2: bigint;
	readonly l2Bytes: Uint8Array;
}

/**
 * Put the `.fwimage` in DMA memory page by page (in a shuffled page order, so only a correct radix3 table
 * reassembles it), build radix3, copy the signature section and bootloader payload, and fill GspFwWprMeta.
 */
export function loadGsp(
	rig: Rig,
	image: Uint8Array,
	signature: Uint8Array,
	bootloaderFile: Uint8Array,
	frts: { addr: bigint; size: bigint },
): GspLoad {
	const pages = Math.ceil(image.length / 4096);
	const store = rig.pool.alloc(pages * 4096, { label: 'gsp image' });
	const order = Array.from({ length: pages }, (_, i) => i);
	for (let i = pages - 1; i > 0; i--) {
		const j = (i * 7919 + 13) % (i + 1);
		[order[i], order[j]] = [order[j]!, order[i]!];
	}
	const l2Pages = Math.ceil(pages / 512);
	const l2 = rig.pool.alloc(l2Pages * 4096, { label: 'radix3 L2' });
	for (let p = 0; p < pages; p++) {
		const slot = order[p]!;
		store.bytes.set(image.subarray(p * 4096, Math.min(image.length, (p + 1) * 4096)), slot * 4096);
		put64(l2.bytes, 8 * p, store.busAddress + BigInt(slot * 4096));
	}
	const l1 = rig.pool.alloc(4096, { label: 'radix3 L1' });
	for (let k = 0; k < l2Pages; k++) put64(l1.bytes, 8 * k, l2.busAddress + BigInt(k * 4096));
	const l0 = rig.pool.alloc(4096, { label: 'radix3 L0' });
	put64(l0.bytes, 0, l1.busAddress);
	const sig = rig.pool.alloc(signature.length, { label: 'signature' });
	sig.bytes.set(signature);
	const blHdrOff = u32(bootloaderFile, 12);
	const blData = bootloaderFile.subarray(
		u32(bootloaderFile, 16),
		u32(bootloaderFile, 16) + u32(bootloaderFile, 20),
	);
	const bl = rig.pool.alloc(blData.length, { label: 'bootloader' });
	bl.bytes.set(blData);
	const meta = rig.pool.alloc(256, { label: 'wpr meta' });
	const m = meta.bytes;
	const fb = BigInt(rig.rd(0x1183a4)) << 20n;
	put64(m, 0x00, 0xdc3aae21371a60b3n);
	put64(m, 0x08, 1n);
	put64(m, 0x10, l0.busAddress);
	put64(m, 0x18, BigInt(image.length));
	put64(m, 0x20, bl.busAddress);
	put64(m, 0x28, BigInt(blData.length));
	put64(m, 0x30, BigInt(u32(bootloaderFile, blHdrOff + 48))); // monitor code offset
	put64(m, 0x38, BigInt(u32(bootloaderFile, blHdrOff + 40))); // monitor data offset
	put64(m, 0x40, BigInt(u32(bootloaderFile, blHdrOff + 32))); // manifest offset
	put64(m, 0x48, sig.busAddress);
	put64(m, 0x50, BigInt(signature.length));
	put64(m, 0x70, frts.addr - (64n << 20n)); // gspFwWprStart
	put64(m, 0x98, frts.addr);
	put64(m, 0xa0, frts.size);
	put64(m, 0xa8, frts.addr + frts.size); // gspFwWprEnd
	put64(m, 0xb0, fb);
	return {
		metaAddress: meta.busAddress,
		meta: m,
		l0: l0.busAddress,
		l1: l1.busAddress,
		l2: l2.busAddress,
		l2Bytes: l2.bytes,
	};
}

export interface BooterOptions {
	readonly signatureIndex?: number;
	readonly metaAddress: bigint;
	/** Load the way the chip generation does: PIO (TU10x/GA100) or DMA. */
	readonly method?: 'dma' | 'pio';
	/** Falcon to run it on (default SEC2). */
	readonly base?: number;
	/** Called just before the CPU starts. */
	readonly beforeStart?: (rig: Rig) => void;
}

/** Patch the signature per reference A.6, load booter_load on SEC2 and run it with the meta address. */
export function runBooter(rig: Rig, file: Uint8Array, opts: BooterOptions): [number, number] {
	const hs = parseHs(file);
	const payload = hs.payload.slice();
	if (hs.signatures.length > 0) {
		const reg = fuseVersion(rig, hs.engIdMask, hs.ucodeId);
		const legacy = rig.chip.startsWith('tu') || rig.chip === 'ga100';
		const fv = legacy ? 0 : reg;
		const idx = opts.signatureIndex ?? (fv === 0 ? hs.signatures.length - 1 : hs.fuseVer - fv);
		payload.set(hs.signatures[idx]!, hs.patchLoc);
	}
	const pkc = hs.patchLoc - hs.osDataOffset;
	const legacy = rig.chip.startsWith('tu') || rig.chip === 'ga100';
	const SEC2 = opts.base ?? SEC2_BASE;
	resetFalcon(rig, SEC2);
	if ((opts.method ?? (rig.chip.startsWith('tu') || rig.chip === 'ga100' ? 'pio' : 'dma')) === 'pio') {
		rig.wr(SEC2 + 0x624, rig.rd(SEC2 + 0x624) | 0x80);
		rig.wr(SEC2 + 0x10c, 0);
		pioImem(
			rig,
			SEC2,
			hs.osCodeOffset,
			payload.subarray(hs.osCodeOffset, hs.osCodeOffset + hs.osCodeSize),
			hs.osCodeOffset >> 8,
			false,
		);
		pioImem(
			rig,
			SEC2,
			hs.app0.offset,
			payload.subarray(hs.app0.offset, hs.app0.offset + hs.app0.len),
			hs.app0.offset >> 8,
			true,
		);
		pioDmem(rig, SEC2, 0, payload.subarray(hs.osDataOffset, hs.osDataOffset + hs.osDataSize));
		rig.wr(SEC2 + 0x104, hs.osCodeOffset);
	} else {
		const src = dmaBuffer(rig, payload, 'booter');
		dmaSetup(rig, SEC2);
		if (legacy) {
			dmaLoad(rig, SEC2, src, hs.osCodeOffset, hs.osCodeOffset, hs.osCodeSize, 'imem', false);
			dmaLoad(rig, SEC2, src, hs.app0.offset, hs.app0.offset, hs.app0.len, 'imem', true);
		} else {
			dmaLoad(rig, SEC2, src, hs.app0.offset, 0, hs.app0.len, 'imem', true);
		}
		dmaLoad(rig, SEC2, src + BigInt(hs.osDataOffset), 0, 0, hs.osDataSize, 'dmem', false);
		brom(rig, SEC2, pkc, hs.engIdMask, hs.ucodeId);
		rig.wr(SEC2 + 0x104, legacy ? hs.osCodeOffset : hs.app0.offset);
	}
	opts.beforeStart?.(rig);
	return boot(rig, SEC2, Number(opts.metaAddress & 0xffffffffn), Number(opts.metaAddress >> 32n));
}
