/**
 * The boards the simulator can model, and the identity registers they present.
 *
 * This table is the *hardware* side and is deliberately independent of `@gspkit/hal`'s chip table: if the
 * driver's decoding of `NV_PMC_BOOT_0`/`NV_PMC_BOOT_42` is wrong, the two disagree and tests fail.
 * Facts: hardware reference A.0 (register layouts, chipset codes, the five reference device IDs). The
 * other device IDs are the first retail board of each chip in the PCI ID database. Subsystem IDs, BAR1
 * sizes of the consumer boards, SR-IOV parameters and VF BAR sizes are simulator choices, documented in
 * the package README.
 *
 * @module
 */

import { InvalidArgumentError } from '@gspkit/hal';

/** Lower-case chip names accepted by {@link createSimulatedGpu}. */
export type SimChipName =
	| 'tu102'
	| 'tu104'
	| 'tu106'
	| 'tu116'
	| 'tu117'
	| 'ga100'
	| 'ga102'
	| 'ga104'
	| 'ga106'
	| 'ga107'
	| 'gh100'
	| 'ad102'
	| 'ad103'
	| 'ad104'
	| 'ad106'
	| 'ad107';

/** SR-IOV parameters of a physical function (PCIe SR-IOV extended capability, ID 0x0010). */
export interface SimSriovSpec {
	/** `TotalVFs`: the most VFs the PF can expose. */
	readonly totalVFs: number;
	/** `InitialVFs`: VFs initially associated with the PF (equal to TotalVFs without VF migration). */
	readonly initialVFs: number;
	/** `First VF Offset`: routing-ID distance from the PF to VF 1. */
	readonly firstVfOffset: number;
	/** `VF Stride`: routing-ID distance between consecutive VFs. */
	readonly vfStride: number;
	/** `VF Device ID` reported by every VF. */
	readonly vfDeviceId: number;
	/** Per-VF BAR sizes in bytes: BAR0 (32-bit MMIO), BAR1 and BAR3 (64-bit prefetchable). */
	readonly vfBar0Size: number;
	readonly vfBar1Size: bigint;
	readonly vfBar3Size: bigint;
}

/** Everything the simulator needs to present one board. */
export interface SimChipSpec {
	/** Lower-case chip name, e.g. `'ga102'`. */
	readonly name: SimChipName;
	/** The product the PCI IDs belong to, e.g. `'GeForce RTX 3090'`. */
	readonly product: string;
	/** `NV_PMC_BOOT_42.architecture` (29:24), e.g. 0x17 for Ampere. */
	readonly architecture: number;
	/** `implementation` (23:20 in both BOOT registers), e.g. 0x2 for GA102. */
	readonly implementation: number;
	/** Silicon stepping; A1 is `{ major: 0xa, minor: 0x1 }`. Also the PCI revision ID (0xa1). */
	readonly revision: { readonly major: number; readonly minor: number };
	readonly deviceId: number;
	readonly subsystemVendorId: number;
	readonly subsystemId: number;
	/** PCI class code (base class, subclass, prog-if): 0x030000 VGA or 0x030200 3D controller. */
	readonly classCode: number;
	/** Default VRAM size in bytes. */
	readonly vramSize: bigint;
	/** BAR1 (user VRAM aperture) size in bytes, a power of two. */
	readonly bar1Size: bigint;
	/** PCIe generation of the link (3 = 8 GT/s, 4 = 16 GT/s, 5 = 32 GT/s); x16 on every board. */
	readonly pcieGen: 3 | 4 | 5;
	/** SR-IOV parameters, or `null` for a chip without the capability. */
	readonly sriov: SimSriovSpec | null;
}

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const NVIDIA = 0x10de;
const VGA = 0x030000;
const CONTROLLER_3D = 0x030200;
const A1 = Object.freeze({ major: 0xa, minor: 0x1 });

/** The VF layout shared by every SR-IOV capable board: 16 MiB BAR0, 128 MiB BAR1, 32 MiB BAR3. */
function sriov(totalVFs: number, vfDeviceId: number): SimSriovSpec {
	return Object.freeze({
		totalVFs,
		initialVFs: totalVFs,
		firstVfOffset: 4,
		vfStride: 1,
		vfDeviceId,
		vfBar0Size: 16 * 1024 * 1024,
		vfBar1Size: 128n * MiB,
		vfBar3Size: 32n * MiB,
	});
}

