/**
 * `npm run bench` for @gspkit/mmu: map/unmap throughput (PTEs per second) for 4 KiB, 64 KiB and 2 MiB pages
 * over 1 GiB and 64 GiB, page-table bytes per mapped GiB, and a 1 TiB sparse VA with random small mappings —
 * each beside a baseline measured in the same run (filling the same number of 8-byte entries into a typed
 * array).
 *
 * Options: `--quick` (smaller sparse run, fewer repetitions), `--sparse-count N`.
 *
 * Memory: the largest row (4 KiB pages over 64 GiB, 16 Mi PTEs) holds 128 MiB of page tables while mapped and
 * one shared 128 MiB buffer for both fill baselines, so the run stays well under 1 GiB. The host allocator
 * keeps the memory of freed slabs for reuse, as a DMA pool does (a fresh SharedArrayBuffer per slab would
 * add first-touch page faults and memory that only returns at the next GC); the VA space still frees every
 * table when it empties (checked after each unmap).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
	type BackingObject,
	hostPageTableAllocator,
	type PreparedOps,
	type TlbInvalidator,
	VaSpace,
} from '../src/index.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const sparseArg = args.indexOf('--sparse-count');
const SPARSE_COUNT = sparseArg >= 0 ? Number(args[sparseArg + 1]) : quick ? 100_000 : 1_000_000;
const REPS = quick ? 5 : 9;
/** Unmeasured rounds first: V8 needs them to optimize the hot paths (steady state is what a driver sees). */
const WARMUP = Number(process.env.MMU_BENCH_WARMUP ?? 15);

const KiB = 1024n;
const MiB = 1024n * KiB;
const GiB = 1024n * MiB;
const TiB = 1024n * GiB;

// On a terminal one line is redrawn in place; in a log (CI, turbo) only each row's start is printed.
const tty = process.stderr.isTTY === true;
let lastRow = '';
function progress(msg: string): void {
	if (tty) {
		process.stderr.write(`\r\x1b[2K${msg}`);
		return;
	}
	const row = msg.split(':')[0] ?? msg;
	if (row !== lastRow) process.stderr.write(`  … ${row}\n`);
	lastRow = row;
}
function done(): void {
	if (tty) process.stderr.write('\r\x1b[2K');
}

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)] as number;
}

// ---------------------------------------------------------------------------------- baselines

/** Baseline A (the issue's): N distinct 8-byte entries into a BigUint64Array. */
function fill64(arr: BigUint64Array, n: number): number {
	const t0 = performance.now();
	let v = 0x6_0000_0001n;
	for (let i = 0; i < n; i++) {
		arr[i] = v;
		v += 0x100n;
	}
	return performance.now() - t0;
}

/** Baseline B (stricter): the same entries as u32 pairs into a Uint32Array, the floor of the PTE writer. */
function fill32(arr: Uint32Array, n: number): number {
	const t0 = performance.now();
	let lo = 1;
	let hi = 6;
	for (let w = 0, end = n * 2; w < end; w += 2) {
		arr[w] = lo;
		arr[w + 1] = hi;
		lo += 0x100;
		if (lo >= 4294967296) {
			lo -= 4294967296;
			hi++;
		}
	}
	return performance.now() - t0;
}

// ------------------------------------------------------------------------------------ the rig

function makeSpace(): { vas: VaSpace; invalidations: () => number } {
	let n = 0;
	const invalidate: TlbInvalidator = () => {
		n++;
		return { timedOut: false };
	};
	const vas = new VaSpace({
		format: 'v2',
		allocator: hostPageTableAllocator({ slabBytes: 2 * 1024 * 1024 }),
		invalidate,
	});
	return { vas, invalidations: () => n };
}

interface Row {
	name: string;
	entries: number;
	mapPerS: number;
	preparePerS: number;
	commitPerS: number;
	unmapPerS: number;
	fill64PerS: number;
	fill32PerS: number;
	/** Slowest ÷ fastest repetition of each baseline: how stable it was in this run. */
	fill64Spread: number;
	fill32Spread: number;
	ptBytes: number;
	mapped: bigint;
}

/** Repetitions of one row; the big rows need fewer (the 1 GiB rows before them warm the same code up). */
interface RowRuns {
	readonly warmup: number;
	readonly reps: number;
}

