/**
 * Pushbuffers: method headers, host methods, copy-engine methods, a builder and a decoder.
 *
 * A pushbuffer is a stream of 32-bit words. Each command starts with a method header (hardware reference C.2,
 * `NVC56F_DMA_*`): `ADDRESS` 11:0 is the method's byte offset >> 2, `SUBCHANNEL` 15:13, `COUNT` 28:16 and
 * `SEC_OP` 31:29. `INC` (1) writes `COUNT` data words to consecutive methods, `NON_INC` (3) writes them all to
 * one method, `ONE_INC` (5) writes the first to the method and the rest to the next one, `IMMD_DATA` (4) carries
 * a 13-bit value in 28:16 and no data words, `END_PB_SEGMENT` (7) ends the segment early.
 *
 * Host methods (offsets below 0x100) go to the channel's host on any subchannel; class methods go to the
 * object bound to the subchannel with `SET_OBJECT`. Offsets and fields: see `classes.ts` for the sources.
 *
 * @module
 */

import { defineWord } from './bitfields.ts';
import { type CopyClassInfo, copyClassInfo, type HostClassInfo, hostClassInfo } from './classes.ts';
import { ChannelArgumentError } from './errors.ts';
import { noteAllocation } from './signalling.ts';

// ---------------------------------------------------------------------------------------------------------------
// Method headers

/** `SEC_OP` values of a method header (`NVC56F_DMA_SEC_OP_*`). */
export const SecOp = Object.freeze({
	GRP0_USE_TERT: 0,
	INC_METHOD: 1,
	GRP2_USE_TERT: 2,
	NON_INC_METHOD: 3,
	IMMD_DATA_METHOD: 4,
	ONE_INC: 5,
	RESERVED6: 6,
	END_PB_SEGMENT: 7,
});

/** Name of a {@link SecOp} value. */
export type SecOpName = keyof typeof SecOp;

/** Method header layout (`NVC56F_DMA_INCR_*` / `NONINCR` / `ONEINCR`): address, subchannel, count, sec op. */
export const METHOD_HEADER = defineWord('NVC56F_DMA_METHOD_HEADER', {
	address: [11, 0],
	subchannel: [15, 13],
	count: [28, 16],
	secOp: [31, 29],
});

/** Immediate-data header layout (`NVC56F_DMA_IMMD_*`): the 13-bit value replaces the count. */
export const IMMD_HEADER = defineWord('NVC56F_DMA_IMMD_HEADER', {
	address: [11, 0],
	subchannel: [15, 13],
	data: [28, 16],
	secOp: [31, 29],
});

/** Largest `COUNT` (13 bits). */
export const MAX_METHOD_COUNT = METHOD_HEADER.max('count');
/** Largest immediate value (13 bits). */
export const MAX_IMMEDIATE = IMMD_HEADER.max('data');
/** Number of subchannels (`NVC56F_NUMBER_OF_SUBCHANNELS`). */
export const SUBCHANNELS = 8;

function checkMethod(method: number): number {
	if (!Number.isInteger(method) || method < 0 || method > 0x3ffc || (method & 3) !== 0) {
		throw new ChannelArgumentError(
			`method offset 0x${method.toString(16)} must be 4-byte aligned and < 0x4000`,
			{
				method,
			},
		);
	}
	return method >>> 2;
}

/**
 * Encode a method header for `INC`, `NON_INC` or `ONE_INC`.
 * @param method byte offset of the (first) method, e.g. `0x05c` for `SEM_ADDR_LO`.
 * @param count number of data words that follow (0..8191).
 */
export function methodHeader(
	secOp: 'INC_METHOD' | 'NON_INC_METHOD' | 'ONE_INC',
	subchannel: number,
	method: number,
	count: number,
): number {
	return METHOD_HEADER.pack({ address: checkMethod(method), subchannel, count, secOp: SecOp[secOp] });
}

/** Encode an `IMMD_DATA` header carrying `value` (0..8191) for `method`. */
export function immediateHeader(subchannel: number, method: number, value: number): number {
	return IMMD_HEADER.pack({
		address: checkMethod(method),
		subchannel,
		data: value,
		secOp: SecOp.IMMD_DATA_METHOD,
	});
}

/** The `END_PB_SEGMENT` header (`SEC_OP` 7, everything else 0). */
export const END_PB_SEGMENT_HEADER = METHOD_HEADER.pack({ secOp: SecOp.END_PB_SEGMENT });

/** A decoded method header. `count` is the number of data words that follow (0 for immediate and end). */
export interface DecodedHeader {
	/** `SEC_OP` name. */
	readonly secOp: SecOpName;
	/** Subchannel (0..7). */
	readonly subchannel: number;
	/** Byte offset of the first method. */
	readonly method: number;
	/** Data words following the header. */
	readonly count: number;
	/** For `IMMD_DATA_METHOD`: the immediate value. */
	readonly immediate?: number;
}

const SEC_OP_NAMES = Object.keys(SecOp) as SecOpName[];

/** Decode one method header word. */
export function decodeHeader(word: number): DecodedHeader {
	const f = METHOD_HEADER.unpack(word);
	const secOp = SEC_OP_NAMES[f.secOp] as SecOpName;
	if (f.secOp === SecOp.IMMD_DATA_METHOD) {
		return { secOp, subchannel: f.subchannel, method: f.address << 2, count: 0, immediate: f.count };
	}
	if (f.secOp === SecOp.END_PB_SEGMENT)
		return { secOp, subchannel: f.subchannel, method: f.address << 2, count: 0 };
	return { secOp, subchannel: f.subchannel, method: f.address << 2, count: f.count };
}

