/**
 * Fixed facts of the GSP message-queue protocol and of RM that the emulator needs and that are the same in
 * every firmware branch (reference gsp-rpc.md §1–§2). Values that differ per branch come from the ABI
 * packages through {@link GspRmAbi}.
 *
 * @module
 */

/** The GSP understands only 4 KiB pages (`RM_PAGE_SHIFT` 12). */
export const GSP_PAGE_SIZE = 0x1000;

/** `GSP_MSG_QUEUE_ELEMENT` header before the RPC header: auth tag, AAD, checksum, seqNum, elemCount, pad. */
export const ELEMENT_HEADER_SIZE = 48;

/** `rpc_message_header_v03_00`. */
export const RPC_HEADER_SIZE = 32;

/** Largest element: 16 pages (`GSP_MSG_QUEUE_ELEMENT_SIZE_MAX`). */
export const ELEMENT_MAX_PAGES = 16;

/** Largest RPC (header + payload) in one element: 65536 − 48. */
export const RPC_MAX_LENGTH = ELEMENT_MAX_PAGES * GSP_PAGE_SIZE - ELEMENT_HEADER_SIZE;

/** Largest payload in one element: 65456; larger messages are split with CONTINUATION_RECORD. */
export const PAYLOAD_MAX_PER_ELEMENT = RPC_MAX_LENGTH - RPC_HEADER_SIZE;

/** `header_version` of every RPC: major 3, minor 0. */
export const RPC_HEADER_VERSION = 0x0300_0000;

/** `NV_VGPU_MSG_SIGNATURE_VALID`: `'C'<<24 | 'P'<<16 | 'R'<<8 | 'V'` ("VRPC" in memory). */
export const RPC_SIGNATURE = 0x4350_5256;

/** `rpc_result` / `rpc_result_private` of a request that has not been answered yet. */
export const RPC_RESULT_PENDING = 0xffff_ffff;

/** `msgqTxHeader.flags` bit 0: the RX header holds the owner's read pointer into the other queue. */
export const MSGQ_FLAGS_SWAP_RX = 1;

/** `msgqTxHeader.version` of the pre-v2 queue protocol (r535, r570). */
export const MSGQ_VERSION = 0;

/** Byte offsets inside `msgqTxHeader` (32 B, u32 fields) and `msgqRxHeader`. */
export const MSGQ_TX = Object.freeze({
	version: 0x00,
	size: 0x04,
	msgSize: 0x08,
	msgCount: 0x0c,
	writePtr: 0x10,
	flags: 0x14,
	rxHdrOff: 0x18,
	entryOff: 0x1c,
	SIZE: 0x20,
});

/**
 * Errors of the receiver's link-time check of a TX header (NVIDIA msgq.c `msgqRxLink` returns −7…−10 for
 * the size, message-size, version and header-offset checks; the simulator numbers its checks the same way
 * and adds its own below −10 for what a real receiver would fault on later).
 */
export const MSGQ_LINK_ERROR = Object.freeze({
	BAD_SIZE: -7,
	BAD_MSG_SIZE: -8,
	BAD_VERSION: -9,
	BAD_RX_HDR_OFF: -10,
	BAD_MSG_COUNT: -11,
	BAD_ENTRY_OFF: -12,
	BAD_FLAGS: -13,
	BAD_WRITE_PTR: -14,
});

/**
 * Sizes the GSP uses for the status queue it initialises (same as the command queue on silicon): 256 KiB,
 * header page, 63 entries of 4 KiB.
 */
export const QUEUE_HEADER_ALIGN = 4;
export const QUEUE_ELEMENT_ALIGN = 12;

