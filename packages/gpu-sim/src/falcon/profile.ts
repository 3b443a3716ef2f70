/**
 * Per-chip facts of the boot hardware: which generation of boot ROM, FWSEC descriptor and RISC-V status
 * register a board has, which GSP signature section its firmware uses, and the fuse values the simulator
 * programs. Facts come from the hardware reference (A.2–A.6) and the published firmware files; the fuse
 * values, memory sizes and ucode IDs marked "choice" are the simulator's.
 *
 * @module
 */

import { type SimChipSpec, simChipSpec } from '../chips.ts';
import { SimBootConfigError } from './errors.ts';
import { BOOT_REGS, ENGINE_ID_MASK } from './registers.ts';

/** Firmware family of a chip: selects the GSP signature section and the booter generation. */
export type BootFamily = 'tu10x' | 'tu11x' | 'ga100' | 'ga10x' | 'ad10x' | 'gh100';

/** Boot ROM generation: `'legacy'` (TU10x/GA100, no BROM parameter registers) or `'pkc'` (GA10x and later). */
export type BromKind = 'legacy' | 'pkc';

/** What the simulator needs to know about one board's boot hardware. */
export interface BootProfile {
	/** Lower-case chip name, e.g. `'ga102'`. */
	readonly chip: string;
	readonly family: BootFamily;
	/** `.fwsignature_<…>` section of the GSP ELF this chip's booter checks against. */
	readonly signatureSection: string;
	/** Version of the FWSEC descriptor in the VBIOS: 2 on TU10x/GA100, 3 on GA10x and later. */
	readonly fwsecDescriptorVersion: 2 | 3;
	readonly brom: BromKind;
	/** Whether the boot flow runs FWSEC-FRTS (all but GA100, whose FRTS region is empty). */
	readonly frts: boolean;
	/** Register reporting the GSP RISC-V core active: CORE_SWITCH_RISCV_STATUS (TU10x/GA100) or RISCV_CPUCTL. */
	readonly riscvStatus: 'core-switch' | 'riscv-cpuctl';
	/** HWCFG2.RESET_READY exists (GA102+). */
	readonly resetReady: boolean;
	/** Whether SEC2 has a RISC-V core too (HWCFG2.RISCV). GA102+. */
	readonly sec2Riscv: boolean;
	/** Core selected in GSP's BCR_CTRL after reset. Choice: RISC-V on GA102+, so drivers must select the falcon. */
	readonly gspCoreAfterReset: 'falcon' | 'riscv';
	/** Falcon core revision reported in HWCFG1.CORE_REV. Choice: 6 on Turing, 7 later. */
	readonly coreRev: number;
	/** FWSEC in the VBIOS: ucode ID (choice), signature versions bit mask (v3 only). */
	readonly fwsec: { readonly ucodeId: number; readonly signatureVersions: number };
	/** Fuse register values the board presents: absolute BAR0 offset → value. Choice (see README). */
	readonly fuses: ReadonlyMap<number, number>;
}

/** The family of a simulated chip name. */
export function bootFamilyOf(chip: string): BootFamily {
	const name = chip.toLowerCase();
	if (name === 'tu116' || name === 'tu117') return 'tu11x';
	if (name.startsWith('tu')) return 'tu10x';
	if (name === 'ga100') return 'ga100';
	if (name.startsWith('ga')) return 'ga10x';
	if (name.startsWith('ad')) return 'ad10x';
	if (name === 'gh100') return 'gh100';
	throw new SimBootConfigError(`no boot hardware model for chip ${JSON.stringify(chip)}`, { chip });
}

/** The GSP signature section a family's booter checks (the published files, as nova-core reads them). */
export const SIGNATURE_SECTION: Readonly<Record<BootFamily, string>> = Object.freeze({
	tu10x: '.fwsignature_tu10x',
	tu11x: '.fwsignature_tu11x',
	ga100: '.fwsignature_ga100',
	ga10x: '.fwsignature_ga10x',
	ad10x: '.fwsignature_ad10x',
	gh100: '.fwsignature_gh100',
});

/** The ucode ID of the booter images (metadata of every published booter_load/unload but Turing's 0xd). */
export const BOOTER_UCODE_ID = 3;

function fuse(array: number, ucodeId: number): number {
	return array + 4 * (ucodeId - 1);
}

/**
 * The boot profile of a simulated board.
 * @throws SimBootConfigError for a chip without a boot model.
 */
export function bootProfile(chip: SimChipSpec | string): BootProfile {
	const spec = typeof chip === 'string' ? simChipSpec(chip) : chip;
	const family = bootFamilyOf(spec.name);
	const legacy = family === 'tu10x' || family === 'tu11x' || family === 'ga100';
	const fuses = new Map<number, number>();
	// Choices. GA10x: one FWSEC signature version below the fuse (index 0 of 2, not the last one) and a SEC2
	// fuse of 1, so booter takes signature index fuse_ver − 1 = 0. AD10x/GH100: FWSEC index 1 of 3 (the
	// middle one) and a SEC2 fuse of 0, so booter takes the last signature. Drivers that always take the
	// first or the last signature fail on one of them.
	let fwsec = { ucodeId: 9, signatureVersions: 0 };
	if (family === 'ga10x') {
		fwsec = { ucodeId: 9, signatureVersions: 0b0110 };
		fuses.set(fuse(BOOT_REGS.FUSE_GSP_UCODE1_VERSION, 9), 0x1);
		fuses.set(fuse(BOOT_REGS.FUSE_SEC2_UCODE1_VERSION, BOOTER_UCODE_ID), 0x1);
	} else if (family === 'ad10x' || family === 'gh100') {
		fwsec = { ucodeId: 9, signatureVersions: 0b1110 };
		fuses.set(fuse(BOOT_REGS.FUSE_GSP_UCODE1_VERSION, 9), 0x3);
		fuses.set(fuse(BOOT_REGS.FUSE_SEC2_UCODE1_VERSION, BOOTER_UCODE_ID), 0x0);
	}
	return Object.freeze({
		chip: spec.name,
		family,
		signatureSection: SIGNATURE_SECTION[family],
		fwsecDescriptorVersion: legacy ? 2 : 3,
		brom: legacy ? 'legacy' : 'pkc',
		frts: family !== 'ga100',
		riscvStatus: legacy ? 'core-switch' : 'riscv-cpuctl',
		resetReady: !legacy,
		sec2Riscv: !legacy,
		gspCoreAfterReset: legacy ? 'falcon' : 'riscv',
		coreRev: family.startsWith('tu') ? 6 : 7,
		fwsec: Object.freeze(fwsec),
		fuses,
	} satisfies BootProfile);
}

/** Engine ID mask of a falcon engine. */
export function engineIdMaskOf(engine: 'gsp' | 'sec2'): number {
	return engine === 'gsp' ? ENGINE_ID_MASK.GSP : ENGINE_ID_MASK.SEC2;
}
