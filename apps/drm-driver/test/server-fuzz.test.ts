import { encodeRequest, FrameKind, openDrm, POINTER_FIELDS } from '@gspkit/drm-client';
import { DRM_IOCTL, IOCTL_DEFS, NOUVEAU_GETPARAM_PCI_VENDOR } from '@gspkit/drm-frontend';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSocket, startServer } from './server-kit.ts';

let kit: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
	kit = await startServer({ maxFrameBytes: 1 << 20 });
});
afterAll(async () => {
	await kit.dispose();
});

const served = IOCTL_DEFS.map((d) => ({ name: d.name, code: d.code, size: d.layout?.size ?? 0 }));

/** A frame with a valid length prefix: anything may be wrong inside it. */
const hostileFrame = fc
	.record({
		kind: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5), fc.nat(0xffffffff)),
		id: fc.nat(0xfffffffe),
		fd: fc.oneof(fc.constantFrom(0, 3, 4, 5, 6), fc.nat(0xffffffff)),
		ioctl: fc.oneof(
			fc.constantFrom(...served),
			fc.record({ name: fc.constant('?'), code: fc.nat(0xffffffff), size: fc.nat(64) }),
		),
		argSeed: fc.uint8Array({ maxLength: 96 }),
		zeroPointers: fc.boolean(),
		extra: fc.uint8Array({ maxLength: 64 }),
		sizeLie: fc.option(fc.nat(200), { nil: undefined }),
	})
	.map((r) => {
		const arg = new Uint8Array(r.sizeLie ?? r.ioctl.size);
		arg.set(r.argSeed.subarray(0, arg.length));
		if (r.zeroPointers) {
			for (const p of POINTER_FIELDS[r.ioctl.name as keyof typeof POINTER_FIELDS] ?? []) {
				if (p.offset + 8 <= arg.length) arg.fill(0, p.offset, p.offset + 8);
			}
		}
		return { id: r.id, bytes: encodeRequest(r.kind as never, r.id, r.fd, r.ioctl.code, arg, [r.extra]) };
	});

async function serverStillServes(): Promise<void> {
	const c = await openDrm(kit.socketPath);
	expect(await c.getParam(NOUVEAU_GETPARAM_PCI_VENDOR)).toBe(0x10den);
	await c.close();
}

describe('socket server: hostile frames', () => {
	it('answers every well-delimited frame (or keeps it pending) and never breaks', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(hostileFrame, { minLength: 1, maxLength: 25 }), async (frames) => {
				const raw = await RawSocket.open(kit.socketPath);
				// Open a file or two first so that fd 3/4 exist for some frames.
				raw.send(encodeRequest(FrameKind.OPEN, 0xffffffff, 0, 0, new Uint8Array(0)));
				expect((await raw.reply())?.result).toBe(3);
				for (const f of frames) raw.send(f.bytes);
				// ECHO is answered after every frame before it was dispatched; blocking waits may stay pending.
				raw.send(encodeRequest(FrameKind.ECHO, 0xffffffff, 0, 0, Uint8Array.of(1, 2, 3)));
				const ids = new Set(frames.map((f) => f.id));
				for (;;) {
					const r = await raw.reply();
					expect(r).toBeDefined();
					if (r?.id === 0xffffffff) {
						expect(r.payload).toEqual(Uint8Array.of(1, 2, 3));
						break;
					}
					expect(ids.has(r?.id as number)).toBe(true);
					// 0, a descriptor, or a Linux errno.
					expect((r?.result as number) > -4096).toBe(true);
				}
				expect(raw.closed).toBe(false);
				raw.close();
			}),
			{ numRuns: 40 },
		);
		await serverStillServes();
		expect(kit.internalErrors()).toEqual([]);
	});

	it('random byte streams either get replies or lose only their own connection', async () => {
		const before = kit.server.stats.violations;
		await fc.assert(
			fc.asyncProperty(fc.uint8Array({ minLength: 4, maxLength: 300 }), async (bytes) => {
				const raw = await RawSocket.open(kit.socketPath);
				raw.send(bytes);
				// Whatever it was, a well-formed ECHO afterwards is either answered or the connection dropped.
				raw.send(encodeRequest(FrameKind.ECHO, 0xffffffff, 0, 0, new Uint8Array(0)));
				raw.socket.end();
				for (;;) {
					const r = await raw.reply();
					if (r === undefined || r.id === 0xffffffff) break;
				}
				raw.close();
			}),
			{ numRuns: 60 },
		);
		expect(kit.server.stats.violations).toBeGreaterThan(before);
		await serverStillServes();
		expect(kit.internalErrors()).toEqual([]);
		expect(DRM_IOCTL.VERSION).toBe(0xc0406400);
	});
});
