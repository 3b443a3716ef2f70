/**
 * `GpuMmu`: the simulated GPU's MMU. Engines translate every GPU virtual address through it; it walks the
 * driver's page tables (through a TLB that only an invalidate empties) and returns either the physical page
 * with its permissions or a fault record with NVIDIA's fault type.
 *
 * @module
 */

import type { Architecture, MmuFormat } from '@gspkit/hal';
import { InvalidArgumentError } from '@gspkit/hal';
import { FAULT_ACCESS_TYPE, FAULT_TYPE, type FaultTypeName } from './fields.ts';
import {
	type InvalidateRecord,
	type InvalidateRegisterOptions,
	type InvalidateScope,
	MmuInvalidateRegisters,
	pdbKey,
	type TlbOptions,
	TranslationCache,
} from './tlb.ts';
import type {
	EntryLocation,
	FaultReason,
	MmuAccess,
	MmuFault,
	MmuLevel,
	PageDirectoryBase,
	PhysicalMemory,
	RangeResult,
	RangeSegment,
	TranslateOptions,
	TranslateResult,
} from './types.ts';
import { type FormatGeometry, PageWalker, type WalkOutcome, type WalkStep } from './walker.ts';

/** Options of {@link GpuMmu}. */
export interface GpuMmuOptions {
	/** Page-table format: `'v2'` (Turing, Ampere, Ada) or `'v3'` (Hopper, Blackwell). */
	readonly format: MmuFormat;
	/** Where tables are read from. */
	readonly memory: PhysicalMemory;
	/**
	 * A PTE in PDE1 maps 512 MiB (Ampere and later; NVIDIA's UVM uses it on GA100+ and GH100). Turing faults
	 * such an entry. Default: `false` for v2, `true` for v3; {@link mmuOptionsForArchitecture} picks per chip.
	 */
	readonly hugePages512M?: boolean;
	/** TLB options. */
	readonly tlb?: TlbOptions;
	/** Options of the invalidate registers (fault injection). */
	readonly invalidate?: InvalidateRegisterOptions;
}

/** The format options of an architecture. */
export function mmuOptionsForArchitecture(architecture: Architecture): {
	readonly format: MmuFormat;
	readonly hugePages512M: boolean;
} {
	switch (architecture) {
		case 'turing':
			return { format: 'v2', hugePages512M: false };
		case 'ampere':
		case 'ada':
			return { format: 'v2', hugePages512M: true };
		case 'hopper':
		case 'blackwell':
			return { format: 'v3', hugePages512M: true };
	}
}

/** The result of {@link GpuMmu.walk}: an uncached walk with every entry it read. */
export interface WalkTrace {
	readonly outcome:
		| WalkOutcome
		| { readonly kind: 'fault'; readonly level: 'PDB'; readonly reason: FaultReason };
	readonly steps: readonly WalkStep[];
}

const FAULT_TYPE_OF: Readonly<Record<Exclude<FaultReason, 'sparse' | 'unreadable-table'>, FaultTypeName>> = {
	'invalid-pde': 'PDE',
	'invalid-pte': 'PTE',
	'read-only': 'RO_VIOLATION',
	privilege: 'PRIV_VIOLATION',
	atomic: 'ATOMIC_VIOLATION',
	'va-out-of-range': 'VA_LIMIT_VIOLATION',
	'bad-aperture': 'UNSUPPORTED_APERTURE',
	'unaligned-table': 'PDE',
	'unaligned-page': 'PTE',
	'unsupported-page-size': 'PDE_SIZE',
	'unsupported-kind': 'UNSUPPORTED_KIND',
	'unsupported-format': 'PDE',
};

function faultTypeName(reason: FaultReason, level: MmuLevel): FaultTypeName {
	// Sparse and unreadable entries have no dedicated type; report them as what the entry was.
	if (reason === 'sparse' || reason === 'unreadable-table') return level === 'PTE' ? 'PTE' : 'PDE';
	return FAULT_TYPE_OF[reason];
}

function makeFault(
	va: bigint,
	access: MmuAccess,
	level: MmuLevel,
	reason: FaultReason,
	extra: { table?: 'big' | 'small'; entry?: EntryLocation; cause?: unknown } = {},
): MmuFault {
	const name = faultTypeName(reason, level);
	return {
		va,
		access,
		level,
		reason,
		faultType: FAULT_TYPE[name],
		faultTypeName: name,
		accessType: FAULT_ACCESS_TYPE[access],
		...(extra.table === undefined ? {} : { table: extra.table }),
		...(extra.entry === undefined ? {} : { entry: extra.entry }),
		...(extra.cause === undefined ? {} : { cause: extra.cause }),
	};
}

