/**
 * `device`: `NV01_DEVICE_0` / `NV20_SUBDEVICE_0` allocation params and event notifications.
 *
 * @module
 */

import type { DeviceAllocInput, DeviceApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { DEVICE_ALLOC, EVENT_SET_NOTIFICATION, SUBDEVICE_ALLOC } from '../specs.ts';
import { build, controlCall, R535_PACKAGE } from '../util.ts';

/** Build the `device` sub-interface on `ctx`'s layouts. */
export function createDeviceApi(ctx: AbiContext): DeviceApi {
	return ctx.build('device', R535_PACKAGE, 'createDeviceApi', () =>
		ctx.members({
			deviceLayout: () => ctx.bind(DEVICE_ALLOC),
			subdeviceLayout: () => ctx.bind(SUBDEVICE_ALLOC),
			deviceAllocParams: () => {
				const layout = ctx.bind(DEVICE_ALLOC);
				return (p: DeviceAllocInput = {}) => build(layout, { ...p });
			},
			subdeviceAllocParams: () => {
				const layout = ctx.bind(SUBDEVICE_ALLOC);
				return (p: { readonly subDeviceId?: number } = {}) =>
					build(layout, { subDeviceId: p.subDeviceId ?? 0 });
			},
			setNotification: () => {
				const layout = ctx.bind(EVENT_SET_NOTIFICATION);
				const cmd = ctx.constant('NV2080_CTRL_CMD_EVENT_SET_NOTIFICATION');
				return (p: { readonly event: number; readonly action: number }) =>
					controlCall(
						'NV2080_CTRL_CMD_EVENT_SET_NOTIFICATION',
						cmd,
						layout,
						{ event: p.event, action: p.action },
						() => undefined,
					);
			},
		}),
	);
}
