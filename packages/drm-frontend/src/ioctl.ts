/**
 * ioctl dispatch: request code → permission check → argument copy-in → handler → copy-out.
 *
 * Dispatch follows `drm_ioctl()`: the request's type byte must be `'d'`; its `nr` selects the ioctl; the
 * argument is copied in for `_IOC_WRITE` requests and back out for `_IOC_READ` ones, truncated or
 * zero-extended to the kernel's struct size, so older and newer clients with shorter or longer structs
 * work as they do with the kernel. Differences, on purpose: an unknown request is ENOTTY (the kernel
 * says EINVAL for an unknown `nr` inside its table's range), and `pad`/reserved fields are checked for
 * zero in every struct that has them (Xe-style MBZ), not only where `drm_syncobj.c` checks.
 *
 * The permission table is the kernel's: every served ioctl is `DRM_RENDER_ALLOW` except SET_CLIENT_CAP
 * and SET/DROP_MASTER, which a render node may not call; a refused ioctl is EACCES, as `drm_ioctl_permit`
 * answers (DRM_AUTH, DRM_MASTER and DRM_ROOT_ONLY are enforced the same way for any entry that sets them).
 *
 * @module
 */

import { decode, encode, type RecordLayout, zero } from '@gspkit/abi';
import type { Errno } from '@gspkit/hal';
import { fail, type IoctlResult, succeed } from './errors.ts';
import type { DrmFile } from './file.ts';
import { structCodec } from './ioctl-codec.ts';
import {
	drmDropMasterIoctl,
	drmGemCloseIoctl,
	drmGetCapIoctl,
	drmPrimeFdToHandleIoctl,
	drmPrimeHandleToFdIoctl,
	drmSetClientCapIoctl,
	drmSetMasterIoctl,
	drmVersionIoctl,
} from './ioctl-core.ts';
import {
	gspkitGemPreadIoctl,
	gspkitGemPwriteIoctl,
	nouveauChannelAllocIoctl,
	nouveauChannelFreeIoctl,
	nouveauGemCpuFiniIoctl,
	nouveauGemCpuPrepIoctl,
	nouveauGemInfoIoctl,
	nouveauGemNewIoctl,
	nouveauGetparamIoctl,
} from './ioctl-nouveau.ts';
import { nouveauExecIoctl, nouveauVmBindIoctl, nouveauVmInitIoctl } from './ioctl-vm.ts';
import { NO_USER_MEMORY, type UserMemory } from './memory.ts';
import {
	syncobjCreate,
	syncobjDestroy,
	syncobjFdToHandle,
	syncobjHandleToFd,
	syncobjQuery,
	syncobjReset,
	syncobjSignal,
	syncobjTimelineSignal,
	syncobjTimelineWait,
	syncobjTransfer,
	syncobjWait,
} from './syncobj.ts';
import { DRM_IOCTL, IOCTL_DEFS, type IoctlDef, type IoctlName, ioctlByNr } from './uapi/codes.ts';
import type {
	DrmGemClose,
	DrmGetCap,
	DrmPrimeHandle,
	DrmSetClientCap,
	DrmSyncobjArray,
	DrmSyncobjCreate,
	DrmSyncobjDestroy,
	DrmSyncobjHandle,
	DrmSyncobjTimelineArray,
	DrmSyncobjTimelineWait,
	DrmSyncobjTransfer,
	DrmSyncobjWait,
	DrmVersion,
} from './uapi/drm.ts';
import type { GspkitGemPread, GspkitGemPwrite } from './uapi/gspkit.ts';
import { DRM_IOCTL_BASE, IOC_READ, IOC_WRITE, iocFields } from './uapi/ioc.ts';
import type {
	NouveauChannelAlloc,
	NouveauChannelFree,
	NouveauExec,
	NouveauGemCpuFini,
	NouveauGemCpuPrep,
	NouveauGemInfo,
	NouveauGemNew,
	NouveauGetparam,
	NouveauVmBind,
	NouveauVmInit,
} from './uapi/nouveau.ts';

/** `DRM_IOCTL_DEF` flags: who may call an ioctl. */
export interface IoctlFlags {
	/** `DRM_RENDER_ALLOW`: render-node files may call it. */
	readonly renderAllow: boolean;
	/** `DRM_AUTH`: primary-node files must be authenticated. */
	readonly auth: boolean;
	/** `DRM_MASTER`: only the current master. */
	readonly master: boolean;
	/** `DRM_ROOT_ONLY`: only privileged (CAP_SYS_ADMIN) openers. */
	readonly rootOnly: boolean;
}

