/**
 * The split/merge planner of `drm_gpuvm` (`drivers/gpu/drm/drm_gpuvm.c`, DOC "Split and Merge"), as pure
 * functions over an interval map.
 *
 * A map request yields, in address order, any number of UNMAPs, at most two REMAPs (an existing mapping cut
 * at the start and/or end of the request, with its remainders `prev`/`next` and their adjusted backing offsets)
 * and finally exactly one MAP. `keep` says the old mapping is backed exactly as the request would back it
 * (same object, contiguous offset), so page-table entries could be reused. An unmap request yields UNMAPs and
 * REMAPs only, never with `keep`.
 *
 * Units are whatever the caller uses consistently (gspkit's VA space uses 4 KiB pages).
 *
 * @module
 */

/** An existing mapping as the planner sees it. `object === null` never merges (`keep` is false). */
export interface GpuvaLike {
	readonly start: number;
	readonly end: number;
	readonly object: object | null;
	readonly offset: number;
}

/** Read-only access to the current mappings. */
export interface GpuvaView<V extends GpuvaLike> {
	/** The mappings overlapping `[start, end)`, in address order. */
	overlapping(start: number, end: number): readonly V[];
}

/** A requested mapping. */
export interface MapRequest {
	readonly start: number;
	readonly end: number;
	readonly object: object | null;
	readonly offset: number;
}

/** A remainder of a split mapping: the same object at an adjusted offset. */
export interface SplitPiece<V extends GpuvaLike> {
	readonly start: number;
	readonly end: number;
	readonly object: V['object'];
	readonly offset: number;
}

/** One step of a plan (drm_gpuva_op). */
export type GpuvaOp<V extends GpuvaLike> =
	| { readonly kind: 'unmap'; readonly va: V; readonly keep: boolean }
	| {
			readonly kind: 'remap';
			readonly unmap: { readonly va: V; readonly keep: boolean };
			readonly prev: SplitPiece<V> | null;
			readonly next: SplitPiece<V> | null;
	  }
	| { readonly kind: 'map'; readonly request: MapRequest };

/**
 * Plan a map request (`drm_gpuvm_sm_map`). Pure: `view` is not modified.
 * @returns the operations, in the order drm_gpuvm emits them (the MAP last).
 */
export function planMap<V extends GpuvaLike>(view: GpuvaView<V>, req: MapRequest): GpuvaOp<V>[] {
	const ops: GpuvaOp<V>[] = [];
	const reqRange = req.end - req.start;
	for (const va of view.overlapping(req.start, req.end)) {
		const { start, end, object, offset } = va;
		const mergeable = object !== null && object === req.object;
		if (start === req.start) {
			const keep = mergeable && offset === req.offset;
			if (end <= req.end) {
				ops.push({ kind: 'unmap', va, keep });
				if (end === req.end) break;
				continue;
			}
			ops.push({
				kind: 'remap',
				unmap: { va, keep },
				prev: null,
				next: { start: req.end, end, object, offset: offset + reqRange },
			});
			break;
		}
		if (start < req.start) {
			const left = req.start - start;
			const keep = mergeable && offset + left === req.offset;
			const prev = { start, end: req.start, object, offset };
			if (end <= req.end) {
				ops.push({ kind: 'remap', unmap: { va, keep }, prev, next: null });
				if (end === req.end) break;
				continue;
			}
			ops.push({
				kind: 'remap',
				unmap: { va, keep },
				prev,
				next: { start: req.end, end, object, offset: offset + left + reqRange },
			});
			break;
		}
		// start > req.start
		const keep = mergeable && offset === req.offset + (start - req.start);
		if (end <= req.end) {
			ops.push({ kind: 'unmap', va, keep });
			if (end === req.end) break;
			continue;
		}
		ops.push({
			kind: 'remap',
			unmap: { va, keep },
			prev: null,
			next: { start: req.end, end, object, offset: offset + (req.end - start) },
		});
		break;
	}
	ops.push({ kind: 'map', request: req });
	return ops;
}

/**
 * Plan an unmap request (`drm_gpuvm_sm_unmap`): mappings inside the range are unmapped, mappings that stick
 * out are remapped with their remainders. Pure.
 */
export function planUnmap<V extends GpuvaLike>(view: GpuvaView<V>, start: number, end: number): GpuvaOp<V>[] {
	const ops: GpuvaOp<V>[] = [];
	for (const va of view.overlapping(start, end)) {
		const prev =
			va.start < start ? { start: va.start, end: start, object: va.object, offset: va.offset } : null;
		const next =
			va.end > end
				? { start: end, end: va.end, object: va.object, offset: va.offset + (end - va.start) }
				: null;
		if (prev !== null || next !== null) ops.push({ kind: 'remap', unmap: { va, keep: false }, prev, next });
		else ops.push({ kind: 'unmap', va, keep: false });
	}
	return ops;
}

/**
 * Apply a plan to a plain array of mappings (for oracles and tests): returns the new, sorted list.
 * `make` builds the mapping record for a MAP request or a split remainder.
 */
export function applyPlan<V extends GpuvaLike>(
	current: readonly V[],
	ops: readonly GpuvaOp<V>[],
	make: (piece: SplitPiece<V> | MapRequest, from: V | null) => V,
): V[] {
	const removed = new Set<V>();
	const added: V[] = [];
	for (const op of ops) {
		if (op.kind === 'unmap') removed.add(op.va);
		else if (op.kind === 'remap') {
			removed.add(op.unmap.va);
			if (op.prev !== null) added.push(make(op.prev, op.unmap.va));
			if (op.next !== null) added.push(make(op.next, op.unmap.va));
		} else added.push(make(op.request, null));
	}
	return current
		.filter((v) => !removed.has(v))
		.concat(added)
		.sort((a, b) => a.start - b.start);
}
