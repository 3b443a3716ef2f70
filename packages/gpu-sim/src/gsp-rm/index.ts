/**
 * The simulated GSP-RM: the firmware side of the GSP message-queue protocol, RM's object tree and controls,
 * fault injection. See `README.md` in this folder.
 *
 * @module
 */

export {
	type DecodedStruct,
	GSP_RM_FIRMWARE_VERSIONS,
	GspRmAbi,
	type GspRmFirmwareVersion,
	gspRmAbi,
	isGspRmFirmwareVersion,
	StructImage,
} from './abi.ts';
export {
	BootFailure,
	type LibosRegion,
	type QueueInitArguments,
	type RmArguments,
	readLibosLogText,
	type SharedRegion,
} from './boot.ts';
export {
	ADDR_FBMEM,
	ADDR_SYSMEM,
	ceErrorXid,
	channelRegistration,
	exceptTypeOf,
	type GspChannelEvent,
	type GspChannelSink,
	type GspChannelTag,
	gmmuAperture,
	isGspChannelTag,
	memoryDescAperture,
	ROBUST_CHANNEL,
	rcTriggeredFields,
	rootPageShift,
	type VaSpaceRecord,
	vaSpacePdb,
} from './channels.ts';
export { elementChecksum } from './checksum.ts';
export {
	type GspChipClasses,
	type GspChipConfig,
	type GspChipFamily,
	type GspEngine,
	gpcCount,
	gpcMask,
	gspChipConfig,
	gspEngines,
	INTR_INVALID_VECTOR,
	SIM_CHRAM_OFFSET,
	SIM_GSP_STALL_VECTOR,
	SIM_RUNLIST_PRI_BASE,
	SIM_RUNLIST_PRI_STRIDE,
	tpcCount,
	tpcMask,
} from './chip-config.ts';
export {
	ELEMENT_HEADER_SIZE,
	ELEMENT_MAX_PAGES,
	EXTRA_CLASSES,
	EXTRA_CONTROLS,
	GSP_DOORBELL_BAR0,
	GSP_PAGE_SIZE,
	GSP_QUEUE_REGS,
	GSP_UNLOAD_DONE_BIT,
	id8,
	id8Name,
	LIBOS_REGION_ID,
	MSGQ_LINK_ERROR,
	NV_STATUS,
	type NvStatusName,
	nvStatusName,
	PAYLOAD_MAX_PER_ELEMENT,
	RPC_HEADER_SIZE,
	RPC_HEADER_VERSION,
	RPC_MAX_LENGTH,
	RPC_RESULT,
	RPC_SIGNATURE,
} from './constants.ts';
export {
	encodeEventPayload,
	GspRmCore,
	type GspRmEnvironment,
	type GspRmEventPayload,
	type GspRmObjectSummary,
	type GspRmSnapshot,
	type GspRmStartArgs,
	type GspRmStepResult,
	type RegistryValue,
} from './core.ts';
export { GSP_RM_ERROR_CODES, GspRmError, type GspRmErrorCode } from './errors.ts';
export type { GspRmFault } from './faults.ts';
export { type FbLayout, fbLayout } from './fb-layout.ts';
export {
	type GspRmFaultControls,
	type GspRmMode,
	SimulatedGspRm,
	type SimulatedGspRmOptions,
} from './host.ts';
export { type GspMemory, PoolGspMemory, SharedGspMemory } from './memory.ts';
export { type LinkResult, linkCheck, type QueueLayout, readTxHeader, type TxHeader } from './msgq.ts';
export type { MemoryDesc, RmChannelInfo, RmObjectKind } from './rm.ts';
export { workSubmitToken } from './rm-controls.ts';
export {
	buildSequencerPlan,
	queueRegisterName,
	SEQ_DELAY_US,
	SEQ_POLL_READS,
	SEQ_POLL_SETTLE_NS,
	type SequencerPlan,
	type SequencerPreset,
	type SequencerStep,
	type SequencerVerdict,
	verifySequencerTrace,
} from './sequencer.ts';
export {
	armBusMonitor,
	type BusAccess,
	disarmBusMonitor,
	GSP_RM_PHASES,
	GspQueueRegisters,
	type GspRmPhase,
	type MonitorGate,
	readBusTrace,
} from './shared-block.ts';
export { buildStaticInfo, gpuUuid } from './static-info.ts';
export type { ProtocolErrorKind } from './transport.ts';
