/**
 * The simulated GSP-RM as the rest of the simulated GPU sees it: the GSP queue registers to mount in BAR0
 * (the doorbell), the `start` the falcon model calls when the GSP RISC-V core starts, the interrupt it
 * raises, fault injection and events. The processor itself ({@link GspRmCore}) runs in one of three modes:
 *
 * - `'worker'`: a separate processor in a worker thread that shares only DMA memory, the doorbell/register
 *   block and the interrupt (a message) with the driver — the default with a real clock;
 * - `'clock'`: in the driver's thread, stepped by timers on the platform's virtual clock a little after each
 *   doorbell — deterministic, the default with a virtual clock;
 * - `'manual'`: in the driver's thread, only when the test calls {@link SimulatedGspRm.step}.
 *
 * @module
 */

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type Clock, VirtualClock } from '@gspkit/hal';
import type { SimChipSpec } from '../chips.ts';
import type { DmaPool } from '../dma.ts';
import type { ChannelErrorReport } from '../engines/types.ts';
import type { SimInterruptLine } from '../irq.ts';
import { type GspRmFirmwareVersion, gspRmAbi } from './abi.ts';
import { type GspChannelSink, isGspChannelTag } from './channels.ts';
import {
	encodeEventPayload,
	GspRmCore,
	type GspRmEventPayload,
	type GspRmSnapshot,
	type GspRmStartArgs,
	type GspRmStepResult,
} from './core.ts';
import { GspRmError } from './errors.ts';
import type { GspRmFault } from './faults.ts';
import { PoolGspMemory } from './memory.ts';
import {
	createSharedBlock,
	GspQueueRegisters,
	type GspRmPhase,
	phaseOf,
	SHARED,
	wakeGsp,
} from './shared-block.ts';
import type { WorkerCommand, WorkerInit, WorkerMessage } from './worker-protocol.ts';

/** Where the GSP processor runs. */
export type GspRmMode = 'manual' | 'clock' | 'worker';

/** Options of {@link SimulatedGspRm}. */
export interface SimulatedGspRmOptions {
	readonly chip: SimChipSpec;
	readonly vramSize: bigint;
	/** The DMA pool the driver allocates the queues, LIBOS arguments and logs from. */
	readonly dma: DmaPool;
	/** The 'gsp' interrupt line the GSP raises after publishing replies or events. */
	readonly irq: SimInterruptLine;
	readonly clock: Clock;
	/** Default: `'clock'` with a virtual clock, `'worker'` with a real one. */
	readonly mode?: GspRmMode;
	/** In-thread modes: whether PCI bus mastering is on (GSP DMA faults otherwise). */
	readonly busMaster?: () => boolean;
	/** Called with every interrupt too, e.g. to set the GSP falcon's IRQSTAT.SWGEN0. */
	readonly onInterrupt?: () => void;
	/** Called when GSP-RM finished unloading: set GSP MAILBOX0 bit 31 in the falcon model. */
	readonly onUnload?: () => void;
	/** Receives the emulator's log lines. */
	readonly log?: (line: string) => void;
	/** Clock mode: how long after a doorbell the GSP gets to it (default 1 µs). */
	readonly responseLatencyNs?: bigint;
	/** Worker mode: the worker entry to load instead of the built-in one. */
	readonly workerUrl?: URL;
	/**
	 * Receives RM's channel changes (register, enable, engine class, unregister, reset) in order — the simulated
	 * GPU applies them to its host engine. In-thread modes call it while the RPC is handled; in worker mode the
	 * worker posts them before it publishes the reply, and {@link SimulatedGspRm.syncChannels} applies any still
	 * in flight (the host engine calls it before decoding a doorbell).
	 */
	readonly channels?: GspChannelSink;
}

/** Convenience wrappers over {@link GspRmFault}. */
export interface GspRmFaultControls {
	delayReplies(ns: bigint, count?: number): void;
	dropDoorbells(count?: number): void;
	corruptNextReplyChecksum(count?: number): void;
	skipReplySeqNum(count?: number): void;
	oversizeNextReply(count?: number): void;
	hang(): void;
	unhang(): void;
	failNextCall(spec: {
		readonly function: string | number;
		readonly cmd?: number;
		readonly hClass?: number;
		readonly status: number;
		readonly count?: number;
	}): void;
	clear(): void;
}

/** The simulated GSP-RM, host side. */
export class SimulatedGspRm {
	readonly mode: GspRmMode;
	/** The shared block (doorbell counter, phase, queue registers). */
	readonly block: Int32Array;
	/** BAR0 0x110c00–0x110cff: mount this (or forward the falcon window's accesses to it). */
	readonly queueRegisters: GspQueueRegisters;
	/** Fault injection. */
	readonly faults: GspRmFaultControls;
	readonly #o: SimulatedGspRmOptions;
	readonly #core: GspRmCore | undefined;
	#worker: Worker | undefined;
	#port: MessagePort | undefined;
	#workerError: Error | undefined;
	#version: GspRmFirmwareVersion | undefined;
	#timer: { at: bigint; cancel(): void } | undefined;
	#snapshotId = 0;
	readonly #snapshots = new Map<number, (s: GspRmSnapshot) => void>();
	#closed = false;
	readonly #log: string[] = [];

