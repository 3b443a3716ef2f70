/**
 * The Turing generic bootloader (`gen_bootloader`, `acr/bl.bin`) behaviour (reference A.5, Turing variant):
 * PIO-loaded non-secure code below 64 KiB of IMEM that reads the packed `BootloaderDmemDescV2` at DMEM 0,
 * DMA-loads the non-secure code, the secure code (both as mirror images: the source offset is also the
 * IMEM destination and tag) and the data (to DMEM 0) through `FBIF_TRANSCFG[ctx_dma]`, then jumps to
 * `code_entry_point` — where the simulated BROM authenticates what was loaded.
 *
 * @module
 */

import { GENBL_ERROR } from '../falcon/codes.ts';
import { FALCON_BLOCK_SIZE } from '../falcon/memory.ts';
import {
	FalconDmaFault,
	type FalconEffects,
	type FalconExecution,
	type FalconProgram,
} from '../falcon/program.ts';

/** Size of the packed `BootloaderDmemDescV2`. */
export const BOOTLOADER_DMEM_DESC_SIZE = 84;

function u32(d: Uint8Array, o: number): number {
	return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}

function u64(d: Uint8Array, o: number): bigint {
	return (BigInt(u32(d, o + 4)) << 32n) | BigInt(u32(d, o));
}

/** The generic bootloader behaviour. */
export function genBootloaderProgram(): FalconProgram {
	return {
		name: 'gen_bootloader',
		run(exec: FalconExecution): FalconEffects {
			const d = exec.dmem;
			const ctx = u32(d, 32);
			const codeBase = u64(d, 36);
			const nsOff = u32(d, 44);
			const nsSize = u32(d, 48);
			const secOff = u32(d, 52);
			const secSize = u32(d, 56);
			const entry = u32(d, 60);
			const dataBase = u64(d, 64);
			const dataSize = u32(d, 72);
			const err = (code: number, why: string): FalconEffects => ({
				mailbox0: code,
				runtimeNs: 5_000n,
				summary: `generic bootloader: ${why}`,
			});
			if (ctx > 7) return err(GENBL_ERROR.BAD_DESCRIPTOR, `ctx_dma ${ctx} is not an FBIF_TRANSCFG index`);
			if (codeBase % 256n !== 0n || dataBase % 256n !== 0n || nsOff % 256 !== 0 || secOff % 256 !== 0) {
				return err(
					GENBL_ERROR.UNALIGNED,
					`code_dma_base 0x${codeBase.toString(16)}, data_dma_base 0x${dataBase.toString(16)}, offsets 0x${nsOff.toString(16)}/0x${secOff.toString(16)} must be 256-byte aligned`,
				);
			}
			const imemSize = exec.imem.length;
			if (nsOff + nsSize > imemSize || secOff + secSize > imemSize || dataSize > d.length) {
				return err(GENBL_ERROR.BAD_DESCRIPTOR, 'the code or data does not fit the falcon memories');
			}
			try {
				const imemWrites = [];
				if (nsSize > 0) {
					const bytes = exec.fbif.read(ctx, codeBase + BigInt(nsOff), nsSize);
					imemWrites.push({ address: nsOff, bytes, tag: nsOff / FALCON_BLOCK_SIZE, secure: false });
				}
				if (secSize > 0) {
					const bytes = exec.fbif.read(ctx, codeBase + BigInt(secOff), secSize);
					imemWrites.push({ address: secOff, bytes, tag: secOff / FALCON_BLOCK_SIZE, secure: true });
				}
				const data = dataSize > 0 ? exec.fbif.read(ctx, dataBase, dataSize) : new Uint8Array(0);
				return {
					imemWrites,
					dmemWrites: [{ offset: 0, bytes: data }],
					jump: entry,
					runtimeNs: 20_000n,
					summary: `loaded ${nsSize}+${secSize} code bytes and ${dataSize} data bytes, jumping to 0x${entry.toString(16)}`,
				};
			} catch (e) {
				if (e instanceof FalconDmaFault) return err(GENBL_ERROR.DMA_FAULT, e.message);
				throw e;
			}
		},
	};
}
