/**
 * How the GSP reaches system memory. On hardware the GSP is a bus master behind the IOMMU; here it reads
 * the `SharedArrayBuffer` of gpu-sim's {@link DmaPool}. Two implementations with one interface: the
 * in-thread one goes through the pool's device accessor (so an access no live allocation covers faults like
 * an IOMMU), the worker one sees only the shared buffer and its bus base (bounds-checked against the pool).
 *
 * @module
 */

import { hex } from '@gspkit/hal';
import type { DmaPool } from '../dma.ts';
import { DmaFaultError } from '../errors.ts';

/** The GSP's view of system memory by bus address. */
export interface GspMemory {
	/**
	 * A live view (not a copy) of `length` bytes at `busAddress`.
	 * @throws DmaFaultError when the access cannot be performed.
	 */
	view(busAddress: bigint, length: number, access?: 'read' | 'write'): Uint8Array;
}

/** 32-bit words at a 4-byte aligned bus address, for atomic pointer reads and writes. */
export function int32View(
	memory: GspMemory,
	busAddress: bigint,
	count: number,
	access: 'read' | 'write',
): Int32Array {
	const v = memory.view(busAddress, count * 4, access);
	if (v.byteOffset % 4 !== 0) {
		throw new DmaFaultError(busAddress, count * 4, access, 'queue pointer is not 4-byte aligned');
	}
	return new Int32Array(v.buffer, v.byteOffset, count);
}

/** System memory through a {@link DmaPool}'s device accessor (in-thread modes). */
export class PoolGspMemory implements GspMemory {
	readonly #pool: DmaPool;
	readonly #busMaster: () => boolean;

	/**
	 * @param busMaster whether the function may master the bus (PCI COMMAND bit 2); checked on every access
	 *   so a driver that turns bus mastering off sees the GSP fault like the device would.
	 */
	constructor(pool: DmaPool, busMaster: () => boolean = () => true) {
		this.#pool = pool;
		this.#busMaster = busMaster;
	}

	view(busAddress: bigint, length: number, access: 'read' | 'write' = 'read'): Uint8Array {
		if (!this.#busMaster()) {
			throw new DmaFaultError(busAddress, length, access, 'bus mastering is disabled (PCI COMMAND bit 2)');
		}
		return this.#pool.deviceView(busAddress, length, access);
	}
}

/**
 * System memory as a worker thread sees it: the pool's shared buffer at its bus base. The allocation list
 * lives on the main thread, so only the pool bounds are checked here.
 */
export class SharedGspMemory implements GspMemory {
	readonly #buffer: SharedArrayBuffer;
	readonly #busBase: bigint;
	readonly #size: bigint;

	constructor(buffer: SharedArrayBuffer, busBase: bigint) {
		this.#buffer = buffer;
		this.#busBase = busBase;
		this.#size = BigInt(buffer.byteLength);
	}

	view(busAddress: bigint, length: number, access: 'read' | 'write' = 'read'): Uint8Array {
		const rel = busAddress - this.#busBase;
		if (!Number.isSafeInteger(length) || length < 0 || rel < 0n || rel + BigInt(length) > this.#size) {
			throw new DmaFaultError(
				busAddress,
				length,
				access,
				`outside the DMA pool [${hex(this.#busBase, 9)}, ${hex(this.#busBase + this.#size, 9)})`,
			);
		}
		return new Uint8Array(this.#buffer, Number(rel), length);
	}
}
