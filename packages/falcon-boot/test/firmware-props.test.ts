/**
 * Bad input: mutated and truncated real files, and random bytes, fed to every parser. The only acceptable
 * outcomes are a successful parse or a FirmwareFormatError naming a field and an offset inside the input;
 * never a RangeError/TypeError, and the number of bounds-checked reads stays proportional to the input.
 *
 * Inputs are the small real files plus a compacted copy of the 63 MB GA102 GSP ELF (its real headers,
 * tail sections and section header table around a 4 KiB stand-in for `.fwimage`); the big file itself is
 * only truncated through zero-copy `subarray` views and mutated in place (one byte at a time, restored).
 */

import {
	closeSync,
	fstatSync,
	mkdtempSync,
	openSync,
	readFileSync,
	readSync,
	rmSync,
	writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	ByteReader,
	FirmwareFormatError,
	identifyFirmwareFile,
	parseBinHeader,
	parseElf,
	parseFmc,
	parseGenBootloader,
	parseGspElf,
	parseHsFirmware,
	parseRiscvFirmware,
} from '../src/firmware/index.ts';
import { findRealFirmware, NO_FIRMWARE_MESSAGE, readelfSections } from './firmware-fixtures.ts';

const fw = findRealFirmware();
/** Scale the number of runs for a deeper search (e.g. GSPKIT_FUZZ_SCALE=50). */
const SCALE = Math.max(1, Number(process.env.GSPKIT_FUZZ_SCALE ?? 1));

type Parser = (b: Uint8Array) => unknown;
const GSP_NAME = 'nvidia/ga102/gsp/gsp-570.144.bin';
const PARSERS: Record<string, Parser> = {
	binHeader: (b) => parseBinHeader(b, 'input'),
	hs: (b) => parseHsFirmware(b, 'input'),
	riscv: (b) => parseRiscvFirmware(b, 'input'),
	genBootloader: (b) => parseGenBootloader(b, 'input'),
	elf: (b) => parseElf(b, 'input'),
	gsp: (b) => parseGspElf(b, 'input'),
	fmc: (b) => parseFmc(b, 'input'),
	fmcNoVerify: (b) => parseFmc(b, 'input', { verify: false }),
	identifyByContent: (b) => identifyFirmwareFile('input', b),
	identifyAsGsp: (b) => identifyFirmwareFile(GSP_NAME, b),
};
const PARSER_NAMES = Object.keys(PARSERS);

// Count bounds-checked reads: every read of every parser goes through ByteReader.need (or cstring).
let reads = 0;
const origNeed = ByteReader.prototype.need;
const origCstring = ByteReader.prototype.cstring;
beforeAll(() => {
	ByteReader.prototype.need = function (this: ByteReader, ...a: Parameters<ByteReader['need']>) {
		reads++;
		return origNeed.apply(this, a);
	};
	ByteReader.prototype.cstring = function (this: ByteReader, ...a: Parameters<ByteReader['cstring']>) {
		reads++;
		return origCstring.apply(this, a);
	};
});
afterAll(() => {
	ByteReader.prototype.need = origNeed;
	ByteReader.prototype.cstring = origCstring;
});

/**
 * Run `parse` on `input`: it must succeed or throw a FirmwareFormatError whose field is named and whose
 * offset lies within the input; and it must do at most `maxReads` bounds-checked reads.
 */
function checkOutcome(parse: Parser, input: Uint8Array, maxReads: number): 'ok' | 'error' {
	reads = 0;
	let outcome: 'ok' | 'error' = 'ok';
	try {
		parse(input);
	} catch (e) {
		if (!(e instanceof FirmwareFormatError)) throw new Error(`untyped error: ${String(e)}`, { cause: e });
		expect(e.code).toBe('FW_FORMAT');
		expect(typeof e.field).toBe('string');
		expect(e.field.length).toBeGreaterThan(0);
		expect(Number.isSafeInteger(e.offset)).toBe(true);
		expect(e.offset).toBeGreaterThanOrEqual(0);
		expect(e.offset).toBeLessThanOrEqual(input.length);
		expect(e.message).toContain(e.field);
		expect(e.details).toMatchObject({ field: e.field, offset: e.offset });
		expect(['input', GSP_NAME]).toContain(e.file);
		outcome = 'error';
	}
	expect(reads).toBeLessThanOrEqual(maxReads);
	return outcome;
}

/** Read `size` bytes at `offset` without loading the whole file. */
function readAt(path: string, offset: number, size: number): Uint8Array {
	const fd = openSync(path, 'r');
	try {
		const b = new Uint8Array(size);
		readSync(fd, b, 0, size, offset);
		return b;
	} finally {
		closeSync(fd);
	}
}

