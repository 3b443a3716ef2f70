/**
 * `bootGsp`: from a reset GPU to a running GSP-RM core (hardware reference A.8, nova `Gsp::boot`).
 *
 * Stages: identify the chip → enable PCI memory decoding and bus mastering → wait for GFW boot → load and
 * check the firmware files → parse the VBIOS → compute the FB layout → FWSEC-FRTS (carves WPR2) → check
 * WPR2 → copy `.fwimage` into DMA memory and build radix3 → RISC-V bootloader and signature into DMA memory
 * → fill `GspFwWprMeta` through the ABI → LIBOS arguments and RMARGS → the `beforeGspStart` hook (where the
 * RPC layer places its queues) → reset the GSP into RISC-V with the LIBOS address in MAILBOX0/1 → run
 * `booter_load` on SEC2 with the WPR-meta address → check SEC2 MAILBOX0 → `app_version` to the GSP OS
 * register → wait for the RISC-V core to be active.
 *
 * The boot ends when the GSP core runs with the LIBOS arguments handed over; RPC initialisation is the RPC
 * layer's. Every failure is a {@link BootError} naming the stage and what the hardware said; on failure every
 * DMA buffer the boot allocated is freed.
 *
 * @module
 */

import type { FirmwareAbi } from '@gspkit/abi';
import {
	type Chip,
	type DmaAllocOptions,
	type DmaBuffer,
	GSP,
	hex,
	identifyChip,
	isGspkitError,
	MS,
	NV_PDISP_VGA_WORKSPACE_BASE,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK,
	NV_PGC6_AON_SECURE_SCRATCH_GROUP_42,
	NV_PMC_BOOT_0,
	NV_PMC_BOOT_42,
	type Platform,
	pollUntil,
	readWpr2,
	SEC,
	SEC2,
} from '@gspkit/hal';
import {
	type BootAbi,
	bootAbiOf,
	type DecodedWprMeta,
	GSP_FW_WPR_META_MAGIC,
	GSP_FW_WPR_META_REVISION,
	type RmArgsFields,
} from './boot-abi.ts';
import {
	BootError,
	BooterError,
	BootFirmwareError,
	type BootStage,
	BootStageError,
	ChipMismatchError,
	FalconError,
	FwsecError,
	GfwBootError,
	GspStartError,
	VbiosFormatError,
	Wpr2AlreadyUpError,
	WprMetaError,
	WrongChipBooterError,
} from './errors.ts';
import { Falcon } from './falcon.ts';
import { computeFbLayout, type FbLayout, type HeapParams } from './fb-layout.ts';
import { firmwareChip } from './firmware/chips.ts';
import { type GenBootloader, parseGenBootloader } from './firmware/gen-bootloader.ts';
import { type GspElf, type GspSignature, parseGspElf } from './firmware/gsp-elf.ts';
import { type HsFirmware, parseHsFirmware, selectBooterSignature } from './firmware/hs.ts';
import { readFirmwareFile } from './firmware/load.ts';
import type { FirmwareSet } from './firmware/locate.ts';
import { parseRiscvFirmware, type RiscvFirmware } from './firmware/riscv-desc.ts';
import { readFuseVersion } from './fuse.ts';
import { type FwsecResult, runFwsecFrts } from './fwsec.ts';
import { openGspImageFile } from './gsp-file.ts';
import { BOOTER_SIGNATURE_SIZE, type BootHal, bootHalFor } from './hal/index.ts';
import { allocLibos, EMPTY_RM_ARGS, type LibosBuffers, writeRmArgs } from './libos.ts';
import { loadRadix3Image, type Radix3Image, type Radix3ImageReader } from './radix3.ts';
import { readVbios, type Vbios } from './vbios.ts';
import { wprMetaFields } from './wpr-meta.ts';

/** Firmware files already in memory (e.g. synthetic firmware, or files read by the caller). */
export interface BootFirmwareFiles {
	/** `gsp-<ver>.bin`. */
	readonly gsp: Uint8Array;
	/** `bootloader-<ver>.bin`. */
	readonly bootloader: Uint8Array;
	/** `booter_load-<ver>.bin`. */
	readonly booterLoad: Uint8Array;
	/** `gen_bootloader-<ver>.bin` (or `acr/bl.bin`); required on TU10x and GA100. */
	readonly genBootloader?: Uint8Array;
	/** The chip the files are for (lower case, e.g. `'ga102'`); checked against the GPU when given. */
	readonly chip?: string;
	/** The firmware version; checked against the ABI when given (else `.fwversion` is used). */
	readonly version?: string;
}

/** A located firmware set (`locateFirmwareSet`) or in-memory files. */
export type BootFirmware = FirmwareSet | BootFirmwareFiles;

/** A progress report: the stage, what is happening, bytes for long copies, and time since the boot began. */
export interface BootProgress {
	readonly stage: BootStage;
	readonly detail: string;
	/** Bytes done so far (reading firmware, copying the image into DMA memory). */
	readonly bytesDone?: number;
	/** Bytes in total for the current step. */
	readonly bytesTotal?: number;
	/** Nanoseconds since `bootGsp` was called (on the timing clock, see {@link BootOptions.now}). */
	readonly elapsedNs: bigint;
}

