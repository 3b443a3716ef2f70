/**
 * A tiny "driver side" of the GSP message-queue protocol for the GSP-RM emulator's tests, written from the
 * reference (gsp-rpc.md) and the generated ABI manifests only — never from `src/gsp-rm` or packages/gsp-rpc —
 * so the emulator is tested against an independent implementation of the protocol.
 *
 * It builds the shared queue region, the LIBOS arguments and RMARGS, pre-queues GSP_SET_SYSTEM_INFO and
 * SET_REGISTRY, executes the CPU sequencer program through BAR0, and makes RM calls.
 */

import {
	decode,
	encode,
	type LayoutManifest,
	layoutFromManifest,
	patch,
	type RecordLayout,
	sizeof,
	zero,
} from '@gspkit/abi';
import { generated as g535, manifest as m535 } from '@gspkit/abi-r535';
import { generated as g570, manifest as m570 } from '@gspkit/abi-r570';
import type { DmaBuffer } from '@gspkit/hal';
import { type Clock, VirtualClock } from '@gspkit/hal';
import { type SimChipSpec, simChipSpec } from '../src/chips.ts';
import { DmaPool } from '../src/dma.ts';
import { type GspRmMode, SimulatedGspRm } from '../src/gsp-rm/index.ts';
import { defineIdentityRegisters } from '../src/identity.ts';
import { SimInterruptLine } from '../src/irq.ts';
import { RegisterFile } from '../src/mmio.ts';

export type Version = '535.113.01' | '570.144';
export const VERSIONS: readonly Version[] = ['535.113.01', '570.144'];

const MANIFESTS: Record<Version, LayoutManifest> = { '535.113.01': m535, '570.144': m570 };
const TABLES = { '535.113.01': g535, '570.144': g570 } as const;

const layoutCache = new Map<string, RecordLayout>();
/** A struct layout of `version`, from its manifest. */
export function L(version: Version, name: string): RecordLayout {
	const key = `${version}:${name}`;
	let l = layoutCache.get(key);
	if (l === undefined) {
		l = layoutFromManifest(name, MANIFESTS[version]);
		layoutCache.set(key, l);
	}
	return l;
}

/** RPC function ID by name in `version`. */
export function fn(version: Version, name: string): number {
	const v = (TABLES[version].functions as Record<string, number>)[name];
	if (v === undefined) throw new Error(`no function ${name}`);
	return v;
}

/** Event ID by name in `version`. */
export function ev(version: Version, name: string): number {
	const v = (TABLES[version].events as Record<string, number>)[name];
	if (v === undefined) throw new Error(`no event ${name}`);
	return v;
}

/** Class ID by name in `version` (memory classes from the reference). */
export function cls(version: Version, name: string): number {
	const extra: Record<string, number> = {
		NV01_MEMORY_LOCAL_USER: 0x40,
		NV01_MEMORY_SYSTEM: 0x3e,
		NV01_MEMORY_VIRTUAL: 0x70,
	};
	const v = (TABLES[version].classes as Record<string, number>)[name] ?? extra[name];
	if (v === undefined) throw new Error(`no class ${name}`);
	return v;
}

/** Encode `value` (partial) as struct `name` of `version`. */
export function enc(version: Version, name: string, value: Record<string, unknown> = {}): Uint8Array {
	const l = L(version, name);
	const out = new Uint8Array(sizeof(l));
	encode(l, zero(l) as never, out);
	patch(l, value as never, out);
	return out;
}

/** Decode struct `name` of `version`. */
export function dec(version: Version, name: string, bytes: Uint8Array, offset = 0): Record<string, unknown> {
	return decode(L(version, name), bytes, offset, { snapshot: false }) as Record<string, unknown>;
}

// Protocol constants, straight from the reference (§1–§2).
const PAGE = 0x1000;
const HDR = 48;
const RPC = 32;
const MAX_PAYLOAD = 65456;
const CMDQ = 0x1000;
const STATQ = 0x41000;
const REGION_PAGES = 129;
const MSG_COUNT = 63;
export const DOORBELL = 0x110c00;

