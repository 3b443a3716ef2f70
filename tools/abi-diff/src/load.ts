/**
 * Loading an ABI for `abi-diff`: an installed ABI package by name (`@gspkit/abi-r535` — then the diff also
 * knows what the driver uses and where each sub-interface's code comes from) or a layout manifest JSON file.
 *
 * @module
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type FirmwareAbi, type LayoutManifest, validateManifest } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import { type AbiUses, CORE_ABI_USES } from '@gspkit/core';
import {
	type AbiModel,
	CORE_EVENTS,
	CORE_FUNCTIONS,
	modelOf,
	type SubInterfaceInfo,
	type UsedRoots,
} from './model.ts';

/** A problem with an input (exit code 2). */
export class AbiDiffInputError extends Error {
	/** Stable code: `ABI_DIFF_NOT_FOUND`, `ABI_DIFF_BAD_PACKAGE`, `ABI_DIFF_BAD_MANIFEST`. */
	readonly code: 'ABI_DIFF_NOT_FOUND' | 'ABI_DIFF_BAD_PACKAGE' | 'ABI_DIFF_BAD_MANIFEST';

	constructor(code: AbiDiffInputError['code'], message: string) {
		super(message);
		this.name = 'AbiDiffInputError';
		this.code = code;
	}
}

const FN = 'NV_VGPU_MSG_FUNCTION_';
const EV = 'NV_VGPU_MSG_EVENT_';

interface Uses {
	readonly types?: unknown;
	readonly constants?: unknown;
	readonly tables?: unknown;
}

interface Provenanced {
	readonly provenance?: Uses & {
		readonly implementedBy?: unknown;
		/** Per-member records (`@gspkit/abi-r535`'s `ctx.members`); absent in packages that do not keep them. */
		readonly members?: unknown;
		readonly shared?: unknown;
	};
}

const strings = (x: unknown): string[] =>
	Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : [];

function isRecordLayout(x: unknown): x is { readonly kind: 'struct' | 'union'; readonly name: string } {
	if (typeof x !== 'object' || x === null) return false;
	const l = x as { kind?: unknown; name?: unknown };
	return (l.kind === 'struct' || l.kind === 'union') && typeof l.name === 'string' && l.name !== '';
}

/** What {@link packageRoots} finds. */
export interface PackageRoots {
	readonly used: UsedRoots;
	readonly subInterfaces: SubInterfaceInfo[] | undefined;
	/** Members of the use list this ABI does not provide (`'fifo.workSubmitToken'`), e.g. optional ones. */
	readonly missing: readonly string[];
}

/**
 * The used roots of a loaded ABI package: the layouts and sub-interface members `uses` names (default
 * {@link CORE_ABI_USES}, what core, gsp-rpc, falcon-boot and channel-sched use), each followed to what it binds
 * — a member's own provenance record plus its sub-interface's shared one. A sub-interface without per-member
 * records counts whole. Also each sub-interface's provenance, for the "new implementation" table.
 */
