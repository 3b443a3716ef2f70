/**
 * The version-neutral device: `openDevice(platform, options)` runs **probe → boot → ready** and returns a
 * {@link Device} that hands out memory, VA spaces and channels. Nothing of a firmware ABI crosses this API;
 * the ABI packages are handed in by the application and chosen here.
 *
 * Bring-up (each step timed and reported through `onProgress`):
 * 1. `probe` — PCI identity, chip, BARs, usable VRAM ({@link probe});
 * 2. `firmware-select` — the newest firmware branch whose files are present (falcon-boot's locator, or the
 *    app's in-memory files) and its ABI (`@gspkit/abi`'s `selectAbiAsync`); an override forces a branch;
 * 3. the boot stages of falcon-boot's `bootGsp`, whose `beforeGspStart` hook is where the RPC layer places the
 *    shared queues: RMARGS gets the message-queue arguments; GSP_SET_SYSTEM_INFO and SET_REGISTRY are queued;
 * 4. `rpc-link` — the status queue GSP-RM wrote; `gsp-init` — RUN_CPU_SEQUENCER programs run (through a
 *    falcon-boot `Falcon` for the core operations) until GSP_INIT_DONE;
 * 5. `static-info` — GET_GSP_STATIC_INFO decoded by the ABI (FB regions, internal handles);
 *    `gr-topology` — GPCs/TPCs via the ABI's `gr.queryTopology` (static info in r535, GR controls in r570);
 * 6. `rm-objects` — root client, device, subdevice (gsp-rpc's handle allocator, nouveau's handle bases);
 *    `intr-table` — NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE when the ABI has it; `engines` — the FIFO
 *    device-info table.
 *
 * Recovery: {@link Device.reset} unloads RM (UNLOADING_GUEST_DRIVER, then GSP MAILBOX0 bit 31), resets the GSP
 * falcon, runs booter_unload (WPR2 down), boots again and rebuilds the object tree, re-promoting VA spaces; it
 * says so through `on('reset', …)` and `on('log', …)`. A hung GSP makes RPCs fail with gsp-rpc's typed errors
 * (`RPC_TIMEOUT`, then `RPC_DEAD`) and the device becomes `lost` until reset.
 *
 * @module
 */

import type { FirmwareAbi } from '@gspkit/abi';
import {
	type ChannelMemoryProvider,
	createChannelScheduler,
	createRmChannel,
	type RmChannel,
	vramChannelMemory,
} from '@gspkit/channel-sched';
import { type BootProgress, type BootResult, type BootStage, bootGsp } from '@gspkit/falcon-boot';
import { type RegistryValue, RpcEngine, type RpcEvent, rpcAbiFromFirmwareAbi } from '@gspkit/gsp-rpc';
import {
	type Chip,
	type Clock,
	GspkitError,
	hex,
	MS,
	type Platform,
	pollUntil,
	readWpr2,
	SEC,
} from '@gspkit/hal';
import { type CoreAbiView, coreAbiView, type StaticInfoView } from './abi-view.ts';
import { type ChannelRequest, DeviceChannel, kernelVaSpaceView } from './channel.ts';
import { ChannelKilledError, CoreError } from './errors.ts';
import {
	type AbiCompatMap,
	type FirmwareChoice,
	type FirmwareSource,
	type ResolvedFirmware,
	resolveFirmware,
} from './firmware.ts';
import { chipFalcons, type GspResumeInfo, gspFalconControl, runBooterUnload } from './gsp-falcon.ts';
import { DeviceMemory, type MemoryRequest } from './memory.ts';
import type { BarInfo } from './pci.ts';
import { type DeviceDescription, type PciDescription, probe } from './probe.ts';
import { describeRc } from './rc.ts';
import { DeviceVaSpace, type VaSpacePromotion, type VaSpaceRequest } from './vaspace.ts';
import { externalVaSpaceAbi } from './vaspace-rm.ts';
import { type FbRegionInfo, usableVramRanges, VramAllocator, type VramStats } from './vram.ts';

/** Core's own bring-up stages (falcon-boot's stages run between `firmware-select` and `rpc-link`). */
export const CORE_STAGES = [
	'probe',
	'firmware-select',
	'rpc-link',
	'gsp-init',
	'static-info',
	'gr-topology',
	'rm-objects',
	'intr-table',
	'engines',
	'vaspace-restore',
	'ready',
] as const;

/** A bring-up stage: one of core's, one of falcon-boot's boot stages, or `unload` (the shutdown a reset starts with). */
export type DeviceStage = (typeof CORE_STAGES)[number] | Exclude<BootStage, 'done'> | 'unload';

/** A progress report. */
export interface DeviceProgress {
	/** `open` for the first bring-up, `reset` for a re-boot. */
	readonly phase: 'open' | 'reset';
	readonly stage: DeviceStage;
	readonly detail: string;
	/** Bytes done and total while large files load and the GSP image is copied. */
	readonly bytesDone?: number;
	readonly bytesTotal?: number;
	/** Nanoseconds since the bring-up began (real time). */
	readonly elapsedNs: bigint;
}

/** One stage's duration (real time). */
export interface StageTiming {
	readonly stage: DeviceStage;
	readonly durationNs: bigint;
}

/** Options of {@link openDevice}. */
export interface OpenDeviceOptions {
	/** The firmware ABI packages the app ships (`[r570.abi, r535.abi]`). */
	readonly abis: readonly FirmwareAbi[];
	/** Where the firmware comes from (default: falcon-boot's search order). */
	readonly firmware?: FirmwareSource;
	/** Force a branch: `'535'`, `'r570'`, `'570.144'` (or a compat alias, `'570.144.02'`). No fallback. */
	readonly abiOverride?: string;
	/** Point releases that speak a known ABI: firmware version → ABI version (`{ '570.144.02': '570.144' }`). */
	readonly abiCompat?: AbiCompatMap;
	/** Progress of the bring-up (and of resets). */
	readonly onProgress?: (progress: DeviceProgress) => void;
	/** Extra SET_REGISTRY keys (merged over nouveau's defaults). */
	readonly registry?: Readonly<Record<string, RegistryValue>>;
	/** RPC reply timeout on the platform clock (default 10 s). A timeout means a hung GSP. */
	readonly callTimeoutNs?: bigint;
	/** How long to wait for GSP_INIT_DONE (default 10 s). */
	readonly initTimeoutNs?: bigint;
	/** Default job timeout of channels (default 10 s). */
	readonly jobTimeoutNs?: bigint;
	/** Environment for the firmware locator (default `process.env`). */
	readonly env?: Readonly<Record<string, string | undefined>>;
	/** Real-time clock for timings (default `process.hrtime.bigint`). */
	readonly now?: () => bigint;
}

