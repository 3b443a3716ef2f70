/**
 * booter_load / booter_unload behaviour models (run on SEC2 after the simulated BROM authenticated them).
 *
 * booter_load reads `GspFwWprMeta` at the DMA address in SEC2 MAILBOX1:MAILBOX0, checks magic and
 * revision and the WPR2 region FWSEC-FRTS carved, walks the radix3 tables and reassembles the GSP image,
 * compares its SHA-256 with the known images (the simulator's stand-in for NVIDIA's signature check),
 * checks the signature section the driver chose for this chip and the RISC-V bootloader, then writes
 * `verified` into the meta and starts the GSP RISC-V core. Every failure leaves a distinct code in
 * MAILBOX0 and the core stopped.
 *
 * @module
 */

import { BOOTER_ERROR } from '../falcon/codes.ts';
import type { FalconEffects, FalconExecution, FalconProgram } from '../falcon/program.ts';
import { BOOT_REGS, wpr2Address, wpr2Field } from '../falcon/registers.ts';
import { sha256Hex } from '../vbios/bytes.ts';
import type { KnownBootloader, KnownGspImage } from './image-types.ts';
import { walkRadix3 } from './radix3.ts';
import {
	decodeWprMeta,
	WPR_META_MAGIC,
	WPR_META_OFFSETS,
	WPR_META_REVISION,
	WPR_META_SIZE,
	WPR_META_VERIFIED,
	type WprMeta,
} from './wpr-meta.ts';

/** Largest GSP image the simulated booter accepts (the real ones are < 64 MiB). */
export const MAX_GSP_IMAGE_SIZE = 256 * 1024 * 1024;
/** Largest signature / bootloader blob booter reads. */
const MAX_BLOB = 16 * 1024 * 1024;

/** Lookups booter needs (implemented by `KnownImages`). */
export interface BooterLookup {
	findGspImage(sha256: string): KnownGspImage | undefined;
	findBootloader(sha256: string): KnownBootloader | undefined;
}

/** State of the GSP core booter needs to see (supplied by the host as `FalconHost.gspState`). */
export interface GspCoreState {
	readonly inReset: boolean;
	readonly riscvActive: boolean;
}

/** What booter_load hands to the GSP start listeners (`RiscvRequest.details`). */
export interface BooterStartDetails {
	readonly wprMetaAddress: bigint;
	readonly wprMeta: WprMeta;
	readonly image: KnownGspImage;
	readonly bootloader: KnownBootloader;
}

function fail(code: number, why: string): FalconEffects {
	return { mailbox0: code, runtimeNs: 100_000n, summary: `booter error 0x${code.toString(16)}: ${why}` };
}

function hex(v: bigint): string {
	return `0x${v.toString(16)}`;
}

function u64le(v: bigint): Uint8Array {
	const b = new Uint8Array(8);
	new DataView(b.buffer).setBigUint64(0, v, true);
	return b;
}

