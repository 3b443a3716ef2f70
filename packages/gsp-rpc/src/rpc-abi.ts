/**
 * What gsp-rpc needs from a firmware ABI ({@link RpcAbi}), and its compiled, allocation-free form
 * ({@link RpcWire}: byte offsets resolved once from the ABI's layouts).
 *
 * gsp-rpc never names a firmware version. Every struct layout, function/event number and sequencer opcode it
 * uses comes from the ABI handed in at run time; an `@gspkit/abi-rNNN` package satisfies {@link RpcAbi} by
 * carrying the layouts under the neutral names of {@link RPC_LAYOUT_TYPES} (or {@link rpcAbiFromFirmwareAbi}
 * finds them in its manifest by C type name).
 *
 * @module
 */

import {
	constantsOf,
	type FirmwareAbi,
	type Layout,
	type LayoutManifest,
	layoutFromManifest,
	locate,
	type RecordLayout,
	RPC_EVENT_NAMES,
	RPC_FUNCTION_NAMES,
	type RpcEventTable,
	type RpcFunctionTable,
} from '@gspkit/abi';
import { GSP_MSG_MAX_PAGES, GSP_PAGE_SIZE, RPC_FIRST_EVENT_ID } from './constants.ts';
import { RpcError } from './errors.ts';
import { NV_STATUS, type NvStatusIndex, nvStatusIndex } from './nv-status.ts';

/**
 * The layouts gsp-rpc uses, by neutral name, with the C type each one is in NVIDIA's headers (identical in
 * r535.113.01 and r570.144). An ABI package puts them in `FirmwareAbi.layouts` under these neutral names.
 */
export const RPC_LAYOUT_TYPES = {
	/** `msgqTxHeader` (32 B): version, size, msgSize, msgCount, writePtr, flags, rxHdrOff, entryOff. */
	msgqTxHeader: 'msgqTxHeader',
	/** `msgqRxHeader` (4 B): readPtr. */
	msgqRxHeader: 'msgqRxHeader',
	/** `GSP_MSG_QUEUE_ELEMENT`: authTag, aad, checkSum, seqNum, elemCount, pad, then `rpc` (the RPC header). */
	queueElement: 'GSP_MSG_QUEUE_ELEMENT',
	/** `rpc_message_header_v03_00` (32 B + data[]). */
	rpcHeader: 'rpc_message_header_v03_00',
	/** `rpc_gsp_rm_alloc_v03_00` (32 B + params[]). */
	rmAlloc: 'rpc_gsp_rm_alloc_v03_00',
	/** `rpc_gsp_rm_control_v03_00` (24 B + params[]). */
	rmControl: 'rpc_gsp_rm_control_v03_00',
	/** `rpc_free_v03_00` = `{ NVOS00_PARAMETERS_v03_00 params }`. */
	free: 'rpc_free_v03_00',
	/** `rpc_run_cpu_sequencer_v17_00` (40 B + commandBuffer[]). */
	runCpuSequencer: 'rpc_run_cpu_sequencer_v17_00',
	/** `PACKED_REGISTRY_TABLE` (8 B + entries[]). */
	registryTable: 'PACKED_REGISTRY_TABLE',
	/** `PACKED_REGISTRY_ENTRY` (16 B). */
	registryEntry: 'PACKED_REGISTRY_ENTRY',
	/** `GSP_SEQ_BUF_PAYLOAD_REG_WRITE` {addr, val}. */
	seqRegWrite: 'GSP_SEQ_BUF_PAYLOAD_REG_WRITE',
	/** `GSP_SEQ_BUF_PAYLOAD_REG_MODIFY` {addr, mask, val}. */
	seqRegModify: 'GSP_SEQ_BUF_PAYLOAD_REG_MODIFY',
	/** `GSP_SEQ_BUF_PAYLOAD_REG_POLL` {addr, mask, val, timeout, error}. */
	seqRegPoll: 'GSP_SEQ_BUF_PAYLOAD_REG_POLL',
	/** `GSP_SEQ_BUF_PAYLOAD_DELAY_US` {val}. */
	seqDelayUs: 'GSP_SEQ_BUF_PAYLOAD_DELAY_US',
	/** `GSP_SEQ_BUF_PAYLOAD_REG_STORE` {addr, index}. */
	seqRegStore: 'GSP_SEQ_BUF_PAYLOAD_REG_STORE',
} as const;

/** A neutral layout name gsp-rpc uses. */
export type RpcLayoutName = keyof typeof RPC_LAYOUT_TYPES;

