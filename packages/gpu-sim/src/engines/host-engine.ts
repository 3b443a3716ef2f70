/**
 * The simulated host engine (PBDMA): on a doorbell it reads GP_PUT from USERD, fetches GPFIFO entries and
 * pushbuffer segments through the MMU, decodes method headers, executes host methods (semaphores, MEM_OP,
 * non-stall interrupts, SET_REFERENCE…) and hands methods on copy-engine subchannels to the copy engine.
 *
 * Behaviour follows `dev_pbdma.ref` / `dev_ram.ref` (GA100):
 * - GP_GET advances when an entry *begins* processing ("committed and will not be refetched"), so a slot is
 *   free again as soon as the host holds its entry; USERD GET/TOP_LEVEL_GET track pushbuffer progress.
 * - A compressed method sequence may continue in the next segment (method state survives segment ends).
 * - A semaphore acquire that fails parks the channel; it is retried on every doorbell, whenever the engine runs,
 *   and as the platform clock advances. Channels on the engine take turns of `timesliceMethods` entries.
 * - Errors (MMU faults, illegal methods, bad GP entries…) stop the channel and are reported once.
 *
 * @module
 */

import type { Architecture, Clock } from '@gspkit/hal';
import { hex, InvalidArgumentError } from '@gspkit/hal';
import type { MmioDevice } from '../mmio.ts';
import {
	decodePageDirectoryWord,
	type GpuMmu,
	type InvalidateScope,
	type PageDirectoryBase,
	pageDirectoryBase,
} from '../mmu/index.ts';
import { ClockDriver } from './clock-driver.ts';
import { COPY_CLASSES, type CopyChannelState, CopyEngine } from './copy-engine.ts';
import { EngineError } from './errors.ts';
import {
	CE,
	CLASS,
	GP_ENTRY,
	get32,
	HOST,
	MEM_OP,
	PB,
	RAMFC,
	SEM_EXECUTE,
	USERD,
	USERMODE,
} from './fields.ts';
import { ChannelAddressSpace, physicalAccess } from './memory.ts';
import {
	acquireSatisfied,
	getLe,
	hostReductionSupported,
	putLe,
	reduce,
	type SemaphoreBits,
} from './semaphore.ts';
import { EngineStop, type StopInfo, stop } from './stop.ts';
import type {
	ChannelErrorReport,
	ChannelRegistration,
	EngineFaultRecord,
	EngineInterrupts,
	EngineMemory,
	PhysicalLocation,
} from './types.ts';
import { type UsermodeLayout, UsermodeRegion, usermodeLayout } from './usermode.ts';

/** Engine timing. */
export interface EngineTiming {
	/** Time between a doorbell and the host starting on an idle channel. Default 0 (the next clock step). */
	readonly doorbellLatencyNs?: bigint;
	/** GP entries plus pushbuffer entries a channel may process before the next channel gets a turn. Default 256. */
	readonly timesliceEntries?: number;
	/** On a real clock: how often parked acquires are re-checked. Default 1 ms. A virtual clock re-checks on every advance. */
	readonly retryIntervalNs?: bigint;
}

/** A fault to inject; see {@link HostEngine.inject}. */
export type EngineFaultInjection =
	/** The engine stops making progress (on one channel, or on all): work stays queued, GP_GET freezes. */
	| {
			readonly kind: 'hang';
			readonly engine: 'host' | 'copy';
			readonly chid?: number;
			/** Chids are per runlist: name the runlist to hang one channel when several share a chid. */
			readonly runlistId?: number;
	  }
	/** The next `count` doorbells (default unlimited) of a channel (or all) start `ns` later. */
	| { readonly kind: 'delay'; readonly ns: bigint; readonly chid?: number; readonly count?: number }
	/** The next `count` doorbells (default unlimited) of a channel (or all) are lost. */
	| { readonly kind: 'drop-doorbell'; readonly chid?: number; readonly count?: number };

/** An active injection. */
export interface InjectedFault {
	readonly fault: EngineFaultInjection;
	/** Whether it still applies (a counted injection ends by itself). */
	readonly active: boolean;
	/** Remove it; a released hang lets the stalled work run (on the next clock step or `runUntilIdle`). */
	clear(): void;
}

/** Lifecycle state of a channel on the host engine. */
export type ChannelStatus = 'idle' | 'pending' | 'running' | 'blocked' | 'error';

/** Per-channel counters. */
export interface ChannelStats {
	readonly gpEntries: number;
	readonly pbEntries: number;
	readonly methods: number;
	readonly nonStallInterrupts: number;
	readonly semaphoreReleases: number;
	readonly acquireBlocks: number;
	readonly tlbInvalidates: number;
}

/** What a parked channel waits for. */
export type BlockedOn =
	| {
			readonly kind: 'acquire';
			readonly va: bigint;
			readonly payload: bigint;
			readonly operation: number;
			readonly bits: SemaphoreBits;
	  }
	| {
			readonly kind: 'engine';
			readonly subchannel: number;
			readonly classId: number;
			readonly address: number;
			readonly data: number;
	  };

/** A read-only view of a channel. */
export interface ChannelSnapshot {
	readonly chid: number;
	readonly runlistId: number;
	readonly class: number;
	readonly status: ChannelStatus;
	readonly enabled: boolean;
	readonly gpGet: number;
	/** GP_PUT as last read from USERD. */
	readonly gpPut: number;
	/** The pushbuffer address the host will process next, while inside a segment. */
	readonly pbGet: bigint | undefined;
	/** Classes bound by SET_OBJECT, per subchannel. */
	readonly subchannels: readonly (number | undefined)[];
	readonly reference: number;
	readonly blockedOn?: BlockedOn;
	readonly error?: ChannelErrorReport;
	readonly stats: ChannelStats;
}

/** Host-engine counters. */
export interface HostEngineStats {
	readonly doorbells: number;
	/** Tokens that named no registered channel, a wrong runlist, or had reserved bits set (ignored, as hardware does). */
	readonly ignoredDoorbells: number;
	readonly lastIgnored?: {
		readonly token: number;
		readonly reason: IgnoredDoorbellReason;
		readonly timeNs: bigint;
	};
	/** Doorbells swallowed by a `'drop-doorbell'` injection. */
	readonly droppedDoorbells: number;
	/** Times the scheduler ran. */
	readonly pumps: number;
}

/** Why a doorbell was ignored. */
export type IgnoredDoorbellReason = 'reserved-bits' | 'unknown-channel' | 'runlist-mismatch';

/** What {@link HostEngine.runUntilIdle} leaves behind. */
export interface RunSummary {
	/** No channel can make progress now without time passing or memory changing. */
	readonly idle: boolean;
	/** Channels parked on an acquire or on a stalled engine. */
	readonly blocked: readonly number[];
	/** Channels whose doorbell is delayed to a later time. */
	readonly waiting: readonly number[];
	/** Channels with work that a hang keeps from running. */
	readonly hung: readonly number[];
	readonly errors: readonly number[];
}

/** Options of a {@link HostEngine}. */
export interface HostEngineOptions {
	readonly mmu: GpuMmu;
	readonly memory: EngineMemory;
	readonly clock: Clock;
	readonly interrupts: EngineInterrupts;
	/** Picks the default channel/copy classes and usermode layout. */
	readonly architecture: Architecture;
	/** Override the usermode windows (or `false` for none, e.g. when the caller mounts its own). */
	readonly usermode?: Partial<UsermodeLayout> | false;
	/** Channel classes accepted at registration. Default per architecture. */
	readonly channelClasses?: readonly number[];
	/** Copy classes accepted by SET_OBJECT. Default per architecture. */
	readonly copyClasses?: readonly number[];
	readonly timing?: EngineTiming;
	/** A write to a sparse page: `'fault'` (default) or silently dropped. */
	readonly sparseWrites?: 'fault' | 'drop';
	/** Called when a channel enters the error state. More listeners: {@link HostEngine.addErrorListener}. */
	readonly onChannelError?: (report: ChannelErrorReport) => void;
	/** Highest CHID + 1. Default 4096 (CHID is 12 bits). */
	readonly maxChannels?: number;
}

