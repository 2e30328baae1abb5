import { immediate, stmt, type Db } from './db.js';
import { MONITORED_TRIM_MINUTES } from './defaults.js';

/** Throughput, runtime and wait of one queue or one job name over a window. Times in ms. */
export interface Metric {
  kind: 'queue' | 'job';
  key: string;
  processed: number;
  failed: number;
  /** Jobs finished (completed or failed) per minute over the window. */
  perMinute: number;
  runtimeAvg: number | null;
  runtimeP50: number | null;
  runtimeP95: number | null;
  waitAvg: number | null;
  waitP95: number | null;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

class Acc {
  processed = 0;
  failed = 0;
  runtimes: number[] = [];
  waits: number[] = [];
  add(state: string, runtime: number | null, wait: number | null): void {
    if (state === 'completed') this.processed++;
    else this.failed++;
    if (runtime !== null) this.runtimes.push(runtime);
    if (wait !== null) this.waits.push(wait);
  }
  metric(kind: 'queue' | 'job', key: string, windowMs: number): Metric {
    const r = this.runtimes.sort((a, b) => a - b);
    const w = this.waits.sort((a, b) => a - b);
    const avg = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
    return {
      kind, key, processed: this.processed, failed: this.failed, perMinute: ((this.processed + this.failed) * 60_000) / windowMs,
      runtimeAvg: avg(r), runtimeP50: percentile(r, 50), runtimeP95: percentile(r, 95), waitAvg: avg(w), waitP95: percentile(w, 95),
    };
  }
}

/**
 * Compute metrics per queue and per job name from the job rows that finished in
 * [now - windowMs, now]: throughput, runtime (finished - reserved) and wait (reserved -
 * available). Reads the jobs_finished index; trimmed rows are gone, so windows longer than
 * the trim age come from snapshots.
 */
export function computeMetrics(db: Db, windowMs: number, now = Date.now()): Metric[] {
  return metricsBetween(db, now - windowMs, now, windowMs);
}

/** Metrics of the jobs that finished at or after `from` (after it when `fromExclusive`) and at or before `to`. */
function metricsBetween(db: Db, from: number, to: number, windowMs: number, fromExclusive = false): Metric[] {
  const rows = stmt(db, `
    SELECT queue, name, state, finished_at - reserved_at AS runtime, reserved_at - available_at AS wait
      FROM jobs WHERE state = 'completed' AND finished_at >= @from AND finished_at <= @to
    UNION ALL
    SELECT queue, name, state, finished_at - reserved_at AS runtime, reserved_at - available_at AS wait
      FROM jobs WHERE state = 'failed' AND finished_at >= @from AND finished_at <= @to`).all({ from: fromExclusive ? from + 1 : from, to }) as FinishedRow[];
  return metricsOf(rows, windowMs);
}

/** One finished job as the metrics read it: runtime = finished - reserved, wait = reserved - available (ms). */
export interface FinishedRow {
  queue: string;
  name: string;
  state: string;
  runtime: number | null;
  wait: number | null;
}

/** Metrics per queue and per job name of finished jobs over a window of `windowMs` (both engines). */
export function metricsOf(rows: readonly FinishedRow[], windowMs: number): Metric[] {
  const queues = new Map<string, Acc>();
  const names = new Map<string, Acc>();
  for (const r of rows) {
    for (const [map, key] of [[queues, r.queue], [names, r.name]] as const) {
      let acc = map.get(key);
      if (!acc) map.set(key, (acc = new Acc()));
      acc.add(r.state, r.runtime, r.wait);
    }
  }
  return [
    ...[...queues].map(([k, a]) => a.metric('queue', k, windowMs)),
    ...[...names].map(([k, a]) => a.metric('job', k, windowMs)),
  ];
}

/**
 * Completed jobs in each of the last `minutes` minutes, oldest first (the sparkline): one
 * range count per minute on the covering jobs_completed index, which stays cheap at a
 * million rows where a GROUP BY over the hour did not.
 */
export function throughputSeries(db: Db, minutes: number, now = Date.now()): number[] {
  const count = stmt(db, `SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed' AND finished_at > ? AND finished_at <= ?`);
  const out: number[] = [];
  for (let i = minutes; i >= 1; i--) out.push((count.get(now - i * 60_000, now - (i - 1) * 60_000) as { n: number }).n);
  return out;
}

/** One bucket of a metric's chart: jobs finished per minute, and the average runtime (ms; null when none ran). */
export interface SeriesPoint {
  /** The bucket's end, ms epoch. */
  at: number;
  perMinute: number;
  runtimeAvg: number | null;
}

/**
 * Throughput and runtime of one queue or one job name over [now - windowMs, now], in
 * `buckets` equal buckets, oldest first. From the job rows when `fromSnapshots` is false
 * (the past hour: a range of jobs_completed and jobs_failed), else from the metrics
 * snapshots (a range of metrics_snapshots_taken; a snapshot counts in the bucket of its
 * taken_at).
 */
export function metricSeries(db: Db, kind: 'queue' | 'job', key: string, windowMs: number, buckets: number, now: number, fromSnapshots: boolean): SeriesPoint[] {
  const col = kind === 'queue' ? 'queue' : 'name';
  if (fromSnapshots) {
    const rows = stmt(db, `SELECT taken_at, processed, failed, runtime_avg FROM metrics_snapshots WHERE taken_at > ? AND taken_at <= ? AND kind = ? AND key = ?`)
      .all(now - windowMs, now, kind, key) as SeriesSnapshotRow[];
    return seriesFrom({ snapshots: rows }, windowMs, buckets, now);
  }
  const rows = stmt(db, `
    SELECT finished_at AS at, finished_at - reserved_at AS rt FROM jobs WHERE state = 'completed' AND finished_at > @from AND finished_at <= @to AND ${col} = @key
    UNION ALL
    SELECT finished_at AS at, finished_at - reserved_at AS rt FROM jobs WHERE state = 'failed' AND finished_at > @from AND finished_at <= @to AND ${col} = @key`)
    .all({ from: now - windowMs, to: now, key }) as SeriesJobRow[];
  return seriesFrom({ jobs: rows }, windowMs, buckets, now);
}

/** A metrics snapshot row as a chart reads it. */
export interface SeriesSnapshotRow {
  taken_at: number;
  processed: number;
  failed: number;
  runtime_avg: number | null;
}

/** A finished job as a chart reads it: when it finished, and its runtime. */
export interface SeriesJobRow {
  at: number;
  rt: number | null;
}

/** The chart's buckets from snapshot rows or from finished jobs (both engines). */
export function seriesFrom(rows: { snapshots?: readonly SeriesSnapshotRow[]; jobs?: readonly SeriesJobRow[] }, windowMs: number, buckets: number, now: number): SeriesPoint[] {
  const size = windowMs / buckets;
  const acc = Array.from({ length: buckets }, () => ({ n: 0, rt: 0, rtn: 0 }));
  const slot = (at: number) => Math.min(buckets - 1, Math.max(0, Math.floor((at - (now - windowMs)) / size - 1e-9)));
  for (const r of rows.snapshots ?? []) {
    const b = acc[slot(r.taken_at)]!;
    const n = r.processed + r.failed;
    b.n += n;
    if (r.runtime_avg !== null && n > 0) {
      b.rt += r.runtime_avg * n;
      b.rtn += n;
    }
  }
  for (const r of rows.jobs ?? []) {
    const b = acc[slot(r.at)]!;
    b.n++;
    if (r.rt !== null) {
      b.rt += r.rt;
      b.rtn++;
    }
  }
  return acc.map((b, i) => ({ at: Math.round(now - windowMs + (i + 1) * size), perMinute: (b.n * 60_000) / size, runtimeAvg: b.rtn > 0 ? b.rt / b.rtn : null }));
}

/** What the very first metrics snapshot covers: the default schedule's five minutes. */
export const FIRST_SNAPSHOT_WINDOW_MS = 300_000;

/** The time of the newest metrics snapshot, or undefined when none was taken (one seek on metrics_snapshots_taken). */
function lastSnapshotAt(db: Db): number | undefined {
  return (stmt(db, `SELECT MAX(taken_at) AS at FROM metrics_snapshots`).get() as { at: number | null }).at ?? undefined;
}

/**
 * Write one metrics snapshot per queue and per job name, covering the time since the
 * previous snapshot (its `taken_at`, exclusive), so re-timing the schedule (every 10 s, say)
 * never counts a job twice; the very first snapshot covers `firstWindowMs` (default 300,000,
 * the default schedule's five minutes). Returns rows written; 0 when no time has passed.
 */
export function snapshotMetrics(db: Db, firstWindowMs = FIRST_SNAPSHOT_WINDOW_MS, now = Date.now()): number {
  const last = lastSnapshotAt(db);
  if (last !== undefined && last >= now) return 0;
  const windowMs = last === undefined ? firstWindowMs : now - last;
  const metrics = metricsBetween(db, now - windowMs, now, windowMs, last !== undefined);
  return immediate(db, () => {
    const insert = stmt(db, `INSERT INTO metrics_snapshots (taken_at, window_ms, kind, key, processed, failed, runtime_avg, runtime_p95, wait_avg, wait_p95)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const m of metrics) insert.run(now, windowMs, m.kind, m.key, m.processed, m.failed, m.runtimeAvg, m.runtimeP95, m.waitAvg, m.waitP95);
    return metrics.length;
  });
}

/** A stored snapshot row. */
export interface Snapshot {
  takenAt: number;
  windowMs: number;
  kind: 'queue' | 'job';
  key: string;
  processed: number;
  failed: number;
  runtimeAvg: number | null;
  runtimeP95: number | null;
  waitAvg: number | null;
  waitP95: number | null;
}

/** Read snapshots taken since `since`, oldest first. */
export function listSnapshots(db: Db, since: number): Snapshot[] {
  return (stmt(db, `SELECT * FROM metrics_snapshots WHERE taken_at >= ? ORDER BY taken_at`).all(since) as SnapshotRow[]).map(toSnapshot);
}

/** A metrics_snapshots row as either engine returns it. */
export interface SnapshotRow {
  taken_at: number; window_ms: number; kind: 'queue' | 'job'; key: string; processed: number; failed: number;
  runtime_avg: number | null; runtime_p95: number | null; wait_avg: number | null; wait_p95: number | null;
}

/** Turn a metrics_snapshots row into a Snapshot. */
export function toSnapshot(r: SnapshotRow): Snapshot {
  return {
    takenAt: r.taken_at, windowMs: r.window_ms, kind: r.kind, key: r.key, processed: r.processed, failed: r.failed,
    runtimeAvg: r.runtime_avg, runtimeP95: r.runtime_p95, waitAvg: r.wait_avg, waitP95: r.wait_p95,
  };
}

export interface TrimOptions {
  /** Delete completed and cancelled jobs finished more than this many minutes ago. Default 60. */
  completedMinutes?: number;
  /** Delete failed job rows (history; failed_jobs keeps the actionable list) older than this. Default 10,080 (7 days). */
  failedMinutes?: number;
  /** Delete metrics snapshots older than this. Default 10,080 (7 days). */
  snapshotMinutes?: number;
  /**
   * Keep jobs carrying a monitored tag (see monitorTag) until they are this many minutes
   * old, whichever their state's age above (Horizon's `monitored` trim). Default
   * MONITORED_TRIM_MINUTES (10,080: 7 days).
   */
  monitoredMinutes?: number;
  /** Rows per delete transaction, so a trim never holds the write lock for long. Default 5,000. */
  chunk?: number;
}

/** A trim's cut-off times at `now` and its chunk, with the defaults applied (both engines). */
export function trimBounds(options: TrimOptions, now: number): { chunk: number; completedBefore: number; failedBefore: number; monitoredBefore: number; snapshotsBefore: number } {
  return {
    chunk: options.chunk ?? 5000,
    completedBefore: now - (options.completedMinutes ?? 60) * 60_000,
    failedBefore: now - (options.failedMinutes ?? 10_080) * 60_000,
    monitoredBefore: now - (options.monitoredMinutes ?? MONITORED_TRIM_MINUTES) * 60_000,
    snapshotsBefore: now - (options.snapshotMinutes ?? 10_080) * 60_000,
  };
}

/** Whether a finished job carries a monitored tag (it reads the job's row, which a DELETE reads anyway). */
const CARRIES_MONITORED = `EXISTS (SELECT 1 FROM json_each(jobs.tags) AS j WHERE j.value IN (SELECT tag FROM monitored_tags))`;

/**
 * Trim finished jobs and old snapshots (Horizon's trim); returns how many rows were deleted.
 * Jobs carrying a monitored tag outlive their state's age until `monitoredMinutes`. Only
 * rows finished since the previous trim are checked for monitored tags (the settings key
 * `trim:examined:<state>` remembers how far the check got), so the kept rows are not read
 * again on every trim.
 */
export function trimJobs(db: Db, options: TrimOptions = {}, now = Date.now()): number {
  const { chunk, completedBefore, failedBefore, monitoredBefore, snapshotsBefore } = trimBounds(options, now);
  const monitored = stmt(db, `SELECT 1 FROM monitored_tags LIMIT 1`).get() !== undefined;
  let total = 0;
  const deleteAll = (sql: string, ...args: number[]) => {
    for (;;) {
      const n = immediate(db, () => stmt(db, sql).run(...args, chunk).changes);
      total += n;
      if (n < chunk) break;
    }
  };
  for (const [state, before] of [['completed', completedBefore], ['cancelled', completedBefore], ['failed', failedBefore]] as const) {
    // The state is a literal so the planner can pick that state's partial index.
    if (!monitored || before <= monitoredBefore) {
      deleteAll(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = '${state}' AND finished_at < ? LIMIT ?)`, before);
    } else {
      // Older than both ages: gone whatever the tags.
      deleteAll(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = '${state}' AND finished_at < ? LIMIT ?)`, monitoredBefore);
      const examined = Number((stmt(db, `SELECT value FROM settings WHERE key = ?`).get(`trim:examined:${state}`) as { value: string } | undefined)?.value ?? 0);
      const from = Math.max(monitoredBefore, Number.isFinite(examined) ? examined : 0);
      deleteAll(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = '${state}' AND finished_at >= ? AND finished_at < ? AND NOT ${CARRIES_MONITORED} LIMIT ?)`, from, before);
    }
    immediate(db, () => stmt(db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(`trim:examined:${state}`, String(before)));
  }
  total += immediate(db, () => stmt(db, `DELETE FROM metrics_snapshots WHERE taken_at < ?`).run(snapshotsBefore).changes);
  return total;
}
