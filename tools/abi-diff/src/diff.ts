/**
 * Comparing two ABI models: message numbering first (renumbered IDs and numbers that changed meaning are
 * silent and dangerous), then types (added/removed, size changes, field offset shifts, renamed fields),
 * then constants — each for the whole ABI and for the closure reachable from what the driver uses.
 *
 * @module
 */

import type { ManifestField, ManifestType } from '@gspkit/abi';
import { type AbiModel, CORE_EVENTS, CORE_FUNCTIONS, closure, inTables } from './model.ts';

/** `function` (CPU → GSP) or `event` (GSP → CPU). */
export type MessageKind = 'function' | 'event';

/** A message whose name exists on one or both sides. */
export interface MessageChange {
	readonly kind: MessageKind;
	readonly name: string;
	/** Number in A (absent when added). */
	readonly a?: number;
	/** Number in B (absent when removed). */
	readonly b?: number;
	/** Whether the driver uses it. */
	readonly used: boolean;
}

/** A number whose meaning changed: it names one message in A and another in B. */
export interface Reassignment {
	readonly kind: MessageKind;
	readonly id: number;
	/** Name in A. */
	readonly a: string;
	/** Name in B. */
	readonly b: string;
	/** The A name was a reserved slot (`RESERVED_201`): filling it is harmless. */
	readonly reservedSlot: boolean;
	/** Whether either name is used by the driver. */
	readonly used: boolean;
}

/** Message-table differences of one kind. */
export interface MessageDiff {
	readonly countA: number;
	readonly countB: number;
	readonly renumbered: readonly MessageChange[];
	readonly reassigned: readonly Reassignment[];
	readonly added: readonly MessageChange[];
	readonly removed: readonly MessageChange[];
	/** Added messages numbered above every number of A. */
	readonly appended: number;
	/** Reserved slots of A that B gave a name. */
	readonly reservedSlotsNamed: readonly Reassignment[];
	/** Count markers (`NUM_FUNCTIONS`, …) that changed. */
	readonly markers: readonly {
		readonly name: string;
		readonly a: number | undefined;
		readonly b: number | undefined;
	}[];
}

/** A field-level difference inside a type present on both sides. */
export interface FieldChange {
	readonly field: string;
	readonly kind: 'offset' | 'type' | 'bits' | 'removed' | 'added' | 'renamed';
	readonly a?: { readonly offset: number; readonly size: number; readonly type: string };
	readonly b?: { readonly offset: number; readonly size: number; readonly type: string };
	/** For `renamed`: the field's name in B. */
	readonly renamedTo?: string;
	/** Whether the field (in A, or in B if added) is reserved/padding space. */
	readonly reserved: boolean;
}

/** A type present on both sides whose layout differs. */
export interface TypeChange {
	readonly name: string;
	readonly kind: 'struct' | 'union';
	readonly sizeA: number;
	readonly sizeB: number;
	readonly alignA: number;
	readonly alignB: number;
	readonly fields: readonly FieldChange[];
	/** In the used closure. */
	readonly used: boolean;
	/** Size, alignment, or a non-reserved field moved, changed or disappeared: old code would misread it. */
	readonly incompatible: boolean;
}

/** A type that disappeared from A and reappeared in B under another name with the same layout. */
export interface TypeRename {
	readonly a: string;
	readonly b: string;
	readonly used: boolean;
}

/** A constant whose value changed, or that exists on one side only. */
export interface ConstantChange {
	readonly name: string;
	readonly group: string;
	readonly a?: string;
	readonly b?: string;
	/** A sub-interface relies on this value (a change breaks code written for A). */
	readonly used: boolean;
	/** It belongs to a table the sub-interfaces re-derive per branch (a change is absorbed by binding). */
	readonly derived: boolean;
}

/** A control command that disappeared under one name and reappeared under another (same object class). */
export interface ControlMove {
	readonly a: string;
	readonly b: string;
	readonly valueA: string;
	readonly valueB: string;
	readonly used: boolean;
}

const CONTROL_NAME = /^(NV[0-9A-F]+_CTRL_CMD_)[A-Z0-9]+_(\w+)$/;

