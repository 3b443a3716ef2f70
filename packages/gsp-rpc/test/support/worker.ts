/**
 * A platform whose GSP double runs in a worker_thread: the DMA pool is a SharedArrayBuffer both threads map;
 * the doorbell and the interrupt are words in a small shared control block (Atomics.notify / waitAsync).
 */
import { Worker } from 'node:worker_threads';
import { type InterruptLine, InvalidArgumentError, RealClock, type SharedWasmMemory } from '@gspkit/hal';
import { GSP_DOORBELL, type RegionLayout, type RpcEngine, type RpcPlatform } from '../../src/index.ts';
import { SabDma, TestBar0 } from './platform.ts';

/** Indices in the control block. */
export const CTL = { doorbell: 0, irq: 1, stop: 2, ready: 3, irqCount: 4, sleeping: 5 } as const;

/** What the worker is told. */
export interface WorkerConfig {
	readonly sab: SharedArrayBuffer;
	/** The shared wasm memory behind `sab`, when the pool has one (posted along; `sab` is then its buffer). */
	readonly wasmMemory?: SharedWasmMemory;
	readonly byteOffset: number;
	readonly length: number;
	readonly ctl: SharedArrayBuffer;
	readonly branch: string;
	readonly layout: Pick<RegionLayout, 'cmdqOffset' | 'statqOffset' | 'cmdqSize' | 'statqSize'>;
	readonly eventEvery?: number;
	/** Answer this function with an empty payload; its requests start with their total length (u32). */
	readonly sink?: number;
	/** Doorbell polls before the worker sleeps (default 0). */
	readonly spin?: number;
}

type WaitAsync = (
	a: Int32Array,
	i: number,
	v: number,
	t?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };

/** The driver's view of the GSP interrupt: a shared word the worker sets. */
export class SharedIrq implements InterruptLine {
	readonly name = 'gsp';
	readonly #ctl: Int32Array;
	constructor(ctl: Int32Array) {
		this.#ctl = ctl;
	}
	pending(): boolean {
		return Atomics.load(this.#ctl, CTL.irq) !== 0;
	}
	acknowledge(): void {
		Atomics.store(this.#ctl, CTL.irq, 0);
	}
	async wait(timeoutNs: bigint): Promise<boolean> {
		if (this.pending()) return true;
		const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
		const r = waitAsync(this.#ctl, CTL.irq, 0, Number(timeoutNs) / 1e6);
		if (!r.async) return r.value === 'not-equal' || this.pending();
		return (await r.value) === 'ok' || this.pending();
	}
}

/** A platform plus a way to start the GSP double in a worker once the engine has built the region. */
export interface WorkerPlatform {
	readonly platform: RpcPlatform;
	readonly dma: SabDma;
	readonly ctl: Int32Array;
	/** Start the worker GSP on the engine's region; resolves when it has booted. */
	start(
		rpc: RpcEngine,
		options?: { branch?: string; eventEvery?: number; sink?: number; spin?: number },
	): Promise<Worker>;
	/** Stop the worker. */
	stop(): Promise<void>;
}

/** Spawn a TypeScript worker (tsx registered inside it, package sources resolved). */
export function tsWorker(entry: URL, workerData: unknown): Worker {
	const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
	return new Worker(code, { eval: true, workerData, execArgv: ['--conditions=@gspkit/source'] });
}

export function workerPlatform(): WorkerPlatform {
	const dma = new SabDma();
	const ctl = new Int32Array(new SharedArrayBuffer(64));
	const bar0 = new TestBar0();
	bar0.record = false;
	bar0.onWrite(GSP_DOORBELL, () => {
		Atomics.add(ctl, CTL.doorbell, 1);
		// Wake the worker only if it sleeps (a futex wake is a system call; a real doorbell is one MMIO write).
		if (Atomics.load(ctl, CTL.sleeping) !== 0) Atomics.notify(ctl, CTL.doorbell);
	});
	const irq = new SharedIrq(ctl);
	const platform: RpcPlatform = {
		bar0,
		dma,
		clock: new RealClock(),
		irq(name: string): InterruptLine {
			if (name !== 'gsp') throw new InvalidArgumentError(`no interrupt line ${name}`);
			return irq;
		},
	};
	let worker: Worker | undefined;
	return {
		platform,
		dma,
		ctl,
		async start(rpc, options = {}) {
			const region = rpc.region.bytes;
			const cfg: WorkerConfig = {
				sab: region.buffer as SharedArrayBuffer,
				...(dma.wasmMemory === undefined ? {} : { wasmMemory: dma.wasmMemory }),
				byteOffset: region.byteOffset,
				length: region.length,
				ctl: ctl.buffer as SharedArrayBuffer,
				branch: options.branch ?? 'r535',
				layout: rpc.layout,
				...(options.eventEvery === undefined ? {} : { eventEvery: options.eventEvery }),
				...(options.sink === undefined ? {} : { sink: options.sink }),
				...(options.spin === undefined ? {} : { spin: options.spin }),
			};
			const w = tsWorker(new URL('../gsp-worker.ts', import.meta.url), cfg);
			worker = w;
			await new Promise<void>((resolve, reject) => {
				w.once('message', () => resolve());
				w.once('error', reject);
			});
			return w;
		},
		async stop() {
			Atomics.store(ctl, CTL.stop, 1);
			Atomics.add(ctl, CTL.doorbell, 1);
			Atomics.notify(ctl, CTL.doorbell);
			await worker?.terminate();
		},
	};
}
