/**
 * Class IDs and method tables per GPU generation: the host (channel) class, the copy-engine class and the
 * usermode class, with the per-class differences this package depends on.
 *
 * Sources (method offsets and field ranges, looked up in NVIDIA's published headers):
 * - host: `NVIDIA/open-gpu-kernel-modules` `kernel-open/nvidia-uvm/clc46f.h` (TURING_CHANNEL_GPFIFO_A),
 *   `clc56f.h` (AMPERE_CHANNEL_GPFIFO_A), `src/common/sdk/nvidia/inc/class/clc86f.h` (HOPPER_CHANNEL_GPFIFO_A);
 *   also `NVIDIA/open-gpu-doc` `classes/host/clc56f.h` (hardware reference C.2).
 * - copy: `NVIDIA/open-gpu-doc` `classes/dma-copy/clc5b5.h` (TURING_DMA_COPY_A), `clc8b5.h` (HOPPER_DMA_COPY_A);
 *   `NVIDIA/open-gpu-kernel-modules` `kernel-open/nvidia-uvm/clc6b5.h` (AMPERE_DMA_COPY_A), `clc7b5.h`
 *   (AMPERE_DMA_COPY_B).
 *
 * Per-class differences that matter here:
 * - C46F vs C56F: identical for every method used here (C46F has CRC_CHECK at 0x7c, C56F does not).
 * - C86F (Hopper): `SEM_ADDR_HI.OFFSET` is 24:0 (57-bit semaphore VA) instead of 7:0 (40-bit); GP entry opcode 4
 *   `SET_PB_SEGMENT_EXTENDED_BASE` exists. The published C86F header does not list NOP, NON_STALL_INTERRUPT or
 *   FB_FLUSH; this package uses the C56F offsets for them on Hopper, as nouveau's Volta+ fence code does for every
 *   channel class. (Unverified against a Hopper header; see README.)
 * - C5B5/C6B5/C7B5: `OFFSET_IN/OUT_UPPER` and `SET_SEMAPHORE_A.UPPER` are 16:0; C8B5 widens them to 24:0.
 * - C7B5/C8B5 add `SET_SEMAPHORE_PAYLOAD_UPPER` (0x24c) and `LAUNCH_DMA.SEMAPHORE_PAYLOAD_SIZE` (bit 27) for
 *   64-bit semaphore payloads; C5B5/C6B5 release 32-bit (one-word) semaphores only.
 * - C8B5 reuses LAUNCH_DMA bits 21:20 as COPY_TYPE (they were SRC/DST_BYPASS_L2); this package leaves them 0.
 *
 * @module
 */

import type { Architecture, ChipInfo } from '@gspkit/hal';
import type { Bits } from './bitfields.ts';
import { UnsupportedError } from './errors.ts';

/** Host (channel) class IDs. `AMPERE_CHANNEL_GPFIFO_B` (0xc76f) is listed for recognition only. */
export const HOST_CLASS = Object.freeze({
	TURING_CHANNEL_GPFIFO_A: 0xc46f,
	AMPERE_CHANNEL_GPFIFO_A: 0xc56f,
	AMPERE_CHANNEL_GPFIFO_B: 0xc76f,
	HOPPER_CHANNEL_GPFIFO_A: 0xc86f,
});

/** Copy-engine class IDs. */
export const COPY_CLASS = Object.freeze({
	TURING_DMA_COPY_A: 0xc5b5,
	AMPERE_DMA_COPY_A: 0xc6b5,
	AMPERE_DMA_COPY_B: 0xc7b5,
	HOPPER_DMA_COPY_A: 0xc8b5,
});

/** Usermode (doorbell region) class IDs (hardware reference C.2). */
export const USERMODE_CLASS = Object.freeze({
	TURING_USERMODE_A: 0xc461,
	AMPERE_USERMODE_A: 0xc561,
	HOPPER_USERMODE_A: 0xc661,
});

/** What differs between host classes, for the pushbuffer builder. */
export interface HostClassInfo {
	/** Class ID, e.g. `0xc56f`. */
	readonly id: number;
	/** Class name, e.g. `'AMPERE_CHANNEL_GPFIFO_A'`. */
	readonly name: string;
	/** `SEM_ADDR_HI.OFFSET` range: 7:0 (40-bit VA) or 24:0 on Hopper (57-bit VA). */
	readonly semAddrHi: Bits;
	/** Width of a semaphore VA in bits (40 or 57). */
	readonly semaphoreVaBits: number;
}

/** What differs between copy-engine classes. */
export interface CopyClassInfo {
	/** Class ID, e.g. `0xc7b5`. */
	readonly id: number;
	/** Class name, e.g. `'AMPERE_DMA_COPY_B'`. */
	readonly name: string;
	/** Range of the `*_UPPER` address fields (`OFFSET_IN_UPPER`, `SET_SEMAPHORE_A`): 16:0, or 24:0 on C8B5. */
	readonly upper: Bits;
	/** Width of a copy VA in bits (49 or 57). */
	readonly vaBits: number;
	/** Whether 64-bit semaphore payloads exist (`SET_SEMAPHORE_PAYLOAD_UPPER`, `LAUNCH_DMA.SEMAPHORE_PAYLOAD_SIZE`). */
	readonly semaphorePayload64: boolean;
}

