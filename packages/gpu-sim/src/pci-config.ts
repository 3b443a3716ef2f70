/**
 * PCI configuration space: a 4 KiB little-endian register space with per-bit write semantics
 * (read-only, read-write, write-1-to-clear), and the layout of an NVIDIA GPU's physical function.
 *
 * Writable masks make the BAR sizing protocol fall out of the hardware rule itself: a BAR's address
 * bits below its size are hard-wired to zero, so writing all ones reads back the size mask.
 *
 * @module
 */

import { hex, InvalidArgumentError, type PciConfigSpace } from '@gspkit/hal';
import type { SimChipSpec } from './chips.ts';
import { PciConfigAccessError, SimulatorClosedError } from './errors.ts';

/** Size of PCIe configuration space (256 bytes legacy + extended space). */
export const PCI_CONFIG_SIZE = 4096;

/** Options for {@link PciConfigModel.init}. */
export interface ConfigFieldOptions {
	/** Bits software may write (default none: read-only). */
	readonly writable?: number;
	/** Bits that clear when software writes a 1 (RW1C status bits). */
	readonly w1c?: number;
}

/**
 * Called after a software write of `width` bytes at `offset` (see {@link PciConfigModel.onWrite}), with the
 * value as software wrote it (before read-only masking), so a hook can act on self-clearing command bits
 * that never read back (PCIe Initiate Function Level Reset).
 */
export type ConfigWriteHook = (offset: number, width: 1 | 2 | 4, value: number) => void;

/**
 * A configuration space with bit-accurate write semantics. The simulator builds it with
 * {@link PciConfigModel.init}; the driver reads and writes it through the {@link PciConfigSpace} methods.
 */
export class PciConfigModel implements PciConfigSpace {
	readonly #data = new Uint8Array(PCI_CONFIG_SIZE);
	readonly #writable = new Uint8Array(PCI_CONFIG_SIZE);
	readonly #w1c = new Uint8Array(PCI_CONFIG_SIZE);
	readonly #hooks: { start: number; end: number; hook: ConfigWriteHook }[] = [];
	#resetImage: { data: Uint8Array; writable: Uint8Array; w1c: Uint8Array } | undefined;
	#closed = false;

	/** Define a field: its reset value and which bits are writable or write-1-to-clear. */
	init(offset: number, width: 1 | 2 | 4, value: number, options: ConfigFieldOptions = {}): void {
		if (offset < 0 || offset + width > PCI_CONFIG_SIZE) {
			throw new InvalidArgumentError(`config field at ${hex(offset, 3)} is outside configuration space`);
		}
		for (let i = 0; i < width; i++) {
			const shift = 8 * i;
			this.#data[offset + i] = (value >>> shift) & 0xff;
			this.#writable[offset + i] = ((options.writable ?? 0) >>> shift) & 0xff;
			this.#w1c[offset + i] = ((options.w1c ?? 0) >>> shift) & 0xff;
		}
	}

	/** Change which bits of a field are writable (e.g. NumVFs locks while VFs are enabled). */
	setWritable(offset: number, width: 1 | 2 | 4, writable: number): void {
		for (let i = 0; i < width; i++) this.#writable[offset + i] = (writable >>> (8 * i)) & 0xff;
	}

	/** Set field bits from the hardware side, ignoring write masks (status bits, link state…). */
	hwWrite(offset: number, width: 1 | 2 | 4, value: number): void {
		for (let i = 0; i < width; i++) this.#data[offset + i] = (value >>> (8 * i)) & 0xff;
	}

	/** Call `hook` after any software write that touches `[start, end)`. */
	onWrite(start: number, end: number, hook: ConfigWriteHook): void {
		this.#hooks.push({ start, end, hook });
	}

