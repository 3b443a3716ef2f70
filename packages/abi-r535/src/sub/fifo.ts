/**
 * `fifo`: GPFIFO channel allocation, the device-info table, channel controls and engine numbering.
 * r570 changed the constructed-falcon control (moved from `INTERNAL` to `GPU`, new struct name) and
 * reserves one channel ID per runlist; it builds its own `fifo` from {@link fifoApi} with those facts —
 * as nouveau's `r570_fifo` calls r535 helpers.
 *
 * @module
 */

import { type ByteSource, decode } from '@gspkit/abi';
import type { ChannelAllocInput, DeviceInfoEntry, EngineId, FifoApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { engineTables } from '../engines.ts';
import { WORK_SUBMIT_TOKEN } from '../sdk.ts';
import {
	CHANNEL_ALLOC,
	CHANNEL_BIND,
	FIFO_GET_DEVICE_INFO_TABLE,
	GET_CONSTRUCTED_FALCON_INFO_R535,
	GPFIFO_SCHEDULE,
	RC_TRIGGERED,
} from '../specs.ts';
import { build, controlCall, drf, R535_PACKAGE } from '../util.ts';

/** The branch-specific facts {@link fifoApi} needs. */
export interface FifoVariant {
	/** Control name of "get constructed falcon info" in this branch. */
	readonly constructedFalconControl: string;
	/** Its params shape (fields `numConstructedFalcons`, `constructedFalconsTable[]{engDesc, ctxBufferSize, …}`). */
	readonly constructedFalconParams: typeof GET_CONSTRUCTED_FALCON_INFO_R535;
	/** Channel IDs reserved per runlist. */
	readonly reservedChids: number;
}

/** r535's fifo facts. */
export const R535_FIFO: FifoVariant = Object.freeze({
	constructedFalconControl: 'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO',
	constructedFalconParams: GET_CONSTRUCTED_FALCON_INFO_R535,
	reservedChids: 0,
});

/**
 * The `fifo` sub-interface's members for `ctx` and `variant` (without provenance; see `createFifoApi`). Each
 * member is made in its own recording scope ({@link AbiContext.members}); the engine tables are shared.
 */
export function fifoApi(ctx: AbiContext, variant: FifoVariant): Omit<FifoApi, 'provenance'> {
	const engines = engineTables(ctx);
	const withNv2080 = (rmType: number) => {
		const e = engines.rm.get(rmType);
		return e === undefined ? undefined : { ...e, nv2080Type: engines.nv2080(e) };
	};
	const r = (name: string) => ctx.bitRange(name);
	const members = ctx.members({
		channelAllocLayout: () => ctx.bind(CHANNEL_ALLOC),
		encodeChannelAlloc: () => {
			const layout = ctx.bind(CHANNEL_ALLOC);
			return (p: ChannelAllocInput) => build(layout, { ...p });
		},
		channelFlags: () => {
			const bits = {
				runqueue: r('NVOS04_FLAGS_GROUP_CHANNEL_RUNQUEUE'),
				privileged: r('NVOS04_FLAGS_PRIVILEGED_CHANNEL'),
				userdIndex: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_VALUE'),
				userdIndexPage: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_VALUE'),
				userdIndexPageFixed: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_FIXED'),
			};
			const privTrue = ctx.constant('NVOS04_FLAGS_PRIVILEGED_CHANNEL_TRUE');
			const pageFixedTrue = ctx.constant('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_FIXED_TRUE');
			return (p: Parameters<FifoApi['channelFlags']>[0]) =>
				(drf(bits.runqueue, p.runqueue, 'runqueue') |
					drf(bits.privileged, p.privileged ? privTrue : 0, 'privileged') |
					drf(bits.userdIndex, p.userdIndex, 'userdIndex') |
					drf(bits.userdIndexPage, p.userdIndexPage, 'userdIndexPage') |
					drf(bits.userdIndexPageFixed, pageFixedTrue, 'userdIndexPageFixed')) >>>
				0;
		},
		internalFlags: () => {
			const intr = {
				privilege: r('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_PRIVILEGE'),
				error: r('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_ERROR_NOTIFIER_TYPE'),
				ecc: r('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_ECC_ERROR_NOTIFIER_TYPE'),
				user: ctx.constant('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_PRIVILEGE_USER'),
				admin: ctx.constant('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_PRIVILEGE_ADMIN'),
				kernel: ctx.constant('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_PRIVILEGE_KERNEL'),
				none: ctx.constant('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_ERROR_NOTIFIER_TYPE_NONE'),
				eccNone: ctx.constant('NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_ECC_ERROR_NOTIFIER_TYPE_NONE'),
			};
			return (p: Parameters<FifoApi['internalFlags']>[0]) =>
				(drf(intr.privilege, intr[p.privilege], 'privilege') |
					drf(intr.error, intr.none, 'errorNotifier') |
					drf(intr.ecc, intr.eccNone, 'eccErrorNotifier')) >>>
				0;
		},
		getDeviceInfoTable: () => {
			const layout = ctx.bind(FIFO_GET_DEVICE_INFO_TABLE);
			const cmd = ctx.constant('NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE');
			const infoTypes = [...ctx.group('enum:ENGINE_INFO_TYPE')]
				.map(([name, v]) => [name.slice('ENGINE_INFO_TYPE_'.length), Number(v)] as const)
				.filter(([name]) => !['INVALID', 'KERNEL_RM_MAX', 'ENGINE_DATA_ARRAY_SIZE'].includes(name));
			const rmEngineTypeIndex = ctx.constant('ENGINE_INFO_TYPE_RM_ENGINE_TYPE');
			return (baseIndex = 0) =>
				controlCall('NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE', cmd, layout, { baseIndex }, (v) => ({
					more: v.bMore !== 0,
					entries: v.entries.slice(0, v.numEntries).map(
						(e): DeviceInfoEntry => ({
							engineName: e.engineName,
							data: Object.fromEntries(
								infoTypes.filter(([, i]) => i < e.engineData.length).map(([n, i]) => [n, e.engineData[i]!]),
							),
							engine: withNv2080(e.engineData[rmEngineTypeIndex]!),
							pbdmaIds: [...e.pbdmaIds.subarray(0, e.numPbdmas)],
							pbdmaFaultIds: [...e.pbdmaFaultIds.subarray(0, e.numPbdmas)],
						}),
					),
				}));
		},
		bind: () => {
			const layout = ctx.bind(CHANNEL_BIND);
			const cmd = ctx.constant('NVA06F_CTRL_CMD_BIND');
			return (engineType: number) =>
				controlCall('NVA06F_CTRL_CMD_BIND', cmd, layout, { engineType }, () => undefined);
		},
		schedule: () => {
			const layout = ctx.bind(GPFIFO_SCHEDULE);
			const cmd = ctx.constant('NVA06F_CTRL_CMD_GPFIFO_SCHEDULE');
			return (enable: boolean) =>
				controlCall(
					'NVA06F_CTRL_CMD_GPFIFO_SCHEDULE',
					cmd,
					layout,
					{ bEnable: enable ? 1 : 0 },
					() => undefined,
				);
		},
		workSubmitToken: () => {
			const { name, cmd, params } = WORK_SUBMIT_TOKEN;
			// Sent as 0xffffffff (as NVIDIA's user-mode clients do): a reply that did not fill it stands out.
			return () => controlCall(name, cmd, params, { workSubmitToken: 0xffffffff }, (v) => v.workSubmitToken);
		},
		constructedFalcons: () => {
			const layout = ctx.bind(variant.constructedFalconParams);
			const cmd = ctx.constant(variant.constructedFalconControl);
			return () =>
				controlCall(variant.constructedFalconControl, cmd, layout, {}, (v) =>
					v.constructedFalconsTable
						.slice(0, v.numConstructedFalcons)
						.map((f) => ({ engDesc: f.engDesc, ctxBufferSize: f.ctxBufferSize })),
				);
		},
		engineFromRmType: () => withNv2080,
		nv2080EngineType: () => (engine: EngineId) => engines.nv2080(engine),
		decodeRcTriggered: () => {
			const layout = ctx.bind(RC_TRIGGERED);
			return (payload: ByteSource) => decode(layout, payload, 0, { snapshot: false });
		},
	});
	return { ...members, reservedChids: variant.reservedChids };
}

/** Build r535's `fifo` sub-interface on `ctx`'s layouts. */
export function createFifoApi(ctx: AbiContext): FifoApi {
	return ctx.build('fifo', R535_PACKAGE, 'createFifoApi', () => fifoApi(ctx, R535_FIFO));
}
