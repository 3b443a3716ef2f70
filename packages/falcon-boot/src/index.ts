/**
 * `@gspkit/falcon-boot`: GSP boot — firmware file parsers and locator, VBIOS/FWSEC, falcon loading, the FB
 * layout, radix3, the WPR meta and LIBOS arguments, and the per-generation boot HALs behind {@link bootGsp}.
 *
 * @module
 */

export * from './boot.ts';
export * from './boot-abi.ts';
export * from './errors.ts';
export * from './falcon.ts';
export * from './fb-layout.ts';
export * from './firmware/index.ts';
export * from './fuse.ts';
export * from './fwsec.ts';
export * from './gsp-file.ts';
export * from './hal/index.ts';
export * from './libos.ts';
export * from './pci-reset.ts';
export * from './radix3.ts';
export * from './vbios.ts';
export * from './wpr-meta.ts';
