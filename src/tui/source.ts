/**
 * The monitor's DataSource over a gitroast database. Reads share one read-only connection
 * and run each view's queries inside one short read transaction (BEGIN … COMMIT), never
 * held across refreshes, so a monitor left open for a day does not pin the WAL and
 * checkpoints can always reset it. Every query is bounded (LIMIT) or reads a partial index.
 * Writes open a separate writable connection for the one action and close it at once.
 */
import {
  DEFAULT_QUEUES, batchDetail, cancelJobs, clearQueue, computeMetrics, throughputSeries, cancelBatch, continueQueue, failedTotal, daemonControl, forgetFailed, getJob, listBatches, listFailed, listJobs,
  listSnapshots, listThrottles, listWorkers, liveWorkers, pauseQueue, queueStats, requestDaemonStop, retryBatch, retryFailed, setDaemonsPaused, stmt, STALE_MS,
  type Db, type Worker,
} from '../queue/index.js';
import { plural } from '../util/format.js';
import type { Actions, DataSource, HeaderData, JobEvent, MetricRow, MetricsWindow, OverviewData, OverviewQueue, QueueRow } from './types.js';

export interface DbSourceOptions {
  /** Open a connection to the database: read-only for reads (kept open), writable for one action (closed after). */
  open(options: { readonly: boolean }): Db;
  /** Queues always listed, even when empty. Default high, default, low. */
  configured?: readonly string[];
  /** A daemon whose heartbeat is older than this counts as gone (the config's staleSeconds). Default STALE_MS (30,000 ms). */
  aliveMs?: number;
  /** Disable every action. Default false. */
  readonly?: boolean;
}