/** An engine the GPU has (from the FIFO device-info table). */
export interface EngineInfo {
	/** RM's engine name (`'CE0'`, `'GR0'`). */
	readonly name: string;
	/** Kind (`'gr'`, `'ce'`, `'nvdec'`, …) if the ABI knows the engine type. */
	readonly kind: string | undefined;
	readonly instance: number | undefined;
	/** Runlist, if the table says. */
	readonly runlist: number | undefined;
}

/** An interrupt-table entry (neutral). */
export interface InterruptRoute {
	readonly engine: string | undefined;
	readonly vectorStall: number | undefined;
	readonly vectorNonStall: number | undefined;
}

/** What the device is, after bring-up. No firmware-ABI type appears here. */
export interface DeviceInfo {
	readonly platform: string;
	readonly chip: {
		readonly name: string;
		readonly architecture: string;
		readonly chipset: number;
		readonly revision: string;
	};
	readonly pci: PciDescription;
	readonly bars: readonly BarInfo[];
	/** The firmware booted and the ABI spoken. */
	readonly firmware: FirmwareChoice;
	/** The product name GSP-RM reports. */
	readonly gpuName: string;
	readonly vram: {
		/** VRAM the GPU has (static info `fbLength`). */
		readonly total: bigint;
		/** What the driver may allocate (FB regions RM left free). */
		readonly usable: bigint;
		/** Reserved by RM and the firmware (`total - usable`). */
		readonly reserved: bigint;
		readonly regions: readonly (FbRegionInfo & { readonly performance: number })[];
	};
	readonly gr: {
		readonly gpcCount: number;
		readonly tpcCount: number;
		readonly gpcMask: number;
		/** TPC mask per GPC (present GPCs only, in GPC order). */
		readonly tpcMasks: readonly number[];
		/** `'static-info'` (r535) or `'controls'` (r570): how the ABI obtained it. */
		readonly source: string;
	};
	readonly l2CacheSize: number;
	readonly engines: readonly EngineInfo[];
	/** The kernel interrupt table, if the ABI could ask for it. */
	readonly interrupts: readonly InterruptRoute[] | undefined;
	/** Page-table format: MMU v2 (49-bit VA) or v3 (57-bit). */
	readonly mmu: { readonly format: string; readonly vaBits: number };
}

/** Device life cycle (`opening` only inside {@link openDevice}). */
export type DeviceState = 'opening' | 'ready' | 'resetting' | 'lost' | 'closed';

/** Events a device emits. */
export interface DeviceEvents {
	/** Something worth a log line. */
	log: { readonly level: 'debug' | 'info' | 'warn'; readonly message: string };
	/** A reset began, finished or failed. */
	reset: {
		readonly phase: 'begin' | 'done' | 'failed';
		readonly reason: string;
		readonly channelsLost?: number;
		readonly vaSpacesRestored?: number;
		readonly durationNs?: bigint;
		readonly error?: unknown;
	};
	/** A channel was killed (RC error, device lost). */
	'channel-killed': { readonly channel: DeviceChannel; readonly error: Error };
	/** GSP-RM queued an MMU fault (MMU_FAULT_QUEUED). */
	'mmu-fault': { readonly timeNs: bigint };
	/** The RPC transport died (hung GSP, protocol error): the device is lost until reset. */
	lost: { readonly error: unknown };
}

/** Device counters. */
export interface DeviceStats {
	readonly vram: VramStats;
	/** Live system-memory objects and their bytes. */
	readonly sysmem: { readonly objects: number; readonly bytes: bigint };
	readonly vaSpaces: number;
	readonly channels: number;
	readonly resets: number;
	readonly rcErrors: number;
	readonly mmuFaults: number;
	readonly rpc: { readonly calls: number; readonly events: number; readonly timeouts: number };
}

const NS = (a: bigint, b: bigint) => (b > a ? b - a : 0n);
const defaultNow = () => process.hrtime.bigint();
/** GSP MAILBOX0 bit 31: GSP-RM finished unloading (nouveau `r535_gsp_fini`). */
const GSP_UNLOAD_DONE = 0x8000_0000;

interface RmHandles {
	readonly client: number;
	readonly device: number;
	readonly subdevice: number;
}

/**
 * Open the GPU behind `platform`: probe, select the firmware and ABI, boot GSP-RM, initialise RPC, build the RM
 * object tree.
 * @throws ProbeError / UnsupportedChipError (probe), AbiSelectionError `ABI_NOT_FOUND` (no firmware — its
 *   message lists every file and directory looked at), CoreError `CORE_ABI_UNSUPPORTED`, falcon-boot's
 *   `BootError`s, gsp-rpc's `RpcError`s, CoreError `CORE_INIT_FAILED` (wrapping what failed after boot).
 */
export async function openDevice(platform: Platform, options: OpenDeviceOptions): Promise<Device> {
	const now = options.now ?? defaultNow;
	const t0 = now();
	const timings: StageTiming[] = [];
	let stage: DeviceStage = 'probe';
	let stageStart = t0;
	const progress = (detail: string, extra: { bytesDone?: number; bytesTotal?: number } = {}) =>
		options.onProgress?.({ phase: 'open', stage, detail, ...extra, elapsedNs: now() - t0 });
	const enter = (s: DeviceStage, detail: string) => {
		const t = now();
		timings.push({ stage, durationNs: NS(stageStart, t) });
		stage = s;
		stageStart = t;
		progress(detail);
	};
	progress('probing the PCI function');
	const description = await probe(platform);
	const chipName = description.chip.name.toLowerCase();
	enter('firmware-select', `choosing firmware for ${description.chip.name}`);
	const firmware = await resolveFirmware(
		chipName,
		options.abis,
		options.firmware,
		options.abiOverride,
		options.env,
		options.abiCompat,
	);
	progress(
		`GSP-RM ${firmware.choice.version} (${firmware.choice.branch}) from ${firmware.choice.source === 'files' ? 'files' : (firmware.choice.label ?? 'memory')}`,
	);
	timings.push({ stage, durationNs: NS(stageStart, now()) });
	const device = new Device(platform, description, firmware, options);
	try {
		await device._bringUp('open', t0, timings);
	} catch (e) {
		await device._abandon();
		throw e;
	}
	return device;
}

