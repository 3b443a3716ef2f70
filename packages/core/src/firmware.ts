/**
 * Choosing the firmware and its ABI for a chip: the app hands core the ABI packages it ships; core asks
 * `@gspkit/abi`'s `selectAbiAsync` to pick the newest branch whose files are present — on disk through
 * falcon-boot's locator (explicit path, `GSPKIT_FIRMWARE_PATH`, `/lib/firmware`, the project cache), or in a
 * map of in-memory files the app supplies (e.g. `gpu-sim`'s synthetic firmware). Core never names a firmware
 * version itself.
 *
 * @module
 */

import {
	type AbiSelection,
	compareVersions,
	type FirmwareAbi,
	type FirmwareProbeResult,
	selectAbiAsync,
} from '@gspkit/abi';
import {
	type BootFirmware,
	type FirmwareSet,
	type LocateOptions,
	locateFirmwareSet,
	probeFirmwareSet,
	readFirmwareFile,
} from '@gspkit/falcon-boot';
import { CoreError } from './errors.ts';

/**
 * In-memory firmware files by their path relative to a firmware root, exactly as an ABI lists them
 * (`'nvidia/ga102/gsp/gsp-570.144.bin'`, `'nvidia/tu102/acr/bl.bin'`).
 */
export type FirmwareFiles = ReadonlyMap<string, Uint8Array>;

/**
 * Where the firmware comes from: the file system (falcon-boot's search order, with `path` searched first;
 * `onlyPath` searches nothing else), or in-memory files.
 */
export type FirmwareSource =
	| { readonly path?: string | readonly string[]; readonly onlyPath?: boolean }
	| { readonly files: FirmwareFiles; readonly label?: string };

/** What was selected, without any firmware-ABI type. */
export interface FirmwareChoice {
	/** Firmware version of the files (`'570.144'`). */
	readonly version: string;
	/** Branch (`'r570'`). */
	readonly branch: string;
	/** ABI package version used (differs from `version` only for a compat alias). */
	readonly abiVersion: string;
	/** Whether an override forced it. */
	readonly forced: boolean;
	/** `'files'` (located on disk) or `'memory'` (in-memory files from the app). */
	readonly source: 'files' | 'memory';
	/** A label for the in-memory source, if given (e.g. `'synthetic (gpu-sim)'`). */
	readonly label: string | undefined;
	/** The files used: absolute paths, or the in-memory names. */
	readonly files: readonly string[];
	/** Every candidate considered, in order (for messages). */
	readonly attempts: readonly {
		readonly version: string;
		readonly outcome: string;
		readonly missing: readonly string[];
	}[];
}

/** The resolved firmware: the ABI to talk with and what to boot. */
export interface ResolvedFirmware {
	readonly abi: FirmwareAbi;
	readonly choice: FirmwareChoice;
	/** The firmware for `bootGsp`. */
	readonly boot: BootFirmware;
	/** Read the `booter_unload` ucode (for a reset); `undefined` if the set has none. */
	readonly booterUnload: () => Promise<Uint8Array | undefined>;
}

/**
 * Expand an ABI override: a branch number (`'535'`, `'r570'`) or a full version (`'570.144'`) → the version of
 * one of `abis` that serves `chip`.
 * @throws CoreError `CORE_BAD_ARGUMENT` when no given ABI matches.
 */
export function resolveAbiOverride(override: string, abis: readonly FirmwareAbi[], chip: string): string {
	const o = override.trim().toLowerCase();
	const branch = /^r?(\d+)$/.exec(o)?.[1];
	const match = abis.filter((a) =>
		branch !== undefined ? a.branch === `r${branch}` : a.version === o || a.version.startsWith(`${o}.`),
	);
	const served = match.filter((a) => a.chips.includes(chip));
	const pick = [...served].sort((a, b) => compareVersions(b.version, a.version))[0];
	if (pick === undefined) {
		throw new CoreError(
			'CORE_BAD_ARGUMENT',
			`ABI override ${JSON.stringify(override)} matches none of the ABIs given for ${chip} (${abis.map((a) => a.version).join(', ') || 'none'})`,
			{ details: { override, chip, available: abis.map((a) => a.version) } },
		);
	}
	return pick.version;
}

/** The branches (ABI versions) of `abis` that serve `chip`, newest first. */
export function branchesFor(abis: readonly FirmwareAbi[], chip: string): string[] {
	return abis
		.filter((a) => a.chips.includes(chip))
		.map((a) => a.version)
		.sort((a, b) => compareVersions(b, a));
}

function checkCompat(compat: AbiCompatMap | undefined): void {
	if (compat === undefined) return;
	const bad =
		typeof compat !== 'object' || compat === null
			? ['(not an object)']
			: Object.entries(compat)
					.filter(
						([fw, abi]) => typeof abi !== 'string' || !/^\d+(\.\d+)+$/.test(fw) || !/^\d+(\.\d+)+$/.test(abi),
					)
					.map(([fw]) => fw);
	if (bad.length > 0) {
		throw new CoreError(
			'CORE_BAD_ARGUMENT',
			`the ABI compat map must send firmware versions to ABI versions ('570.144.02' → '570.144'); bad entries: ${bad.join(', ')}`,
			{ details: { bad } },
		);
	}
}

