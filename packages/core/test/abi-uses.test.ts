/**
 * `CORE_ABI_USES` against the libraries' own run-time checks: every member `coreAbiView`, channel-sched's
 * `fifoAbiOf`/`ceAbiOf` and falcon-boot's `bootAbiOf` touch must be listed, and every listed member must be
 * named in the source of the consumer that claims it (so the list neither misses nor invents a use).
 */
import { readFileSync } from 'node:fs';
import type { FirmwareAbi } from '@gspkit/abi';
import { ceAbiOf, fifoAbiOf } from '@gspkit/channel-sched';
import { bootAbiOf } from '@gspkit/falcon-boot';
import { RPC_LAYOUT_TYPES } from '@gspkit/gsp-rpc';
import { describe, expect, it } from 'vitest';
import { ABI_USES_BY_CONSUMER, CORE_ABI_USES, coreAbiView, mergeAbiUses } from '../src/index.ts';

/** An ABI whose sub-interfaces answer any member and record which ones were read. */
function tracingAbi(): { abi: FirmwareAbi; touched: Set<string> } {
	const touched = new Set<string>();
	const writer = { encode: () => new Uint8Array(8), size: 8 };
	const member = (sub: string, name: string): unknown => {
		if (sub === 'boot') return name === 'version' ? '999.1' : writer;
		if (sub === 'alloc' && name === 'classes')
			return { NV01_ROOT: 0x41, NV01_DEVICE_0: 0x80, NV20_SUBDEVICE_0: 0x2080, FERMI_VASPACE_A: 0x90f1 };
		return () => undefined;
	};
	const sub = (name: string) =>
		new Proxy(
			{},
			{
				get(_, prop) {
					if (typeof prop !== 'string') return undefined;
					touched.add(`${name}.${prop}`);
					return member(name, prop);
				},
			},
		);
	const subs = new Proxy(
		{},
		{
			get: (_, prop) => (typeof prop === 'string' ? sub(prop) : undefined),
		},
	);
	const abi = { version: '999.1', branch: 'r999', subInterfaces: subs } as unknown as FirmwareAbi;
	return { abi, touched };
}

const listed = (consumer: keyof typeof ABI_USES_BY_CONSUMER) =>
	new Set(
		Object.entries(ABI_USES_BY_CONSUMER[consumer].subInterfaces).flatMap(([s, ms]) =>
			ms.map((m) => `${s}.${m}`),
		),
	);

describe('CORE_ABI_USES covers what the libraries check', () => {
	it('coreAbiView touches only members listed for core', () => {
		const { abi, touched } = tracingAbi();
		coreAbiView(abi);
		expect(touched.size).toBeGreaterThan(10);
		const core = listed('core');
		expect([...touched].filter((m) => !core.has(m))).toEqual([]);
	});

	it("channel-sched's fifoAbiOf and ceAbiOf touch only members listed for channel-sched", () => {
		const { abi, touched } = tracingAbi();
		fifoAbiOf(abi);
		ceAbiOf(abi);
		const cs = listed('channel-sched');
		expect([...touched].filter((m) => !cs.has(m))).toEqual([]);
		expect(touched).toContain('fifo.encodeChannelAlloc');
		expect(touched).toContain('ce.allocParams');
	});

	it("falcon-boot's bootAbiOf takes the boot sub-interface through exactly the listed members", () => {
		const { abi, touched } = tracingAbi();
		bootAbiOf(abi);
		expect([...touched].sort()).toEqual([...listed('falcon-boot')].sort());
	});

	it("gsp-rpc's layouts are its RPC_LAYOUT_TYPES", () => {
		expect([...ABI_USES_BY_CONSUMER['gsp-rpc'].layouts].sort()).toEqual(Object.keys(RPC_LAYOUT_TYPES).sort());
		expect(CORE_ABI_USES.layouts).toEqual(Object.keys(RPC_LAYOUT_TYPES).sort());
	});
});

describe('every listed member is used by the consumer that claims it', () => {
	const src = (rel: string) => readFileSync(new URL(rel, import.meta.url), 'utf8');
	const sources: Record<string, string> = {
		core: ['../src/device.ts', '../src/abi-view.ts', '../src/channel.ts', '../src/vaspace-rm.ts']
			.map(src)
			.join('\n'),
		'channel-sched': src('../../channel-sched/src/rm-channel.ts'),
		'falcon-boot': src('../../falcon-boot/src/boot-abi.ts'),
		'gsp-rpc': src('../../gsp-rpc/src/rpc-abi.ts'),
	};
	for (const [consumer, uses] of Object.entries(ABI_USES_BY_CONSUMER)) {
		for (const name of [...(uses.types ?? []), ...(uses.constants ?? [])]) {
			it(`${consumer}: manifest ${name}`, () => {
				expect(sources[consumer]!.includes(`'${name}'`)).toBe(true);
			});
		}
		for (const [sub, members] of Object.entries(uses.subInterfaces)) {
			for (const m of members) {
				it(`${consumer}: ${sub}.${m}`, () => {
					// Called as `x.member(`, read as `.member`, or checked by name in a `need` list.
					const text = sources[consumer]!;
					expect(text.includes(`.${m}`) || text.includes(`'${m}'`)).toBe(true);
				});
			}
		}
	}
});

describe('mergeAbiUses', () => {
	it('unions layouts, members and manifest names, sorted, without duplicates', () => {
		const m = mergeAbiUses([
			{ layouts: ['b', 'a'], subInterfaces: { fifo: ['x', 'w'] }, types: ['T2', 'T1'] },
			{ layouts: ['a'], subInterfaces: { fifo: ['w'], ce: ['y'] }, types: ['T1'], constants: ['C'] },
		]);
		expect(m).toEqual({
			layouts: ['a', 'b'],
			subInterfaces: { ce: ['y'], fifo: ['w', 'x'] },
			types: ['T1', 'T2'],
			constants: ['C'],
		});
		expect(mergeAbiUses([{ layouts: [], subInterfaces: {} }])).toEqual({ layouts: [], subInterfaces: {} });
		expect(Object.isFrozen(m.subInterfaces.fifo)).toBe(true);
	});

	it('CORE_ABI_USES is the union of the consumers (fifo from core and channel-sched)', () => {
		expect(CORE_ABI_USES.subInterfaces.fifo).toEqual(
			[
				...new Set([
					...ABI_USES_BY_CONSUMER.core.subInterfaces.fifo!,
					...ABI_USES_BY_CONSUMER['channel-sched'].subInterfaces.fifo!,
				]),
			].sort(),
		);
		expect(CORE_ABI_USES.subInterfaces.fifo).not.toContain('constructedFalcons');
		expect(CORE_ABI_USES.subInterfaces.gr).toEqual(['queryTopology']);
	});
});