// ---------------------------------------------------------------------------------------------------------------
// Host methods (class C46F / C56F / C86F)

/** Host method byte offsets (identical in C46F, C56F and C86F; see `classes.ts`). */
export const HOST_METHOD = Object.freeze({
	SET_OBJECT: 0x000,
	ILLEGAL: 0x004,
	NOP: 0x008,
	NON_STALL_INTERRUPT: 0x020,
	FB_FLUSH: 0x024,
	MEM_OP_A: 0x028,
	MEM_OP_B: 0x02c,
	MEM_OP_C: 0x030,
	MEM_OP_D: 0x034,
	SET_REFERENCE: 0x050,
	SEM_ADDR_LO: 0x05c,
	SEM_ADDR_HI: 0x060,
	SEM_PAYLOAD_LO: 0x064,
	SEM_PAYLOAD_HI: 0x068,
	SEM_EXECUTE: 0x06c,
	WFI: 0x078,
});

/** `SET_OBJECT` data: class 15:0, engine 20:16 (0x1f = SW). */
export const SET_OBJECT = defineWord('NVC56F_SET_OBJECT', { nvclass: [15, 0], engine: [20, 16] });

/** `MEM_OP_A` data (TLB-invalidate fields; 0 for a membar). */
export const MEM_OP_A = defineWord('NVC56F_MEM_OP_A', {
	invalidationSize: [5, 0],
	sysmembar: [11, 11],
	targetAddrLo: [31, 12],
});

/** `MEM_OP_C` data: `MEMBAR_TYPE` 2:0 for a membar, or the TLB-invalidate fields. */
export const MEM_OP_C = defineWord('NVC56F_MEM_OP_C', {
	membarType: [2, 0],
	tlbInvalidatePdb: [0, 0],
	tlbInvalidateGpc: [1, 1],
	tlbInvalidateReplay: [4, 2],
	tlbInvalidateAckType: [6, 5],
	tlbInvalidatePageTableLevel: [9, 7],
	tlbInvalidatePdbAperture: [11, 10],
	tlbInvalidatePdbAddrLo: [31, 12],
});

/** `MEM_OP_D` data: `OPERATION` 31:27 and the PDB address high bits 26:0. */
export const MEM_OP_D = defineWord('NVC56F_MEM_OP_D', {
	tlbInvalidatePdbAddrHi: [26, 0],
	operation: [31, 27],
});

/** `MEM_OP_C.MEMBAR_TYPE` values. */
export const MembarType = Object.freeze({ SYS_MEMBAR: 0, MEMBAR: 1 });

/** `MEM_OP_D.OPERATION` values. */
export const MemOpOperation = Object.freeze({
	MEMBAR: 5,
	MMU_TLB_INVALIDATE: 9,
	MMU_TLB_INVALIDATE_TARGETED: 10,
	L2_PEERMEM_INVALIDATE: 13,
	L2_SYSMEM_INVALIDATE: 14,
	L2_CLEAN_COMPTAGS: 15,
	L2_FLUSH_DIRTY: 16,
});

/** `MEM_OP_C.TLB_INVALIDATE_PDB_APERTURE` values. */
export const PdbAperture = Object.freeze({ VID_MEM: 0, SYS_MEM_COHERENT: 2, SYS_MEM_NONCOHERENT: 3 });

/** `SEM_ADDR_LO` data: VA bits 31:2. */
export const SEM_ADDR_LO = defineWord('NVC56F_SEM_ADDR_LO', { offset: [31, 2] });

/** `SEM_EXECUTE` data. */
export const SEM_EXECUTE = defineWord('NVC56F_SEM_EXECUTE', {
	operation: [2, 0],
	acquireSwitchTsg: [12, 12],
	releaseWfi: [20, 20],
	payloadSize: [24, 24],
	releaseTimestamp: [25, 25],
	reduction: [30, 27],
	reductionFormat: [31, 31],
});

/** `SEM_EXECUTE.OPERATION` values. */
export const SemOperation = Object.freeze({
	ACQUIRE: 0,
	RELEASE: 1,
	ACQ_STRICT_GEQ: 2,
	ACQ_CIRC_GEQ: 3,
	ACQ_AND: 4,
	ACQ_NOR: 5,
	REDUCTION: 6,
});

/** `SEM_EXECUTE.REDUCTION` values. */
export const SemReduction = Object.freeze({
	IMIN: 0,
	IMAX: 1,
	IXOR: 2,
	IAND: 3,
	IOR: 4,
	IADD: 5,
	INC: 6,
	DEC: 7,
});

/** `WFI` data: scope 0 = current VEID, 1 = all. */
export const WFI = defineWord('NVC56F_WFI', { scope: [0, 0] });

// ---------------------------------------------------------------------------------------------------------------
// Copy-engine methods (C5B5 / C6B5 / C7B5 / C8B5)

