/**
 * GEM objects, their reservation objects and dma-bufs.
 *
 * A {@link GemObject} is reference-counted the way DRM counts `drm_gem_object` references: every handle in
 * every file, every dma-buf, every mmap, every GPU VA mapping and every in-flight job holds one. The
 * object's memory is freed exactly once, when the last reference goes — so a GEM_CLOSE while the GPU
 * still uses the buffer is harmless. Separately, {@link GemObject.handleCount} counts handles across all
 * files; while it is non-zero an exported dma-buf stays cached on the object (`obj->dma_buf`), which is
 * what makes re-export return the same dma-buf and self-import return the same object.
 *
 * @module
 */

import type { DeviceBuffer, DeviceFence } from './device-api.ts';
import { DrmFrontendError } from './errors.ts';
import { KernelFile } from './fd.ts';

/** `enum dma_resv_usage`: how a fence in a reservation object uses the buffer. */
export type ResvUsage = 'kernel' | 'write' | 'read' | 'bookkeep';

const USAGE_RANK: Readonly<Record<ResvUsage, number>> = { kernel: 0, write: 1, read: 2, bookkeep: 3 };

/** A `dma_resv`: the fences of work using a buffer (shared by every NO_SHARE object of one VM). */
export class Resv {
	#entries: { fence: DeviceFence; usage: ResvUsage }[] = [];

	/** Add a fence with its usage; signalled fences are dropped on the way. */
	add(fence: DeviceFence, usage: ResvUsage): void {
		this.#prune();
		this.#entries.push({ fence, usage });
	}

	/**
	 * Unsignalled fences a waiter with `usage` must wait for: every fence whose usage is `usage` or more
	 * important (`dma_resv_iter` semantics: READ includes WRITE and KERNEL).
	 */
	pending(usage: ResvUsage): DeviceFence[] {
		this.#prune();
		const rank = USAGE_RANK[usage];
		return this.#entries.filter((e) => USAGE_RANK[e.usage] <= rank).map((e) => e.fence);
	}

	/** Whether any fence relevant to `usage` is still pending. */
	busy(usage: ResvUsage): boolean {
		return this.pending(usage).length > 0;
	}

	#prune(): void {
		if (this.#entries.some((e) => e.fence.signalled))
			this.#entries = this.#entries.filter((e) => !e.fence.signalled);
	}
}

/** What a {@link GemObject} tells its owner when its last reference is dropped. */
export interface GemOwner {
	/** Free the object's resources (backing memory, fake offset). Called exactly once. */
	gemFree(obj: GemObject): void;
}

/** A VM keeping track of its NO_SHARE objects (they share its reservation object). */
export interface PrivateObjectOwner {
	/** The live NO_SHARE objects of the VM. */
	readonly privateObjects: Set<GemObject>;
}

/** How a {@link GemObject} is created. */
export interface GemObjectInit {
	/** The device memory backing the object. */
	readonly buffer: DeviceBuffer;
	/** Object size in bytes (page multiple). */
	readonly size: bigint;
	/** The `NOUVEAU_GEM_DOMAIN_*` bits the object may live in (VRAM/GART subset asked for). */
	readonly validDomains: number;
	/** `NOUVEAU_GEM_DOMAIN_NO_SHARE`: never exported or imported. */
	readonly noShare: boolean;
	/** The reservation object (its own, or the VM's for NO_SHARE objects). */
	readonly resv: Resv;
	/** The fake mmap offset (`map_handle`). */
	readonly mapOffset: bigint;
	/** A device-wide id, for diagnostics and tests. */
	readonly id: number;
	/** Who frees it. */
	readonly owner: GemOwner;
	/** For NO_SHARE objects: the VM whose reservation object it shares (the object is in its set while alive). */
	readonly vmPrivateOf?: PrivateObjectOwner;
}

/** A GEM buffer object. */
export class GemObject {
	/** Device-wide id (diagnostics). */
	readonly id: number;
	/** Backing memory. */
	readonly buffer: DeviceBuffer;
	/** Size in bytes. */
	readonly size: bigint;
	/** Allowed placement domains (`NOUVEAU_GEM_DOMAIN_VRAM`/`GART` subset). */
	readonly validDomains: number;
	/** Never shared via PRIME. */
	readonly noShare: boolean;
	/** The reservation object. */
	readonly resv: Resv;
	/** Fake mmap offset. */
	readonly mapOffset: bigint;
	/** The VM a NO_SHARE object belongs to. */
	readonly vmPrivateOf: PrivateObjectOwner | undefined;
	/** Handles to this object, over all files (`obj->handle_count`). */
	handleCount = 0;
	/** The dma-buf this object is exported as (`obj->dma_buf`), cached while it has handles. */
	dmaBuf: DmaBuf | null = null;
	readonly #owner: GemOwner;
	#refs = 1;
	#freed = false;

	/** A new object holding one reference (the creator's). */
	constructor(init: GemObjectInit) {
		this.id = init.id;
		this.buffer = init.buffer;
		this.size = init.size;
		this.validDomains = init.validDomains;
		this.noShare = init.noShare;
		this.resv = init.resv;
		this.mapOffset = init.mapOffset;
		this.vmPrivateOf = init.vmPrivateOf;
		this.#owner = init.owner;
		this.vmPrivateOf?.privateObjects.add(this);
	}

	/** Current reference count. */
	get refCount(): number {
		return this.#refs;
	}

	/** Whether the memory was freed. */
	get freed(): boolean {
		return this.#freed;
	}

	/** Take a reference. */
	get(): this {
		if (this.#freed) throw new DrmFrontendError('DRM_CONTRACT', `get() on freed GEM object ${this.id}`);
		this.#refs++;
		return this;
	}

	/** Drop a reference; the last one frees the memory (exactly once). */
	put(): void {
		if (this.#freed || this.#refs <= 0) {
			throw new DrmFrontendError('DRM_CONTRACT', `put() on freed GEM object ${this.id}`);
		}
		if (--this.#refs === 0) {
			this.#freed = true;
			this.vmPrivateOf?.privateObjects.delete(this);
			this.#owner.gemFree(this);
		}
	}
}

/** A dma-buf exporting a {@link GemObject}: holds one object reference for as long as it lives. */
export class DmaBuf extends KernelFile {
	readonly kind = 'dmabuf' as const;
	/** The exported object. */
	readonly gem: GemObject;
	/** The frontend (DRM device) that exported it: only it can import the object back as itself. */
	readonly exporter: object;

	/** Export `gem` (takes a new object reference). The dma-buf starts with one reference (the caller's). */
	constructor(gem: GemObject, exporter: object) {
		super();
		this.gem = gem.get();
		this.exporter = exporter;
	}

	protected release(): void {
		if (this.gem.dmaBuf === this) this.gem.dmaBuf = null;
		this.gem.put();
	}
}
