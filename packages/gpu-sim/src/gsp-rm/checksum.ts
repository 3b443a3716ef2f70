/**
 * The queue element checksum (reference §1.3): XOR every little-endian u64 over the element (header +
 * RPC, zero-padded to 8 bytes) and fold the result to `hi32 ^ lo32`. Folding commutes with XOR, so this
 * is the XOR of all little-endian u32 words — computed on a `Uint32Array` when the data is aligned.
 *
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The folded XOR of `bytes[0 .. roundUp(length, 8))`; bytes past the end of `bytes` count as zero. A sender
 * stores this (computed with the checksum field zero) in `checkSum`; a receiver recomputing it over the
 * element as stored gets 0 exactly when the element is intact.
 */
export function elementChecksum(bytes: Uint8Array, length: number): number {
	const padded = Math.min((length + 7) & ~7, bytes.length - (bytes.length % 4));
	let x = 0;
	let i = 0;
	if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
		const words = new Uint32Array(bytes.buffer, bytes.byteOffset, padded >> 2);
		for (let w = 0; w < words.length; w++) x ^= words[w]!;
		i = padded & ~3;
	}
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	for (; i + 4 <= padded; i += 4) x ^= dv.getUint32(i, true);
	// A tail shorter than a word (only when `bytes` itself ends mid-word).
	for (let j = i; j < Math.min((length + 7) & ~7, bytes.length); j++) x ^= bytes[j]! << (8 * (j & 3));
	return x >>> 0;
}
