/**
 * `wpr`: `GspFwWprMeta` — the descriptor booter reads to place GSP-RM in WPR2 — and the per-chip heap
 * parameters (nouveau's `nvkm_rm_wpr`). r570 re-carved the padding after `gspFwHeapVfPartitionCount` into
 * `flags` and `pmuReservedSize`, added GH100/GB families and ACR-placed WPR; it has its own `wpr`.
 *
 * @module
 */

import { AbiError, type ByteSource, decode } from '@gspkit/abi';
import type { StaticInfo, WprApi, WprHeapParams, WprMeta, WprMetaInput } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { WPR_META, WPR_META_R535 } from '../specs.ts';
import { build, R535_PACKAGE } from '../util.ts';

/** `GSP_FW_WPR_META_VERIFIED`: what booter writes to `verified` (gsp-rpc.md §3; not in the header set). */
export const WPR_META_VERIFIED = 0xa0a0a0a0a0a0a0a0n;

const MIB = 1n << 20n;

/** The `GspFwWprMeta` fields both branches have, nested as the C unions are. */
export function wprMetaCommon(p: WprMetaInput, magic: bigint, revision: bigint) {
	return {
		magic,
		revision,
		sysmemAddrOfRadix3Elf: p.sysmemAddrOfRadix3Elf,
		sizeOfRadix3Elf: p.sizeOfRadix3Elf,
		sysmemAddrOfBootloader: p.sysmemAddrOfBootloader,
		sizeOfBootloader: p.sizeOfBootloader,
		bootloaderCodeOffset: p.bootloaderCodeOffset ?? 0n,
		bootloaderDataOffset: p.bootloaderDataOffset ?? 0n,
		bootloaderManifestOffset: p.bootloaderManifestOffset ?? 0n,
		'@anon0': {
			'@anon0': { sysmemAddrOfSignature: p.sysmemAddrOfSignature, sizeOfSignature: p.sizeOfSignature },
		},
		gspFwRsvdStart: p.gspFwRsvdStart ?? 0n,
		nonWprHeapOffset: p.nonWprHeapOffset ?? 0n,
		nonWprHeapSize: p.nonWprHeapSize ?? 0n,
		gspFwWprStart: p.gspFwWprStart ?? 0n,
		gspFwHeapOffset: p.gspFwHeapOffset ?? 0n,
		gspFwHeapSize: p.gspFwHeapSize ?? 0n,
		gspFwOffset: p.gspFwOffset ?? 0n,
		bootBinOffset: p.bootBinOffset ?? 0n,
		frtsOffset: p.frtsOffset ?? 0n,
		frtsSize: p.frtsSize ?? 0n,
		gspFwWprEnd: p.gspFwWprEnd ?? 0n,
		fbSize: p.fbSize ?? 0n,
		vgaWorkspaceOffset: p.vgaWorkspaceOffset ?? 0n,
		vgaWorkspaceSize: p.vgaWorkspaceSize ?? 0n,
		bootCount: p.bootCount ?? 0n,
		'@anon1': {
			'@anon0': {
				partitionRpcAddr: p.partitionRpcAddr ?? 0n,
				partitionRpcRequestOffset: p.partitionRpcRequestOffset ?? 0,
				partitionRpcReplyOffset: p.partitionRpcReplyOffset ?? 0,
				elfCodeOffset: p.elfCodeOffset ?? 0,
				elfDataOffset: p.elfDataOffset ?? 0,
				elfCodeSize: p.elfCodeSize ?? 0,
				elfDataSize: p.elfDataSize ?? 0,
				lsUcodeVersion: p.lsUcodeVersion ?? 0,
			},
		},
		gspFwHeapVfPartitionCount: p.gspFwHeapVfPartitionCount ?? 0,
		verified: p.verified ?? 0n,
	};
}

/** Flatten a decoded `GspFwWprMeta` (the fields both branches have; `flags`/`pmuReservedSize` from `extra`). */
export function wprMetaFromValue(
	v: import('@gspkit/abi').Value<import('../shape.ts').LayoutOfSpec<typeof WPR_META>>,
	extra: { readonly flags: number; readonly pmuReservedSize: number },
): WprMeta {
	const sig = v['@anon0']['@anon0'];
	const part = v['@anon1']['@anon0'];
	return {
		sysmemAddrOfRadix3Elf: v.sysmemAddrOfRadix3Elf,
		sizeOfRadix3Elf: v.sizeOfRadix3Elf,
		sysmemAddrOfBootloader: v.sysmemAddrOfBootloader,
		sizeOfBootloader: v.sizeOfBootloader,
		bootloaderCodeOffset: v.bootloaderCodeOffset,
		bootloaderDataOffset: v.bootloaderDataOffset,
		bootloaderManifestOffset: v.bootloaderManifestOffset,
		sysmemAddrOfSignature: sig.sysmemAddrOfSignature,
		sizeOfSignature: sig.sizeOfSignature,
		gspFwRsvdStart: v.gspFwRsvdStart,
		nonWprHeapOffset: v.nonWprHeapOffset,
		nonWprHeapSize: v.nonWprHeapSize,
		gspFwWprStart: v.gspFwWprStart,
		gspFwHeapOffset: v.gspFwHeapOffset,
		gspFwHeapSize: v.gspFwHeapSize,
		gspFwOffset: v.gspFwOffset,
		bootBinOffset: v.bootBinOffset,
		frtsOffset: v.frtsOffset,
		frtsSize: v.frtsSize,
		gspFwWprEnd: v.gspFwWprEnd,
		fbSize: v.fbSize,
		vgaWorkspaceOffset: v.vgaWorkspaceOffset,
		vgaWorkspaceSize: v.vgaWorkspaceSize,
		bootCount: v.bootCount,
		partitionRpcAddr: part.partitionRpcAddr,
		partitionRpcRequestOffset: part.partitionRpcRequestOffset,
		partitionRpcReplyOffset: part.partitionRpcReplyOffset,
		elfCodeOffset: part.elfCodeOffset,
		elfDataOffset: part.elfDataOffset,
		elfCodeSize: part.elfCodeSize,
		elfDataSize: part.elfDataSize,
		lsUcodeVersion: part.lsUcodeVersion,
		gspFwHeapVfPartitionCount: v.gspFwHeapVfPartitionCount,
		flags: extra.flags,
		pmuReservedSize: extra.pmuReservedSize,
		verified: v.verified,
	};
}

