/**
 * Always-on (GC6) secure scratch registers: GFW boot progress and the usable FB size
 * (hardware reference A.7; nova-core `regs.rs`).
 *
 * @module
 */

import { defineRegister } from '../registers.ts';

/** Usable frame-buffer size in MiB, as the VBIOS/GFW reports it. */
export const NV_PGC6_AON_SECURE_SCRATCH_GROUP_42 = defineRegister(
	{
		name: 'NV_PGC6_AON_SECURE_SCRATCH_GROUP_42',
		offset: 0x1183a4,
		doc: 'Usable FB size in MiB (NV_USABLE_FB_SIZE_IN_MB).',
		fields: { value: { bits: [31, 0] } },
	},
	{
		/** Usable FB size in MiB. */
		usableFbSizeMiB: (v) => v.get('value'),
		/** Usable FB size in bytes. */
		usableFbSizeBytes: (v) => BigInt(v.get('value')) << 20n,
	},
);

/** Read permission for the GFW boot progress register: bit 0 must be set before it can be read. */
export const NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK = defineRegister({
	name: 'NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK',
	offset: 0x118128,
	doc: 'Privilege mask of the GFW boot scratch; bit 0 = level-0 (driver) reads allowed.',
	fields: { read_protection_level0: { bit: 0 } },
});

/** GFW (VBIOS devinit) boot progress: 0xff in bits 7:0 when the GPU firmware finished booting. */
export const NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT = defineRegister(
	{
		name: 'NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT',
		offset: 0x118234,
		doc: 'GFW boot progress; 0xff = complete.',
		fields: { progress: { bits: [7, 0] } },
	},
	{
		/** Whether GFW boot has completed. */
		completed: (v) => v.get('progress') === 0xff,
	},
);