/** Copy-engine method byte offsets (identical in C5B5..C8B5 except `SET_SEMAPHORE_PAYLOAD_UPPER`, C7B5+). */
export const COPY_METHOD = Object.freeze({
	NOP: 0x100,
	SET_SEMAPHORE_A: 0x240,
	SET_SEMAPHORE_B: 0x244,
	SET_SEMAPHORE_PAYLOAD: 0x248,
	SET_SEMAPHORE_PAYLOAD_UPPER: 0x24c,
	SET_SRC_PHYS_MODE: 0x260,
	SET_DST_PHYS_MODE: 0x264,
	LAUNCH_DMA: 0x300,
	OFFSET_IN_UPPER: 0x400,
	OFFSET_IN_LOWER: 0x404,
	OFFSET_OUT_UPPER: 0x408,
	OFFSET_OUT_LOWER: 0x40c,
	PITCH_IN: 0x410,
	PITCH_OUT: 0x414,
	LINE_LENGTH_IN: 0x418,
	LINE_COUNT: 0x41c,
	SET_REMAP_CONST_A: 0x700,
	SET_REMAP_CONST_B: 0x704,
	SET_REMAP_COMPONENTS: 0x708,
});

/**
 * `LAUNCH_DMA` data (fields common to C5B5..C8B5; `semaphorePayloadSize` exists on C7B5/C8B5 only, and bits
 * 21:20 mean BYPASS_L2 before C8B5 and COPY_TYPE on C8B5, so they are not declared).
 */
export const LAUNCH_DMA = defineWord('NVC6B5_LAUNCH_DMA', {
	dataTransferType: [1, 0],
	flushEnable: [2, 2],
	semaphoreType: [4, 3],
	interruptType: [6, 5],
	srcMemoryLayout: [7, 7],
	dstMemoryLayout: [8, 8],
	multiLineEnable: [9, 9],
	remapEnable: [10, 10],
	forceRmwDisable: [11, 11],
	srcType: [12, 12],
	dstType: [13, 13],
	semaphoreReduction: [17, 14],
	semaphoreReductionSign: [18, 18],
	semaphoreReductionEnable: [19, 19],
	flushType: [25, 25],
	disablePlc: [26, 26],
	semaphorePayloadSize: [27, 27],
});

/** `LAUNCH_DMA` field values used here. */
export const LaunchDma = Object.freeze({
	DATA_TRANSFER_TYPE_NONE: 0,
	DATA_TRANSFER_TYPE_PIPELINED: 1,
	DATA_TRANSFER_TYPE_NON_PIPELINED: 2,
	SEMAPHORE_TYPE_NONE: 0,
	/** `RELEASE_ONE_WORD_SEMAPHORE` (= `RELEASE_SEMAPHORE_NO_TIMESTAMP` on C7B5+). */
	SEMAPHORE_TYPE_RELEASE_ONE_WORD: 1,
	/** `RELEASE_FOUR_WORD_SEMAPHORE` (= `RELEASE_SEMAPHORE_WITH_TIMESTAMP` on C7B5+). */
	SEMAPHORE_TYPE_RELEASE_FOUR_WORD: 2,
	LAYOUT_BLOCKLINEAR: 0,
	LAYOUT_PITCH: 1,
	TYPE_VIRTUAL: 0,
	TYPE_PHYSICAL: 1,
	FLUSH_TYPE_SYS: 0,
	FLUSH_TYPE_GL: 1,
	PAYLOAD_SIZE_ONE_WORD: 0,
	PAYLOAD_SIZE_TWO_WORD: 1,
});

/** `SET_REMAP_COMPONENTS` data. */
export const SET_REMAP_COMPONENTS = defineWord('NVC6B5_SET_REMAP_COMPONENTS', {
	dstX: [2, 0],
	dstY: [6, 4],
	dstZ: [10, 8],
	dstW: [14, 12],
	componentSize: [17, 16],
	numSrcComponents: [21, 20],
	numDstComponents: [25, 24],
});

/** `SET_REMAP_COMPONENTS.DST_*` sources. */
export const RemapSource = Object.freeze({
	SRC_X: 0,
	SRC_Y: 1,
	SRC_Z: 2,
	SRC_W: 3,
	CONST_A: 4,
	CONST_B: 5,
	NO_WRITE: 6,
});

// ---------------------------------------------------------------------------------------------------------------
// Method names (for the decoder and diagnostics)

const HOST_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(HOST_METHOD).map(([k, v]) => [v, k]));
const COPY_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(COPY_METHOD).map(([k, v]) => [v, k]));

/** Name of a host method offset (`'SEM_EXECUTE'`), or `undefined`. */
export function hostMethodName(method: number): string | undefined {
	return HOST_NAMES.get(method);
}

/** Name of a copy-engine method offset (`'LAUNCH_DMA'`), or `undefined`. */
export function copyMethodName(method: number): string | undefined {
	return COPY_NAMES.get(method);
}

// ---------------------------------------------------------------------------------------------------------------
// Builder

const U32 = 0x1_0000_0000;

function lo32(v: bigint | number): number {
	return typeof v === 'bigint' ? Number(v & 0xffffffffn) : (v % U32) >>> 0;
}

function hi32(v: bigint | number): number {
	return typeof v === 'bigint' ? Number((v >> 32n) & 0xffffffffn) : Math.floor(v / U32) >>> 0;
}

function toBig(v: bigint | number, what: string): bigint {
	if (typeof v === 'number' && (!Number.isSafeInteger(v) || v < 0)) {
		throw new ChannelArgumentError(`${what} must be a non-negative integer`, { [what]: v });
	}
	const b = BigInt(v);
	if (b < 0n) throw new ChannelArgumentError(`${what} must be non-negative`, { [what]: String(v) });
	return b;
}

