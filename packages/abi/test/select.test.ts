/**
 * ABI selection (nouveau's fwif order + compat map + override) against a fake file system.
 */
import { describe, expect, it } from 'vitest';
import {
	AbiError,
	AbiRegistry,
	AbiSelectionError,
	defineFirmwareAbi,
	type FirmwareAbi,
	type FirmwareProbe,
	isAbiError,
	selectAbi,
	selectAbiAsync,
	toManifest,
} from '../src/index.ts';

const FUNCTIONS = {
	GSP_SET_SYSTEM_INFO: 72,
	SET_REGISTRY: 73,
	GSP_RM_ALLOC: 103,
	GSP_RM_CONTROL: 76,
	FREE: 10,
	GET_GSP_STATIC_INFO: 65,
	CONTINUATION_RECORD: 71,
	UNLOADING_GUEST_DRIVER: 47,
};
const EVENTS = {
	GSP_INIT_DONE: 0x1001,
	GSP_RUN_CPU_SEQUENCER: 0x1002,
	POST_EVENT: 0x1003,
	RC_TRIGGERED: 0x1004,
	MMU_FAULT_QUEUED: 0x1005,
	OS_ERROR_LOG: 0x1006,
	UCODE_LIBOS_PRINT: 0x100c,
	GSP_LOCKDOWN_NOTICE: 0x101c,
};

function fakeAbi(version: string, chips: string[]): FirmwareAbi {
	return defineFirmwareAbi({
		version,
		branch: `r${version.split('.')[0]}`,
		chips,
		firmwareFiles: (chip) => [
			...['booter_load', 'booter_unload', 'bootloader', 'gsp'].map(
				(k) => `nvidia/${chip}/gsp/${k}-${version}.bin`,
			),
			...(chip.startsWith('tu') && version === '535.113.01' ? [`nvidia/${chip}/acr/bl.bin`] : []),
		],
		functions: FUNCTIONS,
		events: EVENTS,
		layouts: {},
		manifest: toManifest([], { abi: version }),
		subInterfaces: {},
	});
}

const r535 = fakeAbi('535.113.01', ['tu102', 'ga102', 'ad102']);
const r570 = fakeAbi('570.144', ['tu102', 'ga102', 'ad102', 'gb202']);
const ROOTS = ['/opt/fw', '/lib/firmware'];

/** A probe over a set of present relative files, searching two roots (like falcon-boot's locator). */
function fs(present: readonly string[]): { probe: FirmwareProbe; asked: string[][] } {
	const asked: string[][] = [];
	const probe: FirmwareProbe = ({ files }) => {
		asked.push([...files]);
		const searched: string[] = [];
		const missing: string[] = [];
		for (const f of files) {
			let found = false;
			for (const r of ROOTS) {
				searched.push(`${r}/${f}`);
				if (r === '/lib/firmware' && present.includes(f)) {
					found = true;
					break;
				}
			}
			if (!found) missing.push(f);
		}
		return { missing, searched, roots: ROOTS };
	};
	return { probe, asked };
}

const set = (chip: string, v: string, extra: string[] = []) => [
	...['booter_load', 'booter_unload', 'bootloader', 'gsp'].map((k) => `nvidia/${chip}/gsp/${k}-${v}.bin`),
	...extra,
];

const BRANCHES = ['570.144', '535.113.01'];

