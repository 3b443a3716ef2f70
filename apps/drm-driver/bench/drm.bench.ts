/**
 * gspkit-drm socket benchmark, on two devices behind the same socket server:
 *
 * - **fake**: `@gspkit/drm-frontend`'s in-memory `FakeDrmDevice` — the cost of the protocol, the server and
 *   the frontend alone (jobs complete when the bench drains them);
 * - **core**: the real stack — `@gspkit/core` on the simulated GPU (`gpu-sim`, virtual clock, GSP-RM
 *   emulator stepped on the clock), booted with the published firmware when it is found and gpu-sim's
 *   synthetic firmware otherwise (as `npm start`), served through `serveDevice`. Its EXECs push a real
 *   256-byte copy that the simulated host and copy engines run in this same process.
 *
 * Per device, in one run: an ECHO round trip over the socket (the same-run baseline), GETPARAM round trips
 * (the small ioctl), VM_BIND map+unmap of 1 MiB (pages/s) and EXEC submissions chained through timeline
 * syncobj points (each waits for the previous point and signals the next; every 64 the bench waits until
 * the chain has run, so the rate is sustained, not just queued), then the same chain with no pushes (the
 * job, its fence and the syncobjs without engine work). The summary puts both devices side by side
 * with the issue's targets — ≥ 20 000 small ioctls/s per client, EXEC within 3× the echo round trip — and
 * says for each whether it was met.
 *
 * Run: `npm run bench -w @gspkit/drm-driver` (`-- --quick` for a short run, `-- --synthetic` to boot the
 * synthetic firmware even when published files exist).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generationClasses, PushBuffer } from '@gspkit/channel-sched';
import { type DrmClient, openDrm } from '@gspkit/drm-client';
import {
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	NOUVEAU_FIFO_ENGINE_CE,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_CHIPSET_ID,
	NOUVEAU_GETPARAM_PCI_VENDOR,
} from '@gspkit/drm-frontend';
import { FakeDrmDevice } from '@gspkit/drm-frontend/testing';
import { createSimulatedGpu } from '@gspkit/gpu-sim';
import { architectureOfChipset } from '../src/demo.ts';
import { serveDevice } from '../src/serve.ts';
import { createDrmServer } from '../src/server/index.ts';
import { openSimulatedDevice } from '../src/sim.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const synthetic = args.includes('--synthetic');
const ROUNDS = {
	echo: quick ? 4_000 : 20_000,
	getparam: quick ? 4_000 : 20_000,
	bind: quick ? 400 : 2_000,
	exec: quick ? 1_000 : 5_000,
};
/** The targets. */
const TARGET_IOCTLS = 20_000;
const TARGET_EXEC_X_ECHO = 3;

const BIND_PAGES = 256n;
/** VM_INIT's kernel-managed range [0, 4 GiB); the bench maps far above it. */
const KERNEL_SIZE = 4n << 30n;
const BIND_VA = 1n << 36n;
const PUSH_VA = 1n << 37n;
const COPY_BYTES = 256;
/** EXECs between waits for the chain to have run. */
const WINDOW = 64n;

/** Microseconds per operation, measured after a warm-up of up to 200 operations. */
async function timeEach(n: number, body: (i: number) => Promise<void>): Promise<number> {
	for (let i = 0; i < Math.min(200, n); i++) await body(i);
	const t0 = performance.now();
	for (let i = 0; i < n; i++) await body(i);
	return ((performance.now() - t0) * 1000) / n;
}

function progress(line: string): void {
	console.info(`  … ${line}`);
}

/** What one device measured (µs per operation). */
interface Figures {
	readonly echoUs: number;
	readonly getparamUs: number;
	/** One map + one unmap of {@link BIND_PAGES} pages. */
	readonly bindPairUs: number;
	readonly execUs: number;
	/** The same chain with no pushes: the job, its fence and the syncobjs, no engine work. */
	readonly execEmptyUs: number;
}

/** A device behind a socket, ready to measure. */
interface Served {
	readonly socketPath: string;
	readonly label: string;
	/** Let the submitted jobs run (the fake completes them only when drained). */
	runJobs(): void;
	close(): Promise<void>;
}

