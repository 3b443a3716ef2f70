import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BROM_ERROR, FWSEC_ERROR } from '../src/falcon/codes.ts';
import { syntheticFirmware } from '../src/firmware-models/synthetic.ts';
import { defaultFrts, GSP, makeRig, put32, type Rig, runFwsec, u32 } from './falcon-testkit.ts';

const WPR2_LO = 0x1fa824;
const WPR2_HI = 0x1fa828;
const SCRATCH_E = 0x1400 + 0xe * 4;
const REAL_GEN_BL = join(
	homedir(),
	'.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware/nvidia/tu102/gsp/gen_bootloader-570.144.bin',
);

function genBootloader(chip: string): Uint8Array | undefined {
	return chip.startsWith('tu') || chip === 'ga100'
		? syntheticFirmware(chip, '570.144').files.get('gsp/gen_bootloader-570.144.bin')
		: undefined;
}

function run(rig: Rig, opts: Parameters<typeof runFwsec>[1] = {}): [number, number] {
	return runFwsec(rig, opts, genBootloader(rig.chip));
}

function flip(u: Uint8Array, at: number, bits: number): void {
	u[at] = u[at]! ^ bits;
}

function expectWpr2Untouched(rig: Rig): void {
	expect(rig.rd(WPR2_LO)).toBe(0);
	expect(rig.rd(WPR2_HI)).toBe(0);
}

