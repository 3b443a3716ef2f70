/**
 * Register offsets and fields of the falcon boot hardware, written from the hardware reference (part A.2)
 * and NVIDIA's published headers. Falcon offsets are relative to the engine's PFALCON base; the PFALCON2
 * registers sit 0x1000 above it, inside the same 8 KiB window.
 *
 * @module
 */

/** BAR0 bases of the falcon engines the simulator models (reference A.1). */
export const FALCON_BASES = Object.freeze({
	gsp: 0x110000,
	sec2: 0x840000,
});

/** Size of one falcon window: PFALCON (4 KiB) followed by PFALCON2/RISC-V (4 KiB). */
export const FALCON_WINDOW_SIZE = 0x2000;

/** Offsets relative to the PFALCON base. */
export const FALCON = Object.freeze({
	IRQSSET: 0x000,
	IRQSCLR: 0x004,
	IRQSTAT: 0x008,
	IRQMSET: 0x010,
	IRQMCLR: 0x014,
	IRQMASK: 0x018,
	IRQDEST: 0x01c,
	MAILBOX0: 0x040,
	MAILBOX1: 0x044,
	OS: 0x080,
	RM: 0x084,
	HWCFG2: 0x0f4,
	CPUCTL: 0x100,
	BOOTVEC: 0x104,
	HWCFG: 0x108,
	DMACTL: 0x10c,
	DMATRFBASE: 0x110,
	DMATRFMOFFS: 0x114,
	DMATRFCMD: 0x118,
	DMATRFFBOFFS: 0x11c,
	DMATRFBASE1: 0x128,
	HWCFG1: 0x12c,
	CPUCTL_ALIAS: 0x130,
	/** IMEMC(i) = 0x180 + 16i, i < 4. */
	IMEMC0: 0x180,
	/** IMEMD(i) = 0x184 + 16i. */
	IMEMD0: 0x184,
	/** IMEMT(i) = 0x188 + 16i. */
	IMEMT0: 0x188,
	IMEM_PORTS: 4,
	IMEM_PORT_STRIDE: 16,
	/** DMEMC(i) = 0x1c0 + 8i, i < 8. */
	DMEMC0: 0x1c0,
	/** DMEMD(i) = 0x1c4 + 8i. */
	DMEMD0: 0x1c4,
	DMEM_PORTS: 8,
	DMEM_PORT_STRIDE: 8,
	/** `NV_PGSP_FALCON_ENGINE` / `NV_PSEC_FALCON_ENGINE`. */
	ENGINE: 0x3c0,
	/** FBIF_TRANSCFG(i) = 0x600 + 4i, i < 8. */
	FBIF_TRANSCFG0: 0x600,
	FBIF_CTL: 0x624,
	/** `NV_PGSP_QUEUE_HEAD(i)` = 0xc00 + 8i; TAIL at +4; `MSGQ_HEAD/TAIL` at 0xc80/0xc84 + 8i. */
	QUEUE_HEAD0: 0xc00,
	QUEUE_TAIL0: 0xc04,
	MSGQ_HEAD0: 0xc80,
	MSGQ_TAIL0: 0xc84,
	/** First and last+1 offsets of the queue register block kept as plain storage. */
	QUEUE_BLOCK_START: 0xc00,
	QUEUE_BLOCK_END: 0xd00,
});

/** Offsets relative to the PFALCON base of the PFALCON2 / RISC-V registers (reference A.2). */
export const FALCON2 = Object.freeze({
	MOD_SEL: 0x1180,
	BROM_CURR_UCODE_ID: 0x1198,
	BROM_ENGIDMASK: 0x119c,
	/** BROM_PARAADDR(i) = 0x1210 + 4i; only index 0 is used by drivers. */
	BROM_PARAADDR0: 0x1210,
	BROM_PARAADDR_COUNT: 4,
	/** TU10x/GA100: ACTIVE_STAT bit 0. */
	RISCV_CORE_SWITCH_RISCV_STATUS: 0x1240,
	/** GA102+: HALTED bit 4, ACTIVE_STAT bit 7. */
	RISCV_CPUCTL: 0x1388,
	/** VALID bit 0 (read-only), CORE_SELECT bit 4, BRFETCH bit 8. */
	RISCV_BCR_CTRL: 0x1668,
});

