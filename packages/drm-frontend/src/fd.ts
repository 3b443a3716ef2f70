/**
 * File descriptors, per "process".
 *
 * PRIME and syncobj export hand out file descriptors: small integers that mean something only inside one
 * process. A {@link FdTable} is that process's descriptor table; the socket server keeps one per
 * connection and moves files between tables when a client passes a descriptor on (`SCM_RIGHTS`). The
 * objects behind descriptors are reference-counted {@link KernelFile}s: a dma-buf, an opaque syncobj file,
 * a sync_file, or a DRM file itself. Closing the last descriptor (and dropping every other reference)
 * releases the file.
 *
 * @module
 */

import { DrmFrontendError, fail, type IoctlResult, OK, succeed } from './errors.ts';

/** What kind of object a descriptor refers to. */
export type KernelFileKind = 'drm' | 'dmabuf' | 'syncobj' | 'sync_file' | 'other';

/** A reference-counted open file. */
export abstract class KernelFile {
	/** What the file is (checked by the ioctls that take descriptors). */
	abstract readonly kind: KernelFileKind;
	#refs = 1;
	#released = false;

	/** Current reference count (descriptors plus internal references). */
	get refCount(): number {
		return this.#refs;
	}

	/** Whether the last reference was dropped. */
	get released(): boolean {
		return this.#released;
	}

	/** Take a reference. */
	get(): this {
		if (this.#released) throw new DrmFrontendError('DRM_CONTRACT', `get() on a released ${this.kind} file`);
		this.#refs++;
		return this;
	}

	/** Drop a reference; the last one releases the file. */
	put(): void {
		if (this.#released || this.#refs <= 0) {
			throw new DrmFrontendError('DRM_CONTRACT', `put() on a released ${this.kind} file`);
		}
		if (--this.#refs === 0) {
			this.#released = true;
			this.release();
		}
	}

	/** Called once, when the last reference is dropped. */
	protected abstract release(): void;
}

/** A file with no meaning to DRM (a pipe, a socket): passing it where a dma-buf/syncobj is expected is EINVAL. */
export class OpaqueFile extends KernelFile {
	readonly kind = 'other' as const;
	/** A label for diagnostics. */
	readonly label: string;
	/** An opaque file called `label`. */
	constructor(label = 'opaque') {
		super();
		this.label = label;
	}
	protected release(): void {}
}

/** Options of {@link FdTable}. */
export interface FdTableOptions {
	/** The lowest descriptor handed out (default 3: 0–2 are the process's stdio). */
	readonly firstFd?: number;
	/** The table's size limit (`RLIMIT_NOFILE`, default 1024); beyond it installing is `EMFILE`-like `ENOSPC`. */
	readonly maxFds?: number;
}

/** One process's descriptor table: lowest free descriptor first, as POSIX requires. */
export class FdTable {
	readonly #files = new Map<number, KernelFile>();
	readonly #first: number;
	readonly #max: number;

	/** An empty table. */
	constructor(options: FdTableOptions = {}) {
		this.#first = options.firstFd ?? 3;
		this.#max = options.maxFds ?? 1024;
		if (!Number.isInteger(this.#first) || this.#first < 0 || this.#first >= this.#max) {
			throw new DrmFrontendError('DRM_INVALID_ARGUMENT', 'FdTable: bad firstFd/maxFds', {
				firstFd: this.#first,
				maxFds: this.#max,
			});
		}
	}

	/** Number of open descriptors. */
	get size(): number {
		return this.#files.size;
	}

	/** Open descriptors in ascending order. */
	fds(): number[] {
		return [...this.#files.keys()].sort((a, b) => a - b);
	}

	/**
	 * Install `file` at the lowest free descriptor, taking over one reference the caller holds. Fails
	 * (and drops nothing) when the table is full.
	 */
	install(file: KernelFile): IoctlResult<number> {
		for (let fd = this.#first; fd < this.#max; fd++) {
			if (!this.#files.has(fd)) {
				this.#files.set(fd, file);
				return succeed(fd);
			}
		}
		return fail('ENOSPC');
	}

	/** The file behind `fd` (no reference taken), or `undefined` when `fd` is not open. */
	peek(fd: number): KernelFile | undefined {
		return this.#files.get(fd);
	}

	/** `fget`: the file behind `fd` with a new reference, or EBADF. */
	fget(fd: number): IoctlResult<KernelFile> {
		const f = this.#files.get(fd);
		return f === undefined ? fail('EBADF') : succeed(f.get());
	}

	/** `close(fd)`: drop the descriptor's reference. EBADF if `fd` is not open. */
	close(fd: number): IoctlResult {
		const f = this.#files.get(fd);
		if (f === undefined) return fail('EBADF');
		this.#files.delete(fd);
		f.put();
		return OK;
	}

	/** `dup(fd)`: a second descriptor for the same file. */
	dup(fd: number): IoctlResult<number> {
		const f = this.#files.get(fd);
		if (f === undefined) return fail('EBADF');
		f.get();
		const r = this.install(f);
		if (!r.ok) f.put();
		return r;
	}

	/** Pass `fd` to another process (`SCM_RIGHTS`): `target` gets a new descriptor for the same file. */
	transfer(fd: number, target: FdTable): IoctlResult<number> {
		const f = this.#files.get(fd);
		if (f === undefined) return fail('EBADF');
		f.get();
		const r = target.install(f);
		if (!r.ok) f.put();
		return r;
	}

	/** Close every descriptor (process exit / connection lost), highest first. */
	closeAll(): void {
		for (const fd of this.fds().reverse()) this.close(fd);
	}
}
