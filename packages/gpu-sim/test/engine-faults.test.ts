/**
 * Channel errors: every kind stops the channel, is reported once through the error listener with the fault
 * record (type from the MMU, VA, engine, CHID), and later doorbells do not revive the channel. Hang injection.
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelErrorReport } from '../src/engines/index.ts';
import {
	CEM,
	ceCopy,
	gpControl,
	gpEntry,
	launch,
	M,
	pb,
	Rig,
	type RigOptions,
	sem,
	semOp,
	type TestChannel,
	u32,
} from './engine-kit.ts';
import { v2SparsePte, v3InvalidPte } from './mmu-testkit.ts';

const rigs: Rig[] = [];
function rig(o: RigOptions = {}): Rig {
	const r = new Rig(o);
	rigs.push(r);
	return r;
}
afterEach(async () => {
	for (const r of rigs.splice(0)) await r.close();
});

/** Submit, run, and return the single error the channel reported. */
function failWith(r: Rig, ch: TestChannel, words: number[]): ChannelErrorReport {
	ch.submit(words);
	r.settle();
	expect(r.errors).toHaveLength(1);
	const e = r.errors[0] as ChannelErrorReport;
	expect(e.chid).toBe(ch.chid);
	expect(r.host.channel(ch.chid)?.status).toBe('error');
	expect(r.host.channel(ch.chid)?.error).toEqual(e);
	return e;
}

describe('MMU faults', () => {
	it('faults the GPFIFO fetch of an unmapped ring', () => {
		const r = rig();
		const ch = r.channel({ register: false, tag: { hChannel: 0xf1f00001 } });
		const va = 0xc0_0000_0000n; // PDE2 slot 3: no table below it
		r.host.registerChannel({ ...ch.registration, gpfifo: { va, entries: 16 } });
		ch.writeUserd(0x8c, 1);
		ch.ring();
		r.settle();
		expect(r.errors).toMatchObject([
			{
				kind: 'mmu-fault',
				engine: 'host',
				chid: ch.chid,
				runlistId: 0,
				tag: { hChannel: 0xf1f00001 },
				fault: { client: 'gpfifo', va, access: 'read', faultTypeName: 'PDE', faultType: 0, engine: 'host' },
			},
		]);
		expect(r.host.faultLog).toEqual([r.errors[0]?.fault]);
	});

	it('faults a pushbuffer segment on an invalid PTE; GP_GET has already moved past the entry', () => {
		const r = rig();
		const ch = r.channel();
		const page = r.vramMapped(4096);
		r.pt.map(page.va + 0x1000n, 12, { aperture: 'video', pa: 0n }); // make the table exist
		const tableEntry = r.pt.writePte(page.va + 0x1000n, 'small', 0n); // VALID = 0
		expect(tableEntry.aperture).toBe('video');
		ch.gp(gpEntry(page.va + 0x1000n, 4));
		ch.publish();
		ch.ring();
		r.settle();
		expect(r.errors).toMatchObject([
			{
				kind: 'mmu-fault',
				fault: { client: 'pushbuffer', va: page.va + 0x1000n, faultTypeName: 'PTE', level: 'PTE' },
			},
		]);
		expect(ch.gpGet).toBe(1);
	});

	it('faults a semaphore release to a read-only page (RO_VIOLATION, write access)', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096, { readOnly: true });
		const e = failWith(r, ch, semOp(s.va + 16n, 1n, sem.RELEASE));
		expect(e).toMatchObject({
			kind: 'mmu-fault',
			engine: 'host',
			fault: {
				client: 'semaphore',
				va: s.va + 16n,
				access: 'write',
				faultTypeName: 'RO_VIOLATION',
				faultType: 6,
				accessType: 1,
			},
		});
		expect(u32(s.buf.bytes, 16)).toBe(0);
	});

	it('faults a semaphore reduction on an atomic-disabled page (ATOMIC_VIOLATION)', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096, { atomicDisabled: true });
		const e = failWith(r, ch, semOp(s.va, 1n, sem.REDUCTION | sem.reduction(5, true)));
		expect(e.fault).toMatchObject({ access: 'atomic', faultTypeName: 'ATOMIC_VIOLATION' });
	});

	it('faults a PRIVILEGE page accessed from a non-privileged channel', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096, { privileged: true });
		const e = failWith(r, ch, semOp(s.va, 1n, sem.RELEASE));
		expect(e.fault?.faultTypeName).toBe('PRIV_VIOLATION');
		// A privileged channel may use the page.
		const p = r.channel({ chid: 2, privileged: true });
		p.submit(semOp(s.va, 5n, sem.RELEASE));
		r.settle();
		expect(u32(s.buf.bytes)).toBe(5);
	});

	it('faults a copy-engine write to a sparse page, or drops it when configured to', () => {
		for (const sparseWrites of ['fault', 'drop'] as const) {
			const r = rig({ sparseWrites });
			const ch = r.channel({ engineClass: 0xc7b5 });
			const src = r.sysMapped(4096);
			src.buf.bytes.fill(9);
			const va = r.va(8192);
			r.pt.map(va, 12, { aperture: 'video', pa: r.vram(4096) });
			r.pt.writePte(va + 0x1000n, 'small', r.format === 'v2' ? v2SparsePte() : v3InvalidPte('SPARSE'));
			ch.submit(ceCopy(src.va, va + 0xf00n, 0x200));
			r.settle();
			if (sparseWrites === 'fault') {
				expect(r.errors).toMatchObject([
					{
						kind: 'mmu-fault',
						engine: 'copy',
						fault: { client: 'copy-write', va: va + 0x1000n, reason: 'sparse', engine: 'copy' },
					},
				]);
			} else {
				expect(r.errors).toEqual([]);
			}
		}
	});

	it('reads zeros from a sparse page and faults a copy read from an unmapped one', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const dst = r.sysMapped(8192);
		dst.buf.bytes.fill(0xcc);
		const sparse = r.va(4096);
		r.pt.map(sparse, 12, { aperture: 'video', pa: 0n });
		r.pt.writePte(sparse, 'small', v2SparsePte());
		r.gpu.mmu.invalidate();
		ch.submit(ceCopy(sparse + 8n, dst.va, 100));
		r.settle();
		expect(r.errors).toEqual([]);
		expect(dst.buf.bytes.subarray(0, 100).every((b) => b === 0)).toBe(true);
		const unmapped = r.va(4096);
		const e = failWith(r, ch, ceCopy(unmapped + 4n, dst.va, 16));
		expect(e).toMatchObject({
			engine: 'copy',
			fault: { client: 'copy-read', va: unmapped + 4n, access: 'read' },
		});
		expect(e.method).toMatchObject({ address: CEM.LAUNCH_DMA, subchannel: 4, classId: 0xc7b5 });
	});
});

