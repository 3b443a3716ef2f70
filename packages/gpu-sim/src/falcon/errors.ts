/**
 * Errors of the boot hardware models. Failures *of the simulated hardware* (a bad image, a wrong signature)
 * are reported the way hardware reports them — codes in mailboxes and scratch registers — never by throwing;
 * these classes are for misuse of the simulator's own API and for malformed firmware handed to its helpers.
 *
 * @module
 */

import { GspkitError } from '@gspkit/hal';

/** Error codes defined by the boot hardware models (to be merged into `SIM_ERROR_CODES`). */
export const SIM_BOOT_ERROR_CODES = ['SIM_FIRMWARE_FORMAT', 'SIM_BOOT_CONFIG'] as const;

/**
 * A firmware file or ROM image given to a simulator helper (ELF section reader, header readers, the
 * known-image scanner) is truncated or malformed. Code `SIM_FIRMWARE_FORMAT`, errno `EINVAL`; `details`
 * names the field and offset.
 */
export class SimFirmwareFormatError extends GspkitError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('SIM_FIRMWARE_FORMAT', message, { errno: 'EINVAL', details });
	}
}

/**
 * The boot hardware was configured inconsistently (unknown chip for the boot models, a falcon mounted twice,
 * an unsupported synthetic firmware version). Code `SIM_BOOT_CONFIG`, errno `EINVAL`.
 */
export class SimBootConfigError extends GspkitError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('SIM_BOOT_CONFIG', message, { errno: 'EINVAL', details });
	}
}
