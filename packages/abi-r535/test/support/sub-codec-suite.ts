/**
 * Property tests of the sub-interface codecs that build whole payloads (not one struct): the WPR meta, the
 * LIBOS argument page, the packed registry table and the CPU-sequencer program. Random inputs round-trip
 * through encode → decode, re-encoding gives the same bytes, and every truncation is `ABI_SHORT_BUFFER`.
 * Shared with `@gspkit/abi-r570` (loaded by path, as the codec suite is).
 */
import { AbiError } from '@gspkit/abi';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
	LibosRegion,
	RegistryEntry,
	RmApi,
	SequencerCommand,
	SequencerProgram,
	WprMeta,
} from '../../src/index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** Expect `f` to throw `ABI_SHORT_BUFFER`. */
function short(f: () => unknown, what: string): void {
	try {
		f();
	} catch (e) {
		expect(e, what).toBeInstanceOf(AbiError);
		expect((e as AbiError).code, what).toBe('ABI_SHORT_BUFFER');
		return;
	}
	expect.unreachable(`${what} decoded`);
}

/** A random `GspFwWprMeta` with the fields this branch has (the others are 0). */
function wprMetaArb(supports: RmApi['wpr']['supports']): fc.Arbitrary<WprMeta> {
	return fc.record({
		sysmemAddrOfRadix3Elf: u64,
		sizeOfRadix3Elf: u64,
		sysmemAddrOfBootloader: u64,
		sizeOfBootloader: u64,
		bootloaderCodeOffset: u64,
		bootloaderDataOffset: u64,
		bootloaderManifestOffset: u64,
		sysmemAddrOfSignature: u64,
		sizeOfSignature: u64,
		gspFwRsvdStart: u64,
		nonWprHeapOffset: u64,
		nonWprHeapSize: u64,
		gspFwWprStart: u64,
		gspFwHeapOffset: u64,
		gspFwHeapSize: u64,
		gspFwOffset: u64,
		bootBinOffset: u64,
		frtsOffset: u64,
		frtsSize: u64,
		gspFwWprEnd: u64,
		fbSize: u64,
		vgaWorkspaceOffset: u64,
		vgaWorkspaceSize: u64,
		bootCount: u64,
		partitionRpcAddr: u64,
		partitionRpcRequestOffset: u16,
		partitionRpcReplyOffset: u16,
		elfCodeOffset: u32,
		elfDataOffset: u32,
		elfCodeSize: u32,
		elfDataSize: u32,
		lsUcodeVersion: u32,
		gspFwHeapVfPartitionCount: u8,
		flags: supports.flags ? u8 : fc.constant(0),
		pmuReservedSize: supports.pmuReservedSize ? u32 : fc.constant(0),
		verified: u64,
	});
}

const libosRegionArb: fc.Arbitrary<Required<LibosRegion>> = fc.record({
	name: fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,7}$/),
	pa: u64,
	size: u64,
	kind: fc.constantFrom('contiguous' as const, 'radix3' as const),
	loc: fc.constantFrom('sysmem' as const, 'fb' as const),
});

const latin1NoNul = fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)) });

const registryArb: fc.Arbitrary<RegistryEntry[]> = fc.uniqueArray(
	fc.oneof(
		fc.record({ name: fc.stringMatching(/^[\x21-\x7e]{1,64}$/), value: u32 }),
		fc.record({ name: fc.stringMatching(/^[\x21-\x7e]{1,64}$/), string: latin1NoNul }),
		fc.record({ name: fc.stringMatching(/^[\x21-\x7e]{1,64}$/), binary: fc.uint8Array({ maxLength: 40 }) }),
	),
	{ selector: (e) => e.name, maxLength: 12 },
);

