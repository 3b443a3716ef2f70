/**
 * One end of the GSP message-queue pair (reference §1): the ring arithmetic, element framing, checksum,
 * sequence numbers, CONTINUATION_RECORD splitting and reassembly, and the swap-RX pointer ownership.
 *
 * {@link QueuePair} is parametrised by the side it sits on. The CPU transmits on the command queue and
 * receives on the status queue; GSP-RM the other way round. Under swap-RX each side writes only its own
 * queue's header page:
 *
 * | written by | field                       | meaning                                   |
 * |------------|-----------------------------|-------------------------------------------|
 * | CPU        | `cmdq.tx.writePtr`          | how far the CPU has filled the command queue |
 * | CPU        | `cmdq.rx.readPtr`           | how far the CPU has read the **status** queue |
 * | GSP        | `statq.tx.writePtr`         | how far the GSP has filled the status queue |
 * | GSP        | `statq.rx.readPtr`          | how far the GSP has read the **command** queue |
 *
 * Pointers are published with `Atomics.store` after the element bytes are written, and the peer's pointers
 * are read with `Atomics.load` before its bytes, so a peer in another thread sharing the `SharedArrayBuffer`
 * sees ordered writes (the JavaScript memory model's release/acquire through sequentially consistent atomics).
 *
 * Elements are 1–16 pages; page i of an element at slot s is slot `(s + i) % msgCount`, so an element that
 * runs past the end of the ring continues at slot 0 (nouveau `r535_gsp_cmdq_push`/`r535_gsp_msgq_recv_one_elem`
 * copy in two parts; OpenRM's `msgqTxGetWriteBuffer(n)` is `(wptr + n) % msgCount`). One slot always stays
 * empty: free = `rptr + cnt − wptr − 1`.
 *
 * @module
 */

import { Buffer } from 'node:buffer';
import { InvalidArgumentError, type SharedWasmMemory } from '@gspkit/hal';
import { type InPlaceXor, inPlaceXorKernel, xorBytes, xorRangeWith } from './checksum.ts';
import {
	GSP_MSG_MAX_PAGES,
	GSP_PAGE_SIZE,
	MSGQ_ENTRY_ALIGN_SHIFT,
	MSGQ_FLAGS_SWAP_RX,
	MSGQ_HEADER_ALIGN_SHIFT,
	MSGQ_VERSION,
	RPC_HEADER_VERSION,
	RPC_RESULT_PENDING,
	RPC_SIGNATURE,
} from './constants.ts';
import { RpcError, type RpcErrorCode } from './errors.ts';
import { compileRpcAbi, type RpcAbi, type RpcWire } from './rpc-abi.ts';

/** Which end of the queue pair an endpoint is. */
export type QueueSide = 'cpu' | 'gsp';

/** A complete message (continuation records already reassembled). */
export interface RpcMessage {
	/** `rpc.function` of the first element. */
	readonly function: number;
	/** `rpc.sequence` of the first element. */
	readonly sequence: number;
	/** `rpc.rpc_result` (0xFFFFFFFF in requests, NV_STATUS in replies). */
	readonly result: number;
	/** `rpc.rpc_result_private`. */
	readonly resultPrivate: number;
	/** The payload after the RPC header, all chunks concatenated (a private copy). */
	readonly payload: Uint8Array;
	/** Number of queue elements it arrived in (1 + continuation records). */
	readonly elements: number;
}

/**
 * Total payload length of a message whose first element is full, given its function, sequence and the first
 * ≤ 1 KiB of its payload; `undefined` if unknown. The protocol does not carry the total: nouveau's receiver is
 * told the size by its caller, GSP-RM knows it from the RPC's own structure (e.g. `paramsSize`).
 */
export type LengthHint = (fn: number, sequence: number, head: Uint8Array) => number | undefined;

/** Options of {@link QueuePair}. */
export interface QueuePairOptions {
	/** The firmware ABI (or its compiled form). */
	readonly abi: RpcAbi | RpcWire;
	/** The whole shared region (page table + both queues), as both sides see it. Byte offset a multiple of 8. */
	readonly memory: Uint8Array;
	/** Which end this is. */
	readonly side: QueueSide;
	/** Region offset of the command queue's header page (0x1000). */
	readonly cmdqOffset: number;
	/** Region offset of the status queue's header page (0x41000). */
	readonly statqOffset: number;
	/** Size of the command queue (header page + entries). */
	readonly cmdqSize: number;
	/** Size of the status queue. */
	readonly statqSize: number;
	/** Called after a pointer is published: the CPU rings the doorbell, the GSP raises its interrupt. */
	readonly notify?: () => void;
	/** See {@link LengthHint}. Without a hint, a full first element is open-ended (see {@link QueuePair.receive}). */
	readonly lengthHint?: LengthHint;
	/** Largest message accepted from the peer; longer ones are `RPC_BAD_ELEMENT`. Default 64 MiB. */
	readonly maxMessageBytes?: number;
	/**
	 * Where a large message of known length is assembled: return a buffer of at least `bytes` (the payload is
	 * its first `bytes`). Lets a receiver that consumes messages at once reuse one buffer instead of paying
	 * for fresh memory (page faults) per megabyte. Default: a new buffer per message.
	 */
	readonly allocate?: (bytes: number) => Uint8Array;
	/**
	 * The shared `WebAssembly.Memory` that `memory` is a view of (a DMA buffer's `wasmMemory`), if any: checksums
	 * are then folded in place by a WebAssembly kernel instead of through a copy.
	 */
	readonly wasmMemory?: SharedWasmMemory;
}

