import { InvalidArgumentError } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	isRpcError,
	messageQueueInitArguments,
	QueuePair,
	type RpcMessage,
	regionLayout,
	txHeaderValues,
	writePageTable,
} from '../src/index.ts';
import { manifestAbi } from './support/abi.ts';
import { makePair, transfer } from './support/pair.ts';
import {
	CMDQ,
	checksumU64,
	ELEM,
	elem32,
	elementBytes,
	fixChecksum,
	MAX_PAYLOAD,
	MSG_COUNT,
	PAGE,
	pattern,
	RPC,
	RX_READPTR,
	rd32,
	ringOffset,
	STATQ,
	sameBytes,
	setElem32,
	TX,
	wr32,
} from './support/spec.ts';

const abi = manifestAbi('r535');
const FN = 76; // GSP_RM_CONTROL in both branches; any function works for the transport
const CONT = 71;

describe('shared region', () => {
	it('has the layout GSP-RM expects: 129 PTEs, cmdq at 0x1000, statq at 0x41000, 0x81000 bytes', () => {
		const l = regionLayout();
		expect(l).toEqual({
			cmdqSize: 0x40000,
			statqSize: 0x40000,
			pteCount: 129,
			pageTableBytes: 0x1000,
			cmdqOffset: 0x1000,
			statqOffset: 0x41000,
			totalSize: 0x81000,
		});
		const args = messageQueueInitArguments(0x1_2345_6000n, l);
		expect(args).toEqual({
			sharedMemPhysAddr: 0x1_2345_6000n,
			pageTableEntryCount: 129,
			cmdQueueOffset: 0x1000n,
			statQueueOffset: 0x41000n,
		});
		// Pre-silicon: a 6× command queue needs more PTEs and a second table page when it exceeds 512.
		const big = regionLayout({ cmdqSize: 6 * 0x40000 });
		expect(big.pteCount).toBe((7 * 0x40000) / PAGE + 1);
		expect(big.statqOffset).toBe(0x1000 + 6 * 0x40000);
	});

	it('writes a page table that maps itself and every queue page, little-endian u64', () => {
		const l = regionLayout();
		const mem = new Uint8Array(l.totalSize).fill(0xee);
		const base = 0xa_bcde_f000n;
		writePageTable(mem, base, l);
		const dv = new DataView(mem.buffer);
		for (let i = 0; i < 129; i++) expect(dv.getBigUint64(i * 8, true)).toBe(base + BigInt(i) * 0x1000n);
		expect(mem[0]).toBe(0x00);
		expect(mem[1]).toBe(0xf0);
		expect(mem[4]).toBe(0x0a); // high half of PTE 0: a 32-bit truncation would lose it
		expect(mem[129 * 8]).toBe(0xee); // nothing past the last PTE
	});
});

