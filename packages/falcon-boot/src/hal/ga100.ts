/**
 * GA100 boot HAL: like TU10x (FWSEC descriptor v2, `DMACTL` scrubbing, the TU10x-style RISC-V core switch,
 * PIO-loaded booter, LIBOS2 heap) but without a display engine, so the VGA workspace is always the top MiB of
 * FB, and with an empty FRTS region: nova's GA100 FB HAL returns an FRTS size of 0 and does not run
 * FWSEC-FRTS ("GA100 is a special case where its FRTS region exists, but is empty"); booter sets WPR2 up.
 *
 * @module
 */

import { R570_LIBOS2_HEAP } from '../fb-layout.ts';
import type { BootHal } from './types.ts';

/** The GA100 boot HAL. */
export const GA100_BOOT_HAL: BootHal = Object.freeze({
	name: 'ga100',
	falcon: Object.freeze({ scrubbing: 'dmactl', resetReady: false, riscvStatus: 'core-switch' }),
	fwsecDescriptorVersion: 2,
	booterLoad: 'pio',
	booterSignature: 'RSA3K',
	// FWSEC is not run, so the generic bootloader that would load it is not needed.
	needsGenBootloader: false,
	hasDisplay: false,
	frtsSize: 0n,
	heap: R570_LIBOS2_HEAP,
});
