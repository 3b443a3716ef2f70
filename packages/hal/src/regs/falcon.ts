/**
 * Falcon v4 registers (hardware reference A.1–A.3; NVIDIA `dev_falcon_v4.h` / `dev_riscv_pri.h`, nova-core).
 *
 * Defined once, relative to a `PFALCON` base (the falcon block) or a `PFALCON2` base (BROM and RISC-V
 * registers, at PFALCON + 0x1000), and instantiated per engine by {@link falconRegisters}.
 *
 * @module
 */

import { InvalidArgumentError } from '../errors.ts';
import {
	defineEnum,
	defineRelativeRegister,
	defineRelativeRegisterArray,
	type Instantiated,
	instantiate,
	type RegisterBase,
} from '../registers.ts';

/** Kind of the falcon block base (`NV_PFALCON_*`). */
export type PFalconBase = RegisterBase<'PFALCON'>;
/** Kind of the second falcon block base (`NV_PFALCON2_*`, `NV_PRISCV_*`). */
export type PFalcon2Base = RegisterBase<'PFALCON2'>;

/** `HWCFG1.SECURITY_MODEL`: the security level the falcon runs at. */
export const FalconSecurityModel = defineEnum('FalconSecurityModel', { NONE: 0, LIGHT: 2, HEAVY: 3 });
/** `HWCFG1.CORE_REV`: falcon core revision 1..7. */
export const FalconCoreRev = defineEnum('FalconCoreRev', {
	REV1: 1,
	REV2: 2,
	REV3: 3,
	REV4: 4,
	REV5: 5,
	REV6: 6,
	REV7: 7,
});
/** `DMATRFCMD.SIZE`: bytes per DMA transfer, `4 << n` (6 = 256 bytes, the only size the loaders use). */
export const DmaTransferSize = defineEnum('DmaTransferSize', {
	SIZE_4B: 0,
	SIZE_8B: 1,
	SIZE_16B: 2,
	SIZE_32B: 3,
	SIZE_64B: 4,
	SIZE_128B: 5,
	SIZE_256B: 6,
});
/** `FBIF_TRANSCFG.TARGET`: where a DMA context points. */
export const FbifTarget = defineEnum('FbifTarget', {
	LOCAL_FB: 0,
	COHERENT_SYSMEM: 1,
	NONCOHERENT_SYSMEM: 2,
});
/** `FBIF_TRANSCFG.MEM_TYPE`: virtual or physical addressing. */
export const FbifMemType = defineEnum('FbifMemType', { VIRTUAL: 0, PHYSICAL: 1 });
/** `FALCON_MOD_SEL.ALGO`: the boot ROM's signature algorithm. */
export const FalconModSelAlgo = defineEnum('FalconModSelAlgo', { AES: 0, RSA3K: 1 });
/** `RISCV_BCR_CTRL.CORE_SELECT`: which core the engine boots. */
export const PeregrineCoreSelect = defineEnum('PeregrineCoreSelect', { FALCON: 0, RISCV: 1 });

const IRQ_FIELDS = {
	halt: { bit: 4, doc: 'The falcon halted.' },
	swgen0: { bit: 6, doc: 'Software interrupt 0; GSP-RM raises it when it posts a message.' },
	swgen1: { bit: 7, doc: 'Software interrupt 1.' },
} as const;

const word = (doc: string) => ({ value: { bits: [31, 0], doc } }) as const;

