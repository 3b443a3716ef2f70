/**
 * The plain (non-falcon) registers of the boot flow: the WPR2 bounds FWSEC-FRTS programs, the PBUS
 * software scratch registers FWSEC reports errors in, and the fuse ucode-version arrays the boot ROM
 * consults. They live in the BAR0 register file; the firmware models change them through
 * `RegisterFile.poke` (hardware side), because the host cannot write WPR2 or fuses.
 *
 * @module
 */

import type { RegisterFile } from '../mmio.ts';
import type { BootProfile } from './profile.ts';
import { BOOT_REGS } from './registers.ts';

/** Define WPR2 LO/HI (read-only), `NV_PBUS_SW_SCRATCH(0..63)` (read-write) and the fuse arrays (read-only). */
export function defineBootRegisters(regs: RegisterFile, profile: BootProfile): void {
	regs.define({ name: 'NV_PFB_PRI_MMU_WPR2_ADDR_LO', offset: BOOT_REGS.WPR2_ADDR_LO, reset: 0 });
	regs.define({ name: 'NV_PFB_PRI_MMU_WPR2_ADDR_HI', offset: BOOT_REGS.WPR2_ADDR_HI, reset: 0 });
	for (let i = 0; i < BOOT_REGS.PBUS_SW_SCRATCH_COUNT; i++) {
		regs.define({
			name: `NV_PBUS_SW_SCRATCH(${i})`,
			offset: BOOT_REGS.PBUS_SW_SCRATCH0 + 4 * i,
			reset: 0,
			writableMask: 0xffff_ffff,
		});
	}
	const arrays = [
		['NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION', BOOT_REGS.FUSE_NVDEC_UCODE1_VERSION],
		['NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION', BOOT_REGS.FUSE_SEC2_UCODE1_VERSION],
		['NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION', BOOT_REGS.FUSE_GSP_UCODE1_VERSION],
	] as const;
	for (const [name, base] of arrays) {
		for (let i = 0; i < BOOT_REGS.FUSE_UCODE_VERSION_COUNT; i++) {
			const offset = base + 4 * i;
			regs.define({ name: `${name}(${i})`, offset, reset: profile.fuses.get(offset) ?? 0 });
		}
	}
}
