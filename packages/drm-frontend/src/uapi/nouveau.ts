/**
 * nouveau uAPI (`include/uapi/drm/nouveau_drm.h`): the argument structs the frontend serves, as x86-64
 * layouts with kernel-doc style comments per field, plus the constants (GETPARAM ids, GEM domains, sync
 * types, VM_BIND ops and flags) and the `DRM_NOUVEAU_*` command numbers.
 *
 * @module
 */

import { array, i32, struct, u32, u64 } from '@gspkit/abi';

// ───────────────────────────── GETPARAM ─────────────────────────────

/** Layout of `struct drm_nouveau_getparam` (16 bytes). */
export const nouveauGetparam = struct('drm_nouveau_getparam', [
	['param', u64],
	['value', u64],
]);

/** struct drm_nouveau_getparam - argument of DRM_IOCTL_NOUVEAU_GETPARAM. */
export interface NouveauGetparam {
	/** @param: one of the `NOUVEAU_GETPARAM_*` ids (in); an unknown id is EINVAL. */
	param: bigint;
	/** @value: the parameter's value (out). */
	value: bigint;
}

/** `NOUVEAU_GETPARAM_PCI_VENDOR`: PCI vendor id (0x10de). */
export const NOUVEAU_GETPARAM_PCI_VENDOR = 3n;
/** `NOUVEAU_GETPARAM_PCI_DEVICE`: PCI device id. */
export const NOUVEAU_GETPARAM_PCI_DEVICE = 4n;
/** `NOUVEAU_GETPARAM_BUS_TYPE`: 0 AGP, 1 PCI, 2 PCIe, 3 SoC. */
export const NOUVEAU_GETPARAM_BUS_TYPE = 5n;
/** `NOUVEAU_GETPARAM_FB_SIZE`: usable VRAM in bytes. */
export const NOUVEAU_GETPARAM_FB_SIZE = 8n;
/** `NOUVEAU_GETPARAM_AGP_SIZE`: GPU-visible system memory (GART) in bytes. */
export const NOUVEAU_GETPARAM_AGP_SIZE = 9n;
/** `NOUVEAU_GETPARAM_CHIPSET_ID`: the chipset (e.g. 0x172 for GA102). */
export const NOUVEAU_GETPARAM_CHIPSET_ID = 11n;
/** `NOUVEAU_GETPARAM_VM_VRAM_BASE`: deprecated, always 0. */
export const NOUVEAU_GETPARAM_VM_VRAM_BASE = 12n;
/** `NOUVEAU_GETPARAM_GRAPH_UNITS`: GPC count | TPC count << 8 | ROP count << 32. */
export const NOUVEAU_GETPARAM_GRAPH_UNITS = 13n;
/** `NOUVEAU_GETPARAM_PTIMER_TIME`: the GPU timer in nanoseconds. */
export const NOUVEAU_GETPARAM_PTIMER_TIME = 14n;
/** `NOUVEAU_GETPARAM_HAS_BO_USAGE`: always 1. */
export const NOUVEAU_GETPARAM_HAS_BO_USAGE = 15n;
/** `NOUVEAU_GETPARAM_HAS_PAGEFLIP`: always 1 (as nouveau reports it, display or not). */
export const NOUVEAU_GETPARAM_HAS_PAGEFLIP = 16n;
/** `NOUVEAU_GETPARAM_EXEC_PUSH_MAX`: the most pushes one EXEC may carry. */
export const NOUVEAU_GETPARAM_EXEC_PUSH_MAX = 17n;
/** `NOUVEAU_GETPARAM_VRAM_BAR_SIZE`: the VRAM BAR (BAR1) size. */
export const NOUVEAU_GETPARAM_VRAM_BAR_SIZE = 18n;
/** `NOUVEAU_GETPARAM_VRAM_USED`: VRAM bytes currently allocated. */
export const NOUVEAU_GETPARAM_VRAM_USED = 19n;
/**
 * `NOUVEAU_GETPARAM_HAS_VMA_TILEMODE`: 1 when GEM_NEW accepts a tile mode and PTE kind checked against the
 * MMU's kind table. gspkit answers 0 (its device API has no kind table), so GEM_NEW takes no tile mode.
 */
export const NOUVEAU_GETPARAM_HAS_VMA_TILEMODE = 20n;

// ───────────────────────────── channels ─────────────────────────────

