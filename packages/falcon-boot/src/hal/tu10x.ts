/**
 * TU10x boot HAL (Turing): FWSEC descriptor v2 loaded by the PIO-loaded generic falcon bootloader,
 * `DMACTL` scrubbing, no RESET_READY, `RISCV_CORE_SWITCH_RISCV_STATUS`, LIBOS2 heap.
 *
 * @module
 */

import { R570_LIBOS2_HEAP } from '../fb-layout.ts';
import type { BootHal } from './types.ts';

/** The TU10x boot HAL. */
export const TU10X_BOOT_HAL: BootHal = Object.freeze({
	name: 'tu10x',
	falcon: Object.freeze({ scrubbing: 'dmactl', resetReady: false, riscvStatus: 'core-switch' }),
	fwsecDescriptorVersion: 2,
	booterLoad: 'pio',
	booterSignature: 'AES',
	needsGenBootloader: true,
	hasDisplay: true,
	frtsSize: 1n << 20n,
	heap: R570_LIBOS2_HEAP,
});
