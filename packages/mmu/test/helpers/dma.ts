/**
 * Test doubles: a DMA memory backed by SharedArrayBuffers with fake bus addresses, and a page-table
 * allocator wrapper that counts allocations, injects failures and forbids allocation (the commit guard).
 */
import type { DmaAllocOptions, DmaBuffer, DmaMemory } from '@gspkit/hal';
import { OutOfMemoryError } from '@gspkit/hal';
import type { PageTableAllocator, PageTableMemory } from '../../src/index.ts';

/** DMA memory with bump-allocated bus addresses (never reused, so stale pointers are detectable). */
export class TestDma implements DmaMemory {
	#next: bigint;
	readonly #live = new Set<DmaBuffer>();
	#bytes = 0;
	/** Throw on any allocation while set (the "commit does not allocate" guard). */
	forbid = false;
	allocations = 0;

	constructor(base = 0x10_0000_0000n) {
		this.#next = base;
	}

	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		if (this.forbid) throw new Error('DMA allocation while forbidden (inside commit)');
		const align = BigInt(options.align ?? 4096);
		const addr = ((this.#next + align - 1n) / align) * align;
		this.#next = addr + BigInt(size);
		const sab = new SharedArrayBuffer(size);
		const bytes = new Uint8Array(sab);
		const buf: DmaBuffer = {
			busAddress: addr,
			size,
			bytes,
			view: new DataView(sab),
			label: options.label ?? '',
		};
		this.#live.add(buf);
		this.#bytes += size;
		this.allocations++;
		return buf;
	}

	free(buffer: DmaBuffer): void {
		if (!this.#live.delete(buffer)) throw new Error('double or foreign DMA free');
		this.#bytes -= buffer.size;
	}

	get bytesInUse(): number {
		return this.#bytes;
	}

	get liveAllocations(): number {
		return this.#live.size;
	}
}

/** What {@link GuardedAllocator} fills tables with that the VA space asked for without zeroing. */
export const POISON = 0xdeadbeef;

/** Wraps a page-table allocator: counts, can fail the n-th allocation, can forbid allocation. */
export class GuardedAllocator implements PageTableAllocator {
	/** Allocations made so far (successful or not). */
	count = 0;
	/** Fail the allocation whose index (0-based, counted from the last `arm`) equals this. */
	failAt: number | null = null;
	#armedAt = 0;
	forbid = false;
	live = 0;
	syncCalls: { address: bigint; from: number; to: number }[] = [];
	/** Tables handed out unzeroed (and poisoned). */
	poisoned = 0;
	readonly withSync: boolean;

	constructor(
		readonly inner: PageTableAllocator,
		options: { sync?: boolean } = {},
	) {
		this.withSync = options.sync ?? false;
		if (this.withSync) {
			this.sync = (mem: PageTableMemory, from: number, to: number) => {
				this.syncCalls.push({ address: mem.address, from, to });
			};
		}
	}

	sync?: (mem: PageTableMemory, from: number, to: number) => void;

	/** Fail the `n`-th allocation from now (0 = the next one). */
	arm(n: number | null): void {
		this.#armedAt = this.count;
		this.failAt = n;
	}

	/**
	 * When the caller does not need zeroed memory, the table is filled with a poison pattern, so any entry the
	 * VA space fails to write before linking the table shows up as garbage in the walks and dumps.
	 */
	alloc(size: number, align: number, zero?: boolean): PageTableMemory {
		if (this.forbid) throw new Error('page-table allocation while forbidden (inside commit)');
		const idx = this.count - this.#armedAt;
		this.count++;
		if (this.failAt !== null && idx === this.failAt)
			throw new OutOfMemoryError('injected page-table allocation failure');
		const m = this.inner.alloc(size, align, zero);
		if (m.address % BigInt(align) !== 0n) throw new Error(`misaligned table ${m.address} align ${align}`);
		if (zero === false) {
			m.words.fill(POISON, m.wordOffset, m.wordOffset + size / 4);
			this.poisoned++;
		}
		this.live++;
		return m;
	}

	free(memory: PageTableMemory): void {
		this.live--;
		this.inner.free(memory);
	}
}
