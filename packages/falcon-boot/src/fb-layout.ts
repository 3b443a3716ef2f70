/**
 * The frame-buffer layout of a GSP boot (hardware reference A.7, nova `fb.rs`), as pure functions.
 *
 * From the top of FB downwards: VGA workspace, FRTS (1 MiB), the RISC-V bootloader, the GSP ELF image, the
 * WPR2 heap; WPR2 spans from below the heap (room for `GspFwWprMeta`) to the end of FRTS; the 1 MiB below
 * WPR2 is the non-WPR heap.
 *
 * The WPR2 heap size follows nova's `LibosParams::wpr_heap_size` with the r570 constants of gsp-rpc.md §3:
 * LIBOS carve-out (0 for LIBOS2 chips, 22 MiB for LIBOS3 = GA102 and later) + base RM (8 MiB) + one client
 * (96 MiB) + 96 KiB per GiB of FB (rounded up to 1 MiB), clamped to 64–256 MiB (LIBOS2) or 88–280 MiB
 * (LIBOS3). Callers may pass other parameters ({@link HeapParams}).
 *
 * @module
 */

import { hex } from '@gspkit/hal';
import { FbLayoutError } from './errors.ts';

const KiB = 1024n;
const MiB = 1024n * KiB;
const GiB = 1024n * MiB;

/** Size of `GspFwWprMeta` (256 bytes in r535 and r570); WPR2 leaves room for it below the heap. */
export const WPR_META_SIZE = 256n;
/** FRTS size. */
export const FRTS_SIZE = 1n * MiB;
/** Size of the non-WPR heap below WPR2. */
export const NON_WPR_HEAP_SIZE = 1n * MiB;
/** The PRAMIN window: without a valid VGA workspace register, the workspace is the top 1 MiB. */
export const VGA_WORKSPACE_DEFAULT_SIZE = 1n * MiB;
/** VBIOS workspace size used when the register points below the top MiB (nouveau/nova). */
export const VBIOS_WORKSPACE_SIZE = 128n * KiB;

/** Alignments of the layout (nova `fb.rs`). */
export const FB_ALIGN = Object.freeze({
	frts: 128n * KiB,
	bootloader: 4n * KiB,
	elf: 64n * KiB,
	heap: 1n * MiB,
	wpr2: 1n * MiB,
});

/** WPR2 heap parameters (one LIBOS generation). */
export interface HeapParams {
	/** LIBOS carve-out (`GSP_FW_HEAP_PARAM_OS_SIZE_*`). */
	readonly carveout: bigint;
	/** RM boot working memory (`GSP_FW_HEAP_PARAM_BASE_RM_SIZE_TU10X`). */
	readonly baseRm: bigint;
	/** One RM client (`GSP_FW_HEAP_PARAM_CLIENT_ALLOC_SIZE`). */
	readonly clientAlloc: bigint;
	/** Management overhead per GiB of FB (`GSP_FW_HEAP_PARAM_SIZE_PER_GB_FB`). */
	readonly perGbFb: bigint;
	/** Smallest heap. */
	readonly min: bigint;
	/** Largest heap. */
	readonly max: bigint;
}

/** r570 LIBOS2 heap parameters (TU10x, GA100): carve-out 0, 64–256 MiB. */
export const R570_LIBOS2_HEAP: HeapParams = Object.freeze({
	carveout: 0n,
	baseRm: 8n * MiB,
	clientAlloc: 96n * MiB,
	perGbFb: 96n * KiB,
	min: 64n * MiB,
	max: 256n * MiB,
});

/** r570 LIBOS3 heap parameters (GA102 and later): carve-out 22 MiB, 88–280 MiB. */
export const R570_LIBOS3_HEAP: HeapParams = Object.freeze({
	carveout: 22n * MiB,
	baseRm: 8n * MiB,
	clientAlloc: 96n * MiB,
	perGbFb: 96n * KiB,
	min: 88n * MiB,
	max: 280n * MiB,
});

const alignDown = (v: bigint, a: bigint) => v - (v % a);
const alignUp = (v: bigint, a: bigint) => alignDown(v + a - 1n, a);

/**
 * WPR2 heap size for an FB of `fbSize` bytes: carve-out + base RM + client + `perGbFb` × ⌈fbSize / 1 GiB⌉
 * rounded up to 1 MiB, clamped to `[min, max]`.
 */
export function wprHeapSize(fbSize: bigint, params: HeapParams): bigint {
	const gb = (fbSize + GiB - 1n) / GiB;
	const overhead = alignUp(params.perGbFb * gb, 1n * MiB);
	const size = params.carveout + params.baseRm + params.clientAlloc + overhead;
	if (size < params.min) return params.min;
	if (size > params.max) return params.max;
	return size;
}

/** A `[start, end)` range of FB offsets. */
export interface FbRange {
	readonly start: bigint;
	readonly end: bigint;
}

