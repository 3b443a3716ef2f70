import { chipByName } from '@gspkit/hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	COPY_CLASS,
	COPY_METHOD,
	copyMethodName,
	decodeHeader,
	decodePushbuffer,
	END_PB_SEGMENT_HEADER,
	generationClasses,
	HOST_METHOD,
	hostMethodName,
	immediateHeader,
	isChannelSchedError,
	MAX_LAUNCH_LENGTH,
	methodHeader,
	methodWrites,
	PushBuffer,
} from '../src/index.ts';

/** The header as the class header defines it, computed independently of the package's bitfield helper. */
function oracleHeader(secOp: number, subch: number, method: number, count: number): number {
	return (secOp * 2 ** 29 + count * 2 ** 16 + subch * 2 ** 13 + method / 4) >>> 0;
}

const SEC_OPS = { INC_METHOD: 1, NON_INC_METHOD: 3, ONE_INC: 5 } as const;

describe('method headers (hand-computed vectors)', () => {
	it('INC: SEM_ADDR_LO, subchannel 0, 5 words = 0x20050017', () => {
		expect(methodHeader('INC_METHOD', 0, 0x05c, 5)).toBe(0x20050017);
	});
	it('NON_INC: CE NOP (0x100), subchannel 4, 3 words = 0x60038040', () => {
		expect(methodHeader('NON_INC_METHOD', 4, 0x100, 3)).toBe(0x60038040);
	});
	it('IMMD_DATA: 0x1fff to method 0x20 on subchannel 1 = 0x9fff2008', () => {
		expect(immediateHeader(1, 0x020, 0x1fff)).toBe(0x9fff2008);
	});
	it('ONE_INC: method 0x3ffc, subchannel 7, 8191 words = 0xbfffefff', () => {
		expect(methodHeader('ONE_INC', 7, 0x3ffc, 0x1fff)).toBe(0xbfffefff);
	});
	it('END_PB_SEGMENT = 0xe0000000', () => {
		expect(END_PB_SEGMENT_HEADER).toBe(0xe0000000);
	});
	it('every single-bit field position lands where the header defines it', () => {
		expect(methodHeader('INC_METHOD', 0, 4, 0)).toBe(0x20000001); // ADDRESS bit 0
		expect(methodHeader('INC_METHOD', 0, 0x2000, 0)).toBe(0x20000800); // ADDRESS bit 11
		expect(methodHeader('INC_METHOD', 1, 0, 0)).toBe(0x20002000); // SUBCHANNEL bit 13
		expect(methodHeader('INC_METHOD', 4, 0, 0)).toBe(0x20008000); // SUBCHANNEL bit 15
		expect(methodHeader('INC_METHOD', 0, 0, 1)).toBe(0x20010000); // COUNT bit 16
		expect(methodHeader('INC_METHOD', 0, 0, 0x1000)).toBe(0x30000000); // COUNT bit 28
	});
	it('rejects out-of-range fields', () => {
		expect(() => methodHeader('INC_METHOD', 0, 0x5e, 1)).toThrow(/aligned/);
		expect(() => methodHeader('INC_METHOD', 0, 0x4000, 1)).toThrow(/0x4000/);
		expect(() => methodHeader('INC_METHOD', 8, 0, 1)).toThrow(/subchannel/);
		expect(() => methodHeader('INC_METHOD', 0, 0, 0x2000)).toThrow(/count/);
		expect(() => immediateHeader(0, 0, 0x2000)).toThrow(/data/);
		try {
			methodHeader('INC_METHOD', 0, 0, 0x2000);
		} catch (e) {
			expect(isChannelSchedError(e, 'CHSCHED_INVALID_ARGUMENT')).toBe(true);
		}
	});
});

