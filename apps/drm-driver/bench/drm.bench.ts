/**
 * gspkit-drm socket benchmark: small-ioctl round trips (GETPARAM) against a same-run ECHO baseline over
 * the same kind of socket, VM_BIND map throughput, EXEC submissions with timeline-syncobj chains.
 * Run: `npm run bench -w @gspkit/drm-driver`.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDrm } from '@gspkit/drm-client';
import {
	DRM_NOUVEAU_VM_BIND_OP_MAP,
	DRM_NOUVEAU_VM_BIND_OP_UNMAP,
	NOUVEAU_GEM_DOMAIN_VRAM,
	NOUVEAU_GETPARAM_PCI_VENDOR,
} from '@gspkit/drm-frontend';
import { FakeDrmDevice } from '@gspkit/drm-frontend/testing';
import { createDrmServer } from '../src/server/index.ts';

async function rate(
	label: string,
	n: number,
	body: (i: number) => Promise<void>,
	unit = 'ops',
): Promise<number> {
	for (let i = 0; i < Math.min(200, n); i++) await body(i); // warm-up
	const t0 = performance.now();
	for (let i = 0; i < n; i++) await body(i);
	const s = (performance.now() - t0) / 1000;
	const r = n / s;
	console.info(
		`${label.padEnd(44)} ${r.toFixed(0).padStart(9)} ${unit}/s  (${((s / n) * 1e6).toFixed(1)} µs each)`,
	);
	return r;
}

const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-bench-'));
const socketPath = join(dir, 'drm.sock');
const device = new FakeDrmDevice({ vramSize: 1n << 32n });
const server = await createDrmServer({ socketPath, device });
try {
	const c = await openDrm(socketPath);
	const small = new Uint8Array(16);
	const echo = await rate('ECHO 16 B (baseline round trip)', 20_000, async () => {
		await c.connection.echo(small);
	});
	const getparam = await rate('GETPARAM round trip', 20_000, async () => {
		await c.getParam(NOUVEAU_GETPARAM_PCI_VENDOR);
	});

	await c.vmInit(0n, 1n << 32n);
	const PAGES = 256n;
	const bo = await c.gemNew({ size: PAGES * 4096n, domain: NOUVEAU_GEM_DOMAIN_VRAM });
	const base = 1n << 36n;
	const binds = await rate(
		'VM_BIND map+unmap of 1 MiB (256 pages)',
		2_000,
		async () => {
			await c.vmBind({
				ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: base, range: PAGES * 4096n }],
			});
			await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_UNMAP, addr: base, range: PAGES * 4096n }] });
		},
		'pairs',
	);
	console.info(`${'  → mapped pages'.padEnd(44)} ${(binds * Number(PAGES)).toFixed(0).padStart(9)} pages/s`);

	await c.vmBind({ ops: [{ op: DRM_NOUVEAU_VM_BIND_OP_MAP, handle: bo.handle, addr: base, range: 65536n }] });
	const ch = await c.channelAlloc();
	const tl = await c.syncobjCreate();
	let point = 0n;
	const exec = await rate('EXEC with timeline-syncobj chain (wait+sig)', 10_000, async () => {
		const wait = point === 0n ? [] : [{ handle: tl, point }];
		point++;
		await c.exec({
			channel: ch.channel,
			pushes: [{ va: base, length: 64 }],
			wait,
			sig: [{ handle: tl, point }],
		});
		if (point % 64n === 0n) device.drain();
	});
	device.drain();

	console.info('');
	console.info(
		`GETPARAM: ${getparam.toFixed(0)}/s (target ≥ 20000) — ${getparam >= 20_000 ? 'met' : 'MISSED'}`,
	);
	const overhead = echo / exec;
	console.info(
		`EXEC cost = ${overhead.toFixed(2)}× the echo round trip (target ≤ 3×) — ${overhead <= 3 ? 'met' : 'MISSED'}`,
	);
	await c.close();
} finally {
	await server.close();
	rmSync(dir, { recursive: true, force: true });
}
