/**
 * What the application composes: the simulated GPU, the firmware ABI packages it ships, and the firmware
 * to boot — the published files when they are found, else the synthetic set `gpu-sim` generates in the same
 * formats. `@gspkit/core` imports none of these; the app hands them in.
 *
 * @module
 */

import { type FirmwareAbi, isAbiError } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import { type Device, type FirmwareFiles, type OpenDeviceOptions, openDevice } from '@gspkit/core';
import { type SimulatedGpu, SYNTHETIC_FIRMWARE_VERSIONS, syntheticFirmware } from '@gspkit/gpu-sim';
import type { Platform } from '@gspkit/hal';

/** The firmware ABIs this driver ships, newest first. */
export const ABIS: readonly FirmwareAbi[] = Object.freeze([r570, r535]);

/** Label of the synthetic firmware source. */
export const SYNTHETIC_LABEL = 'synthetic (gpu-sim)';

/**
 * gpu-sim's synthetic firmware for `chip`, every version it generates, under the names the ABIs list
 * (`nvidia/<chip>/gsp/…`, `nvidia/<chip>/acr/bl.bin`).
 */
export function syntheticFirmwareFiles(chip: string): FirmwareFiles {
	const files = new Map<string, Uint8Array>();
	for (const version of SYNTHETIC_FIRMWARE_VERSIONS) {
		for (const [rel, bytes] of syntheticFirmware(chip, version).files) {
			files.set(`nvidia/${chip.toLowerCase()}/${rel}`, bytes);
		}
	}
	return files;
}

/** How to pick the firmware. */
export interface FirmwareChoiceOptions {
	/** A firmware directory given by the user: searched alone, no fallback. */
	readonly path?: string;
	/** Use the synthetic firmware even if real files exist. */
	readonly synthetic?: boolean;
	/** ABI override (`'535'`, `'570'`). */
	readonly abi?: string;
}

/**
 * Open the device: real firmware from `path` (alone), else from `GSPKIT_FIRMWARE_PATH`, `/lib/firmware` and
 * the project cache; when none of those has a complete set for the chip (and no path was given), gpu-sim's
 * synthetic firmware. Which was used is in `device.info.firmware` (`source`, `label`, `files`).
 */
export async function openSimulatedDevice(
	gpu: SimulatedGpu | Platform,
	chip: string,
	choice: FirmwareChoiceOptions,
	options: Omit<OpenDeviceOptions, 'abis' | 'firmware' | 'abiOverride'> = {},
): Promise<Device> {
	const common = { ...options, abis: ABIS, ...(choice.abi === undefined ? {} : { abiOverride: choice.abi }) };
	const synthetic = () =>
		openDevice(gpu, { ...common, firmware: { files: syntheticFirmwareFiles(chip), label: SYNTHETIC_LABEL } });
	if (choice.synthetic === true) return synthetic();
	try {
		return await openDevice(gpu, {
			...common,
			firmware: choice.path === undefined ? {} : { path: choice.path, onlyPath: true },
		});
	} catch (e) {
		// No published set anywhere (selection fails with abi's ABI_NOT_FOUND): boot gpu-sim's synthetic files.
		if (choice.path === undefined && isAbiError(e, 'ABI_NOT_FOUND')) return synthetic();
		throw e;
	}
}
