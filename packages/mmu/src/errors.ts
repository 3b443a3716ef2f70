/**
 * Typed errors of `@gspkit/mmu`. Every error is a {@link GspkitError} with a stable `MMU_*` code and the errno
 * a VM_BIND-style uAPI reports for it (nouveau's VM_INIT / VM_BIND rules, `drm-uapi.md` §1.7).
 *
 * @module
 */

import { type Errno, GspkitError } from '@gspkit/hal';

/** Stable error codes of `@gspkit/mmu`, with the errno each one maps to. */
export const MMU_ERRORS = {
	/** A value outside what the API accepts (unaligned address, zero size, bad kind…). */
	MMU_INVALID_ARGUMENT: 'EINVAL',
	/** The range leaves the VA space, or overlaps the kernel-managed (or client-managed) part. */
	MMU_RANGE_INVALID: 'EINVAL',
	/** The range overlaps a range whose PDEs GSP-RM owns (server-reserved). */
	MMU_RANGE_RESERVED: 'EINVAL',
	/** Client operations before the kernel/client split was set (nouveau: VM_BIND before VM_INIT). */
	MMU_NOT_INITIALIZED: 'ENOSYS',
	/** The kernel/client split was already set. */
	MMU_ALREADY_INITIALIZED: 'EEXIST',
	/** The split came after kernel mappings were made outside the new kernel range. */
	MMU_INIT_TOO_LATE: 'ENOSYS',
	/** A backed mapping would straddle the border of a sparse region. */
	MMU_SPARSE_STRADDLE: 'ENOSPC',
	/** A new sparse region overlaps an existing one. */
	MMU_SPARSE_OVERLAP: 'EEXIST',
	/** UNMAP|SPARSE did not match a sparse region exactly, or the region is already being unbound. */
	MMU_NO_SUCH_REGION: 'ENOENT',
	/** A map into a sparse region that the same operation set unbinds. */
	MMU_REGION_BUSY: 'EINVAL',
	/** The requested (or every possible) page size does not fit the alignment or contiguity of the backing. */
	MMU_PAGE_SIZE: 'EINVAL',
	/** Page-table memory could not be allocated. */
	MMU_OUT_OF_MEMORY: 'ENOMEM',
	/** Prepared operation sets were committed or released out of order, or twice. */
	MMU_PREPARED_STATE: 'EINVAL',
	/** A chip or format gspkit has no page-table format for. */
	MMU_UNSUPPORTED_FORMAT: 'ENODEV',
} as const satisfies Record<string, Errno>;

/** One of the stable `MMU_*` error codes. */
export type MmuErrorCode = keyof typeof MMU_ERRORS;

/** An error raised by `@gspkit/mmu`; `code` is one of {@link MMU_ERRORS}, `errno` follows from it. */
export class MmuError extends GspkitError {
	declare readonly code: MmuErrorCode;

	constructor(
		code: MmuErrorCode,
		message: string,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super(code, message, {
			errno: MMU_ERRORS[code],
			details,
			...(cause === undefined ? {} : { cause }),
		});
	}
}

/** Whether `e` is an {@link MmuError}, optionally with the given code. */
export function isMmuError(e: unknown, code?: MmuErrorCode): e is MmuError {
	return e instanceof MmuError && (code === undefined || e.code === code);
}
