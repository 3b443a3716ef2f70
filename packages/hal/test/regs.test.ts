import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	ENGINE_ID_MASK,
	FALCON,
	GSP,
	GSP_CMDQ_INDEX,
	joinDmaBase,
	NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION,
	NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION,
	NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION,
	NV_PBUS_SW_SCRATCH,
	NV_PBUS_SW_SCRATCH_0E_FRTS_ERR,
	NV_PDISP_VGA_WORKSPACE_BASE,
	NV_PFB_PRI_MMU_WPR2_ADDR_HI,
	NV_PFB_PRI_MMU_WPR2_ADDR_LO,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_42,
	NV_PGSP_QUEUE_HEAD,
	NV_PGSP_QUEUE_TAIL,
	NV_PMC_BOOT_0,
	NV_PMC_BOOT_42,
	readWpr2,
	SEC2,
	splitDmaBase,
} from '../src/index.ts';
import { FakeBar } from './fake-bar.ts';

// Offsets from the hardware reference A.2 tables, relative to PFALCON (or PFALCON2 where marked).
const FALCON_OFFSETS: Record<keyof typeof FALCON, [number, 'PFALCON' | 'PFALCON2']> = {
	IRQSCLR: [0x004, 'PFALCON'],
	IRQSTAT: [0x008, 'PFALCON'],
	MAILBOX0: [0x040, 'PFALCON'],
	MAILBOX1: [0x044, 'PFALCON'],
	OS: [0x080, 'PFALCON'],
	RM: [0x084, 'PFALCON'],
	HWCFG2: [0x0f4, 'PFALCON'],
	CPUCTL: [0x100, 'PFALCON'],
	BOOTVEC: [0x104, 'PFALCON'],
	DMACTL: [0x10c, 'PFALCON'],
	DMATRFBASE: [0x110, 'PFALCON'],
	DMATRFMOFFS: [0x114, 'PFALCON'],
	DMATRFCMD: [0x118, 'PFALCON'],
	DMATRFFBOFFS: [0x11c, 'PFALCON'],
	DMATRFBASE1: [0x128, 'PFALCON'],
	HWCFG1: [0x12c, 'PFALCON'],
	CPUCTL_ALIAS: [0x130, 'PFALCON'],
	IMEMC: [0x180, 'PFALCON'],
	IMEMD: [0x184, 'PFALCON'],
	IMEMT: [0x188, 'PFALCON'],
	DMEMC: [0x1c0, 'PFALCON'],
	DMEMD: [0x1c4, 'PFALCON'],
	ENGINE: [0x3c0, 'PFALCON'],
	FBIF_TRANSCFG: [0x600, 'PFALCON'],
	FBIF_CTL: [0x624, 'PFALCON'],
	MOD_SEL: [0x180, 'PFALCON2'],
	BROM_CURR_UCODE_ID: [0x198, 'PFALCON2'],
	BROM_ENGIDMASK: [0x19c, 'PFALCON2'],
	BROM_PARAADDR: [0x210, 'PFALCON2'],
	RISCV_CORE_SWITCH_RISCV_STATUS: [0x240, 'PFALCON2'],
	RISCV_CPUCTL: [0x388, 'PFALCON2'],
	RISCV_BCR_CTRL: [0x668, 'PFALCON2'],
};

