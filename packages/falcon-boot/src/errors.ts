/**
 * Typed errors of the boot path (VBIOS, FWSEC, falcon loading, FB layout, radix3, WPR meta, booter).
 *
 * Every error names the {@link BootStage} it happened in and, where the hardware answered, what it said
 * (mailbox values, scratch codes, WPR2 registers) in `details`, so a failed boot is diagnosable from the
 * error alone. All derive from {@link BootError}, itself a `GspkitError` from `@gspkit/hal`.
 *
 * @module
 */

import { type Errno, GspkitError, hex } from '@gspkit/hal';

/** The stages of {@link bootGsp}, in the order they run. */
export const BOOT_STAGES = [
	'identify',
	'pci',
	'gfw-boot',
	'firmware',
	'vbios',
	'fb-layout',
	'fwsec',
	'wpr2',
	'gsp-image',
	'bootloader',
	'wpr-meta',
	'libos',
	'before-gsp-start',
	'gsp-reset',
	'booter',
	'gsp-start',
	'done',
] as const;

/** One stage of the boot. */
export type BootStage = (typeof BOOT_STAGES)[number];

/** Stable error codes of the boot path. */
export const BOOT_ERROR_CODES = [
	'BOOT_VBIOS_FORMAT',
	'BOOT_UCODE_FORMAT',
	'BOOT_WPR2_ALREADY_UP',
	'BOOT_FALCON',
	'BOOT_FWSEC',
	'BOOT_FWSEC_SIGNATURE',
	'BOOT_BOOTER',
	'BOOT_GSP_START',
	'BOOT_RADIX3',
	'BOOT_WPR_META',
	'BOOT_FB_LAYOUT',
	'BOOT_FIRMWARE',
	'BOOT_ABI',
	'BOOT_UNSUPPORTED',
	'BOOT_CHIP_MISMATCH',
	'BOOT_GFW',
	'BOOT_STAGE',
	'BOOT_PCI_RESET',
] as const;

/** One of {@link BOOT_ERROR_CODES}. */
export type BootErrorCode = (typeof BOOT_ERROR_CODES)[number];

/** Base class of every boot error: a stable code, the stage, an errno and structured details. */
export class BootError extends GspkitError {
	declare readonly code: BootErrorCode;
	/** The boot stage that failed. */
	readonly stage: BootStage;

	constructor(
		code: BootErrorCode,
		stage: BootStage,
		message: string,
		errno: Errno,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super(code, `[${stage}] ${message}`, {
			errno,
			details: { stage, ...details },
			...(cause === undefined ? {} : { cause }),
		});
		this.stage = stage;
	}
}

/** Whether `e` is a {@link BootError} (optionally with the given code). */
export function isBootError(e: unknown, code?: BootErrorCode): e is BootError {
	return e instanceof BootError && (code === undefined || e.code === code);
}

/** Where a {@link VbiosFormatError} happened and what was wrong. */
export interface VbiosFormatDetails {
	/** Structure field, e.g. `'PCIR.signature'` or `'BIT token 0x70.data_offset'`. */
	readonly field: string;
	/** Byte offset of the field in the ROM image (from BAR0 0x300000). */
	readonly offset: number;
	/** What a valid ROM has there. */
	readonly expected: string;
	/** What this ROM has there. */
	readonly actual: string;
}

/**
 * The VBIOS ROM does not have the expected structure. Code `BOOT_VBIOS_FORMAT`, errno `EIO` (the ROM is
 * hardware-provided). `details` is a {@link VbiosFormatDetails}.
 */
export class VbiosFormatError extends BootError {
	/** The offending field. */
	readonly field: string;
	/** Its byte offset in the ROM. */
	readonly offset: number;

	constructor(d: VbiosFormatDetails) {
		super(
			'BOOT_VBIOS_FORMAT',
			'vbios',
			`VBIOS ${d.field} at ROM offset ${hex(d.offset, 1)}: expected ${d.expected}, found ${d.actual}`,
			'EIO',
			{ ...d },
		);
		this.field = d.field;
		this.offset = d.offset;
	}
}