function spec(s: Omit<SimChipSpec, 'subsystemVendorId' | 'revision'>): SimChipSpec {
	return Object.freeze({ ...s, subsystemVendorId: NVIDIA, revision: A1 });
}

const TABLE: readonly SimChipSpec[] = [
	spec({
		name: 'tu102',
		product: 'GeForce RTX 2080 Ti',
		architecture: 0x16,
		implementation: 0x2,
		deviceId: 0x1e04,
		subsystemId: 0x12fa,
		classCode: VGA,
		vramSize: 11n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 3,
		sriov: null,
	}),
	spec({
		name: 'tu104',
		product: 'GeForce RTX 2080',
		architecture: 0x16,
		implementation: 0x4,
		deviceId: 0x1e82,
		subsystemId: 0x12b0,
		classCode: VGA,
		vramSize: 8n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 3,
		sriov: null,
	}),
	spec({
		name: 'tu106',
		product: 'GeForce RTX 2070',
		architecture: 0x16,
		implementation: 0x6,
		deviceId: 0x1f02,
		subsystemId: 0x12fd,
		classCode: VGA,
		vramSize: 8n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 3,
		sriov: null,
	}),
	spec({
		name: 'tu116',
		product: 'GeForce GTX 1660 Ti',
		architecture: 0x16,
		implementation: 0x8,
		deviceId: 0x2182,
		subsystemId: 0x1321,
		classCode: VGA,
		vramSize: 6n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 3,
		sriov: null,
	}),
	spec({
		name: 'tu117',
		product: 'GeForce GTX 1650',
		architecture: 0x16,
		implementation: 0x7,
		deviceId: 0x1f82,
		subsystemId: 0x1324,
		classCode: VGA,
		vramSize: 4n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 3,
		sriov: null,
	}),
	spec({
		name: 'ga100',
		product: 'A100 SXM4 40GB',
		architecture: 0x17,
		implementation: 0x0,
		deviceId: 0x20b0,
		subsystemId: 0x134f,
		classCode: CONTROLLER_3D,
		vramSize: 40n * GiB,
		bar1Size: 64n * GiB,
		pcieGen: 4,
		sriov: sriov(20, 0x20b0),
	}),
	spec({
		name: 'ga102',
		product: 'GeForce RTX 3090',
		architecture: 0x17,
		implementation: 0x2,
		deviceId: 0x2204,
		subsystemId: 0x147d,
		classCode: VGA,
		vramSize: 24n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: sriov(32, 0x2204),
	}),
	spec({
		name: 'ga104',
		product: 'GeForce RTX 3070',
		architecture: 0x17,
		implementation: 0x4,
		deviceId: 0x2484,
		subsystemId: 0x146b,
		classCode: VGA,
		vramSize: 8n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'ga106',
		product: 'GeForce RTX 3060',
		architecture: 0x17,
		implementation: 0x6,
		deviceId: 0x2503,
		subsystemId: 0x1504,
		classCode: VGA,
		vramSize: 12n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'ga107',
		product: 'GeForce RTX 3050 Mobile',
		architecture: 0x17,
		implementation: 0x7,
		deviceId: 0x25a2,
		subsystemId: 0x1537,
		classCode: CONTROLLER_3D,
		vramSize: 4n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'gh100',
		product: 'H100 SXM5 80GB',
		architecture: 0x18,
		implementation: 0x0,
		deviceId: 0x2330,
		subsystemId: 0x16c1,
		classCode: CONTROLLER_3D,
		vramSize: 80n * GiB,
		bar1Size: 128n * GiB,
		pcieGen: 5,
		sriov: sriov(32, 0x2330),
	}),
	spec({
		name: 'ad102',
		product: 'GeForce RTX 4090',
		architecture: 0x19,
		implementation: 0x2,
		deviceId: 0x2684,
		subsystemId: 0x165b,
		classCode: VGA,
		vramSize: 24n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: sriov(32, 0x2684),
	}),
	spec({
		name: 'ad103',
		product: 'GeForce RTX 4080',
		architecture: 0x19,
		implementation: 0x3,
		deviceId: 0x2704,
		subsystemId: 0x167a,
		classCode: VGA,
		vramSize: 16n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'ad104',
		product: 'GeForce RTX 4070 Ti',
		architecture: 0x19,
		implementation: 0x4,
		deviceId: 0x2782,
		subsystemId: 0x16f3,
		classCode: VGA,
		vramSize: 12n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'ad106',
		product: 'GeForce RTX 4060 Ti',
		architecture: 0x19,
		implementation: 0x6,
		deviceId: 0x2803,
		subsystemId: 0x1733,
		classCode: VGA,
		vramSize: 8n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
	spec({
		name: 'ad107',
		product: 'GeForce RTX 4060',
		architecture: 0x19,
		implementation: 0x7,
		deviceId: 0x2882,
		subsystemId: 0x173b,
		classCode: VGA,
		vramSize: 8n * GiB,
		bar1Size: 256n * MiB,
		pcieGen: 4,
		sriov: null,
	}),
];

/** Every board the simulator can model, frozen, in chipset order. */
export const SIM_CHIPS: readonly SimChipSpec[] = Object.freeze(
	[...TABLE].sort((a, b) => chipsetOf(a) - chipsetOf(b)),
);

/** The board the simulator models when no chip is named. */
export const DEFAULT_SIM_CHIP: SimChipName = 'ga102';

const BY_NAME: ReadonlyMap<string, SimChipSpec> = new Map(SIM_CHIPS.map((c) => [c.name, c]));

/** Whether `name` (any case) names a board the simulator can model. */
export function isSimChipName(name: string): name is SimChipName {
	return BY_NAME.has(name.toLowerCase());
}

/**
 * The spec of a simulated board, case-insensitively.
 * @throws InvalidArgumentError (`HAL_INVALID_ARGUMENT`) with `details.known` listing the valid names.
 */
export function simChipSpec(name: string): SimChipSpec {
	const found = BY_NAME.get(name.trim().toLowerCase());
	if (found === undefined) {
		const known = SIM_CHIPS.map((c) => c.name);
		throw new InvalidArgumentError(
			`the simulator cannot model chip ${JSON.stringify(name)}; choose one of: ${known.join(', ')}`,
			{ chip: name, known },
		);
	}
	return found;
}

/** `(architecture << 4) | implementation`, e.g. 0x172 for GA102 (reference A.0). */
export function chipsetOf(chip: Pick<SimChipSpec, 'architecture' | 'implementation'>): number {
	return (chip.architecture << 4) | chip.implementation;
}

/**
 * `NV_PMC_BOOT_0` (0x000000) as the board presents it: architecture_0 28:24 (low five bits of the
 * architecture), implementation 23:20, architecture_1 8:8 (bit 5 of the architecture), major revision 7:4,
 * minor revision 3:0. GA102 A1 reads 0x172000a1.
 */
export function encodeBoot0(chip: Pick<SimChipSpec, 'architecture' | 'implementation' | 'revision'>): number {
	const arch0 = chip.architecture & 0x1f;
	const arch1 = (chip.architecture >> 5) & 0x1;
	return (
		((arch0 << 24) |
			((chip.implementation & 0xf) << 20) |
			(arch1 << 8) |
			((chip.revision.major & 0xf) << 4) |
			(chip.revision.minor & 0xf)) >>>
		0
	);
}

/**
 * `NV_PMC_BOOT_42` (0x000a00): architecture 29:24, implementation 23:20, major revision 19:16,
 * minor revision 15:12; the other bits read zero. GA102 A1 reads 0x172a1000.
 */
export function encodeBoot42(
	chip: Pick<SimChipSpec, 'architecture' | 'implementation' | 'revision'>,
): number {
	return (
		(((chip.architecture & 0x3f) << 24) |
			((chip.implementation & 0xf) << 20) |
			((chip.revision.major & 0xf) << 16) |
			((chip.revision.minor & 0xf) << 12)) >>>
		0
	);
}
