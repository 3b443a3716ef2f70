/**
 * GPFIFO entries, USERD and the doorbell (hardware reference C.1, C.3, C.4; `NVC56F_GP_ENTRY*`).
 *
 * A GP entry is 8 bytes. Word 0: `FETCH` 0 (0 unconditional, 1 conditional), `GET` 31:2 (pushbuffer VA bits
 * 31:2). Word 1: `GET_HI` 7:0 (VA bits 39:32), `LEVEL` 9 (0 main, 1 subroutine), `LENGTH` 30:10 (number of
 * 32-bit words; the segment ends at VA + 4·LENGTH), `SYNC` 31 (1 = wait until the previous segment is done
 * before fetching this one — nouveau's `NO_PREFETCH`). An entry with LENGTH 0 is a control entry whose
 * `OPCODE` (word 1 7:0) is NOP, ILLEGAL, GP_CRC, PB_CRC (or, on Hopper, SET_PB_SEGMENT_EXTENDED_BASE) with word 0
 * as the operand.
 *
 * @module
 */

import { defineRegister } from '@gspkit/hal';
import { defineWord } from './bitfields.ts';
import { ChannelArgumentError } from './errors.ts';

/** GP entry word 0 (segment form). */
export const GP_ENTRY0 = defineWord('NVC56F_GP_ENTRY0', { fetch: [0, 0], get: [31, 2] });
/** GP entry word 1 (segment form). */
export const GP_ENTRY1 = defineWord('NVC56F_GP_ENTRY1', {
	getHi: [7, 0],
	level: [9, 9],
	length: [30, 10],
	sync: [31, 31],
});
/** GP entry word 1 (control form: LENGTH = 0). */
export const GP_ENTRY1_CONTROL = defineWord('NVC56F_GP_ENTRY1_CONTROL', { opcode: [7, 0], length: [30, 10] });

/** Control-entry opcodes (`NVC56F_GP_ENTRY1_OPCODE_*`; 4 is Hopper's `SET_PB_SEGMENT_EXTENDED_BASE`). */
export const GpOpcode = Object.freeze({
	NOP: 0,
	ILLEGAL: 1,
	GP_CRC: 2,
	PB_CRC: 3,
	SET_PB_SEGMENT_EXTENDED_BASE: 4,
});

/** Bytes per GP entry. */
export const GP_ENTRY_SIZE = 8;
/** Largest segment length in words (21-bit `LENGTH`). */
export const MAX_GP_LENGTH_WORDS = GP_ENTRY1.max('length');
/** Pushbuffer VAs are limited to 40 bits (`GET` + `GET_HI`). */
export const PB_VA_BITS = 40;

/** A pushbuffer segment to fetch. */
export interface GpSegment {
	/** GPU VA of the first word (4-byte aligned, below 2^40, and the segment must not cross 2^40). */
	readonly va: bigint;
	/** Length in 32-bit words, 1..2^21-1. */
	readonly lengthWords: number;
	/** `SYNC_WAIT`: don't fetch until the previous segment is done (nouveau `NO_PREFETCH`). */
	readonly sync?: boolean;
	/** `LEVEL_SUBROUTINE` instead of main. */
	readonly subroutine?: boolean;
	/** `FETCH_CONDITIONAL`. */
	readonly conditional?: boolean;
}

/** A decoded GP entry. */
export type DecodedGpEntry =
	| ({ readonly kind: 'segment' } & Required<GpSegment>)
	| { readonly kind: 'control'; readonly opcode: number; readonly operand: number };

/** Validate a segment (VA range, alignment, length); throws `CHSCHED_INVALID_ARGUMENT`. */
export function checkGpSegment(s: GpSegment): void {
	if (typeof s.va !== 'bigint' || s.va < 0n || (s.va & 3n) !== 0n) {
		throw new ChannelArgumentError('pushbuffer VA must be a 4-byte aligned non-negative bigint', {
			va: String(s.va),
		});
	}
	if (!Number.isInteger(s.lengthWords) || s.lengthWords < 1 || s.lengthWords > MAX_GP_LENGTH_WORDS) {
		throw new ChannelArgumentError(`pushbuffer length must be 1..${MAX_GP_LENGTH_WORDS} words`, {
			lengthWords: s.lengthWords,
		});
	}
	if (s.va + BigInt(s.lengthWords) * 4n > 1n << BigInt(PB_VA_BITS)) {
		throw new ChannelArgumentError('pushbuffer segment crosses the 40-bit VA limit', {
			va: `0x${s.va.toString(16)}`,
			lengthWords: s.lengthWords,
		});
	}
}

