/**
 * PCI function-level reset through the platform's configuration space: the reset path for a GPU whose WPR2
 * is still up from an earlier boot ({@link Wpr2AlreadyUpError}). It follows what Linux's
 * `pci_reset_function` does for an FLR-capable PCIe function: save the header, wait for outstanding
 * transactions, set Initiate Function Level Reset (Device Control bit 15 of the PCI Express capability), wait
 * 100 ms (PCIe base spec), wait until the function answers configuration reads, restore the header.
 *
 * @module
 */

import { hex, MS, type Platform, pollUntil, SEC, TimeoutError } from '@gspkit/hal';
import { PciResetError } from './errors.ts';

/** Configuration-space facts the reset uses (PCI Local Bus and PCIe base specs). */
export const PCI_FLR = Object.freeze({
	/** COMMAND register, and its Bus Master Enable bit. */
	COMMAND: 0x04,
	COMMAND_BUS_MASTER: 1 << 2,
	/** STATUS bit 4: a capability list is present. */
	STATUS: 0x06,
	STATUS_CAP_LIST: 1 << 4,
	CAPABILITIES_POINTER: 0x34,
	/** Capability ID of PCI Express. */
	CAP_ID_PCIE: 0x10,
	/** Offsets inside the PCI Express capability. */
	DEVICE_CAPABILITIES: 0x04,
	DEVICE_CONTROL: 0x08,
	DEVICE_STATUS: 0x0a,
	/** Device Capabilities bit 28: Function Level Reset capable. */
	DEVCAP_FLR: 1 << 28,
	/** Device Control bit 15: Initiate Function Level Reset. */
	DEVCTL_INITIATE_FLR: 1 << 15,
	/** Device Status bit 5: Transactions Pending. */
	DEVSTA_TRANSACTIONS_PENDING: 1 << 5,
	/** Header dwords restored after the reset: BAR0–BAR5 and the expansion ROM BAR. */
	RESTORED_DWORDS: Object.freeze([0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30]),
	/** Header bytes restored after the reset: cache line size, latency timer, interrupt line. */
	RESTORED_BYTES: Object.freeze([0x0c, 0x0d, 0x3c]),
});

/** Timing of {@link resetPciFunction}. */
export const PCI_RESET_TIMEOUTS = Object.freeze({
	/** How long outstanding transactions may take to drain before the reset is issued anyway. */
	pendingNs: 100n * MS,
	/** The wait after Initiate FLR before the function may be accessed (PCIe base spec: 100 ms). */
	flrNs: 100n * MS,
	/** How long the function may take to answer configuration reads again afterwards. */
	readyNs: 1n * SEC,
});

/** What {@link resetPciFunction} did. */
export interface PciResetResult {
	/** Only FLR is implemented. */
	readonly method: 'flr';
	/** Configuration-space offset of the PCI Express capability that carried it. */
	readonly pcieCapability: number;
	/** Whether transactions were still pending when the reset was issued. */
	readonly transactionsPending: boolean;
}

/**
 * Reset the PCI function of `platform` with a function-level reset. Every engine, register and the GSP of the
 * GPU are reset and WPR2 is torn down, so the next {@link bootGsp} starts from scratch; the configuration
 * header (COMMAND, BARs, ROM BAR, interrupt line, Device Control) is saved before and restored after, as an OS
 * does. DMA buffers of an earlier boot are not touched: release them afterwards.
 * @throws PciResetError `EOPNOTSUPP` when the function has no PCI Express capability or is not FLR-capable,
 *   `ETIMEDOUT` when it does not answer configuration reads again in time.
 */
export async function resetPciFunction(platform: Platform): Promise<PciResetResult> {
	const cfg = platform.config;
	const cap = findPcieCapability(platform);
	const devcap = cfg.read32(cap + PCI_FLR.DEVICE_CAPABILITIES);
	if ((devcap & PCI_FLR.DEVCAP_FLR) === 0) {
		throw new PciResetError(
			`${platform.pci.address} is not FLR-capable (PCIe Device Capabilities ${hex(devcap)} lack bit 28)`,
			'EOPNOTSUPP',
			{ pciAddress: platform.pci.address, deviceCapabilities: hex(devcap) },
		);
	}

	// Save what the reset clears and an OS restores.
	const command = cfg.read16(PCI_FLR.COMMAND);
	const devctl = cfg.read16(cap + PCI_FLR.DEVICE_CONTROL) & ~PCI_FLR.DEVCTL_INITIATE_FLR;
	const dwords = PCI_FLR.RESTORED_DWORDS.map((o) => [o, cfg.read32(o)] as const);
	const bytes = PCI_FLR.RESTORED_BYTES.map((o) => [o, cfg.read8(o)] as const);

	// Stop the function mastering, and give outstanding transactions their time (Linux proceeds regardless).
	cfg.write16(PCI_FLR.COMMAND, command & ~PCI_FLR.COMMAND_BUS_MASTER);
	let transactionsPending = false;
	try {
		await pollUntil(
			platform.clock,
			() => cfg.read16(cap + PCI_FLR.DEVICE_STATUS),
			(v) => (v & PCI_FLR.DEVSTA_TRANSACTIONS_PENDING) === 0,
			{ timeoutNs: PCI_RESET_TIMEOUTS.pendingNs, what: 'PCIe Transactions Pending clear' },
		);
	} catch (e) {
		if (!(e instanceof TimeoutError)) throw e;
		transactionsPending = true;
	}

	cfg.write16(cap + PCI_FLR.DEVICE_CONTROL, devctl | PCI_FLR.DEVCTL_INITIATE_FLR);
	await platform.clock.sleep(PCI_RESET_TIMEOUTS.flrNs);
	try {
		await pollUntil(
			platform.clock,
			() => cfg.read16(0x00),
			(vendor) => vendor !== 0xffff,
			{ timeoutNs: PCI_RESET_TIMEOUTS.readyNs, what: 'configuration reads after FLR' },
		);
	} catch (e) {
		if (!(e instanceof TimeoutError)) throw e;
		throw new PciResetError(
			`${platform.pci.address} did not answer configuration reads ${PCI_RESET_TIMEOUTS.readyNs / MS} ms after FLR`,
			'ETIMEDOUT',
			{ pciAddress: platform.pci.address },
			e,
		);
	}

	for (const [o, v] of dwords) cfg.write32(o, v);
	for (const [o, v] of bytes) cfg.write8(o, v);
	cfg.write16(cap + PCI_FLR.DEVICE_CONTROL, devctl);
	cfg.write16(PCI_FLR.COMMAND, command);
	return { method: 'flr', pcieCapability: cap, transactionsPending };
}

/** Walk the capability list from 0x34 to the PCI Express capability (at most 48 entries, as Linux). */
function findPcieCapability(platform: Platform): number {
	const cfg = platform.config;
	const none = (why: string) =>
		new PciResetError(`${platform.pci.address} has no PCI Express capability (${why})`, 'EOPNOTSUPP', {
			pciAddress: platform.pci.address,
		});
	if ((cfg.read16(PCI_FLR.STATUS) & PCI_FLR.STATUS_CAP_LIST) === 0) throw none('no capability list');
	let at = cfg.read8(PCI_FLR.CAPABILITIES_POINTER) & 0xfc;
	for (let n = 0; n < 48 && at >= 0x40; n++) {
		if (cfg.read8(at) === PCI_FLR.CAP_ID_PCIE) return at;
		at = cfg.read8(at + 1) & 0xfc;
	}
	throw none('not in the capability list');
}
