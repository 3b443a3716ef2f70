/**
 * Per-generation boot HALs and their selection.
 *
 * @module
 */

import type { ChipInfo } from '@gspkit/hal';
import { BootUnsupportedError } from '../errors.ts';
import { GA10X_BOOT_HAL } from './ga10x.ts';
import { GA100_BOOT_HAL } from './ga100.ts';
import { TU10X_BOOT_HAL } from './tu10x.ts';
import type { BootHal } from './types.ts';

export { GA10X_BOOT_HAL } from './ga10x.ts';
export { GA100_BOOT_HAL } from './ga100.ts';
export { TU10X_BOOT_HAL } from './tu10x.ts';
export { BOOTER_SIGNATURE_SIZE, type BooterSignatureKind, type BootHal } from './types.ts';

/**
 * The boot HAL for a chip: TU10x, GA100, GA10x (also Ada).
 * @throws BootUnsupportedError for Hopper and Blackwell, which start GSP-RM through the FSP chain of trust.
 */
export function bootHalFor(chip: ChipInfo): BootHal {
	switch (chip.falconBootVariant) {
		case 'tu10x':
			return TU10X_BOOT_HAL;
		case 'ga100':
			return GA100_BOOT_HAL;
		case 'ga10x':
			return GA10X_BOOT_HAL;
		case 'gh100':
		case 'gb10x':
		case 'gb20x':
			throw new BootUnsupportedError(
				chip.name,
				'FSP chain-of-trust: Hopper and Blackwell start GSP-RM through an NVDM COT message to the FSP, not SEC2 booter',
			);
	}
}