type Listener<K extends keyof DeviceEvents> = (event: DeviceEvents[K]) => void;

/** An open GPU. Create with {@link openDevice}. */
export class Device {
	/** The platform the device runs on. */
	readonly platform: Platform;
	/** What probe found. */
	readonly description: DeviceDescription;
	/** The chip (hal). */
	readonly chip: Chip;
	readonly #firmware: ResolvedFirmware;
	readonly #view: CoreAbiView;
	readonly #options: OpenDeviceOptions;
	readonly #now: () => bigint;
	readonly #rpc: RpcEngine;
	#boot: BootResult | undefined;
	#info: DeviceInfo | undefined;
	#handles: RmHandles | undefined;
	#vram: VramAllocator | undefined;
	#state: DeviceState = 'opening';
	#timings: readonly StageTiming[] = [];
	readonly #memories = new Set<DeviceMemory>();
	readonly #vaSpaces = new Set<DeviceVaSpace>();
	readonly #channels = new Set<DeviceChannel>();
	readonly #listeners = new Map<keyof DeviceEvents, Set<(e: never) => void>>();
	#resetting: Promise<void> | undefined;
	#serviceRunning = false;
	#resets = 0;
	#rcErrors = 0;
	#mmuFaults = 0;
	#lastMmuFault: bigint | undefined;

