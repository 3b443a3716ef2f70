/**
 * `DrmFrontend`: the DRM device (`struct drm_device`) on top of a {@link DrmDevice}.
 *
 * It opens files (primary or render node) into a process's descriptor table, keeps the device-wide
 * state — the current master, GEM objects by fake mmap offset, GEM ids — and frees GEM memory when the
 * last reference to an object goes.
 *
 * @module
 */

import type { DeviceBuffer, DrmDevice } from './device-api.ts';
import { DrmFrontendError, type IoctlResult, succeed } from './errors.ts';
import type { FdTable } from './fd.ts';
import { DrmFile } from './file.ts';
import type { GemObject, GemOwner } from './gem.ts';
import { dispatchIoctl } from './ioctl.ts';
import type { DriverIdentity, FrontendContext, NodeKind } from './types.ts';
import { VM_PAGE_SIZE } from './vm.ts';

/** What nouveau reports for DRM_IOCTL_VERSION (name, major.minor.patchlevel); gspkit's own description. */
export const NOUVEAU_DRIVER_IDENTITY: DriverIdentity = Object.freeze({
	name: 'nouveau',
	date: '0',
	desc: 'gspkit DRM frontend (nouveau uAPI)',
	major: 1,
	minor: 4,
	patchlevel: 2,
});

/**
 * First fake mmap offset (`DRM_FILE_PAGE_OFFSET_START` on 64-bit: page 0x100000 << PAGE_SHIFT), so
 * fake offsets never collide with small real ones.
 */
export const DRM_FILE_PAGE_OFFSET_START = 0x1_0000_0000n;

/** Options of {@link DrmFrontend}. */
export interface DrmFrontendOptions {
	/** What DRM_IOCTL_VERSION reports (default {@link NOUVEAU_DRIVER_IDENTITY}). */
	readonly driver?: DriverIdentity;
}

/** How a file is opened. */
export interface OpenOptions {
	/** The process (descriptor table) opening the device. */
	readonly process: FdTable;
	/** `'render'` (renderD128, the default) or `'primary'` (card0). */
	readonly node?: NodeKind;
	/** The opener has CAP_SYS_ADMIN (may become master, passes ROOT_ONLY checks). Default false. */
	readonly privileged?: boolean;
}

/** Counters for tests and diagnostics. */
export interface FrontendStats {
	/** Open (not yet released) files. */
	readonly files: number;
	/** GEM objects created. */
	readonly gemCreated: number;
	/** GEM objects freed. */
	readonly gemFreed: number;
}

/** The DRM device: opens files and owns device-wide DRM state. */
export class DrmFrontend implements FrontendContext, GemOwner {
	/** The device underneath. */
	readonly device: DrmDevice;
	/** What VERSION reports. */
	readonly driver: DriverIdentity;
	/** The current master file. */
	master: object | null = null;
	readonly #files = new Set<DrmFile>();
	readonly #byOffset = new Map<bigint, GemObject>();
	#nextOffset = DRM_FILE_PAGE_OFFSET_START;
	#gemIds = 0;
	#gemFreed = 0;

	/** A frontend over `device`. */
	constructor(device: DrmDevice, options: DrmFrontendOptions = {}) {
		this.device = device;
		this.driver = options.driver ?? NOUVEAU_DRIVER_IDENTITY;
	}

	/** This object frees GEM memory (the {@link GemOwner} of every object). */
	get gemOwner(): GemOwner {
		return this;
	}

	/**
	 * Open the device: a new {@link DrmFile} installed at the lowest free descriptor of `process`. The first
	 * primary-node file becomes master. Fails only when the descriptor table is full.
	 */
	open(options: OpenOptions): IoctlResult<DrmFile> {
		const node = options.node ?? 'render';
		const file = new DrmFile({
			frontend: this,
			node,
			process: options.process,
			privileged: options.privileged ?? false,
			dispatch: dispatchIoctl,
		});
		const fd = options.process.install(file);
		if (!fd.ok) return fd;
		file.fd = fd.value;
		this.#files.add(file);
		if (node === 'primary' && this.master === null) {
			this.master = file;
			file.wasMaster = true;
			file.authenticated = true;
		}
		return succeed(file);
	}

	/** Open files. */
	get files(): readonly DrmFile[] {
		return [...this.#files];
	}

	/** Counters. */
	get stats(): FrontendStats {
		return { files: this.#files.size, gemCreated: this.#gemIds, gemFreed: this.#gemFreed };
	}

	/** @internal */
	nextGemId(): number {
		return ++this.#gemIds;
	}

	/** @internal */
	allocMapOffset(size: bigint): bigint {
		const at = this.#nextOffset;
		this.#nextOffset += ((size + VM_PAGE_SIZE - 1n) / VM_PAGE_SIZE) * VM_PAGE_SIZE;
		return at;
	}

	/** @internal */
	registerGem(obj: GemObject): void {
		this.#byOffset.set(obj.mapOffset, obj);
	}

	/** @internal */
	gemAtMapOffset(offset: bigint): GemObject | undefined {
		const page = offset - (offset % VM_PAGE_SIZE);
		// Objects are registered at their start; walk back page by page only as far as needed.
		const direct = this.#byOffset.get(page);
		if (direct !== undefined) return direct;
		for (const obj of this.#byOffset.values()) {
			if (offset >= obj.mapOffset && offset < obj.mapOffset + obj.size) return obj;
		}
		return undefined;
	}

	/** @internal The last reference to `obj` went: free its memory, exactly once. */
	gemFree(obj: GemObject): void {
		if (this.#byOffset.get(obj.mapOffset) !== obj) {
			throw new DrmFrontendError('DRM_CONTRACT', `GEM object ${obj.id} freed twice or never registered`);
		}
		this.#byOffset.delete(obj.mapOffset);
		this.#gemFreed++;
		this.device.freeBuffer(obj.buffer as DeviceBuffer);
	}

	/** @internal */
	fileReleased(file: object): void {
		if (this.master === file) this.master = null;
		this.#files.delete(file as DrmFile);
	}
}
