/**
 * `@gspkit/drm-client`: a libdrm-like TypeScript client for the gspkit-drm socket server — open the
 * device, raw ioctls with the kernel's request codes and struct layouts, typed helpers for GEM, PRIME,
 * syncobjs, VM_INIT/VM_BIND, channels and EXEC, and the wire protocol both sides share.
 *
 * @module
 */

export * from './client.ts';
export * from './connection.ts';
export * from './errors.ts';
export * from './protocol.ts';
