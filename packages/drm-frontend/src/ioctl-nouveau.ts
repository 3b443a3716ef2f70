/**
 * Handlers of nouveau's device and memory ioctls: GETPARAM, CHANNEL_ALLOC/FREE, GEM_NEW, GEM_INFO,
 * GEM_CPU_PREP/FINI, and gspkit's private GEM_PREAD/PWRITE.
 *
 * @module
 */

import type {
	BufferPlacement,
	ChannelEngine,
	DeviceBuffer,
	DeviceChannel,
	DeviceResult,
	DeviceVaSpace,
	DrmDeviceInfo,
} from './device-api.ts';
import { fail, type IoctlResult, OK, succeed } from './errors.ts';
import type { DrmFile } from './file.ts';
import { GemObject, Resv } from './gem.ts';
import { copyFromUser, copyToUser, type UserMemory } from './memory.ts';
import type { GspkitGemPread, GspkitGemPwrite } from './uapi/gspkit.ts';
import {
	NOUVEAU_FIFO_ENGINE_BSP,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_FIFO_ENGINE_GR,
	NOUVEAU_FIFO_ENGINE_PPP,
	NOUVEAU_FIFO_ENGINE_VP,
	NOUVEAU_GEM_CPU_PREP_NOWAIT,
	NOUVEAU_GEM_CPU_PREP_WRITE,
	NOUVEAU_GEM_DOMAIN_CPU,
	NOUVEAU_GEM_DOMAIN_GART,
	NOUVEAU_GEM_DOMAIN_NO_SHARE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GEM_TILE_NONCONTIG,
	NOUVEAU_GETPARAM_AGP_SIZE,
	NOUVEAU_GETPARAM_BUS_TYPE,
	NOUVEAU_GETPARAM_CHIPSET_ID,
	NOUVEAU_GETPARAM_EXEC_PUSH_MAX,
	NOUVEAU_GETPARAM_FB_SIZE,
	NOUVEAU_GETPARAM_GRAPH_UNITS,
	NOUVEAU_GETPARAM_HAS_BO_USAGE,
	NOUVEAU_GETPARAM_HAS_PAGEFLIP,
	NOUVEAU_GETPARAM_HAS_VMA_TILEMODE,
	NOUVEAU_GETPARAM_PCI_DEVICE,
	NOUVEAU_GETPARAM_PCI_VENDOR,
	NOUVEAU_GETPARAM_PTIMER_TIME,
	NOUVEAU_GETPARAM_VM_VRAM_BASE,
	NOUVEAU_GETPARAM_VRAM_BAR_SIZE,
	NOUVEAU_GETPARAM_VRAM_USED,
	type NouveauChannelAlloc,
	type NouveauChannelFree,
	type NouveauGemCpuFini,
	type NouveauGemCpuPrep,
	type NouveauGemInfo,
	type NouveauGemNew,
	type NouveauGetparam,
} from './uapi/nouveau.ts';
import { VM_PAGE_SIZE } from './vm.ts';
import { waitUntil } from './wait.ts';

/** How long GEM_CPU_PREP waits for the GPU before giving up with EBUSY (nouveau: 30 s). */
export const CPU_PREP_TIMEOUT_NS = 30_000_000_000n;

/** Size of the notifier buffer CHANNEL_ALLOC creates. */
export const NOTIFIER_SIZE = 4096n;

/** nouveau's `nouveau_exec_push_max_from_ib_max`: half the ring, minus one slot for the job's fence. */
export function execPushMax(info: DrmDeviceInfo): number {
	const ibMax = info.gpfifoEntries - 1;
	return ibMax > 1 ? Math.floor(ibMax / 2) - 1 : 0;
}

const BUS_TYPE: Readonly<Record<DrmDeviceInfo['busType'], bigint>> = { agp: 0n, pci: 1n, pcie: 2n, soc: 3n };

