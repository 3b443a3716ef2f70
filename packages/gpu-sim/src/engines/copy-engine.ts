/**
 * The simulated copy engine (classes TURING_DMA_COPY_A `0xc5b5`, AMPERE_DMA_COPY_A/B `0xc6b5`/`0xc7b5`,
 * HOPPER_DMA_COPY_A `0xc8b5`): pitch-linear copies and remapped fills between GPU virtual (or, for privileged
 * channels, physical) addresses, followed by the launch's semaphore release and interrupt.
 *
 * Methods arrive from the host engine one at a time; all but `LAUNCH_DMA` only latch state. The work of a
 * launch completes before the next method is accepted, so WFI-style waits in the host are always satisfied.
 *
 * @module
 */

import { hex, InvalidArgumentError } from '@gspkit/hal';
import type { TableAperture } from '../mmu/index.ts';
import { CE, CLASS, type Field32, get32, REDUCTION } from './fields.ts';
import { type ChannelAddressSpace, physical } from './memory.ts';
import { getLe, putLe, reduce } from './semaphore.ts';
import { stop } from './stop.ts';
import type { EngineClient, EngineInterrupts, EngineMemory } from './types.ts';

/** The copy classes and the methods each one decodes. */
const COMMON_METHODS = [
	CE.NOP,
	CE.PM_TRIGGER,
	CE.SET_SEMAPHORE_A,
	CE.SET_SEMAPHORE_B,
	CE.SET_SEMAPHORE_PAYLOAD,
	CE.SET_RENDER_ENABLE_A,
	CE.SET_RENDER_ENABLE_B,
	CE.SET_RENDER_ENABLE_C,
	CE.SET_SRC_PHYS_MODE,
	CE.SET_DST_PHYS_MODE,
	CE.LAUNCH_DMA,
	...range(CE.OFFSET_IN_UPPER, CE.LINE_COUNT),
	...range(CE.SET_REMAP_CONST_A, 0x720),
	...range(0x728, CE.SET_SRC_ORIGIN),
	...range(CE.SRC_ORIGIN_X, CE.DST_ORIGIN_Y),
	CE.PM_TRIGGER_END,
];
const PRE_HOPPER_METHODS = range(CE.SET_GLOBAL_COUNTER_UPPER, CE.SET_PAGEOUT_START_PALOWER);
const HOPPER_METHODS = [
	...range(CE.SET_MONITORED_FENCE_TYPE, CE.SET_MONITORED_FENCE_SIGNAL_ADDR_BASE_LOWER),
	CE.SET_SEMAPHORE_PAYLOAD_UPPER,
	...range(CE.SET_SECURE_COPY_MODE, 0x518),
	...range(0x530, 0x53c),
	CE.SET_MEMORY_SCRUB_PARAMETERS,
];

function range(first: number, last: number): number[] {
	const out: number[] = [];
	for (let m = first; m <= last; m += 4) out.push(m);
	return out;
}

const METHODS_BY_CLASS: ReadonlyMap<number, ReadonlySet<number>> = new Map([
	[CLASS.TURING_DMA_COPY_A, new Set([...COMMON_METHODS, ...PRE_HOPPER_METHODS])],
	[CLASS.AMPERE_DMA_COPY_A, new Set([...COMMON_METHODS, ...PRE_HOPPER_METHODS])],
	[
		CLASS.AMPERE_DMA_COPY_B,
		new Set([...COMMON_METHODS, ...PRE_HOPPER_METHODS, CE.SET_SEMAPHORE_PAYLOAD_UPPER]),
	],
	[CLASS.HOPPER_DMA_COPY_A, new Set([...COMMON_METHODS, ...HOPPER_METHODS])],
]);

/** Copy classes the model decodes. */
export const COPY_CLASSES: readonly number[] = [...METHODS_BY_CLASS.keys()];

/** The copy-engine state of one channel (its latched method values). */
export interface CopyChannelState {
	readonly registers: Map<number, number>;
}

/** What the copy engine needs from the channel that sends it methods. */
export interface CopyContext {
	readonly chid: number;
	/** May use physical SRC/DST_TYPE. */
	readonly privileged: boolean;
	readonly space: ChannelAddressSpace;
	readonly state: CopyChannelState;
}

