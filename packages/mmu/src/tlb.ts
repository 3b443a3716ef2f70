/**
 * GPU TLB invalidation (Turing and later), batched once per commit by the VA space.
 *
 * Sequence (hardware reference B.6; nouveau `tu102_vmm_flush`, also used for GH100):
 * 1. `0xB830A0` ← PDB address bits 39:12 at 31:4, aperture at bit 1 (0 video, 1 system)
 *    (`NV_VIRTUAL_FUNCTION_PRIV_MMU_INVALIDATE_PDB`);
 * 2. `0xB830A4` ← PDB address bits 59:40 (19:0);
 * 3. `0x100E68` ← 0;
 * 4. `0xB830B0` ← `TRIGGER | type` (`NV_VIRTUAL_FUNCTION_PRIV_MMU_INVALIDATE`);
 * 5. poll `0xB830B0` until bit 31 clears (2 s).
 *
 * @module
 */

import type { Bar0, Clock } from '@gspkit/hal';
import type { TableRef } from './formats.ts';

/** Register offsets of the invalidate sequence. */
export const TLB_REGS = Object.freeze({
	INVALIDATE_PDB: 0xb830a0,
	INVALIDATE_PDB_HI: 0xb830a4,
	/** Written with 0 before triggering (hardware reference B.6, step 3). */
	PRE_TRIGGER: 0x100e68,
	INVALIDATE: 0xb830b0,
});

/** Fields of the `INVALIDATE` register (`[hi, lo]`). */
export const TLB_INVALIDATE_FIELDS = Object.freeze({
	ALL_VA: [0, 0],
	ALL_PDB: [1, 1],
	HUBTLB_ONLY: [2, 2],
	REPLAY: [5, 3],
	SYS_MEMBAR: [6, 6],
	ACK: [8, 7],
	CANCEL_CLIENT_ID: [14, 9],
	CANCEL_GPC_ID: [19, 15],
	CLIENT_TYPE: [20, 20],
	USE_PASID: [21, 21],
	USE_SIZE: [22, 22],
	PROP_FLUSH: [23, 23],
	CACHE_LEVEL: [26, 24],
	TRIGGER: [31, 31],
} as const);

/** `INVALIDATE` values gspkit uses. */
export const TLB_INVALIDATE = Object.freeze({
	ALL_VA: 0x1,
	ALL_PDB: 0x2,
	HUBTLB_ONLY: 0x4,
	SYS_MEMBAR: 0x40,
	TRIGGER: 0x80000000,
});

/** What to invalidate: the page directory of one VA space. */
export interface TlbInvalidateRequest {
	readonly pdb: TableRef;
}

/** Outcome of one invalidate. */
export interface TlbInvalidateResult {
	/** The trigger bit did not clear in time (the commit still completes; the caller decides what to do). */
	readonly timedOut: boolean;
}

/** Issues a TLB invalidate; must neither allocate page tables nor throw for a slow GPU. */
export type TlbInvalidator = (request: TlbInvalidateRequest) => TlbInvalidateResult;

/** Options of {@link bar0TlbInvalidator}. */
export interface Bar0TlbInvalidatorOptions {
	/** `INVALIDATE` type bits (without TRIGGER). Default `ALL_VA` (nouveau). */
	readonly type?: number;
	/** Clock for the timeout; without one only `maxPolls` bounds the wait. */
	readonly clock?: Clock;
	/** Default 2 s. */
	readonly timeoutNs?: bigint;
	/** Upper bound on register polls. Default 1,000,000. */
	readonly maxPolls?: number;
}

/** The register values of the sequence for a PDB (for tests and for replaying elsewhere). */
export function tlbInvalidateWords(
	pdb: TableRef,
	type: number = TLB_INVALIDATE.ALL_VA,
): {
	readonly pdbLo: number;
	readonly pdbHi: number;
	readonly invalidate: number;
} {
	const sys = pdb.aperture !== 'video';
	const pdbLo = (Number((pdb.address >> 8n) & 0xfffffff0n) | (sys ? 0x2 : 0)) >>> 0;
	const pdbHi = Number((pdb.address >> 40n) & 0xfffffn);
	return { pdbLo, pdbHi, invalidate: (TLB_INVALIDATE.TRIGGER | type) >>> 0 };
}

/** A {@link TlbInvalidator} that runs the Turing+ sequence through BAR0. */
export function bar0TlbInvalidator(bar0: Bar0, options: Bar0TlbInvalidatorOptions = {}): TlbInvalidator {
	const type = options.type ?? TLB_INVALIDATE.ALL_VA;
	const timeoutNs = options.timeoutNs ?? 2_000_000_000n;
	const maxPolls = options.maxPolls ?? 1_000_000;
	const clock = options.clock;
	return ({ pdb }) => {
		const w = tlbInvalidateWords(pdb, type);
		bar0.write32(TLB_REGS.INVALIDATE_PDB, w.pdbLo);
		bar0.write32(TLB_REGS.INVALIDATE_PDB_HI, w.pdbHi);
		bar0.write32(TLB_REGS.PRE_TRIGGER, 0);
		bar0.write32(TLB_REGS.INVALIDATE, w.invalidate);
		const start = clock?.now();
		for (let i = 0; i < maxPolls; i++) {
			if ((bar0.read32(TLB_REGS.INVALIDATE) & TLB_INVALIDATE.TRIGGER) === 0) return { timedOut: false };
			if (clock !== undefined && start !== undefined && (i & 63) === 63 && clock.now() - start > timeoutNs)
				break;
		}
		return { timedOut: true };
	};
}
