/**
 * What the boot needs from a firmware ABI: writers for `GspFwWprMeta`, the RMARGS page
 * (`GSP_ARGUMENTS_CACHED`) and LIBOS region entries (`LibosMemoryRegionInitArgument`).
 *
 * The core never names a firmware version, so these writers sit behind the {@link BootAbi} interface. An ABI
 * package can provide one as its `subInterfaces.boot`; otherwise {@link bootAbiOf} derives one from the ABI's
 * layout manifest (the struct layouts by C name, and the `GSP_FW_WPR_META_*` constants), which every
 * `@gspkit/abi-rNNN` package carries. Field names are the C names; fields a branch lacks (r535 has no
 * `pmuReservedSize`, r570 no lockless queue offsets) are skipped.
 *
 * @module
 */

import type {
	BootAbi,
	LibosRegionFields,
	RmArgsFields,
	StructWriter,
	WprMetaCodec,
	WprMetaFields,
} from '@gspkit/abi';
import {
	constantsOf,
	type FirmwareAbi,
	type Layout,
	type LayoutManifest,
	layoutFromManifest,
	locate,
	type PrimName,
	type RecordLayout,
	struct,
	u8,
	u64,
} from '@gspkit/abi';
import { hex } from '@gspkit/hal';
import { BootAbiError } from './errors.ts';

/** `GspFwWprMeta.magic` (reference A.7). */
export const GSP_FW_WPR_META_MAGIC = 0xdc3aae21371a60b3n;
/** `GspFwWprMeta.revision`. */
export const GSP_FW_WPR_META_REVISION = 1n;
/** `GspFwWprMeta.verified` once booter has verified the image. */
export const GSP_FW_WPR_META_VERIFIED = 0xa0a0a0a0a0a0a0a0n;

// The neutral boot interface lives in @gspkit/abi, where every ABI package implements it.
export type {
	BootAbi,
	DecodedWprMeta,
	LibosRegionFields,
	RmArgsFields,
	StructWriter,
	WprMetaCodec,
	WprMetaFields,
} from '@gspkit/abi';

/** Whether `x` implements {@link BootAbi}. */
export function isBootAbi(x: unknown): x is BootAbi {
	if (typeof x !== 'object' || x === null) return false;
	const o = x as Record<string, unknown>;
	const w = (k: string) => {
		const c = o[k] as Record<string, unknown> | undefined;
		return (
			typeof c === 'object' && c !== null && typeof c.encode === 'function' && typeof c.size === 'number'
		);
	};
	return typeof o.version === 'string' && w('wprMeta') && w('rmArgs') && w('libosRegion');
}

interface Scalar {
	readonly offset: number;
	readonly prim: PrimName;
	readonly size: number;
}

function scalarOf(layout: Layout, offset: number): Scalar | undefined {
	if (layout.kind !== 'prim') return undefined;
	return { offset, prim: layout.prim, size: layout.size };
}

/** Find a scalar field by name anywhere in a record (through anonymous members), depth first. */
function findField(layout: RecordLayout, name: string, base = 0): Scalar | undefined {
	for (const f of layout.fields) {
		if (f.name === name) {
			const s = scalarOf(f.layout, base + f.offset);
			if (s !== undefined) return s;
		}
	}
	for (const f of layout.fields) {
		if (f.layout.kind === 'struct' || f.layout.kind === 'union') {
			const s = findField(f.layout, name, base + f.offset);
			if (s !== undefined) return s;
		}
	}
	return undefined;
}

function pathField(layout: RecordLayout, path: string): Scalar | undefined {
	try {
		const loc = locate(layout, path);
		return loc.bits === undefined ? scalarOf(loc.layout, loc.offset) : undefined;
	} catch {
		return undefined;
	}
}

