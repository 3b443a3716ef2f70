/**
 * Facts about 535.113.01 and 570.144 from the reference (gsp-rpc.md: nouveau's and nova-core's headers,
 * sizes computed with gcc) must hold in the committed manifests and constant tables.
 */

import { describe, expect, it } from 'vitest';
import {
	committedConstants,
	committedInherited,
	committedManifest,
	constant,
	field,
	group,
	type,
} from './support.ts';

const r535 = committedManifest('r535');
const r570 = committedManifest('r570');

describe('manifest metadata', () => {
	it('names the firmware version, the format and the source without a timestamp', () => {
		expect(r535.format).toBe('gspkit-abi-manifest/1');
		expect(r535.abi).toBe('535.113.01');
		expect(r570.abi).toBe('570.144');
		for (const m of [r535, r570]) {
			expect(m.source).toMatch(
				/^linux-source-7\.\d+: .*nvrm.*; sha256 [0-9a-f]{64}; @gspkit\/abi-gen \d+\.\d+\.\d+/,
			);
			expect(m.source).not.toMatch(/20\d\d-\d\d-\d\d|T\d\d:\d\d/);
		}
		expect(r535.source).toContain('rm/r535/nvrm/{alloc,');
		expect(r570.source).toContain('rm/r570/nvrm/{client,disp,engine,fbsr,fifo,gr,gsp,msgfn,ofa,rpcfn}.h');
	});

	it('is sorted by name', () => {
		for (const m of [r535, r570]) {
			const names = m.types.map((t) => t.name);
			expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : 1)));
			const cn = m.constants.map((c) => c.name);
			expect(cn).toEqual([...cn].sort((a, b) => (a < b ? -1 : 1)));
		}
	});
});

