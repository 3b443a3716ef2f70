/**
 * `@gspkit/abi`: the C struct layout/codec runtime, the JSON layout manifest, and the version-neutral
 * firmware ABI interface every `@gspkit/abi-rNNN` package implements. Imports nothing internal.
 *
 * @module
 */

export * from './boot.ts';
export * from './codec.ts';
export * from './errors.ts';
export * from './firmware-abi.ts';
export * from './layout.ts';
export * from './manifest.ts';
export * from './manifest-layout.ts';
export * from './select.ts';
export * from './view.ts';
