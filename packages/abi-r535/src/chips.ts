/**
 * The chips r535 (535.113.01) serves and the firmware files each needs, as published in
 * `linux-firmware` (`nvidia/<chip>/gsp/*-535.113.01.bin`). Turing and GA100 also need the generic falcon
 * bootloader for FWSEC; the 535.113.01 set ships it as `nvidia/<chip>/acr/bl.bin` (there is no
 * `gen_bootloader-535.113.01.bin`), which is what nouveau's r535 path loads.
 *
 * @module
 */

import { AbiError } from '@gspkit/abi';

/** Firmware version of this branch. */
export const R535_VERSION = '535.113.01';

/** TU10x, TU11x, GA100, GA10x and AD10x: the chips nouveau's `*_gsps[]` tables pair with 535.113.01. */
export const R535_CHIPS: readonly string[] = Object.freeze([
	'tu102',
	'tu104',
	'tu106',
	'tu116',
	'tu117',
	'ga100',
	'ga102',
	'ga103',
	'ga104',
	'ga106',
	'ga107',
	'ad102',
	'ad103',
	'ad104',
	'ad106',
	'ad107',
]);

/** Whether FWSEC on `chip` needs the generic falcon bootloader (Turing and GA100). */
export function needsGenericBootloader(chip: string): boolean {
	return chip.startsWith('tu') || chip === 'ga100';
}

/** The booter-path files of `chip` for `version`: booter_load, booter_unload, bootloader, gsp. */
export function booterFiles(chip: string, version: string): string[] {
	return ['booter_load', 'booter_unload', 'bootloader', 'gsp'].map(
		(k) => `nvidia/${chip}/gsp/${k}-${version}.bin`,
	);
}

/** Required firmware files of `chip` under r535 (`ABI_NOT_FOUND` for a chip it does not serve). */
export function r535FirmwareFiles(chip: string): string[] {
	if (!R535_CHIPS.includes(chip)) {
		throw new AbiError('ABI_NOT_FOUND', `firmware ABI ${R535_VERSION} does not serve chip '${chip}'`, {
			version: R535_VERSION,
			chip,
		});
	}
	const files = booterFiles(chip, R535_VERSION);
	if (needsGenericBootloader(chip)) files.push(`nvidia/${chip}/acr/bl.bin`);
	return files;
}
