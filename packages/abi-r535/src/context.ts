/**
 * What a sub-interface factory is given: one branch's manifest and a way to bind shapes and read
 * constants from it — recording what it used, so each sub-interface can say which types, constants and
 * messages it depends on (`abi-diff` computes the "used closure" from these records).
 *
 * A factory written for r535 and called with r570's context binds r570's layouts: reusing code never
 * means reusing another branch's offsets.
 *
 * @module
 */

import { AbiError, type LayoutManifest } from '@gspkit/abi';
import { bindShape, checkShape, type RecordSpec } from './shape.ts';

/** Where a sub-interface's code comes from and what it binds. Attached to every sub-interface object. */
export interface Provenance {
	/** Sub-interface name (`'gr'`). */
	readonly name: string;
	/** The package whose code implements it (`'@gspkit/abi-r535'`). */
	readonly implementedBy: string;
	/** The factory that built it (`'createGrApi'`). */
	readonly factory: string;
	/** The firmware version whose layouts and constants it was bound to (`'570.144'`). */
	readonly boundTo: string;
	/** Manifest types it binds (every type a bound shape touches). */
	readonly types: readonly string[];
	/** Manifest constants whose values it relies on (`NV2080_CTRL_CMD_…`, `GSP_FW_WPR_META_MAGIC`, …). */
	readonly constants: readonly string[];
	/**
	 * Constant families it re-derives from each branch (`'enum:RM_ENGINE_TYPE'`, `'MC_ENGINE_IDX_*'`): their
	 * values may change between branches without breaking it.
	 */
	readonly tables: readonly string[];
	/**
	 * Per member built with {@link AbiContext.members}: what that member's own code binds. A consumer that
	 * calls only some members relies on those members' records plus {@link Provenance.shared}.
	 */
	readonly members: Readonly<Record<string, ProvenanceUses>>;
	/** What the factory bound outside any member scope: every member may rely on it. */
	readonly shared: ProvenanceUses;
}

/** The types, constants and constant families one member (or a factory's shared code) relies on. */
export interface ProvenanceUses {
	readonly types: readonly string[];
	readonly constants: readonly string[];
	readonly tables: readonly string[];
}

/** Member makers for {@link AbiContext.members}: one function per member, returning the member. */
export type MemberMakers = { readonly [member: string]: () => unknown };

/** What {@link AbiContext.members} returns: each maker's result under its name. */
export type MadeMembers<M extends MemberMakers> = { -readonly [K in keyof M]: ReturnType<M[K]> };

/** Every sub-interface carries its {@link Provenance}. */
export interface SubInterface {
	readonly provenance: Provenance;
}

/** A branch's manifest plus helpers; see {@link createAbiContext}. */
export interface AbiContext {
	/** Firmware version, e.g. `'570.144'`. */
	readonly version: string;
	/** The package this context belongs to (`'@gspkit/abi-r570'`). */
	readonly packageName: string;
	/** The branch's full layout manifest. */
	readonly manifest: LayoutManifest;
	/** The manifest's layout for a shape (checked; see `bindShape`). */
	bind<S extends RecordSpec>(spec: S): ReturnType<typeof bindShape<S>>;
	/** Whether the shape fits this branch (no throw). */
	fits(spec: RecordSpec): boolean;
	/** An integer constant as a number (must be a safe integer). `ABI_DEFINITION` when missing. */
	constant(name: string): number;
	/** An integer constant as a bigint. */
	bigConstant(name: string): bigint;
	/** Whether the manifest defines the constant. */
	has(name: string): boolean;
	/** The integer constants of one group (`'enum:RM_ENGINE_TYPE'`), by name (recorded as a table). */
	group(group: string): ReadonlyMap<string, bigint>;
	/** The integer constants whose names start with `prefix` (recorded as the table `prefix*`). */
	prefixed(prefix: string): ReadonlyMap<string, bigint>;
	/** A DRF bit range (`#define X 5:4`) as `[high, low]`. `ABI_DEFINITION` when missing. */
	bitRange(name: string): readonly [number, number];
	/**
	 * Make a sub-interface's members one by one: each maker runs in its own recording scope, so what it binds
	 * is recorded against its member name (in {@link Provenance.members}) as well as against the
	 * sub-interface. `abi-diff` follows exactly the members the driver calls this way. Bindings made outside
	 * any member scope are {@link Provenance.shared}.
	 */
	members<M extends MemberMakers>(makers: M): MadeMembers<M>;
	/**
	 * Run a factory and attach its {@link Provenance}: every `bind`/`constant` call made while it runs is
	 * recorded against `name`.
	 */
	build<T extends object>(
		name: string,
		implementedBy: string,
		factory: string,
		make: () => T,
	): T & SubInterface;
}

interface Uses {
	readonly types: Set<string>;
	readonly constants: Set<string>;
	readonly tables: Set<string>;
}

interface Recorder extends Uses {
	/** Outside any member scope. */
	readonly shared: Uses;
	readonly members: Map<string, Uses>;
	/** The member scopes open now (innermost last). */
	readonly open: Uses[];
}