describe('method headers (properties)', () => {
	const arbMethod = fc.integer({ min: 0, max: 0xfff }).map((a) => a * 4);
	it('encode matches the header definition and decodes back', () => {
		fc.assert(
			fc.property(
				fc.constantFrom('INC_METHOD', 'NON_INC_METHOD', 'ONE_INC') as fc.Arbitrary<keyof typeof SEC_OPS>,
				fc.integer({ min: 0, max: 7 }),
				arbMethod,
				fc.integer({ min: 0, max: 0x1fff }),
				(op, subch, method, count) => {
					const h = methodHeader(op, subch, method, count);
					expect(h).toBe(oracleHeader(SEC_OPS[op], subch, method, count));
					expect(decodeHeader(h)).toEqual({ secOp: op, subchannel: subch, method, count });
				},
			),
		);
	});
	it('immediate headers round-trip with the value in 28:16', () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 7 }),
				arbMethod,
				fc.integer({ min: 0, max: 0x1fff }),
				(s, m, v) => {
					const h = immediateHeader(s, m, v);
					expect(h).toBe(oracleHeader(4, s, m, v));
					expect(decodeHeader(h)).toEqual({
						secOp: 'IMMD_DATA_METHOD',
						subchannel: s,
						method: m,
						count: 0,
						immediate: v,
					});
				},
			),
		);
	});
	it('a random command stream decodes to exactly the writes it was built from', () => {
		const cmd = fc.record({
			kind: fc.constantFrom('inc', 'nonInc', 'oneInc', 'immd'),
			subch: fc.integer({ min: 0, max: 7 }),
			method: fc.integer({ min: 0, max: 0x3f0 }).map((a) => a * 4),
			data: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 6 }),
		});
		fc.assert(
			fc.property(fc.array(cmd, { maxLength: 20 }), (cmds) => {
				const pb = new PushBuffer(0xc56f, 4);
				const expected: { subchannel: number; method: number; data: number }[] = [];
				for (const c of cmds) {
					if (c.kind === 'immd') {
						const v = (c.data[0] as number) & 0x1fff;
						pb.immd(c.subch, c.method, v);
						expected.push({ subchannel: c.subch, method: c.method, data: v });
						continue;
					}
					pb[c.kind](c.subch, c.method, ...c.data);
					c.data.forEach((d, k) => {
						const step = c.kind === 'inc' ? k : c.kind === 'oneInc' ? Math.min(k, 1) : 0;
						expected.push({ subchannel: c.subch, method: c.method + 4 * step, data: d });
					});
				}
				const decoded = decodePushbuffer(pb.words());
				expect(decoded.error).toBeUndefined();
				expect(methodWrites(decoded)).toEqual(expected);
			}),
		);
	});
});

describe('decoder edge cases', () => {
	it('stops at END_PB_SEGMENT', () => {
		const pb = new PushBuffer().nop(1).endSegment().nop(2);
		const d = decodePushbuffer(pb.words());
		expect(d.ended).toBe(true);
		expect(methodWrites(d)).toEqual([{ subchannel: 0, method: HOST_METHOD.NOP, data: 1 }]);
	});
	it('reports a truncated command', () => {
		const d = decodePushbuffer([methodHeader('INC_METHOD', 0, 0x5c, 3), 1, 2]);
		expect(d.error?.reason).toMatch(/truncated/);
		expect(d.commands).toHaveLength(0);
	});
	it('reports reserved SEC_OPs', () => {
		expect(decodePushbuffer([0xc0000000]).error?.reason).toMatch(/RESERVED6/);
	});
	it('names methods', () => {
		expect(hostMethodName(0x6c)).toBe('SEM_EXECUTE');
		expect(copyMethodName(0x300)).toBe('LAUNCH_DMA');
		expect(hostMethodName(0x7c)).toBeUndefined();
	});
});

