import { describe, expect, expectTypeOf, it } from 'vitest';
import {
	AbiError,
	aligned,
	alignof,
	array,
	bool,
	cstring,
	definitionOf,
	fieldOf,
	flex,
	type Input,
	i64,
	isLayout,
	isReservedName,
	locate,
	offsetof,
	packed,
	parsePath,
	sizeof,
	struct,
	typeString,
	u8,
	u16,
	u32,
	u64,
	union,
	type Value,
} from '../src/index.ts';
import * as fx from './fixtures/layouts.ts';

function errorOf(fn: () => unknown): AbiError {
	try {
		fn();
	} catch (e) {
		if (e instanceof AbiError) return e;
		throw e;
	}
	throw new Error('did not throw');
}

describe('explicit offsets', () => {
	it('a generator-style layout with explicit offsets equals the computed one', () => {
		const computed = fx.Mixed;
		const explicit = struct(
			'Mixed',
			computed.fields.map((f) => [f.name, f.layout, { offset: f.offset }] as const),
			{ size: computed.size },
		);
		expect(explicit.fields.map((f) => [f.name, f.offset, f.size])).toEqual(
			computed.fields.map((f) => [f.name, f.offset, f.size]),
		);
		expect([explicit.size, explicit.align]).toEqual([computed.size, computed.align]);
	});

	it('explicit offsets may describe packed or gappy layouts', () => {
		const gap = struct('Gap', [
			['a', u32, { offset: 0 }],
			['b', u64, { offset: 12 }],
		]);
		expect(offsetof(gap, 'b')).toBe(12);
		expect(sizeof(gap)).toBe(24);
	});

	it('overlapping fields are ABI_LAYOUT (outside unions)', () => {
		const e = errorOf(() =>
			struct('Bad', [
				['a', u32, { offset: 0 }],
				['b', u32, { offset: 2 }],
			]),
		);
		expect(e.code).toBe('ABI_LAYOUT');
		expect(e.details.fields).toEqual(['a', 'b']);
		expect(
			errorOf(() =>
				struct('BadBits', [
					['a', u32, { offset: 0, bits: 4, bitOffset: 0 }],
					['b', u32, { offset: 0, bits: 4, bitOffset: 3 }],
				]),
			).code,
		).toBe('ABI_LAYOUT');
		// adjacent bit-fields in one unit are fine
		const ok = struct('OkBits', [
			['a', u32, { offset: 0, bits: 4, bitOffset: 0 }],
			['b', u32, { offset: 0, bits: 4, bitOffset: 4 }],
		]);
		expect(ok.size).toBe(4);
	});

	it('fields past an explicit size are ABI_LAYOUT; size must be a multiple of alignment', () => {
		expect(errorOf(() => struct('Big', [['a', u64, { offset: 4 }]], { size: 8 })).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('Odd', [['a', u32]], { size: 6 })).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('Small', [['a', u32]], { size: 2 })).code).toBe('ABI_LAYOUT');
	});

	it('union members must sit at offset 0', () => {
		expect(errorOf(() => union('U', [['a', u32, { offset: 4 }]])).code).toBe('ABI_LAYOUT');
	});
});