/** Folded XOR checksum over `n` bytes rounded up to 8 (lo and hi u32 lanes of every u64, then hi ^ lo). */
export function checksum(bytes: Uint8Array, n: number): number {
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	let lo = 0;
	let hi = 0;
	const end = (n + 7) & ~7;
	const word = (i: number): number => {
		if (i + 4 <= bytes.length) return dv.getUint32(i, true);
		let v = 0;
		for (let j = 0; j < 4; j++) v |= (i + j < bytes.length ? bytes[i + j]! : 0) << (8 * j);
		return v;
	};
	for (let i = 0; i < end; i += 8) {
		lo ^= word(i);
		hi ^= word(i + 4);
	}
	return (lo ^ hi) >>> 0;
}

/** Whether two byte arrays are equal (fast; `toEqual` on large typed arrays is slow). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
	return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
		Buffer.from(b.buffer, b.byteOffset, b.byteLength),
	);
}

/** A test rig: DMA pool, BAR0 register file, interrupt line, clock and the emulator. */
export interface Rig {
	readonly chip: SimChipSpec;
	readonly pool: DmaPool;
	readonly regs: RegisterFile;
	readonly irq: SimInterruptLine;
	readonly clock: Clock;
	readonly gsp: SimulatedGspRm;
	readonly unloads: { count: number };
	readonly vramSize: bigint;
}

/** Build a rig around a fresh emulator. */
export function makeRig(
	opts: { chip?: string; mode?: GspRmMode; clock?: Clock; vramSize?: bigint } = {},
): Rig {
	const chip = simChipSpec(opts.chip ?? 'ga102');
	const clock = opts.clock ?? new VirtualClock();
	const pool = new DmaPool({ size: 64 * 1024 * 1024 });
	const regs = new RegisterFile();
	const vramSize = opts.vramSize ?? chip.vramSize;
	defineIdentityRegisters(regs, chip, vramSize);
	const irq = new SimInterruptLine('gsp', clock);
	const unloads = { count: 0 };
	const gsp = new SimulatedGspRm({
		chip,
		vramSize,
		dma: pool,
		irq,
		clock,
		mode: opts.mode ?? 'manual',
		onUnload: () => {
			unloads.count++;
		},
	});
	regs.attach(gsp.queueRegisters);
	return { chip, pool, regs, irq, clock, gsp, unloads, vramSize };
}

/** A message read from the status queue. */
export interface Msg {
	readonly function: number;
	readonly sequence: number;
	readonly rpcResult: number;
	readonly payload: Uint8Array;
	readonly seqNum: number;
	readonly elements: number;
}

/** What the driver saw go wrong in the status queue. */
export class StatusQueueError extends Error {}

/** Options of {@link TestDriver.boot}. */
export interface BootOptions {
	readonly registry?: Readonly<Record<string, number>>;
	/** Mutate the queue region / LIBOS setup before the GSP starts. */
	readonly tamper?: (d: TestDriver) => void;
	/** Skip running the sequencer (the test does it). */
	readonly stopAtSequencer?: boolean;
}

/** The driver side. */
export class TestDriver {
	readonly rig: Rig;
	readonly version: Version;
	region!: DmaBuffer;
	libos!: DmaBuffer;
	rmargs!: DmaBuffer;
	readonly logs = new Map<string, DmaBuffer>();
	txSeq = 0;
	rxSeq = 0;
	rpcSeq = 0;
	/** Events seen while waiting for replies. */
	readonly events: Msg[] = [];
	regSaveArea: number[] = [];

	constructor(rig: Rig, version: Version) {
		this.rig = rig;
		this.version = version;
	}

	get dv(): DataView {
		return this.region.view;
	}

	/** Let the GSP run: a step in manual mode, virtual time in clock mode, real time in worker mode. */
	async pump(): Promise<void> {
		const { gsp, clock } = this.rig;
		if (gsp.mode === 'manual') gsp.runUntilIdle();
		else if (gsp.mode === 'clock') await (clock as VirtualClock).sleep(10_000n);
		else await new Promise((r) => setTimeout(r, 1));
	}

	// ─────────────── setup (reference §1.1, §1.7) ───────────────

