/**
 * Test ABIs: from the generated manifests (ground truth from gcc) and hand-built with @gspkit/abi's layout
 * runtime from the facts in shared/reference/gsp-rpc.md, for r535.113.01 and r570.144.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	array,
	flex,
	type RpcEventTable,
	type RpcFunctionTable,
	struct,
	u8,
	u32,
	validateManifest,
} from '@gspkit/abi';
import { type RpcAbi, rpcAbiFromManifest, type SequencerOpcodeTable } from '../../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The two firmware branches. */
export type Branch = 'r535' | 'r570';

/** Path of an ABI package's generated manifest. */
export function manifestPath(branch: Branch): string {
	return resolve(here, `../../../abi-${branch}/src/generated/manifest.json`);
}

const manifestCache = new Map<Branch, RpcAbi>();

/** The RpcAbi derived from the generated manifest of `branch`. */
export function manifestAbi(branch: Branch): RpcAbi {
	let abi = manifestCache.get(branch);
	if (abi === undefined) {
		const m = validateManifest(JSON.parse(readFileSync(manifestPath(branch), 'utf8')));
		abi = rpcAbiFromManifest(m);
		manifestCache.set(branch, abi);
	}
	return abi;
}

// ── hand-built from the reference ──

const msgqTxHeader = struct('msgqTxHeader', [
	['version', u32],
	['size', u32],
	['msgSize', u32],
	['msgCount', u32],
	['writePtr', u32],
	['flags', u32],
	['rxHdrOff', u32],
	['entryOff', u32],
]);
const msgqRxHeader = struct('msgqRxHeader', [['readPtr', u32]]);
const rpcHeader = struct('rpc_message_header_v03_00', [
	['header_version', u32],
	['signature', u32],
	['length', u32],
	['function', u32],
	['rpc_result', u32],
	['rpc_result_private', u32],
	['sequence', u32],
	['spare', u32],
	['data', flex(u8)],
]);
const queueElement = struct('GSP_MSG_QUEUE_ELEMENT', [
	['authTagBuffer', array(u8, 16)],
	['aadBuffer', array(u8, 16)],
	['checkSum', u32],
	['seqNum', u32],
	['elemCount', u32],
	['pad', u32],
	['rpc', rpcHeader],
]);
const nvos00 = struct('NVOS00_PARAMETERS_v03_00', [
	['hRoot', u32],
	['hObjectParent', u32],
	['hObjectOld', u32],
	['status', u32],
]);
const registryEntry = struct('PACKED_REGISTRY_ENTRY', [
	['nameOffset', u32],
	['type', u8],
	['data', u32],
	['length', u32],
]);

const FUNCTIONS = {
	NOP: 0,
	SET_GUEST_SYSTEM_INFO: 1,
	ALLOC_ROOT: 2,
	ALLOC_MEMORY: 4,
	FREE: 10,
	LOG: 11,
	UNLOADING_GUEST_DRIVER: 47,
	GET_STATIC_INFO: 51,
	GET_GSP_STATIC_INFO: 65,
	UPDATE_BAR_PDE: 70,
	CONTINUATION_RECORD: 71,
	GSP_SET_SYSTEM_INFO: 72,
	SET_REGISTRY: 73,
	GSP_RM_CONTROL: 76,
	GSP_RM_ALLOC: 103,
	DISABLE_CHANNELS: 178,
	INVALIDATE_TLB: 200,
};

const EVENTS_COMMON = {
	GSP_INIT_DONE: 0x1001,
	GSP_RUN_CPU_SEQUENCER: 0x1002,
	POST_EVENT: 0x1003,
	RC_TRIGGERED: 0x1004,
	MMU_FAULT_QUEUED: 0x1005,
	OS_ERROR_LOG: 0x1006,
	UCODE_LIBOS_PRINT: 0x100c,
	PERF_BRIDGELESS_INFO_UPDATE: 0x100f,
};

/** Event numbers that differ between the branches (reference §2). */
export const BRANCH_EVENTS = {
	r535: {
		GSP_SEND_USER_SHARED_DATA: 0x101b,
		NVLINK_FAULT_UP: 0x101c,
		GSP_LOCKDOWN_NOTICE: 0x101d,
		MIG_CI_CONFIG_UPDATE: 0x101e,
	},
	r570: {
		NVLINK_FAULT_UP: 0x101b,
		GSP_LOCKDOWN_NOTICE: 0x101c,
		MIG_CI_CONFIG_UPDATE: 0x101d,
		UPDATE_GSP_TRACE: 0x101e,
		NVLINK_FATAL_ERROR_RECOVERY: 0x101f,
		GSP_POST_NOCAT_RECORD: 0x1020,
	},
} as const;

/** An RpcAbi built by hand from the reference's facts. */
export function handBuiltAbi(branch: Branch): RpcAbi {
	const opcodes: SequencerOpcodeTable = {
		REG_WRITE: 0,
		REG_MODIFY: 1,
		REG_POLL: 2,
		DELAY_US: 3,
		REG_STORE: 4,
		CORE_RESET: 5,
		CORE_START: 6,
		CORE_WAIT_FOR_HALT: 7,
		CORE_RESUME: 8,
	};
	return {
		version: branch === 'r535' ? '535.113.01' : '570.144',
		functions: FUNCTIONS as unknown as RpcFunctionTable,
		events: { ...EVENTS_COMMON, ...BRANCH_EVENTS[branch] } as unknown as RpcEventTable,
		layouts: {
			msgqTxHeader,
			msgqRxHeader,
			queueElement,
			rpcHeader,
			rmAlloc: struct('rpc_gsp_rm_alloc_v03_00', [
				['hClient', u32],
				['hParent', u32],
				['hObject', u32],
				['hClass', u32],
				['status', u32],
				['paramsSize', u32],
				['flags', u32],
				['reserved', array(u8, 4)],
				['params', flex(u8)],
			]),
			rmControl: struct('rpc_gsp_rm_control_v03_00', [
				['hClient', u32],
				['hObject', u32],
				['cmd', u32],
				['status', u32],
				['paramsSize', u32],
				['flags', u32],
				['params', flex(u8)],
			]),
			free: struct('rpc_free_v03_00', [['params', nvos00]]),
			runCpuSequencer: struct('rpc_run_cpu_sequencer_v17_00', [
				['bufferSizeDWord', u32],
				['cmdIndex', u32],
				['regSaveArea', array(u32, 8)],
				['commandBuffer', flex(u32)],
			]),
			registryTable: struct('PACKED_REGISTRY_TABLE', [
				['size', u32],
				['numEntries', u32],
				['entries', flex(registryEntry, { count: 'numEntries' })],
			]),
			registryEntry,
			seqRegWrite: struct('GSP_SEQ_BUF_PAYLOAD_REG_WRITE', [
				['addr', u32],
				['val', u32],
			]),
			seqRegModify: struct('GSP_SEQ_BUF_PAYLOAD_REG_MODIFY', [
				['addr', u32],
				['mask', u32],
				['val', u32],
			]),
			seqRegPoll: struct('GSP_SEQ_BUF_PAYLOAD_REG_POLL', [
				['addr', u32],
				['mask', u32],
				['val', u32],
				['timeout', u32],
				['error', u32],
			]),
			seqDelayUs: struct('GSP_SEQ_BUF_PAYLOAD_DELAY_US', [['val', u32]]),
			seqRegStore: struct('GSP_SEQ_BUF_PAYLOAD_REG_STORE', [
				['addr', u32],
				['index', u32],
			]),
		},
		sequencerOpcodes: opcodes,
	};
}
