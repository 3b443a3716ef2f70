/**
 * GPU VA spaces: an `@gspkit/mmu` VA space (page tables built by the CPU, in DMA memory the GPU's MMU reads)
 * promoted to GSP-RM the way nouveau's `r535_mmu_vaspace_new` does it (hardware reference B.6):
 *
 * 1. RM_ALLOC `FERMI_VASPACE_A` under the device (index `GPU_NEW`);
 * 2. reserve RM's 512 MiB at 4 GiB in our page tables (`serverReservedPdes`: the directories from the root down
 *    to PDE1 are allocated and pinned, and the PDE1 entries of that range left to RM);
 * 3. `NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES` with those directories.
 *
 * Layout (defaults): RM's range [4 GiB, 4.5 GiB); the *kernel window* where core places its own mappings
 * (channel rings, pushbuffers, semaphores, {@link DeviceVaSpace.map} without an address) from 4.5 GiB to 64 GiB;
 * together [4 GiB, 64 GiB) is the kernel-managed range of the client split (nouveau VM_INIT). Mappings at an
 * address the caller chooses are client operations and must lie outside it.
 *
 * @module
 */

import type { Chip, DmaBuffer, Platform } from '@gspkit/hal';
import {
	type BackingObject,
	dmaPageTableAllocator,
	type MapAttributes,
	type PageSize,
	type PageTableAllocator,
	type PageTableMemory,
	type ServerReservedPdes,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_START,
	serverReservedPdes,
	type TableRef,
	type Translation,
	VaSpace,
} from '@gspkit/mmu';
import { CoreError } from './errors.ts';

/** What {@link DeviceVaSpace.map} maps: a {@link DeviceMemory}, or any object with mmu backing pages. */
export interface Mappable {
	readonly backing: BackingObject;
	/** Bytes. */
	readonly size: bigint;
	readonly label: string;
	/** A freed object cannot be mapped. */
	readonly freed?: boolean;
}

/** A {@link Mappable} over a DMA buffer (system memory the caller owns). */
export function dmaMappable(buffer: DmaBuffer): Mappable {
	const size = BigInt(Math.ceil(buffer.size / 4096) * 4096);
	return {
		backing: {
			handle: buffer.label,
			aperture: 'sysCoherent',
			extents: [{ address: buffer.busAddress, size }],
		},
		size,
		label: buffer.label,
	};
}

/** Start of the kernel-managed range: RM's reserved range starts it. */
export const KERNEL_RANGE_START = SPLIT_VAS_SERVER_RM_MANAGED_VA_START;
/** Default size of the kernel-managed range (4 GiB … 64 GiB). */
export const DEFAULT_KERNEL_RANGE_SIZE = 60n << 30n;

/** Options of {@link Device.createVaSpace}. */
export interface VaSpaceRequest {
	/** Kernel-managed range; must contain RM's [4 GiB, 4.5 GiB) and end below 2^40. Default [4 GiB, 64 GiB). */
	readonly kernelRange?: { readonly va: bigint; readonly size: bigint };
	/** Name for diagnostics. */
	readonly name?: string;
}

/** Options of {@link DeviceVaSpace.map}. */
export interface MapOptions extends MapAttributes {
	/** Where to map; default: a free spot in the kernel window. An explicit address is a client mapping. */
	readonly va?: bigint;
	/** Byte offset into the memory (default 0). */
	readonly offset?: bigint;
	/** Bytes to map (default the rest of the memory). */
	readonly size?: bigint;
	/** Page size (default: the largest alignment and contiguity allow). */
	readonly pageSize?: PageSize;
}

/** A mapping made by {@link DeviceVaSpace.map}. */
export interface DeviceMapping {
	readonly va: bigint;
	readonly size: bigint;
	readonly memory: Mappable;
	/** Whether core chose the address (kernel window) or the caller did (client range). */
	readonly owner: 'kernel' | 'client';
}

