/**
 * Scan a `linux-firmware` tree (`nvidia/<chip>/gsp/*.bin`, `nvidia/<chip>/acr/bl.bin`) and compute the
 * digest records of {@link RealFirmwareTable}. Used by `scripts/generate-known-images.ts` to regenerate the
 * committed table, and by tests to check the table against the files.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { maskedSha256, sha256Hex, slice } from '../vbios/bytes.ts';
import { elfSection, readElfSections } from './elf.ts';
import { readGenBootloader, readHsImage, readRiscvBootloader } from './formats.ts';
import type {
	BooterRecord,
	BootloaderRecord,
	GenBootloaderRecord,
	GspRecord,
	RealFirmwareTable,
} from './known-images.ts';

const FILE_RE = /^(booter_load|booter_unload|bootloader|gen_bootloader|gsp)-(\d+\.\d+(?:\.\d+)?)\.bin$/;

/** The digest record of a GSP ELF file. */
export function gspRecordOf(file: Uint8Array, version: string, files: readonly string[]): GspRecord {
	const info = readElfSections(file);
	const image = elfSection(file, '.fwimage', info);
	if (image === undefined) throw new Error(`${files[0]}: no .fwimage section`);
	const signatures: Record<string, string> = {};
	for (const s of info.sections) {
		if (s.name.startsWith('.fwsignature_'))
			signatures[s.name] = sha256Hex(file.subarray(s.offset, s.offset + s.size));
	}
	return { version, files, fwimageSize: image.length, fwimageSha256: sha256Hex(image), signatures };
}

/** The digest record of a booter file. */
export function booterRecordOf(
	file: Uint8Array,
	kind: 'booter_load' | 'booter_unload',
	version: string,
	chips: readonly string[],
): BooterRecord {
	const hs = readHsImage(file);
	const app0 = hs.apps[0];
	if (app0 === undefined) throw new Error('booter without applications');
	const sigSize = hs.signatures[0]?.length ?? 0;
	const pkc = hs.patchLocation - hs.osDataOffset;
	const data = slice(hs.payload, hs.osDataOffset, hs.osDataSize, 'os_data');
	return {
		kind,
		version,
		chips,
		osCode: {
			offset: hs.osCodeOffset,
			size: hs.osCodeSize,
			sha256: sha256Hex(slice(hs.payload, hs.osCodeOffset, hs.osCodeSize, 'os_code')),
		},
		app0: {
			offset: app0.offset,
			size: app0.length,
			sha256: sha256Hex(slice(hs.payload, app0.offset, app0.length, 'app0')),
		},
		data: {
			offset: hs.osDataOffset,
			size: hs.osDataSize,
			maskedSha256: maskedSha256(data, data.length, [[pkc, pkc + sigSize]]),
		},
		pkcOffset: pkc,
		signatureSize: sigSize,
		fuseVersion: hs.fuseVersion,
		engineIdMask: hs.engineIdMask,
		ucodeId: hs.ucodeId,
		signatures: hs.signatures.map((s) => sha256Hex(s)),
	};
}

/** The digest record of a RISC-V bootloader file. */
export function bootloaderRecordOf(
	file: Uint8Array,
	version: string,
	chips: readonly string[],
): BootloaderRecord {
	const b = readRiscvBootloader(file);
	return {
		version,
		chips,
		payloadSize: b.payload.length,
		sha256: sha256Hex(b.payload),
		descVersion: b.descVersion,
		appVersion: b.appVersion,
		codeOffset: b.monitorCodeOffset,
		dataOffset: b.monitorDataOffset,
		manifestOffset: b.manifestOffset,
	};
}

/** The digest record of a generic bootloader file. */
export function genBootloaderRecordOf(
	file: Uint8Array,
	version: string,
	files: readonly string[],
	chips: readonly string[],
): GenBootloaderRecord {
	const g = readGenBootloader(file);
	return {
		version,
		files,
		chips,
		startTag: g.startTag,
		codeSize: g.code.length,
		codeSha256: sha256Hex(g.code),
	};
}

interface Group {
	kind: string;
	version: string;
	real: string;
	paths: string[];
	chips: Set<string>;
}

/**
 * Scan `<root>/nvidia/*` (root is the directory holding `nvidia/`, e.g. `/lib/firmware`). Files are grouped
 * by their resolved path, so symbolic links to another chip's copy add that chip to the same record;
 * identical copies under different names are merged by content digest.
 */
