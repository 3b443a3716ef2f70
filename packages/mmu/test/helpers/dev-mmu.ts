/**
 * Locate NVIDIA's dev_mmu.h in the gspkit cache and parse its `#define` field definitions
 * (`NAME hi:lo` ranges, possibly with arithmetic like `(35-3):8`, and `NAME value` constants).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The gspkit cache root (honours GSPKIT_CACHE, then XDG_CACHE_HOME). */
export function cacheRoot(): string {
	return process.env.GSPKIT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gspkit');
}

/** Compare `550.163.01`-style versions numerically (newest first when used with `sort`). */
function newestFirst(a: string, b: string): number {
	const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
	const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const d = (pb[i] ?? 0) - (pa[i] ?? 0);
		if (d !== 0) return d;
	}
	return 0;
}

/**
 * Directories that may hold `<arch>/<chip>/dev_mmu.h`, best first: `$GSPKIT_HWREF`; the layout
 * `npm run fetch -- nvidia-open` writes (`<cache>/src/nvidia-open-<version>/nvidia-uvm/hwref`, newest
 * version first); then a hand-extracted tarball under `<cache>/src/nvidia-open/`.
 */
export function hwrefCandidates(): string[] {
	const out: string[] = [];
	if (process.env.GSPKIT_HWREF) out.push(process.env.GSPKIT_HWREF);
	const src = join(cacheRoot(), 'src');
	if (existsSync(src)) {
		const versions = readdirSync(src)
			.filter((d) => d.startsWith('nvidia-open-'))
			.sort((a, b) => newestFirst(a.slice('nvidia-open-'.length), b.slice('nvidia-open-'.length)));
		for (const d of versions) out.push(join(src, d, 'nvidia-uvm', 'hwref'));
	}
	const legacy = join(src, 'nvidia-open');
	out.push(
		join(legacy, 'kernel-open', 'nvidia-uvm', 'hwref'),
		join(legacy, 'modules', 'nvidia-open-kernel', 'nvidia-uvm', 'hwref'),
	);
	return out;
}

/** Path of `hwref/<arch>/<chip>/dev_mmu.h` in the gspkit cache (see {@link hwrefCandidates}), or undefined. */
export function findDevMmu(archChip: string): string | undefined {
	for (const dir of hwrefCandidates()) {
		const p = join(dir, archChip, 'dev_mmu.h');
		if (existsSync(p)) return p;
	}
	// Any other hand-made layout: look for */nvidia-uvm/hwref/<archChip>/dev_mmu.h a few levels down.
	const walk = (dir: string, depth: number): string | undefined => {
		if (depth > 4 || !existsSync(dir)) return undefined;
		const p = join(dir, 'nvidia-uvm', 'hwref', archChip, 'dev_mmu.h');
		if (existsSync(p)) return p;
		for (const e of readdirSync(dir)) {
			const sub = join(dir, e);
			if (statSync(sub).isDirectory()) {
				const hit = walk(sub, depth + 1);
				if (hit) return hit;
			}
		}
		return undefined;
	};
	return walk(join(cacheRoot(), 'src', 'nvidia-open'), 0);
}

export type Define =
	| { readonly kind: 'range'; readonly hi: number; readonly lo: number }
	| { readonly kind: 'value'; readonly value: number };

