/**
 * The firmware ABI the simulated GSP-RM speaks: a thin adapter over the generated `@gspkit/abi-r535` and
 * `@gspkit/abi-r570` packages (layouts from the gcc-computed manifest, function/event/class/control IDs
 * from the generated tables) and the `@gspkit/abi` codec. The emulator asks it for everything that differs
 * between branches, so one emulator serves both.
 *
 * @module
 */

import {
	type Accessor,
	accessor,
	decode,
	i32,
	type LayoutManifest,
	layoutFromManifest,
	locate,
	type RecordLayout,
	sizeof,
	struct,
	u32,
	u64,
} from '@gspkit/abi';
import { generated as g535, manifest as m535 } from '@gspkit/abi-r535';
import { generated as g570, manifest as m570 } from '@gspkit/abi-r570';
import { EXTRA_CLASSES, EXTRA_CONTROLS } from './constants.ts';
import { GspRmError } from './errors.ts';

/** The firmware versions the emulator can be booted with. */
export const GSP_RM_FIRMWARE_VERSIONS = ['535.113.01', '570.144'] as const;

/** One of {@link GSP_RM_FIRMWARE_VERSIONS}. */
export type GspRmFirmwareVersion = (typeof GSP_RM_FIRMWARE_VERSIONS)[number];

/** Whether `v` is a firmware version the emulator speaks. */
export function isGspRmFirmwareVersion(v: unknown): v is GspRmFirmwareVersion {
	return typeof v === 'string' && (GSP_RM_FIRMWARE_VERSIONS as readonly string[]).includes(v);
}

type NumberTable = Readonly<Record<string, number>>;
type ConstantTable = Readonly<Record<string, number | bigint | string>>;

interface Branch {
	readonly manifest: LayoutManifest;
	readonly functions: NumberTable;
	readonly events: NumberTable;
	readonly seqOpcodes: NumberTable;
	readonly classes: NumberTable;
	readonly controls: NumberTable;
	readonly engineTypes: NumberTable;
	readonly enums: Readonly<Record<string, NumberTable>>;
	readonly constants: ConstantTable;
}

const BRANCHES: Readonly<Record<GspRmFirmwareVersion, Branch>> = {
	'535.113.01': {
		manifest: m535,
		functions: g535.functions,
		events: g535.events,
		seqOpcodes: g535.seqOpcodes,
		classes: g535.classes,
		controls: g535.controls,
		engineTypes: g535.engineTypes,
		enums: g535.enums,
		constants: g535.constants,
	},
	'570.144': {
		manifest: m570,
		functions: g570.functions,
		events: g570.events,
		seqOpcodes: g570.seqOpcodes,
		classes: g570.classes,
		controls: g570.controls,
		engineTypes: g570.engineTypes,
		enums: g570.enums,
		constants: g570.constants,
	},
};

/**
 * Parameter layouts RM uses that the generated headers do not carry, computed with gcc's rules by the abi
 * runtime from the published C declarations (OpenRM `nvos.h`, `cl0070.h`, `clc36f.h`).
 */
const LOCAL_LAYOUTS: Readonly<Record<string, RecordLayout>> = {
	NV_MEMORY_ALLOCATION_PARAMS: struct('NV_MEMORY_ALLOCATION_PARAMS', [
		['owner', u32],
		['type', u32],
		['flags', u32],
		['width', u32],
		['height', u32],
		['pitch', i32],
		['attr', u32],
		['attr2', u32],
		['format', u32],
		['comprCovg', u32],
		['zcullCovg', u32],
		['rangeLo', u64],
		['rangeHi', u64],
		['size', u64],
		['alignment', u64],
		['offset', u64],
		['limit', u64],
		['address', u64],
		['ctagOffset', u32],
		['hVASpace', u32],
		['internalflags', u32],
		['tag', u32],
		['numaNode', i32],
	]),
	NV_MEMORY_VIRTUAL_ALLOCATION_PARAMS: struct('NV_MEMORY_VIRTUAL_ALLOCATION_PARAMS', [
		['offset', u64],
		['limit', u64],
		['hVASpace', u32],
	]),
	NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS: struct(
		'NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS',
		[['workSubmitToken', u32]],
	),
};

/** A decoded struct, loosely typed (the layouts are data, chosen at run time). */
export type DecodedStruct = Record<string, unknown>;

/**
 * A fixed-size byte image of one struct with path-addressed field writes: the emulator builds replies
 * (static info, control parameters) this way so it never depends on the whole value shape.
 */
export class StructImage {
	readonly bytes: Uint8Array;
	readonly #abi: GspRmAbi;
	readonly #name: string;
	readonly #dv: DataView;

	constructor(abi: GspRmAbi, name: string, bytes?: Uint8Array) {
		this.#abi = abi;
		this.#name = name;
		this.bytes = bytes ?? new Uint8Array(abi.sizeOf(name));
		this.#dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
	}

