import { type InterruptLine, MS, SEC, TimeoutError, VirtualClock } from '@gspkit/hal';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
	Fence,
	FenceCallback,
	FenceContext,
	FenceProcessor,
	isChannelSchedError,
	noteAllocation,
	SemaphoreTimeline,
	SignallingSectionError,
	semaphoreReached,
	setAllocationObserver,
	waitAll,
	withSignallingSection,
} from '../src/index.ts';

function contractError(fn: () => void): boolean {
	try {
		fn();
	} catch (e) {
		return isChannelSchedError(e, 'CHSCHED_FENCE_CONTRACT');
	}
	return false;
}

describe('dma_fence contract', () => {
	it('signals exactly once', () => {
		const f = new FenceContext('t').createFence();
		f.signal();
		expect(f.signalled).toBe(true);
		expect(contractError(() => f.signal())).toBe(true);
	});
	it('signals in seqno order within a context; a violation changes nothing', () => {
		const ctx = new FenceContext('t');
		const [a, b, c] = [ctx.createFence(), ctx.createFence(), ctx.createFence()];
		expect([a.seqno, b.seqno, c.seqno]).toEqual([1, 2, 3]);
		expect(contractError(() => b.signal())).toBe(true);
		expect(b.signalled).toBe(false);
		expect(ctx.lastSignalled).toBe(0);
		a.signal();
		b.signal();
		c.signal();
		expect(ctx.lastSignalled).toBe(3);
	});
	it('other contexts are independent', () => {
		const x = new FenceContext('x').createFence();
		const y = new FenceContext('y').createFence();
		y.signal();
		x.signal();
		expect(x.context?.id).not.toBe(y.context?.id);
	});
	it('an error must be set before signalling; the fence signals with it', () => {
		const f = new FenceContext('t').createFence();
		const e = new Error('boom');
		f.setError(e);
		expect(f.signalled).toBe(false);
		f.signal();
		expect(f.error).toBe(e);
		expect(contractError(() => f.setError(new Error('late')))).toBe(true);
		expect(f.error).toBe(e);
	});
	it('unarmed fences cannot signal; arming twice is an error', () => {
		const f = new Fence();
		expect(f.armed).toBe(false);
		expect(contractError(() => f.signal())).toBe(true);
		f.arm(new FenceContext('t'));
		expect(contractError(() => f.arm(new FenceContext('u')))).toBe(true);
	});
	it('callbacks run in order, once; adding to a signalled fence returns false; removal works', () => {
		const f = new FenceContext('t').createFence();
		const log: string[] = [];
		const a = new FenceCallback(() => log.push('a'));
		const b = new FenceCallback(() => log.push('b'));
		const c = new FenceCallback(() => log.push('c'));
		expect(f.addCallback(a)).toBe(true);
		expect(f.addCallback(b)).toBe(true);
		expect(f.addCallback(c)).toBe(true);
		expect(f.removeCallback(b)).toBe(true);
		expect(f.removeCallback(b)).toBe(false);
		expect(contractError(() => f.addCallback(a))).toBe(true); // already queued
		f.signal();
		expect(log).toEqual(['a', 'c']);
		expect(f.addCallback(b)).toBe(false);
		let late = 0;
		f.onSignal(() => late++);
		expect(late).toBe(1);
	});
	it('a throwing callback does not stop the others; its error is rethrown after signalling', () => {
		const f = new FenceContext('t').createFence();
		const log: string[] = [];
		f.onSignal(() => {
			throw new Error('cb');
		});
		f.onSignal(() => log.push('second'));
		expect(() => f.signal()).toThrow('cb');
		expect(f.signalled).toBe(true);
		expect(log).toEqual(['second']);
	});
	it('stub fences are already signalled', () => {
		expect(Fence.signalled().signalled).toBe(true);
		const e = new Error('x');
		expect(Fence.signalled(e).error).toBe(e);
	});

	it('property: any signal order is accepted exactly when it is seqno order; every fence signals once', () => {
		fc.assert(
			fc.property(
				fc
					.integer({ min: 1, max: 12 })
					.chain((n) =>
						fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n })),
					),
				fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
				([n, order], withError) => {
					const ctx = new FenceContext('p');
					const fences = Array.from({ length: n }, () => ctx.createFence());
					const signals = new Array<number>(n).fill(0);
					for (const [i, f] of fences.entries()) {
						f.onSignal(() => {
							signals[i] = (signals[i] ?? 0) + 1;
						});
					}
					const pending = [...order];
					// Keep trying the requested order; whatever is out of order is rejected and retried later.
					let guard = 0;
					while (pending.length > 0 && guard++ < 1000) {
						const i = pending.shift() as number;
						const f = fences[i] as Fence;
						const expectOk = f.seqno === ctx.lastSignalled + 1;
						if (withError[i]) {
							try {
								f.setError(new Error(`e${i}`));
							} catch {}
						}
						if (expectOk) {
							f.signal();
						} else {
							expect(contractError(() => f.signal())).toBe(true);
							pending.push(i);
						}
					}
					expect(signals).toEqual(new Array(n).fill(1));
					for (const [i, f] of fences.entries())
						expect(f.error?.message).toBe(withError[i] ? `e${i}` : undefined);
				},
			),
		);
	});
});