/** DRM_IOCTL_NOUVEAU_GETPARAM: the documented parameters; any other id is EINVAL. */
export function nouveauGetparamIoctl(file: DrmFile, args: NouveauGetparam): IoctlResult {
	const dev = file.frontend.device;
	const info = dev.info;
	switch (args.param) {
		case NOUVEAU_GETPARAM_CHIPSET_ID:
			args.value = BigInt(info.chipset);
			break;
		case NOUVEAU_GETPARAM_PCI_VENDOR:
			args.value = info.busType === 'soc' ? 0n : BigInt(info.pciVendorId);
			break;
		case NOUVEAU_GETPARAM_PCI_DEVICE:
			args.value = info.busType === 'soc' ? 0n : BigInt(info.pciDeviceId);
			break;
		case NOUVEAU_GETPARAM_BUS_TYPE:
			args.value = BUS_TYPE[info.busType];
			break;
		case NOUVEAU_GETPARAM_FB_SIZE:
			args.value = info.vramSize;
			break;
		case NOUVEAU_GETPARAM_AGP_SIZE:
			args.value = info.gartSize;
			break;
		case NOUVEAU_GETPARAM_VM_VRAM_BASE:
			args.value = 0n;
			break;
		case NOUVEAU_GETPARAM_PTIMER_TIME:
			args.value = dev.ptimerNs();
			break;
		case NOUVEAU_GETPARAM_HAS_BO_USAGE:
		case NOUVEAU_GETPARAM_HAS_PAGEFLIP:
			args.value = 1n;
			break;
		case NOUVEAU_GETPARAM_HAS_VMA_TILEMODE:
			// nouveau (6.10+) answers 1 and then takes a tile mode and a PTE kind in GEM_NEW, checked against
			// the MMU's kind table. The device API has no kind table, so GEM_NEW keeps the rule nouveau had
			// before (kinds only per mapping, in VM_BIND's op flags) and this says so: NVK then sends none.
			args.value = 0n;
			break;
		case NOUVEAU_GETPARAM_GRAPH_UNITS: {
			const g = info.graphUnits;
			args.value = BigInt(g.gpcs) | (BigInt(g.tpcs) << 8n) | (BigInt(g.rops) << 32n);
			break;
		}
		case NOUVEAU_GETPARAM_EXEC_PUSH_MAX:
			args.value = BigInt(execPushMax(info));
			break;
		case NOUVEAU_GETPARAM_VRAM_BAR_SIZE:
			args.value = info.vramBarSize;
			break;
		case NOUVEAU_GETPARAM_VRAM_USED:
			args.value = dev.vramUsed();
			break;
		default:
			return fail('EINVAL');
	}
	return OK;
}

const roundUp = (v: bigint, a: bigint): bigint => ((v + a - 1n) / a) * a;

/** Options of {@link createGem}. */
interface GemCreate {
	readonly size: bigint;
	readonly domain: number;
	readonly align: bigint;
	readonly noShare: boolean;
}

/** Allocate backing memory and wrap it in a GEM object holding one (the caller's) reference. */
function createGem(file: DrmFile, req: GemCreate): IoctlResult<GemObject> {
	const fe = file.frontend;
	const dev = fe.device;
	const order: BufferPlacement[] =
		req.domain & NOUVEAU_GEM_DOMAIN_VRAM
			? req.domain & NOUVEAU_GEM_DOMAIN_GART
				? ['vram', 'sysmem']
				: ['vram']
			: ['sysmem'];
	let buffer: DeviceBuffer | undefined;
	let error: IoctlResult<never> | undefined;
	for (const placement of order) {
		const r = dev.allocBuffer({ size: req.size, placement, align: req.align });
		if (r.ok) {
			buffer = r.value;
			break;
		}
		error = fail(r.error);
		if (r.error !== 'ENOSPC') break;
	}
	if (buffer === undefined) return error ?? fail('ENOMEM');
	const vm = file.uvmm;
	const obj = new GemObject({
		buffer,
		size: req.size,
		validDomains: (NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART) & req.domain,
		noShare: req.noShare,
		resv: req.noShare && vm !== null ? vm.resv : new Resv(),
		mapOffset: fe.allocMapOffset(req.size),
		id: fe.nextGemId(),
		owner: fe.gemOwner,
		...(req.noShare && vm !== null ? { vmPrivateOf: vm } : {}),
	});
	fe.registerGem(obj);
	return succeed(obj);
}