describe('falcon engines', () => {
	it('GSP and SEC2 bases', () => {
		expect([GSP.PFALCON.address, GSP.PFALCON2.address]).toEqual([0x110000, 0x111000]);
		expect([SEC2.PFALCON.address, SEC2.PFALCON2.address]).toEqual([0x840000, 0x841000]);
		expect([GSP.engineIdMask, SEC2.engineIdMask, ENGINE_ID_MASK.NVDEC]).toEqual([0x0400, 0x0001, 0x0004]);
	});

	it('the named examples resolve to the right absolute offsets', () => {
		expect(GSP.regs.MAILBOX1.offset).toBe(0x110044);
		expect(SEC2.regs.RISCV_BCR_CTRL.offset).toBe(0x841668);
		expect(GSP.regs.MAILBOX1.name).toBe('GSP.NV_PFALCON_FALCON_MAILBOX1');
		expect(NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.offset).toBe(0x1438);
	});

	it('every falcon register sits at base + its reference offset, for both engines', () => {
		expect(Object.keys(GSP.regs).sort()).toEqual(Object.keys(FALCON_OFFSETS).sort());
		for (const engine of [GSP, SEC2]) {
			for (const [key, [off, kind]] of Object.entries(FALCON_OFFSETS)) {
				const reg = engine.regs[key as keyof typeof FALCON];
				expect(reg.offset, `${engine.name}.${key}`).toBe(engine[kind].address + off);
			}
		}
	});

	it('falcon arrays have the reference strides', () => {
		expect(GSP.regs.IMEMC.elements().map((r) => r.offset)).toEqual([0x110180, 0x110190, 0x1101a0, 0x1101b0]);
		expect(GSP.regs.IMEMD.offsetOf(2)).toBe(0x1101a4);
		expect(GSP.regs.IMEMT.offsetOf(3)).toBe(0x1101b8);
		expect(SEC2.regs.DMEMC.offsetOf(7)).toBe(0x840000 + 0x1c0 + 56);
		expect(SEC2.regs.DMEMD.offsetOf(1)).toBe(0x8401cc);
		expect(GSP.regs.FBIF_TRANSCFG.offsetOf(4)).toBe(0x110610);
	});

	it('DMATRFCMD encodes the loader commands 0x614 (secure IMEM) and 0x600 (DMEM)', () => {
		const cmd = GSP.regs.DMATRFCMD;
		expect(cmd.build({ size: 'SIZE_256B', imem: true, sec: 1 }).raw).toBe(0x614);
		expect(cmd.build({ size: 'SIZE_256B' }).raw).toBe(0x600);
		expect(cmd.from(0x614).sizeBytes()).toBe(256);
		expect(cmd.from(0x2).get('idle')).toBe(true);
		expect(cmd.from(0x700).get('size').ok).toBe(false);
		expect(cmd.from(0x700).sizeBytes()).toBeUndefined();
	});

	it('decodes and encodes the other typed falcon fields', () => {
		const r = GSP.regs;
		// FBIF_TRANSCFG[0] = coherent sysmem, physical.
		expect(r.FBIF_TRANSCFG.at(0).build({ target: 'COHERENT_SYSMEM', mem_type: 'PHYSICAL' }).raw).toBe(0x5);
		expect(r.FBIF_TRANSCFG.at(0).from(0x3).get('target').ok).toBe(false);
		expect(r.FBIF_CTL.build({ allow_phys_no_ctx: true }).raw).toBe(0x80);
		expect(r.HWCFG1.from(0x35).getOrThrow('security_model')).toBe('HEAVY');
		expect(r.HWCFG1.from(0x35).getOrThrow('core_rev')).toBe('REV5');
		expect(r.HWCFG1.from(0x10).get('security_model').ok).toBe(false);
		expect(r.HWCFG2.from(0x1000).memScrubbingDone()).toBe(false);
		expect(r.HWCFG2.from(0x8000_0400).memScrubbingDone()).toBe(true);
		expect(r.HWCFG2.from(0x8000_0400).get('reset_ready')).toBe(true);
		expect(r.HWCFG2.from(0x8000_0400).get('riscv')).toBe(true);
		expect(r.CPUCTL.build({ startcpu: true }).raw).toBe(0x2);
		expect(r.CPUCTL.from(0x50).get('halted')).toBe(true);
		expect(r.CPUCTL.from(0x50).get('alias_en')).toBe(true);
		expect(r.CPUCTL_ALIAS.build({ startcpu: true }).raw).toBe(0x2);
		expect(r.MOD_SEL.build({ algo: 'RSA3K' }).raw).toBe(1);
		expect(r.RISCV_BCR_CTRL.build({ core_select: 'RISCV', br_fetch: true }).raw).toBe(0x110);
		expect(r.RISCV_BCR_CTRL.from(0x11).get('valid')).toBe(true);
		expect(r.RISCV_CPUCTL.from(0x80).get('active_stat')).toBe(true);
		expect(r.RISCV_CPUCTL.from(0x10).get('halted')).toBe(true);
		expect(r.RISCV_CPUCTL.from(0x01).get('halted')).toBe(false);
		expect(r.IRQSTAT.from(0x40).get('swgen0')).toBe(true);
		expect(r.IRQSCLR.build({ halt: true, swgen1: true }).raw).toBe(0x90);
		expect(r.ENGINE.build({ reset: true }).raw).toBe(1);
		expect(r.DMACTL.from(0x6).get('imem_scrubbing')).toBe(true);
		expect(r.DMATRFMOFFS.zero().with('offs', 0xff_ffff).raw).toBe(0xff_ffff);
		expect(() => r.DMATRFMOFFS.zero().with('offs', 0x100_0000)).toThrow(/does not fit/);
		expect(() => r.DMATRFBASE1.zero().with('base', 0x200)).toThrow(/does not fit/);
	});

	it('IMEMC/DMEMC select blocks and word offsets', () => {
		const imemc = GSP.regs.IMEMC.at(0).build({ blk: 0xff, offs: 0x3f, aincw: true, secure: true });
		expect(imemc.raw).toBe(0x1100_fffc);
		expect(imemc.address()).toBe(0xfffc);
		expect(GSP.regs.DMEMC.at(0).build({ blk: 2, offs: 1, aincw: true }).raw).toBe(0x0100_0204);
	});

	it('splits and joins 49-bit DMA source addresses', () => {
		expect(splitDmaBase(0x1_2345_6789_ab00n)).toEqual({ base: 0x4567_89ab, base1: 0x123 });
		fc.assert(
			fc.property(fc.bigInt({ min: 0n, max: (1n << 41n) - 1n }), (page) => {
				const addr = page << 8n;
				const { base, base1 } = splitDmaBase(addr);
				return joinDmaBase(base, base1) === addr && base1 < 0x200;
			}),
		);
		expect(() => splitDmaBase(0x80n)).toThrow(/256-byte aligned/);
		expect(() => splitDmaBase(1n << 49n)).toThrow(/below 2\^49/);
	});

	it('reads and writes through the resolved registers of each engine independently', () => {
		const bar = new FakeBar();
		GSP.regs.MAILBOX0.write(bar, 0xdead);
		SEC2.regs.MAILBOX0.write(bar, 0xbeef);
		expect(bar.regs.get(0x110040)).toBe(0xdead);
		expect(bar.regs.get(0x840040)).toBe(0xbeef);
		expect(FALCON.MAILBOX0.read(bar, SEC2.PFALCON).get('value')).toBe(0xbeef);
	});
});