	/** Record the current contents and write masks as the state a function-level reset returns to. */
	captureResetState(): void {
		this.#resetImage = {
			data: this.#data.slice(),
			writable: this.#writable.slice(),
			w1c: this.#w1c.slice(),
		};
	}

	/**
	 * Hardware side of a function-level reset: every field returns to the state recorded by
	 * {@link PciConfigModel.captureResetState} (or stays as is if none was recorded).
	 */
	resetToCaptured(): void {
		const image = this.#resetImage;
		if (image === undefined) return;
		this.#data.set(image.data);
		this.#writable.set(image.writable);
		this.#w1c.set(image.w1c);
	}

	/** Reads a byte. */
	read8(offset: number): number {
		return this.#read(offset, 1);
	}

	/** Reads a little-endian 16-bit value; `offset` must be 2-byte aligned. */
	read16(offset: number): number {
		return this.#read(offset, 2);
	}

	/** Reads a little-endian 32-bit value; `offset` must be 4-byte aligned. */
	read32(offset: number): number {
		return this.#read(offset, 4);
	}

	/** Writes a byte, honouring read-only and write-1-to-clear bits. */
	write8(offset: number, value: number): void {
		this.#write(offset, 1, value);
	}

	/** Writes a little-endian 16-bit value; `offset` must be 2-byte aligned. */
	write16(offset: number, value: number): void {
		this.#write(offset, 2, value);
	}

	/** Writes a little-endian 32-bit value; `offset` must be 4-byte aligned. */
	write32(offset: number, value: number): void {
		this.#write(offset, 4, value);
	}

	/** Detach: every later access throws {@link SimulatorClosedError}. */
	close(): void {
		this.#closed = true;
	}

	#check(offset: number, width: 1 | 2 | 4, access: 'read' | 'write'): void {
		if (this.#closed) throw new SimulatorClosedError(`PCI config ${access}`);
		if (
			!Number.isSafeInteger(offset) ||
			offset < 0 ||
			offset + width > PCI_CONFIG_SIZE ||
			offset % width !== 0
		) {
			throw new PciConfigAccessError(offset, width, access);
		}
	}

	#read(offset: number, width: 1 | 2 | 4): number {
		this.#check(offset, width, 'read');
		let v = 0;
		for (let i = width - 1; i >= 0; i--) v = (v << 8) | this.#data[offset + i]!;
		return v >>> 0;
	}

	#write(offset: number, width: 1 | 2 | 4, value: number): void {
		this.#check(offset, width, 'write');
		for (let i = 0; i < width; i++) {
			const at = offset + i;
			const b = (value >>> (8 * i)) & 0xff;
			const wr = this.#writable[at]!;
			const w1c = this.#w1c[at]!;
			let cur = this.#data[at]!;
			cur = (cur & ~wr) | (b & wr);
			cur &= ~(b & w1c);
			this.#data[at] = cur & 0xff;
		}
		for (const h of [...this.#hooks]) {
			if (offset < h.end && h.start < offset + width) h.hook(offset, width, value >>> 0);
		}
	}
}

// ---- Layout of the simulated physical function -------------------------------------------------------

/** Standard header offsets (PCI Local Bus spec, type 0 header). */
export const PCI = Object.freeze({
	VENDOR_ID: 0x00,
	DEVICE_ID: 0x02,
	COMMAND: 0x04,
	STATUS: 0x06,
	REVISION_ID: 0x08,
	CLASS_PROG_IF: 0x09,
	CLASS_SUBCLASS: 0x0a,
	CLASS_BASE: 0x0b,
	CACHE_LINE_SIZE: 0x0c,
	LATENCY_TIMER: 0x0d,
	HEADER_TYPE: 0x0e,
	BAR0: 0x10,
	SUBSYSTEM_VENDOR_ID: 0x2c,
	SUBSYSTEM_ID: 0x2e,
	ROM_ADDRESS: 0x30,
	CAPABILITIES_POINTER: 0x34,
	INTERRUPT_LINE: 0x3c,
	INTERRUPT_PIN: 0x3d,
	/** COMMAND bits. */
	COMMAND_IO: 1 << 0,
	COMMAND_MEMORY: 1 << 1,
	COMMAND_BUS_MASTER: 1 << 2,
	/** STATUS bit: a capabilities list is present. */
	STATUS_CAP_LIST: 1 << 4,
});

/** Where the simulated function's capabilities live. */
export const CAP_OFFSETS = Object.freeze({
	/** Power Management (ID 0x01). */
	PM: 0x60,
	/** MSI (ID 0x05), 64-bit address, one vector. */
	MSI: 0x68,
	/** PCI Express (ID 0x10), version 2, endpoint. */
	PCIE: 0x78,
	/** Latency Tolerance Reporting extended capability (ID 0x0018). */
	LTR: 0x100,
	/** Alternative Routing-ID extended capability (ID 0x000e), SR-IOV boards only. */
	ARI: 0x108,
	/** SR-IOV extended capability (ID 0x0010), SR-IOV boards only. */
	SRIOV: 0x120,
});

/** Register offsets and bits inside the PCI Express capability (PCIe base spec, PCI Express capability structure). */
export const PCIE_CAP = Object.freeze({
	DEVICE_CAPABILITIES: 0x04,
	DEVICE_CONTROL: 0x08,
	DEVICE_STATUS: 0x0a,
	/** Device Capabilities bit 28: Function Level Reset capability. */
	DEVCAP_FLR: 1 << 28,
	/** Device Control bit 15: Initiate Function Level Reset (always reads 0). */
	DEVCTL_INITIATE_FLR: 1 << 15,
	/** Device Status bit 5: Transactions Pending. */
	DEVSTA_TRANSACTIONS_PENDING: 1 << 5,
});

