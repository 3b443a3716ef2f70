/**
 * The VM_BIND model: one user-managed GPU VA space per file (nouveau's `uvmm`), its sparse regions and
 * memory-backed mappings, and the bind jobs that apply changes to the page tables.
 *
 * A VM_BIND call is validated and applied to a *copy* of the model; only when every op succeeded and the
 * device has prepared the page-table changes does the copy replace the model — so a failed call leaves
 * the VM exactly as it was. The page tables change later, when the bind job runs (after its in-fences and
 * the previous bind job of the VM), through {@link PreparedVaUpdate.commit}, which cannot fail.
 *
 * Rules (nouveau_uvmm.c, in its order of checks):
 * 1. per op: MAP looks up its GEM handle (ENOENT) and checks `bo_offset`/`range` against the object
 *    (EINVAL); every op needs page-aligned, non-empty `addr`/`range` inside the VA space and outside the
 *    kernel-managed range (EINVAL);
 * 2. per op, against the regions before the call: a sparse MAP may not touch a region, a backed MAP must
 *    be fully inside or fully outside one (ENOSPC);
 * 3. per op, in order: sparse MAP needs an empty range (ENOSPC) not overlapping another region (EEXIST);
 *    sparse UNMAP must match a region exactly and not one already unmapped in this call (ENOENT); MAP into
 *    a region unmapped earlier in the call is EINVAL, straddling a region border ENOSPC; unknown ops EINVAL.
 *
 * A backed MAP replaces whatever it overlaps (splitting partially covered mappings); plain UNMAP may
 * cover any range and splits partial overlaps; unmapping inside a sparse region leaves sparse PTEs; sparse
 * UNMAP removes the region's mappings first.
 *
 * @module
 */

import type { DeviceFence, DeviceVaSpace, PreparedVaUpdate, VaOp } from './device-api.ts';
import { fail, type IoctlResult, succeed } from './errors.ts';
import { DrmFence, STUB_FENCE, whenAllSignalled } from './fence.ts';
import { type GemObject, Resv } from './gem.ts';
import {
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	DRM_NOUVEAU_VM_BIND_SPARSE,
} from './uapi/nouveau.ts';

/** The CPU page size VM_BIND addresses, offsets and ranges must be aligned to. */
export const VM_PAGE_SIZE = 4096n;
/** nouveau's VM_BIND VA space size in bits (`NOUVEAU_VA_SPACE_BITS`). */
export const NOUVEAU_VA_SPACE_BITS = 47;

const U64_MAX = (1n << 64n) - 1n;
const PAGE_MASK = VM_PAGE_SIZE - 1n;

/** A sparse region (`nouveau_uvma_region`). */
export interface VmRegion {
	/** First address of the region. */
	readonly addr: bigint;
	/** Region size in bytes. */
	readonly range: bigint;
}

/** A memory-backed mapping (`nouveau_uvma`). Holds one reference on {@link VmMapping.gem}. */
export interface VmMapping {
	/** First mapped GPU virtual address. */
	readonly addr: bigint;
	/** Mapping size in bytes. */
	readonly range: bigint;
	/** The mapped object. */
	readonly gem: GemObject;
	/** Offset into the object of the first mapped byte. */
	readonly offset: bigint;
	/** PTE kind (bits 0–7 of the MAP op's flags). */
	readonly kind: number;
	/** The sparse region the mapping lies in, if any. */
	readonly region: VmRegion | null;
}

/** One VM_BIND op, decoded. */
export interface BindOp {
	/** `DRM_NOUVEAU_VM_BIND_OP_*` (other values are rejected with EINVAL). */
	readonly op: number;
	/** `DRM_NOUVEAU_VM_BIND_SPARSE` and the PTE kind. */
	readonly flags: number;
	/** GEM handle (MAP only). */
	readonly handle: number;
	/** GPU virtual address. */
	readonly addr: bigint;
	/** Offset into the GEM object (MAP only). */
	readonly boOffset: bigint;
	/** Size in bytes. */
	readonly range: bigint;
}

type OpKind = 'map' | 'unmap' | 'map-sparse' | 'unmap-sparse' | 'invalid';

function opKind(op: BindOp): OpKind {
	const sparse = (op.flags & DRM_NOUVEAU_VM_BIND_SPARSE) !== 0;
	if (op.op === DRM_NOUVEAU_VM_BIND_OP_MAP) return sparse ? 'map-sparse' : 'map';
	if (op.op === DRM_NOUVEAU_VM_BIND_OP_UNMAP) return sparse ? 'unmap-sparse' : 'unmap';
	return 'invalid';
}

const overlaps = (a: bigint, aEnd: bigint, b: bigint, bEnd: bigint): boolean => a < bEnd && b < aEnd;

/** A scratch copy of the model that one VM_BIND call edits. */
class Draft {
	mappings: VmMapping[];
	regions: VmRegion[];
	readonly dirty = new Set<VmRegion>();
	readonly added: VmMapping[] = [];
	readonly removed: VmMapping[] = [];
	readonly ops: VaOp[] = [];

