/**
 * `DrmClient`: one open DRM file on a gspkit-drm server, with libdrm-like ioctl wrappers.
 *
 * `ioctl(code, arg, arrays)` is the raw path (kernel request code, kernel struct bytes, the arrays the
 * struct points to); `call(name, fields, arrays)` encodes and decodes the struct with the uAPI layouts of
 * `@gspkit/drm-frontend`; the typed helpers (`gemNew`, `vmBind`, `exec`, `syncobjWait`, …) build the arrays
 * too. A `-errno` reply is thrown as a {@link DrmError}; the `try…` variants return it instead.
 *
 * @module
 */

import { accessor } from '@gspkit/abi';
import {
	type DeepPartial,
	DRM_CLOEXEC,
	DRM_IOCTL,
	DRM_NOUVEAU_SYNC_SYNCOBJ,
	DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ,
	DRM_NOUVEAU_VM_BIND_RUN_ASYNC,
	DRM_RDWR,
	DRM_SYNCOBJ_CREATE_SIGNALED,
	IOCTL_DEFS,
	type IoctlArgMap,
	type IoctlDef,
	type IoctlName,
	iocFields,
	NOUVEAU_FIFO_ENGINE_GR,
	NOUVEAU_GETPARAM_PTIMER_TIME,
	type NouveauChannelAlloc,
	type NouveauGemInfo,
	nouveauExecPush,
	nouveauSync,
	nouveauVmBindOp,
	structCodec,
} from '@gspkit/drm-frontend';
import { type ConnectOptions, DrmConnection, type DrmNode } from './connection.ts';
import { DrmClientError, DrmError } from './errors.ts';
import {
	carriedIn,
	carriedOut,
	FrameKind,
	type PointerField,
	pointerFields,
	REQUEST_HEADER_SIZE,
} from './protocol.ts';

/** An array argument: bytes for arrays the kernel reads, a byte count (or bytes) for ones it only writes. */
export type ArrayArg = Uint8Array | number | undefined;

/** What a raw ioctl returned. */
export interface IoctlReply {
	/** 0 on success, else the positive errno number. */
	readonly errno: number;
	/** The argument struct as the kernel copied it back (your pointer values restored). */
	readonly arg: Uint8Array;
	/** Per pointer field: the bytes the kernel wrote (out arrays) or the bytes you sent (in arrays). */
	readonly arrays: readonly (Uint8Array | undefined)[];
}

/** A decoded {@link IoctlReply}. */
export interface CallReply<K extends IoctlName> {
	/** 0 on success, else the positive errno number. */
	readonly errno: number;
	/** The decoded argument struct. */
	readonly arg: IoctlArgMap[K];
	/** As {@link IoctlReply.arrays}. */
	readonly arrays: readonly (Uint8Array | undefined)[];
}

/** A syncobj reference for VM_BIND/EXEC: binary (no point) or a timeline point. */
export interface SyncRef {
	/** Syncobj handle. */
	readonly handle: number;
	/** Timeline point; present → `DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ`, absent → binary. */
	readonly point?: bigint;
	/** Raw `flags` (the sync type); overrides what `point` implies (to test bad types). */
	readonly flags?: number;
}

/** One VM_BIND operation. */
export interface VmBindOp {
	/** `DRM_NOUVEAU_VM_BIND_OP_MAP` (0) or `_UNMAP` (1). */
	readonly op: number;
	/** `DRM_NOUVEAU_VM_BIND_SPARSE` and the PTE kind in the low byte. */
	readonly flags?: number;
	/** GEM handle (MAP of a backed range). */
	readonly handle?: number;
	/** Must be 0 (tests may set it). */
	readonly pad?: number;
	/** GPU virtual address. */
	readonly addr: bigint;
	/** Offset into the object. */
	readonly boOffset?: bigint;
	/** Bytes. */
	readonly range: bigint;
}

/** One EXEC push. */
export interface ExecPush {
	/** GPU virtual address of the pushbuffer segment. */
	readonly va: bigint;
	/** Its length in bytes. */
	readonly length: number;
	/** `DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH`. */
	readonly flags?: number;
}

