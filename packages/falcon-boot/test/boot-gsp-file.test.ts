import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FirmwareFormatError } from '../src/firmware/errors.ts';
import { parseGspElf } from '../src/firmware/gsp-elf.ts';
import { openGspImageFile } from '../src/gsp-file.ts';
import { ascii, buildElf, findRealFirmware, NO_FIRMWARE_MESSAGE } from './firmware-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'gspkit-gsp-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = Uint8Array.from({ length: 300 * 1024 + 17 }, (_, i) => (i * 131 + (i >> 11)) & 0xff);
const sig = Uint8Array.from({ length: 4096 }, (_, i) => (i < 384 ? (i * 7) & 0xff : 0));

function gspFile(name: string, cls: 32 | 64 = 64): string {
	const elf = buildElf(cls, [
		{ name: '.fwimage', type: 1, data: image },
		{ name: '.fwversion', type: 1, data: ascii('570.144\0') },
		{ name: '.fwsignature_ga10x', type: 1, data: sig },
	]);
	const path = join(dir, name);
	writeFileSync(path, elf);
	return path;
}

describe('openGspImageFile', () => {
	it('parses the container without the image and reads the image straight from the file', async () => {
		const path = gspFile('gsp-570.144.bin');
		const f = await openGspImageFile(path);
		try {
			expect(f.sparse).toBe(true);
			expect(f.elf.fwVersion?.text).toBe('570.144');
			expect(f.elf.image.size).toBe(image.length);
			expect(Buffer.from(f.elf.signatures[0]?.data ?? []).equals(Buffer.from(sig))).toBe(true);
			// Only the image's first 64 KiB were read into the parse buffer.
			expect(f.elf.image.data[64 * 1024 - 1]).toBe(image[64 * 1024 - 1]);
			expect(f.elf.image.data.subarray(64 * 1024).every((b) => b === 0)).toBe(true);
			expect(f.image.size).toBe(image.length);
			for (const [off, len] of [
				[0, 16],
				[4096, 4096],
				[image.length - 100, 100],
				[123457, 70000],
			] as const) {
				const into = new Uint8Array(len);
				await f.image.read(into, off);
				expect(Buffer.from(into).equals(Buffer.from(image.subarray(off, off + len)))).toBe(true);
			}
			await expect(f.image.read(new Uint8Array(2), image.length - 1)).rejects.toThrow(/outside the image/);
		} finally {
			await f.close();
			await f.close();
		}
		await expect(f.image.read(new Uint8Array(1), 0)).rejects.toThrow(/after close/);
	});

	it('falls back to a whole read for a file the fast path does not handle, keeping the parser error', async () => {
		const e = await openGspImageFile(gspFile('gsp32.bin', 32)).catch((x: unknown) => x);
		expect(e).toBeInstanceOf(FirmwareFormatError);
		expect((e as FirmwareFormatError).field).toBe('e_ident[EI_CLASS]');
		const truncated = join(dir, 'gsp-truncated.bin');
		writeFileSync(truncated, readFileSync(gspFile('gsp-full.bin')).subarray(0, 200 * 1024));
		await expect(openGspImageFile(truncated)).rejects.toBeInstanceOf(FirmwareFormatError);
		await expect(openGspImageFile(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'FW_NOT_FOUND' });
	});

	const real = findRealFirmware();
	it.skipIf(real === null)(
		`the real ga102 gsp-570.144.bin: same result as a full parse (${NO_FIRMWARE_MESSAGE})`,
		async () => {
			const path = join(real?.nvidia ?? '', 'ga102/gsp/gsp-570.144.bin');
			const full = readFileSync(path);
			const ref = parseGspElf(full, path);
			const f = await openGspImageFile(path);
			try {
				expect(f.sparse).toBe(true);
				expect(f.elf.elf.sections.map((s) => [s.name, s.offset, s.size])).toEqual(
					ref.elf.sections.map((s) => [s.name, s.offset, s.size]),
				);
				expect(f.elf.fwVersion?.text).toBe(ref.fwVersion?.text);
				expect(f.elf.buildId).toBe(ref.buildId);
				expect(f.elf.signatures.map((s) => Buffer.from(s.data).toString('hex'))).toEqual(
					ref.signatures.map((s) => Buffer.from(s.data).toString('hex')),
				);
				const off = 40_000_000;
				const into = new Uint8Array(1 << 20);
				await f.image.read(into, off);
				expect(Buffer.from(into).equals(Buffer.from(ref.image.data.subarray(off, off + into.length)))).toBe(
					true,
				);
			} finally {
				await f.close();
			}
		},
	);
});
