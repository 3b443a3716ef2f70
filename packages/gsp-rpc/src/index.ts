/**
 * `@gspkit/gsp-rpc`: the GSP-RM message queues (the real shared-memory protocol) and the asynchronous RPC
 * engine, version-neutral. Every layout and message number comes from the firmware ABI handed in at run time
 * ({@link RpcAbi}); this package imports only `@gspkit/hal` and `@gspkit/abi`.
 *
 * @module
 */

export * from './checksum.ts';
export * from './constants.ts';
export * from './engine.ts';
export * from './errors.ts';
export * from './handles.ts';
export * from './nv-status.ts';
export * from './queue.ts';
export * from './region.ts';
export * from './registry.ts';
export * from './rpc-abi.ts';
export * from './sequencer.ts';