const RENDER: IoctlFlags = Object.freeze({ renderAllow: true, auth: false, master: false, rootOnly: false });
const PRIMARY_ONLY: IoctlFlags = Object.freeze({
	renderAllow: false,
	auth: false,
	master: false,
	rootOnly: false,
});

/** The argument type of each served ioctl (`undefined` for argument-less `DRM_IO` requests). */
export interface IoctlArgMap {
	/** Argument of `DRM_IOCTL_VERSION`. */
	VERSION: DrmVersion;
	/** Argument of `DRM_IOCTL_GEM_CLOSE`. */
	GEM_CLOSE: DrmGemClose;
	/** Argument of `DRM_IOCTL_GET_CAP`. */
	GET_CAP: DrmGetCap;
	/** Argument of `DRM_IOCTL_SET_CLIENT_CAP`. */
	SET_CLIENT_CAP: DrmSetClientCap;
	/** Argument of `DRM_IOCTL_SET_MASTER`. */
	SET_MASTER: undefined;
	/** Argument of `DRM_IOCTL_DROP_MASTER`. */
	DROP_MASTER: undefined;
	/** Argument of `DRM_IOCTL_PRIME_HANDLE_TO_FD`. */
	PRIME_HANDLE_TO_FD: DrmPrimeHandle;
	/** Argument of `DRM_IOCTL_PRIME_FD_TO_HANDLE`. */
	PRIME_FD_TO_HANDLE: DrmPrimeHandle;
	/** Argument of `DRM_IOCTL_NOUVEAU_GETPARAM`. */
	NOUVEAU_GETPARAM: NouveauGetparam;
	/** Argument of `DRM_IOCTL_NOUVEAU_CHANNEL_ALLOC`. */
	NOUVEAU_CHANNEL_ALLOC: NouveauChannelAlloc;
	/** Argument of `DRM_IOCTL_NOUVEAU_CHANNEL_FREE`. */
	NOUVEAU_CHANNEL_FREE: NouveauChannelFree;
	/** Argument of `DRM_IOCTL_NOUVEAU_VM_INIT`. */
	NOUVEAU_VM_INIT: NouveauVmInit;
	/** Argument of `DRM_IOCTL_NOUVEAU_VM_BIND`. */
	NOUVEAU_VM_BIND: NouveauVmBind;
	/** Argument of `DRM_IOCTL_NOUVEAU_EXEC`. */
	NOUVEAU_EXEC: NouveauExec;
	/** Argument of `DRM_IOCTL_NOUVEAU_GEM_NEW`. */
	NOUVEAU_GEM_NEW: NouveauGemNew;
	/** Argument of `DRM_IOCTL_NOUVEAU_GEM_CPU_PREP`. */
	NOUVEAU_GEM_CPU_PREP: NouveauGemCpuPrep;
	/** Argument of `DRM_IOCTL_NOUVEAU_GEM_CPU_FINI`. */
	NOUVEAU_GEM_CPU_FINI: NouveauGemCpuFini;
	/** Argument of `DRM_IOCTL_NOUVEAU_GEM_INFO`. */
	NOUVEAU_GEM_INFO: NouveauGemInfo;
	/** Argument of `DRM_IOCTL_GSPKIT_GEM_PREAD`. */
	GSPKIT_GEM_PREAD: GspkitGemPread;
	/** Argument of `DRM_IOCTL_GSPKIT_GEM_PWRITE`. */
	GSPKIT_GEM_PWRITE: GspkitGemPwrite;
	/** Argument of `DRM_IOCTL_SYNCOBJ_CREATE`. */
	SYNCOBJ_CREATE: DrmSyncobjCreate;
	/** Argument of `DRM_IOCTL_SYNCOBJ_DESTROY`. */
	SYNCOBJ_DESTROY: DrmSyncobjDestroy;
	/** Argument of `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`. */
	SYNCOBJ_HANDLE_TO_FD: DrmSyncobjHandle;
	/** Argument of `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE`. */
	SYNCOBJ_FD_TO_HANDLE: DrmSyncobjHandle;
	/** Argument of `DRM_IOCTL_SYNCOBJ_WAIT`. */
	SYNCOBJ_WAIT: DrmSyncobjWait;
	/** Argument of `DRM_IOCTL_SYNCOBJ_RESET`. */
	SYNCOBJ_RESET: DrmSyncobjArray;
	/** Argument of `DRM_IOCTL_SYNCOBJ_SIGNAL`. */
	SYNCOBJ_SIGNAL: DrmSyncobjArray;
	/** Argument of `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT`. */
	SYNCOBJ_TIMELINE_WAIT: DrmSyncobjTimelineWait;
	/** Argument of `DRM_IOCTL_SYNCOBJ_QUERY`. */
	SYNCOBJ_QUERY: DrmSyncobjTimelineArray;
	/** Argument of `DRM_IOCTL_SYNCOBJ_TRANSFER`. */
	SYNCOBJ_TRANSFER: DrmSyncobjTransfer;
	/** Argument of `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`. */
	SYNCOBJ_TIMELINE_SIGNAL: DrmSyncobjTimelineArray;
}

