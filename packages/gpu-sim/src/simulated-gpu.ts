/**
 * The simulated GPU: a {@link Platform} assembled from the register file, PCI configuration space, DMA
 * pool, sparse VRAM with its BAR windows, and interrupt lines.
 *
 * @module
 */

import {
	type Architecture,
	type Bar0,
	type Clock,
	type InterruptLine,
	InvalidArgumentError,
	type PciIdentity,
	type Platform,
	VirtualClock,
} from '@gspkit/hal';
import { DEFAULT_SIM_CHIP, type SimChipName, type SimChipSpec, simChipSpec } from './chips.ts';
import { DEFAULT_DMA_POOL_SIZE, DmaPool } from './dma.ts';
import { type EngineTiming, HostEngine, simulatedGpuMemory } from './engines/index.ts';
import { DmaFaultError, SimulatorClosedError } from './errors.ts';
import { type BootHardware, createBootHardware } from './falcon/boot-hardware.ts';
import {
	GSP_UNLOAD_DONE_BIT,
	type GspChannelEvent,
	type GspRmMode,
	isGspRmFirmwareVersion,
	SimulatedGspRm,
} from './gsp-rm/index.ts';
import { defineIdentityRegisters } from './identity.ts';
import { SIM_IRQ_NAMES, SimInterruptLine, type SimIrqName } from './irq.ts';
import { checkMmioAccess, RegisterFile } from './mmio.ts';
import { GpuMmu, mmuOptionsForArchitecture, type PhysicalMemory } from './mmu/index.ts';
import { buildConfigSpace, PCI, type PciConfigModel, type SimBar, simBars } from './pci-config.ts';
import { SimVramWindow, SparseVram } from './vram.ts';

/** Options for {@link createSimulatedGpu}. */
export interface SimulatedGpuOptions {
	/** Board to model (any case); default `'ga102'`. See `SIM_CHIPS` for the choices. */
	readonly chip?: SimChipName | (string & {});
	/** VRAM size in bytes, a positive whole number of MiB; default the board's (24 GiB on GA102). */
	readonly vramSize?: bigint;
	/** DMA pool size in bytes (multiple of 4096); default 512 MiB, committed by the OS only when touched. */
	readonly dmaPoolSize?: number;
	/** Platform clock; default a fresh hal `VirtualClock`, so simulated timeouts never take wall-clock time. */
	readonly clock?: Clock;
	/** PCI address reported in {@link Platform.pci}; default `"0000:01:00.0"`. */
	readonly pciAddress?: string;
	/**
	 * Where the GSP-RM emulator runs: `'worker'` (a separate thread sharing only DMA memory, the doorbell and
	 * the interrupt), `'clock'` (stepped on the virtual clock in the caller's thread) or `'manual'`. Default
	 * `'clock'` with a virtual clock, `'worker'` with a real one.
	 */
	readonly gspRmMode?: GspRmMode;
	/** Host/copy engine timing (doorbell latency, timeslice, real-clock retry period). */
	readonly engineTiming?: EngineTiming;
	/**
	 * What an engine write to a sparse page does: `'fault'` (default, so driver bugs surface) or `'drop'`
	 * (what the hardware does).
	 */
	readonly sparseWrites?: 'fault' | 'drop';
}

/**
 * A simulated NVIDIA GPU. The {@link Platform} members are the driver's view; the other members are the
 * hardware side that device models and tests use (attach MMIO devices, raise interrupts, access DMA
 * memory as the device).
 */
export class SimulatedGpu implements Platform {
	readonly description: string;
	readonly pci: PciIdentity;
	readonly bar0: Bar0;
	readonly config: PciConfigModel;
	readonly dma: DmaPool;
	readonly vram: { readonly bar1: SimVramWindow; readonly bar2: SimVramWindow };
	readonly clock: Clock;

