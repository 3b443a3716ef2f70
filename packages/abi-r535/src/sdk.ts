/**
 * Controls gspkit sends that nouveau's published `nvrm` headers do not describe (nouveau never sends them,
 * so its header set — which the manifests are generated from — has no definition). Each is declared here
 * by hand from NVIDIA's SDK headers, with its source, and is the same in every branch gspkit serves.
 *
 * @module
 */

import { type StructLayout, struct, u32 } from '@gspkit/abi';

/** An SDK control: C name, command ID and params layout. */
export interface SdkControl<L extends StructLayout = StructLayout> {
	readonly name: string;
	readonly cmd: number;
	readonly params: L;
	/** Where the facts come from. */
	readonly source: string;
}

/**
 * `NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN` (a class control of `VOLTA_CHANNEL_GPFIFO_A` and later GPFIFO
 * classes, sent on the channel): the opaque token the driver writes to the usermode doorbell to submit work.
 * Command `NVXXXX_CTRL_CMD(0xC36F, NVC36F_CTRL_GPFIFO = 0x01, 0x08)` = 0xc36f0108; params one `NvU32
 * workSubmitToken` (out). GSP-RM serves it in both branches (its RPC `CTRL_GPFIFO_GET_WORK_SUBMIT_TOKEN` is 186 in
 * nouveau's r535 and r570 `rpcfn.h`).
 */
export const WORK_SUBMIT_TOKEN: SdkControl<
	StructLayout<readonly [readonly ['workSubmitToken', typeof u32]]>
> = Object.freeze({
	name: 'NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN',
	cmd: 0xc36f0108,
	params: struct('NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS', [['workSubmitToken', u32]] as const),
	source:
		'NVIDIA open-gpu-kernel-modules src/common/sdk/nvidia/inc/ctrl/ctrlc36f.h (NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN, NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS)',
});
