/**
 * Test support for the engine tests: a simulated GPU with page tables built by hand in VRAM, channels whose
 * instance block, USERD, GPFIFO and pushbuffers the test lays out itself, and a small pushbuffer encoder.
 *
 * Everything that encodes a hardware format here is written from the reference text (boot-mmu-channels.md
 * B.5, C.1–C.4) and NVIDIA's class headers, never from `src/engines`, so a wrong bit in the engine's own
 * transcription makes these tests fail.
 */

import type { Clock, DmaBuffer, VirtualClock } from '@gspkit/hal';
import type {
	ChannelErrorReport,
	ChannelRegistration,
	EngineTiming,
	HostEngine,
} from '../src/engines/index.ts';
import { createSimulatedGpu, PCI, type SimulatedGpu, type TableAperture } from '../src/index.ts';
import { FakeMemory, type PageSpec, TestPageTables } from './mmu-testkit.ts';

// ---------------------------------------------------------------------------------------------------------
// Pushbuffer encoding (reference C.2; clc56f.h NVC56F_DMA_*)

/** Method header forms. `method` is the byte offset as the class headers list it. */
export const pb = {
	inc: (sub: number, method: number, ...data: number[]): number[] => [
		((1 << 29) | (data.length << 16) | (sub << 13) | (method >>> 2)) >>> 0,
		...data,
	],
	nonInc: (sub: number, method: number, ...data: number[]): number[] => [
		((3 << 29) | (data.length << 16) | (sub << 13) | (method >>> 2)) >>> 0,
		...data,
	],
	oneInc: (sub: number, method: number, ...data: number[]): number[] => [
		((5 << 29) | (data.length << 16) | (sub << 13) | (method >>> 2)) >>> 0,
		...data,
	],
	/** A header announcing `count` data words that follow later (possibly in another segment). */
	incHeader: (sub: number, method: number, count: number): number =>
		((1 << 29) | (count << 16) | (sub << 13) | (method >>> 2)) >>> 0,
	immd: (sub: number, method: number, value: number): number[] => [
		((4 << 29) | ((value & 0x1fff) << 16) | (sub << 13) | (method >>> 2)) >>> 0,
	],
	endSegment: (): number[] => [(7 << 29) >>> 0],
	/** SET_SUBDEVICE_MASK: opcode 1 in 31:16, mask 15:4. */
	setSubdeviceMask: (mask: number): number[] => [((1 << 16) | ((mask & 0xfff) << 4)) >>> 0],
	storeSubdeviceMask: (mask: number): number[] => [((2 << 16) | ((mask & 0xfff) << 4)) >>> 0],
	useSubdeviceMask: (): number[] => [(3 << 16) >>> 0],
};

/** Host method byte offsets (clc56f.h). */
export const M = {
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
	YIELD: 0x080,
	CLEAR_FAULTED: 0x084,
} as const;

/** SEM_EXECUTE words (clc56f.h NVC56F_SEM_EXECUTE_*). */
export const sem = {
	ACQUIRE: 0,
	RELEASE: 1,
	ACQ_STRICT_GEQ: 2,
	ACQ_CIRC_GEQ: 3,
	ACQ_AND: 4,
	ACQ_NOR: 5,
	REDUCTION: 6,
	RELEASE_WFI: 1 << 20,
	PAYLOAD_64: 1 << 24,
	TIMESTAMP: 1 << 25,
	reduction: (op: number, unsigned: boolean) => ((op << 27) | (unsigned ? 1 << 31 : 0)) >>> 0,
};

/** The four host methods of a semaphore operation, as one incrementing method. */
export function semOp(va: bigint, payload: bigint, execute: number): number[] {
	return pb.inc(
		0,
		M.SEM_ADDR_LO,
		Number(va & 0xffff_ffffn) >>> 0,
		Number(va >> 32n) >>> 0,
		Number(payload & 0xffff_ffffn) >>> 0,
		Number((payload >> 32n) & 0xffff_ffffn) >>> 0,
		execute >>> 0,
	);
}

/** Copy-engine method byte offsets (clc6b5.h / clc7b5.h / clc8b5.h). */
export const CEM = {
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
} as const;