/** Options of a {@link CopyEngine}. */
export interface CopyEngineOptions {
	/** Classes this chip's copy engine accepts (subset of {@link COPY_CLASSES}). */
	readonly classes: readonly number[];
	/** Physical memory, for physical-mode launches. */
	readonly memory: EngineMemory;
	/** Platform time, for semaphore timestamps. */
	readonly now: () => bigint;
	readonly interrupts: EngineInterrupts;
	/** Bytes moved per memory access while copying (bounds temporary buffers). Default 1 MiB. */
	readonly chunkBytes?: number;
}

/** Copy-engine counters. */
export interface CopyEngineStats {
	readonly launches: number;
	/** Bytes written to destinations by copies and fills. */
	readonly bytesWritten: number;
	readonly semaphoreReleases: number;
	readonly interrupts: number;
}

/**
 * The copy engine. One instance serves every channel; each channel keeps its own {@link CopyChannelState}.
 */
export class CopyEngine {
	readonly classes: readonly number[];
	readonly #o: CopyEngineOptions;
	readonly #chunk: number;
	#launches = 0;
	#bytesWritten = 0;
	#semaphores = 0;
	#interrupts = 0;

	constructor(options: CopyEngineOptions) {
		for (const c of options.classes) {
			if (!METHODS_BY_CLASS.has(c)) {
				throw new InvalidArgumentError(`copy class ${hex(c, 4)} is not modelled`, { class: c });
			}
		}
		const chunk = options.chunkBytes ?? 1 << 20;
		if (!Number.isSafeInteger(chunk) || chunk < 64) {
			throw new InvalidArgumentError('chunkBytes must be an integer of at least 64', { chunkBytes: chunk });
		}
		this.classes = [...options.classes];
		this.#o = options;
		this.#chunk = chunk;
	}

	/** Whether `classId` is one of this engine's classes. */
	supports(classId: number): boolean {
		return this.classes.includes(classId);
	}

	/** A fresh per-channel state. */
	createState(): CopyChannelState {
		return { registers: new Map() };
	}

	/** Counters. */
	get stats(): CopyEngineStats {
		return {
			launches: this.#launches,
			bytesWritten: this.#bytesWritten,
			semaphoreReleases: this.#semaphores,
			interrupts: this.#interrupts,
		};
	}

	/**
	 * Execute method `address` (byte offset) with `data` for a channel whose subchannel is bound to `classId`.
	 * A fault or an invalid launch throws the internal stop signal, which the host turns into a channel error.
	 * (Hang injection lives in the host engine, which simply does not deliver methods to a hung engine.)
	 */
	method(ctx: CopyContext, subchannel: number, classId: number, address: number, data: number): void {
		const valid = METHODS_BY_CLASS.get(classId);
		if (valid === undefined || !this.supports(classId)) {
			stop({
				kind: 'illegal-method',
				engine: 'copy',
				detail: `class ${hex(classId, 4)} is not a copy class of this engine`,
				method: { subchannel, address, data, classId },
			});
		}
		if (!valid.has(address)) {
			stop({
				kind: 'illegal-method',
				engine: 'copy',
				detail: `method ${hex(address, 4)} is not decoded by class ${hex(classId, 4)}`,
				method: { subchannel, address, data, classId },
			});
		}
		if (address === CE.LAUNCH_DMA) this.#launch(ctx, subchannel, classId, data >>> 0);
		else ctx.state.registers.set(address, data >>> 0);
	}

	#launch(ctx: CopyContext, subchannel: number, classId: number, launch: number): void {
		const reg = registerReader(ctx.state.registers);
		const hopper = classId === CLASS.HOPPER_DMA_COPY_A;
		const upper: Field32 = hopper ? CE.UPPER_C8B5 : CE.UPPER;
		const fail = launchFailure(subchannel, classId, launch);
		this.#launches++;

		const transfer = get32(launch, CE.LAUNCH_DATA_TRANSFER_TYPE);
		if (transfer === 3) fail('DATA_TRANSFER_TYPE 3 is not defined');
		if (get32(launch, hopper ? CE.LAUNCH_VPRMODE_C8B5 : CE.LAUNCH_VPRMODE) !== 0) {
			fail('VPR copies are not modelled');
		}
		if (hopper) {
			const copyType = get32(launch, CE.LAUNCH_COPY_TYPE_C8B5);
			if (copyType === 1 || copyType === 3) fail('secure (encrypting) copies are not modelled');
			if (get32(launch, CE.LAUNCH_MEMORY_SCRUB_ENABLE_C8B5) !== 0)
				fail('MEMORY_SCRUB_ENABLE is not modelled');
		}

