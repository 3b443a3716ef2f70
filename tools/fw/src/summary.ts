/**
 * Plain-JSON summaries of parsed firmware files (no bigints, no byte arrays), shared by the table and
 * `--json` output.
 *
 * @module
 */

import type { ElfFile, LoadedFirmware } from '@gspkit/falcon-boot';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** `0x`-prefixed lower-case hex. */
export function hex(v: number | bigint): string {
	return `0x${v.toString(16)}`;
}

/** ELF section types by number, for display. */
const SECTION_TYPES: Record<number, string> = {
	0: 'NULL',
	1: 'PROGBITS',
	2: 'SYMTAB',
	3: 'STRTAB',
	4: 'RELA',
	7: 'NOTE',
	8: 'NOBITS',
	9: 'REL',
	11: 'DYNSYM',
};

function elfSummary(elf: ElfFile): { [k: string]: Json } {
	const h = elf.header;
	return {
		class: `ELF${h.class}`,
		type: h.type,
		machine: hex(h.machine),
		entry: hex(h.entry),
		sectionHeaderOffset: h.shoff,
		sectionCount: h.shnum,
		sections: elf.sections.map((s) => ({
			index: s.index,
			name: s.name,
			type: SECTION_TYPES[s.type] ?? hex(s.type),
			offset: s.offset,
			size: s.size,
		})),
	};
}

/** Everything `inspect` reports about one file. */
export function summarizeFirmware(f: LoadedFirmware): { [k: string]: Json } {
	const base: { [k: string]: Json } = {
		path: f.file.path,
		realPath: f.file.realPath,
		symlinkTarget: f.file.linkTarget,
		size: f.size,
		kind: f.kind,
		kindSource: f.kindSource,
		chip: f.chip,
		version: f.version,
		warnings: [...f.warnings],
	};
	switch (f.kind) {
		case 'booter_load':
		case 'booter_unload':
		case 'scrubber':
		case 'hs': {
			const c = f.content;
			return {
				...base,
				binHeader: { ...c.bin },
				hsHeader: { ...c.header },
				meta: { ...c.meta },
				load: {
					osCodeOffset: c.load.osCodeOffset,
					osCodeSize: c.load.osCodeSize,
					osDataOffset: c.load.osDataOffset,
					osDataSize: c.load.osDataSize,
					numApps: c.load.numApps,
					appEntrySize: c.load.appEntrySize,
				},
				apps: c.load.apps.map((a) => ({ ...a })),
				signatures: {
					count: c.numSignatures,
					size: c.signatureSize,
					offset: c.signaturesOffset,
					patchLocation: c.patchLocation,
					patchSignatureIndex: c.patchSignatureIndex,
				},
				brom: { ...c.brom },
			};
		}
		case 'bootloader': {
			const c = f.content;
			return {
				...base,
				binHeader: { ...c.bin },
				desc: { ...(c.desc as unknown as { [k: string]: number }) },
				descWords: c.descWords,
				regions: c.regions.map((r) => ({ ...r })),
			};
		}
		case 'gen_bootloader': {
			const c = f.content;
			return { ...base, binHeader: { ...c.bin }, desc: { ...c.desc }, imemAddress: c.imemAddress };
		}
		case 'gsp': {
			const c = f.content;
			return {
				...base,
				elf: elfSummary(c.elf),
				image: {
					offset: c.image.offset,
					size: c.image.size,
					format: c.image.format,
					inner:
						c.image.inner === null
							? null
							: {
									class: `ELF${c.image.inner.header.class}`,
									type: c.image.inner.header.type,
									machine: hex(c.image.inner.header.machine),
									entry: hex(c.image.inner.header.entry),
									sectionCount: c.image.inner.sectionCount,
								},
				},
				fwVersion:
					c.fwVersion === null
						? null
						: { text: c.fwVersion.text, offset: c.fwVersion.offset, size: c.fwVersion.size },
				signatures: c.signatures.map((s) => ({
					section: s.section,
					family: s.family,
					chipFamily: s.chipFamily,
					confidentialCompute: s.confidentialCompute,
					offset: s.offset,
					size: s.size,
					usedBytes: s.usedBytes,
				})),
				symbols: {
					symtab: c.symbols.symtab,
					strtab: c.symbols.strtab,
					count: c.symbols.count,
					names: c.symbols.symbols.filter((s) => s.name !== '').map((s) => s.name),
				},
				imageSizeSymbol: c.imageSizeSymbol === null ? null : Number(c.imageSizeSymbol),
				buildId: c.buildId,
			};
		}
		case 'fmc': {
			const c = f.content;
			const sec = (s: typeof c.hash) => ({
				offset: s.offset,
				size: s.size,
				crc32: hex(s.crc32),
				storedCrc32: hex(s.storedCrc32),
			});
			return {
				...base,
				elf: elfSummary(c.elf),
				hash: { ...sec(c.hash), algorithm: 'sha384', matchesImage: c.hashOk },
				signature: sec(c.signature),
				publicKey: sec(c.publicKey),
				image: sec(c.image),
				scheme: c.scheme,
				crcOk: c.crcOk,
				hashOk: c.hashOk,
			};
		}
	}
}

/** A short summary for directory listings. */
export function briefFirmware(f: LoadedFirmware): { [k: string]: Json } {
	let detail = '';
	if (f.kind === 'gsp')
		detail = `.fwversion ${f.content.fwVersion?.text ?? '-'}, ${f.content.signatures.length} signature sections`;
	else if (f.kind === 'fmc') detail = `${f.content.scheme}, image ${f.content.image.size} B`;
	else if (f.kind === 'bootloader') detail = `RM_RISCV_UCODE_DESC v${f.content.desc.version}`;
	else if (f.kind === 'gen_bootloader') detail = `start_tag ${hex(f.content.desc.startTag)}`;
	else detail = `${f.content.numSignatures} × ${f.content.signatureSize} B signatures`;
	return {
		path: f.file.path,
		kind: f.kind,
		chip: f.chip,
		version: f.version,
		size: f.size,
		symlinkTarget: f.file.linkTarget,
		realPath: f.file.realPath,
		detail,
		warnings: [...f.warnings],
	};
}
