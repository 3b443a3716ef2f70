/**
 * `DrmFile`: one open of the DRM device (`struct drm_file`).
 *
 * Everything a client names is per file: GEM handles, syncobj handles, channel ids it allocated, its VM.
 * Handles are u32, allocated lowest-free from 1 (0 is never valid); another file's handle numbers mean
 * nothing here. The file is itself a {@link KernelFile} installed in its process's descriptor table;
 * when the last descriptor closes, {@link DrmFile} releases everything it holds — handles, syncobjs,
 * channels (in-flight work finishes or is cancelled by the device) and finally its VM.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import type { DeviceChannel, DeviceVaSpace } from './device-api.ts';
import { DrmFrontendError, fail, type IoctlResult, succeed } from './errors.ts';
import { type FdTable, KernelFile } from './fd.ts';
import type { DmaBuf, GemObject } from './gem.ts';
import { HandleTable } from './handles.ts';
import { NO_USER_MEMORY, type UserMemory } from './memory.ts';
import type { Syncobj, SyncobjContext } from './syncobj.ts';
import type { FrontendContext, NodeKind } from './types.ts';
import type { Vm } from './vm.ts';

/** Routes an ioctl of `file` to its handler (installed by the frontend). */
export type IoctlDispatcher = (
	file: DrmFile,
	request: number,
	arg: Uint8Array,
	mem: UserMemory,
) => Promise<IoctlResult>;

/** A channel allocated by a file. */
export interface FileChannel {
	/** The device channel. */
	readonly channel: DeviceChannel;
	/** The notifier buffer (the channel holds a reference; the file got a handle too). */
	readonly notifier: GemObject;
}

/** How a {@link DrmFile} is opened. */
export interface DrmFileInit {
	/** The device side. */
	readonly frontend: FrontendContext;
	/** Primary or render node. */
	readonly node: NodeKind;
	/** The opening process's descriptor table. */
	readonly process: FdTable;
	/** The opener has CAP_SYS_ADMIN. */
	readonly privileged: boolean;
	/** Routes ioctls to their handlers. */
	readonly dispatch: IoctlDispatcher;
}

/** A CPU mapping of a GEM object through its fake offset (holds an object reference until unmapped). */
export class GemMapping {
	/** The mapped object. */
	readonly gem: GemObject;
	/** Byte offset of the mapping's start inside the object. */
	readonly start: bigint;
	/** Mapping length in bytes. */
	readonly length: bigint;
	#mapped = true;

	/** @internal Created by {@link DrmFile.mmap}. */
	constructor(gem: GemObject, start: bigint, length: bigint) {
		this.gem = gem.get();
		this.start = start;
		this.length = length;
	}

	#check(offset: bigint, length: number): void {
		if (!this.#mapped)
			throw new DrmFrontendError('DRM_INVALID_ARGUMENT', 'access to an unmapped GEM mapping');
		if (offset < 0n || length < 0 || offset + BigInt(length) > this.length) {
			throw new DrmFrontendError('DRM_INVALID_ARGUMENT', 'access outside the GEM mapping (SIGBUS)', {
				offset: offset.toString(),
				length,
			});
		}
	}

	/** Read `length` bytes at `offset` (relative to the mapping). */
	read(offset: bigint, length: number): Uint8Array {
		this.#check(offset, length);
		return this.gem.buffer.read(this.start + offset, length);
	}

	/** Write `data` at `offset` (relative to the mapping). */
	write(offset: bigint, data: Uint8Array): void {
		this.#check(offset, data.length);
		this.gem.buffer.write(this.start + offset, data);
	}

	/** `munmap`: drop the mapping's object reference. */
	unmap(): void {
		if (!this.#mapped) return;
		this.#mapped = false;
		this.gem.put();
	}
}

/** One open DRM file. */
export class DrmFile extends KernelFile implements SyncobjContext {
	readonly kind = 'drm' as const;
	/** The device side. */
	readonly frontend: FrontendContext;
	/** Primary (`cardN`) or render (`renderDN`) node. */
	readonly node: NodeKind;
	/** The process (descriptor table) that opened the file. */
	readonly process: FdTable;
	/** The opener had `CAP_SYS_ADMIN` (may become master, passes DRM_ROOT_ONLY). */
	readonly privileged: boolean;
	/** The device clock. */
	readonly clock: Clock;
	/** GEM handles. */
	readonly gem = new HandleTable<GemObject>();
	/** Syncobj handles. */
	readonly syncobjs = new HandleTable<Syncobj>();
	/** PRIME cache, handle → dma-buf (`drm_prime_file_private`). */
	readonly primeByHandle = new Map<number, DmaBuf>();
	/** PRIME cache, dma-buf → handle. */
	readonly primeByBuf = new Map<DmaBuf, number>();
	/** Channels by id. */
	readonly channels = new Map<number, FileChannel>();
	/** The VM_BIND VA space, after VM_INIT. */
	uvmm: Vm | null = null;
	/** VM_INIT is no longer possible (a BO or channel was created first). */
	uvmmDisabled = false;
	/** A VM_INIT is waiting for the device to create the VA space. */
	uvmmPending = false;
	/** The VA space of channels created without VM_INIT (no VM_BIND/EXEC there). */
	legacyVaSpace: DeviceVaSpace | null = null;
	/** The legacy VA space, while the device is still creating it. */
	legacyVaSpacePending: Promise<IoctlResult<DeviceVaSpace>> | null = null;
	/** Was master at some point (may re-acquire without privilege). */
	wasMaster = false;
	/** Authenticated (DRM_AUTH); privileged openers and masters are. */
	authenticated: boolean;
	/** The descriptor the file was installed at when opened. */
	fd = -1;
	readonly #dispatch: IoctlDispatcher;
	readonly #objHandles = new Map<GemObject, number>();

