/**
 * `gr`: GPC/TPC topology and GR context-buffer sizes. In r535, `GspStaticConfigInfo` carries `gpcInfo`
 * and `tpcInfo[32]`; r570 removed them, and the driver asks with the FERMI GPC/TPC controls instead
 * (nouveau `r570_gr_gpc_mask`/`r570_gr_tpc_mask`). The core calls `gr.queryTopology` either way.
 *
 * @module
 */

import { decode } from '@gspkit/abi';
import type { GrApi, GrTopology } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { GR_GET_CONTEXT_BUFFERS_INFO_R535, STATIC_CONFIG_INFO_GR_R535 } from '../specs.ts';
import { controlCall, R535_PACKAGE } from '../util.ts';

/** Count set bits. */
export function popcount(v: number): number {
	let n = 0;
	for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
	return n;
}

/** A {@link GrTopology} from a GPC mask and per-GPC TPC masks. */
export function topology(
	gpcMask: number,
	tpcMasks: readonly number[],
	source: GrTopology['source'],
): GrTopology {
	const masks = Array.from({ length: 32 }, (_, g) => ((gpcMask >>> g) & 1 ? (tpcMasks[g] ?? 0) >>> 0 : 0));
	return Object.freeze({
		gpcMask: gpcMask >>> 0,
		tpcMasks: Object.freeze(masks),
		gpcCount: popcount(gpcMask),
		tpcCount: masks.reduce((a, m) => a + popcount(m), 0),
		source,
	});
}

/** One `NV2080_CTRL_INTERNAL_ENGINE_CONTEXT_BUFFER_INFO`. */
interface BufferInfo {
	readonly size: number;
	readonly alignment: number;
}

/** `contextBuffersInfo` for a branch (the params shape differs: 25 buffer kinds in r535, 26 in r570). */
export function contextBuffersControl(
	ctx: AbiContext,
	spec: typeof GR_GET_CONTEXT_BUFFERS_INFO_R535 = GR_GET_CONTEXT_BUFFERS_INFO_R535,
): Pick<GrApi, 'contextBuffersInfo'> {
	const contextBuffersInfo = (): GrApi['contextBuffersInfo'] => {
		const layout = ctx.bind(spec);
		const cmd = ctx.constant('NV2080_CTRL_CMD_INTERNAL_STATIC_KGR_GET_CONTEXT_BUFFERS_INFO');
		return () =>
			controlCall('NV2080_CTRL_CMD_INTERNAL_STATIC_KGR_GET_CONTEXT_BUFFERS_INFO', cmd, layout, {}, (v) => {
				// tsc's incremental re-check of this file alone can widen this deep reply type (8 × 25 structs) to a
				// generic record; the shape bound above pins `size` and `alignment` (u32) at run time.
				const engine = v.engineContextBuffersInfo[0]!.engine as unknown as readonly BufferInfo[];
				return engine.map((e) => ({ size: e.size, alignment: e.alignment }));
			});
	};
	return ctx.members({ contextBuffersInfo });
}

/** Build r535's `gr` sub-interface: topology from static info. */
export function createGrApi(ctx: AbiContext): GrApi {
	return ctx.build('gr', R535_PACKAGE, 'createGrApi', () => ({
		topologySource: 'static-info' as const,
		topologyControls: Object.freeze([]),
		...ctx.members({
			queryTopology: () => {
				const staticGr = ctx.bind(STATIC_CONFIG_INFO_GR_R535);
				return async ({ staticInfo }: Parameters<GrApi['queryTopology']>[0]) => {
					const v = decode(staticGr, staticInfo, 0, { snapshot: false });
					return topology(
						v.gpcInfo.gpcMask,
						v.tpcInfo.map((t) => t.tpcMask),
						'static-info',
					);
				};
			},
		}),
		...contextBuffersControl(ctx),
	}));
}
