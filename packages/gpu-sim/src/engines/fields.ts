/**
 * The formats the host (PBDMA) and copy engines decode, transcribed for the simulator from NVIDIA's published
 * documents:
 *
 * - `open-gpu-doc manuals/ampere/ga100/dev_pbdma.ref.txt`: GP entries (`NV_PPBDMA_GP_ENTRY*`), host methods
 *   (`NV_UDMA_*`), semaphore semantics;
 * - `open-gpu-doc manuals/ampere/ga100/dev_ram.ref.txt`: RAMFC, RAMUSERD, pushbuffer formats (`NV_FIFO_DMA_*`);
 * - `open-gpu-doc manuals/turing/tu104/dev_usermode.ref.txt` and `ampere/ga100/dev_vm.ref.txt`: the doorbell;
 * - the class headers `clc46f.h`/`clc56f.h`/`clc86f.h` (host) and `clc5b5.h`/`clc6b5.h`/`clc7b5.h`/`clc8b5.h`
 *   (copy engine) from `open-gpu-kernel-modules`.
 *
 * Bit ranges are written `hi:lo` as in the headers. This is the hardware side's own reading; the driver's
 * pushbuffer builder is written separately so that the two can disagree and tests notice.
 *
 * @module
 */

/** A bit field `hi:lo` (inclusive) of a 32-bit word. */
export interface Field32 {
	readonly hi: number;
	readonly lo: number;
}

function f(hi: number, lo: number): Field32 {
	return Object.freeze({ hi, lo });
}

/** Extract `field` from the 32-bit word `value` (unsigned result). */
export function get32(value: number, field: Field32): number {
	const width = field.hi - field.lo + 1;
	const shifted = value >>> field.lo;
	return width >= 32 ? shifted >>> 0 : (shifted & ((1 << width) - 1)) >>> 0;
}

/** `value` placed in `field` (for tests and for building words); bits outside the field are dropped. */
export function put32(field: Field32, value: number): number {
	const width = field.hi - field.lo + 1;
	const mask = width >= 32 ? 0xffff_ffff : (1 << width) - 1;
	return ((value & mask) << field.lo) >>> 0;
}

/** Class identifiers the engines recognise (nouveau `include/nvif/class.h`, NVIDIA class headers). */
export const CLASS = Object.freeze({
	TURING_CHANNEL_GPFIFO_A: 0xc46f,
	AMPERE_CHANNEL_GPFIFO_A: 0xc56f,
	AMPERE_CHANNEL_GPFIFO_B: 0xc76f,
	HOPPER_CHANNEL_GPFIFO_A: 0xc86f,
	TURING_DMA_COPY_A: 0xc5b5,
	AMPERE_DMA_COPY_A: 0xc6b5,
	AMPERE_DMA_COPY_B: 0xc7b5,
	HOPPER_DMA_COPY_A: 0xc8b5,
	TURING_USERMODE_A: 0xc461,
	AMPERE_USERMODE_A: 0xc561,
	HOPPER_USERMODE_A: 0xc661,
});

/**
 * The usermode register window (`NV_USERMODE_*` on Turing at BAR0 `0x810000`; the same registers appear as
 * `NV_VIRTUAL_FUNCTION_*` at `0x30000` inside the `0xB80000` VF region on every GSP chip). Offsets are relative
 * to the window, which is 64 KiB; undefined registers read 0 and ignore writes.
 */
