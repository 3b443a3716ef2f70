/** Unit tests of the pure parts: literals, define parsing, grouping, the bindings cross-check, the CLI. */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayoutManifest } from '@gspkit/abi';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	crossCheck,
	emitManifestJson,
	enumeratorGroup,
	literal,
	macroGroup,
	main,
	parseBindings,
	parseDefines,
	TREE,
} from '../src/index.ts';
import { committedManifest, HEADERS, SKIP_REASON } from './support.ts';

describe('literal()', () => {
	it('prints IDs in hex, small values in decimal, bigint beyond 2^53', () => {
		expect(literal(5n, false)).toBe('5');
		expect(literal(0x1000n, true)).toBe('0x1000');
		expect(literal(0x20800a42n, false)).toBe('0x20800a42');
		expect(literal(-7n, false)).toBe('-7');
		expect(literal(0xdc3aae21371a60b3n, false)).toBe('0xdc3aae21371a60b3n');
		expect(literal(2n ** 53n - 1n, false)).toBe('0x1fffffffffffff');
		expect(literal(2n ** 53n, false)).toBe('0x20000000000000n');
	});

	it('round-trips through JavaScript evaluation for any 64-bit value', () => {
		fc.assert(
			fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.boolean(), (v, hex) => {
				const text = literal(v, hex);
				// Evaluate the literal exactly as the generated module would.
				const value = new Function(`return ${text};`)() as number | bigint;
				expect(BigInt(value)).toBe(v);
				expect(typeof value).toBe(
					v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? 'bigint' : 'number',
				);
			}),
		);
	});
});

describe('parseDefines()', () => {
	const root = '/tree';
	const pre = [
		'# 1 "abi.c"',
		'# 1 "/tree/drivers/x/a.h" 1',
		'#define GUARD_H ',
		'#define A (0x10)',
		'#define F(x) ((x)+1)',
		'#define B   1   +   2',
		'# 3 "gspkit-prelude.h"',
		'#define BIT(nr) (1UL << (nr))',
		'#define PRELUDE_CONST 3',
		'# 9 "/tree/drivers/x/b.h" 1',
		'#define C A',
		'#undef A',
		'# 1 "<command-line>"',
		'#define CMDLINE 1',
	].join('\n');

	it('keeps object-like macros from files in the tree, with their file', () => {
		expect(parseDefines(pre, root, '/scratch')).toEqual([
			{ name: 'B', body: '1 + 2', file: 'drivers/x/a.h' },
			{ name: 'C', body: 'A', file: 'drivers/x/b.h' },
		]);
	});
});

describe('grouping', () => {
	it('sorts IDs, classes and controls into their groups', () => {
		expect(enumeratorGroup('NV_VGPU_MSG_FUNCTION_NOP', undefined)).toBe('rpc-function');
		expect(enumeratorGroup('NV_VGPU_MSG_EVENT_GSP_INIT_DONE', undefined)).toBe('rpc-event');
		expect(enumeratorGroup('GSP_SEQ_BUF_OPCODE_REG_POLL', 'GSP_SEQ_BUF_OPCODE')).toBe('seq-opcode');
		expect(enumeratorGroup('RM_ENGINE_TYPE_GR0', 'RM_ENGINE_TYPE')).toBe('enum:RM_ENGINE_TYPE');
		expect(enumeratorGroup('WHATEVER', undefined)).toBe('enum:@anon');
		const f = 'drivers/gpu/drm/nouveau/nvkm/subdev/gsp/rm/r535/nvrm/fifo.h';
		expect(macroGroup('NV2080_CTRL_CMD_GPU_PROMOTE_CTX', 0x2080012bn, f)).toBe('control');
		expect(macroGroup('NV2080_CTRL_CMD_INTERNAL_MAX_CONSTRUCTED_FALCONS', 0x40n, f)).toBe('define');
		expect(macroGroup('NV20_SUBDEVICE_0', 0x2080n, f)).toBe('class');
		expect(macroGroup('FERMI_VASPACE_A', 0x90f1n, f)).toBe('class');
		expect(macroGroup('NV01_EVENT_CLIENT_RM', 0x04000000n, f)).toBe('define');
		expect(macroGroup('NV2080_NOTIFIERS_HOTPLUG', 1n, f)).toBe('define');
		expect(macroGroup('AMPERE_CHANNEL_GPFIFO_A', 0xc56fn, TREE.nvifClass)).toBe('class');
		expect(macroGroup('NVIF_CLASS_MEM', 0x1n, TREE.nvifClass)).toBe('define');
	});
});

