/**
 * `@gspkit/core`: the version-neutral device API. `openDevice(platform, { abis })` probes the GPU, selects the
 * firmware and its ABI, boots GSP-RM (falcon-boot), initialises the RPC layer (gsp-rpc) and builds the RM object
 * tree; the {@link Device} then hands out memory, VA spaces (mmu, promoted to RM) and channels with schedulers
 * (channel-sched). No firmware-ABI type crosses this API: the application hands the ABI packages in.
 *
 * @module
 */

export {
	ABI_USES_BY_CONSUMER,
	type AbiConsumer,
	type AbiUses,
	CORE_ABI_USES,
	mergeAbiUses,
} from './abi-uses.ts';
export { type CoreAbiView, coreAbiView } from './abi-view.ts';
export {
	type ChannelEngineKind,
	type ChannelHardwareInfo,
	type ChannelRequest,
	DeviceChannel,
	kernelVaSpaceView,
	type SubmitOptions,
} from './channel.ts';
export {
	CORE_STAGES,
	Device,
	type DeviceEvents,
	type DeviceInfo,
	type DeviceProgress,
	type DeviceStage,
	type DeviceState,
	type DeviceStats,
	type EngineInfo,
	type InterruptRoute,
	type OpenDeviceOptions,
	openDevice,
	pciBdf,
	type StageTiming,
} from './device.ts';
export {
	ChannelKilledError,
	CORE_ERROR_CODES,
	CoreError,
	type CoreErrorCode,
	type CoreErrorOptions,
	isCoreError,
	ProbeError,
} from './errors.ts';
export {
	type AbiCompatMap,
	branchesFor,
	type FirmwareChoice,
	type FirmwareFiles,
	type FirmwareSource,
	type ResolvedFirmware,
	resolveAbiOverride,
	resolveFirmware,
} from './firmware.ts';
export {
	type BooterUnloadResult,
	BSI_SECURE_SCRATCH_14,
	chipFalcons,
	type GspResumeInfo,
	gspFalconControl,
	runBooterUnload,
} from './gsp-falcon.ts';
export { DeviceMemory, type MemoryPlacement, type MemoryRequest } from './memory.ts';
export {
	type BarInfo,
	listCapabilities,
	listExtendedCapabilities,
	PCI_CAP_ID,
	PCI_EXT_CAP_ID,
	type PciCapability,
	type PcieLinkInfo,
	readBars,
	readPcieLink,
	readSriov,
	type SriovInfo,
	sizeBar,
} from './pci.ts';
export {
	type DeviceDescription,
	isDeadRegisterValue,
	NVIDIA_VENDOR_ID,
	type PciDescription,
	probe,
} from './probe.ts';
export { describeRc, XID_NAMES } from './rc.ts';
export {
	DEFAULT_KERNEL_RANGE_SIZE,
	type DeviceMapping,
	DeviceVaSpace,
	dmaMappable,
	KERNEL_RANGE_START,
	type MapOptions,
	type Mappable,
	type VaSpaceHost,
	type VaSpacePromotion,
	type VaSpaceRequest,
} from './vaspace.ts';
export { type ExternalVaSpaceAbi, externalVaSpaceAbi, type RmControlCall } from './vaspace-rm.ts';
export {
	type FbRegionInfo,
	usableVramRanges,
	type VramAllocation,
	VramAllocator,
	type VramRange,
	type VramStats,
} from './vram.ts';
