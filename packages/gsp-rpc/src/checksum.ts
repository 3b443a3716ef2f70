/**
 * The queue-element checksum (reference §1.3).
 *
 * The sender zero-pads the element (48-byte header + `rpc.length`) to 8 bytes, sets `checkSum = 0`, XORs every
 * little-endian u64 and stores `hi32 ^ lo32`. Since XOR is associative, `hi32 ^ lo32` of the u64 fold equals the
 * XOR of all little-endian u32 words, which is what is computed here; a receiver then requires the whole element
 * (checksum included) to XOR to zero.
 *
 * JavaScript folds about 3 GB/s. Large ranges therefore go through a tiny WebAssembly SIMD kernel (`v128.xor`
 * over a 64 KiB scratch memory, hand-assembled below, about 100 bytes) that runs at memcpy speed; the copy into
 * its memory is the dominant cost. When the DMA pool is itself a shared `WebAssembly.Memory`, the same kernel is
 * instantiated on it ({@link inPlaceXorKernel}) and folds the queue in place, with no copy at all. Hosts without
 * WebAssembly SIMD use the JavaScript fold.
 *
 * @module
 */

import type { SharedWasmMemory } from '@gspkit/hal';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes the JavaScript fold is cheaper than the copy into wasm memory. */
const WASM_THRESHOLD = 2048;
/** Below this many bytes a call into the in-place kernel costs more than the JavaScript fold. */
const IN_PLACE_THRESHOLD = 256;
/** Size of the wasm scratch memory (one 64 KiB page = one maximal element). */
const WASM_CHUNK = 0x10000;

interface WasmKernel {
	readonly scratch: Uint8Array;
	/** XOR of the u32 words in scratch[0, n), n a multiple of 32. */
	readonly xor: (ptr: number, n: number) => number;
}

/** The few WebAssembly JS-API members used here (the ES2023 lib without DOM does not declare them). */
interface WasmApi {
	validate(bytes: Uint8Array): boolean;
	Module: new (bytes: Uint8Array) => object;
	Instance: new (
		module: object,
		imports?: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
	) => { readonly exports: Readonly<Record<string, unknown>> };
}

function leb(n: number): number[] {
	const out: number[] = [];
	do {
		let b = n & 0x7f;
		n >>>= 7;
		if (n !== 0) b |= 0x80;
		out.push(b);
	} while (n !== 0);
	return out;
}

function section(id: number, bytes: number[]): number[] {
	return [id, ...leb(bytes.length), ...bytes];
}

/**
 * The kernel's code body: `(func (param $p i32) (param $n i32) (result i32)` with locals `$a $b v128`,
 * `$end i32`: `end = p + n; loop { if p >= end break; a ^= load(p); b ^= load(p+16); p += 32 }`, then the four
 * i32 lanes of `a ^ b` XORed together.
 */
function kernelCode(): number[] {
	return [
		2,
		2,
		0x7b,
		1,
		0x7f, // locals: 2 × v128 ($a=2, $b=3), 1 × i32 ($end=4)
		0x20,
		0,
		0x20,
		1,
		0x6a,
		0x21,
		4, // end = p + n
		0x02,
		0x40,
		0x03,
		0x40, // block, loop
		0x20,
		0,
		0x20,
		4,
		0x4f,
		0x0d,
		1, // br_if 1 (p >= end)
		0x20,
		2,
		0x20,
		0,
		0xfd,
		0x00,
		4,
		0,
		0xfd,
		0x51,
		0x21,
		2, // a = a ^ v128.load(p)
		0x20,
		3,
		0x20,
		0,
		0xfd,
		0x00,
		4,
		16,
		0xfd,
		0x51,
		0x21,
		3, // b = b ^ v128.load offset=16 (p)
		0x20,
		0,
		0x41,
		32,
		0x6a,
		0x21,
		0, // p += 32
		0x0c,
		0, // br 0
		0x0b,
		0x0b, // end loop, end block
		0x20,
		2,
		0x20,
		3,
		0xfd,
		0x51,
		0x21,
		2, // a ^= b
		0x20,
		2,
		0xfd,
		0x1b,
		0, // i32x4.extract_lane 0
		0x20,
		2,
		0xfd,
		0x1b,
		1,
		0x73, // ^ lane 1
		0x20,
		2,
		0xfd,
		0x1b,
		2,
		0x73, // ^ lane 2
		0x20,
		2,
		0xfd,
		0x1b,
		3,
		0x73, // ^ lane 3
		0x0b,
	];
}

/**
 * The kernel module: with its own 64 KiB memory exported as "m" (data is copied in), or importing a shared
 * memory "e"."m" of up to 4 GiB (the kernel then reads the caller's shared memory in place).
 */
