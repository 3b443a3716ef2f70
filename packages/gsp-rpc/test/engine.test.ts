import { struct, u32, u64 } from '@gspkit/abi';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GSP_DOORBELL, isRpcError, parseRegistryTable, RpcStatusError } from '../src/index.ts';
import type { CommandHandler } from './gsp-side.ts';
import { manifestAbi } from './support/abi.ts';
import { boot, rejection, setup, tick, until } from './support/setup.ts';
import {
	ELEM,
	fixChecksum,
	pattern,
	RPC,
	rd32,
	ringOffset,
	STATQ,
	sameBytes,
	setElem32,
	TX,
} from './support/spec.ts';

const r535 = manifestAbi('r535');
const F = r535.functions;

describe('pre-boot messages', () => {
	it('queues GSP_SET_SYSTEM_INFO then SET_REGISTRY with sequence 0 and rings the doorbell, before the GSP runs', async () => {
		const s = setup({ auto: false });
		const info = pattern(664, 1);
		await s.rpc.post('GSP_SET_SYSTEM_INFO', info);
		await s.rpc.setRegistry({ RMForcePcieConfigSave: 0, RMUserKey: 0x10, RMText: 'on' });
		expect(s.t.bar0.writes.filter(([o]) => o === GSP_DOORBELL)).toEqual([
			[0x110c00, 0],
			[0x110c00, 0],
		]);
		expect(rd32(s.rpc.region.bytes, 0x1000 + TX.writePtr)).toBe(2);
		// The GSP boots later and finds both, in order.
		expect(s.gsp.boot()).toBe(true);
		s.gsp.step();
		const [a, b] = s.gsp.received;
		expect(a!.function).toBe(72);
		expect(a!.sequence).toBe(0);
		expect(sameBytes(a!.payload, info)).toBe(true);
		expect(b!.function).toBe(73);
		expect(b!.sequence).toBe(0);
		const keys = Object.fromEntries(parseRegistryTable(s.rpc.wire, b!.payload).map((e) => [e.name, e.value]));
		expect(keys).toEqual({
			RMSecBusResetEnable: 1,
			RMForcePcieConfigSave: 0,
			RMDevidCheckIgnore: 1,
			RMUserKey: 0x10,
			RMText: 'on',
		});
	});

	it('refuses calls that need a reply before the status queue is linked', async () => {
		const s = setup();
		expect((await rejection(s.rpc.call('GET_GSP_STATIC_INFO'))).code).toBe('RPC_NOT_LINKED');
		expect((await rejection(s.rpc.call('NO_SUCH_FUNCTION'))).code).toBe('RPC_NOT_LINKED');
		await boot(s);
		expect((await rejection(s.rpc.call('NO_SUCH_FUNCTION'))).code).toBe('RPC_UNKNOWN_NAME');
	});
});

