/**
 * Shapes of the structures the core exchanges with GSP-RM (names and types of the fields it relies on;
 * offsets always come from the branch's manifest). Shapes marked `partial` describe the fields common to
 * every supported branch, so one neutral TypeScript type covers both r535 and r570; branch-specific
 * fields are handled by the sub-interface that owns the structure.
 *
 * `@gspkit/abi-r570` imports these shapes: a shape that still fits r570's manifest is reused as is, and
 * the bind-time check fails loudly if it does not.
 *
 * @module
 */

import { shape } from './shape.ts';

const { struct, union, array, flex } = shape;

// ───────────────────────────── transport ─────────────────────────────

/** `rpc_message_rpc_union_field_v03_00`: `spare` / `cpuRmGfid`. */
export const RPC_UNION_FIELD = union('rpc_message_rpc_union_field_v03_00', {
	spare: 'u32',
	cpuRmGfid: 'u32',
});

/** `rpc_message_header_v03_00` (32 bytes; the payload follows as a flexible array of an empty union). */
export const RPC_HEADER = struct('rpc_message_header_v03_00', {
	header_version: 'u32',
	signature: 'u32',
	length: 'u32',
	function: 'u32',
	rpc_result: 'u32',
	rpc_result_private: 'u32',
	sequence: 'u32',
	u: RPC_UNION_FIELD,
	rpc_message_data: flex(union('rpc_generic_union', {})),
});

/** `GSP_MSG_QUEUE_ELEMENT`: 48-byte element header followed by the RPC header. */
export const QUEUE_ELEMENT = struct('GSP_MSG_QUEUE_ELEMENT', {
	authTagBuffer: 'u8[16]',
	aadBuffer: 'u8[16]',
	checkSum: 'u32',
	seqNum: 'u32',
	elemCount: 'u32',
	rpc: RPC_HEADER,
});

/** `msgqTxHeader`: the queue header page's first 32 bytes. */
export const MSGQ_TX_HEADER = struct('msgqTxHeader', {
	version: 'u32',
	size: 'u32',
	msgSize: 'u32',
	msgCount: 'u32',
	writePtr: 'u32',
	flags: 'u32',
	rxHdrOff: 'u32',
	entryOff: 'u32',
});

/** `msgqRxHeader`: the owner's read pointer into the other queue. */
export const MSGQ_RX_HEADER = struct('msgqRxHeader', { readPtr: 'u32' });

// ───────────────────────────── boot arguments ─────────────────────────────

/** `MESSAGE_QUEUE_INIT_ARGUMENTS`, the fields both branches have (r535 adds the lockless offsets). */
export const MQ_INIT_ARGS = struct(
	'MESSAGE_QUEUE_INIT_ARGUMENTS',
	{ sharedMemPhysAddr: 'u64', pageTableEntryCount: 'u32', cmdQueueOffset: 'u64', statQueueOffset: 'u64' },
	{ partial: true },
);

/** r535's full `MESSAGE_QUEUE_INIT_ARGUMENTS` (48 bytes). */
export const MQ_INIT_ARGS_R535 = struct('MESSAGE_QUEUE_INIT_ARGUMENTS', {
	...MQ_INIT_ARGS.fields,
	locklessCmdQueueOffset: 'u64',
	locklessStatQueueOffset: 'u64',
});

/** `GSP_SR_INIT_ARGUMENTS` (suspend/resume state handed to GSP-RM at boot). */
export const SR_INIT_ARGS = struct('GSP_SR_INIT_ARGUMENTS', {
	oldLevel: 'u32',
	flags: 'u32',
	bInPMTransition: 'u8',
});

/** `GSP_ARGUMENTS_CACHED.profilerArgs`. */
export const PROFILER_ARGS = struct('GSP_ARGUMENTS_CACHED.profilerArgs', { pa: 'u64', size: 'u64' });

/** `GSP_ARGUMENTS_CACHED` (the RMARGS page), common fields. */
export const ARGUMENTS_CACHED = struct(
	'GSP_ARGUMENTS_CACHED',
	{
		messageQueueInitArguments: MQ_INIT_ARGS,
		srInitArguments: SR_INIT_ARGS,
		gpuInstance: 'u32',
		profilerArgs: PROFILER_ARGS,
	},
	{ partial: true },
);

