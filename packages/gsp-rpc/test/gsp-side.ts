/**
 * A GSP-RM test double: the GSP end of the queue pair plus just enough behaviour to exercise the engine
 * (echo, rm_control/rm_alloc/free replies, events, sequencer programs, INIT_DONE). It is a TEST DOUBLE, kept
 * out of the package on purpose: the simulated GSP-RM in gpu-sim implements the GSP side independently.
 */
import type { SharedWasmMemory } from '@gspkit/hal';
import {
	compileRpcAbi,
	encodeSequencerProgram,
	type LengthHint,
	QueuePair,
	type RegionLayout,
	type RpcAbi,
	type RpcMessage,
	type RpcWire,
	type SequencerCommand,
} from '../src/index.ts';

/** How the double answers one command: a reply payload and result, or `undefined` for no reply. */
export type CommandHandler = (
	msg: RpcMessage,
	gsp: GspDouble,
) => { payload: Uint8Array; result?: number } | undefined;

/** A reply the double has decided on but not sent yet. */
export interface HeldReply {
	readonly fn: number;
	readonly seq: number;
	readonly payload: Uint8Array;
	readonly result: number;
}

/** Options of {@link GspDouble}. */
export interface GspDoubleOptions {
	readonly abi: RpcAbi;
	/** The shared region as the GSP sees it. */
	readonly memory: Uint8Array;
	/** The shared wasm memory `memory` views, if any (checksums folded in place). */
	readonly wasmMemory?: SharedWasmMemory;
	/** Queue offsets and sizes (from MESSAGE_QUEUE_INIT_ARGUMENTS). */
	readonly layout: Pick<RegionLayout, 'cmdqOffset' | 'statqOffset' | 'cmdqSize' | 'statqSize'>;
	/** Raise the GSP interrupt towards the CPU. */
	readonly raiseIrq: () => void;
	/** Echo rpc.sequence in replies (default true). */
	readonly echoSequence?: boolean;
	/** Per-function handlers, by function number (default: echo; rm_control/rm_alloc/free get status 0). */
	readonly handlers?: ReadonlyMap<number, CommandHandler>;
	/** Extra length hint for large commands (rm_control/rm_alloc paramsSize is always used). */
	readonly lengthHint?: LengthHint;
	/** Where large commands are assembled (see QueuePairOptions.allocate). */
	readonly allocate?: (bytes: number) => Uint8Array;
	/** Keep received commands in {@link GspDouble.received} (default true). */
	readonly record?: boolean;
	/** After every n-th command, also send an OS_ERROR_LOG event carrying a running u32 counter. */
	readonly eventEvery?: number;
}

/** The GSP-side test double. */
export class GspDouble {
	readonly queue: QueuePair;
	readonly wire: RpcWire;
	readonly received: RpcMessage[] = [];
	/** Set to stop answering (a hung GSP). */
	hung = false;
	/** Replies are held back while this is set (then released by step()). */
	holdReplies = false;
	readonly #options: GspDoubleOptions;
	readonly #outbox: HeldReply[] = [];
	/** Next element of the reply at the head of the outbox, when it is being streamed. */
	#streamAt = 0;
	#auto = false;
	#commands = 0;
	#events = 0;
	#scheduled = false;

	constructor(options: GspDoubleOptions) {
		this.#options = options;
		this.wire = compileRpcAbi(options.abi);
		const w = this.wire;
		const ctl = w.functions.get('GSP_RM_CONTROL')!;
		const alloc = w.functions.get('GSP_RM_ALLOC')!;
		this.queue = new QueuePair({
			abi: this.wire,
			memory: options.memory,
			...(options.wasmMemory === undefined ? {} : { wasmMemory: options.wasmMemory }),
			side: 'gsp',
			cmdqOffset: options.layout.cmdqOffset,
			statqOffset: options.layout.statqOffset,
			cmdqSize: options.layout.cmdqSize,
			statqSize: options.layout.statqSize,
			notify: options.raiseIrq,
			...(options.allocate === undefined ? {} : { allocate: options.allocate }),
			lengthHint: (fn, seq, head) => {
				const dv = new DataView(head.buffer, head.byteOffset, head.length);
				if (fn === ctl) return w.rmControl.size + dv.getUint32(w.rmControl.paramsSize, true);
				if (fn === alloc) return w.rmAlloc.size + dv.getUint32(w.rmAlloc.paramsSize, true);
				return options.lengthHint?.(fn, seq, head);
			},
		});
	}

	/** What GSP-RM does when it starts: write the status-queue header, link the command queue. */
	boot(): boolean {
		this.queue.initTx();
		return this.queue.link();
	}