/** The push the EXECs run: a 256-byte copy inside the push object (core runs it; the fake ignores it). */
function copyPush(chipset: number): Uint8Array {
	const classes = generationClasses({ architecture: architectureOfChipset(chipset), chipset });
	const push = new PushBuffer(classes.host);
	push
		.copyEngine(classes.copy, 4)
		.bind()
		.copy({ src: PUSH_VA + 0x1000n, dst: PUSH_VA + 0x2000n, length: COPY_BYTES });
	const words = push.words();
	return new Uint8Array(words.buffer, words.byteOffset, words.byteLength).slice();
}

async function measure(served: Served): Promise<Figures> {
	const c: DrmClient = await openDrm(served.socketPath);
	try {
		const small = new Uint8Array(16);
		progress(`${served.label}: ECHO`);
		const echoUs = await timeEach(ROUNDS.echo, async () => {
			await c.connection.echo(small);
		});
		progress(`${served.label}: GETPARAM`);
		const getparamUs = await timeEach(ROUNDS.getparam, async () => {
			await c.getParam(NOUVEAU_GETPARAM_PCI_VENDOR);
		});

		await c.vmInit(0n, KERNEL_SIZE);
		const bo = await c.gemNew({ size: BIND_PAGES * 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		progress(`${served.label}: VM_BIND`);
		const range = BIND_PAGES * 4096n;
		const bindPairUs = await timeEach(ROUNDS.bind, async () => {
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: BIND_VA, range }] });
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_UNMAP, addr: BIND_VA, range }] });
		});

		const pushBo = await c.gemNew({ size: 64n * 1024n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
		await c.vmBind({
			ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: pushBo.handle, addr: PUSH_VA, range: 64n * 1024n }],
		});
		const bytes = copyPush(Number(await c.getParam(NOUVEAU_GETPARAM_CHIPSET_ID)));
		await c.pwrite(pushBo.handle, 0n, bytes);
		const ch = await c.channelAlloc({ engine: NOUVEAU_FIFO_ENGINE_CE });
		const chain = async (label: string, pushes: readonly { va: bigint; length: number }[]) => {
			const tl = await c.syncobjCreate();
			let point = 0n;
			const settle = async (): Promise<void> => {
				served.runJobs();
				await c.syncobjTimelineWait([tl], [point], { timeoutNs: (await c.now()) + 60_000_000_000n });
			};
			progress(`${served.label}: ${label}`);
			const us = await timeEach(ROUNDS.exec, async () => {
				const wait = point === 0n ? [] : [{ handle: tl, point }];
				point++;
				await c.exec({ channel: ch.channel, pushes, wait, sig: [{ handle: tl, point }] });
				if (point % WINDOW === 0n) await settle();
			});
			await settle();
			return us;
		};
		const execUs = await chain('EXEC', [{ va: PUSH_VA, length: bytes.length }]);
		const execEmptyUs = await chain('EXEC without pushes', []);
		return { echoUs, getparamUs, bindPairUs, execUs, execEmptyUs };
	} finally {
		await c.close();
	}
}

async function fakeDevice(dir: string): Promise<Served> {
	const socketPath = join(dir, 'fake.sock');
	const device = new FakeDrmDevice({ vramSize: 1n << 32n });
	const server = await createDrmServer({ socketPath, device });
	return {
		socketPath,
		label: 'fake',
		runJobs: () => void device.drain(),
		close: () => server.close(),
	};
}

async function coreDevice(dir: string): Promise<Served & { readonly description: string }> {
	const gpu = createSimulatedGpu({ chip: 'ga102' });
	const device = await openSimulatedDevice(gpu, 'ga102', synthetic ? { synthetic: true } : {});
	const service = await serveDevice(device, { socketPath: join(dir, 'core.sock') });
	const fw = device.info.firmware;
	return {
		socketPath: service.socketPath,
		label: 'core',
		description: `gpu-sim ga102, GSP-RM ${fw.version} (${fw.source === 'files' ? 'published firmware' : (fw.label ?? 'in-memory firmware')}), ${gpu.clock.kind} clock`,
		runJobs() {},
		async close() {
			try {
				await service.close();
			} finally {
				await device.close();
				await gpu.close();
			}
		},
	};
}

