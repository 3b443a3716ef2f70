/**
 * The pluggable "ucode behaviour" interface. A falcon model cannot execute NVIDIA's falcon code; instead,
 * when the host starts the CPU, it identifies *what was loaded* (by comparing IMEM, read through the tags,
 * with the images it knows), lets the simulated boot ROM authenticate heavy-secure images, and then runs
 * the behaviour model registered for that image. A behaviour is a {@link FalconProgram}: it reads the
 * loaded memories, BROM parameters, mailboxes and (through the host) registers and DMA memory, and returns
 * {@link FalconEffects} the falcon applies.
 *
 * @module
 */

import type { BootProfile } from './profile.ts';

/** The two falcon engines the simulator models. */
export type FalconEngineName = 'gsp' | 'sec2';

/** A code segment of a known image: what must sit at virtual address `va` in IMEM. */
export interface UcodeSegment {
	/** Virtual address (256-byte aligned): the IMEM tag of its first block is `va >> 8`. */
	readonly va: number;
	readonly length: number;
	/** Whether the segment must be in secure IMEM blocks (heavy-secure code). */
	readonly secure: boolean;
	/** SHA-256 (hex) of the segment's bytes. */
	readonly sha256: string;
}

/** The heavy-secure part of a known image: what the boot ROM checks before entering HS mode. */
export interface UcodeHsInfo {
	/** DMEM offset of the signature the driver patches in (`pkc_data_offset`). */
	readonly pkcOffset: number;
	/** Signature size in bytes (384 for RSA-3K, 16 for Turing's AES); 0 = no signature to check. */
	readonly signatureSize: number;
	/** Engine ID mask the image is built for (`BROM_ENGIDMASK`). */
	readonly engineIdMask: number;
	/** Ucode ID (`BROM_CURR_UCODE_ID`; also selects the fuse register). */
	readonly ucodeId: number;
	/** SHA-256 of the signature that is valid for each fuse version. */
	readonly signaturesByFuseVersion: ReadonlyMap<number, string>;
}

/** The DMEM image of a known ucode, compared by digest with the driver-patched fields masked out. */
export interface UcodeDataInfo {
	readonly length: number;
	/** SHA-256 of DMEM[0, length) with every `masks` range read as zero. */
	readonly sha256: string;
	/** Half-open byte ranges the driver legitimately patches (signature, command fields). */
	readonly masks: readonly (readonly [number, number])[];
}

/** A ucode the simulated falcons recognise, with the behaviour that runs when it is started. */
export interface KnownUcode {
	/** Human-readable name, e.g. `"booter_load 570.144 (ga102, real)"`. */
	readonly name: string;
	readonly kind: 'fwsec' | 'booter_load' | 'booter_unload' | 'gen_bootloader' | (string & {});
	readonly engine: FalconEngineName;
	/** Lower-case chip names this image is signed for. */
	readonly chips: readonly string[];
	readonly segments: readonly UcodeSegment[];
	/** BOOTVEC the image must be started at. */
	readonly entry: number;
	readonly data?: UcodeDataInfo;
	/** Present for heavy-secure images. */
	readonly hs?: UcodeHsInfo;
	readonly source: 'real' | 'synthetic' | 'vbios';
	/** Firmware version string, if the image comes from a versioned file. */
	readonly version?: string;
	readonly program: FalconProgram;
}

/** Where the falcons look up images: implemented by `KnownImages` and by test fixtures. */
export interface UcodeRegistry {
	/** Every known ucode (for every engine and chip; the falcon filters). */
	ucodes(): readonly KnownUcode[];
	/**
	 * Optional fast path: the ucodes known without lazy registration, a prefix of {@link UcodeRegistry.ucodes}.
	 * The BROM looks here first and falls back to `ucodes()` when the loaded image is not among them.
	 */
	registeredUcodes?(): readonly KnownUcode[];
}