/** r535's full `GSP_ARGUMENTS_CACHED` (80 bytes). */
export const ARGUMENTS_CACHED_R535 = struct('GSP_ARGUMENTS_CACHED', {
	...ARGUMENTS_CACHED.fields,
	messageQueueInitArguments: MQ_INIT_ARGS_R535,
});

/** `LibosMemoryRegionInitArgument`: one entry of the LIBOS argument page. */
export const LIBOS_REGION = struct('LibosMemoryRegionInitArgument', {
	id8: 'u64',
	pa: 'u64',
	size: 'u64',
	kind: 'u8',
	loc: 'u8',
});

const WPR_SIG = struct('GspFwWprMeta.@anon0.@anon0', {
	sysmemAddrOfSignature: 'u64',
	sizeOfSignature: 'u64',
});
const WPR_FREELIST = struct('GspFwWprMeta.@anon0.@anon1', {
	gspFwHeapFreeListWprOffset: 'u32',
	unused0: 'u32',
	unused1: 'u64',
});
const WPR_PARTITION = struct('GspFwWprMeta.@anon1.@anon0', {
	partitionRpcAddr: 'u64',
	partitionRpcRequestOffset: 'u16',
	partitionRpcReplyOffset: 'u16',
	elfCodeOffset: 'u32',
	elfDataOffset: 'u32',
	elfCodeSize: 'u32',
	elfDataSize: 'u32',
	lsUcodeVersion: 'u32',
});
const WPR_CRASH = struct('GspFwWprMeta.@anon1.@anon1', {
	partitionRpcPadding: 'u32[4]',
	sysmemAddrOfCrashReportQueue: 'u64',
	sizeOfCrashReportQueue: 'u32',
	lsUcodeVersionPadding: 'u32[1]',
});

/** `GspFwWprMeta` (256 bytes in both branches), every field but the tail r570 re-carved. */
export const WPR_META = struct(
	'GspFwWprMeta',
	{
		magic: 'u64',
		revision: 'u64',
		sysmemAddrOfRadix3Elf: 'u64',
		sizeOfRadix3Elf: 'u64',
		sysmemAddrOfBootloader: 'u64',
		sizeOfBootloader: 'u64',
		bootloaderCodeOffset: 'u64',
		bootloaderDataOffset: 'u64',
		bootloaderManifestOffset: 'u64',
		'@anon0': union('GspFwWprMeta.@anon0', { '@anon0': WPR_SIG, '@anon1': WPR_FREELIST }),
		gspFwRsvdStart: 'u64',
		nonWprHeapOffset: 'u64',
		nonWprHeapSize: 'u64',
		gspFwWprStart: 'u64',
		gspFwHeapOffset: 'u64',
		gspFwHeapSize: 'u64',
		gspFwOffset: 'u64',
		bootBinOffset: 'u64',
		frtsOffset: 'u64',
		frtsSize: 'u64',
		gspFwWprEnd: 'u64',
		fbSize: 'u64',
		vgaWorkspaceOffset: 'u64',
		vgaWorkspaceSize: 'u64',
		bootCount: 'u64',
		'@anon1': union('GspFwWprMeta.@anon1', { '@anon0': WPR_PARTITION, '@anon1': WPR_CRASH }),
		gspFwHeapVfPartitionCount: 'u8',
		verified: 'u64',
	},
	{ partial: true },
);

/** r535's `GspFwWprMeta`: seven padding bytes after `gspFwHeapVfPartitionCount`. */
export const WPR_META_R535 = struct('GspFwWprMeta', { ...WPR_META.fields, padding: 'u8[7]' });

/** The `GspFwWprMeta` fields r570 carved out of the padding (`ctx.fits` tells whether a branch has them). */
export const WPR_META_PMU = struct(
	'GspFwWprMeta',
	{ flags: 'u8', pmuReservedSize: 'u32' },
	{ partial: true },
);

