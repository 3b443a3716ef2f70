/**
 * The boot handoff as GSP-RM sees it (reference §1.7): the `app_version` the CPU writes to the GSP OS
 * register once booter started the core (reference A.8 step 8), the LIBOS memory-region array whose address
 * the CPU put in GSP MAILBOX0/1, the log buffers, the RMARGS page (`GSP_ARGUMENTS_CACHED` →
 * `MESSAGE_QUEUE_INIT_ARGUMENTS`), and the PTE table of the shared queue region, which must map the region
 * onto itself (page i at base + i × 4 KiB).
 *
 * @module
 */

import type { GspRmAbi } from './abi.ts';
import { GSP_PAGE_SIZE, id8Name, LIBOS_KIND_CONTIGUOUS, LIBOS_LOC_SYSMEM } from './constants.ts';
import type { GspMemory } from './memory.ts';

/** One entry of the LIBOS memory-region array. */
export interface LibosRegion {
	/** The name in `id8`, e.g. `'LOGINIT'`. */
	readonly name: string;
	readonly id8: bigint;
	readonly pa: bigint;
	readonly size: bigint;
	readonly kind: number;
	readonly loc: number;
}

/** `MESSAGE_QUEUE_INIT_ARGUMENTS` (the fields both branches have). */
export interface QueueInitArguments {
	readonly sharedMemPhysAddr: bigint;
	readonly pageTableEntryCount: number;
	readonly cmdQueueOffset: bigint;
	readonly statQueueOffset: bigint;
}

/** What the RMARGS page holds. */
export interface RmArguments {
	readonly queue: QueueInitArguments;
	readonly srInitArguments: {
		readonly oldLevel: number;
		readonly flags: number;
		readonly bInPMTransition: number;
	};
	readonly gpuInstance: number;
	/** r570 only: `bDmemStack`. */
	readonly bDmemStack: number | undefined;
}

/** A boot check that failed, with the text firmware would log. */
export class BootFailure extends Error {
	override readonly name = 'BootFailure';
}

/**
 * The `app_version` handshake: after booter started the GSP core, the CPU writes the `app_version` of the
 * RISC-V bootloader descriptor (`RM_RISCV_UCODE_DESC`) to the GSP OS register, and the GSP only goes on when
 * it is the version of the bootloader booter verified: a driver that writes another value is refused, and one
 * that never writes it never gets GSP-RM. The boot hardware calls this on the first OS write after the start
 * and, on failure, stops the core with `GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH` in GSP MAILBOX0.
 * @throws BootFailure naming both values and the bootloader.
 */
export function checkAppVersion(
	osRegister: number,
	bootloader: { readonly name: string; readonly appVersion: number },
): void {
	const os = osRegister >>> 0;
	const want = bootloader.appVersion >>> 0;
	if (os !== want) {
		throw new BootFailure(
			`GSP OS register holds app_version 0x${os.toString(16)}; the bootloader booter verified is app_version 0x${want.toString(16)} (${bootloader.name})`,
		);
	}
}

/** Where the shared queue region is and how big, after its PTE table checked out. */
export interface SharedRegion {
	readonly base: bigint;
	readonly size: number;
	readonly pteCount: number;
	readonly cmdQueueOffset: number;
	readonly statQueueOffset: number;
}

