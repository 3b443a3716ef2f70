/** The README example, verbatim in substance: it must keep working against the current API. */
import { describe, expect, it } from 'vitest';
import {
	hostPageTableAllocator,
	RAMIN,
	readInstanceBlockPageDirectory,
	VaSpace,
	writeInstanceBlockPageDirectory,
} from '../src/index.ts';

describe('README example', () => {
	it('maps, translates, splits, points an instance block, unmaps', () => {
		const vas = new VaSpace({ format: 'v2', allocator: hostPageTableAllocator() });
		const bo = {
			handle: 1,
			aperture: 'video',
			extents: [{ address: 0x8000_0000n, size: 0x40_0000n }],
		} as const;
		const prepared = vas.prepare([{ op: 'map', va: 0x1_0000_0000n, size: 0x40_0000n, object: bo }]);
		vas.commit(prepared);
		const t = vas.translate(0x1_0012_3456n);
		expect([t.valid && t.address.toString(16), t.valid && t.pageSize]).toEqual(['80123456', 2097152]);
		vas.apply([{ op: 'unmap', va: 0x1_0000_1000n, size: 0x1000n }]);
		expect(vas.translate(0x1_0000_1000n)).toMatchObject({ valid: false, level: 'SPT', reason: 'invalid' });
		const inst = new Uint8Array(RAMIN.SIZE);
		writeInstanceBlockPageDirectory(inst, { pdb: vas.pdb }, { limit: vas.vaLimit });
		expect(readInstanceBlockPageDirectory(inst).pageDirectory.address).toBe(vas.pdb.address);
		vas.apply([{ op: 'unmap', va: 0x1_0000_0000n, size: 0x40_0000n }]);
		expect(vas.pageTables).toEqual({ tables: 1, bytes: 32, byLevel: { PDE3: 1 } });
	});

	it('the code block in README.md is the one this test mirrors', async () => {
		const { readFileSync } = await import('node:fs');
		const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
		for (const line of [
			"const vas = new VaSpace({ format: 'v2', allocator: hostPageTableAllocator() });",
			"const prepared = vas.prepare([{ op: 'map', va: 0x1_0000_0000n, size: 0x40_0000n, object: bo }]);",
			"vas.apply([{ op: 'unmap', va: 0x1_0000_1000n, size: 0x1000n }]);",
			'writeInstanceBlockPageDirectory(inst, { pdb: vas.pdb }, { limit: vas.vaLimit });',
		]) {
			expect(readme).toContain(line);
		}
	});
});