	constructor(options: SimulatedGspRmOptions) {
		this.#o = options;
		this.mode = options.mode ?? (options.clock.kind === 'virtual' ? 'clock' : 'worker');
		this.block = createSharedBlock();
		this.queueRegisters = new GspQueueRegisters(
			this.block,
			() => this.#onWake(),
			() => options.clock.now(),
		);
		if (this.mode !== 'worker') {
			this.#core = new GspRmCore({
				chip: options.chip,
				vramSize: options.vramSize,
				memory: new PoolGspMemory(options.dma, options.busMaster),
				block: this.block,
				now: () => options.clock.now(),
				interrupt: () => this.#interrupt(),
				unloaded: () => options.onUnload?.(),
				log: (line) => this.#onLog(line),
				...(options.channels === undefined ? {} : { channels: options.channels }),
			});
		}
		const f = (fault: GspRmFault) => this.applyFault(fault);
		this.faults = Object.freeze<GspRmFaultControls>({
			delayReplies: (ns: bigint, count?: number) =>
				f(count === undefined ? { kind: 'delay-replies', ns } : { kind: 'delay-replies', ns, count }),
			dropDoorbells: (count = 1) => f({ kind: 'drop-doorbells', count }),
			corruptNextReplyChecksum: (count = 1) => f({ kind: 'corrupt-checksum', count }),
			skipReplySeqNum: (count = 1) => f({ kind: 'skip-seqnum', count }),
			oversizeNextReply: (count = 1) => f({ kind: 'oversize-element', count }),
			hang: () => f({ kind: 'hang' }),
			unhang: () => f({ kind: 'unhang' }),
			failNextCall: (spec) => f({ kind: 'fail-call', ...spec }),
			clear: () => f({ kind: 'clear' }),
		});
	}

	/** The GSP's phase, as it publishes it. */
	get phase(): GspRmPhase {
		return phaseOf(Atomics.load(this.block, SHARED.PHASE));
	}

	/** The firmware version the GSP was last started with. */
	get firmwareVersion(): GspRmFirmwareVersion | undefined {
		return this.#version;
	}

	/** Log lines the emulator produced (worker lines arrive asynchronously). */
	get log(): readonly string[] {
		return this.#log;
	}

	/** Write `NV_PGSP_QUEUE_HEAD(0)`: what a falcon model forwarding BAR0 0x110c00 calls. */
	ringDoorbell(value = 0): void {
		this.queueRegisters.write32(0, value);
	}

	/**
	 * Start the GSP core: called by the falcon/booter model once the GSP RISC-V core runs, with the LIBOS
	 * argument address from GSP MAILBOX0/1 and the firmware version it loaded.
	 */
	start(args: GspRmStartArgs): void {
		this.#checkOpen();
		this.#version = gspRmAbi(args.firmwareVersion).version;
		if (this.#core !== undefined) {
			this.#core.start(args);
			this.#schedule(this.#o.clock.now() + this.#latency());
			return;
		}
		this.#command({ type: 'start', args });
	}

	/** Reset the GSP (falcon reset): forget everything, disarm faults; `start` may follow. */
	reset(): void {
		this.#checkOpen();
		this.#timer?.cancel();
		this.#timer = undefined;
		if (this.#core !== undefined) this.#core.reset();
		else this.#command({ type: 'reset' });
	}

	/** Arm or disarm a fault (see {@link GspRmFault}). */
	applyFault(fault: GspRmFault): void {
		this.#checkOpen();
		if (this.#core !== undefined) {
			this.#core.applyFault(fault);
			if (fault.kind === 'unhang' || fault.kind === 'clear')
				this.#schedule(this.#o.clock.now() + this.#latency());
		} else this.#command({ type: 'fault', fault });
	}

	/**
	 * Raise event `name` (an `NV_VGPU_MSG_EVENT_*` name of the booted firmware, e.g. `'RC_TRIGGERED'`,
	 * `'MMU_FAULT_QUEUED'`, `'OS_ERROR_LOG'`, `'POST_EVENT'`) with a raw payload or the fields of its struct.
	 * @throws GspRmError `SIM_GSP_RM_UNKNOWN_EVENT` if the booted firmware has no such event,
	 *   `SIM_GSP_RM_STATE` before the status queue exists.
	 */
	raiseEvent(name: string, payload?: GspRmEventPayload): void {
		this.#checkOpen();
		if (this.#core !== undefined) {
			this.#core.raiseEvent(name, payload);
			this.#schedule(this.#o.clock.now());
			return;
		}
		const phase = this.phase;
		if (this.#version === undefined || !['await-system-info', 'sequencer', 'running'].includes(phase)) {
			throw new GspRmError('SIM_GSP_RM_STATE', `the GSP cannot send events while ${phase}`, { phase });
		}
		const bytes = encodeEventPayload(gspRmAbi(this.#version), name, payload);
		this.#command({ type: 'event', name, payload: bytes });
	}

	/**
	 * Worker mode: apply, synchronously and in order, the worker's messages that have not been delivered yet
	 * (channel changes, interrupts, logs). Because the worker posts a channel change before it publishes the reply
	 * of the RPC that made it, a driver that saw the reply finds the change applied after this call. A no-op in
	 * the in-thread modes, where changes are applied while the RPC is handled.
	 */
	syncChannels(): void {
		const port = this.#port;
		if (port === undefined || this.#closed) return;
		for (;;) {
			const m = receiveMessageOnPort(port);
			if (m === undefined) return;
			this.#onWorkerMessage(m.message as WorkerMessage);
		}
	}

	/**
	 * An engine stopped a channel: if RM registered it (its tag says so) and the GSP is running, GSP-RM raises
	 * MMU_FAULT_QUEUED (for MMU faults) and RC_TRIGGERED for it. Other reports are ignored.
	 */
	channelError(report: ChannelErrorReport): void {
		if (this.#closed || this.#workerError !== undefined || !isGspChannelTag(report.tag)) return;
		if (this.phase !== 'running') return;
		if (this.#core !== undefined) {
			if (this.#core.channelError(report)) this.#schedule(this.#o.clock.now());
			return;
		}
		this.#command({ type: 'channel-error', report });
	}

	/**
	 * In-thread modes: let the GSP do all the work there is now (manual mode's only driver).
	 * @throws GspRmError in worker mode.
	 */
	step(): GspRmStepResult {
		this.#checkOpen();
		if (this.#core === undefined) {
			throw new GspRmError(
				'SIM_GSP_RM_STATE',
				'step() is for the in-thread modes; this GSP runs in a worker',
			);
		}
		const r = this.#core.step();
		if (this.mode === 'clock') this.#afterStep(r);
		return r;
	}

	/** In-thread modes: step until nothing changes (at most `maxSteps`); returns the steps taken. */
	runUntilIdle(maxSteps = 1000): number {
		let n = 0;
		while (n < maxSteps) {
			n++;
			if (!this.step().progressed) break;
		}
		return n;
	}

	/** A picture of the emulator's state (object tree, registry, counters, log). */
	async snapshot(): Promise<GspRmSnapshot> {
		this.#checkOpen();
		if (this.#core !== undefined) return this.#core.snapshot();
		const id = ++this.#snapshotId;
		const p = new Promise<GspRmSnapshot>((resolve) => this.#snapshots.set(id, resolve));
		this.#command({ type: 'snapshot', id });
		return p;
	}

	/** In-thread modes: the state, synchronously. @throws GspRmError in worker mode. */
	inspect(): GspRmSnapshot {
		if (this.#core === undefined) {
			throw new GspRmError('SIM_GSP_RM_STATE', 'inspect() is for the in-thread modes; use snapshot()');
		}
		return this.#core.snapshot();
	}

	/** Stop the worker (if any) and timers. Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#timer?.cancel();
		this.#timer = undefined;
		for (const resolve of this.#snapshots.values()) resolve(this.#core?.snapshot() ?? emptySnapshot());
		this.#snapshots.clear();
		const w = this.#worker;
		if (w !== undefined) {
			this.#port?.postMessage({ type: 'stop' } satisfies WorkerCommand);
			wakeGsp(this.block);
			await w.terminate();
			this.#port?.close();
		}
	}

	// ───────────────────────────── internals ─────────────────────────────

	#checkOpen(): void {
		if (this.#closed) throw new GspRmError('SIM_GSP_RM_STATE', 'the simulated GSP-RM has been closed');
		if (this.#workerError !== undefined) {
			throw new GspRmError('SIM_GSP_RM_WORKER', `the GSP worker failed: ${this.#workerError.message}`);
		}
	}

	#latency(): bigint {
		return this.#o.responseLatencyNs ?? 1_000n;
	}

	#onLog(line: string): void {
		this.#log.push(line);
		if (this.#log.length > 1000) this.#log.splice(0, this.#log.length - 1000);
		this.#o.log?.(line);
	}

	#interrupt(): void {
		if (this.#closed) return;
		try {
			this.#o.irq.raise();
		} catch {
			// The simulated GPU was closed under us: the interrupt goes nowhere.
		}
		this.#o.onInterrupt?.();
	}

	#onWake(): void {
		if (this.mode === 'clock' && !this.#closed) this.#schedule(this.#o.clock.now() + this.#latency());
	}

	#afterStep(r: GspRmStepResult): void {
		if (r.wakeAt !== undefined) this.#schedule(r.wakeAt);
		else if (r.pollSoon) this.#schedule(this.#o.clock.now() + 10_000n);
	}

	/** Clock mode: make sure a step runs at `at` (or earlier). */
	#schedule(at: bigint): void {
		if (this.mode !== 'clock' || this.#closed) return;
		if (this.#timer !== undefined && this.#timer.at <= at) return;
		this.#timer?.cancel();
		const run = () => {
			this.#timer = undefined;
			if (!this.#closed) this.step();
		};
		const clock = this.#o.clock;
		if (clock instanceof VirtualClock) {
			const h = clock.at(at, run);
			this.#timer = { at, cancel: () => h.cancel() };
		} else {
			const ms = Number((at - clock.now()) / 1_000_000n);
			const t = ms > 0 ? setTimeout(run, ms) : setImmediate(run);
			this.#timer = {
				at,
				cancel: () => (ms > 0 ? clearTimeout(t as NodeJS.Timeout) : clearImmediate(t as NodeJS.Immediate)),
			};
		}
	}

	#command(cmd: WorkerCommand): void {
		this.#ensureWorker();
		this.#port!.postMessage(cmd);
		Atomics.add(this.block, SHARED.COMMANDS, 1);
		wakeGsp(this.block);
	}

	#ensureWorker(): void {
		if (this.#worker !== undefined) return;
		const { port1, port2 } = new MessageChannel();
		const init: WorkerInit = {
			block: this.block,
			dmaBuffer: this.#o.dma.sharedBuffer,
			busBase: this.#o.dma.busBase,
			chip: this.#o.chip.name,
			vramSize: this.#o.vramSize,
			port: port2,
		};
		const worker = spawnWorker(this.#o.workerUrl, init, [port2]);
		worker.unref();
		port1.unref();
		port1.on('message', (m: WorkerMessage) => this.#onWorkerMessage(m));
		worker.on('error', (e) => {
			this.#workerError = e instanceof Error ? e : new Error(String(e));
			this.#onLog(`GSP worker error: ${this.#workerError.message}`);
		});
		this.#worker = worker;
		this.#port = port1;
	}

	#onWorkerMessage(m: WorkerMessage): void {
		switch (m.type) {
			case 'interrupt':
				this.#interrupt();
				break;
			case 'unloaded':
				this.#o.onUnload?.();
				break;
			case 'log':
				this.#onLog(m.line);
				break;
			case 'channel':
				this.#o.channels?.(m.event);
				break;
			case 'snapshot': {
				const resolve = this.#snapshots.get(m.id);
				this.#snapshots.delete(m.id);
				resolve?.(m.snapshot);
				break;
			}
			case 'error':
				this.#workerError = new Error(m.message);
				this.#onLog(`GSP worker error: ${m.message}`);
				break;
		}
	}
}

function emptySnapshot(): GspRmSnapshot {
	return {
		phase: 'off',
		hung: false,
		firmwareVersion: undefined,
		failure: undefined,
		registry: new Map(),
		systemInfo: undefined,
		objects: [],
		channels: [],
		internalHandles: undefined,
		counters: {
			commands: 0,
			replies: 0,
			events: 0,
			droppedDoorbells: 0,
			protocolErrors: {
				checksum: 0,
				header: 0,
				sequence: 0,
				'element-size': 0,
				continuation: 0,
				'queue-pointer': 0,
			},
		},
		barPdeUpdates: [],
		log: [],
	};
}

/**
 * Start the worker. From sources (`.ts`, tests and `tsx`) the worker is the TypeScript entry loaded through
 * tsx's ESM hooks; from the build it is the bundled `gsp-rm-worker.js` next to the package's entry.
 */
function spawnWorker(url: URL | undefined, init: WorkerInit, transfer: MessagePort[]): Worker {
	if (url !== undefined) return new Worker(url, { workerData: init, transferList: transfer });
	const here = import.meta.url;
	if (here.endsWith('.ts')) {
		const entry = new URL('./worker.ts', here).href;
		const tsx = createRequire(here)
			.resolve('tsx/esm/api')
			.replace(/\.cjs$/, '.mjs');
		const boot = `const { register } = await import(${JSON.stringify(pathToFileURL(tsx).href)}); register(); await import(${JSON.stringify(entry)});`;
		return new Worker(boot, {
			eval: true,
			workerData: init,
			transferList: transfer,
			execArgv: ['--conditions=@gspkit/source'],
		});
	}
	return new Worker(new URL('./gsp-rm-worker.js', here), { workerData: init, transferList: transfer });
}
