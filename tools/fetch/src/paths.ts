/**
 * Where the fetched data lives. Pure look-ups: nothing here touches the network or writes a file, so tests
 * elsewhere can call these to find the data or skip.
 *
 * Cache layout (`<cache>` = `$GSPKIT_CACHE`, else `$XDG_CACHE_HOME/gspkit`, else `~/.cache/gspkit`):
 *
 * ```text
 * <cache>/debian/<package>/            a Debian package, unpacked by bin/debian-fetch.sh
 * <cache>/src/linux-source-7.N/        the parts of the Linux tree gspkit reads (see LINUX_EXTRACT)
 * <cache>/src/nvidia-open-<version>/   nvidia-uvm/hwref and class headers from nvidia-open-kernel-source
 * <cache>/firmware/nvidia/<chip>/gsp/  the GSP firmware files (a firmware root like /lib/firmware)
 * ```
 *
 * A directory counts as present only when its `.complete` stamp exists.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The stamp file that marks a finished extraction; it holds a {@link SourceInfo} as JSON. */
export const STAMP = '.complete';

/** Paths inside a Linux tree (relative to its root) that gspkit reads. */
export const LINUX_PATHS = {
	/** nouveau's driver directory. */
	nouveau: 'drivers/gpu/drm/nouveau',
	/** nouveau's per-firmware-branch RM code: `r535/`, `r570/`, `rm.h`. */
	nouveauRm: 'drivers/gpu/drm/nouveau/nvkm/subdev/gsp/rm',
	/** The `Nv*` base types every nvrm header includes as `<nvrm/nvtypes.h>`. */
	nvtypes: 'drivers/gpu/drm/nouveau/include/nvrm/nvtypes.h',
	/** nouveau's include directory (the `-I` root for `<nvrm/nvtypes.h>` and `<nvif/class.h>`). */
	nouveauInclude: 'drivers/gpu/drm/nouveau/include',
	/** nouveau's table of RM class IDs. */
	nvifClass: 'drivers/gpu/drm/nouveau/include/nvif/class.h',
	/** nova-core, the Rust driver. */
	novaCore: 'drivers/gpu/nova-core',
	/** nova-core's bindgen output for 570.144. */
	novaBindingsR570: 'drivers/gpu/nova-core/gsp/fw/r570_144/bindings.rs',
	/** DRM uAPI headers. */
	uapiDrm: 'include/uapi/drm',
	/** VFIO uAPI header. */
	uapiVfio: 'include/uapi/linux/vfio.h',
} as const;

/**
 * The members extracted from the linux-source tarball, relative to the tree root (tar wildcards). A
 * superset of what abi-gen needs: the other packages read nova-core, the uAPI headers and vfio-pci.
 */
export const LINUX_EXTRACT: readonly string[] = [
	'drivers/gpu/drm/nouveau/*',
	'drivers/gpu/nova-core/*',
	'include/uapi/drm/*',
	'include/uapi/linux/vfio*.h',
	'drivers/vfio/pci/*',
];

/** Files that must exist after extracting a linux-source tree (relative to its root). */
export const LINUX_REQUIRED: readonly string[] = [
	`${LINUX_PATHS.nouveauRm}/rm.h`,
	`${LINUX_PATHS.nouveauRm}/r535/nvrm/gsp.h`,
	`${LINUX_PATHS.nouveauRm}/r535/nvrm/rpcfn.h`,
	`${LINUX_PATHS.nouveauRm}/r570/nvrm/gsp.h`,
	`${LINUX_PATHS.nouveauRm}/r570/nvrm/rpcfn.h`,
	LINUX_PATHS.nvtypes,
	LINUX_PATHS.nvifClass,
	LINUX_PATHS.novaBindingsR570,
	`${LINUX_PATHS.uapiDrm}/drm.h`,
	`${LINUX_PATHS.uapiDrm}/nouveau_drm.h`,
	`${LINUX_PATHS.uapiDrm}/xe_drm.h`,
	`${LINUX_PATHS.uapiDrm}/nova_drm.h`,
	LINUX_PATHS.uapiVfio,
];

/** Members extracted from nvidia-open-kernel-source's tarball (below `modules/nvidia-open-kernel/`). */
export const NVIDIA_OPEN_EXTRACT: readonly string[] = [
	'nvidia-uvm/hwref/*',
	'nvidia-uvm/cl*.h',
	'nvidia-uvm/ctrl*.h',
];

/** Metadata written into a `.complete` stamp. */
export interface SourceInfo {
	/** Debian package the data came from, e.g. `linux-source-7.2`. */
	readonly package: string;
	/** Debian version of that package, e.g. `7.2.13-1`. */
	readonly version: string;
	/** The `.deb` file name. */
	readonly deb: string;
}

