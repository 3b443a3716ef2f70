/**
 * PCIe function-level reset of the simulated GPU: Device Control bit 15 of the PCI Express capability
 * (0x78 + 0x08 = 0x80) resets the configuration space (COMMAND enables off) and everything behind it —
 * WPR2, the scratch registers, both falcons and GSP-RM — so a GPU booted before can be booted again.
 */

import type { VirtualClock } from '@gspkit/hal';
import { afterEach, describe, expect, it } from 'vitest';
import {
	BOOT_REGS,
	CAP_OFFSETS,
	createSimulatedGpu,
	FALCON,
	FALCON_BASES,
	PCI,
	PCIE_CAP,
	type SimulatedGpu,
	SRIOV,
} from '../src/index.ts';

const PCIE = CAP_OFFSETS.PCIE;
const DEVCTL = PCIE + PCIE_CAP.DEVICE_CONTROL;
const GSP = FALCON_BASES.gsp;
const SEC2 = FALCON_BASES.sec2;
const ENABLES = PCI.COMMAND_MEMORY | PCI.COMMAND_BUS_MASTER;

const open: SimulatedGpu[] = [];
afterEach(async () => {
	for (const g of open.splice(0)) await g.close();
});

function gpu(chip = 'ga102'): SimulatedGpu {
	const g = createSimulatedGpu({ chip, dmaPoolSize: 16 << 20 });
	open.push(g);
	g.config.write16(PCI.COMMAND, g.config.read16(PCI.COMMAND) | ENABLES);
	return g;
}

function flr(g: SimulatedGpu): void {
	g.config.write16(DEVCTL, g.config.read16(DEVCTL) | PCIE_CAP.DEVCTL_INITIATE_FLR);
}

describe('PCIe function-level reset: configuration space', () => {
	it('the PCI Express capability sits at 0x78, advertises FLR, and Initiate FLR reads back 0', () => {
		const g = gpu();
		expect(g.config.read8(PCIE)).toBe(0x10);
		expect(DEVCTL).toBe(0x80);
		expect(g.config.read32(PCIE + PCIE_CAP.DEVICE_CAPABILITIES) & PCIE_CAP.DEVCAP_FLR).toBe(1 << 28);
		expect(g.config.read16(DEVCTL)).toBe(0x2810);
		flr(g);
		expect(g.config.read16(DEVCTL) & PCIE_CAP.DEVCTL_INITIATE_FLR).toBe(0);
	});

	it('resets COMMAND enables, Device Control and MSI to their reset values; BAR0 is unreachable until memory decoding is back', () => {
		const g = gpu();
		const bar0 = g.config.read32(PCI.BAR0);
		g.config.write16(DEVCTL, 0x2830); // relaxed ordering etc.: plain writable bits
		g.config.write32(CAP_OFFSETS.MSI + 4, 0xfee0_1000);
		g.config.write16(CAP_OFFSETS.MSI + 2, g.config.read16(CAP_OFFSETS.MSI + 2) | 1);
		expect(g.bar0.read32(0)).not.toBe(0xffff_ffff);
		g.config.write16(DEVCTL, 0x2830 | PCIE_CAP.DEVCTL_INITIATE_FLR);
		expect(g.config.read16(PCI.COMMAND) & (ENABLES | PCI.COMMAND_IO)).toBe(0);
		expect(g.config.read16(DEVCTL)).toBe(0x2810);
		expect(g.config.read32(CAP_OFFSETS.MSI + 4)).toBe(0);
		expect(g.config.read16(CAP_OFFSETS.MSI + 2) & 1).toBe(0);
		expect(g.config.read32(PCI.BAR0)).toBe(bar0); // assigned addresses stay (identity, vendor: read-only)
		expect(g.config.read16(PCI.VENDOR_ID)).toBe(0x10de);
		// Memory decoding is off: BAR0 reads end at the root port (all ones), writes are dropped.
		expect(g.bar0.read32(0)).toBe(0xffff_ffff);
		g.config.write16(PCI.COMMAND, PCI.COMMAND_MEMORY);
		expect(g.bar0.read32(0)).not.toBe(0xffff_ffff);
	});

	it('the FLR bit acts in a 32-bit write of Device Control + Status and in a byte write of its high half', () => {
		const g = gpu();
		g.config.write32(DEVCTL, (0x000f << 16) | 0x2810 | PCIE_CAP.DEVCTL_INITIATE_FLR);
		expect(g.config.read16(PCI.COMMAND) & ENABLES).toBe(0);
		g.config.write16(PCI.COMMAND, ENABLES);
		g.config.write8(DEVCTL + 1, 0x80 | 0x28);
		expect(g.config.read16(PCI.COMMAND) & ENABLES).toBe(0);
		g.config.write16(PCI.COMMAND, ENABLES);
		// Without bit 15 nothing resets: not a write of the low byte with bit 7 set, nor of the status word.
		g.config.write8(DEVCTL, 0x90);
		g.config.write16(PCIE + PCIE_CAP.DEVICE_STATUS, 0x8000);
		g.config.write16(DEVCTL, 0x2810);
		expect(g.config.read16(PCI.COMMAND) & ENABLES).toBe(ENABLES);
	});

	it('SR-IOV boards: FLR clears VF Enable and NumVFs, which is writable again', () => {
		const g = gpu('ga100');
		const b = CAP_OFFSETS.SRIOV;
		g.config.write16(b + SRIOV.NUM_VFS, 4);
		g.config.write16(b + SRIOV.CONTROL, SRIOV.CONTROL_VF_ENABLE | SRIOV.CONTROL_VF_MSE);
		g.config.write16(b + SRIOV.NUM_VFS, 8); // locked while VFs are enabled
		expect(g.config.read16(b + SRIOV.NUM_VFS)).toBe(4);
		flr(g);
		expect(g.config.read16(b + SRIOV.CONTROL)).toBe(0);
		expect(g.config.read16(b + SRIOV.NUM_VFS)).toBe(0);
		g.config.write16(b + SRIOV.NUM_VFS, 8);
		expect(g.config.read16(b + SRIOV.NUM_VFS)).toBe(8);
	});
});