/** DMA buffers the running GSP keeps using; release them only after the GSP is shut down. */
export interface BootBuffers {
	/** `.fwimage` in DMA memory and its radix3 tables. */
	readonly radix3: Radix3Image;
	/** The RISC-V bootloader payload. */
	readonly bootloader: DmaBuffer;
	/** This chip's `.fwsignature_*` section. */
	readonly signature: DmaBuffer;
	/** `GspFwWprMeta` (at offset 0). */
	readonly wprMeta: DmaBuffer;
	/** LIBOS arguments, logs and RMARGS. */
	readonly libos: LibosBuffers;
	/** Buffers the `beforeGspStart` hook allocated through its context. */
	readonly extra: readonly DmaBuffer[];
}

/** What the `beforeGspStart` hook gets: everything is in place except the GSP start itself. */
export interface BeforeGspStartContext {
	readonly platform: Platform;
	readonly chip: Chip;
	readonly abi: BootAbi;
	readonly layout: FbLayout;
	/** The buffers written so far (the hook may place data in them, e.g. RMARGS). */
	readonly buffers: BootBuffers;
	/** Overwrite RMARGS (`GSP_ARGUMENTS_CACHED`), e.g. with the message-queue arguments. */
	setRmArgs(fields: RmArgsFields): void;
	/** Allocate DMA memory owned by the boot result (kept alive while the GSP runs, freed on failure). */
	allocDma(size: number, options?: DmaAllocOptions): DmaBuffer;
}

/** Options of {@link bootGsp}. */
export interface BootOptions {
	/** The firmware to boot. */
	readonly firmware: BootFirmware;
	/** The firmware ABI matching the firmware version (an `@gspkit/abi-rNNN` ABI, or a {@link BootAbi}). */
	readonly abi: FirmwareAbi | BootAbi;
	/** The chip the caller expects (e.g. `'GA102'`); the boot fails if the GPU is another chip. */
	readonly chip?: string;
	/** Progress reports (stage changes, bytes while large files load and copy). */
	readonly onProgress?: (progress: BootProgress) => void;
	/**
	 * Called after LIBOS and RMARGS are written and before the GSP is reset into RISC-V: the RPC layer places
	 * its queues here and pre-queues `GSP_SET_SYSTEM_INFO`/`SET_REGISTRY`.
	 */
	readonly beforeGspStart?: (ctx: BeforeGspStartContext) => void | Promise<void>;
	/** WPR2 heap parameters or size (default: the HAL's r570 parameters). */
	readonly heap?: HeapParams | { readonly size: bigint };
	/** DMA chunk size for `.fwimage` (default 16 MiB). */
	readonly radix3ChunkSize?: number;
	/** Timing clock in nanoseconds for progress and timings (default `process.hrtime.bigint`). */
	readonly now?: () => bigint;
	/** How long to wait for the RISC-V core to become active (default 5 s, polled every 10 ms). */
	readonly gspStartTimeoutNs?: bigint;
}

/** One stage's duration. */
export interface BootTiming {
	readonly stage: BootStage;
	readonly durationNs: bigint;
}

/** The outcome of a successful boot. */
export interface BootResult {
	readonly chip: Chip;
	/** The boot HAL used. */
	readonly hal: BootHal['name'];
	/** Firmware version booted. */
	readonly firmwareVersion: string;
	/** ABI version used. */
	readonly abiVersion: string;
	readonly layout: FbLayout;
	/** What FWSEC-FRTS reported (`null` on GA100, where it is not run). */
	readonly fwsec: FwsecResult | null;
	/** WPR2 once the GSP runs (set up by FWSEC-FRTS, or by booter on GA100); `undefined` if not set. */
	readonly wpr2: { readonly start: bigint; readonly end: bigint } | undefined;
	/** The WPR meta as written (read back through the ABI after booter ran, so `verified` is booter's). */
	readonly wprMeta: DecodedWprMeta;
	/** The booter run. */
	readonly booter: {
		readonly mailbox0: number;
		readonly mailbox1: number;
		readonly signatureIndex: number | null;
	};
	/** `app_version` written to the GSP OS register. */
	readonly appVersion: number;
	/** DMA buffers kept alive for the running GSP. */
	readonly buffers: BootBuffers;
	/** Per-stage durations on the timing clock. */
	readonly timings: readonly BootTiming[];
	/** Total duration on the timing clock. */
	readonly totalNs: bigint;
	/** Free every kept DMA buffer. Only after the GSP no longer uses them (shutdown, or a failed init). */
	release(): void;
}

interface ParsedFirmware {
	readonly gsp: GspElf;
	/** The `.fwimage` bytes, or a reader that fills DMA memory straight from the file. */
	readonly image: Uint8Array | Radix3ImageReader;
	/** Release the GSP file (after the image is in DMA memory). */
	readonly close: () => Promise<void>;
	readonly bootloader: RiscvFirmware;
	readonly booter: HsFirmware;
	/** Where `booter` came from (path, or `<booter_load>`), for errors. */
	readonly booterFile: string;
	readonly genBootloader: GenBootloader | undefined;
	readonly version: string;
}