describe('selectAbi', () => {
	it('picks the newest branch when both are present', () => {
		const { probe, asked } = fs([...set('ga102', '570.144'), ...set('ga102', '535.113.01')]);
		const s = selectAbi({ chip: 'ga102', branches: BRANCHES, abis: [r535, r570], probe });
		expect(s.abi.version).toBe('570.144');
		expect(s.firmwareVersion).toBe('570.144');
		expect(s.forced).toBe(false);
		expect(s.files).toContain('nvidia/ga102/gsp/gsp-570.144.bin');
		expect(asked).toHaveLength(1); // the older branch is not even probed
	});

	it('falls back to 535.113.01 when only its files exist (Turing needs acr/bl.bin too)', () => {
		const { probe } = fs(set('tu102', '535.113.01', ['nvidia/tu102/acr/bl.bin']));
		const s = selectAbi({
			chip: 'tu102',
			branches: BRANCHES,
			abis: new AbiRegistry().register(r570).register(r535),
			probe,
		});
		expect(s.abi).toBe(r535);
		expect(s.attempts.map((a) => [a.firmwareVersion, a.outcome])).toEqual([
			['570.144', 'files-missing'],
			['535.113.01', 'selected'],
		]);
		expect(s.attempts[0]!.missing).toHaveLength(4);
	});

	it('does not accept an incomplete set (one file missing is enough)', () => {
		const { probe } = fs(set('tu102', '535.113.01')); // no acr/bl.bin
		expect(() => selectAbi({ chip: 'tu102', branches: ['535.113.01'], abis: [r535], probe })).toThrow(
			/acr\/bl\.bin/,
		);
	});

	it('with no files, throws a descriptive error: every file, where, and the supported branches', () => {
		const { probe } = fs([]);
		let err: unknown;
		try {
			selectAbi({ chip: 'ga102', branches: BRANCHES, abis: [r535, r570], probe });
		} catch (e) {
			err = e;
		}
		expect(err).toBeInstanceOf(AbiSelectionError);
		expect(isAbiError(err, 'ABI_NOT_FOUND')).toBe(true);
		const e = err as AbiSelectionError;
		for (const v of BRANCHES) {
			for (const f of set('ga102', v)) expect(e.message).toContain(f);
		}
		expect(e.message).toContain('/opt/fw, /lib/firmware');
		expect(e.message).toContain('supports 570.144, 535.113.01');
		expect(e.details.branches).toEqual(BRANCHES);
		expect(e.attempts.flatMap((a) => a.searched)).toContain('/opt/fw/nvidia/ga102/gsp/gsp-535.113.01.bin');
		expect(e.attempts.every((a) => a.outcome === 'files-missing')).toBe(true);
	});

	it('maps a point release to a known ABI through the compat map and loads its own files', () => {
		const { probe } = fs(set('ga102', '570.144.02'));
		const s = selectAbi({
			chip: 'ga102',
			branches: BRANCHES,
			abis: [r535, r570],
			compat: { '570.144.02': '570.144' },
			probe,
		});
		expect(s.abi).toBe(r570);
		expect(s.firmwareVersion).toBe('570.144.02');
		expect(s.files).toEqual(set('ga102', '570.144.02'));
	});

	it('prefers the newest alias of a branch over the branch itself', () => {
		const { probe } = fs([...set('ga102', '570.144'), ...set('ga102', '570.144.02')]);
		const s = selectAbi({
			chip: 'ga102',
			branches: BRANCHES,
			abis: [r535, r570],
			compat: { '570.144.02': '570.144' },
			probe,
		});
		expect(s.firmwareVersion).toBe('570.144.02');
	});

	it('an override forces a branch even when a newer one is present', () => {
		const { probe } = fs([...set('ga102', '570.144'), ...set('ga102', '535.113.01')]);
		const s = selectAbi({
			chip: 'ga102',
			branches: BRANCHES,
			abis: [r535, r570],
			override: '535.113.01',
			probe,
		});
		expect(s.abi).toBe(r535);
		expect(s.forced).toBe(true);
	});

	it('an override whose files are missing is an error, not a fallback', () => {
		const { probe } = fs(set('ga102', '535.113.01'));
		expect(() =>
			selectAbi({ chip: 'ga102', branches: BRANCHES, abis: [r535, r570], override: '570.144', probe }),
		).toThrow(AbiSelectionError);
	});

	it('rejects an override the chip does not support', () => {
		const { probe } = fs([]);
		try {
			selectAbi({ chip: 'ga102', branches: ['535.113.01'], abis: [r535, r570], override: '570.144', probe });
			expect.unreachable();
		} catch (e) {
			expect(isAbiError(e, 'ABI_BAD_ARGUMENT')).toBe(true);
		}
	});

	it('skips branches without an installed ABI package or that do not serve the chip', () => {
		const { probe, asked } = fs(set('ga102', '535.113.01'));
		const s = selectAbi({ chip: 'ga102', branches: ['580.1', ...BRANCHES], abis: [r535], probe });
		expect(s.attempts.map((a) => a.outcome)).toEqual(['no-abi-package', 'no-abi-package', 'selected']);
		expect(asked).toHaveLength(1);
		const gb = fs(set('gb202', '570.144'));
		expect(() =>
			selectAbi({ chip: 'gb202', branches: ['535.113.01'], abis: [r535], probe: gb.probe }),
		).toThrow(/does not serve gb202/);
	});

	it('checks what the probe returns', () => {
		expect(() =>
			selectAbi({
				chip: 'ga102',
				branches: BRANCHES,
				abis: [r570],
				probe: (() => ({})) as unknown as FirmwareProbe,
			}),
		).toThrow(AbiError);
	});

	it('works with an asynchronous probe', async () => {
		const { probe } = fs(set('ad102', '535.113.01'));
		const s = await selectAbiAsync({
			chip: 'ad102',
			branches: BRANCHES,
			abis: [r570, r535],
			probe: async (req) => probe(req),
		});
		expect(s.abi.version).toBe('535.113.01');
		await expect(
			selectAbiAsync({
				chip: 'ad102',
				branches: ['570.144'],
				abis: [r570],
				probe: async (req) => probe(req),
			}),
		).rejects.toBeInstanceOf(AbiSelectionError);
	});
});
