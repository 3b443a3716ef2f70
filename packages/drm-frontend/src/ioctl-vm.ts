/**
 * Handlers of nouveau's VM_BIND uAPI: VM_INIT, VM_BIND and EXEC.
 *
 * Both VM_BIND and EXEC are jobs with in-syncs (fences to wait for) and out-syncs (syncobjs that receive
 * the job's fence). They are checked in nouveau's order — in-syncs (bad type EOPNOTSUPP, unknown syncobj
 * ENOENT, no fence / unsubmitted point EINVAL), then out-syncs (bad type EINVAL, unknown syncobj ENOENT),
 * then the job itself — and only when everything passed is anything changed.
 *
 * A device VA space may be busy changing its kernel-managed mappings (a channel being created or destroyed in
 * it). It then offers `whenKernelIdle()` (see {@link DeviceVaSpace.whenKernelIdle}); VM_BIND checks its arguments, waits for
 * that, and then validates and submits in one synchronous step — never EBUSY, as nouveau never returns it.
 * While a VM_BIND waits, later VM_BINDs and EXECs on the same VM wait behind it, so binds and submissions keep
 * the order they arrived in.
 *
 * @module
 */

import type { RecordLayout, Value } from '@gspkit/abi';
import type { DeviceFence, DeviceResult, DeviceVaSpace, PushEntry } from './device-api.ts';
import { fail, type IoctlResult, OK, succeed } from './errors.ts';
import type { DrmFile } from './file.ts';
import type { Resv } from './gem.ts';
import { structCodec } from './ioctl-codec.ts';
import { execPushMax } from './ioctl-nouveau.ts';
import { copyFromUser, type UserMemory } from './memory.ts';
import { type Syncobj, syncobjFindFenceNow } from './syncobj.ts';
import {
	DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH,
	DRM_NOUVEAU_SYNC_SYNCOBJ,
	DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ,
	DRM_NOUVEAU_SYNC_TYPE_MASK,
	DRM_NOUVEAU_VM_BIND_RUN_ASYNC,
	type NouveauExec,
	type NouveauSync,
	type NouveauVmBind,
	type NouveauVmInit,
	NV50_DMA_PUSH_MAX_LENGTH,
	nouveauExecPush,
	nouveauSync,
	nouveauVmBindOp,
} from './uapi/nouveau.ts';
import { type BindOp, Vm } from './vm.ts';

const U64_MAX = (1n << 64n) - 1n;

/** Copy `count` structs of `layout` from user memory (`u_memcpya`); `undefined` = EFAULT. */
function copyArray<L extends RecordLayout>(
	mem: UserMemory,
	layout: L,
	ptr: bigint,
	count: number,
): Value<L>[] | undefined {
	if (count === 0) return [];
	const bytes = copyFromUser(mem, ptr, count * layout.size);
	if (bytes === undefined) return undefined;
	const codec = structCodec<Value<L>>(layout);
	const out: Value<L>[] = [];
	for (let i = 0; i < count; i++) out.push(codec.decode(bytes, i * layout.size));
	return out;
}

/**
 * DRM_IOCTL_NOUVEAU_VM_INIT: create the file's VM_BIND VA space with a kernel-managed range. When the
 * device creates VA spaces asynchronously the ioctl waits; a second VM_INIT meanwhile is EEXIST, and a VA
 * space that arrives after the file was closed is destroyed again.
 */
export function nouveauVmInitIoctl(file: DrmFile, args: NouveauVmInit): IoctlResult | Promise<IoctlResult> {
	const end = args.kernel_managed_addr + args.kernel_managed_size;
	if (end > U64_MAX) return fail('EINVAL');
	const device = file.frontend.device;
	if (end > 1n << BigInt(device.info.vaBits)) return fail('EINVAL');
	if (file.uvmmDisabled) return fail('ENOSYS');
	if (file.uvmm !== null || file.uvmmPending) return fail('EEXIST');
	const addr = args.kernel_managed_addr;
	const size = args.kernel_managed_size;
	const install = (va: DeviceResult<DeviceVaSpace>): IoctlResult => {
		if (!va.ok) return fail(va.error);
		if (file.released) {
			device.destroyVaSpace(va.value);
			return fail('EBADF');
		}
		file.uvmm = new Vm(va.value, addr, size, device.info.vaBits);
		return OK;
	};
	const r = device.createVaSpace({ kernelManagedAddr: addr, kernelManagedSize: size });
	if (!(r instanceof Promise)) return install(r);
	file.uvmmPending = true;
	return r.then((va) => {
		file.uvmmPending = false;
		return install(va);
	});
}

