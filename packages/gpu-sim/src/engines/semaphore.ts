/**
 * Semaphore arithmetic shared by the host's `SEM_EXECUTE` and the copy engine's launch semaphores, as
 * `dev_pbdma.ref` (chapter 6, "Host Semaphore Methods") defines it.
 *
 * @module
 */

import { REDUCTION, SEM_EXECUTE } from './fields.ts';

/** Payload width of a semaphore operation. */
export type SemaphoreBits = 32 | 64;

const mask = (bits: SemaphoreBits): bigint => (1n << BigInt(bits)) - 1n;

/**
 * Whether an acquire of kind `operation` (`SEM_EXECUTE_OPERATION_ACQ*`) is satisfied by the semaphore value
 * `value` against `payload`:
 * - ACQUIRE: equal;
 * - ACQ_STRICT_GEQ: unsigned `value >= payload`;
 * - ACQ_CIRC_GEQ: `value - payload` (mod 2^bits) is non-negative as a two's complement number, i.e. the value
 *   is within half the range at or after the payload;
 * - ACQ_AND: `value & payload` is non-zero;
 * - ACQ_NOR: `~(value | payload)` is non-zero (within the payload width).
 *
 * @returns `undefined` for an operation that is not an acquire.
 */
export function acquireSatisfied(
	operation: number,
	value: bigint,
	payload: bigint,
	bits: SemaphoreBits,
): boolean | undefined {
	const m = mask(bits);
	const v = value & m;
	const p = payload & m;
	switch (operation) {
		case SEM_EXECUTE.OP_ACQUIRE:
			return v === p;
		case SEM_EXECUTE.OP_ACQ_STRICT_GEQ:
			return v >= p;
		case SEM_EXECUTE.OP_ACQ_CIRC_GEQ:
			return ((v - p) & m) < 1n << BigInt(bits - 1);
		case SEM_EXECUTE.OP_ACQ_AND:
			return (v & p) !== 0n;
		case SEM_EXECUTE.OP_ACQ_NOR:
			return (~(v | p) & m) !== 0n;
		default:
			return undefined;
	}
}

/**
 * Whether the host supports reduction `op` at this width and signedness (the table under "Semaphore
 * signedness option"): IMIN/IMAX any; IXOR/IAND/IOR any (signedness ignored); IADD 32-bit either, 64-bit
 * unsigned only; INC/DEC 32-bit unsigned only. Anything else raises `INTR_0_SEMAPHORE`.
 */
export function hostReductionSupported(op: number, bits: SemaphoreBits, signed: boolean): boolean {
	switch (op) {
		case REDUCTION.IMIN:
		case REDUCTION.IMAX:
		case REDUCTION.IXOR:
		case REDUCTION.IAND:
		case REDUCTION.IOR:
			return true;
		case REDUCTION.IADD:
			return bits === 32 || !signed;
		case REDUCTION.INC:
		case REDUCTION.DEC:
			return bits === 32 && !signed;
		default:
			return false;
	}
}

/**
 * Apply integer reduction `op` to the memory value `value` with operand `payload`, at `bits` width. Signed
 * IMIN/IMAX compare two's complement values; INC wraps to 0 once the value would pass the payload, DEC
 * reloads the payload when the value is 0 or above the payload.
 *
 * @returns the new memory value (unsigned, `bits` wide), or `undefined` for a non-integer or unknown `op`.
 */
export function reduce(
	op: number,
	value: bigint,
	payload: bigint,
	bits: SemaphoreBits,
	signed: boolean,
): bigint | undefined {
	const m = mask(bits);
	const v = value & m;
	const p = payload & m;
	const asSigned = (x: bigint) => BigInt.asIntN(bits, x);
	switch (op) {
		case REDUCTION.IMIN: {
			const vFirst = signed ? asSigned(v) <= asSigned(p) : v <= p;
			return vFirst ? v : p;
		}
		case REDUCTION.IMAX: {
			const vFirst = signed ? asSigned(v) >= asSigned(p) : v >= p;
			return vFirst ? v : p;
		}
		case REDUCTION.IXOR:
			return v ^ p;
		case REDUCTION.IAND:
			return v & p;
		case REDUCTION.IOR:
			return v | p;
		case REDUCTION.IADD:
			return BigInt.asUintN(bits, v + p);
		case REDUCTION.INC:
			return v >= p ? 0n : (v + 1n) & m;
		case REDUCTION.DEC:
			return v === 0n || v > p ? p : v - 1n;
		default:
			return undefined;
	}
}

/** Little-endian encode `value` into `bytes` at `offset`, `size` bytes. */
export function putLe(bytes: Uint8Array, offset: number, size: number, value: bigint): void {
	let v = value;
	for (let i = 0; i < size; i++) {
		bytes[offset + i] = Number(v & 0xffn);
		v >>= 8n;
	}
}

/** Little-endian decode `size` bytes of `bytes` at `offset`. */
export function getLe(bytes: Uint8Array, offset: number, size: number): bigint {
	let v = 0n;
	for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
	return v;
}
