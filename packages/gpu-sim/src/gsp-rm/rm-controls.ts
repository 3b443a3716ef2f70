/**
 * The RM controls the emulator answers, with RM's dispatch rules (OpenRM `rmapi/control.c`): the NULL
 * command succeeds before anything is looked up; a known command with the wrong parameter size is
 * NV_ERR_INVALID_ARGUMENT; then client (NV_ERR_INVALID_CLIENT), object (NV_ERR_OBJECT_NOT_FOUND) and whether
 * the object's class exports the command (NV_ERR_NOT_SUPPORTED).
 *
 * @module
 */

import { rootEntries, rootPageShift, type VaSpaceRecord } from './channels.ts';
import { gpcCount, gpcMask, INTR_INVALID_VECTOR, SIM_GSP_STALL_VECTOR, tpcMask } from './chip-config.ts';
import {
	GMMU_FMT_MAX_LEVELS,
	NV_STATUS,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_START,
} from './constants.ts';
import type { RmChannelInfo, RmObject, RmObjectKind, RmResult, RmServer } from './rm.ts';

type Handler = (rm: RmServer, obj: RmObject, params: Uint8Array) => number;

interface ControlDesc {
	/** Parameter struct name. */
	readonly params: string;
	readonly kinds: readonly RmObjectKind[];
	readonly handler: Handler;
}

const CHANNEL: readonly RmObjectKind[] = ['channel'];
const DEVICE: readonly RmObjectKind[] = ['device'];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The VA space a device DMA control names (OpenRM `vaspaceGetByHandleOrDeviceDefault`): a FERMI_VASPACE_A of this
 * client under this device. Handle 0 means the device's default VA space, which is RM-managed (so not one a root
 * can be set for); the emulator has none and says NOT_SUPPORTED, as RM does for that space.
 */
function deviceVaSpace(device: RmObject, hVASpace: number): RmObject | number {
	if (hVASpace === 0) return NV_STATUS.NV_ERR_NOT_SUPPORTED;
	const vas = device.client.objects.get(hVASpace);
	if (vas === undefined) return NV_STATUS.NV_ERR_OBJECT_NOT_FOUND;
	if (vas.kind !== 'vaspace' || vas.parent !== device) return NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE;
	return vas;
}
const SUBDEVICE: readonly RmObjectKind[] = ['subdevice'];

