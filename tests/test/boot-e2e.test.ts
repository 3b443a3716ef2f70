/**
 * End-to-end GSP boot: @gspkit/falcon-boot against the independently written boot hardware of
 * @gspkit/gpu-sim (falcons, VBIOS, FWSEC-FRTS and booter models). Synthetic firmware always; the published
 * firmware files too when the project cache (or GSPKIT_FIRMWARE_PATH) has them.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FirmwareAbi } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import {
	BOOT_STAGES,
	type BootAbi,
	BooterError,
	BootFirmwareError,
	type BootFirmwareFiles,
	type BootProgress,
	BootUnsupportedError,
	bootAbiFromManifest,
	bootAbiOf,
	bootGsp,
	ChipMismatchError,
	FwsecSignatureError,
	firmwareSearchRoots,
	GspStartError,
	isBootError,
	locateFirmwareSet,
	parseGspElf,
	parseRiscvFirmware,
	readVbios,
	resetPciFunction,
	type Vbios,
	WPR2_RESET_PATHS,
	Wpr2AlreadyUpError,
	WprMetaError,
	WrongChipBooterError,
} from '@gspkit/falcon-boot';
import {
	BOOTER_ERROR,
	BROM_ERROR,
	bootCodeName,
	createSimulatedGpu,
	GSP_HANDOFF_ERROR,
	syntheticFirmware,
} from '@gspkit/gpu-sim';
import { readWpr2 } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';

const VERSIONS = ['535.113.01', '570.144'] as const;
type Version = (typeof VERSIONS)[number];

/** The firmware ABI packages, as an application hands them to the boot. */
const ABIS: Readonly<Record<Version, FirmwareAbi>> = { '535.113.01': r535, '570.144': r570 };
function abiFor(version: Version): FirmwareAbi {
	return ABIS[version];
}

/** The boot ABI derived from an ABI package's layout manifest only (the fallback path of `bootAbiOf`). */
function manifestAbi(version: Version): BootAbi {
	return bootAbiFromManifest(ABIS[version].manifest, version);
}

function synthetic(chip: string, version: Version): BootFirmwareFiles {
	const set = syntheticFirmware(chip, version);
	const f = (k: string) => {
		const b = set.files.get(k);
		if (b === undefined) throw new Error(`synthetic ${chip} ${version} lacks ${k}`);
		return b;
	};
	const gen = set.files.get(`gsp/gen_bootloader-${version}.bin`) ?? set.files.get('acr/bl.bin');
	return {
		gsp: f(`gsp/gsp-${version}.bin`),
		bootloader: f(`gsp/bootloader-${version}.bin`),
		booterLoad: f(`gsp/booter_load-${version}.bin`),
		...(gen === undefined ? {} : { genBootloader: gen }),
		chip,
		version,
	};
}

async function bootError(
	p: Promise<unknown>,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
	try {
		await p;
	} catch (e) {
		return e as Error;
	}
	throw new Error('the boot succeeded but was expected to fail');
}

