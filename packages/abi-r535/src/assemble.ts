/**
 * Turning one branch's manifest, chip list and sub-interfaces into a validated `FirmwareAbi`. Every
 * ABI package ends with a call to {@link defineBranchAbi}.
 *
 * @module
 */

import {
	AbiError,
	defineFirmwareAbi,
	type FirmwareAbi,
	RPC_FIRST_EVENT,
	type RpcEventTable,
	type RpcFunctionTable,
} from '@gspkit/abi';
import type { CoreLayouts, RmApi } from './api.ts';
import type { AbiContext } from './context.ts';
import * as S from './specs.ts';

/**
 * A branch's ABI: the neutral `FirmwareAbi` with gspkit's typed layouts and sub-interfaces, plus the
 * sequencer opcodes and `NV_STATUS` table message transports need (it satisfies gsp-rpc's `RpcAbi`).
 */
export type BranchAbi = FirmwareAbi<CoreLayouts, RmApi> & {
	/** `GSP_SEQ_BUF_OPCODE_*` by name. */
	readonly sequencerOpcodes: RmApi['sequencer']['opcodes'];
	/** `NV_STATUS` codes by name. */
	readonly nvStatus: Readonly<Record<string, number>>;
};

/** Message IDs by neutral name (prefix dropped), without the `FIRST_EVENT`/`NUM_*` markers. */
export function messageTables(ctx: AbiContext): {
	functions: Record<string, number>;
	events: Record<string, number>;
} {
	const pick = (group: string, prefix: string) => {
		const out: Record<string, number> = {};
		for (const [name, v] of ctx.group(group)) {
			const short = name.startsWith(prefix) ? name.slice(prefix.length) : name;
			if (short === 'NUM_FUNCTIONS' || short === 'NUM_EVENTS' || short === 'FIRST_EVENT') continue;
			out[short] = Number(v);
		}
		return out;
	};
	const functions = pick('rpc-function', 'NV_VGPU_MSG_FUNCTION_');
	const events = pick('rpc-event', 'NV_VGPU_MSG_EVENT_');
	for (const [n, v] of Object.entries(functions)) {
		if (v >= RPC_FIRST_EVENT)
			throw new AbiError('ABI_DEFINITION', `function ${n} = ${v} is in the event range`, { name: n });
	}
	return { functions, events };
}

