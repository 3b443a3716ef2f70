/**
 * The CPU side of GSP_RUN_CPU_SEQUENCER (reference §5): GSP-RM sends a small program of register operations
 * the CPU must execute for it (it cannot reach those registers itself, or must be reset/resumed by the CPU).
 *
 * The payload is `rpc_run_cpu_sequencer_v17_00 { bufferSizeDWord, cmdIndex, regSaveArea[8], commandBuffer[] }`;
 * the CPU walks `commandBuffer` up to `cmdIndex` dwords, each command an opcode dword followed by its payload
 * dwords. Register operations go through the platform's BAR0; the four falcon-core operations go through an
 * injected {@link FalconControl}, because falcon-boot owns the falcon.
 *
 * @module
 */

import { type Bar0, type Clock, MS, pollUntil, SEC, TimeoutError, US } from '@gspkit/hal';
import { RpcError } from './errors.ts';
import type { RpcWire, SequencerOpcodeName } from './rpc-abi.ts';

/** REG_POLL with timeout 0 waits this long (nouveau: 4 s). */
export const SEQ_POLL_DEFAULT_TIMEOUT_NS = 4n * SEC;
/** CORE_WAIT_FOR_HALT waits this long (nouveau: 2 s). */
export const SEQ_HALT_TIMEOUT_NS = 2n * SEC;

/**
 * The falcon-core operations of the sequencer, implemented by falcon-boot (or a test double). nouveau's
 * actions are given for reference.
 */
export interface FalconControl {
	/** CORE_RESET: reset the GSP falcon core (nouveau: falcon reset, set bit 0x80 in falcon+0x624, write 0 to +0x10c). */
	coreReset(): void | Promise<void>;
	/** CORE_START: start the core (nouveau: write 2 to +0x130 if +0x100 bit 0x40 is set, else write 2 to +0x100). */
	coreStart(): void | Promise<void>;
	/** CORE_WAIT_FOR_HALT: wait for the core to halt (nouveau: poll +0x100 bit 0x10), up to `timeoutNs`. */
	coreWaitForHalt(timeoutNs: bigint): void | Promise<void>;
	/**
	 * CORE_RESUME: bring GSP-RM back (nouveau: reset the GSP, rewrite the LIBOS mailboxes, start SEC2, poll
	 * 0x1180f8 bit 0x04000000 ≤ 2 s, require SEC2 mailbox0 == 0, write app_version to +0x080, check RISC-V active).
	 */
	coreResume(): void | Promise<void>;
}

/** What the sequencer needs from the platform. */
export interface SequencerContext {
	readonly bar0: Bar0;
	readonly clock: Clock;
	/** Required only if the program uses a CORE_* opcode. */
	readonly falcon?: FalconControl | undefined;
}

/** REG_POLL interval: 1/64 of the timeout, clamped to 1 µs … 1 ms. */
function pollInterval(timeoutNs: bigint): bigint {
	const i = timeoutNs / 64n;
	if (i < US) return US;
	if (i > MS) return MS;
	return i;
}

/** One executed command, for logs and tests. */
export interface SequencerStep {
	readonly opcode: SequencerOpcodeName;
	/** Dword index of the opcode in `commandBuffer`. */
	readonly at: number;
	/** Payload dwords as sent. */
	readonly args: readonly number[];
}

/** The outcome of a sequencer run. */
export interface SequencerResult {
	/** Commands executed, in order. */
	readonly steps: readonly SequencerStep[];
	/** `regSaveArea` after the run (REG_STORE results), a copy. */
	readonly regSaveArea: Uint32Array;
}

function seqError(
	message: string,
	details: Readonly<Record<string, unknown>>,
	errno: 'EIO' | 'ETIMEDOUT' = 'EIO',
	cause?: unknown,
): RpcError {
	return new RpcError('RPC_SEQUENCER', `RUN_CPU_SEQUENCER: ${message}`, {
		errno,
		details,
		...(cause === undefined ? {} : { cause }),
	});
}

/**
 * Execute a RUN_CPU_SEQUENCER program (the message payload). Opcodes and payload layouts come from the ABI.
 *
 * @throws RpcError `RPC_SEQUENCER`: malformed program (unknown opcode, command running past `cmdIndex` or the
 *   buffer, REG_STORE index outside `regSaveArea`), a REG_POLL that timed out (errno ETIMEDOUT,
 *   `details.error` = the program's error code), a CORE_* opcode without {@link FalconControl}, or a falcon
 *   operation that threw (as `cause`).
 */
