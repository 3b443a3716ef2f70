/**
 * The firmware branches abi-gen knows and the header set each is built from.
 *
 * nouveau keeps one directory per branch under `nvkm/subdev/gsp/rm/`; a newer branch holds only the
 * headers that changed and its code reuses the older branch's others (r570 ships client, disp, engine,
 * fbsr, fifo, gr, gsp, msgfn, ofa and rpcfn and takes alloc, bar, ce, ctrl, device, event, nvdec, nvenc,
 * nvjpg and vmm from r535). A branch therefore lists its directories newest first, and for every header
 * file name the first directory that has it wins.
 *
 * @module
 */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AbiGenError } from './errors.ts';

/** Paths inside a Linux tree (mirrors `LINUX_PATHS` of `@gspkit/fetch`, which abi-gen does not import). */
export const TREE = {
	rm: 'drivers/gpu/drm/nouveau/nvkm/subdev/gsp/rm',
	include: 'drivers/gpu/drm/nouveau/include',
	nvtypes: 'drivers/gpu/drm/nouveau/include/nvrm/nvtypes.h',
	nvifClass: 'drivers/gpu/drm/nouveau/include/nvif/class.h',
} as const;

/** One firmware ABI branch. */
export interface AbiBranch {
	/** Short key, the nouveau directory name (`r535`). */
	readonly key: string;
	/** The firmware version the headers describe (`535.113.01`). */
	readonly version: string;
	/** nouveau `rm/` sub-directories, newest first; per header file name the first one wins. */
	readonly rmDirs: readonly string[];
	/** The package the output belongs to. */
	readonly packageName: string;
	/** Output directory relative to the repository root. */
	readonly outDir: string;
	/** nova-core's bindgen output for this version (relative to the tree root), if there is one. */
	readonly novaBindings?: string;
	/**
	 * The older branch whose definitions this one reuses where its own headers are silent (nouveau runs the
	 * older branch's code for those parts), minus the names this branch replaced.
	 */
	readonly inherits?: BranchInheritance;
}

/** How a branch reuses an older branch's definitions. */
export interface BranchInheritance {
	/** Key of the older branch. */
	readonly from: string;
	/**
	 * Names (types, enumerators, macros) the older branch defines but this one must not inherit because it
	 * replaced them with something else. Each entry says why.
	 */
	readonly exclude: readonly { readonly pattern: RegExp; readonly reason: string }[];
}

/** Every branch abi-gen generates, oldest first. Adding a firmware branch starts here. */
export const BRANCHES: readonly AbiBranch[] = [
	{
		key: 'r535',
		version: '535.113.01',
		rmDirs: ['r535'],
		packageName: '@gspkit/abi-r535',
		outDir: 'packages/abi-r535/src/generated',
	},
	{
		key: 'r570',
		version: '570.144',
		rmDirs: ['r570', 'r535'],
		packageName: '@gspkit/abi-r570',
		outDir: 'packages/abi-r570/src/generated',
		novaBindings: 'drivers/gpu/nova-core/gsp/fw/r570_144/bindings.rs',
		inherits: {
			from: 'r535',
			exclude: [
				{
					pattern: /^MC_ENGINE_IDX_/,
					reason: 'r570 engine.h renumbers the MC engine indexes (CE10-19, NVENC3, OFA1)',
				},
				{
					pattern: /^NV2080_ENGINE_TYPE_/,
					reason: 'r570 engine.h redefines the NV2080 engine types and counts',
				},
				{ pattern: /^RM_ENGINE_TYPE_/, reason: 'r570 engine.h redefines RM_ENGINE_TYPE' },
				{
					pattern: /INTERNAL_(GET_|MAX_)?CONSTRUCTED_FALCON/,
					reason: 'r570 moved the control to NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO',
				},
				{ pattern: /^GspSMInfo/, reason: 'r570 static info dropped SM_info (GR controls replace it)' },
				{ pattern: /^COMPUTE_BRANDING_TYPE_/, reason: 'r570 static info dropped computeBranding' },
				{
					pattern: /^NV2080_CTRL_GPU_GET_FERMI_ZCULL_INFO_PARAMS$/,
					reason: 'r570 reads zcull info through NV2080_CTRL_GR_GET_ZCULL_INFO_PARAMS',
				},
			],
		},
	},
];

/** The branch for a firmware version (`570.144`) or key (`r570`); throws `E_USAGE` when unknown. */
export function findBranch(versionOrKey: string, branches: readonly AbiBranch[] = BRANCHES): AbiBranch {
	const b = branches.find((x) => x.version === versionOrKey || x.key === versionOrKey);
	if (!b) {
		throw new AbiGenError(
			'E_USAGE',
			`unknown firmware version ${versionOrKey}; known: ${branches.map((x) => `${x.version} (${x.key})`).join(', ')}`,
		);
	}
	return b;
}

/** The headers that make up one branch, as paths relative to the tree root. */
export interface HeaderSet {
	readonly branch: AbiBranch;
	/** nvrm headers, sorted by file name; each from the first `rmDirs` entry that has it. */
	readonly nvrm: readonly string[];
	/** nvtypes.h and nvif/class.h. */
	readonly common: readonly string[];
}

/** Resolves a branch's header set in the tree at `root`; throws `E_HEADERS` when something is missing. */
export function headerSet(branch: AbiBranch, root: string): HeaderSet {
	const byName = new Map<string, string>();
	for (const dir of branch.rmDirs) {
		const abs = join(root, TREE.rm, dir, 'nvrm');
		if (!existsSync(abs)) {
			throw new AbiGenError(
				'E_HEADERS',
				`${join(TREE.rm, dir, 'nvrm')} is missing under ${root}; fetch the headers with \`npm run fetch -- headers\``,
				{ root, dir },
			);
		}
		for (const f of readdirSync(abs).sort()) {
			if (f.endsWith('.h') && !byName.has(f)) byName.set(f, `${TREE.rm}/${dir}/nvrm/${f}`);
		}
	}
	for (const f of [TREE.nvtypes, TREE.nvifClass]) {
		if (!existsSync(join(root, f)))
			throw new AbiGenError('E_HEADERS', `${f} is missing under ${root}`, { root });
	}
	const nvrm = [...byName.keys()].sort().map((f) => byName.get(f)!);
	return { branch, nvrm, common: [TREE.nvtypes, TREE.nvifClass] };
}

/** All files of a header set (for hashing and the source stamp), sorted. */
export function headerFiles(set: HeaderSet): readonly string[] {
	return [...set.common, ...set.nvrm].sort();
}

/** What a branch took from the older branch it inherits from. */
export interface Inherited {
	readonly from: AbiBranch;
	readonly types: readonly string[];
	readonly constants: readonly string[];
	/** Names the older branch has that were not inherited, with the reason. */
	readonly excluded: readonly { readonly name: string; readonly reason: string }[];
}
