/**
 * The platform seam: everything hardware-facing goes through a {@link Platform}.
 *
 * `@gspkit/gpu-sim` provides one implementation (a simulated GPU); a future vfio-pci backend
 * would provide another. Nothing above `hal` may assume which one it talks to.
 *
 * @module
 */

/** Synchronous 32-bit register access to BAR0, the GPU's MMIO window. Offsets are byte offsets. */
export interface Bar0 {
	/** Size of the MMIO window in bytes (16 MiB on every supported chip). */
	readonly size: number;
	/** Read the 32-bit register at `offset` (must be 4-byte aligned). Returns an unsigned value. */
	read32(offset: number): number;
	/** Write `value` (taken as unsigned 32-bit) to the register at `offset`. */
	write32(offset: number, value: number): void;
}

/** Options for {@link DmaMemory.alloc}. */
export interface DmaAllocOptions {
	/** Alignment of the bus address in bytes, a power of two; default 4096. */
	readonly align?: number;
	/** Zero the memory before returning it; default `true`. */
	readonly zero?: boolean;
	/** A label shown in diagnostics and leak reports. */
	readonly label?: string;
}

/**
 * A block of coherent system memory the device can read and write.
 * `bytes` and `view` are views on a `SharedArrayBuffer`, so another thread (the device
 * model's processors) can see the same memory.
 */
export interface DmaBuffer {
	/** The address the device uses for the first byte. */
	readonly busAddress: bigint;
	/** Size in bytes. */
	readonly size: number;
	/** The buffer's bytes (a view on shared memory, length = size). */
	readonly bytes: Uint8Array;
	/** A little-endian-capable DataView over the same bytes. */
	readonly view: DataView;
	/** The label given at allocation. */
	readonly label: string;
	/**
	 * The shared `WebAssembly.Memory` whose buffer `bytes` views, when the pool is backed by one. Lets
	 * WebAssembly kernels (checksums, copies) work on the buffer in place; absent for plain shared memory.
	 */
	readonly wasmMemory?: SharedWasmMemory;
}

/**
 * A shared `WebAssembly.Memory`, typed by the one member used here (the ES lib without DOM does not
 * declare WebAssembly). `buffer` is the `SharedArrayBuffer` the DMA views are made from.
 */
export interface SharedWasmMemory {
	readonly buffer: SharedArrayBuffer;
}

/** Coherent DMA memory: allocation with alignment and zeroing, explicit free. */
export interface DmaMemory {
	/** Allocate `size` bytes. Throws a typed out-of-memory error when the pool is exhausted. */
	alloc(size: number, options?: DmaAllocOptions): DmaBuffer;
	/** Return a buffer to the pool. Freeing twice or freeing a foreign buffer is a typed error. */
	free(buffer: DmaBuffer): void;
	/** Bytes currently allocated (for leak checks and accounting). */
	readonly bytesInUse: number;
	/** Number of live allocations. */
	readonly liveAllocations: number;
}

/** A window onto device memory (VRAM) through a PCI BAR (BAR1 for user data, BAR2 for the kernel). */
export interface VramWindow {
	/** Window size in bytes. */
	readonly size: bigint;
	/** Copy `dst.length` bytes starting at `offset` within the window into `dst`. */
	read(offset: bigint, dst: Uint8Array): void;
	/** Copy `src` into the window at `offset`. */
	write(offset: bigint, src: Uint8Array): void;
}

/** PCI configuration space of the function (256 bytes standard + extended space up to 4 KiB). */
export interface PciConfigSpace {
	read8(offset: number): number;
	read16(offset: number): number;
	read32(offset: number): number;
	write8(offset: number, value: number): void;
	write16(offset: number, value: number): void;
	write32(offset: number, value: number): void;
}

/** One interrupt line (MSI vector or legacy line) the driver can wait on. */
export interface InterruptLine {
	/** Name of the source, e.g. `"gsp"` or `"nonstall"`. */
	readonly name: string;
	/**
	 * Resolve when the line has fired since the last acknowledgement, or after `timeoutNs`
	 * (measured on the platform clock). Resolves `true` if it fired, `false` on timeout.
	 */
	wait(timeoutNs: bigint): Promise<boolean>;
	/** Whether the line has fired and not been acknowledged. */
	pending(): boolean;
	/** Acknowledge the interrupt (clears `pending`). */
	acknowledge(): void;
}

/**
 * A clock in nanoseconds. A simulation may use virtual time, where `sleep` advances time and
 * lets the device model run; real hardware uses the monotonic clock.
 */
export interface Clock {
	/** `"virtual"` for simulated time, `"real"` for wall-clock time. */
	readonly kind: 'virtual' | 'real';
	/** Current time in nanoseconds since an arbitrary origin. */
	now(): bigint;
	/** Wait `ns` nanoseconds. */
	sleep(ns: bigint): Promise<void>;
}

/** The PCI identity of the function the platform exposes. */
export interface PciIdentity {
	readonly vendorId: number;
	readonly deviceId: number;
	readonly subsystemVendorId: number;
	readonly subsystemId: number;
	readonly revision: number;
	/** e.g. `"0000:01:00.0"` */
	readonly address: string;
}

/** Everything a driver needs from the machine to drive one GPU function. */
export interface Platform {
	/** A short description, e.g. `"gpu-sim ga102"` or `"vfio-pci 0000:01:00.0"`. */
	readonly description: string;
	readonly pci: PciIdentity;
	readonly bar0: Bar0;
	readonly config: PciConfigSpace;
	readonly dma: DmaMemory;
	/** BAR1 (user VRAM aperture) and BAR2 (kernel/instance-memory aperture). */
	readonly vram: { readonly bar1: VramWindow; readonly bar2: VramWindow };
	/** Interrupt lines by name; unknown names throw a typed error. */
	irq(name: string): InterruptLine;
	readonly clock: Clock;
	/** Release every resource held by the platform. Idempotent. */
	close(): Promise<void>;
}

/** The WebAssembly page size: shared wasm memories grow and are sized in these. */
export const WASM_PAGE_SIZE = 0x1_0000;

/**
 * Allocate a shared `WebAssembly.Memory` of `bytes` (rounded up to whole 64 KiB pages, at most 4 GiB), for a
 * DMA pool that WebAssembly kernels may work on in place. Its `buffer` is a zero-filled `SharedArrayBuffer`
 * that other threads can map like any other. `undefined` when the host has no shared wasm memory.
 */
export function createSharedWasmMemory(bytes: number): SharedWasmMemory | undefined {
	const pages = Math.ceil(bytes / WASM_PAGE_SIZE);
	if (!Number.isSafeInteger(bytes) || bytes <= 0 || pages > 0x1_0000) return undefined;
	const wasm = (
		globalThis as {
			WebAssembly?: {
				Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: unknown };
			};
		}
	).WebAssembly;
	try {
		const memory =
			wasm === undefined ? undefined : new wasm.Memory({ initial: pages, maximum: pages, shared: true });
		return memory !== undefined && memory.buffer instanceof SharedArrayBuffer
			? (memory as SharedWasmMemory)
			: undefined;
	} catch {
		return undefined;
	}
}
