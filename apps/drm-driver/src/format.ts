/**
 * Rendering a probed {@link DeviceDescription} for people (a coloured summary) and for programs (JSON).
 *
 * @module
 */

import type { BarInfo, DeviceDescription } from '@gspkit/core';
import { formatRevision, hex } from '@gspkit/hal';
import type pc from 'picocolors';

/** picocolors' colour functions (enabled or not). */
export type Colors = ReturnType<typeof pc.createColors>;

/** A byte count in the largest binary unit that divides it exactly, e.g. `"24 GiB"`, `"256 MiB"`. */
export function formatSize(bytes: bigint): string {
	const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = bytes;
	let unit = 0;
	while (unit < units.length - 1 && value >= 1024n && value % 1024n === 0n) {
		value /= 1024n;
		unit++;
	}
	return `${value} ${units[unit]}`;
}

/** A bigint as a JSON number when it is exactly representable, else as a decimal string. */
function jsonInt(v: bigint): number | string {
	return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

const CLASS_NAMES: Record<number, string> = {
	196608: 'VGA compatible controller',
	197120: '3D controller',
};

function barJson(b: BarInfo) {
	return {
		index: b.index,
		size: jsonInt(b.size),
		is64: b.is64,
		prefetchable: b.prefetchable,
		io: b.io,
		address: hex(b.address, b.is64 ? 16 : 8),
	};
}

/**
 * The JSON form of a probe result. Register values and IDs are hex strings (as they appear in
 * documentation); sizes are byte counts as numbers.
 */
export function toJson(d: DeviceDescription) {
	return {
		platform: d.platform,
		chip: {
			name: d.chip.name,
			architecture: d.chip.architecture,
			archCode: hex(d.chip.archCode, 2),
			chipset: hex(d.chip.chipset, 3),
			implementation: d.chip.implementation,
			revision: formatRevision(d.chip.revision),
		},
		registers: { NV_PMC_BOOT_0: hex(d.boot0), NV_PMC_BOOT_42: hex(d.boot42) },
		pci: {
			address: d.pci.address,
			vendorId: hex(d.pci.vendorId, 4),
			deviceId: hex(d.pci.deviceId, 4),
			subsystemVendorId: hex(d.pci.subsystemVendorId, 4),
			subsystemId: hex(d.pci.subsystemId, 4),
			revision: hex(d.pci.revision, 2),
			classCode: hex(d.pci.classCode, 6),
		},
		bars: d.bars.map(barJson),
		vramSize: jsonInt(d.vramSize),
		gfwBootComplete: d.gfwBootComplete ?? null,
		pcie: d.pcie ?? null,
		sriov:
			d.sriov === undefined
				? null
				: {
						totalVFs: d.sriov.totalVFs,
						initialVFs: d.sriov.initialVFs,
						numVFs: d.sriov.numVFs,
						enabled: d.sriov.enabled,
						firstVfOffset: d.sriov.firstVfOffset,
						vfStride: d.sriov.vfStride,
						vfDeviceId: hex(d.sriov.vfDeviceId, 4),
						vfBars: d.sriov.vfBars.map(barJson),
					},
		firmware: null,
	};
}

function describeBar(b: BarInfo): string {
	const kind = b.io ? 'I/O' : `${b.is64 ? '64' : '32'}-bit${b.prefetchable ? ' prefetchable' : ''}`;
	return `BAR${b.index} ${formatSize(b.size)} ${kind}`;
}

/** A readable multi-line summary of a probe result. */
export function formatSummary(d: DeviceDescription, c: Colors): string {
	const id = (v: number) => v.toString(16).padStart(4, '0');
	const rows: [string, string][] = [
		['platform', d.platform],
		[
			'chip',
			`${c.bold(c.green(d.chip.name))}  ${d.chip.architecture}, chipset ${hex(d.chip.chipset, 3)}, revision ${formatRevision(d.chip.revision)}`,
		],
		['registers', `NV_PMC_BOOT_0 ${hex(d.boot0)}  NV_PMC_BOOT_42 ${hex(d.boot42)}`],
		[
			'pci',
			`${d.pci.address}  ${id(d.pci.vendorId)}:${id(d.pci.deviceId)}  subsystem ${id(d.pci.subsystemVendorId)}:${id(d.pci.subsystemId)}  rev ${d.pci.revision.toString(16)}  ${CLASS_NAMES[d.pci.classCode] ?? `class ${hex(d.pci.classCode, 6)}`}`,
		],
		['bars', d.bars.map(describeBar).join(c.dim('  ·  '))],
		['vram', c.bold(formatSize(d.vramSize))],
	];
	if (d.pcie !== undefined) {
		rows.push(['pcie', `gen${d.pcie.gen} x${d.pcie.width} (max gen${d.pcie.maxGen} x${d.pcie.maxWidth})`]);
	}
	rows.push([
		'sr-iov',
		d.sriov === undefined
			? c.dim('not supported')
			: `${d.sriov.totalVFs} VFs (${d.sriov.enabled ? `${d.sriov.numVFs} enabled` : 'none enabled'}), VF device ${id(d.pci.vendorId)}:${id(d.sriov.vfDeviceId)}, first VF offset ${d.sriov.firstVfOffset}, stride ${d.sriov.vfStride}`,
	]);
	rows.push([
		'gfw boot',
		d.gfwBootComplete === undefined
			? c.dim('unknown')
			: d.gfwBootComplete
				? 'complete'
				: c.yellow('not complete'),
	]);
	rows.push(['firmware', c.dim('not loaded (probe only; run without `probe` to boot)')]);
	const width = Math.max(...rows.map(([k]) => k.length)) + 2;
	return rows.map(([k, v]) => `  ${c.cyan(k.padEnd(width))}${v}`).join('\n');
}
