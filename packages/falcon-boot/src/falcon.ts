/**
 * Falcon loading and running (hardware reference A.3): reset, DMA load through the DMATRF registers in
 * 256-byte chunks, PIO load through IMEMC/IMEMT/IMEMD and DMEMC/DMEMD, boot ROM programming, start, halt
 * poll and mailboxes.
 *
 * One definition serves GSP and SEC2: every register comes from `@gspkit/hal`'s engine-relative falcon set
 * (`GSP.regs`, `SEC2.regs`). What differs between generations is a small {@link FalconVariant}.
 *
 * @module
 */

import {
	type Bar0,
	type Clock,
	type FalconEngine,
	hex,
	isGspkitError,
	MS,
	NV_PMC_BOOT_0,
	pollUntil,
	splitDmaBase,
	US,
} from '@gspkit/hal';
import { type BootStage, FalconError } from './errors.ts';

/** Bytes per DMATRF transfer (DMATRFCMD.SIZE = 6). */
export const FALCON_DMA_CHUNK = 256;
/** IMEM/DMEM block size: one IMEM tag covers 256 bytes. */
export const FALCON_BLOCK_SIZE = 256;

/** Timeouts of the falcon sequences (reference A.3). */
export const FALCON_TIMEOUTS = Object.freeze({
	/** HWCFG2.RESET_READY before an engine reset (GA102+); not fatal. */
	resetReadyNs: 150n * US,
	/** ENGINE.RESET pulse width. */
	resetPulseNs: 10n * US,
	/** IMEM/DMEM scrubbing after reset. */
	scrubbingNs: 20n * MS,
	/** RISCV_BCR_CTRL.VALID after a core selection. */
	coreSelectNs: 10n * MS,
	/** One DMA chunk (queue not full, then idle). */
	dmaNs: 10n * MS,
	/** CPUCTL.HALTED after start. */
	haltNs: 2000n * MS,
});

/** What differs between falcon generations. */
export interface FalconVariant {
	/** How scrubbing completion is observed: `HWCFG2.MEM_SCRUBBING` (GA102+) or `DMACTL` bits 1–2 (TU10x, GA100). */
	readonly scrubbing: 'hwcfg2' | 'dmactl';
	/** Whether `HWCFG2.RESET_READY` exists (GA102+). */
	readonly resetReady: boolean;
	/** Where RISC-V activity is read: `RISCV_CPUCTL.ACTIVE_STAT` (GA102+) or `RISCV_CORE_SWITCH_RISCV_STATUS` (TU10x, GA100). */
	readonly riscvStatus: 'riscv-cpuctl' | 'core-switch';
}

/** One DMA transfer from a system-memory source into IMEM or DMEM. */
export interface DmaSegment {
	/** Destination memory. */
	readonly target: 'imem' | 'dmem';
	/** Secure IMEM (DMATRFCMD.SEC = 1). Only meaningful for IMEM. */
	readonly secure: boolean;
	/** Offset in the source buffer (added through DMATRFFBOFFS). */
	readonly srcOffset: number;
	/** Destination offset in IMEM/DMEM. */
	readonly dst: number;
	/** Bytes to transfer; rounded up to whole 256-byte chunks (the source must hold them). */
	readonly length: number;
}

/** A DMA source: any buffer with a bus address (a hal `DmaBuffer` qualifies). */
export interface DmaSource {
	readonly busAddress: bigint;
	readonly size: number;
}

/** What {@link Falcon.reset} observed. */
export interface FalconResetReport {
	/** `HWCFG2.RESET_READY` did not come up within 150 µs (not fatal, as in nova). */
	readonly resetReadyTimedOut: boolean;
	/** `RISCV_BCR_CTRL.VALID` did not come up after selecting the RISC-V core (not fatal). */
	readonly coreSelectUnconfirmed: boolean;
}

/** Boot ROM inputs of a heavy-secure ucode (reference A.3 step 3). */
export interface BromParams {
	/** DMEM offset of the signature (`BROM_PARAADDR(0)`). */
	readonly pkcDataOffset: number;
	/** `BROM_ENGIDMASK`. */
	readonly engineIdMask: number;
	/** `BROM_CURR_UCODE_ID`. */
	readonly ucodeId: number;
	/** `FALCON_MOD_SEL.ALGO`: RSA-3K for 384-byte signatures, AES for Turing's 16-byte ones. */
	readonly algorithm: 'RSA3K' | 'AES';
}

