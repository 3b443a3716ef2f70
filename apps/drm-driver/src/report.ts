/**
 * Rendering a boot + workload run for people (a coloured report) and for programs (JSON).
 *
 * @module
 */

import type { DeviceInfo, StageTiming } from '@gspkit/core';
import { hex } from '@gspkit/hal';
import type { DemoResult } from './demo.ts';
import { type Colors, formatSize } from './format.ts';
import type { WorkloadResult } from './workload.ts';

/** Everything one `gspkit-drm` run produced. */
export interface RunReport {
	readonly info: DeviceInfo;
	/** Bring-up stages (real time). */
	readonly boot: readonly StageTiming[];
	/** Wall time from the start to the device being ready. */
	readonly bootNs: bigint;
	readonly workload: WorkloadResult;
	/** The demo client's run through the socket (absent when it did not run). */
	readonly drm?: DrmRunReport;
	/** Device teardown (channels, VA spaces, memory, RM client, GSP shutdown). */
	readonly teardownNs: bigint;
	/** What the teardown reported (device log lines). */
	readonly teardown: readonly string[];
	/** Real time in total. */
	readonly totalNs: bigint;
	/** Device log lines seen during the run. */
	readonly log: readonly string[];
	/** How the platform's time and GSP processor ran. */
	readonly mode: { readonly clock: 'virtual' | 'real'; readonly gsp: string };
}

/** The DRM part of a run: the socket server on the device and the demo client's workload. */
export interface DrmRunReport {
	readonly socketPath: string;
	readonly demo: DemoResult;
	/** Server start to demo end, real time. */
	readonly totalNs: bigint;
	/** Server shutdown and device-side teardown of the client's objects. */
	readonly shutdownNs: bigint;
	/** VRAM in use before the server started and after it stopped (must be equal). */
	readonly vramBefore: bigint;
	readonly vramAfter: bigint;
}

/** Nanoseconds as milliseconds with one decimal. */
export function ms(ns: bigint): string {
	return `${(Number(ns) / 1e6).toFixed(1)} ms`;
}

/** A byte count in GiB/MiB with two decimals, for sizes that are not exact units. */
export function formatBytes(bytes: bigint): string {
	const gib = Number(bytes) / 2 ** 30;
	if (gib >= 1) return `${gib.toFixed(2)} GiB`;
	return `${(Number(bytes) / 2 ** 20).toFixed(2)} MiB`;
}

const CLASS_NAMES: Readonly<Record<number, string>> = {
	50287: 'TURING_CHANNEL_GPFIFO_A',
	50543: 'AMPERE_CHANNEL_GPFIFO_A',
	51311: 'HOPPER_CHANNEL_GPFIFO_A',
	50613: 'TURING_DMA_COPY_A',
	50869: 'AMPERE_DMA_COPY_A',
	51125: 'AMPERE_DMA_COPY_B',
	51381: 'HOPPER_DMA_COPY_A',
};

function className(id: number): string {
	const n = CLASS_NAMES[id];
	return n === undefined ? hex(id, 4) : `${n} (${hex(id, 4)})`;
}

/** Where the firmware came from, in words. */
export function firmwareSource(info: DeviceInfo): string {
	const f = info.firmware;
	if (f.source === 'memory') return `${f.label ?? 'in-memory files'} — no published firmware found`;
	const gsp = f.files.find((p) => /\/gsp-[0-9.]+\.bin$/.test(p)) ?? f.files[0] ?? '';
	return `published files (${gsp})`;
}

