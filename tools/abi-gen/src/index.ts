/**
 * `@gspkit/abi-gen`: turns the GSP-RM headers published with Linux (nouveau's `rm/rNNN/nvrm/*.h`) into the
 * generated part of each firmware ABI package — a layout manifest in the `@gspkit/abi` format and typed
 * constant tables. gcc is the ground truth: the headers are compiled with full debug info and the layouts
 * are read back from DWARF; constants are evaluated by compiling and running a probe program.
 *
 * @module
 */

export {
	type CrossCheckIssue,
	type CrossCheckReport,
	crossCheck,
	formatCrossCheck,
	type ParsedBindings,
	parseBindings,
	type RustField,
	type RustRecord,
} from './bindings.ts';
export {
	type AbiBranch,
	BRANCHES,
	type BranchInheritance,
	findBranch,
	type HeaderSet,
	headerFiles,
	headerSet,
	type Inherited,
	TREE,
} from './branches.ts';
export { enumeratorGroup, ID_PREFIXES, macroGroup } from './classify.ts';
export {
	type CompiledLayouts,
	compileLayouts,
	includeFlags,
	includeLines,
	writeTranslationUnit,
} from './compile.ts';
export { type Die, DieRef, type DwarfInfo, readDwarf } from './dwarf.ts';
export { ElfFile, type ElfSection } from './elf.ts';
export { BANNER, emitConstantsTs, emitInheritedJson, emitManifestJson, literal, REGENERATE } from './emit.ts';
export { AbiGenError, type AbiGenErrorCode } from './errors.ts';
export { BASE_FLAGS, KERNEL_PRELUDE, runCompiler, type Scratch, scratch } from './gcc.ts';
export {
	type BranchData,
	GENERATOR,
	type GeneratedAbi,
	type GenerateOptions,
	generate,
	MANIFEST_FORMAT,
	readBranch,
	treeLabel,
} from './generate.ts';
export { type Enumerator, extractLayouts, type LayoutResult } from './layout.ts';
export {
	type BitRange,
	evaluateMacros,
	type MacroDef,
	type MacroResult,
	type MacroValue,
	parseDefines,
} from './macros.ts';
export { checkGenerated, type Drift, GENERATED_FILES, REPO_ROOT, writeGenerated } from './output.ts';
export { createProgram, EXIT_CODES, type GenDeps, main } from './program.ts';