describe('queue headers and link', () => {
	it('initTx writes the command-queue header exactly (version 0, 0x40000, 0x1000, 63, 0, SWAP_RX, 0x20, 0x1000)', () => {
		const { memory } = makePair(abi, { link: false });
		const cpu = new QueuePair({
			abi,
			memory,
			side: 'cpu',
			cmdqOffset: CMDQ,
			statqOffset: STATQ,
			cmdqSize: 0x40000,
			statqSize: 0x40000,
		});
		memory.fill(0xcc, CMDQ, CMDQ + PAGE);
		cpu.initTx();
		expect([...Object.values(TX)].map((o) => rd32(memory, CMDQ + o))).toEqual([
			0, 0x40000, 0x1000, 63, 0, 1, 0x20, 0x1000,
		]);
		expect(rd32(memory, CMDQ + RX_READPTR)).toBe(0);
		expect(memory.subarray(STATQ, STATQ + PAGE).every((b) => b === 0)).toBe(true); // the CPU never writes the GSP's page
		expect(txHeaderValues(0x40000, 32, 4)).toEqual({
			version: 0,
			size: 0x40000,
			msgSize: 0x1000,
			msgCount: 63,
			flags: 1,
			rxHdrOff: 0x20,
			entryOff: 0x1000,
		});
	});

	it('link retries until the peer header is written and checks size, msgSize, version, rxHdrOff, msgCount', () => {
		const { cpu, gsp, memory } = makePair(abi, { link: false });
		cpu.initTx();
		expect(cpu.checkPeer()?.reason).toBe('unwritten');
		expect(cpu.link()).toBe(false);
		gsp.initTx();
		const good = memory.slice(STATQ, STATQ + 0x40);
		const cases: [number, number, string][] = [
			[TX.version, 1, 'version'],
			[TX.size, 0x20000, 'size'],
			[TX.msgSize, 0x800, 'msgSize'],
			[TX.rxHdrOff, 0x10, 'rxHdrOff'],
			[TX.entryOff, 0x800, 'entryOff'],
			[TX.msgCount, 64, 'msgCount'],
			[TX.msgCount, 0, 'msgCount'],
			[TX.flags, 0, 'flags'],
		];
		for (const [off, v, reason] of cases) {
			memory.set(good, STATQ);
			wr32(memory, STATQ + off, v);
			expect(cpu.checkPeer()?.reason, reason).toBe(reason);
			expect(cpu.link()).toBe(false);
		}
		memory.set(good, STATQ);
		expect(cpu.checkPeer()).toBeUndefined();
		expect(cpu.link()).toBe(true);
		expect(cpu.rxSlots).toBe(63);
	});
});