// ───────────────────────────── report ─────────────────────────────

const perSecond = (us: number): number => 1e6 / us;

function rate(us: number, unit: string): string {
	const r = perSecond(us);
	const v = r >= 1e6 ? `${(r / 1e6).toFixed(2)} M` : `${Math.round(r).toLocaleString('en-US')} `;
	return `${v}${unit}/s (${us.toFixed(1)} µs)`;
}

function table(rows: readonly (readonly string[])[]): void {
	const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
	for (const r of rows)
		console.info(
			r
				.map((cell, i) => cell.padEnd(widths[i] ?? 0))
				.join('   ')
				.trimEnd(),
		);
}

const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-bench-'));
try {
	console.info('gspkit-drm socket benchmark');
	const fake = await fakeDevice(dir);
	let f: Figures;
	try {
		f = await measure(fake);
	} finally {
		await fake.close();
	}
	progress('core: booting gpu-sim');
	const core = await coreDevice(dir);
	let k: Figures;
	try {
		k = await measure(core);
	} finally {
		await core.close();
	}

	const verdict = (ok: boolean): string => (ok ? 'met' : 'NO');
	const execX = (x: Figures): number => x.execUs / x.echoUs;
	console.info('');
	console.info(`fake: FakeDrmDevice (in memory)   core: ${core.description}`);
	console.info(
		`rounds: echo ${ROUNDS.echo}, GETPARAM ${ROUNDS.getparam}, VM_BIND ${ROUNDS.bind} map+unmap pairs, EXEC ${ROUNDS.exec} (wait for the chain every ${WINDOW})`,
	);
	console.info('');
	table([
		['measure', 'fake device', 'core device', 'target', 'fake', 'core'],
		['ECHO 16 B round trip (baseline)', rate(f.echoUs, ''), rate(k.echoUs, ''), '', '', ''],
		[
			'GETPARAM round trip',
			rate(f.getparamUs, ''),
			rate(k.getparamUs, ''),
			`≥ ${TARGET_IOCTLS.toLocaleString('en-US')}/s`,
			verdict(perSecond(f.getparamUs) >= TARGET_IOCTLS),
			verdict(perSecond(k.getparamUs) >= TARGET_IOCTLS),
		],
		[
			`VM_BIND map+unmap ${BIND_PAGES * 4n} KiB`,
			rate(f.bindPairUs, ' pairs'),
			rate(k.bindPairUs, ' pairs'),
			'',
			'',
			'',
		],
		[
			'  → pages mapped',
			rate(f.bindPairUs / Number(BIND_PAGES), ' pages'),
			rate(k.bindPairUs / Number(BIND_PAGES), ' pages'),
			'',
			'',
			'',
		],
		['EXEC, timeline chain (wait+sig)', rate(f.execUs, ''), rate(k.execUs, ''), '', '', ''],
		[
			'  → EXEC cost ÷ echo round trip',
			`${execX(f).toFixed(2)}×`,
			`${execX(k).toFixed(2)}×`,
			`≤ ${TARGET_EXEC_X_ECHO}×`,
			verdict(execX(f) <= TARGET_EXEC_X_ECHO),
			verdict(execX(k) <= TARGET_EXEC_X_ECHO),
		],
		['EXEC without pushes (job + fence only)', rate(f.execEmptyUs, ''), rate(k.execEmptyUs, ''), '', '', ''],
		[
			'  → ÷ echo round trip',
			`${(f.execEmptyUs / f.echoUs).toFixed(2)}×`,
			`${(k.execEmptyUs / k.echoUs).toFixed(2)}×`,
			'',
			'',
			'',
		],
	]);
	console.info('');
	console.info(
		'core EXEC includes running the job: gpu-sim’s host and copy engines execute it in this process (the row',
	);
	console.info('without pushes still has the host engine fetch the ring entry and release the fence).');
} finally {
	rmSync(dir, { recursive: true, force: true });
}