		if (transfer !== CE.TRANSFER_NONE) {
			if (
				get32(launch, CE.LAUNCH_SRC_MEMORY_LAYOUT) !== CE.LAYOUT_PITCH ||
				get32(launch, CE.LAUNCH_DST_MEMORY_LAYOUT) !== CE.LAYOUT_PITCH
			) {
				fail('block-linear layouts are not modelled (set SRC/DST_MEMORY_LAYOUT to PITCH)');
			}
			const srcPhysical = get32(launch, CE.LAUNCH_SRC_TYPE) === CE.TYPE_PHYSICAL;
			const dstPhysical = get32(launch, CE.LAUNCH_DST_TYPE) === CE.TYPE_PHYSICAL;
			if ((srcPhysical || dstPhysical) && !ctx.privileged) {
				fail('physical SRC/DST_TYPE from a non-privileged channel (HCE_PRIV)');
			}
			const src = (BigInt(get32(reg(CE.OFFSET_IN_UPPER), upper)) << 32n) | BigInt(reg(CE.OFFSET_IN_LOWER));
			const dst = (BigInt(get32(reg(CE.OFFSET_OUT_UPPER), upper)) << 32n) | BigInt(reg(CE.OFFSET_OUT_LOWER));
			const lines = get32(launch, CE.LAUNCH_MULTI_LINE_ENABLE) !== 0 ? reg(CE.LINE_COUNT) : 1;
			const length = reg(CE.LINE_LENGTH_IN);
			const access: MemoryAccess = {
				ctx,
				srcAperture: srcPhysical ? this.#physTarget(reg(CE.SET_SRC_PHYS_MODE), fail) : undefined,
				dstAperture: dstPhysical ? this.#physTarget(reg(CE.SET_DST_PHYS_MODE), fail) : undefined,
			};
			const remap = get32(launch, CE.LAUNCH_REMAP_ENABLE) !== 0 ? this.#remap(reg, fail) : undefined;
			for (let line = 0; line < lines; line++) {
				const s = src + BigInt(line) * BigInt(reg(CE.PITCH_IN));
				const d = dst + BigInt(line) * BigInt(reg(CE.PITCH_OUT));
				if (remap === undefined) this.#copyLine(access, s, d, length);
				else this.#remapLine(access, remap, s, d, length);
			}
		}

		this.#semaphore(ctx, classId, launch, reg, upper, fail);

