/**
 * Test helpers for the firmware tests: where the real firmware is, independent raw readings, and a tiny
 * ELF builder for synthetic cases. Nothing here uses the parsers under test.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A firmware root that holds the published `nvidia/<chip>/gsp/` set, or null. */
export interface RealFirmware {
	/** Directory containing `nvidia/`. */
	readonly root: string;
	/** `<root>/nvidia`. */
	readonly nvidia: string;
}

/**
 * Look for the real firmware: `GSPKIT_FIRMWARE_PATH` entries, `/lib/firmware`,
 * `${GSPKIT_CACHE:-~/.cache/gspkit}/firmware`, then the raw Debian unpack directory. A root counts only if
 * it holds both versions of the ga102 and tu102 GSP images (so a partial system install is skipped).
 */
export function findRealFirmware(): RealFirmware | null {
	const cache = process.env.GSPKIT_CACHE || join(homedir(), '.cache', 'gspkit');
	const candidates = [
		...(process.env.GSPKIT_FIRMWARE_PATH ?? '').split(':').filter((p) => p !== ''),
		'/lib/firmware',
		join(cache, 'firmware'),
		join(homedir(), '.cache', 'gspkit', 'debian', 'firmware-nvidia-graphics', 'usr', 'lib', 'firmware'),
	];
	for (const root of candidates) {
		const nvidia = join(root, 'nvidia');
		const need = ['ga102/gsp/gsp-570.144.bin', 'ga102/gsp/gsp-535.113.01.bin', 'tu102/gsp/gsp-570.144.bin'];
		if (need.every((f) => existsSync(join(nvidia, f)))) return { root, nvidia };
	}
	return null;
}

/** The message shown when the real firmware is absent. */
export const NO_FIRMWARE_MESSAGE =
	'real firmware not found (set GSPKIT_FIRMWARE_PATH, or run the firmware fetch into ~/.cache/gspkit): skipped';

/** Every file under `<nvidia>/<chip>/gsp/`, as `{ chip, name, path }`. */
export function realGspFiles(nvidia: string): { chip: string; name: string; path: string }[] {
	const out: { chip: string; name: string; path: string }[] = [];
	for (const chip of readdirSync(nvidia).sort()) {
		const dir = join(nvidia, chip, 'gsp');
		if (!existsSync(dir)) continue;
		for (const name of readdirSync(dir).sort()) out.push({ chip, name, path: join(dir, name) });
	}
	return out;
}

/** One section as `readelf -S -W` prints it. */
export interface ReadelfSection {
	index: number;
	name: string;
	type: string;
	offset: number;
	size: number;
}

/** Run `readelf -S -W` and parse its section table (index, name, type, offset, size). */
export function readelfSections(path: string): ReadelfSection[] {
	const out = execFileSync('readelf', ['-S', '-W', path], { encoding: 'utf8' });
	const rows: ReadelfSection[] = [];
	for (const line of out.split('\n')) {
		const m = /^\s*\[\s*(\d+)\]\s+(.*)$/.exec(line);
		if (m === null) continue;
		const index = Number(m[1]);
		const tokens = (m[2] as string).trim().split(/\s+/);
		// Section 0 has no name: its first token is the type.
		if (index === 0) {
			rows.push({
				index,
				name: '',
				type: tokens[0] as string,
				offset: Number.parseInt(tokens[2] as string, 16),
				size: Number.parseInt(tokens[3] as string, 16),
			});
			continue;
		}
		const [name, type, , off, size] = tokens as [string, string, string, string, string];
		rows.push({ index, name, type, offset: Number.parseInt(off, 16), size: Number.parseInt(size, 16) });
	}
	return rows;
}

/** `readelf -h` fields by label ("Machine", "Type", "Start of section headers", …). */
export function readelfHeader(path: string): Record<string, string> {
	const out = execFileSync('readelf', ['-h', path], { encoding: 'utf8' });
	const h: Record<string, string> = {};
	for (const line of out.split('\n')) {
		const m = /^\s+([^:]+):\s+(.*)$/.exec(line);
		if (m !== null) h[(m[1] as string).trim()] = (m[2] as string).trim();
	}
	return h;
}

/** Number of entries `readelf -s -W` reports for `.symtab`, or 0. */
export function readelfSymbolCount(path: string): number {
	const out = execFileSync('readelf', ['-s', '-W', path], { encoding: 'utf8' });
	const m = /Symbol table '\.symtab' contains (\d+) entr/.exec(out);
	return m === null ? 0 : Number(m[1]);
}

