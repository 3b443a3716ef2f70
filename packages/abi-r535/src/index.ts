/**
 * `@gspkit/abi-r535`: the GSP-RM firmware ABI of the r535 branch (535.113.01), generated from the
 * headers nouveau publishes, behind gspkit's version-neutral interface.
 *
 * - {@link abi}: the `FirmwareAbi` (version, chips, firmware files, message IDs, codecs, sub-interfaces);
 * - the sub-interface factories (`create*Api`), shapes and helpers later branches reuse.
 *
 * @module
 */

import type { LayoutManifest } from '@gspkit/abi';
import type { RmApi } from './api.ts';
import { type BranchAbi, coreLayouts, defineBranchAbi } from './assemble.ts';
import { R535_CHIPS, r535FirmwareFiles } from './chips.ts';
import { type AbiContext, createAbiContext } from './context.ts';
import { bitRanges } from './generated/constants.ts';
import manifestJson from './generated/manifest.json' with { type: 'json' };
import { createAllocApi } from './sub/alloc.ts';
import { createBootApi } from './sub/boot.ts';
import { createCeApi } from './sub/ce.ts';
import { createClientApi } from './sub/client.ts';
import { createCtrlApi } from './sub/ctrl.ts';
import { createDeviceApi } from './sub/device.ts';
import { createFifoApi } from './sub/fifo.ts';
import { createGrApi } from './sub/gr.ts';
import { createGspApi } from './sub/gsp.ts';
import { createIntrApi } from './sub/intr.ts';
import { createLibosApi } from './sub/libos.ts';
import { createRegistryApi } from './sub/registry.ts';
import { createRpcApi } from './sub/rpc.ts';
import { createSequencerApi } from './sub/sequencer.ts';
import { createVmmApi } from './sub/vmm.ts';
import { createWprApi } from './sub/wpr.ts';
import { R535_PACKAGE } from './util.ts';

export * from './api.ts';
export * from './assemble.ts';
export * from './chips.ts';
export * from './context.ts';
export * from './engines.ts';
export * as generated from './generated/constants.ts';
export * from './sdk.ts';
export * from './shape.ts';
export * as specs from './specs.ts';
export { NV_STATUS } from './status.ts';
export * from './sub/alloc.ts';
export * from './sub/boot.ts';
export * from './sub/ce.ts';
export * from './sub/client.ts';
export * from './sub/ctrl.ts';
export * from './sub/device.ts';
export * from './sub/fifo.ts';
export * from './sub/gr.ts';
export * from './sub/gsp.ts';
export * from './sub/intr.ts';
export * from './sub/libos.ts';
export * from './sub/registry.ts';
export * from './sub/rpc.ts';
export * from './sub/sequencer.ts';
export * from './sub/vmm.ts';
export * from './sub/wpr.ts';
export * from './util.ts';

/** Every struct/union layout and constant of this ABI, as gcc computed them from the headers. */
export const manifest = manifestJson as unknown as LayoutManifest;

/** The binding context of r535 (its manifest and DRF ranges). */
export const context: AbiContext = createAbiContext(R535_PACKAGE, manifest, { bitRanges });

/** r535's sub-interfaces (nouveau's `r535_api`). */
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

/** The r535 (535.113.01) firmware ABI. */
export const abi: BranchAbi = defineBranchAbi({
	ctx: context,
	chips: R535_CHIPS,
	firmwareFiles: r535FirmwareFiles,
	layouts: coreLayouts(context),
	api: built,
});

/** The sub-interfaces (the same object as `abi.subInterfaces`). */
export const api: RmApi = abi.subInterfaces;

export default abi;