/** Interrupt clear (write 1 to clear). */
const IRQSCLR = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_IRQSCLR',
	base: 'PFALCON',
	offset: 0x004,
	doc: 'Falcon interrupt clear: writing 1 to a bit clears that interrupt.',
	fields: IRQ_FIELDS,
});
const IRQSTAT = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_IRQSTAT',
	base: 'PFALCON',
	offset: 0x008,
	doc: 'Falcon interrupt status.',
	fields: IRQ_FIELDS,
});
const MAILBOX0 = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_MAILBOX0',
	base: 'PFALCON',
	offset: 0x040,
	doc: 'Host↔ucode argument/return code; non-zero after an HS ucode halts means failure.',
	fields: word('Mailbox value.'),
});
const MAILBOX1 = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_MAILBOX1',
	base: 'PFALCON',
	offset: 0x044,
	doc: 'Second host↔ucode mailbox (e.g. the high half of the libos-args DMA address).',
	fields: word('Mailbox value.'),
});
const OS = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_OS',
	base: 'PFALCON',
	offset: 0x080,
	doc: 'OS version; nova writes the GSP bootloader app_version here.',
	fields: word('App version.'),
});
const RM = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_RM',
	base: 'PFALCON',
	offset: 0x084,
	doc: 'Written with NV_PMC_BOOT_0 after reset (nova, tinygrad).',
	fields: word('Copy of NV_PMC_BOOT_0.'),
});
const HWCFG2 = defineRelativeRegister(
	{
		name: 'NV_PFALCON_FALCON_HWCFG2',
		base: 'PFALCON',
		offset: 0x0f4,
		doc: 'Hardware configuration 2: RISC-V presence, memory scrubbing and reset readiness.',
		fields: {
			riscv: { bit: 10, doc: 'The engine has a RISC-V core.' },
			mem_scrubbing: { bit: 12, doc: '1 while IMEM/DMEM are being scrubbed; 0 when done.' },
			reset_ready: { bit: 31, doc: 'GA102+: the engine can be reset (only nova defines it).' },
		},
	},
	{
		/** Whether IMEM/DMEM scrubbing has finished (the bit reads 0 when done). */
		memScrubbingDone: (v) => !v.get('mem_scrubbing'),
	},
);
const CPUCTL = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_CPUCTL',
	base: 'PFALCON',
	offset: 0x100,
	doc: 'CPU control: start the falcon, observe halt.',
	fields: {
		startcpu: { bit: 1, doc: 'Write 1 to start the CPU at BOOTVEC.' },
		halted: { bit: 4, doc: 'Reads 1 while the CPU is halted.' },
		alias_en: { bit: 6, doc: 'When set, start through CPUCTL_ALIAS instead.' },
	},
});
const BOOTVEC = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_BOOTVEC',
	base: 'PFALCON',
	offset: 0x104,
	doc: 'IMEM address the falcon starts executing at.',
	fields: word('Boot vector.'),
});
const DMACTL = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_DMACTL',
	base: 'PFALCON',
	offset: 0x10c,
	doc: 'DMA control; loaders write 0 before a transfer.',
	fields: {
		require_ctx: { bit: 0 },
		dmem_scrubbing: { bit: 1 },
		imem_scrubbing: { bit: 2 },
		dmaq_num: { bits: [6, 3] },
		secure_stat: { bit: 7 },
	},
});
const DMATRFBASE = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_DMATRFBASE',
	base: 'PFALCON',
	offset: 0x110,
	doc: 'DMA source base address bits 39:8 (address >> 8).',
	fields: { base: { bits: [31, 0] } },
});
const DMATRFMOFFS = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_DMATRFMOFFS',
	base: 'PFALCON',
	offset: 0x114,
	doc: 'DMA destination offset in IMEM/DMEM.',
	fields: { offs: { bits: [23, 0] } },
});
const DMATRFCMD = defineRelativeRegister(
	{
		name: 'NV_PFALCON_FALCON_DMATRFCMD',
		base: 'PFALCON',
		offset: 0x118,
		doc: 'DMA command: writing it starts a transfer. Secure IMEM chunk = 0x614, DMEM chunk = 0x600.',
		fields: {
			full: { bit: 0, doc: 'Read-only: the DMA queue is full.' },
			idle: { bit: 1, doc: 'Read-only: no transfer in flight.' },
			sec: { bits: [3, 2], doc: 'Security level of the transfer (1 for secure IMEM).' },
			imem: { bit: 4, doc: 'Target IMEM (else DMEM).' },
			is_write: { bit: 5, doc: '0 = system → falcon, 1 = falcon → system.' },
			size: { bits: [10, 8], tryAs: DmaTransferSize },
			ctxdma: { bits: [14, 12], doc: 'FBIF_TRANSCFG index used for the transfer.' },
			set_dmtag: { bit: 16 },
		},
	},
	{
		/** Transfer size in bytes, or `undefined` for an invalid SIZE encoding. */
		sizeBytes: (v) => {
			const raw = v.getRaw('size');
			return raw <= 6 ? 4 << raw : undefined;
		},
	},
);
const DMATRFFBOFFS = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_DMATRFFBOFFS',
	base: 'PFALCON',
	offset: 0x11c,
	doc: 'Offset added to the DMA source base.',
	fields: { offs: { bits: [31, 0] } },
});
const DMATRFBASE1 = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_DMATRFBASE1',
	base: 'PFALCON',
	offset: 0x128,
	doc: 'DMA source base address bits 48:40 (address >> 40): source addresses are limited to 49 bits.',
	fields: { base: { bits: [8, 0] } },
});
const HWCFG1 = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_HWCFG1',
	base: 'PFALCON',
	offset: 0x12c,
	doc: 'Hardware configuration 1: core revision and security model.',
	fields: {
		core_rev: { bits: [3, 0], tryAs: FalconCoreRev },
		security_model: { bits: [5, 4], tryAs: FalconSecurityModel },
		core_rev_subversion: { bits: [7, 6] },
	},
});
const CPUCTL_ALIAS = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_CPUCTL_ALIAS',
	base: 'PFALCON',
	offset: 0x130,
	doc: 'Alias of CPUCTL used to start the CPU when CPUCTL.ALIAS_EN is set.',
	fields: { startcpu: { bit: 1 } },
});

