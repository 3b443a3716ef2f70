/**
 * Engine identities from the branch's own enumerations. RM numbers engines twice — `RM_ENGINE_TYPE_*`
 * (channels, device info) and `MC_ENGINE_IDX_*` (interrupts) — and r570 renumbered both (COPY10–19
 * inserted, NVENC3 and OFA1 added; GSP 49 → 50, GR0 82 → 84). nouveau rewrites a `switch` per branch;
 * here the mapping is derived from the names in the branch's manifest, so one function serves both.
 *
 * @module
 */

import { AbiError } from '@gspkit/abi';
import type { EngineId } from './api.ts';
import type { AbiContext } from './context.ts';

type Rule = readonly [RegExp, EngineId['kind']];

/** `RM_ENGINE_TYPE_<name>` → engine kind (instance from the trailing digits, 0 when none). */
const RM_RULES: readonly Rule[] = [
	[/^GR(\d+)$/, 'gr'],
	[/^COPY(\d+)$/, 'ce'],
	[/^NVDEC(\d+)$/, 'nvdec'],
	[/^NVENC(\d+)$/, 'nvenc'],
	[/^NVJPEG(\d+)$/, 'nvjpg'],
	[/^OFA(\d*)$/, 'ofa'],
	[/^SEC2$/, 'sec2'],
	[/^SW$/, 'sw'],
];

/** `MC_ENGINE_IDX_<name>` → engine kind (r535 spells NVENC `MSENC`). */
const MC_RULES: readonly Rule[] = [
	[/^GR(\d*)$/, 'gr'],
	[/^CE(\d+)$/, 'ce'],
	[/^NVDEC(\d*)$/, 'nvdec'],
	[/^(?:NVENC|MSENC)(\d*)$/, 'nvenc'],
	[/^NVJPEG(\d*)$/, 'nvjpg'],
	[/^OFA(\d+)$/, 'ofa'],
	[/^SEC2$/, 'sec2'],
	[/^GSP$/, 'gsp'],
	[/^DISP$/, 'disp'],
];

function classify(name: string, rules: readonly Rule[]): EngineId | undefined {
	if (name === 'DISP_LOW') return rules === MC_RULES ? { kind: 'disp', instance: 1 } : undefined;
	for (const [re, kind] of rules) {
		const m = re.exec(name);
		if (m !== null) return { kind, instance: m[1] === undefined || m[1] === '' ? 0 : Number(m[1]) };
	}
	return undefined;
}

function table(
	ctx: AbiContext,
	entries: Iterable<readonly [string, bigint]>,
	prefix: string,
	rules: readonly Rule[],
): Map<number, EngineId> {
	const out = new Map<number, EngineId>();
	for (const [full, v] of entries) {
		const id = classify(full.slice(prefix.length), rules);
		if (id === undefined) continue;
		const n = Number(v);
		const prev = out.get(n);
		if (prev !== undefined && (prev.kind !== id.kind || prev.instance !== id.instance)) {
			throw new AbiError(
				'ABI_DEFINITION',
				`ABI ${ctx.version}: ${full} = ${n} is also ${prev.kind}${prev.instance}`,
				{
					version: ctx.version,
					constant: full,
				},
			);
		}
		out.set(n, Object.freeze(id));
	}
	return out;
}

const NV2080_STEM: Readonly<Record<EngineId['kind'], string>> = {
	gr: 'GR',
	ce: 'COPY',
	nvdec: 'NVDEC',
	nvenc: 'NVENC',
	nvjpg: 'NVJPEG',
	ofa: 'OFA',
	sec2: 'SEC2',
	sw: 'SW',
	gsp: 'GSP',
	disp: 'DISP',
};

/** The engine tables of one branch. */
export interface EngineTables {
	/** `RM_ENGINE_TYPE` value → engine. */
	readonly rm: ReadonlyMap<number, EngineId>;
	/** `MC_ENGINE_IDX` value → engine. */
	readonly mc: ReadonlyMap<number, EngineId>;
	/** Engine → `NV2080_ENGINE_TYPE_*` (throws `ABI_VALUE_RANGE` if the branch has no such engine). */
	nv2080(engine: EngineId): number;
}

/** Derive the engine tables from `ctx`'s constants (recorded as tables the caller re-derives per branch). */
export function engineTables(ctx: AbiContext): EngineTables {
	const rm = table(ctx, ctx.group('enum:RM_ENGINE_TYPE'), 'RM_ENGINE_TYPE_', RM_RULES);
	const mc = table(ctx, ctx.prefixed('MC_ENGINE_IDX_'), 'MC_ENGINE_IDX_', MC_RULES);
	const nv2080Types = ctx.prefixed('NV2080_ENGINE_TYPE_');
	return {
		rm,
		mc,
		nv2080(engine: EngineId): number {
			const stem = `NV2080_ENGINE_TYPE_${NV2080_STEM[engine.kind]}`;
			const names = engine.kind === 'sec2' || engine.kind === 'sw' ? [stem] : [`${stem}${engine.instance}`];
			if (engine.instance === 0) names.push(stem);
			for (const n of names) {
				const v = nv2080Types.get(n);
				if (v !== undefined) return Number(v);
			}
			throw new AbiError(
				'ABI_VALUE_RANGE',
				`ABI ${ctx.version} has no NV2080 engine type for ${engine.kind}${engine.instance}`,
				{
					version: ctx.version,
					engine,
				},
			);
		},
	};
}
