/**
 * What GSP-RM knows about each simulated board that the driver learns only through it: GPC/TPC floorsweeping,
 * engines and their runlists, the RM classes the chip supports, cache and bus sizes.
 *
 * Sources: SM and GPC counts, L2 sizes and bus widths are NVIDIA's published product specifications for the
 * board each chip models (see `chips.ts`); a TPC is two SMs on every GSP-era chip. The per-GPC split of
 * TPCs (the lowest GPCs get the extra TPC), engine counts, runlist numbering, register bases, interrupt
 * vectors and fault IDs are simulator choices, documented here so the other device models can agree.
 *
 * @module
 */

import { InvalidArgumentError } from '@gspkit/hal';
import type { SimChipName, SimChipSpec } from '../chips.ts';

/** The architecture generations GSP-RM distinguishes for classes and SM properties. */
export type GspChipFamily = 'turing' | 'ga100' | 'ampere' | 'ada' | 'hopper';

/** RM class names (resolved to IDs through the booted ABI) a chip supports, by role. */
export interface GspChipClasses {
	readonly channel: readonly string[];
	readonly usermode: readonly string[];
	readonly copy: readonly string[];
	readonly graphics: readonly string[];
	readonly compute: readonly string[];
}

/** One engine FIFO schedules: GR0, CEn, NVDECn or NVENCn. */
export interface GspEngine {
	/** `RM_ENGINE_TYPE_*` name without the prefix, e.g. `'GR0'`, `'COPY2'`. */
	readonly rmEngineType: string;
	/** `NV2080_ENGINE_TYPE_*` name (the control-API numbering), e.g. `'GR0'`, `'COPY2'`. */
	readonly nv2080EngineType: string;
	/** `MC_ENGINE_IDX_*` names to try, first match wins (r535 calls NVENC `MSENC`), e.g. `['GR0']`. */
	readonly mcEngineIdx: readonly string[];
	/** Device-info name, e.g. `'GR0'`, `'CE2'`. */
	readonly name: string;
	/** `NV_PTOP_DEVICE_INFO2_DEV_TYPE_ENUM`: 0 graphics, 0x10 NVDEC, 0x12 NVENC, 0x13 LCE. */
	readonly devType: number;
	readonly instance: number;
	/** Runlist (and PBDMA) serving the engine. */
	readonly runlist: number;
	/** BAR0 base of the runlist's registers (simulator choice: 0xa00000 + 0x10000 × runlist). */
	readonly runlistPriBase: number;
	/** BAR0 base of the runlist's channel RAM (runlist base + 0x8000). */
	readonly chramPriBase: number;
	readonly mmuFaultId: number;
	/** Interrupt vectors (simulator choice); 0xffffffff = none. */
	readonly stallVector: number;
	readonly nonStallVector: number;
}

/** Per-chip facts. */
export interface GspChipConfig {
	readonly chip: SimChipName;
	readonly family: GspChipFamily;
	/** Short chip name as GSP-RM reports it, e.g. `'GA102'`. */
	readonly shortName: string;
	/** Marketing name, e.g. `'NVIDIA GeForce RTX 3090'`. */
	readonly fullName: string;
	/** TPCs present in each GPC, GPC 0 first. */
	readonly tpcsPerGpc: readonly number[];
	readonly smPerTpc: number;
	readonly l2CacheBytes: number;
	readonly fbBusWidth: number;
	readonly copyEngines: number;
	readonly nvdecs: number;
	readonly nvencs: number;
	readonly classes: GspChipClasses;
	readonly maxWarpsPerSm: number;
	readonly maxSpPerSm: number;
	readonly rtCoresPerSm: number;
	/** Size of the CE fault method buffer (`NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE`). */
	readonly faultMethodBufferSize: number;
}

/** First runlist register block and the stride between runlists (simulator choice, unused BAR0 space). */
export const SIM_RUNLIST_PRI_BASE = 0xa0_0000;
export const SIM_RUNLIST_PRI_STRIDE = 0x1_0000;
/** Channel RAM of a runlist, relative to its register block. */
export const SIM_CHRAM_OFFSET = 0x8000;
/** Interrupt vector of the GSP itself (simulator choice). */
export const SIM_GSP_STALL_VECTOR = 0x17;
/** Interrupt vector value meaning "none" (`NV2080_INTR_INVALID_VECTOR`). */
export const INTR_INVALID_VECTOR = 0xffff_ffff;

