/**
 * `@gspkit/mmu`: GPU virtual address spaces with NVIDIA's real page-table formats (MMU v2 for Turing–Ada,
 * MMU v3 for Hopper+), drm_gpuvm split/merge semantics, sparse regions, and a two-phase prepare/commit update
 * whose commit neither fails nor allocates.
 *
 * @module
 */

export * from './allocator.ts';
export * from './backing.ts';
export * from './errors.ts';
export * from './fields.ts';
export * from './formats.ts';
export * from './instance-block.ts';
export * from './interval-list.ts';
export * from './planner.ts';
export * from './rm.ts';
export * from './tlb.ts';
export * from './vaspace.ts';
export * from './walker.ts';
