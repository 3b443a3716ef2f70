import { describe, expect, it } from 'vitest';
import {
	GSP,
	InvalidArgumentError,
	MS,
	pollUntil,
	RealClock,
	SEC,
	TimeoutError,
	US,
	VirtualClock,
} from '../src/index.ts';
import { FakeBar } from './fake-bar.ts';

async function rejection(p: Promise<unknown>): Promise<unknown> {
	try {
		await p;
	} catch (e) {
		return e;
	}
	throw new Error('expected a rejection');
}

describe('VirtualClock', () => {
	it('moves only through advance and sleep', async () => {
		const clock = new VirtualClock(100n);
		expect(clock.kind).toBe('virtual');
		expect(clock.now()).toBe(100n);
		await Promise.resolve();
		expect(clock.now()).toBe(100n);
		clock.advance(50n);
		expect(clock.now()).toBe(150n);
		await clock.sleep(2n * SEC);
		expect(clock.now()).toBe(150n + 2n * SEC);
		expect(() => clock.advance(-1n)).toThrow(InvalidArgumentError);
	});

	it('sleep yields to the event loop', async () => {
		const clock = new VirtualClock();
		let ran = false;
		setImmediate(() => {
			ran = true;
		});
		await clock.sleep(1n);
		expect(ran).toBe(true);
	});

	it('runs timers at their deadline, in order, stopping time there', () => {
		const clock = new VirtualClock();
		const seen: [string, bigint][] = [];
		clock.at(30n, () => seen.push(['c', clock.now()]));
		clock.at(10n, () => seen.push(['a', clock.now()]));
		clock.at(10n, () => seen.push(['b', clock.now()]));
		const cancelled = clock.after(20n, () => seen.push(['x', clock.now()]));
		cancelled.cancel();
		clock.at(100n, () => seen.push(['late', clock.now()]));
		expect(clock.pendingTimers).toBe(4);
		clock.advance(50n);
		expect(seen).toEqual([
			['a', 10n],
			['b', 10n],
			['c', 30n],
		]);
		expect(clock.now()).toBe(50n);
		expect(clock.pendingTimers).toBe(1);
	});

	it('timers may schedule timers within the same advance', () => {
		const clock = new VirtualClock();
		const seen: bigint[] = [];
		clock.at(5n, () => {
			seen.push(clock.now());
			clock.after(5n, () => seen.push(clock.now()));
		});
		clock.advance(20n);
		expect(seen).toEqual([5n, 10n]);
		expect(clock.now()).toBe(20n);
	});

	it('calls onAdvance hooks with the move, until removed', () => {
		const clock = new VirtualClock(10n);
		const moves: [bigint, bigint][] = [];
		const off = clock.onAdvance((to, from) => moves.push([to, from]));
		clock.advance(5n);
		clock.advance(0n);
		off();
		clock.advance(5n);
		expect(moves).toEqual([[15n, 10n]]);
	});
});

