/**
 * The GSP side of the message-queue protocol (reference §1.2–§1.5): it reads command elements from the
 * command queue (checksum, header, per-direction `seqNum`, `elemCount` across the ring wrap), reassembles
 * CONTINUATION_RECORD chains, and writes replies and events into the status queue, split into
 * continuation records above 65 456 payload bytes, never past the CPU's read pointer.
 *
 * @module
 */

import { elementChecksum } from './checksum.ts';
import {
	ELEMENT_HEADER_SIZE,
	ELEMENT_MAX_PAGES,
	GSP_PAGE_SIZE,
	MSGQ_TX,
	PAYLOAD_MAX_PER_ELEMENT,
	RPC_HEADER_SIZE,
	RPC_HEADER_VERSION,
	RPC_MAX_LENGTH,
	RPC_SIGNATURE,
} from './constants.ts';
import type { GspMemory } from './memory.ts';
import { freeSlots, type QueueLayout, slotOffset, usedSlots } from './msgq.ts';

/** Kinds of protocol errors the GSP detects in what the CPU sent. */
export type ProtocolErrorKind =
	| 'checksum'
	| 'header'
	| 'sequence'
	| 'element-size'
	| 'continuation'
	| 'queue-pointer';

/** A protocol error, with a message for the OS_ERROR_LOG event. */
export interface ProtocolError {
	readonly kind: ProtocolErrorKind;
	readonly message: string;
}

/** A complete command (after reassembly). */
export interface InboundMessage {
	readonly function: number;
	/** `rpc.sequence` of the first element (echoed in the reply). */
	readonly sequence: number;
	readonly rpcResult: number;
	readonly payload: Uint8Array;
	/** Element `seqNum` of the first element. */
	readonly seqNum: number;
	/** Elements the message took (1 + continuation records). */
	readonly elements: number;
}

/** How one outgoing message must be corrupted (fault injection), decided when it is queued. */
export interface OutboundFaults {
	readonly corruptChecksum?: boolean;
	readonly skipSeqNum?: boolean;
	readonly oversize?: boolean;
}

/** An outgoing message: a reply (same function as the request) or an event. */
export interface OutboundMessage {
	readonly function: number;
	readonly sequence: number;
	readonly rpcResult: number;
	readonly payload: Uint8Array;
	/** Not written before this time (ns on the GSP's clock). */
	readonly notBefore: bigint;
	readonly faults?: OutboundFaults;
}

interface OutElement {
	readonly function: number;
	readonly sequence: number;
	readonly rpcResult: number;
	readonly chunk: Uint8Array;
	readonly notBefore: bigint;
	readonly faults: OutboundFaults | undefined;
}

interface Pending {
	readonly function: number;
	readonly sequence: number;
	readonly rpcResult: number;
	readonly seqNum: number;
	readonly buffer: Uint8Array;
	filled: number;
	elements: number;
}

/** Result of {@link GspTransport.flush}. */
export interface FlushResult {
	/** Elements written to the status queue. */
	readonly written: number;
	/** Elements still queued. */
	readonly queued: number;
	/** The next element waits for the CPU to free slots. */
	readonly blockedOnSpace: boolean;
	/** The next element waits until this time (a reply delay). */
	readonly nextAt: bigint | undefined;
}

/** Options of {@link GspTransport}. */
export interface GspTransportOptions {
	readonly memory: GspMemory;
	readonly regionBase: bigint;
	readonly regionSize: number;
	readonly cmdq: QueueLayout;
	readonly statq: QueueLayout;
	/** CONTINUATION_RECORD's function number in the booted ABI (71 in both branches). */
	readonly continuationFunction: number;
	/**
	 * The whole payload size a command announces in its first chunk (for reassembly), or `undefined` when the
	 * function carries no size (then a full first chunk is the whole message).
	 */
	readonly announcedSize: (fn: number, firstChunk: Uint8Array) => number | undefined;
	readonly onProtocolError: (e: ProtocolError) => void;
}

/** Largest message the GSP accepts after reassembly (a bound against absurd announced sizes). */
const MAX_REASSEMBLED = 16 * 1024 * 1024;

/** The GSP's endpoint of the two queues. */
export class GspTransport {
	/** Next `seqNum` expected from the CPU. */
	rxSeq = 0;
	/** Next `seqNum` the GSP stamps on an element it sends. */
	txSeq = 0;
	/** Elements received and dropped, for diagnostics. */
	dropped = 0;
	readonly #o: GspTransportOptions;
	readonly #out: OutElement[] = [];
	#pending: Pending | undefined;
	#rptr = 0;
	#wptr = 0;
	readonly #scratch = new Uint8Array((ELEMENT_MAX_PAGES + 2) * GSP_PAGE_SIZE);
	readonly #scratchView = new DataView(this.#scratch.buffer);
	#badRxPointer = false;
	#badTxPointer = false;

