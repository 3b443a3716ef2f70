/**
 * RM's object tree as GSP-RM keeps it: clients (each its own parent), devices, subdevices, VA spaces,
 * memory, channels and the engine objects under them, with the parent/child rules of RM's resource list and
 * the NV_STATUS codes RM returns, in the order RM checks them (OpenRM `rmapi/alloc_free.c`,
 * `libraries/resserv`): class, parameter size, client, parent, single instance, parent class, handle,
 * then the class's constructor.
 *
 * @module
 */

import type { DecodedStruct, GspRmAbi } from './abi.ts';
import {
	channelRegistration,
	type GspChannelEvent,
	type GspChannelSink,
	memoryDescAperture,
	type VaSpaceRecord,
	vaSpacePdb,
} from './channels.ts';
import { type GspChipConfig, type GspEngine, gspEngines } from './chip-config.ts';
import {
	EXTRA_CLASSES,
	NV_STATUS,
	RS_CLIENT_HANDLE_BASE,
	RS_CLIENT_INTERNAL_HANDLE_BASE,
	RS_UNIQUE_HANDLE_BASE,
} from './constants.ts';
import { type FbLayout, RangeAllocator } from './fb-layout.ts';
import type { MemoryDesc, RmChannelInfo } from './rm-channel-info.ts';

/** What an RM object is, which decides its parents and controls. */
export type RmObjectKind =
	| 'client'
	| 'device'
	| 'subdevice'
	| 'vaspace'
	| 'memory-local'
	| 'memory-system'
	| 'memory-virtual'
	| 'channel'
	| 'usermode'
	| 'copy'
	| 'graphics'
	| 'compute';

export type { MemoryDesc, RmChannelInfo } from './rm-channel-info.ts';

/** One object of the tree. */
export interface RmObject {
	readonly handle: number;
	readonly classId: number;
	readonly kind: RmObjectKind;
	/** The parent (a client's parent is itself). */
	readonly parent: RmObject;
	readonly client: RmClient;
	readonly children: RmObject[];
	/** Kind-specific state. */
	readonly data: Record<string, unknown>;
}

/** A client: its root object and every object it owns, by handle. */
export interface RmClient {
	readonly handle: number;
	readonly internal: boolean;
	readonly objects: Map<number, RmObject>;
	root: RmObject;
	genIndex: number;
}

/** Result of an RM call: the NV_STATUS and, on success, anything written back. */
export interface RmResult {
	readonly status: number;
	readonly hObject?: number;
}

interface ClassDesc {
	readonly kind: RmObjectKind;
	readonly parents: readonly RmObjectKind[];
	/** Parameter struct, or `undefined` for a class without parameters. */
	readonly params: string | undefined;
	/** Whether `paramsSize` 0 (no parameters) is accepted. */
	readonly optional: boolean;
	/** Other accepted parameter sizes. */
	readonly otherSizes?: readonly number[];
}

/** The handles of the objects GSP-RM creates for itself at boot (reported in the static info). */
export interface InternalHandles {
	readonly hClient: number;
	readonly hDevice: number;
	readonly hSubdevice: number;
}

const MAX_CHID = 2048;

function bits(v: number, hi: number, lo: number): number {
	return Math.floor(v / 2 ** lo) % 2 ** (hi - lo + 1);
}

/** The RM server: clients, classes of this chip and branch, and the resources objects hold. */
export class RmServer {
	readonly abi: GspRmAbi;
	readonly chip: GspChipConfig;
	readonly engines: readonly GspEngine[];
	readonly fb: FbLayout;
	readonly clients = new Map<number, RmClient>();
	readonly internal: InternalHandles;
	readonly #classes = new Map<number, ClassDesc>();
	readonly #heap: RangeAllocator;
	/** Channel IDs in use, per runlist. */
	readonly #chids = new Map<number, Set<number>>();
	#clientIndex = 0;
	/** Where channel changes go (the host engine, possibly in another thread); unset, they are dropped. */
	onChannelEvent: GspChannelSink | undefined;

	constructor(abi: GspRmAbi, chip: GspChipConfig, fb: FbLayout) {
		this.abi = abi;
		this.chip = chip;
		this.engines = gspEngines(chip);
		this.fb = fb;
		this.#heap = new RangeAllocator(fb.heapStart, fb.heapEnd);
		this.#buildClasses();
		this.internal = this.#createInternalObjects();
	}

