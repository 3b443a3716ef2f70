/**
 * The host engine (PBDMA): GPFIFO and pushbuffer decoding, host methods, semaphores and scheduling, driven
 * through the real doorbell of a simulated GPU with page tables built by hand.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { acquireSatisfied, reduce } from '../src/engines/index.ts';
import {
	CEM,
	ceCopy,
	gpControl,
	gpEntry,
	M,
	pb,
	Rig,
	type RigOptions,
	sem,
	semOp,
	u32,
	u64,
} from './engine-kit.ts';

const rigs: Rig[] = [];
function rig(o: RigOptions = {}): Rig {
	const r = new Rig(o);
	rigs.push(r);
	return r;
}
afterEach(async () => {
	for (const r of rigs.splice(0)) await r.close();
});

describe('submission and GP_GET', () => {
	it('does nothing until the clock steps: the doorbell only makes the channel pending', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.submit(semOp(s.va, 0xabcdn, sem.RELEASE));
		expect(u32(s.buf.bytes)).toBe(0);
		expect(r.host.channel(ch.chid)?.status).toBe('pending');
		r.clock.advance(0n);
		expect(u32(s.buf.bytes)).toBe(0xabcd);
		expect(ch.gpGet).toBe(1);
		expect(r.host.channel(ch.chid)?.status).toBe('idle');
	});

	it('advances GP_GET entry by entry and wraps around a 4-entry ring', () => {
		const r = rig();
		const ch = r.channel({ entries: 4 });
		const s = r.sysMapped(4096);
		for (let i = 1; i <= 11; i++) {
			const va = ch.push(semOp(s.va, BigInt(i), sem.RELEASE));
			ch.publish();
			ch.ring();
			r.settle();
			expect(u32(s.buf.bytes)).toBe(i);
			expect(ch.gpGet).toBe(i % 4);
			// USERD GET/GET_HI follow the pushbuffer; TOP_LEVEL_GET too for a main-level segment.
			const end = va + 6n * 4n;
			expect(ch.readUserd(0x44)).toBe(Number(end & 0xffff_ffffn));
			expect(ch.readUserd(0x60)).toBe(Number(end >> 32n));
			expect(ch.readUserd(0x58)).toBe(Number(end & 0xffff_ffffn));
			expect(ch.readUserd(0x5c) & 0xff).toBe(Number(end >> 32n));
		}
		// A full ring (3 of 4 entries) in one publish.
		for (let i = 0; i < 3; i++) ch.push(semOp(s.va + 8n * BigInt(i + 1), 100n + BigInt(i), sem.RELEASE));
		ch.publish();
		ch.ring();
		r.settle();
		expect([u32(s.buf.bytes, 8), u32(s.buf.bytes, 16), u32(s.buf.bytes, 24)]).toEqual([100, 101, 102]);
		expect(ch.gpGet).toBe((11 + 3) % 4);
		expect(r.errors).toEqual([]);
	});

	it('keeps a subroutine segment out of TOP_LEVEL_GET', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		const main = ch.push(semOp(s.va, 1n, sem.RELEASE));
		ch.push(semOp(s.va, 2n, sem.RELEASE), { level: 1 });
		ch.publish();
		ch.ring();
		r.settle();
		expect(u32(s.buf.bytes)).toBe(2);
		expect(ch.readUserd(0x58)).toBe(Number((main + 24n) & 0xffff_ffffn));
	});

	it('reads the GPFIFO base and size (LIMIT2) from RAMFC when the registration has none', () => {
		for (const entries of [8, 1 << 16]) {
			const r = rig();
			const ch = r.channel({ gpfifoInRamfc: true, entries, gpOffset: 0x1008 });
			const s = r.sysMapped(4096);
			for (let i = 1; i <= 10; i++) {
				ch.submit(semOp(s.va, BigInt(i), sem.RELEASE));
				r.settle();
				expect(ch.gpGet).toBe(i % entries);
			}
			expect(u32(s.buf.bytes)).toBe(10);
			expect(r.errors).toEqual([]);
		}
	});

	it('works with USERD in VRAM and on Turing through NV_USERMODE at 0x810000', () => {
		const r = rig({ chip: 'tu102' });
		const ch = r.channel({ userdIn: 'video' });
		expect(ch.registration.class).toBe(0xc46f);
		const s = r.sysMapped(4096);
		ch.submit(semOp(s.va, 7n, sem.RELEASE));
		r.settle();
		expect(u32(s.buf.bytes)).toBe(7);
		expect(ch.gpGet).toBe(1);
	});

	it('accepts NOP, GP_CRC and PB_CRC control entries without running anything', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.gp(gpControl(0));
		ch.gp(gpControl(2, 0x1234_5678));
		ch.gp(gpControl(3, 0x9abc_def0));
		ch.push(semOp(s.va, 3n, sem.RELEASE));
		ch.publish();
		ch.ring();
		r.settle();
		expect(ch.gpGet).toBe(4);
		expect(u32(s.buf.bytes)).toBe(3);
		expect(r.host.channel(ch.chid)?.stats.gpEntries).toBe(4);
	});
});

describe('method headers', () => {
	it('decodes increasing, non-increasing, increment-once and immediate headers', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		const hi = Number(s.va >> 32n);
		const lo = (va: bigint) => Number(va & 0xffff_ffffn) >>> 0;
		ch.submit([
			// NON_INC: three writes to PAYLOAD_LO, the last one counts.
			...pb.inc(0, M.SEM_ADDR_LO, lo(s.va), hi),
			...pb.nonInc(0, M.SEM_PAYLOAD_LO, 1, 2, 3),
			...pb.inc(0, M.SEM_EXECUTE, sem.RELEASE),
			// ONE_INC: ADDR_HI, then PAYLOAD_LO twice (an INC decode would put 0x22 into PAYLOAD_HI).
			...pb.inc(0, M.SEM_ADDR_LO, lo(s.va + 8n)),
			...pb.oneInc(0, M.SEM_ADDR_HI, hi, 0x11, 0x22),
			...pb.inc(0, M.SEM_EXECUTE, sem.RELEASE),
			// IMMD: 13 bits of data in the header.
			...pb.inc(0, M.SEM_ADDR_LO, lo(s.va + 16n)),
			...pb.immd(0, M.SEM_PAYLOAD_LO, 0x1abc),
			...pb.immd(0, M.SEM_EXECUTE, sem.RELEASE),
			// INC with 64-bit payload.
			...semOp(s.va + 24n, 0x0123_4567_89ab_cdefn, sem.RELEASE | sem.PAYLOAD_64),
			// A zero-count header is a no-op and the universal NOP is skipped.
			...pb.inc(0, M.SEM_PAYLOAD_LO),
			0,
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(u32(s.buf.bytes, 0)).toBe(3);
		expect(u32(s.buf.bytes, 8)).toBe(0x22);
		expect(u32(s.buf.bytes, 16)).toBe(0x1abc);
		expect(u64(s.buf.bytes, 24)).toBe(0x0123_4567_89ab_cdefn);
	});

	it('takes all 13 COUNT bits: 8191 data words, none of them decoded as headers', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		// Each data word would be an invalid (SEC_OP 6) header if the count were cut short.
		const data = new Array<number>(8191).fill(0xc000_0000);
		data[8190] = 0xc000_1234;
		ch.submit([
			...pb.inc(0, M.SEM_ADDR_LO, Number(s.va & 0xffff_ffffn), Number(s.va >> 32n)),
			...pb.nonInc(0, M.SEM_PAYLOAD_LO, ...data),
			...pb.inc(0, M.SEM_EXECUTE, sem.RELEASE),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(u32(s.buf.bytes)).toBe(0xc000_1234);
	});

	it('lets a method sequence continue in the next segment', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.push([pb.incHeader(0, M.SEM_ADDR_LO, 5), Number(s.va & 0xffff_ffffn), Number(s.va >> 32n)]);
		ch.push([0x5a5a, 0, sem.RELEASE]);
		ch.publish();
		ch.ring();
		r.settle();
		expect(u32(s.buf.bytes)).toBe(0x5a5a);
	});

	it('ends a segment at END_PB_SEGMENT', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.push([...semOp(s.va, 1n, sem.RELEASE), ...pb.endSegment(), ...semOp(s.va + 8n, 2n, sem.RELEASE)]);
		ch.push(semOp(s.va + 16n, 3n, sem.RELEASE));
		ch.publish();
		ch.ring();
		r.settle();
		expect([u32(s.buf.bytes, 0), u32(s.buf.bytes, 8), u32(s.buf.bytes, 16)]).toEqual([1, 0, 3]);
	});

	it('filters methods and conditional segments by the subdevice mask', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.push([
			...pb.setSubdeviceMask(0x2),
			...semOp(s.va, 1n, sem.RELEASE),
			...pb.storeSubdeviceMask(0x3),
			...pb.useSubdeviceMask(),
			...semOp(s.va + 8n, 2n, sem.RELEASE),
			...pb.setSubdeviceMask(0x4),
		]);
		ch.push(semOp(s.va + 16n, 3n, sem.RELEASE), { conditional: true });
		ch.push([...pb.setSubdeviceMask(0xfff)]);
		ch.push(semOp(s.va + 24n, 4n, sem.RELEASE), { conditional: true });
		ch.publish();
		ch.ring();
		r.settle();
		expect([0, 8, 16, 24].map((o) => u32(s.buf.bytes, o))).toEqual([0, 2, 0, 4]);
	});
});

describe('host methods', () => {
	it('publishes SET_REFERENCE in USERD REF and raises the non-stall interrupt', () => {
		const r = rig();
		const ch = r.channel();
		ch.submit([...pb.inc(0, M.SET_REFERENCE, 0xfeed_f00d), ...pb.inc(0, M.NON_STALL_INTERRUPT, 0)]);
		r.settle();
		expect(ch.readUserd(0x48)).toBe(0xfeed_f00d);
		expect(r.host.channel(ch.chid)?.reference).toBe(0xfeed_f00d);
		expect(r.nonStallCount).toBe(1);
		ch.submit([...pb.inc(0, M.NON_STALL_INTERRUPT, 0), ...pb.inc(0, M.NON_STALL_INTERRUPT, 0)]);
		r.settle();
		expect(r.nonStallCount).toBe(3);
	});

	it("runs nouveau's fence: release with WFI, MEM_OP membar, NOP, FB_FLUSH, WFI, non-stall interrupt", () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.submit([
			...semOp(s.va, 42n, 0x0010_0001),
			...pb.inc(0, M.MEM_OP_A, 0, 0, 0, (5 << 27) >>> 0),
			...pb.inc(0, M.NOP, 0),
			...pb.inc(0, M.FB_FLUSH, 0),
			...pb.inc(0, M.WFI, 1),
			...pb.inc(0, M.NON_STALL_INTERRUPT, 0),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(u32(s.buf.bytes)).toBe(42);
		expect(r.nonStallCount).toBe(1);
	});

	it('forwards MMU_TLB_INVALIDATE from a privileged channel to the MMU', () => {
		const r = rig();
		const ch = r.channel({ privileged: true });
		const a = r.sys(4096);
		const b = r.sys(4096);
		const va = r.va(4096);
		r.mapSys(va, a);
		ch.submit(semOp(va, 1n, sem.RELEASE));
		r.settle();
		expect(u32(a.bytes)).toBe(1);
		// Remap the page without invalidating: the cached translation still points at `a`.
		r.mapSys(va, b);
		ch.submit(semOp(va, 2n, sem.RELEASE));
		r.settle();
		expect([u32(a.bytes), u32(b.bytes)]).toEqual([2, 0]);
		// MEM_OP_C: PDB ONE (0), APERTURE VID (0), PDB_ADDR_LO 31:12; MEM_OP_D: ADDR_HI 26:0, OPERATION 9.
		const before = r.gpu.mmu.tlb.stats.invalidates;
		const pdb = r.pdbAddress;
		ch.submit([
			...pb.inc(0, M.MEM_OP_A, 0, 0, Number(pdb & 0xffff_f000n), ((9 << 27) | Number(pdb >> 32n)) >>> 0),
			...semOp(va, 3n, sem.RELEASE),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect(r.gpu.mmu.tlb.stats.invalidates).toBe(before + 1);
		const rec = r.gpu.mmu.tlb.log.at(-1);
		expect(rec?.scope.pdb).toEqual({ aperture: 'video', address: pdb });
		expect([u32(a.bytes), u32(b.bytes)]).toEqual([2, 3]);
		expect(r.host.channel(ch.chid)?.stats.tlbInvalidates).toBe(1);
	});

	it('ends a timeslice at YIELD so that other channels run', () => {
		const r = rig();
		const shared = r.sysMapped(4096);
		const logs = [r.sysMapped(4096), r.sysMapped(4096)];
		const chans = [r.channel({ chid: 1, engineClass: 0xc7b5 }), r.channel({ chid: 2, engineClass: 0xc7b5 })];
		// Each segment: count++ on the shared semaphore, copy the count into the channel's log, yield.
		chans.forEach((ch, i) => {
			for (let k = 0; k < 3; k++) {
				ch.push([
					...semOp(shared.va, 1n, sem.REDUCTION | sem.reduction(5, true)),
					...ceCopy(shared.va, (logs[i] as { va: bigint }).va + BigInt(4 * k), 4),
					...pb.inc(0, M.YIELD, 3),
				]);
			}
			ch.publish();
		});
		chans[0]?.ring();
		chans[1]?.ring();
		r.settle();
		expect(r.errors).toEqual([]);
		const log = (i: number) =>
			[0, 4, 8].map((o) => u32((logs[i] as { buf: { bytes: Uint8Array } }).buf.bytes, o));
		expect(log(0)).toEqual([1, 3, 5]);
		expect(log(1)).toEqual([2, 4, 6]);
	});

	it('interleaves channels by timeslice and runs one to completion with a large slice', () => {
		for (const [slice, expected] of [
			[
				16,
				[
					[1, 3, 5],
					[2, 4, 6],
				],
			],
			[
				256,
				[
					[1, 2, 3],
					[4, 5, 6],
				],
			],
		] as const) {
			const r = rig({ timing: { timesliceEntries: slice } });
			const shared = r.sysMapped(4096);
			const logs = [r.sysMapped(4096), r.sysMapped(4096)];
			const chans = [
				r.channel({ chid: 3, engineClass: 0xc7b5 }),
				r.channel({ chid: 4, engineClass: 0xc7b5 }),
			];
			chans.forEach((ch, i) => {
				for (let k = 0; k < 3; k++) {
					// 6 + 9 = 15 pushbuffer entries, plus the GP entry: exactly 16 units of work per segment.
					ch.push([
						...semOp(shared.va, 1n, sem.REDUCTION | sem.reduction(5, true)),
						...ceCopy(shared.va, (logs[i] as { va: bigint }).va + BigInt(4 * k), 4),
					]);
				}
				ch.publish();
				ch.ring();
			});
			r.settle();
			const got = [0, 1].map((i) =>
				[0, 4, 8].map((o) => u32((logs[i] as { buf: { bytes: Uint8Array } }).buf.bytes, o)),
			);
			expect(got).toEqual(expected);
		}
	});
});

describe('semaphores', () => {
	it('releases with a timestamp in the 16-byte format (payload, zero, timer)', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		s.buf.bytes.fill(0xff);
		r.clock.advance(0x1_2345_6789n);
		ch.submit([
			...semOp(s.va, 0xcafen, sem.RELEASE | sem.TIMESTAMP),
			...semOp(s.va + 16n, 0x1111_2222_3333_4444n, sem.RELEASE | sem.TIMESTAMP | sem.PAYLOAD_64),
		]);
		r.settle();
		const now = r.clock.now();
		expect(u32(s.buf.bytes, 0)).toBe(0xcafe);
		expect(u32(s.buf.bytes, 4)).toBe(0);
		expect(u64(s.buf.bytes, 8)).toBe(now);
		expect(u64(s.buf.bytes, 16)).toBe(0x1111_2222_3333_4444n);
		expect(u64(s.buf.bytes, 24)).toBe(now);
		expect(u32(s.buf.bytes, 32)).toBe(0xffff_ffff);
	});

	it('performs reductions as the dev_pbdma table defines them', () => {
		const cases: {
			op: number;
			unsigned: boolean;
			bits: 32 | 64;
			value: bigint;
			payload: bigint;
			want: bigint;
		}[] = [
			{ op: 0, unsigned: false, bits: 32, value: 0xffff_fffen, payload: 3n, want: 0xffff_fffen }, // IMIN signed: -2 < 3
			{ op: 0, unsigned: true, bits: 32, value: 0xffff_fffen, payload: 3n, want: 3n },
			{ op: 1, unsigned: true, bits: 64, value: 5n, payload: 0x1_0000_0000n, want: 0x1_0000_0000n },
			{ op: 1, unsigned: false, bits: 64, value: 5n, payload: 1n << 63n, want: 5n },
			{ op: 2, unsigned: true, bits: 32, value: 0xf0f0n, payload: 0xff00n, want: 0x0ff0n },
			{ op: 3, unsigned: true, bits: 32, value: 0xf0f0n, payload: 0xff00n, want: 0xf000n },
			{ op: 4, unsigned: true, bits: 32, value: 0xf0f0n, payload: 0xff00n, want: 0xfff0n },
			{ op: 5, unsigned: true, bits: 32, value: 0xffff_ffffn, payload: 2n, want: 1n },
			{ op: 5, unsigned: true, bits: 64, value: 0xffff_ffffn, payload: 2n, want: 0x1_0000_0001n },
			{ op: 6, unsigned: true, bits: 32, value: 3n, payload: 3n, want: 0n }, // INC wraps past the payload
			{ op: 6, unsigned: true, bits: 32, value: 2n, payload: 3n, want: 3n },
			{ op: 7, unsigned: true, bits: 32, value: 0n, payload: 3n, want: 3n }, // DEC reloads at 0
			{ op: 7, unsigned: true, bits: 32, value: 9n, payload: 3n, want: 3n }, // …and above the payload
			{ op: 7, unsigned: true, bits: 32, value: 2n, payload: 3n, want: 1n },
		];
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		const words: number[] = [];
		cases.forEach((c, i) => {
			s.buf.view.setBigUint64(i * 8, c.value, true);
			const exec = sem.REDUCTION | sem.reduction(c.op, c.unsigned) | (c.bits === 64 ? sem.PAYLOAD_64 : 0);
			words.push(...semOp(s.va + BigInt(i * 8), c.payload, exec));
		});
		ch.submit(words);
		r.settle();
		expect(r.errors).toEqual([]);
		cases.forEach((c, i) => {
			const got = c.bits === 64 ? u64(s.buf.bytes, i * 8) : BigInt(u32(s.buf.bytes, i * 8));
			expect({ i, got }).toEqual({ i, got: c.want });
			expect(reduce(c.op, c.value, c.payload, c.bits, !c.unsigned)).toBe(c.want);
		});
	});

	it('evaluates acquire conditions like the manual (equal, strict and circular GEQ, AND, NOR)', () => {
		const table: [op: number, value: bigint, payload: bigint, bits: 32 | 64, ok: boolean][] = [
			[0, 5n, 5n, 32, true],
			[0, 6n, 5n, 32, false],
			[2, 0xffff_ffffn, 1n, 32, true],
			[2, 1n, 0xffff_ffffn, 32, false],
			[3, 2n, 0xffff_fffen, 32, true], // wrapped: 4 past the payload
			[3, 0x8000_0000n, 0n, 32, false], // half the range away
			[3, 0x7fff_ffffn, 0n, 32, true],
			[3, 0x8000_0000n, 0n, 64, true],
			[4, 0b1010n, 0b0100n, 32, false],
			[4, 0b1010n, 0b0010n, 32, true],
			[5, 0xffff_ffffn, 0n, 32, false],
			[5, 0xffff_fff0n, 0n, 32, true],
		];
		for (const [op, value, payload, bits, ok] of table) {
			expect({ op, value, payload, bits, ok: acquireSatisfied(op, value, payload, bits) }).toEqual({
				op,
				value,
				payload,
				bits,
				ok,
			});
		}
	});

	it('parks a channel on an unsatisfied acquire until another channel releases', () => {
		const r = rig();
		const a = r.channel({ chid: 10 });
		const b = r.channel({ chid: 11 });
		const s = r.sysMapped(4096);
		a.submit([...semOp(s.va, 5n, sem.ACQ_CIRC_GEQ), ...semOp(s.va + 8n, 1n, sem.RELEASE)]);
		const summary = r.settle();
		expect(summary.blocked).toEqual([10]);
		expect(r.host.channel(10)?.status).toBe('blocked');
		expect(r.host.channel(10)?.blockedOn).toMatchObject({
			kind: 'acquire',
			va: s.va,
			payload: 5n,
			operation: 3,
		});
		expect(u32(s.buf.bytes, 8)).toBe(0);
		// GP_GET already moved past the entry being processed (it is committed).
		expect(a.gpGet).toBe(1);
		b.submit(semOp(s.va, 4n, sem.RELEASE));
		r.settle();
		expect(u32(s.buf.bytes, 8)).toBe(0);
		b.submit(semOp(s.va, 5n, sem.RELEASE));
		const after = r.settle();
		expect(after.blocked).toEqual([]);
		expect(u32(s.buf.bytes, 8)).toBe(1);
		expect(r.host.channel(10)?.status).toBe('idle');
		expect(r.host.channel(10)?.stats.acquireBlocks).toBe(1);
	});

	it('re-evaluates a parked acquire as time passes after the CPU releases it', () => {
		const r = rig();
		const a = r.channel();
		const s = r.sysMapped(4096);
		a.submit([...semOp(s.va, 0x8n, sem.ACQ_AND), ...semOp(s.va + 8n, 9n, sem.RELEASE)]);
		r.settle();
		s.buf.view.setUint32(0, 0x1, true);
		r.clock.advance(1000n);
		expect(u32(s.buf.bytes, 8)).toBe(0);
		s.buf.view.setUint32(0, 0x18, true);
		r.clock.advance(1000n);
		expect(u32(s.buf.bytes, 8)).toBe(9);
	});

	it('re-evaluates a parked acquire on any doorbell', () => {
		const r = rig();
		const a = r.channel();
		const s = r.sysMapped(4096);
		a.submit([...semOp(s.va, 0x77n, sem.ACQUIRE), ...semOp(s.va + 8n, 9n, sem.RELEASE)]);
		r.settle();
		s.buf.view.setUint32(0, 0x77, true);
		a.ring();
		r.clock.advance(0n);
		expect(u32(s.buf.bytes, 8)).toBe(9);
	});
});

describe('Hopper (C86F) addressing', () => {
	it('takes 25 bits of SEM_ADDR_HI and PB segments above 2^40 via SET_PB_SEGMENT_EXTENDED_BASE', () => {
		const r = rig({ chip: 'gh100' });
		expect(r.format).toBe('v3');
		const ch = r.channel();
		const buf = r.sys(4096);
		const semVa = (1n << 56n) | 0x2345_0000_0000n; // VA bit 56: needs all of SEM_ADDR_HI 24:0
		r.mapSys(semVa, buf);
		const pbBuf = r.sys(4096);
		const pbVa = (1n << 56n) | 0x200_0000_1000n; // PB above 2^40, up to VA bit 56 (operand 24:8)
		r.mapSys(pbVa, pbBuf);
		const words = semOp(semVa + 8n, 0x4242n, sem.RELEASE);
		for (const [i, w] of words.entries()) pbBuf.view.setUint32(i * 4, w, true);
		ch.gp(gpControl(4, Number((pbVa >> 40n) << 8n)));
		ch.gp(gpEntry(pbVa & ((1n << 40n) - 1n), words.length));
		ch.publish();
		ch.ring();
		r.settle();
		expect(r.errors).toEqual([]);
		expect(u32(buf.bytes, 8)).toBe(0x4242);
	});

	it('copies with HOPPER_DMA_COPY_A and releases a 64-bit CE semaphore', () => {
		const r = rig({ chip: 'gh100' });
		const ch = r.channel({ engineClass: 0xc8b5 });
		const src = r.sysMapped(8192);
		const dst = r.vramMapped(8192);
		src.buf.bytes.set([1, 2, 3, 4, 5], 4090);
		const s = r.sysMapped(4096);
		ch.submit([
			...pb.inc(
				4,
				CEM.SET_SEMAPHORE_A,
				Number(s.va >> 32n),
				Number(s.va & 0xffff_ffffn),
				0x89ab_cdef,
				0x0123_4567,
			),
			...ceCopy(src.va + 4090n, dst.va + 100n, 5, (1 << 3) | (1 << 27)),
		]);
		r.settle();
		expect(r.errors).toEqual([]);
		expect([...r.readVram(dst.pa + 100n, 5)]).toEqual([1, 2, 3, 4, 5]);
		expect(u64(s.buf.bytes)).toBe(0x0123_4567_89ab_cdefn);
	});
});
