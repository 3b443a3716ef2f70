/**
 * The ioctl request codes the frontend serves, computed with the kernel's `_IOC` encoding from each
 * argument layout's size, so a layout that drifts from the kernel's changes the code and the gcc test
 * catches it.
 *
 * @module
 */

import { type RecordLayout, sizeof } from '@gspkit/abi';
import {
	drmGemClose,
	drmGetCap,
	drmPrimeHandle,
	drmSetClientCap,
	drmSyncobjArray,
	drmSyncobjCreate,
	drmSyncobjDestroy,
	drmSyncobjHandle,
	drmSyncobjTimelineArray,
	drmSyncobjTimelineWait,
	drmSyncobjTransfer,
	drmSyncobjWait,
	drmVersion,
} from './drm.ts';
import { DRM_GSPKIT_GEM_PREAD, DRM_GSPKIT_GEM_PWRITE, gspkitGemPread, gspkitGemPwrite } from './gspkit.ts';
import { DRM_COMMAND_BASE, drmIo, drmIor, drmIow, drmIowr } from './ioc.ts';
import {
	DRM_NOUVEAU_CHANNEL_ALLOC,
	DRM_NOUVEAU_CHANNEL_FREE,
	DRM_NOUVEAU_EXEC,
	DRM_NOUVEAU_GEM_CPU_FINI,
	DRM_NOUVEAU_GEM_CPU_PREP,
	DRM_NOUVEAU_GEM_INFO,
	DRM_NOUVEAU_GEM_NEW,
	DRM_NOUVEAU_GETPARAM,
	DRM_NOUVEAU_VM_BIND,
	DRM_NOUVEAU_VM_INIT,
	nouveauChannelAlloc,
	nouveauChannelFree,
	nouveauExec,
	nouveauGemCpuFini,
	nouveauGemCpuPrep,
	nouveauGemInfo,
	nouveauGemNew,
	nouveauGetparam,
	nouveauVmBind,
	nouveauVmInit,
} from './nouveau.ts';

/** Direction of an ioctl's argument, as encoded in its request code. */
export type IoctlDirection = 'none' | 'read' | 'write' | 'readwrite';

/** One served ioctl: its name (the `DRM_IOCTL_` suffix), number, direction and argument layout. */
export interface IoctlDef {
	/** The C macro name without `DRM_IOCTL_`, e.g. `'SYNCOBJ_WAIT'` or `'NOUVEAU_GEM_NEW'`. */
	readonly name: IoctlName;
	/** `_IOC_NR`: the command number (driver commands include `DRM_COMMAND_BASE`). */
	readonly nr: number;
	/** `_IOC_DIR` as a word. */
	readonly dir: IoctlDirection;
	/** The argument's layout (`undefined` for `DRM_IO` requests without an argument). */
	readonly layout: RecordLayout | undefined;
	/** The request code. */
	readonly code: number;
}

function def(name: IoctlName, dir: IoctlDirection, nr: number, layout?: RecordLayout): IoctlDef {
	const size = layout === undefined ? 0 : sizeof(layout);
	const code =
		dir === 'none'
			? drmIo(nr)
			: dir === 'write'
				? drmIow(nr, size)
				: dir === 'read'
					? drmIor(nr, size)
					: drmIowr(nr, size);
	return Object.freeze({ name, nr, dir, layout, code });
}

const D = DRM_COMMAND_BASE;

