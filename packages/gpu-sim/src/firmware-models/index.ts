/**
 * Behavioural firmware models (FWSEC-FRTS, booter_load/unload, the generic bootloader), the registry of
 * known images, and the synthetic firmware generator.
 *
 * @module
 */

export {
	type BooterLookup,
	type BooterStartDetails,
	booterLoadProgram,
	booterUnloadProgram,
	type GspCoreState,
	MAX_GSP_IMAGE_SIZE,
} from './booter.ts';
export {
	type ElfInfo,
	type ElfSection,
	type ElfSectionInput,
	EM_RISCV,
	elfSection,
	readElfSections,
	writeElf,
} from './elf.ts';
export {
	BIN_MAGIC,
	type BinHeader,
	binPayload,
	type GenBootloaderImage,
	type HsImage,
	type RiscvBootloaderImage,
	readBinHeader,
	readGenBootloader,
	readHsImage,
	readRiscvBootloader,
} from './formats.ts';
export {
	DMEM_MAPPER_INIT_CMD,
	FRTS_REGION_TYPE_FB,
	FWSEC_COMMAND,
	fwsecKnownUcode,
	fwsecProgram,
} from './fwsec-frts.ts';
export { BOOTLOADER_DMEM_DESC_SIZE, genBootloaderProgram } from './gen-bootloader.ts';
export { REAL_FIRMWARE_TABLE } from './known-images.generated.ts';
export {
	BOOT_CHIPS,
	type BooterRecord,
	type BootloaderRecord,
	booterUcode,
	type GenBootloaderRecord,
	type GspRecord,
	genBootloaderUcode,
	type KnownBootloader,
	type KnownGspImage,
	type KnownImageKind,
	KnownImages,
	type RealFirmwareTable,
} from './known-images.ts';
export { type BusRead, RADIX3_ENTRIES, RADIX3_PAGE, type Radix3Result, walkRadix3 } from './radix3.ts';
export {
	booterRecordOf,
	bootloaderRecordOf,
	genBootloaderRecordOf,
	gspRecordOf,
	renderKnownImagesModule,
	scanRealFirmware,
} from './scan-real.ts';
export {
	registerAllSyntheticFirmware,
	registerSyntheticFirmware,
	registerSyntheticFirmwareLazily,
	SYNTHETIC_FAMILY_CHIPS,
	SYNTHETIC_FIRMWARE_VERSIONS,
	type SyntheticFirmwareSet,
	type SyntheticFirmwareVersion,
	syntheticFirmware,
	writeSyntheticFirmwareTree,
} from './synthetic.ts';
export {
	decodeWprMeta,
	WPR_META_MAGIC,
	WPR_META_OFFSETS,
	WPR_META_REVISION,
	WPR_META_SIZE,
	WPR_META_VERIFIED,
	type WprMeta,
} from './wpr-meta.ts';
