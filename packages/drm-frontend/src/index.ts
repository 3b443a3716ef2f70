/**
 * `@gspkit/drm-frontend`: the DRM client model with nouveau's uAPI semantics — files, GEM handles and
 * refcounts, PRIME, binary and timeline syncobjs, VM_INIT/VM_BIND/EXEC — over the narrow
 * {@link DrmDevice} interface, which apps/drm-driver implements over `@gspkit/core` (and the tests over a fake).
 *
 * @module
 */

export * from './device.ts';
export * from './device-api.ts';
export * from './errors.ts';
export * from './fd.ts';
export * from './fence.ts';
export * from './file.ts';
export * from './gem.ts';
export * from './handles.ts';
export {
	type DeepPartial,
	drmIoctl,
	type IoctlArgMap,
	type IoctlCaller,
	type IoctlFlags,
	ioctlArg,
	ioctlFlags,
	ioctlPermit,
} from './ioctl.ts';
export { type StructCodec, structCodec } from './ioctl-codec.ts';
export { CPU_PREP_TIMEOUT_NS, execPushMax, NOTIFIER_SIZE } from './ioctl-nouveau.ts';
export * from './memory.ts';
export * from './syncobj.ts';
export type { DriverIdentity, FrontendContext, NodeKind } from './types.ts';
export * from './uapi/index.ts';
export * from './vm.ts';
export { type TimerHandle, timerAt, waitUntil } from './wait.ts';
