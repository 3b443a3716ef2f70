import { AbiError, decode, encode, zero } from '@gspkit/abi';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IOCTL_DEFS, nouveauExec, nouveauGemNew, nouveauSync, structCodec } from '../src/index.ts';

const layouts = IOCTL_DEFS.flatMap((d) => (d.layout === undefined ? [] : [d.layout]));

describe('structCodec', () => {
	it('compiles the flat uAPI structs and falls back for nested ones', () => {
		expect(structCodec(nouveauExec).compiled).toBe(true);
		expect(structCodec(nouveauSync).compiled).toBe(true);
		expect(structCodec(nouveauGemNew).compiled).toBe(false);
	});

	it('decodes and re-encodes every ioctl struct exactly as the generic codec', () => {
		for (const layout of layouts) {
			const codec = structCodec(layout);
			fc.assert(
				fc.property(
					fc.uint8Array({ minLength: layout.size + 8, maxLength: layout.size + 8 }),
					fc.nat(8),
					(bytes, off) => {
						const want = decode(layout, bytes, off, { snapshot: false });
						const got = codec.decode(bytes, off);
						expect(got).toEqual(want);
						expect(Object.keys(got)).toEqual(Object.keys(want));
						const a = new Uint8Array(layout.size + 8);
						const b = new Uint8Array(layout.size + 8);
						encode(layout, want as never, a, off);
						codec.encode(got, b, off);
						expect(b).toEqual(a);
					},
				),
				{ numRuns: 30 },
			);
		}
	});

	it('encodeFields writes the given fields over zero, as deepMerge(zero) + encode', () => {
		const codec = structCodec(nouveauExec);
		fc.assert(
			fc.property(
				fc.record(
					{
						channel: fc.nat(0xffffffff),
						push_count: fc.nat(0xffffffff),
						push_ptr: fc.bigInt(0n, (1n << 64n) - 1n),
					},
					{ requiredKeys: [] },
				),
				(fields) => {
					const a = new Uint8Array(nouveauExec.size);
					encode(nouveauExec, { ...zero(nouveauExec), ...fields }, a, 0);
					const b = new Uint8Array(nouveauExec.size);
					codec.encodeFields(fields, b, 0);
					expect(b).toEqual(a);
				},
			),
		);
	});

	it('keeps the type and range checks', () => {
		const codec = structCodec(nouveauSync);
		const bytes = new Uint8Array(nouveauSync.size);
		expect(() => codec.encodeFields({ handle: 0x1_0000_0000 }, bytes)).toThrow(AbiError);
		expect(() => codec.encodeFields({ handle: -1 }, bytes)).toThrow(AbiError);
		expect(() => codec.encodeFields({ timeline_value: 1 << 30 }, bytes)).not.toThrow();
		expect(() => codec.encodeFields({ timeline_value: -1n }, bytes)).toThrow(AbiError);
		expect(() => codec.encode({ flags: 0, handle: 1 } as never, bytes)).toThrow(AbiError); // missing field
		expect(() => codec.encode({ flags: 0, handle: 1.5, timeline_value: 0n }, bytes)).toThrow(AbiError);
		expect(() => codec.decode(bytes, 1)).toThrow(AbiError); // short buffer, as decode()
	});
});