type Handler<K extends IoctlName> = (
	file: DrmFile,
	args: IoctlArgMap[K],
	mem: UserMemory,
) => IoctlResult | Promise<IoctlResult>;

/** One row of the ioctl table. */
interface Entry<K extends IoctlName> {
	readonly flags: IoctlFlags;
	readonly run: Handler<K>;
}

const TABLE: { readonly [K in IoctlName]: Entry<K> } = {
	VERSION: { flags: RENDER, run: drmVersionIoctl },
	GEM_CLOSE: { flags: RENDER, run: drmGemCloseIoctl },
	GET_CAP: { flags: RENDER, run: drmGetCapIoctl },
	SET_CLIENT_CAP: { flags: PRIMARY_ONLY, run: drmSetClientCapIoctl },
	SET_MASTER: { flags: PRIMARY_ONLY, run: (f) => drmSetMasterIoctl(f) },
	DROP_MASTER: { flags: PRIMARY_ONLY, run: (f) => drmDropMasterIoctl(f) },
	PRIME_HANDLE_TO_FD: { flags: RENDER, run: drmPrimeHandleToFdIoctl },
	PRIME_FD_TO_HANDLE: { flags: RENDER, run: drmPrimeFdToHandleIoctl },
	NOUVEAU_GETPARAM: { flags: RENDER, run: nouveauGetparamIoctl },
	NOUVEAU_CHANNEL_ALLOC: { flags: RENDER, run: nouveauChannelAllocIoctl },
	NOUVEAU_CHANNEL_FREE: { flags: RENDER, run: nouveauChannelFreeIoctl },
	NOUVEAU_VM_INIT: { flags: RENDER, run: nouveauVmInitIoctl },
	NOUVEAU_VM_BIND: { flags: RENDER, run: nouveauVmBindIoctl },
	NOUVEAU_EXEC: { flags: RENDER, run: nouveauExecIoctl },
	NOUVEAU_GEM_NEW: { flags: RENDER, run: nouveauGemNewIoctl },
	NOUVEAU_GEM_CPU_PREP: { flags: RENDER, run: nouveauGemCpuPrepIoctl },
	NOUVEAU_GEM_CPU_FINI: { flags: RENDER, run: nouveauGemCpuFiniIoctl },
	NOUVEAU_GEM_INFO: { flags: RENDER, run: nouveauGemInfoIoctl },
	GSPKIT_GEM_PREAD: { flags: RENDER, run: gspkitGemPreadIoctl },
	GSPKIT_GEM_PWRITE: { flags: RENDER, run: gspkitGemPwriteIoctl },
	SYNCOBJ_CREATE: { flags: RENDER, run: syncobjCreate },
	SYNCOBJ_DESTROY: { flags: RENDER, run: syncobjDestroy },
	SYNCOBJ_HANDLE_TO_FD: { flags: RENDER, run: syncobjHandleToFd },
	SYNCOBJ_FD_TO_HANDLE: { flags: RENDER, run: syncobjFdToHandle },
	SYNCOBJ_WAIT: { flags: RENDER, run: syncobjWait },
	SYNCOBJ_RESET: { flags: RENDER, run: syncobjReset },
	SYNCOBJ_SIGNAL: { flags: RENDER, run: syncobjSignal },
	SYNCOBJ_TIMELINE_WAIT: { flags: RENDER, run: syncobjTimelineWait },
	SYNCOBJ_QUERY: { flags: RENDER, run: syncobjQuery },
	SYNCOBJ_TRANSFER: { flags: RENDER, run: syncobjTransfer },
	SYNCOBJ_TIMELINE_SIGNAL: { flags: RENDER, run: syncobjTimelineSignal },
};

/** The permission flags of a served ioctl (the frontend's `DRM_IOCTL_DEF` table). */
export function ioctlFlags(name: IoctlName): IoctlFlags {
	return TABLE[name].flags;
}

/** What {@link ioctlPermit} needs to know about the calling file. */
export interface IoctlCaller {
	/** The file is on a render node. */
	readonly isRender: boolean;
	/** The file is the current master. */
	readonly isMaster: boolean;
	/** The file is authenticated (DRM_AUTH). */
	readonly authenticated: boolean;
	/** The opener has CAP_SYS_ADMIN (DRM_ROOT_ONLY). */
	readonly privileged: boolean;
}

