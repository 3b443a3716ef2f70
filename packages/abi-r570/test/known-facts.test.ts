/**
 * Facts about 570.144 from the reference (gsp-rpc.md §2–3; nouveau's r570 headers; nova-core's bindings),
 * checked against what the package exposes.
 */
import { offsetof, sizeof } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { describe, expect, it } from 'vitest';
import manifestJson from '../src/generated/manifest.json' with { type: 'json' };
import { abi, api, generated, manifest } from '../src/index.ts';

const L = abi.layouts;

describe('r570 identity', () => {
	it('is 570.144 on branch r570 and exports its manifest', () => {
		expect(abi.version).toBe('570.144');
		expect(abi.branch).toBe('r570');
		expect(manifest).toBe(manifestJson);
		expect(abi.manifest).toEqual(manifestJson);
		expect(manifest.abi).toBe('570.144');
	});

	it('serves r535 chips plus GH100, GB10x and GB20x', () => {
		expect(abi.chips).toEqual(
			expect.arrayContaining([...r535.chips, 'gh100', 'gb100', 'gb102', 'gb202', 'gb207']),
		);
		expect(abi.chips).toHaveLength(24);
	});

	it('names gen_bootloader on Turing/GA100 and fmc + bootloader (no booter) on Hopper/Blackwell', () => {
		expect(abi.firmwareFiles('tu104')).toContain('nvidia/tu104/gsp/gen_bootloader-570.144.bin');
		expect(abi.firmwareFiles('tu104')).not.toContain('nvidia/tu104/acr/bl.bin');
		expect(abi.firmwareFiles('ga102')).toHaveLength(4);
		expect(abi.firmwareFiles('gh100')).toEqual([
			'nvidia/gh100/gsp/bootloader-570.144.bin',
			'nvidia/gh100/gsp/fmc-570.144.bin',
			'nvidia/gh100/gsp/gsp-570.144.bin',
		]);
	});
});

describe('r570 message numbers', () => {
	it('keeps every r535 function number and appends 24', () => {
		const f = abi.functions as Record<string, number>;
		for (const [name, id] of Object.entries(r535.functions))
			if (name !== 'RESERVED_201') expect(f[name], name).toBe(id);
		expect(f.CTRL_GPU_QUERY_ECC_STATUS).toBe(201);
		expect(f.RM_API_CONTROL).toBe(204);
		expect(f.GET_STATIC_DATA).toBe(207);
		expect(f.CTRL_EXEC_PARTITIONS_EXPORT).toBe(226);
		expect(Object.values(f).filter((id) => id >= 203)).toHaveLength(24);
		expect(generated.functions.NUM_FUNCTIONS).toBe(227);
	});

	it('removed GSP_SEND_USER_SHARED_DATA and renumbered three events by −1', () => {
		const e = abi.events as Record<string, number>;
		expect(abi.events.GSP_SEND_USER_SHARED_DATA).toBeUndefined();
		expect(e.NVLINK_FAULT_UP).toBe(0x101b);
		expect(abi.events.GSP_LOCKDOWN_NOTICE).toBe(0x101c);
		expect(e.MIG_CI_CONFIG_UPDATE).toBe(0x101d);
		expect(e.UPDATE_GSP_TRACE).toBe(0x101e);
		expect(e.RECOVERY_ACTION).toBe(0x1022);
		expect(abi.eventName(0x101c)).toBe('GSP_LOCKDOWN_NOTICE');
		expect(abi.eventName(0x101b)).toBeUndefined(); // not a neutral name any more
		expect(generated.events.NUM_EVENTS).toBe(0x1023);
	});
});

