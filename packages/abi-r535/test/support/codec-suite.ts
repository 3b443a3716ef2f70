/**
 * Property tests every ABI package runs over its codecs: random values round-trip, decoded bytes re-encode
 * identically, and a short buffer is a typed error. Shared with `@gspkit/abi-r570`.
 */
import { AbiError, byteLength, decode, encode, type Layout, type RecordLayout } from '@gspkit/abi';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedSize, hasUnion, valueArb } from './arbitrary.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Register the codec properties for every layout in `layouts` (keyed by neutral name). */
export function codecRoundTrips(
	abiVersion: string,
	layouts: Readonly<Record<string, Layout>>,
	runs = 40,
): void {
	describe(`codec round trips (${abiVersion})`, () => {
		for (const [name, l] of Object.entries(layouts)) {
			const layout = l as RecordLayout;
			it(`${name} (${layout.name}, ${layout.size} B): random value → bytes → value → same bytes`, () => {
				fc.assert(
					fc.property(valueArb(layout), (v) => {
						const n = byteLength(layout, v as never);
						const a = new Uint8Array(n);
						encode(layout, v as never, a);
						const d = decode(layout, a, 0, { length: n, snapshot: false });
						if (!hasUnion(layout)) expect(d).toEqual(v);
						const b = new Uint8Array(n);
						encode(layout, d as never, b);
						expect(hex(b)).toBe(hex(a));
					}),
					{ numRuns: runs },
				);
			});
			if (fixedSize(layout) === 0) continue; // an empty union has nothing to be short of
			it(`${name}: a buffer shorter than ${fixedSize(layout)} B is ABI_SHORT_BUFFER`, () => {
				fc.assert(
					fc.property(fc.integer({ min: 0, max: Math.max(0, fixedSize(layout) - 1) }), (k) => {
						try {
							decode(layout, new Uint8Array(k));
							expect.unreachable(`decoding ${k} bytes of ${layout.name} succeeded`);
						} catch (e) {
							expect(e).toBeInstanceOf(AbiError);
							expect((e as AbiError).code).toBe('ABI_SHORT_BUFFER');
							expect((e as AbiError).details.type).toBe(layout.name);
							expect((e as AbiError).details.needed).toBe(fixedSize(layout));
							expect((e as AbiError).details.available).toBe(k);
						}
					}),
					{ numRuns: 10 },
				);
			});
		}
	});
}