describe('pollUntil', () => {
	it('returns the first value that satisfies the condition', async () => {
		const clock = new VirtualClock();
		let reads = 0;
		const v = await pollUntil(
			clock,
			() => ++reads,
			(n) => n === 3,
			{ timeoutNs: SEC, intervalNs: 10n * US, what: 'three reads' },
		);
		expect(v).toBe(3);
		expect(clock.now()).toBe(20n * US);
	});

	it('sees a register change made by a simulated device at a virtual time', async () => {
		const clock = new VirtualClock();
		const bar = new FakeBar();
		const hwcfg2 = GSP.regs.HWCFG2;
		bar.regs.set(hwcfg2.offset, 0x1000); // MEM_SCRUBBING in progress
		clock.at(3n * MS, () => bar.regs.set(hwcfg2.offset, 0)); // scrubbing finishes after 3 ms
		const v = await pollUntil(
			clock,
			() => hwcfg2.read(bar),
			(r) => r.memScrubbingDone(),
			{ timeoutNs: 20n * MS, intervalNs: 100n * US, what: 'GSP HWCFG2.MEM_SCRUBBING == 0' },
		);
		expect(v.memScrubbingDone()).toBe(true);
		expect(clock.now()).toBe(3n * MS);
	});

	it('times out at the deadline on virtual time, naming what, the timeout and the last value', async () => {
		const clock = new VirtualClock(1000n);
		const bar = new FakeBar();
		bar.regs.set(GSP.regs.CPUCTL.offset, 0x2);
		const e = await rejection(
			pollUntil(
				clock,
				() => GSP.regs.CPUCTL.read(bar),
				(r) => r.get('halted'),
				{ timeoutNs: 2n * SEC, what: 'GSP CPUCTL.HALTED' },
			),
		);
		expect(e).toBeInstanceOf(TimeoutError);
		const t = e as TimeoutError;
		expect(t.code).toBe('HAL_TIMEOUT');
		expect(t.errno).toBe('ETIMEDOUT');
		expect(t.what).toBe('GSP CPUCTL.HALTED');
		expect(t.timeoutNs).toBe(2n * SEC);
		expect(t.message).toContain('GSP CPUCTL.HALTED');
		expect(t.message).toContain('2 s');
		expect(t.message).toContain('GSP.NV_PFALCON_FALCON_CPUCTL');
		expect(t.message).toContain('0x00000002');
		expect(String(t.lastValue)).toContain('halted: false');
		// Exactly the timeout elapsed: the last sleep was clipped to the deadline.
		expect(clock.now()).toBe(1000n + 2n * SEC);
	});

	it('reads once more at the deadline before giving up', async () => {
		const clock = new VirtualClock();
		let value = 0;
		clock.at(1000n, () => {
			value = 1;
		});
		const v = await pollUntil(
			clock,
			() => value,
			(x) => x === 1,
			{ timeoutNs: 1000n, intervalNs: 300n, what: 'x' },
		);
		expect(v).toBe(1);
		expect(clock.now()).toBe(1000n);
	});

	it('supports async reads and propagates read errors', async () => {
		const clock = new VirtualClock();
		let n = 0;
		expect(
			await pollUntil(
				clock,
				async () => ++n,
				(x) => x > 1,
				{ timeoutNs: MS, what: 'async' },
			),
		).toBe(2);
		const boom = new Error('bus error');
		expect(
			await rejection(
				pollUntil(
					clock,
					() => {
						throw boom;
					},
					() => true,
					{ timeoutNs: MS, what: 'throws' },
				),
			),
		).toBe(boom);
	});

	it('with a zero timeout reads exactly once', async () => {
		const clock = new VirtualClock();
		let reads = 0;
		const e = await rejection(
			pollUntil(
				clock,
				() => ++reads,
				() => false,
				{ timeoutNs: 0n, what: 'never' },
			),
		);
		expect(e).toBeInstanceOf(TimeoutError);
		expect(reads).toBe(1);
		expect(clock.now()).toBe(0n);
	});

	it('uses a default interval of timeout/64 clamped to [1 µs, 10 ms]', async () => {
		const count = async (timeoutNs: bigint) => {
			const clock = new VirtualClock();
			let reads = 0;
			await rejection(
				pollUntil(
					clock,
					() => ++reads,
					() => false,
					{ timeoutNs, what: 'count' },
				),
			);
			return reads;
		};
		expect(await count(64n * MS)).toBe(65); // interval 1 ms
		expect(await count(2n * SEC)).toBe(201); // clamped to 10 ms
		expect(await count(10n * US)).toBe(11); // clamped to 1 µs
	});

	it('rejects a non-positive interval or negative timeout', async () => {
		const clock = new VirtualClock();
		await expect(
			pollUntil(
				clock,
				() => 0,
				() => true,
				{ timeoutNs: MS, intervalNs: 0n, what: 'x' },
			),
		).rejects.toThrow(InvalidArgumentError);
		await expect(
			pollUntil(
				clock,
				() => 0,
				() => true,
				{ timeoutNs: -1n, what: 'x' },
			),
		).rejects.toThrow(InvalidArgumentError);
	});
});

describe('RealClock', () => {
	it('reads a non-decreasing bigint clock and sleeps without blocking', async () => {
		const clock = new RealClock();
		expect(clock.kind).toBe('real');
		const t0 = clock.now();
		await clock.sleep(50n * US);
		expect(typeof t0).toBe('bigint');
		expect(clock.now() >= t0).toBe(true);
		await clock.sleep(0n);
		await expect(clock.sleep(-1n)).rejects.toThrow(InvalidArgumentError);
	});
});
