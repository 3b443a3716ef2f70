import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	defineAlias,
	defineBase,
	defineEnum,
	defineRegister,
	defineRegisterArray,
	defineRelativeRegister,
	defineRelativeRegisterArray,
	type FieldSpec,
	type GspkitError,
	InvalidArgumentError,
	instantiate,
	RegisterDecodeError,
	readPair,
	unwrap,
	type ValueOf,
	writePair,
} from '../src/index.ts';
import { FakeBar } from './fake-bar.ts';

function catchError(fn: () => unknown): unknown {
	try {
		fn();
	} catch (e) {
		return e;
	}
	throw new Error('expected an error');
}

// ---------------------------------------------------------------------------------------------------------------
// Random layouts. Expected bit positions are computed here with bigint shifts, independently of registers.ts.

interface Layout {
	readonly width: 32 | 64;
	readonly fields: Record<string, { lo: number; hi: number; bool: boolean }>;
}

function layoutArb(width: 32 | 64): fc.Arbitrary<Layout> {
	const piece = fc.record({
		gap: fc.integer({ min: 0, max: 5 }),
		w: fc.integer({ min: 1, max: width }),
		bool: fc.boolean(),
	});
	return fc
		.array(piece, { minLength: 1, maxLength: 12 })
		.map((pieces) => {
			const fields: Layout['fields'] = {};
			let pos = 0;
			pieces.forEach((p, i) => {
				const lo = pos + p.gap;
				const w = p.bool ? 1 : p.w;
				const hi = lo + w - 1;
				if (hi >= width) return;
				fields[`f${i}`] = { lo, hi, bool: p.bool };
				pos = hi + 1;
			});
			return { width, fields };
		})
		.filter((l) => Object.keys(l.fields).length > 0);
}

function defineFrom(l: Layout, offset = 0x100) {
	const fields: Record<string, FieldSpec> = {};
	for (const [name, f] of Object.entries(l.fields))
		fields[name] = f.bool ? { bit: f.lo } : { bits: [f.hi, f.lo] };
	return defineRegister({ name: 'RANDOM', offset, width: l.width, doc: 'random layout', fields });
}

const u64 = () => fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const mask = (f: { lo: number; hi: number }) => ((1n << BigInt(f.hi - f.lo + 1)) - 1n) << BigInt(f.lo);
const rawArb = (width: 32 | 64) => (width === 32 ? fc.bigInt({ min: 0n, max: 0xffff_ffffn }) : u64());

/** A layout, a base raw value, one field of it and a value that fits that field. */
function caseArb(width: 32 | 64) {
	return layoutArb(width).chain((l) => {
		const names = Object.keys(l.fields);
		return fc.record({
			l: fc.constant(l),
			base: rawArb(width),
			name: fc.constantFrom(...names),
			seed: u64(),
		});
	});
}

function toInput(width: 32 | 64, f: { lo: number; hi: number; bool: boolean }, v: bigint): unknown {
	if (f.bool) return v !== 0n;
	return width === 32 ? Number(v) : v;
}
function fromOutput(v: unknown): bigint {
	return typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v as number | bigint);
}