describe('host methods', () => {
	it('semaphore release (nouveau fence form) matches the C56F definitions word for word', () => {
		const w = new PushBuffer(0xc56f).semaphoreRelease(0x12_3456_7890n, 0xdeadbeef).words();
		// header INC SEM_ADDR_LO x5; ADDR_LO (31:2 in place); ADDR_HI 7:0; PAYLOAD_LO; PAYLOAD_HI; EXECUTE
		// EXECUTE = OPERATION RELEASE (1) | RELEASE_WFI_EN (bit 20) | PAYLOAD_SIZE 32BIT | TIMESTAMP_DIS = 0x00100001
		expect([...w]).toEqual([0x20050017, 0x34567890, 0x12, 0xdeadbeef, 0, 0x00100001]);
	});
	it('64-bit release with timestamp and no WFI', () => {
		const w = new PushBuffer(0xc56f)
			.semaphoreRelease(0x1000n, 0x1_0000_0002n, { payload64: true, wfi: false, timestamp: true })
			.words();
		// PAYLOAD_SIZE_64BIT bit 24, RELEASE_TIMESTAMP bit 25
		expect([...w]).toEqual([0x20050017, 0x1000, 0, 2, 1, 0x03000001]);
	});
	it('acquire ops encode OPERATION 2:0 and ACQUIRE_SWITCH_TSG 12', () => {
		const exec = (op: Parameters<PushBuffer['semaphoreAcquire']>[2]) =>
			new PushBuffer().semaphoreAcquire(0x2000n, 7, op).words()[5];
		expect(exec({})).toBe(3); // ACQ_CIRC_GEQ default
		expect(exec({ op: 'ACQUIRE' })).toBe(0);
		expect(exec({ op: 'ACQ_STRICT_GEQ' })).toBe(2);
		expect(exec({ op: 'ACQ_AND' })).toBe(4);
		expect(exec({ op: 'ACQ_NOR', switchTsg: true })).toBe(0x1005);
		expect(exec({ op: 'ACQUIRE', payload64: true })).toBe(0x01000000);
	});
	it('semaphore VA limits follow the host class (40-bit C56F, 57-bit C86F)', () => {
		expect(() => new PushBuffer(0xc56f).semaphoreRelease(1n << 40n, 1)).toThrow(/40-bit/);
		const w = new PushBuffer(0xc86f).semaphoreRelease((1n << 50n) + 8n, 1).words();
		expect(w[2]).toBe(1 << 18); // SEM_ADDR_HI 24:0 holds VA bits 56:32
		expect(() => new PushBuffer(0xc86f).semaphoreRelease(1n << 57n, 1)).toThrow(/57-bit/);
		expect(() => new PushBuffer().semaphoreRelease(0x1002n, 1)).toThrow(/aligned/);
		expect(() => new PushBuffer().semaphoreRelease(0x1004n, 1, { payload64: true })).toThrow(/8-byte/);
		expect(() => new PushBuffer().semaphoreRelease(0x1000n, 0x1_0000_0000n)).toThrow(/2\^32/);
	});
	it('membar: MEM_OP_A..D with SYS_MEMBAR and OPERATION MEMBAR (5 << 27)', () => {
		expect([...new PushBuffer().membar().words()]).toEqual([0x2004000a, 0, 0, 0, 0x28000000]);
		expect([...new PushBuffer().membar(false).words()]).toEqual([0x2004000a, 0, 0, 1, 0x28000000]);
	});
	it('TLB invalidate: all PDBs, or one PDB with aperture and address split 31:12 / 26:0', () => {
		expect([...new PushBuffer().tlbInvalidate().words()]).toEqual([0x2004000a, 0, 0, 1, 0x48000000]);
		const w = new PushBuffer()
			.tlbInvalidate({ pdb: { address: 0x1_2345_6000n, aperture: 'SYS_MEM_COHERENT' }, sysmembar: true })
			.words();
		expect([...w]).toEqual([0x2004000a, 0x800, 0, 0x23456000 | (2 << 10), 0x48000001]);
	});
	it('NON_STALL_INTERRUPT, NOP, FB_FLUSH, WFI, SET_OBJECT', () => {
		expect([...new PushBuffer().nonStallInterrupt().words()]).toEqual([0x20010008, 0]);
		expect([...new PushBuffer().nop(5).words()]).toEqual([0x20010002, 5]);
		expect([...new PushBuffer().fbFlush().words()]).toEqual([0x20010009, 0]);
		expect([...new PushBuffer().wfi().words()]).toEqual([0x2001001e, 1]);
		expect([...new PushBuffer().wfi('current').words()]).toEqual([0x2001001e, 0]);
		expect([...new PushBuffer().setObject(4, 0xc7b5).words()]).toEqual([0x20018000, 0xc7b5]);
		expect([...new PushBuffer().setObject(1, 0x906f, 0x1f).words()]).toEqual([0x20012000, 0x1f906f]);
	});
	it('fence(): release + SYS_MEMBAR + NON_STALL_INTERRUPT, 13 words', () => {
		const d = decodePushbuffer(new PushBuffer().fence(0x4000n, 9).words());
		expect(methodWrites(d).map((w) => [hostMethodName(w.method), w.data])).toEqual([
			['SEM_ADDR_LO', 0x4000],
			['SEM_ADDR_HI', 0],
			['SEM_PAYLOAD_LO', 9],
			['SEM_PAYLOAD_HI', 0],
			['SEM_EXECUTE', 0x00100001],
			['MEM_OP_A', 0],
			['MEM_OP_B', 0],
			['MEM_OP_C', 0],
			['MEM_OP_D', 0x28000000],
			['NON_STALL_INTERRUPT', 0],
		]);
		expect(new PushBuffer().fence(0x4000n, 9).length).toBe(13);
	});
	it('grows past its initial capacity', () => {
		const pb = new PushBuffer(0xc56f, 4);
		for (let i = 0; i < 100; i++) pb.nop(i);
		expect(pb.length).toBe(200);
		expect(methodWrites(decodePushbuffer(pb.words()))[99]?.data).toBe(99);
	});
});

