/**
 * The uAPI layouts and request codes against the real kernel headers, compiled by gcc: sizeof/alignof of
 * every struct, offsetof/sizeof/signedness of every field (nested ones included), every DRM_IOCTL_* code
 * and the constants. Skips, saying why, when the headers or gcc are missing.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Layout, RecordLayout } from '@gspkit/abi';
import * as fe from '@gspkit/drm-frontend';
import { afterAll, describe, expect, it } from 'vitest';
import { drmHeadersDir, hasGcc } from './helpers/headers.ts';

const headers = drmHeadersDir();
const gcc = hasGcc();
const skipReason =
	headers === undefined
		? 'kernel uAPI headers not found (run `npm run fetch -- headers` or set GSPKIT_HEADERS / GSPKIT_CACHE): skipped'
		: !gcc
			? 'gcc not found: skipped'
			: undefined;
if (skipReason !== undefined) console.warn(`drm-frontend uapi-gcc: ${skipReason}`);

const LAYOUTS: RecordLayout[] = [
	fe.drmVersion,
	fe.drmGetCap,
	fe.drmSetClientCap,
	fe.drmGemClose,
	fe.drmPrimeHandle,
	fe.drmSyncobjCreate,
	fe.drmSyncobjDestroy,
	fe.drmSyncobjHandle,
	fe.drmSyncobjTransfer,
	fe.drmSyncobjWait,
	fe.drmSyncobjTimelineWait,
	fe.drmSyncobjArray,
	fe.drmSyncobjTimelineArray,
	fe.nouveauGetparam,
	fe.nouveauChannelAlloc,
	fe.nouveauChannelFree,
	fe.nouveauGemInfo,
	fe.nouveauGemNew,
	fe.nouveauGemCpuPrep,
	fe.nouveauGemCpuFini,
	fe.nouveauSync,
	fe.nouveauVmInit,
	fe.nouveauVmBindOp,
	fe.nouveauVmBind,
	fe.nouveauExecPush,
	fe.nouveauExec,
	fe.gspkitGemPread,
	fe.gspkitGemPwrite,
];

/** gspkit's private structs, as a C client would declare them (the doc comment of uapi/gspkit.ts). */
const GSPKIT_C = `
struct drm_gspkit_gem_pread { __u32 handle; __u32 pad; __u64 offset; __u64 size; __u64 data_ptr; };
struct drm_gspkit_gem_pwrite { __u32 handle; __u32 pad; __u64 offset; __u64 size; __u64 data_ptr; };
#define DRM_GSPKIT_GEM_PREAD 0x5e
#define DRM_GSPKIT_GEM_PWRITE 0x5f
#define DRM_IOCTL_GSPKIT_GEM_PREAD DRM_IOW(DRM_COMMAND_BASE + DRM_GSPKIT_GEM_PREAD, struct drm_gspkit_gem_pread)
#define DRM_IOCTL_GSPKIT_GEM_PWRITE DRM_IOW(DRM_COMMAND_BASE + DRM_GSPKIT_GEM_PWRITE, struct drm_gspkit_gem_pwrite)
`;

interface FieldProbe {
	readonly path: string;
	readonly offset: number;
	readonly size: number;
	/** `true`/`false` for integer fields (signedness), `undefined` for aggregates. */
	readonly signed: boolean | undefined;
}

function probes(layout: Layout, prefix: string, base: number, out: FieldProbe[]): void {
	if (layout.kind === 'struct' || layout.kind === 'union') {
		for (const f of layout.fields) {
			const path = prefix === '' ? f.name : `${prefix}.${f.name}`;
			out.push({ path, offset: base + f.offset, size: f.size, signed: signedness(f.layout) });
			probes(f.layout, path, base + f.offset, out);
		}
	} else if (
		layout.kind === 'array' &&
		(layout.element.kind === 'struct' || layout.element.kind === 'union')
	) {
		for (const i of [0, layout.length - 1])
			probes(layout.element, `${prefix}[${i}]`, base + i * layout.element.size, out);
	}
}

function signedness(l: Layout): boolean | undefined {
	if (l.kind !== 'prim') return undefined;
	return l.prim.startsWith('i');
}

