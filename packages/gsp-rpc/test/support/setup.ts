/** An engine wired to the GSP test double on a same-thread test platform. */
import { VirtualClock } from '@gspkit/hal';
import { GSP_DOORBELL, RpcEngine, type RpcEngineOptions } from '../../src/index.ts';
import { GspDouble, type GspDoubleOptions } from '../gsp-side.ts';
import { type Branch, manifestAbi } from './abi.ts';
import { type TestPlatform, testPlatform } from './platform.ts';

export interface Setup {
	readonly t: TestPlatform;
	readonly rpc: RpcEngine;
	gsp: GspDouble;
	/** Replace the GSP double (a fresh GSP-RM after a GPU reset). */
	newGsp(options?: Partial<GspDoubleOptions>): GspDouble;
}

export interface SetupOptions {
	readonly branch?: Branch;
	readonly engine?: Partial<RpcEngineOptions>;
	readonly gsp?: Partial<GspDoubleOptions>;
	/** Step the GSP on every doorbell (default true). */
	readonly auto?: boolean;
}

export function setup(options: SetupOptions = {}): Setup {
	const t = testPlatform(new VirtualClock());
	const abi = manifestAbi(options.branch ?? 'r535');
	const rpc = new RpcEngine({ platform: t.platform, abi, onHandlerError: () => {}, ...options.engine });
	const make = (extra: Partial<GspDoubleOptions> = {}): GspDouble =>
		new GspDouble({
			abi,
			memory: rpc.region.bytes,
			layout: rpc.layout,
			raiseIrq: () => t.irq.raise(),
			...options.gsp,
			...extra,
		});
	const s: Setup = {
		t,
		rpc,
		gsp: make(),
		newGsp(extra) {
			s.gsp = make(extra);
			return s.gsp;
		},
	};
	if (options.auto !== false) t.bar0.onWrite(GSP_DOORBELL, () => s.gsp.schedule());
	return s;
}

/** Boot the double and link the engine. */
export async function boot(s: Setup): Promise<void> {
	s.gsp.boot();
	await s.rpc.link();
}

/** One macrotask. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Wait (in macrotasks) until `cond` holds; throws after `max` rounds so a test never hangs. */
export async function until(cond: () => boolean, max = 100_000): Promise<void> {
	for (let i = 0; i < max; i++) {
		if (cond()) return;
		await tick();
	}
	throw new Error('condition never became true');
}

/** Capture a promise's rejection (or fail if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<{ code: string } & Record<string, unknown>> {
	try {
		await p;
	} catch (e) {
		return e as { code: string } & Record<string, unknown>;
	}
	throw new Error('expected a rejection');
}
