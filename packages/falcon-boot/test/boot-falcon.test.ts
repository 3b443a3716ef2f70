import { GSP, SEC2, VirtualClock } from '@gspkit/hal';
import { describe, expect, it } from 'vitest';
import { FalconError } from '../src/errors.ts';
import { Falcon, type FalconVariant } from '../src/falcon.ts';
import { RecordingBar0 } from './boot-helpers.ts';

const GA10X: FalconVariant = { scrubbing: 'hwcfg2', resetReady: true, riscvStatus: 'riscv-cpuctl' };
const TU10X: FalconVariant = { scrubbing: 'dmactl', resetReady: false, riscvStatus: 'core-switch' };

/** Absolute offsets (reference A.1/A.2) for the GSP falcon. */
const G = {
	MAILBOX0: 0x110040,
	MAILBOX1: 0x110044,
	RM: 0x110084,
	HWCFG2: 0x1100f4,
	CPUCTL: 0x110100,
	BOOTVEC: 0x110104,
	DMACTL: 0x11010c,
	BASE: 0x110110,
	MOFFS: 0x110114,
	CMD: 0x110118,
	FBOFFS: 0x11011c,
	BASE1: 0x110128,
	ALIAS: 0x110130,
	IMEMC0: 0x110180,
	IMEMD0: 0x110184,
	IMEMT0: 0x110188,
	DMEMC0: 0x1101c0,
	DMEMD0: 0x1101c4,
	ENGINE: 0x1103c0,
	TRANSCFG0: 0x110600,
	FBIF_CTL: 0x110624,
	MOD_SEL: 0x111180,
	UCODE_ID: 0x111198,
	ENGIDMASK: 0x11119c,
	PARAADDR: 0x111210,
	CORE_SWITCH: 0x111240,
	RISCV_CPUCTL: 0x111388,
	BCR: 0x111668,
};

function falcon(bar: RecordingBar0, variant = GA10X, engine = GSP) {
	return new Falcon({ bar0: bar, clock: new VirtualClock(), engine, variant, stage: 'fwsec' });
}

describe('Falcon.dmaLoad', () => {
	it('programs FBIF/DMACTL/TRANSCFG, then BASE/BASE1/MOFFS/FBOFFS/CMD per 256-byte chunk (0x614 secure IMEM, 0x600 DMEM)', async () => {
		const bar = new RecordingBar0();
		bar.onRead.set(G.CMD, () => 0x2); // idle, not full
		bar.regs.set(G.FBIF_CTL, 0x3);
		const f = falcon(bar);
		const src = { busAddress: 0x1_2345_6700n, size: 0x1000 };
		await f.dmaLoad(src, [
			{ target: 'imem', secure: true, srcOffset: 0, dst: 0x100, length: 0x180 },
			{ target: 'dmem', secure: false, srcOffset: 0x200, dst: 0, length: 0x100 },
		]);
		const w = bar.writes();
		expect(w.slice(0, 3)).toEqual([
			[G.FBIF_CTL, 0x83],
			[G.DMACTL, 0],
			[G.TRANSCFG0, 0x5],
		]);
		const chunk = (moffs: number, fboffs: number, cmd: number) => [
			[G.BASE, 0x01234567],
			[G.BASE1, 0],
			[G.MOFFS, moffs],
			[G.FBOFFS, fboffs],
			[G.CMD, cmd],
		];
		expect(w.slice(3)).toEqual([
			...chunk(0x100, 0, 0x614),
			...chunk(0x200, 0x100, 0x614),
			...chunk(0, 0x200, 0x600),
		]);
	});

	it('splits addresses above 4 GiB into BASE (>> 8) and BASE1 (>> 40)', async () => {
		const bar = new RecordingBar0();
		bar.onRead.set(G.CMD, () => 0x2);
		await falcon(bar).dmaLoad({ busAddress: 0x1_2345_6789_ab00n, size: 0x100 }, [
			{ target: 'dmem', secure: false, srcOffset: 0, dst: 0, length: 0x100 },
		]);
		expect(bar.regs.get(G.BASE)).toBe(0x456789ab);
		expect(bar.regs.get(G.BASE1)).toBe(0x123);
	});

	it('waits for FULL to clear before a command and for IDLE after it', async () => {
		const bar = new RecordingBar0();
		let reads = 0;
		bar.onRead.set(G.CMD, () => {
			reads++;
			// full for the first two reads, then busy once, then idle
			return reads <= 2 ? 0x1 : reads === 3 ? 0 : 0x2;
		});
		await falcon(bar).dmaLoad({ busAddress: 0x1000n, size: 0x100 }, [
			{ target: 'dmem', secure: false, srcOffset: 0, dst: 0, length: 4 },
		]);
		const cmdWrite = bar.log.findIndex((a) => a[0] === 'w' && a[1] === G.CMD);
		const cmdReads = bar.log.filter((a, i) => a[0] === 'r' && a[1] === G.CMD && i < cmdWrite);
		expect(cmdReads.map((a) => a[2])).toEqual([1, 1, 0]);
	});

	it('times out with a FalconError naming the engine and chunk when DMA never goes idle', async () => {
		const bar = new RecordingBar0();
		bar.onRead.set(G.CMD, () => 0);
		const e = await falcon(bar)
			.dmaLoad({ busAddress: 0x1000n, size: 0x100 }, [
				{ target: 'imem', secure: true, srcOffset: 0, dst: 0x200, length: 0x100 },
			])
			.catch((x: unknown) => x);
		expect(e).toBeInstanceOf(FalconError);
		expect((e as FalconError).code).toBe('BOOT_FALCON');
		expect((e as FalconError).engine).toBe('GSP');
		expect((e as FalconError).errno).toBe('ETIMEDOUT');
		expect((e as FalconError).message).toMatch(/IDLE after the imem chunk at 0x200/);
	});

	it('rejects a source that is not 256-byte aligned or too small', async () => {
		const bar = new RecordingBar0();
		const f = falcon(bar);
		await expect(f.dmaLoad({ busAddress: 0x1010n, size: 0x100 }, [])).rejects.toBeInstanceOf(FalconError);
		await expect(
			f.dmaLoad({ busAddress: 0x1000n, size: 0x100 }, [
				{ target: 'dmem', secure: false, srcOffset: 0, dst: 0, length: 0x101 },
			]),
		).rejects.toThrow(/does not fit/);
		expect(bar.writes()).toEqual([]);
	});
});