/** The layouts of {@link RPC_LAYOUT_TYPES}, by neutral name. */
export type RpcLayouts = { readonly [K in RpcLayoutName]: RecordLayout };

/** The nine RUN_CPU_SEQUENCER opcodes (`GSP_SEQ_BUF_OPCODE_*` without the prefix), in numeric order. */
export const SEQUENCER_OPCODE_NAMES = [
	'REG_WRITE',
	'REG_MODIFY',
	'REG_POLL',
	'DELAY_US',
	'REG_STORE',
	'CORE_RESET',
	'CORE_START',
	'CORE_WAIT_FOR_HALT',
	'CORE_RESUME',
] as const;

/** A sequencer opcode name. */
export type SequencerOpcodeName = (typeof SEQUENCER_OPCODE_NAMES)[number];

/** Sequencer opcode values by name. */
export type SequencerOpcodeTable = Readonly<Record<SequencerOpcodeName, number>>;

/**
 * The narrow view of a firmware ABI that gsp-rpc needs. A `FirmwareAbi` whose `layouts` include
 * {@link RpcLayouts} is almost one; {@link rpcAbiFromFirmwareAbi} completes it from the manifest.
 */
export interface RpcAbi {
	/** Firmware version, for diagnostics (`'535.113.01'`). */
	readonly version: string;
	/** Function numbers by neutral name (at least `RPC_FUNCTION_NAMES`; any other `NV_VGPU_MSG_FUNCTION_*` may be added). */
	readonly functions: RpcFunctionTable;
	/** Event numbers by neutral name (at least `RPC_EVENT_NAMES`; others may be added). Renumbered between branches. */
	readonly events: RpcEventTable;
	/** The struct layouts of {@link RPC_LAYOUT_TYPES}. */
	readonly layouts: RpcLayouts;
	/** `GSP_SEQ_BUF_OPCODE` values. */
	readonly sequencerOpcodes: SequencerOpcodeTable;
	/** NV_STATUS values by name; default {@link NV_STATUS} (the public SDK table). */
	readonly nvStatus?: Readonly<Record<string, number>>;
}

/** Byte offsets of the `msgqTxHeader` fields. */
export interface TxHeaderWire {
	readonly size: number;
	readonly version: number;
	readonly qsize: number;
	readonly msgSize: number;
	readonly msgCount: number;
	readonly writePtr: number;
	readonly flags: number;
	readonly rxHdrOff: number;
	readonly entryOff: number;
}

/**
 * An {@link RpcAbi} compiled to plain byte offsets, so the hot path reads and writes `DataView`/`Int32Array`
 * slots directly. Build with {@link compileRpcAbi} (cached per ABI object).
 */
export interface RpcWire {
	readonly abi: RpcAbi;
	readonly version: string;
	readonly tx: TxHeaderWire;
	readonly rx: { readonly size: number; readonly readPtr: number };
	/** Element header: `headerSize` = offset of the RPC header (48). */
	readonly elem: {
		readonly headerSize: number;
		readonly checkSum: number;
		readonly seqNum: number;
		readonly elemCount: number;
	};
	/** RPC header: `size` = its fixed part (32), where the payload starts. */
	readonly rpc: {
		readonly size: number;
		readonly headerVersion: number;
		readonly signature: number;
		readonly length: number;
		readonly function: number;
		readonly result: number;
		readonly resultPrivate: number;
		readonly sequence: number;
	};
	readonly rmAlloc: {
		readonly size: number;
		readonly hClient: number;
		readonly hParent: number;
		readonly hObject: number;
		readonly hClass: number;
		readonly status: number;
		readonly paramsSize: number;
		readonly flags: number;
	};
	readonly rmControl: {
		readonly size: number;
		readonly hClient: number;
		readonly hObject: number;
		readonly cmd: number;
		readonly status: number;
		readonly paramsSize: number;
		readonly flags: number;
	};
	readonly free: {
		readonly size: number;
		readonly hRoot: number;
		readonly hObjectParent: number;
		readonly hObjectOld: number;
		readonly status: number;
	};
	readonly sequencer: {
		readonly size: number;
		readonly bufferSizeDWord: number;
		readonly cmdIndex: number;
		readonly regSaveArea: number;
		readonly regSaveCount: number;
		readonly commandBuffer: number;
		/** Payload dwords per opcode value. */
		readonly payloadDwords: ReadonlyMap<number, number>;
		/** Opcode name per value. */
		readonly opcodeName: ReadonlyMap<number, SequencerOpcodeName>;
		readonly payload: {
			readonly regWrite: { readonly addr: number; readonly val: number };
			readonly regModify: { readonly addr: number; readonly mask: number; readonly val: number };
			readonly regPoll: {
				readonly addr: number;
				readonly mask: number;
				readonly val: number;
				readonly timeout: number;
				readonly error: number;
			};
			readonly delayUs: { readonly val: number };
			readonly regStore: { readonly addr: number; readonly index: number };
		};
	};
	readonly registry: {
		readonly tableSize: number;
		readonly size: number;
		readonly numEntries: number;
		readonly entrySize: number;
		readonly nameOffset: number;
		readonly type: number;
		readonly data: number;
		readonly length: number;
	};
	/** Largest payload of one element: 16 pages − element header − RPC header (65456). */
	readonly maxPayloadPerElement: number;
	/** Function number by name (every name the ABI numbers). */
	readonly functions: ReadonlyMap<string, number>;
	/** Function name by number. */
	readonly functionNames: ReadonlyMap<number, string>;
	/** Event number by name. */
	readonly events: ReadonlyMap<string, number>;
	/** Event name by number. */
	readonly eventNames: ReadonlyMap<number, string>;
	readonly continuationRecord: number;
	readonly nvStatus: NvStatusIndex;
}

