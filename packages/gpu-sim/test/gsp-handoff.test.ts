/**
 * The GSP boot handoff's `app_version` handshake (reference A.8 step 8): booter starts the GSP RISC-V core,
 * the CPU writes the RISC-V bootloader's `app_version` to the GSP OS register, and only then does GSP-RM
 * take over. A wrong value stops the core with GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH in GSP MAILBOX0.
 */

import type { VirtualClock } from '@gspkit/hal';
import { afterEach, describe, expect, it } from 'vitest';
import type { GspStartInfo } from '../src/falcon/boot-hardware.ts';
import { bootCodeName, GSP_HANDOFF_ERROR } from '../src/falcon/codes.ts';
import { syntheticFirmware } from '../src/firmware-models/synthetic.ts';
import { checkAppVersion } from '../src/gsp-rm/boot.ts';
import { BootFailure, createSimulatedGpu, PCI, type SimulatedGpu } from '../src/index.ts';
import {
	boot,
	defaultFrts,
	elfSectionOf,
	GSP,
	loadGsp,
	makeRig,
	type Rig,
	resetFalcon,
	runBooter,
	runFwsec,
	u32,
} from './falcon-testkit.ts';

const LIBOS = 0x1_2345_6000n;
const OS = GSP + 0x080;
const SECTION: Record<string, string> = {
	tu102: '.fwsignature_tu10x',
	ga102: '.fwsignature_ga10x',
	ad102: '.fwsignature_ad10x',
};

/** `app_version` of a bootloader file, read from its `RM_RISCV_UCODE_DESC` (u32 at +28 past header_offset). */
function fileAppVersion(file: Uint8Array): number {
	return u32(file, u32(file, 12) + 28);
}

interface Booted {
	readonly rig: Rig;
	readonly appVersion: number;
	readonly starts: GspStartInfo[];
	readonly handoffs: GspStartInfo[];
	readonly stops: { count: number };
}

/** FWSEC, the GSP image + meta, the GSP reset with the LIBOS mailboxes, then booter_load (which must pass). */
function bootToHandoff(rig: Rig, version: '535.113.01' | '570.144', beforeBooter?: () => void): Booted {
	const files = syntheticFirmware(rig.chip, version).files;
	const gen = syntheticFirmware(rig.chip, '570.144').files.get('gsp/gen_bootloader-570.144.bin');
	expect(runFwsec(rig, {}, gen)[0]).toBe(0);
	const elf = files.get(`gsp/gsp-${version}.bin`)!;
	const bootloader = files.get(`gsp/bootloader-${version}.bin`)!;
	const load = loadGsp(
		rig,
		elfSectionOf(elf, '.fwimage')!,
		elfSectionOf(elf, SECTION[rig.chip]!)!,
		bootloader,
		defaultFrts(rig),
	);
	resetFalcon(rig, GSP);
	boot(rig, GSP, Number(LIBOS & 0xffff_ffffn), Number(LIBOS >> 32n));
	const starts: GspStartInfo[] = [];
	const handoffs: GspStartInfo[] = [];
	const stops = { count: 0 };
	rig.hw.onGspStart((i) => starts.push(i));
	rig.hw.onGspHandoff((i) => handoffs.push(i));
	rig.hw.onGspStop(() => stops.count++);
	beforeBooter?.();
	const [mb0] = runBooter(rig, files.get(`gsp/booter_load-${version}.bin`)!, {
		metaAddress: load.metaAddress,
	});
	expect(mb0).toBe(0);
	return { rig, appVersion: fileAppVersion(bootloader), starts, handoffs, stops };
}

describe('checkAppVersion', () => {
	it('accepts the bootloader app_version and names both values otherwise', () => {
		const bl = { name: 'bootloader 570.144 (ga102, synthetic)', appVersion: 0x5701_4400 };
		expect(() => checkAppVersion(0x5701_4400, bl)).not.toThrow();
		// Compared as unsigned 32-bit values: a register read back as a negative int32 is the same value.
		expect(() => checkAppVersion(0x5701_4400 | 0, bl)).not.toThrow();
		expect(() => checkAppVersion(0x5701_4401, bl)).toThrow(BootFailure);
		expect(() => checkAppVersion(0, bl)).toThrow(
			'GSP OS register holds app_version 0x0; the bootloader booter verified is app_version 0x57014400 (bootloader 570.144 (ga102, synthetic))',
		);
		expect(() => checkAppVersion(0, { name: 'real', appVersion: 0 })).not.toThrow();
	});
});