function isFirmwareSet(f: BootFirmware): f is FirmwareSet {
	return 'byKind' in f && 'files' in f;
}

const defaultNow = () => process.hrtime.bigint();

/** Timeouts of the boot stages (reference A.8). */
export const BOOT_TIMEOUTS = Object.freeze({
	/** GFW boot completion (nova waits up to 4 s). */
	gfwBootNs: 4000n * MS,
	/** RISC-V active after booter (nova: 10 ms polls for 5 s). */
	gspStartNs: 5n * SEC,
	gspStartPollNs: 10n * MS,
});

/**
 * Boot GSP-RM on `platform` (see the module comment for the stages).
 * @throws BootError (and subclasses) naming the stage and what the hardware reported.
 */
export async function bootGsp(platform: Platform, options: BootOptions): Promise<BootResult> {
	const now = options.now ?? defaultNow;
	const t0 = now();
	const timings: BootTiming[] = [];
	const owned: DmaBuffer[] = [];
	let closeFirmware: (() => Promise<void>) | undefined;
	const bar0 = platform.bar0;
	const clock = platform.clock;
	let stage: BootStage = 'identify';
	let stageStart = t0;
	const progress = (detail: string, extra: { bytesDone?: number; bytesTotal?: number } = {}) =>
		options.onProgress?.({ stage, detail, ...extra, elapsedNs: now() - t0 });
	const enter = (s: BootStage, detail: string) => {
		const t = now();
		if (s !== stage) timings.push({ stage, durationNs: t - stageStart });
		stage = s;
		stageStart = t;
		progress(detail);
	};
	const alloc = (size: number, opts: DmaAllocOptions): DmaBuffer => {
		const b = platform.dma.alloc(size, opts);
		owned.push(b);
		return b;
	};
	const releaseAll = () => {
		while (owned.length > 0) {
			const b = owned.pop() as DmaBuffer;
			try {
				platform.dma.free(b);
			} catch {
				// Already freed (e.g. by a release() the caller made); nothing else to do.
			}
		}
	};

	try {
		// 1. Identify.
		enter('identify', 'reading NV_PMC_BOOT_0/42');
		const chip = identifyChip(NV_PMC_BOOT_0.read(bar0).raw, NV_PMC_BOOT_42.read(bar0).raw);
		if (options.chip !== undefined && options.chip.toUpperCase() !== chip.name) {
			throw new ChipMismatchError(options.chip.toUpperCase(), chip.name);
		}
		const hal = bootHalFor(chip.info);
		const abi = bootAbiOf(options.abi);
		progress(`${chip.name} (${hex(chip.chipset, 3)}), boot HAL ${hal.name}, ABI ${abi.version}`);

		// 2. PCI: memory decoding and bus mastering (the falcons DMA from system memory).
		enter('pci', 'enabling memory decoding and bus mastering');
		const cmd = platform.config.read16(0x04);
		platform.config.write16(0x04, cmd | 0x2 | 0x4);

		// 3. GFW boot (VBIOS devinit) must be complete before FWSEC runs.
		enter('gfw-boot', 'waiting for GFW boot completion');
		await waitGfwBoot(platform);

		// 4. Firmware.
		enter('firmware', 'loading firmware files');
		const fw = await loadFirmware(options.firmware, hal, chip, (detail, done, total) =>
			progress(detail, { bytesDone: done, bytesTotal: total }),
		);
		closeFirmware = fw.close;
		if (fw.version !== abi.version) {
			throw new BootFirmwareError(`firmware ${fw.version} does not match the ${abi.version} ABI`, {
				firmwareVersion: fw.version,
				abiVersion: abi.version,
			});
		}
		const signature = chipSignature(fw.gsp, chip);
		checkBooterForHal(fw.booter, hal, fw.booterFile, 'firmware');
		progress(`GSP-RM ${fw.version}: image ${fw.gsp.image.size} bytes, signature ${signature.section}`);

		// 5. VBIOS.
		enter('vbios', 'reading the VBIOS through BAR0 0x300000');
		const vbios = readVbios(bar0);
		checkVbiosForHal(vbios, hal);
		progress(
			`${vbios.images.length} ROM images, FWSEC descriptor v${vbios.fwsec.desc.version}, ${vbios.fwsec.signatures.length} signature(s)`,
		);

		// 6. FB layout.
		enter('fb-layout', 'computing the FB layout');
		const fbSize = NV_PGC6_AON_SECURE_SCRATCH_GROUP_42.read(bar0).usableFbSizeBytes();
		const vga = hal.hasDisplay ? NV_PDISP_VGA_WORKSPACE_BASE.read(bar0).vgaWorkspaceAddress() : undefined;
		const layout = computeFbLayout({
			fbSize,
			vgaWorkspaceAddress: vga,
			bootloaderSize: BigInt(fw.bootloader.payload.length),
			elfSize: BigInt(fw.gsp.image.size),
			heap: options.heap ?? hal.heap,
			frtsSize: hal.frtsSize,
		});
		progress(
			`FB ${fbSize >> 20n} MiB, FRTS ${hex(layout.frts.start)}, WPR2 ${hex(layout.wpr2.start)}..${hex(layout.wpr2.end)}`,
		);

		// 7. FWSEC-FRTS (not on GA100, whose FRTS region is empty), refusing a GPU whose WPR2 is already up.
		enter(
			'fwsec',
			layout.frts.end > layout.frts.start
				? 'running FWSEC-FRTS on the GSP falcon'
				: 'FWSEC-FRTS skipped (empty FRTS region)',
		);
		const before = readWpr2(bar0);
		if (before !== undefined) throw new Wpr2AlreadyUpError(before.start, before.end, platform.pci.address);
		let fwsec: FwsecResult | null = null;
		if (layout.frts.end > layout.frts.start) {
			fwsec = await runFwsecFrts({
				bar0,
				clock,
				dma: platform.dma,
				variant: hal.falcon,
				ucode: vbios.fwsec,
				frts: { base: layout.frts.start, size: layout.frts.end - layout.frts.start },
				...(fw.genBootloader === undefined ? {} : { genBootloader: fw.genBootloader }),
				pciAddress: platform.pci.address,
			});

			// 8. WPR2.
			enter('wpr2', 'checking WPR2');
			const wpr2 = readWpr2(bar0);
			if (wpr2 === undefined || wpr2.start !== layout.frts.start) {
				throw new FwsecError('wpr2-mismatch', 'WPR2 changed after FWSEC-FRTS reported success', {
					wpr2Start: wpr2 === undefined ? 'unset' : hex(wpr2.start, 1),
					frtsBase: hex(layout.frts.start, 1),
				});
			}
			progress(`WPR2 ${hex(wpr2.start)}..${hex(wpr2.end)}`);
		}

		// 9. GSP image and radix3.
		enter('gsp-image', `copying .fwimage (${fw.gsp.image.size} bytes) into DMA memory`);
		const radix3 = await loadRadix3Image(platform.dma, fw.image, {
			...(options.radix3ChunkSize === undefined ? {} : { chunkSize: options.radix3ChunkSize }),
			onProgress:
				options.onProgress === undefined
					? undefined
					: async (done, total) => {
							progress('copying .fwimage into DMA memory', { bytesDone: done, bytesTotal: total });
							await new Promise<void>((resolve) => setImmediate(resolve));
						},
		} as Parameters<typeof loadRadix3Image>[2]);
		owned.push(radix3.table, ...radix3.chunks);
		await fw.close();
		closeFirmware = undefined;
		progress(`radix3: ${radix3.geometry.imagePages} pages, ${radix3.geometry.tablePages} table pages`);

		// 10. Bootloader and signature.
		enter('bootloader', 'copying the RISC-V bootloader and the signature into DMA memory');
		const blBuf = alloc(fw.bootloader.payload.length, { align: 4096, zero: true, label: 'gsp-bootloader' });
		blBuf.bytes.set(fw.bootloader.payload);
		const sigBuf = alloc(signature.data.length, { align: 4096, zero: true, label: 'gsp-signature' });
		sigBuf.bytes.set(signature.data);

		// 11. WPR meta.
		enter('wpr-meta', 'writing GspFwWprMeta');
		const desc = fw.bootloader.desc;
		const fields = wprMetaFields(layout, {
			radix3L0Address: radix3.l0Address,
			imageSize: BigInt(radix3.size),
			bootloaderAddress: blBuf.busAddress,
			bootloaderSize: BigInt(blBuf.size),
			bootloaderCodeOffset: desc.monitorCodeOffset,
			bootloaderDataOffset: desc.monitorDataOffset,
			bootloaderManifestOffset: desc.manifestOffset,
			signatureAddress: sigBuf.busAddress,
			signatureSize: BigInt(sigBuf.size),
		});
		const metaBuf = alloc(4096, { align: 4096, zero: true, label: 'gsp-wpr-meta' });
		abi.wprMeta.encode(fields, metaBuf.bytes, 0);
		checkWprMeta(abi, metaBuf, fields);

		// 12. LIBOS and RMARGS.
		enter('libos', 'writing the LIBOS arguments and RMARGS');
		const libos = allocLibos(platform.dma, abi);
		owned.push(libos.args, libos.logInit, libos.logIntr, libos.logRm, libos.rmArgs);
		writeRmArgs(abi, libos.rmArgs, EMPTY_RM_ARGS);
		const extra: DmaBuffer[] = [];
		const buffers: BootBuffers = {
			radix3,
			bootloader: blBuf,
			signature: sigBuf,
			wprMeta: metaBuf,
			libos,
			extra,
		};

		// 13. Hook: the RPC layer places its queues and pre-queued RPCs here.
		enter('before-gsp-start', options.beforeGspStart === undefined ? 'no hook' : 'running beforeGspStart');
		if (options.beforeGspStart !== undefined) {
			await options.beforeGspStart({
				platform,
				chip,
				abi,
				layout,
				buffers,
				setRmArgs: (f) => writeRmArgs(abi, libos.rmArgs, f),
				allocDma: (size, o = {}) => {
					const b = alloc(size, o);
					extra.push(b);
					return b;
				},
			});
		}

		// 14. GSP into RISC-V with the LIBOS arguments in its mailboxes.
		enter('gsp-reset', 'resetting the GSP into RISC-V');
		const gsp = new Falcon({ bar0, clock, engine: GSP, variant: hal.falcon, stage: 'gsp-reset' });
		await gsp.reset('riscv');
		gsp.writeMailboxes(Number(libos.args.busAddress & 0xffff_ffffn), Number(libos.args.busAddress >> 32n));

		// 15. booter_load on SEC2.
		enter('booter', 'running booter_load on SEC2');
		const booter = await runBooter(platform, hal, fw.booter, metaBuf.busAddress, fw.booterFile);

		// 16. app_version and RISC-V active.
		enter('gsp-start', 'waiting for the GSP RISC-V core');
		const appVersion = desc.appVersion >>> 0;
		GSP.regs.OS.write(bar0, appVersion);
		await waitRiscvActive(platform, gsp, options.gspStartTimeoutNs ?? BOOT_TIMEOUTS.gspStartNs, {
			appVersion,
			libosMailbox0: Number(libos.args.busAddress & 0xffff_ffffn),
		});
		const written = abi.wprMeta.decode(metaBuf.bytes, 0);
		const wpr2 = readWpr2(bar0);

		enter('done', `GSP-RM ${fw.version} running on ${chip.name}`);
		const kept = [...owned];
		owned.length = 0;
		let released = false;
		return {
			chip,
			hal: hal.name,
			firmwareVersion: fw.version,
			abiVersion: abi.version,
			layout,
			fwsec,
			wpr2,
			wprMeta: written,
			booter,
			appVersion,
			buffers,
			timings,
			totalNs: now() - t0,
			release() {
				if (released) return;
				released = true;
				for (const b of kept.reverse()) platform.dma.free(b);
			},
		};
	} catch (e) {
		releaseAll();
		await closeFirmware?.().catch(() => undefined);
		if (e instanceof BootError) throw e;
		if ((stage as BootStage) === 'firmware' && isGspkitError(e))
			throw new BootFirmwareError(e.message, { causeCode: e.code }, e);
		throw new BootStageError(stage, e);
	}
}

