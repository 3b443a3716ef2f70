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

interface Provenanced {
	readonly provenance?: {
		readonly implementedBy?: unknown;
		readonly types?: unknown;
		readonly constants?: unknown;
		readonly tables?: unknown;
	};
}

/** The used roots and sub-interface provenance of a loaded ABI package. */
export function packageRoots(abi: FirmwareAbi): {
	used: UsedRoots;
	subInterfaces: SubInterfaceInfo[] | undefined;
} {
	const types = new Set<string>();
	for (const l of Object.values(abi.layouts))
		if ((l.kind === 'struct' || l.kind === 'union') && l.name !== '') types.add(l.name);
	const constants = new Set<string>();
	const tables = new Set<string>();
	const functions = new Set(CORE_FUNCTIONS);
	const events = new Set(CORE_EVENTS);
	const subs: SubInterfaceInfo[] = [];
	for (const [name, s] of Object.entries(abi.subInterfaces)) {
		const p = (s as Provenanced).provenance;
		if (
			p === undefined ||
			!Array.isArray(p.types) ||
			!Array.isArray(p.constants) ||
			typeof p.implementedBy !== 'string'
		)
			continue;
		const tbl = Array.isArray(p.tables) ? (p.tables as string[]) : [];
		subs.push({
			name,
			implementedBy: p.implementedBy,
			types: p.types as string[],
			constants: p.constants as string[],
			tables: tbl,
		});
		for (const t of p.types as string[]) types.add(t);
		for (const t of tbl) tables.add(t);
		for (const c of p.constants as string[]) {
			if (c.startsWith(FN)) functions.add(c.slice(FN.length));
			else if (c.startsWith(EV)) events.add(c.slice(EV.length));
			else constants.add(c);
		}
	}
	return {
		used: {
			types: [...types],
			functions: [...functions],
			events: [...events],
			constants: [...constants],
			tables: [...tables],
		},
		subInterfaces: subs.length > 0 ? subs : undefined,
	};
}

/**
 * The roots used when an input is a bare manifest: what gspkit's installed ABI packages bind (their neutral
 * layouts and every sub-interface's types and constants), by C name.
 */
export function defaultRoots(): { types: string[]; constants: string[]; tables: string[] } {
	const types = new Set<string>();
	const constants = new Set<string>();
	const tables = new Set<string>();
	for (const abi of [r535, r570]) {
		const { used } = packageRoots(abi);
		for (const t of used.types) types.add(t);
		for (const c of used.constants) constants.add(c);
		for (const t of used.tables) tables.add(t);
	}
	return { types: [...types].sort(), constants: [...constants].sort(), tables: [...tables].sort() };
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