/** The lockless queue offsets of r535's RMARGS (absent in r570). */
export const ARGUMENTS_CACHED_LOCKLESS = struct(
	'GSP_ARGUMENTS_CACHED',
	{ messageQueueInitArguments: MQ_INIT_ARGS_R535 },
	{ partial: true },
);

/** r570's `bDmemStack` in RMARGS. */
export const ARGUMENTS_CACHED_DMEM_STACK = struct(
	'GSP_ARGUMENTS_CACHED',
	{ bDmemStack: 'u8' },
	{ partial: true },
);

/** `BUSINFO` (PCI identity of an upstream bridge or the chipset). */
export const BUSINFO = struct('BUSINFO', {
	deviceID: 'u16',
	vendorID: 'u16',
	subdeviceID: 'u16',
	subvendorID: 'u16',
	revisionID: 'u8',
});

/** `GSP_VF_INFO` (SR-IOV BAR layout of the virtual functions). */
export const VF_INFO = struct('GSP_VF_INFO', {
	totalVFs: 'u32',
	firstVFOffset: 'u32',
	FirstVFBar0Address: 'u64',
	FirstVFBar1Address: 'u64',
	FirstVFBar2Address: 'u64',
	b64bitBar0: 'u8',
	b64bitBar1: 'u8',
	b64bitBar2: 'u8',
});

/** `GspSystemInfo` (payload of GSP_SET_SYSTEM_INFO), the fields both branches have. */
export const SYSTEM_INFO = struct(
	'GspSystemInfo',
	{
		gpuPhysAddr: 'u64',
		gpuPhysFbAddr: 'u64',
		gpuPhysInstAddr: 'u64',
		nvDomainBusDeviceFunc: 'u64',
		simAccessBufPhysAddr: 'u64',
		pcieAtomicsOpMask: 'u64',
		consoleMemSize: 'u64',
		maxUserVa: 'u64',
		pciConfigMirrorBase: 'u32',
		pciConfigMirrorSize: 'u32',
		oorArch: 'u8',
		clPdbProperties: 'u64',
		Chipset: 'u32',
		bGpuBehindBridge: 'u8',
		bMnocAvailable: 'u8',
		bUpstreamL0sUnsupported: 'u8',
		bUpstreamL1Unsupported: 'u8',
		bUpstreamL1PorSupported: 'u8',
		bUpstreamL1PorMobileOnly: 'u8',
		upstreamAddressValid: 'u8',
		FHBBusInfo: BUSINFO,
		chipsetIDInfo: BUSINFO,
		hypervisorType: 'u32',
		bIsPassthru: 'u8',
		sysTimerOffsetNs: 'u64',
		gspVFInfo: VF_INFO,
	},
	{ partial: true },
);

/** `PACKED_REGISTRY_ENTRY`. */
export const REGISTRY_ENTRY = struct('PACKED_REGISTRY_ENTRY', {
	nameOffset: 'u32',
	type: 'u8',
	data: 'u32',
	length: 'u32',
});

/** `PACKED_REGISTRY_TABLE` (payload of SET_REGISTRY; the names follow the entries). */
export const REGISTRY_TABLE = struct('PACKED_REGISTRY_TABLE', {
	size: 'u32',
	numEntries: 'u32',
	entries: flex(REGISTRY_ENTRY),
});

/** `rpc_unloading_guest_driver_v1F_07` (payload of UNLOADING_GUEST_DRIVER). */
export const UNLOADING_GUEST_DRIVER = struct('rpc_unloading_guest_driver_v1F_07', {
	bInPMTransition: 'u8',
	bGc6Entering: 'u8',
	newLevel: 'u32',
});

// ───────────────────────────── static info ─────────────────────────────

/** `NV2080_CTRL_CMD_FB_GET_FB_REGION_FB_REGION_INFO`. */
export const FB_REGION = struct('NV2080_CTRL_CMD_FB_GET_FB_REGION_FB_REGION_INFO', {
	base: 'u64',
	limit: 'u64',
	reserved: 'u64',
	performance: 'u32',
	supportCompressed: 'u8',
	supportISO: 'u8',
	bProtected: 'u8',
	blackList: 'u8[17]',
});

