/**
 * Handlers of the DRM core ioctls other than syncobjs: VERSION, GET_CAP, SET_CLIENT_CAP, SET/DROP_MASTER,
 * GEM_CLOSE and PRIME import/export.
 *
 * @module
 */

import { fail, type IoctlResult, OK } from './errors.ts';
import type { DrmFile } from './file.ts';
import { DmaBuf } from './gem.ts';
import { copyToUser, type UserMemory } from './memory.ts';
import {
	DRM_CAP_PRIME,
	DRM_CAP_SYNCOBJ,
	DRM_CAP_SYNCOBJ_TIMELINE,
	DRM_CAP_TIMESTAMP_MONOTONIC,
	DRM_CLOEXEC,
	DRM_PRIME_CAP_EXPORT,
	DRM_PRIME_CAP_IMPORT,
	DRM_RDWR,
	type DrmGemClose,
	type DrmGetCap,
	type DrmPrimeHandle,
	type DrmSetClientCap,
	type DrmVersion,
} from './uapi/drm.ts';

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** `drm_copy_field`: copy at most `*len` bytes (no NUL), report the full length. */
function copyField(mem: UserMemory, value: string, len: bigint, ptr: bigint): { len: bigint; ok: boolean } {
	const bytes = latin1(value);
	const full = BigInt(bytes.length);
	const n = full < len ? full : len;
	if (n > 0n && ptr !== 0n && !copyToUser(mem, ptr, bytes.subarray(0, Number(n))))
		return { len: full, ok: false };
	return { len: full, ok: true };
}

/** DRM_IOCTL_VERSION: driver version and the name/date/description strings (two-pass sizing). */
export function drmVersionIoctl(file: DrmFile, args: DrmVersion, mem: UserMemory): IoctlResult {
	const d = file.frontend.driver;
	args.version_major = d.major;
	args.version_minor = d.minor;
	args.version_patchlevel = d.patchlevel;
	const name = copyField(mem, d.name, args.name_len, args.name);
	args.name_len = name.len;
	if (!name.ok) return fail('EFAULT');
	const date = copyField(mem, d.date, args.date_len, args.date);
	args.date_len = date.len;
	if (!date.ok) return fail('EFAULT');
	const desc = copyField(mem, d.desc, args.desc_len, args.desc);
	args.desc_len = desc.len;
	if (!desc.ok) return fail('EFAULT');
	return OK;
}

/**
 * DRM_IOCTL_GET_CAP. A render-only driver answers the caps that make sense without KMS
 * (TIMESTAMP_MONOTONIC, PRIME, SYNCOBJ, SYNCOBJ_TIMELINE); every other cap is EOPNOTSUPP.
 */
export function drmGetCapIoctl(_file: DrmFile, args: DrmGetCap): IoctlResult {
	switch (args.capability) {
		case DRM_CAP_TIMESTAMP_MONOTONIC:
			args.value = 1n;
			return OK;
		case DRM_CAP_PRIME:
			args.value = DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT;
			return OK;
		case DRM_CAP_SYNCOBJ:
		case DRM_CAP_SYNCOBJ_TIMELINE:
			args.value = 1n;
			return OK;
		default:
			return fail('EOPNOTSUPP');
	}
}

/** DRM_IOCTL_SET_CLIENT_CAP: every client cap needs KMS, which this driver has not: EOPNOTSUPP. */
export function drmSetClientCapIoctl(_file: DrmFile, _args: DrmSetClientCap): IoctlResult {
	return fail('EOPNOTSUPP');
}

/** `drm_master_check_perm`: a former master may come back; otherwise CAP_SYS_ADMIN is needed. */
function masterPerm(file: DrmFile): IoctlResult {
	return file.wasMaster || file.privileged ? OK : fail('EACCES');
}

/** DRM_IOCTL_SET_MASTER (primary node only). EBUSY while another file is master. */
export function drmSetMasterIoctl(file: DrmFile): IoctlResult {
	const perm = masterPerm(file);
	if (!perm.ok) return perm;
	if (file.isMaster) return OK;
	if (file.frontend.master !== null) return fail('EBUSY');
	file.frontend.master = file;
	file.wasMaster = true;
	file.authenticated = true;
	return OK;
}

/** DRM_IOCTL_DROP_MASTER. EINVAL unless this file is the master. */
export function drmDropMasterIoctl(file: DrmFile): IoctlResult {
	const perm = masterPerm(file);
	if (!perm.ok) return perm;
	if (!file.isMaster) return fail('EINVAL');
	file.frontend.master = null;
	return OK;
}

/**
 * DRM_IOCTL_GEM_CLOSE: drop one handle. An unknown handle is EINVAL (the core's answer; driver lookups
 * say ENOENT). `pad` must be zero (gspkit checks it, Xe-style; the kernel ignores it).
 */
export function drmGemCloseIoctl(file: DrmFile, args: DrmGemClose): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	return file.gemHandleDelete(args.handle) ? OK : fail('EINVAL');
}

/**
 * DRM_IOCTL_PRIME_HANDLE_TO_FD: export a GEM object as a dma-buf descriptor in the caller's process.
 * Flags other than CLOEXEC/RDWR are EINVAL, an unknown handle ENOENT, a NO_SHARE object EPERM. An object
 * already exported is exported as the same dma-buf again.
 */
export function drmPrimeHandleToFdIoctl(file: DrmFile, args: DrmPrimeHandle): IoctlResult {
	if (args.flags & ~(DRM_CLOEXEC | DRM_RDWR)) return fail('EINVAL');
	const obj = file.lookupGem(args.handle);
	if (obj === undefined) return fail('ENOENT');
	let buf = file.primeByHandle.get(args.handle);
	if (buf !== undefined) buf.get();
	else if (obj.dmaBuf !== null) {
		buf = obj.dmaBuf.get();
		file.primeAdd(buf, args.handle);
	} else {
		if (obj.noShare) return fail('EPERM');
		buf = new DmaBuf(obj, file.frontend);
		obj.dmaBuf = buf.get();
		file.primeAdd(buf, args.handle);
	}
	const fd = file.process.install(buf);
	if (!fd.ok) {
		buf.put();
		return fd;
	}
	args.fd = fd.value;
	return OK;
}

/**
 * DRM_IOCTL_PRIME_FD_TO_HANDLE: import a dma-buf. A descriptor that is not open is EBADF, one that is
 * not a dma-buf EINVAL, a dma-buf of another device EOPNOTSUPP (no foreign import). When this file
 * already has a handle for the dma-buf (it exported or imported it), that same handle is returned.
 */
export function drmPrimeFdToHandleIoctl(file: DrmFile, args: DrmPrimeHandle): IoctlResult {
	const f = file.process.peek(args.fd);
	if (f === undefined) return fail('EBADF');
	if (!(f instanceof DmaBuf)) return fail('EINVAL');
	const cached = file.primeByBuf.get(f);
	if (cached !== undefined) {
		args.handle = cached;
		return OK;
	}
	if (f.exporter !== file.frontend) return fail('EOPNOTSUPP');
	const obj = f.gem;
	let setCache = false;
	if (obj.dmaBuf === null) {
		obj.dmaBuf = f.get();
		setCache = true;
	}
	const h = file.gemHandleCreate(obj);
	if (!h.ok) {
		if (setCache && obj.handleCount === 0) {
			obj.dmaBuf = null;
			f.put();
		}
		return h;
	}
	file.primeAdd(f, h.value);
	args.handle = h.value;
	return OK;
}