function abiError(message: string, details: Readonly<Record<string, unknown>> = {}): RpcError {
	return new RpcError('RPC_ABI', message, { errno: 'EINVAL', details });
}

function fixedSize(l: RecordLayout): number {
	return l.kind === 'struct' && l.tail !== undefined ? l.tail.offset : l.size;
}

const INT_PRIMS = new Set(['u8', 'u16', 'u32', 'i8', 'i16', 'i32']);

/** Offset of the first path that resolves to a 32-bit integer (or `prims`) field of `layout`. */
function field(
	abiVersion: string,
	name: RpcLayoutName,
	layout: RecordLayout,
	paths: readonly string[],
	prims: readonly string[] = ['u32', 'i32'],
): number {
	for (const p of paths) {
		let loc: ReturnType<typeof locate>;
		try {
			loc = locate(layout, p);
		} catch {
			continue;
		}
		const l: Layout = loc.layout;
		if (l.kind !== 'prim' || loc.bits !== undefined || !prims.includes(l.prim) || !INT_PRIMS.has(l.prim)) {
			throw abiError(
				`ABI ${abiVersion}: ${name}.${p} must be a ${prims.join('/')} field, found ${l.kind === 'prim' ? l.prim : l.kind}`,
				{ layout: name, field: p },
			);
		}
		return loc.offset;
	}
	throw abiError(`ABI ${abiVersion}: ${name} (${layout.name}) has no field ${paths.join(' / ')}`, {
		layout: name,
		field: paths[0],
	});
}

function lookupTable(
	kind: 'function' | 'event',
	table: Readonly<Record<string, number | undefined>>,
): [Map<string, number>, Map<number, string>] {
	const byName = new Map<string, number>();
	const byId = new Map<number, string>();
	for (const [name, id] of Object.entries(table)) {
		if (id === undefined) continue;
		if (!Number.isSafeInteger(id) || id < 0 || id > 0xffffffff) {
			throw abiError(`${kind} ${name} = ${String(id)} is not a u32`, { name });
		}
		byName.set(name, id);
		if (!byId.has(id)) byId.set(id, name);
	}
	return [byName, byId];
}

const CACHE = new WeakMap<RpcAbi, RpcWire>();

/**
 * Compile an {@link RpcAbi}: resolve every field gsp-rpc touches to a byte offset and check its type, check the
 * required function/event numbers and the sequencer opcodes. Problems are `RPC_ABI` errors naming the layout
 * and field. Cached per ABI object.
 */
