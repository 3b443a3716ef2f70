/**
 * The gspkit-drm socket server: serves a {@link DrmFrontend} to many clients over a UNIX stream socket.
 *
 * Each connection is one client "process": an {@link FdTable} of its own, into which OPEN installs DRM
 * files and PRIME/syncobj exports install descriptors. Requests are dispatched as they arrive (in arrival
 * order, so submissions keep their order) and answered when they finish, matched by request id, so a
 * blocking SYNCOBJ_WAIT does not hold up the rest of the connection. Every frame is validated: a length
 * prefix outside the limits loses the framing and drops the connection; anything else wrong with a frame
 * is answered with an errno. A connection that goes away closes every descriptor of its process — the
 * frontend's close semantics release its handles, channels (in-flight jobs finish or are cancelled) and VM.
 * Nothing a client sends can throw out of the server or touch another connection.
 *
 * @module
 */

import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
	arraySlots,
	carriedIn,
	carriedOut,
	DEFAULT_MAX_FRAME,
	encodeReply,
	FrameKind,
	FrameReader,
	kernelArgSize,
	OPEN_NODE_PRIMARY,
	OPEN_NODE_RENDER,
	REPLY_HEADER_SIZE,
	REQUEST_HEADER_SIZE,
} from '@gspkit/drm-client';
import { type DrmDevice, type DrmFile, DrmFrontend, FdTable, iocFields } from '@gspkit/drm-frontend';
import { type Errno, errnoNumber } from '@gspkit/hal';
import { WireMemory } from './wire-memory.ts';

/** Something worth logging that did not stop the server. */
export type DrmServerEvent =
	| { readonly type: 'connect'; readonly connection: number }
	| { readonly type: 'disconnect'; readonly connection: number }
	| { readonly type: 'protocol-violation'; readonly connection: number; readonly reason: string }
	| { readonly type: 'internal-error'; readonly connection: number; readonly error: unknown };

/** Options of {@link createDrmServer}. */
export interface DrmServerOptions {
	/** Path of the UNIX socket. A stale socket file there is replaced; any other file is an error. */
	readonly socketPath: string;
	/** The device to serve (a frontend is created over it unless {@link frontend} is given). */
	readonly device: DrmDevice;
	/** Serve this frontend instead of a new one (its `device` must be {@link device}). */
	readonly frontend?: DrmFrontend;
	/** Largest frame accepted or sent, header included (default 64 MiB). */
	readonly maxFrameBytes?: number;
	/** Requests of one connection dispatched at once before reading pauses (default 256). */
	readonly maxInFlight?: number;
	/** Connections served at once; more are refused (closed at once). Default 1024. */
	readonly maxConnections?: number;
	/** Clients may open the primary node (default true; without it OPEN of a primary node is EACCES). */
	readonly allowPrimary?: boolean;
	/** Files opened by socket clients count as CAP_SYS_ADMIN (default false). */
	readonly privileged?: boolean;
	/** Descriptor table limit per connection (default 1024). */
	readonly maxFdsPerConnection?: number;
	/** Diagnostics. */
	readonly onEvent?: (event: DrmServerEvent) => void;
}

/** Server counters. */
export interface DrmServerStats {
	/** Connections open now. */
	readonly connections: number;
	/** Connections accepted since start. */
	readonly accepted: number;
	/** Frames received. */
	readonly frames: number;
	/** Connections dropped for a protocol violation. */
	readonly violations: number;
}

/** A running server. */
export interface DrmServer {
	/** Where it listens. */
	readonly socketPath: string;
	/** The frontend it serves. */
	readonly frontend: DrmFrontend;
	/** Counters. */
	readonly stats: DrmServerStats;
	/**
	 * Graceful shutdown: stop accepting, drop every connection (its files close, in-flight requests get
	 * no reply), remove the socket file.
	 */
	close(): Promise<void>;
}

/**
 * A reply carrying just the argument, built in the request's own frame: the reply header overwrites the
 * last {@link REPLY_HEADER_SIZE} bytes of the request header (already parsed), so the argument needs no
 * copy. The request frame must not be used afterwards.
 */
