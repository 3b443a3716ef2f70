import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { elementChecksum, NV_STATUS, RPC_RESULT } from '../src/gsp-rm/index.ts';
import { booted, checksum, dec, ev, fn, sameBytes, type TestDriver } from './gsp-rm-testkit.ts';

/** A control ID no class exports: RM answers NOT_SUPPORTED and copies the parameters back unchanged. */
const UNKNOWN_CTRL = 0x2080_7fff;

function pattern(n: number, seed: number): Uint8Array {
	const out = new Uint8Array(n);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		out[i] = x & 0xff;
	}
	return out;
}

/** Re-checksum an element after the test edited it. */
function reseal(el: Uint8Array): Uint8Array {
	const dv = new DataView(el.buffer, el.byteOffset);
	dv.setUint32(32, 0, true);
	dv.setUint32(32, checksum(el, el.length), true);
	return el;
}

async function osErrors(d: TestDriver): Promise<string[]> {
	const msgs = await d.drain(3);
	return msgs
		.filter((m) => m.function === ev(d.version, 'OS_ERROR_LOG'))
		.map((m) => dec(d.version, 'rpc_os_error_log_v17_00', m.payload).errString as string);
}

describe('element checksum', () => {
	it('is the folded XOR of little-endian u64s, so a sealed element XORs to zero', () => {
		fc.assert(
			fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(600), (bytes, n) => {
				const len = Math.min(n, bytes.length);
				expect(elementChecksum(bytes, len)).toBe(checksum(bytes, len));
				const padded = new Uint8Array((len + 7 + 8) & ~7);
				padded.set(bytes.subarray(0, len), 8);
				new DataView(padded.buffer).setUint32(0, elementChecksum(padded, padded.length), true);
				expect(elementChecksum(padded, padded.length)).toBe(0);
			}),
		);
	});

	it('catches any single corrupted byte of an element', async () => {
		const d = await booted('570.144');
		await fc.assert(
			fc.asyncProperty(
				fc.integer({ min: 0, max: 48 + 32 + 200 - 1 }),
				fc.integer({ min: 1, max: 255 }),
				async (at, flip) => {
					const el = d.element(fn('570.144', 'NOP'), pattern(200, at));
					el[at]! ^= flip;
					await d.pushElement(el);
					const errs = await osErrors(d);
					expect(errs).toHaveLength(1);
					// Whatever was hit, the element is not executed: no NOP reply ever comes back.
					expect(d.events.filter((m) => m.function === 0)).toHaveLength(0);
				},
			),
			{ numRuns: 40 },
		);
		const ok = await d.call(fn('570.144', 'NOP'), pattern(16, 1));
		expect(ok.payload).toEqual(pattern(16, 1));
	});

	it('a corrupted seqNum is not trusted: the next good element is still accepted', async () => {
		const d = await booted('570.144');
		for (const at of [36, 37, 38, 39]) {
			const el = d.element(fn('570.144', 'NOP'), pattern(200, at));
			el[at]! ^= 0x5a; // the element's own seqNum field
			await d.pushElement(el);
			expect(await osErrors(d)).toHaveLength(1);
			const ok = await d.call(fn('570.144', 'NOP'), pattern(16, at));
			expect(ok.payload).toEqual(pattern(16, at));
		}
	});
});

