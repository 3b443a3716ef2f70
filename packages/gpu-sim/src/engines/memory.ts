/**
 * How the engines reach memory: a physical port ({@link EngineMemory}) for USERD and the instance block, and a
 * per-channel view that translates every GPU virtual address through the simulated MMU, page by page.
 *
 * @module
 */

import { GspkitError, hex } from '@gspkit/hal';
import type { GpuMmu, MmuAccess, PageAperture, PageDirectoryBase, TableAperture } from '../mmu/index.ts';
import { stop } from './stop.ts';
import type { EngineClient, EngineMemory, EngineName } from './types.ts';

/** The parts of a `SimulatedGpu` {@link simulatedGpuMemory} needs (structural, so tests can pass fakes). */
export interface SimulatedGpuMemorySource {
	readonly fb: { read(offset: bigint, dst: Uint8Array): void; write(offset: bigint, src: Uint8Array): void };
	readonly dma: {
		findAllocation(busAddress: bigint): { readonly busAddress: bigint; readonly size: number } | undefined;
	};
	dmaRead(busAddress: bigint, length: number): Uint8Array;
	dmaWrite(busAddress: bigint, bytes: Uint8Array): void;
}

/**
 * The engines' physical memory over a simulated GPU: VRAM by offset, system memory by bus address through
 * device DMA (so bus mastering must be on, and unbacked addresses fault like an IOMMU would). An access that
 * spans two DMA allocations that happen to be adjacent is split at the allocation boundary, because the IOMMU
 * maps pages, not allocations.
 */
export function simulatedGpuMemory(gpu: SimulatedGpuMemorySource): EngineMemory {
	const sysChunks = (pa: bigint, length: number, fn: (at: bigint, pos: number, len: number) => void) => {
		let pos = 0;
		while (pos < length) {
			const at = pa + BigInt(pos);
			const alloc = gpu.dma.findAllocation(at);
			// No allocation: let the device access itself raise the DMA fault with its own message.
			const room = alloc === undefined ? length - pos : Number(alloc.busAddress + BigInt(alloc.size) - at);
			const len = Math.max(1, Math.min(length - pos, room));
			fn(at, pos, len);
			pos += len;
		}
	};
	return {
		read(aperture, pa, dst) {
			if (aperture === 'video') {
				gpu.fb.read(pa, dst);
				return;
			}
			sysChunks(pa, dst.length, (at, pos, len) => dst.set(gpu.dmaRead(at, len), pos));
		},
		write(aperture, pa, src) {
			if (aperture === 'video') {
				gpu.fb.write(pa, src);
				return;
			}
			sysChunks(pa, src.length, (at, pos, len) => gpu.dmaWrite(at, src.subarray(pos, pos + len)));
		},
	};
}

/**
 * Run a physical access, turning a platform error into a `'memory'` channel error described by `what()` (built
 * only on failure: this is on every access path).
 */
export function physical<T>(engine: EngineName, what: () => string, fn: () => T): T {
	try {
		return fn();
	} catch (e) {
		if (e instanceof GspkitError) {
			return stop({ kind: 'memory', engine, detail: `${what()}: ${e.message}` });
		}
		throw e;
	}
}

/** Options of a {@link ChannelAddressSpace}. */
export interface AddressSpaceOptions {
	readonly mmu: GpuMmu;
	readonly memory: EngineMemory;
	readonly pdb: PageDirectoryBase;
	/** The channel is privileged (may touch PTEs with PRIVILEGE set). */
	readonly privileged: boolean;
	/** What a write to a sparse page does: fault (default) or vanish. Reads of sparse pages return zeros. */
	readonly sparseWrites: 'fault' | 'drop';
}

/**
 * One channel's GPU virtual address space. Every access is translated through the MMU (its TLB included); a
 * fault stops the channel with a `'mmu-fault'` error naming the engine and client.
 */
export class ChannelAddressSpace {
	readonly #o: AddressSpaceOptions;

	constructor(options: AddressSpaceOptions) {
		this.#o = options;
	}

	/** The page directory this space translates through. */
	get pdb(): PageDirectoryBase {
		return this.#o.pdb;
	}

