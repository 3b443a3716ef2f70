/**
 * The shared region GSP-RM expects (reference §1.1): one block of coherent system memory holding the page
 * table for the whole region, then the command queue, then the status queue, each page-aligned.
 *
 * With the silicon queue sizes (2 × 256 KiB) that is 128 queue pages + 1 page of page table = 129 PTEs, the
 * command queue at 0x1000, the status queue at 0x41000 and 0x81000 bytes in all. Each PTE is the u64 bus
 * address of page i; the table maps itself (PTE 0 is the table's own page).
 *
 * @module
 */

import { InvalidArgumentError } from '@gspkit/hal';
import { GSP_PAGE_SIZE, GSP_QUEUE_SIZE } from './constants.ts';

/** Queue sizes; both default to {@link GSP_QUEUE_SIZE} (pre-silicon firmware wants a 6× larger command queue). */
export interface RegionSizes {
	/** Command-queue size (header page + entries), a multiple of 4 KiB. */
	readonly cmdqSize?: number;
	/** Status-queue size (header page + entries), a multiple of 4 KiB. */
	readonly statqSize?: number;
}

/** Where everything lives in the shared region (offsets from its start). */
export interface RegionLayout {
	readonly cmdqSize: number;
	readonly statqSize: number;
	/** Number of PTEs: queue pages + page-table pages (129 by default). */
	readonly pteCount: number;
	/** Bytes of page table, rounded up to whole pages. */
	readonly pageTableBytes: number;
	/** Offset of the command queue's header page (0x1000 by default). */
	readonly cmdqOffset: number;
	/** Offset of the status queue's header page (0x41000 by default). */
	readonly statqOffset: number;
	/** Total size (0x81000 by default). */
	readonly totalSize: number;
}

function checkQueueSize(what: string, size: number): void {
	if (!Number.isSafeInteger(size) || size < 2 * GSP_PAGE_SIZE || size % GSP_PAGE_SIZE !== 0) {
		throw new InvalidArgumentError(`${what} must be a multiple of 4 KiB and at least two pages`, {
			[what]: size,
		});
	}
}

/**
 * Compute the region layout as OpenRM's `GspMsgQueueInit` and nouveau's `r535_gsp_shared_init` do:
 * PTEs = queue pages + ceil(queue pages × 8 / 4096), the table rounded up to whole pages.
 */
export function regionLayout(sizes: RegionSizes = {}): RegionLayout {
	const cmdqSize = sizes.cmdqSize ?? GSP_QUEUE_SIZE;
	const statqSize = sizes.statqSize ?? GSP_QUEUE_SIZE;
	checkQueueSize('cmdqSize', cmdqSize);
	checkQueueSize('statqSize', statqSize);
	const queuePages = (cmdqSize + statqSize) / GSP_PAGE_SIZE;
	const tablePages = Math.ceil((queuePages * 8) / GSP_PAGE_SIZE);
	const pageTableBytes = tablePages * GSP_PAGE_SIZE;
	return Object.freeze({
		cmdqSize,
		statqSize,
		pteCount: queuePages + tablePages,
		pageTableBytes,
		cmdqOffset: pageTableBytes,
		statqOffset: pageTableBytes + cmdqSize,
		totalSize: pageTableBytes + cmdqSize + statqSize,
	});
}

/**
 * The values of `MESSAGE_QUEUE_INIT_ARGUMENTS` that falcon-boot/core put into the RMARGS page (encoded with the
 * ABI's own layout: r535 also has lockless queue offsets, which are 0).
 */
export interface MessageQueueInitArguments {
	/** Bus address of the region (= PTE 0). */
	readonly sharedMemPhysAddr: bigint;
	/** Number of PTEs (129). */
	readonly pageTableEntryCount: number;
	/** Region start → command-queue header (0x1000). */
	readonly cmdQueueOffset: bigint;
	/** Region start → status-queue header (0x41000). */
	readonly statQueueOffset: bigint;
}

/** The init arguments for a region at `busAddress`. */
export function messageQueueInitArguments(
	busAddress: bigint,
	layout: RegionLayout,
): MessageQueueInitArguments {
	return Object.freeze({
		sharedMemPhysAddr: busAddress,
		pageTableEntryCount: layout.pteCount,
		cmdQueueOffset: BigInt(layout.cmdqOffset),
		statQueueOffset: BigInt(layout.statqOffset),
	});
}

/** Write the page table: PTE i (u64 little-endian at 8·i) = `busAddress + i·4096`, for every page of the region. */
export function writePageTable(memory: Uint8Array, busAddress: bigint, layout: RegionLayout): void {
	if (memory.length < layout.totalSize) {
		throw new InvalidArgumentError(`shared region needs ${layout.totalSize} bytes, got ${memory.length}`, {
			needed: layout.totalSize,
			got: memory.length,
		});
	}
	const dv = new DataView(memory.buffer, memory.byteOffset, layout.pageTableBytes);
	for (let i = 0; i < layout.pteCount; i++) {
		dv.setBigUint64(i * 8, busAddress + BigInt(i * GSP_PAGE_SIZE), true);
	}
}