/** Inputs of {@link computeFbLayout}. */
export interface FbLayoutInput {
	/** Usable FB size in bytes (`NV_USABLE_FB_SIZE_IN_MB` << 20). */
	readonly fbSize: bigint;
	/**
	 * The VGA workspace address from `NV_PDISP_VGA_WORKSPACE_BASE` when the register is valid and the chip has
	 * a display, else `undefined`.
	 */
	readonly vgaWorkspaceAddress: bigint | undefined;
	/** Size of the RISC-V bootloader payload. */
	readonly bootloaderSize: bigint;
	/** Size of the GSP `.fwimage`. */
	readonly elfSize: bigint;
	/** WPR2 heap parameters (or an explicit size). */
	readonly heap: HeapParams | { readonly size: bigint };
	/** VF partitions of the heap (0 without SR-IOV). */
	readonly vfPartitionCount?: number;
	/**
	 * FRTS size (default 1 MiB). GA100 has an empty FRTS region (nova `frts_size()` = 0: the region's start is
	 * still recorded, and FWSEC-FRTS is not run).
	 */
	readonly frtsSize?: bigint;
}

/** The FB layout of a boot. All ranges are `[start, end)` FB offsets. */
export interface FbLayout {
	readonly fb: FbRange;
	readonly vgaWorkspace: FbRange;
	readonly frts: FbRange;
	readonly bootloader: FbRange;
	readonly elf: FbRange;
	readonly wprHeap: FbRange;
	readonly wpr2: FbRange;
	readonly nonWprHeap: FbRange;
	/** `GspFwWprMeta.gspFwWprEnd`: the VGA workspace start aligned down to 128 KiB (= FRTS end). */
	readonly wprEnd: bigint;
	/** The heap size asked for (before alignment shrinks the range). */
	readonly heapSizeRequested: bigint;
	readonly vfPartitionCount: number;
}

/**
 * The VGA workspace start (nova/nouveau): the register's address when valid and at least `fb_end − 1 MiB`;
 * `fb_end − 128 KiB` when it points lower; `fb_end − 1 MiB` when invalid or absent.
 */
export function vgaWorkspaceStart(fbSize: bigint, registerAddress: bigint | undefined): bigint {
	const base = fbSize - VGA_WORKSPACE_DEFAULT_SIZE;
	if (registerAddress === undefined) return base;
	if (registerAddress < base) return fbSize - VBIOS_WORKSPACE_SIZE;
	return registerAddress;
}

/**
 * Compute the FB layout (reference A.7, nova `FbLayout::new`).
 * @throws FbLayoutError when a size is invalid or the layout does not fit below the top of FB.
 */
export function computeFbLayout(input: FbLayoutInput): FbLayout {
	const { fbSize } = input;
	const check = (ok: boolean, what: string, value: bigint) => {
		if (!ok)
			throw new FbLayoutError(`invalid ${what}: ${hex(value, 1)}`, { [what]: hex(value, 1) }, 'EINVAL');
	};
	check(fbSize > 0n && fbSize % MiB === 0n, 'fbSize', fbSize);
	check(input.bootloaderSize > 0n, 'bootloaderSize', input.bootloaderSize);
	check(input.elfSize > 0n, 'elfSize', input.elfSize);
	const vgaStart = vgaWorkspaceStart(fbSize, input.vgaWorkspaceAddress);
	check(vgaStart <= fbSize && vgaStart >= 0n, 'vgaWorkspaceAddress', input.vgaWorkspaceAddress ?? vgaStart);
	const vgaWorkspace = { start: vgaStart, end: fbSize };
	const wprEnd = alignDown(vgaStart, FB_ALIGN.frts);
	const frtsSize = input.frtsSize ?? FRTS_SIZE;
	check(frtsSize >= 0n && frtsSize % 4096n === 0n, 'frtsSize', frtsSize);
	const frts = { start: wprEnd - frtsSize, end: wprEnd };
	const blStart = alignDown(frts.start - input.bootloaderSize, FB_ALIGN.bootloader);
	const bootloader = { start: blStart, end: blStart + input.bootloaderSize };
	const elfStart = alignDown(bootloader.start - input.elfSize, FB_ALIGN.elf);
	const elf = { start: elfStart, end: elfStart + input.elfSize };
	const heapSizeRequested = 'size' in input.heap ? input.heap.size : wprHeapSize(fbSize, input.heap);
	check(heapSizeRequested > 0n, 'heapSize', heapSizeRequested);
	const wprHeap = {
		start: alignDown(elf.start - heapSizeRequested, FB_ALIGN.heap),
		end: alignDown(elf.start, FB_ALIGN.heap),
	};
	const wpr2 = { start: alignDown(wprHeap.start - WPR_META_SIZE, FB_ALIGN.wpr2), end: frts.end };
	const nonWprHeap = { start: wpr2.start - NON_WPR_HEAP_SIZE, end: wpr2.start };
	if (frts.start < 0n || nonWprHeap.start < 0n) {
		throw new FbLayoutError(
			`the GSP boot layout needs ${hex(fbSize - nonWprHeap.start, 1)} bytes below the top of FB but FB is ${hex(fbSize, 1)} bytes`,
			{ fbSize: hex(fbSize, 1), needed: hex(fbSize - nonWprHeap.start, 1) },
		);
	}
	return {
		fb: { start: 0n, end: fbSize },
		vgaWorkspace,
		frts,
		bootloader,
		elf,
		wprHeap,
		wpr2,
		nonWprHeap,
		wprEnd,
		heapSizeRequested,
		vfPartitionCount: input.vfPartitionCount ?? 0,
	};
}

/** Size of a range. */
export function rangeSize(r: FbRange): bigint {
	return r.end - r.start;
}
