/**
 * GA10x boot HAL (GA102–GA107; Ada AD10x uses it too): FWSEC descriptor v3 DMA-loaded with boot ROM
 * signature checking, `HWCFG2` scrubbing and RESET_READY, `RISCV_CPUCTL.ACTIVE_STAT`, LIBOS3 heap.
 *
 * @module
 */

import { R570_LIBOS3_HEAP } from '../fb-layout.ts';
import type { BootHal } from './types.ts';

/** The GA10x/AD10x boot HAL. */
export const GA10X_BOOT_HAL: BootHal = Object.freeze({
	name: 'ga10x',
	falcon: Object.freeze({ scrubbing: 'hwcfg2', resetReady: true, riscvStatus: 'riscv-cpuctl' }),
	fwsecDescriptorVersion: 3,
	booterLoad: 'dma',
	booterSignature: 'RSA3K',
	needsGenBootloader: false,
	hasDisplay: true,
	frtsSize: 1n << 20n,
	heap: R570_LIBOS3_HEAP,
});
