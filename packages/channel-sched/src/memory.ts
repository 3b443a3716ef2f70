/**
 * CPU views of GPU-visible memory (the GPFIFO ring, USERD, semaphores, kernel pushbuffers).
 *
 * The channel layer works over this small interface so that tests can use plain shared memory and the driver
 * can use `hal` DMA buffers or VRAM through a BAR window ({@link vramWindowRegion}). Two kinds of access exist:
 * plain `read32`/`write32`, and `store32`/`load32`, which are sequentially consistent (`Atomics`) and serve as
 * the memory barrier of the submit sequence: every plain write before a `store32` is visible to another thread
 * (the simulated GPU runs in a worker) that observes the stored value with an atomic load.
 *
 * All multi-byte values are little-endian, as the GPU reads them. The views use host-endian typed arrays, so
 * this module refuses to load on a big-endian host.
 *
 * @module
 */

import type { DmaBuffer, VramWindow } from '@gspkit/hal';
import { ChannelArgumentError, UnsupportedError } from './errors.ts';
import { noteAllocation } from './signalling.ts';

if (new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] !== 0x04) {
	throw new UnsupportedError('gspkit channel memory views need a little-endian host');
}

/** A CPU view of a range of GPU-visible memory, accessed in 32-bit words at byte offsets. */
export interface MemoryRegion {
	/** Size in bytes (a multiple of 4). */
	readonly size: number;
	/** Plain 32-bit read (unsigned). */
	read32(offset: number): number;
	/** Plain 32-bit write. */
	write32(offset: number, value: number): void;
	/** Sequentially consistent 32-bit store: publishes every earlier write (release + barrier). */
	store32(offset: number, value: number): void;
	/** Sequentially consistent 32-bit load (acquire). */
	load32(offset: number): number;
	/** Copy `words` to `offset` (plain writes). */
	writeWords(offset: number, words: ArrayLike<number>): void;
	/** A sub-range view sharing the same memory. */
	subregion(offset: number, size: number): MemoryRegion;
}

class Int32Region implements MemoryRegion {
	readonly size: number;
	readonly #w: Int32Array;

	constructor(w: Int32Array) {
		this.#w = w;
		this.size = w.length * 4;
	}

