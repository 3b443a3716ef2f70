/**
 * A small fake GPU for channel tests: a VA space of byte arrays, and a "host" that, when the doorbell rings,
 * fetches GP entries from the ring, reads the pushbuffer segments through the VA space and executes host
 * semaphore releases, MEM_OPs, NON_STALL_INTERRUPT and copy-engine copies/fills.
 *
 * It decodes GP entries and method headers with its own bit arithmetic (written from the header definitions,
 * not by calling the package's encoders or decoder), so an encoding bug shows up as a mismatch.
 */

import { bytesRegion, GpFifoChannel, type MemoryRegion } from '../../src/index.ts';

interface Mapping {
	readonly va: bigint;
	readonly bytes: Uint8Array;
}

/** GPU VA → byte arrays. */
export class FakeVaSpace {
	readonly #maps: Mapping[] = [];

	/** Map `size` fresh shared bytes at `va`; returns the bytes. */
	map(va: bigint, size: number): Uint8Array {
		const bytes = new Uint8Array(new SharedArrayBuffer(size));
		this.#maps.push({ va, bytes });
		return bytes;
	}

	/** The mapping holding `[va, va+len)`, and the offset in it. Throws (a "page fault") if unmapped. */
	translate(va: bigint, len: number): { bytes: Uint8Array; offset: number } {
		for (const m of this.#maps) {
			if (va >= m.va && va + BigInt(len) <= m.va + BigInt(m.bytes.length)) {
				return { bytes: m.bytes, offset: Number(va - m.va) };
			}
		}
		throw new Error(`fake MMU fault at 0x${va.toString(16)} (+${len})`);
	}

	read32(va: bigint): number {
		const { bytes, offset } = this.translate(va, 4);
		return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
	}

	write32(va: bigint, value: number): void {
		const { bytes, offset } = this.translate(va, 4);
		const i32 = new Int32Array(bytes.buffer, bytes.byteOffset + offset, 1);
		Atomics.store(i32, 0, value | 0);
	}
}

/** One method executed by the fake host. */
export interface ExecutedMethod {
	readonly subchannel: number;
	readonly method: number;
	readonly data: number;
}

/** Fake BAR0 that records writes. */
export class FakeBar0 {
	readonly size = 16 << 20;
	readonly writes: { offset: number; value: number }[] = [];
	onWrite: ((offset: number, value: number) => void) | undefined;
	read32(_offset: number): number {
		return 0;
	}
	write32(offset: number, value: number): void {
		this.writes.push({ offset, value: value >>> 0 });
		this.onWrite?.(offset, value >>> 0);
	}
}

const GP_GET = 0x88;
const GP_PUT = 0x8c;

/** The fake host + copy engine of one channel. */
export class FakeHost {
	readonly vas: FakeVaSpace;
	readonly ring: MemoryRegion;
	readonly userd: MemoryRegion;
	readonly entries: number;
	/** When true, doorbells are ignored and GP_GET does not move (a hung or slow engine). */
	paused = false;
	/** Fetch at most this many entries per doorbell/step (simulates a slow host). */
	maxPerStep = Number.POSITIVE_INFINITY;
	nonStallInterrupts = 0;
	readonly executed: ExecutedMethod[] = [];
	readonly fetched: { index: number; va: bigint; lengthWords: number; sync: boolean }[] = [];
	onNonStall: (() => void) | undefined;
	#get = 0;
	#sem = { addrLo: 0, addrHi: 0, payloadLo: 0, payloadHi: 0 };
	readonly #ce = new Map<number, number>();
	readonly #boundClass = new Map<number, number>();

	constructor(vas: FakeVaSpace, ring: MemoryRegion, userd: MemoryRegion, entries: number) {
		this.vas = vas;
		this.ring = ring;
		this.userd = userd;
		this.entries = entries;
	}

	/** Doorbell: process what is there (unless paused). */
	doorbell(): void {
		if (!this.paused) this.step();
	}