	constructor(options: GspTransportOptions) {
		this.#o = options;
	}

	/** Outgoing elements not yet written. */
	get queuedElements(): number {
		return this.#out.length;
	}

	/** Whether a multi-element command is half received. */
	get reassembling(): boolean {
		return this.#pending !== undefined;
	}

	#mapped: { region: Uint8Array; words: Int32Array } | undefined;

	/**
	 * Map the shared region afresh (once per GSP step): a driver that freed it makes the next access fault
	 * like an IOMMU would, while one step reuses the mapping.
	 */
	refresh(): void {
		const region = this.#o.memory.view(this.#o.regionBase, this.#o.regionSize, 'write');
		const words = new Int32Array(region.buffer, region.byteOffset, region.byteLength >> 2);
		this.#mapped = { region, words };
	}

	#map(): { region: Uint8Array; words: Int32Array } {
		if (this.#mapped === undefined) this.refresh();
		return this.#mapped!;
	}

	#load(byteOffset: number): number {
		return Atomics.load(this.#map().words, byteOffset >> 2) >>> 0;
	}

	#store(byteOffset: number, value: number): void {
		Atomics.store(this.#map().words, byteOffset >> 2, value);
	}

	// ───────────────────────────── receive ─────────────────────────────

	/** Whether the command queue holds unread elements. */
	hasInput(): boolean {
		const { cmdq } = this.#o;
		const wptr = this.#load(cmdq.offset + MSGQ_TX.writePtr);
		return wptr < cmdq.msgCount && wptr !== this.#rptr;
	}

	/**
	 * Read elements until one complete command is available (returned) or the queue is empty (`undefined`).
	 * Broken elements are dropped and reported through `onProtocolError`.
	 */
	receive(): InboundMessage | undefined {
		for (;;) {
			const el = this.#readElement();
			if (el === undefined) return undefined;
			if (el === 'dropped') continue;
			const msg = this.#assemble(el);
			if (msg !== undefined) return msg;
		}
	}