/** Options of {@link Falcon}. */
export interface FalconOptions {
	readonly bar0: Bar0;
	readonly clock: Clock;
	/** The engine to drive (hal's `GSP` or `SEC2`). */
	readonly engine: FalconEngine;
	/** Generation differences. */
	readonly variant: FalconVariant;
	/** The boot stage errors are reported under. */
	readonly stage: BootStage;
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** One falcon engine (GSP or SEC2) driven through hal's relative registers. */
export class Falcon {
	/** The engine (GSP or SEC2) and its registers. */
	readonly engine: FalconEngine;
	/** Generation differences. */
	readonly variant: FalconVariant;
	/** The boot stage errors are reported under. */
	readonly stage: BootStage;
	readonly #bar0: Bar0;
	readonly #clock: Clock;

	constructor(options: FalconOptions) {
		this.engine = options.engine;
		this.variant = options.variant;
		this.stage = options.stage;
		this.#bar0 = options.bar0;
		this.#clock = options.clock;
	}

	/** The same falcon, reporting errors under another stage. */
	inStage(stage: BootStage): Falcon {
		return new Falcon({
			bar0: this.#bar0,
			clock: this.#clock,
			engine: this.engine,
			variant: this.variant,
			stage,
		});
	}

	get #regs() {
		return this.engine.regs;
	}