export async function runSequencer(
	wire: RpcWire,
	payload: Uint8Array,
	ctx: SequencerContext,
): Promise<SequencerResult> {
	const s = wire.sequencer;
	if (payload.length < s.size) {
		throw seqError(`payload of ${payload.length} bytes is shorter than the ${s.size}-byte header`, {
			length: payload.length,
		});
	}
	const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
	const bufferSizeDWord = dv.getUint32(s.bufferSizeDWord, true);
	const cmdIndex = dv.getUint32(s.cmdIndex, true);
	const available = Math.floor((payload.length - s.commandBuffer) / 4);
	if (cmdIndex > bufferSizeDWord || cmdIndex > available) {
		throw seqError(
			`cmdIndex ${cmdIndex} exceeds the buffer (${bufferSizeDWord} dwords declared, ${available} sent)`,
			{
				cmdIndex,
				bufferSizeDWord,
				available,
			},
		);
	}
	const regSave = new Uint32Array(s.regSaveCount);
	for (let i = 0; i < s.regSaveCount; i++) regSave[i] = dv.getUint32(s.regSaveArea + 4 * i, true);
	const word = (i: number): number => dv.getUint32(s.commandBuffer + 4 * i, true);
	const steps: SequencerStep[] = [];
	const { bar0, clock, falcon } = ctx;
	const p = s.payload;
	const needFalcon = (op: SequencerOpcodeName): FalconControl => {
		if (falcon === undefined)
			throw seqError(`${op} needs a FalconControl and none was given`, { opcode: op });
		return falcon;
	};
	const core = async (op: SequencerOpcodeName, at: number, f: () => void | Promise<void>): Promise<void> => {
		try {
			await f();
		} catch (e) {
			throw seqError(
				`${op} at dword ${at} failed: ${(e as Error).message}`,
				{ opcode: op, at },
				e instanceof TimeoutError ? 'ETIMEDOUT' : 'EIO',
				e,
			);
		}
	};

	let i = 0;
	while (i < cmdIndex) {
		const value = word(i);
		const op = s.opcodeName.get(value);
		const n = s.payloadDwords.get(value);
		if (op === undefined || n === undefined)
			throw seqError(`unknown opcode ${value} at dword ${i}`, { opcode: value, at: i });
		if (i + 1 + n > cmdIndex) {
			throw seqError(`${op} at dword ${i} needs ${n} payload dwords, runs past cmdIndex ${cmdIndex}`, {
				opcode: op,
				at: i,
			});
		}
		const at = i;
		const base = s.commandBuffer + 4 * (i + 1);
		const arg = (off: number): number => dv.getUint32(base + off, true);
		const args: number[] = [];
		for (let k = 0; k < n; k++) args.push(word(i + 1 + k));
		switch (op) {
			case 'REG_WRITE':
				bar0.write32(arg(p.regWrite.addr), arg(p.regWrite.val));
				break;
			case 'REG_MODIFY': {
				const addr = arg(p.regModify.addr);
				const mask = arg(p.regModify.mask);
				const v = (bar0.read32(addr) & ~mask) | arg(p.regModify.val);
				bar0.write32(addr, v >>> 0);
				break;
			}
			case 'REG_POLL': {
				const addr = arg(p.regPoll.addr);
				const mask = arg(p.regPoll.mask);
				const val = arg(p.regPoll.val);
				const us = arg(p.regPoll.timeout);
				const timeoutNs = us === 0 ? SEQ_POLL_DEFAULT_TIMEOUT_NS : BigInt(us) * US;
				try {
					await pollUntil(
						clock,
						() => bar0.read32(addr),
						(r) => (r & mask) >>> 0 === val >>> 0,
						{
							timeoutNs,
							intervalNs: pollInterval(timeoutNs),
							what: `sequencer REG_POLL (0x${addr.toString(16)} & 0x${mask.toString(16)}) == 0x${val.toString(16)}`,
						},
					);
				} catch (e) {
					if (!(e instanceof TimeoutError)) throw e;
					throw seqError(
						`REG_POLL at dword ${at} timed out: (0x${addr.toString(16)} & 0x${mask.toString(16)}) never read 0x${val.toString(16)}`,
						{
							opcode: op,
							at,
							addr,
							mask,
							val,
							timeoutNs: timeoutNs.toString(),
							error: arg(p.regPoll.error),
							lastValue: e.lastValue,
						},
						'ETIMEDOUT',
						e,
					);
				}
				break;
			}
			case 'DELAY_US':
				await clock.sleep(BigInt(arg(p.delayUs.val)) * US);
				break;
			case 'REG_STORE': {
				const index = arg(p.regStore.index);
				if (index >= regSave.length) {
					throw seqError(`REG_STORE index ${index} outside regSaveArea[${regSave.length}]`, {
						opcode: op,
						at,
						index,
					});
				}
				regSave[index] = bar0.read32(arg(p.regStore.addr));
				break;
			}
			case 'CORE_RESET': {
				const f = needFalcon(op);
				await core(op, at, () => f.coreReset());
				break;
			}
			case 'CORE_START': {
				const f = needFalcon(op);
				await core(op, at, () => f.coreStart());
				break;
			}
			case 'CORE_WAIT_FOR_HALT': {
				const f = needFalcon(op);
				await core(op, at, () => f.coreWaitForHalt(SEQ_HALT_TIMEOUT_NS));
				break;
			}
			case 'CORE_RESUME': {
				const f = needFalcon(op);
				await core(op, at, () => f.coreResume());
				break;
			}
		}
		steps.push({ opcode: op, at, args });
		i += 1 + n;
	}
	return { steps, regSaveArea: regSave };
}