describe('emitManifestJson()', () => {
	it('is valid JSON equal to the manifest, with one field per line', () => {
		const m: LayoutManifest = {
			format: 'gspkit-abi-manifest/1',
			abi: '1.0',
			source: 'test',
			types: [
				{
					name: 'T',
					kind: 'struct',
					size: 8,
					align: 4,
					fields: [
						{ name: 'a', offset: 0, size: 4, type: 'u32', bitOffset: 0, bitSize: 3 },
						{ name: 'n', offset: 4, size: 4, type: 'u32' },
						{ name: 'x', offset: 8, size: 0, type: 'u8[]', countField: 'n' },
					],
				},
				{ name: 'U', kind: 'union', size: 0, align: 1, fields: [] },
			],
			constants: [{ name: 'C', value: '18446744073709551615', group: 'define' }],
		};
		const text = emitManifestJson(m);
		expect(JSON.parse(text)).toEqual(m);
		expect(text.split('\n').filter((l) => l.includes('"offset"'))).toHaveLength(3);
		expect(text.endsWith('}\n')).toBe(true);
	});
});

const BINDINGS = `
#[repr(C)]
#[derive(Debug)]
pub struct Hdr {
    pub magic: u64_,
    pub type_: u8_,
    pub __bindgen_padding_0: [u8; 3usize],
    pub len: u32_,
    pub __bindgen_anon_1: Hdr__bindgen_ty_1,
    pub data: __IncompleteArrayField<u32_>,
}
#[repr(C)]
pub union Hdr__bindgen_ty_1 {
    pub a: u32_,
    pub b: u64_,
}
#[repr(C)]
#[repr(align(8))]
pub struct Aligned {
    pub x: u32_,
}
pub type u8_ = __u8;
pub type u32_ = __u32;
pub type u64_ = __u64;
pub type __u8 = ffi::c_uchar;
pub type __u32 = ffi::c_uint;
pub type __u64 = ffi::c_ulonglong;
pub const MAGIC: i64 = -2577556379034558285;
pub const OPCODE_OPCODE_POLL: OPCODE = 2;
pub type OPCODE = ffi::c_uint;
pub const ONLY_RUST: u32 = 1;
`;

function cManifest(lenOffset: number, magic: string): LayoutManifest {
	return {
		format: 'gspkit-abi-manifest/1',
		types: [
			{
				name: 'Hdr',
				kind: 'struct',
				size: 24,
				align: 8,
				fields: [
					{ name: 'magic', offset: 0, size: 8, type: 'u64' },
					{ name: 'type', offset: 8, size: 1, type: 'u8' },
					{ name: 'len', offset: lenOffset, size: 4, type: 'u32' },
					{ name: '@anon0', offset: 16, size: 8, type: 'union Hdr.@anon0' },
					{ name: 'data', offset: 24, size: 0, type: 'u32[]' },
				],
			},
			{
				name: 'Hdr.@anon0',
				kind: 'union',
				size: 8,
				align: 8,
				fields: [
					{ name: 'a', offset: 0, size: 4, type: 'u32' },
					{ name: 'b', offset: 0, size: 8, type: 'u64' },
				],
			},
			{
				name: 'Aligned',
				kind: 'struct',
				size: 8,
				align: 8,
				fields: [{ name: 'x', offset: 0, size: 4, type: 'u32' }],
			},
		],
		constants: [
			{ name: 'MAGIC', value: magic, group: 'define' },
			{ name: 'OPCODE_POLL', value: '2', group: 'enum:OPCODE' },
		],
	};
}

