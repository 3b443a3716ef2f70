/**
 * Status codes the simulated boot hardware leaves in mailboxes and scratch registers when it refuses to
 * run something. Real hardware reports failures the same way (a non-zero MAILBOX0, a non-zero
 * `NV_PBUS_SW_SCRATCH(0xe)` high half); the exact values are the simulator's, chosen so every reason is
 * distinct and recognisable in a register dump:
 *
 * - `0xbad1_00xx` — the simulated boot ROM refused to enter heavy-secure mode (authentication failed);
 * - `0x00xx` — FWSEC's own errors (16-bit, also in SCRATCH(0xe) bits 31:16);
 * - `0xbad2_00xx` — booter_load / booter_unload errors;
 * - `0xbad3_00xx` — the generic (Turing) bootloader faulted while chain-loading;
 * - `0xbad4_00xx` — the GSP core refused the boot handoff (GSP MAILBOX0; the core stops).
 *
 * @module
 */

/** Why the simulated BROM refused a heavy-secure image. MAILBOX0 receives the value. */
export const BROM_ERROR = Object.freeze({
	/** The loaded code matches no signed image the simulator knows (any changed code byte lands here). */
	IMAGE_UNKNOWN: 0xbad1_0001,
	/** The code is a known signed image, but for another chip. */
	IMAGE_WRONG_CHIP: 0xbad1_0002,
	/** The code is a known signed image for the other falcon engine. */
	IMAGE_WRONG_ENGINE: 0xbad1_0003,
	/** BOOTVEC is not the image's entry point. */
	BAD_ENTRY: 0xbad1_0004,
	/** Code that must run heavy-secure was not loaded into secure IMEM blocks. */
	CODE_NOT_SECURE: 0xbad1_0005,
	/** `NV_PFALCON2_FALCON_MOD_SEL.ALGO` is not RSA3K. */
	BAD_MOD_SEL: 0xbad1_0006,
	/** `BROM_ENGIDMASK` does not match the image. */
	BAD_ENGIDMASK: 0xbad1_0007,
	/** `BROM_CURR_UCODE_ID` does not match the image. */
	BAD_UCODE_ID: 0xbad1_0008,
	/** `BROM_PARAADDR(0)` is not the image's signature offset in DMEM. */
	BAD_PARAADDR: 0xbad1_0009,
	/** DMEM (outside the fields the driver patches) differs from the signed image. */
	DATA_MISMATCH: 0xbad1_000a,
	/** The image carries no signature for the fuse version of this board. */
	NO_SIGNATURE_FOR_FUSE: 0xbad1_000b,
	/** The signature in DMEM is not the one for the board's fuse version. */
	SIGNATURE_MISMATCH: 0xbad1_000c,
});

/** FWSEC-FRTS errors (16-bit): MAILBOX0 and `NV_PBUS_SW_SCRATCH(0xe)` bits 31:16 receive the value. */
export const FWSEC_ERROR = Object.freeze({
	/** The DMEM mapper's `init_cmd` is neither FRTS (0x15) nor SB (0x19). */
	UNSUPPORTED_COMMAND: 0x0001,
	/** The ReadVbios descriptor of the FRTS command is malformed (version 1, size 24, addr/size 0, flags 2). */
	BAD_READ_VBIOS_DESC: 0x0002,
	/** The FrtsRegion descriptor is malformed (version 1, size 20, non-zero size, type 2 = FB). */
	BAD_FRTS_REGION_DESC: 0x0003,
	/** The requested FRTS region does not lie inside usable framebuffer. */
	FRTS_REGION_OUT_OF_RANGE: 0x0004,
	/** WPR2 is already set up: FWSEC-FRTS refuses to carve it again until the GPU is reset. */
	WPR2_ALREADY_UP: 0x0005,
	/** The DMEM mapper header is not a v3 "DMAP" header. */
	BAD_DMEM_MAPPER: 0x0006,
});