const CLASSES: Readonly<Record<GspChipFamily, GspChipClasses>> = {
	turing: {
		channel: ['TURING_CHANNEL_GPFIFO_A'],
		usermode: ['TURING_USERMODE_A'],
		copy: ['TURING_DMA_COPY_A'],
		graphics: ['TURING_A'],
		compute: ['TURING_COMPUTE_A'],
	},
	ga100: {
		channel: ['AMPERE_CHANNEL_GPFIFO_A'],
		usermode: ['AMPERE_USERMODE_A'],
		copy: ['AMPERE_DMA_COPY_A'],
		graphics: ['AMPERE_A'],
		compute: ['AMPERE_COMPUTE_A'],
	},
	ampere: {
		channel: ['AMPERE_CHANNEL_GPFIFO_A', 'AMPERE_CHANNEL_GPFIFO_B'],
		usermode: ['AMPERE_USERMODE_A'],
		copy: ['AMPERE_DMA_COPY_B'],
		graphics: ['AMPERE_B'],
		compute: ['AMPERE_COMPUTE_B'],
	},
	ada: {
		channel: ['AMPERE_CHANNEL_GPFIFO_A', 'AMPERE_CHANNEL_GPFIFO_B'],
		usermode: ['AMPERE_USERMODE_A'],
		copy: ['AMPERE_DMA_COPY_B'],
		graphics: ['ADA_A'],
		compute: ['ADA_COMPUTE_A'],
	},
	hopper: {
		channel: ['HOPPER_CHANNEL_GPFIFO_A'],
		usermode: ['HOPPER_USERMODE_A'],
		copy: ['HOPPER_DMA_COPY_A'],
		graphics: ['HOPPER_A'],
		compute: ['HOPPER_COMPUTE_A'],
	},
};

const SM = {
	turing: { maxWarpsPerSm: 32, maxSpPerSm: 64 },
	ga100: { maxWarpsPerSm: 64, maxSpPerSm: 64 },
	ampere: { maxWarpsPerSm: 48, maxSpPerSm: 128 },
	ada: { maxWarpsPerSm: 48, maxSpPerSm: 128 },
	hopper: { maxWarpsPerSm: 64, maxSpPerSm: 128 },
} as const;

const MiB = 1024 * 1024;

interface Row {
	readonly family: GspChipFamily;
	readonly shortName: string;
	readonly gpcs: number;
	readonly sms: number;
	readonly l2: number;
	readonly bus: number;
	readonly rt: boolean;
}

/** Published SM/GPC counts, L2 sizes and bus widths of the board each chip models. */
const ROWS: Readonly<Record<SimChipName, Row>> = {
	tu102: { family: 'turing', shortName: 'TU102', gpcs: 6, sms: 68, l2: 5.5 * MiB, bus: 352, rt: true },
	tu104: { family: 'turing', shortName: 'TU104', gpcs: 6, sms: 46, l2: 4 * MiB, bus: 256, rt: true },
	tu106: { family: 'turing', shortName: 'TU106', gpcs: 3, sms: 36, l2: 4 * MiB, bus: 256, rt: true },
	tu116: { family: 'turing', shortName: 'TU116', gpcs: 3, sms: 24, l2: 1.5 * MiB, bus: 192, rt: false },
	tu117: { family: 'turing', shortName: 'TU117', gpcs: 2, sms: 14, l2: 1 * MiB, bus: 128, rt: false },
	ga100: { family: 'ga100', shortName: 'GA100', gpcs: 7, sms: 108, l2: 40 * MiB, bus: 5120, rt: false },
	ga102: { family: 'ampere', shortName: 'GA102', gpcs: 7, sms: 82, l2: 6 * MiB, bus: 384, rt: true },
	ga104: { family: 'ampere', shortName: 'GA104', gpcs: 6, sms: 46, l2: 4 * MiB, bus: 256, rt: true },
	ga106: { family: 'ampere', shortName: 'GA106', gpcs: 3, sms: 28, l2: 3 * MiB, bus: 192, rt: true },
	ga107: { family: 'ampere', shortName: 'GA107', gpcs: 2, sms: 16, l2: 2 * MiB, bus: 128, rt: true },
	gh100: { family: 'hopper', shortName: 'GH100', gpcs: 8, sms: 132, l2: 50 * MiB, bus: 5120, rt: false },
	ad102: { family: 'ada', shortName: 'AD102', gpcs: 11, sms: 128, l2: 72 * MiB, bus: 384, rt: true },
	ad103: { family: 'ada', shortName: 'AD103', gpcs: 7, sms: 76, l2: 64 * MiB, bus: 256, rt: true },
	ad104: { family: 'ada', shortName: 'AD104', gpcs: 5, sms: 60, l2: 48 * MiB, bus: 192, rt: true },
	ad106: { family: 'ada', shortName: 'AD106', gpcs: 3, sms: 34, l2: 32 * MiB, bus: 128, rt: true },
	ad107: { family: 'ada', shortName: 'AD107', gpcs: 3, sms: 24, l2: 24 * MiB, bus: 128, rt: true },
};

/** Split `tpcs` over `gpcs`, the lowest GPCs taking the remainder. */
function splitTpcs(tpcs: number, gpcs: number): number[] {
	const base = Math.floor(tpcs / gpcs);
	const extra = tpcs % gpcs;
	return Array.from({ length: gpcs }, (_, i) => base + (i < extra ? 1 : 0));
}

