/** Helpers to make device-side fences in tests: a VM, a channel and empty EXEC jobs with out-syncs. */

import { DRM_NOUVEAU_SYNC_SYNCOBJ, DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ } from '@gspkit/drm-frontend';
import type { Client } from '../client.ts';
import type { FakeDrmDevice, FakeJob } from '../fake-device.ts';

/** Flush pending promise callbacks and one macrotask. */
export function settle(): Promise<void> {
	return new Promise((resolve) => setImmediate(resolve));
}

/** VM_INIT + CHANNEL_ALLOC; returns the channel id. */
export async function gpuReady(c: Client): Promise<number> {
	const v = await c.vmInit();
	if (!v.ok) throw new Error(`VM_INIT: ${v.error}`);
	const ch = await c.channelAlloc();
	if (!ch.ok) throw new Error(`CHANNEL_ALLOC: ${ch.error}`);
	return ch.value;
}

/** A sync entry for a binary syncobj or (with `point`) a timeline point. */
export function sync(handle: number, point?: bigint) {
	return point === undefined
		? { flags: DRM_NOUVEAU_SYNC_SYNCOBJ, handle, timeline_value: 0n }
		: { flags: DRM_NOUVEAU_SYNC_TIMELINE_SYNCOBJ, handle, timeline_value: point };
}

/**
 * Submit an empty EXEC job on `channel` whose fence goes to the given syncobjs (binary, or a timeline point
 * when `point` is set) and return the fake device's job (complete it with `job.fence.signal()` or
 * `device.drain()`).
 */
export async function submitJob(
	c: Client,
	device: FakeDrmDevice,
	channel: number,
	signals: readonly { handle: number; point?: bigint }[],
	waits: readonly { handle: number; point?: bigint }[] = [],
): Promise<FakeJob> {
	const r = await c.exec(channel, [], {
		sig: signals.map((s) => sync(s.handle, s.point)),
		wait: waits.map((s) => sync(s.handle, s.point)),
	});
	if (!r.ok) throw new Error(`EXEC: ${r.error}`);
	const job = device.channels.get(channel)?.submitted.at(-1);
	if (job === undefined) throw new Error('no job');
	return job;
}
