/**
 * How the emulated GSP-RM carves the simulated VRAM, reported to the driver as FB regions in the static
 * info: the driver's region from 0, RM's client heap (where `NV01_MEMORY_LOCAL_USER` allocations come from),
 * RM's private pages (its BAR1/BAR2 page directories), and the firmware-reserved top (WPR2, GSP heap, FRTS,
 * VGA workspace) from `GspFwWprMeta.gspFwRsvdStart` when the booter supplied it.
 *
 * @module
 */

const MiB = 1n << 20n;

/** The VRAM carve-up, in physical VRAM byte offsets. */
export interface FbLayout {
	readonly vramSize: bigint;
	/** End of the region the driver may use ([0, driverEnd)). */
	readonly driverEnd: bigint;
	/** RM's client heap [heapStart, heapEnd) for `NV01_MEMORY_LOCAL_USER`. */
	readonly heapStart: bigint;
	readonly heapEnd: bigint;
	/** RM's private pages [heapEnd, rsvdStart): its BAR page directories. */
	readonly bar2PdeBase: bigint;
	readonly bar1PdeBase: bigint;
	/** Start of the firmware-reserved top of VRAM. */
	readonly rsvdStart: bigint;
}

/**
 * Compute the layout for `vramSize` bytes. `rsvdStart` is where the firmware-reserved area begins (the
 * booter's `GspFwWprMeta.gspFwRsvdStart`); without it the top 256 MiB (1/8 of smaller boards) are taken as
 * reserved. The RM heap is 1/16 of VRAM, at most 256 MiB, 2 MiB aligned; RM's private pages are 2 MiB.
 */
export function fbLayout(vramSize: bigint, rsvdStart?: bigint): FbLayout {
	const align = (v: bigint, a: bigint) => (v / a) * a;
	const top =
		rsvdStart !== undefined && rsvdStart > 64n * MiB && rsvdStart <= vramSize
			? align(rsvdStart, 2n * MiB)
			: align(vramSize - (vramSize >= 2048n * MiB ? 256n * MiB : vramSize / 8n), 2n * MiB);
	const privStart = top - 2n * MiB;
	let heap = align(vramSize / 16n, 2n * MiB);
	if (heap > 256n * MiB) heap = 256n * MiB;
	if (heap < 2n * MiB) heap = 2n * MiB;
	const heapStart = privStart - heap;
	return Object.freeze({
		vramSize,
		driverEnd: heapStart,
		heapStart,
		heapEnd: privStart,
		bar2PdeBase: privStart,
		bar1PdeBase: privStart + MiB,
		rsvdStart: top,
	});
}

/** First-fit allocator over a range (RM's heap for `NV01_MEMORY_LOCAL_USER`). */
export class RangeAllocator {
	readonly #start: bigint;
	readonly #end: bigint;
	#used: { start: bigint; end: bigint }[] = [];

	constructor(start: bigint, end: bigint) {
		this.#start = start;
		this.#end = end;
	}

	/** Allocate `size` bytes aligned to `align` (a power of two); `undefined` when it does not fit. */
	alloc(size: bigint, align: bigint): bigint | undefined {
		let cursor = this.#start;
		for (const u of [...this.#used, { start: this.#end, end: this.#end }]) {
			const at = ((cursor + align - 1n) / align) * align;
			if (at + size <= u.start) {
				this.#used.push({ start: at, end: at + size });
				this.#used.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
				return at;
			}
			if (u.end > cursor) cursor = u.end;
		}
		return undefined;
	}

	/** Release the allocation starting at `start`. */
	free(start: bigint): void {
		this.#used = this.#used.filter((u) => u.start !== start);
	}

	/** Bytes in use. */
	get used(): bigint {
		return this.#used.reduce((s, u) => s + (u.end - u.start), 0n);
	}
}
