import { describe, expect, it } from 'vitest';
import {
	AbiError,
	AbiRegistry,
	compareVersions,
	defineFirmwareAbi,
	type FirmwareAbiSpec,
	RPC_EVENT_NAMES,
	RPC_FUNCTION_NAMES,
	struct,
	toManifest,
	u32,
} from '../src/index.ts';
import { MsgqTxHeader, RpcHeader } from './fixtures/layouts.ts';

function errorOf(fn: () => unknown): AbiError {
	try {
		fn();
	} catch (e) {
		if (e instanceof AbiError) return e;
		throw e;
	}
	throw new Error('did not throw');
}

// Numbers from the reference (gsp-rpc.md §2), used here only as realistic test data.
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
const EVENTS_535 = {
	GSP_INIT_DONE: 0x1001,
	GSP_RUN_CPU_SEQUENCER: 0x1002,
	POST_EVENT: 0x1003,
	RC_TRIGGERED: 0x1004,
	MMU_FAULT_QUEUED: 0x1005,
	OS_ERROR_LOG: 0x1006,
	UCODE_LIBOS_PRINT: 0x100c,
	GSP_SEND_USER_SHARED_DATA: 0x101b,
	GSP_LOCKDOWN_NOTICE: 0x101d,
};
const { GSP_SEND_USER_SHARED_DATA: _removed, ...EVENTS_570_BASE } = EVENTS_535;
const EVENTS_570 = { ...EVENTS_570_BASE, GSP_LOCKDOWN_NOTICE: 0x101c };

function spec(version: string, overrides: Partial<FirmwareAbiSpec> = {}): FirmwareAbiSpec {
	const layouts = { msgqTxHeader: MsgqTxHeader, rpcHeader: RpcHeader };
	return {
		version,
		branch: `r${version.split('.')[0]}`,
		chips: ['tu102', 'ga102'],
		firmwareFiles: (chip) => [
			`nvidia/${chip}/gsp/gsp-${version}.bin`,
			`nvidia/${chip}/gsp/booter_load-${version}.bin`,
		],
		functions: FUNCTIONS,
		events: version.startsWith('535') ? EVENTS_535 : EVENTS_570,
		layouts,
		manifest: toManifest(layouts, { abi: version }),
		subInterfaces: { gsp: { staticInfoHasGpcTpc: version.startsWith('535') } },
		...overrides,
	};
}