/** The human-readable report. */
export function formatRunReport(r: RunReport, c: Colors): string {
	const i = r.info;
	const w = r.workload;
	const out: string[] = [];
	const row = (k: string, v: string) => out.push(`  ${c.cyan(k.padEnd(11))}${v}`);
	row('platform', `${i.platform}  ${c.dim(`(${r.mode.clock} clock, GSP-RM emulator ${r.mode.gsp})`)}`);
	row(
		'firmware',
		`GSP-RM ${c.bold(i.firmware.version)} (${i.firmware.branch}${i.firmware.forced ? ', forced' : ''}) from ${firmwareSource(i)}`,
	);
	out.push(c.bold('boot stages'));
	const width = Math.max(...r.boot.map((t) => t.stage.length)) + 2;
	for (const t of r.boot) {
		if (t.stage === 'ready') continue;
		out.push(`  ${t.stage.padEnd(width)}${ms(t.durationNs).padStart(10)}`);
	}
	out.push(`  ${c.bold('total'.padEnd(width))}${c.bold(ms(r.bootNs).padStart(10))}`);
	out.push(c.bold('device'));
	row(
		'chip',
		`${c.bold(c.green(i.chip.name))} ${i.chip.architecture}, chipset ${hex(i.chip.chipset, 3)}, revision ${i.chip.revision} — ${i.gpuName}`,
	);
	row(
		'vram',
		`${formatSize(i.vram.total)}, ${formatBytes(i.vram.usable)} usable (${formatBytes(i.vram.reserved)} reserved by RM and firmware)`,
	);
	row(
		'gr',
		`${i.gr.gpcCount} GPCs, ${i.gr.tpcCount} TPCs ${c.dim(`(TPC masks ${i.gr.tpcMasks.map((m) => hex(m, 1)).join(' ')}; from ${i.gr.source})`)}`,
	);
	row('engines', i.engines.map((e) => e.name).join(' '));
	if (i.interrupts !== undefined)
		row('interrupts', `${i.interrupts.length} routes in the kernel interrupt table`);
	row('mmu', `${i.mmu.format}, ${i.mmu.vaBits}-bit VA`);
	out.push(`${c.bold('core self-test')} ${c.dim('(in-process, core API)')}`);
	row(
		'va space',
		`RM handle ${hex(w.vaSpace.handle)}, PDB ${hex(w.vaSpace.pdb, 1)}, RM range ${hex(w.vaSpace.rmRange.lo, 1)}–${hex(w.vaSpace.rmRange.hi, 1)} promoted (${w.vaSpace.levels} levels)  ${c.dim(ms(w.timings.vaSpace))}`,
	);
	row(
		'channel',
		`chid ${w.channel.chid} runlist ${w.channel.runlistId}, ${className(w.channel.hostClass)} + ${className(w.channel.copyClass)}, token ${hex(w.channel.workSubmitToken, 1)}  ${c.dim(ms(w.timings.channel))}`,
	);
	row('mappings', w.mappings.map((m) => `${m.label}@${hex(m.va, 1)} (${m.placement})`).join('  '));
	const mibps = (w.bytes * 2) / 2 ** 20 / (Number(w.timings.jobs) / 1e9);
	row(
		'jobs',
		`${w.jobs} jobs through the scheduler (1 fill, ${w.jobs - 2} copies into VRAM, 1 copy out): ${formatSize(BigInt(w.bytes))} in and out in ${ms(w.timings.jobs)} ${c.dim(`(${mibps.toFixed(0)} MiB/s copied)`)}`,
	);
	row(
		'verify',
		w.verified
			? `${c.green('OK')}: ${formatSize(BigInt(w.bytes))} byte for byte  ${c.dim(ms(w.timings.verify))}`
			: `${c.red('MISMATCH')} at byte ${w.mismatch?.offset}: expected ${hex(w.mismatch?.expected ?? 0, 2)}, got ${hex(w.mismatch?.actual ?? 0, 2)}`,
	);
	if (r.drm !== undefined) formatDrm(r.drm, c, out, row);
	row('teardown', `${['objects freed through RM', ...r.teardown].join(', ')}  ${c.dim(ms(r.teardownNs))}`);
	row('total', ms(r.totalNs));
	return out.join('\n');
}

function formatDrm(d: DrmRunReport, c: Colors, out: string[], row: (k: string, v: string) => void): void {
	const m = d.demo;
	out.push(`${c.bold('drm demo')} ${c.dim(`(a client over ${d.socketPath}, @gspkit/drm-client)`)}`);
	const t = m.timings;
	row(
		'gem',
		`${m.buffers.map((b) => `${b.label} ${formatSize(b.size)} ${b.domain}@${hex(b.va, 1)}`).join('  ')}  ${c.dim(ms(t['gem-new']))}`,
	);
	row(
		'vm',
		`VM_INIT ${c.dim(ms(t['vm-init']))}, async VM_BIND of ${m.buffers.length} maps signalling a syncobj ${c.dim(ms(t['vm-bind']))}`,
	);
	row('channel', `CHANNEL_ALLOC on the copy engine: channel ${m.channel}  ${c.dim(ms(t.channel))}`);
	row(
		'exec',
		`${m.execs} EXECs, ${m.pushes} pushes (${m.pushbufferBytes} bytes of pushbuffer via PWRITE), chained by timeline points 1→2→3  ${c.dim(ms(t.exec))}`,
	);
	const mibps = (m.bytes * 2) / 2 ** 20 / (Number(t.exec + t.wait) / 1e9);
	row(
		'wait',
		`SYNCOBJ_TIMELINE_WAIT point 3 (reached ${m.timelinePoint}) ${c.dim(`${ms(t.wait)}; ${mibps.toFixed(0)} MiB/s copied`)}`,
	);
	row(
		'verify',
		m.verified
			? `${c.green('OK')}: ${formatSize(BigInt(m.bytes))} PREAD back byte for byte  ${c.dim(ms(t.verify))}`
			: `${c.red('MISMATCH')} at byte ${m.mismatch?.offset}: expected ${hex(m.mismatch?.expected ?? 0, 2)}, got ${hex(m.mismatch?.actual ?? 0, 2)}`,
	);
	row(
		'released',
		`${m.ioctls} ioctls in ${ms(d.totalNs)}; after disconnect + shutdown VRAM in use ${formatBytes(d.vramAfter)} (before ${formatBytes(d.vramBefore)})  ${c.dim(ms(d.shutdownNs))}`,
	);
}