async function waitGfwBoot(platform: Platform): Promise<void> {
	const bar0 = platform.bar0;
	try {
		await pollUntil(
			platform.clock,
			() =>
				NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK.read(bar0).get('read_protection_level0') &&
				NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.read(bar0).completed(),
			(done) => done,
			{ timeoutNs: BOOT_TIMEOUTS.gfwBootNs, intervalNs: 1n * MS, what: 'GFW boot completion' },
		);
	} catch (e) {
		if (!isGspkitError(e, 'HAL_TIMEOUT')) throw e;
		const mask = NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK.read(bar0).raw;
		const progress = NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.read(bar0).raw;
		throw new GfwBootError(
			`GFW boot did not complete within ${BOOT_TIMEOUTS.gfwBootNs / MS} ms (PRIV_LEVEL_MASK ${hex(mask)}, GFW_BOOT ${hex(progress)})`,
			{ privLevelMask: hex(mask), gfwBoot: hex(progress) },
			e,
		);
	}
}

async function loadFirmware(
	firmware: BootFirmware,
	hal: BootHal,
	chip: Chip,
	onBytes: (detail: string, done: number, total: number) => void,
): Promise<ParsedFirmware> {
	let files: { bootloader: Uint8Array; booterLoad: Uint8Array; genBootloader?: Uint8Array };
	let names = {
		gsp: '<gsp>',
		bootloader: '<bootloader>',
		booterLoad: '<booter_load>',
		genBootloader: '<gen_bootloader>',
	};
	const fileChip = firmware.chip;
	const declaredVersion = firmware.version;
	if (fileChip !== undefined && fileChip.toLowerCase() !== chip.name.toLowerCase()) {
		throw new BootFirmwareError(
			`the firmware is for ${fileChip.toLowerCase()} but the GPU is a ${chip.name}: a file from the wrong chip`,
			{ firmwareChip: fileChip.toLowerCase(), gpuChip: chip.name },
		);
	}
	let gsp: GspElf;
	let image: Uint8Array | Radix3ImageReader;
	let close = async () => {};
	if (isFirmwareSet(firmware)) {
		const path = (k: 'gsp' | 'bootloader' | 'booter_load' | 'gen_bootloader') => firmware.byKind[k]?.path;
		const need = (k: 'gsp' | 'bootloader' | 'booter_load') => {
			const p = path(k);
			if (p === undefined) {
				throw new BootFirmwareError(`the firmware set for ${firmware.chip} ${firmware.version} has no ${k}`, {
					chip: firmware.chip,
					version: firmware.version,
					missing: k,
				});
			}
			return p;
		};
		const gspPath = need('gsp');
		names = {
			gsp: gspPath,
			bootloader: need('bootloader'),
			booterLoad: need('booter_load'),
			genBootloader: path('gen_bootloader') ?? '<gen_bootloader>',
		};
		// The container is parsed without reading .fwimage; the image is read straight into DMA memory later.
		const opened = await openGspImageFile(gspPath);
		gsp = opened.elf;
		image = opened.image;
		close = opened.close;
		try {
			onBytes(`opened ${gspPath}`, 0, opened.image.size);
			const [bootloader, booterLoad] = await Promise.all([
				readFirmwareFile(names.bootloader).then((f) => f.bytes),
				readFirmwareFile(names.booterLoad).then((f) => f.bytes),
			]);
			const genPath = path('gen_bootloader');
			files = {
				bootloader,
				booterLoad,
				...(genPath === undefined ? {} : { genBootloader: (await readFirmwareFile(genPath)).bytes }),
			};
		} catch (e) {
			await close();
			throw e;
		}
	} else {
		files = firmware;
		gsp = parseGspElf(firmware.gsp, names.gsp);
		image = gsp.image.data;
	}
	try {
		return { ...parseRest(gsp, files, names, hal, chip, declaredVersion), gsp, image, close };
	} catch (e) {
		await close();
		throw e;
	}
}

