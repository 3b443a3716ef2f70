/**
 * The falcon boot hardware: falcon engines (GSP, SEC2), the simulated boot ROM, the boot registers and the
 * assembled {@link BootHardware} of a board.
 *
 * @module
 */

export {
	BootHardware,
	type BootHardwareOptions,
	createBootHardware,
	type GspStartInfo,
} from './boot-hardware.ts';
export { defineBootRegisters } from './boot-registers.ts';
export { type BromInputs, type BromOutcome, bromStart } from './brom.ts';
export {
	BOOTER_ERROR,
	BROM_ERROR,
	bootCodeName,
	FWSEC_ERROR,
	GENBL_ERROR,
	GSP_HANDOFF_ERROR,
} from './codes.ts';
export { SIM_BOOT_ERROR_CODES, SimBootConfigError, SimFirmwareFormatError } from './errors.ts';
export { type DmaFaultInfo, type FalconRunRecord, SimFalcon, type SimFalconOptions } from './falcon.ts';
export { FALCON_BLOCK_SIZE, FalconImem, type ImemBlockInfo, ImemTagMap } from './memory.ts';
export {
	BOOTER_UCODE_ID,
	type BootFamily,
	type BootProfile,
	type BromKind,
	bootFamilyOf,
	bootProfile,
	engineIdMaskOf,
	SIGNATURE_SECTION,
} from './profile.ts';
export {
	type BromParams,
	FalconDmaFault,
	type FalconEffects,
	type FalconEngineName,
	type FalconExecution,
	type FalconHost,
	type FalconProgram,
	type FbifAccess,
	type KnownUcode,
	type RiscvRequest,
	type UcodeDataInfo,
	type UcodeHsInfo,
	type UcodeRegistry,
	type UcodeSegment,
} from './program.ts';
export {
	BITS as FALCON_BITS,
	BOOT_REGS,
	ENGINE_ID_MASK,
	FALCON,
	FALCON_BASES,
	FALCON_WINDOW_SIZE,
	FALCON2,
	FBIF_TARGET,
	fuseArrayFor,
	fuseVersionOf,
	MOD_SEL_ALGO,
	wpr2Address,
	wpr2Field,
} from './registers.ts';
