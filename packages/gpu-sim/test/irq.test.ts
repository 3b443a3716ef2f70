import { MS, RealClock, SEC, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { createSimulatedGpu, SIM_IRQ_NAMES } from '../src/index.ts';

describe('interrupt lines', () => {
	it('has the gsp, nonstall and stall lines and rejects other names', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		expect(SIM_IRQ_NAMES).toEqual(['gsp', 'nonstall', 'stall']);
		for (const name of SIM_IRQ_NAMES) expect(gpu.irq(name).name).toBe(name);
		expect(() => gpu.irq('vblank')).toThrow(expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }));
		await gpu.close();
	});

	it('latches a raise until acknowledged, per line', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 4096 });
		const gsp = gpu.irq('gsp');
		expect(gsp.pending()).toBe(false);
		gpu.raise('gsp');
		expect(gsp.pending()).toBe(true);
		expect(gpu.irq('stall').pending()).toBe(false);
		const t0 = gpu.clock.now();
		await expect(gsp.wait(SEC)).resolves.toBe(true);
		expect(gpu.clock.now()).toBe(t0); // already pending: no time passes
		expect(gsp.pending()).toBe(true); // waiting does not acknowledge
		gsp.acknowledge();
		expect(gsp.pending()).toBe(false);
		expect(gpu.interrupt('gsp').raiseCount).toBe(1);
		await gpu.close();
	});

	it('a wait nobody answers resolves false at the virtual deadline', async () => {
		const clock = new VirtualClock();
		const gpu = createSimulatedGpu({ clock, dmaPoolSize: 4096 });
		await expect(gpu.irq('nonstall').wait(2n * SEC)).resolves.toBe(false);
		expect(clock.now()).toBe(2n * SEC);
		await expect(gpu.irq('nonstall').wait(0n)).resolves.toBe(false);
		expect(clock.now()).toBe(2n * SEC);
		await gpu.close();
	});

	it('a raise scheduled on the virtual clock wakes the waiter before its deadline', async () => {
		const clock = new VirtualClock();
		const gpu = createSimulatedGpu({ clock, dmaPoolSize: 4096 });
		clock.after(5n * MS, () => gpu.raise('gsp'));
		await expect(gpu.irq('gsp').wait(SEC)).resolves.toBe(true);
		expect(clock.now()).toBeGreaterThanOrEqual(5n * MS);
		expect(clock.now()).toBeLessThan(SEC);
		await gpu.close();
	});

	it('a raise from another task wakes a waiter on the virtual clock', async () => {
		const clock = new VirtualClock();
		const gpu = createSimulatedGpu({ clock, dmaPoolSize: 4096 });
		const waiting = gpu.irq('stall').wait(10n * SEC);
		setImmediate(() => gpu.raise('stall'));
		await expect(waiting).resolves.toBe(true);
		expect(clock.now()).toBeLessThan(10n * SEC);
		await gpu.close();
	});

	it('wakes waiters on a real clock without waiting for the timeout', async () => {
		const gpu = createSimulatedGpu({ clock: new RealClock(), dmaPoolSize: 4096 });
		const waiting = gpu.irq('gsp').wait(3600n * SEC);
		setImmediate(() => gpu.raise('gsp'));
		await expect(waiting).resolves.toBe(true);
		await expect(gpu.irq('stall').wait(1n * MS)).resolves.toBe(false);
		await gpu.close();
	});

	it('close resolves pending waits false', async () => {
		const gpu = createSimulatedGpu({ clock: new RealClock(), dmaPoolSize: 4096 });
		const waiting = gpu.irq('gsp').wait(3600n * SEC);
		await gpu.close();
		await expect(waiting).resolves.toBe(false);
	});
});

describe('simulated GPU lifecycle', () => {
	it('describes itself and its PCI identity', async () => {
		const gpu = createSimulatedGpu({ chip: 'TU102', pciAddress: '0000:65:00.0', dmaPoolSize: 4096 });
		expect(gpu.description).toBe('gpu-sim tu102 (GeForce RTX 2080 Ti)');
		expect(gpu.pci).toEqual({
			vendorId: 0x10de,
			deviceId: 0x1e04,
			subsystemVendorId: 0x10de,
			subsystemId: gpu.chip.subsystemId,
			revision: 0xa1,
			address: '0000:65:00.0',
		});
		expect(gpu.clock.kind).toBe('virtual');
		await gpu.close();
	});

	it('validates the VRAM size', () => {
		for (const vramSize of [0n, -1n, (1n << 20n) + 1n]) {
			expect(() => createSimulatedGpu({ vramSize })).toThrow(
				expect.objectContaining({ code: 'HAL_INVALID_ARGUMENT' }),
			);
		}
	});

	it('close frees everything; afterwards every access is a typed error', async () => {
		const gpu = createSimulatedGpu({ dmaPoolSize: 1 << 20 });
		const buf = gpu.dma.alloc(4096);
		gpu.fb.write(0n, new Uint8Array(16));
		await gpu.close();
		await gpu.close(); // idempotent
		expect(gpu.closed).toBe(true);
		expect(gpu.dma.bytesInUse).toBe(0);
		expect(gpu.fb.residentBytes).toBe(0);
		const closed = expect.objectContaining({ code: 'SIM_CLOSED', errno: 'ENODEV' });
		expect(() => gpu.bar0.read32(0)).toThrow(closed);
		expect(() => gpu.bar0.write32(0, 0)).toThrow(closed);
		expect(() => gpu.config.read16(0)).toThrow(closed);
		expect(() => gpu.dma.alloc(16)).toThrow(closed);
		expect(() => gpu.dma.free(buf)).toThrow(closed);
		expect(() => gpu.dmaRead(buf.busAddress, 4)).toThrow(closed);
		expect(() => gpu.vram.bar1.read(0n, new Uint8Array(4))).toThrow(closed);
		expect(() => gpu.fb.write(0n, new Uint8Array(4))).toThrow(closed);
		expect(() => gpu.irq('gsp')).toThrow(closed);
	});
});