/** Read the LIBOS region array (one 4 KiB page, entries until a zero `id8`). */
export function readLibosRegions(memory: GspMemory, abi: GspRmAbi, address: bigint): LibosRegion[] {
	const entrySize = abi.sizeOf('LibosMemoryRegionInitArgument');
	let page: Uint8Array;
	try {
		page = memory.view(address, GSP_PAGE_SIZE);
	} catch (e) {
		throw new BootFailure(
			`LIBOS argument page at 0x${address.toString(16)} is not readable: ${(e as Error).message}`,
		);
	}
	const out: LibosRegion[] = [];
	const seen = new Set<string>();
	for (let off = 0; off + entrySize <= GSP_PAGE_SIZE; off += entrySize) {
		const e = abi.decode('LibosMemoryRegionInitArgument', page, off);
		const id = e.id8 as bigint;
		if (id === 0n) break;
		const name = id8Name(id);
		if (seen.has(name)) throw new BootFailure(`LIBOS region ${name} appears twice`);
		seen.add(name);
		const region: LibosRegion = {
			name,
			id8: id,
			pa: e.pa as bigint,
			size: e.size as bigint,
			kind: e.kind as number,
			loc: e.loc as number,
		};
		if (region.kind !== LIBOS_KIND_CONTIGUOUS) {
			throw new BootFailure(`LIBOS region ${name}: kind ${region.kind} (only CONTIGUOUS = 1 is supported)`);
		}
		if (region.loc !== LIBOS_LOC_SYSMEM) {
			throw new BootFailure(`LIBOS region ${name}: loc ${region.loc} (only SYSMEM = 1 is supported)`);
		}
		if (region.size === 0n || region.size > 0x1_0000_0000n) {
			throw new BootFailure(`LIBOS region ${name}: size 0x${region.size.toString(16)} is not usable`);
		}
		try {
			memory.view(region.pa, Number(region.size));
		} catch (e) {
			throw new BootFailure(
				`LIBOS region ${name} at 0x${region.pa.toString(16)} is not mapped: ${(e as Error).message}`,
			);
		}
		out.push(region);
	}
	return out;
}

/** Read `GSP_ARGUMENTS_CACHED` from the RMARGS region, in the layout of the booted branch. */
export function readRmArguments(memory: GspMemory, abi: GspRmAbi, rmargs: LibosRegion): RmArguments {
	const size = abi.sizeOf('GSP_ARGUMENTS_CACHED');
	if (rmargs.size < BigInt(size)) {
		throw new BootFailure(
			`RMARGS is ${rmargs.size} bytes, GSP_ARGUMENTS_CACHED needs ${size} (firmware ${abi.version})`,
		);
	}
	const a = abi.decode('GSP_ARGUMENTS_CACHED', memory.view(rmargs.pa, size));
	const q = a.messageQueueInitArguments as Record<string, unknown>;
	const sr = a.srInitArguments as Record<string, unknown>;
	return {
		queue: {
			sharedMemPhysAddr: q.sharedMemPhysAddr as bigint,
			pageTableEntryCount: q.pageTableEntryCount as number,
			cmdQueueOffset: q.cmdQueueOffset as bigint,
			statQueueOffset: q.statQueueOffset as bigint,
		},
		srInitArguments: {
			oldLevel: sr.oldLevel as number,
			flags: sr.flags as number,
			bInPMTransition: Number(sr.bInPMTransition),
		},
		gpuInstance: a.gpuInstance as number,
		bDmemStack: a.bDmemStack === undefined ? undefined : Number(a.bDmemStack),
	};
}

/**
 * Check the shared region's PTE table: every one of the `pageTableEntryCount` entries must be the bus address
 * of page i of the region (the table maps the region, itself included), and both queue offsets must be page
 * aligned, after the table, in order and inside the region.
 */
