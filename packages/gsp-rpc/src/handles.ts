/**
 * RM object handles, allocated from nouveau-style ranges: each kind of object gets a base whose low 16 bits
 * are an index (nouveau: client `0xc1d00000 | id`, device `0xde1d0000`, subdevice `0x5d1d0000`,
 * VA space `0x90f10000`, channel `0xf1f00000 | chid`, DISP `0x00730000`, THREED `0x97000000`).
 *
 * @module
 */

import { RpcError } from './errors.ts';

/** nouveau's handle bases (`nvkm/subdev/gsp/rm/handles.h` and `r535/client.c`). */
export const NOUVEAU_HANDLE_BASES = Object.freeze({
	client: 0xc1d00000,
	device: 0xde1d0000,
	subdevice: 0x5d1d0000,
	vaspace: 0x90f10000,
	channel: 0xf1f00000,
	disp: 0x00730000,
	threed: 0x97000000,
});

/** A handle range: `base | index` for index in `[0, size)`. */
export interface HandleRange {
	/** Base handle; its low bits covered by `size` must be zero. */
	readonly base: number;
	/** Number of handles (default 0x10000). */
	readonly size?: number;
}

/**
 * Allocates unique 32-bit handles per kind from disjoint ranges; the lowest free index first, so freed
 * handles are reused and ids stay small (channel handles line up with channel ids).
 */
export class HandleAllocator {
	readonly #ranges = new Map<string, { base: number; size: number; used: Set<number> }>();

	/** Start with `ranges` (default: nouveau's bases plus `object` at 0xcaf00000 for everything else). */
	constructor(ranges: Readonly<Record<string, HandleRange>> = HandleAllocator.defaultRanges()) {
		for (const [kind, r] of Object.entries(ranges)) this.addRange(kind, r);
	}

	/** nouveau's bases, each with 0x10000 handles, plus an `object` range 0xcaf00000 (a gspkit choice). */
	static defaultRanges(): Record<string, HandleRange> {
		const out: Record<string, HandleRange> = {};
		for (const [k, base] of Object.entries(NOUVEAU_HANDLE_BASES)) out[k] = { base };
		out.object = { base: 0xcaf00000 };
		return out;
	}

	/** Add a range for a new kind. Ranges must not overlap. */
	addRange(kind: string, range: HandleRange): void {
		const size = range.size ?? 0x10000;
		const base = range.base >>> 0;
		if (this.#ranges.has(kind)) throw this.#err(`handle kind ${kind} already has a range`, { kind });
		if (!Number.isSafeInteger(size) || size < 1 || base + size > 0x1_0000_0000) {
			throw this.#err(`bad handle range for ${kind}`, { kind, base, size });
		}
		for (const [k, r] of this.#ranges) {
			if (base < r.base + r.size && r.base < base + size) {
				throw this.#err(`handle range ${kind} overlaps ${k}`, { kind, other: k });
			}
		}
		this.#ranges.set(kind, { base, size, used: new Set() });
	}

	/** Allocate the lowest free handle of `kind`. */
	alloc(kind: string): number {
		const r = this.#range(kind);
		for (let i = 0; i < r.size; i++) {
			if (!r.used.has(i)) {
				r.used.add(i);
				return (r.base + i) >>> 0;
			}
		}
		throw new RpcError('RPC_HANDLES', `no free ${kind} handle (${r.size} in use)`, {
			errno: 'ENOSPC',
			details: { kind },
		});
	}

	/** Allocate a specific index of `kind` (e.g. a channel handle for channel id `chid`). */
	allocAt(kind: string, index: number): number {
		const r = this.#range(kind);
		if (!Number.isSafeInteger(index) || index < 0 || index >= r.size) {
			throw this.#err(`${kind} index ${index} outside its range`, { kind, index });
		}
		if (r.used.has(index)) {
			throw new RpcError('RPC_HANDLES', `${kind} handle ${index} is in use`, {
				errno: 'EEXIST',
				details: { kind, index },
			});
		}
		r.used.add(index);
		return (r.base + index) >>> 0;
	}

	/** Release a handle. Freeing one that is not allocated is `RPC_HANDLES`. */
	free(handle: number): void {
		const h = handle >>> 0;
		for (const r of this.#ranges.values()) {
			if (h >= r.base && h < r.base + r.size && r.used.delete(h - r.base)) return;
		}
		throw this.#err(`handle 0x${h.toString(16)} is not allocated`, { handle: h });
	}

	/** Whether `handle` is currently allocated. */
	has(handle: number): boolean {
		const h = handle >>> 0;
		for (const r of this.#ranges.values())
			if (h >= r.base && h < r.base + r.size) return r.used.has(h - r.base);
		return false;
	}

	/** The kind a handle belongs to, if it is in a range. */
	kindOf(handle: number): string | undefined {
		const h = handle >>> 0;
		for (const [k, r] of this.#ranges) if (h >= r.base && h < r.base + r.size) return k;
		return undefined;
	}

	/** Release every handle (after the GPU was reset and RM forgot its objects). */
	clear(): void {
		for (const r of this.#ranges.values()) r.used.clear();
	}

	#range(kind: string): { base: number; size: number; used: Set<number> } {
		const r = this.#ranges.get(kind);
		if (r === undefined)
			throw this.#err(`no handle range for ${kind}`, { kind, kinds: [...this.#ranges.keys()] });
		return r;
	}

	#err(message: string, details: Readonly<Record<string, unknown>>): RpcError {
		return new RpcError('RPC_HANDLES', message, { errno: 'EINVAL', details });
	}
}
