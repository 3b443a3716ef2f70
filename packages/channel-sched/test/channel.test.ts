import { MS, TimeoutError, VirtualClock } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	bar0Doorbell,
	checkGpSegment,
	decodeGpEntry,
	encodeGpControl,
	encodeGpEntry,
	Fence,
	GpOpcode,
	isChannelSchedError,
	MAX_GP_LENGTH_WORDS,
	PushBuffer,
	USERD,
} from '../src/index.ts';
import { makeFakeChannel } from './helpers/fake-gpu.ts';

describe('GP entries', () => {
	it('hand-computed vector: va 0x12_3456_7890, 0x100 words, SYNC', () => {
		// w0: GET 31:2 = va bits 31:2 in place, FETCH 0 unconditional.
		// w1: GET_HI 7:0 = 0x12, LENGTH 30:10 = 0x100 -> 0x40000, SYNC 31.
		expect(encodeGpEntry({ va: 0x12_3456_7890n, lengthWords: 0x100, sync: true })).toEqual([
			0x34567890, 0x80040012,
		]);
		expect(encodeGpEntry({ va: 0x1000n, lengthWords: 1, subroutine: true, conditional: true })).toEqual([
			0x1001,
			(1 << 10) | (1 << 9),
		]);
		expect(encodeGpEntry({ va: 0xfc_0000_0000n, lengthWords: MAX_GP_LENGTH_WORDS })).toEqual([0, 0x7ffffcfc]);
	});
	it('round-trips (property) and matches the bit layout', () => {
		fc.assert(
			fc.property(
				fc.bigInt({ min: 0n, max: (1n << 38n) - 1n }).map((x) => x * 4n),
				fc.integer({ min: 1, max: MAX_GP_LENGTH_WORDS }),
				fc.boolean(),
				fc.boolean(),
				fc.boolean(),
				(va, lengthWords, sync, subroutine, conditional) => {
					fc.pre(va + BigInt(lengthWords) * 4n <= 1n << 40n);
					const [w0, w1] = encodeGpEntry({ va, lengthWords, sync, subroutine, conditional });
					expect(w0).toBe((Number(va & 0xfffffffcn) + (conditional ? 1 : 0)) >>> 0);
					expect(w1).toBe(
						(Number(va >> 32n) + (subroutine ? 2 ** 9 : 0) + lengthWords * 2 ** 10 + (sync ? 2 ** 31 : 0)) >>>
							0,
					);
					expect(decodeGpEntry(w0, w1)).toEqual({
						kind: 'segment',
						va,
						lengthWords,
						sync,
						subroutine,
						conditional,
					});
				},
			),
		);
	});
	it('control entries: LENGTH 0, opcode in w1 7:0, operand in w0', () => {
		const [w0, w1] = encodeGpControl(GpOpcode.PB_CRC, 0xabcdef01);
		expect([w0, w1]).toEqual([0xabcdef01, 3]);
		expect(decodeGpEntry(w0, w1)).toEqual({ kind: 'control', opcode: 3, operand: 0xabcdef01 });
	});
	it('rejects bad segments', () => {
		expect(() => checkGpSegment({ va: 0x1002n, lengthWords: 1 })).toThrow(/aligned/);
		expect(() => checkGpSegment({ va: 0x1000n, lengthWords: 0 })).toThrow(/length/);
		expect(() => checkGpSegment({ va: 0x1000n, lengthWords: MAX_GP_LENGTH_WORDS + 1 })).toThrow(/length/);
		expect(() => checkGpSegment({ va: (1n << 40n) - 4n, lengthWords: 2 })).toThrow(/40-bit/);
		expect(() => checkGpSegment({ va: (1n << 40n) - 4n, lengthWords: 1 })).not.toThrow();
	});
});

describe('doorbell', () => {
	it('writes the token to 0xBB0090 (Ampere+) or 0x810090 (Turing)', () => {
		const writes: [number, number][] = [];
		const bar0 = { write32: (o: number, v: number) => writes.push([o, v]) };
		bar0Doorbell(bar0, 0xbb0090).ring(0x00020005);
		bar0Doorbell(bar0, 0x810090).ring(0xffffffff);
		expect(writes).toEqual([
			[0xbb0090, 0x00020005],
			[0x810090, 0xffffffff],
		]);
		expect(() => bar0Doorbell(bar0, 0x810094)).toThrow(/doorbell/);
	});
});

/** A user pushbuffer at `va` holding `pb`'s words, mapped in the fake VA space. */
function userPush(fake: ReturnType<typeof makeFakeChannel>, va: bigint, pb: PushBuffer) {
	const bytes = fake.vas.map(va, pb.length * 4);
	new Uint32Array(bytes.buffer).set(pb.words());
	return { va, lengthWords: pb.length };
}

