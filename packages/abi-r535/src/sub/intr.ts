/**
 * `intr`: the kernel interrupt table GSP-RM reports after boot, with `MC_ENGINE_IDX_*` translated to
 * engines from the branch's own numbering (r570 moved GSP 49 → 50 and GR0 82 → 84).
 *
 * @module
 */

import type { IntrApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { engineTables } from '../engines.ts';
import { INTR_GET_KERNEL_TABLE } from '../specs.ts';
import { controlCall, R535_PACKAGE } from '../util.ts';

/** Build the `intr` sub-interface on `ctx`'s layouts. */
export function createIntrApi(ctx: AbiContext): IntrApi {
	return ctx.build('intr', R535_PACKAGE, 'createIntrApi', () => {
		const engines = engineTables(ctx);
		return ctx.members({
			getKernelTable: () => {
				const layout = ctx.bind(INTR_GET_KERNEL_TABLE);
				const cmd = ctx.constant('NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE');
				return () =>
					controlCall('NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE', cmd, layout, {}, (v) => ({
						entries: v.table.slice(0, Math.min(v.tableLen, v.table.length)).map((e) => ({
							engineIdx: e.engineIdx,
							engine: engines.mc.get(e.engineIdx),
							pmcIntrMask: e.pmcIntrMask,
							vectorStall: e.vectorStall,
							vectorNonStall: e.vectorNonStall,
						})),
						subtrees: v.subtreeMap.map((s) => ({ start: s.subtreeStart, end: s.subtreeEnd })),
					}));
			},
			engineFromMcIndex: () => (idx: number) => engines.mc.get(idx),
		});
	});
}
