/**
 * `rpc`: message framing — the queue element header, the RPC header, the message-queue header page,
 * the element checksum and `NV_STATUS` names. Facts: gsp-rpc.md §1–2 (nouveau `r535/rpc.c`,
 * nova-core `gsp/fw.rs`, NVIDIA `message_queue_priv.h`).
 *
 * @module
 */

import { AbiError, type ByteSource, decode, encode, offsetof, toBytes } from '@gspkit/abi';
import type { DecodedElement, ElementInput, RpcApi, RpcProtocol } from '../api.ts';
import type { AbiContext } from '../context.ts';
import { MSGQ_RX_HEADER, MSGQ_TX_HEADER, QUEUE_ELEMENT, RPC_HEADER } from '../specs.ts';
import { NV_STATUS } from '../status.ts';
import { checkUint, R535_PACKAGE } from '../util.ts';

const PAGE = 0x1000;

/** XOR of the little-endian u64 words of `bytes` (zero-padded to a multiple of 8), folded to 32 bits. */
export function elementChecksum(bytes: Uint8Array): number {
	let lo = 0;
	let hi = 0;
	const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const whole = bytes.byteLength & ~7;
	for (let i = 0; i < whole; i += 8) {
		lo ^= dv.getUint32(i, true);
		hi ^= dv.getUint32(i + 4, true);
	}
	if (whole < bytes.byteLength) {
		const tail = new Uint8Array(8);
		tail.set(bytes.subarray(whole));
		const tv = new DataView(tail.buffer);
		lo ^= tv.getUint32(0, true);
		hi ^= tv.getUint32(4, true);
	}
	return (lo ^ hi) >>> 0;
}

/** Build the `rpc` sub-interface on `ctx`'s layouts; `status` may replace the `NV_STATUS` table. */
export function createRpcApi(ctx: AbiContext, status: Readonly<Record<string, number>> = NV_STATUS): RpcApi {
	return ctx.build('rpc', R535_PACKAGE, 'createRpcApi', () => {
		const queueElement = ctx.bind(QUEUE_ELEMENT);
		const rpcHeader = ctx.bind(RPC_HEADER);
		const msgqTxHeader = ctx.bind(MSGQ_TX_HEADER);
		const msgqRxHeader = ctx.bind(MSGQ_RX_HEADER);
		const elementHeaderSize = offsetof(queueElement, 'rpc');
		const rpcHeaderSize = offsetof(rpcHeader, 'rpc_message_data');
		const maxElementSize = 16 * PAGE;
		const protocol: RpcProtocol = Object.freeze({
			headerVersion: 0x03000000,
			signature: 0x43505256,
			elementHeaderSize,
			rpcHeaderSize,
			pageSize: PAGE,
			maxElementSize,
			maxRpcSize: maxElementSize - elementHeaderSize,
			maxPayloadSize: maxElementSize - elementHeaderSize - rpcHeaderSize,
			requestResult: 0xffffffff,
			msgqVersion: 0,
			msgqFlagSwapRx: 1,
		});
		const names = new Map<number, string>();
		for (const [name, code] of Object.entries(status)) if (!names.has(code)) names.set(code, name);

		const encodeElement = (input: ElementInput): Uint8Array => {
			const payload = input.payload;
			const length = input.length ?? rpcHeaderSize + payload.length;
			if (payload.length > protocol.maxPayloadSize) {
				throw new AbiError(
					'ABI_VALUE_RANGE',
					`payload of ${payload.length} bytes exceeds one element (${protocol.maxPayloadSize}); split it into CONTINUATION_RECORDs`,
					{ length: payload.length, max: protocol.maxPayloadSize },
				);
			}
			checkUint(length, 32, 'rpc.length');
			const used = elementHeaderSize + rpcHeaderSize + payload.length;
			const elemCount = Math.ceil(used / PAGE);
			const out = new Uint8Array(elemCount * PAGE);
			encode(
				queueElement,
				{
					authTagBuffer: new Uint8Array(16),
					aadBuffer: new Uint8Array(16),
					checkSum: 0,
					seqNum: input.seqNum,
					elemCount,
					rpc: {
						header_version: protocol.headerVersion,
						signature: protocol.signature,
						length,
						function: input.function,
						rpc_result: input.rpcResult ?? protocol.requestResult,
						rpc_result_private: input.rpcResultPrivate ?? protocol.requestResult,
						sequence: input.sequence ?? 0,
						u: { spare: 0 },
						rpc_message_data: [],
					},
				},
				out,
			);
			out.set(payload, elementHeaderSize + rpcHeaderSize);
			const sum = elementChecksum(out.subarray(0, used));
			new DataView(out.buffer).setUint32(offsetof(queueElement, 'checkSum'), sum, true);
			return out;
		};

		const decodeElement = (src: ByteSource, offset = 0): DecodedElement => {
			const u8 = toBytes(src).u8;
			const e = decode(queueElement, u8, offset, {
				length: Math.min(u8.length - offset, elementHeaderSize + rpcHeaderSize),
				snapshot: false,
			});
			const start = offset + elementHeaderSize + rpcHeaderSize;
			const payloadLength = e.rpc.length - rpcHeaderSize;
			if (payloadLength < 0 || start + payloadLength > u8.length) {
				throw new AbiError(
					'ABI_SHORT_BUFFER',
					`element at ${offset}: rpc.length ${e.rpc.length} needs ${elementHeaderSize + e.rpc.length} bytes, ${u8.length - offset} available`,
					{
						type: 'GSP_MSG_QUEUE_ELEMENT',
						needed: elementHeaderSize + e.rpc.length,
						available: u8.length - offset,
						offset,
					},
				);
			}
			return {
				checkSum: e.checkSum,
				seqNum: e.seqNum,
				elemCount: e.elemCount,
				headerVersion: e.rpc.header_version,
				signature: e.rpc.signature,
				length: e.rpc.length,
				function: e.rpc.function,
				rpcResult: e.rpc.rpc_result,
				rpcResultPrivate: e.rpc.rpc_result_private,
				sequence: e.rpc.sequence,
				payload: u8.subarray(start, start + payloadLength),
			};
		};

		return {
			queueElement,
			rpcHeader,
			msgqTxHeader,
			msgqRxHeader,
			protocol,
			status,
			statusName: (code: number) => names.get(code),
			encodeElement,
			decodeElement,
			checksum: elementChecksum,
		};
	});
}
