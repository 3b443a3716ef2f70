/**
 * The parts of a firmware ABI's sub-interfaces core uses, declared structurally: core may not import an
 * `@gspkit/abi-rNNN` package (the app hands the ABIs in), so it names the members it calls and checks at run
 * time that the ABI provides them. Every gspkit ABI package implements these (nouveau's `nvkm_rm_api` split).
 *
 * @module
 */

import type { FirmwareAbi } from '@gspkit/abi';
import { CoreError } from './errors.ts';

/** One RM control, as a sub-interface describes it. */
export interface ControlCallView<R> {
	readonly name: string;
	readonly cmd: number;
	readonly params: Uint8Array;
	decode(reply: Uint8Array): R;
}

/** What goes into `GSP_SET_SYSTEM_INFO`. */
export interface SystemInfoView {
	readonly gpuPhysAddr: bigint;
	readonly gpuPhysFbAddr: bigint;
	readonly gpuPhysInstAddr: bigint;
	readonly pciBdf: number;
	readonly maxUserVa: bigint;
	readonly pciConfigMirrorBase: number;
	readonly pciConfigMirrorSize: number;
	readonly pciVendorId: number;
	readonly pciDeviceId: number;
	readonly pciSubsystemVendorId?: number;
	readonly pciSubsystemId?: number;
	readonly pciRevisionId?: number;
}

/** The neutral static info (`GspStaticConfigInfo`). */
export interface StaticInfoView {
	readonly hInternalClient: number;
	readonly hInternalDevice: number;
	readonly hInternalSubdevice: number;
	readonly bar1PdeBase: bigint;
	readonly bar2PdeBase: bigint;
	readonly fbLength: bigint;
	readonly fbRegions: readonly {
		readonly base: bigint;
		readonly limit: bigint;
		readonly reserved: bigint;
		readonly performance: number;
		readonly supportCompressed: boolean;
		readonly supportISO: boolean;
		readonly protected: boolean;
	}[];
	readonly l2CacheSize: number;
	readonly gpuName: string;
	readonly gpuShortName: string;
	readonly isMobile: boolean;
}

/** An engine, neutral. */
export interface EngineView {
	readonly kind: string;
	readonly instance: number;
}

/** The sub-interfaces core uses. */
export interface CoreAbiView {
	readonly alloc: {
		readonly classes: {
			readonly NV01_ROOT: number;
			readonly NV01_DEVICE_0: number;
			readonly NV20_SUBDEVICE_0: number;
			readonly FERMI_VASPACE_A: number;
		};
	};
	readonly client: {
		allocParams(p: { readonly hClient: number; readonly processName?: string }): Uint8Array;
	};
	readonly device: {
		deviceAllocParams(p?: Record<string, never>): Uint8Array;
		subdeviceAllocParams(p?: { readonly subDeviceId?: number }): Uint8Array;
	};
	readonly gsp: {
		readonly staticInfoLayout: { readonly size: number };
		encodeSystemInfo(p: SystemInfoView): Uint8Array;
		decodeStaticInfo(payload: Uint8Array): StaticInfoView;
		encodeUnload(p?: { readonly suspend?: boolean }): Uint8Array;
		readonly ignoredEvents: readonly number[];
	};
	readonly gr: {
		queryTopology(ctx: {
			readonly staticInfo: Uint8Array;
			readonly rmControl: (cmd: number, params: Uint8Array) => Promise<Uint8Array>;
		}): Promise<{
			readonly gpcMask: number;
			readonly tpcMasks: readonly number[];
			readonly gpcCount: number;
			readonly tpcCount: number;
			readonly source: 'static-info' | 'controls';
		}>;
	};
	readonly vmm: {
		vaspaceAllocParams(p: {
			readonly index?: number;
			readonly flags?: number;
			readonly vaSize?: bigint;
			readonly bigPageSize?: number;
			readonly vaBase?: bigint;
		}): Uint8Array;
		copyServerReservedPdes(p: {
			readonly hSubDevice?: number;
			readonly subDeviceId?: number;
			readonly pageSize: bigint;
			readonly virtAddrLo: bigint;
			readonly virtAddrHi: bigint;
			readonly levels: readonly {
				readonly physAddress: bigint;
				readonly size: bigint;
				readonly aperture: number;
				readonly pageShift: number;
			}[];
		}): ControlCallView<void>;
	};
	readonly intr?: {
		getKernelTable(): ControlCallView<{
			readonly entries: readonly {
				readonly engineIdx: number;
				readonly engine: EngineView | undefined;
				readonly pmcIntrMask: number;
				readonly vectorStall: number;
				readonly vectorNonStall: number;
			}[];
		}>;
	};
	readonly fifo: {
		getDeviceInfoTable(baseIndex?: number): ControlCallView<{
			readonly entries: readonly {
				readonly engineName: string;
				readonly data: Readonly<Record<string, number>>;
				readonly engine: (EngineView & { readonly nv2080Type: number }) | undefined;
			}[];
			readonly more: boolean;
		}>;
		decodeRcTriggered(payload: Uint8Array): Readonly<Record<string, unknown>>;
		engineFromRmType?(rmEngineType: number): (EngineView & { readonly nv2080Type: number }) | undefined;
	};
}

const REQUIRED: Readonly<Record<string, readonly string[]>> = {
	client: ['allocParams'],
	device: ['deviceAllocParams', 'subdeviceAllocParams'],
	gsp: ['encodeSystemInfo', 'decodeStaticInfo', 'encodeUnload'],
	gr: ['queryTopology'],
	vmm: ['vaspaceAllocParams', 'copyServerReservedPdes'],
	fifo: ['getDeviceInfoTable', 'decodeRcTriggered'],
};

/**
 * The ABI's sub-interfaces as core needs them, checked.
 * @throws CoreError `CORE_ABI_UNSUPPORTED` naming every missing member.
 */
export function coreAbiView(abi: FirmwareAbi): CoreAbiView {
	const subs = abi.subInterfaces as Readonly<Record<string, Record<string, unknown> | undefined>>;
	const missing: string[] = [];
	for (const [sub, fns] of Object.entries(REQUIRED)) {
		for (const fn of fns) if (typeof subs[sub]?.[fn] !== 'function') missing.push(`${sub}.${fn}`);
	}
	const classes = subs.alloc?.classes as Record<string, unknown> | undefined;
	for (const c of ['NV01_ROOT', 'NV01_DEVICE_0', 'NV20_SUBDEVICE_0', 'FERMI_VASPACE_A']) {
		if (typeof classes?.[c] !== 'number') missing.push(`alloc.classes.${c}`);
	}
	if (missing.length > 0) {
		throw new CoreError(
			'CORE_ABI_UNSUPPORTED',
			`firmware ABI ${abi.version} lacks what core needs: ${missing.join(', ')}`,
			{ details: { version: abi.version, missing } },
		);
	}
	return abi.subInterfaces as unknown as CoreAbiView;
}
