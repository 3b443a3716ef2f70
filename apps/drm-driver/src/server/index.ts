/**
 * The gspkit-drm socket server (see `README-protocol.md` for the wire format).
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
