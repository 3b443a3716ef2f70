/**
 * The gspkit-drm wire protocol: length-prefixed little-endian frames over a UNIX stream socket.
 *
 * A request carries the kernel's ioctl request code and the x86-64 binary layout of the kernel struct,
 * followed by the arrays the struct points to, inline, in pointer-field order. The server and this client
 * share the tables below, so the two sides cannot disagree about which field is a pointer or how long the
 * array behind it is. The full description is `apps/drm-driver/README-protocol.md`.
 *
 * @module
 */

import { offsetof } from '@gspkit/abi';
import {
	DRM_IOCTL_BASE,
	drmSyncobjArray,
	drmSyncobjTimelineArray,
	drmSyncobjTimelineWait,
	drmSyncobjWait,
	drmVersion,
	gspkitGemPread,
	gspkitGemPwrite,
	IOCTL_DEFS,
	type IoctlName,
	iocFields,
	ioctlByNr,
	nouveauExec,
	nouveauExecPush,
	nouveauSync,
	nouveauVmBind,
	nouveauVmBindOp,
} from '@gspkit/drm-frontend';

/** Bytes of a request header: length, kind, request id, fd, code, arg size (six u32). */
export const REQUEST_HEADER_SIZE = 24;
/** Bytes of a reply header: length, request id, result (u32, u32, i32). */
export const REPLY_HEADER_SIZE = 12;
/** Default (and the client's) limit on a whole frame, header included: 64 MiB. */
export const DEFAULT_MAX_FRAME = 64 << 20;

/** Request kinds (the second u32 of a request). */
export const FrameKind = {
	/** Echo the argument bytes back (liveness check, transport benchmark). */
	ECHO: 0,
	/** Open the device: `code` = node (0 render, 1 primary); result = the new fd. */
	OPEN: 1,
	/** An ioctl on `fd`: `code` = the request code, argument struct, inline arrays. */
	IOCTL: 2,
	/** `close(fd)` for any descriptor of the connection (DRM file, dma-buf, syncobj fd). */
	CLOSE: 3,
	/** Read through a CPU mapping: argument `{u64 offset, u64 length}`; reply payload = the bytes. */
	MMAP_READ: 4,
	/** Write through a CPU mapping: argument `{u64 offset, u64 length}` followed by `length` bytes. */
	MMAP_WRITE: 5,
	/** `dup(fd)` of any descriptor of the connection: result = the new descriptor (the lowest free one). */
	DUP: 6,
} as const;

/** One of {@link FrameKind}'s values. */
export type FrameKindValue = (typeof FrameKind)[keyof typeof FrameKind];

/** `code` of an OPEN request: which node to open. */
export const OPEN_NODE_RENDER = 0;
/** `code` of an OPEN request: the primary node (`cardN`). */
export const OPEN_NODE_PRIMARY = 1;

/** Direction of an inline array: copied in (`copy_from_user`), out (`copy_to_user`), or both. */
export type ArrayDirection = 'in' | 'out' | 'inout';

/** One pointer field of an ioctl struct and how long the array behind it is. */
export interface PointerField {
	/** The struct field holding the user pointer (u64). */
	readonly field: string;
	/** Byte offset of the pointer in the struct. */
	readonly offset: number;
	/** Whether the array travels in the request, the reply, or both. */
	readonly direction: ArrayDirection;
	/** Byte offset of the element-count field. */
	readonly countOffset: number;
	/** Width of the count field (4 or 8 bytes). */
	readonly countWidth: 4 | 8;
	/** Bytes per element (the count field counts elements of this size). */
	readonly elementSize: number;
	/** The count field's name (for documentation and errors). */
	readonly countField: string;
}

type Layoutish = Parameters<typeof offsetof>[0];

function ptr(
	layout: Layoutish,
	field: string,
	direction: ArrayDirection,
	countField: string,
	countWidth: 4 | 8,
	elementSize: number,
): PointerField {
	return Object.freeze({
		field,
		offset: offsetof(layout, field),
		direction,
		countOffset: offsetof(layout, countField),
		countWidth,
		elementSize,
		countField,
	});
}

/**
 * The pointer fields of every served ioctl that has any, in struct field order — the order their arrays
 * are carried in. Ioctls not listed carry no arrays.
 */