/** The JSON form of a run (bigints as strings or numbers, IDs as hex). */
export function runReportJson(r: RunReport) {
	const i = r.info;
	const w = r.workload;
	const n = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
	const msNum = (v: bigint) => Math.round(Number(v) / 1e3) / 1e3;
	return {
		platform: i.platform,
		mode: r.mode,
		chip: { ...i.chip, chipset: hex(i.chip.chipset, 3) },
		gpuName: i.gpuName,
		firmware: {
			version: i.firmware.version,
			branch: i.firmware.branch,
			abiVersion: i.firmware.abiVersion,
			forced: i.firmware.forced,
			source: i.firmware.source,
			label: i.firmware.label ?? null,
			files: i.firmware.files,
		},
		vram: {
			total: n(i.vram.total),
			usable: n(i.vram.usable),
			reserved: n(i.vram.reserved),
			regions: i.vram.regions.map((g) => ({
				base: hex(g.base, 1),
				limit: hex(g.limit, 1),
				reserved: n(g.reserved),
				protected: g.protected,
			})),
		},
		gr: { ...i.gr, tpcMasks: i.gr.tpcMasks.map((m) => hex(m, 1)) },
		engines: i.engines,
		interrupts: i.interrupts?.length ?? null,
		mmu: i.mmu,
		bootMs: msNum(r.bootNs),
		stagesMs: Object.fromEntries(
			r.boot.filter((t) => t.stage !== 'ready').map((t) => [t.stage, msNum(t.durationNs)]),
		),
		workload: {
			bytes: w.bytes,
			jobs: w.jobs,
			verified: w.verified,
			mismatch: w.mismatch ?? null,
			vaSpace: {
				handle: hex(w.vaSpace.handle),
				pdb: hex(w.vaSpace.pdb, 1),
				rmRange: [hex(w.vaSpace.rmRange.lo, 1), hex(w.vaSpace.rmRange.hi, 1)],
				levels: w.vaSpace.levels,
			},
			channel: {
				chid: w.channel.chid,
				runlistId: w.channel.runlistId,
				hostClass: hex(w.channel.hostClass, 4),
				copyClass: hex(w.channel.copyClass, 4),
				workSubmitToken: hex(w.channel.workSubmitToken, 1),
			},
			mappings: w.mappings.map((m) => ({ ...m, va: hex(m.va, 1) })),
			timingsMs: Object.fromEntries(Object.entries(w.timings).map(([k, v]) => [k, msNum(v)])),
			scheduler: w.scheduler,
		},
		drm:
			r.drm === undefined
				? null
				: {
						socketPath: r.drm.socketPath,
						bytes: r.drm.demo.bytes,
						verified: r.drm.demo.verified,
						mismatch: r.drm.demo.mismatch ?? null,
						chipset: hex(r.drm.demo.chipset, 3),
						buffers: r.drm.demo.buffers.map((b) => ({ ...b, size: n(b.size), va: hex(b.va, 1) })),
						channel: r.drm.demo.channel,
						execs: r.drm.demo.execs,
						pushes: r.drm.demo.pushes,
						timelinePoint: n(r.drm.demo.timelinePoint),
						ioctls: r.drm.demo.ioctls,
						timingsMs: Object.fromEntries(Object.entries(r.drm.demo.timings).map(([k, v]) => [k, msNum(v)])),
						totalMs: msNum(r.drm.totalNs),
						shutdownMs: msNum(r.drm.shutdownNs),
						vramBefore: n(r.drm.vramBefore),
						vramAfter: n(r.drm.vramAfter),
					},
		teardownMs: msNum(r.teardownNs),
		teardown: r.teardown,
		totalMs: msNum(r.totalNs),
		log: r.log,
	};
}