function checkVa(va: bigint | number, bits: number, align: number, what: string): bigint {
	const b = toBig(va, what);
	if (b >= 1n << BigInt(bits)) {
		throw new ChannelArgumentError(`${what} 0x${b.toString(16)} is beyond the ${bits}-bit VA limit`, {
			[what]: `0x${b.toString(16)}`,
		});
	}
	if (b % BigInt(align) !== 0n) {
		throw new ChannelArgumentError(`${what} 0x${b.toString(16)} must be ${align}-byte aligned`, {
			[what]: `0x${b.toString(16)}`,
		});
	}
	return b;
}

/** Options of a host semaphore release. */
export interface SemaphoreReleaseOptions {
	/** Write a 64-bit payload (`PAYLOAD_SIZE_64BIT`; VA 8-byte aligned). Default false (32-bit). */
	readonly payload64?: boolean;
	/** Wait for idle before the release (`RELEASE_WFI_EN`). Default true, as nouveau's fence does. */
	readonly wfi?: boolean;
	/** Also write a timestamp (16-byte semaphore). Default false. */
	readonly timestamp?: boolean;
}

/** Acquire comparisons of `SEM_EXECUTE.OPERATION`. */
export type SemaphoreAcquireOp = 'ACQUIRE' | 'ACQ_STRICT_GEQ' | 'ACQ_CIRC_GEQ' | 'ACQ_AND' | 'ACQ_NOR';

/** Options of a host semaphore acquire. */
export interface SemaphoreAcquireOptions {
	/** Comparison; default `ACQ_CIRC_GEQ` (wrap-safe "payload reached", as nouveau's sync32). */
	readonly op?: SemaphoreAcquireOp;
	/** 64-bit comparison. Default false. */
	readonly payload64?: boolean;
	/** Let the scheduler switch TSGs while the acquire waits (`ACQUIRE_SWITCH_TSG`). Default false. */
	readonly switchTsg?: boolean;
}

/** Options of a copy-engine semaphore release at the end of a launch. */
export interface CopySemaphore {
	/** GPU VA of the semaphore (4-byte aligned; 8-byte for 64-bit payloads). */
	readonly va: bigint | number;
	/** Payload; above 2^32 needs a C7B5+ class and `payload64`. */
	readonly payload: bigint | number;
	/** Release a 64-bit payload (C7B5/C8B5 only). */
	readonly payload64?: boolean;
}

/** A linear copy. */
export interface LinearCopy {
	/** Source GPU VA. */
	readonly src: bigint | number;
	/** Destination GPU VA. */
	readonly dst: bigint | number;
	/** Bytes to copy (> 0). Copies above 2 GiB are split into several launches. */
	readonly length: bigint | number;
	/** Release this semaphore after the (last) launch. */
	readonly semaphore?: CopySemaphore;
	/** `PIPELINED` lets the launch overlap the previous one; default `NON_PIPELINED` (ordered after it). */
	readonly pipelined?: boolean;
	/** Flush at the end of the launch (`FLUSH_ENABLE`); default true, so data lands before any semaphore. */
	readonly flush?: boolean;
}

/** A fill with a repeated 1-, 2-, 4- or 8-byte element (copy engine remap with constant sources). */
export interface LinearFill {
	/** Destination GPU VA (aligned to `elementSize`). */
	readonly dst: bigint | number;
	/** Bytes to fill: a multiple of `elementSize`. */
	readonly length: bigint | number;
	/** Element value. 8-byte elements take a bigint (or a safe integer). */
	readonly value: bigint | number;
	/** Element size in bytes; default 4. */
	readonly elementSize?: 1 | 2 | 4 | 8;
	/** Release this semaphore after the (last) launch. */
	readonly semaphore?: CopySemaphore;
	/** Flush at the end of the launch; default true. */
	readonly flush?: boolean;
}

/** The largest number of bytes (or elements) one `LAUNCH_DMA` moves here; longer operations are split. */
export const MAX_LAUNCH_LENGTH = 0x8000_0000;

/**
 * Builds a pushbuffer for one host class. Appends method headers and data words to a growable buffer;
 * {@link PushBuffer.words} returns the stream. Use it at submit time: it allocates, so it must not run in the
 * fence-signalling section (it calls the allocation hook when it grows).
 */
export class PushBuffer {
	/** The host class the stream is built for (decides the semaphore VA width). */
	readonly host: HostClassInfo;
	#buf: Uint32Array;
	#len = 0;

	/** @param host host class (object or ID); @param capacityWords initial capacity. */
	constructor(host: HostClassInfo | number = 0xc56f, capacityWords = 64) {
		this.host = typeof host === 'number' ? hostClassInfo(host) : host;
		noteAllocation('PushBuffer');
		this.#buf = new Uint32Array(Math.max(4, capacityWords));
	}

	/** Number of words written. */
	get length(): number {
		return this.#len;
	}

	/** The words written so far (a view; copy it if you keep building). */
	words(): Uint32Array {
		return this.#buf.subarray(0, this.#len);
	}

	/** Forget everything written; keeps the capacity. */
	reset(): this {
		this.#len = 0;
		return this;
	}

