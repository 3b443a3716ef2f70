/**
 * A simple VRAM allocator over the framebuffer regions GSP-RM leaves to the driver. GSP-RM reports the FB
 * carve-up in its static info (`fbRegionInfoParams`): regions with a non-zero `reserved` size belong to RM
 * (its client heap, its private page directories) and `protected` regions to the firmware (WPR2, the GSP heap,
 * FRTS). The driver may use the rest — on the simulated GPU the region from 0 to RM's heap. First fit with
 * coalescing, per-allocation labels and byte accounting; addresses are VRAM (FB) offsets.
 *
 * @module
 */

import { CoreError } from './errors.ts';

/** An FB region as static info reports it (inclusive `limit`). */
export interface FbRegionInfo {
	readonly base: bigint;
	readonly limit: bigint;
	readonly reserved: bigint;
	readonly protected: boolean;
}

/** One usable range `[start, end)`. */
export interface VramRange {
	readonly start: bigint;
	readonly end: bigint;
}

/** One live allocation. */
export interface VramAllocation {
	/** FB offset. */
	readonly offset: bigint;
	readonly size: bigint;
	readonly label: string;
}

/** Counters of a {@link VramAllocator}. */
export interface VramStats {
	/** Bytes the driver may allocate (sum of the usable ranges). */
	readonly total: bigint;
	/** Bytes allocated. */
	readonly used: bigint;
	/** `total - used`. */
	readonly free: bigint;
	/** Largest single allocation that would succeed (page-aligned). */
	readonly largestFree: bigint;
	readonly allocations: number;
}

const PAGE = 4096n;

/**
 * The ranges the driver may use: every region with nothing reserved and not protected, clipped to whole pages;
 * `reservedBottom` bytes at FB offset 0 are kept out (a guard page, or a VGA area the caller knows of).
 */
export function usableVramRanges(regions: readonly FbRegionInfo[], reservedBottom = 0n): VramRange[] {
	const out: VramRange[] = [];
	for (const r of regions) {
		if (r.reserved !== 0n || r.protected || r.limit < r.base) continue;
		let start = ((r.base + PAGE - 1n) / PAGE) * PAGE;
		if (start < reservedBottom) start = ((reservedBottom + PAGE - 1n) / PAGE) * PAGE;
		const end = ((r.limit + 1n) / PAGE) * PAGE;
		if (end > start) out.push({ start, end });
	}
	return out.sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** First-fit allocator over {@link VramRange}s. */
export class VramAllocator {
	readonly ranges: readonly VramRange[];
	/** Free holes, sorted by start, coalesced. */
	#free: { start: bigint; end: bigint }[];
	readonly #live = new Map<bigint, VramAllocation>();
	#used = 0n;
	readonly total: bigint;

	constructor(ranges: readonly VramRange[]) {
		this.ranges = Object.freeze(ranges.map((r) => Object.freeze({ ...r })));
		this.#free = ranges.map((r) => ({ ...r }));
		this.total = ranges.reduce((s, r) => s + (r.end - r.start), 0n);
	}

	/**
	 * Allocate `size` bytes (rounded up to 4 KiB) aligned to `align` (a power of two ≥ 4 KiB).
	 * @throws CoreError `CORE_VRAM_EXHAUSTED` (ENOSPC) when no hole fits; `CORE_BAD_ARGUMENT` for a bad size.
	 */
	alloc(size: bigint, align = 65536n, label = 'vram'): VramAllocation {
		if (size <= 0n) throw new CoreError('CORE_BAD_ARGUMENT', `VRAM allocation size ${size} must be positive`);
		if (align < PAGE || (align & (align - 1n)) !== 0n) {
			throw new CoreError('CORE_BAD_ARGUMENT', `VRAM alignment ${align} must be a power of two ≥ 4096`);
		}
		const bytes = ((size + PAGE - 1n) / PAGE) * PAGE;
		for (let i = 0; i < this.#free.length; i++) {
			const h = this.#free[i] as { start: bigint; end: bigint };
			const at = ((h.start + align - 1n) / align) * align;
			if (at + bytes > h.end) continue;
			const pieces: { start: bigint; end: bigint }[] = [];
			if (at > h.start) pieces.push({ start: h.start, end: at });
			if (at + bytes < h.end) pieces.push({ start: at + bytes, end: h.end });
			this.#free.splice(i, 1, ...pieces);
			const a: VramAllocation = Object.freeze({ offset: at, size: bytes, label });
			this.#live.set(at, a);
			this.#used += bytes;
			return a;
		}
		const s = this.stats;
		throw new CoreError(
			'CORE_VRAM_EXHAUSTED',
			`no ${bytes}-byte VRAM hole (${s.free} of ${s.total} bytes free, largest ${s.largestFree})`,
			{ details: { size: String(bytes), free: String(s.free), largestFree: String(s.largestFree) } },
		);
	}

	/** Give an allocation back. @throws CoreError `CORE_BAD_ARGUMENT` for one that is not live. */
	free(allocation: VramAllocation | bigint): void {
		const offset = typeof allocation === 'bigint' ? allocation : allocation.offset;
		const a = this.#live.get(offset);
		if (a === undefined) {
			throw new CoreError('CORE_BAD_ARGUMENT', `VRAM offset 0x${offset.toString(16)} is not allocated`);
		}
		this.#live.delete(offset);
		this.#used -= a.size;
		let start = a.offset;
		let end = a.offset + a.size;
		const holes = this.#free;
		let i = holes.findIndex((h) => h.start > start);
		if (i < 0) i = holes.length;
		const prev = holes[i - 1];
		// Merge only with neighbours in the same usable range (ranges are not contiguous with each other).
		const sameRange = (x: bigint, y: bigint) =>
			this.ranges.some((r) => x >= r.start && x <= r.end && y >= r.start && y <= r.end);
		if (prev !== undefined && prev.end === start && sameRange(prev.start, end)) {
			start = prev.start;
			holes.splice(--i, 1);
		}
		const nx = holes[i];
		if (nx !== undefined && nx.start === end && sameRange(start, nx.end)) {
			end = nx.end;
			holes.splice(i, 1);
		}
		holes.splice(i, 0, { start, end });
	}

	/** Live allocations in address order. */
	allocations(): VramAllocation[] {
		return [...this.#live.values()].sort((a, b) => (a.offset < b.offset ? -1 : 1));
	}

	/** Bytes allocated. */
	get used(): bigint {
		return this.#used;
	}

	/** Counters. */
	get stats(): VramStats {
		let largest = 0n;
		for (const h of this.#free) if (h.end - h.start > largest) largest = h.end - h.start;
		return {
			total: this.total,
			used: this.#used,
			free: this.total - this.#used,
			largestFree: largest,
			allocations: this.#live.size,
		};
	}
}
