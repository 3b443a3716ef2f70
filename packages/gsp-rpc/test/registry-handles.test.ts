import { describe, expect, it } from 'vitest';
import {
	buildRegistryTable,
	compileRpcAbi,
	DEFAULT_REGISTRY,
	HandleAllocator,
	NOUVEAU_HANDLE_BASES,
	parseRegistryString,
	parseRegistryTable,
} from '../src/index.ts';
import { manifestAbi } from './support/abi.ts';

const wire = compileRpcAbi(manifestAbi('r535'));

describe('PACKED_REGISTRY_TABLE', () => {
	it('lays out the header, 16-byte entries, then each name (and string value) NUL-terminated', () => {
		const t = buildRegistryTable(wire, { RMA: 1, RMBee: 'xy', RMC: 0xffffffff });
		const dv = new DataView(t.buffer);
		const entries = 8 + 3 * 16;
		// names: "RMA\0" @56, "RMBee\0" @60, "xy\0" @66, "RMC\0" @69 → total 73
		expect(dv.getUint32(0, true)).toBe(73);
		expect(t.length).toBe(73);
		expect(dv.getUint32(4, true)).toBe(3);
		const entry = (i: number) => {
			const e = 8 + 16 * i;
			return [dv.getUint32(e, true), t[e + 4], dv.getUint32(e + 8, true), dv.getUint32(e + 12, true)];
		};
		expect(entry(0)).toEqual([entries, 1, 1, 4]);
		expect(entry(1)).toEqual([entries + 4, 3, entries + 10, 3]);
		expect(entry(2)).toEqual([entries + 13, 1, 0xffffffff, 4]);
		expect(new TextDecoder().decode(t.subarray(entries))).toBe('RMA\0RMBee\0xy\0RMC\0');
		expect(parseRegistryTable(wire, t)).toEqual([
			{ name: 'RMA', value: 1 },
			{ name: 'RMBee', value: 'xy' },
			{ name: 'RMC', value: 0xffffffff },
		]);
	});

	it('keeps the open drivers’ defaults and lets user keys override them', () => {
		expect(DEFAULT_REGISTRY).toEqual({
			RMSecBusResetEnable: 1,
			RMForcePcieConfigSave: 1,
			RMDevidCheckIgnore: 1,
		});
		const user = parseRegistryString('RMSecBusResetEnable=0; RMNew=0x20;RMName="gsp"');
		expect(user).toEqual({ RMSecBusResetEnable: 0, RMNew: 0x20, RMName: 'gsp' });
		const parsed = parseRegistryTable(wire, buildRegistryTable(wire, { ...DEFAULT_REGISTRY, ...user }));
		expect(parsed.map((e) => [e.name, e.value])).toEqual([
			['RMSecBusResetEnable', 0],
			['RMForcePcieConfigSave', 1],
			['RMDevidCheckIgnore', 1],
			['RMNew', 0x20],
			['RMName', 'gsp'],
		]);
	});

	it('rejects bad keys and values with RPC_ENCODE', () => {
		for (const bad of [{ '': 1 }, { RMé: 1 }, { RMX: -1 }, { RMX: 2 ** 32 }, { RMX: 1.5 }]) {
			expect(() => buildRegistryTable(wire, bad)).toThrow(expect.objectContaining({ code: 'RPC_ENCODE' }));
		}
		expect(() => parseRegistryString('RMX')).toThrow(expect.objectContaining({ code: 'RPC_ENCODE' }));
		expect(() => parseRegistryString('RMX=abc')).toThrow(expect.objectContaining({ code: 'RPC_ENCODE' }));
	});
});

describe('HandleAllocator', () => {
	it('hands out nouveau-style handles, lowest index first, reusing freed ones', () => {
		const h = new HandleAllocator();
		expect(h.alloc('client')).toBe(0xc1d00000);
		expect(h.alloc('client')).toBe(0xc1d00001);
		expect(h.alloc('device')).toBe(NOUVEAU_HANDLE_BASES.device);
		expect(h.alloc('subdevice')).toBe(0x5d1d0000);
		expect(h.allocAt('channel', 7)).toBe(0xf1f00007);
		expect(() => h.allocAt('channel', 7)).toThrow(
			expect.objectContaining({ code: 'RPC_HANDLES', errno: 'EEXIST' }),
		);
		h.free(0xc1d00000);
		expect(h.has(0xc1d00000)).toBe(false);
		expect(h.alloc('client')).toBe(0xc1d00000);
		expect(h.kindOf(0x90f10003)).toBe('vaspace');
		expect(() => h.free(0x12345678)).toThrow(expect.objectContaining({ code: 'RPC_HANDLES' }));
		h.clear();
		expect(h.has(0xc1d00001)).toBe(false);
	});

	it('refuses overlapping ranges and reports exhaustion', () => {
		const h = new HandleAllocator({ tiny: { base: 0x1000, size: 2 } });
		expect(() => h.addRange('other', { base: 0x1001, size: 4 })).toThrow(
			expect.objectContaining({ code: 'RPC_HANDLES' }),
		);
		h.alloc('tiny');
		h.alloc('tiny');
		expect(() => h.alloc('tiny')).toThrow(expect.objectContaining({ code: 'RPC_HANDLES', errno: 'ENOSPC' }));
		expect(() => h.alloc('nope')).toThrow(expect.objectContaining({ code: 'RPC_HANDLES' }));
	});
});
