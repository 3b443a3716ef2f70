/**
 * `@gspkit/falcon-boot`: GSP boot — firmware file parsers and locator (this module), VBIOS/FWSEC, falcon
 * loading and the per-generation boot HALs.
 *
 * @module
 */

export * from './firmware/index.ts';
