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
	/** Terminal width the tables must fit (default 120); wide cells wrap onto more lines. */
	readonly width?: number;
}

/** The width reports fit when the output is not a terminal. */
export const DEFAULT_REPORT_WIDTH = 120;

type Colors = ReturnType<typeof pc.createColors>;

const hex = (n: number | undefined) => (n === undefined ? '—' : `0x${n.toString(16)}`);
const signed = (n: number) => (n > 0 ? `+${n}` : n < 0 ? `−${-n}` : '0');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour sequences
const ANSI = /\u001b\[[0-9;]*m/g;
/** Printed width of a cell line (colour codes take no room). */
const visible = (s: string) => s.replace(ANSI, '').length;
/** Narrowest a wrapped column gets. */
const MIN_COLUMN = 8;

/**
 * Break `text` into lines of at most `width` characters: after a comma or space where possible, else after
 * `_`, `/`, `-` or `.` inside a long identifier, else inside the word. Coloured text is left alone (it is short:
 * labels like `used`).
 */
export function wrapCell(text: string, width: number): string {
	if (width < 1 || text.includes('\u001b')) return text;
	const out: string[] = [];
	for (const para of text.split('\n')) {
		let rest = para;
		while (rest.length > width) {
			const window = rest.slice(0, width + 1);
			// Break after the last comma that fits, or at the last space; inside the word if neither exists.
			const comma = window.slice(0, width).lastIndexOf(',') + 1;
			const space = window.lastIndexOf(' ');
			// A C identifier or package name breaks after `_`, `/`, `-` or `.` rather than mid-word.
			const head = window.slice(0, width);
			const joint = Math.max(...['_', '/', '-', '.'].map((ch) => head.lastIndexOf(ch))) + 1;
			const cut = Math.max(comma, space) > 0 ? Math.max(comma, space) : joint > width / 3 ? joint : 0;
			if (cut > 0) {
				out.push(rest.slice(0, cut).trimEnd());
				rest = rest.slice(cut).trimStart();
			} else {
				out.push(rest.slice(0, width));
				rest = rest.slice(width);
			}
		}
		out.push(rest);
	}
	return out.join('\n');
}

/**
 * A prose line wrapped at spaces to `width` (colour codes take no room); continuation lines are indented two
 * more than the line's own indentation. A single word longer than the width stays whole.
 */
export function wrapProse(line: string, width: number): string {
	if (visible(line) <= width) return line;
	const indent = /^ */.exec(line)![0];
	const hang = `${indent}  `;
	const words = line.slice(indent.length).split(' ');
	const lines: string[] = [];
	let cur = indent;
	for (const w of words) {
		const atStart = cur.trim() === '';
		if (!atStart && visible(cur) + 1 + visible(w) > width) {
			lines.push(cur);
			cur = hang + w;
		} else cur = atStart ? cur + w : `${cur} ${w}`;
	}
	lines.push(cur);
	return lines.join('\n');
}

/** Longest run a cell line cannot be broken in (split at spaces and after commas). */
const longestWord = (cell: string) => Math.max(0, ...cell.split(/[\s\n]+|(?<=,)/).map((w) => visible(w)));

/** Widest a column may stay unbroken when the table must shrink (labels, numbers, package names). */
const KEEP_WHOLE = 24;

/**
 * Column widths for cells `rows` (header first) so the table fits `width` terminal columns. Columns keep their
 * natural width when everything fits. Otherwise the widest columns are capped at one shared limit; a column
 * whose longest word is short (≤ 24) is not capped below that word, so labels and numbers stay whole while long
 * lists and identifiers wrap. If even that cannot fit, every column may go down to 8.
 */
export function fitColumns(rows: readonly (readonly string[])[], width: number): number[] {
	const n = Math.max(0, ...rows.map((r) => r.length));
	const col = (i: number) => rows.map((r) => r[i] ?? '');
	const natural = Array.from({ length: n }, (_, i) =>
		Math.max(1, ...col(i).map((c) => Math.max(0, ...c.split('\n').map(visible)))),
	);
	// cli-table3: one space of padding each side and a border between and around columns.
	const budget = width - (3 * n + 1);
	const sum = (ws: readonly number[]) => ws.reduce((a, b) => a + b, 0);
	if (sum(natural) <= budget) return natural;
	const fill = (floors: readonly number[]) => {
		const at = (cap: number) => natural.map((w, i) => Math.max(floors[i]!, Math.min(w, cap)));
		let lo = 1;
		let hi = Math.max(...natural);
		while (lo < hi) {
			const cap = Math.ceil((lo + hi) / 2);
			if (sum(at(cap)) <= budget) lo = cap;
			else hi = cap - 1;
		}
		return at(lo);
	};
	const words = natural.map((w, i) => {
		const word = Math.max(...col(i).map(longestWord));
		return Math.min(w, word <= KEEP_WHOLE ? Math.max(word, MIN_COLUMN) : MIN_COLUMN);
	});
	if (sum(words) <= budget) return fill(words);
	return fill(natural.map((w) => Math.min(w, MIN_COLUMN)));
}

/** A table whose rows are collected first, then laid out to fit the report width. */
class FitTable {
	readonly #head: string[];
	readonly #rows: string[][] = [];

	constructor(head: string[]) {
		this.#head = head;
	}

	push(row: string[]): void {
		this.#rows.push(row);
	}

	render(c: Colors, width: number): string {
		const widths = fitColumns([this.#head, ...this.#rows], width);
		const t = new Table({
			head: this.#head.map((h, i) => c.bold(wrapCell(h, widths[i]!))),
			style: { head: [], border: [] },
			wordWrap: false,
		});
		for (const r of this.#rows) t.push(r.map((cell, i) => wrapCell(cell, widths[i]!)));
		return t.toString();
	}
}

function table(head: string[]): FitTable {
	return new FitTable(head);
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
	const width = options.width ?? DEFAULT_REPORT_WIDTH;
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
			`used closure: ${d.summary.used.types} types reachable from the ${d.used.members.length} ABI members gspkit's driver uses (core, gsp-rpc, falcon-boot, channel-sched)${d.used.source === 'packages' ? '' : ", as bound by gspkit's installed ABI packages"}`,
		),
	);

	// 1. Renumbered messages.
	const renumbered: MessageChange[] = [...d.messages.functions.renumbered, ...d.messages.events.renumbered];
	section(out, c, c.red('Renumbered messages'), 'same name, new number — silent and dangerous');
	if (renumbered.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['kind', 'name', 'A', 'B', 'Δ', '']);
		for (const m of renumbered)
			t.push([m.kind, m.name, hex(m.a), hex(m.b), signed((m.b ?? 0) - (m.a ?? 0)), used(m.used)]);
		out.push(t.render(c, width));
	}
	const reassigned: Reassignment[] = [...d.messages.functions.reassigned, ...d.messages.events.reassigned];
	section(out, c, c.red('Numbers that changed meaning'), 'old code receiving this number would misread it');
	if (reassigned.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['kind', 'number', 'in A', 'in B', '']);
		for (const r of reassigned) t.push([r.kind, hex(r.id), r.a, r.b, used(r.used)]);
		out.push(t.render(c, width));
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
		const t = table(['type', 'A', 'B', 'Δ', '']);
		const { shown, more } = limited(sized, limit);
		for (const x of shown)
			t.push([x.name, String(x.sizeA), String(x.sizeB), signed(x.sizeB - x.sizeA), used(x.used)]);
		out.push(t.render(c, width));
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	const fieldRows = (kind: FieldChange['kind']) =>
		changed.flatMap((t: TypeChange) => t.fields.filter((f) => f.kind === kind).map((f) => ({ t, f })));
	const shifts = fieldRows('offset');
	section(out, c, 'Field offset shifts', all ? 'whole ABI' : 'used closure');
	if (shifts.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'field', 'A', 'B', 'Δ']);
		const { shown, more } = limited(shifts, limit);
		for (const { t: ty, f } of shown)
			t.push([ty.name, f.field, String(f.a!.offset), String(f.b!.offset), signed(f.b!.offset - f.a!.offset)]);
		out.push(t.render(c, width));
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
		const t = table(['type', 'field', 'change', 'A', 'B']);
		const { shown, more } = limited(typeChanges, limit);
		const at = (x: FieldChange['a']) => (x === undefined ? '—' : `${x.type} @${x.offset}, ${x.size} B`);
		for (const { t: ty, f } of shown)
			t.push([ty.name, f.field, f.kind + (f.reserved ? c.dim(' (reserved)') : ''), at(f.a), at(f.b)]);
		out.push(t.render(c, width));
		if (more > 0) out.push(c.dim(`  … ${more} more`));
	}
	const renames = fieldRows('renamed');
	section(out, c, 'Renamed fields', 'same offset and size');
	if (renames.length === 0) out.push(c.green('  none'));
	else {
		const t = table(['type', 'A name', 'B name', 'offset', 'size']);
		for (const { t: ty, f } of renames)
			t.push([ty.name, f.field, f.renamedTo!, String(f.a!.offset), String(f.a!.size)]);
		out.push(t.render(c, width));
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
		const t = table(['name', 'group', 'A', 'B', '']);
		const { shown, more } = limited(consts, limit);
		const fmt = (v: string | undefined) =>
			v === undefined ? '—' : /^\d+$/.test(v) && BigInt(v) > 9n ? `0x${BigInt(v).toString(16)}` : v;
		for (const x of shown) t.push([x.name, x.group, fmt(x.a), fmt(x.b), usage(x)]);
		out.push(t.render(c, width));
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
		const t = table([
			'sub-interface',
			'A code',
			'B code',
			'new code',
			'driver uses',
			'changed types it binds',
		]);
		for (const s of d.subInterfaces) {
			t.push([
				s.name,
				s.implementedByA ?? '—',
				s.implementedByB,
				s.newImplementation ? c.yellow('yes') : 'reused',
				s.usedMembers.length === 0
					? c.dim('—')
					: `${s.usedMembers.length} member${s.usedMembers.length === 1 ? '' : 's'}`,
				s.changedTypes.join(', '),
			]);
		}
		out.push(t.render(c, width));
	}

	// 6. Summary.
	section(out, c, 'Summary');
	const s = d.summary;
	const t = table(['metric', 'whole ABI', 'used closure']);
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
	t.push([
		'numbers that changed meaning',
		String(s.functions.reassigned + s.events.reassigned),
		String(s.used.messagesReassigned),
	]);
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
			`${s.subInterfaces.used.newImplementations} of ${s.subInterfaces.used.total} used (${s.subInterfaces.used.names.join(', ') || 'none'})`,
		]);
	}
	t.push([
		'incompatible changes',
		'',
		s.used.incompatible === 0 ? c.green('0') : c.red(String(s.used.incompatible)),
	]);
	out.push(t.render(c, width));
	// Tables were laid out to the width already; prose lines wrap here.
	return `${out.map((l) => (l.includes('\n') ? l : wrapProse(l, width))).join('\n')}\n`;
}

/** The `--check` verdict lines. */
export function renderCheck(d: AbiDiff, color = false): string {
	const c = pc.createColors(color);
	if (d.incompatible.length === 0)
		return `${c.green('check passed')}: no incompatible change in the used closure\n`;
	const lines = d.incompatible.map((i) => `  ${i.category} ${i.what}: ${i.detail}`);
	return `${c.red('check failed')}: ${d.incompatible.length} incompatible change${d.incompatible.length === 1 ? '' : 's'} in the used closure\n${lines.join('\n')}\n`;
}
