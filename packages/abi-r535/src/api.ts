/**
 * The version-neutral sub-interfaces every gspkit firmware ABI package provides (in the spirit of
 * nouveau's `nvkm_rm_api`). The core programs against these types only; each branch supplies objects
 * that implement them — reusing an older branch's factory where the semantics did not change, binding
 * its own layouts either way.
 *
 * The types live here because r535 is the first branch; later branches import them from
 * `@gspkit/abi-r535` (allowed: an ABI package may import older ABI packages). Consumers that may not
 * import an ABI package (the core libraries) declare the narrow structural interfaces they need.
 *
 * @module
 */

import type {
	ByteSource,
	DecodedWprMeta,
	RecordLayout,
	RmArgsFields,
	StructWriter,
	Value,
	WprMetaFields,
} from '@gspkit/abi';
import type { SubInterface } from './context.ts';
import type { LayoutOfSpec } from './shape.ts';
import type * as S from './specs.ts';

/** The layout type of a shape constant in `specs.ts`. */
export type LayoutOf<T> = LayoutOfSpec<T>;

// ───────────────────────────── controls ─────────────────────────────

/**
 * Sends one RM control (`GSP_RM_CONTROL`) and resolves with the reply's params bytes; rejects when the
 * reply's status is not `NV_OK`. Injected by the core (it knows the object handles and owns the queue), so
 * a sub-interface can describe multi-step queries without knowing how messages travel.
 */
export type RmControl = (cmd: number, params: Uint8Array) => Promise<Uint8Array>;

/** One control to send: its command ID, the encoded params, and how to read the reply params. */
export interface ControlCall<R> {
	/** The control's C name in this branch (`'NV2080_CTRL_CMD_GPU_GET_FERMI_GPC_INFO'`). */
	readonly name: string;
	/** Command ID. */
	readonly cmd: number;
	/** Encoded params (the layout's full size, zero-filled then set). */
	readonly params: Uint8Array;
	/** Decode the reply params (ABI_SHORT_BUFFER when too short). */
	decode(reply: Uint8Array): R;
}

// ───────────────────────────── rpc ─────────────────────────────

/** Fixed facts of the message-queue protocol this ABI speaks. */
export interface RpcProtocol {
	/** `rpc_message_header_v03_00.header_version`: 0x03000000. */
	readonly headerVersion: number;
	/** `signature`: 0x43505256, bytes "VRPC" in memory. */
	readonly signature: number;
	/** Bytes of the queue element header before the RPC header (48). */
	readonly elementHeaderSize: number;
	/** Bytes of the RPC header (32). */
	readonly rpcHeaderSize: number;
	/** Queue page size (4096). */
	readonly pageSize: number;
	/** Largest element: 16 pages (65536). */
	readonly maxElementSize: number;
	/** Largest RPC (header + payload) in one element: 65488. */
	readonly maxRpcSize: number;
	/** Largest payload in one element: 65456. */
	readonly maxPayloadSize: number;
	/** `rpc_result` and `rpc_result_private` of a request (0xffffffff). */
	readonly requestResult: number;
	/** `msgqTxHeader.version` (0). */
	readonly msgqVersion: number;
	/** `msgqTxHeader.flags` bit: the RX header holds the owner's read pointer of the other queue (1). */
	readonly msgqFlagSwapRx: number;
}

/** What {@link RpcApi.encodeElement} takes. */
export interface ElementInput {
	/** Function (request) or event number. */
	readonly function: number;
	/** Payload bytes after the RPC header. */
	readonly payload: Uint8Array;
	/** Element sequence number (per direction, every element). */
	readonly seqNum: number;
	/** RPC-level sequence (`rpc.sequence`), default 0. */
	readonly sequence?: number;
	/** Default {@link RpcProtocol.requestResult}. */
	readonly rpcResult?: number;
	/** Default {@link RpcProtocol.requestResult}. */
	readonly rpcResultPrivate?: number;
	/** Payload length to put in `rpc.length` if it differs from `payload.length` (continuations). */
	readonly length?: number;
}

/** A decoded queue element. */
export interface DecodedElement {
	readonly checkSum: number;
	readonly seqNum: number;
	readonly elemCount: number;
	readonly headerVersion: number;
	readonly signature: number;
	/** `rpc.length` (header + payload). */
	readonly length: number;
	readonly function: number;
	readonly rpcResult: number;
	readonly rpcResultPrivate: number;
	readonly sequence: number;
	/** The payload, a view into the source (not copied). */
	readonly payload: Uint8Array;
}