describe('Falcon PIO', () => {
	it('writes IMEM through IMEMC (BLK, AINCW, SECURE), one IMEMT tag per 256-byte block, zero-padded words', () => {
		const bar = new RecordingBar0();
		const code = Uint8Array.from({ length: 260 }, (_, i) => i & 0xff);
		falcon(bar).pioWriteImem(0xfe00, code, { tag: 0xfd, secure: true });
		const w = bar.writes();
		expect(w[0]).toEqual([G.IMEMC0, (0xfe << 8) | (1 << 24) | (1 << 28)]);
		expect(w[1]).toEqual([G.IMEMT0, 0xfd]);
		expect(w[2]).toEqual([G.IMEMD0, 0x03020100]);
		expect(w[65]).toEqual([G.IMEMD0, 0xfffefdfc]);
		expect(w[66]).toEqual([G.IMEMT0, 0xfe]);
		expect(w[67]).toEqual([G.IMEMD0, 0x03020100]);
		expect(w[68]).toEqual([G.IMEMD0, 0]);
		expect(w).toHaveLength(2 + 64 + 1 + 64);
	});

	it('writes DMEM through DMEMC (offset, block, AINCW) and DMEMD words', () => {
		const bar = new RecordingBar0();
		falcon(bar).pioWriteDmem(0x104, Uint8Array.of(1, 2, 3, 4, 5));
		expect(bar.writes()).toEqual([
			[G.DMEMC0, (1 << 8) | (1 << 2) | (1 << 24)],
			[G.DMEMD0, 0x04030201],
			[G.DMEMD0, 0x05],
		]);
	});
});