export const POINTER_FIELDS: Readonly<Partial<Record<IoctlName, readonly PointerField[]>>> = Object.freeze({
	VERSION: [
		ptr(drmVersion, 'name', 'out', 'name_len', 8, 1),
		ptr(drmVersion, 'date', 'out', 'date_len', 8, 1),
		ptr(drmVersion, 'desc', 'out', 'desc_len', 8, 1),
	],
	SYNCOBJ_WAIT: [ptr(drmSyncobjWait, 'handles', 'in', 'count_handles', 4, 4)],
	SYNCOBJ_TIMELINE_WAIT: [
		ptr(drmSyncobjTimelineWait, 'handles', 'in', 'count_handles', 4, 4),
		ptr(drmSyncobjTimelineWait, 'points', 'in', 'count_handles', 4, 8),
	],
	SYNCOBJ_RESET: [ptr(drmSyncobjArray, 'handles', 'in', 'count_handles', 4, 4)],
	SYNCOBJ_SIGNAL: [ptr(drmSyncobjArray, 'handles', 'in', 'count_handles', 4, 4)],
	SYNCOBJ_QUERY: [
		ptr(drmSyncobjTimelineArray, 'handles', 'in', 'count_handles', 4, 4),
		ptr(drmSyncobjTimelineArray, 'points', 'out', 'count_handles', 4, 8),
	],
	SYNCOBJ_TIMELINE_SIGNAL: [
		ptr(drmSyncobjTimelineArray, 'handles', 'in', 'count_handles', 4, 4),
		ptr(drmSyncobjTimelineArray, 'points', 'in', 'count_handles', 4, 8),
	],
	NOUVEAU_VM_BIND: [
		ptr(nouveauVmBind, 'wait_ptr', 'in', 'wait_count', 4, nouveauSync.size),
		ptr(nouveauVmBind, 'sig_ptr', 'in', 'sig_count', 4, nouveauSync.size),
		ptr(nouveauVmBind, 'op_ptr', 'in', 'op_count', 4, nouveauVmBindOp.size),
	],
	NOUVEAU_EXEC: [
		ptr(nouveauExec, 'wait_ptr', 'in', 'wait_count', 4, nouveauSync.size),
		ptr(nouveauExec, 'sig_ptr', 'in', 'sig_count', 4, nouveauSync.size),
		ptr(nouveauExec, 'push_ptr', 'in', 'push_count', 4, nouveauExecPush.size),
	],
	GSPKIT_GEM_PREAD: [ptr(gspkitGemPread, 'data_ptr', 'out', 'size', 8, 1)],
	GSPKIT_GEM_PWRITE: [ptr(gspkitGemPwrite, 'data_ptr', 'in', 'size', 8, 1)],
});

const NONE: readonly PointerField[] = Object.freeze([]);

/** The canonical request codes (the kernel's own), looked up without decoding the code's fields. */
const BY_CODE: ReadonlyMap<
	number,
	{ readonly pointers: readonly PointerField[]; readonly kernelSize: number }
> = new Map(
	IOCTL_DEFS.map((d) => [
		d.code >>> 0,
		{ pointers: POINTER_FIELDS[d.name] ?? NONE, kernelSize: d.layout?.size ?? 0 },
	]),
);

/**
 * The pointer fields of request `code`, or none. Looked up by the request's `nr` (as the kernel
 * dispatches), so a request with a shorter or longer struct than the kernel's still finds them; the
 * struct is read zero-extended to the kernel's size.
 */
export function pointerFields(code: number): readonly PointerField[] {
	const known = BY_CODE.get(code >>> 0);
	if (known !== undefined) return known.pointers;
	const f = iocFields(code);
	if (f.type !== DRM_IOCTL_BASE) return NONE;
	const def = ioctlByNr(f.nr);
	if (def === undefined) return NONE;
	return POINTER_FIELDS[def.name] ?? NONE;
}

/** The kernel's size of the struct of `code` (what the arrays are computed from), or 0. */
export function kernelArgSize(code: number): number {
	const known = BY_CODE.get(code >>> 0);
	if (known !== undefined) return known.kernelSize;
	const f = iocFields(code);
	if (f.type !== DRM_IOCTL_BASE) return 0;
	return ioctlByNr(f.nr)?.layout?.size ?? 0;
}

/** One array a request carries (or would carry): which pointer, its size, where it goes. */
export interface ArraySlot {
	/** The pointer field. */
	readonly pointer: PointerField;
	/** The pointer value the client put in the struct. */
	readonly userPointer: bigint;
	/** Bytes behind it: `count × elementSize`, or 0 for a NULL pointer (not carried). */
	readonly length: bigint;
}

function readUint(dv: DataView, offset: number, width: 4 | 8): bigint {
	if (offset + width > dv.byteLength) return 0n;
	return width === 4 ? BigInt(dv.getUint32(offset, true)) : dv.getBigUint64(offset, true);
}

/**
 * The arrays a request with argument `arg` carries, in pointer-field order. `arg` is read as the kernel
 * would, zero-extended to the kernel's struct size (bytes past the end of `arg` read as 0). A NULL
 * pointer carries nothing whatever its count says.
 */
export function arraySlots(code: number, arg: Uint8Array): ArraySlot[] {
	const fields = pointerFields(code);
	if (fields.length === 0) return [];
	const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
	return fields.map((pointer) => {
		const userPointer = readUint(dv, pointer.offset, 8);
		const count = readUint(dv, pointer.countOffset, pointer.countWidth);
		const length = userPointer === 0n ? 0n : count * BigInt(pointer.elementSize);
		return { pointer, userPointer, length };
	});
}

/** Whether an array of this direction travels in the request. */
export function carriedIn(d: ArrayDirection): boolean {
	return d !== 'out';
}