/** Evaluate integer arithmetic with + - * and parentheses (all the header uses). */
export function evalExpr(src: string): number {
	const s = src.replace(/\s+/g, '');
	let i = 0;
	const num = (): number => {
		if (s[i] === '(') {
			i++;
			const v = sum();
			if (s[i] !== ')') throw new Error(`bad expression ${src}`);
			i++;
			return v;
		}
		if (s[i] === '-') {
			i++;
			return -num();
		}
		const m = /^(0x[0-9a-fA-F]+|\d+)[uUlL]*/.exec(s.slice(i));
		if (!m) throw new Error(`bad expression ${src}`);
		i += m[0].length;
		return Number.parseInt(m[1] as string, m[1]?.startsWith('0x') ? 16 : 10);
	};
	const prod = (): number => {
		let v = num();
		while (s[i] === '*') {
			i++;
			v *= num();
		}
		return v;
	};
	const sum = (): number => {
		let v = prod();
		while (s[i] === '+' || s[i] === '-') {
			const op = s[i];
			i++;
			const r = prod();
			v = op === '+' ? v + r : v - r;
		}
		return v;
	};
	const v = sum();
	if (i !== s.length) throw new Error(`bad expression ${src}`);
	return v;
}

/** Parse every `#define NAME VALUE` whose VALUE is a bit range or an integer. */
export function parseDefines(text: string): Map<string, Define> {
	const out = new Map<string, Define>();
	for (const line of text.split('\n')) {
		const m = /^\s*#define\s+(\w+)\s+(.*?)\s*(\/\*.*)?$/.exec(line);
		if (!m) continue;
		const name = m[1] as string;
		const body = (m[2] ?? '').trim();
		if (body === '') continue;
		try {
			const colon = findTopColon(body);
			if (colon >= 0)
				out.set(name, {
					kind: 'range',
					hi: evalExpr(body.slice(0, colon)),
					lo: evalExpr(body.slice(colon + 1)),
				});
			else out.set(name, { kind: 'value', value: evalExpr(body) });
		} catch {
			// not a numeric define
		}
	}
	return out;
}

function findTopColon(s: string): number {
	let depth = 0;
	for (let i = 0; i < s.length; i++) {
		if (s[i] === '(') depth++;
		else if (s[i] === ')') depth--;
		else if (s[i] === ':' && depth === 0) return i;
	}
	return -1;
}

/** A parsed header with helpers that build expected entry values from the header alone. */
export class Header {
	constructor(
		readonly path: string,
		readonly defs: Map<string, Define>,
	) {}

	static load(path: string): Header {
		return new Header(path, parseDefines(readFileSync(path, 'utf8')));
	}

	range(name: string): { hi: number; lo: number } {
		const d = this.defs.get(name);
		if (d?.kind !== 'range') throw new Error(`${name} is not a bit range in ${this.path}`);
		return d;
	}

	value(name: string): number {
		const d = this.defs.get(name);
		if (d?.kind !== 'value') throw new Error(`${name} is not a value in ${this.path}`);
		return d.value;
	}

	/** `v` placed at field `name` (throws when it does not fit). */
	place(name: string, v: bigint | number): bigint {
		const { hi, lo } = this.range(name);
		const x = BigInt(v);
		if (x < 0n || x >= 1n << BigInt(hi - lo + 1)) throw new Error(`${v} does not fit ${name}`);
		return x << BigInt(lo);
	}

	/** Field `name` of `raw`. */
	get(name: string, raw: bigint): bigint {
		const { hi, lo } = this.range(name);
		return (raw >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
	}

	/** The enum value `field_VALUE` placed at `field`. */
	placeEnum(field: string, value: string): bigint {
		return this.place(field, this.value(`${field}_${value}`));
	}
}

/** Load the v2 (tu102) and v3 (gh100) headers, or report why not. */
export function loadHeaders(): { v2: Header; v3: Header } | { missing: string } {
	const v2 = findDevMmu('turing/tu102');
	const v3 = findDevMmu('hopper/gh100');
	if (v2 === undefined || v3 === undefined) {
		return {
			missing: `NVIDIA dev_mmu.h (turing/tu102, hopper/gh100) not found under ${join(cacheRoot(), 'src', 'nvidia-open-*', 'nvidia-uvm', 'hwref')}; run \`npm run fetch -- nvidia-open\` (or set GSPKIT_HWREF to an nvidia-uvm/hwref directory)`,
		};
	}
	return { v2: Header.load(v2), v3: Header.load(v3) };
}
