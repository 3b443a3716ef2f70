/**
 * User memory: what the kernel reaches with `copy_from_user`/`copy_to_user`.
 *
 * ioctl arguments carry user pointers (`handles`, `op_ptr`, `push_ptr`, the VERSION strings). The
 * frontend never interprets them itself; it asks a {@link UserMemory}. The socket server supplies one
 * that maps the pointers of a request to the arrays carried inline after it; in-process clients can use
 * an {@link ArenaMemory}. A pointer that does not resolve is `EFAULT`, as in the kernel.
 *
 * @module
 */

import { DrmFrontendError } from './errors.ts';

/**
 * The client's address space as the frontend sees it. Lengths come straight from ioctl arguments (a
 * `count_handles` of 2^32 − 1 is legal input), so an implementation must check that a range exists before
 * allocating anything for it.
 */
export interface UserMemory {
	/** A copy of `length` bytes at user address `addr`, or `undefined` if any of them is not accessible. */
	read(addr: bigint, length: number): Uint8Array | undefined;
	/** Copy `data` to user address `addr`; `false` (nothing written) if any byte is not accessible. */
	write(addr: bigint, data: Uint8Array): boolean;
}

/** A user memory with nothing mapped: every non-empty access faults. */
export const NO_USER_MEMORY: UserMemory = Object.freeze({
	read: (_addr: bigint, length: number) => (length === 0 ? new Uint8Array(0) : undefined),
	write: (_addr: bigint, data: Uint8Array) => data.length === 0,
});

/** Copy `length` bytes from user memory; zero bytes never fault (the kernel skips empty copies). */
export function copyFromUser(mem: UserMemory, addr: bigint, length: number): Uint8Array | undefined {
	if (length === 0) return new Uint8Array(0);
	return mem.read(addr, length);
}

/** Copy to user memory; zero bytes never fault. */
export function copyToUser(mem: UserMemory, addr: bigint, data: Uint8Array): boolean {
	if (data.length === 0) return true;
	return mem.write(addr, data);
}

/** Read `count` u32 values (little-endian) from user memory; `undefined` = EFAULT. */
export function readU32Array(mem: UserMemory, addr: bigint, count: number): Uint32Array | undefined {
	const bytes = copyFromUser(mem, addr, count * 4);
	if (bytes === undefined) return undefined;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const out = new Uint32Array(count);
	for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
	return out;
}

/** Read `count` u64 values (little-endian) from user memory; `undefined` = EFAULT. */
export function readU64Array(mem: UserMemory, addr: bigint, count: number): BigUint64Array | undefined {
	const bytes = copyFromUser(mem, addr, count * 8);
	if (bytes === undefined) return undefined;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const out = new BigUint64Array(count);
	for (let i = 0; i < count; i++) out[i] = dv.getBigUint64(i * 8, true);
	return out;
}

/** Encode u64 values little-endian (for `copyToUser`). */
export function u64Bytes(values: ArrayLike<bigint>): Uint8Array {
	const out = new Uint8Array(values.length * 8);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < values.length; i++)
		dv.setBigUint64(i * 8, BigInt.asUintN(64, values[i] as bigint), true);
	return out;
}

interface Region {
	readonly addr: bigint;
	readonly bytes: Uint8Array;
}

/**
 * A simple user address space: regions allocated at increasing addresses, with unmapped gaps between them
 * so an off-by-one pointer faults. Handy for in-process clients and tests, and as the model the socket
 * server follows for the arrays carried after a request.
 */
export class ArenaMemory implements UserMemory {
	readonly #regions: Region[] = [];
	#next: bigint;
	readonly #base: bigint;

	/** Regions start at `base` (default 0x10000, so that small integers are never valid pointers). */
	constructor(base = 0x10000n) {
		if (base <= 0n) throw new DrmFrontendError('DRM_INVALID_ARGUMENT', 'ArenaMemory base must be positive');
		this.#base = base;
		this.#next = base;
	}

	/** Map a region holding `init` (copied) or `init` zero bytes; returns its user address. */
	alloc(init: Uint8Array | number): bigint {
		const bytes = typeof init === 'number' ? new Uint8Array(init) : Uint8Array.from(init);
		const addr = this.#next;
		this.#regions.push({ addr, bytes });
		// A 64-byte guard gap after every region, 64-byte aligned starts.
		this.#next = (addr + BigInt(bytes.length) + 64n + 63n) & ~63n;
		return addr;
	}

	/** The live bytes of the region starting exactly at `addr` (to read results back). */
	bytesAt(addr: bigint): Uint8Array {
		const r = this.#regions.find((x) => x.addr === addr);
		if (r === undefined)
			throw new DrmFrontendError('DRM_INVALID_ARGUMENT', `no region at 0x${addr.toString(16)}`);
		return r.bytes;
	}

	/** Unmap every region (addresses are not reused). */
	clear(): void {
		this.#regions.length = 0;
	}

	/** The first address this arena hands out. */
	get base(): bigint {
		return this.#base;
	}

	#find(addr: bigint, length: number): { region: Region; offset: number } | undefined {
		for (const region of this.#regions) {
			const off = addr - region.addr;
			if (off >= 0n && off + BigInt(length) <= BigInt(region.bytes.length)) {
				return { region, offset: Number(off) };
			}
		}
		return undefined;
	}

	read(addr: bigint, length: number): Uint8Array | undefined {
		if (!Number.isSafeInteger(length) || length < 0) return undefined;
		const hit = this.#find(addr, length);
		return hit === undefined ? undefined : hit.region.bytes.slice(hit.offset, hit.offset + length);
	}

	write(addr: bigint, data: Uint8Array): boolean {
		const hit = this.#find(addr, data.length);
		if (hit === undefined) return false;
		hit.region.bytes.set(data, hit.offset);
		return true;
	}
}