/** Little-endian u32 at `offset`, read with a DataView (no parser involved). */
export function rawU32(bytes: Uint8Array, offset: number): number {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** A section for {@link buildElf}. */
export interface SyntheticSection {
	name: string;
	type: number;
	data: Uint8Array;
	link?: number;
	info?: number;
	entsize?: number;
}

/**
 * Build a little-endian ELF (32 or 64-bit) with the given sections after a NULL section, followed by a
 * `.shstrtab` and the section header table. `extended` puts the section count and string-table index in
 * section 0 (e_shnum = 0, e_shstrndx = SHN_XINDEX), as ELF does for more than 0xff00 sections.
 */
export function buildElf(
	cls: 32 | 64,
	sections: SyntheticSection[],
	opts: { machine?: number; type?: number; extended?: boolean } = {},
): Uint8Array {
	const ehsize = cls === 64 ? 64 : 52;
	const shentsize = cls === 64 ? 64 : 40;
	const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
	const nameOff: number[] = [];
	const strBytes: number[] = [];
	for (const n of names) {
		nameOff.push(strBytes.length);
		for (const ch of n) strBytes.push(ch.charCodeAt(0));
		strBytes.push(0);
	}
	const all = [...sections, { name: '.shstrtab', type: 3, data: Uint8Array.from(strBytes) }];
	let off = ehsize;
	const offsets = all.map((s) => {
		const o = off;
		off += s.data.length;
		return o;
	});
	const shoff = Math.ceil(off / 8) * 8;
	const count = all.length + 1;
	const total = shoff + count * shentsize;
	const buf = new Uint8Array(total);
	const dv = new DataView(buf.buffer);
	buf.set([0x7f, 0x45, 0x4c, 0x46, cls === 64 ? 2 : 1, 1, 1], 0);
	dv.setUint16(0x10, opts.type ?? 1, true);
	dv.setUint16(0x12, opts.machine ?? 0xf3, true);
	dv.setUint32(0x14, 1, true);
	const shstrndx = count - 1;
	if (cls === 64) {
		dv.setBigUint64(0x28, BigInt(shoff), true);
		dv.setUint16(0x34, ehsize, true);
		dv.setUint16(0x3a, shentsize, true);
		dv.setUint16(0x3c, opts.extended ? 0 : count, true);
		dv.setUint16(0x3e, opts.extended ? 0xffff : shstrndx, true);
	} else {
		dv.setUint32(0x20, shoff, true);
		dv.setUint16(0x28, ehsize, true);
		dv.setUint16(0x2e, shentsize, true);
		dv.setUint16(0x30, opts.extended ? 0 : count, true);
		dv.setUint16(0x32, opts.extended ? 0xffff : shstrndx, true);
	}
	for (const [i, s] of all.entries()) buf.set(s.data, offsets[i] as number);
	const writeSh = (
		idx: number,
		f: {
			name: number;
			type: number;
			offset: number;
			size: number;
			link: number;
			info: number;
			entsize: number;
		},
	) => {
		const at = shoff + idx * shentsize;
		dv.setUint32(at, f.name, true);
		dv.setUint32(at + 4, f.type, true);
		if (cls === 64) {
			dv.setBigUint64(at + 0x18, BigInt(f.offset), true);
			dv.setBigUint64(at + 0x20, BigInt(f.size), true);
			dv.setUint32(at + 0x28, f.link, true);
			dv.setUint32(at + 0x2c, f.info, true);
			dv.setBigUint64(at + 0x30, 1n, true);
			dv.setBigUint64(at + 0x38, BigInt(f.entsize), true);
		} else {
			dv.setUint32(at + 0x10, f.offset, true);
			dv.setUint32(at + 0x14, f.size, true);
			dv.setUint32(at + 0x18, f.link, true);
			dv.setUint32(at + 0x1c, f.info, true);
			dv.setUint32(at + 0x20, 1, true);
			dv.setUint32(at + 0x24, f.entsize, true);
		}
	};
	// Section 0 carries the real count and string-table index under extended numbering.
	writeSh(0, {
		name: 0,
		type: 0,
		offset: 0,
		size: opts.extended ? count : 0,
		link: opts.extended ? shstrndx : 0,
		info: 0,
		entsize: 0,
	});
	for (const [i, s] of all.entries()) {
		writeSh(i + 1, {
			name: nameOff[i + 1] as number,
			type: s.type,
			offset: offsets[i] as number,
			size: s.data.length,
			link: 'link' in s ? (s.link ?? 0) : 0,
			info: 'info' in s ? (s.info ?? 0) : 0,
			entsize: 'entsize' in s ? (s.entsize ?? 0) : 0,
		});
	}
	return buf;
}

/** ASCII bytes of `s`. */
export function ascii(s: string): Uint8Array {
	return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