	/** Fetch and execute entries from GP_GET up to GP_PUT (at most `maxPerStep`). */
	step(): number {
		const put = this.userd.load32(GP_PUT);
		let n = 0;
		while (this.#get !== put && n < this.maxPerStep) {
			const w0 = this.ring.read32(this.#get * 8);
			const w1 = this.ring.read32(this.#get * 8 + 4);
			const index = this.#get;
			this.#get = (this.#get + 1) % this.entries;
			this.userd.store32(GP_GET, this.#get);
			n++;
			const length = Math.floor(w1 / 1024) % 2 ** 21; // 30:10
			if (length === 0) continue; // control entry
			const va = BigInt(w1 & 0xff) * 2n ** 32n + BigInt(w0 - (w0 % 4)); // GET_HI 7:0, GET 31:2
			const sync = w1 >>> 31 === 1;
			this.fetched.push({ index, va, lengthWords: length, sync });
			this.#runSegment(va, length);
		}
		return n;
	}

	#runSegment(va: bigint, length: number): void {
		const words: number[] = [];
		for (let i = 0; i < length; i++) words.push(this.vas.read32(va + BigInt(4 * i)));
		let i = 0;
		while (i < words.length) {
			const h = words[i++] as number;
			const secOp = h >>> 29;
			const count = (h >>> 16) & 0x1fff;
			const subch = (h >>> 13) & 7;
			const method = (h & 0xfff) * 4;
			if (secOp === 7) return;
			if (secOp === 4) {
				this.#method(subch, method, count);
				continue;
			}
			if (secOp !== 1 && secOp !== 3 && secOp !== 5) throw new Error(`fake host: bad SEC_OP ${secOp}`);
			for (let k = 0; k < count; k++) {
				const step = secOp === 1 ? k : secOp === 5 ? Math.min(k, 1) : 0;
				this.#method(subch, method + 4 * step, words[i + k] as number);
			}
			i += count;
		}
	}

	#method(subchannel: number, method: number, data: number): void {
		this.executed.push({ subchannel, method, data: data >>> 0 });
		if (method === 0x000) {
			this.#boundClass.set(subchannel, data & 0xffff);
			return;
		}
		if (method < 0x100) {
			switch (method) {
				case 0x05c:
					this.#sem.addrLo = data >>> 0;
					break;
				case 0x060:
					this.#sem.addrHi = data >>> 0;
					break;
				case 0x064:
					this.#sem.payloadLo = data >>> 0;
					break;
				case 0x068:
					this.#sem.payloadHi = data >>> 0;
					break;
				case 0x06c: {
					const op = data & 7;
					if (op === 1) {
						const va =
							BigInt(this.#sem.addrHi) * 2n ** 32n + BigInt(this.#sem.addrLo - (this.#sem.addrLo % 4));
						this.vas.write32(va, this.#sem.payloadLo);
						if ((data >>> 24) & 1) this.vas.write32(va + 4n, this.#sem.payloadHi);
					}
					break;
				}
				case 0x020:
					this.nonStallInterrupts++;
					this.onNonStall?.();
					break;
				default:
					break;
			}
			return;
		}
		// Copy engine (any subchannel bound to a *b5 class).
		this.#ce.set(method, data >>> 0);
		if (method === 0x300) this.#launch(data >>> 0);
	}

	#launch(launch: number): void {
		const ce = (m: number): number => this.#ce.get(m) ?? 0;
		const len = ce(0x418);
		const remap = (launch >>> 10) & 1;
		const dst = BigInt(ce(0x408)) * 2n ** 32n + BigInt(ce(0x40c));
		if (remap) {
			const comps = ce(0x708);
			const compSize = [1, 2, 3, 4][(comps >>> 16) & 3] as number;
			const numDst = ((comps >>> 24) & 3) + 1;
			const constA = ce(0x700);
			const constB = ce(0x704);
			const elem = compSize * numDst;
			const { bytes, offset } = this.vas.translate(dst, len * elem);
			const pattern = new Uint8Array(8);
			new DataView(pattern.buffer).setUint32(0, constA, true);
			new DataView(pattern.buffer).setUint32(4, constB, true);
			const one = numDst === 2 ? pattern : pattern.subarray(0, compSize);
			for (let e = 0; e < len; e++) bytes.set(one, offset + e * elem);
		} else {
			const src = BigInt(ce(0x400)) * 2n ** 32n + BigInt(ce(0x404));
			const s = this.vas.translate(src, len);
			const d = this.vas.translate(dst, len);
			d.bytes.set(s.bytes.slice(s.offset, s.offset + len), d.offset);
		}
		const semType = (launch >>> 3) & 3;
		if (semType !== 0) {
			const va = BigInt(ce(0x240)) * 2n ** 32n + BigInt(ce(0x244));
			this.vas.write32(va, ce(0x248));
			if ((launch >>> 27) & 1) this.vas.write32(va + 4n, ce(0x24c));
		}
	}
}

/** Options of {@link makeFakeChannel}. */
export interface FakeChannelOptions {
	readonly entries?: number;
	readonly host?: number;
	readonly slotWords?: number;
	readonly token?: number;
	readonly doorbellOffset?: number;
	/** Put the semaphore at this VA (default 0x10_0000_0000 + base). */
	readonly semaphoreVa?: bigint;
	/** Share a VA space with other fake channels (then give each a different `base`). */
	readonly vas?: FakeVaSpace;
	/** Offset added to the channel's own VAs (ring, kernel push, semaphore). */
	readonly base?: bigint;
}

/** A channel wired to a fake host through a fake VA space and a recording BAR0. */
export interface FakeChannel {
	readonly channel: GpFifoChannel;
	readonly host: FakeHost;
	readonly vas: FakeVaSpace;
	readonly bar0: FakeBar0;
	readonly userd: MemoryRegion;
	readonly ring: MemoryRegion;
	readonly semaphore: MemoryRegion;
}

/** Build a channel whose doorbell drives a {@link FakeHost}. */
export function makeFakeChannel(options: FakeChannelOptions = {}): FakeChannel {
	const entries = options.entries ?? 16;
	const slotWords = options.slotWords ?? 64;
	const vas = options.vas ?? new FakeVaSpace();
	const base = options.base ?? 0n;
	const ring = bytesRegion(vas.map(0x1_0000_0000n + base, entries * 8));
	const userd = bytesRegion(new Uint8Array(new SharedArrayBuffer(512)));
	const kpVa = 0x2_0000_0000n + base;
	const kp = bytesRegion(vas.map(kpVa, entries * slotWords * 4));
	const semVa = options.semaphoreVa ?? 0x10_0000_0000n + base;
	const sem = bytesRegion(vas.map(semVa, 16));
	const host = new FakeHost(vas, ring, userd, entries);
	const bar0 = new FakeBar0();
	const doorbellOffset = options.doorbellOffset ?? 0xbb0090;
	bar0.onWrite = (offset) => {
		if (offset === doorbellOffset) host.doorbell();
	};
	const channel = new GpFifoChannel({
		name: 'fake',
		host: options.host ?? 0xc56f,
		ring,
		entries,
		userd,
		doorbell: { ring: (token) => bar0.write32(doorbellOffset, token) },
		workSubmitToken: options.token ?? 0x0005_0003,
		kernelPush: { cpu: kp, va: kpVa },
		slotWords,
		semaphore: { cpu: sem, va: semVa },
	});
	return { channel, host, vas, bar0, userd, ring, semaphore: sem };
}