		const intr = get32(launch, CE.LAUNCH_INTERRUPT_TYPE);
		if (intr === 3) fail('INTERRUPT_TYPE 3 is not defined');
		if (intr !== CE.INTERRUPT_NONE) {
			this.#interrupts++;
			this.#o.interrupts.raise(intr === CE.INTERRUPT_NON_BLOCKING ? 'nonstall' : 'stall');
		}
	}

	#physTarget(mode: number, fail: (detail: string) => never): TableAperture {
		switch (get32(mode, CE.PHYS_MODE_TARGET)) {
			case CE.PHYS_TARGET_LOCAL_FB:
				return 'video';
			case CE.PHYS_TARGET_COHERENT_SYSMEM:
				return 'sys-coherent';
			case CE.PHYS_TARGET_NONCOHERENT_SYSMEM:
				return 'sys-noncoherent';
			default:
				return fail('peer-memory physical targets are not modelled');
		}
	}

	#read(a: MemoryAccess, addr: bigint, dst: Uint8Array): void {
		if (a.srcAperture === undefined) {
			a.ctx.space.read(addr, dst, 'copy', 'copy-read');
			return;
		}
		const ap = a.srcAperture;
		physical(
			'copy',
			() => `copy physical read at ${ap} ${hex(addr, 10)}`,
			() => this.#o.memory.read(ap, addr, dst),
		);
	}

	#write(a: MemoryAccess, addr: bigint, src: Uint8Array): void {
		if (a.dstAperture === undefined) a.ctx.space.write(addr, src, 'copy', 'copy-write');
		else {
			const ap = a.dstAperture;
			physical(
				'copy',
				() => `copy physical write at ${ap} ${hex(addr, 10)}`,
				() => this.#o.memory.write(ap, addr, src),
			);
		}
		this.#bytesWritten += src.length;
	}

	#readDst(a: MemoryAccess, addr: bigint, dst: Uint8Array): void {
		if (a.dstAperture === undefined) a.ctx.space.read(addr, dst, 'copy', 'copy-write');
		else {
			const ap = a.dstAperture;
			physical(
				'copy',
				() => `copy physical read at ${ap} ${hex(addr, 10)}`,
				() => this.#o.memory.read(ap, addr, dst),
			);
		}
	}

	#copyLine(a: MemoryAccess, src: bigint, dst: bigint, length: number): void {
		let done = 0;
		while (done < length) {
			const n = Math.min(this.#chunk, length - done);
			const buf = new Uint8Array(n);
			this.#read(a, src + BigInt(done), buf);
			this.#write(a, dst + BigInt(done), buf);
			done += n;
		}
	}

	#remap(reg: (m: number) => number, fail: (detail: string) => never): Remap {
		const comps = reg(CE.SET_REMAP_COMPONENTS);
		const componentSize = get32(comps, CE.REMAP_COMPONENT_SIZE) + 1;
		const numSrc = get32(comps, CE.REMAP_NUM_SRC_COMPONENTS) + 1;
		const numDst = get32(comps, CE.REMAP_NUM_DST_COMPONENTS) + 1;
		const selectors = [CE.REMAP_DST_X, CE.REMAP_DST_Y, CE.REMAP_DST_Z, CE.REMAP_DST_W]
			.slice(0, numDst)
			.map((field, i) => {
				const sel = get32(comps, field);
				if (sel === 7) fail(`remap DST_${'XYZW'[i]} selector 7 is not defined`);
				if (sel <= CE.REMAP_SRC_W && sel >= numSrc) {
					fail(`remap DST_${'XYZW'[i]} reads source component ${sel} of ${numSrc}`);
				}
				return sel;
			});
		const constant = (v: number) => {
			const b = new Uint8Array(componentSize);
			putLe(b, 0, componentSize, BigInt(v >>> 0));
			return b;
		};
		return {
			componentSize,
			srcPixel: componentSize * numSrc,
			dstPixel: componentSize * numDst,
			selectors,
			constA: constant(reg(CE.SET_REMAP_CONST_A)),
			constB: constant(reg(CE.SET_REMAP_CONST_B)),
			readsSource: selectors.some((s) => s <= CE.REMAP_SRC_W),
			keepsDestination: selectors.includes(CE.REMAP_NO_WRITE),
		};
	}

	/** One line of a remapped copy: LINE_LENGTH_IN counts pixels (components × size bytes each). */
	#remapLine(a: MemoryAccess, r: Remap, src: bigint, dst: bigint, pixels: number): void {
		const perChunk = Math.max(1, Math.floor(this.#chunk / Math.max(r.srcPixel, r.dstPixel)));
		let done = 0;
		while (done < pixels) {
			const n = Math.min(perChunk, pixels - done);
			const out = new Uint8Array(n * r.dstPixel);
			const outVa = dst + BigInt(done * r.dstPixel);
			if (r.keepsDestination) this.#readDst(a, outVa, out);
			if (!r.readsSource && !r.keepsDestination) {
				// A constant fill: write one pixel, then double it across the buffer.
				this.#pixel(r, out, 0, undefined, 0);
				for (let filled = r.dstPixel; filled < out.length; filled *= 2) {
					out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
				}
			} else {
				const input = r.readsSource ? new Uint8Array(n * r.srcPixel) : undefined;
				if (input !== undefined) this.#read(a, src + BigInt(done * r.srcPixel), input);
				for (let p = 0; p < n; p++) this.#pixel(r, out, p * r.dstPixel, input, p * r.srcPixel);
			}
			this.#write(a, outVa, out);
			done += n;
		}
	}

	#pixel(r: Remap, out: Uint8Array, at: number, input: Uint8Array | undefined, from: number): void {
		const size = r.componentSize;
		for (let i = 0; i < r.selectors.length; i++) {
			const sel = r.selectors[i] as number;
			const o = at + i * size;
			if (sel <= CE.REMAP_SRC_W) {
				if (input !== undefined) out.set(input.subarray(from + sel * size, from + (sel + 1) * size), o);
			} else if (sel === CE.REMAP_CONST_A) out.set(r.constA, o);
			else if (sel === CE.REMAP_CONST_B) out.set(r.constB, o);
		}
	}

	#semaphore(
		ctx: CopyContext,
		classId: number,
		launch: number,
		reg: (m: number) => number,
		upper: Field32,
		fail: (detail: string) => never,
	): void {
		const type = get32(launch, CE.LAUNCH_SEMAPHORE_TYPE);
		if (type === CE.SEMAPHORE_NONE) return;
		if (type === CE.SEMAPHORE_CONDITIONAL_INTR) fail('RELEASE_CONDITIONAL_INTR_SEMAPHORE is not modelled');
		const wide =
			(classId === CLASS.AMPERE_DMA_COPY_B || classId === CLASS.HOPPER_DMA_COPY_A) &&
			get32(launch, CE.LAUNCH_SEMAPHORE_PAYLOAD_SIZE) !== 0;
		const size = wide ? 8 : 4;
		const four = type === CE.SEMAPHORE_FOUR_WORD;
		const va = (BigInt(get32(reg(CE.SET_SEMAPHORE_A), upper)) << 32n) | BigInt(reg(CE.SET_SEMAPHORE_B));
		const align = four ? 16n : BigInt(size);
		if (va % align !== 0n) fail(`semaphore address ${hex(va, 10)} is not ${align}-byte aligned`);
		const payload =
			(wide ? BigInt(reg(CE.SET_SEMAPHORE_PAYLOAD_UPPER)) << 32n : 0n) |
			BigInt(reg(CE.SET_SEMAPHORE_PAYLOAD));
		const client: EngineClient = 'copy-semaphore';
		if (four) {
			// The timestamp goes first, so a waiter that sees the payload also sees the time.
			const ts = new Uint8Array(8);
			putLe(ts, 0, 8, this.#o.now());
			ctx.space.write(va + 8n, ts, 'copy', client);
			if (!wide) ctx.space.write(va + 4n, new Uint8Array(4), 'copy', client);
		}
		if (get32(launch, CE.LAUNCH_SEMAPHORE_REDUCTION_ENABLE) !== 0) {
			const op = get32(launch, CE.LAUNCH_SEMAPHORE_REDUCTION);
			const signed = get32(launch, CE.LAUNCH_SEMAPHORE_REDUCTION_SIGN) === CE.REDUCTION_SIGN_SIGNED;
			if (op > REDUCTION.DEC) fail(`semaphore reduction ${op} is not modelled`);
			ctx.space.atomic(va, size, 'copy', client, (old) => {
				const next = reduce(op, getLe(old, 0, size), payload, wide ? 64 : 32, signed) as bigint;
				const b = new Uint8Array(size);
				putLe(b, 0, size, next);
				return b;
			});
		} else {
			const b = new Uint8Array(size);
			putLe(b, 0, size, payload);
			ctx.space.write(va, b, 'copy', client);
		}
		this.#semaphores++;
	}
}

