/**
 * The falcon-core side of GSP-RM's CPU sequencer and of shutting the GSP down, over falcon-boot's `Falcon`
 * (hal's relative registers, the generation's falcon variant from the boot HAL).
 *
 * - {@link gspFalconControl}: gsp-rpc's `FalconControl` (RUN_CPU_SEQUENCER opcodes CORE_RESET, CORE_START,
 *   CORE_WAIT_FOR_HALT, CORE_RESUME), with nouveau's actions (gsp-rpc.md §5).
 * - {@link runBooterUnload}: `booter_unload` on SEC2, which tears WPR2 down so the GPU can be booted again.
 *   It runs the image through falcon-boot's `runSec2Booter` — the same SEC2 run `bootGsp` uses for
 *   `booter_load` (DMA on GA10x+, PIO on TU10x/GA100) — with nouveau's 0xff/0xff mailboxes.
 *
 * @module
 */

import { bootHalFor, Falcon, parseHsFirmware, runSec2Booter } from '@gspkit/falcon-boot';
import type { FalconControl } from '@gspkit/gsp-rpc';
import { type Chip, GSP, hex, type Platform, pollUntil, readWpr2, SEC, SEC2 } from '@gspkit/hal';
import { CoreError } from './errors.ts';

/** `NV_PGC6_BSI_SECURE_SCRATCH_14`: bit 26 is set when SEC2 handed the resumed GSP over (boot stage 3). */
export const BSI_SECURE_SCRATCH_14 = 0x1180f8;
const BSI_BOOT_STAGE_3_HANDOFF = 1 << 26;

/** What CORE_RESUME needs from the boot that started the GSP. */
export interface GspResumeInfo {
	/** Bus address of the LIBOS argument page (goes to GSP MAILBOX0/1). */
	readonly libosArgs: bigint;
	/** The bootloader's `app_version` (goes to the GSP OS register). */
	readonly appVersion: number;
}

/** The GSP and SEC2 falcons of `chip`, driven through `platform`. */
export function chipFalcons(
	platform: Pick<Platform, 'bar0' | 'clock'>,
	chip: Chip,
): { gsp: Falcon; sec2: Falcon } {
	const hal = bootHalFor(chip.info);
	const make = (engine: typeof GSP | typeof SEC2) =>
		new Falcon({
			bar0: platform.bar0,
			clock: platform.clock,
			engine,
			variant: hal.falcon,
			stage: 'gsp-reset',
		});
	return { gsp: make(GSP), sec2: make(SEC2) };
}

/**
 * gsp-rpc's `FalconControl` over the GSP falcon. `resume()` supplies the LIBOS address and `app_version` of the
 * current boot (they change with every boot).
 */
export function gspFalconControl(
	platform: Pick<Platform, 'bar0' | 'clock'>,
	chip: Chip,
	resume: () => GspResumeInfo | undefined,
): FalconControl {
	const { gsp, sec2 } = chipFalcons(platform, chip);
	return {
		async coreReset() {
			// nouveau: falcon reset, FBIF_CTL.ALLOW_PHYS_NO_CTX, DMACTL = 0.
			await gsp.reset('riscv');
			gsp.setupPhysicalDma(0);
		},
		coreStart() {
			gsp.start();
		},
		async coreWaitForHalt(timeoutNs: bigint) {
			await gsp.waitHalted(timeoutNs);
		},
		async coreResume() {
			const info = resume();
			if (info === undefined) throw new CoreError('CORE_NOT_READY', 'CORE_RESUME before the GSP was booted');
			await gsp.reset('riscv');
			gsp.writeMailboxes(Number(info.libosArgs & 0xffff_ffffn), Number(info.libosArgs >> 32n));
			sec2.start();
			await pollUntil(
				platform.clock,
				() => platform.bar0.read32(BSI_SECURE_SCRATCH_14),
				(v) => (v & BSI_BOOT_STAGE_3_HANDOFF) !== 0,
				{ timeoutNs: 2n * SEC, what: 'BSI_SECURE_SCRATCH_14 boot-stage-3 handoff' },
			);
			const m = sec2.readMailboxes();
			if (m.mailbox0 !== 0) {
				throw new CoreError('CORE_INIT_FAILED', `SEC2 MAILBOX0 = ${hex(m.mailbox0)} after CORE_RESUME`, {
					details: { mailbox0: hex(m.mailbox0), mailbox1: hex(m.mailbox1) },
				});
			}
			GSP.regs.OS.write(platform.bar0, info.appVersion >>> 0);
			await pollUntil(
				platform.clock,
				() => gsp.riscvActive(),
				(a) => a,
				{ timeoutNs: 2n * SEC, what: 'GSP RISC-V active after resume' },
			);
		},
	};
}

/** What {@link runBooterUnload} did. */
export interface BooterUnloadResult {
	/** WPR2 was up before (and booter_unload ran). */
	readonly ran: boolean;
	/** WPR2 after the run (`undefined` = torn down). */
	readonly wpr2After: { readonly start: bigint; readonly end: bigint } | undefined;
}

/**
 * Run `booter_unload` on SEC2 (nouveau `r535_gsp_booter_unload`, mailboxes 0xff/0xff) when WPR2 is up: load it
 * like booter_load (the boot HAL says DMA or PIO), program the boot ROM with the signature for SEC2's fuse
 * version, run it, require MAILBOX0 = 0.
 * @throws BooterError naming the mailboxes when booter_unload fails.
 */
export async function runBooterUnload(
	platform: Platform,
	chip: Chip,
	ucode: Uint8Array,
	file = 'booter_unload',
): Promise<BooterUnloadResult> {
	const bar0 = platform.bar0;
	if (readWpr2(bar0) === undefined) return { ran: false, wpr2After: undefined };
	// The same SEC2 HS run as booter_load, with nouveau's 0xff/0xff mailboxes.
	await runSec2Booter(platform, bootHalFor(chip.info), parseHsFirmware(ucode, file), {
		name: 'booter_unload',
		mailbox0: 0xff,
		mailbox1: 0xff,
	});
	return { ran: true, wpr2After: readWpr2(bar0) };
}
