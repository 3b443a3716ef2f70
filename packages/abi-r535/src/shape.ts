/**
 * Typed views of manifest layouts.
 *
 * A manifest layout (`layoutFromManifest`) is data: the compiler cannot know its fields. A *shape* is a
 * small runtime description of the fields a consumer relies on — `{ hClient: 'u32', processName:
 * 'char[100]' }` — from which both a TypeScript layout type and a runtime check are derived. Binding a
 * shape to a manifest ({@link bindShape}) checks that every described field exists with exactly the
 * described type (manifest type strings, so `'u64'`, `'u8[16]'`, `'enum X'`, `'ptr'`), and returns the
 * manifest's own layout object typed from the shape. The offsets always come from the manifest; the shape
 * only pins names and types. This is what makes reusing a sub-interface across branches safe: the code
 * is shared, the layout is the branch's own, and a field whose type changed fails at bind time instead of
 * being read wrongly.
 *
 * @module
 */

import {
	AbiError,
	type ArrayLayout,
	type CStringLayout,
	type FixedLayout,
	type FlexLayout,
	type LayoutManifest,
	layoutFromManifest,
	type ManifestType,
	type PrimLayout,
	type PrimName,
	type RecordLayout,
	type StructLayout,
	type UnionLayout,
} from '@gspkit/abi';

/** A field type written as its manifest type string: `'u32'`, `'u8[16]'`, `'char[100]'`, `'u32[]'`, `'enum X'`, `'ptr'`. */
export type TypeSpec = string;

/** A struct or union whose fields are described by a shape. */
export interface RecordSpec<
	K extends 'struct' | 'union' = 'struct' | 'union',
	F extends FieldSpecs = FieldSpecs,
> {
	readonly kind: K;
	/** The manifest type name (`'GspSystemInfo'`, `'GspFwWprMeta.@anon0'`). */
	readonly name: string;
	readonly fields: F;
	/** Whether the shape may leave out fields of the manifest type (they are still decoded, untyped). */
	readonly partial: boolean;
}

/** A fixed array of structs or unions (`struct X[N]`). */
export interface RecordArraySpec<E extends RecordSpec = RecordSpec> {
	readonly kind: 'array';
	readonly of: E;
	readonly length: number;
}

/** A trailing flexible array of structs or unions (`struct X[]`). */
export interface RecordFlexSpec<E extends RecordSpec = RecordSpec> {
	readonly kind: 'flex';
	readonly of: E;
}

/** One field of a shape. */
export type FieldSpec = TypeSpec | RecordSpec | RecordArraySpec | RecordFlexSpec;

/** The fields of a shape, by C field name. */
export type FieldSpecs = { readonly [name: string]: FieldSpec };

type PrimOfSpec<S extends string> = S extends PrimName
	? S
	: S extends 'ptr'
		? 'u64'
		: S extends `enum ${string}`
			? 'u32'
			: never;

type RecordLayoutOf<S> =
	S extends RecordSpec<'struct', infer F>
		? StructLayout<FieldDefsOf<F>>
		: S extends RecordSpec<'union', infer F>
			? UnionLayout<FieldDefsOf<F>>
			: never;

/** The layout type a field spec stands for. */
export type LayoutOfSpec<S> = S extends RecordSpec
	? RecordLayoutOf<S>
	: S extends RecordArraySpec<infer E>
		? ArrayLayout<RecordLayoutOf<E>>
		: S extends RecordFlexSpec<infer E>
			? FlexLayout<RecordLayoutOf<E>>
			: S extends `char[${number}]`
				? CStringLayout
				: S extends `${infer P extends PrimName}[]`
					? FlexLayout<PrimLayout<P>>
					: S extends `${infer P extends PrimName}[${number}]`
						? ArrayLayout<PrimLayout<P>>
						: S extends string
							? PrimLayout<PrimOfSpec<S>>
							: never;

/** The field-definition tuple type `@gspkit/abi` infers values from. */
export type FieldDefsOf<F extends FieldSpecs> = ReadonlyArray<
	{ [K in keyof F & string]: readonly [K, LayoutOfSpec<F[K]>] }[keyof F & string]
>;

/** Options of {@link shape}`.struct`/`.union`. */
export interface ShapeOptions {
	/** Allow the manifest type to have fields the shape does not describe. Default `false`. */
	readonly partial?: boolean;
}