/** One command of a sequencer program, for {@link encodeSequencerProgram}. */
export type SequencerCommand =
	| { readonly op: 'REG_WRITE'; readonly addr: number; readonly val: number }
	| { readonly op: 'REG_MODIFY'; readonly addr: number; readonly mask: number; readonly val: number }
	| {
			readonly op: 'REG_POLL';
			readonly addr: number;
			readonly mask: number;
			readonly val: number;
			readonly timeoutUs?: number;
			readonly error?: number;
	  }
	| { readonly op: 'DELAY_US'; readonly val: number }
	| { readonly op: 'REG_STORE'; readonly addr: number; readonly index: number }
	| { readonly op: 'CORE_RESET' | 'CORE_START' | 'CORE_WAIT_FOR_HALT' | 'CORE_RESUME' };

/**
 * Encode a RUN_CPU_SEQUENCER payload with the ABI's layouts (what GSP-RM sends; for simulators and tests).
 * `bufferSizeDWord` defaults to the dwords used.
 */
export function encodeSequencerProgram(
	wire: RpcWire,
	commands: readonly SequencerCommand[],
	options: { bufferSizeDWord?: number; regSaveArea?: readonly number[] } = {},
): Uint8Array {
	const s = wire.sequencer;
	const opcodeValue = new Map<string, number>();
	for (const [v, name] of s.opcodeName) opcodeValue.set(name, v);
	let dwords = 0;
	for (const c of commands) dwords += 1 + s.payloadDwords.get(opcodeValue.get(c.op)!)!;
	const bufferSizeDWord = options.bufferSizeDWord ?? dwords;
	const out = new Uint8Array(s.commandBuffer + 4 * Math.max(bufferSizeDWord, dwords));
	const dv = new DataView(out.buffer);
	dv.setUint32(s.bufferSizeDWord, bufferSizeDWord, true);
	dv.setUint32(s.cmdIndex, dwords, true);
	(options.regSaveArea ?? []).forEach((v, k) => {
		if (k < s.regSaveCount) dv.setUint32(s.regSaveArea + 4 * k, v >>> 0, true);
	});
	const p = s.payload;
	let at = s.commandBuffer;
	for (const c of commands) {
		const value = opcodeValue.get(c.op)!;
		dv.setUint32(at, value, true);
		const b = at + 4;
		switch (c.op) {
			case 'REG_WRITE':
				dv.setUint32(b + p.regWrite.addr, c.addr >>> 0, true);
				dv.setUint32(b + p.regWrite.val, c.val >>> 0, true);
				break;
			case 'REG_MODIFY':
				dv.setUint32(b + p.regModify.addr, c.addr >>> 0, true);
				dv.setUint32(b + p.regModify.mask, c.mask >>> 0, true);
				dv.setUint32(b + p.regModify.val, c.val >>> 0, true);
				break;
			case 'REG_POLL':
				dv.setUint32(b + p.regPoll.addr, c.addr >>> 0, true);
				dv.setUint32(b + p.regPoll.mask, c.mask >>> 0, true);
				dv.setUint32(b + p.regPoll.val, c.val >>> 0, true);
				dv.setUint32(b + p.regPoll.timeout, (c.timeoutUs ?? 0) >>> 0, true);
				dv.setUint32(b + p.regPoll.error, (c.error ?? 0) >>> 0, true);
				break;
			case 'DELAY_US':
				dv.setUint32(b + p.delayUs.val, c.val >>> 0, true);
				break;
			case 'REG_STORE':
				dv.setUint32(b + p.regStore.addr, c.addr >>> 0, true);
				dv.setUint32(b + p.regStore.index, c.index >>> 0, true);
				break;
			default:
				break;
		}
		at += 4 * (1 + s.payloadDwords.get(value)!);
	}
	return out;
}