/** Register offsets inside the SR-IOV capability (PCIe base spec, SR-IOV chapter). */
export const SRIOV = Object.freeze({
	CAPABILITIES: 0x04,
	CONTROL: 0x08,
	STATUS: 0x0a,
	INITIAL_VFS: 0x0c,
	TOTAL_VFS: 0x0e,
	NUM_VFS: 0x10,
	FUNCTION_DEPENDENCY_LINK: 0x12,
	FIRST_VF_OFFSET: 0x14,
	VF_STRIDE: 0x16,
	VF_DEVICE_ID: 0x1a,
	SUPPORTED_PAGE_SIZES: 0x1c,
	SYSTEM_PAGE_SIZE: 0x20,
	VF_BAR0: 0x24,
	VF_MIGRATION_STATE: 0x3c,
	/** CONTROL bits. */
	CONTROL_VF_ENABLE: 1 << 0,
	CONTROL_VF_MSE: 1 << 3,
	CONTROL_ARI_CAPABLE_HIERARCHY: 1 << 4,
});

/** One BAR as the simulated function decodes it. */
export interface SimBar {
	/** BAR index as the OS numbers it (BAR1 uses slots 1–2, so the kernel aperture is BAR3). */
	readonly index: number;
	readonly size: bigint;
	readonly is64: boolean;
	readonly prefetchable: boolean;
	/** Address the platform firmware assigned at reset. */
	readonly address: bigint;
}

/** Size of the expansion ROM BAR (the VBIOS image is also readable at BAR0 0x300000). */
export const ROM_BAR_SIZE = 512 * 1024;

/** BAR layout of the simulated board: BAR0 16 MiB MMIO, BAR1 VRAM aperture, BAR3 kernel aperture 32 MiB. */
export function simBars(chip: SimChipSpec): readonly SimBar[] {
	const bar1Address = 0x60_0000_0000n;
	return Object.freeze([
		Object.freeze({ index: 0, size: 16n << 20n, is64: false, prefetchable: false, address: 0xfb00_0000n }),
		Object.freeze({ index: 1, size: chip.bar1Size, is64: true, prefetchable: true, address: bar1Address }),
		Object.freeze({
			index: 3,
			size: 32n << 20n,
			is64: true,
			prefetchable: true,
			address: bar1Address + chip.bar1Size,
		}),
	]);
}

/** Low four bits of a memory BAR: memory space, type (00 = 32-bit, 10 = 64-bit), prefetchable. */
function barTypeBits(is64: boolean, prefetchable: boolean): number {
	return (is64 ? 0b100 : 0) | (prefetchable ? 0b1000 : 0);
}

/** Program a memory BAR register (pair) whose writable bits are exactly the address bits above its size. */
function initBar(
	cfg: PciConfigModel,
	offset: number,
	size: bigint,
	is64: boolean,
	prefetchable: boolean,
	address: bigint,
) {
	if (size < 16n || (size & (size - 1n)) !== 0n)
		throw new InvalidArgumentError(`BAR size ${size} is not a power of two`);
	if (!is64 && size > 1n << 32n) throw new InvalidArgumentError('a 32-bit BAR cannot exceed 4 GiB');
	const mask = ~(size - 1n) & (is64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn);
	const low = Number(mask & 0xffff_fff0n);
	cfg.init(offset, 4, (Number(address & 0xffff_fff0n) & low) | barTypeBits(is64, prefetchable), {
		writable: low,
	});
	if (is64) {
		const high = Number((mask >> 32n) & 0xffff_ffffn);
		cfg.init(offset + 4, 4, Number((address >> 32n) & 0xffff_ffffn) & high, { writable: high });
	}
}

/** Options of {@link buildConfigSpace}. */
export interface ConfigSpaceOptions {
	/**
	 * Called when software sets Initiate Function Level Reset (PCIe Device Control bit 15), after the
	 * configuration space itself was reset: the device resets everything behind it here.
	 */
	readonly onFunctionLevelReset?: () => void;
}

/**
 * Build the configuration space of the simulated physical function for `chip`.
 *
 * The function is FLR-capable (Device Capabilities bit 28). Writing Device Control with bit 15 set resets
 * the configuration space to its power-on state with the COMMAND enables (I/O, memory, bus master) cleared,
 * as the PCIe spec resets them — an OS restores the saved header afterwards (Linux `pci_reset_function`) —
 * and then calls `options.onFunctionLevelReset`. The reset completes at once; the 100 ms software waits
 * before touching the function again is not enforced.
 */