describe('calls', () => {
	for (const branch of ['r535', 'r570'] as const) {
		it(`round-trips calls with increasing rpc.sequence (${branch})`, async () => {
			const s = setup({ branch });
			await boot(s);
			for (let i = 0; i < 5; i++) {
				const payload = pattern(10 + i * 300, i);
				const reply = await s.rpc.call('GET_GSP_STATIC_INFO', payload);
				expect(reply.function).toBe(65);
				expect(reply.sequence).toBe(i + 1);
				expect(sameBytes(reply.payload, payload)).toBe(true);
			}
			expect(s.gsp.received.map((m) => m.sequence)).toEqual([1, 2, 3, 4, 5]);
		});
	}

	it('encodes rm_control through the ABI and decodes the typed reply', async () => {
		const Params = struct('TEST_PARAMS', [
			['a', u32],
			['b', u64],
		]);
		const handler: CommandHandler = (msg) => {
			const out = msg.payload.slice();
			const dv = new DataView(out.buffer);
			dv.setUint32(24, dv.getUint32(24, true) * 2, true);
			dv.setBigUint64(32, dv.getBigUint64(32, true) + 1n, true);
			return { payload: out };
		};
		const s = setup({ gsp: { handlers: new Map([[F.GSP_RM_CONTROL, handler]]) } });
		await boot(s);
		const v = await s.rpc.rmControl(0xc1d00001, 0x5d1d0000, 0x20800a5c, {
			layout: Params,
			value: { a: 21, b: 0xffff_ffffn },
		});
		expect(v).toEqual({ a: 42, b: 0x1_0000_0000n });
		const req = s.gsp.received[0]!;
		expect(req.function).toBe(76);
		// rpc_gsp_rm_control_v03_00: hClient@0 hObject@4 cmd@8 status@12 paramsSize@16 flags@20 params@24
		const dv = new DataView(req.payload.buffer, req.payload.byteOffset);
		expect([0, 4, 8, 12, 16, 20].map((o) => dv.getUint32(o, true))).toEqual([
			0xc1d00001, 0x5d1d0000, 0x20800a5c, 0, 16, 0,
		]);
		expect(req.payload.length).toBe(24 + 16);
	});

	it('encodes rm_alloc and free as the headers say', async () => {
		const s = setup();
		await boot(s);
		const out = await s.rpc.rmAlloc(0xc1d00000, 0xc1d00000, 0xde1d0000, 0x80, new Uint8Array([1, 2, 3, 4]));
		expect([...out]).toEqual([1, 2, 3, 4]);
		await s.rpc.rmFree(0xc1d00000, 0xc1d00000, 0xde1d0000);
		const [alloc, free] = s.gsp.received;
		const a = new DataView(alloc!.payload.buffer, alloc!.payload.byteOffset);
		// rpc_gsp_rm_alloc_v03_00: hClient hParent hObject hClass status paramsSize flags reserved[4] params@32
		expect([0, 4, 8, 12, 16, 20, 24].map((o) => a.getUint32(o, true))).toEqual([
			0xc1d00000, 0xc1d00000, 0xde1d0000, 0x80, 0, 4, 0,
		]);
		expect([...alloc!.payload.subarray(32)]).toEqual([1, 2, 3, 4]);
		expect(free!.function).toBe(10);
		const f = new DataView(free!.payload.buffer, free!.payload.byteOffset);
		expect([0, 4, 8, 12].map((o) => f.getUint32(o, true))).toEqual([0xc1d00000, 0xc1d00000, 0xde1d0000, 0]);
	});

	it('maps payload NV_STATUS and rpc_result to RpcStatusError with name, value and errno', async () => {
		const statusHandler =
			(status: number, where: number): CommandHandler =>
			(msg) => {
				const out = msg.payload.slice();
				new DataView(out.buffer).setUint32(where, status, true);
				return { payload: out };
			};
		const s = setup({
			gsp: {
				handlers: new Map<number, CommandHandler>([
					[F.GSP_RM_ALLOC, statusHandler(0x22, 16)],
					[F.GSP_RM_CONTROL, statusHandler(0x56, 12)],
					[F.FREE, statusHandler(0x35, 12)],
					[F.GET_GSP_STATIC_INFO, () => ({ payload: new Uint8Array(0), result: 0x55 })],
					[F.UNLOADING_GUEST_DRIVER, () => ({ payload: new Uint8Array(0), result: 0x51 })],
					[F.SET_REGISTRY, () => ({ payload: new Uint8Array(0), result: 0x66 })],
					[F.GSP_SET_SYSTEM_INFO, () => ({ payload: new Uint8Array(0), result: 0x1234 })],
				]),
			},
		});
		await boot(s);
		const alloc = await rejection(s.rpc.rmAlloc(1, 1, 2, 0xbeef));
		expect(alloc).toBeInstanceOf(RpcStatusError);
		expect(alloc).toMatchObject({
			code: 'RPC_STATUS',
			status: 0x22,
			statusName: 'NV_ERR_INVALID_CLASS',
			source: 'status',
			errno: 'EINVAL',
		});
		expect(await rejection(s.rpc.rmControl(1, 2, 0x1234))).toMatchObject({
			statusName: 'NV_ERR_NOT_SUPPORTED',
			errno: 'EINVAL',
		});
		expect(await rejection(s.rpc.rmFree(1, 1, 2))).toMatchObject({ statusName: 'NV_ERR_INVALID_OBJECT_OLD' });
		const cases: [string, string, string][] = [
			['GET_GSP_STATIC_INFO', 'NV_ERR_NOT_READY', 'EBUSY'],
			['UNLOADING_GUEST_DRIVER', 'NV_ERR_NO_MEMORY', 'ENOMEM'],
			['SET_REGISTRY', 'NV_ERR_TIMEOUT_RETRY', 'EBUSY'],
			['GSP_SET_SYSTEM_INFO', 'NV_STATUS_0x1234', 'EINVAL'],
		];
		for (const [fn, name, errno] of cases) {
			expect(await rejection(s.rpc.call(fn))).toMatchObject({
				code: 'RPC_STATUS',
				statusName: name,
				errno,
				source: 'rpc_result',
			});
		}
		// Status errors are not transport errors: the engine keeps working.
		expect(s.rpc.state).toBe('linked');
		expect((await s.rpc.call('GET_STATIC_INFO', new Uint8Array([9]))).payload[0]).toBe(9);
	});

	it('sends and receives large rm_control parameters through CONTINUATION_RECORDs', async () => {
		const s = setup();
		await boot(s);
		const params = pattern(300_000, 5);
		const out = await s.rpc.rmControl(1, 2, 3, params);
		expect(sameBytes(out, params)).toBe(true);
		expect(s.gsp.received[0]!.elements).toBe(Math.ceil((24 + 300_000) / 65456));
		expect(s.rpc.stats.continuationsReceived).toBe(Math.ceil((24 + 300_000) / 65456) - 1);
		// A generic call needs the reply size to expect continuations.
		const big = pattern(140_000, 6);
		const reply = await s.rpc.call('GET_GSP_STATIC_INFO', big, { replySize: big.length });
		expect(sameBytes(reply.payload, big)).toBe(true);
		expect(reply.elements).toBe(3);
	});
});

