/**
 * The demo workload: a VA space, a copy channel, and copies through the scheduler, verified byte for byte.
 *
 * 1. system memory `src` is filled with a pseudo-random pattern by the CPU; `dst` (system memory) is filled
 *    with 0xffffffff by the copy engine, so a copy that never happened cannot pass;
 * 2. `src` is copied into a VRAM buffer in `chunks` jobs, then the VRAM buffer into `dst` in one job that
 *    depends on all of them;
 * 3. `dst` is compared with `src` byte for byte.
 *
 * @module
 */

import type { Device, DeviceChannel, DeviceVaSpace } from '@gspkit/core';

/** Options of {@link runCopyWorkload}. */
export interface WorkloadOptions {
	/** Bytes to copy (default 1 MiB). */
	readonly size?: number;
	/** Jobs the copy into VRAM is split into (default 8). */
	readonly chunks?: number;
	/** Real-time clock for timings (default `process.hrtime.bigint`). */
	readonly now?: () => bigint;
}

/** What the workload did. */
export interface WorkloadResult {
	readonly bytes: number;
	readonly jobs: number;
	/** Whether `dst` equals `src` byte for byte. */
	readonly verified: boolean;
	/** First differing byte, if any. */
	readonly mismatch:
		| { readonly offset: number; readonly expected: number; readonly actual: number }
		| undefined;
	readonly vaSpace: {
		readonly handle: number;
		readonly pdb: bigint;
		readonly rmRange: { readonly lo: bigint; readonly hi: bigint };
		readonly levels: number;
	};
	readonly channel: {
		readonly chid: number;
		readonly runlistId: number;
		readonly hostClass: number;
		readonly copyClass: number;
		readonly workSubmitToken: number;
	};
	readonly mappings: readonly { readonly label: string; readonly va: bigint; readonly placement: string }[];
	/** Real-time durations in nanoseconds. */
	readonly timings: {
		readonly vaSpace: bigint;
		readonly channel: bigint;
		readonly setup: bigint;
		readonly jobs: bigint;
		readonly verify: bigint;
	};
	/** Scheduler counters. */
	readonly scheduler: { readonly submitted: number; readonly completed: number };
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

/**
 * Run the workload on an open device and leave nothing behind (the VA space, channel and memory are freed).
 * @throws whatever the device raises; a failed job's fence error.
 */
export async function runCopyWorkload(
	device: Device,
	options: WorkloadOptions = {},
): Promise<WorkloadResult> {
	const now = options.now ?? (() => process.hrtime.bigint());
	const size = options.size ?? 1 << 20;
	const chunks = options.chunks ?? 8;
	if (size % (chunks * 4096) !== 0) throw new Error(`size ${size} must be a multiple of ${chunks} × 4096`);
	const t0 = now();
	const vas: DeviceVaSpace = await device.createVaSpace({ name: 'demo' });
	const t1 = now();
	let channel: DeviceChannel | undefined;
	const memories = [] as ReturnType<Device['allocMemory']>[];
	try {
		channel = await device.createChannel(vas, { engine: 'copy', name: 'demo-copy' });
		const t2 = now();
		const src = device.allocMemory({ size, placement: 'sysmem', label: 'src' });
		const vram = device.allocMemory({ size, placement: 'vram', label: 'vram' });
		const dst = device.allocMemory({ size, placement: 'sysmem', label: 'dst' });
		memories.push(src, vram, dst);
		const expected = new Uint8Array(size);
		pattern(expected, 0x9e3779b9);
		src.write(0, expected);
		const mSrc = vas.map(src);
		const mVram = vas.map(vram);
		const mDst = vas.map(dst);
		const t3 = now();

		const entity = channel.createEntity('demo', 'normal');
		const jobs = [channel.fill({ dst: mDst.va, length: size, value: 0xffffffff }, { entity })];
		const chunk = size / chunks;
		const ins = [];
		for (let i = 0; i < chunks; i++) {
			const off = BigInt(i * chunk);
			ins.push(channel.copy({ src: mSrc.va + off, dst: mVram.va + off, length: chunk }, { entity }));
		}
		jobs.push(...ins);
		const out = channel.copy(
			{ src: mVram.va, dst: mDst.va, length: size },
			{ entity, dependencies: [jobs[0]!.finished, ...ins.map((j) => j.finished)] },
		);
		jobs.push(out);
		for (const j of jobs) await j.finished.result();
		const t4 = now();

		const actual = dst.read(0, size);
		let mismatch: WorkloadResult['mismatch'];
		for (let i = 0; i < size; i++) {
			if (actual[i] !== expected[i]) {
				mismatch = { offset: i, expected: expected[i]!, actual: actual[i]! };
				break;
			}
		}
		const t5 = now();
		const hw = channel.hardware;
		const result: WorkloadResult = {
			bytes: size,
			jobs: jobs.length,
			verified: mismatch === undefined,
			mismatch,
			vaSpace: {
				handle: vas.handle,
				pdb: vas.pdb.address,
				rmRange: { lo: vas.serverReserved.virtAddrLo, hi: vas.serverReserved.virtAddrHi },
				levels: vas.serverReserved.levels.length,
			},
			channel: {
				chid: hw.chid,
				runlistId: hw.runlistId,
				hostClass: hw.hostClass,
				copyClass: hw.copyClass,
				workSubmitToken: hw.workSubmitToken,
			},
			mappings: [mSrc, mVram, mDst].map((m) => ({
				label: m.memory.label,
				va: m.va,
				placement: m.memory.backing.aperture === 'video' ? 'vram' : 'sysmem',
			})),
			timings: { vaSpace: t1 - t0, channel: t2 - t1, setup: t3 - t2, jobs: t4 - t3, verify: t5 - t4 },
			scheduler: {
				submitted: channel.scheduler.stats.submitted,
				completed: channel.scheduler.stats.completed,
			},
		};
		return result;
	} finally {
		await channel?.destroy();
		for (const m of vas.mappings) vas.unmap(m);
		for (const m of memories) m.free();
		await vas.destroy();
	}
}
