/**
 * Entry point of the GSP worker thread: one {@link GspRmCore} that sleeps on the shared block's wake word
 * and runs whenever the doorbell, a queue register write or a host command wakes it.
 *
 * @module
 */

import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { simChipSpec } from '../chips.ts';
import { GspRmCore } from './core.ts';
import { SharedGspMemory } from './memory.ts';
import { SHARED } from './shared-block.ts';
import {
	WORKER_POLL_MS,
	type WorkerCommand,
	type WorkerInit,
	type WorkerMessage,
} from './worker-protocol.ts';

const init = workerData as WorkerInit;
const { block, port } = init;
const post = (m: WorkerMessage) => port.postMessage(m);

const core = new GspRmCore({
	chip: simChipSpec(init.chip),
	vramSize: init.vramSize,
	memory: new SharedGspMemory(init.dmaBuffer, init.busBase),
	block,
	now: () => process.hrtime.bigint(),
	interrupt: () => post({ type: 'interrupt' }),
	unloaded: () => post({ type: 'unloaded' }),
	log: (line) => post({ type: 'log', line }),
	channels: (event) => post({ type: 'channel', event }),
});

/** Apply every pending host command; `false` once told to stop. */
function drain(): boolean {
	for (;;) {
		const m = receiveMessageOnPort(port);
		if (m === undefined) return true;
		const cmd = m.message as WorkerCommand;
		try {
			switch (cmd.type) {
				case 'start':
					core.start(cmd.args);
					break;
				case 'reset':
					core.reset();
					break;
				case 'fault':
					core.applyFault(cmd.fault);
					break;
				case 'event':
					core.raiseEvent(cmd.name, cmd.payload);
					break;
				case 'channel-error':
					core.channelError(cmd.report);
					break;
				case 'snapshot':
					post({ type: 'snapshot', id: cmd.id, snapshot: core.snapshot() });
					break;
				case 'stop':
					return false;
			}
		} catch (e) {
			post({ type: 'log', line: `GSP worker: ${cmd.type} failed: ${(e as Error).message}` });
		}
	}
}

try {
	for (;;) {
		const wake = Atomics.load(block, SHARED.WAKE);
		if (!drain()) break;
		const r = core.step();
		if (r.progressed) continue;
		let timeoutMs = Number.POSITIVE_INFINITY;
		if (r.pollSoon) timeoutMs = WORKER_POLL_MS;
		if (r.wakeAt !== undefined) {
			const ms = Number(r.wakeAt - process.hrtime.bigint()) / 1e6;
			timeoutMs = Math.min(timeoutMs, Math.max(0, ms));
		}
		Atomics.wait(block, SHARED.WAKE, wake, timeoutMs);
	}
} catch (e) {
	post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