describe('elements on the wire', () => {
	it('frames a request as the reference says, with a checksum that makes the element XOR to zero', () => {
		const { cpu, gsp, memory, counts } = makePair(abi);
		const payload = pattern(100, 7);
		expect(cpu.trySend(FN, 0x1234, payload)).toBe(true);
		const e = CMDQ + 0x1000; // entry 0
		expect(rd32(memory, e + ELEM.seqNum)).toBe(0);
		expect(rd32(memory, e + ELEM.elemCount)).toBe(1);
		expect(rd32(memory, e + ELEM.pad)).toBe(0);
		expect(memory.subarray(e, e + 32).every((b) => b === 0)).toBe(true); // auth tag, AAD
		const r = e + ELEM.rpc;
		expect(rd32(memory, r + RPC.headerVersion)).toBe(0x03000000);
		expect([...memory.subarray(r + RPC.signature, r + RPC.signature + 4)]).toEqual([0x56, 0x52, 0x50, 0x43]); // "VRPC"
		expect(rd32(memory, r + RPC.length)).toBe(32 + 100);
		expect(rd32(memory, r + RPC.function)).toBe(FN);
		expect(rd32(memory, r + RPC.result)).toBe(0xffffffff);
		expect(rd32(memory, r + RPC.resultPrivate)).toBe(0xffffffff);
		expect(rd32(memory, r + RPC.sequence)).toBe(0x1234);
		expect(rd32(memory, r + RPC.spare)).toBe(0);
		expect([...memory.subarray(r + 32, r + 132)]).toEqual([...payload]);
		expect(checksumU64(memory.subarray(e, e + 48 + 132))).toBe(0);
		const copy = memory.slice(e, e + 48 + 132);
		copy.fill(0, ELEM.checkSum, ELEM.checkSum + 4);
		expect(rd32(memory, e + ELEM.checkSum)).toBe(checksumU64(copy));
		expect(rd32(memory, CMDQ + TX.writePtr)).toBe(1);
		expect(counts.doorbells).toBe(1);
		const msg = gsp.receive()!;
		expect(msg.function).toBe(FN);
		expect(msg.sequence).toBe(0x1234);
		expect(sameBytes(msg.payload, payload)).toBe(true);
		expect(rd32(memory, STATQ + RX_READPTR)).toBe(1); // the GSP's progress lives in its own page
		expect(gsp.receive()).toBeUndefined();
	});

	it('zeroes the checksum padding to 8 bytes in a dirty slot, and nothing past it', () => {
		const { cpu, gsp, memory } = makePair(abi);
		const e = CMDQ + 0x1000;
		memory.fill(0xaa, e, e + PAGE); // an old message's bytes
		expect(cpu.trySend(FN, 1, pattern(101, 4))).toBe(true); // 48 + 32 + 101 = 181 bytes
		expect([...memory.subarray(e + 181, e + 184)]).toEqual([0, 0, 0]);
		expect(memory[e + 184]).toBe(0xaa);
		expect(checksumU64(memory.subarray(e, e + 181))).toBe(0);
		expect(checksumU64(memory.subarray(e, e + 184))).toBe(0);
		expect(gsp.receive()?.payload.length).toBe(101);
	});

	it('keeps one slot free: 62 one-page elements fill the 63-slot queue', () => {
		const { cpu, gsp } = makePair(abi);
		for (let i = 0; i < 62; i++) expect(cpu.trySend(FN, i, new Uint8Array(8))).toBe(true);
		expect(cpu.freeSlots()).toBe(0);
		expect(cpu.trySend(FN, 99, new Uint8Array(8))).toBe(false);
		expect(gsp.receive()?.sequence).toBe(0);
		expect(cpu.freeSlots()).toBe(1);
		expect(cpu.trySend(FN, 62, new Uint8Array(8))).toBe(true);
	});

	it('splits an element across the ring end and puts its tail at slot 0', () => {
		const { cpu, gsp, memory } = makePair(abi);
		// Advance to slot 61 with one-page elements.
		for (let i = 0; i < 61; i++) {
			cpu.trySend(FN, i, new Uint8Array(4));
			gsp.receive();
		}
		expect(rd32(memory, CMDQ + TX.writePtr)).toBe(61);
		const payload = pattern(3 * PAGE, 3); // 48 + 32 + 12288 bytes → 4 pages: 61, 62, 0, 1
		expect(cpu.trySend(FN, 77, payload)).toBe(true);
		expect(elem32(memory, CMDQ, 61, ELEM.elemCount)).toBe(4);
		expect(rd32(memory, CMDQ + TX.writePtr)).toBe(2);
		// Byte k of the payload is element byte 80 + k: slot 61 holds the first 2·4096 − 80 bytes, slot 0 the next.
		const firstPart = 2 * PAGE - 80;
		expect(memory[CMDQ + 0x1000 + 61 * PAGE + 80]).toBe(payload[0]);
		expect(memory[CMDQ + 0x1000 + 0]).toBe(payload[firstPart]);
		expect(memory[ringOffset(CMDQ, 61, 80 + payload.length - 1)]).toBe(payload[payload.length - 1]);
		expect(checksumU64(elementBytes(memory, CMDQ, 61, 80 + payload.length))).toBe(0);
		const msg = gsp.receive()!;
		expect(sameBytes(msg.payload, payload)).toBe(true);
		expect(rd32(memory, STATQ + RX_READPTR)).toBe(2);
	});

	it('splits payloads over 65456 bytes into CONTINUATION_RECORDs and reassembles them', () => {
		for (const size of [
			0,
			1,
			MAX_PAYLOAD - 1,
			MAX_PAYLOAD,
			MAX_PAYLOAD + 1,
			2 * MAX_PAYLOAD,
			2 * MAX_PAYLOAD + 5,
		]) {
			const { cpu, gsp, memory } = makePair(abi, { gspHint: () => size });
			const payload = pattern(size, size + 1);
			const expectedElems = size <= MAX_PAYLOAD ? 1 : Math.ceil(size / MAX_PAYLOAD);
			expect(cpu.trySend(FN, 5, payload)).toBe(true);
			let slot = 0;
			for (let k = 0; k < expectedElems; k++) {
				const chunk = Math.min(MAX_PAYLOAD, size - k * MAX_PAYLOAD);
				expect(elem32(memory, CMDQ, slot, ELEM.seqNum)).toBe(k);
				expect(elem32(memory, CMDQ, slot, ELEM.rpc + RPC.function)).toBe(k === 0 ? FN : CONT);
				expect(elem32(memory, CMDQ, slot, ELEM.rpc + RPC.length)).toBe(32 + chunk);
				expect(elem32(memory, CMDQ, slot, ELEM.elemCount)).toBe(Math.ceil((80 + chunk) / PAGE));
				slot = (slot + Math.ceil((80 + chunk) / PAGE)) % MSG_COUNT;
			}
			const msg = gsp.receive()!;
			expect(msg.elements, `size ${size}`).toBe(expectedElems);
			expect(msg.function).toBe(FN);
			expect(sameBytes(msg.payload, payload)).toBe(true);
			expect(cpu.stats.continuationsSent).toBe(expectedElems - 1);
		}
	});

	it('assembles large messages in a caller-provided buffer when asked to', () => {
		const big = new Uint8Array(300_000).fill(0xee);
		const { cpu, gsp } = makePair(abi, { gspHint: () => 200_000, gspAllocate: () => big });
		const payload = pattern(200_000, 8);
		const msg = transfer(cpu, gsp, FN, 1, payload);
		expect(msg.payload.buffer).toBe(big.buffer);
		expect(msg.payload.length).toBe(200_000);
		expect(sameBytes(msg.payload, payload)).toBe(true);
		expect(big[200_000]).toBe(0xee);
		const small = makePair(abi, { gspHint: () => 70_000, gspAllocate: () => new Uint8Array(10) });
		expect(() => transfer(small.cpu, small.gsp, FN, 1, pattern(70_000, 1))).toThrow(/too small/);
	});

	it('without a length hint ends a large message at a short continuation or at the next message', () => {
		const { cpu, gsp } = makePair(abi);
		const a = pattern(MAX_PAYLOAD + 10, 1);
		cpu.trySend(FN, 1, a);
		expect(sameBytes(gsp.receive()!.payload, a)).toBe(true);
		const b = pattern(2 * MAX_PAYLOAD, 2); // exact multiple: ambiguous until the next element arrives
		cpu.trySend(FN, 2, b);
		expect(gsp.receive()).toBeUndefined();
		expect(gsp.receiving).toBe(true);
		cpu.trySend(FN, 3, new Uint8Array(4));
		expect(sameBytes(gsp.receive()!.payload, b)).toBe(true);
		expect(gsp.receive()?.sequence).toBe(3);
	});
});