/** `NV_STATUS` codes (OpenRM `nvstatuscodes.h`, as in nova-core's r570 bindings). */
export const NV_STATUS = Object.freeze({
	NV_OK: 0x00,
	NV_ERR_GENERIC: 0xffff,
	NV_ERR_BUFFER_TOO_SMALL: 0x02,
	NV_ERR_BUSY_RETRY: 0x03,
	NV_ERR_IN_USE: 0x17,
	NV_ERR_INSERT_DUPLICATE_NAME: 0x19,
	NV_ERR_INSUFFICIENT_RESOURCES: 0x1a,
	NV_ERR_INSUFFICIENT_PERMISSIONS: 0x1b,
	NV_ERR_INVALID_ADDRESS: 0x1e,
	NV_ERR_INVALID_ARGUMENT: 0x1f,
	NV_ERR_INVALID_CHANNEL: 0x21,
	NV_ERR_INVALID_CLASS: 0x22,
	NV_ERR_INVALID_CLIENT: 0x23,
	NV_ERR_INVALID_COMMAND: 0x24,
	NV_ERR_INVALID_DATA: 0x25,
	NV_ERR_INVALID_DEVICE: 0x26,
	NV_ERR_INVALID_FLAGS: 0x29,
	NV_ERR_INVALID_INDEX: 0x2c,
	NV_ERR_INVALID_LIMIT: 0x2e,
	NV_ERR_INVALID_OBJECT: 0x31,
	NV_ERR_INVALID_OBJECT_HANDLE: 0x33,
	NV_ERR_INVALID_OBJECT_PARENT: 0x36,
	NV_ERR_INVALID_OFFSET: 0x37,
	NV_ERR_INVALID_OPERATION: 0x38,
	NV_ERR_INVALID_PARAM_STRUCT: 0x3a,
	NV_ERR_INVALID_PARAMETER: 0x3b,
	NV_ERR_INVALID_REQUEST: 0x3f,
	NV_ERR_INVALID_STATE: 0x40,
	NV_ERR_NO_MEMORY: 0x51,
	NV_ERR_NOT_READY: 0x55,
	NV_ERR_NOT_SUPPORTED: 0x56,
	NV_ERR_OBJECT_NOT_FOUND: 0x57,
	NV_ERR_OUT_OF_RANGE: 0x5b,
	NV_ERR_RESET_REQUIRED: 0x62,
	NV_ERR_STATE_IN_USE: 0x63,
	NV_ERR_TIMEOUT: 0x65,
	NV_ERR_TIMEOUT_RETRY: 0x66,
} as const);

/** Name of an {@link NV_STATUS} code. */
export type NvStatusName = keyof typeof NV_STATUS;

/** `NV_VGPU_MSG_RESULT_RPC_*`: RPC-level failures, reported in `rpc_result` (OpenRM rpc_headers.h). */
export const RPC_RESULT = Object.freeze({
	SUCCESS: 0,
	RPC_UNKNOWN_FUNCTION: 0xff10_0001,
	RPC_INVALID_MESSAGE_FORMAT: 0xff10_0002,
	RPC_HANDLE_NOT_FOUND: 0xff10_0003,
	RPC_HANDLE_EXISTS: 0xff10_0004,
	RPC_UNKNOWN_RM_ERROR: 0xff10_0005,
} as const);

/** Name of a status for messages: the `NV_STATUS` or `NV_VGPU_MSG_RESULT` name, or hex. */
export function nvStatusName(status: number): string {
	for (const [name, value] of Object.entries(NV_STATUS)) if (value === status) return name;
	for (const [name, value] of Object.entries(RPC_RESULT)) {
		if (value === status) return `NV_VGPU_MSG_RESULT_${name}`;
	}
	return `0x${(status >>> 0).toString(16)}`;
}

/**
 * Offsets of the GSP queue registers relative to the GSP falcon base 0x110000 (reference §1.6): 8 queues,
 * `QUEUE_HEAD(i)` at 0xc00 + 8i (writing HEAD(0) is the doorbell), `QUEUE_TAIL(i)` at 0xc04 + 8i,
 * `MSGQ_HEAD(i)`/`MSGQ_TAIL(i)` at 0xc80/0xc84 + 8i. The block is 0xc00–0xcff.
 */
