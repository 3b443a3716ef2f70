/**
 * Compile-time checks: every documented uAPI interface is exactly the decoded value of its layout.
 * Not exported from the package: these types exist only to fail the build when the two drift.
 *
 * @module
 */

import type { Value } from '@gspkit/abi';
import type { Check, Same } from './assert.ts';
import type {
	DrmGemClose,
	DrmGetCap,
	DrmPrimeHandle,
	DrmSetClientCap,
	DrmSyncobjArray,
	DrmSyncobjCreate,
	DrmSyncobjDestroy,
	DrmSyncobjHandle,
	DrmSyncobjTimelineArray,
	DrmSyncobjTimelineWait,
	DrmSyncobjTransfer,
	DrmSyncobjWait,
	DrmVersion,
	drmGemClose,
	drmGetCap,
	drmPrimeHandle,
	drmSetClientCap,
	drmSyncobjArray,
	drmSyncobjCreate,
	drmSyncobjDestroy,
	drmSyncobjHandle,
	drmSyncobjTimelineArray,
	drmSyncobjTimelineWait,
	drmSyncobjTransfer,
	drmSyncobjWait,
	drmVersion,
} from './drm.ts';
import type { GspkitGemPread, GspkitGemPwrite, gspkitGemPread, gspkitGemPwrite } from './gspkit.ts';
import type {
	NouveauChannelAlloc,
	NouveauChannelFree,
	NouveauExec,
	NouveauExecPush,
	NouveauGemCpuFini,
	NouveauGemCpuPrep,
	NouveauGemInfo,
	NouveauGemNew,
	NouveauGetparam,
	NouveauSync,
	NouveauVmBind,
	NouveauVmBindOp,
	NouveauVmInit,
	nouveauChannelAlloc,
	nouveauChannelFree,
	nouveauExec,
	nouveauExecPush,
	nouveauGemCpuFini,
	nouveauGemCpuPrep,
	nouveauGemInfo,
	nouveauGemNew,
	nouveauGetparam,
	nouveauSync,
	nouveauVmBind,
	nouveauVmBindOp,
	nouveauVmInit,
} from './nouveau.ts';

/** Layout ↔ interface equality, Drm structs. */
export type DrmStructChecks = [
	Check<Same<Value<typeof drmVersion>, DrmVersion>>,
	Check<Same<Value<typeof drmGetCap>, DrmGetCap>>,
	Check<Same<Value<typeof drmSetClientCap>, DrmSetClientCap>>,
	Check<Same<Value<typeof drmGemClose>, DrmGemClose>>,
	Check<Same<Value<typeof drmPrimeHandle>, DrmPrimeHandle>>,
	Check<Same<Value<typeof drmSyncobjCreate>, DrmSyncobjCreate>>,
	Check<Same<Value<typeof drmSyncobjDestroy>, DrmSyncobjDestroy>>,
	Check<Same<Value<typeof drmSyncobjHandle>, DrmSyncobjHandle>>,
	Check<Same<Value<typeof drmSyncobjTransfer>, DrmSyncobjTransfer>>,
	Check<Same<Value<typeof drmSyncobjWait>, DrmSyncobjWait>>,
	Check<Same<Value<typeof drmSyncobjTimelineWait>, DrmSyncobjTimelineWait>>,
	Check<Same<Value<typeof drmSyncobjArray>, DrmSyncobjArray>>,
	Check<Same<Value<typeof drmSyncobjTimelineArray>, DrmSyncobjTimelineArray>>,
];

/** Layout ↔ interface equality, Nouveau structs. */
export type NouveauStructChecks = [
	Check<Same<Value<typeof nouveauGetparam>, NouveauGetparam>>,
	Check<Same<Value<typeof nouveauChannelAlloc>, NouveauChannelAlloc>>,
	Check<Same<Value<typeof nouveauChannelFree>, NouveauChannelFree>>,
	Check<Same<Value<typeof nouveauGemInfo>, NouveauGemInfo>>,
	Check<Same<Value<typeof nouveauGemNew>, NouveauGemNew>>,
	Check<Same<Value<typeof nouveauGemCpuPrep>, NouveauGemCpuPrep>>,
	Check<Same<Value<typeof nouveauGemCpuFini>, NouveauGemCpuFini>>,
	Check<Same<Value<typeof nouveauSync>, NouveauSync>>,
	Check<Same<Value<typeof nouveauVmInit>, NouveauVmInit>>,
	Check<Same<Value<typeof nouveauVmBindOp>, NouveauVmBindOp>>,
	Check<Same<Value<typeof nouveauVmBind>, NouveauVmBind>>,
	Check<Same<Value<typeof nouveauExecPush>, NouveauExecPush>>,
	Check<Same<Value<typeof nouveauExec>, NouveauExec>>,
];

/** Layout ↔ interface equality, Gspkit structs. */
export type GspkitStructChecks = [
	Check<Same<Value<typeof gspkitGemPread>, GspkitGemPread>>,
	Check<Same<Value<typeof gspkitGemPwrite>, GspkitGemPwrite>>,
];
