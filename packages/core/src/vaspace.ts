/**
 * GPU VA spaces: an `@gspkit/mmu` VA space (page tables built by the CPU, in DMA memory the GPU's MMU reads)
 * promoted to GSP-RM the way nouveau's `r535_mmu_vaspace_new` does it (hardware reference B.6). Two kinds:
 *
 * **RM-managed split** (the default, nouveau's `external = false`, used for its kernel VMMs):
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
 * **Externally owned** (`externallyOwned: true`, nouveau's `external = true`, which `r535_mmu_promote_vmm` uses
 * for every user VMM): FERMI_VASPACE_A with `NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED` (RM then keeps no
 * split and reserves no VA), then `NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY` naming our root directory; the
 * teardown UNSETs it first. Nothing is reserved for RM, so the kernel-managed range can be anywhere the client
 * puts it (NVK: `{1 << 39, 1 << 39}`), and the kernel window is that range itself, clipped to the 40-bit
 * pushbuffer VA limit (and kept off the first 64 KiB).
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

/** GPFIFO rings and pushbuffers are fetched with 40-bit VAs (reference C.1): the kernel window ends there. */
const PUSHBUFFER_VA_LIMIT = 1n << 40n;
/** The kernel window of an externally owned VA space starts no lower than this (keeps VA 0 unmapped). */
const KERNEL_WINDOW_FLOOR = 64n << 10n;
const PAGE = 4096n;
const pageDown = (v: bigint): bigint => (v / PAGE) * PAGE;
const pageUp = (v: bigint): bigint => ((v + PAGE - 1n) / PAGE) * PAGE;

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
	/**
	 * Kernel-managed range (nouveau VM_INIT's `kernel_managed_addr/size`); default [4 GiB, 64 GiB). For an
	 * RM-managed split it must contain RM's [4 GiB, 4.5 GiB) and end below 2^40. For an externally owned VA space
	 * it may be any range inside the VA (even empty: core then has no room for channel mappings).
	 */
	readonly kernelRange?: { readonly va: bigint; readonly size: bigint };
	/**
	 * The page tables are the caller's client VA space (nouveau's user VMMs): RM is told only the root
	 * (`IS_EXTERNALLY_OWNED` + SET_PAGE_DIRECTORY) and reserves nothing, so the whole VA outside `kernelRange` is
	 * the client's. Default `false` (RM-managed split with COPY_SERVER_RESERVED_PDES).
	 */
	readonly externallyOwned?: boolean;
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

/** How a VA space is made known to RM. */
export type VaSpacePromotion =
	| {
			/** RM-managed split: COPY_SERVER_RESERVED_PDES with these directories. */
			readonly kind: 'server-reserved';
			readonly pdes: ServerReservedPdes;
	  }
	| {
			/** Externally owned: IS_EXTERNALLY_OWNED, then SET_PAGE_DIRECTORY with this root. */
			readonly kind: 'external';
			readonly root: TableRef;
			/** Entries of the root directory. */
			readonly rootEntries: number;
	  };

/** What a VA space needs from the device (kept narrow so it can be tested alone). */
export interface VaSpaceHost {
	readonly platform: Platform;
	readonly chip: Chip;
	/** RM: allocate the VA space object and send the control(s) `how` needs; returns the RM handle. */
	promote(how: VaSpacePromotion): Promise<number>;
	/** RM: free the VA space object (UNSET_PAGE_DIRECTORY first when it is externally owned). */
	demote(handle: number, externallyOwned: boolean): Promise<void>;
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
		alloc(size, align, zero) {
			// Pass `zero` through: tables the VA space fully writes before linking need no zeroing.
			const m = inner.alloc(size, align, zero);
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
	/** Whether RM knows this VA space as externally owned (see {@link VaSpaceRequest.externallyOwned}). */
	readonly externallyOwned: boolean;
	/** The kernel-managed range, as requested. */
	readonly kernelRange: { readonly va: bigint; readonly size: bigint };
	/** Where core places its own mappings: part of {@link DeviceVaSpace.kernelRange} (`size` 0: no room). */
	readonly kernelWindow: { readonly va: bigint; readonly size: bigint };
	readonly #host: VaSpaceHost;
	readonly #alloc: ReturnType<typeof trackedAllocator>;
	readonly #promotion: VaSpacePromotion;
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
		promotion: VaSpacePromotion,
		kernelRange: { va: bigint; size: bigint },
		window: { va: bigint; size: bigint },
		handle: number,
	) {
		this.#host = host;
		this.name = name;
		this.pageTables = pageTables;
		this.#alloc = alloc;
		this.#promotion = promotion;
		this.externallyOwned = promotion.kind === 'external';
		this.kernelRange = Object.freeze({ ...kernelRange });
		this.kernelWindow = Object.freeze({ ...window });
		this.#handle = handle;
		this.#kernelVa = new VaAllocator(window.va, window.va + window.size);
	}

