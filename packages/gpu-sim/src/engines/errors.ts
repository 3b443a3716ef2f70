/**
 * Errors the engine API throws at its callers (the simulated GSP-RM, tests). Faults of the work a channel
 * runs are not thrown: they put the channel in the error state and are reported as `ChannelErrorReport`s.
 *
 * @module
 */

import { GspkitError } from '@gspkit/hal';

/** Stable codes of {@link EngineError}. */
export const ENGINE_ERROR_CODES = [
	'SIM_ENGINE_CHANNEL_EXISTS',
	'SIM_ENGINE_NO_CHANNEL',
	'SIM_ENGINE_AMBIGUOUS_CHANNEL',
	'SIM_ENGINE_REENTRANT',
	'SIM_ENGINE_CLOSED',
] as const;

/** One of {@link ENGINE_ERROR_CODES}. */
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

/**
 * A misuse of the engine API: registering a CHID twice (`SIM_ENGINE_CHANNEL_EXISTS`, `EEXIST`), naming a CHID
 * that is not registered (`SIM_ENGINE_NO_CHANNEL`, `ENOENT`), naming a CHID registered on several runlists without
 * saying which (`SIM_ENGINE_AMBIGUOUS_CHANNEL`, `EINVAL`), running the engine from inside its own callback
 * (`SIM_ENGINE_REENTRANT`, `EBUSY`), or using it after `close()` (`SIM_ENGINE_CLOSED`, `ENODEV`).
 */
export class EngineError extends GspkitError {
	constructor(code: EngineErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
		const errno = {
			SIM_ENGINE_CHANNEL_EXISTS: 'EEXIST',
			SIM_ENGINE_NO_CHANNEL: 'ENOENT',
			SIM_ENGINE_AMBIGUOUS_CHANNEL: 'EINVAL',
			SIM_ENGINE_REENTRANT: 'EBUSY',
			SIM_ENGINE_CLOSED: 'ENODEV',
		} as const;
		super(code, message, { errno: errno[code], details });
	}
}
