/**
 * The internal signal that unwinds a channel's work when it must enter the error state. It never leaves the
 * engines: the host engine catches it, records the report and stops the channel.
 *
 * @internal
 * @module
 */

import type { MmuFault } from '../mmu/index.ts';
import type { ChannelErrorKind, EngineClient, EngineName, FailedMethod } from './types.ts';

/** What a stop carries before the host adds the channel identity and the time. */
export interface StopInfo {
	readonly kind: ChannelErrorKind;
	readonly engine: EngineName;
	readonly detail: string;
	readonly mmuFault?: { readonly fault: MmuFault; readonly client: EngineClient };
	readonly method?: FailedMethod;
	readonly pbEntry?: number;
	readonly gpEntry?: { readonly index: number; readonly entry0: number; readonly entry1: number };
}

/** Thrown inside an engine to stop the current channel. */
export class EngineStop extends Error {
	readonly info: StopInfo;

	constructor(info: StopInfo) {
		super(info.detail);
		this.name = 'EngineStop';
		this.info = info;
	}
}

/** Throw an {@link EngineStop}. */
export function stop(info: StopInfo): never {
	throw new EngineStop(info);
}
