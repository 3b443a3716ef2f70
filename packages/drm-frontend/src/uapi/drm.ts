/**
 * DRM core uAPI (`include/uapi/drm/drm.h`): the argument structs of the core ioctls the frontend serves,
 * as x86-64 layouts, with kernel-doc style comments per field, and the constants that go with them.
 *
 * Each struct has two names: a layout (`drmGemClose`, for encode/decode) and an interface
 * (`DrmGemClose`, the decoded value, documented field by field). A compile-time check keeps the two equal.
 *
 * @module
 */

import { i32, i64, struct, u32, u64 } from '@gspkit/abi';

// ───────────────────────────── DRM_IOCTL_VERSION ─────────────────────────────

/** Layout of `struct drm_version` (64 bytes; 4 bytes of padding after `version_patchlevel`). */
export const drmVersion = struct('drm_version', [
	['version_major', i32],
	['version_minor', i32],
	['version_patchlevel', i32],
	['name_len', u64],
	['name', u64],
	['date_len', u64],
	['date', u64],
	['desc_len', u64],
	['desc', u64],
]);

/**
 * struct drm_version - argument of DRM_IOCTL_VERSION.
 *
 * A two-pass query: the kernel writes each string's full length into its `*_len` field and copies at most
 * the given length (no terminating NUL) to the user buffer, so a first call with zero lengths sizes the
 * buffers for the second.
 */
export interface DrmVersion {
	/** @version_major: driver major version (out). */
	version_major: number;
	/** @version_minor: driver minor version (out). */
	version_minor: number;
	/** @version_patchlevel: driver patch level (out). */
	version_patchlevel: number;
	/** @name_len: in: size of the `name` buffer; out: length of the driver name. */
	name_len: bigint;
	/** @name: user pointer to the buffer receiving the driver name (may be 0 when `name_len` is 0). */
	name: bigint;
	/** @date_len: in: size of the `date` buffer; out: length of the driver date string. */
	date_len: bigint;
	/** @date: user pointer to the buffer receiving the date string. */
	date: bigint;
	/** @desc_len: in: size of the `desc` buffer; out: length of the description. */
	desc_len: bigint;
	/** @desc: user pointer to the buffer receiving the description. */
	desc: bigint;
}

// ───────────────────────────── DRM_IOCTL_GET_CAP / SET_CLIENT_CAP ─────────────────────────────

/** Layout of `struct drm_get_cap` (16 bytes). */
export const drmGetCap = struct('drm_get_cap', [
	['capability', u64],
	['value', u64],
]);

/** struct drm_get_cap - argument of DRM_IOCTL_GET_CAP. */
export interface DrmGetCap {
	/** @capability: one of the `DRM_CAP_*` values (in). */
	capability: bigint;
	/** @value: the capability's value (out). */
	value: bigint;
}

/** Layout of `struct drm_set_client_cap` (16 bytes). */
export const drmSetClientCap = struct('drm_set_client_cap', [
	['capability', u64],
	['value', u64],
]);

/** struct drm_set_client_cap - argument of DRM_IOCTL_SET_CLIENT_CAP. */
export interface DrmSetClientCap {
	/** @capability: one of the `DRM_CLIENT_CAP_*` values. */
	capability: bigint;
	/** @value: the value to set (usually 0 or 1). */
	value: bigint;
}

// ───────────────────────────── GEM / PRIME ─────────────────────────────

/** Layout of `struct drm_gem_close` (8 bytes). */
export const drmGemClose = struct('drm_gem_close', [
	['handle', u32],
	['pad', u32],
]);

/** struct drm_gem_close - argument of DRM_IOCTL_GEM_CLOSE: releases one GEM handle of this file. */
export interface DrmGemClose {
	/** @handle: handle of the object to be closed. */
	handle: number;
	/** @pad: padding, must be zero. */
	pad: number;
}

/** Layout of `struct drm_prime_handle` (12 bytes, no padding). */
export const drmPrimeHandle = struct('drm_prime_handle', [
	['handle', u32],
	['flags', u32],
	['fd', i32],
]);

/** struct drm_prime_handle - argument of DRM_IOCTL_PRIME_HANDLE_TO_FD and DRM_IOCTL_PRIME_FD_TO_HANDLE. */
export interface DrmPrimeHandle {
	/** @handle: GEM handle: in for HANDLE_TO_FD, out for FD_TO_HANDLE. */
	handle: number;
	/** @flags: HANDLE_TO_FD only: {@link DRM_CLOEXEC} and/or {@link DRM_RDWR}; unused by FD_TO_HANDLE. */
	flags: number;
	/** @fd: dma-buf file descriptor: out for HANDLE_TO_FD, in for FD_TO_HANDLE. */
	fd: number;
}

// ───────────────────────────── syncobj ─────────────────────────────

/** Layout of `struct drm_syncobj_create` (8 bytes). */
export const drmSyncobjCreate = struct('drm_syncobj_create', [
	['handle', u32],
	['flags', u32],
]);