describe('queue elements, wrap-around and continuation records', () => {
	it('echoes NOPs of random sizes through many ring wraps, keeping seqNum per direction', async () => {
		const d = await booted('535.113.01');
		await fc.assert(
			fc.asyncProperty(
				fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 12 }),
				async (sizes) => {
					for (const [i, n] of sizes.entries()) {
						const p = pattern(n, n + i);
						const r = await d.call(fn('535.113.01', 'NOP'), p);
						expect(sameBytes(r.payload, p)).toBe(true);
						expect(r.rpcResult).toBe(0);
					}
				},
			),
			{ numRuns: 30 },
		);
		const s = d.rig.gsp.inspect();
		expect(s.counters.protocolErrors.sequence).toBe(0);
		expect(d.rxSeq).toBeGreaterThan(63); // the status queue wrapped
	});

	it('reassembles large commands and splits large replies (sizes around every boundary, up to 1.1 MB)', async () => {
		const d = await booted('570.144');
		const { hClient, hSubdevice } = await d.basicTree();
		const boundaries = [
			0,
			1,
			65456 - 24 - 1,
			65456 - 24,
			65456 - 24 + 1,
			2 * 65456 - 24,
			2 * 65456 - 23,
			300_000,
		];
		await fc.assert(
			fc.asyncProperty(
				fc.oneof(fc.constantFrom(...boundaries), fc.integer({ min: 0, max: 1_100_000 })),
				async (n) => {
					const params = pattern(n, n);
					const r = await d.rmControl(hClient, hSubdevice, UNKNOWN_CTRL, params);
					expect(r.status).toBe(NV_STATUS.NV_ERR_NOT_SUPPORTED);
					expect(r.params.length).toBe(n);
					expect(sameBytes(r.params, params)).toBe(true);
					expect(r.elements).toBe(Math.max(1, Math.ceil((24 + n) / 65456)));
				},
			),
			{ numRuns: 24 },
		);
		expect(d.rig.gsp.inspect().counters.protocolErrors).toEqual({
			checksum: 0,
			header: 0,
			sequence: 0,
			'element-size': 0,
			continuation: 0,
			'queue-pointer': 0,
		});
	});

	it('keeps each side to its own pointers (swap-RX)', async () => {
		const d = await booted('535.113.01');
		for (let i = 0; i < 70; i++) await d.call(fn('535.113.01', 'NOP'), pattern(100, i));
		// Command queue header page: only what the driver wrote.
		const cmd = [0, 4, 8, 12, 16, 20, 24, 28, 32].map((o) => d.dv.getUint32(0x1000 + o, true));
		expect(cmd).toEqual([
			0,
			0x40000,
			0x1000,
			63,
			(2 + 70) % 63,
			1,
			0x20,
			0x1000,
			d.dv.getUint32(0x1020, true),
		]);
		// The GSP's read pointer into the command queue lives in the status queue's RX header.
		expect(d.gspReadPtr).toBe((2 + 70) % 63);
		// Status queue write pointer: 2 boot events + 70 replies, one page each.
		expect(d.dv.getUint32(0x41010, true)).toBe((2 + 70) % 63);
		expect(d.dv.getUint32(0x1020, true)).toBe((2 + 70) % 63);
	});

	it('interrupts the driver after publishing', async () => {
		const d = await booted('570.144');
		d.rig.irq.acknowledge();
		const before = d.rig.irq.raiseCount;
		await d.send(fn('570.144', 'NOP'), new Uint8Array(4));
		expect(d.rig.irq.pending()).toBe(false);
		d.rig.gsp.runUntilIdle();
		expect(d.rig.irq.pending()).toBe(true);
		expect(d.rig.irq.raiseCount).toBe(before + 1);
	});
});