export function checkSharedRegion(memory: GspMemory, q: QueueInitArguments): SharedRegion {
	const count = q.pageTableEntryCount;
	const base = q.sharedMemPhysAddr;
	if (count < 4 || count > 0x10000)
		throw new BootFailure(`pageTableEntryCount ${count} is not a usable region size`);
	if (base % BigInt(GSP_PAGE_SIZE) !== 0n) {
		throw new BootFailure(`sharedMemPhysAddr 0x${base.toString(16)} is not 4 KiB aligned`);
	}
	const size = count * GSP_PAGE_SIZE;
	let region: Uint8Array;
	try {
		region = memory.view(base, size);
	} catch (e) {
		throw new BootFailure(
			`shared queue region 0x${base.toString(16)}+0x${size.toString(16)} (${count} PTEs) is not mapped: ${(e as Error).message}`,
		);
	}
	const dv = new DataView(region.buffer, region.byteOffset, region.byteLength);
	for (let i = 0; i < count; i++) {
		const pte = dv.getBigUint64(i * 8, true);
		const want = base + BigInt(i * GSP_PAGE_SIZE);
		if (pte !== want) {
			throw new BootFailure(
				`shared queue region PTE[${i}] = 0x${pte.toString(16)}, expected 0x${want.toString(16)} (the region must map itself page by page)`,
			);
		}
	}
	const tableEnd = Math.ceil((count * 8) / GSP_PAGE_SIZE) * GSP_PAGE_SIZE;
	const cmd = q.cmdQueueOffset;
	const stat = q.statQueueOffset;
	const page = BigInt(GSP_PAGE_SIZE);
	if (
		cmd % page !== 0n ||
		stat % page !== 0n ||
		cmd < BigInt(tableEnd) ||
		stat <= cmd ||
		stat >= BigInt(size)
	) {
		throw new BootFailure(
			`queue offsets cmd 0x${cmd.toString(16)} / stat 0x${stat.toString(16)} must be page aligned, after the 0x${tableEnd.toString(16)}-byte PTE table, in order and inside the 0x${size.toString(16)}-byte region`,
		);
	}
	return { base, size, pteCount: count, cmdQueueOffset: Number(cmd), statQueueOffset: Number(stat) };
}

/**
 * A LIBOS log buffer as the simulator writes it. The CPU puts a put-pointer u64 at offset 0 and the
 * buffer's PTE array at offset 8 (nouveau `create_pte_array`). Real LIBOS records are binary (decodable only
 * with the firmware's `.nvlog` section); the simulator appends UTF-8 text lines after the PTE array, padded
 * to 8 bytes, and keeps the count of u64 words written in the put pointer.
 */
export class LibosLog {
	readonly region: LibosRegion;
	readonly #memory: GspMemory;
	readonly #dataOffset: number;
	#words = 0;

	constructor(memory: GspMemory, region: LibosRegion) {
		this.region = region;
		this.#memory = memory;
		const pages = Math.ceil(Number(region.size) / GSP_PAGE_SIZE);
		this.#dataOffset = 8 + pages * 8;
	}

	/** Whether the CPU filled the buffer's PTE array correctly (LIBOS maps the buffer through it). */
	ptesValid(): boolean {
		const pages = Math.ceil(Number(this.region.size) / GSP_PAGE_SIZE);
		const v = this.#memory.view(this.region.pa, 8 + pages * 8);
		const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
		for (let i = 0; i < pages; i++) {
			if (dv.getBigUint64(8 + i * 8, true) !== this.region.pa + BigInt(i * GSP_PAGE_SIZE)) return false;
		}
		return true;
	}

	/** Append one line; silently stops when the buffer is full (as a ring-less log would). */
	write(line: string): void {
		const text = new TextEncoder().encode(`${line}\n`);
		const padded = (text.length + 7) & ~7;
		const at = this.#dataOffset + this.#words * 8;
		if (at + padded > Number(this.region.size)) return;
		const v = this.#memory.view(this.region.pa, Number(this.region.size), 'write');
		v.fill(0, at, at + padded);
		v.set(text, at);
		this.#words += padded / 8;
		new DataView(v.buffer, v.byteOffset, 8).setBigUint64(0, BigInt(this.#words), true);
	}
}

/** Read back the text a {@link LibosLog} wrote into a log buffer (for tests and tools). */
export function readLibosLogText(bytes: Uint8Array): string {
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const words = Number(dv.getBigUint64(0, true));
	const pages = Math.ceil(bytes.length / GSP_PAGE_SIZE);
	const start = 8 + pages * 8;
	const end = Math.min(bytes.length, start + words * 8);
	return new TextDecoder().decode(bytes.subarray(start, end)).replace(/\0+/g, '');
}