/** First-fit VA allocator over one range. */
class VaAllocator {
	readonly #start: bigint;
	readonly #end: bigint;
	readonly #used: { start: bigint; end: bigint }[] = [];
	constructor(start: bigint, end: bigint) {
		this.#start = start;
		this.#end = end;
	}
	alloc(size: bigint, align: bigint): bigint | undefined {
		let cursor = this.#start;
		for (const u of [...this.#used, { start: this.#end, end: this.#end }]) {
			const at = ((cursor + align - 1n) / align) * align;
			if (at + size <= u.start) {
				this.#used.push({ start: at, end: at + size });
				this.#used.sort((a, b) => (a.start < b.start ? -1 : 1));
				return at;
			}
			if (u.end > cursor) cursor = u.end;
		}
		return undefined;
	}
	free(start: bigint): void {
		const i = this.#used.findIndex((u) => u.start === start);
		if (i >= 0) this.#used.splice(i, 1);
	}
}

/** What a VA space needs from the device (kept narrow so it can be tested alone). */
export interface VaSpaceHost {
	readonly platform: Platform;
	readonly chip: Chip;
	/** RM: allocate the VA space object and send the control; returns the RM handle. */
	promote(pdes: ServerReservedPdes): Promise<number>;
	/** RM: free the VA space object. */
	demote(handle: number): Promise<void>;
	/** Called when the VA space is destroyed. */
	forget(vaSpace: DeviceVaSpace): void;
}

/** Page tables in DMA memory, with every live table remembered so teardown can free the root too. */
function trackedAllocator(
	inner: PageTableAllocator & { trim?: () => void },
): PageTableAllocator & { live: Set<PageTableMemory>; release(): void } {
	const live = new Set<PageTableMemory>();
	return {
		live,
		/** Free every live table and give kept empty slabs back to DMA memory. */
		release() {
			for (const m of [...live]) {
				live.delete(m);
				inner.free(m);
			}
			inner.trim?.();
		},
		alloc(size, align) {
			const m = inner.alloc(size, align);
			live.add(m);
			return m;
		},
		free(m) {
			live.delete(m);
			inner.free(m);
		},
		...(inner.sync === undefined ? {} : { sync: inner.sync.bind(inner) }),
	};
}

/** A GPU VA space, promoted to RM. */
export class DeviceVaSpace {
	/** Name for diagnostics. */
	readonly name: string;
	/** The page tables (`@gspkit/mmu`): `prepare`/`commit` for VM_BIND-style updates. */
	readonly pageTables: VaSpace;
	/** RM's reserved range and the directories handed to RM. */
	readonly serverReserved: ServerReservedPdes;
	/** The kernel-managed range. */
	readonly kernelRange: { readonly va: bigint; readonly size: bigint };
	readonly #host: VaSpaceHost;
	readonly #alloc: ReturnType<typeof trackedAllocator>;
	readonly #kernelVa: VaAllocator;
	readonly #mappings = new Set<DeviceMapping>();
	#handle: number;
	#destroyed = false;

	/** @internal use {@link Device.createVaSpace}. */
	private constructor(
		host: VaSpaceHost,
		name: string,
		pageTables: VaSpace,
		alloc: ReturnType<typeof trackedAllocator>,
		reserved: ServerReservedPdes,
		kernelRange: { va: bigint; size: bigint },
		handle: number,
	) {
		this.#host = host;
		this.name = name;
		this.pageTables = pageTables;
		this.#alloc = alloc;
		this.serverReserved = reserved;
		this.kernelRange = Object.freeze({ ...kernelRange });
		this.#handle = handle;
		// The kernel window starts where RM's range ends (create() checked the range contains RM's).
		this.#kernelVa = new VaAllocator(
			SPLIT_VAS_SERVER_RM_MANAGED_VA_START + SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE,
			kernelRange.va + kernelRange.size,
		);
	}

	/** @internal build the page tables, reserve RM's range and promote. */
	static async create(host: VaSpaceHost, request: VaSpaceRequest = {}): Promise<DeviceVaSpace> {
		const kernelRange = request.kernelRange ?? { va: KERNEL_RANGE_START, size: DEFAULT_KERNEL_RANGE_SIZE };
		const rmEnd = SPLIT_VAS_SERVER_RM_MANAGED_VA_START + SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE;
		if (
			kernelRange.va > SPLIT_VAS_SERVER_RM_MANAGED_VA_START ||
			kernelRange.va + kernelRange.size < rmEnd ||
			kernelRange.va + kernelRange.size > 1n << 40n
		) {
			throw new CoreError(
				'CORE_BAD_ARGUMENT',
				"the kernel-managed range must contain RM's [4 GiB, 4.5 GiB) and end below 2^40 (pushbuffer VA limit)",
				{ details: { va: `0x${kernelRange.va.toString(16)}`, size: `0x${kernelRange.size.toString(16)}` } },
			);
		}
		const alloc = trackedAllocator(dmaPageTableAllocator(host.platform.dma, { label: 'page tables' }));
		const pageTables = new VaSpace({
			format: host.chip,
			platform: host.platform,
			allocator: alloc,
			kernelManaged: kernelRange,
		});
		const freeAll = () => alloc.release();
		let reserved: ServerReservedPdes;
		try {
			reserved = serverReservedPdes(pageTables);
		} catch (e) {
			freeAll();
			throw e;
		}
		let handle: number;
		try {
			handle = await host.promote(reserved);
		} catch (e) {
			freeAll();
			throw e;
		}
		return new DeviceVaSpace(
			host,
			request.name ?? 'vaspace',
			pageTables,
			alloc,
			reserved,
			kernelRange,
			handle,
		);
	}

