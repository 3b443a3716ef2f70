/**
 * `DrmConnection`: one socket to gspkit-drm — one client "process" on the server side.
 *
 * Requests are pipelined: each gets a request id and its promise settles when the reply with that id
 * arrives, in whatever order the server finishes them (a blocking SYNCOBJ_WAIT does not hold up the
 * others). Descriptors (DRM files, dma-bufs, syncobj fds) are numbers in this connection's table on the
 * server, so every {@link DrmClient} opened on one connection can use the others' descriptors — as files
 * of one process can — and no other connection can.
 *
 * @module
 */

import { connect, type Socket } from 'node:net';
import { DrmClientError, DrmError } from './errors.ts';
import {
	DEFAULT_MAX_FRAME,
	FrameKind,
	type FrameKindValue,
	FrameReader,
	OPEN_NODE_PRIMARY,
	OPEN_NODE_RENDER,
	REPLY_HEADER_SIZE,
	REQUEST_HEADER_SIZE,
	requestLength,
	writeRequestHeader,
} from './protocol.ts';

/** A reply: the result (0, a descriptor, or `-errno`) and the payload after the header. */
export interface RawReply {
	/** 0 or a non-negative value on success, `-errno` on failure. */
	readonly result: number;
	/** The reply's payload (empty when the request was refused before dispatch). */
	readonly payload: Uint8Array;
}

/** Options of {@link DrmConnection.connect}. */
export interface ConnectOptions {
	/** Largest frame sent or accepted (default 64 MiB; must not exceed the server's). */
	readonly maxFrameBytes?: number;
}

/** Which device node to open. */
export type DrmNode = 'render' | 'primary';

interface Pending {
	resolve(r: RawReply): void;
	reject(e: Error): void;
}

/** A socket connection to the server. */
export class DrmConnection {
	readonly #socket: Socket;
	readonly #pending = new Map<number, Pending>();
	readonly #reader: FrameReader;
	/** Largest frame this connection sends. */
	readonly maxFrameBytes: number;
	#nextId = 1;
	#closed = false;