/** Message framing: queue element and RPC headers, message-queue headers, status codes. */
export interface RpcApi extends SubInterface {
	readonly queueElement: LayoutOf<typeof S.QUEUE_ELEMENT>;
	readonly rpcHeader: LayoutOf<typeof S.RPC_HEADER>;
	readonly msgqTxHeader: LayoutOf<typeof S.MSGQ_TX_HEADER>;
	readonly msgqRxHeader: LayoutOf<typeof S.MSGQ_RX_HEADER>;
	readonly protocol: RpcProtocol;
	/** `NV_STATUS` codes by name (`NV_OK`, `NV_ERR_NOT_READY`, …). */
	readonly status: Readonly<Record<string, number>>;
	/** The `NV_STATUS` name of a code, if known. */
	statusName(code: number): string | undefined;
	/** One element (header + payload, zero-padded to whole pages) with `elemCount` and checksum set. */
	encodeElement(input: ElementInput): Uint8Array;
	/** Read an element's headers; the payload is `rpc.length − 32` bytes (ABI_SHORT_BUFFER if truncated). */
	decodeElement(src: ByteSource, offset?: number): DecodedElement;
	/** The element checksum: XOR of the little-endian u64 words (zero-padded to 8), folded to 32 bits. */
	checksum(bytes: Uint8Array): number;
}

// ───────────────────────────── ctrl / alloc ─────────────────────────────

/** A `GSP_RM_CONTROL` request. */
export interface RmControlRequest {
	readonly hClient: number;
	readonly hObject: number;
	readonly cmd: number;
	readonly params: Uint8Array;
	readonly flags?: number;
}

/** A decoded `GSP_RM_CONTROL` payload (request or reply). */
export interface RmControlPayload {
	readonly hClient: number;
	readonly hObject: number;
	readonly cmd: number;
	readonly status: number;
	readonly paramsSize: number;
	readonly flags: number;
	/** View into the source. */
	readonly params: Uint8Array;
}

/** `GSP_RM_CONTROL` payloads. */
export interface CtrlApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.RM_CONTROL>;
	encode(req: RmControlRequest): Uint8Array;
	decode(payload: ByteSource): RmControlPayload;
}

/** A `GSP_RM_ALLOC` request. */
export interface RmAllocRequest {
	readonly hClient: number;
	readonly hParent: number;
	readonly hObject: number;
	readonly hClass: number;
	readonly params: Uint8Array;
	readonly flags?: number;
}

/** A decoded `GSP_RM_ALLOC` payload. */
export interface RmAllocPayload {
	readonly hClient: number;
	readonly hParent: number;
	readonly hObject: number;
	readonly hClass: number;
	readonly status: number;
	readonly paramsSize: number;
	readonly flags: number;
	readonly params: Uint8Array;
}

/** A `FREE` request (`NVOS00_PARAMETERS`). */
export interface RmFreeRequest {
	readonly hRoot: number;
	readonly hObjectParent: number;
	readonly hObjectOld: number;
}

/** A decoded `FREE` payload. */
export interface RmFreePayload extends RmFreeRequest {
	readonly status: number;
}

/** Object classes the core allocates. */
export interface RmClasses {
	readonly NV01_ROOT: number;
	readonly NV01_DEVICE_0: number;
	readonly NV20_SUBDEVICE_0: number;
	readonly FERMI_VASPACE_A: number;
	readonly KEPLER_CHANNEL_GROUP_A: number;
	readonly TURING_CHANNEL_GPFIFO_A: number;
	readonly AMPERE_CHANNEL_GPFIFO_A: number;
	readonly HOPPER_CHANNEL_GPFIFO_A: number;
	readonly BLACKWELL_CHANNEL_GPFIFO_A: number;
	readonly BLACKWELL_CHANNEL_GPFIFO_B: number;
	readonly TURING_DMA_COPY_A: number;
	readonly AMPERE_DMA_COPY_A: number;
	readonly AMPERE_DMA_COPY_B: number;
	readonly HOPPER_DMA_COPY_A: number;
	readonly BLACKWELL_DMA_COPY_A: number;
	readonly BLACKWELL_DMA_COPY_B: number;
	readonly TURING_USERMODE_A: number;
	readonly AMPERE_USERMODE_A: number;
	readonly HOPPER_USERMODE_A: number;
}

/** `GSP_RM_ALLOC` and `FREE` payloads, and class IDs. */
export interface AllocApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.RM_ALLOC>;
	readonly freeLayout: LayoutOf<typeof S.RM_FREE>;
	readonly classes: RmClasses;
	/** Any class ID of this branch by C name (`ABI_DEFINITION` if unknown). */
	classId(name: string): number;
	encode(req: RmAllocRequest): Uint8Array;
	decode(payload: ByteSource): RmAllocPayload;
	encodeFree(req: RmFreeRequest): Uint8Array;
	decodeFree(payload: ByteSource): RmFreePayload;
}

// ───────────────────────────── client / device ─────────────────────────────

/** `NV01_ROOT` (client) allocation. */
export interface ClientApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.ROOT_ALLOC>;
	/** `NV0000_ALLOC_PARAMETERS`; `processID` defaults to 0xffffffff (a kernel client, as nouveau does). */
	allocParams(p: {
		readonly hClient: number;
		readonly processID?: number;
		readonly processName?: string;
	}): Uint8Array;
}