function parseRest(
	gsp: GspElf,
	files: { bootloader: Uint8Array; booterLoad: Uint8Array; genBootloader?: Uint8Array },
	names: { gsp: string; bootloader: string; booterLoad: string; genBootloader: string },
	hal: BootHal,
	chip: Chip,
	declaredVersion: string | undefined,
): Omit<ParsedFirmware, 'gsp' | 'image' | 'close'> {
	const bootloader = parseRiscvFirmware(files.bootloader, names.bootloader);
	const booter = parseHsFirmware(files.booterLoad, names.booterLoad);
	let genBootloader: GenBootloader | undefined;
	if (hal.needsGenBootloader) {
		if (files.genBootloader === undefined) {
			throw new BootFirmwareError(
				`${chip.name} loads FWSEC through the generic bootloader, but none was given`,
				{
					chip: chip.name,
					missing: 'gen_bootloader',
				},
			);
		}
		genBootloader = parseGenBootloader(files.genBootloader, names.genBootloader);
	}
	const version = declaredVersion ?? gsp.fwVersion?.text;
	if (version === undefined) {
		throw new BootFirmwareError(
			'the firmware version is unknown: no version given and the GSP image has no .fwversion',
			{
				file: names.gsp,
			},
		);
	}
	if (gsp.fwVersion !== null && gsp.fwVersion.text !== version) {
		throw new BootFirmwareError(`${names.gsp} holds GSP-RM ${gsp.fwVersion.text}, not ${version}`, {
			file: names.gsp,
			fwVersion: gsp.fwVersion.text,
			version,
		});
	}
	if ((booter.meta.engineIdMask & SEC2.engineIdMask) === 0) {
		throw new BootFirmwareError(
			`${names.booterLoad} is not a SEC2 ucode (engine_id_mask ${hex(booter.meta.engineIdMask, 1)})`,
			{
				file: names.booterLoad,
				engineIdMask: hex(booter.meta.engineIdMask, 1),
			},
		);
	}
	return { bootloader, booter, booterFile: names.booterLoad, genBootloader, version };
}