export function packageRoots(abi: FirmwareAbi, uses: AbiUses = CORE_ABI_USES): PackageRoots {
	const types = new Set<string>();
	const constants = new Set<string>();
	const tables = new Set<string>();
	const functions = new Set(CORE_FUNCTIONS);
	const events = new Set(CORE_EVENTS);
	const members = new Set<string>();
	const missing: string[] = [];
	const add = (u: Uses | undefined) => {
		if (u === undefined) return;
		for (const t of strings(u.types)) types.add(t);
		for (const t of strings(u.tables)) tables.add(t);
		for (const c of strings(u.constants)) {
			if (c.startsWith(FN)) functions.add(c.slice(FN.length));
			else if (c.startsWith(EV)) events.add(c.slice(EV.length));
			else constants.add(c);
		}
	};
	const layouts = abi.layouts as Readonly<Record<string, unknown>>;
	for (const key of uses.layouts) {
		const l = layouts[key];
		if (isRecordLayout(l)) {
			types.add(l.name);
			members.add(`layouts.${key}`);
		} else missing.push(`layouts.${key}`);
	}
	// C types and constants a consumer reads from the manifest by name.
	const manifestTypes = new Set(abi.manifest.types.map((t) => t.name));
	const manifestConstants = new Set(abi.manifest.constants.map((c) => c.name));
	for (const t of uses.types ?? []) {
		if (manifestTypes.has(t)) {
			types.add(t);
			members.add(`manifest.${t}`);
		} else missing.push(`manifest.${t}`);
	}
	for (const c of uses.constants ?? []) {
		if (manifestConstants.has(c)) {
			add({ constants: [c] });
			members.add(`manifest.${c}`);
		} else missing.push(`manifest.${c}`);
	}
	const subs: SubInterfaceInfo[] = [];
	const subObjects = abi.subInterfaces as Readonly<Record<string, Record<string, unknown> | undefined>>;
	for (const [name, s] of Object.entries(subObjects)) {
		const p = (s as Provenanced | undefined)?.provenance;
		const wanted = uses.subInterfaces[name] ?? [];
		const present = wanted.filter((m) => s !== undefined && m in s);
		for (const m of wanted) if (!present.includes(m)) missing.push(`${name}.${m}`);
		for (const m of present) members.add(`${name}.${m}`);
		if (
			p !== undefined &&
			Array.isArray(p.types) &&
			Array.isArray(p.constants) &&
			typeof p.implementedBy === 'string'
		) {
			subs.push({
				name,
				implementedBy: p.implementedBy,
				types: strings(p.types),
				constants: strings(p.constants),
				tables: strings(p.tables),
				used: present,
			});
		}
		if (present.length === 0) continue;
		const perMember =
			typeof p?.members === 'object' && p.members !== null ? (p.members as Record<string, Uses>) : undefined;
		if (perMember === undefined) {
			// No per-member records: the whole sub-interface counts (and any member that is itself a layout).
			add(p);
			for (const m of present) if (isRecordLayout(s?.[m])) types.add((s![m] as { name: string }).name);
			continue;
		}
		add(p?.shared as Uses | undefined);
		for (const m of present) {
			add(perMember[m]);
			if (isRecordLayout(s?.[m])) types.add((s![m] as { name: string }).name);
		}
	}
	for (const name of Object.keys(uses.subInterfaces)) {
		if (!(name in subObjects)) for (const m of uses.subInterfaces[name]!) missing.push(`${name}.${m}`);
	}
	return {
		used: {
			types: [...types],
			functions: [...functions],
			events: [...events],
			constants: [...constants],
			tables: [...tables],
			members: [...members].sort(),
		},
		subInterfaces: subs.length > 0 ? subs : undefined,
		missing: missing.sort(),
	};
}

/**
 * The roots used when an input is a bare manifest: what the driver uses of gspkit's installed ABI packages
 * ({@link packageRoots} of each), by C name.
 */
export function defaultRoots(): {
	types: string[];
	constants: string[];
	tables: string[];
	members: string[];
} {
	const types = new Set<string>();
	const constants = new Set<string>();
	const tables = new Set<string>();
	const members = new Set<string>();
	for (const abi of [r535, r570]) {
		const { used } = packageRoots(abi);
		for (const t of used.types) types.add(t);
		for (const c of used.constants) constants.add(c);
		for (const t of used.tables) tables.add(t);
		for (const m of used.members ?? []) members.add(m);
	}
	return {
		types: [...types].sort(),
		constants: [...constants].sort(),
		tables: [...tables].sort(),
		members: [...members].sort(),
	};
}

function isFirmwareAbi(x: unknown): x is FirmwareAbi {
	return (
		typeof x === 'object' &&
		x !== null &&
		typeof (x as FirmwareAbi).version === 'string' &&
		typeof (x as FirmwareAbi).manifest === 'object' &&
		typeof (x as FirmwareAbi).layouts === 'object' &&
		typeof (x as FirmwareAbi).subInterfaces === 'object'
	);
}

/** Load `spec`: a path to a manifest JSON file, or the name of an installed ABI package. */
export async function loadAbi(spec: string): Promise<AbiModel> {
	const path = resolve(spec);
	if (spec.endsWith('.json') || (existsSync(path) && statSync(path).isFile())) {
		if (!existsSync(path))
			throw new AbiDiffInputError('ABI_DIFF_NOT_FOUND', `no such manifest file: ${spec}`);
		let manifest: LayoutManifest;
		try {
			manifest = validateManifest(JSON.parse(readFileSync(path, 'utf8')));
		} catch (e) {
			throw new AbiDiffInputError(
				'ABI_DIFF_BAD_MANIFEST',
				`${spec} is not a layout manifest: ${(e as Error).message}`,
			);
		}
		return modelOf(spec, manifest);
	}
	let mod: Record<string, unknown>;
	try {
		mod = (await import(spec)) as Record<string, unknown>;
	} catch (e) {
		throw new AbiDiffInputError(
			'ABI_DIFF_NOT_FOUND',
			`${spec} is neither a manifest file nor an installed package (${(e as Error).message.split('\n')[0]})`,
		);
	}
	const abi = mod.abi ?? mod.default;
	if (!isFirmwareAbi(abi)) {
		throw new AbiDiffInputError('ABI_DIFF_BAD_PACKAGE', `${spec} does not export a FirmwareAbi as \`abi\``);
	}
	const { used, subInterfaces } = packageRoots(abi);
	return modelOf(spec, abi.manifest, {
		packageName: spec,
		used,
		...(subInterfaces === undefined ? {} : { subInterfaces }),
	});
}