	#ensure(n: number): void {
		if (this.#len + n <= this.#buf.length) return;
		noteAllocation('PushBuffer.grow');
		let cap = this.#buf.length * 2;
		while (cap < this.#len + n) cap *= 2;
		const next = new Uint32Array(cap);
		next.set(this.#buf.subarray(0, this.#len));
		this.#buf = next;
	}

	/** Append raw words (already-encoded headers or data). */
	raw(...words: number[]): this {
		this.#ensure(words.length);
		for (const w of words) this.#buf[this.#len++] = w >>> 0;
		return this;
	}

	#method(
		secOp: 'INC_METHOD' | 'NON_INC_METHOD' | 'ONE_INC',
		subchannel: number,
		method: number,
		data: readonly number[],
	) {
		if (data.length === 0 || data.length > MAX_METHOD_COUNT) {
			throw new ChannelArgumentError(`a ${secOp} command needs 1..${MAX_METHOD_COUNT} data words`, {
				count: data.length,
			});
		}
		const header = methodHeader(secOp, subchannel, method, data.length);
		this.#ensure(1 + data.length);
		this.#buf[this.#len++] = header;
		for (const d of data) {
			if (!Number.isInteger(d) || d < -0x8000_0000 || d > 0xffff_ffff) {
				throw new ChannelArgumentError(`data word ${d} is not a 32-bit value`, { method, value: d });
			}
			this.#buf[this.#len++] = d >>> 0;
		}
		return this;
	}

	/** `INC`: `data[i]` goes to `method + 4·i`. */
	inc(subchannel: number, method: number, ...data: number[]): this {
		return this.#method('INC_METHOD', subchannel, method, data);
	}

	/** `NON_INC`: every data word goes to `method`. */
	nonInc(subchannel: number, method: number, ...data: number[]): this {
		return this.#method('NON_INC_METHOD', subchannel, method, data);
	}

	/** `ONE_INC`: `data[0]` goes to `method`, the rest to `method + 4`. */
	oneInc(subchannel: number, method: number, ...data: number[]): this {
		return this.#method('ONE_INC', subchannel, method, data);
	}

	/** `IMMD_DATA`: a 13-bit value carried in the header itself. */
	immd(subchannel: number, method: number, value: number): this {
		const h = immediateHeader(subchannel, method, value);
		this.#ensure(1);
		this.#buf[this.#len++] = h;
		return this;
	}

	/** `END_PB_SEGMENT`: the host stops fetching this segment here. */
	endSegment(): this {
		this.#ensure(1);
		this.#buf[this.#len++] = END_PB_SEGMENT_HEADER;
		return this;
	}

	// ---- host methods --------------------------------------------------------------------------------------------

	/** `SET_OBJECT`: bind class `classId` to `subchannel` (engine 0x1f marks a SW class). */
	setObject(subchannel: number, classId: number, engine = 0): this {
		return this.inc(subchannel, HOST_METHOD.SET_OBJECT, SET_OBJECT.pack({ nvclass: classId, engine }));
	}

	/** `NOP` with a handle value. */
	nop(handle = 0): this {
		return this.inc(0, HOST_METHOD.NOP, handle);
	}

	/** `NON_STALL_INTERRUPT`: raise the non-stall interrupt when the host reaches it. */
	nonStallInterrupt(handle = 0): this {
		return this.inc(0, HOST_METHOD.NON_STALL_INTERRUPT, handle);
	}

	/** `FB_FLUSH` (deprecated by NVIDIA in favour of a SYS_MEMBAR, kept for completeness). */
	fbFlush(): this {
		return this.inc(0, HOST_METHOD.FB_FLUSH, 0);
	}

	/**
	 * `MEM_OP_A..D` membar: `sys` (default) issues a `SYS_MEMBAR` so earlier writes reach system memory before
	 * what follows (nouveau's fence adds this so the semaphore lands before the interrupt).
	 */
	membar(sys = true): this {
		return this.inc(
			0,
			HOST_METHOD.MEM_OP_A,
			0,
			0,
			MEM_OP_C.pack({ membarType: sys ? MembarType.SYS_MEMBAR : MembarType.MEMBAR }),
			MEM_OP_D.pack({ operation: MemOpOperation.MEMBAR }),
		);
	}

	/**
	 * `MEM_OP_A..D` `MMU_TLB_INVALIDATE`. With `pdb` only that page directory is invalidated (address is the
	 * PDB's physical address, 4 KiB aligned); without it, all PDBs.
	 */
	tlbInvalidate(
		options: {
			readonly pdb?: { readonly address: bigint | number; readonly aperture: keyof typeof PdbAperture };
			readonly sysmembar?: boolean;
			/** `PAGE_TABLE_LEVEL`: 0 all levels, 1 PTE only, 2..7 up to PDE0..PDE5. */
			readonly pageTableLevel?: number;
		} = {},
	): this {
		let c: number;
		let d: number;
		if (options.pdb === undefined) {
			c = MEM_OP_C.pack({ tlbInvalidatePdb: 1, tlbInvalidatePageTableLevel: options.pageTableLevel ?? 0 });
			d = MEM_OP_D.pack({ operation: MemOpOperation.MMU_TLB_INVALIDATE });
		} else {
			const pa = checkVa(options.pdb.address, 59, 4096, 'pdb address');
			c = MEM_OP_C.pack({
				tlbInvalidatePdb: 0,
				tlbInvalidatePageTableLevel: options.pageTableLevel ?? 0,
				tlbInvalidatePdbAperture: PdbAperture[options.pdb.aperture],
				tlbInvalidatePdbAddrLo: Number((pa >> 12n) & 0xfffffn),
			});
			d = MEM_OP_D.pack({
				operation: MemOpOperation.MMU_TLB_INVALIDATE,
				tlbInvalidatePdbAddrHi: Number(pa >> 32n),
			});
		}
		const a = MEM_OP_A.pack({ sysmembar: options.sysmembar === true ? 1 : 0 });
		return this.inc(0, HOST_METHOD.MEM_OP_A, a, 0, c, d);
	}

	#semAddress(va: bigint | number, payload64: boolean): [number, number] {
		const b = checkVa(va, this.host.semaphoreVaBits, payload64 ? 8 : 4, 'semaphore va');
		const hi = Number(b >> 32n);
		// Range-check the high word against this class's SEM_ADDR_HI field.
		const [hiBit, loBit] = this.host.semAddrHi;
		if (hi >= 2 ** (hiBit - loBit + 1)) {
			throw new ChannelArgumentError(`semaphore va too large for ${this.host.name}`, { va: String(va) });
		}
		return [SEM_ADDR_LO.pack({ offset: Number((b & 0xffffffffn) >> 2n) }), hi];
	}

