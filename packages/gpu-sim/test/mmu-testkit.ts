/**
 * Test support for the MMU tests: NVIDIA's field definitions (parsed from the real dev_mmu.h / dev_fault.h
 * when they have been fetched, else a hand-written table of the same macros from the hardware reference),
 * a fake physical memory, and a tiny page-table encoder that knows nothing of the walker's code.
 *
 * Everything here is written from the header macro names, never from `src/mmu`, so a wrong bit in the
 * simulator's own transcription makes translations fail.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GspkitError } from '@gspkit/hal';
import type { PhysicalMemory, TableAperture } from '../src/mmu/index.ts';

// ---------------------------------------------------------------------------------------------------------
// Header location and parsing

/** Directories that may hold `nvidia-uvm/hwref` (the brief's layout and gspkit-fetch's layout). */
export function findHwref(env: NodeJS.ProcessEnv = process.env): string | undefined {
	if (env.GSPKIT_HWREF && existsSync(env.GSPKIT_HWREF)) return env.GSPKIT_HWREF;
	const cache =
		env.GSPKIT_CACHE ?? join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'gspkit');
	const src = join(cache, 'src');
	const candidates = [join(src, 'nvidia-open', 'kernel-open', 'nvidia-uvm', 'hwref')];
	if (existsSync(src)) {
		for (const d of readdirSync(src).sort().reverse()) {
			if (d.startsWith('nvidia-open-')) candidates.push(join(src, d, 'nvidia-uvm', 'hwref'));
		}
	}
	return candidates.find((c) => existsSync(join(c, 'turing', 'tu102', 'dev_mmu.h')));
}

/** A parsed `#define`: a bit range or a number. */
export type HeaderValue = { readonly hi: number; readonly lo: number } | number;

/** Evaluate the integer expressions NVIDIA's headers use in bit ranges: `(35-3)`, `(1*32+2)`, `0x1f`. */
export function evalExpr(text: string): number {
	const tokens = text.match(/0x[0-9a-fA-F]+|\d+|[-+*()]/g) ?? [];
	if (tokens.join('') !== text.replace(/\s+/g, '')) throw new Error(`not an integer expression: ${text}`);
	let i = 0;
	const peek = (): string | undefined => tokens[i];
	const primary = (): number => {
		const t = tokens[i++];
		if (t === '(') {
			const v = sum();
			if (tokens[i++] !== ')') throw new Error(`unbalanced: ${text}`);
			return v;
		}
		if (t === '-') return -primary();
		if (t === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) throw new Error(`bad token ${t} in ${text}`);
		return Number(t);
	};
	const product = (): number => {
		let v = primary();
		while (peek() === '*') {
			i++;
			v *= primary();
		}
		return v;
	};
	const sum = (): number => {
		let v = product();
		while (peek() === '+' || peek() === '-') {
			const op = tokens[i++];
			const r = product();
			v = op === '+' ? v + r : v - r;
		}
		return v;
	};
	const v = sum();
	if (i !== tokens.length) throw new Error(`trailing tokens in ${text}`);
	return v;
}

