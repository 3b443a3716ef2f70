/**
 * Backing objects (GEM-like: a handle plus physical pages in one aperture) and their resolution into
 * page-frame numbers for the PTE writer.
 *
 * @module
 */

import { MmuError } from './errors.ts';
import type { PteAperture } from './formats.ts';

/** A physically contiguous piece of a backing object. */
export interface PhysExtent {
	/** Physical (bus or VRAM) address, 4 KiB aligned. */
	readonly address: bigint;
	/** Size in bytes, a multiple of 4 KiB. */
	readonly size: bigint;
}

/**
 * What a mapping points at: a buffer object's physical pages. The object's identity (the JS object) decides
 * drm_gpuvm's `keep` (same object, contiguous offset); `handle` is for diagnostics and uAPI bookkeeping.
 */
export interface BackingObject {
	readonly handle: number | string;
	readonly aperture: PteAperture;
	/** Peer index for `aperture: 'peer'`. */
	readonly peerId?: number;
	/** The object's pages in order; their sizes add up to the object size. */
	readonly extents: readonly PhysExtent[];
	/** Default memory kind of mappings of this object. */
	readonly kind?: number;
}

/** A backing object resolved to page units (cached per object). */
export interface Backing {
	readonly object: BackingObject;
	/** Object size in 4 KiB pages. */
	readonly pages: number;
	/** Object page at which extent `i` starts; `starts[count] === pages`. */
	readonly starts: Float64Array;
	/** Page frame number of the first page of extent `i`. */
	readonly ppns: Float64Array;
	readonly count: number;
	/** Highest physical address + 1 of any extent. */
	readonly physEnd: bigint;
}

const cache = new WeakMap<BackingObject, Backing>();

/** Resolve (and validate) a backing object. Throws `MMU_INVALID_ARGUMENT` for unaligned or empty extents. */
export function resolveBacking(object: BackingObject): Backing {
	const hit = cache.get(object);
	if (hit !== undefined) return hit;
	const n = object.extents.length;
	const starts = new Float64Array(n + 1);
	const ppns = new Float64Array(n);
	let pages = 0;
	let physEnd = 0n;
	for (let i = 0; i < n; i++) {
		const e = object.extents[i] as PhysExtent;
		if (e.size <= 0n || e.size % 4096n !== 0n || e.address < 0n || e.address % 4096n !== 0n) {
			throw new MmuError(
				'MMU_INVALID_ARGUMENT',
				`extent ${i} of object ${String(object.handle)} is not 4 KiB aligned`,
				{
					handle: object.handle,
					extent: i,
				},
			);
		}
		starts[i] = pages;
		ppns[i] = Number(e.address >> 12n);
		pages += Number(e.size >> 12n);
		if (e.address + e.size > physEnd) physEnd = e.address + e.size;
	}
	starts[n] = pages;
	if (pages === 0) {
		throw new MmuError('MMU_INVALID_ARGUMENT', `object ${String(object.handle)} has no pages`, {
			handle: object.handle,
		});
	}
	const b: Backing = { object, pages, starts, ppns, count: n, physEnd };
	cache.set(object, b);
	return b;
}

/** Index of the extent that holds object page `page` (binary search). */
export function extentIndex(b: Backing, page: number): number {
	let lo = 0;
	let hi = b.count - 1;
	while (lo < hi) {
		const mid = (lo + hi + 1) >>> 1;
		if ((b.starts[mid] as number) <= page) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

/** Largest power of two (in pages, capped at `cap`) that divides `x` (x = 0 counts as fully aligned). */
export function alignOf(x: number, cap: number): number {
	let a = 1;
	while (a < cap && x % (a * 2) === 0) a *= 2;
	return a;
}

/**
 * The largest alignment (in pages, ≤ `cap`) shared by the VA, the physical pages and the piece lengths of
 * the window `[offset, offset + pages)` of `b` mapped at virtual page `vpn`.
 */
export function windowAlignment(b: Backing, offset: number, pages: number, vpn: number, cap: number): number {
	let a = Math.min(alignOf(vpn, cap), alignOf(pages, cap));
	let i = extentIndex(b, offset);
	let o = offset;
	const end = offset + pages;
	while (o < end && a > 1) {
		const s = b.starts[i] as number;
		const e = Math.min(b.starts[i + 1] as number, end);
		const ppn = (b.ppns[i] as number) + (o - s);
		a = Math.min(a, alignOf(ppn, cap), alignOf(vpn + (o - offset), cap), alignOf(e - o, cap));
		o = e;
		i++;
	}
	return a;
}