function writeScalar(
	dv: DataView,
	s: Scalar,
	value: bigint | number | boolean,
	at: number,
	what: string,
): void {
	const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
	const big = BigInt(v);
	const bits = BigInt(s.size * 8);
	if (big < 0n || big >> bits !== 0n) {
		throw new BootAbiError(`${what} = ${hex(big, 1)} does not fit its ${s.size}-byte field`, {
			field: what,
			value: hex(big, 1),
		});
	}
	const o = at + s.offset;
	switch (s.size) {
		case 1:
			dv.setUint8(o, Number(big));
			return;
		case 2:
			dv.setUint16(o, Number(big), true);
			return;
		case 4:
			dv.setUint32(o, Number(big), true);
			return;
		case 8:
			dv.setBigUint64(o, big, true);
			return;
		default:
			throw new BootAbiError(`${what}: unsupported field size ${s.size}`, { field: what });
	}
}

function readScalar(dv: DataView, s: Scalar, at: number): bigint {
	const o = at + s.offset;
	switch (s.size) {
		case 1:
			return BigInt(dv.getUint8(o));
		case 2:
			return BigInt(dv.getUint16(o, true));
		case 4:
			return BigInt(dv.getUint32(o, true));
		default:
			return dv.getBigUint64(o, true);
	}
}

const dvOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function checkDst(dst: Uint8Array, offset: number, size: number, what: string): void {
	if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > dst.length) {
		throw new BootAbiError(`${what}: ${size} bytes at ${offset} do not fit a ${dst.length}-byte buffer`, {
			offset,
			size,
			available: dst.length,
		});
	}
}

const WPR_META_U64_FIELDS = [
	'sysmemAddrOfRadix3Elf',
	'sizeOfRadix3Elf',
	'sysmemAddrOfBootloader',
	'sizeOfBootloader',
	'bootloaderCodeOffset',
	'bootloaderDataOffset',
	'bootloaderManifestOffset',
	'sysmemAddrOfSignature',
	'sizeOfSignature',
	'gspFwRsvdStart',
	'nonWprHeapOffset',
	'nonWprHeapSize',
	'gspFwWprStart',
	'gspFwHeapOffset',
	'gspFwHeapSize',
	'gspFwOffset',
	'bootBinOffset',
	'frtsOffset',
	'frtsSize',
	'gspFwWprEnd',
	'fbSize',
	'vgaWorkspaceOffset',
	'vgaWorkspaceSize',
	'bootCount',
] as const satisfies readonly (keyof WprMetaFields)[];

/** Build a {@link WprMetaCodec} from a `GspFwWprMeta` layout (fields found by C name, through anonymous unions). */
export function wprMetaCodecFromLayout(
	layout: RecordLayout,
	magic: bigint = GSP_FW_WPR_META_MAGIC,
	revision: bigint = GSP_FW_WPR_META_REVISION,
): WprMetaCodec {
	const required = ['magic', 'revision', 'verified', 'gspFwHeapVfPartitionCount', ...WPR_META_U64_FIELDS];
	const fields = new Map<string, Scalar>();
	const missing: string[] = [];
	for (const n of required) {
		const s = findField(layout, n);
		if (s === undefined) missing.push(n);
		else fields.set(n, s);
	}
	if (missing.length > 0) {
		throw new BootAbiError(`layout ${layout.name} lacks GspFwWprMeta field(s) ${missing.join(', ')}`, {
			missing,
		});
	}
	for (const n of ['pmuReservedSize', 'flags']) {
		const s = findField(layout, n);
		if (s !== undefined) fields.set(n, s);
	}
	const f = (n: string) => fields.get(n) as Scalar;
	return {
		size: layout.size,
		magic,
		revision,
		encode(v, dst, offset = 0) {
			checkDst(dst, offset, layout.size, 'GspFwWprMeta');
			dst.fill(0, offset, offset + layout.size);
			const dv = dvOf(dst);
			writeScalar(dv, f('magic'), magic, offset, 'magic');
			writeScalar(dv, f('revision'), revision, offset, 'revision');
			for (const n of WPR_META_U64_FIELDS) writeScalar(dv, f(n), v[n], offset, n);
			writeScalar(
				dv,
				f('gspFwHeapVfPartitionCount'),
				v.gspFwHeapVfPartitionCount,
				offset,
				'gspFwHeapVfPartitionCount',
			);
			const pmu = fields.get('pmuReservedSize');
			if (pmu !== undefined) writeScalar(dv, pmu, v.pmuReservedSize ?? 0, offset, 'pmuReservedSize');
			const flags = fields.get('flags');
			if (flags !== undefined) writeScalar(dv, flags, v.flags ?? 0, offset, 'flags');
		},
		decode(src, offset = 0) {
			checkDst(src, offset, layout.size, 'GspFwWprMeta');
			const dv = dvOf(src);
			const out: Record<string, bigint | number> = {};
			for (const n of WPR_META_U64_FIELDS) out[n] = readScalar(dv, f(n), offset);
			out.gspFwHeapVfPartitionCount = Number(readScalar(dv, f('gspFwHeapVfPartitionCount'), offset));
			const pmu = fields.get('pmuReservedSize');
			if (pmu !== undefined) out.pmuReservedSize = Number(readScalar(dv, pmu, offset));
			const flags = fields.get('flags');
			if (flags !== undefined) out.flags = Number(readScalar(dv, flags, offset));
			return {
				...(out as unknown as WprMetaFields),
				magic: readScalar(dv, f('magic'), offset),
				revision: readScalar(dv, f('revision'), offset),
				verified: readScalar(dv, f('verified'), offset),
			};
		},
	};
}