/**
 * Map and unmap `total` bytes with `pageSize` pages, interleaved with the two fill baselines of the same
 * entry count, repetition by repetition: machine load then shifts both sides alike, so the ratio holds up
 * on a busy machine better than the absolute rates do.
 */
function throughput(
	name: string,
	pageSize: 4096 | 65536 | 2097152,
	total: bigint,
	runs: RowRuns = { warmup: WARMUP, reps: REPS },
): Row {
	const entries = Number(total / BigInt(pageSize));
	const object: BackingObject = { handle: 1, aperture: 'video', extents: [{ address: 0n, size: total }] };
	const va = 1n << 40n;
	const { vas } = makeSpace();
	// One buffer for both baselines (they run one after the other): the 64 GiB row needs 128 MiB, not 256.
	const fillBuffer = new ArrayBuffer(entries * 8);
	const a64 = new BigUint64Array(fillBuffer);
	const a32 = new Uint32Array(fillBuffer);
	const maps: number[] = [];
	const prepares: number[] = [];
	const commits: number[] = [];
	const unmaps: number[] = [];
	const f64: number[] = [];
	const f32: number[] = [];
	let ptBytes = 0;
	for (let r = -runs.warmup; r < runs.reps; r++) {
		progress(
			r < 0
				? `${name}: warm-up ${r + runs.warmup + 1}/${runs.warmup}`
				: `${name}: map/unmap + baselines ${r + 1}/${runs.reps}`,
		);
		const t0 = performance.now();
		const p: PreparedOps = vas.prepare([{ op: 'map', va, size: total, object, pageSize }]);
		const t1 = performance.now();
		vas.commit(p);
		const t2 = performance.now();
		ptBytes = vas.pageTables.bytes - 32; // minus the root
		const t3 = performance.now();
		vas.commit(vas.prepare([{ op: 'unmap', va, size: total }]));
		const t4 = performance.now();
		if (vas.pageTables.tables !== 1) throw new Error('tables not freed');
		const x = fill64(a64, entries);
		const y = fill32(a32, entries);
		if (r < 0) continue;
		maps.push(t2 - t0);
		prepares.push(t1 - t0);
		commits.push(t2 - t1);
		unmaps.push(t4 - t3);
		f64.push(x);
		f32.push(y);
	}
	const perS = (ms: number) => (entries / ms) * 1000;
	const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
	return {
		name,
		entries,
		mapPerS: perS(median(maps)),
		preparePerS: perS(median(prepares)),
		commitPerS: perS(median(commits)),
		unmapPerS: perS(median(unmaps)),
		fill64PerS: perS(median(f64)),
		fill32PerS: perS(median(f32)),
		fill64Spread: spread(f64),
		fill32Spread: spread(f32),
		ptBytes,
		mapped: total,
	};
}

/**
 * The baseline the 50 % target is judged against: the faster of the two fills (median) of the same row.
 *
 * Why not always fill64 (the wording): it creates a BigInt per entry, so its speed depends on the
 * allocator and on when V8 optimises the loop — it varied 250–306 M/s between rows of one run and swung the
 * 4 KiB ratio from 69 % to 269 %. fill32 writes the same bytes as u32 pairs without allocating, is the floor
 * of the PTE writer, and is usually both the faster and the stabler one. Taking the faster is the strict
 * reading of "≥ 50 % of the fill baseline": a slow, noisy baseline cannot make the target pass.
 */
function judgeBaseline(r: Row): { name: 'fill64' | 'fill32'; perS: number; spread: number } {
	return r.fill32PerS >= r.fill64PerS
		? { name: 'fill32', perS: r.fill32PerS, spread: r.fill32Spread }
		: { name: 'fill64', perS: r.fill64PerS, spread: r.fill64Spread };
}

// --------------------------------------------------------------------------------- formatting

const fmtRate = (x: number): string =>
	x >= 1e9
		? `${(x / 1e9).toFixed(2)} G`
		: x >= 1e6
			? `${(x / 1e6).toFixed(1)} M`
			: x >= 1e3
				? `${(x / 1e3).toFixed(1)} k`
				: x.toFixed(0);
const fmtBytes = (x: number): string =>
	x >= 2 ** 30
		? `${(x / 2 ** 30).toFixed(2)} GiB`
		: x >= 2 ** 20
			? `${(x / 2 ** 20).toFixed(2)} MiB`
			: x >= 1024
				? `${(x / 1024).toFixed(1)} KiB`
				: `${x} B`;

