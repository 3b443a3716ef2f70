/**
 * DRM sync objects: binary and timeline, with the DRM core's ioctls.
 *
 * A {@link Syncobj} holds a fence pointer, possibly null. Binary use replaces the fence; timeline use adds
 * a {@link FenceChain} node per point (point 0 means binary behaviour). The ioctl handlers follow
 * `drm_syncobj.c` check by check, so the errno a client sees for each bad argument is the kernel's:
 *
 * | case | errno |
 * | --- | --- |
 * | non-zero `pad`, unknown flags, `count_handles == 0` (reset/signal/query/timeline-signal) | EINVAL |
 * | unknown handle in an array | ENOENT |
 * | unknown handle for DESTROY / HANDLE_TO_FD (opaque) | EINVAL |
 * | FD_TO_HANDLE of a closed fd or a non-syncobj file | EINVAL |
 * | waiting on a missing fence / unsubmitted point without WAIT_FOR_SUBMIT (or WAIT_AVAILABLE) | EINVAL |
 * | deadline passed | ETIME |
 * | bad user pointer | EFAULT |
 *
 * WAIT with `count_handles == 0` succeeds at once.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import type { DeviceFence } from './device-api.ts';
import { fail, type IoctlResult, OK, succeed } from './errors.ts';
import { type FdTable, KernelFile } from './fd.ts';
import { chainFindSeqno, chainWalk, DrmFence, FenceChain, mergeFence, STUB_FENCE } from './fence.ts';
import type { HandleTable } from './handles.ts';
import { copyToUser, readU32Array, readU64Array, type UserMemory, u64Bytes } from './memory.ts';
import {
	DRM_SYNCOBJ_CREATE_SIGNALED,
	DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
	DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
	DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
	DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE,
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
	type DrmSyncobjArray,
	type DrmSyncobjCreate,
	type DrmSyncobjDestroy,
	type DrmSyncobjHandle,
	type DrmSyncobjTimelineArray,
	type DrmSyncobjTimelineWait,
	type DrmSyncobjTransfer,
	type DrmSyncobjWait,
} from './uapi/drm.ts';
import { waitUntil } from './wait.ts';

/** How long a WAIT_FOR_SUBMIT lookup (TRANSFER) waits for a fence to appear: 5 s, as `drm_syncobj.c`. */
export const SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT_NS = 5_000_000_000n;

/** The value `first_signaled` keeps when no syncobj had signalled before a WAIT_ALL blocked. */
export const FIRST_SIGNALED_NONE = 0xffffffff;

/** A sync object: a fence pointer that may be null, with waiters woken when it changes. */
export class Syncobj {
	#fence: DeviceFence | null = null;
	#listeners: (() => void)[] = [];

	/** The current fence (`null` = reset / never signalled). */
	get fence(): DeviceFence | null {
		return this.#fence;
	}

	/** `drm_syncobj_replace_fence`: install `fence` (or null); waiters are woken if it changed. */
	replace(fence: DeviceFence | null): void {
		const old = this.#fence;
		this.#fence = fence;
		if (fence !== old) this.#notify();
	}

	/** `drm_syncobj_add_point`: add timeline point `point` carrying `fence` (out-of-order points tolerated). */
	addPoint(fence: DeviceFence, point: bigint): void {
		this.#fence = new FenceChain(this.#fence, fence, point);
		this.#notify();
	}

	/** Install a new signalled stub (`drm_syncobj_assign_null_handle`). */
	signal(): void {
		this.replace(DrmFence.signalled());
	}

	/**
	 * The fence for `point` without waiting (`drm_syncobj_find_fence` with no flags): `undefined` when there
	 * is no fence or the point was not submitted yet; a signalled stub when the point is already past.
	 */
	findFence(point: bigint): DeviceFence | undefined {
		const f = this.#fence;
		if (f === null) return undefined;
		const r = chainFindSeqno(f, point);
		if (r === 'unsubmitted') return undefined;
		return r ?? STUB_FENCE;
	}

	/** Call `fn` once at the next change of the fence pointer; returns a function that unregisters it. */
	onChange(fn: () => void): () => void {
		this.#listeners.push(fn);
		return () => {
			const i = this.#listeners.indexOf(fn);
			if (i >= 0) this.#listeners.splice(i, 1);
		};
	}

