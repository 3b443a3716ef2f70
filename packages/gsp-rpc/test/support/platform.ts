/**
 * A tiny in-test platform: a DMA pool over a SharedArrayBuffer, a BAR0 register map with write hooks, latched
 * interrupt lines, and a clock. No gpu-sim: the GSP side is the test double in ../gsp-side.ts.
 */
import {
	type Bar0,
	type Clock,
	createSharedWasmMemory,
	type DmaAllocOptions,
	type DmaBuffer,
	type DmaMemory,
	type InterruptLine,
	InvalidArgumentError,
	OutOfMemoryError,
	pollUntil,
	type SharedWasmMemory,
	TimeoutError,
	VirtualClock,
} from '@gspkit/hal';
import type { RpcPlatform } from '../../src/index.ts';

/** A first-fit DMA pool over one SharedArrayBuffer. */
export class SabDma implements DmaMemory {
	readonly sab: SharedArrayBuffer;
	/** The shared wasm memory `sab` belongs to (as gpu-sim's pool), when the host has one. */
	readonly wasmMemory: SharedWasmMemory | undefined;
	readonly busBase: bigint;
	#live = new Map<number, DmaBuffer>();
	#next = 0;
	#inUse = 0;

	constructor(size = 4 * 1024 * 1024, busBase = 0x1_0000_0000n) {
		this.wasmMemory = createSharedWasmMemory(size);
		this.sab = this.wasmMemory?.buffer ?? new SharedArrayBuffer(size);
		this.busBase = busBase;
	}

	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		const align = options.align ?? 4096;
		const off = Math.ceil(this.#next / align) * align;
		if (off + size > this.sab.byteLength)
			throw new OutOfMemoryError(`test DMA pool exhausted (${size} bytes)`);
		this.#next = off + size;
		const buf: DmaBuffer = {
			busAddress: this.busBase + BigInt(off),
			size,
			bytes: new Uint8Array(this.sab, off, size),
			view: new DataView(this.sab, off, size),
			label: options.label ?? '',
			...(this.wasmMemory === undefined ? {} : { wasmMemory: this.wasmMemory }),
		};
		if (options.zero !== false) buf.bytes.fill(0);
		this.#live.set(off, buf);
		this.#inUse += size;
		return buf;
	}

	free(buffer: DmaBuffer): void {
		const off = Number(buffer.busAddress - this.busBase);
		if (this.#live.get(off) !== buffer) throw new InvalidArgumentError('not a live buffer of this pool');
		this.#live.delete(off);
		this.#inUse -= buffer.size;
	}

	get bytesInUse(): number {
		return this.#inUse;
	}

	get liveAllocations(): number {
		return this.#live.size;
	}
}

/** BAR0 as a register map; writes can be observed. */
export class TestBar0 implements Bar0 {
	readonly size = 16 * 1024 * 1024;
	readonly regs = new Map<number, number>();
	readonly writes: [number, number][] = [];
	/** Keep every write in {@link TestBar0.writes} (off for benchmarks). */
	record = true;
	#hooks = new Map<number, ((value: number) => void)[]>();
	#readHooks = new Map<number, () => number>();

	read32(offset: number): number {
		const h = this.#readHooks.get(offset);
		if (h !== undefined) return h() >>> 0;
		return (this.regs.get(offset) ?? 0) >>> 0;
	}

	write32(offset: number, value: number): void {
		this.regs.set(offset, value >>> 0);
		if (this.record) this.writes.push([offset, value >>> 0]);
		for (const h of this.#hooks.get(offset) ?? []) h(value >>> 0);
	}

	/** Call `fn` on every write to `offset`. */
	onWrite(offset: number, fn: (value: number) => void): void {
		const list = this.#hooks.get(offset) ?? [];
		list.push(fn);
		this.#hooks.set(offset, list);
	}

	/** Compute reads of `offset` with `fn`. */
	onRead(offset: number, fn: () => number): void {
		this.#readHooks.set(offset, fn);
	}
}

/** A latched interrupt line; waits time out on the clock (virtual time drives itself, like gpu-sim's). */
export class TestIrq implements InterruptLine {
	readonly name: string;
	readonly #clock: Clock;
	#pending = false;
	#raised = 0;
	#wakers = new Set<() => void>();

	constructor(name: string, clock: Clock) {
		this.name = name;
		this.#clock = clock;
	}

	get raiseCount(): number {
		return this.#raised;
	}

	raise(): void {
		this.#raised++;
		this.#pending = true;
		for (const w of [...this.#wakers]) w();
	}

	pending(): boolean {
		return this.#pending;
	}

	acknowledge(): void {
		this.#pending = false;
	}

	async wait(timeoutNs: bigint): Promise<boolean> {
		if (this.#pending) return true;
		if (timeoutNs <= 0n) return false;
		if (this.#clock.kind === 'virtual') {
			const before = this.#raised;
			try {
				await pollUntil(this.#clock, () => this.#raised !== before, Boolean, {
					timeoutNs,
					what: `irq ${this.name}`,
				});
			} catch (e) {
				if (e instanceof TimeoutError) return this.#pending;
				throw e;
			}
			return true;
		}
		return new Promise<boolean>((resolve) => {
			const done = (v: boolean): void => {
				clearTimeout(t);
				this.#wakers.delete(wake);
				resolve(v);
			};
			const wake = (): void => done(true);
			const t = setTimeout(() => done(this.#pending), Math.max(1, Number(timeoutNs / 1_000_000n)));
			this.#wakers.add(wake);
		});
	}
}

/** The pieces of a test platform. */
export interface TestPlatform {
	readonly platform: RpcPlatform;
	readonly dma: SabDma;
	readonly bar0: TestBar0;
	readonly irq: TestIrq;
	readonly clock: Clock;
}

/** A same-thread test platform (virtual clock unless one is given). */
export function testPlatform(clock: Clock = new VirtualClock()): TestPlatform {
	const dma = new SabDma();
	const bar0 = new TestBar0();
	const irq = new TestIrq('gsp', clock);
	const platform: RpcPlatform = {
		bar0,
		dma,
		clock,
		irq(name: string): InterruptLine {
			if (name !== 'gsp') throw new InvalidArgumentError(`no interrupt line ${name}`);
			return irq;
		},
	};
	return { platform, dma, bar0, irq, clock };
}