/** Environment variables consulted by the look-ups (injectable for tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The cache root, resolved the same way as bin/debian-fetch.sh does. */
export function cacheDir(env: Env = process.env): string {
	if (env.GSPKIT_CACHE) return resolve(env.GSPKIT_CACHE);
	const xdg = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
	return join(xdg, 'gspkit');
}

/** Whether `dir` holds a finished extraction. */
export function isComplete(dir: string): boolean {
	return existsSync(join(dir, STAMP));
}

/** The {@link SourceInfo} of a finished extraction, or `undefined` (missing or pre-metadata stamp). */
export function readSourceInfo(dir: string): SourceInfo | undefined {
	try {
		const text = readFileSync(join(dir, STAMP), 'utf8').trim();
		if (!text) return undefined;
		const v = JSON.parse(text) as Partial<SourceInfo>;
		if (typeof v.package === 'string' && typeof v.version === 'string' && typeof v.deb === 'string') {
			return { package: v.package, version: v.version, deb: v.deb };
		}
	} catch {
		// An unreadable stamp still marks completion; it just carries no metadata.
	}
	return undefined;
}

/** Compares dotted numeric versions (`7.10` > `7.2`); non-numeric parts compare as strings. */
export function compareVersions(a: string, b: string): number {
	const pa = a.split(/[.\-+~]/);
	const pb = b.split(/[.\-+~]/);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const x = pa[i] ?? '';
		const y = pb[i] ?? '';
		const nx = /^\d+$/.test(x) ? Number(x) : Number.NaN;
		const ny = /^\d+$/.test(y) ? Number(y) : Number.NaN;
		if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
			if (nx !== ny) return nx - ny;
		} else if (x !== y) {
			return x < y ? -1 : 1;
		}
	}
	return 0;
}

/** The newest complete `<parent>/<prefix><version>` directory, or `undefined`. */
function newestComplete(parent: string, prefix: string): string | undefined {
	if (!existsSync(parent)) return undefined;
	const candidates = readdirSync(parent)
		.filter((d) => d.startsWith(prefix) && isComplete(join(parent, d)))
		.sort((a, b) => compareVersions(b.slice(prefix.length), a.slice(prefix.length)));
	const best = candidates[0];
	return best === undefined ? undefined : join(parent, best);
}

function envDir(value: string | undefined): string | undefined {
	if (!value) return undefined;
	const dir = resolve(value);
	return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}

/**
 * Root of the extracted Linux tree (holds `drivers/gpu/drm/nouveau/…`), or `undefined` when not fetched.
 * `$GSPKIT_HEADERS` overrides the cache (e.g. a kernel git checkout).
 */
export function headersDir(env: Env = process.env): string | undefined {
	if (env.GSPKIT_HEADERS) return envDir(env.GSPKIT_HEADERS);
	return newestComplete(join(cacheDir(env), 'src'), 'linux-source-');
}

/**
 * The firmware root (holds `nvidia/<chip>/gsp/*.bin`, like `/lib/firmware`), or `undefined` when not
 * fetched. `$GSPKIT_FIRMWARE` overrides the cache (e.g. `/lib/firmware`).
 */
export function firmwareDir(env: Env = process.env): string | undefined {
	if (env.GSPKIT_FIRMWARE) return envDir(env.GSPKIT_FIRMWARE);
	const dir = join(cacheDir(env), 'firmware');
	return isComplete(dir) ? dir : undefined;
}

/** Root of the extracted nvidia-open headers (holds `nvidia-uvm/hwref/…`), or `undefined`. */
export function nvidiaOpenDir(env: Env = process.env): string | undefined {
	return newestComplete(join(cacheDir(env), 'src'), 'nvidia-open-');
}

/** Everything `gspkit-fetch where` prints. Absent data is `null` (JSON-friendly). */
export interface CachePaths {
	readonly cache: string;
	readonly headers: string | null;
	readonly headersSource: SourceInfo | null;
	readonly firmware: string | null;
	readonly firmwareSource: SourceInfo | null;
	readonly nvidiaOpen: string | null;
	readonly nvidiaOpenSource: SourceInfo | null;
}

/** The cache paths and what each holds, for `gspkit-fetch where` and for diagnostics. */
export function cachePaths(env: Env = process.env): CachePaths {
	const headers = headersDir(env);
	const firmware = firmwareDir(env);
	const nvidiaOpen = nvidiaOpenDir(env);
	return {
		cache: cacheDir(env),
		headers: headers ?? null,
		headersSource: (headers ? readSourceInfo(headers) : undefined) ?? null,
		firmware: firmware ?? null,
		firmwareSource: (firmware ? readSourceInfo(firmware) : undefined) ?? null,
		nvidiaOpen: nvidiaOpen ?? null,
		nvidiaOpenSource: (nvidiaOpen ? readSourceInfo(nvidiaOpen) : undefined) ?? null,
	};
}
