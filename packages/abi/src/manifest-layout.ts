/**
 * Between layouts and the JSON layout manifest: {@link toManifest} describes a set of layouts (for
 * `abi-diff` and the conformance checks), {@link layoutFromManifest} turns a manifest entry back into a
 * working codec (explicit offsets, checked), and {@link validateManifest} checks untrusted JSON.
 *
 * @module
 */

import { AbiError } from './errors.ts';
import {
	array,
	cstring,
	type FieldDef,
	type FieldOptions,
	type FixedLayout,
	flex,
	i8,
	isLayout,
	isPrimName,
	type Layout,
	primLayout,
	type RecordLayout,
	struct,
	typeString,
	u8,
	u16,
	u32,
	u64,
	union,
} from './layout.ts';
import {
	type LayoutManifest,
	MANIFEST_FORMAT,
	type ManifestConstant,
	type ManifestField,
	type ManifestType,
} from './manifest.ts';

// ───────────────────────────── layouts → manifest ─────────────────────────────

/** Options of {@link toManifest}. */
export interface ToManifestOptions {
	/** The firmware version described, e.g. `'535.113.01'`. */
	readonly abi?: string;
	/** Where the layouts came from (header set, generator version). */
	readonly source?: string;
	/** Constants to include (sorted into the manifest). */
	readonly constants?: readonly ManifestConstant[];
}

/** Names anonymous records `Parent.field` (first parent in traversal order wins). */
class Namer {
	readonly names = new Map<RecordLayout, string>();

	nameOf = (l: RecordLayout): string => {
		const n = this.names.get(l) ?? l.name;
		if (n === '') throw new AbiError('ABI_LAYOUT', `an anonymous ${l.kind} has no name for the manifest`);
		return n;
	};

	visit(l: RecordLayout, name: string, out: RecordLayout[]): void {
		if (this.names.has(l)) return;
		this.names.set(l, name);
		out.push(l);
		for (const f of l.fields) {
			let inner: Layout = f.layout;
			while (inner.kind === 'array' || inner.kind === 'flex') inner = inner.element;
			if (inner.kind === 'struct' || inner.kind === 'union') {
				this.visit(inner, inner.name === '' ? `${name}.${f.name}` : inner.name, out);
			}
		}
	}
}

function fieldToManifest(
	f: RecordLayout['fields'][number],
	nameOf: (l: RecordLayout) => string,
): ManifestField {
	const type = f.ctype ?? typeString(f.layout, nameOf);
	const base = { name: f.name, offset: f.offset, size: f.size, type };
	if (f.bits !== undefined) return { ...base, bitOffset: f.bits.offset, bitSize: f.bits.size };
	if (f.layout.kind === 'flex' && typeof f.layout.count === 'string')
		return { ...base, countField: f.layout.count };
	return base;
}

/**
 * The manifest entry of one struct or union. Anonymous nested records are named by `nameOf`
 * (default: their own name).
 */
export function manifestTypeOf(
	layout: RecordLayout,
	nameOf: (l: RecordLayout) => string = (l) => l.name,
): ManifestType {
	if (!isLayout(layout) || (layout.kind !== 'struct' && layout.kind !== 'union')) {
		throw new AbiError('ABI_BAD_ARGUMENT', 'manifestTypeOf() needs a struct or union layout');
	}
	return {
		name: nameOf(layout),
		kind: layout.kind,
		size: layout.size,
		align: layout.align,
		fields: layout.fields.map((f) => fieldToManifest(f, nameOf)),
	};
}

const byName = <T extends { readonly name: string }>(a: T, b: T): number =>
	a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * Describe `layouts` (and every struct/union they contain) as a deterministic manifest: types sorted by
 * name, constants by name then group. A record given in a `Record` under a key but without a C name is
 * named by the key; anonymous nested records become `Parent.field`. Two different layouts with one name
 * are `ABI_LAYOUT`.
 */
