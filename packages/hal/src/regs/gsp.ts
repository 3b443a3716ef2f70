/**
 * GSP engine registers outside the falcon block (NVIDIA `dev_gsp.h`; hardware reference A.1).
 *
 * @module
 */

import { defineRegisterArray } from '../registers.ts';

/** Index of the command queue in {@link NV_PGSP_QUEUE_HEAD} (queue 1 is the status/message queue). */
export const GSP_CMDQ_INDEX = 0;

/**
 * Queue head doorbells, `0x110c00 + 8·i`. The host writes `NV_PGSP_QUEUE_HEAD(0)` after enqueueing an RPC;
 * the value is not interpreted, the write is the signal.
 */
export const NV_PGSP_QUEUE_HEAD = defineRegisterArray({
	name: 'NV_PGSP_QUEUE_HEAD',
	offset: 0x110c00,
	stride: 8,
	length: 8,
	doc: 'GSP queue head / command doorbell (write after enqueueing).',
	fields: { address: { bits: [31, 0] } },
});

/** Queue tails, `0x110c04 + 8·i`. */
export const NV_PGSP_QUEUE_TAIL = defineRegisterArray({
	name: 'NV_PGSP_QUEUE_TAIL',
	offset: 0x110c04,
	stride: 8,
	length: 8,
	doc: 'GSP queue tail.',
	fields: { address: { bits: [31, 0] } },
});