/** What VERSION reports. */
export interface DrmVersionInfo {
	/** Major version. */
	readonly major: number;
	/** Minor version. */
	readonly minor: number;
	/** Patch level. */
	readonly patchlevel: number;
	/** Driver name (`nouveau`). */
	readonly name: string;
	/** Driver date. */
	readonly date: string;
	/** Description. */
	readonly desc: string;
}

/** Options of syncobj waits. */
export interface WaitOptions {
	/** Absolute deadline on the device clock in ns (PTIMER_TIME); default 0 = poll. */
	readonly timeoutNs?: bigint;
	/** `DRM_SYNCOBJ_WAIT_FLAGS_*`. */
	readonly flags?: number;
	/** Deadline hint (with WAIT_DEADLINE). */
	readonly deadlineNs?: bigint;
}

/** Options of {@link openDrm}. */
export interface OpenDrmOptions extends ConnectOptions {
	/** Device node (default render). */
	readonly node?: DrmNode;
}

/** Largest pread/pwrite chunk the helpers send in one request. */
export const RW_CHUNK = 8 << 20;

const enc = new TextDecoder();

/** `count` u32 values, little-endian. */
export function u32Array(values: ArrayLike<number>): Uint8Array {
	const out = new Uint8Array(values.length * 4);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < values.length; i++) dv.setUint32(i * 4, (values[i] as number) >>> 0, true);
	return out;
}

/** `count` u64 values, little-endian. */
export function u64Array(values: ArrayLike<bigint>): Uint8Array {
	const out = new Uint8Array(values.length * 8);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < values.length; i++)
		dv.setBigUint64(i * 8, BigInt.asUintN(64, values[i] as bigint), true);
	return out;
}

/** Decode little-endian u64 values. */
export function readU64s(bytes: Uint8Array): bigint[] {
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const out: bigint[] = [];
	for (let i = 0; i + 8 <= bytes.length; i += 8) out.push(dv.getBigUint64(i, true));
	return out;
}

const SYNC_FLAGS = accessor<number>(nouveauSync, 'flags');
const SYNC_HANDLE = accessor<number>(nouveauSync, 'handle');
const SYNC_POINT = accessor<bigint>(nouveauSync, 'timeline_value');
const OP_OP = accessor<number>(nouveauVmBindOp, 'op');
const OP_FLAGS = accessor<number>(nouveauVmBindOp, 'flags');
const OP_HANDLE = accessor<number>(nouveauVmBindOp, 'handle');
const OP_PAD = accessor<number>(nouveauVmBindOp, 'pad');
const OP_ADDR = accessor<bigint>(nouveauVmBindOp, 'addr');
const OP_BO_OFFSET = accessor<bigint>(nouveauVmBindOp, 'bo_offset');
const OP_RANGE = accessor<bigint>(nouveauVmBindOp, 'range');
const PUSH_VA = accessor<bigint>(nouveauExecPush, 'va');
const PUSH_LEN = accessor<number>(nouveauExecPush, 'va_len');
const PUSH_FLAGS = accessor<number>(nouveauExecPush, 'flags');

/** The `drm_nouveau_sync` array of `syncs`. */
export function encodeSyncs(syncs: readonly SyncRef[]): Uint8Array {
	const size = nouveauSync.size;
	const out = new Uint8Array(syncs.length * size);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < syncs.length; i++) {
		const s = syncs[i] as SyncRef;
		const flags =
			s.flags ?? (s.point === undefined ? DRM_NOUVEAU_SYNC_SYNCOBJ : DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ);
		SYNC_FLAGS.set(dv, flags, i * size);
		SYNC_HANDLE.set(dv, s.handle, i * size);
		SYNC_POINT.set(dv, s.point ?? 0n, i * size);
	}
	return out;
}

/** The `drm_nouveau_vm_bind_op` array of `ops`. */
export function encodeVmBindOps(ops: readonly VmBindOp[]): Uint8Array {
	const size = nouveauVmBindOp.size;
	const out = new Uint8Array(ops.length * size);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < ops.length; i++) {
		const o = ops[i] as VmBindOp;
		const base = i * size;
		OP_OP.set(dv, o.op, base);
		OP_FLAGS.set(dv, o.flags ?? 0, base);
		OP_HANDLE.set(dv, o.handle ?? 0, base);
		OP_PAD.set(dv, o.pad ?? 0, base);
		OP_ADDR.set(dv, o.addr, base);
		OP_BO_OFFSET.set(dv, o.boOffset ?? 0n, base);
		OP_RANGE.set(dv, o.range, base);
	}
	return out;
}

