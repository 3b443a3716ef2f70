/**
 * Typed errors of `@gspkit/channel-sched`, each with a stable code and the errno a uAPI reports.
 *
 * @module
 */

import { type Errno, GspkitError } from '@gspkit/hal';

/** Stable error codes of this package and the errno each maps to. */
export const CHANNEL_SCHED_ERRORS = {
	/** The channel or entity was killed (job timeout, engine fault, teardown of a dead channel). */
	CHSCHED_DEVICE_LOST: 'ENODEV',
	/** The job or fence was cancelled because its scheduler, entity or channel was torn down. */
	CHSCHED_CANCELLED: 'ECANCELED',
	/** A job ran longer than the scheduler's job timeout; the guilty channel was killed. */
	CHSCHED_JOB_TIMEOUT: 'ETIMEDOUT',
	/** The dma_fence contract was broken (double signal, out-of-order signal, error after signal). */
	CHSCHED_FENCE_CONTRACT: 'EINVAL',
	/** Something allocated (or could fail) inside the fence-signalling critical section. */
	CHSCHED_SIGNALLING_SECTION: 'EINVAL',
	/** A pushbuffer, GP entry or job argument is out of range. */
	CHSCHED_INVALID_ARGUMENT: 'EINVAL',
	/** The GPFIFO ring or kernel-push area has no room right now (retry after completions). */
	CHSCHED_RING_FULL: 'EAGAIN',
	/** The channel reported an engine error (e.g. an MMU fault while running a job). */
	CHSCHED_ENGINE_ERROR: 'EIO',
	/** The generation or class is not one this package supports. */
	CHSCHED_UNSUPPORTED: 'EOPNOTSUPP',
} as const satisfies Record<string, Errno>;

/** One of {@link CHANNEL_SCHED_ERRORS}' keys. */
export type ChannelSchedErrorCode = keyof typeof CHANNEL_SCHED_ERRORS;

/** Base class of every error thrown or carried by a fence in this package. */
export class ChannelSchedError extends GspkitError {
	declare readonly code: ChannelSchedErrorCode;

	constructor(
		code: ChannelSchedErrorCode,
		message: string,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super(code, message, {
			errno: CHANNEL_SCHED_ERRORS[code],
			details,
			...(cause === undefined ? {} : { cause }),
		});
	}
}

/** The channel/entity is dead ("device lost", errno ENODEV); later submissions to it fail with this. */
export class DeviceLostError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
		super('CHSCHED_DEVICE_LOST', message, details, cause);
	}
}

/** Work was cancelled on teardown (errno ECANCELED). */
export class CancelledError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_CANCELLED', message, details);
	}
}

/** The guilty job of a timeout (errno ETIMEDOUT). Its channel was killed. */
export class JobTimeoutError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_JOB_TIMEOUT', message, details);
	}
}

/** A broken dma_fence rule: a debug assert that always runs. */
export class FenceContractError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_FENCE_CONTRACT', message, details);
	}
}

/** An allocator hook ran inside the fence-signalling critical section. */
export class SignallingSectionError extends ChannelSchedError {
	constructor(what: string, section: string) {
		super(
			'CHSCHED_SIGNALLING_SECTION',
			`allocation "${what}" inside the fence-signalling section (${section}); prepare it at submit time`,
			{ what, section },
		);
	}
}

/** An argument is out of range (a method offset, a count, a GP entry length…). */
export class ChannelArgumentError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_INVALID_ARGUMENT', message, details);
	}
}

/** No room in the ring right now; `EAGAIN` semantics. */
export class RingFullError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_RING_FULL', message, details);
	}
}

/** The engine reported an error for work on this channel (errno EIO). */
export class EngineError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_ENGINE_ERROR', message, details);
	}
}

/** Unsupported generation or class (errno EOPNOTSUPP). */
export class UnsupportedError extends ChannelSchedError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('CHSCHED_UNSUPPORTED', message, details);
	}
}

/** Whether `e` is a {@link ChannelSchedError}, optionally with the given code. */
export function isChannelSchedError(e: unknown, code?: ChannelSchedErrorCode): e is ChannelSchedError {
	return e instanceof ChannelSchedError && (code === undefined || e.code === code);
}