	/**
	 * The point QUERY reports: the last signalled point of the timeline (walking and pruning the chain), or
	 * the last submitted one with `lastSubmitted`; 0 when the fence is not a chain.
	 */
	queryPoint(lastSubmitted: boolean): bigint {
		const head = this.#fence;
		if (!(head instanceof FenceChain)) return 0n;
		if (lastSubmitted) return head.seqno;
		let last: FenceChain = head;
		for (let it: DeviceFence | null = head; it !== null; it = chainWalk(it)) {
			if (!(it instanceof FenceChain) || it.context !== head.context) break;
			last = it;
		}
		return last.signalled ? last.seqno : last.prevSeqno;
	}

	#notify(): void {
		const ls = this.#listeners;
		if (ls.length === 0) return;
		this.#listeners = [];
		for (const fn of ls) fn();
	}
}

/** An opaque syncobj file descriptor: shares the syncobj itself. */
export class SyncobjFile extends KernelFile {
	readonly kind = 'syncobj' as const;
	/** The shared syncobj. */
	readonly syncobj: Syncobj;
	/** A file for `syncobj`. */
	constructor(syncobj: Syncobj) {
		super();
		this.syncobj = syncobj;
	}
	protected release(): void {}
}

/** A sync_file: an immutable snapshot of one fence. */
export class SyncFile extends KernelFile {
	readonly kind = 'sync_file' as const;
	/** The fence it wraps. */
	readonly fence: DeviceFence;
	/** A sync_file for `fence`. */
	constructor(fence: DeviceFence) {
		super();
		this.fence = fence;
	}
	protected release(): void {}
}

/** What the syncobj ioctls need from a DRM file. */
export interface SyncobjContext {
	/** The file's syncobj handle table. */
	readonly syncobjs: HandleTable<Syncobj>;
	/** The descriptor table of the process that owns the file. */
	readonly process: FdTable;
	/** The device clock (absolute timeouts). */
	readonly clock: Clock;
}

/**
 * `drm_syncobj_find_fence`: the fence at `point` of syncobj `handle`. ENOENT for an unknown handle,
 * EINVAL when there is no fence yet — unless `waitForSubmit`, which waits up to 5 s for one (then ETIME).
 */
export async function syncobjFindFence(
	ctx: SyncobjContext,
	handle: number,
	point: bigint,
	waitForSubmit: boolean,
): Promise<IoctlResult<DeviceFence>> {
	const s = ctx.syncobjs.get(handle);
	if (s === undefined) return fail('ENOENT');
	const f = s.findFence(point);
	if (f !== undefined) return succeed(f);
	if (!waitForSubmit) return fail('EINVAL');
	const deadline = ctx.clock.now() + SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT_NS;
	const r = await waitUntil(
		ctx.clock,
		deadline,
		() => s.findFence(point),
		(wake) => s.onChange(wake),
	);
	return r === undefined ? fail('ETIME') : succeed(r);
}

/** The non-waiting form of {@link syncobjFindFence} (used where no wait can happen: job submission). */
export function syncobjFindFenceNow(
	ctx: SyncobjContext,
	handle: number,
	point: bigint,
): IoctlResult<DeviceFence> {
	const s = ctx.syncobjs.get(handle);
	if (s === undefined) return fail('ENOENT');
	const f = s.findFence(point);
	return f === undefined ? fail('EINVAL') : succeed(f);
}

function lookupArray(
	ctx: SyncobjContext,
	mem: UserMemory,
	ptr: bigint,
	count: number,
): IoctlResult<Syncobj[]> {
	const handles = readU32Array(mem, ptr, count);
	if (handles === undefined) return fail('EFAULT');
	const out: Syncobj[] = [];
	for (const h of handles) {
		const s = ctx.syncobjs.get(h);
		if (s === undefined) return fail('ENOENT');
		out.push(s);
	}
	return succeed(out);
}

/** DRM_IOCTL_SYNCOBJ_CREATE. */
export function syncobjCreate(ctx: SyncobjContext, args: DrmSyncobjCreate): IoctlResult {
	if (args.flags & ~DRM_SYNCOBJ_CREATE_SIGNALED) return fail('EINVAL');
	const s = new Syncobj();
	if (args.flags & DRM_SYNCOBJ_CREATE_SIGNALED) s.signal();
	const h = ctx.syncobjs.alloc(s);
	if (h === undefined) return fail('ENOSPC');
	args.handle = h;
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_DESTROY. */
export function syncobjDestroy(ctx: SyncobjContext, args: DrmSyncobjDestroy): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	return ctx.syncobjs.remove(args.handle) === undefined ? fail('EINVAL') : OK;
}

/** DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD (opaque syncobj fd, or a sync_file with EXPORT_SYNC_FILE). */
export function syncobjHandleToFd(ctx: SyncobjContext, args: DrmSyncobjHandle): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	const valid = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
	if (args.flags & ~valid) return fail('EINVAL');
	const point = args.flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE ? args.point : 0n;
	if (args.flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE) {
		const f = syncobjFindFenceNow(ctx, args.handle, point);
		if (!f.ok) return f;
		const r = ctx.process.install(new SyncFile(f.value));
		if (!r.ok) return r;
		args.fd = r.value;
		return OK;
	}
	if (point !== 0n) return fail('EINVAL');
	const s = ctx.syncobjs.get(args.handle);
	if (s === undefined) return fail('EINVAL');
	const r = ctx.process.install(new SyncobjFile(s));
	if (!r.ok) return r;
	args.fd = r.value;
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE (a new handle per import, or a sync_file's fence into a syncobj). */
export function syncobjFdToHandle(ctx: SyncobjContext, args: DrmSyncobjHandle): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	const valid = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE | DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
	if (args.flags & ~valid) return fail('EINVAL');
	const point = args.flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE ? args.point : 0n;
	const file = ctx.process.peek(args.fd);
	if (args.flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE) {
		if (!(file instanceof SyncFile)) return fail('EINVAL');
		const s = ctx.syncobjs.get(args.handle);
		if (s === undefined) return fail('ENOENT');
		if (point !== 0n) s.addPoint(file.fence, point);
		else s.replace(file.fence);
		return OK;
	}
	if (point !== 0n) return fail('EINVAL');
	if (!(file instanceof SyncobjFile)) return fail('EINVAL');
	const h = ctx.syncobjs.alloc(file.syncobj);
	if (h === undefined) return fail('ENOSPC');
	args.handle = h;
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_TRANSFER: move the fence at a point of one syncobj to a point (or the fence) of another. */
export async function syncobjTransfer(ctx: SyncobjContext, args: DrmSyncobjTransfer): Promise<IoctlResult> {
	if (args.pad !== 0) return fail('EINVAL');
	const dst = ctx.syncobjs.get(args.dst_handle);
	if (dst === undefined) return fail('ENOENT');
	if (args.flags & ~DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) return fail('EINVAL');
	const waitForSubmit = (args.flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) !== 0;
	const f = await syncobjFindFence(ctx, args.src_handle, args.src_point, waitForSubmit);
	if (!f.ok) return f;
	if (args.dst_point !== 0n) dst.addPoint(mergeFence(f.value), args.dst_point);
	else dst.replace(f.value);
	return OK;
}

/**
 * `drm_syncobj_array_wait_timeout`: wait for any/all of `syncobjs` at `points` until the absolute
 * `deadlineNs`. Resolves to the `first_signaled` index, or an errno (EINVAL for a missing fence without
 * WAIT_FOR_SUBMIT/WAIT_AVAILABLE, ETIME on timeout).
 */
export async function syncobjArrayWait(
	clock: Clock,
	syncobjs: readonly Syncobj[],
	points: ArrayLike<bigint>,
	flags: number,
	deadlineNs: bigint,
): Promise<IoctlResult<number>> {
	const n = syncobjs.length;
	const waitAll = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) !== 0;
	const available = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) !== 0;
	const lenient =
		(flags & (DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE)) !== 0;
	const entries: (DeviceFence | undefined)[] = new Array(n);
	let first = FIRST_SIGNALED_NONE;
	let signalled = 0;
	for (let i = 0; i < n; i++) {
		const f = (syncobjs[i] as Syncobj).findFence(points[i] as bigint);
		if (f === undefined) {
			if (lenient) continue;
			return fail('EINVAL');
		}
		entries[i] = f;
		if (available || f.signalled) {
			if (signalled === 0) first = i;
			signalled++;
		}
	}
	if (signalled === n || (signalled > 0 && !waitAll)) return succeed(first);

	const check = (): number | undefined => {
		let count = 0;
		for (let i = 0; i < n; i++) {
			let f = entries[i];
			if (f === undefined) {
				f = (syncobjs[i] as Syncobj).findFence(points[i] as bigint);
				if (f === undefined) continue;
				entries[i] = f;
			}
			if (available || f.signalled) {
				if (!waitAll) return i;
				count++;
			}
		}
		return count === n ? first : undefined;
	};
	const arm = (wake: () => void): (() => void) => {
		const undo: (() => void)[] = [];
		for (let i = 0; i < n; i++) {
			const f = entries[i];
			if (f === undefined) undo.push((syncobjs[i] as Syncobj).onChange(wake));
			else if (!f.signalled) f.onSignal(wake);
		}
		return () => {
			for (const u of undo) u();
		};
	};
	const r = await waitUntil(clock, deadlineNs, check, arm);
	return r === undefined ? fail('ETIME') : succeed(r);
}