const MEMC_FIELDS = {
	offs: { bits: [7, 2], doc: 'Word offset within the 256-byte block.' },
	blk: { bits: [23, 8], doc: '256-byte block index.' },
	aincw: { bit: 24, doc: 'Auto-increment the offset on each data write.' },
} as const;

const memcAddress = {
	/** The byte address selected by BLK and OFFS. */
	address: (v: { getRaw(f: 'offs' | 'blk'): number }) => v.getRaw('blk') * 256 + v.getRaw('offs') * 4,
};

const IMEMC = defineRelativeRegisterArray(
	{
		name: 'NV_PFALCON_FALCON_IMEMC',
		base: 'PFALCON',
		offset: 0x180,
		stride: 16,
		length: 4,
		doc: 'IMEM access port control (PIO loads): address, auto-increment and secure tagging.',
		fields: { ...MEMC_FIELDS, secure: { bit: 28, doc: 'Mark written blocks secure.' } },
	},
	memcAddress,
);
const IMEMD = defineRelativeRegisterArray({
	name: 'NV_PFALCON_FALCON_IMEMD',
	base: 'PFALCON',
	offset: 0x184,
	stride: 16,
	length: 4,
	doc: 'IMEM access port data.',
	fields: word('IMEM word.'),
});
const IMEMT = defineRelativeRegisterArray({
	name: 'NV_PFALCON_FALCON_IMEMT',
	base: 'PFALCON',
	offset: 0x188,
	stride: 16,
	length: 4,
	doc: 'IMEM tag for the next 256-byte block written through the port.',
	fields: { tag: { bits: [15, 0] } },
});
const DMEMC = defineRelativeRegisterArray(
	{
		name: 'NV_PFALCON_FALCON_DMEMC',
		base: 'PFALCON',
		offset: 0x1c0,
		stride: 8,
		length: 8,
		doc: 'DMEM access port control.',
		fields: MEMC_FIELDS,
	},
	memcAddress,
);
const DMEMD = defineRelativeRegisterArray({
	name: 'NV_PFALCON_FALCON_DMEMD',
	base: 'PFALCON',
	offset: 0x1c4,
	stride: 8,
	length: 8,
	doc: 'DMEM access port data.',
	fields: word('DMEM word.'),
});
const ENGINE = defineRelativeRegister({
	name: 'NV_PFALCON_FALCON_ENGINE',
	base: 'PFALCON',
	offset: 0x3c0,
	doc: 'Engine reset (NV_PGSP_FALCON_ENGINE / NV_PSEC_FALCON_ENGINE): assert, wait ~10 µs, deassert.',
	fields: { reset: { bit: 0 } },
});
const FBIF_TRANSCFG = defineRelativeRegisterArray({
	name: 'NV_PFALCON_FBIF_TRANSCFG',
	base: 'PFALCON',
	offset: 0x600,
	stride: 4,
	length: 8,
	doc: 'Per-DMA-context target configuration; index = DMATRFCMD.CTXDMA.',
	fields: {
		target: { bits: [1, 0], tryAs: FbifTarget },
		mem_type: { bits: [2, 2], as: FbifMemType },
	},
});
const FBIF_CTL = defineRelativeRegister({
	name: 'NV_PFALCON_FBIF_CTL',
	base: 'PFALCON',
	offset: 0x624,
	doc: 'Falcon bus interface control.',
	fields: { allow_phys_no_ctx: { bit: 7, doc: 'Allow physical DMA without a context.' } },
});