/**
 * Objects created with `NOUVEAU_GEM_TILE_NONCONTIG`: the one tile flag GEM_NEW accepts, reported back by
 * GEM_INFO as nouveau does (`nvbo->contig`). Keyed weakly: the flag lives exactly as long as the object.
 */
const nonContiguous = new WeakSet<GemObject>();

/** Fill a `drm_nouveau_gem_info` for `obj` (VM_BIND clients get `offset` 0: they map with VM_BIND). */
function fillInfo(obj: GemObject, handle: number, info: NouveauGemInfo): void {
	const v = obj.validDomains;
	const single = v !== 0 && (v & (v - 1)) === 0;
	info.handle = handle;
	info.domain = single
		? v
		: obj.buffer.placement === 'sysmem'
			? NOUVEAU_GEM_DOMAIN_GART
			: NOUVEAU_GEM_DOMAIN_VRAM;
	info.size = obj.size;
	info.offset = 0n;
	info.map_handle = obj.mapOffset;
	info.tile_mode = 0;
	info.tile_flags = nonContiguous.has(obj) ? NOUVEAU_GEM_TILE_NONCONTIG : 0;
}

/**
 * DRM_IOCTL_NOUVEAU_GEM_NEW. Creating a BO before VM_INIT rules VM_INIT out for this file. Size 0,
 * NO_SHARE without VM_INIT, a tile mode, and tile flags other than `NOUVEAU_GEM_TILE_NONCONTIG` are EINVAL
 * (nouveau's rule while `HAS_VMA_TILEMODE` is 0: the PTE kind is given per mapping, in VM_BIND's op
 * flags); out of VRAM is ENOSPC (falling back to GART when the domain allows it).
 */
export function nouveauGemNewIoctl(file: DrmFile, args: NouveauGemNew): IoctlResult {
	if (file.uvmm === null && !file.uvmmPending) file.uvmmDisabled = true;
	const info = args.info;
	let domain = info.domain;
	const noShare = (domain & NOUVEAU_GEM_DOMAIN_NO_SHARE) !== 0;
	if (noShare && file.uvmm === null) return fail('EINVAL');
	if (info.tile_mode !== 0 || (info.tile_flags & ~NOUVEAU_GEM_TILE_NONCONTIG) !== 0) return fail('EINVAL');
	if ((domain & (NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART)) === 0) domain |= NOUVEAU_GEM_DOMAIN_CPU;
	if (info.size === 0n) return fail('EINVAL');
	const size = roundUp(info.size, VM_PAGE_SIZE);
	const align = args.align === 0 ? VM_PAGE_SIZE : roundUp(BigInt(args.align), VM_PAGE_SIZE);
	const obj = createGem(file, { size, domain, align, noShare });
	if (!obj.ok) return obj;
	if (info.tile_flags & NOUVEAU_GEM_TILE_NONCONTIG) nonContiguous.add(obj.value);
	const h = file.gemHandleCreate(obj.value);
	obj.value.put(); // the handle holds the object now (or, on failure, this frees it)
	if (!h.ok) return h;
	fillInfo(obj.value, h.value, info);
	return OK;
}

/** DRM_IOCTL_NOUVEAU_GEM_INFO. ENOENT for an unknown handle. */
export function nouveauGemInfoIoctl(file: DrmFile, args: NouveauGemInfo): IoctlResult {
	const obj = file.lookupGem(args.handle);
	if (obj === undefined) return fail('ENOENT');
	fillInfo(obj, args.handle, args);
	return OK;
}

/**
 * DRM_IOCTL_NOUVEAU_GEM_CPU_PREP: wait until the GPU is done with the object (writers; with WRITE also
 * readers). NOWAIT on a busy object, or 30 s (device clock) without completion, is EBUSY.
 */
export async function nouveauGemCpuPrepIoctl(file: DrmFile, args: NouveauGemCpuPrep): Promise<IoctlResult> {
	const obj = file.lookupGem(args.handle);
	if (obj === undefined) return fail('ENOENT');
	const usage = args.flags & NOUVEAU_GEM_CPU_PREP_WRITE ? 'read' : 'write';
	obj.get();
	try {
		if (!obj.resv.busy(usage)) return OK;
		if (args.flags & NOUVEAU_GEM_CPU_PREP_NOWAIT) return fail('EBUSY');
		const clock = file.clock;
		const idle = await waitUntil(
			clock,
			clock.now() + CPU_PREP_TIMEOUT_NS,
			() => (obj.resv.busy(usage) ? undefined : true),
			(wake) => {
				for (const f of obj.resv.pending(usage)) f.onSignal(wake);
				return undefined;
			},
		);
		return idle === undefined ? fail('EBUSY') : OK;
	} finally {
		obj.put();
	}
}