/** Control name → how it is answered. The ID comes from the booted ABI. */
const CONTROLS: Readonly<Record<string, ControlDesc>> = {
	NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO: {
		params: 'NV2080_CTRL_GPU_GET_FERMI_GPC_INFO_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			rm.abi.image('NV2080_CTRL_GPU_GET_FERMI_GPC_INFO_PARAMS', params).set('gpcMask', gpcMask(rm.chip));
			return NV_STATUS.NV_OK;
		},
	},
	NV2080_CTRL_CMD_GPU_GET_FERMI_TPC_INFO: {
		params: 'NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			const img = rm.abi.image('NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS', params);
			const gpc = img.get<number>('gpcId');
			if (gpc >= gpcCount(rm.chip)) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			img.set('tpcMask', tpcMask(rm.chip, gpc));
			return NV_STATUS.NV_OK;
		},
	},
	NV2080_CTRL_CMD_GPU_GET_FERMI_ZCULL_INFO: {
		params: 'NV2080_CTRL_GPU_GET_FERMI_ZCULL_INFO_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			const img = rm.abi.image('NV2080_CTRL_GPU_GET_FERMI_ZCULL_INFO_PARAMS', params);
			const gpc = img.get<number>('gpcId');
			if (gpc >= gpcCount(rm.chip)) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			img.set('zcullMask', tpcMask(rm.chip, gpc));
			return NV_STATUS.NV_OK;
		},
	},
	NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE: {
		params: 'NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			const img = rm.abi.image('NV2080_CTRL_INTERNAL_INTR_GET_KERNEL_TABLE_PARAMS', params);
			params.fill(0);
			const rows: { idx: number; stall: number; nonStall: number }[] = [];
			const gsp = rm.abi.constant('MC_ENGINE_IDX_GSP');
			if (gsp !== undefined)
				rows.push({ idx: gsp, stall: SIM_GSP_STALL_VECTOR, nonStall: INTR_INVALID_VECTOR });
			for (const e of rm.engines) {
				const idx = e.mcEngineIdx
					.map((n) => rm.abi.constant(`MC_ENGINE_IDX_${n}`))
					.find((v) => v !== undefined);
				if (idx !== undefined) rows.push({ idx, stall: e.stallVector, nonStall: e.nonStallVector });
			}
			img.set('tableLen', rows.length);
			rows.forEach((r, i) => {
				img.set(`table[${i}].engineIdx`, r.idx);
				img.set(`table[${i}].pmcIntrMask`, 0);
				img.set(`table[${i}].vectorStall`, r.stall);
				img.set(`table[${i}].vectorNonStall`, r.nonStall);
			});
			// One subtree per interrupt category (simulator choice: subtrees 0..6 in category order).
			for (let c = 0; c < 7; c++) {
				img.set(`subtreeMap[${c}].subtreeStart`, c);
				img.set(`subtreeMap[${c}].subtreeEnd`, c);
			}
			return NV_STATUS.NV_OK;
		},
	},
	NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE: {
		params: 'NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			const img = rm.abi.image('NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_PARAMS', params);
			const base = img.get<number>('baseIndex');
			const max = rm.abi.constant('NV2080_CTRL_FIFO_GET_DEVICE_INFO_TABLE_MAX_ENTRIES') ?? 32;
			if (base > rm.engines.length) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			const slice = rm.engines.slice(base, base + max);
			params.fill(0);
			img.set('baseIndex', base);
			img.set('numEntries', slice.length);
			img.set('bMore', base + slice.length < rm.engines.length ? 1 : 0);
			const t = (name: string) => rm.abi.enumValue('ENGINE_INFO_TYPE', `ENGINE_INFO_TYPE_${name}`);
			slice.forEach((e, i) => {
				const at = `entries[${i}]`;
				const data = (name: string, v: number) => img.set(`${at}.engineData[${t(name)}]`, v >>> 0);
				data('RM_ENGINE_TYPE', rm.abi.engineType(e.rmEngineType));
				data('RUNLIST', e.runlist);
				data('MMU_FAULT_ID', e.mmuFaultId);
				data('INTR', e.nonStallVector);
				data(
					'MC',
					e.mcEngineIdx.map((n) => rm.abi.constant(`MC_ENGINE_IDX_${n}`)).find((v) => v !== undefined) ?? 0,
				);
				data('DEV_TYPE_ENUM', e.devType);
				data('INSTANCE_ID', e.instance);
				data('RUNLIST_PRI_BASE', e.runlistPriBase);
				data('IS_HOST_DRIVEN_ENGINE', 1);
				data('RUNLIST_ENGINE_ID', 0);
				data('CHRAM_PRI_BASE', e.chramPriBase);
				img.set(`${at}.pbdmaIds[0]`, e.runlist);
				img.set(`${at}.pbdmaFaultIds[0]`, 0x80 + e.runlist);
				img.set(`${at}.numPbdmas`, 1);
				img.setString(`${at}.engineName`, e.name);
			});
			return NV_STATUS.NV_OK;
		},
	},
	NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE: {
		params: 'NV2080_CTRL_CE_GET_FAULT_METHOD_BUFFER_SIZE_PARAMS',
		kinds: SUBDEVICE,
		handler: (rm, _o, params) => {
			rm.abi
				.image('NV2080_CTRL_CE_GET_FAULT_METHOD_BUFFER_SIZE_PARAMS', params)
				.set('size', rm.chip.faultMethodBufferSize);
			return NV_STATUS.NV_OK;
		},
	},
	NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES: {
		params: 'NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS',
		kinds: ['vaspace'],
		handler: (rm, obj, params) => {
			const p = rm.abi.decode('NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS', params);
			if ((obj.data as unknown as VaSpaceRecord).externallyOwned) {
				// IS_EXTERNALLY_OWNED implies DISABLE_SPLIT_VAS: there is no server-managed range, and OpenRM
				// (vaspaceapiCtrlCmdVaspaceCopyServerReservedPdes) answers NV_OK without copying anything.
				const hSub = p.hSubDevice as number;
				if (hSub !== 0 && obj.client.objects.get(hSub)?.kind !== 'subdevice') {
					return NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE;
				}
				return NV_STATUS.NV_OK;
			}
			const levels = p.levels as Record<string, unknown>[];
			const n = p.numLevelsToCopy as number;
			if (n === 0 || n > GMMU_FMT_MAX_LEVELS) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			const lo = p.virtAddrLo as bigint;
			const hi = p.virtAddrHi as bigint;
			const start = SPLIT_VAS_SERVER_RM_MANAGED_VA_START;
			if (lo > hi || lo < start || hi >= start + SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE) {
				return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			}
			const hSub = p.hSubDevice as number;
			if (hSub !== 0) {
				const sub = obj.client.objects.get(hSub);
				if (sub === undefined || sub.kind !== 'subdevice') return NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE;
			}
			obj.data.serverReservedPdes = {
				pageSize: p.pageSize,
				virtAddrLo: lo,
				virtAddrHi: hi,
				levels: levels.slice(0, n).map((l) => ({
					physAddress: l.physAddress,
					size: l.size,
					aperture: l.aperture,
					pageShift: l.pageShift,
				})),
			};
			return NV_STATUS.NV_OK;
		},
	},
	NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY: {
		params: 'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS',
		kinds: DEVICE,
		handler: (rm, obj, params) => {
			const p = rm.abi.decode('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS', params);
			const vas = deviceVaSpace(obj, p.hVASpace as number);
			if (typeof vas === 'number') return vas;
			const rec = vas.data as unknown as Mutable<VaSpaceRecord>;
			// OpenRM gvaspaceExternalRootDirCommit, in its order: a root is set once (UNSET first) …
			if (rec.externallyOwned && rec.externalPdb !== undefined) return NV_STATUS.NV_ERR_INVALID_STATE;
			const flags = p.flags as number;
			const [hi, lo] = rm.abi.bitRange('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE') ?? [1, 0];
			const field = Math.floor(flags / 2 ** lo) % 2 ** (hi - lo + 1);
			const aperture = (
				[
					[rm.abi.constant('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_VIDMEM') ?? 0, 'video'],
					[
						rm.abi.constant('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_COH') ?? 1,
						'sys-coherent',
					],
					[
						rm.abi.constant('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_NONCOH') ?? 2,
						'sys-noncoherent',
					],
				] as const
			).find(([v]) => v === field)?.[1];
			// … the aperture must be one of the three …
			if (aperture === undefined) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			// … the new root must cover the VA space (`numEntries - 1` wraps for 0) and no more than the format has …
			const numEntries = p.numEntries as number;
			const vaLimitMax = (BigInt(rootEntries(rm.chip)) << BigInt(rootPageShift(rm.chip))) - 1n;
			const vaLimitInternal = rec.vaSize === 0n ? vaLimitMax : rec.vaBase + rec.vaSize - 1n;
			const vaLimitNew = numEntries === 0 ? -1n : (BigInt(numEntries) << BigInt(rootPageShift(rm.chip))) - 1n;
			if (vaLimitNew < vaLimitInternal || vaLimitNew > vaLimitMax) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			// … and only a VA space whose tables the client owns takes a root from outside.
			if (!rec.externallyOwned) return NV_STATUS.NV_ERR_NOT_SUPPORTED;
			const physAddress = p.physAddress as bigint;
			// The host reads a PDB from PAGE_DIR_BASE 31:12 (reference B.5): the root is 4 KiB aligned.
			if ((physAddress & 0xfffn) !== 0n) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			rec.externalPdb = { physAddress, aperture, numEntries };
			return NV_STATUS.NV_OK;
		},
	},
	NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY: {
		params: 'NV0080_CTRL_DMA_UNSET_PAGE_DIRECTORY_PARAMS',
		kinds: DEVICE,
		handler: (rm, obj, params) => {
			const p = rm.abi.decode('NV0080_CTRL_DMA_UNSET_PAGE_DIRECTORY_PARAMS', params);
			const vas = deviceVaSpace(obj, p.hVASpace as number);
			if (typeof vas === 'number') return vas;
			const rec = vas.data as unknown as Mutable<VaSpaceRecord>;
			// OpenRM gvaspaceExternalRootDirRevoke: an externally owned space forgets its root; an RM-managed one
			// never had an external root to revoke.
			if (!rec.externallyOwned) return NV_STATUS.NV_ERR_INVALID_STATE;
			rec.externalPdb = undefined;
			return NV_STATUS.NV_OK;
		},
	},
	NVA06F_CTRL_CMD_BIND: {
		params: 'NVA06F_CTRL_BIND_PARAMS',
		kinds: CHANNEL,
		handler: (rm, obj, params) => {
			const engineType = rm.abi.image('NVA06F_CTRL_BIND_PARAMS', params).get<number>('engineType');
			const info = obj.data as unknown as RmChannelInfo;
			if (engineType !== info.engineType) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
			info.bound = true;
			rm.channelStateChanged(info);
			return NV_STATUS.NV_OK;
		},
	},
	NVA06F_CTRL_CMD_GPFIFO_SCHEDULE: {
		params: 'NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS',
		kinds: CHANNEL,
		handler: (rm, obj, params) => {
			const info = obj.data as unknown as RmChannelInfo;
			const enable = rm.abi.image('NVA06F_CTRL_GPFIFO_SCHEDULE_PARAMS', params).get<number>('bEnable') !== 0;
			if (enable && !info.bound) return NV_STATUS.NV_ERR_INVALID_STATE;
			info.scheduled = enable;
			rm.channelStateChanged(info);
			return NV_STATUS.NV_OK;
		},
	},
	NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN: {
		params: 'NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS',
		kinds: CHANNEL,
		handler: (rm, obj, params) => {
			const info = obj.data as unknown as RmChannelInfo;
			rm.abi
				.image('NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS', params)
				.set('workSubmitToken', workSubmitToken(info));
			return NV_STATUS.NV_OK;
		},
	},
};