const MOD_SEL = defineRelativeRegister({
	name: 'NV_PFALCON2_FALCON_MOD_SEL',
	base: 'PFALCON2',
	offset: 0x180,
	doc: 'Boot ROM signature algorithm select.',
	fields: { algo: { bits: [7, 0], tryAs: FalconModSelAlgo } },
});
const BROM_CURR_UCODE_ID = defineRelativeRegister({
	name: 'NV_PFALCON2_FALCON_BROM_CURR_UCODE_ID',
	base: 'PFALCON2',
	offset: 0x198,
	doc: 'Boot ROM input: ucode ID (selects the fuse version entry, ucode_id − 1).',
	fields: { ucode_id: { bits: [7, 0] } },
});
const BROM_ENGIDMASK = defineRelativeRegister({
	name: 'NV_PFALCON2_FALCON_BROM_ENGIDMASK',
	base: 'PFALCON2',
	offset: 0x19c,
	doc: 'Boot ROM input: engine ID mask of the ucode (SEC2 0x0001, GSP 0x0400).',
	fields: word('Engine ID mask.'),
});
const BROM_PARAADDR = defineRelativeRegister({
	name: 'NV_PFALCON2_FALCON_BROM_PARAADDR',
	base: 'PFALCON2',
	offset: 0x210,
	doc: 'Boot ROM input BROM_PARAADDR(0): DMEM offset of the signature (pkc_data_offset).',
	fields: word('DMEM offset.'),
});
const RISCV_CORE_SWITCH_RISCV_STATUS = defineRelativeRegister({
	name: 'NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS',
	base: 'PFALCON2',
	offset: 0x240,
	doc: 'TU10x/GA100 only: whether the RISC-V core is active.',
	fields: { active_stat: { bit: 0 } },
});
const RISCV_CPUCTL = defineRelativeRegister({
	name: 'NV_PRISCV_RISCV_CPUCTL',
	base: 'PFALCON2',
	offset: 0x388,
	// HALTED is 4:4 in NVIDIA's dev_riscv_pri.h (the shared reference says bit 0; the header wins).
	doc: 'GA102+: RISC-V CPU control/status.',
	fields: { halted: { bit: 4 }, active_stat: { bit: 7 } },
});
const RISCV_BCR_CTRL = defineRelativeRegister({
	name: 'NV_PRISCV_RISCV_BCR_CTRL',
	base: 'PFALCON2',
	offset: 0x668,
	doc: 'Boot configuration: select the falcon or the RISC-V core.',
	fields: {
		valid: { bit: 0, doc: 'Read-only: the selection took effect.' },
		core_select: { bits: [4, 4], as: PeregrineCoreSelect },
		br_fetch: { bit: 8 },
	},
});

/**
 * The falcon register set, relative to `PFALCON` / `PFALCON2` bases. Resolve it for an engine with
 * {@link falconRegisters} (or `FALCON.MAILBOX1.of(GSP.PFALCON)` for one register).
 */
export const FALCON = Object.freeze({
	IRQSCLR,
	IRQSTAT,
	MAILBOX0,
	MAILBOX1,
	OS,
	RM,
	HWCFG2,
	CPUCTL,
	BOOTVEC,
	DMACTL,
	DMATRFBASE,
	DMATRFMOFFS,
	DMATRFCMD,
	DMATRFFBOFFS,
	DMATRFBASE1,
	HWCFG1,
	CPUCTL_ALIAS,
	IMEMC,
	IMEMD,
	IMEMT,
	DMEMC,
	DMEMD,
	ENGINE,
	FBIF_TRANSCFG,
	FBIF_CTL,
	MOD_SEL,
	BROM_CURR_UCODE_ID,
	BROM_ENGIDMASK,
	BROM_PARAADDR,
	RISCV_CORE_SWITCH_RISCV_STATUS,
	RISCV_CPUCTL,
	RISCV_BCR_CTRL,
});

/** The falcon registers of one engine, at absolute offsets. */
export type FalconRegisters = Instantiated<typeof FALCON>;

/** The two bases of a falcon engine. */
export interface FalconBases {
	readonly PFALCON: PFalconBase;
	readonly PFALCON2: PFalcon2Base;
}

/** Resolve the whole falcon register set for an engine's bases. */
export function falconRegisters(bases: FalconBases): FalconRegisters {
	return instantiate(FALCON, bases);
}

/**
 * Split a DMA source address into `DMATRFBASE` (addr >> 8) and `DMATRFBASE1` (addr >> 40) values.
 * @throws InvalidArgumentError if the address is not 256-byte aligned or needs more than 49 bits.
 */
export function splitDmaBase(address: bigint): { readonly base: number; readonly base1: number } {
	if (address < 0n || address % 256n !== 0n || address >= 1n << 49n) {
		throw new InvalidArgumentError(
			`falcon DMA source 0x${address.toString(16)} must be 256-byte aligned and below 2^49`,
			{ address: `0x${address.toString(16)}` },
		);
	}
	return { base: Number((address >> 8n) & 0xffff_ffffn), base1: Number(address >> 40n) };
}

/** Inverse of {@link splitDmaBase}: the source address from `DMATRFBASE` and `DMATRFBASE1` values. */
export function joinDmaBase(base: number, base1: number): bigint {
	return ((BigInt(base1 & 0x1ff) << 32n) | BigInt(base >>> 0)) << 8n;
}