/** Pair removed and added control IDs of the same class whose names differ only in the category word. */
function controlMoves(removed: readonly ConstantChange[], added: readonly ConstantChange[]): ControlMove[] {
	const out: ControlMove[] = [];
	const key = (n: string) => {
		const m = CONTROL_NAME.exec(n);
		return m === null ? undefined : `${m[1]}${m[2]}`;
	};
	for (const r of removed.filter((x) => x.group === 'control')) {
		const k = key(r.name);
		const match = k === undefined ? undefined : added.find((x) => x.group === 'control' && key(x.name) === k);
		if (match !== undefined)
			out.push({ a: r.name, b: match.name, valueA: r.a!, valueB: match.b!, used: r.used || match.used });
	}
	return out;
}

/** Something in the used closure that code written for A would get wrong on B. */
export interface Incompatibility {
	readonly category: 'message' | 'type' | 'constant';
	readonly what: string;
	readonly detail: string;
}

/** Per sub-interface: did B need new code, and which of its bound types changed. */
export interface SubInterfaceChange {
	readonly name: string;
	readonly implementedByA: string | undefined;
	readonly implementedByB: string;
	/** B's code is not A's (nouveau's "not reused"). */
	readonly newImplementation: boolean;
	/** Types it binds (in B) whose layout changed, was added or removed. */
	readonly changedTypes: readonly string[];
	/** Its members the driver uses (in A or B); empty when the driver does not use it. */
	readonly usedMembers: readonly string[];
}

/** Counts for the summary table and `--json`. */
export interface DiffSummary {
	readonly functions: {
		readonly a: number;
		readonly b: number;
		readonly added: number;
		readonly appended: number;
		readonly removed: number;
		readonly renumbered: number;
		readonly reassigned: number;
	};
	readonly events: {
		readonly a: number;
		readonly b: number;
		readonly added: number;
		readonly appended: number;
		readonly removed: number;
		readonly renumbered: number;
		readonly reassigned: number;
	};
	readonly types: {
		readonly a: number;
		readonly b: number;
		readonly added: number;
		readonly removed: number;
		readonly renamed: number;
		readonly changed: number;
		readonly sizeChanges: number;
		readonly offsetShifts: number;
		readonly renamedFields: number;
	};
	readonly constants: {
		readonly changed: number;
		readonly added: number;
		readonly removed: number;
		readonly derivedChanged: number;
	};
	readonly used: {
		readonly types: number;
		readonly changedTypes: number;
		/** changedTypes / types. */
		readonly changedShare: number;
		readonly sizeChanges: number;
		readonly offsetShifts: number;
		readonly renamedFields: number;
		readonly messagesRenumbered: number;
		/** Numbers that name another message in B, where either name is one the driver uses. */
		readonly messagesReassigned: number;
		readonly messagesRemoved: number;
		readonly constantsChanged: number;
		readonly incompatible: number;
	};
	/** Present when B is a package with provenance. */
	readonly subInterfaces?: {
		readonly total: number;
		readonly newImplementations: number;
		readonly reused: number;
		readonly names: readonly string[];
		/** Sub-interfaces the driver uses, and which of them needed new code. */
		readonly used: {
			readonly total: number;
			readonly newImplementations: number;
			readonly names: readonly string[];
		};
	};
}

/** The whole comparison. */
export interface AbiDiff {
	readonly a: { readonly label: string; readonly version: string | undefined };
	readonly b: { readonly label: string; readonly version: string | undefined };
	readonly messages: { readonly functions: MessageDiff; readonly events: MessageDiff };
	readonly types: {
		readonly added: readonly string[];
		readonly removed: readonly string[];
		readonly renamed: readonly TypeRename[];
		readonly changed: readonly TypeChange[];
	};
	readonly constants: {
		readonly changed: readonly ConstantChange[];
		readonly added: readonly ConstantChange[];
		readonly removed: readonly ConstantChange[];
		/** Control IDs that moved to another name (e.g. from the INTERNAL to the GPU category). */
		readonly moved: readonly ControlMove[];
	};
	/** The used closure: type names (union of both sides), and whether roots came from the packages. */
	readonly used: {
		readonly source: 'packages' | 'default';
		/** The ABI members the roots came from (`'layouts.queueElement'`, `'fifo.bind'`), union of both sides. */
		readonly members: readonly string[];
		readonly types: readonly string[];
		readonly functions: readonly string[];
		readonly events: readonly string[];
		readonly constants: readonly string[];
		readonly tables: readonly string[];
	};
	readonly subInterfaces: readonly SubInterfaceChange[] | undefined;
	readonly incompatible: readonly Incompatibility[];
	readonly summary: DiffSummary;
}

