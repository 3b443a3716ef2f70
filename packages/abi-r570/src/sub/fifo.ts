/**
 * r570's `fifo`: the constructed-falcon control moved (`NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO`
 * 0x20800a42 → `NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO` 0x208001b0, struct renamed) and GSP-RM
 * reserves one channel ID per runlist (nouveau `r570_fifo`). Everything else is r535's code
 * ({@link fifoApi}) bound to r570's layouts — `NV_CHANNEL_ALLOC_PARAMS` grew `tpcConfigID`, which stays 0,
 * and the engine tables come from r570's renumbered enums.
 *
 * @module
 */

import { type AbiContext, type FifoApi, type FifoVariant, fifoApi } from '@gspkit/abi-r535';
import { GET_CONSTRUCTED_FALCON_INFO_R570 } from '../specs.ts';
import { R570_PACKAGE } from '../util.ts';

/** r570's fifo facts. */
export const R570_FIFO: FifoVariant = Object.freeze({
	constructedFalconControl: 'NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO',
	constructedFalconParams: GET_CONSTRUCTED_FALCON_INFO_R570,
	reservedChids: 1,
});

/** Build r570's `fifo` sub-interface. */
export function createFifoApi(ctx: AbiContext): FifoApi {
	return ctx.build('fifo', R570_PACKAGE, 'createFifoApi', () => fifoApi(ctx, R570_FIFO));
}
