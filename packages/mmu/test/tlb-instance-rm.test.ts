import type { Bar0, Clock, Platform } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import {
	bar0TlbInvalidator,
	decodePageDirectoryBase,
	encodePageDirectoryBase,
	GMMU_APERTURE,
	RAMIN,
	readEntry,
	readInstanceBlockPageDirectory,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE,
	SPLIT_VAS_SERVER_RM_MANAGED_VA_START,
	serverReservedPdes,
	TLB_REGS,
	tlbInvalidateWords,
	VaSpace,
	writeInstanceBlockPageDirectory,
} from '../src/index.ts';
import { TestDma } from './helpers/dma.ts';
import { contig, GiB, MiB, rig } from './helpers/setup.ts';

class FakeBar0 implements Bar0 {
	readonly size = 16 * 1024 * 1024;
	log: [string, number, number][] = [];
	busyReads: number;
	constructor(busyReads = 2) {
		this.busyReads = busyReads;
	}
	read32(offset: number): number {
		const busy = offset === TLB_REGS.INVALIDATE && this.busyReads-- > 0;
		const v = busy ? 0x80000001 : 0x00000001;
		this.log.push(['r', offset, v]);
		return v;
	}
	write32(offset: number, value: number): void {
		this.log.push(['w', offset, value >>> 0]);
	}
}

describe('TLB invalidate (Turing+ sequence through BAR0)', () => {
	it('register values: PDB bits 39:12 at 31:4 with the aperture at bit 1, bits 59:40 in the high word', () => {
		expect(tlbInvalidateWords({ address: 0x123_4567_8000n, aperture: 'sysCoherent' })).toEqual({
			pdbLo: 0x2345_6782,
			pdbHi: 0x1,
			invalidate: 0x8000_0001,
		});
		expect(tlbInvalidateWords({ address: 0xabc_d000n, aperture: 'video' }, 0x43)).toEqual({
			pdbLo: 0x000a_bcd0,
			pdbHi: 0,
			invalidate: 0x8000_0043,
		});
	});

	it('writes A0, A4, 100E68, B0 in order and polls B0 until the trigger clears', () => {
		const bar0 = new FakeBar0(3);
		const inv = bar0TlbInvalidator(bar0);
		expect(inv({ pdb: { address: 0x10_0000_1000n, aperture: 'sysNonCoherent' } })).toEqual({
			timedOut: false,
		});
		expect(bar0.log.slice(0, 4)).toEqual([
			['w', 0xb830a0, 0x1000_0012],
			['w', 0xb830a4, 0],
			['w', 0x100e68, 0],
			['w', 0xb830b0, 0x8000_0001],
		]);
		expect(bar0.log.slice(4).map((e) => e[0] + e[1].toString(16))).toEqual([
			'rb830b0',
			'rb830b0',
			'rb830b0',
			'rb830b0',
		]);
	});

	it('reports a timeout instead of throwing (poll bound and clock bound)', () => {
		const bar0 = new FakeBar0(Number.POSITIVE_INFINITY);
		expect(
			bar0TlbInvalidator(bar0, { maxPolls: 50 })({ pdb: { address: 0x1000n, aperture: 'video' } }),
		).toEqual({ timedOut: true });
		let t = 0n;
		const clock: Clock = { kind: 'virtual', now: () => (t += 1_000_000_000n), sleep: async () => {} };
		const before = bar0.log.length;
		expect(
			bar0TlbInvalidator(bar0, { clock, timeoutNs: 2_000_000_000n })({
				pdb: { address: 0x1000n, aperture: 'video' },
			}),
		).toEqual({
			timedOut: true,
		});
		expect(bar0.log.length - before).toBeLessThan(200);
	});

	it('a VA space on a platform invalidates once per commit with its own PDB', () => {
		const bar0 = new FakeBar0(1);
		const dma = new TestDma();
		const clock: Clock = { kind: 'virtual', now: () => 0n, sleep: async () => {} };
		const platform = { bar0, dma, clock } as unknown as Platform;
		const vas = new VaSpace({ format: 'v2', platform });
		const o = contig(1, 0x4000_0000n, 4n * MiB);
		const res = vas.apply([
			{ op: 'map', va: 0x1_0000_0000n, size: 4n * MiB, object: o, pageSize: 4096 },
			{ op: 'map', va: 0x2_0000_0000n, size: 4n * MiB, object: o },
		]);
		expect(res).toMatchObject({ tlbInvalidated: true, tlbTimedOut: false });
		const writes = bar0.log.filter((e) => e[0] === 'w');
		expect(writes).toEqual([
			['w', 0xb830a0, tlbInvalidateWords(vas.pdb).pdbLo],
			['w', 0xb830a4, tlbInvalidateWords(vas.pdb).pdbHi],
			['w', 0x100e68, 0],
			['w', 0xb830b0, 0x8000_0001],
		]);
		expect(vas.pdb.aperture).toBe('sysCoherent');
		expect(vas.pageTables.tables).toBeGreaterThan(4);
		expect(dma.liveAllocations).toBe(1); // the default allocator carves tables from one 64 KiB slab
		expect(dma.bytesInUse).toBe(65536);
	});
});

