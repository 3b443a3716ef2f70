/**
 * Typed errors of the generator. Codes are stable; the CLI maps them to exit codes.
 *
 * @module
 */

/** Stable error codes of `@gspkit/abi-gen`. */
export type AbiGenErrorCode =
	/** Bad command-line arguments or options. */
	| 'E_USAGE'
	/** The header tree lacks a file the branch needs. */
	| 'E_HEADERS'
	/** gcc (or the compiled helper program) failed. */
	| 'E_COMPILER'
	/** The object file is not something the ELF/DWARF reader understands. */
	| 'E_DWARF'
	/** Generated output differs from the committed files (`--check`). */
	| 'E_DRIFT'
	/** The nova-core bindings disagree with the gcc layouts (`--strict`). */
	| 'E_CROSS_CHECK';

/** An error raised by the generator; `details` carries diagnostics (paths, compiler output). */
export class AbiGenError extends Error {
	override readonly name = 'AbiGenError';
	readonly code: AbiGenErrorCode;
	readonly details: Readonly<Record<string, unknown>> | undefined;

	constructor(code: AbiGenErrorCode, message: string, details?: Readonly<Record<string, unknown>>) {
		super(message);
		this.code = code;
		this.details = details;
	}
}