describe('boot on the simulated GPU with synthetic firmware', () => {
	const cases = ['ga102', 'tu102', 'ad102', 'ga100'].flatMap((chip) =>
		VERSIONS.map((v) => [chip, v] as const),
	);

	it.each(cases)(
		'%s with %s: GSP RISC-V runs with the LIBOS arguments handed over',
		async (chip, version) => {
			const gpu = createSimulatedGpu({ chip });
			const inUse = gpu.dma.bytesInUse;
			const events: BootProgress[] = [];
			const r = await bootGsp(gpu, {
				firmware: synthetic(chip, version),
				abi: abiFor(version),
				chip,
				onProgress: (e) => events.push(e),
			});
			expect(r.chip.name).toBe(chip.toUpperCase());
			expect(r.hal).toBe(chip === 'tu102' ? 'tu10x' : chip === 'ga100' ? 'ga100' : 'ga10x');
			expect(r.firmwareVersion).toBe(version);
			// Booter verified the image and started the GSP core with our arguments.
			expect(r.wprMeta.verified).toBe(0xa0a0a0a0a0a0a0a0n);
			const start = gpu.boot.lastGspStart;
			expect(start?.libosArgsAddress).toBe(r.buffers.libos.args.busAddress);
			expect(start?.wprMetaAddress).toBe(r.buffers.wprMeta.busAddress);
			// What booter read from our GspFwWprMeta, field by field.
			expect(start?.wprMeta.sysmemAddrOfRadix3Elf).toBe(r.buffers.radix3.l0Address);
			expect(start?.wprMeta.sizeOfRadix3Elf).toBe(BigInt(r.buffers.radix3.size));
			expect(start?.wprMeta.frtsOffset).toBe(r.layout.frts.start);
			expect(start?.wprMeta.gspFwWprStart).toBe(r.layout.wpr2.start);
			expect(start?.wprMeta.sysmemAddrOfSignature).toBe(r.buffers.signature.busAddress);
			// The app_version handshake: the OS register holds the bootloader's app_version and GSP-RM took over.
			expect(r.appVersion).toBe(version === '570.144' ? 0x5701_4400 : 0x5351_1301);
			expect(gpu.bar0.read32(0x110080)).toBe(r.appVersion);
			expect(start?.bootloader.appVersion).toBe(r.appVersion);
			expect(gpu.boot.handoffFailure).toBeUndefined();
			expect(gpu.gspRm.phase).not.toBe('off');
			// WPR2 is up: from FWSEC-FRTS (FRTS base) or, on GA100, from booter.
			expect(r.wpr2).toBeDefined();
			if (chip !== 'ga100') {
				expect(r.fwsec?.wpr2.start).toBe(r.layout.frts.start);
				expect(r.wpr2?.start).toBe(r.layout.frts.start);
			} else {
				expect(r.fwsec).toBeNull();
			}
			// Stages were reported in order, and every stage but `wpr2` (skipped on GA100) appeared.
			const seen = [...new Set(events.map((e) => e.stage))];
			const expected = BOOT_STAGES.filter((s) => !(chip === 'ga100' && s === 'wpr2'));
			expect(seen).toEqual(expected);
			const copy = events.filter((e) => e.stage === 'gsp-image' && e.bytesTotal !== undefined);
			expect(copy.at(-1)?.bytesDone).toBe(copy.at(-1)?.bytesTotal);
			expect(r.timings.map((t) => t.stage)).toEqual(expected.slice(0, -1));
			// The kept buffers are live until released; release frees exactly them.
			expect(gpu.dma.bytesInUse).toBeGreaterThan(inUse);
			r.release();
			expect(gpu.dma.bytesInUse).toBe(inUse);
			await gpu.close();
		},
	);

	it('the beforeGspStart hook places data the GSP sees and keeps its allocations alive', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const r = await bootGsp(gpu, {
			firmware: synthetic('ga102', '570.144'),
			abi: abiFor('570.144'),
			beforeGspStart: (ctx) => {
				const q = ctx.allocDma(0x81000, { label: 'rpc-queues' });
				ctx.setRmArgs({
					messageQueue: {
						sharedMemPhysAddr: q.busAddress,
						pageTableEntryCount: 129,
						cmdQueueOffset: 0x1000n,
						statQueueOffset: 0x41000n,
					},
					srInit: { oldLevel: 0, flags: 0, inPmTransition: false },
					gpuInstance: 0,
					profiler: { pa: 0n, size: 0n },
				});
			},
		});
		expect(r.buffers.extra).toHaveLength(1);
		// RMARGS as the device reads it (r570 GSP_ARGUMENTS_CACHED: sharedMemPhysAddr @0, count @8, offsets @16/@24).
		const rm = gpu.dmaRead(r.buffers.libos.rmArgs.busAddress, 72);
		const dv = new DataView(rm.buffer, rm.byteOffset, rm.byteLength);
		expect(dv.getBigUint64(0, true)).toBe(r.buffers.extra[0]?.busAddress);
		expect(dv.getUint32(8, true)).toBe(129);
		expect([dv.getBigUint64(16, true), dv.getBigUint64(24, true)]).toEqual([0x1000n, 0x41000n]);
		expect(rm[48]).toBe(1); // bDmemStack
		r.release();
		await gpu.close();
	});
});

describe('the ABI packages plug into the boot', () => {
	it.each(VERSIONS)("%s: bootAbiOf picks the package's boot sub-interface", (version) => {
		const boot = bootAbiOf(abiFor(version));
		expect(boot).toBe((abiFor(version).subInterfaces as Record<string, unknown>).boot);
		expect(boot.version).toBe(version);
	});

	it('boots with the manifest-derived writers too', async () => {
		const gpu = createSimulatedGpu({ chip: 'ad102' });
		const r = await bootGsp(gpu, { firmware: synthetic('ad102', '570.144'), abi: manifestAbi('570.144') });
		expect(r.wprMeta.verified).toBe(0xa0a0a0a0a0a0a0a0n);
		r.release();
		await gpu.close();
	});
});