describe('PCIe function-level reset: the device behind it', () => {
	it('tears WPR2 down, clears the scratch registers, resets both falcons and GSP-RM; fuses stay', () => {
		const g = gpu();
		const wr = (o: number, v: number) => g.bar0.write32(o, v);
		const rd = (o: number) => g.bar0.read32(o);
		const fuse = BOOT_REGS.FUSE_SEC2_UCODE1_VERSION + 4 * 2;
		const fuseValue = rd(fuse);
		// What a booted GPU looks like: WPR2 up (hardware-set), FWSEC's scratch, mailboxes, OS, the GSP core running.
		g.registers.poke(BOOT_REGS.WPR2_ADDR_LO, 0x05f0_0000);
		g.registers.poke(BOOT_REGS.WPR2_ADDR_HI, 0x0600_0000);
		wr(BOOT_REGS.FRTS_ERR_SCRATCH, 0x1234_0000);
		wr(GSP + FALCON.MAILBOX0, 0x2000_1000);
		wr(GSP + FALCON.OS, 0x5701_4400);
		wr(SEC2 + FALCON.MAILBOX0, 0xbad2_0008);
		wr(SEC2 + FALCON.BOOTVEC, 0x100);
		g.boot.gsp.startRiscv();
		expect((rd(GSP + 0x1388) & 0x80) !== 0).toBe(true);
		g.gspRm.start({ libosArgs: 0x2000_1000n, firmwareVersion: '570.144' });
		expect(g.gspRm.phase).toBe('booting');

		flr(g);
		g.config.write16(PCI.COMMAND, ENABLES);
		expect([rd(BOOT_REGS.WPR2_ADDR_LO), rd(BOOT_REGS.WPR2_ADDR_HI)]).toEqual([0, 0]);
		expect(rd(BOOT_REGS.FRTS_ERR_SCRATCH)).toBe(0);
		expect([rd(GSP + FALCON.MAILBOX0), rd(GSP + FALCON.OS), rd(SEC2 + FALCON.MAILBOX0)]).toEqual([0, 0, 0]);
		expect(rd(SEC2 + FALCON.BOOTVEC)).toBe(0);
		expect(g.boot.gsp.riscvActive).toBe(false);
		expect(rd(GSP + 0x1388) & 0x80).toBe(0); // RISCV_CPUCTL.ACTIVE_STAT
		expect(g.gspRm.phase).toBe('off');
		expect(rd(fuse)).toBe(fuseValue);
		// Out of reset, scrubbing the memories again (HWCFG2.MEM_SCRUBBING, bit 12), done after 20 µs.
		expect(rd(GSP + FALCON.ENGINE) & 1).toBe(0);
		expect(rd(GSP + FALCON.HWCFG2) & (1 << 12)).not.toBe(0);
		(g.clock as VirtualClock).advance(20_000n);
		expect(rd(GSP + FALCON.HWCFG2) & (1 << 12)).toBe(0);
		expect(rd(SEC2 + FALCON.HWCFG2) & (1 << 12)).toBe(0);
	});
});