export function compileRpcAbi(abi: RpcAbi): RpcWire {
	const cached = CACHE.get(abi);
	if (cached !== undefined) return cached;
	const v = abi.version;
	const L = abi.layouts;
	if (L === undefined || typeof L !== 'object') throw abiError(`ABI ${v}: layouts missing`);
	for (const name of Object.keys(RPC_LAYOUT_TYPES) as RpcLayoutName[]) {
		const l = L[name];
		if (l === undefined || (l.kind !== 'struct' && l.kind !== 'union')) {
			throw abiError(`ABI ${v}: layout ${name} (${RPC_LAYOUT_TYPES[name]}) is missing`, { layout: name });
		}
	}
	const f = (name: RpcLayoutName, paths: readonly string[], prims?: readonly string[]): number =>
		field(v, name, L[name], paths, prims);

	const tx: TxHeaderWire = {
		size: L.msgqTxHeader.size,
		version: f('msgqTxHeader', ['version']),
		qsize: f('msgqTxHeader', ['size']),
		msgSize: f('msgqTxHeader', ['msgSize']),
		msgCount: f('msgqTxHeader', ['msgCount']),
		writePtr: f('msgqTxHeader', ['writePtr']),
		flags: f('msgqTxHeader', ['flags']),
		rxHdrOff: f('msgqTxHeader', ['rxHdrOff']),
		entryOff: f('msgqTxHeader', ['entryOff']),
	};
	const rx = { size: L.msgqRxHeader.size, readPtr: f('msgqRxHeader', ['readPtr']) };
	if (tx.writePtr % 4 !== 0 || rx.readPtr % 4 !== 0) {
		throw abiError(`ABI ${v}: queue pointers must be 4-byte aligned for atomic publication`);
	}
	const rpcField = L.queueElement.fields.find((x) => x.name === 'rpc');
	if (rpcField === undefined)
		throw abiError(`ABI ${v}: queueElement has no rpc member`, { layout: 'queueElement' });
	const elem = {
		headerSize: rpcField.offset,
		checkSum: f('queueElement', ['checkSum']),
		seqNum: f('queueElement', ['seqNum']),
		elemCount: f('queueElement', ['elemCount']),
	};
	const rpcSize = fixedSize(L.rpcHeader);
	const rpc = {
		size: rpcSize,
		headerVersion: f('rpcHeader', ['header_version']),
		signature: f('rpcHeader', ['signature']),
		length: f('rpcHeader', ['length']),
		function: f('rpcHeader', ['function']),
		result: f('rpcHeader', ['rpc_result']),
		resultPrivate: f('rpcHeader', ['rpc_result_private']),
		sequence: f('rpcHeader', ['sequence']),
	};
	// The element's nested header must be the RPC header layout (same offsets).
	const nested = f('queueElement', ['rpc.function']) - elem.headerSize;
	if (nested !== rpc.function) {
		throw abiError(
			`ABI ${v}: queueElement.rpc does not match rpcHeader (function at ${nested} vs ${rpc.function})`,
		);
	}
	if (elem.headerSize % 8 !== 0 || rpcSize % 4 !== 0 || elem.headerSize + rpcSize >= GSP_PAGE_SIZE) {
		throw abiError(`ABI ${v}: element header ${elem.headerSize} B + RPC header ${rpcSize} B is not usable`);
	}
	const rmAlloc = {
		size: fixedSize(L.rmAlloc),
		hClient: f('rmAlloc', ['hClient']),
		hParent: f('rmAlloc', ['hParent']),
		hObject: f('rmAlloc', ['hObject']),
		hClass: f('rmAlloc', ['hClass']),
		status: f('rmAlloc', ['status']),
		paramsSize: f('rmAlloc', ['paramsSize']),
		flags: f('rmAlloc', ['flags']),
	};
	const rmControl = {
		size: fixedSize(L.rmControl),
		hClient: f('rmControl', ['hClient']),
		hObject: f('rmControl', ['hObject']),
		cmd: f('rmControl', ['cmd']),
		status: f('rmControl', ['status']),
		paramsSize: f('rmControl', ['paramsSize']),
		flags: f('rmControl', ['flags']),
	};
	const free = {
		size: fixedSize(L.free),
		hRoot: f('free', ['params.hRoot', 'hRoot']),
		hObjectParent: f('free', ['params.hObjectParent', 'hObjectParent']),
		hObjectOld: f('free', ['params.hObjectOld', 'hObjectOld']),
		status: f('free', ['params.status', 'status']),
	};
	const seqL = L.runCpuSequencer;
	const regSave = locate(seqL, 'regSaveArea');
	if (
		regSave.layout.kind !== 'array' ||
		regSave.layout.element.kind !== 'prim' ||
		regSave.layout.element.size !== 4
	) {
		throw abiError(`ABI ${v}: runCpuSequencer.regSaveArea must be a u32 array`, {
			layout: 'runCpuSequencer',
		});
	}
	const cb = seqL.fields.find((x) => x.name === 'commandBuffer');
	if (cb === undefined || cb.offset % 4 !== 0) {
		throw abiError(`ABI ${v}: runCpuSequencer.commandBuffer missing or misaligned`, {
			layout: 'runCpuSequencer',
		});
	}
	const ops = abi.sequencerOpcodes;
	const opcodeName = new Map<number, SequencerOpcodeName>();
	const payloadDwords = new Map<number, number>();
	const payloadLayout: Partial<Record<SequencerOpcodeName, RpcLayoutName>> = {
		REG_WRITE: 'seqRegWrite',
		REG_MODIFY: 'seqRegModify',
		REG_POLL: 'seqRegPoll',
		DELAY_US: 'seqDelayUs',
		REG_STORE: 'seqRegStore',
	};
	for (const name of SEQUENCER_OPCODE_NAMES) {
		const value = ops?.[name];
		if (value === undefined || !Number.isSafeInteger(value) || value < 0) {
			throw abiError(`ABI ${v}: sequencer opcode ${name} is missing`, { opcode: name });
		}
		if (opcodeName.has(value))
			throw abiError(`ABI ${v}: sequencer opcodes share value ${value}`, { opcode: name });
		opcodeName.set(value, name);
		const pl = payloadLayout[name];
		const bytes = pl === undefined ? 0 : L[pl].size;
		if (bytes % 4 !== 0) throw abiError(`ABI ${v}: ${pl} is not a whole number of dwords`);
		payloadDwords.set(value, bytes / 4);
	}
	const sequencer = {
		size: fixedSize(seqL),
		bufferSizeDWord: f('runCpuSequencer', ['bufferSizeDWord']),
		cmdIndex: f('runCpuSequencer', ['cmdIndex']),
		regSaveArea: regSave.offset,
		regSaveCount: regSave.layout.length,
		commandBuffer: cb.offset,
		payloadDwords,
		opcodeName,
		payload: {
			regWrite: { addr: f('seqRegWrite', ['addr']), val: f('seqRegWrite', ['val']) },
			regModify: {
				addr: f('seqRegModify', ['addr']),
				mask: f('seqRegModify', ['mask']),
				val: f('seqRegModify', ['val']),
			},
			regPoll: {
				addr: f('seqRegPoll', ['addr']),
				mask: f('seqRegPoll', ['mask']),
				val: f('seqRegPoll', ['val']),
				timeout: f('seqRegPoll', ['timeout']),
				error: f('seqRegPoll', ['error']),
			},
			delayUs: { val: f('seqDelayUs', ['val']) },
			regStore: { addr: f('seqRegStore', ['addr']), index: f('seqRegStore', ['index']) },
		},
	};
	const registry = {
		tableSize: fixedSize(L.registryTable),
		size: f('registryTable', ['size']),
		numEntries: f('registryTable', ['numEntries']),
		entrySize: L.registryEntry.size,
		nameOffset: f('registryEntry', ['nameOffset']),
		type: f('registryEntry', ['type'], ['u8']),
		data: f('registryEntry', ['data']),
		length: f('registryEntry', ['length']),
	};
	const [functions, functionNames] = lookupTable('function', abi.functions);
	const [events, eventNames] = lookupTable('event', abi.events);
	for (const name of RPC_FUNCTION_NAMES) {
		const id = functions.get(name);
		if (id === undefined || id >= RPC_FIRST_EVENT_ID)
			throw abiError(`ABI ${v}: function ${name} is not numbered`);
	}
	for (const name of RPC_EVENT_NAMES) {
		const id = events.get(name);
		if (id === undefined || id < RPC_FIRST_EVENT_ID)
			throw abiError(`ABI ${v}: event ${name} is not numbered`);
	}
	const wire: RpcWire = {
		abi,
		version: v,
		tx,
		rx,
		elem,
		rpc,
		rmAlloc,
		rmControl,
		free,
		sequencer,
		registry,
		maxPayloadPerElement: GSP_MSG_MAX_PAGES * GSP_PAGE_SIZE - elem.headerSize - rpcSize,
		functions,
		functionNames,
		events,
		eventNames,
		continuationRecord: functions.get('CONTINUATION_RECORD')!,
		nvStatus: nvStatusIndex(abi.nvStatus ?? NV_STATUS),
	};
	CACHE.set(abi, Object.freeze(wire));
	return wire;
}

