/**
 * The instance block's page-directory part as written by `@gspkit/mmu` and read by `@gspkit/gpu-sim`'s
 * independent decoder (`NV_RAMIN_PAGE_DIR_BASE_*`, `ADR_LIMIT`, `SC_PDB_VALID`, `SC_PAGE_DIR_BASE_*`): target,
 * VOL, format bits, address, limit and the subcontext table must agree, for MMU v2 and v3; and the simulated
 * MMU, starting from a subcontext's PDB the device reads out of DMA memory, walks the tables mmu built.
 */

import {
	createSimulatedGpu,
	decodeInstanceBlock,
	type InstanceBlockMmu,
	PCI,
	type PdbTarget,
	pageDirectoryBase,
	type SimulatedGpu,
} from '@gspkit/gpu-sim';
import { chipByName } from '@gspkit/hal';
import {
	type PageDirectoryConfig,
	RAMIN,
	type TableAperture,
	VaSpace,
	writeInstanceBlockPageDirectory,
} from '@gspkit/mmu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const TARGET: Record<TableAperture, PdbTarget> = {
	video: 'video',
	sysCoherent: 'sys-coherent',
	sysNonCoherent: 'sys-noncoherent',
};

/** Decode a host-side instance block with gpu-sim's decoder. */
function decode(inst: Uint8Array): InstanceBlockMmu {
	const v = new DataView(inst.buffer, inst.byteOffset, inst.byteLength);
	return decodeInstanceBlock((offset) => v.getUint32(offset, true));
}

/** What the device reads: the instance block through its own DMA path. */
function deviceDecode(gpu: SimulatedGpu, busAddress: bigint): InstanceBlockMmu {
	const bytes = gpu.dmaRead(busAddress, RAMIN.SIZE);
	return decode(bytes);
}

function simGpu(chip: 'ga102' | 'gh100'): SimulatedGpu {
	const gpu = createSimulatedGpu({ chip, dmaPoolSize: 64 << 20 });
	gpu.config.write16(PCI.COMMAND, gpu.config.read16(PCI.COMMAND) | PCI.COMMAND_BUS_MASTER);
	return gpu;
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('instance block: mmu writes, gpu-sim decodes', () => {
	it('every field of random page-directory configurations agrees', () => {
		fc.assert(
			fc.property(
				fc.record({
					aperture: fc.constantFrom<TableAperture>('video', 'sysCoherent', 'sysNonCoherent'),
					page: fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
					volatile: fc.option(fc.boolean(), { nil: undefined }),
					faultReplayTex: fc.boolean(),
					faultReplayGcc: fc.boolean(),
				}),
				fc.oneof(
					fc.record({ limit: fc.bigInt({ min: 1n, max: 1n << 57n }) }),
					fc.record({ format: fc.constantFrom('v2' as const, 'v3' as const) }),
				),
				u64,
				fc.boolean(),
				(pd, limitOrFormat, mask, dirty) => {
					const inst = new Uint8Array(RAMIN.SIZE).fill(dirty ? 0xff : 0);
					const cfg: PageDirectoryConfig = {
						pdb: { aperture: pd.aperture, address: pd.page << 12n },
						faultReplayTex: pd.faultReplayTex,
						faultReplayGcc: pd.faultReplayGcc,
						...(pd.volatile === undefined ? {} : { volatile: pd.volatile }),
					};
					writeInstanceBlockPageDirectory(inst, cfg, { ...limitOrFormat, subcontexts: mask });
					const d = decode(inst);
					const expectedPdb = {
						target: TARGET[pd.aperture],
						// nouveau's rule: VOL for coherent system memory unless the caller says otherwise.
						volatile: pd.volatile ?? pd.aperture === 'sysCoherent',
						faultReplayTex: pd.faultReplayTex,
						faultReplayGcc: pd.faultReplayGcc,
						useVer2PtFormat: true,
						bigPageSize: 65536,
						address: pd.page << 12n,
					};
					expect(d.pdb).toMatchObject(expectedPdb);
					const limit =
						'limit' in limitOrFormat
							? limitOrFormat.limit
							: 1n << (limitOrFormat.format === 'v2' ? 49n : 57n);
					expect(d.addressLimit).toBe(limit - 1n); // ADR_LIMIT holds limit − 1 (nouveau)
					expect(d.subcontextValidMask).toBe(mask);
					for (const sc of d.subcontexts) {
						const on = ((mask >> BigInt(sc.index)) & 1n) === 1n;
						expect(sc.valid).toBe(on);
						// Valid subcontexts copy the channel's PDB; the others are TARGET INVALID (nouveau writes 1, 1).
						if (on) expect([sc.pdb.lo, sc.pdb.hi]).toEqual([d.pdb.lo, d.pdb.hi]);
						else expect([sc.pdb.target, sc.pdb.lo, sc.pdb.hi]).toEqual(['invalid', 1, 1]);
					}
				},
			),
			{ numRuns: 200 },
		);
	});

	for (const [chip, format, vaBits, root] of [
		['ga102', 'v2', 49n, 'PDE3'],
		['gh100', 'v3', 57n, 'PDE4'],
	] as const) {
		it(`${format} (${chip}): the default limit is the format's ${vaBits}-bit VA, and a subcontext's PDB walks mmu's tables`, async () => {
			const gpu = simGpu(chip);
			try {
				const vas = new VaSpace({ format: chipByName(chip), platform: gpu });
				expect(vas.format.name).toBe(format);
				const bo = {
					handle: 1,
					aperture: 'video',
					extents: [{ address: 0x4000_0000n, size: 0x20_0000n }],
				} as const;
				const va = 0x1234_0000_0000n;
				vas.apply([{ op: 'map', va, size: 0x20_0000n, object: bo }]);

				const inst = gpu.dma.alloc(RAMIN.SIZE, { label: 'instance block' });
				const subcontexts = (1n << 63n) | (1n << 3n) | 1n;
				writeInstanceBlockPageDirectory(inst.view, { pdb: vas.pdb }, { format: vas.format, subcontexts });
				const d = deviceDecode(gpu, inst.busAddress);
				expect(d.addressLimit).toBe((1n << vaBits) - 1n);
				expect(d.addressLimit + 1n).toBe(vas.vaLimit);
				expect(d.pdb).toMatchObject({
					target: TARGET[vas.pdb.aperture],
					address: vas.pdb.address,
					volatile: vas.pdb.aperture === 'sysCoherent',
				});
				expect(d.subcontextValidMask).toBe(subcontexts);
				expect(d.subcontexts.filter((s) => s.valid).map((s) => s.index)).toEqual([0, 3, 63]);

				// The GPU follows subcontext 3's PDB to the root and through mmu's tables.
				const pdb3 = pageDirectoryBase(d.subcontexts[3]!.pdb);
				expect(gpu.mmu.translate(pdb3, va + 0x1_2345n)).toMatchObject({
					ok: true,
					aperture: 'video',
					pa: 0x4001_2345n,
					pageSize: 0x20_0000,
				});
				// An invalid subcontext's PDB faults before any table is read.
				expect(gpu.mmu.translate(pageDirectoryBase(d.subcontexts[1]!.pdb), va)).toMatchObject({
					ok: false,
					fault: { level: 'PDB', reason: 'bad-aperture' },
				});
				vas.apply([{ op: 'unmap', va, size: 0x20_0000n }]);
				expect(gpu.mmu.translate(pdb3, va)).toMatchObject({ ok: false, fault: { level: root } });
				gpu.dma.free(inst);
			} finally {
				await gpu.close();
			}
		});
	}
});
