/**
 * What the gspkit driver stack — core and the libraries it composes — uses of a firmware ABI, by member:
 * the layouts of `FirmwareAbi.layouts` and the sub-interface members it reads or calls. Tools measure ABI churn
 * against this list (`abi-diff`'s "used closure" starts here), so a change between branches that touches
 * only members nobody calls is reported but not counted against the driver.
 *
 * Each consumer's entry says who relies on it: gsp-rpc's layouts are its own exported table; the others
 * mirror the structural views the libraries check at run time (`coreAbiView`, channel-sched's
 * `fifoAbiOf`/`ceAbiOf`, falcon-boot's `bootAbiOf`) plus the optional members they call when present.
 *
 * @module
 */

import { RPC_LAYOUT_TYPES } from '@gspkit/gsp-rpc';

/** The members of a firmware ABI a consumer uses. */
export interface AbiUses {
	/** Keys of `FirmwareAbi.layouts` (neutral layout names, e.g. `'queueElement'`). */
	readonly layouts: readonly string[];
	/** Sub-interface members by sub-interface (`{ fifo: ['bind', 'schedule'] }`). */
	readonly subInterfaces: Readonly<Record<string, readonly string[]>>;
	/** C types a consumer reads straight from `FirmwareAbi.manifest` by name (no sub-interface in between). */
	readonly types?: readonly string[];
	/** Constants a consumer reads straight from the manifest by name. */
	readonly constants?: readonly string[];
}

/** The consumers of an ABI inside the driver stack. */
export type AbiConsumer = 'gsp-rpc' | 'falcon-boot' | 'channel-sched' | 'core';

const freeze = (u: AbiUses): AbiUses =>
	Object.freeze({
		layouts: Object.freeze([...u.layouts]),
		subInterfaces: Object.freeze(
			Object.fromEntries(Object.entries(u.subInterfaces).map(([k, v]) => [k, Object.freeze([...v])])),
		),
		...(u.types === undefined ? {} : { types: Object.freeze([...u.types]) }),
		...(u.constants === undefined ? {} : { constants: Object.freeze([...u.constants]) }),
	});

/** Per consumer: what it uses of an ABI. */
export const ABI_USES_BY_CONSUMER: Readonly<Record<AbiConsumer, AbiUses>> = Object.freeze({
	/** Message framing, RM alloc/control/free, registry and sequencer payloads; the sequencer opcodes. */
	'gsp-rpc': freeze({
		layouts: Object.keys(RPC_LAYOUT_TYPES),
		subInterfaces: { sequencer: ['opcodes'] },
	}),
	/** The boot writers (`bootAbiOf` takes `subInterfaces.boot` when it is a `BootAbi`). */
	'falcon-boot': freeze({
		layouts: [],
		subInterfaces: { boot: ['version', 'wprMeta', 'rmArgs', 'libosRegion'] },
	}),
	/** GPFIFO channel allocation (`fifoAbiOf`, `ceAbiOf`; the work-submit token when the ABI describes it). */
	'channel-sched': freeze({
		layouts: [],
		subInterfaces: {
			fifo: [
				'encodeChannelAlloc',
				'channelFlags',
				'internalFlags',
				'bind',
				'schedule',
				'nv2080EngineType',
				'workSubmitToken',
			],
			ce: ['faultMethodBufferSize', 'allocParams'],
		},
	}),
	/** Bring-up, the RM object tree, VA spaces, engines and RC handling (`coreAbiView`, `Device`). */
	core: freeze({
		layouts: [],
		subInterfaces: {
			alloc: ['classes'],
			client: ['allocParams'],
			device: ['deviceAllocParams', 'subdeviceAllocParams'],
			gsp: ['encodeSystemInfo', 'staticInfoLayout', 'decodeStaticInfo', 'encodeUnload', 'ignoredEvents'],
			gr: ['queryTopology'],
			vmm: ['vaspaceAllocParams', 'copyServerReservedPdes'],
			intr: ['getKernelTable'],
			fifo: ['getDeviceInfoTable', 'decodeRcTriggered', 'nv2080EngineType'],
		},
		// Externally owned (client) VA spaces: read from the manifest by name (see vaspace-rm.ts).
		types: ['NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS', 'NV0080_CTRL_DMA_UNSET_PAGE_DIRECTORY_PARAMS'],
		constants: [
			'NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED',
			'NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY',
			'NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY',
			'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_VIDMEM',
			'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_COH',
			'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_NONCOH',
		],
	}),
});

/** The union of several {@link AbiUses} (members sorted, duplicates dropped). */
export function mergeAbiUses(uses: readonly AbiUses[]): AbiUses {
	const layouts = new Set<string>();
	const types = new Set<string>();
	const constants = new Set<string>();
	const subs = new Map<string, Set<string>>();
	for (const u of uses) {
		for (const l of u.layouts) layouts.add(l);
		for (const t of u.types ?? []) types.add(t);
		for (const c of u.constants ?? []) constants.add(c);
		for (const [sub, members] of Object.entries(u.subInterfaces)) {
			let s = subs.get(sub);
			if (s === undefined) {
				s = new Set();
				subs.set(sub, s);
			}
			for (const m of members) s.add(m);
		}
	}
	return freeze({
		layouts: [...layouts].sort(),
		subInterfaces: Object.fromEntries(
			[...subs].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]),
		),
		...(types.size === 0 ? {} : { types: [...types].sort() }),
		...(constants.size === 0 ? {} : { constants: [...constants].sort() }),
	});
}

/**
 * Everything the driver stack uses of a firmware ABI: the union of {@link ABI_USES_BY_CONSUMER}. `abi-diff`
 * computes its used closure from these members' layouts and bindings.
 */
export const CORE_ABI_USES: AbiUses = mergeAbiUses(Object.values(ABI_USES_BY_CONSUMER));
