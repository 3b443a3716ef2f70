/**
 * Fuse ucode versions (hardware reference A.2): which signature of an HS ucode the boot ROM accepts depends
 * on the version fused for its engine and ucode ID.
 *
 * @module
 */

import {
	type Bar0,
	ENGINE_ID_MASK,
	hex,
	NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION,
	NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION,
	NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION,
} from '@gspkit/hal';
import { type BootStage, UcodeFormatError } from './errors.ts';

/** Which fuse array an engine ID mask selects (first match in the order SEC2, NVDEC, GSP, as nova does). */
export function fuseArrayFor(engineIdMask: number) {
	if ((engineIdMask & ENGINE_ID_MASK.SEC2) !== 0) return NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION;
	if ((engineIdMask & ENGINE_ID_MASK.NVDEC) !== 0) return NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION;
	if ((engineIdMask & ENGINE_ID_MASK.GSP) !== 0) return NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION;
	return undefined;
}

/**
 * Read the fuse version (bit length of the fuse register's low 16 bits) for an HS ucode's
 * `engineIdMask`/`ucodeId`, from the fuse array at `[ucodeId − 1]`.
 * @throws UcodeFormatError when the mask names no engine with fuses or `ucodeId` is not 1..16.
 */
export function readFuseVersion(
	bar0: Bar0,
	engineIdMask: number,
	ucodeId: number,
	stage: BootStage,
	what: string,
): number {
	const array = fuseArrayFor(engineIdMask);
	if (array === undefined) {
		throw new UcodeFormatError(stage, what, {
			field: 'engine_id_mask',
			offset: 0,
			expected: 'a mask with the SEC2 (0x1), NVDEC (0x4) or GSP (0x400) bit',
			actual: hex(engineIdMask, 1),
		});
	}
	if (!Number.isInteger(ucodeId) || ucodeId < 1 || ucodeId > array.length) {
		throw new UcodeFormatError(stage, what, {
			field: 'ucode_id',
			offset: 0,
			expected: `1..${array.length} (index into the fuse version array)`,
			actual: String(ucodeId),
		});
	}
	return array.read(bar0, ucodeId - 1).fuseVersion();
}