describe('instance block page directory', () => {
	it('encodes 0x200/0x204: target, VOL, VER2 format, 64 KiB big pages, address', () => {
		expect(encodePageDirectoryBase({ pdb: { address: 0x12_3456_7000n, aperture: 'sysCoherent' } })).toEqual({
			lo: (0x3456_7000 | 2 | 4 | 0x400 | 0x800) >>> 0,
			hi: 0x12,
		});
		expect(
			encodePageDirectoryBase({
				pdb: { address: 0x8000_0000n, aperture: 'video' },
				faultReplayTex: true,
				faultReplayGcc: true,
			}),
		).toEqual({
			lo: (0x8000_0000 | 0 | 0x10 | 0x20 | 0x400 | 0x800) >>> 0,
			hi: 0,
		});
		expect(encodePageDirectoryBase({ pdb: { address: 0x1000n, aperture: 'sysNonCoherent' } }).lo).toBe(
			0x1000 | 3 | 0xc00,
		);
		expect(() => encodePageDirectoryBase({ pdb: { address: 0x1800n, aperture: 'video' } })).toThrow(
			/aligned/,
		);
		expect(decodePageDirectoryBase(0x3456_7c06, 0x12)).toEqual({
			aperture: 'sysCoherent',
			address: 0x12_3456_7000n,
			volatile: true,
			faultReplayTex: false,
			faultReplayGcc: false,
			useVer2PtFormat: true,
			bigPageSize: 65536,
		});
	});

	it('writes the limit and subcontexts (valid ones copy the PDB, others are TARGET INVALID) and clears 0x21c', () => {
		const inst = new Uint8Array(RAMIN.SIZE).fill(0xff);
		const pdb = { address: 0x5_0000_0000n, aperture: 'video' as const };
		writeInstanceBlockPageDirectory(inst, { pdb }, { limit: 1n << 47n, subcontexts: (1n << 63n) | 0b101n });
		const v = new DataView(inst.buffer);
		const u32 = (o: number) => v.getUint32(o, true);
		const { lo, hi } = encodePageDirectoryBase({ pdb });
		expect([u32(0x200), u32(0x204)]).toEqual([lo, hi]);
		expect([u32(0x208), u32(0x20c)]).toEqual([0xffff_ffff, 0x7fff]);
		expect(u32(0x21c)).toBe(0);
		expect([u32(0x298), u32(0x29c)]).toEqual([0b101, 0x8000_0000]);
		expect([u32(0x2a0), u32(0x2a4), u32(0x2a8)]).toEqual([lo, hi, 0]);
		expect([u32(0x2b0), u32(0x2b4), u32(0x2b8)]).toEqual([1, 1, 0]);
		expect([u32(0x2c0), u32(0x2c4)]).toEqual([lo, hi]);
		expect([u32(0x2a0 + 63 * 16), u32(0x2a4 + 63 * 16)]).toEqual([lo, hi]);
		expect(u32(0x2a0 + 64 * 16)).toBe(0xffff_ffff); // untouched past the 64 slots
		expect(u32(0x1fc)).toBe(0xffff_ffff); // RAMFC untouched
		const back = readInstanceBlockPageDirectory(inst);
		expect(back.pageDirectory).toMatchObject({
			aperture: 'video',
			address: 0x5_0000_0000n,
			useVer2PtFormat: true,
		});
		expect(back.limit).toBe(1n << 47n);
		expect(back.subcontexts.filter((s) => s !== null).length).toBe(3);
		expect(back.subcontexts[1]).toBeNull();
	});

	it('pairs with a VA space PDB', () => {
		const r = rig('v3');
		const inst = new Uint8Array(RAMIN.SIZE);
		writeInstanceBlockPageDirectory(inst, { pdb: r.vas.pdb }, { limit: r.vas.vaLimit });
		const back = readInstanceBlockPageDirectory(inst);
		expect(back.pageDirectory).toMatchObject({
			aperture: 'sysCoherent',
			address: r.vas.pdb.address,
			volatile: true,
		});
		expect(back.limit).toBe(1n << 57n);
	});

	it('takes the default limit from the format (57-bit VA on v3, 49-bit on v2) and needs one of the two', () => {
		const inst = new Uint8Array(RAMIN.SIZE);
		const pdb = { address: 0x1000n, aperture: 'video' as const };
		writeInstanceBlockPageDirectory(inst, { pdb }, { format: 'v3' });
		expect(readInstanceBlockPageDirectory(inst).limit).toBe(1n << 57n);
		writeInstanceBlockPageDirectory(inst, { pdb }, { format: rig('v2').vas.format });
		expect(readInstanceBlockPageDirectory(inst).limit).toBe(1n << 49n);
		writeInstanceBlockPageDirectory(inst, { pdb }, { format: 'v3', limit: 1n << 40n });
		expect(readInstanceBlockPageDirectory(inst).limit).toBe(1n << 40n);
		expect(() => writeInstanceBlockPageDirectory(inst, { pdb })).toThrow(
			expect.objectContaining({ code: 'MMU_INVALID_ARGUMENT' }),
		);
		expect(() => writeInstanceBlockPageDirectory(inst, { pdb }, { limit: (1n << 64n) + 1n })).toThrow(
			expect.objectContaining({ code: 'MMU_INVALID_ARGUMENT' }),
		);
	});
});

