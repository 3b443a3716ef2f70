/**
 * The shared message-queue region as GSP-RM sees it (reference §1.1): the PTE table, then the command queue
 * (written by the CPU) and the status queue (written by the GSP), each a header page — `msgqTxHeader` and,
 * at `rxHdrOff`, `msgqRxHeader` — followed by 4 KiB slots. With swap-RX, each queue's RX header holds its
 * owner's read pointer into the *other* queue.
 *
 * @module
 */

import { GSP_PAGE_SIZE, MSGQ_FLAGS_SWAP_RX, MSGQ_LINK_ERROR, MSGQ_TX, MSGQ_VERSION } from './constants.ts';

/** The fields of a `msgqTxHeader`. */
export interface TxHeader {
	readonly version: number;
	readonly size: number;
	readonly msgSize: number;
	readonly msgCount: number;
	readonly writePtr: number;
	readonly flags: number;
	readonly rxHdrOff: number;
	readonly entryOff: number;
}

/** Where one queue lives in the region and how it is cut into slots. */
export interface QueueLayout {
	/** Byte offset of the queue's header page from the region start. */
	readonly offset: number;
	readonly size: number;
	readonly msgSize: number;
	readonly msgCount: number;
	readonly rxHdrOff: number;
	readonly entryOff: number;
}

/** Read the `msgqTxHeader` at `offset` of `region`. */
export function readTxHeader(region: Uint8Array, offset: number): TxHeader {
	const dv = new DataView(region.buffer, region.byteOffset + offset, MSGQ_TX.SIZE);
	const u = (o: number) => dv.getUint32(o, true);
	return {
		version: u(MSGQ_TX.version),
		size: u(MSGQ_TX.size),
		msgSize: u(MSGQ_TX.msgSize),
		msgCount: u(MSGQ_TX.msgCount),
		writePtr: u(MSGQ_TX.writePtr),
		flags: u(MSGQ_TX.flags),
		rxHdrOff: u(MSGQ_TX.rxHdrOff),
		entryOff: u(MSGQ_TX.entryOff),
	};
}

/** The result of a link-time check: the queue layout, or the check that failed. */
export type LinkResult =
	| { readonly ok: true; readonly layout: QueueLayout }
	| { readonly ok: false; readonly code: number; readonly reason: string };

function fail(code: number, reason: string): LinkResult {
	return { ok: false, code, reason };
}

/**
 * The receiver's link-time check of a TX header written by the other side (NVIDIA msgq.c `msgqRxLink`:
 * size, message size, version, RX header offset and message count), plus what the GSP relies on later:
 * swap-RX flags, page-aligned slots and a write pointer inside the ring. `available` is the room the region
 * leaves for the queue (from its header page to the next queue or the region end).
 */