describe('field encode/decode (property)', () => {
	for (const width of [32, 64] as const) {
		it(`${width}-bit: decode(encode(v)) == v and the bits land at hi:lo`, () => {
			fc.assert(
				fc.property(caseArb(width), ({ l, base, name, seed }) => {
					const reg = defineFrom(l);
					const f = l.fields[name]!;
					const v = seed & (mask(f) >> BigInt(f.lo));
					const before = reg.from(width === 32 ? Number(base) : base);
					const after = before.with(name, toInput(width, f, v) as never);
					expect(fromOutput(after.get(name))).toBe(v);
					const raw = BigInt(after.raw);
					expect((raw & mask(f)) >> BigInt(f.lo)).toBe(v);
					expect(typeof after.raw).toBe(width === 32 ? 'number' : 'bigint');
				}),
			);
		});

		it(`${width}-bit: setting one field never changes any other bit`, () => {
			fc.assert(
				fc.property(caseArb(width), ({ l, base, name, seed }) => {
					const reg = defineFrom(l);
					const f = l.fields[name]!;
					const v = seed & (mask(f) >> BigInt(f.lo));
					const before = reg.from(width === 32 ? Number(base) : base);
					const after = before.with(name, toInput(width, f, v) as never);
					expect((BigInt(after.raw) ^ base) & ~mask(f)).toBe(0n);
					// Every other field decodes as before.
					for (const other of Object.keys(l.fields)) {
						if (other !== name) expect(after.get(other)).toStrictEqual(before.get(other));
					}
					// The original value is immutable.
					expect(BigInt(before.raw)).toBe(base);
				}),
			);
		});

		it(`${width}-bit: read-modify-write through BAR0 preserves the other bits`, () => {
			fc.assert(
				fc.property(caseArb(width), ({ l, base, name, seed }) => {
					const reg = defineFrom(l, 0x2000);
					const f = l.fields[name]!;
					const v = seed & (mask(f) >> BigInt(f.lo));
					const bar = new FakeBar();
					bar.regs.set(0x2000, Number(base & 0xffff_ffffn));
					if (width === 64) bar.regs.set(0x2004, Number(base >> 32n));
					const written = reg.update(bar, (r) => r.with(name, toInput(width, f, v) as never));
					const stored =
						width === 32
							? BigInt(bar.regs.get(0x2000)!)
							: (BigInt(bar.regs.get(0x2004)!) << 32n) | BigInt(bar.regs.get(0x2000)!);
					expect(stored).toBe((base & ~mask(f)) | (v << BigInt(f.lo)));
					expect(BigInt(written.raw)).toBe(stored);
					expect(bar.writes()).toEqual(width === 32 ? [0x2000] : [0x2000, 0x2004]);
				}),
			);
		});

		it(`${width}-bit: values that do not fit are rejected with InvalidArgumentError`, () => {
			fc.assert(
				fc.property(caseArb(width), u64(), ({ l, name }, extra) => {
					const f = l.fields[name]!;
					if (f.bool) return;
					const reg = defineFrom(l);
					const max = mask(f) >> BigInt(f.lo);
					const tooBig = max + 1n + (extra % 1000n);
					const asInput = (x: bigint) => (width === 32 ? Number(x) : x);
					for (const bad of [asInput(tooBig), -1, 0.5, Number.NaN]) {
						const e = catchError(() => reg.zero().with(name, bad as never));
						expect(e).toBeInstanceOf(InvalidArgumentError);
						expect((e as GspkitError).code).toBe('HAL_INVALID_ARGUMENT');
					}
					expect(() => reg.zero().withRaw(name, tooBig)).toThrow(InvalidArgumentError);
					expect(
						BigInt(
							reg
								.zero()
								.with(name, asInput(max) as never)
								.getRaw(name),
						),
					).toBe(max);
				}),
			);
		});
	}

	it('rejects overlapping fields and bad ranges at definition time', () => {
		const def =
			(fields: Record<string, FieldSpec>, width: 32 | 64 = 32) =>
			() =>
				defineRegister({ name: 'BAD', offset: 0, width, doc: '', fields });
		expect(def({ a: { bits: [7, 0] }, b: { bits: [8, 7] } })).toThrow(/overlaps a/);
		expect(def({ a: { bits: [3, 0] }, b: { bit: 2 } })).toThrow(InvalidArgumentError);
		expect(def({ a: { bits: [32, 0] } })).toThrow(/bad bit range/);
		expect(def({ a: { bits: [2, 3] } })).toThrow(/bad bit range/);
		expect(def({ a: { bits: [63, 0] } }, 64)).not.toThrow();
		expect(() => defineRegister({ name: 'ODD', offset: 2, doc: '', fields: {} })).toThrow(/aligned/);
	});
});

// ---------------------------------------------------------------------------------------------------------------

const Algo = defineEnum('Algo', { AES: 0, RSA3K: 1 });
const Core = defineEnum('Core', { FALCON: 0, RISCV: 1 });
const TEST = defineRegister(
	{
		name: 'TEST_REG',
		offset: 0x40,
		doc: 'typed fields',
		fields: {
			count: { bits: [3, 0] },
			enabled: { bit: 4 },
			algo: { bits: [7, 5], tryAs: Algo },
			core: { bits: [8, 8], as: Core },
			top: { bits: [31, 24] },
		},
	},
	{
		doubled: (v) => v.get('count') * 2,
		plus: (v, n: number) => v.get('count') + n,
	},
);