	setupQueues(): void {
		const pool = this.rig.pool;
		this.region = pool.alloc(REGION_PAGES * PAGE, { label: 'gsp-shm' });
		const dv = this.dv;
		for (let i = 0; i < REGION_PAGES; i++)
			dv.setBigUint64(i * 8, this.region.busAddress + BigInt(i * PAGE), true);
		// Command queue TX header (the CPU writes it): version, size, msgSize, msgCount, writePtr, flags, rxHdrOff, entryOff.
		const h = [0, 0x40000, 0x1000, MSG_COUNT, 0, 1, 0x20, 0x1000];
		for (const [i, v] of h.entries()) dv.setUint32(CMDQ + 4 * i, v, true);
		dv.setUint32(CMDQ + 0x20, 0, true);
	}

	setupLibos(): void {
		const pool = this.rig.pool;
		this.libos = pool.alloc(PAGE, { label: 'libos-args' });
		this.rmargs = pool.alloc(PAGE, { label: 'rmargs' });
		const entries: { name: string; buf: DmaBuffer }[] = [];
		for (const name of ['LOGINIT', 'LOGINTR', 'LOGRM']) {
			const buf = pool.alloc(0x10000, { label: name });
			for (let i = 0; i < 16; i++) buf.view.setBigUint64(8 + 8 * i, buf.busAddress + BigInt(i * PAGE), true);
			this.logs.set(name, buf);
			entries.push({ name, buf });
		}
		entries.push({ name: 'RMARGS', buf: this.rmargs });
		const entrySize = sizeof(L(this.version, 'LibosMemoryRegionInitArgument'));
		entries.forEach((e, i) => {
			let id = 0n;
			for (const c of e.name) id = (id << 8n) | BigInt(c.charCodeAt(0));
			this.libos.bytes.set(
				enc(this.version, 'LibosMemoryRegionInitArgument', {
					id8: id,
					pa: e.buf.busAddress,
					size: BigInt(e.buf.size),
					kind: 1,
					loc: 1,
				}),
				i * entrySize,
			);
		});
		const args: Record<string, unknown> = {
			messageQueueInitArguments: {
				sharedMemPhysAddr: this.region.busAddress,
				pageTableEntryCount: REGION_PAGES,
				cmdQueueOffset: BigInt(CMDQ),
				statQueueOffset: BigInt(STATQ),
			},
		};
		if (this.version === '570.144') args.bDmemStack = 1;
		this.rmargs.bytes.set(enc(this.version, 'GSP_ARGUMENTS_CACHED', args));
	}

	systemInfoPayload(): Uint8Array {
		const v: Record<string, unknown> = {
			gpuPhysAddr: 0xfb00_0000n,
			gpuPhysFbAddr: 0x60_0000_0000n,
			maxUserVa: 0x7fff_ffff_f000n,
		};
		if (this.version === '570.144') v.PCIDeviceID = ((this.rig.chip.deviceId << 16) | 0x10de) >>> 0;
		return enc(this.version, 'GspSystemInfo', v);
	}

	/** PACKED_REGISTRY_TABLE (reference §5): header, entries, then NUL-terminated names. */
	registryPayload(keys: Readonly<Record<string, number>>): Uint8Array {
		const names = Object.keys(keys);
		const entriesStart = 8;
		let nameAt = entriesStart + 16 * names.length;
		const size = nameAt + names.reduce((s, n) => s + n.length + 1, 0);
		const out = new Uint8Array(size);
		const dv = new DataView(out.buffer);
		dv.setUint32(0, size, true);
		dv.setUint32(4, names.length, true);
		names.forEach((n, i) => {
			const e = entriesStart + 16 * i;
			dv.setUint32(e, nameAt, true);
			out[e + 4] = 1;
			dv.setUint32(e + 8, keys[n]!, true);
			dv.setUint32(e + 12, 4, true);
			for (let j = 0; j < n.length; j++) out[nameAt + j] = n.charCodeAt(j);
			nameAt += n.length + 1;
		});
		return out;
	}

	// ─────────────── queue I/O (reference §1.2–§1.6) ───────────────

	/** GSP's read pointer into the command queue (statq RX header). */
	get gspReadPtr(): number {
		return this.dv.getUint32(STATQ + 0x20, true);
	}

	get cmdWritePtr(): number {
		return this.dv.getUint32(CMDQ + 0x10, true);
	}