/** Channel and copy classes per architecture. */
export function engineClassesFor(architecture: Architecture): {
	readonly channel: readonly number[];
	readonly copy: readonly number[];
} {
	switch (architecture) {
		case 'turing':
			return { channel: [CLASS.TURING_CHANNEL_GPFIFO_A], copy: [CLASS.TURING_DMA_COPY_A] };
		case 'ampere':
		case 'ada':
			return {
				channel: [CLASS.AMPERE_CHANNEL_GPFIFO_A, CLASS.AMPERE_CHANNEL_GPFIFO_B],
				copy: [CLASS.AMPERE_DMA_COPY_A, CLASS.AMPERE_DMA_COPY_B],
			};
		case 'hopper':
			return { channel: [CLASS.HOPPER_CHANNEL_GPFIFO_A], copy: [CLASS.HOPPER_DMA_COPY_A] };
		case 'blackwell':
			throw new InvalidArgumentError('Blackwell engines are not modelled', { architecture });
	}
}

const CHANNEL_CLASSES: readonly number[] = [
	CLASS.TURING_CHANNEL_GPFIFO_A,
	CLASS.AMPERE_CHANNEL_GPFIFO_A,
	CLASS.AMPERE_CHANNEL_GPFIFO_B,
	CLASS.HOPPER_CHANNEL_GPFIFO_A,
];

/** Map key of a channel: the work-submit token's RUNLIST_ID 22:16 | CHID 11:0 layout. */
function channelKey(runlistId: number, chid: number): number {
	return runlistId * 0x1_0000 + chid;
}

/** The subdevice this GPU is in a SET_SUBDEVICE_MASK (one GPU: subdevice 0, mask bit 0). */
const SUBDEVICE_BIT = 1;
const FAULT_LOG_SIZE = 256;
const VA40 = (1n << 40n) - 1n;
/** `NV_RAMIN_PAGE_DIR_BASE_LO` (reference B.5). */
const RAMIN_PDB_LO = 0x200;
/** USERD bytes 0x40..0x63: PUT, GET, REF, PUT_HI, (ignored), TOP_LEVEL_GET(_HI), GET_HI. */
const USERD_MIRROR_SIZE = USERD.GET_HI + 4 - USERD.PUT;

interface MethodState {
	address: number;
	subchannel: number;
	remaining: number;
	mode: 'inc' | 'non-inc' | 'one-inc';
}

interface Segment {
	get: bigint;
	readonly end: bigint;
	readonly main: boolean;
}

interface Counters {
	gpEntries: number;
	pbEntries: number;
	methods: number;
	nonStallInterrupts: number;
	semaphoreReleases: number;
	acquireBlocks: number;
	tlbInvalidates: number;
}

interface Channel {
	readonly reg: ChannelRegistration;
	readonly privileged: boolean;
	/** Class for engine methods on subchannels without SET_OBJECT (registration, then {@link HostEngine.setEngineClass}). */
	engineClass: number | undefined;
	readonly hopper: boolean;
	removed: boolean;
	enabled: boolean;
	status: ChannelStatus;
	readyAt: bigint;
	space: ChannelAddressSpace | undefined;
	gpBase: bigint;
	gpEntries: number;
	gpGet: number;
	gpPut: number;
	segment: Segment | undefined;
	topLevelGet: bigint | undefined;
	method: MethodState | undefined;
	readonly subchannels: (number | undefined)[];
	readonly sem: { addrLo: number; addrHi: number; payloadLo: number; payloadHi: number };
	readonly memOp: { a: number; b: number; c: number };
	reference: number;
	subdeviceActive: boolean;
	storedMask: number;
	extendedBase: bigint;
	blocked: BlockedOn | undefined;
	pbCache: { va: bigint; view: DataView; length: number } | undefined;
	userdMirror: Uint8Array | undefined;
	userdMirrorView: DataView | undefined;
	currentGp: { index: number; entry0: number; entry1: number } | undefined;
	readonly ce: CopyChannelState;
	error: ChannelErrorReport | undefined;
	readonly stats: Counters;
}

interface Injection {
	readonly fault: EngineFaultInjection;
	remaining: number;
	active: boolean;
}

type MethodResult = 'ok' | 'block' | 'yield';

/**
 * The host engine of one simulated GPU: channel registry, doorbell, scheduler and PBDMA. Create one per GPU,
 * attach {@link HostEngine.devices} to BAR0, and let the simulated GSP-RM register channels.
 */
export class HostEngine {
	/** The copy engine that receives methods on copy-class subchannels. */
	readonly copyEngine: CopyEngine;
	/** The usermode windows (doorbell) to mount in BAR0. */
	readonly usermode: readonly UsermodeRegion[];
	readonly #mmu: GpuMmu;
	readonly #memory: EngineMemory;
	readonly #interrupts: EngineInterrupts;
	readonly #driver: ClockDriver;
	readonly #channelClasses: readonly number[];
	readonly #layout: UsermodeLayout | undefined;
	readonly #latency: bigint;
	readonly #timeslice: number;
	readonly #sparseWrites: 'fault' | 'drop';
	readonly #maxChannels: number;
	/** Channels by {@link channelKey} (runlist and CHID: CHIDs are per runlist, as the token says). */
	readonly #channels = new Map<number, Channel>();
	#doorbellSync: (() => void) | undefined;
	readonly #listeners = new Set<(report: ChannelErrorReport) => void>();
	readonly #faultLog: EngineFaultRecord[] = [];
	readonly #injections = new Set<Injection>();
	#pumpTimer: { cancel(): void } | undefined;
	#pumpAt: bigint | undefined;
	#pumping = false;
	#again = false;
	#closed = false;
	#doorbells = 0;
	#ignored = 0;
	#lastIgnored: HostEngineStats['lastIgnored'];
	#dropped = 0;
	#pumps = 0;
	/** Scratch for the small reads of the hot path (GP entries, USERD words), consumed at once. */
	readonly #scratch = new Uint8Array(8);
	readonly #scratchView = new DataView(this.#scratch.buffer);
	readonly #scratch4 = this.#scratch.subarray(0, 4);

