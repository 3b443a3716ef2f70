/**
 * The asynchronous RPC engine on top of the CPU end of the queues: calls with request/reply matching and
 * timeouts, many callers in flight, back-pressure when the command queue is full, event subscription by neutral
 * name, typed rm_alloc/rm_control/free, the pre-boot SET_SYSTEM_INFO/SET_REGISTRY, the RUN_CPU_SEQUENCER
 * handler, INIT_DONE, and recovery (a fatal transport error makes the engine `dead` until {@link RpcEngine.reset}).
 *
 * Reply matching. GSP-RM processes the command queue in order and answers with the request's function number.
 * Current OpenRM (`_kgspRpcDrainOneEvent`) takes a message as the reply when `function == expectedFunc &&
 * sequence == expectedSequence`, i.e. GSP-RM echoes `rpc.sequence`; the 535-era OpenRM matched the function only.
 * Calls carry sequences 1, 2, … (0 is what async/NOSEQ messages carry). With `replyMatching: 'auto'` the
 * engine matches (function, sequence) when a pending call carries that sequence; otherwise it takes the oldest
 * pending call of that function — unless the firmware has been seen echoing sequences, in which case a reply
 * with an unknown non-zero sequence (say, the late answer to a timed-out call) matches nobody. So it works
 * with firmware that echoes and firmware that does not. Replies nobody waits for, and events, go to subscribers.
 *
 * @module
 */

import { byteLength, decode, encode, type FixedLayout, type Input, type Value } from '@gspkit/abi';
import {
	type Clock,
	type DmaBuffer,
	type InterruptLine,
	MS,
	type Platform,
	pollUntil,
	SEC,
	TimeoutError,
	US,
} from '@gspkit/hal';
import { GSP_DOORBELL, RPC_FIRST_EVENT_ID } from './constants.ts';
import { FATAL_RPC_ERROR_CODES, RpcError, RpcStatusError } from './errors.ts';
import { HandleAllocator } from './handles.ts';
import { nvStatusErrno, nvStatusName } from './nv-status.ts';
import { QueuePair, type QueueStats, type RpcMessage } from './queue.ts';
import {
	type MessageQueueInitArguments,
	messageQueueInitArguments,
	type RegionLayout,
	type RegionSizes,
	regionLayout,
	writePageTable,
} from './region.ts';
import { buildRegistryTable, DEFAULT_REGISTRY, type RegistryValue } from './registry.ts';
import { compileRpcAbi, type RpcAbi, type RpcWire } from './rpc-abi.ts';
import { type FalconControl, runSequencer, type SequencerResult } from './sequencer.ts';

/** The parts of a hal `Platform` the engine uses. */
export type RpcPlatform = Pick<Platform, 'bar0' | 'dma' | 'clock' | 'irq'>;

/** How replies and events are noticed. */
export type ReceiveMode = 'irq' | 'poll';

/** How replies are matched to calls (see the module comment). */
export type ReplyMatching = 'auto' | 'sequence' | 'fifo';

/** Engine lifecycle: `idle` (queues built, pre-boot sends allowed) → `linked` → `dead` | `closed`. */
export type EngineState = 'idle' | 'linked' | 'dead' | 'closed';

/** Options of {@link RpcEngine}. */
export interface RpcEngineOptions {
	/** BAR0 (doorbell, sequencer registers), DMA (the shared region), clock, interrupt lines. */
	readonly platform: RpcPlatform;
	/** The firmware ABI in use. */
	readonly abi: RpcAbi;
	/** Falcon-core operations for RUN_CPU_SEQUENCER (CORE_RESET/START/WAIT_FOR_HALT/RESUME). */
	readonly falcon?: FalconControl;
	/** Queue sizes (default 2 × 256 KiB, the silicon values). */
	readonly sizes?: RegionSizes;
	/** `'irq'` (default): wait on the interrupt line, re-checking every `irqSliceNs`; `'poll'`: sleep with back-off. */
	readonly receive?: ReceiveMode;
	/** Interrupt line name (default `'gsp'`). */
	readonly irqLine?: string;
	/** Longest wait on the interrupt line before the queue is checked anyway (default 10 ms). */
	readonly irqSliceNs?: bigint;
	/** Poll back-off bounds (default 1 µs … 100 µs). */
	readonly pollMinNs?: bigint;
	readonly pollMaxNs?: bigint;
	/** Longest sleep between command-queue space checks (default 50 µs). */
	readonly sendPollMaxNs?: bigint;
	/** Busy-check the status queue this many times before sleeping or waiting (default 0): trades CPU for latency. */
	readonly spinIterations?: number;
	/**
	 * Busy-check command-queue space this many times before sleeping (default 4096, some 20–40 µs): a GSP that
	 * is consuming frees an element within microseconds, and a sleep costs an event-loop turn per element of a
	 * large message.
	 */
	readonly sendSpinIterations?: number;
	/** Default reply timeout per call, send included (default 10 s, nova-core's receive timeout). */
	readonly callTimeoutNs?: bigint;
	/** How long a sender waits for command-queue space (default 1 s, as nova-core). */
	readonly sendTimeoutNs?: bigint;
	/** How long {@link RpcEngine.link} retries the status-queue header (default 10 s). */
	readonly linkTimeoutNs?: bigint;
	/** A reply timeout means a hung GSP: the engine goes `dead` (default `true`). */
	readonly timeoutIsFatal?: boolean;
	/** Default `'auto'`. */
	readonly replyMatching?: ReplyMatching;
	/** Run RUN_CPU_SEQUENCER programs automatically (default `true`). */
	readonly sequencer?: boolean;
	/** Keep receiving (and dispatching events) while no call is pending (default `false`; see {@link RpcEngine.listen}). */
	readonly listen?: boolean;
	/** Largest message accepted from the GSP (default 64 MiB). */
	readonly maxMessageBytes?: number;
	/** Called for an event or unmatched reply nobody subscribed to. */
	readonly onUnhandled?: (event: RpcEvent) => void;
	/** Called when a subscriber throws (default: `console.error`). */
	readonly onHandlerError?: (error: unknown, event: RpcEvent) => void;
}

