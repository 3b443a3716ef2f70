/**
 * `client`: `NV01_ROOT` allocation params. r570's `NV0000_ALLOC_PARAMETERS` grew by a pointer
 * (`pOsPidInfo`, 108 → 120 bytes); this factory binds whichever branch's layout it is given and leaves
 * the new field zero — which is why nouveau needed a copy (`r570_client`) and gspkit does not.
 *
 * @module
 */

import type { ClientApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { ROOT_ALLOC } from '../specs.ts';
import { build, R535_PACKAGE } from '../util.ts';

/** Build the `client` sub-interface on `ctx`'s layouts. */
export function createClientApi(ctx: AbiContext): ClientApi {
	return ctx.build('client', R535_PACKAGE, 'createClientApi', () =>
		ctx.members({
			layout: () => ctx.bind(ROOT_ALLOC),
			allocParams: () => {
				const layout = ctx.bind(ROOT_ALLOC);
				return (p: {
					readonly hClient: number;
					readonly processID?: number;
					readonly processName?: string;
				}) =>
					build(layout, {
						hClient: p.hClient,
						processID: p.processID ?? 0xffffffff,
						processName: p.processName ?? '',
					});
			},
		}),
	);
}
