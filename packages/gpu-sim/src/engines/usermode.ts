/**
 * The usermode region: the 64 KiB register window clients map to ring doorbells (`NV_USERMODE_*` in
 * `dev_usermode.ref`; `NV_VIRTUAL_FUNCTION_*` at VF offset 0x30000 in `dev_vm.ref`).
 *
 * @module
 */

import type { Architecture, Clock } from '@gspkit/hal';
import { InvalidArgumentError } from '@gspkit/hal';
import type { MmioDevice, MmioRange } from '../mmio.ts';
import { CLASS, USERMODE } from './fields.ts';

/** Where a chip's usermode windows are and what they report. */
export interface UsermodeLayout {
	/** BAR0 bases of the windows (each {@link USERMODE.SIZE} bytes). */
	readonly bases: readonly number[];
	/** `CFG0.USERMODE_CLASS_ID`. */
	readonly classId: number;
	/** A RUNLIST_ID value meaning "every runlist" (Turing's `RUNLIST_ID_ALL`), if the chip has one. */
	readonly runlistIdAll?: number;
}

/**
 * The usermode layout of an architecture. Every GSP chip has the window at `0xBB0000` (`NV_VIRTUAL_FUNCTION`,
 * which nouveau's r535 path maps: VF base `0xB80000` + `0x30000`); Turing also decodes its original
 * `NV_USERMODE` device at `0x810000`. Class IDs: TURING_USERMODE_A `0xc461`, AMPERE_USERMODE_A `0xc561` (GA100,
 * GA10x and Ada, as nouveau's GSP path uses), HOPPER_USERMODE_A `0xc661`.
 *
 * @throws InvalidArgumentError for Blackwell, whose doorbell token format is not modelled.
 */
export function usermodeLayout(architecture: Architecture): UsermodeLayout {
	switch (architecture) {
		case 'turing':
			return {
				bases: [USERMODE.TURING_BASE, USERMODE.VF_BASE],
				classId: CLASS.TURING_USERMODE_A,
				runlistIdAll: USERMODE.TURING_RUNLIST_ID_ALL,
			};
		case 'ampere':
		case 'ada':
			return { bases: [USERMODE.VF_BASE], classId: CLASS.AMPERE_USERMODE_A };
		case 'hopper':
			return { bases: [USERMODE.VF_BASE], classId: CLASS.HOPPER_USERMODE_A };
		case 'blackwell':
			throw new InvalidArgumentError('the Blackwell usermode region is not modelled', { architecture });
	}
}

/** Options of a {@link UsermodeRegion}. */
export interface UsermodeRegionOptions {
	/** BAR0 base of this window (64 KiB aligned). */
	readonly base: number;
	/** `CFG0.USERMODE_CLASS_ID`. */
	readonly classId: number;
	/** The platform clock, read by TIME_0/TIME_1. */
	readonly clock: Clock;
	/** Called with the value written to NOTIFY_CHANNEL_PENDING. */
	readonly onDoorbell: (token: number) => void;
}

/**
 * One usermode window as an MMIO device. CFG0 reads the class ID; TIME_0/TIME_1 read the platform clock in
 * nanoseconds (TIME_0 with bits 4:0 clear, TIME_1 bits 28:0 — the hardware's 32 ns resolution); a write to
 * NOTIFY_CHANNEL_PENDING hands the token to the host engine. Like the hardware, undefined registers read 0 and
 * writes to them are discarded (not PRI errors).
 */
export class UsermodeRegion implements MmioDevice {
	readonly name: string;
	readonly range: MmioRange;
	readonly #o: UsermodeRegionOptions;
	#doorbellWrites = 0;

	constructor(options: UsermodeRegionOptions) {
		if (!Number.isInteger(options.base) || options.base % USERMODE.SIZE !== 0 || options.base < 0) {
			throw new InvalidArgumentError('usermode base must be a 64 KiB aligned BAR0 offset', {
				base: options.base,
			});
		}
		this.#o = options;
		this.name = `usermode@${options.base.toString(16)}`;
		this.range = { start: options.base, end: options.base + USERMODE.SIZE };
	}

	/** Writes to NOTIFY_CHANNEL_PENDING seen so far (valid or not). */
	get doorbellWrites(): number {
		return this.#doorbellWrites;
	}

	read32(offset: number): number {
		switch (offset) {
			case USERMODE.CFG0:
				return this.#o.classId & 0xffff;
			case USERMODE.TIME_0:
				return Number(this.#o.clock.now() & 0xffff_ffe0n) >>> 0;
			case USERMODE.TIME_1:
				return Number((this.#o.clock.now() >> 32n) & 0x1fff_ffffn) >>> 0;
			default:
				return 0;
		}
	}

	write32(offset: number, value: number): void {
		if (offset !== USERMODE.NOTIFY_CHANNEL_PENDING) return;
		this.#doorbellWrites++;
		this.#o.onDoorbell(value >>> 0);
	}
}
