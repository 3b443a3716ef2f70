/**
 * A channel's address space remembers the pages it used (per 4 KiB, while the TLB is unchanged) so that the
 * engines do not translate every access in full. These tests hold it to what a full translation of every access
 * does: the same bytes, the same faults, the same TLB counters, staleness until an invalidate and no longer.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EngineMemory } from '../src/engines/index.ts';
import { ChannelAddressSpace } from '../src/engines/index.ts';
import { EngineStop } from '../src/engines/stop.ts';
import { GpuMmu, type MmuAccess, type PageDirectoryBase, type TableAperture } from '../src/mmu/index.ts';
import { FakeMemory, type PageSpec, TestPageTables, v2SparsePte } from './mmu-testkit.ts';

/** Byte-addressed data memory per aperture (4 KiB pages, zero until written). */
class ByteMemory implements EngineMemory {
	readonly #pages = new Map<string, Uint8Array>();

	#page(aperture: TableAperture, n: bigint): Uint8Array {
		const key = `${aperture}:${n}`;
		let p = this.#pages.get(key);
		if (p === undefined) {
			p = new Uint8Array(4096);
			this.#pages.set(key, p);
		}
		return p;
	}

	read(aperture: TableAperture, pa: bigint, dst: Uint8Array): void {
		for (let i = 0; i < dst.length; i++) {
			const at = pa + BigInt(i);
			dst[i] = this.#page(aperture, at >> 12n)[Number(at & 0xfffn)] as number;
		}
	}

	write(aperture: TableAperture, pa: bigint, src: Uint8Array): void {
		for (let i = 0; i < src.length; i++) {
			const at = pa + BigInt(i);
			this.#page(aperture, at >> 12n)[Number(at & 0xfffn)] = src[i] as number;
		}
	}

	dump(): string[] {
		return [...this.#pages]
			.filter(([, p]) => p.some((b) => b !== 0))
			.map(([k, p]) => `${k}:${Buffer.from(p).toString('hex')}`)
			.sort();
	}
}

const BASE = 0x40_0000n;
const DATA = 0x1000_0000n;

function rig(options: { capacity?: number; enabled?: boolean; privileged?: boolean } = {}) {
	const tables = new FakeMemory();
	const pt = new TestPageTables('v2', tables);
	const pdb: PageDirectoryBase = { aperture: pt.root.aperture, address: pt.root.address };
	const tlb = {
		...(options.capacity === undefined ? {} : { capacity: options.capacity }),
		...(options.enabled === undefined ? {} : { enabled: options.enabled }),
	};
	const mmu = new GpuMmu({ format: 'v2', memory: tables, tlb });
	const data = new ByteMemory();
	const space = new ChannelAddressSpace({
		mmu,
		memory: data,
		pdb,
		privileged: options.privileged ?? false,
		sparseWrites: 'fault',
	});
	return { tables, pt, pdb, mmu, data, space };
}

function page(pa: bigint, attrs: Partial<PageSpec> = {}): PageSpec {
	return { aperture: 'video', pa, ...attrs };
}

function read(space: ChannelAddressSpace, va: bigint, length: number): Uint8Array {
	const b = new Uint8Array(length);
	space.read(va, b, 'host', 'semaphore');
	return b;
}

/** The fault an access raised, or `undefined`. */
function faultOf(fn: () => void): { reason: string; va: bigint; faultTypeName: string } | undefined {
	try {
		fn();
		return undefined;
	} catch (e) {
		if (!(e instanceof EngineStop) || e.info.mmuFault === undefined) throw e;
		const f = e.info.mmuFault.fault;
		return { reason: f.reason, va: f.va, faultTypeName: f.faultTypeName };
	}
}

