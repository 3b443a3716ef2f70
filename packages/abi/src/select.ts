/**
 * Choosing the firmware ABI for a chip, the way nouveau does (`nvkm_gsp_fwif[]` + `nvkm_firmware_load`):
 * the chip lists the firmware branches it supports, newest first; the first branch whose files are all
 * present wins. An explicit compat map sends point releases (`'570.144.02'`) to a known ABI (`'570.144'`),
 * as Asahi's m1n1 aliases macOS point releases; an override forces one branch (like `NvGspFw=`), and fails
 * rather than falling back when its files are missing. When nothing matches, the error lists every file
 * that was looked for, where, and which branches the chip supports.
 *
 * Pure: which files exist is asked through a probe the caller supplies (the core passes falcon-boot's
 * locator), so this module does no I/O.
 *
 * @module
 */

import { AbiError } from './errors.ts';
import { AbiRegistry, compareVersions, type FirmwareAbi } from './firmware-abi.ts';

/** What a probe is asked: is the firmware set of `version` for `chip` present? */
export interface FirmwareProbeRequest {
	/** Lower-case chip name. */
	readonly chip: string;
	/** Firmware version of the files (may be a point release mapped through the compat map). */
	readonly version: string;
	/** The ABI's required files for the chip, relative to a firmware root, renamed for `version`. */
	readonly files: readonly string[];
}

/** A probe's answer. */
export interface FirmwareProbeResult {
	/** Relative names (of the request's files) that were not found. Empty = the set is complete. */
	readonly missing: readonly string[];
	/** Every absolute path looked at, in order. */
	readonly searched: readonly string[];
	/** The directories searched (for the error message). */
	readonly roots?: readonly string[];
}

/** Synchronous probe. */
export type FirmwareProbe = (request: FirmwareProbeRequest) => FirmwareProbeResult;
/** Probe that may be asynchronous (file-system backed). */
export type AsyncFirmwareProbe = (
	request: FirmwareProbeRequest,
) => FirmwareProbeResult | Promise<FirmwareProbeResult>;

/** Inputs of {@link selectAbi}. */
export interface SelectAbiOptions<P> {
	/** Lower-case chip name. */
	readonly chip: string;
	/** Firmware branches (ABI versions) the chip supports, newest first — the chip's HAL knows them. */
	readonly branches: readonly string[];
	/** The ABI packages available (the app decides which it ships). */
	readonly abis: readonly FirmwareAbi[] | AbiRegistry;
	/** Firmware version → ABI version, for point releases that speak a known ABI. */
	readonly compat?: Readonly<Record<string, string>>;
	/** Force this firmware version (a branch or a compat alias); no fallback. */
	readonly override?: string;
	/** Which files exist. */
	readonly probe: P;
}

/** Why a candidate was or was not chosen. */
export type SelectionOutcome = 'selected' | 'files-missing' | 'no-abi-package' | 'chip-not-served';

/** One candidate that was considered. */
export interface SelectionAttempt {
	/** Firmware version of the files. */
	readonly firmwareVersion: string;
	/** The ABI version it maps to. */
	readonly abiVersion: string;
	readonly outcome: SelectionOutcome;
	/** Files looked for (relative); empty when no probe was made. */
	readonly files: readonly string[];
	/** Of those, the ones not found. */
	readonly missing: readonly string[];
	/** Absolute paths looked at. */
	readonly searched: readonly string[];
	/** Directories searched. */
	readonly roots: readonly string[];
}

/** The choice. */
export interface AbiSelection<A extends FirmwareAbi = FirmwareAbi> {
	readonly abi: A;
	/** Version of the firmware files to load (differs from `abi.version` for a compat alias). */
	readonly firmwareVersion: string;
	/** The required files (relative), named for `firmwareVersion`. */
	readonly files: readonly string[];
	/** Whether an override chose it. */
	readonly forced: boolean;
	/** Every candidate considered, in order (the last is the selected one). */
	readonly attempts: readonly SelectionAttempt[];
}