describe.each([
	['plain shared memory', false],
	['a shared wasm memory (checksums folded in place)', true],
])('round trips (property), region in %s', (_name, wasm) => {
	it('random payload sizes 0 … 4 MiB round-trip through both queues, across the ring end', () => {
		const sizes = new Map<number, number>();
		const hint = (_fn: number, seq: number): number | undefined => sizes.get(seq);
		const { cpu, gsp } = makePair(abi, { cpuHint: hint, gspHint: hint, wasm });
		let seq = 0;
		const size = fc.oneof(
			{ weight: 6, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
			{ weight: 3, arbitrary: fc.integer({ min: 0, max: 400_000 }) },
			{ weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * 1024 * 1024 }) },
		);
		fc.assert(
			fc.property(size, fc.integer({ min: 0, max: 40 }), fc.integer(), (n, shift, seed) => {
				// Small messages first, so each run starts at an arbitrary ring position.
				for (let i = 0; i < shift; i++) {
					cpu.trySend(FN, 0xffff, new Uint8Array(i));
					gsp.receive();
				}
				const s = ++seq;
				sizes.set(s, n);
				const payload = pattern(n, seed);
				const there = transfer(cpu, gsp, FN, s, payload);
				expect(there.sequence).toBe(s);
				expect(sameBytes(there.payload, payload)).toBe(true);
				const back = transfer(gsp, cpu, FN, s, there.payload);
				expect(sameBytes(back.payload, payload)).toBe(true);
				expect(back.elements).toBe(n <= MAX_PAYLOAD ? 1 : Math.ceil(n / MAX_PAYLOAD));
			}),
			{ numRuns: 30 },
		);
		expect(cpu.txSeqNum).toBe(gsp.rxSeqNum);
		expect(gsp.txSeqNum).toBe(cpu.rxSeqNum);
	});

	it('random byte corruption of an element is always detected and never delivered', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 150_000 }),
				fc.integer({ min: 0, max: 62 }),
				fc.nat(),
				fc.integer({ min: 1, max: 255 }),
				fc.nat(),
				(n, shift, where, flip, elementPick) => {
					const { cpu, gsp, memory } = makePair(abi, { cpuHint: () => n, wasm });
					for (let i = 0; i < shift; i++) {
						gsp.trySend(FN, 0, new Uint8Array(0));
						cpu.receive();
					}
					const payload = pattern(n, where);
					// Stream the message in without receiving so every element sits in the ring.
					const pages = gsp.elementPages(n);
					const slots: number[] = [];
					let slot = rd32(memory, STATQ + TX.writePtr);
					const total = pages.reduce((a, b) => a + b, 0);
					fc.pre(total <= 62);
					for (let i = 0; i < pages.length; i++) {
						slots.push(slot);
						gsp.sendElement(FN, 9, payload, undefined, i);
						slot = (slot + pages[i]!) % MSG_COUNT;
					}
					// Corrupt one byte inside one element's checksummed span (header + rpc.length).
					const k = elementPick % slots.length;
					const len = ELEM.rpc + elem32(memory, STATQ, slots[k]!, ELEM.rpc + RPC.length);
					const at = where % len;
					memory[ringOffset(STATQ, slots[k]!, at)]! ^= flip;
					let delivered: RpcMessage | undefined;
					let error: unknown;
					try {
						for (let i = 0; i < slots.length && delivered === undefined; i++) delivered = cpu.receive();
					} catch (e) {
						error = e;
					}
					expect(delivered).toBeUndefined();
					expect(isRpcError(error)).toBe(true);
					const code = (error as { code: string }).code;
					const inCountOrLength =
						(at >= ELEM.elemCount && at < ELEM.elemCount + 4) ||
						(at >= ELEM.rpc + RPC.length && at < ELEM.rpc + RPC.length + 4);
					if (inCountOrLength) expect(['RPC_CHECKSUM', 'RPC_BAD_ELEMENT']).toContain(code);
					else expect(code).toBe('RPC_CHECKSUM');
					// The element stays unconsumed: trying again fails the same way.
					expect(() => {
						for (let i = 0; i < slots.length; i++) cpu.receive();
					}).toThrow();
				},
			),
			{ numRuns: 60 },
		);
	});
});