/** The chip's own (non-CC) signature section of the GSP image. */
function chipSignature(gsp: GspElf, chip: Chip): GspSignature {
	const family = firmwareChip(chip.name)?.signatureFamily;
	const sig = gsp.signatures.find((s) => !s.confidentialCompute && s.chipFamily === family);
	if (family === undefined || sig === undefined) {
		throw new BootFirmwareError(
			`the GSP image has no .fwsignature_${family ?? '?'} section for ${chip.name} (it has ${gsp.signatures.map((s) => s.family).join(', ')}): a file from the wrong chip`,
			{ chip: chip.name, family, available: gsp.signatures.map((s) => s.section) },
		);
	}
	return sig;
}

function checkVbiosForHal(vbios: Vbios, hal: BootHal): void {
	const v = vbios.fwsec.desc.version;
	if (v !== hal.fwsecDescriptorVersion) {
		throw new VbiosFormatError({
			field: 'FWSEC descriptor version',
			offset: vbios.fwsec.location.romOffset,
			expected: `v${hal.fwsecDescriptorVersion} on a ${hal.name} chip`,
			actual: `v${v}`,
		});
	}
}

function checkWprMeta(abi: BootAbi, buf: DmaBuffer, fields: ReturnType<typeof wprMetaFields>): void {
	const back = abi.wprMeta.decode(buf.bytes, 0);
	if (back.magic !== GSP_FW_WPR_META_MAGIC || back.revision !== GSP_FW_WPR_META_REVISION) {
		throw new WprMetaError(
			`the ${abi.version} ABI wrote GspFwWprMeta magic ${hex(back.magic)} revision ${back.revision}; booter expects magic ${hex(GSP_FW_WPR_META_MAGIC)} revision ${GSP_FW_WPR_META_REVISION}`,
			{ magic: hex(back.magic), revision: String(back.revision), abiMagic: hex(abi.wprMeta.magic) },
		);
	}
	for (const [k, v] of Object.entries(fields)) {
		const got = (back as unknown as Record<string, unknown>)[k];
		if (got !== undefined && BigInt(got as bigint | number) !== BigInt(v as bigint | number)) {
			throw new WprMetaError(`GspFwWprMeta.${k} reads back as ${String(got)}, not ${String(v)}`, {
				field: k,
			});
		}
	}
}