/**
 * No usable firmware for the chip (`ABI_NOT_FOUND`). `details` holds `chip`, `branches`, `override` and
 * `attempts` (files, missing, searched paths per candidate); the message lists them for a human.
 */
export class AbiSelectionError extends AbiError {
	/** Candidates considered. */
	readonly attempts: readonly SelectionAttempt[];

	constructor(
		chip: string,
		branches: readonly string[],
		override: string | undefined,
		attempts: readonly SelectionAttempt[],
	) {
		const lines = attempts.map((a) => {
			const head = `  ${a.firmwareVersion}${a.abiVersion === a.firmwareVersion ? '' : ` (ABI ${a.abiVersion})`}: `;
			switch (a.outcome) {
				case 'no-abi-package':
					return `${head}no ABI package for ${a.abiVersion} is installed`;
				case 'chip-not-served':
					return `${head}ABI ${a.abiVersion} does not serve ${chip}`;
				default: {
					const where =
						a.roots.length > 0
							? a.roots
							: [...new Set(a.searched.map((p) => p.replace(/\/nvidia\/.*$/, '')))];
					return (
						`${head}missing ${a.missing.join(', ')}\n` +
						`    looked for: ${[...new Set([...a.files, ...a.missing])].join(', ')}\n` +
						`    in: ${where.join(', ') || '(no search roots)'}`
					);
				}
			}
		});
		const forced = override === undefined ? '' : `forced ${override}; `;
		super(
			'ABI_NOT_FOUND',
			`no usable GSP firmware for ${chip} (${forced}the chip supports ${branches.join(', ') || 'no branch'}):\n${lines.join('\n')}`,
			{ chip, branches: [...branches], override, attempts },
		);
		this.name = 'AbiSelectionError';
		this.attempts = attempts;
	}
}

interface Candidate {
	readonly firmwareVersion: string;
	readonly abiVersion: string;
	readonly abi: FirmwareAbi | undefined;
}

function abiList(abis: readonly FirmwareAbi[] | AbiRegistry): readonly FirmwareAbi[] {
	return abis instanceof AbiRegistry ? abis.list() : abis;
}

/** The candidates in the order they are tried: per branch, its newest alias (or itself) first. */
function plan(o: SelectAbiOptions<unknown>): Candidate[] {
	const chip = o.chip;
	if (typeof chip !== 'string' || chip === '')
		throw new AbiError('ABI_BAD_ARGUMENT', 'chip must be a non-empty string');
	const compat = o.compat ?? {};
	const byVersion = new Map(abiList(o.abis).map((a) => [a.version, a]));
	const abiOf = (fw: string): string => compat[fw] ?? fw;
	const candidatesFor = (branch: string): string[] => {
		const aliases = Object.keys(compat).filter((fw) => compat[fw] === branch && fw !== branch);
		return [branch, ...aliases].sort((a, b) => compareVersions(b, a));
	};
	let order: string[];
	if (o.override !== undefined) {
		const known = new Set(o.branches.flatMap(candidatesFor));
		if (!known.has(o.override)) {
			throw new AbiError(
				'ABI_BAD_ARGUMENT',
				`override ${o.override} is not a firmware version ${chip} supports (${[...known].join(', ') || 'none'})`,
				{ chip, override: o.override, supported: [...known] },
			);
		}
		order = [o.override];
	} else order = o.branches.flatMap(candidatesFor);
	return order.map((fw) => ({ firmwareVersion: fw, abiVersion: abiOf(fw), abi: byVersion.get(abiOf(fw)) }));
}

/** The files of `abi` for `chip`, renamed from the ABI's version to the firmware version. */
function filesFor(abi: FirmwareAbi, chip: string, firmwareVersion: string): string[] {
	const files = abi.firmwareFiles(chip);
	if (firmwareVersion === abi.version) return [...files];
	const from = `-${abi.version}.bin`;
	return files.map((f) => (f.endsWith(from) ? `${f.slice(0, -from.length)}-${firmwareVersion}.bin` : f));
}

type Step =
	| { readonly kind: 'skip'; readonly attempt: SelectionAttempt }
	| {
			readonly kind: 'probe';
			readonly candidate: Candidate;
			readonly abi: FirmwareAbi;
			readonly files: string[];
	  };