describe('layouts that changed between 535.113.01 and 570.144', () => {
	it('GspSystemInfo: 664 → 928 bytes, hostPageSize new at 920, acpiMethodData 120 → 160', () => {
		expect(type(r535, 'GspSystemInfo').size).toBe(664);
		expect(type(r570, 'GspSystemInfo').size).toBe(928);
		expect(field(type(r570, 'GspSystemInfo'), 'hostPageSize')).toMatchObject({
			offset: 920,
			size: 8,
			type: 'u64',
		});
		expect(type(r535, 'GspSystemInfo').fields.some((f) => f.name === 'hostPageSize')).toBe(false);
		expect(field(type(r535, 'GspSystemInfo'), 'acpiMethodData').offset).toBe(120);
		expect(field(type(r570, 'GspSystemInfo'), 'acpiMethodData').offset).toBe(160);
	});

	it('GspStaticConfigInfo: 2168 → 1656 bytes with fbRegionInfoParams, bar1PdeBase and hInternalClient moved', () => {
		const a = type(r535, 'GspStaticConfigInfo');
		const b = type(r570, 'GspStaticConfigInfo');
		expect([a.size, b.size]).toEqual([2168, 1656]);
		expect([field(a, 'fbRegionInfoParams').offset, field(b, 'fbRegionInfoParams').offset]).toEqual([
			840, 344,
		]);
		expect([field(a, 'bar1PdeBase').offset, field(b, 'bar1PdeBase').offset]).toEqual([2088, 1536]);
		expect([field(a, 'hInternalClient').offset, field(b, 'hInternalClient').offset]).toEqual([2152, 1600]);
		expect(field(b, 'fwWprLayoutOffset').offset).toBe(1640);
		for (const gone of ['gpcInfo', 'tpcInfo', 'zcullInfo', 'SM_info', 'computeBranding']) {
			expect(a.fields.some((f) => f.name === gone)).toBe(true);
			expect(b.fields.some((f) => f.name === gone)).toBe(false);
		}
		expect(field(a, 'engineCaps').type).toBe('u32[2]');
		expect(field(b, 'engineCaps').type).toBe('u32[3]');
		// The typedef name and the struct tag describe the same layout.
		expect(type(r570, 'GspStaticConfigInfo_t').fields).toEqual(b.fields);
	});

	it('GspFwWprMeta: 256 bytes in both; r570 splits the padding into flags and pmuReservedSize', () => {
		const a = type(r535, 'GspFwWprMeta');
		const b = type(r570, 'GspFwWprMeta');
		expect([a.size, b.size]).toEqual([256, 256]);
		expect(field(b, 'gspFwHeapVfPartitionCount')).toMatchObject({ offset: 240, size: 1 });
		expect(field(b, 'flags')).toMatchObject({ offset: 241, size: 1, type: 'u8' });
		expect(field(b, 'padding')).toMatchObject({ offset: 242, size: 2, type: 'u8[2]' });
		expect(field(b, 'pmuReservedSize')).toMatchObject({ offset: 244, size: 4, type: 'u32' });
		expect(field(a, 'verified').offset).toBe(248);
		expect(field(b, 'verified').offset).toBe(248);
		expect(a.fields.some((f) => f.name === 'pmuReservedSize')).toBe(false);
		expect(field(a, 'padding')).toMatchObject({ offset: 241, size: 7 });
		// The two anonymous unions of the WPR meta are named after their position.
		expect(field(b, '@anon0')).toMatchObject({ offset: 72, size: 16, type: 'union GspFwWprMeta.@anon0' });
		expect(type(r570, 'GspFwWprMeta.@anon1').size).toBe(32);
	});

	it('MESSAGE_QUEUE_INIT_ARGUMENTS 48 → 32, GSP_ARGUMENTS_CACHED 80 → 72', () => {
		expect(type(r535, 'MESSAGE_QUEUE_INIT_ARGUMENTS').size).toBe(48);
		expect(type(r570, 'MESSAGE_QUEUE_INIT_ARGUMENTS').size).toBe(32);
		expect(field(type(r535, 'MESSAGE_QUEUE_INIT_ARGUMENTS'), 'locklessCmdQueueOffset').offset).toBe(32);
		expect(field(type(r570, 'MESSAGE_QUEUE_INIT_ARGUMENTS'), 'statQueueOffset').offset).toBe(24);
		expect(type(r535, 'GSP_ARGUMENTS_CACHED').size).toBe(80);
		expect(type(r570, 'GSP_ARGUMENTS_CACHED').size).toBe(72);
		expect(field(type(r570, 'GSP_ARGUMENTS_CACHED'), 'bDmemStack').size).toBe(1);
	});

	it('NV_CHANNEL_ALLOC_PARAMS 360 → 368 (tpcConfigID), NV0000_ALLOC_PARAMETERS 108 → 120 (pOsPidInfo)', () => {
		expect(type(r535, 'NV_CHANNEL_ALLOC_PARAMS').size).toBe(360);
		expect(type(r570, 'NV_CHANNEL_ALLOC_PARAMS').size).toBe(368);
		expect(field(type(r570, 'NV_CHANNEL_ALLOC_PARAMS'), 'tpcConfigID').size).toBe(4);
		expect(type(r535, 'NV0000_ALLOC_PARAMETERS').size).toBe(108);
		expect(type(r570, 'NV0000_ALLOC_PARAMETERS').size).toBe(120);
		expect(field(type(r570, 'NV0000_ALLOC_PARAMETERS'), 'pOsPidInfo')).toMatchObject({
			offset: 112,
			type: 'ptr',
		});
		expect(field(type(r535, 'NV0000_ALLOC_PARAMETERS'), 'processName')).toMatchObject({
			offset: 8,
			size: 100,
			type: 'char[100]',
		});
	});
});