describe('failures are precise typed errors', () => {
	it.each(['ga102', 'tu102'])(
		'%s: WPR2 already up (second boot without unload) is EBUSY with the reset path; after an FLR the GPU boots again',
		async (chip) => {
			const gpu = createSimulatedGpu({ chip });
			const fw = synthetic(chip, '570.144');
			const first = await bootGsp(gpu, { firmware: fw, abi: abiFor('570.144') });
			const inUse = gpu.dma.bytesInUse;
			const e = await bootError(bootGsp(gpu, { firmware: fw, abi: abiFor('570.144') }));
			expect(e).toBeInstanceOf(Wpr2AlreadyUpError);
			expect((e as Wpr2AlreadyUpError).stage).toBe('fwsec');
			expect((e as Wpr2AlreadyUpError).errno).toBe('EBUSY');
			expect((e as Wpr2AlreadyUpError).wpr2Start).toBe(first.layout.frts.start);
			// The reset paths it names are ones that exist: resetPciFunction (FLR) and booter_unload.
			expect(e.message).toMatch(/resetPciFunction\(platform\)/);
			expect(e.message).toMatch(/\/sys\/bus\/pci\/devices\/0000:01:00\.0\/reset/);
			expect(e.message).toMatch(/booter_unload on SEC2/);
			expect(e.message).not.toMatch(/gspkit-drm/);
			expect((e as Wpr2AlreadyUpError).details.resetPath).toEqual([...WPR2_RESET_PATHS]);
			expect(gpu.dma.bytesInUse).toBe(inUse); // the failed boot freed what it allocated

			// The documented path: a function-level reset through the platform's configuration space.
			const reset = await resetPciFunction(gpu);
			expect(reset.pcieCapability).toBe(0x78);
			expect(readWpr2(gpu.bar0)).toBeUndefined();
			expect(gpu.boot.gsp.riscvActive).toBe(false);
			expect(gpu.boot.lastGspStart).toBeUndefined();
			expect(gpu.gspRm.phase).toBe('off');
			first.release(); // the reset GSP no longer uses them
			const second = await bootGsp(gpu, { firmware: fw, abi: abiFor('570.144') });
			expect(second.wprMeta.verified).toBe(0xa0a0a0a0a0a0a0a0n);
			expect(second.wpr2?.start).toBe(first.layout.frts.start);
			expect(gpu.boot.lastGspStart?.libosArgsAddress).toBe(second.buffers.libos.args.busAddress);
			expect(gpu.gspRm.phase).not.toBe('off');
			second.release();
			await gpu.close();
		},
	);

	it('a bootloader descriptor with another app_version: the GSP refuses the handoff (GSP MAILBOX0), GspStartError', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const fw = synthetic('ga102', '570.144');
		const bootloader = fw.bootloader.slice();
		const dv = new DataView(bootloader.buffer);
		const desc = dv.getUint32(12, true); // nvfw_bin_hdr.header_offset → RM_RISCV_UCODE_DESC
		expect(dv.getUint32(desc + 28, true)).toBe(0x5701_4400); // app_version
		dv.setUint32(desc + 28, 0x5351_1301, true);
		expect(parseRiscvFirmware(bootloader).desc.appVersion).toBe(0x5351_1301);
		const inUse = gpu.dma.bytesInUse;
		const e = await bootError(bootGsp(gpu, { firmware: { ...fw, bootloader }, abi: abiFor('570.144') }));
		expect(e).toBeInstanceOf(GspStartError);
		expect((e as GspStartError).stage).toBe('gsp-start');
		expect((e as GspStartError).errno).toBe('EIO');
		expect((e as GspStartError).details.gspMailbox0).toBe('0xbad40001');
		expect(bootCodeName(GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH)).toBe(
			'GSP_HANDOFF_ERROR.APP_VERSION_MISMATCH',
		);
		expect(e.message).toMatch(/app_version 0x53511301 was written to its OS register/);
		// Booter accepted the (unchanged) bootloader payload; the GSP core itself refused and GSP-RM never ran.
		expect(gpu.boot.handoffFailure).toMatch(/app_version 0x53511301; .* is app_version 0x57014400/);
		expect(gpu.boot.gsp.riscvActive).toBe(false);
		expect(gpu.gspRm.phase).toBe('off');
		expect(gpu.dma.bytesInUse).toBe(inUse);
		await gpu.close();
	});

	it('a corrupted radix3 entry: booter refuses (RADIX3_FAULT in SEC2 MAILBOX0), the GSP does not start', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const inUse = gpu.dma.bytesInUse;
		const e = await bootError(
			bootGsp(gpu, {
				firmware: synthetic('ga102', '570.144'),
				abi: abiFor('570.144'),
				beforeGspStart: ({ buffers }) => {
					const t = buffers.radix3.table;
					const l2 = (1 + buffers.radix3.geometry.l1Pages) * 4096;
					t.view.setBigUint64(l2 + 8 * 3, 0xdead_0000n, true);
				},
			}),
		);
		expect(e).toBeInstanceOf(BooterError);
		expect((e as BooterError).stage).toBe('booter');
		expect((e as BooterError).mailbox0).toBe(BOOTER_ERROR.RADIX3_FAULT);
		expect(bootCodeName((e as BooterError).mailbox0 ?? 0)).toBe('BOOTER_ERROR.RADIX3_FAULT');
		expect(gpu.boot.lastGspStart).toBeUndefined();
		expect(gpu.dma.bytesInUse).toBe(inUse);
		await gpu.close();
	});

	it('a wrong WPR-meta magic: refused by the driver (ABI) or, if written behind its back, by booter', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const good = bootAbiOf(abiFor('570.144'));
		const bad: BootAbi = {
			...good,
			wprMeta: {
				...good.wprMeta,
				magic: 0x1234n,
				encode: (f, d, o) => {
					good.wprMeta.encode(f, d, o);
					new DataView(d.buffer, d.byteOffset).setBigUint64(o ?? 0, 0x1234n, true);
				},
			},
		};
		const e1 = await bootError(bootGsp(gpu, { firmware: synthetic('ga102', '570.144'), abi: bad }));
		expect(e1).toBeInstanceOf(WprMetaError);
		expect(e1.message).toMatch(/magic 0x0*1234/);
		const gpu2 = createSimulatedGpu({ chip: 'ga102' });
		const e2 = await bootError(
			bootGsp(gpu2, {
				firmware: synthetic('ga102', '570.144'),
				abi: good,
				beforeGspStart: ({ buffers }) => buffers.wprMeta.view.setBigUint64(0, 0x1234n, true),
			}),
		);
		expect(e2).toBeInstanceOf(BooterError);
		expect((e2 as BooterError).mailbox0).toBe(BOOTER_ERROR.BAD_MAGIC);
		await gpu.close();
		await gpu2.close();
	});

	it('a wrong GSP signature: booter reports SIGNATURE_MISMATCH', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const fw = synthetic('ga102', '570.144');
		const gsp = fw.gsp.slice();
		const sig = parseGspElf(gsp).signatures.find((s) => s.section === '.fwsignature_ga10x');
		if (sig === undefined) throw new Error('no ga10x signature');
		gsp[sig.offset] = (gsp[sig.offset] as number) ^ 0xff;
		const e = await bootError(bootGsp(gpu, { firmware: { ...fw, gsp }, abi: abiFor('570.144') }));
		expect(e).toBeInstanceOf(BooterError);
		expect((e as BooterError).mailbox0).toBe(BOOTER_ERROR.SIGNATURE_MISMATCH);
		await gpu.close();
	});

	it('a wrong booter signature: the SEC2 boot ROM refuses it', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const fw = synthetic('ga102', '570.144');
		const booter = fw.booterLoad.slice();
		// Flip every signature byte in the file's signature table (sig_prod_offset .. + sig_prod_size).
		const dv = new DataView(booter.buffer);
		const hs = dv.getUint32(12, true);
		const off = dv.getUint32(hs, true);
		const size = dv.getUint32(hs + 4, true);
		for (let i = off; i < off + size; i++) booter[i] = (booter[i] as number) ^ 0x5a;
		const e = await bootError(
			bootGsp(gpu, { firmware: { ...fw, booterLoad: booter }, abi: abiFor('570.144') }),
		);
		expect(e).toBeInstanceOf(BooterError);
		expect((e as BooterError).mailbox0).toBe(BROM_ERROR.SIGNATURE_MISMATCH);
		await gpu.close();
	});

	it('a fuse version FWSEC has no signature for: FwsecSignatureError before FWSEC runs', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const v: Vbios = readVbios(gpu.bar0);
		const d = v.fwsec.desc;
		if (d.version !== 3) throw new Error('expected a v3 FWSEC');
		const missing = [...Array(16).keys()].find((fv) => ((d.signatureVersions >> fv) & 1) === 0) as number;
		gpu.registers.poke(0x8241c0 + 4 * (d.ucodeId - 1), missing === 0 ? 0 : (1 << missing) - 1);
		const e = await bootError(
			bootGsp(gpu, { firmware: synthetic('ga102', '570.144'), abi: abiFor('570.144') }),
		);
		expect(e).toBeInstanceOf(FwsecSignatureError);
		expect((e as FwsecSignatureError).details.fuseVersion).toBe(missing);
		await gpu.close();
	});

	it('files from the wrong chip: a tagged set, a GSP image without the chip signature, an untagged booter', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const tu = synthetic('tu102', '570.144');
		const ga = synthetic('ga102', '570.144');
		const e1 = await bootError(bootGsp(gpu, { firmware: tu, abi: abiFor('570.144') }));
		expect(e1).toBeInstanceOf(BootFirmwareError);
		expect(e1.message).toMatch(/for tu102 but the GPU is a GA102/);
		const { chip: _c, ...untagged } = tu;
		const e2 = await bootError(bootGsp(gpu, { firmware: { ...untagged }, abi: abiFor('570.144') }));
		expect(e2).toBeInstanceOf(BootFirmwareError);
		expect(e2.message).toMatch(/no \.fwsignature_ga10x/);
		const { chip: _g, ...gaUntagged } = ga;
		const e3 = await bootError(
			bootGsp(gpu, { firmware: { ...gaUntagged, booterLoad: tu.booterLoad }, abi: abiFor('570.144') }),
		);
		expect(e3).toBeInstanceOf(WrongChipBooterError);
		const w = e3 as WrongChipBooterError;
		expect([w.code, w.stage, w.errno]).toEqual(['BOOT_FIRMWARE', 'firmware', 'EINVAL']);
		expect([w.file, w.expected, w.found]).toEqual([
			'<booter_load>',
			'RSA-3K (384-byte)',
			'AES-128 (16-byte)',
		]);
		expect(w.message).toMatch(/<booter_load> is a booter from the wrong chip: the ga10x boot HAL/);
		expect(gpu.boot.sec2.runLog).toHaveLength(0); // refused before SEC2 ran anything
		await gpu.close();
	});

	it('firmware and ABI versions must agree; the chip option must match the GPU; Hopper is not supported yet', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const e1 = await bootError(
			bootGsp(gpu, { firmware: synthetic('ga102', '535.113.01'), abi: abiFor('570.144') }),
		);
		expect(e1).toBeInstanceOf(BootFirmwareError);
		expect(e1.message).toMatch(/535\.113\.01 does not match the 570\.144 ABI/);
		const e2 = await bootError(
			bootGsp(gpu, { firmware: synthetic('ga102', '570.144'), abi: abiFor('570.144'), chip: 'tu102' }),
		);
		expect(e2).toBeInstanceOf(ChipMismatchError);
		await gpu.close();
		const h = createSimulatedGpu({ chip: 'gh100' });
		const e3 = await bootError(
			bootGsp(h, { firmware: synthetic('ga102', '570.144'), abi: abiFor('570.144') }),
		);
		expect(e3).toBeInstanceOf(BootUnsupportedError);
		expect(e3.message).toMatch(/FSP chain-of-trust/);
		expect(isBootError(e3, 'BOOT_UNSUPPORTED')).toBe(true);
		await h.close();
	});
});

