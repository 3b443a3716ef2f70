/**
 * Coherent DMA memory for the simulated GPU: one `SharedArrayBuffer`, a first-fit allocator with
 * coalescing, bus addresses as `bigint` above 4 GiB, and a device-side accessor that faults like an IOMMU
 * for addresses no live allocation covers.
 *
 * @module
 */

import {
	createSharedWasmMemory,
	type DmaAllocOptions,
	type DmaBuffer,
	type DmaMemory,
	hex,
	InvalidArgumentError,
	OutOfMemoryError,
	type SharedWasmMemory,
} from '@gspkit/hal';
import { DmaFaultError, DmaFreeError, SimulatorClosedError } from './errors.ts';

/**
 * Bus address of the first pool byte. It is above 4 GiB on purpose: a driver that truncates a bus
 * address to 32 bits (or drops the high mailbox word) hands the device an address that faults.
 */
export const DEFAULT_DMA_BUS_BASE = 0x1_0000_0000n;

/** Default pool size. The operating system commits the pages of a `SharedArrayBuffer` only when touched. */
export const DEFAULT_DMA_POOL_SIZE = 512 * 1024 * 1024;

/** Byte written over freed memory, so reads through a stale buffer or `zero: false` memory stand out. */
export const DMA_POISON = 0xa5;

/** Options for {@link DmaPool}. */
export interface DmaPoolOptions {
	/** Pool size in bytes: a positive multiple of 4096, at most 4 GiB. Default {@link DEFAULT_DMA_POOL_SIZE}. */
	readonly size?: number;
	/** Bus address of the first byte, 4 GiB aligned. Default {@link DEFAULT_DMA_BUS_BASE}. */
	readonly busBase?: bigint;
	/** Back the pool with a plain `SharedArrayBuffer` instead of a shared `WebAssembly.Memory` (default `false`). */
	readonly plainMemory?: boolean;
}

/** A live allocation as the allocator sees it (for leak reports). */
export interface DmaAllocationInfo {
	readonly busAddress: bigint;
	readonly size: number;
	readonly label: string;
}

class PoolBuffer implements DmaBuffer {
	readonly busAddress: bigint;
	readonly size: number;
	readonly bytes: Uint8Array;
	readonly view: DataView;
	readonly label: string;
	readonly wasmMemory?: SharedWasmMemory;

	constructor(
		sab: SharedArrayBuffer,
		offset: number,
		size: number,
		busAddress: bigint,
		label: string,
		wasmMemory: SharedWasmMemory | undefined,
	) {
		this.busAddress = busAddress;
		this.size = size;
		this.bytes = new Uint8Array(sab, offset, size);
		this.view = new DataView(sab, offset, size);
		this.label = label;
		if (wasmMemory !== undefined) this.wasmMemory = wasmMemory;
	}
}

interface Block {
	offset: number;
	size: number;
}

interface Live {
	readonly offset: number;
	readonly buffer: PoolBuffer;
}