function replyInPlace(frame: Uint8Array, id: number, result: number, argSize: number): Uint8Array {
	const start = REQUEST_HEADER_SIZE - REPLY_HEADER_SIZE;
	const reply = frame.subarray(start, REQUEST_HEADER_SIZE + argSize);
	const dv = new DataView(reply.buffer, reply.byteOffset, REPLY_HEADER_SIZE);
	dv.setUint32(0, reply.length, true);
	dv.setUint32(4, id >>> 0, true);
	dv.setInt32(8, result, true);
	return reply;
}

function neg(e: Errno): number {
	return -errnoNumber(e);
}

interface Settings {
	readonly maxFrame: number;
	readonly maxInFlight: number;
	readonly allowPrimary: boolean;
	readonly privileged: boolean;
	readonly maxFds: number;
	readonly onEvent: (event: DrmServerEvent) => void;
}

/** One client connection = one process. */
class Connection {
	readonly id: number;
	readonly process: FdTable;
	readonly #socket: Socket;
	readonly #frontend: DrmFrontend;
	readonly #settings: Settings;
	readonly #reader: FrameReader;
	readonly #onFrame: () => void;
	#inFlight = 0;
	#closed = false;
	#readPaused = false;
	#writeBlocked = false;

	constructor(id: number, socket: Socket, frontend: DrmFrontend, settings: Settings, onFrame: () => void) {
		this.id = id;
		this.#socket = socket;
		this.#frontend = frontend;
		this.#settings = settings;
		this.#onFrame = onFrame;
		this.process = new FdTable({ maxFds: settings.maxFds });
		this.#reader = new FrameReader(REQUEST_HEADER_SIZE, settings.maxFrame);
		socket.on('data', (chunk: Buffer) => {
			this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
			this.#pump();
		});
		socket.on('drain', () => {
			this.#writeBlocked = false;
			this.#pump();
		});
		socket.on('error', () => {});
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** The socket went away: the process exits. */
	teardown(): void {
		if (this.#closed) return;
		this.#closed = true;
		try {
			this.process.closeAll();
		} catch (error) {
			this.#settings.onEvent({ type: 'internal-error', connection: this.id, error });
		}
	}

	destroy(): void {
		this.#socket.destroy();
	}

	#violation(reason: string): void {
		this.#settings.onEvent({ type: 'protocol-violation', connection: this.id, reason });
		this.#socket.destroy();
	}

	#pump(): void {
		while (!this.#closed && this.#inFlight < this.#settings.maxInFlight && !this.#writeBlocked) {
			const frame = this.#reader.next();
			if (frame === undefined) break;
			if (frame === 'bad-length') {
				this.#violation('frame length out of bounds');
				return;
			}
			this.#onFrame();
			this.#inFlight++;
			void this.#run(frame);
		}
		const shouldPause = this.#inFlight >= this.#settings.maxInFlight || this.#writeBlocked;
		if (shouldPause && !this.#readPaused) {
			this.#readPaused = true;
			this.#socket.pause();
		} else if (!shouldPause && this.#readPaused) {
			this.#readPaused = false;
			this.#socket.resume();
		}
	}

	async #run(frame: Uint8Array): Promise<void> {
		const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
		const id = dv.getUint32(8, true);
		let reply: Uint8Array;
		try {
			reply = await this.#handle(frame, dv, id);
		} catch (error) {
			this.#settings.onEvent({ type: 'internal-error', connection: this.id, error });
			reply = encodeReply(id, neg('EIO'));
		}
		this.#inFlight--;
		if (this.#closed) return;
		if (!this.#socket.write(reply)) this.#writeBlocked = true;
		this.#pump();
	}

	#drmFile(fd: number): DrmFile | Errno {
		const f = this.process.peek(fd);
		if (f === undefined) return 'EBADF';
		if (f.kind !== 'drm') return 'ENOTTY';
		return f as DrmFile;
	}