export const USERMODE = Object.freeze({
	SIZE: 0x10000,
	/** `CFG0.USERMODE_CLASS_ID` 15:0. */
	CFG0: 0x00,
	/** Timer low word; NSEC 31:5 (bits 4:0 read 0). */
	TIME_0: 0x80,
	/** Timer high word; NSEC 28:0. */
	TIME_1: 0x84,
	/** `NOTIFY_CHANNEL_PENDING` (Turing) / `DOORBELL` (VF): the work-submit token. */
	NOTIFY_CHANNEL_PENDING: 0x90,
	/** Token fields: CHID 11:0, RUNLIST_ID 22:16. */
	TOKEN_CHID: f(11, 0),
	TOKEN_RUNLIST_ID: f(22, 16),
	/** Bits a valid token may have set. */
	TOKEN_VALID_MASK: 0x007f_0fff,
	/** Turing `RUNLIST_ID_ALL`: rescan every runlist for the CHID. */
	TURING_RUNLIST_ID_ALL: 15,
	/** Base of the Turing `NV_USERMODE` device. */
	TURING_BASE: 0x810000,
	/** Base of `NV_VIRTUAL_FUNCTION` (0xB80000 `FULL_PHYS_OFFSET` + 0x30000). */
	VF_BASE: 0xbb0000,
});

/** `NV_RAMUSERD_*`: byte offsets in a channel's 512-byte USERD. */
export const USERD = Object.freeze({
	SIZE: 512,
	PUT: 0x40,
	GET: 0x44,
	REF: 0x48,
	PUT_HI: 0x4c,
	TOP_LEVEL_GET: 0x58,
	TOP_LEVEL_GET_HI: 0x5c,
	GET_HI: 0x60,
	GP_GET: 0x88,
	GP_PUT: 0x8c,
	/** `NV_PPBDMA_TOP_LEVEL_GET_HI_VALID` 31:31. */
	TOP_LEVEL_GET_HI_VALID: 0x8000_0000,
});

/** `NV_RAMFC_*` words the host reads from the instance block (byte offsets). */
export const RAMFC = Object.freeze({
	/** Word 18: GPFIFO base, OFFSET 31:3. */
	GP_BASE: 0x48,
	/** Word 19: OFFSET 7:0 (VA bits 39:32), LIMIT2 20:16 (log2 of the entry count). */
	GP_BASE_HI: 0x4c,
	GP_BASE_OFFSET: f(31, 3),
	GP_BASE_HI_OFFSET: f(7, 0),
	GP_BASE_HI_LIMIT2: f(20, 16),
});

/** `NV_PPBDMA_GP_ENTRY*`: one 8-byte GPFIFO entry (two little-endian words). */
export const GP_ENTRY = Object.freeze({
	SIZE: 8,
	FETCH: f(0, 0),
	GET: f(31, 2),
	OPERAND: f(31, 0),
	GET_HI: f(7, 0),
	LEVEL: f(9, 9),
	LENGTH: f(30, 10),
	SYNC: f(31, 31),
	OPCODE: f(7, 0),
	OPCODE_NOP: 0,
	OPCODE_ILLEGAL: 1,
	OPCODE_GP_CRC: 2,
	OPCODE_PB_CRC: 3,
	/** C86F only: operand 24:8 gives PB VA bits 56:40 of later segments. */
	OPCODE_SET_PB_SEGMENT_EXTENDED_BASE: 4,
	PB_EXTENDED_BASE_OPERAND: f(24, 8),
	/** The PB segment's end must stay below 2^40 (the last dword of the VA space is unusable). */
	VA_LIMIT: 0xff_ffff_ffffn,
});

/** `NV_FIFO_DMA_*`: pushbuffer method headers and control entries. */
export const PB = Object.freeze({
	ADDRESS: f(11, 0),
	SUBCHANNEL: f(15, 13),
	TERT_OP: f(17, 16),
	COUNT: f(28, 16),
	IMMD_DATA: f(28, 16),
	SEC_OP: f(31, 29),
	SUBDEVICE_MASK: f(15, 4),
	/** SSDM/STORE_SDM/USE_SDM put their opcode in 31:16 (SEC_OP 0 with TERT_OP 1..3 and 28:18 zero). */
	CONTROL_OPCODE: f(31, 16),
	SEC_OP_GRP0: 0,
	SEC_OP_INC: 1,
	SEC_OP_GRP2: 2,
	SEC_OP_NON_INC: 3,
	SEC_OP_IMMD: 4,
	SEC_OP_ONE_INC: 5,
	SEC_OP_RESERVED6: 6,
	SEC_OP_END_PB_SEGMENT: 7,
	CONTROL_SET_SUBDEVICE_MASK: 1,
	CONTROL_STORE_SUBDEVICE_MASK: 2,
	CONTROL_USE_SUBDEVICE_MASK: 3,
	/** The universal NOP (not a method header). */
	NOP: 0x0000_0000,
	/** Largest method dword address (12 bits). */
	MAX_ADDRESS: 0xfff,
	/** Subchannels 5..7 carry software methods. */
	FIRST_SW_SUBCHANNEL: 5,
});

