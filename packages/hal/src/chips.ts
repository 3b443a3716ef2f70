/**
 * The GSP-era chips gspkit knows, and their identification from `NV_PMC_BOOT_0` / `NV_PMC_BOOT_42`.
 *
 * Facts: hardware reference A.0 (chipset codes and register layouts, after nova-core `regs.rs`/`gpu.rs`).
 * The per-chip attributes (MMU format, falcon boot variant, GSP signature section) are what the
 * per-generation HAL modules switch on, so they live next to the chip table rather than being re-derived.
 *
 * @module
 */

import { type Architecture, architectureFromCode } from './architecture.ts';
import { hex, InvalidArgumentError, UnsupportedChipError } from './errors.ts';
import { NV_PMC_BOOT_0, NV_PMC_BOOT_42 } from './regs/pmc.ts';

/** GPU page-table format: v2 (Pascal…Ada, 5 levels, 49-bit VA) or v3 (Hopper+, PCF encodings). */
export type MmuFormat = 'v2' | 'v3';

/**
 * How the falcons are booted on a chip, i.e. which falcon-boot HAL applies:
 * - `tu10x`: Turing; FWSEC through the PIO-loaded generic bootloader, RISC-V core switch register.
 * - `ga100`: GA100; DMA loads like GA10x but the TU10x-style RISC-V core switch.
 * - `ga10x`: GA102..GA107 and Ada; DMA load, `RISCV_CPUCTL`, `HWCFG2.RESET_READY`.
 * - `gh100`: Hopper (FSP-based boot).
 * - `gb10x` / `gb20x`: Blackwell data-centre / client parts.
 */
export type FalconBootVariant = 'tu10x' | 'ga100' | 'ga10x' | 'gh100' | 'gb10x' | 'gb20x';

/** ELF section of the GSP firmware image that holds this chip's signatures (reference A.6). */
export type GspSignatureSection =
	| '.fwsignature_tu10x'
	| '.fwsignature_tu11x'
	| '.fwsignature_ga10x'
	| '.fwsignature_ad10x'
	| '.fwsignature_ga100'
	| '.fwsignature_gh100'
	| '.fwsignature_gb10x'
	| '.fwsignature_gb20x';

/** Static facts about one chip. */
export interface ChipInfo {
	/** Marketing code name, upper case, e.g. `'GA102'`. */
	readonly name: ChipName;
	/** `(architecture << 4) | implementation`, e.g. `0x172`. */
	readonly chipset: number;
	readonly architecture: Architecture;
	/** Architecture code, e.g. `0x17`. */
	readonly archCode: number;
	/** Implementation within the architecture, e.g. `0x2`. */
	readonly implementation: number;
	readonly mmuFormat: MmuFormat;
	readonly falconBootVariant: FalconBootVariant;
	/** Section of the GSP ELF with this chip's signatures; `null` where the reference does not say. */
	readonly gspSignatureSection: GspSignatureSection | null;
}

function chip(
	name: ChipName,
	chipset: number,
	mmuFormat: MmuFormat,
	falconBootVariant: FalconBootVariant,
	gspSignatureSection: GspSignatureSection | null,
): ChipInfo {
	const archCode = chipset >> 4;
	const architecture = architectureFromCode(archCode);
	if (architecture === undefined) throw new Error(`chip table: bad architecture for ${name}`);
	return Object.freeze({
		name,
		chipset,
		architecture,
		archCode,
		implementation: chipset & 0xf,
		mmuFormat,
		falconBootVariant,
		gspSignatureSection,
	});
}

