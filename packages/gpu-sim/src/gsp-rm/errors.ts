/**
 * Errors of the simulated GSP-RM's host API. Protocol errors the driver makes are not exceptions: the
 * emulator answers them the way firmware would (see the README); these errors are for misuse of the
 * simulator itself.
 *
 * @module
 */

import { type Errno, GspkitError } from '@gspkit/hal';

/** Stable error codes of the GSP-RM emulator. */
export const GSP_RM_ERROR_CODES = [
	'SIM_GSP_RM_STATE',
	'SIM_GSP_RM_ABI',
	'SIM_GSP_RM_UNKNOWN_EVENT',
	'SIM_GSP_RM_WORKER',
	'SIM_GSP_RM_ARGUMENT',
] as const;

/** One of {@link GSP_RM_ERROR_CODES}. */
export type GspRmErrorCode = (typeof GSP_RM_ERROR_CODES)[number];

const ERRNO: Record<GspRmErrorCode, Errno> = {
	SIM_GSP_RM_STATE: 'EBUSY',
	SIM_GSP_RM_ABI: 'EOPNOTSUPP',
	SIM_GSP_RM_UNKNOWN_EVENT: 'EINVAL',
	SIM_GSP_RM_WORKER: 'EIO',
	SIM_GSP_RM_ARGUMENT: 'EINVAL',
};

/** A misuse of the GSP-RM emulator's API (wrong state, unknown firmware version, unknown event…). */
export class GspRmError extends GspkitError {
	constructor(code: GspRmErrorCode, message: string, details?: Record<string, unknown>) {
		super(code, message, details === undefined ? { errno: ERRNO[code] } : { errno: ERRNO[code], details });
	}
}
