/**
 * `sequencer`: GSP_RUN_CPU_SEQUENCER payloads — a dword program the CPU runs for GSP-RM (register writes,
 * polls, falcon resets). Payload sizes come from the `GSP_SEQ_BUF_PAYLOAD_*` layouts, opcodes from
 * the branch's `GSP_SEQ_BUF_OPCODE_*` (gsp-rpc.md §5).
 *
 * @module
 */

import { AbiError, type ByteSource, decode, encode, sizeof } from '@gspkit/abi';
import type { SequencerApi, SequencerCommand, SequencerProgram } from '../api.ts';
import type { AbiContext } from '../context.ts';
import {
	RUN_CPU_SEQUENCER,
	SEQ_DELAY_US,
	SEQ_REG_MODIFY,
	SEQ_REG_POLL,
	SEQ_REG_STORE,
	SEQ_REG_WRITE,
} from '../specs.ts';
import { R535_PACKAGE } from '../util.ts';

type Op = SequencerCommand['op'];
/** The sequencer opcode names, in numeric order. */
export const SEQUENCER_OPS: readonly Op[] = [
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

/** Payload field order per opcode (the `GSP_SEQ_BUF_PAYLOAD_*` structs; checked against the manifest). */
const PAYLOADS = {
	REG_WRITE: SEQ_REG_WRITE,
	REG_MODIFY: SEQ_REG_MODIFY,
	REG_POLL: SEQ_REG_POLL,
	DELAY_US: SEQ_DELAY_US,
	REG_STORE: SEQ_REG_STORE,
} as const;

/** Build the `sequencer` sub-interface on `ctx`'s layouts. */
export function createSequencerApi(ctx: AbiContext): SequencerApi {
	return ctx.build('sequencer', R535_PACKAGE, 'createSequencerApi', () => {
		const layout = ctx.bind(RUN_CPU_SEQUENCER);
		const opcodes = Object.fromEntries(
			SEQUENCER_OPS.map((op) => [op, ctx.constant(`GSP_SEQ_BUF_OPCODE_${op}`)]),
		) as Record<Op, number>;
		const byCode = new Map(SEQUENCER_OPS.map((op) => [opcodes[op], op]));
		const payloads = new Map<Op, { fields: string[]; dwords: number }>();
		for (const [op, spec] of Object.entries(PAYLOADS)) {
			const l = ctx.bind(spec);
			payloads.set(op as Op, { fields: l.fields.map((f) => f.name), dwords: sizeof(l) / 4 });
		}
		return {
			layout,
			opcodes: Object.freeze(opcodes),
			decode(payload: ByteSource): SequencerProgram {
				const p = decode(layout, payload, 0, { snapshot: false });
				const buf = p.commandBuffer;
				if (p.cmdIndex > buf.length) {
					throw new AbiError(
						'ABI_SHORT_BUFFER',
						`sequencer cmdIndex ${p.cmdIndex} exceeds the ${buf.length} dwords received`,
						{
							type: 'rpc_run_cpu_sequencer_v17_00',
							needed: p.cmdIndex,
							available: buf.length,
						},
					);
				}
				const commands: SequencerCommand[] = [];
				for (let i = 0; i < p.cmdIndex; ) {
					const code = buf[i]!;
					const op = byCode.get(code);
					if (op === undefined) {
						throw new AbiError('ABI_VALUE_RANGE', `sequencer dword ${i}: unknown opcode ${code}`, {
							index: i,
							opcode: code,
						});
					}
					const pl = payloads.get(op);
					const n = pl?.dwords ?? 0;
					if (i + 1 + n > p.cmdIndex) {
						throw new AbiError(
							'ABI_VALUE_RANGE',
							`sequencer dword ${i}: ${op} needs ${n} payload dwords, the program ends first`,
							{
								index: i,
								opcode: code,
							},
						);
					}
					const cmd: Record<string, unknown> = { op };
					pl?.fields.forEach((f, k) => {
						cmd[f] = buf[i + 1 + k]!;
					});
					commands.push(cmd as SequencerCommand);
					i += 1 + n;
				}
				return { bufferSizeDWord: p.bufferSizeDWord, regSaveArea: [...p.regSaveArea], commands };
			},
			encode(program: SequencerProgram): Uint8Array {
				const words: number[] = [];
				for (const c of program.commands) {
					words.push(opcodes[c.op]);
					const pl = payloads.get(c.op);
					for (const f of pl?.fields ?? []) words.push((c as unknown as Record<string, number>)[f]!);
				}
				const bytes = new Uint8Array(layout.tail!.offset + words.length * 4);
				encode(
					layout,
					{
						bufferSizeDWord: program.bufferSizeDWord,
						cmdIndex: words.length,
						regSaveArea: program.regSaveArea,
						commandBuffer: words,
					},
					bytes,
				);
				return bytes;
			},
		};
	});
}