/** Layout of the anonymous `subchan[]` element of `struct drm_nouveau_channel_alloc`. */
export const nouveauSubchan = struct('drm_nouveau_channel_alloc_subchan', [
	['handle', u32],
	['grclass', u32],
]);

/** Layout of `struct drm_nouveau_channel_alloc` (88 bytes). */
export const nouveauChannelAlloc = struct('drm_nouveau_channel_alloc', [
	['fb_ctxdma_handle', u32],
	['tt_ctxdma_handle', u32],
	['channel', i32],
	['pushbuf_domains', u32],
	['notifier_handle', u32],
	['subchan', array(nouveauSubchan, 8)],
	['nr_subchan', u32],
]);

/** One DRM-enforced subchannel assignment (unused since Celsius: `nr_subchan` is 0). */
export interface NouveauSubchan {
	/** @handle: object handle bound to the subchannel. */
	handle: number;
	/** @grclass: the object's class. */
	grclass: number;
}

/** struct drm_nouveau_channel_alloc - argument of DRM_IOCTL_NOUVEAU_CHANNEL_ALLOC. */
export interface NouveauChannelAlloc {
	/**
	 * @fb_ctxdma_handle: ~0 selects the engine through `tt_ctxdma_handle` (`NOUVEAU_FIFO_ENGINE_*`); set
	 * to 0 on return in that case. Any other value means "graphics".
	 */
	fb_ctxdma_handle: number;
	/** @tt_ctxdma_handle: the `NOUVEAU_FIFO_ENGINE_*` selector when `fb_ctxdma_handle` is ~0. */
	tt_ctxdma_handle: number;
	/** @channel: the channel id (out), used by EXEC and CHANNEL_FREE. */
	channel: number;
	/** @pushbuf_domains: GEM domains push buffers may live in (out: VRAM | GART). */
	pushbuf_domains: number;
	/** @notifier_handle: GEM handle of the channel's notifier buffer, created in this file (out). */
	notifier_handle: number;
	/** @subchan: subchannel assignments (out; none on GSP-era GPUs). */
	subchan: NouveauSubchan[];
	/** @nr_subchan: number of valid `subchan` entries (out). */
	nr_subchan: number;
}

/** Layout of `struct drm_nouveau_channel_free` (4 bytes). */
export const nouveauChannelFree = struct('drm_nouveau_channel_free', [['channel', i32]]);

/** struct drm_nouveau_channel_free - argument of DRM_IOCTL_NOUVEAU_CHANNEL_FREE. */
export interface NouveauChannelFree {
	/** @channel: a channel id returned by CHANNEL_ALLOC on this file; another value is ENOENT. */
	channel: number;
}

/** `NOUVEAU_FIFO_ENGINE_GR`: graphics/compute engine. */
export const NOUVEAU_FIFO_ENGINE_GR = 0x01;
/** `NOUVEAU_FIFO_ENGINE_VP`: video processor. */
export const NOUVEAU_FIFO_ENGINE_VP = 0x02;
/** `NOUVEAU_FIFO_ENGINE_PPP`: post-processor. */
export const NOUVEAU_FIFO_ENGINE_PPP = 0x04;
/** `NOUVEAU_FIFO_ENGINE_BSP`: bitstream processor. */
export const NOUVEAU_FIFO_ENGINE_BSP = 0x08;
/** `NOUVEAU_FIFO_ENGINE_CE`: copy engine. */
export const NOUVEAU_FIFO_ENGINE_CE = 0x30;

// ───────────────────────────── GEM ─────────────────────────────

/** `NOUVEAU_GEM_DOMAIN_CPU`: system memory (implied when neither VRAM nor GART is given). */
export const NOUVEAU_GEM_DOMAIN_CPU = 1 << 0;
/** `NOUVEAU_GEM_DOMAIN_VRAM`: video memory. */
export const NOUVEAU_GEM_DOMAIN_VRAM = 1 << 1;
/** `NOUVEAU_GEM_DOMAIN_GART`: GPU-visible system memory. */
export const NOUVEAU_GEM_DOMAIN_GART = 1 << 2;
/** `NOUVEAU_GEM_DOMAIN_MAPPABLE`: CPU-mappable placement preferred. */
export const NOUVEAU_GEM_DOMAIN_MAPPABLE = 1 << 3;
/** `NOUVEAU_GEM_DOMAIN_COHERENT`: CPU-coherent mapping requested. */
export const NOUVEAU_GEM_DOMAIN_COHERENT = 1 << 4;
/** `NOUVEAU_GEM_DOMAIN_NO_SHARE`: never shared via import or export; needs VM_INIT first. */
export const NOUVEAU_GEM_DOMAIN_NO_SHARE = 1 << 5;