export function scanRealFirmware(root: string, source = root): RealFirmwareTable {
	const nvidia = join(root, 'nvidia');
	const groups = new Map<string, Group>();
	const add = (kind: string, version: string, path: string, chip: string, display: string) => {
		const real = realpathSync(path);
		const key = `${kind}:${version}:${real}`;
		let g = groups.get(key);
		if (g === undefined) {
			g = { kind, version, real, paths: [], chips: new Set() };
			groups.set(key, g);
		}
		g.paths.push(display);
		g.chips.add(chip);
	};
	for (const chip of readdirSync(nvidia).sort()) {
		const gspDir = join(nvidia, chip, 'gsp');
		if (existsSync(gspDir) && statSync(gspDir).isDirectory()) {
			for (const name of readdirSync(gspDir).sort()) {
				const m = FILE_RE.exec(name);
				if (m === null) continue;
				add(m[1]!, m[2]!, join(gspDir, name), chip, `nvidia/${chip}/gsp/${name}`);
			}
		}
		// The ACR bootloader doubles as the FWSEC generic bootloader on the GSP-era chips (those with gsp/).
		const bl = join(nvidia, chip, 'acr', 'bl.bin');
		if (existsSync(gspDir) && existsSync(bl))
			add('gen_bootloader', 'acr', bl, chip, `nvidia/${chip}/acr/bl.bin`);
	}
	// Merge groups with identical content (copies rather than links).
	const byContent = new Map<string, Group & { bytes: Uint8Array }>();
	const gspByContent = new Map<string, GspRecord>();
	for (const g of [...groups.values()].sort((a, b) => a.real.localeCompare(b.real))) {
		const bytes = new Uint8Array(readFileSync(g.real));
		const key = `${g.kind === 'gen_bootloader' ? 'gen' : g.kind}:${g.kind === 'gen_bootloader' ? '' : g.version}:${sha256Hex(bytes)}`;
		const prev = byContent.get(key);
		if (prev === undefined) byContent.set(key, { ...g, paths: [...g.paths], chips: new Set(g.chips), bytes });
		else {
			prev.paths.push(...g.paths);
			for (const c of g.chips) prev.chips.add(c);
			if (prev.version === 'acr') prev.version = g.version;
		}
	}
	const booters: BooterRecord[] = [];
	const bootloaders: BootloaderRecord[] = [];
	const genBootloaders: GenBootloaderRecord[] = [];
	for (const g of byContent.values()) {
		const chips = [...g.chips].sort();
		// The file the others link to (or the first copy) comes first.
		const canonical = relative(root, g.real).split(sep).join('/');
		const paths = [...g.paths].sort((a, b) =>
			a === canonical ? -1 : b === canonical ? 1 : a.localeCompare(b),
		);
		switch (g.kind) {
			case 'gsp':
				gspByContent.set(paths[0]!, gspRecordOf(g.bytes, g.version, paths));
				break;
			case 'booter_load':
			case 'booter_unload':
				booters.push(booterRecordOf(g.bytes, g.kind, g.version, chips));
				break;
			case 'bootloader':
				bootloaders.push(bootloaderRecordOf(g.bytes, g.version, chips));
				break;
			case 'gen_bootloader':
				genBootloaders.push(
					genBootloaderRecordOf(g.bytes, g.version === 'acr' ? 'acr' : g.version, paths, chips),
				);
				break;
		}
	}
	// Generic bootloaders with the same code (gen_bootloader-570.144 == acr/bl.bin) become one record.
	const gen = new Map<string, GenBootloaderRecord>();
	for (const r of genBootloaders) {
		const prev = gen.get(r.codeSha256);
		gen.set(
			r.codeSha256,
			prev === undefined
				? r
				: {
						...prev,
						version: prev.version === 'acr' ? r.version : prev.version,
						files: [...prev.files, ...r.files].sort(),
						chips: [...new Set([...prev.chips, ...r.chips])].sort(),
					},
		);
	}
	const order = (a: { version: string }, b: { version: string }) => a.version.localeCompare(b.version);
	return {
		source,
		gsp: [...gspByContent.values()].sort((a, b) => order(a, b) || a.files[0]!.localeCompare(b.files[0]!)),
		bootloaders: bootloaders.sort((a, b) => order(a, b) || a.chips[0]!.localeCompare(b.chips[0]!)),
		booters: booters.sort(
			(a, b) => a.kind.localeCompare(b.kind) || order(a, b) || a.chips[0]!.localeCompare(b.chips[0]!),
		),
		genBootloaders: [...gen.values()],
	};
}

/** Render a table as the TypeScript module committed as `known-images.generated.ts`. */
export function renderKnownImagesModule(table: RealFirmwareTable): string {
	return [
		'// generated by packages/gpu-sim/src/firmware-models/scripts/generate-known-images.ts — do not edit',
		'// Digests of the published NVIDIA GSP firmware (linux-firmware, Debian firmware-nvidia-graphics).',
		'// Regenerate: npx tsx --conditions=@gspkit/source packages/gpu-sim/src/firmware-models/scripts/generate-known-images.ts',
		'',
		"import type { RealFirmwareTable } from './known-images.ts';",
		'',
		'/** Digests of the published firmware files the simulated GPU accepts. */',
		`export const REAL_FIRMWARE_TABLE: RealFirmwareTable = ${JSON.stringify(table, null, '\t')};`,
		'',
	].join('\n');
}