	#buildClasses(): void {
		const { abi } = this;
		const add = (name: string, d: ClassDesc) => {
			const id = abi.classes[name] ?? (EXTRA_CLASSES as Readonly<Record<string, number>>)[name];
			if (id !== undefined) this.#classes.set(id, d);
		};
		const client: ClassDesc = {
			kind: 'client',
			parents: [],
			params: 'NV0000_ALLOC_PARAMETERS',
			optional: true,
		};
		add('NV01_ROOT', client);
		add('NV01_ROOT_NON_PRIV', client);
		add('NV01_ROOT_CLIENT', client);
		add('NV01_DEVICE_0', {
			kind: 'device',
			parents: ['client'],
			params: 'NV0080_ALLOC_PARAMETERS',
			optional: false,
		});
		add('NV20_SUBDEVICE_0', {
			kind: 'subdevice',
			parents: ['device'],
			params: 'NV2080_ALLOC_PARAMETERS',
			optional: true,
		});
		add('FERMI_VASPACE_A', {
			kind: 'vaspace',
			parents: ['device'],
			params: 'NV_VASPACE_ALLOCATION_PARAMETERS',
			optional: true,
		});
		add('NV01_MEMORY_LOCAL_USER', {
			kind: 'memory-local',
			parents: ['device', 'subdevice'],
			params: 'NV_MEMORY_ALLOCATION_PARAMS',
			optional: false,
		});
		add('NV01_MEMORY_SYSTEM', {
			kind: 'memory-system',
			parents: ['device', 'subdevice'],
			params: 'NV_MEMORY_ALLOCATION_PARAMS',
			optional: false,
		});
		add('NV01_MEMORY_VIRTUAL', {
			kind: 'memory-virtual',
			parents: ['device'],
			params: 'NV_MEMORY_VIRTUAL_ALLOCATION_PARAMS',
			optional: true,
		});
		const c = this.chip.classes;
		for (const n of c.channel) {
			add(n, { kind: 'channel', parents: ['device'], params: 'NV_CHANNEL_ALLOC_PARAMS', optional: false });
		}
		for (const n of c.usermode) {
			// NV_HOPPER_USERMODE_A_PARAMS {NvBool bBar1Mapping; NvBool bPriv;} is 2 bytes.
			const otherSizes = n === 'HOPPER_USERMODE_A' ? [2] : [];
			add(n, { kind: 'usermode', parents: ['subdevice'], params: undefined, optional: true, otherSizes });
		}
		for (const n of c.copy) {
			add(n, { kind: 'copy', parents: ['channel'], params: 'NVC0B5_ALLOCATION_PARAMETERS', optional: false });
		}
		for (const n of c.graphics)
			add(n, { kind: 'graphics', parents: ['channel'], params: undefined, optional: true });
		for (const n of c.compute)
			add(n, { kind: 'compute', parents: ['channel'], params: undefined, optional: true });
	}

	/** Whether `classId` is a class this chip's RM can allocate. */
	supportsClass(classId: number): boolean {
		return this.#classes.has(classId);
	}

	#createInternalObjects(): InternalHandles {
		const hClient = (RS_CLIENT_INTERNAL_HANDLE_BASE | 1) >>> 0;
		const c = this.#newClient(hClient, this.abi.classId('NV01_ROOT'), true);
		const device = this.#insert(
			c,
			c.root,
			RS_UNIQUE_HANDLE_BASE + c.genIndex++,
			this.abi.classId('NV01_DEVICE_0'),
			'device',
			{
				deviceId: 0,
			},
		);
		const sub = this.#insert(
			c,
			device,
			RS_UNIQUE_HANDLE_BASE + c.genIndex++,
			this.abi.classId('NV20_SUBDEVICE_0'),
			'subdevice',
			{
				subDeviceId: 0,
			},
		);
		return { hClient, hDevice: device.handle, hSubdevice: sub.handle };
	}

	#newClient(handle: number, classId: number, internal: boolean): RmClient {
		const client = {
			handle,
			internal,
			objects: new Map<number, RmObject>(),
			genIndex: 0,
		} as unknown as RmClient;
		const root: RmObject = {
			handle,
			classId,
			kind: 'client',
			get parent() {
				return root;
			},
			client,
			children: [],
			data: {},
		};
		client.root = root;
		client.objects.set(handle, root);
		this.clients.set(handle, client);
		return client;
	}

	#insert(
		client: RmClient,
		parent: RmObject,
		handle: number,
		classId: number,
		kind: RmObjectKind,
		data: Record<string, unknown>,
	): RmObject {
		const obj: RmObject = { handle, classId, kind, parent, client, children: [], data };
		parent.children.push(obj);
		client.objects.set(handle, obj);
		return obj;
	}

	/** The object `hObject` of client `hClient`, if both exist. */
	lookup(hClient: number, hObject: number): RmObject | undefined {
		return this.clients.get(hClient)?.objects.get(hObject);
	}

	/** Every channel that exists, with its RM record (for device models and tests). */
	channels(): { readonly hClient: number; readonly hObject: number; readonly info: RmChannelInfo }[] {
		const out: { hClient: number; hObject: number; info: RmChannelInfo }[] = [];
		for (const c of this.clients.values()) {
			for (const o of c.objects.values()) {
				if (o.kind === 'channel')
					out.push({ hClient: c.handle, hObject: o.handle, info: o.data as unknown as RmChannelInfo });
			}
		}
		return out;
	}

	/** Number of objects across all clients (roots included). */
	get objectCount(): number {
		let n = 0;
		for (const c of this.clients.values()) n += c.objects.size;
		return n;
	}

	// ───────────────────────────── alloc ─────────────────────────────

	/**
	 * `GSP_RM_ALLOC`: create object `hObject` of class `hClass` under `hParent` in client `hClient`.
	 * `params` is updated in place with what RM writes back (e.g. a memory object's offset).
	 */
	alloc(hClient: number, hParent: number, hObject: number, hClass: number, params: Uint8Array): RmResult {
		const desc = this.#classes.get(hClass);
		if (desc === undefined) return { status: NV_STATUS.NV_ERR_INVALID_CLASS };
		const sizeStatus = this.#checkParamsSize(desc, params.length);
		if (sizeStatus !== NV_STATUS.NV_OK) return { status: sizeStatus };
		const p =
			desc.params !== undefined && params.length > 0 ? this.abi.decode(desc.params, params) : undefined;
		if (desc.kind === 'client') return this.#allocClient(hClient, hObject, hClass, params, p);

		const client = this.clients.get(hClient);
		if (client === undefined) return { status: NV_STATUS.NV_ERR_INVALID_CLIENT };
		const parent = hParent === 0 ? client.root : client.objects.get(hParent);
		if (parent === undefined) return { status: NV_STATUS.NV_ERR_OBJECT_NOT_FOUND };
		if (!desc.parents.includes(parent.kind)) return { status: NV_STATUS.NV_ERR_INVALID_OBJECT_PARENT };
		let handle = hObject;
		if (handle === 0) {
			do handle = RS_UNIQUE_HANDLE_BASE + client.genIndex++;
			while (client.objects.has(handle));
		} else if (handle === hClient) {
			return { status: NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE };
		} else if (client.objects.has(handle)) {
			return { status: NV_STATUS.NV_ERR_INSERT_DUPLICATE_NAME };
		}
		const built = this.#construct(desc.kind, client, parent, p, params);
		if (typeof built === 'number') return { status: built };
		const obj = this.#insert(client, parent, handle, hClass, desc.kind, built);
		if (desc.kind === 'channel') this.#registerChannel(obj, p!);
		if (desc.kind === 'copy' && parent.kind === 'channel') {
			const info = parent.data as unknown as RmChannelInfo;
			this.#emit({ type: 'engine-class', chid: info.chid, runlistId: info.runlist, classId: hClass });
		}
		return { status: NV_STATUS.NV_OK, hObject: handle };
	}

	#emit(e: GspChannelEvent): void {
		this.onChannelEvent?.(e);
	}

	#registerChannel(obj: RmObject, p: DecodedStruct): void {
		const info = obj.data as unknown as RmChannelInfo;
		const vas = info.hVASpace === 0 ? undefined : obj.client.objects.get(info.hVASpace);
		const [hi, lo] = this.abi.bitRange('NVOS04_FLAGS_PRIVILEGED_CHANNEL') ?? [5, 5];
		const privileged =
			bits(p.flags as number, hi, lo) === (this.abi.constant('NVOS04_FLAGS_PRIVILEGED_CHANNEL_TRUE') ?? 1);
		this.#emit({
			type: 'register',
			registration: channelRegistration({
				info,
				classId: obj.classId,
				privileged,
				pdb: vaSpacePdb(this.chip, vas?.data as VaSpaceRecord | undefined),
				tag: { gspRm: true, hClient: obj.client.handle, hChannel: obj.handle },
			}),
		});
	}

	/** BIND / GPFIFO_SCHEDULE changed a channel: it may run once it is bound and scheduled. */
	channelStateChanged(info: RmChannelInfo): void {
		this.#emit({
			type: 'enable',
			chid: info.chid,
			runlistId: info.runlist,
			enabled: info.bound && info.scheduled,
		});
	}

	/** The channel on runlist `runlist` with CHID `chid`, with its RM handles. */
	findChannel(
		runlist: number,
		chid: number,
	): { readonly hClient: number; readonly hObject: number; readonly info: RmChannelInfo } | undefined {
		return this.channels().find((c) => c.info.runlist === runlist && c.info.chid === chid);
	}

	#checkParamsSize(desc: ClassDesc, size: number): number {
		if (size === 0) return desc.optional ? NV_STATUS.NV_OK : NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		if (desc.otherSizes?.includes(size)) return NV_STATUS.NV_OK;
		if (desc.params === undefined) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		return size === this.abi.sizeOf(desc.params) ? NV_STATUS.NV_OK : NV_STATUS.NV_ERR_INVALID_ARGUMENT;
	}

	#allocClient(
		hClient: number,
		hObject: number,
		hClass: number,
		params: Uint8Array,
		p: DecodedStruct | undefined,
	): RmResult {
		if (hClient !== 0 && hObject !== 0 && hClient !== hObject) {
			return { status: NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE };
		}
		let handle = hObject !== 0 ? hObject : hClient;
		if (handle === 0) {
			do handle = (RS_CLIENT_HANDLE_BASE | (this.#clientIndex++ & 0xfffff)) >>> 0;
			while (this.clients.has(handle));
		}
		if (this.clients.has(handle)) return { status: NV_STATUS.NV_ERR_INSERT_DUPLICATE_NAME };
		if ((handle & 0xfff0_0000) >>> 0 === RS_CLIENT_INTERNAL_HANDLE_BASE) {
			// RM reserves the internal-client range for itself.
			return { status: NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE };
		}
		const client = this.#newClient(handle, hClass, false);
		client.root.data.processID = p?.processID;
		client.root.data.processName = p?.processName;
		if (p !== undefined) this.abi.image('NV0000_ALLOC_PARAMETERS', params).set('hClient', handle);
		return { status: NV_STATUS.NV_OK, hObject: handle };
	}

	#construct(
		kind: RmObjectKind,
		client: RmClient,
		parent: RmObject,
		p: DecodedStruct | undefined,
		raw: Uint8Array,
	): Record<string, unknown> | number {
		const { abi } = this;
		switch (kind) {
			case 'device': {
				const deviceId = p!.deviceId as number;
				if (deviceId !== 0) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				for (const o of client.root.children) {
					if (o.kind === 'device' && o.data.deviceId === deviceId) return NV_STATUS.NV_ERR_STATE_IN_USE;
				}
				return { deviceId, vaMode: p!.vaMode, vaSpaceSize: p!.vaSpaceSize, flags: p!.flags };
			}
			case 'subdevice': {
				const subDeviceId = (p?.subDeviceId as number | undefined) ?? 0;
				if (subDeviceId !== 0) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				if (parent.children.some((o) => o.kind === 'subdevice')) return NV_STATUS.NV_ERR_STATE_IN_USE;
				return { subDeviceId };
			}
			case 'vaspace': {
				const bigPageSize = (p?.bigPageSize as number | undefined) ?? 0;
				if (bigPageSize !== 0 && bigPageSize !== 0x1_0000 && bigPageSize !== 0x2_0000) {
					return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				}
				const flags = (p?.flags as number | undefined) ?? 0;
				const external = this.abi.constant('NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED') ?? 0x8;
				return {
					index: p?.index ?? 0,
					flags,
					vaBase: p?.vaBase ?? 0n,
					vaSize: p?.vaSize ?? 0n,
					bigPageSize,
					externallyOwned: (flags & external) !== 0,
					serverReservedPdes: undefined,
					externalPdb: undefined,
				};
			}
			case 'memory-local':
			case 'memory-system': {
				const size = p!.size as bigint;
				const alignment = p!.alignment as bigint;
				if (size === 0n) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				if (alignment !== 0n && (alignment & (alignment - 1n)) !== 0n)
					return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				const page = 0x1000n;
				const rounded = ((size + page - 1n) / page) * page;
				let offset = 0n;
				if (kind === 'memory-local') {
					const at = this.#heap.alloc(rounded, alignment > page ? alignment : 0x1_0000n);
					if (at === undefined) return NV_STATUS.NV_ERR_NO_MEMORY;
					offset = at;
				}
				abi
					.image('NV_MEMORY_ALLOCATION_PARAMS', raw)
					.set('size', rounded)
					.set('offset', offset)
					.set('limit', offset + rounded - 1n);
				return { size: rounded, offset, attr: p!.attr, flags: p!.flags };
			}
			case 'memory-virtual': {
				const hVASpace = (p?.hVASpace as number | undefined) ?? 0;
				if (hVASpace !== 0) {
					const vas = client.objects.get(hVASpace);
					if (vas === undefined || vas.kind !== 'vaspace' || vas.parent !== parent) {
						return NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE;
					}
					// OpenRM gvaspaceAlloc: RM reserves no VA in a VA space whose page tables are the client's.
					if ((vas.data as unknown as VaSpaceRecord).externallyOwned) return NV_STATUS.NV_ERR_NOT_SUPPORTED;
				}
				const offset = (p?.offset as bigint | undefined) ?? 0n;
				const limit = (p?.limit as bigint | undefined) ?? 0n;
				if (p !== undefined && limit < offset) return NV_STATUS.NV_ERR_INVALID_LIMIT;
				return { hVASpace, offset, limit };
			}
			case 'channel':
				return this.#constructChannel(client, parent, p!);
			case 'copy': {
				const engineType = p!.engineType as number;
				const ce = this.engines.find((e) => e.devType === 0x13 && this.nv2080EngineType(e) === engineType);
				if (ce === undefined) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
				return { version: p!.version, engineType, engineName: ce.name };
			}
			case 'usermode':
			case 'graphics':
			case 'compute':
				return {};
			case 'client':
				return NV_STATUS.NV_ERR_INVALID_CLASS;
		}
	}

	/** `NV2080_ENGINE_TYPE_*` value of an engine in this branch. */
	nv2080EngineType(e: GspEngine): number {
		return this.abi.constant(`NV2080_ENGINE_TYPE_${e.nv2080EngineType}`) ?? -1;
	}

	#constructChannel(client: RmClient, device: RmObject, p: DecodedStruct): Record<string, unknown> | number {
		const hVASpace = p.hVASpace as number;
		if (hVASpace !== 0) {
			const vas = client.objects.get(hVASpace);
			if (vas === undefined || vas.kind !== 'vaspace' || vas.parent !== device) {
				return NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE;
			}
			// OpenRM kernel_ctxshare.c: a channel in an externally owned VA space needs the root SET_PAGE_DIRECTORY
			// gave first — RM has no other page directory to program.
			const rec = vas.data as unknown as VaSpaceRecord;
			if (rec.externallyOwned && rec.externalPdb === undefined) return NV_STATUS.NV_ERR_INVALID_STATE;
		}
		const entries = p.gpFifoEntries as number;
		if (entries < 2 || (entries & (entries - 1)) !== 0) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		// The host fetches the ring through the MMU with 40-bit pushbuffer addresses (reference C.1).
		const gpFifoOffset = p.gpFifoOffset as bigint;
		if (gpFifoOffset % 8n !== 0n || gpFifoOffset + BigInt(entries) * 8n > 1n << 40n) {
			return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		}
		const engineType = p.engineType as number;
		const engine = this.engines.find((e) => this.nv2080EngineType(e) === engineType);
		if (engine === undefined) return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		const flags = p.flags as number;
		const used = this.#chids.get(engine.runlist) ?? new Set<number>();
		let chid: number;
		if (bits(flags, 11, 11) === 1 && bits(flags, 21, 21) === 1) {
			chid = bits(flags, 20, 12) * 8 + bits(flags, 10, 8);
			if (used.has(chid)) return NV_STATUS.NV_ERR_IN_USE;
		} else {
			chid = 0;
			while (used.has(chid)) chid++;
		}
		if (chid >= MAX_CHID) return NV_STATUS.NV_ERR_INSUFFICIENT_RESOURCES;
		used.add(chid);
		this.#chids.set(engine.runlist, used);
		const desc = (name: string): MemoryDesc => {
			const d = p[name] as DecodedStruct;
			return {
				base: d.base as bigint,
				size: d.size as bigint,
				addressSpace: d.addressSpace as number,
				cacheAttrib: d.cacheAttrib as number,
			};
		};
		// The instance block is 4 KiB aligned (reference B.5), USERD 512 bytes (C.3); both in FB or system memory.
		const inst = desc('instanceMem');
		const userd = desc('userdMem');
		if (
			memoryDescAperture(inst) === undefined ||
			memoryDescAperture(userd) === undefined ||
			inst.base % 0x1000n !== 0n ||
			userd.base % 0x200n !== 0n
		) {
			used.delete(chid);
			return NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		}
		const info: RmChannelInfo = {
			chid,
			runlist: engine.runlist,
			engineType,
			engineName: engine.name,
			hVASpace,
			gpFifoOffset: p.gpFifoOffset as bigint,
			gpFifoEntries: entries,
			instanceMem: inst,
			userdMem: userd,
			ramfcMem: desc('ramfcMem'),
			mthdbufMem: desc('mthdbufMem'),
			hUserdMemory: (p.hUserdMemory as Uint32Array)[0] ?? 0,
			userdOffset: (p.userdOffset as BigUint64Array)[0] ?? 0n,
			bound: false,
			scheduled: false,
		};
		return info as unknown as Record<string, unknown>;
	}

	// ───────────────────────────── free ─────────────────────────────

	/**
	 * `FREE` (NVOS00): free `hObject` and everything below it (children first, newest first). Freeing the
	 * client handle frees the whole client. A handle that does not exist frees nothing and succeeds, as RM
	 * built with `RS_COMPATABILITY_MODE` does.
	 */
	free(hClient: number, hObject: number): RmResult {
		const client = this.clients.get(hClient);
		if (client === undefined) return { status: NV_STATUS.NV_ERR_INVALID_CLIENT };
		const obj = client.objects.get(hObject);
		if (obj === undefined) return { status: NV_STATUS.NV_OK };
		this.#freeTree(obj);
		if (obj.kind === 'client') this.clients.delete(client.handle);
		else {
			const siblings = obj.parent.children;
			siblings.splice(siblings.indexOf(obj), 1);
		}
		return { status: NV_STATUS.NV_OK };
	}

	#freeTree(obj: RmObject): void {
		for (const child of [...obj.children].reverse()) this.#freeTree(child);
		obj.children.length = 0;
		if (obj.kind === 'memory-local') this.#heap.free(obj.data.offset as bigint);
		if (obj.kind === 'channel') {
			const info = obj.data as unknown as RmChannelInfo;
			this.#chids.get(info.runlist)?.delete(info.chid);
			this.#emit({ type: 'unregister', chid: info.chid, runlistId: info.runlist });
		}
		if (obj.kind === 'copy' && obj.parent.kind === 'channel') {
			const info = obj.parent.data as unknown as RmChannelInfo;
			this.#emit({ type: 'engine-class', chid: info.chid, runlistId: info.runlist, classId: undefined });
		}
		obj.client.objects.delete(obj.handle);
	}

	/** Bytes of RM's client heap in use (for leak checks). */
	get heapUsed(): bigint {
		return this.#heap.used;
	}
}
