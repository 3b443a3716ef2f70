import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	type Architecture,
	CHIPS,
	chipByChipset,
	chipByName,
	formatRevision,
	identifyChip,
	isChipName,
	UnsupportedChipError,
} from '../src/index.ts';

// Register images built here from the bit layout in the hardware reference (A.0), not with hal's definitions.
// NV_PMC_BOOT_42: architecture 29:24, implementation 23:20, major_revision 19:16, minor_revision 15:12.
function boot42(arch: number, impl: number, major: number, minor: number, noise = 0): number {
	const fields = (arch << 24) | (impl << 20) | (major << 16) | (minor << 12);
	const noiseMask = 0xc0000fff; // bits 31:30 and 11:0 belong to no field
	return (fields | (noise & noiseMask)) >>> 0;
}
// NV_PMC_BOOT_0: architecture_0 28:24 (arch bits 4:0), implementation 23:20, architecture_1 8 (arch bit 5),
// major_revision 7:4, minor_revision 3:0.
function boot0(arch: number, impl: number, major: number, minor: number, noise = 0): number {
	const fields = ((arch & 0x1f) << 24) | (impl << 20) | (((arch >> 5) & 1) << 8) | (major << 4) | minor;
	const noiseMask = 0xe00ffe00; // bits 31:29, 19:9
	return (fields | (noise & noiseMask)) >>> 0;
}

// Chipset codes and architectures copied from the reference text, independently of src/chips.ts.
const EXPECTED: [string, number, Architecture][] = [
	['TU102', 0x162, 'turing'],
	['TU104', 0x164, 'turing'],
	['TU106', 0x166, 'turing'],
	['TU117', 0x167, 'turing'],
	['TU116', 0x168, 'turing'],
	['GA100', 0x170, 'ampere'],
	['GA102', 0x172, 'ampere'],
	['GA103', 0x173, 'ampere'],
	['GA104', 0x174, 'ampere'],
	['GA106', 0x176, 'ampere'],
	['GA107', 0x177, 'ampere'],
	['GH100', 0x180, 'hopper'],
	['AD102', 0x192, 'ada'],
	['AD103', 0x193, 'ada'],
	['AD104', 0x194, 'ada'],
	['AD106', 0x196, 'ada'],
	['AD107', 0x197, 'ada'],
	['GB100', 0x1a0, 'blackwell'],
	['GB102', 0x1a2, 'blackwell'],
	['GB202', 0x1b2, 'blackwell'],
	['GB203', 0x1b3, 'blackwell'],
	['GB205', 0x1b5, 'blackwell'],
	['GB206', 0x1b6, 'blackwell'],
	['GB207', 0x1b7, 'blackwell'],
];

function catchError(fn: () => unknown): unknown {
	try {
		fn();
	} catch (e) {
		return e;
	}
	throw new Error('expected an error');
}

describe('chip table', () => {
	it('holds exactly the reference chips', () => {
		expect(CHIPS.map((c) => [c.name, c.chipset, c.architecture])).toEqual(
			[...EXPECTED].sort((a, b) => a[1] - b[1]),
		);
		for (const c of CHIPS) {
			expect(c.archCode).toBe(c.chipset >> 4);
			expect(c.implementation).toBe(c.chipset & 0xf);
			expect(Object.isFrozen(c)).toBe(true);
		}
		expect(Object.isFrozen(CHIPS)).toBe(true);
	});

	it('assigns MMU formats and boot variants per generation', () => {
		for (const c of CHIPS) {
			expect(c.mmuFormat).toBe(c.architecture === 'hopper' || c.architecture === 'blackwell' ? 'v3' : 'v2');
		}
		expect(chipByName('TU102').falconBootVariant).toBe('tu10x');
		expect(chipByName('TU117').falconBootVariant).toBe('tu10x');
		expect(chipByName('GA100').falconBootVariant).toBe('ga100');
		expect(chipByName('GA107').falconBootVariant).toBe('ga10x');
		expect(chipByName('AD104').falconBootVariant).toBe('ga10x');
		expect(chipByName('GH100').falconBootVariant).toBe('gh100');
		expect(chipByName('GB102').falconBootVariant).toBe('gb10x');
		expect(chipByName('GB207').falconBootVariant).toBe('gb20x');
		expect(chipByName('TU116').gspSignatureSection).toBe('.fwsignature_tu11x');
		// Section names as found in the published gsp-*.bin files (TU102's image carries ga100/tu10x/tu11x).
		expect(chipByName('GA100').gspSignatureSection).toBe('.fwsignature_ga100');
		expect(chipByName('GH100').gspSignatureSection).toBe('.fwsignature_gh100');
		expect(chipByName('GB100').gspSignatureSection).toBe('.fwsignature_gb10x');
		expect(chipByName('GB202').gspSignatureSection).toBe('.fwsignature_gb20x');
		expect(chipByName('GA102').gspSignatureSection).toBe('.fwsignature_ga10x');
		expect(chipByName('AD102').gspSignatureSection).toBe('.fwsignature_ad10x');
	});

	it('looks chips up by name case-insensitively and by chipset', () => {
		expect(chipByName('ga102').chipset).toBe(0x172);
		expect(chipByName(' Ad102 ').name).toBe('AD102');
		expect(chipByChipset(0x1b7)?.name).toBe('GB207');
		expect(chipByChipset(0x171)).toBeUndefined();
		expect(isChipName('tu104')).toBe(true);
		expect(isChipName('gv100')).toBe(false);
		const e = catchError(() => chipByName('GV100'));
		expect(e).toMatchObject({ code: 'HAL_INVALID_ARGUMENT', errno: 'EINVAL' });
		expect((e as Error).message).toContain('GV100');
	});
});

