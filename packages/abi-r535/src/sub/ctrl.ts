/**
 * `ctrl`: `GSP_RM_CONTROL` payloads (`rpc_gsp_rm_control_v03_00` + params), as nouveau's `r535_ctrl`.
 *
 * @module
 */

import { type ByteSource, decode, toBytes } from '@gspkit/abi';
import type { CtrlApi, RmControlPayload, RmControlRequest } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { RM_CONTROL } from '../specs.ts';
import { build, R535_PACKAGE } from '../util.ts';

/** Build the `ctrl` sub-interface on `ctx`'s layouts. */
export function createCtrlApi(ctx: AbiContext): CtrlApi {
	return ctx.build('ctrl', R535_PACKAGE, 'createCtrlApi', () => {
		const layout = ctx.bind(RM_CONTROL);
		const fixed = layout.tail!.offset;
		return {
			layout,
			encode: (req: RmControlRequest): Uint8Array =>
				build(layout, {
					hClient: req.hClient,
					hObject: req.hObject,
					cmd: req.cmd,
					status: 0,
					paramsSize: req.params.length,
					flags: req.flags ?? 0,
					params: req.params,
				}),
			decode(payload: ByteSource): RmControlPayload {
				const u8 = toBytes(payload).u8;
				const h = decode(layout, u8.subarray(0, fixed), 0, { snapshot: false });
				const params = u8.subarray(fixed, fixed + h.paramsSize);
				if (params.length < h.paramsSize) {
					// A reply may legitimately carry fewer bytes than paramsSize only if the buffer was cut: report it.
					decode(layout, u8, 0, { length: fixed + h.paramsSize });
				}
				return {
					hClient: h.hClient,
					hObject: h.hObject,
					cmd: h.cmd,
					status: h.status,
					paramsSize: h.paramsSize,
					flags: h.flags,
					params,
				};
			},
		};
	});
}
