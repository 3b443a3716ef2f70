/**
 * Little-endian byte helpers shared by the VBIOS builder, the firmware writers and the firmware models:
 * a growable {@link ByteWriter}, bounds-checked readers, SHA-256 and a deterministic pseudo-random source.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { SimFirmwareFormatError } from '../falcon/errors.ts';

/** A growable little-endian byte buffer. Offsets are absolute from the start of the buffer. */
export class ByteWriter {
	#buf: Uint8Array;
	#view: DataView;
	#len = 0;

	constructor(initialCapacity = 4096) {
		this.#buf = new Uint8Array(Math.max(16, initialCapacity));
		this.#view = new DataView(this.#buf.buffer);
	}

	/** Bytes written so far (the next append offset). */
	get length(): number {
		return this.#len;
	}

	#ensure(end: number): void {
		if (end <= this.#buf.length) return;
		let cap = this.#buf.length;
		while (cap < end) cap *= 2;
		const next = new Uint8Array(cap);
		next.set(this.#buf.subarray(0, this.#len));
		this.#buf = next;
		this.#view = new DataView(next.buffer);
	}

	#reserve(n: number): number {
		const at = this.#len;
		this.#ensure(at + n);
		this.#len = at + n;
		return at;
	}

	/** Append one byte. */
	u8(value: number): this {
		this.#view.setUint8(this.#reserve(1), value & 0xff);
		return this;
	}

	/** Append a little-endian u16. */
	u16(value: number): this {
		this.#view.setUint16(this.#reserve(2), value & 0xffff, true);
		return this;
	}

	/** Append a little-endian u32. */
	u32(value: number): this {
		this.#view.setUint32(this.#reserve(4), value >>> 0, true);
		return this;
	}

	/** Append a little-endian u64. */
	u64(value: bigint): this {
		this.#view.setBigUint64(this.#reserve(8), BigInt.asUintN(64, value), true);
		return this;
	}

	/** Append raw bytes. */
	bytes(data: Uint8Array): this {
		const at = this.#reserve(data.length);
		this.#buf.set(data, at);
		return this;
	}

	/** Append an ASCII string (no terminator). */
	ascii(text: string): this {
		for (let i = 0; i < text.length; i++) this.u8(text.charCodeAt(i));
		return this;
	}

	/** Append `n` copies of `fill` (default zero). */
	fill(n: number, fill = 0): this {
		const at = this.#reserve(n);
		this.#buf.fill(fill & 0xff, at, at + n);
		return this;
	}

	/** Pad with `fill` until the length is a multiple of `alignment`. */
	align(alignment: number, fill = 0): this {
		const rem = this.#len % alignment;
		if (rem !== 0) this.fill(alignment - rem, fill);
		return this;
	}

	/** Pad with `fill` up to absolute offset `offset` (no-op if already there). */
	padTo(offset: number, fill = 0): this {
		if (offset < this.#len) {
			throw new RangeError(`padTo(${offset}): already at ${this.#len}`);
		}
		return this.fill(offset - this.#len, fill);
	}

	/** Overwrite a u8 already written. */
	setU8(offset: number, value: number): void {
		this.#checkSet(offset, 1);
		this.#view.setUint8(offset, value & 0xff);
	}

	/** Overwrite a u16 already written. */
	setU16(offset: number, value: number): void {
		this.#checkSet(offset, 2);
		this.#view.setUint16(offset, value & 0xffff, true);
	}

	/** Overwrite a u32 already written. */
	setU32(offset: number, value: number): void {
		this.#checkSet(offset, 4);
		this.#view.setUint32(offset, value >>> 0, true);
	}

	/** Overwrite bytes already written. */
	setBytes(offset: number, data: Uint8Array): void {
		this.#checkSet(offset, data.length);
		this.#buf.set(data, offset);
	}

	#checkSet(offset: number, n: number): void {
		if (!Number.isInteger(offset) || offset < 0 || offset + n > this.#len) {
			throw new RangeError(`patch of ${n} bytes at ${offset} outside the ${this.#len} bytes written`);
		}
	}

	/** A view of what was written so far (shares memory with the writer until it grows). */
	view(): Uint8Array {
		return this.#buf.subarray(0, this.#len);
	}

	/** A copy of the bytes written. */
	finish(): Uint8Array {
		return this.#buf.slice(0, this.#len);
	}
}

function need(data: Uint8Array, offset: number, size: number, what: string): void {
	if (!Number.isInteger(offset) || offset < 0 || offset + size > data.length) {
		throw new SimFirmwareFormatError(
			`${what}: ${size} bytes at offset ${offset} run past the end (${data.length} bytes)`,
			{
				field: what,
				offset,
				length: data.length,
			},
		);
	}
}

