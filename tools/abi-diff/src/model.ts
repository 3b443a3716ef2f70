/**
 * The normalised form `abi-diff` compares: one branch's types, constants and message tables, plus (when the
 * input is an ABI package) the root set the driver actually uses and the provenance of its sub-interfaces.
 *
 * @module
 */

import {
	type LayoutManifest,
	type ManifestType,
	OPTIONAL_RPC_EVENT_NAMES,
	parseTypeString,
	RPC_EVENT_NAMES,
	RPC_FUNCTION_NAMES,
} from '@gspkit/abi';

/** A sub-interface's origin, as an ABI package records it. */
export interface SubInterfaceInfo {
	readonly name: string;
	/** Package whose code implements it. */
	readonly implementedBy: string;
	/** Manifest types it binds. */
	readonly types: readonly string[];
	/** Constants whose values it relies on. */
	readonly constants: readonly string[];
	/** Constant families it re-derives per branch (`'enum:RM_ENGINE_TYPE'`, `'MC_ENGINE_IDX_*'`). */
	readonly tables: readonly string[];
	/** Its members the driver uses (empty: the driver does not use this sub-interface). */
	readonly used: readonly string[];
}

/** What the driver uses of an ABI: the roots of the "used closure". */
export interface UsedRoots {
	/** C type names (codecs the package exposes and types its sub-interfaces bind). */
	readonly types: readonly string[];
	/** Function names (prefix dropped) the core sends. */
	readonly functions: readonly string[];
	/** Event names (prefix dropped) the core handles. */
	readonly events: readonly string[];
	/** Constants whose values the sub-interfaces rely on. */
	readonly constants: readonly string[];
	/** Constant families the sub-interfaces re-derive per branch (a group name, or a `PREFIX*`). */
	readonly tables: readonly string[];
	/** The ABI members these roots came from (`'layouts.queueElement'`, `'fifo.bind'`), when known. */
	readonly members?: readonly string[];
}

/** Whether constant `name` (of `group`) belongs to one of `tables`. */
export function inTables(tables: readonly string[], name: string, group: string): boolean {
	return tables.some((t) => (t.endsWith('*') ? name.startsWith(t.slice(0, -1)) : group === t));
}

/** One side of a diff. */
export interface AbiModel {
	/** How the user named it (package name or file path). */
	readonly label: string;
	/** Firmware version, if the manifest says. */
	readonly version: string | undefined;
	/** The package name when loaded from a package. */
	readonly packageName: string | undefined;
	readonly types: ReadonlyMap<string, ManifestType>;
	/** Integer and string constants (value as in the manifest), without the message tables. */
	readonly constants: ReadonlyMap<string, { readonly value: string; readonly group: string }>;
	/** Function numbers by name (prefix and the NUM_/FIRST_ markers dropped). */
	readonly functions: ReadonlyMap<string, number>;
	/** Event numbers by name. */
	readonly events: ReadonlyMap<string, number>;
	/** The count markers (`NUM_FUNCTIONS`, `FIRST_EVENT`, `NUM_EVENTS`). */
	readonly markers: ReadonlyMap<string, number>;
	/** The driver's root set, when known. */
	readonly used: UsedRoots | undefined;
	/** Sub-interface provenance, when the input is a package. */
	readonly subInterfaces: readonly SubInterfaceInfo[] | undefined;
}

const FN_PREFIX = 'NV_VGPU_MSG_FUNCTION_';
const EV_PREFIX = 'NV_VGPU_MSG_EVENT_';
const MARKERS = new Set(['NUM_FUNCTIONS', 'NUM_EVENTS', 'FIRST_EVENT']);

/** The neutral message names the core uses whatever the branch (`@gspkit/abi`'s lists). */
export const CORE_FUNCTIONS: readonly string[] = RPC_FUNCTION_NAMES;
/** The neutral event names the core handles. */
export const CORE_EVENTS: readonly string[] = [...RPC_EVENT_NAMES, ...OPTIONAL_RPC_EVENT_NAMES];

/** Build a model from a manifest (plus, for packages, roots and provenance). */
export function modelOf(
	label: string,
	manifest: LayoutManifest,
	extra: {
		readonly packageName?: string;
		readonly used?: UsedRoots;
		readonly subInterfaces?: readonly SubInterfaceInfo[];
	} = {},
): AbiModel {
	const functions = new Map<string, number>();
	const events = new Map<string, number>();
	const markers = new Map<string, number>();
	const constants = new Map<string, { value: string; group: string }>();
	for (const c of manifest.constants) {
		const isFn = c.group === 'rpc-function' && c.name.startsWith(FN_PREFIX);
		const isEv = c.group === 'rpc-event' && c.name.startsWith(EV_PREFIX);
		if (!isFn && !isEv) {
			constants.set(c.name, { value: c.value, group: c.group });
			continue;
		}
		const short = c.name.slice((isFn ? FN_PREFIX : EV_PREFIX).length);
		const v = Number(c.value);
		if (MARKERS.has(short)) markers.set(short, v);
		else (isFn ? functions : events).set(short, v);
	}
	return {
		label,
		version: manifest.abi,
		packageName: extra.packageName,
		types: new Map(manifest.types.map((t) => [t.name, t])),
		constants,
		functions,
		events,
		markers,
		used: extra.used,
		subInterfaces: extra.subInterfaces,
	};
}

/** The struct/union names a manifest type refers to directly. */
export function referencedTypes(t: ManifestType): string[] {
	const out: string[] = [];
	for (const f of t.fields) {
		const m = /^(struct|union) (\S+)$/.exec(parseTypeString(f.type).base);
		if (m !== null) out.push(m[2]!);
	}
	return out;
}

/** Every type reachable from `roots` through field types (roots missing from the model are skipped). */
export function closure(model: AbiModel, roots: Iterable<string>): Set<string> {
	const seen = new Set<string>();
	const stack = [...roots];
	while (stack.length > 0) {
		const name = stack.pop()!;
		if (seen.has(name)) continue;
		const t = model.types.get(name);
		if (t === undefined) continue;
		seen.add(name);
		stack.push(...referencedTypes(t));
	}
	return seen;
}