	/** Build one element (header + RPC + payload) as a zero-filled page-multiple buffer. */
	element(fnId: number, payload: Uint8Array, opts: { sequence?: number; seqNum?: number } = {}): Uint8Array {
		const length = RPC + payload.length;
		const pages = Math.ceil((HDR + length) / PAGE);
		const buf = new Uint8Array(pages * PAGE);
		const dv = new DataView(buf.buffer);
		dv.setUint32(36, opts.seqNum ?? this.txSeq++, true);
		dv.setUint32(40, pages, true);
		dv.setUint32(HDR, 0x0300_0000, true);
		dv.setUint32(HDR + 4, 0x4350_5256, true);
		dv.setUint32(HDR + 8, length, true);
		dv.setUint32(HDR + 12, fnId, true);
		dv.setUint32(HDR + 16, 0xffff_ffff, true);
		dv.setUint32(HDR + 20, 0xffff_ffff, true);
		dv.setUint32(HDR + 24, opts.sequence ?? 0, true);
		buf.set(payload, HDR + RPC);
		dv.setUint32(32, checksum(buf, buf.length), true);
		return buf;
	}

	/** Copy a built element into the command queue at the write pointer (wrapping), publish, ring. */
	async pushElement(el: Uint8Array, opts: { ring?: boolean } = {}): Promise<void> {
		const pages = el.length / PAGE;
		for (let spins = 0; ; spins++) {
			const free = (this.gspReadPtr + MSG_COUNT - this.cmdWritePtr - 1) % MSG_COUNT;
			if (free >= pages) break;
			if (spins > 100_000) throw new Error('command queue stays full');
			await this.pump();
		}
		let w = this.cmdWritePtr;
		for (let p = 0; p < pages; p++) {
			this.region.bytes.set(el.subarray(p * PAGE, (p + 1) * PAGE), CMDQ + PAGE + w * PAGE);
			w = (w + 1) % MSG_COUNT;
		}
		this.dv.setUint32(CMDQ + 0x10, w, true);
		if (opts.ring ?? true) this.rig.regs.write32(DOORBELL, 0);
	}

	/** Send an RPC, split into CONTINUATION_RECORDs above 65456 payload bytes. */
	async send(
		fnId: number,
		payload: Uint8Array,
		opts: { sequence?: number; ring?: boolean } = {},
	): Promise<number> {
		const sequence = opts.sequence ?? this.rpcSeq++;
		let off = Math.min(payload.length, MAX_PAYLOAD);
		await this.pushElement(this.element(fnId, payload.subarray(0, off), { sequence }), opts);
		while (off < payload.length) {
			const n = Math.min(MAX_PAYLOAD, payload.length - off);
			await this.pushElement(
				this.element(fn(this.version, 'CONTINUATION_RECORD'), payload.subarray(off, off + n), { sequence }),
				opts,
			);
			off += n;
		}
		return sequence;
	}

	/** Whether the GSP has written the status queue header. */
	statqLinked(): boolean {
		const dv = this.dv;
		return dv.getUint32(STATQ + 4, true) === 0x40000 && dv.getUint32(STATQ + 0x0c, true) === MSG_COUNT;
	}

	/** Read one element from the status queue (checks checksum, header, seqNum, elemCount). */
	readElement(): Msg | undefined {
		const dv = this.dv;
		if (!this.statqLinked()) return undefined;
		const wptr = dv.getUint32(STATQ + 0x10, true);
		const rptr = dv.getUint32(CMDQ + 0x20, true);
		if (wptr === rptr) return undefined;
		const at = (i: number) => STATQ + PAGE + ((rptr + i) % MSG_COUNT) * PAGE;
		const first = new DataView(this.region.bytes.buffer, this.region.bytes.byteOffset + at(0), PAGE);
		const elemCount = first.getUint32(40, true);
		const used = (wptr + MSG_COUNT - rptr) % MSG_COUNT;
		if (elemCount < 1 || elemCount > 16) {
			throw new StatusQueueError(`elemCount ${elemCount}`);
		}
		if (elemCount > used) throw new StatusQueueError(`elemCount ${elemCount} > ${used} written`);
		const buf = new Uint8Array(elemCount * PAGE);
		for (let i = 0; i < elemCount; i++) buf.set(this.region.bytes.subarray(at(i), at(i) + PAGE), i * PAGE);
		const bdv = new DataView(buf.buffer);
		const length = bdv.getUint32(HDR + 8, true);
		if (HDR + length > buf.length) throw new StatusQueueError(`length ${length} > element`);
		if (checksum(buf, HDR + length) !== 0) throw new StatusQueueError('checksum');
		if (bdv.getUint32(HDR, true) !== 0x0300_0000 || bdv.getUint32(HDR + 4, true) !== 0x4350_5256) {
			throw new StatusQueueError('header');
		}
		const seqNum = bdv.getUint32(36, true);
		if (seqNum !== this.rxSeq) throw new StatusQueueError(`seqNum ${seqNum}, expected ${this.rxSeq}`);
		this.rxSeq++;
		this.dv.setUint32(CMDQ + 0x20, (rptr + elemCount) % MSG_COUNT, true);
		return {
			function: bdv.getUint32(HDR + 12, true),
			rpcResult: bdv.getUint32(HDR + 16, true),
			sequence: bdv.getUint32(HDR + 24, true),
			payload: buf.slice(HDR + RPC, HDR + length),
			seqNum,
			elements: 1,
		};
	}

