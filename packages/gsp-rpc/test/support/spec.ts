/**
 * The wire format as the reference states it (shared/reference/gsp-rpc.md §1–2), written out independently of
 * the implementation: tests read and poke the shared memory through these offsets, so a wrong offset in
 * src/ cannot cancel out against itself.
 */

export const PAGE = 0x1000;
export const CMDQ = 0x1000;
export const STATQ = 0x41000;
export const REGION = 0x81000;
export const MSG_COUNT = 63;
export const ENTRY_OFF = 0x1000;

/** msgqTxHeader field offsets. */
export const TX = {
	version: 0,
	size: 4,
	msgSize: 8,
	msgCount: 12,
	writePtr: 16,
	flags: 20,
	rxHdrOff: 24,
	entryOff: 28,
};
/** msgqRxHeader.readPtr, at rxHdrOff 0x20 in the header page. */
export const RX_READPTR = 0x20;
/** GSP_MSG_QUEUE_ELEMENT offsets. */
export const ELEM = { authTag: 0, aad: 16, checkSum: 32, seqNum: 36, elemCount: 40, pad: 44, rpc: 48 };
/** rpc_message_header_v03_00 offsets (from the element's rpc). */
export const RPC = {
	headerVersion: 0,
	signature: 4,
	length: 8,
	function: 12,
	result: 16,
	resultPrivate: 20,
	sequence: 24,
	spare: 28,
	data: 32,
};
/** Largest payload per element: 65536 − 48 − 32. */
export const MAX_PAYLOAD = 65456;

/** Checksum as NVIDIA's `_checkSum32`: XOR of little-endian u64 words (zero-padded), then hi32 ^ lo32. */
export function checksumU64(bytes: Uint8Array): number {
	let x = 0n;
	for (let i = 0; i < bytes.length; i += 8) {
		let w = 0n;
		for (let k = 7; k >= 0; k--) w = (w << 8n) | BigInt(i + k < bytes.length ? bytes[i + k]! : 0);
		x ^= w;
	}
	return Number((x >> 32n) ^ (x & 0xffffffffn)) >>> 0;
}

/** Checksum as nova-core computes it: XOR of `byte.rotate_left((i % 8) * 8)` into a u64, then hi ^ lo. */
export function checksumRotate(bytes: Uint8Array): number {
	let x = 0n;
	const mask = (1n << 64n) - 1n;
	bytes.forEach((b, i) => {
		const r = BigInt((i % 8) * 8);
		const v = BigInt(b);
		x ^= ((v << r) | (v >> ((64n - r) % 64n))) & mask;
	});
	return Number((x >> 32n) ^ (x & 0xffffffffn)) >>> 0;
}

/** Region offset of byte `at` of the element starting at `slot` of the queue at `queueBase` (wraps). */
export function ringOffset(queueBase: number, slot: number, at: number): number {
	const cap = MSG_COUNT * PAGE;
	return queueBase + ENTRY_OFF + ((slot * PAGE + at) % cap);
}

/** Copy `len` bytes of the element at `slot` out of the ring (following the wrap). */
export function elementBytes(mem: Uint8Array, queueBase: number, slot: number, len: number): Uint8Array {
	const out = new Uint8Array(len);
	for (let i = 0; i < len; i++) out[i] = mem[ringOffset(queueBase, slot, i)]!;
	return out;
}

/** Read a LE u32 at a region offset. */
export function rd32(mem: Uint8Array, off: number): number {
	return (mem[off]! | (mem[off + 1]! << 8) | (mem[off + 2]! << 16) | (mem[off + 3]! << 24)) >>> 0;
}

/** Write a LE u32 at a region offset. */
export function wr32(mem: Uint8Array, off: number, v: number): void {
	mem[off] = v & 0xff;
	mem[off + 1] = (v >>> 8) & 0xff;
	mem[off + 2] = (v >>> 16) & 0xff;
	mem[off + 3] = (v >>> 24) & 0xff;
}

/** Read a u32 of the element at `slot` (element-relative offset `at`). */
export function elem32(mem: Uint8Array, queueBase: number, slot: number, at: number): number {
	return rd32(mem, ringOffset(queueBase, slot, at));
}

/** Write a u32 of the element at `slot`, byte by byte through the wrap. */
export function setElem32(mem: Uint8Array, queueBase: number, slot: number, at: number, v: number): void {
	for (let k = 0; k < 4; k++) mem[ringOffset(queueBase, slot, at + k)] = (v >>> (8 * k)) & 0xff;
}

/** Recompute an element's checksum (independently) after a test modified it. */
export function fixChecksum(mem: Uint8Array, queueBase: number, slot: number): void {
	setElem32(mem, queueBase, slot, ELEM.checkSum, 0);
	const len = ELEM.rpc + elem32(mem, queueBase, slot, ELEM.rpc + RPC.length);
	setElem32(mem, queueBase, slot, ELEM.checkSum, checksumU64(elementBytes(mem, queueBase, slot, len)));
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(len: number, seed: number): Uint8Array {
	const out = new Uint8Array(len);
	let x = (seed | 1) >>> 0;
	for (let i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		out[i] = x & 0xff;
	}
	return out;
}

/** Byte equality without vitest's deep-equality cost on megabyte arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
	return a.length === b.length && Buffer.compare(a, b) === 0;
}
