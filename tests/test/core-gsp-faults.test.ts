/**
 * The real driver stack (`@gspkit/core` over `gsp-rpc`) against every fault the simulated GSP-RM can inject —
 * a lying GSP (bad checksum, skipped seqNum, oversized element, a failing call) and a hung or slow one
 * (dropped doorbell, delayed replies, hang). Each must end the pending call with the right typed error and
 * errno, leave the device `lost` exactly when the transport can no longer be trusted, and `reset()` must bring
 * it back to a device that does real work again.
 */

import { openDevice } from '@gspkit/core';
import { createSimulatedGpu, type SimulatedGpu } from '@gspkit/gpu-sim';
import { describe, expect, it } from 'vitest';
import { ABIS, BRANCHES, copyRoundTrip, firstDiff, syntheticFiles } from './core-kit.ts';

interface FaultCase {
	readonly name: string;
	readonly arm: (gpu: SimulatedGpu) => void;
	/** The error code and errno the pending call fails with; `undefined` when the call must succeed. */
	readonly error?: { readonly code: string; readonly errno: string; readonly message: RegExp };
	/** Whether the device must be `lost` afterwards (the transport cannot be trusted any more). */
	readonly lost: boolean;
}

const CASES: readonly FaultCase[] = [
	{
		name: 'corrupted reply checksum',
		arm: (g) => g.gspRm.faults.corruptNextReplyChecksum(),
		error: { code: 'RPC_CHECKSUM', errno: 'EIO', message: /status queue: element checksum/ },
		lost: true,
	},
	{
		name: 'skipped reply seqNum',
		arm: (g) => g.gspRm.faults.skipReplySeqNum(),
		error: { code: 'RPC_SEQUENCE', errno: 'EIO', message: /seqNum \d+, expected \d+/ },
		lost: true,
	},
	{
		name: 'oversized reply element',
		arm: (g) => g.gspRm.faults.oversizeNextReply(),
		error: { code: 'RPC_BAD_ELEMENT', errno: 'EIO', message: /elemCount 17/ },
		lost: true,
	},
	{
		name: 'dropped doorbell',
		arm: (g) => g.gspRm.faults.dropDoorbells(1),
		error: { code: 'RPC_TIMEOUT', errno: 'ETIMEDOUT', message: /no reply to GSP_RM_ALLOC/ },
		lost: true,
	},
	{
		name: 'reply delayed past the timeout',
		arm: (g) => g.gspRm.faults.delayReplies(1_000_000_000n, 1),
		error: { code: 'RPC_TIMEOUT', errno: 'ETIMEDOUT', message: /within 200 ms/ },
		lost: true,
	},
	{
		name: 'reply delayed within the timeout',
		arm: (g) => g.gspRm.faults.delayReplies(10_000_000n, 1),
		lost: false,
	},
	{
		name: 'a call RM refuses',
		arm: (g) => g.gspRm.faults.failNextCall({ function: 'GSP_RM_ALLOC', hClass: 0x90f1, status: 0x51 }),
		error: { code: 'RPC_STATUS', errno: 'ENOMEM', message: /NV_ERR_NO_MEMORY \(0x51\)/ },
		lost: false,
	},
	{
		name: 'hang',
		arm: (g) => g.gspRm.faults.hang(),
		error: { code: 'RPC_TIMEOUT', errno: 'ETIMEDOUT', message: /no reply/ },
		lost: true,
	},
];

describe.each(BRANCHES)('core against a faulty GSP-RM $version', ({ branch }) => {
	it('each fault fails the pending call typed, marks the device lost only when it must, and reset() recovers', async () => {
		const gpu = createSimulatedGpu({ chip: 'ga102' });
		const device = await openDevice(gpu, {
			abis: ABIS,
			firmware: { files: syntheticFiles('ga102'), label: 'synthetic' },
			abiOverride: branch,
			callTimeoutNs: 200_000_000n,
		});
		const resets: string[] = [];
		device.on('reset', (e) => resets.push(`${e.phase} ${e.reason}`));
		try {
			for (const c of CASES) {
				c.arm(gpu);
				const outcome = await device.createVaSpace().then(
					(vas) => ({ vas }),
					(e: unknown) => ({ error: e as { code?: string; errno?: string; message?: string } }),
				);
				if (c.error === undefined) {
					expect('vas' in outcome, c.name).toBe(true);
					if ('vas' in outcome) await outcome.vas.destroy();
				} else {
					expect('error' in outcome, c.name).toBe(true);
					const e = 'error' in outcome ? outcome.error : {};
					expect({ code: e.code, errno: e.errno }, c.name).toEqual({
						code: c.error.code,
						errno: c.error.errno,
					});
					expect(e.message, c.name).toMatch(c.error.message);
				}
				expect(device.state, c.name).toBe(c.lost ? 'lost' : 'ready');
				if (c.lost) {
					await device.reset(c.name);
					expect(device.state, `${c.name}: after reset`).toBe('ready');
				}
				// Whatever happened, the device does real work afterwards: a copy through VRAM and back.
				const vas = await device.createVaSpace();
				const { sent, back } = await copyRoundTrip(device, vas, 8192, CASES.indexOf(c) + 1);
				expect(firstDiff(back, sent), c.name).toBe(-1);
				await vas.destroy();
			}
			// Every reset was announced and finished, one per fault that lost the device.
			expect(resets).toEqual(
				CASES.filter((c) => c.lost).flatMap((c) => [`begin ${c.name}`, `done ${c.name}`]),
			);
		} finally {
			await device.close();
			await gpu.close();
		}
	});
});
