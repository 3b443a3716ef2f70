/**
 * Decoding the page-directory words of an instance block (`NV_RAMIN_PAGE_DIR_BASE_*`, `NV_RAMIN_ADR_LIMIT`,
 * and the Volta+ subcontext table `NV_RAMIN_SC_PDB_VALID` / `NV_RAMIN_SC_PAGE_DIR_BASE_*`), reference B.5.
 *
 * @module
 */

import { InvalidArgumentError } from '@gspkit/hal';
import { getField32, RAMIN } from './fields.ts';
import type { PageDirectoryBase, TableAperture } from './types.ts';

/** `NV_RAMIN_PAGE_DIR_BASE_TARGET`, decoded. Note the enum puts INVALID at 1. */
export type PdbTarget = TableAperture | 'invalid';

const TARGETS: readonly PdbTarget[] = ['video', 'invalid', 'sys-coherent', 'sys-noncoherent'];

/** One decoded PAGE_DIR_BASE pair (the channel's own at 0x200/0x204, or a subcontext's). */
export interface PageDirectoryWord {
	readonly target: PdbTarget;
	/** `VOL`: the MMU must not cache the directory's memory. */
	readonly volatile: boolean;
	readonly faultReplayTex: boolean;
	readonly faultReplayGcc: boolean;
	/** `USE_VER2_PT_FORMAT`: set for the v2 and v3 formats (clear selects the pre-Pascal format). */
	readonly useVer2PtFormat: boolean;
	/** `BIG_PAGE_SIZE`: 1 = 64 KiB, 0 = 128 KiB. */
	readonly bigPageSize: 65536 | 131072;
	/** Root table address (`PAGE_DIR_BASE_LO` 31:12 and `PAGE_DIR_BASE_HI`). */
	readonly address: bigint;
	/** The two raw words. */
	readonly lo: number;
	readonly hi: number;
}

/** One subcontext (Volta+ "VEID") entry. */
export interface SubcontextEntry {
	readonly index: number;
	/** Its bit in `SC_PDB_VALID`. */
	readonly valid: boolean;
	readonly pdb: PageDirectoryWord;
}

/** The MMU-relevant part of an instance block. */
export interface InstanceBlockMmu {
	readonly pdb: PageDirectoryWord;
	/** `NV_RAMIN_ADR_LIMIT` (0x208/0x20c); deprecated since GV100, nouveau still writes limit − 1. */
	readonly addressLimit: bigint;
	/** `SC_PDB_VALID` (0x298/0x29c) as a 64-bit mask. */
	readonly subcontextValidMask: bigint;
	/** All 64 subcontext entries, valid or not. */
	readonly subcontexts: readonly SubcontextEntry[];
}

/** Decode a PAGE_DIR_BASE word pair. */
export function decodePageDirectoryWord(lo: number, hi: number): PageDirectoryWord {
	const l = lo >>> 0;
	const h = hi >>> 0;
	return {
		target: TARGETS[getField32(l, RAMIN.TARGET)] as PdbTarget,
		volatile: getField32(l, RAMIN.VOL) !== 0,
		faultReplayTex: getField32(l, RAMIN.FAULT_REPLAY_TEX) !== 0,
		faultReplayGcc: getField32(l, RAMIN.FAULT_REPLAY_GCC) !== 0,
		useVer2PtFormat: getField32(l, RAMIN.USE_VER2_PT_FORMAT) !== 0,
		bigPageSize: getField32(l, RAMIN.BIG_PAGE_SIZE) !== 0 ? 65536 : 131072,
		address: (BigInt(h) << 32n) | (BigInt(getField32(l, RAMIN.ADDRESS_LO)) << BigInt(RAMIN.ADDRESS_LO.lo)),
		lo: l,
		hi: h,
	};
}

/**
 * Decode the page-directory part of an instance block. `read32(offset)` reads the 32-bit word at a byte
 * offset of the block (e.g. a view on VRAM at the block's address).
 */
export function decodeInstanceBlock(read32: (offset: number) => number): InstanceBlockMmu {
	const word = (offset: number): number => {
		const v = read32(offset);
		if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) {
			throw new InvalidArgumentError(`instance block read at ${offset} returned ${v}, not a 32-bit word`, {
				offset,
			});
		}
		return v >>> 0;
	};
	const pdb = decodePageDirectoryWord(word(RAMIN.PAGE_DIR_BASE_LO), word(RAMIN.PAGE_DIR_BASE_HI));
	const addressLimit = (BigInt(word(RAMIN.ADR_LIMIT_HI)) << 32n) | BigInt(word(RAMIN.ADR_LIMIT_LO));
	const subcontextValidMask =
		(BigInt(word(RAMIN.SC_PDB_VALID_HI)) << 32n) | BigInt(word(RAMIN.SC_PDB_VALID_LO));
	const subcontexts: SubcontextEntry[] = [];
	for (let i = 0; i < RAMIN.SUBCONTEXTS; i++) {
		const lo = word(RAMIN.SC_PAGE_DIR_BASE_LO0 + i * RAMIN.SC_STRIDE);
		const hi = word(RAMIN.SC_PAGE_DIR_BASE_HI0 + i * RAMIN.SC_STRIDE);
		subcontexts.push({
			index: i,
			valid: ((subcontextValidMask >> BigInt(i)) & 1n) === 1n,
			pdb: decodePageDirectoryWord(lo, hi),
		});
	}
	return { pdb, addressLimit, subcontextValidMask, subcontexts };
}

/** The {@link PageDirectoryBase} a decoded word selects; `GpuMmu.translate` checks target, format and big page. */
export function pageDirectoryBase(word: PageDirectoryWord): PageDirectoryBase {
	return {
		aperture: word.target,
		address: word.address,
		bigPageSize: word.bigPageSize,
		useVer2PtFormat: word.useVer2PtFormat,
	};
}

/** Encode a PAGE_DIR_BASE word pair (for tests and for the simulator's own instance blocks). */
export function encodePageDirectoryWord(options: {
	readonly target: PdbTarget;
	readonly address: bigint;
	readonly volatile?: boolean;
	readonly useVer2PtFormat?: boolean;
	readonly bigPageSize?: 65536 | 131072;
	readonly faultReplayTex?: boolean;
	readonly faultReplayGcc?: boolean;
}): { lo: number; hi: number } {
	if (options.address < 0n || options.address >= 1n << 64n || (options.address & 0xfffn) !== 0n) {
		throw new InvalidArgumentError('page directory address must be a 4 KiB aligned 64-bit address', {
			address: options.address.toString(16),
		});
	}
	const target = TARGETS.indexOf(options.target);
	let lo = target | (Number(options.address & 0xffff_f000n) >>> 0);
	if (options.volatile) lo |= 1 << RAMIN.VOL.lo;
	if (options.faultReplayTex) lo |= 1 << RAMIN.FAULT_REPLAY_TEX.lo;
	if (options.faultReplayGcc) lo |= 1 << RAMIN.FAULT_REPLAY_GCC.lo;
	if (options.useVer2PtFormat ?? true) lo |= 1 << RAMIN.USE_VER2_PT_FORMAT.lo;
	if ((options.bigPageSize ?? 65536) === 65536) lo |= 1 << RAMIN.BIG_PAGE_SIZE.lo;
	return { lo: lo >>> 0, hi: Number(options.address >> 32n) >>> 0 };
}
