/**
 * `@gspkit/core`: the version-neutral device API. Today it probes a GPU through any hal `Platform` and
 * describes what it found; boot, RPC, memory and channels are added by later stages.
 *
 * @module
 */

export { CORE_ERROR_CODES, type CoreErrorCode, ProbeError } from './errors.ts';
export {
	type BarInfo,
	listCapabilities,
	listExtendedCapabilities,
	PCI_CAP_ID,
	PCI_EXT_CAP_ID,
	type PciCapability,
	type PcieLinkInfo,
	readBars,
	readPcieLink,
	readSriov,
	type SriovInfo,
	sizeBar,
} from './pci.ts';
export {
	type DeviceDescription,
	isDeadRegisterValue,
	NVIDIA_VENDOR_ID,
	type PciDescription,
	probe,
} from './probe.ts';