/** `NV0080_ALLOC_PARAMETERS` inputs (all default to 0). */
export interface DeviceAllocInput {
	readonly deviceId?: number;
	readonly hClientShare?: number;
	readonly hTargetClient?: number;
	readonly hTargetDevice?: number;
	readonly flags?: number;
	readonly vaSpaceSize?: bigint;
	readonly vaStartInternal?: bigint;
	readonly vaLimitInternal?: bigint;
	readonly vaMode?: number;
}

/** Device and subdevice allocation, event notifications. */
export interface DeviceApi extends SubInterface {
	readonly deviceLayout: LayoutOf<typeof S.DEVICE_ALLOC>;
	readonly subdeviceLayout: LayoutOf<typeof S.SUBDEVICE_ALLOC>;
	deviceAllocParams(p?: DeviceAllocInput): Uint8Array;
	subdeviceAllocParams(p?: { readonly subDeviceId?: number }): Uint8Array;
	/** `NV2080_CTRL_CMD_EVENT_SET_NOTIFICATION` on a subdevice (action: 0 disable, 1 single, 2 repeat). */
	setNotification(p: { readonly event: number; readonly action: number }): ControlCall<void>;
}

// ───────────────────────────── gsp (boot & static info) ─────────────────────────────

/** What goes into the RMARGS page (`GSP_ARGUMENTS_CACHED`). */
export interface RmArgsInput {
	/** Bus address of the shared queue region (= PTE 0). */
	readonly sharedMemPhysAddr: bigint;
	/** Number of PTEs in the region's page table (129 for two 256 KiB queues). */
	readonly pageTableEntryCount: number;
	/** Region start to the command queue header (0x1000). */
	readonly cmdQueueOffset: bigint;
	/** Region start to the status queue header (0x41000). */
	readonly statQueueOffset: bigint;
	/** Booting to resume from suspend (sets the power-transition state). Default false. */
	readonly resume?: boolean;
	readonly gpuInstance?: number;
	readonly profiler?: { readonly pa: bigint; readonly size: bigint };
}

/** What the CPU tells GSP-RM about the system (`GSP_SET_SYSTEM_INFO`). Fields a branch lacks are ignored. */
export interface SystemInfoInput {
	/** BAR0 bus address. */
	readonly gpuPhysAddr: bigint;
	/** BAR1 (framebuffer aperture) bus address. */
	readonly gpuPhysFbAddr: bigint;
	/** BAR2/BAR3 (instance memory) bus address. */
	readonly gpuPhysInstAddr: bigint;
	/** PCI domain/bus/device/function (`pci_dev_id`). */
	readonly pciBdf: number;
	/** Highest user-space virtual address of the host. */
	readonly maxUserVa: bigint;
	/** PCI config mirror window in BAR0 (0x88000, 0x1000 on Turing+). */
	readonly pciConfigMirrorBase: number;
	readonly pciConfigMirrorSize: number;
	readonly pciVendorId: number;
	readonly pciDeviceId: number;
	readonly pciSubsystemVendorId?: number;
	readonly pciSubsystemId?: number;
	readonly pciRevisionId?: number;
	/** Host page size (r570+; default 4096). */
	readonly hostPageSize?: number;
	/** Whether this GPU drives the boot display (r570+). */
	readonly isPrimary?: boolean;
}

/** One framebuffer region from static info. */
export interface FbRegion {
	readonly base: bigint;
	readonly limit: bigint;
	readonly reserved: bigint;
	readonly performance: number;
	readonly supportCompressed: boolean;
	readonly supportISO: boolean;
	readonly protected: boolean;
}

/** The parts of `GspStaticConfigInfo` the core uses, neutral. */
export interface StaticInfo {
	readonly hInternalClient: number;
	readonly hInternalDevice: number;
	readonly hInternalSubdevice: number;
	readonly bar1PdeBase: bigint;
	readonly bar2PdeBase: bigint;
	readonly fbLength: bigint;
	readonly fbRegions: readonly FbRegion[];
	readonly l2CacheSize: number;
	readonly gpuName: string;
	readonly gpuShortName: string;
	readonly isMobile: boolean;
	/** Where GSP-RM placed the non-WPR heap and FRTS (r570+, ACR-placed WPR on GH100/GB). */
	readonly fwWprLayoutOffset?: { readonly nonWprHeapOffset: bigint; readonly frtsOffset: bigint };
	/** The full decoded struct (branch-specific fields, untyped). */
	readonly raw: Readonly<Record<string, unknown>>;
}