describe('typed fields', () => {
	it('decodes booleans, total enums and fallible enums', () => {
		const v = TEST.from(0x0000_0131); // count 1, enabled 1, algo 1, core 1
		expect(v.get('count')).toBe(1);
		expect(v.get('enabled')).toBe(true);
		expect(v.get('algo')).toEqual({ ok: true, value: 'RSA3K' });
		expect(v.get('core')).toBe('RISCV');
		expect(v.getOrThrow('algo')).toBe('RSA3K');
	});

	it('returns a RegisterDecodeError for undecodable bits of a ?=> field', () => {
		const v = TEST.from(0x7 << 5);
		const r = v.get('algo');
		expect(r.ok).toBe(false);
		if (r.ok) return;
		expect(r.error).toBeInstanceOf(RegisterDecodeError);
		expect(r.error).toMatchObject({
			code: 'HAL_REGISTER_DECODE',
			register: 'TEST_REG',
			field: 'algo',
			raw: 7,
		});
		expect(() => v.getOrThrow('algo')).toThrow(RegisterDecodeError);
		expect(() => unwrap(r)).toThrow(/TEST_REG\.algo = 0x7/);
		expect(v.getRaw('algo')).toBe(7);
	});

	it('encodes typed values and rejects wrong types', () => {
		expect(TEST.zero().with('algo', 'RSA3K').raw).toBe(0x20);
		expect(TEST.zero().with('core', 'RISCV').raw).toBe(0x100);
		expect(TEST.zero().with('enabled', true).raw).toBe(0x10);
		expect(TEST.build({ count: 0xf, top: 0xff, enabled: true }).raw).toBe(0xff00_001f);
		expect(TEST.from(0xffff_ffff).with({ count: 0, enabled: false }).raw).toBe(0xffff_ffe0);
		expect(() => TEST.zero().with('algo', 'RSA2K' as never)).toThrow(InvalidArgumentError);
		expect(() => TEST.zero().with('enabled', 1 as never)).toThrow(/takes a boolean/);
		expect(() => TEST.zero().with('count', true as never)).toThrow(/takes an integer/);
		expect(() => TEST.zero().get('nope' as never)).toThrow(/no field "nope"/);
	});

	it('rejects a total (=>) enum that leaves raw values unnamed', () => {
		const Partial = defineEnum('Partial', { A: 0, B: 2 });
		expect(() =>
			defineRegister({ name: 'P', offset: 0, doc: '', fields: { x: { bits: [1, 0], as: Partial } } }),
		).toThrow(/use tryAs/);
		expect(() => defineEnum('Dup', { A: 1, B: 1 })).toThrow(/share raw value/);
	});

	it('attaches meaning-methods that survive with()', () => {
		const v = TEST.from(3);
		expect(v.doubled()).toBe(6);
		expect(v.plus(4)).toBe(7);
		expect(v.with('count', 5).doubled()).toBe(10);
		expect(() => defineRegister({ name: 'M', offset: 0, doc: '', fields: {} }, { get: () => 1 })).toThrow(
			/reserved/,
		);
	});

	it('values are immutable and print their fields', () => {
		const v = TEST.from(0x0100_0131);
		expect(Object.isFrozen(v)).toBe(true);
		expect(String(v)).toBe(
			'TEST_REG@0x000040 = 0x01000131 { count: 0x1, enabled: true, algo: RSA3K, core: RISCV, top: 0x1 }',
		);
		expect(v.toJSON()).toMatchObject({ register: 'TEST_REG', offset: '0x000040', raw: '0x01000131' });
		expect(v.toObject()).toEqual({
			count: 1,
			enabled: true,
			algo: { ok: true, value: 'RSA3K' },
			core: 'RISCV',
			top: 1,
		});
	});

	it('accepts int32 results of bit operations as raw values, rejects non-32-bit ones', () => {
		expect(TEST.from(0x8000_0000 | 0).raw).toBe(0x8000_0000);
		expect(() => TEST.from(2 ** 32)).toThrow(InvalidArgumentError);
		expect(() => TEST.from(1.5)).toThrow(InvalidArgumentError);
	});

	it('read/write use the register offset; writing another register value is rejected', () => {
		const bar = new FakeBar();
		TEST.build({ count: 9 }).write(bar);
		expect(bar.regs.get(0x40)).toBe(9);
		expect(TEST.read(bar).get('count')).toBe(9);
		TEST.write(bar, 0xffff_ffff);
		expect(bar.regs.get(0x40)).toBe(0xffff_ffff);
		const OTHER = defineRegister({ name: 'OTHER', offset: 0x44, doc: '', fields: TEST.fieldSpecs });
		expect(() => TEST.write(bar, OTHER.zero() as never)).toThrow(/OTHER value cannot be written to TEST_REG/);
	});

	it('64-bit registers: bigint values, low word first', () => {
		const R = defineRegister({
			name: 'R64',
			offset: 0x80,
			width: 64,
			doc: '',
			fields: { lo: { bits: [31, 0] }, mid: { bits: [47, 32] }, flag: { bit: 63 } },
		});
		const bar = new FakeBar();
		R.build({ lo: 0x1234_5678n, mid: 0xabcd, flag: true }).write(bar);
		expect(bar.log.map((e) => [e.op, e.offset, e.value])).toEqual([
			['w', 0x80, 0x1234_5678],
			['w', 0x84, 0x8000_abcd],
		]);
		const v = R.read(bar);
		expect(v.raw).toBe(0x8000_abcd_1234_5678n);
		expect(v.get('mid')).toBe(0xabcdn);
		expect(v.get('flag')).toBe(true);
		expect(() => R.from(1n << 64n)).toThrow(InvalidArgumentError);
	});

	it('register pairs compose 64-bit values', () => {
		const LO = defineRegister({ name: 'LO', offset: 0x100, doc: '', fields: { v: { bits: [31, 0] } } });
		const HI = defineRegister({ name: 'HI', offset: 0x180, doc: '', fields: { v: { bits: [31, 0] } } });
		const bar = new FakeBar();
		writePair(bar, LO, HI, 0x0000_0012_fedc_ba00n);
		expect(bar.regs.get(0x100)).toBe(0xfedc_ba00);
		expect(bar.regs.get(0x180)).toBe(0x12);
		expect(readPair(bar, LO, HI)).toBe(0x0000_0012_fedc_ba00n);
		expect(() => writePair(bar, LO, HI, -1n)).toThrow(InvalidArgumentError);
	});
});