describe('definition errors', () => {
	it('flexible arrays only as the last struct field, never in arrays or unions', () => {
		expect(
			errorOf(() =>
				struct('F', [
					['x', flex(u8)],
					['y', u8],
				]),
			).code,
		).toBe('ABI_LAYOUT');
		expect(errorOf(() => union('U', [['x', flex(u8)]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => array(fx.Flexible, 2)).code).toBe('ABI_LAYOUT');
		expect(
			errorOf(() =>
				struct('G', [
					['f', fx.Flexible],
					['y', u8],
				]),
			).code,
		).toBe('ABI_LAYOUT');
		expect(errorOf(() => flex(fx.Flexible)).code).toBe('ABI_LAYOUT');
		expect(
			errorOf(() =>
				struct('C', [
					['n', bool],
					['x', flex(u8, { count: 'n' })],
				]),
			).code,
		).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('C', [['x', flex(u8, { count: 'nope' })]])).code).toBe('ABI_LAYOUT');
	});

	it('bad names, duplicates, widths and alignments', () => {
		expect(
			errorOf(() =>
				struct('D', [
					['a', u8],
					['a', u8],
				]),
			).code,
		).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('E', [['', u8]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('W', [['a', u8, { bits: 9 }]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('W', [['a', bool, { bits: 2 }]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('W', [['a', array(u8, 2), { bits: 1 }]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('A', [['a', u8, { align: 3 }]])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => struct('A', [['a', {} as never]])).code).toBe('ABI_BAD_ARGUMENT');
		expect(errorOf(() => array(u8, -1)).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => cstring(1.5)).code).toBe('ABI_LAYOUT');
	});
});

describe('queries', () => {
	it('sizeof/alignof/offsetof/locate', () => {
		expect([sizeof(fx.Aligned16), alignof(fx.Aligned16)]).toEqual([32, 16]);
		expect(offsetof(fx.ArrayOfStructs, 'vals[1].raw[7]')).toBe(16 + 16 + 7); // n@0, pts@2..14, vals@16 (align 8)
		const loc = locate(fx.BitFields, 'c');
		expect(loc.bits).toEqual({ offset: 0, size: 30 });
		expect(loc.offset).toBe(4);
		expect(offsetof(fx.Flexible, 'items[3]')).toBe(8 + 24);
		expect(parsePath('a.b[2][3].c')).toEqual(['a', 'b', 2, 3, 'c']);
	});

	it('bad paths are typed errors', () => {
		expect(errorOf(() => offsetof(fx.Mixed, 'zz')).code).toBe('ABI_UNKNOWN_FIELD');
		expect(errorOf(() => offsetof(fx.Arrays, 'words[5]')).code).toBe('ABI_INDEX_RANGE');
		expect(errorOf(() => offsetof(fx.Mixed, 'a.b')).code).toBe('ABI_UNKNOWN_FIELD');
		expect(errorOf(() => offsetof(fx.Mixed, 'a[0]')).code).toBe('ABI_UNKNOWN_FIELD');
		expect(errorOf(() => offsetof(fx.BitFields, 'c')).code).toBe('ABI_UNKNOWN_FIELD');
		expect(errorOf(() => offsetof(fx.Mixed, '')).code).toBe('ABI_UNKNOWN_FIELD');
		expect(errorOf(() => offsetof(fx.Mixed, 'a..b')).code).toBe('ABI_UNKNOWN_FIELD');
	});

	it('packed()/aligned() rebuild a record with the attribute', () => {
		const S = struct('S', [
			['a', u8],
			['b', u32],
		]);
		expect([sizeof(packed(S)), alignof(packed(S))]).toEqual([5, 1]);
		expect([sizeof(aligned(16, S)), alignof(aligned(16, S))]).toEqual([16, 16]);
		expect(definitionOf(packed(S)).options.packed).toBe(true);
		expect(fieldOf(S, 'b')?.offset).toBe(4);
		expect(isLayout(S)).toBe(true);
		expect(isLayout({ kind: 'struct' })).toBe(false);
	});

	it('type strings', () => {
		expect(typeString(fx.Arrays.fields[2]!.layout)).toBe('u16[2][3]');
		expect(typeString(fx.CharStr.fields[0]!.layout)).toBe('char[13]');
		expect(typeString(array(cstring(8), 4))).toBe('char[4][8]');
		expect(typeString(fx.Flexible.fields[2]!.layout)).toBe('u64[]');
		expect(typeString(fx.WithUnion.fields[1]!.layout)).toBe('union Value');
	});
});

describe('reserved names', () => {
	it('recognises reserved/padding names', () => {
		for (const n of [
			'reserved',
			'reserved1',
			'Reserved_2',
			'rsvd',
			'spare',
			'spare0',
			'unused',
			'pad',
			'pad0',
			'padding',
			'padding_1',
			'_pad',
			'__reserved',
			'padBytes',
			'Pad2',
		]) {
			expect(isReservedName(n), n).toBe(true);
		}
		for (const n of ['paddr', 'padre', 'a', 'preserved', 'xreserved', 'spareless'.slice(5)]) {
			expect(isReservedName(n), n).toBe(false);
		}
	});
});

describe('inferred types', () => {
	const Meta = struct('GspFwWprMeta', [
		['magic', u64],
		['revision', u64],
		['count', u32],
		['flags', u16, { bits: 3 }],
		['name', cstring(8)],
		['words', array(u32, 4)],
		['inner', struct('In', [['x', i64]])],
		[
			'u',
			union('U', [
				['a', u8],
				['b', u32],
			]),
		],
		['reserved', array(u8, 4)],
		['data', flex(u8)],
	]);

	it('Value maps C types to JS types', () => {
		type V = Value<typeof Meta>;
		expectTypeOf<V['magic']>().toEqualTypeOf<bigint>();
		expectTypeOf<V['count']>().toEqualTypeOf<number>();
		expectTypeOf<V['flags']>().toEqualTypeOf<number>();
		expectTypeOf<V['name']>().toEqualTypeOf<string>();
		expectTypeOf<V['words']>().toEqualTypeOf<Uint32Array>();
		expectTypeOf<V['inner']>().toEqualTypeOf<{ x: bigint }>();
		expectTypeOf<V['u']>().toEqualTypeOf<{ a: number; b: number }>();
		expectTypeOf<V['data']>().toEqualTypeOf<Uint8Array>();
	});

	it('Input makes reserved fields and union members optional, 64-bit accepts numbers', () => {
		type I = Input<typeof Meta>;
		expectTypeOf<I['magic']>().toEqualTypeOf<bigint | number>();
		expectTypeOf<{ reserved?: ArrayLike<number> }>().toMatchTypeOf<Pick<I, 'reserved'>>();
		expectTypeOf<I['u']>().toEqualTypeOf<{ readonly a?: number; readonly b?: number }>();
		// a complete input type-checks without reserved
		const ok: I = {
			magic: 1n,
			revision: 1,
			count: 0,
			flags: 0,
			name: '',
			words: [1, 2, 3, 4],
			inner: { x: 0n },
			u: { b: 1 },
			data: [],
		};
		expect(ok.count).toBe(0);
	});
});