const RESERVED_FIELD = /^_*(reserved|rsvd|spare|unused|pad(ding)?)(\d|_|[A-Z]|$)/i;

/** Whether a field name marks reserved or padding space. */
export function isReservedField(name: string): boolean {
	return RESERVED_FIELD.test(name);
}

function compareMessages(
	kind: MessageKind,
	a: ReadonlyMap<string, number>,
	b: ReadonlyMap<string, number>,
	markersA: ReadonlyMap<string, number>,
	markersB: ReadonlyMap<string, number>,
	used: ReadonlySet<string>,
): MessageDiff {
	const renumbered: MessageChange[] = [];
	const added: MessageChange[] = [];
	const removed: MessageChange[] = [];
	for (const [name, ida] of a) {
		const idb = b.get(name);
		if (idb === undefined) removed.push({ kind, name, a: ida, used: used.has(name) });
		else if (idb !== ida) renumbered.push({ kind, name, a: ida, b: idb, used: used.has(name) });
	}
	for (const [name, idb] of b) if (!a.has(name)) added.push({ kind, name, b: idb, used: used.has(name) });
	const byIdA = new Map<number, string>();
	for (const [n, id] of a) if (!byIdA.has(id)) byIdA.set(id, n);
	const reassignedAll: Reassignment[] = [];
	for (const [nb, id] of b) {
		const na = byIdA.get(id);
		if (na !== undefined && na !== nb) {
			reassignedAll.push({
				kind,
				id,
				a: na,
				b: nb,
				reservedSlot: /^RESERVED/.test(na),
				used: used.has(na) || used.has(nb),
			});
		}
	}
	reassignedAll.sort((x, y) => x.id - y.id);
	const reservedSlotsNamed = reassignedAll.filter((r) => r.reservedSlot && !b.has(r.a) && !a.has(r.b));
	const slotNames = new Set(reservedSlotsNamed.flatMap((r) => [r.a, r.b]));
	const maxA = Math.max(-1, ...a.values());
	const addedReal = added.filter((m) => !slotNames.has(m.name));
	const markerNames = new Set([...markersA.keys(), ...markersB.keys()]);
	const markers = [...markerNames]
		.map((name) => ({ name, a: markersA.get(name), b: markersB.get(name) }))
		.filter((m) => m.a !== m.b);
	const byId = (x: MessageChange, y: MessageChange) => (x.a ?? x.b ?? 0) - (y.a ?? y.b ?? 0);
	return {
		countA: a.size,
		countB: b.size,
		renumbered: renumbered.sort(byId),
		reassigned: reassignedAll.filter((r) => !reservedSlotsNamed.includes(r)),
		added: addedReal.sort(byId),
		removed: removed.filter((m) => !slotNames.has(m.name)).sort(byId),
		appended: addedReal.filter((m) => (m.b ?? 0) > maxA).length,
		reservedSlotsNamed,
		markers,
	};
}

const brief = (f: ManifestField) => ({ offset: f.offset, size: f.size, type: f.type });

function compareFields(ta: ManifestType, tb: ManifestType): FieldChange[] {
	const out: FieldChange[] = [];
	const fa = new Map(ta.fields.map((f) => [f.name, f]));
	const fb = new Map(tb.fields.map((f) => [f.name, f]));
	const onlyA = ta.fields.filter((f) => !fb.has(f.name));
	const onlyB = tb.fields.filter((f) => !fa.has(f.name));
	const renamedB = new Set<string>();
	for (const f of onlyA) {
		const g = onlyB.find(
			(x) =>
				!renamedB.has(x.name) &&
				x.offset === f.offset &&
				x.size === f.size &&
				(x.bitOffset ?? -1) === (f.bitOffset ?? -1),
		);
		if (g !== undefined) {
			renamedB.add(g.name);
			out.push({
				field: f.name,
				kind: 'renamed',
				a: brief(f),
				b: brief(g),
				renamedTo: g.name,
				reserved: isReservedField(f.name),
			});
		} else out.push({ field: f.name, kind: 'removed', a: brief(f), reserved: isReservedField(f.name) });
	}
	for (const g of onlyB) {
		if (!renamedB.has(g.name))
			out.push({ field: g.name, kind: 'added', b: brief(g), reserved: isReservedField(g.name) });
	}
	for (const f of ta.fields) {
		const g = fb.get(f.name);
		if (g === undefined) continue;
		const reserved = isReservedField(f.name);
		if (f.offset !== g.offset)
			out.push({ field: f.name, kind: 'offset', a: brief(f), b: brief(g), reserved });
		else if (f.type !== g.type || f.size !== g.size)
			out.push({ field: f.name, kind: 'type', a: brief(f), b: brief(g), reserved });
		else if (f.bitOffset !== g.bitOffset || f.bitSize !== g.bitSize)
			out.push({ field: f.name, kind: 'bits', a: brief(f), b: brief(g), reserved });
	}
	return out;
}