/** The `drm_nouveau_exec_push` array of `pushes`. */
export function encodeExecPushes(pushes: readonly ExecPush[]): Uint8Array {
	const size = nouveauExecPush.size;
	const out = new Uint8Array(pushes.length * size);
	const dv = new DataView(out.buffer);
	for (let i = 0; i < pushes.length; i++) {
		const p = pushes[i] as ExecPush;
		PUSH_VA.set(dv, p.va, i * size);
		PUSH_LEN.set(dv, p.length, i * size);
		PUSH_FLAGS.set(dv, p.flags ?? 0, i * size);
	}
	return out;
}

const NAME_BY_CODE = new Map<number, IoctlName>(IOCTL_DEFS.map((d) => [d.code, d.name]));
const DEF_BY_NAME = new Map<IoctlName, IoctlDef>(IOCTL_DEFS.map((d) => [d.name, d]));

/** The element count of pointer field `f`, read zero-extended (bytes past the struct read as 0). */
function readCount(dv: DataView, f: PointerField): bigint {
	if (f.countOffset + f.countWidth > dv.byteLength) return 0n;
	return f.countWidth === 4
		? BigInt(dv.getUint32(f.countOffset, true))
		: dv.getBigUint64(f.countOffset, true);
}

function requestName(code: number): string {
	return NAME_BY_CODE.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`;
}

/** A placeholder user pointer for array `i`: any non-zero value means "carried" on the wire. */
function placeholder(i: number): bigint {
	return 0x1000n * BigInt(i + 1);
}

/** One open DRM file on the server. */
export class DrmClient {
	/** The socket connection (the client "process"). */
	readonly connection: DrmConnection;
	/** This file's descriptor in the connection's table. */
	readonly fd: number;
	readonly #ownsConnection: boolean;

	/** @internal Use {@link openDrm} or {@link DrmClient.open}. */
	constructor(connection: DrmConnection, fd: number, ownsConnection: boolean) {
		this.connection = connection;
		this.fd = fd;
		this.#ownsConnection = ownsConnection;
	}

	/** Open another DRM file on an existing connection (same process: descriptors are shared). */
	static async open(connection: DrmConnection, node: DrmNode = 'render'): Promise<DrmClient> {
		return new DrmClient(connection, await connection.openFd(node), false);
	}

	/**
	 * Close this file's descriptor; a client from {@link openDrm} also closes its connection (so the server
	 * drops every descriptor the connection still had).
	 */
	async close(): Promise<void> {
		if (this.#ownsConnection) {
			await this.connection.close();
			return;
		}
		await this.connection.closeFd(this.fd);
	}

	// ───────────────────────────── raw ─────────────────────────────

	/**
	 * Run ioctl `code` with the struct bytes `arg` (its `_IOC_SIZE`) and the arrays its pointer fields
	 * refer to, in field order (see the protocol's pointer table). For each array given, the pointer field
	 * is set to a placeholder and the count fields must match its length; a pointer field without an array
	 * is sent as the caller left it (0 = NULL, carried empty). Never throws for an errno.
	 */
	async tryIoctl(code: number, arg: Uint8Array, arrays: readonly ArrayArg[] = []): Promise<IoctlReply> {
		const size = iocFields(code).size;
		if (arg.length !== size) {
			throw new DrmClientError(
				'DRM_CLIENT_BAD_ARGUMENT',
				`argument is ${arg.length} bytes, request says ${size}`,
			);
		}
		const fields = pointerFields(code);
		const nf = fields.length;
		// The arrays as the server will compute them from the struct it receives: a placeholder pointer
		// where an array is given, the caller's pointer elsewhere; counts read zero-extended.
		const argDv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
		const original: bigint[] = new Array<bigint>(nf);
		const pointers: bigint[] = new Array<bigint>(nf);
		const lengths: bigint[] = new Array<bigint>(nf);
		let inline = 0;
		for (let i = 0; i < nf; i++) {
			const f = fields[i] as PointerField;
			const inside = f.offset + 8 <= size;
			const orig = inside ? argDv.getBigUint64(f.offset, true) : 0n;
			const a = arrays[i];
			const userPointer = inside && a !== undefined ? placeholder(i) : orig;
			original[i] = orig;
			pointers[i] = userPointer;
			const length = userPointer === 0n ? 0n : readCount(argDv, f) * BigInt(f.elementSize);
			lengths[i] = length;
			if (userPointer === 0n) continue;
			const len = a === undefined ? undefined : typeof a === 'number' ? a : a.length;
			if (len === undefined || BigInt(len) !== length) {
				throw new DrmClientError(
					'DRM_CLIENT_BAD_ARGUMENT',
					`${requestName(code)}: array ${f.field} needs ${length} bytes (${f.countField}), got ${len ?? 'none'}`,
				);
			}
			if (carriedIn(f.direction)) {
				if (typeof a === 'number') {
					throw new DrmClientError('DRM_CLIENT_BAD_ARGUMENT', `array ${f.field} is read by the kernel`);
				}
				inline += len;
			}
		}
		// Build the request frame in place: header room, the struct (placeholders set), the in-arrays.
		const frame = new Uint8Array(REQUEST_HEADER_SIZE + size + inline);
		frame.set(arg, REQUEST_HEADER_SIZE);
		const frameDv = new DataView(frame.buffer);
		let at = REQUEST_HEADER_SIZE + size;
		for (let i = 0; i < nf; i++) {
			const f = fields[i] as PointerField;
			const a = arrays[i];
			if (a === undefined) continue;
			if (f.offset + 8 <= size)
				frameDv.setBigUint64(REQUEST_HEADER_SIZE + f.offset, pointers[i] as bigint, true);
			if (pointers[i] !== 0n && carriedIn(f.direction)) {
				frame.set(a as Uint8Array, at);
				at += (a as Uint8Array).length;
			}
		}
		const r = await this.connection.requestFrame(FrameKind.IOCTL, this.fd, code, size, frame);
		const errno = r.result < 0 ? -r.result : 0;
		if (r.payload.length === 0) return { errno, arg: Uint8Array.from(arg), arrays: [] };
		if (r.payload.length < size) {
			throw new DrmClientError(
				'DRM_CLIENT_BAD_REPLY',
				`${requestName(code)}: reply of ${r.payload.length} bytes`,
			);
		}
		const outArg = r.payload.slice(0, size);
		const outDv = new DataView(outArg.buffer);
		let pos = size;
		const outArrays: (Uint8Array | undefined)[] = [];
		for (let i = 0; i < nf; i++) {
			const f = fields[i] as PointerField;
			if (f.offset + 8 <= size) outDv.setBigUint64(f.offset, original[i] as bigint, true);
			if (pointers[i] === 0n) {
				outArrays.push(undefined);
			} else if (carriedOut(f.direction)) {
				const len = Number(lengths[i]);
				outArrays.push(r.payload.slice(pos, pos + len));
				pos += len;
			} else {
				outArrays.push(arrays[i] as Uint8Array);
			}
		}
		if (pos !== r.payload.length) {
			throw new DrmClientError(
				'DRM_CLIENT_BAD_REPLY',
				`${requestName(code)}: reply of ${r.payload.length} bytes`,
			);
		}
		return { errno, arg: outArg, arrays: outArrays };
	}

	/** {@link tryIoctl}, throwing a {@link DrmError} for an errno. */
	async ioctl(code: number, arg: Uint8Array, arrays: readonly ArrayArg[] = []): Promise<IoctlReply> {
		const r = await this.tryIoctl(code, arg, arrays);
		if (r.errno !== 0) throw new DrmError(requestName(code), r.errno);
		return r;
	}

	/** Encode `fields` (missing ones zero) into the struct of `name` and run it, without decoding the reply. */
	#run<K extends IoctlName>(
		name: K,
		fields: DeepPartial<IoctlArgMap[K]>,
		arrays: readonly ArrayArg[],
	): Promise<IoctlReply> {
		const def = DEF_BY_NAME.get(name);
		if (def === undefined) throw new DrmClientError('DRM_CLIENT_BAD_ARGUMENT', `unknown ioctl ${name}`);
		const layout = def.layout;
		const bytes = new Uint8Array(layout?.size ?? 0);
		if (layout !== undefined) structCodec(layout).encodeFields(fields as Record<string, unknown>, bytes, 0);
		return this.tryIoctl(DRM_IOCTL[name], bytes, arrays);
	}

	/** Typed raw call: encode `fields` (missing ones zero) into the struct of `name`, run it, decode. */
	async tryCall<K extends IoctlName>(
		name: K,
		fields: DeepPartial<IoctlArgMap[K]> = {} as DeepPartial<IoctlArgMap[K]>,
		arrays: readonly ArrayArg[] = [],
	): Promise<CallReply<K>> {
		const r = await this.#run(name, fields, arrays);
		const layout = (DEF_BY_NAME.get(name) as IoctlDef).layout;
		const arg = (layout === undefined ? undefined : structCodec(layout).decode(r.arg, 0)) as IoctlArgMap[K];
		return { errno: r.errno, arg, arrays: r.arrays };
	}

	/** {@link tryCall}, throwing a {@link DrmError} for an errno. */
	async call<K extends IoctlName>(
		name: K,
		fields: DeepPartial<IoctlArgMap[K]> = {} as DeepPartial<IoctlArgMap[K]>,
		arrays: readonly ArrayArg[] = [],
	): Promise<CallReply<K>> {
		const r = await this.tryCall(name, fields, arrays);
		if (r.errno !== 0) throw new DrmError(name, r.errno);
		return r;
	}

	// ───────────────────────────── discovery ─────────────────────────────

	/** DRM_IOCTL_VERSION (two passes: lengths, then strings). */
	async version(): Promise<DrmVersionInfo> {
		const first = await this.call('VERSION');
		const { name_len, date_len, desc_len } = first.arg;
		const r = await this.call('VERSION', { name_len, date_len, desc_len }, [
			Number(name_len),
			Number(date_len),
			Number(desc_len),
		]);
		const text = (b: Uint8Array | undefined): string => (b === undefined ? '' : enc.decode(b));
		return {
			major: r.arg.version_major,
			minor: r.arg.version_minor,
			patchlevel: r.arg.version_patchlevel,
			name: text(r.arrays[0]),
			date: text(r.arrays[1]),
			desc: text(r.arrays[2]),
		};
	}

	/** DRM_IOCTL_GET_CAP. */
	async getCap(capability: bigint): Promise<bigint> {
		return (await this.call('GET_CAP', { capability })).arg.value;
	}

	/** DRM_IOCTL_NOUVEAU_GETPARAM. */
	async getParam(param: bigint): Promise<bigint> {
		return (await this.call('NOUVEAU_GETPARAM', { param })).arg.value;
	}

	/** The device clock in ns (GETPARAM PTIMER_TIME): the time base of absolute syncobj timeouts. */
	now(): Promise<bigint> {
		return this.getParam(NOUVEAU_GETPARAM_PTIMER_TIME);
	}

	// ───────────────────────────── GEM ─────────────────────────────

	/** DRM_IOCTL_NOUVEAU_GEM_NEW: a buffer object; returns its info (handle, size, map_handle, …). */
	async gemNew(o: {
		size: bigint;
		domain: number;
		align?: number;
		channelHint?: number;
	}): Promise<NouveauGemInfo> {
		const r = await this.call('NOUVEAU_GEM_NEW', {
			info: { size: o.size, domain: o.domain },
			align: o.align ?? 0,
			channel_hint: o.channelHint ?? 0,
		});
		return r.arg.info;
	}

	/** DRM_IOCTL_NOUVEAU_GEM_INFO. */
	async gemInfo(handle: number): Promise<NouveauGemInfo> {
		return (await this.call('NOUVEAU_GEM_INFO', { handle })).arg;
	}

	/** DRM_IOCTL_GEM_CLOSE. */
	async gemClose(handle: number): Promise<void> {
		await this.call('GEM_CLOSE', { handle });
	}

	/** DRM_IOCTL_NOUVEAU_GEM_CPU_PREP (wait for the GPU to be done with the object). */
	async cpuPrep(handle: number, flags = 0): Promise<void> {
		await this.call('NOUVEAU_GEM_CPU_PREP', { handle, flags });
	}

	/** DRM_IOCTL_NOUVEAU_GEM_CPU_FINI. */
	async cpuFini(handle: number): Promise<void> {
		await this.call('NOUVEAU_GEM_CPU_FINI', { handle });
	}

	/** gspkit's PREAD: `length` bytes of the object at `offset` (in chunks of {@link RW_CHUNK}). */
	async pread(handle: number, offset: bigint, length: number): Promise<Uint8Array> {
		const out = new Uint8Array(length);
		for (let done = 0; done < length; ) {
			const n = Math.min(RW_CHUNK, length - done);
			const r = await this.call(
				'GSPKIT_GEM_PREAD',
				{ handle, offset: offset + BigInt(done), size: BigInt(n) },
				[n],
			);
			out.set(r.arrays[0] as Uint8Array, done);
			done += n;
		}
		return out;
	}

	/** gspkit's PWRITE: write `data` into the object at `offset` (in chunks of {@link RW_CHUNK}). */
	async pwrite(handle: number, offset: bigint, data: Uint8Array): Promise<void> {
		for (let done = 0; done < data.length; ) {
			const n = Math.min(RW_CHUNK, data.length - done);
			await this.call('GSPKIT_GEM_PWRITE', { handle, offset: offset + BigInt(done), size: BigInt(n) }, [
				data.subarray(done, done + n),
			]);
			done += n;
		}
	}

	/** Read through a CPU mapping at the fake offset `mapHandle` (from GEM_INFO) — `mmap` + copy + `munmap`. */
	async mmapRead(mapHandle: bigint, length: number): Promise<Uint8Array> {
		const arg = u64Array([mapHandle, BigInt(length)]);
		const r = await this.connection.request(FrameKind.MMAP_READ, this.fd, 0, arg);
		if (r.result < 0) throw new DrmError('MMAP_READ', -r.result);
		return r.payload.slice();
	}

	/** Write through a CPU mapping at the fake offset `mapHandle`. */
	async mmapWrite(mapHandle: bigint, data: Uint8Array): Promise<void> {
		const arg = u64Array([mapHandle, BigInt(data.length)]);
		const r = await this.connection.request(FrameKind.MMAP_WRITE, this.fd, 0, arg, [data]);
		if (r.result < 0) throw new DrmError('MMAP_WRITE', -r.result);
	}

	// ───────────────────────────── PRIME ─────────────────────────────

	/** DRM_IOCTL_PRIME_HANDLE_TO_FD: export as a dma-buf descriptor (of this connection). */
	async primeHandleToFd(handle: number, flags = DRM_CLOEXEC | DRM_RDWR): Promise<number> {
		return (await this.call('PRIME_HANDLE_TO_FD', { handle, flags })).arg.fd;
	}

	/** DRM_IOCTL_PRIME_FD_TO_HANDLE: import a dma-buf descriptor (self-import gives the same handle). */
	async primeFdToHandle(fd: number): Promise<number> {
		return (await this.call('PRIME_FD_TO_HANDLE', { fd })).arg.handle;
	}

	/** `dup(fd)` of a descriptor of this connection (dma-buf, syncobj fd, DRM file). */
	dupFd(fd: number): Promise<number> {
		return this.connection.dupFd(fd);
	}

	/** `close(fd)` of a descriptor of this connection (dma-buf, syncobj fd, another DRM file). */
	closeFd(fd: number): Promise<void> {
		return this.connection.closeFd(fd);
	}

	// ───────────────────────────── syncobj ─────────────────────────────

	/** DRM_IOCTL_SYNCOBJ_CREATE. */
	async syncobjCreate(o: { signaled?: boolean; flags?: number } = {}): Promise<number> {
		const flags = o.flags ?? (o.signaled === true ? DRM_SYNCOBJ_CREATE_SIGNALED : 0);
		return (await this.call('SYNCOBJ_CREATE', { flags })).arg.handle;
	}

	/** DRM_IOCTL_SYNCOBJ_DESTROY. */
	async syncobjDestroy(handle: number): Promise<void> {
		await this.call('SYNCOBJ_DESTROY', { handle });
	}

	/** DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD. */
	async syncobjHandleToFd(handle: number, flags = 0, point = 0n): Promise<number> {
		return (await this.call('SYNCOBJ_HANDLE_TO_FD', { handle, flags, point })).arg.fd;
	}

	/** DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE. */
	async syncobjFdToHandle(fd: number, flags = 0, handle = 0, point = 0n): Promise<number> {
		return (await this.call('SYNCOBJ_FD_TO_HANDLE', { fd, flags, handle, point })).arg.handle;
	}

	/** DRM_IOCTL_SYNCOBJ_WAIT; returns `first_signaled`. */
	async syncobjWait(handles: readonly number[], o: WaitOptions = {}): Promise<number> {
		const r = await this.call(
			'SYNCOBJ_WAIT',
			{
				count_handles: handles.length,
				timeout_nsec: o.timeoutNs ?? 0n,
				flags: o.flags ?? 0,
				deadline_nsec: o.deadlineNs ?? 0n,
			},
			[handles.length > 0 ? u32Array(handles) : undefined],
		);
		return r.arg.first_signaled;
	}

	/** DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT; returns `first_signaled`. */
	async syncobjTimelineWait(
		handles: readonly number[],
		points: readonly bigint[],
		o: WaitOptions = {},
	): Promise<number> {
		const some = handles.length > 0;
		const r = await this.call(
			'SYNCOBJ_TIMELINE_WAIT',
			{
				count_handles: handles.length,
				timeout_nsec: o.timeoutNs ?? 0n,
				flags: o.flags ?? 0,
				deadline_nsec: o.deadlineNs ?? 0n,
			},
			[some ? u32Array(handles) : undefined, some ? u64Array(points) : undefined],
		);
		return r.arg.first_signaled;
	}

	/** DRM_IOCTL_SYNCOBJ_RESET. */
	async syncobjReset(handles: readonly number[]): Promise<void> {
		await this.call('SYNCOBJ_RESET', { count_handles: handles.length }, [
			handles.length > 0 ? u32Array(handles) : undefined,
		]);
	}

	/** DRM_IOCTL_SYNCOBJ_SIGNAL. */
	async syncobjSignal(handles: readonly number[]): Promise<void> {
		await this.call('SYNCOBJ_SIGNAL', { count_handles: handles.length }, [
			handles.length > 0 ? u32Array(handles) : undefined,
		]);
	}

	/** DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL. */
	async syncobjTimelineSignal(
		handles: readonly number[],
		points: readonly bigint[],
		flags = 0,
	): Promise<void> {
		const some = handles.length > 0;
		await this.call('SYNCOBJ_TIMELINE_SIGNAL', { count_handles: handles.length, flags }, [
			some ? u32Array(handles) : undefined,
			some ? u64Array(points) : undefined,
		]);
	}

	/** DRM_IOCTL_SYNCOBJ_QUERY: the last signalled (or, with LAST_SUBMITTED, submitted) point of each. */
	async syncobjQuery(handles: readonly number[], flags = 0): Promise<bigint[]> {
		const some = handles.length > 0;
		const r = await this.call('SYNCOBJ_QUERY', { count_handles: handles.length, flags }, [
			some ? u32Array(handles) : undefined,
			some ? handles.length * 8 : undefined,
		]);
		return r.arrays[1] === undefined ? [] : readU64s(r.arrays[1]);
	}

	/** DRM_IOCTL_SYNCOBJ_TRANSFER. */
	async syncobjTransfer(o: {
		srcHandle: number;
		srcPoint?: bigint;
		dstHandle: number;
		dstPoint?: bigint;
		flags?: number;
	}): Promise<void> {
		await this.call('SYNCOBJ_TRANSFER', {
			src_handle: o.srcHandle,
			src_point: o.srcPoint ?? 0n,
			dst_handle: o.dstHandle,
			dst_point: o.dstPoint ?? 0n,
			flags: o.flags ?? 0,
		});
	}

	// ───────────────────────────── VM / channels / EXEC ─────────────────────────────

	/** DRM_IOCTL_NOUVEAU_VM_INIT. */
	async vmInit(kernelManagedAddr: bigint, kernelManagedSize: bigint): Promise<void> {
		await this.call('NOUVEAU_VM_INIT', {
			kernel_managed_addr: kernelManagedAddr,
			kernel_managed_size: kernelManagedSize,
		});
	}

	/**
	 * DRM_IOCTL_NOUVEAU_VM_BIND. Asynchronous (RUN_ASYNC) when `async` is true or any sync is given;
	 * `flags` overrides.
	 */
	async vmBind(o: {
		ops: readonly VmBindOp[];
		wait?: readonly SyncRef[];
		sig?: readonly SyncRef[];
		async?: boolean;
		flags?: number;
	}): Promise<void> {
		const wait = o.wait ?? [];
		const sig = o.sig ?? [];
		const async = o.async ?? (wait.length > 0 || sig.length > 0);
		await this.call(
			'NOUVEAU_VM_BIND',
			{
				op_count: o.ops.length,
				wait_count: wait.length,
				sig_count: sig.length,
				flags: o.flags ?? (async ? DRM_NOUVEAU_VM_BIND_RUN_ASYNC : 0),
			},
			[
				wait.length > 0 ? encodeSyncs(wait) : undefined,
				sig.length > 0 ? encodeSyncs(sig) : undefined,
				o.ops.length > 0 ? encodeVmBindOps(o.ops) : undefined,
			],
		);
	}

	/** DRM_IOCTL_NOUVEAU_EXEC (always asynchronous: signal a syncobj to learn when it finished). */
	async exec(o: {
		channel: number;
		pushes: readonly ExecPush[];
		wait?: readonly SyncRef[];
		sig?: readonly SyncRef[];
	}): Promise<void> {
		const wait = o.wait ?? [];
		const sig = o.sig ?? [];
		// Nothing of the struct comes back that EXEC's caller needs: skip decoding it.
		const r = await this.#run(
			'NOUVEAU_EXEC',
			{ channel: o.channel, push_count: o.pushes.length, wait_count: wait.length, sig_count: sig.length },
			[
				wait.length > 0 ? encodeSyncs(wait) : undefined,
				sig.length > 0 ? encodeSyncs(sig) : undefined,
				o.pushes.length > 0 ? encodeExecPushes(o.pushes) : undefined,
			],
		);
		if (r.errno !== 0) throw new DrmError('NOUVEAU_EXEC', r.errno);
	}

	/**
	 * DRM_IOCTL_NOUVEAU_CHANNEL_ALLOC on engine `engine` (`NOUVEAU_FIFO_ENGINE_*`, default GR), selected as
	 * nouveau's abi16 reads it: `fb_ctxdma_handle = ~0`, `tt_ctxdma_handle = engine`. Returns the struct
	 * (`channel`, `notifier_handle`, …).
	 */
	async channelAlloc(o: { engine?: number } = {}): Promise<NouveauChannelAlloc> {
		const r = await this.call('NOUVEAU_CHANNEL_ALLOC', {
			fb_ctxdma_handle: 0xffffffff,
			tt_ctxdma_handle: o.engine ?? NOUVEAU_FIFO_ENGINE_GR,
		});
		return r.arg;
	}

	/** DRM_IOCTL_NOUVEAU_CHANNEL_FREE. */
	async channelFree(channel: number): Promise<void> {
		await this.call('NOUVEAU_CHANNEL_FREE', { channel });
	}
}

/**
 * Connect to a gspkit-drm server and open the device: a client that owns its connection (closing it
 * closes the connection, and the server releases everything the connection held).
 */
export async function openDrm(socketPath: string, options: OpenDrmOptions = {}): Promise<DrmClient> {
	const conn = await DrmConnection.connect(
		socketPath,
		options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes },
	);
	try {
		const fd = await conn.openFd(options.node ?? 'render');
		return new DrmClient(conn, fd, true);
	} catch (e) {
		await conn.close();
		throw e;
	}
}