	/** Write a scalar field, e.g. `set('tpcInfo[1].tpcMask', 0x3f)`. */
	set(path: string, value: number | bigint | boolean): this {
		this.#abi.accessor(this.#name, path).set(this.#dv, value);
		return this;
	}

	/** Read a scalar field. */
	get<T = number | bigint | boolean | string>(path: string): T {
		return this.#abi.accessor(this.#name, path).get(this.#dv) as T;
	}

	/** Copy raw bytes into an array/struct field, truncated to the field's size. */
	setBytes(path: string, bytes: Uint8Array): this {
		const { offset, size } = this.#abi.fieldSpan(this.#name, path);
		this.bytes.set(bytes.subarray(0, size), offset);
		return this;
	}

	/** Write a NUL-terminated Latin-1 string into a `char[]`/`u8[]` field (truncated, always terminated). */
	setString(path: string, s: string): this {
		const { offset, size } = this.#abi.fieldSpan(this.#name, path);
		const n = Math.min(s.length, size - 1);
		for (let i = 0; i < size; i++) this.bytes[offset + i] = i < n ? s.charCodeAt(i) & 0xff : 0;
		return this;
	}

	/** Write a NUL-terminated UTF-16LE string into a `u16[]` field. */
	setUtf16(path: string, s: string): this {
		const { offset, size } = this.#abi.fieldSpan(this.#name, path);
		const n = Math.min(s.length, size / 2 - 1);
		for (let i = 0; i < size / 2; i++) this.#dv.setUint16(offset + 2 * i, i < n ? s.charCodeAt(i) : 0, true);
		return this;
	}
}

/**
 * The ABI of one firmware version, as the emulator uses it: layouts by C name, ID tables both ways, and a
 * few helpers. Instances are cached per version ({@link gspRmAbi}).
 */
export class GspRmAbi {
	readonly version: GspRmFirmwareVersion;
	/** `'r535'` or `'r570'`. */
	readonly branch: 'r535' | 'r570';
	readonly manifest: LayoutManifest;
	readonly functions: NumberTable;
	readonly events: NumberTable;
	/** `GSP_SEQ_BUF_OPCODE_*` without the prefix. */
	readonly seqOpcodes: NumberTable;
	readonly classes: NumberTable;
	readonly controls: NumberTable;
	readonly engineTypes: NumberTable;
	readonly enums: Readonly<Record<string, NumberTable>>;
	readonly constants: ConstantTable;
	readonly #layouts = new Map<string, RecordLayout>();
	readonly #accessors = new Map<string, Accessor<number | bigint | boolean | string>>();
	readonly #functionNames = new Map<number, string>();
	readonly #eventNames = new Map<number, string>();