const FN_PREFIX = 'NV_VGPU_MSG_FUNCTION_';
const EV_PREFIX = 'NV_VGPU_MSG_EVENT_';
const OP_PREFIX = 'GSP_SEQ_BUF_OPCODE_';

function prefixed(
	manifest: LayoutManifest,
	group: string,
	prefix: string,
	skip: readonly string[],
): Record<string, number> {
	const out: Record<string, number> = {};
	for (const [name, value] of constantsOf(manifest, group)) {
		if (typeof value !== 'bigint' || !name.startsWith(prefix)) continue;
		const short = name.slice(prefix.length);
		if (skip.includes(short)) continue;
		out[short] = Number(value);
	}
	return out;
}

function layoutsFrom(manifest: LayoutManifest, given: Readonly<Record<string, Layout>> = {}): RpcLayouts {
	const out: Partial<Record<RpcLayoutName, RecordLayout>> = {};
	for (const [neutral, ctype] of Object.entries(RPC_LAYOUT_TYPES) as [RpcLayoutName, string][]) {
		const mine = given[neutral];
		if (mine !== undefined && (mine.kind === 'struct' || mine.kind === 'union')) {
			out[neutral] = mine;
			continue;
		}
		try {
			out[neutral] = layoutFromManifest(ctype, manifest);
		} catch (e) {
			throw abiError(
				`ABI ${manifest.abi ?? '?'}: no layout ${neutral} and no type ${ctype} in the manifest`,
				{
					layout: neutral,
					cause: (e as Error).message,
				},
			);
		}
	}
	return out as RpcLayouts;
}

