export * from './architecture.ts';
export * from './chips.ts';
export * from './clock.ts';
export * from './errors.ts';
export * from './platform.ts';
export * from './registers.ts';
export * from './regs/index.ts';