/** A reply to {@link RpcEngine.call}. */
export interface RpcReply {
	readonly function: number;
	readonly sequence: number;
	/** `rpc_result` (always 0 here: non-zero results reject with {@link RpcStatusError}). */
	readonly result: number;
	/** Reply payload after the RPC header. */
	readonly payload: Uint8Array;
	/** Queue elements it arrived in. */
	readonly elements: number;
}

/** An event (or unmatched reply) as subscribers see it. */
export interface RpcEvent extends RpcMessage {
	/** Neutral name (`'GSP_INIT_DONE'`), if the ABI numbers it. */
	readonly name: string | undefined;
}

/** Event handler; a returned promise is awaited before the next event is delivered (events stay in order). */
export type RpcEventHandler = (event: RpcEvent) => void | Promise<void>;

/** Options of one call. */
export interface CallOptions {
	/** Reply timeout for this call, send included. */
	readonly timeoutNs?: bigint;
	/** Total reply payload bytes, when the reply may exceed one element (CONTINUATION_RECORDs). */
	readonly replySize?: number;
	/** Send `rpc.sequence = 0` (nouveau's NOSEQ policy). */
	readonly noSequence?: boolean;
}

/** Options of {@link RpcEngine.post}. */
export interface PostOptions {
	/** `rpc.sequence` to send (default 0: OpenRM's async RPCs and nouveau's NOSEQ carry 0). */
	readonly sequence?: number;
	/** Send timeout. */
	readonly timeoutNs?: bigint;
}

/** Typed RM parameters: encoded with, and the reply decoded with, an ABI layout. */
export interface TypedParams<L extends FixedLayout> {
	readonly layout: L;
	readonly value: Input<L>;
}

/** Options of rm_alloc / rm_control. */
export interface RmCallOptions extends Omit<CallOptions, 'replySize'> {
	/** `flags` of the payload header (default 0). */
	readonly flags?: number;
}

/** What {@link RpcEngine.waitForInitDone} reports. */
export interface InitDoneResult {
	/** The INIT_DONE message. */
	readonly initDone: RpcEvent;
	/** RUN_CPU_SEQUENCER programs executed while waiting. */
	readonly sequencerRuns: readonly SequencerResult[];
}

/** Engine counters (queue counters included). */
export interface EngineStats extends QueueStats {
	calls: number;
	replies: number;
	events: number;
	unhandled: number;
	unmatchedReplies: number;
	timeouts: number;
	sequencerRuns: number;
}

interface Pending {
	readonly fn: number;
	readonly seq: number;
	readonly name: string;
	readonly deadline: bigint;
	readonly timeoutNs: bigint;
	readonly replySize: number | undefined;
	readonly resolve: (r: RpcReply) => void;
	readonly reject: (e: unknown) => void;
	done: boolean;
}

interface Waiter {
	readonly fn: number | undefined;
	readonly deadline: bigint;
	readonly what: string;
	readonly resolve: (e: RpcEvent) => void;
	readonly reject: (e: unknown) => void;
	done: boolean;
}

interface SendJob {
	readonly fn: number;
	readonly seq: number;
	readonly head: Uint8Array;
	readonly body: Uint8Array | undefined;
	readonly deadline: bigint;
	readonly gen: number;
	readonly resolve: () => void;
	readonly reject: (e: unknown) => void;
}

/** A FIFO with O(1) push/shift and lazy compaction. */
class Fifo<T> {
	#items: (T | undefined)[] = [];
	#head = 0;
	get length(): number {
		return this.#items.length - this.#head;
	}
	push(x: T): void {
		this.#items.push(x);
	}
	peek(): T | undefined {
		return this.#items[this.#head];
	}
	shift(): T | undefined {
		const x = this.#items[this.#head];
		this.#items[this.#head++] = undefined;
		if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
			this.#items = this.#items.slice(this.#head);
			this.#head = 0;
		}
		return x;
	}
	clear(): T[] {
		const out = this.#items.slice(this.#head) as T[];
		this.#items = [];
		this.#head = 0;
		return out;
	}
}

const EMPTY = new Uint8Array(0);
/** The smaller of two nanosecond counts (`Math.min` does not take bigints). */
function minNs(a: bigint, b: bigint): bigint {
	if (a < b) return a;
	return b;
}

const yieldMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const FOREVER = 1n << 62n;

/**
 * The GSP RPC engine (CPU side). Construct it before booting the GSP: it allocates and initialises the shared
 * queue region; hand {@link RpcEngine.initArguments} to the boot code, pre-queue GSP_SET_SYSTEM_INFO and
 * SET_REGISTRY, boot, then {@link RpcEngine.link} and {@link RpcEngine.waitForInitDone}.
 *
 * ```ts
 * const rpc = new RpcEngine({ platform, abi, falcon });
 * await rpc.post('GSP_SET_SYSTEM_INFO', systemInfoBytes);
 * await rpc.setRegistry({ RMSecBusResetEnable: 1 });
 * // … boot GSP-RM with rpc.initArguments in its RMARGS …
 * await rpc.link();
 * await rpc.waitForInitDone();
 * const params = await rpc.rmControl(hClient, hSubdevice, 0x20800a5c, new Uint8Array(64));
 * ```
 */
export class RpcEngine {
	/** The compiled ABI. */
	readonly wire: RpcWire;
	/** Where everything lives in the shared region. */
	readonly layout: RegionLayout;
	/** Handles for RM objects (cleared by {@link RpcEngine.reset}). */
	readonly handles: HandleAllocator = new HandleAllocator();

