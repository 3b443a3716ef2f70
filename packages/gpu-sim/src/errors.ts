/**
 * Errors the simulated hardware raises. They derive from hal's {@link GspkitError} so callers handle
 * simulator faults exactly like platform faults; each has a stable `SIM_*` code.
 *
 * @module
 */

import { GspkitError, hex } from '@gspkit/hal';

/** Stable error codes defined by `@gspkit/gpu-sim`. */
export const SIM_ERROR_CODES = [
	'SIM_CLOSED',
	'SIM_MMIO_UNALIGNED',
	'SIM_MMIO_OUT_OF_RANGE',
	'SIM_PCI_CONFIG_ACCESS',
	'SIM_DMA_FAULT',
	'SIM_DMA_DOUBLE_FREE',
	'SIM_DMA_FOREIGN_BUFFER',
	'SIM_VRAM_FAULT',
	'SIM_FIRMWARE_FORMAT',
	'SIM_BOOT_CONFIG',
] as const;

/** One of {@link SIM_ERROR_CODES}. */
export type SimErrorCode = (typeof SIM_ERROR_CODES)[number];

/**
 * The simulated GPU (or one of its parts) was closed; like a device that fell off the bus.
 * Code `SIM_CLOSED`, errno `ENODEV`.
 */
export class SimulatorClosedError extends GspkitError {
	constructor(what: string) {
		super('SIM_CLOSED', `${what}: the simulated GPU has been closed`, { errno: 'ENODEV', details: { what } });
	}
}

/**
 * A BAR0 access the bus cannot perform: not 4-byte aligned (`SIM_MMIO_UNALIGNED`) or outside the 16 MiB
 * window (`SIM_MMIO_OUT_OF_RANGE`). Errno `EFAULT`. Real hardware would split or drop such accesses;
 * the simulator refuses them so driver bugs surface at the faulty access.
 */
export class MmioAccessError extends GspkitError {
	constructor(
		code: 'SIM_MMIO_UNALIGNED' | 'SIM_MMIO_OUT_OF_RANGE',
		offset: number,
		access: 'read' | 'write',
	) {
		const why = code === 'SIM_MMIO_UNALIGNED' ? 'is not 4-byte aligned' : 'is outside the 16 MiB BAR0 window';
		super(code, `BAR0 ${access} at ${describeOffset(offset)} ${why}`, {
			errno: 'EFAULT',
			details: { offset: describeOffset(offset), access },
		});
	}
}

/**
 * A PCI configuration access that is misaligned for its width or outside the 4 KiB space.
 * Code `SIM_PCI_CONFIG_ACCESS`, errno `EINVAL` (what Linux' `pci_read_config_*` report as a bad register).
 */
export class PciConfigAccessError extends GspkitError {
	constructor(offset: number, width: 1 | 2 | 4, access: 'read' | 'write') {
		super(
			'SIM_PCI_CONFIG_ACCESS',
			`PCI config ${access}${width * 8} at ${describeOffset(offset, 3)}: offset must be ${width}-byte aligned and below 0x1000`,
			{ errno: 'EINVAL', details: { offset: describeOffset(offset, 3), width, access } },
		);
	}
}

/**
 * The device accessed system memory no live DMA allocation covers (an IOMMU fault on real hardware).
 * Code `SIM_DMA_FAULT`, errno `EFAULT`.
 */
export class DmaFaultError extends GspkitError {
	/** First bus address of the faulting access. */
	readonly busAddress: bigint;
	/** Length of the faulting access in bytes. */
	readonly length: number;

	constructor(busAddress: bigint, length: number, access: 'read' | 'write', reason: string) {
		super(
			'SIM_DMA_FAULT',
			`DMA ${access} of ${length} bytes at bus address ${hex(busAddress, 9)}: ${reason}`,
			{
				errno: 'EFAULT',
				details: { busAddress: hex(busAddress, 9), length, access },
			},
		);
		this.busAddress = busAddress;
		this.length = length;
	}
}

/**
 * `free()` was given a buffer this pool already freed (`SIM_DMA_DOUBLE_FREE`) or one it never allocated
 * (`SIM_DMA_FOREIGN_BUFFER`). Errno `EINVAL`.
 */
export class DmaFreeError extends GspkitError {
	constructor(code: 'SIM_DMA_DOUBLE_FREE' | 'SIM_DMA_FOREIGN_BUFFER', busAddress: unknown, label: unknown) {
		const what = code === 'SIM_DMA_DOUBLE_FREE' ? 'was already freed' : 'was not allocated from this pool';
		const addr = typeof busAddress === 'bigint' ? hex(busAddress, 9) : String(busAddress);
		super(code, `DMA buffer ${JSON.stringify(label ?? '')} at ${addr} ${what}`, {
			errno: 'EINVAL',
			details: { busAddress: addr, label },
		});
	}
}

/**
 * A VRAM access (directly or through a BAR window) outside the memory or window.
 * Code `SIM_VRAM_FAULT`, errno `EFAULT`.
 */
export class VramFaultError extends GspkitError {
	constructor(where: string, offset: bigint, length: number, limit: bigint) {
		super(
			'SIM_VRAM_FAULT',
			`${where}: access of ${length} bytes at ${hex(offset, 1)} exceeds the size ${hex(limit, 1)}`,
			{ errno: 'EFAULT', details: { where, offset: hex(offset, 1), length, limit: hex(limit, 1) } },
		);
	}
}

function describeOffset(offset: number, digits = 6): string {
	return Number.isSafeInteger(offset) && offset >= 0 ? hex(offset, digits) : String(offset);
}
