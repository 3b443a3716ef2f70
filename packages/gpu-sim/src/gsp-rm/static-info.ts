/**
 * `GspStaticConfigInfo`, the reply to GET_GSP_STATIC_INFO (65), in the layout of the booted branch: 2168 bytes
 * with `gpcInfo`/`tpcInfo`/`zcullInfo` in r535, 1656 bytes without them in r570 (where the driver asks the
 * GPC/TPC controls instead). Contents follow the simulated board: FB regions from the VRAM carve-up, the
 * internal client/device/subdevice that exist in the object tree, BAR page-directory bases inside RM's
 * private VRAM, the chip's engines and names.
 *
 * @module
 */

import type { SimChipSpec } from '../chips.ts';
import { gpcCount, tpcCount, tpcMask } from './chip-config.ts';
import type { RmServer } from './rm.ts';

/** Values from the booter's `GspFwWprMeta` that the static info echoes (r570 `fwWprLayoutOffset`). */
export interface WprMetaInfo {
	readonly gspFwRsvdStart: bigint;
	readonly nonWprHeapOffset: bigint;
	readonly frtsOffset: bigint;
	readonly fbSize: bigint;
}

/** A stable 16-byte GPU UUID derived from the board (FNV-1a over its identity). */
export function gpuUuid(chip: SimChipSpec): Uint8Array {
	const out = new Uint8Array(16);
	let h = 0x811c9dc5;
	const text = `${chip.name}:${chip.deviceId}:${chip.subsystemId}:gspkit`;
	for (let i = 0; i < 16; i++) {
		for (let j = 0; j < text.length; j++) {
			h ^= text.charCodeAt(j) + i;
			h = Math.imul(h, 0x01000193) >>> 0;
		}
		out[i] = h & 0xff;
	}
	out[6] = (out[6]! & 0x0f) | 0x40;
	out[8] = (out[8]! & 0x3f) | 0x80;
	return out;
}

