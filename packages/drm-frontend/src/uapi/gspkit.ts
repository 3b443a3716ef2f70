/**
 * gspkit's driver-private DRM requests: CPU reads and writes of a GEM object's contents.
 *
 * A kernel driver lets the CPU reach buffer contents through mmap() of a fake offset. A client on the
 * other side of a socket has no shared mapping, so gspkit adds two requests in the style of i915's
 * `GEM_PREAD`/`GEM_PWRITE`. They live at the very end of the driver-private range (`DRM_COMMAND_BASE` +
 * 0x5e and + 0x5f): nouveau allocates its commands upwards from 0x00 and 0x40 (it uses 0x00–0x13 and
 * 0x40–0x44), so these two numbers stay clear of it. Neither waits for the GPU: call GEM_CPU_PREP first.
 *
 * ```c
 * struct drm_gspkit_gem_pread {            // also drm_gspkit_gem_pwrite
 *         __u32 handle;  __u32 pad;  __u64 offset;  __u64 size;  __u64 data_ptr;
 * };
 * #define DRM_GSPKIT_GEM_PREAD   0x5e
 * #define DRM_GSPKIT_GEM_PWRITE  0x5f
 * #define DRM_IOCTL_GSPKIT_GEM_PREAD  DRM_IOW(DRM_COMMAND_BASE + DRM_GSPKIT_GEM_PREAD,  struct drm_gspkit_gem_pread)
 * #define DRM_IOCTL_GSPKIT_GEM_PWRITE DRM_IOW(DRM_COMMAND_BASE + DRM_GSPKIT_GEM_PWRITE, struct drm_gspkit_gem_pwrite)
 * ```
 *
 * @module
 */

import { struct, u32, u64 } from '@gspkit/abi';

/** `DRM_GSPKIT_GEM_PREAD` (offset from `DRM_COMMAND_BASE`). */
export const DRM_GSPKIT_GEM_PREAD = 0x5e;
/** `DRM_GSPKIT_GEM_PWRITE` (offset from `DRM_COMMAND_BASE`). */
export const DRM_GSPKIT_GEM_PWRITE = 0x5f;

/** Layout of `struct drm_gspkit_gem_pread` (32 bytes). */
export const gspkitGemPread = struct('drm_gspkit_gem_pread', [
	['handle', u32],
	['pad', u32],
	['offset', u64],
	['size', u64],
	['data_ptr', u64],
]);

/** struct drm_gspkit_gem_pread - argument of DRM_IOCTL_GSPKIT_GEM_PREAD: copy object bytes to user memory. */
export interface GspkitGemPread {
	/** @handle: the GEM handle to read from (ENOENT if unknown). */
	handle: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @offset: byte offset into the object. */
	offset: bigint;
	/** @size: bytes to copy; `offset` + `size` beyond the object is EINVAL; 0 does nothing. */
	size: bigint;
	/** @data_ptr: user pointer to `size` bytes receiving the data. */
	data_ptr: bigint;
}

/** Layout of `struct drm_gspkit_gem_pwrite` (32 bytes). */
export const gspkitGemPwrite = struct('drm_gspkit_gem_pwrite', [
	['handle', u32],
	['pad', u32],
	['offset', u64],
	['size', u64],
	['data_ptr', u64],
]);

/** struct drm_gspkit_gem_pwrite - argument of DRM_IOCTL_GSPKIT_GEM_PWRITE: copy user bytes into an object. */
export interface GspkitGemPwrite {
	/** @handle: the GEM handle to write to (ENOENT if unknown). */
	handle: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @offset: byte offset into the object. */
	offset: bigint;
	/** @size: bytes to copy; `offset` + `size` beyond the object is EINVAL; 0 does nothing. */
	size: bigint;
	/** @data_ptr: user pointer to the `size` source bytes. */
	data_ptr: bigint;
}
