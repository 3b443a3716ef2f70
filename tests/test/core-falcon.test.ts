/**
 * The falcon-core half of RUN_CPU_SEQUENCER (`gspFalconControl`, over falcon-boot's `Falcon`) against the
 * simulated GSP falcon: CORE_RESET leaves the core halted with physical DMA allowed (FBIF_CTL bit 7, DMACTL 0);
 * CORE_START then CORE_WAIT_FOR_HALT returns once the (empty) core halts; CORE_RESUME without a boot refuses.
 *
 * A successful CORE_RESUME needs what restarts GSP-RM on hardware: SEC2-RTOS, which the sequencer has loaded into
 * SEC2 before, hands the resumed GSP over and reports in BSI_SECURE_SCRATCH_14 and SEC2 MAILBOX0. gpu-sim models
 * neither SEC2-RTOS nor that scratch register, so these tests put a small stand-in on SEC2's CPUCTL: it checks
 * what the reference says the CPU must have done by the time SEC2 starts (the GSP reset, the LIBOS address in
 * GSP MAILBOX0/1), then starts the GSP RISC-V core, sets the boot-stage-3 handoff bit and writes its status to
 * SEC2 MAILBOX0. The falcon registers are the simulator's own.
 */

import { BSI_SECURE_SCRATCH_14, gspFalconControl } from '@gspkit/core';
import { createSimulatedGpu, type SimulatedGpu } from '@gspkit/gpu-sim';
import { identifyChip, SEC } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';

const GSP_BASE = 0x110000;
const SEC2_BASE = 0x840000;
const CPUCTL = 0x100;
const CPUCTL_ALIAS = 0x130;
const MAILBOX0 = 0x040;
const MAILBOX1 = 0x044;
const OS = 0x080;
const HANDOFF = 1 << 26;
const LIBOS = 0x1_2345_6000n;
const APP_VERSION = 0x0053_5113;

describe('gspFalconControl on the simulated GSP falcon', () => {
	it('CORE_RESET, CORE_START and CORE_WAIT_FOR_HALT drive the falcon registers', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		try {
			const chip = identifyChip(gpu.bar0.read32(0), gpu.bar0.read32(0xa00));
			const falcon = gspFalconControl(gpu, chip, () => undefined);
			// Dirty the registers CORE_RESET must set up.
			gpu.bar0.write32(GSP_BASE + 0x10c, 0x7); // DMACTL
			await falcon.coreReset();
			expect(gpu.bar0.read32(GSP_BASE + 0x624) & 0x80).toBe(0x80); // FBIF_CTL.ALLOW_PHYS_NO_CTX
			expect(gpu.bar0.read32(GSP_BASE + 0x10c)).toBe(0); // DMACTL
			expect(gpu.bar0.read32(GSP_BASE + 0x100) & 0x10).toBe(0x10); // CPUCTL.HALTED after reset
			await falcon.coreStart();
			await falcon.coreWaitForHalt(SEC);
			expect(gpu.bar0.read32(GSP_BASE + 0x100) & 0x10).toBe(0x10);
			await expect(Promise.resolve().then(() => falcon.coreResume())).rejects.toMatchObject({
				code: 'CORE_NOT_READY',
			});
		} finally {
			await gpu.close();
		}
	});
});

/** What the SEC2-RTOS stand-in saw when SEC2 was started. */
interface Sec2Start {
	readonly gspRiscvActive: boolean;
	readonly gspMailboxes: readonly [number, number];
	readonly osWritesBefore: number;
}

/**
 * Put the stand-in on SEC2: on a CPUCTL/CPUCTL_ALIAS STARTCPU write it records the GSP's state, then — unless
 * told otherwise — starts the GSP RISC-V core, sets the handoff bit and writes `status` to SEC2 MAILBOX0.
 */