describe('layouts shared by both branches', () => {
	it('GSP_MSG_QUEUE_ELEMENT is a 48-byte header followed by the 32-byte RPC header, in both', () => {
		for (const m of [r535, r570]) {
			const e = type(m, 'GSP_MSG_QUEUE_ELEMENT');
			expect(e.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
				['authTagBuffer', 0, 16],
				['aadBuffer', 16, 16],
				['checkSum', 32, 4],
				['seqNum', 36, 4],
				['elemCount', 40, 4],
				['rpc', 48, 32],
			]);
			expect(e.size).toBe(80);
			expect(e.align).toBe(8);
			const h = type(m, 'rpc_message_header_v03_00');
			expect(h.fields.map((f) => [f.name, f.offset])).toEqual([
				['header_version', 0],
				['signature', 4],
				['length', 8],
				['function', 12],
				['rpc_result', 16],
				['rpc_result_private', 20],
				['sequence', 24],
				['u', 28],
				['rpc_message_data', 32],
			]);
			expect(field(h, 'rpc_message_data').type).toMatch(/\[\]$/);
		}
	});

	it('RPC payload headers and the sequencer keep their sizes', () => {
		for (const m of [r535, r570]) {
			expect(type(m, 'rpc_gsp_rm_alloc_v03_00').size).toBe(32);
			expect(type(m, 'rpc_gsp_rm_control_v03_00').size).toBe(24);
			expect(type(m, 'NVOS00_PARAMETERS_v03_00').size).toBe(16);
			expect(type(m, 'rpc_run_cpu_sequencer_v17_00').size).toBe(40);
			expect(type(m, 'msgqTxHeader').size).toBe(32);
			expect(type(m, 'PACKED_REGISTRY_ENTRY').size).toBe(16);
			expect(field(type(m, 'PACKED_REGISTRY_TABLE'), 'entries')).toMatchObject({
				offset: 8,
				type: 'struct PACKED_REGISTRY_ENTRY[]',
				countField: 'numEntries',
			});
			expect(type(m, 'rpc_unloading_guest_driver_v1F_07').size).toBe(8);
		}
	});

	it('bit-fields carry their storage unit and bit position', () => {
		const t = type(r535, 'pte_desc');
		expect(field(t, 'idr')).toMatchObject({ offset: 0, size: 4, bitOffset: 0, bitSize: 2 });
		expect(field(t, 'reserved1')).toMatchObject({ offset: 0, size: 4, bitOffset: 2, bitSize: 14 });
		expect(field(t, 'length')).toMatchObject({ offset: 0, size: 4, bitOffset: 16, bitSize: 16 });
	});

	it('r570 takes the transport structures nouveau reuses from r535 (inherited.json lists them)', () => {
		const inh = committedInherited('r570');
		expect(inh).toBeDefined();
		for (const t of [
			'GSP_MSG_QUEUE_ELEMENT',
			'rpc_message_header_v03_00',
			'PACKED_REGISTRY_TABLE',
			'msgqTxHeader',
		]) {
			expect(inh!.types).toContain(t);
		}
		expect(inh!.types).not.toContain('GspSystemInfo');
		expect(inh!.constants).toContain('GSP_SEQ_BUF_OPCODE_CORE_RESUME');
		expect(inh!.constants).not.toContain('NV_VGPU_MSG_EVENT_GSP_SEND_USER_SHARED_DATA');
		expect(committedInherited('r535')).toBeUndefined();
	});
});

