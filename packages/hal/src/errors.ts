/**
 * Typed errors with stable string codes.
 *
 * Every error gspkit throws derives from {@link GspkitError}. The `code` is stable: once released it is
 * never renamed, so callers and tests match on it instead of on messages. Where a uAPI (DRM ioctl, vfio-user
 * reply) will surface the failure, the error also carries a Linux {@link Errno}.
 *
 * @module
 */

/** Linux errno values on x86-64, by name. Only the names gspkit surfaces are listed. */
export const ERRNO = {
	EPERM: 1,
	ENOENT: 2,
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
	ENOTTY: 25,
	ENOSPC: 28,
	ERANGE: 34,
	ENOSYS: 38,
	ETIME: 62,
	EOPNOTSUPP: 95,
	ETIMEDOUT: 110,
	ECANCELED: 125,
} as const satisfies Record<string, number>;

/** An errno name, e.g. `'EINVAL'`. Names (not numbers) keep logs and tests readable. */
export type Errno = keyof typeof ERRNO;

/** The Linux x86-64 number of an errno name, e.g. `errnoNumber('ETIMEDOUT') === 110`. */
export function errnoNumber(e: Errno): number {
	return ERRNO[e];
}

const ERRNO_BY_NUMBER: ReadonlyMap<number, Errno> = new Map(
	(Object.entries(ERRNO) as [Errno, number][]).map(([name, n]) => [n, name]),
);

/** The errno name for a Linux x86-64 errno number (sign ignored, so `-22` works), or `undefined`. */
export function errnoFromNumber(n: number): Errno | undefined {
	return ERRNO_BY_NUMBER.get(Math.abs(n));
}

/** Whether `s` is one of the errno names in {@link ERRNO}. */
export function isErrno(s: string): s is Errno {
	return Object.hasOwn(ERRNO, s);
}

/** Options common to every {@link GspkitError}. */
export interface GspkitErrorOptions {
	/** The errno a uAPI should report for this failure. */
	readonly errno?: Errno;
	/** Machine-readable context (offsets, raw values, names). */
	readonly details?: Readonly<Record<string, unknown>>;
	/** The underlying error, kept for diagnostics. */
	readonly cause?: unknown;
}

/** Base of every gspkit error: a stable `code`, an optional `errno` and structured `details`. */
export class GspkitError extends Error {
	/** Stable identifier, e.g. `'HAL_TIMEOUT'`. Never renamed once released. */
	readonly code: string;
	/** The errno a uAPI should report, if the failure maps to one. */
	readonly errno: Errno | undefined;
	/** Machine-readable context; frozen. */
	readonly details: Readonly<Record<string, unknown>>;

	constructor(code: string, message: string, options: GspkitErrorOptions = {}) {
		super(message, options.cause === undefined ? undefined : { cause: options.cause });
		this.name = new.target.name;
		this.code = code;
		this.errno = options.errno;
		this.details = Object.freeze({ ...(options.details ?? {}) });
	}

	/** The errno as a number (`undefined` when the error has none). */
	get errnoNumber(): number | undefined {
		return this.errno === undefined ? undefined : ERRNO[this.errno];
	}
}

/** Whether `e` is a {@link GspkitError}, optionally with the given `code`. */
export function isGspkitError(e: unknown, code?: string): e is GspkitError {
	return e instanceof GspkitError && (code === undefined || e.code === code);
}

/** Format a number as `0x`-prefixed lower-case hex, zero-padded to `digits`. */
export function hex(value: number | bigint, digits = 8): string {
	const v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
	const s = (v < 0n ? -v : v).toString(16).padStart(digits, '0');
	return v < 0n ? `-0x${s}` : `0x${s}`;
}

/** Why a chip was rejected by {@link identifyChip}. */
export type UnsupportedChipReason = 'pre-fermi' | 'unknown-architecture' | 'unknown-chipset';

/**
 * The GPU is not one gspkit supports (not GSP-era, or a chipset it does not know).
 * Code `HAL_UNSUPPORTED_CHIP`, errno `ENODEV`. The message names the raw `NV_PMC_BOOT_0`/`BOOT_42` values.
 */
export class UnsupportedChipError extends GspkitError {
	/** Raw `NV_PMC_BOOT_0` value. */
	readonly boot0: number;
	/** Raw `NV_PMC_BOOT_42` value. */
	readonly boot42: number;
	/** Why the chip was rejected. */
	readonly reason: UnsupportedChipReason;