describe('waiting', () => {
	it('resolves when signalled, also with an error; result() rejects with the error', async () => {
		const f = new FenceContext('t').createFence();
		const e = new Error('bad');
		const w = f.wait();
		f.setError(e);
		f.signal();
		await w;
		await expect(f.result()).rejects.toBe(e);
	});
	it('times out on the virtual clock with hal TimeoutError (ETIMEDOUT)', async () => {
		const clock = new VirtualClock();
		const f = new FenceContext('t').createFence();
		const p = f.wait({ timeoutNs: 2n * SEC, clock });
		clock.advance(SEC);
		const other = new FenceContext('u').createFence();
		const q = other.wait({ timeoutNs: 2n * SEC, clock });
		other.signal();
		await q;
		clock.advance(SEC);
		const err = await p.catch((x: unknown) => x);
		expect(err).toBeInstanceOf(TimeoutError);
		expect((err as TimeoutError).errno).toBe('ETIMEDOUT');
		expect((err as TimeoutError).timeoutNs).toBe(2n * SEC);
		expect(f.signalled).toBe(false);
	});
	it('waitAll returns the first error', async () => {
		const ctx = new FenceContext('t');
		const a = ctx.createFence();
		const b = ctx.createFence();
		const e = new Error('b failed');
		const p = waitAll([a, b]);
		a.signal();
		b.signalWith(e);
		expect(await p).toBe(e);
	});
});

describe('semaphore timeline', () => {
	it('semaphoreReached compares circularly', () => {
		expect(semaphoreReached(5, 5)).toBe(true);
		expect(semaphoreReached(4, 5)).toBe(false);
		expect(semaphoreReached(2, 0xffffffff)).toBe(true);
		expect(semaphoreReached(0xffffffff, 2)).toBe(false);
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 0xffffffff }),
				fc.integer({ min: 0, max: 0x7fffffff }),
				(t, d) => {
					expect(semaphoreReached((t + d) >>> 0, t)).toBe(true);
					if (d > 0) expect(semaphoreReached((t - d) >>> 0, t)).toBe(false);
				},
			),
		);
	});
	it('signals, in order, exactly the fences the semaphore reached, across the 2^32 wrap', () => {
		let sem = 0xfffffffd;
		const tl = new SemaphoreTimeline('w', 0x1000n, { read: () => sem }, { firstSeqno: 0xfffffffe });
		const fences = Array.from({ length: 6 }, () => new Fence());
		const payloads = fences.map((f) => tl.emit(f));
		expect(payloads).toEqual([0xfffffffe, 0xffffffff, 0, 1, 2, 3]);
		expect(tl.process()).toBe(0);
		sem = 0xffffffff;
		expect(tl.process()).toBe(2);
		sem = 1;
		expect(tl.process()).toBe(2);
		expect(fences.map((f) => f.signalled)).toEqual([true, true, true, true, false, false]);
		expect(tl.pending).toBe(2);
		const cause = new Error('dead');
		expect(tl.failAll(cause)).toBe(2);
		expect(fences[5]?.error).toBe(cause);
		expect(fences.map((f) => f.seqno)).toEqual([
			0xfffffffe,
			0xffffffff,
			2 ** 32,
			2 ** 32 + 1,
			2 ** 32 + 2,
			2 ** 32 + 3,
		]);
	});
	it('pollFor uses hal pollUntil on the clock and times out with TimeoutError', async () => {
		const clock = new VirtualClock();
		let sem = 0;
		const tl = new SemaphoreTimeline('p', 0n, { read: () => sem });
		const f = new Fence();
		tl.emit(f);
		clock.after(3n * MS, () => {
			sem = 1;
		});
		await tl.pollFor(f, clock, 10n * MS);
		expect(f.signalled).toBe(true);
		const g = new Fence();
		tl.emit(g);
		await expect(tl.pollFor(g, clock, 10n * MS)).rejects.toBeInstanceOf(TimeoutError);
	});
});

