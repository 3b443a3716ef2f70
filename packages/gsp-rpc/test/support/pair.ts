/** A CPU/GSP queue pair on a plain SharedArrayBuffer (or a shared wasm memory), stepped in one thread. */
import { createSharedWasmMemory } from '@gspkit/hal';
import {
	type LengthHint,
	QueuePair,
	type RegionLayout,
	type RegionSizes,
	type RpcAbi,
	type RpcMessage,
	regionLayout,
} from '../../src/index.ts';

export interface Pair {
	readonly memory: Uint8Array;
	readonly layout: RegionLayout;
	readonly cpu: QueuePair;
	readonly gsp: QueuePair;
	readonly counts: { doorbells: number; irqs: number };
}

export function makePair(
	abi: RpcAbi,
	options: {
		cpuHint?: LengthHint;
		gspHint?: LengthHint;
		sizes?: RegionSizes;
		link?: boolean;
		gspAllocate?: (bytes: number) => Uint8Array;
		/** Put the region in a shared wasm memory (at a 64 KiB + 8 offset) so checksums are folded in place. */
		wasm?: boolean;
	} = {},
): Pair {
	const layout = regionLayout(options.sizes);
	const wasmMemory = options.wasm === true ? createSharedWasmMemory(layout.totalSize + 0x20000) : undefined;
	if (options.wasm === true && wasmMemory === undefined)
		throw new Error('no shared wasm memory on this host');
	const memory =
		wasmMemory === undefined
			? new Uint8Array(new SharedArrayBuffer(layout.totalSize))
			: new Uint8Array(wasmMemory.buffer, 0x10008, layout.totalSize);
	const counts = { doorbells: 0, irqs: 0 };
	const common = {
		abi,
		memory,
		...(wasmMemory === undefined ? {} : { wasmMemory }),
		cmdqOffset: layout.cmdqOffset,
		statqOffset: layout.statqOffset,
		cmdqSize: layout.cmdqSize,
		statqSize: layout.statqSize,
	};
	const cpu = new QueuePair({
		...common,
		side: 'cpu',
		notify: () => counts.doorbells++,
		...(options.cpuHint === undefined ? {} : { lengthHint: options.cpuHint }),
	});
	const gsp = new QueuePair({
		...common,
		side: 'gsp',
		notify: () => counts.irqs++,
		...(options.gspHint === undefined ? {} : { lengthHint: options.gspHint }),
		...(options.gspAllocate === undefined ? {} : { allocate: options.gspAllocate }),
	});
	if (options.link !== false) {
		cpu.initTx();
		gsp.initTx();
		if (!cpu.link() || !gsp.link()) throw new Error('link failed');
	}
	return { memory, layout, cpu, gsp, counts };
}

/**
 * Move one message from `tx` to `rx`, element by element when it does not fit at once, receiving as it goes.
 * Returns what `rx` delivered (it must be exactly one message).
 */
export function transfer(
	tx: QueuePair,
	rx: QueuePair,
	fn: number,
	seq: number,
	payload: Uint8Array,
): RpcMessage {
	const pages = tx.elementPages(payload.length);
	let i = 0;
	let msg: RpcMessage | undefined;
	if (tx.trySend(fn, seq, payload)) i = pages.length;
	for (let guard = 0; guard < 1_000_000; guard++) {
		if (i < pages.length && tx.freeSlots() >= pages[i]!) {
			tx.sendElement(fn, seq, payload, undefined, i);
			i++;
			continue;
		}
		const before = rx.stats.elementsReceived;
		const m = rx.receive();
		if (m !== undefined) {
			if (msg !== undefined) throw new Error('two messages delivered');
			msg = m;
		}
		if (i >= pages.length && msg !== undefined) return msg;
		if (m === undefined && rx.stats.elementsReceived === before && i >= pages.length) {
			throw new Error('transfer stuck: all elements sent but no message delivered');
		}
	}
	throw new Error('transfer did not finish');
}
