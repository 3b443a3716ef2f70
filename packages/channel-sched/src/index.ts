/**
 * `@gspkit/channel-sched`: GPFIFO channels, pushbuffers, dma_fence-style fences and a drm_sched-style
 * scheduler for GSP-era NVIDIA GPUs.
 *
 * Layers, bottom up: `pushbuf` (method headers, host and copy-engine methods, decoder), `gpfifo` (GP entries,
 * USERD, doorbell), `channel` (ring + USERD + kernel-push slots + semaphore timeline), `fence` and
 * `semaphore-fence` (dma_fence contract, non-stall-interrupt processing), `scheduler` (entities, priorities,
 * credits, dependencies, timeouts, cancellation) and `exec` (the scheduler backend for a channel).
 *
 * @module
 */

export * from './bitfields.ts';
export * from './channel.ts';
export * from './classes.ts';
export * from './errors.ts';
export * from './exec.ts';
export * from './fence.ts';
export * from './gpfifo.ts';
export * from './memory.ts';
export * from './pushbuf.ts';
export * from './rm-channel.ts';
export * from './scheduler.ts';
export * from './semaphore-fence.ts';
export * from './signalling.ts';
export * from './timers.ts';
