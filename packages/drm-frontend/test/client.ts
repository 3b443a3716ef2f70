/**
 * A tiny libdrm for the tests: each helper builds the kernel struct (and the arrays it points to in an
 * {@link ArenaMemory}), runs it through the binary ioctl path of a {@link DrmFile}, and decodes the answer.
 * Results are `{ ok, value }` / `{ ok: false, error: 'EINVAL' }`, so tests compare errno names.
 */

import {
	ArenaMemory,
	type DeepPartial,
	type DrmFile,
	DrmFrontend,
	drmIoctl,
	FdTable,
	type IoctlArgMap,
	type IoctlName,
	type IoctlResult,
	NOUVEAU_GEM_DOMAIN_VRAM,
	type NodeKind,
	type NouveauSync,
	type NouveauVmBindOp,
	u64Bytes,
} from '@gspkit/drm-frontend';
import type { Errno } from '@gspkit/hal';
import { FakeDrmDevice } from './fake-device.ts';

/** `0` for success, else the errno name. */
export function errnoOf(r: IoctlResult<unknown>): Errno | 0 {
	return r.ok ? 0 : r.error;
}

function u32Bytes(values: readonly number[]): Uint8Array {
	const out = new Uint8Array(values.length * 4);
	const dv = new DataView(out.buffer);
	values.forEach((v, i) => {
		dv.setUint32(i * 4, v >>> 0, true);
	});
	return out;
}

/** Encode `drm_nouveau_sync` entries. */
function syncBytes(syncs: readonly Partial<NouveauSync>[]): Uint8Array {
	const out = new Uint8Array(syncs.length * 16);
	const dv = new DataView(out.buffer);
	syncs.forEach((s, i) => {
		dv.setUint32(i * 16, s.flags ?? 0, true);
		dv.setUint32(i * 16 + 4, s.handle ?? 0, true);
		dv.setBigUint64(i * 16 + 8, s.timeline_value ?? 0n, true);
	});
	return out;
}

/** Encode `drm_nouveau_vm_bind_op` entries. */
function opBytes(ops: readonly Partial<NouveauVmBindOp>[]): Uint8Array {
	const out = new Uint8Array(ops.length * 40);
	const dv = new DataView(out.buffer);
	ops.forEach((o, i) => {
		const b = i * 40;
		dv.setUint32(b, o.op ?? 0, true);
		dv.setUint32(b + 4, o.flags ?? 0, true);
		dv.setUint32(b + 8, o.handle ?? 0, true);
		dv.setUint32(b + 12, o.pad ?? 0, true);
		dv.setBigUint64(b + 16, o.addr ?? 0n, true);
		dv.setBigUint64(b + 24, o.bo_offset ?? 0n, true);
		dv.setBigUint64(b + 32, o.range ?? 0n, true);
	});
	return out;
}

/** One push of an EXEC. */
export interface Push {
	readonly va: bigint;
	readonly len: number;
	readonly flags?: number;
}

/** A test client: one DRM file with its own user memory. */
export class Client {
	readonly file: DrmFile;
	readonly mem = new ArenaMemory();
	readonly process: FdTable;

	constructor(
		fe: DrmFrontend,
		process: FdTable = new FdTable(),
		node: NodeKind = 'render',
		privileged = false,
	) {
		this.process = process;
		const r = fe.open({ process, node, privileged });
		if (!r.ok) throw new Error(`open failed: ${r.error}`);
		this.file = r.value;
	}

	/** Any ioctl with a (partial) argument struct. */
	call<K extends IoctlName>(
		name: K,
		arg?: DeepPartial<IoctlArgMap[K]>,
	): Promise<IoctlResult<IoctlArgMap[K]>> {
		return drmIoctl(this.file, name, arg, this.mem);
	}

	/** A user array of u32s. */
	u32s(values: readonly number[]): bigint {
		return this.mem.alloc(u32Bytes(values));
	}