	constructor(options: HostEngineOptions) {
		const defaults = engineClassesFor(options.architecture);
		this.#mmu = options.mmu;
		this.#memory = options.memory;
		this.#interrupts = options.interrupts;
		this.#channelClasses = options.channelClasses ?? defaults.channel;
		for (const c of this.#channelClasses) {
			if (!CHANNEL_CLASSES.includes(c)) {
				throw new InvalidArgumentError(`channel class ${hex(c, 4)} is not modelled`, { class: c });
			}
		}
		const copy = options.copyClasses ?? defaults.copy;
		for (const c of copy) {
			if (!COPY_CLASSES.includes(c)) {
				throw new InvalidArgumentError(`copy class ${hex(c, 4)} is not modelled`, { class: c });
			}
		}
		const timing = options.timing ?? {};
		this.#latency = timing.doorbellLatencyNs ?? 0n;
		this.#timeslice = timing.timesliceEntries ?? 256;
		if (this.#latency < 0n || !Number.isSafeInteger(this.#timeslice) || this.#timeslice < 1) {
			throw new InvalidArgumentError('invalid engine timing', {
				doorbellLatencyNs: String(this.#latency),
				timesliceEntries: this.#timeslice,
			});
		}
		this.#sparseWrites = options.sparseWrites ?? 'fault';
		this.#maxChannels = options.maxChannels ?? 4096;
		this.#driver = new ClockDriver(options.clock, timing.retryIntervalNs ?? 1_000_000n);
		this.#driver.onTick(() => this.#pump());
		this.copyEngine = new CopyEngine({
			classes: copy,
			memory: options.memory,
			now: () => this.#driver.now(),
			interrupts: options.interrupts,
		});
		if (options.onChannelError !== undefined) this.#listeners.add(options.onChannelError);

		if (options.usermode === false) {
			this.#layout = undefined;
			this.usermode = [];
		} else {
			const base = usermodeLayout(options.architecture);
			const layout: UsermodeLayout = {
				bases: options.usermode?.bases ?? base.bases,
				classId: options.usermode?.classId ?? base.classId,
				...((options.usermode?.runlistIdAll ?? base.runlistIdAll) === undefined
					? {}
					: { runlistIdAll: (options.usermode?.runlistIdAll ?? base.runlistIdAll) as number }),
			};
			this.#layout = layout;
			this.usermode = layout.bases.map(
				(b) =>
					new UsermodeRegion({
						base: b,
						classId: layout.classId,
						clock: options.clock,
						onDoorbell: (token) => this.doorbell(token),
					}),
			);
		}
	}

	/** MMIO devices to attach to BAR0 (the usermode windows). */
	get devices(): readonly MmioDevice[] {
		return this.usermode;
	}

	/** Channels in registration order. */
	get channels(): readonly ChannelSnapshot[] {
		return [...this.#channels.values()].map((c) => this.#snapshot(c));
	}

	/**
	 * A channel's state, or `undefined` if `chid` is not registered (on `runlistId`, when given; without it the
	 * CHID must be registered on one runlist only).
	 */
	channel(chid: number, runlistId?: number): ChannelSnapshot | undefined {
		const c = this.#find(chid, runlistId);
		return c === undefined ? undefined : this.#snapshot(c);
	}

	/**
	 * Install a function the engine calls synchronously before it decodes a doorbell token: a channel manager in
	 * another thread (the simulated GSP-RM's worker) uses it to apply the registrations it has in flight, so a
	 * doorbell never overtakes the registration of the channel it names. `undefined` removes it.
	 */
	setDoorbellSync(sync: (() => void) | undefined): void {
		this.#doorbellSync = sync;
	}

	/** The most recent MMU fault records (up to 256), oldest first. */
	get faultLog(): readonly EngineFaultRecord[] {
		return [...this.#faultLog];
	}

	/** Counters. */
	get stats(): HostEngineStats {
		return {
			doorbells: this.#doorbells,
			ignoredDoorbells: this.#ignored,
			...(this.#lastIgnored === undefined ? {} : { lastIgnored: this.#lastIgnored }),
			droppedDoorbells: this.#dropped,
			pumps: this.#pumps,
		};
	}

	/** Observe channel errors. Returns a function that removes the listener. */
	addErrorListener(listener: (report: ChannelErrorReport) => void): () => void {
		this.#listeners.add(listener);
		return () => {
			this.#listeners.delete(listener);
		};
	}

	/**
	 * Register a channel (the simulated GSP-RM does this when it allocates a channel class). The instance block
	 * and USERD are only read when the channel first runs, so they may be filled in afterwards.
	 *
	 * @throws InvalidArgumentError for out-of-range IDs, a class this chip does not have, misaligned blocks or a
	 *   ring that is not a power of two or crosses 2^40.
	 * @throws EngineError `SIM_ENGINE_CHANNEL_EXISTS` if the CHID is registered.
	 */
	registerChannel(registration: ChannelRegistration): void {
		this.#checkOpen();
		const r = registration;
		const bad = (message: string, details: Record<string, unknown>) => {
			throw new InvalidArgumentError(`registerChannel(chid ${String(r.chid)}): ${message}`, details);
		};
		if (!Number.isInteger(r.chid) || r.chid < 0 || r.chid >= this.#maxChannels || r.chid > 0xfff) {
			bad(`CHID must be an integer below ${Math.min(this.#maxChannels, 0x1000)}`, { chid: r.chid });
		}
		if (!Number.isInteger(r.runlistId) || r.runlistId < 0 || r.runlistId > 0x7f) {
			bad('runlistId must fit RUNLIST_ID 22:16 (0..127)', { runlistId: r.runlistId });
		}
		if (!this.#channelClasses.includes(r.class)) {
			bad(`class ${hex(r.class, 4)} is not a channel class of this chip`, {
				class: r.class,
				classes: this.#channelClasses.map((c) => hex(c, 4)),
			});
		}
		checkLocation(r.instanceBlock, 4096n, 'instanceBlock', bad);
		checkLocation(r.userd, BigInt(USERD.SIZE), 'userd', bad);
		if (r.gpfifo !== undefined) {
			const { va, entries } = r.gpfifo;
			if (
				!Number.isSafeInteger(entries) ||
				entries < 2 ||
				entries > 2 ** 31 ||
				(entries & (entries - 1)) !== 0
			) {
				bad('gpfifo.entries must be a power of two of at least 2', { entries });
			}
			if (typeof va !== 'bigint' || va < 0n || va % 8n !== 0n || va + BigInt(entries) * 8n - 1n > VA40) {
				bad('gpfifo.va must be 8-byte aligned and the ring must end below 2^40', { va: String(va) });
			}
		}
		if (r.engineClass !== undefined && !this.copyEngine.supports(r.engineClass)) {
			bad(`engineClass ${hex(r.engineClass, 4)} is not a copy class of this chip`, {
				engineClass: r.engineClass,
			});
		}
		if (this.#channels.has(channelKey(r.runlistId, r.chid))) {
			throw new EngineError(
				'SIM_ENGINE_CHANNEL_EXISTS',
				`channel ${r.chid} is already registered on runlist ${r.runlistId}`,
				{ chid: r.chid, runlistId: r.runlistId },
			);
		}
		this.#channels.set(channelKey(r.runlistId, r.chid), {
			reg: r,
			privileged: r.privileged ?? false,
			engineClass: r.engineClass,
			hopper: r.class === CLASS.HOPPER_CHANNEL_GPFIFO_A,
			removed: false,
			enabled: r.enabled ?? true,
			status: 'idle',
			readyAt: 0n,
			space: undefined,
			gpBase: 0n,
			gpEntries: 0,
			gpGet: 0,
			gpPut: 0,
			segment: undefined,
			topLevelGet: undefined,
			method: undefined,
			subchannels: new Array<number | undefined>(8).fill(undefined),
			sem: { addrLo: 0, addrHi: 0, payloadLo: 0, payloadHi: 0 },
			memOp: { a: 0, b: 0, c: 0 },
			reference: 0,
			subdeviceActive: true,
			storedMask: 0,
			extendedBase: 0n,
			blocked: undefined,
			pbCache: undefined,
			userdMirror: undefined,
			userdMirrorView: undefined,
			currentGp: undefined,
			ce: this.copyEngine.createState(),
			error: undefined,
			stats: {
				gpEntries: 0,
				pbEntries: 0,
				methods: 0,
				nonStallInterrupts: 0,
				semaphoreReleases: 0,
				acquireBlocks: 0,
				tlbInvalidates: 0,
			},
		});
	}

	/**
	 * Remove a channel; its queued work is dropped and later doorbells with its token are ignored. `runlistId`
	 * selects the runlist when the CHID is registered on several.
	 * @throws EngineError `SIM_ENGINE_NO_CHANNEL`, `SIM_ENGINE_AMBIGUOUS_CHANNEL`.
	 */
	unregisterChannel(chid: number, runlistId?: number): void {
		const c = this.#get(chid, runlistId);
		c.removed = true;
		this.#channels.delete(channelKey(c.reg.runlistId, c.reg.chid));
		this.#afterPump();
	}

	/** Allow or forbid scheduling a channel (RM's GPFIFO_SCHEDULE). Doorbells to a disabled channel are kept. */
	setChannelEnabled(chid: number, enabled: boolean, runlistId?: number): void {
		const c = this.#get(chid, runlistId);
		c.enabled = enabled;
		if (enabled && c.status !== 'idle' && c.status !== 'error') this.#requestPump(this.#driver.now());
	}

	/**
	 * Take a channel out of the error state (RC recovery): the segment and method in progress are dropped and the
	 * channel continues at GP_GET on its next doorbell.
	 */
	resetChannel(chid: number, runlistId?: number): void {
		const c = this.#get(chid, runlistId);
		c.status = 'idle';
		c.error = undefined;
		c.blocked = undefined;
		c.segment = undefined;
		c.method = undefined;
		c.pbCache = undefined;
	}

	/**
	 * A work-submit token written to NOTIFY_CHANNEL_PENDING (CHID 11:0 | RUNLIST_ID 22:16). Invalid tokens — a
	 * reserved bit set, an unregistered CHID, a RUNLIST_ID that is not the channel's (nor Turing's "all") — are
	 * ignored and counted, as `dev_usermode.ref` specifies.
	 */
	doorbell(token: number): void {
		if (this.#closed) return;
		const t = token >>> 0;
		this.#doorbells++;
		this.#doorbellSync?.();
		if ((t & ~USERMODE.TOKEN_VALID_MASK) !== 0) {
			this.#ignore(t, 'reserved-bits');
			return;
		}
		const chid = get32(t, USERMODE.TOKEN_CHID);
		const runlist = get32(t, USERMODE.TOKEN_RUNLIST_ID);
		let c = this.#channels.get(channelKey(runlist, chid));
		if (c === undefined) {
			const others = [...this.#channels.values()].filter((x) => x.reg.chid === chid);
			if (others.length === 0) {
				this.#ignore(t, 'unknown-channel');
				return;
			}
			if (runlist !== this.#layout?.runlistIdAll || others.length !== 1) {
				this.#ignore(t, 'runlist-mismatch');
				return;
			}
			c = others[0]!;
		}
		if (this.#consume('drop-doorbell', chid) !== undefined) {
			this.#dropped++;
			return;
		}
		this.#kick(c);
	}

	/**
	 * Make a channel pending as a doorbell would, without a token (the simulated GSP-RM's own kicks).
	 * @throws EngineError `SIM_ENGINE_NO_CHANNEL`, `SIM_ENGINE_AMBIGUOUS_CHANNEL`.
	 */
	kick(chid: number, runlistId?: number): void {
		this.#kick(this.#get(chid, runlistId));
	}

	/**
	 * Set the class used for engine methods on subchannels that never saw SET_OBJECT (RM binds the copy object
	 * it allocated on the channel); `undefined` clears it.
	 * @throws InvalidArgumentError for a class the copy engine does not have; EngineError as {@link kick}.
	 */
	setEngineClass(chid: number, classId: number | undefined, runlistId?: number): void {
		const c = this.#get(chid, runlistId);
		if (classId !== undefined && !this.copyEngine.supports(classId)) {
			throw new InvalidArgumentError(`engineClass ${hex(classId, 4)} is not a copy class of this chip`, {
				engineClass: classId,
			});
		}
		c.engineClass = classId;
	}

	#kick(c: Channel): void {
		const chid = c.reg.chid;
		if (c.status === 'error') return;
		const now = this.#driver.now();
		let delay = 0n;
		for (;;) {
			const d = this.#consume('delay', chid);
			if (d === undefined) break;
			delay += (d.fault as { ns: bigint }).ns;
		}
		if (c.status === 'idle') {
			c.status = 'pending';
			c.readyAt = now + this.#latency + delay;
		} else if (c.status === 'pending' && delay > 0n) {
			const at = now + this.#latency + delay;
			if (at > c.readyAt) c.readyAt = at;
		}
		this.#requestPump(c.status === 'pending' && c.readyAt > now ? c.readyAt : now);
	}

	/**
	 * Run every channel that can make progress now, synchronously, until none can: the deterministic way for tests
	 * to let the GPU catch up. Time does not move; delayed doorbells wait for the clock.
	 * @throws EngineError `SIM_ENGINE_REENTRANT` when called from an error listener during a run.
	 */
	runUntilIdle(): RunSummary {
		this.#checkOpen();
		if (this.#pumping) {
			throw new EngineError('SIM_ENGINE_REENTRANT', 'runUntilIdle() called while the engine is running');
		}
		this.#pump();
		const now = this.#driver.now();
		const of = (pred: (c: Channel) => boolean) =>
			[...this.#channels.values()].filter(pred).map((c) => c.reg.chid);
		const hung = of(
			(c) =>
				(c.status === 'pending' || c.status === 'running') && this.#hostHung(c.reg.chid, c.reg.runlistId),
		);
		const waiting = of((c) => c.status === 'pending' && c.readyAt > now);
		const blocked = of((c) => c.status === 'blocked');
		const runnable = of(
			(c) =>
				c.enabled &&
				(c.status === 'running' || (c.status === 'pending' && c.readyAt <= now)) &&
				!this.#hostHung(c.reg.chid, c.reg.runlistId),
		);
		return {
			idle: runnable.length === 0,
			blocked,
			waiting,
			hung,
			errors: of((c) => c.status === 'error'),
		};
	}

	/**
	 * Inject a fault: hang the host (a channel stops progressing) or the copy engine (launches stall), delay
	 * doorbells, or drop them. Returns a handle to clear it.
	 */
	inject(fault: EngineFaultInjection): InjectedFault {
		this.#checkOpen();
		if (fault.kind === 'delay' && (typeof fault.ns !== 'bigint' || fault.ns < 0n)) {
			throw new InvalidArgumentError('delay injection needs a non-negative bigint ns', {
				ns: String(fault.ns),
			});
		}
		const count = 'count' in fault && fault.count !== undefined ? fault.count : Number.POSITIVE_INFINITY;
		const inj: Injection = { fault, remaining: count, active: true };
		this.#injections.add(inj);
		const self = this;
		return {
			fault,
			get active() {
				return inj.active;
			},
			clear() {
				if (!inj.active) return;
				inj.active = false;
				self.#injections.delete(inj);
				if (!self.#closed) self.#requestPump(self.#driver.now());
			},
		};
	}

	/** Stop timers and clock hooks; later doorbells are ignored. */
	close(): void {
		this.#closed = true;
		this.#pumpTimer?.cancel();
		this.#pumpTimer = undefined;
		this.#driver.close();
		this.#listeners.clear();
	}

	// ---------------------------------------------------------------------------------------------------------
	// Scheduling

	#checkOpen(): void {
		if (this.#closed) throw new EngineError('SIM_ENGINE_CLOSED', 'the host engine has been closed');
	}

	#find(chid: number, runlistId: number | undefined): Channel | undefined {
		if (runlistId !== undefined) return this.#channels.get(channelKey(runlistId, chid));
		let found: Channel | undefined;
		for (const c of this.#channels.values()) {
			if (c.reg.chid !== chid) continue;
			if (found !== undefined) {
				throw new EngineError(
					'SIM_ENGINE_AMBIGUOUS_CHANNEL',
					`channel ${chid} is registered on several runlists; name the runlist`,
					{ chid, runlists: [found.reg.runlistId, c.reg.runlistId] },
				);
			}
			found = c;
		}
		return found;
	}

	#get(chid: number, runlistId?: number): Channel {
		const c = this.#find(chid, runlistId);
		if (c === undefined) {
			throw new EngineError(
				'SIM_ENGINE_NO_CHANNEL',
				`channel ${chid}${runlistId === undefined ? '' : ` on runlist ${runlistId}`} is not registered`,
				{ chid, ...(runlistId === undefined ? {} : { runlistId }) },
			);
		}
		return c;
	}

	#ignore(token: number, reason: IgnoredDoorbellReason): void {
		this.#ignored++;
		this.#lastIgnored = { token, reason, timeNs: this.#driver.now() };
	}

	#consume(kind: 'delay' | 'drop-doorbell', chid: number): Injection | undefined {
		if (this.#injections.size === 0) return undefined;
		for (const inj of this.#injections) {
			const f = inj.fault;
			if (f.kind !== kind || (f.chid !== undefined && f.chid !== chid) || inj.remaining <= 0) continue;
			inj.remaining--;
			if (inj.remaining <= 0) {
				inj.active = false;
				this.#injections.delete(inj);
			}
			return inj;
		}
		return undefined;
	}

	#hostHung(chid: number, runlistId: number): boolean {
		if (this.#injections.size === 0) return false;
		for (const inj of this.#injections) {
			const f = inj.fault;
			if (
				f.kind === 'hang' &&
				f.engine === 'host' &&
				(f.chid === undefined || f.chid === chid) &&
				(f.runlistId === undefined || f.runlistId === runlistId)
			)
				return true;
		}
		return false;
	}

	#copyHung(chid: number, runlistId: number): boolean {
		if (this.#injections.size === 0) return false;
		for (const inj of this.#injections) {
			const f = inj.fault;
			if (
				f.kind === 'hang' &&
				f.engine === 'copy' &&
				(f.chid === undefined || f.chid === chid) &&
				(f.runlistId === undefined || f.runlistId === runlistId)
			)
				return true;
		}
		return false;
	}

	#requestPump(at: bigint): void {
		if (this.#closed) return;
		if (this.#pumpTimer !== undefined && this.#pumpAt !== undefined && this.#pumpAt <= at) return;
		this.#pumpTimer?.cancel();
		this.#pumpAt = at;
		this.#pumpTimer = this.#driver.at(at, () => {
			this.#pumpTimer = undefined;
			this.#pumpAt = undefined;
			this.#pump();
		});
	}

	#pump(): void {
		if (this.#closed) return;
		if (this.#pumping) {
			this.#again = true;
			return;
		}
		this.#pumping = true;
		this.#pumps++;
		try {
			// Round robin: every runnable channel gets one timeslice per round, until a round changes nothing.
			for (let round = 0; round < 1_000_000; round++) {
				this.#again = false;
				let progress = false;
				for (const c of [...this.#channels.values()]) if (this.#turn(c)) progress = true;
				if (!progress && !this.#again) break;
			}
		} finally {
			this.#pumping = false;
		}
		this.#afterPump();
	}

	#afterPump(): void {
		if (this.#closed) return;
		const now = this.#driver.now();
		let next: bigint | undefined;
		let tick = false;
		for (const c of this.#channels.values()) {
			if (c.status === 'pending' && c.readyAt > now && (next === undefined || c.readyAt < next))
				next = c.readyAt;
			if (c.status === 'blocked' && c.enabled) tick = true;
		}
		if (next !== undefined) this.#requestPump(next);
		this.#driver.setTicking(tick);
	}

	/** One timeslice of a channel; returns whether anything changed. */
	#turn(c: Channel): boolean {
		if (c.removed || !c.enabled || c.status === 'idle' || c.status === 'error') return false;
		if (c.readyAt > this.#driver.now() || this.#hostHung(c.reg.chid, c.reg.runlistId)) return false;
		let progress = false;
		c.pbCache = undefined;
		try {
			if (c.status === 'pending') {
				this.#load(c);
				c.status = 'running';
				progress = true;
			}
			if (c.blocked !== undefined) {
				if (!this.#retryBlocked(c)) {
					c.status = 'blocked';
					return progress;
				}
				c.status = 'running';
				progress = true;
			}
			let budget = this.#timeslice;
			while (budget > 0) {
				const seg = c.segment;
				if (seg !== undefined && seg.get < seg.end) {
					const dword = this.#fetchDword(c, seg);
					seg.get += 4n;
					if (seg.main) c.topLevelGet = seg.get;
					c.stats.pbEntries++;
					budget--;
					progress = true;
					const r = this.#entry(c, dword);
					if (r === 'block') {
						c.status = 'blocked';
						break;
					}
					if (r === 'yield') break;
					continue;
				}
				// The finished segment stays in place until the next one, so USERD GET reports where it ended.
				const put = this.#readUserd(c, USERD.GP_PUT);
				c.gpPut = put;
				if (put >= c.gpEntries) {
					stop({
						kind: 'gpptr',
						engine: 'host',
						detail: `GP_PUT ${put} is outside the ${c.gpEntries}-entry ring`,
					});
				}
				if (c.gpGet === put) {
					c.status = 'idle';
					progress = true;
					break;
				}
				this.#startGpEntry(c);
				budget--;
				progress = true;
			}
		} catch (e) {
			if (!(e instanceof EngineStop)) throw e;
			try {
				this.#writeBack(c);
			} catch (w) {
				// USERD itself may be what failed; the first error is the one reported.
				if (!(w instanceof EngineStop)) throw w;
			}
			this.#fail(c, e.info);
			return true;
		}
		try {
			this.#writeBack(c);
		} catch (e) {
			if (!(e instanceof EngineStop)) throw e;
			this.#fail(c, e.info);
			return true;
		}
		return progress;
	}

	// ---------------------------------------------------------------------------------------------------------
	// Channel context

	#load(c: Channel): void {
		// The host reads only what it needs of the instance block: RAMFC GP_BASE (when the registration has no
		// ring) and the PAGE_DIR_BASE pair at 0x200/0x204.
		const pdb: PageDirectoryBase =
			c.reg.pdb ??
			pageDirectoryBase(
				decodePageDirectoryWord(this.#instanceWord(c, RAMIN_PDB_LO), this.#instanceWord(c, RAMIN_PDB_LO + 4)),
			);
		if (c.reg.gpfifo !== undefined) {
			c.gpBase = c.reg.gpfifo.va;
			c.gpEntries = c.reg.gpfifo.entries;
		} else {
			const lo = this.#instanceWord(c, RAMFC.GP_BASE);
			const hi = this.#instanceWord(c, RAMFC.GP_BASE_HI);
			c.gpBase =
				(BigInt(get32(hi, RAMFC.GP_BASE_HI_OFFSET)) << 32n) | (BigInt(get32(lo, RAMFC.GP_BASE_OFFSET)) << 3n);
			c.gpEntries = 2 ** get32(hi, RAMFC.GP_BASE_HI_LIMIT2);
			if (c.gpBase + BigInt(c.gpEntries) * 8n - 1n > VA40) {
				stop({
					kind: 'gpfifo',
					engine: 'host',
					detail: `RAMFC GPFIFO ${hex(c.gpBase, 10)} (+${c.gpEntries} entries) crosses 2^40`,
				});
			}
		}
		// Mirror of USERD 0x40..0x63 (PUT … GET_HI), so progress is published with one write per turn.
		c.userdMirror = this.#userdRange(c, USERD.PUT, USERD_MIRROR_SIZE);
		c.userdMirrorView = new DataView(c.userdMirror.buffer);
		if (c.gpGet >= c.gpEntries) {
			stop({
				kind: 'gpptr',
				engine: 'host',
				detail: `GP_GET ${c.gpGet} is outside the ${c.gpEntries}-entry ring`,
			});
		}
		const space = {
			mmu: this.#mmu,
			memory: this.#memory,
			pdb,
			privileged: c.privileged,
			sparseWrites: this.#sparseWrites,
		};
		// The same tables keep the same space, and with it the pages it remembers (valid only while the TLB is
		// unchanged, so this never outlives an invalidate).
		if (c.space === undefined || !c.space.sameAs(space)) c.space = new ChannelAddressSpace(space);
	}

	/** A 32-bit word of the instance block (read as the host does, 8 bytes at a time). */
	#instanceWord(c: Channel, offset: number): number {
		const loc = c.reg.instanceBlock;
		const b = this.#scratch;
		physicalAccess(
			this.#memory,
			'host',
			'instance block read',
			'read',
			loc.aperture,
			loc.address + BigInt(offset),
			b,
		);
		return this.#scratchView.getUint32(0, true);
	}

	#space(c: Channel): ChannelAddressSpace {
		return c.space as ChannelAddressSpace;
	}

	#userdRange(c: Channel, offset: number, length: number): Uint8Array {
		const b = new Uint8Array(length);
		this.#userdAccess(c, 'read', offset, b);
		return b;
	}

	#readUserd(c: Channel, offset: number): number {
		this.#userdAccess(c, 'read', offset, this.#scratch4);
		return this.#scratchView.getUint32(0, true);
	}

