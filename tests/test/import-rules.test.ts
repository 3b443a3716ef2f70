import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Run the repository's real dependency-cruiser configuration against small throw-away trees laid out
// like the monorepo, so a rule that silently stopped matching would fail here.
const repoRoot = resolve(import.meta.dirname, '../..');
const depcruise = join(repoRoot, 'node_modules/.bin/depcruise');
const scratch: string[] = [];

interface Violation {
	rule: { name: string };
	from: string;
	to: string;
}

function cruise(files: Record<string, string>): Violation[] {
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-deprules-'));
	scratch.push(dir);
	copyFileSync(join(repoRoot, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
	for (const [path, text] of Object.entries(files)) {
		mkdirSync(dirname(join(dir, path)), { recursive: true });
		writeFileSync(join(dir, path), text);
	}
	let out: string;
	try {
		out = execFileSync(
			depcruise,
			['--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'packages'],
			{
				cwd: dir,
				encoding: 'utf8',
			},
		);
	} catch (error) {
		// depcruise exits non-zero when it finds violations; the JSON report is still on stdout.
		out = (error as { stdout: string }).stdout;
	}
	const report = JSON.parse(out) as { summary: { violations: Violation[] } };
	return report.summary.violations;
}

const pkg = (name: string) => JSON.stringify({ name: `@gspkit/${name}`, version: '0.0.0', type: 'module' });

afterAll(() => {
	for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('import rules (.dependency-cruiser.cjs)', () => {
	it('accepts a tree that follows ARCHITECTURE.md', () => {
		const violations = cruise({
			'packages/hal/package.json': pkg('hal'),
			'packages/hal/src/index.ts': 'export const hal = 1;\n',
			'packages/gpu-sim/package.json': pkg('gpu-sim'),
			'packages/gpu-sim/src/index.ts':
				"import { hal } from '../../hal/src/index.ts';\nexport const sim = hal;\n",
			'packages/core/package.json': pkg('core'),
			'packages/core/src/index.ts':
				"import { hal } from '../../hal/src/index.ts';\nexport const core = hal;\n",
			'packages/drm-frontend/package.json': pkg('drm-frontend'),
			'packages/mmu/package.json': pkg('mmu'),
			'packages/mmu/src/index.ts': 'export interface VaSpace { size: number }\n',
			'packages/drm-frontend/src/index.ts':
				"import { core } from '../../core/src/index.ts';\nimport type { VaSpace } from '../../mmu/src/index.ts';\nexport const f = (v: VaSpace) => core + v.size;\n",
		});
		expect(violations).toEqual([]);
	});

	it('rejects gpu-sim importing a driver package', () => {
		const violations = cruise({
			'packages/core/package.json': pkg('core'),
			'packages/core/src/index.ts': 'export const core = 1;\n',
			'packages/gpu-sim/package.json': pkg('gpu-sim'),
			'packages/gpu-sim/src/index.ts':
				"import { core } from '../../core/src/index.ts';\nexport const sim = core;\n",
		});
		expect(violations.map((v) => v.rule.name)).toContain('gpu-sim-is-the-hardware-side');
		expect(violations[0]?.from).toBe('packages/gpu-sim/src/index.ts');
	});

	it('rejects hal importing anything internal', () => {
		const violations = cruise({
			'packages/abi/src/index.ts': 'export const abi = 1;\n',
			'packages/hal/src/index.ts': "import { abi } from '../../abi/src/index.ts';\nexport const hal = abi;\n",
		});
		expect(violations.map((v) => v.rule.name)).toEqual(['hal-abi-import-nothing-internal']);
	});

	it('rejects a core library or core importing a concrete firmware ABI', () => {
		const violations = cruise({
			'packages/abi-r535/src/index.ts': 'export const r535 = 1;\n',
			'packages/gsp-rpc/src/index.ts':
				"import { r535 } from '../../abi-r535/src/index.ts';\nexport const x = r535;\n",
			'packages/core/src/index.ts':
				"import { r535 } from '../../abi-r535/src/index.ts';\nexport const y = r535;\n",
		});
		expect(violations.map((v) => v.rule.name).sort()).toEqual([
			'core-libraries-use-hal-and-abi-only',
			'core-never-imports-a-concrete-abi',
		]);
	});

	it('rejects a frontend importing gsp-rpc, or a library value instead of a type', () => {
		const violations = cruise({
			'packages/gsp-rpc/src/index.ts': 'export const rpc = 1;\n',
			'packages/mmu/src/index.ts': 'export const map = 1;\n',
			'packages/vfio-frontend/src/index.ts':
				"import { rpc } from '../../gsp-rpc/src/index.ts';\nimport { map } from '../../mmu/src/index.ts';\nexport const z = rpc + map;\n",
		});
		const names = violations.map((v) => v.rule.name);
		expect(names).toContain('frontends-see-only-core');
		expect(names).toContain('frontends-library-imports-are-type-only');
	});

	it('rejects circular imports', () => {
		const violations = cruise({
			'packages/mmu/src/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
			'packages/mmu/src/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
		});
		expect(violations.map((v) => v.rule.name)).toContain('no-circular');
	});
});