function isPowerOfTwo(n: number): boolean {
	return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** The largest alignment accepted: the pool base is only guaranteed to be aligned to 4 GiB. */
const MAX_ALIGN = 2 ** 32;

/**
 * A DMA memory pool. {@link DmaPool.alloc}/{@link DmaPool.free} are the driver's side ({@link DmaMemory});
 * {@link DmaPool.deviceRead}/{@link DmaPool.deviceWrite}/{@link DmaPool.deviceView} are what the device
 * models use.
 */
export class DmaPool implements DmaMemory {
	/** The shared memory every buffer views; hand it to worker threads that model device processors. */
	readonly sharedBuffer: SharedArrayBuffer;
	/**
	 * The shared `WebAssembly.Memory` whose buffer is {@link DmaPool.sharedBuffer}, when the host has one (as a
	 * host's DMA heap is ordinary memory, so is this): driver-side WebAssembly kernels then work on DMA buffers
	 * in place. Buffers carry it as `wasmMemory`.
	 */
	readonly wasmMemory: SharedWasmMemory | undefined;
	/** Bus address of byte 0 of {@link DmaPool.sharedBuffer}. */
	readonly busBase: bigint;
	/** Pool size in bytes. */
	readonly size: number;
	/** Free blocks sorted by offset, never adjacent (they are coalesced). */
	#free: Block[];
	/** Live allocations sorted by offset. */
	#live: Live[] = [];
	#freed = new WeakSet<DmaBuffer>();
	#bytesInUse = 0;
	#closed = false;

	constructor(options: DmaPoolOptions = {}) {
		const size = options.size ?? DEFAULT_DMA_POOL_SIZE;
		if (!Number.isSafeInteger(size) || size <= 0 || size % 4096 !== 0 || size > MAX_ALIGN) {
			throw new InvalidArgumentError(
				`DMA pool size ${size} must be a positive multiple of 4096 up to 4 GiB`,
				{
					size,
				},
			);
		}
		const busBase = options.busBase ?? DEFAULT_DMA_BUS_BASE;
		if (busBase < 0n || busBase % BigInt(MAX_ALIGN) !== 0n || busBase + BigInt(size) > 1n << 64n) {
			throw new InvalidArgumentError(`DMA bus base ${hex(busBase, 1)} must be 4 GiB aligned`, {
				busBase: hex(busBase, 1),
			});
		}
		this.size = size;
		this.busBase = busBase;
		this.wasmMemory = options.plainMemory === true ? undefined : createSharedWasmMemory(size);
		this.sharedBuffer = this.wasmMemory?.buffer ?? new SharedArrayBuffer(size);
		this.#free = [{ offset: 0, size }];
	}

	/** Bytes currently allocated (sum of the requested sizes of live buffers). */
	get bytesInUse(): number {
		return this.#bytesInUse;
	}

	/** Number of live allocations. */
	get liveAllocations(): number {
		return this.#live.length;
	}

	/** Size of the largest free block (an upper bound for the next allocation with alignment 1). */
	get largestFreeBlock(): number {
		let max = 0;
		for (const b of this.#free) max = Math.max(max, b.size);
		return max;
	}

	/** Live allocations in bus-address order, for leak reports. */
	allocations(): DmaAllocationInfo[] {
		return this.#live.map(({ buffer }) => ({
			busAddress: buffer.busAddress,
			size: buffer.size,
			label: buffer.label,
		}));
	}

	/**
	 * Allocate `size` bytes whose bus address is a multiple of `options.align` (default 4096), zeroed unless
	 * `options.zero` is `false` (then the content is unspecified).
	 * @throws InvalidArgumentError for a non-positive size or an alignment that is not a power of two.
	 * @throws OutOfMemoryError when no free block can hold the request.
	 */
	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		this.#checkOpen('DMA alloc');
		const align = options.align ?? 4096;
		const label = options.label ?? '';
		if (!Number.isSafeInteger(size) || size <= 0) {
			throw new InvalidArgumentError(`DMA allocation size ${size} must be a positive integer`, {
				size,
				label,
			});
		}
		if (!isPowerOfTwo(align) || align > MAX_ALIGN) {
			throw new InvalidArgumentError(`DMA alignment ${align} must be a power of two up to 4 GiB`, {
				align,
				label,
			});
		}
		for (let i = 0; i < this.#free.length; i++) {
			const block = this.#free[i]!;
			const start = Math.ceil(block.offset / align) * align;
			const end = start + size;
			if (end > block.offset + block.size) continue;
			// Carve [start, end) out of the block, keeping the pieces before and after it.
			const pieces: Block[] = [];
			if (start > block.offset) pieces.push({ offset: block.offset, size: start - block.offset });
			if (end < block.offset + block.size)
				pieces.push({ offset: end, size: block.offset + block.size - end });
			this.#free.splice(i, 1, ...pieces);
			const buffer = new PoolBuffer(
				this.sharedBuffer,
				start,
				size,
				this.busBase + BigInt(start),
				label,
				this.wasmMemory,
			);
			if (options.zero ?? true) buffer.bytes.fill(0);
			this.#insertLive({ offset: start, buffer });
			this.#bytesInUse += size;
			return buffer;
		}
		throw new OutOfMemoryError(
			`DMA pool exhausted: cannot allocate ${size} bytes aligned to ${align} for ${JSON.stringify(label)} (${this.#bytesInUse} of ${this.size} bytes in use, largest free block ${this.largestFreeBlock})`,
			{ size, align, label, bytesInUse: this.#bytesInUse, poolSize: this.size },
		);
	}

	/**
	 * Return `buffer` to the pool. Its memory is overwritten with {@link DMA_POISON}.
	 * @throws DmaFreeError `SIM_DMA_DOUBLE_FREE` if it was already freed, `SIM_DMA_FOREIGN_BUFFER` if this
	 *   pool did not allocate it.
	 */
	free(buffer: DmaBuffer): void {
		this.#checkOpen('DMA free');
		if (this.#freed.has(buffer))
			throw new DmaFreeError('SIM_DMA_DOUBLE_FREE', buffer.busAddress, buffer.label);
		const index = this.#liveIndexOf(buffer);
		if (index < 0) throw new DmaFreeError('SIM_DMA_FOREIGN_BUFFER', buffer?.busAddress, buffer?.label);
		const { offset, buffer: own } = this.#live[index]!;
		this.#live.splice(index, 1);
		this.#freed.add(own);
		this.#bytesInUse -= own.size;
		own.bytes.fill(DMA_POISON);
		this.#release({ offset, size: own.size });
	}

	/** The live allocation containing `busAddress`, if any. */
	findAllocation(busAddress: bigint): DmaAllocationInfo | undefined {
		const live = this.#liveAt(busAddress);
		return live === undefined
			? undefined
			: { busAddress: live.buffer.busAddress, size: live.buffer.size, label: live.buffer.label };
	}

	/**
	 * Device side: a zero-copy view of `length` bytes at `busAddress`.
	 * @throws DmaFaultError unless one live allocation covers the whole range.
	 */
	deviceView(busAddress: bigint, length: number, access: 'read' | 'write' = 'read'): Uint8Array {
		this.#checkOpen('DMA access');
		if (!Number.isSafeInteger(length) || length < 0) {
			throw new DmaFaultError(busAddress, length, access, 'invalid length');
		}
		const live = this.#liveAt(busAddress);
		if (live === undefined) {
			throw new DmaFaultError(busAddress, length, access, 'no live DMA allocation at this address');
		}
		const start = Number(busAddress - live.buffer.busAddress);
		if (start + length > live.buffer.size) {
			throw new DmaFaultError(
				busAddress,
				length,
				access,
				`runs past the end of allocation ${JSON.stringify(live.buffer.label)} (${hex(live.buffer.busAddress, 9)}+${live.buffer.size})`,
			);
		}
		return live.buffer.bytes.subarray(start, start + length);
	}

	/** Device side: copy `length` bytes from `busAddress`. @throws DmaFaultError like {@link DmaPool.deviceView}. */
	deviceRead(busAddress: bigint, length: number): Uint8Array {
		return this.deviceView(busAddress, length, 'read').slice();
	}

	/** Device side: copy `bytes` to `busAddress`. @throws DmaFaultError like {@link DmaPool.deviceView}. */
	deviceWrite(busAddress: bigint, bytes: Uint8Array): void {
		this.deviceView(busAddress, bytes.length, 'write').set(bytes);
	}

	/** Drop every allocation; later calls throw {@link SimulatorClosedError}. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const { buffer } of this.#live) this.#freed.add(buffer);
		this.#live = [];
		this.#free = [];
		this.#bytesInUse = 0;
	}

	#checkOpen(what: string): void {
		if (this.#closed) throw new SimulatorClosedError(what);
	}

	#insertLive(entry: Live): void {
		let lo = 0;
		let hi = this.#live.length;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if (this.#live[mid]!.offset < entry.offset) lo = mid + 1;
			else hi = mid;
		}
		this.#live.splice(lo, 0, entry);
	}

	/** Index of the live entry holding exactly `buffer`, or -1. */
	#liveIndexOf(buffer: DmaBuffer): number {
		if (buffer === null || typeof buffer !== 'object' || typeof buffer.busAddress !== 'bigint') return -1;
		const i = this.#indexAtOrBefore(buffer.busAddress - this.busBase);
		return i >= 0 && this.#live[i]!.buffer === buffer ? i : -1;
	}

	#liveAt(busAddress: bigint): Live | undefined {
		if (typeof busAddress !== 'bigint') return undefined;
		const rel = busAddress - this.busBase;
		if (rel < 0n || rel >= BigInt(this.size)) return undefined;
		const i = this.#indexAtOrBefore(rel);
		if (i < 0) return undefined;
		const live = this.#live[i]!;
		return Number(rel) < live.offset + live.buffer.size ? live : undefined;
	}

	/** Index of the last live allocation starting at or below `rel`, or -1. */
	#indexAtOrBefore(rel: bigint): number {
		if (rel < 0n || rel >= BigInt(this.size)) return -1;
		const offset = Number(rel);
		let lo = 0;
		let hi = this.#live.length - 1;
		let found = -1;
		while (lo <= hi) {
			const mid = (lo + hi) >> 1;
			if (this.#live[mid]!.offset <= offset) {
				found = mid;
				lo = mid + 1;
			} else hi = mid - 1;
		}
		return found;
	}

	/** Put a block back on the free list, merging it with its neighbours. */
	#release(block: Block): void {
		const free = this.#free;
		let i = 0;
		while (i < free.length && free[i]!.offset < block.offset) i++;
		free.splice(i, 0, { ...block });
		const next = free[i + 1];
		if (next !== undefined && free[i]!.offset + free[i]!.size === next.offset) {
			free[i]!.size += next.size;
			free.splice(i + 1, 1);
		}
		const prev = free[i - 1];
		if (prev !== undefined && prev.offset + prev.size === free[i]!.offset) {
			prev.size += free[i]!.size;
			free.splice(i, 1);
		}
	}
}
