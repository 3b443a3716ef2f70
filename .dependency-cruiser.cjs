/**
 * The import rules of ARCHITECTURE.md, enforced in `npm run lint` and CI.
 * Paths are workspace-relative; packages resolve to their sources via the `@gspkit/source` condition.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const CORE_LIBS = '(falcon-boot|gsp-rpc|mmu|channel-sched)';
const FRONTENDS = '(drm-frontend|vfio-frontend)';
const DRIVER_SIDE = `(falcon-boot|gsp-rpc|mmu|channel-sched|core|drm-frontend|vfio-frontend)`;

module.exports = {
	forbidden: [
		{
			name: 'hal-abi-import-nothing-internal',
			comment: 'hal and abi are the bottom of the graph: they import no other workspace package.',
			severity: 'error',
			from: { path: '^packages/(hal|abi)/' },
			to: { path: '^(packages|apps|tools|tests)/', pathNot: '^packages/$1/' },
		},
		{
			name: 'abi-packages-import-only-abi',
			comment:
				'A firmware ABI package imports only @gspkit/abi and older ABI packages whose sub-interfaces it reuses.',
			severity: 'error',
			from: { path: '^packages/abi-r[0-9]+/' },
			to: { path: '^(packages|apps|tools|tests)/', pathNot: ['^packages/abi/', '^packages/abi-r[0-9]+/'] },
		},
		{
			name: 'core-libraries-use-hal-and-abi-only',
			comment:
				'falcon-boot, gsp-rpc and mmu import only hal and abi; a firmware ABI is handed to them at run time.',
			severity: 'error',
			from: { path: '^packages/(falcon-boot|gsp-rpc|mmu)/', pathNot: '^packages/[^/]+/bench/' },
			to: { path: '^(packages|apps|tools|tests)/', pathNot: ['^packages/(hal|abi)/', '^packages/$1/'] },
		},
		{
			name: 'channel-sched-uses-hal-abi-rpc-mmu',
			comment: 'channel-sched may additionally use gsp-rpc and mmu.',
			severity: 'error',
			from: { path: '^packages/channel-sched/', pathNot: '^packages/channel-sched/bench/' },
			to: {
				path: '^(packages|apps|tools|tests)/',
				pathNot: ['^packages/(hal|abi|gsp-rpc|mmu|channel-sched)/'],
			},
		},
		{
			name: 'benchmarks-may-drive-the-simulator',
			comment:
				'A library benchmark needs hardware to run on: it may use gpu-sim and the ABI packages, nothing else beyond its own deps.',
			severity: 'error',
			from: { path: '^packages/(falcon-boot|gsp-rpc|mmu|channel-sched)/bench/' },
			to: {
				path: '^(packages|apps|tools|tests)/',
				pathNot: ['^packages/(hal|abi|abi-r[0-9]+|gpu-sim|falcon-boot|gsp-rpc|mmu|channel-sched)/'],
			},
		},
		{
			name: 'core-never-imports-a-concrete-abi',
			comment:
				'core composes the libraries and selects among the ABIs the app hands it; it never imports abi-rNNN.',
			severity: 'error',
			from: { path: '^packages/core/' },
			to: {
				path: '^(packages|apps|tools|tests)/',
				pathNot: [`^packages/(hal|abi|core|${CORE_LIBS.slice(1, -1)})/`],
			},
		},
		{
			name: 'frontends-see-only-core',
			comment:
				'Frontends use core (plus hal/abi basics and types of the libraries); never gsp-rpc or a firmware ABI.',
			severity: 'error',
			from: { path: `^packages/${FRONTENDS}/` },
			to: {
				path: '^(packages|apps|tools|tests)/',
				// falcon-boot/mmu/channel-sched are checked (type-only) by the next rule.
				pathNot: ['^packages/(hal|abi|core|falcon-boot|mmu|channel-sched)/', '^packages/$1/'],
			},
		},
		{
			name: 'frontends-library-imports-are-type-only',
			comment: 'Frontends may import types (only) from falcon-boot, mmu and channel-sched.',
			severity: 'error',
			from: { path: `^packages/${FRONTENDS}/` },
			to: { path: '^packages/(falcon-boot|mmu|channel-sched)/', dependencyTypesNot: ['type-only'] },
		},
		{
			name: 'gpu-sim-is-the-hardware-side',
			comment: 'gpu-sim implements the hardware reference independently: it never imports driver code.',
			severity: 'error',
			from: { path: '^packages/gpu-sim/' },
			to: { path: [`^packages/${DRIVER_SIDE}/`, '^(apps|tools|tests)/'] },
		},
		{
			name: 'packages-never-import-apps-tools-tests',
			severity: 'error',
			from: { path: '^packages/' },
			to: { path: '^(apps|tools|tests)/' },
		},
		{
			name: 'no-circular',
			severity: 'error',
			from: {},
			to: { circular: true },
		},
		{
			name: 'no-undeclared-workspace-dependency',
			comment: 'A workspace package may only import packages listed in its own package.json.',
			severity: 'error',
			from: { path: '^(packages|apps|tools)/' },
			to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
		},
		{
			name: 'not-to-unresolvable',
			severity: 'error',
			from: {},
			to: { couldNotResolve: true },
		},
	],
	options: {
		doNotFollow: { path: 'node_modules' },
		exclude: { path: ['(^|/)dist/', '(^|/)\\.tsbuild/', '(^|/)node_modules/'] },
		tsPreCompilationDeps: true,
		combinedDependencies: true,
		preserveSymlinks: false,
		enhancedResolveOptions: {
			conditionNames: ['@gspkit/source', 'import', 'require', 'node', 'types', 'default'],
			exportsFields: ['exports'],
			mainFields: ['module', 'main', 'types'],
			extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
		},
		reporterOptions: { text: { highlightFocused: true } },
	},
};
