/**
 * The image records the booter model looks up (kept apart from the registry so the booter model and the
 * registry do not import each other).
 *
 * @module
 */

/** A GSP firmware image the booter model accepts. */
export interface KnownGspImage {
	readonly name: string;
	readonly version: string;
	readonly source: 'real' | 'synthetic';
	readonly size: number;
	/** SHA-256 of `.fwimage`. */
	readonly sha256: string;
	/** Section name (`.fwsignature_ga10x`) → SHA-256 of its contents. */
	readonly signatures: ReadonlyMap<string, string>;
}

/** A RISC-V bootloader payload the booter model accepts. */
export interface KnownBootloader {
	readonly name: string;
	readonly version: string;
	readonly source: 'real' | 'synthetic';
	readonly chips: readonly string[];
	readonly size: number;
	readonly sha256: string;
	readonly appVersion: number;
	/** `monitorCodeOffset`, `monitorDataOffset`, `manifestOffset` of the descriptor (what the meta must carry). */
	readonly codeOffset: number;
	readonly dataOffset: number;
	readonly manifestOffset: number;
}
