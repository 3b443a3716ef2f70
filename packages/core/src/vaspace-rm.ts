/**
 * The RM calls of an *externally owned* VA space, as nouveau's `r535_mmu_vaspace_new(…, external = true)` makes
 * them for every user VMM: FERMI_VASPACE_A with `NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED`, then
 * `NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY` on the device naming the root page directory; on teardown
 * `NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY` before the free.
 *
 * The parameters are built from the booted ABI's layout manifest by name (both published branches carry the two
 * structs, the control numbers and the flag), so core needs neither a concrete `abi-rNNN` package nor a
 * sub-interface member the ABI packages do not have yet.
 *
 * @module
 */

import {
	byteLength,
	constantsOf,
	type FirmwareAbi,
	type LayoutManifest,
	layoutFromManifest,
	patch,
	type RecordLayout,
} from '@gspkit/abi';
import type { TableRef } from '@gspkit/mmu';
import { CoreError } from './errors.ts';

/** One RM control: command number and parameter bytes. */
export interface RmControlCall {
	readonly name: string;
	readonly cmd: number;
	readonly params: Uint8Array;
}

/** What core sends for an externally owned VA space, in the booted ABI's encoding. */
export interface ExternalVaSpaceAbi {
	/** `NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED` (the alloc parameters' `flags`). */
	readonly externallyOwnedFlag: number;
	/** `NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY` (on the device): RM's PDB for channels in `hVASpace`. */
	setPageDirectory(p: {
		readonly hVASpace: number;
		readonly root: TableRef;
		/** Entries of the root directory (`1 << root bits`; nouveau: `1 << page[0].desc->bits`). */
		readonly numEntries: number;
	}): RmControlCall;
	/** `NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY` (on the device). */
	unsetPageDirectory(p: { readonly hVASpace: number }): RmControlCall;
}

/** `NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE` is bits 1:0 of `flags` (published `nvrm/vmm.h`). */
const APERTURE_SHIFT = 0;

const cache = new WeakMap<LayoutManifest, ExternalVaSpaceAbi>();

/**
 * The externally-owned VA-space calls of `abi`.
 * @throws CoreError `CORE_ABI_UNSUPPORTED` when the ABI's manifest lacks one of the structs or constants.
 */
export function externalVaSpaceAbi(abi: FirmwareAbi): ExternalVaSpaceAbi {
	const hit = cache.get(abi.manifest);
	if (hit !== undefined) return hit;
	const consts = constantsOf(abi.manifest);
	const missing: string[] = [];
	const num = (name: string): number => {
		const v = consts.get(name);
		if (typeof v !== 'bigint') {
			missing.push(name);
			return 0;
		}
		return Number(v);
	};
	const layout = (name: string): RecordLayout | undefined => {
		try {
			return layoutFromManifest(name, abi.manifest);
		} catch {
			missing.push(name);
			return undefined;
		}
	};
	const flag = num('NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED');
	const setCmd = num('NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY');
	const unsetCmd = num('NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY');
	const aperture = {
		video: num('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_VIDMEM'),
		sysCoherent: num('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_COH'),
		sysNonCoherent: num('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_FLAGS_APERTURE_SYSMEM_NONCOH'),
	} as const;
	const setLayout = layout('NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS');
	const unsetLayout = layout('NV0080_CTRL_DMA_UNSET_PAGE_DIRECTORY_PARAMS');
	if (missing.length > 0 || setLayout === undefined || unsetLayout === undefined) {
		throw new CoreError(
			'CORE_ABI_UNSUPPORTED',
			`firmware ABI ${abi.version} lacks what an externally owned VA space needs: ${missing.join(', ')}`,
			{ details: { version: abi.version, missing } },
		);
	}
	const build = (l: RecordLayout, value: Record<string, unknown>): Uint8Array => {
		const out = new Uint8Array(byteLength(l));
		patch(l, value as never, out);
		return out;
	};
	const api: ExternalVaSpaceAbi = {
		externallyOwnedFlag: flag,
		setPageDirectory(p) {
			return {
				name: 'NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY',
				cmd: setCmd,
				params: build(setLayout, {
					physAddress: p.root.address,
					numEntries: p.numEntries,
					// ALL_CHANNELS, PRESERVE_PDES, IGNORE_CHANNEL_BUSY, EXTEND_VASPACE stay 0, as nouveau sends them.
					flags: aperture[p.root.aperture] << APERTURE_SHIFT,
					hVASpace: p.hVASpace,
					chId: 0,
					subDeviceId: 0,
					pasid: 0,
				}),
			};
		},
		unsetPageDirectory(p) {
			return {
				name: 'NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY',
				cmd: unsetCmd,
				params: build(unsetLayout, { hVASpace: p.hVASpace, subDeviceId: 0 }),
			};
		},
	};
	Object.freeze(api);
	cache.set(abi.manifest, api);
	return api;
}