/** Bit fields (masks and shifts) of the registers above. */
export const BITS = Object.freeze({
	IRQ_HALT: 1 << 4,
	IRQ_SWGEN0: 1 << 6,
	IRQ_SWGEN1: 1 << 7,
	HWCFG2_RISCV: 1 << 10,
	HWCFG2_MEM_SCRUBBING: 1 << 12,
	HWCFG2_RESET_READY: 1 << 31,
	CPUCTL_STARTCPU: 1 << 1,
	CPUCTL_HALTED: 1 << 4,
	CPUCTL_ALIAS_EN: 1 << 6,
	DMACTL_REQUIRE_CTX: 1 << 0,
	DMACTL_DMEM_SCRUBBING: 1 << 1,
	DMACTL_IMEM_SCRUBBING: 1 << 2,
	DMACTL_DMAQ_NUM_SHIFT: 3,
	DMACTL_SECURE_STAT: 1 << 7,
	DMATRFCMD_FULL: 1 << 0,
	DMATRFCMD_IDLE: 1 << 1,
	DMATRFCMD_SEC_SHIFT: 2,
	DMATRFCMD_IMEM: 1 << 4,
	DMATRFCMD_WRITE: 1 << 5,
	DMATRFCMD_SIZE_SHIFT: 8,
	DMATRFCMD_CTXDMA_SHIFT: 12,
	MEMC_OFFSET_MASK: 0x00fffffc,
	MEMC_AINCW: 1 << 24,
	MEMC_AINCR: 1 << 25,
	IMEMC_SECURE: 1 << 28,
	ENGINE_RESET: 1 << 0,
	TRANSCFG_TARGET_MASK: 0x3,
	TRANSCFG_MEM_TYPE_PHYSICAL: 1 << 2,
	FBIF_CTL_ALLOW_PHYS_NO_CTX: 1 << 7,
	RISCV_STATUS_ACTIVE: 1 << 0,
	RISCV_CPUCTL_HALTED: 1 << 4,
	RISCV_CPUCTL_ACTIVE_STAT: 1 << 7,
	BCR_VALID: 1 << 0,
	BCR_CORE_SELECT_RISCV: 1 << 4,
	BCR_BRFETCH: 1 << 8,
});

/** FBIF_TRANSCFG.TARGET values. */
export const FBIF_TARGET = Object.freeze({ LOCAL_FB: 0, COHERENT_SYSMEM: 1, NONCOHERENT_SYSMEM: 2 });

/** MOD_SEL.ALGO values. */
export const MOD_SEL_ALGO = Object.freeze({ AES: 0, RSA3K: 1 });

/** Engine ID mask bits of the BROM (reference A.2): they also select the fuse register array. */
export const ENGINE_ID_MASK = Object.freeze({ SEC2: 0x0001, NVDEC: 0x0004, GSP: 0x0400 });

/** Absolute BAR0 offsets of the non-falcon registers the boot models read and write. */
export const BOOT_REGS = Object.freeze({
	/** `NV_PBUS_SW_SCRATCH(i)` = 0x1400 + 4i, i < 64. */
	PBUS_SW_SCRATCH0: 0x001400,
	PBUS_SW_SCRATCH_COUNT: 64,
	/** `NV_PBUS_SW_SCRATCH(0xe)`: FWSEC-FRTS error code in bits 31:16. */
	FRTS_ERR_SCRATCH: 0x001400 + 0xe * 4,
	/** `NV_PBUS_SW_SCRATCH(0x15)`: FWSEC-SB error code in bits 15:0 (nouveau). */
	SB_ERR_SCRATCH: 0x001400 + 0x15 * 4,
	/** `NV_PFB_PRI_MMU_WPR2_ADDR_LO` / `_HI`: bits 31:4 = address >> 12 (LO inclusive, HI exclusive). */
	WPR2_ADDR_LO: 0x1fa824,
	WPR2_ADDR_HI: 0x1fa828,
	/** Fuse ucode-version arrays, 16 u32 each, indexed by `ucode_id - 1` (reference A.2). */
	FUSE_NVDEC_UCODE1_VERSION: 0x824100,
	FUSE_SEC2_UCODE1_VERSION: 0x824140,
	FUSE_GSP_UCODE1_VERSION: 0x8241c0,
	FUSE_UCODE_VERSION_COUNT: 16,
	/** Usable FB size in MiB (defined by the identity registers). */
	USABLE_FB_SIZE_IN_MB: 0x1183a4,
	/** VBIOS ROM window. */
	PROM_BASE: 0x300000,
	PROM_SIZE: 0x100000,
});

/** Encode an address for a WPR2 register: bits 31:4 hold `address >> 12`. */
export function wpr2Field(address: bigint): number {
	return Number(((address >> 12n) << 4n) & 0xffff_fff0n) >>> 0;
}

/** Decode a WPR2 register value into the address it holds. */
export function wpr2Address(value: number): bigint {
	return BigInt(value >>> 4) << 12n;
}

/** The fuse version of a fuse register value: its bit length (16 − leading zeros of the low 16 bits). */
export function fuseVersionOf(value: number): number {
	const v = value & 0xffff;
	return v === 0 ? 0 : 32 - Math.clz32(v);
}

/** The fuse register array the BROM consults for an engine ID mask, or `undefined` (reference A.2). */
export function fuseArrayFor(engineIdMask: number): number | undefined {
	if (engineIdMask & ENGINE_ID_MASK.SEC2) return BOOT_REGS.FUSE_SEC2_UCODE1_VERSION;
	if (engineIdMask & ENGINE_ID_MASK.NVDEC) return BOOT_REGS.FUSE_NVDEC_UCODE1_VERSION;
	if (engineIdMask & ENGINE_ID_MASK.GSP) return BOOT_REGS.FUSE_GSP_UCODE1_VERSION;
	return undefined;
}
