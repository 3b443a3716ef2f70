import { DRM_IOCTL, nouveauVmBindOp } from '@gspkit/drm-frontend';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	arraySlots,
	encodeReply,
	encodeRequest,
	FrameKind,
	FrameReader,
	POINTER_FIELDS,
} from '../src/index.ts';

describe('wire protocol', () => {
	it('lays out the request header little-endian, length included', () => {
		const f = encodeRequest(FrameKind.IOCTL, 0x01020304, 3, DRM_IOCTL.SYNCOBJ_WAIT, Uint8Array.of(0xaa), [
			Uint8Array.of(0xbb, 0xcc),
		]);
		expect([...f]).toEqual([
			27, 0, 0, 0, 2, 0, 0, 0, 4, 3, 2, 1, 3, 0, 0, 0, 0xc3, 0x64, 0x28, 0xc0, 1, 0, 0, 0, 0xaa, 0xbb, 0xcc,
		]);
		expect([...encodeReply(7, -22)]).toEqual([12, 0, 0, 0, 7, 0, 0, 0, 0xea, 0xff, 0xff, 0xff]);
	});

	it('knows the pointer fields at the kernel offsets', () => {
		expect(
			POINTER_FIELDS.NOUVEAU_VM_BIND?.map((p) => [p.field, p.offset, p.countOffset, p.elementSize]),
		).toEqual([
			['wait_ptr', 16, 8, 16],
			['sig_ptr', 24, 12, 16],
			['op_ptr', 32, 0, nouveauVmBindOp.size],
		]);
		expect(POINTER_FIELDS.SYNCOBJ_TIMELINE_WAIT?.map((p) => [p.offset, p.countOffset])).toEqual([
			[0, 24],
			[8, 24],
		]);
		expect(POINTER_FIELDS.VERSION?.map((p) => [p.offset, p.countOffset, p.direction])).toEqual([
			[24, 16, 'out'],
			[40, 32, 'out'],
			[56, 48, 'out'],
		]);
	});

	it('computes array sizes from the counts; a NULL pointer carries nothing', () => {
		const arg = new Uint8Array(40);
		const dv = new DataView(arg.buffer);
		dv.setUint32(0, 3, true); // op_count
		dv.setUint32(8, 2, true); // wait_count
		dv.setBigUint64(16, 0n, true); // wait_ptr NULL
		dv.setBigUint64(32, 0x1000n, true);
		expect(arraySlots(DRM_IOCTL.NOUVEAU_VM_BIND, arg).map((s) => s.length)).toEqual([0n, 0n, 120n]);
	});

	it('FrameReader reassembles frames split at any byte', () => {
		fc.assert(
			fc.property(
				fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 }),
				fc.array(fc.nat(50), { maxLength: 10 }),
				(payloads, cuts) => {
					const frames = payloads.map((p, i) => encodeReply(i, 0, [p]));
					const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
					let at = 0;
					for (const f of frames) {
						all.set(f, at);
						at += f.length;
					}
					const r = new FrameReader(12, 1000);
					const got: Uint8Array[] = [];
					let pos = 0;
					for (const c of [...cuts, all.length]) {
						const end = Math.min(all.length, pos + c);
						r.push(all.subarray(pos, end));
						pos = end;
						for (let f = r.next(); f !== undefined && f !== 'bad-length'; f = r.next()) got.push(f);
					}
					r.push(all.subarray(pos));
					for (let f = r.next(); f !== undefined && f !== 'bad-length'; f = r.next()) got.push(f);
					expect(got).toEqual(frames);
				},
			),
		);
		const r = new FrameReader(12, 100);
		r.push(Uint8Array.of(101, 0, 0, 0));
		expect(r.next()).toBe('bad-length');
	});

	it('FrameReader reads the length prefix as an unsigned little-endian u32, whole or split', () => {
		// 0x8000_0010: negative if read signed (→ bad-length), 16 if the high byte were dropped (→ a frame);
		// read right it is a legal length whose bytes have not arrived yet.
		const whole = new FrameReader(12, 0xffff_ffff);
		whole.push(Uint8Array.of(0x10, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
		expect(whole.next()).toBeUndefined();
		const split = new FrameReader(12, 0xffff_ffff);
		split.push(Uint8Array.of(0x10, 0));
		split.push(Uint8Array.of(0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
		expect(split.next()).toBeUndefined();
		const capped = new FrameReader(12, 0x7fff_ffff);
		capped.push(Uint8Array.of(0x10, 0, 0, 0x80));
		expect(capped.next()).toBe('bad-length');
		// 0x0000_0110 = 272 bytes: the second byte counts.
		const big = new FrameReader(12, 1000);
		const frame = new Uint8Array(0x110);
		frame.set([0x10, 0x01, 0, 0]);
		frame[0x10f] = 0xaa;
		big.push(frame);
		expect(big.next()).toEqual(frame);
	});
});