describe('in-place checksums on a shared wasm memory', () => {
	it('write byte-identical elements to the plain path, for every element size and ring position', () => {
		const plain = makePair(abi, { cpuHint: () => undefined });
		const wasm = makePair(abi, { cpuHint: () => undefined, wasm: true });
		for (const n of [0, 1, 3, 4, 31, 32, 33, 255, 256, 257, 4000, 4096 - 80, 20_000, MAX_PAYLOAD, 200_000]) {
			const payload = pattern(n, n);
			for (const p of [plain, wasm]) {
				const pages = p.gsp.elementPages(n);
				for (let i = 0; i < pages.length; i++) {
					p.gsp.sendElement(FN, 5, payload, undefined, i);
					// Receive as we go so the ring never fills and wraps at varying positions.
					p.cpu.receive();
				}
			}
			expect(sameBytes(wasm.memory, plain.memory)).toBe(true);
		}
	});

	it('refuses a wasm memory the region is not a view of', () => {
		const other = makePair(abi, { wasm: true });
		const plain = makePair(abi);
		expect(
			() =>
				new QueuePair({
					abi,
					memory: plain.memory,
					wasmMemory: { buffer: other.memory.buffer as SharedArrayBuffer },
					side: 'cpu',
					cmdqOffset: plain.layout.cmdqOffset,
					statqOffset: plain.layout.statqOffset,
					cmdqSize: plain.layout.cmdqSize,
					statqSize: plain.layout.statqSize,
				}),
		).toThrow(InvalidArgumentError);
	});
});

