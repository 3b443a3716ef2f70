/**
 * Externally owned VA spaces in the GSP-RM emulator (nouveau's `r535_mmu_vaspace_new(…, external = true)`, OpenRM
 * `gpu_vaspace.c` / `dma.c`): `NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED` turns the split off (so
 * COPY_SERVER_RESERVED_PDES does nothing), RM reserves no VA in the space, a channel needs the root
 * `NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY` gave, and the host engine walks exactly that root. Driven against the
 * RM object tree and control table directly (no boot), for both firmware branches.
 */

import { describe, expect, it } from 'vitest';
import { simChipSpec } from '../src/chips.ts';
import type { ChannelRegistration } from '../src/engines/types.ts';
import { type GspRmFirmwareVersion, gspRmAbi } from '../src/gsp-rm/abi.ts';
import type { VaSpaceRecord } from '../src/gsp-rm/channels.ts';
import { type GspChannelEvent, vaSpacePdb } from '../src/gsp-rm/channels.ts';
import { gspChipConfig } from '../src/gsp-rm/chip-config.ts';
import { NV_STATUS } from '../src/gsp-rm/constants.ts';
import { fbLayout } from '../src/gsp-rm/fb-layout.ts';
import { RmServer } from '../src/gsp-rm/rm.ts';
import { RmControls } from '../src/gsp-rm/rm-controls.ts';

const VERSIONS: readonly GspRmFirmwareVersion[] = ['535.113.01', '570.144'];
const H = { device: 0xde1d_0000, subdevice: 0x5d1d_0000, vaspace: 0x90f1_0000, channel: 0xf1f0_0000 };
/** NV2080_ENGINE_TYPE_COPY2 (both branches). */
const COPY2 = 11;
const IS_EXTERNALLY_OWNED = 1 << 3; // nvrm/vmm.h: BIT(3)
const APERTURE = { VIDMEM: 0, SYSMEM_COH: 1, SYSMEM_NONCOH: 2, INVALID: 3 };
const ROOT = 0x1234_5000n;

function world(version: GspRmFirmwareVersion, chip = 'ga102') {
	const abi = gspRmAbi(version);
	const cfg = gspChipConfig(simChipSpec(chip));
	const rm = new RmServer(abi, cfg, fbLayout(8n << 30n));
	const events: GspChannelEvent[] = [];
	rm.onChannelEvent = (e) => events.push(e);
	const controls = new RmControls(rm);
	const img = (name: string, fields: Record<string, number | bigint> = {}): Uint8Array => {
		const i = abi.image(name);
		for (const [k, v] of Object.entries(fields)) i.set(k, v);
		return i.bytes;
	};
	const root = rm.alloc(0, 0, 0, abi.classId('NV01_ROOT'), img('NV0000_ALLOC_PARAMETERS'));
	expect(root.status).toBe(NV_STATUS.NV_OK);
	const hClient = root.hObject!;
	const ok = (r: { status: number }) => expect(r.status).toBe(NV_STATUS.NV_OK);
	ok(rm.alloc(hClient, hClient, H.device, abi.classId('NV01_DEVICE_0'), img('NV0080_ALLOC_PARAMETERS')));
	ok(
		rm.alloc(hClient, H.device, H.subdevice, abi.classId('NV20_SUBDEVICE_0'), img('NV2080_ALLOC_PARAMETERS')),
	);
	const vaSpace = (h: number, fields: Record<string, number | bigint>) =>
		rm.alloc(
			hClient,
			H.device,
			h,
			abi.classId('FERMI_VASPACE_A'),
			img('NV_VASPACE_ALLOCATION_PARAMETERS', fields),
		).status;
	const control = (hObject: number, name: string, params: string, fields: Record<string, number | bigint>) =>
		controls.control(hClient, hObject, abi.controlId(name), img(params, fields)).status;
	const setPd = (fields: Record<string, number | bigint>, on = H.device) =>
		control(on, 'NV0080_CTRL_CMD_DMA_SET_PAGE_DIRECTORY', 'NV0080_CTRL_DMA_SET_PAGE_DIRECTORY_PARAMS', {
			physAddress: ROOT,
			numEntries: 4,
			flags: APERTURE.SYSMEM_COH,
			hVASpace: H.vaspace,
			...fields,
		});
	const unsetPd = (hVASpace: number) =>
		control(
			H.device,
			'NV0080_CTRL_CMD_DMA_UNSET_PAGE_DIRECTORY',
			'NV0080_CTRL_DMA_UNSET_PAGE_DIRECTORY_PARAMS',
			{
				hVASpace,
			},
		);
	const channel = (chid: number, hVASpace = H.vaspace) => {
		const i = abi.image('NV_CHANNEL_ALLOC_PARAMS');
		i.set('gpFifoOffset', 0x80_0000_0000n)
			.set('gpFifoEntries', 64)
			// USERD_INDEX_FIXED (11) | USERD_INDEX_PAGE_FIXED (21) | index 10:8 | page 20:12.
			.set('flags', (1 << 11) | (1 << 21) | ((chid % 8) << 8) | (Math.floor(chid / 8) << 12))
			.set('hVASpace', hVASpace)
			.set('engineType', COPY2);
		for (const [m, base, size, space] of [
			['instanceMem', 0x100_0000n + BigInt(chid) * 0x1000n, 0x1000n, 2],
			['userdMem', 0x200_0000n + BigInt(chid) * 0x200n, 0x200n, 2],
			['ramfcMem', 0x100_0000n + BigInt(chid) * 0x1000n, 0x200n, 2],
			['mthdbufMem', 0x30_0000n, 0x5000n, 1],
		] as const) {
			i.set(`${m}.base`, base).set(`${m}.size`, size).set(`${m}.addressSpace`, space);
		}
		return rm.alloc(hClient, H.device, H.channel + chid, abi.classId('AMPERE_CHANNEL_GPFIFO_A'), i.bytes)
			.status;
	};
	const record = (h = H.vaspace) => rm.lookup(hClient, h)?.data as unknown as VaSpaceRecord;
	const registrations = (): ChannelRegistration[] =>
		events.flatMap((e) => (e.type === 'register' ? [e.registration] : []));
	return { abi, cfg, rm, hClient, img, vaSpace, control, setPd, unsetPd, channel, record, registrations };
}

