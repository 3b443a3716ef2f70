/**
 * The LIBOS arguments the GSP reads at start (gsp-rpc.md §1.7): one 4 KiB page of
 * `LibosMemoryRegionInitArgument` entries — LOGINIT, LOGINTR, LOGRM (64 KiB log buffers each) and RMARGS —
 * whose address goes to GSP MAILBOX0/1. Each log buffer starts with a u64 write pointer followed by the DMA
 * addresses of its own pages (as nouveau and nova build them); RMARGS is one page holding
 * `GSP_ARGUMENTS_CACHED`, written through the ABI.
 *
 * @module
 */

import type { DmaBuffer, DmaMemory } from '@gspkit/hal';
import type { BootAbi, RmArgsFields } from './boot-abi.ts';
import { BootAbiError } from './errors.ts';

/** Size of each LIBOS log buffer. */
export const LIBOS_LOG_SIZE = 64 * 1024;
/** Size of the LIBOS argument page and of the RMARGS page. */
export const LIBOS_PAGE_SIZE = 4096;
/** `LIBOS_MEMORY_REGION_CONTIGUOUS`. */
export const LIBOS_REGION_KIND_CONTIGUOUS = 1;
/** `LIBOS_MEMORY_REGION_LOC_SYSMEM`. */
export const LIBOS_REGION_LOC_SYSMEM = 1;
/** The regions, in the order they appear in the argument page. */
export const LIBOS_REGION_NAMES = ['LOGINIT', 'LOGINTR', 'LOGRM', 'RMARGS'] as const;

/**
 * Pack a region name (1–8 printable ASCII characters) big-endian into a u64, as LIBOS expects:
 * `libosId8('LOGINIT') === 0x004c4f47494e4954n`.
 * @throws BootAbiError for an empty, too long or non-ASCII name.
 */
export function libosId8(name: string): bigint {
	if (name.length === 0 || name.length > 8 || !/^[\x20-\x7e]+$/.test(name)) {
		throw new BootAbiError(
			`LIBOS region name ${JSON.stringify(name)} must be 1..8 printable ASCII characters`,
			{
				name,
			},
		);
	}
	let id = 0n;
	for (let i = 0; i < name.length; i++) id = (id << 8n) | BigInt(name.charCodeAt(i));
	return id;
}

/** The LIBOS buffers of a boot. */
export interface LibosBuffers {
	/** The argument page (its bus address goes to GSP MAILBOX0/1). */
	readonly args: DmaBuffer;
	readonly logInit: DmaBuffer;
	readonly logIntr: DmaBuffer;
	readonly logRm: DmaBuffer;
	/** The RMARGS page (`GSP_ARGUMENTS_CACHED`). */
	readonly rmArgs: DmaBuffer;
}

/** Fill a log buffer's page table: u64 at 0 is the write pointer (0), then one u64 DMA address per page. */
export function initLogBuffer(buf: DmaBuffer): void {
	buf.bytes.fill(0);
	const pages = Math.floor(buf.size / LIBOS_PAGE_SIZE);
	for (let i = 0; i < pages; i++)
		buf.view.setBigUint64(8 + 8 * i, buf.busAddress + BigInt(i * LIBOS_PAGE_SIZE), true);
}

/**
 * Allocate the log buffers, the RMARGS page and the argument page, and write the four region entries
 * (kind CONTIGUOUS, location SYSMEM) through the ABI. RMARGS stays zero until {@link writeRmArgs}.
 * On failure every allocation is freed.
 */
export function allocLibos(dma: DmaMemory, abi: BootAbi): LibosBuffers {
	const made: DmaBuffer[] = [];
	const alloc = (size: number, label: string) => {
		const b = dma.alloc(size, { align: LIBOS_PAGE_SIZE, zero: true, label });
		made.push(b);
		return b;
	};
	try {
		if (abi.libosRegion.size * LIBOS_REGION_NAMES.length > LIBOS_PAGE_SIZE) {
			throw new RangeError(
				`${LIBOS_REGION_NAMES.length} LIBOS regions of ${abi.libosRegion.size} bytes exceed a page`,
			);
		}
		const logInit = alloc(LIBOS_LOG_SIZE, 'libos-loginit');
		const logIntr = alloc(LIBOS_LOG_SIZE, 'libos-logintr');
		const logRm = alloc(LIBOS_LOG_SIZE, 'libos-logrm');
		const rmArgs = alloc(LIBOS_PAGE_SIZE, 'libos-rmargs');
		const args = alloc(LIBOS_PAGE_SIZE, 'libos-args');
		for (const b of [logInit, logIntr, logRm]) initLogBuffer(b);
		const regions = [logInit, logIntr, logRm, rmArgs];
		LIBOS_REGION_NAMES.forEach((name, i) => {
			const b = regions[i] as DmaBuffer;
			abi.libosRegion.encode(
				{
					id8: libosId8(name),
					pa: b.busAddress,
					size: BigInt(b.size),
					kind: LIBOS_REGION_KIND_CONTIGUOUS,
					loc: LIBOS_REGION_LOC_SYSMEM,
				},
				args.bytes,
				i * abi.libosRegion.size,
			);
		});
		return { args, logInit, logIntr, logRm, rmArgs };
	} catch (e) {
		for (const b of made) dma.free(b);
		throw e;
	}
}

/** RMARGS for a cold boot without message queues (all queue fields 0); the RPC layer supplies real ones. */
export const EMPTY_RM_ARGS: RmArgsFields = Object.freeze({
	messageQueue: { sharedMemPhysAddr: 0n, pageTableEntryCount: 0, cmdQueueOffset: 0n, statQueueOffset: 0n },
	srInit: { oldLevel: 0, flags: 0, inPmTransition: false },
	gpuInstance: 0,
	profiler: { pa: 0n, size: 0n },
	dmemStack: true,
});

/** Write `GSP_ARGUMENTS_CACHED` into the RMARGS page through the ABI. */
export function writeRmArgs(abi: BootAbi, rmArgs: DmaBuffer, fields: RmArgsFields): void {
	rmArgs.bytes.fill(0);
	abi.rmArgs.encode(fields, rmArgs.bytes, 0);
}
