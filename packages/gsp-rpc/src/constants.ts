/**
 * Protocol constants of the GSP message queues that are not struct layouts (those come from the firmware
 * ABI in use). Facts from `shared/reference/gsp-rpc.md` §1–2.
 *
 * @module
 */

import { GSP_CMDQ_INDEX, NV_PGSP_QUEUE_HEAD } from '@gspkit/hal';

/** The GSP understands only 4 KiB pages, even on 64 KiB-page hosts. */
export const GSP_PAGE_SIZE = 0x1000;

/** Size of each queue (header page + entries) on silicon: 256 KiB. */
export const GSP_QUEUE_SIZE = 0x40000;

/** `msgqTxHeader.version` of the pre-v2 message queue. */
export const MSGQ_VERSION = 0;

/** `msgqTxHeader.flags` bit 0: "swap RX" — a queue's RX header holds its owner's read pointer into the other queue. */
export const MSGQ_FLAGS_SWAP_RX = 1;

/** log2 of the RX-header alignment OpenRM passes to `msgqTxCreate` (HEADER_ALIGN 4 → 16 bytes). */
export const MSGQ_HEADER_ALIGN_SHIFT = 4;

/** log2 of the entry alignment OpenRM passes to `msgqTxCreate` (ELEMENT_ALIGN 12 → 4 KiB). */
export const MSGQ_ENTRY_ALIGN_SHIFT = 12;

/** An element spans at most 16 pages (`GSP_MSG_QUEUE_ELEMENT_SIZE_MAX` = 64 KiB). */
export const GSP_MSG_MAX_PAGES = 16;

/** `rpc_message_header_v03_00.header_version` (major 3 in bits 31:24, minor 0). */
export const RPC_HEADER_VERSION = 0x03000000;

/** `rpc_message_header_v03_00.signature`: `('C'<<24)|('P'<<16)|('R'<<8)|'V'`, bytes "VRPC" in memory. */
export const RPC_SIGNATURE = 0x43505256;

/** Requests carry `rpc_result = rpc_result_private = 0xFFFFFFFF` ("not answered yet"). */
export const RPC_RESULT_PENDING = 0xffffffff;

/** Function numbers ≥ this are events (GSP → CPU, unsolicited). */
export const RPC_FIRST_EVENT_ID = 0x1000;

/** `NV_PGSP_QUEUE_HEAD(0)` = 0x110C00: writing any value (drivers write 0) after publishing `writePtr` interrupts the GSP. */
export const GSP_DOORBELL: number = NV_PGSP_QUEUE_HEAD.offsetOf(GSP_CMDQ_INDEX);