describe('arrays, aliases and relative bases', () => {
	const SCRATCH = defineRegisterArray({
		name: 'SCRATCH',
		offset: 0x1400,
		length: 64,
		doc: '',
		fields: { value: { bits: [31, 0] } },
	});

	it('array elements sit at offset + stride·i and are bounds-checked', () => {
		fc.assert(
			fc.property(fc.integer({ min: 0, max: 63 }), (i) => {
				expect(SCRATCH.offsetOf(i)).toBe(0x1400 + 4 * i);
				expect(SCRATCH.at(i).name).toBe(`SCRATCH[${i}]`);
				expect(SCRATCH.at(i)).toBe(SCRATCH.at(i));
			}),
		);
		expect(() => SCRATCH.at(64)).toThrow(InvalidArgumentError);
		expect(() => SCRATCH.at(-1)).toThrow(InvalidArgumentError);
		expect(() => SCRATCH.at(1.5)).toThrow(InvalidArgumentError);
		const STRIDED = defineRegisterArray({
			name: 'S',
			offset: 0x1c0,
			stride: 8,
			length: 8,
			doc: '',
			fields: {},
		});
		expect(STRIDED.elements().map((r) => r.offset)).toEqual([
			0x1c0, 0x1c8, 0x1d0, 0x1d8, 0x1e0, 0x1e8, 0x1f0, 0x1f8,
		]);
		const bar = new FakeBar();
		SCRATCH.write(bar, 5, 0xdead_beef);
		expect(bar.regs.get(0x1414)).toBe(0xdead_beef);
		expect(SCRATCH.update(bar, 5, (v) => v.with('value', 1)).raw).toBe(1);
	});

	it('an alias views the same offset with its own fields', () => {
		const ERR = defineAlias(
			{ name: 'SCRATCH_0E_ERR', of: SCRATCH.at(0xe), doc: '', fields: { code: { bits: [31, 16] } } },
			{ ok: (v) => v.get('code') === 0 },
		);
		expect(ERR.offset).toBe(0x1438);
		expect(ERR.aliasOf).toBe('SCRATCH[14]');
		const bar = new FakeBar();
		SCRATCH.write(bar, 0xe, 0x0042_1234);
		const v = ERR.read(bar);
		expect(v.get('code')).toBe(0x42);
		expect(v.ok()).toBe(false);
		ERR.update(bar, (r) => r.with('code', 0));
		expect(bar.regs.get(0x1438)).toBe(0x1234);
	});

	it('relative registers resolve against bases of their kind only', () => {
		const MAILBOX = defineRelativeRegister({
			name: 'MAILBOX1',
			base: 'FALCON',
			offset: 0x44,
			doc: '',
			fields: { value: { bits: [31, 0] } },
		});
		const BCR = defineRelativeRegister({
			name: 'BCR_CTRL',
			base: 'FALCON2',
			offset: 0x668,
			doc: '',
			fields: { valid: { bit: 0 } },
		});
		const MEMC = defineRelativeRegisterArray({
			name: 'IMEMC',
			base: 'FALCON',
			offset: 0x180,
			stride: 16,
			length: 4,
			doc: '',
			fields: { offs: { bits: [7, 2] } },
		});
		const gsp = {
			FALCON: defineBase('FALCON', 'GSP', 0x110000),
			FALCON2: defineBase('FALCON2', 'GSP', 0x111000),
		};
		const sec2 = {
			FALCON: defineBase('FALCON', 'SEC2', 0x840000),
			FALCON2: defineBase('FALCON2', 'SEC2', 0x841000),
		};
		expect(MAILBOX.of(gsp.FALCON).offset).toBe(0x110044);
		expect(MAILBOX.of(gsp.FALCON).name).toBe('GSP.MAILBOX1');
		expect(MAILBOX.of(gsp.FALCON)).toBe(MAILBOX.of(gsp.FALCON));
		expect(BCR.of(sec2.FALCON2).offset).toBe(0x841668);
		expect(MEMC.of(sec2.FALCON).offsetOf(3)).toBe(0x840000 + 0x180 + 48);
		// A base of the wrong kind is a type error and, for untyped callers, a runtime error.
		expect(() => MAILBOX.of(gsp.FALCON2 as never)).toThrow(/relative to a FALCON base, not FALCON2/);

		const set = { MAILBOX, BCR, MEMC };
		const g = instantiate(set, gsp);
		const s = instantiate(set, sec2);
		expect([g.MAILBOX.offset, g.BCR.offset, g.MEMC.offsetOf(1)]).toEqual([0x110044, 0x111668, 0x110190]);
		expect([s.MAILBOX.offset, s.BCR.offset, s.MEMC.offsetOf(1)]).toEqual([0x840044, 0x841668, 0x840190]);
		const bar = new FakeBar();
		g.MAILBOX.write(bar, 7);
		s.MAILBOX.write(bar, 9);
		expect(MAILBOX.read(bar, gsp.FALCON).get('value')).toBe(7);
		expect(bar.regs.get(0x840044)).toBe(9);
		expect(() => instantiate(set, { FALCON: gsp.FALCON } as never)).toThrow(/no FALCON2 base/);
	});
});