/** `NV2080_CTRL_CMD_FB_GET_FB_REGION_INFO_PARAMS`. */
export const FB_REGION_INFO = struct('NV2080_CTRL_CMD_FB_GET_FB_REGION_INFO_PARAMS', {
	numFBRegions: 'u32',
	fbRegion: array(FB_REGION, 16),
});

/** `NV2080_CTRL_GPU_GET_FERMI_GPC_INFO_PARAMS`. */
export const GPC_INFO = struct('NV2080_CTRL_GPU_GET_FERMI_GPC_INFO_PARAMS', { gpcMask: 'u32' });

/** `NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS`. */
export const TPC_INFO = struct('NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS', { gpcId: 'u32', tpcMask: 'u32' });

/** `GspStaticConfigInfo` (reply to GET_GSP_STATIC_INFO), the fields both branches have. */
export const STATIC_CONFIG_INFO = struct(
	'GspStaticConfigInfo',
	{
		grCapsBits: 'u8[23]',
		fbRegionInfoParams: FB_REGION_INFO,
		sriovMaxGfid: 'u32',
		poisonFuseEnabled: 'u8',
		fb_length: 'u64',
		fb_bus_width: 'u32',
		fb_ram_type: 'u32',
		l2_cache_size: 'u32',
		gpuNameString: 'u8[64]',
		gpuShortNameString: 'u8[64]',
		gpuNameString_Unicode: 'u16[64]',
		bGpuInternalSku: 'u8',
		bIsQuadroGeneric: 'u8',
		bIsQuadroAd: 'u8',
		bIsNvidiaNvs: 'u8',
		bIsVgx: 'u8',
		bGeforceSmb: 'u8',
		bIsTitan: 'u8',
		bIsTesla: 'u8',
		bIsMobile: 'u8',
		bIsGc6Rtd3Allowed: 'u8',
		bIsGcOffRtd3Allowed: 'u8',
		bIsGcoffLegacyAllowed: 'u8',
		bar1PdeBase: 'u64',
		bar2PdeBase: 'u64',
		bVbiosValid: 'u8',
		vbiosSubVendor: 'u32',
		vbiosSubDevice: 'u32',
		bPageRetirementSupported: 'u8',
		bSplitVasBetweenServerClientRm: 'u8',
		bClRootportNeedsNosnoopWAR: 'u8',
		displaylessMaxPixels: 'u64',
		hInternalClient: 'u32',
		hInternalDevice: 'u32',
		hInternalSubdevice: 'u32',
		bSelfHostedMode: 'u8',
		bAtsSupported: 'u8',
		bIsGpuUefi: 'u8',
	},
	{ partial: true },
);

/** r535's GPC/TPC part of `GspStaticConfigInfo` (removed in r570). */
export const STATIC_CONFIG_INFO_GR_R535 = struct(
	'GspStaticConfigInfo',
	{ gpcInfo: GPC_INFO, tpcInfo: array(TPC_INFO, 32) },
	{ partial: true },
);

// ───────────────────────────── RM API payloads ─────────────────────────────

/** `rpc_gsp_rm_alloc_v03_00` + `params[]`. */
export const RM_ALLOC = struct('rpc_gsp_rm_alloc_v03_00', {
	hClient: 'u32',
	hParent: 'u32',
	hObject: 'u32',
	hClass: 'u32',
	status: 'u32',
	paramsSize: 'u32',
	flags: 'u32',
	reserved: 'u8[4]',
	params: 'u8[]',
});

/** `rpc_gsp_rm_control_v03_00` + `params[]`. */
export const RM_CONTROL = struct('rpc_gsp_rm_control_v03_00', {
	hClient: 'u32',
	hObject: 'u32',
	cmd: 'u32',
	status: 'u32',
	paramsSize: 'u32',
	flags: 'u32',
	params: 'u8[]',
});