describe('GSP handoff: the app_version in the GSP OS register', () => {
	for (const [chip, version] of [
		['ga102', '570.144'],
		['tu102', '535.113.01'],
	] as const) {
		it(`${chip} ${version}: GSP-RM takes over only after the right app_version is written`, () => {
			const b = bootToHandoff(makeRig(chip), version);
			// The synthetic bootloaders carry a non-zero app_version, so "never written" (0) is a mismatch.
			expect(b.appVersion).toBe(version === '570.144' ? 0x5701_4400 : 0x5351_1301);
			expect(b.starts).toHaveLength(1);
			expect(b.starts[0]?.bootloader.appVersion).toBe(b.appVersion);
			expect(b.handoffs).toHaveLength(0);
			expect(b.rig.hw.gsp.riscvActive).toBe(true);
			b.rig.wr(OS, b.appVersion);
			expect(b.handoffs).toEqual(b.starts);
			expect(b.rig.hw.gsp.riscvActive).toBe(true);
			expect(b.rig.hw.handoffFailure).toBeUndefined();
			expect(b.rig.rd(GSP + 0x40)).toBe(Number(LIBOS & 0xffff_ffffn)); // MAILBOX0 untouched
			expect(b.stops.count).toBe(0);
			// One handshake per start: later writes are plain register writes.
			b.rig.wr(OS, 0x1234);
			expect(b.handoffs).toHaveLength(1);
			expect(b.rig.hw.gsp.riscvActive).toBe(true);
		});

		it(`${chip} ${version}: a wrong app_version stops the core with APP_VERSION_MISMATCH in GSP MAILBOX0`, () => {
			const b = bootToHandoff(makeRig(chip), version);
			b.rig.wr(OS, (b.appVersion ^ 0x100) >>> 0);
			expect(b.handoffs).toHaveLength(0);
			expect(b.rig.hw.gsp.riscvActive).toBe(false);
			expect(b.rig.hw.lastGspStart).toBeUndefined();
			expect(b.stops.count).toBe(1);
			const mb0 = b.rig.rd(GSP + 0x40);
			expect(mb0).toBe(GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH);
			expect(bootCodeName(mb0)).toBe('GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH');
			// The RISC-V status register the driver polls says the core is not active.
			const active =
				chip === 'tu102' ? (b.rig.rd(GSP + 0x1240) & 1) !== 0 : (b.rig.rd(GSP + 0x1388) & 0x80) !== 0;
			expect(active).toBe(false);
			expect(b.rig.hw.handoffFailure).toMatch(
				new RegExp(
					`app_version 0x${((b.appVersion ^ 0x100) >>> 0).toString(16)}; .* is app_version 0x${b.appVersion.toString(16)} `,
				),
			);
			// Writing the right value afterwards does not revive a stopped core.
			b.rig.wr(OS, b.appVersion);
			expect(b.handoffs).toHaveLength(0);
			expect(b.rig.hw.gsp.riscvActive).toBe(false);
		});
	}

	it('a value written before booter started the core does not count: the handshake follows the start', () => {
		let early = 0;
		const rig = makeRig('ga102');
		const b = bootToHandoff(rig, '570.144', () => {
			early = fileAppVersion(syntheticFirmware('ga102', '570.144').files.get('gsp/bootloader-570.144.bin')!);
			rig.wr(OS, early);
		});
		expect(rig.rd(OS)).toBe(early);
		expect(b.handoffs).toHaveLength(0);
		rig.wr(OS, b.appVersion);
		expect(b.handoffs).toHaveLength(1);
	});
});

describe('the simulated GPU starts GSP-RM at the handoff, not at the core start', () => {
	const open: SimulatedGpu[] = [];
	afterEach(async () => {
		for (const g of open.splice(0)) await g.close();
	});

	function gpuRig(): { gpu: SimulatedGpu; rig: Rig } {
		const gpu = createSimulatedGpu({ chip: 'ga102', dmaPoolSize: 256 << 20 });
		open.push(gpu);
		gpu.config.write16(PCI.COMMAND, PCI.COMMAND_MEMORY | PCI.COMMAND_BUS_MASTER);
		const rig: Rig = {
			chip: 'ga102',
			clock: gpu.clock as VirtualClock,
			regs: gpu.registers,
			pool: gpu.dma,
			hw: gpu.boot,
			rd: (o) => gpu.bar0.read32(o),
			wr: (o, v) => gpu.bar0.write32(o, v),
		};
		return { gpu, rig };
	}

	it('right app_version: GSP-RM leaves `off` and reads the LIBOS arguments', () => {
		const { gpu, rig } = gpuRig();
		const b = bootToHandoff(rig, '570.144');
		expect(gpu.gspRm.phase).toBe('off');
		rig.wr(OS, b.appVersion);
		expect(gpu.gspRm.phase).toBe('booting');
		expect(gpu.gspRm.firmwareVersion).toBe('570.144');
	});

	it('wrong app_version: GSP-RM never starts', () => {
		const { gpu, rig } = gpuRig();
		const b = bootToHandoff(rig, '570.144');
		rig.wr(OS, 0);
		rig.clock.advance(1_000_000n);
		expect(gpu.gspRm.phase).toBe('off');
		expect(gpu.gspRm.firmwareVersion).toBeUndefined();
		expect(b.stops.count).toBe(1);
	});
});
