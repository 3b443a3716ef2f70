/**
 * The BAR0 register file: a 16 MiB window in which device models claim address ranges and a sparse map
 * holds plain registers. Everything nobody claims reads the PRI "no device" pattern.
 *
 * @module
 */

import { hex, InvalidArgumentError } from '@gspkit/hal';
import { MmioAccessError } from './errors.ts';

/** Size of the BAR0 window on every supported chip. */
export const BAR0_SIZE = 16 * 1024 * 1024;

/**
 * What a read of an offset no unit claims returns. NVIDIA GPUs answer such PRI accesses with a value of
 * the form 0xbadfXXXX (NVIDIA's falcon headers test `value & 0xfff00000 == 0xbad00000` to recognise
 * them); the simulator always uses 0xbadf5040, the code commonly seen for a PRI error.
 */
export const NO_DEVICE_READ_VALUE = 0xbadf5040;

/** A half-open byte range `[start, end)` of BAR0. */
export interface MmioRange {
	readonly start: number;
	readonly end: number;
}

/**
 * A device model that owns a range of BAR0 (a falcon, the GSP, the MMU…). Offsets passed to it are
 * relative to `range.start`, so one model class can be mounted at several bases (GSP and SEC2 falcons).
 * Accesses are already checked for alignment and range when they reach the device.
 */
export interface MmioDevice {
	/** Name shown in diagnostics, e.g. `"gsp-falcon"`. */
	readonly name: string;
	readonly range: MmioRange;
	/** Read the 32-bit register at `offset` (relative to `range.start`). Returns an unsigned value. */
	read32(offset: number): number;
	/** Write the 32-bit register at `offset` (relative to `range.start`). `value` is unsigned. */
	write32(offset: number, value: number): void;
}

/** A plain storage register in the sparse map. */
export interface RegisterSpec {
	/** Register name, e.g. `"NV_PMC_BOOT_0"`. */
	readonly name: string;
	/** Absolute BAR0 offset. */
	readonly offset: number;
	/** Value after reset. */
	readonly reset: number;
	/**
	 * Bits the driver may change; the others keep their value on a write. Default 0 (read-only),
	 * because most identity and status registers are read-only from the host.
	 */
	readonly writableMask?: number;
}

interface RegisterState {
	readonly spec: RegisterSpec;
	value: number;
	readonly writableMask: number;
}

/** A BAR0 access nothing claimed, kept for diagnostics. */
export interface UnclaimedAccess {
	readonly access: 'read' | 'write';
	readonly offset: number;
	readonly value: number;
}

/**
 * The register file behind BAR0. The driver side uses {@link RegisterFile.read32}/{@link RegisterFile.write32};
 * the simulator side attaches device models, defines plain registers and sets read-only values with
 * {@link RegisterFile.poke}.
 */
export class RegisterFile {
	/** Window size in bytes. */
	readonly size = BAR0_SIZE;
	/** Devices sorted by start offset; ranges never overlap. */
	#devices: MmioDevice[] = [];
	#registers = new Map<number, RegisterState>();
	#unclaimedReads = 0;
	#unclaimedWrites = 0;
	#lastUnclaimed: UnclaimedAccess | undefined;

	/**
	 * Mount a device model on its range. Returns a function that detaches it.
	 * @throws InvalidArgumentError if the range is empty, unaligned, outside BAR0, or overlaps a device or
	 *   a plain register.
	 */
	attach(device: MmioDevice): () => void {
		const { start, end } = device.range;
		if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > BAR0_SIZE || start >= end) {
			throw new InvalidArgumentError(`device ${device.name}: range [${start}, ${end}) is not inside BAR0`, {
				device: device.name,
			});
		}
		if (start % 4 !== 0 || end % 4 !== 0) {
			throw new InvalidArgumentError(`device ${device.name}: range must be 4-byte aligned`, {
				device: device.name,
				start: hex(start, 6),
				end: hex(end, 6),
			});
		}
		for (const other of this.#devices) {
			if (start < other.range.end && other.range.start < end) {
				throw new InvalidArgumentError(
					`device ${device.name} [${hex(start, 6)}, ${hex(end, 6)}) overlaps ${other.name} [${hex(other.range.start, 6)}, ${hex(other.range.end, 6)})`,
					{ device: device.name, other: other.name },
				);
			}
		}
		for (const offset of this.#registers.keys()) {
			if (offset >= start && offset < end) {
				throw new InvalidArgumentError(
					`device ${device.name} overlaps register ${this.#registers.get(offset)?.spec.name} at ${hex(offset, 6)}`,
					{ device: device.name, offset: hex(offset, 6) },
				);
			}
		}
		const devices = [...this.#devices, device].sort((a, b) => a.range.start - b.range.start);
		this.#devices = devices;
		return () => {
			this.#devices = this.#devices.filter((d) => d !== device);
		};
	}