describe('events', () => {
	it('delivers events by neutral name; the same name is a different number in r535 and r570', async () => {
		for (const [branch, lockdown, mig] of [
			['r535', 0x101d, 0x101e],
			['r570', 0x101c, 0x101d],
		] as const) {
			const s = setup({ branch, engine: { listen: true } });
			await boot(s);
			const seen: string[] = [];
			s.rpc.on('GSP_LOCKDOWN_NOTICE', (e) => {
				seen.push(`lockdown:${e.function.toString(16)}:${e.payload[0]}`);
			});
			s.rpc.on('MIG_CI_CONFIG_UPDATE', (e) => {
				seen.push(`mig:${e.function.toString(16)}`);
			});
			s.gsp.event(lockdown, new Uint8Array([7]));
			s.gsp.event(mig);
			await until(() => seen.length === 2);
			expect(seen).toEqual([`lockdown:${lockdown.toString(16)}:7`, `mig:${mig.toString(16)}`]);
			s.rpc.close();
		}
	});

	it('sends unsubscribed events and unmatched replies to onUnhandled and "*"', async () => {
		const unhandled: (string | undefined)[] = [];
		const s = setup({ engine: { listen: true, onUnhandled: (e) => unhandled.push(e.name) } });
		await boot(s);
		s.gsp.event('RC_TRIGGERED');
		s.gsp.send(F.GET_GSP_STATIC_INFO, 77, new Uint8Array(0)); // a reply nobody asked for
		await until(() => unhandled.length === 2);
		expect(unhandled).toEqual(['RC_TRIGGERED', 'GET_GSP_STATIC_INFO']);
		const all: number[] = [];
		s.rpc.on('*', (e) => {
			all.push(e.function);
		});
		s.gsp.event('OS_ERROR_LOG');
		await until(() => all.length === 1);
		expect(all).toEqual([0x1006]);
		expect(s.rpc.stats.unmatchedReplies).toBe(1);
	});

	it('random interleavings of calls, replies (any order) and events keep every reply with its caller', async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.array(
					fc.record({
						fn: fc.constantFrom('GET_GSP_STATIC_INFO', 'GSP_RM_CONTROL', 'UNLOADING_GUEST_DRIVER', 'NOP'),
						size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 9000 })),
					}),
					{ minLength: 1, maxLength: 40 },
				),
				fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 40 }),
				fc.boolean(),
				fc.integer(),
				async (calls, events, echo, seed) => {
					const s = setup({ gsp: { echoSequence: echo } });
					s.gsp.holdReplies = true;
					await boot(s);
					const seen: number[] = [];
					s.rpc.on('OS_ERROR_LOG', (e) => {
						seen.push(new DataView(e.payload.buffer, e.payload.byteOffset).getUint32(0, true));
					});
					const results = calls.map((c, i) => {
						const payload = pattern(Math.max(c.size, 24), seed + i);
						if (c.fn === 'GSP_RM_CONTROL') {
							// A well-formed header: the double answers with status 0 and echoes the params.
							new DataView(payload.buffer).setUint32(12, 0, true);
							new DataView(payload.buffer).setUint32(16, payload.length - 24, true);
						}
						return s.rpc.call(c.fn, payload).then((r) => ({ i, r, payload }));
					});
					await until(() => s.gsp.received.length === calls.length);
					let replies = s.gsp.takeReplies();
					// Shuffle: freely when the GSP echoes rpc.sequence; otherwise keep each function's order (GSP-RM
					// answers in order) and interleave functions randomly.
					const rnd = (k: number): number => Math.abs((seed * 31 + k * 7919) | 0) % 1000;
					if (echo)
						replies = replies
							.map((r, k) => ({ r, k: rnd(k) }))
							.sort((a, b) => a.k - b.k)
							.map((x) => x.r);
					else {
						const byFn = new Map<number, typeof replies>();
						for (const r of replies) byFn.set(r.fn, [...(byFn.get(r.fn) ?? []), r]);
						const out: typeof replies = [];
						let k = 0;
						while (out.length < replies.length) {
							const fns = [...byFn.keys()].filter((f) => byFn.get(f)!.length > 0);
							out.push(byFn.get(fns[rnd(k++) % fns.length]!)!.shift()!);
						}
						replies = out;
					}
					// Interleave events between replies, sending as space allows.
					const outgoing: (() => boolean)[] = [];
					replies.forEach((r, k) => {
						const ev = events[k];
						if (ev !== undefined) {
							const p = new Uint8Array(4);
							new DataView(p.buffer).setUint32(0, ev, true);
							outgoing.push(() => s.gsp.event('OS_ERROR_LOG', p));
						}
						outgoing.push(() => s.gsp.send(r.fn, r.seq, r.payload, r.result));
					});
					for (const ev of events.slice(replies.length)) {
						const p = new Uint8Array(4);
						new DataView(p.buffer).setUint32(0, ev, true);
						outgoing.push(() => s.gsp.event('OS_ERROR_LOG', p));
					}
					for (const send of outgoing) await until(() => send());
					const done = await Promise.all(results);
					for (const { i, r, payload } of done) {
						expect(r.function).toBe(s.rpc.functionId(calls[i]!.fn));
						expect(sameBytes(r.payload, payload)).toBe(true);
					}
					await until(() => seen.length === events.length);
					expect(seen).toEqual(events);
					expect(s.rpc.pendingCalls).toBe(0);
					s.rpc.close();
				},
			),
			{ numRuns: 40 },
		);
	});
});