/** LAUNCH_DMA fields (clc6b5.h NVC6B5_LAUNCH_DMA_*). */
export const launch = {
	PIPELINED: 1,
	NON_PIPELINED: 2,
	FLUSH: 1 << 2,
	SEM_ONE_WORD: 1 << 3,
	SEM_FOUR_WORD: 2 << 3,
	INTR_BLOCKING: 1 << 5,
	INTR_NON_BLOCKING: 2 << 5,
	SRC_PITCH: 1 << 7,
	DST_PITCH: 1 << 8,
	MULTI_LINE: 1 << 9,
	REMAP: 1 << 10,
	SRC_PHYSICAL: 1 << 12,
	DST_PHYSICAL: 1 << 13,
	reduction: (op: number, unsigned: boolean) => ((op << 14) | (unsigned ? 1 << 18 : 0) | (1 << 19)) >>> 0,
	PAYLOAD_TWO_WORD: 1 << 27,
};

/** SET_REMAP_COMPONENTS: selectors 0..3 SRC_X..W, 4 CONST_A, 5 CONST_B, 6 NO_WRITE. */
export function remapComponents(o: {
	dst: readonly number[];
	componentSize: 1 | 2 | 3 | 4;
	numSrc?: number;
}): number {
	let v = 0;
	o.dst.forEach((sel, i) => {
		v |= sel << (4 * i);
	});
	v |= (o.componentSize - 1) << 16;
	v |= ((o.numSrc ?? 1) - 1) << 20;
	v |= (o.dst.length - 1) << 24;
	return v >>> 0;
}

/** A pitch-linear copy of `length` bytes from `src` to `dst` on subchannel 4. */
export function ceCopy(src: bigint, dst: bigint, length: number, extraLaunch = 0): number[] {
	return [
		...pb.inc(
			4,
			CEM.OFFSET_IN_UPPER,
			Number(src >> 32n),
			Number(src & 0xffff_ffffn) >>> 0,
			Number(dst >> 32n),
			Number(dst & 0xffff_ffffn) >>> 0,
		),
		...pb.inc(4, CEM.LINE_LENGTH_IN, length),
		...pb.inc(
			4,
			CEM.LAUNCH_DMA,
			(launch.NON_PIPELINED | launch.SRC_PITCH | launch.DST_PITCH | extraLaunch) >>> 0,
		),
	];
}

/** A fill of `pixels` destination pixels at `dst` through the remap unit. */
export function ceFill(
	dst: bigint,
	pixels: number,
	components: number,
	constA: number,
	constB = 0,
	extraLaunch = 0,
): number[] {
	return [
		...pb.inc(4, CEM.SET_REMAP_CONST_A, constA >>> 0, constB >>> 0, components >>> 0),
		...pb.inc(4, CEM.OFFSET_OUT_UPPER, Number(dst >> 32n), Number(dst & 0xffff_ffffn) >>> 0),
		...pb.inc(4, CEM.LINE_LENGTH_IN, pixels),
		...pb.inc(
			4,
			CEM.LAUNCH_DMA,
			(launch.NON_PIPELINED | launch.DST_PITCH | launch.SRC_PITCH | launch.REMAP | extraLaunch) >>> 0,
		),
	];
}

// ---------------------------------------------------------------------------------------------------------
// GP entries (reference C.1)

/** A GPFIFO entry for a pushbuffer segment of `dwords` entries at `va`. */
export function gpEntry(
	va: bigint,
	dwords: number,
	o: { level?: 0 | 1; sync?: boolean; conditional?: boolean } = {},
): [number, number] {
	const e0 = (Number(va & 0xffff_fffcn) | (o.conditional ? 1 : 0)) >>> 0;
	const e1 =
		(Number((va >> 32n) & 0xffn) | ((o.level ?? 0) << 9) | (dwords << 10) | (o.sync ? 1 << 31 : 0)) >>> 0;
	return [e0, e1];
}

/** A control GP entry (LENGTH 0): opcode 7:0 of word 1, operand in word 0. */
export function gpControl(opcode: number, operand = 0): [number, number] {
	return [operand >>> 0, opcode & 0xff];
}

// ---------------------------------------------------------------------------------------------------------
// The rig

/** Page tables written into the simulated GPU's VRAM (the tables' aperture is `'video'`). */
class VramTables extends FakeMemory {
	readonly #gpu: SimulatedGpu;

	constructor(gpu: SimulatedGpu) {
		super();
		this.#gpu = gpu;
	}

	override write64(aperture: TableAperture, pa: bigint, value: bigint): void {
		if (aperture !== 'video') throw new Error('the engine rig keeps its tables in VRAM');
		const b = new Uint8Array(8);
		new DataView(b.buffer).setBigUint64(0, value, true);
		this.#gpu.fb.write(pa, b);
	}
}

