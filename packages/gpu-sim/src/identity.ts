/**
 * The plain registers every simulated board has from reset: chip identity, usable framebuffer size and
 * the GFW (VBIOS devinit) boot status.
 *
 * @module
 */

import { encodeBoot0, encodeBoot42, type SimChipSpec } from './chips.ts';
import type { RegisterFile } from './mmio.ts';

/** BAR0 offsets of the registers this module defines (reference A.0 and A.7). */
export const IDENTITY_REGISTERS = Object.freeze({
	/** `NV_PMC_BOOT_0`: chip identity, older layout. */
	NV_PMC_BOOT_0: 0x000000,
	/** `NV_PMC_BOOT_42`: chip identity, authoritative on Fermi and later. */
	NV_PMC_BOOT_42: 0x000a00,
	/** Read permission of the GFW boot status: bit 0 set means level 0 (the host) may read it. */
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK: 0x118128,
	/** GFW boot progress; bits 7:0 == 0xff once the VBIOS devinit finished. */
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT: 0x118234,
	/** Usable framebuffer size in MiB (`NV_PGC6_AON_SECURE_SCRATCH_GROUP_42`). */
	NV_USABLE_FB_SIZE_IN_MB: 0x1183a4,
});

/** Value of the GFW boot register once devinit completed (bits 7:0 all set). */
export const GFW_BOOT_COMPLETE = 0xff;

/**
 * Define the identity and boot-status registers of `chip` in `regs`. All are read-only from the host.
 * `vramSize` must be a whole number of MiB.
 */
export function defineIdentityRegisters(regs: RegisterFile, chip: SimChipSpec, vramSize: bigint): void {
	regs.define({ name: 'NV_PMC_BOOT_0', offset: IDENTITY_REGISTERS.NV_PMC_BOOT_0, reset: encodeBoot0(chip) });
	regs.define({
		name: 'NV_PMC_BOOT_42',
		offset: IDENTITY_REGISTERS.NV_PMC_BOOT_42,
		reset: encodeBoot42(chip),
	});
	regs.define({
		name: 'NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK',
		offset: IDENTITY_REGISTERS.NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK,
		reset: 0x1,
	});
	regs.define({
		name: 'NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT',
		offset: IDENTITY_REGISTERS.NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT,
		reset: GFW_BOOT_COMPLETE,
	});
	regs.define({
		name: 'NV_USABLE_FB_SIZE_IN_MB',
		offset: IDENTITY_REGISTERS.NV_USABLE_FB_SIZE_IN_MB,
		reset: Number(vramSize >> 20n),
	});
}
