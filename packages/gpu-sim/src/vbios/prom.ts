/**
 * The PROM window: the VBIOS ROM mapped read-only at BAR0 0x300000 (1 MiB), read with 32-bit accesses.
 *
 * @module
 */

import { BOOT_REGS } from '../falcon/registers.ts';
import type { MmioDevice, MmioRange } from '../mmio.ts';

/** Reads past the end of the ROM image return erased flash. */
export const PROM_ERASED = 0xffff_ffff;

/** The VBIOS ROM as an {@link MmioDevice} at `NV_PROM` (0x300000–0x3fffff). Writes are ignored. */
export class PromDevice implements MmioDevice {
	readonly name = 'prom';
	readonly range: MmioRange = Object.freeze({
		start: BOOT_REGS.PROM_BASE,
		end: BOOT_REGS.PROM_BASE + BOOT_REGS.PROM_SIZE,
	});
	readonly #rom: Uint8Array;
	#writes = 0;

	/** @param rom the ROM image; at most 1 MiB is visible. */
	constructor(rom: Uint8Array) {
		this.#rom = rom;
	}

	/** Length of the ROM image behind the window. */
	get romLength(): number {
		return this.#rom.length;
	}

	/** Host writes dropped (the ROM is read-only). */
	get droppedWrites(): number {
		return this.#writes;
	}

	read32(offset: number): number {
		const r = this.#rom;
		if (offset + 4 > r.length) {
			if (offset >= r.length) return PROM_ERASED;
			let v = 0;
			for (let i = 0; i < 4; i++) v |= (offset + i < r.length ? r[offset + i]! : 0xff) << (8 * i);
			return v >>> 0;
		}
		return (r[offset]! | (r[offset + 1]! << 8) | (r[offset + 2]! << 16) | (r[offset + 3]! << 24)) >>> 0;
	}

	write32(_offset: number, _value: number): void {
		this.#writes++;
	}
}
