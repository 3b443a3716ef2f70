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
import {
	type FormatGeometry,
	type LeafEntry,
	PageWalker,
	type WalkOutcome,
	type WalkStep,
} from './walker.ts';

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

/** Why `access` may not use `page` (privilege first, then read-only, then atomics), if it may not. */
export function denial(page: LeafEntry, access: MmuAccess, privileged: boolean): FaultReason | undefined {
	if (page.privileged && !privileged) return 'privilege';
	if (page.readOnly && access !== 'read') return 'read-only';
	if (page.atomicDisabled && access === 'atomic') return 'atomic';
	return undefined;
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
	#lastKey: { aperture: string; address: bigint; key: string } | undefined;

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
		const privileged = options.privileged ?? false;
		let cursor = va;
		let remaining = length;
		while (remaining > 0) {
			const r = this.#resolve(pdb, cursor);
			if (typeof r === 'string') return { ok: false, fault: makeFault(cursor, access, 'PDB', r), segments };
			const outcome = r.outcome;
			// Only a page the access may use skips #finish (which builds the full record); everything else goes
			// through it, so faults are exactly those of translate().
			const usable = outcome.kind === 'page' && denial(outcome, access, privileged) === undefined;
			if (!usable) {
				const t = this.#finish(outcome, cursor, access, privileged, r.tlbHit);
				if (!t.ok && t.fault.reason !== 'sparse') return { ok: false, fault: t.fault, segments };
			}
			const shift = BigInt(outcome.kind === 'fault' ? 0 : outcome.pageShift);
			const pageEnd = ((cursor >> shift) + 1n) << shift;
			const take = Number(pageEnd - cursor < BigInt(remaining) ? pageEnd - cursor : BigInt(remaining));
			const last = segments[segments.length - 1];
			if (usable) {
				const page = outcome as LeafEntry;
				const pa = page.base + (cursor & ((1n << BigInt(page.pageShift)) - 1n));
				if (
					last !== undefined &&
					!last.sparse &&
					last.aperture === page.aperture &&
					last.peerId === page.peerId &&
					last.pa + BigInt(last.length) === pa
				) {
					segments[segments.length - 1] = { ...last, length: last.length + take };
				} else {
					segments.push({
						sparse: false,
						va: cursor,
						length: take,
						aperture: page.aperture,
						pa,
						...(page.peerId === undefined ? {} : { peerId: page.peerId }),
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

	/**
	 * The page the TLB holds for `va` in `pdb`'s space, as a lookup would return it now, without counting a
	 * hit or walking (`undefined` when not cached, sparse, or the TLB is off). The engines keep such pages per
	 * 4 KiB and reuse them while {@link TranslationCache.generation} is unchanged.
	 */
	cachedPage(pdb: PageDirectoryBase, va: bigint): LeafEntry | undefined {
		if (pdb.aperture === 'invalid') return undefined;
		const leaf = this.tlb.peek(this.#key(pdb.aperture, pdb.address), va);
		return leaf?.kind === 'page' ? leaf : undefined;
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
		const key = this.#key(aperture, pdb.address);
		const cached = this.tlb.lookup(key, va);
		if (cached !== undefined) return { outcome: cached, tlbHit: true };
		const outcome = this.#walker.walk({ aperture, address: pdb.address }, va, this.tlb.pdeCache(key));
		if (outcome.kind !== 'fault') this.tlb.insert(key, va, outcome);
		return { outcome, tlbHit: false };
	}

	/** `pdbKey`, remembering the last one (engines translate in one space at a time). */
	#key(aperture: Exclude<PageDirectoryBase['aperture'], 'invalid'>, address: bigint): string {
		const k = this.#lastKey;
		if (k !== undefined && k.aperture === aperture && k.address === address) return k.key;
		const key = pdbKey(aperture, address);
		this.#lastKey = { aperture, address, key };
		return key;
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
		const denied = denial(outcome, access, privileged);
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