	/** The board being modelled. */
	readonly chip: SimChipSpec;
	/** VRAM size in bytes. */
	readonly vramSize: bigint;
	/** BARs as decoded at reset (index, size, 64-bit, prefetchable, assigned address). */
	readonly bars: readonly SimBar[];
	/** The BAR0 register file: attach device models here. */
	readonly registers: RegisterFile;
	/** The VRAM backing store, addressed by physical VRAM offset. */
	readonly fb: SparseVram;
	/** The MMU every engine translates through; its invalidate registers are mounted in BAR0. */
	readonly mmu: GpuMmu;
	/** The host (PBDMA) engine and its copy engine; the usermode windows (doorbell) are mounted in BAR0. */
	readonly host: HostEngine;
	/** Falcons (GSP, SEC2), VBIOS/PROM, WPR2/scratch/fuse registers and the firmware models. */
	readonly boot: BootHardware;
	/** The GSP-RM emulator: the firmware side of the message queues, started when booter starts the GSP. */
	readonly gspRm: SimulatedGspRm;

	#irqs: Map<SimIrqName, SimInterruptLine>;
	#closed = false;
	/** Channels GSP-RM registered with the host engine: runlist → CHIDs. */
	readonly #rmChannels = new Map<number, Set<number>>();

	constructor(options: SimulatedGpuOptions = {}) {
		this.chip = simChipSpec(options.chip ?? DEFAULT_SIM_CHIP);
		const vramSize = options.vramSize ?? this.chip.vramSize;
		if (
			typeof vramSize !== 'bigint' ||
			vramSize <= 0n ||
			vramSize % (1n << 20n) !== 0n ||
			vramSize >> 52n !== 0n
		) {
			throw new InvalidArgumentError(`vramSize ${String(vramSize)} must be a positive whole number of MiB`, {
				vramSize: String(vramSize),
			});
		}
		this.vramSize = vramSize;
		this.clock = options.clock ?? new VirtualClock();
		this.description = `gpu-sim ${this.chip.name} (${this.chip.product})`;
		this.pci = Object.freeze({
			vendorId: 0x10de,
			deviceId: this.chip.deviceId,
			subsystemVendorId: this.chip.subsystemVendorId,
			subsystemId: this.chip.subsystemId,
			revision: (this.chip.revision.major << 4) | this.chip.revision.minor,
			address: options.pciAddress ?? '0000:01:00.0',
		});
		this.bars = simBars(this.chip);

		this.registers = new RegisterFile();
		defineIdentityRegisters(this.registers, this.chip, vramSize);
		this.config = buildConfigSpace(this.chip, { onFunctionLevelReset: () => this.#functionLevelReset() });
		this.dma = new DmaPool({ size: options.dmaPoolSize ?? DEFAULT_DMA_POOL_SIZE });
		this.fb = new SparseVram(vramSize);

		const decoding = () => this.#memoryDecode();
		const bar = (index: number) => this.bars.find((b) => b.index === index)!.size;
		this.vram = Object.freeze({
			bar1: new SimVramWindow(this.fb, { name: 'BAR1', size: bar(1), decoding }),
			bar2: new SimVramWindow(this.fb, { name: 'BAR2', size: bar(3), decoding }),
		});

		const regs = this.registers;
		this.bar0 = Object.freeze({
			size: regs.size,
			read32: (offset: number): number => {
				this.#checkOpen('BAR0 read');
				checkMmioAccess(offset, 'read');
				// With memory decoding off the access never reaches the GPU: the root port answers all-ones.
				return this.#memoryDecode() ? regs.read32(offset) : 0xffff_ffff;
			},
			write32: (offset: number, value: number): void => {
				this.#checkOpen('BAR0 write');
				checkMmioAccess(offset, 'write');
				if (this.#memoryDecode()) regs.write32(offset, value);
			},
		});

		this.mmu = new GpuMmu({
			...mmuOptionsForArchitecture(architectureName(this.chip.architecture)),
			memory: this.#physicalMemory(),
		});
		for (const device of this.mmu.registers.devices) this.registers.attach(device);
		this.host = new HostEngine({
			mmu: this.mmu,
			memory: simulatedGpuMemory(this),
			clock: this.clock,
			interrupts: { raise: (line) => this.raise(line) },
			architecture: architectureName(this.chip.architecture),
			...(options.engineTiming === undefined ? {} : { timing: options.engineTiming }),
			...(options.sparseWrites === undefined ? {} : { sparseWrites: options.sparseWrites }),
		});
		for (const device of this.host.devices) this.registers.attach(device);

		this.#irqs = new Map(SIM_IRQ_NAMES.map((name) => [name, new SimInterruptLine(name, this.clock)]));

		this.boot = createBootHardware({
			chip: this.chip,
			clock: this.clock,
			dmaRead: (address, length) => this.dmaRead(address, length),
			dmaWrite: (address, bytes) => this.dmaWrite(address, bytes),
			// Zero-copy reads of shared DMA memory for the firmware models that hash whole images.
			dmaView: (address, length) => {
				this.#checkBusMaster(address, length, 'read');
				return this.dma.deviceView(address, length, 'read');
			},
			fb: this.fb,
			onInterrupt: {
				gsp: () => {
					if (!this.closed) this.raise('gsp');
				},
			},
		});
		this.boot.mount(this.registers);

		this.gspRm = new SimulatedGspRm({
			chip: this.chip,
			vramSize,
			dma: this.dma,
			irq: this.interrupt('gsp'),
			clock: this.clock,
			...(options.gspRmMode === undefined ? {} : { mode: options.gspRmMode }),
			busMaster: () => (this.config.read16(PCI.COMMAND) & PCI.COMMAND_BUS_MASTER) !== 0,
			onInterrupt: () => this.boot.gsp.raiseIrq(1 << 6), // IRQSTAT.SWGEN0
			onUnload: () => this.boot.gsp.setMailbox(0, (this.boot.gsp.mailboxes[0] | GSP_UNLOAD_DONE_BIT) >>> 0),
			channels: (event) => this.#applyChannelEvent(event),
		});
		// RM owns the runlists: its channels reach the host engine through channel events; a doorbell first applies
		// the events a GSP worker still has in flight, and engine errors go back to RM as RC events.
		this.host.setDoorbellSync(() => this.gspRm.syncChannels());
		this.host.addErrorListener((report) => this.gspRm.channelError(report));
		this.boot.gsp.delegateQueueRegisters(this.gspRm.queueRegisters);
		// GSP-RM takes over once the CPU wrote the verified bootloader's app_version to the GSP OS register.
		this.boot.onGspHandoff((info) => {
			const version = info.firmware.version;
			if (!isGspRmFirmwareVersion(version)) return; // an unknown firmware leaves the GSP silent
			if (this.gspRm.phase !== 'off') this.gspRm.reset();
			this.gspRm.start({
				libosArgs: info.libosArgsAddress,
				firmwareVersion: version,
				wprMeta: info.wprMetaAddress,
			});
		});
		this.boot.onGspStop(() => this.gspRm.reset());
	}

	/** Whether {@link SimulatedGpu.close} has been called. */
	get closed(): boolean {
		return this.#closed;
	}

	/**
	 * The driver's view of an interrupt line.
	 * @throws InvalidArgumentError for a name other than `'gsp'`, `'nonstall'` or `'stall'`.
	 */
	irq(name: string): InterruptLine {
		return this.interrupt(name);
	}

	/** The simulator's view of an interrupt line (it can {@link SimInterruptLine.raise} it). */
	interrupt(name: string): SimInterruptLine {
		this.#checkOpen(`interrupt ${name}`);
		const line = this.#irqs.get(name as SimIrqName);
		if (line === undefined) {
			throw new InvalidArgumentError(
				`no interrupt line ${JSON.stringify(name)}; lines: ${SIM_IRQ_NAMES.join(', ')}`,
				{
					name,
					known: [...SIM_IRQ_NAMES],
				},
			);
		}
		return line;
	}

	/** Device side: assert interrupt line `name`. */
	raise(name: SimIrqName): void {
		this.interrupt(name).raise();
	}

	/**
	 * Device side: read `length` bytes of system memory at `busAddress`.
	 * @throws DmaFaultError if bus mastering is disabled (PCI COMMAND bit 2) or no live allocation covers
	 *   the range.
	 */
	dmaRead(busAddress: bigint, length: number): Uint8Array {
		this.#checkBusMaster(busAddress, length, 'read');
		return this.dma.deviceRead(busAddress, length);
	}

	/** Device side: write `bytes` to system memory at `busAddress`. @throws DmaFaultError like {@link SimulatedGpu.dmaRead}. */
	dmaWrite(busAddress: bigint, bytes: Uint8Array): void {
		this.#checkBusMaster(busAddress, bytes.length, 'write');
		this.dma.deviceWrite(busAddress, bytes);
	}

	/** Release everything: DMA memory, VRAM pages, interrupt waiters (they resolve `false`). Idempotent. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.host.close();
		// The emulator's worker reads DMA memory: stop it before the pool goes away.
		await this.gspRm.close();
		for (const line of this.#irqs.values()) line.close();
		this.dma.close();
		this.fb.close();
		this.config.close();
	}

	/**
	 * PCIe function-level reset (Device Control bit 15; the configuration space already reset itself): every
	 * BAR0 register back to its reset value, both falcons reset (WPR2 down, the GSP core stopped) and GSP-RM
	 * forgotten (its channels leave the host engine). VRAM contents and DMA memory are untouched.
	 */
	#functionLevelReset(): void {
		if (this.#closed) return;
		this.registers.resetRegisters();
		this.boot.functionLevelReset();
		if (this.gspRm.phase !== 'off') this.gspRm.reset();
	}

	/** Apply one of GSP-RM's channel changes to the host engine. */
	#applyChannelEvent(e: GspChannelEvent): void {
		if (this.#closed) return;
		const rm = this.#rmChannels;
		const has = (runlist: number, chid: number) => rm.get(runlist)?.has(chid) === true;
		try {
			switch (e.type) {
				case 'register': {
					const r = e.registration;
					this.host.registerChannel(r);
					const set = rm.get(r.runlistId) ?? new Set<number>();
					set.add(r.chid);
					rm.set(r.runlistId, set);
					break;
				}
				case 'unregister':
					if (!has(e.runlistId, e.chid)) break;
					rm.get(e.runlistId)!.delete(e.chid);
					this.host.unregisterChannel(e.chid, e.runlistId);
					break;
				case 'enable':
					if (has(e.runlistId, e.chid)) this.host.setChannelEnabled(e.chid, e.enabled, e.runlistId);
					break;
				case 'engine-class':
					if (has(e.runlistId, e.chid)) this.host.setEngineClass(e.chid, e.classId, e.runlistId);
					break;
				case 'reset':
					for (const [runlist, chids] of rm) {
						for (const chid of chids) this.host.unregisterChannel(chid, runlist);
					}
					rm.clear();
					break;
			}
		} catch (err) {
			// The host refused (a CHID a test registered by hand, a class this chip's engine lacks): the channel
			// exists in RM only and its doorbells are ignored.
			console.warn(
				`gpu-sim: GSP-RM channel ${e.type} not applied to the host engine: ${(err as Error).message}`,
			);
		}
	}

	/** Page-table reads by the MMU: VRAM by physical offset, system memory by bus address (device DMA). */
	#physicalMemory(): PhysicalMemory {
		const word = new Uint8Array(8);
		const view = new DataView(word.buffer);
		return {
			readU64: (aperture, pa) => {
				if (aperture === 'video') this.fb.read(pa, word);
				else word.set(this.dmaRead(pa, 8));
				return view.getBigUint64(0, true);
			},
		};
	}

	#checkOpen(what: string): void {
		if (this.#closed) throw new SimulatorClosedError(what);
	}

	#memoryDecode(): boolean {
		return (this.config.read16(PCI.COMMAND) & PCI.COMMAND_MEMORY) !== 0;
	}

	#checkBusMaster(busAddress: bigint, length: number, access: 'read' | 'write'): void {
		this.#checkOpen(`DMA ${access}`);
		if ((this.config.read16(PCI.COMMAND) & PCI.COMMAND_BUS_MASTER) === 0) {
			throw new DmaFaultError(busAddress, length, access, 'bus mastering is disabled (PCI COMMAND bit 2)');
		}
	}
}

/** `NV_PMC_BOOT_42.architecture` code → architecture name, as the MMU and engines need it. */
function architectureName(code: number): Architecture {
	const names: Record<number, Architecture> = {
		22: 'turing',
		23: 'ampere',
		24: 'hopper',
		25: 'ada',
		26: 'blackwell',
		27: 'blackwell',
	};
	const name = names[code];
	if (name === undefined)
		throw new InvalidArgumentError(`no MMU model for architecture 0x${code.toString(16)}`, { code });
	return name;
}

/** Create a simulated GPU (GA102 unless `options.chip` names another board). */
export function createSimulatedGpu(options: SimulatedGpuOptions = {}): SimulatedGpu {
	return new SimulatedGpu(options);
}
