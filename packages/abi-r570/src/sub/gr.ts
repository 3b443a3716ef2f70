/**
 * r570's `gr`: static info no longer carries GPC/TPC data, so the topology is queried with
 * `NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO` and one `…_TPC_INFO` per present GPC (nouveau
 * `r570_gr_gpc_mask`/`r570_gr_tpc_mask`), through the `rmControl` the core injects.
 *
 * @module
 */

import { decode } from '@gspkit/abi';
import { type AbiContext, build, contextBuffersControl, type GrApi, specs, topology } from '@gspkit/abi-r535';
import { GR_GET_CONTEXT_BUFFERS_INFO_R570 } from '../specs.ts';
import { R570_PACKAGE } from '../util.ts';

/** Build r570's `gr` sub-interface. */
export function createGrApi(ctx: AbiContext): GrApi {
	return ctx.build('gr', R570_PACKAGE, 'createGrApi', () => {
		const controls = () => {
			const gpcLayout = ctx.bind(specs.GPC_INFO);
			const tpcLayout = ctx.bind(specs.TPC_INFO);
			return {
				gpc: {
					name: 'NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO',
					cmd: ctx.constant('NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO'),
					params: gpcLayout,
				},
				tpc: {
					name: 'NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO',
					cmd: ctx.constant('NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO'),
					params: tpcLayout,
				},
			};
		};
		return {
			topologySource: 'controls' as const,
			...ctx.members({
				topologyControls: () => {
					const { gpc, tpc } = controls();
					return Object.freeze([Object.freeze(gpc), Object.freeze(tpc)]);
				},
				queryTopology: () => {
					const { gpc, tpc } = controls();
					return async ({ rmControl }: Parameters<GrApi['queryTopology']>[0]) => {
						const gpcReply = await rmControl(gpc.cmd, build(gpc.params, {}));
						const gpcMask = decode(gpc.params, gpcReply, 0, { snapshot: false }).gpcMask >>> 0;
						const tpcMasks: number[] = [];
						for (let g = 0; g < 32; g++) {
							if (((gpcMask >>> g) & 1) === 0) {
								tpcMasks.push(0);
								continue;
							}
							const reply = await rmControl(tpc.cmd, build(tpc.params, { gpcId: g }));
							tpcMasks.push(decode(tpc.params, reply, 0, { snapshot: false }).tpcMask);
						}
						return topology(gpcMask, tpcMasks, 'controls');
					};
				},
			}),
			...contextBuffersControl(ctx, GR_GET_CONTEXT_BUFFERS_INFO_R570),
		};
	});
}
