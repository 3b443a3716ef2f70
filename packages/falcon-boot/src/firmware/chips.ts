/**
 * Which firmware files each chip needs, and which GSP signature section is its own.
 *
 * Keyed by the lower-case chip directory name used under `nvidia/` (`'ga102'`). The facts come from the
 * published firmware set (which files exist per chip directory) and nova-core (`gpu.rs`
 * `needs_fwsec_bootloader`/`uses_fsp`, `firmware/gsp.rs` signature sections); where the two disagree the
 * files win (GH100's section is `.fwsignature_gh100`, which is what the files contain).
 *
 * @module
 */

/** The kinds of file found under `nvidia/<chip>/gsp/`. */
export type FirmwareKind =
	| 'booter_load'
	| 'booter_unload'
	| 'bootloader'
	| 'gen_bootloader'
	| 'scrubber'
	| 'gsp'
	| 'fmc';

/** Every {@link FirmwareKind}, in the order tools list them. */
export const FIRMWARE_KINDS: readonly FirmwareKind[] = Object.freeze([
	'booter_load',
	'booter_unload',
	'bootloader',
	'gen_bootloader',
	'scrubber',
	'gsp',
	'fmc',
]);

/** The firmware branches gspkit has ABI packages for. */
export const KNOWN_FIRMWARE_VERSIONS: readonly string[] = Object.freeze(['535.113.01', '570.144']);

/** How a chip gets GSP-RM started: SEC2 runs booter (Turing..Ada), or FSP runs FMC (Hopper, Blackwell). */
export type FirmwareBootPath = 'booter' | 'fsp';

/** Firmware facts for one chip. */
export interface FirmwareChip {
	/** Lower-case chip directory name, e.g. `'ga102'`. */
	readonly chip: string;
	/** Family suffix of this chip's `.fwsignature_<family>` section in `gsp-*.bin`. */
	readonly signatureFamily: string;
	/** Boot path. */
	readonly bootPath: FirmwareBootPath;
	/** Whether FWSEC needs the generic falcon bootloader (Turing and GA100). */
	readonly genBootloader: boolean;
}

const T = (chip: string, signatureFamily: string, bootPath: FirmwareBootPath, genBootloader: boolean) =>
	Object.freeze({ chip, signatureFamily, bootPath, genBootloader });

/** Every chip with GSP firmware in the published set. */
export const FIRMWARE_CHIPS: readonly FirmwareChip[] = Object.freeze([
	T('tu102', 'tu10x', 'booter', true),
	T('tu104', 'tu10x', 'booter', true),
	T('tu106', 'tu10x', 'booter', true),
	T('tu116', 'tu11x', 'booter', true),
	T('tu117', 'tu11x', 'booter', true),
	T('ga100', 'ga100', 'booter', true),
	T('ga102', 'ga10x', 'booter', false),
	T('ga103', 'ga10x', 'booter', false),
	T('ga104', 'ga10x', 'booter', false),
	T('ga106', 'ga10x', 'booter', false),
	T('ga107', 'ga10x', 'booter', false),
	T('ad102', 'ad10x', 'booter', false),
	T('ad103', 'ad10x', 'booter', false),
	T('ad104', 'ad10x', 'booter', false),
	T('ad106', 'ad10x', 'booter', false),
	T('ad107', 'ad10x', 'booter', false),
	T('gh100', 'gh100', 'fsp', false),
	T('gb100', 'gb10x', 'fsp', false),
	T('gb102', 'gb10x', 'fsp', false),
	T('gb202', 'gb20x', 'fsp', false),
	T('gb203', 'gb20x', 'fsp', false),
	T('gb205', 'gb20x', 'fsp', false),
	T('gb206', 'gb20x', 'fsp', false),
	T('gb207', 'gb20x', 'fsp', false),
]);

const BY_CHIP: ReadonlyMap<string, FirmwareChip> = new Map(FIRMWARE_CHIPS.map((c) => [c.chip, c]));

/** Firmware facts for `chip` (any case), or `undefined` for a chip without GSP firmware. */
export function firmwareChip(chip: string): FirmwareChip | undefined {
	return BY_CHIP.get(chip.toLowerCase());
}

/** One file of a chip's firmware set, with the relative names it may be found under (first match wins). */
export interface FirmwareFileSpec {
	/** The kind. */
	readonly kind: FirmwareKind;
	/** Relative names under a firmware root, e.g. `['nvidia/ga102/gsp/gsp-570.144.bin']`. */
	readonly names: readonly string[];
	/** Whether the set is complete without it (e.g. Ada's `scrubber`). */
	readonly optional: boolean;
}

/** The relative name of a firmware file: `nvidia/<chip>/gsp/<kind>-<version>.bin`. */
export function firmwareFileName(chip: string, kind: FirmwareKind, version: string): string {
	return `nvidia/${chip.toLowerCase()}/gsp/${kind}-${version}.bin`;
}

/**
 * The files `chip` needs for firmware `version`:
 * - booter path (Turing, Ampere, Ada): `booter_load`, `booter_unload`, `bootloader`, `gsp`; plus
 *   `gen_bootloader` on Turing and GA100 — `gsp/gen_bootloader-<ver>.bin`, or `acr/bl.bin` (same format),
 *   which is what nouveau's r535 path loads and the only one the 535.113.01 set has; plus an optional
 *   `scrubber` (Ada, 570.144);
 * - FSP path (Hopper, Blackwell): `bootloader`, `fmc`, `gsp`.
 *
 * Returns `undefined` for a chip without GSP firmware.
 */
export function firmwareSetSpec(chip: string, version: string): FirmwareFileSpec[] | undefined {
	const info = firmwareChip(chip);
	if (info === undefined) return undefined;
	const c = info.chip;
	const one = (kind: FirmwareKind, optional = false): FirmwareFileSpec => ({
		kind,
		names: [firmwareFileName(c, kind, version)],
		optional,
	});
	if (info.bootPath === 'fsp') return [one('bootloader'), one('fmc'), one('gsp')];
	const spec = [one('booter_load'), one('booter_unload'), one('bootloader'), one('gsp')];
	if (info.genBootloader) {
		spec.push({
			kind: 'gen_bootloader',
			names: [firmwareFileName(c, 'gen_bootloader', version), `nvidia/${c}/acr/bl.bin`],
			optional: false,
		});
	}
	if (c.startsWith('ad')) spec.push(one('scrubber', true));
	return spec;
}