/** Build the RMARGS writer from a `GSP_ARGUMENTS_CACHED` layout (paths by C name). */
export function rmArgsWriterFromLayout(layout: RecordLayout): StructWriter<RmArgsFields> {
	const P = {
		shm: 'messageQueueInitArguments.sharedMemPhysAddr',
		ptes: 'messageQueueInitArguments.pageTableEntryCount',
		cmdq: 'messageQueueInitArguments.cmdQueueOffset',
		statq: 'messageQueueInitArguments.statQueueOffset',
		lcmdq: 'messageQueueInitArguments.locklessCmdQueueOffset',
		lstatq: 'messageQueueInitArguments.locklessStatQueueOffset',
		oldLevel: 'srInitArguments.oldLevel',
		srFlags: 'srInitArguments.flags',
		pm: 'srInitArguments.bInPMTransition',
		gpu: 'gpuInstance',
		dmemStack: 'bDmemStack',
		pa: 'profilerArgs.pa',
		psize: 'profilerArgs.size',
	} as const;
	const optional = new Set<string>(['lcmdq', 'lstatq', 'dmemStack']);
	const at = new Map<string, Scalar>();
	const missing: string[] = [];
	for (const [k, path] of Object.entries(P)) {
		const s = pathField(layout, path);
		if (s !== undefined) at.set(k, s);
		else if (!optional.has(k)) missing.push(path);
	}
	if (missing.length > 0) {
		throw new BootAbiError(
			`layout ${layout.name} lacks GSP_ARGUMENTS_CACHED field(s) ${missing.join(', ')}`,
			{ missing },
		);
	}
	return {
		size: layout.size,
		encode(v, dst, offset = 0) {
			checkDst(dst, offset, layout.size, 'GSP_ARGUMENTS_CACHED');
			dst.fill(0, offset, offset + layout.size);
			const dv = dvOf(dst);
			const put = (k: keyof typeof P, value: bigint | number | boolean | undefined) => {
				const s = at.get(k);
				if (s !== undefined && value !== undefined) writeScalar(dv, s, value, offset, P[k]);
			};
			const q = v.messageQueue;
			put('shm', q.sharedMemPhysAddr);
			put('ptes', q.pageTableEntryCount);
			put('cmdq', q.cmdQueueOffset);
			put('statq', q.statQueueOffset);
			put('lcmdq', q.locklessCmdQueueOffset ?? 0n);
			put('lstatq', q.locklessStatQueueOffset ?? 0n);
			put('oldLevel', v.srInit.oldLevel);
			put('srFlags', v.srInit.flags);
			put('pm', v.srInit.inPmTransition);
			put('gpu', v.gpuInstance);
			put('dmemStack', v.dmemStack ?? true);
			put('pa', v.profiler.pa);
			put('psize', v.profiler.size);
		},
	};
}