	async #handle(frame: Uint8Array, dv: DataView, id: number): Promise<Uint8Array> {
		const kind = dv.getUint32(4, true);
		const fd = dv.getUint32(12, true);
		const code = dv.getUint32(16, true);
		const argSize = dv.getUint32(20, true);
		const bodySize = frame.length - REQUEST_HEADER_SIZE;
		if (argSize > bodySize) return encodeReply(id, neg('EINVAL'));
		const extra = bodySize - argSize;
		switch (kind) {
			case FrameKind.ECHO:
				return encodeReply(id, 0, [frame.subarray(REQUEST_HEADER_SIZE)]);
			case FrameKind.OPEN: {
				if (argSize !== 0 || extra !== 0) return encodeReply(id, neg('EINVAL'));
				if (code !== OPEN_NODE_RENDER && code !== OPEN_NODE_PRIMARY) return encodeReply(id, neg('EINVAL'));
				if (code === OPEN_NODE_PRIMARY && !this.#settings.allowPrimary) return encodeReply(id, neg('EACCES'));
				const r = this.#frontend.open({
					process: this.process,
					node: code === OPEN_NODE_PRIMARY ? 'primary' : 'render',
					privileged: this.#settings.privileged,
				});
				return encodeReply(id, r.ok ? (r.value.fd as number) : neg(r.error));
			}
			case FrameKind.CLOSE: {
				if (argSize !== 0 || extra !== 0) return encodeReply(id, neg('EINVAL'));
				const r = this.process.close(fd);
				return encodeReply(id, r.ok ? 0 : neg(r.error));
			}
			case FrameKind.DUP: {
				if (argSize !== 0 || extra !== 0 || code !== 0) return encodeReply(id, neg('EINVAL'));
				const r = this.process.dup(fd);
				return encodeReply(id, r.ok ? r.value : neg(r.error));
			}
			case FrameKind.IOCTL:
				return this.#ioctl(frame, id, fd, code, argSize);
			case FrameKind.MMAP_READ:
			case FrameKind.MMAP_WRITE: {
				if (argSize !== 16) return encodeReply(id, neg('EINVAL'));
				const offset = dv.getBigUint64(REQUEST_HEADER_SIZE, true);
				const length = dv.getBigUint64(REQUEST_HEADER_SIZE + 8, true);
				const isRead = kind === FrameKind.MMAP_READ;
				if (isRead ? extra !== 0 : BigInt(extra) !== length) return encodeReply(id, neg('EINVAL'));
				if (isRead && length > BigInt(this.#settings.maxFrame - REPLY_HEADER_SIZE)) {
					return encodeReply(id, neg('E2BIG'));
				}
				const file = this.#drmFile(fd);
				if (typeof file === 'string') return encodeReply(id, neg(file));
				const m = file.mmap(offset, length);
				if (!m.ok) return encodeReply(id, neg(m.error));
				try {
					if (isRead) return encodeReply(id, 0, [m.value.read(0n, Number(length))]);
					m.value.write(0n, frame.subarray(REQUEST_HEADER_SIZE + 16));
					return encodeReply(id, 0);
				} finally {
					m.value.unmap();
				}
			}
			default:
				return encodeReply(id, neg('ENOSYS'));
		}
	}

	async #ioctl(
		frame: Uint8Array,
		id: number,
		fd: number,
		code: number,
		argSize: number,
	): Promise<Uint8Array> {
		const file = this.#drmFile(fd);
		if (typeof file === 'string') return encodeReply(id, neg(file));
		if (argSize !== iocFields(code).size) return encodeReply(id, neg('EINVAL'));
		// The frame is this request's own buffer (FrameReader hands out unshared frames): the argument is
		// used in place, and goes back in place.
		const arg = frame.subarray(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + argSize);
		// The kernel reads a shorter struct zero-extended; so do the array computations.
		const kSize = kernelArgSize(code);
		const view = argSize >= kSize ? arg : new Uint8Array(kSize);
		if (view !== arg) view.set(arg);
		const slots = arraySlots(code, view);
		let inTotal = 0n;
		let outTotal = 0n;
		for (const s of slots) {
			if (carriedIn(s.pointer.direction)) inTotal += s.length;
			if (carriedOut(s.pointer.direction)) outTotal += s.length;
		}
		const inline = frame.length - REQUEST_HEADER_SIZE - argSize;
		// The pointers do not point at as many bytes as the counts say: as if they were not readable.
		if (inTotal !== BigInt(inline)) return encodeReply(id, neg('EFAULT'));
		if (outTotal > BigInt(this.#settings.maxFrame - REPLY_HEADER_SIZE - argSize)) {
			return encodeReply(id, neg('E2BIG'));
		}
		const mem = new WireMemory();
		const argDv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
		const outRegions: Uint8Array[] = [];
		let at = REQUEST_HEADER_SIZE + argSize;
		for (const s of slots) {
			if (s.userPointer === 0n) continue;
			const len = Number(s.length);
			let region: Uint8Array;
			if (carriedIn(s.pointer.direction)) {
				region = frame.subarray(at, at + len);
				at += len;
			} else {
				region = new Uint8Array(len);
			}
			if (carriedOut(s.pointer.direction)) outRegions.push(region);
			const addr = mem.map(region);
			if (s.pointer.offset + 8 <= argSize) argDv.setBigUint64(s.pointer.offset, addr, true);
		}
		const r = await file.ioctl(code, arg, mem);
		// The client's pointers go back as they came (the kernel never changes them).
		for (const s of slots) {
			if (s.userPointer !== 0n && s.pointer.offset + 8 <= argSize) {
				argDv.setBigUint64(s.pointer.offset, s.userPointer, true);
			}
		}
		const result = r.ok ? 0 : neg(r.error);
		if (outRegions.length === 0) return replyInPlace(frame, id, result, argSize);
		return encodeReply(id, result, [arg, ...outRegions]);
	}
}