function kernelModule(importShared: boolean): Uint8Array {
	const code = kernelCode();
	const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
	return new Uint8Array([
		0x00,
		0x61,
		0x73,
		0x6d,
		0x01,
		0x00,
		0x00,
		0x00, // "\0asm", version 1
		...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]), // type 0: (i32, i32) -> i32
		// import "e" "m": memory, limits flag 3 (shared, with maximum), min 1 page, max 65536 pages
		...(importShared ? section(2, [1, ...name('e'), ...name('m'), 0x02, 0x03, 1, ...leb(65536)]) : []),
		...section(3, [1, 0]), // function 0 has type 0
		...(importShared ? [] : section(5, [1, 0, 1])), // one memory, min 1 page (64 KiB)
		...(importShared
			? section(7, [1, ...name('x'), 0, 0]) // export "x" func 0
			: section(7, [2, ...name('m'), 2, 0, ...name('x'), 0, 0])), // export "m" memory 0, "x" func 0
		...section(10, [1, ...leb(code.length), ...code]),
	]);
}

/** Check a kernel against the JavaScript fold on 64 test bytes written at `ptr` of `bytes` (which it sees). */
function probeKernel(xor: (ptr: number, n: number) => number, bytes: Uint8Array, ptr: number): boolean {
	for (let i = 0; i < 64; i++) bytes[ptr + i] = (i * 37 + 11) & 0xff;
	return (xor(ptr, 64) | 0) === (jsFold(bytes, ptr, 64) | 0);
}

function jsFold(bytes: Uint8Array, ptr: number, n: number): number {
	const dv = new DataView(bytes.buffer, bytes.byteOffset + ptr, n);
	let x = 0;
	for (let i = 0; i < n; i += 4) x ^= dv.getUint32(i, true);
	return x;
}

function buildKernel(): WasmKernel | undefined {
	const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
	if (wasm === undefined) return undefined;
	const bytes = kernelModule(false);
	try {
		if (!wasm.validate(bytes)) return undefined;
		const instance = new wasm.Instance(new wasm.Module(bytes));
		const memory = instance.exports.m as { readonly buffer: ArrayBuffer };
		const xor = instance.exports.x as (ptr: number, n: number) => number;
		const kernel = { scratch: new Uint8Array(memory.buffer, 0, WASM_CHUNK), xor };
		return probeKernel(xor, kernel.scratch, 0) ? kernel : undefined;
	} catch {
		return undefined;
	}
}

const KERNEL: WasmKernel | undefined = LITTLE_ENDIAN ? buildKernel() : undefined;

/** Which implementation large checksums use: `'wasm-simd'` or `'js'`. */
export const CHECKSUM_IMPLEMENTATION: 'wasm-simd' | 'js' = KERNEL === undefined ? 'js' : 'wasm-simd';

function xorWordsJs(i32: Int32Array, start: number, end: number): number {
	let x = 0;
	for (let i = start; i < end; i++) x ^= i32[i]!;
	return x;
}

function xorWordsDv(dv: DataView, byteStart: number, byteEnd: number): number {
	let x = 0;
	for (let o = byteStart; o < byteEnd; o += 4) x ^= dv.getUint32(o, true);
	return x;
}

/**
 * XOR of the little-endian u32 words in `[byteStart, byteEnd)` of a region, given two views that start at the
 * same byte: `u8` (for copies into the wasm kernel) and `i32`. Both bounds must be multiples of 4.
 * Returns a signed 32-bit value (`>>> 0` for the unsigned one).
 *
 * @internal Hot path of the transport; use {@link checksum32} elsewhere.
 */
export function xorRange(u8: Uint8Array, i32: Int32Array, byteStart: number, byteEnd: number): number {
	const n = byteEnd - byteStart;
	if (!LITTLE_ENDIAN) {
		return xorWordsDv(new DataView(u8.buffer, u8.byteOffset, u8.byteLength), byteStart, byteEnd);
	}
	if (KERNEL === undefined || n < WASM_THRESHOLD) return xorWordsJs(i32, byteStart >> 2, byteEnd >> 2);
	let x = 0;
	let o = byteStart;
	while (o < byteEnd) {
		const len = Math.min(WASM_CHUNK, byteEnd - o);
		const bulk = len & ~31;
		KERNEL.scratch.set(u8.subarray(o, o + bulk), 0);
		x ^= KERNEL.xor(0, bulk);
		if (bulk !== len) x ^= xorWordsJs(i32, (o + bulk) >> 2, (o + len) >> 2);
		o += len;
	}
	return x;
}

/**
 * The element checksum of `bytes`: XOR of its little-endian u32 words after zero-padding to a multiple of 8
 * (equivalently `hi32 ^ lo32` of the u64 fold). Unsigned. A received element is intact when this is 0.
 */
