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
	return ctx.build('ce', R535_PACKAGE, 'createCeApi', () => {
		const allocLayout = ctx.bind(CE_ALLOC);
		const faultLayout = ctx.bind(CE_GET_FAULT_METHOD_BUFFER_SIZE);
		const cmd = ctx.constant('NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE');
		const engines = engineTables(ctx);
		return {
			faultMethodBufferSize: () =>
				controlCall('NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE', cmd, faultLayout, {}, (v) => v.size),
			allocParams: (instance: number) =>
				build(allocLayout, { version: 1, engineType: engines.nv2080({ kind: 'ce', instance }) }),
		};
	});
}