/** struct drm_syncobj_create - argument of DRM_IOCTL_SYNCOBJ_CREATE. */
export interface DrmSyncobjCreate {
	/** @handle: the new syncobj handle (out). */
	handle: number;
	/** @flags: {@link DRM_SYNCOBJ_CREATE_SIGNALED} or 0; other bits are EINVAL. */
	flags: number;
}

/** Layout of `struct drm_syncobj_destroy` (8 bytes). */
export const drmSyncobjDestroy = struct('drm_syncobj_destroy', [
	['handle', u32],
	['pad', u32],
]);

/** struct drm_syncobj_destroy - argument of DRM_IOCTL_SYNCOBJ_DESTROY. */
export interface DrmSyncobjDestroy {
	/** @handle: the syncobj handle to release; an unknown handle is EINVAL. */
	handle: number;
	/** @pad: padding, must be zero. */
	pad: number;
}

/** Layout of `struct drm_syncobj_handle` (24 bytes). */
export const drmSyncobjHandle = struct('drm_syncobj_handle', [
	['handle', u32],
	['flags', u32],
	['fd', i32],
	['pad', u32],
	['point', u64],
]);

/** struct drm_syncobj_handle - argument of DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD and SYNCOBJ_FD_TO_HANDLE. */
export interface DrmSyncobjHandle {
	/** @handle: the syncobj handle (in for HANDLE_TO_FD and sync-file import, out for opaque FD_TO_HANDLE). */
	handle: number;
	/** @flags: `DRM_SYNCOBJ_{HANDLE_TO_FD,FD_TO_HANDLE}_FLAGS_*` (sync file, timeline). */
	flags: number;
	/** @fd: the file descriptor (out for HANDLE_TO_FD, in for FD_TO_HANDLE). */
	fd: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @point: timeline point, used only with the TIMELINE flag. */
	point: bigint;
}

/** Layout of `struct drm_syncobj_transfer` (32 bytes). */
export const drmSyncobjTransfer = struct('drm_syncobj_transfer', [
	['src_handle', u32],
	['dst_handle', u32],
	['src_point', u64],
	['dst_point', u64],
	['flags', u32],
	['pad', u32],
]);

/** struct drm_syncobj_transfer - argument of DRM_IOCTL_SYNCOBJ_TRANSFER. */
export interface DrmSyncobjTransfer {
	/** @src_handle: syncobj whose fence (at `src_point`) is transferred. */
	src_handle: number;
	/** @dst_handle: syncobj receiving the fence (at @dst_point; 0 = replace, binary behaviour). */
	dst_handle: number;
	/** @src_point: timeline point of the source (0 = its current fence). */
	src_point: bigint;
	/** @dst_point: timeline point to add on the destination (0 = replace its fence). */
	dst_point: bigint;
	/** @flags: 0 or {@link DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT} (wait up to 5 s for the source point). */
	flags: number;
	/** @pad: padding, must be zero. */
	pad: number;
}

/** Layout of `struct drm_syncobj_wait` (40 bytes). */
export const drmSyncobjWait = struct('drm_syncobj_wait', [
	['handles', u64],
	['timeout_nsec', i64],
	['count_handles', u32],
	['flags', u32],
	['first_signaled', u32],
	['pad', u32],
	['deadline_nsec', u64],
]);

/** struct drm_syncobj_wait - argument of DRM_IOCTL_SYNCOBJ_WAIT (host wait on binary syncobjs). */
export interface DrmSyncobjWait {
	/** @handles: user pointer to an array of `count_handles` u32 syncobj handles. */
	handles: bigint;
	/** @timeout_nsec: absolute timeout on the device clock; 0 or a past time polls once. */
	timeout_nsec: bigint;
	/** @count_handles: number of handles; 0 returns success at once. */
	count_handles: number;
	/** @flags: `DRM_SYNCOBJ_WAIT_FLAGS_{WAIT_ALL,WAIT_FOR_SUBMIT,WAIT_DEADLINE}`; others are EINVAL. */
	flags: number;
	/** @first_signaled: index of a signalled syncobj (out; only meaningful without WAIT_ALL). */
	first_signaled: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @deadline_nsec: deadline hint for the fences (with WAIT_DEADLINE); gspkit ignores the hint. */
	deadline_nsec: bigint;
}

/** Layout of `struct drm_syncobj_timeline_wait` (48 bytes). */
export const drmSyncobjTimelineWait = struct('drm_syncobj_timeline_wait', [
	['handles', u64],
	['points', u64],
	['timeout_nsec', i64],
	['count_handles', u32],
	['flags', u32],
	['first_signaled', u32],
	['pad', u32],
	['deadline_nsec', u64],
]);