/** Options of {@link makeRig}. */
export interface RigOptions {
	readonly chip?: string;
	/** Platform clock; default the simulator's VirtualClock. */
	readonly clock?: Clock;
	readonly timing?: EngineTiming;
	readonly sparseWrites?: 'fault' | 'drop';
}

/** One simulated GPU with a host engine, one GPU address space, and allocators. */
export class Rig {
	readonly gpu: SimulatedGpu;
	readonly host: HostEngine;
	readonly pt: TestPageTables;
	readonly errors: ChannelErrorReport[] = [];
	readonly format: 'v2' | 'v3';
	#vramNext = 0x1000_0000n;
	#instNext = 0x0800_0000n;
	#vaNext = 0x40_0000_0000n;

	constructor(options: RigOptions = {}) {
		this.gpu = createSimulatedGpu({
			chip: options.chip ?? 'ga102',
			dmaPoolSize: 64 << 20,
			...(options.clock === undefined ? {} : { clock: options.clock }),
			...(options.timing === undefined ? {} : { engineTiming: options.timing }),
			...(options.sparseWrites === undefined ? {} : { sparseWrites: options.sparseWrites }),
		});
		this.gpu.config.write16(PCI.COMMAND, this.gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER);
		this.format = this.gpu.mmu.format;
		this.pt = new TestPageTables(this.format, new VramTables(this.gpu), 'video', 0x10_0000n);
		// The simulated GPU mounts its own host engine (and doorbell windows); use that one.
		this.host = this.gpu.host;
		this.host.addErrorListener((r) => this.errors.push(r));
	}

	get clock(): VirtualClock {
		return this.gpu.clock as VirtualClock;
	}

	/** The page directory of the rig's address space. */
	get pdbAddress(): bigint {
		return this.pt.root.address;
	}

	/** Reserve VRAM (4 KiB aligned by default). */
	vram(size: number, align = 4096n): bigint {
		this.#vramNext = (this.#vramNext + align - 1n) & ~(align - 1n);
		const pa = this.#vramNext;
		this.#vramNext += BigInt(size);
		return pa;
	}

	/** Reserve a GPU VA range (4 KiB aligned by default), with a guard page after it. */
	va(size: number, align = 4096n): bigint {
		this.#vaNext = (this.#vaNext + align - 1n) & ~(align - 1n);
		const va = this.#vaNext;
		this.#vaNext += ((BigInt(size) + 0xfffn) & ~0xfffn) + 0x1000n;
		return va;
	}

	/** Map `size` bytes at `va` onto VRAM at `pa` with 4 KiB pages. */
	mapVram(va: bigint, pa: bigint, size: number, attrs: Partial<PageSpec> = {}): void {
		for (let off = 0n; off < BigInt(size); off += 0x1000n) {
			this.pt.map(va + off, 12, { ...attrs, aperture: 'video', pa: pa + off });
		}
	}

	/** Map a DMA buffer (whole pages) at `va`. */
	mapSys(va: bigint, buf: DmaBuffer, attrs: Partial<PageSpec> = {}): void {
		for (let off = 0n; off < BigInt(buf.size); off += 0x1000n) {
			this.pt.map(va + off, 12, { ...attrs, aperture: 'sys-coherent', pa: buf.busAddress + off });
		}
	}

	/** A page-aligned DMA buffer. */
	sys(size: number, label = 'test'): DmaBuffer {
		return this.gpu.dma.alloc(Math.ceil(size / 4096) * 4096, { align: 4096, label });
	}

	/** A page-aligned DMA buffer mapped at a fresh VA. */
	sysMapped(size: number, attrs: Partial<PageSpec> = {}): { buf: DmaBuffer; va: bigint } {
		const buf = this.sys(size);
		const va = this.va(buf.size);
		this.mapSys(va, buf, attrs);
		return { buf, va };
	}

	/** VRAM mapped at a fresh VA. */
	vramMapped(size: number, attrs: Partial<PageSpec> = {}): { pa: bigint; va: bigint } {
		const pa = this.vram(size);
		const va = this.va(size);
		this.mapVram(va, pa, size, attrs);
		return { pa, va };
	}

	/** Read VRAM. */
	readVram(pa: bigint, length: number): Uint8Array {
		const b = new Uint8Array(length);
		this.gpu.fb.read(pa, b);
		return b;
	}

	/** Write VRAM. */
	writeVram(pa: bigint, bytes: Uint8Array): void {
		this.gpu.fb.write(pa, bytes);
	}

