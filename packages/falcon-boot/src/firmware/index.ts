/**
 * Firmware files: parsers for every file in `nvidia/<chip>/gsp/`, the firmware locator and the loader.
 *
 * @module
 */

export * from './bin-hdr.ts';
export * from './chips.ts';
export * from './elf.ts';
export * from './errors.ts';
export * from './fmc.ts';
export * from './gen-bootloader.ts';
export * from './gsp-elf.ts';
export * from './hs.ts';
export * from './identify.ts';
export * from './load.ts';
export * from './locate.ts';
export { ByteReader } from './reader.ts';
export * from './riscv-desc.ts';