describe('ChannelAddressSpace remembered pages', () => {
	it('stays stale until an invalidate, then follows the new PTE', () => {
		const r = rig();
		r.data.write('video', DATA, Uint8Array.of(0xaa));
		r.data.write('video', DATA + 0x1000n, Uint8Array.of(0xbb));
		r.pt.map(BASE, 12, page(DATA));
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(0xaa));
		r.pt.map(BASE, 12, page(DATA + 0x1000n)); // remap without invalidate
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(0xaa));
		r.mmu.invalidate();
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(0xbb));
	});

	it('checks permissions on every access to a remembered page', () => {
		const r = rig();
		r.pt.map(BASE, 12, page(DATA, { readOnly: true }));
		r.pt.map(BASE + 0x1000n, 12, page(DATA + 0x1000n, { atomicDisabled: true }));
		r.pt.map(BASE + 0x2000n, 12, page(DATA + 0x2000n, { privileged: true }));
		read(r.space, BASE, 4);
		expect(faultOf(() => r.space.write(BASE + 8n, new Uint8Array(4), 'host', 'semaphore'))).toEqual({
			reason: 'read-only',
			va: BASE + 8n,
			faultTypeName: 'RO_VIOLATION',
		});
		r.space.write(BASE + 0x1000n, Uint8Array.of(1, 2, 3, 4), 'host', 'semaphore');
		expect(faultOf(() => r.space.atomic(BASE + 0x1000n, 4, 'host', 'semaphore', (o) => o))).toMatchObject({
			reason: 'atomic',
			faultTypeName: 'ATOMIC_VIOLATION',
		});
		expect(faultOf(() => read(r.space, BASE + 0x2000n, 4))).toMatchObject({ reason: 'privilege' });
	});

	it('re-walks a page the TLB evicted (capacity), as a full translation would', () => {
		const r = rig({ capacity: 1 });
		r.data.write('video', DATA, Uint8Array.of(1));
		r.data.write('video', DATA + 0x2000n, Uint8Array.of(3));
		r.pt.map(BASE, 12, page(DATA));
		r.pt.map(BASE + 0x1000n, 12, page(DATA + 0x1000n));
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(1));
		read(r.space, BASE + 0x1000n, 1); // evicts BASE from the one-entry TLB
		r.pt.map(BASE, 12, page(DATA + 0x2000n)); // no invalidate: but the TLB no longer holds the old entry
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(3));
	});

	it('remembers nothing when the TLB is off: every access sees the tables', () => {
		const r = rig({ enabled: false });
		r.data.write('video', DATA + 0x1000n, Uint8Array.of(7));
		r.pt.map(BASE, 12, page(DATA));
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(0));
		r.pt.map(BASE, 12, page(DATA + 0x1000n));
		expect(read(r.space, BASE, 1)).toEqual(Uint8Array.of(7));
	});

	it('uses the offset within a 64 KiB page and counts one TLB hit per access', () => {
		const r = rig();
		r.data.write('video', DATA + 0x5123n, Uint8Array.of(0x55));
		r.data.write('video', DATA + 0xf000n, Uint8Array.of(0xf0));
		r.pt.map(BASE, 16, page(DATA));
		expect(read(r.space, BASE + 0x5123n, 1)).toEqual(Uint8Array.of(0x55));
		expect(read(r.space, BASE + 0x5123n, 1)).toEqual(Uint8Array.of(0x55));
		expect(read(r.space, BASE + 0xf000n, 1)).toEqual(Uint8Array.of(0xf0));
		expect(r.mmu.tlb.stats).toMatchObject({ hits: 2, misses: 1 });
	});
});

type Op =
	| { op: 'map'; page: number; shift: 12 | 16; target: number; flags: number }
	| { op: 'unmap'; page: number; table: 'big' | 'small' }
	| { op: 'sparse'; page: number }
	| { op: 'invalidate' }
	| { op: 'read'; offset: number; length: number }
	| { op: 'write'; offset: number; length: number; value: number }
	| { op: 'atomic'; offset: number };

const PAGES = 32; // 128 KiB: two 64 KiB pages, thirty-two 4 KiB pages
/** Accesses mostly land on a few pages, so remembered pages get reused (and must be dropped at the right time). */
const offsetArb = fc
	.oneof(
		{ arbitrary: fc.tuple(fc.constantFrom(0, 1, 17), fc.nat(4095)), weight: 3 },
		{ arbitrary: fc.tuple(fc.nat(PAGES - 1), fc.nat(4095)), weight: 1 },
	)
	.map(([p, inner]) => p * 4096 + inner);
const pageArb = fc.oneof(
	{ arbitrary: fc.constantFrom(0, 1, 17), weight: 2 },
	{ arbitrary: fc.nat(PAGES - 1), weight: 1 },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
	{
		arbitrary: fc.record({
			op: fc.constant('map' as const),
			page: pageArb,
			shift: fc.constantFrom(12 as const, 16 as const),
			target: fc.nat(7),
			flags: fc.nat(7),
		}),
		weight: 3,
	},
	{
		arbitrary: fc.record({
			op: fc.constant('unmap' as const),
			page: pageArb,
			table: fc.constantFrom('big' as const, 'small' as const),
		}),
		weight: 1,
	},
	{ arbitrary: fc.record({ op: fc.constant('sparse' as const), page: pageArb }), weight: 1 },
	{ arbitrary: fc.record({ op: fc.constant('invalidate' as const) }), weight: 1 },
	{
		arbitrary: fc.record({
			op: fc.constant('read' as const),
			offset: offsetArb,
			length: fc.integer({ min: 1, max: 64 }),
		}),
		weight: 5,
	},
	{
		arbitrary: fc.record({
			op: fc.constant('write' as const),
			offset: offsetArb,
			length: fc.integer({ min: 1, max: 64 }),
			value: fc.nat(255),
		}),
		weight: 5,
	},
	{ arbitrary: fc.record({ op: fc.constant('atomic' as const), offset: offsetArb }), weight: 3 },
);

