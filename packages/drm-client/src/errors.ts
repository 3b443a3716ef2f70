/**
 * Errors of `@gspkit/drm-client`.
 *
 * An ioctl the server answered with `-errno` becomes a {@link DrmError} carrying the Linux number and its
 * name; problems of the client itself (disconnected, malformed reply, arrays that do not match the
 * struct's counts) are {@link DrmClientError}s with a stable string code. The package cannot import
 * `@gspkit/hal`, so the classes mirror `GspkitError`'s shape (`code`, `errno`, `details`) as
 * `@gspkit/abi`'s `AbiError` does.
 *
 * @module
 */

/** Linux x86-64 errno numbers by name (what a reply's negative result means). */
export const LINUX_ERRNO = {
	EPERM: 1,
	ENOENT: 2,
	ESRCH: 3,
	EINTR: 4,
	EIO: 5,
	ENXIO: 6,
	E2BIG: 7,
	EBADF: 9,
	EAGAIN: 11,
	ENOMEM: 12,
	EACCES: 13,
	EFAULT: 14,
	EBUSY: 16,
	EEXIST: 17,
	ENODEV: 19,
	EINVAL: 22,
	EMFILE: 24,
	ENOTTY: 25,
	ENOSPC: 28,
	ERANGE: 34,
	ENOSYS: 38,
	ETIME: 62,
	EPROTO: 71,
	EMSGSIZE: 90,
	EOPNOTSUPP: 95,
	ECONNRESET: 104,
	ETIMEDOUT: 110,
	ECANCELED: 125,
} as const satisfies Record<string, number>;

/** An errno name of {@link LINUX_ERRNO}. */
export type ErrnoName = keyof typeof LINUX_ERRNO;

const BY_NUMBER = new Map<number, ErrnoName>(
	(Object.entries(LINUX_ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** The name of a Linux errno number (sign ignored), or `E<number>` for one not in the table. */
export function errnoName(n: number): string {
	return BY_NUMBER.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}

/** Stable codes of {@link DrmClientError}. */
export type DrmClientErrorCode =
	| 'DRM_IOCTL_FAILED'
	| 'DRM_CLIENT_DISCONNECTED'
	| 'DRM_CLIENT_BAD_REPLY'
	| 'DRM_CLIENT_BAD_ARGUMENT';

/** Base class of everything this package throws. */
export class DrmClientError extends Error {
	/** Stable string code. */
	readonly code: DrmClientErrorCode;
	/** The errno name, where the failure has one. */
	readonly errno: string | undefined;
	/** Structured context. */
	readonly details: Readonly<Record<string, unknown>>;

	constructor(
		code: DrmClientErrorCode,
		message: string,
		options: { errno?: string; details?: Readonly<Record<string, unknown>> } = {},
	) {
		super(message);
		this.name = 'DrmClientError';
		this.code = code;
		this.errno = options.errno;
		this.details = options.details ?? {};
	}
}

/** An ioctl (or OPEN/CLOSE/MMAP request) the server answered with `-errno`. */
export class DrmError extends DrmClientError {
	/** The positive Linux errno number, e.g. 22. */
	readonly errnoNumber: number;
	/** Its name, e.g. `'EINVAL'` (`errno` carries the same). */
	declare readonly errno: string;
	/** Which request failed (the ioctl name, or `OPEN`/`CLOSE`/`MMAP_READ`/`MMAP_WRITE`). */
	readonly request: string;

	constructor(request: string, errnoNumber: number) {
		const name = errnoName(errnoNumber);
		super('DRM_IOCTL_FAILED', `${request}: ${name} (${errnoNumber})`, {
			errno: name,
			details: { request, errno: errnoNumber },
		});
		this.name = 'DrmError';
		this.errnoNumber = errnoNumber;
		this.request = request;
	}
}

/** Whether `e` is a {@link DrmError}, optionally with the given errno name. */
export function isDrmError(e: unknown, errno?: string): e is DrmError {
	return e instanceof DrmError && (errno === undefined || e.errno === errno);
}