/** Boot-time RPC payloads and static info. */
export interface GspApi extends SubInterface {
	readonly argumentsCachedLayout: LayoutOf<typeof S.ARGUMENTS_CACHED>;
	readonly systemInfoLayout: LayoutOf<typeof S.SYSTEM_INFO>;
	readonly staticInfoLayout: LayoutOf<typeof S.STATIC_CONFIG_INFO>;
	readonly unloadLayout: LayoutOf<typeof S.UNLOADING_GUEST_DRIVER>;
	/** `GSP_ARGUMENTS_CACHED` bytes. */
	encodeRmArgs(p: RmArgsInput): Uint8Array;
	/** `GspSystemInfo` bytes (payload of GSP_SET_SYSTEM_INFO). */
	encodeSystemInfo(p: SystemInfoInput): Uint8Array;
	/** Read the GET_GSP_STATIC_INFO reply. */
	decodeStaticInfo(payload: ByteSource): StaticInfo;
	/** `rpc_unloading_guest_driver` bytes: unload (level 0) or suspend (level 3). */
	encodeUnload(p?: { readonly suspend?: boolean; readonly gc6?: boolean }): Uint8Array;
	/** Events the driver may drop without handling (nouveau registers empty handlers for them). */
	readonly ignoredEvents: readonly number[];
	/** Bytes of FB to save across suspend, from the WPR meta the CPU wrote (differs per branch). */
	suspendResumeDataSize(meta: WprMeta): bigint;
}

// ───────────────────────────── wpr ─────────────────────────────

/** `GspFwWprMeta` as a flat, neutral record. */
export interface WprMeta {
	readonly sysmemAddrOfRadix3Elf: bigint;
	readonly sizeOfRadix3Elf: bigint;
	readonly sysmemAddrOfBootloader: bigint;
	readonly sizeOfBootloader: bigint;
	readonly bootloaderCodeOffset: bigint;
	readonly bootloaderDataOffset: bigint;
	readonly bootloaderManifestOffset: bigint;
	readonly sysmemAddrOfSignature: bigint;
	readonly sizeOfSignature: bigint;
	readonly gspFwRsvdStart: bigint;
	readonly nonWprHeapOffset: bigint;
	readonly nonWprHeapSize: bigint;
	readonly gspFwWprStart: bigint;
	readonly gspFwHeapOffset: bigint;
	readonly gspFwHeapSize: bigint;
	readonly gspFwOffset: bigint;
	readonly bootBinOffset: bigint;
	readonly frtsOffset: bigint;
	readonly frtsSize: bigint;
	readonly gspFwWprEnd: bigint;
	readonly fbSize: bigint;
	readonly vgaWorkspaceOffset: bigint;
	readonly vgaWorkspaceSize: bigint;
	readonly bootCount: bigint;
	readonly partitionRpcAddr: bigint;
	readonly partitionRpcRequestOffset: number;
	readonly partitionRpcReplyOffset: number;
	readonly elfCodeOffset: number;
	readonly elfDataOffset: number;
	readonly elfCodeSize: number;
	readonly elfDataSize: number;
	readonly lsUcodeVersion: number;
	readonly gspFwHeapVfPartitionCount: number;
	/** r570+ (0 in r535). */
	readonly flags: number;
	/** r570+: FB reserved for the PMU (0 in r535). */
	readonly pmuReservedSize: number;
	readonly verified: bigint;
}

/** Input of {@link WprApi.encodeMeta}: every field optional but the addresses and sizes booter checks. */
export type WprMetaInput = Partial<WprMeta> &
	Pick<
		WprMeta,
		| 'sysmemAddrOfRadix3Elf'
		| 'sizeOfRadix3Elf'
		| 'sysmemAddrOfBootloader'
		| 'sizeOfBootloader'
		| 'sysmemAddrOfSignature'
		| 'sizeOfSignature'
	>;

/** WPR heap parameters of one chip family under this branch (nouveau's `nvkm_rm_wpr`). */
export interface WprHeapParams {
	/** LIBOS generation of the firmware on this chip (2 on TU10x/GA100, 3 later). */
	readonly libos: 2 | 3;
	/** `os_carveout_size`. */
	readonly osCarveoutSize: number;
	/** `base_size`. */
	readonly baseRmSize: number;
	/** `heap_size_min` in bytes. */
	readonly heapSizeMin: bigint;
	/** Heap per GiB of FB. */
	readonly sizePerGbFb: number;
	/** Client allocation reserve. */
	readonly clientAllocSize: number;
	/** Non-WPR heap GSP-RM needs (0 = the driver's default). */
	readonly nonWprHeapSize: number;
	/** FB reserved for the PMU. */
	readonly pmuReservedSize: number;
	/** Whether ACR places the WPR (GH100/GB): the CPU copies the offsets back from static info. */
	readonly offsetSetByAcr: boolean;
}

/** `GspFwWprMeta` and the WPR parameters. */
export interface WprApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.WPR_META>;
	readonly magic: bigint;
	readonly revision: bigint;
	/** Value of `verified` after booter accepted the meta (0xa0a0a0a0a0a0a0a0). */
	readonly verifiedMagic: bigint;
	/** Which branch-specific fields exist. */
	readonly supports: { readonly flags: boolean; readonly pmuReservedSize: boolean };
	/** 256 bytes of `GspFwWprMeta` (magic and revision set). `ABI_VALUE_RANGE` for fields the branch lacks. */
	encodeMeta(p: WprMetaInput): Uint8Array;
	decodeMeta(src: ByteSource): WprMeta;
	/** Heap parameters for a chip this ABI serves. */
	heapParams(chip: string): WprHeapParams;
	/**
	 * On chips whose WPR ACR places (GH100/GB, r570+), copy `fwWprLayoutOffset` from static info into the
	 * meta the CPU keeps; returns whether it wrote anything.
	 */
	applyStaticInfo(chip: string, meta: Uint8Array, info: StaticInfo): boolean;
}