/** `NVOS00_PARAMETERS_v03_00`. */
export const NVOS00 = struct('NVOS00_PARAMETERS_v03_00', {
	hRoot: 'u32',
	hObjectParent: 'u32',
	hObjectOld: 'u32',
	status: 'u32',
});

/** `rpc_free_v03_00`. */
export const RM_FREE = struct('rpc_free_v03_00', { params: NVOS00 });

/** `rpc_run_cpu_sequencer_v17_00` + `commandBuffer[]`. */
export const RUN_CPU_SEQUENCER = struct('rpc_run_cpu_sequencer_v17_00', {
	bufferSizeDWord: 'u32',
	cmdIndex: 'u32',
	regSaveArea: 'u32[8]',
	commandBuffer: 'u32[]',
});

/** `GSP_SEQ_BUF_PAYLOAD_REG_WRITE`. */
export const SEQ_REG_WRITE = struct('GSP_SEQ_BUF_PAYLOAD_REG_WRITE', { addr: 'u32', val: 'u32' });
/** `GSP_SEQ_BUF_PAYLOAD_REG_MODIFY`. */
export const SEQ_REG_MODIFY = struct('GSP_SEQ_BUF_PAYLOAD_REG_MODIFY', {
	addr: 'u32',
	mask: 'u32',
	val: 'u32',
});
/** `GSP_SEQ_BUF_PAYLOAD_REG_POLL`. */
export const SEQ_REG_POLL = struct('GSP_SEQ_BUF_PAYLOAD_REG_POLL', {
	addr: 'u32',
	mask: 'u32',
	val: 'u32',
	timeout: 'u32',
	error: 'u32',
});
/** `GSP_SEQ_BUF_PAYLOAD_DELAY_US`. */
export const SEQ_DELAY_US = struct('GSP_SEQ_BUF_PAYLOAD_DELAY_US', { val: 'u32' });
/** `GSP_SEQ_BUF_PAYLOAD_REG_STORE`. */
export const SEQ_REG_STORE = struct('GSP_SEQ_BUF_PAYLOAD_REG_STORE', { addr: 'u32', index: 'u32' });

/** `rpc_os_error_log_v17_00` (event OS_ERROR_LOG), common fields (r570 appends `preemptiveRemovalPreviousXid`). */
export const OS_ERROR_LOG = struct(
	'rpc_os_error_log_v17_00',
	{ exceptType: 'u32', runlistId: 'u32', chid: 'u32', errString: 'char[256]' },
	{ partial: true },
);

/**
 * `rpc_rc_triggered_v17_02` (event RC_TRIGGERED), common fields. The struct kept its versioned name but
 * grew from 20 to 48 bytes in r570 (gfid, exceptLevel, MMU fault address/type, RC journal).
 */
export const RC_TRIGGERED = struct(
	'rpc_rc_triggered_v17_02',
	{ nv2080EngineType: 'u32', chid: 'u32', exceptType: 'u32', scope: 'u32', partitionAttributionId: 'u16' },
	{ partial: true },
);

/** `rpc_post_event_v17_00` (event POST_EVENT). */
export const POST_EVENT = struct('rpc_post_event_v17_00', {
	hClient: 'u32',
	hEvent: 'u32',
	notifyIndex: 'u32',
	data: 'u32',
	info16: 'u16',
	status: 'u32',
	eventDataSize: 'u32',
	bNotifyList: 'u8',
	eventData: 'u8[]',
});

// ───────────────────────────── object alloc params ─────────────────────────────

/** `NV0000_ALLOC_PARAMETERS` (NV01_ROOT), common fields (r570 adds `pOsPidInfo`). */
export const ROOT_ALLOC = struct(
	'NV0000_ALLOC_PARAMETERS',
	{ hClient: 'u32', processID: 'u32', processName: 'char[100]' },
	{ partial: true },
);

/** `NV0080_ALLOC_PARAMETERS` (NV01_DEVICE_0). */
export const DEVICE_ALLOC = struct('NV0080_ALLOC_PARAMETERS', {
	deviceId: 'u32',
	hClientShare: 'u32',
	hTargetClient: 'u32',
	hTargetDevice: 'u32',
	flags: 'u32',
	vaSpaceSize: 'u64',
	vaStartInternal: 'u64',
	vaLimitInternal: 'u64',
	vaMode: 'u32',
});