/** The chip families of the booter path: LIBOS2 on Turing and GA100, LIBOS3 on GA10x and Ada. */
export function booterFamily(chip: string): 'tu102' | 'ga102' | undefined {
	if (/^tu1\d\d$/.test(chip) || chip === 'ga100') return 'tu102';
	if (/^ga10[2-7]$/.test(chip) || /^ad10\d$/.test(chip)) return 'ga102';
	return undefined;
}

/** Heap parameters common to every family: per-GB and client reserves. */
export function heapCommon(ctx: AbiContext) {
	return {
		sizePerGbFb: ctx.constant('GSP_FW_HEAP_PARAM_SIZE_PER_GB_FB'),
		clientAllocSize: ctx.constant('GSP_FW_HEAP_PARAM_CLIENT_ALLOC_SIZE'),
	};
}

/** `ABI_NOT_FOUND` for a chip the ABI does not serve. */
export function unknownChip(ctx: AbiContext, chip: string): AbiError {
	return new AbiError(
		'ABI_NOT_FOUND',
		`firmware ABI ${ctx.version} has no WPR parameters for chip '${chip}'`,
		{
			version: ctx.version,
			chip,
		},
	);
}

/** Build r535's `wpr` sub-interface. */
export function createWprApi(ctx: AbiContext): WprApi {
	return ctx.build('wpr', R535_PACKAGE, 'createWprApi', () => {
		const layout = ctx.bind(WPR_META);
		const full = ctx.bind(WPR_META_R535);
		const magic = ctx.bigConstant('GSP_FW_WPR_META_MAGIC');
		const revision = ctx.bigConstant('GSP_FW_WPR_META_REVISION');
		const common = heapCommon(ctx);
		const libos2: WprHeapParams = Object.freeze({
			libos: 2,
			osCarveoutSize: ctx.constant('GSP_FW_HEAP_PARAM_OS_SIZE_LIBOS2'),
			baseRmSize: ctx.constant('GSP_FW_HEAP_PARAM_BASE_RM_SIZE_TU10X'),
			heapSizeMin: ctx.bigConstant('GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS2_MIN_MB') * MIB,
			...common,
			nonWprHeapSize: 0,
			pmuReservedSize: 0,
			offsetSetByAcr: false,
		});
		const libos3: WprHeapParams = Object.freeze({
			...libos2,
			libos: 3,
			osCarveoutSize: ctx.constant('GSP_FW_HEAP_PARAM_OS_SIZE_LIBOS3'),
			heapSizeMin: ctx.bigConstant('GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS3_BAREMETAL_MIN_MB') * MIB,
		});
		return {
			layout,
			magic,
			revision,
			verifiedMagic: WPR_META_VERIFIED,
			supports: Object.freeze({ flags: false, pmuReservedSize: false }),
			encodeMeta(p: WprMetaInput): Uint8Array {
				for (const k of ['flags', 'pmuReservedSize'] as const) {
					if ((p[k] ?? 0) !== 0) {
						throw new AbiError(
							'ABI_VALUE_RANGE',
							`GspFwWprMeta.${k} does not exist in ${ctx.version} (r570+)`,
							{
								field: k,
								version: ctx.version,
							},
						);
					}
				}
				return build(full, wprMetaCommon(p, magic, revision));
			},
			decodeMeta: (src: ByteSource) =>
				wprMetaFromValue(decode(layout, src, 0, { snapshot: false }), { flags: 0, pmuReservedSize: 0 }),
			heapParams(chip: string): WprHeapParams {
				const family = booterFamily(chip);
				if (family === undefined) throw unknownChip(ctx, chip);
				return family === 'tu102' ? libos2 : libos3;
			},
			applyStaticInfo: (_chip: string, _meta: Uint8Array, _info: StaticInfo) => false,
		};
	});
}
