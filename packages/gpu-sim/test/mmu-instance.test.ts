/**
 * Instance-block page-directory words (reference B.5): written by hand as nouveau's gv100_vmm_join does,
 * decoded, and used to translate.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	decodeInstanceBlock,
	decodePageDirectoryWord,
	encodePageDirectoryWord,
	GpuMmu,
	pageDirectoryBase,
} from '../src/mmu/index.ts';
import { space } from './mmu-testkit.ts';

/** A 4 KiB instance block as 32-bit words. */
function block(): { words: Uint32Array; read32: (off: number) => number } {
	const words = new Uint32Array(1024);
	return {
		words,
		read32: (off) => {
			if (off % 4 !== 0 || off < 0 || off >= 4096) throw new Error(`bad offset ${off}`);
			return words[off / 4] as number;
		},
	};
}

/** What nouveau's gp100/gv100 join writes for a page directory at `pd` in `target` (0 vid, 2 coh, 3 ncoh). */
function join(words: Uint32Array, pd: bigint, target: number, limit: bigint) {
	let lo = Number(pd & 0xffff_f000n) | target | (1 << 10) | (1 << 11);
	if (target === 2) lo |= 1 << 2; // VOL for host memory
	words[0x200 / 4] = lo >>> 0;
	words[0x204 / 4] = Number(pd >> 32n);
	words[0x208 / 4] = Number((limit - 1n) & 0xffff_ffffn);
	words[0x20c / 4] = Number((limit - 1n) >> 32n);
	for (let i = 0; i < 64; i++) {
		words[(0x2a0 + i * 0x10) / 4] = i === 0 ? (words[0x200 / 4] as number) : 1;
		words[(0x2a4 + i * 0x10) / 4] = i === 0 ? (words[0x204 / 4] as number) : 1;
	}
	words[0x298 / 4] = 1;
	words[0x29c / 4] = 0;
}

describe('instance block decoding', () => {
	it('decodes what gv100_vmm_join writes and translates through subcontext 0', () => {
		const { mem, pt, pdb } = space('v2', 'sys-coherent');
		pt.map(0x1000n, 12, { aperture: 'video', pa: 0xabc000n });
		const b = block();
		join(b.words, pdb.address, 2, 1n << 49n);
		const ib = decodeInstanceBlock(b.read32);
		expect(ib.pdb).toMatchObject({
			target: 'sys-coherent',
			volatile: true,
			useVer2PtFormat: true,
			bigPageSize: 65536,
			faultReplayTex: false,
			faultReplayGcc: false,
			address: pdb.address,
		});
		expect(ib.addressLimit).toBe((1n << 49n) - 1n);
		expect(ib.subcontextValidMask).toBe(1n);
		expect(ib.subcontexts).toHaveLength(64);
		expect(ib.subcontexts[0]).toMatchObject({
			index: 0,
			valid: true,
			pdb: { target: 'sys-coherent', address: pdb.address },
		});
		expect(ib.subcontexts[1]).toMatchObject({
			index: 1,
			valid: false,
			pdb: { target: 'invalid', address: 4294967296n },
		});

		const mmu = new GpuMmu({ format: 'v2', memory: mem });
		const ok = mmu.translate(pageDirectoryBase(ib.subcontexts[0]?.pdb ?? ib.pdb), 0x1010n);
		expect(ok.ok && ok.pa).toBe(0xabc010n);
		const bad = mmu.translate(pageDirectoryBase(ib.subcontexts[5]?.pdb ?? ib.pdb), 0x1010n);
		expect(bad.ok ? 'ok' : [bad.fault.reason, bad.fault.level, bad.fault.faultTypeName]).toEqual([
			'bad-aperture',
			'PDB',
			'UNSUPPORTED_APERTURE',
		]);
	});

	it('maps TARGET 0/1/2/3 to video/invalid/coherent/non-coherent', () => {
		expect([0, 1, 2, 3].map((t) => decodePageDirectoryWord(t | 0xc00, 0).target)).toEqual([
			'video',
			'invalid',
			'sys-coherent',
			'sys-noncoherent',
		]);
	});

	it('decodes the flag bits and a 64-bit address', () => {
		const w = decodePageDirectoryWord(0xfedc_b000 | (1 << 4) | (1 << 5) | (1 << 2), 0x0001_2345);
		expect(w).toMatchObject({
			target: 'video',
			volatile: true,
			faultReplayTex: true,
			faultReplayGcc: true,
			useVer2PtFormat: false,
			bigPageSize: 131072,
			address: 0x0001_2345_fedc_b000n,
		});
	});

	it('an old-format or 128 KiB-big-page directory cannot be walked', () => {
		const { mem, pdb } = space('v2');
		const mmu = new GpuMmu({ format: 'v2', memory: mem });
		const old = pageDirectoryBase(decodePageDirectoryWord(Number(pdb.address) | (1 << 11), 0));
		const r1 = mmu.translate(old, 0n);
		expect(r1.ok ? 'ok' : r1.fault.reason).toBe('unsupported-format');
		const big = pageDirectoryBase(decodePageDirectoryWord(Number(pdb.address) | (1 << 10), 0));
		const r2 = mmu.translate(big, 0n);
		expect(r2.ok ? 'ok' : r2.fault.reason).toBe('unsupported-page-size');
	});

	it('encodePageDirectoryWord round-trips', () => {
		fc.assert(
			fc.property(
				fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((a) => a << 12n),
				fc.constantFrom('video', 'invalid', 'sys-coherent', 'sys-noncoherent' as const),
				fc.boolean(),
				fc.boolean(),
				fc.constantFrom(65536 as const, 131072 as const),
				(address, target, volatile, useVer2PtFormat, bigPageSize) => {
					const { lo, hi } = encodePageDirectoryWord({
						target,
						address,
						volatile,
						useVer2PtFormat,
						bigPageSize,
					});
					const w = decodePageDirectoryWord(lo, hi);
					expect(w).toMatchObject({ target, address, volatile, useVer2PtFormat, bigPageSize });
				},
			),
		);
		expect(() => encodePageDirectoryWord({ target: 'video', address: 0x1800n })).toThrow(/aligned/);
	});

	it('rejects a read32 that does not return 32-bit words', () => {
		expect(() => decodeInstanceBlock(() => 2 ** 33)).toThrow(/32-bit/);
	});
});