function step(chip: string, c: Candidate): Step {
	const none = { files: [], missing: [], searched: [], roots: [] };
	if (c.abi === undefined) {
		return {
			kind: 'skip',
			attempt: {
				firmwareVersion: c.firmwareVersion,
				abiVersion: c.abiVersion,
				outcome: 'no-abi-package',
				...none,
			},
		};
	}
	if (!c.abi.chips.includes(chip)) {
		return {
			kind: 'skip',
			attempt: {
				firmwareVersion: c.firmwareVersion,
				abiVersion: c.abiVersion,
				outcome: 'chip-not-served',
				...none,
			},
		};
	}
	return { kind: 'probe', candidate: c, abi: c.abi, files: filesFor(c.abi, chip, c.firmwareVersion) };
}

function checkProbeResult(r: unknown): FirmwareProbeResult {
	const ok =
		typeof r === 'object' &&
		r !== null &&
		Array.isArray((r as FirmwareProbeResult).missing) &&
		Array.isArray((r as FirmwareProbeResult).searched);
	if (!ok)
		throw new AbiError(
			'ABI_BAD_ARGUMENT',
			'the firmware probe must return { missing: string[], searched: string[] }',
		);
	return r as FirmwareProbeResult;
}

function attemptOf(s: Extract<Step, { kind: 'probe' }>, r: FirmwareProbeResult): SelectionAttempt {
	return {
		firmwareVersion: s.candidate.firmwareVersion,
		abiVersion: s.candidate.abiVersion,
		outcome: r.missing.length === 0 ? 'selected' : 'files-missing',
		files: s.files,
		missing: [...r.missing],
		searched: [...r.searched],
		roots: [...(r.roots ?? [])],
	};
}

function selection<A extends FirmwareAbi>(
	s: Extract<Step, { kind: 'probe' }>,
	forced: boolean,
	attempts: SelectionAttempt[],
): AbiSelection<A> {
	return Object.freeze({
		abi: s.abi as A,
		firmwareVersion: s.candidate.firmwareVersion,
		files: Object.freeze([...s.files]),
		forced,
		attempts: Object.freeze(attempts),
	});
}

/**
 * Pick the ABI for `chip` with a synchronous probe. Returns the first candidate (in branch order, newest
 * alias first) whose files are all present; throws {@link AbiSelectionError} when none is, and
 * `ABI_BAD_ARGUMENT` for an override the chip does not support.
 */
export function selectAbi<A extends FirmwareAbi = FirmwareAbi>(
	options: SelectAbiOptions<FirmwareProbe>,
): AbiSelection<A> {
	const attempts: SelectionAttempt[] = [];
	for (const c of plan(options)) {
		const s = step(options.chip, c);
		if (s.kind === 'skip') {
			attempts.push(s.attempt);
			continue;
		}
		const r = checkProbeResult(
			options.probe({ chip: options.chip, version: c.firmwareVersion, files: s.files }),
		);
		attempts.push(attemptOf(s, r));
		if (r.missing.length === 0) return selection<A>(s, options.override !== undefined, attempts);
	}
	throw new AbiSelectionError(options.chip, options.branches, options.override, attempts);
}

/** {@link selectAbi} with a probe that may return a promise (file-system locators). */
export async function selectAbiAsync<A extends FirmwareAbi = FirmwareAbi>(
	options: SelectAbiOptions<AsyncFirmwareProbe>,
): Promise<AbiSelection<A>> {
	const attempts: SelectionAttempt[] = [];
	for (const c of plan(options)) {
		const s = step(options.chip, c);
		if (s.kind === 'skip') {
			attempts.push(s.attempt);
			continue;
		}
		const r = checkProbeResult(
			await options.probe({ chip: options.chip, version: c.firmwareVersion, files: s.files }),
		);
		attempts.push(attemptOf(s, r));
		if (r.missing.length === 0) return selection<A>(s, options.override !== undefined, attempts);
	}
	throw new AbiSelectionError(options.chip, options.branches, options.override, attempts);
}
