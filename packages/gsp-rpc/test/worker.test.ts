import { afterEach, describe, expect, it } from 'vitest';
import { RpcEngine } from '../src/index.ts';
import { manifestAbi } from './support/abi.ts';
import { pattern, sameBytes } from './support/spec.ts';
import { type WorkerPlatform, workerPlatform } from './support/worker.ts';

describe('GSP double in a worker thread (shared SharedArrayBuffer, doorbell and interrupt words)', () => {
	let wp: WorkerPlatform | undefined;
	afterEach(async () => {
		await wp?.stop();
		wp = undefined;
	});

	for (const receive of ['irq', 'poll'] as const) {
		it(`keeps concurrent calls, large continuation payloads and events matched (${receive})`, async () => {
			wp = workerPlatform();
			const rpc = new RpcEngine({ platform: wp.platform, abi: manifestAbi('r570'), receive });
			await rpc.post('GSP_SET_SYSTEM_INFO', pattern(928, 1)); // pre-queued before the GSP runs
			await wp.start(rpc, { branch: 'r570', eventEvery: 7 });
			await rpc.link({ timeoutNs: 5_000_000_000n });
			const events: number[] = [];
			rpc.on('OS_ERROR_LOG', (e) => {
				events.push(new DataView(e.payload.buffer, e.payload.byteOffset).getUint32(0, true));
			});
			const sizes = Array.from({ length: 120 }, (_, i) =>
				i % 40 === 39 ? 1_000_000 : i % 10 === 9 ? 100_000 : i * 13,
			);
			const calls = sizes.map(async (n, i) => {
				const params = pattern(n, i);
				const out = await rpc.rmControl(0xc1d00000, 0x5d1d0000, 0x2080_0000 + i, params);
				return sameBytes(out, params);
			});
			expect(await Promise.all(calls)).toEqual(sizes.map(() => true));
			// 121 commands (SET_SYSTEM_INFO included) → an event after every 7th: 17 events, in order.
			for (let i = 0; i < 1000 && events.length < 17; i++) await rpc.call('NOP').catch(() => undefined);
			expect(events.slice(0, 17)).toEqual(Array.from({ length: 17 }, (_, i) => i));
			expect(rpc.state).toBe('linked');
			rpc.close();
		});
	}
});