/** `NOUVEAU_GEM_TILE_NONCONTIG`: reported in `tile_flags` for non-contiguous buffers. */
export const NOUVEAU_GEM_TILE_NONCONTIG = 0x00000008;
/** `NOUVEAU_GEM_TILE_LAYOUT_MASK`: the PTE kind field of `tile_flags` (bits 8–15). */
export const NOUVEAU_GEM_TILE_LAYOUT_MASK = 0x0000ff00;

/** Layout of `struct drm_nouveau_gem_info` (40 bytes). */
export const nouveauGemInfo = struct('drm_nouveau_gem_info', [
	['handle', u32],
	['domain', u32],
	['size', u64],
	['offset', u64],
	['map_handle', u64],
	['tile_mode', u32],
	['tile_flags', u32],
]);

/** struct drm_nouveau_gem_info - argument of DRM_IOCTL_NOUVEAU_GEM_INFO and part of GEM_NEW. */
export interface NouveauGemInfo {
	/** @handle: the GEM handle (in for GEM_INFO, out for GEM_NEW). */
	handle: number;
	/** @domain: GEM_NEW: requested `NOUVEAU_GEM_DOMAIN_*`; out: the placement (VRAM or GART). */
	domain: number;
	/** @size: GEM_NEW: requested size; out: the size, rounded up to whole pages. */
	size: bigint;
	/** @offset: GPU address of a kernel-managed mapping; 0 (VM_BIND clients map with VM_BIND). */
	offset: bigint;
	/** @map_handle: fake offset to pass to mmap() on this DRM file (out). */
	map_handle: bigint;
	/** @tile_mode: tiling mode; must be 0 (HAS_VMA_TILEMODE is 0). */
	tile_mode: number;
	/** @tile_flags: tile flags / PTE kind; only `NOUVEAU_GEM_TILE_NONCONTIG` is accepted (HAS_VMA_TILEMODE is 0). */
	tile_flags: number;
}

/** Layout of `struct drm_nouveau_gem_new` (48 bytes). */
export const nouveauGemNew = struct('drm_nouveau_gem_new', [
	['info', nouveauGemInfo],
	['channel_hint', u32],
	['align', u32],
]);

/** struct drm_nouveau_gem_new - argument of DRM_IOCTL_NOUVEAU_GEM_NEW. */
export interface NouveauGemNew {
	/** @info: size and domain in; the new object's handle and properties out. */
	info: NouveauGemInfo;
	/** @channel_hint: ignored (a legacy placement hint). */
	channel_hint: number;
	/** @align: byte alignment of the backing memory (0 = page). */
	align: number;
}

/** `NOUVEAU_GEM_CPU_PREP_NOWAIT`: fail with EBUSY instead of waiting. */
export const NOUVEAU_GEM_CPU_PREP_NOWAIT = 0x00000001;
/** `NOUVEAU_GEM_CPU_PREP_WRITE`: the CPU will write: wait for readers too. */
export const NOUVEAU_GEM_CPU_PREP_WRITE = 0x00000004;

/** Layout of `struct drm_nouveau_gem_cpu_prep` (8 bytes). */
export const nouveauGemCpuPrep = struct('drm_nouveau_gem_cpu_prep', [
	['handle', u32],
	['flags', u32],
]);

/** struct drm_nouveau_gem_cpu_prep - argument of DRM_IOCTL_NOUVEAU_GEM_CPU_PREP. */
export interface NouveauGemCpuPrep {
	/** @handle: the GEM handle to make CPU-ready (ENOENT if unknown). */
	handle: number;
	/** @flags: {@link NOUVEAU_GEM_CPU_PREP_NOWAIT} and/or {@link NOUVEAU_GEM_CPU_PREP_WRITE}. */
	flags: number;
}

/** Layout of `struct drm_nouveau_gem_cpu_fini` (4 bytes). */
export const nouveauGemCpuFini = struct('drm_nouveau_gem_cpu_fini', [['handle', u32]]);

/** struct drm_nouveau_gem_cpu_fini - argument of DRM_IOCTL_NOUVEAU_GEM_CPU_FINI. */
export interface NouveauGemCpuFini {
	/** @handle: the GEM handle the CPU is done with (ENOENT if unknown). */
	handle: number;
}

// ───────────────────────────── VM_INIT / VM_BIND / EXEC ─────────────────────────────

