export * from './chips.ts';
export * from './errors.ts';
export * from './platform.ts';