function writesOf(pb: PushBuffer) {
	return methodWrites(decodePushbuffer(pb.words())).map((w) => [
		copyMethodName(w.method) ?? w.method,
		w.data,
	]);
}

describe('copy engine methods', () => {
	it('linear copy on AMPERE_DMA_COPY_A: offsets, length, LAUNCH_DMA = 0x186', () => {
		const pb = new PushBuffer();
		pb.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_A, 4).bind().copy({
			src: 0x1_2345_6780n,
			dst: 0xab_0000_1000n,
			length: 0x1234,
		});
		// LAUNCH_DMA: NON_PIPELINED (2) | FLUSH_ENABLE (1<<2) | SRC pitch (1<<7) | DST pitch (1<<8), virtual.
		expect(writesOf(pb)).toEqual([
			[0, 0xc6b5],
			['OFFSET_IN_UPPER', 1],
			['OFFSET_IN_LOWER', 0x23456780],
			['OFFSET_OUT_UPPER', 0xab],
			['OFFSET_OUT_LOWER', 0x1000],
			['LINE_LENGTH_IN', 0x1234],
			['LINE_COUNT', 1],
			['LAUNCH_DMA', 0x186],
		]);
		expect(decodePushbuffer(pb.words()).commands.every((c) => c.header.subchannel === 4)).toBe(true);
	});
	it('copy with a semaphore release after the launch (one word) = SEMAPHORE_TYPE 1 (bit 3)', () => {
		const pb = new PushBuffer();
		pb.copyEngine(COPY_CLASS.TURING_DMA_COPY_A).copy({
			src: 0x1000n,
			dst: 0x2000n,
			length: 64,
			semaphore: { va: 0x3_0000_0010n, payload: 42 },
		});
		expect(writesOf(pb).slice(-4)).toEqual([
			['SET_SEMAPHORE_A', 3],
			['SET_SEMAPHORE_B', 0x10],
			['SET_SEMAPHORE_PAYLOAD', 42],
			['LAUNCH_DMA', 0x18e],
		]);
	});
	it('64-bit semaphore payloads exist on C7B5/C8B5 only (PAYLOAD_UPPER 0x24c, LAUNCH_DMA bit 27)', () => {
		expect(() =>
			new PushBuffer()
				.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_A)
				.copy({ src: 0n, dst: 0x1000n, length: 4, semaphore: { va: 0x8n, payload: 1, payload64: true } }),
		).toThrow(/64-bit/);
		const pb = new PushBuffer();
		pb.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).copy({
			src: 0n,
			dst: 0x1000n,
			length: 4,
			semaphore: { va: 0x8n, payload: 0x5_0000_0006n, payload64: true },
		});
		expect(writesOf(pb).slice(-5)).toEqual([
			['SET_SEMAPHORE_A', 0],
			['SET_SEMAPHORE_B', 8],
			['SET_SEMAPHORE_PAYLOAD', 6],
			['SET_SEMAPHORE_PAYLOAD_UPPER', 5],
			['LAUNCH_DMA', 0x18e | (1 << 27)],
		]);
	});
	it('VA limits: 49 bits before Hopper (UPPER 16:0), 57 bits on C8B5 (UPPER 24:0)', () => {
		const big = 1n << 52n;
		expect(() =>
			new PushBuffer().copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).copy({ src: big, dst: 0n, length: 4 }),
		).toThrow(/49-bit/);
		const pb = new PushBuffer(0xc86f);
		pb.copyEngine(COPY_CLASS.HOPPER_DMA_COPY_A).copy({ src: big, dst: 0n, length: 4 });
		expect(writesOf(pb)[0]).toEqual(['OFFSET_IN_UPPER', 1 << 20]);
	});
	it('copies above 2 GiB are split; only the last launch flushes and releases', () => {
		const pb = new PushBuffer();
		pb.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).copy({
			src: 0x10_0000_0000n,
			dst: 0x20_0000_0000n,
			length: 5n * 2n ** 30n,
			semaphore: { va: 0x1000n, payload: 1 },
		});
		const w = writesOf(pb);
		const launches = w.filter(([n]) => n === 'LAUNCH_DMA').map(([, v]) => v as number);
		expect(launches).toEqual([0x182, 0x181, 0x18d]); // NON_PIPELINED first, then PIPELINED; flush+sem on last
		const lengths = w.filter(([n]) => n === 'LINE_LENGTH_IN').map(([, v]) => v);
		expect(lengths).toEqual([MAX_LAUNCH_LENGTH, MAX_LAUNCH_LENGTH, 2 ** 30]);
		const inLower = w.filter(([n]) => n === 'OFFSET_IN_LOWER').map(([, v]) => v);
		expect(inLower).toEqual([0, 0x80000000, 0]);
		const inUpper = w.filter(([n]) => n === 'OFFSET_IN_UPPER').map(([, v]) => v);
		expect(inUpper).toEqual([0x10, 0x10, 0x11]);
	});
	it('4-byte fill: REMAP_CONST_A, components DST_X=CONST_A size FOUR, length in elements, REMAP_ENABLE', () => {
		const pb = new PushBuffer();
		pb.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).fill({ dst: 0x4000n, length: 0x100, value: 0xcafef00d });
		expect(writesOf(pb)).toEqual([
			['SET_REMAP_CONST_A', 0xcafef00d],
			['SET_REMAP_CONST_B', 0],
			['SET_REMAP_COMPONENTS', 0x30004],
			['OFFSET_OUT_UPPER', 0],
			['OFFSET_OUT_LOWER', 0x4000],
			['LINE_LENGTH_IN', 0x40],
			['LINE_COUNT', 1],
			['LAUNCH_DMA', 0x586],
		]);
	});
	it('1-, 2- and 8-byte fills select component size and count', () => {
		const comp = (elementSize: 1 | 2 | 8, value: bigint) => {
			const pb = new PushBuffer();
			pb.copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).fill({ dst: 0x4000n, length: 64, value, elementSize });
			const w = writesOf(pb);
			return [w[0]?.[1], w[1]?.[1], w[2]?.[1], w[5]?.[1]];
		};
		expect(comp(1, 0xabn)).toEqual([0xab, 0, 0x4, 64]);
		expect(comp(2, 0xabcdn)).toEqual([0xabcd, 0, 0x10004, 32]);
		// DST_X=CONST_A, DST_Y=CONST_B (5<<4), FOUR (3<<16), TWO src (1<<20) and dst (1<<24) components
		expect(comp(8, 0x1122_3344_5566_7788n)).toEqual([0x55667788, 0x11223344, 0x1130054, 8]);
		expect(() =>
			new PushBuffer().copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).fill({ dst: 0n, length: 6, value: 1 }),
		).toThrow(/multiple of 4/);
		expect(() =>
			new PushBuffer().copyEngine(COPY_CLASS.AMPERE_DMA_COPY_B).fill({ dst: 0n, length: 4, value: 2 ** 32 }),
		).toThrow(/fit/);
	});
	it('offsets match the class headers', () => {
		expect(COPY_METHOD).toMatchObject({
			SET_SEMAPHORE_A: 0x240,
			LAUNCH_DMA: 0x300,
			OFFSET_IN_UPPER: 0x400,
			LINE_LENGTH_IN: 0x418,
			LINE_COUNT: 0x41c,
			SET_REMAP_CONST_A: 0x700,
			SET_REMAP_COMPONENTS: 0x708,
		});
		expect(HOST_METHOD).toMatchObject({ SEM_ADDR_LO: 0x5c, SEM_EXECUTE: 0x6c, WFI: 0x78, MEM_OP_D: 0x34 });
	});
});

describe('generation classes', () => {
	it('maps chips to host/copy/usermode classes and doorbells', () => {
		const ids = (n: Parameters<typeof chipByName>[0]) => {
			const g = generationClasses(chipByName(n));
			return [g.host.id, g.copy.id, g.usermodeClass, g.doorbellOffset];
		};
		expect(ids('TU102')).toEqual([0xc46f, 0xc5b5, 0xc461, 0x810090]);
		expect(ids('GA100')).toEqual([0xc56f, 0xc6b5, 0xc561, 0xbb0090]);
		expect(ids('GA102')).toEqual([0xc56f, 0xc7b5, 0xc561, 0xbb0090]);
		expect(ids('AD102')).toEqual([0xc56f, 0xc7b5, 0xc561, 0xbb0090]);
		expect(ids('GH100')).toEqual([0xc86f, 0xc8b5, 0xc661, 0xbb0090]);
		expect(() => generationClasses(chipByName('GB202'))).toThrow(/not supported/);
	});
});
