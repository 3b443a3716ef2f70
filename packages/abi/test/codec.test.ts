import { describe, expect, it } from 'vitest';
import {
	AbiError,
	array,
	bool,
	byteLength,
	cstring,
	decode,
	encode,
	f32,
	f64,
	flex,
	i8,
	i16,
	i32,
	i64,
	isAbiError,
	measure,
	offsetof,
	patch,
	rawBytesOf,
	readCString,
	struct,
	u8,
	u16,
	u32,
	u64,
	union,
	zero,
} from '../src/index.ts';
import * as fx from './fixtures/layouts.ts';

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

function errorOf(fn: () => unknown): AbiError {
	try {
		fn();
	} catch (e) {
		if (e instanceof AbiError) return e;
		throw e;
	}
	throw new Error('did not throw');
}

describe('byte order (little-endian)', () => {
	const L = struct('LE', [
		['pad', u8],
		['w', u32],
		['q', u64],
		['h', u16],
		['s', i32],
		['f', f32],
		['d', f64],
	]);

	it('a u32 0x11223344 encodes as 44 33 22 11 at its offset, a u64 likewise', () => {
		const buf = new Uint8Array(L.size);
		encode(L, { pad: 0xaa, w: 0x11223344, q: 0x0102030405060708n, h: 0xbeef, s: -2, f: 1.5, d: -0.25 }, buf);
		expect(hex(buf.subarray(0, 1))).toBe('aa');
		expect(hex(buf.subarray(1, 4))).toBe('000000'); // padding untouched
		expect(hex(buf.subarray(4, 8))).toBe('44332211');
		expect(hex(buf.subarray(8, 16))).toBe('0807060504030201');
		expect(hex(buf.subarray(16, 18))).toBe('efbe');
		expect(hex(buf.subarray(20, 24))).toBe('feffffff');
		expect(hex(buf.subarray(24, 28))).toBe('0000c03f'); // 1.5f
		expect(hex(buf.subarray(32, 40))).toBe('000000000000d0bf'); // -0.25
	});

	it('decodes at a byte offset inside a larger buffer, reading only its own bytes', () => {
		const big = new Uint8Array(100).fill(0xee);
		const at = 37;
		big.set([0x44, 0x33, 0x22, 0x11], at + 4);
		big.set([8, 7, 6, 5, 4, 3, 2, 1], at + 8);
		const v = decode(L, big, at);
		expect(v.w).toBe(0x11223344);
		expect(v.q).toBe(0x0102030405060708n);
		expect(v.pad).toBe(0xee);
	});

	it('accepts DataView, Uint8Array, other typed arrays and ArrayBuffer (no copy)', () => {
		const ab = new ArrayBuffer(16);
		const dv = new DataView(ab, 4, 8);
		encode(fx.U64AfterU8, { tag: 1, value: 0xfedcba9876543210n }, new Uint8Array(ab), 0);
		expect(decode(fx.U64AfterU8, ab).value).toBe(0xfedcba9876543210n);
		expect(decode(u32, new Uint32Array(ab))).toBe(1);
		expect(decode(u32, dv)).toBe(0); // view starts at byte 4 (padding)
		const sab = new SharedArrayBuffer(16);
		encode(u64, 5n, sab, 8);
		expect(decode(u64, new Uint8Array(sab), 8)).toBe(5n);
	});
});