const HOST_INFO: Readonly<Record<number, HostClassInfo>> = Object.freeze({
	[HOST_CLASS.TURING_CHANNEL_GPFIFO_A]: Object.freeze({
		id: HOST_CLASS.TURING_CHANNEL_GPFIFO_A,
		name: 'TURING_CHANNEL_GPFIFO_A',
		semAddrHi: [7, 0] as const,
		semaphoreVaBits: 40,
	}),
	[HOST_CLASS.AMPERE_CHANNEL_GPFIFO_A]: Object.freeze({
		id: HOST_CLASS.AMPERE_CHANNEL_GPFIFO_A,
		name: 'AMPERE_CHANNEL_GPFIFO_A',
		semAddrHi: [7, 0] as const,
		semaphoreVaBits: 40,
	}),
	[HOST_CLASS.HOPPER_CHANNEL_GPFIFO_A]: Object.freeze({
		id: HOST_CLASS.HOPPER_CHANNEL_GPFIFO_A,
		name: 'HOPPER_CHANNEL_GPFIFO_A',
		semAddrHi: [24, 0] as const,
		semaphoreVaBits: 57,
	}),
});

const COPY_INFO: Readonly<Record<number, CopyClassInfo>> = Object.freeze({
	[COPY_CLASS.TURING_DMA_COPY_A]: Object.freeze({
		id: COPY_CLASS.TURING_DMA_COPY_A,
		name: 'TURING_DMA_COPY_A',
		upper: [16, 0] as const,
		vaBits: 49,
		semaphorePayload64: false,
	}),
	[COPY_CLASS.AMPERE_DMA_COPY_A]: Object.freeze({
		id: COPY_CLASS.AMPERE_DMA_COPY_A,
		name: 'AMPERE_DMA_COPY_A',
		upper: [16, 0] as const,
		vaBits: 49,
		semaphorePayload64: false,
	}),
	[COPY_CLASS.AMPERE_DMA_COPY_B]: Object.freeze({
		id: COPY_CLASS.AMPERE_DMA_COPY_B,
		name: 'AMPERE_DMA_COPY_B',
		upper: [16, 0] as const,
		vaBits: 49,
		semaphorePayload64: true,
	}),
	[COPY_CLASS.HOPPER_DMA_COPY_A]: Object.freeze({
		id: COPY_CLASS.HOPPER_DMA_COPY_A,
		name: 'HOPPER_DMA_COPY_A',
		upper: [24, 0] as const,
		vaBits: 57,
		semaphorePayload64: true,
	}),
});

/** The host class description for a class ID. Throws `CHSCHED_UNSUPPORTED` for others. */
export function hostClassInfo(id: number): HostClassInfo {
	const info = HOST_INFO[id];
	if (info === undefined) {
		throw new UnsupportedError(`host class 0x${id.toString(16)} is not supported`, { classId: id });
	}
	return info;
}

/** The copy class description for a class ID. Throws `CHSCHED_UNSUPPORTED` for others. */
export function copyClassInfo(id: number): CopyClassInfo {
	const info = COPY_INFO[id];
	if (info === undefined) {
		throw new UnsupportedError(`copy class 0x${id.toString(16)} is not supported`, { classId: id });
	}
	return info;
}

/** BAR0 offset of the doorbell (`NOTIFY_CHANNEL_PENDING`) per generation (hardware reference C.4). */
export const DOORBELL_OFFSET = Object.freeze({
	/** Turing: `NV_USERMODE_NOTIFY_CHANNEL_PENDING`, usermode base 0x810000 + 0x90. */
	turing: 0x810090,
	/** Ampere and later: `NV_VIRTUAL_FUNCTION` (0xB80000) + 0x30090. */
	ampere: 0xbb0090,
});

/** Everything generation-specific the channel layer needs. */
export interface GenerationClasses {
	/** The architecture these classes belong to. */
	readonly architecture: Architecture;
	/** Host (channel) class. */
	readonly host: HostClassInfo;
	/** Copy-engine class. */
	readonly copy: CopyClassInfo;
	/** Usermode class ID (the doorbell region's class). */
	readonly usermodeClass: number;
	/** BAR0 offset of the doorbell register. */
	readonly doorbellOffset: number;
}

/**
 * The classes a chip's channels use: TU10x → C46F/C5B5; GA100 → C56F/C6B5; GA10x and AD10x → C56F/C7B5;
 * GH100 → C86F/C8B5. Blackwell is not supported yet (its host and copy classes were not checked).
 */
export function generationClasses(chip: Pick<ChipInfo, 'architecture' | 'chipset'>): GenerationClasses {
	switch (chip.architecture) {
		case 'turing':
			return Object.freeze({
				architecture: chip.architecture,
				host: hostClassInfo(HOST_CLASS.TURING_CHANNEL_GPFIFO_A),
				copy: copyClassInfo(COPY_CLASS.TURING_DMA_COPY_A),
				usermodeClass: USERMODE_CLASS.TURING_USERMODE_A,
				doorbellOffset: DOORBELL_OFFSET.turing,
			});
		case 'ampere':
		case 'ada':
			return Object.freeze({
				architecture: chip.architecture,
				host: hostClassInfo(HOST_CLASS.AMPERE_CHANNEL_GPFIFO_A),
				copy: copyClassInfo(
					chip.chipset === 0x170 ? COPY_CLASS.AMPERE_DMA_COPY_A : COPY_CLASS.AMPERE_DMA_COPY_B,
				),
				usermodeClass: USERMODE_CLASS.AMPERE_USERMODE_A,
				doorbellOffset: DOORBELL_OFFSET.ampere,
			});
		case 'hopper':
			return Object.freeze({
				architecture: chip.architecture,
				host: hostClassInfo(HOST_CLASS.HOPPER_CHANNEL_GPFIFO_A),
				copy: copyClassInfo(COPY_CLASS.HOPPER_DMA_COPY_A),
				usermodeClass: USERMODE_CLASS.HOPPER_USERMODE_A,
				doorbellOffset: DOORBELL_OFFSET.ampere,
			});
		default:
			throw new UnsupportedError(`channels on ${chip.architecture} are not supported yet`, {
				architecture: chip.architecture,
				chipset: chip.chipset,
			});
	}
}
