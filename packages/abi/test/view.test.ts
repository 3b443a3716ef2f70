import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
	AbiError,
	type ArrayView,
	accessor,
	decode,
	encode,
	offsetof,
	type RecordLayout,
	struct,
	u32,
	type u64,
	type View,
	view,
} from '../src/index.ts';
import * as fx from './fixtures/layouts.ts';
import { layoutArb } from './support/random-layouts.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function codeOf(fn: () => unknown): string {
	try {
		fn();
	} catch (e) {
		if (e instanceof AbiError) return e.code;
		throw e;
	}
	throw new Error('did not throw');
}

describe('view()', () => {
	it('reads and writes scalar fields in place', () => {
		const shared = new SharedArrayBuffer(0x1000);
		const tx = view(fx.MsgqTxHeader, shared, 0x100);
		tx.writePtr = 0x11223344;
		tx.msgCount = 63;
		expect(hex(new Uint8Array(shared, 0x110, 4))).toBe('44332211');
		expect(tx.writePtr).toBe(0x11223344);
		tx.writePtr = (tx.writePtr + 1) % tx.msgCount;
		expect(decode(fx.MsgqTxHeader, shared, 0x100).writePtr).toBe((0x11223344 + 1) % 63);
		expectTypeOf(tx.writePtr).toEqualTypeOf<number>();
	});

	it('setters check type and range with the field path', () => {
		const v = view(fx.MsgqTxHeader, new Uint8Array(32));
		try {
			v.flags = -1;
			throw new Error('no error');
		} catch (e) {
			expect((e as AbiError).code).toBe('ABI_VALUE_RANGE');
			expect((e as AbiError).details.path).toBe('MsgqTxHeader.flags');
		}
		expect(codeOf(() => ((v as unknown as Record<string, unknown>).flags = 'x'))).toBe('ABI_VALUE_TYPE');
	});

	it('nested records and arrays are live child views that follow $moveTo', () => {
		const buf = new Uint8Array(fx.Deep.size * 2);
		const d = view(fx.Deep, buf);
		d.n.inner.b = 0x5a;
		d.w.at(1).v.w = 0xcafef00d;
		expect(buf[offsetof(fx.Deep, 'n.inner.b')]).toBe(0x5a);
		expect(decode(fx.Deep, buf).w[1]!.v.w).toBe(0xcafef00d);
		const inner = d.n.inner;
		expect(d.n.inner).toBe(inner); // cached, not re-created
		d.$moveTo(fx.Deep.size);
		expect(d.n.inner.b).toBe(0);
		d.n.inner.b = 7;
		expect(buf[fx.Deep.size + offsetof(fx.Deep, 'n.inner.b')]).toBe(7);
		expect(d.$offset).toBe(fx.Deep.size);
		expect(codeOf(() => d.$moveTo(fx.Deep.size + 1))).toBe('ABI_SHORT_BUFFER');
	});

	it('primitive array views get/set elements; bounds are checked', () => {
		const v = view(fx.Arrays, new Uint8Array(fx.Arrays.size));
		v.words.set(4, 0xffffffff);
		expect(v.words.get(4)).toBe(0xffffffff);
		expect(v.words.length).toBe(5);
		v.halves.at(1).set(2, 0xbeef);
		expect(decode(fx.Arrays, v.$bytes()).halves[1]![2]).toBe(0xbeef);
		expect(codeOf(() => v.words.get(5))).toBe('ABI_INDEX_RANGE');
		expect(codeOf(() => v.words.set(-1, 0))).toBe('ABI_INDEX_RANGE');
		expect([...v.words]).toEqual([0, 0, 0, 0, 0xffffffff]);
		v.big.encode([1n, 2n]);
		expect(v.big.decode()).toEqual(BigUint64Array.of(1n, 2n));
		expectTypeOf(v.big).toEqualTypeOf<ArrayView<typeof u64>>();
	});

	it('flexible arrays: length from the count field, live', () => {
		const buf = new Uint8Array(64);
		encode(fx.Flexible, { count: 2, kind: 0, items: [10n, 20n] }, buf);
		const v = view(fx.Flexible, buf);
		expect(v.items.length).toBe(2);
		expect(v.items.get(1)).toBe(20n);
		v.count = 3;
		expect(v.items.length).toBe(3);
		v.items.set(2, 30n);
		expect(decode(fx.Flexible, buf).items).toEqual(BigUint64Array.of(10n, 20n, 30n));
		expect(v.$byteLength()).toBe(32);
		v.count = 100;
		expect(codeOf(() => v.items.get(50))).toBe('ABI_SHORT_BUFFER');
	});

	it('bit-fields, strings, bools through a view', () => {
		const bf = view(fx.BitFields, new Uint8Array(fx.BitFields.size));
		bf.d = -5;
		bf.f = 2n ** 40n - 1n;
		bf.h = true;
		expect([bf.d, bf.f, bf.h]).toEqual([-5, 2n ** 40n - 1n, true]);
		expect(codeOf(() => (bf.b = 16))).toBe('ABI_VALUE_RANGE');
		const cs = view(fx.CharStr, new Uint8Array(fx.CharStr.size));
		cs.name = 'GSP-RM';
		expect(cs.name).toBe('GSP-RM');
		expect(codeOf(() => (cs.name = 'x'.repeat(14)))).toBe('ABI_VALUE_RANGE');
	});

	it('$decode/$encode/$patch work on the viewed bytes', () => {
		const buf = new Uint8Array(64).fill(0xaa);
		const v = view(fx.TailPad, buf, 8);
		v.$encode({ a: 1n, b: 2 });
		expect(v.$decode()).toEqual({ a: 1n, b: 2 });
		v.$patch({ b: 3 });
		expect(decode(fx.TailPad, buf, 8)).toEqual({ a: 1n, b: 3 });
		expect(buf[8 + 9]).toBe(0xaa); // tail padding untouched
	});

	it('matches decode on random layouts and bytes', () => {
		const arb = layoutArb({ flex: false }).chain((l) =>
			fc.uint8Array({ minLength: l.size, maxLength: l.size }).map((bytes) => ({ l, bytes })),
		);
		fc.assert(
			fc.property(arb, ({ l, bytes }) => {
				const v = view(l, bytes) as unknown as Record<string, unknown> & View<RecordLayout>;
				const d = decode(l, bytes) as Record<string, unknown>;
				expect(v.$decode()).toEqual(d);
				for (const f of l.fields) {
					const k = f.layout.kind;
					if (k === 'prim' || k === 'cstring' || f.bits !== undefined) expect(v[f.name]).toEqual(d[f.name]);
				}
			}),
			{ numRuns: 200 },
		);
	});

	it('rejects non-record layouts and short buffers', () => {
		expect(codeOf(() => view(u32 as never, new Uint8Array(4)))).toBe('ABI_BAD_ARGUMENT');
		expect(codeOf(() => view(fx.Mixed, new Uint8Array(4)))).toBe('ABI_SHORT_BUFFER');
	});
});