interface MemoryAccess {
	readonly ctx: CopyContext;
	/** Physical aperture of the source, or `undefined` for a virtual address. */
	readonly srcAperture: TableAperture | undefined;
	readonly dstAperture: TableAperture | undefined;
}

interface Remap {
	readonly componentSize: number;
	readonly srcPixel: number;
	readonly dstPixel: number;
	readonly selectors: readonly number[];
	readonly constA: Uint8Array;
	readonly constB: Uint8Array;
	readonly readsSource: boolean;
	readonly keepsDestination: boolean;
}

// The two helpers below return anonymous closures: one launch makes them, and a named local arrow would also
// pay for naming itself under the dev-time transpiler (esbuild's keepNames) on every launch.

/** Reads a latched method value (0 when never written). */
function registerReader(registers: ReadonlyMap<number, number>): (method: number) => number {
	return (m) => registers.get(m) ?? 0;
}

/** Stops the channel with a `'ce-launch'` error for this LAUNCH_DMA. */
function launchFailure(subchannel: number, classId: number, launch: number): (detail: string) => never {
	return (detail) =>
		stop({
			kind: 'ce-launch',
			engine: 'copy',
			detail: `LAUNCH_DMA ${hex(launch)}: ${detail}`,
			method: { subchannel, address: CE.LAUNCH_DMA, data: launch, classId },
		});
}