/** Why the peer's queue header is not (yet) usable; `undefined` means it is. */
export interface LinkProblem {
	/** Stable reason: `'unwritten' | 'version' | 'size' | 'msgSize' | 'rxHdrOff' | 'entryOff' | 'msgCount' | 'flags'`. */
	readonly reason: string;
	readonly message: string;
}

/** Counters, for diagnostics and tests. */
export interface QueueStats {
	messagesSent: number;
	elementsSent: number;
	continuationsSent: number;
	messagesReceived: number;
	elementsReceived: number;
	continuationsReceived: number;
}

/** The `msgqTxHeader` values a sender writes for a queue of `size` bytes (OpenRM `msgqTxCreate` formulas). */
export function txHeaderValues(
	size: number,
	txHeaderSize: number,
	rxHeaderSize: number,
): {
	version: number;
	size: number;
	msgSize: number;
	msgCount: number;
	flags: number;
	rxHdrOff: number;
	entryOff: number;
} {
	const hdrAlign = 1 << MSGQ_HEADER_ALIGN_SHIFT;
	const entryAlign = 1 << MSGQ_ENTRY_ALIGN_SHIFT;
	const rxHdrOff = Math.ceil(txHeaderSize / hdrAlign) * hdrAlign;
	const entryOff = Math.ceil((rxHdrOff + rxHeaderSize) / entryAlign) * entryAlign;
	return {
		version: MSGQ_VERSION,
		size,
		msgSize: GSP_PAGE_SIZE,
		msgCount: Math.floor((size - entryOff) / GSP_PAGE_SIZE),
		flags: MSGQ_FLAGS_SWAP_RX,
		rxHdrOff,
		entryOff,
	};
}

interface Partial {
	readonly fn: number;
	readonly seq: number;
	readonly result: number;
	readonly resultPrivate: number;
	/** Known total, or undefined for open-ended. */
	readonly total: number | undefined;
	/** Preallocated buffer (known total) … */
	readonly buf: Uint8Array | undefined;
	/** … or collected chunks (open-ended). */
	readonly chunks: Uint8Array[];
	filled: number;
	elements: number;
}

const HINT_HEAD = 1024;

/**
 * A buffer for `n` bytes that are about to be overwritten completely. Large ones skip the zero-fill (a
 * measurable share of a megabyte transfer); each gets its own ArrayBuffer at offset 0, never Node's pool.
 */
function scratch(n: number): Uint8Array {
	if (n < 0x10000) return new Uint8Array(n);
	const b = Buffer.allocUnsafeSlow(n);
	return new Uint8Array(b.buffer, b.byteOffset, n);
}

/**
 * One end of the queue pair. Synchronous and allocation-light: {@link QueuePair.trySend} writes a whole
 * message if it fits, {@link QueuePair.sendElement} writes one element of a message being streamed, and
 * {@link QueuePair.receive} returns the next complete message or `undefined`. Waiting (for space, for
 * messages) and timeouts are the caller's business — see `RpcEngine`.
 *
 * Transport violations throw {@link RpcError}s (`RPC_CHECKSUM`, `RPC_BAD_ELEMENT`, `RPC_SEQUENCE`,
 * `RPC_UNEXPECTED_CONTINUATION`, `RPC_BAD_POINTER`) and leave the read pointer where it was.
 */
export class QueuePair {
	/** Which end this is. */
	readonly side: QueueSide;
	/** The compiled ABI. */
	readonly wire: RpcWire;
	/** Counters. */
	readonly stats: QueueStats = {
		messagesSent: 0,
		elementsSent: 0,
		continuationsSent: 0,
		messagesReceived: 0,
		elementsReceived: 0,
		continuationsReceived: 0,
	};

	readonly #u8: Uint8Array;
	readonly #i32: Int32Array;
	readonly #dv: DataView;
	readonly #notify: (() => void) | undefined;
	readonly #hint: LengthHint | undefined;
	readonly #maxMessage: number;
	readonly #allocate: (bytes: number) => Uint8Array;
	/** The in-place checksum kernel on the region's wasm memory, when it has one. */
	readonly #xorKernel: InPlaceXor | undefined;

	// My transmit queue (I write its TX header and its RX header's readPtr).
	readonly #txBase: number;
	readonly #txSize: number;
	readonly #txCount: number;
	readonly #txEntries: number;
	readonly #txRxHdrOff: number;
	/** Int32 index of my TX writePtr. */
	readonly #wptrIdx: number;
	/** Int32 index of my read pointer into the peer's queue (in my TX page's RX header). */
	readonly #myRptrIdx: number;

	// The peer's transmit queue (my receive queue).
	readonly #rxBase: number;
	readonly #rxSize: number;
	#rxCount = 0;
	#rxEntries = 0;
	/** Int32 index of the peer's writePtr. */
	readonly #peerWptrIdx: number;
	/** Int32 index of the peer's read pointer into my queue; moves when linking reads the peer's rxHdrOff. */
	#peerRptrIdx: number;