/** What every access did before pages were remembered: a full translateRange per access. */
function referenceAccess(
	mmu: GpuMmu,
	data: ByteMemory,
	pdb: PageDirectoryBase,
	privileged: boolean,
	access: MmuAccess,
	va: bigint,
	bytes: Uint8Array,
	update?: (old: Uint8Array) => Uint8Array,
): { reason: string; va: bigint; faultTypeName: string } | undefined {
	const r = mmu.translateRange(pdb, va, bytes.length, access, { privileged });
	if (!r.ok) return { reason: r.fault.reason, va: r.fault.va, faultTypeName: r.fault.faultTypeName };
	if (access !== 'read') {
		for (const s of r.segments) {
			if (!s.sparse) continue;
			const t = mmu.translate(pdb, s.va, access, { privileged });
			if (!t.ok) return { reason: t.fault.reason, va: t.fault.va, faultTypeName: t.fault.faultTypeName };
		}
	}
	const io = (dir: 'read' | 'write', buf: Uint8Array) => {
		let pos = 0;
		for (const s of r.segments) {
			const part = buf.subarray(pos, pos + s.length);
			if (!s.sparse) {
				if (dir === 'read') data.read(s.aperture as TableAperture, s.pa, part);
				else data.write(s.aperture as TableAperture, s.pa, part);
			} else if (dir === 'read') part.fill(0);
			pos += s.length;
		}
	};
	if (access === 'read') io('read', bytes);
	else if (access === 'write') io('write', bytes);
	else {
		io('read', bytes);
		io('write', (update as (o: Uint8Array) => Uint8Array)(bytes));
	}
	return undefined;
}

describe('ChannelAddressSpace against a full translation of every access', () => {
	it('reads, writes, faults and counts TLB hits alike for any sequence of remaps and invalidates', () => {
		fc.assert(
			fc.property(
				fc.array(opArb, { minLength: 1, maxLength: 80 }),
				fc.constantFrom(undefined, 1, 3),
				fc.boolean(),
				(ops, capacity, privileged) => {
					const tables = new FakeMemory();
					const pt = new TestPageTables('v2', tables);
					const pdb: PageDirectoryBase = { aperture: pt.root.aperture, address: pt.root.address };
					const tlb = capacity === undefined ? {} : { capacity };
					const mmuA = new GpuMmu({ format: 'v2', memory: tables, tlb });
					const mmuB = new GpuMmu({ format: 'v2', memory: tables, tlb });
					const dataA = new ByteMemory();
					const dataB = new ByteMemory();
					const space = new ChannelAddressSpace({
						mmu: mmuA,
						memory: dataA,
						pdb,
						privileged,
						sparseWrites: 'fault',
					});
					const inc = (o: Uint8Array) => o.map((b) => (b + 1) & 0xff);
					for (const o of ops) {
						switch (o.op) {
							case 'map': {
								const size = o.shift === 12 ? 0x1000n : 0x1_0000n;
								const va = (BASE + BigInt(o.page) * 0x1000n) & ~(size - 1n);
								pt.map(va, o.shift, {
									aperture: o.target & 1 ? 'sys-coherent' : 'video',
									pa:
										DATA +
										BigInt(o.target) * 0x1_0000n +
										(o.shift === 12 ? BigInt(o.page % 16) * 0x1000n : 0n),
									readOnly: (o.flags & 1) !== 0,
									privileged: (o.flags & 2) !== 0,
									atomicDisabled: (o.flags & 4) !== 0,
								});
								break;
							}
							case 'unmap':
								pt.writePte(BASE + BigInt(o.page) * 0x1000n, o.table, 0n);
								break;
							case 'sparse':
								pt.writePte(BASE + BigInt(o.page) * 0x1000n, 'small', v2SparsePte());
								break;
							case 'invalidate':
								mmuA.invalidate();
								mmuB.invalidate();
								break;
							case 'read': {
								const va = BASE + BigInt(o.offset);
								const a = new Uint8Array(o.length);
								const b = new Uint8Array(o.length);
								const fa = faultOf(() => space.read(va, a, 'host', 'semaphore'));
								const fb = referenceAccess(mmuB, dataB, pdb, privileged, 'read', va, b);
								expect(fa).toEqual(fb);
								if (fa === undefined) expect(a).toEqual(b);
								break;
							}
							case 'write': {
								const va = BASE + BigInt(o.offset);
								const bytes = new Uint8Array(o.length).fill(o.value);
								const fa = faultOf(() => space.write(va, bytes, 'host', 'semaphore'));
								const fb = referenceAccess(mmuB, dataB, pdb, privileged, 'write', va, bytes.slice());
								expect(fa).toEqual(fb);
								break;
							}
							case 'atomic': {
								const va = BASE + (BigInt(o.offset) & ~3n);
								const fa = faultOf(() => space.atomic(va, 4, 'host', 'semaphore', inc));
								const fb = referenceAccess(
									mmuB,
									dataB,
									pdb,
									privileged,
									'atomic',
									va,
									new Uint8Array(4),
									inc,
								);
								expect(fa).toEqual(fb);
								break;
							}
						}
						expect(mmuA.tlb.stats).toEqual(mmuB.tlb.stats);
					}
					expect(dataA.dump()).toEqual(dataB.dump());
				},
			),
			{ numRuns: 300 },
		);
	});
});