describe('types (checked by tsc -b)', () => {
	it('infers field names, value types and methods', () => {
		const v = TEST.zero();
		const count: number = v.get('count');
		const enabled: boolean = v.get('enabled');
		const core: 'FALCON' | 'RISCV' = v.get('core');
		const algo = v.get('algo');
		const algoName: 'AES' | 'RSA3K' | undefined = algo.ok ? algo.value : undefined;
		const doubled: number = v.doubled();
		type TestValue = ValueOf<typeof TEST>;
		const same: TestValue = v.with('count', 1);
		// @ts-expect-error a typo in a field name is a compile error
		expect(() => v.get('cuont')).toThrow(InvalidArgumentError);
		// @ts-expect-error booleans only for `bit` fields
		expect(() => v.with('enabled', 1)).toThrow(InvalidArgumentError);
		// @ts-expect-error enum members only
		expect(() => v.with('core', 'ARM')).toThrow(InvalidArgumentError);
		// @ts-expect-error no such method
		expect(() => v.tripled()).toThrow(TypeError);
		const R64 = defineRegister({
			name: 'W',
			offset: 0,
			width: 64,
			doc: '',
			fields: { x: { bits: [40, 0] } },
		});
		const x: bigint = R64.zero().get('x');
		expect([count, enabled, core, algoName, doubled, same.raw, x]).toEqual([
			0,
			false,
			'FALCON',
			'AES',
			0,
			1,
			0n,
		]);
	});
});