	constructor(version: GspRmFirmwareVersion) {
		const b = BRANCHES[version];
		if (b === undefined) {
			throw new GspRmError('SIM_GSP_RM_ABI', `the GSP-RM emulator does not speak firmware ${version}`, {
				version,
				known: [...GSP_RM_FIRMWARE_VERSIONS],
			});
		}
		this.version = version;
		this.branch = version.startsWith('535.') ? 'r535' : 'r570';
		this.manifest = b.manifest;
		this.functions = b.functions;
		this.events = b.events;
		this.seqOpcodes = b.seqOpcodes;
		this.classes = b.classes;
		this.controls = b.controls;
		this.engineTypes = b.engineTypes;
		this.enums = b.enums;
		this.constants = b.constants;
		for (const [name, id] of Object.entries(b.functions)) {
			if (name !== 'NUM_FUNCTIONS' && !this.#functionNames.has(id)) this.#functionNames.set(id, name);
		}
		for (const [name, id] of Object.entries(b.events)) {
			if (name !== 'NUM_EVENTS' && name !== 'FIRST_EVENT' && !this.#eventNames.has(id)) {
				this.#eventNames.set(id, name);
			}
		}
	}

	/** The layout of a C struct by name (from the manifest, or a local declaration). */
	layout(name: string): RecordLayout {
		let l = this.#layouts.get(name);
		if (l === undefined) {
			const local = LOCAL_LAYOUTS[name];
			if (local !== undefined) l = local;
			else if (this.manifest.types.some((t) => t.name === name)) l = layoutFromManifest(name, this.manifest);
			else {
				throw new GspRmError('SIM_GSP_RM_ABI', `firmware ${this.version} has no struct ${name}`, {
					version: this.version,
					name,
				});
			}
			this.#layouts.set(name, l);
		}
		return l;
	}

	/** Whether the ABI has a struct of that name. */
	hasLayout(name: string): boolean {
		return LOCAL_LAYOUTS[name] !== undefined || this.manifest.types.some((t) => t.name === name);
	}

	/** `sizeof(name)`. */
	sizeOf(name: string): number {
		return sizeof(this.layout(name));
	}

	/** Offset and size of the field at `path` in struct `name`. */
	fieldSpan(name: string, path: string): { readonly offset: number; readonly size: number } {
		const loc = locate(this.layout(name), path);
		return { offset: loc.offset, size: loc.layout.size };
	}

	/** `offsetof(name, path)`. */
	offsetOf(name: string, path: string): number {
		return locate(this.layout(name), path).offset;
	}

	/** A cached scalar accessor for `name.path`. */
	accessor(name: string, path: string): Accessor<number | bigint | boolean | string> {
		const key = `${name}\u0000${path}`;
		let a = this.#accessors.get(key);
		if (a === undefined) {
			a = accessor(this.layout(name), path);
			this.#accessors.set(key, a);
		}
		return a;
	}

	/** Decode struct `name` from `bytes` at `offset` (a flexible tail takes `length` bytes if given). */
	decode(name: string, bytes: Uint8Array, offset = 0, length?: number): DecodedStruct {
		return decode(
			this.layout(name),
			bytes,
			offset,
			length === undefined ? { snapshot: false } : { length, snapshot: false },
		) as DecodedStruct;
	}

	/** A zeroed, writable image of struct `name`. */
	image(name: string, bytes?: Uint8Array): StructImage {
		return new StructImage(this, name, bytes);
	}

	/** The name of RPC function `id` (`NV_VGPU_MSG_FUNCTION_*` without the prefix), if any. */
	functionName(id: number): string | undefined {
		return this.#functionNames.get(id);
	}

	/** The name of event `id` (`NV_VGPU_MSG_EVENT_*` without the prefix), if any. */
	eventName(id: number): string | undefined {
		return this.#eventNames.get(id);
	}

	/** RPC function ID by name. @throws GspRmError if this branch has no such function. */
	functionId(name: string): number {
		const id = this.functions[name];
		if (id === undefined) {
			throw new GspRmError('SIM_GSP_RM_ABI', `firmware ${this.version} has no RPC function ${name}`, {
				name,
			});
		}
		return id;
	}

	/** Event ID by name, or `undefined` if this branch has no such event. */
	eventId(name: string): number | undefined {
		return name === 'NUM_EVENTS' || name === 'FIRST_EVENT' ? undefined : this.events[name];
	}

	/** Class ID by name (generated table, then the memory/root classes the tables lack). */
	classId(name: string): number {
		const id = this.classes[name] ?? (EXTRA_CLASSES as Readonly<Record<string, number>>)[name];
		if (id === undefined) throw new GspRmError('SIM_GSP_RM_ABI', `unknown class ${name}`, { name });
		return id;
	}

	/**
	 * Control ID by name: this branch's table, then the other branch's (control IDs are stable across
	 * branches except the one reference §3 lists), then the emulator's own list.
	 */
	controlId(name: string): number {
		const id =
			this.controls[name] ??
			BRANCHES[this.version === '535.113.01' ? '570.144' : '535.113.01'].controls[name] ??
			(EXTRA_CONTROLS as Readonly<Record<string, number>>)[name];
		if (id === undefined) throw new GspRmError('SIM_GSP_RM_ABI', `unknown control ${name}`, { name });
		return id;
	}

	/** `RM_ENGINE_TYPE_<name>` of this branch (the numbering changed in r570). */
	engineType(name: string): number {
		const v = this.engineTypes[name];
		if (v === undefined) throw new GspRmError('SIM_GSP_RM_ABI', `unknown RM engine type ${name}`, { name });
		return v;
	}

	/** A numeric constant of this branch (`#define`s and `MC_ENGINE_IDX_*`), or `undefined`. */
	constant(name: string): number | undefined {
		const v = this.constants[name];
		return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
	}

	/** A `#define NAME hi:lo` bit range of this branch (e.g. `NVOS04_FLAGS_PRIVILEGED_CHANNEL`), or `undefined`. */
	bitRange(name: string): readonly [number, number] | undefined {
		const v = (this.constants as Readonly<Record<string, unknown>>)[name];
		return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')
			? [v[0] as number, v[1] as number]
			: undefined;
	}

	/** A value of an enumeration, e.g. `enumValue('ENGINE_INFO_TYPE', 'ENGINE_INFO_TYPE_RUNLIST')`. */
	enumValue(enumName: string, name: string): number {
		const v = this.enums[enumName]?.[name];
		if (v === undefined) throw new GspRmError('SIM_GSP_RM_ABI', `unknown enumerator ${enumName}.${name}`);
		return v;
	}
}

const CACHE = new Map<GspRmFirmwareVersion, GspRmAbi>();

/** The (cached) ABI of `version`. @throws GspRmError `SIM_GSP_RM_ABI` for an unknown version. */
export function gspRmAbi(version: GspRmFirmwareVersion): GspRmAbi {
	let abi = CACHE.get(version);
	if (abi === undefined) {
		abi = new GspRmAbi(version);
		CACHE.set(version, abi);
	}
	return abi;
}
