/**
 * `probe()`: the first step of bringing up a GPU. It checks the PCI function is an NVIDIA GPU, enables
 * memory decoding, identifies the chip from `NV_PMC_BOOT_0`/`NV_PMC_BOOT_42`, sizes the BARs and reads the
 * usable VRAM size. Boot and RPC come in later stages.
 *
 * @module
 */

import {
	type Chip,
	hex,
	identifyChip,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_42,
	NV_PMC_BOOT_0,
	NV_PMC_BOOT_42,
	type Platform,
} from '@gspkit/hal';
import { ProbeError } from './errors.ts';
import {
	type BarInfo,
	listCapabilities,
	listExtendedCapabilities,
	PCI_CAP_ID,
	PCI_EXT_CAP_ID,
	type PcieLinkInfo,
	readBars,
	readPcieLink,
	readSriov,
	type SriovInfo,
} from './pci.ts';

/** NVIDIA's PCI vendor ID. */
export const NVIDIA_VENDOR_ID = 0x10de;

/** PCI identity of the probed function, read from its configuration space. */
export interface PciDescription {
	readonly vendorId: number;
	readonly deviceId: number;
	readonly subsystemVendorId: number;
	readonly subsystemId: number;
	readonly revision: number;
	/** Class code (base class << 16 | subclass << 8 | prog-if), e.g. 0x030000 for VGA. */
	readonly classCode: number;
	/** Bus address, e.g. `"0000:01:00.0"`. */
	readonly address: string;
}

/** Everything `probe` learned about a device. Later stages add firmware and boot state. */
export interface DeviceDescription {
	/** The identified chip (hal's table entry plus the silicon revision). */
	readonly chip: Chip;
	/** Raw `NV_PMC_BOOT_0` and `NV_PMC_BOOT_42` values. */
	readonly boot0: number;
	readonly boot42: number;
	readonly pci: PciDescription;
	/** Implemented BARs in index order, sized with the PCI sizing protocol. */
	readonly bars: readonly BarInfo[];
	/** Usable VRAM in bytes (from `NV_PGC6_AON_SECURE_SCRATCH_GROUP_42`, in MiB). */
	readonly vramSize: bigint;
	/** Whether the VBIOS devinit (GFW boot) reports completion; `undefined` if the status is not readable. */
	readonly gfwBootComplete: boolean | undefined;
	/** PCIe link, if the function has a PCI Express capability. */
	readonly pcie: PcieLinkInfo | undefined;
	/** SR-IOV capability, if the function has one. */
	readonly sriov: SriovInfo | undefined;
	/** The platform's own description, e.g. `"gpu-sim ga102 (GeForce RTX 3090)"`. */
	readonly platform: string;
	/** Firmware to boot with; filled by the boot stage (later issues). */
	readonly firmware: undefined;
}

/** Whether a BAR0 read looks like "nothing answered": all ones, or a PRI error (0xbad0xxxx). */
export function isDeadRegisterValue(value: number): boolean {
	const v = value >>> 0;
	return v === 0xffff_ffff || v >>> 20 === 0xbad;
}

/**
 * Probe the GPU behind `platform`.
 *
 * Steps: check the vendor ID (config space and platform identity must agree), enable memory decoding if
 * it is off (what `pci_enable_device` does), read and decode `NV_PMC_BOOT_0`/`NV_PMC_BOOT_42`, size the
 * BARs, walk the capability lists for the PCIe link and SR-IOV, read the usable VRAM size and GFW status.
 *
 * @throws ProbeError `CORE_NOT_NVIDIA`, `CORE_PCI_MISMATCH`, `CORE_DEVICE_NOT_RESPONDING` or
 *   `CORE_BAD_CONFIG_SPACE`.
 * @throws UnsupportedChipError (hal, `HAL_UNSUPPORTED_CHIP`) for a chip gspkit does not support.
 */
