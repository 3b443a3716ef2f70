/**
 * The simulated GPU's engines: the host (PBDMA/GPFIFO) engine with its usermode doorbell, and the copy engine.
 * Both reach GPU virtual memory only through the simulated MMU.
 *
 * @module
 */

export {
	COPY_CLASSES,
	type CopyChannelState,
	type CopyContext,
	CopyEngine,
	type CopyEngineOptions,
	type CopyEngineStats,
} from './copy-engine.ts';
export { ENGINE_ERROR_CODES, EngineError, type EngineErrorCode } from './errors.ts';
export {
	CE,
	CLASS,
	type Field32,
	GP_ENTRY,
	get32,
	HOST,
	MEM_OP,
	PB,
	put32,
	RAMFC,
	REDUCTION,
	SEM_EXECUTE,
	USERD,
	USERMODE,
} from './fields.ts';
export {
	type BlockedOn,
	type ChannelSnapshot,
	type ChannelStats,
	type ChannelStatus,
	type EngineFaultInjection,
	type EngineTiming,
	engineClassesFor,
	HostEngine,
	type HostEngineOptions,
	type HostEngineStats,
	type IgnoredDoorbellReason,
	type InjectedFault,
	type RunSummary,
} from './host-engine.ts';
export {
	type AddressSpaceOptions,
	ChannelAddressSpace,
	type SimulatedGpuMemorySource,
	simulatedGpuMemory,
} from './memory.ts';
export {
	acquireSatisfied,
	hostReductionSupported,
	reduce,
	type SemaphoreBits,
} from './semaphore.ts';
export type {
	ChannelErrorKind,
	ChannelErrorReport,
	ChannelRegistration,
	EngineClient,
	EngineFaultRecord,
	EngineInterrupts,
	EngineMemory,
	EngineName,
	FailedMethod,
	PhysicalLocation,
} from './types.ts';
export {
	type UsermodeLayout,
	UsermodeRegion,
	type UsermodeRegionOptions,
	usermodeLayout,
} from './usermode.ts';