/** DRM_IOCTL_SYNCOBJ_WAIT. */
export async function syncobjWait(
	ctx: SyncobjContext,
	args: DrmSyncobjWait,
	mem: UserMemory,
): Promise<IoctlResult> {
	const possible =
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE;
	if (args.flags & ~possible) return fail('EINVAL');
	if (args.pad !== 0) return fail('EINVAL');
	if (args.count_handles === 0) return OK;
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	const points = new BigUint64Array(args.count_handles);
	const r = await syncobjArrayWait(ctx.clock, objs.value, points, args.flags, args.timeout_nsec);
	if (!r.ok) return r;
	args.first_signaled = r.value;
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT. */
export async function syncobjTimelineWait(
	ctx: SyncobjContext,
	args: DrmSyncobjTimelineWait,
	mem: UserMemory,
): Promise<IoctlResult> {
	const possible =
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE;
	if (args.flags & ~possible) return fail('EINVAL');
	if (args.pad !== 0) return fail('EINVAL');
	if (args.count_handles === 0) return OK;
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	let points: BigUint64Array | undefined = new BigUint64Array(args.count_handles);
	if (args.points !== 0n) points = readU64Array(mem, args.points, args.count_handles);
	if (points === undefined) return fail('EFAULT');
	const r = await syncobjArrayWait(ctx.clock, objs.value, points, args.flags, args.timeout_nsec);
	if (!r.ok) return r;
	args.first_signaled = r.value;
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_RESET: set every fence to null. */
export function syncobjReset(ctx: SyncobjContext, args: DrmSyncobjArray, mem: UserMemory): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	if (args.count_handles === 0) return fail('EINVAL');
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	for (const s of objs.value) s.replace(null);
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_SIGNAL: install a signalled fence in every syncobj. */
export function syncobjSignal(ctx: SyncobjContext, args: DrmSyncobjArray, mem: UserMemory): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	if (args.count_handles === 0) return fail('EINVAL');
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	for (const s of objs.value) s.signal();
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: add a signalled point to every syncobj. */
export function syncobjTimelineSignal(
	ctx: SyncobjContext,
	args: DrmSyncobjTimelineArray,
	mem: UserMemory,
): IoctlResult {
	if (args.flags !== 0) return fail('EINVAL');
	if (args.count_handles === 0) return fail('EINVAL');
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	let points: BigUint64Array | undefined = new BigUint64Array(args.count_handles);
	if (args.points !== 0n) points = readU64Array(mem, args.points, args.count_handles);
	if (points === undefined) return fail('EFAULT');
	objs.value.forEach((s, i) => {
		s.addPoint(STUB_FENCE, points[i] as bigint);
	});
	return OK;
}

/** DRM_IOCTL_SYNCOBJ_QUERY: the last signalled (or, with LAST_SUBMITTED, submitted) point of each. */
export function syncobjQuery(
	ctx: SyncobjContext,
	args: DrmSyncobjTimelineArray,
	mem: UserMemory,
): IoctlResult {
	if (args.flags & ~DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) return fail('EINVAL');
	if (args.count_handles === 0) return fail('EINVAL');
	const objs = lookupArray(ctx, mem, args.handles, args.count_handles);
	if (!objs.ok) return objs;
	const last = (args.flags & DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) !== 0;
	for (let i = 0; i < objs.value.length; i++) {
		const point = (objs.value[i] as Syncobj).queryPoint(last);
		if (!copyToUser(mem, args.points + BigInt(i * 8), u64Bytes([point]))) return fail('EFAULT');
	}
	return OK;
}
