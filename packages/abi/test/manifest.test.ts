import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	AbiError,
	constantsOf,
	decode,
	type LayoutManifest,
	layoutFromManifest,
	layoutsFromManifest,
	MANIFEST_FORMAT,
	manifestConstants,
	manifestTypeOf,
	parseTypeString,
	type RecordLayout,
	stringifyManifest,
	struct,
	toManifest,
	u8,
	u32,
	validateManifest,
} from '../src/index.ts';
import * as fx from './fixtures/layouts.ts';
import { batchArb, batchToLayouts } from './support/random-layouts.ts';

function errorOf(fn: () => unknown): AbiError {
	try {
		fn();
	} catch (e) {
		if (e instanceof AbiError) return e;
		throw e;
	}
	throw new Error('did not throw');
}

const shape = (l: RecordLayout) => ({
	kind: l.kind,
	name: l.name,
	size: l.size,
	align: l.align,
	fields: l.fields.map((f) => ({
		name: f.name,
		offset: f.offset,
		size: f.size,
		bits: f.bits,
		kind: f.layout.kind,
	})),
});

describe('toManifest', () => {
	const m = toManifest(fx.ALL, { abi: '535.113.01', source: 'test/fixtures/layouts.h' });

	it('lists every record, nested ones included, sorted by name', () => {
		const names = m.types.map((t) => t.name);
		expect(names).toEqual([...names].sort());
		expect(names).toContain('RpcHeader.u'); // the anonymous union, named after its field
		expect(names).toContain('Value');
		expect(m.format).toBe(MANIFEST_FORMAT);
		expect(m.abi).toBe('535.113.01');
	});

	it('is deterministic: input order does not matter, JSON text is stable', () => {
		const again = toManifest([...fx.ALL].reverse(), { abi: '535.113.01', source: 'test/fixtures/layouts.h' });
		expect(stringifyManifest(again)).toBe(stringifyManifest(m));
		expect(stringifyManifest(m).endsWith('}\n')).toBe(true);
		expect(JSON.parse(stringifyManifest(m))).toEqual(JSON.parse(JSON.stringify(m)));
	});

	it('records fields with offset, size, type, bit coordinates and flex counts', () => {
		const bf = manifestTypeOf(fx.BitFields);
		expect(bf.fields.find((f) => f.name === 'c')).toEqual({
			name: 'c',
			offset: 4,
			size: 4,
			type: 'u32',
			bitOffset: 0,
			bitSize: 30,
		});
		expect(bf.fields.find((f) => f.name === 'g')).toEqual({
			name: 'g',
			offset: 16,
			size: 2,
			type: 'u16',
			bitOffset: 0,
			bitSize: 9,
		});
		const flexType = manifestTypeOf(fx.Flexible);
		expect(flexType.fields[2]).toEqual({
			name: 'items',
			offset: 8,
			size: 0,
			type: 'u64[]',
			countField: 'count',
		});
		expect(manifestTypeOf(fx.Deep).fields[0]).toEqual({
			name: 'w',
			offset: 0,
			size: 64,
			type: 'struct WithUnion[2]',
		});
	});

	it('refuses two different layouts with one name and anonymous roots in a list', () => {
		const a = struct('Same', [['x', u8]]);
		const b = struct('Same', [['x', u32]]);
		expect(errorOf(() => toManifest([a, b])).code).toBe('ABI_LAYOUT');
		expect(errorOf(() => toManifest([struct('', [['x', u8]])])).code).toBe('ABI_LAYOUT');
		expect(toManifest({ Named: struct('', [['x', u8]]) }).types[0]!.name).toBe('Named');
	});

	it('sorts constants and refuses duplicates', () => {
		const c = toManifest([], {
			constants: [
				...manifestConstants('rpc-function', { SET_REGISTRY: 73, GSP_RM_CONTROL: 76 }),
				...manifestConstants('define', { BIG: 2n ** 63n, NAME: 'gsp' }),
			],
		});
		expect(c.constants.map((x) => x.name)).toEqual(['BIG', 'GSP_RM_CONTROL', 'NAME', 'SET_REGISTRY']);
		expect(c.constants[0]!.value).toBe('9223372036854775808');
		expect(constantsOf(c, 'rpc-function').get('GSP_RM_CONTROL')).toBe(76n);
		expect(constantsOf(c).get('NAME')).toBe('gsp');
		expect(
			errorOf(() =>
				toManifest([], {
					constants: manifestConstants('g', { A: 1 }).concat(manifestConstants('g', { A: 2 })),
				}),
			).code,
		).toBe('ABI_MANIFEST');
	});
});

