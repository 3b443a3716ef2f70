/**
 * Typed errors of `@gspkit/gsp-rpc`. Every error is an {@link RpcError} (a hal `GspkitError`) with a stable
 * `code`; callers match on the code, never on the message.
 *
 * @module
 */

import { type Errno, GspkitError } from '@gspkit/hal';

/** Every stable error code `@gspkit/gsp-rpc` throws. Never renamed once released. */
export const RPC_ERROR_CODES = [
	/** GSP-RM answered with a non-zero `rpc_result` or payload NV_STATUS. errno per nouveau: 0x55/0x66 EBUSY, 0x51 ENOMEM, else EINVAL. */
	'RPC_STATUS',
	/** No reply within the call's timeout (the GSP is hung or lost the request). */
	'RPC_TIMEOUT',
	/** The command queue stayed full for the send timeout (the GSP stopped consuming). */
	'RPC_QUEUE_FULL',
	/** The status queue never became valid (GSP never wrote a consistent `msgqTxHeader`). */
	'RPC_LINK',
	/** An element's checksum does not verify (the element XORs to non-zero). */
	'RPC_CHECKSUM',
	/** An element header is inconsistent: `elemCount`, `length`, `header_version` or `signature`. */
	'RPC_BAD_ELEMENT',
	/** An element's `seqNum` is not the next one expected in that direction. */
	'RPC_SEQUENCE',
	/** A CONTINUATION_RECORD with nothing to continue, or another element where a continuation was required. */
	'RPC_UNEXPECTED_CONTINUATION',
	/** A peer's queue pointer (`writePtr`/`readPtr`) is outside its queue. */
	'RPC_BAD_POINTER',
	/** The engine hit a fatal transport error earlier; it rejects calls until `reset()`. */
	'RPC_DEAD',
	/** The call was cancelled by `reset()`. */
	'RPC_RESET',
	/** The engine was closed. */
	'RPC_CLOSED',
	/** A call that needs a reply was made before the status queue was linked. */
	'RPC_NOT_LINKED',
	/** The firmware ABI handed in lacks a layout, field or number gsp-rpc needs, or has it in an unusable shape. */
	'RPC_ABI',
	/** A function or event name the ABI does not number. */
	'RPC_UNKNOWN_NAME',
	/** A RUN_CPU_SEQUENCER program is malformed or one of its steps failed. */
	'RPC_SEQUENCER',
	/** The handle allocator has no free handle in a range, or a handle is not one it gave out. */
	'RPC_HANDLES',
	/** A payload cannot be encoded (too large for the queue, bad registry key, …). */
	'RPC_ENCODE',
] as const;

/** One of {@link RPC_ERROR_CODES}. */
export type RpcErrorCode = (typeof RPC_ERROR_CODES)[number];

/** Codes of errors after which the transport cannot be trusted: the engine goes `dead`. */
export const FATAL_RPC_ERROR_CODES: ReadonlySet<RpcErrorCode> = new Set<RpcErrorCode>([
	'RPC_CHECKSUM',
	'RPC_BAD_ELEMENT',
	'RPC_SEQUENCE',
	'RPC_UNEXPECTED_CONTINUATION',
	'RPC_BAD_POINTER',
	'RPC_LINK',
]);

/** Base class of every gsp-rpc error. */
export class RpcError extends GspkitError {
	declare readonly code: RpcErrorCode;

	constructor(
		code: RpcErrorCode,
		message: string,
		options: { errno?: Errno; details?: Readonly<Record<string, unknown>>; cause?: unknown } = {},
	) {
		super(code, message, options);
	}
}

/** Whether `e` is an {@link RpcError}, optionally with the given code. */
export function isRpcError(e: unknown, code?: RpcErrorCode): e is RpcError {
	return e instanceof RpcError && (code === undefined || e.code === code);
}

/** Where a failing NV_STATUS came from. */
export type RpcStatusSource = 'rpc_result' | 'status';

/**
 * GSP-RM refused a request: `rpc_result` of the reply header, or the NV_STATUS in the payload header
 * (`rpc_gsp_rm_alloc.status`, `rpc_gsp_rm_control.status`, `NVOS00.status`). Code `RPC_STATUS`.
 */
export class RpcStatusError extends RpcError {
	/** The NV_STATUS value, e.g. 0x1f. */
	readonly status: number;
	/** Its name, e.g. `'NV_ERR_INVALID_ARGUMENT'` (or `'NV_STATUS_0x…'` when unknown). */
	readonly statusName: string;
	/** Which field carried it. */
	readonly source: RpcStatusSource;
	/** Function number of the failed request. */
	readonly function: number;

	constructor(
		status: number,
		statusName: string,
		errno: Errno,
		source: RpcStatusSource,
		fn: number,
		fnName: string,
		details: Readonly<Record<string, unknown>> = {},
	) {
		super('RPC_STATUS', `${fnName} failed: ${statusName} (0x${(status >>> 0).toString(16)}) in ${source}`, {
			errno,
			details: { status: status >>> 0, statusName, source, function: fn, functionName: fnName, ...details },
		});
		this.status = status >>> 0;
		this.statusName = statusName;
		this.source = source;
		this.function = fn;
	}
}