	readonly #platform: RpcPlatform;
	readonly #clock: Clock;
	readonly #region: DmaBuffer;
	readonly #queue: QueuePair;
	readonly #falcon: FalconControl | undefined;
	readonly #mode: ReceiveMode;
	readonly #line: InterruptLine | undefined;
	readonly #irqSlice: bigint;
	readonly #pollMin: bigint;
	readonly #pollMax: bigint;
	readonly #sendPollMax: bigint;
	readonly #spin: number;
	readonly #sendSpin: number;
	readonly #callTimeout: bigint;
	readonly #sendTimeout: bigint;
	readonly #linkTimeout: bigint;
	readonly #timeoutIsFatal: boolean;
	readonly #matching: ReplyMatching;
	readonly #onUnhandled: ((e: RpcEvent) => void) | undefined;
	readonly #onHandlerError: (error: unknown, e: RpcEvent) => void;

	#state: EngineState = 'idle';
	#fatal: RpcError | undefined;
	#gen = 0;
	#seq = 1;
	#echoSeen = false;
	#listening: boolean;
	#pumping = false;

	readonly #bySeq = new Map<number, Pending>();
	readonly #byFn = new Map<number, Fifo<Pending>>();
	#pendingCount = 0;
	#earliest = FOREVER;
	readonly #waiters = new Set<Waiter>();
	readonly #sendQueue = new Fifo<SendJob>();
	#sending = false;
	readonly #handlers = new Map<number | '*', Set<RpcEventHandler>>();
	readonly #events = new Fifo<RpcEvent>();
	#eventsRunning = false;
	readonly #sequencerRuns: SequencerResult[] = [];
	#sequencerError: unknown;
	readonly #stats = {
		calls: 0,
		replies: 0,
		events: 0,
		unhandled: 0,
		unmatchedReplies: 0,
		timeouts: 0,
		sequencerRuns: 0,
	};

	constructor(options: RpcEngineOptions) {
		this.#platform = options.platform;
		this.#clock = options.platform.clock;
		this.wire = compileRpcAbi(options.abi);
		this.layout = regionLayout(options.sizes);
		this.#falcon = options.falcon;
		this.#mode = options.receive ?? 'irq';
		this.#line = this.#mode === 'irq' ? options.platform.irq(options.irqLine ?? 'gsp') : undefined;
		this.#irqSlice = options.irqSliceNs ?? 10n * MS;
		this.#pollMin = options.pollMinNs ?? US;
		this.#pollMax = options.pollMaxNs ?? 100n * US;
		this.#sendPollMax = options.sendPollMaxNs ?? 50n * US;
		this.#spin = options.spinIterations ?? 0;
		this.#sendSpin = options.sendSpinIterations ?? 4096;
		this.#callTimeout = options.callTimeoutNs ?? 10n * SEC;
		this.#sendTimeout = options.sendTimeoutNs ?? SEC;
		this.#linkTimeout = options.linkTimeoutNs ?? 10n * SEC;
		this.#timeoutIsFatal = options.timeoutIsFatal ?? true;
		this.#matching = options.replyMatching ?? 'auto';
		this.#listening = options.listen ?? false;
		this.#onUnhandled = options.onUnhandled;
		this.#onHandlerError =
			options.onHandlerError ??
			((error, e) => console.error(`gsp-rpc: handler for ${e.name ?? e.function} failed:`, error));
		this.#region = options.platform.dma.alloc(this.layout.totalSize, {
			align: 0x1000,
			label: 'gsp-rpc shared queues',
		});
		const bar0 = options.platform.bar0;
		this.#queue = new QueuePair({
			abi: this.wire,
			memory: this.#region.bytes,
			...(this.#region.wasmMemory === undefined ? {} : { wasmMemory: this.#region.wasmMemory }),
			side: 'cpu',
			cmdqOffset: this.layout.cmdqOffset,
			statqOffset: this.layout.statqOffset,
			cmdqSize: this.layout.cmdqSize,
			statqSize: this.layout.statqSize,
			notify: () => bar0.write32(GSP_DOORBELL, 0),
			lengthHint: (fn, seq, head) => this.#lengthHint(fn, seq, head),
			...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
		});
		this.#initRegion();
		if (options.sequencer !== false) this.on('GSP_RUN_CPU_SEQUENCER', (e) => this.#runSequencer(e));
	}

	// ─────────────────────────── state ───────────────────────────

	/** `idle`, `linked`, `dead` or `closed`. */
	get state(): EngineState {
		return this.#state;
	}

	/** The fatal error that killed the engine, if it is `dead`. */
	get fatalError(): RpcError | undefined {
		return this.#fatal;
	}

	/** The values for `MESSAGE_QUEUE_INIT_ARGUMENTS` in the RMARGS page. */
	get initArguments(): MessageQueueInitArguments {
		return messageQueueInitArguments(this.#region.busAddress, this.layout);
	}

	/** The shared region (for diagnostics and for a device model to map). */
	get region(): DmaBuffer {
		return this.#region;
	}

	/** The CPU end of the queues (for diagnostics). */
	get queue(): QueuePair {
		return this.#queue;
	}

	/** Counters. */
	get stats(): Readonly<EngineStats> {
		return { ...this.#queue.stats, ...this.#stats };
	}

	/** Calls waiting for a reply. */
	get pendingCalls(): number {
		return this.#pendingCount;
	}

	/** Function number of a neutral name (or the number itself). */
	functionId(fn: string | number): number {
		if (typeof fn === 'number') {
			if (!Number.isSafeInteger(fn) || fn < 0 || fn > 0xffffffff) {
				throw new RpcError('RPC_UNKNOWN_NAME', `function ${fn} is not a u32`, {
					errno: 'EINVAL',
					details: { function: fn },
				});
			}
			return fn;
		}
		const id = this.wire.functions.get(fn);
		if (id === undefined) {
			throw new RpcError('RPC_UNKNOWN_NAME', `ABI ${this.wire.version} numbers no function ${fn}`, {
				errno: 'EINVAL',
				details: { function: fn, abi: this.wire.version },
			});
		}
		return id;
	}

	/** Event (or function) number of a neutral name (or the number itself). */
	eventId(name: string | number): number {
		if (typeof name === 'number') return this.functionId(name);
		const id = this.wire.events.get(name) ?? this.wire.functions.get(name);
		if (id === undefined) {
			throw new RpcError('RPC_UNKNOWN_NAME', `ABI ${this.wire.version} numbers no event ${name}`, {
				errno: 'EINVAL',
				details: { event: name, abi: this.wire.version },
			});
		}
		return id;
	}

	#nameOf(fn: number): string | undefined {
		return fn >= RPC_FIRST_EVENT_ID ? this.wire.eventNames.get(fn) : this.wire.functionNames.get(fn);
	}

	#usable(needLink: boolean): RpcError | undefined {
		if (this.#state === 'closed')
			return new RpcError('RPC_CLOSED', 'GSP RPC engine is closed', { errno: 'ENODEV' });
		if (this.#state === 'dead') {
			return new RpcError('RPC_DEAD', `GSP RPC transport is dead (${this.#fatal?.code}): reset required`, {
				errno: 'EIO',
				...(this.#fatal === undefined ? {} : { cause: this.#fatal }),
				details: { reason: this.#fatal?.code },
			});
		}
		if (needLink && this.#state !== 'linked') {
			return new RpcError(
				'RPC_NOT_LINKED',
				'the status queue is not linked yet (call link() after booting GSP-RM)',
				{
					errno: 'EAGAIN',
				},
			);
		}
		return undefined;
	}

	#initRegion(): void {
		this.#region.bytes.fill(0);
		writePageTable(this.#region.bytes, this.#region.busAddress, this.layout);
		this.#queue.reset();
		this.#queue.initTx();
	}

	// ─────────────────────────── link ───────────────────────────

	/**
	 * Link the status queue once GSP-RM runs: retry until it has written a consistent `msgqTxHeader` (size,
	 * msgSize, version, rxHdrOff ≥ 32, msgCount), then start receiving.
	 *
	 * @throws RpcError `RPC_LINK` after the timeout (the engine is then `dead`), naming the last problem.
	 */
	async link(options: { timeoutNs?: bigint } = {}): Promise<void> {
		const bad = this.#usable(false);
		if (bad !== undefined) throw bad;
		if (this.#state === 'linked') return;
		const timeoutNs = options.timeoutNs ?? this.#linkTimeout;
		const gen = this.#gen;
		try {
			await pollUntil(this.#clock, () => gen !== this.#gen || this.#queue.link(), Boolean, {
				timeoutNs,
				what: 'GSP status queue header',
			});
		} catch (e) {
			if (!(e instanceof TimeoutError)) throw e;
			const problem = this.#queue.checkPeer();
			const err = new RpcError(
				'RPC_LINK',
				`status queue never became valid: ${problem?.message ?? 'unknown'}`,
				{
					errno: 'ETIMEDOUT',
					cause: e,
					details: { reason: problem?.reason, timeoutNs: timeoutNs.toString() },
				},
			);
			this.#die(err);
			throw err;
		}
		if (gen !== this.#gen)
			throw new RpcError('RPC_RESET', 'link() cancelled by reset()', { errno: 'ECANCELED' });
		this.#state = 'linked';
		this.#ensurePump();
	}

	// ─────────────────────────── sending ───────────────────────────

	/**
	 * Send a message without awaiting a reply (GSP_SET_SYSTEM_INFO, SET_REGISTRY before boot). Resolves once it
	 * is in the command queue. Allowed before {@link RpcEngine.link}.
	 */
	post(fn: string | number, payload: Uint8Array = EMPTY, options: PostOptions = {}): Promise<void> {
		const bad = this.#usable(false);
		if (bad !== undefined) return Promise.reject(bad);
		let id: number;
		try {
			id = this.functionId(fn);
		} catch (e) {
			return Promise.reject(e);
		}
		const deadline = this.#clock.now() + (options.timeoutNs ?? this.#sendTimeout);
		try {
			return this.#send(id, options.sequence ?? 0, payload, undefined, deadline) ?? Promise.resolve();
		} catch (e) {
			if (e instanceof RpcError && FATAL_RPC_ERROR_CODES.has(e.code)) this.#die(e);
			return Promise.reject(e);
		}
	}

	/**
	 * Queue SET_REGISTRY with {@link DEFAULT_REGISTRY} merged with `keys` (user keys win), sequence 0, no reply.
	 */
	setRegistry(keys: Readonly<Record<string, RegistryValue>> = {}): Promise<void> {
		let table: Uint8Array;
		try {
			table = buildRegistryTable(this.wire, { ...DEFAULT_REGISTRY, ...keys });
		} catch (e) {
			return Promise.reject(e);
		}
		return this.post('SET_REGISTRY', table);
	}

	/**
	 * Call `fn` with `payload` and resolve with the reply. Replies are matched per the `replyMatching` option;
	 * any number of calls may be in flight.
	 *
	 * @throws RpcStatusError `RPC_STATUS` when the reply's `rpc_result` is not 0;
	 *   RpcError `RPC_TIMEOUT`, `RPC_QUEUE_FULL`, `RPC_NOT_LINKED`, `RPC_DEAD`, `RPC_RESET`, `RPC_CLOSED`, or the
	 *   fatal transport error that killed the engine while the call was pending.
	 */
	call(fn: string | number, payload: Uint8Array = EMPTY, options: CallOptions = {}): Promise<RpcReply> {
		return this.#request(fn, payload, undefined, options);
	}

	#request(
		fn: string | number,
		head: Uint8Array,
		body: Uint8Array | undefined,
		options: CallOptions,
	): Promise<RpcReply> {
		const bad = this.#usable(true);
		if (bad !== undefined) return Promise.reject(bad);
		let id: number;
		try {
			id = this.functionId(fn);
		} catch (e) {
			return Promise.reject(e);
		}
		const seq = options.noSequence === true ? 0 : this.#nextSeq();
		const timeoutNs = options.timeoutNs ?? this.#callTimeout;
		const now = this.#clock.now();
		const deadline = now + timeoutNs;
		this.#stats.calls++;
		return new Promise<RpcReply>((resolve, reject) => {
			const p: Pending = {
				fn: id,
				seq,
				name: this.#nameOf(id) ?? String(id),
				deadline,
				timeoutNs,
				replySize: options.replySize,
				resolve,
				reject,
				done: false,
			};
			this.#addPending(p);
			try {
				const sendDeadline = now + minNs(timeoutNs, this.#sendTimeout);
				const sent = this.#send(id, seq, head, body, sendDeadline);
				if (sent !== undefined) sent.catch((e: unknown) => this.#failPending(p, e));
			} catch (e) {
				this.#failPending(p, e);
				if (e instanceof RpcError && FATAL_RPC_ERROR_CODES.has(e.code)) this.#die(e);
				return;
			}
			this.#ensurePump();
		});
	}

	/** Call sequences run 1, 2, … and skip 0, which async/NOSEQ messages carry. */
	#nextSeq(): number {
		const s = this.#seq;
		this.#seq = (this.#seq + 1) >>> 0 || 1;
		return s;
	}

	/** Send now if possible (returns `undefined`), else queue behind earlier senders (FIFO) and return a promise. */
	#send(
		fn: number,
		seq: number,
		head: Uint8Array,
		body: Uint8Array | undefined,
		deadline: bigint,
	): Promise<void> | undefined {
		if (this.#sendQueue.length === 0 && !this.#sending && this.#queue.trySend(fn, seq, head, body))
			return undefined;
		return new Promise<void>((resolve, reject) => {
			this.#sendQueue.push({ fn, seq, head, body, deadline, gen: this.#gen, resolve, reject });
			if (!this.#sending) void this.#runSendQueue();
		});
	}

	async #runSendQueue(): Promise<void> {
		this.#sending = true;
		try {
			for (;;) {
				const job = this.#sendQueue.peek();
				if (job === undefined) break;
				try {
					await this.#stream(job);
					if (this.#sendQueue.peek() === job) this.#sendQueue.shift();
					job.resolve();
				} catch (e) {
					// reset()/close() may have emptied the queue meanwhile; never drop a newer job.
					if (this.#sendQueue.peek() === job) this.#sendQueue.shift();
					job.reject(e);
					if (
						e instanceof RpcError &&
						(FATAL_RPC_ERROR_CODES.has(e.code) || (e.code === 'RPC_QUEUE_FULL' && this.#timeoutIsFatal))
					) {
						this.#die(e);
					}
				}
			}
		} finally {
			this.#sending = false;
		}
	}

	/** Write one queued message element by element, waiting for space before each. */
	async #stream(job: SendJob): Promise<void> {
		const pages = this.#queue.elementPages(job.head.length + (job.body?.length ?? 0));
		for (let i = 0; i < pages.length; i++) {
			await this.#waitForSpace(pages[i]!, job.deadline, job.gen);
			this.#queue.sendElement(job.fn, job.seq, job.head, job.body, i);
		}
	}

	async #waitForSpace(n: number, deadline: bigint, gen: number): Promise<void> {
		let backoff = this.#pollMin;
		for (;;) {
			if (gen !== this.#gen)
				throw new RpcError('RPC_RESET', 'send cancelled by reset()', { errno: 'ECANCELED' });
			const bad = this.#usable(false);
			if (bad !== undefined) throw bad;
			let free = this.#queue.freeSlots();
			// Spin briefly, but not while the GSP waits for us to drain the status queue.
			for (let i = 0; free < n && i < this.#sendSpin && !this.#queue.hasIncoming(); i++)
				free = this.#queue.freeSlots();
			if (free >= n) return;
			const now = this.#clock.now();
			if (now >= deadline) {
				throw new RpcError(
					'RPC_QUEUE_FULL',
					`command queue full: ${free} free slots, ${n} needed; the GSP is not consuming`,
					{
						errno: 'ETIMEDOUT',
						details: { free, needed: n },
					},
				);
			}
			const left = deadline - now;
			await this.#clock.sleep(minNs(backoff, left));
			// GSP-RM frees space as fast as it reads: poll briefly and often (nouveau: usleep(1–2 µs)).
			backoff = minNs(backoff * 2n, this.#sendPollMax);
		}
	}

	// ─────────────────────────── RM API ───────────────────────────

	/**
	 * GSP_RM_ALLOC: allocate RM object `hObject` of class `hClass` under `hParent`. Parameters are raw bytes or
	 * `{ layout, value }` encoded with the ABI codec; the reply's parameters come back the same way.
	 *
	 * @throws RpcStatusError `RPC_STATUS` (source `'status'`) when RM refuses, with the NV_STATUS name.
	 */
	rmAlloc<L extends FixedLayout>(
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params: TypedParams<L>,
		options?: RmCallOptions,
	): Promise<Value<L>>;
	rmAlloc(
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params?: Uint8Array,
		options?: RmCallOptions,
	): Promise<Uint8Array>;
	async rmAlloc(
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params: Uint8Array | TypedParams<FixedLayout> = EMPTY,
		options: RmCallOptions = {},
	): Promise<unknown> {
		const w = this.wire.rmAlloc;
		const body = encodeParams(params);
		const head = new Uint8Array(w.size);
		putU32(head, w.hClient, hClient >>> 0);
		putU32(head, w.hParent, hParent >>> 0);
		putU32(head, w.hObject, hObject >>> 0);
		putU32(head, w.hClass, hClass >>> 0);
		putU32(head, w.paramsSize, body.length);
		putU32(head, w.flags, (options.flags ?? 0) >>> 0);
		const reply = await this.#request('GSP_RM_ALLOC', head, body, options);
		const out = this.#rmReply(reply, w.size, w.status, w.paramsSize, 'GSP_RM_ALLOC', {
			hClient,
			hParent,
			hObject,
			hClass,
		});
		return decodeParams(params, out);
	}

	/**
	 * GSP_RM_CONTROL: run control `cmd` on `hObject`. Parameters are in/out: the reply's parameters are returned
	 * (raw, or decoded with the given layout).
	 *
	 * @throws RpcStatusError `RPC_STATUS` (source `'status'`) when RM refuses the control.
	 */
	rmControl<L extends FixedLayout>(
		hClient: number,
		hObject: number,
		cmd: number,
		params: TypedParams<L>,
		options?: RmCallOptions,
	): Promise<Value<L>>;
	rmControl(
		hClient: number,
		hObject: number,
		cmd: number,
		params?: Uint8Array,
		options?: RmCallOptions,
	): Promise<Uint8Array>;
	async rmControl(
		hClient: number,
		hObject: number,
		cmd: number,
		params: Uint8Array | TypedParams<FixedLayout> = EMPTY,
		options: RmCallOptions = {},
	): Promise<unknown> {
		const w = this.wire.rmControl;
		const body = encodeParams(params);
		const head = new Uint8Array(w.size);
		putU32(head, w.hClient, hClient >>> 0);
		putU32(head, w.hObject, hObject >>> 0);
		putU32(head, w.cmd, cmd >>> 0);
		putU32(head, w.paramsSize, body.length);
		putU32(head, w.flags, (options.flags ?? 0) >>> 0);
		const reply = await this.#request('GSP_RM_CONTROL', head, body, options);
		const out = this.#rmReply(reply, w.size, w.status, w.paramsSize, 'GSP_RM_CONTROL', {
			hClient,
			hObject,
			cmd,
		});
		return decodeParams(params, out);
	}

	/**
	 * FREE: free RM object `hObject` (child of `hParent`) of client `hClient` (NVOS00 `hRoot`, `hObjectParent`,
	 * `hObjectOld`).
	 *
	 * @throws RpcStatusError `RPC_STATUS` (source `'status'`) when RM refuses.
	 */
	async rmFree(hClient: number, hParent: number, hObject: number, options: CallOptions = {}): Promise<void> {
		const w = this.wire.free;
		const head = new Uint8Array(w.size);
		putU32(head, w.hRoot, hClient >>> 0);
		putU32(head, w.hObjectParent, hParent >>> 0);
		putU32(head, w.hObjectOld, hObject >>> 0);
		const reply = await this.#request('FREE', head, undefined, options);
		if (reply.payload.length < w.size) throw this.#short('FREE', reply.payload.length, w.size);
		const status = getU32(reply.payload, w.status);
		if (status !== 0)
			throw this.#statusError(status, 'status', reply.function, 'FREE', { hClient, hParent, hObject });
	}

	#rmReply(
		reply: RpcReply,
		size: number,
		statusOff: number,
		paramsSizeOff: number,
		what: string,
		details: Readonly<Record<string, unknown>>,
	): Uint8Array {
		const p = reply.payload;
		if (p.length < size) throw this.#short(what, p.length, size);
		const status = getU32(p, statusOff);
		if (status !== 0) throw this.#statusError(status, 'status', reply.function, what, details);
		const n = Math.min(getU32(p, paramsSizeOff), p.length - size);
		return p.subarray(size, size + n);
	}

	#short(what: string, got: number, need: number): RpcError {
		return new RpcError(
			'RPC_BAD_ELEMENT',
			`${what} reply of ${got} bytes is shorter than its ${need}-byte header`,
			{
				errno: 'EIO',
				details: { got, need },
			},
		);
	}

	#statusError(
		status: number,
		source: 'rpc_result' | 'status',
		fn: number,
		fnName: string,
		details: Readonly<Record<string, unknown>> = {},
	): RpcStatusError {
		return new RpcStatusError(
			status,
			nvStatusName(status, this.wire.nvStatus),
			nvStatusErrno(status),
			source,
			fn,
			fnName,
			details,
		);
	}

	// ─────────────────────────── events ───────────────────────────

	/**
	 * Subscribe to an event by neutral name (`'GSP_RUN_CPU_SEQUENCER'`), number, or `'*'` for every event and
	 * unmatched reply. Returns the unsubscribe function. Handlers run one event at a time, in arrival order.
	 */
	on(event: string | number, handler: RpcEventHandler): () => void {
		const key: number | '*' = event === '*' ? '*' : this.eventId(event);
		let set = this.#handlers.get(key);
		if (set === undefined) {
			set = new Set();
			this.#handlers.set(key, set);
		}
		set.add(handler);
		return () => {
			set.delete(handler);
		};
	}

	/**
	 * Resolve with the next occurrence of `event` (by name or number), or reject with `RPC_TIMEOUT` after
	 * `timeoutNs` (default: the call timeout). Keeps the receiver running while it waits.
	 */
	waitFor(event: string | number, options: { timeoutNs?: bigint } = {}): Promise<RpcEvent> {
		const bad = this.#usable(true);
		if (bad !== undefined) return Promise.reject(bad);
		let fn: number;
		try {
			fn = this.eventId(event);
		} catch (e) {
			return Promise.reject(e);
		}
		const timeoutNs = options.timeoutNs ?? this.#callTimeout;
		return new Promise<RpcEvent>((resolve, reject) => {
			const w: Waiter = {
				fn,
				deadline: this.#clock.now() + timeoutNs,
				what: String(event),
				resolve,
				reject,
				done: false,
			};
			this.#waiters.add(w);
			if (w.deadline < this.#earliest) this.#earliest = w.deadline;
			this.#ensurePump();
		});
	}

	/**
	 * Wait for GSP_INIT_DONE, running the RUN_CPU_SEQUENCER programs that arrive before it (nova-core waits up
	 * to 10 s). Rejects with the sequencer's `RPC_SEQUENCER` error if a program fails.
	 */
	async waitForInitDone(options: { timeoutNs?: bigint } = {}): Promise<InitDoneResult> {
		const before = this.#sequencerRuns.length;
		this.#sequencerError = undefined;
		const initDone = await this.waitFor('GSP_INIT_DONE', { timeoutNs: options.timeoutNs ?? 10n * SEC });
		if (this.#sequencerError !== undefined) throw this.#sequencerError;
		return { initDone, sequencerRuns: this.#sequencerRuns.slice(before) };
	}

	/** RUN_CPU_SEQUENCER programs executed so far. */
	get sequencerRuns(): readonly SequencerResult[] {
		return this.#sequencerRuns;
	}

	async #runSequencer(e: RpcEvent): Promise<void> {
		try {
			const r = await runSequencer(this.wire, e.payload, {
				bar0: this.#platform.bar0,
				clock: this.#clock,
				falcon: this.#falcon,
			});
			this.#sequencerRuns.push(r);
			this.#stats.sequencerRuns++;
		} catch (err) {
			this.#sequencerError = err;
			for (const w of [...this.#waiters]) {
				if (w.fn === this.wire.events.get('GSP_INIT_DONE')) this.#settleWaiter(w, undefined, err);
			}
			throw err;
		}
	}

	/** Keep receiving while nothing is pending, so events are dispatched as they arrive (like nouveau after init). */
	listen(on = true): void {
		this.#listening = on;
		if (on) this.#ensurePump();
	}

	// ─────────────────────────── receiving ───────────────────────────

	/**
	 * Receive and dispatch everything available now, synchronously; returns the number of messages. For
	 * deterministic single-thread stepping (the receiver loop does the same on its own).
	 *
	 * @throws the fatal transport error (the engine is then `dead`).
	 */
	poll(): number {
		if (this.#state !== 'linked') return 0;
		try {
			const n = this.#drain();
			this.#checkTimeouts(this.#clock.now());
			return n;
		} catch (e) {
			this.#die(e);
			throw e;
		}
	}

	#needPump(): boolean {
		return this.#state === 'linked' && (this.#pendingCount > 0 || this.#waiters.size > 0 || this.#listening);
	}

	#ensurePump(): void {
		if (this.#pumping || !this.#needPump()) return;
		this.#pumping = true;
		// Start on a microtask: a burst of synchronous calls all goes out before the receiver (which may spin) runs.
		queueMicrotask(() => void this.#pump());
	}

	async #pump(): Promise<void> {
		const gen = this.#gen;
		let backoff = this.#pollMin;
		let busy = 0;
		try {
			while (gen === this.#gen && this.#needPump()) {
				this.#line?.acknowledge();
				const n = this.#drain();
				const now = this.#clock.now();
				this.#checkTimeouts(now);
				if (n > 0) {
					backoff = this.#pollMin;
					// Let resolved callers run before the next drain; now and then let timers and I/O run too.
					if (++busy % 64 === 0) await yieldMacrotask();
					else await undefined;
					continue;
				}
				if (!this.#needPump()) break;
				let spun = false;
				// Spin only when this thread has nothing else to do (a streaming sender needs it).
				const spin = this.#sending ? 0 : this.#spin;
				for (let i = 0; i < spin; i++) {
					if (this.#queue.hasIncoming()) {
						spun = true;
						break;
					}
				}
				if (spun || this.#queue.hasIncoming()) continue;
				const until = this.#earliest;
				const left = until > now ? until - now : 0n;
				if (this.#line !== undefined) {
					await this.#line.wait(minNs(left, this.#irqSlice));
				} else {
					await this.#clock.sleep(minNs(backoff, left));
					backoff = minNs(backoff * 2n, this.#pollMax);
				}
			}
		} catch (e) {
			this.#die(e);
		} finally {
			this.#pumping = false;
		}
		if (gen !== this.#gen) this.#ensurePump();
	}

	#drain(): number {
		let n = 0;
		for (;;) {
			const msg = this.#queue.receive();
			if (msg === undefined) return n;
			n++;
			this.#dispatch(msg);
		}
	}

	#dispatch(msg: RpcMessage): void {
		if (msg.function < RPC_FIRST_EVENT_ID) {
			const p = this.#match(msg.function, msg.sequence);
			if (p !== undefined) {
				this.#takePending(p);
				this.#stats.replies++;
				if (msg.result !== 0) {
					p.reject(this.#statusError(msg.result, 'rpc_result', msg.function, p.name));
				} else {
					p.resolve({
						function: msg.function,
						sequence: msg.sequence,
						result: msg.result,
						payload: msg.payload,
						elements: msg.elements,
					});
				}
				return;
			}
			this.#stats.unmatchedReplies++;
		} else {
			this.#stats.events++;
		}
		this.#events.push({ ...msg, name: this.#nameOf(msg.function) });
		if (!this.#eventsRunning) void this.#runEvents();
	}

	async #runEvents(): Promise<void> {
		this.#eventsRunning = true;
		try {
			for (;;) {
				const ev = this.#events.shift();
				if (ev === undefined) break;
				let handled = false;
				for (const w of this.#waiters) {
					if (!w.done && w.fn === ev.function) {
						this.#settleWaiter(w, ev, undefined);
						handled = true;
						break;
					}
				}
				const handlers = [...(this.#handlers.get(ev.function) ?? []), ...(this.#handlers.get('*') ?? [])];
				for (const h of handlers) {
					handled = true;
					try {
						const r = h(ev);
						if (r !== undefined) await r;
					} catch (e) {
						this.#onHandlerError(e, ev);
					}
				}
				if (!handled) {
					this.#stats.unhandled++;
					try {
						this.#onUnhandled?.(ev);
					} catch (e) {
						this.#onHandlerError(e, ev);
					}
				}
			}
		} finally {
			this.#eventsRunning = false;
		}
	}

	#settleWaiter(w: Waiter, ev: RpcEvent | undefined, err: unknown): void {
		if (w.done) return;
		w.done = true;
		this.#waiters.delete(w);
		if (ev !== undefined) w.resolve(ev);
		else w.reject(err);
	}

	// ─────────────────────────── pending calls ───────────────────────────

	#addPending(p: Pending): void {
		if (this.#matching !== 'fifo') this.#bySeq.set(p.seq, p);
		let q = this.#byFn.get(p.fn);
		if (q === undefined) {
			q = new Fifo();
			this.#byFn.set(p.fn, q);
		}
		q.push(p);
		this.#pendingCount++;
		if (p.deadline < this.#earliest) this.#earliest = p.deadline;
	}

	#match(fn: number, seq: number): Pending | undefined {
		if (this.#matching !== 'fifo') {
			const p = this.#bySeq.get(seq);
			if (p !== undefined && !p.done && p.fn === fn) {
				if (seq !== 0) this.#echoSeen = true;
				return p;
			}
			// Firmware that echoes sequences has answered this one already (or never will): not a FIFO match.
			if (this.#matching === 'sequence' || (this.#echoSeen && seq !== 0)) return undefined;
		}
		const q = this.#byFn.get(fn);
		if (q === undefined) return undefined;
		for (;;) {
			const p = q.peek();
			if (p === undefined) return undefined;
			if (!p.done) return p;
			q.shift();
		}
	}

	#takePending(p: Pending): void {
		p.done = true;
		this.#pendingCount--;
		if (this.#bySeq.get(p.seq) === p) this.#bySeq.delete(p.seq);
		const q = this.#byFn.get(p.fn);
		if (q !== undefined) {
			while (q.peek()?.done === true) q.shift();
		}
	}

	#failPending(p: Pending, e: unknown): void {
		if (p.done) return;
		this.#takePending(p);
		p.reject(e);
	}

	#lengthHint(fn: number, seq: number, head: Uint8Array): number | undefined {
		const w = this.wire;
		if (fn === w.functions.get('GSP_RM_CONTROL') && head.length >= w.rmControl.size) {
			return w.rmControl.size + getU32(head, w.rmControl.paramsSize);
		}
		if (fn === w.functions.get('GSP_RM_ALLOC') && head.length >= w.rmAlloc.size) {
			return w.rmAlloc.size + getU32(head, w.rmAlloc.paramsSize);
		}
		return this.#match(fn, seq)?.replySize;
	}

	#checkTimeouts(now: bigint): void {
		if (now < this.#earliest) return;
		let earliest = FOREVER;
		const expired: Pending[] = [];
		for (const q of this.#byFn.values()) {
			// Scan the live entries of each FIFO.
			const all = q.clear();
			for (const p of all) {
				if (p.done) continue;
				if (p.deadline <= now) expired.push(p);
				else {
					q.push(p);
					if (p.deadline < earliest) earliest = p.deadline;
				}
			}
		}
		for (const w of [...this.#waiters]) {
			if (w.deadline <= now) {
				this.#settleWaiter(
					w,
					undefined,
					new RpcError('RPC_TIMEOUT', `no ${w.what} within the timeout`, {
						errno: 'ETIMEDOUT',
						details: { event: w.what },
					}),
				);
			} else if (w.deadline < earliest) earliest = w.deadline;
		}
		this.#earliest = earliest;
		let first: RpcError | undefined;
		for (const p of expired) {
			this.#stats.timeouts++;
			const err = new RpcError(
				'RPC_TIMEOUT',
				`no reply to ${p.name} (sequence ${p.seq}) within ${p.timeoutNs / MS} ms`,
				{
					errno: 'ETIMEDOUT',
					details: {
						function: p.fn,
						functionName: p.name,
						sequence: p.seq,
						timeoutNs: p.timeoutNs.toString(),
					},
				},
			);
			first ??= err;
			this.#failPending(p, err);
		}
		if (first !== undefined && this.#timeoutIsFatal) this.#die(first);
	}

	// ─────────────────────────── recovery ───────────────────────────

	#die(e: unknown): void {
		if (this.#state === 'dead' || this.#state === 'closed') return;
		const err =
			e instanceof RpcError
				? e
				: new RpcError('RPC_BAD_ELEMENT', `GSP RPC receiver failed: ${(e as Error)?.message ?? String(e)}`, {
						errno: 'EIO',
						cause: e,
					});
		this.#state = 'dead';
		this.#fatal = err;
		this.#failAll(err);
	}

	#failAll(err: unknown): void {
		for (const q of this.#byFn.values()) for (const p of q.clear()) this.#failPending(p, err);
		this.#byFn.clear();
		this.#bySeq.clear();
		this.#pendingCount = 0;
		this.#earliest = FOREVER;
		for (const w of [...this.#waiters]) this.#settleWaiter(w, undefined, err);
		for (const job of this.#sendQueue.clear()) job.reject(err);
	}

	/**
	 * Reset the transport after the GPU was reset: fail everything pending with `RPC_RESET`, rebuild the
	 * shared region (page table, command-queue header), forget the link, handles and sequence numbers. The
	 * engine is `idle` again: pre-queue, boot, {@link RpcEngine.link}.
	 */
	reset(): void {
		if (this.#state === 'closed') throw this.#usable(false)!;
		this.#gen++;
		this.#failAll(new RpcError('RPC_RESET', 'cancelled by reset()', { errno: 'ECANCELED' }));
		this.#events.clear();
		this.#state = 'idle';
		this.#fatal = undefined;
		this.#seq = 1;
		this.#echoSeen = false;
		this.handles.clear();
		this.#initRegion();
	}

	/** Fail everything pending with `RPC_CLOSED` and free the shared region. Idempotent. */
	close(): void {
		if (this.#state === 'closed') return;
		this.#gen++;
		this.#state = 'closed';
		this.#failAll(new RpcError('RPC_CLOSED', 'GSP RPC engine closed', { errno: 'ENODEV' }));
		this.#platform.dma.free(this.#region);
	}
}

/** Store a little-endian u32 (no DataView per call on the hot path). */
function putU32(b: Uint8Array, off: number, v: number): void {
	b[off] = v;
	b[off + 1] = v >>> 8;
	b[off + 2] = v >>> 16;
	b[off + 3] = v >>> 24;
}

/** Load a little-endian u32. */
function getU32(b: Uint8Array, off: number): number {
	return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function encodeParams(params: Uint8Array | TypedParams<FixedLayout>): Uint8Array {
	if (params instanceof Uint8Array) return params;
	const out = new Uint8Array(byteLength(params.layout, params.value as never));
	encode(params.layout, params.value as never, out);
	return out;
}

function decodeParams(params: Uint8Array | TypedParams<FixedLayout>, out: Uint8Array): unknown {
	if (params instanceof Uint8Array) return out;
	return decode(params.layout, out, 0, { length: out.length });
}