	/**
	 * Host semaphore release: `SEM_ADDR_LO/HI`, `SEM_PAYLOAD_LO/HI` and `SEM_EXECUTE` (`RELEASE`) in one `INC`.
	 * With `wfi` (default) the host waits for the engine to idle before writing.
	 */
	semaphoreRelease(
		va: bigint | number,
		payload: bigint | number,
		options: SemaphoreReleaseOptions = {},
	): this {
		const payload64 = options.payload64 === true;
		const p = toBig(payload, 'payload');
		if (!payload64 && p > 0xffffffffn) {
			throw new ChannelArgumentError('a 32-bit semaphore payload must be < 2^32', {
				payload: String(payload),
			});
		}
		const [lo, hi] = this.#semAddress(va, payload64);
		const exec = SEM_EXECUTE.pack({
			operation: SemOperation.RELEASE,
			releaseWfi: options.wfi === false ? 0 : 1,
			payloadSize: payload64 ? 1 : 0,
			releaseTimestamp: options.timestamp === true ? 1 : 0,
		});
		return this.inc(0, HOST_METHOD.SEM_ADDR_LO, lo, hi, lo32(p), hi32(p), exec);
	}

	/** Host semaphore acquire: the channel waits until the semaphore at `va` satisfies `op` against `payload`. */
	semaphoreAcquire(
		va: bigint | number,
		payload: bigint | number,
		options: SemaphoreAcquireOptions = {},
	): this {
		const payload64 = options.payload64 === true;
		const p = toBig(payload, 'payload');
		if (!payload64 && p > 0xffffffffn) {
			throw new ChannelArgumentError('a 32-bit semaphore payload must be < 2^32', {
				payload: String(payload),
			});
		}
		const [lo, hi] = this.#semAddress(va, payload64);
		const exec = SEM_EXECUTE.pack({
			operation: SemOperation[options.op ?? 'ACQ_CIRC_GEQ'],
			acquireSwitchTsg: options.switchTsg === true ? 1 : 0,
			payloadSize: payload64 ? 1 : 0,
		});
		return this.inc(0, HOST_METHOD.SEM_ADDR_LO, lo, hi, lo32(p), hi32(p), exec);
	}

	/** `WFI`: wait for the engine to idle (scope `'all'` or the current VEID). */
	wfi(scope: 'current' | 'all' = 'all'): this {
		return this.inc(0, HOST_METHOD.WFI, WFI.pack({ scope: scope === 'all' ? 1 : 0 }));
	}

	/**
	 * The nouveau (Volta+) fence sequence: release `seq` (32-bit, WFI) at `va`, a SYS_MEMBAR so the write lands
	 * before the interrupt, then `NON_STALL_INTERRUPT` (hardware reference C.2).
	 */
	fence(va: bigint | number, seq: number): this {
		return this.semaphoreRelease(va, seq, { wfi: true }).membar(true).nonStallInterrupt(0);
	}

	// ---- copy engine ---------------------------------------------------------------------------------------------

	/** Methods of copy class `copy` on `subchannel` (bind it first with {@link PushBuffer.setObject}). */
	copyEngine(copy: CopyClassInfo | number, subchannel = 4): CopyEngineMethods {
		return new CopyEngineMethods(this, typeof copy === 'number' ? copyClassInfo(copy) : copy, subchannel);
	}
}

/** Copy-engine commands on one subchannel of a {@link PushBuffer}. */
export class CopyEngineMethods {
	/** The pushbuffer written to. */
	readonly push: PushBuffer;
	/** The copy class the methods are encoded for. */
	readonly copyClass: CopyClassInfo;
	/** Subchannel (0..7). */
	readonly subchannel: number;

	/** Prefer {@link PushBuffer.copyEngine}. */
	constructor(push: PushBuffer, copyClass: CopyClassInfo, subchannel: number) {
		if (!Number.isInteger(subchannel) || subchannel < 0 || subchannel >= SUBCHANNELS) {
			throw new ChannelArgumentError(`subchannel ${subchannel} out of range`, { subchannel });
		}
		this.push = push;
		this.copyClass = copyClass;
		this.subchannel = subchannel;
	}

	/** `SET_OBJECT` for this copy class on this subchannel. */
	bind(): this {
		this.push.setObject(this.subchannel, this.copyClass.id);
		return this;
	}