/** Start serving `options.device` on `options.socketPath`. Resolves once the socket listens. */
export async function createDrmServer(options: DrmServerOptions): Promise<DrmServer> {
	const frontend = options.frontend ?? new DrmFrontend(options.device);
	const settings: Settings = {
		maxFrame: Math.max(4096, Math.min(options.maxFrameBytes ?? DEFAULT_MAX_FRAME, 0x7fffffff)),
		maxInFlight: Math.max(1, options.maxInFlight ?? 256),
		allowPrimary: options.allowPrimary ?? true,
		privileged: options.privileged ?? false,
		maxFds: options.maxFdsPerConnection ?? 1024,
		onEvent: options.onEvent ?? (() => {}),
	};
	const maxConnections = options.maxConnections ?? 1024;
	const connections = new Set<Connection>();
	let accepted = 0;
	let frames = 0;
	let violations = 0;
	const onEvent = (e: DrmServerEvent): void => {
		if (e.type === 'protocol-violation') violations++;
		try {
			settings.onEvent(e);
		} catch {
			// A logger must not take the server down.
		}
	};
	const s: Settings = { ...settings, onEvent };

	const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
		if (connections.size >= maxConnections) {
			socket.destroy();
			return;
		}
		const conn = new Connection(++accepted, socket, frontend, s, () => {
			frames++;
		});
		connections.add(conn);
		onEvent({ type: 'connect', connection: conn.id });
		socket.on('close', () => {
			connections.delete(conn);
			conn.teardown();
			onEvent({ type: 'disconnect', connection: conn.id });
		});
	});

	try {
		if (lstatSync(options.socketPath).isSocket()) unlinkSync(options.socketPath);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
	}
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.socketPath, () => {
			server.off('error', reject);
			resolve();
		});
	});
	server.on('error', (error) => onEvent({ type: 'internal-error', connection: 0, error }));

	let closing: Promise<void> | undefined;
	return {
		socketPath: options.socketPath,
		frontend,
		get stats(): DrmServerStats {
			return { connections: connections.size, accepted, frames, violations };
		},
		close(): Promise<void> {
			closing ??= new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const c of connections) c.destroy();
			}).then(() => {
				for (const c of connections) c.teardown();
				connections.clear();
			});
			return closing;
		},
	};
}
