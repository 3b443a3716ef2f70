/**
 * Fault injection for the GSP-RM emulator: deterministic, counted faults that apply to the next doorbells,
 * replies or calls, so a driver's recovery paths can be tested exactly.
 *
 * @module
 */

import type { OutboundFaults } from './transport.ts';

/** One fault to arm. Counts default to 1 (the next occurrence). */
export type GspRmFault =
	/** Hold replies `ns` nanoseconds (on the GSP's clock) before writing them; `count` replies, default all. */
	| { readonly kind: 'delay-replies'; readonly ns: bigint; readonly count?: number }
	/** Ignore the next `count` doorbells: queued commands wait for a later doorbell. */
	| { readonly kind: 'drop-doorbells'; readonly count?: number }
	/** Flip bit 0 of the checksum of the next `count` replies. */
	| { readonly kind: 'corrupt-checksum'; readonly count?: number }
	/** Skip one element `seqNum` before each of the next `count` replies (the counter jumps ahead by one). */
	| { readonly kind: 'skip-seqnum'; readonly count?: number }
	/** Pad the next `count` replies to a 17-page element (more than the 16-page maximum). */
	| { readonly kind: 'oversize-element'; readonly count?: number }
	/** Stop responding: no doorbell, reply or event is processed until `unhang` or a reset. */
	| { readonly kind: 'hang' }
	| { readonly kind: 'unhang' }
	/**
	 * Fail the next `count` calls of `function` (name or ID) — restricted to one control `cmd` or alloc
	 * `hClass` if given — with `status`: in the payload `status` of RM_ALLOC/RM_CONTROL/FREE (as RM failures
	 * are reported), in `rpc_result` for other functions.
	 */
	| {
			readonly kind: 'fail-call';
			readonly function: string | number;
			readonly cmd?: number;
			readonly hClass?: number;
			readonly status: number;
			readonly count?: number;
	  }
	/** Disarm everything (and un-hang). */
	| { readonly kind: 'clear' };

interface Failure {
	readonly fn: string | number;
	readonly cmd: number | undefined;
	readonly hClass: number | undefined;
	readonly status: number;
	left: number;
}

/** Faults applied to one reply (decided when the reply is queued). */
export interface ReplyFaults extends OutboundFaults {
	readonly delayNs: bigint;
}

/** The armed faults of one GSP. */
export class FaultState {
	#delayNs = 0n;
	#delayLeft = 0;
	#dropDoorbells = 0;
	#corrupt = 0;
	#skip = 0;
	#oversize = 0;
	hung = false;
	#failures: Failure[] = [];

	/** Arm (or disarm) a fault. */
	apply(f: GspRmFault): void {
		const n = (c: number | undefined) => {
			const v = c ?? 1;
			if (!Number.isInteger(v) || v < 0)
				throw new RangeError(`fault count ${v} must be a non-negative integer`);
			return v;
		};
		switch (f.kind) {
			case 'delay-replies':
				if (typeof f.ns !== 'bigint' || f.ns < 0n)
					throw new RangeError('delay must be a non-negative bigint (ns)');
				this.#delayNs = f.ns;
				this.#delayLeft = f.count === undefined ? Number.POSITIVE_INFINITY : n(f.count);
				break;
			case 'drop-doorbells':
				this.#dropDoorbells += n(f.count);
				break;
			case 'corrupt-checksum':
				this.#corrupt += n(f.count);
				break;
			case 'skip-seqnum':
				this.#skip += n(f.count);
				break;
			case 'oversize-element':
				this.#oversize += n(f.count);
				break;
			case 'hang':
				this.hung = true;
				break;
			case 'unhang':
				this.hung = false;
				break;
			case 'fail-call':
				this.#failures.push({
					fn: f.function,
					cmd: f.cmd,
					hClass: f.hClass,
					status: f.status >>> 0,
					left: n(f.count),
				});
				break;
			case 'clear':
				this.#delayNs = 0n;
				this.#delayLeft = 0;
				this.#dropDoorbells = 0;
				this.#corrupt = 0;
				this.#skip = 0;
				this.#oversize = 0;
				this.hung = false;
				this.#failures = [];
				break;
		}
	}

	/** Whether the next doorbell must be ignored (consumes one). */
	takeDoorbellDrop(): boolean {
		if (this.#dropDoorbells === 0) return false;
		this.#dropDoorbells--;
		return true;
	}

	/** The faults of the next reply (consumes them). */
	takeReplyFaults(): ReplyFaults {
		const delayNs = this.#delayLeft > 0 ? this.#delayNs : 0n;
		if (this.#delayLeft > 0) this.#delayLeft--;
		const corruptChecksum = this.#corrupt > 0;
		if (corruptChecksum) this.#corrupt--;
		const skipSeqNum = this.#skip > 0;
		if (skipSeqNum) this.#skip--;
		const oversize = this.#oversize > 0;
		if (oversize) this.#oversize--;
		return { delayNs, corruptChecksum, skipSeqNum, oversize };
	}

	/**
	 * The status to fail a call with, if a `fail-call` fault matches (consumes one). `names` are the
	 * function's names/IDs the fault may use.
	 */
	takeFailure(fn: number, fnName: string | undefined, cmd?: number, hClass?: number): number | undefined {
		const i = this.#failures.findIndex(
			(f) =>
				f.left > 0 &&
				(f.fn === fn || f.fn === fnName) &&
				(f.cmd === undefined || f.cmd === cmd) &&
				(f.hClass === undefined || f.hClass === hClass),
		);
		if (i < 0) return undefined;
		const f = this.#failures[i]!;
		f.left--;
		if (f.left === 0) this.#failures.splice(i, 1);
		return f.status;
	}
}