	constructor(mappings: readonly VmMapping[], regions: readonly VmRegion[]) {
		this.mappings = mappings.slice();
		this.regions = regions.slice();
	}

	firstRegion(addr: bigint, end: bigint): VmRegion | undefined {
		return this.regions.find((r) => overlaps(r.addr, r.addr + r.range, addr, end));
	}

	/** Remove `[addr, end)` from every mapping it touches, keeping the remainders; emits unmaps. */
	punch(addr: bigint, end: bigint): void {
		const keep: VmMapping[] = [];
		for (const m of this.mappings) {
			const mEnd = m.addr + m.range;
			if (!overlaps(m.addr, mEnd, addr, end)) {
				keep.push(m);
				continue;
			}
			this.removed.push(m);
			const cutStart = m.addr > addr ? m.addr : addr;
			const cutEnd = mEnd < end ? mEnd : end;
			this.ops.push({ op: 'unmap', addr: cutStart, range: cutEnd - cutStart, toSparse: m.region !== null });
			if (m.addr < addr) {
				const prev: VmMapping = { ...m, range: addr - m.addr };
				keep.push(prev);
				this.added.push(prev);
			}
			if (mEnd > end) {
				const next: VmMapping = { ...m, addr: end, range: mEnd - end, offset: m.offset + (end - m.addr) };
				keep.push(next);
				this.added.push(next);
			}
		}
		keep.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
		this.mappings = keep;
	}

	insert(m: VmMapping): void {
		const i = this.mappings.findIndex((x) => x.addr > m.addr);
		if (i < 0) this.mappings.push(m);
		else this.mappings.splice(i, 0, m);
		this.added.push(m);
	}
}

/** A successfully prepared VM_BIND: its done fence is attached to out-syncs by the caller. */
export interface SubmittedBind {
	/** Signals once the bind job has updated the page tables. */
	readonly done: DeviceFence;
}

/** A user-managed VA space (`nouveau_uvmm`). */
export class Vm {
	/** The device VA space. */
	readonly vaSpace: DeviceVaSpace;
	/** Start of the kernel-managed range. */
	readonly kernelAddr: bigint;
	/** Size of the kernel-managed range. */
	readonly kernelSize: bigint;
	/** End of the VA space (2^47). */
	readonly vaEnd: bigint;
	/** The VM's reservation object, shared by its NO_SHARE objects. */
	readonly resv = new Resv();
	/** Live NO_SHARE objects created in this VM. */
	readonly privateObjects = new Set<GemObject>();
	#mappings: readonly VmMapping[] = [];
	#regions: readonly VmRegion[] = [];
	#lastBind: DeviceFence = STUB_FENCE;
	#torn = false;

	/** A VM over `vaSpace` with the given kernel-managed range. */
	constructor(
		vaSpace: DeviceVaSpace,
		kernelAddr: bigint,
		kernelSize: bigint,
		vaBits = NOUVEAU_VA_SPACE_BITS,
	) {
		this.vaSpace = vaSpace;
		this.kernelAddr = kernelAddr;
		this.kernelSize = kernelSize;
		this.vaEnd = 1n << BigInt(vaBits);
	}

	/** The current mappings, by address (the view as of the last successful bind submission). */
	get mappings(): readonly VmMapping[] {
		return this.#mappings;
	}

	/** The current sparse regions, by address. */
	get regions(): readonly VmRegion[] {
		return this.#regions;
	}

	/** The done fence of the most recently submitted bind job. */
	get lastBind(): DeviceFence {
		return this.#lastBind;
	}