/**
 * Refuse a booter whose signatures are not the kind the HAL's SEC2 boot ROM checks (a booter from another
 * chip generation). Unsigned images (no signatures) are left to the boot ROM.
 * @throws WrongChipBooterError naming the file, the kind expected and the kind found.
 */
export function checkBooterForHal(
	booter: HsFirmware,
	hal: BootHal,
	file: string,
	stage: BootStage = 'booter',
): void {
	if (booter.numSignatures === 0) return;
	const want = hal.booterSignature;
	if (booter.signatureSize === BOOTER_SIGNATURE_SIZE[want]) return;
	const kind = (size: number) =>
		size === BOOTER_SIGNATURE_SIZE.AES
			? 'AES-128 (16-byte)'
			: size === BOOTER_SIGNATURE_SIZE.RSA3K
				? 'RSA-3K (384-byte)'
				: `${size}-byte`;
	const chipsFor = (size: number) =>
		size === BOOTER_SIGNATURE_SIZE.AES
			? 'TU10x'
			: size === BOOTER_SIGNATURE_SIZE.RSA3K
				? 'GA100/GA10x/AD10x'
				: 'unknown-chip';
	throw new WrongChipBooterError(stage, {
		file,
		hal: hal.name,
		expected: kind(BOOTER_SIGNATURE_SIZE[want]),
		found: kind(booter.signatureSize),
		foundChips: chipsFor(booter.signatureSize),
	});
}

async function runBooter(
	platform: Platform,
	hal: BootHal,
	booter: HsFirmware,
	wprMetaAddress: bigint,
	file: string,
): Promise<BootResult['booter']> {
	return runSec2Booter(platform, hal, booter, {
		name: 'booter_load',
		file,
		mailbox0: Number(wprMetaAddress & 0xffff_ffffn),
		mailbox1: Number(wprMetaAddress >> 32n),
		details: { wprMeta: hex(wprMetaAddress, 1) },
	});
}