/** DRM_IOCTL_NOUVEAU_GEM_CPU_FINI. ENOENT for an unknown handle; nothing else to do (coherent memory). */
export function nouveauGemCpuFiniIoctl(file: DrmFile, args: NouveauGemCpuFini): IoctlResult {
	return file.lookupGem(args.handle) === undefined ? fail('ENOENT') : OK;
}

const CHUNK = 1 << 20;

function checkRange(objSize: bigint, offset: bigint, size: bigint): boolean {
	return offset <= objSize && size <= objSize - offset;
}

/** DRM_IOCTL_GSPKIT_GEM_PREAD: copy object bytes to user memory (no implicit GPU wait). */
export function gspkitGemPreadIoctl(file: DrmFile, args: GspkitGemPread, mem: UserMemory): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	const obj = file.lookupGem(args.handle);
	if (obj === undefined) return fail('ENOENT');
	if (args.size === 0n) return OK;
	if (!checkRange(obj.size, args.offset, args.size)) return fail('EINVAL');
	for (let done = 0n; done < args.size; ) {
		const n = args.size - done < BigInt(CHUNK) ? Number(args.size - done) : CHUNK;
		const data = obj.buffer.read(args.offset + done, n);
		if (!copyToUser(mem, args.data_ptr + done, data)) return fail('EFAULT');
		done += BigInt(n);
	}
	return OK;
}

/** DRM_IOCTL_GSPKIT_GEM_PWRITE: copy user bytes into the object (no implicit GPU wait). */
export function gspkitGemPwriteIoctl(file: DrmFile, args: GspkitGemPwrite, mem: UserMemory): IoctlResult {
	if (args.pad !== 0) return fail('EINVAL');
	const obj = file.lookupGem(args.handle);
	if (obj === undefined) return fail('ENOENT');
	if (args.size === 0n) return OK;
	if (!checkRange(obj.size, args.offset, args.size)) return fail('EINVAL');
	for (let done = 0n; done < args.size; ) {
		const n = args.size - done < BigInt(CHUNK) ? Number(args.size - done) : CHUNK;
		const data = copyFromUser(mem, args.data_ptr + done, n);
		if (data === undefined) return fail('EFAULT');
		obj.buffer.write(args.offset + done, data);
		done += BigInt(n);
	}
	return OK;
}

function selectEngine(args: NouveauChannelAlloc): IoctlResult<ChannelEngine | undefined> {
	if (args.fb_ctxdma_handle !== 0xffffffff) return succeed('gr');
	let engine: ChannelEngine | undefined;
	switch (args.tt_ctxdma_handle) {
		case NOUVEAU_FIFO_ENGINE_GR:
			engine = 'gr';
			break;
		case NOUVEAU_FIFO_ENGINE_CE:
			engine = 'ce';
			break;
		case NOUVEAU_FIFO_ENGINE_VP:
		case NOUVEAU_FIFO_ENGINE_PPP:
		case NOUVEAU_FIFO_ENGINE_BSP:
			// Pre-Maxwell video engines: no GSP-era GPU has them.
			engine = undefined;
			break;
		default:
			return fail('ENOSYS');
	}
	args.fb_ctxdma_handle = 0;
	args.tt_ctxdma_handle = 0;
	return succeed(engine);
}

/** Continue with `fn` now, or once `value` resolves (device calls may answer asynchronously). */
function then<T, U>(value: T | Promise<T>, fn: (v: T) => U | Promise<U>): U | Promise<U> {
	return value instanceof Promise ? value.then(fn) : fn(value);
}

