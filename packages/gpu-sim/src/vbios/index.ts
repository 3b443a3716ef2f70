/**
 * VBIOS synthesis and the PROM window.
 *
 * @module
 */

export { ByteWriter, DeterministicRandom, sha256Hex } from './bytes.ts';
export { PROM_ERASED, PromDevice } from './prom.ts';
export {
	APPIF_ID_DMEMMAPPER,
	BIT_OFFSET,
	BIT_TOKEN_FALCON_DATA,
	buildVbios,
	DMEM_MAPPER_SIGNATURE,
	FALCON_APP_ID,
	FWSEC_SIGNATURE_SIZE,
	type FwsecUcode,
	ROM_CODE_TYPE,
	type VbiosImage,
	type VbiosImageInfo,
} from './vbios.ts';
