/**
 * The images the simulated GPU recognises — its stand-in for NVIDIA's signature checks. A device model
 * cannot verify NVIDIA's RSA signatures, so it knows images by digest instead:
 *
 * - **GSP images** (the `.fwimage` of `gsp-*.bin`) with the digest of each `.fwsignature_*` section;
 * - **RISC-V bootloaders** (payload of `bootloader-*.bin`) with their code/data/manifest offsets;
 * - **falcon ucodes** (booter_load/unload, the generic bootloader, the VBIOS FWSEC) for the simulated BROM.
 *
 * Published images come from a committed table generated from the real files
 * (`known-images.generated.ts`, see `scripts/generate-known-images.ts`); synthetic images register their own.
 *
 * @module
 */

import { bootFamilyOf } from '../falcon/profile.ts';
import type { KnownUcode, UcodeRegistry, UcodeSegment } from '../falcon/program.ts';
import { type BooterLookup, booterLoadProgram, booterUnloadProgram, type GspCoreState } from './booter.ts';
import { genBootloaderProgram } from './gen-bootloader.ts';
import type { KnownBootloader, KnownGspImage } from './image-types.ts';

export type { KnownBootloader, KnownGspImage } from './image-types.ts';

/** A digest record of one booter file (generated table and synthetic firmware share it). */
export interface BooterRecord {
	readonly kind: 'booter_load' | 'booter_unload';
	readonly version: string;
	readonly chips: readonly string[];
	readonly osCode: { readonly offset: number; readonly size: number; readonly sha256: string };
	readonly app0: { readonly offset: number; readonly size: number; readonly sha256: string };
	/** DMEM image: payload offset and size; digest with the signature bytes read as zero. */
	readonly data: { readonly offset: number; readonly size: number; readonly maskedSha256: string };
	readonly pkcOffset: number;
	readonly signatureSize: number;
	readonly fuseVersion: number;
	readonly engineIdMask: number;
	readonly ucodeId: number;
	/** SHA-256 of each signature, in file order (signature i is for fuse version `fuseVersion − i`). */
	readonly signatures: readonly string[];
}

/** A digest record of a generic bootloader. */
export interface GenBootloaderRecord {
	readonly version: string;
	readonly files: readonly string[];
	readonly chips: readonly string[];
	readonly startTag: number;
	readonly codeSize: number;
	readonly codeSha256: string;
}

/** A digest record of a GSP ELF. */
export interface GspRecord {
	readonly version: string;
	readonly files: readonly string[];
	readonly fwimageSize: number;
	readonly fwimageSha256: string;
	readonly signatures: Readonly<Record<string, string>>;
}

/** A digest record of a RISC-V bootloader file. */
export interface BootloaderRecord {
	readonly version: string;
	readonly chips: readonly string[];
	readonly payloadSize: number;
	readonly sha256: string;
	readonly descVersion: number;
	readonly appVersion: number;
	readonly codeOffset: number;
	readonly dataOffset: number;
	readonly manifestOffset: number;
}

/** The committed table of published firmware digests. */
export interface RealFirmwareTable {
	readonly source: string;
	readonly gsp: readonly GspRecord[];
	readonly bootloaders: readonly BootloaderRecord[];
	readonly booters: readonly BooterRecord[];
	readonly genBootloaders: readonly GenBootloaderRecord[];
}

const LEGACY = new Set(['tu10x', 'tu11x', 'ga100']);

/** Whether a chip loads booter the Turing/GA100 way (non-secure OS code at 0 + secure app). */
function legacyBooterLayout(chips: readonly string[]): boolean {
	const first = chips[0];
	if (first === undefined) return false;
	try {
		return LEGACY.has(bootFamilyOf(first));
	} catch {
		return false;
	}
}

/**
 * The falcon ucode of a booter record, laid out as the chip generation loads it: on TU10x/GA100 the
 * non-secure OS code at virtual 0 (entry) plus the secure app at its payload offset; on GA102+ only the
 * secure app, entered at its payload offset.
 */
