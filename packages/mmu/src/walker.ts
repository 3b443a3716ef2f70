/**
 * A software page-table walker: GPU virtual address → aperture, physical address and permissions, or a
 * fault (level and reason). It reads tables only through a {@link TableReader} and decodes entries with the
 * generic field decoders, so it checks the VA space's fast encoders rather than sharing them.
 *
 * Walk rules (hardware reference B.2–B.4; nouveau's use of the LPT markers):
 * - a PDE with an INVALID aperture faults, as "sparse" when its sparse bit/PCF is set;
 * - bit 0 set in a PDE1 (v3) or PDE0 slot makes the slot a PTE of that size;
 * - in a dual PDE0 the big (64 KiB) table is consulted first: a valid LPTE maps, a sparse one faults as
 *   sparse, an "ignore small PTEs" one faults; an all-zero LPTE (or no LPT) defers to the small table.
 *
 * @module
 */

import { readEntry } from './fields.ts';
import type {
	DecodedPte,
	LevelName,
	MmuFormatSpec,
	PteAperture,
	TableAperture,
	TableRef,
} from './formats.ts';

/** Returns a table's words (little-endian u32) by physical address, or `undefined` if nothing is there. */
export type TableReader = (address: bigint, aperture: TableAperture) => Uint32Array | undefined;

/** A successful translation. */
export interface MappedTranslation {
	readonly valid: true;
	readonly va: bigint;
	/** Physical address of `va`. */
	readonly address: bigint;
	readonly aperture: PteAperture;
	readonly peerId: number;
	/** Size of the page that maps `va`. */
	readonly pageSize: number;
	/** The level the PTE was found in. */
	readonly level: LevelName;
	readonly readOnly: boolean;
	readonly privileged: boolean;
	readonly volatile: boolean;
	readonly atomicDisable: boolean;
	readonly kind: number;
}

/** Why a walk faulted. */
export type FaultReason = 'invalid' | 'sparse' | 'out-of-range' | 'missing-table';

/** A failed translation. */
export interface FaultTranslation {
	readonly valid: false;
	readonly va: bigint;
	readonly level: LevelName;
	readonly reason: FaultReason;
}

/** Result of {@link translate}. */
export type Translation = MappedTranslation | FaultTranslation;

const MASK64 = (1n << 64n) - 1n;

function mapped(va: bigint, pte: DecodedPte, shift: number, level: LevelName): MappedTranslation {
	const size = 1n << BigInt(shift);
	return {
		valid: true,
		va,
		address: pte.address + (va & (size - 1n)),
		aperture: pte.aperture,
		peerId: pte.peerId,
		pageSize: Number(size),
		level,
		readOnly: pte.readOnly,
		privileged: pte.privileged,
		volatile: pte.volatile,
		atomicDisable: pte.atomicDisable,
		kind: pte.kind,
	};
}

const fault = (va: bigint, level: LevelName, reason: FaultReason): FaultTranslation => ({
	valid: false,
	va,
	level,
	reason,
});

/** Walk the page tables of `format` rooted at `pdb` for `va`. */
export function translate(format: MmuFormatSpec, pdb: TableRef, va: bigint, read: TableReader): Translation {
	const dirs = format.dirs;
	const root = dirs[0];
	if (root === undefined) throw new Error('format without levels');
	if (va < 0n || va >= 1n << BigInt(format.vaBits)) return fault(va, root.name, 'out-of-range');
	let table = read(pdb.address, pdb.aperture);
	for (const L of dirs) {
		if (table === undefined) return fault(va, L.name, 'missing-table');
		const idx = Number((va >> BigInt(L.shift)) & BigInt(L.entries - 1));
		if (L.entrySize === 16) {
			const raw = readEntry(table, idx * 4, 16);
			if ((raw & 1n) === 1n) return mapped(va, format.decodePte(raw & MASK64), L.shift, L.name);
			const dual = format.decodeDualPde(raw);
			if (dual.big.aperture === null && dual.small.aperture === null) {
				return fault(va, L.name, dual.sparse ? 'sparse' : 'invalid');
			}
			if (dual.big.aperture !== null) {
				const lpt = read(dual.big.address, dual.big.aperture);
				if (lpt === undefined) return fault(va, 'LPT', 'missing-table');
				const li = Number((va >> BigInt(format.lpt.shift)) & BigInt(format.lpt.entries - 1));
				const lpte = format.decodePte(readEntry(lpt, li * 2, 8));
				if (lpte.valid) return mapped(va, lpte, format.lpt.shift, 'LPT');
				if (lpte.sparse) return fault(va, 'LPT', 'sparse');
				if (lpte.ignoreSmall) return fault(va, 'LPT', 'invalid');
				if (dual.small.aperture === null) return fault(va, 'LPT', 'invalid');
			}
			const small = dual.small;
			if (small.aperture === null) return fault(va, L.name, 'invalid');
			const spt = read(small.address, small.aperture);
			if (spt === undefined) return fault(va, 'SPT', 'missing-table');
			const si = Number((va >> BigInt(format.spt.shift)) & BigInt(format.spt.entries - 1));
			const spte = format.decodePte(readEntry(spt, si * 2, 8));
			if (spte.valid) return mapped(va, spte, format.spt.shift, 'SPT');
			return fault(va, 'SPT', spte.sparse ? 'sparse' : 'invalid');
		}
		const raw = readEntry(table, idx * 2, 8);
		if ((raw & 1n) === 1n) return mapped(va, format.decodePte(raw), L.shift, L.name);
		const pde = format.decodePde(raw);
		if (pde.aperture === null) return fault(va, L.name, pde.sparse ? 'sparse' : 'invalid');
		table = read(pde.address, pde.aperture);
	}
	throw new Error('format without a PDE0 level');
}