const TABLE: readonly ChipInfo[] = [
	chip('TU102', 0x162, 'v2', 'tu10x', '.fwsignature_tu10x'),
	chip('TU104', 0x164, 'v2', 'tu10x', '.fwsignature_tu10x'),
	chip('TU106', 0x166, 'v2', 'tu10x', '.fwsignature_tu10x'),
	chip('TU117', 0x167, 'v2', 'tu10x', '.fwsignature_tu11x'),
	chip('TU116', 0x168, 'v2', 'tu10x', '.fwsignature_tu11x'),
	chip('GA100', 0x170, 'v2', 'ga100', '.fwsignature_ga100'),
	chip('GA102', 0x172, 'v2', 'ga10x', '.fwsignature_ga10x'),
	chip('GA103', 0x173, 'v2', 'ga10x', '.fwsignature_ga10x'),
	chip('GA104', 0x174, 'v2', 'ga10x', '.fwsignature_ga10x'),
	chip('GA106', 0x176, 'v2', 'ga10x', '.fwsignature_ga10x'),
	chip('GA107', 0x177, 'v2', 'ga10x', '.fwsignature_ga10x'),
	chip('GH100', 0x180, 'v3', 'gh100', '.fwsignature_gh100'),
	chip('AD102', 0x192, 'v2', 'ga10x', '.fwsignature_ad10x'),
	chip('AD103', 0x193, 'v2', 'ga10x', '.fwsignature_ad10x'),
	chip('AD104', 0x194, 'v2', 'ga10x', '.fwsignature_ad10x'),
	chip('AD106', 0x196, 'v2', 'ga10x', '.fwsignature_ad10x'),
	chip('AD107', 0x197, 'v2', 'ga10x', '.fwsignature_ad10x'),
	chip('GB100', 0x1a0, 'v3', 'gb10x', '.fwsignature_gb10x'),
	chip('GB102', 0x1a2, 'v3', 'gb10x', '.fwsignature_gb10x'),
	chip('GB202', 0x1b2, 'v3', 'gb20x', '.fwsignature_gb20x'),
	chip('GB203', 0x1b3, 'v3', 'gb20x', '.fwsignature_gb20x'),
	chip('GB205', 0x1b5, 'v3', 'gb20x', '.fwsignature_gb20x'),
	chip('GB206', 0x1b6, 'v3', 'gb20x', '.fwsignature_gb20x'),
	chip('GB207', 0x1b7, 'v3', 'gb20x', '.fwsignature_gb20x'),
];

/** Chip code name, e.g. `'TU102'` or `'GB202'`. */
export type ChipName =
	| 'TU102'
	| 'TU104'
	| 'TU106'
	| 'TU116'
	| 'TU117'
	| 'GA100'
	| 'GA102'
	| 'GA103'
	| 'GA104'
	| 'GA106'
	| 'GA107'
	| 'GH100'
	| 'AD102'
	| 'AD103'
	| 'AD104'
	| 'AD106'
	| 'AD107'
	| 'GB100'
	| 'GB102'
	| 'GB202'
	| 'GB203'
	| 'GB205'
	| 'GB206'
	| 'GB207';

/** Every supported chip, ordered by chipset code. Frozen. */
export const CHIPS: readonly ChipInfo[] = Object.freeze(TABLE);

const BY_CHIPSET: ReadonlyMap<number, ChipInfo> = new Map(CHIPS.map((c) => [c.chipset, c]));
const BY_NAME: ReadonlyMap<string, ChipInfo> = new Map(CHIPS.map((c) => [c.name, c]));

/** Look a chip up by chipset code (`0x172`); `undefined` when unknown. */
export function chipByChipset(chipset: number): ChipInfo | undefined {
	return BY_CHIPSET.get(chipset);
}

/** Whether `name` (any case) is a supported chip name. */
export function isChipName(name: string): boolean {
	return BY_NAME.has(name.toUpperCase());
}

/**
 * Look a chip up by name, case-insensitively (`'ga102'`, `'GA102'`).
 * @throws InvalidArgumentError (`HAL_INVALID_ARGUMENT`) for an unknown name; `details.known` lists the names.
 */
export function chipByName(name: string): ChipInfo {
	const info = BY_NAME.get(name.trim().toUpperCase());
	if (info === undefined) {
		const known = CHIPS.map((c) => c.name);
		throw new InvalidArgumentError(`unknown chip ${JSON.stringify(name)}; known: ${known.join(', ')}`, {
			name,
			known,
		});
	}
	return info;
}

