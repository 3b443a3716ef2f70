/**
 * `boot`: the writers falcon-boot uses before GSP-RM runs — `GspFwWprMeta`, the RMARGS page and LIBOS
 * region entries — in falcon-boot's own terms (C field names, optional fields for what only some branches
 * have). One implementation serves every branch: the branch-specific fields (`flags`/`pmuReservedSize`,
 * the lockless queue offsets, `bDmemStack`) are written when the branch's manifest has them.
 *
 * @module
 */

import { AbiError, decode, patch } from '@gspkit/abi';
import type {
	BootApi,
	BootLibosRegionFields,
	BootRmArgsFields,
	BootWprMeta,
	BootWprMetaFields,
} from '../api.ts';
import type { AbiContext } from '../context.ts';
import {
	ARGUMENTS_CACHED,
	ARGUMENTS_CACHED_DMEM_STACK,
	ARGUMENTS_CACHED_LOCKLESS,
	LIBOS_REGION,
	WPR_META,
	WPR_META_PMU,
} from '../specs.ts';
import { R535_PACKAGE } from '../util.ts';
import { libosId8 } from './libos.ts';
import { wprMetaCommon } from './wpr.ts';

function region(dst: Uint8Array, offset: number, size: number, what: string): void {
	if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > dst.length) {
		throw new AbiError(
			'ABI_SHORT_BUFFER',
			`${what} needs ${size} bytes at offset ${offset}, the buffer has ${dst.length}`,
			{
				type: what,
				needed: size,
				available: Math.max(0, dst.length - offset),
				offset,
			},
		);
	}
	dst.fill(0, offset, offset + size);
}

/** Build the `boot` sub-interface on `ctx`'s layouts. */
export function createBootApi(ctx: AbiContext): BootApi {
	return ctx.build('boot', R535_PACKAGE, 'createBootApi', () => {
		const meta = ctx.bind(WPR_META);
		const pmu = ctx.fits(WPR_META_PMU) ? ctx.bind(WPR_META_PMU) : undefined;
		const args = ctx.bind(ARGUMENTS_CACHED);
		const lockless = ctx.fits(ARGUMENTS_CACHED_LOCKLESS) ? ctx.bind(ARGUMENTS_CACHED_LOCKLESS) : undefined;
		const dmem = ctx.fits(ARGUMENTS_CACHED_DMEM_STACK) ? ctx.bind(ARGUMENTS_CACHED_DMEM_STACK) : undefined;
		const libos = ctx.bind(LIBOS_REGION);
		const magic = ctx.bigConstant('GSP_FW_WPR_META_MAGIC');
		const revision = ctx.bigConstant('GSP_FW_WPR_META_REVISION');
		return {
			version: ctx.version,
			wprMeta: {
				size: meta.size,
				magic,
				revision,
				encode(v: BootWprMetaFields, dst: Uint8Array, offset = 0) {
					region(dst, offset, meta.size, 'GspFwWprMeta');
					patch(meta, wprMetaCommon(v, magic, revision), dst, offset);
					if (pmu !== undefined)
						patch(pmu, { flags: v.flags ?? 0, pmuReservedSize: v.pmuReservedSize ?? 0 }, dst, offset);
				},
				decode(src: Uint8Array, offset = 0): BootWprMeta {
					const m = decode(meta, src, offset, { snapshot: false });
					const sig = m['@anon0']['@anon0'];
					const extra = pmu === undefined ? undefined : decode(pmu, src, offset, { snapshot: false });
					return {
						magic: m.magic,
						revision: m.revision,
						verified: m.verified,
						sysmemAddrOfRadix3Elf: m.sysmemAddrOfRadix3Elf,
						sizeOfRadix3Elf: m.sizeOfRadix3Elf,
						sysmemAddrOfBootloader: m.sysmemAddrOfBootloader,
						sizeOfBootloader: m.sizeOfBootloader,
						bootloaderCodeOffset: m.bootloaderCodeOffset,
						bootloaderDataOffset: m.bootloaderDataOffset,
						bootloaderManifestOffset: m.bootloaderManifestOffset,
						sysmemAddrOfSignature: sig.sysmemAddrOfSignature,
						sizeOfSignature: sig.sizeOfSignature,
						gspFwRsvdStart: m.gspFwRsvdStart,
						nonWprHeapOffset: m.nonWprHeapOffset,
						nonWprHeapSize: m.nonWprHeapSize,
						gspFwWprStart: m.gspFwWprStart,
						gspFwHeapOffset: m.gspFwHeapOffset,
						gspFwHeapSize: m.gspFwHeapSize,
						gspFwOffset: m.gspFwOffset,
						bootBinOffset: m.bootBinOffset,
						frtsOffset: m.frtsOffset,
						frtsSize: m.frtsSize,
						gspFwWprEnd: m.gspFwWprEnd,
						fbSize: m.fbSize,
						vgaWorkspaceOffset: m.vgaWorkspaceOffset,
						vgaWorkspaceSize: m.vgaWorkspaceSize,
						bootCount: m.bootCount,
						gspFwHeapVfPartitionCount: m.gspFwHeapVfPartitionCount,
						...(extra === undefined ? {} : { flags: extra.flags, pmuReservedSize: extra.pmuReservedSize }),
					};
				},
			},
			rmArgs: {
				size: args.size,
				encode(v: BootRmArgsFields, dst: Uint8Array, offset = 0) {
					region(dst, offset, args.size, 'GSP_ARGUMENTS_CACHED');
					const q = v.messageQueue;
					patch(
						args,
						{
							messageQueueInitArguments: {
								sharedMemPhysAddr: q.sharedMemPhysAddr,
								pageTableEntryCount: q.pageTableEntryCount,
								cmdQueueOffset: q.cmdQueueOffset,
								statQueueOffset: q.statQueueOffset,
							},
							srInitArguments: {
								oldLevel: v.srInit.oldLevel,
								flags: v.srInit.flags,
								bInPMTransition: v.srInit.inPmTransition ? 1 : 0,
							},
							gpuInstance: v.gpuInstance,
							profilerArgs: { pa: v.profiler.pa, size: v.profiler.size },
						},
						dst,
						offset,
					);
					if (lockless !== undefined) {
						patch(
							lockless,
							{
								messageQueueInitArguments: {
									locklessCmdQueueOffset: q.locklessCmdQueueOffset ?? 0n,
									locklessStatQueueOffset: q.locklessStatQueueOffset ?? 0n,
								},
							},
							dst,
							offset,
						);
					}
					if (dmem !== undefined) patch(dmem, { bDmemStack: (v.dmemStack ?? true) ? 1 : 0 }, dst, offset);
				},
			},
			libosRegion: {
				size: libos.size,
				encode(v: BootLibosRegionFields, dst: Uint8Array, offset = 0) {
					region(dst, offset, libos.size, 'LibosMemoryRegionInitArgument');
					const id8 = v.name !== undefined ? libosId8(v.name) : v.id8;
					if (id8 === undefined || (v.name !== undefined && v.id8 !== undefined && v.id8 !== id8)) {
						throw new AbiError(
							'ABI_VALUE_MISSING',
							'a LIBOS region needs a name or an id8 (and they must agree)',
							{
								type: 'LibosMemoryRegionInitArgument',
							},
						);
					}
					patch(libos, { id8, pa: v.pa, size: v.size, kind: v.kind, loc: v.loc }, dst, offset);
				},
			},
		};
	});
}