describe('chip identity registers', () => {
	it('decode a GA102 A1', () => {
		const b0 = NV_PMC_BOOT_0.from(0x172000a1);
		expect(NV_PMC_BOOT_0.offset).toBe(0);
		expect(b0.architectureCode()).toBe(0x17);
		expect(b0.chipset()).toBe(0x172);
		expect(b0.isOlderThanFermi()).toBe(false);
		const b42 = NV_PMC_BOOT_42.from(0x172a1000);
		expect(NV_PMC_BOOT_42.offset).toBe(0xa00);
		expect(b42.getOrThrow('architecture')).toBe('Ampere');
		expect(b42.chipset()).toBe(0x172);
		expect([b42.get('major_revision'), b42.get('minor_revision')]).toEqual([0xa, 1]);
		expect(NV_PMC_BOOT_42.from(0x1b700000).getOrThrow('architecture')).toBe('BlackwellGB20x');
		expect(NV_PMC_BOOT_42.from(0x14000000).get('architecture').ok).toBe(false);
	});

	it('architecture_1 is bit 5 of the BOOT_0 architecture', () => {
		expect(NV_PMC_BOOT_0.from(0x0100_0100).architectureCode()).toBe(0x21);
		expect(NV_PMC_BOOT_0.from(0x0b00_0000).isOlderThanFermi()).toBe(true);
		expect(NV_PMC_BOOT_0.from(0x0c00_0000).isOlderThanFermi()).toBe(false);
	});
});

