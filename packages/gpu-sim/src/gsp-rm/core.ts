/**
 * The emulated GSP-RM processor. One class, driven either by a worker thread's loop or by `step()` calls in
 * the driver's thread: it boots from the LIBOS arguments, links the queues, consumes the pre-queued
 * GSP_SET_SYSTEM_INFO and SET_REGISTRY, runs the CPU sequencer handshake, sends GSP_INIT_DONE, and then
 * serves RPCs (RM alloc/control/free, static info, unload) and raises events.
 *
 * @module
 */

import type { SimChipSpec } from '../chips.ts';
import type { ChannelErrorReport } from '../engines/types.ts';
import { type GspRmAbi, type GspRmFirmwareVersion, gspRmAbi } from './abi.ts';
import {
	BootFailure,
	checkSharedRegion,
	LibosLog,
	type LibosRegion,
	readLibosRegions,
	readRmArguments,
} from './boot.ts';
import { exceptTypeOf, type GspChannelSink, isGspChannelTag, rcTriggeredFields } from './channels.ts';
import { type GspChipConfig, gspChipConfig } from './chip-config.ts';
import { NV_STATUS, nvStatusName, REGISTRY_TYPE, RPC_RESULT } from './constants.ts';
import { GspRmError } from './errors.ts';
import { FaultState, type GspRmFault } from './faults.ts';
import { fbLayout } from './fb-layout.ts';
import type { GspMemory } from './memory.ts';
import { linkCheck, readTxHeader, statusQueueLayout, writeStatusQueueHeader } from './msgq.ts';
import { type RmChannelInfo, RmServer } from './rm.ts';
import { RmControls } from './rm-controls.ts';
import { buildSequencerPlan, type SequencerPlan, verifySequencerTrace } from './sequencer.ts';
import {
	armBusMonitor,
	disarmBusMonitor,
	type GspRmPhase,
	phaseCode,
	readBusTrace,
	readQueueRegister,
	SHARED,
	writeQueueRegister,
} from './shared-block.ts';
import { buildStaticInfo, type WprMetaInfo } from './static-info.ts';
import {
	GspTransport,
	type InboundMessage,
	type ProtocolError,
	type ProtocolErrorKind,
} from './transport.ts';

/** What the GSP processor is given at boot (the falcon model supplies it when it starts the GSP core). */
export interface GspRmStartArgs {
	/** Bus address of the LIBOS memory-region array (GSP MAILBOX1:MAILBOX0 at boot). */
	readonly libosArgs: bigint;
	/** The firmware version that was loaded (selects the ABI). */
	readonly firmwareVersion: GspRmFirmwareVersion;
	/** Bus address of the `GspFwWprMeta` the booter verified, if known (FB reserved area, r570 WPR offsets). */
	readonly wprMeta?: bigint;
}

/** How the core reaches the rest of the machine. */
export interface GspRmEnvironment {
	readonly chip: SimChipSpec;
	readonly vramSize: bigint;
	readonly memory: GspMemory;
	/** The shared block (doorbell counter, queue registers). */
	readonly block: Int32Array;
	/** The GSP's clock in ns (virtual in-thread, real in a worker). */
	now(): bigint;
	/** Raise the GSP → CPU interrupt (the 'gsp' line, falcon IRQSTAT.SWGEN0). */
	interrupt(): void;
	/** Unload finished: set GSP MAILBOX0 bit 31. */
	unloaded(): void;
	/** A line for the simulator's log. */
	log(line: string): void;
	/**
	 * Where RM's channel changes go (register/enable/engine class/unregister/reset), in order and synchronously
	 * while the RPC is handled, i.e. before its reply is published. Unset: channels exist only in RM's tree.
	 */
	readonly channels?: GspChannelSink;
}

/** Result of one {@link GspRmCore.step}. */
export interface GspRmStepResult {
	/** Whether anything was read, written or changed. */
	readonly progressed: boolean;
	readonly phase: GspRmPhase;
	/** A delayed reply is due at this time: step again then. */
	readonly wakeAt: bigint | undefined;
	/** Replies wait for the CPU to free status-queue slots (it does not ring for that): poll soon. */
	readonly pollSoon: boolean;
}

/** A registry entry from SET_REGISTRY. */
export type RegistryValue = number | Uint8Array | string;

/** One object of the RM tree, for inspection. */
export interface GspRmObjectSummary {
	readonly hClient: number;
	readonly hObject: number;
	readonly hParent: number;
	readonly classId: number;
	readonly kind: string;
}