	#index(offset: number): number {
		if ((offset & 3) !== 0 || offset < 0 || offset + 4 > this.size) {
			throw new ChannelArgumentError(`memory offset 0x${offset.toString(16)} out of range or unaligned`, {
				offset,
				size: this.size,
			});
		}
		return offset >>> 2;
	}

	read32(offset: number): number {
		return (this.#w[this.#index(offset)] as number) >>> 0;
	}

	write32(offset: number, value: number): void {
		this.#w[this.#index(offset)] = value | 0;
	}

	store32(offset: number, value: number): void {
		Atomics.store(this.#w, this.#index(offset), value | 0);
	}

	load32(offset: number): number {
		return Atomics.load(this.#w, this.#index(offset)) >>> 0;
	}

	writeWords(offset: number, words: ArrayLike<number>): void {
		const i = this.#index(offset);
		if (offset + 4 * words.length > this.size) {
			throw new ChannelArgumentError('write past the end of the region', { offset, words: words.length });
		}
		const w = this.#w;
		if (ArrayBuffer.isView(words)) {
			// Typed arrays convert element-wise (uint32 → int32 wraps), without a JS loop.
			w.set(words as unknown as ArrayLike<number>, i);
			return;
		}
		for (let k = 0; k < words.length; k++) w[i + k] = (words[k] as number) | 0;
	}

	subregion(offset: number, size: number): MemoryRegion {
		if ((offset & 3) !== 0 || (size & 3) !== 0 || offset < 0 || size < 0 || offset + size > this.size) {
			throw new ChannelArgumentError('subregion out of range or unaligned', { offset, size, of: this.size });
		}
		return new Int32Region(this.#w.subarray(offset >>> 2, (offset + size) >>> 2));
	}
}

/** A region over `bytes` (which must start 4-byte aligned and have a length that is a multiple of 4). */
export function bytesRegion(bytes: Uint8Array): MemoryRegion {
	if ((bytes.byteOffset & 3) !== 0 || (bytes.length & 3) !== 0) {
		throw new ChannelArgumentError('memory region must be 4-byte aligned and a multiple of 4 bytes', {
			byteOffset: bytes.byteOffset,
			length: bytes.length,
		});
	}
	return new Int32Region(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2));
}

/** A region over a `hal` DMA buffer (optionally a sub-range of it). */
export function dmaRegion(buffer: DmaBuffer, offset = 0, size = buffer.size - offset): MemoryRegion {
	return bytesRegion(buffer.bytes.subarray(offset, offset + size));
}

/** A fresh zeroed region on a `SharedArrayBuffer` (tests, fake devices). */
export function sharedRegion(size: number): MemoryRegion {
	noteAllocation('sharedRegion');
	return bytesRegion(new Uint8Array(new SharedArrayBuffer(size)));
}

/**
 * A region over VRAM seen through a `hal` BAR window (`platform.vram.bar1`/`bar2`), at window offset `offset`.
 * Every access is a window read or write of the words concerned, so the GPU (or the simulated host, which
 * reads VRAM directly) sees a write once `write32`/`store32` returned; `store32` is a plain write and
 * `load32` a plain read (window accesses complete in program order, there is nothing to fence from
 * JavaScript). Word accesses reuse one scratch buffer: nothing allocates after creation.
 */
export function vramWindowRegion(window: VramWindow, offset: bigint, size: number): MemoryRegion {
	if (
		offset < 0n ||
		(offset & 3n) !== 0n ||
		(size & 3) !== 0 ||
		size < 0 ||
		offset + BigInt(size) > window.size
	) {
		throw new ChannelArgumentError('VRAM window region out of range or unaligned', {
			offset: `0x${offset.toString(16)}`,
			size,
			window: `0x${window.size.toString(16)}`,
		});
	}
	noteAllocation('vramWindowRegion');
	return new WindowRegion(window, offset, size);
}

class WindowRegion implements MemoryRegion {
	readonly size: number;
	readonly #window: VramWindow;
	readonly #base: bigint;
	readonly #scratch = new Uint8Array(4);
	readonly #view = new DataView(this.#scratch.buffer);

	constructor(window: VramWindow, base: bigint, size: number) {
		this.#window = window;
		this.#base = base;
		this.size = size;
	}

	#at(offset: number, bytes = 4): bigint {
		if ((offset & 3) !== 0 || offset < 0 || offset + bytes > this.size) {
			throw new ChannelArgumentError(`memory offset 0x${offset.toString(16)} out of range or unaligned`, {
				offset,
				size: this.size,
			});
		}
		return this.#base + BigInt(offset);
	}

	read32(offset: number): number {
		this.#window.read(this.#at(offset), this.#scratch);
		return this.#view.getUint32(0, true);
	}

	write32(offset: number, value: number): void {
		const at = this.#at(offset);
		this.#view.setUint32(0, value >>> 0, true);
		this.#window.write(at, this.#scratch);
	}

	store32(offset: number, value: number): void {
		this.write32(offset, value);
	}

	load32(offset: number): number {
		return this.read32(offset);
	}

	writeWords(offset: number, words: ArrayLike<number>): void {
		this.#at(offset, 4 * words.length);
		for (let k = 0; k < words.length; k++) this.write32(offset + 4 * k, words[k] as number);
	}

	subregion(offset: number, size: number): MemoryRegion {
		if ((offset & 3) !== 0 || (size & 3) !== 0 || offset < 0 || size < 0 || offset + size > this.size) {
			throw new ChannelArgumentError('subregion out of range or unaligned', { offset, size, of: this.size });
		}
		return new WindowRegion(this.#window, this.#base + BigInt(offset), size);
	}
}
