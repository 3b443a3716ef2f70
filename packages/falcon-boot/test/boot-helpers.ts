/**
 * Test fixtures for the boot path: a small DMA pool, a recording BAR0 register file, and a tiny firmware
 * ABI built with @gspkit/abi's layout runtime from the GspFwWprMeta offsets of the hardware reference (A.7)
 * and the GSP_ARGUMENTS_CACHED fields of gsp-rpc.md §1.7 — until the generated ABI packages are used.
 */

import {
	defineFirmwareAbi,
	type FirmwareAbi,
	manifestConstants,
	struct,
	toManifest,
	u8,
	u32,
	u64,
} from '@gspkit/abi';
import type { Bar0, DmaAllocOptions, DmaBuffer, DmaMemory } from '@gspkit/hal';

/** A DMA pool over ordinary memory with bus addresses from `base`, leaving `gap` bytes between allocations. */
export class TestDma implements DmaMemory {
	readonly live = new Set<DmaBuffer>();
	allocations = 0;
	#next: bigint;
	readonly #gap: bigint;
	constructor(base = 0x2_0000_0000n, gap = 0x3000n) {
		this.#next = base;
		this.#gap = gap;
	}
	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		const align = BigInt(options.align ?? 4096);
		const addr = ((this.#next + align - 1n) / align) * align;
		this.#next = addr + BigInt(size) + this.#gap;
		const bytes = new Uint8Array(new SharedArrayBuffer(size));
		if (options.zero === false) bytes.fill(0x5a); // make "not zeroed" visible
		const b: DmaBuffer = {
			busAddress: addr,
			size,
			bytes,
			view: new DataView(bytes.buffer),
			label: options.label ?? '',
		};
		this.live.add(b);
		this.allocations++;
		return b;
	}
	free(b: DmaBuffer): void {
		if (!this.live.delete(b)) throw new Error(`double or foreign free of ${b.label}`);
	}
	get bytesInUse(): number {
		let n = 0;
		for (const b of this.live) n += b.size;
		return n;
	}
	get liveAllocations(): number {
		return this.live.size;
	}
	/** Read device memory by bus address (like a device would). */
	read(address: bigint, length: number): Uint8Array {
		for (const b of this.live) {
			if (address >= b.busAddress && address + BigInt(length) <= b.busAddress + BigInt(b.size)) {
				const o = Number(address - b.busAddress);
				return b.bytes.subarray(o, o + length);
			}
		}
		throw new Error(`no buffer at 0x${address.toString(16)}`);
	}
}

/** One register access seen by {@link RecordingBar0}. */
export type Access = readonly ['r' | 'w', number, number];

/**
 * A BAR0 that stores written values, answers reads from them (or from `onRead` hooks), and records every
 * access in order. Tests use it to check exact register sequences.
 */
export class RecordingBar0 implements Bar0 {
	readonly size = 16 << 20;
	readonly regs = new Map<number, number>();
	readonly log: Access[] = [];
	readonly onRead = new Map<number, () => number>();
	readonly onWrite = new Map<number, (v: number) => void>();
	read32(offset: number): number {
		const hook = this.onRead.get(offset);
		const v = (hook !== undefined ? hook() : (this.regs.get(offset) ?? 0)) >>> 0;
		this.log.push(['r', offset, v]);
		return v;
	}
	write32(offset: number, value: number): void {
		this.log.push(['w', offset, value >>> 0]);
		this.regs.set(offset, value >>> 0);
		this.onWrite.get(offset)?.(value >>> 0);
	}
	/** Writes only, as `[offset, value]`. */
	writes(from = 0): [number, number][] {
		return this.log
			.slice(from)
			.filter((a) => a[0] === 'w')
			.map((a) => [a[1], a[2]]);
	}
}

/** GspFwWprMeta with the explicit A.7 offsets (flat: the unions at 0x48 and 0xd0 are reduced to their boot members). */
export const TestWprMeta = struct(
	'GspFwWprMeta',
	[
		['magic', u64, { offset: 0x00 }],
		['revision', u64, { offset: 0x08 }],
		['sysmemAddrOfRadix3Elf', u64, { offset: 0x10 }],
		['sizeOfRadix3Elf', u64, { offset: 0x18 }],
		['sysmemAddrOfBootloader', u64, { offset: 0x20 }],
		['sizeOfBootloader', u64, { offset: 0x28 }],
		['bootloaderCodeOffset', u64, { offset: 0x30 }],
		['bootloaderDataOffset', u64, { offset: 0x38 }],
		['bootloaderManifestOffset', u64, { offset: 0x40 }],
		['sysmemAddrOfSignature', u64, { offset: 0x48 }],
		['sizeOfSignature', u64, { offset: 0x50 }],
		['gspFwRsvdStart', u64, { offset: 0x58 }],
		['nonWprHeapOffset', u64, { offset: 0x60 }],
		['nonWprHeapSize', u64, { offset: 0x68 }],
		['gspFwWprStart', u64, { offset: 0x70 }],
		['gspFwHeapOffset', u64, { offset: 0x78 }],
		['gspFwHeapSize', u64, { offset: 0x80 }],
		['gspFwOffset', u64, { offset: 0x88 }],
		['bootBinOffset', u64, { offset: 0x90 }],
		['frtsOffset', u64, { offset: 0x98 }],
		['frtsSize', u64, { offset: 0xa0 }],
		['gspFwWprEnd', u64, { offset: 0xa8 }],
		['fbSize', u64, { offset: 0xb0 }],
		['vgaWorkspaceOffset', u64, { offset: 0xb8 }],
		['vgaWorkspaceSize', u64, { offset: 0xc0 }],
		['bootCount', u64, { offset: 0xc8 }],
		['gspFwHeapVfPartitionCount', u8, { offset: 0xf0 }],
		['verified', u64, { offset: 0xf8 }],
	],
	{ size: 256 },
);

/** r570 `MESSAGE_QUEUE_INIT_ARGUMENTS` (32 bytes) and `GSP_ARGUMENTS_CACHED` (72 bytes), natural layout. */
export const TestMqArgs570 = struct('MESSAGE_QUEUE_INIT_ARGUMENTS', [
	['sharedMemPhysAddr', u64],
	['pageTableEntryCount', u32],
	['cmdQueueOffset', u64],
	['statQueueOffset', u64],
]);
export const TestSrInit = struct('GSP_SR_INIT_ARGUMENTS', [
	['oldLevel', u32],
	['flags', u32],
	['bInPMTransition', u8],
]);
export const TestProfiler = struct('GSP_ARGUMENTS_CACHED.profilerArgs', [
	['pa', u64],
	['size', u64],
]);
export const TestArgsCached570 = struct('GSP_ARGUMENTS_CACHED', [
	['messageQueueInitArguments', TestMqArgs570],
	['srInitArguments', TestSrInit],
	['gpuInstance', u32],
	['bDmemStack', u8],
	['profilerArgs', TestProfiler],
]);

/** The tiny test ABI; `magic` overrides the manifest's GSP_FW_WPR_META_MAGIC (to test a wrong one). */
export function testAbi(version = '570.144', opts: { magic?: bigint } = {}): FirmwareAbi {
	const layouts = { wprMeta: TestWprMeta, argsCached: TestArgsCached570 };
	return defineFirmwareAbi({
		version,
		branch: `r${version.split('.')[0]}`,
		chips: ['tu102', 'ga100', 'ga102', 'ad102'],
		firmwareFiles: (chip) => [`nvidia/${chip}/gsp/gsp-${version}.bin`],
		functions: {
			GSP_SET_SYSTEM_INFO: 72,
			SET_REGISTRY: 73,
			GSP_RM_ALLOC: 103,
			GSP_RM_CONTROL: 76,
			FREE: 10,
			GET_GSP_STATIC_INFO: 65,
			CONTINUATION_RECORD: 71,
			UNLOADING_GUEST_DRIVER: 47,
		},
		events: {
			GSP_INIT_DONE: 0x1001,
			GSP_RUN_CPU_SEQUENCER: 0x1002,
			POST_EVENT: 0x1003,
			RC_TRIGGERED: 0x1004,
			MMU_FAULT_QUEUED: 0x1005,
			OS_ERROR_LOG: 0x1006,
			UCODE_LIBOS_PRINT: 0x100c,
			GSP_LOCKDOWN_NOTICE: 0x101c,
		},
		layouts,
		manifest: toManifest([TestWprMeta, TestArgsCached570], {
			abi: version,
			constants: manifestConstants('define', {
				GSP_FW_WPR_META_MAGIC: opts.magic ?? 0xdc3aae21371a60b3n,
				GSP_FW_WPR_META_REVISION: 1,
			}),
		}),
		subInterfaces: {},
	});
}

/** Little-endian u64 at `off`. */
export function u64At(b: Uint8Array, off: number): bigint {
	return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}
/** Little-endian u32 at `off`. */
export function u32At(b: Uint8Array, off: number): number {
	return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