describe('values', () => {
	it('round-trips every primitive at its extremes', () => {
		const P = struct('P', [
			['a', u8],
			['b', u16],
			['c', u32],
			['d', u64],
			['e', i8],
			['f', i16],
			['g', i32],
			['h', i64],
			['i', bool],
			['j', f32],
			['k', f64],
		]);
		const buf = new Uint8Array(P.size);
		const v = {
			a: 255,
			b: 65535,
			c: 0xffffffff,
			d: 2n ** 64n - 1n,
			e: -128,
			f: -32768,
			g: -(2 ** 31),
			h: -(2n ** 63n),
			i: true,
			j: -3.5,
			k: Number.MAX_VALUE,
		};
		encode(P, v, buf);
		expect(decode(P, buf)).toEqual(v);
	});

	it('accepts safe-integer numbers for 64-bit fields', () => {
		const buf = new Uint8Array(8);
		encode(u64, 2 ** 53 - 1, buf);
		expect(decode(u64, buf)).toBe(2n ** 53n - 1n);
		encode(i64, -5, buf);
		expect(decode(i64, buf)).toBe(-5n);
	});

	it('decodes numeric arrays as typed arrays, others as arrays', () => {
		const buf = new Uint8Array(fx.Arrays.size);
		const v = {
			bytes: Uint8Array.of(1, 2, 3),
			words: Uint32Array.of(10, 20, 30, 40, 0xffffffff),
			halves: [Uint16Array.of(1, 2, 3), Uint16Array.of(4, 5, 6)],
			big: BigUint64Array.of(1n, 2n ** 63n),
		};
		encode(fx.Arrays, v, buf);
		const d = decode(fx.Arrays, buf);
		expect(d).toEqual(v);
		expect(d.words).toBeInstanceOf(Uint32Array);
		// number[] input works too
		encode(fx.Arrays, { ...v, words: [9, 8, 7, 6, 5] }, buf);
		expect([...decode(fx.Arrays, buf).words]).toEqual([9, 8, 7, 6, 5]);
		expect(buf[4]).toBe(9); // words at offset 4 (u8[3] then alignment)
	});

	it('nested structs and arrays of structs land where gcc puts them', () => {
		const buf = new Uint8Array(fx.Deep.size);
		const d = zero(fx.Deep);
		d.n.inner.b = 0x5a;
		d.al.c = 0x77;
		encode(fx.Deep, { ...d, w: [{ type: 1, v: { q: 0x1122n }, crc: 0xabcdef01 }, d.w[1]!] }, buf);
		expect(buf[offsetof(fx.Deep, 'n.inner.b')]).toBe(0x5a);
		expect(buf[offsetof(fx.Deep, 'al.c')]).toBe(0x77);
		expect(hex(buf.subarray(8, 10))).toBe('2211'); // w[0].v.q
		expect(hex(buf.subarray(24, 28))).toBe('01efcdab'); // w[0].crc
	});

	it('C strings: NUL-terminated on decode, NUL-padded on encode, too long is ABI_VALUE_RANGE', () => {
		const buf = new Uint8Array(fx.CharStr.size).fill(0xff);
		encode(fx.CharStr, { name: 'gsp', id: 7 }, buf);
		expect(hex(buf.subarray(0, 13))).toBe('67737000000000000000000000');
		expect(decode(fx.CharStr, buf).name).toBe('gsp');
		encode(fx.CharStr, { name: 'x'.repeat(13), id: 7 }, buf);
		expect(decode(fx.CharStr, buf).name).toBe('x'.repeat(13));
		const e = errorOf(() => encode(fx.CharStr, { name: 'x'.repeat(14), id: 7 }, buf));
		expect(e.code).toBe('ABI_VALUE_RANGE');
		expect(e.details.path).toBe('CharStr.name');
		expect(codeOf(() => encode(fx.CharStr, { name: 'a\u0000b', id: 7 }, buf))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(fx.CharStr, { name: '\u20ac', id: 7 }, buf))).toBe('ABI_VALUE_RANGE');
		expect(readCString(Uint8Array.of(0x41, 0xe9, 0, 0x42))).toBe('A\u00e9');
	});

	it('bit-fields: exact bits, neighbours preserved, signed values sign-extended', () => {
		const buf = new Uint8Array(fx.BitFields.size).fill(0xff);
		patch(fx.BitFields, { b: 0, d: -1 }, buf);
		expect(hex(buf.subarray(0, 2))).toBe('fff0'); // b (bits 8..11) cleared, bits 12..15 (c? no: b only) kept
		expect(decode(fx.BitFields, buf).d).toBe(-1);
		patch(fx.BitFields, { d: -64 }, buf);
		expect(decode(fx.BitFields, buf).d).toBe(-64);
		expect(buf[8]).toBe(0xc0); // d: 7 bits at byte 8 = 1000000b, bit 7 untouched (1)
		const all = new Uint8Array(fx.BitFields.size);
		const v = { a: 1, b: 15, c: 2 ** 30 - 1, d: 63, e: 9, f: 2n ** 40n - 1n, g: 511, h: true };
		encode(fx.BitFields, v, all);
		expect(decode(fx.BitFields, all)).toEqual(v);
		expect(codeOf(() => patch(fx.BitFields, { b: 16 }, all))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => patch(fx.BitFields, { d: 64 }, all))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => patch(fx.BitFields, { d: -65 }, all))).toBe('ABI_VALUE_RANGE');
	});

	it('zero() gives the all-zero value', () => {
		const z = zero(fx.WithUnion);
		expect(z).toEqual({ type: 0, v: { raw: new Uint8Array(12) }, crc: 0 });
		const buf = new Uint8Array(fx.WithUnion.size).fill(0xff);
		encode(fx.WithUnion, z, buf);
		// type@0, v@8 (raw[12] written, union tail 20..23 untouched), crc@24, tail padding 28..31 untouched
		expect(hex(buf)).toBe(`00${'ff'.repeat(7)}${'00'.repeat(12)}${'ff'.repeat(4)}00000000${'ff'.repeat(4)}`);
	});
});

