/**
 * r570's `gsp`: RMARGS gained `bDmemStack` and lost the lockless queue offsets, a resume sets the
 * PM-transition flags, `GspSystemInfo` carries the PCI IDs, static info reports the ACR-chosen WPR
 * offsets, and the ignored events changed (nouveau `r570_gsp`). Built from r535's helpers.
 *
 * @module
 */

import { type ByteSource, decode } from '@gspkit/abi';
import {
	type AbiContext,
	build,
	type GspApi,
	type RmArgsInput,
	rmArgsCommon,
	type StaticInfo,
	type SystemInfoInput,
	specs,
	staticInfoCommon,
	systemInfoCommon,
	unloadEncoder,
	type WprMeta,
} from '@gspkit/abi-r535';
import { ARGUMENTS_CACHED_R570, STATIC_CONFIG_INFO_R570, SYSTEM_INFO_R570 } from '../specs.ts';
import { R570_PACKAGE } from '../util.ts';

/** Build r570's `gsp` sub-interface. */
export function createGspApi(ctx: AbiContext): GspApi {
	return ctx.build('gsp', R570_PACKAGE, 'createGspApi', () => ({
		...unloadEncoder(ctx),
		...ctx.members({
			argumentsCachedLayout: () => ctx.bind(specs.ARGUMENTS_CACHED),
			systemInfoLayout: () => ctx.bind(specs.SYSTEM_INFO),
			staticInfoLayout: () => ctx.bind(specs.STATIC_CONFIG_INFO),
			encodeRmArgs: () => {
				const args570 = ctx.bind(ARGUMENTS_CACHED_R570);
				const level3 = ctx.constant('NV2080_CTRL_GPU_SET_POWER_STATE_GPU_LEVEL_3');
				const resumeFlags =
					ctx.constant('GPU_STATE_FLAGS_PRESERVING') | ctx.constant('GPU_STATE_FLAGS_PM_TRANSITION');
				return (p: RmArgsInput) =>
					build(args570, {
						...rmArgsCommon(p),
						srInitArguments:
							p.resume === true
								? { oldLevel: level3, flags: resumeFlags, bInPMTransition: 1 }
								: { oldLevel: 0, flags: 0, bInPMTransition: 0 },
						bDmemStack: 1,
					});
			},
			encodeSystemInfo: () => {
				const sys570 = ctx.bind(SYSTEM_INFO_R570);
				return (p: SystemInfoInput) =>
					build(sys570, {
						...systemInfoCommon(p),
						PCIDeviceID: ((p.pciDeviceId << 16) | p.pciVendorId) >>> 0,
						PCISubDeviceID: (((p.pciSubsystemId ?? 0) << 16) | (p.pciSubsystemVendorId ?? 0)) >>> 0,
						PCIRevisionID: p.pciRevisionId ?? 0,
						bIsPrimary: p.isPrimary === true ? 1 : 0,
						bPreserveVideoMemoryAllocations: 0,
						// nouveau and nova-core leave hostPageSize 0; pass it to report the host's page size.
						hostPageSize: BigInt(p.hostPageSize ?? 0),
					});
			},
			decodeStaticInfo: () => {
				const static570 = ctx.bind(STATIC_CONFIG_INFO_R570);
				return (payload: ByteSource): StaticInfo => {
					const v = decode(static570, payload, 0, { snapshot: false });
					return {
						...staticInfoCommon(v),
						fwWprLayoutOffset: {
							nonWprHeapOffset: v.fwWprLayoutOffset.nonWprHeapOffset,
							frtsOffset: v.fwWprLayoutOffset.frtsOffset,
						},
						raw: v,
					};
				};
			},
			ignoredEvents: () =>
				Object.freeze(
					[
						'PERF_BRIDGELESS_INFO_UPDATE',
						'UCODE_LIBOS_PRINT',
						'GSP_POST_NOCAT_RECORD',
						'GSP_LOCKDOWN_NOTICE',
					].map((n) => ctx.constant(`NV_VGPU_MSG_EVENT_${n}`)),
				),
			suspendResumeDataSize: () => (m: WprMeta) =>
				m.frtsOffset + m.frtsSize - (m.nonWprHeapOffset + m.nonWprHeapSize),
		}),
	}));
}