describe('FWSEC-FRTS model', () => {
	for (const chip of ['ga102', 'ad102', 'tu102', 'tu116']) {
		it(`${chip}: a correctly patched FWSEC carves exactly the requested FRTS region into WPR2`, () => {
			const rig = makeRig(chip);
			rig.wr(SCRATCH_E, 0x0000abcd);
			const fb = BigInt(rig.rd(0x1183a4)) << 20n;
			const addr = fb - (7n << 20n) + 0x3000n;
			const [mb0] = run(rig, { frtsAddr: addr, frtsSize: 0x100000n });
			expect(mb0).toBe(0);
			expect(rig.rd(WPR2_LO)).toBe(Number(addr >> 12n) << 4);
			expect(rig.rd(WPR2_HI)).toBe(Number((addr + 0x100000n) >> 12n) << 4);
			expect(rig.rd(SCRATCH_E)).toBe(0x0000abcd); // error code (31:16) zero, low half kept
			expect(rig.hw.gsp.lastRun?.outcome).toBe('run');
		});
	}

	it.skipIf(!existsSync(REAL_GEN_BL))('tu102: runs through the published generic bootloader too', () => {
		const rig = makeRig('tu102');
		const [mb0] = runFwsec(rig, {}, new Uint8Array(readFileSync(REAL_GEN_BL)));
		expect(mb0).toBe(0);
		expect(rig.hw.gsp.lastRun?.summary).toMatch(/gen_bootloader 570\.144 \(real\)/);
		expect(rig.rd(WPR2_HI)).toBe(Number((defaultFrts(rig).addr + defaultFrts(rig).size) >> 12n) << 4);
	});

	it('takes the signature the fuse version selects (popcount rule) and rejects the others', () => {
		// GA102: versions 0b0110, GSP fuse 0x1 -> fv 1 -> index 0. AD102: 0b1110, fuse 0x3 -> fv 2 -> index 1.
		for (const [chip, good, bad] of [
			['ga102', 0, [1]],
			['ad102', 1, [0, 2]],
		] as const) {
			for (const idx of bad) {
				const rig = makeRig(chip);
				const [mb0] = run(rig, { signatureIndex: idx });
				expect(mb0).toBe(BROM_ERROR.SIGNATURE_MISMATCH);
				expect(rig.hw.gsp.lastRun?.summary).toMatch(/fuse version/);
				expectWpr2Untouched(rig);
			}
			const rig = makeRig(chip);
			expect(run(rig, { signatureIndex: good })[0]).toBe(0);
		}
	});

	it('follows the fuse register: another fuse value selects another signature, an unsigned version fails', () => {
		const rig = makeRig('ga102');
		const fuse = 0x8241c0 + 4 * (rig.hw.vbios.fwsec.ucodeId - 1);
		rig.wr(fuse, 0xffff); // fuses are read-only to the host
		expect(rig.rd(fuse)).toBe(0x1);
		rig.regs.poke(fuse, 0x3); // fv 2 -> index popcount(0b0110 & 0b11) = 1
		expect(run(rig, { signatureIndex: 0 })[0]).toBe(BROM_ERROR.SIGNATURE_MISMATCH);
		const ok = makeRig('ga102');
		ok.regs.poke(fuse, 0x3);
		expect(run(ok, { signatureIndex: 1 })[0]).toBe(0);
		const none = makeRig('ga102');
		none.regs.poke(fuse, 0x8); // fv 4: not in signature_versions
		expect(run(none, { signatureIndex: 0 })[0]).toBe(BROM_ERROR.NO_SIGNATURE_FOR_FUSE);
	});

	it('fails with UNSUPPORTED_COMMAND for a wrong init_cmd, in MAILBOX0 and SCRATCH(0xe) 31:16', () => {
		const rig = makeRig('ga102');
		rig.wr(SCRATCH_E, 0x1234);
		const [mb0] = run(rig, { initCmd: 0x14 });
		expect(mb0).toBe(FWSEC_ERROR.UNSUPPORTED_COMMAND);
		expect(rig.rd(SCRATCH_E)).toBe((FWSEC_ERROR.UNSUPPORTED_COMMAND << 16) | 0x1234);
		expectWpr2Untouched(rig);
	});

	it('runs SB (0x19) without touching WPR2', () => {
		const rig = makeRig('ad102');
		expect(run(rig, { initCmd: 0x19 })[0]).toBe(0);
		expectWpr2Untouched(rig);
	});

	it('refuses a changed ucode byte: in IMEM the image is unknown, in DMEM the data does not match', () => {
		for (const chip of ['ga102', 'tu102']) {
			const imemRig = makeRig(chip);
			expect(run(imemRig, { mutate: (u) => flip(u, 0x123, 1) })[0]).toBe(BROM_ERROR.IMAGE_UNKNOWN);
			expectWpr2Untouched(imemRig);
			const dmemRig = makeRig(chip);
			expect(
				run(dmemRig, {
					mutate: (u, v) => flip(u, v.desc.imemLoadSize + 0x20, 0x80),
				})[0],
			).toBe(BROM_ERROR.DATA_MISMATCH);
			expectWpr2Untouched(dmemRig);
		}
	});

	it('refuses with WPR2_ALREADY_UP when WPR2 is already set, leaving it unchanged', () => {
		const rig = makeRig('ga102');
		expect(run(rig)[0]).toBe(0);
		const lo = rig.rd(WPR2_LO);
		const hi = rig.rd(WPR2_HI);
		const fb = BigInt(rig.rd(0x1183a4)) << 20n;
		const [mb0] = run(rig, { frtsAddr: fb - (10n << 20n) });
		expect(mb0).toBe(FWSEC_ERROR.WPR2_ALREADY_UP);
		expect(rig.rd(SCRATCH_E) >>> 16).toBe(FWSEC_ERROR.WPR2_ALREADY_UP);
		expect([rig.rd(WPR2_LO), rig.rd(WPR2_HI)]).toEqual([lo, hi]);
	});

	it('checks the FrtsCmd it is given', () => {
		const cmdAt = (u: Uint8Array, imem: number, mapper: number) => imem + u32(u, imem + mapper + 8);
		const cases: [string, (u: Uint8Array, imem: number, mapper: number) => void, number][] = [
			['ReadVbios flags', (u, i, m) => put32(u, cmdAt(u, i, m) + 20, 0), FWSEC_ERROR.BAD_READ_VBIOS_DESC],
			[
				'ReadVbios size field',
				(u, i, m) => put32(u, cmdAt(u, i, m) + 4, 20),
				FWSEC_ERROR.BAD_READ_VBIOS_DESC,
			],
			['region type', (u, i, m) => put32(u, cmdAt(u, i, m) + 40, 1), FWSEC_ERROR.BAD_FRTS_REGION_DESC],
			['region version', (u, i, m) => put32(u, cmdAt(u, i, m) + 24, 2), FWSEC_ERROR.BAD_FRTS_REGION_DESC],
			['region size 0', (u, i, m) => put32(u, cmdAt(u, i, m) + 36, 0), FWSEC_ERROR.BAD_FRTS_REGION_DESC],
		];
		for (const [what, mutate, code] of cases) {
			const rig = makeRig('ga102');
			const mapper = rig.hw.vbios.fwsec.dmemMapperOffset;
			const [mb0] = run(rig, { mutate: (u, v) => mutate(u, v.desc.imemLoadSize, mapper) });
			expect(mb0, what).toBe(code);
			expectWpr2Untouched(rig);
		}
		const far = makeRig('ga102');
		const fb = BigInt(far.rd(0x1183a4)) << 20n;
		expect(run(far, { frtsAddr: fb - 0x80000n })[0]).toBe(FWSEC_ERROR.FRTS_REGION_OUT_OF_RANGE);
		expectWpr2Untouched(far);
	});

	it('checks the BROM parameters, BOOTVEC and secure loading (GA102+)', () => {
		const cases: [string, Parameters<typeof runFwsec>[1], number][] = [
			['PARAADDR', { beforeStart: (r) => r.wr(GSP + 0x1210, 0) }, BROM_ERROR.BAD_PARAADDR],
			['ENGIDMASK', { beforeStart: (r) => r.wr(GSP + 0x119c, 0x1) }, BROM_ERROR.BAD_ENGIDMASK],
			['UCODE_ID', { beforeStart: (r) => r.wr(GSP + 0x1198, 1) }, BROM_ERROR.BAD_UCODE_ID],
			['MOD_SEL', { beforeStart: (r) => r.wr(GSP + 0x1180, 0) }, BROM_ERROR.BAD_MOD_SEL],
			['non-secure IMEM', { nonSecure: true }, BROM_ERROR.CODE_NOT_SECURE],
		];
		for (const [what, opts, code] of cases) {
			const rig = makeRig('ga102');
			expect(run(rig, opts)[0], what).toBe(code);
			expectWpr2Untouched(rig);
		}
		// BOOTVEC inside the image but not at its entry.
		const rig = makeRig('ga102');
		expect(run(rig, { beforeStart: (r) => r.wr(GSP + 0x104, 0x100) })[0]).toBe(BROM_ERROR.BAD_ENTRY);
	});

	it('ignores the BROM registers on Turing (no PKC boot ROM)', () => {
		const rig = makeRig('tu102');
		expect(run(rig, { beforeStart: (r) => r.wr(GSP + 0x1180, 0) })[0]).toBe(0);
	});

	it('does not run the debug FWSEC (application 0x45): it is not signed for this board', () => {
		const rig = makeRig('ga102');
		expect(run(rig, { appId: 0x45 })[0]).toBe(BROM_ERROR.IMAGE_UNKNOWN);
		expectWpr2Untouched(rig);
	});

	it("refuses another chip's FWSEC", () => {
		// Copy GA104's VBIOS ucode into a GA102 run.
		const ga104 = makeRig('ga104').hw.vbios.fwsec;
		const rig = makeRig('ga102');
		const [mb0] = run(rig, {
			mutate: (u, v) => {
				u.fill(0, 0, v.desc.imemLoadSize);
				u.set(ga104.imem.subarray(0, Math.min(ga104.imem.length, v.desc.imemLoadSize)));
			},
		});
		expect([BROM_ERROR.IMAGE_UNKNOWN, BROM_ERROR.IMAGE_WRONG_CHIP]).toContain(mb0);
	});
});