/** A plain-data picture of the emulator (clonable across threads). */
export interface GspRmSnapshot {
	readonly phase: GspRmPhase;
	readonly hung: boolean;
	readonly firmwareVersion: GspRmFirmwareVersion | undefined;
	/** Why boot failed, if it did. */
	readonly failure: string | undefined;
	readonly registry: ReadonlyMap<string, RegistryValue>;
	/** Selected `GspSystemInfo` fields as received. */
	readonly systemInfo: Readonly<Record<string, unknown>> | undefined;
	readonly objects: readonly GspRmObjectSummary[];
	readonly channels: readonly {
		readonly hClient: number;
		readonly hObject: number;
		readonly info: RmChannelInfo;
	}[];
	readonly internalHandles:
		| { readonly hClient: number; readonly hDevice: number; readonly hSubdevice: number }
		| undefined;
	readonly counters: {
		readonly commands: number;
		readonly replies: number;
		readonly events: number;
		readonly droppedDoorbells: number;
		readonly protocolErrors: Readonly<Record<ProtocolErrorKind, number>>;
	};
	readonly barPdeUpdates: readonly {
		readonly barType: number;
		readonly entryValue: bigint;
		readonly entryLevelShift: number;
	}[];
	/** The last log lines (at most 200). */
	readonly log: readonly string[];
}

/** Event name → payload struct, for events raised with an object payload. */
const EVENT_LAYOUTS: Readonly<Record<string, string>> = {
	RC_TRIGGERED: 'rpc_rc_triggered_v17_02',
	OS_ERROR_LOG: 'rpc_os_error_log_v17_00',
	POST_EVENT: 'rpc_post_event_v17_00',
	GSP_RUN_CPU_SEQUENCER: 'rpc_run_cpu_sequencer_v17_00',
};

/** An event payload: raw bytes, or fields of the event's struct (strings for `char[]`, bytes for arrays). */
export type GspRmEventPayload =
	| Uint8Array
	| Readonly<Record<string, number | bigint | boolean | string | Uint8Array>>;

/** Encode an event payload for `name` in `abi`. @throws GspRmError for an unknown event or field. */
export function encodeEventPayload(
	abi: GspRmAbi,
	name: string,
	payload: GspRmEventPayload | undefined,
): Uint8Array {
	if (abi.eventId(name) === undefined) {
		throw new GspRmError('SIM_GSP_RM_UNKNOWN_EVENT', `firmware ${abi.version} has no event ${name}`, {
			name,
			version: abi.version,
		});
	}
	if (payload === undefined) return new Uint8Array(0);
	if (payload instanceof Uint8Array) return payload.slice();
	const layout = EVENT_LAYOUTS[name];
	if (layout === undefined) {
		throw new GspRmError('SIM_GSP_RM_ARGUMENT', `event ${name} takes a raw Uint8Array payload`, { name });
	}
	const fixed = abi.sizeOf(layout);
	// A flexible array member (eventData, rcJournalBuffer, commandBuffer) given as bytes follows the fixed part.
	const flexName = abi.layout(layout).fields.find((f) => f.layout.kind === 'flex')?.name;
	const tailValue = flexName === undefined ? undefined : payload[flexName];
	const tail = tailValue instanceof Uint8Array ? tailValue : new Uint8Array(0);
	const out = new Uint8Array(fixed + tail.length);
	const img = abi.image(layout, out.subarray(0, fixed));
	for (const [key, value] of Object.entries(payload)) {
		if (key === flexName) continue;
		try {
			if (typeof value === 'string') img.setString(key, value);
			else if (value instanceof Uint8Array) img.setBytes(key, value);
			else img.set(key, value);
		} catch (e) {
			throw new GspRmError('SIM_GSP_RM_ARGUMENT', `event ${name}: ${(e as Error).message}`, {
				name,
				field: key,
			});
		}
	}
	out.set(tail, fixed);
	return out;
}

const NO_ERRORS: Record<ProtocolErrorKind, number> = {
	checksum: 0,
	header: 0,
	sequence: 0,
	'element-size': 0,
	continuation: 0,
	'queue-pointer': 0,
};

/** The GSP-RM processor. */
export class GspRmCore {
	readonly faults = new FaultState();
	readonly #env: GspRmEnvironment;
	readonly #chip: GspChipConfig;
	#phase: GspRmPhase = 'off';
	#start: GspRmStartArgs | undefined;
	#abi: GspRmAbi | undefined;
	#rm: RmServer | undefined;
	#controls: RmControls | undefined;
	#transport: GspTransport | undefined;
	#initLog: LibosLog | undefined;
	#rmLog: LibosLog | undefined;
	#failure: string | undefined;
	#registry = new Map<string, RegistryValue>();
	#systemInfo: Record<string, unknown> | undefined;
	#gotSystemInfo = false;
	#plan: SequencerPlan | undefined;
	#wpr: WprMetaInfo | undefined;
	#bootCount = 0;
	#seenDoorbells = 0;
	#doorbellPending = false;
	#unloadAfterFlush = false;
	#counters = { commands: 0, replies: 0, events: 0, droppedDoorbells: 0 };
	#protocolErrors: Record<ProtocolErrorKind, number> = { ...NO_ERRORS };
	#barPdeUpdates: { barType: number; entryValue: bigint; entryLevelShift: number }[] = [];
	#log: string[] = [];