/** `NV2080_ALLOC_PARAMETERS` (NV20_SUBDEVICE_0). */
export const SUBDEVICE_ALLOC = struct('NV2080_ALLOC_PARAMETERS', { subDeviceId: 'u32' });

/** `NV_VASPACE_ALLOCATION_PARAMETERS` (FERMI_VASPACE_A). */
export const VASPACE_ALLOC = struct('NV_VASPACE_ALLOCATION_PARAMETERS', {
	index: 'u32',
	flags: 'u32',
	vaSize: 'u64',
	vaStartInternal: 'u64',
	vaLimitInternal: 'u64',
	bigPageSize: 'u32',
	vaBase: 'u64',
});

/** `NV_MEMORY_DESC_PARAMS`. */
export const MEMORY_DESC = struct('NV_MEMORY_DESC_PARAMS', {
	base: 'u64',
	size: 'u64',
	addressSpace: 'u32',
	cacheAttrib: 'u32',
});

/** `NV_CHANNEL_ALLOC_PARAMS` (GPFIFO channel classes), common fields (r570 adds `tpcConfigID`). */
export const CHANNEL_ALLOC = struct(
	'NV_CHANNEL_ALLOC_PARAMS',
	{
		hObjectError: 'u32',
		hObjectBuffer: 'u32',
		gpFifoOffset: 'u64',
		gpFifoEntries: 'u32',
		flags: 'u32',
		hContextShare: 'u32',
		hVASpace: 'u32',
		hUserdMemory: 'u32[8]',
		userdOffset: 'u64[8]',
		engineType: 'u32',
		cid: 'u32',
		subDeviceId: 'u32',
		hObjectEccError: 'u32',
		instanceMem: MEMORY_DESC,
		userdMem: MEMORY_DESC,
		ramfcMem: MEMORY_DESC,
		mthdbufMem: MEMORY_DESC,
		hPhysChannelGroup: 'u32',
		internalFlags: 'u32',
		errorNotifierMem: MEMORY_DESC,
		eccErrorNotifierMem: MEMORY_DESC,
		ProcessID: 'u32',
		SubProcessID: 'u32',
		encryptIv: 'u32[3]',
		decryptIv: 'u32[3]',
		hmacNonce: 'u32[8]',
	},
	{ partial: true },
);

/** `NVC0B5_ALLOCATION_PARAMETERS` (copy engine classes). */
export const CE_ALLOC = struct('NVC0B5_ALLOCATION_PARAMETERS', { version: 'u32', engineType: 'u32' });

// ───────────────────────────── control params ─────────────────────────────

/** `NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS.levels`. */
export const RESERVED_PDE_LEVEL = struct('NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS.levels', {
	physAddress: 'u64',
	size: 'u64',
	aperture: 'u32',
	pageShift: 'u8',
});

/** `NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS`. */
export const COPY_SERVER_RESERVED_PDES = struct('NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS', {
	hSubDevice: 'u32',
	subDeviceId: 'u32',
	pageSize: 'u64',
	virtAddrLo: 'u64',
	virtAddrHi: 'u64',
	numLevelsToCopy: 'u32',
	levels: array(RESERVED_PDE_LEVEL, 6),
});

/** `NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_ENTRY`. */
export const INTR_TABLE_ENTRY = struct('NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_ENTRY', {
	engineIdx: 'u16',
	pmcIntrMask: 'u32',
	vectorStall: 'u32',
	vectorNonStall: 'u32',
});

/** `NV2080_INTR_CATEGORY_SUBTREE_MAP`. */
export const INTR_SUBTREE_MAP = struct('NV2080_INTR_CATEGORY_SUBTREE_MAP', {
	subtreeStart: 'u8',
	subtreeEnd: 'u8',
});

/** `NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS`. */
export const INTR_GET_KERNEL_TABLE = struct('NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS', {
	tableLen: 'u32',
	table: array(INTR_TABLE_ENTRY, 128),
	subtreeMap: array(INTR_SUBTREE_MAP, 7),
});