export function checksum32(bytes: Uint8Array): number {
	const full = bytes.length & ~3;
	let x: number;
	if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
		const i32 = new Int32Array(bytes.buffer, bytes.byteOffset, full >> 2);
		x = xorRange(bytes, i32, 0, full);
	} else {
		x = xorWordsDv(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, full);
	}
	let tail = 0;
	for (let i = full; i < bytes.length; i++) tail |= bytes[i]! << ((i - full) * 8);
	return (x ^ tail) >>> 0;
}

/**
 * XOR of the little-endian u32 words of `bytes[off, off+len)`, the last partial word zero-padded — the
 * checksum contribution of a span that starts on a word boundary of the element. Any alignment of `bytes`.
 *
 * @internal Hot path of the transport (lets it checksum the private copy instead of re-reading shared memory).
 */
export function xorBytes(bytes: Uint8Array, off: number, len: number): number {
	const full = len & ~3;
	let x = 0;
	let o = off;
	const end = off + full;
	if (KERNEL !== undefined && full >= WASM_THRESHOLD) {
		while (end - o >= 32) {
			const n = Math.min(WASM_CHUNK, (end - o) & ~31);
			KERNEL.scratch.set(bytes.subarray(o, o + n), 0);
			x ^= KERNEL.xor(0, n);
			o += n;
		}
	} else if (LITTLE_ENDIAN && (bytes.byteOffset + o) % 4 === 0 && full >= 64) {
		x = xorWordsJs(new Int32Array(bytes.buffer, bytes.byteOffset + o, full >> 2), 0, full >> 2);
		o = end;
	}
	for (; o < end; o += 4)
		x ^= bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24);
	let tail = 0;
	for (let i = 0; i < len - full; i++) tail |= bytes[end + i]! << (8 * i);
	return x ^ tail;
}

/**
 * XOR of the u32 words of `n` bytes at absolute byte address `ptr` of a shared wasm memory (`n` a multiple
 * of 32), computed in place. Made by {@link inPlaceXorKernel}.
 */
export type InPlaceXor = (ptr: number, n: number) => number;

const IN_PLACE_MODULE: { module?: object | null } = {};
const IN_PLACE = new WeakMap<SharedWasmMemory, InPlaceXor | null>();

/**
 * The checksum kernel instantiated on `memory` itself, so ranges of DMA memory backed by a shared
 * `WebAssembly.Memory` are folded where they lie instead of being copied into the kernel's scratch page
 * first (that copy was half the transport's cost per byte). `undefined` when the host lacks WebAssembly
 * SIMD or threads, or the kernel does not agree with the JavaScript fold. One instance per memory.
 */
export function inPlaceXorKernel(memory: SharedWasmMemory): InPlaceXor | undefined {
	const known = IN_PLACE.get(memory);
	if (known !== undefined) return known ?? undefined;
	let kernel: InPlaceXor | null = null;
	const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
	if (LITTLE_ENDIAN && KERNEL !== undefined && wasm !== undefined && memory.buffer.byteLength >= 64) {
		try {
			if (IN_PLACE_MODULE.module === undefined) {
				const bytes = kernelModule(true);
				IN_PLACE_MODULE.module = wasm.validate(bytes) ? new wasm.Module(bytes) : null;
			}
			if (IN_PLACE_MODULE.module !== null) {
				const instance = new wasm.Instance(IN_PLACE_MODULE.module, { e: { m: memory } });
				const xor = instance.exports.x as InPlaceXor;
				// Read-only check (the memory is live and shared): the same code was verified on test bytes in
				// the scratch instance; here it only has to agree with the fold on whatever the first bytes are.
				if ((xor(0, 64) | 0) === (jsFold(new Uint8Array(memory.buffer, 0, 64), 0, 64) | 0)) kernel = xor;
			}
		} catch {
			kernel = null;
		}
	}
	IN_PLACE.set(memory, kernel);
	return kernel ?? undefined;
}

/**
 * {@link xorRange} with an in-place kernel for the shared wasm memory `u8` views (from
 * {@link inPlaceXorKernel}); without one, exactly {@link xorRange}.
 *
 * @internal Hot path of the transport.
 */
export function xorRangeWith(
	kernel: InPlaceXor | undefined,
	u8: Uint8Array,
	i32: Int32Array,
	byteStart: number,
	byteEnd: number,
): number {
	const n = byteEnd - byteStart;
	if (kernel === undefined || n < IN_PLACE_THRESHOLD) return xorRange(u8, i32, byteStart, byteEnd);
	const bulk = n & ~31;
	let x = kernel(u8.byteOffset + byteStart, bulk);
	if (bulk !== n) x ^= xorWordsJs(i32, (byteStart + bulk) >> 2, byteEnd >> 2);
	return x;
}