	#upper(va: bigint): number {
		const [hi, lo] = this.copyClass.upper;
		const v = Number(va >> 32n);
		if (v >= 2 ** (hi - lo + 1)) {
			throw new ChannelArgumentError(`VA too large for ${this.copyClass.name}`, {
				va: `0x${va.toString(16)}`,
			});
		}
		return v;
	}

	#semaphore(sem: CopySemaphore | undefined): { type: number; size: number } {
		if (sem === undefined) return { type: LaunchDma.SEMAPHORE_TYPE_NONE, size: 0 };
		const payload64 = sem.payload64 === true;
		if (payload64 && !this.copyClass.semaphorePayload64) {
			throw new ChannelArgumentError(`${this.copyClass.name} has no 64-bit semaphore payloads`);
		}
		const va = checkVa(sem.va, this.copyClass.vaBits, payload64 ? 8 : 4, 'semaphore va');
		const p = toBig(sem.payload, 'payload');
		if (!payload64 && p > 0xffffffffn) {
			throw new ChannelArgumentError('a 32-bit semaphore payload must be < 2^32', { payload: String(p) });
		}
		const words = [this.#upper(va), Number(va & 0xffffffffn), lo32(p)];
		if (payload64) words.push(hi32(p));
		this.push.inc(this.subchannel, COPY_METHOD.SET_SEMAPHORE_A, ...words);
		return {
			type: LaunchDma.SEMAPHORE_TYPE_RELEASE_ONE_WORD,
			size: payload64 ? LaunchDma.PAYLOAD_SIZE_TWO_WORD : LaunchDma.PAYLOAD_SIZE_ONE_WORD,
		};
	}

	#launch(fields: Parameters<typeof LAUNCH_DMA.pack>[0]): void {
		this.push.inc(this.subchannel, COPY_METHOD.LAUNCH_DMA, LAUNCH_DMA.pack(fields));
	}

	/**
	 * A linear (pitch, one-line) virtual-to-virtual copy: `OFFSET_IN/OUT`, `LINE_LENGTH_IN`, `LINE_COUNT` = 1,
	 * then `LAUNCH_DMA` (pitch layouts, virtual addresses, flush). A semaphore, if any, is released after the last
	 * launch by the launch itself.
	 */
	copy(op: LinearCopy): this {
		const vaBits = this.copyClass.vaBits;
		const length = toBig(op.length, 'length');
		if (length <= 0n) throw new ChannelArgumentError('copy length must be > 0');
		let src = checkVa(op.src, vaBits, 1, 'src');
		let dst = checkVa(op.dst, vaBits, 1, 'dst');
		if (src + length > 1n << BigInt(vaBits) || dst + length > 1n << BigInt(vaBits)) {
			throw new ChannelArgumentError('copy crosses the top of the VA space');
		}
		let left = length;
		let first = true;
		while (left > 0n) {
			const n = left > BigInt(MAX_LAUNCH_LENGTH) ? BigInt(MAX_LAUNCH_LENGTH) : left;
			const last = n === left;
			this.push.inc(
				this.subchannel,
				COPY_METHOD.OFFSET_IN_UPPER,
				this.#upper(src),
				Number(src & 0xffffffffn),
				this.#upper(dst),
				Number(dst & 0xffffffffn),
			);
			this.push.inc(this.subchannel, COPY_METHOD.LINE_LENGTH_IN, Number(n), 1);
			const sem = last ? this.#semaphore(op.semaphore) : { type: 0, size: 0 };
			this.#launch({
				dataTransferType:
					op.pipelined === true || !first
						? LaunchDma.DATA_TRANSFER_TYPE_PIPELINED
						: LaunchDma.DATA_TRANSFER_TYPE_NON_PIPELINED,
				flushEnable: last && op.flush !== false ? 1 : 0,
				semaphoreType: sem.type,
				srcMemoryLayout: LaunchDma.LAYOUT_PITCH,
				dstMemoryLayout: LaunchDma.LAYOUT_PITCH,
				multiLineEnable: 0,
				remapEnable: 0,
				srcType: LaunchDma.TYPE_VIRTUAL,
				dstType: LaunchDma.TYPE_VIRTUAL,
				...(this.copyClass.semaphorePayload64 ? { semaphorePayloadSize: sem.size } : {}),
			});
			src += n;
			dst += n;
			left -= n;
			first = false;
		}
		return this;
	}

	/**
	 * Fill `length` bytes at `dst` with a repeated element, via the remap unit: `SET_REMAP_CONST_A/B` hold the
	 * value, `SET_REMAP_COMPONENTS` selects the constants as destination components, `LINE_LENGTH_IN` counts
	 * elements, and `LAUNCH_DMA` sets `REMAP_ENABLE`.
	 */
	fill(op: LinearFill): this {
		const size = op.elementSize ?? 4;
		if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
			throw new ChannelArgumentError(`fill element size ${String(size)} must be 1, 2, 4 or 8`);
		}
		const vaBits = this.copyClass.vaBits;
		const length = toBig(op.length, 'length');
		if (length <= 0n || length % BigInt(size) !== 0n) {
			throw new ChannelArgumentError(`fill length must be a positive multiple of ${size}`, {
				length: String(length),
			});
		}
		let dst = checkVa(op.dst, vaBits, size, 'dst');
		if (dst + length > 1n << BigInt(vaBits))
			throw new ChannelArgumentError('fill crosses the top of the VA space');
		const value = toBig(op.value, 'value');
		if (value >= 1n << BigInt(8 * size)) {
			throw new ChannelArgumentError(`fill value does not fit in ${size} bytes`, { value: String(op.value) });
		}
		// COMPONENT_SIZE: ONE=0, TWO=1, FOUR=3; an 8-byte element is two 4-byte components (CONST_A, CONST_B).
		const componentSize = size === 1 ? 0 : size === 2 ? 1 : 3;
		const components = size === 8 ? 1 : 0; // NUM_*_COMPONENTS: ONE=0, TWO=1
		const remap = SET_REMAP_COMPONENTS.pack({
			dstX: RemapSource.CONST_A,
			dstY: size === 8 ? RemapSource.CONST_B : RemapSource.SRC_X,
			componentSize,
			numSrcComponents: components,
			numDstComponents: components,
		});
		this.push.inc(
			this.subchannel,
			COPY_METHOD.SET_REMAP_CONST_A,
			lo32(value),
			size === 8 ? hi32(value) : 0,
			remap,
		);
		let left = length / BigInt(size);
		while (left > 0n) {
			const n = left > BigInt(MAX_LAUNCH_LENGTH) ? BigInt(MAX_LAUNCH_LENGTH) : left;
			const last = n === left;
			this.push.inc(
				this.subchannel,
				COPY_METHOD.OFFSET_OUT_UPPER,
				this.#upper(dst),
				Number(dst & 0xffffffffn),
			);
			this.push.inc(this.subchannel, COPY_METHOD.LINE_LENGTH_IN, Number(n), 1);
			const sem = last ? this.#semaphore(op.semaphore) : { type: 0, size: 0 };
			this.#launch({
				dataTransferType: LaunchDma.DATA_TRANSFER_TYPE_NON_PIPELINED,
				flushEnable: last && op.flush !== false ? 1 : 0,
				semaphoreType: sem.type,
				srcMemoryLayout: LaunchDma.LAYOUT_PITCH,
				dstMemoryLayout: LaunchDma.LAYOUT_PITCH,
				remapEnable: 1,
				dstType: LaunchDma.TYPE_VIRTUAL,
				...(this.copyClass.semaphorePayload64 ? { semaphorePayloadSize: sem.size } : {}),
			});
			dst += n * BigInt(size);
			left -= n;
		}
		return this;
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Decoder

