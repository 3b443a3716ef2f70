/**
 * Rendering an {@link AbiDiff} for a terminal (cli-table3 tables, picocolors) — renumbered messages first.
 *
 * @module
 */

import Table from 'cli-table3';
import pc from 'picocolors';
import type { AbiDiff, FieldChange, MessageChange, Reassignment, TypeChange } from './diff.ts';

/** Rendering options. */
export interface ReportOptions {
	/** Colours (default off). */
	readonly color?: boolean;
	/** Show the whole ABI, not just the used closure, in the per-item tables. */
	readonly all?: boolean;
	/** Rows per table before "… N more" (default 30). */
	readonly limit?: number;
}

type Colors = ReturnType<typeof pc.createColors>;

const hex = (n: number | undefined) => (n === undefined ? '—' : `0x${n.toString(16)}`);
const signed = (n: number) => (n > 0 ? `+${n}` : n < 0 ? `−${-n}` : '0');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function table(head: string[], c: Colors): Table.Table {
	return new Table({
		head: head.map((h) => c.bold(h)),
		style: { head: [], border: [] },
		wordWrap: false,
	});
}

function limited<T>(rows: readonly T[], limit: number): { shown: readonly T[]; more: number } {
	return { shown: rows.slice(0, limit), more: Math.max(0, rows.length - limit) };
}

function section(out: string[], c: Colors, title: string, note?: string): void {
	out.push('', c.bold(c.underline(title)) + (note === undefined ? '' : c.dim(`  ${note}`)));
}

