/**
 * Data for promoting a VA space to GSP-RM: the parameters of
 * `NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES` (0x90f10106), as plain data. Sending it (after
 * RM_ALLOC of `FERMI_VASPACE_A`) is `core`'s job through `gsp-rpc`.
 *
 * nouveau (`r535_mmu_vaspace_new`) reserves 512 MiB at 4 GiB (`SPLIT_VAS_SERVER_RM_MANAGED_VA_START/SIZE`),
 * 512 MiB-page aligned, and hands RM the directories from the root down to PDE1 — on MMU v2 `{PDE3: size 0x20,
 * pageShift 47; PDE2: 0x1000, 38; PDE1: 0x1000, 29}`. RM then owns the PDE1 entries of that range.
 *
 * @module
 */

import { MmuError } from './errors.ts';
import type { LevelName, TableAperture } from './formats.ts';
import type { VaSpace } from './vaspace.ts';

/** RM's `GMMU_APERTURE` enum, which the control's `aperture` fields use. */
export const GMMU_APERTURE = Object.freeze({ INVALID: 0, VIDEO: 1, PEER: 2, SYS_NONCOH: 3, SYS_COH: 4 });

/** Start of the VA range RM expects to manage in a client VA space (4 GiB). */
export const SPLIT_VAS_SERVER_RM_MANAGED_VA_START = 0x1_0000_0000n;
/** Size of that range (512 MiB). */
export const SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE = 0x2000_0000n;
/** The control command number. */
export const NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES = 0x90f10106;

/** One level of the control's `levels[]`. */
export interface ServerReservedPdeLevel {
	readonly level: LevelName;
	/** Physical address of the directory. */
	readonly physAddress: bigint;
	/** Bytes of the directory (entries × entry size). */
	readonly size: bigint;
	/** `GMMU_APERTURE` value. */
	readonly aperture: number;
	/** log2 of the VA one entry of this directory covers. */
	readonly pageShift: number;
}

/** The control's parameters (without `hSubDevice`/`subDeviceId`, which `core` fills). */
export interface ServerReservedPdes {
	readonly pageSize: bigint;
	readonly virtAddrLo: bigint;
	/** Last byte (inclusive). */
	readonly virtAddrHi: bigint;
	readonly numLevelsToCopy: number;
	readonly levels: readonly ServerReservedPdeLevel[];
}

const gmmuAperture = (a: TableAperture): number =>
	a === 'video'
		? GMMU_APERTURE.VIDEO
		: a === 'sysCoherent'
			? GMMU_APERTURE.SYS_COH
			: GMMU_APERTURE.SYS_NONCOH;

/**
 * Reserve `range` for RM in `vaSpace` (allocating, linking and pinning the directories above it) and return
 * the data for COPY_SERVER_RESERVED_PDES. Calling it again for the same range returns the same data.
 * @param pageShift the coverage of the deepest level RM receives; default 29 (PDE1), as nouveau.
 * @throws MmuError `MMU_INVALID_ARGUMENT` (alignment), `MMU_RANGE_INVALID` (not empty, outside the kernel range),
 *   `MMU_PREPARED_STATE` (prepared sets pending), `MMU_OUT_OF_MEMORY`.
 */
export function serverReservedPdes(
	vaSpace: VaSpace,
	range: { readonly va: bigint; readonly size: bigint } = {
		va: SPLIT_VAS_SERVER_RM_MANAGED_VA_START,
		size: SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE,
	},
	pageShift = 29,
): ServerReservedPdes {
	const page = 1n << BigInt(pageShift);
	if (range.va % page !== 0n || range.size % page !== 0n || range.size === 0n) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `RM-reserved range must be aligned to 2^${pageShift}`);
	}
	const path = vaSpace.reserveForServer(range.va, range.size, pageShift);
	const levels = path.map(({ mem, level }) => ({
		level: level.name,
		physAddress: mem.address,
		size: BigInt(level.tableBytes),
		aperture: gmmuAperture(mem.aperture),
		pageShift: level.shift,
	}));
	return {
		pageSize: page,
		virtAddrLo: range.va,
		virtAddrHi: range.va + range.size - 1n,
		numLevelsToCopy: levels.length,
		levels,
	};
}
