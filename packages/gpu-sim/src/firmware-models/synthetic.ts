/**
 * Synthetic firmware: files in the real formats (reference A.6) for a chip and firmware version, small and
 * deterministic, so the default run needs no download. Their contents are pseudo-random — the simulator
 * only needs the formats to be right and the digests to be registered:
 *
 * - `gsp/booter_load-<v>.bin`, `gsp/booter_unload-<v>.bin`: `nvfw_bin_hdr` + HS header v2 + signatures +
 *   patch location + metadata {fuse_ver, engine_id_mask, ucode_id} + load header (one application);
 * - `gsp/bootloader-<v>.bin`: `nvfw_bin_hdr` + `RM_RISCV_UCODE_DESC` (v4 on TU10x/GA100, v5 later);
 * - `gsp/gsp-<v>.bin`: ELF64 RISC-V REL with `.fwimage` (1–4 MiB), `.fwversion`, `.fwsignature_<family>`
 *   for every family the real file of that chip group covers, `.symtab`, `.strtab`, `.shstrtab`;
 * - Turing/GA100: `gsp/gen_bootloader-570.144.bin` (570.144 only, like the published tree) and `acr/bl.bin`.
 *
 * @module
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SimBootConfigError } from '../falcon/errors.ts';
import { type BootFamily, bootFamilyOf } from '../falcon/profile.ts';
import { ByteWriter, DeterministicRandom } from '../vbios/bytes.ts';
import { EM_RISCV, writeElf } from './elf.ts';
import { BIN_MAGIC } from './formats.ts';
import {
	BOOT_CHIPS,
	type BooterRecord,
	type BootloaderRecord,
	type GenBootloaderRecord,
	type GspRecord,
	genBootloaderUcode,
	type KnownImages,
} from './known-images.ts';
import { booterRecordOf, bootloaderRecordOf, genBootloaderRecordOf, gspRecordOf } from './scan-real.ts';

/** Firmware versions the generator produces (the two ABI branches gspkit ships). */
export const SYNTHETIC_FIRMWARE_VERSIONS = ['535.113.01', '570.144'] as const;

/** One of {@link SYNTHETIC_FIRMWARE_VERSIONS}. */
export type SyntheticFirmwareVersion = (typeof SYNTHETIC_FIRMWARE_VERSIONS)[number];

/** A generated firmware set for one chip and version. */
export interface SyntheticFirmwareSet {
	readonly chip: string;
	readonly version: SyntheticFirmwareVersion;
	readonly family: BootFamily;
	/** Path relative to `nvidia/<chip>/` (e.g. `gsp/gsp-570.144.bin`, `acr/bl.bin`) → file contents. */
	readonly files: ReadonlyMap<string, Uint8Array>;
	readonly gsp: GspRecord;
	readonly bootloader: BootloaderRecord;
	readonly booters: readonly BooterRecord[];
	readonly genBootloader: GenBootloaderRecord | undefined;
}

type Group = 'tu' | 'ga';

function groupOf(family: BootFamily): Group {
	return family === 'tu10x' || family === 'tu11x' || family === 'ga100' ? 'tu' : 'ga';
}

const GROUP_SIGNATURES: Readonly<Record<Group, readonly string[]>> = {
	tu: ['.fwsignature_ga100', '.fwsignature_tu11x', '.fwsignature_tu10x'],
	ga: ['.fwsignature_gh100', '.fwsignature_ad10x', '.fwsignature_ga10x'],
};

const IMAGE_SIZES: Readonly<Record<`${Group}/${SyntheticFirmwareVersion}`, number>> = {
	'tu/535.113.01': 0x150000 + 0x321,
	'tu/570.144': 0x190000 + 0x7a9,
	'ga/535.113.01': 0x240000 + 0x1b3,
	'ga/570.144': 0x3c0000 + 0x6d,
};

function checkVersion(version: string): SyntheticFirmwareVersion {
	if (!(SYNTHETIC_FIRMWARE_VERSIONS as readonly string[]).includes(version)) {
		throw new SimBootConfigError(
			`no synthetic firmware for version ${JSON.stringify(version)}; choose ${SYNTHETIC_FIRMWARE_VERSIONS.join(' or ')}`,
			{ version },
		);
	}
	return version as SyntheticFirmwareVersion;
}

function chipsOf(family: BootFamily): string[] {
	return BOOT_CHIPS.filter((c) => bootFamilyOf(c) === family);
}

