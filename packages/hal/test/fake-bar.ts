import type { Bar0 } from '../src/index.ts';

/** A BAR0 backed by a Map, recording every access, for register tests. Unwritten registers read 0. */
export class FakeBar implements Bar0 {
	readonly size = 16 * 1024 * 1024;
	readonly regs = new Map<number, number>();
	readonly log: { op: 'r' | 'w'; offset: number; value: number }[] = [];

	read32(offset: number): number {
		if (offset % 4 !== 0 || offset < 0 || offset >= this.size) throw new Error(`bad read offset ${offset}`);
		const value = this.regs.get(offset) ?? 0;
		this.log.push({ op: 'r', offset, value });
		return value;
	}

	write32(offset: number, value: number): void {
		if (offset % 4 !== 0 || offset < 0 || offset >= this.size) throw new Error(`bad write offset ${offset}`);
		if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new Error(`bad value ${value}`);
		this.regs.set(offset, value);
		this.log.push({ op: 'w', offset, value });
	}

	/** Offsets written, in order. */
	writes(): number[] {
		return this.log.filter((e) => e.op === 'w').map((e) => e.offset);
	}
}
