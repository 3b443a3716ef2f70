/**
 * The JSON layout manifest: a normalised, tool-independent description of a set of C layouts
 * and constants. `abi-gen` writes one per firmware ABI package, `abi-diff` compares two, and
 * the conformance tests compare it with what gcc computes.
 *
 * @module
 */

/** Identifies the manifest format; bump on incompatible changes. */
export const MANIFEST_FORMAT = 'gspkit-abi-manifest/1' as const;

/** One field of a struct or union. Offsets and sizes are in bytes. */
export interface ManifestField {
	/** Field name as written in the C source (anonymous members get `@anon<N>`). */
	readonly name: string;
	/** Byte offset from the start of the enclosing type. */
	readonly offset: number;
	/** Size in bytes (for arrays: the whole array). */
	readonly size: number;
	/**
	 * The field's type, normalised: a primitive (`u8` `u16` `u32` `u64` `i8` `i16` `i32` `i64`
	 * `bool` `f32` `f64` `ptr`), `char` (a `char[N]` is read as a NUL-terminated string), `struct NAME`,
	 * `union NAME` or `enum NAME`, with `[N]` suffixes for arrays (`u8[16]`, `struct X[4][2]`) and `[]`
	 * for a trailing flexible array.
	 */
	readonly type: string;
	/** For bit-fields: bit offset within the field's storage unit, and width in bits. */
	readonly bitOffset?: number;
	readonly bitSize?: number;
	/**
	 * For a trailing flexible array (`T[]`): the name of the sibling field holding its element count, if
	 * the layout declares one. Without it, a decode takes as many elements as the buffer holds.
	 */
	readonly countField?: string;
}

/** A struct or union layout. */
export interface ManifestType {
	readonly name: string;
	readonly kind: 'struct' | 'union';
	readonly size: number;
	readonly align: number;
	readonly fields: readonly ManifestField[];
}

/** A named constant (a `#define`, an enumerator, an ID table entry). */
export interface ManifestConstant {
	readonly name: string;
	/** Decimal string for integers (so 64-bit values survive JSON), or a quoted C string literal. */
	readonly value: string;
	/**
	 * A grouping key: `rpc-function`, `rpc-event`, `seq-opcode`, `class`, `control`, `enum:NAME`,
	 * or `define` for everything else.
	 */
	readonly group: string;
}

/** A whole manifest. Arrays are sorted by name so the JSON is deterministic. */
export interface LayoutManifest {
	readonly format: typeof MANIFEST_FORMAT;
	/** The firmware version the manifest describes, e.g. `"535.113.01"`, if any. */
	readonly abi?: string;
	/** Where the layouts came from (header set, generator version). */
	readonly source?: string;
	readonly types: readonly ManifestType[];
	readonly constants: readonly ManifestConstant[];
}
