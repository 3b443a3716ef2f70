/**
 * FWSEC-FRTS behaviour model (reference A.5). FWSEC runs on the GSP falcon in heavy-secure mode — the
 * simulated BROM has already checked that IMEM/DMEM are the VBIOS ucode and that the signature patched at
 * `pkc_data_offset` is the one for the board's fuse version. The model then does what FWSEC-FRTS does:
 * read the command the driver put in the DMEM mapper, carve WPR2 around the requested FRTS region, and
 * report success or an error code.
 *
 * WPR2 already up: FWSEC refuses (`WPR2_ALREADY_UP`) and leaves WPR2 alone — the hardware cannot carve
 * it twice; the driver must reset the GPU (nova returns EBUSY, tinygrad resets the PCI function).
 *
 * @module
 */

import { FWSEC_ERROR } from '../falcon/codes.ts';
import type { BootProfile } from '../falcon/profile.ts';
import type { FalconEffects, FalconExecution, FalconProgram, KnownUcode } from '../falcon/program.ts';
import { BOOT_REGS, ENGINE_ID_MASK, wpr2Field } from '../falcon/registers.ts';
import { maskedSha256, sha256Hex } from '../vbios/bytes.ts';
import {
	DMEM_MAPPER_SIGNATURE,
	FWSEC_SIGNATURE_SIZE,
	type FwsecUcode,
	type VbiosImage,
} from '../vbios/vbios.ts';

/** DMEM mapper `init_cmd` values. */
export const FWSEC_COMMAND = Object.freeze({ FRTS: 0x15, SB: 0x19 });

/** `FrtsRegion.type` for a framebuffer region. */
export const FRTS_REGION_TYPE_FB = 2;

/** Offset of `init_cmd` in the DMEM mapper v3. */
export const DMEM_MAPPER_INIT_CMD = 44;

function u32(d: Uint8Array, o: number): number {
	return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}

function fail(exec: FalconExecution, code: number, why: string): FalconEffects {
	const scratch = exec.host.readRegister(BOOT_REGS.FRTS_ERR_SCRATCH);
	return {
		mailbox0: code,
		registerWrites: [
			{ offset: BOOT_REGS.FRTS_ERR_SCRATCH, value: ((code << 16) | (scratch & 0xffff)) >>> 0 },
		],
		runtimeNs: 50_000n,
		summary: `FWSEC error 0x${code.toString(16)}: ${why}`,
	};
}