	#wptr = 0;
	#rptr = 0;
	#txSeq = 0;
	#rxSeq = 0;
	#linked = false;
	#partial: Partial | undefined;

	constructor(options: QueuePairOptions) {
		const { memory, side } = options;
		if (side !== 'cpu' && side !== 'gsp')
			throw new InvalidArgumentError(`side must be 'cpu' or 'gsp'`, { side });
		if (memory.byteOffset % 8 !== 0) {
			throw new InvalidArgumentError('shared region must start 8-byte aligned', {
				byteOffset: memory.byteOffset,
			});
		}
		this.side = side;
		this.wire = 'tx' in options.abi ? options.abi : compileRpcAbi(options.abi);
		this.#u8 = memory;
		this.#i32 = new Int32Array(memory.buffer, memory.byteOffset, memory.length >> 2);
		this.#dv = new DataView(memory.buffer, memory.byteOffset, memory.length);
		this.#notify = options.notify;
		this.#hint = options.lengthHint;
		this.#maxMessage = options.maxMessageBytes ?? 64 * 1024 * 1024;
		const alloc = options.allocate;
		this.#allocate =
			alloc === undefined
				? scratch
				: (n) => {
						const b = alloc(n);
						if (!(b instanceof Uint8Array) || b.length < n) {
							throw new InvalidArgumentError(`allocate(${n}) returned a buffer too small`, { bytes: n });
						}
						return b.length === n ? b : b.subarray(0, n);
					};
		if (options.wasmMemory !== undefined && options.wasmMemory.buffer !== memory.buffer) {
			throw new InvalidArgumentError('wasmMemory must be the memory the shared region is a view of');
		}
		this.#xorKernel = options.wasmMemory === undefined ? undefined : inPlaceXorKernel(options.wasmMemory);
		const cpu = side === 'cpu';
		this.#txBase = cpu ? options.cmdqOffset : options.statqOffset;
		this.#txSize = cpu ? options.cmdqSize : options.statqSize;
		this.#rxBase = cpu ? options.statqOffset : options.cmdqOffset;
		this.#rxSize = cpu ? options.statqSize : options.cmdqSize;
		for (const [what, base, size] of [
			['transmit queue', this.#txBase, this.#txSize],
			['receive queue', this.#rxBase, this.#rxSize],
		] as const) {
			if (base % GSP_PAGE_SIZE !== 0 || base + size > memory.length) {
				throw new InvalidArgumentError(
					`${what} at ${base} (+${size}) is not inside the region or not page-aligned`,
					{
						base,
						size,
						region: memory.length,
					},
				);
			}
		}
		const w = this.wire;
		const mine = txHeaderValues(this.#txSize, w.tx.size, w.rx.size);
		if (mine.msgCount < GSP_MSG_MAX_PAGES + 1) {
			throw new InvalidArgumentError('queue too small for a 16-page element', { size: this.#txSize });
		}
		this.#txCount = mine.msgCount;
		this.#txEntries = this.#txBase + mine.entryOff;
		this.#txRxHdrOff = mine.rxHdrOff;
		this.#wptrIdx = (this.#txBase + w.tx.writePtr) >> 2;
		this.#myRptrIdx = (this.#txBase + mine.rxHdrOff + w.rx.readPtr) >> 2;
		this.#peerWptrIdx = (this.#rxBase + w.tx.writePtr) >> 2;
		// Until linked, assume the peer uses the same RX-header offset (the formula is the same on both sides).
		this.#peerRptrIdx = (this.#rxBase + mine.rxHdrOff + w.rx.readPtr) >> 2;
	}

	/** Whether the peer's queue header has been validated ({@link QueuePair.link}). */
	get linked(): boolean {
		return this.#linked;
	}

	/** Pages (slots) in my transmit queue (63 for a 256 KiB queue). */
	get txSlots(): number {
		return this.#txCount;
	}

	/** Pages in the peer's queue (0 until linked). */
	get rxSlots(): number {
		return this.#rxCount;
	}

	/** Next element `seqNum` this side sends. */
	get txSeqNum(): number {
		return this.#txSeq;
	}

	/** Next element `seqNum` this side expects. */
	get rxSeqNum(): number {
		return this.#rxSeq;
	}

	/** Largest payload of one element (65456 with the r535/r570 headers). */
	get maxPayloadPerElement(): number {
		return this.wire.maxPayloadPerElement;
	}

	/**
	 * Write my transmit queue's header page as `msgqTxCreate` does — version 0, size, msgSize 4 KiB,
	 * msgCount, writePtr 0, flags SWAP_RX, rxHdrOff, entryOff — and my read pointer 0; `writePtr` is published
	 * last with `Atomics.store`, so a peer that sees it sees the whole header. Resets this side's counters.
	 */
	initTx(): void {
		const w = this.wire;
		const v = txHeaderValues(this.#txSize, w.tx.size, w.rx.size);
		const b = this.#txBase;
		this.#u8.fill(0, b, b + v.entryOff);
		const dv = this.#dv;
		dv.setUint32(b + w.tx.version, v.version, true);
		dv.setUint32(b + w.tx.qsize, v.size, true);
		dv.setUint32(b + w.tx.msgSize, v.msgSize, true);
		dv.setUint32(b + w.tx.msgCount, v.msgCount, true);
		dv.setUint32(b + w.tx.flags, v.flags, true);
		dv.setUint32(b + w.tx.rxHdrOff, v.rxHdrOff, true);
		dv.setUint32(b + w.tx.entryOff, v.entryOff, true);
		Atomics.store(this.#i32, this.#myRptrIdx, 0);
		Atomics.store(this.#i32, this.#wptrIdx, 0);
		this.#wptr = 0;
		this.#txSeq = 0;
	}

	/**
	 * Check the peer's queue header as `msgqRxLink` does: version, size, msgSize, `rxHdrOff ≥ sizeof(msgqTxHeader)`,
	 * entryOff and msgCount, plus the swap-RX flag. Returns `undefined` when usable.
	 */
	checkPeer(): LinkProblem | undefined {
		const w = this.wire;
		const b = this.#rxBase;
		const dv = this.#dv;
		Atomics.load(this.#i32, this.#peerWptrIdx); // acquire: the header was written before writePtr
		const version = dv.getUint32(b + w.tx.version, true);
		const size = dv.getUint32(b + w.tx.qsize, true);
		const msgSize = dv.getUint32(b + w.tx.msgSize, true);
		const msgCount = dv.getUint32(b + w.tx.msgCount, true);
		const flags = dv.getUint32(b + w.tx.flags, true);
		const rxHdrOff = dv.getUint32(b + w.tx.rxHdrOff, true);
		const entryOff = dv.getUint32(b + w.tx.entryOff, true);
		if (size === 0 && msgSize === 0 && msgCount === 0)
			return { reason: 'unwritten', message: 'header not written yet' };
		if (version !== MSGQ_VERSION)
			return { reason: 'version', message: `version ${version}, expected ${MSGQ_VERSION}` };
		if (size !== this.#rxSize)
			return {
				reason: 'size',
				message: `size 0x${size.toString(16)}, expected 0x${this.#rxSize.toString(16)}`,
			};
		if (msgSize !== GSP_PAGE_SIZE)
			return { reason: 'msgSize', message: `msgSize ${msgSize}, expected ${GSP_PAGE_SIZE}` };
		if (rxHdrOff < w.tx.size || rxHdrOff % 4 !== 0) {
			return {
				reason: 'rxHdrOff',
				message: `rxHdrOff ${rxHdrOff} < sizeof(msgqTxHeader) ${w.tx.size} or misaligned`,
			};
		}
		if (entryOff % GSP_PAGE_SIZE !== 0 || entryOff < rxHdrOff + w.rx.size || entryOff >= size) {
			return {
				reason: 'entryOff',
				message: `entryOff 0x${entryOff.toString(16)} is not a page after the headers`,
			};
		}
		if (msgCount <= GSP_MSG_MAX_PAGES || entryOff + msgCount * msgSize > size) {
			return {
				reason: 'msgCount',
				message: `msgCount ${msgCount} does not fit the queue or a 16-page element`,
			};
		}
		if ((flags & MSGQ_FLAGS_SWAP_RX) === 0)
			return { reason: 'flags', message: `flags 0x${flags.toString(16)} lack SWAP_RX` };
		return undefined;
	}

	/**
	 * Link the receive side: if the peer's header passes {@link QueuePair.checkPeer}, adopt its geometry and
	 * return `true`; otherwise return `false` (the caller retries until the GSP has written it, with a timeout).
	 */
	link(): boolean {
		if (this.#linked) return true;
		if (this.checkPeer() !== undefined) return false;
		const w = this.wire;
		const b = this.#rxBase;
		this.#rxCount = this.#dv.getUint32(b + w.tx.msgCount, true);
		this.#rxEntries = b + this.#dv.getUint32(b + w.tx.entryOff, true);
		this.#peerRptrIdx = (b + this.#dv.getUint32(b + w.tx.rxHdrOff, true) + w.rx.readPtr) >> 2;
		this.#rptr = Atomics.load(this.#i32, this.#myRptrIdx);
		this.#linked = true;
		return true;
	}

	/** Forget the link, the partial message and all counters (after the region was re-initialised). */
	reset(): void {
		this.#linked = false;
		this.#partial = undefined;
		this.#wptr = 0;
		this.#rptr = 0;
		this.#txSeq = 0;
		this.#rxSeq = 0;
		this.#rxCount = 0;
		this.#rxEntries = 0;
		const w = this.wire;
		this.#peerRptrIdx = (this.#rxBase + this.#txRxHdrOff + w.rx.readPtr) >> 2;
	}

	// ─────────────────────────── sending ───────────────────────────

	/** Free slots in my transmit queue (one slot is always kept empty). */
	freeSlots(): number {
		const r = Atomics.load(this.#i32, this.#peerRptrIdx);
		if (r < 0 || r >= this.#txCount) {
			throw this.#error(
				'RPC_BAD_POINTER',
				`peer read pointer ${r} outside the ${this.#txCount}-slot queue`,
				{
					readPtr: r,
				},
				true,
			);
		}
		const free = r + this.#txCount - this.#wptr - 1;
		return free >= this.#txCount ? free - this.#txCount : free;
	}

	/** Pages a message of `payloadBytes` occupies, per element. */
	elementPages(payloadBytes: number): number[] {
		const max = this.wire.maxPayloadPerElement;
		const fixed = this.wire.elem.headerSize + this.wire.rpc.size;
		const out: number[] = [];
		let left = payloadBytes;
		do {
			const n = Math.min(left, max);
			out.push(Math.ceil((fixed + n) / GSP_PAGE_SIZE));
			left -= n;
		} while (left > 0);
		return out;
	}

	/**
	 * Send a whole message now if all its elements fit; returns `false` (nothing written) otherwise. The payload
	 * is `head` followed by `body` (so a payload header and caller params need no concatenation). Payloads over
	 * {@link QueuePair.maxPayloadPerElement} go out as the real function followed by CONTINUATION_RECORDs with
	 * the same `rpc.sequence`. Publishes once and notifies once. `result` is `rpc_result`: requests carry
	 * 0xFFFFFFFF (the default, with `rpc_result_private` the same); a GSP-side reply carries its NV_STATUS.
	 */
	trySend(
		fn: number,
		sequence: number,
		head: Uint8Array,
		body?: Uint8Array,
		result: number = RPC_RESULT_PENDING,
	): boolean {
		const total = head.length + (body?.length ?? 0);
		const max = this.wire.maxPayloadPerElement;
		const fixed = this.wire.elem.headerSize + this.wire.rpc.size;
		let pages: number;
		if (total <= max) pages = Math.ceil((fixed + total) / GSP_PAGE_SIZE);
		else {
			pages = 0;
			for (const p of this.elementPages(total)) pages += p;
		}
		if (pages > this.freeSlots()) return false;
		let off = 0;
		let first = true;
		do {
			const n = Math.min(total - off, max);
			this.#writeElement(first ? fn : this.wire.continuationRecord, sequence, head, body, off, n, result);
			first = false;
			off += n;
		} while (off < total);
		this.stats.messagesSent++;
		this.#publish();
		return true;
	}

	/**
	 * Write and publish element `index` of a message being streamed (for messages that do not fit at once):
	 * the caller waits for `elementPages(total)[index]` free slots, then calls this for index 0, 1, … in order,
	 * with no other message in between. Returns the payload bytes still to send.
	 */
	sendElement(
		fn: number,
		sequence: number,
		head: Uint8Array,
		body: Uint8Array | undefined,
		index: number,
		result: number = RPC_RESULT_PENDING,
	): number {
		const total = head.length + (body?.length ?? 0);
		const max = this.wire.maxPayloadPerElement;
		const off = index * max;
		if (index < 0 || (off >= total && !(index === 0 && total === 0))) {
			throw new InvalidArgumentError(`message has no element ${index}`, { index, total });
		}
		const n = Math.min(total - off, max);
		const need = Math.ceil((this.wire.elem.headerSize + this.wire.rpc.size + n) / GSP_PAGE_SIZE);
		if (need > this.freeSlots()) {
			throw new InvalidArgumentError(`element ${index} needs ${need} free slots`, { need });
		}
		this.#writeElement(index === 0 ? fn : this.wire.continuationRecord, sequence, head, body, off, n, result);
		const left = total - off - n;
		if (left === 0) this.stats.messagesSent++;
		this.#publish();
		return left;
	}

	#publish(): void {
		Atomics.store(this.#i32, this.#wptrIdx, this.#wptr);
		this.#notify?.();
	}

	/** Write one element at the current write pointer (not yet published). */
	#writeElement(
		fn: number,
		sequence: number,
		head: Uint8Array,
		body: Uint8Array | undefined,
		off: number,
		len: number,
		result: number,
	): void {
		const w = this.wire;
		const H = w.elem.headerSize;
		const R = w.rpc.size;
		const total = H + R + len;
		const pages = Math.ceil(total / GSP_PAGE_SIZE);
		const slot = this.#wptr;
		const e = this.#txEntries + slot * GSP_PAGE_SIZE;
		const dv = this.#dv;
		// Header: auth tag, AAD, pad and spare are zero (no confidential compute); checkSum 0 while summing.
		// (A word loop: TypedArray.fill on shared memory is a slow per-byte path in V8.)
		const i32 = this.#i32;
		for (let k = e >> 2, end = (e + H + R) >> 2; k < end; k++) i32[k] = 0;
		dv.setUint32(e + w.elem.seqNum, this.#txSeq, true);
		dv.setUint32(e + w.elem.elemCount, pages, true);
		const r = e + H;
		dv.setUint32(r + w.rpc.headerVersion, RPC_HEADER_VERSION, true);
		dv.setUint32(r + w.rpc.signature, RPC_SIGNATURE, true);
		dv.setUint32(r + w.rpc.length, R + len, true);
		dv.setUint32(r + w.rpc.function, fn >>> 0, true);
		dv.setUint32(r + w.rpc.result, result >>> 0, true);
		dv.setUint32(r + w.rpc.resultPrivate, result === RPC_RESULT_PENDING ? RPC_RESULT_PENDING : 0, true);
		dv.setUint32(r + w.rpc.sequence, sequence >>> 0, true);
		// Payload, possibly across the ring end.
		const ring0 = slot * GSP_PAGE_SIZE;
		let at = ring0 + H + R;
		let o = off;
		let left = len;
		const headLen = head.length;
		if (o < headLen && left > 0) {
			const n = Math.min(left, headLen - o);
			this.#ringIn(this.#txEntries, this.#txCount, head, o, n, at);
			at += n;
			o += n;
			left -= n;
		}
		if (left > 0 && body !== undefined)
			this.#ringIn(this.#txEntries, this.#txCount, body, o - headLen, left, at);
		// The checksum covers the element zero-padded to 8 bytes: zero the (≤ 7) padding bytes in the ring.
		const sumBytes = (total + 7) & ~7;
		this.#ringFill0(this.#txEntries, this.#txCount, ring0 + total, sumBytes - total);
		// Header words from the ring. Payload words: with the in-place kernel, from the ring where they lie;
		// without it, from the caller's (unshared, cache-hot) buffers when they start on element word boundaries,
		// so shared memory is written once and not read back (else from the ring).
		let x = this.#ringXor(this.#txEntries, this.#txCount, ring0, H + R);
		const headPart = Math.max(0, Math.min(len, headLen - off));
		const bodyPart = len - headPart;
		if (this.#xorKernel === undefined && (bodyPart === 0 || headPart % 4 === 0)) {
			if (headPart > 0) x ^= xorBytes(head, off, headPart);
			if (bodyPart > 0) x ^= xorBytes(body!, off + headPart - headLen, bodyPart);
		} else {
			x ^= this.#ringXor(this.#txEntries, this.#txCount, ring0 + H + R, sumBytes - H - R);
		}
		dv.setUint32(e + w.elem.checkSum, x >>> 0, true);
		this.#wptr = (slot + pages) % this.#txCount;
		this.#txSeq = (this.#txSeq + 1) >>> 0;
		this.stats.elementsSent++;
		if (fn === w.continuationRecord) this.stats.continuationsSent++;
	}

	// ─────────────────────────── ring helpers ───────────────────────────

	#ringIn(entries: number, count: number, src: Uint8Array, srcOff: number, len: number, at: number): void {
		const cap = count * GSP_PAGE_SIZE;
		let a = at % cap;
		const first = Math.min(len, cap - a);
		this.#u8.set(src.subarray(srcOff, srcOff + first), entries + a);
		if (first < len) {
			a = 0;
			this.#u8.set(src.subarray(srcOff + first, srcOff + len), entries);
		}
	}

	#ringOut(entries: number, count: number, dst: Uint8Array, dstOff: number, len: number, at: number): void {
		const cap = count * GSP_PAGE_SIZE;
		const a = at % cap;
		const first = Math.min(len, cap - a);
		dst.set(this.#u8.subarray(entries + a, entries + a + first), dstOff);
		if (first < len) dst.set(this.#u8.subarray(entries, entries + len - first), dstOff + first);
	}

	/** Zero a few ring bytes (the checksum padding). */
	#ringFill0(entries: number, count: number, at: number, len: number): void {
		const cap = count * GSP_PAGE_SIZE;
		for (let i = 0; i < len; i++) this.#u8[entries + ((at + i) % cap)] = 0;
	}

	/** XOR of u32 words over ring bytes [at, at+len), len a multiple of 4. */
	#ringXor(entries: number, count: number, at: number, len: number): number {
		const cap = count * GSP_PAGE_SIZE;
		const a = at % cap;
		const first = Math.min(len, cap - a);
		const k = this.#xorKernel;
		let x = xorRangeWith(k, this.#u8, this.#i32, entries + a, entries + a + first);
		if (first < len) x ^= xorRangeWith(k, this.#u8, this.#i32, entries, entries + len - first);
		return x;
	}

	#ringU32(entries: number, count: number, at: number): number {
		const cap = count * GSP_PAGE_SIZE;
		return this.#dv.getUint32(entries + (at % cap), true);
	}

	// ─────────────────────────── receiving ───────────────────────────

	/** Whether the peer has published elements this side has not consumed (one atomic load). */
	hasIncoming(): boolean {
		return this.#linked && Atomics.load(this.#i32, this.#peerWptrIdx) !== this.#rptr;
	}

	/** Pages the peer has published and this side not consumed. */
	usedSlots(): number {
		if (!this.#linked) return 0;
		const wp = Atomics.load(this.#i32, this.#peerWptrIdx);
		if (wp < 0 || wp >= this.#rxCount) {
			throw this.#error(
				'RPC_BAD_POINTER',
				`peer write pointer ${wp} outside the ${this.#rxCount}-slot queue`,
				{
					writePtr: wp,
				},
			);
		}
		const used = wp + this.#rxCount - this.#rptr;
		return used >= this.#rxCount ? used - this.#rxCount : used;
	}

	/** Whether a large message is half received (waiting for continuation records). */
	get receiving(): boolean {
		return this.#partial !== undefined;
	}

	/**
	 * The next complete message, or `undefined` when none is complete yet. Consumes elements (advancing and
	 * publishing the read pointer element by element, so a long sender can proceed) and reassembles
	 * CONTINUATION_RECORDs: follow-on elements must be CONTINUATION_RECORDs, their 32-byte RPC headers are
	 * dropped and the payloads appended.
	 *
	 * The total length of a large message comes from the {@link LengthHint}. Without one, a message whose
	 * first element is full is open-ended: it ends with the first continuation shorter than a full element or
	 * at the next element that is not a continuation (so a payload of an exact multiple of 65456 bytes is
	 * delivered only when the next message arrives).
	 *
	 * @throws RpcError `RPC_CHECKSUM`, `RPC_BAD_ELEMENT`, `RPC_SEQUENCE`, `RPC_UNEXPECTED_CONTINUATION`,
	 *   `RPC_BAD_POINTER`; the offending element stays unconsumed.
	 */
	receive(): RpcMessage | undefined {
		if (!this.#linked) return undefined;
		const w = this.wire;
		const H = w.elem.headerSize;
		const R = w.rpc.size;
		const max = w.maxPayloadPerElement;
		const dv = this.#dv;
		for (;;) {
			const used = this.usedSlots();
			if (used === 0) return undefined;
			const ring0 = this.#rptr * GSP_PAGE_SIZE;
			const e = this.#rxEntries + ring0;
			const { length, elemCount } = this.#frame(e, used);
			const chunkLen = length - R;
			const at = ring0 + H + R;
			// Where the payload goes, guessed from the (not yet verified) function: the copy is checksummed, so
			// shared memory is read once. Anything that would act on the function verifies from the ring first.
			const guessCont = dv.getUint32(e + H + w.rpc.function, true) === w.continuationRecord;
			const p = this.#partial;
			let dst: Uint8Array | undefined;
			let dstOff = 0;
			if (p !== undefined && guessCont) {
				if (p.total === undefined) dst = scratch(chunkLen);
				else if (p.filled + chunkLen <= p.total) {
					dst = p.buf!;
					dstOff = p.filled;
				}
			} else if (p === undefined && !guessCont && chunkLen < max) {
				dst = new Uint8Array(chunkLen);
			}
			let payloadXor: number | undefined;
			if (dst !== undefined) {
				this.#ringOut(this.#rxEntries, this.#rxCount, dst, dstOff, chunkLen, at);
				// With the in-place kernel #verify folds the ring itself (a pass over shared memory instead of a copy
				// into the kernel's scratch page). That the peer could rewrite the payload between the copy and the
				// fold costs nothing: the checksum detects corruption, not forgery (a peer can always sum its own
				// lies), and every field that bounds a read was checked once by #frame before use.
				if (this.#xorKernel === undefined) payloadXor = xorBytes(dst, dstOff, chunkLen);
			}
			const fn = this.#verify(e, ring0, length, payloadXor);
			const seq = dv.getUint32(e + H + w.rpc.sequence, true);
			const isCont = fn === w.continuationRecord;
			if (p !== undefined) {
				if (!isCont) {
					if (p.total === undefined) return this.#finish(p);
					throw this.#error(
						'RPC_UNEXPECTED_CONTINUATION',
						`expected a CONTINUATION_RECORD (${p.filled} of ${p.total} bytes of function ${p.fn} received), got function ${fn}`,
						{ function: fn, expectedFunction: w.continuationRecord, received: p.filled, total: p.total },
					);
				}
				if (p.total !== undefined) {
					if (p.filled + chunkLen > p.total) {
						throw this.#error(
							'RPC_BAD_ELEMENT',
							`continuation overruns the message (${p.filled} + ${chunkLen} > ${p.total} bytes)`,
							{ filled: p.filled, chunk: chunkLen, total: p.total },
						);
					}
				} else {
					if (p.filled + chunkLen > this.#maxMessage) {
						throw this.#error('RPC_BAD_ELEMENT', `message exceeds ${this.#maxMessage} bytes`, {
							filled: p.filled + chunkLen,
						});
					}
					p.chunks.push(dst!);
				}
				p.filled += chunkLen;
				p.elements++;
				this.stats.continuationsReceived++;
				this.#consume(elemCount);
				if (p.total !== undefined ? p.filled === p.total : chunkLen < max) return this.#finish(p);
				continue;
			}
			if (isCont) {
				throw this.#error(
					'RPC_UNEXPECTED_CONTINUATION',
					'CONTINUATION_RECORD with no large message in progress',
					{
						seqNum: this.#rxSeq,
					},
				);
			}
			const result = dv.getUint32(e + H + w.rpc.result, true);
			const resultPrivate = dv.getUint32(e + H + w.rpc.resultPrivate, true);
			if (chunkLen < max) {
				this.#consume(elemCount);
				this.stats.messagesReceived++;
				return { function: fn, sequence: seq, result, resultPrivate, payload: dst!, elements: 1 };
			}
			// A full first element: a large message may follow.
			let total: number | undefined;
			if (this.#hint !== undefined) {
				const head = new Uint8Array(Math.min(chunkLen, HINT_HEAD));
				this.#ringOut(this.#rxEntries, this.#rxCount, head, 0, head.length, at);
				total = this.#hint(fn, seq, head);
				if (total !== undefined && (!Number.isSafeInteger(total) || total > this.#maxMessage)) {
					throw this.#error('RPC_BAD_ELEMENT', `message length ${total} is not acceptable`, { total });
				}
			}
			if (total !== undefined && total <= chunkLen) {
				const payload = scratch(chunkLen);
				this.#ringOut(this.#rxEntries, this.#rxCount, payload, 0, chunkLen, at);
				this.#consume(elemCount);
				this.stats.messagesReceived++;
				return { function: fn, sequence: seq, result, resultPrivate, payload, elements: 1 };
			}
			const buf = total === undefined ? undefined : this.#allocate(total);
			const chunks: Uint8Array[] = [];
			if (buf !== undefined) this.#ringOut(this.#rxEntries, this.#rxCount, buf, 0, chunkLen, at);
			else {
				const c = scratch(chunkLen);
				this.#ringOut(this.#rxEntries, this.#rxCount, c, 0, chunkLen, at);
				chunks.push(c);
			}
			this.#partial = { fn, seq, result, resultPrivate, total, buf, chunks, filled: chunkLen, elements: 1 };
			this.#consume(elemCount);
		}
	}

	#finish(p: Partial): RpcMessage {
		this.#partial = undefined;
		this.stats.messagesReceived++;
		let payload: Uint8Array;
		if (p.buf !== undefined) payload = p.buf;
		else if (p.chunks.length === 1) payload = p.chunks[0]!;
		else {
			payload = scratch(p.filled);
			let o = 0;
			for (const c of p.chunks) {
				payload.set(c, o);
				o += c.length;
			}
		}
		return {
			function: p.fn,
			sequence: p.seq,
			result: p.result,
			resultPrivate: p.resultPrivate,
			payload,
			elements: p.elements,
		};
	}

	#consume(elemCount: number): void {
		this.#rptr = (this.#rptr + elemCount) % this.#rxCount;
		this.#rxSeq = (this.#rxSeq + 1) >>> 0;
		this.stats.elementsReceived++;
		Atomics.store(this.#i32, this.#myRptrIdx, this.#rptr);
	}

	/** Check `elemCount` and `rpc.length` of the element at the read pointer (before anything is trusted). */
	#frame(e: number, used: number): { length: number; elemCount: number } {
		const w = this.wire;
		const dv = this.#dv;
		const H = w.elem.headerSize;
		const elemCount = dv.getUint32(e + w.elem.elemCount, true);
		if (elemCount === 0 || elemCount > GSP_MSG_MAX_PAGES) {
			throw this.#error('RPC_BAD_ELEMENT', `elemCount ${elemCount} is not 1…${GSP_MSG_MAX_PAGES}`, {
				elemCount,
			});
		}
		if (elemCount > used) {
			throw this.#error('RPC_BAD_ELEMENT', `elemCount ${elemCount} exceeds the ${used} published pages`, {
				elemCount,
				published: used,
			});
		}
		const length = dv.getUint32(e + H + w.rpc.length, true);
		const bytes = H + length;
		if (
			length < w.rpc.size ||
			bytes > elemCount * GSP_PAGE_SIZE ||
			Math.ceil(bytes / GSP_PAGE_SIZE) !== elemCount
		) {
			throw this.#error('RPC_BAD_ELEMENT', `rpc.length ${length} does not match elemCount ${elemCount}`, {
				length,
				elemCount,
			});
		}
		return { length, elemCount };
	}

	/**
	 * Verify the checksum (header words from the ring; payload words from `payloadXor` when the payload was
	 * already copied out, else from the ring), then `seqNum`, `header_version` and `signature`. Returns the
	 * function.
	 */
	#verify(e: number, ring0: number, length: number, payloadXor: number | undefined): number {
		const w = this.wire;
		const dv = this.#dv;
		const H = w.elem.headerSize;
		const R = w.rpc.size;
		let x = this.#ringXor(this.#rxEntries, this.#rxCount, ring0, H + R);
		if (payloadXor !== undefined) x ^= payloadXor;
		else {
			const chunk = length - R;
			const full = chunk & ~3;
			x ^= this.#ringXor(this.#rxEntries, this.#rxCount, ring0 + H + R, full);
			const rem = chunk & 3;
			if (rem !== 0) {
				x ^= this.#ringU32(this.#rxEntries, this.#rxCount, ring0 + H + R + full) & ((1 << (rem * 8)) - 1);
			}
		}
		if (x !== 0) {
			throw this.#error(
				'RPC_CHECKSUM',
				`element checksum does not verify (residue 0x${(x >>> 0).toString(16)})`,
				{
					residue: x >>> 0,
					checkSum: dv.getUint32(e + w.elem.checkSum, true),
				},
			);
		}
		const seqNum = dv.getUint32(e + w.elem.seqNum, true);
		if (seqNum !== this.#rxSeq) {
			throw this.#error('RPC_SEQUENCE', `element seqNum ${seqNum}, expected ${this.#rxSeq}`, {
				seqNum,
				expected: this.#rxSeq,
			});
		}
		const hv = dv.getUint32(e + H + w.rpc.headerVersion, true);
		const sig = dv.getUint32(e + H + w.rpc.signature, true);
		if (hv !== RPC_HEADER_VERSION || sig !== RPC_SIGNATURE) {
			throw this.#error(
				'RPC_BAD_ELEMENT',
				`RPC header version 0x${hv.toString(16)} / signature 0x${sig.toString(16)} is not v3.0 'VRPC'`,
				{ headerVersion: hv, signature: sig },
			);
		}
		return dv.getUint32(e + H + w.rpc.function, true);
	}

	/** A transport error about the receive queue (or, with `tx`, about this side's transmit queue). */
	#error(
		code: RpcErrorCode,
		message: string,
		details: Readonly<Record<string, unknown>>,
		tx = false,
	): RpcError {
		const queue = (this.side === 'cpu') !== tx ? 'status queue' : 'command queue';
		return new RpcError(code, `${queue}: ${message}`, {
			errno: 'EIO',
			details: { side: this.side, readPtr: this.#rptr, ...details },
		});
	}
}
