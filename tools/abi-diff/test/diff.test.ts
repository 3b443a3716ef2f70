/**
 * `abi-diff` numbers for r535.113.01 → r570.144 against the hand-verified facts of gsp-rpc.md §3, and the
 * classification rules on small synthetic manifests.
 */
import type { LayoutManifest, ManifestType } from '@gspkit/abi';
import { abi as r535 } from '@gspkit/abi-r535';
import { abi as r570 } from '@gspkit/abi-r570';
import { describe, expect, it } from 'vitest';
import { compare, diffAbis, modelOf, packageRoots } from '../src/index.ts';

const d = await compare('@gspkit/abi-r535', '@gspkit/abi-r570');
const change = (name: string) => d.types.changed.find((t) => t.name === name);

describe('r535 → r570 (gsp-rpc.md §3)', () => {
	it('functions: 24 appended, 0 renumbered, 0 removed, reserved slot 201 named', () => {
		const f = d.messages.functions;
		expect(f.added).toHaveLength(24);
		expect(f.appended).toBe(24);
		expect(f.added.every((m) => (m.b ?? 0) >= 203 && (m.b ?? 0) <= 226)).toBe(true);
		expect(f.renumbered).toEqual([]);
		expect(f.removed).toEqual([]);
		expect(f.reassigned).toEqual([]);
		expect(f.reservedSlotsNamed).toEqual([
			expect.objectContaining({ id: 201, a: 'RESERVED_201', b: 'CTRL_GPU_QUERY_ECC_STATUS' }),
		]);
		expect(f.markers).toEqual([{ name: 'NUM_FUNCTIONS', a: 203, b: 227 }]);
		expect([f.countA, f.countB]).toEqual([203, 227]);
	});

	it('events: 1 removed, 3 renumbered by −1, 5 added', () => {
		const e = d.messages.events;
		expect(e.removed.map((m) => m.name)).toEqual(['GSP_SEND_USER_SHARED_DATA']);
		expect(e.renumbered.map((m) => [m.name, m.a, m.b])).toEqual([
			['NVLINK_FAULT_UP', 0x101c, 0x101b],
			['GSP_LOCKDOWN_NOTICE', 0x101d, 0x101c],
			['MIG_CI_CONFIG_UPDATE', 0x101e, 0x101d],
		]);
		expect(e.renumbered.every((m) => m.b! - m.a! === -1)).toBe(true);
		expect(e.added.map((m) => m.name).sort()).toEqual(
			[
				'FECS_ERROR',
				'GSP_POST_NOCAT_RECORD',
				'NVLINK_FATAL_ERROR_RECOVERY',
				'RECOVERY_ACTION',
				'UPDATE_GSP_TRACE',
			].sort(),
		);
		// With FIRST_EVENT counted, as gsp-rpc.md does: 31 → 35.
		expect([e.countA + 1, e.countB + 1]).toEqual([31, 35]);
	});

	it('calls out numbers that changed meaning: 0x101b and 0x101e collide', () => {
		const r = d.messages.events.reassigned;
		expect(r.map((x) => [x.id, x.a, x.b])).toEqual([
			[0x101b, 'GSP_SEND_USER_SHARED_DATA', 'NVLINK_FAULT_UP'],
			[0x101c, 'NVLINK_FAULT_UP', 'GSP_LOCKDOWN_NOTICE'],
			[0x101d, 'GSP_LOCKDOWN_NOTICE', 'MIG_CI_CONFIG_UPDATE'],
			[0x101e, 'MIG_CI_CONFIG_UPDATE', 'UPDATE_GSP_TRACE'],
		]);
		expect(r.find((x) => x.id === 0x101c)!.used).toBe(true);
	});

	it('sizes: GspStaticConfigInfo 2168→1656, GspSystemInfo 664→928, queue args 48→32, RMARGS 80→72', () => {
		const sizes = (n: string) => [change(n)!.sizeA, change(n)!.sizeB];
		expect(sizes('GspStaticConfigInfo')).toEqual([2168, 1656]);
		expect(sizes('GspSystemInfo')).toEqual([664, 928]);
		expect(sizes('MESSAGE_QUEUE_INIT_ARGUMENTS')).toEqual([48, 32]);
		expect(sizes('GSP_ARGUMENTS_CACHED')).toEqual([80, 72]);
		expect(sizes('NV_CHANNEL_ALLOC_PARAMS')).toEqual([360, 368]);
		expect(sizes('NV0000_ALLOC_PARAMETERS')).toEqual([108, 120]);
		for (const n of ['GspStaticConfigInfo', 'GspSystemInfo', 'NV_CHANNEL_ALLOC_PARAMS']) {
			expect(change(n)!.used, n).toBe(true);
			expect(change(n)!.incompatible, n).toBe(true);
		}
	});

	it('field-level facts: static info offsets move, GPC/TPC removed, hostPageSize added at 920', () => {
		const sci = change('GspStaticConfigInfo')!.fields;
		const f = (n: string) => sci.find((x) => x.field === n);
		expect(f('fbRegionInfoParams')).toMatchObject({ kind: 'offset', a: { offset: 840 }, b: { offset: 344 } });
		expect(f('bar1PdeBase')).toMatchObject({ kind: 'offset', a: { offset: 2088 }, b: { offset: 1536 } });
		expect(f('hInternalClient')).toMatchObject({ kind: 'offset', a: { offset: 2152 }, b: { offset: 1600 } });
		expect(f('fwWprLayoutOffset')).toMatchObject({ kind: 'added', b: { offset: 1640 } });
		expect(f('fbio_mask')).toMatchObject({ kind: 'offset', a: { type: 'u32' }, b: { type: 'u64' } });
		for (const gone of [
			'gpcInfo',
			'tpcInfo',
			'zcullInfo',
			'computeBranding',
			'SM_info',
			'gfxpBufferSize',
			'gfxpBufferAlignment',
		]) {
			expect(f(gone)?.kind, gone).toBe('removed');
		}
		const sys = change('GspSystemInfo')!.fields;
		expect(sys.find((x) => x.field === 'hostPageSize')).toMatchObject({ kind: 'added', b: { offset: 920 } });
		expect(sys.find((x) => x.field === 'acpiMethodData')).toMatchObject({
			kind: 'offset',
			a: { offset: 120 },
			b: { offset: 160 },
		});
	});

	it('the WPR meta re-carve is reported but compatible (only padding moved)', () => {
		const w = change('GspFwWprMeta')!;
		expect([w.sizeA, w.sizeB]).toEqual([256, 256]);
		expect(w.incompatible).toBe(false);
		expect(w.fields.map((x) => [x.field, x.kind]).sort()).toEqual([
			['flags', 'added'],
			['padding', 'offset'],
			['pmuReservedSize', 'added'],
		]);
	});

	it('constants: RM_ENGINE_TYPE_LAST 0x3e → 0x54 (a re-derived table), the falcon-info control moved', () => {
		const last = d.constants.changed.find((c) => c.name === 'RM_ENGINE_TYPE_LAST')!;
		expect([Number(last.a), Number(last.b)]).toEqual([0x3e, 0x54]);
		expect(last.derived).toBe(true);
		// The constructed-falcon control moved, but only fifo.constructedFalcons sends it and the driver never
		// calls that member: reported, not counted against the driver.
		expect(d.constants.moved).toContainEqual(
			expect.objectContaining({
				a: 'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO',
				b: 'NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO',
				valueA: String(0x20800a42),
				valueB: String(0x208001b0),
				used: false,
			}),
		);
		expect(d.constants.added.map((c) => c.name)).toContain('RM_ENGINE_TYPE_COPY10');
		// The heap minimum doubled, but only wpr.heapParams reads it and the driver does not use wpr.
		expect(
			d.constants.changed.find((c) => c.name === 'GSP_FW_HEAP_SIZE_OVERRIDE_LIBOS3_BAREMETAL_MIN_MB'),
		).toMatchObject({
			a: '84',
			b: '170',
			used: false,
		});
	});

	it('types renamed with an identical layout are paired', () => {
		expect(d.types.renamed).toContainEqual({
			a: 'NV2080_CTRL_INTERNAL_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
			b: 'NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
			used: false,
		});
	});

	it('used closure: roots are the members the driver uses, followed through what each binds', () => {
		expect(d.used.source).toBe('packages');
		expect(d.used.members).toHaveLength(52); // 15 gsp-rpc layouts + 29 sub-interface members + 2 types + 6 constants (core's externally owned VA spaces)
		for (const m of ['layouts.queueElement', 'fifo.workSubmitToken', 'gr.queryTopology', 'boot.wprMeta'])
			expect(d.used.members, m).toContain(m);
		for (const m of ['fifo.constructedFalcons', 'gr.contextBuffersInfo', 'device.setNotification'])
			expect(d.used.members, m).not.toContain(m);
		for (const t of [
			'GSP_MSG_QUEUE_ELEMENT',
			'GspStaticConfigInfo',
			'ACPI_METHOD_DATA',
			'NV2080_CTRL_BIOS_GET_SKU_INFO_PARAMS',
			// r570's gr.queryTopology sends the FERMI GPC/TPC controls.
			'NV2080_CTRL_GPU_GET_FERMI_TPC_INFO_PARAMS',
		]) {
			expect(d.used.types, t).toContain(t);
		}
		// Bound by members or layouts the driver never calls or reads.
		for (const t of [
			'NV0073_CTRL_CMD_DP_GET_CAPS_PARAMS',
			'NV2080_CTRL_INTERNAL_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
			'NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
			'NV2080_CTRL_INTERNAL_STATIC_GR_GET_CONTEXT_BUFFERS_INFO_PARAMS',
			'NV2080_CTRL_EVENT_SET_NOTIFICATION_PARAMS',
			'rpc_os_error_log_v17_00',
			'rpc_post_event_v17_00',
		]) {
			expect(d.used.types, t).not.toContain(t);
		}
		expect(change('NV0073_CTRL_CMD_DP_GET_CAPS_PARAMS')!.used).toBe(false);
	});

	it('headline figures of the used closure (hand-verified: see the comment)', () => {
		// Checked independently of abi-diff: a Python script that reads the two manifest JSON files, takes the C
		// types each used member binds (written down by hand from the sub-interface code), closes over
		// `struct X`/`union X` field types and compares kind/size/align/fields — 73 types; 12 changed
		// (ACPI_METHOD_DATA, GSP_ARGUMENTS_CACHED, GspFwWprMeta, GspStaticConfigInfo, GspSystemInfo,
		// MESSAGE_QUEUE_INIT_ARGUMENTS, MUX_METHOD_DATA, NV0000_ALLOC_PARAMETERS, NV0080_CTRL_GPU_GET_SRIOV_CAPS_PARAMS,
		// NV2080_CTRL_BIOS_GET_SKU_INFO_PARAMS, NV_CHANNEL_ALLOC_PARAMS, rpc_rc_triggered_v17_02), 2 removed
		// (GspSMInfo_t, NV2080_CTRL_GPU_GET_FERMI_ZCULL_INFO_PARAMS), 3 added (EcidManufacturingInfo,
		// FW_WPR_LAYOUT_OFFSET, GSP_PCIE_CONFIG_REG) = 17 = 23.3%; 11 size changes (all changed but the WPR meta);
		// 82 field offset shifts. The old roots (everything the packages bind) gave 83 types; the 10 dropped are
		// exactly the types of constructedFalcons (both names), contextBuffersInfo, setNotification and the
		// OS_ERROR_LOG / POST_EVENT layouts. Core's externally owned VA spaces add two types read from the
		// manifest by name, NV0080_CTRL_DMA_(UN)SET_PAGE_DIRECTORY_PARAMS — identical in both branches (32 B:
		// physAddress@0 u64, numEntries@8, flags@12, hVASpace@16, chId@20, subDeviceId@24, pasid@28; 8 B:
		// hVASpace@0, subDeviceId@4) — so 75 types, still 17 changed = 22.7%.
		expect(d.summary.used).toEqual({
			types: 75,
			changedTypes: 17,
			changedShare: 17 / 75,
			sizeChanges: 11,
			offsetShifts: 82,
			renamedFields: 0,
			messagesRenumbered: 1, // GSP_LOCKDOWN_NOTICE
			messagesReassigned: 3, // 0x101b (SEND_USER_SHARED_DATA), 0x101c and 0x101d (LOCKDOWN_NOTICE)
			messagesRemoved: 1, // GSP_SEND_USER_SHARED_DATA, which r535's gsp.ignoredEvents names
			constantsChanged: 0,
			incompatible: 18, // 5 message + 11 size + 2 removed types
		});
		expect(
			d.types.changed
				.filter((t) => t.used)
				.map((t) => t.name)
				.sort(),
		).toEqual([
			'ACPI_METHOD_DATA',
			'GSP_ARGUMENTS_CACHED',
			'GspFwWprMeta',
			'GspStaticConfigInfo',
			'GspSystemInfo',
			'MESSAGE_QUEUE_INIT_ARGUMENTS',
			'MUX_METHOD_DATA',
			'NV0000_ALLOC_PARAMETERS',
			'NV0080_CTRL_GPU_GET_SRIOV_CAPS_PARAMS',
			'NV2080_CTRL_BIOS_GET_SKU_INFO_PARAMS',
			'NV_CHANNEL_ALLOC_PARAMS',
			'rpc_rc_triggered_v17_02',
		]);
		expect(d.types.removed.filter((n) => d.used.types.includes(n))).toEqual([
			'GspSMInfo_t',
			'NV2080_CTRL_GPU_GET_FERMI_ZCULL_INFO_PARAMS',
		]);
		expect(d.summary.types.changed).toBe(29);
	});

	it('a use list naming fewer members gives a smaller closure (roots follow the members)', () => {
		const only = { layouts: [], subInterfaces: { fifo: ['constructedFalcons'] } };
		const a = modelOf('a', r535.manifest, { used: packageRoots(r535, only).used });
		const b = modelOf('b', r570.manifest, { used: packageRoots(r570, only).used });
		const small = diffAbis(a, b);
		expect(small.used.types).toEqual([
			'NV2080_CTRL_GPU_CONSTRUCTED_FALCON_INFO',
			'NV2080_CTRL_GPU_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
			'NV2080_CTRL_INTERNAL_CONSTRUCTED_FALCON_INFO',
			'NV2080_CTRL_INTERNAL_GET_CONSTRUCTED_FALCON_INFO_PARAMS',
		]);
		expect(small.incompatible).toContainEqual({
			category: 'constant',
			what: 'NV2080_CTRL_CMD_INTERNAL_GET_CONSTRUCTED_FALCON_INFO',
			detail: 'moved to NV2080_CTRL_CMD_GPU_GET_CONSTRUCTED_FALCON_INFO (0x208001b0)',
		});
		// fifo's shared engine tables come along with any fifo member.
		expect(small.used.tables).toContain('enum:RM_ENGINE_TYPE');
	});

	it('C types and constants read from the manifest by name are roots too', () => {
		const r = packageRoots(r570, {
			layouts: [],
			subInterfaces: {},
			types: ['NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS', 'NoSuchType'],
			constants: ['NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY', 'NV_VGPU_MSG_EVENT_GSP_LOCKDOWN_NOTICE'],
		});
		expect(r.used.types).toEqual(['NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS']);
		expect(r.used.constants).toEqual(['NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY']);
		expect(r.used.events).toContain('GSP_LOCKDOWN_NOTICE');
		expect(r.missing).toEqual(['manifest.NoSuchType']);
	});

	it('a listed member an ABI lacks is reported as missing, not silently dropped', () => {
		const r = packageRoots(r570, {
			layouts: ['queueElement', 'nope'],
			subInterfaces: { fifo: ['bind', 'gone'] },
		});
		expect(r.missing).toEqual(['fifo.gone', 'layouts.nope']);
		expect(r.used.members).toEqual(['fifo.bind', 'layouts.queueElement']);
		// Both packages provide every member the driver uses — fifo.workSubmitToken included, so channel-sched
		// takes the ABI's control rather than its hand-encoded fallback.
		expect(packageRoots(r570).missing).toEqual([]);
		expect(packageRoots(r535).missing).toEqual([]);
		expect(packageRoots(r535).used.members).toContain('fifo.workSubmitToken');
	});

	it('sub-interfaces: 4 of 16 needed new code (gsp, wpr, fifo, gr), 3 of the 11 the driver uses', () => {
		expect(d.summary.subInterfaces).toEqual({
			total: 16,
			newImplementations: 4,
			reused: 12,
			names: ['gsp', 'wpr', 'fifo', 'gr'],
			used: { total: 11, newImplementations: 3, names: ['gsp', 'fifo', 'gr'] },
		});
		expect(d.subInterfaces!.find((s) => s.name === 'wpr')!.usedMembers).toEqual([]);
		expect(d.subInterfaces!.find((s) => s.name === 'gr')!.usedMembers).toEqual(['queryTopology']);
		const client = d.subInterfaces!.find((s) => s.name === 'client')!;
		expect(client).toMatchObject({ newImplementation: false, changedTypes: ['NV0000_ALLOC_PARAMETERS'] });
		expect(d.subInterfaces!.find((s) => s.name === 'rpc')!.changedTypes).toEqual([]);
	});

	it('lists the used-closure incompatibilities, messages first', () => {
		expect(d.incompatible[0]).toEqual({
			category: 'message',
			what: 'event GSP_LOCKDOWN_NOTICE',
			detail: 'renumbered 0x101d → 0x101c',
		});
		expect(d.incompatible.map((i) => i.what)).toContain('GspStaticConfigInfo');
		expect(d.incompatible.filter((i) => i.category === 'constant')).toEqual([]);
		expect(d.incompatible.map((i) => i.what)).not.toContain('GspFwWprMeta');
		expect(d.incompatible.some((i) => i.what.startsWith('MC_ENGINE_IDX_'))).toBe(false); // re-derived, not pinned
	});

	it('an ABI compared with itself has no changes', async () => {
		const same = await compare('@gspkit/abi-r570', '@gspkit/abi-r570');
		expect(same.incompatible).toEqual([]);
		expect(same.summary.types.changed + same.summary.constants.changed).toBe(0);
		expect(same.summary.subInterfaces!.newImplementations).toBe(0);
	});
});