/** Host methods (`NV_UDMA_*`, class C56F byte offsets; identical in C46F and C86F). */
export const HOST = Object.freeze({
	SET_OBJECT: 0x000,
	ILLEGAL: 0x004,
	NOP: 0x008,
	NON_STALL_INTERRUPT: 0x020,
	FB_FLUSH: 0x024,
	MEM_OP_A: 0x028,
	MEM_OP_B: 0x02c,
	MEM_OP_C: 0x030,
	MEM_OP_D: 0x034,
	SET_REFERENCE: 0x050,
	SEM_ADDR_LO: 0x05c,
	SEM_ADDR_HI: 0x060,
	SEM_PAYLOAD_LO: 0x064,
	SEM_PAYLOAD_HI: 0x068,
	SEM_EXECUTE: 0x06c,
	WFI: 0x078,
	YIELD: 0x080,
	CLEAR_FAULTED: 0x084,
	/** Host methods live below this byte address; the rest belongs to the engine on the subchannel. */
	ENGINE_BASE: 0x100,
	SET_OBJECT_NVCLASS: f(15, 0),
	SEM_ADDR_LO_OFFSET: f(31, 2),
	/** 7:0 before Hopper (40-bit semaphore VA), 24:0 in C86F (57-bit). */
	SEM_ADDR_HI_OFFSET: f(7, 0),
	SEM_ADDR_HI_OFFSET_C86F: f(24, 0),
	YIELD_OP: f(1, 0),
	YIELD_OP_RUNLIST_TIMESLICE: 2,
	YIELD_OP_TSG: 3,
});

/** `NV_UDMA_SEM_EXECUTE` fields. */
export const SEM_EXECUTE = Object.freeze({
	OPERATION: f(2, 0),
	OP_ACQUIRE: 0,
	OP_RELEASE: 1,
	OP_ACQ_STRICT_GEQ: 2,
	OP_ACQ_CIRC_GEQ: 3,
	OP_ACQ_AND: 4,
	OP_ACQ_NOR: 5,
	OP_REDUCTION: 6,
	ACQUIRE_SWITCH_TSG: f(12, 12),
	RELEASE_WFI: f(20, 20),
	PAYLOAD_SIZE: f(24, 24),
	RELEASE_TIMESTAMP: f(25, 25),
	REDUCTION: f(30, 27),
	REDUCTION_FORMAT: f(31, 31),
});

/** Reduction operations shared by `SEM_EXECUTE_REDUCTION` and the copy engine's `SEMAPHORE_REDUCTION`. */
export const REDUCTION = Object.freeze({
	IMIN: 0,
	IMAX: 1,
	IXOR: 2,
	IAND: 3,
	IOR: 4,
	IADD: 5,
	INC: 6,
	DEC: 7,
	/** Copy engine only (float add); not modelled. */
	FADD: 0xa,
});