// The published firmware files, when present (the project cache or GSPKIT_FIRMWARE_PATH).
const realTree = firmwareSearchRoots().some((r) =>
	existsSync(join(r.dir, 'nvidia/ga102/gsp/gsp-570.144.bin')),
);

describe.skipIf(!realTree)('boot with the published firmware files', () => {
	const cases = ['ga102', 'tu102', 'ad102'].flatMap((chip) => VERSIONS.map((v) => [chip, v] as const));
	it.each(cases)('%s with %s', async (chip, version) => {
		const gpu = createSimulatedGpu({ chip });
		const set = await locateFirmwareSet(chip, version);
		const r = await bootGsp(gpu, { firmware: set, abi: abiFor(version), chip });
		expect(r.wprMeta.verified).toBe(0xa0a0a0a0a0a0a0a0n);
		expect(gpu.boot.lastGspStart?.firmware).toBeDefined();
		// The published bootloaders' app_version, through the OS register handshake.
		const bl = parseRiscvFirmware(readFileSync(set.byKind.bootloader?.path ?? ''));
		expect(r.appVersion).toBe(bl.desc.appVersion);
		expect(gpu.boot.lastGspStart?.bootloader.appVersion).toBe(r.appVersion);
		expect(gpu.gspRm.phase).not.toBe('off');
		expect(r.buffers.radix3.size).toBe(parseGspElf(readFileSync(set.byKind.gsp?.path ?? '')).image.size);
		r.release();
		await gpu.close();
	});
});