export async function probe(platform: Platform): Promise<DeviceDescription> {
	const config = platform.config;
	const vendorId = config.read16(0x00);
	const deviceId = config.read16(0x02);
	if (vendorId === 0xffff) {
		throw new ProbeError('CORE_DEVICE_NOT_RESPONDING', 'PCI configuration space reads all ones', {
			address: platform.pci.address,
		});
	}
	if (vendorId !== NVIDIA_VENDOR_ID) {
		throw new ProbeError(
			'CORE_NOT_NVIDIA',
			`${platform.pci.address}: vendor ID ${hex(vendorId, 4)} is not NVIDIA (${hex(NVIDIA_VENDOR_ID, 4)})`,
			{ vendorId: hex(vendorId, 4), deviceId: hex(deviceId, 4) },
		);
	}
	if (platform.pci.vendorId !== vendorId || platform.pci.deviceId !== deviceId) {
		throw new ProbeError(
			'CORE_PCI_MISMATCH',
			`platform reports ${hex(platform.pci.vendorId, 4)}:${hex(platform.pci.deviceId, 4)} but configuration space holds ${hex(vendorId, 4)}:${hex(deviceId, 4)}`,
			{
				platform: `${hex(platform.pci.vendorId, 4)}:${hex(platform.pci.deviceId, 4)}`,
				config: `${hex(vendorId, 4)}:${hex(deviceId, 4)}`,
			},
		);
	}
	const classRev = config.read32(0x08);
	const pci: PciDescription = {
		vendorId,
		deviceId,
		subsystemVendorId: config.read16(0x2c),
		subsystemId: config.read16(0x2e),
		revision: classRev & 0xff,
		classCode: classRev >>> 8,
		address: platform.pci.address,
	};
	const bars = readBars(config);
	const command = config.read16(0x04);
	if ((command & 0x2) === 0) config.write16(0x04, command | 0x2);

	const bar0 = platform.bar0;
	const boot0 = NV_PMC_BOOT_0.read(bar0).raw;
	const boot42 = NV_PMC_BOOT_42.read(bar0).raw;
	if (isDeadRegisterValue(boot0)) {
		throw new ProbeError(
			'CORE_DEVICE_NOT_RESPONDING',
			`NV_PMC_BOOT_0 reads ${hex(boot0)}: the GPU does not answer on BAR0`,
			{ boot0: hex(boot0) },
		);
	}
	const chip = identifyChip(boot0, isDeadRegisterValue(boot42) ? 0 : boot42);

	const fb = NV_PGC6_AON_SECURE_SCRATCH_GROUP_42.read(bar0);
	if (isDeadRegisterValue(fb.raw) || fb.usableFbSizeMiB() === 0) {
		throw new ProbeError(
			'CORE_DEVICE_NOT_RESPONDING',
			`${fb.register.name} (usable FB size, ${hex(fb.register.offset, 6)}) reads ${hex(fb.raw)}`,
			{ value: hex(fb.raw) },
		);
	}
	let gfwBootComplete: boolean | undefined;
	if (NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK.read(bar0).get('read_protection_level0')) {
		const gfw = NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.read(bar0);
		gfwBootComplete = isDeadRegisterValue(gfw.raw) ? undefined : gfw.completed();
	}

	const pcieCap = listCapabilities(config).find((c) => c.id === PCI_CAP_ID.PCIE);
	const sriovCap = listExtendedCapabilities(config).find((c) => c.id === PCI_EXT_CAP_ID.SRIOV);

	return {
		chip,
		boot0,
		boot42,
		pci,
		bars,
		vramSize: fb.usableFbSizeBytes(),
		gfwBootComplete,
		pcie: pcieCap === undefined ? undefined : readPcieLink(config, pcieCap.offset),
		sriov: sriovCap === undefined ? undefined : readSriov(config, sriovCap.offset),
		platform: platform.description,
		firmware: undefined,
	};
}