/** `NV_UDMA_MEM_OP_*` fields. */
export const MEM_OP = Object.freeze({
	C_MEMBAR_TYPE: f(2, 0),
	C_TLB_INVALIDATE_PDB: f(0, 0),
	C_TLB_INVALIDATE_GPC: f(1, 1),
	C_TLB_INVALIDATE_PAGE_TABLE_LEVEL: f(9, 7),
	C_TLB_INVALIDATE_PDB_APERTURE: f(11, 10),
	C_TLB_INVALIDATE_PDB_ADDR_LO: f(31, 12),
	D_TLB_INVALIDATE_PDB_ADDR_HI: f(26, 0),
	D_OPERATION: f(31, 27),
	OP_MEMBAR: 0x05,
	OP_MMU_TLB_INVALIDATE: 0x09,
	OP_MMU_TLB_INVALIDATE_TARGETED: 0x0a,
	OP_L2_PEERMEM_INVALIDATE: 0x0d,
	OP_L2_SYSMEM_INVALIDATE: 0x0e,
	OP_L2_CLEAN_COMPTAGS: 0x0f,
	OP_L2_FLUSH_DIRTY: 0x10,
	OP_L2_WAIT_FOR_SYS_PENDING_READS: 0x15,
	OP_ACCESS_COUNTER_CLR: 0x16,
});

