/**
 * Errors `@gspkit/core` raises. They derive from hal's {@link GspkitError}, so one `catch` handles platform,
 * hal, library and core failures alike; errors from the libraries below (falcon-boot's `BootError`, gsp-rpc's
 * `RpcError`, mmu's `MmuError`, channel-sched's errors, abi's `AbiSelectionError`) pass through unchanged or
 * are kept as `cause`.
 *
 * @module
 */

import { type Errno, GspkitError } from '@gspkit/hal';

/** Stable error codes defined by `@gspkit/core`. */
export const CORE_ERROR_CODES = [
	'CORE_NOT_NVIDIA',
	'CORE_PCI_MISMATCH',
	'CORE_DEVICE_NOT_RESPONDING',
	'CORE_BAD_CONFIG_SPACE',
	'CORE_BAD_ARGUMENT',
	'CORE_FIRMWARE',
	'CORE_ABI_UNSUPPORTED',
	'CORE_INIT_FAILED',
	'CORE_NOT_READY',
	'CORE_DEVICE_LOST',
	'CORE_RESET_FAILED',
	'CORE_CLOSED',
	'CORE_VRAM_EXHAUSTED',
	'CORE_NO_CPU_ACCESS',
	'CORE_VA_EXHAUSTED',
	'CORE_CHANNEL_KILLED',
] as const;

/** One of {@link CORE_ERROR_CODES}. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

const ERRNO: Record<CoreErrorCode, Errno> = {
	CORE_NOT_NVIDIA: 'ENODEV',
	CORE_PCI_MISMATCH: 'ENODEV',
	CORE_DEVICE_NOT_RESPONDING: 'EIO',
	CORE_BAD_CONFIG_SPACE: 'EIO',
	CORE_BAD_ARGUMENT: 'EINVAL',
	CORE_FIRMWARE: 'ENOENT',
	CORE_ABI_UNSUPPORTED: 'EOPNOTSUPP',
	CORE_INIT_FAILED: 'EIO',
	CORE_NOT_READY: 'EAGAIN',
	CORE_DEVICE_LOST: 'ENODEV',
	CORE_RESET_FAILED: 'EIO',
	CORE_CLOSED: 'ENODEV',
	CORE_VRAM_EXHAUSTED: 'ENOSPC',
	CORE_NO_CPU_ACCESS: 'EFAULT',
	CORE_VA_EXHAUSTED: 'ENOSPC',
	CORE_CHANNEL_KILLED: 'ENODEV',
};

/** Options of {@link CoreError}. */
export interface CoreErrorOptions {
	readonly details?: Readonly<Record<string, unknown>>;
	readonly cause?: unknown;
}

/** Base class of the errors core raises itself (every code of {@link CORE_ERROR_CODES} but the probe ones). */
export class CoreError extends GspkitError {
	declare readonly code: CoreErrorCode;
	constructor(code: CoreErrorCode, message: string, options: CoreErrorOptions = {}) {
		super(code, message, {
			errno: ERRNO[code],
			details: options.details ?? {},
			...(options.cause === undefined ? {} : { cause: options.cause }),
		});
		this.name = 'CoreError';
	}
}

/** Whether `e` is a {@link CoreError} (optionally with `code`). */
export function isCoreError(e: unknown, code?: CoreErrorCode): e is CoreError {
	return e instanceof CoreError && (code === undefined || e.code === code);
}

/**
 * {@link probe} could not accept the device:
 * - `CORE_NOT_NVIDIA` (ENODEV): the function's vendor ID is not NVIDIA's 0x10de;
 * - `CORE_PCI_MISMATCH` (ENODEV): the platform's PCI identity disagrees with its configuration space;
 * - `CORE_DEVICE_NOT_RESPONDING` (EIO): a register read returned all-ones or a PRI error pattern;
 * - `CORE_BAD_CONFIG_SPACE` (EIO): a capability list is malformed (loop, bad pointer).
 */
export class ProbeError extends GspkitError {
	constructor(code: CoreErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
		super(code, message, { errno: ERRNO[code], details });
	}
}

/**
 * A channel was killed by the GPU or the driver; its pending fences fail with this error.
 * `reason` says why: `'rc'` (GSP-RM reported a robust-channel error, e.g. an MMU fault: `exceptType` is its
 * Xid), `'timeout'` is channel-sched's `JobTimeoutError` instead, `'reset'` (the device was reset),
 * `'destroyed'` (the channel was torn down with work pending).
 */
export class ChannelKilledError extends CoreError {
	/** Why the channel died. */
	readonly reason: 'rc' | 'reset' | 'destroyed' | 'device-lost';
	constructor(
		reason: ChannelKilledError['reason'],
		message: string,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super('CORE_CHANNEL_KILLED', message, { details: { reason, ...details }, cause });
		this.name = 'ChannelKilledError';
		this.reason = reason;
	}
}