	/** Poll `read` until `done`, turning a timeout into a {@link FalconError} naming `what`. */
	async #poll<T>(
		what: string,
		read: () => T,
		done: (v: T) => boolean,
		timeoutNs: bigint,
		details: Readonly<Record<string, unknown>> = {},
	): Promise<T> {
		try {
			return await pollUntil(this.#clock, read, done, { timeoutNs, what: `${this.engine.name} ${what}` });
		} catch (e) {
			if (isGspkitError(e, 'HAL_TIMEOUT')) {
				throw new FalconError(
					this.stage,
					this.engine.name,
					`timed out waiting for ${what}`,
					'ETIMEDOUT',
					{ what, ...details, ...e.details },
					e,
				);
			}
			throw e;
		}
	}

	/** Wait for IMEM/DMEM scrubbing to finish. */
	async waitScrubbing(): Promise<void> {
		const r = this.#regs;
		if (this.variant.scrubbing === 'hwcfg2') {
			await this.#poll(
				'HWCFG2.MEM_SCRUBBING == 0',
				() => r.HWCFG2.read(this.#bar0),
				(v) => v.memScrubbingDone(),
				FALCON_TIMEOUTS.scrubbingNs,
			);
		} else {
			await this.#poll(
				'DMACTL.IMEM_SCRUBBING == 0 && DMACTL.DMEM_SCRUBBING == 0',
				() => r.DMACTL.read(this.#bar0),
				(v) => !v.get('imem_scrubbing') && !v.get('dmem_scrubbing'),
				FALCON_TIMEOUTS.scrubbingNs,
			);
		}
	}

	/**
	 * Select the core the engine boots: the falcon (for heavy-secure ucode like FWSEC and booter) or the
	 * RISC-V core (for GSP-RM). For the falcon, a change is confirmed through `BCR_CTRL.VALID` (fatal on
	 * timeout, as in nova); for RISC-V the selection is written with `BRFETCH` (as tinygrad does) and VALID
	 * is awaited but not required.
	 * @returns whether the selection was confirmed.
	 */
	async selectCore(core: 'falcon' | 'riscv'): Promise<boolean> {
		const bcr = this.#regs.RISCV_BCR_CTRL;
		if (core === 'falcon') {
			const cur = bcr.read(this.#bar0);
			if (cur.get('core_select') === 'FALCON') return true;
			bcr.write(this.#bar0, bcr.zero().with('core_select', 'FALCON'));
			await this.#poll(
				'RISCV_BCR_CTRL.VALID after selecting the falcon core',
				() => bcr.read(this.#bar0),
				(v) => v.get('valid'),
				FALCON_TIMEOUTS.coreSelectNs,
			);
			return true;
		}
		bcr.write(this.#bar0, bcr.zero().with({ core_select: 'RISCV', br_fetch: true }));
		try {
			await this.#poll(
				'RISCV_BCR_CTRL.VALID after selecting RISC-V',
				() => bcr.read(this.#bar0),
				(v) => v.get('valid'),
				FALCON_TIMEOUTS.coreSelectNs,
			);
			return true;
		} catch (e) {
			if (e instanceof FalconError) return false;
			throw e;
		}
	}

	/**
	 * Reset the engine (reference A.3): RESET_READY (GA102+, not fatal) → ENGINE.RESET pulse → scrubbing →
	 * core select → scrubbing → `RM` = `NV_PMC_BOOT_0`.
	 */
	async reset(core: 'falcon' | 'riscv' = 'falcon'): Promise<FalconResetReport> {
		const r = this.#regs;
		let resetReadyTimedOut = false;
		if (this.variant.resetReady) {
			try {
				await this.#poll(
					'HWCFG2.RESET_READY',
					() => r.HWCFG2.read(this.#bar0),
					(v) => v.get('reset_ready'),
					FALCON_TIMEOUTS.resetReadyNs,
				);
			} catch (e) {
				if (!(e instanceof FalconError)) throw e;
				resetReadyTimedOut = true;
			}
		}
		r.ENGINE.write(this.#bar0, r.ENGINE.zero().with('reset', true));
		await this.#clock.sleep(FALCON_TIMEOUTS.resetPulseNs);
		r.ENGINE.write(this.#bar0, r.ENGINE.zero().with('reset', false));
		await this.waitScrubbing();
		const confirmed = await this.selectCore(core);
		await this.waitScrubbing();
		r.RM.write(this.#bar0, NV_PMC_BOOT_0.read(this.#bar0).raw);
		return { resetReadyTimedOut, coreSelectUnconfirmed: core === 'riscv' && !confirmed };
	}

	/**
	 * DMA-load `segments` from `source` (reference A.3 "DMA load"): FBIF_CTL.ALLOW_PHYS_NO_CTX, DMACTL = 0,
	 * FBIF_TRANSCFG[ctx] = coherent sysmem / physical, then per 256-byte chunk: wait until the queue is not
	 * full, DMATRFBASE/BASE1, MOFFS = dst + pos, FBOFFS = src + pos, CMD (secure IMEM 0x614, DMEM 0x600),
	 * wait for IDLE.
	 * @param onChunk called after each chunk with the bytes transferred so far.
	 */
	async dmaLoad(
		source: DmaSource,
		segments: readonly DmaSegment[],
		onChunk?: (done: number, total: number) => void,
	): Promise<void> {
		const r = this.#regs;
		const bar = this.#bar0;
		let base: { base: number; base1: number };
		try {
			base = splitDmaBase(source.busAddress);
		} catch (e) {
			throw new FalconError(
				this.stage,
				this.engine.name,
				`DMA source ${hex(source.busAddress, 1)} cannot be used`,
				'EINVAL',
				{},
				e,
			);
		}
		for (const s of segments) {
			const len = roundUp(s.length, FALCON_DMA_CHUNK);
			if (s.srcOffset < 0 || s.srcOffset + len > source.size || s.dst < 0 || s.dst + len > 1 << 24) {
				throw new FalconError(
					this.stage,
					this.engine.name,
					`DMA segment ${s.target} ${hex(s.srcOffset, 1)}→${hex(s.dst, 1)} (+${hex(len, 1)}) does not fit the ${hex(source.size, 1)}-byte source or the 24-bit destination`,
					'EINVAL',
					{ segment: { ...s }, sourceSize: source.size },
				);
			}
			if (s.srcOffset % 4 !== 0 || s.dst % FALCON_DMA_CHUNK !== 0) {
				throw new FalconError(
					this.stage,
					this.engine.name,
					`DMA segment offsets must be aligned (src 4, dst 256): src ${hex(s.srcOffset, 1)}, dst ${hex(s.dst, 1)}`,
					'EINVAL',
					{ segment: { ...s } },
				);
			}
		}
		this.setupPhysicalDma(0);
		const total = segments.reduce((n, s) => n + roundUp(s.length, FALCON_DMA_CHUNK), 0);
		let done = 0;
		for (const s of segments) {
			const cmd = r.DMATRFCMD.zero().with({
				imem: s.target === 'imem',
				sec: s.target === 'imem' && s.secure ? 1 : 0,
				size: 'SIZE_256B',
				ctxdma: 0,
			});
			const len = roundUp(s.length, FALCON_DMA_CHUNK);
			for (let pos = 0; pos < len; pos += FALCON_DMA_CHUNK) {
				await this.#poll(
					'DMATRFCMD.FULL == 0',
					() => r.DMATRFCMD.read(bar),
					(v) => !v.get('full'),
					FALCON_TIMEOUTS.dmaNs,
				);
				r.DMATRFBASE.write(bar, base.base);
				r.DMATRFBASE1.write(bar, base.base1);
				r.DMATRFMOFFS.write(bar, s.dst + pos);
				r.DMATRFFBOFFS.write(bar, s.srcOffset + pos);
				r.DMATRFCMD.write(bar, cmd);
				await this.#poll(
					`DMATRFCMD.IDLE after the ${s.target} chunk at ${hex(s.dst + pos, 1)}`,
					() => r.DMATRFCMD.read(bar),
					(v) => v.get('idle'),
					FALCON_TIMEOUTS.dmaNs,
					{ target: s.target, dst: s.dst + pos, src: s.srcOffset + pos },
				);
				done += FALCON_DMA_CHUNK;
				onChunk?.(done, total);
			}
		}
	}

	/**
	 * Let the falcon DMA to physical system memory without a context (reference A.3 step 1):
	 * `FBIF_CTL.ALLOW_PHYS_NO_CTX = 1`, `DMACTL = 0`, `FBIF_TRANSCFG[ctx]` = coherent sysmem, physical.
	 */
	setupPhysicalDma(ctx: number): void {
		const r = this.#regs;
		const bar = this.#bar0;
		r.FBIF_CTL.update(bar, (v) => v.with('allow_phys_no_ctx', true));
		r.DMACTL.write(bar, 0);
		r.FBIF_TRANSCFG.write(
			bar,
			ctx,
			r.FBIF_TRANSCFG.at(ctx).zero().with({ target: 'COHERENT_SYSMEM', mem_type: 'PHYSICAL' }),
		);
	}

	/**
	 * PIO-write `bytes` into IMEM at `dst` (256-byte aligned) through port `port` (reference A.3 "PIO load"):
	 * IMEMC = address | AINCW (| SECURE), then per 256-byte block IMEMT = tag + n followed by the block's
	 * words. The last block is zero-padded.
	 */
	pioWriteImem(
		dst: number,
		bytes: Uint8Array,
		options: { tag: number; secure?: boolean; port?: number },
	): void {
		const r = this.#regs;
		const bar = this.#bar0;
		const port = options.port ?? 0;
		if (dst % FALCON_BLOCK_SIZE !== 0) {
			throw new FalconError(
				this.stage,
				this.engine.name,
				`IMEM PIO destination ${hex(dst, 1)} is not 256-byte aligned`,
				'EINVAL',
				{ dst },
			);
		}
		r.IMEMC.write(
			bar,
			port,
			r.IMEMC.at(port)
				.zero()
				.with({
					offs: 0,
					blk: dst / FALCON_BLOCK_SIZE,
					aincw: true,
					secure: options.secure === true,
				}),
		);
		const blocks = Math.ceil(bytes.length / FALCON_BLOCK_SIZE);
		for (let b = 0; b < blocks; b++) {
			r.IMEMT.write(
				bar,
				port,
				r.IMEMT.at(port)
					.zero()
					.with('tag', (options.tag + b) & 0xffff),
			);
			for (let w = 0; w < FALCON_BLOCK_SIZE; w += 4)
				r.IMEMD.write(bar, port, wordAt(bytes, b * FALCON_BLOCK_SIZE + w));
		}
	}

	/** PIO-write `bytes` into DMEM at `dst` (4-byte aligned) through port `port`: DMEMC = address | AINCW, then words. */
	pioWriteDmem(dst: number, bytes: Uint8Array, port = 0): void {
		const r = this.#regs;
		const bar = this.#bar0;
		if (dst % 4 !== 0) {
			throw new FalconError(
				this.stage,
				this.engine.name,
				`DMEM PIO destination ${hex(dst, 1)} is not 4-byte aligned`,
				'EINVAL',
				{ dst },
			);
		}
		r.DMEMC.write(
			bar,
			port,
			r.DMEMC.at(port)
				.zero()
				.with({ offs: (dst % FALCON_BLOCK_SIZE) / 4, blk: Math.floor(dst / FALCON_BLOCK_SIZE), aincw: true }),
		);
		for (let w = 0; w < bytes.length; w += 4) r.DMEMD.write(bar, port, wordAt(bytes, w));
	}

	/** Program the boot ROM inputs of a heavy-secure ucode (reference A.3 step 3). */
	programBrom(p: BromParams): void {
		const r = this.#regs;
		const bar = this.#bar0;
		r.BROM_PARAADDR.write(bar, p.pkcDataOffset >>> 0);
		r.BROM_ENGIDMASK.write(bar, p.engineIdMask >>> 0);
		r.BROM_CURR_UCODE_ID.write(bar, r.BROM_CURR_UCODE_ID.zero().with('ucode_id', p.ucodeId & 0xff));
		r.MOD_SEL.write(bar, r.MOD_SEL.zero().with('algo', p.algorithm));
	}

	/** Set the IMEM address the core starts at. */
	setBootVector(address: number): void {
		this.#regs.BOOTVEC.write(this.#bar0, address >>> 0);
	}

	/** Write the mailboxes (each one only when given). */
	writeMailboxes(mailbox0?: number, mailbox1?: number): void {
		if (mailbox0 !== undefined) this.#regs.MAILBOX0.write(this.#bar0, mailbox0 >>> 0);
		if (mailbox1 !== undefined) this.#regs.MAILBOX1.write(this.#bar0, mailbox1 >>> 0);
	}

	/** Read both mailboxes. */
	readMailboxes(): { mailbox0: number; mailbox1: number } {
		return {
			mailbox0: this.#regs.MAILBOX0.read(this.#bar0).raw,
			mailbox1: this.#regs.MAILBOX1.read(this.#bar0).raw,
		};
	}

	/** Start the CPU: through `CPUCTL_ALIAS` when `CPUCTL.ALIAS_EN` is set, else `CPUCTL.STARTCPU`. */
	start(): void {
		const r = this.#regs;
		if (r.CPUCTL.read(this.#bar0).get('alias_en')) {
			r.CPUCTL_ALIAS.write(this.#bar0, r.CPUCTL_ALIAS.zero().with('startcpu', true));
		} else {
			r.CPUCTL.write(this.#bar0, r.CPUCTL.zero().with('startcpu', true));
		}
	}

	/** Wait for `CPUCTL.HALTED` (2 s by default). */
	async waitHalted(timeoutNs: bigint = FALCON_TIMEOUTS.haltNs): Promise<void> {
		const r = this.#regs;
		try {
			await this.#poll(
				'CPUCTL.HALTED',
				() => r.CPUCTL.read(this.#bar0),
				(v) => v.get('halted'),
				timeoutNs,
			);
		} catch (e) {
			if (!(e instanceof FalconError)) throw e;
			const m = this.readMailboxes();
			throw new FalconError(
				this.stage,
				this.engine.name,
				`the core did not halt within ${timeoutNs / MS} ms (MAILBOX0=${hex(m.mailbox0)}, MAILBOX1=${hex(m.mailbox1)})`,
				'ETIMEDOUT',
				{ ...e.details, mailbox0: hex(m.mailbox0), mailbox1: hex(m.mailbox1) },
				e,
			);
		}
	}

	/**
	 * Run loaded ucode (reference A.3 "Run"): write the mailboxes, start, wait for halt, read the mailboxes.
	 */
	async boot(mailbox0?: number, mailbox1?: number): Promise<{ mailbox0: number; mailbox1: number }> {
		this.writeMailboxes(mailbox0, mailbox1);
		this.start();
		await this.waitHalted();
		return this.readMailboxes();
	}

	/** Whether the engine's RISC-V core is running. */
	riscvActive(): boolean {
		const r = this.#regs;
		return this.variant.riscvStatus === 'riscv-cpuctl'
			? r.RISCV_CPUCTL.read(this.#bar0).get('active_stat')
			: r.RISCV_CORE_SWITCH_RISCV_STATUS.read(this.#bar0).get('active_stat');
	}
}

function wordAt(bytes: Uint8Array, at: number): number {
	let v = 0;
	for (let i = 3; i >= 0; i--) v = (v << 8) | (bytes[at + i] ?? 0);
	return v >>> 0;
}