	constructor(env: GspRmEnvironment) {
		this.#env = env;
		this.#chip = gspChipConfig(env.chip);
		this.#publishPhase();
	}

	/** The current phase. */
	get phase(): GspRmPhase {
		return this.#phase;
	}

	/** The ABI of the booted firmware (after {@link GspRmCore.start}). */
	get abi(): GspRmAbi | undefined {
		return this.#abi;
	}

	/** The RM server (after boot got far enough to create it). */
	get rm(): RmServer | undefined {
		return this.#rm;
	}

	/** Start the GSP core with the LIBOS arguments (what the boot ROM hands GSP-RM). */
	start(args: GspRmStartArgs): void {
		if (this.#phase !== 'off') {
			throw new GspRmError(
				'SIM_GSP_RM_STATE',
				`the GSP is already ${this.#phase}; reset it before starting again`,
				{
					phase: this.#phase,
				},
			);
		}
		this.#abi = gspRmAbi(args.firmwareVersion);
		this.#start = args;
		this.#bootCount++;
		this.#seenDoorbells = Atomics.load(this.#env.block, SHARED.DOORBELLS);
		this.#setPhase('booting');
		this.#note(
			`GSP-RM ${args.firmwareVersion} (simulated) starting on ${this.#chip.shortName}, LIBOS args at 0x${args.libosArgs.toString(16)}`,
		);
	}

	/** Reset the GSP (falcon reset): everything is forgotten, faults disarmed; `start` may be called again. */
	reset(): void {
		if (this.#rm !== undefined) this.#env.channels?.({ type: 'reset' });
		this.#phase = 'off';
		this.#start = undefined;
		this.#abi = undefined;
		this.#rm = undefined;
		this.#controls = undefined;
		this.#transport = undefined;
		this.#initLog = undefined;
		this.#rmLog = undefined;
		this.#failure = undefined;
		this.#registry = new Map();
		this.#systemInfo = undefined;
		this.#gotSystemInfo = false;
		this.#plan = undefined;
		this.#wpr = undefined;
		this.#doorbellPending = false;
		this.#unloadAfterFlush = false;
		this.#barPdeUpdates = [];
		this.#counters = { commands: 0, replies: 0, events: 0, droppedDoorbells: 0 };
		this.#protocolErrors = { ...NO_ERRORS };
		this.faults.apply({ kind: 'clear' });
		// A falcon reset clears the GSP's queue registers; the doorbell count stays monotonic.
		for (let i = SHARED.REGS; i < SHARED.LENGTH; i++) Atomics.store(this.#env.block, i, 0);
		Atomics.store(this.#env.block, SHARED.HUNG, 0);
		this.#publishPhase();
	}

	/** Arm or disarm a fault. */
	applyFault(f: GspRmFault): void {
		this.faults.apply(f);
		Atomics.store(this.#env.block, SHARED.HUNG, this.faults.hung ? 1 : 0);
	}

	/**
	 * Queue event `name` (an `NV_VGPU_MSG_EVENT_*` name of the booted branch) with `payload`.
	 * @throws GspRmError when the GSP cannot send events yet or the event does not exist in this branch.
	 */
	raiseEvent(name: string, payload?: GspRmEventPayload): void {
		const abi = this.#abi;
		if (
			abi === undefined ||
			this.#transport === undefined ||
			this.#phase === 'failed' ||
			this.#phase === 'unloaded'
		) {
			throw new GspRmError('SIM_GSP_RM_STATE', `the GSP cannot send events while ${this.#phase}`, {
				phase: this.#phase,
			});
		}
		const bytes = encodeEventPayload(abi, name, payload);
		this.#sendEvent(abi.eventId(name)!, bytes);
	}

	/**
	 * An engine stopped a channel RM registered: raise MMU_FAULT_QUEUED (for MMU faults) and RC_TRIGGERED naming
	 * the channel's engine type, CHID and Xid, as GSP-RM's robust-channel handling does. Reports about channels
	 * RM did not register, or that it has freed since, are ignored. Returns whether events were queued.
	 */
	channelError(report: ChannelErrorReport): boolean {
		const abi = this.#abi;
		const rm = this.#rm;
		if (abi === undefined || rm === undefined || this.#transport === undefined || this.#phase !== 'running')
			return false;
		if (report.tag !== undefined && !isGspChannelTag(report.tag)) return false;
		const ch = rm.findChannel(report.runlistId, report.chid);
		if (ch === undefined) {
			this.#note(`engine error on chid ${report.chid} (runlist ${report.runlistId}), which RM does not have`);
			return false;
		}
		const engine = rm.engines.find((e) => rm.nv2080EngineType(e) === ch.info.engineType);
		const ceInstance = engine?.devType === 0x13 ? engine.instance : 0;
		const exceptType = exceptTypeOf(report, ceInstance);
		const line = `RC: chid ${report.chid} runlist ${report.runlistId} (${ch.info.engineName}) Xid ${exceptType}: ${report.kind} — ${report.detail}`;
		this.#note(line);
		this.#rmLog?.write(line);
		if (report.kind === 'mmu-fault') {
			const id = abi.eventId('MMU_FAULT_QUEUED');
			// The fault record itself would go to the shadow fault buffer, which is not modelled: no payload.
			if (id !== undefined) this.#sendEvent(id, new Uint8Array(0));
		}
		this.#sendEvent(
			abi.eventId('RC_TRIGGERED')!,
			encodeEventPayload(abi, 'RC_TRIGGERED', rcTriggeredFields(abi, report, ch.info, exceptType)),
		);
		return true;
	}

	/** Do all the work there is now. */
	step(): GspRmStepResult {
		const phaseBefore = this.#phase;
		let progressed = false;
		if (this.#phase === 'off' || this.#phase === 'failed' || this.#phase === 'unloaded' || this.faults.hung) {
			return { progressed, phase: this.#phase, wakeAt: undefined, pollSoon: false };
		}
		try {
			progressed = this.#observeDoorbells() || progressed;
			this.#transport?.refresh();
			switch (this.#phase) {
				case 'booting':
					this.#boot();
					progressed = true;
					if (this.#currentPhase() === 'await-system-info')
						progressed = this.#awaitSystemInfo() || progressed;
					break;
				case 'await-system-info':
					progressed = this.#awaitSystemInfo() || progressed;
					break;
				case 'sequencer':
					progressed = this.#checkSequencer() || progressed;
					break;
				case 'running':
					if (this.#doorbellPending) {
						this.#doorbellPending = false;
						progressed = this.#serve() || progressed;
					}
					break;
			}
		} catch (e) {
			if (e instanceof BootFailure) this.#fail(e.message);
			else if (e instanceof Error && (e as { code?: string }).code === 'SIM_DMA_FAULT')
				this.#fail(`DMA fault: ${e.message}`);
			else throw e;
			progressed = true;
		}
		let wakeAt: bigint | undefined;
		let pollSoon = false;
		if (this.#transport !== undefined && this.#currentPhase() !== 'failed') {
			try {
				const r = this.#transport.flush(this.#env.now());
				if (r.written > 0) {
					progressed = true;
					this.#env.interrupt();
				}
				wakeAt = r.nextAt;
				pollSoon = r.blockedOnSpace;
				if (r.queued === 0 && this.#unloadAfterFlush) {
					this.#unloadAfterFlush = false;
					this.#setPhase('unloaded');
					this.#env.channels?.({ type: 'reset' });
					this.#env.unloaded();
					progressed = true;
				}
			} catch (e) {
				if (e instanceof Error && (e as { code?: string }).code === 'SIM_DMA_FAULT')
					this.#fail(`DMA fault: ${e.message}`);
				else throw e;
			}
		}
		return {
			progressed: progressed || this.#currentPhase() !== phaseBefore,
			phase: this.#currentPhase(),
			wakeAt,
			pollSoon,
		};
	}

	/** A plain-data picture of the emulator. */
	snapshot(): GspRmSnapshot {
		const rm = this.#rm;
		const objects: GspRmObjectSummary[] = [];
		if (rm !== undefined) {
			for (const c of rm.clients.values()) {
				for (const o of c.objects.values()) {
					objects.push({
						hClient: c.handle,
						hObject: o.handle,
						hParent: o.parent.handle,
						classId: o.classId,
						kind: o.kind,
					});
				}
			}
		}
		return {
			phase: this.#phase,
			hung: this.faults.hung,
			firmwareVersion: this.#abi?.version,
			failure: this.#failure,
			registry: new Map(this.#registry),
			systemInfo: this.#systemInfo,
			objects,
			channels: rm?.channels().map((c) => ({ ...c, info: { ...c.info } })) ?? [],
			internalHandles: rm?.internal,
			counters: { ...this.#counters, protocolErrors: { ...this.#protocolErrors } },
			barPdeUpdates: [...this.#barPdeUpdates],
			log: this.#log.slice(-200),
		};
	}

	// ───────────────────────────── internals ─────────────────────────────

	#currentPhase(): GspRmPhase {
		return this.#phase;
	}

	#setPhase(p: GspRmPhase): void {
		this.#phase = p;
		this.#publishPhase();
	}

	#publishPhase(): void {
		Atomics.store(this.#env.block, SHARED.PHASE, phaseCode(this.#phase));
	}

	#note(line: string): void {
		this.#log.push(line);
		if (this.#log.length > 1000) this.#log.splice(0, this.#log.length - 1000);
		this.#env.log(line);
	}

	#fail(reason: string): void {
		this.#failure = reason;
		disarmBusMonitor(this.#env.block);
		this.#note(`GSP-RM init failed: ${reason}`);
		try {
			this.#initLog?.write(`GSP-RM init failed: ${reason}`);
		} catch {
			// The log buffer itself is unusable: nothing more firmware could do.
		}
		if (this.#transport !== undefined) {
			try {
				this.#sendOsErrorLog(`GSP-RM: ${reason}`);
				const r = this.#transport.flush(this.#env.now());
				if (r.written > 0) this.#env.interrupt();
			} catch {
				// The queue is what failed.
			}
		}
		this.#setPhase('failed');
	}

	#observeDoorbells(): boolean {
		const total = Atomics.load(this.#env.block, SHARED.DOORBELLS);
		let changed = false;
		while (this.#seenDoorbells !== total) {
			this.#seenDoorbells = (this.#seenDoorbells + 1) | 0;
			changed = true;
			if (this.faults.takeDoorbellDrop()) {
				this.#counters.droppedDoorbells++;
				this.#note('doorbell dropped (fault injection)');
			} else {
				this.#doorbellPending = true;
			}
		}
		return changed;
	}

	#boot(): void {
		const abi = this.#abi!;
		const env = this.#env;
		const start = this.#start!;
		const regions = readLibosRegions(env.memory, abi, start.libosArgs);
		const byName = new Map(regions.map((r) => [r.name, r]));
		const logRegion = (name: string): LibosLog | undefined => {
			const r = byName.get(name);
			if (r === undefined) return undefined;
			const log = new LibosLog(env.memory, r);
			if (!log.ptesValid()) {
				this.#note(`LIBOS log buffer ${name}: its PTE array does not map the buffer; not logging there`);
				return undefined;
			}
			return log;
		};
		this.#initLog = logRegion('LOGINIT');
		this.#rmLog = logRegion('LOGRM');
		this.#initLog?.write(`GSP-RM ${abi.version} (simulated ${this.#chip.shortName}) booting`);
		const rmargs: LibosRegion | undefined = byName.get('RMARGS');
		if (rmargs === undefined) throw new BootFailure('no RMARGS region in the LIBOS arguments');
		const args = readRmArguments(env.memory, abi, rmargs);
		if (args.srInitArguments.bInPMTransition !== 0) {
			throw new BootFailure('resume from a power transition is not supported by the simulated GSP-RM');
		}
		const shared = checkSharedRegion(env.memory, args.queue);
		const region = env.memory.view(shared.base, shared.size, 'write');
		const cmdHeader = readTxHeader(region, shared.cmdQueueOffset);
		const link = linkCheck(cmdHeader, shared.cmdQueueOffset, shared.statQueueOffset - shared.cmdQueueOffset);
		if (!link.ok) throw new BootFailure(`command queue link failed (${link.code}): ${link.reason}`);
		const statq = statusQueueLayout(shared.statQueueOffset, shared.size - shared.statQueueOffset);
		if (statq.msgCount < 2)
			throw new BootFailure(`status queue of 0x${statq.size.toString(16)} bytes has no room for messages`);
		if (start.wprMeta !== undefined) this.#wpr = this.#readWprMeta(start.wprMeta);
		const fb = fbLayout(env.vramSize, this.#wpr?.gspFwRsvdStart);
		this.#rm = new RmServer(abi, this.#chip, fb);
		this.#rm.onChannelEvent = (e) => this.#env.channels?.(e);
		this.#controls = new RmControls(this.#rm);
		writeStatusQueueHeader(region, statq);
		this.#transport = new GspTransport({
			memory: env.memory,
			regionBase: shared.base,
			regionSize: shared.size,
			cmdq: link.layout,
			statq,
			continuationFunction: abi.functionId('CONTINUATION_RECORD'),
			announcedSize: (fn, chunk) => this.#announcedSize(fn, chunk),
			onProtocolError: (e) => this.#protocolError(e),
		});
		// The CPU may have queued before the GSP ran: start reading where the CPU's header says we are.
		this.#note(
			`queues linked: region 0x${shared.base.toString(16)} (${shared.pteCount} PTEs), cmdq ${link.layout.msgCount} slots, statq ${statq.msgCount} slots`,
		);
		this.#setPhase('await-system-info');
	}

	#readWprMeta(address: bigint): WprMetaInfo | undefined {
		const abi = this.#abi!;
		try {
			const m = abi.decode('GspFwWprMeta', this.#env.memory.view(address, abi.sizeOf('GspFwWprMeta')));
			if (m.magic !== 0xdc3aae21371a60b3n) {
				this.#note(`GspFwWprMeta at 0x${address.toString(16)} has a bad magic; using the default FB layout`);
				return undefined;
			}
			return {
				gspFwRsvdStart: m.gspFwRsvdStart as bigint,
				nonWprHeapOffset: m.nonWprHeapOffset as bigint,
				frtsOffset: m.frtsOffset as bigint,
				fbSize: m.fbSize as bigint,
			};
		} catch (e) {
			this.#note(
				`GspFwWprMeta at 0x${address.toString(16)} unreadable (${(e as Error).message}); using the default FB layout`,
			);
			return undefined;
		}
	}

	#announcedSize(fn: number, chunk: Uint8Array): number | undefined {
		const name = this.#abi!.functionName(fn);
		const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
		switch (name) {
			case 'GSP_RM_CONTROL':
				return chunk.length >= 24 ? 24 + dv.getUint32(16, true) : undefined;
			case 'GSP_RM_ALLOC':
				return chunk.length >= 32 ? 32 + dv.getUint32(20, true) : undefined;
			case 'SET_REGISTRY':
				return chunk.length >= 8 ? dv.getUint32(0, true) : undefined;
			default:
				return undefined;
		}
	}

	#protocolError(e: ProtocolError): void {
		this.#protocolErrors[e.kind]++;
		this.#note(`protocol error (${e.kind}): ${e.message}`);
		this.#rmLog?.write(`protocol error (${e.kind}): ${e.message}`);
		this.#sendOsErrorLog(`GSP-RM: ${e.message}`);
	}

	#sendOsErrorLog(text: string): void {
		const abi = this.#abi!;
		const id = abi.eventId('OS_ERROR_LOG');
		if (id === undefined || this.#transport === undefined) return;
		this.#sendEvent(id, encodeEventPayload(abi, 'OS_ERROR_LOG', { errString: text.slice(0, 255) }));
	}

	#sendEvent(id: number, payload: Uint8Array): void {
		this.#counters.events++;
		this.#transport!.enqueue({
			function: id,
			sequence: 0,
			rpcResult: 0,
			payload,
			notBefore: this.#env.now(),
		});
	}

	#reply(msg: InboundMessage, payload: Uint8Array, rpcResult = 0): void {
		const f = this.faults.takeReplyFaults();
		this.#counters.replies++;
		this.#transport!.enqueue({
			function: msg.function,
			sequence: msg.sequence,
			rpcResult,
			payload,
			notBefore: this.#env.now() + f.delayNs,
			faults: f,
		});
	}

	#awaitSystemInfo(): boolean {
		const abi = this.#abi!;
		let progressed = false;
		for (;;) {
			const msg = this.#transport!.receive();
			if (msg === undefined) return progressed;
			progressed = true;
			this.#counters.commands++;
			const name = abi.functionName(msg.function);
			if (name === 'GSP_SET_SYSTEM_INFO' && !this.#gotSystemInfo) {
				this.#takeSystemInfo(msg.payload);
				this.#gotSystemInfo = true;
			} else if (name === 'SET_REGISTRY' && this.#gotSystemInfo) {
				this.#takeRegistry(msg.payload);
				this.#beginSequencer();
				return true;
			} else {
				throw new BootFailure(
					`expected ${this.#gotSystemInfo ? 'SET_REGISTRY (73)' : 'GSP_SET_SYSTEM_INFO (72)'} before init, got function ${msg.function}${name === undefined ? '' : ` (${name})`}`,
				);
			}
		}
	}

	#takeSystemInfo(payload: Uint8Array): void {
		const abi = this.#abi!;
		const size = abi.sizeOf('GspSystemInfo');
		if (payload.length !== size) {
			throw new BootFailure(
				`GSP_SET_SYSTEM_INFO carries ${payload.length} bytes; GspSystemInfo of firmware ${abi.version} is ${size}`,
			);
		}
		const s = abi.decode('GspSystemInfo', payload);
		const keep = [
			'gpuPhysAddr',
			'gpuPhysFbAddr',
			'gpuPhysInstAddr',
			'nvDomainBusDeviceFunc',
			'maxUserVa',
			'PCIDeviceID',
			'PCISubDeviceID',
			'PCIRevisionID',
			'hostPageSize',
		];
		this.#systemInfo = Object.fromEntries(keep.filter((k) => k in s).map((k) => [k, s[k]]));
		const dev = s.PCIDeviceID as number | undefined;
		const want = ((this.#env.chip.deviceId << 16) | 0x10de) >>> 0;
		if (dev !== undefined && dev !== 0 && dev >>> 0 !== want) {
			this.#note(
				`GspSystemInfo.PCIDeviceID 0x${(dev >>> 0).toString(16)} differs from the board's 0x${want.toString(16)}`,
			);
		}
		this.#initLog?.write('system info received');
	}

	#takeRegistry(payload: Uint8Array): void {
		const abi = this.#abi!;
		if (payload.length < 8)
			throw new BootFailure(`SET_REGISTRY payload of ${payload.length} bytes has no table header`);
		const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
		const size = dv.getUint32(0, true);
		const count = dv.getUint32(4, true);
		const entrySize = abi.sizeOf('PACKED_REGISTRY_ENTRY');
		const entriesStart = abi.sizeOf('PACKED_REGISTRY_TABLE');
		if (size > payload.length || size < entriesStart + count * entrySize) {
			throw new BootFailure(
				`PACKED_REGISTRY_TABLE: size ${size} with ${count} entries does not fit the ${payload.length}-byte payload`,
			);
		}
		const table = payload.subarray(0, size);
		for (let i = 0; i < count; i++) {
			const e = abi.decode('PACKED_REGISTRY_ENTRY', table, entriesStart + i * entrySize);
			const nameOffset = e.nameOffset as number;
			const end = nameOffset < size ? table.indexOf(0, nameOffset) : -1;
			if (end < 0)
				throw new BootFailure(
					`registry entry ${i}: name at ${nameOffset} is not a NUL-terminated string inside the table`,
				);
			const key = new TextDecoder('latin1').decode(table.subarray(nameOffset, end));
			const type = e.type as number;
			const data = e.data as number;
			const length = e.length as number;
			if (type === REGISTRY_TYPE.DWORD) {
				if (length !== 4) throw new BootFailure(`registry entry ${key}: DWORD with length ${length}`);
				this.#registry.set(key, data >>> 0);
			} else if (type === REGISTRY_TYPE.BINARY || type === REGISTRY_TYPE.STRING) {
				if (data + length > size)
					throw new BootFailure(`registry entry ${key}: data ${data}+${length} outside the table`);
				const bytes = table.slice(data, data + length);
				this.#registry.set(
					key,
					type === REGISTRY_TYPE.STRING ? new TextDecoder('latin1').decode(bytes).replace(/\0+$/, '') : bytes,
				);
			} else {
				throw new BootFailure(`registry entry ${key}: unknown type ${type}`);
			}
		}
		this.#initLog?.write(`registry: ${[...this.#registry.keys()].join(', ') || '(empty)'}`);
	}

	#beginSequencer(): void {
		const plan = buildSequencerPlan(this.#abi!, 0x1234 + this.#bootCount * 0x111);
		this.#plan = plan;
		for (const p of plan.presets) writeQueueRegister(this.#env.block, p.offset, p.value);
		armBusMonitor(this.#env.block, plan.watch, plan.gate);
		this.#sendEvent(this.#abi!.eventId('GSP_RUN_CPU_SEQUENCER')!, plan.payload);
		this.#setPhase('sequencer');
	}

	#checkSequencer(): boolean {
		const plan = this.#plan!;
		const block = this.#env.block;
		if (readQueueRegister(block, plan.done.offset) !== plan.done.value) return false;
		const verdict = verifySequencerTrace(plan, readBusTrace(block));
		disarmBusMonitor(block);
		if (!verdict.ok) throw new BootFailure(`CPU sequencer program not executed correctly: ${verdict.reason}`);
		const saved = [...verdict.stored]
			.sort(([a], [b]) => a - b)
			.map(([i, v]) => `regSaveArea[${i}] = 0x${v.toString(16)}`)
			.join(', ');
		this.#initLog?.write(
			`CPU sequencer done: ${plan.steps.length} commands checked on the bus (REG_POLL settled after ${verdict.pollReads} reads, DELAY_US took ${verdict.delayNs} ns; ${saved}); GSP-RM init complete`,
		);
		this.#sendEvent(this.#abi!.eventId('GSP_INIT_DONE')!, new Uint8Array(0));
		this.#setPhase('running');
		return true;
	}

	#serve(): boolean {
		let progressed = false;
		for (;;) {
			if (this.#phase !== 'running' || this.#unloadAfterFlush) return progressed;
			const msg = this.#transport!.receive();
			if (msg === undefined) return progressed;
			progressed = true;
			this.#counters.commands++;
			this.#handle(msg);
		}
	}

	#handle(msg: InboundMessage): void {
		const abi = this.#abi!;
		const name = abi.functionName(msg.function);
		const dv = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
		switch (name) {
			case 'GSP_RM_ALLOC': {
				if (msg.payload.length < 32 || 32 + dv.getUint32(20, true) > msg.payload.length) {
					this.#reply(msg, msg.payload, RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT);
					return;
				}
				const [hClient, hParent, hObject, hClass, , paramsSize] = [0, 4, 8, 12, 16, 20].map((o) =>
					dv.getUint32(o, true),
				) as [number, number, number, number, number, number];
				const reply = msg.payload.slice(0, 32 + paramsSize);
				const rdv = new DataView(reply.buffer);
				const injected = this.faults.takeFailure(msg.function, name, undefined, hClass);
				let status: number;
				if (injected !== undefined) status = injected;
				else {
					const params = reply.subarray(32);
					const r = this.#rm!.alloc(hClient, hParent, hObject, hClass, params);
					status = r.status;
					if (r.hObject !== undefined) {
						rdv.setUint32(8, r.hObject, true);
						if (hClient === 0 && this.#rm!.clients.has(r.hObject)) rdv.setUint32(0, r.hObject, true);
					}
					if (status !== NV_STATUS.NV_OK) reply.set(msg.payload.subarray(32, 32 + paramsSize), 32);
				}
				rdv.setUint32(16, status, true);
				this.#reply(msg, reply);
				if (status !== NV_STATUS.NV_OK)
					this.#rmLog?.write(`RM_ALLOC class 0x${hClass.toString(16)} failed: ${nvStatusName(status)}`);
				return;
			}
			case 'GSP_RM_CONTROL': {
				if (msg.payload.length < 24 || 24 + dv.getUint32(16, true) > msg.payload.length) {
					this.#reply(msg, msg.payload, RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT);
					return;
				}
				const hClient = dv.getUint32(0, true);
				const hObject = dv.getUint32(4, true);
				const cmd = dv.getUint32(8, true);
				const paramsSize = dv.getUint32(16, true);
				const reply = msg.payload.slice(0, 24 + paramsSize);
				const injected = this.faults.takeFailure(msg.function, name, cmd, undefined);
				let status: number;
				if (injected !== undefined) status = injected;
				else {
					const params = reply.subarray(24);
					status = this.#controls!.control(hClient, hObject, cmd, params).status;
					// RM copies parameters out only on success.
					if (status !== NV_STATUS.NV_OK) params.set(msg.payload.subarray(24, 24 + paramsSize));
				}
				new DataView(reply.buffer).setUint32(12, status, true);
				this.#reply(msg, reply);
				return;
			}
			case 'FREE': {
				const size = abi.sizeOf('rpc_free_v03_00');
				if (msg.payload.length < size) {
					this.#reply(msg, msg.payload, RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT);
					return;
				}
				const reply = msg.payload.slice(0, size);
				const img = abi.image('rpc_free_v03_00', reply);
				const injected = this.faults.takeFailure(msg.function, name);
				const status =
					injected ??
					this.#rm!.free(img.get<number>('params.hRoot'), img.get<number>('params.hObjectOld')).status;
				img.set('params.status', status);
				this.#reply(msg, reply);
				return;
			}
			case 'GET_GSP_STATIC_INFO': {
				const injected = this.faults.takeFailure(msg.function, name);
				if (injected !== undefined) this.#reply(msg, msg.payload, injected);
				else this.#reply(msg, buildStaticInfo(this.#rm!, this.#env.chip, this.#wpr));
				return;
			}
			case 'UNLOADING_GUEST_DRIVER': {
				const injected = this.faults.takeFailure(msg.function, name);
				this.#reply(msg, msg.payload, injected ?? 0);
				if (injected === undefined) {
					this.#note('unloading: GSP-RM halts after the reply');
					this.#unloadAfterFlush = true;
				}
				return;
			}
			case 'UPDATE_BAR_PDE': {
				const injected = this.faults.takeFailure(msg.function, name);
				const size = abi.sizeOf('rpc_update_bar_pde_v15_00');
				if (msg.payload.length < size) {
					this.#reply(msg, msg.payload, RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT);
					return;
				}
				const p = abi.decode('rpc_update_bar_pde_v15_00', msg.payload).info as Record<string, unknown>;
				const barType = p.barType as number;
				let result = injected ?? 0;
				if (injected === undefined) {
					if (barType > 1) result = NV_STATUS.NV_ERR_INVALID_ARGUMENT;
					else
						this.#barPdeUpdates.push({
							barType,
							entryValue: p.entryValue as bigint,
							entryLevelShift: p.entryLevelShift as number,
						});
				}
				this.#reply(msg, msg.payload, result);
				return;
			}
			case 'GSP_SET_SYSTEM_INFO':
			case 'SET_REGISTRY':
				this.#reply(msg, msg.payload, NV_STATUS.NV_ERR_INVALID_STATE);
				return;
			case 'NOP': {
				const injected = this.faults.takeFailure(msg.function, name);
				this.#reply(msg, msg.payload, injected ?? 0);
				return;
			}
			default:
				this.#note(`unsupported RPC function ${msg.function}${name === undefined ? '' : ` (${name})`}`);
				this.#reply(msg, msg.payload, RPC_RESULT.RPC_UNKNOWN_FUNCTION);
		}
	}
}