/**
 * A falcon ucode image (FWSEC from the VBIOS, or booter) cannot be patched or loaded as described: a
 * table it points at lies outside the image, an interface table has an unknown version, …
 * Code `BOOT_UCODE_FORMAT`, errno `EIO`. `details` names the field and its offset in the ucode image.
 */
export class UcodeFormatError extends BootError {
	/** The offending field. */
	readonly field: string;
	/** Its byte offset in the ucode image. */
	readonly offset: number;

	constructor(
		stage: BootStage,
		what: string,
		d: { field: string; offset: number; expected: string; actual: string },
	) {
		super(
			'BOOT_UCODE_FORMAT',
			stage,
			`${what}: ${d.field} at image offset ${hex(d.offset, 1)}: expected ${d.expected}, found ${d.actual}`,
			'EIO',
			{ ucode: what, ...d },
		);
		this.field = d.field;
		this.offset = d.offset;
	}
}

/** The ways to get a GPU whose WPR2 is up bootable again, as {@link Wpr2AlreadyUpError} lists them. */
export const WPR2_RESET_PATHS = [
	'pci-function-level-reset',
	'booter-unload',
	'secondary-bus-reset',
	'power-cycle',
] as const;

/**
 * WPR2 is already set up before FWSEC-FRTS ran: the GPU was booted before (GSP-RM ran, or a previous boot
 * failed half-way) and has not been reset since, so FWSEC cannot carve WPR2 again.
 * Code `BOOT_WPR2_ALREADY_UP`, errno `EBUSY` (nova returns EBUSY here).
 *
 * Reset paths ({@link WPR2_RESET_PATHS}), then boot again:
 * - a PCI function-level reset through the platform: {@link resetPciFunction} (PCIe Initiate FLR in
 *   configuration space, which the simulated GPU honours too), or on a Linux host
 *   `echo 1 > /sys/bus/pci/devices/<addr>/reset` (what tinygrad does);
 * - tearing WPR2 down with `booter_unload` on SEC2 — {@link runSec2Booter} with `name: 'booter_unload'` and
 *   mailboxes 0xff/0xff after resetting the GSP falcon; `@gspkit/core`'s `Device.reset()` and `Device.close()`
 *   do this;
 * - a secondary bus reset or a power cycle.
 */
export class Wpr2AlreadyUpError extends BootError {
	/** WPR2 start (inclusive) as read from `NV_PFB_PRI_MMU_WPR2_ADDR_LO`. */
	readonly wpr2Start: bigint;
	/** WPR2 end (exclusive) as read from `NV_PFB_PRI_MMU_WPR2_ADDR_HI`. */
	readonly wpr2End: bigint;

	constructor(wpr2Start: bigint, wpr2End: bigint, pciAddress: string) {
		super(
			'BOOT_WPR2_ALREADY_UP',
			'fwsec',
			`WPR2 is already up (${hex(wpr2Start, 1)}..${hex(wpr2End, 1)}) before FWSEC-FRTS ran: the GPU was booted ` +
				`before and not reset since. Reset it and boot again: a PCI function-level reset through the platform ` +
				`(resetPciFunction(platform), or \`echo 1 > /sys/bus/pci/devices/${pciAddress}/reset\` on Linux), or ` +
				`booter_unload on SEC2 (what @gspkit/core's Device.reset() and close() run).`,
			'EBUSY',
			{
				wpr2Start: hex(wpr2Start, 1),
				wpr2End: hex(wpr2End, 1),
				resetPath: [...WPR2_RESET_PATHS],
				pciAddress,
			},
		);
		this.wpr2Start = wpr2Start;
		this.wpr2End = wpr2End;
	}
}

/**
 * A falcon did not do what a load/run step expected (a poll timed out, DMA never went idle, the core never
 * halted). Code `BOOT_FALCON`, errno `ETIMEDOUT` or `EIO`. `details.engine` names the falcon.
 */
export class FalconError extends BootError {
	/** `'GSP'` or `'SEC2'`. */
	readonly engine: string;

	constructor(
		stage: BootStage,
		engine: string,
		message: string,
		errno: Errno,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super('BOOT_FALCON', stage, `${engine} falcon: ${message}`, errno, { engine, ...details }, cause);
		this.engine = engine;
	}
}

