/**
 * The gspkit-drm socket server. Its wire format is described in `apps/drm-driver/README-protocol.md`.
 *
 * @module
 */

export {
	createDrmServer,
	type DrmServer,
	type DrmServerEvent,
	type DrmServerOptions,
	type DrmServerStats,
} from './server.ts';
export { regionAddress, WireMemory } from './wire-memory.ts';