describe('layoutFromManifest', () => {
	const m = toManifest(fx.ALL);

	it('rebuilds every fixture with identical offsets, sizes and alignment', () => {
		for (const l of fx.ALL) {
			expect(shape(layoutFromManifest(l.name, m)), l.name).toEqual(shape(l));
		}
	});

	it('round-trips: toManifest(layoutFromManifest(m)) === m', () => {
		const rebuilt = toManifest(Object.values(layoutsFromManifest(m)));
		expect(stringifyManifest(rebuilt)).toBe(stringifyManifest(m));
	});

	it('manifest-driven codecs decode exactly like the computed ones', () => {
		const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i * 151 + 7) & 0xff);
		const attempt = (fn: () => unknown): unknown => {
			try {
				return fn();
			} catch (e) {
				return (e as AbiError).code; // e.g. a flexible count larger than the buffer
			}
		};
		let decoded = 0;
		for (const l of fx.ALL) {
			const fromManifest = layoutFromManifest(l.name, m);
			const mine = attempt(() => decode(l, bytes, 0, { length: 200 }));
			expect(
				attempt(() => decode(fromManifest, bytes, 0, { length: 200 })),
				l.name,
			).toEqual(mine);
			if (typeof mine !== 'string') decoded++;
		}
		expect(decoded).toBeGreaterThan(fx.ALL.length - 3);
	});

	it('round-trips random layouts (computed → manifest → explicit → manifest)', () => {
		fc.assert(
			fc.property(batchArb(6), (batch) => {
				const layouts = batchToLayouts(batch);
				const man = toManifest(layouts);
				const rebuilt = layoutsFromManifest(man);
				for (const l of layouts) expect(shape(rebuilt[l.name]!)).toEqual(shape(l));
				expect(stringifyManifest(toManifest(Object.values(rebuilt)))).toBe(stringifyManifest(man));
			}),
			{ numRuns: 100 },
		);
	});

	it('maps enum, ptr and char spellings and keeps them on the way back', () => {
		const man: LayoutManifest = {
			format: MANIFEST_FORMAT,
			types: [
				{
					name: 'E',
					kind: 'struct',
					size: 24,
					align: 8,
					fields: [
						{ name: 'engine', offset: 0, size: 4, type: 'enum RM_ENGINE_TYPE' },
						{ name: 'c', offset: 4, size: 1, type: 'char' },
						{ name: 'small', offset: 5, size: 2, type: 'enum Tiny[2]' },
						{ name: 'p', offset: 8, size: 8, type: 'ptr' },
						{ name: 'name', offset: 16, size: 8, type: 'char[8]' },
					],
				},
			],
			constants: [],
		};
		const E = layoutFromManifest('E', man);
		const buf = Uint8Array.of(
			1,
			0,
			0,
			0,
			0x41,
			2,
			3,
			0,
			9,
			0,
			0,
			0,
			0,
			0,
			0,
			0,
			0x67,
			0x73,
			0x70,
			0,
			0,
			0,
			0,
			0,
		);
		expect(decode(E, buf)).toEqual({ engine: 1, c: 0x41, small: Uint8Array.of(2, 3), p: 9n, name: 'gsp' });
		expect(toManifest([E]).types[0]).toEqual(man.types[0]);
	});

	it('infers packed records from an alignment below the natural one', () => {
		const man = toManifest([fx.Packed, fx.PackedAligned]);
		expect(shape(layoutFromManifest('Packed', man))).toEqual(shape(fx.Packed));
		expect(shape(layoutFromManifest('PackedAligned', man))).toEqual(shape(fx.PackedAligned));
	});

	it('checks what it is given', () => {
		const base = toManifest([fx.TailPad]);
		const t = base.types[0]!;
		const overlap = { ...base, types: [{ ...t, fields: [t.fields[0]!, { ...t.fields[1]!, offset: 4 }] }] };
		expect(errorOf(() => layoutFromManifest('TailPad', overlap)).code).toBe('ABI_LAYOUT');
		const badSize = { ...base, types: [{ ...t, fields: [t.fields[0]!, { ...t.fields[1]!, size: 2 }] }] };
		expect(errorOf(() => layoutFromManifest('TailPad', badSize)).code).toBe('ABI_LAYOUT');
		const badType = { ...base, types: [{ ...t, fields: [{ ...t.fields[0]!, type: 'struct Nope' }] }] };
		expect(errorOf(() => layoutFromManifest('TailPad', badType)).code).toBe('ABI_UNKNOWN_TYPE');
		const weird = { ...base, types: [{ ...t, fields: [{ ...t.fields[0]!, type: 'long double' }] }] };
		expect(errorOf(() => layoutFromManifest('TailPad', weird)).code).toBe('ABI_UNKNOWN_TYPE');
		expect(errorOf(() => layoutFromManifest('Missing', base)).code).toBe('ABI_UNKNOWN_TYPE');
		const tooBig = { ...base, types: [{ ...t, size: 8 }] };
		expect(errorOf(() => layoutFromManifest('TailPad', tooBig)).code).toBe('ABI_LAYOUT');
		const self = {
			...base,
			types: [{ ...t, fields: [{ name: 'me', offset: 0, size: 16, type: 'struct TailPad' }] }],
		};
		expect(errorOf(() => layoutFromManifest('TailPad', self)).code).toBe('ABI_LAYOUT');
	});

	it('caches per manifest, so shared nested types are one layout object', () => {
		const a = layoutFromManifest('WithUnion', m);
		expect(layoutFromManifest('WithUnion', m)).toBe(a);
		expect(a.fields[1]!.layout).toBe(layoutFromManifest('Value', m));
	});
});