describe('method and entry errors', () => {
	it('stops on ILLEGAL, undefined host methods, CLEAR_FAULTED and unprivileged TLB invalidates', () => {
		const cases: [string, number[], Partial<ChannelErrorReport>][] = [
			[
				'ILLEGAL',
				pb.inc(0, M.ILLEGAL, 0x1234),
				{ method: { subchannel: 0, address: M.ILLEGAL, data: 0x1234 } },
			],
			['legacy SEMAPHOREA (0x10)', pb.inc(2, 0x10, 7), { method: { subchannel: 2, address: 0x10, data: 7 } }],
			['CLEAR_FAULTED', pb.inc(0, M.CLEAR_FAULTED, 1), {}],
			[
				'TLB invalidate',
				pb.inc(0, M.MEM_OP_A, 0, 0, 1, (9 << 27) >>> 0),
				{ method: { subchannel: 0, address: M.MEM_OP_D, data: (9 << 27) >>> 0 } },
			],
			['undefined MEM_OP', pb.inc(0, M.MEM_OP_D, (0x1f << 27) >>> 0), {}],
			['software subchannel', pb.inc(5, 0x100, 1), { method: { subchannel: 5, address: 0x100, data: 1 } }],
			['SET_OBJECT of a graphics class', pb.inc(0, M.SET_OBJECT, 0xc797), {}],
			['engine method without an object', pb.inc(4, CEM.NOP, 0), {}],
		];
		for (const [name, words, extra] of cases) {
			const r = rig();
			const ch = r.channel();
			const s = r.sysMapped(4096);
			const e = failWith(r, ch, [...words, ...semOp(s.va, 1n, sem.RELEASE)]);
			expect({ name, ...e }).toMatchObject({ name, kind: 'illegal-method', engine: 'host', ...extra });
			expect(u32(s.buf.bytes)).toBe(0);
		}
	});

	it('stops on a copy-engine method its class does not decode (HCE_ILLEGAL_MTHD)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc6b5 });
		// SET_SEMAPHORE_PAYLOAD_UPPER exists in C7B5 but not in C6B5.
		const e = failWith(r, ch, pb.inc(4, CEM.SET_SEMAPHORE_PAYLOAD_UPPER, 1));
		expect(e).toMatchObject({
			kind: 'illegal-method',
			engine: 'copy',
			method: { subchannel: 4, address: 0x24c, classId: 0xc6b5 },
		});
	});

	it('stops on an ILLEGAL or undefined control entry and on a segment that crosses 2^40', () => {
		const cases: [number, number][] = [gpControl(1, 0xdead), gpControl(4), gpEntry((1n << 40n) - 8n, 4)];
		for (const entry of cases) {
			const r = rig();
			const ch = r.channel();
			ch.gp(gpControl(0));
			ch.gp(entry);
			ch.publish();
			ch.ring();
			r.settle();
			expect(r.errors).toMatchObject([
				{ kind: 'gpentry', gpEntry: { index: 1, entry0: entry[0], entry1: entry[1] } },
			]);
			// The invalid entry is discarded: GP_GET is past it.
			expect(ch.gpGet).toBe(2);
		}
	});

	it('stops when GP_PUT is outside the ring', () => {
		const r = rig();
		const ch = r.channel({ entries: 8 });
		ch.publish(8);
		ch.ring();
		r.settle();
		expect(r.errors).toMatchObject([{ kind: 'gpptr', engine: 'host' }]);
	});

	it('stops on pushbuffer entries that are not instructions', () => {
		const bad = [
			0x4000_0000 | (1 << 16) | 0x17, // SEC_OP 2: obsolete non-incrementing format
			0xc000_0000 | (1 << 16), // SEC_OP 6: reserved
			0x0004_0000, // SEC_OP 0 with an obsolete count
			pb.incHeader(0, 0x3ffc, 2), // incrementing past method 0xfff
			((5 << 29) | (2 << 16) | 0xfff) >>> 0, // increment-once past 0xfff
		];
		for (const word of bad) {
			const r = rig();
			const ch = r.channel();
			const e = failWith(r, ch, [word, 0, 0]);
			expect(e).toMatchObject({ kind: 'pbentry', pbEntry: word >>> 0 });
		}
	});

	it('stops on misaligned semaphores and unsupported semaphore operations', () => {
		const cases: [bigint, number][] = [
			[4n, sem.RELEASE | sem.PAYLOAD_64],
			[8n, sem.RELEASE | sem.TIMESTAMP],
			[0n, 7],
			[0n, sem.REDUCTION | sem.reduction(6, true) | sem.PAYLOAD_64], // 64-bit INC
			[0n, sem.REDUCTION | sem.reduction(5, false) | sem.PAYLOAD_64], // signed 64-bit IADD
			[0n, sem.REDUCTION | sem.reduction(9, true)],
		];
		for (const [offset, exec] of cases) {
			const r = rig();
			const ch = r.channel();
			const s = r.sysMapped(4096);
			const e = failWith(r, ch, semOp(s.va + offset, 1n, exec));
			expect(e).toMatchObject({ kind: 'semaphore', method: { address: M.SEM_EXECUTE, data: exec >>> 0 } });
		}
	});

	it('stops with a memory error when USERD is not backed', () => {
		const r = rig();
		const ch = r.channel({ register: false });
		r.host.registerChannel({
			...ch.registration,
			userd: { aperture: 'sys-coherent', address: 0x7000_0000_0000n },
		});
		ch.ring();
		r.settle();
		expect(r.errors).toMatchObject([{ kind: 'memory', engine: 'host' }]);
		expect(r.errors[0]?.detail).toMatch(/USERD read/);
	});

	it('rejects launches the model does not perform (block-linear layouts)', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const e = failWith(r, ch, pb.inc(4, CEM.LAUNCH_DMA, launch.NON_PIPELINED));
		expect(e).toMatchObject({ kind: 'ce-launch', engine: 'copy' });
	});
});