/** Encode a segment entry as its two words `[w0, w1]` (validated). */
export function encodeGpEntry(s: GpSegment): [number, number] {
	checkGpSegment(s);
	return [
		GP_ENTRY0.pack({ fetch: s.conditional === true ? 1 : 0, get: Number((s.va & 0xffffffffn) >> 2n) }),
		GP_ENTRY1.pack({
			getHi: Number(s.va >> 32n),
			level: s.subroutine === true ? 1 : 0,
			length: s.lengthWords,
			sync: s.sync === true ? 1 : 0,
		}),
	];
}

/** Encode a control entry (LENGTH 0) with `opcode` and `operand`. */
export function encodeGpControl(opcode: number, operand = 0): [number, number] {
	return [operand >>> 0, GP_ENTRY1_CONTROL.pack({ opcode, length: 0 })];
}

/** Decode a GP entry from its two words. */
export function decodeGpEntry(w0: number, w1: number): DecodedGpEntry {
	const e1 = GP_ENTRY1.unpack(w1);
	if (e1.length === 0) {
		return { kind: 'control', opcode: GP_ENTRY1_CONTROL.get(w1, 'opcode'), operand: w0 >>> 0 };
	}
	const e0 = GP_ENTRY0.unpack(w0);
	return {
		kind: 'segment',
		va: (BigInt(e1.getHi) << 32n) | (BigInt(e0.get) << 2n),
		lengthWords: e1.length,
		sync: e1.sync === 1,
		subroutine: e1.level === 1,
		conditional: e0.fetch === 1,
	};
}

/** USERD (the channel's 512-byte user control area) byte offsets (`Nvc56fControl`, hardware reference C.3). */
export const USERD = Object.freeze({
	PUT: 0x40,
	GET: 0x44,
	REF: 0x48,
	PUT_HI: 0x4c,
	TOP_LEVEL_GET: 0x58,
	TOP_LEVEL_GET_HI: 0x5c,
	GET_HI: 0x60,
	/** GP ring index the host fetches next; read-only for software. */
	GP_GET: 0x88,
	/** GP ring index one past the last valid entry; written by software. */
	GP_PUT: 0x8c,
});

/** Size of one channel's USERD (`NV_RAMUSERD_BASE_SHIFT` 9). */
export const USERD_SIZE = 512;

/** Turing doorbell: `NV_USERMODE_NOTIFY_CHANNEL_PENDING` (usermode 0x810000 + 0x90). */
export const NV_USERMODE_NOTIFY_CHANNEL_PENDING = defineRegister({
	name: 'NV_USERMODE_NOTIFY_CHANNEL_PENDING',
	offset: 0x810090,
	doc: 'Turing doorbell: write the work-submit token (CHID 11:0 | RUNLIST_ID 22:16 on bare metal).',
	fields: { handle: { bits: [31, 0] } },
});

/** Ampere+ doorbell: `NV_VIRTUAL_FUNCTION_PRIV_DOORBELL` at `NV_VIRTUAL_FUNCTION` (0xB80000) + 0x30090. */
export const NV_VIRTUAL_FUNCTION_DOORBELL = defineRegister({
	name: 'NV_VIRTUAL_FUNCTION_DOORBELL',
	offset: 0xbb0090,
	doc: 'Ampere+ doorbell in the usermode (virtual function) region: write the work-submit token from RM.',
	fields: { handle: { bits: [31, 0] } },
});

/** Something that tells the host a channel has new GP entries. */
export interface Doorbell {
	/** Write the channel's work-submit token. */
	ring(token: number): void;
}

/** A doorbell that writes the token to BAR0 at `offset` (0x810090 on Turing, 0xBB0090 on Ampere+). */
export function bar0Doorbell(
	bar0: { write32(offset: number, value: number): void },
	offset: number,
): Doorbell {
	if (
		offset !== NV_USERMODE_NOTIFY_CHANNEL_PENDING.offset &&
		offset !== NV_VIRTUAL_FUNCTION_DOORBELL.offset
	) {
		throw new ChannelArgumentError(`0x${offset.toString(16)} is not a known doorbell offset`, { offset });
	}
	return { ring: (token) => bar0.write32(offset, token >>> 0) };
}
