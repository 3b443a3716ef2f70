/**
 * The uAPI surface: layouts, constants and request codes of `drm.h`, `nouveau_drm.h` and gspkit's
 * private requests.
 *
 * @module
 */

export * from './codes.ts';
export * from './drm.ts';
export * from './gspkit.ts';
export * from './ioc.ts';
export * from './nouveau.ts';
