/** The socket server on the frontend's in-memory fake device, in a fresh temp dir, for the conformance suite. */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDrmServer, type DrmServerEvent, type DrmServerOptions } from '@gspkit/drm-driver/server';
import { FakeDrmDevice } from '@gspkit/drm-frontend/testing';

export { FakeDrmDevice };

/** A server on a fresh fake device; `dispose()` closes it and removes the socket directory. */
export async function startServer(options: Partial<DrmServerOptions> = {}) {
	const dir = mkdtempSync(join(tmpdir(), 'gspkit-drm-'));
	const socketPath = join(dir, 'drm.sock');
	const device = (options.device as FakeDrmDevice | undefined) ?? new FakeDrmDevice();
	const events: DrmServerEvent[] = [];
	const server = await createDrmServer({ ...options, socketPath, device, onEvent: (e) => events.push(e) });
	return {
		dir,
		socketPath,
		device,
		server,
		events,
		internalErrors: () => events.filter((e) => e.type === 'internal-error'),
		async dispose(): Promise<void> {
			await server.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}
