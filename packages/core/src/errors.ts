/**
 * Errors `@gspkit/core` raises while probing a device. They derive from hal's {@link GspkitError}, so one
 * `catch` handles platform, hal and core failures alike.
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
] as const;

/** One of {@link CORE_ERROR_CODES}. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

const ERRNO: Record<CoreErrorCode, Errno> = {
	CORE_NOT_NVIDIA: 'ENODEV',
	CORE_PCI_MISMATCH: 'ENODEV',
	CORE_DEVICE_NOT_RESPONDING: 'EIO',
	CORE_BAD_CONFIG_SPACE: 'EIO',
};

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
