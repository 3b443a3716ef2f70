/**
 * Typed errors of `@gspkit/abi`.
 *
 * `@gspkit/abi` imports nothing internal (it sits below `@gspkit/hal` in the import graph), so it has its
 * own error class with the same shape as hal's `GspkitError`: a stable `code`, a message and frozen
 * `details`. Callers match on `code`, never on the message.
 *
 * @module
 */

/** Every stable error code `@gspkit/abi` throws. Codes are never renamed once released. */
export const ABI_ERROR_CODES = [
	/** A buffer is shorter than the layout (or its flexible tail) needs. */
	'ABI_SHORT_BUFFER',
	/** A value does not fit the field's C type (integer range, f32 range, string/array length, flex count). */
	'ABI_VALUE_RANGE',
	/** A value has the wrong JavaScript type for the field (e.g. a string for a `u32`). */
	'ABI_VALUE_TYPE',
	/** `encode` was given a value without a required field. */
	'ABI_VALUE_MISSING',
	/** A union value names more than one member that would write different bytes. */
	'ABI_UNION_CONFLICT',
	/** A layout definition is invalid: overlapping or out-of-bounds fields, bad alignment, misplaced flex array. */
	'ABI_LAYOUT',
	/** A type name (in a manifest or a type string) does not resolve. */
	'ABI_UNKNOWN_TYPE',
	/** A field path (`offsetof`, `accessor`) names a field the layout does not have. */
	'ABI_UNKNOWN_FIELD',
	/** An array index is outside the array. */
	'ABI_INDEX_RANGE',
	/** A JSON layout manifest does not have the documented shape. */
	'ABI_MANIFEST',
	/** An argument is not acceptable (negative offset, non-layout object, …). */
	'ABI_BAD_ARGUMENT',
	/** A firmware ABI definition is incomplete or inconsistent. */
	'ABI_DEFINITION',
	/** A registry already holds a firmware ABI with that version. */
	'ABI_DUPLICATE',
	/** A registry holds no firmware ABI with that version. */
	'ABI_NOT_FOUND',
] as const;

/** One of {@link ABI_ERROR_CODES}. */
export type AbiErrorCode = (typeof ABI_ERROR_CODES)[number];

/**
 * The error every `@gspkit/abi` function throws. Same shape as `@gspkit/hal`'s `GspkitError`
 * (`code`, `details`), so callers above hal can treat both alike.
 */
export class AbiError extends Error {
	/** Stable identifier, one of {@link ABI_ERROR_CODES}. */
	readonly code: AbiErrorCode;
	/** Machine-readable context (type name, field path, needed/available bytes, …); frozen. */
	readonly details: Readonly<Record<string, unknown>>;

	constructor(code: AbiErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
		super(message);
		this.name = 'AbiError';
		this.code = code;
		this.details = Object.freeze({ ...details });
	}
}

/** Whether `e` is an {@link AbiError}, optionally with the given `code`. */
export function isAbiError(e: unknown, code?: AbiErrorCode): e is AbiError {
	return e instanceof AbiError && (code === undefined || e.code === code);
}