/** The GSP-RM view of a simulated board. */
export function gspChipConfig(chip: SimChipSpec): GspChipConfig {
	const row = ROWS[chip.name];
	if (row === undefined) {
		throw new InvalidArgumentError(`the GSP-RM emulator has no configuration for chip ${chip.name}`, {
			chip: chip.name,
		});
	}
	const dataCentre = row.family === 'ga100' || row.family === 'hopper';
	return Object.freeze({
		chip: chip.name,
		family: row.family,
		shortName: row.shortName,
		fullName: `NVIDIA ${chip.product}`,
		tpcsPerGpc: Object.freeze(splitTpcs(row.sms / 2, row.gpcs)),
		smPerTpc: 2,
		l2CacheBytes: row.l2,
		fbBusWidth: row.bus,
		copyEngines: dataCentre ? 10 : 5,
		nvdecs: row.family === 'ga100' ? 5 : row.family === 'hopper' ? 7 : 1,
		nvencs: dataCentre ? 0 : 1,
		classes: CLASSES[row.family],
		maxWarpsPerSm: SM[row.family].maxWarpsPerSm,
		maxSpPerSm: SM[row.family].maxSpPerSm,
		rtCoresPerSm: row.rt ? 1 : 0,
		faultMethodBufferSize: 0x5000,
	});
}

/** Number of GPCs. */
export function gpcCount(cfg: GspChipConfig): number {
	return cfg.tpcsPerGpc.length;
}

/** Total TPCs. */
export function tpcCount(cfg: GspChipConfig): number {
	return cfg.tpcsPerGpc.reduce((a, b) => a + b, 0);
}

/** `gpcMask` as `NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO` reports it (logical GPCs are contiguous). */
export function gpcMask(cfg: GspChipConfig): number {
	return cfg.tpcsPerGpc.length >= 32 ? 0xffff_ffff : (2 ** cfg.tpcsPerGpc.length - 1) >>> 0;
}

/** `tpcMask` of GPC `gpc` (`NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO`); 0 for a GPC that does not exist. */
export function tpcMask(cfg: GspChipConfig, gpc: number): number {
	const n = cfg.tpcsPerGpc[gpc] ?? 0;
	return (2 ** n - 1) >>> 0;
}

/** The engines FIFO schedules, in runlist order: GR0, CE0…, NVDEC0…, NVENC0…. */
export function gspEngines(cfg: GspChipConfig): readonly GspEngine[] {
	const list: Omit<
		GspEngine,
		'runlist' | 'runlistPriBase' | 'chramPriBase' | 'stallVector' | 'nonStallVector'
	>[] = [];
	list.push({
		rmEngineType: 'GR0',
		nv2080EngineType: 'GR0',
		mcEngineIdx: ['GR0'],
		name: 'GR0',
		devType: 0x00,
		instance: 0,
		mmuFaultId: 0x40,
	});
	for (let i = 0; i < cfg.copyEngines; i++) {
		list.push({
			rmEngineType: `COPY${i}`,
			nv2080EngineType: `COPY${i}`,
			mcEngineIdx: [`CE${i}`],
			name: `CE${i}`,
			devType: 0x13,
			instance: i,
			mmuFaultId: 0x0f + i,
		});
	}
	for (let i = 0; i < cfg.nvdecs; i++) {
		list.push({
			rmEngineType: `NVDEC${i}`,
			nv2080EngineType: `NVDEC${i}`,
			mcEngineIdx: [`NVDEC${i}`],
			name: `NVDEC${i}`,
			devType: 0x10,
			instance: i,
			mmuFaultId: 0x25 + i,
		});
	}
	for (let i = 0; i < cfg.nvencs; i++) {
		list.push({
			rmEngineType: `NVENC${i}`,
			nv2080EngineType: `NVENC${i}`,
			mcEngineIdx: i === 0 ? ['NVENC', 'MSENC'] : [`NVENC${i}`, `MSENC${i}`],
			name: `NVENC${i}`,
			devType: 0x12,
			instance: i,
			mmuFaultId: 0x30 + i,
		});
	}
	return Object.freeze(
		list.map((e, runlist) =>
			Object.freeze({
				...e,
				runlist,
				runlistPriBase: SIM_RUNLIST_PRI_BASE + runlist * SIM_RUNLIST_PRI_STRIDE,
				chramPriBase: SIM_RUNLIST_PRI_BASE + runlist * SIM_RUNLIST_PRI_STRIDE + SIM_CHRAM_OFFSET,
				stallVector: e.devType === 0x00 ? 0x80 : INTR_INVALID_VECTOR,
				nonStallVector: 0xc0 + runlist,
			}),
		),
	);
}