// ───────────────────────────── libos / registry / sequencer ─────────────────────────────

/** One LIBOS memory region. */
export interface LibosRegion {
	/** Up to 8 ASCII characters (`'LOGINIT'`, `'RMARGS'`). */
	readonly name: string;
	readonly pa: bigint;
	readonly size: bigint;
	/** Default `'contiguous'`. */
	readonly kind?: 'contiguous' | 'radix3';
	/** Default `'sysmem'`. */
	readonly loc?: 'sysmem' | 'fb';
}

/** The LIBOS argument page. */
export interface LibosApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.LIBOS_REGION>;
	/** The region name packed big-endian into a u64 (`'LOGRM'` → 0x4c4f47524d). */
	id8(name: string): bigint;
	/** One 4 KiB page of `LibosMemoryRegionInitArgument`s. */
	encodeRegions(regions: readonly LibosRegion[]): Uint8Array;
	/**
	 * Regions until the first entry with a zero name, or the page's end (128 entries). `ABI_SHORT_BUFFER` when the
	 * bytes stop before either.
	 */
	decodeRegions(page: ByteSource): LibosRegion[];
}

/** A registry key. */
export type RegistryEntry =
	| { readonly name: string; readonly value: number }
	| { readonly name: string; readonly string: string }
	| { readonly name: string; readonly binary: Uint8Array };

/** `PACKED_REGISTRY_TABLE` (SET_REGISTRY). */
export interface RegistryApi extends SubInterface {
	readonly tableLayout: LayoutOf<typeof S.REGISTRY_TABLE>;
	readonly entryLayout: LayoutOf<typeof S.REGISTRY_ENTRY>;
	/** Entry type codes: DWORD 1, BINARY 2, STRING 3. */
	readonly types: { readonly DWORD: number; readonly BINARY: number; readonly STRING: number };
	/** The keys nouveau always sends. */
	readonly defaults: readonly RegistryEntry[];
	/** Header, entries, then each key's NUL-terminated name (and string/binary value) in entry order. */
	encode(entries: readonly RegistryEntry[]): Uint8Array;
	decode(payload: ByteSource): RegistryEntry[];
}

/** One CPU-sequencer command. */
export type SequencerCommand =
	| { readonly op: 'REG_WRITE'; readonly addr: number; readonly val: number }
	| { readonly op: 'REG_MODIFY'; readonly addr: number; readonly mask: number; readonly val: number }
	| {
			readonly op: 'REG_POLL';
			readonly addr: number;
			readonly mask: number;
			readonly val: number;
			readonly timeout: number;
			readonly error: number;
	  }
	| { readonly op: 'DELAY_US'; readonly val: number }
	| { readonly op: 'REG_STORE'; readonly addr: number; readonly index: number }
	| { readonly op: 'CORE_RESET' }
	| { readonly op: 'CORE_START' }
	| { readonly op: 'CORE_WAIT_FOR_HALT' }
	| { readonly op: 'CORE_RESUME' };

/** A decoded `rpc_run_cpu_sequencer_v17_00`. */
export interface SequencerProgram {
	readonly bufferSizeDWord: number;
	readonly regSaveArea: readonly number[];
	readonly commands: readonly SequencerCommand[];
}

/** GSP_RUN_CPU_SEQUENCER payloads. */
export interface SequencerApi extends SubInterface {
	readonly layout: LayoutOf<typeof S.RUN_CPU_SEQUENCER>;
	/** Opcode numbers by name. */
	readonly opcodes: Readonly<Record<SequencerCommand['op'], number>>;
	/** Walk `commandBuffer` up to `cmdIndex` dwords (ABI_VALUE_RANGE on an unknown opcode or a cut command). */
	decode(payload: ByteSource): SequencerProgram;
	encode(program: SequencerProgram): Uint8Array;
}

// ───────────────────────────── fifo ─────────────────────────────

/** A host engine, neutral: kind and instance. */
export interface EngineId {
	readonly kind: 'gr' | 'ce' | 'nvdec' | 'nvenc' | 'nvjpg' | 'ofa' | 'sec2' | 'sw' | 'gsp' | 'disp';
	readonly instance: number;
}

/** A memory descriptor in `NV_CHANNEL_ALLOC_PARAMS`. */
export interface MemDesc {
	readonly base: bigint;
	readonly size: bigint;
	/** 1 = system memory, 2 = video memory (as nouveau passes them). */
	readonly addressSpace: number;
	/** 0 = uncached, 1 = cached. */
	readonly cacheAttrib: number;
}

