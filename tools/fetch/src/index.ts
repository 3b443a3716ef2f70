/**
 * `@gspkit/fetch`: locate or fetch the real data gspkit uses — GSP firmware files, the GSP-RM ABI headers
 * published with Linux, and NVIDIA's hardware reference headers — from Debian packages into a local cache.
 *
 * The look-ups (`headersDir()`, `firmwareDir()`, `nvidiaOpenDir()`) never download, so tests can call them
 * and skip when the data is absent; the `ensure*()` functions fetch on demand.
 *
 * @module
 */

export { EXIT_CODES, FetchError, type FetchErrorCode } from './errors.ts';
export { parseDebName } from './extract.ts';
export {
	ensureFirmware,
	FIRMWARE_PACKAGE,
	FIRMWARE_SUITES,
	type FirmwareSummary,
	summarizeFirmware,
} from './firmware.ts';
export {
	ensureHeaders,
	type HeadersOptions,
	LINUX_SOURCE_PATTERN,
	LINUX_SOURCE_SUITE,
	pickLinuxSource,
} from './headers.ts';
export { ensureNvidiaOpen, memberPrefix, NVIDIA_OPEN_PACKAGE } from './nvidia-open.ts';
export {
	type CachePaths,
	cacheDir,
	cachePaths,
	compareVersions,
	type Env,
	firmwareDir,
	headersDir,
	isComplete,
	LINUX_EXTRACT,
	LINUX_PATHS,
	LINUX_REQUIRED,
	NVIDIA_OPEN_EXTRACT,
	nvidiaOpenDir,
	readSourceInfo,
	type SourceInfo,
	STAMP,
} from './paths.ts';
export { createProgram, defaultDeps, type FetchDeps, main } from './program.ts';
export { DEBIAN_FETCH, type FetchOptions, type Logger } from './run.ts';
