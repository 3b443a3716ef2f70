/**
 * The whole generator on a small synthetic header tree whose layouts follow from the C rules by hand:
 * padding, bit-fields, packed and over-aligned types, anonymous members, flexible arrays with
 * `__counted_by`, typedef aliases, signed and unsigned enums, macro evaluation and grouping, and branch
 * inheritance. Needs gcc only (not the fetched headers).
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LayoutManifest } from '@gspkit/abi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AbiBranch, AbiGenError, type GeneratedAbi, generate, TREE } from '../src/index.ts';
import { constant, field, HAVE_GCC, type } from './support.ts';

const NVTYPES = `#ifndef __NVRM_NVTYPES_H__
#define __NVRM_NVTYPES_H__
typedef u8 NvU8;
typedef u16 NvU16;
typedef u32 NvU32;
typedef u64 NvU64;
typedef s32 NvS32;
#endif
`;

const CLASS_H = `#ifndef __NVIF_CLASS_H__
#define __NVIF_CLASS_H__
#define NVIF_CLASS_THING   /* if0001.h */ -0x00000001
#define MY_CHANNEL_GPFIFO_A /* clc56f.h */ 0x0000c56f
#endif
`;

const A_H = `#ifndef __NVRM_A_H__
#define __NVRM_A_H__
#include <nvrm/nvtypes.h>
typedef struct Plain { NvU8 a; NvU32 b; NvU16 c; NvU64 d; } Plain;
typedef struct { NvU32 x : 3; NvU32 y : 7; NvU8 z : 4; NvU64 big : 40; } Bits;
typedef struct __attribute__((packed)) Packed { NvU8 a; NvU32 b; NvU16 c; } Packed;
typedef struct __attribute__((packed)) PackedNatural { NvU32 a; NvU32 b; } PackedNatural;
typedef struct Wrap { NvU8 pre; PackedNatural inner; } Wrap;
struct Over { NvU32 a; } __attribute__((aligned(16)));
typedef struct Outer {
    NvU32 kind;
    union { NvU32 u32; NvU64 u64; };
    struct { NvU16 lo, hi; } pair;
    char name[6];
    NvU8 tail[];
} Outer;
typedef struct Counted { NvU32 n; Plain items[] __counted_by(n); } Counted;
typedef Plain PlainAlias;
typedef enum { NEG = -2, BIG = 0x7fffffff } SignedEnum;
enum Flags { F_A = 1, F_HIGH = 0x80000000u };
enum { NV_VGPU_MSG_FUNCTION_NOP = 0, NV_VGPU_MSG_FUNCTION_X = 5 };
#define T_DEC 42
#define T_HEX 0xdc3aae21371a60b3ULL
#define T_EXPR (T_DEC * 2 + 1)
#define T_NEG (-7)
#define T_BIT BIT(4)
#define T_RANGE 7:4
#define T_STR "not an integer"
#define T_FN(x) ((x) + 1)
#define T_UNDEF_REF (NOT_DEFINED + 1)
#define NV2080_CTRL_CMD_T_FOO (0x20800a42)
#define NV01_THING (0x0041)
#endif
`;

// A newer branch: replaces a.h, redefines SignedEnum and the function table, keeps the rest.
const NEW_A_H = `#ifndef __NVRM_A_H__
#define __NVRM_A_H__
#include <nvrm/nvtypes.h>
typedef struct Plain2 { NvU64 only; } Plain2;
typedef struct Outer { NvU64 only; } Outer;
typedef enum { NEG = -3 } SignedEnum;
enum { NV_VGPU_MSG_FUNCTION_NOP = 0, NV_VGPU_MSG_FUNCTION_Y = 9 };
#define T_EXPR 1
#endif
`;

// A broken newer branch: redefines Plain, which the inherited Counted embeds.
const BAD_A_H = `#ifndef __NVRM_A_H__
#define __NVRM_A_H__
#include <nvrm/nvtypes.h>
typedef struct Plain { NvU64 changed; } Plain;
#endif
`;

const base = { packageName: '@gspkit/abi-test', outDir: 'unused' };
const rtest: AbiBranch = { ...base, key: 'rtest', version: '1.0', rmDirs: ['rtest'] };
const rnew: AbiBranch = {
	...base,
	key: 'rnew',
	version: '2.0',
	rmDirs: ['rnew', 'rtest'],
	inherits: { from: 'rtest', exclude: [{ pattern: /^T_DEC$/, reason: 'replaced in the test' }] },
};
const rbad: AbiBranch = {
	...base,
	key: 'rbad',
	version: '3.0',
	rmDirs: ['rbad', 'rtest'],
	inherits: { from: 'rtest', exclude: [] },
};
const branches = [rtest, rnew, rbad];

let root = '';
let g: GeneratedAbi;
let m: LayoutManifest;

function put(rel: string, text: string): void {
	const p = join(root, rel);
	mkdirSync(dirname(p), { recursive: true });
	writeFileSync(p, text);
}

describe.skipIf(!HAVE_GCC)('generator on synthetic headers', () => {
	beforeAll(() => {
		root = mkdtempSync(join(tmpdir(), 'gspkit-synth-'));
		put(TREE.nvtypes, NVTYPES);
		put(TREE.nvifClass, CLASS_H);
		put(`${TREE.rm}/rtest/nvrm/a.h`, A_H);
		put(`${TREE.rm}/rnew/nvrm/a.h`, NEW_A_H);
		put(`${TREE.rm}/rbad/nvrm/a.h`, BAD_A_H);
		g = generate(rtest, root, { sourceLabel: 'synthetic', branches });
		m = g.manifest;
	});
	afterAll(() => rmSync(root, { recursive: true, force: true }));

	it('pads fields to their natural alignment', () => {
		const t = type(m, 'Plain');
		expect([t.size, t.align]).toEqual([24, 8]);
		expect(t.fields.map((f) => [f.name, f.offset, f.size, f.type])).toEqual([
			['a', 0, 1, 'u8'],
			['b', 4, 4, 'u32'],
			['c', 8, 2, 'u16'],
			['d', 16, 8, 'u64'],
		]);
	});

	it('places bit-fields in their storage units (x86-64 SysV rules)', () => {
		const t = type(m, 'Bits');
		expect([t.size, t.align]).toEqual([8, 8]);
		expect(field(t, 'x')).toMatchObject({ offset: 0, size: 4, bitOffset: 0, bitSize: 3 });
		expect(field(t, 'y')).toMatchObject({ offset: 0, size: 4, bitOffset: 3, bitSize: 7 });
		expect(field(t, 'z')).toMatchObject({ offset: 1, size: 1, type: 'u8', bitOffset: 2, bitSize: 4 });
		expect(field(t, 'big')).toMatchObject({ offset: 0, size: 8, type: 'u64', bitOffset: 14, bitSize: 40 });
	});

	it('handles packed and over-aligned types; gcc corrects an alignment the members cannot show', () => {
		expect(type(m, 'Packed')).toMatchObject({ size: 7, align: 1 });
		expect(field(type(m, 'Packed'), 'b').offset).toBe(1);
		expect(field(type(m, 'Packed'), 'c').offset).toBe(5);
		expect(type(m, 'PackedNatural')).toMatchObject({ size: 8, align: 1 });
		expect(g.alignCorrections).toContainEqual({ name: 'PackedNatural', computed: 4, gcc: 1 });
		expect(type(m, 'Wrap')).toMatchObject({ size: 9, align: 1 });
		expect(field(type(m, 'Wrap'), 'inner')).toMatchObject({ offset: 1, type: 'struct PackedNatural' });
		expect(type(m, 'Over')).toMatchObject({ size: 16, align: 16 });
	});

	it('names anonymous members and anonymous nested types after their place', () => {
		const t = type(m, 'Outer');
		expect([t.size, t.align]).toEqual([32, 8]);
		expect(t.fields.map((f) => [f.name, f.offset, f.size, f.type])).toEqual([
			['kind', 0, 4, 'u32'],
			['@anon0', 8, 8, 'union Outer.@anon0'],
			['pair', 16, 4, 'struct Outer.pair'],
			['name', 20, 6, 'char[6]'],
			['tail', 26, 0, 'u8[]'],
		]);
		expect(type(m, 'Outer.@anon0')).toMatchObject({ kind: 'union', size: 8, align: 8 });
		expect(type(m, 'Outer.pair').fields.map((f) => [f.name, f.offset])).toEqual([
			['lo', 0],
			['hi', 2],
		]);
	});

	it('records __counted_by and lists typedef aliases as types', () => {
		expect(field(type(m, 'Counted'), 'items')).toEqual({
			name: 'items',
			offset: 8,
			size: 0,
			type: 'struct Plain[]',
			countField: 'n',
		});
		expect(type(m, 'PlainAlias')).toEqual({ ...type(m, 'Plain'), name: 'PlainAlias' });
	});

	it('reads enumerators with their signedness and groups them', () => {
		expect(constant(m, 'NEG')).toBe(-2n);
		expect(constant(m, 'BIG')).toBe(0x7fffffffn);
		expect(constant(m, 'F_HIGH')).toBe(0x80000000n);
		const c = new Map(m.constants.map((x) => [x.name, x.group]));
		expect(c.get('NEG')).toBe('enum:SignedEnum');
		expect(c.get('F_A')).toBe('enum:Flags');
		expect(c.get('NV_VGPU_MSG_FUNCTION_X')).toBe('rpc-function');
	});

	it('evaluates integer macros with gcc and skips everything else', () => {
		expect(constant(m, 'T_DEC')).toBe(42n);
		expect(constant(m, 'T_HEX')).toBe(0xdc3aae21371a60b3n);
		expect(constant(m, 'T_EXPR')).toBe(85n);
		expect(constant(m, 'T_NEG')).toBe(-7n);
		expect(constant(m, 'T_BIT')).toBe(16n);
		for (const n of ['T_STR', 'T_FN', 'T_UNDEF_REF', 'T_RANGE']) expect(constant(m, n), n).toBeUndefined();
		expect(constant(m, 'NVIF_CLASS_THING')).toBe(-1n);
		expect(g.ranges.map((r) => [r.name, r.hi, r.lo])).toEqual([['T_RANGE', 7, 4]]);
		const c = new Map(m.constants.map((x) => [x.name, x.group]));
		expect(c.get('NV2080_CTRL_CMD_T_FOO')).toBe('control');
		expect(c.get('NV01_THING')).toBe('class');
		expect(c.get('MY_CHANNEL_GPFIFO_A')).toBe('class');
		expect(c.get('NVIF_CLASS_THING')).toBe('define');
		expect(c.get('T_DEC')).toBe('define');
	});

	it('emits deterministic files with the banner and typed tables', () => {
		const again = generate(rtest, root, { sourceLabel: 'synthetic', branches });
		expect([...again.files]).toEqual([...g.files]);
		const ts = g.files.get('constants.ts')!;
		expect(ts.split('\n')[0]).toBe('// generated by tools/abi-gen — do not edit');
		expect(ts).toContain('\tX: 5,');
		expect(ts).toContain('\tT_HEX: 0xdc3aae21371a60b3n,');
		expect(ts).toContain('\tT_NEG: -7,');
		expect(ts).toContain('\tT_RANGE: [7, 4],');
		expect(ts).toContain('\tNV2080_CTRL_CMD_T_FOO: 0x20800a42,');
		expect(JSON.parse(g.files.get('manifest.json')!)).toEqual(JSON.parse(JSON.stringify(m)));
		expect(m.source).toMatch(/^synthetic: .*rtest\/nvrm\/a\.h; sha256 [0-9a-f]{64}; @gspkit\/abi-gen /);
		expect(g.files.has('inherited.json')).toBe(false);
	});

	it('DWARF 2, 3 and 4 give the same manifest as DWARF 5', () => {
		for (const v of ['2', '3', '4']) {
			const old = generate(rtest, root, {
				sourceLabel: 'synthetic',
				branches,
				cflags: [`-gdwarf-${v}`, '-gstrict-dwarf'],
			});
			expect(old.manifest, `DWARF ${v}`).toEqual(m);
		}
	});

	it('a newer branch inherits what it does not redefine, whole enums excepted', () => {
		const n = generate(rnew, root, { sourceLabel: 'synthetic', branches });
		const nm = n.manifest;
		expect(type(nm, 'Plain2').size).toBe(8);
		expect(type(nm, 'Counted')).toEqual(type(m, 'Counted'));
		expect(n.inherited?.types).toContain('Plain');
		// SignedEnum and the function table are redefined, so none of the old members survive.
		expect(constant(nm, 'NEG')).toBe(-3n);
		expect(constant(nm, 'BIG')).toBeUndefined();
		expect(constant(nm, 'NV_VGPU_MSG_FUNCTION_X')).toBeUndefined();
		expect(constant(nm, 'NV_VGPU_MSG_FUNCTION_Y')).toBe(9n);
		expect(constant(nm, 'F_HIGH')).toBe(0x80000000n);
		expect(constant(nm, 'T_EXPR')).toBe(1n);
		expect(constant(nm, 'T_HEX')).toBe(0xdc3aae21371a60b3n);
		expect(constant(nm, 'T_DEC')).toBeUndefined();
		// Outer is redefined, so its old anonymous parts are not inherited either.
		expect(type(nm, 'Outer').size).toBe(8);
		expect(nm.types.some((t) => t.name.startsWith('Outer.'))).toBe(false);
		expect(n.inherited?.excluded).toEqual([
			{ name: 'Outer.@anon0', reason: 'nested in Outer, which rnew redefines' },
			{ name: 'Outer.pair', reason: 'nested in Outer, which rnew redefines' },
			{ name: 'T_DEC', reason: 'replaced in the test' },
		]);
		expect(n.ranges.map((r) => r.name)).toEqual(['T_RANGE']);
		const inh = JSON.parse(n.files.get('inherited.json')!) as {
			from: string;
			types: string[];
			constants: string[];
		};
		expect(inh.from).toBe('rtest');
		expect(inh.constants).toContain('T_HEX');
		expect(inh.constants).not.toContain('T_EXPR');
	});

	it('refuses to inherit a type that embeds a type the branch redefined differently', () => {
		expect(() => generate(rbad, root, { sourceLabel: 'synthetic', branches })).toThrowError(AbiGenError);
		try {
			generate(rbad, root, { sourceLabel: 'synthetic', branches });
		} catch (e) {
			expect((e as AbiGenError).code).toBe('E_HEADERS');
			expect((e as Error).message).toMatch(/inherit (Counted|PlainAlias).*embeds Plain/);
		}
	});

	it('names the missing directory when a header set is absent', () => {
		const missing: AbiBranch = { ...base, key: 'rmissing', version: '9.9', rmDirs: ['rmissing'] };
		try {
			generate(missing, root, { branches });
			expect.unreachable();
		} catch (e) {
			expect((e as AbiGenError).code).toBe('E_HEADERS');
			expect((e as Error).message).toContain('rmissing/nvrm');
		}
	});
});
