/**
 * GPU architecture codes, shared by the chip table and the `NV_PMC_BOOT_*` register definitions.
 *
 * @module
 */

import { defineEnum, type EnumName } from './registers.ts';

/** GPU architecture generation. Blackwell spans two architecture codes (0x1a GB10x, 0x1b GB20x). */
export type Architecture = 'turing' | 'ampere' | 'hopper' | 'ada' | 'blackwell';

/** Architecture code (`NV_PMC_BOOT_42.architecture`) → architecture, for every GSP-RM architecture. */
export const ARCHITECTURE_CODES: Readonly<Record<number, Architecture>> = Object.freeze({
	22: 'turing',
	23: 'ampere',
	24: 'hopper',
	25: 'ada',
	26: 'blackwell',
	27: 'blackwell',
});

/** The architecture for an architecture code, or `undefined` for pre-Turing and unknown codes. */
export function architectureFromCode(code: number): Architecture | undefined {
	return Object.hasOwn(ARCHITECTURE_CODES, code) ? ARCHITECTURE_CODES[code] : undefined;
}

/**
 * The architecture code as a typed enum, for the `NV_PMC_BOOT_42.architecture` field (nova's `?=> Architecture`).
 * Blackwell has two codes, so the enum keeps them apart; {@link architectureFromCode} folds them.
 */
export const ArchitectureCode = defineEnum('ArchitectureCode', {
	Turing: 0x16,
	Ampere: 0x17,
	Hopper: 0x18,
	Ada: 0x19,
	BlackwellGB10x: 0x1a,
	BlackwellGB20x: 0x1b,
});
/** A member of {@link ArchitectureCode}, e.g. `'Ampere'` or `'BlackwellGB20x'`. */
export type ArchitectureCodeName = EnumName<typeof ArchitectureCode>;