	/** Every object with a mapping in this VM (the extobjs an EXEC fences), plus its NO_SHARE objects. */
	boundObjects(): Set<GemObject> {
		const s = new Set<GemObject>(this.privateObjects);
		for (const m of this.#mappings) s.add(m.gem);
		return s;
	}

	/** `drm_gpuvm_range_valid` plus alignment and non-emptiness. */
	validRange(addr: bigint, range: bigint): boolean {
		if (addr & PAGE_MASK || range & PAGE_MASK || range === 0n) return false;
		if (addr + range > U64_MAX) return false;
		const end = addr + range;
		if (end > this.vaEnd) return false;
		const kEnd = this.kernelAddr + this.kernelSize;
		if (this.kernelSize !== 0n && addr < kEnd && this.kernelAddr < end) return false;
		return true;
	}

	/**
	 * Validate `ops`, apply them to a copy of the model and have the device prepare the page-table
	 * changes; on success install the copy and queue the bind job behind `dependencies` and the previous
	 * bind. `lookup` resolves GEM handles of the calling file. Nothing changes on failure.
	 */
	submit(
		ops: readonly BindOp[],
		lookup: (handle: number) => GemObject | undefined,
		dependencies: readonly DeviceFence[],
	): IoctlResult<SubmittedBind> {
		if (this.#torn) return fail('ENODEV');
		// 1. Per-op argument checks.
		const gems: (GemObject | undefined)[] = [];
		for (const op of ops) {
			let gem: GemObject | undefined;
			if (opKind(op) === 'map') {
				gem = lookup(op.handle);
				if (gem === undefined) return fail('ENOENT');
				if (op.boOffset & PAGE_MASK) return fail('EINVAL');
				if (gem.size <= op.boOffset) return fail('EINVAL');
				if (op.range > gem.size - op.boOffset) return fail('EINVAL');
			}
			if (!this.validRange(op.addr, op.range)) return fail('EINVAL');
			gems.push(gem);
		}
		// 2. Region checks against the regions as they were before this call.
		for (const op of ops) {
			const k = opKind(op);
			if (k !== 'map' && k !== 'map-sparse') continue;
			const end = op.addr + op.range;
			const reg = this.#regions.find((r) => overlaps(r.addr, r.addr + r.range, op.addr, end));
			if (reg === undefined) continue;
			if (k === 'map-sparse') return fail('ENOSPC');
			if (reg.addr > op.addr || reg.addr + reg.range < end) return fail('ENOSPC');
		}
		// 3. Apply in order to a draft.
		const d = new Draft(this.#mappings, this.#regions);
		for (const [i, op] of ops.entries()) {
			const end = op.addr + op.range;
			switch (opKind(op)) {
				case 'map-sparse': {
					if (d.mappings.some((m) => overlaps(m.addr, m.addr + m.range, op.addr, end))) return fail('ENOSPC');
					if (d.firstRegion(op.addr, end) !== undefined) return fail('EEXIST');
					const reg: VmRegion = { addr: op.addr, range: op.range };
					const at = d.regions.findIndex((r) => r.addr > reg.addr);
					if (at < 0) d.regions.push(reg);
					else d.regions.splice(at, 0, reg);
					d.ops.push({ op: 'sparse', addr: op.addr, range: op.range, enable: true });
					break;
				}
				case 'unmap-sparse': {
					const reg = d.regions.find((r) => r.addr === op.addr && r.range === op.range);
					if (reg === undefined || d.dirty.has(reg)) return fail('ENOENT');
					d.punch(op.addr, end);
					d.ops.push({ op: 'sparse', addr: op.addr, range: op.range, enable: false });
					d.dirty.add(reg);
					break;
				}
				case 'map': {
					const reg = d.firstRegion(op.addr, end);
					if (reg !== undefined) {
						if (d.dirty.has(reg)) return fail('EINVAL');
						if (reg.addr > op.addr || reg.addr + reg.range < end) return fail('ENOSPC');
					}
					const gem = gems[i] as GemObject;
					d.punch(op.addr, end);
					const kind = op.flags & 0xff;
					d.insert({ addr: op.addr, range: op.range, gem, offset: op.boOffset, kind, region: reg ?? null });
					d.ops.push({
						op: 'map',
						addr: op.addr,
						range: op.range,
						buffer: gem.buffer,
						bufferOffset: op.boOffset,
						kind,
					});
					break;
				}
				case 'unmap':
					d.punch(op.addr, end);
					break;
				default:
					return fail('EINVAL');
			}
		}
		// 4. Page tables.
		let prepared: PreparedVaUpdate | undefined;
		if (d.ops.length > 0) {
			const p = this.vaSpace.prepare(d.ops);
			if (!p.ok) return p;
			prepared = p.value;
		}
		// Commit the model: nothing below can fail.
		this.#mappings = d.mappings;
		this.#regions = d.regions.filter((r) => !d.dirty.has(r));
		for (const m of d.added) m.gem.get();
		const done = new DrmFence();
		const removed = d.removed;
		const after = [...dependencies, this.#lastBind];
		this.#lastBind = done;
		whenAllSignalled(after, () => {
			prepared?.commit();
			done.signal();
			for (const m of removed) m.gem.put();
		});
		return succeed({ done });
	}

	/**
	 * Tear the VM down (file close): once every bind job ran, unmap everything, drop the mapping
	 * references and destroy the device VA space. `destroyed` is called at the end.
	 */
	teardown(destroy: (vaSpace: DeviceVaSpace) => void): void {
		if (this.#torn) return;
		this.#torn = true;
		whenAllSignalled([this.#lastBind], () => {
			const ops: VaOp[] = [
				...this.#mappings.map((m): VaOp => ({ op: 'unmap', addr: m.addr, range: m.range, toSparse: false })),
				...this.#regions.map((r): VaOp => ({ op: 'sparse', addr: r.addr, range: r.range, enable: false })),
			];
			if (ops.length > 0) {
				const p = this.vaSpace.prepare(ops);
				if (p.ok) p.value.commit();
				else console.warn(`drm-frontend: VA space teardown could not prepare the unmaps (${p.error})`);
			}
			const mappings = this.#mappings;
			this.#mappings = [];
			this.#regions = [];
			for (const m of mappings) m.gem.put();
			destroy(this.vaSpace);
		});
	}
}
