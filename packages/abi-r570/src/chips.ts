/**
 * The chips r570 (570.144) serves and the firmware files each needs (`linux-firmware`,
 * `nvidia/<chip>/gsp/*-570.144.bin`): the booter path (Turing, Ampere, Ada) as in r535 — with the
 * generic bootloader now shipped as `gen_bootloader-570.144.bin` — plus Hopper and Blackwell, which boot
 * through the FSP with `fmc` and `bootloader` and have no booter. Ada's `scrubber-570.144.bin` is
 * optional and not listed.
 *
 * @module
 */

import { AbiError } from '@gspkit/abi';
import { booterFiles, needsGenericBootloader, R535_CHIPS } from '@gspkit/abi-r535';

/** Firmware version of this branch. */
export const R570_VERSION = '570.144';

/** Hopper and Blackwell chips (FSP boot path). */
export const FSP_CHIPS: readonly string[] = Object.freeze([
	'gh100',
	'gb100',
	'gb102',
	'gb202',
	'gb203',
	'gb205',
	'gb206',
	'gb207',
]);

/** Every chip r570 serves: r535's plus GH100, GB10x and GB20x. */
export const R570_CHIPS: readonly string[] = Object.freeze([...R535_CHIPS, ...FSP_CHIPS]);

/** Required firmware files of `chip` under r570 (`ABI_NOT_FOUND` for a chip it does not serve). */
export function r570FirmwareFiles(chip: string): string[] {
	if (!R570_CHIPS.includes(chip)) {
		throw new AbiError('ABI_NOT_FOUND', `firmware ABI ${R570_VERSION} does not serve chip '${chip}'`, {
			version: R570_VERSION,
			chip,
		});
	}
	if (FSP_CHIPS.includes(chip))
		return ['bootloader', 'fmc', 'gsp'].map((k) => `nvidia/${chip}/gsp/${k}-${R570_VERSION}.bin`);
	const files = booterFiles(chip, R570_VERSION);
	if (needsGenericBootloader(chip)) files.push(`nvidia/${chip}/gsp/gen_bootloader-${R570_VERSION}.bin`);
	return files;
}
