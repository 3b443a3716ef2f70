/**
 * `ce`: copy-engine allocation params and the fault method buffer size the channel allocation needs.
 *
 * @module
 */

import type { CeApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { engineTables } from '../engines.ts';
import { CE_ALLOC, CE_GET_FAULT_METHOD_BUFFER_SIZE } from '../specs.ts';
import { build, controlCall, R535_PACKAGE } from '../util.ts';

/** Build the `ce` sub-interface on `ctx`'s layouts. */
export function createCeApi(ctx: AbiContext): CeApi {
	return ctx.build('ce', R535_PACKAGE, 'createCeApi', () =>
		ctx.members({
			faultMethodBufferSize: () => {
				const layout = ctx.bind(CE_GET_FAULT_METHOD_BUFFER_SIZE);
				const cmd = ctx.constant('NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE');
				return () =>
					controlCall('NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE', cmd, layout, {}, (v) => v.size);
			},
			allocParams: () => {
				const layout = ctx.bind(CE_ALLOC);
				const engines = engineTables(ctx);
				return (instance: number) =>
					build(layout, { version: 1, engineType: engines.nv2080({ kind: 'ce', instance }) });
			},
		}),
	);
}
