/**
 * The version-neutral firmware ABI interface every `@gspkit/abi-rNNN` package implements, and a small
 * registry of them.
 *
 * The core never names a firmware version: it receives a {@link FirmwareAbi} at run time and asks it for
 * message IDs by neutral name (`abi.functions.GSP_RM_CONTROL`), codecs by neutral name
 * (`abi.layouts.rpcHeader`) and behaviour that changed between branches (`abi.subInterfaces`, in the
 * spirit of nouveau's `nvkm_rm_api`). This module keeps the contract small; the ABI packages fill it.
 *
 * @module
 */

import { AbiError } from './errors.ts';
import { isLayout, type Layout, type RecordLayout } from './layout.ts';
import type { LayoutManifest } from './manifest.ts';
import { manifestTypeOf, validateManifest } from './manifest-layout.ts';

/** RPC functions (CPU → GSP requests) every ABI must number. Names drop the `NV_VGPU_MSG_FUNCTION_` prefix. */
export const RPC_FUNCTION_NAMES = [
	'GSP_SET_SYSTEM_INFO',
	'SET_REGISTRY',
	'GSP_RM_ALLOC',
	'GSP_RM_CONTROL',
	'FREE',
	'GET_GSP_STATIC_INFO',
	'CONTINUATION_RECORD',
	'UNLOADING_GUEST_DRIVER',
] as const;

/** A neutral RPC function name. */
export type RpcFunctionName = (typeof RPC_FUNCTION_NAMES)[number];

/** Events (GSP → CPU, 0x1000 and up) every ABI must number. Names drop the `NV_VGPU_MSG_EVENT_` prefix. */
export const RPC_EVENT_NAMES = [
	'GSP_INIT_DONE',
	'GSP_RUN_CPU_SEQUENCER',
	'RC_TRIGGERED',
	'MMU_FAULT_QUEUED',
	'OS_ERROR_LOG',
	'POST_EVENT',
	'UCODE_LIBOS_PRINT',
	'GSP_LOCKDOWN_NOTICE',
] as const;

/** Events an ABI may lack (`GSP_SEND_USER_SHARED_DATA` was removed in r570). */
export const OPTIONAL_RPC_EVENT_NAMES = ['GSP_SEND_USER_SHARED_DATA'] as const;

/** A neutral event name every ABI has. */
export type RequiredRpcEventName = (typeof RPC_EVENT_NAMES)[number];
/** A neutral event name some ABIs lack. */
export type OptionalRpcEventName = (typeof OPTIONAL_RPC_EVENT_NAMES)[number];
/** A neutral event name. */
export type RpcEventName = RequiredRpcEventName | OptionalRpcEventName;

/** First event number: replies carry the request's function number, events are ≥ this. */
export const RPC_FIRST_EVENT = 0x1000;

/** Function numbers by neutral name. */
export type RpcFunctionTable = Readonly<Record<RpcFunctionName, number>>;
/** Event numbers by neutral name (optional events may be absent). */
export type RpcEventTable = Readonly<
	Record<RequiredRpcEventName, number> & Partial<Record<OptionalRpcEventName, number>>
>;

/** Codecs by neutral name (`rpcHeader`, `gspSystemInfo`, …); the ABI issue fixes the required set. */
export type AbiLayouts = Readonly<Record<string, Layout>>;
/** Per-version behaviour tables by neutral name (`gsp`, `gr`, …), nouveau-`nvkm_rm_api` style. */
export type AbiSubInterfaces = Readonly<Record<string, object>>;

/** One firmware branch's ABI, as the version-neutral core sees it. */
export interface FirmwareAbi<
	L extends AbiLayouts = AbiLayouts,
	S extends AbiSubInterfaces = AbiSubInterfaces,