/** What a GPFIFO channel allocation needs. */
export interface ChannelAllocInput {
	readonly hVASpace: number;
	readonly gpFifoOffset: bigint;
	readonly gpFifoEntries: number;
	/** NVOS04 flags, see {@link FifoApi.channelFlags}. */
	readonly flags: number;
	/** `NV2080_ENGINE_TYPE_*` of the engine the channel runs on. */
	readonly engineType: number;
	readonly instanceMem: MemDesc;
	readonly userdMem: MemDesc;
	readonly ramfcMem: MemDesc;
	readonly mthdbufMem: MemDesc;
	/** See {@link FifoApi.internalFlags}. */
	readonly internalFlags: number;
	readonly hObjectError?: number;
	readonly hObjectBuffer?: number;
	readonly hContextShare?: number;
	readonly hPhysChannelGroup?: number;
	readonly subDeviceId?: number;
}

/** One entry of the FIFO device-info table. */
export interface DeviceInfoEntry {
	readonly engineName: string;
	/** `engineData[ENGINE_INFO_TYPE_*]` by type name (`RM_ENGINE_TYPE`, `RUNLIST`, …). */
	readonly data: Readonly<Record<string, number>>;
	/** The engine, if its RM engine type is one the driver knows. */
	readonly engine: (EngineId & { readonly nv2080Type: number }) | undefined;
	readonly pbdmaIds: readonly number[];
	readonly pbdmaFaultIds: readonly number[];
}

/** Channels and engines. */
export interface FifoApi extends SubInterface {
	readonly channelAllocLayout: LayoutOf<typeof S.CHANNEL_ALLOC>;
	/** Channel IDs GSP-RM reserves at the bottom of each runlist (r535: 0, r570: 1). */
	readonly reservedChids: number;
	/** `NV_CHANNEL_ALLOC_PARAMS` bytes. */
	encodeChannelAlloc(p: ChannelAllocInput): Uint8Array;
	/** NVOS04 flags for a physical, unmapped channel (nouveau's choice). */
	channelFlags(p: {
		readonly runqueue: number;
		readonly privileged: boolean;
		readonly userdIndex: number;
		readonly userdIndexPage: number;
	}): number;
	/** `NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS`: privilege and no error notifiers. */
	internalFlags(p: { readonly privilege: 'user' | 'admin' | 'kernel' }): number;
	/** One page of the device-info table. */
	getDeviceInfoTable(
		baseIndex?: number,
	): ControlCall<{ readonly entries: DeviceInfoEntry[]; readonly more: boolean }>;
	/** `NVA06F_CTRL_CMD_BIND` (on the channel). */
	bind(engineType: number): ControlCall<void>;
	/** `NVA06F_CTRL_CMD_GPFIFO_SCHEDULE` (on the channel). */
	schedule(enable: boolean): ControlCall<void>;
	/**
	 * `NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN` (on the channel): the token the driver writes to the
	 * usermode doorbell. Not in nouveau's headers; declared from NVIDIA's SDK header (see `sdk.ts`).
	 */
	workSubmitToken(): ControlCall<number>;
	/** Context buffer sizes per falcon engine descriptor (the control moved between branches). */
	constructedFalcons(): ControlCall<{ readonly engDesc: number; readonly ctxBufferSize: number }[]>;
	/** `RM_ENGINE_TYPE_*` → engine (+ its `NV2080_ENGINE_TYPE_*`); undefined when unknown. */
	engineFromRmType(rmEngineType: number): (EngineId & { readonly nv2080Type: number }) | undefined;
	/** Engine → `NV2080_ENGINE_TYPE_*` (what channel/CE allocation and BIND take). */
	nv2080EngineType(engine: EngineId): number;
	decodeRcTriggered(payload: ByteSource): Value<LayoutOf<typeof S.RC_TRIGGERED>>;
}

// ───────────────────────────── gr / vmm / ce / intr ─────────────────────────────

/** GPC/TPC topology. */
export interface GrTopology {
	readonly gpcMask: number;
	/** TPC mask per GPC index (0 for absent GPCs), length 32. */
	readonly tpcMasks: readonly number[];
	readonly gpcCount: number;
	readonly tpcCount: number;
	/** Where it came from. */
	readonly source: 'static-info' | 'controls';
}

/** A control a sub-interface may send, described (command ID and params codec). */
export interface ControlDescription {
	readonly name: string;
	readonly cmd: number;
	readonly params: RecordLayout;
}

/** Graphics engine facts. */
export interface GrApi extends SubInterface {
	/** How {@link GrApi.queryTopology} gets its answer in this branch. */
	readonly topologySource: 'static-info' | 'controls';
	/** The controls {@link GrApi.queryTopology} sends (none in r535; the FERMI GPC/TPC controls in r570). */
	readonly topologyControls: readonly ControlDescription[];
	/** GPC/TPC topology: from the static-info bytes (r535) or by sending GR controls through `rmControl` (r570). */
	queryTopology(ctx: { readonly staticInfo: ByteSource; readonly rmControl: RmControl }): Promise<GrTopology>;
	/** Context buffer sizes/alignments of GR engine 0 (`…_STATIC_KGR_GET_CONTEXT_BUFFERS_INFO`). */
	contextBuffersInfo(): ControlCall<{ readonly size: number; readonly alignment: number }[]>;
}

