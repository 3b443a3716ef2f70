/**
 * A small bounds-checked little-endian reader over a `Uint8Array`.
 *
 * Every firmware parser reads through it, so no parser can read out of range: each read first checks that
 * the whole field lies inside the data, and a failed check becomes a {@link FirmwareFormatError} naming the
 * field and its offset instead of a `RangeError` (or, worse, `undefined` from an index past the end).
 *
 * @module
 */

import { hex } from '@gspkit/hal';
import { FirmwareFormatError } from './errors.ts';

/** Format a byte count or offset for an error message. */
export function fmt(n: number | bigint): string {
	return hex(n, 1);
}

/** Bounds-checked reads over one file's bytes. Reads never copy; `bytes()` returns subarray views. */
export class ByteReader {
	/** The data being read. */
	readonly data: Uint8Array;
	/** File name used in error messages. */
	readonly file: string;
	private readonly view: DataView;

	constructor(data: Uint8Array, file: string) {
		this.data = data;
		this.file = file;
		this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
	}

	/** Number of bytes in the data. */
	get length(): number {
		return this.data.byteLength;
	}

	/** Throw a {@link FirmwareFormatError} for `field` at `offset`. */
	fail(field: string, offset: number, expected: string, actual: string, note?: string): never {
		throw new FirmwareFormatError({ file: this.file, field, offset, expected, actual }, note);
	}

	/** Whether `[offset, offset + size)` lies inside the data (both must be non-negative safe integers). */
	fits(offset: number, size: number): boolean {
		return (
			Number.isSafeInteger(offset) &&
			Number.isSafeInteger(size) &&
			offset >= 0 &&
			size >= 0 &&
			offset + size <= this.data.byteLength
		);
	}

	/**
	 * Require `[offset, offset + size)` to lie inside the data.
	 * @param at where the offending value was read from (defaults to `offset`), reported in the error.
	 */
	need(offset: number, size: number, field: string, at: number = offset): void {
		if (!this.fits(offset, size)) {
			this.fail(
				field,
				Number.isSafeInteger(at) && at >= 0 ? at : 0,
				`range within the ${this.data.byteLength}-byte file`,
				`${fmt(offset)}..+${fmt(size)}`,
			);
		}
	}

	/**
	 * Unsigned byte at `offset`. Like every read, `at` is the file position reported if the read does not fit:
	 * the field itself by default, or the pointer field it was found through.
	 */
	u8(offset: number, field: string, at: number = offset): number {
		this.need(offset, 1, field, at);
		return this.view.getUint8(offset);
	}

	/** Little-endian u16 at `offset`. */
	u16(offset: number, field: string, at: number = offset): number {
		this.need(offset, 2, field, at);
		return this.view.getUint16(offset, true);
	}

	/** Little-endian u32 at `offset`. */
	u32(offset: number, field: string, at: number = offset): number {
		this.need(offset, 4, field, at);
		return this.view.getUint32(offset, true);
	}

	/** Little-endian u64 at `offset`, as a bigint. */
	u64(offset: number, field: string, at: number = offset): bigint {
		this.need(offset, 8, field, at);
		return this.view.getBigUint64(offset, true);
	}

	/** Little-endian u64 at `offset` that must fit a safe JS integer (used for ELF offsets and sizes). */
	u64n(offset: number, field: string, at: number = offset): number {
		const v = this.u64(offset, field, at);
		if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
			this.fail(field, offset, `a value up to ${fmt(Number.MAX_SAFE_INTEGER)}`, fmt(v));
		}
		return Number(v);
	}

	/** A zero-copy view of `[offset, offset + size)`. */
	bytes(offset: number, size: number, field: string, at: number = offset): Uint8Array {
		this.need(offset, size, field, at);
		return this.data.subarray(offset, offset + size);
	}

	/**
	 * The NUL-terminated string starting at `offset`, which must end before `limit` (exclusive) and be at
	 * most `maxLength` characters long (so a table of N strings costs at most N × maxLength byte checks).
	 * Bytes are decoded as Latin-1 so any byte value maps to one character.
	 * @param at where the string offset was read from, reported when the offset itself is out of range.
	 */
	cstring(offset: number, limit: number, field: string, at?: number, maxLength = 4096): string {
		const tableEnd = Math.min(limit, this.data.byteLength);
		if (!Number.isSafeInteger(offset) || offset < 0 || offset >= tableEnd) {
			this.fail(
				field,
				at ?? 0,
				`a string offset below ${fmt(tableEnd)}`,
				Number.isFinite(offset) ? fmt(offset) : String(offset),
			);
		}
		const end = Math.min(tableEnd, offset + maxLength + 1);
		// Search only up to `end`, so a missing terminator costs at most maxLength bytes, not the file's size.
		const rel = this.data.subarray(offset, end).indexOf(0);
		if (rel < 0)
			this.fail(
				field,
				offset,
				`a NUL terminator within ${maxLength} bytes and before ${fmt(tableEnd)}`,
				'none',
			);
		let s = '';
		for (let i = offset; i < offset + rel; i++) s += String.fromCharCode(this.data[i] as number);
		return s;
	}
}

/** Whether `data` starts with the 4 ELF magic bytes. */
export function isElf(data: Uint8Array): boolean {
	return data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
}