describe('reply matching modes', () => {
	it("'fifo' matches in order per function even when the firmware sends sequence 0", async () => {
		const s = setup({ engine: { replyMatching: 'fifo' }, gsp: { echoSequence: false } });
		await boot(s);
		const [a, b] = await Promise.all([
			s.rpc.call('NOP', new Uint8Array([1])),
			s.rpc.call('NOP', new Uint8Array([2])),
		]);
		expect([a.payload[0], b.payload[0], a.sequence, b.sequence]).toEqual([1, 2, 0, 0]);
	});

	it("'sequence' never guesses: a reply without the call's sequence matches nobody", async () => {
		const unhandled: number[] = [];
		const s = setup({
			engine: {
				replyMatching: 'sequence',
				timeoutIsFatal: false,
				onUnhandled: (e) => unhandled.push(e.function),
			},
			gsp: { echoSequence: false },
		});
		await boot(s);
		expect((await rejection(s.rpc.call('NOP', new Uint8Array(1), { timeoutNs: 5_000_000n }))).code).toBe(
			'RPC_TIMEOUT',
		);
		expect(unhandled).toEqual([0]);
		expect(s.rpc.stats.unmatchedReplies).toBe(1);
	});
});

describe('back-pressure', () => {
	it('queues callers when the command queue is full, in order, then drains', async () => {
		const s = setup({ auto: false });
		await boot(s);
		const N = 100; // 100 one-page requests into a 62-page window
		const calls = Array.from({ length: N }, (_, i) => s.rpc.call('NOP', new Uint8Array([i])));
		expect(s.rpc.queue.freeSlots()).toBe(0);
		expect(s.rpc.pendingCalls).toBe(N);
		expect(s.gsp.received.length).toBe(0);
		// Now let the GSP run: it consumes, answers as space allows, and is stepped until everything is through.
		const timer = setInterval(() => s.gsp.step(), 0);
		try {
			const replies = await Promise.all(calls);
			expect(replies.map((r) => r.payload[0])).toEqual(Array.from({ length: N }, (_, i) => i));
		} finally {
			clearInterval(timer);
		}
		// Fairness: requests reached the GSP in call order.
		expect(s.gsp.received.map((m) => m.payload[0])).toEqual(Array.from({ length: N }, (_, i) => i));
		expect(s.rpc.state).toBe('linked');
	});

	it('streams a message larger than the whole ring element by element', async () => {
		const s = setup();
		await boot(s);
		const params = pattern(1_000_000, 9); // 16 elements, ~245 pages: four times the ring
		const out = await s.rpc.rmControl(1, 2, 3, params);
		expect(sameBytes(out, params)).toBe(true);
	});
});

