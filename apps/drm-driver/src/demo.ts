/**
 * The demo CLIENT workload, run through the socket with `@gspkit/drm-client` exactly as a separate process
 * would: GEM buffers in system memory (GART) and VRAM, VM_INIT, an asynchronous VM_BIND that signals a
 * syncobj, pushbuffers built with channel-sched's `PushBuffer` and copy-engine methods and written into a
 * GEM buffer with PWRITE, then three EXEC stages chained through timeline points of one syncobj:
 *
 * 1. fill `dst` (GART) with 0xffffffff — waits for the bind, signals point 1;
 * 2. copy `src` (GART) into the VRAM buffer in `chunks` pushes — waits for the bind, signals point 2;
 * 3. copy the VRAM buffer into `dst` — waits for points 1 and 2, signals point 3.
 *
 * The client waits for point 3, PREADs `dst` and compares it with the pattern it wrote into `src`.
 *
 * @module
 */

import { generationClasses, PushBuffer } from '@gspkit/channel-sched';
import { type DrmClient, openDrm } from '@gspkit/drm-client';
import {
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_GEM_DOMAIN_GART,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_CHIPSET_ID,
	NOUVEAU_GETPARAM_EXEC_PUSH_MAX,
} from '@gspkit/drm-frontend';
import type { Architecture } from '@gspkit/hal';

/** Options of {@link runDrmDemo}. */
export interface DemoOptions {
	/** Bytes to copy (a multiple of `chunks` × 4 KiB; default 1 MiB). */
	readonly size?: number;
	/** Pushes the copy into VRAM is split into (default 8). */
	readonly chunks?: number;
	/** Real-time clock for timings (default `process.hrtime.bigint`). */
	readonly now?: () => bigint;
	/** Called after each step (for a progress display). */
	readonly onStep?: (step: DemoStep, index: number, total: number) => void;
	/** Use this already-open client instead of connecting (it is not closed). */
	readonly client?: DrmClient;
}

/** The steps of the demo, in order. */
export const DEMO_STEPS = [
	'connect',
	'vm-init',
	'gem-new',
	'vm-bind',
	'channel',
	'pushbuffers',
	'exec',
	'wait',
	'verify',
	'close',
] as const;

/** One step of the demo. */
export type DemoStep = (typeof DEMO_STEPS)[number];

/** What the demo did. */
export interface DemoResult {
	readonly bytes: number;
	readonly chipset: number;
	readonly verified: boolean;
	readonly mismatch:
		| { readonly offset: number; readonly expected: number; readonly actual: number }
		| undefined;
	/** GEM objects: label, handle, domain, size, GPU VA. */
	readonly buffers: readonly {
		readonly label: string;
		readonly handle: number;
		readonly domain: 'vram' | 'gart';
		readonly size: bigint;
		readonly va: bigint;
	}[];
	readonly channel: number;
	readonly execs: number;
	readonly pushes: number;
	readonly pushbufferBytes: number;
	/** The timeline points reached (what SYNCOBJ_QUERY reported at the end). */
	readonly timelinePoint: bigint;
	/** Ioctls sent. */
	readonly ioctls: number;
	/** Real-time durations per step in nanoseconds. */
	readonly timings: Readonly<Record<DemoStep, bigint>>;
}

/** nouveau's chipset number → architecture (the ranges nouveau's `nvkm_device_ctor` switches on). */
export function architectureOfChipset(chipset: number): Architecture {
	if (chipset >= 0x160 && chipset < 0x170) return 'turing';
	if (chipset >= 0x170 && chipset < 0x180) return 'ampere';
	if (chipset >= 0x180 && chipset < 0x190) return 'hopper';
	if (chipset >= 0x190 && chipset < 0x1a0) return 'ada';
	throw new Error(`chipset 0x${chipset.toString(16)} has no known copy-engine classes`);
}

/** xorshift32: a deterministic pattern, different in every byte position. */
function pattern(bytes: Uint8Array, seed: number): void {
	let x = seed >>> 0 || 1;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	for (let i = 0; i + 4 <= bytes.length; i += 4) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		dv.setUint32(i, x >>> 0, true);
	}
}

/** Where the client maps its buffers (above its [0, 4 GiB) kernel range, as NVK keeps low VA for the kernel). */
const CLIENT_VA_BASE = 8n << 30n;
const PUSHBUF_SIZE = 65536n;

/**
 * Connect to the gspkit-drm socket at `socketPath` and run the demo workload; everything it created is
 * released when it closes the connection (or explicitly, with a given `client`).
 * @throws DrmError for an ioctl that failed; an Error when the device has no usable copy engine.
 */