export function toManifest(
	layouts: readonly Layout[] | Readonly<Record<string, Layout>>,
	options: ToManifestOptions = {},
): LayoutManifest {
	const entries: [string, Layout][] = Array.isArray(layouts)
		? (layouts as readonly Layout[]).map((l, i) => [String(i), l])
		: Object.entries(layouts as Readonly<Record<string, Layout>>);
	const roots: { name: string; layout: RecordLayout }[] = [];
	for (const [key, l] of entries) {
		if (!isLayout(l)) throw new AbiError('ABI_BAD_ARGUMENT', `toManifest: entry '${key}' is not a layout`);
		let inner: Layout = l;
		while (inner.kind === 'array' || inner.kind === 'flex') inner = inner.element;
		if (inner.kind !== 'struct' && inner.kind !== 'union') continue;
		const name = inner.name !== '' ? inner.name : Array.isArray(layouts) ? '' : key;
		if (name === '')
			throw new AbiError('ABI_LAYOUT', `toManifest: anonymous ${inner.kind} #${key} needs a name`);
		roots.push({ name, layout: inner });
	}
	roots.sort(byName);
	const namer = new Namer();
	const order: RecordLayout[] = [];
	for (const r of roots) namer.visit(r.layout, r.name, order);
	const types = new Map<string, { json: string; type: ManifestType }>();
	for (const l of order) {
		const t = manifestTypeOf(l, namer.nameOf);
		const json = JSON.stringify(t);
		const prev = types.get(t.name);
		if (prev !== undefined && prev.json !== json) {
			throw new AbiError('ABI_LAYOUT', `toManifest: two different layouts are named '${t.name}'`, {
				type: t.name,
			});
		}
		types.set(t.name, { json, type: t });
	}
	const constants = [...(options.constants ?? [])].map((c) => {
		checkConstant(c, 'constants');
		return { name: c.name, value: c.value, group: c.group };
	});
	constants.sort((a, b) => byName(a, b) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
	for (let i = 1; i < constants.length; i++) {
		const a = constants[i - 1]!;
		const b = constants[i]!;
		if (a.name === b.name && a.group === b.group) {
			throw new AbiError('ABI_MANIFEST', `duplicate constant ${a.group}:${a.name}`, {
				name: a.name,
				group: a.group,
			});
		}
	}
	return {
		format: MANIFEST_FORMAT,
		...(options.abi === undefined ? {} : { abi: options.abi }),
		...(options.source === undefined ? {} : { source: options.source }),
		types: [...types.values()].map((t) => t.type).sort(byName),
		constants,
	};
}

/**
 * Manifest constants from a record: integers become decimal strings (64-bit safe), strings quoted C
 * literals. `manifestConstants('rpc-function', { GSP_RM_CONTROL: 76 })`.
 */
export function manifestConstants(
	group: string,
	values: Readonly<Record<string, number | bigint | string>>,
): ManifestConstant[] {
	return Object.entries(values).map(([name, v]) => {
		let value: string;
		if (typeof v === 'string') value = JSON.stringify(v);
		else if (typeof v === 'bigint' || Number.isSafeInteger(v)) value = String(v);
		else throw new AbiError('ABI_MANIFEST', `constant ${name}: ${String(v)} is not an integer`, { name });
		return { name, value, group };
	});
}

/**
 * The constants of a group (or all), parsed: integers as `bigint`, string literals as `string`.
 * `constantsOf(m, 'rpc-event').get('GSP_INIT_DONE') === 4097n`.
 */
export function constantsOf(manifest: LayoutManifest, group?: string): Map<string, bigint | string> {
	const out = new Map<string, bigint | string>();
	for (const c of manifest.constants) {
		if (group !== undefined && c.group !== group) continue;
		out.set(c.name, /^-?\d+$/.test(c.value) ? BigInt(c.value) : unquote(c.value));
	}
	return out;
}

function unquote(literal: string): string {
	try {
		return JSON.parse(literal) as string;
	} catch {
		return literal.slice(1, -1);
	}
}

/** The manifest as JSON text: 2-space indentation, fixed key order, trailing newline (diff-friendly). */
export function stringifyManifest(manifest: LayoutManifest): string {
	const m = validateManifest(manifest);
	const norm = {
		format: m.format,
		...(m.abi === undefined ? {} : { abi: m.abi }),
		...(m.source === undefined ? {} : { source: m.source }),
		types: m.types.map((t) => ({
			name: t.name,
			kind: t.kind,
			size: t.size,
			align: t.align,
			fields: t.fields.map((f) => ({
				name: f.name,
				offset: f.offset,
				size: f.size,
				type: f.type,
				...(f.bitOffset === undefined ? {} : { bitOffset: f.bitOffset }),
				...(f.bitSize === undefined ? {} : { bitSize: f.bitSize }),
				...(f.countField === undefined ? {} : { countField: f.countField }),
			})),
		})),
		constants: m.constants.map((c) => ({ name: c.name, value: c.value, group: c.group })),
	};
	return `${JSON.stringify(norm, null, 2)}\n`;
}

// ───────────────────────────── manifest → layouts ─────────────────────────────

/** A manifest type string split into its base type and array dimensions. */
export interface ParsedType {
	readonly base: string;
	/** Outermost first; `null` is a flexible `[]` (only allowed first). */
	readonly dims: readonly (number | null)[];
}

/** Split a manifest type string: `struct X[4][2]` → base `struct X`, dims `[4, 2]`; `u8[]` → `[null]`. */
export function parseTypeString(type: string): ParsedType {
	const m = /^(.*?)((?:\[\d*\])*)$/.exec(type);
	const base = m?.[1]?.trim() ?? '';
	if (m === null || base === '')
		throw new AbiError('ABI_UNKNOWN_TYPE', `cannot parse type ${JSON.stringify(type)}`, { type });
	const dims: (number | null)[] = [];
	for (const d of m[2]!.matchAll(/\[(\d*)\]/g)) dims.push(d[1] === '' ? null : Number(d[1]));
	if (dims.slice(1).includes(null)) {
		throw new AbiError('ABI_UNKNOWN_TYPE', `${type}: only the outermost dimension can be flexible ([])`, {
			type,
		});
	}
	return { base, dims };
}

const RECORD_RE = /^(struct|union|enum) (\S+)$/;
const cache = new WeakMap<LayoutManifest, Map<string, RecordLayout>>();

function enumLayout(elemSize: number, type: string): FixedLayout {
	switch (elemSize) {
		case 1:
			return u8;
		case 2:
			return u16;
		case 4:
			return u32;
		case 8:
			return u64;
		default:
			throw new AbiError('ABI_UNKNOWN_TYPE', `${type}: an enum of ${elemSize} bytes is not supported`, {
				type,
			});
	}
}

function fieldLayout(
	f: ManifestField,
	owner: ManifestType,
	manifest: LayoutManifest,
	build: (name: string, kind: 'struct' | 'union') => RecordLayout,
): { layout: Layout; exact: boolean } {
	const where = `${owner.name}.${f.name}`;
	const { base, dims } = parseTypeString(f.type);
	const isFlex = dims[0] === null;
	const fixedDims = (isFlex ? dims.slice(1) : dims) as number[];
	const count = fixedDims.reduce((a, b) => a * b, 1);
	let elem: FixedLayout;
	let exact = true; // whether typeString(layout) reproduces f.type
	let dimsLeft = fixedDims;
	const rec = RECORD_RE.exec(base);
	if (isPrimName(base)) elem = primLayout(base);
	else if (base === 'char') {
		if (fixedDims.length > 0) {
			elem = cstring(fixedDims[fixedDims.length - 1]!);
			dimsLeft = fixedDims.slice(0, -1);
		} else {
			elem = i8;
			exact = false;
		}
	} else if (base === 'ptr') {
		elem = u64;
		exact = false;
	} else if (rec !== null && rec[1] === 'enum') {
		if (isFlex || count === 0) elem = u32;
		else elem = enumLayout(f.size / count, f.type);
		exact = false;
	} else if (rec !== null) {
		const kind = rec[1] as 'struct' | 'union';
		const t = manifest.types.find((x) => x.name === rec[2] && x.kind === kind);
		if (t === undefined) {
			throw new AbiError('ABI_UNKNOWN_TYPE', `${where}: type '${base}' is not in the manifest`, {
				type: base,
				field: where,
			});
		}
		elem = build(t.name, kind);
	} else {
		throw new AbiError('ABI_UNKNOWN_TYPE', `${where}: unknown type '${f.type}'`, {
			type: f.type,
			field: where,
		});
	}
	for (let i = dimsLeft.length - 1; i >= 0; i--) elem = array(elem, dimsLeft[i]!);
	if (isFlex) return { layout: flex(elem, f.countField === undefined ? {} : { count: f.countField }), exact };
	return { layout: elem, exact };
}

function buildFromManifest(
	manifest: LayoutManifest,
	name: string,
	kind: 'struct' | 'union',
	stack: string[],
): RecordLayout {
	let memo = cache.get(manifest);
	if (memo === undefined) {
		memo = new Map();
		cache.set(manifest, memo);
	}
	const key = `${kind} ${name}`;
	const hit = memo.get(key);
	if (hit !== undefined) return hit;
	if (stack.includes(key)) {
		throw new AbiError(
			'ABI_LAYOUT',
			`manifest type ${key} contains itself (${[...stack, key].join(' → ')})`,
			{
				type: name,
			},
		);
	}
	const mt = manifest.types.find((t) => t.name === name && t.kind === kind);
	if (mt === undefined)
		throw new AbiError('ABI_UNKNOWN_TYPE', `${key} is not in the manifest`, { type: name });
	const build = (n: string, k: 'struct' | 'union'): RecordLayout =>
		buildFromManifest(manifest, n, k, [...stack, key]);
	const defs: FieldDef[] = mt.fields.map((f) => {
		const { layout, exact } = fieldLayout(f, mt, manifest, build);
		const opts: { -readonly [K in keyof FieldOptions]: FieldOptions[K] } = { offset: f.offset };
		if (f.bitSize !== undefined) {
			opts.bits = f.bitSize;
			opts.bitOffset = f.bitOffset ?? 0;
		}
		if (!exact) opts.ctype = f.type;
		const expected = layout.kind === 'flex' ? 0 : layout.size;
		if (f.size !== expected) {
			throw new AbiError(
				'ABI_LAYOUT',
				`${mt.name}.${f.name}: type ${f.type} is ${expected} bytes but the manifest says ${f.size}`,
				{ type: mt.name, field: f.name, expected, manifest: f.size },
			);
		}
		return [f.name, layout, opts] as const;
	});
	const make = kind === 'struct' ? struct : union;
	// An alignment below the members' natural one means the type was packed (or under #pragma pack):
	// cap member alignment at the manifest's, which is what pack(N) does.
	const natural = defs.reduce((a, d) => Math.max(a, d[1].align), 1);
	const layout: RecordLayout = make(mt.name, defs, {
		size: mt.size,
		align: mt.align,
		...(mt.align < natural ? { pack: mt.align } : {}),
	});
	if (layout.align !== mt.align || layout.size !== mt.size) {
		throw new AbiError(
			'ABI_LAYOUT',
			`${key}: manifest says size ${mt.size} align ${mt.align}, fields give size ${layout.size} align ${layout.align}`,
			{ type: name },
		);
	}
	memo.set(key, layout);
	return layout;
}

/**
 * Build a working struct/union layout from a manifest entry (or its name), resolving nested types from
 * the same manifest. Offsets are the manifest's (explicit, checked: overlap or out-of-bounds is
 * `ABI_LAYOUT`); unknown type references are `ABI_UNKNOWN_TYPE`. Results are cached per manifest object,
 * so shared nested types are one layout object.
 */
export function layoutFromManifest(type: ManifestType | string, manifest: LayoutManifest): RecordLayout {
	if (typeof type === 'string') {
		const t = manifest.types.find((x) => x.name === type);
		if (t === undefined)
			throw new AbiError('ABI_UNKNOWN_TYPE', `type '${type}' is not in the manifest`, { type });
		return buildFromManifest(manifest, t.name, t.kind, []);
	}
	return buildFromManifest(manifest, type.name, type.kind, []);
}

/** Every type of a manifest as a layout, by name. */
export function layoutsFromManifest(manifest: LayoutManifest): Record<string, RecordLayout> {
	const out: Record<string, RecordLayout> = {};
	for (const t of manifest.types) out[t.name] = layoutFromManifest(t, manifest);
	return out;
}

// ───────────────────────────── validation ─────────────────────────────

function bad(path: string, message: string, extra: Record<string, unknown> = {}): AbiError {
	return new AbiError('ABI_MANIFEST', `manifest ${path}: ${message}`, { path, ...extra });
}

const isObj = (v: unknown): v is Record<string, unknown> =>
	typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkConstant(c: unknown, path: string): asserts c is ManifestConstant {
	if (!isObj(c)) throw bad(path, 'must be an object');
	for (const k of ['name', 'value', 'group'] as const) {
		if (typeof c[k] !== 'string' || c[k] === '') throw bad(`${path}.${k}`, 'must be a non-empty string');
	}
	const value = c.value as string;
	if (!/^-?\d+$/.test(value) && !/^"(?:[^"\\]|\\.)*"$/.test(value)) {
		throw bad(
			`${path}.value`,
			`${JSON.stringify(value)} is neither a decimal integer nor a quoted string literal`,
		);
	}
}