/** Why FWSEC-FRTS was judged to have failed. */
export type FwsecFailure = 'mailbox' | 'frts-error' | 'wpr2-not-set' | 'wpr2-mismatch';

/**
 * FWSEC-FRTS ran but did not carve WPR2 as asked. Code `BOOT_FWSEC`, errno `EIO`. `details` holds
 * what the hardware said: `mailbox0`, `frtsErrorCode` (`NV_PBUS_SW_SCRATCH[0xe]` bits 31:16), `wpr2Lo`,
 * `wpr2Hi` and the FRTS region that was asked for.
 */
export class FwsecError extends BootError {
	/** Which check failed. */
	readonly failure: FwsecFailure;

	constructor(failure: FwsecFailure, message: string, details: Readonly<Record<string, unknown>>) {
		super('BOOT_FWSEC', 'fwsec', `FWSEC-FRTS failed (${failure}): ${message}`, 'EIO', {
			failure,
			...details,
		});
		this.failure = failure;
	}
}

/**
 * No FWSEC signature matches the fuse version the chip reports (reference A.5: `signature_versions` must
 * contain bit `1 << fuseVersion`). Code `BOOT_FWSEC_SIGNATURE`, errno `EINVAL`.
 */
export class FwsecSignatureError extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>) {
		super('BOOT_FWSEC_SIGNATURE', 'fwsec', message, 'EINVAL', details);
	}
}

/**
 * `booter_load` on SEC2 failed: SEC2 `MAILBOX0` is non-zero after it halted (the booter's error code), or
 * the booter files do not fit the chip. Code `BOOT_BOOTER`, errno `EIO`.
 */
export class BooterError extends BootError {
	/** SEC2 MAILBOX0 after the run, when it ran. */
	readonly mailbox0: number | undefined;

	constructor(message: string, details: Readonly<Record<string, unknown>>, mailbox0?: number) {
		super('BOOT_BOOTER', 'booter', message, 'EIO', details);
		this.mailbox0 = mailbox0;
	}
}

/**
 * The GSP RISC-V core did not become active after booter handed over (errno `ETIMEDOUT`), or it stopped
 * with an error code in GSP MAILBOX0 once `app_version` was written to its OS register — the GSP refused
 * the handoff (errno `EIO`). Code `BOOT_GSP_START`. `details` carries the GSP and SEC2 mailboxes and the
 * `app_version` written.
 */
export class GspStartError extends BootError {
	constructor(
		message: string,
		details: Readonly<Record<string, unknown>>,
		cause?: unknown,
		errno: Errno = 'ETIMEDOUT',
	) {
		super('BOOT_GSP_START', 'gsp-start', message, errno, details, cause);
	}
}

/** A radix3 table is malformed or does not describe the image. Code `BOOT_RADIX3`, errno `EINVAL`. */
export class Radix3Error extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>) {
		super('BOOT_RADIX3', 'gsp-image', message, 'EINVAL', details);
	}
}

/** The `GspFwWprMeta` written through the ABI is not what the booter expects. Code `BOOT_WPR_META`, errno `EINVAL`. */
export class WprMetaError extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>) {
		super('BOOT_WPR_META', 'wpr-meta', message, 'EINVAL', details);
	}
}

/** The FB layout does not fit the frame buffer (or inputs are invalid). Code `BOOT_FB_LAYOUT`, errno `ENOSPC`/`EINVAL`. */
export class FbLayoutError extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>, errno: Errno = 'ENOSPC') {
		super('BOOT_FB_LAYOUT', 'fb-layout', message, errno, details);
	}
}

/**
 * The firmware handed to the boot does not fit the chip: a file for another chip, a GSP image without
 * this chip's signature section, a missing `gen_bootloader` on Turing. Code `BOOT_FIRMWARE`, errno `EINVAL`.
 * The stage is `firmware` unless a later stage found the mismatch (a booter handed to {@link runSec2Booter}).
 */
export class BootFirmwareError extends BootError {
	constructor(
		message: string,
		details: Readonly<Record<string, unknown>>,
		cause?: unknown,
		stage: BootStage = 'firmware',
	) {
		super('BOOT_FIRMWARE', stage, message, 'EINVAL', details, cause);
	}
}

