/**
 * What a per-generation boot HAL decides. The sequence itself (hardware reference A.8) is the same for every
 * generation with a SEC2 booter; the HAL supplies the differences.
 *
 * @module
 */

import type { FalconVariant } from '../falcon.ts';
import type { FbLayoutInput, HeapParams } from '../fb-layout.ts';

/** A boot HAL: one per generation ("once per generation, not once per firmware release"). */
export interface BootHal {
	/** HAL name (matches hal's `FalconBootVariant`). */
	readonly name: 'tu10x' | 'ga100' | 'ga10x';
	/** Falcon differences (scrubbing, RESET_READY, RISC-V status register). */
	readonly falcon: FalconVariant;
	/** The FWSEC descriptor version the VBIOS of this generation carries (2: TU10x/GA100, 3: GA10x+). */
	readonly fwsecDescriptorVersion: 2 | 3;
	/** Whether FWSEC is loaded through the PIO-loaded generic bootloader. */
	readonly needsGenBootloader: boolean;
	/**
	 * How booter_load is loaded on SEC2: `dma` (GA10x+, nova: secure app 0 only, BOOTVEC = app0.offset) or
	 * `pio` (TU10x/GA100, nouveau `gm200_flcn_fw_load`: non-secure OS code at its offset, secure app 0 at its
	 * offset, tags = address >> 8, BOOTVEC = os_code_offset).
	 */
	readonly booterLoad: 'dma' | 'pio';
	/**
	 * The signature kind SEC2's boot ROM checks for booter images (`MOD_SEL.ALGO`): `AES` (AES-128, 16-byte
	 * signatures) on TU10x, `RSA3K` (384-byte) on GA100 and GA10x/AD10x, as the published booter files are
	 * signed. A booter with the other kind is from another chip generation.
	 */
	readonly booterSignature: BooterSignatureKind;
	/** Whether the chip has a display engine (the VGA workspace register is read only then). */
	readonly hasDisplay: boolean;
	/** FRTS size: 1 MiB, or 0 on GA100 (FWSEC-FRTS is then not run; booter sets up WPR2). */
	readonly frtsSize: bigint;
	/** WPR2 heap parameters (r570 constants; see fb-layout.ts). */
	readonly heap: HeapParams;
}

/** A booter signature kind, named as `MOD_SEL.ALGO` names it. */
export type BooterSignatureKind = 'AES' | 'RSA3K';

/** Bytes per booter signature of each kind. */
export const BOOTER_SIGNATURE_SIZE: Readonly<Record<BooterSignatureKind, number>> = Object.freeze({
	AES: 16,
	RSA3K: 384,
});

/** Re-exported for HAL modules. */
export type { FbLayoutInput };