/**
 * Check that `json` has the manifest shape (format tag, types with fields, constants) and that every
 * `struct`/`union` it references exists. Shape errors are `ABI_MANIFEST` with `details.path`
 * (`types[3].fields[2].offset`); unresolvable type references are `ABI_UNKNOWN_TYPE`.
 */
export function validateManifest(json: unknown): LayoutManifest {
	if (!isObj(json)) throw bad('(root)', 'must be an object');
	if (json.format !== MANIFEST_FORMAT) {
		throw bad('format', `expected ${JSON.stringify(MANIFEST_FORMAT)}, got ${JSON.stringify(json.format)}`);
	}
	for (const k of ['abi', 'source'] as const) {
		if (json[k] !== undefined && typeof json[k] !== 'string') throw bad(k, 'must be a string');
	}
	if (!Array.isArray(json.types)) throw bad('types', 'must be an array');
	if (!Array.isArray(json.constants)) throw bad('constants', 'must be an array');
	const kinds = new Map<string, string>();
	json.types.forEach((t: unknown, i: number) => {
		const p = `types[${i}]`;
		if (!isObj(t)) throw bad(p, 'must be an object');
		if (typeof t.name !== 'string' || t.name === '') throw bad(`${p}.name`, 'must be a non-empty string');
		if (t.kind !== 'struct' && t.kind !== 'union') throw bad(`${p}.kind`, `must be "struct" or "union"`);
		if (!isUint(t.size)) throw bad(`${p}.size`, 'must be a non-negative integer');
		if (!isUint(t.align) || t.align === 0 || (t.align & (t.align - 1)) !== 0) {
			throw bad(`${p}.align`, 'must be a power of two');
		}
		if (kinds.has(t.name)) throw bad(`${p}.name`, `duplicate type '${t.name}'`, { type: t.name });
		kinds.set(t.name, t.kind);
		if (!Array.isArray(t.fields)) throw bad(`${p}.fields`, 'must be an array');
		const seen = new Set<string>();
		t.fields.forEach((f: unknown, j: number) => {
			const fp = `${p}.fields[${j}]`;
			if (!isObj(f)) throw bad(fp, 'must be an object');
			if (typeof f.name !== 'string' || f.name === '') throw bad(`${fp}.name`, 'must be a non-empty string');
			if (seen.has(f.name)) throw bad(`${fp}.name`, `duplicate field '${f.name}' in ${t.name}`);
			seen.add(f.name);
			if (!isUint(f.offset)) throw bad(`${fp}.offset`, 'must be a non-negative integer');
			if (!isUint(f.size)) throw bad(`${fp}.size`, 'must be a non-negative integer');
			if (typeof f.type !== 'string' || f.type === '') throw bad(`${fp}.type`, 'must be a non-empty string');
			if ((f.bitOffset === undefined) !== (f.bitSize === undefined)) {
				throw bad(fp, 'bitOffset and bitSize come together');
			}
			if (f.bitOffset !== undefined && !isUint(f.bitOffset))
				throw bad(`${fp}.bitOffset`, 'must be a non-negative integer');
			if (f.bitSize !== undefined && (!isUint(f.bitSize) || f.bitSize === 0)) {
				throw bad(`${fp}.bitSize`, 'must be a positive integer');
			}
			if (f.countField !== undefined && (typeof f.countField !== 'string' || f.countField === '')) {
				throw bad(`${fp}.countField`, 'must be a non-empty string');
			}
		});
	});
	// References, once every name is known.
	for (const t of json.types as ManifestType[]) {
		for (const f of t.fields) {
			const { base } = parseTypeString(f.type);
			const rec = RECORD_RE.exec(base);
			if (rec !== null && rec[1] !== 'enum') {
				if (kinds.get(rec[2]!) !== rec[1]) {
					throw new AbiError(
						'ABI_UNKNOWN_TYPE',
						`manifest ${t.name}.${f.name}: type '${base}' is not in the manifest`,
						{
							type: base,
							field: `${t.name}.${f.name}`,
						},
					);
				}
			} else if (rec === null && !isPrimName(base) && base !== 'char' && base !== 'ptr') {
				throw new AbiError('ABI_UNKNOWN_TYPE', `manifest ${t.name}.${f.name}: unknown type '${f.type}'`, {
					type: f.type,
					field: `${t.name}.${f.name}`,
				});
			}
		}
	}
	const seenConst = new Set<string>();
	json.constants.forEach((c: unknown, i: number) => {
		checkConstant(c, `constants[${i}]`);
		const key = `${c.group}\u0000${c.name}`;
		if (seenConst.has(key)) throw bad(`constants[${i}]`, `duplicate constant ${c.group}:${c.name}`);
		seenConst.add(key);
	});
	return json as unknown as LayoutManifest;
}
