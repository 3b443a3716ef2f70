/**
 * The frontend's own fences: stubs, bind-job fences, merged fences and `dma_fence_chain` nodes.
 *
 * Device fences (from channels) and these fences meet in syncobjs and dependency lists through the
 * {@link DeviceFence} interface. A {@link FenceChain} node wraps one fence at one timeline point and links
 * to the previous node; it signals when its own fence and every earlier link have signalled. Walking a
 * chain prunes links whose fences have signalled, exactly as `dma_fence_chain_walk` does — QUERY depends
 * on that pruning to report the last signalled point.
 *
 * @module
 */

import type { DeviceFence } from './device-api.ts';
import { DrmFrontendError } from './errors.ts';

let nextContext = 1;

/** A new fence context id (`dma_fence_context_alloc(1)`). */
export function fenceContextAlloc(): number {
	return nextContext++;
}

/** A plain signal-once fence owned by the frontend. */
export class DrmFence implements DeviceFence {
	/** The fence's context (timeline) id. */
	readonly context: number;
	/** Sequence number within the context. */
	readonly seqno: bigint;
	#signalled = false;
	#error: Error | undefined;
	#callbacks: ((f: DeviceFence) => void)[] | null = null;

	/** A pending fence; `context` defaults to a fresh one. */
	constructor(context: number = fenceContextAlloc(), seqno = 0n) {
		this.context = context;
		this.seqno = seqno;
	}

	/** A new, already signalled fence in a private context (`dma_fence_allocate_private_stub`). */
	static signalled(): DrmFence {
		const f = new DrmFence();
		f.signal();
		return f;
	}

	get signalled(): boolean {
		return this.#signalled;
	}

	get error(): Error | undefined {
		return this.#error;
	}

	/** Signal (once), with an optional error; runs the callbacks in the order they were added. */
	signal(error?: Error): void {
		if (this.#signalled) {
			throw new DrmFrontendError('DRM_CONTRACT', 'frontend fence signalled twice', { context: this.context });
		}
		this.#error = error;
		this.#signalled = true;
		const cbs = this.#callbacks;
		this.#callbacks = null;
		if (cbs !== null) for (const cb of cbs) cb(this);
	}

	onSignal(fn: (fence: DeviceFence) => void): void {
		if (this.#signalled) {
			fn(this);
			return;
		}
		if (this.#callbacks === null) this.#callbacks = [];
		this.#callbacks.push(fn);
	}
}

/** `dma_fence_get_stub()`: one shared, always-signalled fence. */
export const STUB_FENCE: DeviceFence = DrmFence.signalled();

/**
 * A `dma_fence_chain` node: timeline point {@link FenceChain.seqno} of a syncobj, wrapping
 * {@link FenceChain.fence} and linking to the previous fence of the syncobj.
 */
export class FenceChain implements DeviceFence {
	/** The chain's context: shared by consecutive, increasing points of one timeline. */
	readonly context: number;
	/** The timeline point this node represents. */
	readonly seqno: bigint;
	/** The previous node's point when the context was reused, else 0. */
	readonly prevSeqno: bigint;
	/** The fence of this point. */
	readonly fence: DeviceFence;
	/** The previous fence of the syncobj (pruned as earlier links signal). */
	prev: DeviceFence | null;

	/**
	 * `dma_fence_chain_init(chain, prev, fence, seqno)`: reuse `prev`'s context when `prev` is a chain node
	 * and `seqno` is later than its point; otherwise start a new context (and never go below `prev`'s
	 * point).
	 */
	constructor(prev: DeviceFence | null, fence: DeviceFence, seqno: bigint) {
		this.prev = prev;
		this.fence = fence;
		if (prev instanceof FenceChain && seqno > prev.seqno) {
			this.context = prev.context;
			this.prevSeqno = prev.seqno;
			this.seqno = seqno;
		} else {
			this.context = fenceContextAlloc();
			this.prevSeqno = 0n;
			this.seqno = prev instanceof FenceChain && prev.seqno > seqno ? prev.seqno : seqno;
		}
	}

	/** Signalled when the wrapped fence and every earlier link are (walks and prunes the chain). */
	get signalled(): boolean {
		for (let it: DeviceFence | null = this; it !== null; it = chainWalk(it)) {
			if (!chainContained(it).signalled) return false;
		}
		return true;
	}

	/** The wrapped fence's error (the chain does not aggregate errors of earlier links). */
	get error(): Error | undefined {
		return this.fence.error;
	}

	onSignal(fn: (fence: DeviceFence) => void): void {
		const pending = firstPendingLink(this);
		if (pending === undefined) {
			fn(this);
			return;
		}
		pending.onSignal(() => this.onSignal(fn));
	}
}

/** `dma_fence_chain_contained`: the fence a chain node wraps, or the fence itself. */
export function chainContained(f: DeviceFence): DeviceFence {
	return f instanceof FenceChain ? f.fence : f;
}

/**
 * `dma_fence_chain_walk`: the next link to visit after `f` (pruning links whose fences signalled), or
 * `null` at the end. A non-chain fence has no successor.
 */
export function chainWalk(f: DeviceFence): DeviceFence | null {
	if (!(f instanceof FenceChain)) return null;
	for (;;) {
		const prev = f.prev;
		if (prev === null) return null;
		if (prev instanceof FenceChain) {
			if (!prev.fence.signalled) return prev;
			f.prev = prev.prev;
		} else {
			if (!prev.signalled) return prev;
			f.prev = null;
		}
	}
}

function firstPendingLink(head: FenceChain): DeviceFence | undefined {
	for (let it: DeviceFence | null = head; it !== null; it = chainWalk(it)) {
		const c = chainContained(it);
		if (!c.signalled) return c;
	}
	return undefined;
}

/**
 * `dma_fence_chain_find_seqno`: the fence to wait on for timeline point `seqno` of the syncobj whose
 * current fence is `head`. Returns `'unsubmitted'` when the point is not on the timeline yet, `null`
 * when the point is known to have signalled (callers substitute a stub), or the fence.
 */
export function chainFindSeqno(head: DeviceFence, seqno: bigint): DeviceFence | null | 'unsubmitted' {
	if (seqno === 0n) return head;
	if (!(head instanceof FenceChain) || head.seqno < seqno) return 'unsubmitted';
	let it: DeviceFence | null = head;
	for (; it !== null; it = chainWalk(it)) {
		if (!(it instanceof FenceChain) || it.context !== head.context || it.prevSeqno < seqno) break;
	}
	return it;
}

/**
 * `dma_fence_unwrap_merge` of a single fence: a plain (non-chain) fence that signals when `f` does, or
 * a signalled stub when `f` already has.
 */
export function mergeFence(f: DeviceFence): DeviceFence {
	if (f.signalled) return DrmFence.signalled();
	const merged = new DrmFence();
	f.onSignal(() => merged.signal(f.error));
	return merged;
}

/** Call `fn` once, when every fence in `fences` has signalled (immediately if they all have). */
export function whenAllSignalled(fences: readonly DeviceFence[], fn: () => void): void {
	let pending = 0;
	let armed = false;
	const done = (): void => {
		pending--;
		if (armed && pending === 0) fn();
	};
	for (const f of fences) {
		if (f.signalled) continue;
		pending++;
		f.onSignal(done);
	}
	armed = true;
	if (pending === 0) fn();
}