/** VA spaces. */
export interface VmmApi extends SubInterface {
	readonly vaspaceLayout: LayoutOf<typeof S.VASPACE_ALLOC>;
	/** `GMMU_FMT_MAX_LEVELS`. */
	readonly maxLevels: number;
	vaspaceAllocParams(p: {
		readonly index?: number;
		readonly flags?: number;
		readonly vaSize?: bigint;
		readonly vaStartInternal?: bigint;
		readonly vaLimitInternal?: bigint;
		readonly bigPageSize?: number;
		readonly vaBase?: bigint;
	}): Uint8Array;
	/** `NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES` (on the VA space). */
	copyServerReservedPdes(p: {
		readonly hSubDevice?: number;
		readonly subDeviceId?: number;
		readonly pageSize: bigint;
		readonly virtAddrLo: bigint;
		readonly virtAddrHi: bigint;
		readonly levels: readonly {
			readonly physAddress: bigint;
			readonly size: bigint;
			readonly aperture: number;
			readonly pageShift: number;
		}[];
	}): ControlCall<void>;
}

/** Copy engines. */
export interface CeApi extends SubInterface {
	/** `NV2080_CTRL_CMD_CE_GET_FAULT_METHOD_BUFFER_SIZE` (on the subdevice). */
	faultMethodBufferSize(): ControlCall<number>;
	/** `NVC0B5_ALLOCATION_PARAMETERS` for CE `instance` (version 1). */
	allocParams(instance: number): Uint8Array;
}

/** One interrupt-table entry. */
export interface KernelIntrEntry {
	/** `MC_ENGINE_IDX_*` (branch-specific numbering). */
	readonly engineIdx: number;
	/** The engine it stands for, if the driver handles it. */
	readonly engine: EngineId | undefined;
	readonly pmcIntrMask: number;
	readonly vectorStall: number;
	readonly vectorNonStall: number;
}

/** Interrupt routing. */
export interface IntrApi extends SubInterface {
	/** `NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE` (on the internal subdevice). */
	getKernelTable(): ControlCall<{
		readonly entries: KernelIntrEntry[];
		readonly subtrees: { readonly start: number; readonly end: number }[];
	}>;
	/** `MC_ENGINE_IDX_*` → engine. */
	engineFromMcIndex(idx: number): EngineId | undefined;
}

// ───────────────────────────── boot (falcon-boot's view) ─────────────────────────────

/** `GspFwWprMeta` as falcon-boot fills it: the neutral shape of `@gspkit/abi`. */
export type BootWprMetaFields = WprMetaFields;

/** A decoded `GspFwWprMeta` in falcon-boot's terms. */
export type BootWprMeta = DecodedWprMeta;

/** RMARGS as falcon-boot fills it. */
export type BootRmArgsFields = RmArgsFields;

/** One LIBOS region entry as falcon-boot fills it: by `name` (packed into `id8` here) or by `id8`. */
export interface BootLibosRegionFields {
	/** Up to 8 ASCII characters (`'LOGRM'`). */
	readonly name?: string;
	/** The packed name, when `name` is not given. */
	readonly id8?: bigint;
	readonly pa: bigint;
	readonly size: bigint;
	readonly kind: number;
	readonly loc: number;
}

/** Writes one fixed-size struct (unnamed bytes zeroed) into a buffer. */
export type BootStructWriter<T> = StructWriter<T>;

/**
 * The boot writers falcon-boot needs (`GspFwWprMeta`, RMARGS, LIBOS entries), shaped to satisfy its
 * `BootAbi` structurally so `bootAbiOf(abi)` picks `subInterfaces.boot`.
 */
export interface BootApi extends SubInterface {
	readonly version: string;
	readonly wprMeta: BootStructWriter<BootWprMetaFields> & {
		readonly magic: bigint;
		readonly revision: bigint;
		decode(src: Uint8Array, offset?: number): BootWprMeta;
	};
	readonly rmArgs: BootStructWriter<BootRmArgsFields>;
	readonly libosRegion: BootStructWriter<BootLibosRegionFields>;
}

// ───────────────────────────── the whole table ─────────────────────────────

/** Every sub-interface of an ABI package, by name (nouveau's `nvkm_rm_api`). */
export type RmApi = {
	readonly rpc: RpcApi;
	readonly ctrl: CtrlApi;
	readonly alloc: AllocApi;
	readonly client: ClientApi;
	readonly device: DeviceApi;
	readonly gsp: GspApi;
	readonly wpr: WprApi;
	readonly libos: LibosApi;
	readonly registry: RegistryApi;
	readonly sequencer: SequencerApi;
	readonly fifo: FifoApi;
	readonly gr: GrApi;
	readonly vmm: VmmApi;
	readonly ce: CeApi;
	readonly intr: IntrApi;
	readonly boot: BootApi;
};