export function buildConfigSpace(chip: SimChipSpec, options: ConfigSpaceOptions = {}): PciConfigModel {
	const cfg = new PciConfigModel();
	// Identity (read-only).
	cfg.init(PCI.VENDOR_ID, 2, 0x10de);
	cfg.init(PCI.DEVICE_ID, 2, chip.deviceId);
	cfg.init(PCI.REVISION_ID, 1, (chip.revision.major << 4) | chip.revision.minor);
	cfg.init(PCI.CLASS_PROG_IF, 1, chip.classCode & 0xff);
	cfg.init(PCI.CLASS_SUBCLASS, 1, (chip.classCode >> 8) & 0xff);
	cfg.init(PCI.CLASS_BASE, 1, (chip.classCode >> 16) & 0xff);
	cfg.init(PCI.SUBSYSTEM_VENDOR_ID, 2, chip.subsystemVendorId);
	cfg.init(PCI.SUBSYSTEM_ID, 2, chip.subsystemId);
	cfg.init(PCI.HEADER_TYPE, 1, 0x00);
	// COMMAND: I/O, memory, bus master, parity response, SERR#, INTx disable are writable. Memory decode is on
	// at reset (as the host left the function); bus mastering is off until the driver enables it.
	cfg.init(PCI.COMMAND, 2, PCI.COMMAND_MEMORY, { writable: 0x0547 });
	// STATUS: capability list present; error bits are write-1-to-clear.
	cfg.init(PCI.STATUS, 2, PCI.STATUS_CAP_LIST, { w1c: 0xf900 });
	cfg.init(PCI.CACHE_LINE_SIZE, 1, 0, { writable: 0xff });
	cfg.init(PCI.INTERRUPT_LINE, 1, 0xff, { writable: 0xff });
	cfg.init(PCI.INTERRUPT_PIN, 1, 0x01); // INTA#
	for (const bar of simBars(chip)) {
		initBar(cfg, PCI.BAR0 + 4 * bar.index, bar.size, bar.is64, bar.prefetchable, bar.address);
	}
	// Expansion ROM BAR: address bits above 512 KiB and the enable bit are writable.
	cfg.init(PCI.ROM_ADDRESS, 4, 0, { writable: (~(ROM_BAR_SIZE - 1) | 1) >>> 0 });

	// Capability list: PM -> MSI -> PCIe.
	cfg.init(PCI.CAPABILITIES_POINTER, 1, CAP_OFFSETS.PM);
	const pm = CAP_OFFSETS.PM;
	cfg.init(pm, 2, 0x01 | (CAP_OFFSETS.MSI << 8));
	cfg.init(pm + 2, 2, 0x0003); // PMC: version 3, no D1/D2, no PME.
	cfg.init(pm + 4, 2, 1 << 3, { writable: 0x0003 }); // PMCSR: power state rw, No_Soft_Reset.
	const msi = CAP_OFFSETS.MSI;
	cfg.init(msi, 2, 0x05 | (CAP_OFFSETS.PCIE << 8));
	cfg.init(msi + 2, 2, 1 << 7, { writable: 0x0071 }); // 64-bit capable, one vector; enable + MME writable.
	cfg.init(msi + 4, 4, 0, { writable: 0xffff_fffc });
	cfg.init(msi + 8, 4, 0, { writable: 0xffff_ffff });
	cfg.init(msi + 12, 2, 0, { writable: 0xffff });
	const pcie = CAP_OFFSETS.PCIE;
	cfg.init(pcie, 2, 0x10); // last in the list
	cfg.init(pcie + 0x02, 2, 0x0002); // version 2, PCI Express endpoint
	// Device capabilities: 256-byte max payload, extended tags, role-based errors, function-level reset.
	cfg.init(pcie + PCIE_CAP.DEVICE_CAPABILITIES, 4, (1 | (1 << 5) | (1 << 15) | PCIE_CAP.DEVCAP_FLR) >>> 0);
	// Device control: Initiate FLR (bit 15) is not writable storage, so it reads 0; the hook below acts on it.
	cfg.init(pcie + PCIE_CAP.DEVICE_CONTROL, 2, 0x2810, { writable: 0x7fff });
	cfg.init(pcie + PCIE_CAP.DEVICE_STATUS, 2, 0, { w1c: 0x000f });
	const linkWidth = 16;
	cfg.init(pcie + 0x0c, 4, chip.pcieGen | (linkWidth << 4) | (0b11 << 10));
	cfg.init(pcie + 0x10, 2, 0, { writable: 0x0ffb });
	cfg.init(pcie + 0x12, 2, chip.pcieGen | (linkWidth << 4) | (1 << 12));
	const speeds = ((1 << chip.pcieGen) - 1) << 1; // supported link speeds vector: 2.5 GT/s .. gen
	cfg.init(pcie + 0x2c, 4, speeds);
	cfg.init(pcie + 0x30, 2, chip.pcieGen, { writable: 0x000f });

	// Extended capabilities: LTR [-> ARI -> SR-IOV].
	const header = (id: number, version: number, next: number) => (id | (version << 16) | (next << 20)) >>> 0;
	cfg.init(CAP_OFFSETS.LTR, 4, header(0x0018, 1, chip.sriov === null ? 0 : CAP_OFFSETS.ARI));
	cfg.init(CAP_OFFSETS.LTR + 4, 2, 0, { writable: 0x1fff });
	cfg.init(CAP_OFFSETS.LTR + 6, 2, 0, { writable: 0x1fff });
	if (chip.sriov !== null) {
		const s = chip.sriov;
		cfg.init(CAP_OFFSETS.ARI, 4, header(0x000e, 1, CAP_OFFSETS.SRIOV));
		cfg.init(CAP_OFFSETS.ARI + 4, 2, 0); // ARI capability: single PF, next function 0
		cfg.init(CAP_OFFSETS.ARI + 6, 2, 0, { writable: 0x0070 });
		const b = CAP_OFFSETS.SRIOV;
		cfg.init(b, 4, header(0x0010, 1, 0));
		cfg.init(b + SRIOV.CAPABILITIES, 4, 0);
		cfg.init(b + SRIOV.CONTROL, 2, 0, { writable: 0x001f });
		cfg.init(b + SRIOV.STATUS, 2, 0, { w1c: 0x0001 });
		cfg.init(b + SRIOV.INITIAL_VFS, 2, s.initialVFs);
		cfg.init(b + SRIOV.TOTAL_VFS, 2, s.totalVFs);
		cfg.init(b + SRIOV.NUM_VFS, 2, 0, { writable: 0xffff });
		cfg.init(b + SRIOV.FUNCTION_DEPENDENCY_LINK, 1, 0);
		cfg.init(b + SRIOV.FIRST_VF_OFFSET, 2, s.firstVfOffset);
		cfg.init(b + SRIOV.VF_STRIDE, 2, s.vfStride);
		cfg.init(b + SRIOV.VF_DEVICE_ID, 2, s.vfDeviceId);
		cfg.init(b + SRIOV.SUPPORTED_PAGE_SIZES, 4, 0x553); // 4K, 8K, 64K, 256K, 1M, 4M
		cfg.init(b + SRIOV.SYSTEM_PAGE_SIZE, 4, 0x1, { writable: 0x553 });
		initBar(cfg, b + SRIOV.VF_BAR0, BigInt(s.vfBar0Size), false, false, 0n);
		initBar(cfg, b + SRIOV.VF_BAR0 + 4, s.vfBar1Size, true, true, 0n);
		initBar(cfg, b + SRIOV.VF_BAR0 + 12, s.vfBar3Size, true, true, 0n);
		cfg.init(b + SRIOV.VF_MIGRATION_STATE, 4, 0);
		// NumVFs may only change while VF Enable is clear.
		cfg.onWrite(b + SRIOV.CONTROL, b + SRIOV.CONTROL + 2, () => {
			const enabled = (cfg.read16(b + SRIOV.CONTROL) & SRIOV.CONTROL_VF_ENABLE) !== 0;
			cfg.setWritable(b + SRIOV.NUM_VFS, 2, enabled ? 0 : 0xffff);
		});
	}

	// Function-level reset: back to the power-on image, COMMAND enables off, then the device behind it.
	cfg.captureResetState();
	const devctl = pcie + PCIE_CAP.DEVICE_CONTROL;
	cfg.onWrite(devctl, devctl + 2, (offset, width, value) => {
		// Bit 15 of Device Control is bit 7 of its high byte, wherever in the write that byte falls.
		const shift = 8 * (devctl + 1 - offset);
		if (shift < 0 || shift >= 8 * width || ((value >>> shift) & 0x80) === 0) return;
		cfg.resetToCaptured();
		const command = cfg.read16(PCI.COMMAND);
		cfg.hwWrite(PCI.COMMAND, 2, command & ~(PCI.COMMAND_IO | PCI.COMMAND_MEMORY | PCI.COMMAND_BUS_MASTER));
		options.onFunctionLevelReset?.();
	});
	return cfg;
}
