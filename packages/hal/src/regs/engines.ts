/**
 * Falcon engine instances and their bases (hardware reference A.1): GSP and SEC2, each with the falcon block
 * (`PFALCON`) and the BROM/RISC-V block (`PFALCON2`, at PFALCON + 0x1000).
 *
 * @module
 */

import { defineBase } from '../registers.ts';
import {
	type FalconBases,
	type FalconRegisters,
	falconRegisters,
	type PFalcon2Base,
	type PFalconBase,
} from './falcon.ts';
import {
	ENGINE_ID_MASK,
	NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION,
	NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION,
} from './fuse.ts';

/** Offset of the PFALCON2 block from the PFALCON block. */
export const PFALCON2_OFFSET = 0x1000;

/** A falcon engine: its bases, engine ID mask, fuse-version array and resolved registers. */
export interface FalconEngine extends FalconBases {
	/** `'GSP'` or `'SEC2'`. */
	readonly name: 'GSP' | 'SEC2';
	readonly PFALCON: PFalconBase;
	readonly PFALCON2: PFalcon2Base;
	/** BROM engine ID mask bit (SEC2 0x0001, GSP 0x0400). */
	readonly engineIdMask: number;
	/** This engine's ucode fuse-version array. */
	readonly fuseVersions: typeof NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION;
	/** The falcon register set at this engine's bases. */
	readonly regs: FalconRegisters;
}

function engine(
	name: FalconEngine['name'],
	pfalcon: number,
	engineIdMask: number,
	fuseVersions: FalconEngine['fuseVersions'],
): FalconEngine {
	const bases = {
		PFALCON: defineBase('PFALCON', name, pfalcon),
		PFALCON2: defineBase('PFALCON2', name, pfalcon + PFALCON2_OFFSET),
	};
	return Object.freeze({ name, ...bases, engineIdMask, fuseVersions, regs: falconRegisters(bases) });
}

/** The GSP falcon: PFALCON 0x110000, PFALCON2 0x111000. */
export const GSP: FalconEngine = engine(
	'GSP',
	0x110000,
	ENGINE_ID_MASK.GSP,
	NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION,
);
/** The SEC2 falcon: PFALCON 0x840000, PFALCON2 0x841000. */
export const SEC2: FalconEngine = engine(
	'SEC2',
	0x840000,
	ENGINE_ID_MASK.SEC2,
	NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION,
);

/** Both falcon engines gspkit boots, by name. */
export const FALCON_ENGINES = Object.freeze({ GSP, SEC2 });
