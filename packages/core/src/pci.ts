/**
 * Reading a PCI function's configuration space the way an OS does: capability-list walks, the BAR sizing
 * protocol and the SR-IOV capability. Works on any hal {@link PciConfigSpace}.
 *
 * @module
 */

import { hex, type PciConfigSpace } from '@gspkit/hal';
import { ProbeError } from './errors.ts';

/** A capability found in the legacy (0x34) or extended (0x100) list. */
export interface PciCapability {
	/** Capability ID, e.g. 0x10 (PCI Express) or 0x0010 (SR-IOV, extended). */
	readonly id: number;
	/** Offset of the capability header in configuration space. */
	readonly offset: number;
	/** Capability version (extended capabilities only; 0 for legacy ones). */
	readonly version: number;
}

/** Well-known capability IDs. */
export const PCI_CAP_ID = Object.freeze({
	PM: 0x01,
	MSI: 0x05,
	PCIE: 0x10,
	MSIX: 0x11,
});

/** Well-known extended capability IDs. */
export const PCI_EXT_CAP_ID = Object.freeze({
	AER: 0x0001,
	ARI: 0x000e,
	SRIOV: 0x0010,
	LTR: 0x0018,
});

/** Walk the legacy capability list starting at the pointer at 0x34. */
export function listCapabilities(config: PciConfigSpace): PciCapability[] {
	const out: PciCapability[] = [];
	if ((config.read16(0x06) & (1 << 4)) === 0) return out;
	const seen = new Set<number>();
	let at = config.read8(0x34) & 0xfc;
	while (at !== 0) {
		if (at < 0x40 || at > 0xfc || seen.has(at)) {
			throw new ProbeError('CORE_BAD_CONFIG_SPACE', `capability list points to ${hex(at, 2)}`, {
				offset: hex(at, 2),
			});
		}
		seen.add(at);
		out.push({ id: config.read8(at), offset: at, version: 0 });
		at = config.read8(at + 1) & 0xfc;
	}
	return out;
}

/** Walk the extended capability list starting at 0x100. An all-zero or all-ones header ends it. */
export function listExtendedCapabilities(config: PciConfigSpace): PciCapability[] {
	const out: PciCapability[] = [];
	const seen = new Set<number>();
	let at = 0x100;
	while (at !== 0) {
		if (at < 0x100 || at > 0xffc || seen.has(at)) {
			throw new ProbeError('CORE_BAD_CONFIG_SPACE', `extended capability list points to ${hex(at, 3)}`, {
				offset: hex(at, 3),
			});
		}
		seen.add(at);
		const header = config.read32(at);
		if (header === 0 || header === 0xffff_ffff) break;
		out.push({ id: header & 0xffff, version: (header >>> 16) & 0xf, offset: at });
		at = (header >>> 20) & 0xffc;
	}
	return out;
}

/** A decoded BAR. */
export interface BarInfo {
	/** BAR index (slot of the low register; a 64-bit BAR also uses the next slot). */
	readonly index: number;
	/** Size in bytes, from the sizing protocol. */
	readonly size: bigint;
	/** A 64-bit memory BAR. */
	readonly is64: boolean;
	readonly prefetchable: boolean;
	/** An I/O-space BAR rather than memory. */
	readonly io: boolean;
	/** The address currently programmed. */
	readonly address: bigint;
}

/**
 * Size the BAR whose low register is at `offset`: save it, write all ones, read the mask back, restore.
 * Returns `undefined` for an unimplemented BAR. Callers must have memory decoding off while sizing.
 */
export function sizeBar(config: PciConfigSpace, offset: number, index: number): BarInfo | undefined {
	const low = config.read32(offset);
	config.write32(offset, 0xffff_ffff);
	const lowMask = config.read32(offset);
	config.write32(offset, low);
	if (lowMask === 0) return undefined;
	if ((low & 1) === 1) {
		const mask = lowMask & 0xffff_fffc;
		const size = BigInt((~mask + 1) >>> 0) & 0xffffn;
		return { index, size, is64: false, prefetchable: false, io: true, address: BigInt(low & 0xffff_fffc) };
	}
	const is64 = ((low >>> 1) & 3) === 2;
	let high = 0;
	let highMask = 0xffff_ffff;
	if (is64) {
		high = config.read32(offset + 4);
		config.write32(offset + 4, 0xffff_ffff);
		highMask = config.read32(offset + 4);
		config.write32(offset + 4, high);
	}
	const mask = (BigInt(highMask >>> 0) << 32n) | BigInt((lowMask & 0xffff_fff0) >>> 0);
	const width = is64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
	const size = ((~mask & width) + 1n) & width;
	const address =
		((BigInt(high >>> 0) << 32n) | BigInt((low & 0xffff_fff0) >>> 0)) & (is64 ? width : 0xffff_ffffn);
	return { index, size, is64, prefetchable: (low & 0b1000) !== 0, io: false, address };
}

