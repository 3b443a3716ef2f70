/**
 * Worker-thread entry: the GSP test double as a separate processor that shares only the DMA memory, the
 * doorbell word and the interrupt word with the driver (see support/worker.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GspDouble } from './gsp-side.ts';
import { type Branch, manifestAbi } from './support/abi.ts';
import { CTL, type WorkerConfig } from './support/worker.ts';

const cfg = workerData as WorkerConfig;
const ctl = new Int32Array(cfg.ctl);
// A posted wasm memory arrives with its own SharedArrayBuffer object: view that one so the kernel sees it.
const memory = new Uint8Array(cfg.wasmMemory?.buffer ?? cfg.sab, cfg.byteOffset, cfg.length);
// The sink consumes a message at once, so one buffer serves them all.
let sinkBuffer = new Uint8Array(0);
const reuse = (n: number): Uint8Array => {
	if (sinkBuffer.length < n) sinkBuffer = new Uint8Array(n);
	return sinkBuffer;
};
const gsp = new GspDouble({
	abi: manifestAbi(cfg.branch as Branch),
	memory,
	...(cfg.wasmMemory === undefined ? {} : { wasmMemory: cfg.wasmMemory }),
	layout: cfg.layout,
	record: false,
	...(cfg.eventEvery === undefined ? {} : { eventEvery: cfg.eventEvery }),
	...(cfg.sink === undefined
		? {}
		: {
				handlers: new Map([[cfg.sink, () => ({ payload: new Uint8Array(0) })]]),
				lengthHint: (fn: number, _seq: number, head: Uint8Array) =>
					fn === cfg.sink ? new DataView(head.buffer, head.byteOffset).getUint32(0, true) : undefined,
				allocate: reuse,
			}),
	raiseIrq: () => {
		Atomics.store(ctl, CTL.irq, 1);
		Atomics.add(ctl, CTL.irqCount, 1);
		Atomics.notify(ctl, CTL.irq);
	},
});
gsp.boot();
Atomics.store(ctl, CTL.ready, 1);
Atomics.notify(ctl, CTL.ready);
parentPort?.postMessage('ready');

let seen = Atomics.load(ctl, CTL.doorbell);
const spin = cfg.spin ?? 0;
while (Atomics.load(ctl, CTL.stop) === 0) {
	// Poll the doorbell word briefly (a GSP that just answered is likely to get more), then sleep until it
	// rings; while output is stuck waiting for status-queue space, sleep only briefly.
	// Mid-message (continuation records still to come) keep polling: the rest follows within microseconds, and
	// a sleeping GSP costs the driver a futex wake per element.
	const polls = gsp.queue.receiving ? Math.max(spin, 1_000_000) : spin;
	for (let i = 0; i < polls && Atomics.load(ctl, CTL.doorbell) === seen && !gsp.queue.hasIncoming(); i++);
	Atomics.store(ctl, CTL.sleeping, 1); // the driver notifies only sleepers (see support/worker.ts)
	Atomics.wait(ctl, CTL.doorbell, seen, gsp.outboxLength > 0 ? 0.05 : 50);
	Atomics.store(ctl, CTL.sleeping, 0);
	seen = Atomics.load(ctl, CTL.doorbell);
	gsp.step();
}
parentPort?.postMessage('stopped');