describe('Falcon BROM, start, mailboxes', () => {
	it('programs PARAADDR(0), ENGIDMASK, CURR_UCODE_ID and MOD_SEL', () => {
		const bar = new RecordingBar0();
		falcon(bar).programBrom({ pkcDataOffset: 0x10, engineIdMask: 0x400, ucodeId: 9, algorithm: 'RSA3K' });
		expect(new Map(bar.writes())).toEqual(
			new Map([
				[G.PARAADDR, 0x10],
				[G.ENGIDMASK, 0x400],
				[G.UCODE_ID, 9],
				[G.MOD_SEL, 1],
			]),
		);
	});

	it('starts through CPUCTL_ALIAS when ALIAS_EN is set, else CPUCTL.STARTCPU', () => {
		const bar = new RecordingBar0();
		falcon(bar).start();
		expect(bar.writes()).toEqual([[G.CPUCTL, 0x2]]);
		const bar2 = new RecordingBar0();
		bar2.regs.set(G.CPUCTL, 0x40);
		falcon(bar2).start();
		expect(bar2.writes()).toEqual([[G.ALIAS, 0x2]]);
	});

	it('boot(): mailboxes, start, halt, mailboxes back; SEC2 uses its own base', async () => {
		const bar = new RecordingBar0();
		const SEC2_CPUCTL = 0x840100;
		bar.onWrite.set(SEC2_CPUCTL, (v) => {
			if (v & 2) {
				bar.regs.set(SEC2_CPUCTL, 0x10);
				bar.regs.set(0x840040, 0xdead);
			}
		});
		const m = await falcon(bar, GA10X, SEC2).boot(0x1234, 0x5);
		expect(bar.writes()).toEqual([
			[0x840040, 0x1234],
			[0x840044, 0x5],
			[SEC2_CPUCTL, 0x2],
		]);
		expect(m).toEqual({ mailbox0: 0xdead, mailbox1: 0x5 });
	});

	it('a core that never halts is a FalconError carrying the mailboxes', async () => {
		const bar = new RecordingBar0();
		const e = (await falcon(bar)
			.boot(7)
			.catch((x: unknown) => x)) as FalconError;
		expect(e).toBeInstanceOf(FalconError);
		expect(e.details.mailbox0).toBe('0x00000007');
	});

	it('reads RISC-V activity from RISCV_CPUCTL (GA10x) or the core-switch status (TU10x)', () => {
		const bar = new RecordingBar0();
		bar.regs.set(G.RISCV_CPUCTL, 0x80);
		expect(falcon(bar, GA10X).riscvActive()).toBe(true);
		expect(falcon(bar, TU10X).riscvActive()).toBe(false);
		bar.regs.set(G.CORE_SWITCH, 1);
		expect(falcon(bar, TU10X).riscvActive()).toBe(true);
	});
});

describe('Falcon.reset', () => {
	it('GA10x: RESET_READY, ENGINE pulse, HWCFG2 scrubbing, falcon core select with VALID, RM = BOOT_0', async () => {
		const bar = new RecordingBar0();
		bar.regs.set(0, 0x172000a1); // NV_PMC_BOOT_0
		bar.regs.set(G.HWCFG2, 0x80000000);
		bar.regs.set(G.BCR, 0x10); // RISC-V selected
		bar.onWrite.set(G.BCR, (v) => bar.regs.set(G.BCR, v | 1));
		const r = await falcon(bar).reset('falcon');
		expect(r).toEqual({ resetReadyTimedOut: false, coreSelectUnconfirmed: false });
		expect(bar.writes()).toEqual([
			[G.ENGINE, 1],
			[G.ENGINE, 0],
			[G.BCR, 0],
			[G.RM, 0x172000a1],
		]);
	});

	it('RESET_READY that never comes is not fatal; RISC-V select writes CORE_SELECT | BRFETCH', async () => {
		const bar = new RecordingBar0();
		bar.onWrite.set(G.BCR, (v) => bar.regs.set(G.BCR, v | 1));
		const r = await falcon(bar).reset('riscv');
		expect(r.resetReadyTimedOut).toBe(true);
		expect(bar.writes()).toContainEqual([G.BCR, 0x110]);
	});

	it('TU10x waits for DMACTL scrubbing bits and does not poll RESET_READY', async () => {
		const bar = new RecordingBar0();
		let n = 0;
		bar.onRead.set(G.DMACTL, () => (n++ < 3 ? 0x6 : 0));
		await falcon(bar, TU10X).reset('falcon');
		expect(bar.log.some((a) => a[0] === 'r' && a[1] === G.HWCFG2)).toBe(false);
		expect(n).toBeGreaterThan(3);
	});

	it('scrubbing that never finishes is a FalconError', async () => {
		const bar = new RecordingBar0();
		bar.regs.set(G.HWCFG2, 0x80001000);
		await expect(falcon(bar).reset('falcon')).rejects.toThrow(/MEM_SCRUBBING/);
	});
});
