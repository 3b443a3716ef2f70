/**
 * Display registers used by the FB layout: the VGA workspace base (hardware reference A.7, nova-core `fb.rs`).
 *
 * @module
 */

import { defineRegister } from '../registers.ts';

/** Where the VBIOS placed the VGA workspace, when `status_valid` is set. */
export const NV_PDISP_VGA_WORKSPACE_BASE = defineRegister(
	{
		name: 'NV_PDISP_VGA_WORKSPACE_BASE',
		offset: 0x625f04,
		doc: 'VGA workspace base: address bits 31:8 (<< 16) valid when bit 3 is set.',
		fields: {
			status_valid: { bit: 3 },
			addr: { bits: [31, 8], doc: 'Workspace address >> 16.' },
		},
	},
	{
		/** The VGA workspace address in bytes, or `undefined` if the register is not valid. */
		vgaWorkspaceAddress: (v) => (v.get('status_valid') ? BigInt(v.get('addr')) << 16n : undefined),
	},
);
