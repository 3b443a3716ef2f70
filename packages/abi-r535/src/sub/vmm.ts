/**
 * `vmm`: VA-space allocation params and `COPY_SERVER_RESERVED_PDES` (the driver hands GSP-RM the
 * top-level page-directory entries of the VA space it shares with the server).
 *
 * @module
 */

import { AbiError } from '@gspkit/abi';
import type { VmmApi } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { COPY_SERVER_RESERVED_PDES, VASPACE_ALLOC } from '../specs.ts';
import { build, controlCall, R535_PACKAGE } from '../util.ts';

/** Build the `vmm` sub-interface on `ctx`'s layouts. */
export function createVmmApi(ctx: AbiContext): VmmApi {
	return ctx.build('vmm', R535_PACKAGE, 'createVmmApi', () =>
		ctx.members({
			vaspaceLayout: () => ctx.bind(VASPACE_ALLOC),
			maxLevels: () => ctx.constant('GMMU_FMT_MAX_LEVELS'),
			vaspaceAllocParams: () => {
				const layout = ctx.bind(VASPACE_ALLOC);
				return (p: Parameters<VmmApi['vaspaceAllocParams']>[0]) => build(layout, { ...p });
			},
			copyServerReservedPdes: () => {
				const pdesLayout = ctx.bind(COPY_SERVER_RESERVED_PDES);
				const maxLevels = ctx.constant('GMMU_FMT_MAX_LEVELS');
				const cmd = ctx.constant('NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES');
				const zeroLevel = { physAddress: 0n, size: 0n, aperture: 0, pageShift: 0 };
				return (p: Parameters<VmmApi['copyServerReservedPdes']>[0]) => {
					if (p.levels.length > maxLevels) {
						throw new AbiError(
							'ABI_VALUE_RANGE',
							`${p.levels.length} PDE levels exceed GMMU_FMT_MAX_LEVELS (${maxLevels})`,
							{
								count: p.levels.length,
								max: maxLevels,
							},
						);
					}
					const levels = Array.from({ length: maxLevels }, (_, i) => p.levels[i] ?? zeroLevel);
					return controlCall(
						'NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES',
						cmd,
						pdesLayout,
						{
							hSubDevice: p.hSubDevice ?? 0,
							subDeviceId: p.subDeviceId ?? 0,
							pageSize: p.pageSize,
							virtAddrLo: p.virtAddrLo,
							virtAddrHi: p.virtAddrHi,
							numLevelsToCopy: p.levels.length,
							levels,
						},
						() => undefined,
					);
				};
			},
		}),
	);
}