describe('errors', () => {
	it('short buffer: ABI_SHORT_BUFFER names the type, bytes needed and available — never a RangeError', () => {
		const e = errorOf(() => decode(fx.Mixed, new Uint8Array(fx.Mixed.size - 1)));
		expect(e.code).toBe('ABI_SHORT_BUFFER');
		expect(e.details).toMatchObject({ type: 'Mixed', needed: fx.Mixed.size, available: fx.Mixed.size - 1 });
		expect(e.message).toContain('struct Mixed');
		expect(e.message).toContain(`${fx.Mixed.size} bytes`);
		expect(codeOf(() => decode(fx.Mixed, new Uint8Array(100), 90))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => decode(fx.Mixed, new Uint8Array(10), 500))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => encode(u32, 1, new Uint8Array(3)))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => measure(fx.Mixed, new Uint8Array(3)))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => decode(fx.Mixed, new Uint8Array(64), 0, { length: 8 }))).toBe('ABI_SHORT_BUFFER');
		expect(codeOf(() => decode(fx.Mixed, new Uint8Array(8), 0, { length: 64 }))).toBe('ABI_SHORT_BUFFER');
	});

	it('out-of-range values: ABI_VALUE_RANGE with the field path', () => {
		const buf = new Uint8Array(fx.Deep.size);
		const d = zero(fx.Deep);
		const bad = { ...d, n: { ...d.n, inner: { a: 0n, b: 256 } } };
		const e = errorOf(() => encode(fx.Deep, bad, buf));
		expect(e.code).toBe('ABI_VALUE_RANGE');
		expect(e.details.path).toBe('Deep.n.inner.b');
		const e2 = errorOf(() => patch(fx.Arrays, { words: [1, 2, 3, -1, 5] }, new Uint8Array(fx.Arrays.size)));
		expect(e2.details.path).toBe('Arrays.words[3]');
		expect(codeOf(() => encode(u8, 1.5, new Uint8Array(1)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(u64, -1n, new Uint8Array(8)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(u64, 2n ** 64n, new Uint8Array(8)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(i64, 2n ** 63n, new Uint8Array(8)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(u64, 2 ** 53, new Uint8Array(8)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(f32, 1e39, new Uint8Array(4)))).toBe('ABI_VALUE_RANGE');
		expect(codeOf(() => encode(array(u8, 3), [1, 2], new Uint8Array(3)))).toBe('ABI_VALUE_RANGE');
	});

	it('wrong types, missing and unknown fields are typed errors', () => {
		const buf = new Uint8Array(64);
		expect(codeOf(() => encode(u32, '1' as never, buf))).toBe('ABI_VALUE_TYPE');
		expect(codeOf(() => encode(u32, 1n as never, buf))).toBe('ABI_VALUE_TYPE');
		expect(codeOf(() => encode(bool, 1 as never, buf))).toBe('ABI_VALUE_TYPE');
		expect(codeOf(() => encode(fx.TailPad, 5 as never, buf))).toBe('ABI_VALUE_TYPE');
		const m = errorOf(() => encode(fx.TailPad, { a: 1n } as never, buf));
		expect(m.code).toBe('ABI_VALUE_MISSING');
		expect(m.details.path).toBe('TailPad');
		const u = errorOf(() => patch(fx.TailPad, { c: 1 } as never, buf));
		expect(u.code).toBe('ABI_UNKNOWN_FIELD');
		expect(
			codeOf(() => encode(fx.Arrays, { ...zero(fx.Arrays), words: 5 } as never, new Uint8Array(100))),
		).toBe('ABI_VALUE_TYPE');
		expect(codeOf(() => decode(fx.Mixed, buf, -1))).toBe('ABI_BAD_ARGUMENT');
		expect(codeOf(() => decode({} as never, buf))).toBe('ABI_BAD_ARGUMENT');
		expect(
			isAbiError(
				errorOf(() => decode(fx.Mixed, buf, 1.5)),
				'ABI_BAD_ARGUMENT',
			),
		).toBe(true);
	});
});

describe('reserved fields and preservation', () => {
	const R = struct('R', [
		['a', u32],
		['reserved', array(u32, 2)],
		['pad0', u8],
		['b', u8],
		['spare_x', u16],
	]);

	it('reserved*/pad*/spare* fields are optional on encode and leave their bytes untouched', () => {
		const buf = new Uint8Array(R.size).fill(0xcc);
		encode(R, { a: 1, b: 2 }, buf);
		expect(hex(buf)).toBe(`01000000${'cc'.repeat(8)}cc02cccc`);
	});

	it('they are decoded and written back verbatim', () => {
		const src = Uint8Array.from({ length: R.size }, (_, i) => i + 1);
		const v = decode(R, src);
		expect([...v.reserved]).toEqual([0x08070605, 0x0c0b0a09]);
		const out = new Uint8Array(R.size);
		encode(R, { ...v }, out); // spread: no snapshot, fields only
		expect(hex(out)).toBe(hex(src));
	});

	it('padding is never written by encode', () => {
		const buf = new Uint8Array(fx.Mixed.size).fill(0xab);
		encode(fx.Mixed, { a: 0, b: 0, c: 0, d: 0, e: 0, f: 0n, g: 0 }, buf);
		// a@0 b@2 c@4 d@8 e@12 f@16 g@24; padding 1, 5..7, 13..15, 25..31
		expect(hex(buf)).toBe(
			[
				'00',
				'ab',
				'0000',
				'00',
				'ababab',
				'00000000',
				'00',
				'ababab',
				'0000000000000000',
				'00',
				'ab'.repeat(7),
			].join(''),
		);
	});

	it('decode → encode onto a zeroed buffer is byte-identical, even for padding, odd bools and NaN payloads', () => {
		const L = struct('Odd', [
			['flag', bool],
			['f', f32],
			['d', f64],
			['name', cstring(6)],
		]);
		const src = Uint8Array.from([
			0x02, 0xaa, 0xbb, 0xcc, 0x01, 0x00, 0xc0, 0x7f, 1, 2, 3, 4, 5, 6, 0xf8, 0x7f, 0x41, 0, 0x42, 0x43, 0, 0,
			0xee, 0xef,
		]);
		expect(src.length).toBe(L.size);
		const v = decode(L, src);
		expect(v.flag).toBe(true);
		expect(Number.isNaN(v.f)).toBe(true);
		expect(v.name).toBe('A');
		const out = new Uint8Array(L.size);
		expect(encode(L, v, out)).toBe(L.size);
		expect(hex(out)).toBe(hex(src));
		expect(hex(rawBytesOf(v)!)).toBe(hex(src));
	});

	it('a changed field of a decoded value is written over the snapshot', () => {
		const src = Uint8Array.from({ length: fx.Mixed.size }, (_, i) => 0x80 + i);
		const v = decode(fx.Mixed, src);
		v.d = 0;
		const out = new Uint8Array(fx.Mixed.size);
		encode(fx.Mixed, v, out);
		const expected = src.slice();
		expected.fill(0, 8, 12);
		expect(hex(out)).toBe(hex(expected));
	});

	it('a nested decoded value carries its own snapshot', () => {
		const src = Uint8Array.from({ length: fx.Nested.size }, (_, i) => 0x40 + i);
		const inner = decode(fx.Nested, src).inner;
		const out = new Uint8Array(16);
		encode(fx.TailPad, inner, out);
		expect(hex(out)).toBe(hex(src.subarray(8, 24)));
	});

	it('snapshot: false decodes without keeping bytes', () => {
		const v = decode(fx.Mixed, new Uint8Array(fx.Mixed.size), 0, { snapshot: false });
		expect(rawBytesOf(v)).toBeUndefined();
	});
});

describe('unions', () => {
	it('decodes every member from the same bytes', () => {
		const buf = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
		const v = decode(fx.Value, buf);
		expect(v.b).toBe(1);
		expect(v.w).toBe(0x04030201);
		expect(v.q).toBe(0x0807060504030201n);
		expect([...v.raw]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
	});

	it('writes the one member given, leaving the rest of the union', () => {
		const buf = new Uint8Array(16).fill(0xff);
		encode(fx.Value, { w: 0x11223344 }, buf);
		expect(hex(buf)).toBe(`44332211${'ff'.repeat(12)}`);
	});

	it('a mutated member of a decoded union wins over the unchanged ones', () => {
		const buf = Uint8Array.from({ length: 16 }, (_, i) => i);
		const v = decode(fx.Value, buf);
		v.w = 0xdeadbeef;
		const out = new Uint8Array(16);
		encode(fx.Value, v, out);
		expect(hex(out)).toBe(`efbeadde${hex(buf.subarray(4))}`);
	});

	it('two members that disagree are ABI_UNION_CONFLICT; members that agree are fine', () => {
		const buf = new Uint8Array(16);
		const e = errorOf(() => encode(fx.Value, { b: 1, w: 2 }, buf));
		expect(e.code).toBe('ABI_UNION_CONFLICT');
		expect(e.details.members).toEqual(['b', 'w']);
		encode(fx.Value, { b: 5, w: 5 }, buf);
		expect(buf[0]).toBe(5);
	});

	it('an empty union value is ABI_VALUE_MISSING in encode, a no-op in patch', () => {
		const buf = new Uint8Array(16).fill(9);
		expect(codeOf(() => encode(fx.Value, {}, buf))).toBe('ABI_VALUE_MISSING');
		patch(fx.Value, {}, buf);
		expect(buf.every((b) => b === 9)).toBe(true);
	});

	it('struct inside a union', () => {
		const buf = new Uint8Array(16);
		encode(fx.StructInUnion, { pt: { x: 0x0102, y: 0x0304 } }, buf);
		expect(decode(fx.StructInUnion, buf).plain).toBe(0x03040102);
	});
});

describe('flexible arrays', () => {
	it('count from a field: decode reads exactly that many; encode checks the count', () => {
		const buf = new Uint8Array(64);
		const n = encode(fx.Flexible, { count: 3, kind: 1, items: [1n, 2n, 3n] }, buf);
		expect(n).toBe(8 + 3 * 8);
		expect(hex(buf.subarray(8, 16))).toBe('0100000000000000');
		expect(decode(fx.Flexible, buf)).toEqual({ count: 3, kind: 1, items: BigUint64Array.of(1n, 2n, 3n) });
		expect(measure(fx.Flexible, buf)).toBe(32);
		const e = errorOf(() => encode(fx.Flexible, { count: 2, kind: 1, items: [1n, 2n, 3n] }, buf));
		expect(e.code).toBe('ABI_VALUE_RANGE');
		expect(e.details.path).toBe('Flexible.items');
	});

	it('a count beyond the buffer is ABI_SHORT_BUFFER with the total needed', () => {
		const buf = new Uint8Array(24);
		encode(u32, 100, buf);
		const e = errorOf(() => decode(fx.Flexible, buf));
		expect(e.code).toBe('ABI_SHORT_BUFFER');
		expect(e.details).toMatchObject({ type: 'Flexible', needed: 8 + 800, available: 24 });
		encode(u32, 0xffffffff, buf);
		expect(codeOf(() => decode(fx.Flexible, buf))).toBe('ABI_SHORT_BUFFER');
	});

	it('without a count: as many whole elements as the buffer (or `length`) holds', () => {
		const buf = Uint8Array.from({ length: 20 }, (_, i) => i);
		expect([...decode(fx.FlexBytes, buf).data]).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
		expect([...decode(fx.FlexBytes, buf, 0, { length: 12 }).data]).toEqual([9, 10, 11]);
		expect(decode(fx.FlexBytes, buf, 0, { length: 9 }).data.length).toBe(0);
		expect(codeOf(() => decode(fx.FlexBytes, buf, 0, { length: 8 }))).toBe('ABI_SHORT_BUFFER');
	});

	it('byteLength counts the tail; the fixed part may be shorter than sizeof', () => {
		expect(byteLength(fx.FlexBytes, { a: 0n, b: 0, data: [1, 2] })).toBe(11);
		expect(fx.FlexBytes.size).toBe(16);
		expect(byteLength(fx.Mixed)).toBe(fx.Mixed.size);
	});

	it('a struct ending in a flexible struct (nested tail)', () => {
		const buf = new Uint8Array(64);
		const n = encode(fx.NestedFlex, { hdr: 7, body: { count: 2, kind: 3, items: [5n, 6n] } }, buf);
		expect(n).toBe(8 + 8 + 16);
		expect(decode(fx.NestedFlex, buf)).toEqual({
			hdr: 7,
			body: { count: 2, kind: 3, items: BigUint64Array.of(5n, 6n) },
		});
		expect(measure(fx.NestedFlex, buf)).toBe(32);
	});

	it('flexible elements can be structs, and count functions are supported', () => {
		const Entry = struct('Entry', [
			['id', u16],
			['v', u8],
		]);
		const Table = struct('Table', [
			['bytes', u32],
			['entries', flex(Entry, { count: (h) => ((h.bytes as number) - 4) / 4 })],
		]);
		const buf = new Uint8Array(16);
		encode(
			Table,
			{
				bytes: 12,
				entries: [
					{ id: 1, v: 2 },
					{ id: 3, v: 4 },
				],
			},
			buf,
		);
		expect(decode(Table, buf).entries).toEqual([
			{ id: 1, v: 2 },
			{ id: 3, v: 4 },
		]);
		expect(codeOf(() => encode(Table, { bytes: 12, entries: [] }, buf))).toBe('ABI_VALUE_RANGE');
	});

	it('a flexible array of an empty (GNU, size 0) union decodes as empty and encodes nothing', () => {
		const Generic = union('rpc_generic_union', []);
		const Hdr = struct('hdr', [
			['length', u32],
			['data', flex(Generic)],
		]);
		const buf = Uint8Array.of(4, 0, 0, 0, 9, 9);
		expect(decode(Hdr, buf)).toEqual({ length: 4, data: [] });
		expect(encode(Hdr, { length: 4, data: [] }, buf)).toBe(4);
		expect(encode(Generic, {}, buf)).toBe(0);
		expect([...buf]).toEqual([4, 0, 0, 0, 9, 9]);
	});

	it('a negative count from a signed field is ABI_VALUE_RANGE', () => {
		const S = struct('S', [
			['n', i32],
			['x', flex(u8, { count: 'n' })],
		]);
		expect(codeOf(() => decode(S, Uint8Array.of(0xff, 0xff, 0xff, 0xff)))).toBe('ABI_VALUE_RANGE');
	});
});

describe('patch', () => {
	it('writes only the given fields, deeply', () => {
		const buf = new Uint8Array(fx.Deep.size).fill(0x11);
		patch(fx.Deep, { n: { inner: { b: 0x22 } }, w: [undefined, { crc: 0 }] }, buf);
		const expected = new Uint8Array(fx.Deep.size).fill(0x11);
		expected[offsetof(fx.Deep, 'n.inner.b')] = 0x22;
		const crc = offsetof(fx.Deep, 'w[1].crc');
		expected.fill(0, crc, crc + 4);
		expect(hex(buf)).toBe(hex(expected));
	});

	it('checks a flexible count against the buffer when the count is not given', () => {
		const buf = new Uint8Array(32);
		encode(fx.Flexible, { count: 2, kind: 0, items: [0n, 0n] }, buf);
		patch(fx.Flexible, { items: [7n, 8n] }, buf);
		expect(decode(fx.Flexible, buf).items).toEqual(BigUint64Array.of(7n, 8n));
		expect(codeOf(() => patch(fx.Flexible, { items: [7n] }, buf))).toBe('ABI_VALUE_RANGE');
	});
});

describe('union of anonymous members and manifest-like names', () => {
	it('handles fields whose names are not identifiers', () => {
		const A = struct('A', [
			['@anon0', union('', [['x', u32]])],
			['y', u8],
		]);
		const buf = new Uint8Array(A.size);
		encode(A, { '@anon0': { x: 5 }, y: 1 }, buf);
		expect(decode(A, buf)).toEqual({ '@anon0': { x: 5 }, y: 1 });
	});
});
