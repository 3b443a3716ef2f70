/**
 * Serving a core device on a UNIX socket: the {@link createDrmDevice} adapter, a DRM frontend over it and
 * the socket server, with a shutdown that waits for the device-side teardown of every client.
 *
 * @module
 */

import type { Device } from '@gspkit/core';
import { type CoreDrmDevice, createDrmDevice, type DrmDeviceOptions } from './drm-device.ts';
import { createDrmServer, type DrmServer, type DrmServerEvent } from './server/index.ts';

/** A socket server on a core device. */
export interface CoreDrmService {
	readonly socketPath: string;
	readonly server: DrmServer;
	readonly drmDevice: CoreDrmDevice;
	/** Stop serving (clients are dropped, their files closed) and wait until their objects are freed. */
	close(): Promise<void>;
}

/** Options of {@link serveDevice}. */
export interface ServeOptions extends DrmDeviceOptions {
	readonly socketPath: string;
	readonly onEvent?: (event: DrmServerEvent) => void;
}

/** Serve `device`'s DRM uAPI on `options.socketPath`. The device stays open after {@link CoreDrmService.close}. */
export async function serveDevice(device: Device, options: ServeOptions): Promise<CoreDrmService> {
	const { socketPath, onEvent, ...deviceOptions } = options;
	const drmDevice = createDrmDevice(device, deviceOptions);
	const server = await createDrmServer({
		socketPath,
		device: drmDevice,
		...(onEvent === undefined ? {} : { onEvent }),
	});
	return {
		socketPath,
		server,
		drmDevice,
		async close() {
			await server.close();
			await drmDevice.settled();
		},
	};
}
