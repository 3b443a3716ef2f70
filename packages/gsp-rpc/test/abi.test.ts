import { readFileSync } from 'node:fs';
import { defineFirmwareAbi, struct, u32, validateManifest } from '@gspkit/abi';
import { describe, expect, it } from 'vitest';
import { compileRpcAbi, RPC_LAYOUT_TYPES, type RpcAbi, rpcAbiFromFirmwareAbi } from '../src/index.ts';
import { BRANCH_EVENTS, handBuiltAbi, manifestAbi, manifestPath } from './support/abi.ts';

/** The offsets part of a compiled ABI (what the wire format depends on). */
function offsets(abi: RpcAbi) {
	const w = compileRpcAbi(abi);
	const seq = {
		...w.sequencer,
		payloadDwords: [...w.sequencer.payloadDwords],
		opcodeName: [...w.sequencer.opcodeName],
	};
	return {
		tx: w.tx,
		rx: w.rx,
		elem: w.elem,
		rpc: w.rpc,
		rmAlloc: w.rmAlloc,
		rmControl: w.rmControl,
		free: w.free,
		seq,
		registry: w.registry,
		max: w.maxPayloadPerElement,
	};
}

describe('RpcAbi', () => {
	for (const branch of ['r535', 'r570'] as const) {
		it(`the generated ${branch} manifest and the reference's facts give the same wire format`, () => {
			const fromGcc = offsets(manifestAbi(branch));
			expect(offsets(handBuiltAbi(branch))).toEqual(fromGcc);
			expect(fromGcc.elem).toEqual({ headerSize: 48, checkSum: 32, seqNum: 36, elemCount: 40 });
			expect(fromGcc.rpc).toMatchObject({ size: 32, function: 12, sequence: 24 });
			expect(fromGcc.max).toBe(65456);
			expect(fromGcc.rmAlloc.size).toBe(32);
			expect(fromGcc.rmControl.size).toBe(24);
			expect(fromGcc.seq.commandBuffer).toBe(40);
		});
	}

	it('numbers the renumbered events per branch (0x101b…0x101e collide between r535 and r570)', () => {
		for (const branch of ['r535', 'r570'] as const) {
			const w = compileRpcAbi(manifestAbi(branch));
			for (const [name, id] of Object.entries(BRANCH_EVENTS[branch]))
				expect(w.events.get(name), name).toBe(id);
			expect(w.events.get('GSP_INIT_DONE')).toBe(0x1001);
			expect(w.events.get('GSP_RUN_CPU_SEQUENCER')).toBe(0x1002);
			expect(w.functions.get('CONTINUATION_RECORD')).toBe(71);
		}
		expect(compileRpcAbi(manifestAbi('r535')).eventNames.get(0x101b)).toBe('GSP_SEND_USER_SHARED_DATA');
		expect(compileRpcAbi(manifestAbi('r570')).eventNames.get(0x101b)).toBe('NVLINK_FAULT_UP');
		expect(compileRpcAbi(manifestAbi('r570')).functions.get('CTRL_EXEC_PARTITIONS_EXPORT')).toBe(226);
	});

	it('refuses an ABI that lacks a layout, a field, a number or an opcode (RPC_ABI)', () => {
		const base = handBuiltAbi('r535');
		const noLayout = { ...base, layouts: { ...base.layouts, rmControl: undefined } } as unknown as RpcAbi;
		expect(() => compileRpcAbi(noLayout)).toThrow(expect.objectContaining({ code: 'RPC_ABI' }));
		const noField = {
			...base,
			layouts: { ...base.layouts, msgqRxHeader: struct('msgqRxHeader', [['readPointer', u32]]) },
		};
		expect(() => compileRpcAbi(noField)).toThrow(/msgqRxHeader.*readPtr/);
		const noEvent = { ...base, events: { ...base.events, GSP_INIT_DONE: undefined } } as unknown as RpcAbi;
		expect(() => compileRpcAbi(noEvent)).toThrow(/GSP_INIT_DONE/);
		const noOp = {
			...base,
			sequencerOpcodes: { ...base.sequencerOpcodes, CORE_RESUME: undefined },
		} as unknown as RpcAbi;
		expect(() => compileRpcAbi(noOp)).toThrow(/CORE_RESUME/);
	});

	it('completes a FirmwareAbi from its manifest (layouts by C type name, opcodes from seq-opcode)', () => {
		const manifest = validateManifest(JSON.parse(readFileSync(manifestPath('r570'), 'utf8')));
		const m = manifestAbi('r570');
		const fw = defineFirmwareAbi({
			version: '570.144',
			branch: 'r570',
			chips: ['ga102'],
			firmwareFiles: { ga102: ['nvidia/ga102/gsp/gsp-570.144.bin'] },
			functions: m.functions,
			events: m.events,
			layouts: { rpcHeader: m.layouts.rpcHeader },
			manifest,
			subInterfaces: {},
		});
		const abi = rpcAbiFromFirmwareAbi(fw);
		expect(abi.sequencerOpcodes).toEqual(m.sequencerOpcodes);
		expect(abi.layouts.rpcHeader).toBe(m.layouts.rpcHeader);
		expect(Object.keys(abi.layouts).sort()).toEqual(Object.keys(RPC_LAYOUT_TYPES).sort());
		expect(offsets(abi)).toEqual(offsets(m));
		// A sequencer sub-interface's opcode table is preferred over the manifest constants.
		const opcodes = Object.fromEntries(Object.entries(m.sequencerOpcodes).map(([k, v]) => [k, v + 100]));
		const withSub = rpcAbiFromFirmwareAbi(
			defineFirmwareAbi({
				...fw,
				firmwareFiles: (c) => fw.firmwareFiles(c),
				subInterfaces: { sequencer: { opcodes } },
			}),
		);
		expect(withSub.sequencerOpcodes).toEqual(opcodes);
	});
});
