/**
 * The Hopper/Blackwell FMC image `fmc-<ver>.bin` that FSP boots (nova `firmware/fsp.rs`).
 *
 * What the published 570.144 files hold (found by reading them; see the package README):
 * an ELF32 little-endian container with `e_type` NONE and `e_machine` 0, and four sections —
 * - `hash`: 48 bytes, the SHA-384 digest of `image`;
 * - `signature`: 384 bytes (RSA-3072) on GH100, 96 bytes (ECDSA P-384 `r‖s`) on GB10x/GB20x;
 * - `publickey`: 384 bytes (RSA-3072 modulus) on GH100, 97 bytes (`0x04‖X‖Y`, an uncompressed P-384 point)
 *   on Blackwell;
 * - `image`: the FMC image FSP loads.
 *
 * Each of these sections' `sh_info` holds the zlib CRC-32 of its contents. Both the CRCs and the digest are
 * verified by default, so a corrupted file is caught here rather than by FSP.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { type ElfFile, type ElfSection, elfSectionData, findElfSection, parseElf } from './elf.ts';
import { ByteReader, fmt } from './reader.ts';

/** Size of the FMC `hash` section (SHA-384). */
export const FMC_HASH_SIZE = 48;
/** Maximum size of the FMC `signature` and `publickey` sections (RSA-3072), as nova enforces. */
export const FMC_MAX_KEY_SIZE = 384;

/** The sections an FMC file must have, in the order the FSP chain-of-trust message uses them. */
export const FMC_SECTIONS = ['hash', 'signature', 'publickey', 'image'] as const;

/** One FMC section. */
export interface FmcSection {
	/** Section name. */
	readonly name: (typeof FMC_SECTIONS)[number];
	/** File offset. */
	readonly offset: number;
	/** Size in bytes. */
	readonly size: number;
	/** `sh_info`, which holds the CRC-32 of the contents in the published files. */
	readonly storedCrc32: number;
	/** CRC-32 computed over the contents. */
	readonly crc32: number;
	/** The contents (zero-copy view). */
	readonly data: Uint8Array;
}

/** Signature scheme, inferred from the signature and key sizes. */
export type FmcSignatureScheme = 'rsa3072' | 'ecdsa-p384' | 'unknown';

/** A parsed FMC file. */
export interface FmcFirmware {
	/** The ELF structure. */
	readonly elf: ElfFile;
	/** `hash`: SHA-384 of `image` (48 bytes). */
	readonly hash: FmcSection;
	/** `signature`: RSA-3072 (384 bytes) or ECDSA P-384 `r‖s` (96 bytes). */
	readonly signature: FmcSection;
	/** `publickey`: RSA-3072 modulus (384 bytes) or uncompressed P-384 point (97 bytes). */
	readonly publicKey: FmcSection;
	/** `image`: what FSP loads. */
	readonly image: FmcSection;
	/** Scheme implied by the sizes: 384/384 → RSA-3072, 96/97 (key starts 0x04) → ECDSA P-384. */
	readonly scheme: FmcSignatureScheme;
	/** Whether every section's `sh_info` equals the CRC-32 of its contents. */
	readonly crcOk: boolean;
	/** Whether `hash` is the SHA-384 digest of `image`. */
	readonly hashOk: boolean;
}

/** Options of {@link parseFmc}. */
export interface ParseFmcOptions {
	/** Throw when a CRC or the image digest does not match (default `true`). */
	readonly verify?: boolean;
}

/**
 * Parse an FMC file: ELF32, with sections `hash` (exactly 48 bytes), `signature` and `publickey` (at most
 * 384 bytes each) and `image`.
 * @throws FirmwareFormatError for a structural problem, and (with `verify`, the default) for a CRC or digest
 * mismatch.
 */
export function parseFmc(data: Uint8Array, file = '<memory>', options: ParseFmcOptions = {}): FmcFirmware {
	const verify = options.verify ?? true;
	const elf = parseElf(data, file);
	const r: ByteReader = new ByteReader(data, file);
	if (elf.header.class !== 32) r.fail('e_ident[EI_CLASS]', 4, '1 (ELF32)', '2 (ELF64)');
	const get = (name: (typeof FMC_SECTIONS)[number]): FmcSection => {
		const s = findElfSection(elf, name);
		if (s === undefined) r.fail(`section "${name}"`, elf.header.shoff, `an FMC "${name}" section`, 'none');
		return toFmcSection(elf, s, name);
	};
	const hash = get('hash');
	const signature = get('signature');
	const publicKey = get('publickey');
	const image = get('image');
	const at = (s: FmcSection) => (findElfSection(elf, s.name) as ElfSection).headerOffset;
	if (hash.size !== FMC_HASH_SIZE)
		r.fail('section "hash".sh_size', at(hash) + 0x14, String(FMC_HASH_SIZE), String(hash.size));
	for (const s of [signature, publicKey]) {
		if (s.size === 0 || s.size > FMC_MAX_KEY_SIZE) {
			r.fail(`section "${s.name}".sh_size`, at(s) + 0x14, `1..${FMC_MAX_KEY_SIZE}`, String(s.size));
		}
	}
	const crcOk = [hash, signature, publicKey, image].every((s) => s.crc32 === s.storedCrc32);
	const digest = createHash('sha384').update(image.data).digest();
	const hashOk = digest.equals(hash.data);
	if (verify) {
		for (const s of [hash, signature, publicKey, image]) {
			if (s.crc32 !== s.storedCrc32) {
				r.fail(
					`section "${s.name}".sh_info (CRC-32 of the contents)`,
					at(s) + 0x1c,
					fmt(s.crc32),
					fmt(s.storedCrc32),
				);
			}
		}
		if (!hashOk)
			r.fail(
				'section "hash" (SHA-384 of "image")',
				hash.offset,
				digest.toString('hex'),
				Buffer.from(hash.data).toString('hex'),
			);
	}
	let scheme: FmcSignatureScheme = 'unknown';
	if (signature.size === 384 && publicKey.size === 384) scheme = 'rsa3072';
	else if (signature.size === 96 && publicKey.size === 97 && publicKey.data[0] === 0x04)
		scheme = 'ecdsa-p384';
	return { elf, hash, signature, publicKey, image, scheme, crcOk, hashOk };
}

function toFmcSection(elf: ElfFile, s: ElfSection, name: (typeof FMC_SECTIONS)[number]): FmcSection {
	const data = elfSectionData(elf, s);
	return { name, offset: s.offset, size: s.size, storedCrc32: s.info, crc32: crc32(data), data };
}

let CRC_TABLE: Uint32Array | undefined;

/** zlib/IEEE CRC-32 (reflected polynomial 0xEDB88320) of `data`. */
export function crc32(data: Uint8Array): number {
	if (CRC_TABLE === undefined) {
		CRC_TABLE = new Uint32Array(256);
		for (let n = 0; n < 256; n++) {
			let c = n;
			for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
			CRC_TABLE[n] = c >>> 0;
		}
	}
	const t = CRC_TABLE;
	let c = 0xffffffff;
	for (let i = 0; i < data.length; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}
