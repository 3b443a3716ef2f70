/**
 * Opening `gsp-<ver>.bin` for a boot without holding its 63 MB `.fwimage` in memory twice.
 *
 * Everything but the image (ELF header, section headers, names, `.fwversion`, the signature sections,
 * symbols) is read into a sparse buffer the size of the file and parsed with the regular firmware parser;
 * the image itself is then read from the file straight into DMA memory ({@link GspImageFile.image}), so the
 * only full copy of it in the process is the one the GPU reads. Untouched pages of the sparse buffer are
 * never committed by the OS.
 *
 * Files that do not look like an ELF64 the fast path understands are read whole and parsed normally, so a
 * malformed file still gets the parser's precise error.
 *
 * @module
 */

import { type FileHandle, open } from 'node:fs/promises';
import { findElfSection, parseElf } from './firmware/elf.ts';
import { FirmwareIoError } from './firmware/errors.ts';
import { type GspElf, parseGspElf } from './firmware/gsp-elf.ts';
import { MAX_FIRMWARE_FILE_SIZE, readFirmwareFile, toFirmwareError } from './firmware/load.ts';
import type { Radix3ImageReader } from './radix3.ts';

/** Bytes of `.fwimage` read into the sparse buffer so its format (inner ELF or raw) is detected. */
const IMAGE_HEAD = 64 * 1024;

/** An opened GSP firmware file. */
export interface GspImageFile {
	readonly path: string;
	/**
	 * The parsed container. `elf.image.data` holds only the image's first 64 KiB (the rest reads as zero):
	 * use {@link GspImageFile.image} for the contents.
	 */
	readonly elf: GspElf;
	/** Reads `.fwimage` from the file. */
	readonly image: Radix3ImageReader;
	/** Whether the fast path was used (false: the file was read whole). */
	readonly sparse: boolean;
	/** Close the file. Idempotent. */
	close(): Promise<void>;
}

async function readFully(fh: FileHandle, path: string, into: Uint8Array, position: number): Promise<void> {
	let done = 0;
	// Each iteration reads at least one byte or throws, so the loop ends after at most into.length reads.
	while (done < into.length) {
		const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
		if (bytesRead === 0) {
			throw new FirmwareIoError(
				path,
				`short read at ${position + done}: the file shrank while reading`,
				'EIO',
			);
		}
		done += bytesRead;
	}
}

/**
 * Open a GSP firmware file: parse the container without reading `.fwimage` beyond its head, and return a
 * reader for the image.
 * @throws FirmwareNotFoundError, FirmwareIoError, FirmwareFormatError (from the parsers).
 */
export async function openGspImageFile(
	path: string,
	maxSize = MAX_FIRMWARE_FILE_SIZE,
): Promise<GspImageFile> {
	let fh: FileHandle;
	try {
		fh = await open(path, 'r');
	} catch (e) {
		throw toFirmwareError(path, e);
	}
	let closed = false;
	const close = async () => {
		if (!closed) {
			closed = true;
			await fh.close();
		}
	};
	try {
		const size = (await fh.stat()).size;
		const fast = await sparseParse(fh, path, size, maxSize);
		if (fast !== undefined) {
			const { elf } = fast;
			const base = elf.image.offset;
			return {
				path,
				elf,
				sparse: true,
				close,
				image: {
					size: elf.image.size,
					async read(into, offset) {
						if (closed) throw new FirmwareIoError(path, 'read after close', 'EBADF');
						if (offset < 0 || offset + into.length > elf.image.size) {
							throw new FirmwareIoError(
								path,
								`.fwimage read ${offset}+${into.length} is outside the image`,
								'EINVAL',
							);
						}
						await readFully(fh, path, into, base + offset);
					},
				},
			};
		}
		await close();
		const file = await readFirmwareFile(path, { maxSize });
		const elf = parseGspElf(file.bytes, path);
		const data = elf.image.data;
		return {
			path,
			elf,
			sparse: false,
			close,
			image: {
				size: data.length,
				async read(into, offset) {
					into.set(data.subarray(offset, offset + into.length));
				},
			},
		};
	} catch (e) {
		await close();
		throw toFirmwareError(path, e);
	}
}

/** The fast path; `undefined` when the file does not look like an ELF64 it can handle (then read it whole). */
async function sparseParse(
	fh: FileHandle,
	path: string,
	size: number,
	maxSize: number,
): Promise<{ elf: GspElf } | undefined> {
	if (size < 64 || size > maxSize) return undefined;
	const bytes = new Uint8Array(size);
	const dv = new DataView(bytes.buffer);
	const readAt = (offset: number, length: number) =>
		readFully(fh, path, bytes.subarray(offset, offset + length), offset);
	await readAt(0, 64);
	if (dv.getUint32(0, false) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) return undefined;
	const shoff = Number(dv.getBigUint64(0x28, true));
	const shentsize = dv.getUint16(0x3a, true);
	const shnum = dv.getUint16(0x3c, true);
	const shstrndx = dv.getUint16(0x3e, true);
	if (shentsize !== 64 || shnum === 0 || shstrndx >= shnum || shoff + shnum * 64 > size) return undefined;
	await readAt(shoff, shnum * 64);
	const sh = shoff + shstrndx * 64;
	const strOff = Number(dv.getBigUint64(sh + 0x18, true));
	const strSize = Number(dv.getBigUint64(sh + 0x20, true));
	if (strOff + strSize > size) return undefined;
	await readAt(strOff, strSize);
	let img: ReturnType<typeof findElfSection>;
	try {
		img = findElfSection(parseElf(bytes, path), '.fwimage');
	} catch {
		return undefined;
	}
	if (img === undefined || img.size === 0) return undefined;
	// Everything but the image, then the image's head.
	await readAt(0, img.offset);
	await readAt(img.offset + img.size, size - img.offset - img.size);
	await readAt(img.offset, Math.min(img.size, IMAGE_HEAD));
	return { elf: parseGspElf(bytes, path) };
}