function table(head: string[], rows: string[][]): string {
	const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
	const line = (cells: string[]) =>
		`| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join(' | ')} |`;
	return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------------------------------- sparse

interface SparseRow {
	count: number;
	seconds: number;
	ptBytes: number;
	minimum: number;
	memDelta: number;
	regionOnly: number;
}

function sparse(count: number): SparseRow {
	const { vas } = makeSpace();
	const base = 1n << 40n;
	const pages = 1 << 28; // 1 TiB / 4 KiB
	vas.commit(vas.prepare([{ op: 'map-sparse', va: base, size: 1n * TiB }]));
	const regionOnly = vas.pageTables.bytes;
	// Distinct random pages (deterministic LCG), mapped in VM_BIND-sized batches of 1000.
	const used = new Set<number>();
	let seed = 0x2545f491;
	const rand = () => {
		seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
		return seed;
	};
	const picks: number[] = [];
	while (picks.length < count) {
		const p = (rand() >>> 4) % pages; // the LCG's high bits (its low bits have short periods)
		if (!used.has(p)) {
			used.add(p);
			picks.push(p);
		}
	}
	const objects: BackingObject[] = [];
	for (let i = 0; i < 64; i++)
		objects.push({
			handle: i,
			aperture: 'sysCoherent',
			extents: [{ address: BigInt(i + 1) << 32n, size: 4096n }],
		});
	global.gc?.();
	const mem0 = process.memoryUsage();
	const t0 = performance.now();
	for (let i = 0; i < count; i += 1000) {
		if ((i / 1000) % 50 === 0)
			progress(`sparse 1 TiB: ${i.toLocaleString()} / ${count.toLocaleString()} mappings`);
		const ops = [];
		for (let k = i; k < Math.min(count, i + 1000); k++) {
			ops.push({
				op: 'map' as const,
				va: base + BigInt(picks[k] as number) * 4096n,
				size: 4096n,
				object: objects[k % 64] as BackingObject,
			});
		}
		vas.commit(vas.prepare(ops));
	}
	const seconds = (performance.now() - t0) / 1000;
	global.gc?.();
	const mem1 = process.memoryUsage();
	// The least any radix table can use for these pages: one SPT per touched 2 MiB block, one PDE0 per
	// touched 512 MiB, one PDE1 per touched 256 GiB, plus the PDE2 and the root.
	const spt = new Set(picks.map((p) => Math.floor(p / 512))).size;
	const pde0 = new Set(picks.map((p) => Math.floor(p / 2 ** 17))).size;
	const pde1 = new Set(picks.map((p) => Math.floor((p + 2 ** 28) / 2 ** 26))).size;
	const minimum = spt * 4096 + pde0 * 4096 + pde1 * 4096 + 4096 + 32;
	const ptBytes = vas.pageTables.bytes;
	const memDelta = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
	return { count, seconds, ptBytes, minimum, memDelta, regionOnly };
}

// --------------------------------------------------------------------------------------- main

function main(): void {
	console.log(
		`@gspkit/mmu bench — MMU v2, page tables from hostPageTableAllocator (2 MiB slabs, one spare slab per class, freed host memory reused as from a DMA pool), node ${process.version}, ${WARMUP} warm-up + ${REPS} measured repetitions (median), load average ${loadavg()
			.map((x) => x.toFixed(1))
			.join(' ')}\n`,
	);
	const rows: Row[] = [];
	rows.push(throughput('4 KiB pages, 1 GiB', 4096, 1n * GiB));
	// 16 Mi PTEs: a few seconds per repetition; the 1 GiB row above has warmed the same code up.
	rows.push(throughput('4 KiB pages, 64 GiB', 4096, 64n * GiB, { warmup: 1, reps: quick ? 3 : 5 }));
	rows.push(throughput('64 KiB pages, 1 GiB', 65536, 1n * GiB));
	rows.push(throughput('64 KiB pages, 64 GiB', 65536, 64n * GiB));
	rows.push(throughput('2 MiB pages, 1 GiB', 2097152, 1n * GiB));
	rows.push(throughput('2 MiB pages, 64 GiB', 2097152, 64n * GiB));
	done();
	console.log('Map/unmap = prepare + commit of one operation covering the whole range (PTEs per second).');
	console.log(
		'fill64 = same-run baseline: the same number of distinct 8-byte entries into a BigUint64Array;',
	);
	console.log('fill32 = the same entries as u32 pairs into a Uint32Array (the floor of the PTE writer).');
	console.log(
		'Each repetition maps, unmaps, then runs both fills, so load affects both sides; spread = slowest ÷ fastest repetition.\n',
	);
	console.log(
		table(
			[
				'case',
				'PTEs',
				'map/s',
				'(prepare/s',
				'commit/s)',
				'unmap/s',
				'fill64/s',
				'(spread)',
				'fill32/s',
				'(spread)',
				'map÷fill64',
				'map÷fill32',
				'PT bytes/GiB',
				'overhead',
			],
			rows.map((r) => [
				r.name,
				r.entries.toLocaleString(),
				fmtRate(r.mapPerS),
				fmtRate(r.preparePerS),
				fmtRate(r.commitPerS),
				fmtRate(r.unmapPerS),
				fmtRate(r.fill64PerS),
				`${r.fill64Spread.toFixed(2)}×`,
				fmtRate(r.fill32PerS),
				`${r.fill32Spread.toFixed(2)}×`,
				`${((r.mapPerS / r.fill64PerS) * 100).toFixed(0)}%`,
				`${((r.mapPerS / r.fill32PerS) * 100).toFixed(0)}%`,
				fmtBytes(r.ptBytes / Number(r.mapped / GiB)),
				`${((r.ptBytes / Number(r.mapped)) * 100).toFixed(3)}%`,
			]),
		),
	);

	const sparseRows: SparseRow[] = [];
	const counts = [
		...new Set([Math.min(10_000, SPARSE_COUNT), Math.min(100_000, SPARSE_COUNT), SPARSE_COUNT]),
	];
	for (const c of counts) sparseRows.push(sparse(c));
	done();
	console.log(
		'\n1 TiB sparse region, then N random 4 KiB mappings inside it (batches of 1000 ops per prepare/commit).',
	);
	console.log(
		'"minimum" = one SPT per touched 2 MiB + one PDE0 per touched 512 MiB + PDE1s + PDE2 + root.\n',
	);
	console.log(
		table(
			[
				'mappings',
				'maps/s',
				'PT bytes',
				'per mapping',
				'minimum',
				'PT÷minimum',
				'heap+buffers Δ',
				'dense 1 TiB of SPTs',
			],
			sparseRows.map((s) => [
				s.count.toLocaleString(),
				fmtRate(s.count / s.seconds),
				fmtBytes(s.ptBytes),
				fmtBytes(s.ptBytes / s.count),
				fmtBytes(s.minimum),
				(s.ptBytes / s.minimum).toFixed(3),
				fmtBytes(s.memDelta),
				fmtBytes(2 ** 31),
			]),
		),
	);
	console.log(
		`(the empty 1 TiB sparse region alone: ${fmtBytes(sparseRows[0]?.regionOnly ?? 0)} of page tables)`,
	);

	console.log('\nTargets (issue #6):');
	for (const r of rows.filter((x) => x.name.startsWith('4 KiB'))) {
		const base = judgeBaseline(r);
		const ratio = r.mapPerS / base.perS;
		console.log(
			`  ${r.name}: mapping ≥ 50% of the fill baseline: ${(ratio * 100).toFixed(0)}% of ${base.name} (the faster baseline, spread ${base.spread.toFixed(2)}×; ${((r.mapPerS / r.fill64PerS) * 100).toFixed(0)}% of fill64, ${((r.mapPerS / r.fill32PerS) * 100).toFixed(0)}% of fill32) → ${ratio >= 0.5 ? 'PASS' : 'FAIL'}`,
		);
		const overhead = r.ptBytes / Number(r.mapped);
		console.log(
			`  ${r.name}: page-table overhead ≤ 0.25%: ${(overhead * 100).toFixed(3)}% → ${overhead <= 0.0025 ? 'PASS' : 'FAIL'}`,
		);
	}
	const last = sparseRows[sparseRows.length - 1] as SparseRow;
	console.log(
		`  memory proportional to what is mapped: ${fmtBytes(last.ptBytes / last.count)} of tables per mapping at ${last.count.toLocaleString()} mappings, ${(last.ptBytes / last.minimum).toFixed(3)}× the radix minimum`,
	);
}

main();