/** Device-side access a falcon needs from the rest of the GPU. */
export interface FalconHost {
	/** Read system memory at a bus address. Throws (e.g. `DmaFaultError`) when the access faults. */
	dmaRead(address: bigint, length: number): Uint8Array;
	/**
	 * Optional zero-copy read: a view of system memory at a bus address, same checks and faults as
	 * {@link FalconHost.dmaRead}. Only for bytes consumed at once (the view aliases the DMA memory); models
	 * that read bulk data (booter hashing the GSP image) use it when present, else `dmaRead`.
	 */
	dmaView?(address: bigint, length: number): Uint8Array;
	/** Write system memory at a bus address. Throws when the access faults. */
	dmaWrite(address: bigint, bytes: Uint8Array): void;
	/** Read local video memory (FBIF target LOCAL_FB); absent = such transfers fault. */
	fbRead?(offset: bigint, length: number): Uint8Array;
	/** Write local video memory; absent = such transfers fault. */
	fbWrite?(offset: bigint, bytes: Uint8Array): void;
	/** Read a BAR0 register of another unit (fuses, WPR2, scratch), as hardware. */
	readRegister(offset: number): number;
	/** Set a BAR0 register of another unit as hardware (ignores the host's write protection). */
	writeRegister(offset: number, value: number): void;
	/** Carry out a request to start (or stop) the GSP RISC-V core; see {@link RiscvRequest}. */
	riscv?(request: RiscvRequest): void;
}

/** A request from ucode running on one falcon to start or stop the GSP's RISC-V core. */
export type RiscvRequest =
	| {
			readonly action: 'start';
			/** What booter verified; handed to the GSP start listeners. */
			readonly details: Readonly<Record<string, unknown>>;
	  }
	| { readonly action: 'stop' };

/** DMA through the falcon's own FBIF, as ucode does it: `ctxDma` selects FBIF_TRANSCFG. */
export interface FbifAccess {
	/** @throws FalconDmaFault when TRANSCFG/FBIF_CTL/DMACTL do not allow the access or the bus faults. */
	read(ctxDma: number, address: bigint, length: number): Uint8Array;
}

/** Why a DMA transfer of the falcon faulted. */
export class FalconDmaFault extends Error {
	readonly address: bigint;
	readonly length: number;
	constructor(reason: string, address: bigint, length: number) {
		super(reason);
		this.name = 'FalconDmaFault';
		this.address = address;
		this.length = length;
	}
}

/** BROM parameter registers as the host programmed them. */
export interface BromParams {
	readonly modSel: number;
	readonly ucodeId: number;
	readonly engineIdMask: number;
	readonly paraAddr: readonly number[];
}

/** What a {@link FalconProgram} sees when it runs. */
export interface FalconExecution {
	readonly engine: FalconEngineName;
	readonly profile: BootProfile;
	readonly bootvec: number;
	readonly mailbox0: number;
	readonly mailbox1: number;
	readonly brom: BromParams;
	/** IMEM contents (physical). Programs must not modify it; they return {@link FalconEffects.imemWrites}. */
	readonly imem: Uint8Array;
	/** DMEM contents. Read-only for programs; they return {@link FalconEffects.dmemWrites}. */
	readonly dmem: Uint8Array;
	/** The image that was identified (and, for HS images, authenticated). */
	readonly ucode: KnownUcode;
	readonly host: FalconHost;
	readonly fbif: FbifAccess;
}

/** What a program did. The falcon applies the effects in field order, then halts (or jumps). */
export interface FalconEffects {
	readonly mailbox0?: number;
	readonly mailbox1?: number;
	/** BAR0 registers of other units written as hardware (WPR2, scratch). */
	readonly registerWrites?: readonly { readonly offset: number; readonly value: number }[];
	readonly dmaWrites?: readonly { readonly address: bigint; readonly bytes: Uint8Array }[];
	/** Code the program loaded into IMEM (physical address, first tag, secure bit). */
	readonly imemWrites?: readonly {
		readonly address: number;
		readonly bytes: Uint8Array;
		readonly tag: number;
		readonly secure: boolean;
	}[];
	readonly dmemWrites?: readonly { readonly offset: number; readonly bytes: Uint8Array }[];
	/** RISC-V core requests (booter starting the GSP). */
	readonly riscv?: RiscvRequest;
	/** Continue at this BOOTVEC instead of halting (a loader handing over to what it loaded). */
	readonly jump?: number;
	/** Simulated run time before the core halts; default 1 µs. */
	readonly runtimeNs?: bigint;
	/** One-line summary of what happened, kept in the falcon's run log. */
	readonly summary: string;
}

/** A ucode behaviour model. */
export interface FalconProgram {
	readonly name: string;
	run(execution: FalconExecution): FalconEffects;
}