/** `nvfw_bin_hdr` + header region + payload; `bin_size` is the file size rounded up to 256, as published. */
function binFile(
	header: Uint8Array,
	payload: Uint8Array,
	headerOffset = 24,
	dataOffset?: number,
): Uint8Array {
	const dataAt = dataOffset ?? headerOffset + header.length;
	const total = dataAt + payload.length;
	const w = new ByteWriter(total);
	w.u32(BIN_MAGIC)
		.u32(1)
		.u32(Math.ceil(total / 256) * 256)
		.u32(headerOffset)
		.u32(dataAt)
		.u32(payload.length);
	w.padTo(headerOffset).bytes(header).padTo(dataAt).bytes(payload);
	return w.finish();
}

const elfCache = new Map<string, Uint8Array>();
const gspRecordCache = new Map<string, GspRecord>();

function gspRecord(group: Group, version: SyntheticFirmwareVersion): GspRecord {
	const key = `${group}/${version}`;
	let r = gspRecordCache.get(key);
	if (r === undefined) {
		r = gspRecordOf(gspElf(group, version), version, [`synthetic ${group} group`]);
		gspRecordCache.set(key, r);
	}
	return r;
}

function gspElf(group: Group, version: SyntheticFirmwareVersion): Uint8Array {
	const key = `${group}/${version}` as const;
	const hit = elfCache.get(key);
	if (hit !== undefined) return hit;
	const rng = new DeterministicRandom(`synthetic-gsp/${key}`);
	const image = rng.bytes(IMAGE_SIZES[key]);
	const fwversion = new TextEncoder().encode(`${version}\0`);
	const sections = [
		{ name: '.fwimage', flags: 3n, data: image },
		{ name: '.fwversion', data: fwversion },
		...GROUP_SIGNATURES[group].map((name) => ({ name, data: rng.bytes(4096) })),
		{
			name: '.symtab',
			type: 2,
			align: 8,
			entrySize: 24,
			link: 4 + GROUP_SIGNATURES[group].length,
			data: new Uint8Array(24),
		},
		{ name: '.strtab', type: 3, data: new Uint8Array(1) },
	];
	const elf = writeElf(EM_RISCV, 1, sections);
	elfCache.set(key, elf);
	return elf;
}

interface BooterParams {
	readonly fuseVersion: number;
	readonly signatures: number;
	readonly signatureSize: number;
	readonly ucodeId: number;
	readonly pkcOffset: number;
}

function booterParams(family: BootFamily): BooterParams {
	if (family === 'tu10x' || family === 'tu11x') {
		return { fuseVersion: 0, signatures: 1, signatureSize: 16, ucodeId: 0xd, pkcOffset: 0x200 };
	}
	if (family === 'ga100')
		return { fuseVersion: 0, signatures: 1, signatureSize: 384, ucodeId: 3, pkcOffset: 0x200 };
	return { fuseVersion: 1, signatures: 2, signatureSize: 384, ucodeId: 3, pkcOffset: 0x10 };
}

function booterFile(family: BootFamily, version: string, kind: 'booter_load' | 'booter_unload'): Uint8Array {
	const p = booterParams(family);
	const rng = new DeterministicRandom(`synthetic-${kind}/${family}/${version}`);
	const appSize = kind === 'booter_load' ? 0x3000 + 0x100 * rng.below(8) : 0x1800 + 0x100 * rng.below(4);
	const dataSize = kind === 'booter_load' ? 0x1200 : 0x800;
	const osCode = rng.bytes(0x100);
	const app = rng.bytes(appSize);
	const data = rng.bytes(dataSize);
	data.fill(0, p.pkcOffset, p.pkcOffset + p.signatureSize);
	const payload = new ByteWriter().bytes(osCode).bytes(app).bytes(data).finish();
	const osDataOffset = 0x100 + appSize;
	const sigs = rng.bytes(p.signatures * p.signatureSize);

	// HS header v2 at 24, then the blocks it points at, in the published order.
	const hsAt = 24;
	const sigAt = hsAt + 36;
	const patchLocAt = sigAt + sigs.length;
	const patchSigAt = patchLocAt + 4;
	const metaAt = patchSigAt + 4;
	const numSigAt = metaAt + 12;
	const loadAt = numSigAt + 4;
	const h = new ByteWriter(256);
	h.u32(sigAt)
		.u32(sigs.length)
		.u32(patchLocAt)
		.u32(patchSigAt)
		.u32(metaAt)
		.u32(12)
		.u32(numSigAt)
		.u32(loadAt)
		.u32(36);
	h.bytes(sigs);
	h.u32(osDataOffset + p.pkcOffset); // patch_loc (payload offset)
	h.u32(0); // patch_sig
	h.u32(p.fuseVersion).u32(0x1).u32(p.ucodeId);
	h.u32(p.signatures);
	h.u32(0).u32(0x100).u32(osDataOffset).u32(dataSize).u32(1);
	h.u32(0x100).u32(appSize).u32(0x100).u32(0);
	return binFile(h.finish(), payload, hsAt);
}