/** Constructors of shapes. */
export const shape = {
	/** A struct shape: `shape.struct('msgqRxHeader', { readPtr: 'u32' })`. */
	struct<const F extends FieldSpecs>(
		name: string,
		fields: F,
		options: ShapeOptions = {},
	): RecordSpec<'struct', F> {
		return Object.freeze({ kind: 'struct', name, fields, partial: options.partial === true });
	},
	/** A union shape. */
	union<const F extends FieldSpecs>(
		name: string,
		fields: F,
		options: ShapeOptions = {},
	): RecordSpec<'union', F> {
		return Object.freeze({ kind: 'union', name, fields, partial: options.partial === true });
	},
	/** `struct X field[length]`. */
	array<E extends RecordSpec>(of: E, length: number): RecordArraySpec<E> {
		return Object.freeze({ kind: 'array', of, length });
	},
	/** `struct X field[]` (last field only). */
	flex<E extends RecordSpec>(of: E): RecordFlexSpec<E> {
		return Object.freeze({ kind: 'flex', of });
	},
} as const;

/** The manifest type string a field spec must match exactly. */
export function specTypeString(spec: FieldSpec): string {
	if (typeof spec === 'string') return spec;
	if (spec.kind === 'array') return `${spec.of.kind} ${spec.of.name}[${spec.length}]`;
	if (spec.kind === 'flex') return `${spec.of.kind} ${spec.of.name}[]`;
	return `${spec.kind} ${spec.name}`;
}

function findType(
	manifest: LayoutManifest,
	name: string,
	kind: 'struct' | 'union',
): ManifestType | undefined {
	return manifest.types.find((t) => t.name === name && t.kind === kind);
}

function checkRecord(
	manifest: LayoutManifest,
	spec: RecordSpec,
	path: string,
	problems: string[],
	types: Set<string>,
): void {
	const mt = findType(manifest, spec.name, spec.kind);
	if (mt === undefined) {
		problems.push(`${path}: ${spec.kind} ${spec.name} is not in the manifest`);
		return;
	}
	types.add(mt.name);
	for (const [name, fspec] of Object.entries(spec.fields)) {
		const mf = mt.fields.find((f) => f.name === name);
		const where = `${path}.${name}`;
		if (mf === undefined) {
			problems.push(`${where}: no such field in ${spec.kind} ${spec.name}`);
			continue;
		}
		const want = specTypeString(fspec);
		if (mf.type !== want) {
			problems.push(`${where}: manifest type is '${mf.type}', shape says '${want}'`);
			continue;
		}
		if (typeof fspec !== 'string') {
			checkRecord(
				manifest,
				fspec.kind === 'array' || fspec.kind === 'flex' ? fspec.of : fspec,
				where,
				problems,
				types,
			);
		}
	}
	if (!spec.partial) {
		for (const mf of mt.fields) {
			if (!(mf.name in spec.fields))
				problems.push(`${path}.${mf.name}: field of ${spec.name} not described by the shape`);
		}
	}
}

/**
 * Check a shape against a manifest without building anything. Returns every problem (empty = fits) and
 * the manifest type names the shape touches.
 */
export function checkShape(
	manifest: LayoutManifest,
	spec: RecordSpec,
): { readonly problems: readonly string[]; readonly types: readonly string[] } {
	const problems: string[] = [];
	const types = new Set<string>();
	checkRecord(manifest, spec, spec.name, problems, types);
	return { problems, types: [...types].sort() };
}

/**
 * The manifest's layout for `spec.name`, typed from the shape. Throws `ABI_DEFINITION` listing every
 * mismatch when the manifest does not have the described fields with the described types.
 */
export function bindShape<S extends RecordSpec>(manifest: LayoutManifest, spec: S): RecordLayoutOf<S> {
	const { problems } = checkShape(manifest, spec);
	if (problems.length > 0) {
		throw new AbiError(
			'ABI_DEFINITION',
			`shape ${spec.name} does not fit ABI ${manifest.abi ?? '(unnamed)'}:\n  - ${problems.join('\n  - ')}`,
			{ type: spec.name, abi: manifest.abi, problems },
		);
	}
	const layout: RecordLayout = layoutFromManifest(spec.name, manifest);
	return layout as RecordLayoutOf<S> & FixedLayout as RecordLayoutOf<S>;
}