	/** @internal build the page tables, reserve RM's range (RM-managed split) and promote. */
	static async create(host: VaSpaceHost, request: VaSpaceRequest = {}): Promise<DeviceVaSpace> {
		const kernelRange = request.kernelRange ?? { va: KERNEL_RANGE_START, size: DEFAULT_KERNEL_RANGE_SIZE };
		const external = request.externallyOwned === true;
		const badRange = (why: string): CoreError =>
			new CoreError('CORE_BAD_ARGUMENT', why, {
				details: { va: `0x${kernelRange.va.toString(16)}`, size: `0x${kernelRange.size.toString(16)}` },
			});
		const alloc = trackedAllocator(dmaPageTableAllocator(host.platform.dma, { label: 'page tables' }));
		const freeAll = () => alloc.release();
		let pageTables: VaSpace;
		let promotion: VaSpacePromotion;
		let window: { va: bigint; size: bigint };
		try {
			if (external) {
				const end = kernelRange.va + kernelRange.size;
				pageTables = new VaSpace({ format: host.chip, platform: host.platform, allocator: alloc });
				if (kernelRange.va < 0n || kernelRange.size < 0n || end > pageTables.vaLimit) {
					throw badRange('the kernel-managed range must lie inside the VA space');
				}
				// Client binds must stay off every page the range touches; core's own mappings use whole pages in it.
				const lo = pageDown(kernelRange.va);
				pageTables.initClientSplit({ va: lo, size: pageUp(end) - lo });
				const wLo =
					pageUp(kernelRange.va) > KERNEL_WINDOW_FLOOR ? pageUp(kernelRange.va) : KERNEL_WINDOW_FLOOR;
				const wHi = pageDown(end) < PUSHBUFFER_VA_LIMIT ? pageDown(end) : PUSHBUFFER_VA_LIMIT;
				window = { va: wLo, size: wHi > wLo ? wHi - wLo : 0n };
				promotion = {
					kind: 'external',
					root: pageTables.pdb,
					rootEntries: pageTables.format.dirs[0]?.entries ?? 0,
				};
			} else {
				const rmEnd = SPLIT_VAS_SERVER_RM_MANAGED_VA_START + SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE;
				if (
					kernelRange.va > SPLIT_VAS_SERVER_RM_MANAGED_VA_START ||
					kernelRange.va + kernelRange.size < rmEnd ||
					kernelRange.va + kernelRange.size > PUSHBUFFER_VA_LIMIT
				) {
					throw badRange(
						"the kernel-managed range must contain RM's [4 GiB, 4.5 GiB) and end below 2^40 (pushbuffer VA limit)",
					);
				}
				pageTables = new VaSpace({
					format: host.chip,
					platform: host.platform,
					allocator: alloc,
					kernelManaged: kernelRange,
				});
				promotion = { kind: 'server-reserved', pdes: serverReservedPdes(pageTables) };
				// The kernel window starts where RM's range ends (checked above: the range contains RM's).
				window = { va: rmEnd, size: kernelRange.va + kernelRange.size - rmEnd };
			}
		} catch (e) {
			freeAll();
			throw e;
		}
		let handle: number;
		try {
			handle = await host.promote(promotion);
		} catch (e) {
			freeAll();
			throw e;
		}
		return new DeviceVaSpace(
			host,
			request.name ?? 'vaspace',
			pageTables,
			alloc,
			promotion,
			kernelRange,
			window,
			handle,
		);
	}

	/**
	 * RM's reserved range and the directories handed to RM (RM-managed split).
	 * @throws CoreError `CORE_BAD_ARGUMENT` for an externally owned VA space: RM reserves nothing in it.
	 */
	get serverReserved(): ServerReservedPdes {
		if (this.#promotion.kind !== 'server-reserved') {
			throw new CoreError(
				'CORE_BAD_ARGUMENT',
				`VA space ${this.name} is externally owned: RM reserved no range in it`,
			);
		}
		return this.#promotion.pdes;
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
		this.#handle = await this.#host.promote(this.#promotion);
	}

	#check(): void {
		if (this.#destroyed) throw new CoreError('CORE_BAD_ARGUMENT', `VA space ${this.name} was destroyed`);
	}

	/**
	 * Map `memory` (or `[offset, offset + size)` of it). Without `va` the address is chosen in the kernel window
	 * (aligned to 2 MiB for objects of 2 MiB or more, else 64 KiB, so large pages can be used).
	 * @throws CoreError `CORE_VA_EXHAUSTED` when the window is full (or empty); MmuError for a bad range.
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
			await this.#host.demote(this.#handle, this.externallyOwned);
		} catch (e) {
			first ??= e;
		}
		// RM no longer walks the tables (its object is gone): free all of them, the root and RM's directories too.
		this.#alloc.release();
		if (first !== undefined) throw first;
	}
}
