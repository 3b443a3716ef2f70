/**
 * Messages between the host side of the simulated GSP-RM and its worker thread. Commands go through a
 * dedicated port the worker drains synchronously (`receiveMessageOnPort`) whenever the shared block's wake
 * word changes, so a worker blocked in `Atomics.wait` still sees them in order.
 *
 * @module
 */

import type { MessagePort } from 'node:worker_threads';
import type { GspRmSnapshot, GspRmStartArgs } from './core.ts';
import type { GspRmFault } from './faults.ts';

/** `workerData` of the GSP worker. */
export interface WorkerInit {
	readonly block: Int32Array;
	readonly dmaBuffer: SharedArrayBuffer;
	readonly busBase: bigint;
	/** Simulated chip name (`SimChipName`). */
	readonly chip: string;
	readonly vramSize: bigint;
	/** Host ↔ worker port (commands in, notifications out). */
	readonly port: MessagePort;
}

/** Host → worker. */
export type WorkerCommand =
	| { readonly type: 'start'; readonly args: GspRmStartArgs }
	| { readonly type: 'reset' }
	| { readonly type: 'fault'; readonly fault: GspRmFault }
	| { readonly type: 'event'; readonly name: string; readonly payload: Uint8Array }
	| { readonly type: 'snapshot'; readonly id: number }
	| { readonly type: 'stop' };

/** Worker → host. */
export type WorkerMessage =
	| { readonly type: 'interrupt' }
	| { readonly type: 'unloaded' }
	| { readonly type: 'log'; readonly line: string }
	| { readonly type: 'snapshot'; readonly id: number; readonly snapshot: GspRmSnapshot }
	| { readonly type: 'error'; readonly message: string };

/** How often a worker GSP re-checks the status queue while replies wait for free slots (ms). */
export const WORKER_POLL_MS = 0.05;
