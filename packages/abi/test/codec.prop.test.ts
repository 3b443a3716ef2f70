/**
 * Property tests of the codec over random layouts (the same generator the gcc fuzz uses).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	AbiError,
	byteLength,
	decode,
	encode,
	type Layout,
	measure,
	patch,
	type RecordLayout,
	view,
	zero,
} from '../src/index.ts';
import { declaredMask, hasUnion, layoutArb, valueArb } from './support/random-layouts.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const RUNS = { numRuns: 300 };

/** Layout + a random value of it. */
const layoutAndValue = layoutArb().chain((l) => valueArb(l).map((v) => ({ l, v })));

/** Bytes in front of the flexible tail and the tail's element size (0 if none). */
function tailOf(l: RecordLayout): { fixed: number; elem: number } {
	return l.kind === 'struct' && l.tail !== undefined
		? { fixed: l.tail.offset, elem: l.tail.element.size }
		: { fixed: l.size, elem: 0 };
}

/** Set a count field (if the tail has one) so random bytes describe `n` flexible elements. */
function fixCount(l: RecordLayout, buf: Uint8Array, n: number): void {
	if (l.kind !== 'struct' || l.tail === undefined || typeof l.tail.count !== 'string') return;
	let partial: Record<string, unknown> = {};
	const owner = l.tail.owner.fields.find((f) => f.name === l.tail!.count)!;
	const prim = (owner.layout as { prim: string }).prim;
	partial[owner.name] = prim === 'u64' || prim === 'i64' ? BigInt(n) : n;
	for (const name of [...l.tail.path].slice(0, -1).reverse()) partial = { [name]: partial };
	patch(l, partial as never, buf);
}

/** Random bytes for a layout: the fixed part plus 0..3 tail elements, with a consistent count. */
const layoutAndBytes = layoutArb().chain((l) => {
	const { fixed, elem } = tailOf(l);
	return fc.integer({ min: 0, max: elem === 0 ? 0 : 3 }).chain((n) =>
		fc.uint8Array({ minLength: fixed + n * elem, maxLength: fixed + n * elem }).map((bytes) => {
			fixCount(l, bytes, n);
			return { l, bytes, n };
		}),
	);
});

describe('codec properties (random layouts)', () => {
	it('encode → decode returns the value (layouts without unions)', () => {
		fc.assert(
			fc.property(layoutAndValue, ({ l, v }) => {
				fc.pre(!hasUnion(l));
				const n = byteLength(l, v as never);
				const buf = new Uint8Array(n);
				expect(encode(l, v as never, buf)).toBe(n);
				expect(decode(l, buf, 0, { length: n })).toEqual(v);
				expect(measure(l, buf, 0, { length: n })).toBe(n);
			}),
			RUNS,
		);
	});

	it('encode → decode (no snapshot) → encode gives the same bytes (all layouts, unions included)', () => {
		fc.assert(
			fc.property(layoutAndValue, ({ l, v }) => {
				const n = byteLength(l, v as never);
				const a = new Uint8Array(n);
				encode(l, v as never, a);
				const d = decode(l, a, 0, { length: n, snapshot: false });
				const b = new Uint8Array(n);
				expect(encode(l, d as never, b)).toBe(n);
				expect(hex(b)).toBe(hex(a));
			}),
			RUNS,
		);
	});

	it('random bytes → decode → encode onto a zeroed buffer is byte-identical (padding, odd bools, NaNs included)', () => {
		fc.assert(
			fc.property(layoutAndBytes, ({ l, bytes }) => {
				const d = decode(l, bytes);
				const out = new Uint8Array(bytes.length);
				expect(encode(l, d as never, out)).toBe(bytes.length);
				expect(hex(out)).toBe(hex(bytes));
			}),
			RUNS,
		);
	});

	it('without a snapshot, encode writes exactly the declared bits and never padding (integer layouts)', () => {
		const arb = layoutArb({ lossy: false }).chain((l) => {
			const { fixed, elem } = tailOf(l);
			return fc.integer({ min: 0, max: elem === 0 ? 0 : 3 }).chain((n) =>
				fc
					.tuple(
						fc.uint8Array({ minLength: fixed + n * elem, maxLength: fixed + n * elem }),
						fc.uint8Array({ minLength: fixed + n * elem, maxLength: fixed + n * elem }),
					)
					.map(([src, dst]) => {
						fixCount(l, src, n);
						return { l, src, dst, n };
					}),
			);
		});
		fc.assert(
			fc.property(arb, ({ l, src, dst, n }) => {
				const before = dst.slice();
				encode(l, decode(l, src, 0, { snapshot: false }) as never, dst);
				const mask = declaredMask(l, src.length, n);
				for (let i = 0; i < src.length; i++) {
					const m = mask[i]!;
					expect((dst[i]! & m) >>> 0, `declared bits of byte ${i}`).toBe((src[i]! & m) >>> 0);
					expect((dst[i]! & ~m & 0xff) >>> 0, `padding bits of byte ${i}`).toBe(
						(before[i]! & ~m & 0xff) >>> 0,
					);
				}
			}),
			RUNS,
		);
	});

	it('buffers shorter than the layout give ABI_SHORT_BUFFER from decode, encode, view and measure — never a RangeError', () => {
		const arb = layoutArb().chain((l) =>
			fc.record({
				l: fc.constant(l),
				len: fc.integer({ min: 0, max: Math.max(0, tailOf(l).fixed - 1) }),
				offset: fc.integer({ min: 0, max: 8 }),
			}),
		);
		fc.assert(
			fc.property(arb, ({ l, len, offset }) => {
				fc.pre(tailOf(l).fixed > 0);
				const buf = new Uint8Array(len + offset);
				const expectShort = (fn: () => unknown): void => {
					try {
						fn();
					} catch (e) {
						expect(e).toBeInstanceOf(AbiError);
						expect((e as AbiError).code).toBe('ABI_SHORT_BUFFER');
						expect((e as AbiError).details.available).toBe(len);
						return;
					}
					throw new Error('expected ABI_SHORT_BUFFER');
				};
				expectShort(() => decode(l, buf, offset));
				expectShort(() => view(l, buf, offset));
				expectShort(() => measure(l, buf, offset));
				expectShort(() => encode(l, zero(l) as never, buf, offset));
			}),
			RUNS,
		);
	});

	it('decoding arbitrary bytes at any offset either works or throws an AbiError', () => {
		const arb = fc.record({
			l: layoutArb() as fc.Arbitrary<Layout>,
			bytes: fc.uint8Array({ maxLength: 200 }),
			offset: fc.integer({ min: 0, max: 210 }),
		});
		fc.assert(
			fc.property(arb, ({ l, bytes, offset }) => {
				try {
					decode(l, bytes, offset);
				} catch (e) {
					expect(e).toBeInstanceOf(AbiError);
					expect(['ABI_SHORT_BUFFER', 'ABI_VALUE_RANGE']).toContain((e as AbiError).code);
				}
			}),
			RUNS,
		);
	});
});