describe('defineFirmwareAbi', () => {
	it('builds a frozen ABI with reverse lookups', () => {
		const abi = defineFirmwareAbi(spec('535.113.01'));
		expect(abi.version).toBe('535.113.01');
		expect(abi.functions.GSP_RM_CONTROL).toBe(76);
		expect(abi.functionName(103)).toBe('GSP_RM_ALLOC');
		expect(abi.functionName(9999)).toBeUndefined();
		expect(abi.eventName(0x101d)).toBe('GSP_LOCKDOWN_NOTICE');
		expect(abi.eventName(0x101b)).toBe('GSP_SEND_USER_SHARED_DATA');
		expect(abi.firmwareFiles('ga102')).toEqual([
			'nvidia/ga102/gsp/gsp-535.113.01.bin',
			'nvidia/ga102/gsp/booter_load-535.113.01.bin',
		]);
		expect(errorOf(() => abi.firmwareFiles('gh100')).code).toBe('ABI_NOT_FOUND');
		expect(Object.isFrozen(abi)).toBe(true);
		expect(Object.isFrozen(abi.functions)).toBe(true);
		expect(abi.layouts.rpcHeader).toBe(RpcHeader);
	});

	it('the optional event may be absent (r570), and renumbered events are looked up per ABI', () => {
		const r570 = defineFirmwareAbi(spec('570.144'));
		expect(r570.events.GSP_SEND_USER_SHARED_DATA).toBeUndefined();
		expect(r570.eventName(0x101c)).toBe('GSP_LOCKDOWN_NOTICE');
		expect(r570.eventName(0x101d)).toBeUndefined();
	});

	it('reports every problem at once with ABI_DEFINITION', () => {
		const { GSP_RM_CONTROL: _, ...fns } = FUNCTIONS;
		const e = errorOf(() =>
			defineFirmwareAbi(
				spec('535.113.01', {
					branch: 'r570',
					functions: { ...fns, FREE: 72 } as never,
					events: { ...EVENTS_535, OS_ERROR_LOG: 0x10 },
					chips: ['ga102', 'GA102', 'ga102'],
					firmwareFiles: { ga102: ['/lib/firmware/x.bin', 'a/../b'] },
				}),
			),
		);
		expect(e.code).toBe('ABI_DEFINITION');
		const problems = (e.details.problems as string[]).join('\n');
		expect(problems).toContain('branch "r570" does not match version 535.113.01');
		expect(problems).toContain('function GSP_RM_CONTROL is missing');
		expect(problems).toContain('share number 72');
		expect(problems).toContain('event OS_ERROR_LOG = 16');
		expect(problems).toContain('chip "GA102"');
		expect(problems).toContain('chip ga102 is listed twice');
		expect(problems).toContain('must be relative');
	});

	it('requires every required event, files for every chip, a valid manifest that agrees with the layouts', () => {
		for (const name of RPC_EVENT_NAMES) {
			const events = { ...EVENTS_535 } as Record<string, number>;
			delete events[name];
			expect(
				errorOf(() => defineFirmwareAbi(spec('535.113.01', { events: events as never }))).code,
				name,
			).toBe('ABI_DEFINITION');
		}
		expect(RPC_FUNCTION_NAMES).toHaveLength(8);
		expect(
			errorOf(() => defineFirmwareAbi(spec('535.113.01', { firmwareFiles: { tu102: ['a.bin'] } }))).message,
		).toContain('chip ga102 has no firmware files');
		expect(
			errorOf(() => defineFirmwareAbi(spec('535.113.01', { manifest: { format: 'x' } as never }))).message,
		).toContain('manifest');
		const other = struct('MsgqTxHeader', [['version', u32]]);
		const e = errorOf(() =>
			defineFirmwareAbi(spec('535.113.01', { manifest: toManifest([other], { abi: '535.113.01' }) })),
		);
		expect(e.message).toContain('disagrees with the manifest');
		expect(
			errorOf(() => defineFirmwareAbi(spec('535.113.01', { manifest: toManifest([], { abi: '570.144' }) })))
				.message,
		).toContain('manifest describes ABI 570.144');
		expect(errorOf(() => defineFirmwareAbi(spec('5x', {}))).code).toBe('ABI_DEFINITION');
		expect(
			errorOf(() => defineFirmwareAbi(spec('535.113.01', { layouts: { x: {} as never } }))).message,
		).toContain('not a layout');
	});
});

describe('AbiRegistry', () => {
	it('keeps ABIs newest first, by chip and branch', () => {
		const reg = new AbiRegistry()
			.register(defineFirmwareAbi(spec('535.113.01')))
			.register(defineFirmwareAbi(spec('570.144', { chips: ['ga102', 'gh100'] })));
		expect(reg.versions()).toEqual(['570.144', '535.113.01']);
		expect(reg.forChip('ga102').map((a) => a.version)).toEqual(['570.144', '535.113.01']);
		expect(reg.forChip('tu102').map((a) => a.version)).toEqual(['535.113.01']);
		expect(reg.forChip('gb202')).toEqual([]);
		expect(reg.forBranch('r570').map((a) => a.version)).toEqual(['570.144']);
		expect(reg.get('570.144').branch).toBe('r570');
		expect(reg.has('550.1')).toBe(false);
		const e = errorOf(() => reg.get('550.1'));
		expect(e.code).toBe('ABI_NOT_FOUND');
		expect(e.details.known).toEqual(['570.144', '535.113.01']);
		expect(errorOf(() => reg.register(defineFirmwareAbi(spec('535.113.01')))).code).toBe('ABI_DUPLICATE');
	});

	it('re-validates what it is given', () => {
		const abi = defineFirmwareAbi(spec('535.113.01'));
		const forged = { ...abi, functions: { ...abi.functions, FREE: 0x2000 } };
		expect(errorOf(() => new AbiRegistry().register(forged)).code).toBe('ABI_DEFINITION');
	});

	it('compares versions numerically', () => {
		expect(compareVersions('570.144', '535.113.01')).toBe(1);
		expect(compareVersions('535.113.01', '535.113.1')).toBe(0);
		expect(compareVersions('535.9', '535.113')).toBe(-1);
	});
});
