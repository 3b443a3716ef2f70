/**
 * Reading firmware files from disk: one allocation per file, no copies, optional progress reports.
 *
 * @module
 */

import { lstat, open, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { type Errno, isErrno } from '@gspkit/hal';
import { FirmwareFormatError, FirmwareIoError, FirmwareNotFoundError } from './errors.ts';
import { type IdentifiedFirmware, identifyFirmwareFile } from './identify.ts';

/** Default upper bound on a firmware file's size (the largest published file is 63 MB). */
export const MAX_FIRMWARE_FILE_SIZE = 512 * 1024 * 1024;

/** A progress report while a file loads. */
export interface LoadProgress {
	/** The path being read. */
	readonly path: string;
	/** Bytes read so far. */
	readonly bytesRead: number;
	/** File size. */
	readonly totalBytes: number;
}

/** Options of {@link readFirmwareFile}. */
export interface ReadFirmwareOptions {
	/** Called after each chunk (and once at the end). Without it the file is read with one `readFile`. */
	readonly onProgress?: (progress: LoadProgress) => void;
	/** Bytes per read when reporting progress (default 4 MiB). */
	readonly chunkSize?: number;
	/** Refuse larger files (default {@link MAX_FIRMWARE_FILE_SIZE}). */
	readonly maxSize?: number;
	/** Abort the read. */
	readonly signal?: AbortSignal;
}

/** A firmware file read into memory. */
export interface FirmwareFileData {
	/** The path as given. */
	readonly path: string;
	/** The path with every symbolic link resolved. */
	readonly realPath: string;
	/** The link target as stored, when `path` itself is a symbolic link; else `null`. */
	readonly linkTarget: string | null;
	/** The contents: one buffer, never copied afterwards (parsers return views into it). */
	readonly bytes: Uint8Array;
}

/**
 * Read a firmware file into one buffer. With `onProgress`, the buffer is allocated once at the file's size
 * and filled chunk by chunk, so a progress bar costs no extra copy.
 * @throws FirmwareNotFoundError (no such file), FirmwareIoError (unreadable, not a regular file, short
 * read), FirmwareFormatError (larger than `maxSize`).
 */
export async function readFirmwareFile(
	path: string,
	options: ReadFirmwareOptions = {},
): Promise<FirmwareFileData> {
	const maxSize = options.maxSize ?? MAX_FIRMWARE_FILE_SIZE;
	const info = await fsCall(path, () => stat(path));
	if (!info.isFile()) throw new FirmwareIoError(path, 'not a regular file', 'EINVAL');
	if (info.size > maxSize) {
		throw new FirmwareFormatError({
			file: path,
			field: 'file size',
			offset: 0,
			expected: `at most ${maxSize} bytes`,
			actual: `${info.size} bytes`,
		});
	}
	const [realPath, linkTarget] = await Promise.all([
		fsCall(path, () => realpath(path)),
		fsCall(path, async () => ((await lstat(path)).isSymbolicLink() ? readlink(path) : null)),
	]);
	const onProgress = options.onProgress;
	if (onProgress === undefined) {
		const buf = await fsCall(path, () =>
			readFile(path, options.signal === undefined ? {} : { signal: options.signal }),
		);
		return { path, realPath, linkTarget, bytes: viewOf(buf) };
	}
	const total = info.size;
	const bytes = new Uint8Array(total);
	const chunk = Math.max(4096, options.chunkSize ?? 4 * 1024 * 1024);
	const fh = await fsCall(path, () => open(path, 'r'));
	try {
		let pos = 0;
		onProgress({ path, bytesRead: 0, totalBytes: total });
		// Each iteration reads at least one byte or stops, so the loop ends after at most `total` reads.
		while (pos < total) {
			options.signal?.throwIfAborted();
			const want = Math.min(chunk, total - pos);
			const { bytesRead } = await fsCall(path, () => fh.read(bytes, pos, want, pos));
			if (bytesRead === 0) {
				throw new FirmwareIoError(
					path,
					`short read: file shrank to ${pos} of ${total} bytes while reading`,
					'EIO',
				);
			}
			pos += bytesRead;
			onProgress({ path, bytesRead: pos, totalBytes: total });
		}
	} finally {
		await fh.close();
	}
	return { path, realPath, linkTarget, bytes };
}

/** A file read and identified by {@link loadFirmwareFile}. */
export type LoadedFirmware = IdentifiedFirmware & {
	/** Where the bytes came from. */
	readonly file: FirmwareFileData;
};

/**
 * Read and identify a firmware file (see {@link identifyFirmwareFile}); the path, not the link target,
 * names the chip, so `nvidia/ad102/gsp/gsp-570.144.bin` is an AD102 file even though it links to GA102's.
 * @throws the errors of {@link readFirmwareFile} and FirmwareFormatError from the parsers.
 */
export async function loadFirmwareFile(
	path: string,
	options: ReadFirmwareOptions = {},
): Promise<LoadedFirmware> {
	const file = await readFirmwareFile(path, options);
	return { ...identifyFirmwareFile(path, file.bytes), file };
}

function viewOf(buf: Buffer): Uint8Array {
	return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Run an fs call, turning Node's errors into firmware errors. */
async function fsCall<T>(path: string, fn: () => Promise<T>): Promise<T> {
	try {
		return await fn();
	} catch (e) {
		throw toFirmwareError(path, e);
	}
}

/** Map a Node fs error to FirmwareNotFoundError (ENOENT/ENOTDIR) or FirmwareIoError. */
export function toFirmwareError(path: string, e: unknown): Error {
	if (e instanceof FirmwareIoError || e instanceof FirmwareNotFoundError || e instanceof FirmwareFormatError)
		return e;
	const code =
		typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
	if (code === 'ENOENT' || code === 'ENOTDIR') {
		return new FirmwareNotFoundError(path, [path], [{ kind: 'file', names: [path] }]);
	}
	if (e instanceof Error && e.name === 'AbortError') return e;
	const errno: Errno = isErrno(code) ? code : 'EIO';
	return new FirmwareIoError(path, e instanceof Error ? e.message : String(e), errno, e);
}