/** Read a u8; throws {@link SimFirmwareFormatError} naming `what` when out of range. */
export function rdU8(data: Uint8Array, offset: number, what = 'u8'): number {
	need(data, offset, 1, what);
	return data[offset]!;
}

/** Read a little-endian u16 (bounds-checked). */
export function rdU16(data: Uint8Array, offset: number, what = 'u16'): number {
	need(data, offset, 2, what);
	return data[offset]! | (data[offset + 1]! << 8);
}

/** Read a little-endian u32 (bounds-checked). */
export function rdU32(data: Uint8Array, offset: number, what = 'u32'): number {
	need(data, offset, 4, what);
	return (
		(data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0
	);
}

/** Read a little-endian u64 (bounds-checked). */
export function rdU64(data: Uint8Array, offset: number, what = 'u64'): bigint {
	const lo = rdU32(data, offset, what);
	const hi = rdU32(data, offset + 4, what);
	return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A bounds-checked sub-range (no copy). */
export function slice(data: Uint8Array, offset: number, size: number, what = 'range'): Uint8Array {
	need(data, offset, size, what);
	return data.subarray(offset, offset + size);
}

/** SHA-256 of one or more byte arrays, as lower-case hex. */
export function sha256Hex(...parts: readonly Uint8Array[]): string {
	const h = createHash('sha256');
	for (const p of parts) h.update(p);
	return h.digest('hex');
}

/** An incremental SHA-256 (for images assembled page by page). */
export function sha256Stream(): { update(data: Uint8Array): void; digest(): string } {
	const h = createHash('sha256');
	return {
		update: (data) => {
			h.update(data);
		},
		digest: () => h.digest('hex'),
	};
}

/**
 * SHA-256 of `data[0, length)` with the byte ranges in `masks` read as zero. The simulated BROM uses it to
 * compare DMEM with a signed image while ignoring the fields the driver is expected to patch.
 */
export function maskedSha256(
	data: Uint8Array,
	length: number,
	masks: readonly (readonly [number, number])[],
): string {
	const h = createHash('sha256');
	const sorted = [...masks].sort((a, b) => a[0] - b[0]);
	let pos = 0;
	for (const [start, end] of sorted) {
		const s = Math.max(pos, Math.min(start, length));
		const e = Math.min(end, length);
		if (s > pos) h.update(data.subarray(pos, s));
		if (e > s) h.update(new Uint8Array(e - s));
		pos = Math.max(pos, e);
	}
	if (pos < length) h.update(data.subarray(pos, length));
	return h.digest('hex');
}

/** FNV-1a of a string: turns a seed name ("ga102/fwsec") into a 32-bit PRNG seed. */
export function seedOf(name: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < name.length; i++) {
		h ^= name.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h >>> 0;
}

/**
 * A small deterministic pseudo-random generator (xorshift128), so every synthetic ROM and firmware file is
 * byte-identical across runs and machines.
 */
export class DeterministicRandom {
	#s0: number;
	#s1: number;
	#s2: number;
	#s3: number;

	constructor(seed: number | string) {
		let x = (typeof seed === 'string' ? seedOf(seed) : seed >>> 0) || 0x9e3779b9;
		const next = (): number => {
			// splitmix32 to spread the seed over the four state words
			x = (x + 0x9e3779b9) >>> 0;
			let z = x;
			z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
			z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
			return (z ^ (z >>> 16)) >>> 0;
		};
		this.#s0 = next();
		this.#s1 = next();
		this.#s2 = next();
		this.#s3 = next() || 1;
	}

	/** The next unsigned 32-bit value. */
	u32(): number {
		let t = this.#s3;
		const s = this.#s0;
		this.#s3 = this.#s2;
		this.#s2 = this.#s1;
		this.#s1 = s;
		t ^= t << 11;
		t ^= t >>> 8;
		this.#s0 = (t ^ s ^ (s >>> 19)) >>> 0;
		return this.#s0;
	}

	/** An integer in `[0, n)`. */
	below(n: number): number {
		return this.u32() % n;
	}

	/** `n` pseudo-random bytes. */
	bytes(n: number): Uint8Array {
		const out = new Uint8Array(Math.ceil(n / 4) * 4);
		const view = new DataView(out.buffer);
		for (let i = 0; i < out.length; i += 4) view.setUint32(i, this.u32(), true);
		return n === out.length ? out : out.slice(0, n);
	}
}