/** A chip identified on a live (or simulated) GPU: the table entry plus the silicon revision. */
export interface Chip {
	readonly name: ChipName;
	/** `(archCode << 4) | implementation`, e.g. `0x172`. */
	readonly chipset: number;
	readonly architecture: Architecture;
	/** Architecture code, e.g. `0x17`. */
	readonly archCode: number;
	readonly implementation: number;
	/** Silicon revision (`major.minor`, e.g. A1 = `{ major: 0xa, minor: 1 }`). */
	readonly revision: { readonly major: number; readonly minor: number };
	/** The static facts for this chip. */
	readonly info: ChipInfo;
	/** Which register the identity was read from (`boot0` only when `NV_PMC_BOOT_42` reads zero). */
	readonly source: 'boot42' | 'boot0';
}

/**
 * Identify the GPU from the raw `NV_PMC_BOOT_0` (0x000000) and `NV_PMC_BOOT_42` (0x000a00) values.
 *
 * Order (reference A.0, as nova-core does it):
 * 1. `BOOT_0` with `architecture_1` (bit 8) zero and `architecture_0` (28:24) below 0xc is a pre-Fermi chip:
 *    rejected, because such chips have no meaningful `BOOT_42`.
 * 2. `BOOT_42` (architecture 29:24, implementation 23:20, revision 19:16/15:12) is authoritative.
 * 3. If `BOOT_42` reads zero, fall back to `BOOT_0` (architecture = `architecture_0 | architecture_1 << 5`,
 *    implementation 23:20, revision 7:4/3:0).
 *
 * @throws UnsupportedChipError (`HAL_UNSUPPORTED_CHIP`, errno ENODEV) naming both raw values in hex.
 */
export function identifyChip(boot0: number, boot42: number): Chip {
	const b0 = NV_PMC_BOOT_0.from(boot0);
	const b42 = NV_PMC_BOOT_42.from(boot42);
	if (b0.isOlderThanFermi()) {
		throw new UnsupportedChipError(
			b0.raw,
			b42.raw,
			'pre-fermi',
			`BOOT_0 architecture ${hex(b0.architectureCode(), 2)} is older than Fermi (not a GSP-RM GPU)`,
		);
	}
	let archCode: number;
	let implementation: number;
	let revision: Chip['revision'];
	let source: Chip['source'];
	if (b42.raw !== 0) {
		archCode = b42.getRaw('architecture');
		implementation = b42.get('implementation');
		revision = { major: b42.get('major_revision'), minor: b42.get('minor_revision') };
		source = 'boot42';
	} else {
		archCode = b0.architectureCode();
		implementation = b0.get('implementation');
		revision = { major: b0.get('major_revision'), minor: b0.get('minor_revision') };
		source = 'boot0';
	}
	const chipset = (archCode << 4) | implementation;
	if (architectureFromCode(archCode) === undefined) {
		throw new UnsupportedChipError(
			b0.raw,
			b42.raw,
			'unknown-architecture',
			`architecture ${hex(archCode, 2)} (chipset ${hex(chipset, 3)}) is not a GSP-RM architecture (Turing or later)`,
			{ archCode: hex(archCode, 2), chipset: hex(chipset, 3) },
		);
	}
	const info = BY_CHIPSET.get(chipset);
	if (info === undefined) {
		throw new UnsupportedChipError(
			b0.raw,
			b42.raw,
			'unknown-chipset',
			`chipset ${hex(chipset, 3)} is not supported`,
			{
				archCode: hex(archCode, 2),
				chipset: hex(chipset, 3),
			},
		);
	}
	return Object.freeze({
		name: info.name,
		chipset,
		architecture: info.architecture,
		archCode,
		implementation,
		revision: Object.freeze(revision),
		info,
		source,
	});
}

/** Human-readable revision, e.g. `'a1'` for major 0xa, minor 1 (NVIDIA's stepping notation). */
export function formatRevision(revision: Chip['revision']): string {
	return `${revision.major.toString(16)}${revision.minor.toString(16)}`;
}