const commandArb: fc.Arbitrary<SequencerCommand> = fc.oneof(
	fc.record({ op: fc.constant('REG_WRITE' as const), addr: u32, val: u32 }),
	fc.record({ op: fc.constant('REG_MODIFY' as const), addr: u32, mask: u32, val: u32 }),
	fc.record({
		op: fc.constant('REG_POLL' as const),
		addr: u32,
		mask: u32,
		val: u32,
		timeout: u32,
		error: u32,
	}),
	fc.record({ op: fc.constant('DELAY_US' as const), val: u32 }),
	fc.record({ op: fc.constant('REG_STORE' as const), addr: u32, index: u32 }),
	fc.constantFrom(
		{ op: 'CORE_RESET' as const },
		{ op: 'CORE_START' as const },
		{ op: 'CORE_WAIT_FOR_HALT' as const },
		{ op: 'CORE_RESUME' as const },
	),
);

const programArb: fc.Arbitrary<SequencerProgram> = fc.record({
	bufferSizeDWord: u32,
	regSaveArea: fc.array(u32, { minLength: 8, maxLength: 8 }),
	commands: fc.array(commandArb, { maxLength: 24 }),
});

/** Register the properties for one branch's sub-interfaces. */
export function subInterfaceCodecProperties(version: string, api: RmApi, runs = 60): void {
	describe(`sub-interface codecs (${version})`, () => {
		it('wpr: encodeMeta → decodeMeta is the identity; magic and revision lead; a cut meta is short', () => {
			fc.assert(
				fc.property(wprMetaArb(api.wpr.supports), fc.integer({ min: 0, max: 255 }), (meta, cut) => {
					const bytes = api.wpr.encodeMeta(meta);
					expect(bytes.length).toBe(256);
					const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
					expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true)]).toEqual([
						api.wpr.magic,
						api.wpr.revision,
					]);
					const back = api.wpr.decodeMeta(bytes);
					expect(back).toEqual(meta);
					expect(hex(api.wpr.encodeMeta(back))).toBe(hex(bytes));
					short(() => api.wpr.decodeMeta(bytes.subarray(0, cut)), `wpr meta cut at ${cut}`);
				}),
				{ numRuns: runs },
			);
		});

		it('libos: encodeRegions → decodeRegions is the identity; a page cut before its terminator is short', () => {
			fc.assert(
				fc.property(fc.array(libosRegionArb, { maxLength: 128 }), fc.nat(), (regions, c) => {
					const page = api.libos.encodeRegions(regions);
					expect(page.length).toBe(4096);
					expect(api.libos.decodeRegions(page)).toEqual(regions);
					// Everything up to and including the terminating entry (or the whole page) is needed.
					const needed = Math.min(4096, (regions.length + 1) * api.libos.layout.size);
					const cut = c % needed;
					short(() => api.libos.decodeRegions(page.subarray(0, cut)), `libos page cut at ${cut}`);
					expect(api.libos.decodeRegions(page.subarray(0, needed))).toEqual(regions);
				}),
				{ numRuns: runs },
			);
		});

		it('registry: encode → decode is the identity and re-encodes identically; every prefix is short', () => {
			fc.assert(
				fc.property(registryArb, fc.nat(), (entries, c) => {
					const table = api.registry.encode(entries);
					const back = api.registry.decode(table);
					expect(back).toEqual(entries);
					expect(hex(api.registry.encode(back))).toBe(hex(table));
					const cut = c % table.length;
					short(
						() => api.registry.decode(table.subarray(0, cut)),
						`registry cut at ${cut} of ${table.length}`,
					);
				}),
				{ numRuns: runs },
			);
		});

		it('sequencer: encode → decode is the identity and re-encodes identically; every prefix is short', () => {
			fc.assert(
				fc.property(programArb, fc.nat(), (program, c) => {
					const payload = api.sequencer.encode(program);
					const back = api.sequencer.decode(payload);
					expect(back).toEqual(program);
					expect(hex(api.sequencer.encode(back))).toBe(hex(payload));
					const cut = c % payload.length;
					short(() => api.sequencer.decode(payload.subarray(0, cut)), `sequencer cut at ${cut}`);
				}),
				{ numRuns: runs },
			);
		});
	});
}