function bootloaderFile(family: BootFamily, version: string): Uint8Array {
	const rng = new DeterministicRandom(`synthetic-bootloader/${family}/${version}`);
	const legacy = groupOf(family) === 'tu';
	const h = new ByteWriter(84);
	let payload: Uint8Array;
	const appVersion = version === '570.144' ? 0x5701_4400 : 0x5351_1301;
	if (legacy) {
		payload = rng.bytes(0x1000);
		h.u32(4).u32(0).u32(0x488).u32(0x488).u32(0x10).u32(0).u32(0).u32(appVersion);
		h.u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0); // manifest, monitor data/code, monitor enabled
		h.u32(0).u32(0).u32(0).u32(0); // swbrom code/data
	} else {
		payload = rng.bytes(0x5000);
		h.u32(5).u32(0x3800).u32(0x880).u32(0x4080).u32(0x10).u32(0).u32(0).u32(appVersion);
		h.u32(0).u32(0x800).u32(0x800).u32(0x1000).u32(0x1800).u32(0x2000).u32(1);
		h.u32(0).u32(0).u32(0).u32(0);
		h.u32(0x6000).u32(0);
	}
	return binFile(h.finish(), payload);
}

function genBootloaderFiles(): { gen: Uint8Array; acr: Uint8Array } {
	const rng = new DeterministicRandom('synthetic-gen_bootloader');
	const payload = rng.bytes(0x300);
	const desc = new ByteWriter(24).u32(0xfd).u32(0).u32(0).u32(0x200).u32(0x200).u32(0x100).finish();
	return { gen: binFile(desc, payload), acr: binFile(desc, payload, 0x100, 0x200) };
}

/** The small files of a synthetic set (booters, bootloaders) with their records: everything but the ELF. */
interface SyntheticUcodes {
	readonly family: BootFamily;
	readonly group: Group;
	readonly files: ReadonlyMap<string, Uint8Array>;
	readonly bootloader: BootloaderRecord;
	readonly booters: readonly BooterRecord[];
	readonly genBootloader: GenBootloaderRecord | undefined;
}

const ucodesCache = new Map<string, SyntheticUcodes>();

function syntheticUcodes(name: string, v: SyntheticFirmwareVersion): SyntheticUcodes {
	const key = `${name}/${v}`;
	const hit = ucodesCache.get(key);
	if (hit !== undefined) return hit;
	const family = bootFamilyOf(name);
	const group = groupOf(family);
	const chips = chipsOf(family);
	const files = new Map<string, Uint8Array>();
	const load = booterFile(family, v, 'booter_load');
	const unload = booterFile(family, v, 'booter_unload');
	const bl = bootloaderFile(family, v);
	files.set(`gsp/booter_load-${v}.bin`, load);
	files.set(`gsp/booter_unload-${v}.bin`, unload);
	files.set(`gsp/bootloader-${v}.bin`, bl);
	let genBootloader: GenBootloaderRecord | undefined;
	if (group === 'tu') {
		const g = genBootloaderFiles();
		if (v === '570.144') files.set('gsp/gen_bootloader-570.144.bin', g.gen);
		files.set('acr/bl.bin', g.acr);
		genBootloader = genBootloaderRecordOf(
			g.gen,
			'570.144',
			['synthetic'],
			chipsOf('tu10x').concat(chipsOf('tu11x'), ['ga100']),
		);
	}
	const parts: SyntheticUcodes = {
		family,
		group,
		files,
		bootloader: bootloaderRecordOf(bl, v, chips),
		booters: [
			booterRecordOf(load, 'booter_load', v, chips),
			booterRecordOf(unload, 'booter_unload', v, chips),
		],
		genBootloader,
	};
	ucodesCache.set(key, parts);
	return parts;
}

const setCache = new Map<string, SyntheticFirmwareSet>();

/**
 * The synthetic firmware set of a chip and version (generated once per process and cached).
 * @throws SimBootConfigError for a chip without a boot model or an unsupported version.
 */
export function syntheticFirmware(chip: string, version: string): SyntheticFirmwareSet {
	const name = chip.toLowerCase();
	const v = checkVersion(version);
	const key = `${name}/${v}`;
	const hit = setCache.get(key);
	if (hit !== undefined) return hit;
	const parts = syntheticUcodes(name, v);
	const files = new Map<string, Uint8Array>();
	for (const [rel, bytes] of parts.files) {
		files.set(rel, bytes);
		if (rel === `gsp/bootloader-${v}.bin`) files.set(`gsp/gsp-${v}.bin`, gspElf(parts.group, v));
	}
	const set: SyntheticFirmwareSet = Object.freeze({
		chip: name,
		version: v,
		family: parts.family,
		files,
		gsp: gspRecord(parts.group, v),
		bootloader: parts.bootloader,
		booters: parts.booters,
		genBootloader: parts.genBootloader,
	});
	setCache.set(key, set);
	return set;
}

