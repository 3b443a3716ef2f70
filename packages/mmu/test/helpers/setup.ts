import {
	type BackingObject,
	type CommitResult,
	dmaPageTableAllocator,
	type PreparedOps,
	type PteAperture,
	type TlbInvalidator,
	VaSpace,
	type VaSpaceOptions,
} from '../../src/index.ts';
import { GuardedAllocator, TestDma } from './dma.ts';

export const KiB = 1024n;
export const MiB = 1024n * KiB;
export const GiB = 1024n * MiB;
export const TiB = 1024n * GiB;

export interface Rig {
	readonly vas: VaSpace;
	readonly dma: TestDma;
	readonly alloc: GuardedAllocator;
	readonly invalidations: { address: bigint; liveTables: number; syncCalls: number }[];
	/** Commit with page-table and DMA allocation forbidden. */
	commit(p: PreparedOps): CommitResult;
	apply(...args: Parameters<VaSpace['prepare']>): CommitResult;
}

export function rig(
	format: 'v2' | 'v3',
	options: { slabBytes?: number; sync?: boolean; vas?: Partial<VaSpaceOptions> } = {},
): Rig {
	const dma = new TestDma();
	const alloc = new GuardedAllocator(
		dmaPageTableAllocator(dma, { slabBytes: options.slabBytes ?? 0, spareSlabs: 0 }),
		{
			sync: options.sync ?? false,
		},
	);
	const invalidations: { address: bigint; liveTables: number; syncCalls: number }[] = [];
	const invalidate: TlbInvalidator = ({ pdb }) => {
		invalidations.push({ address: pdb.address, liveTables: alloc.live, syncCalls: alloc.syncCalls.length });
		return { timedOut: false };
	};
	const vas = new VaSpace({ format, allocator: alloc, invalidate, ...options.vas });
	const commit = (p: PreparedOps): CommitResult => {
		alloc.forbid = true;
		dma.forbid = true;
		try {
			return vas.commit(p);
		} finally {
			alloc.forbid = false;
			dma.forbid = false;
		}
	};
	return {
		vas,
		dma,
		alloc,
		invalidations,
		commit,
		apply: (ops, o) => commit(vas.prepare(ops, o)),
	};
}

/** A physically contiguous object. */
export function contig(
	handle: number,
	address: bigint,
	size: bigint,
	aperture: PteAperture = 'video',
	kind?: number,
): BackingObject {
	return { handle, aperture, extents: [{ address, size }], ...(kind === undefined ? {} : { kind }) };
}

/** An object made of `count` chunks of `chunk` bytes at scattered (but chunk-aligned) addresses. */
export function chunked(
	handle: number,
	base: bigint,
	chunk: bigint,
	count: number,
	aperture: PteAperture = 'sysCoherent',
): BackingObject {
	const extents = [];
	for (let i = 0; i < count; i++)
		extents.push({ address: base + BigInt((i * 7919) % (count * 3)) * chunk, size: chunk });
	return { handle, aperture, extents };
}

/** The physical address of object byte `off` (oracle side). */
export function physOf(obj: BackingObject, off: bigint): bigint {
	let o = off;
	for (const e of obj.extents) {
		if (o < e.size) return e.address + o;
		o -= e.size;
	}
	throw new Error('offset beyond object');
}

/** Whether every byte of every table is zero. */
export function allZero(snapshot: Map<bigint, Uint8Array>): boolean {
	for (const b of snapshot.values()) for (const x of b) if (x !== 0) return false;
	return true;
}

/**
 * A structural dump of a VA space's tables: every entry, with table pointers replaced by the dump of the
 * table they point at (so two spaces with different table addresses compare equal when their content is).
 */
export function dumpTables(vas: import('../../src/index.ts').VaSpace): string {
	const f = vas.format;
	const out: string[] = [];
	const read = (a: bigint) => {
		const w = vas.readTable(a, 'sysCoherent');
		if (w === undefined) throw new Error(`dangling table pointer 0x${a.toString(16)}`);
		return w;
	};
	const leaf = (words: Uint32Array, entries: number, tag: string) => {
		for (let i = 0; i < entries; i++) {
			const lo = words[i * 2] as number;
			const hi = words[i * 2 + 1] as number;
			if (lo !== 0 || hi !== 0) out.push(`${tag}[${i}]=${hi.toString(16)}:${lo.toString(16)}`);
		}
	};
	const dir = (words: Uint32Array, depth: number, tag: string) => {
		const L = f.dirs[depth];
		if (L === undefined) return;
		for (let i = 0; i < L.entries; i++) {
			const t = `${tag}/${L.name}[${i}]`;
			if (L.entrySize === 16) {
				const raw = [0, 1, 2, 3].reduce(
					(acc, k) => acc | (BigInt(words[i * 4 + k] as number) << BigInt(32 * k)),
					0n,
				);
				if (raw === 0n) continue;
				const d = f.decodeDualPde(raw);
				if (d.isPte || (d.big.aperture === null && d.small.aperture === null)) {
					out.push(`${t}=${raw.toString(16)}`);
					continue;
				}
				const stripped = f.encodeDualPde(
					d.big.aperture === null ? null : { address: 0n, aperture: d.big.aperture },
					d.small.aperture === null ? null : { address: 0n, aperture: d.small.aperture },
				);
				out.push(`${t}=dual:${stripped.toString(16)}`);
				if (d.big.aperture !== null) leaf(read(d.big.address), f.lpt.entries, `${t}/LPT`);
				if (d.small.aperture !== null) leaf(read(d.small.address), f.spt.entries, `${t}/SPT`);
				continue;
			}
			const lo = words[i * 2] as number;
			const hi = words[i * 2 + 1] as number;
			if (lo === 0 && hi === 0) continue;
			const raw = BigInt(lo) | (BigInt(hi) << 32n);
			const p = f.decodePde(raw);
			if (p.isPte || p.aperture === null) {
				out.push(`${t}=${raw.toString(16)}`);
				continue;
			}
			out.push(`${t}=pde:${f.encodePde({ address: 0n, aperture: p.aperture }).toString(16)}`);
			dir(read(p.address), depth + 1, t);
		}
	};
	dir(read(vas.pdb.address), 0, '');
	return out.join('\n');
}
