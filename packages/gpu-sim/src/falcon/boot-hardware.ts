/**
 * The boot hardware of one simulated board, assembled: GSP and SEC2 falcons, the VBIOS in the PROM window,
 * the WPR2/scratch/fuse registers, and the registry of known images (published firmware digests plus this
 * chip's synthetic firmware and VBIOS FWSEC). `createSimulatedGpu` builds one and mounts it.
 *
 * The GSP start has two steps, as on hardware: booter starts the RISC-V core ({@link BootHardware.onGspStart}),
 * then the CPU writes the bootloader's `app_version` to the GSP OS register and the core checks it
 * (`checkAppVersion`) before GSP-RM takes over ({@link BootHardware.onGspHandoff}); a wrong value stops the
 * core with `GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH` in GSP MAILBOX0.
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import type { SimChipSpec } from '../chips.ts';
import { simChipSpec } from '../chips.ts';
import type { BooterStartDetails } from '../firmware-models/booter.ts';
import { fwsecKnownUcode } from '../firmware-models/fwsec-frts.ts';
import { REAL_FIRMWARE_TABLE } from '../firmware-models/known-images.generated.ts';
import { type KnownBootloader, type KnownGspImage, KnownImages } from '../firmware-models/known-images.ts';
import { registerSyntheticFirmwareLazily } from '../firmware-models/synthetic.ts';
import type { WprMeta } from '../firmware-models/wpr-meta.ts';
import { BootFailure, checkAppVersion } from '../gsp-rm/boot.ts';
import type { RegisterFile } from '../mmio.ts';
import { PromDevice } from '../vbios/prom.ts';
import { buildVbios, type VbiosImage } from '../vbios/vbios.ts';
import { defineBootRegisters } from './boot-registers.ts';
import { GSP_HANDOFF_ERROR } from './codes.ts';
import { SimBootConfigError } from './errors.ts';
import { SimFalcon, type SimFalconOptions } from './falcon.ts';
import { type BootProfile, bootProfile } from './profile.ts';
import type { FalconHost, RiscvRequest } from './program.ts';
import { BOOT_REGS, FALCON } from './registers.ts';

/** What the GSP start listeners receive when booter_load starts the GSP RISC-V core. */
export interface GspStartInfo {
	readonly chip: string;
	/** GSP MAILBOX1:MAILBOX0 when the core started: the LIBOS argument array's DMA address. */
	readonly libosArgsAddress: bigint;
	readonly wprMetaAddress: bigint;
	/** The meta as booter read it (with `verified` set). */
	readonly wprMeta: WprMeta;
	/** The GSP firmware image booter verified (its version selects the ABI). */
	readonly firmware: KnownGspImage;
	readonly bootloader: KnownBootloader;
	/** The GSP falcon (for mailboxes, interrupts and queue registers). */
	readonly falcon: SimFalcon;
}

/** Options of {@link createBootHardware}. */
export interface BootHardwareOptions {
	readonly chip: SimChipSpec | string;
	readonly clock: Clock;
	/** Read system memory as the device (e.g. `SimulatedGpu.dmaRead`, which honours bus mastering). */
	dmaRead(address: bigint, length: number): Uint8Array;
	/**
	 * Optional zero-copy {@link BootHardwareOptions.dmaRead}: a view of system memory as the device, with the
	 * same checks (e.g. `DmaPool.deviceView` after the bus-master check). Speeds up booter's walk over the
	 * GSP image; without it booter copies.
	 */
	dmaView?(address: bigint, length: number): Uint8Array;
	/** Write system memory as the device. */
	dmaWrite(address: bigint, bytes: Uint8Array): void;
	/** Local VRAM for FBIF target LOCAL_FB transfers (e.g. `SimulatedGpu.fb`). */
	readonly fb?: { read(offset: bigint, dst: Uint8Array): void; write(offset: bigint, src: Uint8Array): void };
	/** Image registry; default a new one with the published-firmware table and the synthetic firmware. */
	readonly knownImages?: KnownImages;
	/** Register the committed table of published firmware digests (default true). */
	readonly realFirmware?: boolean;
	/** Register the synthetic firmware of every family, lazily when a lookup needs it (default true). */
	readonly syntheticFirmware?: boolean;
	/** Interrupt hooks: called when a falcon's `IRQSTAT & IRQMASK` becomes non-zero. */
	readonly onInterrupt?: { readonly gsp?: () => void; readonly sec2?: () => void };
	/** Timing and size overrides for both falcons. */
	readonly falcon?: Pick<
		SimFalconOptions,
		'imemSize' | 'dmemSize' | 'scrubNs' | 'dmaNsPer256' | 'dmaQueueDepth' | 'coreSwitchNs'
	>;
}