/** Layout of `struct drm_nouveau_sync` (16 bytes). */
export const nouveauSync = struct('drm_nouveau_sync', [
	['flags', u32],
	['handle', u32],
	['timeline_value', u64],
]);

/** struct drm_nouveau_sync - one in- or out-sync of VM_BIND / EXEC. */
export interface NouveauSync {
	/** @flags: bits 0–3 are the type ({@link DRM_NOUVEAU_SYNC_SYNCOBJ} or `_TIMELINE_SYNCOBJ`). */
	flags: number;
	/** @handle: the syncobj handle. */
	handle: number;
	/** @timeline_value: the timeline point (timeline type only). */
	timeline_value: bigint;
}

/** `DRM_NOUVEAU_SYNC_SYNCOBJ`: a binary syncobj. */
export const DRM_NOUVEAU_SYNC_SYNCOBJ = 0x0;
/** `DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ`: a timeline syncobj point. */
export const DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ = 0x1;
/** `DRM_NOUVEAU_SYNC_TYPE_MASK`. */
export const DRM_NOUVEAU_SYNC_TYPE_MASK = 0xf;

/** Layout of `struct drm_nouveau_vm_init` (16 bytes). */
export const nouveauVmInit = struct('drm_nouveau_vm_init', [
	['kernel_managed_addr', u64],
	['kernel_managed_size', u64],
]);

/** struct drm_nouveau_vm_init - argument of DRM_IOCTL_NOUVEAU_VM_INIT. */
export interface NouveauVmInit {
	/** @kernel_managed_addr: start of the VA range the kernel manages (VM_BIND may not touch it). */
	kernel_managed_addr: bigint;
	/** @kernel_managed_size: size of that range in bytes. */
	kernel_managed_size: bigint;
}

/** Layout of `struct drm_nouveau_vm_bind_op` (40 bytes). */
export const nouveauVmBindOp = struct('drm_nouveau_vm_bind_op', [
	['op', u32],
	['flags', u32],
	['handle', u32],
	['pad', u32],
	['addr', u64],
	['bo_offset', u64],
	['range', u64],
]);

/** struct drm_nouveau_vm_bind_op - one VM_BIND operation. */
export interface NouveauVmBindOp {
	/** @op: {@link DRM_NOUVEAU_VM_BIND_OP_MAP} or {@link DRM_NOUVEAU_VM_BIND_OP_UNMAP}. */
	op: number;
	/** @flags: {@link DRM_NOUVEAU_VM_BIND_SPARSE}; bits 0–7 of a MAP are the PTE kind. */
	flags: number;
	/** @handle: the GEM object to map (MAP without SPARSE only). */
	handle: number;
	/** @pad: padding, must be zero. */
	pad: number;
	/** @addr: page-aligned GPU virtual address. */
	addr: bigint;
	/** @bo_offset: page-aligned offset into the GEM object. */
	bo_offset: bigint;
	/** @range: page-aligned size in bytes. */
	range: bigint;
}

/** `DRM_NOUVEAU_VM_BIND_OP_MAP`. */
export const DRM_NOUVEAU_VM_BIND_OP_MAP = 0x0;
/** `DRM_NOUVEAU_VM_BIND_OP_UNMAP`. */
export const DRM_NOUVEAU_VM_BIND_OP_UNMAP = 0x1;
/** `DRM_NOUVEAU_VM_BIND_SPARSE`: the op creates / removes a sparse region. */
export const DRM_NOUVEAU_VM_BIND_SPARSE = 1 << 8;
/** `DRM_NOUVEAU_VM_BIND_RUN_ASYNC`: run asynchronously (required for in/out syncs). */
export const DRM_NOUVEAU_VM_BIND_RUN_ASYNC = 0x1;

/** Layout of `struct drm_nouveau_vm_bind` (40 bytes). */
export const nouveauVmBind = struct('drm_nouveau_vm_bind', [
	['op_count', u32],
	['flags', u32],
	['wait_count', u32],
	['sig_count', u32],
	['wait_ptr', u64],
	['sig_ptr', u64],
	['op_ptr', u64],
]);

