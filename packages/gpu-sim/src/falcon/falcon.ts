/**
 * The falcon engine model (GSP at 0x110000, SEC2 at 0x840000): IMEM/DMEM with PIO ports and tags, engine
 * reset and scrubbing, the DMATRF transfer engine reading DMA memory through FBIF, mailboxes, the BROM
 * parameter registers, CPUCTL/CPUCTL_ALIAS, and the GSP's RISC-V core status. Starting the CPU runs the
 * boot ROM stage ({@link bromStart}) and then the behaviour model of the identified ucode.
 *
 * Time is the platform clock: scrubbing, DMA transfers, core switches and ucode run time complete when the
 * clock passes their deadline, evaluated whenever a register is accessed (and, on a `VirtualClock`, by a
 * timer so halt interrupts fire on time).
 *
 * @module
 */

import type { Clock } from '@gspkit/hal';
import type { MmioDevice, MmioRange } from '../mmio.ts';
import { NO_DEVICE_READ_VALUE } from '../mmio.ts';
import { type BromOutcome, bromStart } from './brom.ts';
import { FALCON_BLOCK_SIZE, FalconImem } from './memory.ts';
import type { BootProfile } from './profile.ts';
import {
	type BromParams,
	FalconDmaFault,
	type FalconEffects,
	type FalconEngineName,
	type FalconExecution,
	type FalconHost,
	type FbifAccess,
	type UcodeRegistry,
} from './program.ts';
import { BITS, FALCON, FALCON_BASES, FALCON_WINDOW_SIZE, FALCON2, FBIF_TARGET } from './registers.ts';

/** Options of {@link SimFalcon}. */
export interface SimFalconOptions {
	readonly engine: FalconEngineName;
	readonly profile: BootProfile;
	readonly clock: Clock;
	readonly host: FalconHost;
	readonly registry: UcodeRegistry;
	/** PFALCON base; default the engine's (0x110000 GSP, 0x840000 SEC2). */
	readonly base?: number;
	/** IMEM size in bytes (multiple of 256); default 64 KiB. */
	readonly imemSize?: number;
	/** DMEM size in bytes (multiple of 256); default 64 KiB. */
	readonly dmemSize?: number;
	/** Memory scrubbing time after reset; default 20 µs. */
	readonly scrubNs?: bigint;
	/** Time one DMATRF transfer of 256 bytes occupies the queue; default 100 ns (smaller sizes scale). */
	readonly dmaNsPer256?: bigint;
	/** DMA queue depth: commands written while this many are pending are dropped (FULL); default 4. */
	readonly dmaQueueDepth?: number;
	/** Time BCR_CTRL takes to report VALID after a core switch; default 2 µs. */
	readonly coreSwitchNs?: bigint;
	/** Called when `IRQSTAT & IRQMASK` goes from zero to non-zero (wire it to the interrupt line). */
	readonly onInterrupt?: () => void;
}

/** The DMA fault that hung the transfer engine. */
export interface DmaFaultInfo {
	readonly reason: string;
	readonly address: bigint;
	readonly length: number;
	readonly command: number;
}

/** One CPU start as the model saw it (newest last in {@link SimFalcon.runLog}). */
export interface FalconRunRecord {
	readonly at: bigint;
	readonly bootvec: number;
	/** `'run'` (a program ran), `'refuse'` (BROM refused), `'halt'` (nothing runnable), `'ignored'`. */
	readonly outcome: 'run' | 'refuse' | 'halt' | 'ignored';
	readonly ucode?: string;
	readonly mailbox0: number;
	readonly summary: string;
}

interface PendingDma {
	readonly done: bigint;
	readonly apply: () => void;
}

const MAX_CHAIN = 4;

/** A model that serves the falcon's queue register block (offsets relative to 0xc00). */
export interface QueueRegisterDevice {
	read32(offset: number): number;
	write32(offset: number, value: number): void;
}

/** A falcon engine: an {@link MmioDevice} over its 8 KiB window. */
export class SimFalcon implements MmioDevice {
	readonly name: string;
	readonly range: MmioRange;
	readonly engine: FalconEngineName;
	readonly profile: BootProfile;
	readonly imem: FalconImem;
	readonly dmem: Uint8Array;

	readonly #clock: Clock;
	readonly #host: FalconHost;
	readonly #registry: UcodeRegistry;
	readonly #scrubNs: bigint;
	readonly #dmaNsPer256: bigint;
	readonly #dmaDepth: number;
	readonly #coreSwitchNs: bigint;
	readonly #onInterrupt: (() => void) | undefined;