/** A DataSource over a database, plus `read` for callers that add their own views. */
export interface DbSource extends DataSource {
  /** Run `fn` on the read-only connection inside one short read transaction. */
  read<T>(fn: (db: Db) => T): T;
  close(): void;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How many rows each kind of event contributes to the live tail. */
const TAIL = 12;

/** Build the header from the workers table and the daemon control flags. */
export function headerData(db: Db, now: number, aliveMs = STALE_MS): HeaderData {
  const live = liveWorkers(db, aliveMs, now);
  return headerFrom(live, daemonControl(db).paused);
}

function headerFrom(live: readonly Worker[], paused: boolean): HeaderData {
  const status = live.length === 0 ? 'inactive' : paused || live.every((w) => w.status === 'paused') ? 'paused' : 'active';
  return {
    status, daemons: live.length, busy: live.reduce((s, w) => s + w.busy, 0), slots: live.reduce((s, w) => s + w.concurrency, 0),
  };
}

/** Per-queue sizes for the overview: queueStats without the completed counts (see queueStats for how each is read). */
export function overviewQueues(db: Db, now: number, configured: readonly string[] = DEFAULT_QUEUES): OverviewQueue[] {
  return queueStats(db, { now, configured, completed: false }).map(({ completed: _completed, ...q }) => q);
}

/**
 * Read everything the overview draws, each statement on one partial index: see
 * overviewQueues; the sparkline is 60 range counts on jobs_completed (covering); the
 * longest runtime is looked for among the newest 1,000 jobs completed in the past hour
 * (a bounded read: runtime is not in the index); the live tail reads the newest 12 of each
 * state.
 */
export function overviewData(db: Db, now: number, options: { configured?: readonly string[]; aliveMs?: number } = {}): OverviewData {
  const since = now - HOUR;
  const throughput = throughputSeries(db, 60, now);
  const failedHour = (stmt(db, `SELECT COUNT(*) AS n FROM jobs WHERE state = 'failed' AND finished_at >= ? AND finished_at <= ?`).get(since, now) as { n: number }).n;
  const queues = overviewQueues(db, now, options.configured ?? DEFAULT_QUEUES);
  let longestWait: OverviewData['longestWait'] = null;
  for (const q of queues) if (q.pending > 0 && (longestWait === null || q.oldestWaitMs > longestWait.ms)) longestWait = { queue: q.queue, ms: q.oldestWaitMs };
  const longest = stmt(db, `
    SELECT id, name, ms FROM (
      SELECT id, name, finished_at - reserved_at AS ms FROM jobs
       WHERE state = 'completed' AND finished_at >= ? AND finished_at <= ? AND reserved_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT 1000)
     ORDER BY ms DESC LIMIT 1`).get(since, now) as { id: number; name: string; ms: number } | undefined;
  return {
    header: headerData(db, now, options.aliveMs),
    jobsPerMinute: throughput[throughput.length - 1] ?? 0,
    jobsPastHour: throughput.reduce((s, n) => s + n, 0) + failedHour,
    // The failed list keeps failures for failedJobsHours (default 168 h: 7 days); its size is a kept counter.
    failedPast7d: failedTotal(db),
    longestWait,
    longestRuntime: longest ? { id: longest.id, name: longest.name, ms: longest.ms } : null,
    throughput,
    queues,
    events: tail(db),
  };
}

/** The newest job events: enqueued (by id), started (reserved), completed and failed (by finish), newest first. */
function tail(db: Db): JobEvent[] {
  type Row = { id: number; queue: string; name: string; at: number };
  const pick = (sql: string, event: JobEvent['event']) => (stmt(db, sql).all(TAIL) as Row[]).map((r) => ({ ...r, event }));
  const events = [
    ...pick(`SELECT id, queue, name, created_at AS at FROM jobs ORDER BY id DESC LIMIT ?`, 'enqueued'),
    ...pick(`SELECT id, queue, name, reserved_at AS at FROM jobs WHERE state = 'reserved' ORDER BY reserved_at DESC LIMIT ?`, 'started'),
    ...pick(`SELECT id, queue, name, finished_at AS at FROM jobs WHERE state = 'completed' ORDER BY finished_at DESC LIMIT ?`, 'completed'),
    ...pick(`SELECT id, queue, name, finished_at AS at FROM jobs WHERE state = 'failed' ORDER BY finished_at DESC LIMIT ?`, 'failed'),
  ];
  const order = { failed: 0, completed: 1, started: 2, enqueued: 3 };
  return events.sort((a, b) => b.at - a.at || order[a.event] - order[b.event] || b.id - a.id).slice(0, TAIL);
}

/** Aggregate metrics snapshots over a long window (24 h, 7 d): sums, weighted averages; p95 is approximate, p50 unknown. */
export function snapshotMetrics(db: Db, windowMs: number, now: number): MetricRow[] {
  const acc = new Map<string, { kind: 'queue' | 'job'; key: string; processed: number; failed: number; rt: [number, number]; rt95: [number, number]; w: [number, number]; w95: [number, number] }>();
  const add = (pair: [number, number], v: number | null, weight: number) => {
    if (v !== null && weight > 0) {
      pair[0] += v * weight;
      pair[1] += weight;
    }
  };
  for (const s of listSnapshots(db, now - windowMs)) {
    const id = `${s.kind}\u0000${s.key}`;
    let a = acc.get(id);
    if (!a) acc.set(id, (a = { kind: s.kind, key: s.key, processed: 0, failed: 0, rt: [0, 0], rt95: [0, 0], w: [0, 0], w95: [0, 0] }));
    const n = s.processed + s.failed;
    a.processed += s.processed;
    a.failed += s.failed;
    add(a.rt, s.runtimeAvg, n);
    add(a.rt95, s.runtimeP95, n);
    add(a.w, s.waitAvg, n);
    add(a.w95, s.waitP95, n);
  }
  const mean = (p: [number, number]) => (p[1] > 0 ? p[0] / p[1] : null);
  return [...acc.values()].map((a) => ({
    kind: a.kind, key: a.key, processed: a.processed, failed: a.failed, perMinute: ((a.processed + a.failed) * 60_000) / windowMs,
    runtimeAvg: mean(a.rt), runtimeP50: null, runtimeP95: mean(a.rt95), waitAvg: mean(a.w), waitP95: mean(a.w95), approximate: true,
  }));
}

const WINDOWS: Record<MetricsWindow, number> = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY };

/** Order metrics: queues first, then job names, each by throughput. */
function sortMetrics(rows: MetricRow[]): MetricRow[] {
  return rows.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'queue' ? -1 : 1) || b.processed + b.failed - (a.processed + a.failed) || a.key.localeCompare(b.key));
}

/** Create the DataSource over a database. The read-only connection opens on the first read. */
export function createDbSource(options: DbSourceOptions): DbSource {
  let reader: Db | undefined;
  const configured = options.configured ?? DEFAULT_QUEUES;
  const aliveMs = options.aliveMs ?? STALE_MS;
  const read = <T>(fn: (db: Db) => T): T => {
    reader ??= options.open({ readonly: true });
    const db = reader;
    // One deferred read transaction per view: a consistent snapshot, released at COMMIT.
    return db.transaction(() => fn(db))();
  };
  const write = (fn: (db: Db) => string): string => {
    const db = options.open({ readonly: false });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  const actions: Actions = {
    retryFailed: (uuids) => write((db) => `retried ${plural(retryFailed(db, { uuids }).length, 'failed job')}`),
    forgetFailed: (uuids) => write((db) => `forgot ${plural(forgetFailed(db, { uuids }), 'failed job')}`),
    pauseQueue: (queue) => write((db) => (pauseQueue(db, queue), `queue ${queue} paused`)),
    continueQueue: (queue) => write((db) => (continueQueue(db, queue), `queue ${queue} continued`)),
    pauseDaemons: (paused) => write((db) => (setDaemonsPaused(db, paused), paused ? 'daemons paused (running jobs finish)' : 'daemons continued')),
    stopDaemons: () => write((db) => (requestDaemonStop(db), 'stop requested: running daemons finish their jobs and exit')),
    retryBatch: (id) => write((db) => `retried ${plural(retryBatch(db, id).length, 'failed job')} of batch ${id.slice(0, 8)}`),
    cancelBatch: (id) => write((db) => `cancelled ${plural(cancelBatch(db, id), 'job')} of batch ${id.slice(0, 8)}`),
    clearQueue: (queue) => write((db) => `queue ${queue} cleared: ${plural(clearQueue(db, queue).ids.length, 'job')} cancelled`),
    cancelJob: (id) => write((db) => (cancelJobs(db, [id]).ids.length ? `job #${id} cancelled` : `job #${id} was no longer pending or delayed`)),
  };
  return {
    read,
    close: () => {
      reader?.close();
      reader = undefined;
    },
    header: (now) => read((db) => headerData(db, now, aliveMs)),
    overview: (now) => read((db) => overviewData(db, now, { configured, aliveMs })),
    jobs: (tab, query, limit) => read((db) => listJobs(db, { state: tab, ...query, limit })),
    job: (id) => read((db) => getJob(db, id)),
    failed: (limit) => read((db) => listFailed(db, { limit })),
    queues: (now) =>
      read((db): QueueRow[] => {
        const metrics = computeMetrics(db, HOUR, now).filter((m) => m.kind === 'queue');
        return queueStats(db, { now, since: now - HOUR, configured }).map((q) => {
          const m = metrics.find((x) => x.key === q.queue);
          const processed = m?.processed ?? 0;
          const failedHour = m?.failed ?? 0;
          return { ...q, perMinute: m?.perMinute ?? 0, processed, failedHour, errorRate: processed + failedHour > 0 ? failedHour / (processed + failedHour) : null };
        });
      }),
    metrics: (window, now) =>
      read((db) => sortMetrics(window === '1h' ? computeMetrics(db, HOUR, now) : snapshotMetrics(db, WINDOWS[window], now))),
    workers: (now) => read((db) => ({ workers: listWorkers(db), control: daemonControl(db), aliveMs, throttles: listThrottles(db, now) })),
    batches: (limit) => read((db) => listBatches(db, limit)),
    batch: (id) => read((db) => batchDetail(db, id)),
    ...(options.readonly ? {} : { actions }),
  };
}