	constructor(
		boot0: number,
		boot42: number,
		reason: UnsupportedChipReason,
		explanation: string,
		extra: Readonly<Record<string, unknown>> = {},
	) {
		super(
			'HAL_UNSUPPORTED_CHIP',
			`unsupported GPU (NV_PMC_BOOT_0=${hex(boot0 >>> 0)}, NV_PMC_BOOT_42=${hex(boot42 >>> 0)}): ${explanation}`,
			{
				errno: 'ENODEV',
				details: { boot0: hex(boot0 >>> 0), boot42: hex(boot42 >>> 0), reason, ...extra },
			},
		);
		this.boot0 = boot0 >>> 0;
		this.boot42 = boot42 >>> 0;
		this.reason = reason;
	}
}

/**
 * A wait or poll did not complete within its timeout. Code `HAL_TIMEOUT`, errno `ETIMEDOUT`.
 * `details` has `what`, `timeoutNs` (string) and `lastValue`.
 */
export class TimeoutError extends GspkitError {
	/** What was being waited for, e.g. `"GSP HWCFG2.MEM_SCRUBBING == 0"`. */
	readonly what: string;
	/** The timeout that expired, in nanoseconds. */
	readonly timeoutNs: bigint;
	/** The last value read before giving up. */
	readonly lastValue: unknown;

	constructor(what: string, timeoutNs: bigint, lastValue: unknown, options: { cause?: unknown } = {}) {
		super(
			'HAL_TIMEOUT',
			`timed out after ${formatNs(timeoutNs)} waiting for ${what} (last value: ${describe(lastValue)})`,
			{
				errno: 'ETIMEDOUT',
				details: { what, timeoutNs: timeoutNs.toString(), lastValue },
				...(options.cause === undefined ? {} : { cause: options.cause }),
			},
		);
		this.what = what;
		this.timeoutNs = timeoutNs;
		this.lastValue = lastValue;
	}
}

/**
 * A register field holds a value its decoder does not accept (the `?=> Enum` case).
 * Code `HAL_REGISTER_DECODE`, errno `EIO` (the hardware returned something unexpected).
 */
export class RegisterDecodeError extends GspkitError {
	/** Register name, e.g. `"NV_PMC_BOOT_42"` or `"GSP.NV_PFALCON_FALCON_HWCFG1"`. */
	readonly register: string;
	/** Field name. */
	readonly field: string;
	/** The raw (undecoded) field value. */
	readonly raw: number | bigint;

	constructor(register: string, field: string, raw: number | bigint, reason?: string) {
		super(
			'HAL_REGISTER_DECODE',
			`cannot decode ${register}.${field} = ${hex(raw, 1)}${reason === undefined ? '' : `: ${reason}`}`,
			{ errno: 'EIO', details: { register, field, raw: hex(raw, 1) } },
		);
		this.register = register;
		this.field = field;
		this.raw = raw;
	}
}

/** A memory pool (DMA, VRAM, IMEM…) cannot satisfy an allocation. Code `HAL_OUT_OF_MEMORY`, errno `ENOMEM`. */
export class OutOfMemoryError extends GspkitError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('HAL_OUT_OF_MEMORY', message, { errno: 'ENOMEM', details });
	}
}

/** A caller passed a value outside what the API accepts. Code `HAL_INVALID_ARGUMENT`, errno `EINVAL`. */
export class InvalidArgumentError extends GspkitError {
	constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
		super('HAL_INVALID_ARGUMENT', message, { errno: 'EINVAL', details });
	}
}

/** Stable error codes defined by `@gspkit/hal`. */
export const HAL_ERROR_CODES = [
	'HAL_UNSUPPORTED_CHIP',
	'HAL_TIMEOUT',
	'HAL_REGISTER_DECODE',
	'HAL_OUT_OF_MEMORY',
	'HAL_INVALID_ARGUMENT',
] as const;

/** One of {@link HAL_ERROR_CODES}. */
export type HalErrorCode = (typeof HAL_ERROR_CODES)[number];

function formatNs(ns: bigint): string {
	if (ns % 1_000_000_000n === 0n && ns !== 0n) return `${ns / 1_000_000_000n} s`;
	if (ns % 1_000_000n === 0n && ns !== 0n) return `${ns / 1_000_000n} ms`;
	if (ns % 1_000n === 0n && ns !== 0n) return `${ns / 1_000n} µs`;
	return `${ns} ns`;
}

function describe(v: unknown): string {
	if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return `${hex(v, 1)} (${v})`;
	if (typeof v === 'bigint') return `${hex(v, 1)}n`;
	if (typeof v === 'string') return JSON.stringify(v);
	if (v !== null && typeof v === 'object' && 'toString' in v && v.toString !== Object.prototype.toString) {
		return String(v);
	}
	try {
		return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
	} catch {
		return String(v);
	}
}