/** One method write, as the host would perform it. */
export interface MethodWrite {
	/** Subchannel (0..7). */
	readonly subchannel: number;
	/** Method byte offset. */
	readonly method: number;
	/** The 32-bit data word. */
	readonly data: number;
}

/** One decoded command (a header and the method writes it expands to). */
export interface DecodedCommand {
	/** Word index of the header within the stream. */
	readonly offset: number;
	/** The decoded header. */
	readonly header: DecodedHeader;
	/** The method writes it expands to, in order. */
	readonly writes: readonly MethodWrite[];
}

/** The result of {@link decodePushbuffer}. */
export interface DecodedPushbuffer {
	/** Commands in stream order. */
	readonly commands: readonly DecodedCommand[];
	/** Whether decoding stopped at an `END_PB_SEGMENT`. */
	readonly ended: boolean;
	/** Set when the stream is malformed (truncated data, reserved SEC_OP); decoding stops there. */
	readonly error?: { readonly offset: number; readonly reason: string };
}

/**
 * Decode a pushbuffer into method writes, expanding `INC`/`NON_INC`/`ONE_INC`/`IMMD_DATA` exactly as the host
 * does. For tests and diagnostics (the simulator has its own independent decoder).
 */
export function decodePushbuffer(words: ArrayLike<number>): DecodedPushbuffer {
	const commands: DecodedCommand[] = [];
	let i = 0;
	while (i < words.length) {
		const offset = i;
		const header = decodeHeader(words[i] as number);
		i++;
		switch (header.secOp) {
			case 'END_PB_SEGMENT':
				commands.push({ offset, header, writes: [] });
				return { commands, ended: true };
			case 'IMMD_DATA_METHOD':
				commands.push({
					offset,
					header,
					writes: [{ subchannel: header.subchannel, method: header.method, data: header.immediate ?? 0 }],
				});
				break;
			case 'INC_METHOD':
			case 'NON_INC_METHOD':
			case 'ONE_INC': {
				if (i + header.count > words.length) {
					return {
						commands,
						ended: false,
						error: {
							offset,
							reason: `truncated: header wants ${header.count} words, ${words.length - i} left`,
						},
					};
				}
				const writes: MethodWrite[] = [];
				for (let k = 0; k < header.count; k++) {
					const step = header.secOp === 'INC_METHOD' ? k : header.secOp === 'ONE_INC' ? Math.min(k, 1) : 0;
					writes.push({
						subchannel: header.subchannel,
						method: header.method + 4 * step,
						data: (words[i + k] as number) >>> 0,
					});
				}
				i += header.count;
				commands.push({ offset, header, writes });
				break;
			}
			default:
				return { commands, ended: false, error: { offset, reason: `unsupported SEC_OP ${header.secOp}` } };
		}
	}
	return { commands, ended: false };
}

/** Flatten a decoded pushbuffer into its method writes. */
export function methodWrites(decoded: DecodedPushbuffer): MethodWrite[] {
	return decoded.commands.flatMap((c) => c.writes);
}
