/** Test helpers for the socket server: a temp socket path, a server on the fake device, a raw socket. */

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader, REPLY_HEADER_SIZE } from '@gspkit/drm-client';
import { FakeDrmDevice } from '@gspkit/drm-frontend/testing';
import {
	createDrmServer,
	type DrmServer,
	type DrmServerEvent,
	type DrmServerOptions,
} from '../src/server/index.ts';

export { FakeDrmDevice };

/** A server on a fresh fake device in a fresh temp dir; `dispose()` closes both. */
export async function startServer(options: Partial<DrmServerOptions> = {}) {
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-'));
	const socketPath = join(dir, 'drm.sock');
	const device = (options.device as FakeDrmDevice | undefined) ?? new FakeDrmDevice();
	const events: DrmServerEvent[] = [];
	const server: DrmServer = await createDrmServer({
		...options,
		socketPath,
		device,
		onEvent: (e) => events.push(e),
	});
	return {
		dir,
		socketPath,
		device,
		server,
		events,
		internalErrors: () => events.filter((e) => e.type === 'internal-error'),
		async dispose(): Promise<void> {
			await server.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** A parsed reply frame. */
export interface Reply {
	readonly id: number;
	readonly result: number;
	readonly payload: Uint8Array;
}

/** A raw socket speaking frames by hand. */
export class RawSocket {
	readonly socket: Socket;
	readonly #reader = new FrameReader(REPLY_HEADER_SIZE, 1 << 30);
	readonly #replies: Reply[] = [];
	#waiters: (() => void)[] = [];
	closed = false;

	private constructor(socket: Socket) {
		this.socket = socket;
		socket.on('data', (c: Buffer) => {
			this.#reader.push(new Uint8Array(c));
			for (;;) {
				const f = this.#reader.next();
				if (f === undefined || f === 'bad-length') break;
				const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
				this.#replies.push({
					id: dv.getUint32(4, true),
					result: dv.getInt32(8, true),
					payload: f.subarray(12),
				});
			}
			this.#wake();
		});
		socket.on('close', () => {
			this.closed = true;
			this.#wake();
		});
		socket.on('error', () => {});
	}

	#wake(): void {
		const w = this.#waiters;
		this.#waiters = [];
		for (const f of w) f();
	}

	static open(path: string): Promise<RawSocket> {
		return new Promise((resolve, reject) => {
			const s = connect(path);
			s.once('error', reject);
			s.once('connect', () => resolve(new RawSocket(s)));
		});
	}

	send(bytes: Uint8Array): void {
		this.socket.write(bytes);
	}

	/** The next reply, or `undefined` once the server closed the connection. */
	async reply(): Promise<Reply | undefined> {
		for (;;) {
			const r = this.#replies.shift();
			if (r !== undefined) return r;
			if (this.closed) return undefined;
			await new Promise<void>((resolve) => this.#waiters.push(resolve));
		}
	}

	/** Resolves once the server closed the connection. */
	async closedByServer(): Promise<void> {
		while (!this.closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
	}

	close(): void {
		this.socket.destroy();
	}
}