describe('validateManifest', () => {
	const good = JSON.parse(stringifyManifest(toManifest(fx.ALL, { abi: '570.144' }))) as unknown;

	it('accepts what toManifest writes', () => {
		expect(validateManifest(good)).toBe(good);
	});

	// biome-ignore lint/suspicious/noExplicitAny: mutations of untyped JSON
	const cases: [string, (m: any) => unknown, string][] = [
		['root', () => 5, '(root)'],
		['format', (m) => ({ ...m, format: 'other/1' }), 'format'],
		['abi', (m) => ({ ...m, abi: 5 }), 'abi'],
		['types', (m) => ({ ...m, types: {} }), 'types'],
		['constants', (m) => ({ ...m, constants: null }), 'constants'],
		['type name', (m) => ({ ...m, types: [{ ...m.types[0], name: '' }] }), 'types[0].name'],
		['kind', (m) => ({ ...m, types: [{ ...m.types[0], kind: 'enum' }] }), 'types[0].kind'],
		['size', (m) => ({ ...m, types: [{ ...m.types[0], size: -1 }] }), 'types[0].size'],
		['align', (m) => ({ ...m, types: [{ ...m.types[0], align: 3 }] }), 'types[0].align'],
		['duplicate type', (m) => ({ ...m, types: [m.types[0], m.types[0]] }), 'types[1].name'],
		[
			'field offset',
			(m) => ({ ...m, types: [{ ...m.types[0], fields: [{ ...m.types[0].fields[0], offset: 1.5 }] }] }),
			'types[0].fields[0].offset',
		],
		[
			'field type',
			(m) => ({ ...m, types: [{ ...m.types[0], fields: [{ ...m.types[0].fields[0], type: 7 }] }] }),
			'types[0].fields[0].type',
		],
		[
			'bit pair',
			(m) => ({ ...m, types: [{ ...m.types[0], fields: [{ ...m.types[0].fields[0], bitSize: 3 }] }] }),
			'types[0].fields[0]',
		],
		[
			'constant value',
			(m) => ({ ...m, constants: [{ name: 'A', value: '0x10', group: 'define' }] }),
			'constants[0].value',
		],
		['constant group', (m) => ({ ...m, constants: [{ name: 'A', value: '1' }] }), 'constants[0].group'],
	];
	for (const [what, mutate, path] of cases) {
		it(`rejects a bad ${what} with ABI_MANIFEST at ${path}`, () => {
			const e = errorOf(() => validateManifest(mutate(good)));
			expect(e.code).toBe('ABI_MANIFEST');
			expect(e.details.path).toBe(path);
		});
	}

	it('rejects references to types that are not there with ABI_UNKNOWN_TYPE', () => {
		const m = good as { types: { name: string; fields: unknown[] }[] };
		const broken = { ...m, types: m.types.filter((t) => t.name !== 'Value') };
		expect(errorOf(() => validateManifest(broken)).code).toBe('ABI_UNKNOWN_TYPE');
		expect(errorOf(() => parseTypeString('u8[][2][]')).code).toBe('ABI_UNKNOWN_TYPE');
		expect(parseTypeString('struct X[4][2]')).toEqual({ base: 'struct X', dims: [4, 2] });
		expect(parseTypeString('u32[]')).toEqual({ base: 'u32', dims: [null] });
	});
});