export function booterUcode(
	r: BooterRecord,
	source: 'real' | 'synthetic',
	lookup: BooterLookup,
	gspState: () => GspCoreState,
): KnownUcode {
	const legacy = legacyBooterLayout(r.chips);
	const app: UcodeSegment = { va: r.app0.offset, length: r.app0.size, secure: true, sha256: r.app0.sha256 };
	const segments: UcodeSegment[] = legacy
		? [{ va: r.osCode.offset, length: r.osCode.size, secure: false, sha256: r.osCode.sha256 }, app]
		: [app];
	const byVersion = new Map<number, string>();
	r.signatures.forEach((s, i) => {
		if (r.fuseVersion - i >= 0) byVersion.set(r.fuseVersion - i, s);
	});
	return {
		name: `${r.kind} ${r.version} (${r.chips.join('/')}, ${source})`,
		kind: r.kind,
		engine: 'sec2',
		chips: r.chips,
		segments,
		entry: legacy ? r.osCode.offset : r.app0.offset,
		data: {
			length: r.data.size,
			sha256: r.data.maskedSha256,
			masks: [[r.pkcOffset, r.pkcOffset + r.signatureSize]],
		},
		hs: {
			pkcOffset: r.pkcOffset,
			signatureSize: r.signatureSize,
			engineIdMask: r.engineIdMask,
			ucodeId: r.ucodeId,
			signaturesByFuseVersion: byVersion,
		},
		source,
		version: r.version,
		program: r.kind === 'booter_load' ? booterLoadProgram(lookup, gspState) : booterUnloadProgram(),
	};
}

/** The generic bootloader as a known (non-secure) ucode. */
export function genBootloaderUcode(r: GenBootloaderRecord, source: 'real' | 'synthetic'): KnownUcode {
	const va = r.startTag << 8;
	return {
		name: `gen_bootloader ${r.version} (${source})`,
		kind: 'gen_bootloader',
		engine: 'gsp',
		chips: r.chips,
		segments: [{ va, length: r.codeSize, secure: false, sha256: r.codeSha256 }],
		entry: va,
		source,
		version: r.version,
		program: genBootloaderProgram(),
	};
}

/** Every chip name the boot models support. */
export const BOOT_CHIPS: readonly string[] = Object.freeze([
	'tu102',
	'tu104',
	'tu106',
	'tu116',
	'tu117',
	'ga100',
	'ga102',
	'ga103',
	'ga104',
	'ga106',
	'ga107',
	'ad102',
	'ad103',
	'ad104',
	'ad106',
	'ad107',
]);

/** What a lazy provider registers: lookups of one kind run only the providers of that kind. */
export type KnownImageKind = 'ucodes' | 'gspImages' | 'bootloaders';

const ALL_KINDS: readonly KnownImageKind[] = Object.freeze(['ucodes', 'gspImages', 'bootloaders']);

interface Provider {
	readonly run: () => void;
	readonly kinds: readonly KnownImageKind[];
}

/**
 * A registry of known images. Registration can be lazy ({@link KnownImages.addProvider}): a provider runs
 * on the first lookup of a kind it provides; digest lookups run providers only while the digest is still
 * unknown — so a simulator booting published firmware never generates the synthetic sets.
 */
export class KnownImages implements UcodeRegistry, BooterLookup {
	#gsp = new Map<string, KnownGspImage>();
	#bootloaders = new Map<string, KnownBootloader>();
	#ucodes: KnownUcode[] = [];
	#providers: Provider[] = [];
	#gspState: () => GspCoreState;

	/** @param gspState how booter sees the GSP falcon; default "out of reset, not running". */
	constructor(gspState: () => GspCoreState = () => ({ inReset: false, riscvActive: false })) {
		this.#gspState = gspState;
	}