/** Whether an array of this direction travels back in the reply. */
export function carriedOut(d: ArrayDirection): boolean {
	return d !== 'in';
}

/** Bytes of a request frame carrying `arg` and the `extra` parts. */
export function requestLength(arg: Uint8Array, extra: readonly Uint8Array[] = []): number {
	let length = REQUEST_HEADER_SIZE + arg.length;
	for (const e of extra) length += e.length;
	return length;
}

/**
 * Fill in the request header at the start of `frame` (its length field is `frame.length`), for callers
 * that build the rest of the frame in place.
 */
export function writeRequestHeader(
	frame: Uint8Array,
	kind: FrameKindValue,
	id: number,
	fd: number,
	code: number,
	argLength: number,
): void {
	const dv = new DataView(frame.buffer, frame.byteOffset, REQUEST_HEADER_SIZE);
	dv.setUint32(0, frame.length, true);
	dv.setUint32(4, kind, true);
	dv.setUint32(8, id >>> 0, true);
	dv.setUint32(12, fd >>> 0, true);
	dv.setUint32(16, code >>> 0, true);
	dv.setUint32(20, argLength, true);
}

/** Encode a request frame. `payload` parts are appended after the header in order. */
export function encodeRequest(
	kind: FrameKindValue,
	id: number,
	fd: number,
	code: number,
	arg: Uint8Array,
	extra: readonly Uint8Array[] = [],
): Uint8Array {
	const out = new Uint8Array(requestLength(arg, extra));
	writeRequestHeader(out, kind, id, fd, code, arg.length);
	out.set(arg, REQUEST_HEADER_SIZE);
	let at = REQUEST_HEADER_SIZE + arg.length;
	for (const e of extra) {
		out.set(e, at);
		at += e.length;
	}
	return out;
}

/** Encode a reply frame. */
export function encodeReply(id: number, result: number, payload: readonly Uint8Array[] = []): Uint8Array {
	let length = REPLY_HEADER_SIZE;
	for (const p of payload) length += p.length;
	const out = new Uint8Array(length);
	const dv = new DataView(out.buffer);
	dv.setUint32(0, length, true);
	dv.setUint32(4, id >>> 0, true);
	dv.setInt32(8, result, true);
	let at = REPLY_HEADER_SIZE;
	for (const p of payload) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}

/**
 * Splits a byte stream into frames: feed chunks, take whole frames. The first u32 of each frame is its
 * total length (itself included). A length outside `[minFrame, maxFrame]` is a protocol violation the
 * caller must treat as fatal for the connection (framing is lost).
 */
export class FrameReader {
	readonly #min: number;
	readonly #max: number;
	#chunks: Uint8Array[] = [];
	#buffered = 0;

	/** A reader accepting frames of `minFrame`..`maxFrame` bytes. */
	constructor(minFrame: number, maxFrame: number) {
		this.#min = minFrame;
		this.#max = maxFrame;
	}

	/** Bytes received but not yet returned as frames. */
	get buffered(): number {
		return this.#buffered;
	}

	/** Append received bytes. */
	push(chunk: Uint8Array): void {
		if (chunk.length === 0) return;
		this.#chunks.push(chunk);
		this.#buffered += chunk.length;
	}

	#peekLength(): number {
		const first = this.#chunks[0] as Uint8Array;
		if (first.length >= 4) {
			return (
				((first[0] as number) |
					((first[1] as number) << 8) |
					((first[2] as number) << 16) |
					((first[3] as number) << 24)) >>>
				0
			);
		}
		const head = new Uint8Array(4);
		let got = 0;
		for (const c of this.#chunks) {
			const n = Math.min(4 - got, c.length);
			head.set(c.subarray(0, n), got);
			got += n;
			if (got === 4) break;
		}
		return new DataView(head.buffer).getUint32(0, true);
	}

	/**
	 * The next whole frame (a fresh, unshared buffer), `undefined` if not all of it arrived yet, or
	 * `'bad-length'` when the length prefix is out of bounds.
	 */
	next(): Uint8Array | undefined | 'bad-length' {
		if (this.#buffered < 4) return undefined;
		const length = this.#peekLength();
		if (length < this.#min || length > this.#max) return 'bad-length';
		if (this.#buffered < length) return undefined;
		const first = this.#chunks[0] as Uint8Array;
		let frame: Uint8Array;
		if (first.length >= length) {
			frame = first.slice(0, length);
			if (first.length === length) this.#chunks.shift();
			else this.#chunks[0] = first.subarray(length);
		} else {
			frame = new Uint8Array(length);
			let got = 0;
			while (got < length) {
				const c = this.#chunks[0] as Uint8Array;
				const n = Math.min(length - got, c.length);
				frame.set(c.subarray(0, n), got);
				got += n;
				if (n === c.length) this.#chunks.shift();
				else this.#chunks[0] = c.subarray(n);
			}
		}
		this.#buffered -= length;
		return frame;
	}
}