describe('r570 layouts', () => {
	it('transport structures are unchanged', () => {
		for (const k of [
			'queueElement',
			'rpcHeader',
			'msgqTxHeader',
			'msgqRxHeader',
			'rmAlloc',
			'rmControl',
			'free',
			'runCpuSequencer',
		] as const) {
			expect(sizeof(L[k]), k).toBe(sizeof(r535.layouts[k]));
		}
		expect(offsetof(L.queueElement, 'rpc.function')).toBe(60);
	});

	it('GspSystemInfo is 928 bytes with hostPageSize at 920 and acpiMethodData at 160', () => {
		expect(sizeof(L.systemInfo)).toBe(928);
		const t = manifest.types.find((x) => x.name === 'GspSystemInfo')!;
		expect(t.fields.find((f) => f.name === 'hostPageSize')).toMatchObject({
			offset: 920,
			size: 8,
			type: 'u64',
		});
		expect(t.fields.find((f) => f.name === 'acpiMethodData')!.offset).toBe(160);
		expect(t.fields.find((f) => f.name === 'PCIDeviceID')!.offset).toBe(88);
	});

	it('GspStaticConfigInfo is 1656 bytes; GPC/TPC data is gone; fwWprLayoutOffset at 1640', () => {
		expect(sizeof(L.staticConfigInfo)).toBe(1656);
		expect(offsetof(L.staticConfigInfo, 'fbRegionInfoParams')).toBe(344);
		expect(offsetof(L.staticConfigInfo, 'bar1PdeBase')).toBe(1536);
		expect(offsetof(L.staticConfigInfo, 'hInternalClient')).toBe(1600);
		expect(offsetof(L.staticConfigInfo, 'fwWprLayoutOffset')).toBe(1640);
		for (const gone of ['gpcInfo', 'tpcInfo', 'zcullInfo', 'SM_info', 'computeBranding']) {
			expect(
				L.staticConfigInfo.fields.some((f) => f.name === gone),
				gone,
			).toBe(false);
		}
	});

	it('GspFwWprMeta stays 256 bytes: flags at 241, pmuReservedSize at 244, verified at 248', () => {
		expect(sizeof(L.wprMeta)).toBe(256);
		expect(offsetof(L.wprMeta, 'flags')).toBe(241);
		expect(offsetof(L.wprMeta, 'pmuReservedSize')).toBe(244);
		expect(offsetof(L.wprMeta, 'verified')).toBe(248);
	});

	it('MESSAGE_QUEUE_INIT_ARGUMENTS 32, GSP_ARGUMENTS_CACHED 72 with bDmemStack', () => {
		expect(sizeof(L.messageQueueInitArguments)).toBe(32);
		expect(sizeof(L.argumentsCached)).toBe(72);
		expect(offsetof(L.argumentsCached, 'bDmemStack')).toBe(48);
	});

	it('NV_CHANNEL_ALLOC_PARAMS 368 (+tpcConfigID), NV0000_ALLOC_PARAMETERS 120 (+pOsPidInfo)', () => {
		expect(sizeof(L.channelAllocParams)).toBe(368);
		expect(offsetof(L.channelAllocParams, 'tpcConfigID')).toBe(360);
		expect(sizeof(L.rootAllocParams)).toBe(120);
		expect(offsetof(L.rootAllocParams, 'pOsPidInfo')).toBe(112);
	});

	it('engine enums: RM_ENGINE_TYPE_LAST 0x54, COPY10 at 0x13, MC GSP 50 / GR0 84', () => {
		expect(generated.engineTypes.LAST).toBe(0x54);
		expect(generated.engineTypes.COPY10).toBe(0x13);
		expect(generated.engineTypes.OFA0).toBe(0x3e);
		expect(api.fifo.engineFromRmType(0x13)).toEqual({ kind: 'ce', instance: 10, nv2080Type: 52 });
		expect(api.fifo.engineFromRmType(0x28)).toEqual({ kind: 'nvenc', instance: 3, nv2080Type: 63 });
		expect(api.fifo.engineFromRmType(0x3f)).toEqual({ kind: 'ofa', instance: 1, nv2080Type: 62 });
		expect(api.intr.engineFromMcIndex(50)).toEqual({ kind: 'gsp', instance: 0 });
		expect(api.intr.engineFromMcIndex(84)).toEqual({ kind: 'gr', instance: 0 });
		expect(api.intr.engineFromMcIndex(49)).toBeUndefined(); // NVLINK in r570
		expect(api.intr.engineFromMcIndex(176)).toEqual({ kind: 'disp', instance: 1 }); // DISP_LOW
	});
});
