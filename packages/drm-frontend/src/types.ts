/**
 * Interfaces shared by the DRM file and the frontend (kept in a leaf module so the file, the ioctl
 * handlers and the frontend do not import each other in a cycle).
 *
 * @module
 */

import type { DrmDevice } from './device-api.ts';
import type { GemObject, GemOwner } from './gem.ts';

/** Which device node a file was opened on. */
export type NodeKind = 'primary' | 'render';

/** The driver identity DRM_IOCTL_VERSION reports. */
export interface DriverIdentity {
	/** Driver name (`"nouveau"` by default, so libdrm-based clients pick the nouveau path). */
	readonly name: string;
	/** Driver date string. */
	readonly date: string;
	/** Driver description. */
	readonly desc: string;
	/** Major version (nouveau: 1). */
	readonly major: number;
	/** Minor version (nouveau: 4). */
	readonly minor: number;
	/** Patch level (nouveau: 2). */
	readonly patchlevel: number;
}

/** What a DRM file needs from the frontend (the `drm_device` side of things). */
export interface FrontendContext {
	/** The device. */
	readonly device: DrmDevice;
	/** Driver identity for VERSION. */
	readonly driver: DriverIdentity;
	/** Frees GEM objects (backing memory and fake offset) when their last reference goes. */
	readonly gemOwner: GemOwner;
	/** A device-wide id for a new GEM object. */
	nextGemId(): number;
	/** Reserve a fake mmap offset range of `size` bytes (page multiple). */
	allocMapOffset(size: bigint): bigint;
	/** Make `obj` findable by its fake offset (mmap). */
	registerGem(obj: GemObject): void;
	/** The live GEM object whose fake offset range contains `offset`. */
	gemAtMapOffset(offset: bigint): GemObject | undefined;
	/** The current master file, if any. */
	master: object | null;
	/** A file's last reference went: forget it (and drop mastership). */
	fileReleased(file: object): void;
}
