import type { FirmwareAbi } from '@gspkit/abi';
import type { RpcEngine } from '@gspkit/gsp-rpc';
import {
	chipByName,
	type DmaAllocOptions,
	type DmaBuffer,
	type DmaMemory,
	type VramWindow,
} from '@gspkit/hal';
import { dmaPageTableAllocator, VaSpace } from '@gspkit/mmu';
import { describe, expect, it } from 'vitest';
import {
	type ChannelMemoryProvider,
	type ControlCallLike,
	createRmChannel,
	Fence,
	type GpuVaSpace,
	isChannelSchedError,
	type MemoryRegion,
	mmuKernelVaSpace,
	NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN,
	type RmCalls,
	type RmChannelAllocInput,
	type RmChannelOptions,
	sharedRegion,
	UnsupportedError,
	USERD,
	type VramBlockAllocator,
	vramChannelMemory,
	vramWindowRegion,
} from '../src/index.ts';

// The RPC engine satisfies the structural interface (compile-time check).
const _engineIsRmCalls: (e: RpcEngine) => RmCalls = (e) => e;
void _engineIsRmCalls;

class FakeDma implements DmaMemory {
	#next = 0x80_0000_0000n;
	readonly live = new Set<DmaBuffer>();
	alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
		const align = BigInt(options.align ?? 4096);
		const addr = ((this.#next + align - 1n) / align) * align;
		this.#next = addr + BigInt(size);
		const sab = new SharedArrayBuffer(size);
		const buf = {
			busAddress: addr,
			size,
			bytes: new Uint8Array(sab),
			view: new DataView(sab),
			label: options.label ?? '',
		};
		this.live.add(buf);
		return buf;
	}
	free(buffer: DmaBuffer): void {
		if (!this.live.delete(buffer)) throw new Error('double free');
	}
	get bytesInUse(): number {
		return [...this.live].reduce((a, b) => a + b.size, 0);
	}
	get liveAllocations(): number {
		return this.live.size;
	}
}

const enc = (o: unknown) =>
	new TextEncoder().encode(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
const u32 = (v: number) => {
	const b = new Uint8Array(4);
	new DataView(b.buffer).setUint32(0, v, true);
	return b;
};

const CMD = { bind: 0xa06f0104, schedule: 0xa06f0103, mthdbuf: 0x20802a11 };
const CE0_ENGINE_TYPE = 0x0f;

/** A fake ABI whose codecs are JSON, so the fake RM can check every field that was set. */
function fakeAbi(options: { withToken?: boolean; noFifo?: boolean } = {}): FirmwareAbi {
	const call = <R>(
		name: string,
		cmd: number,
		params: unknown,
		decode: (r: Uint8Array) => R,
	): ControlCallLike<R> => ({
		name,
		cmd,
		params: enc(params),
		decode,
	});
	const fifo = {
		encodeChannelAlloc: (p: RmChannelAllocInput) => enc({ kind: 'channel', ...p }),
		channelFlags: (p: object) => 0x1000 | (Object.values(p).includes(true) ? 0x1 : 0),
		internalFlags: (p: { privilege: string }) => (p.privilege === 'admin' ? 0x2 : 0x1),
		bind: (engineType: number) => call('BIND', CMD.bind, { engineType }, () => undefined),
		schedule: (enable: boolean) =>
			call('SCHEDULE', CMD.schedule, { bEnable: enable ? 1 : 0 }, () => undefined),
		nv2080EngineType: (e: { kind: string; instance: number }) =>
			e.kind === 'ce' ? CE0_ENGINE_TYPE + e.instance : -1,
		...(options.withToken
			? {
					workSubmitToken: () =>
						call('TOKEN', NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN, {}, (r) =>
							new DataView(r.buffer, r.byteOffset).getUint32(0, true),
						),
				}
			: {}),
	};
	const ce = {
		faultMethodBufferSize: () =>
			call('MTHDBUF', CMD.mthdbuf, {}, (r) => new DataView(r.buffer, r.byteOffset).getUint32(0, true)),
		allocParams: (instance: number) => enc({ kind: 'ce', version: 1, engineType: instance }),
	};
	return {
		version: '535.113.01',
		subInterfaces: options.noFifo ? { ce } : { fifo, ce },
	} as unknown as FirmwareAbi;
}

interface Call {
	readonly op: 'alloc' | 'control' | 'free';
	readonly args: number[];
	readonly params?: unknown;
}

class FakeRm implements RmCalls {
	readonly calls: Call[] = [];
	readonly objects = new Set<number>();
	failOn: number | undefined;
	token = 0x0002_0007;
	async rmAlloc(hClient: number, hParent: number, hObject: number, hClass: number, params?: Uint8Array) {
		this.calls.push({
			op: 'alloc',
			args: [hClient, hParent, hObject, hClass],
			params: params && dec(params),
		});
		if (this.failOn === hClass) throw new Error(`RM refused class 0x${hClass.toString(16)}`);
		this.objects.add(hObject);
		return new Uint8Array(0);
	}
	async rmControl(hClient: number, hObject: number, cmd: number, params?: Uint8Array) {
		this.calls.push({
			op: 'control',
			args: [hClient, hObject, cmd],
			params: params && (cmd === NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN ? [...params] : dec(params)),
		});
		if (this.failOn === cmd) throw new Error(`RM refused control 0x${cmd.toString(16)}`);
		if (cmd === CMD.mthdbuf) return u32(0x5000);
		if (cmd === NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN) return u32(this.token);
		return new Uint8Array(0);
	}
	async rmFree(hClient: number, hParent: number, hObject: number) {
		this.calls.push({ op: 'free', args: [hClient, hParent, hObject] });
		if (!this.objects.delete(hObject)) throw new Error('free of unknown object');
	}
}

/** A VA space that hands out addresses from 0x1_0000_0000 and records maps. */
class FakeVas implements GpuVaSpace {
	readonly rmHandle = 0x90f10000;
	#next = 0x1_0000_0000n;
	readonly maps = new Map<bigint, { bus: bigint; size: number }>();
	mapKernel(buffer: DmaBuffer): bigint {
		const va = this.#next;
		this.#next += BigInt(Math.ceil(buffer.size / 4096) * 4096);
		this.maps.set(va, { bus: buffer.busAddress, size: buffer.size });
		return va;
	}
	unmapKernel(va: bigint): void {
		if (!this.maps.delete(va)) throw new Error('unmap of unknown va');
	}
}

function setup(chip: Parameters<typeof chipByName>[0] = 'GA102', abi = fakeAbi()) {
	const dma = new FakeDma();
	const rm = new FakeRm();
	const vas = new FakeVas();
	const bar0Writes: [number, number][] = [];
	const options: RmChannelOptions = {
		rm,
		abi,
		chip: chipByName(chip),
		platform: { bar0: { size: 16 << 20, read32: () => 0, write32: (o, v) => bar0Writes.push([o, v]) }, dma },
		hClient: 0xc1d00001,
		hDevice: 0xde1d0000,
		hSubdevice: 0x5d1d0000,
		hChannel: 0xf1f00003,
		hCopy: 0xcaf00003,
		vaSpace: vas,
		entries: 64,
	};
	return { dma, rm, vas, bar0Writes, options };
}

describe('RM-backed channels', () => {
	it('allocates, binds, schedules and gets the token in order, with the right class and memory descriptors', async () => {
		const { dma, rm, vas, options, bar0Writes } = setup('GA102');
		const ch = await createRmChannel(options);
		expect(rm.calls.map((c) => [c.op, ...c.args.map((a) => a.toString(16))])).toEqual([
			['control', 'c1d00001', '5d1d0000', '20802a11'],
			['alloc', 'c1d00001', 'de1d0000', 'f1f00003', 'c56f'],
			['control', 'c1d00001', 'f1f00003', 'a06f0104'],
			['control', 'c1d00001', 'f1f00003', 'a06f0103'],
			['control', 'c1d00001', 'f1f00003', 'c36f0108'],
			['alloc', 'c1d00001', 'f1f00003', 'caf00003', 'c7b5'],
		]);
		const p = rm.calls[1]?.params as Record<string, unknown> &
			Record<string, Record<string, string | number>>;
		expect(p.hVASpace).toBe(0x90f10000);
		expect(p.gpFifoOffset).toBe(`0x${ch.vas.ring.toString(16)}`);
		expect(p.gpFifoEntries).toBe(64);
		expect(p.engineType).toBe(CE0_ENGINE_TYPE);
		expect(p.internalFlags).toBe(0x2); // admin (privileged)
		expect(p.instanceMem).toMatchObject({ size: '0x1000', addressSpace: 1, cacheAttrib: 1 });
		expect(p.ramfcMem).toMatchObject({ base: p.instanceMem?.base, size: '0x200' });
		expect(p.userdMem).toMatchObject({ size: '0x200', addressSpace: 1 });
		expect(p.mthdbufMem).toMatchObject({ size: '0x5000', addressSpace: 1, cacheAttrib: 0 });
		expect(rm.calls[2]?.params).toEqual({ engineType: CE0_ENGINE_TYPE });
		expect(rm.calls[3]?.params).toEqual({ bEnable: 1 });
		expect(rm.calls[4]?.params).toEqual([0xff, 0xff, 0xff, 0xff]);
		expect(rm.calls[5]?.params).toEqual({ kind: 'ce', version: 1, engineType: 0 });
		// The ring VA RM got is where the ring buffer is mapped.
		const ringMap = vas.maps.get(ch.vas.ring);
		expect(ringMap?.size).toBe(4096); // 64 entries × 8 bytes, rounded up to a page
		expect(ringMap?.bus).toBeDefined();
		expect(ch.workSubmitToken).toBe(0x20007);
		expect(ch.classes.host.id).toBe(0xc56f);

		// Submitting rings the Ampere doorbell with RM's token, after publishing GP_PUT in USERD.
		const f = new Fence();
		ch.channel.submit([], f);
		expect(bar0Writes).toEqual([[0xbb0090, 0x20007]]);
		expect(ch.channel.put).toBe(1);
		await ch.destroy();
		expect(f.error?.message).toBe('channel destroyed');
		expect(rm.calls.slice(-2).map((c) => [c.op, c.args[2]])).toEqual([
			['free', 0xcaf00003],
			['free', 0xf1f00003],
		]);
		expect(rm.objects.size).toBe(0);
		expect(vas.maps.size).toBe(0);
		expect(dma.liveAllocations).toBe(0);
		await ch.destroy(); // idempotent
		expect(rm.calls.filter((c) => c.op === 'free')).toHaveLength(2);
	});

	it('uses the generation classes: Turing C46F/C5B5 with the 0x810090 doorbell, Hopper C86F/C8B5', async () => {
		const t = setup('TU102');
		const tu = await createRmChannel(t.options);
		expect(t.rm.calls.find((c) => c.op === 'alloc')?.args[3]).toBe(0xc46f);
		expect(t.rm.calls.filter((c) => c.op === 'alloc')[1]?.args[3]).toBe(0xc5b5);
		tu.channel.submit([], new Fence());
		expect(t.bar0Writes).toEqual([[0x810090, 0x20007]]);
		const h = setup('GH100');
		const gh = await createRmChannel(h.options);
		expect(h.rm.calls.filter((c) => c.op === 'alloc').map((c) => c.args[3])).toEqual([0xc86f, 0xc8b5]);
		expect(gh.channel.host.semaphoreVaBits).toBe(57);
	});

	it('prefers the ABI work-submit-token control when it has one', async () => {
		const { rm, options } = setup('GA102', fakeAbi({ withToken: true }));
		rm.token = 0x1234;
		const ch = await createRmChannel(options);
		expect(ch.workSubmitToken).toBe(0x1234);
		expect(rm.calls[4]?.params).toEqual([...new TextEncoder().encode('{}')]);
	});

	it('unwinds everything when a step fails (BIND refused)', async () => {
		const { dma, rm, vas, options } = setup();
		rm.failOn = CMD.bind;
		await expect(createRmChannel(options)).rejects.toThrow(/refused control 0xa06f0104/);
		expect(rm.objects.size).toBe(0);
		expect(rm.calls.at(-1)).toMatchObject({ op: 'free', args: [0xc1d00001, 0xde1d0000, 0xf1f00003] });
		expect(vas.maps.size).toBe(0);
		expect(dma.liveAllocations).toBe(0);
	});

	it('unwinds when the copy object or the channel class is refused, or the token is missing', async () => {
		for (const fail of [0xc7b5, 0xc56f]) {
			const { dma, rm, vas, options } = setup();
			rm.failOn = fail;
			await expect(createRmChannel(options)).rejects.toThrow(/refused class/);
			expect(rm.objects.size).toBe(0);
			expect(vas.maps.size).toBe(0);
			expect(dma.liveAllocations).toBe(0);
		}
		const { dma, rm, options } = setup();
		rm.token = 0xffffffff;
		await expect(createRmChannel(options)).rejects.toThrow(/work-submit token/);
		expect(rm.objects.size).toBe(0);
		expect(dma.liveAllocations).toBe(0);
	});

	it('disable() deschedules the channel in RM once (GPFIFO_SCHEDULE bEnable=0), off the calling stack', async () => {
		const { rm, options } = setup();
		const ch = await createRmChannel(options);
		const before = rm.calls.length;
		expect(ch.scheduled).toBe(true);
		expect(ch.disabling).toBeUndefined();
		const p = ch.disable();
		// Nothing reaches RM synchronously (callers are inside the scheduler's kill).
		expect(rm.calls).toHaveLength(before);
		expect(ch.disable()).toBe(p);
		expect(ch.disabling).toBe(p);
		await p;
		expect(rm.calls.slice(before)).toEqual([
			{ op: 'control', args: [0xc1d00001, 0xf1f00003, CMD.schedule], params: { bEnable: 0 } },
		]);
		expect(ch.scheduled).toBe(false);
		await ch.disable();
		expect(rm.calls).toHaveLength(before + 1);
		await ch.destroy();
		expect(rm.objects.size).toBe(0);
	});

	it('destroy() waits for a disable in flight before freeing the channel, and a late disable does nothing', async () => {
		const { rm, options } = setup();
		const ch = await createRmChannel(options);
		let release: () => void = () => undefined;
		const gate = new Promise<void>((r) => {
			release = r;
		});
		const control = rm.rmControl.bind(rm);
		rm.rmControl = async (hClient, hObject, cmd, params) => {
			const reply = await control(hClient, hObject, cmd, params);
			if (cmd === CMD.schedule) await gate;
			return reply;
		};
		const disabled = ch.disable();
		await Promise.resolve(); // the control is sent
		const destroyed = ch.destroy();
		for (let i = 0; i < 10; i++) await Promise.resolve();
		const ops = () => rm.calls.map((c) => (c.op === 'control' ? c.args[2] : c.op));
		expect(ops().at(-1)).toBe(CMD.schedule);
		expect(rm.calls.some((c) => c.op === 'free')).toBe(false);
		release();
		await disabled;
		await destroyed;
		expect(ops().slice(-3)).toEqual([CMD.schedule, 'free', 'free']);
		expect(rm.objects.size).toBe(0);
		expect(ch.scheduled).toBe(false);
		// Asked after destroy: no RM call (the channel is gone, its handle may be reused).
		const again = setup();
		const other = await createRmChannel(again.options);
		await other.destroy();
		await other.disable();
		expect(again.rm.calls.filter((c) => c.args[2] === CMD.schedule)).toHaveLength(1); // only the enable
		expect(other.scheduled).toBe(false);
	});

	it('a disable overtaken by destroy() sends nothing; a refused disable rejects and destroy still frees', async () => {
		const a = setup();
		const ch = await createRmChannel(a.options);
		const p = ch.disable();
		await ch.destroy(); // same tick: destroy wins, freeing the channel deschedules it
		await p;
		expect(a.rm.calls.filter((c) => c.args[2] === CMD.schedule).map((c) => c.params)).toEqual([
			{ bEnable: 1 },
		]);
		expect(a.rm.objects.size).toBe(0);

		const b = setup();
		const refused = await createRmChannel(b.options);
		b.rm.failOn = CMD.schedule;
		await expect(refused.disable()).rejects.toThrow(/refused control 0xa06f0103/);
		expect(refused.scheduled).toBe(true);
		b.rm.failOn = undefined;
		await refused.destroy();
		expect(b.rm.objects.size).toBe(0);
		expect(b.dma.liveAllocations).toBe(0);
	});

	it('refuses an ABI without a fifo sub-interface, before touching anything', async () => {
		const { dma, rm, options } = setup('GA102', fakeAbi({ noFifo: true }));
		await expect(createRmChannel(options)).rejects.toBeInstanceOf(UnsupportedError);
		expect(rm.calls).toEqual([]);
		expect(dma.liveAllocations).toBe(0);
	});

	it('instance block, USERD and method buffer come from the memory provider; USERD carries GP_PUT/GP_GET', async () => {
		const { options, rm } = setup();
		const blocks: Record<string, { region: MemoryRegion; freed: boolean }> = {};
		const memory: ChannelMemoryProvider = {
			alloc(purpose, size) {
				const region = sharedRegion(Math.max(size, 4096));
				const entry = { region, freed: false };
				blocks[purpose] = entry;
				return {
					address: purpose === 'instance' ? 0x100000n : purpose === 'userd' ? 0x200000n : 0x300000n,
					size,
					addressSpace: purpose === 'mthdbuf' ? 1 : 2,
					cacheAttrib: purpose === 'mthdbuf' ? 0 : 1,
					cpu: region,
					free: () => {
						entry.freed = true;
					},
				};
			},
		};
		const ch = await createRmChannel({ ...options, memory });
		const p = rm.calls[1]?.params as Record<string, Record<string, string | number>>;
		expect(p.instanceMem).toEqual({ base: '0x100000', size: '0x1000', addressSpace: 2, cacheAttrib: 1 });
		expect(p.ramfcMem).toEqual({ base: '0x100000', size: '0x200', addressSpace: 2, cacheAttrib: 1 });
		expect(p.userdMem).toEqual({ base: '0x200000', size: '0x200', addressSpace: 2, cacheAttrib: 1 });
		expect(p.mthdbufMem).toEqual({ base: '0x300000', size: '0x5000', addressSpace: 1, cacheAttrib: 0 });
		const userd = blocks.userd?.region as MemoryRegion;
		ch.channel.submit([], new Fence());
		ch.channel.submit([], new Fence());
		expect(userd.load32(USERD.GP_PUT)).toBe(2);
		expect(ch.channel.space).toBe(63 - 2);
		userd.store32(USERD.GP_GET, 2); // the host fetched both
		expect(ch.channel.space).toBe(63);
		await ch.destroy();
		expect(Object.values(blocks).every((b) => b.freed)).toBe(true);
	});
});

/** VRAM as plain bytes behind a BAR window of `windowSize` bytes, with a bump allocator that records frees. */
function fakeVram(windowSize = 0x10_0000n) {
	const fb = new Uint8Array(0x40_0000).fill(0xa5); // stale contents: the provider must zero what it hands out
	let next = 0x2_0000n;
	const live = new Map<bigint, number>();
	const allocator: VramBlockAllocator = {
		alloc(size, align) {
			const at = ((next + BigInt(align) - 1n) / BigInt(align)) * BigInt(align);
			next = at + BigInt(size);
			live.set(at, size);
			return at;
		},
		free(offset) {
			if (!live.delete(offset)) throw new Error(`VRAM 0x${offset.toString(16)} is not allocated`);
		},
	};
	const window: VramWindow = {
		size: windowSize,
		read(offset, dst) {
			if (offset + BigInt(dst.length) > windowSize) throw new Error('outside the window');
			dst.set(fb.subarray(Number(offset), Number(offset) + dst.length));
		},
		write(offset, src) {
			if (offset + BigInt(src.length) > windowSize) throw new Error('outside the window');
			fb.set(src, Number(offset));
		},
	};
	const word = (at: bigint) => new DataView(fb.buffer).getUint32(Number(at), true);
	return { fb, allocator, window, live, word };
}

describe('channel memory in VRAM', () => {
	it('puts instance block and USERD in FB (address space 2), the method buffer in sysmem; USERD is the VRAM word', async () => {
		const { options, rm, dma } = setup();
		const v = fakeVram();
		const ch = await createRmChannel({
			...options,
			memory: vramChannelMemory({ vram: v.allocator, window: v.window, dma }),
		});
		const p = rm.calls[1]?.params as Record<string, Record<string, string | number>>;
		// First fit from 0x20000: the instance block (4 KiB aligned), then USERD in its own page.
		expect(p.instanceMem).toEqual({ base: '0x20000', size: '0x1000', addressSpace: 2, cacheAttrib: 1 });
		expect(p.ramfcMem).toEqual({ base: '0x20000', size: '0x200', addressSpace: 2, cacheAttrib: 1 });
		expect(p.userdMem).toEqual({ base: '0x21000', size: '0x200', addressSpace: 2, cacheAttrib: 1 });
		expect(p.mthdbufMem).toMatchObject({ size: '0x5000', addressSpace: 1, cacheAttrib: 0 });
		expect(BigInt(p.mthdbufMem?.base as string)).toBeGreaterThanOrEqual(0x80_0000_0000n); // a bus address
		// Zeroed through the window (the FB had stale 0xa5 bytes).
		expect(v.fb.subarray(0x20000, 0x22000).every((b) => b === 0)).toBe(true);
		expect(v.fb[0x22000]).toBe(0xa5);

		ch.channel.submit([], new Fence());
		ch.channel.submit([], new Fence());
		ch.channel.submit([], new Fence());
		expect(v.word(0x21000n + BigInt(USERD.GP_PUT))).toBe(3); // GP_PUT in little-endian, in VRAM
		expect(ch.channel.inFlight).toBe(3);
		new DataView(v.fb.buffer).setUint32(0x21000 + USERD.GP_GET, 2, true); // the host fetched two
		expect(ch.channel.get).toBe(2);
		expect(ch.channel.inFlight).toBe(1);
		expect(v.live.size).toBe(2);
		await ch.destroy();
		expect(v.live.size).toBe(0);
		expect(dma.liveAllocations).toBe(0);
	});

	it('falls back to system memory for a block the window cannot reach, and unwinds VRAM on failure', async () => {
		const a = setup();
		const v = fakeVram(0x2_1000n); // the window ends after the instance block
		const ch = await createRmChannel({
			...a.options,
			memory: vramChannelMemory({ vram: v.allocator, window: v.window, dma: a.dma }),
		});
		const p = a.rm.calls[1]?.params as Record<string, Record<string, string | number>>;
		expect(p.instanceMem).toMatchObject({ base: '0x20000', addressSpace: 2 });
		expect(p.userdMem).toMatchObject({ addressSpace: 1, cacheAttrib: 1 });
		expect(v.live.size).toBe(1); // the unreachable USERD page went back to the heap
		await ch.destroy();
		expect(v.live.size).toBe(0);
		expect(a.dma.liveAllocations).toBe(0);

		const b = setup();
		const w = fakeVram();
		b.rm.failOn = CMD.bind;
		await expect(
			createRmChannel({
				...b.options,
				memory: vramChannelMemory({ vram: w.allocator, window: w.window, dma: b.dma }),
			}),
		).rejects.toThrow(/refused control/);
		expect(w.live.size).toBe(0);
		expect(b.dma.liveAllocations).toBe(0);
	});

	it('vramWindowRegion reads and writes little-endian words at the window offset, and checks its bounds', () => {
		const v = fakeVram();
		const r = vramWindowRegion(v.window, 0x1000n, 64);
		r.write32(4, 0x1234_5678);
		expect([...v.fb.subarray(0x1004, 0x1008)]).toEqual([0x78, 0x56, 0x34, 0x12]);
		r.store32(60, 0xffff_fffe);
		expect(r.load32(60)).toBe(0xffff_fffe);
		r.writeWords(8, [1, 2]);
		expect(v.word(0x100cn)).toBe(2);
		const sub = r.subregion(8, 8);
		expect(sub.read32(4)).toBe(2);
		expect(() => r.read32(64)).toThrow(/out of range/);
		expect(() => r.read32(2)).toThrow(/unaligned/);
		expect(() => sub.write32(8, 0)).toThrow(/out of range/);
		expect(() => vramWindowRegion(v.window, 0x10_0000n - 60n, 64)).toThrow(/VRAM window region/);
	});
});

describe('mmuKernelVaSpace', () => {
	it('maps DMA buffers into an @gspkit/mmu VA space so the MMU walk finds them', () => {
		const dma = new FakeDma();
		const vas = new VaSpace({ format: 'v2', allocator: dmaPageTableAllocator(dma), invalidate: null });
		const k = mmuKernelVaSpace(vas, {
			rmHandle: 0x90f10000,
			range: { va: 0x20_0000_0000n, size: 0x10_0000n },
		});
		const a = dma.alloc(8192, { label: 'a' });
		const b = dma.alloc(100, { label: 'b' });
		const va = k.mapKernel(a);
		const vb = k.mapKernel(b);
		expect(va).toBe(0x20_0000_0000n);
		expect(vb).toBe(0x20_0000_2000n);
		const t = vas.translate(va + 0x1234n);
		expect(t.valid && t.address).toBe(a.busAddress + 0x1234n);
		expect(t.valid && t.aperture).toBe('sysCoherent');
		k.unmapKernel(va, a.size);
		expect(vas.translate(va).valid).toBe(false);
		const c = dma.alloc(4096, { label: 'c' });
		expect(k.mapKernel(c)).toBe(va); // first fit reuses the hole
		expect(() => k.mapKernel(dma.alloc(0x10_0000, { label: 'big' }))).toThrow(/full/);
		try {
			k.unmapKernel(0x1234n, 4096);
		} catch (e) {
			expect(isChannelSchedError(e, 'CHSCHED_INVALID_ARGUMENT')).toBe(true);
		}
	});
});