describe('transport errors', () => {
	function pairWithOne(payload = new Uint8Array(16)) {
		const p = makePair(abi);
		expect(p.gsp.trySend(FN, 1, payload)).toBe(true);
		return p;
	}

	it('a seqNum gap is RPC_SEQUENCE (checksum fixed, so only the sequence is wrong)', () => {
		const { cpu, memory } = pairWithOne();
		setElem32(memory, STATQ, 0, ELEM.seqNum, 1);
		fixChecksum(memory, STATQ, 0);
		expect(() => cpu.receive()).toThrow(expect.objectContaining({ code: 'RPC_SEQUENCE' }));
	});

	it('an elemCount that disagrees with rpc.length, is 0, above 16 or beyond what was published is RPC_BAD_ELEMENT', () => {
		for (const bad of [0, 2, 17, 40]) {
			const { cpu, memory } = pairWithOne();
			setElem32(memory, STATQ, 0, ELEM.elemCount, bad);
			fixChecksum(memory, STATQ, 0);
			expect(() => cpu.receive(), `elemCount ${bad}`).toThrow(
				expect.objectContaining({ code: 'RPC_BAD_ELEMENT' }),
			);
		}
	});

	it('a wrong signature or header version is RPC_BAD_ELEMENT', () => {
		for (const [off, v] of [
			[RPC.signature, 0x43505257],
			[RPC.headerVersion, 0x02000000],
		] as const) {
			const { cpu, memory } = pairWithOne();
			setElem32(memory, STATQ, 0, ELEM.rpc + off, v);
			fixChecksum(memory, STATQ, 0);
			expect(() => cpu.receive()).toThrow(expect.objectContaining({ code: 'RPC_BAD_ELEMENT' }));
		}
	});

	it('a CONTINUATION_RECORD out of the blue is RPC_UNEXPECTED_CONTINUATION', () => {
		const p = makePair(abi);
		p.gsp.trySend(CONT, 0, new Uint8Array(8));
		expect(() => p.cpu.receive()).toThrow(expect.objectContaining({ code: 'RPC_UNEXPECTED_CONTINUATION' }));
	});

	it('another message where a continuation is required is RPC_UNEXPECTED_CONTINUATION', () => {
		const p = makePair(abi, { cpuHint: () => MAX_PAYLOAD + 100 });
		p.gsp.sendElement(FN, 1, new Uint8Array(MAX_PAYLOAD + 100), undefined, 0);
		p.gsp.trySend(FN, 2, new Uint8Array(8));
		expect(() => p.cpu.receive()).toThrow(expect.objectContaining({ code: 'RPC_UNEXPECTED_CONTINUATION' }));
	});

	it('a peer pointer outside the queue is RPC_BAD_POINTER', () => {
		const p = makePair(abi);
		wr32(p.memory, STATQ + TX.writePtr, 63);
		expect(() => p.cpu.receive()).toThrow(expect.objectContaining({ code: 'RPC_BAD_POINTER' }));
		wr32(p.memory, STATQ + RX_READPTR, 99);
		expect(() => p.cpu.freeSlots()).toThrow(expect.objectContaining({ code: 'RPC_BAD_POINTER' }));
	});
});

describe('swap-RX ownership', () => {
	it('each side writes only its own queue page and its own entries', () => {
		const { cpu, gsp, memory } = makePair(abi);
		const snapshot = () => memory.slice();
		const diff = (a: Uint8Array, b: Uint8Array): number[] => {
			const out: number[] = [];
			for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
			return out;
		};
		for (let round = 0; round < 3; round++) {
			let before = snapshot();
			cpu.trySend(FN, round, pattern(5000, round));
			expect(diff(before, memory).every((i) => i >= CMDQ && i < STATQ)).toBe(true);
			before = snapshot();
			gsp.receive();
			// The GSP's read progress through the command queue is in the status-queue page.
			expect(diff(before, memory)).toEqual([STATQ + RX_READPTR]);
			before = snapshot();
			gsp.trySend(FN, round, pattern(100, round));
			expect(diff(before, memory).every((i) => i >= STATQ)).toBe(true);
			before = snapshot();
			cpu.receive();
			expect(diff(before, memory)).toEqual([CMDQ + RX_READPTR]);
		}
	});
});