/**
 * A compact copy of a GSP ELF: ELF header + the first `keep` bytes of `.fwimage` + everything after
 * `.fwimage`, with e_shoff and the later sections' offsets shifted and `.fwimage` shrunk. Section layout
 * comes from readelf, not from the parser under test.
 */
function compactGspElf(path: string, keep = 4096): Uint8Array {
	const sections = readelfSections(path);
	const img = sections.find((s) => s.name === '.fwimage') as { offset: number; size: number };
	const fd = openSync(path, 'r');
	const size = fstatSync(fd).size;
	closeSync(fd);
	const tailStart = img.offset + img.size;
	const head = readAt(path, 0, img.offset + keep);
	const tail = readAt(path, tailStart, size - tailStart);
	const delta = tailStart - (img.offset + keep);
	const out = new Uint8Array(head.length + tail.length);
	out.set(head, 0);
	out.set(tail, head.length);
	const dv = new DataView(out.buffer);
	const shoff = Number(dv.getBigUint64(0x28, true)) - delta;
	dv.setBigUint64(0x28, BigInt(shoff), true);
	const shnum = dv.getUint16(0x3c, true);
	for (let i = 0; i < shnum; i++) {
		const at = shoff + i * 64;
		const off = Number(dv.getBigUint64(at + 0x18, true));
		if (off >= tailStart) dv.setBigUint64(at + 0x18, BigInt(off - delta), true);
		if (off === img.offset) dv.setBigUint64(at + 0x20, BigInt(keep), true);
	}
	return out;
}

// Needs no real firmware: runs everywhere.
it('random bytes, also behind a valid bin-header or ELF magic: typed errors only', () => {
	const prefixes = [
		new Uint8Array(0),
		Uint8Array.of(0xde, 0x10, 0, 0),
		Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0),
		Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0),
	];
	fc.assert(
		fc.property(
			fc.nat(prefixes.length - 1),
			fc.uint8Array({ maxLength: 600 }),
			fc.constantFrom(...PARSER_NAMES),
			(p, rest, parser) => {
				const pre = prefixes[p] as Uint8Array;
				const b = new Uint8Array(pre.length + rest.length);
				b.set(pre);
				b.set(rest, pre.length);
				checkOutcome(PARSERS[parser] as Parser, b, 2 * b.length + 1024);
			},
		),
		{ numRuns: 3000 * SCALE },
	);
});