/** Which booter image {@link runSec2Booter} runs and what it hands it in the SEC2 mailboxes. */
export interface Sec2BooterRun {
	/** `booter_load` (mailboxes = the WPR-meta address) or `booter_unload` (nouveau passes 0xff/0xff). */
	readonly name: 'booter_load' | 'booter_unload';
	readonly mailbox0: number;
	readonly mailbox1: number;
	/** The file the image came from, for errors (default the `name`). */
	readonly file?: string;
	/** Extra facts for the error a failed run throws. */
	readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Run an HS booter image (`booter_load`, `booter_unload`) on SEC2: check that its signature kind is the
 * HAL's (else it is a booter from another chip), patch in the signature for SEC2's fuse version, load it the
 * way the boot HAL says (DMA on GA10x+, PIO of the non-secure code and secure app 0 on TU10x/GA100), program
 * the boot ROM, start it with the given mailboxes and require MAILBOX0 = 0.
 * @throws WrongChipBooterError before touching SEC2 when the signature kind does not fit the HAL;
 *   BooterError naming the fuse version (no signature for it) or the mailboxes (the run failed).
 */
export async function runSec2Booter(
	platform: Platform,
	hal: BootHal,
	booter: HsFirmware,
	run: Sec2BooterRun,
): Promise<BootResult['booter']> {
	checkBooterForHal(booter, hal, run.file ?? run.name, 'booter');
	const bar0 = platform.bar0;
	const sec2 = new Falcon({
		bar0,
		clock: platform.clock,
		engine: SEC2,
		variant: hal.falcon,
		stage: 'booter',
	});
	const regFuse = readFuseVersion(bar0, booter.meta.engineIdMask, booter.meta.ucodeId, 'booter', run.name);
	let sig: ReturnType<typeof selectBooterSignature>;
	try {
		sig = selectBooterSignature(booter, regFuse);
	} catch (e) {
		throw new BooterError(`${run.name} has no signature for SEC2 fuse version ${regFuse}`, {
			regFuseVersion: regFuse,
			fuseVer: booter.meta.fuseVer,
			numSignatures: booter.numSignatures,
			reason: e instanceof Error ? e.message : String(e),
		});
	}
	const app0 = booter.load.apps[0];
	if (app0 === undefined) throw new BooterError(`${run.name} has no application`, {});
	const payload = booter.payload;
	const size = Math.ceil((payload.length + 256) / 256) * 256;
	const buf = platform.dma.alloc(size, { align: 4096, zero: true, label: run.name.replace('_', '-') });
	try {
		buf.bytes.set(payload);
		if (sig !== null) buf.bytes.set(sig.bytes, sig.patchLocation);
		await sec2.reset('falcon');
		const load = booter.load;
		let bootVector: number;
		if (hal.booterLoad === 'dma') {
			await sec2.dmaLoad(buf, [
				{ target: 'imem', secure: true, srcOffset: app0.offset, dst: 0, length: app0.size },
				{ target: 'dmem', secure: false, srcOffset: load.osDataOffset, dst: 0, length: load.osDataSize },
			]);
			bootVector = app0.offset;
		} else {
			const img = buf.bytes;
			sec2.setupPhysicalDma(0);
			sec2.pioWriteImem(
				load.osCodeOffset,
				img.subarray(load.osCodeOffset, load.osCodeOffset + load.osCodeSize),
				{
					tag: load.osCodeOffset >> 8,
				},
			);
			sec2.pioWriteImem(app0.offset, img.subarray(app0.offset, app0.offset + app0.size), {
				tag: app0.offset >> 8,
				secure: true,
			});
			sec2.pioWriteDmem(0, img.subarray(load.osDataOffset, load.osDataOffset + load.osDataSize));
			bootVector = load.osCodeOffset;
		}
		sec2.programBrom({
			pkcDataOffset: booter.brom.pkcDataOffset,
			engineIdMask: booter.brom.engineIdMask,
			ucodeId: booter.brom.ucodeId,
			algorithm: hal.booterSignature,
		});
		sec2.setBootVector(bootVector);
		const m = await sec2.boot(run.mailbox0, run.mailbox1);
		if (m.mailbox0 !== 0) {
			throw new BooterError(
				`SEC2 MAILBOX0 = ${hex(m.mailbox0)} after ${run.name} halted (0 = success; MAILBOX1 = ${hex(m.mailbox1)})`,
				{
					mailbox0: hex(m.mailbox0),
					mailbox1: hex(m.mailbox1),
					...run.details,
					signatureIndex: sig?.index ?? null,
				},
				m.mailbox0,
			);
		}
		return { ...m, signatureIndex: sig?.index ?? null };
	} finally {
		platform.dma.free(buf);
	}
}

/**
 * Wait for the GSP RISC-V core to report active. A core that is not active while GSP MAILBOX0 no longer holds
 * the LIBOS address the CPU left there has stopped with an error code: the GSP refused the handoff (e.g. the
 * `app_version` in its OS register), so the wait ends at once instead of at the timeout.
 */
async function waitRiscvActive(
	platform: Platform,
	gsp: Falcon,
	timeoutNs: bigint,
	handoff: { readonly appVersion: number; readonly libosMailbox0: number },
): Promise<void> {
	const sec2Mailboxes = () =>
		new Falcon({
			bar0: platform.bar0,
			clock: platform.clock,
			engine: SEC2,
			variant: gsp.variant,
			stage: 'gsp-start',
		}).readMailboxes();
	let state: { active: boolean; mailbox0: number };
	try {
		state = await pollUntil(
			platform.clock,
			() => ({ active: gsp.riscvActive(), mailbox0: gsp.readMailboxes().mailbox0 }),
			(v) => v.active || v.mailbox0 !== handoff.libosMailbox0 >>> 0,
			{
				timeoutNs,
				intervalNs: BOOT_TIMEOUTS.gspStartPollNs,
				what: 'GSP RISC-V ACTIVE_STAT',
			},
		);
	} catch (e) {
		if (!isGspkitError(e, 'HAL_TIMEOUT') && !(e instanceof FalconError)) throw e;
		const g = gsp.readMailboxes();
		const s = sec2Mailboxes();
		throw new GspStartError(
			`the GSP RISC-V core is not active ${timeoutNs / MS} ms after booter (GSP MAILBOX0=${hex(g.mailbox0)}, SEC2 MAILBOX0=${hex(s.mailbox0)})`,
			{
				gspMailbox0: hex(g.mailbox0),
				gspMailbox1: hex(g.mailbox1),
				sec2Mailbox0: hex(s.mailbox0),
				sec2Mailbox1: hex(s.mailbox1),
				appVersion: hex(handoff.appVersion),
			},
			e,
		);
	}
	if (state.active) return;
	const g = gsp.readMailboxes();
	const s = sec2Mailboxes();
	throw new GspStartError(
		`the GSP core stopped after app_version ${hex(handoff.appVersion)} was written to its OS register: ` +
			`GSP MAILBOX0 = ${hex(g.mailbox0)} (it held the LIBOS address low word ${hex(handoff.libosMailbox0)}); ` +
			'the GSP refused the handoff — is the bootloader file the one booter verified?',
		{
			gspMailbox0: hex(g.mailbox0),
			gspMailbox1: hex(g.mailbox1),
			sec2Mailbox0: hex(s.mailbox0),
			sec2Mailbox1: hex(s.mailbox1),
			appVersion: hex(handoff.appVersion),
			libosMailbox0: hex(handoff.libosMailbox0),
		},
		undefined,
		'EIO',
	);
}