	/** Function number by name. */
	fn(name: string): number {
		const id = this.wire.functions.get(name) ?? this.wire.events.get(name);
		if (id === undefined) throw new Error(`no ${name}`);
		return id;
	}

	/** Schedule a step on the next macrotask (the doorbell handler). */
	schedule(): void {
		this.#auto = true;
		if (this.#scheduled) return;
		this.#scheduled = true;
		setImmediate(() => {
			this.#scheduled = false;
			this.step();
		});
	}

	/** Process every complete command and send what is due; returns commands processed. */
	step(): number {
		if (this.hung) return 0;
		if (!this.queue.linked && !this.queue.link()) return 0;
		let n = 0;
		for (;;) {
			const msg = this.queue.receive();
			if (msg === undefined) break;
			n++;
			if (this.#options.record !== false) this.received.push(msg);
			const r = this.#handle(msg);
			if (r !== undefined) {
				const seq = this.#options.echoSequence === false ? 0 : msg.sequence;
				this.#outbox.push({ fn: msg.function, seq, payload: r.payload, result: r.result ?? 0 });
			}
			const every = this.#options.eventEvery;
			if (every !== undefined && ++this.#commands % every === 0) {
				const p = new Uint8Array(4);
				new DataView(p.buffer).setUint32(0, this.#events++, true);
				this.#outbox.push({ fn: this.fn('OS_ERROR_LOG'), seq: 0, payload: p, result: 0 });
			}
		}
		if (!this.holdReplies) this.flush();
		// Like GSP-RM waiting for status-queue space: keep trying while output is stuck.
		if (this.#auto && this.#outbox.length > 0 && !this.holdReplies) this.schedule();
		return n;
	}

	/** Replies (and events) decided on but not sent yet. */
	get outboxLength(): number {
		return this.#outbox.length;
	}

	/** Take the held replies out (to send them in another order). */
	takeReplies(): HeldReply[] {
		return this.#outbox.splice(0);
	}

	/** Send held replies while they fit; returns how many are still waiting for space. */
	flush(): number {
		while (this.#outbox.length > 0) {
			const r = this.#outbox[0]!;
			if (this.#streamAt === 0 && this.send(r.fn, r.seq, r.payload, r.result)) {
				this.#outbox.shift();
				continue;
			}
			// Too big to go at once: stream it element by element as space appears.
			const pages = this.queue.elementPages(r.payload.length);
			while (this.#streamAt < pages.length && this.queue.freeSlots() >= pages[this.#streamAt]!) {
				this.queue.sendElement(r.fn, r.seq, r.payload, undefined, this.#streamAt++, r.result);
			}
			if (this.#streamAt < pages.length) break;
			this.#streamAt = 0;
			this.#outbox.shift();
		}
		return this.#outbox.length;
	}

	/** Send a message with a given rpc_result; false if it does not fit now. */
	send(fn: number, seq: number, payload: Uint8Array, result = 0): boolean {
		return this.queue.trySend(fn, seq, payload, undefined, result);
	}

	/** Send an event by name or number (sequence 0). */
	event(name: string | number, payload: Uint8Array = new Uint8Array(0)): boolean {
		return this.send(typeof name === 'number' ? name : this.fn(name), 0, payload);
	}

	/** Send a RUN_CPU_SEQUENCER program. */
	sequencer(commands: readonly SequencerCommand[]): boolean {
		return this.event('GSP_RUN_CPU_SEQUENCER', encodeSequencerProgram(this.wire, commands));
	}

	#handle(msg: RpcMessage): { payload: Uint8Array; result?: number } | undefined {
		const custom = this.#options.handlers?.get(msg.function);
		if (custom !== undefined) return custom(msg, this);
		const w = this.wire;
		switch (w.functionNames.get(msg.function)) {
			case 'GSP_SET_SYSTEM_INFO':
			case 'SET_REGISTRY':
				return undefined;
			case 'GSP_RM_CONTROL':
			case 'GSP_RM_ALLOC':
			case 'FREE': {
				const out = msg.payload.slice();
				const status =
					w.functionNames.get(msg.function) === 'GSP_RM_CONTROL'
						? w.rmControl.status
						: w.functionNames.get(msg.function) === 'GSP_RM_ALLOC'
							? w.rmAlloc.status
							: w.free.status;
				if (out.length >= status + 4) new DataView(out.buffer).setUint32(status, 0, true);
				return { payload: out };
			}
			default:
				return { payload: msg.payload };
		}
	}
}
