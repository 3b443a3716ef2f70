/**
 * Helpers for the `core-*` end-to-end tests: what an application does to open `@gspkit/core` on the simulated
 * GPU — hand it the ABI packages and gpu-sim's synthetic firmware — plus a small copy job.
 */

import type { FirmwareAbi } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import { type Device, type DeviceVaSpace, type OpenDeviceOptions, openDevice } from '@gspkit/core';
import { createSimulatedGpu, type SimulatedGpu, syntheticFirmware } from '@gspkit/gpu-sim';

export const ABIS: readonly FirmwareAbi[] = [r570, r535];
export const BRANCHES = [
	{ branch: '535', version: '535.113.01' },
	{ branch: '570', version: '570.144' },
] as const;

/** gpu-sim's synthetic firmware for `chip`, both versions, named as the ABIs list the files. */
export function syntheticFiles(chip: string): Map<string, Uint8Array> {
	const files = new Map<string, Uint8Array>();
	for (const v of ['535.113.01', '570.144']) {
		for (const [rel, b] of syntheticFirmware(chip, v).files) files.set(`nvidia/${chip}/${rel}`, b);
	}
	return files;
}

/** Open a device on a fresh simulated `chip` with synthetic firmware, forcing `branch`. */
export async function openSynthetic(
	chip: string,
	branch: string,
	options: Omit<OpenDeviceOptions, 'abis' | 'firmware' | 'abiOverride'> = {},
): Promise<{ gpu: SimulatedGpu; device: Device }> {
	const gpu = createSimulatedGpu({ chip });
	const device = await openDevice(gpu, {
		abis: ABIS,
		firmware: { files: syntheticFiles(chip), label: 'synthetic' },
		abiOverride: branch,
		...options,
	});
	return { gpu, device };
}

/** A deterministic byte pattern. */
export function patternBytes(n: number, seed: number): Uint8Array {
	const out = new Uint8Array(n);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		out[i] = x & 0xff;
	}
	return out;
}

/** First index where `a` and `b` differ, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
	if (a.length !== b.length) return Math.min(a.length, b.length);
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
	return -1;
}

/**
 * Copy `size` pattern bytes system memory → VRAM → system memory through one channel (two jobs, the second
 * depending on the first); returns what came back and what was sent.
 */
export async function copyRoundTrip(
	device: Device,
	vas: DeviceVaSpace,
	size: number,
	seed = 1,
): Promise<{ sent: Uint8Array; back: Uint8Array; vram: Uint8Array }> {
	const ch = await device.createChannel(vas, { engine: 'copy' });
	const src = device.allocMemory({ size, placement: 'sysmem', label: 'src' });
	const mid = device.allocMemory({ size, placement: 'vram', label: 'mid' });
	const dst = device.allocMemory({ size, placement: 'sysmem', label: 'dst' });
	try {
		const sent = patternBytes(size, seed);
		src.write(0, sent);
		const [ms, mm, md] = [vas.map(src), vas.map(mid), vas.map(dst)];
		const a = ch.copy({ src: ms.va, dst: mm.va, length: size });
		const b = ch.copy({ src: mm.va, dst: md.va, length: size }, { dependencies: [a.finished] });
		await b.finished.result();
		const back = dst.read(0, size);
		const vram = mid.read(0, size);
		for (const m of [ms, mm, md]) vas.unmap(m);
		return { sent, back, vram };
	} finally {
		await ch.destroy();
		for (const m of [src, mid, dst]) m.free();
	}
}