	private constructor(socket: Socket, maxFrame: number) {
		this.#socket = socket;
		this.maxFrameBytes = maxFrame;
		this.#reader = new FrameReader(REPLY_HEADER_SIZE, maxFrame);
		socket.setNoDelay?.(true);
		socket.on('data', (chunk: Buffer) => {
			this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
			for (;;) {
				const f = this.#reader.next();
				if (f === undefined) break;
				if (f === 'bad-length') {
					this.#fail(new DrmClientError('DRM_CLIENT_BAD_REPLY', 'reply frame length out of bounds'));
					socket.destroy();
					return;
				}
				const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
				const id = dv.getUint32(4, true);
				const p = this.#pending.get(id);
				if (p === undefined) continue;
				this.#pending.delete(id);
				p.resolve({ result: dv.getInt32(8, true), payload: f.subarray(REPLY_HEADER_SIZE) });
			}
		});
		socket.on('error', (e) => this.#fail(new DrmClientError('DRM_CLIENT_DISCONNECTED', e.message)));
		socket.on('close', () => this.#fail(new DrmClientError('DRM_CLIENT_DISCONNECTED', 'connection closed')));
	}

	/** Connect to the server listening at `socketPath`. */
	static connect(socketPath: string, options: ConnectOptions = {}): Promise<DrmConnection> {
		return new Promise((resolve, reject) => {
			const socket = connect(socketPath);
			const onError = (e: Error): void =>
				reject(new DrmClientError('DRM_CLIENT_DISCONNECTED', `connect ${socketPath}: ${e.message}`));
			socket.once('error', onError);
			socket.once('connect', () => {
				socket.off('error', onError);
				resolve(new DrmConnection(socket, options.maxFrameBytes ?? DEFAULT_MAX_FRAME));
			});
		});
	}

	/** Whether the connection is gone. */
	get closed(): boolean {
		return this.#closed;
	}

	#fail(e: Error): void {
		this.#closed = true;
		for (const p of this.#pending.values()) p.reject(e);
		this.#pending.clear();
	}

	/** Send one request frame and wait for its reply. */
	request(
		kind: FrameKindValue,
		fd: number,
		code: number,
		arg: Uint8Array,
		extra: readonly Uint8Array[] = [],
	): Promise<RawReply> {
		if (this.#closed) {
			return Promise.reject(new DrmClientError('DRM_CLIENT_DISCONNECTED', 'connection closed'));
		}
		const frame = new Uint8Array(requestLength(arg, extra));
		frame.set(arg, REQUEST_HEADER_SIZE);
		let at = REQUEST_HEADER_SIZE + arg.length;
		for (const e of extra) {
			frame.set(e, at);
			at += e.length;
		}
		return this.requestFrame(kind, fd, code, arg.length, frame);
	}

	/**
	 * Send a request whose frame the caller built in place (no copy): `frame` starts with
	 * {@link REQUEST_HEADER_SIZE} bytes of room for the header, which this fills in, followed by `argLength`
	 * bytes of argument and then the inline arrays. The frame must not be touched afterwards.
	 */
	requestFrame(
		kind: FrameKindValue,
		fd: number,
		code: number,
		argLength: number,
		frame: Uint8Array,
	): Promise<RawReply> {
		if (this.#closed) {
			return Promise.reject(new DrmClientError('DRM_CLIENT_DISCONNECTED', 'connection closed'));
		}
		if (argLength < 0 || REQUEST_HEADER_SIZE + argLength > frame.length) {
			return Promise.reject(
				new DrmClientError(
					'DRM_CLIENT_BAD_ARGUMENT',
					`argument of ${argLength} bytes does not fit the frame`,
				),
			);
		}
		const id = this.#nextId;
		this.#nextId = (this.#nextId + 1) >>> 0 || 1;
		writeRequestHeader(frame, kind, id, fd, code, argLength);
		if (frame.length > this.maxFrameBytes) {
			return Promise.reject(
				new DrmClientError(
					'DRM_CLIENT_BAD_ARGUMENT',
					`request of ${frame.length} bytes exceeds the frame limit`,
				),
			);
		}
		return new Promise<RawReply>((resolve, reject) => {
			this.#pending.set(id, { resolve, reject });
			this.#socket.write(frame);
		});
	}

	/** ECHO: the server sends `payload` back (liveness check, transport baseline). */
	async echo(payload: Uint8Array): Promise<Uint8Array> {
		const r = await this.request(FrameKind.ECHO, 0, 0, payload);
		return r.payload;
	}

	/**
	 * Open the device (render node by default): a new DRM file in this connection's process; returns its
	 * descriptor. {@link DrmClient.open} wraps it in a client.
	 */
	async openFd(node: DrmNode = 'render'): Promise<number> {
		const r = await this.request(
			FrameKind.OPEN,
			0,
			node === 'primary' ? OPEN_NODE_PRIMARY : OPEN_NODE_RENDER,
			new Uint8Array(0),
		);
		if (r.result < 0) throw new DrmError('OPEN', -r.result);
		return r.result;
	}

	/** `dup(fd)` of any descriptor of this connection: a new descriptor for the same file. */
	async dupFd(fd: number): Promise<number> {
		const r = await this.request(FrameKind.DUP, fd, 0, new Uint8Array(0));
		if (r.result < 0) throw new DrmError('DUP', -r.result);
		return r.result;
	}

	/** `close(fd)` of any descriptor of this connection. */
	async closeFd(fd: number): Promise<void> {
		const r = await this.request(FrameKind.CLOSE, fd, 0, new Uint8Array(0));
		if (r.result < 0) throw new DrmError('CLOSE', -r.result);
	}

	/** Close the socket: the server closes every descriptor of this connection. */
	close(): Promise<void> {
		if (this.#socket.destroyed) return Promise.resolve();
		return new Promise((resolve) => {
			this.#socket.once('close', () => resolve());
			this.#socket.end();
		});
	}
}