	// Register state (reset values set in #resetState).
	#irqStat = 0;
	#irqMask = 0;
	#irqDest = 0;
	#mailbox0 = 0;
	#mailbox1 = 0;
	#os = 0;
	#rm = 0;
	#bootvec = 0;
	#dmactl = 0;
	#trfBase = 0;
	#trfBase1 = 0;
	#trfMoffs = 0;
	#trfFboffs = 0;
	#aliasEn = false;
	#transcfg = new Uint32Array(8);
	#fbifCtl = 0;
	#imemc = new Uint32Array(FALCON.IMEM_PORTS);
	#imemt = new Uint32Array(FALCON.IMEM_PORTS);
	#dmemc = new Uint32Array(FALCON.DMEM_PORTS);
	#modSel = 0;
	#ucodeId = 0;
	#engIdMask = 0;
	#paraAddr = new Uint32Array(FALCON2.BROM_PARAADDR_COUNT);
	#bcrCtrl = 0;
	#bcrValidAt = 0n;
	#queueRegs = new Map<number, number>();
	/** A device model that owns the queue register block instead (the GSP-RM emulator's shared block). */
	#queueDevice: QueueRegisterDevice | undefined;

	// Engine state.
	#inReset = false;
	#scrubUntil = 0n;
	#running = false;
	#haltAt = 0n;
	#haltTimer: { cancel(): void } | undefined;
	#riscvActive = false;
	#dmaQueue: PendingDma[] = [];
	#dmaFault: DmaFaultInfo | undefined;
	#lastDmaDone = 0n;
	#runLog: FalconRunRecord[] = [];
	#unhandled = { reads: 0, writes: 0 };
	#lostWrites = 0;
	#watchers = new Map<number, Set<(value: number) => void>>();

	constructor(options: SimFalconOptions) {
		this.engine = options.engine;
		this.profile = options.profile;
		const base = options.base ?? FALCON_BASES[options.engine];
		this.name = `${options.engine}-falcon`;
		this.range = Object.freeze({ start: base, end: base + FALCON_WINDOW_SIZE });
		this.imem = new FalconImem(options.imemSize ?? 0x10000);
		this.dmem = new Uint8Array(options.dmemSize ?? 0x10000);
		this.#clock = options.clock;
		this.#host = options.host;
		this.#registry = options.registry;
		this.#scrubNs = options.scrubNs ?? 20_000n;
		this.#dmaNsPer256 = options.dmaNsPer256 ?? 100n;
		this.#dmaDepth = options.dmaQueueDepth ?? 4;
		this.#coreSwitchNs = options.coreSwitchNs ?? 2_000n;
		this.#onInterrupt = options.onInterrupt;
		this.#resetState();
		// Power-on: out of reset with memories already scrubbed (GFW boot ran before the driver).
		this.#scrubUntil = this.#clock.now();
	}

	// ---------------------------------------------------------------- simulator-side API

	/** Whether ENGINE.RESET is asserted. */
	get inReset(): boolean {
		return this.#inReset;
	}

	/** Whether the falcon CPU is running (started and not yet halted). */
	get running(): boolean {
		this.#settle();
		return this.#running;
	}

	/** Whether the GSP RISC-V core has been started by booter and not stopped or reset since. */
	get riscvActive(): boolean {
		return this.#riscvActive;
	}

	/** The fault that hung the DMA engine since the last reset, if any. */
	get dmaFault(): DmaFaultInfo | undefined {
		return this.#dmaFault;
	}

	/** Every CPU start since construction (bounded to the last 64). */
	get runLog(): readonly FalconRunRecord[] {
		return this.#runLog;
	}

	/** The most recent CPU start. */
	get lastRun(): FalconRunRecord | undefined {
		return this.#runLog.at(-1);
	}

	/** Accesses to offsets the model does not implement, and IMEM/DMEM writes lost to scrubbing. */
	get diagnostics(): {
		readonly unhandledReads: number;
		readonly unhandledWrites: number;
		readonly lostWrites: number;
	} {
		return {
			unhandledReads: this.#unhandled.reads,
			unhandledWrites: this.#unhandled.writes,
			lostWrites: this.#lostWrites,
		};
	}