describe('after an error', () => {
	it('ignores later work until the channel is reset, then continues at GP_GET', () => {
		const r = rig();
		const ch = r.channel();
		const s = r.sysMapped(4096);
		ch.submit([...pb.inc(0, M.ILLEGAL, 0), ...semOp(s.va, 1n, sem.RELEASE)]);
		r.settle();
		ch.submit(semOp(s.va + 8n, 2n, sem.RELEASE));
		r.settle();
		r.clock.advance(1_000_000n);
		expect([u32(s.buf.bytes), u32(s.buf.bytes, 8)]).toEqual([0, 0]);
		expect(r.errors).toHaveLength(1);
		r.host.resetChannel(ch.chid);
		ch.ring();
		r.settle();
		expect([u32(s.buf.bytes), u32(s.buf.bytes, 8)]).toEqual([0, 2]);
		expect(ch.gpGet).toBe(2);
	});

	it('keeps other channels running', () => {
		const r = rig();
		const bad = r.channel({ chid: 1 });
		const good = r.channel({ chid: 2 });
		const s = r.sysMapped(4096);
		bad.submit(pb.inc(0, M.ILLEGAL, 0));
		good.submit(semOp(s.va, 3n, sem.RELEASE));
		r.settle();
		expect(u32(s.buf.bytes)).toBe(3);
		expect(r.errors.map((e) => e.chid)).toEqual([1]);
	});
});