/** `LibosMemoryRegionInitArgument` with natural alignment (identical in r535 and r570), for ABIs without it. */
export const LibosMemoryRegionInitArgument = struct('LibosMemoryRegionInitArgument', [
	['id8', u64],
	['pa', u64],
	['size', u64],
	['kind', u8],
	['loc', u8],
]);

/** Build the LIBOS region writer from a `LibosMemoryRegionInitArgument` layout. */
export function libosRegionWriterFromLayout(layout: RecordLayout): StructWriter<LibosRegionFields> {
	const names = ['id8', 'pa', 'size', 'kind', 'loc'] as const;
	const at = new Map<string, Scalar>();
	for (const n of names) {
		const s = findField(layout, n);
		if (s === undefined)
			throw new BootAbiError(`layout ${layout.name} lacks LibosMemoryRegionInitArgument.${n}`, {
				missing: [n],
			});
		at.set(n, s);
	}
	return {
		size: layout.size,
		encode(v, dst, offset = 0) {
			checkDst(dst, offset, layout.size, 'LibosMemoryRegionInitArgument');
			dst.fill(0, offset, offset + layout.size);
			const dv = dvOf(dst);
			for (const n of names) writeScalar(dv, at.get(n) as Scalar, v[n], offset, n);
		},
	};
}

/**
 * A {@link BootAbi} from a layout manifest: `GspFwWprMeta`, `GSP_ARGUMENTS_CACHED` and (if present, else the
 * built-in natural layout) `LibosMemoryRegionInitArgument`; the magic and revision from the manifest's
 * `GSP_FW_WPR_META_MAGIC`/`_REVISION` constants when it has them.
 * @throws BootAbiError naming what is missing.
 */
export function bootAbiFromManifest(manifest: LayoutManifest, version: string): BootAbi {
	const layout = (name: string, required: boolean): RecordLayout | undefined => {
		if (!manifest.types.some((t) => t.name === name)) {
			if (required)
				throw new BootAbiError(`the ${version} ABI manifest has no struct ${name}`, { version, type: name });
			return undefined;
		}
		try {
			return layoutFromManifest(name, manifest);
		} catch (e) {
			throw new BootAbiError(
				`the ${version} ABI manifest's ${name} cannot be used`,
				{ version, type: name },
				e,
			);
		}
	};
	const consts = constantsOf(manifest);
	const magic = consts.get('GSP_FW_WPR_META_MAGIC');
	const revision = consts.get('GSP_FW_WPR_META_REVISION');
	return {
		version,
		wprMeta: wprMetaCodecFromLayout(
			layout('GspFwWprMeta', true) as RecordLayout,
			typeof magic === 'bigint' ? magic : GSP_FW_WPR_META_MAGIC,
			typeof revision === 'bigint' ? revision : GSP_FW_WPR_META_REVISION,
		),
		rmArgs: rmArgsWriterFromLayout(layout('GSP_ARGUMENTS_CACHED', true) as RecordLayout),
		libosRegion: libosRegionWriterFromLayout(
			layout('LibosMemoryRegionInitArgument', false) ?? LibosMemoryRegionInitArgument,
		),
	};
}

/**
 * The boot's view of a firmware ABI, in order of preference: the ABI itself when it is a {@link BootAbi};
 * its `subInterfaces.boot` when that is one (the `@gspkit/abi-rNNN` packages provide it); else one derived
 * from its layout manifest ({@link bootAbiFromManifest}).
 * @throws BootAbiError
 */
export function bootAbiOf(abi: FirmwareAbi | BootAbi): BootAbi {
	if (isBootAbi(abi)) return abi;
	const sub = (abi.subInterfaces as Record<string, unknown>).boot;
	if (isBootAbi(sub)) return sub;
	return bootAbiFromManifest(abi.manifest, abi.version);
}
