/**
 * Typed errors of `@gspkit/drm-frontend`.
 *
 * uAPI failures are not thrown: every ioctl returns a {@link IoctlResult} carrying an errno name (habit 3).
 * What *is* thrown is a broken internal contract — a device that double-frees, a fence signalled twice, a
 * refcount below zero — because such a bug must not be turned into an errno a client could ignore.
 *
 * @module
 */

import { type Errno, GspkitError, type Result } from '@gspkit/hal';

/** Stable error codes of this package and the errno each maps to. */
export const DRM_FRONTEND_ERRORS = {
	/** An internal invariant broke (refcount below zero, double free, fence signalled twice). */
	DRM_CONTRACT: 'EINVAL',
	/** The device broke its contract (e.g. a commit that cannot be applied). */
	DRM_DEVICE_CONTRACT: 'EIO',
	/** An argument to a TypeScript API (not an ioctl) is out of range. */
	DRM_INVALID_ARGUMENT: 'EINVAL',
} as const satisfies Record<string, Errno>;

/** One of {@link DRM_FRONTEND_ERRORS}' keys. */
export type DrmFrontendErrorCode = keyof typeof DRM_FRONTEND_ERRORS;

/** Base class of the errors this package throws (never for a uAPI failure: those are errno values). */
export class DrmFrontendError extends GspkitError {
	declare readonly code: DrmFrontendErrorCode;

	constructor(code: DrmFrontendErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
		super(code, message, { errno: DRM_FRONTEND_ERRORS[code], details });
	}
}

/** Whether `e` is a {@link DrmFrontendError}, optionally with the given code. */
export function isDrmFrontendError(e: unknown, code?: DrmFrontendErrorCode): e is DrmFrontendError {
	return e instanceof DrmFrontendError && (code === undefined || e.code === code);
}

/** The outcome of an ioctl or of a uAPI-level operation: a value, or the errno the client sees. */
export type IoctlResult<T = void> = Result<T, Errno>;

/** The successful {@link IoctlResult} without a value. */
export const OK: IoctlResult = Object.freeze({ ok: true as const, value: undefined });

/** A failed {@link IoctlResult}. */
export function fail<T = never>(errno: Errno): IoctlResult<T> {
	return { ok: false, error: errno };
}

/** A successful {@link IoctlResult} with a value. */
export function succeed<T>(value: T): IoctlResult<T> {
	return { ok: true, value };
}
