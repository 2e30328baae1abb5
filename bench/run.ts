/**
 * `npm run bench`: every benchmark in one run, with each figure next to the raw-SQLite
 * floor measured in the same run. A benchmark, not a test: it prints figures and targets;
 * it fails (exit 1) only when a benchmark itself breaks.
 */
import { benchQueue, type Figures } from './queue.js';

interface Target {
  key: string;
  op: '>=' | '<=';
  value: number;
  what: string;
}

const TARGETS: Target[] = [
  { key: 'ratio_enqueue_one_to_raw_insert', op: '>=', value: 0.9, what: 'one-at-a-time enqueue vs raw insert transaction' },
  { key: 'enqueue_bulk_s', op: '>=', value: 250_000, what: 'bulk enqueue jobs/s' },
  { key: 'ratio_drain_c16_to_batched_floor', op: '>=', value: 0.5, what: 'library drain (c16) vs batched floor' },
  { key: 'drain_c16_s', op: '>=', value: 45_000, what: 'library drain jobs/s (c16)' },
  { key: 'drain_c16_full_s', op: '>=', value: 5_000, what: 'durable (synchronous=FULL) drain jobs/s (c16)' },
  { key: 'daemon_ratio_drain_to_batched_floor', op: '>=', value: 0.5, what: 'daemon loop drain vs batched floor' },
  { key: 'daemon_ratio_drain_c1_to_single_floor', op: '>=', value: 1.2, what: 'one-slot engine drain vs raw single-claim floor (two commits a job)' },
  { key: 'daemon_latency_cross_p50_ms', op: '<=', value: 0.3, what: 'cross-process enqueue→start p50 ms' },
  { key: 'daemon_latency_cross_p99_ms', op: '<=', value: 2, what: 'cross-process enqueue→start p99 ms' },
  { key: 'daemon_latency_cross_full_p50_ms', op: '<=', value: 1, what: 'cross-process enqueue→start p50 ms, durability full' },
  { key: 'daemon_idle_cpu_pct', op: '<=', value: 0.5, what: 'idle daemon CPU % (30 s after start-up settles)' },
  { key: 'daemon_rss_mb', op: '<=', value: 100, what: 'daemon RSS under load MB' },
  { key: 'monitor_overview_100k_ms', op: '<=', value: 50, what: 'monitor overview frame data at 100,000 jobs ms' },
  { key: 'scale_batch_200k_s', op: '>=', value: 15_000, what: '`batch --detach` of 200,000 logins, logins/s (wall)' },
  { key: 'scale_batch_200k_cpu_s', op: '>=', value: 15_000, what: '`batch --detach` of 200,000 logins, logins per CPU second' },
  { key: 'scale_batch_ratio_200k_to_20k', op: '>=', value: 0.8, what: 'batch rate at 200,000 vs 20,000 logins (wall)' },
  { key: 'scale_batch_cpu_ratio_200k_to_20k', op: '>=', value: 0.8, what: 'batch rate at 200,000 vs 20,000 logins (CPU)' },
  { key: 'scale_analyze_ratio_big_to_empty', op: '<=', value: 1.2, what: '`analyze --detach` on 1M analyses + 1M jobs vs empty (wall)' },
  { key: 'scale_analyze_cpu_ratio_big_to_empty', op: '<=', value: 1.2, what: '`analyze --detach` on 1M analyses + 1M jobs vs empty (CPU)' },
  { key: 'web_overview_100k_ms', op: '<=', value: 50, what: 'dashboard overview page (GET /, with its data) at 100,000 jobs ms' },
  { key: 'web_first_view_gzip_bytes', op: '<=', value: 150_000, what: 'dashboard first view, compressed bytes' },
  { key: 'web_sse_enqueue_to_event_p50_ms', op: '<=', value: 100, what: 'dashboard enqueue → event on an open stream p50 ms' },
  { key: 'batch_rss_mb', op: '<=', value: 250, what: '`batch --detach` peak RSS MB (200,000 lines)' },
  { key: 'analysis_analyses_per_hour_token', op: '>=', value: 2000, what: 'cold analyses an hour one token affords (REST and GraphQL budgets)' },
  { key: 'analysis_graphql_points_cold_token', op: '<=', value: 2, what: 'GraphQL points per cold analysis with a token' },
  { key: 'analysis_rest_cold_token', op: '<=', value: 2, what: 'REST requests per cold analysis with a token' },
  { key: 'analysis_rest_cold_anon', op: '<=', value: 4, what: 'REST requests per cold analysis without a token' },
  { key: 'pg_ratio_drain_c1_to_floor', op: '>=', value: 0.5, what: 'PostgreSQL: claim-32 + completeMany drain (1 connection) vs SKIP LOCKED floor' },
  { key: 'pg_ratio_engine_drain_c16_to_floor', op: '>=', value: 0.5, what: 'PostgreSQL: worker engine drain, 16 slots, vs 1-connection floor' },
  { key: 'pg_ratio_engine_drain_c128_to_floor', op: '>=', value: 0.5, what: 'PostgreSQL: worker engine drain, 128 slots, vs 1-connection floor' },
  { key: 'pg_latency_cross_p50_ms', op: '<=', value: 1, what: 'PostgreSQL: cross-process enqueue→start p50 ms (LISTEN/NOTIFY)' },
  { key: 'pg_latency_cross_p99_ms', op: '<=', value: 10, what: 'PostgreSQL: cross-process enqueue→start p99 ms' },
];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** Load an optional benchmark module (rooms add theirs); absent ones are skipped. */
async function optional(file: string, fn: string): Promise<Figures> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(file)) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return {};
    throw err;
  }
  const run = mod[fn] as (() => Promise<Figures>) | undefined;
  return run ? run() : {};
}

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const want = (name: string) => only.length === 0 || only.includes(name);
  const figures: Figures = {};
  if (want('queue')) Object.assign(figures, await benchQueue(log));
  if (want('daemon')) {
    log('daemon…');
    const d = await optional('./daemon.js', 'benchDaemon');
    for (const [k, v] of Object.entries(d)) figures[k.startsWith('daemon_') ? k : `daemon_${k}`] = v;
    if (figures.daemon_drain_s !== undefined && figures.raw_batched32_cycles_s) {
      figures.daemon_ratio_drain_to_batched_floor = figures.daemon_drain_s / figures.raw_batched32_cycles_s;
    }
    if (figures.daemon_drain_c1_s !== undefined && figures.raw_one_at_a_time_cycles_s) {
      figures.daemon_ratio_drain_c1_to_single_floor = figures.daemon_drain_c1_s / figures.raw_one_at_a_time_cycles_s;
    }
  }
  if (want('monitor')) {
    log('monitor…');
    const m = await optional('./monitor.js', 'benchMonitor');
    for (const [k, v] of Object.entries(m)) figures[k.startsWith('monitor_') ? k : `monitor_${k}`] = v;
  }
  if (want('web')) {
    log('web…');
    const w = await optional('./web.js', 'benchWeb');
    for (const [k, v] of Object.entries(w)) figures[k.startsWith('web_') ? k : `web_${k}`] = v;
  }
  if (want('analysis')) {
    log('analysis…');
    const a = await optional('./analysis.js', 'benchAnalysis');
    for (const [k, v] of Object.entries(a)) figures[k.startsWith('analysis_') ? k : `analysis_${k}`] = v;
  }
  if (want('scale')) {
    log('scale…');
    const s = await optional('./scale.js', 'benchScale');
    for (const [k, v] of Object.entries(s)) figures[k.startsWith('scale_') ? k : `scale_${k}`] = v;
  }
  if (want('batch')) {
    log('batch…');
    const b = await optional('./batch.js', 'benchBatch');
    for (const [k, v] of Object.entries(b)) figures[k.startsWith('batch_') ? k : `batch_${k}`] = v;
  }
  if (want('postgres')) {
    log('postgres…');
    Object.assign(figures, await optional('./postgres.js', 'benchPostgres'));
  }
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  process.stdout.write(`gitroast bench — node ${process.version}, ${new Date().toISOString()}\n\n`);
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(width)}  ${fmt(v)}\n`);
  process.stdout.write('\ntargets\n');
  for (const t of TARGETS) {
    const v = figures[t.key];
    if (v === undefined) continue;
    const ok = t.op === '>=' ? v >= t.value : v <= t.value;
    process.stdout.write(`  ${ok ? 'met ' : 'MISS'}  ${t.what}: ${fmt(v)} (target ${t.op} ${fmt(t.value)})\n`);
  }
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(figures)}\n`);
}

await main();