	#advance(slots: number): void {
		const { cmdq, statq } = this.#o;
		this.#rptr = (this.#rptr + slots) % cmdq.msgCount;
		// GSP's progress through the command queue lives in the status queue's RX header (swap-RX).
		this.#store(statq.offset + statq.rxHdrOff, this.#rptr);
	}

	/**
	 * Skip a broken element. The CPU counted it, and one bad element must not make every later one a sequence
	 * error: the expected `seqNum` resynchronises to the element's own + 1 when its checksum verified (so its
	 * `seqNum` can be trusted), and otherwise simply moves past it (a corrupted element may carry any `seqNum`).
	 */
	#drop(slots: number, error: ProtocolError, verifiedSeqNum?: number): 'dropped' {
		this.rxSeq = verifiedSeqNum === undefined ? (this.rxSeq + 1) >>> 0 : (verifiedSeqNum + 1) >>> 0;
		this.dropped++;
		this.#advance(slots);
		this.#o.onProtocolError(error);
		return 'dropped';
	}

	#readElement():
		| { fn: number; sequence: number; rpcResult: number; payload: Uint8Array; seqNum: number }
		| 'dropped'
		| undefined {
		const { cmdq } = this.#o;
		const region = this.#map().region;
		const wptr = this.#load(cmdq.offset + MSGQ_TX.writePtr);
		if (wptr >= cmdq.msgCount) {
			if (!this.#badRxPointer) {
				this.#badRxPointer = true;
				this.#o.onProtocolError({
					kind: 'queue-pointer',
					message: `command queue writePtr ${wptr} is outside the ${cmdq.msgCount} slots`,
				});
			}
			return undefined;
		}
		this.#badRxPointer = false;
		const used = usedSlots(wptr, this.#rptr, cmdq.msgCount);
		if (used === 0) return undefined;
		const first = slotOffset(cmdq, this.#rptr);
		const hdr = new DataView(region.buffer, region.byteOffset + first, GSP_PAGE_SIZE);
		const seqNum = hdr.getUint32(36, true);
		const elemCount = hdr.getUint32(40, true);
		const length = hdr.getUint32(ELEMENT_HEADER_SIZE + 8, true);
		if (elemCount === 0 || elemCount > ELEMENT_MAX_PAGES || elemCount > used) {
			return this.#drop(
				elemCount >= 1 && elemCount <= used ? elemCount : used,
				{
					kind: 'element-size',
					message: `command element seqNum ${seqNum}: elemCount ${elemCount} (max ${ELEMENT_MAX_PAGES}, ${used} slots written)`,
				},
				undefined,
			);
		}
		const total = ELEMENT_HEADER_SIZE + length;
		if (
			length < RPC_HEADER_SIZE ||
			length > RPC_MAX_LENGTH ||
			total > elemCount * GSP_PAGE_SIZE ||
			total <= (elemCount - 1) * GSP_PAGE_SIZE
		) {
			return this.#drop(
				elemCount,
				{
					kind: 'element-size',
					message: `command element seqNum ${seqNum}: rpc.length ${length} does not match elemCount ${elemCount}`,
				},
				undefined,
			);
		}
		const padded = (total + 7) & ~7;
		let bytes: Uint8Array;
		if (this.#rptr + elemCount <= cmdq.msgCount) {
			bytes = region.subarray(first, first + padded);
		} else {
			// The element wraps: its first pages end the ring, the rest start at slot 0.
			const head = (cmdq.msgCount - this.#rptr) * GSP_PAGE_SIZE;
			bytes = this.#scratch.subarray(0, padded);
			bytes.set(region.subarray(first, first + head));
			const start0 = slotOffset(cmdq, 0);
			bytes.set(region.subarray(start0, start0 + padded - head), head);
		}
		if (elementChecksum(bytes, total) !== 0) {
			return this.#drop(
				elemCount,
				{
					kind: 'checksum',
					message: `command element seqNum ${seqNum} failed its checksum`,
				},
				undefined,
			);
		}
		const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		const version = dv.getUint32(ELEMENT_HEADER_SIZE, true);
		const signature = dv.getUint32(ELEMENT_HEADER_SIZE + 4, true);
		if (version !== RPC_HEADER_VERSION || signature !== RPC_SIGNATURE) {
			return this.#drop(
				elemCount,
				{
					kind: 'header',
					message: `command element seqNum ${seqNum}: header_version 0x${version.toString(16)} / signature 0x${signature.toString(16)} (want 0x3000000 / 0x43505256)`,
				},
				seqNum,
			);
		}
		if (seqNum !== this.rxSeq) {
			return this.#drop(
				elemCount,
				{ kind: 'sequence', message: `command element seqNum ${seqNum}, expected ${this.rxSeq}` },
				seqNum,
			);
		}
		this.rxSeq = (this.rxSeq + 1) >>> 0;
		const fn = dv.getUint32(ELEMENT_HEADER_SIZE + 12, true);
		const rpcResult = dv.getUint32(ELEMENT_HEADER_SIZE + 16, true);
		const sequence = dv.getUint32(ELEMENT_HEADER_SIZE + 24, true);
		const payload = bytes.slice(ELEMENT_HEADER_SIZE + RPC_HEADER_SIZE, total);
		this.#advance(elemCount);
		return { fn, sequence, rpcResult, payload, seqNum };
	}

	#assemble(el: {
		fn: number;
		sequence: number;
		rpcResult: number;
		payload: Uint8Array;
		seqNum: number;
	}): InboundMessage | undefined {
		const cont = this.#o.continuationFunction;
		const p = this.#pending;
		if (p !== undefined) {
			if (el.fn === cont) {
				const room = p.buffer.length - p.filled;
				if (el.payload.length > room) {
					this.#pending = undefined;
					this.#o.onProtocolError({
						kind: 'continuation',
						message: `continuation record seqNum ${el.seqNum} overruns the ${p.buffer.length}-byte message by ${el.payload.length - room} bytes`,
					});
					return undefined;
				}
				p.buffer.set(el.payload, p.filled);
				p.filled += el.payload.length;
				p.elements++;
				if (p.filled < p.buffer.length) return undefined;
				this.#pending = undefined;
				return {
					function: p.function,
					sequence: p.sequence,
					rpcResult: p.rpcResult,
					payload: p.buffer,
					seqNum: p.seqNum,
					elements: p.elements,
				};
			}
			this.#pending = undefined;
			this.#o.onProtocolError({
				kind: 'continuation',
				message: `function ${el.fn} (seqNum ${el.seqNum}) arrived while ${p.buffer.length - p.filled} bytes of function ${p.function} were still due; the partial command is dropped`,
			});
		}
		if (el.fn === cont) {
			this.#o.onProtocolError({
				kind: 'continuation',
				message: `unexpected continuation record (seqNum ${el.seqNum}) with no command being reassembled`,
			});
			return undefined;
		}
		if (el.payload.length === PAYLOAD_MAX_PER_ELEMENT) {
			const announced = this.#o.announcedSize(el.fn, el.payload);
			if (announced !== undefined && announced > el.payload.length) {
				if (announced > MAX_REASSEMBLED) {
					this.#o.onProtocolError({
						kind: 'element-size',
						message: `function ${el.fn} announces ${announced} bytes (more than ${MAX_REASSEMBLED})`,
					});
					return undefined;
				}
				const buffer = new Uint8Array(announced);
				buffer.set(el.payload);
				this.#pending = {
					function: el.fn,
					sequence: el.sequence,
					rpcResult: el.rpcResult,
					seqNum: el.seqNum,
					buffer,
					filled: el.payload.length,
					elements: 1,
				};
				return undefined;
			}
		}
		return {
			function: el.fn,
			sequence: el.sequence,
			rpcResult: el.rpcResult,
			payload: el.payload,
			seqNum: el.seqNum,
			elements: 1,
		};
	}

	// ───────────────────────────── send ─────────────────────────────

	/** Queue a message, split into elements of at most 65 456 payload bytes. */
	enqueue(msg: OutboundMessage): void {
		const { payload } = msg;
		let off = 0;
		let first = true;
		do {
			const n = Math.min(PAYLOAD_MAX_PER_ELEMENT, payload.length - off);
			this.#out.push({
				function: first ? msg.function : this.#o.continuationFunction,
				sequence: msg.sequence,
				rpcResult: msg.rpcResult,
				chunk: payload.subarray(off, off + n),
				notBefore: msg.notBefore,
				faults: first ? msg.faults : undefined,
			});
			off += n;
			first = false;
		} while (off < payload.length);
	}

	/** Write queued elements whose time has come while the status queue has room. */
	flush(now: bigint): FlushResult {
		const { statq, cmdq } = this.#o;
		let written = 0;
		let blockedOnSpace = false;
		let nextAt: bigint | undefined;
		let region: Uint8Array | undefined;
		while (this.#out.length > 0) {
			const el = this.#out[0]!;
			if (el.notBefore > now) {
				nextAt = el.notBefore;
				break;
			}
			region ??= this.#map().region;
			const cpuRptr = this.#load(cmdq.offset + cmdq.rxHdrOff);
			if (cpuRptr >= statq.msgCount) {
				if (!this.#badTxPointer) {
					this.#badTxPointer = true;
					this.#o.onProtocolError({
						kind: 'queue-pointer',
						message: `status queue readPtr ${cpuRptr} is outside the ${statq.msgCount} slots`,
					});
				}
				blockedOnSpace = true;
				break;
			}
			const pages = el.faults?.oversize
				? ELEMENT_MAX_PAGES + 1
				: Math.ceil((ELEMENT_HEADER_SIZE + RPC_HEADER_SIZE + el.chunk.length) / GSP_PAGE_SIZE);
			if (freeSlots(this.#wptr, cpuRptr, statq.msgCount) < pages) {
				blockedOnSpace = true;
				break;
			}
			this.#out.shift();
			this.#write(region, el, pages);
			written++;
		}
		return { written, queued: this.#out.length, blockedOnSpace, nextAt };
	}

	#write(region: Uint8Array, el: OutElement, pages: number): void {
		const { statq } = this.#o;
		const rpcLength = el.faults?.oversize
			? pages * GSP_PAGE_SIZE - ELEMENT_HEADER_SIZE
			: RPC_HEADER_SIZE + el.chunk.length;
		const total = ELEMENT_HEADER_SIZE + rpcLength;
		const padded = (total + 7) & ~7;
		const buf = this.#scratch.subarray(0, padded);
		buf.fill(0);
		const dv = this.#scratchView;
		if (el.faults?.skipSeqNum) this.txSeq = (this.txSeq + 1) >>> 0;
		dv.setUint32(36, this.txSeq, true);
		this.txSeq = (this.txSeq + 1) >>> 0;
		dv.setUint32(40, pages, true);
		dv.setUint32(ELEMENT_HEADER_SIZE, RPC_HEADER_VERSION, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 4, RPC_SIGNATURE, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 8, rpcLength, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 12, el.function, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 16, el.rpcResult, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 20, el.rpcResult, true);
		dv.setUint32(ELEMENT_HEADER_SIZE + 24, el.sequence, true);
		buf.set(el.chunk, ELEMENT_HEADER_SIZE + RPC_HEADER_SIZE);
		let sum = elementChecksum(buf, total);
		if (el.faults?.corruptChecksum) sum ^= 0x0000_0001;
		dv.setUint32(32, sum, true);
		const start = slotOffset(statq, this.#wptr);
		if (this.#wptr + pages <= statq.msgCount) {
			region.set(buf, start);
		} else {
			const head = (statq.msgCount - this.#wptr) * GSP_PAGE_SIZE;
			region.set(buf.subarray(0, Math.min(head, padded)), start);
			if (padded > head) region.set(buf.subarray(head), slotOffset(statq, 0));
		}
		this.#wptr = (this.#wptr + pages) % statq.msgCount;
		// Publish after the element: a CPU that sees the new writePtr sees the whole element.
		this.#store(statq.offset + MSGQ_TX.writePtr, this.#wptr);
	}
}
