/**
 * Falcon instruction and data memories.
 *
 * IMEM is a set of 256-byte physical blocks, each with a valid bit, a secure bit and a 16-bit *tag*: the
 * virtual page the block holds. Code addresses (BOOTVEC, branch targets) are virtual, so the core finds a
 * block by its tag, not by its physical index — loading code at the right physical place with the wrong
 * tags makes the boot vector miss. DMEM is plain byte-addressed memory.
 *
 * @module
 */

/** Size of an IMEM block and of a DMA transfer unit. */
export const FALCON_BLOCK_SIZE = 256;

/** One IMEM block as the simulator sees it (diagnostics and tests). */
export interface ImemBlockInfo {
	readonly index: number;
	readonly tag: number;
	readonly secure: boolean;
}

/** IMEM: bytes plus per-block valid/secure/tag state. */
export class FalconImem {
	readonly size: number;
	readonly bytes: Uint8Array;
	readonly #tags: Int32Array;
	readonly #secure: Uint8Array;

	constructor(size: number) {
		this.size = size;
		this.bytes = new Uint8Array(size);
		this.#tags = new Int32Array(size / FALCON_BLOCK_SIZE).fill(-1);
		this.#secure = new Uint8Array(size / FALCON_BLOCK_SIZE);
	}

	/** Number of blocks. */
	get blocks(): number {
		return this.#tags.length;
	}

	/** Invalidate every block and zero the contents (reset / scrubbing). */
	clear(): void {
		this.bytes.fill(0);
		this.#tags.fill(-1);
		this.#secure.fill(0);
	}

	/**
	 * Write `data` at physical byte `address`, marking every touched block valid with `tag` (incremented per
	 * block crossed) and the given secure bit. Bytes past the end of IMEM are dropped.
	 */
	write(address: number, data: Uint8Array, tag: number, secure: boolean): void {
		const end = Math.min(this.size, address + data.length);
		if (address >= end) return;
		this.bytes.set(data.subarray(0, end - address), address);
		const first = Math.floor(address / FALCON_BLOCK_SIZE);
		const last = Math.floor((end - 1) / FALCON_BLOCK_SIZE);
		for (let b = first; b <= last; b++) {
			this.#tags[b] = (tag + (b - first)) & 0xffff;
			this.#secure[b] = secure ? 1 : 0;
		}
	}

	/** Write one 32-bit word through a PIO port: the block takes `tag` and `secure`. */
	writeWord(address: number, value: number, tag: number, secure: boolean): void {
		if (address + 4 > this.size) return;
		const b = Math.floor(address / FALCON_BLOCK_SIZE);
		this.bytes[address] = value & 0xff;
		this.bytes[address + 1] = (value >>> 8) & 0xff;
		this.bytes[address + 2] = (value >>> 16) & 0xff;
		this.bytes[address + 3] = (value >>> 24) & 0xff;
		this.#tags[b] = tag & 0xffff;
		this.#secure[b] = secure ? 1 : 0;
	}

	/** Read a 32-bit word at a physical address (0 past the end). */
	readWord(address: number): number {
		if (address + 4 > this.size) return 0;
		const d = this.bytes;
		return (d[address]! | (d[address + 1]! << 8) | (d[address + 2]! << 16) | (d[address + 3]! << 24)) >>> 0;
	}

	/** Tag of the block containing physical `address`, or -1 if the block is invalid. */
	tagAt(address: number): number {
		return this.#tags[Math.floor(address / FALCON_BLOCK_SIZE)] ?? -1;
	}

	/** Valid blocks, in physical order. */
	validBlocks(): ImemBlockInfo[] {
		const out: ImemBlockInfo[] = [];
		for (let i = 0; i < this.#tags.length; i++) {
			if (this.#tags[i]! >= 0) out.push({ index: i, tag: this.#tags[i]!, secure: this.#secure[i] === 1 });
		}
		return out;
	}

	/** Whether any valid block is secure. */
	hasSecureBlocks(): boolean {
		for (let i = 0; i < this.#tags.length; i++) if (this.#tags[i]! >= 0 && this.#secure[i] === 1) return true;
		return false;
	}

	/**
	 * The core's view: a map from virtual page (tag) to physical block. A tag held by two valid blocks is a
	 * multiple hit, which the core treats as a miss.
	 */
	tagMap(): ImemTagMap {
		const map = new Map<number, number>();
		const multiple = new Set<number>();
		for (let i = 0; i < this.#tags.length; i++) {
			const tag = this.#tags[i]!;
			if (tag < 0) continue;
			if (map.has(tag)) multiple.add(tag);
			else map.set(tag, i);
		}
		for (const tag of multiple) map.delete(tag);
		return new ImemTagMap(this, map, this.#secure);
	}
}

/** A snapshot of IMEM's tag → block mapping, used to read code by virtual address. */
export class ImemTagMap {
	readonly #imem: FalconImem;
	readonly #map: ReadonlyMap<number, number>;
	readonly #secure: Uint8Array;

	constructor(imem: FalconImem, map: ReadonlyMap<number, number>, secure: Uint8Array) {
		this.#imem = imem;
		this.#map = map;
		this.#secure = secure;
	}

	/** Physical block holding virtual page `va >> 8`, or `undefined` on a miss. */
	blockOf(va: number): number | undefined {
		return this.#map.get((va >>> 8) & 0xffff);
	}

	/**
	 * Read `length` bytes of code at virtual address `va` (256-byte aligned), or `undefined` if a page is
	 * missing. `secure` reports whether every page read is a secure block.
	 */
	read(va: number, length: number): { readonly bytes: Uint8Array; readonly secure: boolean } | undefined {
		if (va % FALCON_BLOCK_SIZE !== 0 || length < 0) return undefined;
		const out = new Uint8Array(length);
		let secure = true;
		for (let pos = 0; pos < length; pos += FALCON_BLOCK_SIZE) {
			const block = this.blockOf(va + pos);
			if (block === undefined) return undefined;
			const n = Math.min(FALCON_BLOCK_SIZE, length - pos);
			const phys = block * FALCON_BLOCK_SIZE;
			out.set(this.#imem.bytes.subarray(phys, phys + n), pos);
			if (this.#secure[block] !== 1) secure = false;
		}
		return { bytes: out, secure };
	}
}
