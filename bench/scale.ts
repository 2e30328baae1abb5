/**
 * Benchmark: does enqueueing slow down as the data grows? Both measures run the built CLI
 * (`dist/bin/gitroast.js`), as a user does.
 *
 * - batch_20k_s / batch_200k_s: logins per second of `gitroast batch FILE --detach` with
 *   20,000 and 200,000 new logins on an empty database (whole process, start-up included);
 *   batch_ratio_200k_to_20k: the rate at 200,000 over the rate at 20,000 (1 = no slow-down).
 * - analyze_empty_ms / analyze_big_ms: median wall time of `gitroast analyze LOGIN --detach`
 *   on an empty database and on one holding 1,000,000 analyses and 1,000,000 completed jobs
 *   (made with recursive-CTE INSERTs, not through the API); analyze_ratio_big_to_empty.
 *
 * Wall times on a loaded machine swing with the load; each figure has a `_cpu` twin from the
 * CPU time the CLI process used (/proc/self/stat of the bench's waited-for children).
 *
 * Run: `npm run build && node dist/bench/scale.js [batch|analyze] [--sizes 4000,20000]`
 * (or through `npm run bench`).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openAppDb } from '../src/cli/db.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'gitroast.js');

/** CPU ms (user + system) used so far by this process's waited-for children (Linux /proc; 0 elsewhere). */
function childCpuMs(): number {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // cutime and cstime are fields 16 and 17 of stat(5), in clock ticks (100 a second on Linux).
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return 0;
  }
}

/** CPU ms of the last cli() run. */
let lastCpuMs = 0;

/** Run the CLI once; return the wall ms, throwing when it exits non-zero. */
function cli(args: readonly string[], db: string): number {
  const c0 = childCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, '--db', db, ...args], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', GITROAST_CONFIG: '', XDG_CONFIG_HOME: path.dirname(db) }, maxBuffer: 1 << 28,
  });
  const ms = performance.now() - t0;
  lastCpuMs = childCpuMs() - c0;
  if (r.status !== 0) throw new Error(`gitroast ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return ms;
}

/**
 * Logins per second of `batch --detach` with `n` new logins on a fresh database: by wall
 * time, and by the CPU time the process used (the figure that holds on a loaded machine).
 */
function batchRate(dir: string, n: number): { wall: number; cpu: number } {
  const file = path.join(dir, `logins-${n}.txt`);
  fs.writeFileSync(file, Array.from({ length: n }, (_, i) => `bench-user-${i}`).join('\n') + '\n');
  const db = path.join(dir, `batch-${n}.db`);
  const ms = cli(['batch', file, '--detach'], db);
  const cpu = lastCpuMs;
  fs.rmSync(file);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  return { wall: n / (ms / 1000), cpu: cpu > 0 ? n / (cpu / 1000) : NaN };
}

/** Fill a database with `n` analyses and `n` completed jobs, in SQL (recursive CTEs). */
function fillBig(file: string, n: number): void {
  const db = openAppDb(file);
  const now = Date.now();
  db.exec(`
    BEGIN;
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n})
    INSERT INTO analyses (id, username, status, stage, overall, created_at, updated_at, completed_at)
    SELECT printf('00000000-0000-4000-8000-%012d', i), 'old-user-' || (i % ${Math.floor(n / 4)}),
           CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END, 'done', i % 100,
           ${now} - 200 * 86400000 + i * 10, ${now} - 200 * 86400000 + i * 10, ${now} - 200 * 86400000 + i * 10 + 5000
      FROM s;
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n})
    INSERT INTO jobs (queue, name, payload, state, attempts, available_at, created_at, reserved_at, finished_at, tags)
    SELECT CASE i % 3 WHEN 0 THEN 'high' WHEN 1 THEN 'default' ELSE 'low' END, 'fetch-github',
           '{"analysisId":"x","login":"old-user-' || i || '"}', 'completed', 1,
           ${now} - 3000000 + i, ${now} - 3000000 + i, ${now} - 3000000 + i + 10, ${now} - 3000000 + i + 500, '["analysis"]'
      FROM s;
    COMMIT;`);
  db.close();
}

/** Median wall ms of `analyze LOGIN --detach` over `runs` new logins. */
function analyzeMs(db: string, runs: number, prefix: string): { wall: number; cpu: number } {
  const times: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(cli(['analyze', `${prefix}-${i}`, '--detach'], db));
    cpus.push(lastCpuMs);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wall: median(times), cpu: median(cpus) };
}

/** Run the scale benchmarks; figures keyed without a prefix. */
export async function benchScale(options: { parts?: readonly string[]; sizes?: readonly number[]; big?: number } = {}): Promise<Record<string, number>> {
  const parts = options.parts ?? ['batch', 'analyze'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-scale-'));
  const figures: Record<string, number> = {};
  try {
    if (parts.includes('batch')) {
      const sizes = options.sizes ?? [20_000, 200_000];
      batchRate(dir, 1000); // warm the page cache and the module cache
      const label = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
      for (const n of sizes) {
        const r = batchRate(dir, n);
        figures[`batch_${label(n)}_s`] = r.wall;
        figures[`batch_${label(n)}_cpu_s`] = r.cpu;
      }
      if (sizes.length >= 2) {
        const [a, b] = [label(sizes[0]!), label(sizes.at(-1)!)];
        figures[`batch_ratio_${b}_to_${a}`] = figures[`batch_${b}_s`]! / figures[`batch_${a}_s`]!;
        figures[`batch_cpu_ratio_${b}_to_${a}`] = figures[`batch_${b}_cpu_s`]! / figures[`batch_${a}_cpu_s`]!;
      }
    }
    if (parts.includes('analyze')) {
      const big = options.big ?? 1_000_000;
      const empty = path.join(dir, 'empty.db');
      cli(['status'], empty);
      const large = path.join(dir, 'big.db');
      const t0 = performance.now();
      fillBig(large, big);
      figures.analyze_fill_big_s = (performance.now() - t0) / 1000;
      analyzeMs(empty, 1, 'warm-a');
      analyzeMs(large, 1, 'warm-b');
      const e = analyzeMs(empty, 9, 'bench-new');
      const b = analyzeMs(large, 9, 'bench-new');
      figures.analyze_empty_ms = e.wall;
      figures.analyze_big_ms = b.wall;
      figures.analyze_ratio_big_to_empty = b.wall / e.wall;
      figures.analyze_empty_cpu_ms = e.cpu;
      figures.analyze_big_cpu_ms = b.cpu;
      figures.analyze_cpu_ratio_big_to_empty = b.cpu / e.cpu;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const sizesAt = args.indexOf('--sizes');
  const sizes = sizesAt >= 0 ? args[sizesAt + 1]!.split(',').map(Number) : undefined;
  const bigAt = args.indexOf('--big');
  const big = bigAt >= 0 ? Number(args[bigAt + 1]) : undefined;
  const parts = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--sizes' && args[i - 1] !== '--big');
  const figures = await benchScale({ parts: parts.length ? parts : undefined, sizes, big });
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`scale_${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(3)}\n`);
}
