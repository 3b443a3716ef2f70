/**
 * Typed errors of the fetch tool. Codes are stable; the CLI maps each to an exit code.
 *
 * @module
 */

/** Stable error codes of `@gspkit/fetch`. */
export type FetchErrorCode =
	/** Bad command-line arguments. */
	| 'E_USAGE'
	/** No Debian package in the configured suites holds what was asked for. */
	| 'E_NOT_FOUND'
	/** A required host tool (apt-get, tar, dpkg-deb, xz) is missing. */
	| 'E_TOOL_MISSING'
	/** The machine's apt configuration names no Debian archive. */
	| 'E_NO_ARCHIVE'
	/** A subprocess (apt-get, tar, …) failed. */
	| 'E_COMMAND_FAILED'
	/** The package was fetched but does not contain the expected files. */
	| 'E_EXTRACT';

/** Exit code of the CLI for each error code (0 is success). */
export const EXIT_CODES: Readonly<Record<FetchErrorCode, number>> = {
	E_COMMAND_FAILED: 1,
	E_EXTRACT: 1,
	E_USAGE: 2,
	E_NOT_FOUND: 3,
	E_TOOL_MISSING: 4,
	E_NO_ARCHIVE: 5,
};

/** An error raised while fetching or extracting data; `code` is stable, `details` is for diagnostics. */
export class FetchError extends Error {
	override readonly name = 'FetchError';
	readonly code: FetchErrorCode;
	readonly details: Readonly<Record<string, unknown>> | undefined;

	constructor(code: FetchErrorCode, message: string, details?: Readonly<Record<string, unknown>>) {
		super(message);
		this.code = code;
		this.details = details;
	}
}