describe('GpFifoChannel submission', () => {
	it('writes entries, then GP_PUT (USERD 0x8c), then rings the doorbell with the token', () => {
		const fake = makeFakeChannel({ entries: 8, token: 0x00030007 });
		fake.host.paused = true;
		const seg = userPush(fake, 0x5_0000_0000n, new PushBuffer().nop(1));
		const order: string[] = [];
		const origStore = fake.userd.store32.bind(fake.userd);
		fake.userd.store32 = (o, v) => {
			order.push(`userd[${o.toString(16)}]=${v} entry0.w1=${fake.ring.read32(4).toString(16)}`);
			origStore(o, v);
		};
		fake.bar0.onWrite = (o, v) => order.push(`bar0[${o.toString(16)}]=${v.toString(16)}`);
		fake.channel.submit([seg]);
		expect(order).toEqual(['userd[8c]=1 entry0.w1=805', 'bar0[bb0090]=30007']);
		expect(fake.ring.read32(4)).toBe((2 << 10) | 5); // GET_HI 5, LENGTH 2 (NOP header + data)
		expect(fake.userd.load32(USERD.GP_PUT)).toBe(1);
	});

	it('a fence submission signals through the semaphore release, with the non-stall interrupt', () => {
		const fake = makeFakeChannel({ entries: 8 });
		const seg = userPush(fake, 0x5_0000_0000n, new PushBuffer().nop(7));
		const f = new Fence();
		fake.channel.submit([seg], f);
		expect(fake.host.nonStallInterrupts).toBe(1);
		expect(f.signalled).toBe(false); // nothing processed the timeline yet
		expect(fake.channel.timeline.process()).toBe(1);
		expect(f.signalled).toBe(true);
		expect(f.seqno).toBe(1);
		expect(fake.semaphore.read32(0)).toBe(1);
		// The fence segment lives in the kernel-push slot of ring index 1.
		expect(fake.host.fetched.map((x) => x.va)).toEqual([0x5_0000_0000n, fake.channel.slotVa(1)]);
	});

	it('wraps around a small ring, keeping one slot free', () => {
		const fake = makeFakeChannel({ entries: 4 });
		const seg = userPush(fake, 0x5_0000_0000n, new PushBuffer().nop(3));
		const fences: Fence[] = [];
		for (let i = 0; i < 25; i++) {
			const f = new Fence();
			fences.push(f);
			fake.channel.submit([seg], f); // 2 entries each
			expect(fake.channel.put).toBe((2 * (i + 1)) % 4);
			fake.channel.timeline.process();
		}
		expect(fences.every((f) => f.signalled && f.error === undefined)).toBe(true);
		expect(fake.semaphore.read32(0)).toBe(25);
		expect(fake.channel.wraps).toBe(12);
		expect(fake.host.fetched).toHaveLength(50);
		expect(fake.host.fetched.map((x) => x.index)).toEqual(Array.from({ length: 50 }, (_, i) => i % 4));
		expect(fake.channel.space).toBe(3);
		expect(fake.channel.capacity).toBe(3);
	});

	it('back-pressure: a full ring throws RING_FULL (EAGAIN) and writes nothing; submitWhenSpace waits', async () => {
		const clock = new VirtualClock();
		const fake = makeFakeChannel({ entries: 4 });
		fake.host.paused = true;
		const seg = userPush(fake, 0x5_0000_0000n, new PushBuffer().nop(3));
		fake.channel.submit([seg, seg, seg]);
		expect(fake.channel.space).toBe(0);
		const putBefore = fake.userd.load32(USERD.GP_PUT);
		let err: unknown;
		try {
			fake.channel.submit([seg]);
		} catch (e) {
			err = e;
		}
		expect(isChannelSchedError(err, 'CHSCHED_RING_FULL')).toBe(true);
		expect((err as { errno: string }).errno).toBe('EAGAIN');
		expect(fake.userd.load32(USERD.GP_PUT)).toBe(putBefore);

		// The host resumes after 5 ms of virtual time; the waiting submit then goes through.
		clock.after(5n * MS, () => {
			fake.host.paused = false;
			fake.host.step();
		});
		await fake.channel.submitWhenSpace([seg, seg], { clock, timeoutNs: 100n * MS });
		expect(clock.now()).toBeGreaterThanOrEqual(5n * MS);
		expect(fake.host.fetched).toHaveLength(5);

		// A host that never resumes: hal's TimeoutError.
		fake.host.paused = true;
		fake.channel.submit([seg, seg, seg]);
		await expect(fake.channel.submitWhenSpace([seg], { clock, timeoutNs: 10n * MS })).rejects.toBeInstanceOf(
			TimeoutError,
		);
		await expect(
			fake.channel.submitWhenSpace([seg, seg, seg, seg], { clock, timeoutNs: MS }),
		).rejects.toThrow(/never fit/);
	});

	it('a slow host: GP_GET lags GP_PUT and space follows it', () => {
		const fake = makeFakeChannel({ entries: 8 });
		fake.host.paused = true;
		const seg = userPush(fake, 0x5_0000_0000n, new PushBuffer().nop(3));
		fake.channel.submit([seg, seg, seg, seg, seg]);
		expect(fake.channel.inFlight).toBe(5);
		fake.host.maxPerStep = 2;
		fake.host.step();
		expect(fake.channel.get).toBe(2);
		expect(fake.channel.space).toBe(7 - 3);
	});

	it('kill fails pending fences in order and refuses new work with DEVICE_LOST (ENODEV)', () => {
		const fake = makeFakeChannel({ entries: 8 });
		fake.host.paused = true;
		const a = new Fence();
		const b = new Fence();
		fake.channel.submit([], a);
		fake.channel.submit([], b);
		const order: number[] = [];
		a.onSignal((f) => order.push(f.seqno));
		b.onSignal((f) => order.push(f.seqno));
		const cause = new Error('engine hang');
		fake.channel.kill(cause);
		expect(order).toEqual([1, 2]);
		expect(a.error).toBe(cause);
		let err: unknown;
		try {
			fake.channel.submit([]);
		} catch (e) {
			err = e;
		}
		expect(isChannelSchedError(err, 'CHSCHED_DEVICE_LOST')).toBe(true);
		expect((err as { errno: string }).errno).toBe('ENODEV');
	});

	it('rejects bad construction parameters', () => {
		expect(() => makeFakeChannel({ entries: 6 })).toThrow(/power of two/);
		expect(() => makeFakeChannel({ slotWords: 8 })).toThrow(/16 words/);
		expect(() => makeFakeChannel({ semaphoreVa: 1n << 41n })).toThrow(/40-bit/);
		expect(() => makeFakeChannel({ semaphoreVa: 1n << 41n, host: 0xc86f })).not.toThrow();
	});
});
