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
	return ctx.build('device', R535_PACKAGE, 'createDeviceApi', () => {
		const deviceLayout = ctx.bind(DEVICE_ALLOC);
		const subdeviceLayout = ctx.bind(SUBDEVICE_ALLOC);
		const notifyLayout = ctx.bind(EVENT_SET_NOTIFICATION);
		const setNotification = ctx.constant('NV2080_CTRL_CMD_EVENT_SET_NOTIFICATION');
		return {
			deviceLayout,
			subdeviceLayout,
			deviceAllocParams: (p: DeviceAllocInput = {}) => build(deviceLayout, { ...p }),
			subdeviceAllocParams: (p: { readonly subDeviceId?: number } = {}) =>
				build(subdeviceLayout, { subDeviceId: p.subDeviceId ?? 0 }),
			setNotification: (p: { readonly event: number; readonly action: number }) =>
				controlCall(
					'NV2080_CTRL_CMD_EVENT_SET_NOTIFICATION',
					setNotification,
					notifyLayout,
					{ event: p.event, action: p.action },
					() => undefined,
				),
		};
	});
}
