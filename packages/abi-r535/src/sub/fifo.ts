/**
 * `fifo`: GPFIFO channel allocation, the device-info table, channel controls and engine numbering.
 * r570 changed the constructed-falcon control (moved from `INTERNAL` to `GPU`, new struct name) and
 * reserves one channel ID per runlist; it builds its own `fifo` from {@link fifoApi} with those facts —
 * as nouveau's `r570_fifo` calls r535 helpers.
 *
 * @module
 */

import { type ByteSource, decode } from '@gspkit/abi';
import type { ChannelAllocInput, DeviceInfoEntry, FifoApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { engineTables } from '../engines.ts';
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

/** The `fifo` sub-interface's members for `ctx` and `variant` (without provenance; see `createFifoApi`). */
export function fifoApi(ctx: AbiContext, variant: FifoVariant): Omit<FifoApi, 'provenance'> {
	const channelAllocLayout = ctx.bind(CHANNEL_ALLOC);
	const bindLayout = ctx.bind(CHANNEL_BIND);
	const scheduleLayout = ctx.bind(GPFIFO_SCHEDULE);
	const devInfoLayout = ctx.bind(FIFO_GET_DEVICE_INFO_TABLE);
	const falconLayout = ctx.bind(variant.constructedFalconParams);
	const rcLayout = ctx.bind(RC_TRIGGERED);
	const cmd = {
		bind: ctx.constant('NVA06F_CTRL_CMD_BIND'),
		schedule: ctx.constant('NVA06F_CTRL_CMD_GPFIFO_SCHEDULE'),
		devInfo: ctx.constant('NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE'),
		falcons: ctx.constant(variant.constructedFalconControl),
	};
	const engines = engineTables(ctx);
	const infoTypes = [...ctx.group('enum:ENGINE_INFO_TYPE')]
		.map(([name, v]) => [name.slice('ENGINE_INFO_TYPE_'.length), Number(v)] as const)
		.filter(([name]) => !['INVALID', 'KERNEL_RM_MAX', 'ENGINE_DATA_ARRAY_SIZE'].includes(name));
	const rmEngineTypeIndex = ctx.constant('ENGINE_INFO_TYPE_RM_ENGINE_TYPE');
	const r = (name: string) => ctx.bitRange(name);
	const flagBits = {
		runqueue: r('NVOS04_FLAGS_GROUP_CHANNEL_RUNQUEUE'),
		privileged: r('NVOS04_FLAGS_PRIVILEGED_CHANNEL'),
		userdIndex: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_VALUE'),
		userdIndexPage: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_VALUE'),
		userdIndexPageFixed: r('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_FIXED'),
	};
	const privTrue = ctx.constant('NVOS04_FLAGS_PRIVILEGED_CHANNEL_TRUE');
	const pageFixedTrue = ctx.constant('NVOS04_FLAGS_CHANNEL_USERD_INDEX_PAGE_FIXED_TRUE');
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
	const withNv2080 = (rmType: number) => {
		const e = engines.rm.get(rmType);
		return e === undefined ? undefined : { ...e, nv2080Type: engines.nv2080(e) };
	};
	return {
		channelAllocLayout,
		reservedChids: variant.reservedChids,
		encodeChannelAlloc: (p: ChannelAllocInput) => build(channelAllocLayout, { ...p }),
		channelFlags: (p) =>
			(drf(flagBits.runqueue, p.runqueue, 'runqueue') |
				drf(flagBits.privileged, p.privileged ? privTrue : 0, 'privileged') |
				drf(flagBits.userdIndex, p.userdIndex, 'userdIndex') |
				drf(flagBits.userdIndexPage, p.userdIndexPage, 'userdIndexPage') |
				drf(flagBits.userdIndexPageFixed, pageFixedTrue, 'userdIndexPageFixed')) >>>
			0,
		internalFlags: (p) =>
			(drf(intr.privilege, intr[p.privilege], 'privilege') |
				drf(intr.error, intr.none, 'errorNotifier') |
				drf(intr.ecc, intr.eccNone, 'eccErrorNotifier')) >>>
			0,
		getDeviceInfoTable: (baseIndex = 0) =>
			controlCall(
				'NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE',
				cmd.devInfo,
				devInfoLayout,
				{ baseIndex },
				(v) => ({
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
				}),
			),
		bind: (engineType: number) =>
			controlCall('NVA06F_CTRL_CMD_BIND', cmd.bind, bindLayout, { engineType }, () => undefined),
		schedule: (enable: boolean) =>
			controlCall(
				'NVA06F_CTRL_CMD_GPFIFO_SCHEDULE',
				cmd.schedule,
				scheduleLayout,
				{ bEnable: enable ? 1 : 0 },
				() => undefined,
			),
		constructedFalcons: () =>
			controlCall(variant.constructedFalconControl, cmd.falcons, falconLayout, {}, (v) =>
				v.constructedFalconsTable
					.slice(0, v.numConstructedFalcons)
					.map((f) => ({ engDesc: f.engDesc, ctxBufferSize: f.ctxBufferSize })),
			),
		engineFromRmType: withNv2080,
		nv2080EngineType: (engine) => engines.nv2080(engine),
		decodeRcTriggered: (payload: ByteSource) => decode(rcLayout, payload, 0, { snapshot: false }),
	};
}

/** Build r535's `fifo` sub-interface on `ctx`'s layouts. */
export function createFifoApi(ctx: AbiContext): FifoApi {
	return ctx.build('fifo', R535_PACKAGE, 'createFifoApi', () => fifoApi(ctx, R535_FIFO));
}