	/** Skip the element at the read pointer without checking it (recovery after a bad element). */
	skipElement(): number {
		const rptr = this.dv.getUint32(CMDQ + 0x20, true);
		const elemCount = this.dv.getUint32(STATQ + PAGE + rptr * PAGE + 40, true);
		this.dv.setUint32(CMDQ + 0x20, (rptr + elemCount) % MSG_COUNT, true);
		this.rxSeq++;
		return elemCount;
	}

	#partial: { first: Msg; out: Uint8Array; filled: number; elements: number } | undefined;

	/**
	 * Read one whole message; a first chunk of 65456 bytes is followed by continuation records until
	 * `expected` payload bytes (or the size the reply's own header announces) are in. Returns `undefined`
	 * while the message is incomplete (the rest is read on a later call).
	 */
	readMessage(expected?: number): Msg | undefined {
		if (this.#partial === undefined) {
			const first = this.readElement();
			if (first === undefined) return undefined;
			if (first.payload.length < MAX_PAYLOAD) return first;
			const total = expected ?? this.#announced(first);
			if (total <= first.payload.length) return first;
			const out = new Uint8Array(total);
			out.set(first.payload);
			this.#partial = { first, out, filled: first.payload.length, elements: 1 };
		}
		const p = this.#partial;
		while (p.filled < p.out.length) {
			const c = this.readElement();
			if (c === undefined) return undefined;
			if (c.function !== fn(this.version, 'CONTINUATION_RECORD'))
				throw new StatusQueueError('expected continuation');
			p.out.set(c.payload, p.filled);
			p.filled += c.payload.length;
			p.elements++;
		}
		this.#partial = undefined;
		return { ...p.first, payload: p.out, elements: p.elements };
	}