	/**
	 * Define a plain storage register.
	 * @throws InvalidArgumentError if the offset is unaligned, outside BAR0, already defined or inside a device.
	 */
	define(spec: RegisterSpec): void {
		if (
			!Number.isSafeInteger(spec.offset) ||
			spec.offset < 0 ||
			spec.offset + 4 > BAR0_SIZE ||
			spec.offset % 4 !== 0
		) {
			throw new InvalidArgumentError(
				`register ${spec.name}: offset ${spec.offset} is not an aligned BAR0 offset`,
				{
					register: spec.name,
				},
			);
		}
		if (this.#registers.has(spec.offset) || this.#deviceAt(spec.offset) !== undefined) {
			throw new InvalidArgumentError(
				`register ${spec.name}: offset ${hex(spec.offset, 6)} is already claimed`,
				{
					register: spec.name,
					offset: hex(spec.offset, 6),
				},
			);
		}
		this.#registers.set(spec.offset, {
			spec,
			value: spec.reset >>> 0,
			writableMask: (spec.writableMask ?? 0) >>> 0,
		});
	}

	/** Set a plain register's value regardless of its writable mask (the hardware side changing state). */
	poke(offset: number, value: number): void {
		const reg = this.#registers.get(offset);
		if (reg === undefined) {
			throw new InvalidArgumentError(`no plain register at ${hex(offset, 6)}`, { offset: hex(offset, 6) });
		}
		reg.value = value >>> 0;
	}

	/** Put every plain register back to its reset value (device models reset themselves). */
	resetRegisters(): void {
		for (const reg of this.#registers.values()) reg.value = reg.spec.reset >>> 0;
	}

	/**
	 * Read a 32-bit register as the driver would.
	 * @throws MmioAccessError for an unaligned offset or one outside the window.
	 */
	read32(offset: number): number {
		checkMmioAccess(offset, 'read');
		const device = this.#deviceAt(offset);
		if (device !== undefined) return device.read32(offset - device.range.start) >>> 0;
		const reg = this.#registers.get(offset);
		if (reg !== undefined) return reg.value;
		this.#unclaimedReads++;
		this.#lastUnclaimed = { access: 'read', offset, value: NO_DEVICE_READ_VALUE };
		return NO_DEVICE_READ_VALUE;
	}

	/**
	 * Write a 32-bit register as the driver would. Writes to plain registers only change writable bits;
	 * writes nobody claims are dropped (and counted), as on the real bus.
	 * @throws MmioAccessError for an unaligned offset or one outside the window.
	 */
	write32(offset: number, value: number): void {
		checkMmioAccess(offset, 'write');
		const v = value >>> 0;
		const device = this.#deviceAt(offset);
		if (device !== undefined) {
			device.write32(offset - device.range.start, v);
			return;
		}
		const reg = this.#registers.get(offset);
		if (reg !== undefined) {
			reg.value = ((reg.value & ~reg.writableMask) | (v & reg.writableMask)) >>> 0;
			return;
		}
		this.#unclaimedWrites++;
		this.#lastUnclaimed = { access: 'write', offset, value: v };
	}

	/** Accesses no device or register claimed: counts and the most recent one. */
	get unclaimed(): {
		readonly reads: number;
		readonly writes: number;
		readonly last: UnclaimedAccess | undefined;
	} {
		return { reads: this.#unclaimedReads, writes: this.#unclaimedWrites, last: this.#lastUnclaimed };
	}

	/** Names and ranges of the attached devices, in address order. */
	get devices(): readonly { readonly name: string; readonly range: MmioRange }[] {
		return this.#devices.map((d) => ({ name: d.name, range: d.range }));
	}

	#deviceAt(offset: number): MmioDevice | undefined {
		const devices = this.#devices;
		let lo = 0;
		let hi = devices.length - 1;
		while (lo <= hi) {
			const mid = (lo + hi) >> 1;
			const d = devices[mid]!;
			if (offset < d.range.start) hi = mid - 1;
			else if (offset >= d.range.end) lo = mid + 1;
			else return d;
		}
		return undefined;
	}
}

/**
 * Check that a BAR0 access is 4-byte aligned and inside the window.
 * @throws MmioAccessError (`SIM_MMIO_OUT_OF_RANGE` or `SIM_MMIO_UNALIGNED`).
 */
export function checkMmioAccess(offset: number, access: 'read' | 'write'): void {
	if (!Number.isSafeInteger(offset) || offset < 0 || offset + 4 > BAR0_SIZE) {
		throw new MmioAccessError('SIM_MMIO_OUT_OF_RANGE', offset, access);
	}
	if (offset % 4 !== 0) throw new MmioAccessError('SIM_MMIO_UNALIGNED', offset, access);
}