/** One chip per boot family, to register every family's synthetic firmware. */
export const SYNTHETIC_FAMILY_CHIPS: readonly string[] = Object.freeze([
	'tu102',
	'tu116',
	'ga100',
	'ga102',
	'ad102',
]);

/** Register the synthetic firmware of every family and version in `known` (idempotent). */
export function registerAllSyntheticFirmware(known: KnownImages): void {
	for (const chip of SYNTHETIC_FAMILY_CHIPS) {
		for (const v of SYNTHETIC_FIRMWARE_VERSIONS) registerSyntheticFirmware(known, syntheticFirmware(chip, v));
	}
}

/**
 * Register the synthetic firmware of every family and version in `known` lazily: the booters, bootloaders and
 * generic bootloader (small) when the falcons first need a ucode the eagerly registered images do not
 * explain or a bootloader digest is unknown; each GSP image (1–4 MiB to generate) only when a GSP digest is
 * looked up that nothing registered so far matches. Booting published firmware thus generates none of them.
 */
export function registerSyntheticFirmwareLazily(known: KnownImages): void {
	for (const chip of SYNTHETIC_FAMILY_CHIPS) {
		for (const v of SYNTHETIC_FIRMWARE_VERSIONS) {
			known.addProvider(() => registerUcodes(known, syntheticUcodes(chip, v), v), ['ucodes', 'bootloaders']);
		}
	}
	for (const group of ['tu', 'ga'] as const) {
		for (const v of SYNTHETIC_FIRMWARE_VERSIONS) {
			known.addProvider(() => registerGsp(known, group, gspRecord(group, v)), ['gspImages']);
		}
	}
}

const registered = new WeakMap<KnownImages, Set<string>>();

/** Whether `key` was already registered in `known` (and mark it). */
function once(known: KnownImages, key: string): boolean {
	let done = registered.get(known);
	if (done === undefined) {
		done = new Set();
		registered.set(known, done);
	}
	if (done.has(key)) return false;
	done.add(key);
	return true;
}

function registerGsp(known: KnownImages, group: Group, gsp: GspRecord): void {
	if (!once(known, `gsp/${group}/${gsp.version}`)) return;
	known.addGspImage({
		name: `synthetic gsp ${gsp.version} (${group} group)`,
		version: gsp.version,
		source: 'synthetic',
		size: gsp.fwimageSize,
		sha256: gsp.fwimageSha256,
		signatures: new Map(Object.entries(gsp.signatures)),
	});
}

function registerUcodes(
	known: KnownImages,
	parts: Pick<SyntheticUcodes, 'family' | 'bootloader' | 'booters' | 'genBootloader'>,
	version: string,
): void {
	if (!once(known, `${parts.family}/${version}`)) return;
	const b = parts.bootloader;
	known.addBootloader({
		name: `synthetic bootloader ${b.version} (${parts.family})`,
		version: b.version,
		source: 'synthetic',
		chips: b.chips,
		size: b.payloadSize,
		sha256: b.sha256,
		appVersion: b.appVersion,
		codeOffset: b.codeOffset,
		dataOffset: b.dataOffset,
		manifestOffset: b.manifestOffset,
	});
	for (const r of parts.booters) known.addBooter(r, 'synthetic');
	if (parts.genBootloader !== undefined && once(known, 'gen_bootloader')) {
		known.addUcode(genBootloaderUcode(parts.genBootloader, 'synthetic'));
	}
}

/** Register a synthetic set's digests in `known` (idempotent). */
export function registerSyntheticFirmware(known: KnownImages, set: SyntheticFirmwareSet): void {
	registerGsp(known, groupOf(set.family), set.gsp);
	registerUcodes(known, set, set.version);
}

/**
 * Write synthetic firmware trees under `root` (`root/nvidia/<chip>/gsp/…`, `…/acr/bl.bin`), the layout a
 * firmware locator searches. Returns the paths written.
 */
export function writeSyntheticFirmwareTree(
	root: string,
	chips: readonly string[] = BOOT_CHIPS,
	versions: readonly string[] = SYNTHETIC_FIRMWARE_VERSIONS,
): string[] {
	const written: string[] = [];
	for (const chip of chips) {
		for (const version of versions) {
			for (const [rel, bytes] of syntheticFirmware(chip, version).files) {
				const path = join(root, 'nvidia', chip.toLowerCase(), rel);
				mkdirSync(dirname(path), { recursive: true });
				writeFileSync(path, bytes);
				written.push(path);
			}
		}
	}
	return written;
}