describe('hang injection', () => {
	it('freezes a channel until the hang is cleared; time passing changes nothing', () => {
		const r = rig();
		const a = r.channel({ chid: 1 });
		const b = r.channel({ chid: 2 });
		const s = r.sysMapped(4096);
		const hang = r.host.inject({ kind: 'hang', engine: 'host', chid: 1 });
		a.submit(semOp(s.va, 1n, sem.RELEASE));
		b.submit(semOp(s.va + 8n, 2n, sem.RELEASE));
		const summary = r.settle();
		expect(summary.hung).toEqual([1]);
		r.clock.advance(10_000_000_000n);
		expect([u32(s.buf.bytes), u32(s.buf.bytes, 8)]).toEqual([0, 2]);
		expect(a.gpGet).toBe(0);
		expect(hang.active).toBe(true);
		hang.clear();
		expect(hang.active).toBe(false);
		r.clock.advance(0n);
		expect(u32(s.buf.bytes)).toBe(1);
		expect(r.errors).toEqual([]);
	});

	it('stalls a channel on a hung copy engine and resumes the launch when released', () => {
		const r = rig();
		const ch = r.channel({ engineClass: 0xc7b5 });
		const src = r.sysMapped(4096);
		const dst = r.sysMapped(4096);
		src.buf.bytes.fill(0x42);
		const s = r.sysMapped(4096);
		const hang = r.host.inject({ kind: 'hang', engine: 'copy' });
		ch.submit([...ceCopy(src.va, dst.va, 64), ...semOp(s.va, 1n, sem.RELEASE)]);
		const summary = r.settle();
		expect(summary.blocked).toEqual([ch.chid]);
		// A hung engine accepts no method at all: the channel waits on the first one it sends.
		expect(r.host.channel(ch.chid)?.blockedOn).toMatchObject({
			kind: 'engine',
			address: CEM.OFFSET_IN_UPPER,
			subchannel: 4,
			classId: 0xc7b5,
		});
		r.clock.advance(5_000_000_000n);
		expect(u32(s.buf.bytes)).toBe(0);
		expect(dst.buf.bytes[0]).toBe(0);
		hang.clear();
		r.clock.advance(0n);
		expect(dst.buf.bytes.subarray(0, 64).every((x) => x === 0x42)).toBe(true);
		expect(u32(s.buf.bytes)).toBe(1);
	});
});