/** Size every BAR of a type-0 header (six slots at 0x10) with memory and I/O decoding switched off. */
export function readBars(config: PciConfigSpace): BarInfo[] {
	return withDecodingOff(config, () => sizeBarArray(config, 0x10, 6));
}

function sizeBarArray(config: PciConfigSpace, base: number, slots: number): BarInfo[] {
	const bars: BarInfo[] = [];
	for (let index = 0; index < slots; index++) {
		const bar = sizeBar(config, base + 4 * index, index);
		if (bar === undefined) continue;
		bars.push(bar);
		if (bar.is64) index++;
	}
	return bars;
}

/** Run `fn` with COMMAND's I/O and memory decode bits clear, restoring COMMAND afterwards. */
function withDecodingOff<T>(config: PciConfigSpace, fn: () => T): T {
	const command = config.read16(0x04);
	config.write16(0x04, command & ~0x3);
	try {
		return fn();
	} finally {
		config.write16(0x04, command);
	}
}

/** What the SR-IOV extended capability of a physical function says. */
export interface SriovInfo {
	/** Configuration-space offset of the capability. */
	readonly offset: number;
	readonly totalVFs: number;
	readonly initialVFs: number;
	/** VFs currently configured (`NumVFs`). */
	readonly numVFs: number;
	/** Whether `VF Enable` is set. */
	readonly enabled: boolean;
	readonly firstVfOffset: number;
	readonly vfStride: number;
	readonly vfDeviceId: number;
	/** Page sizes the PF supports (bit n = 4 KiB << n). */
	readonly supportedPageSizes: number;
	/** Per-VF BARs, sized with the same protocol as the PF's. */
	readonly vfBars: readonly BarInfo[];
}

/** Read the SR-IOV capability at `offset` (VF BARs are sized while VF memory space is disabled). */
export function readSriov(config: PciConfigSpace, offset: number): SriovInfo {
	const control = config.read16(offset + 0x08);
	const vfMse = 1 << 3;
	if (control & vfMse) config.write16(offset + 0x08, control & ~vfMse);
	let vfBars: BarInfo[];
	try {
		vfBars = sizeBarArray(config, offset + 0x24, 6);
	} finally {
		if (control & vfMse) config.write16(offset + 0x08, control);
	}
	return {
		offset,
		totalVFs: config.read16(offset + 0x0e),
		initialVFs: config.read16(offset + 0x0c),
		numVFs: config.read16(offset + 0x10),
		enabled: (control & 1) !== 0,
		firstVfOffset: config.read16(offset + 0x14),
		vfStride: config.read16(offset + 0x16),
		vfDeviceId: config.read16(offset + 0x1a),
		supportedPageSizes: config.read32(offset + 0x1c),
		vfBars,
	};
}

/** The PCI Express link as the PCIe capability reports it. */
export interface PcieLinkInfo {
	/** Maximum link speed as a PCIe generation (1 = 2.5 GT/s … 5 = 32 GT/s). */
	readonly maxGen: number;
	readonly maxWidth: number;
	/** Current (negotiated) speed and width. */
	readonly gen: number;
	readonly width: number;
}

/** Read link capabilities and status from the PCIe capability at `offset`. */
export function readPcieLink(config: PciConfigSpace, offset: number): PcieLinkInfo {
	const cap = config.read32(offset + 0x0c);
	const status = config.read16(offset + 0x12);
	return { maxGen: cap & 0xf, maxWidth: (cap >>> 4) & 0x3f, gen: status & 0xf, width: (status >>> 4) & 0x3f };
}