/** booter_load / booter_unload errors: MAILBOX0 receives the value; the GSP core is not started. */
export const BOOTER_ERROR = Object.freeze({
	/** Reading `GspFwWprMeta` at MAILBOX1:MAILBOX0 faulted. */
	WPR_META_FAULT: 0xbad2_0001,
	/** `GspFwWprMeta.magic` is not 0xdc3aae21371a60b3. */
	BAD_MAGIC: 0xbad2_0002,
	/** `GspFwWprMeta.revision` is not 1. */
	BAD_REVISION: 0xbad2_0003,
	/** FWSEC-FRTS has not set up WPR2 (chips with FRTS only). */
	WPR2_NOT_UP: 0xbad2_0004,
	/** The FRTS region in the meta is not the WPR2 region FWSEC carved, or the WPR layout is inconsistent. */
	WPR_LAYOUT: 0xbad2_0005,
	/** `sizeOfRadix3Elf` is zero or larger than the simulator accepts. */
	RADIX3_BAD_SIZE: 0xbad2_0006,
	/** A radix3 table or image page could not be read (unmapped or unaligned entry). */
	RADIX3_FAULT: 0xbad2_0007,
	/** The reassembled image's SHA-256 matches no known GSP firmware image. */
	IMAGE_UNKNOWN: 0xbad2_0008,
	/** The image is known but carries no signature section for this chip family. */
	IMAGE_NOT_FOR_CHIP: 0xbad2_0009,
	/** Reading the signature at `sysmemAddrOfSignature` faulted. */
	SIGNATURE_FAULT: 0xbad2_000a,
	/** The signature is not the image's signature section for this chip family. */
	SIGNATURE_MISMATCH: 0xbad2_000b,
	/** Reading the RISC-V bootloader at `sysmemAddrOfBootloader` faulted. */
	BOOTLOADER_FAULT: 0xbad2_000c,
	/** The RISC-V bootloader is not a known one for this chip. */
	BOOTLOADER_UNKNOWN: 0xbad2_000d,
	/** The bootloader code/data/manifest offsets in the meta do not match the bootloader. */
	BOOTLOADER_LAYOUT: 0xbad2_000e,
	/** The GSP RISC-V core is already running. */
	GSP_ALREADY_RUNNING: 0xbad2_000f,
	/** The GSP falcon is held in reset. */
	GSP_IN_RESET: 0xbad2_0010,
	/** Writing `verified` back to the meta faulted. */
	WPR_META_WRITE_FAULT: 0xbad2_0011,
});

/** Generic-bootloader (Turing FWSEC loader) errors: MAILBOX0 receives the value. */
export const GENBL_ERROR = Object.freeze({
	/** The BootloaderDmemDescV2 names a DMA base that is not 256-byte aligned or an offset not a multiple of 256. */
	UNALIGNED: 0xbad3_0001,
	/** A DMA read through `FBIF_TRANSCFG[ctx_dma]` faulted. */
	DMA_FAULT: 0xbad3_0002,
	/** The descriptor names an IMEM/DMEM range outside the falcon's memories or a bad ctx_dma. */
	BAD_DESCRIPTOR: 0xbad3_0003,
});

/**
 * GSP boot-handoff errors: GSP MAILBOX0 receives the value (overwriting the LIBOS address the CPU left
 * there) and the GSP RISC-V core stops, so GSP-RM never starts.
 */
export const GSP_HANDOFF_ERROR = Object.freeze({
	/**
	 * The CPU wrote a value other than the verified bootloader's `app_version` to the GSP OS register
	 * (reference A.8 step 8).
	 */
	APP_VERSION_MISMATCH: 0xbad4_0001,
});

/** Name of a status code, for diagnostics (`"BROM_ERROR.SIGNATURE_MISMATCH"`), or `undefined`. */
export function bootCodeName(code: number): string | undefined {
	const groups = { BROM_ERROR, BOOTER_ERROR, GENBL_ERROR, GSP_HANDOFF_ERROR } as const;
	for (const [group, table] of Object.entries(groups)) {
		for (const [name, value] of Object.entries(table)) if (value === code >>> 0) return `${group}.${name}`;
	}
	for (const [name, value] of Object.entries(FWSEC_ERROR)) if (value === code) return `FWSEC_ERROR.${name}`;
	return undefined;
}
