/**
 * `NV_PBUS_SW_SCRATCH`: software scratch registers (hardware reference A.5; nova-core `regs.rs`).
 *
 * @module
 */

import { defineAlias, defineRegisterArray } from '../registers.ts';

/** 64 scratch words at 0x1400; firmware reports status in some of them. */
export const NV_PBUS_SW_SCRATCH = defineRegisterArray({
	name: 'NV_PBUS_SW_SCRATCH',
	offset: 0x1400,
	length: 64,
	doc: 'Software scratch registers.',
	fields: { value: { bits: [31, 0] } },
});

/** FWSEC-FRTS error code: `NV_PBUS_SW_SCRATCH[0xe]` (0x1438) bits 31:16; 0 = success. */
export const NV_PBUS_SW_SCRATCH_0E_FRTS_ERR = defineAlias(
	{
		name: 'NV_PBUS_SW_SCRATCH_0E_FRTS_ERR',
		of: NV_PBUS_SW_SCRATCH.at(0xe),
		doc: 'FWSEC-FRTS result: bits 31:16 hold the error code (0 = success).',
		fields: { frts_err_code: { bits: [31, 16] } },
	},
	{
		/** Whether FWSEC-FRTS reported success. */
		succeeded: (v) => v.get('frts_err_code') === 0,
	},
);