	/** @internal use {@link openDevice}. */
	constructor(
		platform: Platform,
		description: DeviceDescription,
		firmware: ResolvedFirmware,
		options: OpenDeviceOptions,
	) {
		this.platform = platform;
		this.description = description;
		this.chip = description.chip;
		this.#firmware = firmware;
		this.#options = options;
		this.#now = options.now ?? defaultNow;
		this.#view = coreAbiView(firmware.abi);
		this.#rpc = new RpcEngine({
			platform,
			abi: rpcAbiFromFirmwareAbi(firmware.abi),
			falcon: gspFalconControl(platform, this.chip, () => this.#resumeInfo()),
			...(options.callTimeoutNs === undefined ? {} : { callTimeoutNs: options.callTimeoutNs }),
			onUnhandled: (e) =>
				this.#emit('log', {
					level: 'debug',
					message: `GSP event ${e.name ?? hex(e.function)} (${e.payload.length} bytes)`,
				}),
		});
		this.#rpc.on('RC_TRIGGERED', (e) => this.#onRc(e));
		this.#rpc.on('MMU_FAULT_QUEUED', () => {
			this.#mmuFaults++;
			this.#lastMmuFault = platform.clock.now();
			this.#emit('mmu-fault', { timeNs: this.#lastMmuFault });
		});
		for (const id of this.#view.gsp.ignoredEvents) this.#rpc.on(id, () => undefined);
	}

	// ─────────────────────────────── state & info ───────────────────────────────

	/** `ready`, `resetting`, `lost` (the GSP stopped answering: reset it) or `closed`. */
	get state(): DeviceState {
		return this.#state;
	}

	/** Identity, firmware, VRAM, GPC/TPC topology, engines. */
	get info(): DeviceInfo {
		if (this.#info === undefined) throw new CoreError('CORE_NOT_READY', 'the device is not up yet');
		return this.#info;
	}

	/** Stage timings of the last bring-up (open or reset), real time. */
	get timings(): readonly StageTiming[] {
		return this.#timings;
	}

	/** The platform clock (job timeouts and waits run on it). */
	get clock(): Clock {
		return this.platform.clock;
	}

	/** Counters. */
	get stats(): DeviceStats {
		let sysBytes = 0n;
		let sysObjects = 0;
		for (const m of this.#memories) {
			if (m.placement === 'sysmem') {
				sysObjects++;
				sysBytes += m.size;
			}
		}
		const r = this.#rpc.stats;
		return {
			vram: this.#vramAllocator().stats,
			sysmem: { objects: sysObjects, bytes: sysBytes },
			vaSpaces: this.#vaSpaces.size,
			channels: this.#channels.size,
			resets: this.#resets,
			rcErrors: this.#rcErrors,
			mmuFaults: this.#mmuFaults,
			rpc: { calls: r.calls, events: r.events, timeouts: r.timeouts },
		};
	}

	/** Live channels. */
	get channels(): readonly DeviceChannel[] {
		return [...this.#channels];
	}

	/** Live VA spaces. */
	get vaSpaces(): readonly DeviceVaSpace[] {
		return [...this.#vaSpaces];
	}

	/** Live memory objects. */
	get memories(): readonly DeviceMemory[] {
		return [...this.#memories];
	}

	/** VRAM bytes allocated (DRM GETPARAM VRAM_USED). */
	vramUsed(): bigint {
		return this.#vramAllocator().used;
	}

	/** Subscribe to an event; returns the unsubscribe function. */
	on<K extends keyof DeviceEvents>(event: K, listener: Listener<K>): () => void {
		let set = this.#listeners.get(event);
		if (set === undefined) {
			set = new Set();
			this.#listeners.set(event, set);
		}
		set.add(listener as (e: never) => void);
		return () => set.delete(listener as (e: never) => void);
	}

	#emit<K extends keyof DeviceEvents>(event: K, payload: DeviceEvents[K]): void {
		for (const l of [...(this.#listeners.get(event) ?? [])]) {
			try {
				(l as Listener<K>)(payload);
			} catch (e) {
				console.error(`gspkit core: ${event} listener failed:`, e);
			}
		}
	}

	#log(level: DeviceEvents['log']['level'], message: string): void {
		this.#emit('log', { level, message });
	}

	#ready(what: string): void {
		if (this.#state === 'ready') return;
		const code =
			this.#state === 'closed'
				? 'CORE_CLOSED'
				: this.#state === 'lost'
					? 'CORE_DEVICE_LOST'
					: 'CORE_NOT_READY';
		throw new CoreError(
			code,
			`cannot ${what}: the device is ${this.#state}${this.#state === 'lost' ? ' (reset it)' : ''}`,
			{
				details: { state: this.#state },
			},
		);
	}

	#vramAllocator(): VramAllocator {
		if (this.#vram === undefined) throw new CoreError('CORE_NOT_READY', 'the device is not up yet');
		return this.#vram;
	}

	#rmHandles(): RmHandles {
		if (this.#handles === undefined) throw new CoreError('CORE_NOT_READY', 'the RM object tree is not built');
		return this.#handles;
	}

	#resumeInfo(): GspResumeInfo | undefined {
		const b = this.#boot;
		return b === undefined
			? undefined
			: { libosArgs: b.buffers.libos.args.busAddress, appVersion: b.appVersion };
	}

	/** Run an RM operation; if the transport died meanwhile, the device is lost. */
	async #rm<T>(what: string, fn: () => Promise<T>): Promise<T> {
		this.#ready(what);
		try {
			return await fn();
		} catch (e) {
			this.#checkLost(e);
			throw e;
		}
	}

	#checkLost(e: unknown): void {
		if (this.#state !== 'ready' || this.#rpc.state !== 'dead') return;
		this.#state = 'lost';
		this.#log('warn', `GSP-RM stopped answering (${(e as GspkitError)?.code ?? e}): device lost until reset`);
		for (const ch of [...this.#channels]) {
			this.#killChannel(
				ch,
				new ChannelKilledError('device-lost', `device lost: ${(e as Error)?.message ?? e}`, {}, e),
			);
		}
		this.#emit('lost', { error: e });
	}

	// ─────────────────────────────── bring-up ───────────────────────────────

	/** @internal boot, RPC init, static info, topology, RM objects (open and reset). */
	async _bringUp(phase: 'open' | 'reset', t0: bigint, timings: StageTiming[]): Promise<void> {
		const now = this.#now;
		const platform = this.platform;
		const view = this.#view;
		const rpc = this.#rpc;
		let stage: DeviceStage = 'identify';
		let stageStart = now();
		const progress = (detail: string, extra: { bytesDone?: number; bytesTotal?: number } = {}) =>
			this.#options.onProgress?.({ phase, stage, detail, ...extra, elapsedNs: now() - t0 });
		const enter = (s: DeviceStage, detail: string) => {
			const t = now();
			timings.push({ stage, durationNs: NS(stageStart, t) });
			stage = s;
			stageStart = t;
			progress(detail);
		};

		// Boot (falcon-boot), with the queues placed and the pre-boot RPCs queued in its hook.
		const bar = (i: number) => this.description.bars.find((b) => b.index === i)?.address ?? 0n;
		const boot = await bootGsp(platform, {
			abi: this.#firmware.abi,
			firmware: this.#firmware.boot,
			chip: this.chip.name,
			onProgress: (p: BootProgress) => {
				if (p.stage === 'done') return;
				this.#options.onProgress?.({
					phase,
					stage: p.stage,
					detail: p.detail,
					...(p.bytesDone === undefined ? {} : { bytesDone: p.bytesDone }),
					...(p.bytesTotal === undefined ? {} : { bytesTotal: p.bytesTotal }),
					elapsedNs: now() - t0,
				});
			},
			beforeGspStart: async (ctx) => {
				ctx.setRmArgs({
					messageQueue: rpc.initArguments,
					srInit: { oldLevel: 0, flags: 0, inPmTransition: false },
					gpuInstance: 0,
					profiler: { pa: 0n, size: 0n },
					dmemStack: true,
				});
				const pci = this.description.pci;
				await rpc.post(
					'GSP_SET_SYSTEM_INFO',
					view.gsp.encodeSystemInfo({
						gpuPhysAddr: bar(0),
						gpuPhysFbAddr: bar(1),
						gpuPhysInstAddr: bar(3),
						pciBdf: pciBdf(pci.address),
						maxUserVa: 0x7fff_ffff_f000n,
						pciConfigMirrorBase: 0x88000,
						pciConfigMirrorSize: 0x1000,
						pciVendorId: pci.vendorId,
						pciDeviceId: pci.deviceId,
						pciSubsystemVendorId: pci.subsystemVendorId,
						pciSubsystemId: pci.subsystemId,
						pciRevisionId: pci.revision,
					}),
				);
				await rpc.setRegistry(this.#options.registry ?? {});
			},
		});
		this.#boot = boot;
		for (const t of boot.timings)
			if (t.stage !== 'done') timings.push({ stage: t.stage, durationNs: t.durationNs });
		stageStart = now();
		stage = 'rpc-link';
		progress('linking the status queue');
		try {
			await rpc.link();
			enter('gsp-init', 'running RUN_CPU_SEQUENCER, waiting for GSP_INIT_DONE');
			const init = await rpc.waitForInitDone(
				this.#options.initTimeoutNs === undefined ? {} : { timeoutNs: this.#options.initTimeoutNs },
			);
			progress(`GSP_INIT_DONE after ${init.sequencerRuns.length} sequencer program(s)`);

			enter('static-info', 'GET_GSP_STATIC_INFO');
			const size = view.gsp.staticInfoLayout.size;
			const reply = await rpc.call('GET_GSP_STATIC_INFO', new Uint8Array(size), { replySize: size });
			const info = view.gsp.decodeStaticInfo(reply.payload);
			const ranges = usableVramRanges(info.fbRegions);
			if (phase === 'open' || this.#vram === undefined) this.#vram = new VramAllocator(ranges);
			progress(`${info.gpuName}: ${info.fbRegions.length} FB regions`);

			enter('gr-topology', 'querying the GPC/TPC topology');
			const topo = await view.gr.queryTopology({
				staticInfo: reply.payload,
				rmControl: (cmd, params) => rpc.rmControl(info.hInternalClient, info.hInternalSubdevice, cmd, params),
			});
			progress(`${topo.gpcCount} GPCs, ${topo.tpcCount} TPCs (${topo.source})`);

			enter('rm-objects', 'allocating the root client, device and subdevice');
			const handles = await this.#buildObjectTree();
			progress(
				`client ${hex(handles.client)}, device ${hex(handles.device)}, subdevice ${hex(handles.subdevice)}`,
			);

			enter('intr-table', 'NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE');
			let interrupts: InterruptRoute[] | undefined;
			const intr = view.intr;
			if (intr !== undefined && typeof intr.getKernelTable === 'function') {
				const call = intr.getKernelTable();
				const table = call.decode(
					await rpc.rmControl(info.hInternalClient, info.hInternalSubdevice, call.cmd, call.params),
				);
				interrupts = table.entries.map((e) => ({
					engine: e.engine === undefined ? undefined : `${e.engine.kind}${e.engine.instance}`,
					vectorStall: e.vectorStall === 0xffff_ffff ? undefined : e.vectorStall,
					vectorNonStall: e.vectorNonStall === 0xffff_ffff ? undefined : e.vectorNonStall,
				}));
				progress(`${interrupts.length} interrupt routes`);
			} else progress('the ABI has no interrupt table control');

			enter('engines', 'NV2080_CTRL_CMD_FIFO_GET_DEVICE_INFO_TABLE');
			const engines = await this.#engines(handles);
			progress(engines.map((e) => e.name).join(' '));

			const restored = [...this.#vaSpaces];
			if (restored.length > 0) {
				enter('vaspace-restore', `re-promoting ${restored.length} VA space(s)`);
				for (const v of restored) await v._repromote();
			}

			enter('ready', `${this.chip.name} ready`);
			timings.push({ stage, durationNs: 0n });
			this.#info = this.#describe(info, topo, engines, interrupts);
			this.#timings = timings;
			this.#state = 'ready';
			if (platform.clock.kind === 'real') rpc.listen(true);
		} catch (e) {
			this.#checkLost(e);
			if (e instanceof GspkitError) throw e;
			throw new CoreError(
				'CORE_INIT_FAILED',
				`GSP-RM initialisation failed at ${stage}: ${(e as Error)?.message ?? e}`,
				{
					details: { stage },
					cause: e,
				},
			);
		}
	}

	async #buildObjectTree(): Promise<RmHandles> {
		const rpc = this.#rpc;
		const v = this.#view;
		const client = rpc.handles.alloc('client');
		await rpc.rmAlloc(
			client,
			client,
			client,
			v.alloc.classes.NV01_ROOT,
			v.client.allocParams({ hClient: client }),
		);
		const device = rpc.handles.alloc('device');
		await rpc.rmAlloc(client, client, device, v.alloc.classes.NV01_DEVICE_0, v.device.deviceAllocParams());
		const subdevice = rpc.handles.alloc('subdevice');
		await rpc.rmAlloc(
			client,
			device,
			subdevice,
			v.alloc.classes.NV20_SUBDEVICE_0,
			v.device.subdeviceAllocParams(),
		);
		this.#handles = { client, device, subdevice };
		return this.#handles;
	}

	async #engines(h: RmHandles): Promise<EngineInfo[]> {
		const out: EngineInfo[] = [];
		for (let base = 0; base < 256; base += 32) {
			const call = this.#view.fifo.getDeviceInfoTable(base);
			const t = call.decode(await this.#rpc.rmControl(h.client, h.subdevice, call.cmd, call.params));
			for (const e of t.entries) {
				out.push({
					name: e.engineName,
					kind: e.engine?.kind,
					instance: e.engine?.instance,
					runlist: e.data.RUNLIST,
				});
			}
			if (!t.more) break;
		}
		return out;
	}

	#describe(
		info: StaticInfoView,
		topo: Awaited<ReturnType<CoreAbiView['gr']['queryTopology']>>,
		engines: EngineInfo[],
		interrupts: InterruptRoute[] | undefined,
	): DeviceInfo {
		const c = this.chip;
		const vram = this.#vramAllocator();
		const tpcMasks = topo.tpcMasks.filter((_, i) => (topo.gpcMask >>> i) & 1);
		return Object.freeze({
			platform: this.description.platform,
			chip: {
				name: c.name,
				architecture: c.architecture,
				chipset: c.chipset,
				revision: `${c.revision.major.toString(16)}${c.revision.minor.toString(16)}`,
			},
			pci: this.description.pci,
			bars: this.description.bars,
			firmware: this.#firmware.choice,
			gpuName: info.gpuName,
			vram: {
				total: info.fbLength,
				usable: vram.total,
				reserved: info.fbLength - vram.total,
				regions: info.fbRegions.map((r) => ({
					base: r.base,
					limit: r.limit,
					reserved: r.reserved,
					protected: r.protected,
					performance: r.performance,
				})),
			},
			gr: {
				gpcCount: topo.gpcCount,
				tpcCount: topo.tpcCount,
				gpcMask: topo.gpcMask,
				tpcMasks,
				source: topo.source,
			},
			l2CacheSize: info.l2CacheSize,
			engines,
			interrupts,
			mmu: { format: c.info.mmuFormat, vaBits: c.info.mmuFormat === 'v3' ? 57 : 49 },
		});
	}

	// ─────────────────────────────── memory ───────────────────────────────

	/**
	 * Allocate memory: VRAM from the FB regions RM left to the driver, or coherent system memory.
	 * @throws CoreError `CORE_VRAM_EXHAUSTED` (ENOSPC); hal's OutOfMemoryError for system memory.
	 */
	allocMemory(request: MemoryRequest): DeviceMemory {
		this.#ready('allocate memory');
		const size = BigInt(request.size);
		if (size <= 0n) throw new CoreError('CORE_BAD_ARGUMENT', `memory size ${size} must be positive`);
		const label = request.label ?? request.placement;
		const kind = request.kind ?? 0;
		const onFree = (m: DeviceMemory) => this.#memories.delete(m);
		let mem: DeviceMemory;
		if (request.placement === 'vram') {
			const allocator = this.#vramAllocator();
			const allocation = allocator.alloc(
				size,
				request.align === undefined ? 65536n : BigInt(request.align),
				label,
			);
			mem = new DeviceMemory(this.platform, { vram: { allocator, allocation } }, label, kind, onFree);
		} else if (request.placement === 'sysmem') {
			const bytes = Number(((size + 4095n) / 4096n) * 4096n);
			const dma = this.platform.dma.alloc(bytes, {
				align: request.align === undefined ? 4096 : Number(request.align),
				label,
			});
			mem = new DeviceMemory(this.platform, { dma }, label, kind, onFree);
		} else {
			throw new CoreError('CORE_BAD_ARGUMENT', `unknown placement ${String(request.placement)}`);
		}
		this.#memories.add(mem);
		return mem;
	}

	// ─────────────────────────────── VA spaces ───────────────────────────────

	/**
	 * Create a VA space: page tables in DMA memory (the GPU's MMU walks them), promoted to RM with
	 * FERMI_VASPACE_A and COPY_SERVER_RESERVED_PDES, or — `externallyOwned` — as an externally owned VA space
	 * whose root RM learns through SET_PAGE_DIRECTORY (see `vaspace.ts`).
	 */
	async createVaSpace(request: VaSpaceRequest = {}): Promise<DeviceVaSpace> {
		return this.#rm('create a VA space', async () => {
			const vas = await DeviceVaSpace.create(
				{
					platform: this.platform,
					chip: this.chip,
					promote: (how) => this.#promote(how),
					demote: (h, external) => this.#demote(h, external),
					forget: (v) => this.#vaSpaces.delete(v),
				},
				request,
			);
			this.#vaSpaces.add(vas);
			return vas;
		});
	}

	async #promote(how: VaSpacePromotion): Promise<number> {
		const h = this.#rmHandles();
		const rpc = this.#rpc;
		const v = this.#view;
		// Checked before anything is allocated: an ABI without the calls fails cleanly.
		const ext = how.kind === 'external' ? externalVaSpaceAbi(this.#firmware.abi) : undefined;
		const handle = rpc.handles.alloc('vaspace');
		try {
			await rpc.rmAlloc(
				h.client,
				h.device,
				handle,
				v.alloc.classes.FERMI_VASPACE_A,
				v.vmm.vaspaceAllocParams(
					ext === undefined ? { index: 0 } : { index: 0, flags: ext.externallyOwnedFlag },
				),
			);
		} catch (e) {
			rpc.handles.free(handle);
			throw e;
		}
		try {
			if (how.kind === 'external' && ext !== undefined) {
				// nouveau r535_mmu_vaspace_new(external): no reservation, RM is told the root (on the device).
				const call = ext.setPageDirectory({ hVASpace: handle, root: how.root, numEntries: how.rootEntries });
				await rpc.rmControl(h.client, h.device, call.cmd, call.params);
			} else if (how.kind === 'server-reserved') {
				const pdes = how.pdes;
				const call = v.vmm.copyServerReservedPdes({
					hSubDevice: h.subdevice,
					subDeviceId: 0,
					pageSize: pdes.pageSize,
					virtAddrLo: pdes.virtAddrLo,
					virtAddrHi: pdes.virtAddrHi,
					levels: pdes.levels.map((l) => ({
						physAddress: l.physAddress,
						size: l.size,
						aperture: l.aperture,
						pageShift: l.pageShift,
					})),
				});
				await rpc.rmControl(h.client, handle, call.cmd, call.params);
			}
		} catch (e) {
			await rpc.rmFree(h.client, h.device, handle).catch(() => undefined);
			rpc.handles.free(handle);
			throw e;
		}
		return handle;
	}

	async #demote(handle: number, externallyOwned: boolean): Promise<void> {
		if (this.#state !== 'ready' || this.#handles === undefined) return;
		const h = this.#handles;
		try {
			if (externallyOwned) {
				// As nouveau's r535_mmu_vaspace_del: RM forgets the root before the object goes.
				const call = externalVaSpaceAbi(this.#firmware.abi).unsetPageDirectory({ hVASpace: handle });
				await this.#rpc.rmControl(h.client, h.device, call.cmd, call.params);
			}
		} finally {
			try {
				await this.#rpc.rmFree(h.client, h.device, handle);
			} finally {
				if (this.#rpc.handles.has(handle)) this.#rpc.handles.free(handle);
			}
		}
	}

	// ─────────────────────────────── channels ───────────────────────────────

	/**
	 * Create a channel in `vaSpace` on a copy engine, with its scheduler: the generation's channel and copy
	 * classes, BIND, GPFIFO_SCHEDULE and the work-submit token through RM (channel-sched's `createRmChannel`).
	 */
	async createChannel(vaSpace: DeviceVaSpace, request: ChannelRequest): Promise<DeviceChannel> {
		return this.#rm('create a channel', async () => {
			if (request.engine !== 'copy') {
				throw new CoreError(
					'CORE_BAD_ARGUMENT',
					`channels on ${String(request.engine)} are not supported (only 'copy')`,
				);
			}
			if (vaSpace.destroyed || !this.#vaSpaces.has(vaSpace)) {
				throw new CoreError('CORE_BAD_ARGUMENT', `VA space ${vaSpace.name} does not belong to this device`);
			}
			const h = this.#rmHandles();
			const rpc = this.#rpc;
			const hChannel = rpc.handles.alloc('channel');
			const hCopy = rpc.handles.alloc('object');
			let rm: RmChannel;
			try {
				rm = await createRmChannel({
					rm: rpc,
					abi: this.#firmware.abi,
					chip: this.chip.info,
					platform: this.platform,
					hClient: h.client,
					hDevice: h.device,
					hSubdevice: h.subdevice,
					hChannel,
					hCopy,
					vaSpace: kernelVaSpaceView(vaSpace),
					memory: this.#channelMemory(),
					...(request.ceInstance === undefined ? {} : { ceInstance: request.ceInstance }),
					...(request.entries === undefined ? {} : { entries: request.entries }),
					name: request.name ?? `ch.${hex(hChannel & 0xffff, 1)}`,
				});
			} catch (e) {
				rpc.handles.free(hChannel);
				rpc.handles.free(hCopy);
				throw e;
			}
			const name = request.name ?? `ce${request.ceInstance ?? 0}.ch${rm.workSubmitToken & 0xfff}`;
			const scheduler = createChannelScheduler(rm.channel, {
				clock: this.platform.clock,
				name,
				timeoutNs: request.timeoutNs ?? this.#options.jobTimeoutNs ?? 10n * SEC,
				backend: { onKill: (error) => this.#onChannelDead(channel, error) },
				onFatal: (error) =>
					this.#log('warn', `scheduler ${name} failed: ${(error as Error)?.message ?? error}`),
			});
			const channel: DeviceChannel = new DeviceChannel(
				name,
				'copy',
				vaSpace,
				rm,
				scheduler,
				{
					kick: () => this.#kickService(),
					forget: (c) => {
						this.#channels.delete(c);
					},
					// Only once RM freed the objects (destroy first waits for a deschedule in flight): a handle
					// freed earlier could go to a new channel while RM still holds the old one.
					released: () => {
						if (rpc.handles.has(hChannel)) rpc.handles.free(hChannel);
						if (rpc.handles.has(hCopy)) rpc.handles.free(hCopy);
					},
				},
				hCopy,
				this.#nv2080Ce(request.ceInstance ?? 0),
			);
			this.#channels.add(channel);
			return channel;
		});
	}

	/**
	 * Where a channel's instance block, USERD and method buffer go (reference C.8): the first two in VRAM from
	 * the driver's FB heap, reached by the CPU through BAR1 (one to one on gpu-sim, as for `DeviceMemory`); the
	 * method buffer in system memory.
	 */
	#channelMemory(): ChannelMemoryProvider {
		const allocator = this.#vramAllocator();
		return vramChannelMemory({
			vram: {
				alloc: (size, align, label) => allocator.alloc(BigInt(size), BigInt(align), label).offset,
				free: (offset) => allocator.free(offset),
			},
			window: this.platform.vram.bar1,
			dma: this.platform.dma,
		});
	}

	#nv2080Ce(instance: number): number | undefined {
		const fifo = this.#firmware.abi.subInterfaces.fifo as {
			nv2080EngineType?: (e: { kind: 'ce'; instance: number }) => number;
		};
		return fifo.nv2080EngineType?.({ kind: 'ce', instance });
	}

	#onChannelDead(channel: DeviceChannel, error: Error): void {
		// Teardown cancels the scheduler too (CHSCHED_CANCELLED): that is not a death worth reporting.
		if ((error as GspkitError).code === 'CHSCHED_CANCELLED') return;
		this.#deschedule(channel);
		this.#emit('channel-killed', { channel, error });
		this.#log('warn', `channel ${channel.name} killed: ${error.message}`);
	}

	/**
	 * A kill fails the channel's fences on the CPU side only; RM must also stop scheduling it, or the host would
	 * still fetch its GPFIFO and run the failed jobs later (GPFIFO_SCHEDULE off, channel-sched's `disable`).
	 * Not awaited: this runs inside the scheduler's kill. Failures are logged, never thrown. A lost or resetting
	 * device skips it: RM cannot be asked, and a reset forgets every channel anyway.
	 */
	#deschedule(channel: DeviceChannel): void {
		if (this.#state !== 'ready') return;
		channel.rmChannel.disable().catch((e: unknown) => {
			this.#checkLost(e);
			this.#log(
				'warn',
				`channel ${channel.name}: GPFIFO_SCHEDULE(disable) failed, the GPU may still run it: ${(e as Error)?.message ?? e}`,
			);
		});
	}

	#killChannel(channel: DeviceChannel, error: Error): void {
		channel._kill(error);
	}

	#onRc(e: RpcEvent): void {
		const rc = this.#view.fifo.decodeRcTriggered(e.payload);
		const chid = Number(rc.chid ?? -1);
		const engineType = Number(rc.nv2080EngineType ?? -1);
		this.#rcErrors++;
		const target = [...this.#channels].find(
			(c) => c.hardware.chid === chid && (c.hardware.engineType ?? engineType) === engineType,
		);
		const desc = describeRc(rc, this.#lastMmuFault !== undefined);
		if (target === undefined) {
			this.#log(
				'warn',
				`RC_TRIGGERED for channel ${chid} (engine type ${engineType}), which core does not own: ${desc.text}`,
			);
			return;
		}
		this.#killChannel(
			target,
			new ChannelKilledError('rc', `channel ${target.name} killed by GSP-RM: ${desc.text}`, {
				chid,
				engineType,
				...desc.details,
			}),
		);
		this.#lastMmuFault = undefined;
	}

	/** Keep the service loop (fences, events) running while channels have work. */
	#kickService(): void {
		if (this.#serviceRunning || this.#state !== 'ready') return;
		this.#serviceRunning = true;
		void this.#service();
	}

	async #service(): Promise<void> {
		const line = this.platform.irq('nonstall');
		const slice = this.platform.clock.kind === 'real' ? 10n * MS : 1n * MS;
		try {
			while (this.#state === 'ready') {
				let busy = false;
				for (const c of this.#channels) if (!c.killed && c._outstanding() > 0) busy = true;
				if (!busy) break;
				const fired = await line.wait(slice);
				if (fired) line.acknowledge();
				if (this.#state !== 'ready') break;
				try {
					this.#rpc.poll();
				} catch (e) {
					this.#checkLost(e);
				}
				for (const c of [...this.#channels]) c._processFences();
			}
		} catch (e) {
			this.#log('warn', `service loop stopped: ${(e as Error)?.message ?? e}`);
		} finally {
			this.#serviceRunning = false;
		}
	}

	// ─────────────────────────────── recovery ───────────────────────────────

	/**
	 * Reset the GPU and bring it up again: kill every channel (their fences fail with `ChannelKilledError`
	 * reason `'reset'`), unload GSP-RM if it still answers (UNLOADING_GUEST_DRIVER, MAILBOX0 bit 31), reset the
	 * GSP falcon, run booter_unload (WPR2 down), boot again with the same firmware, rebuild the RM object tree and
	 * re-promote every VA space (their page tables and mappings stay valid). Memory objects stay allocated;
	 * their contents are not guaranteed. Announced through `on('reset')` and `on('log')`.
	 * @throws CoreError `CORE_RESET_FAILED` (cause: what failed); the device is then `lost`.
	 */
	reset(reason = 'requested'): Promise<void> {
		if (this.#state === 'closed') return Promise.reject(new CoreError('CORE_CLOSED', 'the device is closed'));
		this.#resetting ??= this.#doReset(reason).finally(() => {
			this.#resetting = undefined;
		});
		return this.#resetting;
	}

	async #doReset(reason: string): Promise<void> {
		const now = this.#now;
		const t0 = now();
		this.#state = 'resetting';
		this.#resets++;
		this.#emit('reset', { phase: 'begin', reason });
		this.#log('info', `resetting ${this.chip.name}: ${reason}`);
		try {
			const channels = [...this.#channels];
			for (const ch of channels) {
				this.#killChannel(ch, new ChannelKilledError('reset', `device reset (${reason})`, { reason }));
			}
			await this.#shutdownGsp();
			this.#rpc.reset();
			this.#handles = undefined;
			// RM forgot the channels: free what is ours (the RM frees fail at once: the transport is not linked).
			for (const ch of channels) await ch.destroy().catch(() => undefined);
			const timings: StageTiming[] = [{ stage: 'unload', durationNs: now() - t0 }];
			await this._bringUp('reset', t0, timings);
			const durationNs = now() - t0;
			this.#emit('reset', {
				phase: 'done',
				reason,
				channelsLost: channels.length,
				vaSpacesRestored: this.#vaSpaces.size,
				durationNs,
			});
			this.#log(
				'info',
				`${this.chip.name} reset done in ${durationNs / MS} ms: GSP-RM ${this.#firmware.choice.version} rebooted, object tree rebuilt, ${this.#vaSpaces.size} VA space(s) re-promoted, ${channels.length} channel(s) lost`,
			);
		} catch (e) {
			this.#state = 'lost';
			this.#emit('reset', { phase: 'failed', reason, error: e });
			throw new CoreError(
				'CORE_RESET_FAILED',
				`reset of ${this.chip.name} failed: ${(e as Error)?.message ?? e}`,
				{
					cause: e,
				},
			);
		}
	}

	/**
	 * Stop GSP-RM and tear WPR2 down (nouveau `r535_gsp_fini`): UNLOADING_GUEST_DRIVER when RM still answers and
	 * MAILBOX0 bit 31; GSP falcon reset; booter_unload. Releases the boot's DMA buffers.
	 */
	async #shutdownGsp(): Promise<void> {
		const rpc = this.#rpc;
		const { gsp } = chipFalcons(this.platform, this.chip);
		if (rpc.state === 'linked') {
			try {
				rpc.listen(false);
				await rpc.call('UNLOADING_GUEST_DRIVER', this.#view.gsp.encodeUnload({ suspend: false }), {
					timeoutNs: SEC,
				});
				await pollUntil(
					this.platform.clock,
					() => gsp.readMailboxes().mailbox0,
					(m) => (m & GSP_UNLOAD_DONE) !== 0,
					{ timeoutNs: 2n * SEC, what: 'GSP MAILBOX0 bit 31 (unload done)' },
				);
				this.#log('info', 'GSP-RM unloaded');
			} catch (e) {
				this.#log(
					'warn',
					`GSP-RM did not unload cleanly (${(e as GspkitError)?.code ?? e}); resetting it anyway`,
				);
			}
		} else {
			this.#log('info', `GSP-RM is ${rpc.state}: skipping the unload RPC`);
		}
		await gsp.reset('riscv');
		const ucode = await this.#firmware.booterUnload();
		if (ucode !== undefined) {
			const r = await runBooterUnload(this.platform, this.chip, ucode);
			if (r.wpr2After !== undefined) {
				throw new CoreError(
					'CORE_RESET_FAILED',
					`WPR2 is still up after booter_unload (${hex(r.wpr2After.start)})`,
				);
			}
			this.#log('info', r.ran ? 'booter_unload: WPR2 torn down' : 'WPR2 was not up');
		} else {
			this.#log('warn', 'no booter_unload in the firmware set; WPR2 stays up unless the platform resets it');
		}
		this.#boot?.release();
		this.#boot = undefined;
	}

	/** @internal after a failed open: free what was allocated. */
	async _abandon(): Promise<void> {
		this.#state = 'closed';
		try {
			if (this.#boot !== undefined || readWpr2Up(this.platform)) await this.#shutdownGsp();
		} catch {
			// The open already failed; report that error, not this one.
		}
		this.#rpc.close();
	}

	/**
	 * Tear everything down: channels, VA spaces and memory through RM, the RM client, then GSP-RM itself
	 * (unload, falcon reset, booter_unload), so the GPU can be opened again. Idempotent.
	 */
	async close(): Promise<void> {
		if (this.#state === 'closed') return;
		await this.#resetting?.catch(() => undefined);
		const errors: unknown[] = [];
		const attempt = async (fn: () => unknown) => {
			try {
				await fn();
			} catch (e) {
				errors.push(e);
			}
		};
		for (const ch of [...this.#channels]) await attempt(() => ch.destroy());
		for (const v of [...this.#vaSpaces]) await attempt(() => v.destroy());
		for (const m of [...this.#memories]) await attempt(() => m.free());
		if (this.#handles !== undefined && this.#rpc.state === 'linked') {
			const h = this.#handles;
			await attempt(() => this.#rpc.rmFree(h.client, h.client, h.client));
		}
		this.#state = 'closed';
		await attempt(() => this.#shutdownGsp());
		this.#rpc.close();
		if (errors.length > 0)
			this.#log('warn', `close: ${errors.length} step(s) failed; first: ${(errors[0] as Error)?.message}`);
	}
}

function readWpr2Up(platform: Platform): boolean {
	try {
		return readWpr2(platform.bar0) !== undefined;
	} catch {
		return false;
	}
}

/** `pci_dev_id`: bus << 8 | device << 3 | function, from `"dddd:bb:dd.f"`. */
export function pciBdf(address: string): number {
	const m = /^(?:[0-9a-f]{4}:)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(address);
	if (m === null) return 0;
	return (
		(Number.parseInt(m[1] as string, 16) << 8) | (Number.parseInt(m[2] as string, 16) << 3) | Number(m[3])
	);
}