// ───────────────────────────── synthetic ─────────────────────────────

const T = (
	name: string,
	size: number,
	fields: [string, number, number, string][],
	align = 4,
): ManifestType => ({
	name,
	kind: 'struct',
	size,
	align,
	fields: fields.map(([n, offset, s, type]) => ({ name: n, offset, size: s, type })),
});
const M = (abi: string, types: ManifestType[], constants: [string, number, string][]): LayoutManifest => ({
	format: 'gspkit-abi-manifest/1',
	abi,
	types,
	constants: constants.map(([name, v, group]) => ({ name, value: String(v), group })),
});

describe('classification rules', () => {
	const a = M(
		'1.0',
		[
			T('Hdr', 12, [
				['x', 0, 4, 'u32'],
				['oldName', 4, 4, 'u32'],
				['rsvd', 8, 4, 'u8[4]'],
			]),
			T('Moves', 8, [
				['p', 0, 4, 'u32'],
				['q', 4, 4, 'u32'],
			]),
			T('Root', 20, [
				['h', 0, 12, 'struct Hdr'],
				['m', 12, 8, 'struct Moves'],
			]),
			T('Unused', 4, [['z', 0, 4, 'u32']]),
		],
		[
			['NV_VGPU_MSG_FUNCTION_FREE', 10, 'rpc-function'],
			['NV_VGPU_MSG_FUNCTION_RESERVED_11', 11, 'rpc-function'],
			['NV_VGPU_MSG_EVENT_GSP_INIT_DONE', 0x1001, 'rpc-event'],
			['NV_VGPU_MSG_EVENT_OLD', 0x1002, 'rpc-event'],
			['PINNED', 1, 'define'],
			['NV2080_CTRL_CMD_INTERNAL_DO_THING', 0x20800a01, 'control'],
		],
	);
	const b = M(
		'2.0',
		[
			T('Hdr', 12, [
				['x', 0, 4, 'u32'],
				['newName', 4, 4, 'u32'],
				['flags', 8, 1, 'u8'],
				['rsvd', 9, 3, 'u8[3]'],
			]),
			T('Moves', 12, [
				['n', 0, 4, 'u32'],
				['p', 4, 4, 'u32'],
				['q', 8, 4, 'u32'],
			]),
			T('Root', 24, [
				['h', 0, 12, 'struct Hdr'],
				['m', 12, 12, 'struct Moves'],
			]),
			T('Unused', 4, [['z', 0, 4, 'i32']]),
		],
		[
			['NV_VGPU_MSG_FUNCTION_FREE', 10, 'rpc-function'],
			['NV_VGPU_MSG_FUNCTION_NEW_ONE', 11, 'rpc-function'],
			['NV_VGPU_MSG_EVENT_GSP_INIT_DONE', 0x1002, 'rpc-event'],
			['NV_VGPU_MSG_EVENT_NEWER', 0x1001, 'rpc-event'],
			['PINNED', 2, 'define'],
			['NV2080_CTRL_CMD_GPU_DO_THING', 0x208001b7, 'control'],
		],
	);
	const used = {
		types: ['Root'],
		functions: [],
		events: [],
		constants: ['PINNED', 'NV2080_CTRL_CMD_INTERNAL_DO_THING'],
		tables: [],
	};
	const r = diffAbis(modelOf('a', a, { used }), modelOf('b', b, { used }));

	it('a field with a new name at the same offset and size is a rename, not remove + add', () => {
		const hdr = r.types.changed.find((t) => t.name === 'Hdr')!;
		expect(hdr.fields).toContainEqual(
			expect.objectContaining({ field: 'oldName', kind: 'renamed', renamedTo: 'newName' }),
		);
		expect(hdr.fields.some((f) => f.kind === 'removed' || f.field === 'newName')).toBe(false);
		expect(hdr.incompatible).toBe(false); // a rename and a carve of reserved space
		expect(hdr.fields).toContainEqual(
			expect.objectContaining({ field: 'rsvd', kind: 'offset', reserved: true }),
		);
	});

	it('an inserted field shifts the others and changes the size: incompatible, and its users too', () => {
		const mv = r.types.changed.find((t) => t.name === 'Moves')!;
		expect(
			mv.fields.filter((f) => f.kind === 'offset').map((f) => [f.field, f.a!.offset, f.b!.offset]),
		).toEqual([
			['p', 0, 4],
			['q', 4, 8],
		]);
		expect(mv.incompatible).toBe(true);
		expect(r.types.changed.find((t) => t.name === 'Root')!.incompatible).toBe(true);
	});

	it('a retyped field outside the used closure is reported but not an incompatibility', () => {
		const un = r.types.changed.find((t) => t.name === 'Unused')!;
		expect(un).toMatchObject({ used: false, incompatible: true });
		expect(r.incompatible.some((i) => i.what === 'Unused')).toBe(false);
	});

	it('messages: renumbered, reassigned, reserved slot named, core names used', () => {
		expect(r.messages.events.renumbered).toEqual([
			{ kind: 'event', name: 'GSP_INIT_DONE', a: 0x1001, b: 0x1002, used: true },
		]);
		expect(r.messages.events.reassigned.map((x) => [x.id, x.a, x.b])).toEqual([
			[0x1001, 'GSP_INIT_DONE', 'NEWER'],
			[0x1002, 'OLD', 'GSP_INIT_DONE'],
		]);
		expect(r.messages.functions.reservedSlotsNamed.map((x) => [x.id, x.b])).toEqual([[11, 'NEW_ONE']]);
		expect(r.messages.functions.added).toEqual([]);
		expect(r.incompatible.filter((i) => i.category === 'message').length).toBe(3);
	});

	it('constants: pinned value change and a moved control are incompatibilities', () => {
		expect(r.incompatible).toContainEqual({ category: 'constant', what: 'PINNED', detail: '1 → 2' });
		expect(r.incompatible).toContainEqual({
			category: 'constant',
			what: 'NV2080_CTRL_CMD_INTERNAL_DO_THING',
			detail: 'moved to NV2080_CTRL_CMD_GPU_DO_THING (0x208001b7)',
		});
		expect(r.summary.used.changedShare).toBeCloseTo(3 / 3);
	});
});
