/**
 * `WireMemory`: the user memory of one socket request.
 *
 * The arrays a request carries inline become regions at synthetic addresses far above any real user
 * address (2^48 + i·2^40, so one region can never run into the next); the server rewrites the struct's
 * pointer fields to those addresses before the frontend sees it and restores the client's values
 * afterwards. Anything else the frontend dereferences — a pointer the client left unrewritten, a length
 * past the carried bytes — does not resolve, which the frontend answers with EFAULT as the kernel would.
 *
 * @module
 */

import type { UserMemory } from '@gspkit/drm-frontend';

/** Where region `i` starts. */
export function regionAddress(i: number): bigint {
	return (1n << 48n) + (BigInt(i) << 40n);
}

/** The regions of one request. Region bytes are live: writes land in them and go back in the reply. */
export class WireMemory implements UserMemory {
	readonly #regions: Uint8Array[] = [];

	/** Map `bytes` (not copied) as the next region; returns its address. */
	map(bytes: Uint8Array): bigint {
		this.#regions.push(bytes);
		return regionAddress(this.#regions.length - 1);
	}

	#find(addr: bigint, length: number): { region: Uint8Array; offset: number } | undefined {
		if (!Number.isSafeInteger(length) || length < 0) return undefined;
		const rel = addr - (1n << 48n);
		if (rel < 0n) return undefined;
		const index = Number(rel >> 40n);
		const region = this.#regions[index];
		if (region === undefined) return undefined;
		const offset = Number(rel & ((1n << 40n) - 1n));
		if (offset + length > region.length) return undefined;
		return { region, offset };
	}

	read(addr: bigint, length: number): Uint8Array | undefined {
		const hit = this.#find(addr, length);
		return hit === undefined ? undefined : hit.region.slice(hit.offset, hit.offset + length);
	}

	write(addr: bigint, data: Uint8Array): boolean {
		const hit = this.#find(addr, data.length);
		if (hit === undefined) return false;
		hit.region.set(data, hit.offset);
		return true;
	}
}
