import type { FirmwareAbi } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import { coreAbiView, describeRc, isCoreError, pciBdf } from '../src/index.ts';

describe('coreAbiView', () => {
	it('names every member an ABI lacks', () => {
		const abi = {
			version: '999.1',
			subInterfaces: {
				client: { allocParams: () => new Uint8Array() },
				gsp: { encodeSystemInfo: () => new Uint8Array() },
				alloc: { classes: { NV01_ROOT: 0, NV01_DEVICE_0: 0x80 } },
			},
		} as unknown as FirmwareAbi;
		let err: unknown;
		try {
			coreAbiView(abi);
		} catch (e) {
			err = e;
		}
		expect(isCoreError(err, 'CORE_ABI_UNSUPPORTED')).toBe(true);
		const missing = (err as { details: { missing: string[] } }).details.missing;
		expect(missing).toContain('gsp.decodeStaticInfo');
		expect(missing).toContain('gr.queryTopology');
		expect(missing).toContain('vmm.copyServerReservedPdes');
		expect(missing).toContain('alloc.classes.FERMI_VASPACE_A');
		expect(missing).not.toContain('client.allocParams');
		expect(missing).not.toContain('alloc.classes.NV01_ROOT');
	});
});

describe('describeRc', () => {
	it('r535 record: Xid name, no address', () => {
		const d = describeRc({ nv2080EngineType: 9, chid: 3, exceptType: 31, scope: 0 }, true);
		expect(d.text).toBe('GPU memory page fault (MMU fault) (Xid 31)');
		expect(d.details).toEqual({
			exceptType: 31,
			xid: 'GPU memory page fault (MMU fault)',
			mmuFaultQueued: true,
		});
	});

	it('r570 record: the fault address is rebuilt from its two halves', () => {
		const d = describeRc(
			{ exceptType: 31, mmuFaultAddrLo: 0x12345000, mmuFaultAddrHi: 0x40, mmuFaultType: 2 },
			false,
		);
		expect(d.text).toBe('GPU memory page fault (MMU fault) (Xid 31) at VA 0x4012345000');
		expect(d.details).toMatchObject({ faultAddress: '0x4012345000', faultType: 2 });
	});

	it('an unnamed Xid after an MMU fault says so', () => {
		const d = describeRc({ exceptType: 39, mmuFaultAddrLo: 0, mmuFaultAddrHi: 0 }, true);
		expect(d.text).toBe('copy engine 0 error (Xid 39) after an MMU fault');
		expect(d.details.faultAddress).toBeUndefined();
	});
});

describe('pciBdf', () => {
	it('packs bus, device and function like pci_dev_id', () => {
		expect(pciBdf('0000:01:00.0')).toBe(0x100);
		expect(pciBdf('0000:3b:1f.7')).toBe((0x3b << 8) | (0x1f << 3) | 7);
		expect(pciBdf('3b:02.1')).toBe((0x3b << 8) | (2 << 3) | 1);
		expect(pciBdf('garbage')).toBe(0);
	});
});