export function linkCheck(h: TxHeader, offset: number, available: number): LinkResult {
	if (h.version !== MSGQ_VERSION)
		return fail(MSGQ_LINK_ERROR.BAD_VERSION, `version ${h.version} != ${MSGQ_VERSION}`);
	if (h.size === 0 || h.size > available || h.size % GSP_PAGE_SIZE !== 0) {
		return fail(
			MSGQ_LINK_ERROR.BAD_SIZE,
			`size 0x${h.size.toString(16)} does not fit the 0x${available.toString(16)} bytes the region leaves`,
		);
	}
	if (h.msgSize !== GSP_PAGE_SIZE) {
		return fail(
			MSGQ_LINK_ERROR.BAD_MSG_SIZE,
			`msgSize 0x${h.msgSize.toString(16)} != 0x1000 (the GSP uses 4 KiB slots)`,
		);
	}
	if (h.rxHdrOff < MSGQ_TX.SIZE || h.rxHdrOff % 4 !== 0 || h.rxHdrOff + 4 > h.entryOff) {
		return fail(
			MSGQ_LINK_ERROR.BAD_RX_HDR_OFF,
			`rxHdrOff 0x${h.rxHdrOff.toString(16)} must be >= 0x20, aligned and below entryOff`,
		);
	}
	if (h.entryOff % GSP_PAGE_SIZE !== 0 || h.entryOff >= h.size) {
		return fail(
			MSGQ_LINK_ERROR.BAD_ENTRY_OFF,
			`entryOff 0x${h.entryOff.toString(16)} must be page aligned and inside the queue`,
		);
	}
	const fits = Math.floor((h.size - h.entryOff) / h.msgSize);
	if (h.msgCount < 2 || h.msgCount > fits) {
		return fail(
			MSGQ_LINK_ERROR.BAD_MSG_COUNT,
			`msgCount ${h.msgCount} must be 2..${fits} for size 0x${h.size.toString(16)}`,
		);
	}
	if ((h.flags & MSGQ_FLAGS_SWAP_RX) === 0) {
		return fail(MSGQ_LINK_ERROR.BAD_FLAGS, `flags 0x${h.flags.toString(16)} lack SWAP_RX (bit 0)`);
	}
	if (h.writePtr >= h.msgCount) {
		return fail(MSGQ_LINK_ERROR.BAD_WRITE_PTR, `writePtr ${h.writePtr} is outside the ${h.msgCount} slots`);
	}
	return {
		ok: true,
		layout: {
			offset,
			size: h.size,
			msgSize: h.msgSize,
			msgCount: h.msgCount,
			rxHdrOff: h.rxHdrOff,
			entryOff: h.entryOff,
		},
	};
}

/**
 * The status queue the GSP builds in `size` bytes at `offset` (the NVIDIA library formulas: RX header at
 * `align_up(32, 1 << 4)`, slots from the next 4 KiB page, `msgCount = (size - entryOff) / msgSize`).
 */
export function statusQueueLayout(offset: number, size: number): QueueLayout {
	const rxHdrOff = 0x20;
	const entryOff = Math.ceil((rxHdrOff + 4) / GSP_PAGE_SIZE) * GSP_PAGE_SIZE;
	return {
		offset,
		size,
		msgSize: GSP_PAGE_SIZE,
		msgCount: Math.floor((size - entryOff) / GSP_PAGE_SIZE),
		rxHdrOff,
		entryOff,
	};
}

/** Write the status queue's TX header (write pointer 0) and zero the GSP's read pointer in its RX header. */
export function writeStatusQueueHeader(region: Uint8Array, q: QueueLayout): void {
	const dv = new DataView(region.buffer, region.byteOffset + q.offset, q.rxHdrOff + 4);
	dv.setUint32(q.rxHdrOff, 0, true);
	dv.setUint32(MSGQ_TX.writePtr, 0, true);
	dv.setUint32(MSGQ_TX.flags, MSGQ_FLAGS_SWAP_RX, true);
	dv.setUint32(MSGQ_TX.rxHdrOff, q.rxHdrOff, true);
	dv.setUint32(MSGQ_TX.entryOff, q.entryOff, true);
	dv.setUint32(MSGQ_TX.msgSize, q.msgSize, true);
	dv.setUint32(MSGQ_TX.msgCount, q.msgCount, true);
	// size and version last: a CPU polling for the link sees a complete header once size is non-zero.
	dv.setUint32(MSGQ_TX.version, MSGQ_VERSION, true);
	Atomics.store(new Int32Array(region.buffer, region.byteOffset + q.offset, 2), 1, q.size);
}

/** Byte offset (from the region start) of slot `i` of queue `q`. */
export function slotOffset(q: QueueLayout, i: number): number {
	return q.offset + q.entryOff + i * q.msgSize;
}

/** Slots in use from `rptr` to `wptr` on a ring of `count` (one slot always stays empty). */
export function usedSlots(wptr: number, rptr: number, count: number): number {
	const used = wptr + count - rptr;
	return used >= count ? used - count : used;
}

/** Free slots a writer at `wptr` has before reaching the reader at `rptr`. */
export function freeSlots(wptr: number, rptr: number, count: number): number {
	const free = rptr + count - wptr - 1;
	return free >= count ? free - count : free;
}