const ACCESSES: ReadonlySet<string> = new Set(['read', 'write', 'atomic']);

/**
 * The simulated MMU for one GPU. Page directories are named per call, so one instance serves every channel,
 * BAR and subcontext; the TLB keeps them apart by PDB.
 */
export class GpuMmu {
	readonly format: MmuFormat;
	readonly geometry: FormatGeometry;
	readonly hugePages512M: boolean;
	/** The translation caches (inspect `log` and `stats` in tests). */
	readonly tlb: TranslationCache;
	/** The invalidate registers; attach `registers.devices` to BAR0. */
	readonly registers: MmuInvalidateRegisters;
	readonly #walker: PageWalker;
	readonly #vaLimit: bigint;

	constructor(options: GpuMmuOptions) {
		if (options.format !== 'v2' && options.format !== 'v3') {
			throw new InvalidArgumentError(`unknown MMU format ${String(options.format)}`, {
				format: options.format,
			});
		}
		this.format = options.format;
		this.hugePages512M = options.hugePages512M ?? options.format === 'v3';
		this.#walker = new PageWalker({
			format: options.format,
			memory: options.memory,
			hugePages512M: this.hugePages512M,
		});
		this.geometry = this.#walker.geometry;
		this.#vaLimit = 1n << BigInt(this.geometry.vaBits);
		const pdeShifts: number[] = [];
		for (const l of this.geometry.levels) pdeShifts[l.pdeNumber] = l.lo;
		this.tlb = new TranslationCache(pdeShifts, options.tlb);
		this.registers = new MmuInvalidateRegisters(this.tlb, options.invalidate);
	}

	/**
	 * Translate `va` in the address space rooted at `pdb` for an `access`. Faults are returned, not thrown:
	 * the caller (an engine) decides whether to raise an MMU fault, drop a sparse write or read zeros.
	 */
	translate(
		pdb: PageDirectoryBase,
		va: bigint,
		access: MmuAccess = 'read',
		options: TranslateOptions = {},
	): TranslateResult {
		if (!ACCESSES.has(access)) throw new InvalidArgumentError(`unknown access ${String(access)}`, { access });
		const r = this.#resolve(pdb, va);
		if (typeof r === 'string') return { ok: false, tlbHit: false, fault: makeFault(va, access, 'PDB', r) };
		return this.#finish(r.outcome, va, access, options.privileged ?? false, r.tlbHit);
	}

	/**
	 * Translate `length` bytes from `va`, page by page, merging physically contiguous pages. Sparse pages
	 * become `sparse` segments; any other fault ends the walk and is returned with the segments before it.
	 */
	translateRange(
		pdb: PageDirectoryBase,
		va: bigint,
		length: number,
		access: MmuAccess = 'read',
		options: TranslateOptions = {},
	): RangeResult {
		if (!Number.isSafeInteger(length) || length < 0) {
			throw new InvalidArgumentError(`length must be a non-negative integer, got ${length}`, { length });
		}
		const segments: RangeSegment[] = [];
		let cursor = va;
		let remaining = length;
		while (remaining > 0) {
			const r = this.#resolve(pdb, cursor);
			const t =
				typeof r === 'string'
					? ({ ok: false, tlbHit: false, fault: makeFault(cursor, access, 'PDB', r) } as const)
					: this.#finish(r.outcome, cursor, access, options.privileged ?? false, r.tlbHit);
			if (!t.ok && t.fault.reason !== 'sparse') return { ok: false, fault: t.fault, segments };
			const shift = BigInt(typeof r === 'string' ? 0 : (r.outcome as { pageShift: number }).pageShift);
			const pageEnd = ((cursor >> shift) + 1n) << shift;
			const take = Number(pageEnd - cursor < BigInt(remaining) ? pageEnd - cursor : BigInt(remaining));
			const last = segments[segments.length - 1];
			if (t.ok) {
				if (
					last !== undefined &&
					!last.sparse &&
					last.aperture === t.aperture &&
					last.peerId === t.peerId &&
					last.pa + BigInt(last.length) === t.pa
				) {
					segments[segments.length - 1] = { ...last, length: last.length + take };
				} else {
					segments.push({
						sparse: false,
						va: cursor,
						length: take,
						aperture: t.aperture,
						pa: t.pa,
						...(t.peerId === undefined ? {} : { peerId: t.peerId }),
					});
				}
			} else if (last?.sparse) {
				segments[segments.length - 1] = { ...last, length: last.length + take };
			} else {
				segments.push({ sparse: true, va: cursor, length: take });
			}
			cursor += BigInt(take);
			remaining -= take;
		}
		return { ok: true, segments };
	}

	/** Walk the tables for `va` without the TLB, recording every entry read (diagnostics, tests). */
	walk(pdb: PageDirectoryBase, va: bigint): WalkTrace {
		const early = this.#checkRoot(pdb, va);
		if (early !== undefined) return { outcome: { kind: 'fault', level: 'PDB', reason: early }, steps: [] };
		const steps: WalkStep[] = [];
		const aperture = pdb.aperture as Exclude<PageDirectoryBase['aperture'], 'invalid'>;
		const outcome = this.#walker.walk({ aperture, address: pdb.address }, va, undefined, steps);
		return { outcome, steps };
	}

	/** Drop cached translations (the pushbuffer `MMU_TLB_INVALIDATE` path and tests use this). */
	invalidate(scope: InvalidateScope = {}): InvalidateRecord {
		return this.tlb.invalidate(scope, 'api');
	}

	#checkRoot(pdb: PageDirectoryBase, va: bigint): FaultReason | undefined {
		if (va < 0n || va >= this.#vaLimit) return 'va-out-of-range';
		if (pdb.aperture === 'invalid') return 'bad-aperture';
		if (pdb.useVer2PtFormat === false) return 'unsupported-format';
		if (pdb.bigPageSize !== undefined && pdb.bigPageSize !== 65536) return 'unsupported-page-size';
		if ((pdb.address & 0xfffn) !== 0n || pdb.address < 0n) return 'unaligned-table';
		return undefined;
	}

	/** TLB lookup, else a walk that fills the TLB; a string is a fault found before any table was read. */
	#resolve(pdb: PageDirectoryBase, va: bigint): { outcome: WalkOutcome; tlbHit: boolean } | FaultReason {
		if (typeof va !== 'bigint') throw new InvalidArgumentError('va must be a bigint', { va: String(va) });
		const early = this.#checkRoot(pdb, va);
		if (early !== undefined) return early;
		const aperture = pdb.aperture as Exclude<PageDirectoryBase['aperture'], 'invalid'>;
		const key = pdbKey(aperture, pdb.address);
		const cached = this.tlb.lookup(key, va);
		if (cached !== undefined) return { outcome: cached, tlbHit: true };
		const outcome = this.#walker.walk({ aperture, address: pdb.address }, va, this.tlb.pdeCache(key));
		if (outcome.kind !== 'fault') this.tlb.insert(key, va, outcome);
		return { outcome, tlbHit: false };
	}

	#finish(
		outcome: WalkOutcome,
		va: bigint,
		access: MmuAccess,
		privileged: boolean,
		tlbHit: boolean,
	): TranslateResult {
		if (outcome.kind === 'fault') {
			const extra = {
				...(outcome.table === undefined ? {} : { table: outcome.table }),
				...(outcome.entry === undefined ? {} : { entry: outcome.entry }),
				...(outcome.cause === undefined ? {} : { cause: outcome.cause }),
			};
			return { ok: false, tlbHit, fault: makeFault(va, access, outcome.level, outcome.reason, extra) };
		}
		const extra = {
			...(outcome.table === undefined ? {} : { table: outcome.table }),
			entry: outcome.entry,
		};
		if (outcome.kind === 'sparse') {
			return { ok: false, tlbHit, fault: makeFault(va, access, outcome.level, 'sparse', extra) };
		}
		let denied: FaultReason | undefined;
		if (outcome.privileged && !privileged) denied = 'privilege';
		else if (outcome.readOnly && access !== 'read') denied = 'read-only';
		else if (outcome.atomicDisabled && access === 'atomic') denied = 'atomic';
		if (denied !== undefined) {
			return { ok: false, tlbHit, fault: makeFault(va, access, outcome.level, denied, extra) };
		}
		const offset = va & ((1n << BigInt(outcome.pageShift)) - 1n);
		return {
			ok: true,
			va,
			aperture: outcome.aperture,
			pa: outcome.base + offset,
			pageBase: outcome.base,
			pageSize: 2 ** outcome.pageShift,
			level: outcome.level,
			...(outcome.table === undefined ? {} : { table: outcome.table }),
			kind: outcome.memoryKind,
			readOnly: outcome.readOnly,
			volatile: outcome.volatile,
			privileged: outcome.privileged,
			atomicDisabled: outcome.atomicDisabled,
			...(outcome.peerId === undefined ? {} : { peerId: outcome.peerId }),
			...(outcome.pcf === undefined ? {} : { pcf: outcome.pcf }),
			...(outcome.encrypted === undefined ? {} : { encrypted: outcome.encrypted }),
			pte: outcome.entry.value,
			tlbHit,
		};
	}
}