describe('FWSEC-FRTS result registers', () => {
	it('SW_SCRATCH array and the 0xe alias', () => {
		expect(NV_PBUS_SW_SCRATCH.offsetOf(0)).toBe(0x1400);
		expect(NV_PBUS_SW_SCRATCH.offsetOf(63)).toBe(0x14fc);
		expect(() => NV_PBUS_SW_SCRATCH.at(64)).toThrow();
		const bar = new FakeBar();
		bar.regs.set(0x1438, 0x0000_ffff);
		expect(NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.read(bar).succeeded()).toBe(true);
		bar.regs.set(0x1438, 0x0001_0000);
		expect(NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.read(bar).get('frts_err_code')).toBe(1);
		expect(NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.read(bar).succeeded()).toBe(false);
	});

	it('WPR2 bounds decode bits 31:4 as address >> 12', () => {
		const bar = new FakeBar();
		expect(NV_PFB_PRI_MMU_WPR2_ADDR_LO.offset).toBe(0x1fa824);
		expect(NV_PFB_PRI_MMU_WPR2_ADDR_HI.offset).toBe(0x1fa828);
		expect(readWpr2(bar)).toBeUndefined();
		// FRTS at 0x5_ff80_0000 .. 0x6_0000_0000: LO/HI hold addr >> 12 in bits 31:4.
		bar.regs.set(0x1fa824, (0x5ff800 << 4) | 0x3); // low nibble is not part of the address
		bar.regs.set(0x1fa828, 0x600000 << 4);
		expect(readWpr2(bar)).toEqual({ start: 0x5_ff80_0000n, end: 0x6_0000_0000n });
		expect(NV_PFB_PRI_MMU_WPR2_ADDR_HI.read(bar).isSet()).toBe(true);
		expect(NV_PFB_PRI_MMU_WPR2_ADDR_LO.from(0xffff_fff0).address()).toBe(0xff_ffff_f000n);
	});
});

describe('other registers', () => {
	it('usable FB size', () => {
		const v = NV_PGC6_AON_SECURE_SCRATCH_GROUP_42.from(24_576);
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_42.offset).toBe(0x1183a4);
		expect(v.usableFbSizeMiB()).toBe(24_576);
		expect(v.usableFbSizeBytes()).toBe(24n * 1024n * 1024n * 1024n);
	});

	it('GFW boot progress and its read permission', () => {
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.offset).toBe(0x118234);
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.from(0x1ff).completed()).toBe(true);
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.from(0xfe).completed()).toBe(false);
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK.offset).toBe(0x118128);
		expect(NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK.from(1).get('read_protection_level0')).toBe(
			true,
		);
	});

	it('VGA workspace base', () => {
		expect(NV_PDISP_VGA_WORKSPACE_BASE.offset).toBe(0x625f04);
		expect(NV_PDISP_VGA_WORKSPACE_BASE.from((0x5ff0 << 8) | 0x8).vgaWorkspaceAddress()).toBe(0x5ff0n << 16n);
		expect(NV_PDISP_VGA_WORKSPACE_BASE.from(0x5ff0 << 8).vgaWorkspaceAddress()).toBeUndefined();
	});

	it('GSP queue doorbells', () => {
		expect(NV_PGSP_QUEUE_HEAD.offsetOf(GSP_CMDQ_INDEX)).toBe(0x110c00);
		expect(NV_PGSP_QUEUE_HEAD.offsetOf(1)).toBe(0x110c08);
		expect(NV_PGSP_QUEUE_TAIL.offsetOf(0)).toBe(0x110c04);
		expect(NV_PGSP_QUEUE_HEAD.length).toBe(8);
	});

	it('fuse ucode-version arrays and the fuse version (bit length)', () => {
		expect(NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION.offsetOf(0)).toBe(0x824100);
		expect(NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION.offsetOf(0)).toBe(0x824140);
		expect(NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION.offsetOf(15)).toBe(0x8241c0 + 60);
		expect(GSP.fuseVersions).toBe(NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION);
		expect(SEC2.fuseVersions).toBe(NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION);
		const fuse = NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION.at(0);
		expect(fuse.from(0).fuseVersion()).toBe(0);
		expect(fuse.from(0b111).fuseVersion()).toBe(3);
		expect(fuse.from(0b100).fuseVersion()).toBe(3);
		expect(fuse.from(0xffff).fuseVersion()).toBe(16);
		expect(fuse.from(0xffff_0001).fuseVersion()).toBe(1); // bits above 15:0 are not fuse data
	});
});
