/**
 * Frame-buffer (PFB) registers: the WPR2 window and the NISO sysmem flush address (hardware reference A.5,
 * Gaps; nova-core `regs.rs`).
 *
 * @module
 */

import type { Bar0 } from '../platform.ts';
import { defineRegister } from '../registers.ts';

/** Low bound of WPR2 (inclusive): bits 31:4 = address >> 12. */
export const NV_PFB_PRI_MMU_WPR2_ADDR_LO = defineRegister(
	{
		name: 'NV_PFB_PRI_MMU_WPR2_ADDR_LO',
		offset: 0x1fa824,
		doc: 'WPR2 start (inclusive), address >> 12 in bits 31:4. After FWSEC-FRTS it equals the FRTS base.',
		fields: { lo_val: { bits: [31, 4] } },
	},
	{
		/** The WPR2 start address in bytes. */
		address: (v) => BigInt(v.get('lo_val')) << 12n,
	},
);

/** High bound of WPR2 (exclusive): bits 31:4 = address >> 12; non-zero means WPR2 is set up. */
export const NV_PFB_PRI_MMU_WPR2_ADDR_HI = defineRegister(
	{
		name: 'NV_PFB_PRI_MMU_WPR2_ADDR_HI',
		offset: 0x1fa828,
		doc: 'WPR2 end (exclusive), address >> 12 in bits 31:4. Non-zero once FWSEC-FRTS carved WPR2.',
		fields: { hi_val: { bits: [31, 4] } },
	},
	{
		/** The WPR2 end address in bytes. */
		address: (v) => BigInt(v.get('hi_val')) << 12n,
		/** Whether WPR2 has been carved (HI ≠ 0). */
		isSet: (v) => v.get('hi_val') !== 0,
	},
);

/** The WPR2 window, `[start, end)` in bytes. */
export interface Wpr2Window {
	readonly start: bigint;
	readonly end: bigint;
}

/** Read the WPR2 window; `undefined` when it is not set up (WPR2_ADDR_HI = 0). */
export function readWpr2(bar: Bar0): Wpr2Window | undefined {
	const hi = NV_PFB_PRI_MMU_WPR2_ADDR_HI.read(bar);
	if (!hi.isSet()) return undefined;
	return { start: NV_PFB_PRI_MMU_WPR2_ADDR_LO.read(bar).address(), end: hi.address() };
}

/** Sysmem flush target address bits 39:8 (address >> 8). */
export const NV_PFB_NISO_FLUSH_SYSMEM_ADDR = defineRegister({
	name: 'NV_PFB_NISO_FLUSH_SYSMEM_ADDR',
	offset: 0x100c10,
	doc: 'Sysmem flush page, address >> 8.',
	fields: { adr_39_08: { bits: [31, 0] } },
});

/** Sysmem flush target address bits 63:40 (address >> 40). */
export const NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI = defineRegister({
	name: 'NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI',
	offset: 0x100c40,
	doc: 'Sysmem flush page, address >> 40.',
	fields: { adr_63_40: { bits: [23, 0] } },
});