describe('RPC function and event IDs', () => {
	const fns = (m: typeof r535) => new Map(group(m, 'rpc-function').map((c) => [c.name, BigInt(c.value)]));
	const evs = (m: typeof r535) => new Map(group(m, 'rpc-event').map((c) => [c.name, BigInt(c.value)]));

	it('NUM_FUNCTIONS is 203 in r535 and 227 in r570', () => {
		expect(constant(r535, 'NV_VGPU_MSG_FUNCTION_NUM_FUNCTIONS')).toBe(203n);
		expect(constant(r570, 'NV_VGPU_MSG_FUNCTION_NUM_FUNCTIONS')).toBe(227n);
	});

	it('r570 appends exactly 24 functions (203–226) and renumbers none', () => {
		const a = fns(r535);
		const b = fns(r570);
		const appended = [...b].filter(([n, v]) => v >= 203n && v <= 226n && !a.has(n));
		expect(appended).toHaveLength(24);
		expect(new Set(appended.map(([, v]) => v)).size).toBe(24);
		for (const [n, v] of a) {
			if (n.endsWith('NUM_FUNCTIONS') || n === 'NV_VGPU_MSG_FUNCTION_RESERVED_201') continue;
			expect(b.get(n), n).toBe(v);
		}
		expect(a.get('NV_VGPU_MSG_FUNCTION_RESERVED_201')).toBe(201n);
		expect(b.get('NV_VGPU_MSG_FUNCTION_CTRL_GPU_QUERY_ECC_STATUS')).toBe(201n);
		expect(b.get('NV_VGPU_MSG_FUNCTION_RM_API_CONTROL')).toBe(204n);
		expect(b.get('NV_VGPU_MSG_FUNCTION_GET_STATIC_DATA')).toBe(207n);
		expect(b.get('NV_VGPU_MSG_FUNCTION_CTRL_EXEC_PARTITIONS_EXPORT')).toBe(226n);
	});

	it('functions the core sends have their documented numbers in both', () => {
		for (const m of [r535, r570]) {
			const f = fns(m);
			expect(f.get('NV_VGPU_MSG_FUNCTION_GSP_SET_SYSTEM_INFO')).toBe(72n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_SET_REGISTRY')).toBe(73n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_GSP_RM_CONTROL')).toBe(76n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_GSP_RM_ALLOC')).toBe(103n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_GET_GSP_STATIC_INFO')).toBe(65n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_CONTINUATION_RECORD')).toBe(71n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_UNLOADING_GUEST_DRIVER')).toBe(47n);
			expect(f.get('NV_VGPU_MSG_FUNCTION_FREE')).toBe(10n);
		}
	});

	it('events: one removed, three renumbered by −1, five added', () => {
		const a = evs(r535);
		const b = evs(r570);
		const E = 'NV_VGPU_MSG_EVENT_';
		expect(a.get(`${E}GSP_LOCKDOWN_NOTICE`)).toBe(0x101dn);
		expect(b.get(`${E}GSP_LOCKDOWN_NOTICE`)).toBe(0x101cn);
		expect([a.get(`${E}NVLINK_FAULT_UP`), b.get(`${E}NVLINK_FAULT_UP`)]).toEqual([0x101cn, 0x101bn]);
		expect([a.get(`${E}MIG_CI_CONFIG_UPDATE`), b.get(`${E}MIG_CI_CONFIG_UPDATE`)]).toEqual([
			0x101en,
			0x101dn,
		]);
		expect(a.get(`${E}GSP_SEND_USER_SHARED_DATA`)).toBe(0x101bn);
		expect(b.has(`${E}GSP_SEND_USER_SHARED_DATA`)).toBe(false);
		expect([a.get(`${E}NUM_EVENTS`), b.get(`${E}NUM_EVENTS`)]).toEqual([0x101fn, 0x1023n]);
		const added = [...b.keys()].filter((n) => !a.has(n));
		expect(added.sort()).toEqual(
			[
				'GSP_POST_NOCAT_RECORD',
				'NVLINK_FATAL_ERROR_RECOVERY',
				'UPDATE_GSP_TRACE',
				'FECS_ERROR',
				'RECOVERY_ACTION',
			]
				.map((n) => E + n)
				.sort(),
		);
		for (const n of ['GSP_INIT_DONE', 'GSP_RUN_CPU_SEQUENCER', 'OS_ERROR_LOG', 'UCODE_LIBOS_PRINT']) {
			expect(a.get(E + n), n).toBe(b.get(E + n));
		}
		expect(b.get(`${E}GSP_RUN_CPU_SEQUENCER`)).toBe(0x1002n);
	});
});

