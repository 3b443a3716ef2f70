/**
 * r570's `wpr`: `GspFwWprMeta` with `flags` and `pmuReservedSize`, and the heap parameters of the five
 * r570 chip families (nouveau `r570_wpr_libos2/libos3/libos3_gh100/libos3_gb10x/libos3_gb20x`), including
 * ACR-placed WPR on Hopper and Blackwell.
 *
 * @module
 */

import { type ByteSource, decode, patch } from '@gspkit/abi';
import {
	type AbiContext,
	booterFamily,
	build,
	heapCommon,
	type StaticInfo,
	specs,
	unknownChip,
	WPR_META_VERIFIED,
	type WprApi,
	type WprHeapParams,
	type WprMetaInput,
	wprMetaCommon,
	wprMetaFromValue,
} from '@gspkit/abi-r535';
import { WPR_META_R570 } from '../specs.ts';
import { R570_PACKAGE } from '../util.ts';

const MIB = 1n << 20n;

/** nouveau's GB PMU reservation: ALIGN(0x0800000 + 0x1000000 + 0x0001000, 0x20000). */
export const GB_PMU_RESERVED_SIZE = Math.ceil((0x0800000 + 0x1000000 + 0x0001000) / 0x20000) * 0x20000;

/** The r570 chip family of `chip`. */
export function r570Family(chip: string): 'tu102' | 'ga102' | 'gh100' | 'gb10x' | 'gb20x' | undefined {
	if (chip === 'gh100') return 'gh100';
	if (/^gb10\d$/.test(chip)) return 'gb10x';
	if (/^gb20\d$/.test(chip)) return 'gb20x';
	return booterFamily(chip);
}

/** Build r570's `wpr` sub-interface. */
export function createWprApi(ctx: AbiContext): WprApi {
	return ctx.build('wpr', R570_PACKAGE, 'createWprApi', () => {
		const layout = ctx.bind(specs.WPR_META);
		const full = ctx.bind(WPR_META_R570);
		const magic = ctx.bigConstant('GSP_FW_WPR_META_MAGIC');
		const revision = ctx.bigConstant('GSP_FW_WPR_META_REVISION');
		const common = heapCommon(ctx);
		const base = {
			...common,
			nonWprHeapSize: 0,
			pmuReservedSize: 0,
			offsetSetByAcr: false,
			baseRmSize: ctx.constant('GSP_FW_HEAP_PARAM_BASE_RM_SIZE_TU10X'),
		};
		const libos3 = {
			libos: 3 as const,
			osCarveoutSize: ctx.constant('GSP_FW_HEAP_PARAM_OS_SIZE_LIBOS3_BAREMETAL'),
			heapSizeMin: ctx.bigConstant('GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS3_BAREMETAL_MIN_MB') * MIB,
		};
		const hopper = {
			...base,
			...libos3,
			baseRmSize: ctx.constant('GSP_FW_HEAP_PARAM_BASE_RM_SIZE_GH100'),
			offsetSetByAcr: true,
		};
		const families: Readonly<Record<string, WprHeapParams>> = Object.freeze({
			tu102: Object.freeze({
				...base,
				libos: 2,
				osCarveoutSize: ctx.constant('GSP_FW_HEAP_PARAM_OS_SIZE_LIBOS2'),
				heapSizeMin: ctx.bigConstant('GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS2_MIN_MB') * MIB,
			}),
			ga102: Object.freeze({ ...base, ...libos3 }),
			gh100: Object.freeze({ ...hopper, nonWprHeapSize: 0x200000 }),
			gb10x: Object.freeze({ ...hopper, nonWprHeapSize: 0x200000, pmuReservedSize: GB_PMU_RESERVED_SIZE }),
			gb20x: Object.freeze({ ...hopper, nonWprHeapSize: 0x220000, pmuReservedSize: GB_PMU_RESERVED_SIZE }),
		});
		const heapParams = (chip: string): WprHeapParams => {
			const f = r570Family(chip);
			if (f === undefined) throw unknownChip(ctx, chip);
			return families[f]!;
		};
		return {
			layout,
			magic,
			revision,
			verifiedMagic: WPR_META_VERIFIED,
			supports: Object.freeze({ flags: true, pmuReservedSize: true }),
			encodeMeta: (p: WprMetaInput) =>
				build(full, {
					...wprMetaCommon(p, magic, revision),
					flags: p.flags ?? 0,
					pmuReservedSize: p.pmuReservedSize ?? 0,
				}),
			decodeMeta(src: ByteSource) {
				const v = decode(full, src, 0, { snapshot: false });
				return wprMetaFromValue(v, { flags: v.flags, pmuReservedSize: v.pmuReservedSize });
			},
			heapParams,
			applyStaticInfo(chip: string, meta: Uint8Array, info: StaticInfo): boolean {
				const off = info.fwWprLayoutOffset;
				if (!heapParams(chip).offsetSetByAcr || off === undefined) return false;
				patch(full, { nonWprHeapOffset: off.nonWprHeapOffset, frtsOffset: off.frtsOffset }, meta);
				return true;
			},
		};
	});
}
