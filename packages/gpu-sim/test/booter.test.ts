import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GspStartInfo } from '../src/falcon/boot-hardware.ts';
import { BOOTER_ERROR, BROM_ERROR } from '../src/falcon/codes.ts';
import { syntheticFirmware } from '../src/firmware-models/synthetic.ts';
import {
	boot,
	defaultFrts,
	elfSectionOf,
	GSP,
	type GspLoad,
	loadGsp,
	makeRig,
	put64,
	type Rig,
	resetFalcon,
	runBooter,
	runFwsec,
	SEC2,
	u64,
} from './falcon-testkit.ts';

const SECTION: Record<string, string> = {
	tu102: '.fwsignature_tu10x',
	tu116: '.fwsignature_tu11x',
	ga100: '.fwsignature_ga100',
	ga102: '.fwsignature_ga10x',
	ad102: '.fwsignature_ad10x',
};
const VERIFIED = 0xa0a0a0a0a0a0a0a0n;
const LIBOS = 0x1_2345_6000n;

type Files = ReadonlyMap<string, Uint8Array>;

interface Prepared {
	readonly rig: Rig;
	readonly files: Files;
	readonly version: string;
	readonly gsp: GspLoad;
	readonly starts: GspStartInfo[];
}

interface PrepareOptions {
	readonly version?: string;
	readonly files?: Files;
	readonly skipFwsec?: boolean;
	readonly section?: string;
	readonly image?: (image: Uint8Array) => Uint8Array;
	readonly bootloader?: Uint8Array;
	readonly gspReset?: 'nova' | 'tinygrad';
	/** Give the boot hardware zero-copy DMA views (`dmaView`), counting the calls. */
	readonly views?: { count: number };
}

/** FWSEC-FRTS, the GSP image in DMA with radix3, GspFwWprMeta, and the GSP reset with the LIBOS mailboxes. */
function prepare(chip: string, o: PrepareOptions = {}): Prepared {
	const version = o.version ?? '570.144';
	let viewPool: Rig['pool'] | undefined;
	const views = o.views;
	const rig = makeRig(
		chip,
		views === undefined
			? {}
			: {
					dmaView: (a, l) => {
						views.count++;
						return viewPool!.deviceView(a, l);
					},
				},
	);
	viewPool = rig.pool;
	const files = o.files ?? syntheticFirmware(chip, version).files;
	if (!o.skipFwsec && chip !== 'ga100') {
		const gen = syntheticFirmware(chip, '570.144').files.get('gsp/gen_bootloader-570.144.bin');
		expect(runFwsec(rig, {}, gen)[0]).toBe(0);
	}
	const elf = files.get(`gsp/gsp-${version}.bin`)!;
	const fwimage = elfSectionOf(elf, '.fwimage')!;
	const image = o.image?.(fwimage.slice()) ?? fwimage;
	const signature = elfSectionOf(elf, o.section ?? SECTION[chip]!)!;
	const gsp = loadGsp(
		rig,
		image,
		signature,
		o.bootloader ?? files.get(`gsp/bootloader-${version}.bin`)!,
		defaultFrts(rig),
	);
	if (o.gspReset === 'tinygrad') {
		resetFalcon(rig, GSP, 'riscv');
		rig.wr(GSP + 0x40, Number(LIBOS & 0xffffffffn));
		rig.wr(GSP + 0x44, Number(LIBOS >> 32n));
	} else {
		resetFalcon(rig, GSP);
		boot(rig, GSP, Number(LIBOS & 0xffffffffn), Number(LIBOS >> 32n)); // empty falcon: halts, mailboxes kept
	}
	const starts: GspStartInfo[] = [];
	rig.hw.onGspStart((i) => starts.push(i));
	return { rig, files, version, gsp, starts };
}

function booter(p: Prepared, opts: Partial<Parameters<typeof runBooter>[2]> = {}, file?: Uint8Array): number {
	const f = file ?? p.files.get(`gsp/booter_load-${p.version}.bin`)!;
	return runBooter(p.rig, f, { metaAddress: p.gsp.metaAddress, ...opts })[0];
}