describe.each(VERSIONS)('externally owned VA spaces, GSP-RM %s', (version) => {
	it('no split: COPY_SERVER_RESERVED_PDES is accepted and changes nothing; RM allocates no VA in the space', () => {
		const w = world(version);
		expect(w.abi.constant('NV_VASPACE_ALLOCATION_FLAGS_IS_EXTERNALLY_OWNED')).toBe(IS_EXTERNALLY_OWNED);
		expect(w.vaSpace(H.vaspace, { index: 0, flags: IS_EXTERNALLY_OWNED })).toBe(NV_STATUS.NV_OK);
		expect(w.record()).toMatchObject({ externallyOwned: true, externalPdb: undefined });
		const pdes = w.abi.image('NV90F1_CTRL_VASPACE_COPY_SERVER_RESERVED_PDES_PARAMS');
		pdes
			.set('pageSize', 0x2000_0000n)
			.set('virtAddrLo', 0x1_0000_0000n)
			.set('virtAddrHi', 0x1_1fff_ffffn)
			.set('numLevelsToCopy', 1)
			.set('levels[0].physAddress', ROOT)
			.set('levels[0].size', 0x20n)
			.set('levels[0].aperture', 4)
			.set('levels[0].pageShift', 47);
		const cmd = w.abi.controlId('NV90F1_CTRL_CMD_VASPACE_COPY_SERVER_RESERVED_PDES');
		expect(new RmControls(w.rm).control(w.hClient, H.vaspace, cmd, pdes.bytes).status).toBe(NV_STATUS.NV_OK);
		// Nothing was recorded, so RM still knows no root for it.
		expect(w.record().serverReservedPdes).toBeUndefined();
		expect(vaSpacePdb(w.cfg, w.record())).toBeUndefined();
		// OpenRM gvaspaceAlloc: "Cannot reserve VA on an externally owned VASPACE".
		const virt = w.abi
			.image('NV_MEMORY_VIRTUAL_ALLOCATION_PARAMS')
			.set('hVASpace', H.vaspace)
			.set('limit', 0xfffn);
		expect(
			w.rm.alloc(w.hClient, H.device, 0x0b0b_0000, w.abi.classId('NV01_MEMORY_VIRTUAL'), virt.bytes).status,
		).toBe(NV_STATUS.NV_ERR_NOT_SUPPORTED);
		// The same alloc in an RM-managed space is fine.
		expect(w.vaSpace(H.vaspace + 1, { index: 0 })).toBe(NV_STATUS.NV_OK);
		virt.set('hVASpace', H.vaspace + 1);
		expect(
			w.rm.alloc(w.hClient, H.device, 0x0b0b_0001, w.abi.classId('NV01_MEMORY_VIRTUAL'), virt.bytes).status,
		).toBe(NV_STATUS.NV_OK);
	});

	it('a channel needs the root SET_PAGE_DIRECTORY gave, and the host walks that root', () => {
		const w = world(version);
		expect(w.vaSpace(H.vaspace, { index: 0, flags: IS_EXTERNALLY_OWNED })).toBe(NV_STATUS.NV_OK);
		expect(w.channel(3)).toBe(NV_STATUS.NV_ERR_INVALID_STATE);
		expect(w.registrations()).toHaveLength(0);
		expect(w.setPd({})).toBe(NV_STATUS.NV_OK);
		expect(w.record().externalPdb).toEqual({ physAddress: ROOT, aperture: 'sys-coherent', numEntries: 4 });
		expect(w.channel(3)).toBe(NV_STATUS.NV_OK);
		expect(w.registrations().map((r) => r.pdb)).toEqual([
			{ aperture: 'sys-coherent', address: ROOT, bigPageSize: 65536, useVer2PtFormat: true },
		]);
		// A root is set once; UNSET forgets it (a new channel is refused again), then it can be set anew.
		expect(w.setPd({ physAddress: ROOT + 0x1000n })).toBe(NV_STATUS.NV_ERR_INVALID_STATE);
		expect(w.unsetPd(H.vaspace)).toBe(NV_STATUS.NV_OK);
		expect(w.record().externalPdb).toBeUndefined();
		expect(w.channel(4)).toBe(NV_STATUS.NV_ERR_INVALID_STATE);
		expect(w.setPd({ physAddress: 0x8000_0000n, flags: APERTURE.VIDMEM })).toBe(NV_STATUS.NV_OK);
		expect(w.channel(4)).toBe(NV_STATUS.NV_OK);
		expect(w.registrations()[1]?.pdb).toMatchObject({ aperture: 'video', address: 0x8000_0000n });
		w.unsetPd(H.vaspace);
		expect(w.setPd({ flags: APERTURE.SYSMEM_NONCOH })).toBe(NV_STATUS.NV_OK);
		expect(w.record().externalPdb?.aperture).toBe('sys-noncoherent');
	});

	it("SET/UNSET_PAGE_DIRECTORY check what OpenRM's ExternalRootDirCommit/Revoke check", () => {
		const w = world(version);
		expect(w.vaSpace(H.vaspace, { index: 0, flags: IS_EXTERNALLY_OWNED })).toBe(NV_STATUS.NV_OK);
		const bad = NV_STATUS.NV_ERR_INVALID_ARGUMENT;
		// The aperture field (1:0) has three values.
		expect(w.setPd({ flags: APERTURE.INVALID })).toBe(bad);
		// The root must cover the whole VA space (MMU v2: 4 PDE3 entries of 2^47) and no more than the format has.
		for (const n of [0, 1, 3, 5, 512]) expect(w.setPd({ numEntries: n }), `numEntries ${n}`).toBe(bad);
		// PAGE_DIR_BASE holds a 4 KiB-aligned address.
		expect(w.setPd({ physAddress: ROOT + 0x800n })).toBe(bad);
		expect(w.record().externalPdb).toBeUndefined();
		// Handles: unknown, not a VA space, the device default (RM-managed, not settable).
		expect(w.setPd({ hVASpace: 0x0bad_0000 })).toBe(NV_STATUS.NV_ERR_OBJECT_NOT_FOUND);
		expect(w.setPd({ hVASpace: H.subdevice })).toBe(NV_STATUS.NV_ERR_INVALID_OBJECT_HANDLE);
		expect(w.setPd({ hVASpace: 0 })).toBe(NV_STATUS.NV_ERR_NOT_SUPPORTED);
		// A device control: the subdevice does not export it.
		expect(w.setPd({}, H.subdevice)).toBe(NV_STATUS.NV_ERR_NOT_SUPPORTED);
		// An RM-managed VA space takes no root from outside, and has none to revoke.
		expect(w.vaSpace(H.vaspace + 1, { index: 0 })).toBe(NV_STATUS.NV_OK);
		expect(w.setPd({ hVASpace: H.vaspace + 1 })).toBe(NV_STATUS.NV_ERR_NOT_SUPPORTED);
		expect(w.unsetPd(H.vaspace + 1)).toBe(NV_STATUS.NV_ERR_INVALID_STATE);
		// A VA space of at most 2^47 bytes is covered by one PDE3 entry.
		expect(w.vaSpace(H.vaspace + 2, { index: 0, flags: IS_EXTERNALLY_OWNED, vaSize: 1n << 47n })).toBe(
			NV_STATUS.NV_OK,
		);
		expect(w.setPd({ hVASpace: H.vaspace + 2, numEntries: 1 })).toBe(NV_STATUS.NV_OK);
		expect(w.setPd({})).toBe(NV_STATUS.NV_OK);
	});
});

describe('externally owned VA spaces on Hopper (MMU v3)', () => {
	it('the root is PDE4 with 2 entries of 2^56', () => {
		const w = world('570.144', 'gh100');
		expect(w.vaSpace(H.vaspace, { index: 0, flags: IS_EXTERNALLY_OWNED })).toBe(NV_STATUS.NV_OK);
		expect(w.setPd({ numEntries: 4 })).toBe(NV_STATUS.NV_ERR_INVALID_ARGUMENT);
		expect(w.setPd({ numEntries: 1 })).toBe(NV_STATUS.NV_ERR_INVALID_ARGUMENT);
		expect(w.setPd({ numEntries: 2 })).toBe(NV_STATUS.NV_OK);
	});
});
