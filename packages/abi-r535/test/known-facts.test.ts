/**
 * Facts about 535.113.01 from the reference (gsp-rpc.md §1–3, nouveau's r535 headers), checked against what
 * the package exposes. Offsets are read through the bound layouts, so a wrong manifest or shape fails here.
 */
import { decode, offsetof, sizeof } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import manifestJson from '../src/generated/manifest.json' with { type: 'json' };
import { abi, api, generated, manifest } from '../src/index.ts';

const L = abi.layouts;

describe('r535 identity', () => {
	it('is 535.113.01 on branch r535 and exports its manifest', () => {
		expect(abi.version).toBe('535.113.01');
		expect(abi.branch).toBe('r535');
		expect(manifest).toBe(manifestJson);
		expect(abi.manifest).toEqual(manifestJson);
		expect(manifest.abi).toBe('535.113.01');
		expect(manifest.types.length).toBe(146);
	});

	it('serves TU10x, GA100, GA10x and AD10x — not Hopper or Blackwell', () => {
		expect(abi.chips).toEqual(
			expect.arrayContaining(['tu102', 'tu117', 'ga100', 'ga102', 'ga107', 'ad102', 'ad107']),
		);
		expect(abi.chips).toHaveLength(16);
		for (const c of ['gh100', 'gb100', 'gb202']) expect(abi.chips).not.toContain(c);
		expect(() => abi.firmwareFiles('gh100')).toThrow(/does not serve/);
	});

	it('names the firmware files nouveau loads (acr/bl.bin on Turing and GA100)', () => {
		expect(abi.firmwareFiles('ga102')).toEqual([
			'nvidia/ga102/gsp/booter_load-535.113.01.bin',
			'nvidia/ga102/gsp/booter_unload-535.113.01.bin',
			'nvidia/ga102/gsp/bootloader-535.113.01.bin',
			'nvidia/ga102/gsp/gsp-535.113.01.bin',
		]);
		expect(abi.firmwareFiles('tu116')).toContain('nvidia/tu116/acr/bl.bin');
		expect(abi.firmwareFiles('ga100')).toContain('nvidia/ga100/acr/bl.bin');
		expect(abi.firmwareFiles('ad104')).not.toContain('nvidia/ad104/acr/bl.bin');
	});
});

describe('r535 message numbers', () => {
	it('numbers the functions the core sends', () => {
		expect(abi.functions).toMatchObject({
			FREE: 10,
			UNLOADING_GUEST_DRIVER: 47,
			GET_GSP_STATIC_INFO: 65,
			CONTINUATION_RECORD: 71,
			GSP_SET_SYSTEM_INFO: 72,
			SET_REGISTRY: 73,
			GSP_RM_CONTROL: 76,
			GSP_RM_ALLOC: 103,
		});
		expect((abi.functions as Record<string, number>).RESERVED_201).toBe(201);
		expect(Object.values(abi.functions)).toHaveLength(203);
		expect(abi.functionName(76)).toBe('GSP_RM_CONTROL');
	});

	it('numbers the events before r570 renumbered three of them', () => {
		expect(abi.events.GSP_INIT_DONE).toBe(0x1001);
		expect(abi.events.GSP_RUN_CPU_SEQUENCER).toBe(0x1002);
		expect(abi.events.GSP_SEND_USER_SHARED_DATA).toBe(0x101b);
		expect((abi.events as Record<string, number>).NVLINK_FAULT_UP).toBe(0x101c);
		expect(abi.events.GSP_LOCKDOWN_NOTICE).toBe(0x101d);
		expect((abi.events as Record<string, number>).MIG_CI_CONFIG_UPDATE).toBe(0x101e);
		expect(abi.eventName(0x101d)).toBe('GSP_LOCKDOWN_NOTICE');
		expect(generated.events.NUM_EVENTS).toBe(0x101f);
	});

	it('has the nine sequencer opcodes 0..8 (also as sequencerOpcodes for gsp-rpc)', () => {
		expect(abi.sequencerOpcodes).toEqual({
			REG_WRITE: 0,
			REG_MODIFY: 1,
			REG_POLL: 2,
			DELAY_US: 3,
			REG_STORE: 4,
			CORE_RESET: 5,
			CORE_START: 6,
			CORE_WAIT_FOR_HALT: 7,
			CORE_RESUME: 8,
		});
		expect(abi.nvStatus.NV_ERR_NOT_READY).toBe(0x55);
		expect(api.rpc.statusName(0x66)).toBe('NV_ERR_TIMEOUT_RETRY');
		expect(api.rpc.statusName(0x51)).toBe('NV_ERR_NO_MEMORY');
	});
});

