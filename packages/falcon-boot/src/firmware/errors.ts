/**
 * Typed errors of the firmware parsers and the firmware locator.
 *
 * Every parser failure is a {@link FirmwareFormatError} that names the file, the field and the byte offset,
 * so a corrupt file is diagnosed without a hex editor. The other classes cover "not found", I/O and
 * signature selection. All derive from {@link FirmwareError}, itself a `GspkitError` from `@gspkit/hal`.
 *
 * @module
 */

import { type Errno, GspkitError, hex } from '@gspkit/hal';

/** Stable error codes used by the firmware module. */
export const FIRMWARE_ERROR_CODES = ['FW_FORMAT', 'FW_NOT_FOUND', 'FW_IO', 'FW_SIGNATURE'] as const;

/** One of {@link FIRMWARE_ERROR_CODES}. */
export type FirmwareErrorCode = (typeof FIRMWARE_ERROR_CODES)[number];

/** Base class of every firmware error, so callers can catch the whole family at once. */
export class FirmwareError extends GspkitError {
	declare readonly code: FirmwareErrorCode;

	constructor(
		code: FirmwareErrorCode,
		message: string,
		errno: Errno,
		details: Readonly<Record<string, unknown>>,
		cause?: unknown,
	) {
		super(code, message, { errno, details, ...(cause === undefined ? {} : { cause }) });
	}
}

/** Where a {@link FirmwareFormatError} happened and what was wrong. */
export interface FirmwareFormatDetails {
	/** File name (or `'<memory>'`) the bytes came from. */
	readonly file: string;
	/** Structure field, e.g. `'nvfw_bin_hdr.bin_magic'` or `'section[3] .fwversion.sh_offset'`. */
	readonly field: string;
	/** Byte offset of the field in the file (or of the range that does not fit). */
	readonly offset: number;
	/** What a valid file has there, in words or hex. */
	readonly expected: string;
	/** What this file has there. */
	readonly actual: string;
}

/**
 * A firmware file does not have the expected layout. Code `FW_FORMAT`, errno `EINVAL`.
 * `details` is a {@link FirmwareFormatDetails}.
 */
export class FirmwareFormatError extends FirmwareError {
	/** File the bytes came from. */
	readonly file: string;
	/** The offending field. */
	readonly field: string;
	/** Byte offset of the field in the file. */
	readonly offset: number;

	constructor(details: FirmwareFormatDetails, note?: string) {
		super(
			'FW_FORMAT',
			`${details.file}: ${details.field} at offset ${hex(details.offset, 1)}: expected ${details.expected}, found ${details.actual}${note === undefined ? '' : ` (${note})`}`,
			'EINVAL',
			{ ...details },
		);
		this.file = details.file;
		this.field = details.field;
		this.offset = details.offset;
	}
}

/** Which file of a set was not found, and under which relative names it was looked for. */
export interface MissingFirmware {
	/** The firmware kind, e.g. `'booter_load'`. */
	readonly kind: string;
	/** The relative names tried, e.g. `['nvidia/tu102/gsp/gen_bootloader-535.113.01.bin', 'nvidia/tu102/acr/bl.bin']`. */
	readonly names: readonly string[];
}

/**
 * A firmware file or set was not found in any search root. Code `FW_NOT_FOUND`, errno `ENOENT`.
 * `details.searched` lists every path that was looked at, in order; `details.missing` the files not found.
 */
export class FirmwareNotFoundError extends FirmwareError {
	/** Every absolute path that was tried, in search order. */
	readonly searched: readonly string[];
	/** The files that were not found. */
	readonly missing: readonly MissingFirmware[];

	constructor(
		what: string,
		searched: readonly string[],
		missing: readonly MissingFirmware[],
		extra: Readonly<Record<string, unknown>> = {},
	) {
		const list = missing.map((m) => `${m.kind} (${m.names.join(' or ')})`).join(', ');
		const compressed = Array.isArray(extra.compressed) ? (extra.compressed as unknown[]).map(String) : [];
		const hint =
			compressed.length === 0
				? ''
				: `\ncompressed copies exist, which gspkit cannot read (decompress them):\n  ${compressed.join('\n  ')}`;
		super(
			'FW_NOT_FOUND',
			`${what}: not found: ${list}; looked at ${searched.length} path(s):\n  ${searched.join('\n  ')}${hint}`,
			'ENOENT',
			{
				...extra,
				searched: [...searched],
				missing: missing.map((m) => ({ kind: m.kind, names: [...m.names] })),
			},
		);
		this.searched = searched;
		this.missing = missing;
	}
}

/** Reading a firmware file failed for a reason other than "not there". Code `FW_IO`. */
export class FirmwareIoError extends FirmwareError {
	/** The path that could not be read. */
	readonly path: string;

	constructor(path: string, message: string, errno: Errno, cause?: unknown) {
		super('FW_IO', `${path}: ${message}`, errno, { path }, cause);
		this.path = path;
	}
}

/**
 * No usable signature for the fuse version read from the chip. Code `FW_SIGNATURE`, errno `EINVAL`.
 * Raised by the signature-choice helpers, never by the parsers.
 */
export class FirmwareSignatureError extends FirmwareError {
	constructor(message: string, details: Readonly<Record<string, unknown>>) {
		super('FW_SIGNATURE', message, 'EINVAL', details);
	}
}

/** Whether `e` is one of the firmware errors (optionally with the given code). */
export function isFirmwareError(e: unknown, code?: FirmwareErrorCode): e is FirmwareError {
	return e instanceof FirmwareError && (code === undefined || e.code === code);
}
