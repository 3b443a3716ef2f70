/**
 * Per-file handle tables with the kernel's idr policy: handles are u32, start at 1 (0 is never valid) and
 * a new handle is always the lowest free one.
 *
 * @module
 */

/** The largest handle idr hands out (`INT_MAX`). */
export const MAX_HANDLE = 0x7fffffff;

/** A table of objects by handle; allocation returns the lowest free handle ≥ 1. */
export class HandleTable<T> {
	readonly #objects = new Map<number, T>();
	/** Freed handles below `#high`, as a binary min-heap. */
	readonly #free: number[] = [];
	/** Every handle in `[1, #high)` is in use or in `#free`. */
	#high = 1;

	/** Number of live handles. */
	get size(): number {
		return this.#objects.size;
	}

	/** The object behind `handle`, or `undefined` (0, unknown, or out of range). */
	get(handle: number): T | undefined {
		return this.#objects.get(handle);
	}

	/** Whether `handle` is live. */
	has(handle: number): boolean {
		return this.#objects.has(handle);
	}

	/** The lowest free handle (what {@link HandleTable.alloc} would return), or `undefined` if exhausted. */
	peek(): number | undefined {
		const h = this.#free.length > 0 ? (this.#free[0] as number) : this.#high;
		return h > MAX_HANDLE ? undefined : h;
	}

	/** Store `object` under the lowest free handle; `undefined` when all 2³¹−1 handles are taken. */
	alloc(object: T): number | undefined {
		let h: number;
		if (this.#free.length > 0) h = this.#pop();
		else {
			if (this.#high > MAX_HANDLE) return undefined;
			h = this.#high++;
		}
		this.#objects.set(h, object);
		return h;
	}

	/** Remove `handle`; returns the object it held, or `undefined` if it was not live. */
	remove(handle: number): T | undefined {
		const obj = this.#objects.get(handle);
		if (obj === undefined) return undefined;
		this.#objects.delete(handle);
		this.#push(handle);
		return obj;
	}

	/** Live `[handle, object]` pairs in ascending handle order. */
	entries(): [number, T][] {
		return [...this.#objects.entries()].sort((a, b) => a[0] - b[0]);
	}

	/** The first handle holding `object`, or `undefined`. */
	find(object: T): number | undefined {
		for (const [h, o] of this.#objects) if (o === object) return h;
		return undefined;
	}

	#push(h: number): void {
		const heap = this.#free;
		heap.push(h);
		let i = heap.length - 1;
		while (i > 0) {
			const p = (i - 1) >> 1;
			if ((heap[p] as number) <= h) break;
			heap[i] = heap[p] as number;
			i = p;
		}
		heap[i] = h;
	}

	#pop(): number {
		const heap = this.#free;
		const top = heap[0] as number;
		const last = heap.pop() as number;
		if (heap.length > 0) {
			let i = 0;
			for (;;) {
				const l = 2 * i + 1;
				if (l >= heap.length) break;
				const r = l + 1;
				const c = r < heap.length && (heap[r] as number) < (heap[l] as number) ? r : l;
				if ((heap[c] as number) >= last) break;
				heap[i] = heap[c] as number;
				i = c;
			}
			heap[i] = last;
		}
		return top;
	}
}