describe('recovery', () => {
	/** Make the GSP answer the next call with a reply corrupted by `mutate(slot)` before the CPU can read it. */
	async function corruptedReply(mutate: (mem: Uint8Array, slot: number) => void) {
		const s = setup();
		s.gsp.holdReplies = true;
		await boot(s);
		const a = s.rpc.call('NOP', new Uint8Array(40));
		const b = s.rpc.call('GET_GSP_STATIC_INFO', new Uint8Array(8));
		await until(() => s.gsp.received.length === 2);
		const [first] = s.gsp.takeReplies();
		const mem = s.rpc.region.bytes;
		const slot = rd32(mem, STATQ + TX.writePtr);
		s.gsp.send(first!.fn, first!.seq, first!.payload);
		mutate(mem, slot);
		return { s, a, b };
	}

	const cases: [string, string, (mem: Uint8Array, slot: number) => void][] = [
		[
			'a checksum that does not verify',
			'RPC_CHECKSUM',
			(m, slot) => (m[ringOffset(STATQ, slot, 100)]! ^= 0x40),
		],
		[
			'a bad elemCount',
			'RPC_BAD_ELEMENT',
			(m, slot) => {
				setElem32(m, STATQ, slot, ELEM.elemCount, 3);
				fixChecksum(m, STATQ, slot);
			},
		],
		[
			'a seqNum gap',
			'RPC_SEQUENCE',
			(m, slot) => {
				setElem32(m, STATQ, slot, ELEM.seqNum, 5);
				fixChecksum(m, STATQ, slot);
			},
		],
		[
			'an unexpected continuation',
			'RPC_UNEXPECTED_CONTINUATION',
			(m, slot) => {
				setElem32(m, STATQ, slot, ELEM.rpc + RPC.function, 71);
				fixChecksum(m, STATQ, slot);
			},
		],
	];
	for (const [what, code] of cases) {
		it(`${what} fails every pending call with ${code}, kills the engine until reset`, async () => {
			const { s, a, b } = await corruptedReply(cases.find((c) => c[0] === what)![2]);
			expect((await rejection(a)).code).toBe(code);
			expect((await rejection(b)).code).toBe(code);
			expect(s.rpc.state).toBe('dead');
			expect(s.rpc.fatalError?.code).toBe(code);
			const dead = await rejection(s.rpc.call('NOP'));
			expect(dead.code).toBe('RPC_DEAD');
			expect((dead.cause as { code: string }).code).toBe(code);
			expect((await rejection(s.rpc.post('NOP'))).code).toBe('RPC_DEAD');
			// After a GPU reset: a fresh GSP, the same engine.
			s.rpc.reset();
			expect(s.rpc.state).toBe('idle');
			s.newGsp();
			await boot(s);
			expect((await s.rpc.call('NOP', new Uint8Array([5]))).payload[0]).toBe(5);
		});
	}

	it('a call nobody answers times out (RPC_TIMEOUT); a hung GSP kills the engine', async () => {
		const s = setup();
		await boot(s);
		s.gsp.hung = true;
		const a = s.rpc.call('NOP', new Uint8Array(4), { timeoutNs: 50_000_000n });
		const b = s.rpc.call('NOP', new Uint8Array(4));
		const ea = await rejection(a);
		expect(ea).toMatchObject({ code: 'RPC_TIMEOUT', errno: 'ETIMEDOUT' });
		expect((await rejection(b)).code).toBe('RPC_TIMEOUT');
		expect(s.rpc.state).toBe('dead');
		expect((await rejection(s.rpc.call('NOP'))).code).toBe('RPC_DEAD');
	});

	it('with timeoutIsFatal off, only the late call fails and its late reply goes to onUnhandled', async () => {
		const late: number[] = [];
		const s = setup({ engine: { timeoutIsFatal: false, onUnhandled: (e) => late.push(e.sequence) } });
		await boot(s);
		await s.rpc.call('NOP'); // the firmware is seen echoing rpc.sequence
		s.gsp.holdReplies = true;
		const a = s.rpc.call('NOP', new Uint8Array(4), { timeoutNs: 10_000_000n });
		expect((await rejection(a)).code).toBe('RPC_TIMEOUT');
		expect(s.rpc.state).toBe('linked');
		s.gsp.holdReplies = false;
		s.gsp.flush();
		const b = await s.rpc.call('NOP', new Uint8Array([3]));
		expect(b.payload[0]).toBe(3);
		await until(() => late.length === 1);
		expect(late).toEqual([2]);
	});

	it('a GSP that stops consuming makes senders fail with RPC_QUEUE_FULL', async () => {
		const s = setup({ auto: false, engine: { sendTimeoutNs: 5_000_000n } });
		await boot(s);
		const calls = Array.from({ length: 70 }, () => s.rpc.call('NOP', new Uint8Array(8)));
		const errors = await Promise.all(calls.map((c) => rejection(c)));
		expect(errors.map((e) => e.code)).toContain('RPC_QUEUE_FULL');
		expect(errors.every((e) => isRpcError(e))).toBe(true);
		expect(s.rpc.state).toBe('dead');
	});

	it('link gives up with RPC_LINK when the GSP never writes its header', async () => {
		const s = setup();
		const e = await rejection(s.rpc.link({ timeoutNs: 20_000_000n }));
		expect(e).toMatchObject({ code: 'RPC_LINK', errno: 'ETIMEDOUT' });
		expect((e.details as { reason: string }).reason).toBe('unwritten');
		expect(s.rpc.state).toBe('dead');
	});

	it('reset() cancels pending calls with RPC_RESET; close() frees the region and refuses calls', async () => {
		const s = setup();
		s.gsp.holdReplies = true;
		await boot(s);
		const a = s.rpc.call('NOP');
		s.rpc.reset();
		expect((await rejection(a)).code).toBe('RPC_RESET');
		expect(s.t.dma.liveAllocations).toBe(1);
		s.rpc.close();
		expect(s.t.dma.liveAllocations).toBe(0);
		expect((await rejection(s.rpc.call('NOP'))).code).toBe('RPC_CLOSED');
		expect(() => s.rpc.reset()).toThrow(expect.objectContaining({ code: 'RPC_CLOSED' }));
	});

	it('poll() steps the receiver by hand and surfaces a fatal error', async () => {
		const s = setup({ auto: false });
		await boot(s);
		s.gsp.event('RC_TRIGGERED');
		expect(s.rpc.poll()).toBe(1);
		s.gsp.event('RC_TRIGGERED');
		s.rpc.region.bytes[ringOffset(STATQ, 1, 60)]! ^= 1;
		expect(() => s.rpc.poll()).toThrow(expect.objectContaining({ code: 'RPC_CHECKSUM' }));
		expect(s.rpc.state).toBe('dead');
		await tick();
	});
});
