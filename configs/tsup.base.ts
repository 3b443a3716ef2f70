import { defineConfig, type Options } from 'tsup';

/** The one build every publishable gspkit package uses: ESM + declarations from `src/index.ts`. */
export function packageBuild(overrides: Options = {}) {
	return defineConfig({
		entry: ['src/index.ts'],
		format: ['esm'],
		target: 'node20',
		platform: 'node',
		sourcemap: true,
		clean: true,
		// The declaration build runs outside the composite project graph.
		dts: { compilerOptions: { composite: false, incremental: false, customConditions: ['@gspkit/source'] } },
		...overrides,
	});
}
