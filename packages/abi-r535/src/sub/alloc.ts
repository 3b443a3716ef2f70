/**
 * `alloc`: `GSP_RM_ALLOC` and `FREE` payloads and the class IDs the core allocates, as nouveau's
 * `r535_alloc`.
 *
 * @module
 */

import { AbiError, type ByteSource, decode, toBytes } from '@gspkit/abi';
import type {
	AllocApi,
	RmAllocPayload,
	RmAllocRequest,
	RmClasses,
	RmFreePayload,
	RmFreeRequest,
} from '../api.ts';
import type { AbiContext } from '../context.ts';
import { RM_ALLOC, RM_FREE } from '../specs.ts';
import { build, R535_PACKAGE } from '../util.ts';

const CLASS_NAMES: readonly (keyof RmClasses)[] = [
	'NV01_ROOT',
	'NV01_DEVICE_0',
	'NV20_SUBDEVICE_0',
	'FERMI_VASPACE_A',
	'KEPLER_CHANNEL_GROUP_A',
	'TURING_CHANNEL_GPFIFO_A',
	'AMPERE_CHANNEL_GPFIFO_A',
	'HOPPER_CHANNEL_GPFIFO_A',
	'BLACKWELL_CHANNEL_GPFIFO_A',
	'BLACKWELL_CHANNEL_GPFIFO_B',
	'TURING_DMA_COPY_A',
	'AMPERE_DMA_COPY_A',
	'AMPERE_DMA_COPY_B',
	'HOPPER_DMA_COPY_A',
	'BLACKWELL_DMA_COPY_A',
	'BLACKWELL_DMA_COPY_B',
	'TURING_USERMODE_A',
	'AMPERE_USERMODE_A',
	'HOPPER_USERMODE_A',
];

/** Build the `alloc` sub-interface on `ctx`'s layouts. */
export function createAllocApi(ctx: AbiContext): AllocApi {
	return ctx.build('alloc', R535_PACKAGE, 'createAllocApi', () => {
		const alloc = () => {
			const layout = ctx.bind(RM_ALLOC);
			return { layout, fixed: layout.tail!.offset };
		};
		return ctx.members({
			layout: () => ctx.bind(RM_ALLOC),
			freeLayout: () => ctx.bind(RM_FREE),
			classes: () =>
				Object.freeze(
					Object.fromEntries(CLASS_NAMES.map((n) => [n, ctx.constant(n)])) as unknown as RmClasses,
				),
			classId: () => {
				const classGroup = ctx.manifest.constants.filter((c) => c.group === 'class');
				return (name: string): number => {
					if (!classGroup.some((c) => c.name === name)) {
						throw new AbiError('ABI_DEFINITION', `ABI ${ctx.version} has no class ${name}`, {
							version: ctx.version,
							class: name,
						});
					}
					return ctx.constant(name);
				};
			},
			encode: () => {
				const { layout } = alloc();
				return (req: RmAllocRequest): Uint8Array =>
					build(layout, {
						hClient: req.hClient,
						hParent: req.hParent,
						hObject: req.hObject,
						hClass: req.hClass,
						status: 0,
						paramsSize: req.params.length,
						flags: req.flags ?? 0,
						params: req.params,
					});
			},
			decode: () => {
				const { layout, fixed } = alloc();
				return (payload: ByteSource): RmAllocPayload => {
					const u8 = toBytes(payload).u8;
					const h = decode(layout, u8.subarray(0, fixed), 0, { snapshot: false });
					if (u8.length < fixed + h.paramsSize) decode(layout, u8, 0, { length: fixed + h.paramsSize });
					return {
						hClient: h.hClient,
						hParent: h.hParent,
						hObject: h.hObject,
						hClass: h.hClass,
						status: h.status,
						paramsSize: h.paramsSize,
						flags: h.flags,
						params: u8.subarray(fixed, fixed + h.paramsSize),
					};
				};
			},
			encodeFree: () => {
				const freeLayout = ctx.bind(RM_FREE);
				return (req: RmFreeRequest): Uint8Array =>
					build(freeLayout, {
						params: {
							hRoot: req.hRoot,
							hObjectParent: req.hObjectParent,
							hObjectOld: req.hObjectOld,
							status: 0,
						},
					});
			},
			decodeFree: () => {
				const freeLayout = ctx.bind(RM_FREE);
				return (payload: ByteSource): RmFreePayload => {
					const { params } = decode(freeLayout, payload, 0, { snapshot: false });
					return {
						hRoot: params.hRoot,
						hObjectParent: params.hObjectParent,
						hObjectOld: params.hObjectOld,
						status: params.status,
					};
				};
			},
		});
	});
}