/** Per VM: settles once the VM_BIND that is waiting for its turn (the latest one) has been submitted or failed. */
const bindGates = new WeakMap<Vm, Promise<void>>();

function kernelIdle(vm: Vm): Promise<void> | undefined {
	return vm.vaSpace.whenKernelIdle?.();
}

/** A validated out-sync: where the job's fence goes. */
interface OutSync {
	readonly syncobj: Syncobj;
	readonly point: bigint;
	readonly timeline: boolean;
}

/** `nouveau_job_add_deps`: resolve in-syncs to fences (EOPNOTSUPP / ENOENT / EINVAL). */
function inSyncFences(file: DrmFile, syncs: readonly NouveauSync[]): IoctlResult<DeviceFence[]> {
	const out: DeviceFence[] = [];
	for (const s of syncs) {
		const type = s.flags & DRM_NOUVEAU_SYNC_TYPE_MASK;
		if (type !== DRM_NOUVEAU_SYNC_SYNCOBJ && type !== DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ)
			return fail('EOPNOTSUPP');
		const point = type === DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ ? s.timeline_value : 0n;
		const f = syncobjFindFenceNow(file, s.handle, point);
		if (!f.ok) return f;
		out.push(f.value);
	}
	return succeed(out);
}

/** `nouveau_job_fence_attach_prepare`: validate out-syncs (EINVAL for a bad type, ENOENT). */
function outSyncTargets(file: DrmFile, syncs: readonly NouveauSync[]): IoctlResult<OutSync[]> {
	const out: OutSync[] = [];
	for (const s of syncs) {
		const type = s.flags & DRM_NOUVEAU_SYNC_TYPE_MASK;
		if (type !== DRM_NOUVEAU_SYNC_SYNCOBJ && type !== DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ)
			return fail('EINVAL');
		const obj = file.syncobjs.get(s.handle);
		if (obj === undefined) return fail('ENOENT');
		const timeline = type === DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ;
		out.push({ syncobj: obj, point: timeline ? s.timeline_value : 0n, timeline });
	}
	return succeed(out);
}

/** `nouveau_job_fence_attach`: install the job's fence (timeline point or replacement). */
function attachOutSyncs(targets: readonly OutSync[], fence: DeviceFence): void {
	for (const t of targets) {
		if (t.timeline) t.syncobj.addPoint(fence, t.point);
		else t.syncobj.replace(fence);
	}
}

/**
 * DRM_IOCTL_NOUVEAU_VM_BIND. ENOSYS before VM_INIT; without RUN_ASYNC any in/out sync is EINVAL and the
 * call returns only when the page tables are updated. `pad` of every op must be zero. See `vm.ts` for
 * the map/unmap/sparse rules; a failed call leaves the VM unchanged. While the device VA space is changing
 * its kernel mappings the call waits (after the argument checks) and then proceeds.
 */