/**
 * A booter (`booter_load`, `booter_unload`) from the wrong chip: its signatures are not the kind the boot
 * HAL's SEC2 boot ROM checks — AES-128 (16-byte) on TU10x, RSA-3K (384-byte) on GA100/GA10x/AD10x. Found
 * before anything is loaded, instead of the boot ROM's opaque refusal. Code `BOOT_FIRMWARE`, errno `EINVAL`.
 */
export class WrongChipBooterError extends BootFirmwareError {
	/** The booter file (path, or `<booter_load>` for in-memory files). */
	readonly file: string;
	/** The signature kind the HAL needs, e.g. `'RSA-3K (384-byte)'`. */
	readonly expected: string;
	/** The signature kind the file has, e.g. `'AES-128 (16-byte)'`. */
	readonly found: string;

	constructor(
		stage: BootStage,
		d: { file: string; hal: string; expected: string; found: string; foundChips: string },
	) {
		super(
			`${d.file} is a booter from the wrong chip: the ${d.hal} boot HAL's SEC2 checks ${d.expected} signatures, ` +
				`the file has ${d.found} signatures (a ${d.foundChips} booter)`,
			{ ...d },
			undefined,
			stage,
		);
		this.file = d.file;
		this.expected = d.expected;
		this.found = d.found;
	}
}

/** The firmware ABI lacks something the boot needs (a layout, a field). Code `BOOT_ABI`, errno `EINVAL`. */
export class BootAbiError extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>, cause?: unknown) {
		super('BOOT_ABI', 'wpr-meta', message, 'EINVAL', details, cause);
	}
}

/**
 * The chip is known but gspkit cannot boot it yet (Hopper and Blackwell start GSP-RM through the FSP
 * chain of trust, not SEC2 booter). Code `BOOT_UNSUPPORTED`, errno `EOPNOTSUPP`.
 */
export class BootUnsupportedError extends BootError {
	constructor(chip: string, reason: string) {
		super('BOOT_UNSUPPORTED', 'identify', `${chip}: not supported yet (${reason})`, 'EOPNOTSUPP', {
			chip,
			reason,
		});
	}
}

/** The chip named in the options is not the chip the registers report. Code `BOOT_CHIP_MISMATCH`, errno `ENODEV`. */
export class ChipMismatchError extends BootError {
	constructor(expected: string, actual: string) {
		super(
			'BOOT_CHIP_MISMATCH',
			'identify',
			`the options name chip ${expected} but the GPU is a ${actual}`,
			'ENODEV',
			{
				expected,
				actual,
			},
		);
	}
}

/**
 * A stage failed because of an error from below the boot path (a DMA allocation, a parser, the platform).
 * Code `BOOT_STAGE`; the errno is the cause's (or `EIO`); `details.causeCode` is the cause's code and the
 * original error is the `cause`.
 */
export class BootStageError extends BootError {
	constructor(stage: BootStage, cause: unknown) {
		const c = cause as { code?: unknown; errno?: unknown; message?: unknown };
		const errno = (typeof c?.errno === 'string' ? c.errno : 'EIO') as Errno;
		super(
			'BOOT_STAGE',
			stage,
			cause instanceof Error ? cause.message : String(cause),
			errno,
			{ causeCode: typeof c?.code === 'string' ? c.code : undefined },
			cause,
		);
	}
}

/**
 * A PCI function-level reset could not be done: the function is not FLR-capable (errno `EOPNOTSUPP`), or it
 * did not answer configuration reads again in time (errno `ETIMEDOUT`). Code `BOOT_PCI_RESET`, stage `pci`.
 */
export class PciResetError extends BootError {
	constructor(
		message: string,
		errno: Errno,
		details: Readonly<Record<string, unknown>> = {},
		cause?: unknown,
	) {
		super('BOOT_PCI_RESET', 'pci', message, errno, details, cause);
	}
}

/** GFW (VBIOS devinit) did not report completion. Code `BOOT_GFW`, errno `ETIMEDOUT`. */
export class GfwBootError extends BootError {
	constructor(message: string, details: Readonly<Record<string, unknown>>, cause?: unknown) {
		super('BOOT_GFW', 'gfw-boot', message, 'ETIMEDOUT', details, cause);
	}
}