/** [TS value, C macro] pairs of the constants the frontend uses. */
const CONSTANTS: [bigint | number, string][] = [
	[fe.DRM_CAP_PRIME, 'DRM_CAP_PRIME'],
	[fe.DRM_PRIME_CAP_IMPORT, 'DRM_PRIME_CAP_IMPORT'],
	[fe.DRM_PRIME_CAP_EXPORT, 'DRM_PRIME_CAP_EXPORT'],
	[fe.DRM_CAP_TIMESTAMP_MONOTONIC, 'DRM_CAP_TIMESTAMP_MONOTONIC'],
	[fe.DRM_CAP_SYNCOBJ, 'DRM_CAP_SYNCOBJ'],
	[fe.DRM_CAP_SYNCOBJ_TIMELINE, 'DRM_CAP_SYNCOBJ_TIMELINE'],
	[fe.DRM_CAP_DUMB_BUFFER, 'DRM_CAP_DUMB_BUFFER'],
	[fe.DRM_CLIENT_CAP_STEREO_3D, 'DRM_CLIENT_CAP_STEREO_3D'],
	[fe.DRM_CLIENT_CAP_UNIVERSAL_PLANES, 'DRM_CLIENT_CAP_UNIVERSAL_PLANES'],
	[fe.DRM_CLIENT_CAP_ATOMIC, 'DRM_CLIENT_CAP_ATOMIC'],
	[fe.DRM_CLOEXEC, 'DRM_CLOEXEC'],
	[fe.DRM_RDWR, 'DRM_RDWR'],
	[fe.DRM_SYNCOBJ_CREATE_SIGNALED, 'DRM_SYNCOBJ_CREATE_SIGNALED'],
	[fe.DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, 'DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE'],
	[fe.DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE, 'DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE'],
	[fe.DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE, 'DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE'],
	[fe.DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE, 'DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE'],
	[fe.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, 'DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL'],
	[fe.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, 'DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT'],
	[fe.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, 'DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE'],
	[fe.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE, 'DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE'],
	[fe.DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED, 'DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED'],
	[fe.DRM_IOCTL_BASE, 'DRM_IOCTL_BASE'],
	[fe.DRM_COMMAND_BASE, 'DRM_COMMAND_BASE'],
	[fe.DRM_COMMAND_END, 'DRM_COMMAND_END'],
	[fe.NOUVEAU_GETPARAM_PCI_VENDOR, 'NOUVEAU_GETPARAM_PCI_VENDOR'],
	[fe.NOUVEAU_GETPARAM_PCI_DEVICE, 'NOUVEAU_GETPARAM_PCI_DEVICE'],
	[fe.NOUVEAU_GETPARAM_BUS_TYPE, 'NOUVEAU_GETPARAM_BUS_TYPE'],
	[fe.NOUVEAU_GETPARAM_FB_SIZE, 'NOUVEAU_GETPARAM_FB_SIZE'],
	[fe.NOUVEAU_GETPARAM_AGP_SIZE, 'NOUVEAU_GETPARAM_AGP_SIZE'],
	[fe.NOUVEAU_GETPARAM_CHIPSET_ID, 'NOUVEAU_GETPARAM_CHIPSET_ID'],
	[fe.NOUVEAU_GETPARAM_VM_VRAM_BASE, 'NOUVEAU_GETPARAM_VM_VRAM_BASE'],
	[fe.NOUVEAU_GETPARAM_GRAPH_UNITS, 'NOUVEAU_GETPARAM_GRAPH_UNITS'],
	[fe.NOUVEAU_GETPARAM_PTIMER_TIME, 'NOUVEAU_GETPARAM_PTIMER_TIME'],
	[fe.NOUVEAU_GETPARAM_HAS_BO_USAGE, 'NOUVEAU_GETPARAM_HAS_BO_USAGE'],
	[fe.NOUVEAU_GETPARAM_HAS_PAGEFLIP, 'NOUVEAU_GETPARAM_HAS_PAGEFLIP'],
	[fe.NOUVEAU_GETPARAM_EXEC_PUSH_MAX, 'NOUVEAU_GETPARAM_EXEC_PUSH_MAX'],
	[fe.NOUVEAU_GETPARAM_VRAM_BAR_SIZE, 'NOUVEAU_GETPARAM_VRAM_BAR_SIZE'],
	[fe.NOUVEAU_GETPARAM_VRAM_USED, 'NOUVEAU_GETPARAM_VRAM_USED'],
	[fe.NOUVEAU_GETPARAM_HAS_VMA_TILEMODE, 'NOUVEAU_GETPARAM_HAS_VMA_TILEMODE'],
	[fe.NOUVEAU_FIFO_ENGINE_GR, 'NOUVEAU_FIFO_ENGINE_GR'],
	[fe.NOUVEAU_FIFO_ENGINE_VP, 'NOUVEAU_FIFO_ENGINE_VP'],
	[fe.NOUVEAU_FIFO_ENGINE_PPP, 'NOUVEAU_FIFO_ENGINE_PPP'],
	[fe.NOUVEAU_FIFO_ENGINE_BSP, 'NOUVEAU_FIFO_ENGINE_BSP'],
	[fe.NOUVEAU_FIFO_ENGINE_CE, 'NOUVEAU_FIFO_ENGINE_CE'],
	[fe.NOUVEAU_GEM_DOMAIN_CPU, 'NOUVEAU_GEM_DOMAIN_CPU'],
	[fe.NOUVEAU_GEM_DOMAIN_VRAM, 'NOUVEAU_GEM_DOMAIN_VRAM'],
	[fe.NOUVEAU_GEM_DOMAIN_GART, 'NOUVEAU_GEM_DOMAIN_GART'],
	[fe.NOUVEAU_GEM_DOMAIN_MAPPABLE, 'NOUVEAU_GEM_DOMAIN_MAPPABLE'],
	[fe.NOUVEAU_GEM_DOMAIN_COHERENT, 'NOUVEAU_GEM_DOMAIN_COHERENT'],
	[fe.NOUVEAU_GEM_DOMAIN_NO_SHARE, 'NOUVEAU_GEM_DOMAIN_NO_SHARE'],
	[fe.NOUVEAU_GEM_TILE_NONCONTIG, 'NOUVEAU_GEM_TILE_NONCONTIG'],
	[fe.NOUVEAU_GEM_TILE_LAYOUT_MASK, 'NOUVEAU_GEM_TILE_LAYOUT_MASK'],
	[fe.NOUVEAU_GEM_CPU_PREP_NOWAIT, 'NOUVEAU_GEM_CPU_PREP_NOWAIT'],
	[fe.NOUVEAU_GEM_CPU_PREP_WRITE, 'NOUVEAU_GEM_CPU_PREP_WRITE'],
	[fe.DRM_NOUVEAU_SYNC_SYNCOBJ, 'DRM_NOUVEAU_SYNC_SYNCOBJ'],
	[fe.DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ, 'DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ'],
	[fe.DRM_NOUVEAU_SYNC_TYPE_MASK, 'DRM_NOUVEAU_SYNC_TYPE_MASK'],
	[fe.DRM_NOUVEAU_VM_BIND_OP_MAP, 'DRM_NOUVEAU_VM_BIND_OP_MAP'],
	[fe.DRM_NOUVEAU_VM_BIND_OP_UNMAP, 'DRM_NOUVEAU_VM_BIND_OP_UNMAP'],
	[fe.DRM_NOUVEAU_VM_BIND_SPARSE, 'DRM_NOUVEAU_VM_BIND_SPARSE'],
	[fe.DRM_NOUVEAU_VM_BIND_RUN_ASYNC, 'DRM_NOUVEAU_VM_BIND_RUN_ASYNC'],
	[fe.DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH, 'DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH'],
	[fe.DRM_NOUVEAU_GETPARAM, 'DRM_NOUVEAU_GETPARAM'],
	[fe.DRM_NOUVEAU_CHANNEL_ALLOC, 'DRM_NOUVEAU_CHANNEL_ALLOC'],
	[fe.DRM_NOUVEAU_CHANNEL_FREE, 'DRM_NOUVEAU_CHANNEL_FREE'],
	[fe.DRM_NOUVEAU_VM_INIT, 'DRM_NOUVEAU_VM_INIT'],
	[fe.DRM_NOUVEAU_VM_BIND, 'DRM_NOUVEAU_VM_BIND'],
	[fe.DRM_NOUVEAU_EXEC, 'DRM_NOUVEAU_EXEC'],
	[fe.DRM_NOUVEAU_GEM_NEW, 'DRM_NOUVEAU_GEM_NEW'],
	[fe.DRM_NOUVEAU_GEM_CPU_PREP, 'DRM_NOUVEAU_GEM_CPU_PREP'],
	[fe.DRM_NOUVEAU_GEM_CPU_FINI, 'DRM_NOUVEAU_GEM_CPU_FINI'],
	[fe.DRM_NOUVEAU_GEM_INFO, 'DRM_NOUVEAU_GEM_INFO'],
];

