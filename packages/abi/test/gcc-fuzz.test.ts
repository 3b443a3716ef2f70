/**
 * Random layouts against gcc: batches of 50 random structs/unions (mixed primitives, arrays, nesting,
 * unions, bit-fields, packed, aligned(N), #pragma pack(N), flexible arrays, char strings) are emitted as C,
 * compiled once per batch, and every size/alignment/offset/bit-field mask is compared with the computed
 * layout. Set ABI_FUZZ_SEED to replay a run; a failure prints the seed and the failing record's C source.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gccLayouts, HAVE_GCC, ourLayout, probesFor } from './support/gcc.ts';
import { batchArb, batchToC, batchToLayouts, dependencies } from './support/random-layouts.ts';

if (!HAVE_GCC) console.warn('[@gspkit/abi] gcc not found: skipping the random-layout gcc comparison');

const SEED = Number(process.env.ABI_FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const BATCHES = Number(process.env.ABI_FUZZ_BATCHES ?? 8);

describe.skipIf(!HAVE_GCC)('random layouts equal gcc', () => {
	it(`sizes, alignments, offsets and bit-field masks match gcc for ${BATCHES} random batches of 50 records`, () => {
		// Sampled rather than fc.assert'ed: shrinking would recompile per step; the failing record's C is
		// printed instead, with the seed to replay.
		const batches = fc.sample(batchArb(50), { numRuns: BATCHES, seed: SEED });
		let records = 0;
		for (const batch of batches) {
			const layouts = batchToLayouts(batch);
			const gcc = gccLayouts(batchToC(batch), probesFor(layouts));
			layouts.forEach((l, i) => {
				const c = batchToC(batch, dependencies(batch, i));
				expect(ourLayout(l), `ABI_FUZZ_SEED=${SEED}, record ${l.name}:\n${c}\n`).toEqual(gcc[l.name]);
				records++;
			});
		}
		expect(records).toBe(50 * BATCHES);
	});
});