describe('RM server-reserved PDEs (NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES)', () => {
	it('v2: PDE3/PDE2/PDE1 with nouveau sizes and shifts, linked, pinned and left to RM', () => {
		const r = rig('v2');
		r.vas.initClientSplit({ va: 0n, size: 8n * GiB });
		const data = serverReservedPdes(r.vas);
		expect(data).toMatchObject({
			pageSize: 1n << 29n,
			virtAddrLo: SPLIT_VAS_SERVER_RM_MANAGED_VA_START,
			virtAddrHi: SPLIT_VAS_SERVER_RM_MANAGED_VA_START + SPLIT_VAS_SERVER_RM_MANAGED_VA_SIZE - 1n,
			numLevelsToCopy: 3,
		});
		expect(data.levels.map((l) => [l.level, l.size, l.pageShift, l.aperture])).toEqual([
			['PDE3', 0x20n, 47, GMMU_APERTURE.SYS_COH],
			['PDE2', 0x1000n, 38, GMMU_APERTURE.SYS_COH],
			['PDE1', 0x1000n, 29, GMMU_APERTURE.SYS_COH],
		]);
		const f = r.vas.format;
		expect(data.levels[0]?.physAddress).toBe(r.vas.pdb.address);
		const pde3 = r.vas.readTable(r.vas.pdb.address, 'sysCoherent') as Uint32Array;
		expect(f.decodePde(readEntry(pde3, 0, 8))).toMatchObject({
			aperture: 'sysCoherent',
			address: data.levels[1]?.physAddress,
		});
		const pde2 = r.vas.readTable(data.levels[1]?.physAddress as bigint, 'sysCoherent') as Uint32Array;
		expect(f.decodePde(readEntry(pde2, 0, 8))).toMatchObject({
			aperture: 'sysCoherent',
			address: data.levels[2]?.physAddress,
		});
		// RM fills PDE1 entry 8 (4 GiB >> 29); we never touch it.
		const pde1 = r.vas.readTable(data.levels[2]?.physAddress as bigint, 'sysCoherent') as Uint32Array;
		pde1[16] = 0xdead_b00a;
		pde1[17] = 0x1;
		const o = contig(1, 0x4000_0000n, 4n * MiB);
		expect(() =>
			r.vas.prepare([{ op: 'map', va: 4n * GiB + 512n * MiB - 4096n, size: 8192n, object: o }]),
		).toThrow(expect.objectContaining({ code: 'MMU_RANGE_RESERVED', errno: 'EINVAL' }));
		expect(() => r.vas.prepare([{ op: 'map-sparse', va: 0n, size: 8n * GiB }])).toThrow(
			expect.objectContaining({ code: 'MMU_RANGE_RESERVED' }),
		);
		r.apply([
			{ op: 'map', va: 4n * GiB - 4n * MiB, size: 4n * MiB, object: o },
			{ op: 'map', va: 4n * GiB + 512n * MiB, size: 4n * MiB, object: o, pageSize: 4096 },
			{ op: 'map-sparse', va: 6n * GiB, size: 1n * GiB },
		]);
		r.apply([{ op: 'unmap-sparse', va: 6n * GiB, size: 1n * GiB }]);
		r.apply([
			{ op: 'unmap', va: 0n, size: 4n * GiB },
			{ op: 'unmap', va: 4n * GiB + 512n * MiB, size: 3n * GiB + 512n * MiB },
		]);
		expect([pde1[16], pde1[17]]).toEqual([0xdead_b00a, 0x1]);
		expect(r.vas.pageTables.tables).toBe(3); // the pinned path stays
		expect(r.vas.readTable(data.levels[2]?.physAddress as bigint, 'sysCoherent')).toBe(pde1);
		// Same range again: same data, nothing new allocated.
		const live = r.alloc.live;
		expect(serverReservedPdes(r.vas)).toEqual(data);
		expect(r.alloc.live).toBe(live);
	});

	it('v3: four levels from PDE4; refusals leave nothing behind', () => {
		const r = rig('v3');
		const data = serverReservedPdes(r.vas);
		expect(data.levels.map((l) => [l.level, l.size, l.pageShift])).toEqual([
			['PDE4', 0x10n, 56],
			['PDE3', 0x1000n, 47],
			['PDE2', 0x1000n, 38],
			['PDE1', 0x1000n, 29],
		]);
		const r2 = rig('v3');
		r2.vas.initClientSplit({ va: 8n * GiB, size: 8n * GiB });
		expect(() => serverReservedPdes(r2.vas)).toThrow(expect.objectContaining({ code: 'MMU_RANGE_INVALID' }));
		expect(() => serverReservedPdes(r2.vas, { va: 8n * GiB + 4096n, size: 512n * MiB })).toThrow(
			expect.objectContaining({ code: 'MMU_INVALID_ARGUMENT' }),
		);
		const o = contig(1, 0x4000_0000n, 4n * MiB);
		r2.apply([{ op: 'map', va: 8n * GiB, size: 4096n, object: o }]);
		expect(() => serverReservedPdes(r2.vas, { va: 8n * GiB, size: 512n * MiB })).toThrow(
			expect.objectContaining({ code: 'MMU_RANGE_INVALID' }),
		);
		const p = r2.vas.prepare([{ op: 'unmap', va: 8n * GiB, size: 4096n }]);
		expect(() => serverReservedPdes(r2.vas, { va: 9n * GiB, size: 512n * MiB })).toThrow(
			expect.objectContaining({ code: 'MMU_PREPARED_STATE' }),
		);
		r2.commit(p);
		const tables = r2.vas.snapshotTables();
		r2.alloc.arm(0);
		expect(() => serverReservedPdes(r2.vas, { va: 1n << 50n, size: 512n * MiB })).toThrow(
			expect.objectContaining({ code: 'MMU_RANGE_INVALID' }),
		);
		r2.alloc.arm(0);
		expect(() => serverReservedPdes(r2.vas, { va: 12n * GiB, size: 512n * MiB })).toThrow(
			expect.objectContaining({ code: 'MMU_OUT_OF_MEMORY' }),
		);
		r2.alloc.arm(null);
		expect(r2.vas.snapshotTables()).toEqual(tables);
	});
});
