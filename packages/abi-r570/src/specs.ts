/**
 * Shapes of the r570 structures that differ from r535 (everything else is imported from
 * `@gspkit/abi-r535`'s `specs` and re-checked against r570's manifest at bind time).
 *
 * @module
 */

import { shape, specs } from '@gspkit/abi-r535';

const { struct, array } = shape;

/** r570's `MESSAGE_QUEUE_INIT_ARGUMENTS` (32 bytes: the lockless offsets are gone). */
export const MQ_INIT_ARGS_R570 = struct('MESSAGE_QUEUE_INIT_ARGUMENTS', specs.MQ_INIT_ARGS.fields);

/** r570's `GSP_ARGUMENTS_CACHED` (72 bytes, `bDmemStack` added). */
export const ARGUMENTS_CACHED_R570 = struct('GSP_ARGUMENTS_CACHED', {
	...specs.ARGUMENTS_CACHED.fields,
	messageQueueInitArguments: MQ_INIT_ARGS_R570,
	bDmemStack: 'u8',
});

/** r570's `GspFwWprMeta`: the seven padding bytes became `flags`, `padding[2]`, `pmuReservedSize`. */
export const WPR_META_R570 = struct('GspFwWprMeta', {
	...specs.WPR_META.fields,
	flags: 'u8',
	padding: 'u8[2]',
	pmuReservedSize: 'u32',
});

/** `GSP_PCIE_CONFIG_REG`. */
export const PCIE_CONFIG_REG = struct('GSP_PCIE_CONFIG_REG', { linkCap: 'u32' });

/** r570's additions to `GspSystemInfo` (928 bytes; `hostPageSize` at 920). */
export const SYSTEM_INFO_R570 = struct(
	'GspSystemInfo',
	{
		...specs.SYSTEM_INFO.fields,
		gpuPhysIoAddr: 'u64',
		notifyOpSharedSurfacePhysAddr: 'u64',
		PCIDeviceID: 'u32',
		PCISubDeviceID: 'u32',
		PCIRevisionID: 'u32',
		pcieAtomicsCplDeviceCapMask: 'u32',
		bFlrSupported: 'u8',
		b64bBar0Supported: 'u8',
		chipsetL1ssEnable: 'u32',
		bSystemHasMux: 'u8',
		bIsPrimary: 'u8',
		isGridBuild: 'u8',
		pcieConfigReg: PCIE_CONFIG_REG,
		gridBuildCsp: 'u32',
		bPreserveVideoMemoryAllocations: 'u8',
		bTdrEventSupported: 'u8',
		bFeatureStretchVblankCapable: 'u8',
		bEnableDynamicGranularityPageArrays: 'u8',
		bClockBoostSupported: 'u8',
		bRouteDispIntrsToCPU: 'u8',
		hostPageSize: 'u64',
	},
	{ partial: true },
);

/** `FW_WPR_LAYOUT_OFFSET`: where ACR put the non-WPR heap and FRTS. */
export const FW_WPR_LAYOUT_OFFSET = struct('FW_WPR_LAYOUT_OFFSET', {
	nonWprHeapOffset: 'u64',
	frtsOffset: 'u64',
});

/** r570's `GspStaticConfigInfo` additions the driver reads. */
export const STATIC_CONFIG_INFO_R570 = struct(
	'GspStaticConfigInfo',
	{ ...specs.STATIC_CONFIG_INFO.fields, fwWprLayoutOffset: FW_WPR_LAYOUT_OFFSET },
	{ partial: true },
);

/** r570's `NV2080_CTRL_GPU_CONSTRUCTED_FALCON_INFO` (was `NV2080_CTRL_INTERNAL_…` in r535). */
export const CONSTRUCTED_FALCON_R570 = struct(
	'NV2080_CTRL_GPU_CONSTRUCTED_FALCON_INFO',
	specs.CONSTRUCTED_FALCON_R535.fields,
);

/** r570's `NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS`. */
export const GET_CONSTRUCTED_FALCON_INFO_R570 = struct('NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS', {
	numConstructedFalcons: 'u32',
	constructedFalconsTable: array(CONSTRUCTED_FALCON_R570, 64),
});

/** r570's `NV2080_CTRL_INTERNAL_STATIC_GR_CONTEXT_BUFFERS_INFO`: 26 buffer kinds. */
export const GR_CONTEXT_BUFFERS_INFO_R570 = struct('NV2080_CTRL_INTERNAL_STATIC_GR_CONTEXT_BUFFERS_INFO', {
	engine: array(specs.ENGINE_CONTEXT_BUFFER_INFO, 26),
});

/** r570's `NV2080_CTRL_INTERNAL_STATIC_GR_GET_CONTEXT_BUFFERS_INFO_PARAMS`. */
export const GR_GET_CONTEXT_BUFFERS_INFO_R570 = struct(
	'NV2080_CTRL_INTERNAL_STATIC_GR_GET_CONTEXT_BUFFERS_INFO_PARAMS',
	{
		engineContextBuffersInfo: array(GR_CONTEXT_BUFFERS_INFO_R570, 8),
	},
);