export async function runDrmDemo(socketPath: string, options: DemoOptions = {}): Promise<DemoResult> {
	const now = options.now ?? (() => process.hrtime.bigint());
	const size = options.size ?? 1 << 20;
	const chunks = options.chunks ?? 8;
	if (size % (chunks * 4096) !== 0) throw new Error(`size ${size} must be a multiple of ${chunks} × 4096`);
	const timings = {} as Record<DemoStep, bigint>;
	let stepIndex = 0;
	let t = now();
	const step = (name: DemoStep) => {
		const n = now();
		timings[name] = n - t;
		t = n;
		options.onStep?.(name, ++stepIndex, DEMO_STEPS.length);
	};
	let ioctls = 0;
	const drm = options.client ?? (await openDrm(socketPath));
	const count = <T>(p: Promise<T>): Promise<T> => {
		ioctls++;
		return p;
	};
	try {
		const chipset = Number(await count(drm.getParam(NOUVEAU_GETPARAM_CHIPSET_ID)));
		const pushMax = Number(await count(drm.getParam(NOUVEAU_GETPARAM_EXEC_PUSH_MAX)));
		const classes = generationClasses({ architecture: architectureOfChipset(chipset), chipset });
		step('connect');

		// VM_INIT must come before any buffer or channel of a VM_BIND client.
		await count(drm.vmInit(0n, 4n << 30n));
		const big = BigInt(size);
		const specs = [
			{ label: 'src', domain: 'gart', size: big },
			{ label: 'vram', domain: 'vram', size: big },
			{ label: 'dst', domain: 'gart', size: big },
			{ label: 'pushbuf', domain: 'gart', size: PUSHBUF_SIZE },
		] as const;
		step('vm-init');
		const buffers = [];
		let va = CLIENT_VA_BASE;
		for (const s of specs) {
			const info = await count(
				drm.gemNew({
					size: s.size,
					domain: s.domain === 'vram' ? NOUVEAU_GEM_DOMAIN_VRAM : NOUVEAU_GEM_DOMAIN_GART,
				}),
			);
			buffers.push({ label: s.label, handle: info.handle, domain: s.domain, size: info.size, va });
			// 2 MiB-aligned addresses so large pages can be used where the backing allows.
			va += ((info.size + (2n << 20n) - 1n) / (2n << 20n)) * (2n << 20n);
		}
		const [src, vram, dst, pb] = buffers as [
			(typeof buffers)[0],
			(typeof buffers)[0],
			(typeof buffers)[0],
			(typeof buffers)[0],
		];
		const expected = new Uint8Array(size);
		pattern(expected, 0x9e3779b9);
		await count(drm.pwrite(src.handle, 0n, expected));
		step('gem-new');

		const bound = await count(drm.syncobjCreate());
		const timeline = await count(drm.syncobjCreate());
		await count(
			drm.vmBind({
				ops: buffers.map((b) => ({
					op: DRM_NOUVEAU_VM_BIND_OP_MAP,
					handle: b.handle,
					addr: b.va,
					range: b.size,
				})),
				sig: [{ handle: bound }],
			}),
		);
		step('vm-bind');

		const channel = (await count(drm.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE }))).channel;
		step('channel');

		// Pushbuffers: one segment per push, written one after another into the pushbuf GEM object.
		const segments: { va: bigint; length: number }[] = [];
		const image: Uint8Array[] = [];
		let offset = 0;
		const addSegment = (build: (pb: PushBuffer) => void): { va: bigint; length: number } => {
			const push = new PushBuffer(classes.host);
			build(push);
			const words = push.words();
			const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
			const seg = { va: pb.va + BigInt(offset), length: bytes.length };
			image.push(bytes.slice());
			offset += bytes.length;
			segments.push(seg);
			return seg;
		};
		const ce = (push: PushBuffer) => push.copyEngine(classes.copy, 4).bind();
		const fill = addSegment((p) => {
			ce(p).fill({ dst: dst.va, length: size, value: 0xffffffff, elementSize: 4 });
		});
		const chunk = size / chunks;
		const copies = [];
		for (let i = 0; i < chunks; i++) {
			const off = BigInt(i * chunk);
			copies.push(addSegment((p) => ce(p).copy({ src: src.va + off, dst: vram.va + off, length: chunk })));
		}
		const out = addSegment((p) => ce(p).copy({ src: vram.va, dst: dst.va, length: size }));
		if (BigInt(offset) > PUSHBUF_SIZE) throw new Error('the pushbuffers do not fit their GEM object');
		const all = new Uint8Array(offset);
		let at = 0;
		for (const b of image) {
			all.set(b, at);
			at += b.length;
		}
		await count(drm.pwrite(pb.handle, 0n, all));
		step('pushbuffers');

		let execs = 0;
		await count(
			drm.exec({
				channel,
				pushes: [fill],
				wait: [{ handle: bound }],
				sig: [{ handle: timeline, point: 1n }],
			}),
		);
		execs++;
		for (let i = 0; i < copies.length; i += pushMax) {
			const last = i + pushMax >= copies.length;
			await count(
				drm.exec({
					channel,
					pushes: copies.slice(i, i + pushMax),
					wait: [{ handle: bound }],
					// Only the last part signals point 2; jobs on one channel complete in order.
					sig: last ? [{ handle: timeline, point: 2n }] : [],
				}),
			);
			execs++;
		}
		await count(
			drm.exec({
				channel,
				pushes: [out],
				wait: [
					{ handle: timeline, point: 1n },
					{ handle: timeline, point: 2n },
				],
				sig: [{ handle: timeline, point: 3n }],
			}),
		);
		execs++;
		step('exec');

		const deadline = (await count(drm.now())) + 60_000_000_000n;
		await count(drm.syncobjTimelineWait([timeline], [3n], { timeoutNs: deadline }));
		const [reached] = await count(drm.syncobjQuery([timeline]));
		step('wait');

		const actual = await count(drm.pread(dst.handle, 0n, size));
		let mismatch: DemoResult['mismatch'];
		for (let i = 0; i < size; i++) {
			if (actual[i] !== expected[i]) {
				mismatch = { offset: i, expected: expected[i]!, actual: actual[i]! };
				break;
			}
		}
		step('verify');
		if (options.client === undefined) await drm.close();
		step('close');
		return {
			bytes: size,
			chipset,
			verified: mismatch === undefined,
			mismatch,
			buffers,
			channel,
			execs,
			pushes: segments.length,
			pushbufferBytes: offset,
			timelinePoint: reached ?? 0n,
			ioctls,
			timings,
		};
	} finally {
		if (options.client === undefined) await drm.close().catch(() => undefined);
	}
}