/** The FWSEC behaviour for the ucode described by `fwsec`. */
export function fwsecProgram(fwsec: FwsecUcode): FalconProgram {
	return {
		name: 'fwsec',
		run(exec: FalconExecution): FalconEffects {
			const d = exec.dmem;
			const m = fwsec.dmemMapperOffset;
			if (u32(d, m) !== DMEM_MAPPER_SIGNATURE || (d[m + 4]! | (d[m + 5]! << 8)) !== 3) {
				return fail(exec, FWSEC_ERROR.BAD_DMEM_MAPPER, 'the DMEM mapper is not a v3 DMAP header');
			}
			const cmd = u32(d, m + DMEM_MAPPER_INIT_CMD);
			if (cmd === FWSEC_COMMAND.SB) {
				const sb = exec.host.readRegister(BOOT_REGS.SB_ERR_SCRATCH);
				return {
					mailbox0: 0,
					registerWrites: [{ offset: BOOT_REGS.SB_ERR_SCRATCH, value: (sb & 0xffff0000) >>> 0 }],
					runtimeNs: 100_000n,
					summary: 'SB: pre-OS apps loaded (no WPR2 change)',
				};
			}
			if (cmd !== FWSEC_COMMAND.FRTS) {
				return fail(
					exec,
					FWSEC_ERROR.UNSUPPORTED_COMMAND,
					`init_cmd 0x${cmd.toString(16)} is not FRTS (0x15) or SB (0x19)`,
				);
			}
			if (exec.host.readRegister(BOOT_REGS.WPR2_ADDR_HI) >>> 4 !== 0) {
				return fail(exec, FWSEC_ERROR.WPR2_ALREADY_UP, 'WPR2 is already set up; reset the GPU first');
			}
			const c = u32(d, m + 8); // cmd_in_buffer_offset
			const rvVer = u32(d, c);
			const rvHdr = u32(d, c + 4);
			const rvAddr = u32(d, c + 8) + u32(d, c + 12) * 2 ** 32;
			const rvSize = u32(d, c + 16);
			const rvFlags = u32(d, c + 20);
			if (rvVer !== 1 || rvHdr !== 24 || rvAddr !== 0 || rvSize !== 0 || rvFlags !== 2) {
				return fail(
					exec,
					FWSEC_ERROR.BAD_READ_VBIOS_DESC,
					`ReadVbios {ver ${rvVer}, hdr ${rvHdr}, addr ${rvAddr}, size ${rvSize}, flags ${rvFlags}} is not {1, 24, 0, 0, 2}`,
				);
			}
			const r = c + 24;
			const frVer = u32(d, r);
			const frHdr = u32(d, r + 4);
			const frAddr = u32(d, r + 8);
			const frSize = u32(d, r + 12);
			const frType = u32(d, r + 16);
			if (frVer !== 1 || frHdr !== 20 || frSize === 0 || frType !== FRTS_REGION_TYPE_FB) {
				return fail(
					exec,
					FWSEC_ERROR.BAD_FRTS_REGION_DESC,
					`FrtsRegion {ver ${frVer}, hdr ${frHdr}, size ${frSize}, type ${frType}} is not {1, 20, >0, 2}`,
				);
			}
			const fbBytes = BigInt(exec.host.readRegister(BOOT_REGS.USABLE_FB_SIZE_IN_MB)) << 20n;
			const start = BigInt(frAddr) << 12n;
			const end = BigInt(frAddr + frSize) << 12n;
			if (end > fbBytes) {
				return fail(
					exec,
					FWSEC_ERROR.FRTS_REGION_OUT_OF_RANGE,
					`FRTS [0x${start.toString(16)}, 0x${end.toString(16)}) ends beyond the ${fbBytes >> 20n} MiB of usable FB`,
				);
			}
			const scratch = exec.host.readRegister(BOOT_REGS.FRTS_ERR_SCRATCH);
			return {
				mailbox0: 0,
				registerWrites: [
					{ offset: BOOT_REGS.WPR2_ADDR_LO, value: wpr2Field(start) },
					{ offset: BOOT_REGS.WPR2_ADDR_HI, value: wpr2Field(end) },
					{ offset: BOOT_REGS.FRTS_ERR_SCRATCH, value: scratch & 0xffff },
				],
				runtimeNs: 200_000n,
				summary: `FRTS: WPR2 = [0x${start.toString(16)}, 0x${end.toString(16)})`,
			};
		},
	};
}

/**
 * The VBIOS FWSEC as a known ucode: its IMEM (secure, at virtual address 0), its DMEM with the driver-patched
 * fields masked (signature, `init_cmd`, command buffer), and — on v3 — its signatures keyed by the fuse
 * version each one is for (the k-th set bit of `signature_versions` is the version of signature k).
 */
export function fwsecKnownUcode(vbios: VbiosImage, profile: BootProfile): KnownUcode {
	const f = vbios.fwsec;
	const masks: [number, number][] = [
		[f.dmemMapperOffset + DMEM_MAPPER_INIT_CMD, f.dmemMapperOffset + DMEM_MAPPER_INIT_CMD + 4],
		[f.cmdInBufferOffset, f.cmdInBufferOffset + f.cmdInBufferSize],
	];
	const byVersion = new Map<number, string>();
	if (f.descriptorVersion === 3) {
		masks.push([f.pkcDataOffset, f.pkcDataOffset + FWSEC_SIGNATURE_SIZE]);
		let k = 0;
		for (let v = 0; v < 16; v++) {
			if (f.signatureVersions & (1 << v)) byVersion.set(v, sha256Hex(f.signatures[k++]!));
		}
	}
	return {
		name: `FWSEC (VBIOS ${profile.chip}, descriptor v${f.descriptorVersion})`,
		kind: 'fwsec',
		engine: 'gsp',
		chips: [profile.chip],
		segments: [{ va: 0, length: f.imem.length, secure: true, sha256: sha256Hex(f.imem) }],
		entry: 0,
		data: { length: f.dmem.length, sha256: maskedSha256(f.dmem, f.dmem.length, masks), masks },
		hs: {
			pkcOffset: f.pkcDataOffset,
			signatureSize: f.descriptorVersion === 3 ? FWSEC_SIGNATURE_SIZE : 0,
			engineIdMask: ENGINE_ID_MASK.GSP,
			ucodeId: f.ucodeId,
			signaturesByFuseVersion: byVersion,
		},
		source: 'vbios',
		program: fwsecProgram(f),
	};
}