describe.skipIf(fw === null)(
	`parsers on bad input (${fw === null ? NO_FIRMWARE_MESSAGE : 'real files'})`,
	() => {
		const nv = fw?.nvidia ?? '';
		const small: { name: string; bytes: Uint8Array }[] =
			fw === null
				? []
				: [
						'ga102/gsp/booter_load-570.144.bin',
						'tu102/gsp/booter_unload-535.113.01.bin',
						'ad102/gsp/scrubber-570.144.bin',
						'ga102/gsp/bootloader-570.144.bin',
						'tu102/gsp/bootloader-535.113.01.bin',
						'tu102/gsp/gen_bootloader-570.144.bin',
						'gh100/gsp/fmc-570.144.bin',
						'gb202/gsp/fmc-570.144.bin',
					].map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(nv, name))) }));
		const bigPath = join(nv, 'ga102/gsp/gsp-570.144.bin');
		const compact = fw === null ? new Uint8Array(0) : compactGspElf(bigPath);
		const inputs = [...small, { name: 'ga102 gsp-570.144 (compacted)', bytes: compact }];
		const budget = (len: number) => 2 * len + 1024;

		it('the compacted GSP ELF is a valid container: same sections as readelf reads from it', () => {
			const dir = mkdtempSync(join(tmpdir(), 'gspkit-fw-'));
			try {
				const p = join(dir, 'compact.bin');
				writeFileSync(p, compact);
				const g = parseGspElf(compact, p);
				expect(g.image.size).toBe(4096);
				expect(g.fwVersion?.text).toBe('570.144');
				expect(g.signatures).toHaveLength(7);
				expect(g.elf.sections.map((s) => [s.name, s.offset, s.size])).toEqual(
					readelfSections(p).map((s) => [s.name, s.offset, s.size]),
				);
			} finally {
				rmSync(dir, { recursive: true, force: true });
			}
		});

		it('each unmodified input parses with its own parser', () => {
			const own: Record<string, Parser> = {
				booter_load: PARSERS.hs as Parser,
				booter_unload: PARSERS.hs as Parser,
				scrubber: PARSERS.hs as Parser,
				bootloader: PARSERS.riscv as Parser,
				gen_bootloader: PARSERS.genBootloader as Parser,
				fmc: PARSERS.fmc as Parser,
			};
			for (const { name, bytes } of small) {
				const kind = (name.split('/').pop() as string).split('-')[0] as string;
				expect(checkOutcome(own[kind] as Parser, bytes, budget(bytes.length)), name).toBe('ok');
				expect(checkOutcome(PARSERS.identifyByContent as Parser, bytes, budget(bytes.length)), name).toBe(
					'ok',
				);
			}
		});

		it('mutated real files: every parser fails typed or succeeds, within bounded reads', () => {
			const edit = (len: number) =>
				fc.record({
					// Bias towards headers at both ends of the file, where every offset and count lives.
					pos: fc.oneof(
						fc.nat(Math.min(1023, len - 1)),
						fc.nat(Math.min(2047, len - 1)).map((x) => len - 1 - x),
						fc.nat(len - 1),
					),
					width: fc.constantFrom(1, 4),
					value: fc.oneof(
						fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, len, len - 1, len + 1),
						fc.nat(0xffffffff),
					),
				});
			const arb = fc
				.record({ file: fc.nat(inputs.length - 1), parser: fc.constantFrom(...PARSER_NAMES) })
				.chain(({ file, parser }) => {
					const len = (inputs[file] as { bytes: Uint8Array }).bytes.length;
					return fc.record({
						file: fc.constant(file),
						parser: fc.constant(parser),
						edits: fc.array(edit(len), { minLength: 1, maxLength: 6 }),
					});
				});
			let errors = 0;
			fc.assert(
				fc.property(arb, ({ file, parser, edits }) => {
					const bytes = Uint8Array.from((inputs[file] as { bytes: Uint8Array }).bytes);
					const dv = new DataView(bytes.buffer);
					for (const e of edits) {
						if (e.width === 1) bytes[e.pos] = e.value & 0xff;
						else if (e.pos + 4 <= bytes.length) dv.setUint32(e.pos, e.value >>> 0, true);
					}
					if (checkOutcome(PARSERS[parser] as Parser, bytes, budget(bytes.length)) === 'error') errors++;
				}),
				{ numRuns: 3000 * SCALE },
			);
			// The properties must actually reach the error paths.
			expect(errors).toBeGreaterThan(1000);
		});

		it('truncated real files: every parser fails typed (or succeeds), within bounded reads', () => {
			fc.assert(
				fc.property(
					fc.nat(inputs.length - 1),
					fc.constantFrom(...PARSER_NAMES),
					fc.double({ min: 0, max: 1, noNaN: true }),
					(file, parser, frac) => {
						const full = (inputs[file] as { bytes: Uint8Array }).bytes;
						const cut = full.subarray(0, Math.floor(frac * (full.length - 1)));
						checkOutcome(PARSERS[parser] as Parser, cut, budget(cut.length));
					},
				),
				{ numRuns: 1500 * SCALE },
			);
			// Every real file needs its last byte: the payload or the section header table ends the file.
			for (const { name, bytes } of inputs) {
				const kind = name.includes('fmc') ? 'fmc' : name.includes('gsp') ? 'gsp' : 'identifyByContent';
				for (const cut of [0, 1, 23, 24, 64, bytes.length >> 1, bytes.length - 1]) {
					expect(
						checkOutcome(PARSERS[kind] as Parser, bytes.subarray(0, cut), budget(cut)),
						`${name} cut at ${cut}`,
					).toBe('error');
				}
			}
		});

		describe('the 63 MB GA102 GSP ELF itself', () => {
			const big = fw === null ? new Uint8Array(0) : new Uint8Array(readFileSync(bigPath));
			const len = big.length;
			// Reads needed for a valid parse of this file; truncations and mutations must not need more than a
			// small multiple — the work depends on the headers, not on the 63 MB of image.
			const fixedBudget = 10_000;

			it('parses with a bounded number of reads', () => {
				expect(checkOutcome(PARSERS.gsp as Parser, big, fixedBudget)).toBe('ok');
				expect(reads).toBeLessThan(1000);
			});

			it('every truncation (zero-copy prefix) fails typed', () => {
				fc.assert(
					fc.property(
						fc.oneof(
							fc.nat(8192),
							fc.nat(40_000).map((x) => len - 1 - x),
							fc.nat(len - 1),
						),
						(cut) => {
							expect(checkOutcome(PARSERS.gsp as Parser, big.subarray(0, cut), fixedBudget)).toBe('error');
						},
					),
					{ numRuns: 300 * SCALE },
				);
			});

			it('single-byte mutations of its header regions (in place, restored) fail typed or parse', () => {
				const tail = len - 0x4ea0; // the sections after .fwimage and the section header table
				fc.assert(
					fc.property(
						fc.oneof(fc.nat(63), fc.integer({ min: tail, max: len - 1 })),
						fc.nat(255),
						(pos, value) => {
							const old = big[pos] as number;
							big[pos] = value;
							try {
								checkOutcome(PARSERS.identifyAsGsp as Parser, big, fixedBudget);
							} finally {
								big[pos] = old;
							}
						},
					),
					{ numRuns: 1000 * SCALE },
				);
			});
		});
	},
);