/** The names of {@link RmApi}'s sub-interfaces, in a stable order. */
export const SUB_INTERFACE_NAMES = [
	'rpc',
	'ctrl',
	'alloc',
	'client',
	'device',
	'gsp',
	'wpr',
	'libos',
	'registry',
	'sequencer',
	'fifo',
	'gr',
	'vmm',
	'ce',
	'intr',
	'boot',
] as const satisfies readonly (keyof RmApi)[];

/** Codecs by neutral name (`FirmwareAbi.layouts`), the same TypeScript type in every branch. */
export type CoreLayouts = {
	readonly queueElement: LayoutOf<typeof S.QUEUE_ELEMENT>;
	readonly rpcHeader: LayoutOf<typeof S.RPC_HEADER>;
	readonly msgqTxHeader: LayoutOf<typeof S.MSGQ_TX_HEADER>;
	readonly msgqRxHeader: LayoutOf<typeof S.MSGQ_RX_HEADER>;
	readonly messageQueueInitArguments: LayoutOf<typeof S.MQ_INIT_ARGS>;
	readonly argumentsCached: LayoutOf<typeof S.ARGUMENTS_CACHED>;
	readonly libosRegion: LayoutOf<typeof S.LIBOS_REGION>;
	readonly wprMeta: LayoutOf<typeof S.WPR_META>;
	readonly systemInfo: LayoutOf<typeof S.SYSTEM_INFO>;
	readonly registryTable: LayoutOf<typeof S.REGISTRY_TABLE>;
	readonly registryEntry: LayoutOf<typeof S.REGISTRY_ENTRY>;
	readonly rmAlloc: LayoutOf<typeof S.RM_ALLOC>;
	readonly rmControl: LayoutOf<typeof S.RM_CONTROL>;
	readonly free: LayoutOf<typeof S.RM_FREE>;
	readonly seqRegWrite: LayoutOf<typeof S.SEQ_REG_WRITE>;
	readonly seqRegModify: LayoutOf<typeof S.SEQ_REG_MODIFY>;
	readonly seqRegPoll: LayoutOf<typeof S.SEQ_REG_POLL>;
	readonly seqDelayUs: LayoutOf<typeof S.SEQ_DELAY_US>;
	readonly seqRegStore: LayoutOf<typeof S.SEQ_REG_STORE>;
	readonly runCpuSequencer: LayoutOf<typeof S.RUN_CPU_SEQUENCER>;
	readonly staticConfigInfo: LayoutOf<typeof S.STATIC_CONFIG_INFO>;
	readonly unloadingGuestDriver: LayoutOf<typeof S.UNLOADING_GUEST_DRIVER>;
	readonly osErrorLog: LayoutOf<typeof S.OS_ERROR_LOG>;
	readonly rcTriggered: LayoutOf<typeof S.RC_TRIGGERED>;
	readonly postEvent: LayoutOf<typeof S.POST_EVENT>;
	readonly rootAllocParams: LayoutOf<typeof S.ROOT_ALLOC>;
	readonly deviceAllocParams: LayoutOf<typeof S.DEVICE_ALLOC>;
	readonly subdeviceAllocParams: LayoutOf<typeof S.SUBDEVICE_ALLOC>;
	readonly vaspaceAllocParams: LayoutOf<typeof S.VASPACE_ALLOC>;
	readonly channelAllocParams: LayoutOf<typeof S.CHANNEL_ALLOC>;
	readonly memoryDescParams: LayoutOf<typeof S.MEMORY_DESC>;
	readonly ceAllocParams: LayoutOf<typeof S.CE_ALLOC>;
	readonly copyServerReservedPdesParams: LayoutOf<typeof S.COPY_SERVER_RESERVED_PDES>;
	readonly intrGetKernelTableParams: LayoutOf<typeof S.INTR_GET_KERNEL_TABLE>;
	readonly fifoGetDeviceInfoTableParams: LayoutOf<typeof S.FIFO_GET_DEVICE_INFO_TABLE>;
	readonly ceGetFaultMethodBufferSizeParams: LayoutOf<typeof S.CE_GET_FAULT_METHOD_BUFFER_SIZE>;
	readonly channelBindParams: LayoutOf<typeof S.CHANNEL_BIND>;
	readonly gpfifoScheduleParams: LayoutOf<typeof S.GPFIFO_SCHEDULE>;
	readonly gpcInfoParams: LayoutOf<typeof S.GPC_INFO>;
	readonly tpcInfoParams: LayoutOf<typeof S.TPC_INFO>;
	readonly eventSetNotificationParams: LayoutOf<typeof S.EVENT_SET_NOTIFICATION>;
	readonly grGetContextBuffersInfoParams: LayoutOf<typeof S.GR_GET_CONTEXT_BUFFERS_INFO_R535>;
	readonly getConstructedFalconInfoParams: LayoutOf<typeof S.GET_CONSTRUCTED_FALCON_INFO_R535>;
};