function channelVaSpace(file: DrmFile): IoctlResult<DeviceVaSpace> | Promise<IoctlResult<DeviceVaSpace>> {
	if (file.uvmm !== null) return succeed(file.uvmm.vaSpace);
	if (file.legacyVaSpace !== null) return succeed(file.legacyVaSpace);
	if (file.legacyVaSpacePending !== null) return file.legacyVaSpacePending;
	const dev = file.frontend.device;
	const install = (r: DeviceResult<DeviceVaSpace>): IoctlResult<DeviceVaSpace> => {
		file.legacyVaSpacePending = null;
		if (!r.ok) return fail(r.error);
		if (file.released) {
			dev.destroyVaSpace(r.value);
			return fail('EBADF');
		}
		file.legacyVaSpace = r.value;
		return succeed(r.value);
	};
	const r = dev.createVaSpace({ kernelManagedAddr: 0n, kernelManagedSize: 1n << BigInt(dev.info.vaBits) });
	if (!(r instanceof Promise)) return install(r);
	const pending = r.then(install);
	file.legacyVaSpacePending = pending;
	return pending;
}

/**
 * DRM_IOCTL_NOUVEAU_CHANNEL_ALLOC. `fb_ctxdma_handle == ~0` selects the engine through
 * `tt_ctxdma_handle` (GR or CE; an unknown selector is ENOSYS, an engine the GPU lacks EINVAL). The
 * channel gets a 4 KiB notifier buffer, returned as a new GEM handle. Allocating a channel before VM_INIT
 * rules VM_INIT out for this file. When the device creates channels asynchronously the ioctl waits; a
 * channel that arrives after the file was closed is destroyed again.
 */
export function nouveauChannelAllocIoctl(
	file: DrmFile,
	args: NouveauChannelAlloc,
): IoctlResult | Promise<IoctlResult> {
	const dev = file.frontend.device;
	if (file.uvmm === null && !file.uvmmPending) file.uvmmDisabled = true;
	const engine = selectEngine(args);
	if (!engine.ok) return engine;
	if (
		engine.value === undefined ||
		!dev.info.engines.includes(engine.value) ||
		args.fb_ctxdma_handle === 0xffffffff ||
		args.tt_ctxdma_handle === 0xffffffff
	) {
		return fail('EINVAL');
	}
	const kind = engine.value;
	return then(channelVaSpace(file), (va) => {
		if (!va.ok) return va;
		return then(dev.createChannel({ vaSpace: va.value, engine: kind }), (ch) =>
			installChannel(file, args, ch),
		);
	});
}

function installChannel(
	file: DrmFile,
	args: NouveauChannelAlloc,
	ch: DeviceResult<DeviceChannel>,
): IoctlResult {
	const dev = file.frontend.device;
	if (!ch.ok) return fail(ch.error);
	if (file.released) {
		dev.destroyChannel(ch.value);
		return fail('EBADF');
	}
	const ntfy = createGem(file, {
		size: NOTIFIER_SIZE,
		domain: NOUVEAU_GEM_DOMAIN_GART,
		align: VM_PAGE_SIZE,
		noShare: false,
	});
	if (!ntfy.ok) {
		dev.destroyChannel(ch.value);
		return ntfy;
	}
	const h = file.gemHandleCreate(ntfy.value);
	if (!h.ok) {
		ntfy.value.put();
		dev.destroyChannel(ch.value);
		return h;
	}
	// The channel keeps the creation reference of its notifier.
	file.channels.set(ch.value.id, { channel: ch.value, notifier: ntfy.value });
	args.channel = ch.value.id;
	args.pushbuf_domains = NOUVEAU_GEM_DOMAIN_VRAM | NOUVEAU_GEM_DOMAIN_GART;
	args.notifier_handle = h.value;
	args.nr_subchan = 0;
	for (const s of args.subchan) {
		s.handle = 0;
		s.grclass = 0;
	}
	return OK;
}

/** DRM_IOCTL_NOUVEAU_CHANNEL_FREE. ENOENT for a channel this file did not allocate. */
export function nouveauChannelFreeIoctl(file: DrmFile, args: NouveauChannelFree): IoctlResult {
	const ch = file.channels.get(args.channel);
	if (ch === undefined) return fail('ENOENT');
	file.channels.delete(args.channel);
	file.frontend.device.destroyChannel(ch.channel);
	ch.notifier.put();
	return OK;
}