describe('accessor()', () => {
	it('compiles a field path to a get/set pair at a base offset', () => {
		const Ring = struct('Ring', [
			['tx', fx.MsgqTxHeader],
			['rx', struct('msgqRxHeader', [['readPtr', u32]])],
		]);
		const readPtr = accessor<number>(Ring, 'rx.readPtr');
		expect(readPtr.offset).toBe(32);
		const dv = new DataView(new ArrayBuffer(0x100));
		readPtr.set(dv, 0x01020304, 0x40);
		expect(dv.getUint32(0x40 + 32, true)).toBe(0x01020304);
		expect(readPtr.get(dv, 0x40)).toBe(0x01020304);
		expect(codeOf(() => readPtr.get(dv, 0xf0))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => readPtr.set(dv, -1, 0))).toBe('ABI_VALUE_RANGE');
		const bits = accessor<number>(fx.BitFields, 'c');
		bits.set(dv, 2 ** 30 - 1);
		expect(dv.getUint32(4, true)).toBe(0x3fffffff);
		expect(codeOf(() => accessor(Ring, 'tx'))).toBe('ABI_BAD_ARGUMENT');
		expect(codeOf(() => accessor(Ring, 'rx.nope'))).toBe('ABI_UNKNOWN_FIELD');
	});
});