	/** Read `dst.length` bytes at `va`. Sparse pages read as zeros. */
	read(va: bigint, dst: Uint8Array, engine: EngineName, client: EngineClient): void {
		const segments = this.#translate(va, dst.length, 'read', engine, client);
		let pos = 0;
		for (const s of segments) {
			const part = dst.subarray(pos, pos + s.length);
			if (s.sparse) part.fill(0);
			else this.#phys(engine, client, 'read', s.aperture, s.pa, part);
			pos += s.length;
		}
	}

	/** Write `src` at `va` (`access` `'atomic'` for reductions, so ATOMIC_DISABLE pages fault). */
	write(
		va: bigint,
		src: Uint8Array,
		engine: EngineName,
		client: EngineClient,
		access: MmuAccess = 'write',
	): void {
		const segments = this.#translate(va, src.length, access, engine, client);
		let pos = 0;
		for (const s of segments) {
			if (!s.sparse) this.#phys(engine, client, 'write', s.aperture, s.pa, src.subarray(pos, pos + s.length));
			pos += s.length;
		}
	}

	/** Read-modify-write of `length` bytes at `va` as one atomic access (translated once for `'atomic'`). */
	atomic(
		va: bigint,
		length: number,
		engine: EngineName,
		client: EngineClient,
		update: (old: Uint8Array) => Uint8Array,
	): void {
		const segments = this.#translate(va, length, 'atomic', engine, client);
		const old = new Uint8Array(length);
		let pos = 0;
		for (const s of segments) {
			if (!s.sparse) this.#phys(engine, client, 'read', s.aperture, s.pa, old.subarray(pos, pos + s.length));
			pos += s.length;
		}
		const next = update(old);
		pos = 0;
		for (const s of segments) {
			if (!s.sparse)
				this.#phys(engine, client, 'write', s.aperture, s.pa, next.subarray(pos, pos + s.length));
			pos += s.length;
		}
	}

	#translate(
		va: bigint,
		length: number,
		access: MmuAccess,
		engine: EngineName,
		client: EngineClient,
	): readonly Segment[] {
		const r = this.#o.mmu.translateRange(this.#o.pdb, va, length, access, { privileged: this.#o.privileged });
		if (!r.ok) {
			return stop({
				kind: 'mmu-fault',
				engine,
				detail: `${engine} ${client} ${access} at ${hex(r.fault.va, 10)}: ${r.fault.reason} (${r.fault.faultTypeName})`,
				mmuFault: { fault: r.fault, client },
			});
		}
		if (access !== 'read' && this.#o.sparseWrites === 'fault') {
			for (const s of r.segments) {
				if (!s.sparse) continue;
				// Ask the MMU again for the page's own fault record (type, level, entry).
				const t = this.#o.mmu.translate(this.#o.pdb, s.va, access, { privileged: this.#o.privileged });
				if (!t.ok) {
					return stop({
						kind: 'mmu-fault',
						engine,
						detail: `${engine} ${client} ${access} to sparse page at ${hex(s.va, 10)}`,
						mmuFault: { fault: t.fault, client },
					});
				}
			}
		}
		return r.segments as readonly Segment[];
	}

	#phys(
		engine: EngineName,
		client: EngineClient,
		dir: 'read' | 'write',
		aperture: PageAperture,
		pa: bigint,
		bytes: Uint8Array,
	): void {
		if (aperture === 'peer') {
			stop({
				kind: 'memory',
				engine,
				detail: `${engine} ${client} ${dir} at peer address ${hex(pa, 10)}: peer memory is not modelled`,
			});
		}
		const ap = aperture as TableAperture;
		physical(
			engine,
			() => `${engine} ${client} ${dir} at ${ap} ${hex(pa, 10)}`,
			() => (dir === 'read' ? this.#o.memory.read(ap, pa, bytes) : this.#o.memory.write(ap, pa, bytes)),
		);
	}
}

type Segment =
	| {
			readonly sparse: false;
			readonly va: bigint;
			readonly length: number;
			readonly aperture: PageAperture;
			readonly pa: bigint;
	  }
	| { readonly sparse: true; readonly va: bigint; readonly length: number };