const newUses = (): Uses => ({ types: new Set(), constants: new Set(), tables: new Set() });

const frozenUses = (u: Uses): ProvenanceUses =>
	Object.freeze({
		types: Object.freeze([...u.types].sort()),
		constants: Object.freeze([...u.constants].sort()),
		tables: Object.freeze([...u.tables].sort()),
	});

/** Extra generated data a context can serve besides the manifest. */
export interface AbiContextOptions {
	/** DRF bit ranges from the generated constants (`bitRanges`). */
	readonly bitRanges?: Readonly<Record<string, readonly [number, number]>>;
}

/** A context over `manifest` for the package `packageName`. */
export function createAbiContext(
	packageName: string,
	manifest: LayoutManifest,
	options: AbiContextOptions = {},
): AbiContext {
	const version = manifest.abi;
	if (version === undefined) {
		throw new AbiError('ABI_DEFINITION', `manifest of ${packageName} does not name its ABI version`, {
			packageName,
		});
	}
	const ints = new Map<string, bigint>();
	const groups = new Map<string, Map<string, bigint>>();
	for (const c of manifest.constants) {
		if (!/^-?\d+$/.test(c.value)) continue;
		const v = BigInt(c.value);
		ints.set(c.name, v);
		let g = groups.get(c.group);
		if (g === undefined) {
			g = new Map();
			groups.set(c.group, g);
		}
		g.set(c.name, v);
	}
	let recorder: Recorder | undefined;
	/** Record one use against the sub-interface and the open member scopes (or the shared record). */
	const note = (kind: keyof Uses, name: string) => {
		if (recorder === undefined) return;
		recorder[kind].add(name);
		const scopes = recorder.open.length > 0 ? recorder.open : [recorder.shared];
		for (const u of scopes) u[kind].add(name);
	};
	const bound = new WeakMap<RecordSpec, { layout: unknown; types: readonly string[] }>();
	const lookup = (name: string): bigint => {
		const v = ints.get(name);
		if (v === undefined) {
			throw new AbiError('ABI_DEFINITION', `ABI ${version} has no integer constant ${name}`, {
				version,
				constant: name,
			});
		}
		note('constants', name);
		return v;
	};
	const ctx: AbiContext = {
		version,
		packageName,
		manifest,
		bind(spec) {
			let b = bound.get(spec);
			if (b === undefined) {
				b = { layout: bindShape(manifest, spec), types: checkShape(manifest, spec).types };
				bound.set(spec, b);
			}
			for (const t of b.types) note('types', t);
			return b.layout as never;
		},
		fits: (spec) => checkShape(manifest, spec).problems.length === 0,
		constant(name) {
			const v = lookup(name);
			if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
				throw new AbiError(
					'ABI_DEFINITION',
					`constant ${name} = ${v} is not a safe integer; use bigConstant`,
					{
						version,
						constant: name,
					},
				);
			}
			return Number(v);
		},
		bigConstant: lookup,
		has: (name) => ints.has(name),
		group(g) {
			note('tables', g);
			return groups.get(g) ?? new Map<string, bigint>();
		},
		prefixed(prefix) {
			note('tables', `${prefix}*`);
			return new Map([...ints].filter(([name]) => name.startsWith(prefix)));
		},
		bitRange(name) {
			const r = options.bitRanges?.[name];
			if (r === undefined) {
				throw new AbiError('ABI_DEFINITION', `ABI ${version} has no bit range ${name}`, {
					version,
					constant: name,
				});
			}
			note('constants', name);
			return r;
		},
		members(makers) {
			const out: Record<string, unknown> = {};
			for (const [member, make] of Object.entries(makers)) {
				if (recorder === undefined) {
					out[member] = make();
					continue;
				}
				let uses = recorder.members.get(member);
				if (uses === undefined) {
					uses = newUses();
					recorder.members.set(member, uses);
				}
				recorder.open.push(uses);
				try {
					out[member] = make();
				} finally {
					recorder.open.pop();
				}
			}
			return out as never;
		},
		build(name, implementedBy, factory, make) {
			const outer = recorder;
			const rec: Recorder = { ...newUses(), shared: newUses(), members: new Map(), open: [] };
			recorder = rec;
			let api: object;
			try {
				api = make();
			} finally {
				recorder = outer;
			}
			const provenance: Provenance = Object.freeze({
				name,
				implementedBy,
				factory,
				boundTo: version,
				types: Object.freeze([...rec.types].sort()),
				constants: Object.freeze([...rec.constants].sort()),
				tables: Object.freeze([...rec.tables].sort()),
				members: Object.freeze(
					Object.fromEntries(
						[...rec.members].sort(([a], [b]) => a.localeCompare(b)).map(([m, u]) => [m, frozenUses(u)]),
					),
				),
				shared: frozenUses(rec.shared),
			});
			return Object.freeze({ ...api, provenance }) as never;
		},
	};
	return Object.freeze(ctx);
}