/** Every ioctl the frontend serves, in request-number order. */
export const IOCTL_DEFS: readonly IoctlDef[] = Object.freeze([
	def('VERSION', 'readwrite', 0x00, drmVersion),
	def('GEM_CLOSE', 'write', 0x09, drmGemClose),
	def('GET_CAP', 'readwrite', 0x0c, drmGetCap),
	def('SET_CLIENT_CAP', 'write', 0x0d, drmSetClientCap),
	def('SET_MASTER', 'none', 0x1e),
	def('DROP_MASTER', 'none', 0x1f),
	def('PRIME_HANDLE_TO_FD', 'readwrite', 0x2d, drmPrimeHandle),
	def('PRIME_FD_TO_HANDLE', 'readwrite', 0x2e, drmPrimeHandle),
	def('NOUVEAU_GETPARAM', 'readwrite', D + DRM_NOUVEAU_GETPARAM, nouveauGetparam),
	def('NOUVEAU_CHANNEL_ALLOC', 'readwrite', D + DRM_NOUVEAU_CHANNEL_ALLOC, nouveauChannelAlloc),
	def('NOUVEAU_CHANNEL_FREE', 'write', D + DRM_NOUVEAU_CHANNEL_FREE, nouveauChannelFree),
	def('NOUVEAU_VM_INIT', 'readwrite', D + DRM_NOUVEAU_VM_INIT, nouveauVmInit),
	def('NOUVEAU_VM_BIND', 'readwrite', D + DRM_NOUVEAU_VM_BIND, nouveauVmBind),
	def('NOUVEAU_EXEC', 'readwrite', D + DRM_NOUVEAU_EXEC, nouveauExec),
	def('NOUVEAU_GEM_NEW', 'readwrite', D + DRM_NOUVEAU_GEM_NEW, nouveauGemNew),
	def('NOUVEAU_GEM_CPU_PREP', 'write', D + DRM_NOUVEAU_GEM_CPU_PREP, nouveauGemCpuPrep),
	def('NOUVEAU_GEM_CPU_FINI', 'write', D + DRM_NOUVEAU_GEM_CPU_FINI, nouveauGemCpuFini),
	def('NOUVEAU_GEM_INFO', 'readwrite', D + DRM_NOUVEAU_GEM_INFO, nouveauGemInfo),
	def('GSPKIT_GEM_PREAD', 'write', D + DRM_GSPKIT_GEM_PREAD, gspkitGemPread),
	def('GSPKIT_GEM_PWRITE', 'write', D + DRM_GSPKIT_GEM_PWRITE, gspkitGemPwrite),
	def('SYNCOBJ_CREATE', 'readwrite', 0xbf, drmSyncobjCreate),
	def('SYNCOBJ_DESTROY', 'readwrite', 0xc0, drmSyncobjDestroy),
	def('SYNCOBJ_HANDLE_TO_FD', 'readwrite', 0xc1, drmSyncobjHandle),
	def('SYNCOBJ_FD_TO_HANDLE', 'readwrite', 0xc2, drmSyncobjHandle),
	def('SYNCOBJ_WAIT', 'readwrite', 0xc3, drmSyncobjWait),
	def('SYNCOBJ_RESET', 'readwrite', 0xc4, drmSyncobjArray),
	def('SYNCOBJ_SIGNAL', 'readwrite', 0xc5, drmSyncobjArray),
	def('SYNCOBJ_TIMELINE_WAIT', 'readwrite', 0xca, drmSyncobjTimelineWait),
	def('SYNCOBJ_QUERY', 'readwrite', 0xcb, drmSyncobjTimelineArray),
	def('SYNCOBJ_TRANSFER', 'readwrite', 0xcc, drmSyncobjTransfer),
	def('SYNCOBJ_TIMELINE_SIGNAL', 'readwrite', 0xcd, drmSyncobjTimelineArray),
]);

/** Names of the served ioctls (the C macro suffix after `DRM_IOCTL_`). */
export type IoctlName =
	| 'VERSION'
	| 'GEM_CLOSE'
	| 'GET_CAP'
	| 'SET_CLIENT_CAP'
	| 'SET_MASTER'
	| 'DROP_MASTER'
	| 'PRIME_HANDLE_TO_FD'
	| 'PRIME_FD_TO_HANDLE'
	| 'NOUVEAU_GETPARAM'
	| 'NOUVEAU_CHANNEL_ALLOC'
	| 'NOUVEAU_CHANNEL_FREE'
	| 'NOUVEAU_VM_INIT'
	| 'NOUVEAU_VM_BIND'
	| 'NOUVEAU_EXEC'
	| 'NOUVEAU_GEM_NEW'
	| 'NOUVEAU_GEM_CPU_PREP'
	| 'NOUVEAU_GEM_CPU_FINI'
	| 'NOUVEAU_GEM_INFO'
	| 'GSPKIT_GEM_PREAD'
	| 'GSPKIT_GEM_PWRITE'
	| 'SYNCOBJ_CREATE'
	| 'SYNCOBJ_DESTROY'
	| 'SYNCOBJ_HANDLE_TO_FD'
	| 'SYNCOBJ_FD_TO_HANDLE'
	| 'SYNCOBJ_WAIT'
	| 'SYNCOBJ_RESET'
	| 'SYNCOBJ_SIGNAL'
	| 'SYNCOBJ_TIMELINE_WAIT'
	| 'SYNCOBJ_QUERY'
	| 'SYNCOBJ_TRANSFER'
	| 'SYNCOBJ_TIMELINE_SIGNAL';

/** Request codes by name: `DRM_IOCTL.SYNCOBJ_WAIT === 0xc02864c3`, like the C `DRM_IOCTL_SYNCOBJ_WAIT`. */
export const DRM_IOCTL: Readonly<Record<IoctlName, number>> = Object.freeze(
	Object.fromEntries(IOCTL_DEFS.map((d) => [d.name, d.code])) as Record<IoctlName, number>,
);

const BY_NR: ReadonlyMap<number, IoctlDef> = new Map(IOCTL_DEFS.map((d) => [d.nr, d]));

/** The served ioctl with command number `nr`, or `undefined`. */
export function ioctlByNr(nr: number): IoctlDef | undefined {
	return BY_NR.get(nr);
}
