/**
 * `@gspkit/abi-r570`: the GSP-RM firmware ABI of the r570 branch (570.144), generated from the headers
 * nouveau publishes, behind gspkit's version-neutral interface.
 *
 * Sub-interfaces whose meaning did not change are r535's code, imported from `@gspkit/abi-r535` and
 * bound to r570's own layouts and constants (a reused factory re-checks every field it relies on against
 * r570's manifest). Only `gsp`, `wpr`, `fifo` and `gr` are new (4 of 16) — see {@link provenance}.
 *
 * @module
 */

import type { LayoutManifest } from '@gspkit/abi';
import {
	type AbiContext,
	type BranchAbi,
	coreLayouts,
	createAbiContext,
	createAllocApi,
	createBootApi,
	createCeApi,
	createClientApi,
	createCtrlApi,
	createDeviceApi,
	createIntrApi,
	createLibosApi,
	createRegistryApi,
	createRpcApi,
	createSequencerApi,
	createVmmApi,
	defineBranchAbi,
	type Provenance,
	type RmApi,
	SUB_INTERFACE_NAMES,
} from '@gspkit/abi-r535';
import { R570_CHIPS, r570FirmwareFiles } from './chips.ts';
import { bitRanges } from './generated/constants.ts';
import manifestJson from './generated/manifest.json' with { type: 'json' };
import { GET_CONSTRUCTED_FALCON_INFO_R570, GR_GET_CONTEXT_BUFFERS_INFO_R570 } from './specs.ts';
import { createFifoApi } from './sub/fifo.ts';
import { createGrApi } from './sub/gr.ts';
import { createGspApi } from './sub/gsp.ts';
import { createWprApi } from './sub/wpr.ts';
import { R570_PACKAGE } from './util.ts';

export * from './chips.ts';
export * as generated from './generated/constants.ts';
export * as specs from './specs.ts';
export { createFifoApi, R570_FIFO } from './sub/fifo.ts';
export { createGrApi } from './sub/gr.ts';
export { createGspApi } from './sub/gsp.ts';
export { createWprApi, GB_PMU_RESERVED_SIZE, r570Family } from './sub/wpr.ts';
export { R570_PACKAGE } from './util.ts';

/** Every struct/union layout and constant of this ABI, as gcc computed them from the headers. */
export const manifest = manifestJson as unknown as LayoutManifest;

/** The binding context of r570 (its manifest and DRF ranges). */
export const context: AbiContext = createAbiContext(R570_PACKAGE, manifest, { bitRanges });

/** r570's sub-interfaces (nouveau's `r570_api`): r535 factories on r570's layouts, four new ones. */
const built: RmApi = Object.freeze({
	rpc: createRpcApi(context),
	ctrl: createCtrlApi(context),
	alloc: createAllocApi(context),
	client: createClientApi(context),
	device: createDeviceApi(context),
	gsp: createGspApi(context),
	wpr: createWprApi(context),
	libos: createLibosApi(context),
	registry: createRegistryApi(context),
	sequencer: createSequencerApi(context),
	fifo: createFifoApi(context),
	gr: createGrApi(context),
	vmm: createVmmApi(context),
	ce: createCeApi(context),
	intr: createIntrApi(context),
	boot: createBootApi(context),
});

/** Where each sub-interface's code comes from (`implementedBy`), in {@link SUB_INTERFACE_NAMES} order. */
export const provenance: readonly Provenance[] = Object.freeze(
	SUB_INTERFACE_NAMES.map((n) => built[n].provenance),
);

/** The r570 (570.144) firmware ABI. */
export const abi: BranchAbi = defineBranchAbi({
	ctx: context,
	chips: R570_CHIPS,
	firmwareFiles: r570FirmwareFiles,
	layouts: coreLayouts(context, {
		getConstructedFalconInfoParams: GET_CONSTRUCTED_FALCON_INFO_R570,
		grGetContextBuffersInfoParams: GR_GET_CONTEXT_BUFFERS_INFO_R570,
	}),
	api: built,
});

/** The sub-interfaces (the same object as `abi.subInterfaces`). */
export const api: RmApi = abi.subInterfaces;

export default abi;