function isMemory(
	source: FirmwareSource,
): source is { readonly files: FirmwareFiles; readonly label?: string } {
	return 'files' in source;
}

/** The kind of a firmware file from its name. */
function kindOf(
	name: string,
): 'gsp' | 'bootloader' | 'booter_load' | 'booter_unload' | 'gen_bootloader' | 'other' {
	const base = name.slice(name.lastIndexOf('/') + 1);
	if (base === 'bl.bin' || base.startsWith('gen_bootloader-')) return 'gen_bootloader';
	for (const k of ['booter_load', 'booter_unload', 'bootloader', 'gsp'] as const) {
		if (base.startsWith(`${k}-`)) return k;
	}
	return 'other';
}

/**
 * Firmware version → ABI version, for point releases that speak a known ABI (`{ '570.144.02': '570.144' }`):
 * the alias's files (`gsp-570.144.02.bin`, …) are tried before its ABI's own, and booted with that ABI.
 */
export type AbiCompatMap = Readonly<Record<string, string>>;

/**
 * Select the ABI and firmware for `chip` (lower case) from `abis`. `compat` sends point releases to a known
 * ABI (see {@link AbiCompatMap}); an `override` may name such an alias exactly.
 * @throws AbiSelectionError (`ABI_NOT_FOUND`) naming every file looked for and where, when no branch has a
 *   complete set; CoreError `CORE_ABI_UNSUPPORTED` when no given ABI serves the chip; `CORE_BAD_ARGUMENT` for an
 *   override no ABI matches or a compat map that is not version → version strings.
 */
export async function resolveFirmware(
	chip: string,
	abis: readonly FirmwareAbi[],
	source: FirmwareSource = {},
	override?: string,
	env?: Readonly<Record<string, string | undefined>>,
	compat?: AbiCompatMap,
): Promise<ResolvedFirmware> {
	const branches = branchesFor(abis, chip);
	if (branches.length === 0) {
		throw new CoreError(
			'CORE_ABI_UNSUPPORTED',
			`none of the firmware ABIs given (${abis.map((a) => a.version).join(', ') || 'none'}) serves ${chip}`,
			{ details: { chip, abis: abis.map((a) => a.version) } },
		);
	}
	checkCompat(compat);
	const alias = override?.trim();
	const forced =
		alias === undefined
			? undefined
			: compat !== undefined && Object.hasOwn(compat, alias)
				? alias
				: resolveAbiOverride(alias, abis, chip);
	let locate: LocateOptions | undefined;
	if (!isMemory(source)) {
		locate = {
			...(source.path === undefined ? {} : { path: source.path }),
			...(source.onlyPath === true ? { onlyPath: true } : {}),
			...(env === undefined ? {} : { env }),
		};
	}
	const probe = async (req: { version: string; files: readonly string[] }): Promise<FirmwareProbeResult> => {
		if (isMemory(source)) {
			return { missing: req.files.filter((f) => !source.files.has(f)), searched: [...req.files] };
		}
		const p = await probeFirmwareSet(chip, req.version, locate);
		return {
			missing: p.missing.map((m) => m.names[0] ?? m.kind),
			searched: p.searched,
			roots: p.roots.map((r) => r.dir),
		};
	};
	const sel: AbiSelection = await selectAbiAsync({
		chip,
		branches,
		abis: [...abis],
		...(compat === undefined ? {} : { compat }),
		...(forced === undefined ? {} : { override: forced }),
		probe,
	});
	const attempts = sel.attempts.map((a) => ({
		version: a.firmwareVersion,
		outcome: a.outcome,
		missing: a.missing,
	}));
	const base = {
		version: sel.firmwareVersion,
		branch: sel.abi.branch,
		abiVersion: sel.abi.version,
		forced: sel.forced,
		attempts,
	};
	if (isMemory(source)) {
		const get = (kind: ReturnType<typeof kindOf>) => {
			const name = sel.files.find((f) => kindOf(f) === kind);
			return name === undefined ? undefined : source.files.get(name);
		};
		const need = (kind: 'gsp' | 'bootloader' | 'booter_load'): Uint8Array => {
			const b = get(kind);
			if (b === undefined) {
				throw new CoreError('CORE_FIRMWARE', `the in-memory firmware for ${chip} has no ${kind} file`, {
					details: { chip, kind, files: sel.files },
				});
			}
			return b;
		};
		const gen = get('gen_bootloader');
		return {
			abi: sel.abi,
			choice: { ...base, source: 'memory', label: source.label, files: sel.files },
			boot: {
				gsp: need('gsp'),
				bootloader: need('bootloader'),
				booterLoad: need('booter_load'),
				...(gen === undefined ? {} : { genBootloader: gen }),
				chip,
				version: sel.firmwareVersion,
			},
			booterUnload: async () => get('booter_unload'),
		};
	}
	const set: FirmwareSet = await locateFirmwareSet(chip, sel.firmwareVersion, locate);
	return {
		abi: sel.abi,
		choice: { ...base, source: 'files', label: undefined, files: set.files.map((f) => f.path) },
		boot: set,
		booterUnload: async () => {
			const f = set.byKind.booter_unload;
			return f === undefined ? undefined : (await readFirmwareFile(f.path)).bytes;
		},
	};
}