describe('identifyChip', () => {
	it.each(EXPECTED)('identifies %s from BOOT_42', (name, chipset, architecture) => {
		const arch = chipset >> 4;
		const impl = chipset & 0xf;
		const chip = identifyChip(boot0(arch, impl, 0xa, 1), boot42(arch, impl, 0xa, 1));
		expect(chip).toMatchObject({
			name,
			chipset,
			architecture,
			archCode: arch,
			implementation: impl,
			source: 'boot42',
		});
		expect(chip.revision).toEqual({ major: 0xa, minor: 1 });
		expect(chip.info).toBe(chipByName(name));
		expect(formatRevision(chip.revision)).toBe('a1');
	});

	it.each(EXPECTED)('identifies %s from BOOT_0 when BOOT_42 reads zero', (name, chipset) => {
		const chip = identifyChip(boot0(chipset >> 4, chipset & 0xf, 0xb, 2), 0);
		expect(chip).toMatchObject({ name, chipset, source: 'boot0', revision: { major: 0xb, minor: 2 } });
	});

	it('ignores bits outside the identity fields and takes the revision from BOOT_42', () => {
		const chips = fc.constantFrom(...EXPECTED);
		const nibble = fc.integer({ min: 0, max: 15 });
		fc.assert(
			fc.property(
				chips,
				nibble,
				nibble,
				fc.nat(),
				fc.nat(),
				nibble,
				nibble,
				(c, major, minor, n0, n42, m0, mi0) => {
					const [name, chipset] = c;
					const arch = chipset >> 4;
					const impl = chipset & 0xf;
					const chip = identifyChip(boot0(arch, impl, m0, mi0, n0), boot42(arch, impl, major, minor, n42));
					return chip.name === name && chip.revision.major === major && chip.revision.minor === minor;
				},
			),
		);
	});

	it('rejects pre-Fermi chips from BOOT_0 alone, naming both raw values', () => {
		const b0 = boot0(0x05, 0x0, 0xa, 2); // NV50-class: architecture_1 = 0, architecture_0 < 0xc
		const e = catchError(() => identifyChip(b0, 0));
		expect(e).toBeInstanceOf(UnsupportedChipError);
		expect(e).toMatchObject({ code: 'HAL_UNSUPPORTED_CHIP', errno: 'ENODEV', reason: 'pre-fermi' });
		expect((e as Error).message).toContain('0x050000a2');
		expect((e as Error).message).toContain('0x00000000');
	});

	it('rejects pre-Turing architectures (Volta) with the raw hex', () => {
		const b0 = boot0(0x14, 0, 0xa, 1);
		const b42 = boot42(0x14, 0, 0xa, 1);
		const e = catchError(() => identifyChip(b0, b42)) as UnsupportedChipError;
		expect(e).toBeInstanceOf(UnsupportedChipError);
		expect(e.reason).toBe('unknown-architecture');
		expect(e.message).toContain(`0x${b0.toString(16).padStart(8, '0')}`);
		expect(e.message).toContain('0x140a1000');
		expect(e.boot42).toBe(b42);
	});

	it('rejects unknown implementations of known architectures', () => {
		const known = new Set(EXPECTED.map((c) => c[1]));
		const arch = fc.constantFrom(0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b);
		const impl = fc.integer({ min: 0, max: 15 });
		fc.assert(
			fc.property(arch, impl, (a, i) => {
				const chipset = (a << 4) | i;
				const run = () => identifyChip(boot0(a, i, 0xa, 1), boot42(a, i, 0xa, 1));
				if (known.has(chipset)) return run().chipset === chipset;
				const e = catchError(run) as UnsupportedChipError;
				return (
					e instanceof UnsupportedChipError &&
					e.reason === 'unknown-chipset' &&
					e.message.includes(`0x${chipset.toString(16)}`) &&
					e.details.chipset === `0x${chipset.toString(16)}`
				);
			}),
		);
	});

	it('rejects any architecture outside Turing..Blackwell', () => {
		const arch = fc.integer({ min: 0, max: 0x3f }).filter((a) => a < 0x16 || a > 0x1b);
		fc.assert(
			fc.property(arch, fc.integer({ min: 0, max: 15 }), (a, i) => {
				const e = catchError(() => identifyChip(boot0(0x16, 2, 0, 0), boot42(a, i, 0xa, 1)));
				return e instanceof UnsupportedChipError && e.reason === 'unknown-architecture';
			}),
		);
	});
});