	/** The RM handle of the `FERMI_VASPACE_A` object. */
	get handle(): number {
		return this.#handle;
	}

	/** The root page directory (what a channel's instance block points at). */
	get pdb(): TableRef {
		return this.pageTables.pdb;
	}

	/** Whether {@link DeviceVaSpace.destroy} ran. */
	get destroyed(): boolean {
		return this.#destroyed;
	}

	/** Live mappings made through {@link DeviceVaSpace.map}. */
	get mappings(): readonly DeviceMapping[] {
		return [...this.#mappings];
	}

	/** @internal after a device reset: RM forgot the object; promote the same page tables again. */
	async _repromote(): Promise<void> {
		this.#handle = await this.#host.promote(this.serverReserved);
	}

	#check(): void {
		if (this.#destroyed) throw new CoreError('CORE_BAD_ARGUMENT', `VA space ${this.name} was destroyed`);
	}

	/**
	 * Map `memory` (or `[offset, offset + size)` of it). Without `va` the address is chosen in the kernel window
	 * (aligned to 2 MiB for objects of 2 MiB or more, else 64 KiB, so large pages can be used).
	 * @throws CoreError `CORE_VA_EXHAUSTED` when the window is full; MmuError for a bad range.
	 */
	map(memory: Mappable, options: MapOptions = {}): DeviceMapping {
		this.#check();
		const offset = options.offset ?? 0n;
		const size = options.size ?? memory.size - offset;
		if (memory.freed === true || offset < 0n || size <= 0n || offset + size > memory.size) {
			throw new CoreError('CORE_BAD_ARGUMENT', `cannot map ${size} bytes at ${offset} of ${memory.label}`, {
				details: { offset: String(offset), size: String(size), memory: String(memory.size) },
			});
		}
		const bytes = ((size + 4095n) / 4096n) * 4096n;
		const owner = options.va === undefined ? 'kernel' : 'client';
		let va = options.va;
		if (va === undefined) {
			va = this.#kernelVa.alloc(bytes, bytes >= 2n << 20n ? 2n << 20n : 64n << 10n);
			if (va === undefined) {
				throw new CoreError('CORE_VA_EXHAUSTED', `the kernel VA window of ${this.name} is full`, {
					details: { size: String(bytes) },
				});
			}
		}
		const { va: _va, offset: _o, size: _s, pageSize, ...attrs } = options;
		try {
			this.pageTables.apply(
				[
					{
						op: 'map',
						va,
						size: bytes,
						object: memory.backing,
						offset,
						...(pageSize === undefined ? {} : { pageSize }),
						...attrs,
					},
				],
				{ owner },
			);
		} catch (e) {
			if (owner === 'kernel') this.#kernelVa.free(va);
			throw e;
		}
		const m: DeviceMapping = Object.freeze({ va, size: bytes, memory, owner });
		this.#mappings.add(m);
		return m;
	}

	/** Undo {@link DeviceVaSpace.map} (idempotent). */
	unmap(mapping: DeviceMapping): void {
		if (!this.#mappings.delete(mapping)) return;
		this.pageTables.apply([{ op: 'unmap', va: mapping.va, size: mapping.size }], { owner: mapping.owner });
		if (mapping.owner === 'kernel') this.#kernelVa.free(mapping.va);
	}

	/** Translate `va` through the page tables in memory (a software walk, for checks and debugging). */
	translate(va: bigint): Translation {
		return this.pageTables.translate(va);
	}

	/**
	 * Free the VA space: unmap what {@link DeviceVaSpace.map} mapped, free the RM object, free every page table.
	 * The caller destroys its channels first. Idempotent.
	 */
	async destroy(): Promise<void> {
		if (this.#destroyed) return;
		this.#destroyed = true;
		this.#host.forget(this);
		let first: unknown;
		try {
			for (const m of [...this.#mappings]) this.unmap(m);
		} catch (e) {
			first ??= e;
		}
		try {
			await this.#host.demote(this.#handle);
		} catch (e) {
			first ??= e;
		}
		// RM no longer walks the tables (its object is gone): free all of them, the root and RM's directories too.
		this.#alloc.release();
		if (first !== undefined) throw first;
	}
}
