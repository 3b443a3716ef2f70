/**
 * Conformance of the firmware ABI packages:
 * - every type of both manifests builds into a working layout, and the layouts re-serialise to the
 *   committed manifest byte for byte;
 * - both ABI objects satisfy gsp-rpc's narrow `RpcAbi` (checked by the type checker and at run time
 *   by gsp-rpc's own compiler), and expose the same neutral layout names and sub-interfaces;
 * - the layouts the neutral names point at are the manifests' own types;
 * - the `boot` sub-interface satisfies falcon-boot's `BootAbi` and writes the same bytes as falcon-boot's
 *   own manifest-derived writers.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
	type AsyncFirmwareProbe,
	type FirmwareAbi,
	layoutFromManifest,
	layoutsFromManifest,
	selectAbiAsync,
	sizeof,
	stringifyManifest,
	toManifest,
} from '@gspkit/abi';
import * as r535 from '@gspkit/abi-r535';
import * as r570 from '@gspkit/abi-r570';
import {
	type BootAbi,
	bootAbiFromManifest,
	bootAbiOf,
	firmwareSetSpec,
	gspkitCacheDir,
	probeFirmwareSet,
} from '@gspkit/falcon-boot';
import { compileRpcAbi, RPC_LAYOUT_TYPES, type RpcAbi } from '@gspkit/gsp-rpc';
import { describe, expect, expectTypeOf, it } from 'vitest';

// Type-level conformance: these lines do not compile if an ABI package stops satisfying gsp-rpc's RpcAbi.
const rpc535 = r535.abi satisfies RpcAbi;
const rpc570 = r570.abi satisfies RpcAbi;
expectTypeOf(r535.abi).toExtend<RpcAbi>();
expectTypeOf(r570.abi).toExtend<RpcAbi>();
expectTypeOf(r570.abi).toExtend<FirmwareAbi>();
// falcon-boot's BootAbi (GspFwWprMeta codec, RMARGS and LIBOS writers) is the `boot` sub-interface.
const boot535 = r535.api.boot satisfies BootAbi;
const boot570 = r570.api.boot satisfies BootAbi;
expectTypeOf(r570.api).toEqualTypeOf<r535.RmApi>();
expectTypeOf(r570.abi.layouts).toEqualTypeOf<r535.CoreLayouts>();

const packages = [
	{ name: '@gspkit/abi-r535', pkg: r535, version: '535.113.01' },
	{ name: '@gspkit/abi-r570', pkg: r570, version: '570.144' },
] as const;

describe.each(packages)('$name', ({ pkg, version }) => {
	it('builds every manifest type and re-serialises the manifest byte-identically', () => {
		const m = pkg.manifest;
		expect(m.abi).toBe(version);
		const layouts = layoutsFromManifest(m);
		expect(Object.keys(layouts)).toHaveLength(m.types.length);
		for (const t of m.types) expect(sizeof(layouts[t.name]!), t.name).toBe(t.size);
		const again = toManifest(Object.values(layouts), {
			abi: m.abi!,
			...(m.source === undefined ? {} : { source: m.source }),
		});
		expect(stringifyManifest({ ...again, constants: m.constants })).toBe(stringifyManifest(m));
	});

	it('satisfies gsp-rpc at run time (compileRpcAbi resolves every field it touches)', () => {
		const wire = compileRpcAbi(pkg.abi);
		expect(wire.version).toBe(version);
		expect(wire.elem.headerSize).toBe(48);
		expect(wire.rpc.size).toBe(32);
		expect(wire.rpc.function).toBe(12);
		expect(wire.rmControl.size).toBe(24);
		expect(wire.sequencer.payloadDwords.get(pkg.abi.sequencerOpcodes.REG_POLL)).toBe(5);
		for (const [neutral, cName] of Object.entries(RPC_LAYOUT_TYPES)) {
			expect(pkg.abi.layouts[neutral as keyof typeof RPC_LAYOUT_TYPES].name, neutral).toBe(cName);
		}
	});

	it('points every neutral layout at the manifest type of the same name', () => {
		for (const [neutral, l] of Object.entries(pkg.abi.layouts)) {
			expect(l, neutral).toBe(layoutFromManifest(l.name, pkg.manifest));
		}
	});

	it('has every sub-interface, each with provenance bound to this version', () => {
		for (const n of r535.SUB_INTERFACE_NAMES) {
			expect(pkg.abi.subInterfaces[n].provenance.boundTo, n).toBe(version);
		}
	});
});

describe.each([
	{ name: '@gspkit/abi-r535', pkg: r535, boot: boot535 },
	{ name: '@gspkit/abi-r570', pkg: r570, boot: boot570 },
] as const)('$name boot writers vs falcon-boot', ({ pkg, boot }) => {
	const ref = bootAbiFromManifest(pkg.manifest, pkg.abi.version);
	const meta = {
		sysmemAddrOfRadix3Elf: 0x1_0000_1000n,
		sizeOfRadix3Elf: 0x3c0_0000n,
		sysmemAddrOfBootloader: 0x2000n,
		sizeOfBootloader: 0x1234n,
		bootloaderCodeOffset: 0x100n,
		bootloaderDataOffset: 0x200n,
		bootloaderManifestOffset: 0x300n,
		sysmemAddrOfSignature: 0x3000n,
		sizeOfSignature: 0x1000n,
		gspFwRsvdStart: 0x3f_f000_0000n,
		nonWprHeapOffset: 0x3f_f000_0000n,
		nonWprHeapSize: 0x10_0000n,
		gspFwWprStart: 0x3f_f010_0000n,
		gspFwHeapOffset: 0x3f_f020_0000n,
		gspFwHeapSize: 0x800_0000n,
		gspFwOffset: 0x3f_f830_0000n,
		bootBinOffset: 0x3f_fc00_0000n,
		frtsOffset: 0x3f_fe00_0000n,
		frtsSize: 0x10_0000n,
		gspFwWprEnd: 0x3f_ff00_0000n,
		fbSize: 0x40_0000_0000n,
		vgaWorkspaceOffset: 0x3f_ff00_0000n,
		vgaWorkspaceSize: 0x10_0000n,
		bootCount: 0n,
		gspFwHeapVfPartitionCount: 0,
		flags: 0,
		pmuReservedSize: 0,
	};
	const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

	it('bootAbiOf picks the package’s own boot sub-interface', () => {
		expect(bootAbiOf(pkg.abi)).toBe(boot);
		expect(boot.version).toBe(pkg.abi.version);
	});

	it('GspFwWprMeta bytes equal falcon-boot’s manifest-derived codec, and decode back', () => {
		const a = new Uint8Array(300).fill(0xee);
		const b = new Uint8Array(300).fill(0xee);
		boot.wprMeta.encode(meta, a, 16);
		ref.wprMeta.encode(meta, b, 16);
		expect(hex(a)).toBe(hex(b));
		const { flags, pmuReservedSize, ...common } = meta;
		const back = boot.wprMeta.decode(a, 16);
		expect(back).toMatchObject({ ...common, magic: 0xdc3aae21371a60b3n, revision: 1n, verified: 0n });
		// r570 carries flags/pmuReservedSize; r535 has no such fields.
		expect('pmuReservedSize' in back).toBe(pkg === r570);
		if (pkg === r570) expect([back.flags, back.pmuReservedSize]).toEqual([flags, pmuReservedSize]);
	});

	it('RMARGS and LIBOS entries equal falcon-boot’s manifest-derived writers', () => {
		const rm = {
			messageQueue: {
				sharedMemPhysAddr: 0x8000_0000n,
				pageTableEntryCount: 129,
				cmdQueueOffset: 0x1000n,
				statQueueOffset: 0x41000n,
			},
			srInit: { oldLevel: 3, flags: 5, inPmTransition: true },
			gpuInstance: 0,
			profiler: { pa: 0x1234_5000n, size: 0x1000n },
		};
		const a = new Uint8Array(128).fill(0xaa);
		const b = new Uint8Array(128).fill(0xaa);
		boot.rmArgs.encode(rm, a, 8);
		ref.rmArgs.encode(rm, b, 8);
		expect(boot.rmArgs.size).toBe(ref.rmArgs.size);
		expect(hex(a)).toBe(hex(b));
		// Name and packed id8 both given: falcon-boot's writer has taken either over time; ours accepts both.
		const l = { name: 'RMARGS', id8: 0x524d41524753n, pa: 0x5000n, size: 0x1000n, kind: 1, loc: 1 };
		const c = new Uint8Array(64).fill(1);
		const d = new Uint8Array(64).fill(1);
		boot.libosRegion.encode(l, c, 32);
		ref.libosRegion.encode(l, d, 32);
		expect(hex(c)).toBe(hex(d));
	});
});

describe('the two packages side by side', () => {
	it('expose the same neutral layout names', () => {
		expect(Object.keys(r570.abi.layouts).sort()).toEqual(Object.keys(r535.abi.layouts).sort());
		expect(rpc535.version).not.toBe(rpc570.version);
	});

	it('r570 reuses r535 code for 12 of 16 sub-interfaces, each bound to r570', () => {
		const reused = r570.provenance.filter((p) => p.implementedBy === '@gspkit/abi-r535');
		expect(reused).toHaveLength(12);
		for (const p of reused) expect(p.boundTo).toBe('570.144');
	});
});

describe('firmware files and selection against falcon-boot’s locator', () => {
	it('each ABI names, per chip, exactly the required files falcon-boot’s firmware table lists', () => {
		for (const { abi } of [r535, r570]) {
			for (const chip of abi.chips) {
				const spec = firmwareSetSpec(chip, abi.version)!.filter((f) => !f.optional);
				const ours = abi.firmwareFiles(chip);
				expect(ours.length, `${chip} ${abi.version}`).toBe(spec.length);
				for (const f of ours)
					expect(
						spec.some((s) => s.names.includes(f)),
						`${chip}: ${f}`,
					).toBe(true);
			}
		}
	});

	const root = join(gspkitCacheDir(), 'firmware');
	const probe: AsyncFirmwareProbe = async ({ chip, version }) => {
		const p = await probeFirmwareSet(chip, version, { path: root, onlyPath: true });
		return {
			missing: p.missing.flatMap((m) => m.names),
			searched: p.searched,
			roots: p.roots.map((r) => r.dir),
		};
	};
	const branchesOf = (chip: string) =>
		r535.abi.chips.includes(chip) ? ['570.144', '535.113.01'] : ['570.144'];

	it.skipIf(!existsSync(join(root, 'nvidia')))(
		'picks r570 for every chip from the real firmware set, r535 when forced',
		async () => {
			for (const chip of r570.abi.chips) {
				const s = await selectAbiAsync({
					chip,
					branches: branchesOf(chip),
					abis: [r535.abi, r570.abi],
					probe,
				});
				expect(s.abi.version, chip).toBe('570.144');
			}
			const forced = await selectAbiAsync({
				chip: 'tu102',
				branches: branchesOf('tu102'),
				abis: [r535.abi, r570.abi],
				override: '535.113.01',
				probe,
			});
			expect(forced.abi).toBe(r535.abi);
			expect(forced.files).toContain('nvidia/tu102/acr/bl.bin');
		},
	);

	it('reports every file and directory it looked at when nothing is installed', async () => {
		const empty = mkdtempSync(join(tmpdir(), 'gspkit-nofw-'));
		try {
			const none: AsyncFirmwareProbe = async ({ chip, version }) => {
				const p = await probeFirmwareSet(chip, version, { path: empty, onlyPath: true });
				return {
					missing: p.missing.flatMap((m) => m.names),
					searched: p.searched,
					roots: p.roots.map((r) => r.dir),
				};
			};
			await expect(
				selectAbiAsync({
					chip: 'ga102',
					branches: branchesOf('ga102'),
					abis: [r535.abi, r570.abi],
					probe: none,
				}),
			).rejects.toThrow(
				new RegExp(`gsp-535\\.113\\.01\\.bin[\\s\\S]*in: ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
			);
		} finally {
			rmSync(empty, { recursive: true, force: true });
		}
	});
});
