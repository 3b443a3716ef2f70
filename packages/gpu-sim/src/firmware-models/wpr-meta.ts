/**
 * `GspFwWprMeta` as booter reads it (reference A.7). The fields booter uses sit at the same offsets in
 * r535.113.01 and r570.144 (r570 only carves `flags` and `pmuReservedSize` out of the padding before
 * `verified`); a test checks these offsets against the generated ABI manifests.
 *
 * @module
 */

import { rdU64 } from '../vbios/bytes.ts';

/** `GSP_FW_WPR_META_MAGIC`. */
export const WPR_META_MAGIC = 0xdc3aae21371a60b3n;
/** `GSP_FW_WPR_META_REVISION`. */
export const WPR_META_REVISION = 1n;
/** Value booter writes to `verified` after checking the image. */
export const WPR_META_VERIFIED = 0xa0a0a0a0a0a0a0a0n;
/** Size of the structure. */
export const WPR_META_SIZE = 256;

/** Byte offsets of the u64 fields booter reads or writes. */
export const WPR_META_OFFSETS = Object.freeze({
	magic: 0x00,
	revision: 0x08,
	sysmemAddrOfRadix3Elf: 0x10,
	sizeOfRadix3Elf: 0x18,
	sysmemAddrOfBootloader: 0x20,
	sizeOfBootloader: 0x28,
	bootloaderCodeOffset: 0x30,
	bootloaderDataOffset: 0x38,
	bootloaderManifestOffset: 0x40,
	sysmemAddrOfSignature: 0x48,
	sizeOfSignature: 0x50,
	gspFwRsvdStart: 0x58,
	nonWprHeapOffset: 0x60,
	nonWprHeapSize: 0x68,
	gspFwWprStart: 0x70,
	gspFwHeapOffset: 0x78,
	gspFwHeapSize: 0x80,
	gspFwOffset: 0x88,
	bootBinOffset: 0x90,
	frtsOffset: 0x98,
	frtsSize: 0xa0,
	gspFwWprEnd: 0xa8,
	fbSize: 0xb0,
	vgaWorkspaceOffset: 0xb8,
	vgaWorkspaceSize: 0xc0,
	bootCount: 0xc8,
	verified: 0xf8,
});

/** The decoded u64 fields of {@link WPR_META_OFFSETS}. */
export type WprMeta = { readonly [K in keyof typeof WPR_META_OFFSETS]: bigint };

/** Decode the 256-byte structure (`bytes` must hold at least 256 bytes). */
export function decodeWprMeta(bytes: Uint8Array): WprMeta {
	const out: Record<string, bigint> = {};
	for (const [name, off] of Object.entries(WPR_META_OFFSETS)) out[name] = rdU64(bytes, off, name);
	return out as WprMeta;
}