/** The boot hardware of one board. */
export class BootHardware {
	readonly profile: BootProfile;
	readonly vbios: VbiosImage;
	readonly gsp: SimFalcon;
	readonly sec2: SimFalcon;
	readonly prom: PromDevice;
	readonly knownImages: KnownImages;
	#startListeners = new Set<(info: GspStartInfo) => void>();
	#handoffListeners = new Set<(info: GspStartInfo) => void>();
	#stopListeners = new Set<() => void>();
	#registers: RegisterFile | undefined;
	#lastStart: GspStartInfo | undefined;
	/** The start still waiting for the CPU's `app_version` in the GSP OS register. */
	#awaitingAppVersion: GspStartInfo | undefined;
	#handoffFailure: string | undefined;

	constructor(options: BootHardwareOptions) {
		const chip = typeof options.chip === 'string' ? simChipSpec(options.chip) : options.chip;
		this.profile = bootProfile(chip);
		this.vbios = buildVbios(chip, this.profile);
		this.prom = new PromDevice(this.vbios.rom);
		const known = options.knownImages ?? new KnownImages();
		this.knownImages = known;
		if (options.knownImages === undefined && (options.realFirmware ?? true))
			known.addRealTable(REAL_FIRMWARE_TABLE);
		// Every family's synthetic firmware, so a file of the wrong chip is recognised as such.
		if (options.syntheticFirmware ?? true) registerSyntheticFirmwareLazily(known);
		known.addUcode(fwsecKnownUcode(this.vbios, this.profile));

		const fb = options.fb;
		const dmaView = options.dmaView;
		const host: FalconHost = {
			dmaRead: (a, l) => options.dmaRead(a, l),
			...(dmaView === undefined ? {} : { dmaView: (a: bigint, l: number) => dmaView(a, l) }),
			dmaWrite: (a, b) => options.dmaWrite(a, b),
			...(fb === undefined
				? {}
				: {
						fbRead: (offset: bigint, length: number) => {
							const out = new Uint8Array(length);
							fb.read(offset, out);
							return out;
						},
						fbWrite: (offset: bigint, bytes: Uint8Array) => fb.write(offset, bytes),
					}),
			readRegister: (offset) => this.#regs().read32(offset),
			writeRegister: (offset, value) => this.#regs().poke(offset, value),
			riscv: (request) => this.#riscv(request),
		};
		const common = { ...options.falcon, profile: this.profile, clock: options.clock, host, registry: known };
		this.gsp = new SimFalcon({
			...common,
			engine: 'gsp',
			...(options.onInterrupt?.gsp === undefined ? {} : { onInterrupt: options.onInterrupt.gsp }),
		});
		this.sec2 = new SimFalcon({
			...common,
			engine: 'sec2',
			...(options.onInterrupt?.sec2 === undefined ? {} : { onInterrupt: options.onInterrupt.sec2 }),
		});
		known.setGspState(() => ({ inReset: this.gsp.inReset, riscvActive: this.gsp.riscvActive }));
		this.gsp.onWrite(FALCON.OS, (value) => this.#osWritten(value));
	}

	/** The most recent GSP start (undefined before the first, or after the core stopped). */
	get lastGspStart(): GspStartInfo | undefined {
		return this.#lastStart;
	}

	/**
	 * Why the GSP core refused the last handoff (the `app_version` check), until the next start; `undefined`
	 * if it did not refuse.
	 */
	get handoffFailure(): string | undefined {
		return this.#handoffFailure;
	}

	/**
	 * Define the boot registers in `registers` and attach the falcons and the PROM window. Returns a function
	 * that detaches the devices (the plain registers stay defined).
	 * @throws SimBootConfigError if already mounted.
	 */
	mount(registers: RegisterFile): () => void {
		if (this.#registers !== undefined) throw new SimBootConfigError('boot hardware is already mounted');
		this.#registers = registers;
		defineBootRegisters(registers, this.profile);
		const detach = [registers.attach(this.gsp), registers.attach(this.sec2), registers.attach(this.prom)];
		return () => {
			for (const d of detach) d();
		};
	}

	/**
	 * Listen for booter starting the GSP RISC-V core (the GSP-RM emulator hooks here). Returns an
	 * unsubscribe function.
	 */
	onGspStart(listener: (info: GspStartInfo) => void): () => void {
		this.#startListeners.add(listener);
		return () => {
			this.#startListeners.delete(listener);
		};
	}

	/**
	 * Listen for GSP-RM taking over: booter started the core and the CPU then wrote the verified bootloader's
	 * `app_version` to the GSP OS register (the GSP-RM emulator starts here). Returns an unsubscribe function.
	 */
	onGspHandoff(listener: (info: GspStartInfo) => void): () => void {
		this.#handoffListeners.add(listener);
		return () => {
			this.#handoffListeners.delete(listener);
		};
	}

	/**
	 * Hardware side of a PCI function-level reset: both falcons reset (a running GSP core stops, and the stop
	 * listeners run), WPR2 is torn down and the software scratch registers clear. Fuses and the VBIOS stay.
	 */
	functionLevelReset(): void {
		this.sec2.functionLevelReset();
		this.gsp.functionLevelReset();
		// A start still waiting for its app_version went away with the core.
		this.#awaitingAppVersion = undefined;
		this.#handoffFailure = undefined;
		const regs = this.#registers;
		if (regs === undefined) return;
		regs.poke(BOOT_REGS.WPR2_ADDR_LO, 0);
		regs.poke(BOOT_REGS.WPR2_ADDR_HI, 0);
		for (let i = 0; i < BOOT_REGS.PBUS_SW_SCRATCH_COUNT; i++)
			regs.poke(BOOT_REGS.PBUS_SW_SCRATCH0 + 4 * i, 0);
	}

	/** Listen for the GSP RISC-V core stopping (GSP falcon reset or booter_unload). */
	onGspStop(listener: () => void): () => void {
		this.#stopListeners.add(listener);
		return () => {
			this.#stopListeners.delete(listener);
		};
	}

	#regs(): RegisterFile {
		if (this.#registers === undefined)
			throw new SimBootConfigError('boot hardware is not mounted on a register file');
		return this.#registers;
	}

	#riscv(request: RiscvRequest): void {
		if (request.action === 'stop') {
			const wasActive = this.gsp.riscvActive || this.#lastStart !== undefined;
			this.gsp.stopRiscv();
			this.#lastStart = undefined;
			this.#awaitingAppVersion = undefined;
			if (wasActive) for (const fn of [...this.#stopListeners]) fn();
			return;
		}
		const d = request.details as unknown as BooterStartDetails;
		const [mb0, mb1] = this.gsp.mailboxes;
		this.gsp.startRiscv();
		const info: GspStartInfo = Object.freeze({
			chip: this.profile.chip,
			libosArgsAddress: (BigInt(mb1) << 32n) | BigInt(mb0),
			wprMetaAddress: d.wprMetaAddress,
			wprMeta: d.wprMeta,
			firmware: d.image,
			bootloader: d.bootloader,
			falcon: this.gsp,
		});
		this.#lastStart = info;
		this.#awaitingAppVersion = info;
		this.#handoffFailure = undefined;
		for (const fn of [...this.#startListeners]) fn(info);
	}

	/** The CPU wrote the GSP OS register: the `app_version` handshake of a core booter just started. */
	#osWritten(value: number): void {
		const info = this.#awaitingAppVersion;
		if (info === undefined || !this.gsp.riscvActive) return;
		this.#awaitingAppVersion = undefined;
		try {
			checkAppVersion(value, info.bootloader);
		} catch (e) {
			if (!(e instanceof BootFailure)) throw e;
			this.#riscv({ action: 'stop' });
			this.gsp.setMailbox(0, GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH);
			this.#handoffFailure = e.message;
			return;
		}
		for (const fn of [...this.#handoffListeners]) fn(info);
	}
}

/** Build the boot hardware of a board (mount it with {@link BootHardware.mount}). */
export function createBootHardware(options: BootHardwareOptions): BootHardware {
	return new BootHardware(options);
}