function riscvActive(rig: Rig): boolean {
	const ga = !(rig.chip.startsWith('tu') || rig.chip === 'ga100');
	return ga ? (rig.rd(GSP + 0x1388) & 0x80) !== 0 : (rig.rd(GSP + 0x1240) & 1) !== 0;
}

function expectNotStarted(p: Prepared): void {
	expect(riscvActive(p.rig)).toBe(false);
	expect(p.rig.hw.gsp.riscvActive).toBe(false);
	expect(u64(p.gsp.meta, 0xf8)).toBe(0n);
	expect(p.starts).toHaveLength(0);
}

describe('booter_load model (synthetic firmware)', () => {
	for (const [chip, version] of [
		['ga102', '570.144'],
		['ad102', '535.113.01'],
		['tu102', '535.113.01'],
		['tu116', '570.144'],
		['ga100', '570.144'],
	] as const) {
		it(`${chip} ${version}: verifies the image through radix3, writes verified and starts the GSP core`, () => {
			const p = prepare(chip, { version });
			expect(riscvActive(p.rig)).toBe(false);
			expect(booter(p)).toBe(0);
			expect(u64(p.gsp.meta, 0xf8)).toBe(VERIFIED);
			expect(riscvActive(p.rig)).toBe(true);
			// The other generation's status register stays clear.
			const ga = !(chip.startsWith('tu') || chip === 'ga100');
			expect(p.rig.rd(GSP + (ga ? 0x1240 : 0x1388)) & (ga ? 1 : 0x80)).toBe(0);
			expect(p.starts).toHaveLength(1);
			const s = p.starts[0]!;
			expect(s.libosArgsAddress).toBe(LIBOS);
			expect(s.wprMetaAddress).toBe(p.gsp.metaAddress);
			expect(s.firmware.version).toBe(version);
			expect(s.firmware.source).toBe('synthetic');
			expect(s.chip).toBe(chip);
			expect(p.rig.hw.lastGspStart).toBe(s);
			if (chip === 'ga100') {
				// No FRTS on GA100: booter carves WPR2 from the meta's WPR bounds.
				expect(p.rig.rd(0x1fa824)).toBe(Number(u64(p.gsp.meta, 0x70) >> 12n) << 4);
				expect(p.rig.rd(0x1fa828)).toBe(Number(u64(p.gsp.meta, 0xa8) >> 12n) << 4);
			}
		});
	}

	it('verifies the image through zero-copy DMA views when the host offers them, and still catches a bad page', () => {
		const views = { count: 0 };
		const p = prepare('ga102', { views });
		expect(booter(p)).toBe(0);
		expect(views.count).toBeGreaterThan(0);
		expect(p.starts[0]?.firmware.source).toBe('synthetic');
		const flip = (i: Uint8Array) => {
			i[5000] = i[5000]! ^ 0x80;
			return i;
		};
		const q = prepare('ga102', { views, image: flip });
		expect(booter(q)).toBe(BOOTER_ERROR.IMAGE_UNKNOWN);
		expectNotStarted(q);
	});

	it('works after a tinygrad-style GSP reset (RISC-V core selected, mailboxes only) too', () => {
		const p = prepare('ga102', { gspReset: 'tinygrad' });
		expect(booter(p)).toBe(0);
		expect(p.starts[0]?.libosArgsAddress).toBe(LIBOS);
	});

	const failures: [string, PrepareOptions, (p: Prepared) => void, number, RegExp?][] = [
		[
			'a radix3 entry pointing at unmapped memory',
			{},
			(p) => put64(p.gsp.l2Bytes, 8 * 5, 0x7_0000_0000n),
			BOOTER_ERROR.RADIX3_FAULT,
			/page 5/,
		],
		[
			'a misaligned radix3 entry',
			{},
			(p) => put64(p.gsp.l2Bytes, 8 * 3, u64(p.gsp.l2Bytes, 24) + 8n),
			BOOTER_ERROR.RADIX3_FAULT,
			/aligned/,
		],
		[
			'an L0 entry pointing nowhere',
			{},
			(p) => p.rig.pool.deviceWrite(p.gsp.l0, new Uint8Array(8)),
			BOOTER_ERROR.RADIX3_FAULT,
			/L1/,
		],
		[
			'two swapped radix3 entries',
			{},
			(p) => {
				const a = u64(p.gsp.l2Bytes, 0);
				put64(p.gsp.l2Bytes, 0, u64(p.gsp.l2Bytes, 8));
				put64(p.gsp.l2Bytes, 8, a);
			},
			BOOTER_ERROR.IMAGE_UNKNOWN,
		],
		['a wrong magic', {}, (p) => put64(p.gsp.meta, 0, 0xdc3aae21371a60b4n), BOOTER_ERROR.BAD_MAGIC],
		['a wrong revision', {}, (p) => put64(p.gsp.meta, 8, 2n), BOOTER_ERROR.BAD_REVISION],
		['a size of zero', {}, (p) => put64(p.gsp.meta, 0x18, 0n), BOOTER_ERROR.RADIX3_BAD_SIZE],
		[
			'an unknown image',
			{
				image: (i) => {
					i[100_000] = i[100_000]! ^ 1;
					return i;
				},
			},
			() => {},
			BOOTER_ERROR.IMAGE_UNKNOWN,
		],
		[
			"another chip's signature section",
			{ section: '.fwsignature_ad10x' },
			() => {},
			BOOTER_ERROR.SIGNATURE_MISMATCH,
			/ad10x.*ga10x/,
		],
		['no FWSEC-FRTS (WPR2 down)', { skipFwsec: true }, () => {}, BOOTER_ERROR.WPR2_NOT_UP],
		[
			'a meta FRTS that is not WPR2',
			{},
			(p) => put64(p.gsp.meta, 0x98, u64(p.gsp.meta, 0x98) - 0x100000n),
			BOOTER_ERROR.WPR_LAYOUT,
		],
		[
			'a bootloader of another chip',
			{ bootloader: syntheticFirmware('ad102', '570.144').files.get('gsp/bootloader-570.144.bin')! },
			() => {},
			BOOTER_ERROR.BOOTLOADER_UNKNOWN,
		],
		['wrong bootloader offsets', {}, (p) => put64(p.gsp.meta, 0x30, 0n), BOOTER_ERROR.BOOTLOADER_LAYOUT],
		['the GSP falcon held in reset', {}, (p) => p.rig.wr(GSP + 0x3c0, 1), BOOTER_ERROR.GSP_IN_RESET],
	];
	for (const [what, opts, mutate, code, reason] of failures) {
		it(`fails with its own code for ${what}, and leaves the core stopped`, () => {
			const p = prepare('ga102', opts);
			mutate(p);
			expect(booter(p)).toBe(code);
			if (reason !== undefined) expect(p.rig.hw.sec2.lastRun?.summary).toMatch(reason);
			expectNotStarted(p);
		});
	}

	it('refuses a GSP image of another chip family (no signature section for this chip)', () => {
		const tu = syntheticFirmware('tu102', '570.144').files;
		const ga = syntheticFirmware('ga102', '570.144').files;
		const files = new Map(ga);
		files.set('gsp/gsp-570.144.bin', tu.get('gsp/gsp-570.144.bin')!);
		const p = prepare('ga102', { files, section: '.fwsignature_tu10x' });
		expect(booter(p)).toBe(BOOTER_ERROR.IMAGE_NOT_FOR_CHIP);
		expectNotStarted(p);
	});

	it('faults when the driver truncates the meta address to 32 bits', () => {
		const p = prepare('ga102');
		expect(booter(p, { metaAddress: p.gsp.metaAddress & 0xffffffffn })).toBe(BOOTER_ERROR.WPR_META_FAULT);
		expectNotStarted(p);
	});

	it('refuses to start the core twice', () => {
		const p = prepare('ga102');
		expect(booter(p)).toBe(0);
		expect(booter(p)).toBe(BOOTER_ERROR.GSP_ALREADY_RUNNING);
		expect(p.starts).toHaveLength(1);
	});

	it('is refused by the boot ROM with a wrong signature, a wrong chip or on the wrong falcon', () => {
		const wrongSig = prepare('ga102');
		expect(booter(wrongSig, { signatureIndex: 1 })).toBe(BROM_ERROR.SIGNATURE_MISMATCH);
		expectNotStarted(wrongSig);
		const wrongChip = prepare('ga102');
		const ad = syntheticFirmware('ad102', '570.144').files.get('gsp/booter_load-570.144.bin')!;
		expect(booter(wrongChip, {}, ad)).toBe(BROM_ERROR.IMAGE_WRONG_CHIP);
		expectNotStarted(wrongChip);
		const wrongEngine = prepare('ga102');
		expect(booter(wrongEngine, { base: GSP })).toBe(BROM_ERROR.IMAGE_WRONG_ENGINE);
		expectNotStarted(wrongEngine);
		const badPkc = prepare('ga102');
		expect(booter(badPkc, { beforeStart: (r) => r.wr(SEC2 + 0x1210, 0) })).toBe(BROM_ERROR.BAD_PARAADDR);
		expectNotStarted(badPkc);
	});

	it('AD102 takes the last booter signature (SEC2 fuse 0), GA102 the first (fuse 1)', () => {
		const ad = prepare('ad102');
		expect(booter(ad, { signatureIndex: 0 })).toBe(BROM_ERROR.SIGNATURE_MISMATCH);
		const ad2 = prepare('ad102');
		expect(booter(ad2, { signatureIndex: 1 })).toBe(0);
	});

	it('stops the GSP core on a GSP falcon reset and on booter_unload, which also tears WPR2 down', () => {
		const p = prepare('ga102');
		let stops = 0;
		p.rig.hw.onGspStop(() => stops++);
		expect(booter(p)).toBe(0);
		resetFalcon(p.rig, GSP);
		expect(riscvActive(p.rig)).toBe(false);
		expect(stops).toBe(1);
		expect(p.rig.hw.lastGspStart).toBeUndefined();

		const q = prepare('ga102');
		expect(booter(q)).toBe(0);
		const unload = q.files.get(`gsp/booter_unload-${q.version}.bin`)!;
		expect(runBooter(q.rig, unload, { metaAddress: 0n })[0]).toBe(0);
		expect(q.rig.rd(0x1fa828)).toBe(0);
		expect(q.rig.rd(0x1fa824)).toBe(0);
		expect(riscvActive(q.rig)).toBe(false);
	});
});