	/** @internal Files are opened with `DrmFrontend.open`. */
	constructor(init: DrmFileInit) {
		super();
		this.frontend = init.frontend;
		this.node = init.node;
		this.process = init.process;
		this.privileged = init.privileged;
		this.clock = init.frontend.device.clock;
		this.authenticated = init.privileged;
		this.#dispatch = init.dispatch;
	}

	/** Whether this file is the device's current master. */
	get isMaster(): boolean {
		return this.frontend.master === this;
	}

	/** Whether this is a render-node file. */
	get isRender(): boolean {
		return this.node === 'render';
	}

	/**
	 * Perform an ioctl: `arg` holds the argument struct as the client sent it (its length is
	 * `_IOC_SIZE(request)`) and receives the struct as the kernel would copy it back. User pointers inside
	 * it resolve through `mem`.
	 */
	ioctl(request: number, arg: Uint8Array, mem: UserMemory = NO_USER_MEMORY): Promise<IoctlResult> {
		return this.#dispatch(this, request, arg, mem);
	}

	/**
	 * `close(fd)` of the descriptor the file was opened at (the file lives on while other descriptors do).
	 * EBADF when that descriptor no longer refers to this file.
	 */
	close(): IoctlResult {
		if (this.process.peek(this.fd) !== this) return fail('EBADF');
		return this.process.close(this.fd);
	}

	// ───────────────────────────── GEM handles ─────────────────────────────

	/** The object behind a GEM handle. */
	lookupGem(handle: number): GemObject | undefined {
		return this.gem.get(handle);
	}

	/** Whether this file holds a handle to `obj` (mmap permission). */
	holdsGem(obj: GemObject): boolean {
		return (this.#objHandles.get(obj) ?? 0) > 0;
	}

	/** `drm_gem_handle_create_tail`: a new handle for `obj`, holding a new reference. */
	gemHandleCreate(obj: GemObject): IoctlResult<number> {
		const h = this.gem.alloc(obj);
		if (h === undefined) return fail('ENOSPC');
		obj.get();
		obj.handleCount++;
		this.#objHandles.set(obj, (this.#objHandles.get(obj) ?? 0) + 1);
		return succeed(h);
	}

	/** `drm_gem_handle_delete`: drop a handle (PRIME cache entry, cached dma-buf, reference). */
	gemHandleDelete(handle: number): boolean {
		const obj = this.gem.remove(handle);
		if (obj === undefined) return false;
		const buf = this.primeByHandle.get(handle);
		if (buf !== undefined) {
			this.primeByHandle.delete(handle);
			this.primeByBuf.delete(buf);
			buf.put();
		}
		const n = (this.#objHandles.get(obj) ?? 1) - 1;
		if (n === 0) this.#objHandles.delete(obj);
		else this.#objHandles.set(obj, n);
		if (--obj.handleCount === 0 && obj.dmaBuf !== null) {
			const cached = obj.dmaBuf;
			obj.dmaBuf = null;
			cached.put();
		}
		obj.put();
		return true;
	}

	/** Add a PRIME cache entry (takes a dma-buf reference). */
	primeAdd(buf: DmaBuf, handle: number): void {
		if (this.primeByHandle.has(handle)) return;
		this.primeByHandle.set(handle, buf.get());
		this.primeByBuf.set(buf, handle);
	}

	// ───────────────────────────── mmap ─────────────────────────────

	/**
	 * `mmap(drm_fd, offset)` for in-process clients: map `length` bytes at fake offset `offset` (from
	 * GEM_INFO's `map_handle`). EINVAL when no object is there or the range does not fit; EACCES when this
	 * file holds no handle to the object.
	 */
	mmap(offset: bigint, length: bigint): IoctlResult<GemMapping> {
		const obj = this.frontend.gemAtMapOffset(offset);
		if (obj === undefined || length <= 0n) return fail('EINVAL');
		const start = offset - obj.mapOffset;
		if (start + length > obj.size) return fail('EINVAL');
		if (!this.holdsGem(obj)) return fail('EACCES');
		return succeed(new GemMapping(obj, start, length));
	}

	// ───────────────────────────── release ─────────────────────────────

	protected release(): void {
		const device = this.frontend.device;
		for (const [h] of this.syncobjs.entries()) this.syncobjs.remove(h);
		for (const [h] of this.gem.entries()) this.gemHandleDelete(h);
		for (const [id, ch] of [...this.channels]) {
			this.channels.delete(id);
			device.destroyChannel(ch.channel);
			ch.notifier.put();
		}
		if (this.uvmm !== null) this.uvmm.teardown((va) => device.destroyVaSpace(va));
		if (this.legacyVaSpace !== null) {
			device.destroyVaSpace(this.legacyVaSpace);
			this.legacyVaSpace = null;
		}
		this.frontend.fileReleased(this);
	}
}