describe('crossCheck()', () => {
	it('lays bindgen records out like C (padding, anonymous unions, repr(align), keywords)', () => {
		const b = parseBindings(BINDINGS);
		expect(b.records.get('Hdr')).toMatchObject({ size: 24, align: 8 });
		expect(b.records.get('Aligned')).toMatchObject({ size: 8, align: 8 });
		const r = crossCheck(BINDINGS, cManifest(12, '15869187694674993331'));
		expect(r.issues).toEqual([]);
		expect(r.compared.map((c) => c.c)).toEqual(['Aligned', 'Hdr', 'Hdr.@anon0']);
		expect(r.constantsCompared).toBe(2);
		expect(r.constantsOnlyInBindings).toEqual(['ONLY_RUST']);
	});

	it('reports a shifted field and a different constant', () => {
		const r = crossCheck(BINDINGS, cManifest(16, '1'));
		expect(r.issues).toContainEqual({
			kind: 'field-offset',
			name: 'Hdr.len',
			detail: 'bindings offset 12, gcc 16',
		});
		expect(r.issues).toContainEqual({
			kind: 'constant-value',
			name: 'MAGIC',
			detail: 'bindings -2577556379034558285, gcc 1',
		});
		expect(r.issues).toHaveLength(2);
	});

	it.skipIf(SKIP_REASON !== '')(
		'nova-core r570_144 agrees with gcc except one heap constant nouveau changed',
		() => {
			const text = readFileSync(join(HEADERS!, 'drivers/gpu/nova-core/gsp/fw/r570_144/bindings.rs'), 'utf8');
			const r = crossCheck(text, committedManifest('r570'));
			expect(r.compared.length).toBeGreaterThanOrEqual(50);
			expect(r.compared.map((c) => c.c)).toEqual(
				expect.arrayContaining([
					'GspSystemInfo',
					'GspStaticConfigInfo_t',
					'GspFwWprMeta',
					'GSP_MSG_QUEUE_ELEMENT',
				]),
			);
			// nouveau's r570 gsp.h adds the BULLSEYE deltas (88 + 12 + 70); nova-core's bindings keep 88.
			expect(r.issues).toEqual([
				{
					kind: 'constant-value',
					name: 'GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS3_BAREMETAL_MIN_MB',
					detail: 'bindings 88, gcc 170',
				},
			]);
		},
	);
});

function capture() {
	const out: string[] = [];
	const err: string[] = [];
	return {
		deps: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {} },
		out,
		err,
	};
}

describe('CLI', () => {
	it('rejects contradictory or missing options with exit 2', async () => {
		const c = capture();
		expect(await main(['--all', '--version', '570.144', '--headers', '/'], c.deps)).toBe(2);
		expect(c.err.join('')).toContain('either --all or --version');
		expect(await main(['--headers', '/'], c.deps)).toBe(2);
		expect(await main(['--bogus'], c.deps)).toBe(2);
		expect(await main(['--all', '--out', '/tmp', '--headers', '/'], c.deps)).toBe(2);
	});

	it('exit 3 when the headers are missing, naming the fetch command', async () => {
		const c = capture();
		expect(await main(['--all'], { ...c.deps, env: { GSPKIT_CACHE: '/nonexistent/gspkit-cache' } })).toBe(3);
		expect(c.err.join('')).toContain('tools/fetch/src/cli.ts headers');
		expect(await main(['--all', '--headers', '/nonexistent/tree'], c.deps)).toBe(3);
	});

	it('exit 2 for an unknown firmware version', async () => {
		const c = capture();
		expect(await main(['--version', '999.1', '--headers', '/'], c.deps)).toBe(2);
		expect(c.err.join('')).toContain('535.113.01 (r535), 570.144 (r570)');
	});

	it('--help exits 0 and lists the options', async () => {
		const c = capture();
		expect(await main(['--help'], c.deps)).toBe(0);
		expect(c.out.join('')).toContain('--check');
	});

	it.skipIf(SKIP_REASON !== '')(
		'writes one branch with --out, then --check passes and catches an edit',
		async () => {
			const tmp = mkdtempSync(join(tmpdir(), 'gspkit-cli-'));
			try {
				const c = capture();
				const args = ['--version', '535.113.01', '--headers', HEADERS!, '--out', tmp, '--quiet'];
				expect(await main(args, c.deps)).toBe(0);
				expect(await main([...args, '--check'], c.deps)).toBe(0);
				const p = join(tmp, 'manifest.json');
				writeFileSync(p, readFileSync(p, 'utf8').replace('"size": 664', '"size": 665'));
				expect(await main([...args, '--check'], c.deps)).toBe(1);
				expect(c.err.join('')).toMatch(/drift: .*manifest\.json is stale \(first difference at line \d+\)/);
			} finally {
				rmSync(tmp, { recursive: true, force: true });
			}
		},
	);
});
