/**
 * `NV_PMC_BOOT_0` and `NV_PMC_BOOT_42`: chip identity (hardware reference A.0, after nova-core `regs.rs`).
 *
 * @module
 */

import { ArchitectureCode } from '../architecture.ts';
import { defineRegister } from '../registers.ts';

/** Boot-time identity register present on every NVIDIA GPU; used to reject pre-Fermi chips. */
export const NV_PMC_BOOT_0 = defineRegister(
	{
		name: 'NV_PMC_BOOT_0',
		offset: 0x000000,
		doc: 'Chip identity since NV04. Pre-Fermi chips have architecture_1 = 0 and architecture_0 < 0xc.',
		fields: {
			minor_revision: { bits: [3, 0] },
			major_revision: { bits: [7, 4] },
			architecture_1: { bits: [8, 8], doc: 'Bit 5 of the architecture code.' },
			implementation: { bits: [23, 20] },
			architecture_0: { bits: [28, 24], doc: 'Bits 4:0 of the architecture code.' },
		},
	},
	{
		/** The full architecture code, `architecture_0 | architecture_1 << 5`. */
		architectureCode: (v) => v.get('architecture_0') | (v.get('architecture_1') << 5),
		/** Whether the chip predates Fermi (and so has no usable `NV_PMC_BOOT_42`). */
		isOlderThanFermi: (v) => v.get('architecture_1') === 0 && v.get('architecture_0') < 0xc,
		/** `(architecture << 4) | implementation`, e.g. 0x172. */
		chipset: (v) =>
			((v.get('architecture_0') | (v.get('architecture_1') << 5)) << 4) | v.get('implementation'),
	},
);

/** Chip identity on Fermi and later: the authoritative source of architecture, implementation and revision. */
export const NV_PMC_BOOT_42 = defineRegister(
	{
		name: 'NV_PMC_BOOT_42',
		offset: 0x000a00,
		doc: 'Chip identity (Fermi+). Chipset code = (architecture << 4) | implementation.',
		fields: {
			minor_revision: { bits: [15, 12] },
			major_revision: { bits: [19, 16] },
			implementation: { bits: [23, 20] },
			architecture: { bits: [29, 24], tryAs: ArchitectureCode },
		},
	},
	{
		/** `(architecture << 4) | implementation` from the raw bits, e.g. 0x172 (valid even for unknown codes). */
		chipset: (v) => (v.getRaw('architecture') << 4) | v.getRaw('implementation'),
	},
);
