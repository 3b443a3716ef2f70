/**
 * Fuse ucode-version arrays (hardware reference A.2; nova-core `regs.rs`, `falcon/hal/ga102.rs`).
 *
 * Each array has 16 entries indexed by `ucode_id − 1`; the "fuse version" is the bit length of the entry.
 *
 * @module
 */

import { defineRegisterArray } from '../registers.ts';

const fields = {
	data: { bits: [15, 0], doc: 'Fuse bits; the version is the number of significant bits.' },
} as const;
const methods = {
	/** The fuse version: the bit length of `data` (16 − leading zeros), 0 when no fuse is burnt. */
	fuseVersion: (v: { getRaw(f: 'data'): number }) => {
		const d = v.getRaw('data');
		return d === 0 ? 0 : 32 - Math.clz32(d);
	},
};

/** NVDEC ucode fuse versions, `[ucode_id − 1]`. */
export const NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION = defineRegisterArray(
	{
		name: 'NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION',
		offset: 0x824100,
		length: 16,
		doc: 'NVDEC ucode fuse versions, indexed by ucode_id − 1.',
		fields,
	},
	methods,
);
/** SEC2 ucode fuse versions (used by the booter signature choice), `[ucode_id − 1]`. */
export const NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION = defineRegisterArray(
	{
		name: 'NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION',
		offset: 0x824140,
		length: 16,
		doc: 'SEC2 ucode fuse versions, indexed by ucode_id − 1.',
		fields,
	},
	methods,
);
/** GSP ucode fuse versions (used by the FWSEC signature choice), `[ucode_id − 1]`. */
export const NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION = defineRegisterArray(
	{
		name: 'NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION',
		offset: 0x8241c0,
		length: 16,
		doc: 'GSP ucode fuse versions, indexed by ucode_id − 1.',
		fields,
	},
	methods,
);

/** Engine ID mask bits that select a fuse array (and the BROM_ENGIDMASK value). */
export const ENGINE_ID_MASK = Object.freeze({ SEC2: 0x0001, NVDEC: 0x0004, GSP: 0x0400 });