/** `drm_ioctl_permit`: `undefined` when `caller` may call an ioctl with `flags`, else EACCES. */
export function ioctlPermit(flags: IoctlFlags, caller: IoctlCaller): Errno | undefined {
	if (flags.rootOnly && !caller.privileged) return 'EACCES';
	if (flags.auth && !caller.isRender && !caller.authenticated) return 'EACCES';
	if (flags.master && !caller.isMaster) return 'EACCES';
	if (!flags.renderAllow && caller.isRender) return 'EACCES';
	return undefined;
}

function runEntry(
	def: IoctlDef,
	file: DrmFile,
	args: unknown,
	mem: UserMemory,
): IoctlResult | Promise<IoctlResult> {
	const entry = TABLE[def.name] as Entry<IoctlName>;
	return entry.run(file, args as never, mem);
}

/**
 * Dispatch one ioctl of `file`. `arg` is the client's argument buffer; it must be at least
 * `_IOC_SIZE(request)` bytes (else EFAULT) and receives the copy-out for `_IOC_READ` requests. A file whose
 * last descriptor was closed answers EBADF.
 */
export async function dispatchIoctl(
	file: DrmFile,
	request: number,
	arg: Uint8Array,
	mem: UserMemory,
): Promise<IoctlResult> {
	if (file.released) return fail('EBADF');
	const req = iocFields(request);
	if (req.type !== DRM_IOCTL_BASE) return fail('ENOTTY');
	const def = ioctlByNr(req.nr);
	if (def === undefined) return fail('ENOTTY');
	if (arg.length < req.size) return fail('EFAULT');
	const denied = ioctlPermit(TABLE[def.name].flags, file);
	if (denied !== undefined) return fail(denied);
	const layout = def.layout;
	if (layout === undefined) return runEntry(def, file, undefined, mem);
	const defDir = iocFields(def.code).dir;
	const kSize = layout.size;
	const inSize = req.dir & defDir & IOC_WRITE ? Math.min(req.size, kSize) : 0;
	const outSize = req.dir & defDir & IOC_READ ? Math.min(req.size, kSize) : 0;
	const codec = structCodec(layout);
	const kdata = new Uint8Array(kSize);
	kdata.set(arg.subarray(0, inSize));
	const args = codec.decode(kdata, 0);
	const r = await runEntry(def, file, args, mem);
	if (outSize > 0) {
		codec.encode(args, kdata, 0);
		arg.set(kdata.subarray(0, outSize));
	}
	return r;
}

/** A fully zeroed argument of `name` (pads included), to fill in and pass to {@link drmIoctl}. */
export function ioctlArg<K extends IoctlName>(name: K): IoctlArgMap[K] {
	const def = IOCTL_DEFS.find((d) => d.name === name) as IoctlDef;
	return (def.layout === undefined ? undefined : zero(def.layout as RecordLayout)) as IoctlArgMap[K];
}

/** `T` with every field optional, recursively through nested structs (arrays and typed arrays stay whole). */
export type DeepPartial<T> = T extends bigint | number | string | boolean | ArrayLike<unknown>
	? T
	: { [K in keyof T]?: DeepPartial<T[K]> };

function isPlainObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
	if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
	const out: Record<string, unknown> = { ...base };
	for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
	return out;
}

/**
 * Typed convenience over {@link DrmFile.ioctl} for in-process clients: encode `arg` (missing fields,
 * nested ones included, are zero), run the ioctl through the binary path, and return the argument as the
 * kernel copied it back.
 */
export async function drmIoctl<K extends IoctlName>(
	file: DrmFile,
	name: K,
	arg?: DeepPartial<IoctlArgMap[K]>,
	mem: UserMemory = NO_USER_MEMORY,
): Promise<IoctlResult<IoctlArgMap[K]>> {
	const def = IOCTL_DEFS.find((d) => d.name === name) as IoctlDef;
	const layout = def.layout;
	const code = DRM_IOCTL[name];
	if (layout === undefined) {
		const r = await file.ioctl(code, new Uint8Array(0), mem);
		return r.ok ? succeed(undefined as IoctlArgMap[K]) : r;
	}
	const value = deepMerge(zero(layout), arg ?? {});
	const bytes = new Uint8Array(layout.size);
	encode(layout, value as never, bytes, 0);
	const r = await file.ioctl(code, bytes, mem);
	if (!r.ok) return r;
	return succeed(decode(layout, bytes, 0, { snapshot: false }) as unknown as IoctlArgMap[K]);
}