/** struct drm_nouveau_vm_bind - argument of DRM_IOCTL_NOUVEAU_VM_BIND. */
export interface NouveauVmBind {
	/** @op_count: number of ops at `op_ptr` (0 = only process the syncs). */
	op_count: number;
	/** @flags: {@link DRM_NOUVEAU_VM_BIND_RUN_ASYNC}. */
	flags: number;
	/** @wait_count: number of in-syncs at `wait_ptr` (needs RUN_ASYNC). */
	wait_count: number;
	/** @sig_count: number of out-syncs at `sig_ptr` (needs RUN_ASYNC). */
	sig_count: number;
	/** @wait_ptr: user pointer to `struct drm_nouveau_sync[wait_count]`. */
	wait_ptr: bigint;
	/** @sig_ptr: user pointer to `struct drm_nouveau_sync[sig_count]`. */
	sig_ptr: bigint;
	/** @op_ptr: user pointer to `struct drm_nouveau_vm_bind_op[op_count]`. */
	op_ptr: bigint;
}

/** Layout of `struct drm_nouveau_exec_push` (16 bytes). */
export const nouveauExecPush = struct('drm_nouveau_exec_push', [
	['va', u64],
	['va_len', u32],
	['flags', u32],
]);

/** struct drm_nouveau_exec_push - one push buffer of an EXEC. */
export interface NouveauExecPush {
	/** @va: GPU virtual address of the push buffer. */
	va: bigint;
	/** @va_len: its length in bytes (at most {@link NV50_DMA_PUSH_MAX_LENGTH}). */
	va_len: number;
	/** @flags: {@link DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH}. */
	flags: number;
}

/** `DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH`. */
export const DRM_NOUVEAU_EXEC_PUSH_NO_PREFETCH = 0x1;
/** `NV50_DMA_PUSH_MAX_LENGTH`: the longest push one GPFIFO entry can describe. */
export const NV50_DMA_PUSH_MAX_LENGTH = 0x7fffff;

/** Layout of `struct drm_nouveau_exec` (40 bytes). */
export const nouveauExec = struct('drm_nouveau_exec', [
	['channel', u32],
	['push_count', u32],
	['wait_count', u32],
	['sig_count', u32],
	['wait_ptr', u64],
	['sig_ptr', u64],
	['push_ptr', u64],
]);

/** struct drm_nouveau_exec - argument of DRM_IOCTL_NOUVEAU_EXEC (always asynchronous). */
export interface NouveauExec {
	/** @channel: channel id from CHANNEL_ALLOC on this file. */
	channel: number;
	/** @push_count: number of pushes at `push_ptr` (at most GETPARAM EXEC_PUSH_MAX). */
	push_count: number;
	/** @wait_count: number of in-syncs at `wait_ptr`. */
	wait_count: number;
	/** @sig_count: number of out-syncs at `sig_ptr`. */
	sig_count: number;
	/** @wait_ptr: user pointer to `struct drm_nouveau_sync[wait_count]`. */
	wait_ptr: bigint;
	/** @sig_ptr: user pointer to `struct drm_nouveau_sync[sig_count]`. */
	sig_ptr: bigint;
	/** @push_ptr: user pointer to `struct drm_nouveau_exec_push[push_count]`. */
	push_ptr: bigint;
}

// ───────────────────────────── command numbers ─────────────────────────────

/** `DRM_NOUVEAU_GETPARAM` (offset from `DRM_COMMAND_BASE`). */
export const DRM_NOUVEAU_GETPARAM = 0x00;
/** `DRM_NOUVEAU_CHANNEL_ALLOC`. */
export const DRM_NOUVEAU_CHANNEL_ALLOC = 0x02;
/** `DRM_NOUVEAU_CHANNEL_FREE`. */
export const DRM_NOUVEAU_CHANNEL_FREE = 0x03;
/** `DRM_NOUVEAU_VM_INIT`. */
export const DRM_NOUVEAU_VM_INIT = 0x10;
/** `DRM_NOUVEAU_VM_BIND`. */
export const DRM_NOUVEAU_VM_BIND = 0x11;
/** `DRM_NOUVEAU_EXEC`. */
export const DRM_NOUVEAU_EXEC = 0x12;
/** `DRM_NOUVEAU_GEM_NEW`. */
export const DRM_NOUVEAU_GEM_NEW = 0x40;
/** `DRM_NOUVEAU_GEM_CPU_PREP`. */
export const DRM_NOUVEAU_GEM_CPU_PREP = 0x42;
/** `DRM_NOUVEAU_GEM_CPU_FINI`. */
export const DRM_NOUVEAU_GEM_CPU_FINI = 0x43;
/** `DRM_NOUVEAU_GEM_INFO`. */
export const DRM_NOUVEAU_GEM_INFO = 0x44;