/** The neutral codecs of {@link CoreLayouts}, bound on `ctx` (specs a branch renamed can be replaced). */
export function coreLayouts(
	ctx: AbiContext,
	overrides: {
		readonly getConstructedFalconInfoParams?: typeof S.GET_CONSTRUCTED_FALCON_INFO_R535;
		readonly grGetContextBuffersInfoParams?: typeof S.GR_GET_CONTEXT_BUFFERS_INFO_R535;
	} = {},
): CoreLayouts {
	return Object.freeze({
		queueElement: ctx.bind(S.QUEUE_ELEMENT),
		rpcHeader: ctx.bind(S.RPC_HEADER),
		msgqTxHeader: ctx.bind(S.MSGQ_TX_HEADER),
		msgqRxHeader: ctx.bind(S.MSGQ_RX_HEADER),
		messageQueueInitArguments: ctx.bind(S.MQ_INIT_ARGS),
		argumentsCached: ctx.bind(S.ARGUMENTS_CACHED),
		libosRegion: ctx.bind(S.LIBOS_REGION),
		wprMeta: ctx.bind(S.WPR_META),
		systemInfo: ctx.bind(S.SYSTEM_INFO),
		registryTable: ctx.bind(S.REGISTRY_TABLE),
		registryEntry: ctx.bind(S.REGISTRY_ENTRY),
		rmAlloc: ctx.bind(S.RM_ALLOC),
		rmControl: ctx.bind(S.RM_CONTROL),
		free: ctx.bind(S.RM_FREE),
		seqRegWrite: ctx.bind(S.SEQ_REG_WRITE),
		seqRegModify: ctx.bind(S.SEQ_REG_MODIFY),
		seqRegPoll: ctx.bind(S.SEQ_REG_POLL),
		seqDelayUs: ctx.bind(S.SEQ_DELAY_US),
		seqRegStore: ctx.bind(S.SEQ_REG_STORE),
		runCpuSequencer: ctx.bind(S.RUN_CPU_SEQUENCER),
		staticConfigInfo: ctx.bind(S.STATIC_CONFIG_INFO),
		unloadingGuestDriver: ctx.bind(S.UNLOADING_GUEST_DRIVER),
		osErrorLog: ctx.bind(S.OS_ERROR_LOG),
		rcTriggered: ctx.bind(S.RC_TRIGGERED),
		postEvent: ctx.bind(S.POST_EVENT),
		rootAllocParams: ctx.bind(S.ROOT_ALLOC),
		deviceAllocParams: ctx.bind(S.DEVICE_ALLOC),
		subdeviceAllocParams: ctx.bind(S.SUBDEVICE_ALLOC),
		vaspaceAllocParams: ctx.bind(S.VASPACE_ALLOC),
		channelAllocParams: ctx.bind(S.CHANNEL_ALLOC),
		memoryDescParams: ctx.bind(S.MEMORY_DESC),
		ceAllocParams: ctx.bind(S.CE_ALLOC),
		copyServerReservedPdesParams: ctx.bind(S.COPY_SERVER_RESERVED_PDES),
		intrGetKernelTableParams: ctx.bind(S.INTR_GET_KERNEL_TABLE),
		fifoGetDeviceInfoTableParams: ctx.bind(S.FIFO_GET_DEVICE_INFO_TABLE),
		ceGetFaultMethodBufferSizeParams: ctx.bind(S.CE_GET_FAULT_METHOD_BUFFER_SIZE),
		channelBindParams: ctx.bind(S.CHANNEL_BIND),
		gpfifoScheduleParams: ctx.bind(S.GPFIFO_SCHEDULE),
		gpcInfoParams: ctx.bind(S.GPC_INFO),
		tpcInfoParams: ctx.bind(S.TPC_INFO),
		eventSetNotificationParams: ctx.bind(S.EVENT_SET_NOTIFICATION),
		grGetContextBuffersInfoParams: ctx.bind(
			overrides.grGetContextBuffersInfoParams ?? S.GR_GET_CONTEXT_BUFFERS_INFO_R535,
		),
		getConstructedFalconInfoParams: ctx.bind(
			overrides.getConstructedFalconInfoParams ?? S.GET_CONSTRUCTED_FALCON_INFO_R535,
		),
	});
}

/** What {@link defineBranchAbi} takes. */
export interface BranchAbiSpec {
	readonly ctx: AbiContext;
	/** Lower-case chip names served. */
	readonly chips: readonly string[];
	/** Required firmware files (relative to the firmware root) of a served chip. */
	readonly firmwareFiles: (chip: string) => readonly string[];
	readonly layouts: CoreLayouts;
	readonly api: RmApi;
}

/** Validate and freeze a branch's ABI (`defineFirmwareAbi` checks names, IDs, layouts vs manifest). */
export function defineBranchAbi(spec: BranchAbiSpec): BranchAbi {
	const { functions, events } = messageTables(spec.ctx);
	const branch = `r${spec.ctx.version.split('.')[0]}`;
	const abi = defineFirmwareAbi<CoreLayouts, RmApi>({
		version: spec.ctx.version,
		branch,
		chips: spec.chips,
		firmwareFiles: spec.firmwareFiles,
		functions: functions as unknown as RpcFunctionTable,
		events: events as unknown as RpcEventTable,
		layouts: spec.layouts,
		manifest: spec.ctx.manifest,
		subInterfaces: spec.api,
	});
	// defineFirmwareAbi returns exactly the neutral fields; the extras ride along on a frozen copy.
	return Object.freeze({
		...abi,
		sequencerOpcodes: spec.api.sequencer.opcodes,
		nvStatus: spec.api.rpc.status,
	});
}