/** The terminal report. */
export function renderReport(d: AbiDiff, options: ReportOptions = {}): string {
	const c = pc.createColors(options.color === true);
	const limit = options.limit ?? 30;
	const all = options.all === true;
	const used = (u: boolean) => (u ? c.yellow('used') : '');
	const usage = (x: { used: boolean; derived: boolean }) =>
		x.used ? c.yellow('used') : x.derived ? c.cyan('derived') : '';
	const out: string[] = [];
	const name = (s: { label: string; version: string | undefined }) =>
		`${s.label}${s.version === undefined ? '' : ` (${s.version})`}`;
	out.push(c.bold(`abi-diff ${name(d.a)} → ${name(d.b)}`));
	out.push(
		c.dim(
			`used closure: ${d.summary.used.types} types reachable from ${d.used.source === 'packages' ? "the packages' codecs and sub-interfaces" : "gspkit's default roots"}`,
		),
	);

	// 1. Renumbered messages.
	const renumbered: MessageChange[] = [...d.messages.functions.renumbered, ...d.messages.events.renumbered];
	section(out, c, c.red('Renumbered messages'), 'same name, new number — silent and dangerous');
	if (renumbered.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['kind', 'name', 'A', 'B', 'Δ', ''], c);
		for (const m of renumbered)
			t.push([m.kind, m.name, hex(m.a), hex(m.b), signed((m.b ?? 0) - (m.a ?? 0)), used(m.used)]);
		out.push(t.toString());
	}
	const reassigned: Reassignment[] = [...d.messages.functions.reassigned, ...d.messages.events.reassigned];
	section(out, c, c.red('Numbers that changed meaning'), 'old code receiving this number would misread it');
	if (reassigned.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['kind', 'number', 'in A', 'in B', ''], c);
		for (const r of reassigned) t.push([r.kind, hex(r.id), r.a, r.b, used(r.used)]);
		out.push(t.toString());
	}

	// 2. Added / removed messages.
	section(out, c, 'Messages added and removed');
	for (const [kind, m] of [
		['functions', d.messages.functions],
		['events', d.messages.events],
	] as const) {
		const parts = [
			`${m.countA} → ${m.countB}`,
			`${c.green(`+${m.added.length}`)}${m.appended > 0 ? ` (${m.appended} appended)` : ''}`,
			`${m.removed.length > 0 ? c.red(`−${m.removed.length}`) : '−0'} removed`,
			`${m.renumbered.length} renumbered`,
		];
		if (m.reservedSlotsNamed.length > 0) {
			parts.push(
				`reserved slot${m.reservedSlotsNamed.length > 1 ? 's' : ''} named: ${m.reservedSlotsNamed.map((r) => `${r.id} ${r.a} → ${r.b}`).join(', ')}`,
			);
		}
		for (const mk of m.markers) parts.push(`${mk.name} ${hex(mk.a)} → ${hex(mk.b)}`);
		out.push(`  ${kind}: ${parts.join('; ')}`);
		if (m.removed.length > 0)
			out.push(
				`    removed: ${m.removed.map((x) => `${x.name} (${hex(x.a)})${x.used ? ` ${used(true)}` : ''}`).join(', ')}`,
			);
		if (m.added.length > 0) {
			const { shown, more } = limited(m.added, all ? Number.POSITIVE_INFINITY : 12);
			out.push(
				`    added: ${shown.map((x) => `${x.name} (${hex(x.b)})`).join(', ')}${more > 0 ? c.dim(` … ${more} more`) : ''}`,
			);
		}
	}

	// 3. Types.
	const changed = d.types.changed.filter((t) => all || t.used);
	const sized = changed.filter((t) => t.sizeA !== t.sizeB);
	section(out, c, 'Size changes', all ? 'whole ABI' : 'used closure (--all for every type)');
	if (sized.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'A', 'B', 'Δ', ''], c);
		const { shown, more } = limited(sized, limit);
		for (const x of shown)
			t.push([x.name, String(x.sizeA), String(x.sizeB), signed(x.sizeB - x.sizeA), used(x.used)]);
		out.push(t.toString());
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	const fieldRows = (kind: FieldChange['kind']) =>
		changed.flatMap((t: TypeChange) => t.fields.filter((f) => f.kind === kind).map((f) => ({ t, f })));
	const shifts = fieldRows('offset');
	section(out, c, 'Field offset shifts', all ? 'whole ABI' : 'used closure');
	if (shifts.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'field', 'A', 'B', 'Δ'], c);
		const { shown, more } = limited(shifts, limit);
		for (const { t: ty, f } of shown)
			t.push([ty.name, f.field, String(f.a!.offset), String(f.b!.offset), signed(f.b!.offset - f.a!.offset)]);
		out.push(t.toString());
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	const typeChanges = [
		...fieldRows('type'),
		...fieldRows('bits'),
		...fieldRows('removed'),
		...fieldRows('added'),
	];
	section(out, c, 'Fields added, removed or retyped', all ? 'whole ABI' : 'used closure');
	if (typeChanges.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'field', 'change', 'A', 'B'], c);
		const { shown, more } = limited(typeChanges, limit);
		const at = (x: FieldChange['a']) => (x === undefined ? '—' : `${x.type} @${x.offset}, ${x.size} B`);
		for (const { t: ty, f } of shown)
			t.push([ty.name, f.field, f.kind + (f.reserved ? c.dim(' (reserved)') : ''), at(f.a), at(f.b)]);
		out.push(t.toString());
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	const renames = fieldRows('renamed');
	section(out, c, 'Renamed fields', 'same offset and size');
	if (renames.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'A name', 'B name', 'offset', 'size'], c);
		for (const { t: ty, f } of renames)
			t.push([ty.name, f.field, f.renamedTo!, String(f.a!.offset), String(f.a!.size)]);
		out.push(t.toString());
	}
	section(out, c, 'Types added and removed');
	out.push(
		`  added ${d.types.added.length}, removed ${d.types.removed.length}, renamed (same layout) ${d.types.renamed.length}`,
	);
	for (const r of d.types.renamed) out.push(`    renamed: ${r.a} → ${r.b}${r.used ? ` ${used(true)}` : ''}`);
	const usedSet = new Set(d.used.types);
	const showTypes = (list: readonly string[]) => {
		const l = all ? list : list.filter((n) => usedSet.has(n));
		return l.length === 0 ? c.dim('(none used)') : l.join(', ');
	};
	out.push(`    removed${all ? '' : ' (used)'}: ${showTypes(d.types.removed)}`);
	out.push(`    added${all ? '' : ' (used)'}: ${showTypes(d.types.added)}`);

	// 4. Constants.
	// Re-derived #define tables (MC_ENGINE_IDX_*) are summarised in one line unless --all.
	const consts = d.constants.changed.filter((x) => all || x.used || x.group !== 'define');
	section(
		out,
		c,
		'Constant changes',
		all
			? 'whole ABI'
			: 'used = a sub-interface relies on the value; derived = re-read per branch (--all for every #define)',
	);
	if (consts.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['name', 'group', 'A', 'B', ''], c);
		const { shown, more } = limited(consts, limit);
		const fmt = (v: string | undefined) =>
			v === undefined ? '—' : /^\d+$/.test(v) && BigInt(v) > 9n ? `0x${BigInt(v).toString(16)}` : v;
		for (const x of shown) t.push([x.name, x.group, fmt(x.a), fmt(x.b), usage(x)]);
		out.push(t.toString());
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	out.push(
		`  constants: ${d.constants.changed.length} changed (${d.summary.constants.derivedChanged} changes in derived tables: ${d.used.tables.join(', ')}), ${d.constants.added.length} added, ${d.constants.removed.length} removed`,
	);
	for (const m of d.constants.moved) {
		const h = (v: string) => `0x${BigInt(v).toString(16)}`;
		out.push(
			`    control moved: ${m.a} ${h(m.valueA)} → ${m.b} ${h(m.valueB)}${m.used ? ` ${used(true)}` : ''}`,
		);
	}
	const usedRemoved = d.constants.removed.filter(
		(x) => x.used && !d.constants.moved.some((m) => m.a === x.name),
	);
	if (usedRemoved.length > 0) out.push(`    removed (used): ${usedRemoved.map((x) => x.name).join(', ')}`);

	// 5. Sub-interfaces.
	if (d.subInterfaces !== undefined) {
		section(out, c, 'Sub-interfaces', 'which needed a new implementation');
		const t = table(['sub-interface', 'A code', 'B code', 'new code', 'changed types it binds'], c);
		for (const s of d.subInterfaces) {
			t.push([
				s.name,
				s.implementedByA ?? '—',
				s.implementedByB,
				s.newImplementation ? c.yellow('yes') : 'reused',
				s.changedTypes.length <= 3
					? s.changedTypes.join(', ')
					: `${s.changedTypes.slice(0, 3).join(', ')} +${s.changedTypes.length - 3}`,
			]);
		}
		out.push(t.toString());
	}

	// 6. Summary.
	section(out, c, 'Summary');
	const s = d.summary;
	const t = table(['metric', 'whole ABI', 'used closure'], c);
	t.push([
		'functions (A → B)',
		`${s.functions.a} → ${s.functions.b}: +${s.functions.added} (${s.functions.appended} appended), −${s.functions.removed}`,
		'',
	]);
	t.push(['events (A → B)', `${s.events.a} → ${s.events.b}: +${s.events.added}, −${s.events.removed}`, '']);
	t.push([
		'messages renumbered',
		String(s.functions.renumbered + s.events.renumbered),
		String(s.used.messagesRenumbered),
	]);
	t.push(['numbers that changed meaning', String(s.functions.reassigned + s.events.reassigned), '']);
	t.push([
		'types (A → B)',
		`${s.types.a} → ${s.types.b}: +${s.types.added}, −${s.types.removed}`,
		String(s.used.types),
	]);
	t.push([
		'types changed',
		String(s.types.changed),
		`${s.used.changedTypes} (${pct(s.used.changedShare)} of used)`,
	]);
	t.push(['size changes', String(s.types.sizeChanges), String(s.used.sizeChanges)]);
	t.push(['field offset shifts', String(s.types.offsetShifts), String(s.used.offsetShifts)]);
	t.push(['renamed fields', String(s.types.renamedFields), String(s.used.renamedFields)]);
	t.push([
		'constants changed / added / removed',
		`${s.constants.changed} / ${s.constants.added} / ${s.constants.removed}`,
		String(s.used.constantsChanged),
	]);
	if (s.subInterfaces !== undefined) {
		t.push([
			'sub-interfaces with new code',
			`${s.subInterfaces.newImplementations} of ${s.subInterfaces.total} (${s.subInterfaces.names.join(', ') || 'none'})`,
			`${s.subInterfaces.reused} reused`,
		]);
	}
	t.push([
		'incompatible changes',
		'',
		s.used.incompatible === 0 ? c.green('0') : c.red(String(s.used.incompatible)),
	]);
	out.push(t.toString());
	return `${out.join('\n')}\n`;
}

/** The `--check` verdict lines. */
export function renderCheck(d: AbiDiff, color = false): string {
	const c = pc.createColors(color);
	if (d.incompatible.length === 0)
		return `${c.green('check passed')}: no incompatible change in the used closure\n`;
	const lines = d.incompatible.map((i) => `  ${i.category} ${i.what}: ${i.detail}`);
	return `${c.red('check failed')}: ${d.incompatible.length} incompatible change${d.incompatible.length === 1 ? '' : 's'} in the used closure\n${lines.join('\n')}\n`;
}