export const GSP_QUEUE_REGS = Object.freeze({
	BAR0_BASE: 0x110c00,
	SIZE: 0x100,
	queueHead: (i: number): number => 0x00 + 8 * i,
	queueTail: (i: number): number => 0x04 + 8 * i,
	msgqHead: (i: number): number => 0x80 + 8 * i,
	msgqTail: (i: number): number => 0x84 + 8 * i,
});

/** BAR0 offset of `NV_PGSP_QUEUE_HEAD(0)`: the doorbell (reference §1.6). */
export const GSP_DOORBELL_BAR0 = 0x110c00;

/** LIBOS region names as big-endian ASCII in a u64 (`id8`). */
export const LIBOS_REGION_ID = Object.freeze({
	LOGINIT: id8('LOGINIT'),
	LOGINTR: id8('LOGINTR'),
	LOGRM: id8('LOGRM'),
	RMARGS: id8('RMARGS'),
});

/** Pack up to 8 ASCII characters big-endian into a u64 (`id8`). */
export function id8(name: string): bigint {
	let v = 0n;
	for (let i = 0; i < name.length && i < 8; i++) v = (v << 8n) | BigInt(name.charCodeAt(i) & 0xff);
	return v;
}

/** The name packed in an `id8`. */
export function id8Name(v: bigint): string {
	let s = '';
	for (let shift = 56n; shift >= 0n; shift -= 8n) {
		const c = Number((v >> shift) & 0xffn);
		if (c !== 0) s += String.fromCharCode(c);
	}
	return s;
}

/** `LibosMemoryRegionKind` / `LibosMemoryRegionLoc` values the CPU uses. */
export const LIBOS_KIND_CONTIGUOUS = 1;
export const LIBOS_LOC_SYSMEM = 1;

/**
 * RM class IDs the emulator knows that are not in the generated class tables (the memory classes live in
 * OpenRM `class/cl0040.h`, `cl003e.h`, `cl0070.h`, reference §5 "Memory classes").
 */
export const EXTRA_CLASSES = Object.freeze({
	NV01_ROOT_NON_PRIV: 0x0001,
	NV01_ROOT_CLIENT: 0x0041,
	NV01_MEMORY_SYSTEM: 0x003e,
	NV01_MEMORY_LOCAL_USER: 0x0040,
	NV01_MEMORY_VIRTUAL: 0x0070,
});

/**
 * Control IDs the generated tables of one or both branches lack; the values are the same in r535 and r570
 * (NVIDIA ctrl headers: `NV2080_CTRL_CMD_GPU_GET_FERMI_*` 0x2080013x, `NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN`).
 */
export const EXTRA_CONTROLS = Object.freeze({
	NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO: 0x2080_0137,
	NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO: 0x2080_0138,
	NV2080_CTRL_CMD_GPU_GET_FERMI_ZCULL_INFO: 0x2080_0139,
	NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN: 0xc36f_0108,
});

/** The VA range GSP-RM manages inside every split VA space (`SPLIT_VAS_SERVER_RM_MANAGED_VA_*`). */
export const SPLIT_VAS_SERVER_RM_MANAGED_VA_START = 0x1_0000_0000n;
export const SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE = 0x2000_0000n;

/** `GMMU_FMT_MAX_LEVELS`: most page-table levels a COPY_SERVER_RESERVED_PDES request may carry. */
export const GMMU_FMT_MAX_LEVELS = 6;

/** RM handle bases (OpenRM resserv): clients, internal clients, generated resource handles. */
export const RS_CLIENT_HANDLE_BASE = 0xc1d0_0000;
export const RS_CLIENT_INTERNAL_HANDLE_BASE = 0xc1e0_0000;
export const RS_UNIQUE_HANDLE_BASE = 0xcaf0_0000;

/** `PACKED_REGISTRY_ENTRY.type` values. */
export const REGISTRY_TYPE = Object.freeze({ DWORD: 1, BINARY: 2, STRING: 3 });

/** Bit 31 of GSP `MAILBOX0`: set by GSP-RM when it has finished unloading (reference §5 "Teardown"). */
export const GSP_UNLOAD_DONE_BIT = 0x8000_0000;