function layoutSignature(t: ManifestType): string {
	return `${t.kind}/${t.size}/${t.align}:${t.fields.map((f) => `${f.name}@${f.offset}+${f.size}${f.bitSize === undefined ? '' : `:${f.bitOffset}.${f.bitSize}`}`).join(',')}`;
}

/**
 * Default used roots when an input is a manifest file rather than a package: the C types gspkit's ABI
 * packages bind (passed in by the loader), plus the core's neutral messages.
 */
export interface DiffOptions {
	/** Roots to use when neither model carries its own. */
	readonly defaultRoots?: {
		readonly types: readonly string[];
		readonly constants?: readonly string[];
		readonly tables?: readonly string[];
		readonly members?: readonly string[];
	};
}

/** Compare `a` (older) with `b` (newer). */
export function diffAbis(a: AbiModel, b: AbiModel, options: DiffOptions = {}): AbiDiff {
	const fromPackages = a.used !== undefined || b.used !== undefined;
	const rootTypes = fromPackages
		? [...(a.used?.types ?? []), ...(b.used?.types ?? [])]
		: [...(options.defaultRoots?.types ?? [])];
	const usedFunctions = new Set([
		...CORE_FUNCTIONS,
		...(a.used?.functions ?? []),
		...(b.used?.functions ?? []),
	]);
	const usedEvents = new Set([...CORE_EVENTS, ...(a.used?.events ?? []), ...(b.used?.events ?? [])]);
	const usedConstants = new Set(
		fromPackages
			? [...(a.used?.constants ?? []), ...(b.used?.constants ?? [])]
			: (options.defaultRoots?.constants ?? []),
	);
	const usedTables = fromPackages
		? [...(a.used?.tables ?? []), ...(b.used?.tables ?? [])]
		: [...(options.defaultRoots?.tables ?? [])];
	const usedTypes = new Set([...closure(a, rootTypes), ...closure(b, rootTypes)]);
	const derived = (name: string, group: string) =>
		!usedConstants.has(name) && inTables(usedTables, name, group);

	const functions = compareMessages(
		'function',
		a.functions,
		b.functions,
		new Map([...a.markers].filter(([n]) => n === 'NUM_FUNCTIONS')),
		new Map([...b.markers].filter(([n]) => n === 'NUM_FUNCTIONS')),
		usedFunctions,
	);
	const events = compareMessages(
		'event',
		a.events,
		b.events,
		new Map([...a.markers].filter(([n]) => n !== 'NUM_FUNCTIONS')),
		new Map([...b.markers].filter(([n]) => n !== 'NUM_FUNCTIONS')),
		usedEvents,
	);

	// Types.
	const removedTypes = [...a.types.keys()].filter((n) => !b.types.has(n)).sort();
	const addedTypes = [...b.types.keys()].filter((n) => !a.types.has(n)).sort();
	const renamedTypes: TypeRename[] = [];
	const sigB = new Map<string, string>();
	for (const n of addedTypes) sigB.set(layoutSignature(b.types.get(n)!), n);
	for (const n of removedTypes) {
		const match = sigB.get(layoutSignature(a.types.get(n)!));
		if (match !== undefined)
			renamedTypes.push({ a: n, b: match, used: usedTypes.has(n) || usedTypes.has(match) });
	}
	const changed: TypeChange[] = [];
	for (const [name, ta] of a.types) {
		const tb = b.types.get(name);
		if (tb === undefined) continue;
		const fields = compareFields(ta, tb);
		if (fields.length === 0 && ta.size === tb.size && ta.align === tb.align && ta.kind === tb.kind) continue;
		const incompatible =
			ta.size !== tb.size ||
			ta.align !== tb.align ||
			ta.kind !== tb.kind ||
			fields.some(
				(f) =>
					!f.reserved &&
					(f.kind === 'offset' || f.kind === 'type' || f.kind === 'bits' || f.kind === 'removed'),
			);
		changed.push({
			name,
			kind: tb.kind,
			sizeA: ta.size,
			sizeB: tb.size,
			alignA: ta.align,
			alignB: tb.align,
			fields,
			used: usedTypes.has(name),
			incompatible,
		});
	}
	changed.sort((x, y) => Number(y.used) - Number(x.used) || x.name.localeCompare(y.name));

	// Constants.
	const constChanged: ConstantChange[] = [];
	const constAdded: ConstantChange[] = [];
	const constRemoved: ConstantChange[] = [];
	for (const [name, ca] of a.constants) {
		const cb = b.constants.get(name);
		const base = {
			name,
			group: ca.group,
			a: ca.value,
			used: usedConstants.has(name),
			derived: derived(name, ca.group),
		};
		if (cb === undefined) constRemoved.push(base);
		else if (cb.value !== ca.value) constChanged.push({ ...base, b: cb.value });
	}
	for (const [name, cb] of b.constants) {
		if (!a.constants.has(name))
			constAdded.push({
				name,
				group: cb.group,
				b: cb.value,
				used: usedConstants.has(name),
				derived: derived(name, cb.group),
			});
	}
	// Order: values code relies on, then control/class IDs, enumerations, re-derived tables, other #defines.
	const rank = (x: ConstantChange) =>
		x.used
			? 0
			: x.group === 'control' || x.group === 'class'
				? 1
				: x.group.startsWith('enum:')
					? 2
					: x.derived
						? 3
						: 4;
	const byUsedThenName = (x: ConstantChange, y: ConstantChange) =>
		rank(x) - rank(y) || x.name.localeCompare(y.name);
	constChanged.sort(byUsedThenName);

	// Incompatibilities in the used closure.
	const incompatible: Incompatibility[] = [];
	const hexId = (n: number | undefined) => (n === undefined ? '—' : `0x${n.toString(16)}`);
	for (const d of [functions, events]) {
		for (const m of d.renumbered.filter((x) => x.used))
			incompatible.push({
				category: 'message',
				what: `${m.kind} ${m.name}`,
				detail: `renumbered ${hexId(m.a)} → ${hexId(m.b)}`,
			});
		for (const m of d.removed.filter((x) => x.used))
			incompatible.push({
				category: 'message',
				what: `${m.kind} ${m.name}`,
				detail: `removed (was ${hexId(m.a)})`,
			});
		for (const r of d.reassigned.filter((x) => x.used))
			incompatible.push({
				category: 'message',
				what: `${r.kind} ${hexId(r.id)}`,
				detail: `means ${r.b}, was ${r.a}`,
			});
	}
	for (const t of changed.filter((x) => x.used && x.incompatible)) {
		incompatible.push({
			category: 'type',
			what: t.name,
			detail: t.sizeA === t.sizeB ? `fields moved or changed (${t.sizeA} B)` : `size ${t.sizeA} → ${t.sizeB}`,
		});
	}
	for (const n of removedTypes.filter((x) => usedTypes.has(x)))
		incompatible.push({ category: 'type', what: n, detail: 'removed' });
	const moved = controlMoves(constRemoved, constAdded);
	for (const c of [...constChanged, ...constRemoved].filter((x) => x.used)) {
		const mv = moved.find((m) => m.a === c.name);
		const detail =
			c.b !== undefined
				? `${c.a} → ${c.b}`
				: mv !== undefined
					? `moved to ${mv.b} (0x${BigInt(mv.valueB).toString(16)})`
					: 'removed';
		incompatible.push({ category: 'constant', what: c.name, detail });
	}

	// Sub-interfaces.
	let subInterfaces: SubInterfaceChange[] | undefined;
	if (b.subInterfaces !== undefined) {
		const changedNames = new Set([...changed.map((t) => t.name), ...addedTypes, ...removedTypes]);
		subInterfaces = b.subInterfaces.map((s) => {
			const prev = a.subInterfaces?.find((x) => x.name === s.name);
			return {
				name: s.name,
				usedMembers: [...new Set([...s.used, ...(prev?.used ?? [])])].sort(),
				implementedByA: prev?.implementedBy,
				implementedByB: s.implementedBy,
				newImplementation:
					prev === undefined ? s.implementedBy === b.packageName : s.implementedBy !== prev.implementedBy,
				changedTypes: [
					...new Set([...closure(b, s.types), ...(prev === undefined ? [] : closure(a, prev.types))]),
				]
					.filter((t) => changedNames.has(t))
					.sort(),
			};
		});
	}

	const usedChanged = [...usedTypes].filter(
		(n) => changed.some((t) => t.name === n) || !a.types.has(n) || !b.types.has(n),
	);
	const fieldCount = (ts: readonly TypeChange[], k: FieldChange['kind']) =>
		ts.reduce((s, t) => s + t.fields.filter((f) => f.kind === k).length, 0);
	const usedChangedTypes = changed.filter((t) => t.used);
	const msgSummary = (d: MessageDiff) => ({
		a: d.countA,
		b: d.countB,
		added: d.added.length,
		appended: d.appended,
		removed: d.removed.length,
		renumbered: d.renumbered.length,
		reassigned: d.reassigned.length,
	});
	const summary: DiffSummary = {
		functions: msgSummary(functions),
		events: msgSummary(events),
		types: {
			a: a.types.size,
			b: b.types.size,
			added: addedTypes.length,
			removed: removedTypes.length,
			renamed: renamedTypes.length,
			changed: changed.length,
			sizeChanges: changed.filter((t) => t.sizeA !== t.sizeB).length,
			offsetShifts: fieldCount(changed, 'offset'),
			renamedFields: fieldCount(changed, 'renamed'),
		},
		constants: {
			changed: constChanged.length,
			added: constAdded.length,
			removed: constRemoved.length,
			derivedChanged: [...constChanged, ...constRemoved, ...constAdded].filter((c) => c.derived).length,
		},
		used: {
			types: usedTypes.size,
			changedTypes: usedChanged.length,
			changedShare: usedTypes.size === 0 ? 0 : usedChanged.length / usedTypes.size,
			sizeChanges: usedChangedTypes.filter((t) => t.sizeA !== t.sizeB).length,
			offsetShifts: fieldCount(usedChangedTypes, 'offset'),
			renamedFields: fieldCount(usedChangedTypes, 'renamed'),
			messagesRenumbered: [...functions.renumbered, ...events.renumbered].filter((m) => m.used).length,
			messagesReassigned: [...functions.reassigned, ...events.reassigned].filter((r) => r.used).length,
			messagesRemoved: [...functions.removed, ...events.removed].filter((m) => m.used).length,
			constantsChanged: [...constChanged, ...constRemoved].filter((c) => c.used).length,
			incompatible: incompatible.length,
		},
		...(subInterfaces === undefined
			? {}
			: {
					subInterfaces: {
						total: subInterfaces.length,
						newImplementations: subInterfaces.filter((s) => s.newImplementation).length,
						reused: subInterfaces.filter((s) => !s.newImplementation).length,
						names: subInterfaces.filter((s) => s.newImplementation).map((s) => s.name),
						used: {
							total: subInterfaces.filter((s) => s.usedMembers.length > 0).length,
							newImplementations: subInterfaces.filter((s) => s.usedMembers.length > 0 && s.newImplementation)
								.length,
							names: subInterfaces
								.filter((s) => s.usedMembers.length > 0 && s.newImplementation)
								.map((s) => s.name),
						},
					},
				}),
	};

	return {
		a: { label: a.label, version: a.version },
		b: { label: b.label, version: b.version },
		messages: { functions, events },
		types: { added: addedTypes, removed: removedTypes, renamed: renamedTypes, changed },
		constants: {
			changed: constChanged,
			added: constAdded.sort(byUsedThenName),
			removed: constRemoved.sort(byUsedThenName),
			moved,
		},
		used: {
			source: fromPackages ? 'packages' : 'default',
			members: fromPackages
				? [...new Set([...(a.used?.members ?? []), ...(b.used?.members ?? [])])].sort()
				: [...(options.defaultRoots?.members ?? [])],
			types: [...usedTypes].sort(),
			functions: [...usedFunctions].sort(),
			events: [...usedEvents].sort(),
			constants: [...usedConstants].sort(),
			tables: [...new Set(usedTables)].sort(),
		},
		subInterfaces,
		incompatible,
		summary,
	};
}