> {
	/** Full firmware version, e.g. `'535.113.01'`. */
	readonly version: string;
	/** Branch, e.g. `'r535'`. */
	readonly branch: string;
	/** Chip names this ABI serves (`'tu102'`, `'ga102'`, …), lower case. */
	readonly chips: readonly string[];
	/** Firmware files a chip needs, relative to the firmware root (`'nvidia/ga102/gsp/gsp-535.113.01.bin'`). */
	firmwareFiles(chip: string): readonly string[];
	/** RPC function numbers by neutral name. */
	readonly functions: RpcFunctionTable;
	/** Event numbers by neutral name. */
	readonly events: RpcEventTable;
	/** The neutral name of a function number, if it is one the core knows. */
	functionName(id: number): RpcFunctionName | undefined;
	/** The neutral name of an event number, if it is one the core knows. */
	eventName(id: number): RpcEventName | undefined;
	/** Codecs by neutral name. */
	readonly layouts: L;
	/** The full layout manifest of the branch (for `abi-diff` and conformance checks). */
	readonly manifest: LayoutManifest;
	/** Per-version behaviour tables. */
	readonly subInterfaces: S;
}

/** What {@link defineFirmwareAbi} takes: the data of a {@link FirmwareAbi}; name lookups are derived. */
export interface FirmwareAbiSpec<
	L extends AbiLayouts = AbiLayouts,
	S extends AbiSubInterfaces = AbiSubInterfaces,
> {
	readonly version: string;
	readonly branch: string;
	readonly chips: readonly string[];
	/** Files per chip (every chip in `chips` needs an entry), or a function. */
	readonly firmwareFiles: Readonly<Record<string, readonly string[]>> | ((chip: string) => readonly string[]);
	readonly functions: RpcFunctionTable;
	readonly events: RpcEventTable;
	readonly layouts: L;
	readonly manifest: LayoutManifest;
	readonly subInterfaces: S;
}

function defError(version: unknown, problems: readonly string[]): AbiError {
	return new AbiError(
		'ABI_DEFINITION',
		`firmware ABI ${String(version)} is invalid:\n  - ${problems.join('\n  - ')}`,
		{ version, problems },
	);
}

function checkIdTable(
	kind: 'function' | 'event',
	table: unknown,
	required: readonly string[],
	lo: number,
	hi: number,
	problems: string[],
): Map<number, string> {
	const byId = new Map<number, string>();
	if (typeof table !== 'object' || table === null) {
		problems.push(`${kind}s must be an object`);
		return byId;
	}
	const t = table as Record<string, unknown>;
	for (const name of required) if (!(name in t)) problems.push(`${kind} ${name} is missing`);
	for (const [name, id] of Object.entries(t)) {
		if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < lo || id >= hi) {
			problems.push(
				`${kind} ${name} = ${String(id)} is not an integer in [0x${lo.toString(16)}, 0x${hi.toString(16)})`,
			);
			continue;
		}
		const other = byId.get(id);
		if (other !== undefined)
			problems.push(`${kind}s ${other} and ${name} share number ${id} (0x${id.toString(16)})`);
		else byId.set(id, name);
	}
	return byId;
}

function checkRelativePath(p: unknown): boolean {
	return (
		typeof p === 'string' &&
		p !== '' &&
		!p.startsWith('/') &&
		!p.includes('\\') &&
		!p.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')
	);
}

/**
 * Validate an ABI definition and return it as a frozen {@link FirmwareAbi}: version/branch agree
 * (`535.113.01` ↔ `r535`), every chip has firmware files (relative paths), every required function and
 * event is numbered, numbers are unique and in range (functions < 0x1000 ≤ events), layouts are layouts,
 * the manifest is valid and describes the same layouts it names. All problems are reported at once
 * (`ABI_DEFINITION`, `details.problems`).
 */
