/**
 * Messages between the host side of the simulated GSP-RM and its worker thread. Commands go through a
 * dedicated port the worker drains synchronously (`receiveMessageOnPort`) whenever the shared block's wake
 * word changes, so a worker blocked in `Atomics.wait` still sees them in order.
 *
 * @module
 */

import type { MessagePort } from 'node:worker_threads';
import type { ChannelErrorReport } from '../engines/types.ts';
import type { GspChannelEvent } from './channels.ts';
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
	/** An engine stopped a channel RM registered (becomes RC_TRIGGERED). */
	| { readonly type: 'channel-error'; readonly report: ChannelErrorReport }
	| { readonly type: 'stop' };

/** Worker → host. */
export type WorkerMessage =
	| { readonly type: 'interrupt' }
	| { readonly type: 'unloaded' }
	| { readonly type: 'log'; readonly line: string }
	/** RM changed the host engine's channels; posted before the reply of the RPC that did it is published. */
	| { readonly type: 'channel'; readonly event: GspChannelEvent }
	| { readonly type: 'snapshot'; readonly id: number; readonly snapshot: GspRmSnapshot }
	| { readonly type: 'error'; readonly message: string };

/** How often a worker GSP re-checks the status queue while replies wait for free slots (ms). */
export const WORKER_POLL_MS = 0.05;