/** An interrupt line driven by the test, timing out on a virtual clock. */
class FakeIrq implements InterruptLine {
	readonly name = 'nonstall';
	#pending = false;
	#waiter: ((fired: boolean) => void) | undefined;
	constructor(readonly clock: VirtualClock) {}
	fire(): void {
		this.#pending = true;
		const w = this.#waiter;
		this.#waiter = undefined;
		w?.(true);
	}
	wait(timeoutNs: bigint): Promise<boolean> {
		if (this.#pending) return Promise.resolve(true);
		return new Promise((resolve) => {
			this.#waiter = resolve;
			this.clock.after(timeoutNs, () => {
				if (this.#waiter === resolve) {
					this.#waiter = undefined;
					resolve(false);
				}
			});
		});
	}
	pending(): boolean {
		return this.#pending;
	}
	acknowledge(): void {
		this.#pending = false;
	}
}

describe('non-stall interrupt processing', () => {
	it('processes every timeline after each interrupt, and on the poll interval', async () => {
		const clock = new VirtualClock();
		const irq = new FakeIrq(clock);
		let semA = 0;
		let semB = 0;
		const a = new SemaphoreTimeline('a', 0n, { read: () => semA });
		const b = new SemaphoreTimeline('b', 0n, { read: () => semB });
		const proc = new FenceProcessor();
		proc.add(a);
		proc.add(b);
		const fa = new Fence();
		const fb = new Fence();
		a.emit(fa);
		b.emit(fb);
		const loop = proc.runIrqLoop(irq, { pollIntervalNs: SEC });
		semA = 1;
		irq.fire();
		await new Promise((r) => setImmediate(r));
		expect(fa.signalled).toBe(true);
		expect(fb.signalled).toBe(false);
		expect(proc.interrupts).toBe(1);
		expect(irq.pending()).toBe(false);
		// No interrupt for b: the poll interval catches it.
		semB = 1;
		clock.advance(SEC);
		await new Promise((r) => setImmediate(r));
		expect(fb.signalled).toBe(true);
		expect(proc.interrupts).toBe(1);
		proc.stop();
		clock.advance(SEC);
		await loop;
		expect(proc.running).toBe(false);
	});
});

describe('signalling-section guard', () => {
	afterEach(() => setAllocationObserver(undefined));
	it('allocation hooks throw inside the section and pass outside', () => {
		expect(() => noteAllocation('x')).not.toThrow();
		let err: unknown;
		try {
			withSignallingSection('run', () => new Fence());
		} catch (e) {
			err = e;
		}
		expect(err).toBeInstanceOf(SignallingSectionError);
		expect((err as SignallingSectionError).details).toEqual({ what: 'Fence', section: 'run' });
		expect(() => noteAllocation('after')).not.toThrow(); // the section was left despite the throw
	});
	it('fence processing runs callbacks inside the section', () => {
		let sem = 0;
		const tl = new SemaphoreTimeline('g', 0n, { read: () => sem });
		const f = new Fence();
		tl.emit(f);
		let inner: unknown;
		f.onSignal(() => {
			try {
				noteAllocation('callback allocates');
			} catch (e) {
				inner = e;
			}
		});
		sem = 1;
		tl.process();
		expect(inner).toBeInstanceOf(SignallingSectionError);
	});
	it('the observer sees allocations and whether they were inside', () => {
		const seen: [string, boolean][] = [];
		setAllocationObserver((w, inside) => seen.push([w, inside]));
		new Fence();
		try {
			withSignallingSection('s', () => noteAllocation('bad'));
		} catch {}
		expect(seen).toEqual([
			['Fence', false],
			['bad', true],
		]);
	});
});