/** struct drm_syncobj_timeline_wait - argument of DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT. */
export interface DrmSyncobjTimelineWait {
	/** @handles: user pointer to `count_handles` u32 syncobj handles. */
	handles: bigint;
	/** @points: user pointer to `count_handles` u64 timeline points (0 pointer = all points 0). */
	points: bigint;
	/** @timeout_nsec: absolute timeout on the device clock; 0 or a past time polls once. */
	timeout_nsec: bigint;
	/** @count_handles: number of handles; 0 returns success at once. */
	count_handles: number;
	/** @flags: `DRM_SYNCOBJ_WAIT_FLAGS_*` (WAIT_ALL, WAIT_FOR_SUBMIT, WAIT_AVAILABLE, WAIT_DEADLINE). */
	flags: number;
	/** @first_signaled: index of a signalled point (out; only meaningful without WAIT_ALL). */
	first_signaled: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @deadline_nsec: deadline hint (with WAIT_DEADLINE); gspkit ignores the hint. */
	deadline_nsec: bigint;
}

/** Layout of `struct drm_syncobj_array` (16 bytes). */
export const drmSyncobjArray = struct('drm_syncobj_array', [
	['handles', u64],
	['count_handles', u32],
	['pad', u32],
]);

/** struct drm_syncobj_array - argument of DRM_IOCTL_SYNCOBJ_RESET and DRM_IOCTL_SYNCOBJ_SIGNAL. */
export interface DrmSyncobjArray {
	/** @handles: user pointer to `count_handles` u32 syncobj handles. */
	handles: bigint;
	/** @count_handles: number of handles; 0 is EINVAL. */
	count_handles: number;
	/** @pad: padding, must be zero. */
	pad: number;
}

/** Layout of `struct drm_syncobj_timeline_array` (24 bytes). */
export const drmSyncobjTimelineArray = struct('drm_syncobj_timeline_array', [
	['handles', u64],
	['points', u64],
	['count_handles', u32],
	['flags', u32],
]);

/** struct drm_syncobj_timeline_array - argument of DRM_IOCTL_SYNCOBJ_QUERY and SYNCOBJ_TIMELINE_SIGNAL. */
export interface DrmSyncobjTimelineArray {
	/** @handles: user pointer to `count_handles` u32 syncobj handles. */
	handles: bigint;
	/** @points: user pointer to `count_handles` u64 points (QUERY writes them; SIGNAL reads them). */
	points: bigint;
	/** @count_handles: number of handles; 0 is EINVAL. */
	count_handles: number;
	/** @flags: QUERY: {@link DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED}; TIMELINE_SIGNAL: must be 0. */
	flags: number;
}

// ───────────────────────────── constants ─────────────────────────────

/** `DRM_CAP_DUMB_BUFFER`. */
export const DRM_CAP_DUMB_BUFFER = 0x1n;
/** `DRM_CAP_PRIME`: bitfield of {@link DRM_PRIME_CAP_IMPORT} / {@link DRM_PRIME_CAP_EXPORT}. */
export const DRM_CAP_PRIME = 0x5n;
/** `DRM_PRIME_CAP_IMPORT`. */
export const DRM_PRIME_CAP_IMPORT = 0x1n;
/** `DRM_PRIME_CAP_EXPORT`. */
export const DRM_PRIME_CAP_EXPORT = 0x2n;
/** `DRM_CAP_TIMESTAMP_MONOTONIC`. */
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6n;
/** `DRM_CAP_SYNCOBJ`. */
export const DRM_CAP_SYNCOBJ = 0x13n;
/** `DRM_CAP_SYNCOBJ_TIMELINE`. */
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14n;

/** `DRM_CLIENT_CAP_STEREO_3D`. */
export const DRM_CLIENT_CAP_STEREO_3D = 1n;
/** `DRM_CLIENT_CAP_UNIVERSAL_PLANES`. */
export const DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2n;
/** `DRM_CLIENT_CAP_ATOMIC`. */
export const DRM_CLIENT_CAP_ATOMIC = 3n;

/** `DRM_CLOEXEC` (= `O_CLOEXEC` on x86-64). */
export const DRM_CLOEXEC = 0o2000000;
/** `DRM_RDWR` (= `O_RDWR`). */
export const DRM_RDWR = 0o2;

/** `DRM_SYNCOBJ_CREATE_SIGNALED`: create with an already-signalled fence. */
export const DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0;
/** `DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE`: import a sync_file's fence into an existing syncobj. */
export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE = 1 << 0;
/** `DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE`: import at `point`. */
export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE = 1 << 1;
/** `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE`: export the current fence as a sync_file. */
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE = 1 << 0;
/** `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE`: export the fence at `point`. */
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE = 1 << 1;
/** `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL`: wait for every handle instead of any. */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL = 1 << 0;
/** `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT`: wait for a fence to appear instead of failing with EINVAL. */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1;
/** `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE`: (timeline wait) wait only for the point to be submitted. */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE = 1 << 2;
/** `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE`: `deadline_nsec` is valid. */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE = 1 << 3;
/** `DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED`: QUERY returns the last submitted point, not the last signalled. */
export const DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED = 1 << 0;