/** `NV2080_CTRL_FIFO_DEVICE_ENTRY`. */
export const FIFO_DEVICE_ENTRY = struct('NV2080_CTRL_FIFO_DEVICE_ENTRY', {
	engineData: 'u32[16]',
	pbdmaIds: 'u32[2]',
	pbdmaFaultIds: 'u32[2]',
	numPbdmas: 'u32',
	engineName: 'char[16]',
});

/** `NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS`. */
export const FIFO_GET_DEVICE_INFO_TABLE = struct('NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS', {
	baseIndex: 'u32',
	numEntries: 'u32',
	bMore: 'u8',
	entries: array(FIFO_DEVICE_ENTRY, 32),
});

/** `NV2080_CTRL_CE_GET_FAULT_METHOD_BUFFER_SIZE_PARAMS`. */
export const CE_GET_FAULT_METHOD_BUFFER_SIZE = struct('NV2080_CTRL_CE_GET_FAULT_METHOD_BUFFER_SIZE_PARAMS', {
	size: 'u32',
});

/** `NVA06F_CTRL_BIND_PARAMS`. */
export const CHANNEL_BIND = struct('NVA06F_CTRL_BIND_PARAMS', { engineType: 'u32' });

/** `NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS`. */
export const GPFIFO_SCHEDULE = struct('NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS', {
	bEnable: 'u8',
	bSkipSubmit: 'u8',
});

/** `NV2080_CTRL_EVENT_SET_NOTIFICATION_PARAMS`. */
export const EVENT_SET_NOTIFICATION = struct('NV2080_CTRL_EVENT_SET_NOTIFICATION_PARAMS', {
	event: 'u32',
	action: 'u32',
	bNotifyState: 'u8',
	info32: 'u32',
	info16: 'u16',
});

/** `NV2080_CTRL_INTERNAL_ENGINE_CONTEXT_BUFFER_INFO`. */
export const ENGINE_CONTEXT_BUFFER_INFO = struct('NV2080_CTRL_INTERNAL_ENGINE_CONTEXT_BUFFER_INFO', {
	size: 'u32',
	alignment: 'u32',
});

/** r535's `NV2080_CTRL_INTERNAL_STATIC_GR_CONTEXT_BUFFERS_INFO`: 25 buffer kinds (r570 has 26, same name). */
export const GR_CONTEXT_BUFFERS_INFO_R535 = struct('NV2080_CTRL_INTERNAL_STATIC_GR_CONTEXT_BUFFERS_INFO', {
	engine: array(ENGINE_CONTEXT_BUFFER_INFO, 25),
});

/** r535's `NV2080_CTRL_INTERNAL_STATIC_GR_GET_CONTEXT_BUFFERS_INFO_PARAMS`. */
export const GR_GET_CONTEXT_BUFFERS_INFO_R535 = struct(
	'NV2080_CTRL_INTERNAL_STATIC_GR_GET_CONTEXT_BUFFERS_INFO_PARAMS',
	{
		engineContextBuffersInfo: array(GR_CONTEXT_BUFFERS_INFO_R535, 8),
	},
);

/** r535's `NV2080_CTRL_INTERNAL_CONSTRUCTED_FALCON_INFO` (r570 renamed it `NV2080_CTRL_GPU_…`). */
export const CONSTRUCTED_FALCON_R535 = struct('NV2080_CTRL_INTERNAL_CONSTRUCTED_FALCON_INFO', {
	engDesc: 'u32',
	ctxAttr: 'u32',
	ctxBufferSize: 'u32',
	addrSpaceList: 'u32',
	registerBase: 'u32',
});

/** r535's `NV2080_CTRL_INTERNAL_GET_CONSTRUCTED_FALCON_INFO_PARAMS`. */
export const GET_CONSTRUCTED_FALCON_INFO_R535 = struct(
	'NV2080_CTRL_INTERNAL_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
	{
		numConstructedFalcons: 'u32',
		constructedFalconsTable: array(CONSTRUCTED_FALCON_R535, 64),
	},
);
