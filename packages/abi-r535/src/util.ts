/**
 * Small helpers shared by the sub-interface factories (and by later branches' factories).
 *
 * @module
 */

import {
	AbiError,
	type ByteSource,
	byteLength,
	decode,
	type PartialInput,
	patch,
	type RecordLayout,
	toBytes,
	type Value,
} from '@gspkit/abi';
import type { ControlCall } from './api.ts';

/** The package name stamped into r535's provenance records. */
export const R535_PACKAGE = '@gspkit/abi-r535';

/**
 * Bytes of `layout` (plus any flexible tail in `value`): zero-filled, then the given fields written —
 * what C does with `kzalloc` + assignments. Fields the caller does not name stay zero.
 */
export function build<L extends RecordLayout>(layout: L, value: PartialInput<L>): Uint8Array {
	const out = new Uint8Array(byteLength(layout, value));
	patch(layout, value, out);
	return out;
}

/** A {@link ControlCall} whose params are `layout` with `value` set and whose reply decodes through `read`. */
export function controlCall<L extends RecordLayout, R>(
	name: string,
	cmd: number,
	layout: L,
	value: PartialInput<L>,
	read: (reply: Value<L>) => R,
): ControlCall<R> {
	const params = build(layout, value);
	return Object.freeze({
		name,
		cmd,
		params,
		decode: (reply: Uint8Array) => read(decode(layout, reply, 0, { snapshot: false })),
	});
}

/** A `Uint8Array` over any byte source (no copy). */
export function bytesOf(src: ByteSource): Uint8Array {
	return toBytes(src).u8;
}

/** Throw `ABI_VALUE_RANGE` unless `v` is an unsigned integer of `bits` bits. */
export function checkUint(v: number, bits: number, what: string): number {
	if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** bits) {
		throw new AbiError('ABI_VALUE_RANGE', `${what} = ${String(v)} is not a ${bits}-bit unsigned integer`, {
			field: what,
			value: v,
		});
	}
	return v;
}

/** `value << low` within the DRF range `[high, low]`, checked to fit. */
export function drf(range: readonly [number, number], value: number, what: string): number {
	const [hi, lo] = range;
	const width = hi - lo + 1;
	checkUint(value, width, what);
	return (value * 2 ** lo) >>> 0;
}

/** Split `name<digits>` into its stem and instance (no digits → instance 0). */
export function stemAndInstance(name: string): { stem: string; instance: number } {
	const m = /^(.*?)(\d+)$/.exec(name);
	return m === null ? { stem: name, instance: 0 } : { stem: m[1]!, instance: Number(m[2]) };
}