export function defineFirmwareAbi<L extends AbiLayouts, S extends AbiSubInterfaces>(
	spec: FirmwareAbiSpec<L, S>,
): FirmwareAbi<L, S> {
	const problems: string[] = [];
	const { version, branch } = spec;
	if (typeof version !== 'string' || !/^\d+\.\d+(\.\d+)*$/.test(version)) {
		problems.push(`version ${JSON.stringify(version)} is not a dotted number like "535.113.01"`);
	} else if (branch !== `r${version.split('.')[0]}`) {
		problems.push(
			`branch ${JSON.stringify(branch)} does not match version ${version} (expected "r${version.split('.')[0]}")`,
		);
	}
	const chips = Array.isArray(spec.chips) ? spec.chips : [];
	if (chips.length === 0) problems.push('chips must be a non-empty array');
	const seenChips = new Set<string>();
	const files = new Map<string, readonly string[]>();
	for (const chip of chips) {
		if (typeof chip !== 'string' || !/^[a-z0-9]+$/.test(chip)) {
			problems.push(`chip ${JSON.stringify(chip)} is not a lower-case chip name`);
			continue;
		}
		if (seenChips.has(chip)) problems.push(`chip ${chip} is listed twice`);
		seenChips.add(chip);
		let list: unknown;
		try {
			list = typeof spec.firmwareFiles === 'function' ? spec.firmwareFiles(chip) : spec.firmwareFiles[chip];
		} catch (e) {
			problems.push(`firmwareFiles(${chip}) threw: ${(e as Error).message}`);
			continue;
		}
		if (!Array.isArray(list) || list.length === 0) {
			problems.push(`chip ${chip} has no firmware files`);
			continue;
		}
		const bad = list.filter((p) => !checkRelativePath(p));
		if (bad.length > 0)
			problems.push(`chip ${chip}: firmware paths must be relative: ${bad.map(String).join(', ')}`);
		files.set(chip, Object.freeze([...list] as string[]));
	}
	const fnById = checkIdTable('function', spec.functions, RPC_FUNCTION_NAMES, 0, RPC_FIRST_EVENT, problems);
	const evById = checkIdTable('event', spec.events, RPC_EVENT_NAMES, RPC_FIRST_EVENT, 0x10000, problems);
	const layouts = spec.layouts;
	if (typeof layouts !== 'object' || layouts === null) problems.push('layouts must be an object');
	else {
		for (const [name, l] of Object.entries(layouts))
			if (!isLayout(l)) problems.push(`layouts.${name} is not a layout`);
	}
	let manifest: LayoutManifest | undefined;
	try {
		manifest = validateManifest(spec.manifest);
	} catch (e) {
		problems.push(`manifest: ${(e as Error).message}`);
	}
	if (manifest !== undefined) {
		if (manifest.abi !== undefined && manifest.abi !== version) {
			problems.push(`manifest describes ABI ${manifest.abi}, not ${String(version)}`);
		}
		if (typeof layouts === 'object' && layouts !== null) {
			for (const [name, l] of Object.entries(layouts)) {
				if (!isLayout(l) || (l.kind !== 'struct' && l.kind !== 'union') || l.name === '') continue;
				const entry = manifest.types.find((t) => t.name === l.name && t.kind === l.kind);
				if (entry === undefined) continue;
				const mine = manifestTypeOf(l as RecordLayout);
				const diffs = compareTypes(mine, entry);
				if (diffs.length > 0)
					problems.push(
						`layouts.${name} (${l.kind} ${l.name}) disagrees with the manifest: ${diffs.join('; ')}`,
					);
			}
		}
	}
	if (typeof spec.subInterfaces !== 'object' || spec.subInterfaces === null)
		problems.push('subInterfaces must be an object');
	else {
		for (const [name, s] of Object.entries(spec.subInterfaces)) {
			if (typeof s !== 'object' || s === null) problems.push(`subInterfaces.${name} must be an object`);
		}
	}
	if (problems.length > 0) throw defError(version, problems);

	const fnNames = new Map<number, RpcFunctionName>();
	for (const [id, name] of fnById)
		if ((RPC_FUNCTION_NAMES as readonly string[]).includes(name)) fnNames.set(id, name as RpcFunctionName);
	const evNames = new Map<number, RpcEventName>();
	const neutralEvents: readonly string[] = [...RPC_EVENT_NAMES, ...OPTIONAL_RPC_EVENT_NAMES];
	for (const [id, name] of evById) if (neutralEvents.includes(name)) evNames.set(id, name as RpcEventName);
	const abi: FirmwareAbi<L, S> = {
		version,
		branch,
		chips: Object.freeze([...chips]),
		firmwareFiles(chip: string): readonly string[] {
			const f = files.get(chip);
			if (f === undefined) {
				throw new AbiError(
					'ABI_NOT_FOUND',
					`firmware ABI ${version} does not serve chip '${chip}' (serves ${chips.join(', ')})`,
					{
						version,
						chip,
						chips: [...chips],
					},
				);
			}
			return f;
		},
		functions: Object.freeze({ ...spec.functions }),
		events: Object.freeze({ ...spec.events }),
		functionName: (id: number) => fnNames.get(id),
		eventName: (id: number) => evNames.get(id),
		layouts: Object.freeze({ ...layouts }) as L,
		manifest: manifest!,
		subInterfaces: Object.freeze({ ...spec.subInterfaces }) as S,
	};
	return Object.freeze(abi);
}