/** Copy-engine methods (class xxB5 byte offsets, the same in C5B5…C8B5 unless noted). */
export const CE = Object.freeze({
	NOP: 0x100,
	PM_TRIGGER: 0x140,
	/** C8B5 only. */
	SET_MONITORED_FENCE_TYPE: 0x21c,
	SET_MONITORED_FENCE_SIGNAL_ADDR_BASE_UPPER: 0x220,
	SET_MONITORED_FENCE_SIGNAL_ADDR_BASE_LOWER: 0x224,
	SET_SEMAPHORE_A: 0x240,
	SET_SEMAPHORE_B: 0x244,
	SET_SEMAPHORE_PAYLOAD: 0x248,
	/** C7B5 and C8B5 only. */
	SET_SEMAPHORE_PAYLOAD_UPPER: 0x24c,
	SET_RENDER_ENABLE_A: 0x254,
	SET_RENDER_ENABLE_B: 0x258,
	SET_RENDER_ENABLE_C: 0x25c,
	SET_SRC_PHYS_MODE: 0x260,
	SET_DST_PHYS_MODE: 0x264,
	/** C5B5…C7B5 only. */
	SET_GLOBAL_COUNTER_UPPER: 0x280,
	SET_GLOBAL_COUNTER_LOWER: 0x284,
	SET_PAGEOUT_START_PAUPPER: 0x288,
	SET_PAGEOUT_START_PALOWER: 0x28c,
	LAUNCH_DMA: 0x300,
	OFFSET_IN_UPPER: 0x400,
	OFFSET_IN_LOWER: 0x404,
	OFFSET_OUT_UPPER: 0x408,
	OFFSET_OUT_LOWER: 0x40c,
	PITCH_IN: 0x410,
	PITCH_OUT: 0x414,
	LINE_LENGTH_IN: 0x418,
	LINE_COUNT: 0x41c,
	/** C8B5 only: secure copy (0x500…0x518, 0x530…0x53c) and scrub parameters. */
	SET_SECURE_COPY_MODE: 0x500,
	SET_MEMORY_SCRUB_PARAMETERS: 0x6fc,
	SET_REMAP_CONST_A: 0x700,
	SET_REMAP_CONST_B: 0x704,
	SET_REMAP_COMPONENTS: 0x708,
	SET_DST_BLOCK_SIZE: 0x70c,
	SET_SRC_ORIGIN: 0x73c,
	SRC_ORIGIN_X: 0x744,
	DST_ORIGIN_Y: 0x750,
	PM_TRIGGER_END: 0x1114,

	/** `SET_SEMAPHORE_A_UPPER` / `OFFSET_*_UPPER_UPPER`: 16:0 before Hopper, 24:0 in C8B5. */
	UPPER: f(16, 0),
	UPPER_C8B5: f(24, 0),
	RENDER_ENABLE_C_MODE: f(2, 0),
	RENDER_ENABLE_MODE_FALSE: 0,
	RENDER_ENABLE_MODE_TRUE: 1,
	PHYS_MODE_TARGET: f(1, 0),
	PHYS_TARGET_LOCAL_FB: 0,
	PHYS_TARGET_COHERENT_SYSMEM: 1,
	PHYS_TARGET_NONCOHERENT_SYSMEM: 2,
	PHYS_TARGET_PEERMEM: 3,

	LAUNCH_DATA_TRANSFER_TYPE: f(1, 0),
	TRANSFER_NONE: 0,
	TRANSFER_PIPELINED: 1,
	TRANSFER_NON_PIPELINED: 2,
	LAUNCH_FLUSH_ENABLE: f(2, 2),
	LAUNCH_SEMAPHORE_TYPE: f(4, 3),
	SEMAPHORE_NONE: 0,
	/** RELEASE_ONE_WORD_SEMAPHORE (C7B5/C8B5: RELEASE_SEMAPHORE_NO_TIMESTAMP). */
	SEMAPHORE_ONE_WORD: 1,
	/** RELEASE_FOUR_WORD_SEMAPHORE (C7B5/C8B5: RELEASE_SEMAPHORE_WITH_TIMESTAMP). */
	SEMAPHORE_FOUR_WORD: 2,
	SEMAPHORE_CONDITIONAL_INTR: 3,
	LAUNCH_INTERRUPT_TYPE: f(6, 5),
	INTERRUPT_NONE: 0,
	INTERRUPT_BLOCKING: 1,
	INTERRUPT_NON_BLOCKING: 2,
	LAUNCH_SRC_MEMORY_LAYOUT: f(7, 7),
	LAUNCH_DST_MEMORY_LAYOUT: f(8, 8),
	LAYOUT_BLOCKLINEAR: 0,
	LAYOUT_PITCH: 1,
	LAUNCH_MULTI_LINE_ENABLE: f(9, 9),
	LAUNCH_REMAP_ENABLE: f(10, 10),
	LAUNCH_SRC_TYPE: f(12, 12),
	LAUNCH_DST_TYPE: f(13, 13),
	TYPE_VIRTUAL: 0,
	TYPE_PHYSICAL: 1,
	LAUNCH_SEMAPHORE_REDUCTION: f(17, 14),
	LAUNCH_SEMAPHORE_REDUCTION_SIGN: f(18, 18),
	REDUCTION_SIGN_SIGNED: 0,
	LAUNCH_SEMAPHORE_REDUCTION_ENABLE: f(19, 19),
	/** C8B5: COPY_TYPE 21:20 (1 = SECURE). */
	LAUNCH_COPY_TYPE_C8B5: f(21, 20),
	/** C5B5…C7B5: VPRMODE 23:22; C8B5: 22:22. */
	LAUNCH_VPRMODE: f(23, 22),
	LAUNCH_VPRMODE_C8B5: f(22, 22),
	/** C8B5: MEMORY_SCRUB_ENABLE 23:23. */
	LAUNCH_MEMORY_SCRUB_ENABLE_C8B5: f(23, 23),
	/** C7B5/C8B5: SEMAPHORE_PAYLOAD_SIZE 27:27 (1 = two words). */
	LAUNCH_SEMAPHORE_PAYLOAD_SIZE: f(27, 27),

	REMAP_DST_X: f(2, 0),
	REMAP_DST_Y: f(6, 4),
	REMAP_DST_Z: f(10, 8),
	REMAP_DST_W: f(14, 12),
	REMAP_SRC_X: 0,
	REMAP_SRC_Y: 1,
	REMAP_SRC_Z: 2,
	REMAP_SRC_W: 3,
	REMAP_CONST_A: 4,
	REMAP_CONST_B: 5,
	REMAP_NO_WRITE: 6,
	/** COMPONENT_SIZE 17:16 = bytes − 1. */
	REMAP_COMPONENT_SIZE: f(17, 16),
	/** NUM_SRC_COMPONENTS 21:20 = count − 1. */
	REMAP_NUM_SRC_COMPONENTS: f(21, 20),
	/** NUM_DST_COMPONENTS 25:24 = count − 1. */
	REMAP_NUM_DST_COMPONENTS: f(25, 24),
});