	/** A user array of u64s. */
	u64s(values: readonly bigint[]): bigint {
		return this.mem.alloc(u64Bytes(values));
	}

	async gemNew(
		size: bigint,
		domain = NOUVEAU_GEM_DOMAIN_VRAM,
		extra: { align?: number; tile_flags?: number } = {},
	) {
		const r = await this.call('NOUVEAU_GEM_NEW', {
			info: {
				handle: 0,
				domain,
				size,
				offset: 0n,
				map_handle: 0n,
				tile_mode: 0,
				tile_flags: extra.tile_flags ?? 0,
			},
			align: extra.align ?? 0,
		});
		return r.ok ? { ok: true as const, value: r.value.info.handle, info: r.value.info } : r;
	}

	async gemClose(handle: number, pad = 0): Promise<IoctlResult<unknown>> {
		return this.call('GEM_CLOSE', { handle, pad });
	}

	async syncobjCreate(flags = 0): Promise<IoctlResult<number>> {
		const r = await this.call('SYNCOBJ_CREATE', { flags });
		return r.ok ? { ok: true, value: r.value.handle } : r;
	}

	async syncobjDestroy(handle: number, pad = 0): Promise<IoctlResult<unknown>> {
		return this.call('SYNCOBJ_DESTROY', { handle, pad });
	}

