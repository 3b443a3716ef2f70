/**
 * Video memory: sparse 64 KiB pages, so a 24 GiB (or 80 GiB) board costs nothing until written, and the
 * BAR windows through which the host reaches it.
 *
 * @module
 */

import { InvalidArgumentError, type VramWindow } from '@gspkit/hal';
import { SimulatorClosedError, VramFaultError } from './errors.ts';

/** Granule of the sparse backing store. */
export const VRAM_PAGE_SIZE = 64 * 1024;
const PAGE_SHIFT = 16n;
const PAGE_MASK = BigInt(VRAM_PAGE_SIZE - 1);

/**
 * Sparse VRAM. Pages never written read as zero and take no memory; the first write to a page allocates
 * it. Offsets are `bigint` because boards have more than 2^32 bytes.
 */
export class SparseVram {
	/** Size of the memory in bytes. */
	readonly size: bigint;
	#pages = new Map<number, Uint8Array>();
	#closed = false;

	constructor(size: bigint) {
		if (size <= 0n || size % BigInt(VRAM_PAGE_SIZE) !== 0n) {
			throw new InvalidArgumentError(`VRAM size ${size} must be a positive multiple of 64 KiB`, {
				size: size.toString(),
			});
		}
		this.size = size;
	}

	/** Pages currently backed by memory. */
	get residentPages(): number {
		return this.#pages.size;
	}

	/** Bytes of host memory the backing store uses. */
	get residentBytes(): number {
		return this.#pages.size * VRAM_PAGE_SIZE;
	}

	/** Copy `dst.length` bytes at `offset` into `dst`. @throws VramFaultError past the end of VRAM. */
	read(offset: bigint, dst: Uint8Array): void {
		this.#check('VRAM read', offset, dst.length);
		this.#forEachPage(offset, dst.length, (page, pageOffset, pos, len) => {
			const backing = this.#pages.get(page);
			if (backing === undefined) dst.fill(0, pos, pos + len);
			else dst.set(backing.subarray(pageOffset, pageOffset + len), pos);
		});
	}

	/** Copy `src` to `offset`. @throws VramFaultError past the end of VRAM. */
	write(offset: bigint, src: Uint8Array): void {
		this.#check('VRAM write', offset, src.length);
		this.#forEachPage(offset, src.length, (page, pageOffset, pos, len) => {
			let backing = this.#pages.get(page);
			if (backing === undefined) {
				backing = new Uint8Array(VRAM_PAGE_SIZE);
				this.#pages.set(page, backing);
			}
			backing.set(src.subarray(pos, pos + len), pageOffset);
		});
	}

	/** Release every page; later accesses throw {@link SimulatorClosedError}. */
	close(): void {
		this.#closed = true;
		this.#pages.clear();
	}

	#check(what: string, offset: bigint, length: number): void {
		if (this.#closed) throw new SimulatorClosedError(what);
		if (offset < 0n || offset + BigInt(length) > this.size)
			throw new VramFaultError(what, offset, length, this.size);
	}

	#forEachPage(
		offset: bigint,
		length: number,
		fn: (page: number, pageOffset: number, pos: number, len: number) => void,
	): void {
		let pos = 0;
		let at = offset;
		while (pos < length) {
			const page = Number(at >> PAGE_SHIFT);
			const pageOffset = Number(at & PAGE_MASK);
			const len = Math.min(length - pos, VRAM_PAGE_SIZE - pageOffset);
			fn(page, pageOffset, pos, len);
			pos += len;
			at += BigInt(len);
		}
	}
}

/** Maps a window offset to a VRAM offset; the BAR1/BAR2 page-table walk will replace the identity map. */
export type WindowTranslation = (windowOffset: bigint) => bigint;

/** Options for {@link SimVramWindow}. */
export interface SimVramWindowOptions {
	/** Diagnostic name, e.g. `"BAR1"`. */
	readonly name: string;
	/** Window size in bytes (the BAR size). */
	readonly size: bigint;
	/** Window-to-VRAM translation; default identity. */
	readonly translate?: WindowTranslation;
	/** Whether the BAR currently decodes (PCI COMMAND.MEMORY); when it does not, reads return 0xff. */
	readonly decoding?: () => boolean;
}

/**
 * A BAR window onto VRAM. Accesses must lie inside the window and, after translation, inside VRAM; reads
 * while memory decoding is off return all-ones like a master abort, and writes are dropped.
 */
export class SimVramWindow implements VramWindow {
	readonly name: string;
	readonly size: bigint;
	#vram: SparseVram;
	#translate: WindowTranslation;
	#decoding: () => boolean;

	constructor(vram: SparseVram, options: SimVramWindowOptions) {
		this.#vram = vram;
		this.name = options.name;
		this.size = options.size;
		this.#translate = options.translate ?? ((o) => o);
		this.#decoding = options.decoding ?? (() => true);
	}

	/** Replace the window's translation (used when the BAR's page tables become active). */
	setTranslation(translate: WindowTranslation): void {
		this.#translate = translate;
	}

	/** Copy `dst.length` bytes at window offset `offset` into `dst`. */
	read(offset: bigint, dst: Uint8Array): void {
		this.#check(`${this.name} read`, offset, dst.length);
		if (!this.#decoding()) {
			dst.fill(0xff);
			return;
		}
		this.#vram.read(this.#translate(offset), dst);
	}

	/** Copy `src` into the window at `offset`. */
	write(offset: bigint, src: Uint8Array): void {
		this.#check(`${this.name} write`, offset, src.length);
		if (!this.#decoding()) return;
		this.#vram.write(this.#translate(offset), src);
	}

	#check(what: string, offset: bigint, length: number): void {
		if (typeof offset !== 'bigint' || offset < 0n || offset + BigInt(length) > this.size) {
			throw new VramFaultError(what, typeof offset === 'bigint' ? offset : -1n, length, this.size);
		}
	}
}