	#userdAccess(c: Channel, dir: 'read' | 'write', offset: number, bytes: Uint8Array): void {
		const u = c.reg.userd;
		physicalAccess(this.#memory, 'host', `USERD ${dir}`, dir, u.aperture, u.address + BigInt(offset), bytes);
	}

	#writeUserd32(c: Channel, offset: number, value: number): void {
		this.#scratchView.setUint32(0, value >>> 0, true);
		this.#userdAccess(c, 'write', offset, this.#scratch4);
	}

	/** Publish the PBDMA's progress in USERD (GP_GET, GET/GET_HI, PUT/PUT_HI, TOP_LEVEL_GET(_HI), REF). */
	#writeBack(c: Channel): void {
		const mirror = c.userdMirror;
		const view = c.userdMirrorView;
		if (mirror === undefined || view === undefined) return;
		const seg = c.segment;
		if (seg !== undefined) {
			putPointer(view, USERD.GET - USERD.PUT, USERD.GET_HI - USERD.PUT, seg.get);
			putPointer(view, USERD.PUT - USERD.PUT, USERD.PUT_HI - USERD.PUT, seg.end);
		}
		if (c.topLevelGet !== undefined) {
			const top = c.topLevelGet;
			view.setUint32(USERD.TOP_LEVEL_GET - USERD.PUT, Number(top & 0xffff_ffffn), true);
			view.setUint32(
				USERD.TOP_LEVEL_GET_HI - USERD.PUT,
				(Number((top >> 32n) & 0xffn) | USERD.TOP_LEVEL_GET_HI_VALID) >>> 0,
				true,
			);
		}
		view.setUint32(USERD.REF - USERD.PUT, c.reference >>> 0, true);
		this.#userdAccess(c, 'write', USERD.PUT, mirror);
		this.#writeUserd32(c, USERD.GP_GET, c.gpGet);
	}

	// ---------------------------------------------------------------------------------------------------------
	// GPFIFO and pushbuffer

	#startGpEntry(c: Channel): void {
		const index = c.gpGet;
		this.#space(c).read(c.gpBase + BigInt(index * GP_ENTRY.SIZE), this.#scratch, 'host', 'gpfifo');
		const entry0 = this.#scratchView.getUint32(0, true);
		const entry1 = this.#scratchView.getUint32(4, true);
		// The entry is committed: GP_GET moves past it now, whatever the segment does later.
		c.gpGet = (index + 1) % c.gpEntries;
		c.currentGp = { index, entry0, entry1 };
		c.stats.gpEntries++;
		const gpEntry = c.currentGp;
		const length = get32(entry1, GP_ENTRY.LENGTH);
		if (length === 0) {
			const opcode = get32(entry1, GP_ENTRY.OPCODE);
			switch (opcode) {
				case GP_ENTRY.OPCODE_NOP:
				case GP_ENTRY.OPCODE_GP_CRC:
				case GP_ENTRY.OPCODE_PB_CRC:
					// CRC checks are accepted without comparing (see the engine README).
					return;
				case GP_ENTRY.OPCODE_SET_PB_SEGMENT_EXTENDED_BASE:
					if (c.hopper) {
						c.extendedBase = BigInt(get32(entry0, GP_ENTRY.PB_EXTENDED_BASE_OPERAND)) << 40n;
						return;
					}
					break;
			}
			stop({
				kind: 'gpentry',
				engine: 'host',
				detail: `GP entry ${index}: control opcode ${opcode}${opcode === GP_ENTRY.OPCODE_ILLEGAL ? ' (ILLEGAL)' : ' is undefined'}`,
				gpEntry,
			});
		}
		const low = (BigInt(get32(entry1, GP_ENTRY.GET_HI)) << 32n) | (BigInt(get32(entry0, GP_ENTRY.GET)) << 2n);
		if (low + BigInt(length) * 4n > GP_ENTRY.VA_LIMIT) {
			stop({
				kind: 'gpentry',
				engine: 'host',
				detail: `GP entry ${index}: segment ${hex(low, 10)} + ${length} dwords crosses the end of the 40-bit VA space`,
				gpEntry,
			});
		}
		if (get32(entry0, GP_ENTRY.FETCH) === 1 && !c.subdeviceActive) return;
		const va = c.extendedBase | low;
		const main = get32(entry1, GP_ENTRY.LEVEL) === 0;
		c.segment = { get: va, end: va + BigInt(length) * 4n, main };
		if (main) c.topLevelGet = va;
	}

	#fetchDword(c: Channel, seg: Segment): number {
		const cache = c.pbCache;
		if (cache !== undefined && seg.get >= cache.va && seg.get + 4n <= cache.va + BigInt(cache.length)) {
			return cache.view.getUint32(Number(seg.get - cache.va), true);
		}
		// Fetch to the end of the 4 KiB page or of the segment, never further: a fault belongs to the dword needed.
		const pageEnd = (seg.get | 0xfffn) + 1n;
		const length = Number((seg.end < pageEnd ? seg.end : pageEnd) - seg.get);
		const bytes = new Uint8Array(length);
		this.#space(c).read(seg.get, bytes, 'host', 'pushbuffer');
		c.pbCache = { va: seg.get, view: new DataView(bytes.buffer), length };
		return c.pbCache.view.getUint32(0, true);
	}

	/** One pushbuffer entry: method data, a method header or a control entry. */
	#entry(c: Channel, dword: number): MethodResult {
		const m = c.method;
		if (m !== undefined && m.remaining > 0) {
			const address = m.address;
			m.remaining--;
			if (m.mode === 'inc') m.address++;
			else if (m.mode === 'one-inc') {
				m.address++;
				m.mode = 'non-inc';
			}
			return c.subdeviceActive ? this.#method(c, m.subchannel, address, dword) : 'ok';
		}
		if (dword === PB.NOP) return 'ok';
		const sec = get32(dword, PB.SEC_OP);
		const address = get32(dword, PB.ADDRESS);
		const subchannel = get32(dword, PB.SUBCHANNEL);
		switch (sec) {
			case PB.SEC_OP_INC:
			case PB.SEC_OP_NON_INC:
			case PB.SEC_OP_ONE_INC: {
				const count = get32(dword, PB.COUNT);
				if (count === 0) return 'ok';
				if (sec === PB.SEC_OP_INC && address + count - 1 > PB.MAX_ADDRESS)
					invalidEntry(dword, 'incrementing method wraps');
				if (sec === PB.SEC_OP_ONE_INC && count > 1 && address + 1 > PB.MAX_ADDRESS) {
					invalidEntry(dword, 'increment-once method wraps');
				}
				c.method = {
					address,
					subchannel,
					remaining: count,
					mode: sec === PB.SEC_OP_INC ? 'inc' : sec === PB.SEC_OP_ONE_INC ? 'one-inc' : 'non-inc',
				};
				return 'ok';
			}
			case PB.SEC_OP_IMMD:
				return c.subdeviceActive ? this.#method(c, subchannel, address, get32(dword, PB.IMMD_DATA)) : 'ok';
			case PB.SEC_OP_END_PB_SEGMENT: {
				const seg = c.segment;
				if (seg !== undefined) seg.get = seg.end;
				return 'ok';
			}
			case PB.SEC_OP_GRP0: {
				const mask = get32(dword, PB.SUBDEVICE_MASK);
				switch (get32(dword, PB.CONTROL_OPCODE)) {
					case PB.CONTROL_SET_SUBDEVICE_MASK:
						c.subdeviceActive = (mask & SUBDEVICE_BIT) !== 0;
						return 'ok';
					case PB.CONTROL_STORE_SUBDEVICE_MASK:
						c.storedMask = mask;
						return 'ok';
					case PB.CONTROL_USE_SUBDEVICE_MASK:
						c.subdeviceActive = (c.storedMask & SUBDEVICE_BIT) !== 0;
						return 'ok';
					default:
						return invalidEntry(dword, 'obsolete incrementing-method format or undefined control entry');
				}
			}
			default:
				return invalidEntry(
					dword,
					`SEC_OP ${sec} is ${sec === PB.SEC_OP_GRP2 ? 'the obsolete non-incrementing format' : 'reserved'}`,
				);
		}
	}

	// ---------------------------------------------------------------------------------------------------------
	// Methods

	#method(c: Channel, subchannel: number, dwordAddress: number, data: number): MethodResult {
		const address = dwordAddress << 2;
		c.stats.methods++;
		try {
			return this.#execute(c, subchannel, address, data);
		} catch (e) {
			// Faults raised while executing (MMU, memory) name the method that caused them.
			if (e instanceof EngineStop && e.info.method === undefined) {
				const classId =
					address >= HOST.ENGINE_BASE ? (c.subchannels[subchannel] ?? c.engineClass) : undefined;
				throw new EngineStop({
					...e.info,
					method: { subchannel, address, data, ...(classId === undefined ? {} : { classId }) },
				});
			}
			throw e;
		}
	}

	#execute(c: Channel, subchannel: number, address: number, data: number): MethodResult {
		if (address >= HOST.ENGINE_BASE) return this.#engineMethod(c, subchannel, address, data);
		// No per-method closure for the error path: this runs for every host method.
		switch (address) {
			case HOST.SET_OBJECT: {
				if (subchannel >= PB.FIRST_SW_SUBCHANNEL)
					illegalMethod(subchannel, address, data, 'software subchannel (SW methods are not modelled)');
				const classId = get32(data, HOST.SET_OBJECT_NVCLASS);
				if (!this.copyEngine.supports(classId))
					illegalMethod(
						subchannel,
						address,
						data,
						`class ${hex(classId, 4)} is not supported by this engine`,
					);
				c.subchannels[subchannel] = classId;
				return 'ok';
			}
			case HOST.ILLEGAL:
				return illegalMethod(subchannel, address, data, 'ILLEGAL');
			case HOST.NOP:
			case HOST.WFI:
			case HOST.FB_FLUSH:
				// Engines complete their work before the next method, so waits and flushes have nothing to do.
				return 'ok';
			case HOST.NON_STALL_INTERRUPT:
				c.stats.nonStallInterrupts++;
				this.#interrupts.raise('nonstall');
				return 'ok';
			case HOST.MEM_OP_A:
				c.memOp.a = data;
				return 'ok';
			case HOST.MEM_OP_B:
				c.memOp.b = data;
				return 'ok';
			case HOST.MEM_OP_C:
				c.memOp.c = data;
				return 'ok';
			case HOST.MEM_OP_D:
				this.#memOp(c, subchannel, data);
				return 'ok';
			case HOST.SET_REFERENCE:
				c.reference = data >>> 0;
				this.#writeUserd32(c, USERD.REF, c.reference);
				return 'ok';
			case HOST.SEM_ADDR_LO:
				c.sem.addrLo = get32(data, HOST.SEM_ADDR_LO_OFFSET) * 4;
				return 'ok';
			case HOST.SEM_ADDR_HI:
				c.sem.addrHi = get32(data, c.hopper ? HOST.SEM_ADDR_HI_OFFSET_C86F : HOST.SEM_ADDR_HI_OFFSET);
				return 'ok';
			case HOST.SEM_PAYLOAD_LO:
				c.sem.payloadLo = data >>> 0;
				return 'ok';
			case HOST.SEM_PAYLOAD_HI:
				c.sem.payloadHi = data >>> 0;
				return 'ok';
			case HOST.SEM_EXECUTE:
				return this.#semExecute(c, subchannel, data);
			case HOST.YIELD: {
				const op = get32(data, HOST.YIELD_OP);
				return op === HOST.YIELD_OP_RUNLIST_TIMESLICE || op === HOST.YIELD_OP_TSG ? 'yield' : 'ok';
			}
			case HOST.CLEAR_FAULTED:
				return illegalMethod(
					subchannel,
					address,
					data,
					'CLEAR_FAULTED raises the METHOD interrupt (software handles it)',
				);
			default:
				return illegalMethod(subchannel, address, data, 'not a host method of this class');
		}
	}

	#memOp(c: Channel, subchannel: number, d: number): void {
		const op = get32(d, MEM_OP.D_OPERATION);
		switch (op) {
			case MEM_OP.OP_MEMBAR:
			case MEM_OP.OP_L2_PEERMEM_INVALIDATE:
			case MEM_OP.OP_L2_SYSMEM_INVALIDATE:
			case MEM_OP.OP_L2_CLEAN_COMPTAGS:
			case MEM_OP.OP_L2_FLUSH_DIRTY:
			case MEM_OP.OP_L2_WAIT_FOR_SYS_PENDING_READS:
				// No caches between the engines and memory are modelled: barriers and L2 maintenance are complete.
				return;
			case MEM_OP.OP_ACCESS_COUNTER_CLR:
				if (!c.privileged) illegalMethod(subchannel, HOST.MEM_OP_D, d, 'ACCESS_COUNTER_CLR is privileged');
				return;
			case MEM_OP.OP_MMU_TLB_INVALIDATE:
			case MEM_OP.OP_MMU_TLB_INVALIDATE_TARGETED: {
				if (!c.privileged)
					illegalMethod(
						subchannel,
						HOST.MEM_OP_D,
						d,
						'MMU_TLB_INVALIDATE is privileged (NV_PPBDMA_CONFIG_AUTH_LEVEL)',
					);
				const m = c.memOp.c;
				const all = get32(m, MEM_OP.C_TLB_INVALIDATE_PDB) === 1;
				const scope: InvalidateScope = {
					allVa: true,
					cacheLevel: get32(m, MEM_OP.C_TLB_INVALIDATE_PAGE_TABLE_LEVEL),
					...(all
						? {}
						: {
								pdb: {
									aperture: get32(m, MEM_OP.C_TLB_INVALIDATE_PDB_APERTURE) === 0 ? 'video' : 'system',
									address:
										(BigInt(get32(d, MEM_OP.D_TLB_INVALIDATE_PDB_ADDR_HI)) << 32n) |
										(BigInt(get32(m, MEM_OP.C_TLB_INVALIDATE_PDB_ADDR_LO)) << 12n),
								},
							}),
				};
				// A targeted invalidate drops everything of the PDB: the TLB model cannot name a page (a superset).
				this.#mmu.invalidate(scope);
				c.stats.tlbInvalidates++;
				return;
			}
			default:
				illegalMethod(subchannel, HOST.MEM_OP_D, d, `MEM_OP_D operation ${hex(op, 2)} is not modelled`);
		}
	}

	#semExecute(c: Channel, subchannel: number, data: number): MethodResult {
		const op = get32(data, SEM_EXECUTE.OPERATION);
		const bits: SemaphoreBits = get32(data, SEM_EXECUTE.PAYLOAD_SIZE) === 1 ? 64 : 32;
		const size = bits / 8;
		const va = (BigInt(c.sem.addrHi) << 32n) | BigInt(c.sem.addrLo >>> 0);
		const payload =
			bits === 64 ? (BigInt(c.sem.payloadHi) << 32n) | BigInt(c.sem.payloadLo) : BigInt(c.sem.payloadLo);
		if (va % BigInt(size) !== 0n)
			semaphoreError(subchannel, data, va, `a ${bits}-bit semaphore must be ${size}-byte aligned`);
		if (op === SEM_EXECUTE.OP_RELEASE || op === SEM_EXECUTE.OP_REDUCTION) {
			const timestamp = get32(data, SEM_EXECUTE.RELEASE_TIMESTAMP) === 1;
			if (timestamp && va % 16n !== 0n)
				semaphoreError(subchannel, data, va, 'a release with timestamp must be 16-byte aligned');
			const space = this.#space(c);
			if (timestamp) {
				// The timestamp is written before the payload, so an acquirer never sees a stale time.
				const ts = new Uint8Array(8);
				putLe(ts, 0, 8, this.#driver.now());
				space.write(va + 8n, ts, 'host', 'semaphore');
				if (bits === 32) space.write(va + 4n, new Uint8Array(4), 'host', 'semaphore');
			}
			if (op === SEM_EXECUTE.OP_RELEASE) {
				const b = new Uint8Array(size);
				putLe(b, 0, size, payload);
				space.write(va, b, 'host', 'semaphore');
			} else {
				const red = get32(data, SEM_EXECUTE.REDUCTION);
				const signed = get32(data, SEM_EXECUTE.REDUCTION_FORMAT) === 0;
				if (!hostReductionSupported(red, bits, signed)) {
					semaphoreError(
						subchannel,
						data,
						va,
						`reduction ${red} (${signed ? 'signed' : 'unsigned'} ${bits}-bit) is not supported`,
					);
				}
				space.atomic(va, size, 'host', 'semaphore', (old) => {
					const b = new Uint8Array(size);
					putLe(b, 0, size, reduce(red, getLe(old, 0, size), payload, bits, signed) as bigint);
					return b;
				});
			}
			c.pbCache = undefined;
			c.stats.semaphoreReleases++;
			return 'ok';
		}
		const blocked = { kind: 'acquire' as const, va, payload, operation: op, bits };
		const satisfied = this.#acquire(c, blocked);
		if (satisfied === undefined)
			return semaphoreError(subchannel, data, va, `operation ${op} is not defined`);
		if (satisfied) return 'ok';
		c.blocked = blocked;
		c.stats.acquireBlocks++;
		return 'block';
	}

	#acquire(c: Channel, b: BlockedOn & { kind: 'acquire' }): boolean | undefined {
		if (acquireSatisfied(b.operation, 0n, 0n, b.bits) === undefined) return undefined;
		const size = b.bits / 8;
		const bytes = new Uint8Array(size);
		this.#space(c).read(b.va, bytes, 'host', 'semaphore');
		return acquireSatisfied(b.operation, getLe(bytes, 0, size), b.payload, b.bits);
	}

	#retryBlocked(c: Channel): boolean {
		const b = c.blocked as BlockedOn;
		if (b.kind === 'acquire') {
			if (this.#acquire(c, b) !== true) return false;
		} else if (this.#dispatch(c, b.subchannel, b.classId, b.address, b.data) === 'stall') {
			return false;
		}
		c.blocked = undefined;
		return true;
	}

	#engineMethod(c: Channel, subchannel: number, address: number, data: number): MethodResult {
		if (subchannel >= PB.FIRST_SW_SUBCHANNEL) {
			illegalMethod(subchannel, address, data, 'software subchannel (SW methods are not modelled)');
		}
		const classId = c.subchannels[subchannel] ?? c.engineClass;
		if (classId === undefined)
			return illegalMethod(subchannel, address, data, 'no object is bound to the subchannel');
		if (this.#dispatch(c, subchannel, classId, address, data) === 'stall') {
			c.blocked = { kind: 'engine', subchannel, classId, address, data };
			return 'block';
		}
		return 'ok';
	}

	#dispatch(
		c: Channel,
		subchannel: number,
		classId: number,
		address: number,
		data: number,
	): 'done' | 'stall' {
		if (this.#copyHung(c.reg.chid, c.reg.runlistId)) return 'stall';
		this.copyEngine.method(
			{ chid: c.reg.chid, privileged: c.privileged, space: this.#space(c), state: c.ce },
			subchannel,
			classId,
			address,
			data,
		);
		// Only a launch writes memory (copies, semaphores), which may be the pushbuffer; other methods set registers.
		if (address === CE.LAUNCH_DMA) c.pbCache = undefined;
		return 'done';
	}

	// ---------------------------------------------------------------------------------------------------------
	// Errors

	#fail(c: Channel, info: StopInfo): void {
		const now = this.#driver.now();
		let fault: EngineFaultRecord | undefined;
		if (info.mmuFault !== undefined) {
			const f = info.mmuFault.fault;
			fault = {
				chid: c.reg.chid,
				runlistId: c.reg.runlistId,
				engine: info.engine,
				client: info.mmuFault.client,
				va: f.va,
				access: f.access,
				faultType: f.faultType,
				faultTypeName: f.faultTypeName,
				accessType: f.accessType,
				reason: f.reason,
				level: f.level,
				timeNs: now,
			};
			this.#faultLog.push(fault);
			if (this.#faultLog.length > FAULT_LOG_SIZE) this.#faultLog.shift();
		}
		const gpEntry = info.gpEntry ?? (info.kind === 'gpentry' ? c.currentGp : undefined);
		const report: ChannelErrorReport = {
			chid: c.reg.chid,
			runlistId: c.reg.runlistId,
			kind: info.kind,
			engine: info.engine,
			detail: info.detail,
			timeNs: now,
			...(fault === undefined ? {} : { fault }),
			...(info.method === undefined ? {} : { method: info.method }),
			...(gpEntry === undefined ? {} : { gpEntry }),
			...(info.pbEntry === undefined ? {} : { pbEntry: info.pbEntry }),
			...(c.reg.tag === undefined ? {} : { tag: c.reg.tag }),
		};
		c.status = 'error';
		c.error = report;
		c.blocked = undefined;
		for (const listener of [...this.#listeners]) {
			try {
				listener(report);
			} catch (e) {
				console.error(`gpu-sim host engine: channel error listener failed for chid ${c.reg.chid}:`, e);
			}
		}
	}

	#snapshot(c: Channel): ChannelSnapshot {
		return {
			chid: c.reg.chid,
			runlistId: c.reg.runlistId,
			class: c.reg.class,
			status: c.status,
			enabled: c.enabled,
			gpGet: c.gpGet,
			gpPut: c.gpPut,
			pbGet: c.segment !== undefined && c.segment.get < c.segment.end ? c.segment.get : undefined,
			subchannels: [...c.subchannels],
			reference: c.reference,
			...(c.blocked === undefined ? {} : { blockedOn: c.blocked }),
			...(c.error === undefined ? {} : { error: c.error }),
			stats: { ...c.stats },
		};
	}
}

function illegalMethod(subchannel: number, address: number, data: number, why: string): never {
	return stop({
		kind: 'illegal-method',
		engine: 'host',
		detail: `method ${hex(address, 4)} = ${hex(data)} on subchannel ${subchannel}: ${why}`,
		method: { subchannel, address, data },
	});
}

function semaphoreError(subchannel: number, data: number, va: bigint, why: string): never {
	return stop({
		kind: 'semaphore',
		engine: 'host',
		detail: `SEM_EXECUTE ${hex(data)} at ${hex(va, 10)}: ${why}`,
		method: { subchannel, address: HOST.SEM_EXECUTE, data },
	});
}

/** Store a pointer as the two little-endian words (low, high) USERD keeps it in. */
function putPointer(view: DataView, lo: number, hi: number, value: bigint): void {
	view.setUint32(lo, Number(value & 0xffff_ffffn), true);
	view.setUint32(hi, Number((value >> 32n) & 0xffff_ffffn), true);
}

function invalidEntry(dword: number, why: string): never {
	return stop({
		kind: 'pbentry',
		engine: 'host',
		detail: `pushbuffer entry ${hex(dword)}: ${why}`,
		pbEntry: dword,
	});
}

function checkLocation(
	loc: PhysicalLocation,
	align: bigint,
	what: string,
	bad: (message: string, details: Record<string, unknown>) => void,
): void {
	const apertures = ['video', 'sys-coherent', 'sys-noncoherent'];
	if (
		loc === undefined ||
		!apertures.includes(loc.aperture) ||
		typeof loc.address !== 'bigint' ||
		loc.address < 0n ||
		loc.address % align !== 0n
	) {
		bad(`${what} must be a ${align}-byte aligned physical location`, {
			[what]: loc === undefined ? 'undefined' : `${String(loc.aperture)}:${String(loc.address)}`,
		});
	}
}