/** Parse every `#define NAME value` of a header into a map (comments stripped, group markers skipped). */
export function parseHeader(text: string): Map<string, HeaderValue> {
	const out = new Map<string, HeaderValue>();
	for (const line of text.split('\n')) {
		const m = /^#define\s+(\w+)\s+(.*)$/.exec(line.trim());
		if (!m?.[1] || m[2] === undefined) continue;
		const body = m[2].replace(/\/\*.*?\*\//g, '').trim();
		if (body === '') continue;
		const colon = splitRange(body);
		try {
			if (colon) out.set(m[1], { hi: evalExpr(colon[0]), lo: evalExpr(colon[1]) });
			else out.set(m[1], evalExpr(body));
		} catch {
			// Macros with arguments or other syntax are not needed here.
		}
	}
	return out;
}

/** Split `hi:lo` at the top-level colon. */
function splitRange(body: string): [string, string] | undefined {
	let depth = 0;
	for (let k = 0; k < body.length; k++) {
		const c = body[k];
		if (c === '(') depth++;
		else if (c === ')') depth--;
		else if (c === ':' && depth === 0) return [body.slice(0, k), body.slice(k + 1)];
	}
	return undefined;
}

/** The parsed headers that were found. */
export interface Headers {
	readonly dir: string;
	readonly tu102Mmu: Map<string, HeaderValue>;
	readonly gh100Mmu: Map<string, HeaderValue>;
	readonly faults: ReadonlyMap<string, Map<string, HeaderValue>>;
}

/** Load and parse the headers, or `undefined` when they have not been fetched. */
export function loadHeaders(): Headers | undefined {
	const dir = findHwref();
	if (dir === undefined) return undefined;
	const read = (p: string): Map<string, HeaderValue> => parseHeader(readFileSync(join(dir, p), 'utf8'));
	const faults = new Map<string, Map<string, HeaderValue>>();
	for (const p of ['turing/tu102', 'ampere/ga100', 'hopper/gh100']) {
		if (existsSync(join(dir, p, 'dev_fault.h'))) faults.set(p, read(join(p, 'dev_fault.h')));
	}
	return {
		dir,
		tu102Mmu: read('turing/tu102/dev_mmu.h'),
		gh100Mmu: read('hopper/gh100/dev_mmu.h'),
		faults,
	};
}

// ---------------------------------------------------------------------------------------------------------
// The hand-written table (hardware reference B.2–B.4, checked against the headers when they are present)

const r = (hi: number, lo: number) => ({ hi, lo });

/** Key bit positions and values, by macro name without the `NV_MMU_` prefix. */
export const HAND_MMU: Readonly<Record<string, HeaderValue>> = {
	VER2_PDE_IS_PTE: r(0, 0),
	VER2_PDE_APERTURE: r(2, 1),
	VER2_PDE_APERTURE_INVALID: 0,
	VER2_PDE_APERTURE_VIDEO_MEMORY: 1,
	VER2_PDE_APERTURE_SYSTEM_COHERENT_MEMORY: 2,
	VER2_PDE_APERTURE_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER2_PDE_VOL: r(3, 3),
	VER2_PDE_NO_ATS: r(5, 5),
	VER2_PDE_ADDRESS_SYS: r(53, 8),
	VER2_PDE_ADDRESS_VID: r(32, 8),
	VER2_PDE_ADDRESS_VID_PEER: r(35, 33),
	VER2_PDE_ADDRESS_SHIFT: 12,
	VER2_PDE__SIZE: 8,
	VER2_DUAL_PDE_IS_PTE: r(0, 0),
	VER2_DUAL_PDE_APERTURE_BIG: r(2, 1),
	VER2_DUAL_PDE_APERTURE_BIG_INVALID: 0,
	VER2_DUAL_PDE_APERTURE_BIG_VIDEO_MEMORY: 1,
	VER2_DUAL_PDE_APERTURE_BIG_SYSTEM_COHERENT_MEMORY: 2,
	VER2_DUAL_PDE_APERTURE_BIG_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER2_DUAL_PDE_VOL_BIG: r(3, 3),
	VER2_DUAL_PDE_NO_ATS: r(5, 5),
	VER2_DUAL_PDE_ADDRESS_BIG_SYS: r(53, 4),
	VER2_DUAL_PDE_ADDRESS_BIG_VID: r(32, 4),
	VER2_DUAL_PDE_APERTURE_SMALL: r(66, 65),
	VER2_DUAL_PDE_APERTURE_SMALL_INVALID: 0,
	VER2_DUAL_PDE_APERTURE_SMALL_VIDEO_MEMORY: 1,
	VER2_DUAL_PDE_APERTURE_SMALL_SYSTEM_COHERENT_MEMORY: 2,
	VER2_DUAL_PDE_APERTURE_SMALL_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER2_DUAL_PDE_VOL_SMALL: r(67, 67),
	VER2_DUAL_PDE_ADDRESS_SMALL_SYS: r(117, 72),
	VER2_DUAL_PDE_ADDRESS_SMALL_VID: r(96, 72),
	VER2_DUAL_PDE_ADDRESS_SHIFT: 12,
	VER2_DUAL_PDE_ADDRESS_BIG_SHIFT: 8,
	VER2_DUAL_PDE__SIZE: 16,
	VER2_PTE_VALID: r(0, 0),
	VER2_PTE_APERTURE: r(2, 1),
	VER2_PTE_APERTURE_VIDEO_MEMORY: 0,
	VER2_PTE_APERTURE_PEER_MEMORY: 1,
	VER2_PTE_APERTURE_SYSTEM_COHERENT_MEMORY: 2,
	VER2_PTE_APERTURE_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER2_PTE_VOL: r(3, 3),
	VER2_PTE_ENCRYPTED: r(4, 4),
	VER2_PTE_PRIVILEGE: r(5, 5),
	VER2_PTE_READ_ONLY: r(6, 6),
	VER2_PTE_ATOMIC_DISABLE: r(7, 7),
	VER2_PTE_ADDRESS_SYS: r(53, 8),
	VER2_PTE_ADDRESS_VID: r(32, 8),
	VER2_PTE_ADDRESS_VID_PEER: r(35, 33),
	VER2_PTE_COMPTAGLINE: r(55, 36),
	VER2_PTE_KIND: r(63, 56),
	VER2_PTE_ADDRESS_SHIFT: 12,
	VER2_PTE__SIZE: 8,
	VER3_PDE_IS_PTE: r(0, 0),
	VER3_PDE_APERTURE: r(2, 1),
	VER3_PDE_APERTURE_INVALID: 0,
	VER3_PDE_APERTURE_VIDEO_MEMORY: 1,
	VER3_PDE_APERTURE_SYSTEM_COHERENT_MEMORY: 2,
	VER3_PDE_APERTURE_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER3_PDE_PCF: r(5, 3),
	VER3_PDE_PCF_VALID_CACHED_ATS_ALLOWED: 0,
	VER3_PDE_PCF_VALID_UNCACHED_ATS_ALLOWED: 1,
	VER3_PDE_PCF_VALID_CACHED_ATS_NOT_ALLOWED: 2,
	VER3_PDE_PCF_VALID_UNCACHED_ATS_NOT_ALLOWED: 3,
	VER3_PDE_PCF_INVALID_ATS_ALLOWED: 0,
	VER3_PDE_PCF_SPARSE_ATS_ALLOWED: 1,
	VER3_PDE_PCF_INVALID_ATS_NOT_ALLOWED: 2,
	VER3_PDE_PCF_SPARSE_ATS_NOT_ALLOWED: 3,
	VER3_PDE_ADDRESS: r(51, 12),
	VER3_PDE_ADDRESS_SHIFT: 12,
	VER3_PDE__SIZE: 8,
	VER3_DUAL_PDE_IS_PTE: r(0, 0),
	VER3_DUAL_PDE_APERTURE_BIG: r(2, 1),
	VER3_DUAL_PDE_APERTURE_BIG_INVALID: 0,
	VER3_DUAL_PDE_APERTURE_BIG_VIDEO_MEMORY: 1,
	VER3_DUAL_PDE_APERTURE_BIG_SYSTEM_COHERENT_MEMORY: 2,
	VER3_DUAL_PDE_APERTURE_BIG_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER3_DUAL_PDE_PCF_BIG: r(5, 3),
	VER3_DUAL_PDE_PCF_BIG_VALID_CACHED_ATS_ALLOWED: 0,
	VER3_DUAL_PDE_PCF_BIG_SPARSE_ATS_ALLOWED: 1,
	VER3_DUAL_PDE_PCF_BIG_INVALID_ATS_NOT_ALLOWED: 2,
	VER3_DUAL_PDE_ADDRESS_BIG: r(51, 8),
	VER3_DUAL_PDE_APERTURE_SMALL: r(66, 65),
	VER3_DUAL_PDE_APERTURE_SMALL_INVALID: 0,
	VER3_DUAL_PDE_APERTURE_SMALL_VIDEO_MEMORY: 1,
	VER3_DUAL_PDE_APERTURE_SMALL_SYSTEM_COHERENT_MEMORY: 2,
	VER3_DUAL_PDE_APERTURE_SMALL_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER3_DUAL_PDE_PCF_SMALL: r(69, 67),
	VER3_DUAL_PDE_PCF_SMALL_VALID_CACHED_ATS_NOT_ALLOWED: 2,
	VER3_DUAL_PDE_ADDRESS_SMALL: r(115, 76),
	VER3_DUAL_PDE_ADDRESS_SHIFT: 12,
	VER3_DUAL_PDE_ADDRESS_BIG_SHIFT: 8,
	VER3_DUAL_PDE__SIZE: 16,
	VER3_PTE_VALID: r(0, 0),
	VER3_PTE_APERTURE: r(2, 1),
	VER3_PTE_APERTURE_VIDEO_MEMORY: 0,
	VER3_PTE_APERTURE_PEER_MEMORY: 1,
	VER3_PTE_APERTURE_SYSTEM_COHERENT_MEMORY: 2,
	VER3_PTE_APERTURE_SYSTEM_NON_COHERENT_MEMORY: 3,
	VER3_PTE_PCF: r(7, 3),
	VER3_PTE_PCF_INVALID: 0,
	VER3_PTE_PCF_SPARSE: 1,
	VER3_PTE_PCF_MAPPING_NOWHERE: 2,
	VER3_PTE_PCF_NO_VALID_4KB_PAGE: 3,
	...v3PcfNames(),
	VER3_PTE_KIND: r(11, 8),
	VER3_PTE_ADDRESS: r(51, 12),
	VER3_PTE_ADDRESS_SYS: r(51, 12),
	VER3_PTE_ADDRESS_PEER: r(51, 12),
	VER3_PTE_ADDRESS_VID: r(39, 12),
	VER3_PTE_PEER_ID: r(63, 61),
	VER3_PTE_ADDRESS_SHIFT: 12,
	VER3_PTE__SIZE: 8,
	PTE_KIND_INVALID: 0x07,
	PTE_KIND_PITCH: 0x00,
	PTE_KIND_GENERIC_MEMORY: 0x06,
};

/**
 * The 32 valid-PTE PCF names as reference B.4 describes the bits (bit0 uncached, bit1 privileged, bit2 RO,
 * bit3 no-atomic, bit4 ACD).
 */
function v3PcfNames(): Record<string, number> {
	const out: Record<string, number> = {};
	for (let pcf = 0; pcf < 32; pcf++) {
		const name = [
			pcf & 2 ? 'PRIVILEGE' : 'REGULAR',
			pcf & 4 ? 'RO' : 'RW',
			pcf & 8 ? 'NO_ATOMIC' : 'ATOMIC',
			pcf & 1 ? 'UNCACHED' : 'CACHED',
			pcf & 16 ? 'ACD' : 'ACE',
		].join('_');
		out[`VER3_PTE_PCF_${name}`] = pcf;
	}
	return out;
}

/** `NV_PFAULT_FAULT_TYPE_*`, by suffix (dev_fault.h). */
export const HAND_FAULT_TYPES: Readonly<Record<string, number>> = {
	PDE: 0x0,
	PDE_SIZE: 0x1,
	PTE: 0x2,
	VA_LIMIT_VIOLATION: 0x3,
	UNBOUND_INST_BLOCK: 0x4,
	PRIV_VIOLATION: 0x5,
	RO_VIOLATION: 0x6,
	WO_VIOLATION: 0x7,
	PITCH_MASK_VIOLATION: 0x8,
	WORK_CREATION: 0x9,
	UNSUPPORTED_APERTURE: 0xa,
	COMPRESSION_FAILURE: 0xb,
	UNSUPPORTED_KIND: 0xc,
	REGION_VIOLATION: 0xd,
	POISONED: 0xe,
	ATOMIC_VIOLATION: 0xf,
};

export const HEADERS = loadHeaders();

/** The field source the encoders use: the header when present, else the hand table. */
function lookup(name: string): HeaderValue {
	if (HEADERS !== undefined) {
		const table = name.startsWith('VER3_') ? HEADERS.gh100Mmu : HEADERS.tu102Mmu;
		const v = table.get(`NV_MMU_${name}`);
		if (v !== undefined) return v;
	}
	const v = HAND_MMU[name];
	if (v === undefined) throw new Error(`no definition for NV_MMU_${name}`);
	return v;
}

/** A bit range by macro name (without `NV_MMU_`). */
export function F(name: string): { hi: number; lo: number } {
	const v = lookup(name);
	if (typeof v === 'number') throw new Error(`NV_MMU_${name} is a value, not a field`);
	return v;
}

/** A value by macro name (without `NV_MMU_`). */
export function V(name: string): number {
	const v = lookup(name);
	if (typeof v !== 'number') throw new Error(`NV_MMU_${name} is a field, not a value`);
	return v;
}

/** Set field `name` of a (64- or 128-bit) entry to `value`, checking that it fits. */
export function set(entry: bigint, name: string, value: bigint | number | boolean): bigint {
	const f = F(name);
	const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
	const width = BigInt(f.hi - f.lo + 1);
	if (v < 0n || v >= 1n << width) throw new Error(`${value} does not fit NV_MMU_${name} (${f.hi}:${f.lo})`);
	const mask = ((1n << width) - 1n) << BigInt(f.lo);
	return (entry & ~mask) | (v << BigInt(f.lo));
}

/** Read field `name` of an entry. */
export function get(entry: bigint, name: string): bigint {
	const f = F(name);
	return (entry >> BigInt(f.lo)) & ((1n << BigInt(f.hi - f.lo + 1)) - 1n);
}

// ---------------------------------------------------------------------------------------------------------
// Fake physical memory

/** The error the fake memory throws for unbacked addresses (a GspkitError, like gpu-sim's DMA faults). */
export class UnbackedError extends GspkitError {
	constructor(aperture: string, pa: bigint) {
		super('TEST_UNBACKED', `${aperture} ${pa.toString(16)} is not backed`);
	}
}

/** A sparse 64-bit-word memory per aperture; counts reads so tests can see TLB hits. */
export class FakeMemory implements PhysicalMemory {
	readonly #words = new Map<string, bigint>();
	readonly #unbacked: { aperture: TableAperture; start: bigint; end: bigint }[] = [];
	reads = 0;

	readU64(aperture: TableAperture, pa: bigint): bigint {
		this.reads++;
		if (pa % 8n !== 0n) throw new Error(`unaligned table read at ${pa.toString(16)}`);
		for (const u of this.#unbacked) {
			if (u.aperture === aperture && pa >= u.start && pa < u.end) throw new UnbackedError(aperture, pa);
		}
		return this.#words.get(`${aperture}:${pa}`) ?? 0n;
	}

	write64(aperture: TableAperture, pa: bigint, value: bigint): void {
		if (pa % 8n !== 0n) throw new Error('unaligned write');
		if (value < 0n || value >= 1n << 64n) throw new Error('not a 64-bit value');
		this.#words.set(`${aperture}:${pa}`, value);
	}

	/** Write a 16-byte entry (little-endian: low quad-word first). */
	write128(aperture: TableAperture, pa: bigint, value: bigint): void {
		this.write64(aperture, pa, value & ((1n << 64n) - 1n));
		this.write64(aperture, pa + 8n, value >> 64n);
	}

	read64(aperture: TableAperture, pa: bigint): bigint {
		return this.#words.get(`${aperture}:${pa}`) ?? 0n;
	}

	unback(aperture: TableAperture, start: bigint, end: bigint): void {
		this.#unbacked.push({ aperture, start, end });
	}
}

// ---------------------------------------------------------------------------------------------------------
// Entry encoders (by macro name)

/** A table location. */
export interface Loc {
	readonly aperture: TableAperture;
	readonly address: bigint;
}

const PDE_APERTURE_NAME: Record<TableAperture, string> = {
	video: 'VIDEO_MEMORY',
	'sys-coherent': 'SYSTEM_COHERENT_MEMORY',
	'sys-noncoherent': 'SYSTEM_NON_COHERENT_MEMORY',
};

/** A page's target for the PTE encoders. */
export type PageTarget = 'video' | 'peer' | 'sys-coherent' | 'sys-noncoherent';

const PTE_APERTURE_NAME: Record<PageTarget, string> = {
	video: 'VIDEO_MEMORY',
	peer: 'PEER_MEMORY',
	'sys-coherent': 'SYSTEM_COHERENT_MEMORY',
	'sys-noncoherent': 'SYSTEM_NON_COHERENT_MEMORY',
};

/** Attributes of a page for the encoders. */
export interface PageSpec {
	readonly aperture: PageTarget;
	readonly pa: bigint;
	readonly kind?: number;
	readonly readOnly?: boolean;
	readonly privileged?: boolean;
	readonly volatile?: boolean;
	readonly atomicDisabled?: boolean;
	readonly peerId?: number;
	/** v3: access counting disabled (ACD) instead of enabled (ACE). */
	readonly acd?: boolean;
}

/** v2 PDE pointing at `loc` (sets VOL for system memory, as nouveau does). */
export function v2Pde(loc: Loc): bigint {
	let e = set(0n, 'VER2_PDE_APERTURE', V(`VER2_PDE_APERTURE_${PDE_APERTURE_NAME[loc.aperture]}`));
	const addr = loc.address >> BigInt(V('VER2_PDE_ADDRESS_SHIFT'));
	e = set(e, loc.aperture === 'video' ? 'VER2_PDE_ADDRESS_VID' : 'VER2_PDE_ADDRESS_SYS', addr);
	if (loc.aperture !== 'video') e = set(e, 'VER2_PDE_VOL', 1);
	return e;
}

/** v2 sparse PDE (VALID/IS_PTE = 0, APERTURE = INVALID, VOL = 1). */
export function v2SparsePde(): bigint {
	return set(0n, 'VER2_PDE_VOL', 1);
}

/** v2 dual PDE0. */
export function v2Dual(big: Loc | undefined, small: Loc | undefined): bigint {
	let e = 0n;
	if (big) {
		e = set(
			e,
			'VER2_DUAL_PDE_APERTURE_BIG',
			V(`VER2_DUAL_PDE_APERTURE_BIG_${PDE_APERTURE_NAME[big.aperture]}`),
		);
		const addr = big.address >> BigInt(V('VER2_DUAL_PDE_ADDRESS_BIG_SHIFT'));
		e = set(
			e,
			big.aperture === 'video' ? 'VER2_DUAL_PDE_ADDRESS_BIG_VID' : 'VER2_DUAL_PDE_ADDRESS_BIG_SYS',
			addr,
		);
	}
	if (small) {
		e = set(
			e,
			'VER2_DUAL_PDE_APERTURE_SMALL',
			V(`VER2_DUAL_PDE_APERTURE_SMALL_${PDE_APERTURE_NAME[small.aperture]}`),
		);
		const addr = small.address >> BigInt(V('VER2_DUAL_PDE_ADDRESS_SHIFT'));
		e = set(
			e,
			small.aperture === 'video' ? 'VER2_DUAL_PDE_ADDRESS_SMALL_VID' : 'VER2_DUAL_PDE_ADDRESS_SMALL_SYS',
			addr,
		);
	}
	return e;
}

/** v2 PTE for a mapped page. */
export function v2Pte(p: PageSpec): bigint {
	let e = set(0n, 'VER2_PTE_VALID', 1);
	e = set(e, 'VER2_PTE_APERTURE', V(`VER2_PTE_APERTURE_${PTE_APERTURE_NAME[p.aperture]}`));
	const addr = p.pa >> BigInt(V('VER2_PTE_ADDRESS_SHIFT'));
	const vid = p.aperture === 'video' || p.aperture === 'peer';
	e = set(e, vid ? 'VER2_PTE_ADDRESS_VID' : 'VER2_PTE_ADDRESS_SYS', addr);
	if (p.aperture === 'peer') e = set(e, 'VER2_PTE_ADDRESS_VID_PEER', p.peerId ?? 0);
	e = set(e, 'VER2_PTE_KIND', p.kind ?? V('PTE_KIND_GENERIC_MEMORY'));
	e = set(e, 'VER2_PTE_READ_ONLY', p.readOnly ?? false);
	e = set(e, 'VER2_PTE_PRIVILEGE', p.privileged ?? false);
	e = set(e, 'VER2_PTE_VOL', p.volatile ?? false);
	e = set(e, 'VER2_PTE_ATOMIC_DISABLE', p.atomicDisabled ?? false);
	return e;
}

/** v2 sparse PTE (VALID = 0, VOL = 1). */
export function v2SparsePte(): bigint {
	return set(0n, 'VER2_PTE_VOL', 1);
}

/** v2 big PTE "unmapped" state: VALID = 0, PRIVILEGE = 1 (the 4 KiB PTEs are ignored). */
export function v2UnmappedBigPte(): bigint {
	return set(0n, 'VER2_PTE_PRIVILEGE', 1);
}

/** v3 PDE pointing at `loc` (PCF as nouveau: vram cached no-ATS, host uncached). */
export function v3Pde(loc: Loc): bigint {
	let e = set(0n, 'VER3_PDE_APERTURE', V(`VER3_PDE_APERTURE_${PDE_APERTURE_NAME[loc.aperture]}`));
	e = set(
		e,
		'VER3_PDE_PCF',
		V(
			loc.aperture === 'video'
				? 'VER3_PDE_PCF_VALID_CACHED_ATS_NOT_ALLOWED'
				: 'VER3_PDE_PCF_VALID_UNCACHED_ATS_ALLOWED',
		),
	);
	return set(e, 'VER3_PDE_ADDRESS', loc.address >> BigInt(V('VER3_PDE_ADDRESS_SHIFT')));
}

/** v3 sparse PDE (APERTURE = INVALID, PCF = SPARSE_ATS_ALLOWED). */
export function v3SparsePde(): bigint {
	return set(0n, 'VER3_PDE_PCF', V('VER3_PDE_PCF_SPARSE_ATS_ALLOWED'));
}

/** v3 dual PDE0. */
export function v3Dual(big: Loc | undefined, small: Loc | undefined): bigint {
	let e = 0n;
	if (big) {
		e = set(
			e,
			'VER3_DUAL_PDE_APERTURE_BIG',
			V(`VER3_DUAL_PDE_APERTURE_BIG_${PDE_APERTURE_NAME[big.aperture]}`),
		);
		e = set(e, 'VER3_DUAL_PDE_ADDRESS_BIG', big.address >> BigInt(V('VER3_DUAL_PDE_ADDRESS_BIG_SHIFT')));
	}
	if (small) {
		e = set(
			e,
			'VER3_DUAL_PDE_APERTURE_SMALL',
			V(`VER3_DUAL_PDE_APERTURE_SMALL_${PDE_APERTURE_NAME[small.aperture]}`),
		);
		e = set(e, 'VER3_DUAL_PDE_PCF_SMALL', V('VER3_DUAL_PDE_PCF_SMALL_VALID_CACHED_ATS_NOT_ALLOWED'));
		e = set(e, 'VER3_DUAL_PDE_ADDRESS_SMALL', small.address >> BigInt(V('VER3_DUAL_PDE_ADDRESS_SHIFT')));
	}
	return e;
}

/** The PCF macro name for a page's permissions. */
export function v3PcfName(p: PageSpec): string {
	return [
		p.privileged ? 'PRIVILEGE' : 'REGULAR',
		p.readOnly ? 'RO' : 'RW',
		p.atomicDisabled ? 'NO_ATOMIC' : 'ATOMIC',
		p.volatile ? 'UNCACHED' : 'CACHED',
		p.acd ? 'ACD' : 'ACE',
	].join('_');
}

/** v3 PTE for a mapped page. */
export function v3Pte(p: PageSpec): bigint {
	let e = set(0n, 'VER3_PTE_VALID', 1);
	e = set(e, 'VER3_PTE_APERTURE', V(`VER3_PTE_APERTURE_${PTE_APERTURE_NAME[p.aperture]}`));
	e = set(e, 'VER3_PTE_PCF', V(`VER3_PTE_PCF_${v3PcfName(p)}`));
	e = set(e, 'VER3_PTE_KIND', p.kind ?? V('PTE_KIND_GENERIC_MEMORY'));
	const addr = p.pa >> BigInt(V('VER3_PTE_ADDRESS_SHIFT'));
	if (p.aperture === 'video') e = set(e, 'VER3_PTE_ADDRESS_VID', addr);
	else if (p.aperture === 'peer')
		e = set(set(e, 'VER3_PTE_ADDRESS_PEER', addr), 'VER3_PTE_PEER_ID', p.peerId ?? 0);
	else e = set(e, 'VER3_PTE_ADDRESS_SYS', addr);
	return e;
}

/** v3 PTE with VALID = 0 and the given invalid-state PCF (`SPARSE`, `NO_VALID_4KB_PAGE`, …). */
export function v3InvalidPte(pcf: 'INVALID' | 'SPARSE' | 'MAPPING_NOWHERE' | 'NO_VALID_4KB_PAGE'): bigint {
	return set(0n, 'VER3_PTE_PCF', V(`VER3_PTE_PCF_${pcf}`));
}

// ---------------------------------------------------------------------------------------------------------
// A tiny page-table builder (allocates tables on demand)

/** One directory level as reference B.1 lists it. */
interface TestLevel {
	readonly lo: number;
	readonly bits: number;
	readonly dual: boolean;
}

const V2_LEVELS: readonly TestLevel[] = [
	{ lo: 47, bits: 2, dual: false },
	{ lo: 38, bits: 9, dual: false },
	{ lo: 29, bits: 9, dual: false },
	{ lo: 21, bits: 8, dual: true },
];
const V3_LEVELS: readonly TestLevel[] = [
	{ lo: 56, bits: 1, dual: false },
	{ lo: 47, bits: 9, dual: false },
	{ lo: 38, bits: 9, dual: false },
	{ lo: 29, bits: 9, dual: false },
	{ lo: 21, bits: 8, dual: true },
];

/** Page sizes by shift. */
export const SHIFT = { '4K': 12, '64K': 16, '2M': 21, '512M': 29 } as const;

/**
 * Builds page tables for one address space in a {@link FakeMemory}. Directory tables and small page tables are
 * 4 KiB, big page tables 256 bytes, all allocated from `tableBase` upwards in `tableAperture`.
 */
export class TestPageTables {
	readonly root: Loc;
	readonly #mem: FakeMemory;
	readonly #format: 'v2' | 'v3';
	readonly #aperture: TableAperture;
	#next: bigint;
	/** Child tables already allocated: key `${level}:${va prefix}`. */
	readonly #dirs = new Map<string, Loc>();
	readonly #pde0 = new Map<string, { big?: Loc; small?: Loc }>();

	constructor(
		format: 'v2' | 'v3',
		mem: FakeMemory,
		tableAperture: TableAperture = 'video',
		tableBase = 0x10_0000n,
	) {
		this.#format = format;
		this.#mem = mem;
		this.#aperture = tableAperture;
		this.#next = tableBase;
		this.root = this.#alloc(4096n);
	}

	get levels(): readonly TestLevel[] {
		return this.#format === 'v2' ? V2_LEVELS : V3_LEVELS;
	}

	/** Bytes of table memory allocated so far. */
	get tableBytes(): bigint {
		return this.#next - this.root.address;
	}

	#alloc(size: bigint): Loc {
		const align = size >= 4096n ? 4096n : size;
		this.#next = (this.#next + align - 1n) & ~(align - 1n);
		const loc = { aperture: this.#aperture, address: this.#next };
		this.#next += size;
		return loc;
	}

	#pde(loc: Loc): bigint {
		return this.#format === 'v2' ? v2Pde(loc) : v3Pde(loc);
	}

	/** The table at directory level `depth` (0 = root) covering `va`, allocating the path. */
	#dir(va: bigint, depth: number): Loc {
		let table = this.root;
		for (let d = 0; d < depth; d++) {
			const lvl = this.levels[d] as TestLevel;
			const key = `${d}:${va >> BigInt(lvl.lo)}`;
			let child = this.#dirs.get(key);
			if (child === undefined) {
				child = this.#alloc(4096n);
				this.#dirs.set(key, child);
				const idx = (va >> BigInt(lvl.lo)) & ((1n << BigInt(lvl.bits)) - 1n);
				this.#mem.write64(table.aperture, table.address + idx * 8n, this.#pde(child));
			}
			table = child;
		}
		return table;
	}

	/** Address of the entry for `va` at directory depth `depth`. */
	entryAddress(va: bigint, depth: number): Loc {
		const table = this.#dir(va, depth);
		const lvl = this.levels[depth] as TestLevel;
		const idx = (va >> BigInt(lvl.lo)) & ((1n << BigInt(lvl.bits)) - 1n);
		return { aperture: table.aperture, address: table.address + idx * (lvl.dual ? 16n : 8n) };
	}

	/** Write a raw entry at directory depth `depth` for `va`. */
	writeDirEntry(va: bigint, depth: number, value: bigint): void {
		const at = this.entryAddress(va, depth);
		const lvl = this.levels[depth] as TestLevel;
		if (lvl.dual) this.#mem.write128(at.aperture, at.address, value);
		else this.#mem.write64(at.aperture, at.address, value);
	}

	/** The big/small tables of the PDE0 covering `va`, allocating (and rewriting PDE0) as asked. */
	pageTables(va: bigint, want: { big?: boolean; small?: boolean }): { big?: Loc; small?: Loc } {
		const pd0Depth = this.levels.length - 1;
		const key = `${va >> 21n}`;
		const cur = this.#pde0.get(key) ?? {};
		let changed = false;
		if (want.big && cur.big === undefined) {
			cur.big = this.#alloc(256n);
			changed = true;
		}
		if (want.small && cur.small === undefined) {
			cur.small = this.#alloc(4096n);
			changed = true;
		}
		this.#pde0.set(key, cur);
		if (changed) {
			const dual = this.#format === 'v2' ? v2Dual(cur.big, cur.small) : v3Dual(cur.big, cur.small);
			this.writeDirEntry(va, pd0Depth, dual);
		}
		return cur;
	}

	/** Write a raw PTE for `va` in the big (64 KiB) or small (4 KiB) table. */
	writePte(va: bigint, table: 'big' | 'small', value: bigint): Loc {
		const t = this.pageTables(va, table === 'big' ? { big: true } : { small: true });
		const loc = (table === 'big' ? t.big : t.small) as Loc;
		const idx = table === 'big' ? (va >> 16n) & 31n : (va >> 12n) & 511n;
		const at = { aperture: loc.aperture, address: loc.address + idx * 8n };
		this.#mem.write64(at.aperture, at.address, value);
		return at;
	}

	#pte(p: PageSpec): bigint {
		return this.#format === 'v2' ? v2Pte(p) : v3Pte(p);
	}

	/** Map one page of `shift` (12, 16, 21 or 29) at `va`. */
	map(va: bigint, shift: number, p: PageSpec): void {
		if (shift === 12) this.writePte(va, 'small', this.#pte(p));
		else if (shift === 16) this.writePte(va, 'big', this.#pte(p));
		else if (shift === 21) this.writeDirEntry(va, this.levels.length - 1, this.#pte(p));
		else if (shift === 29) this.writeDirEntry(va, this.levels.length - 2, this.#pte(p));
		else throw new Error(`no page size with shift ${shift}`);
	}
}

/** Convenience: the memory, the tables, and the PDB object for the walker. */
export function space(format: 'v2' | 'v3', tableAperture: TableAperture = 'video') {
	const mem = new FakeMemory();
	const pt = new TestPageTables(format, mem, tableAperture);
	return { mem, pt, pdb: { aperture: pt.root.aperture, address: pt.root.address } };
}