	/** Current mailbox values (device side, no side effects). */
	get mailboxes(): readonly [number, number] {
		return [this.#mailbox0, this.#mailbox1];
	}

	/** BROM parameter registers as programmed. */
	get bromParams(): BromParams {
		return {
			modSel: this.#modSel,
			ucodeId: this.#ucodeId,
			engineIdMask: this.#engIdMask,
			paraAddr: [...this.#paraAddr],
		};
	}

	/** Device side: set IRQSTAT bits (e.g. SWGEN0 when the GSP posts a message). */
	raiseIrq(bits: number): void {
		this.#setIrq(bits);
	}

	/** Device side: write a mailbox (firmware running on the core answering the host). */
	setMailbox(index: 0 | 1, value: number): void {
		if (index === 0) this.#mailbox0 = value >>> 0;
		else this.#mailbox1 = value >>> 0;
	}

	/**
	 * Hand the queue register block (0xc00–0xcff) to a device model: the GSP-RM emulator keeps it in memory
	 * shared with its worker thread, so the doorbell and queue pointers are visible to both processors.
	 * Returns a function that takes the block back.
	 */
	delegateQueueRegisters(device: QueueRegisterDevice): () => void {
		this.#queueDevice = device;
		return () => {
			if (this.#queueDevice === device) this.#queueDevice = undefined;
		};
	}

	/** Device side: set a queue register (0xc00–0xcff), e.g. the GSP advancing `MSGQ_HEAD`. */
	setQueueRegister(offset: number, value: number): void {
		if (offset < FALCON.QUEUE_BLOCK_START || offset >= FALCON.QUEUE_BLOCK_END || offset % 4 !== 0) {
			throw new RangeError(`0x${offset.toString(16)} is not a queue register offset`);
		}
		this.#queueRegs.set(offset, value >>> 0);
	}

	/** Device side: set or clear CPUCTL.ALIAS_EN (secure firmware locks CPUCTL this way). */
	setAliasEnable(enabled: boolean): void {
		this.#aliasEn = enabled;
	}

	/**
	 * Observe host writes to a register of this window (offset relative to the PFALCON base), e.g. the GSP
	 * doorbell `NV_PGSP_QUEUE_HEAD(0)` at 0xc00. Returns an unsubscribe function.
	 */
	onWrite(offset: number, listener: (value: number) => void): () => void {
		let set = this.#watchers.get(offset);
		if (set === undefined) {
			set = new Set();
			this.#watchers.set(offset, set);
		}
		set.add(listener);
		return () => {
			set.delete(listener);
		};
	}

	/** Hardware side: start the RISC-V core (booter did). Only the GSP has one the boot flow starts. */
	startRiscv(): void {
		this.#riscvActive = true;
		this.#bcrCtrl = (this.#bcrCtrl | BITS.BCR_CORE_SELECT_RISCV | BITS.BCR_VALID) >>> 0;
		this.#bcrValidAt = 0n;
	}

	/** Hardware side: stop the RISC-V core (booter_unload, or the core halting). */
	stopRiscv(): void {
		this.#riscvActive = false;
	}

	/**
	 * Hardware side: the GPU's function-level reset reaches this engine. Like an ENGINE.RESET pulse: every
	 * register, IMEM/DMEM, the DMA engine and the CPU return to their reset state (a running RISC-V core is
	 * stopped through the host, as a reset asserted from BAR0 does), and the memories are scrubbed again.
	 */
	functionLevelReset(): void {
		const wasRiscv = this.#riscvActive;
		this.#resetState();
		this.#inReset = false;
		this.#scrubUntil = this.#clock.now() + this.#scrubNs;
		if (wasRiscv) this.#host.riscv?.({ action: 'stop' });
	}

	// ---------------------------------------------------------------- MmioDevice

	read32(offset: number): number {
		this.#settle();
		const v = this.#read(offset);
		if (v === undefined) {
			this.#unhandled.reads++;
			return NO_DEVICE_READ_VALUE;
		}
		return v >>> 0;
	}

	write32(offset: number, value: number): void {
		this.#settle();
		const v = value >>> 0;
		if (this.#inReset && offset !== FALCON.ENGINE) {
			this.#lostWrites++;
			return;
		}
		if (!this.#write(offset, v)) {
			this.#unhandled.writes++;
			return;
		}
		const set = this.#watchers.get(offset);
		if (set !== undefined) for (const fn of [...set]) fn(v);
	}

	// ---------------------------------------------------------------- registers

	#scrubbing(): boolean {
		return this.#inReset || this.#clock.now() < this.#scrubUntil;
	}

	#read(offset: number): number | undefined {
		switch (offset) {
			case FALCON.IRQSTAT:
				return this.#irqStat;
			case FALCON.IRQMASK:
				return this.#irqMask;
			case FALCON.IRQDEST:
				return this.#irqDest;
			case FALCON.IRQSSET:
			case FALCON.IRQSCLR:
			case FALCON.IRQMSET:
			case FALCON.IRQMCLR:
				return 0;
			case FALCON.MAILBOX0:
				return this.#mailbox0;
			case FALCON.MAILBOX1:
				return this.#mailbox1;
			case FALCON.OS:
				return this.#os;
			case FALCON.RM:
				return this.#rm;
			case FALCON.HWCFG2: {
				let v = BITS.HWCFG2_RISCV * (this.engine === 'gsp' || this.profile.sec2Riscv ? 1 : 0);
				if (this.#scrubbing()) v |= BITS.HWCFG2_MEM_SCRUBBING;
				if (this.profile.resetReady && !this.#running && this.#dmaQueue.length === 0)
					v |= BITS.HWCFG2_RESET_READY;
				return v >>> 0;
			}
			case FALCON.HWCFG:
				return (
					((this.imem.size / FALCON_BLOCK_SIZE) & 0x1ff) |
					(((this.dmem.length / FALCON_BLOCK_SIZE) & 0x1ff) << 9)
				);
			case FALCON.HWCFG1:
				// CORE_REV 3:0, SECURITY_MODEL 5:4 = 3 (heavy-secure capable).
				return (this.profile.coreRev & 0xf) | (3 << 4);
			case FALCON.CPUCTL:
				return (this.#running ? 0 : BITS.CPUCTL_HALTED) | (this.#aliasEn ? BITS.CPUCTL_ALIAS_EN : 0);
			case FALCON.CPUCTL_ALIAS:
				return this.#running ? 0 : BITS.CPUCTL_HALTED;
			case FALCON.BOOTVEC:
				return this.#bootvec;
			case FALCON.DMACTL: {
				let v = this.#dmactl & BITS.DMACTL_REQUIRE_CTX;
				if (this.#scrubbing()) v |= BITS.DMACTL_DMEM_SCRUBBING | BITS.DMACTL_IMEM_SCRUBBING;
				v |= (Math.min(this.#dmaQueue.length, 15) & 0xf) << BITS.DMACTL_DMAQ_NUM_SHIFT;
				return v;
			}
			case FALCON.DMATRFBASE:
				return this.#trfBase;
			case FALCON.DMATRFBASE1:
				return this.#trfBase1;
			case FALCON.DMATRFMOFFS:
				return this.#trfMoffs;
			case FALCON.DMATRFFBOFFS:
				return this.#trfFboffs;
			case FALCON.DMATRFCMD: {
				const idle = this.#dmaQueue.length === 0 && this.#dmaFault === undefined;
				const full = this.#dmaQueue.length >= this.#dmaDepth;
				return (idle ? BITS.DMATRFCMD_IDLE : 0) | (full ? BITS.DMATRFCMD_FULL : 0);
			}
			case FALCON.ENGINE:
				return this.#inReset ? BITS.ENGINE_RESET : 0;
			case FALCON.FBIF_CTL:
				return this.#fbifCtl;
			case FALCON2.MOD_SEL:
				return this.#modSel;
			case FALCON2.BROM_CURR_UCODE_ID:
				return this.#ucodeId;
			case FALCON2.BROM_ENGIDMASK:
				return this.#engIdMask;
			case FALCON2.RISCV_CORE_SWITCH_RISCV_STATUS:
				return this.profile.riscvStatus === 'core-switch' && this.#riscvActive ? BITS.RISCV_STATUS_ACTIVE : 0;
			case FALCON2.RISCV_CPUCTL:
				if (this.profile.riscvStatus !== 'riscv-cpuctl') return 0;
				return this.#riscvActive ? BITS.RISCV_CPUCTL_ACTIVE_STAT : BITS.RISCV_CPUCTL_HALTED;
			case FALCON2.RISCV_BCR_CTRL: {
				const valid = this.#clock.now() >= this.#bcrValidAt ? BITS.BCR_VALID : 0;
				return ((this.#bcrCtrl & ~BITS.BCR_VALID) | valid) >>> 0;
			}
		}
		if (offset >= FALCON.IMEMC0 && offset < FALCON.IMEMC0 + FALCON.IMEM_PORTS * FALCON.IMEM_PORT_STRIDE) {
			const port = (offset - FALCON.IMEMC0) >> 4;
			switch ((offset - FALCON.IMEMC0) & 0xf) {
				case 0:
					return this.#imemc[port]!;
				case 4: {
					const addr = this.#imemc[port]! & BITS.MEMC_OFFSET_MASK;
					const v = this.#scrubbing() ? 0 : this.imem.readWord(addr);
					if (this.#imemc[port]! & BITS.MEMC_AINCR) this.#imemc[port] = this.#advance(this.#imemc[port]!);
					return v;
				}
				case 8: {
					const tag = this.imem.tagAt(this.#imemc[port]! & BITS.MEMC_OFFSET_MASK);
					return Math.max(tag, 0);
				}
			}
			return undefined;
		}
		if (offset >= FALCON.DMEMC0 && offset < FALCON.DMEMC0 + FALCON.DMEM_PORTS * FALCON.DMEM_PORT_STRIDE) {
			const port = (offset - FALCON.DMEMC0) >> 3;
			if (((offset - FALCON.DMEMC0) & 7) === 0) return this.#dmemc[port]!;
			const addr = this.#dmemc[port]! & BITS.MEMC_OFFSET_MASK;
			const v = this.#scrubbing() || addr + 4 > this.dmem.length ? 0 : readU32(this.dmem, addr);
			if (this.#dmemc[port]! & BITS.MEMC_AINCR) this.#dmemc[port] = this.#advance(this.#dmemc[port]!);
			return v;
		}
		if (offset >= FALCON.FBIF_TRANSCFG0 && offset < FALCON.FBIF_TRANSCFG0 + 32) {
			return this.#transcfg[(offset - FALCON.FBIF_TRANSCFG0) >> 2]!;
		}
		if (
			offset >= FALCON2.BROM_PARAADDR0 &&
			offset < FALCON2.BROM_PARAADDR0 + 4 * FALCON2.BROM_PARAADDR_COUNT
		) {
			return this.#paraAddr[(offset - FALCON2.BROM_PARAADDR0) >> 2]!;
		}
		if (offset >= FALCON.QUEUE_BLOCK_START && offset < FALCON.QUEUE_BLOCK_END) {
			if (this.#queueDevice) return this.#queueDevice.read32(offset - FALCON.QUEUE_BLOCK_START);
			return this.#queueRegs.get(offset) ?? 0;
		}
		return undefined;
	}

	#write(offset: number, v: number): boolean {
		switch (offset) {
			case FALCON.IRQSSET:
				this.#setIrq(v);
				return true;
			case FALCON.IRQSCLR:
				this.#irqStat = (this.#irqStat & ~v) >>> 0;
				return true;
			case FALCON.IRQMSET: {
				const before = this.#irqStat & this.#irqMask;
				this.#irqMask = (this.#irqMask | v) >>> 0;
				if (before === 0 && (this.#irqStat & this.#irqMask) !== 0) this.#onInterrupt?.();
				return true;
			}
			case FALCON.IRQMCLR:
				this.#irqMask = (this.#irqMask & ~v) >>> 0;
				return true;
			case FALCON.IRQDEST:
				this.#irqDest = v;
				return true;
			case FALCON.IRQSTAT:
			case FALCON.IRQMASK:
			case FALCON.HWCFG:
			case FALCON.HWCFG1:
			case FALCON.HWCFG2:
				return true; // read-only
			case FALCON.MAILBOX0:
				this.#mailbox0 = v;
				return true;
			case FALCON.MAILBOX1:
				this.#mailbox1 = v;
				return true;
			case FALCON.OS:
				this.#os = v;
				return true;
			case FALCON.RM:
				this.#rm = v;
				return true;
			case FALCON.CPUCTL:
				if (!this.#aliasEn && v & BITS.CPUCTL_STARTCPU) this.#startCpu('CPUCTL');
				return true;
			case FALCON.CPUCTL_ALIAS:
				if (this.#aliasEn && v & BITS.CPUCTL_STARTCPU) this.#startCpu('CPUCTL_ALIAS');
				return true;
			case FALCON.BOOTVEC:
				this.#bootvec = v;
				return true;
			case FALCON.DMACTL:
				this.#dmactl = v & BITS.DMACTL_REQUIRE_CTX;
				return true;
			case FALCON.DMATRFBASE:
				this.#trfBase = v;
				return true;
			case FALCON.DMATRFBASE1:
				this.#trfBase1 = v & 0x1ff;
				return true;
			case FALCON.DMATRFMOFFS:
				this.#trfMoffs = v & 0xffffff;
				return true;
			case FALCON.DMATRFFBOFFS:
				this.#trfFboffs = v;
				return true;
			case FALCON.DMATRFCMD:
				this.#dmaCommand(v);
				return true;
			case FALCON.ENGINE:
				this.#engineWrite(v);
				return true;
			case FALCON.FBIF_CTL:
				this.#fbifCtl = v;
				return true;
			case FALCON2.MOD_SEL:
				this.#modSel = v & 0xff;
				return true;
			case FALCON2.BROM_CURR_UCODE_ID:
				this.#ucodeId = v & 0xff;
				return true;
			case FALCON2.BROM_ENGIDMASK:
				this.#engIdMask = v;
				return true;
			case FALCON2.RISCV_CORE_SWITCH_RISCV_STATUS:
			case FALCON2.RISCV_CPUCTL:
				return true; // status, read-only to the host
			case FALCON2.RISCV_BCR_CTRL: {
				const before = this.#bcrCtrl & BITS.BCR_CORE_SELECT_RISCV;
				this.#bcrCtrl = v & (BITS.BCR_CORE_SELECT_RISCV | BITS.BCR_BRFETCH);
				if ((this.#bcrCtrl & BITS.BCR_CORE_SELECT_RISCV) !== before) {
					this.#bcrValidAt = this.#clock.now() + this.#coreSwitchNs;
				}
				return true;
			}
		}
		if (offset >= FALCON.IMEMC0 && offset < FALCON.IMEMC0 + FALCON.IMEM_PORTS * FALCON.IMEM_PORT_STRIDE) {
			const port = (offset - FALCON.IMEMC0) >> 4;
			switch ((offset - FALCON.IMEMC0) & 0xf) {
				case 0:
					this.#imemc[port] = v;
					return true;
				case 4: {
					const c = this.#imemc[port]!;
					if (this.#scrubbing()) this.#lostWrites++;
					else
						this.imem.writeWord(
							c & BITS.MEMC_OFFSET_MASK,
							v,
							this.#imemt[port]!,
							(c & BITS.IMEMC_SECURE) !== 0,
						);
					if (c & BITS.MEMC_AINCW) this.#imemc[port] = this.#advance(c);
					return true;
				}
				case 8:
					this.#imemt[port] = v & 0xffff;
					return true;
			}
			return false;
		}
		if (offset >= FALCON.DMEMC0 && offset < FALCON.DMEMC0 + FALCON.DMEM_PORTS * FALCON.DMEM_PORT_STRIDE) {
			const port = (offset - FALCON.DMEMC0) >> 3;
			if (((offset - FALCON.DMEMC0) & 7) === 0) {
				this.#dmemc[port] = v;
				return true;
			}
			const c = this.#dmemc[port]!;
			const addr = c & BITS.MEMC_OFFSET_MASK;
			if (this.#scrubbing()) this.#lostWrites++;
			else if (addr + 4 <= this.dmem.length) writeU32(this.dmem, addr, v);
			if (c & BITS.MEMC_AINCW) this.#dmemc[port] = this.#advance(c);
			return true;
		}
		if (offset >= FALCON.FBIF_TRANSCFG0 && offset < FALCON.FBIF_TRANSCFG0 + 32) {
			this.#transcfg[(offset - FALCON.FBIF_TRANSCFG0) >> 2] = v;
			return true;
		}
		if (
			offset >= FALCON2.BROM_PARAADDR0 &&
			offset < FALCON2.BROM_PARAADDR0 + 4 * FALCON2.BROM_PARAADDR_COUNT
		) {
			this.#paraAddr[(offset - FALCON2.BROM_PARAADDR0) >> 2] = v;
			return true;
		}
		if (offset >= FALCON.QUEUE_BLOCK_START && offset < FALCON.QUEUE_BLOCK_END) {
			if (this.#queueDevice) this.#queueDevice.write32(offset - FALCON.QUEUE_BLOCK_START, v);
			else this.#queueRegs.set(offset, v);
			return true;
		}
		return false;
	}

	/** Auto-increment a MEMC value by one word (the offset field spans bits 23:2). */
	#advance(c: number): number {
		const addr = ((c & BITS.MEMC_OFFSET_MASK) + 4) & BITS.MEMC_OFFSET_MASK;
		return ((c & ~BITS.MEMC_OFFSET_MASK) | addr) >>> 0;
	}

	#setIrq(bits: number): void {
		const before = this.#irqStat & this.#irqMask;
		this.#irqStat = (this.#irqStat | bits) >>> 0;
		if (before === 0 && (this.#irqStat & this.#irqMask) !== 0) this.#onInterrupt?.();
	}

	// ---------------------------------------------------------------- reset

	#resetState(): void {
		this.#haltTimer?.cancel();
		this.#haltTimer = undefined;
		this.#irqStat = 0;
		this.#irqMask = 0;
		this.#irqDest = 0;
		this.#mailbox0 = 0;
		this.#mailbox1 = 0;
		this.#os = 0;
		this.#rm = 0;
		this.#bootvec = 0;
		this.#dmactl = BITS.DMACTL_REQUIRE_CTX;
		this.#trfBase = 0;
		this.#trfBase1 = 0;
		this.#trfMoffs = 0;
		this.#trfFboffs = 0;
		this.#aliasEn = false;
		this.#transcfg.fill(0);
		this.#fbifCtl = 0;
		this.#imemc.fill(0);
		this.#imemt.fill(0);
		this.#dmemc.fill(0);
		this.#modSel = 0;
		this.#ucodeId = 0;
		this.#engIdMask = 0;
		this.#paraAddr.fill(0);
		this.#bcrCtrl =
			this.engine === 'gsp' && this.profile.gspCoreAfterReset === 'riscv' ? BITS.BCR_CORE_SELECT_RISCV : 0;
		this.#bcrValidAt = 0n;
		this.#queueRegs.clear();
		this.#running = false;
		this.#riscvActive = false;
		this.#dmaQueue = [];
		this.#dmaFault = undefined;
		this.#lastDmaDone = 0n;
		this.imem.clear();
		this.dmem.fill(0);
	}

	#engineWrite(v: number): void {
		const assert = (v & BITS.ENGINE_RESET) !== 0;
		if (assert && !this.#inReset) {
			const wasRiscv = this.#riscvActive;
			this.#inReset = true;
			this.#resetState();
			if (wasRiscv) this.#host.riscv?.({ action: 'stop' });
		} else if (!assert && this.#inReset) {
			this.#inReset = false;
			this.#scrubUntil = this.#clock.now() + this.#scrubNs;
		}
	}

	// ---------------------------------------------------------------- time

	/** Apply everything whose deadline has passed: DMA completions and the CPU halting. */
	#settle(): void {
		const now = this.#clock.now();
		if (this.#dmaQueue.length > 0) {
			while (this.#dmaQueue.length > 0 && this.#dmaQueue[0]!.done <= now) this.#dmaQueue.shift()!.apply();
		}
		if (this.#running && now >= this.#haltAt) {
			this.#running = false;
			this.#haltTimer?.cancel();
			this.#haltTimer = undefined;
			this.#setIrq(BITS.IRQ_HALT);
		}
	}

	// ---------------------------------------------------------------- DMA

	#fault(reason: string, address: bigint, length: number, command: number): void {
		this.#dmaFault = { reason, address, length, command };
	}

	#dmaCommand(cmd: number): void {
		if (this.#dmaFault !== undefined) return; // the engine is hung until reset
		if (this.#dmaQueue.length >= this.#dmaDepth) {
			this.#lostWrites++; // FULL: the command is dropped
			return;
		}
		const sizeCode = (cmd >>> BITS.DMATRFCMD_SIZE_SHIFT) & 0x7;
		const imem = (cmd & BITS.DMATRFCMD_IMEM) !== 0;
		const toMemory = (cmd & BITS.DMATRFCMD_WRITE) !== 0;
		const sec = (cmd >>> BITS.DMATRFCMD_SEC_SHIFT) & 0x3;
		const ctx = (cmd >>> BITS.DMATRFCMD_CTXDMA_SHIFT) & 0x7;
		const base = (BigInt(this.#trfBase1 & 0x1ff) << 40n) | (BigInt(this.#trfBase) << 8n);
		const fboffs = this.#trfFboffs;
		const address = base + BigInt(fboffs);
		const moffs = this.#trfMoffs;
		if (sizeCode > 6) {
			this.#fault(`DMATRFCMD.SIZE ${sizeCode} is not a valid transfer size`, address, 0, cmd);
			return;
		}
		const size = 4 << sizeCode;
		if (address % BigInt(size) !== 0n) {
			this.#fault(`source address 0x${address.toString(16)} is not ${size}-byte aligned`, address, size, cmd);
			return;
		}
		const memSize = imem ? this.imem.size : this.dmem.length;
		if (moffs % size !== 0 || moffs + size > memSize) {
			this.#fault(
				`${imem ? 'IMEM' : 'DMEM'} offset 0x${moffs.toString(16)} is unaligned or outside the ${memSize}-byte memory`,
				address,
				size,
				cmd,
			);
			return;
		}
		if (toMemory && imem) {
			this.#fault('IMEM cannot be the source of a DMA write', address, size, cmd);
			return;
		}
		let data: Uint8Array | undefined;
		try {
			if (toMemory) {
				this.#checkFbif(ctx, address, size);
			} else {
				data = this.#fbifRead(ctx, address, size);
			}
		} catch (e) {
			if (e instanceof FalconDmaFault) {
				this.#fault(e.message, e.address, e.length, cmd);
				return;
			}
			throw e;
		}
		let start = this.#clock.now();
		if (this.#lastDmaDone > start) start = this.#lastDmaDone;
		const done = start + (this.#dmaNsPer256 * BigInt(size)) / 256n;
		this.#lastDmaDone = done;
		const scrubbingAtIssue = this.#scrubbing();
		const apply = (): void => {
			if (scrubbingAtIssue || this.#inReset) {
				this.#lostWrites++;
				return;
			}
			if (toMemory) {
				const bytes = this.dmem.slice(moffs, moffs + size);
				try {
					this.#fbifWrite(ctx, address, bytes);
				} catch (e) {
					if (e instanceof FalconDmaFault) this.#fault(e.message, e.address, e.length, cmd);
					else throw e;
				}
			} else if (imem) {
				this.imem.write(moffs, data!, (fboffs >>> 8) & 0xffff, sec !== 0);
			} else {
				this.dmem.set(data!, moffs);
			}
		};
		this.#dmaQueue.push({ done, apply });
		this.#settle();
	}

	/** The FBIF rules for a physical access through context `ctx`; returns the TRANSCFG target. */
	#checkFbif(ctx: number, address: bigint, length: number): number {
		if (this.#dmactl & BITS.DMACTL_REQUIRE_CTX) {
			throw new FalconDmaFault('DMACTL.REQUIRE_CTX is set but no DMA context is bound', address, length);
		}
		const cfg = this.#transcfg[ctx] ?? 0;
		if ((cfg & BITS.TRANSCFG_MEM_TYPE_PHYSICAL) === 0) {
			throw new FalconDmaFault(
				`FBIF_TRANSCFG(${ctx}) selects virtual addressing, which needs a bound context`,
				address,
				length,
			);
		}
		if ((this.#fbifCtl & BITS.FBIF_CTL_ALLOW_PHYS_NO_CTX) === 0) {
			throw new FalconDmaFault(
				'physical DMA without a context needs FBIF_CTL.ALLOW_PHYS_NO_CTX',
				address,
				length,
			);
		}
		const target = cfg & BITS.TRANSCFG_TARGET_MASK;
		if (target === 3) throw new FalconDmaFault(`FBIF_TRANSCFG(${ctx}).TARGET 3 is invalid`, address, length);
		return target;
	}

	#fbifRead(ctx: number, address: bigint, length: number): Uint8Array {
		const target = this.#checkFbif(ctx, address, length);
		try {
			if (target === FBIF_TARGET.LOCAL_FB) {
				if (this.#host.fbRead === undefined) throw new Error('no local framebuffer is attached');
				return this.#host.fbRead(address, length);
			}
			return this.#host.dmaRead(address, length);
		} catch (e) {
			throw new FalconDmaFault(`bus fault: ${(e as Error).message}`, address, length);
		}
	}

	#fbifWrite(ctx: number, address: bigint, bytes: Uint8Array): void {
		const target = this.#checkFbif(ctx, address, bytes.length);
		try {
			if (target === FBIF_TARGET.LOCAL_FB) {
				if (this.#host.fbWrite === undefined) throw new Error('no local framebuffer is attached');
				this.#host.fbWrite(address, bytes);
			} else {
				this.#host.dmaWrite(address, bytes);
			}
		} catch (e) {
			throw new FalconDmaFault(`bus fault: ${(e as Error).message}`, address, bytes.length);
		}
	}

	// ---------------------------------------------------------------- CPU

	#log(record: Omit<FalconRunRecord, 'at' | 'bootvec' | 'mailbox0'>, bootvec: number): void {
		this.#runLog.push({ at: this.#clock.now(), bootvec, mailbox0: this.#mailbox0, ...record });
		if (this.#runLog.length > 64) this.#runLog.shift();
	}

	#startCpu(via: string): void {
		const bootvec = this.#bootvec;
		if (this.#running) {
			this.#log({ outcome: 'ignored', summary: `${via}.STARTCPU while the core is running` }, bootvec);
			return;
		}
		if (this.#scrubbing()) {
			this.#log(
				{ outcome: 'ignored', summary: `${via}.STARTCPU while memories are being scrubbed` },
				bootvec,
			);
			return;
		}
		if (this.#bcrCtrl & BITS.BCR_CORE_SELECT_RISCV) {
			this.#log(
				{ outcome: 'ignored', summary: `${via}.STARTCPU ignored: RISCV_BCR_CTRL selects the RISC-V core` },
				bootvec,
			);
			return;
		}
		this.#running = true;
		let runtime = 0n;
		let pc = bootvec;
		const summaries: string[] = [];
		for (let depth = 0; ; depth++) {
			const outcome: BromOutcome = bromStart({
				engine: this.engine,
				profile: this.profile,
				imem: this.imem,
				dmem: this.dmem,
				bootvec: pc,
				brom: this.bromParams,
				registry: this.#registry,
				readFuse: (o) => this.#host.readRegister(o),
			});
			if (outcome.kind === 'halt') {
				runtime += 1_000n;
				summaries.push(outcome.reason);
				this.#log({ outcome: 'halt', summary: summaries.join('; ') }, bootvec);
				break;
			}
			if (outcome.kind === 'refuse') {
				this.#mailbox0 = outcome.code >>> 0;
				runtime += 10_000n;
				summaries.push(`BROM refused: ${outcome.reason}`);
				this.#log(
					{
						outcome: 'refuse',
						summary: summaries.join('; '),
						...(outcome.ucode === undefined ? {} : { ucode: outcome.ucode.name }),
					},
					bootvec,
				);
				break;
			}
			const execution: FalconExecution = {
				engine: this.engine,
				profile: this.profile,
				bootvec: pc,
				mailbox0: this.#mailbox0,
				mailbox1: this.#mailbox1,
				brom: this.bromParams,
				imem: this.imem.bytes,
				dmem: this.dmem,
				ucode: outcome.ucode,
				host: this.#host,
				fbif: this.#fbifAccess(),
			};
			const effects = outcome.ucode.program.run(execution);
			this.#applyEffects(effects);
			runtime += effects.runtimeNs ?? 1_000n;
			summaries.push(`${outcome.ucode.name}: ${effects.summary}`);
			if (effects.jump !== undefined && depth + 1 < MAX_CHAIN) {
				pc = effects.jump >>> 0;
				continue;
			}
			this.#log({ outcome: 'run', ucode: outcome.ucode.name, summary: summaries.join('; ') }, bootvec);
			break;
		}
		this.#haltAt = this.#clock.now() + (runtime > 0n ? runtime : 1n);
		const clock = this.#clock as Clock & { at?: (t: bigint, fn: () => void) => { cancel(): void } };
		if (typeof clock.at === 'function') this.#haltTimer = clock.at(this.#haltAt, () => this.#settle());
	}

	#fbifAccess(): FbifAccess {
		return { read: (ctx, address, length) => this.#fbifRead(ctx, address, length) };
	}

	#applyEffects(e: FalconEffects): void {
		if (e.mailbox0 !== undefined) this.#mailbox0 = e.mailbox0 >>> 0;
		if (e.mailbox1 !== undefined) this.#mailbox1 = e.mailbox1 >>> 0;
		for (const w of e.registerWrites ?? []) this.#host.writeRegister(w.offset, w.value);
		for (const w of e.dmaWrites ?? []) this.#host.dmaWrite(w.address, w.bytes);
		for (const w of e.imemWrites ?? []) this.imem.write(w.address, w.bytes, w.tag, w.secure);
		for (const w of e.dmemWrites ?? []) {
			if (w.offset < this.dmem.length)
				this.dmem.set(w.bytes.subarray(0, this.dmem.length - w.offset), w.offset);
		}
		if (e.riscv !== undefined) this.#host.riscv?.(e.riscv);
	}
}

function readU32(d: Uint8Array, o: number): number {
	return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}

function writeU32(d: Uint8Array, o: number, v: number): void {
	d[o] = v & 0xff;
	d[o + 1] = (v >>> 8) & 0xff;
	d[o + 2] = (v >>> 16) & 0xff;
	d[o + 3] = (v >>> 24) & 0xff;
}