	async syncobjWait(handles: readonly number[], timeout: bigint, flags = 0, count = handles.length) {
		const r = await this.call('SYNCOBJ_WAIT', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			count_handles: count,
			timeout_nsec: timeout,
			flags,
		});
		return r.ok ? { ok: true as const, value: r.value.first_signaled } : r;
	}

	async timelineWait(handles: readonly number[], points: readonly bigint[], timeout: bigint, flags = 0) {
		const r = await this.call('SYNCOBJ_TIMELINE_WAIT', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			points: points.length > 0 ? this.u64s(points) : 0n,
			count_handles: handles.length,
			timeout_nsec: timeout,
			flags,
		});
		return r.ok ? { ok: true as const, value: r.value.first_signaled } : r;
	}

	async syncobjReset(handles: readonly number[], pad = 0): Promise<IoctlResult<unknown>> {
		return this.call('SYNCOBJ_RESET', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			count_handles: handles.length,
			pad,
		});
	}

	async syncobjSignal(handles: readonly number[], pad = 0): Promise<IoctlResult<unknown>> {
		return this.call('SYNCOBJ_SIGNAL', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			count_handles: handles.length,
			pad,
		});
	}

	async timelineSignal(handles: readonly number[], points: readonly bigint[], flags = 0) {
		return this.call('SYNCOBJ_TIMELINE_SIGNAL', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			points: points.length > 0 ? this.u64s(points) : 0n,
			count_handles: handles.length,
			flags,
		});
	}

	async query(handles: readonly number[], flags = 0): Promise<IoctlResult<bigint[]>> {
		const out = this.mem.alloc(handles.length * 8);
		const r = await this.call('SYNCOBJ_QUERY', {
			handles: handles.length > 0 ? this.u32s(handles) : 0n,
			points: out,
			count_handles: handles.length,
			flags,
		});
		if (!r.ok) return r;
		const dv = new DataView(this.mem.bytesAt(out).buffer);
		return { ok: true, value: handles.map((_, i) => dv.getBigUint64(i * 8, true)) };
	}

	async syncobjToFd(handle: number, flags = 0, point = 0n, pad = 0): Promise<IoctlResult<number>> {
		const r = await this.call('SYNCOBJ_HANDLE_TO_FD', { handle, flags, point, pad, fd: -1 });
		return r.ok ? { ok: true, value: r.value.fd } : r;
	}

	async syncobjFromFd(fd: number, flags = 0, handle = 0, point = 0n, pad = 0): Promise<IoctlResult<number>> {
		const r = await this.call('SYNCOBJ_FD_TO_HANDLE', { fd, flags, handle, point, pad });
		return r.ok ? { ok: true, value: r.value.handle } : r;
	}

	async transfer(
		dst: number,
		dstPoint: bigint,
		src: number,
		srcPoint: bigint,
		flags = 0,
		pad = 0,
	): Promise<IoctlResult<unknown>> {
		return this.call('SYNCOBJ_TRANSFER', {
			dst_handle: dst,
			dst_point: dstPoint,
			src_handle: src,
			src_point: srcPoint,
			flags,
			pad,
		});
	}

	async primeExport(handle: number, flags = 0): Promise<IoctlResult<number>> {
		const r = await this.call('PRIME_HANDLE_TO_FD', { handle, flags, fd: -1 });
		return r.ok ? { ok: true, value: r.value.fd } : r;
	}

	async primeImport(fd: number): Promise<IoctlResult<number>> {
		const r = await this.call('PRIME_FD_TO_HANDLE', { fd });
		return r.ok ? { ok: true, value: r.value.handle } : r;
	}

	async vmInit(kernelAddr = 0n, kernelSize = 1n << 32n): Promise<IoctlResult<unknown>> {
		return this.call('NOUVEAU_VM_INIT', { kernel_managed_addr: kernelAddr, kernel_managed_size: kernelSize });
	}

	async vmBind(
		ops: readonly Partial<NouveauVmBindOp>[],
		opts: {
			async?: boolean;
			wait?: readonly Partial<NouveauSync>[];
			sig?: readonly Partial<NouveauSync>[];
		} = {},
	): Promise<IoctlResult<unknown>> {
		const wait = opts.wait ?? [];
		const sig = opts.sig ?? [];
		return this.call('NOUVEAU_VM_BIND', {
			op_count: ops.length,
			op_ptr: ops.length > 0 ? this.mem.alloc(opBytes(ops)) : 0n,
			flags: opts.async ? 1 : 0,
			wait_count: wait.length,
			wait_ptr: wait.length > 0 ? this.mem.alloc(syncBytes(wait)) : 0n,
			sig_count: sig.length,
			sig_ptr: sig.length > 0 ? this.mem.alloc(syncBytes(sig)) : 0n,
		});
	}

	async channelAlloc(engineSelector?: number) {
		const r = await this.call(
			'NOUVEAU_CHANNEL_ALLOC',
			engineSelector === undefined ? {} : { fb_ctxdma_handle: 0xffffffff, tt_ctxdma_handle: engineSelector },
		);
		return r.ok ? { ok: true as const, value: r.value.channel, arg: r.value } : r;
	}

	async exec(
		channel: number,
		pushes: readonly Push[],
		opts: {
			wait?: readonly Partial<NouveauSync>[];
			sig?: readonly Partial<NouveauSync>[];
			count?: number;
		} = {},
	): Promise<IoctlResult<unknown>> {
		const wait = opts.wait ?? [];
		const sig = opts.sig ?? [];
		const pb = new Uint8Array(pushes.length * 16);
		const dv = new DataView(pb.buffer);
		pushes.forEach((p, i) => {
			dv.setBigUint64(i * 16, p.va, true);
			dv.setUint32(i * 16 + 8, p.len, true);
			dv.setUint32(i * 16 + 12, p.flags ?? 0, true);
		});
		return this.call('NOUVEAU_EXEC', {
			channel,
			push_count: opts.count ?? pushes.length,
			push_ptr: pushes.length > 0 ? this.mem.alloc(pb) : 0n,
			wait_count: wait.length,
			wait_ptr: wait.length > 0 ? this.mem.alloc(syncBytes(wait)) : 0n,
			sig_count: sig.length,
			sig_ptr: sig.length > 0 ? this.mem.alloc(syncBytes(sig)) : 0n,
		});
	}
}

/** A fresh fake device, frontend and one render client. */
export function setup(options: ConstructorParameters<typeof FakeDrmDevice>[0] = {}) {
	const device = new FakeDrmDevice(options);
	const fe = new DrmFrontend(device);
	const client = new Client(fe);
	return { device, fe, client, clock: device.clock };
}