function compareTypes(a: ReturnType<typeof manifestTypeOf>, b: LayoutManifest['types'][number]): string[] {
	const out: string[] = [];
	if (a.size !== b.size) out.push(`size ${a.size} vs ${b.size}`);
	if (a.align !== b.align) out.push(`align ${a.align} vs ${b.align}`);
	const theirs = new Map(b.fields.map((f) => [f.name, f]));
	for (const f of a.fields) {
		const g = theirs.get(f.name);
		if (g === undefined) out.push(`field ${f.name} not in manifest`);
		else if (
			f.offset !== g.offset ||
			f.size !== g.size ||
			f.bitOffset !== g.bitOffset ||
			f.bitSize !== g.bitSize
		) {
			out.push(`field ${f.name} at ${f.offset}+${f.size} vs ${g.offset}+${g.size}`);
		}
	}
	for (const g of b.fields) if (!a.fields.some((f) => f.name === g.name)) out.push(`field ${g.name} missing`);
	return out;
}

/** Compare dotted version strings numerically (`'570.144' > '535.113.01'`). */
export function compareVersions(a: string, b: string): number {
	const pa = a.split('.').map(Number);
	const pb = b.split('.').map(Number);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const d = (pa[i] ?? 0) - (pb[i] ?? 0);
		if (d !== 0) return d < 0 ? -1 : 1;
	}
	return 0;
}

/** A set of firmware ABIs, newest first. Selection policy (fallbacks, compat maps) builds on it. */
export class AbiRegistry {
	readonly #abis = new Map<string, FirmwareAbi>();

	/** Add an ABI (validated again). A second ABI with the same version is `ABI_DUPLICATE`. */
	register(abi: FirmwareAbi): this {
		if (this.#abis.has(abi.version)) {
			throw new AbiError('ABI_DUPLICATE', `firmware ABI ${abi.version} is already registered`, {
				version: abi.version,
			});
		}
		defineFirmwareAbi({
			version: abi.version,
			branch: abi.branch,
			chips: abi.chips,
			firmwareFiles: (chip) => abi.firmwareFiles(chip),
			functions: abi.functions,
			events: abi.events,
			layouts: abi.layouts,
			manifest: abi.manifest,
			subInterfaces: abi.subInterfaces,
		});
		this.#abis.set(abi.version, abi);
		return this;
	}

	/** Whether an ABI with this exact version is registered. */
	has(version: string): boolean {
		return this.#abis.has(version);
	}

	/** The ABI with this exact version, or `ABI_NOT_FOUND` listing the known versions. */
	get(version: string): FirmwareAbi {
		const abi = this.#abis.get(version);
		if (abi === undefined) {
			throw new AbiError(
				'ABI_NOT_FOUND',
				`no firmware ABI ${version} (known: ${this.versions().join(', ') || 'none'})`,
				{
					version,
					known: this.versions(),
				},
			);
		}
		return abi;
	}

	/** Registered versions, newest first. */
	versions(): string[] {
		return [...this.#abis.keys()].sort((a, b) => compareVersions(b, a));
	}

	/** Every registered ABI, newest first. */
	list(): FirmwareAbi[] {
		return this.versions().map((v) => this.#abis.get(v)!);
	}

	/** The ABIs serving `chip`, newest first (the order nouveau tries firmware in). */
	forChip(chip: string): FirmwareAbi[] {
		return this.list().filter((a) => a.chips.includes(chip));
	}

	/** The ABIs of a branch (`'r535'`), newest first. */
	forBranch(branch: string): FirmwareAbi[] {
		return this.list().filter((a) => a.branch === branch);
	}
}