function nvStatusFrom(manifest: LayoutManifest): Readonly<Record<string, number>> | undefined {
	const out: Record<string, number> = {};
	let n = 0;
	for (const [name, value] of constantsOf(manifest)) {
		if (typeof value === 'bigint' && /^NV_(OK|ERR_|WARN_)/.test(name)) {
			out[name] = Number(value);
			n++;
		}
	}
	return n > 0 ? { ...NV_STATUS, ...out } : undefined;
}

/**
 * Build an {@link RpcAbi} straight from a layout manifest (what `abi-gen` emits): layouts by C type name,
 * functions/events from the `rpc-function`/`rpc-event` constants (`NV_VGPU_MSG_FUNCTION_`/`_EVENT_` prefixes
 * dropped), opcodes from `seq-opcode`. Useful for tests and for ABI packages that want no hand-written table.
 */
export function rpcAbiFromManifest(manifest: LayoutManifest, version = manifest.abi ?? 'unknown'): RpcAbi {
	const functions = prefixed(manifest, 'rpc-function', FN_PREFIX, ['NUM_FUNCTIONS']);
	const events = prefixed(manifest, 'rpc-event', EV_PREFIX, ['FIRST_EVENT', 'NUM_EVENTS']);
	const ops = prefixed(manifest, 'seq-opcode', OP_PREFIX, []);
	const nvStatus = nvStatusFrom(manifest);
	return {
		version,
		functions: functions as unknown as RpcFunctionTable,
		events: events as unknown as RpcEventTable,
		layouts: layoutsFrom(manifest),
		sequencerOpcodes: ops as unknown as SequencerOpcodeTable,
		...(nvStatus === undefined ? {} : { nvStatus }),
	};
}

/**
 * The {@link RpcAbi} of a `FirmwareAbi`: its function/event tables, the layouts it carries under the neutral
 * names of {@link RPC_LAYOUT_TYPES} (others are taken from its manifest by C type name), opcodes from its
 * `sequencer` sub-interface's `opcodes` table or else the manifest's `seq-opcode` constants. Throws `RPC_ABI`
 * when something is missing.
 */
export function rpcAbiFromFirmwareAbi(abi: FirmwareAbi): RpcAbi {
	// A `sequencer` sub-interface with an `opcodes` table wins; else the manifest's seq-opcode constants.
	const sub = (abi.subInterfaces as Readonly<Record<string, { opcodes?: unknown }>>).sequencer?.opcodes;
	const fromSub =
		typeof sub === 'object' &&
		sub !== null &&
		SEQUENCER_OPCODE_NAMES.every((n) => typeof (sub as Record<string, unknown>)[n] === 'number');
	const ops = fromSub ? (sub as Record<string, number>) : prefixed(abi.manifest, 'seq-opcode', OP_PREFIX, []);
	const nvStatus = nvStatusFrom(abi.manifest);
	const rpcAbi: RpcAbi = {
		version: abi.version,
		functions: abi.functions,
		events: abi.events,
		layouts: layoutsFrom(abi.manifest, abi.layouts),
		sequencerOpcodes: ops as unknown as SequencerOpcodeTable,
		...(nvStatus === undefined ? {} : { nvStatus }),
	};
	compileRpcAbi(rpcAbi);
	return rpcAbi;
}