describe('other constants', () => {
	it('sequencer opcodes 0–8', () => {
		const names = [
			'REG_WRITE',
			'REG_MODIFY',
			'REG_POLL',
			'DELAY_US',
			'REG_STORE',
			'CORE_RESET',
			'CORE_START',
			'CORE_WAIT_FOR_HALT',
			'CORE_RESUME',
		];
		for (const m of [r535, r570]) {
			const ops = group(m, 'seq-opcode');
			expect(ops).toHaveLength(9);
			for (const [i, n] of names.entries()) expect(constant(m, `GSP_SEQ_BUF_OPCODE_${n}`)).toBe(BigInt(i));
		}
	});

	it('magics, classes, controls and engine numbering', () => {
		for (const m of [r535, r570]) {
			expect(constant(m, 'GSP_FW_WPR_META_MAGIC')).toBe(0xdc3aae21371a60b3n);
			expect(constant(m, 'GSP_FW_WPR_META_REVISION')).toBe(1n);
			expect(constant(m, 'GSP_FW_SR_META_MAGIC')).toBe(0x8a3bb9e6c6c39d93n);
			const cls = new Map(group(m, 'class').map((c) => [c.name, BigInt(c.value)]));
			expect(cls.get('NV01_ROOT')).toBe(0n);
			expect(cls.get('NV01_DEVICE_0')).toBe(0x80n);
			expect(cls.get('NV20_SUBDEVICE_0')).toBe(0x2080n);
			expect(cls.get('FERMI_VASPACE_A')).toBe(0x90f1n);
			expect(cls.get('AMPERE_CHANNEL_GPFIFO_A')).toBe(0xc56fn);
			expect(cls.get('TURING_CHANNEL_GPFIFO_A')).toBe(0xc46fn);
			const ctl = new Map(group(m, 'control').map((c) => [c.name, BigInt(c.value)]));
			expect(ctl.get('NV2080_CTRL_CMD_INTERNAL_INTR_GET_KERNEL_TABLE')).toBe(0x20800a5cn);
			expect(ctl.get('NVA06F_CTRL_CMD_BIND')).toBe(0xa06f0104n);
			expect(ctl.get('NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES')).toBe(0x90f10106n);
		}
		expect(constant(r535, 'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO')).toBe(0x20800a42n);
		expect(constant(r570, 'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO')).toBeUndefined();
		expect(constant(r570, 'NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO')).toBe(0x208001b0n);
		expect(constant(r535, 'RM_ENGINE_TYPE_LAST')).toBe(0x3en);
		expect(constant(r570, 'RM_ENGINE_TYPE_LAST')).toBe(0x54n);
		expect(constant(r570, 'RM_ENGINE_TYPE_COPY10')).toBe(0x13n);
		expect([constant(r535, 'MC_ENGINE_IDX_GSP'), constant(r570, 'MC_ENGINE_IDX_GSP')]).toEqual([49n, 50n]);
		expect([constant(r535, 'MC_ENGINE_IDX_GR0'), constant(r570, 'MC_ENGINE_IDX_GR0')]).toEqual([82n, 84n]);
		expect(constant(r570, 'MC_ENGINE_IDX_MSENC')).toBeUndefined();
	});
});

describe('generated constants modules', () => {
	it('expose the ID tables without prefixes, bigint beyond 2^53', async () => {
		const a = await committedConstants('r535');
		const b = await committedConstants('r570');
		expect(a.ABI_VERSION).toBe('535.113.01');
		expect(b.ABI_VERSION).toBe('570.144');
		const fa = a.functions as Record<string, number>;
		const fb = b.functions as Record<string, number>;
		expect(fa.GSP_RM_ALLOC).toBe(103);
		expect(fb.NUM_FUNCTIONS).toBe(227);
		expect((a.events as Record<string, number>).GSP_LOCKDOWN_NOTICE).toBe(0x101d);
		expect((b.events as Record<string, number>).GSP_LOCKDOWN_NOTICE).toBe(0x101c);
		expect((b.events as Record<string, number>).GSP_SEND_USER_SHARED_DATA).toBeUndefined();
		expect((a.seqOpcodes as Record<string, number>).CORE_RESUME).toBe(8);
		expect((b.classes as Record<string, number>).NV20_SUBDEVICE_0).toBe(0x2080);
		expect((b.controls as Record<string, number>).NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO).toBe(
			0x208001b0,
		);
		expect((b.engineTypes as Record<string, number>).LAST).toBe(0x54);
		expect((a.constants as Record<string, unknown>).GSP_FW_WPR_META_MAGIC).toBe(0xdc3aae21371a60b3n);
		expect((a.constants as Record<string, unknown>).GSP_FW_WPR_META_REVISION).toBe(1);
		expect((b.bitRanges as Record<string, unknown>).NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_GSP_OWNED).toEqual([
			6, 6,
		]);
		expect(
			(a.bitRanges as Record<string, unknown>).NV_KERNELCHANNEL_ALLOC_INTERNALFLAGS_GSP_OWNED,
		).toBeUndefined();
		const enums = b.enums as Record<string, Record<string, number>>;
		expect(enums.LibosMemoryRegionKind?.LIBOS_MEMORY_REGION_RADIX3).toBe(2);
	});
});