/** The doorbell token of a channel: `(runlist << 16) | chid` (reference C.4, nouveau's GSP path). */
export function workSubmitToken(info: Pick<RmChannelInfo, 'runlist' | 'chid'>): number {
	return ((info.runlist << 16) | info.chid) >>> 0;
}

/** Control IDs of the booted ABI → descriptor (built once per server). */
export class RmControls {
	readonly #rm: RmServer;
	readonly #byId = new Map<number, { name: string; desc: ControlDesc; size: number }>();

	constructor(rm: RmServer) {
		this.#rm = rm;
		for (const [name, desc] of Object.entries(CONTROLS)) {
			if (!rm.abi.hasLayout(desc.params)) continue;
			this.#byId.set(rm.abi.controlId(name), { name, desc, size: rm.abi.sizeOf(desc.params) });
		}
	}

	/** The control names this server answers, with their IDs. */
	get supported(): ReadonlyMap<number, string> {
		return new Map([...this.#byId].map(([id, c]) => [id, c.name]));
	}

	/** `GSP_RM_CONTROL`: run `cmd` on `hObject`; `params` is updated in place. */
	control(hClient: number, hObject: number, cmd: number, params: Uint8Array): RmResult {
		if (cmd === 0 || (cmd & 0xffff) === 0) return { status: NV_STATUS.NV_OK };
		const entry = this.#byId.get(cmd >>> 0);
		if (entry !== undefined && params.length !== entry.size)
			return { status: NV_STATUS.NV_ERR_INVALID_ARGUMENT };
		const client = this.#rm.clients.get(hClient);
		if (client === undefined) return { status: NV_STATUS.NV_ERR_INVALID_CLIENT };
		const obj = client.objects.get(hObject);
		if (obj === undefined) return { status: NV_STATUS.NV_ERR_OBJECT_NOT_FOUND };
		if (entry === undefined || !entry.desc.kinds.includes(obj.kind))
			return { status: NV_STATUS.NV_ERR_NOT_SUPPORTED };
		return { status: entry.desc.handler(this.#rm, obj, params) };
	}
}