/** Build the static info image for the booted branch. */
export function buildStaticInfo(rm: RmServer, board: SimChipSpec, wpr?: WprMetaInfo): Uint8Array {
	const { abi, chip, fb } = rm;
	const img = abi.image('GspStaticConfigInfo');
	const r535 = abi.branch === 'r535';
	const dataCentre = chip.family === 'ga100' || chip.family === 'hopper';

	img.set('gidInfo.index', 0).set('gidInfo.flags', 2).set('gidInfo.length', 16);
	img.setBytes('gidInfo.data', gpuUuid(board));

	if (r535) {
		img.set('gpcInfo.gpcMask', gpcCount(chip) >= 32 ? 0xffff_ffff : 2 ** gpcCount(chip) - 1);
		for (let g = 0; g < gpcCount(chip); g++) {
			img.set(`tpcInfo[${g}].gpcId`, g).set(`tpcInfo[${g}].tpcMask`, tpcMask(chip, g));
			img.set(`zcullInfo[${g}].gpcId`, g).set(`zcullInfo[${g}].zcullMask`, tpcMask(chip, g));
		}
		img.set('computeBranding', dataCentre ? 1 : 0);
		const sms = tpcCount(chip) * chip.smPerTpc;
		img
			.set('SM_info.version', 1)
			.set('SM_info.regBankCount', 4)
			.set('SM_info.regBankRegCount', 16384)
			.set('SM_info.maxWarpsPerSM', chip.maxWarpsPerSm)
			.set('SM_info.maxThreadsPerWarp', 32)
			.set('SM_info.maxSPPerSM', chip.maxSpPerSm)
			.set('SM_info.rtCoreCount', sms * chip.rtCoresPerSm);
	} else {
		img.set('bIsMigSupported', dataCentre ? 1 : 0);
		if (wpr !== undefined) {
			img
				.set('fwWprLayoutOffset.nonWprHeapOffset', wpr.nonWprHeapOffset)
				.set('fwWprLayoutOffset.frtsOffset', wpr.frtsOffset);
		}
	}

	img.set('SKUInfo.BoardID', board.deviceId);
	img.setString('SKUInfo.project', board.name.toUpperCase());

	// FB regions: the driver's VRAM, RM's client heap, RM private + firmware-reserved top.
	const regions: { base: bigint; limit: bigint; reserved: bigint; prot: number; perf: number }[] = [
		{ base: 0n, limit: fb.driverEnd - 1n, reserved: 0n, prot: 0, perf: 100 },
		{ base: fb.heapStart, limit: fb.heapEnd - 1n, reserved: fb.heapEnd - fb.heapStart, prot: 0, perf: 100 },
		{ base: fb.heapEnd, limit: fb.vramSize - 1n, reserved: fb.vramSize - fb.heapEnd, prot: 1, perf: 0 },
	];
	img.set('fbRegionInfoParams.numFBRegions', regions.length);
	regions.forEach((r, i) => {
		const at = `fbRegionInfoParams.fbRegion[${i}]`;
		img
			.set(`${at}.base`, r.base)
			.set(`${at}.limit`, r.limit)
			.set(`${at}.reserved`, r.reserved)
			.set(`${at}.performance`, r.perf)
			.set(`${at}.supportCompressed`, r.prot ? 0 : 1)
			.set(`${at}.supportISO`, r.prot ? 0 : 1)
			.set(`${at}.bProtected`, r.prot);
	});

	const sriov = board.sriov;
	if (sriov !== null) {
		img
			.set('sriovCaps.totalVFs', sriov.totalVFs)
			.set('sriovCaps.firstVfOffset', sriov.firstVfOffset)
			.set('sriovCaps.bar0Size', BigInt(sriov.vfBar0Size))
			.set('sriovCaps.bar1Size', sriov.vfBar1Size)
			.set('sriovCaps.bar2Size', sriov.vfBar3Size)
			.set('sriovCaps.b64bitBar1', 1)
			.set('sriovCaps.b64bitBar2', 1)
			.set('sriovMaxGfid', sriov.totalVFs);
	}

	// engineCaps: one bit per RM_ENGINE_TYPE present (its numbering differs per branch).
	const capsLen = abi.fieldSpan('GspStaticConfigInfo', 'engineCaps').size / 4;
	const caps = new Array<number>(capsLen).fill(0);
	for (const e of rm.engines) {
		const t = abi.engineType(e.rmEngineType);
		if (t >> 5 < capsLen) caps[t >> 5] = (caps[t >> 5]! | (1 << (t & 31))) >>> 0;
	}
	caps.forEach((c, i) => {
		img.set(`engineCaps[${i}]`, c);
	});

	const fbps = chip.fbBusWidth >= 1024 ? 10 : chip.fbBusWidth / 32;
	const fbpMask = 2 ** fbps - 1;
	img
		.set('fb_length', fb.vramSize)
		.set('fbio_mask', r535 ? fbpMask : BigInt(fbpMask))
		.set('fb_bus_width', chip.fbBusWidth)
		.set('fbp_mask', r535 ? fbpMask : BigInt(fbpMask))
		.set('l2_cache_size', chip.l2CacheBytes);

	img.setString('gpuNameString', chip.fullName);
	img.setString('gpuShortNameString', chip.shortName);
	img.setUtf16('gpuNameString_Unicode', chip.fullName);
	img.set('bIsTesla', dataCentre ? 1 : 0).set('bIsMobile', board.product.includes('Mobile') ? 1 : 0);
	img.set('bar1PdeBase', fb.bar1PdeBase).set('bar2PdeBase', fb.bar2PdeBase);
	img
		.set('bVbiosValid', 1)
		.set('vbiosSubVendor', board.subsystemVendorId)
		.set('vbiosSubDevice', board.subsystemId);
	img.set('bPageRetirementSupported', dataCentre ? 1 : 0).set('bSplitVasBetweenServerClientRm', 1);
	img
		.set('hInternalClient', rm.internal.hClient)
		.set('hInternalDevice', rm.internal.hDevice)
		.set('hInternalSubdevice', rm.internal.hSubdevice);
	return img.bytes;
}
