/**
 * Device memory objects: system memory (coherent DMA memory of the platform) or VRAM (from core's
 * {@link VramAllocator}), with CPU access and the `@gspkit/mmu` backing object that maps them.
 *
 * CPU access to VRAM goes through the platform's BAR1 window at the allocation's FB offset. That is right on
 * `gpu-sim`, whose BAR1 maps VRAM one to one; on hardware BAR1 is translated by RM's BAR1 VA space, which core
 * does not program yet, so VRAM allocations beyond the window raise `CORE_NO_CPU_ACCESS`.
 *
 * @module
 */

import type { DmaBuffer, Platform } from '@gspkit/hal';
import type { BackingObject } from '@gspkit/mmu';
import { CoreError } from './errors.ts';
import type { VramAllocation, VramAllocator } from './vram.ts';

/** Where memory lives. */
export type MemoryPlacement = 'vram' | 'sysmem';

/** What {@link Device.allocMemory} is asked for. */
export interface MemoryRequest {
	/** Bytes (rounded up to 4 KiB). */
	readonly size: bigint | number;
	readonly placement: MemoryPlacement;
	/** Alignment in bytes (power of two; default 64 KiB for VRAM, 4 KiB for system memory). */
	readonly align?: bigint | number;
	/** Label for diagnostics and accounting. */
	readonly label?: string;
	/** Default PTE kind of mappings (default 0, pitch). */
	readonly kind?: number;
}

let nextHandle = 1;

/** A memory object. */
export class DeviceMemory {
	/** Size in bytes (a whole number of 4 KiB pages). */
	readonly size: bigint;
	readonly placement: MemoryPlacement;
	readonly label: string;
	/** Bus address (system memory) or FB offset (VRAM). */
	readonly address: bigint;
	/** What `@gspkit/mmu` maps: the object's physical pages and aperture. */
	readonly backing: BackingObject;
	readonly #platform: Platform;
	readonly #dma: DmaBuffer | undefined;
	readonly #vram: { allocator: VramAllocator; allocation: VramAllocation } | undefined;
	readonly #onFree: (m: DeviceMemory) => void;
	#freed = false;

	/** @internal use {@link Device.allocMemory}. */
	constructor(
		platform: Platform,
		source:
			| { readonly dma: DmaBuffer }
			| { readonly vram: { allocator: VramAllocator; allocation: VramAllocation } },
		label: string,
		kind: number,
		onFree: (m: DeviceMemory) => void,
	) {
		this.#platform = platform;
		this.label = label;
		this.#onFree = onFree;
		if ('dma' in source) {
			this.#dma = source.dma;
			this.placement = 'sysmem';
			this.size = BigInt(source.dma.size);
			this.address = source.dma.busAddress;
		} else {
			this.#vram = source.vram;
			this.placement = 'vram';
			this.size = source.vram.allocation.size;
			this.address = source.vram.allocation.offset;
		}
		this.backing = Object.freeze({
			handle: `${label}#${nextHandle++}`,
			aperture: this.placement === 'vram' ? 'video' : 'sysCoherent',
			extents: Object.freeze([Object.freeze({ address: this.address, size: this.size })]),
			kind,
		});
	}

	/** Whether {@link DeviceMemory.free} ran. */
	get freed(): boolean {
		return this.#freed;
	}

	/** The DMA buffer behind system memory (`undefined` for VRAM). */
	get dmaBuffer(): DmaBuffer | undefined {
		return this.#dma;
	}

	#check(offset: bigint | number, length: number, what: string): bigint {
		if (this.#freed) throw new CoreError('CORE_BAD_ARGUMENT', `${what} on freed memory ${this.label}`);
		const off = BigInt(offset);
		if (off < 0n || length < 0 || off + BigInt(length) > this.size) {
			throw new CoreError(
				'CORE_BAD_ARGUMENT',
				`${what} of ${length} bytes at ${off} is outside ${this.label}`,
				{
					details: { offset: String(off), length, size: String(this.size) },
				},
			);
		}
		return off;
	}

	#bar1(off: bigint, length: number): bigint {
		const at = this.address + off;
		if (at + BigInt(length) > this.#platform.vram.bar1.size) {
			throw new CoreError(
				'CORE_NO_CPU_ACCESS',
				`VRAM at 0x${at.toString(16)} is beyond the ${this.#platform.vram.bar1.size >> 20n} MiB BAR1 window`,
				{ details: { offset: String(at), length } },
			);
		}
		return at;
	}

	/** Copy `length` bytes at `offset` out of the memory (CPU read). */
	read(offset: bigint | number, length: number): Uint8Array {
		const off = this.#check(offset, length, 'read');
		if (this.#dma !== undefined) return this.#dma.bytes.slice(Number(off), Number(off) + length);
		const out = new Uint8Array(length);
		this.#platform.vram.bar1.read(this.#bar1(off, length), out);
		return out;
	}

	/** Copy `data` into the memory at `offset` (CPU write). */
	write(offset: bigint | number, data: Uint8Array): void {
		const off = this.#check(offset, data.length, 'write');
		if (this.#dma !== undefined) {
			this.#dma.bytes.set(data, Number(off));
			return;
		}
		this.#platform.vram.bar1.write(this.#bar1(off, data.length), data);
	}

	/** Give the memory back (unmap it first). Idempotent. */
	free(): void {
		if (this.#freed) return;
		this.#freed = true;
		if (this.#dma !== undefined) this.#platform.dma.free(this.#dma);
		else if (this.#vram !== undefined) this.#vram.allocator.free(this.#vram.allocation);
		this.#onFree(this);
	}
}