	/** Create and register a channel on the rig's address space. */
	channel(o: ChannelOptions = {}): TestChannel {
		return new TestChannel(this, o);
	}

	/** A fresh instance-block address in VRAM. */
	instanceBlock(): bigint {
		const pa = this.#instNext;
		this.#instNext += 0x1000n;
		return pa;
	}

	/** Let the engine run: one zero-length clock step (delivers doorbells), then `runUntilIdle`. */
	settle() {
		this.clock.advance(0n);
		return this.host.runUntilIdle();
	}

	/** How many times the non-stall line was raised. */
	get nonStallCount(): number {
		return this.gpu.interrupt('nonstall').raiseCount;
	}

	async close(): Promise<void> {
		this.host.close();
		await this.gpu.close();
	}
}

/** Options of a {@link TestChannel}. */
export interface ChannelOptions {
	readonly chid?: number;
	readonly runlistId?: number;
	readonly class?: number;
	readonly entries?: number;
	readonly privileged?: boolean;
	readonly engineClass?: number;
	/** Where USERD lives. Default system memory. */
	readonly userdIn?: 'sys' | 'video';
	/** Pass the GPFIFO in RAMFC instead of the registration. */
	readonly gpfifoInRamfc?: boolean;
	/** Byte offset of the ring inside its mapping (a multiple of 8), to exercise low address bits. */
	readonly gpOffset?: number;
	/** Do not register (the test registers with its own object). */
	readonly register?: boolean;
	readonly tag?: unknown;
}

/** Default channel class of a chip's architecture (reference C.2). */
function defaultClass(gpu: SimulatedGpu): number {
	switch (gpu.chip.architecture) {
		case 22:
			return 0xc46f;
		case 24:
			return 0xc86f;
		default:
			return 0xc56f;
	}
}

/** A channel laid out by the test: instance block in VRAM, USERD, GPFIFO and pushbuffers in system memory. */
export class TestChannel {
	readonly rig: Rig;
	readonly chid: number;
	readonly runlistId: number;
	readonly entries: number;
	readonly registration: ChannelRegistration;
	readonly userd: { aperture: TableAperture; address: bigint };
	readonly userdBuf: DmaBuffer | undefined;
	/** The ring: `va` is its first entry, at byte `offset` of `buf`. */
	readonly gpfifo: { buf: DmaBuffer; va: bigint; offset: number };
	readonly pushbuf: { buf: DmaBuffer; va: bigint };
	readonly instance: bigint;
	#put = 0;
	#pbNext = 0;

	constructor(rig: Rig, o: ChannelOptions) {
		this.rig = rig;
		this.chid = o.chid ?? 1;
		this.runlistId = o.runlistId ?? 0;
		this.entries = o.entries ?? 64;
		this.instance = rig.instanceBlock();
		// PAGE_DIR_BASE (reference B.5): TARGET 1:0 = 0 (VID), USE_VER2_PT_FORMAT bit 10, BIG_PAGE_SIZE bit 11
		// (64 KiB), PAGE_DIR_BASE_LO 31:12, PAGE_DIR_BASE_HI at 0x204.
		const pdb = rig.pdbAddress;
		const words = new Uint8Array(8);
		const dv = new DataView(words.buffer);
		dv.setUint32(0, (Number(pdb & 0xffff_f000n) | (1 << 10) | (1 << 11) | 0) >>> 0, true);
		dv.setUint32(4, Number(pdb >> 32n), true);
		rig.writeVram(this.instance + 0x200n, words);

		const gpOffset = o.gpOffset ?? 0;
		const ring = rig.sysMapped(gpOffset + this.entries * 8);
		this.gpfifo = { buf: ring.buf, va: ring.va + BigInt(gpOffset), offset: gpOffset };
		this.pushbuf = rig.sysMapped(256 * 1024);
		if (o.userdIn === 'video') {
			this.userd = { aperture: 'video', address: rig.vram(512, 512n) };
			this.userdBuf = undefined;
		} else {
			const b = rig.sys(4096);
			this.userdBuf = b;
			this.userd = { aperture: 'sys-coherent', address: b.busAddress };
		}
		if (o.gpfifoInRamfc) {
			// RAMFC GP_BASE (0x48) = VA 31:3, GP_BASE_HI (0x4c) = VA 39:32 | LIMIT2 << 16 (reference C.6).
			const r = new Uint8Array(8);
			const rv = new DataView(r.buffer);
			rv.setUint32(0, Number(this.gpfifo.va & 0xffff_fff8n), true);
			rv.setUint32(
				4,
				(Number((this.gpfifo.va >> 32n) & 0xffn) | (Math.log2(this.entries) << 16)) >>> 0,
				true,
			);
			rig.writeVram(this.instance + 0x48n, r);
		}
		this.registration = {
			chid: this.chid,
			runlistId: this.runlistId,
			class: o.class ?? defaultClass(rig.gpu),
			instanceBlock: { aperture: 'video', address: this.instance },
			userd: this.userd,
			...(o.gpfifoInRamfc ? {} : { gpfifo: { va: this.gpfifo.va, entries: this.entries } }),
			...(o.privileged === undefined ? {} : { privileged: o.privileged }),
			...(o.engineClass === undefined ? {} : { engineClass: o.engineClass }),
			...(o.tag === undefined ? {} : { tag: o.tag }),
		};
		if (o.register !== false) rig.host.registerChannel(this.registration);
	}