const REAL = join(homedir(), '.cache/gspkit/debian/firmware-nvidia-graphics/usr/lib/firmware/nvidia');
const haveReal = existsSync(join(REAL, 'ga102/gsp/gsp-535.113.01.bin'));

describe.skipIf(!haveReal)('booter_load model (published firmware)', () => {
	const real = (chip: string, version: string): Files =>
		new Map(
			['booter_load', 'booter_unload', 'bootloader', 'gsp'].map((n) => [
				`gsp/${n}-${version}.bin`,
				new Uint8Array(readFileSync(join(REAL, chip, 'gsp', `${n}-${version}.bin`))),
			]),
		);

	it('ga102 535.113.01: verifies the real 38 MB image by digest and starts the core', () => {
		const p = prepare('ga102', { files: real('ga102', '535.113.01'), version: '535.113.01' });
		expect(booter(p)).toBe(0);
		expect(u64(p.gsp.meta, 0xf8)).toBe(VERIFIED);
		expect(p.starts[0]?.firmware.source).toBe('real');
		expect(p.starts[0]?.firmware.version).toBe('535.113.01');
		expect(p.starts[0]?.firmware.size).toBe(
			elfSectionOf(p.files.get('gsp/gsp-535.113.01.bin')!, '.fwimage')!.length,
		);
	});

	it("tu102 570.144: the real booter refuses the real image's ga100 signature", () => {
		const p = prepare('tu102', { files: real('tu102', '570.144'), section: '.fwsignature_ga100' });
		expect(booter(p)).toBe(BOOTER_ERROR.SIGNATURE_MISMATCH);
		expectNotStarted(p);
	});
});