interface CReport {
	readonly structs: Map<string, { size: number; align: number }>;
	readonly fields: Map<string, { offset: number; size: number; signed: boolean | undefined }>;
	readonly ioctls: Map<string, number>;
	readonly constants: Map<string, bigint>;
}

let workDir: string | undefined;
afterAll(() => {
	if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

function compileAndRun(): CReport {
	workDir = mkdtempSync(join(tmpdir(), 'gspkit-drm-uapi-'));
	// The fetched tree holds the raw uapi headers (not `make headers_install` output): `__user` is still in
	// them and drm_mode.h includes <linux/bits.h>, which older system headers lack. Supply both.
	mkdirSync(join(workDir, 'shim', 'linux'), { recursive: true });
	writeFileSync(join(workDir, 'shim', 'linux', 'bits.h'), '#pragma once\n#include <linux/const.h>\n');
	const lines: string[] = [
		'#include <stdio.h>',
		'#include <stddef.h>',
		'#include <fcntl.h>',
		'#include "drm.h"',
		'#include "nouveau_drm.h"',
		GSPKIT_C,
		'#define SIGNED(T, P) (((__typeof__(((T *)0)->P))-1) < 0)',
		'int main(void) {',
	];
	for (const l of LAYOUTS) {
		const t = `struct ${l.name}`;
		lines.push(`printf("struct ${l.name} %zu %zu\\n", sizeof(${t}), _Alignof(${t}));`);
		const ps: FieldProbe[] = [];
		probes(l, '', 0, ps);
		for (const p of ps) {
			const sign = p.signed === undefined ? '2' : `SIGNED(${t}, ${p.path})`;
			lines.push(
				`printf("field ${l.name}.${p.path} %zu %zu %d\\n", offsetof(${t}, ${p.path}), sizeof(((${t} *)0)->${p.path}), ${sign});`,
			);
		}
	}
	for (const name of Object.keys(fe.DRM_IOCTL)) {
		lines.push(`printf("ioctl ${name} %u\\n", (unsigned)DRM_IOCTL_${name});`);
	}
	for (const [, macro] of CONSTANTS)
		lines.push(`printf("const ${macro} %llu\\n", (unsigned long long)(${macro}));`);
	lines.push('return 0; }');
	const src = join(workDir, 'probe.c');
	const exe = join(workDir, 'probe');
	writeFileSync(src, lines.join('\n'));
	execFileSync('gcc', [
		'-std=gnu11',
		'-D__user=',
		'-I',
		join(workDir, 'shim'),
		'-I',
		headers as string,
		src,
		'-o',
		exe,
	]);
	const out = execFileSync(exe, { encoding: 'utf8' });
	const report: CReport = { structs: new Map(), fields: new Map(), ioctls: new Map(), constants: new Map() };
	for (const line of out.trim().split('\n')) {
		const [kind, name, a, b, c] = line.split(' ') as [string, string, string, string?, string?];
		if (kind === 'struct') report.structs.set(name, { size: Number(a), align: Number(b) });
		else if (kind === 'field') {
			report.fields.set(name, {
				offset: Number(a),
				size: Number(b),
				signed: c === '2' ? undefined : c === '1',
			});
		} else if (kind === 'ioctl') report.ioctls.set(name, Number(a));
		else if (kind === 'const') report.constants.set(name, BigInt(a));
	}
	return report;
}

describe.skipIf(skipReason !== undefined)(
	'uAPI layouts and codes vs. the kernel headers (gcc, x86-64)',
	() => {
		const c = skipReason === undefined ? compileAndRun() : undefined;

		it('every struct has the kernel sizeof and alignment', () => {
			for (const l of LAYOUTS)
				expect({ name: l.name, ...c?.structs.get(l.name) }).toEqual({
					name: l.name,
					size: l.size,
					align: l.align,
				});
		});

		it('every field (nested and array members included) has the kernel offset, size and signedness', () => {
			let n = 0;
			for (const l of LAYOUTS) {
				const ps: FieldProbe[] = [];
				probes(l, '', 0, ps);
				for (const p of ps) {
					const key = `${l.name}.${p.path}`;
					expect({ key, ...c?.fields.get(key) }).toEqual({
						key,
						offset: p.offset,
						size: p.size,
						signed: p.signed,
					});
					n++;
				}
			}
			expect(n).toBe(128);
		});

		it('every DRM_IOCTL_* request code equals the C macro', () => {
			const names = Object.keys(fe.DRM_IOCTL) as (keyof typeof fe.DRM_IOCTL)[];
			expect(names.length).toBe(31);
			for (const name of names)
				expect({ name, code: c?.ioctls.get(name) }).toEqual({ name, code: fe.DRM_IOCTL[name] });
		});

		it('every constant equals the C macro', () => {
			for (const [value, macro] of CONSTANTS)
				expect({ macro, value: c?.constants.get(macro) }).toEqual({ macro, value: BigInt(value) });
		});
	},
);