function sec2RtosStandIn(
	gpu: SimulatedGpu,
	behaviour: { readonly status?: number; readonly handOff?: boolean } = {},
): { starts: Sec2Start[]; osWrites: number[] } {
	// The scratch register is not in gpu-sim's register file (yet): define it as plain storage the stand-in sets.
	if (gpu.bar0.read32(BSI_SECURE_SCRATCH_14) >>> 20 === 0xbad) {
		gpu.registers.define({ name: 'NV_PGC6_BSI_SECURE_SCRATCH_14', offset: BSI_SECURE_SCRATCH_14, reset: 0 });
	}
	const starts: Sec2Start[] = [];
	const osWrites: number[] = [];
	gpu.boot.gsp.onWrite(OS, (v) => osWrites.push(v));
	const onStart = (v: number) => {
		if ((v & 0x2) === 0) return; // STARTCPU
		starts.push({
			gspRiscvActive: gpu.boot.gsp.riscvActive,
			gspMailboxes: [...gpu.boot.gsp.mailboxes] as [number, number],
			osWritesBefore: osWrites.length,
		});
		if (behaviour.handOff === false) return;
		gpu.boot.gsp.startRiscv();
		gpu.registers.poke(BSI_SECURE_SCRATCH_14, gpu.bar0.read32(BSI_SECURE_SCRATCH_14) | HANDOFF);
		gpu.boot.sec2.setMailbox(0, behaviour.status ?? 0);
	};
	gpu.boot.sec2.onWrite(CPUCTL, onStart);
	gpu.boot.sec2.onWrite(CPUCTL_ALIAS, onStart);
	return { starts, osWrites };
}

describe('CORE_RESUME through gspFalconControl', () => {
	async function resumeRig(behaviour: { readonly status?: number; readonly handOff?: boolean } = {}) {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const chip = identifyChip(gpu.bar0.read32(0), gpu.bar0.read32(0xa00));
		// GSP-RM was running (and halted itself for the resume): the RISC-V core is up with stale mailboxes.
		gpu.boot.gsp.startRiscv();
		gpu.boot.gsp.setMailbox(0, 0xdead_beef);
		gpu.boot.gsp.setMailbox(1, 0xdead_beef);
		gpu.bar0.write32(SEC2_BASE + MAILBOX0, 0xffff_ffff);
		const seen = sec2RtosStandIn(gpu, behaviour);
		const falcon = gspFalconControl(gpu, chip, () => ({ libosArgs: LIBOS, appVersion: APP_VERSION }));
		return { gpu, falcon, ...seen };
	}

	it('resets the GSP, hands SEC2 the LIBOS address in the GSP mailboxes, then writes app_version to a running core', async () => {
		const { gpu, falcon, starts, osWrites } = await resumeRig();
		try {
			await falcon.coreResume();
			// When SEC2 started: the GSP core had been reset (not running) and MAILBOX1:MAILBOX0 held the LIBOS address.
			expect(starts).toEqual([
				{ gspRiscvActive: false, gspMailboxes: [0x2345_6000, 0x1], osWritesBefore: 0 },
			]);
			// After the handoff: SEC2 reported success, app_version went to the GSP OS register, the core runs.
			expect(gpu.bar0.read32(BSI_SECURE_SCRATCH_14) & HANDOFF).toBe(HANDOFF);
			expect(gpu.bar0.read32(SEC2_BASE + MAILBOX0)).toBe(0);
			expect(osWrites).toEqual([APP_VERSION]);
			expect(gpu.bar0.read32(GSP_BASE + OS)).toBe(APP_VERSION);
			expect(gpu.bar0.read32(GSP_BASE + MAILBOX0)).toBe(0x2345_6000);
			expect(gpu.bar0.read32(GSP_BASE + MAILBOX1)).toBe(0x1);
			expect(gpu.boot.gsp.riscvActive).toBe(true);
		} finally {
			await gpu.close();
		}
	});

	it('fails with SEC2 MAILBOX0 when SEC2-RTOS reports an error, before writing app_version', async () => {
		const { gpu, falcon, osWrites } = await resumeRig({ status: 0x1234 });
		try {
			await expect(Promise.resolve().then(() => falcon.coreResume())).rejects.toMatchObject({
				code: 'CORE_INIT_FAILED',
				message: expect.stringMatching(/SEC2 MAILBOX0 = 0x0*1234 after CORE_RESUME/),
			});
			expect(osWrites).toEqual([]);
		} finally {
			await gpu.close();
		}
	});

	it('times out (2 s of virtual time) when SEC2 never hands the GSP over', async () => {
		const { gpu, falcon, starts, osWrites } = await resumeRig({ handOff: false });
		try {
			const t0 = gpu.clock.now();
			await expect(Promise.resolve().then(() => falcon.coreResume())).rejects.toMatchObject({
				code: 'HAL_TIMEOUT',
				message: expect.stringMatching(/BSI_SECURE_SCRATCH_14 boot-stage-3 handoff/),
			});
			expect(gpu.clock.now() - t0).toBeGreaterThanOrEqual(2n * SEC);
			expect(starts).toHaveLength(1);
			expect(osWrites).toEqual([]);
			expect(gpu.boot.gsp.riscvActive).toBe(false);
		} finally {
			await gpu.close();
		}
	});
});