	/** The work-submit token (reference C.4): CHID 11:0 | RUNLIST_ID << 16. */
	get token(): number {
		return (this.chid | (this.runlistId << 16)) >>> 0;
	}

	/** Where the next GP entry goes. */
	get put(): number {
		return this.#put;
	}

	/** Write `words` into the pushbuffer and return their VA. */
	writePush(words: readonly number[]): bigint {
		// A ring: tests let earlier work finish before they wrap around.
		if (this.#pbNext + words.length * 4 > this.pushbuf.buf.size) this.#pbNext = 0;
		const at = this.#pbNext;
		const dv = this.pushbuf.buf.view;
		for (const [i, w] of words.entries()) dv.setUint32(at + i * 4, w >>> 0, true);
		this.#pbNext = at + Math.max(4, words.length * 4);
		return this.pushbuf.va + BigInt(at);
	}

	/** Append a raw GP entry (does not publish GP_PUT). */
	gp(entry: readonly [number, number]): void {
		const dv = this.gpfifo.buf.view;
		const at = this.gpfifo.offset + this.#put * 8;
		dv.setUint32(at, entry[0] >>> 0, true);
		dv.setUint32(at + 4, entry[1] >>> 0, true);
		this.#put = (this.#put + 1) % this.entries;
	}

	/** Write `words` as one segment and queue its GP entry (does not publish GP_PUT). */
	push(words: readonly number[], o: { level?: 0 | 1; conditional?: boolean } = {}): bigint {
		const va = this.writePush(words);
		this.gp(gpEntry(va, words.length, o));
		return va;
	}

	/** Store GP_PUT in USERD (reference C.3: 0x8c). */
	publish(put = this.#put): void {
		this.writeUserd(0x8c, put);
	}

	/** Ring the doorbell through BAR0 (the usermode window of the chip). */
	ring(token = this.token): void {
		const base = this.rig.gpu.chip.architecture === 22 ? 0x810000 : 0xbb0000;
		this.rig.gpu.bar0.write32(base + 0x90, token);
	}

	/** push + publish + ring. */
	submit(words: readonly number[]): bigint {
		const va = this.push(words);
		this.publish();
		this.ring();
		return va;
	}

	readUserd(offset: number): number {
		const b = new Uint8Array(4);
		if (this.userd.aperture === 'video') this.rig.gpu.fb.read(this.userd.address + BigInt(offset), b);
		else b.set(this.userdBuf!.bytes.subarray(offset, offset + 4));
		return new DataView(b.buffer).getUint32(0, true);
	}

	writeUserd(offset: number, value: number): void {
		const b = new Uint8Array(4);
		new DataView(b.buffer).setUint32(0, value >>> 0, true);
		if (this.userd.aperture === 'video') this.rig.gpu.fb.write(this.userd.address + BigInt(offset), b);
		else this.userdBuf!.bytes.set(b, offset);
	}

	/** GP_GET as the engine published it (USERD 0x88). */
	get gpGet(): number {
		return this.readUserd(0x88);
	}
}

/** Little-endian u32 of `bytes` at `offset`. */
export function u32(bytes: Uint8Array, offset = 0): number {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** Little-endian u64 of `bytes` at `offset`. */
export function u64(bytes: Uint8Array, offset = 0): bigint {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

/** Deterministic pseudo-random bytes. */
export function pattern(length: number, seed: number): Uint8Array {
	const out = new Uint8Array(length);
	let x = (seed * 2654435761) >>> 0 || 1;
	for (let i = 0; i < length; i++) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		out[i] = x & 0xff;
	}
	return out;
}
