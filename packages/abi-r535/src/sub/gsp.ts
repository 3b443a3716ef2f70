/**
 * `gsp`: the boot-time payloads whose content changed between branches — RMARGS
 * (`GSP_ARGUMENTS_CACHED`), `GspSystemInfo`, the static-info reply, the unload message — and which
 * events the driver may ignore. nouveau's `r535_gsp`; r570 has its own (`@gspkit/abi-r570`), built from
 * the helpers exported here.
 *
 * @module
 */

import { type ByteSource, decode, readCString } from '@gspkit/abi';
import type { FbRegion, GspApi, RmArgsInput, StaticInfo, SystemInfoInput, WprMeta } from '../api.ts';
import type { AbiContext } from '../context.ts';
import type { LayoutOfSpec } from '../shape.ts';
import {
	ARGUMENTS_CACHED,
	ARGUMENTS_CACHED_R535,
	STATIC_CONFIG_INFO,
	SYSTEM_INFO,
	UNLOADING_GUEST_DRIVER,
} from '../specs.ts';
import { build, R535_PACKAGE } from '../util.ts';

const text = (bytes: Uint8Array): string => readCString(bytes, 0, bytes.length);

/** The neutral {@link StaticInfo} fields both branches have, from a decoded `GspStaticConfigInfo`. */
export function staticInfoCommon(
	v: import('@gspkit/abi').Value<LayoutOfSpec<typeof STATIC_CONFIG_INFO>>,
): Omit<StaticInfo, 'fwWprLayoutOffset' | 'raw'> {
	const fb = v.fbRegionInfoParams;
	const fbRegions: FbRegion[] = fb.fbRegion
		.slice(0, Math.min(fb.numFBRegions, fb.fbRegion.length))
		.map((r) => ({
			base: r.base,
			limit: r.limit,
			reserved: r.reserved,
			performance: r.performance,
			supportCompressed: r.supportCompressed !== 0,
			supportISO: r.supportISO !== 0,
			protected: r.bProtected !== 0,
		}));
	return {
		hInternalClient: v.hInternalClient,
		hInternalDevice: v.hInternalDevice,
		hInternalSubdevice: v.hInternalSubdevice,
		bar1PdeBase: v.bar1PdeBase,
		bar2PdeBase: v.bar2PdeBase,
		fbLength: v.fb_length,
		fbRegions,
		l2CacheSize: v.l2_cache_size,
		gpuName: text(v.gpuNameString),
		gpuShortName: text(v.gpuShortNameString),
		isMobile: v.bIsMobile !== 0,
	};
}

/** The `GspSystemInfo` fields both branches fill the same way. */
export function systemInfoCommon(p: SystemInfoInput) {
	return {
		gpuPhysAddr: p.gpuPhysAddr,
		gpuPhysFbAddr: p.gpuPhysFbAddr,
		gpuPhysInstAddr: p.gpuPhysInstAddr,
		nvDomainBusDeviceFunc: BigInt(p.pciBdf),
		maxUserVa: p.maxUserVa,
		pciConfigMirrorBase: p.pciConfigMirrorBase,
		pciConfigMirrorSize: p.pciConfigMirrorSize,
	};
}

/** The message-queue and profiler part of RMARGS. */
export function rmArgsCommon(p: RmArgsInput) {
	return {
		messageQueueInitArguments: {
			sharedMemPhysAddr: p.sharedMemPhysAddr,
			pageTableEntryCount: p.pageTableEntryCount,
			cmdQueueOffset: p.cmdQueueOffset,
			statQueueOffset: p.statQueueOffset,
		},
		gpuInstance: p.gpuInstance ?? 0,
		profilerArgs: { pa: p.profiler?.pa ?? 0n, size: p.profiler?.size ?? 0n },
	};
}

/** The unload/suspend message (`newLevel` 0 or `GPU_LEVEL_3`). */
export function unloadEncoder(ctx: AbiContext): Pick<GspApi, 'unloadLayout' | 'encodeUnload'> {
	return ctx.members({
		unloadLayout: () => ctx.bind(UNLOADING_GUEST_DRIVER),
		encodeUnload: () => {
			const layout = ctx.bind(UNLOADING_GUEST_DRIVER);
			const level3 = ctx.constant('NV2080_CTRL_GPU_SET_POWER_STATE_GPU_LEVEL_3');
			const level0 = ctx.constant('NV2080_CTRL_GPU_SET_POWER_STATE_GPU_LEVEL_0');
			return (p: { readonly suspend?: boolean; readonly gc6?: boolean } = {}) =>
				build(layout, {
					bInPMTransition: p.suspend === true ? 1 : 0,
					bGc6Entering: p.gc6 === true ? 1 : 0,
					newLevel: p.suspend === true ? level3 : level0,
				});
		},
	});
}

/** Build r535's `gsp` sub-interface. */
export function createGspApi(ctx: AbiContext): GspApi {
	return ctx.build('gsp', R535_PACKAGE, 'createGspApi', () => ({
		...unloadEncoder(ctx),
		...ctx.members({
			argumentsCachedLayout: () => ctx.bind(ARGUMENTS_CACHED),
			systemInfoLayout: () => ctx.bind(SYSTEM_INFO),
			staticInfoLayout: () => ctx.bind(STATIC_CONFIG_INFO),
			encodeRmArgs: () => {
				const args535 = ctx.bind(ARGUMENTS_CACHED_R535);
				const level3 = ctx.constant('NV2080_CTRL_GPU_SET_POWER_STATE_GPU_LEVEL_3');
				return (p: RmArgsInput) => {
					const c = rmArgsCommon(p);
					return build(args535, {
						...c,
						messageQueueInitArguments: {
							...c.messageQueueInitArguments,
							locklessCmdQueueOffset: 0n,
							locklessStatQueueOffset: 0n,
						},
						// r535 resumes with flags 0 (nouveau r535_gsp_set_rmargs); r570 adds the PM-transition flags.
						srInitArguments:
							p.resume === true
								? { oldLevel: level3, flags: 0, bInPMTransition: 1 }
								: { oldLevel: 0, flags: 0, bInPMTransition: 0 },
					});
				};
			},
			encodeSystemInfo: () => {
				const layout = ctx.bind(SYSTEM_INFO);
				return (p: SystemInfoInput) => build(layout, systemInfoCommon(p));
			},
			decodeStaticInfo: () => {
				const layout = ctx.bind(STATIC_CONFIG_INFO);
				return (payload: ByteSource): StaticInfo => {
					const v = decode(layout, payload, 0, { snapshot: false });
					return { ...staticInfoCommon(v), raw: v };
				};
			},
			ignoredEvents: () =>
				Object.freeze(
					['PERF_BRIDGELESS_INFO_UPDATE', 'UCODE_LIBOS_PRINT', 'GSP_SEND_USER_SHARED_DATA'].map((n) =>
						ctx.constant(`NV_VGPU_MSG_EVENT_${n}`),
					),
				),
			suspendResumeDataSize: () => (meta: WprMeta) => meta.gspFwWprEnd - meta.gspFwWprStart,
		}),
	}));
}