describe('r535 layouts', () => {
	it('transport: 48-byte element header, 32-byte RPC header, 32-byte msgq TX header', () => {
		expect(offsetof(L.queueElement, 'rpc')).toBe(48);
		expect(sizeof(L.queueElement)).toBe(80);
		expect(offsetof(L.queueElement, 'rpc.function')).toBe(60);
		expect(offsetof(L.rpcHeader, 'rpc_message_data')).toBe(32);
		expect(sizeof(L.msgqTxHeader)).toBe(32);
		expect(offsetof(L.msgqTxHeader, 'entryOff')).toBe(0x1c);
		expect(sizeof(L.rmControl)).toBe(24);
		expect(sizeof(L.rmAlloc)).toBe(32);
		expect(sizeof(L.free)).toBe(16);
		expect(offsetof(L.runCpuSequencer, 'commandBuffer')).toBe(40);
	});

	it('GspSystemInfo is 664 bytes, acpiMethodData at 120, no hostPageSize', () => {
		expect(sizeof(L.systemInfo)).toBe(664);
		expect(
			manifest.types.find((t) => t.name === 'GspSystemInfo')!.fields.find((f) => f.name === 'acpiMethodData')!
				.offset,
		).toBe(120);
		expect(L.systemInfo.fields.some((f) => f.name === 'hostPageSize')).toBe(false);
	});

	it('GspStaticConfigInfo is 2168 bytes with the r535 offsets', () => {
		expect(sizeof(L.staticConfigInfo)).toBe(2168);
		expect(offsetof(L.staticConfigInfo, 'fbRegionInfoParams')).toBe(840);
		expect(offsetof(L.staticConfigInfo, 'bar1PdeBase')).toBe(2088);
		expect(offsetof(L.staticConfigInfo, 'hInternalClient')).toBe(2152);
		expect(L.staticConfigInfo.fields.some((f) => f.name === 'fwWprLayoutOffset')).toBe(false);
		expect(L.staticConfigInfo.fields.some((f) => f.name === 'gpcInfo')).toBe(true);
	});

	it('boot arguments: MESSAGE_QUEUE_INIT_ARGUMENTS 48, GSP_ARGUMENTS_CACHED 80, LIBOS region 32, WPR meta 256', () => {
		expect(sizeof(L.messageQueueInitArguments)).toBe(48);
		expect(sizeof(L.argumentsCached)).toBe(80);
		expect(offsetof(L.argumentsCached, 'srInitArguments')).toBe(48);
		expect(sizeof(L.libosRegion)).toBe(32);
		expect(sizeof(L.wprMeta)).toBe(256);
		expect(offsetof(L.wprMeta, 'verified')).toBe(248);
		expect(L.wprMeta.fields.some((f) => f.name === 'pmuReservedSize')).toBe(false);
	});

	it('alloc params: NV0000 108, NV_CHANNEL_ALLOC_PARAMS 360', () => {
		expect(sizeof(L.rootAllocParams)).toBe(108);
		expect(sizeof(L.channelAllocParams)).toBe(360);
		expect(sizeof(L.vaspaceAllocParams)).toBe(48);
		expect(sizeof(L.deviceAllocParams)).toBe(56);
	});

	it('engine enums: RM_ENGINE_TYPE_LAST 0x3e, MC_ENGINE_IDX GSP 49 / GR0 82', () => {
		expect(generated.engineTypes.LAST).toBe(0x3e);
		expect(api.intr.engineFromMcIndex(49)).toEqual({ kind: 'gsp', instance: 0 });
		expect(api.intr.engineFromMcIndex(82)).toEqual({ kind: 'gr', instance: 0 });
		expect(api.intr.engineFromMcIndex(84)).toEqual({ kind: 'gr', instance: 2 });
	});

	it('the neutral layouts agree with the manifest entry of the same name', () => {
		for (const l of Object.values(L)) {
			const t = manifest.types.find((x) => x.name === l.name)!;
			expect(t.size, l.name).toBe(l.size);
			expect(decode(l, new Uint8Array(l.size + 64), 0, { snapshot: false })).toBeDefined();
		}
	});
});
