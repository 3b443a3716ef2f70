/**
 * Filling `GspFwWprMeta` (hardware reference A.7, nova `GspFwWprMeta::new`): where booter finds the GSP image
 * (radix3), the RISC-V bootloader and the signature in system memory, and where everything goes in FB.
 * Pure: the ABI's codec ({@link WprMetaCodec}) turns the fields into bytes.
 *
 * @module
 */

import type { WprMetaFields } from './boot-abi.ts';
import { type FbLayout, rangeSize } from './fb-layout.ts';

/** The system-memory side of the WPR meta: DMA addresses and sizes. */
export interface WprMetaSysmem {
	/** L0 of the radix3 tables over `.fwimage`. */
	readonly radix3L0Address: bigint;
	/** `.fwimage` size. */
	readonly imageSize: bigint;
	/** The RISC-V bootloader payload in DMA memory. */
	readonly bootloaderAddress: bigint;
	readonly bootloaderSize: bigint;
	/** `RM_RISCV_UCODE_DESC` offsets in the payload: monitor code, monitor data, manifest. */
	readonly bootloaderCodeOffset: number;
	readonly bootloaderDataOffset: number;
	readonly bootloaderManifestOffset: number;
	/** This chip's `.fwsignature_*` section in DMA memory. */
	readonly signatureAddress: bigint;
	readonly signatureSize: bigint;
}

/**
 * The neutral `GspFwWprMeta` fields for a layout and the DMA buffers (nova's assignments): the reserved start
 * and the non-WPR heap are the 1 MiB below WPR2, the heap is the WPR2 heap range, `gspFwWprEnd` is the VGA
 * workspace aligned down to 128 KiB.
 */
export function wprMetaFields(layout: FbLayout, s: WprMetaSysmem): WprMetaFields {
	return {
		sysmemAddrOfRadix3Elf: s.radix3L0Address,
		sizeOfRadix3Elf: s.imageSize,
		sysmemAddrOfBootloader: s.bootloaderAddress,
		sizeOfBootloader: s.bootloaderSize,
		bootloaderCodeOffset: BigInt(s.bootloaderCodeOffset),
		bootloaderDataOffset: BigInt(s.bootloaderDataOffset),
		bootloaderManifestOffset: BigInt(s.bootloaderManifestOffset),
		sysmemAddrOfSignature: s.signatureAddress,
		sizeOfSignature: s.signatureSize,
		gspFwRsvdStart: layout.nonWprHeap.start,
		nonWprHeapOffset: layout.nonWprHeap.start,
		nonWprHeapSize: rangeSize(layout.nonWprHeap),
		gspFwWprStart: layout.wpr2.start,
		gspFwHeapOffset: layout.wprHeap.start,
		gspFwHeapSize: rangeSize(layout.wprHeap),
		gspFwOffset: layout.elf.start,
		bootBinOffset: layout.bootloader.start,
		frtsOffset: layout.frts.start,
		frtsSize: rangeSize(layout.frts),
		gspFwWprEnd: layout.wprEnd,
		fbSize: rangeSize(layout.fb),
		vgaWorkspaceOffset: layout.vgaWorkspace.start,
		vgaWorkspaceSize: rangeSize(layout.vgaWorkspace),
		bootCount: 0n,
		gspFwHeapVfPartitionCount: layout.vfPartitionCount,
		pmuReservedSize: 0,
		flags: 0,
	};
}