	/** How the booter programs this registry creates see the GSP core. */
	setGspState(state: () => GspCoreState): void {
		this.#gspState = state;
	}

	/** The GSP state function (booter programs call it at run time). */
	gspState(): GspCoreState {
		return this.#gspState();
	}

	/** Run (once) the pending providers of `kind`, in registration order, until `done` holds (default never). */
	#drain(kind: KnownImageKind, done: () => boolean = () => false): void {
		for (;;) {
			const i = this.#providers.findIndex((p) => p.kinds.includes(kind));
			if (i < 0) return;
			const [p] = this.#providers.splice(i, 1);
			p!.run();
			if (done()) return;
		}
	}

	/**
	 * Register something later: `provider` runs once, at the first lookup of one of `kinds` (default every
	 * kind) that the images registered so far cannot answer (`ucodes()` always runs the pending ones).
	 */
	addProvider(provider: () => void, kinds: readonly KnownImageKind[] = ALL_KINDS): void {
		this.#providers.push({ run: provider, kinds });
	}

	addGspImage(image: KnownGspImage): void {
		this.#gsp.set(image.sha256, image);
	}

	addBootloader(bootloader: KnownBootloader): void {
		this.#bootloaders.set(bootloader.sha256, bootloader);
	}

	addUcode(ucode: KnownUcode): void {
		this.#ucodes.push(ucode);
	}

	/** Register a booter record (its program looks images up in this registry). */
	addBooter(record: BooterRecord, source: 'real' | 'synthetic'): void {
		this.addUcode(booterUcode(record, source, this, () => this.#gspState()));
	}

	findGspImage(sha256: string): KnownGspImage | undefined {
		if (!this.#gsp.has(sha256)) this.#drain('gspImages', () => this.#gsp.has(sha256));
		return this.#gsp.get(sha256);
	}

	findBootloader(sha256: string): KnownBootloader | undefined {
		if (!this.#bootloaders.has(sha256)) this.#drain('bootloaders', () => this.#bootloaders.has(sha256));
		return this.#bootloaders.get(sha256);
	}

	ucodes(): readonly KnownUcode[] {
		this.#drain('ucodes');
		return this.#ucodes;
	}

	/**
	 * The ucodes registered so far, without running providers. The simulated BROM tries these first and
	 * asks for {@link KnownImages.ucodes} only when none of them is the loaded image; lazily registered
	 * ucodes come after these, so the first match is the same either way.
	 */
	registeredUcodes(): readonly KnownUcode[] {
		return this.#ucodes;
	}

	/** Every known GSP image. */
	gspImages(): readonly KnownGspImage[] {
		this.#drain('gspImages');
		return [...this.#gsp.values()];
	}

	/** Every known bootloader. */
	bootloaders(): readonly KnownBootloader[] {
		this.#drain('bootloaders');
		return [...this.#bootloaders.values()];
	}

	/** Register every image of a real-firmware table. */
	addRealTable(table: RealFirmwareTable): void {
		for (const g of table.gsp) {
			this.addGspImage({
				name: `${g.files[0] ?? `gsp-${g.version}.bin`} (real)`,
				version: g.version,
				source: 'real',
				size: g.fwimageSize,
				sha256: g.fwimageSha256,
				signatures: new Map(Object.entries(g.signatures)),
			});
		}
		for (const b of table.bootloaders) {
			this.addBootloader({
				name: `bootloader ${b.version} (${b.chips.join('/')})`,
				version: b.version,
				source: 'real',
				chips: b.chips,
				size: b.payloadSize,
				sha256: b.sha256,
				appVersion: b.appVersion,
				codeOffset: b.codeOffset,
				dataOffset: b.dataOffset,
				manifestOffset: b.manifestOffset,
			});
		}
		for (const r of table.booters) this.addBooter(r, 'real');
		for (const g of table.genBootloaders) this.addUcode(genBootloaderUcode(g, 'real'));
	}
}