	#announced(m: Msg): number {
		const dv = new DataView(m.payload.buffer, m.payload.byteOffset);
		if (m.function === fn(this.version, 'GSP_RM_CONTROL')) return 24 + dv.getUint32(16, true);
		if (m.function === fn(this.version, 'GSP_RM_ALLOC')) return 32 + dv.getUint32(20, true);
		return m.payload.length;
	}

	/** Pump until a message satisfying `pred` arrives; others are collected into `events`. */
	async waitFor(
		pred: (m: Msg) => boolean,
		opts: { expected?: number; maxPumps?: number } = {},
	): Promise<Msg> {
		for (let i = 0; i < (opts.maxPumps ?? 10_000); i++) {
			for (;;) {
				const m = this.readMessage(opts.expected);
				if (m === undefined) break;
				if (pred(m)) return m;
				this.events.push(m);
			}
			await this.pump();
		}
		throw new Error('no such message arrived');
	}

	/** Pump a few times and return everything that arrived. */
	async drain(pumps = 3): Promise<Msg[]> {
		const out: Msg[] = [];
		for (let i = 0; i < pumps; i++) {
			await this.pump();
			for (;;) {
				const m = this.readMessage();
				if (m === undefined) break;
				out.push(m);
			}
		}
		return out;
	}

	// ─────────────── boot (reference §5) ───────────────

	/** Run a GSP_RUN_CPU_SEQUENCER program through BAR0. */
	async runSequencer(payload: Uint8Array, opts: { modifyAsWrite?: boolean } = {}): Promise<void> {
		const s = dec(this.version, 'rpc_run_cpu_sequencer_v17_00', payload);
		const fixed = sizeof(L(this.version, 'rpc_run_cpu_sequencer_v17_00'));
		const dv = new DataView(payload.buffer, payload.byteOffset + fixed);
		const n = s.cmdIndex as number;
		const w = (i: number) => dv.getUint32(4 * i, true);
		const regs = this.rig.regs;
		this.regSaveArea = Array.from(s.regSaveArea as Uint32Array);
		for (let i = 0; i < n; ) {
			const op = w(i++);
			switch (op) {
				case 0:
					regs.write32(w(i), w(i + 1));
					i += 2;
					break;
				case 1: {
					const addr = w(i);
					const v = opts.modifyAsWrite ? w(i + 2) : ((regs.read32(addr) & ~w(i + 1)) | w(i + 2)) >>> 0;
					regs.write32(addr, v);
					i += 3;
					break;
				}
				case 2: {
					// Poll every microsecond of the rig's clock, up to the program's timeout (0 = 4 s).
					const [addr, mask, val] = [w(i), w(i + 1), w(i + 2)];
					const tries = w(i + 3) === 0 ? 4_000_000 : w(i + 3);
					let ok = false;
					for (let k = 0; k < tries && !ok; k++) {
						ok = (regs.read32(addr) & mask) >>> 0 === val;
						if (!ok) await this.rig.clock.sleep(1_000n);
					}
					if (!ok)
						throw new Error(
							`sequencer poll of 0x${addr.toString(16)} timed out (error 0x${w(i + 4).toString(16)})`,
						);
					i += 5;
					break;
				}
				case 3:
					await this.rig.clock.sleep(BigInt(w(i)) * 1000n);
					i += 1;
					break;
				case 4:
					this.regSaveArea[w(i + 1)] = regs.read32(w(i));
					i += 2;
					break;
				default:
					throw new Error(`sequencer opcode ${op} not expected at boot`);
			}
		}
	}

	/** The whole boot: queues, LIBOS, pre-queued RPCs, start, sequencer, INIT_DONE. */
	async boot(opts: BootOptions = {}): Promise<void> {
		this.setupQueues();
		this.setupLibos();
		await this.send(fn(this.version, 'GSP_SET_SYSTEM_INFO'), this.systemInfoPayload(), { sequence: 0 });
		await this.send(
			fn(this.version, 'SET_REGISTRY'),
			this.registryPayload(
				opts.registry ?? { RMSecBusResetEnable: 1, RMForcePcieConfigSave: 1, RMDevidCheckIgnore: 1 },
			),
			{ sequence: 0 },
		);
		opts.tamper?.(this);
		this.rig.gsp.start({ libosArgs: this.libos.busAddress, firmwareVersion: this.version });
		const seq = await this.waitFor((m) => m.function === ev(this.version, 'GSP_RUN_CPU_SEQUENCER'));
		if (opts.stopAtSequencer) {
			this.events.push(seq);
			return;
		}
		await this.runSequencer(seq.payload);
		await this.waitFor((m) => m.function === ev(this.version, 'GSP_INIT_DONE'));
	}

	// ─────────────── RM calls ───────────────

	/** Send `fnId` and wait for the reply with the same function and sequence. */
	async call(fnId: number, payload: Uint8Array, expected?: number): Promise<Msg> {
		const sequence = await this.send(fnId, payload);
		return this.waitFor(
			(m) => m.function === fnId && m.sequence === sequence,
			expected === undefined ? {} : { expected },
		);
	}

	async rmAlloc(
		hClient: number,
		hParent: number,
		hObject: number,
		hClass: number,
		params: Uint8Array = new Uint8Array(0),
	): Promise<{ status: number; hObject: number; hClient: number; params: Uint8Array; rpcResult: number }> {
		const p = new Uint8Array(32 + params.length);
		const dv = new DataView(p.buffer);
		const head = [hClient, hParent, hObject, hClass, 0xffff_ffff, params.length, 0];
		for (const [i, v] of head.entries()) dv.setUint32(4 * i, v, true);
		p.set(params, 32);
		const r = await this.call(fn(this.version, 'GSP_RM_ALLOC'), p);
		const rdv = new DataView(r.payload.buffer, r.payload.byteOffset);
		return {
			status: rdv.getUint32(16, true),
			hObject: rdv.getUint32(8, true),
			hClient: rdv.getUint32(0, true),
			params: r.payload.slice(32),
			rpcResult: r.rpcResult,
		};
	}

	async rmControl(
		hClient: number,
		hObject: number,
		cmd: number,
		params: Uint8Array,
	): Promise<{ status: number; params: Uint8Array; rpcResult: number; elements: number }> {
		const p = new Uint8Array(24 + params.length);
		const dv = new DataView(p.buffer);
		for (const [i, v] of [hClient, hObject, cmd, 0xffff_ffff, params.length, 0].entries())
			dv.setUint32(4 * i, v, true);
		p.set(params, 24);
		const r = await this.call(fn(this.version, 'GSP_RM_CONTROL'), p);
		const rdv = new DataView(r.payload.buffer, r.payload.byteOffset);
		return {
			status: rdv.getUint32(12, true),
			params: r.payload.slice(24),
			rpcResult: r.rpcResult,
			elements: r.elements,
		};
	}

	async rmFree(hClient: number, hParent: number, hObject: number): Promise<number> {
		const p = enc(this.version, 'rpc_free_v03_00', {
			params: { hRoot: hClient, hObjectParent: hParent, hObjectOld: hObject, status: 0xffff_ffff },
		});
		const r = await this.call(fn(this.version, 'FREE'), p);
		return (dec(this.version, 'rpc_free_v03_00', r.payload).params as Record<string, number>).status!;
	}

	async staticInfo(): Promise<{ raw: Uint8Array; info: Record<string, unknown> }> {
		const size = sizeof(L(this.version, 'GspStaticConfigInfo'));
		const r = await this.call(fn(this.version, 'GET_GSP_STATIC_INFO'), new Uint8Array(size));
		return { raw: r.payload, info: dec(this.version, 'GspStaticConfigInfo', r.payload) };
	}

	/** Client + device + subdevice, nouveau's handles. */
	async basicTree(): Promise<{ hClient: number; hDevice: number; hSubdevice: number }> {
		const v = this.version;
		const hClient = 0xc1d0_0001;
		const c = await this.rmAlloc(
			hClient,
			0,
			hClient,
			cls(v, 'NV01_ROOT'),
			enc(v, 'NV0000_ALLOC_PARAMETERS', { hClient, processID: 0xffff_ffff }),
		);
		if (c.status !== 0) throw new Error(`client alloc 0x${c.status.toString(16)}`);
		const d = await this.rmAlloc(
			hClient,
			hClient,
			0xde1d_0000,
			cls(v, 'NV01_DEVICE_0'),
			enc(v, 'NV0080_ALLOC_PARAMETERS', {}),
		);
		if (d.status !== 0) throw new Error(`device alloc 0x${d.status.toString(16)}`);
		const s = await this.rmAlloc(
			hClient,
			0xde1d_0000,
			0x5d1d_0000,
			cls(v, 'NV20_SUBDEVICE_0'),
			enc(v, 'NV2080_ALLOC_PARAMETERS', {}),
		);
		if (s.status !== 0) throw new Error(`subdevice alloc 0x${s.status.toString(16)}`);
		return { hClient, hDevice: 0xde1d_0000, hSubdevice: 0x5d1d_0000 };
	}
}

/** Boot a rig with `version` and return its driver. */
export async function booted(
	version: Version,
	opts: { chip?: string; mode?: GspRmMode } = {},
): Promise<TestDriver> {
	const rig = makeRig(opts);
	const d = new TestDriver(rig, version);
	await d.boot();
	return d;
}

/** Read a log buffer's text (the simulator's text records after the put pointer and PTE array). */
export function logText(buf: DmaBuffer): string {
	const words = Number(buf.view.getBigUint64(0, true));
	const start = 8 + 16 * 8;
	return new TextDecoder().decode(buf.bytes.subarray(start, start + words * 8)).replace(/\0+/g, '');
}
