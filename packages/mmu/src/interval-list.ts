/**
 * An ordered set of non-overlapping half-open intervals `[start, end)` over integers (page numbers),
 * stored as a list of sorted chunks so that insertion and removal stay cheap with a million entries.
 *
 * @module
 */

/** Anything with a half-open range `[start, end)`. */
export interface Interval {
	readonly start: number;
	readonly end: number;
}

const CHUNK = 256;

/** Sorted, non-overlapping intervals. The caller guarantees that inserted items do not overlap. */
export class IntervalList<T extends Interval> {
	#chunks: T[][] = [];
	#size = 0;

	/** Number of intervals. */
	get size(): number {
		return this.#size;
	}

	/** Index of the first chunk whose last interval ends after `pos`, or `chunks.length`. */
	#chunkAfter(pos: number): number {
		const c = this.#chunks;
		let lo = 0;
		let hi = c.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			const chunk = c[mid] as T[];
			if ((chunk[chunk.length - 1] as T).end > pos) hi = mid;
			else lo = mid + 1;
		}
		return lo;
	}

	/** Index within `chunk` of the first interval that ends after `pos`. */
	static #indexAfter<T extends Interval>(chunk: readonly T[], pos: number): number {
		let lo = 0;
		let hi = chunk.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if ((chunk[mid] as T).end > pos) hi = mid;
			else lo = mid + 1;
		}
		return lo;
	}

	/** The first interval that ends after `pos` (it contains `pos` or lies after it), if any. */
	firstAfter(pos: number): T | undefined {
		const ci = this.#chunkAfter(pos);
		const chunk = this.#chunks[ci];
		if (chunk === undefined) return undefined;
		return chunk[IntervalList.#indexAfter(chunk, pos)];
	}

	/** The interval containing `pos`, if any. */
	at(pos: number): T | undefined {
		const t = this.firstAfter(pos);
		return t !== undefined && t.start <= pos ? t : undefined;
	}

	/**
	 * Call `fn` for each interval overlapping `[a, b)`, in order. `fn` may return `false` to stop early.
	 * The list must not be modified during the walk.
	 */
	forEachOverlapping(a: number, b: number, fn: (t: T) => unknown): void {
		const chunks = this.#chunks;
		let ci = this.#chunkAfter(a);
		let chunk = chunks[ci];
		if (chunk === undefined) return;
		let i = IntervalList.#indexAfter(chunk, a);
		for (;;) {
			if (i >= chunk.length) {
				ci++;
				chunk = chunks[ci];
				if (chunk === undefined) return;
				i = 0;
			}
			const t = chunk[i] as T;
			if (t.start >= b) return;
			if (fn(t) === false) return;
			i++;
		}
	}

	/** The intervals overlapping `[a, b)`, in order. */
	overlapping(a: number, b: number): T[] {
		const out: T[] = [];
		this.forEachOverlapping(a, b, (t) => {
			out.push(t);
		});
		return out;
	}

	/** Whether any interval overlaps `[a, b)`. */
	overlaps(a: number, b: number): boolean {
		const t = this.firstAfter(a);
		return t !== undefined && t.start < b;
	}

	/** Insert `t`; it must not overlap an interval already present. */
	insert(t: T): void {
		const chunks = this.#chunks;
		this.#size++;
		if (chunks.length === 0) {
			chunks.push([t]);
			return;
		}
		let ci = this.#chunkAfter(t.start);
		if (ci === chunks.length) ci--;
		const chunk = chunks[ci] as T[];
		chunk.splice(IntervalList.#indexAfter(chunk, t.start), 0, t);
		if (chunk.length > CHUNK * 2) chunks.splice(ci + 1, 0, chunk.splice(CHUNK));
	}

	/** Remove `t` (by identity). Returns whether it was present. */
	remove(t: T): boolean {
		const chunks = this.#chunks;
		const ci = this.#chunkAfter(t.start);
		const chunk = chunks[ci];
		if (chunk === undefined) return false;
		const i = IntervalList.#indexAfter(chunk, t.start);
		if (chunk[i] !== t) return false;
		chunk.splice(i, 1);
		this.#size--;
		if (chunk.length === 0) chunks.splice(ci, 1);
		else if (chunk.length < CHUNK / 4 && ci + 1 < chunks.length) {
			const next = chunks[ci + 1] as T[];
			if (chunk.length + next.length <= CHUNK * 2) {
				chunk.push(...next);
				chunks.splice(ci + 1, 1);
			}
		}
		return true;
	}

	/** All intervals in order (a copy). */
	values(): T[] {
		return this.#chunks.flat();
	}
}