/** The booter_load behaviour. `gspState` reports the GSP falcon's reset/RISC-V state. */
export function booterLoadProgram(lookup: BooterLookup, gspState: () => GspCoreState): FalconProgram {
	return {
		name: 'booter_load',
		run(exec: FalconExecution): FalconEffects {
			const host = exec.host;
			const metaAddress = (BigInt(exec.mailbox1) << 32n) | BigInt(exec.mailbox0);
			let raw: Uint8Array;
			try {
				raw = host.dmaRead(metaAddress, WPR_META_SIZE);
			} catch (e) {
				return fail(
					BOOTER_ERROR.WPR_META_FAULT,
					`reading GspFwWprMeta at ${hex(metaAddress)}: ${(e as Error).message}`,
				);
			}
			const meta = decodeWprMeta(raw);
			if (meta.magic !== WPR_META_MAGIC) return fail(BOOTER_ERROR.BAD_MAGIC, `magic ${hex(meta.magic)}`);
			if (meta.revision !== WPR_META_REVISION)
				return fail(BOOTER_ERROR.BAD_REVISION, `revision ${meta.revision}`);

			// WPR2: on FRTS chips FWSEC-FRTS must have carved it, around the FRTS region the meta names.
			const lo = host.readRegister(BOOT_REGS.WPR2_ADDR_LO);
			const hi = host.readRegister(BOOT_REGS.WPR2_ADDR_HI);
			const registerWrites: { offset: number; value: number }[] = [];
			const wprOk = meta.gspFwWprStart < meta.gspFwWprEnd && (meta.gspFwWprStart & 0xfffn) === 0n;
			if (exec.profile.frts) {
				if (hi >>> 4 === 0)
					return fail(BOOTER_ERROR.WPR2_NOT_UP, 'WPR2 is not set up (run FWSEC-FRTS first)');
				const wLo = wpr2Address(lo);
				const wHi = wpr2Address(hi);
				if (meta.frtsOffset !== wLo || meta.frtsOffset + meta.frtsSize !== wHi) {
					return fail(
						BOOTER_ERROR.WPR_LAYOUT,
						`meta FRTS [${hex(meta.frtsOffset)}, ${hex(meta.frtsOffset + meta.frtsSize)}) is not WPR2 [${hex(wLo)}, ${hex(wHi)})`,
					);
				}
				if (
					!wprOk ||
					meta.gspFwWprStart > meta.frtsOffset ||
					meta.frtsOffset + meta.frtsSize > meta.gspFwWprEnd
				) {
					return fail(
						BOOTER_ERROR.WPR_LAYOUT,
						`WPR [${hex(meta.gspFwWprStart)}, ${hex(meta.gspFwWprEnd)}) does not contain FRTS`,
					);
				}
			} else {
				if (!wprOk) {
					return fail(
						BOOTER_ERROR.WPR_LAYOUT,
						`WPR [${hex(meta.gspFwWprStart)}, ${hex(meta.gspFwWprEnd)}) is empty or unaligned`,
					);
				}
				if (hi >>> 4 === 0) {
					// No FRTS on this chip: booter carves WPR2 itself.
					registerWrites.push(
						{ offset: BOOT_REGS.WPR2_ADDR_LO, value: wpr2Field(meta.gspFwWprStart) },
						{ offset: BOOT_REGS.WPR2_ADDR_HI, value: wpr2Field(meta.gspFwWprEnd) },
					);
				}
			}
			const gsp = gspState();
			if (gsp.inReset) return fail(BOOTER_ERROR.GSP_IN_RESET, 'the GSP falcon is held in reset');
			if (gsp.riscvActive)
				return fail(BOOTER_ERROR.GSP_ALREADY_RUNNING, 'the GSP RISC-V core is already running');

			// The image, through the radix3 tables.
			if (meta.sizeOfRadix3Elf === 0n || meta.sizeOfRadix3Elf > BigInt(MAX_GSP_IMAGE_SIZE)) {
				return fail(BOOTER_ERROR.RADIX3_BAD_SIZE, `sizeOfRadix3Elf ${meta.sizeOfRadix3Elf}`);
			}
			// Zero-copy when the host offers views: the walk hashes each run of pages as soon as it is read.
			const walk = walkRadix3(
				host.dmaView === undefined ? host.dmaRead.bind(host) : host.dmaView.bind(host),
				meta.sysmemAddrOfRadix3Elf,
				Number(meta.sizeOfRadix3Elf),
			);
			if (!walk.ok) return fail(BOOTER_ERROR.RADIX3_FAULT, walk.reason);
			const image = lookup.findGspImage(walk.sha256);
			if (image === undefined) {
				return fail(
					BOOTER_ERROR.IMAGE_UNKNOWN,
					`the ${meta.sizeOfRadix3Elf}-byte image (sha256 ${walk.sha256}) is no known GSP firmware`,
				);
			}
			const section = exec.profile.signatureSection;
			const expected = image.signatures.get(section);
			if (expected === undefined) {
				return fail(
					BOOTER_ERROR.IMAGE_NOT_FOR_CHIP,
					`${image.name} has no ${section} section for ${exec.profile.chip}`,
				);
			}
			if (meta.sizeOfSignature === 0n || meta.sizeOfSignature > BigInt(MAX_BLOB)) {
				return fail(BOOTER_ERROR.SIGNATURE_MISMATCH, `sizeOfSignature ${meta.sizeOfSignature}`);
			}
			let sig: Uint8Array;
			try {
				sig = host.dmaRead(meta.sysmemAddrOfSignature, Number(meta.sizeOfSignature));
			} catch (e) {
				return fail(BOOTER_ERROR.SIGNATURE_FAULT, (e as Error).message);
			}
			const sigSha = sha256Hex(sig);
			if (sigSha !== expected) {
				const other = [...image.signatures.entries()].find(([, d]) => d === sigSha)?.[0];
				return fail(
					BOOTER_ERROR.SIGNATURE_MISMATCH,
					other === undefined
						? `the signature is not ${image.name}'s ${section}`
						: `the signature is ${image.name}'s ${other}, but this chip needs ${section}`,
				);
			}

			// The RISC-V bootloader.
			if (meta.sizeOfBootloader === 0n || meta.sizeOfBootloader > BigInt(MAX_BLOB)) {
				return fail(BOOTER_ERROR.BOOTLOADER_UNKNOWN, `sizeOfBootloader ${meta.sizeOfBootloader}`);
			}
			let bl: Uint8Array;
			try {
				bl = host.dmaRead(meta.sysmemAddrOfBootloader, Number(meta.sizeOfBootloader));
			} catch (e) {
				return fail(BOOTER_ERROR.BOOTLOADER_FAULT, (e as Error).message);
			}
			const bootloader = lookup.findBootloader(sha256Hex(bl));
			if (bootloader === undefined || !bootloader.chips.includes(exec.profile.chip)) {
				return fail(
					BOOTER_ERROR.BOOTLOADER_UNKNOWN,
					bootloader === undefined
						? 'the bootloader payload is no known RISC-V bootloader'
						: `${bootloader.name} is not for ${exec.profile.chip}`,
				);
			}
			if (
				meta.bootloaderCodeOffset !== BigInt(bootloader.codeOffset) ||
				meta.bootloaderDataOffset !== BigInt(bootloader.dataOffset) ||
				meta.bootloaderManifestOffset !== BigInt(bootloader.manifestOffset)
			) {
				return fail(
					BOOTER_ERROR.BOOTLOADER_LAYOUT,
					`code/data/manifest offsets ${meta.bootloaderCodeOffset}/${meta.bootloaderDataOffset}/${meta.bootloaderManifestOffset}, bootloader has ${bootloader.codeOffset}/${bootloader.dataOffset}/${bootloader.manifestOffset}`,
				);
			}
			const verifiedAt = metaAddress + BigInt(WPR_META_OFFSETS.verified);
			try {
				host.dmaRead(verifiedAt, 8);
			} catch (e) {
				return fail(BOOTER_ERROR.WPR_META_WRITE_FAULT, (e as Error).message);
			}
			const details: BooterStartDetails = {
				wprMetaAddress: metaAddress,
				wprMeta: { ...meta, verified: WPR_META_VERIFIED },
				image,
				bootloader,
			};
			return {
				mailbox0: 0,
				registerWrites,
				dmaWrites: [{ address: verifiedAt, bytes: u64le(WPR_META_VERIFIED) }],
				riscv: { action: 'start', details: details as unknown as Readonly<Record<string, unknown>> },
				runtimeNs: 2_000_000n,
				summary: `verified ${image.name} (${walk.pages} pages) and started the GSP RISC-V core`,
			};
		},
	};
}

/** The booter_unload behaviour: tear down WPR2 and stop the GSP RISC-V core. */
export function booterUnloadProgram(): FalconProgram {
	return {
		name: 'booter_unload',
		run(exec: FalconExecution): FalconEffects {
			const up = exec.host.readRegister(BOOT_REGS.WPR2_ADDR_HI) >>> 4 !== 0;
			return {
				mailbox0: 0,
				registerWrites: up
					? [
							{ offset: BOOT_REGS.WPR2_ADDR_LO, value: 0 },
							{ offset: BOOT_REGS.WPR2_ADDR_HI, value: 0 },
						]
					: [],
				riscv: { action: 'stop' },
				runtimeNs: 500_000n,
				summary: up ? 'WPR2 torn down, GSP core stopped' : 'WPR2 was not up; GSP core stopped',
			};
		},
	};
}