export async function nouveauVmBindIoctl(
	file: DrmFile,
	args: NouveauVmBind,
	mem: UserMemory,
): Promise<IoctlResult> {
	const vm = file.uvmm;
	if (vm === null) return fail('ENOSYS');
	const uops = copyArray(mem, nouveauVmBindOp, args.op_ptr, args.op_count);
	if (uops === undefined) return fail('EFAULT');
	const ins = copyArray(mem, nouveauSync, args.wait_ptr, args.wait_count);
	if (ins === undefined) return fail('EFAULT');
	const outs = copyArray(mem, nouveauSync, args.sig_ptr, args.sig_count);
	if (outs === undefined) return fail('EFAULT');
	if (uops.some((o) => o.pad !== 0)) return fail('EINVAL');
	const sync = (args.flags & DRM_NOUVEAU_VM_BIND_RUN_ASYNC) === 0;
	if (sync && (ins.length > 0 || outs.length > 0)) return fail('EINVAL');
	const ops: BindOp[] = uops.map((o) => ({
		op: o.op,
		flags: o.flags,
		handle: o.handle,
		addr: o.addr,
		boOffset: o.bo_offset,
		range: o.range,
	}));
	// Everything below depends on state (syncobjs, the VM's mappings): it runs in one synchronous step, now or
	// once it is this bind's turn.
	const bind = (): IoctlResult<DeviceFence> => {
		const deps = inSyncFences(file, ins);
		if (!deps.ok) return deps;
		const targets = outSyncTargets(file, outs);
		if (!targets.ok) return targets;
		const r = vm.submit(ops, (h) => file.lookupGem(h), deps.value);
		if (!r.ok) return r;
		attachOutSyncs(targets.value, r.value.done);
		return succeed(r.value.done);
	};
	let submitted: IoctlResult<DeviceFence>;
	const before = bindGates.get(vm);
	let idle = kernelIdle(vm);
	if (before === undefined && idle === undefined) {
		submitted = bind();
	} else {
		let release = (): void => {};
		const gate = new Promise<void>((resolve) => {
			release = resolve;
		});
		bindGates.set(vm, gate);
		try {
			if (before !== undefined) {
				await before;
				idle = kernelIdle(vm);
			}
			while (idle !== undefined) {
				await idle;
				idle = kernelIdle(vm);
			}
			submitted = bind();
		} finally {
			if (bindGates.get(vm) === gate) bindGates.delete(vm);
			release();
		}
	}
	if (!submitted.ok) return submitted;
	const done = submitted.value;
	if (sync && !done.signalled) await new Promise<void>((resolve) => done.onSignal(() => resolve()));
	return OK;
}

/**
 * DRM_IOCTL_NOUVEAU_EXEC (always asynchronous). ENOSYS before VM_INIT, ENOENT for a channel this file
 * does not own, ENODEV once the channel was killed, EINVAL for more than EXEC_PUSH_MAX pushes or a push
 * longer than {@link NV50_DMA_PUSH_MAX_LENGTH}. The job's fence goes to every out-sync and into the
 * reservation objects of everything the VM maps (so GEM_CPU_PREP waits for it); those objects stay alive
 * until it signals. Behind a VM_BIND of the same VM that is waiting for its turn, it waits too (it must see that
 * bind's view of the VA space).
 */
export function nouveauExecIoctl(
	file: DrmFile,
	args: NouveauExec,
	mem: UserMemory,
): IoctlResult | Promise<IoctlResult> {
	const vm = file.uvmm;
	if (vm === null) return fail('ENOSYS');
	const gate = bindGates.get(vm);
	if (gate !== undefined) return gate.then(() => exec(file, vm, args, mem));
	return exec(file, vm, args, mem);
}

function exec(file: DrmFile, vm: Vm, args: NouveauExec, mem: UserMemory): IoctlResult {
	const ch = file.channels.get(args.channel);
	if (ch === undefined) return fail('ENOENT');
	if (ch.channel.killed) return fail('ENODEV');
	if (args.push_count > execPushMax(file.frontend.device.info)) return fail('EINVAL');
	const pushes = copyArray(mem, nouveauExecPush, args.push_ptr, args.push_count);
	if (pushes === undefined) return fail('EFAULT');
	const ins = copyArray(mem, nouveauSync, args.wait_ptr, args.wait_count);
	if (ins === undefined) return fail('EFAULT');
	const outs = copyArray(mem, nouveauSync, args.sig_ptr, args.sig_count);
	if (outs === undefined) return fail('EFAULT');
	if (pushes.some((p) => p.va_len > NV50_DMA_PUSH_MAX_LENGTH)) return fail('EINVAL');
	const deps = inSyncFences(file, ins);
	if (!deps.ok) return deps;
	const targets = outSyncTargets(file, outs);
	if (!targets.ok) return targets;
	const entries: PushEntry[] = pushes.map((p) => ({
		va: p.va,
		length: p.va_len,
		noPrefetch: (p.flags & DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH) !== 0,
	}));
	const submitted = ch.channel.submit({ pushes: entries, dependencies: deps.value });
	if (!submitted.ok) return fail(submitted.error);
	const fence = submitted.value;
	attachOutSyncs(targets.value, fence);
	const objs = vm.boundObjects();
	const resvs = new Set<Resv>();
	for (const o of objs) resvs.add(o.resv);
	resvs.add(vm.resv);
	for (const r of resvs) r.add(fence, 'write');
	for (const o of objs) o.get();
	fence.onSignal(() => {
		for (const o of objs) o.put();
	});
	return OK;
}