describe('answers to what the driver got wrong', () => {
	it('drops an element with a bad checksum, logs it, and serves the next one', async () => {
		const d = await booted('570.144');
		const el = d.element(fn('570.144', 'NOP'), pattern(64, 3));
		el[32]! ^= 0x10;
		await d.pushElement(el);
		expect(await osErrors(d)).toEqual([expect.stringMatching(/element seqNum \d+ failed its checksum/)]);
		expect(d.rig.gsp.inspect().counters.protocolErrors.checksum).toBe(1);
		expect((await d.call(fn('570.144', 'NOP'), pattern(8, 9))).payload).toEqual(pattern(8, 9));
	});

	it('drops an element with a bad signature or header version', async () => {
		const d = await booted('535.113.01');
		const bad = d.element(fn('535.113.01', 'NOP'), new Uint8Array(8));
		new DataView(bad.buffer).setUint32(52, 0x43505257, true);
		await d.pushElement(reseal(bad));
		const old = d.element(fn('535.113.01', 'NOP'), new Uint8Array(8));
		new DataView(old.buffer).setUint32(48, 0x0200_0000, true);
		await d.pushElement(reseal(old));
		const errs = await osErrors(d);
		expect(errs).toHaveLength(2);
		expect(errs[0]).toMatch(/signature 0x43505257/);
		expect(errs[1]).toMatch(/header_version 0x2000000/);
		expect((await d.call(fn('535.113.01', 'NOP'), new Uint8Array(4))).rpcResult).toBe(0);
	});

	it('drops an element with the wrong seqNum and resynchronises to it', async () => {
		const d = await booted('570.144');
		const expected = d.txSeq;
		await d.pushElement(d.element(fn('570.144', 'NOP'), new Uint8Array(8), { seqNum: expected + 5 }));
		expect(await osErrors(d)).toEqual([
			`GSP-RM: command element seqNum ${expected + 5}, expected ${expected}`,
		]);
		d.txSeq = expected + 6;
		expect((await d.call(fn('570.144', 'NOP'), new Uint8Array(4))).rpcResult).toBe(0);
	});

	it('drops an oversized element (17 pages) and one whose length disagrees with elemCount', async () => {
		const d = await booted('570.144');
		await d.pushElement(d.element(fn('570.144', 'NOP'), new Uint8Array(16 * 4096)));
		const short = d.element(fn('570.144', 'NOP'), new Uint8Array(5000));
		new DataView(short.buffer).setUint32(56, 100, true);
		await d.pushElement(reseal(short));
		const errs = await osErrors(d);
		expect(errs[0]).toMatch(/elemCount 17 \(max 16/);
		expect(errs[1]).toMatch(/rpc.length 100 does not match elemCount 2/);
		expect((await d.call(fn('570.144', 'NOP'), new Uint8Array(4))).rpcResult).toBe(0);
	});

	it('rejects continuation records that do not continue anything, and half-sent commands', async () => {
		const d = await booted('535.113.01');
		await d.send(fn('535.113.01', 'CONTINUATION_RECORD'), new Uint8Array(100));
		// The first chunk of a 200 000-byte control, then something else.
		const head = new Uint8Array(65456);
		new DataView(head.buffer).setUint32(16, 200_000 - 24, true);
		await d.send(fn('535.113.01', 'GSP_RM_CONTROL'), head);
		const nop = await d.call(fn('535.113.01', 'NOP'), pattern(4, 4));
		expect(nop.payload).toEqual(pattern(4, 4));
		const errs = d.events
			.filter((m) => m.function === 0x1006)
			.map((m) => dec('535.113.01', 'rpc_os_error_log_v17_00', m.payload).errString);
		expect(errs[0]).toMatch(/unexpected continuation record/);
		expect(errs[1]).toMatch(/function 0 .* arrived while 134544 bytes of function 76 were still due/);
		expect(d.rig.gsp.inspect().counters.protocolErrors.continuation).toBe(2);
	});

	it('answers unknown functions, malformed payloads and late init calls in rpc_result', async () => {
		const d = await booted('570.144');
		const unknown = await d.call(fn('570.144', 'ALLOC_VIDMEM'), new Uint8Array(12));
		expect(unknown.rpcResult).toBe(RPC_RESULT.RPC_UNKNOWN_FUNCTION);
		const malformed = await d.call(fn('570.144', 'GSP_RM_CONTROL'), new Uint8Array(10));
		expect(malformed.rpcResult).toBe(RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT);
		const late = await d.call(fn('570.144', 'SET_REGISTRY'), d.registryPayload({ X: 1 }));
		expect(late.rpcResult).toBe(NV_STATUS.NV_ERR_INVALID_STATE);
	});
});

describe('events', () => {
	it('raises RC_TRIGGERED in the booted layout (20 B r535, 48 B r570)', async () => {
		for (const [version, size] of [
			['535.113.01', 20],
			['570.144', 48],
		] as const) {
			const d = await booted(version);
			d.rig.gsp.raiseEvent('RC_TRIGGERED', { nv2080EngineType: 1, chid: 7, exceptType: 0x1f });
			const [m] = await d.drain(1);
			expect(m!.function).toBe(0x1004);
			expect(m!.payload.length).toBe(size);
			const e = dec(version, 'rpc_rc_triggered_v17_02', m!.payload);
			expect([e.nv2080EngineType, e.chid, e.exceptType]).toEqual([1, 7, 0x1f]);
		}
	});

	it('uses the booted event numbering and refuses events the branch does not have', async () => {
		const r535 = await booted('535.113.01');
		const r570 = await booted('570.144');
		r535.rig.gsp.raiseEvent('NVLINK_FAULT_UP');
		r570.rig.gsp.raiseEvent('NVLINK_FAULT_UP');
		expect((await r535.drain(1))[0]!.function).toBe(0x101c);
		expect((await r570.drain(1))[0]!.function).toBe(0x101b);
		expect(() => r570.rig.gsp.raiseEvent('GSP_SEND_USER_SHARED_DATA')).toThrow(
			expect.objectContaining({ code: 'SIM_GSP_RM_UNKNOWN_EVENT' }),
		);
		expect(() => r535.rig.gsp.raiseEvent('FECS_ERROR')).toThrow(
			expect.objectContaining({ code: 'SIM_GSP_RM_UNKNOWN_EVENT' }),
		);
	});

	it('raises MMU_FAULT_QUEUED, POST_EVENT with its data tail, and OS_ERROR_LOG', async () => {
		const d = await booted('570.144');
		d.rig.gsp.raiseEvent('MMU_FAULT_QUEUED');
		d.rig.gsp.raiseEvent('POST_EVENT', {
			hClient: 0xc1d00001,
			hEvent: 0xbeef,
			eventDataSize: 3,
			eventData: Uint8Array.of(1, 2, 3),
		});
		d.rig.gsp.raiseEvent('OS_ERROR_LOG', { chid: 3, errString: 'Xid 31' });
		const [fault, post, log] = await d.drain(1);
		expect(fault!.function).toBe(ev('570.144', 'MMU_FAULT_QUEUED'));
		expect(fault!.payload.length).toBe(0);
		const p = dec('570.144', 'rpc_post_event_v17_00', post!.payload, 0);
		expect([p.hClient, p.hEvent, p.eventDataSize]).toEqual([0xc1d00001, 0xbeef, 3]);
		expect(post!.payload.subarray(32)).toEqual(Uint8Array.of(1, 2, 3));
		expect(dec('570.144', 'rpc_os_error_log_v17_00', log!.payload).errString).toBe('Xid 31');
	});
});
